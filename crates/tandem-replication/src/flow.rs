//! The replicated L4 connection: what a connection-tracking table (the
//! Linux kernel's, a load balancer's, a firewall's) knows of one flow, in
//! the form every part of this crate shares.
//!
//! A flow is identified by its [`FlowKey`]: protocol, zone and original
//! tuple (as the kernel's conntrack does). Its translated (reply) tuple,
//! protocol state, status flags, remaining idle lifetime and real-server
//! id travel with it. No absolute clock is part of a flow: the lifetime
//! is what remains, in milliseconds, when it is sent.

use std::net::IpAddr;

/// IANA protocol numbers of the protocols a flow names.
pub mod proto {
    /// ICMP.
    pub const ICMP: u8 = 1;
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
    /// ICMPv6.
    pub const ICMPV6: u8 = 58;
    /// SCTP.
    pub const SCTP: u8 = 132;
}

/// Connection-tracking status bits ([`Flow::status`]), numbered as the
/// Linux kernel's `IPS_*` bits (`include/uapi/linux/netfilter/nf_conntrack_common.h`),
/// so a kernel entry's status travels unchanged. Bits 16 and up of the
/// kernel's status are not replicated.
pub mod status {
    /// `IPS_EXPECTED`: the flow was expected (a helper's related flow).
    pub const EXPECTED: u16 = 1 << 0;
    /// `IPS_SEEN_REPLY`: packets were seen both ways.
    pub const SEEN_REPLY: u16 = 1 << 1;
    /// `IPS_ASSURED`: the flow will not be dropped early under pressure.
    pub const ASSURED: u16 = 1 << 2;
    /// `IPS_CONFIRMED`: in the table (always set for a replicated flow).
    pub const CONFIRMED: u16 = 1 << 3;
    /// `IPS_SRC_NAT`: the source is translated.
    pub const SRC_NAT: u16 = 1 << 4;
    /// `IPS_DST_NAT`: the destination is translated.
    pub const DST_NAT: u16 = 1 << 5;
    /// `IPS_SEQ_ADJUST`: TCP sequence numbers are adjusted (a helper).
    pub const SEQ_ADJUST: u16 = 1 << 6;
    /// `IPS_SRC_NAT_DONE`.
    pub const SRC_NAT_DONE: u16 = 1 << 7;
    /// `IPS_DST_NAT_DONE`.
    pub const DST_NAT_DONE: u16 = 1 << 8;
    /// `IPS_FIXED_TIMEOUT`: the timeout does not change with the state.
    pub const FIXED_TIMEOUT: u16 = 1 << 10;
}

/// No real server: the flow is not load-balanced (a plain firewall or
/// router flow), or the sender does not know.
pub const NO_BACKEND: u16 = 0xffff;

/// One direction's addresses and ports. For ICMP and ICMPv6 the "ports"
/// are the identifier (`src_port`) and `type << 8 | code` (`dst_port`),
/// as conntrack keys an ICMP flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tuple {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Source port (ICMP: identifier).
    pub src_port: u16,
    /// Destination port (ICMP: `type << 8 | code`).
    pub dst_port: u16,
}

impl Tuple {
    /// The same flow seen from the other end: addresses and ports swapped
    /// (ICMP: the identifier kept, the request type turned into its
    /// reply's, see [`icmp_reply_type`]).
    pub fn inverse(&self, proto: u8) -> Tuple {
        match proto {
            self::proto::ICMP | self::proto::ICMPV6 => {
                let (ty, code) = ((self.dst_port >> 8) as u8, self.dst_port as u8);
                let reply = icmp_reply_type(proto, ty).unwrap_or(ty);
                Tuple {
                    src: self.dst,
                    dst: self.src,
                    src_port: self.src_port,
                    dst_port: (u16::from(reply) << 8) | u16::from(code),
                }
            }
            _ => Tuple {
                src: self.dst,
                dst: self.src,
                src_port: self.dst_port,
                dst_port: self.src_port,
            },
        }
    }

    /// Both addresses are IPv4.
    pub fn is_v4(&self) -> bool {
        self.src.is_ipv4() && self.dst.is_ipv4()
    }
}

/// The reply type of an ICMP (or ICMPv6) query type, as conntrack pairs
/// them (echo, timestamp, information, address mask; ICMPv6 echo and
/// node information), or `None` for a type that is not a query.
pub fn icmp_reply_type(proto: u8, ty: u8) -> Option<u8> {
    let pairs: &[(u8, u8)] = if proto == self::proto::ICMPV6 {
        &[(128, 129), (139, 140)]
    } else {
        &[(8, 0), (13, 14), (15, 16), (17, 18), (10, 9)]
    };
    pairs.iter().find_map(|&(a, b)| {
        if a == ty {
            Some(b)
        } else if b == ty {
            Some(a)
        } else {
            None
        }
    })
}

