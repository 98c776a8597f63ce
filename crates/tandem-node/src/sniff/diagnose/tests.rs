//! Unit tests of the diagnosis: synthetic adverts at chosen times, and the
//! findings that must (and must not) come out.

use std::borrow::Cow;

use tandem_wire::build::Advert as Build;
use tandem_wire::DecodeError;

use super::*;
use crate::capture::{Frame, LinkType};
use crate::decode::{decode_frame, Options};

const A: &str = "192.0.2.1";
const B: &str = "192.0.2.2";
const VIP: &str = "192.0.2.100";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn ms(t: u64) -> Instant {
    Instant::from_millis(t)
}

/// A good VRRPv3 advert, interval 1 s, for `VIP`.
fn v3(src: &str, vrid: u8, prio: u8) -> ObservedAdvert {
    ObservedAdvert {
        family: Family::V4,
        vrid,
        proto: Kind::Vrrp3,
        src: ip(src),
        mac: Some([0, 0, 0x5e, 0, 1, vrid]),
        ttl: 255,
        priority: Some(prio),
        carp: None,
        interval_cs: 100,
        addresses: vec![ip(VIP)],
        checksum_ok: true,
        checksum_mode: Some(ChecksumMode::PseudoHeader),
        auth_ok: None,
        vrrp2_auth: None,
    }
}

fn v2(src: &str, vrid: u8, password: &[u8]) -> ObservedAdvert {
    let mut data = [0u8; 8];
    data[..password.len()].copy_from_slice(password);
    ObservedAdvert {
        proto: Kind::Vrrp2,
        checksum_mode: None,
        vrrp2_auth: Some((1, data)),
        ..v3(src, vrid, 100)
    }
}

fn carp(src: &str, vhid: u8, hmac_ok: Option<bool>) -> ObservedAdvert {
    ObservedAdvert {
        proto: Kind::Carp,
        priority: None,
        carp: Some(CarpFields {
            advbase: 1,
            advskew: 0,
            demotion: 0,
        }),
        addresses: vec![],
        checksum_mode: None,
        auth_ok: hmac_ok,
        ..v3(src, vhid, 0)
    }
}

/// Every finding queued up to `now`.
fn drain(d: &mut Diagnosis, now: Instant) -> Vec<Finding> {
    std::iter::from_fn(|| d.poll(now)).collect()
}

fn kinds(f: &[Finding]) -> Vec<&'static str> {
    f.iter().map(|f| f.kind.name()).collect()
}

/// Feeds `advert` every `every_ms` from `from` to `to` (inclusive),
/// polling after each; the findings.
fn feed(
    d: &mut Diagnosis,
    advert: &ObservedAdvert,
    from: u64,
    to: u64,
    every_ms: u64,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut t = from;
    while t <= to {
        d.observe(ms(t), advert);
        out.extend(drain(d, ms(t)));
        t += every_ms;
    }
    out
}

/// Two speakers interleaved: `a` at from, from+every, ..., `b` half an
/// interval later.
fn feed_two(
    d: &mut Diagnosis,
    a: &ObservedAdvert,
    b: &ObservedAdvert,
    from: u64,
    to: u64,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut t = from;
    while t <= to {
        d.observe(ms(t), a);
        out.extend(drain(d, ms(t)));
        d.observe(ms(t + 500), b);
        out.extend(drain(d, ms(t + 500)));
        t += 1000;
    }
    out
}

#[test]
fn a_clean_router_and_its_handover_give_no_finding() {
    let mut d = Diagnosis::new("eth0");
    // A is Active for 10 s.
    let mut f = feed(&mut d, &v3(A, 51, 200), 0, 10_000, 1000);
    // A resigns (priority 0); B takes over after its skew and stays.
    d.observe(ms(10_500), &v3(A, 51, 0));
    f.extend(drain(&mut d, ms(10_500)));
    f.extend(feed(&mut d, &v3(B, 51, 100), 11_100, 20_000, 1000));
    f.extend(drain(&mut d, ms(20_500)));
    assert!(f.is_empty(), "{f:#?}");
    let s = d.summary(ms(20_500));
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].active, Some(ip(B)));
    assert_eq!(s[0].priority, Some(100));
    assert_eq!(s[0].addresses, vec![ip(VIP)]);
    assert!(!s[0].split_brain && !s[0].silent);
}

