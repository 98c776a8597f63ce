//! One `[[instance]]` table (or the instance of the flag form) to an
//! [`InstanceConfig`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::Range;
use std::time::Duration;

use tandem_election::{
    Announce, ChecksumPolicy, Config, Protocol, RestartGuard, Track, TrackEffect,
};
use tandem_wire::{vrrp2, Centiseconds, Family, Priority, Seconds, Vrid};

use super::fields::{
    address_list, check_ifname, check_name, is_link_local, parse_plain, parse_vaddr, restart_guard,
    same_family, seconds, vrrp3_interval, whole_seconds,
};
use super::hooks::{build_hooks, RawHooks};
use super::Ctx;
use crate::config::error::{At, ConfigError, Problem};
use crate::config::raw::RawInstance;
use crate::config::{Delivery, InstanceConfig};

/// Spans kept for the checks across instances.
pub(super) struct Spans {
    pub(super) whole: Range<usize>,
    pub(super) name: Option<Range<usize>>,
    pub(super) vrid: Range<usize>,
    pub(super) addresses: Vec<Range<usize>>,
}

/// The protocol names of messages.
fn protocol_label(p: &str) -> &'static str {
    match p {
        "vrrp2" => "VRRPv2",
        "carp" => "CARP",
        _ => "VRRPv3",
    }
}

fn family_label(f: Family) -> &'static str {
    match f {
        Family::V4 => "ipv4",
        Family::V6 => "ipv6",
    }
}

