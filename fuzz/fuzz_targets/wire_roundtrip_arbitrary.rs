//! The `arbitrary` feature's generators: every `Repr` they make emits, and
//! parses back equal under the checksum coverage (and, for CARP, the key)
//! it was emitted with; `classify` names its format; inside an IP packet
//! and an Ethernet frame it is found again.
#![no_main]

use core::net::IpAddr;

use arbitrary::Arbitrary;
use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use tandem_wire::{carp, classify, frame, vrrp2, vrrp3, Checksum, Family, Kind};

#[derive(Debug, Arbitrary)]
enum Input {
    Vrrp3 {
        repr: vrrp3::Repr,
        mode: u8,
        src: [u8; 16],
        dst: [u8; 16],
    },
    Vrrp2 {
        repr: vrrp2::Repr,
        skip: bool,
    },
    Carp {
        repr: carp::Repr,
        password: Vec<u8>,
        addresses: Vec<IpAddr>,
        lladdr: Option<[u8; 6]>,
        v6: bool,
    },
}

fn addrs(family: Family, src: [u8; 16], dst: [u8; 16]) -> (IpAddr, IpAddr) {
    match family {
        Family::V4 => (
            IpAddr::from([src[0], src[1], src[2], src[3]]),
            IpAddr::from([dst[0], dst[1], dst[2], dst[3]]),
        ),
        Family::V6 => (IpAddr::from(src), IpAddr::from(dst)),
    }
}

/// Finds `msg` again in an IP packet and an Ethernet frame from `src` to `dst`.
fn in_frames(msg: &[u8], kind: Kind, src: IpAddr, dst: IpAddr) {
    let ip = frame::ip_packet(src, dst, 255, msg).expect("one family");
    let eth = frame::ethernet_frame([2, 0, 0, 0, 0, 1], [1, 0, 0x5e, 0, 0, 0x12], &ip);
    for found in [frame::parse_ip(&ip), frame::parse_ethernet(&eth)] {
        let found = found.expect("a built packet parses");
        assert_eq!(found.message, msg);
        assert_eq!(found.kind, kind);
        assert_eq!((found.ip.src, found.ip.dst, found.ip.ttl), (src, dst, 255));
    }
}

fuzz_target!(|input: Input| {
    let mut out = BytesMut::new();
    match input {
        Input::Vrrp3 {
            repr,
            mode,
            src,
            dst,
        } => {
            let family = repr.addresses.family();
            let (s, d) = addrs(family, src, dst);
            let ck = match mode % 4 {
                0 => Checksum::Skip,
                1 => Checksum::NoPseudoHeader,
                2 => Checksum::PseudoHeader { src: s, dst: d },
                _ => Checksum::Either { src: s, dst: d },
            };
            repr.emit(&mut out, ck).expect("a generated Repr emits");
            assert_eq!(out.len(), repr.buffer_len());
            let p = vrrp3::Packet::new_checked_family(&out[..], family).expect("emitted is valid");
            assert_eq!(vrrp3::Repr::parse(&p, ck).unwrap(), repr);
            assert_eq!(classify(&out, None), Ok(Kind::Vrrp3));
            in_frames(&out, Kind::Vrrp3, s, d);
        }
        Input::Vrrp2 { repr, skip } => {
            let ck = if skip {
                Checksum::Skip
            } else {
                Checksum::NoPseudoHeader
            };
            repr.emit(&mut out, ck).expect("a generated Repr emits");
            assert_eq!(out.len(), repr.buffer_len());
            let p = vrrp2::Packet::new_checked(&out[..]).expect("emitted is valid");
            assert_eq!(vrrp2::Repr::parse(&p, ck).unwrap(), repr);
            assert_eq!(classify(&out, Some(Family::V4)), Ok(Kind::Vrrp2));
            let (s, d) = addrs(
                Family::V4,
                [192, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                [224, 0, 0, 18, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            );
            in_frames(&out, Kind::Vrrp2, s, d);
        }
        Input::Carp {
            repr,
            password,
            addresses,
            lladdr,
            v6,
        } => {
            let key = match lladdr {
                Some(ll) => carp::Key::with_lladdr(&password, repr.vhid, &addresses, ll),
                None => carp::Key::new(&password, repr.vhid, &addresses),
            };
            repr.emit(&mut out, &key, Checksum::NoPseudoHeader)
                .expect("a generated Repr emits");
            assert_eq!(out.len(), carp::LEN);
            let p = carp::Packet::new_checked(&out[..]).expect("emitted is valid");
            assert_eq!(
                carp::Repr::parse(&p, Checksum::NoPseudoHeader, Some(&key)).unwrap(),
                repr
            );
            for f in [None, Some(Family::V4), Some(Family::V6)] {
                assert_eq!(classify(&out, f), Ok(Kind::Carp));
            }
            let family = if v6 { Family::V6 } else { Family::V4 };
            let (s, d) = addrs(family, [0xfe; 16], [0xff; 16]);
            in_frames(&out, Kind::Carp, s, d);
        }
    }
});
