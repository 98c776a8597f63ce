//! conntrackd's attributes (`struct netattr` TLVs, `enum nta_attr`): every
//! `NTA_*` type of conntrackd 1.4.7 and later, with conntrackd's size rules
//! (`src/parse.c`: a fixed-size attribute must have exactly its size; an
//! unknown type refuses the message).

use std::net::{Ipv4Addr, Ipv6Addr};

use super::msg::{align4, DecodeError, ATTR_HEADER_LEN};

/// Longest `NTA_HELPER_NAME` conntrackd accepts: its `nta_len` (header
/// included) may not exceed `NFCT_HELPER_NAME_MAX` (16).
pub const HELPER_NAME_MAX_LEN: usize = 16;
/// Longest `NTA_LABELS` conntrackd accepts, `nta_len` included.
pub const LABELS_MAX_LEN: usize = ATTR_HEADER_LEN + 1024;

/// `NTA_*` attribute types.
#[allow(missing_docs)]
pub mod nta {
    pub const IPV4: u16 = 0;
    pub const IPV6: u16 = 1;
    pub const L4PROTO: u16 = 2;
    pub const PORT: u16 = 3;
    pub const TCP_STATE: u16 = 4;
    pub const STATUS: u16 = 5;
    pub const TIMEOUT: u16 = 6;
    pub const MARK: u16 = 7;
    pub const MASTER_IPV4: u16 = 8;
    pub const MASTER_IPV6: u16 = 9;
    pub const MASTER_L4PROTO: u16 = 10;
    pub const MASTER_PORT: u16 = 11;
    pub const SNAT_IPV4: u16 = 12;
    pub const DNAT_IPV4: u16 = 13;
    pub const SPAT_PORT: u16 = 14;
    pub const DPAT_PORT: u16 = 15;
    pub const NAT_SEQ_ADJ: u16 = 16;
    pub const SCTP_STATE: u16 = 17;
    pub const SCTP_VTAG_ORIG: u16 = 18;
    pub const SCTP_VTAG_REPL: u16 = 19;
    pub const DCCP_STATE: u16 = 20;
    pub const DCCP_ROLE: u16 = 21;
    pub const ICMP_TYPE: u16 = 22;
    pub const ICMP_CODE: u16 = 23;
    pub const ICMP_ID: u16 = 24;
    pub const TCP_WSCALE_ORIG: u16 = 25;
    pub const TCP_WSCALE_REPL: u16 = 26;
    pub const HELPER_NAME: u16 = 27;
    pub const LABELS: u16 = 28;
    pub const SNAT_IPV6: u16 = 29;
    pub const DNAT_IPV6: u16 = 30;
    pub const SYNPROXY: u16 = 31;
    pub const ZONE: u16 = 32;
    /// `NTA_MAX`: conntrackd refuses a message with a type from here up.
    pub const MAX: u16 = 33;
}

/// One attribute, as on the wire: its type and its payload (without
/// padding).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawAttr<'a> {
    /// `nta_attr`.
    pub attr: u16,
    /// The payload, `nta_len - 4` bytes.
    pub payload: &'a [u8],
}

pub(super) fn be16(b: &[u8], at: usize) -> u16 {
    match b.get(at..at + 2) {
        Some(s) => u16::from_be_bytes([s[0], s[1]]),
        None => 0,
    }
}

