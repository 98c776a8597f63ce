//! `[sync]`, the `[unit.<id>.instance.<name>]` overlays and the checks of
//! `[app]`.

use std::collections::{BTreeMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::fields::{absolute, parse_plain};
use super::{raw_name, Ctx, Src};
use crate::config::error::{ConfigError, Problem};
use crate::config::raw::{RawApp, RawInstance, RawSync, RawUnit, S};
use crate::config::{SyncConfig, DEFAULT_SYNC_PORT};

/// The longest unit id, in characters.
pub(in crate::config) const MAX_UNIT_ID_LEN: usize = 32;

/// The longest cluster id, in characters.
pub(in crate::config) const MAX_CLUSTER_ID_LEN: usize = 64;

/// The smallest `max_document`: 1 KiB.
pub(in crate::config) const MIN_DOCUMENT: i64 = 1 << 10;

/// The largest `max_document`: 1 GiB.
pub(in crate::config) const MAX_DOCUMENT: i64 = 1 << 30;

/// The default `max_document`: 64 MiB.
pub(in crate::config) const DEFAULT_MAX_DOCUMENT: u64 = 64 << 20;

/// A unit id: 1 to [`MAX_UNIT_ID_LEN`] characters of `a-z 0-9 _ -`.
pub(in crate::config) fn unit_id_error(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("it is empty".to_string());
    }
    if let Some((i, c)) = name
        .chars()
        .enumerate()
        .find(|(_, c)| !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-')))
    {
        return Some(format!("character {} ({c:?}) is not allowed", i + 1));
    }
    let len = name.chars().count();
    (len > MAX_UNIT_ID_LEN)
        .then(|| format!("it is {len} characters long, more than {MAX_UNIT_ID_LEN}"))
}

fn cluster_id_error(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("it is empty".to_string());
    }
    if let Some((i, c)) = name
        .chars()
        .enumerate()
        .find(|(_, c)| !(' '..='~').contains(c))
    {
        return Some(format!("character {} ({c:?}) is not allowed", i + 1));
    }
    let len = name.chars().count();
    (len > MAX_CLUSTER_ID_LEN)
        .then(|| format!("it is {len} characters long, more than {MAX_CLUSTER_ID_LEN}"))
}

/// `ADDR`, `ADDR:PORT`, `[V6]` or `[V6]:PORT`; the port defaults to
/// [`DEFAULT_SYNC_PORT`] and may not be 0.
pub(in crate::config) fn parse_sync_address(text: &str) -> Result<SocketAddr, Problem> {
    parse_address(text, DEFAULT_SYNC_PORT)
        .ok_or_else(|| Problem::BadSyncAddress(text.to_string()))?
}

/// `ADDR`, `ADDR:PORT`, `[V6]` or `[V6]:PORT`, the port `default_port`
/// when none is given; `None` if it is none of those, a refusal of port 0.
pub(in crate::config) fn parse_address(
    text: &str,
    default_port: u16,
) -> Option<Result<SocketAddr, Problem>> {
    let t = text.trim();
    let addr = if let Ok(a) = t.parse::<SocketAddr>() {
        a
    } else if let Ok(ip) = t.parse::<IpAddr>() {
        SocketAddr::new(ip, default_port)
    } else {
        let ip = t
            .strip_prefix('[')
            .and_then(|r| r.strip_suffix(']'))
            .and_then(|r| r.parse::<Ipv6Addr>().ok())?;
        SocketAddr::new(IpAddr::V6(ip), default_port)
    };
    Some(if addr.port() == 0 {
        Err(Problem::SyncPortZero)
    } else {
        Ok(addr)
    })
}

