//! Decoding one captured frame into a [`Decoded`] record: what
//! `tandemd decode` prints for every protocol-112 packet, before it is
//! rendered as JSON or as a line of text ([`crate::render`]).
//!
//! Three kinds of outcome, kept apart:
//! - the frame carries something other than VRRP or CARP (ARP, neighbour
//!   discovery, any other IP protocol): [`decode_frame`] returns `None`;
//! - the packet is protocol 112 (or keepalived's IPsec-AH around it) but
//!   malformed: a record with the fields that could be read and
//!   [`Decoded::error`] set;
//! - the packet decodes: a record with every field, and the checks an
//!   operator needs (checksum, TTL, CARP HMAC, AH ICV) reported as results,
//!   never as errors. A bad checksum or HMAC does not hide the fields.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use tandem_wire::frame::{self, IpInfo};
use tandem_wire::{carp, vrrp2, vrrp3};
use tandem_wire::{Checksum, ChecksumMode, DecodeError, Family, IpError, Kind};

use crate::capture::{Frame, LinkType};

pub mod replication;

/// What the decoder knows besides the bytes: the secrets that let it
/// verify authentication.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// The password: CARP's HMAC key, or keepalived's VRRPv2 `auth_pass`
    /// for the IPsec-AH ICV.
    pub password: Option<Vec<u8>>,
    /// CARP's virtual addresses. The HMAC covers them although they are
    /// not on the wire, so it can only be checked when they are given.
    pub carp_addresses: Vec<IpAddr>,
    /// The replication link's keys and conntrackd port
    /// ([`replication::Decoder`]).
    pub replication: replication::Options,
}

/// Link-layer addresses of a frame, when its header has them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkAddresses {
    /// The sender's MAC address.
    pub src: Option<[u8; 6]>,
    /// The destination MAC address (Ethernet only: Linux cooked captures
    /// record the sender alone).
    pub dst: Option<[u8; 6]>,
}

/// The fields of a decoded advertisement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Advert {
    /// VRRPv2 (RFC 3768).
    Vrrp2 {
        /// Virtual Rtr ID.
        vrid: u8,
        /// Priority.
        priority: u8,
        /// Adver Int, in seconds.
        adver_int_s: u8,
        /// Auth Type as on the wire: 0 none, 1 simple text, 2 IP AH.
        auth_type: u8,
        /// The 8 authentication data bytes.
        auth_data: [u8; 8],
        /// The virtual addresses.
        addresses: Vec<IpAddr>,
    },
    /// VRRPv3 (RFC 9568).
    Vrrp3 {
        /// Virtual Rtr ID.
        vrid: u8,
        /// Priority.
        priority: u8,
        /// Max Adver Int, in centiseconds.
        max_adver_int_cs: u16,
        /// The virtual addresses.
        addresses: Vec<IpAddr>,
    },
    /// CARP (OpenBSD carp(4), ucarp).
    Carp {
        /// The virtual host id.
        vhid: u8,
        /// AdvBase, seconds.
        advbase: u8,
        /// AdvSkew, 1/256ths of a second.
        advskew: u8,
        /// The demotion counter.
        demotion: u8,
        /// The 64-bit counter.
        counter: u64,
        /// Whether the HMAC verifies with `--password` over
        /// `--carp-address`; `None` when either is missing.
        hmac_ok: Option<bool>,
    },
}

impl Advert {
    /// The VRID, or CARP's VHID.
    pub fn vrid(&self) -> u8 {
        match self {
            Advert::Vrrp2 { vrid, .. } | Advert::Vrrp3 { vrid, .. } => *vrid,
            Advert::Carp { vhid, .. } => *vhid,
        }
    }

    /// The VRRP priority (`None` for CARP).
    pub fn priority(&self) -> Option<u8> {
        match self {
            Advert::Vrrp2 { priority, .. } | Advert::Vrrp3 { priority, .. } => Some(*priority),
            Advert::Carp { .. } => None,
        }
    }

