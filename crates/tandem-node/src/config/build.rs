//! From the raw, spanned form to checked [`DaemonConfig`]s: every rule of
//! docs/config.md, each failure pointing at its field.

use std::cell::OnceCell;
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tandem_election::{
    Announce, ChecksumPolicy, Config, Protocol, RestartGuard, Track, TrackEffect,
};
use tandem_wire::{vrrp2, Centiseconds, Family, Priority, Seconds, Vrid};

use super::error::{At, ConfigError, Location, Problem};
use super::raw::{
    nowhere, RawConfig, RawGlobal, RawHealth, RawInstance, RawRestartGuard, RawSyncGroup, S,
};
use super::{
    DaemonConfig, Delivery, GlobalConfig, HealthConfig, InstanceConfig, NotifyConfig,
    SyncGroupConfig, DEFAULT_NOTIFY_TIMEOUT, MAX_NOTIFY_TIMEOUT,
};

/// Where the values come from: a file's text, or flags.
pub(super) struct Src<'a> {
    pub(super) text: &'a str,
    pub(super) file: Option<&'a Path>,
    pub(super) flags: bool,
    /// Where each line of `text` starts, made at the first error: a file
    /// with many errors is not scanned from its start for each.
    pub(super) lines: OnceCell<Vec<usize>>,
}

impl<'a> Src<'a> {
    pub(super) fn new(text: &'a str, file: Option<&'a Path>, flags: bool) -> Src<'a> {
        Src {
            text,
            file,
            flags,
            lines: OnceCell::new(),
        }
    }

    fn loc(&self, span: Range<usize>) -> Option<Location> {
        if self.flags || self.text.is_empty() {
            return None;
        }
        let lines = self.lines.get_or_init(|| {
            std::iter::once(0)
                .chain(self.text.match_indices('\n').map(|(i, _)| i + 1))
                .collect()
        });
        let mut offset = span.start.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        // The last line start at or before `offset`.
        let line = lines.partition_point(|&start| start <= offset);
        let start = lines[line - 1];
        Some(Location {
            file: self.file.map(Path::to_path_buf),
            line,
            column: self.text[start..offset].chars().count() + 1,
        })
    }
}

/// Parses a file's text; the first error, if any.
pub(super) fn parse_text(text: &str, file: Option<&Path>) -> Result<DaemonConfig, ConfigError> {
    parse_text_all(text, file).map_err(|mut errors| errors.swap_remove(0))
}

/// Parses a file's text; every error found (never an empty list). A TOML
/// syntax or shape error is alone: nothing after it can be read. Past
/// that, each instance, sync group and table gives its first error, and
/// the others are checked all the same.
pub(super) fn parse_text_all(
    text: &str,
    file: Option<&Path>,
) -> Result<DaemonConfig, Vec<ConfigError>> {
    let src = Src::new(text, file, false);
    let raw: RawConfig = toml::from_str(text).map_err(|e| {
        vec![ConfigError::Toml {
            location: e.span().and_then(|s| src.loc(s)),
            message: e.message().trim_end().to_string(),
        }]
    })?;
    build_config(&src, raw)
}

/// The fields of one instance or sync group: how their paths are written.
struct Ctx<'a> {
    src: &'a Src<'a>,
    /// `instance "web"`, `instance[1]`, `sync_group "fw"`, or, for flags,
    /// `tandemd run`.
    base: String,
}

impl Ctx<'_> {
    fn field(&self, key: &str) -> String {
        if self.src.flags {
            flag_name(key)
        } else {
            format!("{}.{key}", self.base)
        }
    }

    fn err(&self, key: &str, span: Range<usize>, problem: Problem) -> ConfigError {
        ConfigError::Invalid {
            at: At {
                location: self.src.loc(span),
                field: self.field(key),
            },
            problem: Box::new(problem),
        }
    }

    fn err_at<T>(&self, key: &str, value: &S<T>, problem: Problem) -> ConfigError {
        self.err(key, value.span(), problem)
    }
}