/// A `rewrite` pattern, `app.<kind>.*.<field>`, as the section pattern
/// `app.<kind>` and the field pattern `<field>` (`<kind>` and `<field>`
/// may be `*`).
pub(in crate::config) fn parse_rewrite(text: &str) -> Result<(String, String), Problem> {
    let bad = |why| {
        Err(Problem::BadRewrite {
            pattern: text.to_string(),
            why,
        })
    };
    if !text.starts_with("app.") {
        return bad("only fields of [app] are rewritten (tandemd's own addresses use @self and @partner already)");
    }
    let parts: Vec<&str> = text.split('.').collect();
    let [_, kind, id, field] = parts.as_slice() else {
        return bad("it is not four parts separated by '.'");
    };
    if *id != "*" {
        return bad("the third part is the object id and must be *");
    }
    let name_ok = |s: &str| {
        s == "*"
            || (!s.is_empty()
                && s.len() <= 64
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-')))
    };
    if !name_ok(kind) {
        return bad("the kind is not * or a name of A-Z, a-z, 0-9, '_' and '-'");
    }
    if !name_ok(field) {
        return bad("the field is not * or a name of A-Z, a-z, 0-9, '_' and '-'");
    }
    Ok((format!("app.{kind}"), (*field).to_string()))
}

/// `[sync]`.
pub(super) fn build_sync(src: &Src<'_>, whole: &S<RawSync>) -> Result<SyncConfig, ConfigError> {
    let ctx = Ctx {
        src,
        base: "sync".to_string(),
    };
    let s = whole.get_ref();
    let missing = |key: &str, why: &'static str| ctx.err(key, whole.span(), Problem::Missing(why));
    let Some(unit) = &s.unit else {
        return Err(missing(
            "unit",
            "give this unit's id, as unit = \"a\" (the partner has another)",
        ));
    };
    if let Some(why) = unit_id_error(unit.get_ref()) {
        let name = unit.get_ref().clone();
        return Err(ctx.err_at("unit", unit, Problem::BadUnitId { name, why }));
    }
    let Some(cluster) = &s.cluster else {
        return Err(missing(
            "cluster",
            "give the cluster id both units share, as cluster = \"fw-pair-1\"",
        ));
    };
    if let Some(why) = cluster_id_error(cluster.get_ref()) {
        let name = cluster.get_ref().clone();
        return Err(ctx.err_at("cluster", cluster, Problem::BadClusterId { name, why }));
    }
    let Some(peer_text) = &s.peer else {
        return Err(missing(
            "peer",
            "give the partner's address, as peer = \"192.0.2.2\" (port 6973 unless given)",
        ));
    };
    let peer =
        parse_sync_address(peer_text.get_ref()).map_err(|p| ctx.err_at("peer", peer_text, p))?;
    let listen = match &s.listen {
        Some(l) => {
            let listen = parse_sync_address(l.get_ref()).map_err(|p| ctx.err_at("listen", l, p))?;
            if listen.is_ipv4() != peer.is_ipv4() {
                let problem = Problem::SyncFamilies {
                    listen: listen.ip(),
                    peer: peer.ip(),
                };
                return Err(ctx.err_at("listen", l, problem));
            }
            listen
        }
        None => {
            let any = match peer.ip() {
                IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            };
            SocketAddr::new(any, DEFAULT_SYNC_PORT)
        }
    };
    let Some(key) = &s.key_file else {
        return Err(missing(
            "key_file",
            "give the key file `tandemd sync keygen` wrote, as key_file = \"/etc/tandemd/sync.key\" (the same file on both units)",
        ));
    };
    let key_file = absolute(&ctx, "key_file", key)?;
    let bidirectional = match &s.mode {
        None => false,
        Some(m) => match m.get_ref().as_str() {
            "active-standby" => false,
            "bidirectional" => true,
            other => {
                return Err(ctx.err_at("mode", m, Problem::UnknownSyncMode(other.to_string())))
            }
        },
    };
    let max_document = match &s.max_document {
        None => DEFAULT_MAX_DOCUMENT,
        Some(m) => {
            let v = *m.get_ref();
            if !(MIN_DOCUMENT..=MAX_DOCUMENT).contains(&v) {
                let problem = Problem::Range {
                    value: v,
                    min: MIN_DOCUMENT,
                    max: MAX_DOCUMENT,
                };
                return Err(ctx.err_at("max_document", m, problem));
            }
            v.unsigned_abs()
        }
    };
    let mut addresses = Vec::new();
    if let Some(list) = &s.addresses {
        let mut seen: HashSet<IpAddr> = HashSet::new();
        for (i, pair) in list.get_ref().iter().enumerate() {
            let [own, partner] = pair.get_ref().as_slice() else {
                let problem = Problem::NotAPair(pair.get_ref().len());
                return Err(ctx.err_at(&format!("addresses[{i}]"), pair, problem));
            };
            let mut parsed = Vec::with_capacity(2);
            for (j, a) in [own, partner].into_iter().enumerate() {
                let key = format!("addresses[{i}][{j}]");
                let ip = parse_plain(a.get_ref()).map_err(|p| ctx.err_at(&key, a, p))?;
                if !seen.insert(ip) {
                    return Err(ctx.err_at(&key, a, Problem::RepeatedPairAddress(ip)));
                }
                parsed.push(ip.to_string());
            }
            if let [own, partner] = parsed.as_slice() {
                addresses.push((own.clone(), partner.clone()));
            }
        }
    }
    let mut rewrite = Vec::new();
    if let Some(list) = &s.rewrite {
        for (i, p) in list.get_ref().iter().enumerate() {
            let key = format!("rewrite[{i}]");
            rewrite.push(parse_rewrite(p.get_ref()).map_err(|e| ctx.err_at(&key, p, e))?);
        }
    }
    Ok(SyncConfig {
        unit: unit.get_ref().clone(),
        cluster: cluster.get_ref().clone(),
        listen,
        peer,
        key_file,
        bidirectional,
        max_document,
        addresses,
        rewrite,
    })
}

/// Checks every `[unit.<id>.instance.<name>]` overlay (of every unit) and
/// applies those of unit `own` to the instances they name, field by field,
/// before the instances are built. Each bad overlay gives one error.
pub(super) fn apply_overlays(
    src: &Src<'_>,
    instances: &mut [S<RawInstance>],
    units: Option<BTreeMap<String, S<RawUnit>>>,
    own: Option<&str>,
    errors: &mut Vec<ConfigError>,
) {
    let Some(units) = units else {
        return;
    };
    let names: Vec<Option<String>> = instances.iter().map(|r| raw_name(r.get_ref())).collect();
    for (unit, overlays) in units {
        let span = overlays.span();
        if unit_id_error(&unit).is_some() {
            let ctx = Ctx {
                src,
                base: "unit".to_string(),
            };
            errors.push(ctx.err(&unit, span, Problem::OverlayUnitId(unit.clone())));
            continue;
        }
        for (name, overlay) in overlays.into_inner().instance.unwrap_or_default() {
            let ctx = Ctx {
                src,
                base: format!("unit.{unit}.instance {name:?}"),
            };
            let o = overlay.get_ref();
            if let Some(e) = overlay_error(&ctx, o) {
                errors.push(e);
                continue;
            }
            let Some(i) = names
                .iter()
                .position(|n| n.as_deref() == Some(name.as_str()))
            else {
                let problem = Problem::OverlayUnknownInstance(name.clone());
                errors.push(ctx.err("", overlay.span(), problem));
                continue;
            };
            if own == Some(unit.as_str()) {
                if let Some(base) = instances.get_mut(i) {
                    overlay_onto(base.get_mut(), overlay.into_inner());
                }
            }
        }
    }
}

/// Why an overlay may not apply: it sets `name` or a local field.
fn overlay_error(ctx: &Ctx<'_>, o: &RawInstance) -> Option<ConfigError> {
    if let Some(n) = &o.name {
        return Some(ctx.err_at("name", n, Problem::OverlayName));
    }
    let local = [
        ("priority", o.priority.as_ref().map(|v| v.span())),
        ("advskew", o.advskew.as_ref().map(|v| v.span())),
        ("demotion", o.demotion.as_ref().map(|v| v.span())),
        ("source", o.source.as_ref().map(|v| v.span())),
    ];
    local
        .into_iter()
        .find_map(|(key, span)| Some(ctx.err(key, span?, Problem::OverlayLocal(key))))
}

/// Replaces each field of `base` that `o` sets.
fn overlay_onto(base: &mut RawInstance, o: RawInstance) {
    macro_rules! take {
        ($($f:ident),* $(,)?) => {
            // Destructured so that a field added to RawInstance and not
            // here fails to compile.
            let RawInstance { $($f),* } = o;
            $(if $f.is_some() { base.$f = $f; })*
        };
    }
    take!(
        name,
        interface,
        protocol,
        vrid,
        priority,
        interval,
        advbase,
        advskew,
        demotion,
        addresses,
        preempt,
        preempt_delay,
        accept,
        checksum,
        vrrp2_compat,
        password,
        auth,
        source,
        unicast_peers,
        broadcast,
        ttl_exempt,
        vmac,
        initial_wait,
        ha_timeout,
        silence_intervals,
        announce,
        track,
        restart_guard,
        notify,
        notify_timeout,
        notify_args,
        notify_xparam,
        notify_active,
        notify_backup,
        notify_fault,
        notify_stop,
    );
}

/// The deepest nesting of lists and tables in a field's value that a
/// document carries (the decoder's limit, `DecodeLimits::max_depth`).
pub(in crate::config) const MAX_VALUE_DEPTH: usize = 16;

/// `[app]`: any values, but names a document can hold, floats finite
/// (a configuration document carries no NaN or infinity) and nesting at
/// most [`MAX_VALUE_DEPTH`] deep.
pub(super) fn check_app(src: &Src<'_>, app: &RawApp) -> Result<(), ConfigError> {
    use tandem_config_sync::doc::{check_field, check_id};
    for (kind, objects) in app {
        let app_ctx = Ctx {
            src,
            base: "app".to_string(),
        };
        let span = objects.values().next().map_or(0..0, |o| o.span());
        if let Err(why) = app_kind(kind) {
            let name = kind.clone();
            return Err(app_ctx.err(kind, span, Problem::AppName { name, why }));
        }
        for (id, fields) in objects {
            let ctx = Ctx {
                src,
                base: format!("app.{kind}.{id:?}"),
            };
            if let Err(why) = check_id(id) {
                let name = id.clone();
                return Err(ctx.err("", fields.span(), Problem::AppName { name, why }));
            }
            for (field, value) in fields.get_ref() {
                if let Err(why) = check_field(field) {
                    let name = field.clone();
                    return Err(ctx.err(field, fields.span(), Problem::AppName { name, why }));
                }
                if let Some(problem) = value_problem(value, 0) {
                    return Err(ctx.err(field, fields.span(), problem));
                }
            }
        }
    }
    Ok(())
}

/// Whether `kind` names a kind of `[app]` objects: one section segment
/// of `a-z 0-9 _ -` (the section is `app.<kind>`).
pub(in crate::config) fn app_kind(kind: &str) -> Result<(), &'static str> {
    if kind.contains('.') {
        return Err("a kind of [app] objects is one name, without a dot");
    }
    tandem_config_sync::doc::check_section(&format!("app.{kind}"))
}

/// What a document cannot carry in `v` (at nesting `depth`): a float that
/// is NaN or infinite, or nesting deeper than [`MAX_VALUE_DEPTH`].
pub(in crate::config) fn value_problem(v: &toml::Value, depth: usize) -> Option<Problem> {
    let nested = |depth: usize| (depth >= MAX_VALUE_DEPTH).then_some(Problem::TooDeep(depth + 1));
    match v {
        toml::Value::Float(f) if !f.is_finite() => Some(Problem::NotFinite(*f)),
        toml::Value::Array(a) => {
            nested(depth).or_else(|| a.iter().find_map(|v| value_problem(v, depth + 1)))
        }
        toml::Value::Table(t) => {
            nested(depth).or_else(|| t.values().find_map(|v| value_problem(v, depth + 1)))
        }
        _ => None,
    }
}