pub(super) fn be32(b: &[u8], at: usize) -> u32 {
    match b.get(at..at + 4) {
        Some(s) => u32::from_be_bytes([s[0], s[1], s[2], s[3]]),
        None => 0,
    }
}
/// One attribute, decoded. Multi-byte values are numbers (the wire's
/// byte order is the codec's business).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Attr {
    /// `NTA_IPV4`: original source and destination.
    Ipv4 {
        /// Source.
        src: Ipv4Addr,
        /// Destination.
        dst: Ipv4Addr,
    },
    /// `NTA_IPV6`: original source and destination.
    Ipv6 {
        /// Source.
        src: Ipv6Addr,
        /// Destination.
        dst: Ipv6Addr,
    },
    /// `NTA_L4PROTO`: IANA protocol number.
    L4Proto(u8),
    /// `NTA_PORT`: original source and destination ports.
    Port {
        /// Source port.
        src: u16,
        /// Destination port.
        dst: u16,
    },
    /// `NTA_TCP_STATE`: `TCP_CONNTRACK_*`.
    TcpState(u8),
    /// `NTA_STATUS`: `IPS_*` bits.
    Status(u32),
    /// `NTA_TIMEOUT`: seconds left (absent with `CommitTimeout`).
    Timeout(u32),
    /// `NTA_MARK`.
    Mark(u32),
    /// `NTA_MASTER_IPV4`: the master's original addresses (a related flow).
    MasterIpv4 {
        /// Source.
        src: Ipv4Addr,
        /// Destination.
        dst: Ipv4Addr,
    },
    /// `NTA_MASTER_IPV6`.
    MasterIpv6 {
        /// Source.
        src: Ipv6Addr,
        /// Destination.
        dst: Ipv6Addr,
    },
    /// `NTA_MASTER_L4PROTO`.
    MasterL4Proto(u8),
    /// `NTA_MASTER_PORT`.
    MasterPort {
        /// Source port.
        src: u16,
        /// Destination port.
        dst: u16,
    },
    /// `NTA_SNAT_IPV4`: the reply's destination (source NAT).
    SnatIpv4(Ipv4Addr),
    /// `NTA_DNAT_IPV4`: the reply's source (destination NAT).
    DnatIpv4(Ipv4Addr),
    /// `NTA_SPAT_PORT`: the reply's destination port (little endian on
    /// the wire).
    SpatPort(u16),
    /// `NTA_DPAT_PORT`: the reply's source port (little endian on the wire).
    DpatPort(u16),
    /// `NTA_NAT_SEQ_ADJ`: original then reply correction position, offset
    /// before, offset after.
    NatSeqAdj([u32; 6]),
    /// `NTA_SCTP_STATE`: `SCTP_CONNTRACK_*`.
    SctpState(u8),
    /// `NTA_SCTP_VTAG_ORIG`.
    SctpVtagOrig(u32),
    /// `NTA_SCTP_VTAG_REPL`.
    SctpVtagRepl(u32),
    /// `NTA_DCCP_STATE`.
    DccpState(u8),
    /// `NTA_DCCP_ROLE`.
    DccpRole(u8),
    /// `NTA_ICMP_TYPE`.
    IcmpType(u8),
    /// `NTA_ICMP_CODE`.
    IcmpCode(u8),
    /// `NTA_ICMP_ID` (little endian on the wire).
    IcmpId(u16),
    /// `NTA_TCP_WSCALE_ORIG` (sent with `TCPWindowTracking on`).
    TcpWscaleOrig(u8),
    /// `NTA_TCP_WSCALE_REPL`.
    TcpWscaleRepl(u8),
    /// `NTA_HELPER_NAME`: the bytes as sent (conntrackd includes the NUL).
    HelperName(Vec<u8>),
    /// `NTA_LABELS`: connlabel bitmap words.
    Labels(Vec<u32>),
    /// `NTA_SNAT_IPV6`: the reply's destination.
    SnatIpv6(Ipv6Addr),
    /// `NTA_DNAT_IPV6`: the reply's source.
    DnatIpv6(Ipv6Addr),
    /// `NTA_SYNPROXY`: its, isn, tsoff (Linux reports one, zero, for
    /// every flow: 6.x kernels).
    Synproxy {
        /// `its`.
        its: u32,
        /// `isn`.
        isn: u32,
        /// `tsoff`.
        tsoff: u32,
    },
    /// `NTA_ZONE`: conntrack zone (big endian).
    Zone(u16),
}

fn v4(b: &[u8], at: usize) -> Ipv4Addr {
    Ipv4Addr::from(be32(b, at))
}

