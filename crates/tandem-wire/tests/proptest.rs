//! Property tests of the codecs (STYLE.md, test layer 3).
//!
//! - `parse(emit(r)) == r` for VRRPv3 (IPv4 and IPv6, both checksum
//!   coverages), VRRPv2 (auth none, simple text, IP AH) and CARP (with a key
//!   from an arbitrary password, vhid and address set), and the emitted
//!   bytes pass `new_checked` and checksum (and HMAC) verification;
//! - arbitrary bytes never panic any decoder, frame parser or `classify`;
//! - every strict prefix of a valid message is `DecodeError::Truncated`;
//! - a single flipped bit never yields the same `Repr` with a checksum that
//!   verifies;
//! - `classify` tells each emitted message's format, and never calls CARP
//!   VRRP.
//!
//! The `arbitrary` generators are exercised by the fuzz target
//! `wire_roundtrip_arbitrary` (fuzz/), which enables that feature.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use bytes::BytesMut;
use proptest::prelude::*;
use tandem_wire::{
    carp, classify, frame, vrrp2, vrrp3, Centiseconds, Checksum, DecodeError, Family, Kind,
    Priority, Seconds, Vrid,
};

// ---------------------------------------------------------------- strategies

fn vrid() -> impl Strategy<Value = Vrid> {
    (1u8..=255).prop_map(|v| Vrid::new(v).expect("1..=255"))
}

fn v4() -> impl Strategy<Value = Ipv4Addr> {
    any::<u32>().prop_map(Ipv4Addr::from)
}

fn v6() -> impl Strategy<Value = Ipv6Addr> {
    any::<u128>().prop_map(Ipv6Addr::from)
}

fn vrrp3_addresses() -> impl Strategy<Value = vrrp3::Addresses> {
    prop_oneof![
        prop::collection::vec(v4(), 1..=12).prop_map(vrrp3::Addresses::V4),
        prop::collection::vec(v6(), 1..=6).prop_map(vrrp3::Addresses::V6),
    ]
}

fn vrrp3_repr() -> impl Strategy<Value = vrrp3::Repr> {
    (vrid(), any::<u8>(), 1u16..=4095, vrrp3_addresses()).prop_map(|(vrid, p, int, addresses)| {
        vrrp3::Repr {
            vrid,
            priority: Priority(p),
            max_adver_int: Centiseconds(int),
            addresses,
        }
    })
}

/// The checksum coverages a VRRPv3 message of `family` may be sent with:
/// the pseudo-header of an arbitrary packet of that family, or (IPv4 only,
/// RFC 9568) the message alone.
fn vrrp3_checksum(family: Family) -> BoxedStrategy<Checksum> {
    match family {
        Family::V4 => prop_oneof![
            (v4(), v4()).prop_map(|(s, d)| Checksum::PseudoHeader {
                src: s.into(),
                dst: d.into()
            }),
            Just(Checksum::NoPseudoHeader),
        ]
        .boxed(),
        Family::V6 => (v6(), v6())
            .prop_map(|(s, d)| Checksum::PseudoHeader {
                src: s.into(),
                dst: d.into(),
            })
            .boxed(),
    }
}

fn vrrp3_case() -> impl Strategy<Value = (vrrp3::Repr, Checksum)> {
    vrrp3_repr().prop_flat_map(|r| {
        let ck = vrrp3_checksum(r.addresses.family());
        (Just(r), ck)
    })
}

fn vrrp2_auth() -> impl Strategy<Value = vrrp2::Auth> {
    prop_oneof![
        Just(vrrp2::Auth::None),
        any::<[u8; 8]>().prop_map(vrrp2::Auth::SimpleText),
        prop::collection::vec(any::<u8>(), 0..12).prop_map(|p| vrrp2::Auth::simple_text(&p)),
        Just(vrrp2::Auth::IpAh),
    ]
}

fn vrrp2_repr() -> impl Strategy<Value = vrrp2::Repr> {
    (
        vrid(),
        any::<u8>(),
        1u8..=255,
        vrrp2_auth(),
        prop::collection::vec(v4(), 1..=12),
    )
        .prop_map(|(vrid, p, int, auth, addresses)| vrrp2::Repr {
            vrid,
            priority: Priority(p),
            adver_int: Seconds(int),
            auth,
            addresses,
        })
}