    /// The advertisement interval in centiseconds: VRRPv3's Max Adver
    /// Int, VRRPv2's Adver Int times 100, CARP's `advbase + advskew / 256`
    /// seconds rounded down.
    pub fn interval_cs(&self) -> u16 {
        match self {
            Advert::Vrrp2 { adver_int_s, .. } => u16::from(*adver_int_s) * 100,
            Advert::Vrrp3 {
                max_adver_int_cs, ..
            } => *max_adver_int_cs,
            Advert::Carp {
                advbase, advskew, ..
            } => carp::interval(*advbase, *advskew).0,
        }
    }

    /// The virtual addresses on the wire (none for CARP: its HMAC covers
    /// them, but they do not travel).
    pub fn addresses(&self) -> &[IpAddr] {
        match self {
            Advert::Vrrp2 { addresses, .. } | Advert::Vrrp3 { addresses, .. } => addresses,
            Advert::Carp { .. } => &[],
        }
    }
}

/// The result of checking the checksum on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumCheck {
    /// It matches. `mode` says which coverage, for VRRPv3 over IPv4 (the
    /// one case where peers differ); `None` otherwise.
    Good {
        /// The coverage the checksum matches.
        mode: Option<ChecksumMode>,
    },
    /// It matches no coverage the format allows.
    Bad {
        /// The checksum on the wire.
        found: u16,
        /// The checksum the format's rule gives (for VRRPv3 over IPv4:
        /// with the IPv4 pseudo-header, as keepalived and FRR send).
        computed: u16,
        /// For VRRPv3 over IPv4, the checksum without a pseudo-header
        /// (RFC 9568).
        computed_rfc9568: Option<u16>,
    },
}

impl ChecksumCheck {
    /// True if the checksum matches.
    pub fn ok(&self) -> bool {
        matches!(self, ChecksumCheck::Good { .. })
    }

    /// The coverage matched, for VRRPv3 over IPv4.
    pub fn mode(&self) -> Option<ChecksumMode> {
        match self {
            ChecksumCheck::Good { mode } => *mode,
            ChecksumCheck::Bad { .. } => None,
        }
    }
}

/// keepalived's IPsec Authentication Header around a VRRPv2 message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AhCheck {
    /// Security Parameters Index (keepalived: the sender's IPv4 address).
    pub spi: u32,
    /// Sequence number.
    pub sequence: u32,
    /// Whether the ICV verifies with `--password`; `None` without one.
    pub icv_ok: Option<bool>,
}

/// Everything `tandemd decode` reports about one protocol-112 packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// The frame number in the file, from 1, counting every frame.
    pub n: u64,
    /// Link-layer addresses, when the link header has them.
    pub link: Option<LinkAddresses>,
    /// IP source, destination and TTL / hop limit, when readable.
    pub ip: Option<IpInfo>,
    /// Which protocol the message is, when it could be told.
    pub proto: Option<Kind>,
    /// The advertisement's fields, when it decodes.
    pub advert: Option<Advert>,
    /// The checksum result, when the message decodes.
    pub checksum: Option<ChecksumCheck>,
    /// The IPsec-AH header, for keepalived's VRRPv2 auth type 2.
    pub ah: Option<AhCheck>,
    /// Why the packet could not be decoded.
    pub error: Option<DecodeError>,
}

impl Decoded {
    /// The TTL / hop limit is 255, as every advertisement must be sent with
    /// (RFC 9568 section 5.1.1.3 and 7.1); `None` when the IP header could
    /// not be read.
    pub fn ttl_ok(&self) -> Option<bool> {
        self.ip.map(|ip| ip.ttl == frame::TTL)
    }

