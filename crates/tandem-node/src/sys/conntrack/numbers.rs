//! The kernel's numbers: protocols, status bits, TCP states and flags.

/// IANA protocol numbers.
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

/// Status bits (`IPS_*`, `include/uapi/linux/netfilter/nf_conntrack_common.h`).
pub mod status {
    /// `IPS_EXPECTED`.
    pub const EXPECTED: u32 = 1 << 0;
    /// `IPS_SEEN_REPLY`.
    pub const SEEN_REPLY: u32 = 1 << 1;
    /// `IPS_ASSURED`.
    pub const ASSURED: u32 = 1 << 2;
    /// `IPS_CONFIRMED`.
    pub const CONFIRMED: u32 = 1 << 3;
    /// `IPS_SRC_NAT`.
    pub const SRC_NAT: u32 = 1 << 4;
    /// `IPS_DST_NAT`.
    pub const DST_NAT: u32 = 1 << 5;
    /// `IPS_SEQ_ADJUST`.
    pub const SEQ_ADJUST: u32 = 1 << 6;
    /// `IPS_SRC_NAT_DONE`.
    pub const SRC_NAT_DONE: u32 = 1 << 7;
    /// `IPS_DST_NAT_DONE`.
    pub const DST_NAT_DONE: u32 = 1 << 8;
    /// `IPS_DYING`.
    pub const DYING: u32 = 1 << 9;
    /// `IPS_FIXED_TIMEOUT`.
    pub const FIXED_TIMEOUT: u32 = 1 << 10;
    /// `IPS_TEMPLATE`.
    pub const TEMPLATE: u32 = 1 << 11;
    /// `IPS_UNTRACKED`.
    pub const UNTRACKED: u32 = 1 << 12;
    /// `IPS_HELPER`.
    pub const HELPER: u32 = 1 << 13;
    /// `IPS_OFFLOAD`.
    pub const OFFLOAD: u32 = 1 << 14;
    /// `IPS_HW_OFFLOAD`.
    pub const HW_OFFLOAD: u32 = 1 << 15;
    /// The bits the kernel lets ctnetlink set (`~IPS_UNCHANGEABLE_MASK`);
    /// the others are left out of what is sent (the kernel would ignore
    /// them).
    pub const SETTABLE: u32 = SEEN_REPLY | ASSURED | FIXED_TIMEOUT | HELPER;
}

/// TCP states (`TCP_CONNTRACK_*`), for
/// [`Entry::state`](crate::sys::conntrack::Entry::state).
pub mod tcp_state {
    /// `TCP_CONNTRACK_NONE`.
    pub const NONE: u8 = 0;
    /// `TCP_CONNTRACK_SYN_SENT`.
    pub const SYN_SENT: u8 = 1;
    /// `TCP_CONNTRACK_SYN_RECV`.
    pub const SYN_RECV: u8 = 2;
    /// `TCP_CONNTRACK_ESTABLISHED`.
    pub const ESTABLISHED: u8 = 3;
    /// `TCP_CONNTRACK_FIN_WAIT`.
    pub const FIN_WAIT: u8 = 4;
    /// `TCP_CONNTRACK_CLOSE_WAIT`.
    pub const CLOSE_WAIT: u8 = 5;
    /// `TCP_CONNTRACK_LAST_ACK`.
    pub const LAST_ACK: u8 = 6;
    /// `TCP_CONNTRACK_TIME_WAIT`.
    pub const TIME_WAIT: u8 = 7;
    /// `TCP_CONNTRACK_CLOSE`.
    pub const CLOSE: u8 = 8;
    /// `TCP_CONNTRACK_SYN_SENT2`.
    pub const SYN_SENT2: u8 = 9;
}

/// conntrack's per-direction TCP flags (`IP_CT_TCP_FLAG_*`), for
/// [`TcpInfo::flags`](crate::sys::conntrack::TcpInfo::flags).
pub mod tcp_flag {
    /// `IP_CT_TCP_FLAG_WINDOW_SCALE`: the window scale option was seen
    /// (the kernel takes the window scales,
    /// [`TcpInfo::wscale`](crate::sys::conntrack::TcpInfo::wscale), only
    /// when both directions have it).
    pub const WINDOW_SCALE: u8 = 0x01;
    /// `IP_CT_TCP_FLAG_SACK_PERM`.
    pub const SACK_PERM: u8 = 0x02;
    /// `IP_CT_TCP_FLAG_CLOSE_INIT`.
    pub const CLOSE_INIT: u8 = 0x04;
    /// `IP_CT_TCP_FLAG_BE_LIBERAL`: no window checks for this direction.
    pub const BE_LIBERAL: u8 = 0x08;
    /// `IP_CT_TCP_FLAG_DATA_UNACKNOWLEDGED`.
    pub const DATA_UNACKNOWLEDGED: u8 = 0x10;
    /// `IP_CT_TCP_FLAG_MAXACK_SET`.
    pub const MAXACK_SET: u8 = 0x20;
}
