//! The replication frame's costs per core: encoding and decoding full
//! 1,400-byte frames of FLOW4 records (into owned records, and through the
//! zero-copy section view), sealing and opening a frame; and, printed
//! first, the bytes each kind of entry takes on the wire. Run with
//! `cargo bench -p tandem-benches --bench replication_wire`; entries/s is
//! criterion's "elements" throughput.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tandem_replication::flow::{proto, status, Flow, TcpWindow, Tuple};
use tandem_replication::persist::{PersistKey, Persistence};
use tandem_replication::seal::{KeyRing, Psk};
use tandem_replication::wire::{
    decode_payload, encode_payload, FrameBuilder, Handle, Header, Record, Sections, HEADER_LEN,
    TAG_LEN,
};

const DATAGRAM: usize = 1400;
const PAYLOAD: usize = DATAGRAM - HEADER_LEN - TAG_LEN;

fn v4(i: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(0xc633_6400 | (i & 0xff)))
}

/// A load-balanced TCP flow: client to virtual address, destination NAT
/// to a real server.
fn lb_flow(i: u32) -> Flow {
    let original = Tuple {
        src: v4(i),
        dst: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10)),
        src_port: 1024 + (i as u16),
        dst_port: 443,
    };
    let mut reply = original.inverse(proto::TCP);
    reply.src = IpAddr::V4(Ipv4Addr::new(203, 0, 113, (i % 8) as u8));
    reply.src_port = 8443;
    Flow {
        reply,
        status: status::CONFIRMED | status::ASSURED | status::SEEN_REPLY | status::DST_NAT,
        backend: (i % 8) as u16,
        ..Flow::untranslated(proto::TCP, original, 3, 432_000_000)
    }
}

fn full_frame() -> FrameBuilder {
    let mut b = FrameBuilder::new(PAYLOAD);
    for i in 0.. {
        let r = Record::Flow {
            handle: Handle { slot: i, gen: 1 },
            flow: lb_flow(i),
        };
        if b.push(r).is_err() {
            break;
        }
    }
    b
}

/// Bytes per entry when a frame is full of one kind (section header and
/// frame overhead shared).
fn print_sizes() {
    let v6 = |i: u16| IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, i));
    let flow6 = Flow::untranslated(
        proto::TCP,
        Tuple {
            src: v6(1),
            dst: v6(2),
            src_port: 1,
            dst_port: 2,
        },
        3,
        1,
    );
    let h = Handle { slot: 1, gen: 1 };
    let kinds: Vec<(&str, Record)> = vec![
        (
            "FLOW4 (IPv4, NAT, backend)",
            Record::Flow {
                handle: h,
                flow: lb_flow(1),
            },
        ),
        (
            "FLOW4 + TCPWIN",
            Record::Flow {
                handle: h,
                flow: Flow {
                    window: Some(TcpWindow::default()),
                    ..lb_flow(1)
                },
            },
        ),
        (
            "FLOW4X (zone/mark/two NATs)",
            Record::Flow {
                handle: h,
                flow: Flow {
                    zone: 1,
                    ..lb_flow(1)
                },
            },
        ),
        (
            "FLOW6",
            Record::Flow {
                handle: h,
                flow: flow6,
            },
        ),
        (
            "FLOW6X (NAT64)",
            Record::Flow {
                handle: h,
                flow: Flow {
                    reply: Tuple {
                        src: v4(1),
                        dst: v4(2),
                        src_port: 2,
                        dst_port: 1,
                    },
                    ..flow6
                },
            },
        ),
        (
            "FLOW_UPD",
            Record::FlowUpdate {
                handle: h,
                state: 3,
                status: 0,
                lifetime_ms: 1,
            },
        ),
        ("FLOW_DEL", Record::FlowDelete { handle: h }),
        (
            "PERSIST4",
            Record::Persist(Persistence {
                table: 1,
                key: PersistKey::source(v4(1), 32),
                backend: 1,
                lifetime_ms: 1,
            }),
        ),
        (
            "PERSIST6",
            Record::Persist(Persistence {
                table: 1,
                key: PersistKey::source(v6(1), 128),
                backend: 1,
                lifetime_ms: 1,
            }),
        ),
        (
            "PERSISTH (cookie)",
            Record::Persist(Persistence {
                table: 1,
                key: PersistKey::Cookie(1),
                backend: 1,
                lifetime_ms: 1,
            }),
        ),
    ];
    println!(
        "replication_wire: bytes per entry ({DATAGRAM}-byte datagrams, {PAYLOAD}-byte payload)"
    );
    for (name, r) in kinds {
        let mut b = FrameBuilder::new(PAYLOAD);
        let mut n = 0;
        while b.push(r.clone()).is_ok() {
            n += 1;
        }
        println!(
            "  {name:<30} record {:>3} B, {n:>3} per frame, {:.1} B per entry with all overhead",
            r.wire_len(),
            DATAGRAM as f64 / f64::from(n)
        );
    }
}

