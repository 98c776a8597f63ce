//! Unit tests of the replication link decoder: frames sealed here (our
//! own encoder: the golden vectors are in tests/decode_replication.rs),
//! keys right, wrong and missing, and arbitrary bytes.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr};

use proptest::prelude::*;
use tandem_replication::flow::{proto, status, Flow, Tuple};
use tandem_replication::seal::{KeyRing, Psk};
use tandem_replication::wire::{encode_payload, flags, kind, Ack, Handle, Header, Record};

use super::render;
use super::*;
use crate::capture::{Frame, LinkType};

fn v4(a: [u8; 4]) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(a))
}

/// A raw IPv4 packet: UDP from `sport` to `dport` with `payload`.
fn udp_packet(sport: u16, dport: u16, ttl: u8, payload: &[u8]) -> Vec<u8> {
    let mut ip = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, ttl, 17, 0, 0];
    ip.extend_from_slice(&[198, 51, 100, 1, 198, 51, 100, 2]);
    let total = (28 + payload.len()) as u16;
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    ip.extend_from_slice(&sport.to_be_bytes());
    ip.extend_from_slice(&dport.to_be_bytes());
    ip.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    ip.extend_from_slice(&[0, 0]);
    ip.extend_from_slice(payload);
    ip
}

fn raw(n: u64, data: Vec<u8>) -> Frame<'static> {
    Frame {
        number: n,
        link_type: LinkType::Raw,
        data: Cow::Owned(data),
    }
}

fn psk(b: u8) -> Psk {
    Psk::from_bytes([b; 32])
}

fn dnat_flow() -> Flow {
    let original = Tuple {
        src: v4([192, 0, 2, 254]),
        dst: v4([192, 0, 2, 100]),
        src_port: 40000,
        dst_port: 80,
    };
    Flow {
        reply: Tuple {
            src: v4([198, 51, 100, 10]),
            src_port: 8080,
            ..original.inverse(proto::TCP)
        },
        status: status::CONFIRMED | status::ASSURED | status::SEEN_REPLY | status::DST_NAT,
        backend: 3,
        ..Flow::untranslated(proto::TCP, original, 3, 431_999_000)
    }
}

fn sealed(key: &Psk, seq: u64) -> Vec<u8> {
    let records = vec![
        Record::Flow {
            handle: Handle { slot: 5, gen: 1 },
            flow: dnat_flow(),
        },
        Record::Ack(Ack {
            stream: 0,
            boot: 0x3f,
            cumulative: 11,
            sack: 0,
            credit: 64,
        }),
    ];
    let mut payload = Vec::new();
    encode_payload(&records, &mut payload);
    let header = Header {
        minor: 0,
        flags: flags::IN_SYNC,
        payload_len: 0,
        cluster: 7,
        node: 1,
        stream: 0,
        key_id: 0,
        boot: 0x3f00_0000_0000_0001,
        seq,
    };
    KeyRing::new(7, key, None).unwrap().seal(header, &payload)
}

fn one_tandem(d: &mut Decoder, frame: &Frame<'_>) -> TandemFrame {
    match d.decode(frame).as_slice() {
        [Message::Tandem(f)] => f.clone(),
        other => panic!("{other:?}"),
    }
}

fn keyed(keys: Vec<Psk>) -> Decoder {
    Decoder::new(Options {
        keys,
        ..Options::default()
    })
}

