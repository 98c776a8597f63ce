//! `[[check]]`: health checks that instances track (docs/checks.md), and
//! the `{ check = "..." }` entries of `track` that name them.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use super::fields::{absolute, check_name, seconds};
use super::{Ctx, Src};
use crate::checks::{CheckConfig, HttpProbe, Probe};
use crate::config::error::{ConfigError, Problem};
use crate::config::raw::{RawCheck, S};
use crate::config::InstanceConfig;
use tandem_election::{Track, TrackEffect};

/// The kinds of check, by the field that makes one.
const KINDS: [&str; 4] = ["script", "file", "tcp", "http"];

/// Builds every `[[check]]`; each gives its first error.
pub(super) fn build_checks(
    src: &Src<'_>,
    raws: Vec<S<RawCheck>>,
    errors: &mut Vec<ConfigError>,
) -> Vec<CheckConfig> {
    let mut built: Vec<CheckConfig> = Vec::new();
    let mut names: HashMap<String, usize> = HashMap::new();
    for (i, r) in raws.into_iter().enumerate() {
        let span = r.span();
        let r = r.into_inner();
        let base = match &r.name {
            Some(n) => format!("check {:?}", n.get_ref()),
            None => format!("check[{i}]"),
        };
        let ctx = Ctx { src, base };
        let result = build_check(&ctx, span, &r).and_then(|c| {
            if let Some(first) = names.get(&c.name) {
                let n = r.name.as_ref().map_or(0..0, |n| n.span());
                return Err(ctx.err(
                    "name",
                    n,
                    Problem::DuplicateName {
                        name: c.name.clone(),
                        first: format!("check[{first}]"),
                    },
                ));
            }
            Ok(c)
        });
        match result {
            Ok(c) => {
                names.insert(c.name.clone(), i);
                built.push(c);
            }
            Err(e) => errors.push(e),
        }
    }
    built
}

