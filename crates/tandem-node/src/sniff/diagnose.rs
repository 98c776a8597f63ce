//! The running diagnosis of a segment behind `tandemd sniff`: sans-IO.
//!
//! Each decoded advertisement goes in with the time it was captured
//! ([`Diagnosis::observe`], [`Diagnosis::observe_malformed`]); findings
//! come out of [`Diagnosis::poll`], which also runs the checks that depend
//! on time passing (a router falling silent, a split brain ending). No
//! clock is read here: every call gets `now`, and a `now` earlier than the
//! last one counts as the last one.
//!
//! Virtual routers are keyed by (address family, VRID): VRRPv2, VRRPv3 and
//! CARP speakers of one number on one family meet in one entry (they share
//! the virtual MAC `00:00:5e:00:01:VRID`, so they collide on the segment
//! whatever their protocol). Each entry keeps its speakers (one per IP
//! source) and forgets a speaker that has been silent for its down
//! interval (see [`Diagnosis`]).
//!
//! A finding is queued when its condition starts, once, and some have a
//! `…_cleared` finding when it ends ([`FindingKind`]). Problems of one
//! speaker (bad TTL, failed authentication, bad checksum) are reported once
//! while the speaker is known; one that went away and comes back with the
//! same fault is reported again. Malformed packets are counted and
//! reported at most once every [`MALFORMED_EVERY`].

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::IpAddr;
use std::time::Duration;

use tandem_time::Instant;
use tandem_wire::{ChecksumMode, Family, Kind};

pub use super::finding::{Finding, FindingKind};
pub use super::observe::{family_name, CarpFields, Malformed, Observation, ObservedAdvert};
use crate::decode::proto_label;
use crate::render::auth_string;

/// The longest the finding queue grows between two [`Diagnosis::poll`]
/// loops; findings beyond it are dropped and counted
/// ([`Diagnosis::dropped_findings`]).
pub const MAX_QUEUED: usize = 1024;
/// The most speakers (IP sources) one virtual router keeps; adverts of
/// further sources are counted ([`Diagnosis::dropped_speakers`]) and not
/// diagnosed (spoofed sources cannot grow memory without bound).
pub const MAX_SPEAKERS: usize = 64;
/// Malformed packets are reported at most this often (the count since the
/// last report rides on the finding).
pub const MALFORMED_EVERY: Duration = Duration::from_secs(10);

fn family_code(f: Family) -> u8 {
    match f {
        Family::V4 => 4,
        Family::V6 => 6,
    }
}

fn mode_bit(m: ChecksumMode) -> u8 {
    match m {
        ChecksumMode::NoPseudoHeader => 1,
        ChecksumMode::PseudoHeader => 2,
        _ => 4,
    }
}

fn mode_names(bits: u8) -> String {
    [
        (1, ChecksumMode::NoPseudoHeader),
        (2, ChecksumMode::PseudoHeader),
        (4, ChecksumMode::PseudoHeaderGroupDst),
    ]
    .iter()
    .filter(|(b, _)| bits & b != 0)
    .map(|(_, m)| m.name())
    .collect::<Vec<_>>()
    .join(" and ")
}

fn secs(d: Duration) -> String {
    format!("{:.2}s", d.as_secs_f64())
}

/// One source advertising for a virtual router.
#[derive(Debug, Clone)]
struct Speaker {
    advert: ObservedAdvert,
    last_seen: Instant,
    /// The first advert of the current run (adverts without a gap longer
    /// than two intervals, none with priority 0).
    run_start: Instant,
    run_adverts: u64,
    adverts: u64,
    /// Checksum forms this speaker used (bits of [`mode_bit`]).
    modes: u8,
    reported_ttl: bool,
    reported_auth: bool,
    reported_checksum: bool,
}

impl Speaker {
    fn interval(&self) -> Duration {
        Duration::from_millis(u64::from(self.advert.interval_cs.max(1)) * 10)
    }

    /// How long it may be quiet before it is gone: three intervals plus
    /// the largest skew a Backup can add (one interval for VRRP's
    /// Skew_Time, 255/256 s for CARP's advskew, rounded up to 1 s).
    fn down(&self) -> Duration {
        let skew = match self.advert.proto {
            Kind::Carp => Duration::from_secs(1),
            _ => self.interval(),
        };
        3 * self.interval() + skew
    }