#[test]
fn a_frame_opens_with_its_key_and_lists_its_records() {
    let f = raw(3, udp_packet(6974, 6974, 255, &sealed(&psk(1), 12)));
    let t = one_tandem(&mut keyed(vec![psk(1)]), &f);
    assert_eq!(t.seal, Seal::Opened);
    assert_eq!(t.header.unwrap().seq, 12);
    assert_eq!(t.header.unwrap().cluster, 7);
    let kinds: Vec<u8> = t.sections.iter().map(|s| s.kind).collect();
    assert_eq!(kinds, [kind::FLOW4, kind::ACK]);
    match t.sections[0].records.as_deref() {
        Ok([Record::Flow { handle, flow }]) => {
            assert_eq!(handle.slot, 5);
            assert_eq!(*flow, dnat_flow());
        }
        other => panic!("{other:?}"),
    }
    assert!(t.problems().is_empty(), "{:?}", t.problems());
    let lines = render::human(&Message::Tandem(t.clone()));
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(
        lines[0].contains("tandem-repl v1.0 cluster 7 node 1 stream 0")
            && lines[0].contains("seq 12 flags encrypted,in-sync")
            && lines[0].contains("opened sections FLOW4x1,ACKx1 ttl 255"),
        "{}",
        lines[0]
    );
    assert_eq!(
        lines[1],
        "3.1  FLOW4 slot 5 gen 1 tcp 192.0.2.254:40000 -> 192.0.2.100:80 reply 198.51.100.10:8080 -> 192.0.2.254:40000 (dnat) state established status seen-reply,assured,confirmed,dst-nat backend 3 lifetime 431999000ms"
    );
    assert!(lines[2].starts_with("3.2  ACK stream 0 boot 000000000000003f cum 11"));
    let v: serde_json::Value = serde_json::from_str(&render::json(&Message::Tandem(t))).unwrap();
    assert_eq!(v["seal"], "opened");
    assert_eq!(v["records"][0]["flow"]["nat"], "dnat");
    assert_eq!(v["records"][0]["flow"]["reply"]["src"], "198.51.100.10");
    assert_eq!(v["records"][1]["section"], "ack");
    assert_eq!(v["records"][1]["cumulative"], 11);
}

#[test]
fn without_a_key_the_header_alone_shows() {
    let f = raw(1, udp_packet(6974, 6974, 255, &sealed(&psk(1), 12)));
    let t = one_tandem(&mut Decoder::new(Options::default()), &f);
    assert_eq!(t.seal, Seal::NoKey);
    assert!(t.sections.is_empty());
    let line = &render::human(&Message::Tandem(t))[0];
    assert!(
        line.contains("sealed (give --replication-key to open)"),
        "{line}"
    );
}

#[test]
fn another_key_or_an_altered_frame_fails_authentication() {
    let good = sealed(&psk(1), 12);
    let t = one_tandem(
        &mut keyed(vec![psk(2)]),
        &raw(1, udp_packet(6974, 6974, 255, &good)),
    );
    assert_eq!(
        t.seal,
        Seal::UnknownKey {
            key_id: psk(1).key_id(),
            have: vec![psk(2).key_id()]
        }
    );
    assert!(t.problems()[0].starts_with("authentication failed"));
    let mut bad = good;
    let last = bad.len() - 20;
    bad[last] ^= 1;
    let t = one_tandem(
        &mut keyed(vec![psk(2), psk(1)]),
        &raw(1, udp_packet(6974, 6974, 255, &bad)),
    );
    assert_eq!(t.seal, Seal::BadTag);
    assert_eq!(t.header.unwrap().seq, 12, "the header still shows");
    assert!(t.problems()[0].starts_with("authentication failed"));
}

#[test]
fn replays_and_ttls_are_reported() {
    let mut d = keyed(vec![psk(1)]);
    let f = raw(1, udp_packet(6974, 6974, 64, &sealed(&psk(1), 12)));
    let first = one_tandem(&mut d, &f);
    assert!(!first.replayed);
    assert_eq!(first.problems().len(), 1, "TTL 64 only");
    let again = one_tandem(&mut d, &f);
    assert!(again.replayed);
    assert!(again.problems()[0].starts_with("replayed: sequence number 12"));
}

#[test]
fn a_malformed_header_keeps_its_fields() {
    let mut b = sealed(&psk(1), 9);
    b.truncate(b.len() - 3);
    let t = one_tandem(&mut keyed(vec![psk(1)]), &raw(1, udp_packet(1, 2, 255, &b)));
    assert_eq!(t.seal, Seal::NotTried);
    assert_eq!(t.header.unwrap().seq, 9);
    assert!(matches!(t.error, Some(wire::DecodeError::BadLength { .. })));
}

