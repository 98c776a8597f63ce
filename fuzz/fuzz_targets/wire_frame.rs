//! Frames and IP packets: `parse_ethernet`, `parse_linux_sll`,
//! `parse_linux_sll2` and `parse_ip` on the same input never panic. What
//! they find is a slice of the input, classified as `classify` would over
//! the packet's family, and decodes (or not) without a panic; rebuilt into
//! a fresh IP packet and Ethernet frame, it is found again unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_wire::frame::{self, Found};
use tandem_wire::{carp, classify, vrrp2, vrrp3, Checksum, Kind};

fn check(data: &[u8], found: &Found<'_>) {
    let range = data.as_ptr_range();
    let m = found.message.as_ptr_range();
    assert!(
        range.start <= m.start && m.end <= range.end,
        "message outside the input"
    );
    let family = found.ip.family();
    assert_eq!(classify(found.message, Some(family)), Ok(found.kind));
    let (src, dst) = (found.ip.src, found.ip.dst);
    match found.kind {
        Kind::Vrrp3 => {
            if let Ok(p) = vrrp3::Packet::new_checked_family(found.message, family) {
                let _ = vrrp3::Repr::parse(&p, Checksum::Either { src, dst });
                vrrp3::Repr::parse(&p, Checksum::Skip).expect("Skip accepts a checked packet");
            }
        }
        Kind::Vrrp2 => {
            if let Ok(p) = vrrp2::Packet::new_checked(found.message) {
                let _ = vrrp2::Repr::parse(&p, Checksum::NoPseudoHeader);
            }
        }
        Kind::Carp => {
            if let Ok(p) = carp::Packet::new_checked(found.message) {
                let _ = carp::Repr::parse(&p, Checksum::NoPseudoHeader, None);
            }
        }
    }
    if let Some(ah) = found.ah {
        let _ = ah.verify(found.message, b"pw");
    }
    if found.message.len() > 60_000 {
        return;
    }
    let ip = frame::ip_packet(src, dst, found.ip.ttl, found.message).expect("one family");
    let again = frame::parse_ip(&ip).expect("a rebuilt packet parses");
    assert_eq!(again.ip, found.ip);
    assert_eq!(again.kind, found.kind);
    assert_eq!(again.message, found.message);
    let (esrc, edst) = found
        .ethernet
        .unwrap_or(([2, 0, 0, 0, 0, 1], [1, 0, 0x5e, 0, 0, 0x12]));
    let eth = frame::ethernet_frame(esrc, edst, &ip);
    let again = frame::parse_ethernet(&eth).expect("a rebuilt frame parses");
    assert_eq!(again.ethernet, Some((esrc, edst)));
    assert_eq!(again.message, found.message);
}

fuzz_target!(|data: &[u8]| {
    for found in [
        frame::parse_ethernet(data),
        frame::parse_linux_sll(data),
        frame::parse_linux_sll2(data),
        frame::parse_ip(data),
    ]
    .iter()
    .flatten()
    {
        check(data, found);
    }
});