#[test]
fn preemption_overlap_is_not_split_brain() {
    let mut d = Diagnosis::new("eth0");
    let mut f = feed(&mut d, &v3(A, 51, 100), 0, 5000, 1000);
    // B (higher priority) preempts at 5.5 s; A sends one more advert
    // before it hears B and falls back.
    d.observe(ms(5500), &v3(B, 51, 200));
    d.observe(ms(6000), &v3(A, 51, 100));
    f.extend(drain(&mut d, ms(6000)));
    f.extend(feed(&mut d, &v3(B, 51, 200), 6500, 15_500, 1000));
    assert!(f.is_empty(), "{f:#?}");
}

#[test]
fn two_sources_sending_for_more_than_an_interval_is_split_brain_once() {
    let mut d = Diagnosis::new("eth0");
    let f = feed_two(&mut d, &v3(A, 51, 200), &v3(B, 51, 100), 0, 10_000);
    assert_eq!(kinds(&f), ["split_brain"], "{f:#?}");
    // Found within two intervals, not at the first overlapping advert.
    assert!(f[0].at > ms(1000) && f[0].at <= ms(2500), "{:?}", f[0].at);
    assert_eq!(f[0].sources, vec![ip(A), ip(B)]);
    assert!(f[0]
        .message
        .contains("192.0.2.1 and 192.0.2.2 both send adverts"));
    assert!(d.summary(ms(10_500))[0].split_brain);
    // B stops: cleared within two intervals and a bit, not before.
    let mut f = feed(&mut d, &v3(A, 51, 200), 11_000, 12_000, 1000);
    assert!(f.is_empty(), "{f:#?}");
    f.extend(feed(&mut d, &v3(A, 51, 200), 13_000, 14_000, 1000));
    assert_eq!(kinds(&f), ["split_brain_cleared"], "{f:#?}");
    assert!(f[0].message.contains("only 192.0.2.1"), "{}", f[0].message);
}

#[test]
fn a_resigning_backup_is_not_part_of_a_split_brain() {
    let mut d = Diagnosis::new("eth0");
    // B only ever sends priority 0 (a node shutting down, repeated).
    let f = feed_two(&mut d, &v3(A, 51, 200), &v3(B, 51, 0), 0, 5000);
    assert!(f.is_empty(), "{f:#?}");
}

#[test]
fn bad_ttl_is_reported_once_per_source_and_ttl_255_never() {
    let mut d = Diagnosis::new("eth0");
    let good = v3(A, 51, 200);
    assert!(feed(&mut d, &good, 0, 3000, 1000).is_empty());
    let bad = ObservedAdvert {
        ttl: 64,
        ..v3(B, 52, 100)
    };
    let f = feed(&mut d, &bad, 0, 5000, 1000);
    assert_eq!(kinds(&f), ["bad_ttl"]);
    assert!(f[0].message.contains("TTL 64"), "{}", f[0].message);
    assert_eq!(f[0].vrid, Some(52));
    let v6 = ObservedAdvert {
        family: Family::V6,
        src: ip("fd00::2"),
        ttl: 1,
        ..v3(B, 52, 100)
    };
    let f = feed(&mut d, &v6, 0, 2000, 1000);
    assert_eq!(kinds(&f), ["bad_ttl"]);
    assert!(f[0].message.contains("hop limit 1"), "{}", f[0].message);
}

#[test]
fn different_address_sets_are_a_duplicate_vrid() {
    let mut d = Diagnosis::new("eth0");
    let other = ObservedAdvert {
        addresses: vec![ip("192.0.2.200")],
        ..v3(B, 51, 100)
    };
    // B at 10 s and 11 s only: a short appearance, then it goes away.
    let mut f = feed(&mut d, &v3(A, 51, 200), 0, 9000, 1000);
    d.observe(ms(9500), &other);
    f.extend(drain(&mut d, ms(9500)));
    assert_eq!(kinds(&f), ["duplicate_vrid"], "{f:#?}");
    assert!(f[0].message.contains("192.0.2.200"), "{}", f[0].message);
    // Reported once; cleared when B has been quiet for its down interval.
    let f = feed(&mut d, &v3(A, 51, 200), 10_000, 16_000, 1000);
    assert_eq!(kinds(&f), ["duplicate_vrid_cleared"], "{f:#?}");
}

