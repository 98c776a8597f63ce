//! A conntrackd entry ([`Attr`] list) to a [`Flow`] and back, as
//! conntrackd's `ct2msg` builds one from a kernel conntrack and its
//! external cache reads one back.
//!
//! - Original tuple: `NTA_IPV4`/`NTA_IPV6` and `NTA_PORT` (TCP, UDP, SCTP,
//!   DCCP; conntrackd omits the ports of a TCP entry without a state), or
//!   for ICMP and ICMPv6 `NTA_ICMP_ID` as the source "port" and
//!   `NTA_ICMP_TYPE << 8 | NTA_ICMP_CODE` as the destination's (the
//!   [`Tuple`] convention).
//! - Reply tuple: the original's inverse, then the NAT attributes as
//!   conntrackd writes them: `SNAT` is the reply's destination address,
//!   `DNAT` its source, `SPAT` its destination port, `DPAT` its source port.
//! - `NTA_TIMEOUT` seconds <-> [`Flow::lifetime_ms`]; `NTA_STATUS`'s low
//!   16 bits <-> [`Flow::status`]; `NTA_MARK`, `NTA_ZONE`; TCP, SCTP or
//!   DCCP state <-> [`Flow::state`].
//!
//! Not carried into a [`Flow`]: master tuples, NAT sequence adjustment,
//! SCTP verification tags, DCCP role, window scale, helper, labels,
//! SYNPROXY, status bits 16 and up.

use std::net::IpAddr;

use super::msg::{nta, Attr};
use crate::flow::{proto, Flow, Tuple, NO_BACKEND};

/// An entry that cannot be a [`Flow`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EntryError {
    /// An attribute every entry has is missing.
    #[error("entry without attribute {attr} (NTA_IPV4/NTA_IPV6 = 0/1, NTA_L4PROTO = 2)")]
    Missing {
        /// The `NTA_*` type missing.
        attr: u16,
    },
    /// A NAT attribute of the other address family than the tuple's.
    #[error("NAT attribute {attr} of the other address family than the entry's tuple")]
    FamilyMismatch {
        /// Its `NTA_*` type.
        attr: u16,
    },
}

/// DCCP's protocol number.
const DCCP: u8 = 33;

/// The protocols whose entries carry `NTA_PORT` (UDP-Lite: 136).
fn has_ports(p: u8) -> bool {
    matches!(p, proto::TCP | proto::UDP | proto::SCTP | DCCP | 136)
}

fn is_icmp(p: u8) -> bool {
    p == proto::ICMP || p == proto::ICMPV6
}