fn v6(b: &[u8], at: usize) -> Ipv6Addr {
    let mut o = [0u8; 16];
    if let Some(s) = b.get(at..at + 16) {
        o.copy_from_slice(s);
    }
    Ipv6Addr::from(o)
}

fn le16(b: &[u8]) -> u16 {
    match b.get(..2) {
        Some(s) => u16::from_le_bytes([s[0], s[1]]),
        None => 0,
    }
}

/// The payload size conntrackd requires of a fixed-size attribute.
fn fixed_size(attr: u16) -> Option<usize> {
    Some(match attr {
        nta::IPV4 | nta::MASTER_IPV4 => 8,
        nta::IPV6 | nta::MASTER_IPV6 => 32,
        nta::L4PROTO
        | nta::TCP_STATE
        | nta::MASTER_L4PROTO
        | nta::SCTP_STATE
        | nta::DCCP_STATE
        | nta::DCCP_ROLE
        | nta::ICMP_TYPE
        | nta::ICMP_CODE
        | nta::TCP_WSCALE_ORIG
        | nta::TCP_WSCALE_REPL => 1,
        nta::SPAT_PORT | nta::DPAT_PORT | nta::ICMP_ID | nta::ZONE => 2,
        nta::PORT | nta::MASTER_PORT => 4,
        nta::STATUS
        | nta::TIMEOUT
        | nta::MARK
        | nta::SNAT_IPV4
        | nta::DNAT_IPV4
        | nta::SCTP_VTAG_ORIG
        | nta::SCTP_VTAG_REPL => 4,
        nta::NAT_SEQ_ADJ => 24,
        nta::SNAT_IPV6 | nta::DNAT_IPV6 => 16,
        nta::SYNPROXY => 12,
        _ => return None,
    })
}

