//! `[replication]`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use super::fields::{absolute, check_ifname};
use super::{Ctx, Src};
use crate::config::error::{ConfigError, Problem};
use crate::config::raw::{RawReplication, S};
use crate::config::{ReplicationConfig, ReplicationFormat, DEFAULT_REPLICATION_PORT};

/// `ADDR`, `ADDR:PORT`, `[V6]` or `[V6]:PORT`; the port defaults to
/// [`DEFAULT_REPLICATION_PORT`] and may not be 0.
pub(in crate::config) fn parse_replication_address(text: &str) -> Result<SocketAddr, Problem> {
    super::sync::parse_address(text, DEFAULT_REPLICATION_PORT)
        .ok_or_else(|| Problem::BadReplicationAddress(text.to_string()))?
}

/// `ADDR/PREFIX`, the address masked.
fn parse_prefix(text: &str) -> Result<(IpAddr, u8), Problem> {
    let bad = || Problem::BadIgnorePrefix(text.to_string());
    let (a, p) = text.trim().split_once('/').ok_or_else(bad)?;
    let addr: IpAddr = a.parse().map_err(|_| bad())?;
    let prefix: u8 = p.parse().map_err(|_| bad())?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    if prefix > max {
        return Err(bad());
    }
    Ok((mask(addr, prefix), prefix))
}

/// `addr` with the bits past `prefix` cleared (exported as
/// [`crate::config::mask_address`]).
pub fn mask(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let m = u32::MAX
                .checked_shl(32 - u32::from(prefix.min(32)))
                .unwrap_or(0);
            IpAddr::V4((u32::from(a) & m).into())
        }
        IpAddr::V6(a) => {
            let m = u128::MAX
                .checked_shl(128 - u32::from(prefix.min(128)))
                .unwrap_or(0);
            IpAddr::V6((u128::from(a) & m).into())
        }
    }
}

fn int(
    ctx: &Ctx<'_>,
    key: &str,
    v: &Option<S<i64>>,
    min: i64,
    max: i64,
    default: i64,
) -> Result<i64, ConfigError> {
    match v {
        None => Ok(default),
        Some(s) => {
            let value = *s.get_ref();
            if (min..=max).contains(&value) {
                Ok(value)
            } else {
                Err(ctx.err_at(key, s, Problem::Range { value, min, max }))
            }
        }
    }
}

/// `[replication]`.
pub(super) fn build_replication(
    src: &Src<'_>,
    whole: &S<RawReplication>,
) -> Result<ReplicationConfig, ConfigError> {
    let ctx = Ctx {
        src,
        base: "replication".to_string(),
    };
    let r = whole.get_ref();
    let missing = |key: &str, why: &'static str| ctx.err(key, whole.span(), Problem::Missing(why));
    if r.node.is_none() {
        return Err(missing(
            "node",
            "give this unit's node id, 1 to 255, as node = 1 (the partner has another)",
        ));
    }
    let node = int(&ctx, "node", &r.node, 1, 255, 1)? as u8;
    if r.cluster.is_none() {
        return Err(missing(
            "cluster",
            "give the cluster id both units share, 1 to 65535, as cluster = 7",
        ));
    }
    let cluster = int(&ctx, "cluster", &r.cluster, 1, 65535, 1)? as u16;
    let Some(peer_text) = &r.peer else {
        return Err(missing(
            "peer",
            "give the partner's address (or a multicast group), as peer = \"198.51.100.2\" (port 6974 unless given)",
        ));
    };
    let peer = parse_replication_address(peer_text.get_ref())
        .map_err(|p| ctx.err_at("peer", peer_text, p))?;
    let listen = match &r.listen {
        Some(l) => {
            let listen =
                parse_replication_address(l.get_ref()).map_err(|p| ctx.err_at("listen", l, p))?;
            if listen.is_ipv4() != peer.is_ipv4() {
                let problem = Problem::ReplicationFamilies {
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
            SocketAddr::new(any, peer.port())
        }
    };
    let interface = match &r.interface {
        None => None,
        Some(i) => {
            check_ifname(i.get_ref()).map_err(|p| ctx.err_at("interface", i, p))?;
            Some(i.get_ref().clone())
        }
    };
    let key_file = match &r.key_file {
        Some(key) => Some(absolute(&ctx, "key_file", key)?),
        None => None,
    };
    let next_key_file = match &r.next_key_file {
        None => None,
        Some(k) => Some(absolute(&ctx, "next_key_file", k)?),
    };
    let format = match &r.format {
        None => ReplicationFormat::Tandem,
        Some(f) => match f.get_ref().as_str() {
            "tandem" => ReplicationFormat::Tandem,
            "conntrackd-ftfw" => ReplicationFormat::ConntrackdFtfw,
            "conntrackd-notrack" => ReplicationFormat::ConntrackdNotrack,
            other => {
                let problem = Problem::UnknownReplicationFormat(other.to_string());
                return Err(ctx.err_at("format", f, problem));
            }
        },
    };
    if key_file.is_none() && format == ReplicationFormat::Tandem {
        return Err(missing(
            "key_file",
            "give the key file `tandemd replication keygen` wrote, as key_file = \"/etc/tandemd/replication.key\" (the same file on both units)",
        ));
    }
    let mut ignore = Vec::new();
    if let Some(list) = &r.ignore {
        for item in list.get_ref() {
            ignore.push(parse_prefix(item.get_ref()).map_err(|p| ctx.err_at("ignore", item, p))?);
        }
    }
    let flush = Duration::from_millis(int(&ctx, "flush_ms", &r.flush_ms, 1, 50, 5)? as u64);
    let mbit = int(&ctx, "bulk_rate_mbit", &r.bulk_rate_mbit, 1, 100_000, 200)?;
    let max_flows = int(&ctx, "max_flows", &r.max_flows, 1024, 1 << 24, 4 << 20)? as usize;
    let refresh = match &r.refresh {
        None => Duration::from_secs(30),
        Some(s) => {
            let v = *s.get_ref();
            if !(0.0..=3600.0).contains(&v) {
                return Err(ctx.err_at("refresh", s, Problem::Duration(v)));
            }
            Duration::from_secs_f64(v)
        }
    };
    Ok(ReplicationConfig {
        node,
        cluster,
        listen,
        peer,
        interface,
        key_file,
        next_key_file,
        format,
        conntrack: r.conntrack.as_ref().is_none_or(|c| *c.get_ref()),
        ignore,
        flush,
        bulk_rate: mbit as u64 * 1_000_000,
        max_flows,
        refresh,
    })
}