fn carp_repr() -> impl Strategy<Value = carp::Repr> {
    (vrid(), any::<u8>(), any::<u8>(), any::<u8>(), any::<u64>())
        .prop_filter("advbase and advskew both 0", |(_, skew, base, _, _)| {
            *skew != 0 || *base != 0
        })
        .prop_map(|(vhid, advskew, advbase, demotion, counter)| carp::Repr {
            vhid,
            advskew,
            advbase,
            demotion,
            counter,
        })
}

/// A CARP message with the key it was made with, from an arbitrary
/// password and address set (of both families).
fn carp_case() -> impl Strategy<Value = (carp::Repr, carp::Key)> {
    (
        carp_repr(),
        prop::collection::vec(any::<u8>(), 0..80),
        prop::collection::vec(
            prop_oneof![v4().prop_map(IpAddr::V4), v6().prop_map(IpAddr::V6)],
            0..6,
        ),
    )
        .prop_map(|(r, password, addresses)| {
            let key = carp::Key::new(&password, r.vhid, &addresses);
            (r, key)
        })
}

// ------------------------------------------------------------------ helpers

fn emit3(r: &vrrp3::Repr, ck: Checksum) -> Vec<u8> {
    let mut out = BytesMut::new();
    r.emit(&mut out, ck).expect("a generated Repr is sendable");
    out.to_vec()
}

fn emit2(r: &vrrp2::Repr) -> Vec<u8> {
    let mut out = BytesMut::new();
    r.emit(&mut out, Checksum::NoPseudoHeader)
        .expect("a generated Repr is sendable");
    out.to_vec()
}

fn emit_carp(r: &carp::Repr, key: &carp::Key) -> Vec<u8> {
    let mut out = BytesMut::new();
    r.emit(&mut out, key, Checksum::NoPseudoHeader)
        .expect("a generated Repr is sendable");
    out.to_vec()
}

fn family_of(ck: Checksum, fallback: Family) -> Family {
    match ck {
        Checksum::PseudoHeader { src, .. } => Family::of(src),
        _ => fallback,
    }
}

fn flip(bytes: &[u8], bit: usize) -> Vec<u8> {
    let mut b = bytes.to_vec();
    b[bit / 8] ^= 1 << (bit % 8);
    b
}

fn is_truncated<T>(r: Result<T, DecodeError>) -> bool {
    matches!(r, Err(DecodeError::Truncated { .. }))
}

/// Every decoder of the crate on `bytes`; the only claim is that none panics.
fn decode_everything(bytes: &[u8]) {
    let v4 = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    let g4 = IpAddr::V4(frame::GROUP_V4);
    let v6 = IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1));
    let g6 = IpAddr::V6(frame::GROUP_V6);
    for ck in [
        Checksum::Skip,
        Checksum::NoPseudoHeader,
        Checksum::PseudoHeader { src: v4, dst: g4 },
        Checksum::PseudoHeader { src: v6, dst: g6 },
        Checksum::Either { src: v4, dst: g4 },
        Checksum::Either { src: v6, dst: g6 },
        Checksum::PseudoHeader { src: v4, dst: g6 },
    ] {
        if let Ok(p) = vrrp3::Packet::new_checked(bytes) {
            let _ = (p.vrid(), p.priority(), p.count(), p.reserved());
            let _ = (p.max_adver_int(), p.checksum(), p.addresses().count());
            let _ = p.checksum_mode(v4, g4);
            let _ = vrrp3::Repr::parse(&p, ck);
        }
        let _ = vrrp3::Packet::new_checked_family(bytes, Family::V6);
        let _ = vrrp3::Repr::decode(bytes, ck);
        let _ = vrrp2::Repr::decode(bytes, ck);
        let _ = carp::Repr::decode(bytes, ck, None);
    }
    if let Ok(p) = vrrp2::Packet::new_checked(bytes) {
        let _ = (
            p.auth_type(),
            p.adver_int(),
            p.addresses().count(),
            p.auth_data(),
        );
    }
    if let Ok(p) = carp::Packet::new_checked(bytes) {
        let key = carp::Key::new(b"pw", p.vhid(), &[v4, v6]);
        let _ = (p.interval(), p.counter(), p.hmac(), p.verify_hmac(&key));
    }
    for family in [None, Some(Family::V4), Some(Family::V6)] {
        let _ = classify(bytes, family);
    }
    for found in [
        frame::parse_ethernet(bytes),
        frame::parse_ip(bytes),
        frame::parse_linux_sll(bytes),
        frame::parse_linux_sll2(bytes),
    ]
    .into_iter()
    .flatten()
    {
        if let Some(ah) = found.ah {
            let _ = ah.verify(found.message, b"pw");
        }
        decode_everything_once(found.message);
    }
}

