//! The replicator's receiver fed arbitrary datagrams: raw bytes, valid
//! frames mutated, and well-sealed frames of arbitrary records from the
//! bound partner (arbitrary sequence numbers, handles, bulk ends, ACKs,
//! NACKs, resync requests, digests, HELLOs). It never panics, every
//! refusal is counted, the mirror stays within its bound, and every
//! datagram it sends fits `max_datagram`.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use tandem_replication::flow::{Flow, TcpWindow, Tuple};
use tandem_replication::persist::{PersistKey, Persistence};
use tandem_replication::seal::KeyRing;
use tandem_replication::session::Output;
use tandem_replication::sim::{self, Side, Sim};
use tandem_replication::wire::{
    encode_payload, Ack, BulkBegin, BulkEnd, FrameBuilder, Handle, Header, Hello, Nack, Record,
    ResyncReason, ResyncReq, Role, ShardRange, MINOR,
};

/// Reads the input a few bytes at a time (zeros when it runs out).
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }
    fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }
    fn u32(&mut self) -> u32 {
        u32::from_be_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    fn u64(&mut self) -> u64 {
        (u64::from(self.u32()) << 32) | u64::from(self.u32())
    }
    fn take(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.0.len());
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        a
    }
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn flow(b: &mut Bytes) -> Flow {
    let mut f = sim::flow(b.u32());
    f.state = b.u8();
    f.status = b.u16();
    f.lifetime_ms = b.u32();
    f.backend = b.u16();
    if b.u8() & 1 == 1 {
        f.zone = b.u16();
        f.mark = b.u32();
    }
    if b.u8() & 1 == 1 {
        let v6 = IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, b.u16()));
        f.original = Tuple {
            src: v6,
            ..f.original
        };
        f.reply = Tuple { dst: v6, ..f.reply };
    }
    if b.u8() & 1 == 1 {
        f.window = Some(TcpWindow {
            end: [b.u32(), b.u32()],
            ..TcpWindow::default()
        });
    }
    f
}

fn record(b: &mut Bytes, own: u64, partner: u64) -> Record {
    let handle = Handle {
        slot: b.u32() % 20_000,
        gen: b.u8(),
    };
    let boot = match b.u8() % 3 {
        0 => own,
        1 => partner,
        _ => b.u64(),
    };
    let range = ShardRange {
        first: b.u16() % 4200,
        last: b.u16() % 4200,
    };
    match b.u8() % 15 {
        0 => Record::Flow {
            handle,
            flow: flow(b),
        },
        1 => Record::FlowUpdate {
            handle,
            state: b.u8(),
            status: b.u16(),
            lifetime_ms: b.u32(),
        },
        2 => Record::FlowDelete { handle },
        3 => Record::FlowWindow {
            handle,
            window: TcpWindow {
                scale: [b.u8(), b.u8()],
                ..TcpWindow::default()
            },
        },
        4 => Record::Persist(Persistence {
            table: b.u8(),
            key: PersistKey::source(IpAddr::V4(Ipv4Addr::from(b.u32())), b.u8()),
            backend: b.u16(),
            lifetime_ms: b.u32(),
        }),
        5 => Record::PersistDelete {
            table: b.u8(),
            key: PersistKey::Cookie(b.u64()),
        },
        6 => Record::Hello(Hello {
            role: if b.u8() & 1 == 0 {
                Role::Active
            } else {
                Role::Backup
            },
            versions: (1, 1),
            capabilities: b.u32(),
            challenge: b.u64(),
            response: b.u64(),
            mirrored_boot: if b.u8() & 1 == 0 { own } else { b.u64() },
            live: b.u32(),
        }),
        7 => Record::Ack(Ack {
            stream: b.u8() % 2,
            boot,
            cumulative: b.u64() % 100_000,
            sack: b.u64(),
            credit: b.u32(),
        }),
        8 => {
            let first = b.u64() % 100_000;
            Record::Nack(Nack {
                stream: 0,
                boot,
                first,
                last: first + u64::from(b.u16()),
            })
        }
        9 => Record::ResyncReq(ResyncReq {
            stream: 0,
            boot,
            range,
            reason: ResyncReason::Digest,
        }),
        10 => Record::BulkBegin(BulkBegin {
            bulk: b.u32(),
            range,
            entries: b.u32(),
        }),
        11 => Record::BulkEnd(BulkEnd {
            bulk: b.u32(),
            range,
            begin_seq: b.u64() % 100_000,
            entries: b.u32(),
            digest: b.u64(),
        }),
        12 => Record::Digest {
            shard: b.u16(),
            digest: b.u64(),
        },
        _ => Record::Heartbeat {
            highest_seq: b.u64(),
            live: b.u32(),
        },
    }
}