    fn resigned(&self) -> bool {
        self.advert.priority == Some(0)
    }

    /// Sending adverts as an Active does, at `now`.
    fn sending(&self, now: Instant) -> bool {
        !self.resigned() && now.saturating_since(self.last_seen) <= 2 * self.interval()
    }
}

/// One virtual router: (family, VRID).
#[derive(Debug, Clone)]
struct Router {
    family: Family,
    vrid: u8,
    speakers: BTreeMap<IpAddr, Speaker>,
    last_advert: Instant,
    /// The down interval of the last advert's speaker.
    down: Duration,
    adverts: u64,
    active: Option<IpAddr>,
    /// The last advert of the Active (kept for the summary after its
    /// speaker is forgotten).
    last_active: Option<ObservedAdvert>,
    /// Every protocol seen, in the order first seen.
    protocols: Vec<Kind>,
    silent: bool,
    split: Option<(IpAddr, IpAddr)>,
    duplicates: BTreeSet<(IpAddr, IpAddr)>,
    carp_seen: bool,
    mixed_versions: bool,
    mixed_checksums: bool,
    counts: BTreeMap<FindingKind, u64>,
}

/// One virtual router as the summary table shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterSummary {
    /// The family.
    pub family: Family,
    /// VRID or VHID.
    pub vrid: u8,
    /// The protocols seen, by name.
    pub protocols: Vec<Kind>,
    /// The Active: the source of the last advert with a priority other
    /// than 0 (any CARP advert); the last one still, when it fell silent.
    pub active: Option<IpAddr>,
    /// The Active's Ethernet source.
    pub active_mac: Option<[u8; 6]>,
    /// The Active's VRRP priority.
    pub priority: Option<u8>,
    /// The Active's CARP fields.
    pub carp: Option<CarpFields>,
    /// The Active's interval, centiseconds.
    pub interval_cs: Option<u16>,
    /// The Active's virtual addresses.
    pub addresses: Vec<IpAddr>,
    /// Every speaker still known (silent ones are forgotten after their
    /// down interval).
    pub speakers: Vec<IpAddr>,
    /// Adverts seen.
    pub adverts: u64,
    /// Time since the last advert.
    pub since_last: Duration,
    /// Nobody advertised for the down interval.
    pub silent: bool,
    /// A split brain is going on.
    pub split_brain: bool,
    /// Findings reported for it, by kind.
    pub findings: Vec<(FindingKind, u64)>,
}

/// The running diagnosis of one interface's segment; see the module docs.
#[derive(Debug, Clone)]
pub struct Diagnosis {
    ifname: String,
    routers: BTreeMap<(u8, u8), Router>,
    queue: VecDeque<Finding>,
    last_now: Instant,
    dropped_findings: u64,
    dropped_speakers: u64,
    malformed_total: u64,
    malformed_pending: u64,
    malformed_last: Option<Malformed>,
    malformed_reported: Option<Instant>,
}

impl Diagnosis {
    /// A diagnosis of the segment on interface `ifname` (named in the
    /// messages).
    pub fn new(ifname: &str) -> Diagnosis {
        Diagnosis {
            ifname: ifname.to_owned(),
            routers: BTreeMap::new(),
            queue: VecDeque::new(),
            last_now: Instant::ZERO,
            dropped_findings: 0,
            dropped_speakers: 0,
            malformed_total: 0,
            malformed_pending: 0,
            malformed_last: None,
            malformed_reported: None,
        }
    }

    fn clamp(&mut self, now: Instant) -> Instant {
        if now > self.last_now {
            self.last_now = now;
        }
        self.last_now
    }

    fn push(&mut self, f: Finding) {
        if let Some(r) = f
            .vrid
            .zip(f.family)
            .and_then(|(v, fam)| self.routers.get_mut(&(family_code(fam), v)))
        {
            *r.counts.entry(f.kind).or_default() += 1;
        }
        if self.queue.len() >= MAX_QUEUED {
            self.dropped_findings += 1;
            return;
        }
        self.queue.push_back(f);
    }