/// The flag that sets a field, in the flag form.
fn flag_name(key: &str) -> String {
    let top = key.split(['.', '[']).next().unwrap_or(key);
    match top {
        "addresses" => "--address".to_string(),
        "unicast_peers" => "--unicast-peer".to_string(),
        "preempt" => "--no-preempt".to_string(),
        "track" => "--track-interface".to_string(),
        "listen" => "--health-listen".to_string(),
        other => format!("--{}", other.replace('_', "-")),
    }
}

pub(super) fn build_config(
    src: &Src<'_>,
    raw: RawConfig,
) -> Result<DaemonConfig, Vec<ConfigError>> {
    let mut errors = Vec::new();
    let (global, default_guard) = match raw.global {
        Some(g) => build_global(src, g.into_inner(), &mut errors),
        None => (GlobalConfig::default(), None),
    };
    let raws = raw.instance.unwrap_or_default();
    if raws.is_empty() {
        errors.push(ConfigError::Invalid {
            at: At {
                location: None,
                field: "instance".to_string(),
            },
            problem: Box::new(Problem::NoInstances),
        });
    }
    let mut built: Vec<InstanceConfig> = Vec::with_capacity(raws.len());
    let mut index = Index::default();
    // Names of instances that failed, so that a sync group or [health]
    // naming one is not reported too; `None` when one failed whose name
    // cannot be told.
    let mut failed: Option<Vec<String>> = Some(Vec::new());
    for (i, r) in raws.into_iter().enumerate() {
        let span = r.span();
        let r = r.into_inner();
        let base = match &r.name {
            Some(n) => format!("instance {:?}", n.get_ref()),
            None => format!("instance[{i}]"),
        };
        let name = raw_name(&r);
        let ctx = Ctx { src, base };
        let result = build_instance(&ctx, span, r, default_guard).and_then(|(inst, spans)| {
            check_against(&ctx, &inst, &spans, &index)?;
            Ok(inst)
        });
        match result {
            Ok(inst) => {
                index.add(&inst, built.len());
                built.push(inst);
            }
            Err(e) => {
                errors.push(e);
                match (name, &mut failed) {
                    (Some(n), Some(list)) => list.push(n),
                    _ => failed = None,
                }
            }
        }
    }
    let instances = built;
    let known = Known {
        names: &index.names,
        failed: failed.map(|f| f.into_iter().collect()),
    };
    let sync_groups = build_groups(src, raw.sync_group.unwrap_or_default(), &known, &mut errors);
    let mut global = global;
    if let Some(h) = raw.health {
        match build_health(src, h.into_inner(), &known) {
            Ok(h) => global.health = Some(h),
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(DaemonConfig {
        instances,
        sync_groups,
        global,
    })
}

/// The instances that were built, and the names of those that failed
/// (`None`: one failed whose name is unknown).
struct Known<'a> {
    /// The names of the instances built, with their index.
    names: &'a HashMap<String, usize>,
    failed: Option<HashSet<String>>,
}

impl Known<'_> {
    /// Whether naming `name` is an error: no such instance, and none that
    /// failed could have had that name.
    fn unknown(&self, name: &str) -> bool {
        !self.names.contains_key(name) && self.failed.as_ref().is_some_and(|f| !f.contains(name))
    }
}

/// What the checks between instances look up, for the instances built so
/// far: each entry names the first instance that has it, by its index.
#[derive(Default)]
struct Index {
    /// Names.
    names: HashMap<String, usize>,
    /// (interface, family, VRID).
    vrids: HashMap<(String, Family, u8), usize>,
    /// (interface, virtual address).
    addresses: HashMap<(String, IpAddr), usize>,
    /// The names, by index.
    by_index: Vec<String>,
}

impl Index {
    fn add(&mut self, inst: &InstanceConfig, i: usize) {
        self.names.entry(inst.name.clone()).or_insert(i);
        self.vrids
            .entry((
                inst.interface.clone(),
                inst.family(),
                inst.election.vrid.get(),
            ))
            .or_insert(i);
        for a in &inst.election.addresses {
            self.addresses
                .entry((inst.interface.clone(), *a))
                .or_insert(i);
        }
        self.by_index.push(inst.name.clone());
    }
}