/// The [`Flow`] an entry describes. `default_lifetime_ms` stands in when
/// the entry has no `NTA_TIMEOUT` (the sender runs with `CommitTimeout`).
pub fn to_flow(attrs: &[Attr], default_lifetime_ms: u32) -> Result<Flow, EntryError> {
    let mut addrs: Option<(IpAddr, IpAddr)> = None;
    let mut l4 = None;
    let (mut sport, mut dport) = (0u16, 0u16);
    let (mut icmp_type, mut icmp_code, mut icmp_id) = (0u8, 0u8, 0u16);
    let (mut tcp_state, mut sctp_state, mut dccp_state) = (None, None, None);
    let mut status = 0u32;
    let mut timeout = None;
    let (mut mark, mut zone) = (0u32, 0u16);
    for a in attrs {
        match *a {
            Attr::Ipv4 { src, dst } => addrs = Some((src.into(), dst.into())),
            Attr::Ipv6 { src, dst } => addrs = Some((src.into(), dst.into())),
            Attr::L4Proto(p) => l4 = Some(p),
            Attr::Port { src, dst } => (sport, dport) = (src, dst),
            Attr::TcpState(s) => tcp_state = Some(s),
            Attr::SctpState(s) => sctp_state = Some(s),
            Attr::DccpState(s) => dccp_state = Some(s),
            Attr::Status(s) => status = s,
            Attr::Timeout(t) => timeout = Some(t),
            Attr::Mark(m) => mark = m,
            Attr::IcmpType(t) => icmp_type = t,
            Attr::IcmpCode(c) => icmp_code = c,
            Attr::IcmpId(i) => icmp_id = i,
            Attr::Zone(z) => zone = z,
            _ => {}
        }
    }
    let (src, dst) = addrs.ok_or(EntryError::Missing { attr: nta::IPV4 })?;
    let proto = l4.ok_or(EntryError::Missing { attr: nta::L4PROTO })?;
    // Only the protocol's own state and ports count (conntrackd sends no
    // others).
    let state = match proto {
        proto::TCP => tcp_state,
        proto::SCTP => sctp_state,
        DCCP => dccp_state,
        _ => None,
    }
    .unwrap_or(0);
    if !has_ports(proto) {
        (sport, dport) = (0, 0);
    }
    let original = if is_icmp(proto) {
        Tuple {
            src,
            dst,
            src_port: icmp_id,
            dst_port: (u16::from(icmp_type) << 8) | u16::from(icmp_code),
        }
    } else {
        Tuple {
            src,
            dst,
            src_port: sport,
            dst_port: dport,
        }
    };
    let mut reply = original.inverse(proto);
    let v4 = src.is_ipv4();
    for a in attrs {
        match *a {
            Attr::SnatIpv4(x) if v4 => reply.dst = x.into(),
            Attr::DnatIpv4(x) if v4 => reply.src = x.into(),
            Attr::SnatIpv6(x) if !v4 => reply.dst = x.into(),
            Attr::DnatIpv6(x) if !v4 => reply.src = x.into(),
            Attr::SnatIpv4(_) | Attr::DnatIpv4(_) | Attr::SnatIpv6(_) | Attr::DnatIpv6(_) => {
                return Err(EntryError::FamilyMismatch { attr: a.kind() })
            }
            Attr::SpatPort(p) if !is_icmp(proto) => reply.dst_port = p,
            Attr::DpatPort(p) if !is_icmp(proto) => reply.src_port = p,
            _ => {}
        }
    }
    Ok(Flow {
        proto,
        zone,
        original,
        reply,
        state,
        status: status as u16,
        lifetime_ms: timeout.map_or(default_lifetime_ms, |t| t.saturating_mul(1000)),
        backend: NO_BACKEND,
        mark,
        window: None,
    })
}

/// The entry conntrackd would send for `flow`, in `ct2msg`'s order:
/// addresses, status, protocol, its protocol's attributes, timeout (unless
/// `with_timeout` is false, as with `CommitTimeout`), mark, NAT, zone
/// (when not 0). The lifetime is rounded up to whole seconds. SCTP
/// verification tags are sent as 0 (a [`Flow`] does not keep them); with
/// [`Flow::window`] set, its window scales go as `NTA_TCP_WSCALE_*`.
pub fn from_flow(flow: &Flow, with_timeout: bool) -> Vec<Attr> {
    let o = &flow.original;
    let r = &flow.reply;
    let mut v = Vec::with_capacity(12);
    match (o.src, o.dst) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => v.push(Attr::Ipv4 { src, dst }),
        (src, dst) => v.push(Attr::Ipv6 {
            src: to_v6(src),
            dst: to_v6(dst),
        }),
    }
    v.push(Attr::Status(u32::from(flow.status)));
    v.push(Attr::L4Proto(flow.proto));
    let port = Attr::Port {
        src: o.src_port,
        dst: o.dst_port,
    };
    match flow.proto {
        proto::TCP => {
            v.push(port);
            v.push(Attr::TcpState(flow.state));
            if let Some(w) = flow.window {
                v.push(Attr::TcpWscaleOrig(w.scale[0]));
                v.push(Attr::TcpWscaleRepl(w.scale[1]));
            }
        }
        proto::SCTP => {
            v.push(port);
            v.push(Attr::SctpState(flow.state));
            v.push(Attr::SctpVtagOrig(0));
            v.push(Attr::SctpVtagRepl(0));
        }
        DCCP => {
            v.push(port);
            v.push(Attr::DccpState(flow.state));
            v.push(Attr::DccpRole(0));
        }
        proto::ICMP | proto::ICMPV6 => {
            v.push(Attr::IcmpType((o.dst_port >> 8) as u8));
            v.push(Attr::IcmpCode(o.dst_port as u8));
            v.push(Attr::IcmpId(o.src_port));
        }
        p if has_ports(p) => v.push(port),
        _ => {}
    }
    if with_timeout {
        v.push(Attr::Timeout(flow.lifetime_ms.div_ceil(1000)));
    }
    v.push(Attr::Mark(flow.mark));
    let plain = o.inverse(flow.proto);
    match (r.dst, r.src) {
        (IpAddr::V4(d), IpAddr::V4(s)) => {
            if r.dst != plain.dst {
                v.push(Attr::SnatIpv4(d));
            }
            if r.src != plain.src {
                v.push(Attr::DnatIpv4(s));
            }
        }
        (d, s) => {
            if r.dst != plain.dst {
                v.push(Attr::SnatIpv6(to_v6(d)));
            }
            if r.src != plain.src {
                v.push(Attr::DnatIpv6(to_v6(s)));
            }
        }
    }
    if !is_icmp(flow.proto) {
        if r.dst_port != plain.dst_port {
            v.push(Attr::SpatPort(r.dst_port));
        }
        if r.src_port != plain.src_port {
            v.push(Attr::DpatPort(r.src_port));
        }
    }
    if flow.zone != 0 {
        v.push(Attr::Zone(flow.zone));
    }
    v
}