fn build_check(
    ctx: &Ctx<'_>,
    span: std::ops::Range<usize>,
    r: &RawCheck,
) -> Result<CheckConfig, ConfigError> {
    let Some(name) = &r.name else {
        return Err(ctx.err(
            "name",
            span,
            Problem::Missing("give the check a name, which `track = [{ check = \"NAME\" }]` uses"),
        ));
    };
    check_name(name.get_ref()).map_err(|p| ctx.err_at("name", name, p))?;
    let given: Vec<&str> = [
        r.script.is_some(),
        r.file.is_some(),
        r.tcp.is_some(),
        r.http.is_some(),
    ]
    .iter()
    .zip(KINDS)
    .filter_map(|(set, k)| set.then_some(k))
    .collect();
    let kind = match given.as_slice() {
        [k] => *k,
        _ => {
            return Err(ctx.err(
                "",
                span,
                Problem::CheckKind(given.iter().map(|k| k.to_string()).collect()),
            ))
        }
    };
    // Fields that belong to other kinds.
    let only: [(&str, bool, &[&str]); 7] = [
        ("user", r.user.is_some(), &["script"]),
        ("source", r.source.is_some(), &["tcp", "http"]),
        ("host", r.host.is_some(), &["http"]),
        ("expect", r.expect.is_some(), &["http"]),
        ("body_contains", r.body_contains.is_some(), &["http"]),
        ("verify", r.verify.is_some(), &["http"]),
        ("ca_file", r.ca_file.is_some(), &["http"]),
    ];
    for (field, set, kinds) in only {
        if set && !kinds.contains(&kind) {
            return Err(ctx.err(
                field,
                span.clone(),
                Problem::NotForCheck {
                    field,
                    kind,
                    applies_to: kinds.join(" and "),
                },
            ));
        }
    }
    let source = match &r.source {
        Some(s) => Some(
            s.get_ref()
                .parse::<IpAddr>()
                .map_err(|_| ctx.err_at("source", s, Problem::BadAddress(s.get_ref().clone())))?,
        ),
        None => None,
    };
    let probe = if let Some(cmd) = &r.script {
        if cmd.get_ref().trim().is_empty() {
            return Err(ctx.err_at("script", cmd, Problem::BlankCommand));
        }
        let user = match &r.user {
            Some(u) => {
                let ok = !u.get_ref().is_empty()
                    && u.get_ref().len() <= 32
                    && u.get_ref()
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
                if !ok {
                    return Err(ctx.err_at("user", u, Problem::BadUser(u.get_ref().clone())));
                }
                Some(u.get_ref().clone())
            }
            None => None,
        };
        Probe::Script {
            command: cmd.get_ref().clone(),
            user,
        }
    } else if let Some(f) = &r.file {
        Probe::File {
            path: absolute(ctx, "file", f)?,
        }
    } else if let Some(t) = &r.tcp {
        let addr: SocketAddr = t
            .get_ref()
            .trim()
            .parse()
            .map_err(|_| ctx.err_at("tcp", t, Problem::BadTarget(t.get_ref().clone())))?;
        if addr.port() == 0 {
            return Err(ctx.err_at("tcp", t, Problem::BadTarget(t.get_ref().clone())));
        }
        Probe::Tcp { addr, source }
    } else if let Some(u) = &r.http {
        Probe::Http(Box::new(http_probe(ctx, u, r, source)?))
    } else {
        unreachable!("one kind was given")
    };
    let is_file = matches!(probe, Probe::File { .. });
    let interval = match &r.interval {
        Some(v) => seconds(ctx, "interval", v)?,
        None if is_file => Duration::from_secs(1),
        None => Duration::from_secs(2),
    };
    if !(0.1..=3600.0).contains(&interval.as_secs_f64()) {
        let v = r.interval.as_ref().expect("the defaults are in range");
        return Err(ctx.err_at("interval", v, Problem::CheckInterval(*v.get_ref())));
    }
    let timeout = match &r.timeout {
        Some(v) if is_file => {
            return Err(ctx.err_at(
                "timeout",
                v,
                Problem::NotForCheck {
                    field: "timeout",
                    kind,
                    applies_to: "script, tcp and http".into(),
                },
            ))
        }
        Some(v) => {
            let t = seconds(ctx, "timeout", v)?;
            if t.is_zero() || t > interval {
                return Err(ctx.err_at(
                    "timeout",
                    v,
                    Problem::CheckTimeout {
                        timeout: t.as_secs_f64(),
                        interval: interval.as_secs_f64(),
                    },
                ));
            }
            t
        }
        None if is_file => interval,
        None => interval.min(Duration::from_secs(5)),
    };
    let count = |key: &str, v: &Option<S<i64>>| -> Result<u32, ConfigError> {
        match v {
            None => Ok(1),
            Some(n) => match *n.get_ref() {
                x @ 1..=100 => Ok(x as u32),
                x => Err(ctx.err_at(
                    key,
                    n,
                    Problem::Range {
                        value: x,
                        min: 1,
                        max: 100,
                    },
                )),
            },
        }
    };
    let rise = count("rise", &r.rise)?;
    let fall = count("fall", &r.fall)?;
    let weight = match &r.weight {
        None => None,
        Some(w) => match *w.get_ref() {
            x @ 1..=255 => Some(x as u8),
            x => return Err(ctx.err_at("weight", w, Problem::TrackWeight(x))),
        },
    };
    Ok(CheckConfig {
        name: name.get_ref().clone(),
        probe,
        interval,
        timeout,
        rise,
        fall,
        weight,
    })
}