    /// What is wrong with the packet, in words an operator can act on, in
    /// the order they matter: malformed, bad checksum, bad TTL, failed
    /// authentication. Empty for a good advertisement.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(e) = &self.error {
            out.push(match self.proto {
                Some(k) => format!("malformed {}: {e}", proto_label(k)),
                None => format!("malformed packet: {e}"),
            });
        }
        if let Some(ChecksumCheck::Bad {
            found,
            computed,
            computed_rfc9568,
        }) = self.checksum
        {
            out.push(match computed_rfc9568 {
                None => format!("bad checksum: computed {computed:#06x}, found {found:#06x}"),
                Some(plain) => format!(
                    "bad checksum: computed {computed:#06x} ({}) or {plain:#06x} ({}), found {found:#06x}",
                    ChecksumMode::PseudoHeader.name(),
                    ChecksumMode::NoPseudoHeader.name()
                ),
            });
        }
        if let Some(ip) = self.ip {
            if ip.ttl != frame::TTL {
                out.push(match ip.dst {
                    IpAddr::V4(_) => format!("TTL {}: sender is not on this link", ip.ttl),
                    IpAddr::V6(d) if d.is_multicast() => {
                        format!("hop limit {}: sender is not on this link", ip.ttl)
                    }
                    IpAddr::V6(_) => format!(
                        "hop limit {}: sender is not on this link (keepalived's IPv6 unicast adverts carry 64)",
                        ip.ttl
                    ),
                });
            }
        }
        if let Some(Advert::Carp {
            hmac_ok: Some(false),
            ..
        }) = self.advert
        {
            out.push(DecodeError::BadHmac.to_string());
        }
        if let Some(AhCheck {
            icv_ok: Some(false),
            ..
        }) = self.ah
        {
            out.push(DecodeError::BadAhIcv.to_string());
        }
        out
    }
}

/// The name a human line gives a protocol: `VRRPv2`, `VRRPv3`, `CARP`.
pub fn proto_label(k: Kind) -> &'static str {
    match k {
        Kind::Vrrp2 => "VRRPv2",
        Kind::Vrrp3 => "VRRPv3",
        Kind::Carp => "CARP",
    }
}

/// Decodes one frame; `None` when it carries no VRRP or CARP packet.
pub fn decode_frame(frame: &Frame<'_>, opts: &Options) -> Option<Decoded> {
    let data = &frame.data[..];
    let header = link_header(frame.link_type, data);
    let parsed = match frame.link_type {
        LinkType::Ethernet => frame::parse_ethernet(data),
        LinkType::LinuxSll => frame::parse_linux_sll(data),
        LinkType::LinuxSll2 => frame::parse_linux_sll2(data),
        LinkType::Raw | LinkType::Ipv4 | LinkType::Ipv6 => frame::parse_ip(data),
    };
    let link = header.and_then(|h| h.addresses);
    match parsed {
        Ok(found) => Some(decode_found(frame.number, link, &found, opts)),
        Err(DecodeError::Ip(IpError::NotIp(_) | IpError::NotProtocol112(_))) => None,
        Err(error) => {
            // Ours but malformed: report what the headers still say.
            let packet = header.and_then(|h| data.get(h.ip_offset..)).unwrap_or(&[]);
            let ip = peek_ip(packet);
            Some(Decoded {
                n: frame.number,
                link,
                ip,
                proto: None,
                advert: None,
                checksum: None,
                ah: None,
                error: Some(error),
            })
        }
    }
}

fn decode_found(
    n: u64,
    link: Option<LinkAddresses>,
    found: &frame::Found<'_>,
    opts: &Options,
) -> Decoded {
    let link = match (found.ethernet, link) {
        (Some((src, dst)), _) => Some(LinkAddresses {
            src: Some(src),
            dst: Some(dst),
        }),
        (None, link) => link,
    };
    let mut d = Decoded {
        n,
        link,
        ip: Some(found.ip),
        proto: Some(found.kind),
        advert: None,
        checksum: None,
        ah: found.ah.map(|ah| AhCheck {
            spi: ah.spi,
            sequence: ah.sequence,
            icv_ok: opts
                .password
                .as_deref()
                .map(|pw| ah.verify(found.message, pw).is_ok()),
        }),
        error: None,
    };
    let result = match found.kind {
        Kind::Vrrp2 => decode_vrrp2(found.message),
        Kind::Vrrp3 => decode_vrrp3(found.message, found.ip),
        Kind::Carp => decode_carp(found.message, opts),
    };
    match result {
        Ok((advert, checksum)) => {
            d.advert = Some(advert);
            d.checksum = Some(checksum);
        }
        Err(e) => d.error = Some(e),
    }
    d
}