fn to_v6(a: IpAddr) -> std::net::Ipv6Addr {
    match a {
        IpAddr::V4(a) => a.to_ipv6_mapped(),
        IpAddr::V6(a) => a,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::status;
    use std::net::Ipv4Addr;

    fn ip(a: [u8; 4]) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(a))
    }

    #[test]
    fn dnat_and_snat_build_the_reply_tuple() {
        let mut f = Flow::untranslated(
            proto::TCP,
            Tuple {
                src: ip([198, 51, 100, 13]),
                dst: ip([203, 0, 113, 80]),
                src_port: 40002,
                dst_port: 80,
            },
            3,
            600_000,
        );
        f.reply.src = ip([203, 0, 113, 100]);
        f.reply.src_port = 8080;
        f.status |= status::DST_NAT | status::DST_NAT_DONE;
        let attrs = from_flow(&f, true);
        assert!(attrs.contains(&Attr::DnatIpv4(Ipv4Addr::new(203, 0, 113, 100))));
        assert!(attrs.contains(&Attr::DpatPort(8080)));
        assert!(!attrs
            .iter()
            .any(|a| matches!(a, Attr::SnatIpv4(_) | Attr::SpatPort(_))));
        assert_eq!(to_flow(&attrs, 0).unwrap(), f);
    }

    #[test]
    fn icmp_tuple_convention_and_missing_timeout() {
        let f = Flow::untranslated(
            proto::ICMP,
            Tuple {
                src: ip([198, 51, 100, 12]),
                dst: ip([203, 0, 113, 22]),
                src_port: 4660,
                dst_port: 8 << 8,
            },
            0,
            30_000,
        );
        let attrs = from_flow(&f, false);
        assert!(attrs.contains(&Attr::IcmpId(4660)) && attrs.contains(&Attr::IcmpType(8)));
        let back = to_flow(&attrs, 12_000).unwrap();
        assert_eq!(back.lifetime_ms, 12_000);
        assert_eq!(back.reply.dst_port, 0, "echo reply type in the reply tuple");
        assert!(back.same_state(&f));
    }

    #[test]
    fn entries_without_tuple_or_with_mixed_families_are_refused() {
        assert_eq!(
            to_flow(&[Attr::L4Proto(6)], 0),
            Err(EntryError::Missing { attr: nta::IPV4 })
        );
        let a = [
            Attr::Ipv4 {
                src: Ipv4Addr::LOCALHOST,
                dst: Ipv4Addr::LOCALHOST,
            },
            Attr::L4Proto(17),
            Attr::SnatIpv6(std::net::Ipv6Addr::LOCALHOST),
        ];
        assert_eq!(
            to_flow(&a, 0),
            Err(EntryError::FamilyMismatch {
                attr: nta::SNAT_IPV6
            })
        );
    }
}
