//! `classify` never panics, and agrees with the decoders: what the CARP
//! decoder accepts is CARP over either family or none, never VRRP; what the
//! VRRPv2 decoder accepts is VRRPv2 over IPv4; what the VRRPv3 decoder
//! accepts is VRRPv3. No input is both a valid CARP and a valid VRRPv2
//! message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_wire::{carp, classify, vrrp2, vrrp3, Family, Kind};

fuzz_target!(|data: &[u8]| {
    let kinds = [None, Some(Family::V4), Some(Family::V6)].map(|f| classify(data, f));
    let is_carp = carp::Packet::new_checked(data).is_ok();
    let is_v2 = vrrp2::Packet::new_checked(data).is_ok();
    let is_v3 = vrrp3::Packet::new_checked(data).is_ok();
    assert!(!(is_carp && is_v2), "both CARP and VRRPv2: {data:02x?}");
    if is_carp {
        for k in &kinds {
            assert_eq!(k, &Ok(Kind::Carp), "{data:02x?}");
        }
    }
    if is_v2 {
        assert_eq!(kinds[0], Ok(Kind::Vrrp2));
        assert_eq!(kinds[1], Ok(Kind::Vrrp2));
    }
    if is_v3 {
        for k in &kinds {
            assert_eq!(k, &Ok(Kind::Vrrp3));
        }
    }
});