impl Attr {
    /// Decodes one attribute with conntrackd's rules: a known type, the
    /// exact size for fixed-size ones, the limits for the others.
    pub fn parse(raw: RawAttr<'_>) -> Result<Attr, DecodeError> {
        let p = raw.payload;
        let nta_len = (p.len() + ATTR_HEADER_LEN) as u16;
        if raw.attr >= nta::MAX {
            return Err(DecodeError::UnknownAttr { attr: raw.attr });
        }
        if let Some(size) = fixed_size(raw.attr) {
            if p.len() != size {
                return Err(DecodeError::AttrLength {
                    attr: raw.attr,
                    len: nta_len,
                    expected: (size + ATTR_HEADER_LEN) as u16,
                });
            }
        }
        let u8_ = p.first().copied().unwrap_or(0);
        Ok(match raw.attr {
            nta::IPV4 => Attr::Ipv4 {
                src: v4(p, 0),
                dst: v4(p, 4),
            },
            nta::IPV6 => Attr::Ipv6 {
                src: v6(p, 0),
                dst: v6(p, 16),
            },
            nta::L4PROTO => Attr::L4Proto(u8_),
            nta::PORT => Attr::Port {
                src: be16(p, 0),
                dst: be16(p, 2),
            },
            nta::TCP_STATE => Attr::TcpState(u8_),
            nta::STATUS => Attr::Status(be32(p, 0)),
            nta::TIMEOUT => Attr::Timeout(be32(p, 0)),
            nta::MARK => Attr::Mark(be32(p, 0)),
            nta::MASTER_IPV4 => Attr::MasterIpv4 {
                src: v4(p, 0),
                dst: v4(p, 4),
            },
            nta::MASTER_IPV6 => Attr::MasterIpv6 {
                src: v6(p, 0),
                dst: v6(p, 16),
            },
            nta::MASTER_L4PROTO => Attr::MasterL4Proto(u8_),
            nta::MASTER_PORT => Attr::MasterPort {
                src: be16(p, 0),
                dst: be16(p, 2),
            },
            nta::SNAT_IPV4 => Attr::SnatIpv4(v4(p, 0)),
            nta::DNAT_IPV4 => Attr::DnatIpv4(v4(p, 0)),
            nta::SPAT_PORT => Attr::SpatPort(le16(p)),
            nta::DPAT_PORT => Attr::DpatPort(le16(p)),
            nta::NAT_SEQ_ADJ => {
                let mut v = [0u32; 6];
                for (i, w) in v.iter_mut().enumerate() {
                    *w = be32(p, i * 4);
                }
                Attr::NatSeqAdj(v)
            }
            nta::SCTP_STATE => Attr::SctpState(u8_),
            nta::SCTP_VTAG_ORIG => Attr::SctpVtagOrig(be32(p, 0)),
            nta::SCTP_VTAG_REPL => Attr::SctpVtagRepl(be32(p, 0)),
            nta::DCCP_STATE => Attr::DccpState(u8_),
            nta::DCCP_ROLE => Attr::DccpRole(u8_),
            nta::ICMP_TYPE => Attr::IcmpType(u8_),
            nta::ICMP_CODE => Attr::IcmpCode(u8_),
            nta::ICMP_ID => Attr::IcmpId(le16(p)),
            nta::TCP_WSCALE_ORIG => Attr::TcpWscaleOrig(u8_),
            nta::TCP_WSCALE_REPL => Attr::TcpWscaleRepl(u8_),
            nta::HELPER_NAME => {
                if usize::from(nta_len) > HELPER_NAME_MAX_LEN {
                    return Err(DecodeError::AttrSize {
                        attr: raw.attr,
                        len: nta_len,
                        max: HELPER_NAME_MAX_LEN,
                    });
                }
                Attr::HelperName(p.to_vec())
            }
            nta::LABELS => {
                if usize::from(nta_len) > LABELS_MAX_LEN || p.len() % 4 != 0 {
                    return Err(DecodeError::AttrSize {
                        attr: raw.attr,
                        len: nta_len,
                        max: LABELS_MAX_LEN,
                    });
                }
                Attr::Labels((0..p.len() / 4).map(|i| be32(p, i * 4)).collect())
            }
            nta::SNAT_IPV6 => Attr::SnatIpv6(v6(p, 0)),
            nta::DNAT_IPV6 => Attr::DnatIpv6(v6(p, 0)),
            nta::SYNPROXY => Attr::Synproxy {
                its: be32(p, 0),
                isn: be32(p, 4),
                tsoff: be32(p, 8),
            },
            _ => Attr::Zone(be16(p, 0)),
        })
    }

    /// Its `NTA_*` type.
    pub fn kind(&self) -> u16 {
        match self {
            Attr::Ipv4 { .. } => nta::IPV4,
            Attr::Ipv6 { .. } => nta::IPV6,
            Attr::L4Proto(_) => nta::L4PROTO,
            Attr::Port { .. } => nta::PORT,
            Attr::TcpState(_) => nta::TCP_STATE,
            Attr::Status(_) => nta::STATUS,
            Attr::Timeout(_) => nta::TIMEOUT,
            Attr::Mark(_) => nta::MARK,
            Attr::MasterIpv4 { .. } => nta::MASTER_IPV4,
            Attr::MasterIpv6 { .. } => nta::MASTER_IPV6,
            Attr::MasterL4Proto(_) => nta::MASTER_L4PROTO,
            Attr::MasterPort { .. } => nta::MASTER_PORT,
            Attr::SnatIpv4(_) => nta::SNAT_IPV4,
            Attr::DnatIpv4(_) => nta::DNAT_IPV4,
            Attr::SpatPort(_) => nta::SPAT_PORT,
            Attr::DpatPort(_) => nta::DPAT_PORT,
            Attr::NatSeqAdj(_) => nta::NAT_SEQ_ADJ,
            Attr::SctpState(_) => nta::SCTP_STATE,
            Attr::SctpVtagOrig(_) => nta::SCTP_VTAG_ORIG,
            Attr::SctpVtagRepl(_) => nta::SCTP_VTAG_REPL,
            Attr::DccpState(_) => nta::DCCP_STATE,
            Attr::DccpRole(_) => nta::DCCP_ROLE,
            Attr::IcmpType(_) => nta::ICMP_TYPE,
            Attr::IcmpCode(_) => nta::ICMP_CODE,
            Attr::IcmpId(_) => nta::ICMP_ID,
            Attr::TcpWscaleOrig(_) => nta::TCP_WSCALE_ORIG,
            Attr::TcpWscaleRepl(_) => nta::TCP_WSCALE_REPL,
            Attr::HelperName(_) => nta::HELPER_NAME,
            Attr::Labels(_) => nta::LABELS,
            Attr::SnatIpv6(_) => nta::SNAT_IPV6,
            Attr::DnatIpv6(_) => nta::DNAT_IPV6,
            Attr::Synproxy { .. } => nta::SYNPROXY,
            Attr::Zone(_) => nta::ZONE,
        }
    }