#[test]
fn the_same_addresses_in_another_order_are_no_duplicate() {
    let mut d = Diagnosis::new("eth0");
    let two = |src, a: &str, b: &str| ObservedAdvert {
        addresses: vec![ip(a), ip(b)],
        ..v3(src, 51, 100)
    };
    d.observe(ms(0), &two(A, VIP, "192.0.2.101"));
    d.observe(ms(500), &two(B, "192.0.2.101", VIP));
    assert!(drain(&mut d, ms(500)).is_empty());
}

#[test]
fn failed_authentication_is_an_auth_mismatch_once() {
    let mut d = Diagnosis::new("eth0");
    let f = feed(&mut d, &carp(A, 10, Some(false)), 0, 5000, 1000);
    assert_eq!(kinds(&f), ["carp_seen", "auth_mismatch"], "{f:#?}");
    assert!(f[1].message.contains("HMAC"), "{}", f[1].message);
    let mut d = Diagnosis::new("eth0");
    assert_eq!(
        kinds(&feed(&mut d, &carp(A, 10, Some(true)), 0, 5000, 1000)),
        ["carp_seen"]
    );
}

#[test]
fn vrrp2_passwords_that_differ_between_speakers_are_an_auth_mismatch() {
    let mut d = Diagnosis::new("eth0");
    let f = feed_two(&mut d, &v2(A, 7, b"secret"), &v2(B, 7, b"other"), 0, 1000);
    assert_eq!(kinds(&f), ["auth_mismatch"], "{f:#?}");
    assert!(f[0].message.contains("\"other\""), "{}", f[0].message);
    let mut d = Diagnosis::new("eth0");
    let f = feed(&mut d, &v2(A, 7, b"secret"), 0, 3000, 1000);
    d.observe(ms(3500), &v2(B, 7, b"secret"));
    assert!(f.is_empty() && drain(&mut d, ms(3500)).is_empty());
}

#[test]
fn a_router_that_stops_is_silent_after_three_intervals_and_the_skew() {
    let mut d = Diagnosis::new("eth0");
    assert!(feed(&mut d, &v3(A, 51, 200), 0, 3000, 1000).is_empty());
    // 3 intervals + 1 interval of skew after the last advert at 3 s.
    assert!(drain(&mut d, ms(6900)).is_empty());
    let f = drain(&mut d, ms(7100));
    assert_eq!(kinds(&f), ["silent"]);
    assert!(f[0].message.contains("last Active was 192.0.2.1"));
    let s = d.summary(ms(7100));
    assert!(s[0].silent);
    // The table still names the last Active after it is forgotten.
    assert_eq!((s[0].active, s[0].priority), (Some(ip(A)), Some(200)));
    assert!(s[0].speakers.is_empty());
    // Not repeated while it stays silent.
    assert!(drain(&mut d, ms(60_000)).is_empty());
    d.observe(ms(61_000), &v3(B, 51, 100));
    assert_eq!(kinds(&drain(&mut d, ms(61_000))), ["silent_cleared"]);
    assert_eq!(d.poll_timeout(), Some(ms(65_000)));
}

#[test]
fn vrrp2_and_vrrp3_in_one_vrid_are_mixed_versions() {
    let mut d = Diagnosis::new("eth0");
    d.observe(ms(0), &v3(A, 51, 200));
    d.observe(ms(100), &v2(B, 51, b""));
    let f = drain(&mut d, ms(100));
    assert_eq!(kinds(&f), ["mixed_versions"]);
    assert!(
        f[0].message.contains("VRRPv2 and VRRPv3"),
        "{}",
        f[0].message
    );
    // Another VRID of VRRPv2 alone is fine.
    d.observe(ms(200), &v2(B, 52, b""));
    assert!(drain(&mut d, ms(200)).is_empty());
}