/// The name an instance would have, read from its raw fields.
fn raw_name(r: &RawInstance) -> Option<String> {
    if let Some(n) = &r.name {
        return Some(n.get_ref().clone());
    }
    let interface = r.interface.as_ref()?.get_ref();
    let vrid = r.vrid.as_ref()?.get_ref();
    let first = r.addresses.as_ref()?.get_ref().first()?.get_ref();
    let family = match first.contains(':') {
        true => "ipv6",
        false => "ipv4",
    };
    Some(format!("{interface}-{vrid}-{family}"))
}

/// One instance built from flags.
pub(super) fn build_flag_instance(r: RawInstance) -> Result<InstanceConfig, ConfigError> {
    let src = Src::new("", None, true);
    let ctx = Ctx {
        src: &src,
        base: "tandemd run".to_string(),
    };
    build_instance(&ctx, 0..0, r, None).map(|(i, _)| i)
}

/// The global settings of the flag form: `--control-socket`,
/// `--health-listen` (the other health settings keep their defaults).
pub(super) fn build_flag_global(
    global: &mut GlobalConfig,
    control_socket: Option<String>,
    health_listen: Option<String>,
) -> Result<(), ConfigError> {
    let src = Src::new("", None, true);
    let ctx = Ctx {
        src: &src,
        base: "tandemd run".to_string(),
    };
    if let Some(path) = control_socket {
        global.set_control_socket(absolute(&ctx, "control_socket", &nowhere(path))?);
    }
    if let Some(listen) = health_listen {
        let listen = parse_listen(&ctx, &nowhere(listen))?;
        match &mut global.health {
            Some(h) => h.listen = listen,
            None => global.health = Some(HealthConfig::new(listen)),
        }
    }
    Ok(())
}

fn build_global(
    src: &Src<'_>,
    g: RawGlobal,
    errors: &mut Vec<ConfigError>,
) -> (GlobalConfig, Option<RestartGuard>) {
    let ctx = Ctx {
        src,
        base: "global".to_string(),
    };
    let mut global = GlobalConfig::default();
    if let Some(dir) = &g.state_dir {
        match absolute(&ctx, "state_dir", dir) {
            Ok(p) => global.set_state_dir(p),
            Err(e) => errors.push(e),
        }
    }
    if let Some(sock) = &g.control_socket {
        match absolute(&ctx, "control_socket", sock) {
            Ok(p) => global.set_control_socket(p),
            Err(e) => errors.push(e),
        }
    }
    let guard = match &g.restart_guard {
        Some(r) => match restart_guard(&ctx, r) {
            Ok(guard) => Some(guard),
            Err(e) => {
                errors.push(e);
                None
            }
        },
        None => None,
    };
    (global, guard)
}

/// An absolute path.
fn absolute(ctx: &Ctx<'_>, key: &str, v: &S<String>) -> Result<PathBuf, ConfigError> {
    if Path::new(v.get_ref()).is_absolute() {
        Ok(PathBuf::from(v.get_ref()))
    } else {
        Err(ctx.err_at(key, v, Problem::RelativePath(v.get_ref().clone())))
    }
}

/// `restart_guard = { ... }`, of an instance or of `[global]`.
fn restart_guard(ctx: &Ctx<'_>, g: &S<RawRestartGuard>) -> Result<RestartGuard, ConfigError> {
    let raw = g.get_ref();
    let mut guard = RestartGuard::default();
    if let Some(n) = &raw.max_starts {
        let v = *n.get_ref();
        if !(1..=1000).contains(&v) {
            return Err(ctx.err_at(
                "restart_guard.max_starts",
                n,
                Problem::Range {
                    value: v,
                    min: 1,
                    max: 1000,
                },
            ));
        }
        guard.max_starts = v as usize;
    }
    if let Some(w) = &raw.window {
        let d = seconds(ctx, "restart_guard.window", w)?;
        if d.is_zero() {
            return Err(ctx.err_at(
                "restart_guard.window",
                w,
                Problem::Election(tandem_election::ConfigError::RestartGuard),
            ));
        }
        guard.window = d;
    }
    if let Some(e) = &raw.expire {
        guard.expire = *e.get_ref();
    }
    Ok(guard)
}