/// What identifies a flow in a table: protocol, zone, original tuple.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowKey {
    /// IANA protocol number ([`proto`]).
    pub proto: u8,
    /// Connection-tracking zone (0 unless zones are used).
    pub zone: u16,
    /// The original direction's tuple.
    pub original: Tuple,
}

/// TCP window tracking for a strict firewall: what the kernel's conntrack
/// keeps per direction so that a picked-up flow's packets are checked
/// against the window, not accepted loosely. Index 0 is the original
/// direction, 1 the reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TcpWindow {
    /// Window scale per direction.
    pub scale: [u8; 2],
    /// conntrack's per-direction TCP flags (`IP_CT_TCP_FLAG_*`: window
    /// scale seen, SACK permitted, close init, be liberal, ...).
    pub flags: [u8; 2],
    /// Highest sequence number sent plus length (`td_end`), per direction.
    pub end: [u32; 2],
    /// Highest acknowledged plus window (`td_maxend`), per direction.
    pub max_end: [u32; 2],
    /// Largest window seen (`td_maxwin`), per direction.
    pub max_window: [u32; 2],
}

/// One connection, as replicated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Flow {
    /// IANA protocol number ([`proto`]).
    pub proto: u8,
    /// Connection-tracking zone (0 unless zones are used).
    pub zone: u16,
    /// The original direction (client to virtual address).
    pub original: Tuple,
    /// The reply direction as translated: equal to
    /// `original.inverse(proto)` for a flow without NAT; with destination
    /// NAT its source is the real server.
    pub reply: Tuple,
    /// Protocol state, numbered as the kernel's conntrack numbers it (TCP:
    /// 0 none, 1 SYN_SENT, 2 SYN_RECV, 3 ESTABLISHED, 4 FIN_WAIT,
    /// 5 CLOSE_WAIT, 6 LAST_ACK, 7 TIME_WAIT, 8 CLOSE, 9 SYN_SENT2; SCTP:
    /// its `SCTP_CONNTRACK_*`; 0 for UDP and ICMP).
    pub state: u8,
    /// Status bits ([`status`]).
    pub status: u16,
    /// Remaining idle lifetime, in milliseconds, when the flow was read.
    pub lifetime_ms: u32,
    /// The real server this flow goes to, [`NO_BACKEND`] if none.
    pub backend: u16,
    /// The connection mark (0 if unused).
    pub mark: u32,
    /// TCP window tracking, for strict firewalls; `None`: not tracked (the
    /// receiver picks the flow up loosely).
    pub window: Option<TcpWindow>,
}

impl Flow {
    /// The flow's key.
    pub fn key(&self) -> FlowKey {
        FlowKey {
            proto: self.proto,
            zone: self.zone,
            original: self.original,
        }
    }

    /// A flow without NAT: the reply tuple is the original's inverse.
    pub fn untranslated(proto: u8, original: Tuple, state: u8, lifetime_ms: u32) -> Flow {
        Flow {
            proto,
            zone: 0,
            original,
            reply: original.inverse(proto),
            state,
            status: status::CONFIRMED,
            lifetime_ms,
            backend: NO_BACKEND,
            mark: 0,
            window: None,
        }
    }

    /// Its replicated fields are equal to `other`'s, apart from the
    /// running lifetime (which is not compared: it runs down on each side).
    pub fn same_state(&self, other: &Flow) -> bool {
        Flow {
            lifetime_ms: 0,
            ..*self
        } == Flow {
            lifetime_ms: 0,
            ..*other
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn v4(a: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, a))
    }

    #[test]
    fn inverse_swaps_ports_and_pairs_icmp_types() {
        let t = Tuple {
            src: v4(1),
            dst: v4(2),
            src_port: 40000,
            dst_port: 80,
        };
        let r = t.inverse(proto::TCP);
        assert_eq!(
            (r.src, r.dst, r.src_port, r.dst_port),
            (v4(2), v4(1), 80, 40000)
        );
        let echo = Tuple {
            src: v4(1),
            dst: v4(2),
            src_port: 7,
            dst_port: 8 << 8,
        };
        let r = echo.inverse(proto::ICMP);
        assert_eq!((r.src_port, r.dst_port), (7, 0));
        assert_eq!(r.inverse(proto::ICMP), echo);
        assert_eq!(icmp_reply_type(proto::ICMPV6, 128), Some(129));
        assert_eq!(icmp_reply_type(proto::ICMP, 3), None);
    }
}
