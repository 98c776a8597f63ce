//! The parsing and checks of single fields: paths, names, interface
//! names, addresses, intervals and durations.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tandem_election::RestartGuard;
use tandem_wire::{Centiseconds, Family};

use super::Ctx;
use crate::config::error::{ConfigError, Problem};
use crate::config::raw::{RawRestartGuard, S};

/// An absolute path.
pub(super) fn absolute(ctx: &Ctx<'_>, key: &str, v: &S<String>) -> Result<PathBuf, ConfigError> {
    if Path::new(v.get_ref()).is_absolute() {
        Ok(PathBuf::from(v.get_ref()))
    } else {
        Err(ctx.err_at(key, v, Problem::RelativePath(v.get_ref().clone())))
    }
}

/// `restart_guard = { ... }`, of an instance or of `[global]`.
pub(super) fn restart_guard(
    ctx: &Ctx<'_>,
    g: &S<RawRestartGuard>,
) -> Result<RestartGuard, ConfigError> {
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
pub(super) fn parse_listen(ctx: &Ctx<'_>, v: &S<String>) -> Result<SocketAddr, ConfigError> {
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

/// The longest instance or sync group name, in characters.
pub(super) const MAX_NAME_LEN: usize = 64;

/// An instance or sync group name: 1 to [`MAX_NAME_LEN`] characters of
/// `A-Z a-z 0-9 _ . -`, so that it cannot forge a log line, put an escape
/// sequence on a terminal or need quoting in a hook's environment.
pub(super) fn check_name(name: &str) -> Result<(), Problem> {
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
pub(super) fn check_ifname(name: &str) -> Result<(), Problem> {
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
pub(super) fn parse_vaddr(text: &str) -> Result<(IpAddr, u8), Problem> {
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
pub(super) fn address_list(
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

pub(super) fn parse_plain(text: &str) -> Result<IpAddr, Problem> {
    if text.contains('/') {
        return Err(Problem::UnexpectedPrefix(text.to_string()));
    }
    text.trim()
        .parse()
        .map_err(|_| Problem::BadAddress(text.to_string()))
}

pub(super) fn same_family(a: IpAddr, family: Family) -> Result<(), Problem> {
    if Family::of(a) == family {
        Ok(())
    } else {
        Err(Problem::WrongFamily { address: a, family })
    }
}

pub(super) fn is_link_local(a: &Ipv6Addr) -> bool {
    (a.segments()[0] & 0xffc0) == 0xfe80
}

/// 0.01..=40.95 s in whole centiseconds.
pub(super) fn vrrp3_interval(secs: f64) -> Result<Centiseconds, Problem> {
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
pub(super) fn whole_seconds(secs: f64) -> Option<u8> {
    (secs.fract() == 0.0 && (1.0..=255.0).contains(&secs)).then_some(secs as u8)
}

/// A duration in seconds, 0 or more.
pub(super) fn seconds(ctx: &Ctx<'_>, key: &str, v: &S<f64>) -> Result<Duration, ConfigError> {
    let s = *v.get_ref();
    if s < 0.0 {
        return Err(ctx.err_at(key, v, Problem::Duration(s)));
    }
    Duration::try_from_secs_f64(s).map_err(|_| ctx.err_at(key, v, Problem::Duration(s)))
}