    /// Findings dropped because the queue was full ([`MAX_QUEUED`]).
    pub fn dropped_findings(&self) -> u64 {
        self.dropped_findings
    }

    /// Adverts not diagnosed because their router had [`MAX_SPEAKERS`].
    pub fn dropped_speakers(&self) -> u64 {
        self.dropped_speakers
    }

    /// Malformed packets seen.
    pub fn malformed(&self) -> u64 {
        self.malformed_total
    }

    /// Feeds one advertisement captured at `now`.
    pub fn observe(&mut self, now: Instant, a: &ObservedAdvert) {
        let now = self.clamp(now);
        let key = (family_code(a.family), a.vrid);
        self.expire(key, now);
        let mut out = Vec::new();
        let ifname = self.ifname.clone();
        let router = self.routers.entry(key).or_insert_with(|| Router {
            family: a.family,
            vrid: a.vrid,
            speakers: BTreeMap::new(),
            last_advert: now,
            down: Duration::ZERO,
            adverts: 0,
            active: None,
            last_active: None,
            protocols: Vec::new(),
            silent: false,
            split: None,
            duplicates: BTreeSet::new(),
            carp_seen: false,
            mixed_versions: false,
            mixed_checksums: false,
            counts: BTreeMap::new(),
        });
        if !router.speakers.contains_key(&a.src) && router.speakers.len() >= MAX_SPEAKERS {
            self.dropped_speakers += 1;
            return;
        }
        let f = |kind, sources: Vec<IpAddr>, message: String| Finding {
            kind,
            at: now,
            family: Some(a.family),
            vrid: Some(a.vrid),
            sources,
            message,
            count: 1,
            error: None,
        };
        let label = proto_label(a.proto);
        let fam = family_name(a.family);
        let vr = format!("vrid {} ({fam}) on {ifname}", a.vrid);
        if router.silent {
            router.silent = false;
            out.push(f(
                FindingKind::SilentCleared,
                vec![a.src],
                format!(
                    "{vr}: {} advertises again ({label}) after {} of silence",
                    a.src,
                    secs(now.saturating_since(router.last_advert))
                ),
            ));
        }
        let sp = router.speakers.entry(a.src).or_insert_with(|| Speaker {
            advert: a.clone(),
            last_seen: now,
            run_start: now,
            run_adverts: 0,
            adverts: 0,
            modes: 0,
            reported_ttl: false,
            reported_auth: false,
            reported_checksum: false,
        });
        if sp.resigned() || now.saturating_since(sp.last_seen) > 2 * sp.interval() {
            sp.run_start = now;
            sp.run_adverts = 0;
        }
        sp.advert = a.clone();
        sp.last_seen = now;
        sp.adverts += 1;
        if sp.resigned() {
            sp.run_adverts = 0;
        } else {
            sp.run_adverts += 1;
        }
        if let (true, Some(m)) = (a.checksum_ok, a.checksum_mode) {
            sp.modes |= mode_bit(m);
        }
        router.last_advert = now;
        router.down = sp.down();
        router.adverts += 1;
        if !sp.resigned() {
            router.active = Some(a.src);
            router.last_active = Some(a.clone());
        }
        if !router.protocols.contains(&a.proto) {
            router.protocols.push(a.proto);
        }
        if a.proto == Kind::Carp && !router.carp_seen {
            router.carp_seen = true;
            out.push(f(
                FindingKind::CarpSeen,
                vec![a.src],
                format!(
                    "{vr}: CARP vhid {} from {} (advbase {} advskew {}); tcpdump and Wireshark show it as VRRP",
                    a.vrid,
                    a.src,
                    a.carp.map_or(0, |c| c.advbase),
                    a.carp.map_or(0, |c| c.advskew)
                ),
            ));
        }
        // Problems of this speaker.
        if a.ttl != 255 && !sp.reported_ttl {
            sp.reported_ttl = true;
            let what = match a.family {
                Family::V4 => "TTL",
                Family::V6 => "hop limit",
            };
            out.push(f(
                FindingKind::BadTtl,
                vec![a.src],
                format!(
                    "{vr}: {label} adverts from {} arrive with {what} {} (not 255)",
                    a.src, a.ttl
                ),
            ));
        }
        if !a.checksum_ok && !sp.reported_checksum {
            sp.reported_checksum = true;
            out.push(f(
                FindingKind::BadChecksum,
                vec![a.src],
                format!(
                    "{vr}: {label} adverts from {} have a checksum that matches no form",
                    a.src
                ),
            ));
        }
        if a.auth_ok == Some(false) && !sp.reported_auth {
            sp.reported_auth = true;
            let what = match (a.proto, a.vrrp2_auth) {
                (Kind::Carp, _) => "CARP HMAC does not verify with --password over --carp-address",
                (_, Some((2, _))) => "IPsec-AH ICV does not verify with --password",
                _ => "VRRPv2 password differs from --password",
            };
            out.push(f(
                FindingKind::AuthMismatch,
                vec![a.src],
                format!("{vr}: {} {what}", a.src),
            ));
        }
        // Problems between speakers.
        let me = router.speakers[&a.src].clone();
        let protos: BTreeSet<&'static str> = router
            .speakers
            .values()
            .map(|s| proto_label(s.advert.proto))
            .collect();
        if protos.len() > 1 && !router.mixed_versions {
            router.mixed_versions = true;
            let srcs = router.speakers.keys().copied().collect();
            let detail = router
                .speakers
                .iter()
                .map(|(ip, s)| format!("{ip} {}", proto_label(s.advert.proto)))
                .collect::<Vec<_>>()
                .join(", ");
            out.push(f(
                FindingKind::MixedVersions,
                srcs,
                format!(
                    "{vr}: speakers of {} in one VRID ({detail})",
                    protos.into_iter().collect::<Vec<_>>().join(" and ")
                ),
            ));
        }
        let modes = router.speakers.values().fold(0, |m, s| m | s.modes);
        if modes.count_ones() > 1 && !router.mixed_checksums {
            router.mixed_checksums = true;
            let detail = router
                .speakers
                .iter()
                .filter(|(_, s)| s.modes != 0)
                .map(|(ip, s)| format!("{ip} {}", mode_names(s.modes)))
                .collect::<Vec<_>>()
                .join(", ");
            let srcs = router
                .speakers
                .iter()
                .filter(|(_, s)| s.modes != 0)
                .map(|(ip, _)| *ip)
                .collect();
            out.push(f(
                FindingKind::MixedChecksums,
                srcs,
                format!("{vr}: VRRPv3 checksums of both forms ({detail})"),
            ));
        }
        let mut sorted = a.addresses.clone();
        sorted.sort();
        for (ip, other) in &router.speakers {
            if *ip == a.src {
                continue;
            }
            // Duplicate VRID: VRRP speakers with different address sets.
            if !a.addresses.is_empty() && !other.advert.addresses.is_empty() {
                let mut theirs = other.advert.addresses.clone();
                theirs.sort();
                let pair = (a.src.min(*ip), a.src.max(*ip));
                if theirs != sorted && router.duplicates.insert(pair) {
                    let list = |v: &[IpAddr]| {
                        v.iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(",")
                    };
                    out.push(f(
                        FindingKind::DuplicateVrid,
                        vec![pair.0, pair.1],
                        format!(
                            "{vr}: {} advertises {} but {ip} advertises {}",
                            a.src,
                            list(&sorted),
                            list(&theirs)
                        ),
                    ));
                }
            }
            // VRRPv2 passwords between speakers.
            if let (Some(mine), Some(theirs)) = (a.vrrp2_auth, other.advert.vrrp2_auth) {
                if mine != theirs && !(me.reported_auth && other.reported_auth) {
                    let show = |(t, d): (u8, [u8; 8])| match t {
                        0 => "no authentication".to_owned(),
                        1 => format!("password {:?}", auth_string(&d)),
                        2 => "IPsec-AH".to_owned(),
                        t => format!("auth type {t}"),
                    };
                    out.push(f(
                        FindingKind::AuthMismatch,
                        vec![a.src, *ip],
                        format!(
                            "{vr}: {} uses {} but {ip} uses {}",
                            a.src,
                            show(mine),
                            show(theirs)
                        ),
                    ));
                }
            }
        }
        if out
            .iter()
            .any(|x| x.kind == FindingKind::AuthMismatch && x.sources.len() == 2)
        {
            for s in router.speakers.values_mut() {
                if s.advert.vrrp2_auth.is_some() {
                    s.reported_auth = true;
                }
            }
        }
        // Split brain: another source sending as long as this one.
        if router.split.is_none() && me.sending(now) && me.run_adverts >= 2 {
            let other = router.speakers.iter().find(|(ip, o)| {
                let interval = o.interval().max(me.interval());
                let start = o.run_start.max(me.run_start);
                let end = o.last_seen.min(me.last_seen);
                **ip != a.src
                    && o.sending(now)
                    && o.run_adverts >= 2
                    && end.saturating_since(start) > interval
            });
            if let Some((ip, o)) = other {
                let overlap = o
                    .last_seen
                    .min(now)
                    .saturating_since(o.run_start.max(me.run_start));
                let pair = (a.src.min(*ip), a.src.max(*ip));
                router.split = Some(pair);
                out.push(f(
                    FindingKind::SplitBrain,
                    vec![pair.0, pair.1],
                    format!(
                        "{vr}: {} and {} both send adverts ({}), for {} already",
                        pair.0,
                        pair.1,
                        match (me.advert.priority, o.advert.priority) {
                            (Some(p), Some(q)) if pair.0 == a.src => {
                                format!("priorities {p} and {q}")
                            }
                            (Some(p), Some(q)) => format!("priorities {q} and {p}"),
                            _ => label.to_owned(),
                        },
                        secs(overlap)
                    ),
                ));
            }
        }
        for x in out {
            self.push(x);
        }
    }