/// Turns a checksum verification into a [`ChecksumCheck`]; errors other
/// than a bad checksum pass through.
fn check(result: Result<Option<ChecksumMode>, DecodeError>) -> Result<ChecksumCheck, DecodeError> {
    match result {
        Ok(mode) => Ok(ChecksumCheck::Good { mode }),
        Err(DecodeError::BadChecksum { computed, found }) => Ok(ChecksumCheck::Bad {
            found,
            computed,
            computed_rfc9568: None,
        }),
        Err(e) => Err(e),
    }
}

fn decode_vrrp2(message: &[u8]) -> Result<(Advert, ChecksumCheck), DecodeError> {
    let p = vrrp2::Packet::new_checked(message)?;
    let checksum = check(p.verify_checksum(Checksum::NoPseudoHeader).map(|()| None))?;
    let r = vrrp2::Repr::parse(&p, Checksum::Skip)?;
    let advert = Advert::Vrrp2 {
        vrid: r.vrid.get(),
        priority: r.priority.0,
        adver_int_s: r.adver_int.0,
        auth_type: r.auth.auth_type().into(),
        auth_data: p.auth_data(),
        addresses: r.addresses.iter().copied().map(IpAddr::V4).collect(),
    };
    Ok((advert, checksum))
}

fn decode_vrrp3(message: &[u8], ip: IpInfo) -> Result<(Advert, ChecksumCheck), DecodeError> {
    let p = vrrp3::Packet::new_checked_family(message, ip.family())?;
    let checksum = match ip.family() {
        Family::V4 => {
            let either = Checksum::Either {
                src: ip.src,
                dst: ip.dst,
            };
            match check(p.verify_checksum(either))? {
                ChecksumCheck::Bad {
                    found, computed, ..
                } => ChecksumCheck::Bad {
                    found,
                    computed,
                    computed_rfc9568: match p.verify_checksum(Checksum::NoPseudoHeader) {
                        Err(DecodeError::BadChecksum { computed, .. }) => Some(computed),
                        _ => None,
                    },
                },
                good => good,
            }
        }
        // IPv6 has one rule: the pseudo-header. No mode to report.
        Family::V6 => match check(p.verify_checksum(Checksum::PseudoHeader {
            src: ip.src,
            dst: ip.dst,
        }))? {
            ChecksumCheck::Good { .. } => ChecksumCheck::Good { mode: None },
            bad => bad,
        },
    };
    let r = vrrp3::Repr::parse(&p, Checksum::Skip)?;
    let advert = Advert::Vrrp3 {
        vrid: r.vrid.get(),
        priority: r.priority.0,
        max_adver_int_cs: r.max_adver_int.0,
        addresses: r.addresses.iter().collect(),
    };
    Ok((advert, checksum))
}

fn decode_carp(message: &[u8], opts: &Options) -> Result<(Advert, ChecksumCheck), DecodeError> {
    let p = carp::Packet::new_checked(message)?;
    let checksum = check(p.verify_checksum(Checksum::NoPseudoHeader).map(|()| None))?;
    let r = carp::Repr::parse(&p, Checksum::Skip, None)?;
    let hmac_ok = match (&opts.password, opts.carp_addresses.is_empty()) {
        (Some(pw), false) => {
            let key = carp::Key::new(pw, r.vhid, &opts.carp_addresses);
            Some(p.verify_hmac(&key).is_ok())
        }
        _ => None,
    };
    let advert = Advert::Carp {
        vhid: r.vhid.get(),
        advbase: r.advbase,
        advskew: r.advskew,
        demotion: r.demotion,
        counter: r.counter,
        hmac_ok,
    };
    Ok((advert, checksum))
}

