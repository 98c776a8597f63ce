//! VRRPv2: whatever `new_checked` accepts parses with `Checksum::Skip`, and
//! re-emitting the `Repr` gives the input back, except the checksum (`Skip`
//! writes 0) and, for auth types 0 and 2, the authentication data (zero on
//! send, ignored on receipt). When the checksum verifies and nothing
//! ignored was set, emitting reproduces the input byte for byte.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use tandem_wire::{vrrp2, Checksum};

fuzz_target!(|data: &[u8]| {
    let Ok(p) = vrrp2::Packet::new_checked(data) else {
        return;
    };
    assert_eq!(usize::from(p.count()), p.addresses().count());
    let _ = (p.vrid(), p.priority(), p.adver_int(), p.auth_data());

    let r = vrrp2::Repr::parse(&p, Checksum::Skip).expect("Skip accepts a checked packet");
    assert_eq!(r.auth.auth_type(), p.auth_type());
    let mut out = BytesMut::new();
    r.emit(&mut out, Checksum::Skip)
        .expect("a parsed Repr emits");
    assert_eq!(out.len(), r.buffer_len());
    let mut want = data.to_vec();
    want[6..8].fill(0);
    let auth = want.len() - vrrp2::AUTH_DATA_LEN;
    if !matches!(r.auth, vrrp2::Auth::SimpleText(_)) {
        want[auth..].fill(0);
    }
    assert_eq!(&out[..], &want[..]);
    let again = vrrp2::Packet::new_checked(&out[..]).expect("re-emitted is valid");
    assert_eq!(vrrp2::Repr::parse(&again, Checksum::Skip).unwrap(), r);

    if p.verify_checksum(Checksum::NoPseudoHeader).is_ok() {
        let r2 = vrrp2::Repr::parse(&p, Checksum::NoPseudoHeader).unwrap();
        assert_eq!(r2, r);
        if want[auth..] == data[auth..] {
            let mut exact = BytesMut::new();
            r.emit(&mut exact, Checksum::NoPseudoHeader).unwrap();
            assert_eq!(&exact[..], data);
        }
    }
});
