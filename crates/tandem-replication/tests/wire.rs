//! Golden bytes of every record type, written by hand from
//! docs/replication.md (offsets in the comments), the refusals, and the
//! size limits.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use tandem_replication::flow::{proto, status, Flow, TcpWindow, Tuple, NO_BACKEND};
use tandem_replication::persist::{PersistKey, Persistence};
use tandem_replication::wire::{
    decode_payload, encode_payload, kind, Ack, BulkBegin, BulkEnd, DecodeError, Handle, Hello,
    Nack, Record, ResyncReason, ResyncReq, Role, Sections, ShardRange,
};

fn v4(a: [u8; 4]) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(a))
}

fn v6(s: &str) -> IpAddr {
    IpAddr::V6(s.parse::<Ipv6Addr>().unwrap())
}

const H: Handle = Handle {
    slot: 0x000102,
    gen: 3,
};

/// Encodes after three 0xa5 bytes (left alone), compares with `golden`,
/// and decodes `golden` back to `records`.
fn golden(records: &[Record], golden: &[u8]) {
    let mut out = vec![0xa5; 3];
    encode_payload(records, &mut out);
    assert_eq!(&out[..3], &[0xa5; 3]);
    assert_eq!(hex(&out[3..]), hex(golden));
    assert_eq!(decode_payload(golden).as_deref(), Ok(records));
    for r in records {
        assert!(r.wire_len() > 0);
    }
}