/// The format decoders alone (no frame parsing, so no recursion).
fn decode_everything_once(bytes: &[u8]) {
    let _ = vrrp3::Repr::decode(bytes, Checksum::NoPseudoHeader);
    let _ = vrrp2::Repr::decode(bytes, Checksum::NoPseudoHeader);
    let _ = carp::Repr::decode(bytes, Checksum::NoPseudoHeader, None);
}

// -------------------------------------------------------------- round trips

proptest! {
    #[test]
    fn vrrp3_parse_of_emit_is_identity((r, ck) in vrrp3_case()) {
        let bytes = emit3(&r, ck);
        prop_assert_eq!(bytes.len(), r.buffer_len());
        let p = vrrp3::Packet::new_checked(&bytes[..]).unwrap();
        prop_assert_eq!(p.family(), r.addresses.family());
        prop_assert!(p.verify_checksum(ck).is_ok());
        prop_assert_eq!(vrrp3::Repr::parse(&p, ck).unwrap(), r.clone());
        // A receiver that knows the carrier's family agrees.
        let p = vrrp3::Packet::new_checked_family(&bytes[..], family_of(ck, Family::V4)).unwrap();
        prop_assert_eq!(vrrp3::Repr::parse(&p, Checksum::Skip).unwrap(), r.clone());
        // Automatic mode accepts both coverages.
        if let Checksum::PseudoHeader { src, dst } = ck {
            prop_assert_eq!(vrrp3::Repr::parse(&p, Checksum::Either { src, dst }).unwrap(), r);
        }
    }

    #[test]
    fn vrrp2_parse_of_emit_is_identity(r in vrrp2_repr()) {
        let bytes = emit2(&r);
        prop_assert_eq!(bytes.len(), r.buffer_len());
        let p = vrrp2::Packet::new_checked(&bytes[..]).unwrap();
        prop_assert!(p.verify_checksum(Checksum::NoPseudoHeader).is_ok());
        prop_assert_eq!(p.auth_type(), r.auth.auth_type());
        prop_assert_eq!(vrrp2::Repr::parse(&p, Checksum::NoPseudoHeader).unwrap(), r);
    }

    #[test]
    fn carp_parse_of_emit_is_identity((r, key) in carp_case()) {
        let bytes = emit_carp(&r, &key);
        prop_assert_eq!(bytes.len(), carp::LEN);
        let p = carp::Packet::new_checked(&bytes[..]).unwrap();
        prop_assert!(p.verify_checksum(Checksum::NoPseudoHeader).is_ok());
        prop_assert!(p.verify_hmac(&key).is_ok());
        prop_assert_eq!(carp::Repr::parse(&p, Checksum::NoPseudoHeader, Some(&key)).unwrap(), r);
        // Re-emitting with the received HMAC gives the same bytes.
        let mut again = BytesMut::new();
        r.emit_with_hmac(&mut again, p.hmac(), Checksum::NoPseudoHeader).unwrap();
        prop_assert_eq!(&again[..], &bytes[..]);
    }
}

