//! A connection-tracking entry as the host's table (the Linux kernel's,
//! over ctnetlink) holds it: plain data the host reads and installs
//! ([`crate::sys::conntrack`]) and the Node's replication adapter turns
//! into replicated flows and back. Nothing here does I/O.

use std::net::IpAddr;

/// One direction's addresses and ports. For ICMP and ICMPv6 the "ports"
/// are the identifier (`src_port`) and `type << 8 | code` (`dst_port`).
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

/// TCP details of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TcpInfo {
    /// Window scale, original and reply direction.
    pub wscale: [u8; 2],
    /// conntrack's TCP flags (`IP_CT_TCP_FLAG_*`), original and reply.
    pub flags: [u8; 2],
}

/// One entry of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Entry {
    /// IANA protocol number.
    pub proto: u8,
    /// Zone (0 unless zones are used).
    pub zone: u16,
    /// The original direction.
    pub orig: Tuple,
    /// The reply direction (translated, with NAT).
    pub reply: Tuple,
    /// Protocol state (TCP: `TCP_CONNTRACK_*`; SCTP: `SCTP_CONNTRACK_*`;
    /// 0 otherwise).
    pub state: u8,
    /// Status bits (`IPS_*`).
    pub status: u32,
    /// Seconds until the entry expires.
    pub timeout_s: u32,
    /// Connection mark.
    pub mark: u32,
    /// TCP details, for a TCP entry.
    pub tcp: Option<TcpInfo>,
    /// The kernel's id of the entry, when it reported one.
    pub id: Option<u32>,
}

/// A change of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A new entry.
    New(Entry),
    /// An entry changed.
    Update(Entry),
    /// An entry was removed.
    Destroy(Entry),
}