#[test]
fn both_checksum_forms_in_one_vrid_are_mixed_checksums() {
    let mut d = Diagnosis::new("eth0");
    let rfc = ObservedAdvert {
        checksum_mode: Some(ChecksumMode::NoPseudoHeader),
        ..v3(B, 51, 100)
    };
    d.observe(ms(0), &v3(A, 51, 200));
    d.observe(ms(100), &v3(B, 51, 100));
    assert!(drain(&mut d, ms(100)).is_empty());
    d.observe(ms(200), &rfc);
    let f = drain(&mut d, ms(200));
    assert_eq!(kinds(&f), ["mixed_checksums"]);
    assert!(f[0].message.contains("rfc9568"), "{}", f[0].message);
}

#[test]
fn malformed_packets_are_counted_and_reported_at_most_every_ten_seconds() {
    let mut d = Diagnosis::new("eth0");
    let m = Malformed {
        src: Some(ip(A)),
        family: Some(Family::V4),
        error: DecodeError::UnknownVersion(5),
    };
    for t in 0..5 {
        d.observe_malformed(ms(t * 100), &m);
    }
    let f = drain(&mut d, ms(500));
    assert_eq!(kinds(&f), ["malformed"]);
    assert_eq!(f[0].count, 1);
    assert!(f[0].error.is_some());
    assert!(drain(&mut d, ms(9_000)).is_empty());
    let f = drain(&mut d, ms(10_000));
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].count, 4);
    assert!(f[0].message.contains("(5 in all)"), "{}", f[0].message);
    assert_eq!(d.malformed(), 5);
}

#[test]
fn speakers_per_router_are_bounded() {
    let mut d = Diagnosis::new("eth0");
    for i in 0..(MAX_SPEAKERS as u32 + 10) {
        let src = std::net::Ipv4Addr::from(0xc000_0200 + i).to_string();
        d.observe(ms(u64::from(i)), &v3(&src, 51, 0));
    }
    assert_eq!(d.dropped_speakers(), 10);
    assert_eq!(d.summary(ms(100))[0].speakers.len(), MAX_SPEAKERS);
}

#[test]
fn time_going_backwards_counts_as_the_last_time() {
    let mut d = Diagnosis::new("eth0");
    d.observe(ms(10_000), &v3(A, 51, 200));
    d.observe(ms(5_000), &v3(A, 51, 200));
    assert!(drain(&mut d, ms(0)).is_empty());
}

fn observe_frame(f: Vec<u8>, password: Option<&[u8]>) -> Observation {
    let frame = Frame {
        number: 1,
        link_type: LinkType::Ethernet,
        data: Cow::Owned(f),
    };
    let opts = Options {
        password: password.map(<[u8]>::to_vec),
        ..Options::default()
    };
    Observation::of(&decode_frame(&frame, &opts).unwrap(), password)
}

#[test]
fn observations_of_decoded_frames_carry_the_checksum_form_and_password() {
    let vip = ip(VIP);
    let Observation::Advert(a) = observe_frame(Build::vrrp3(51, [vip]).ethernet_frame(), None)
    else {
        panic!("not an advert");
    };
    assert_eq!(a.checksum_mode, Some(ChecksumMode::PseudoHeader));
    assert_eq!((a.vrid, a.ttl, a.priority), (51, 255, Some(100)));
    let Observation::Advert(a) = observe_frame(
        Build::vrrp3(51, [vip]).rfc9568_checksum().ethernet_frame(),
        None,
    ) else {
        panic!("not an advert");
    };
    assert_eq!(a.checksum_mode, Some(ChecksumMode::NoPseudoHeader));
    let pw = Build::vrrp2(7, [vip]).simple_password(b"secret");
    let check = |given: &[u8]| match observe_frame(pw.ethernet_frame(), Some(given)) {
        Observation::Advert(a) => a.auth_ok,
        other => panic!("{other:?}"),
    };
    assert_eq!(check(b"secret"), Some(true));
    assert_eq!(check(b"wrong"), Some(false));
    let mut bad = Build::vrrp3(51, [vip]).ethernet_frame();
    bad[14 + 20] = 0x51;
    assert!(matches!(
        observe_frame(bad, None),
        Observation::Malformed(Malformed {
            error: DecodeError::UnknownVersion(5),
            ..
        })
    ));
}