// ---------------------------------------------------- arbitrary bytes, frames

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..128)) {
        decode_everything(&bytes);
    }

    /// Arbitrary bytes behind a plausible header reach deeper than random
    /// bytes do: a protocol-112 IP header, then anything.
    #[test]
    fn arbitrary_payloads_in_ip_packets_never_panic(
        payload in prop::collection::vec(any::<u8>(), 0..96),
        v6 in any::<bool>(),
        head in any::<u8>(),
        cut in 0usize..8,
    ) {
        let mut ip = if v6 {
            frame::ipv6_packet(Ipv6Addr::LOCALHOST, frame::GROUP_V6, 255, &payload)
        } else {
            frame::ipv4_packet(Ipv4Addr::new(192, 0, 2, 1), frame::GROUP_V4, 255, &payload)
        };
        // Damage the header a little: a byte of it, and the tail.
        let i = usize::from(head) % ip.len().min(40);
        ip[i] ^= head;
        ip.truncate(ip.len().saturating_sub(cut));
        let eth = frame::ethernet_frame([2, 0, 0, 0, 0, 1], [1, 0, 0x5e, 0, 0, 0x12], &ip);
        decode_everything(&ip);
        decode_everything(&eth);
    }

    #[test]
    fn messages_in_frames_are_found((r, ck) in vrrp3_case(), ttl in any::<u8>()) {
        let (src, dst) = match ck {
            Checksum::PseudoHeader { src, dst } => (src, dst),
            _ => (IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), IpAddr::V4(frame::GROUP_V4)),
        };
        let msg = emit3(&r, ck);
        let ip = frame::ip_packet(src, dst, ttl, &msg).unwrap();
        let eth = frame::ethernet_frame([2, 0, 0, 0, 0, 1], [1, 0, 0x5e, 0, 0, 0x12], &ip);
        for found in [frame::parse_ip(&ip).unwrap(), frame::parse_ethernet(&eth).unwrap()] {
            prop_assert_eq!(found.kind, Kind::Vrrp3);
            prop_assert_eq!(found.message, &msg[..]);
            prop_assert_eq!(found.ip.src, src);
            prop_assert_eq!(found.ip.dst, dst);
            prop_assert_eq!(found.ip.ttl, ttl);
            let p = vrrp3::Packet::new_checked_family(found.message, found.ip.family()).unwrap();
            prop_assert_eq!(vrrp3::Repr::parse(&p, ck).unwrap(), r.clone());
        }
    }
}

// ----------------------------------------------------------------- prefixes

proptest! {
    #[test]
    fn vrrp3_prefixes_are_truncated((r, ck) in vrrp3_case()) {
        let bytes = emit3(&r, ck);
        let family = r.addresses.family();
        let count = r.addresses.len();
        for n in 0..bytes.len() {
            let prefix = &bytes[..n];
            let got = vrrp3::Packet::new_checked_family(prefix, family);
            // A prefix of an IPv6 message exactly as long as `count` IPv4
            // addresses is a whole IPv4 message, on the wrong carrier.
            let whole_v4 = family == Family::V6 && n == vrrp3::HEADER_LEN + 4 * count;
            if whole_v4 {
                prop_assert_eq!(
                    got.err(),
                    Some(DecodeError::FamilyMismatch { message: Family::V4, carrier: Family::V6 })
                );
            } else {
                prop_assert!(is_truncated(got.clone()), "prefix {} of {}: {:?}", n, bytes.len(), got);
            }
            // Without the carrier's family, an IPv6 message cut short may
            // read as IPv4 or as a count mismatch; IPv4 prefixes are all
            // truncated.
            if family == Family::V4 {
                prop_assert!(is_truncated(vrrp3::Packet::new_checked(prefix)), "prefix {}", n);
            }
        }
    }

    #[test]
    fn vrrp2_prefixes_are_truncated(r in vrrp2_repr()) {
        let bytes = emit2(&r);
        for n in 0..bytes.len() {
            prop_assert!(is_truncated(vrrp2::Packet::new_checked(&bytes[..n])), "prefix {}", n);
        }
    }

    #[test]
    fn carp_prefixes_are_truncated((r, key) in carp_case()) {
        let bytes = emit_carp(&r, &key);
        for n in 0..bytes.len() {
            prop_assert!(is_truncated(carp::Packet::new_checked(&bytes[..n])), "prefix {}", n);
        }
    }
}

// ---------------------------------------------------------------- bit flips