fn http_probe(
    ctx: &Ctx<'_>,
    u: &S<String>,
    r: &RawCheck,
    source: Option<IpAddr>,
) -> Result<HttpProbe, ConfigError> {
    let bad = |why: &'static str| ctx.err_at("http", u, Problem::BadUrl(u.get_ref().clone(), why));
    let text = u.get_ref().trim();
    let (tls, rest) = if let Some(rest) = text.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = text.strip_prefix("http://") {
        (false, rest)
    } else {
        return Err(bad("it must start with http:// or https://"));
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if path.chars().any(|c| c.is_control() || c == ' ') {
        return Err(bad("the path holds a space or a control character"));
    }
    let default_port = if tls { 443 } else { 80 };
    // host[:port], the host an IP literal (IPv6 in brackets).
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6.split_once(']').ok_or_else(|| bad("an unclosed '['"))?;
        let port = match after.strip_prefix(':') {
            Some(p) => p
                .parse::<u16>()
                .map_err(|_| bad("the port is not a number"))?,
            None if after.is_empty() => default_port,
            None => return Err(bad("text after ']' is not :PORT")),
        };
        (h, port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (
                h,
                p.parse::<u16>()
                    .map_err(|_| bad("the port is not a number"))?,
            ),
            None => (authority, default_port),
        }
    };
    if port == 0 {
        return Err(bad("port 0"));
    }
    let ip: IpAddr = host.parse().map_err(|_| {
        bad("the host must be an IP address (checks never depend on DNS): give the name in `host`")
    })?;
    let host_header = match &r.host {
        Some(h) => {
            let v = h.get_ref();
            if v.is_empty() || v.chars().any(|c| c.is_control() || c == ' ') {
                return Err(ctx.err_at("host", h, Problem::BadHostHeader(v.clone())));
            }
            v.clone()
        }
        None => authority.to_string(),
    };
    let expect = match &r.expect {
        None => vec![(200, 200)],
        Some(list) => {
            let mut out = Vec::new();
            for v in list.get_ref() {
                let range = match v.get_ref() {
                    toml::Value::Integer(n) => Some((*n, *n)),
                    toml::Value::String(s) => s.split_once('-').and_then(|(a, b)| {
                        Some((a.trim().parse::<i64>().ok()?, b.trim().parse::<i64>().ok()?))
                    }),
                    _ => None,
                };
                match range {
                    Some((a, b)) if (100..=599).contains(&a) && (a..=599).contains(&b) => {
                        out.push((a as u16, b as u16));
                    }
                    _ => {
                        return Err(ctx.err_at(
                            "expect",
                            v,
                            Problem::BadStatus(match v.get_ref() {
                                toml::Value::String(s) => format!("{s:?}"),
                                toml::Value::Integer(n) => n.to_string(),
                                other => format!("a {}", other.type_str()),
                            }),
                        ))
                    }
                }
            }
            if out.is_empty() {
                return Err(ctx.err_at("expect", list, Problem::BadStatus("[]".into())));
            }
            out
        }
    };
    if !tls && (r.verify.is_some() || r.ca_file.is_some()) {
        let field = if r.verify.is_some() {
            "verify"
        } else {
            "ca_file"
        };
        return Err(ctx.err(
            field,
            u.span(),
            Problem::NotForCheck {
                field,
                kind: "plain http",
                applies_to: "https".into(),
            },
        ));
    }
    Ok(HttpProbe {
        source,
        tls,
        addr: SocketAddr::new(ip, port),
        host: host_header,
        path: path.to_string(),
        expect,
        verify: r.verify.as_ref().is_none_or(|v| *v.get_ref()),
        ca_file: match &r.ca_file {
            Some(f) => Some(absolute(ctx, "ca_file", f)?),
            None => None::<PathBuf>,
        },
        body_contains: r.body_contains.as_ref().map(|b| b.get_ref().clone()),
    })
}

/// The checks between instances and checks: every tracked check exists,
/// its track's weight suits its kind, and no check has the name of an
/// interface an instance runs on or tracks (a link event for that
/// interface would move the check's track). Each tracked check's effect
/// is settled (the check's own weight, else Fault, when the entry gives
/// neither) and it joins the election's tracks.
pub(super) fn check_tracks(
    checks: &[CheckConfig],
    instances: &mut [InstanceConfig],
    errors: &mut Vec<ConfigError>,
) {
    let invalid = |field: String, problem: Problem| ConfigError::Invalid {
        at: crate::config::error::At {
            location: None,
            field,
        },
        problem: Box::new(problem),
    };
    for c in checks {
        if let Some(inst) = instances
            .iter()
            .find(|i| i.interface == c.name || i.track_interfaces.contains(&c.name))
        {
            errors.push(invalid(
                format!("check {:?}.name", c.name),
                Problem::CheckNamesInterface {
                    name: c.name.clone(),
                    instance: inst.name.clone(),
                },
            ));
        }
    }
    for inst in instances {
        for t in &mut inst.track_checks {
            let field = format!("instance {:?}.track (check {:?})", inst.name, t.check);
            let Some(c) = checks.iter().find(|c| c.name == t.check) else {
                errors.push(invalid(field, Problem::UnknownCheck(t.check.clone())));
                continue;
            };
            let is_file = matches!(c.probe, Probe::File { .. });
            if t.factor < 0 && !is_file {
                errors.push(invalid(field, Problem::TrackWeight(t.factor)));
                continue;
            }
            if t.factor == 0 {
                // Neither weight nor fault in the entry.
                t.effect = match c.weight {
                    Some(w) => TrackEffect::Weight(w),
                    None if is_file => TrackEffect::Weight(1),
                    None => TrackEffect::Fault,
                };
                t.factor = c.weight.map_or(1, i64::from);
            }
            inst.election.tracks.push(Track {
                name: t.check.clone(),
                effect: t.effect,
            });
        }
    }
}