pub(super) fn build_instance(
    ctx: &Ctx<'_>,
    whole: Range<usize>,
    r: RawInstance,
    default_guard: Option<RestartGuard>,
) -> Result<(InstanceConfig, Spans), ConfigError> {
    let missing =
        |key: &str, what: &'static str| ctx.err(key, whole.clone(), Problem::Missing(what));

    // Interface.
    let Some(interface) = r.interface else {
        return Err(missing(
            "interface",
            "give the interface the virtual router runs on",
        ));
    };
    check_ifname(interface.get_ref()).map_err(|p| ctx.err_at("interface", &interface, p))?;
    let interface = interface.into_inner();

    if let Some(n) = &r.name {
        check_name(n.get_ref()).map_err(|p| ctx.err_at("name", n, p))?;
    }

    // Protocol.
    let proto = match &r.protocol {
        Some(p) => match p.get_ref().as_str() {
            "vrrp3" | "vrrp2" | "carp" => p.get_ref().clone(),
            other => {
                return Err(ctx.err_at("protocol", p, Problem::UnknownProtocol(other.to_string())))
            }
        },
        None => "vrrp3".to_string(),
    };
    let label = protocol_label(&proto);

    // VRID.
    let Some(vrid_raw) = &r.vrid else {
        return Err(missing(
            "vrid",
            "give the virtual router's id (VRID; VHID for CARP), 1 to 255",
        ));
    };
    let vrid = u8::try_from(*vrid_raw.get_ref())
        .ok()
        .and_then(Vrid::new)
        .ok_or_else(|| ctx.err_at("vrid", vrid_raw, Problem::VridRange(*vrid_raw.get_ref())))?;

    // Virtual addresses.
    let Some(addr_list) = &r.addresses else {
        return Err(missing(
            "addresses",
            "give the virtual addresses, as \"ADDRESS/PREFIX\"",
        ));
    };
    if addr_list.get_ref().is_empty() {
        return Err(ctx.err_at("addresses", addr_list, Problem::NoAddresses));
    }
    if addr_list.get_ref().len() > 255 {
        return Err(ctx.err_at(
            "addresses",
            addr_list,
            Problem::TooManyAddresses(addr_list.get_ref().len()),
        ));
    }
    let mut addresses: Vec<IpAddr> = Vec::new();
    let mut prefixes = Vec::new();
    let mut address_spans = Vec::new();
    for (i, a) in addr_list.get_ref().iter().enumerate() {
        let key = format!("addresses[{i}]");
        let (addr, prefix) = parse_vaddr(a.get_ref()).map_err(|p| ctx.err_at(&key, a, p))?;
        if let Some(first) = addresses.first() {
            if Family::of(*first) != Family::of(addr) {
                return Err(ctx.err_at(
                    &key,
                    a,
                    Problem::MixedFamilies {
                        first: *first,
                        other: addr,
                    },
                ));
            }
        }
        if addresses.contains(&addr) {
            return Err(ctx.err_at(&key, a, Problem::DuplicateAddress(addr)));
        }
        addresses.push(addr);
        prefixes.push(prefix);
        address_spans.push(a.span());
    }
    let family = Family::of(addresses[0]);

    // Fields that belong to other protocols.
    let not_for = |key: &str, span: Range<usize>, applies_to: &'static str| {
        ctx.err(
            key,
            span,
            Problem::NotForProtocol {
                applies_to,
                protocol: label,
            },
        )
    };
    if proto != "vrrp3" {
        if let Some(v) = &r.checksum {
            return Err(not_for("checksum", v.span(), "VRRPv3"));
        }
        if let Some(v) = &r.vrrp2_compat {
            return Err(not_for("vrrp2_compat", v.span(), "VRRPv3"));
        }
    }
    if proto != "vrrp2" {
        if let Some(v) = &r.auth {
            return Err(not_for("auth", v.span(), "VRRPv2"));
        }
    }
    if proto != "carp" {
        if let Some(v) = &r.advbase {
            return Err(not_for("advbase", v.span(), "CARP"));
        }
        if let Some(v) = &r.advskew {
            return Err(not_for("advskew", v.span(), "CARP"));
        }
        if let Some(v) = &r.demotion {
            return Err(not_for("demotion", v.span(), "CARP"));
        }
    }
    if proto == "carp" {
        if let Some(v) = &r.priority {
            return Err(ctx.err_at("priority", v, Problem::PriorityWithCarp));
        }
    }
    if proto == "vrrp3" {
        if let Some(v) = &r.password {
            return Err(ctx.err_at("password", v, Problem::PasswordWithVrrp3));
        }
    }
    if proto == "vrrp2" && family == Family::V6 {
        let err = match &r.protocol {
            Some(p) => ctx.err_at("protocol", p, Problem::Vrrp2Ipv6),
            None => ctx.err("protocol", whole.clone(), Problem::Vrrp2Ipv6),
        };
        return Err(err);
    }

    // Priority.
    let priority = match &r.priority {
        None => Priority::DEFAULT,
        Some(p) => match *p.get_ref() {
            0 => return Err(ctx.err_at("priority", p, Problem::PriorityZero)),
            v @ 1..=255 => Priority(v as u8),
            v => return Err(ctx.err_at("priority", p, Problem::PriorityRange(v))),
        },
    };

    // Timing.
    if let (Some(_), Some(h)) = (&r.interval, &r.ha_timeout) {
        return Err(ctx.err_at("ha_timeout", h, Problem::IntervalAndHaTimeout));
    }
    let protocol = match proto.as_str() {
        "vrrp3" => {
            let interval = match &r.interval {
                Some(i) => {
                    vrrp3_interval(*i.get_ref()).map_err(|p| ctx.err_at("interval", i, p))?
                }
                None => Centiseconds(100),
            };
            let checksum = match &r.checksum {
                None => ChecksumPolicy::Auto,
                Some(c) => {
                    let policy = match c.get_ref().as_str() {
                        "auto" => ChecksumPolicy::Auto,
                        "rfc9568" => ChecksumPolicy::Rfc9568,
                        "ipv4-pseudo-header" => ChecksumPolicy::Ipv4PseudoHeader,
                        other => {
                            return Err(ctx.err_at(
                                "checksum",
                                c,
                                Problem::UnknownChecksum(other.to_string()),
                            ))
                        }
                    };
                    if family == Family::V6 && policy != ChecksumPolicy::Auto {
                        return Err(ctx.err_at("checksum", c, Problem::ChecksumIpv6));
                    }
                    policy
                }
            };
            let v2_compat = match &r.vrrp2_compat {
                Some(c) if *c.get_ref() && family == Family::V6 => {
                    return Err(ctx.err_at("vrrp2_compat", c, Problem::Vrrp2CompatIpv6))
                }
                Some(c) => *c.get_ref(),
                None => false,
            };
            Protocol::Vrrp3 {
                interval,
                checksum,
                v2_compat,
            }
        }
        "vrrp2" => {
            let interval = match &r.interval {
                Some(i) => whole_seconds(*i.get_ref()).map(Seconds).ok_or_else(|| {
                    ctx.err_at("interval", i, Problem::Vrrp2Interval(*i.get_ref()))
                })?,
                None => Seconds(1),
            };
            let auth_name = match &r.auth {
                Some(a) => match a.get_ref().as_str() {
                    "none" => "none",
                    "pass" => "pass",
                    "ah" => "ah",
                    other => {
                        return Err(ctx.err_at("auth", a, Problem::UnknownAuth(other.to_string())))
                    }
                },
                None if r.password.is_some() => "pass",
                None => "none",
            };
            let password = r.password.as_ref().filter(|p| !p.get_ref().is_empty());
            let auth = match (auth_name, password) {
                ("none", None) => vrrp2::Auth::None,
                ("none", Some(p)) => {
                    return Err(ctx.err_at("password", p, Problem::PasswordWithoutAuth))
                }
                (name, None) => {
                    let problem = Problem::AuthWithoutPassword(name);
                    return Err(match &r.auth {
                        Some(a) => ctx.err_at("auth", a, problem),
                        None => ctx.err("auth", whole.clone(), problem),
                    });
                }
                (name, Some(p)) => {
                    let bytes = p.get_ref().as_bytes();
                    if bytes.len() > 8 {
                        return Err(ctx.err_at(
                            "password",
                            p,
                            Problem::Vrrp2PasswordLength(bytes.len()),
                        ));
                    }
                    if name == "pass" {
                        vrrp2::Auth::simple_text(bytes)
                    } else {
                        vrrp2::Auth::IpAh
                    }
                }
            };
            Protocol::Vrrp2 { interval, auth }
        }
        _ => {
            if let (Some(_), Some(b)) = (&r.interval, &r.advbase) {
                return Err(ctx.err_at("advbase", b, Problem::IntervalAndAdvbase));
            }
            let advbase = match (&r.interval, &r.advbase) {
                (Some(i), _) => whole_seconds(*i.get_ref()).ok_or_else(|| {
                    ctx.err_at("interval", i, Problem::CarpInterval(*i.get_ref()))
                })?,
                (None, Some(b)) => match *b.get_ref() {
                    v @ 1..=255 => v as u8,
                    v => return Err(ctx.err_at("advbase", b, Problem::AdvbaseRange(v))),
                },
                (None, None) => 1,
            };
            let advskew = match &r.advskew {
                Some(s) => u8::try_from(*s.get_ref())
                    .map_err(|_| ctx.err_at("advskew", s, Problem::AdvskewRange(*s.get_ref())))?,
                None => 0,
            };
            let password = match &r.password {
                Some(p) if !p.get_ref().is_empty() => p.get_ref().as_bytes().to_vec(),
                Some(p) => return Err(ctx.err_at("password", p, Problem::CarpWithoutPassword)),
                None => {
                    return Err(ctx.err("password", whole.clone(), Problem::CarpWithoutPassword))
                }
            };
            Protocol::Carp {
                advbase,
                advskew,
                password,
            }
        }
    };
    let ah_password = match (&protocol, &r.password) {
        (
            Protocol::Vrrp2 {
                auth: vrrp2::Auth::IpAh,
                ..
            },
            Some(p),
        ) => Some(p.get_ref().as_bytes().to_vec()),
        _ => None,
    };
    let demotion = match &r.demotion {
        Some(d) => u8::try_from(*d.get_ref())
            .map_err(|_| ctx.err_at("demotion", d, Problem::DemotionRange(*d.get_ref())))?,
        None => 0,
    };

    // Source and delivery.
    let source = match &r.source {
        Some(s) => {
            let a = parse_plain(s.get_ref()).map_err(|p| ctx.err_at("source", s, p))?;
            same_family(a, family).map_err(|p| ctx.err_at("source", s, p))?;
            Some((a, s.span()))
        }
        None => None,
    };
    let peers = address_list(ctx, "unicast_peers", r.unicast_peers.as_ref(), family)?;
    let broadcast = r.broadcast.as_ref().filter(|b| *b.get_ref());
    let delivery = match broadcast {
        Some(b) if !peers.is_empty() => {
            return Err(ctx.err_at("broadcast", b, Problem::BroadcastAndUnicast))
        }
        Some(b) if family == Family::V6 => {
            return Err(ctx.err_at("broadcast", b, Problem::BroadcastIpv6))
        }
        Some(_) => Delivery::Broadcast,
        None if peers.is_empty() => Delivery::Multicast,
        None => Delivery::Unicast(peers),
    };
    if let (Some((a, span)), Delivery::Multicast, "vrrp3") = (&source, &delivery, proto.as_str()) {
        if let IpAddr::V6(v6) = a {
            if !is_link_local(v6) {
                return Err(ctx.err("source", span.clone(), Problem::SourceNotLinkLocal(*a)));
            }
        }
    }
    let source = source.map(|(a, _)| a);
    let ttl_exempt = address_list(ctx, "ttl_exempt", r.ttl_exempt.as_ref(), family)?;

    // The rest of the election's settings.
    let primary = source.unwrap_or(match family {
        Family::V4 => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        Family::V6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    });
    let mut election = Config::new(vrid, primary, addresses);
    election.protocol = protocol;
    election.priority = priority;
    election.demotion = demotion;
    election.ttl_exempt = ttl_exempt;
    if let Some(p) = &r.preempt {
        election.preempt = *p.get_ref();
    }
    if let Some(a) = &r.accept {
        election.accept_mode = *a.get_ref();
    }
    if let Some(d) = &r.preempt_delay {
        election.preempt_delay = seconds(ctx, "preempt_delay", d)?;
    }
    if let Some(d) = &r.initial_wait {
        election.initial_wait = seconds(ctx, "initial_wait", d)?;
    }
    if let Some(h) = &r.ha_timeout {
        let t = *h.get_ref();
        if !(3.0..=15.0).contains(&t) {
            return Err(ctx.err_at("ha_timeout", h, Problem::HaTimeout(t)));
        }
        election = election
            .ha_timeout(Duration::from_secs_f64(t))
            .map_err(|e| ctx.err_at("ha_timeout", h, Problem::Election(e)))?;
    }
    if let Some(s) = &r.silence_intervals {
        election.silence_intervals = u32::try_from(*s.get_ref()).map_err(|_| {
            ctx.err_at(
                "silence_intervals",
                s,
                Problem::Range {
                    value: *s.get_ref(),
                    min: 0,
                    max: i64::from(u32::MAX),
                },
            )
        })?;
    }
    if let Some(a) = &r.announce {
        let a = a.get_ref();
        let mut announce = Announce::default();
        if let Some(n) = &a.repeat {
            announce.repeat = u8::try_from(*n.get_ref()).map_err(|_| {
                ctx.err_at(
                    "announce.repeat",
                    n,
                    Problem::Range {
                        value: *n.get_ref(),
                        min: 0,
                        max: 255,
                    },
                )
            })?;
        }
        if let Some(s) = &a.spacing {
            announce.spacing = seconds(ctx, "announce.spacing", s)?;
        }
        if let Some(s) = &a.refresh_after {
            let d = seconds(ctx, "announce.refresh_after", s)?;
            announce.refresh_after = (!d.is_zero()).then_some(d);
        }
        election.announce = announce;
    }
    let mut track_interfaces = Vec::new();
    let mut track_checks: Vec<crate::checks::TrackedCheck> = Vec::new();
    if let Some(list) = &r.track {
        for (i, t) in list.get_ref().iter().enumerate() {
            let key = format!("track[{i}]");
            let entry = t.get_ref();
            if let Some(check) = &entry.check {
                if entry.interface.is_some() {
                    return Err(ctx.err_at(&key, t, Problem::TrackBoth));
                }
                // The weight's range depends on the check's kind (a file
                // check's may be negative): checked once checks are built.
                let (effect, factor) = match (&entry.weight, &entry.fault) {
                    (Some(_), Some(f)) if *f.get_ref() => {
                        return Err(ctx.err_at(&key, t, Problem::WeightAndFault))
                    }
                    (Some(w), _) => match *w.get_ref() {
                        v @ -255..=255 if v != 0 => {
                            (TrackEffect::Weight(v.unsigned_abs() as u8), v)
                        }
                        v => {
                            return Err(ctx.err_at(
                                &format!("{key}.weight"),
                                w,
                                Problem::TrackWeight(v),
                            ))
                        }
                    },
                    (None, Some(f)) if *f.get_ref() => (TrackEffect::Fault, 1),
                    (None, Some(_)) => return Err(ctx.err_at(&key, t, Problem::TrackNoEffect)),
                    // The check's own weight, filled in once checks are built.
                    (None, None) => (TrackEffect::Fault, 0),
                };
                if track_checks.iter().any(|c| &c.check == check.get_ref()) {
                    return Err(ctx.err_at(
                        &format!("{key}.check"),
                        check,
                        Problem::DuplicateTrack(check.get_ref().clone()),
                    ));
                }
                track_checks.push(crate::checks::TrackedCheck {
                    check: check.get_ref().clone(),
                    effect,
                    factor,
                });
                continue;
            }
            let Some(name) = &entry.interface else {
                return Err(ctx.err(
                    &format!("{key}.interface"),
                    t.span(),
                    Problem::Missing("give the tracked interface's name (interface = \"eth1\") or a check's (check = \"NAME\")"),
                ));
            };
            check_ifname(name.get_ref())
                .map_err(|p| ctx.err_at(&format!("{key}.interface"), name, p))?;
            let effect = match (&entry.weight, &entry.fault) {
                (Some(_), Some(f)) if *f.get_ref() => {
                    return Err(ctx.err_at(&key, t, Problem::WeightAndFault))
                }
                (Some(w), _) => match *w.get_ref() {
                    v @ 1..=255 => TrackEffect::Weight(v as u8),
                    v => {
                        return Err(ctx.err_at(
                            &format!("{key}.weight"),
                            w,
                            Problem::TrackWeight(v),
                        ))
                    }
                },
                (None, Some(f)) if !*f.get_ref() => {
                    return Err(ctx.err_at(&key, t, Problem::TrackNoEffect))
                }
                (None, _) => TrackEffect::Fault,
            };
            if track_interfaces.contains(name.get_ref()) {
                return Err(ctx.err_at(
                    &format!("{key}.interface"),
                    name,
                    Problem::DuplicateTrack(name.get_ref().clone()),
                ));
            }
            track_interfaces.push(name.get_ref().clone());
            election.tracks.push(Track {
                name: name.get_ref().clone(),
                effect,
            });
        }
    }
    election.restart_guard = match &r.restart_guard {
        Some(g) => Some(restart_guard(ctx, g)?),
        None => default_guard,
    };
    let raw = RawHooks {
        notify: &r.notify,
        notify_timeout: &r.notify_timeout,
        notify_args: &r.notify_args,
        notify_xparam: &r.notify_xparam,
        notify_active: &r.notify_active,
        notify_backup: &r.notify_backup,
        notify_fault: &r.notify_fault,
        notify_stop: &r.notify_stop,
    };
    let (notify, hooks) = build_hooks(ctx, &raw, false)?;

    election
        .validate()
        .map_err(|e| election_error(ctx, whole.clone(), e))?;

    let name = match &r.name {
        Some(n) => n.get_ref().clone(),
        None => format!("{interface}-{}-{}", vrid.get(), family_label(family)),
    };
    let vmac = r.vmac.as_ref().is_some_and(|v| *v.get_ref());
    let spans = Spans {
        whole,
        name: r.name.as_ref().map(|n| n.span()),
        vrid: vrid_raw.span(),
        addresses: address_spans,
    };
    Ok((
        InstanceConfig {
            name,
            interface,
            election,
            prefixes,
            source,
            delivery,
            vmac,
            track_interfaces,
            track_checks,
            ah_password,
            notify,
            hooks,
        },
        spans,
    ))
}