fn hex(b: &[u8]) -> String {
    b.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn tcp(src: IpAddr, sport: u16, dst: IpAddr, dport: u16) -> Tuple {
    Tuple {
        src,
        dst,
        src_port: sport,
        dst_port: dport,
    }
}

/// An established TCP flow to a virtual address, destination-translated
/// to a real server.
fn dnat_flow() -> Flow {
    let original = tcp(v4([198, 51, 100, 7]), 40000, v4([192, 0, 2, 10]), 80);
    Flow {
        proto: proto::TCP,
        zone: 0,
        original,
        reply: tcp(v4([203, 0, 113, 5]), 8080, v4([198, 51, 100, 7]), 40000),
        state: 3,
        status: status::SEEN_REPLY | status::ASSURED | status::CONFIRMED | status::DST_NAT,
        lifetime_ms: 432_000_000,
        backend: 5,
        mark: 0,
        window: None,
    }
}

#[test]
fn flow4_destination_nat() {
    let r = Record::Flow {
        handle: H,
        flow: dnat_flow(),
    };
    assert_eq!(
        r.wire_len(),
        32,
        "IPv4 TCP insert with NAT and backend: at most 32 bytes"
    );
    #[rustfmt::skip]
    let bytes = [
        0x01, 0x20, 0x00, 0x01,  // section FLOW4, 32-byte records, 1
        0x00, 0x01, 0x02, 0x03,  // 0  handle (slot 0x102, gen 3)
        0x06,                    // 4  TCP
        0x13,                    // 5  NAT end 1 (reply source) << 4 | state 3
        0x00, 0x2e,              // 6  status
        0x19, 0xbf, 0xcc, 0x00,  // 8  lifetime 432,000,000 ms
        0x00, 0x05,              // 12 backend
        0x1f, 0x90,              // 14 NAT port 8080
        198, 51, 100, 7,         // 16 original source
        192, 0, 2, 10,           // 20 original destination
        0x9c, 0x40,              // 24 source port 40000
        0x00, 0x50,              // 26 destination port 80
        203, 0, 113, 5,          // 28 NAT address: the real server
    ];
    golden(&[r], &bytes);
}

#[test]
fn flow4_source_nat_with_window() {
    let original = tcp(v4([192, 0, 2, 20]), 50000, v4([198, 51, 100, 1]), 443);
    let mut reply = original.inverse(proto::TCP);
    reply.dst = v4([203, 0, 113, 9]);
    reply.dst_port = 61000;
    let window = TcpWindow {
        scale: [7, 8],
        flags: [0x0a, 0x0b],
        end: [0x1111_1111, 0x4444_4444],
        max_end: [0x2222_2222, 0x5555_5555],
        max_window: [0x3333_3333, 0x6666_6666],
    };
    let flow = Flow {
        reply,
        status: status::CONFIRMED | status::SRC_NAT,
        lifetime_ms: 1,
        backend: NO_BACKEND,
        window: Some(window),
        ..Flow::untranslated(proto::TCP, original, 3, 1)
    };
    let r = Record::Flow { handle: H, flow };
    assert_eq!(r.wire_len(), 64);
    #[rustfmt::skip]
    let bytes = [
        0x01, 0x20, 0x00, 0x01,
        0x00, 0x01, 0x02, 0x03,  // 0  handle
        0x06, 0x23,              // 4  TCP; NAT end 2 (reply destination), state 3
        0x00, 0x18,              // 6  CONFIRMED | SRC_NAT
        0x00, 0x00, 0x00, 0x01,  // 8  lifetime
        0xff, 0xff,              // 12 no backend
        0xee, 0x48,              // 14 NAT port 61000
        192, 0, 2, 20,           // 16
        198, 51, 100, 1,         // 20
        0xc3, 0x50, 0x01, 0xbb,  // 24 50000, 443
        203, 0, 113, 9,          // 28 NAT address
        0x80, 0x20, 0x00, 0x01,  // section TCPWIN, 32-byte records, 1
        0x00, 0x01, 0x02, 0x03,  // 0  handle
        7, 8, 0x0a, 0x0b,        // 4  scale, flags per direction
        0x11, 0x11, 0x11, 0x11,  // 8  original: end
        0x22, 0x22, 0x22, 0x22,  // 12 max end
        0x33, 0x33, 0x33, 0x33,  // 16 max window
        0x44, 0x44, 0x44, 0x44,  // 20 reply: end
        0x55, 0x55, 0x55, 0x55,  // 24 max end
        0x66, 0x66, 0x66, 0x66,  // 28 max window
    ];
    golden(&[r], &bytes);
}

#[test]
fn flow4_untranslated_and_consecutive_flows_share_a_section() {
    let f = Flow::untranslated(
        proto::UDP,
        tcp(v4([192, 0, 2, 1]), 5353, v4([192, 0, 2, 2]), 53),
        0,
        30_000,
    );
    let h2 = Handle { slot: 9, gen: 0 };
    let records = [
        Record::Flow { handle: H, flow: f },
        Record::Flow {
            handle: h2,
            flow: f,
        },
    ];
    #[rustfmt::skip]
    let one = [
        0x11, 0x00,              // 4  UDP, no NAT, state 0
        0x00, 0x08,              // 6  CONFIRMED
        0x00, 0x00, 0x75, 0x30,  // 8  30,000 ms
        0xff, 0xff,              // 12
        0x00, 0x00,              // 14 NAT port: 0 without NAT
        192, 0, 2, 1, 192, 0, 2, 2,
        0x14, 0xe9, 0x00, 0x35,
        0, 0, 0, 0,              // 28 NAT address: 0 without NAT
    ];
    let mut bytes = vec![0x01, 0x20, 0x00, 0x02, 0x00, 0x01, 0x02, 0x03];
    bytes.extend_from_slice(&one);
    bytes.extend_from_slice(&[0x00, 0x00, 0x09, 0x00]);
    bytes.extend_from_slice(&one);
    golden(&records, &bytes);
}

#[test]
fn flow4x_zone_and_mark() {
    let original = tcp(v4([192, 0, 2, 1]), 53, v4([192, 0, 2, 2]), 5353);
    let flow = Flow {
        zone: 2,
        mark: 0xdead_beef,
        ..Flow::untranslated(proto::UDP, original, 0, 30_000)
    };
    let r = Record::Flow {
        handle: Handle { slot: 1, gen: 1 },
        flow,
    };
    assert_eq!(r.wire_len(), 44);
    #[rustfmt::skip]
    let bytes = [
        0x02, 0x2c, 0x00, 0x01,  // section FLOW4X, 44-byte records
        0x00, 0x00, 0x01, 0x01,  // 0  handle
        0x11, 0x00,              // 4  UDP, state (all 8 bits)
        0x00, 0x08,              // 6
        0x00, 0x00, 0x75, 0x30,  // 8
        0xff, 0xff,              // 12 backend
        0x00, 0x02,              // 14 zone
        0xde, 0xad, 0xbe, 0xef,  // 16 mark
        192, 0, 2, 1, 192, 0, 2, 2, 0x00, 0x35, 0x14, 0xe9,  // 20 original
        192, 0, 2, 2, 192, 0, 2, 1, 0x14, 0xe9, 0x00, 0x35,  // 32 reply
    ];
    golden(&[r], &bytes);
}

#[test]
fn flow6_compact() {
    let original = tcp(v6("fd00::1"), 0xc000, v6("fd00::2"), 443);
    let flow = Flow {
        backend: 1,
        ..Flow::untranslated(proto::TCP, original, 1, 120_000)
    };
    let r = Record::Flow {
        handle: Handle { slot: 2, gen: 1 },
        flow,
    };
    assert_eq!(r.wire_len(), 68);
    let mut bytes = vec![0x03, 0x44, 0x00, 0x01]; // FLOW6, 68
    bytes.extend_from_slice(&[0, 0, 2, 1, 0x06, 0x01, 0x00, 0x08, 0x00, 0x01, 0xd4, 0xc0]);
    bytes.extend_from_slice(&[0x00, 0x01, 0x00, 0x00]); // 12 backend, 14 NAT port
    bytes.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]); // 16
    bytes.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]); // 32
    bytes.extend_from_slice(&[0xc0, 0x00, 0x01, 0xbb]); // 48 ports
    bytes.extend_from_slice(&[0; 16]); // 52 NAT address
    golden(&[r], &bytes);
}

