//! Helpers for the protocol-rule tests: configurations whose only timers are
//! the election's own (no silence report, no announce refresh), hand-built
//! adverts, and a router driven directly, without the simulator.

// Each test file uses a different subset of these helpers.
#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use tandem_election::{
    Action, Advert, Command, Config, Instant, Protocol, Received, VirtualRouter,
};
use tandem_wire::{carp, vrrp2, vrrp3, Centiseconds, ChecksumMode, Priority, Seconds, Vrid};

/// Our VRID / VHID.
pub(crate) const VRID: u8 = 1;
/// The CARP password both sides use.
pub(crate) const PASSWORD: &[u8] = b"tandem";
/// The counter our CARP adverts carry.
pub(crate) const OUR_COUNTER: u64 = 0x0123_4567_89ab_cdef;

/// Our primary address.
pub(crate) const ME: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10));
/// A peer with a higher primary address than ours.
pub(crate) const HIGHER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 20));
/// A peer with a lower primary address than ours.
pub(crate) const LOWER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 5));
/// The virtual address.
pub(crate) const VIP: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100));

/// Our IPv6 link-local primary address.
pub(crate) const ME6: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x10));
/// An IPv6 peer.
pub(crate) const PEER6: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x20));
/// Another IPv6 peer.
pub(crate) const OTHER6: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x30));
/// The IPv6 virtual addresses: link-local first.
pub(crate) const VIP6: [IpAddr; 2] = [
    IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x100)),
    IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x100)),
];

/// The instant `ms` milliseconds after the origin.
pub(crate) fn at(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

/// `n / 256` seconds, exactly.
pub(crate) fn n256(n: u64) -> Duration {
    Duration::from_nanos(n * 1_000_000_000 / 256)
}

/// Our VRID.
pub(crate) fn vrid() -> Vrid {
    Vrid::new(VRID).expect("non-zero")
}

/// A VRRPv3 router: `priority`, `interval_cs`, preempt on, no timers but
/// the election's.
pub(crate) fn vrrp3_config(priority: u8, interval_cs: u16) -> Config {
    let mut c = Config::new(vrid(), ME, vec![VIP]);
    c.protocol = Protocol::vrrp3(Centiseconds(interval_cs));
    c.priority = Priority(priority);
    c.silence_intervals = 0;
    c.announce.refresh_after = None;
    c
}

/// A VRRPv2 router with `interval_s` and `auth`.
pub(crate) fn vrrp2_config(priority: u8, interval_s: u8, auth: vrrp2::Auth) -> Config {
    let mut c = vrrp3_config(priority, 100);
    c.protocol = Protocol::Vrrp2 {
        interval: Seconds(interval_s),
        auth,
    };
    c
}

/// A CARP router with `advbase` and `advskew`, preempt off (OpenBSD's
/// default), our counter.
pub(crate) fn carp_config(advbase: u8, advskew: u8) -> Config {
    let mut c = vrrp3_config(100, 100);
    c.protocol = Protocol::Carp {
        advbase,
        advskew,
        password: PASSWORD.to_vec(),
    };
    c.preempt = false;
    c.carp_counter = OUR_COUNTER;
    c
}

/// A router built from `config` and started at `now`, its start-up actions drained.
pub(crate) fn started(config: Config, now: Instant) -> (VirtualRouter, Vec<Action>) {
    let mut vr = VirtualRouter::new(config, now, &[]).expect("valid config");
    vr.handle_command(now, Command::Start);
    let actions = drain(&mut vr);
    (vr, actions)
}

/// Every queued action, in order.
pub(crate) fn drain(vr: &mut VirtualRouter) -> Vec<Action> {
    std::iter::from_fn(|| vr.poll_action()).collect()
}

/// Feeds `advert` from `src` with TTL 255 at `now`, and returns the actions.
pub(crate) fn receive(
    vr: &mut VirtualRouter,
    now: Instant,
    src: IpAddr,
    advert: &Advert,
) -> Vec<Action> {
    receive_ttl(vr, now, src, 255, advert)
}

/// Feeds `advert` from `src` with `ttl` at `now`, and returns the actions.
pub(crate) fn receive_ttl(
    vr: &mut VirtualRouter,
    now: Instant,
    src: IpAddr,
    ttl: u8,
    advert: &Advert,
) -> Vec<Action> {
    vr.handle_advert(now, Received { src, ttl, advert });
    drain(vr)
}

/// Calls `handle_timeout` at `now` and returns the actions.
pub(crate) fn timeout(vr: &mut VirtualRouter, now: Instant) -> Vec<Action> {
    vr.handle_timeout(now);
    drain(vr)
}

/// A VRRPv3 IPv4 advert for our addresses.
pub(crate) fn v3(priority: u8, interval_cs: u16, mode: ChecksumMode) -> Advert {
    v3_with(priority, interval_cs, Some(mode), vec![VIP])
}

/// A VRRPv3 advert for `addresses` (of one family) with the checksum form `mode`.
pub(crate) fn v3_with(
    priority: u8,
    interval_cs: u16,
    mode: Option<ChecksumMode>,
    addresses: Vec<IpAddr>,
) -> Advert {
    Advert::Vrrp3 {
        repr: v3_repr(VRID, priority, interval_cs, addresses),
        checksum: mode,
    }
}

/// A VRRPv3 message.
pub(crate) fn v3_repr(
    vrid: u8,
    priority: u8,
    interval_cs: u16,
    addresses: Vec<IpAddr>,
) -> vrrp3::Repr {
    let addresses = if addresses.iter().all(IpAddr::is_ipv4) {
        vrrp3::Addresses::V4(
            addresses
                .iter()
                .filter_map(|a| match a {
                    IpAddr::V4(a) => Some(*a),
                    IpAddr::V6(_) => None,
                })
                .collect(),
        )
    } else {
        vrrp3::Addresses::V6(
            addresses
                .iter()
                .filter_map(|a| match a {
                    IpAddr::V6(a) => Some(*a),
                    IpAddr::V4(_) => None,
                })
                .collect(),
        )
    };
    vrrp3::Repr {
        vrid: Vrid::new(vrid).expect("non-zero"),
        priority: Priority(priority),
        max_adver_int: Centiseconds(interval_cs),
        addresses,
    }
}

/// A VRRPv2 advert for our address.
pub(crate) fn v2(priority: u8, interval_s: u8, auth: vrrp2::Auth) -> Advert {
    Advert::Vrrp2(v2_repr(priority, interval_s, auth))
}

/// A VRRPv2 message for our address.
pub(crate) fn v2_repr(priority: u8, interval_s: u8, auth: vrrp2::Auth) -> vrrp2::Repr {
    vrrp2::Repr {
        vrid: vrid(),
        priority: Priority(priority),
        adver_int: Seconds(interval_s),
        auth,
        addresses: vec![Ipv4Addr::new(192, 0, 2, 100)],
    }
}

/// The CARP key of our VHID, password and addresses.
pub(crate) fn carp_key() -> carp::Key {
    carp::Key::new(PASSWORD, vrid(), &[VIP])
}

/// The CARP message of a peer.
pub(crate) fn carp_repr(advbase: u8, advskew: u8, demotion: u8, counter: u64) -> carp::Repr {
    carp::Repr {
        vhid: vrid(),
        advskew,
        advbase,
        demotion,
        counter,
    }
}

/// A CARP advert of a peer with a valid HMAC.
pub(crate) fn carp_advert(advbase: u8, advskew: u8, demotion: u8, counter: u64) -> Advert {
    Advert::Carp {
        repr: carp_repr(advbase, advskew, demotion, counter),
        hmac: carp_key().generate(counter),
    }
}