#[test]
fn conntrackd_is_told_by_port_and_version() {
    // An ALIVE message (CTL, flags ALIVE), 8 bytes.
    let alive = [0x1a, msg::flags::ALIVE, 0, 8, 0, 0, 0, 42];
    let mut d = Decoder::new(Options::default());
    match d
        .decode(&raw(1, udp_packet(40000, 3780, 64, &alive)))
        .as_slice()
    {
        [Message::Conntrackd(c)] => {
            assert_eq!((c.msg_type, c.seq, c.index), (Some(MsgType::Ctl), 42, 1));
            assert!(c.problems().is_empty());
        }
        other => panic!("{other:?}"),
    }
    assert!(d
        .decode(&raw(1, udp_packet(40000, 3781, 64, &alive)))
        .is_empty());
    let mut d = Decoder::new(Options {
        conntrackd_port: 3781,
        ..Options::default()
    });
    assert_eq!(d.decode(&raw(1, udp_packet(3781, 9, 64, &alive))).len(), 1);
    // Version 2: not conntrackd's.
    let v2 = [0x2a, 0, 0, 8, 0, 0, 0, 1];
    assert!(d.decode(&raw(1, udp_packet(3781, 9, 64, &v2))).is_empty());
}

#[test]
fn a_bad_conntrackd_message_ends_its_datagram() {
    let alive = [0x1a, msg::flags::ALIVE, 0, 8, 0, 0, 0, 42];
    let mut p = alive.to_vec();
    p.extend_from_slice(&[0x10, 0, 0, 200, 0, 0, 0, 43]); // CT_NEW of 200 bytes
    let ms = Decoder::new(Options::default()).decode(&raw(1, udp_packet(1, 3780, 64, &p)));
    assert_eq!(ms.len(), 2);
    match &ms[1] {
        Message::Conntrackd(c) => {
            assert_eq!((c.index, c.seq, c.msg_type), (2, 43, Some(MsgType::CtNew)));
            assert!(matches!(c.error, Some(msg::DecodeError::Truncated { .. })));
            let line = render::human(&ms[1]).remove(0);
            assert!(line.contains("-- malformed conntrackd message"), "{line}");
        }
        other => panic!("{other:?}"),
    }
}

fn link(i: u8) -> LinkType {
    [
        LinkType::Ethernet,
        LinkType::LinuxSll,
        LinkType::LinuxSll2,
        LinkType::Raw,
        LinkType::Ipv4,
        LinkType::Ipv6,
    ][usize::from(i % 6)]
}

fn exercise(d: &mut Decoder, frame: &Frame<'_>) {
    for m in d.decode(frame) {
        let _ = render::human(&m);
        let _ = render::json(&m);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_bytes_never_panic(l in 0u8..6, data in proptest::collection::vec(any::<u8>(), 0..256)) {
        let mut d = keyed(vec![psk(1)]);
        exercise(&mut d, &Frame { number: 1, link_type: link(l), data: Cow::Owned(data) });
    }

    #[test]
    fn any_payload_of_ours_never_panics(
        tandem in any::<bool>(),
        cut in 0usize..40,
        body in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let mut p = if tandem { vec![0x54, 0x52, 1] } else { vec![0x10 | (body.len() as u8 & 0x0f)] };
        p.extend_from_slice(&body);
        let mut packet = udp_packet(3780, 6974, 255, &p);
        packet.truncate(packet.len().saturating_sub(cut));
        let mut d = keyed(vec![psk(1)]);
        exercise(&mut d, &raw(1, packet));
    }

    #[test]
    fn altered_sealed_frames_never_panic(at in 0usize..200, x in 1u8..=255, cut in 0usize..60) {
        let mut b = sealed(&psk(1), 5);
        if let Some(byte) = b.get_mut(at) { *byte ^= x; }
        b.truncate(b.len().saturating_sub(cut));
        let mut d = keyed(vec![psk(1)]);
        exercise(&mut d, &raw(1, udp_packet(6974, 6974, 255, &b)));
    }
}
