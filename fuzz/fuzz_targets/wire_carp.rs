//! CARP: whatever `new_checked` accepts parses with `Checksum::Skip`, and
//! re-emitting the `Repr` with the received HMAC gives the input back byte
//! for byte (the checksum field copied over, since `Skip` writes 0); when
//! the checksum verifies, emitting with it gives the input exactly.
#![no_main]

use core::net::{IpAddr, Ipv4Addr};

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use tandem_wire::{carp, Checksum};

fuzz_target!(|data: &[u8]| {
    let Ok(p) = carp::Packet::new_checked(data) else {
        return;
    };
    let _ = (p.interval(), p.authlen(), p.counter());
    let key = carp::Key::new(b"pw", p.vhid(), &[IpAddr::V4(Ipv4Addr::new(192, 0, 2, 9))]);
    let _ = p.verify_hmac(&key);

    let r = carp::Repr::parse(&p, Checksum::Skip, None).expect("Skip accepts a checked packet");
    assert_eq!(r.interval(), p.interval());
    let mut out = BytesMut::new();
    r.emit_with_hmac(&mut out, p.hmac(), Checksum::Skip)
        .expect("a parsed Repr emits");
    assert_eq!(&out[6..8], &[0, 0]);
    out[6..8].copy_from_slice(&data[6..8]);
    assert_eq!(&out[..], data);
    let again = carp::Packet::new_checked(&out[..]).expect("re-emitted is valid");
    assert_eq!(carp::Repr::parse(&again, Checksum::Skip, None).unwrap(), r);

    if p.verify_checksum(Checksum::NoPseudoHeader).is_ok() {
        let mut exact = BytesMut::new();
        r.emit_with_hmac(&mut exact, p.hmac(), Checksum::NoPseudoHeader)
            .unwrap();
        assert_eq!(&exact[..], data);
    }
});