    fn payload_len(&self) -> usize {
        match self {
            Attr::HelperName(v) => v.len(),
            Attr::Labels(v) => v.len() * 4,
            a => fixed_size(a.kind()).unwrap_or(0),
        }
    }

    /// Bytes on the wire, header and padding included.
    pub fn wire_len(&self) -> usize {
        align4(ATTR_HEADER_LEN + self.payload_len())
    }

    /// Appends the attribute (header, payload, zero padding).
    pub fn emit(&self, out: &mut Vec<u8>) {
        let len = ATTR_HEADER_LEN + self.payload_len();
        out.extend_from_slice(&(len as u16).to_be_bytes());
        out.extend_from_slice(&self.kind().to_be_bytes());
        match self {
            Attr::Ipv4 { src, dst } | Attr::MasterIpv4 { src, dst } => {
                out.extend_from_slice(&src.octets());
                out.extend_from_slice(&dst.octets());
            }
            Attr::Ipv6 { src, dst } | Attr::MasterIpv6 { src, dst } => {
                out.extend_from_slice(&src.octets());
                out.extend_from_slice(&dst.octets());
            }
            Attr::L4Proto(v)
            | Attr::TcpState(v)
            | Attr::MasterL4Proto(v)
            | Attr::SctpState(v)
            | Attr::DccpState(v)
            | Attr::DccpRole(v)
            | Attr::IcmpType(v)
            | Attr::IcmpCode(v)
            | Attr::TcpWscaleOrig(v)
            | Attr::TcpWscaleRepl(v) => out.push(*v),
            Attr::Port { src, dst } | Attr::MasterPort { src, dst } => {
                out.extend_from_slice(&src.to_be_bytes());
                out.extend_from_slice(&dst.to_be_bytes());
            }
            Attr::Status(v)
            | Attr::Timeout(v)
            | Attr::Mark(v)
            | Attr::SctpVtagOrig(v)
            | Attr::SctpVtagRepl(v) => out.extend_from_slice(&v.to_be_bytes()),
            Attr::SnatIpv4(a) | Attr::DnatIpv4(a) => out.extend_from_slice(&a.octets()),
            Attr::SpatPort(v) | Attr::DpatPort(v) | Attr::IcmpId(v) => {
                out.extend_from_slice(&v.to_le_bytes())
            }
            Attr::NatSeqAdj(v) => v
                .iter()
                .for_each(|w| out.extend_from_slice(&w.to_be_bytes())),
            Attr::HelperName(v) => out.extend_from_slice(v),
            Attr::Labels(v) => v
                .iter()
                .for_each(|w| out.extend_from_slice(&w.to_be_bytes())),
            Attr::SnatIpv6(a) | Attr::DnatIpv6(a) => out.extend_from_slice(&a.octets()),
            Attr::Synproxy { its, isn, tsoff } => {
                for w in [its, isn, tsoff] {
                    out.extend_from_slice(&w.to_be_bytes());
                }
            }
            Attr::Zone(v) => out.extend_from_slice(&v.to_be_bytes()),
        }
        out.resize(out.len() + (align4(len) - len), 0);
    }
}