fn bench(c: &mut Criterion) {
    print_sizes();
    let frame = full_frame();
    let records = frame.records().to_vec();
    let payload = frame.encode();
    let n = records.len() as u64;
    assert_eq!(payload.len(), frame.payload_len());
    println!(
        "replication_wire: {n} FLOW4 records per frame, payload {} B",
        payload.len()
    );

    let mut g = c.benchmark_group("replication_wire");
    g.throughput(Throughput::Elements(n));
    let mut out = Vec::with_capacity(PAYLOAD);
    g.bench_function("encode_flow4_frame", |b| {
        b.iter(|| {
            out.clear();
            encode_payload(black_box(&records), &mut out);
            black_box(out.len())
        })
    });
    g.bench_function("build_and_encode_flow4_frame", |b| {
        b.iter(|| {
            let mut fb = FrameBuilder::new(PAYLOAD);
            for r in black_box(&records) {
                let _ = fb.push(r.clone());
            }
            black_box(fb.encode())
        })
    });
    g.bench_function("decode_flow4_frame_to_records", |b| {
        b.iter(|| black_box(decode_payload(black_box(&payload)).map(|v| v.len())))
    });
    g.bench_function("decode_flow4_frame_view_to_flows", |b| {
        b.iter(|| {
            let mut sum = 0u64;
            for s in Sections::new_checked(black_box(&payload)).unwrap() {
                for f in s.flows4() {
                    if let Ok((h, flow)) = f.to_flow() {
                        sum += u64::from(h.slot) + u64::from(flow.lifetime_ms);
                    }
                }
            }
            black_box(sum)
        })
    });
    g.bench_function("decode_flow4_frame_view_fields", |b| {
        b.iter(|| {
            let mut sum = 0u64;
            for s in Sections::new_checked(black_box(&payload)).unwrap() {
                for f in s.flows4() {
                    sum += u64::from(f.handle().slot)
                        + u64::from(f.lifetime_ms())
                        + u64::from(u32::from(f.src()))
                        + u64::from(f.src_port())
                        + u64::from(f.nat().1);
                }
            }
            black_box(sum)
        })
    });

    let ring = KeyRing::new(1, &Psk::from_bytes([7; 32]), None).unwrap();
    let header = Header {
        minor: 0,
        flags: 0,
        payload_len: 0,
        cluster: 1,
        node: 1,
        stream: 0,
        key_id: 0,
        boot: 1,
        seq: 1,
    };
    let datagram = ring.seal(header, &payload);
    assert_eq!(
        datagram.len(),
        DATAGRAM.min(HEADER_LEN + payload.len() + TAG_LEN)
    );
    g.throughput(Throughput::Bytes(datagram.len() as u64));
    g.bench_function("seal_frame", |b| {
        b.iter(|| black_box(ring.seal(header, black_box(&payload))))
    });
    g.bench_function("open_frame", |b| {
        b.iter(|| black_box(ring.open(black_box(&datagram)).is_ok()))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