#[test]
fn flow6x_nat64_keeps_each_family() {
    let original = tcp(v6("fd00::1"), 1000, v6("64:ff9b::c000:201"), 80);
    let reply = tcp(v4([192, 0, 2, 1]), 80, v4([198, 51, 100, 1]), 2000);
    let flow = Flow {
        reply,
        status: 0x0038,
        ..Flow::untranslated(proto::TCP, original, 3, 100)
    };
    let r = Record::Flow {
        handle: Handle { slot: 3, gen: 1 },
        flow,
    };
    assert_eq!(r.wire_len(), 96);
    let mut bytes = vec![0x04, 0x60, 0x00, 0x01]; // FLOW6X, 96
    bytes.extend_from_slice(&[0, 0, 3, 1, 0x06, 0x03, 0x00, 0x38, 0, 0, 0, 100, 0xff, 0xff]);
    bytes.extend_from_slice(&[0, 0, 0, 0, 0, 0]); // 14 zone, 16 mark
    bytes.extend_from_slice(&[0x0c, 0, 0, 0]); // 20 families: reply source and destination IPv4
    bytes.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]); // 24
    bytes.extend_from_slice(&[0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0, 0xc0, 0, 2, 1]); // 40
    bytes.extend_from_slice(&[0x03, 0xe8, 0x00, 0x50]); // 56
    bytes.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1]); // 60
    bytes.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 51, 100, 1]); // 76
    bytes.extend_from_slice(&[0x00, 0x50, 0x07, 0xd0]); // 92
    golden(std::slice::from_ref(&r), &bytes);
    let Ok(decoded) = decode_payload(&bytes) else {
        panic!()
    };
    let Record::Flow { flow, .. } = &decoded[0] else {
        panic!()
    };
    assert!(flow.original.dst.is_ipv6() && flow.reply.src.is_ipv4());
}