    /// Feeds one malformed protocol-112 packet captured at `now`.
    pub fn observe_malformed(&mut self, now: Instant, m: &Malformed) {
        let now = self.clamp(now);
        self.malformed_total += 1;
        self.malformed_pending += 1;
        self.malformed_last = Some(m.clone());
        self.report_malformed(now);
    }

    fn report_malformed(&mut self, now: Instant) {
        let due = self
            .malformed_reported
            .is_none_or(|t| now.saturating_since(t) >= MALFORMED_EVERY);
        let Some(m) = self.malformed_last.clone() else {
            return;
        };
        if self.malformed_pending == 0 || !due {
            return;
        }
        let n = self.malformed_pending;
        self.malformed_pending = 0;
        self.malformed_reported = Some(now);
        let from = m.src.map_or_else(|| "?".to_owned(), |s| s.to_string());
        self.push(Finding {
            kind: FindingKind::Malformed,
            at: now,
            family: m.family,
            vrid: None,
            sources: m.src.into_iter().collect(),
            message: format!(
                "{n} malformed protocol-112 packet{} on {} ({} in all), the last from {from}: {}",
                if n == 1 { "" } else { "s" },
                self.ifname,
                self.malformed_total,
                m.error
            ),
            count: n,
            error: Some(m.error.to_string()),
        });
    }