/// The link header of a frame: addresses and where the IP packet starts.
#[derive(Debug, Clone, Copy)]
struct LinkHeader {
    addresses: Option<LinkAddresses>,
    ip_offset: usize,
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn mac(b: &[u8], at: usize) -> Option<[u8; 6]> {
    b.get(at..at + 6)?.try_into().ok()
}

/// Reads the link header. Needed besides `tandem_wire::frame` for the
/// sender address of Linux cooked captures, and for the IP header of a
/// malformed packet (the frame parsers return an error without it).
fn link_header(link: LinkType, b: &[u8]) -> Option<LinkHeader> {
    match link {
        LinkType::Ethernet => {
            let mut off = 12;
            while matches!(be16(b, off)?, 0x8100 | 0x88a8 | 0x9100) {
                off += 4;
            }
            Some(LinkHeader {
                addresses: Some(LinkAddresses {
                    src: mac(b, 6),
                    dst: mac(b, 0),
                }),
                ip_offset: off + 2,
            })
        }
        // hatype (2..4) 1 is Ethernet; halen (4..6); address (6..14).
        LinkType::LinuxSll => Some(LinkHeader {
            addresses: Some(LinkAddresses {
                src: (be16(b, 2)? == 1 && be16(b, 4)? == 6)
                    .then(|| mac(b, 6))
                    .flatten(),
                dst: None,
            }),
            ip_offset: 16,
        }),
        // hatype (8..10); halen (11); address (12..20).
        LinkType::LinuxSll2 => Some(LinkHeader {
            addresses: Some(LinkAddresses {
                src: (be16(b, 8)? == 1 && *b.get(11)? == 6)
                    .then(|| mac(b, 12))
                    .flatten(),
                dst: None,
            }),
            ip_offset: 20,
        }),
        LinkType::Raw | LinkType::Ipv4 | LinkType::Ipv6 => Some(LinkHeader {
            addresses: None,
            ip_offset: 0,
        }),
    }
}

/// Source, destination and TTL / hop limit of an IP header, when at least
/// the fixed header is there.
fn peek_ip(p: &[u8]) -> Option<IpInfo> {
    match p.first()? >> 4 {
        4 if p.len() >= 20 => {
            let a = |at: usize| Ipv4Addr::new(p[at], p[at + 1], p[at + 2], p[at + 3]);
            Some(IpInfo {
                src: IpAddr::V4(a(12)),
                dst: IpAddr::V4(a(16)),
                ttl: p[8],
            })
        }
        6 if p.len() >= 40 => {
            let a = |at: usize| {
                let o: [u8; 16] = p[at..at + 16].try_into().unwrap_or([0; 16]);
                Ipv6Addr::from(o)
            };
            Some(IpInfo {
                src: IpAddr::V6(a(8)),
                dst: IpAddr::V6(a(24)),
                ttl: p[7],
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;
    use tandem_wire::build::Advert as Build;

    fn frame(data: Vec<u8>) -> Frame<'static> {
        Frame {
            number: 7,
            link_type: LinkType::Ethernet,
            data: Cow::Owned(data),
        }
    }

    #[test]
    fn a_good_vrrp3_advert_has_no_problems() {
        let f = Build::vrrp3(61, ["192.0.2.61".parse().unwrap()])
            .priority(150)
            .ethernet_frame();
        let d = decode_frame(&frame(f), &Options::default()).unwrap();
        assert_eq!(d.n, 7);
        assert_eq!(d.proto, Some(Kind::Vrrp3));
        assert_eq!(d.advert.as_ref().unwrap().priority(), Some(150));
        assert_eq!(
            d.checksum,
            Some(ChecksumCheck::Good {
                mode: Some(ChecksumMode::PseudoHeader)
            })
        );
        assert_eq!(d.ttl_ok(), Some(true));
        assert!(d.problems().is_empty(), "{:?}", d.problems());
    }

    #[test]
    fn a_bad_checksum_keeps_the_fields() {
        let mut f = Build::vrrp2(7, ["192.0.2.57".parse().unwrap()]).ethernet_frame();
        let last = f.len() - 9; // inside the addresses
        f[last] ^= 0x01;
        let d = decode_frame(&frame(f), &Options::default()).unwrap();
        assert!(d.error.is_none());
        assert!(!d.checksum.unwrap().ok());
        assert_eq!(d.advert.unwrap().vrid(), 7);
    }

    #[test]
    fn malformed_packets_keep_the_ip_header() {
        let mut f = Build::vrrp3(61, ["192.0.2.61".parse().unwrap()]).ethernet_frame();
        f[14 + 20] = 0x51; // version 5
        let d = decode_frame(&frame(f), &Options::default()).unwrap();
        assert_eq!(d.error, Some(DecodeError::UnknownVersion(5)));
        assert_eq!(d.ip.unwrap().ttl, 255);
        assert_eq!(d.link.unwrap().src, Some([2, 0, 0, 0, 0, 1]));
        assert!(d.problems()[0].starts_with("malformed packet"));
    }

    #[test]
    fn other_traffic_is_not_ours() {
        let arp = frame::gratuitous_arp([2, 0, 0, 0, 0, 1], Ipv4Addr::new(192, 0, 2, 9));
        assert_eq!(
            decode_frame(&frame(arp.to_vec()), &Options::default()),
            None
        );
        let na = frame::unsolicited_na([2, 0, 0, 0, 0, 1], "fd00::1".parse().unwrap(), false);
        assert_eq!(decode_frame(&frame(na), &Options::default()), None);
    }

    #[test]
    fn fragmented_ipv6_of_another_protocol_is_not_ours() {
        let src: Ipv6Addr = "fd00::1".parse().unwrap();
        // A first fragment (more fragments set) of a UDP datagram.
        let mut payload = vec![17, 0, 0x00, 0x01, 0, 0, 0, 1];
        payload.extend_from_slice(&[0u8; 16]);
        let mut ip = frame::ipv6_packet(src, frame::GROUP_V6, 255, &payload);
        ip[6] = 44;
        let f = frame::ethernet_frame([2, 0, 0, 0, 0, 1], [0x33, 0x33, 0, 0, 0, 0x12], &ip);
        assert_eq!(
            frame::parse_ethernet(&f),
            Err(DecodeError::Ip(IpError::NotProtocol112(17)))
        );
        assert_eq!(decode_frame(&frame(f.clone()), &Options::default()), None);
        // The same fragment of a protocol-112 packet is reported.
        let mut f112 = f;
        f112[14 + 40] = 112;
        let d = decode_frame(&frame(f112), &Options::default()).unwrap();
        assert_eq!(d.error, Some(DecodeError::Ip(IpError::Fragmented)));
    }

    #[test]
    fn carp_hmac_needs_password_and_addresses() {
        let vip: IpAddr = "192.0.2.130".parse().unwrap();
        let f = frame(Build::carp(10, b"carpkey1", [vip]).ethernet_frame());
        let hmac = |opts: &Options| match decode_frame(&f, opts).unwrap().advert {
            Some(Advert::Carp { hmac_ok, .. }) => hmac_ok,
            other => panic!("{other:?}"),
        };
        assert_eq!(hmac(&Options::default()), None);
        let pw = Some(b"carpkey1".to_vec());
        let only_pw = Options {
            password: pw.clone(),
            carp_addresses: vec![],
            ..Options::default()
        };
        assert_eq!(hmac(&only_pw), None);
        let good = Options {
            password: pw,
            carp_addresses: vec![vip],
            ..Options::default()
        };
        assert_eq!(hmac(&good), Some(true));
        let bad = Options {
            password: Some(b"wrong".to_vec()),
            carp_addresses: vec![vip],
            ..Options::default()
        };
        assert_eq!(hmac(&bad), Some(false));
    }
}