#[test]
fn update_delete_and_standalone_window() {
    let window = TcpWindow {
        scale: [1, 2],
        ..TcpWindow::default()
    };
    let records = [
        Record::FlowUpdate {
            handle: H,
            state: 7,
            status: 0x000e,
            lifetime_ms: 5000,
        },
        Record::FlowDelete { handle: H },
        Record::FlowWindow { handle: H, window },
    ];
    assert_eq!(records[0].wire_len(), 12, "update: 12 bytes");
    assert_eq!(records[1].wire_len(), 8, "delete: 8 bytes");
    #[rustfmt::skip]
    let bytes = [
        0x05, 0x0c, 0x00, 0x01,  // FLOW_UPD, 12
        0x00, 0x01, 0x02, 0x03, 0x07, 0x00, 0x00, 0x0e, 0x00, 0x00, 0x13, 0x88,
        0x06, 0x08, 0x00, 0x01,  // FLOW_DEL, 8
        0x00, 0x01, 0x02, 0x03, 0x00, 0x00, 0x00, 0x00,
        0x81, 0x20, 0x00, 0x01,  // TCPWIN_UPD: a FlowWindow
        0x00, 0x01, 0x02, 0x03, 1, 2, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    golden(&records, &bytes);
}

#[test]
fn persistence_records() {
    let records = [
        Record::Persist(Persistence {
            table: 1,
            key: PersistKey::source(v4([198, 51, 100, 77]), 24),
            backend: 3,
            lifetime_ms: 600_000,
        }),
        Record::Persist(Persistence {
            table: 2,
            key: PersistKey::source(v6("fd00:1::5"), 32),
            backend: 4,
            lifetime_ms: 1000,
        }),
        Record::Persist(Persistence {
            table: 3,
            key: PersistKey::Cookie(0x0123_4567_89ab_cdef),
            backend: 5,
            lifetime_ms: 60_000,
        }),
        Record::PersistDelete {
            table: 1,
            key: PersistKey::source(v4([198, 51, 100, 0]), 24),
        },
        Record::PersistDelete {
            table: 2,
            key: PersistKey::source(v6("fd00:1::"), 32),
        },
        Record::PersistDelete {
            table: 3,
            key: PersistKey::TlsSession(0xfedc_ba98_7654_3210),
        },
    ];
    assert_eq!(
        records[0].wire_len(),
        12,
        "source IPv4 persistence: 12 bytes"
    );
    assert_eq!(
        records[1].wire_len(),
        24,
        "source IPv6 persistence: 24 bytes"
    );
    assert_eq!(
        records[2].wire_len(),
        16,
        "hashed-key persistence: 16 bytes"
    );
    #[rustfmt::skip]
    let bytes = [
        0x10, 0x0c, 0x00, 0x01,  // PERSIST4: table, prefix, backend, lifetime, address
        1, 24, 0x00, 0x03, 0x00, 0x09, 0x27, 0xc0, 198, 51, 100, 0,
        0x11, 0x18, 0x00, 0x01,  // PERSIST6
        2, 32, 0x00, 0x04, 0x00, 0x00, 0x03, 0xe8,
        0xfd, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0x12, 0x10, 0x00, 0x01,  // PERSISTH: table, kind 1 (cookie), backend, lifetime, hash
        3, 1, 0x00, 0x05, 0x00, 0x00, 0xea, 0x60,
        0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
        0x13, 0x08, 0x00, 0x01,  // PDEL4: table, prefix, reserved 2, address
        1, 24, 0, 0, 198, 51, 100, 0,
        0x14, 0x14, 0x00, 0x01,  // PDEL6
        2, 32, 0, 0, 0xfd, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0x15, 0x0c, 0x00, 0x01,  // PDELH: table, kind 3 (TLS session), reserved 2, hash
        3, 3, 0, 0, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10,
    ];
    golden(&records, &bytes);
}

#[test]
fn control_records() {
    let boot = 0x0102_0304_0506_0708;
    let range = ShardRange {
        first: 0,
        last: 0x0fff,
    };
    let records = [
        Record::Hello(Hello {
            role: Role::Backup,
            versions: (1, 1),
            capabilities: 0,
            challenge: 0x1111_1111_1111_1111,
            response: 0x2222_2222_2222_2222,
            mirrored_boot: 0x3333_3333_3333_3333,
            live: 100,
        }),
        Record::Ack(Ack {
            stream: 0,
            boot,
            cumulative: 16,
            sack: 5,
            credit: 64,
        }),
        Record::Nack(Nack {
            stream: 1,
            boot,
            first: 17,
            last: 19,
        }),
        Record::ResyncReq(ResyncReq {
            stream: 0,
            boot,
            range,
            reason: ResyncReason::Digest,
        }),
        Record::BulkBegin(BulkBegin {
            bulk: 7,
            range,
            entries: 1_000_000,
        }),
        Record::BulkEnd(BulkEnd {
            bulk: 7,
            range,
            begin_seq: 32,
            entries: 1_000_000,
            digest: 0x0123_4567_89ab_cdef,
        }),
        Record::Digest {
            shard: 1,
            digest: 0x1111_1111_1111_1111,
        },
        Record::Digest {
            shard: 2,
            digest: 0x2222_2222_2222_2222,
        },
        Record::Heartbeat {
            highest_seq: 255,
            live: 1000,
        },
    ];
    #[rustfmt::skip]
    let bytes = [
        0x40, 0x24, 0x00, 0x01,  // HELLO, 36
        2, 1, 1, 0,              // 0 role (2 Backup), versions, reserved
        0, 0, 0, 0,              // 4 capabilities
        0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,  // 8 challenge
        0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,  // 16 response
        0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33,  // 24 mirrored boot
        0, 0, 0, 100,            // 32 live
        0x41, 0x20, 0x00, 0x01,  // ACK, 32
        0, 0, 0, 0,              // 0 stream, reserved
        0, 0, 0, 64,             // 4 credit
        1, 2, 3, 4, 5, 6, 7, 8,  // 8 boot
        0, 0, 0, 0, 0, 0, 0, 16, // 16 cumulative
        0, 0, 0, 0, 0, 0, 0, 5,  // 24 SACK
        0x42, 0x20, 0x00, 0x01,  // NACK, 32
        1, 0, 0, 0, 0, 0, 0, 0,  // 0 stream, reserved
        1, 2, 3, 4, 5, 6, 7, 8,  // 8 boot
        0, 0, 0, 0, 0, 0, 0, 17, // 16 first
        0, 0, 0, 0, 0, 0, 0, 19, // 24 last
        0x43, 0x10, 0x00, 0x01,  // RESYNC_REQ, 16
        0, 3, 0x00, 0x00, 0x0f, 0xff, 0, 0,  // stream, reason 3 (digest), range, reserved
        1, 2, 3, 4, 5, 6, 7, 8,  // 8 boot
        0x44, 0x0c, 0x00, 0x01,  // BULK_BEGIN, 12
        0, 0, 0, 7, 0x00, 0x00, 0x0f, 0xff, 0x00, 0x0f, 0x42, 0x40,
        0x45, 0x1c, 0x00, 0x01,  // BULK_END, 28
        0, 0, 0, 7, 0x00, 0x00, 0x0f, 0xff, 0x00, 0x0f, 0x42, 0x40,
        0, 0, 0, 0, 0, 0, 0, 32, // 12 begin seq
        0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,  // 20 digest
        0x46, 0x0a, 0x00, 0x02,  // DIGEST, 10, two records in one section
        0x00, 0x01, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
        0x00, 0x02, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
        0x47, 0x0c, 0x00, 0x01,  // HEARTBEAT, 12
        0, 0, 0, 0, 0, 0, 0, 0xff, 0, 0, 0x03, 0xe8,
    ];
    golden(&records, &bytes);
}

const HEARTBEAT: [u8; 16] = [0x47, 0x0c, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2];

#[test]
fn unknown_sections() {
    assert_eq!(
        decode_payload(&[0x30, 0x04, 0, 1, 1, 2, 3, 4]),
        Err(DecodeError::UnknownCritical { kind: 0x30 })
    );
    // An unknown optional section is skipped by its length.
    let mut p = vec![0x90, 3, 0, 2, 1, 2, 3, 4, 5, 6];
    p.extend_from_slice(&HEARTBEAT);
    assert_eq!(
        decode_payload(&p),
        Ok(vec![Record::Heartbeat {
            highest_seq: 1,
            live: 2
        }])
    );
    let s: Vec<_> = Sections::new_checked(&p)
        .unwrap()
        .map(|s| (s.kind(), s.count(), s.is_critical()))
        .collect();
    assert_eq!(s, [(0x90, 2, false), (kind::HEARTBEAT, 1, true)]);
}

#[test]
fn malformed_sections() {
    let mut p = HEARTBEAT;
    p[1] = 11;
    assert_eq!(
        decode_payload(&p),
        Err(DecodeError::BadRecordLength {
            kind: kind::HEARTBEAT,
            found: 11,
            expected: 12
        })
    );
    let mut p = HEARTBEAT;
    p[3] = 0;
    assert_eq!(
        decode_payload(&p),
        Err(DecodeError::EmptySection {
            kind: kind::HEARTBEAT
        })
    );
    let mut p = HEARTBEAT;
    p[3] = 2;
    assert_eq!(
        decode_payload(&p),
        Err(DecodeError::Truncated {
            needed: 28,
            got: 16
        })
    );
    assert_eq!(
        decode_payload(&p[..3]),
        Err(DecodeError::Truncated { needed: 4, got: 3 })
    );
    assert_eq!(decode_payload(&[]), Ok(vec![]));
}

fn bad_field(bytes: &[u8], kind: u8) {
    match decode_payload(bytes) {
        Err(DecodeError::BadField { kind: k, .. }) => assert_eq!(k, kind),
        other => panic!("{}: {other:?}", hex(bytes)),
    }
}

#[test]
fn invalid_field_values() {
    let persist4 = |prefix: u8, last: u8| {
        vec![
            0x10, 0x0c, 0, 1, 1, prefix, 0, 3, 0, 0, 0, 1, 198, 51, 100, last,
        ]
    };
    assert!(decode_payload(&persist4(32, 7)).is_ok());
    bad_field(&persist4(33, 0), kind::PERSIST4);
    bad_field(&persist4(24, 7), kind::PERSIST4); // bits beyond the prefix
    bad_field(
        &[
            0x12, 0x10, 0, 1, 3, 4, 0, 5, 0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8,
        ],
        kind::PERSISTH,
    );
    bad_field(
        &[
            0x12, 0x10, 0, 1, 3, 0, 0, 5, 0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8,
        ],
        kind::PERSISTH,
    );
    bad_field(
        &[0x15, 0x0c, 0, 1, 3, 1, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8],
        kind::PDELH,
    );
    let mut flow4 = vec![0x01, 0x20, 0, 1];
    flow4.extend_from_slice(&[0; 32]);
    assert!(decode_payload(&flow4).is_ok());
    let mut f = flow4.clone();
    f[4 + 5] = 0x30; // NAT end 3
    bad_field(&f, kind::FLOW4);
    let mut f = flow4.clone();
    f[4 + 5] = 0x40; // reserved bit
    bad_field(&f, kind::FLOW4);
    let mut f = flow4.clone();
    f[4 + 31] = 1; // a NAT address without a translated end
    bad_field(&f, kind::FLOW4);
    let mut flow6x = vec![0x04, 0x60, 0, 1];
    flow6x.extend_from_slice(&[0; 96]);
    assert!(decode_payload(&flow6x).is_ok());
    let mut f = flow6x.clone();
    f[4 + 20] = 1; // IPv4 family bit on :: (not IPv4-mapped)
    bad_field(&f, kind::FLOW6X);
    f[4 + 24 + 10] = 0xff;
    f[4 + 24 + 11] = 0xff;
    assert!(decode_payload(&f).is_ok());
    let mut f = flow6x;
    f[4 + 21] = 1;
    bad_field(&f, kind::FLOW6X);
    bad_field(
        &[0x05, 0x0c, 0, 1, 0, 0, 0, 1, 3, 1, 0, 0, 0, 0, 0, 0],
        kind::FLOW_UPD,
    );
    bad_field(&[0x06, 0x08, 0, 1, 0, 0, 0, 1, 0, 0, 0, 9], kind::FLOW_DEL);
    let mut ack = vec![0x41, 0x20, 0, 1];
    ack.extend_from_slice(&[0; 32]);
    ack[5] = 1;
    bad_field(&ack, kind::ACK);
}

#[test]
fn unknown_codes_round_trip() {
    let hello = Record::Hello(Hello {
        role: Role::Unknown(9),
        versions: (1, 3),
        capabilities: 1,
        challenge: 1,
        response: 2,
        mirrored_boot: 3,
        live: 4,
    });
    let mut out = Vec::new();
    encode_payload(std::slice::from_ref(&hello), &mut out);
    assert_eq!(out[4], 9);
    assert_eq!(decode_payload(&out), Ok(vec![hello]));
}

#[test]
fn a_window_naming_other_flows_stays_standalone() {
    let f = Flow {
        window: Some(TcpWindow::default()),
        ..dnat_flow()
    };
    let mut out = Vec::new();
    encode_payload(&[Record::Flow { handle: H, flow: f }], &mut out);
    // The TCPWIN record names another handle: not this flow's window.
    out[36 + 4 + 3] = 0x04;
    let records = decode_payload(&out).unwrap();
    assert_eq!(records.len(), 2);
    assert!(matches!(&records[0], Record::Flow { flow, .. } if flow.window.is_none()));
    assert!(matches!(&records[1], Record::FlowWindow { handle, .. } if handle.gen == 4));
}

#[test]
fn flows_with_and_without_windows_keep_theirs() {
    let with = Flow {
        window: Some(TcpWindow {
            scale: [3, 3],
            ..TcpWindow::default()
        }),
        ..dnat_flow()
    };
    let h = |slot| Handle { slot, gen: 0 };
    let records = [
        Record::Flow {
            handle: h(1),
            flow: with,
        },
        Record::Flow {
            handle: h(1),
            flow: dnat_flow(),
        },
        Record::Flow {
            handle: h(1),
            flow: with,
        },
        Record::Flow {
            handle: h(2),
            flow: with,
        },
    ];
    let mut out = Vec::new();
    encode_payload(&records, &mut out);
    assert_eq!(decode_payload(&out).as_deref(), Ok(&records[..]));
    let kinds: Vec<_> = Sections::new_checked(&out)
        .unwrap()
        .map(|s| (s.kind(), s.count()))
        .collect();
    assert_eq!(
        kinds,
        [
            (kind::FLOW4, 1),
            (kind::TCPWIN, 1),
            (kind::FLOW4, 1),
            (kind::FLOW4, 2),
            (kind::TCPWIN, 2)
        ]
    );
}

#[test]
fn zero_copy_view_reads_flow4_fields() {
    let mut out = Vec::new();
    encode_payload(
        &[Record::Flow {
            handle: H,
            flow: dnat_flow(),
        }],
        &mut out,
    );
    let s = Sections::new_checked(&out).unwrap().next().unwrap();
    let f = s.flows4().next().unwrap();
    assert_eq!(f.handle(), H);
    assert_eq!((f.proto(), f.state(), f.nat_end()), (proto::TCP, 3, 1));
    assert_eq!(
        (f.src(), f.dst(), f.src_port(), f.dst_port()),
        (
            Ipv4Addr::new(198, 51, 100, 7),
            Ipv4Addr::new(192, 0, 2, 10),
            40000,
            80
        )
    );
    assert_eq!(f.nat(), (Ipv4Addr::new(203, 0, 113, 5), 8080));
    assert_eq!(
        (f.status(), f.lifetime_ms(), f.backend()),
        (0x2e, 432_000_000, 5)
    );
    assert_eq!(f.to_flow(), Ok((H, dnat_flow())));
    assert_eq!(s.flows6().count(), 0);
}

/// Fuzz crash: flows without windows, then standalone windows of the same
/// handles. They once shared the TCPWIN type, and came back as the flows'
/// windows; standalone windows are TCPWIN_UPD records now.
#[test]
fn standalone_windows_after_their_flows_stay_standalone() {
    let window = TcpWindow {
        scale: [0, 1],
        ..TcpWindow::default()
    };
    let records = [
        Record::Flow {
            handle: H,
            flow: dnat_flow(),
        },
        Record::Flow {
            handle: H,
            flow: dnat_flow(),
        },
        Record::FlowWindow { handle: H, window },
        Record::FlowWindow { handle: H, window },
    ];
    let mut out = Vec::new();
    encode_payload(&records, &mut out);
    let kinds: Vec<_> = Sections::new_checked(&out)
        .unwrap()
        .map(|s| (s.kind(), s.count()))
        .collect();
    assert_eq!(kinds, [(kind::FLOW4, 2), (kind::TCPWIN_UPD, 2)]);
    assert_eq!(decode_payload(&out).as_deref(), Ok(&records[..]));
    // A TCPWIN section not right after its flows (here an unknown optional
    // section between) holds standalone windows.
    let mut windowed = Vec::new();
    let with = Flow {
        window: Some(window),
        ..dnat_flow()
    };
    encode_payload(
        &[Record::Flow {
            handle: H,
            flow: with,
        }],
        &mut windowed,
    );
    let mut p = windowed[..36].to_vec();
    p.extend_from_slice(&[0xcb, 0, 0x71, 0x05]);
    p.extend_from_slice(&windowed[36..]);
    assert_eq!(
        decode_payload(&p),
        Ok(vec![
            Record::Flow {
                handle: H,
                flow: dnat_flow()
            },
            Record::FlowWindow { handle: H, window }
        ])
    );
}