    /// Runs the checks that depend on time having passed (silence, the end
    /// of a split brain, speakers gone) at `now`, then returns the next
    /// queued finding. Call it until it returns `None`.
    pub fn poll(&mut self, now: Instant) -> Option<Finding> {
        let now = self.clamp(now);
        let keys: Vec<(u8, u8)> = self.routers.keys().copied().collect();
        for k in keys {
            self.expire(k, now);
        }
        self.report_malformed(now);
        self.queue.pop_front()
    }

    /// The earliest time at which [`Diagnosis::poll`] may find something
    /// without a new packet (a router falling silent, a speaker going).
    pub fn poll_timeout(&self) -> Option<Instant> {
        let routers = self.routers.values().flat_map(|r| {
            let silent = (!r.silent).then(|| r.last_advert + r.down);
            let speakers = r.speakers.values().map(|s| s.last_seen + s.down());
            silent.into_iter().chain(speakers)
        });
        let malformed = (self.malformed_pending > 0)
            .then(|| self.malformed_reported.map(|t| t + MALFORMED_EVERY))
            .flatten();
        routers.chain(malformed).min()
    }

    fn expire(&mut self, key: (u8, u8), now: Instant) {
        let Some(router) = self.routers.get_mut(&key) else {
            return;
        };
        let mut out = Vec::new();
        let vr = format!(
            "vrid {} ({}) on {}",
            router.vrid,
            family_name(router.family),
            self.ifname
        );
        let (family, vrid) = (router.family, router.vrid);
        let f = |kind, sources: Vec<IpAddr>, message: String| Finding {
            kind,
            at: now,
            family: Some(family),
            vrid: Some(vrid),
            sources,
            message,
            count: 1,
            error: None,
        };
        if let Some((a, b)) = router.split {
            let sending = |ip: &IpAddr| router.speakers.get(ip).is_some_and(|s| s.sending(now));
            if !(sending(&a) && sending(&b)) {
                router.split = None;
                let left: Vec<IpAddr> = [a, b].into_iter().filter(|ip| sending(ip)).collect();
                let msg = match left.first() {
                    Some(one) => format!("{vr}: only {one} sends adverts now"),
                    None => format!("{vr}: neither {a} nor {b} sends adverts now"),
                };
                out.push(f(FindingKind::SplitBrainCleared, vec![a, b], msg));
            }
        }
        if !router.silent
            && !router.speakers.is_empty()
            && now.saturating_since(router.last_advert) > router.down
        {
            router.silent = true;
            let last = router
                .active
                .map_or_else(|| "?".to_owned(), |a| a.to_string());
            out.push(f(
                FindingKind::Silent,
                router.active.into_iter().collect(),
                format!(
                    "{vr}: no advert for {} (the last Active was {last})",
                    secs(now.saturating_since(router.last_advert))
                ),
            ));
        }
        let gone: Vec<IpAddr> = router
            .speakers
            .iter()
            .filter(|(_, s)| now.saturating_since(s.last_seen) > s.down())
            .map(|(ip, _)| *ip)
            .collect();
        for ip in &gone {
            router.speakers.remove(ip);
            if router.active == Some(*ip) {
                router.active = None;
            }
        }
        let cleared: Vec<(IpAddr, IpAddr)> = router
            .duplicates
            .iter()
            .filter(|(a, b)| gone.contains(a) || gone.contains(b))
            .copied()
            .collect();
        for (a, b) in cleared {
            router.duplicates.remove(&(a, b));
            out.push(f(
                FindingKind::DuplicateVridCleared,
                vec![a, b],
                format!("{vr}: {a} and {b} no longer both advertise"),
            ));
        }
        let protos: BTreeSet<&str> = router
            .speakers
            .values()
            .map(|s| s.advert.proto.name())
            .collect();
        if protos.len() < 2 {
            router.mixed_versions = false;
        }
        if router
            .speakers
            .values()
            .fold(0u8, |m, s| m | s.modes)
            .count_ones()
            < 2
        {
            router.mixed_checksums = false;
        }
        for x in out {
            self.push(x);
        }
    }

    /// Every virtual router seen, in (family, VRID) order, as at `now`.
    pub fn summary(&self, now: Instant) -> Vec<RouterSummary> {
        let now = now.max(self.last_now);
        self.routers
            .values()
            .map(|r| {
                let active = r.last_active.as_ref();
                let mut protocols = r.protocols.clone();
                protocols.sort_by_key(|k| k.name());
                RouterSummary {
                    family: r.family,
                    vrid: r.vrid,
                    protocols,
                    active: active.map(|a| a.src),
                    active_mac: active.and_then(|a| a.mac),
                    priority: active.and_then(|a| a.priority),
                    carp: active.and_then(|a| a.carp),
                    interval_cs: active.map(|a| a.interval_cs),
                    addresses: active.map(|a| a.addresses.clone()).unwrap_or_default(),
                    speakers: r.speakers.keys().copied().collect(),
                    adverts: r.adverts,
                    since_last: now.saturating_since(r.last_advert),
                    silent: r.silent,
                    split_brain: r.split.is_some(),
                    findings: r.counts.iter().map(|(k, n)| (*k, *n)).collect(),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