/// `ADDR:PORT`, port not 0.
fn parse_listen(ctx: &Ctx<'_>, v: &S<String>) -> Result<SocketAddr, ConfigError> {
    let addr: SocketAddr = v
        .get_ref()
        .trim()
        .parse()
        .map_err(|_| ctx.err_at("listen", v, Problem::BadListen(v.get_ref().clone())))?;
    if addr.port() == 0 {
        return Err(ctx.err_at("listen", v, Problem::ListenPortZero));
    }
    Ok(addr)
}

/// `[health]`.
fn build_health(
    src: &Src<'_>,
    h: RawHealth,
    known: &Known<'_>,
) -> Result<HealthConfig, ConfigError> {
    let ctx = Ctx {
        src,
        base: "health".to_string(),
    };
    let Some(listen) = &h.listen else {
        let span = h
            .path
            .as_ref()
            .or(h.live_path.as_ref())
            .or(h.metrics_path.as_ref())
            .map_or(0..0, |p| p.span());
        return Err(ctx.err(
            "listen",
            span,
            Problem::Missing("give the address and port to listen on, as \"0.0.0.0:8080\""),
        ));
    };
    let mut health = HealthConfig::new(parse_listen(&ctx, listen)?);
    let mut seen: Vec<(String, &'static str)> = Vec::new();
    for (key, raw, slot) in [
        ("path", &h.path, &mut health.path),
        ("live_path", &h.live_path, &mut health.live_path),
        ("metrics_path", &h.metrics_path, &mut health.metrics_path),
    ] {
        if let Some(p) = raw {
            if !p.get_ref().starts_with('/') {
                return Err(ctx.err_at(key, p, Problem::BadPath(p.get_ref().clone())));
            }
            p.get_ref().clone_into(slot);
        }
        if let Some((_, other)) = seen.iter().find(|(s, _)| s == slot) {
            let problem = Problem::SamePath {
                path: slot.clone(),
                other,
            };
            return Err(match raw {
                Some(p) => ctx.err_at(key, p, problem),
                None => ctx.err(key, listen.span(), problem),
            });
        }
        seen.push((slot.clone(), key));
    }
    if let Some(list) = &h.instances {
        let mut seen: HashSet<&str> = HashSet::new();
        for (i, m) in list.get_ref().iter().enumerate() {
            let key = format!("instances[{i}]");
            let name = m.get_ref();
            if known.unknown(name) {
                return Err(ctx.err_at(&key, m, Problem::UnknownInstance(name.clone())));
            }
            if !seen.insert(name) {
                return Err(ctx.err_at(&key, m, Problem::RepeatedMember(name.clone())));
            }
            health.instances.push(name.clone());
        }
    }
    if let Some(b) = &h.active_body {
        health.active_body = b.get_ref().clone();
    }
    if let Some(b) = &h.standby_body {
        health.standby_body = b.get_ref().clone();
    }
    Ok(health)
}

/// `notify` and `notify_timeout` of an instance.
fn build_notify(
    ctx: &Ctx<'_>,
    notify: &Option<S<String>>,
    notify_timeout: &Option<S<f64>>,
) -> Result<Option<NotifyConfig>, ConfigError> {
    let timeout = match notify_timeout {
        Some(t) => {
            let secs = *t.get_ref();
            let ok = secs > 0.0
                && Duration::try_from_secs_f64(secs).is_ok_and(|d| d <= MAX_NOTIFY_TIMEOUT);
            if !ok {
                return Err(ctx.err_at("notify_timeout", t, Problem::NotifyTimeout(secs)));
            }
            Duration::from_secs_f64(secs)
        }
        None => DEFAULT_NOTIFY_TIMEOUT,
    };
    match (notify, notify_timeout) {
        (Some(c), _) if c.get_ref().trim().is_empty() => {
            Err(ctx.err_at("notify", c, Problem::EmptyCommand))
        }
        (Some(c), _) => Ok(Some(NotifyConfig {
            command: c.get_ref().clone(),
            timeout,
        })),
        (None, Some(t)) => Err(ctx.err_at("notify_timeout", t, Problem::TimeoutWithoutNotify)),
        (None, None) => Ok(None),
    }
}

/// Spans kept for the checks across instances.
struct Spans {
    whole: Range<usize>,
    name: Option<Range<usize>>,
    vrid: Range<usize>,
    addresses: Vec<Range<usize>>,
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

fn build_instance(
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
    if let Some(list) = &r.track {
        for (i, t) in list.get_ref().iter().enumerate() {
            let key = format!("track[{i}]");
            let entry = t.get_ref();
            let Some(name) = &entry.interface else {
                return Err(ctx.err(
                    &format!("{key}.interface"),
                    t.span(),
                    Problem::Missing("give the tracked interface's name"),
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
    let notify = build_notify(ctx, &r.notify, &r.notify_timeout)?;

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
            ah_password,
            notify,
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
pub(super) fn map_election_error_for_test(
    base: &str,
    e: tandem_election::ConfigError,
) -> ConfigError {
    let src = Src::new("", None, false);
    let ctx = Ctx {
        src: &src,
        base: base.to_string(),
    };
    election_error(&ctx, 0..0, e)
}

/// The checks between one instance and those before it: the same errors,
/// naming the same earlier instance, as comparing it with each of them in
/// order would give.
fn check_against(
    ctx: &Ctx<'_>,
    inst: &InstanceConfig,
    spans: &Spans,
    before: &Index,
) -> Result<(), ConfigError> {
    let key = (
        inst.interface.clone(),
        inst.family(),
        inst.election.vrid.get(),
    );
    if let Some(&other) = before.vrids.get(&key) {
        return Err(ctx.err(
            "vrid",
            spans.vrid.clone(),
            Problem::DuplicateVrid {
                vrid: inst.election.vrid.get(),
                interface: inst.interface.clone(),
                family: inst.family(),
                other: before.by_index[other].clone(),
            },
        ));
    }
    if let Some(&index) = before.names.get(&inst.name) {
        let problem = Problem::DuplicateName {
            name: inst.name.clone(),
            first: format!("instance[{index}]"),
        };
        return Err(match &spans.name {
            Some(s) => ctx.err("name", s.clone(), problem),
            None => ctx.err("name", spans.whole.clone(), problem),
        });
    }
    // The earliest instance that shares an address, then its first
    // address in this instance's order.
    let shared = inst
        .election
        .addresses
        .iter()
        .enumerate()
        .filter_map(|(i, a)| {
            before
                .addresses
                .get(&(inst.interface.clone(), *a))
                .map(|&other| (other, i, *a))
        })
        .min();
    if let Some((other, i, a)) = shared {
        return Err(ctx.err(
            &format!("addresses[{i}]"),
            spans.addresses[i].clone(),
            Problem::SharedAddress {
                address: a,
                interface: inst.interface.clone(),
                other: before.by_index[other].clone(),
            },
        ));
    }
    Ok(())
}

fn build_groups(
    src: &Src<'_>,
    raws: Vec<S<RawSyncGroup>>,
    known: &Known<'_>,
    errors: &mut Vec<ConfigError>,
) -> Vec<SyncGroupConfig> {
    let mut groups: Vec<SyncGroupConfig> = Vec::with_capacity(raws.len());
    let mut names: HashSet<String> = HashSet::new();
    let mut member_of: HashMap<String, String> = HashMap::new();
    for (g, raw) in raws.into_iter().enumerate() {
        match build_group(src, g, raw, known, &names, &mut member_of) {
            Ok(group) => {
                names.insert(group.name.clone());
                groups.push(group);
            }
            Err(e) => errors.push(e),
        }
    }
    groups
}

fn build_group(
    src: &Src<'_>,
    g: usize,
    raw: S<RawSyncGroup>,
    known: &Known<'_>,
    groups: &HashSet<String>,
    member_of: &mut HashMap<String, String>,
) -> Result<SyncGroupConfig, ConfigError> {
    let whole = raw.span();
    let raw = raw.into_inner();
    let base = match &raw.name {
        Some(n) => format!("sync_group {:?}", n.get_ref()),
        None => format!("sync_group[{g}]"),
    };
    let ctx = Ctx { src, base };
    let Some(name) = &raw.name else {
        return Err(ctx.err(
            "name",
            whole,
            Problem::Missing("give the sync group a name"),
        ));
    };
    check_name(name.get_ref()).map_err(|p| ctx.err_at("name", name, p))?;
    if groups.contains(name.get_ref()) {
        return Err(ctx.err_at(
            "name",
            name,
            Problem::DuplicateGroupName(name.get_ref().clone()),
        ));
    }
    let Some(list) = &raw.instances else {
        return Err(ctx.err(
            "instances",
            whole,
            Problem::Missing("list the names of the member instances"),
        ));
    };
    if list.get_ref().is_empty() {
        return Err(ctx.err_at("instances", list, Problem::EmptyGroup));
    }
    let mut members: Vec<String> = Vec::new();
    let mut seen: HashSet<&str> = HashSet::new();
    for (i, m) in list.get_ref().iter().enumerate() {
        let key = format!("instances[{i}]");
        let member = m.get_ref();
        if known.unknown(member) {
            return Err(ctx.err_at(&key, m, Problem::UnknownInstance(member.clone())));
        }
        if !seen.insert(member) {
            return Err(ctx.err_at(&key, m, Problem::RepeatedMember(member.clone())));
        }
        if let Some(group) = member_of.get(member) {
            return Err(ctx.err_at(
                &key,
                m,
                Problem::TwoGroups {
                    instance: member.clone(),
                    group: group.clone(),
                },
            ));
        }
        members.push(member.clone());
    }
    for m in &members {
        member_of.insert(m.clone(), name.get_ref().clone());
    }
    Ok(SyncGroupConfig {
        name: name.get_ref().clone(),
        instances: members,
    })
}

/// The longest instance or sync group name, in characters.
pub(super) const MAX_NAME_LEN: usize = 64;

/// An instance or sync group name: 1 to [`MAX_NAME_LEN`] characters of
/// `A-Z a-z 0-9 _ . -`, so that it cannot forge a log line, put an escape
/// sequence on a terminal or need quoting in a hook's environment.
fn check_name(name: &str) -> Result<(), Problem> {
    if name.is_empty() {
        return Err(Problem::EmptyName);
    }
    let bad = |why: String| {
        Err(Problem::BadName {
            name: name.to_string(),
            why,
        })
    };
    if let Some((i, c)) = name
        .chars()
        .enumerate()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return bad(format!("character {} ({c:?}) is not allowed", i + 1));
    }
    let len = name.chars().count();
    if len > MAX_NAME_LEN {
        return bad(format!(
            "it is {len} characters long, more than {MAX_NAME_LEN}"
        ));
    }
    Ok(())
}

/// Linux's rules for interface names (`dev_valid_name`), and no control
/// characters (they would reach logs and terminals).
fn check_ifname(name: &str) -> Result<(), Problem> {
    let why = if name.is_empty() {
        "it is empty"
    } else if name.len() > 15 {
        "it is longer than 15 bytes"
    } else if name == "." || name == ".." {
        "\".\" and \"..\" are not interface names"
    } else if name
        .chars()
        .any(|c| c == '/' || c == ':' || c.is_whitespace())
    {
        "it contains '/', ':' or white space"
    } else if name.chars().any(char::is_control) {
        "it contains a control character"
    } else {
        return Ok(());
    };
    Err(Problem::InterfaceName {
        name: name.to_string(),
        why,
    })
}

/// `ADDRESS` or `ADDRESS/PREFIX`, a unicast address; the prefix defaults
/// to the full length.
fn parse_vaddr(text: &str) -> Result<(IpAddr, u8), Problem> {
    let (addr_text, prefix_text) = match text.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (text, None),
    };
    let addr: IpAddr = addr_text
        .trim()
        .parse()
        .map_err(|_| Problem::BadAddress(text.to_string()))?;
    let max: u8 = match addr {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    };
    let prefix = match prefix_text {
        None => max,
        Some(p) => match p.trim().parse::<u8>() {
            Ok(n) if (1..=max).contains(&n) => n,
            _ => {
                return Err(Problem::PrefixRange {
                    address: addr,
                    prefix: p.to_string(),
                    max,
                })
            }
        },
    };
    let kind = match addr {
        a if a.is_unspecified() => Some("the unspecified address"),
        a if a.is_multicast() => Some("a multicast address"),
        a if a.is_loopback() => Some("a loopback address"),
        IpAddr::V4(v4) if v4.is_broadcast() => Some("the broadcast address"),
        _ => None,
    };
    if let Some(kind) = kind {
        return Err(Problem::NotUnicast {
            address: addr,
            kind,
        });
    }
    Ok((addr, prefix))
}

/// A peer or source address: no prefix.
/// A list of plain addresses of `family` under `key` (`unicast_peers`,
/// `ttl_exempt`), each once.
fn address_list(
    ctx: &Ctx<'_>,
    key: &str,
    list: Option<&S<Vec<S<String>>>>,
    family: Family,
) -> Result<Vec<IpAddr>, ConfigError> {
    let mut out = Vec::new();
    for (i, p) in list
        .map(|l| l.get_ref().as_slice())
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let key = format!("{key}[{i}]");
        let a = parse_plain(p.get_ref()).map_err(|e| ctx.err_at(&key, p, e))?;
        same_family(a, family).map_err(|e| ctx.err_at(&key, p, e))?;
        if out.contains(&a) {
            return Err(ctx.err_at(&key, p, Problem::DuplicateAddress(a)));
        }
        out.push(a);
    }
    Ok(out)
}

fn parse_plain(text: &str) -> Result<IpAddr, Problem> {
    if text.contains('/') {
        return Err(Problem::UnexpectedPrefix(text.to_string()));
    }
    text.trim()
        .parse()
        .map_err(|_| Problem::BadAddress(text.to_string()))
}

fn same_family(a: IpAddr, family: Family) -> Result<(), Problem> {
    if Family::of(a) == family {
        Ok(())
    } else {
        Err(Problem::WrongFamily { address: a, family })
    }
}

fn is_link_local(a: &Ipv6Addr) -> bool {
    (a.segments()[0] & 0xffc0) == 0xfe80
}

/// 0.01..=40.95 s in whole centiseconds.
fn vrrp3_interval(secs: f64) -> Result<Centiseconds, Problem> {
    let cs = secs * 100.0;
    if !cs.is_finite() || cs.round() < 1.0 || cs.round() > f64::from(Centiseconds::MAX_ADVER_INT.0)
    {
        return Err(Problem::Vrrp3Interval(secs));
    }
    if (cs - cs.round()).abs() > 1e-6 {
        return Err(Problem::Vrrp3IntervalStep(secs));
    }
    Ok(Centiseconds(cs.round() as u16))
}

/// Whole seconds in 1..=255.
fn whole_seconds(secs: f64) -> Option<u8> {
    (secs.fract() == 0.0 && (1.0..=255.0).contains(&secs)).then_some(secs as u8)
}

/// A duration in seconds, 0 or more.
fn seconds(ctx: &Ctx<'_>, key: &str, v: &S<f64>) -> Result<Duration, ConfigError> {
    let s = *v.get_ref();
    if s < 0.0 {
        return Err(ctx.err_at(key, v, Problem::Duration(s)));
    }
    Duration::try_from_secs_f64(s).map_err(|_| ctx.err_at(key, v, Problem::Duration(s)))
}