proptest! {
    /// A flipped bit is caught by the layout check or the checksum, or it
    /// changes the message: never the same advertisement, silently accepted.
    #[test]
    fn vrrp3_single_bit_flips_never_pass_unnoticed((r, ck) in vrrp3_case()) {
        let bytes = emit3(&r, ck);
        let family = family_of(ck, Family::V4);
        for bit in 0..bytes.len() * 8 {
            let b = flip(&bytes, bit);
            if let Ok(p) = vrrp3::Packet::new_checked(&b[..]) {
                if let Ok(got) = vrrp3::Repr::parse(&p, ck) {
                    prop_assert_ne!(got, r.clone(), "bit {} flipped, same Repr accepted", bit);
                }
                if let Ok(p) = vrrp3::Packet::new_checked_family(&b[..], family) {
                    prop_assert!(p.verify_checksum(ck).is_err(), "bit {} flipped, checksum verifies", bit);
                }
            }
        }
    }

    #[test]
    fn vrrp2_single_bit_flips_never_pass_unnoticed(r in vrrp2_repr()) {
        let bytes = emit2(&r);
        for bit in 0..bytes.len() * 8 {
            let b = flip(&bytes, bit);
            if let Ok(p) = vrrp2::Packet::new_checked(&b[..]) {
                prop_assert!(
                    matches!(p.verify_checksum(Checksum::NoPseudoHeader), Err(DecodeError::BadChecksum { .. })),
                    "bit {} flipped, checksum verifies", bit
                );
                if let Ok(got) = vrrp2::Repr::parse(&p, Checksum::NoPseudoHeader) {
                    prop_assert_ne!(got, r.clone());
                }
            }
        }
    }

    #[test]
    fn carp_single_bit_flips_never_pass_unnoticed((r, key) in carp_case()) {
        let bytes = emit_carp(&r, &key);
        for bit in 0..bytes.len() * 8 {
            let b = flip(&bytes, bit);
            if let Ok(p) = carp::Packet::new_checked(&b[..]) {
                prop_assert!(
                    matches!(p.verify_checksum(Checksum::NoPseudoHeader), Err(DecodeError::BadChecksum { .. })),
                    "bit {} flipped, checksum verifies", bit
                );
                // The HMAC covers the vhid and the counter, so a flip there
                // fails it even where the checksum is skipped. (Flips in
                // advskew, advbase and demotion are the checksum's job.)
                let covered = (8..36).contains(&(bit / 8)) || bit / 8 == 1;
                if covered {
                    prop_assert!(
                        carp::Repr::parse(&p, Checksum::Skip, Some(&key)).is_err(),
                        "bit {} flipped, HMAC verifies", bit
                    );
                }
            }
        }
    }
}

// ----------------------------------------------------------- classification

proptest! {
    #[test]
    fn classify_tells_every_emitted_message((r3, ck) in vrrp3_case(), r2 in vrrp2_repr(), (rc, key) in carp_case()) {
        let m3 = emit3(&r3, ck);
        let m2 = emit2(&r2);
        let mc = emit_carp(&rc, &key);
        prop_assert_eq!(classify(&m3, None), Ok(Kind::Vrrp3));
        prop_assert_eq!(classify(&m3, Some(r3.addresses.family())), Ok(Kind::Vrrp3));
        prop_assert_eq!(classify(&m2, None), Ok(Kind::Vrrp2));
        prop_assert_eq!(classify(&m2, Some(Family::V4)), Ok(Kind::Vrrp2));
        for family in [None, Some(Family::V4), Some(Family::V6)] {
            prop_assert_eq!(classify(&mc, family), Ok(Kind::Carp));
        }
    }

    /// What the CARP decoder accepts, `classify` never calls VRRP; what a
    /// VRRP decoder accepts over IPv4, `classify` calls that VRRP.
    #[test]
    fn classify_agrees_with_the_decoders(mut bytes in prop::collection::vec(any::<u8>(), 36), head in 0x20u8..0x40) {
        bytes[0] = head;
        if carp::Packet::new_checked(&bytes[..]).is_ok() {
            for family in [None, Some(Family::V4), Some(Family::V6)] {
                prop_assert_eq!(classify(&bytes, family), Ok(Kind::Carp));
            }
        }
        bytes[3] = 5;
        if vrrp2::Packet::new_checked(&bytes[..]).is_ok() {
            prop_assert_eq!(classify(&bytes, Some(Family::V4)), Ok(Kind::Vrrp2));
        }
        bytes[3] = 7;
        if carp::Packet::new_checked(&bytes[..]).is_ok() {
            prop_assert_eq!(classify(&bytes, Some(Family::V4)), Ok(Kind::Carp));
        }
    }
}
