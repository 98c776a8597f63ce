//! The UDP datagram of a captured frame: link header, IPv4 or IPv6 (with
//! extension headers), UDP header, every length checked against the bytes
//! captured. Nothing here panics on any input.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::capture::{Frame, LinkType};

/// The IP protocol number of UDP.
const UDP: u8 = 17;
/// At most this many IPv6 extension headers are walked before the packet
/// is taken for something else (a loop guard; real stacks send a few).
const MAX_EXTENSIONS: usize = 8;

/// One captured UDP datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Datagram<'a> {
    /// Source address and port.
    pub src: SocketAddr,
    /// Destination address and port.
    pub dst: SocketAddr,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    /// The UDP payload as captured (cut to the UDP length).
    pub payload: &'a [u8],
    /// The UDP length field's payload size, when more than was captured
    /// (a snap length shorter than the packet).
    pub cut_from: Option<usize>,
    /// The packet is the first fragment of a fragmented datagram: the
    /// payload is incomplete.
    pub fragment: bool,
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// The IP packet of a frame: where it starts, if the link header says IP.
fn ip_packet<'a>(frame: &'a Frame<'_>) -> Option<&'a [u8]> {
    let b: &'a [u8] = &frame.data;
    let (ethertype, at) = match frame.link_type {
        LinkType::Ethernet => {
            let mut off = 12;
            let mut tags = 0;
            while matches!(be16(b, off)?, 0x8100 | 0x88a8 | 0x9100) && tags < 4 {
                off += 4;
                tags += 1;
            }
            (Some(be16(b, off)?), off + 2)
        }
        LinkType::LinuxSll => (Some(be16(b, 14)?), 16),
        LinkType::LinuxSll2 => (Some(be16(b, 0)?), 20),
        LinkType::Raw | LinkType::Ipv4 | LinkType::Ipv6 => (None, 0),
    };
    if !matches!(ethertype, None | Some(0x0800 | 0x86dd)) {
        return None;
    }
    b.get(at..)
}

