//! Properties of the conntrackd codec: what it emits it parses back; any
//! bytes give a message or an error, never a panic; a flow survives the
//! trip through an entry.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use tandem_replication::conntrackd::entry;
use tandem_replication::conntrackd::msg::{self, Attr, Body, MsgType, Repr};
use tandem_replication::flow::{proto, Flow, Tuple, NO_BACKEND};

fn attr() -> impl Strategy<Value = Attr> {
    let v4 = any::<u32>().prop_map(Ipv4Addr::from);
    let v6 = any::<u128>().prop_map(Ipv6Addr::from);
    prop_oneof![
        (v4.clone(), v4.clone()).prop_map(|(src, dst)| Attr::Ipv4 { src, dst }),
        (v6.clone(), v6.clone()).prop_map(|(src, dst)| Attr::Ipv6 { src, dst }),
        any::<u8>().prop_map(Attr::L4Proto),
        (any::<u16>(), any::<u16>()).prop_map(|(src, dst)| Attr::Port { src, dst }),
        any::<u8>().prop_map(Attr::TcpState),
        any::<u32>().prop_map(Attr::Status),
        any::<u32>().prop_map(Attr::Timeout),
        any::<u32>().prop_map(Attr::Mark),
        (v4.clone(), v4.clone()).prop_map(|(src, dst)| Attr::MasterIpv4 { src, dst }),
        any::<u8>().prop_map(Attr::MasterL4Proto),
        v4.clone().prop_map(Attr::SnatIpv4),
        v4.prop_map(Attr::DnatIpv4),
        any::<u16>().prop_map(Attr::SpatPort),
        any::<u16>().prop_map(Attr::DpatPort),
        any::<[u32; 6]>().prop_map(Attr::NatSeqAdj),
        any::<u8>().prop_map(Attr::SctpState),
        any::<u32>().prop_map(Attr::SctpVtagOrig),
        any::<u8>().prop_map(Attr::IcmpType),
        any::<u16>().prop_map(Attr::IcmpId),
        proptest::collection::vec(any::<u8>(), 0..=12).prop_map(Attr::HelperName),
        proptest::collection::vec(any::<u32>(), 0..8).prop_map(Attr::Labels),
        v6.clone().prop_map(Attr::SnatIpv6),
        v6.prop_map(Attr::DnatIpv6),
        (any::<u32>(), any::<u32>(), any::<u32>()).prop_map(|(its, isn, tsoff)| Attr::Synproxy {
            its,
            isn,
            tsoff
        }),
        any::<u16>().prop_map(Attr::Zone),
    ]
}

fn repr() -> impl Strategy<Value = Repr> {
    let ct = (
        0u8..3,
        any::<u32>(),
        proptest::collection::vec(attr(), 0..12),
    )
        .prop_map(|(t, seq, a)| Repr {
            msg_type: MsgType::from_code(t),
            flags: 0,
            seq,
            body: Body::Entry(a),
        });
    let ctl = (any::<u8>(), any::<u32>(), any::<(u32, u32)>()).prop_map(|(f, seq, r)| {
        let f = f & 0x7e;
        let range = (f & msg::flags::RANGE != 0).then_some(r);
        Repr::control(f | if f == 0 { msg::flags::ALIVE } else { 0 }, seq, range)
    });
    prop_oneof![ct, ctl]
}

fn ip(v6: bool, x: u32) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::from(0xfd00_u128 << 112 | u128::from(x)))
    } else {
        IpAddr::V4(Ipv4Addr::from(x))
    }
}

fn flow() -> impl Strategy<Value = Flow> {
    (
        prop_oneof![
            Just(proto::TCP),
            Just(proto::UDP),
            Just(proto::ICMP),
            Just(proto::SCTP)
        ],
        any::<bool>(),
        any::<[u32; 4]>(),
        any::<[u16; 4]>(),
        any::<u8>(),
        any::<u16>(),
        0u32..4_000_000,
        any::<u32>(),
        any::<u16>(),
    )
        .prop_map(|(p, v6, a, ports, state, status, secs, mark, zone)| {
            let original = Tuple {
                src: ip(v6, a[0]),
                dst: ip(v6, a[1]),
                src_port: ports[0],
                dst_port: if p == proto::ICMP { 8 << 8 } else { ports[1] },
            };
            let mut reply = original.inverse(p);
            if a[2] % 2 == 0 {
                reply.src = ip(v6, a[3]); // DNAT
                if p != proto::ICMP {
                    reply.src_port = ports[2];
                }
            }
            if a[2] % 3 == 0 {
                reply.dst = ip(v6, a[2]); // SNAT
                if p != proto::ICMP {
                    reply.dst_port = ports[3];
                }
            }
            Flow {
                proto: p,
                zone,
                original,
                reply,
                state: if p == proto::TCP || p == proto::SCTP {
                    state
                } else {
                    0
                },
                status,
                lifetime_ms: secs * 1000,
                backend: NO_BACKEND,
                mark,
                window: None,
            }
        })
}

proptest! {
    #[test]
    fn emit_then_parse_is_identity(r in repr()) {
        let bytes = r.to_bytes();
        prop_assert_eq!(bytes.len(), r.buffer_len());
        prop_assert_eq!(bytes.len() % 4, 0);
        prop_assert_eq!(Repr::decode(&bytes), Ok(r));
    }

    #[test]
    fn every_prefix_is_truncated(r in repr()) {
        let bytes = r.to_bytes();
        for n in 0..bytes.len() {
            let e = msg::Message::new_checked(&bytes[..n]).unwrap_err();
            prop_assert!(matches!(e, msg::DecodeError::Truncated { .. }), "{:?}", e);
        }
    }

    #[test]
    fn any_bytes_decode_or_fail(data in proptest::collection::vec(any::<u8>(), 0..256)) {
        for m in msg::messages(&data) {
            let Ok(m) = m else { break };
            if let Ok(r) = Repr::parse(&m) {
                prop_assert_eq!(Repr::decode(&r.to_bytes()), Ok(r));
            }
        }
    }

    #[test]
    fn a_flow_survives_an_entry(f in flow()) {
        prop_assert_eq!(entry::to_flow(&entry::from_flow(&f, true), 0), Ok(f));
    }
}
