//! VRRPv3: whatever `new_checked` accepts parses with `Checksum::Skip`, and
//! re-emitting the `Repr` gives the input back, except the reserved nibble
//! (zero on send, ignored on receipt, RFC 9568 section 5.2.6) and the
//! checksum (`Skip` writes 0). When the input's checksum verifies, emitting
//! with that coverage reproduces it byte for byte.
#![no_main]

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use tandem_wire::{vrrp3, Checksum, Family};

const SRC4: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
const DST4: IpAddr = IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18));
const SRC6: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1));
const DST6: IpAddr = IpAddr::V6(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12));

fuzz_target!(|data: &[u8]| {
    let _ = vrrp3::Packet::new_checked_family(data, Family::V4);
    let _ = vrrp3::Packet::new_checked_family(data, Family::V6);
    let Ok(p) = vrrp3::Packet::new_checked(data) else {
        return;
    };
    let (src, dst) = match p.family() {
        Family::V4 => (SRC4, DST4),
        Family::V6 => (SRC6, DST6),
    };
    assert_eq!(usize::from(p.count()), p.addresses().count());
    let _ = (p.vrid(), p.priority(), p.max_adver_int(), p.checksum());
    let _ = p.checksum_mode(src, dst);
    let _ = p.checksum_mode(SRC4, IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)));
    let _ = p.verify_checksum(Checksum::Either {
        src: SRC6,
        dst: DST6,
    });
    // No pseudo-header exists for mixed families: nothing verifies.
    assert!(p
        .verify_checksum(Checksum::PseudoHeader {
            src: SRC4,
            dst: DST6
        })
        .is_err());
    assert!(p
        .verify_checksum(Checksum::Either {
            src: SRC6,
            dst: DST4
        })
        .is_err());

    let r = vrrp3::Repr::parse(&p, Checksum::Skip).expect("Skip accepts a checked packet");
    let mut out = BytesMut::new();
    r.emit(&mut out, Checksum::Skip)
        .expect("a parsed Repr emits");
    assert_eq!(out.len(), r.buffer_len());
    let mut want = data.to_vec();
    want[4] &= 0x0f;
    want[6..8].fill(0);
    assert_eq!(&out[..], &want[..]);
    let again =
        vrrp3::Packet::new_checked_family(&out[..], p.family()).expect("re-emitted is valid");
    assert_eq!(vrrp3::Repr::parse(&again, Checksum::Skip).unwrap(), r);

    if p.reserved() == 0 {
        for ck in [
            Checksum::NoPseudoHeader,
            Checksum::PseudoHeader { src, dst },
        ] {
            if p.verify_checksum(ck).is_ok() {
                assert_eq!(vrrp3::Repr::parse(&p, ck).unwrap(), r);
                let mut exact = BytesMut::new();
                r.emit(&mut exact, ck).unwrap();
                assert_eq!(&exact[..], data);
            }
        }
    }
});