/// The UDP datagram of a frame, or `None` when the frame is not a UDP
/// packet whose UDP header was captured (another protocol, a later
/// fragment, a damaged IP header).
pub(super) fn datagram<'a>(frame: &'a Frame<'_>) -> Option<Datagram<'a>> {
    let p = ip_packet(frame)?;
    let (src, dst, ttl, udp, fragment) = match p.first()? >> 4 {
        4 => {
            let ihl = usize::from(p.first()? & 0x0f) * 4;
            let total = usize::from(be16(p, 2)?);
            if ihl < 20 || total < ihl || *p.get(9)? != UDP {
                return None;
            }
            let frag = be16(p, 6)?;
            let (more, offset) = (frag & 0x2000 != 0, frag & 0x1fff);
            if offset != 0 {
                return None;
            }
            let a = |at: usize| -> Option<Ipv4Addr> {
                let o: [u8; 4] = p.get(at..at + 4)?.try_into().ok()?;
                Some(Ipv4Addr::from(o))
            };
            let body = p.get(ihl..total.min(p.len()))?;
            (
                IpAddr::V4(a(12)?),
                IpAddr::V4(a(16)?),
                *p.get(8)?,
                body,
                more,
            )
        }
        6 => {
            let a = |at: usize| -> Option<Ipv6Addr> {
                let o: [u8; 16] = p.get(at..at + 16)?.try_into().ok()?;
                Some(Ipv6Addr::from(o))
            };
            let (src, dst, hops) = (a(8)?, a(24)?, *p.get(7)?);
            let end = (40 + usize::from(be16(p, 4)?)).min(p.len());
            let mut next = *p.get(6)?;
            let mut at = 40;
            let mut fragment = false;
            let mut walked = 0;
            while next != UDP {
                walked += 1;
                if walked > MAX_EXTENSIONS {
                    return None;
                }
                match next {
                    // Hop-by-hop, routing, destination options.
                    0 | 43 | 60 => {
                        let len = (usize::from(*p.get(at + 1)?) + 1) * 8;
                        next = *p.get(at)?;
                        at += len;
                    }
                    // Fragment: only the first carries the UDP header.
                    44 => {
                        let off = be16(p, at + 2)?;
                        if off & 0xfff8 != 0 {
                            return None;
                        }
                        fragment = off & 1 != 0;
                        next = *p.get(at)?;
                        at += 8;
                    }
                    _ => return None,
                }
            }
            let body = p.get(at..end)?;
            (IpAddr::V6(src), IpAddr::V6(dst), hops, body, fragment)
        }
        _ => return None,
    };
    let sport = be16(udp, 0)?;
    let dport = be16(udp, 2)?;
    let len = usize::from(be16(udp, 4)?);
    if len < 8 && !fragment {
        return None;
    }
    let declared = len.saturating_sub(8);
    let present = udp.get(8..)?;
    let payload = present.get(..declared.min(present.len()))?;
    Some(Datagram {
        src: SocketAddr::new(src, sport),
        dst: SocketAddr::new(dst, dport),
        ttl,
        payload,
        cut_from: (declared > payload.len() && !fragment).then_some(declared),
        fragment,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    fn udp4(payload: &[u8]) -> Vec<u8> {
        let mut ip = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 255, UDP, 0, 0];
        ip.extend_from_slice(&[198, 51, 100, 1, 198, 51, 100, 2]);
        let total = (20 + 8 + payload.len()) as u16;
        ip[2..4].copy_from_slice(&total.to_be_bytes());
        ip.extend_from_slice(&6974u16.to_be_bytes());
        ip.extend_from_slice(&3780u16.to_be_bytes());
        ip.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        ip.extend_from_slice(&[0, 0]);
        ip.extend_from_slice(payload);
        ip
    }

    fn frame(link_type: LinkType, data: Vec<u8>) -> Frame<'static> {
        Frame {
            number: 1,
            link_type,
            data: Cow::Owned(data),
        }
    }

    #[test]
    fn reads_ipv4_udp_behind_ethernet_and_raw() {
        let mut eth = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x81, 0, 0, 5, 0x08, 0];
        eth.extend(udp4(b"hello"));
        let f = frame(LinkType::Ethernet, eth);
        let d = datagram(&f).unwrap();
        assert_eq!(d.src, "198.51.100.1:6974".parse().unwrap());
        assert_eq!(d.dst, "198.51.100.2:3780".parse().unwrap());
        assert_eq!((d.ttl, d.payload, d.cut_from), (255, &b"hello"[..], None));
        let f = frame(LinkType::Raw, udp4(b"x"));
        assert_eq!(datagram(&f).unwrap().payload, b"x");
    }

    #[test]
    fn a_short_capture_is_cut_and_said_so() {
        let mut p = udp4(&[7; 100]);
        p.truncate(20 + 8 + 40);
        let f = frame(LinkType::Ipv4, p);
        let d = datagram(&f).unwrap();
        assert_eq!((d.payload.len(), d.cut_from), (40, Some(100)));
    }

    #[test]
    fn ipv6_extension_headers_and_fragments() {
        let mut ip = vec![0x60, 0, 0, 0, 0, 0, 60, 64];
        ip.extend_from_slice(&"fd00::1".parse::<Ipv6Addr>().unwrap().octets());
        ip.extend_from_slice(&"fd00::2".parse::<Ipv6Addr>().unwrap().octets());
        // Destination options (8 bytes), then UDP.
        ip.extend_from_slice(&[UDP, 0, 1, 4, 0, 0, 0, 0]);
        ip.extend_from_slice(&[0x1b, 0x3e, 0x0e, 0xc4, 0, 11, 0, 0, 1, 2, 3]);
        let len = (ip.len() - 40) as u16;
        ip[4..6].copy_from_slice(&len.to_be_bytes());
        let f = frame(LinkType::Ipv6, ip.clone());
        let d = datagram(&f).unwrap();
        assert_eq!(d.src.port(), 6974);
        assert_eq!((d.ttl, d.payload), (64, &[1, 2, 3][..]));
        // A later fragment has no UDP header.
        ip[6] = 44;
        ip[40..48].copy_from_slice(&[UDP, 0, 0, 0x10, 0, 0, 0, 1]);
        assert_eq!(datagram(&frame(LinkType::Ipv6, ip)), None);
    }

    #[test]
    fn other_protocols_and_later_fragments_are_not_udp() {
        let mut p = udp4(b"x");
        p[9] = 6;
        assert_eq!(datagram(&frame(LinkType::Raw, p)), None);
        let mut p = udp4(b"x");
        p[6] = 0x00;
        p[7] = 0x10;
        assert_eq!(datagram(&frame(LinkType::Raw, p)), None);
        let mut p = udp4(b"x");
        p[6] = 0x20; // first fragment: reported as one
        assert!(datagram(&frame(LinkType::Raw, p)).unwrap().fragment);
        let mut arp = vec![0xff; 12];
        arp.extend_from_slice(&[0x08, 0x06]);
        arp.extend(udp4(b"x"));
        assert_eq!(datagram(&frame(LinkType::Ethernet, arp)), None);
    }
}
