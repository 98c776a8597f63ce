//! Round trips of arbitrary record sequences, arbitrary bytes, prefixes,
//! and the builder's exact size.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use tandem_replication::flow::{proto, Flow, TcpWindow, Tuple};
use tandem_replication::persist::{PersistKey, Persistence};
use tandem_replication::wire::{
    decode_payload, encode_payload, Ack, BulkBegin, BulkEnd, DecodeError, FrameBuilder, Handle,
    Hello, Nack, Record, ResyncReason, ResyncReq, Role, Sections, ShardRange,
};

fn addr4() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        // A few addresses, so that NAT ends often coincide.
        (0u8..4).prop_map(|a| IpAddr::V4(Ipv4Addr::new(192, 0, 2, a))),
        any::<u32>().prop_map(|a| IpAddr::V4(Ipv4Addr::from(a))),
    ]
}

fn addr6() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        (0u16..4).prop_map(|a| IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, a))),
        any::<u128>().prop_map(|a| IpAddr::V6(Ipv6Addr::from(a))),
        // IPv6 addresses that look IPv4-mapped stay IPv6.
        any::<u32>().prop_map(|a| IpAddr::V6(Ipv4Addr::from(a).to_ipv6_mapped())),
    ]
}

fn addr() -> impl Strategy<Value = IpAddr> {
    prop_oneof![addr4(), addr6()]
}

fn port() -> impl Strategy<Value = u16> {
    prop_oneof![0u16..3, any::<u16>()]
}

fn window() -> impl Strategy<Value = TcpWindow> {
    (
        any::<[u8; 2]>(),
        any::<[u8; 2]>(),
        any::<[u32; 2]>(),
        any::<[u32; 2]>(),
        any::<[u32; 2]>(),
    )
        .prop_map(|(scale, flags, end, max_end, max_window)| TcpWindow {
            scale,
            flags,
            end,
            max_end,
            max_window,
        })
}

/// Flows of every form: compact (no NAT, either end translated), explicit
/// (zone, mark, large state, both ends translated), mixed families.
fn flow() -> impl Strategy<Value = Flow> {
    let family = prop_oneof![
        (addr4(), addr4(), addr4()),
        (addr6(), addr6(), addr6()),
        (addr(), addr(), addr()),
    ];
    let proto = prop_oneof![
        Just(proto::TCP),
        Just(proto::UDP),
        Just(proto::ICMP),
        Just(proto::ICMPV6),
        Just(proto::SCTP),
        any::<u8>()
    ];
    (
        family,
        proto,
        port(),
        port(),
        port(),
        0u8..4,
        prop_oneof![3 => Just(0u16), 1 => any::<u16>()],
        prop_oneof![3 => Just(0u32), 1 => any::<u32>()],
        prop_oneof![3 => 0u8..16, 1 => any::<u8>()],
        (any::<u16>(), any::<u32>(), any::<u16>()),
        proptest::option::of(window()),
    )
        .prop_map(
            |(
                (a, b, c),
                proto,
                p1,
                p2,
                p3,
                nat,
                zone,
                mark,
                state,
                (status, lifetime_ms, backend),
                window,
            )| {
                let original = Tuple {
                    src: a,
                    dst: b,
                    src_port: p1,
                    dst_port: p2,
                };
                let inv = original.inverse(proto);
                let reply = match nat {
                    0 => inv,
                    1 => Tuple {
                        src: c,
                        src_port: p3,
                        ..inv
                    },
                    2 => Tuple {
                        dst: c,
                        dst_port: p3,
                        ..inv
                    },
                    _ => Tuple {
                        src: c,
                        dst: a,
                        src_port: p3,
                        dst_port: p1.wrapping_add(1),
                    },
                };
                Flow {
                    proto,
                    zone,
                    original,
                    reply,
                    state,
                    status,
                    lifetime_ms,
                    backend,
                    mark,
                    window,
                }
            },
        )
}

/// Handles: often the same few, so that windows, updates and flows of
/// one payload name one another.
fn handle() -> impl Strategy<Value = Handle> {
    (
        prop_oneof![0u32..3, 0u32..Handle::MAX_SLOTS],
        prop_oneof![0u8..2, any::<u8>()],
    )
        .prop_map(|(slot, gen)| Handle { slot, gen })
}

fn persist_key() -> impl Strategy<Value = PersistKey> {
    prop_oneof![
        (addr4(), 0u8..=32).prop_map(|(a, p)| PersistKey::source(a, p)),
        (addr6(), 0u8..=128).prop_map(|(a, p)| PersistKey::source(a, p)),
        any::<u64>().prop_map(PersistKey::Cookie),
        any::<u64>().prop_map(PersistKey::Header),
        any::<u64>().prop_map(PersistKey::TlsSession),
    ]
}

fn range() -> impl Strategy<Value = ShardRange> {
    (any::<u16>(), any::<u16>()).prop_map(|(first, last)| ShardRange { first, last })
}