/// A short input is stretched by a generator seeded with it, so that
/// even the first small inputs drive long sequences of frames.
fn stretch(data: &[u8]) -> Vec<u8> {
    if data.len() >= 64 {
        return data.to_vec();
    }
    let mut rng = sim::Rng::new(data.iter().fold(0u64, |h, &b| h.rotate_left(8) ^ u64::from(b)));
    let mut out = data.to_vec();
    while out.len() < 2048 {
        out.extend_from_slice(&rng.next_u64().to_le_bytes());
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let data = stretch(data);
    let mut b = Bytes(&data);
    let mut ca = sim::config(1);
    let mut cb = sim::config(2);
    ca.max_flows = 4096;
    cb.max_flows = 4096;
    cb.ring_frames = 256;
    let mut s = Sim::new(u64::from(b.u8()), ca, cb);
    s.capture = true;
    s.a.set_active(s.now, true);
    for i in 0..u32::from(b.u8() % 16) {
        let _ = s.a.upsert_flow(s.now, sim::flow(i));
        let _ = s.b.upsert_flow(s.now, sim::flow(1000 + i));
    }
    if b.u8() & 1 == 1 {
        s.b.set_active(s.now, true);
    }
    s.run_for(Duration::from_millis(20));
    let keys = KeyRing::new(sim::CLUSTER, &sim::psk(), None).unwrap();
    let (own, partner) = (s.b.boot(), s.a.boot());
    let mut seq = s.a.debug_sequences().3;
    let max = 1400;
    while !b.is_empty() {
        match b.u8() % 6 {
            0 => {
                let n = usize::from(b.u16() % 1600);
                let raw = b.take(n).to_vec();
                let ttl = if b.u8() & 1 == 0 { 255 } else { b.u8() };
                s.inject(Side::B, ttl, &raw);
            }
            1 => {
                // A valid frame of a, mutated.
                let n = s.captured.len();
                if n > 0 {
                    let i = usize::from(b.u16()) % n;
                    let mut d = s.captured[i].1.clone();
                    if !d.is_empty() {
                        let at = usize::from(b.u16()) % d.len();
                        d[at] ^= b.u8() | 1;
                    }
                    s.inject(Side::B, 255, &d);
                }
            }
            2..=4 => {
                // Sealed records from the bound partner.
                let mut fb = FrameBuilder::new(max - 48);
                for _ in 0..b.u8() % 24 {
                    if fb.push(record(&mut b, own, partner)).is_err() {
                        break;
                    }
                }
                let mut payload = Vec::new();
                encode_payload(fb.records(), &mut payload);
                seq += u64::from(b.u8() % 8);
                if b.u8() % 8 == 0 {
                    seq = seq.saturating_sub(u64::from(b.u16()));
                }
                let h = Header {
                    minor: MINOR,
                    flags: u16::from(b.u8() & 0x0e),
                    payload_len: 0,
                    cluster: sim::CLUSTER,
                    node: 1,
                    stream: 0,
                    key_id: 0,
                    boot: partner,
                    seq: seq.max(1),
                };
                let d = keys.seal(h, &payload);
                s.inject(Side::B, 255, &d);
            }
            _ => s.run_for(Duration::from_micros(u64::from(b.u16()) * 16)),
        }
        assert!(s.b.mirror().len() <= 4096);
    }
    s.run_for(Duration::from_millis(50));
    // Everything b sent fits a datagram.
    for (side, d) in &s.captured {
        if *side == Side::B {
            assert!(d.len() <= max, "{} bytes", d.len());
        }
    }
    let c = s.b.status().counters;
    let _ = c;
    while let Some(o) = s.b.poll_output() {
        if let Output::Send(d) = o {
            assert!(d.len() <= max);
        }
    }
});