/// An error of `Config::validate`, at the field it is about.
fn election_error(
    ctx: &Ctx<'_>,
    whole: Range<usize>,
    e: tandem_election::ConfigError,
) -> ConfigError {
    use tandem_election::ConfigError as E;
    let key = match e {
        E::NoAddresses | E::TooManyAddresses(_) | E::MixedFamilies { .. } => "addresses",
        E::PrimaryFamily { .. } => "source",
        E::IntervalOutOfRange(_) => "interval",
        E::HaTimeoutOutOfRange(_) => "ha_timeout",
        E::Vrrp2OverIpv6 => "protocol",
        E::EmptyCarpPassword => "password",
        E::PriorityZero => "priority",
        E::RestartGuard => "restart_guard",
        E::DuplicateTrack(_) => "track",
        _ => "",
    };
    let problem = Problem::Election(e);
    if key.is_empty() {
        ConfigError::Invalid {
            at: At {
                location: ctx.src.loc(whole),
                field: ctx.base.clone(),
            },
            problem: Box::new(problem),
        }
    } else {
        ctx.err(key, whole, problem)
    }
}

/// [`election_error`] for an instance at `base` with no file behind it.
#[cfg(test)]
pub(in crate::config) fn map_election_error_for_test(
    base: &str,
    e: tandem_election::ConfigError,
) -> ConfigError {
    let src = super::Src::new("", None, false);
    let ctx = Ctx {
        src: &src,
        base: base.to_string(),
    };
    election_error(&ctx, 0..0, e)
}