fn record() -> impl Strategy<Value = Record> {
    prop_oneof![
        8 => (handle(), flow()).prop_map(|(handle, flow)| Record::Flow { handle, flow }),
        2 => (handle(), any::<u8>(), any::<u16>(), any::<u32>()).prop_map(|(handle, state, status, lifetime_ms)| Record::FlowUpdate { handle, state, status, lifetime_ms }),
        2 => handle().prop_map(|handle| Record::FlowDelete { handle }),
        2 => (handle(), window()).prop_map(|(handle, window)| Record::FlowWindow { handle, window }),
        2 => (any::<u8>(), persist_key(), any::<u16>(), any::<u32>()).prop_map(|(table, key, backend, lifetime_ms)| Record::Persist(Persistence { table, key, backend, lifetime_ms })),
        1 => (any::<u8>(), persist_key()).prop_map(|(table, key)| Record::PersistDelete { table, key }),
        1 => (prop_oneof![Just(Role::Active), Just(Role::Backup), (3u8..).prop_map(Role::Unknown), Just(Role::Unknown(0))], any::<(u8, u8)>(), any::<u32>(), any::<[u64; 3]>(), any::<u32>())
            .prop_map(|(role, versions, capabilities, [challenge, response, mirrored_boot], live)| Record::Hello(Hello { role, versions, capabilities, challenge, response, mirrored_boot, live })),
        1 => (any::<u8>(), any::<[u64; 3]>(), any::<u32>()).prop_map(|(stream, [boot, cumulative, sack], credit)| Record::Ack(Ack { stream, boot, cumulative, sack, credit })),
        1 => (any::<u8>(), any::<[u64; 3]>()).prop_map(|(stream, [boot, first, last])| Record::Nack(Nack { stream, boot, first, last })),
        1 => (any::<u8>(), any::<u64>(), range(), prop_oneof![Just(ResyncReason::Join), Just(ResyncReason::Gap), Just(ResyncReason::Digest), Just(ResyncReason::Operator), (5u8..).prop_map(ResyncReason::Unknown), Just(ResyncReason::Unknown(0))])
            .prop_map(|(stream, boot, range, reason)| Record::ResyncReq(ResyncReq { stream, boot, range, reason })),
        1 => (any::<u32>(), range(), any::<u32>()).prop_map(|(bulk, range, entries)| Record::BulkBegin(BulkBegin { bulk, range, entries })),
        1 => (any::<u32>(), range(), any::<u64>(), any::<u32>(), any::<u64>()).prop_map(|(bulk, range, begin_seq, entries, digest)| Record::BulkEnd(BulkEnd { bulk, range, begin_seq, entries, digest })),
        1 => (any::<u16>(), any::<u64>()).prop_map(|(shard, digest)| Record::Digest { shard, digest }),
        1 => (any::<u64>(), any::<u32>()).prop_map(|(highest_seq, live)| Record::Heartbeat { highest_seq, live }),
    ]
}

fn encode(records: &[Record]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_payload(records, &mut out);
    out
}

/// The offsets at which a section starts (and the payload's end).
fn boundaries(payload: &[u8]) -> Vec<usize> {
    let mut at = 0;
    let mut v = vec![0];
    for s in Sections::new_checked(payload).unwrap() {
        at += 4 + s.record_len() * s.count();
        v.push(at);
    }
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    #[test]
    fn records_round_trip(records in proptest::collection::vec(record(), 0..40)) {
        let bytes = encode(&records);
        prop_assert_eq!(decode_payload(&bytes), Ok(records.clone()));
        // Deterministic.
        prop_assert_eq!(encode(&records), bytes);
    }

    #[test]
    fn builder_knows_the_exact_size(records in proptest::collection::vec(record(), 0..60), max in 0usize..3000) {
        let mut b = FrameBuilder::new(max);
        for r in records {
            let before = b.payload_len();
            let cost = b.cost(&r);
            match b.push(r) {
                Ok(()) => prop_assert_eq!(b.payload_len(), before + cost),
                Err(_) => prop_assert!(before + cost > max),
            }
            prop_assert!(b.payload_len() <= max);
            prop_assert_eq!(b.encode().len(), b.payload_len());
        }
        prop_assert_eq!(decode_payload(&b.encode()), Ok(b.records().to_vec()));
    }

    #[test]
    fn any_bytes_decode_or_fail(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(records) = decode_payload(&bytes) {
            // What decodes re-encodes to the same records.
            prop_assert_eq!(decode_payload(&encode(&records)), Ok(records));
        }
    }

    #[test]
    fn prefixes_inside_a_section_are_truncated(records in proptest::collection::vec(record(), 1..20)) {
        let bytes = encode(&records);
        let cuts = boundaries(&bytes);
        for n in 0..bytes.len() {
            if cuts.contains(&n) {
                // A whole number of sections: a shorter valid payload.
                prop_assert!(decode_payload(&bytes[..n]).is_ok());
            } else {
                let r = decode_payload(&bytes[..n]);
                prop_assert!(matches!(r, Err(DecodeError::Truncated { .. })), "prefix {} of {}: {:?}", n, bytes.len(), r);
            }
        }
    }
}

#[test]
fn generated_flows_take_every_form() {
    use proptest::strategy::ValueTree;
    use tandem_replication::wire::kind;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut seen = std::collections::BTreeSet::new();
    let mut nat64 = false;
    for _ in 0..500 {
        let f = flow().new_tree(&mut runner).unwrap().current();
        nat64 |= f.original.is_v4() != f.reply.is_v4();
        let bytes = encode(&[Record::Flow {
            handle: Handle { slot: 1, gen: 1 },
            flow: f,
        }]);
        for s in Sections::new_checked(&bytes).unwrap() {
            seen.insert(s.kind());
        }
    }
    assert!(nat64);
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        [
            kind::FLOW4,
            kind::FLOW4X,
            kind::FLOW6,
            kind::FLOW6X,
            kind::TCPWIN
        ]
    );
}
