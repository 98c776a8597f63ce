//! Whole packets and frames: finding an advertisement in an Ethernet or
//! Linux cooked frame or an IP packet, building one, the virtual MAC, and
//! the gratuitous ARP / unsolicited neighbour advertisement frames a new
//! Active router sends.
//!
//! Parsing reports the TTL / hop limit and leaves enforcing 255 to the
//! caller (RFC 9568 section 7.1: a receiver MUST discard an advertisement
//! whose TTL / hop limit is not 255; keepalived's IPv6 unicast adverts
//! carry 64, so the check is a policy of the receiver).

use alloc::vec::Vec;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use etherparse::{
    EtherType, Ethernet2Header, IpNumber, Ipv4Header, Ipv6Header, NetSlice, SlicedPacket,
};

use crate::checksum;
use crate::classify::{classify, Kind};
use crate::error::{DecodeError, IpError};
use crate::{Family, Vrid, IP_PROTOCOL};

/// The IPv4 multicast group of VRRP and CARP: 224.0.0.18.
pub const GROUP_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// The IPv6 multicast group of VRRP and CARP: ff02::12.
pub const GROUP_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
/// The TTL / hop limit every advertisement is sent with (RFC 9568 section 5.1.1.3).
pub const TTL: u8 = 255;
/// IP protocol number of the Authentication Header.
pub const IP_PROTOCOL_AH: u8 = 51;

/// The Ethernet broadcast address, all ones.
pub const BROADCAST_MAC: [u8; 6] = [0xff; 6];

/// The IP layer around an advertisement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpInfo {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
}

impl IpInfo {
    /// The family of the packet.
    pub fn family(&self) -> Family {
        Family::of(self.src)
    }
}

/// The IPsec Authentication Header around a VRRPv2 message (keepalived's
/// auth type 2), with the bytes needed to verify its ICV ([`crate::ah`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AhInfo<'a> {
    /// The IPv4 header bytes.
    pub ip_header: &'a [u8],
    /// The AH header bytes.
    pub ah: &'a [u8],
    /// Security Parameters Index (keepalived: the sender's address).
    pub spi: u32,
    /// Sequence number.
    pub sequence: u32,
}

impl AhInfo<'_> {
    /// Verifies keepalived's ICV over this packet and `message` with `password`.
    pub fn verify(&self, message: &[u8], password: &[u8]) -> Result<(), DecodeError> {
        crate::ah::verify_keepalived(self.ip_header, self.ah, message, password)
    }
}

/// An advertisement found in a frame or packet: the IP layer, the link
/// layer if any, and the protocol-112 message bytes, classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found<'a> {
    /// Ethernet source and destination, when the frame had them.
    pub ethernet: Option<([u8; 6], [u8; 6])>,
    /// Addresses and TTL / hop limit.
    pub ip: IpInfo,
    /// The AH header, for keepalived's VRRPv2 auth type 2.
    pub ah: Option<AhInfo<'a>>,
    /// What the message is.
    pub kind: Kind,
    /// The message bytes (checked by the format's `Packet::new_checked`).
    pub message: &'a [u8],
}

/// Finds the advertisement in an Ethernet II frame (VLAN tags allowed).
///
/// `Err(DecodeError::Ip(IpError::NotIp(_) | IpError::NotProtocol112(_)))`
/// means the frame carries something else; other errors mean a malformed
/// protocol-112 packet.
pub fn parse_ethernet(frame: &[u8]) -> Result<Found<'_>, DecodeError> {
    if frame.len() < 14 {
        return Err(IpError::Truncated("Ethernet header").into());
    }
    let mut dst = [0u8; 6];
    let mut src = [0u8; 6];
    dst.copy_from_slice(&frame[..6]);
    src.copy_from_slice(&frame[6..12]);
    // Skip 802.1Q / 802.1ad tags.
    let mut off = 12;
    let mut ether_type = u16::from_be_bytes([frame[off], frame[off + 1]]);
    while matches!(ether_type, 0x8100 | 0x88a8 | 0x9100) {
        off += 4;
        if frame.len() < off + 2 {
            return Err(IpError::Truncated("VLAN tag").into());
        }
        ether_type = u16::from_be_bytes([frame[off], frame[off + 1]]);
    }
    let mut found = parse_typed(ether_type, &frame[off + 2..])?;
    found.ethernet = Some((src, dst));
    Ok(found)
}

/// Finds the advertisement in a Linux cooked capture frame (`LINKTYPE_LINUX_SLL`, 16-byte header).
pub fn parse_linux_sll(frame: &[u8]) -> Result<Found<'_>, DecodeError> {
    if frame.len() < 16 {
        return Err(IpError::Truncated("Linux cooked header").into());
    }
    parse_typed(u16::from_be_bytes([frame[14], frame[15]]), &frame[16..])
}

/// Finds the advertisement in a Linux cooked v2 frame (`LINKTYPE_LINUX_SLL2`, 20-byte header).
pub fn parse_linux_sll2(frame: &[u8]) -> Result<Found<'_>, DecodeError> {
    if frame.len() < 20 {
        return Err(IpError::Truncated("Linux cooked v2 header").into());
    }
    parse_typed(u16::from_be_bytes([frame[0], frame[1]]), &frame[20..])
}

fn parse_typed(ether_type: u16, packet: &[u8]) -> Result<Found<'_>, DecodeError> {
    match ether_type {
        0x0800 | 0x86dd => parse_ip(packet),
        t => Err(IpError::NotIp(t).into()),
    }
}

/// Finds the advertisement in an IPv4 or IPv6 packet (as a raw socket or a
/// `LINKTYPE_RAW` capture gives it).
pub fn parse_ip(packet: &[u8]) -> Result<Found<'_>, DecodeError> {
    // Tell "not ours" from "ours but malformed" before a full parse.
    match packet.first().map(|b| b >> 4) {
        Some(4) if packet.len() >= 20 => {
            let p = packet[9];
            if p != IP_PROTOCOL && p != IP_PROTOCOL_AH {
                return Err(IpError::NotProtocol112(p).into());
            }
        }
        Some(6) if packet.len() >= 40 => {
            // 0 hop-by-hop, 43 routing, 44 fragment, 51 AH, 60 destination options.
            let nh = packet[6];
            if !matches!(nh, IP_PROTOCOL | 0 | 43 | 44 | IP_PROTOCOL_AH | 60) {
                return Err(IpError::NotProtocol112(nh).into());
            }
        }
        Some(4 | 6) => return Err(IpError::Truncated("IP header").into()),
        Some(_) => return Err(IpError::Malformed("IP version is neither 4 nor 6").into()),
        None => return Err(IpError::Truncated("IP header").into()),
    }
    let sliced = SlicedPacket::from_ip(packet).map_err(|e| {
        use etherparse::err::packet::SliceError as E;
        match e {
            E::Len(_) => IpError::Truncated("IP packet shorter than its header says"),
            E::Ipv4(_) | E::Ipv6(_) => IpError::Malformed("IP header"),
            E::Ipv4Exts(_) | E::Ipv6Exts(_) => IpError::Malformed("IP extension header"),
            _ => IpError::Malformed("IP packet"),
        }
    })?;
    let (ip, payload, ah) = match sliced.net {
        Some(NetSlice::Ipv4(v4)) => {
            let h = v4.header();
            let ip = IpInfo {
                src: IpAddr::V4(h.source_addr()),
                dst: IpAddr::V4(h.destination_addr()),
                ttl: h.ttl(),
            };
            // The view borrows `v4`; take the same bytes from `packet`.
            let hl = h.slice().len();
            let ah = v4.extensions().auth.map(|a| AhInfo {
                ip_header: &packet[..hl],
                ah: &packet[hl..hl + a.slice().len()],
                spi: a.spi(),
                sequence: a.sequence_number(),
            });
            (ip, v4.payload().clone(), ah)
        }
        Some(NetSlice::Ipv6(v6)) => {
            let h = v6.header();
            let ip = IpInfo {
                src: IpAddr::V6(h.source_addr()),
                dst: IpAddr::V6(h.destination_addr()),
                ttl: h.hop_limit(),
            };
            (ip, v6.payload().clone(), None)
        }
        _ => return Err(IpError::Malformed("IP packet").into()),
    };
    if payload.ip_number.0 != IP_PROTOCOL {
        return Err(IpError::NotProtocol112(payload.ip_number.0).into());
    }
    // Only a fragment of protocol 112 is ours-but-malformed.
    if payload.fragmented {
        return Err(IpError::Fragmented.into());
    }
    let message = payload.payload;
    let kind = classify(message, Some(ip.family()))?;
    Ok(Found {
        ethernet: None,
        ip,
        ah,
        kind,
        message,
    })
}

/// An IPv4 packet carrying a protocol-112 `message`, as a VRRP router
/// sends it: TOS 0xc0 (network control), no fragmentation, the given TTL.
pub fn ipv4_packet(src: Ipv4Addr, dst: Ipv4Addr, ttl: u8, message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(20 + message.len());
    write_ipv4(&mut out, src, dst, ttl, IP_PROTOCOL, message);
    out
}

fn write_ipv4(out: &mut Vec<u8>, src: Ipv4Addr, dst: Ipv4Addr, ttl: u8, proto: u8, payload: &[u8]) {
    let len = u16::try_from(payload.len())
        .unwrap_or(u16::MAX - 20)
        .min(u16::MAX - 20);
    if let Ok(mut h) = Ipv4Header::new(len, ttl, IpNumber(proto), src.octets(), dst.octets()) {
        h.dscp = etherparse::IpDscp::CS6;
        h.header_checksum = h.calc_header_checksum();
        out.extend_from_slice(&h.to_bytes());
        out.extend_from_slice(&payload[..usize::from(len)]);
    }
}

/// An IPv6 packet carrying a protocol-112 `message`: traffic class 0xc0,
/// the given hop limit.
pub fn ipv6_packet(src: Ipv6Addr, dst: Ipv6Addr, hop_limit: u8, message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(40 + message.len());
    write_ipv6(&mut out, src, dst, hop_limit, IP_PROTOCOL, 0xc0, message);
    out
}

fn write_ipv6(
    out: &mut Vec<u8>,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    hop: u8,
    nh: u8,
    tc: u8,
    payload: &[u8],
) {
    let len = u16::try_from(payload.len()).unwrap_or(u16::MAX);
    let h = Ipv6Header {
        traffic_class: tc,
        flow_label: Default::default(),
        payload_length: len,
        next_header: IpNumber(nh),
        hop_limit: hop,
        source: src.octets(),
        destination: dst.octets(),
    };
    out.extend_from_slice(&h.to_bytes());
    out.extend_from_slice(&payload[..usize::from(len)]);
}

/// An IP packet of the family of `src` carrying `message`; `None` when
/// `src` and `dst` are of different families.
pub fn ip_packet(src: IpAddr, dst: IpAddr, ttl: u8, message: &[u8]) -> Option<Vec<u8>> {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => Some(ipv4_packet(s, d, ttl, message)),
        (IpAddr::V6(s), IpAddr::V6(d)) => Some(ipv6_packet(s, d, ttl, message)),
        _ => None,
    }
}

/// An Ethernet II frame around an IP packet (EtherType from its version).
pub fn ethernet_frame(src: [u8; 6], dst: [u8; 6], ip_packet: &[u8]) -> Vec<u8> {
    let ether_type = match ip_packet.first().map(|b| b >> 4) {
        Some(6) => EtherType::IPV6,
        _ => EtherType::IPV4,
    };
    let h = Ethernet2Header {
        source: src,
        destination: dst,
        ether_type,
    };
    let mut out = Vec::with_capacity(14 + ip_packet.len());
    out.extend_from_slice(&h.to_bytes());
    out.extend_from_slice(ip_packet);
    out
}

/// The Ethernet multicast address of an IP multicast group (RFC 1112
/// section 6.4, RFC 2464 section 7); `None` for a unicast address.
pub fn multicast_mac(group: IpAddr) -> Option<[u8; 6]> {
    match group {
        IpAddr::V4(a) if a.is_multicast() => {
            let o = a.octets();
            Some([0x01, 0x00, 0x5e, o[1] & 0x7f, o[2], o[3]])
        }
        IpAddr::V6(a) if a.is_multicast() => {
            let o = a.octets();
            Some([0x33, 0x33, o[12], o[13], o[14], o[15]])
        }
        _ => None,
    }
}

/// The VRRP virtual MAC of a virtual router (RFC 9568 section 7.3):
/// 00-00-5E-00-01-{VRID} for IPv4, 00-00-5E-00-02-{VRID} for IPv6.
/// OpenBSD CARP uses 00-00-5E-00-01-{VHID} for both families.
pub fn virtual_mac(vrid: Vrid, family: Family) -> [u8; 6] {
    let f = match family {
        Family::V4 => 0x01,
        Family::V6 => 0x02,
    };
    [0x00, 0x00, 0x5e, 0x00, f, vrid.get()]
}

/// The virtual MAC of an OpenBSD CARP virtual host: 00-00-5E-00-01-{VHID}
/// for IPv4 and IPv6 alike (unlike VRRP, whose IPv6 block is 00-02).
pub fn carp_virtual_mac(vhid: Vrid) -> [u8; 6] {
    [0x00, 0x00, 0x5e, 0x00, 0x01, vhid.get()]
}

/// The Ethernet source ucarp sends its advertisements from:
/// 00-00-5E-00-00-{VHID} (00, not 01).
pub fn ucarp_source_mac(vhid: Vrid) -> [u8; 6] {
    [0x00, 0x00, 0x5e, 0x00, 0x00, vhid.get()]
}

/// A gratuitous ARP for `addr` from `mac`: an ARP request broadcast with
/// sender and target protocol address both `addr` and target hardware
/// address all ones, as keepalived sends (42 bytes; the NIC pads it).
pub fn gratuitous_arp(mac: [u8; 6], addr: Ipv4Addr) -> [u8; 42] {
    let mut f = [0u8; 42];
    f[..6].copy_from_slice(&BROADCAST_MAC);
    f[6..12].copy_from_slice(&mac);
    f[12..14].copy_from_slice(&0x0806u16.to_be_bytes());
    // htype Ethernet, ptype IPv4, hlen 6, plen 4, op request.
    f[14..22].copy_from_slice(&[0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01]);
    f[22..28].copy_from_slice(&mac);
    f[28..32].copy_from_slice(&addr.octets());
    f[32..38].copy_from_slice(&BROADCAST_MAC);
    f[38..42].copy_from_slice(&addr.octets());
    f
}

/// All-nodes multicast, where unsolicited neighbour advertisements go.
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

/// An unsolicited neighbour advertisement for `addr` from `mac` (RFC 4861
/// section 7.2.6): from `addr` to ff02::1, hop limit 255, Override set,
/// Solicited clear, with the target link-layer address option. `router`
/// sets the Router flag: RFC 9568 sections 6.4.1 and 6.4.2 set it for a
/// virtual router; keepalived leaves it clear (its addresses need not
/// belong to a router).
pub fn unsolicited_na(mac: [u8; 6], addr: Ipv6Addr, router: bool) -> Vec<u8> {
    let mut icmp = [0u8; 32];
    icmp[0] = 136; // Neighbor Advertisement
    icmp[4] = if router { 0xa0 } else { 0x20 }; // Router, Override
    icmp[8..24].copy_from_slice(&addr.octets());
    icmp[24] = 2; // Target Link-Layer Address
    icmp[25] = 1; // length in units of 8 bytes
    icmp[26..32].copy_from_slice(&mac);
    let pseudo = checksum::pseudo_header_sum_for(IpAddr::V6(addr), IpAddr::V6(ALL_NODES), 32, 58)
        .unwrap_or(0);
    let c = checksum::finish(checksum::sum(pseudo, &icmp));
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    let mut ip = Vec::with_capacity(72);
    write_ipv6(&mut ip, addr, ALL_NODES, 255, 58, 0, &icmp);
    let dst = multicast_mac(IpAddr::V6(ALL_NODES)).unwrap_or(BROADCAST_MAC);
    ethernet_frame(mac, dst, &ip)
}

/// The frames that announce `addresses` from `mac`: a gratuitous ARP per
/// IPv4 address, an unsolicited NA (Router flag as `router`) per IPv6
/// address, in order.
pub fn announcements(mac: [u8; 6], addresses: &[IpAddr], router: bool) -> Vec<Vec<u8>> {
    addresses
        .iter()
        .map(|a| match a {
            IpAddr::V4(a) => gratuitous_arp(mac, *a).to_vec(),
            IpAddr::V6(a) => unsolicited_na(mac, *a, router),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_macs() {
        let v = Vrid::new(0x65).unwrap();
        assert_eq!(virtual_mac(v, Family::V4), [0, 0, 0x5e, 0, 1, 0x65]);
        assert_eq!(virtual_mac(v, Family::V6), [0, 0, 0x5e, 0, 2, 0x65]);
        assert_eq!(ucarp_source_mac(v), [0, 0, 0x5e, 0, 0, 0x65]);
        assert_eq!(carp_virtual_mac(v), virtual_mac(v, Family::V4));
        assert_ne!(carp_virtual_mac(v), virtual_mac(v, Family::V6));
        assert_eq!(
            multicast_mac(IpAddr::V4(GROUP_V4)),
            Some([1, 0, 0x5e, 0, 0, 0x12])
        );
        assert_eq!(
            multicast_mac(IpAddr::V6(GROUP_V6)),
            Some([0x33, 0x33, 0, 0, 0, 0x12])
        );
        assert_eq!(multicast_mac(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))), None);
    }

    #[test]
    fn built_packets_parse_back() {
        let msg = [0x31, 1, 100, 1, 0, 100, 0, 0, 192, 0, 2, 9];
        let ip = ipv4_packet(Ipv4Addr::new(192, 0, 2, 1), GROUP_V4, 255, &msg);
        let f = ethernet_frame(
            [2, 0, 0, 0, 0, 1],
            multicast_mac(IpAddr::V4(GROUP_V4)).unwrap(),
            &ip,
        );
        let found = parse_ethernet(&f).unwrap();
        assert_eq!(found.ip.ttl, 255);
        assert_eq!(found.kind, Kind::Vrrp3);
        assert_eq!(found.message, &msg);
        assert_eq!(
            found.ethernet,
            Some(([2, 0, 0, 0, 0, 1], [1, 0, 0x5e, 0, 0, 0x12]))
        );
    }

    #[test]
    fn unsolicited_na_router_flag() {
        // RFC 9568 6.4.1: Router set, Solicited clear, Override set.
        let a: Ipv6Addr = "fd00::7".parse().unwrap();
        let f = unsolicited_na([2, 0, 0, 0, 0, 1], a, true);
        assert_eq!(f[14 + 40 + 4], 0xa0);
        assert_eq!(
            unsolicited_na([2, 0, 0, 0, 0, 1], a, false)[14 + 40 + 4],
            0x20
        );
        // Both carry a valid ICMPv6 checksum.
        for f in [f.clone(), unsolicited_na([2, 0, 0, 0, 0, 1], a, false)] {
            let icmp = &f[54..];
            let p = checksum::pseudo_header_sum_for(IpAddr::V6(a), IpAddr::V6(ALL_NODES), 32, 58);
            assert_eq!(checksum::finish(checksum::sum(p.unwrap(), icmp)), 0);
        }
    }

    #[test]
    fn fragments_of_other_protocols_are_not_ours() {
        let mut p = ipv4_packet(Ipv4Addr::new(192, 0, 2, 1), GROUP_V4, 255, &[0x31; 12]);
        p[6] = 0x20; // more fragments
        p[10] = 0;
        p[11] = 0;
        let c = checksum::internet(&p[..20]);
        p[10..12].copy_from_slice(&c.to_be_bytes());
        assert_eq!(parse_ip(&p), Err(DecodeError::Ip(IpError::Fragmented)));
        p[9] = 17;
        p[10] = 0;
        p[11] = 0;
        let c = checksum::internet(&p[..20]);
        p[10..12].copy_from_slice(&c.to_be_bytes());
        assert_eq!(
            parse_ip(&p),
            Err(DecodeError::Ip(IpError::NotProtocol112(17)))
        );
    }

    #[test]
    fn other_protocols_are_not_ours() {
        let ip = {
            let mut p = ipv4_packet(Ipv4Addr::new(192, 0, 2, 1), GROUP_V4, 1, &[0; 8]);
            p[9] = 17;
            p
        };
        assert_eq!(
            parse_ip(&ip),
            Err(DecodeError::Ip(IpError::NotProtocol112(17)))
        );
        let arp = gratuitous_arp([2, 0, 0, 0, 0, 1], Ipv4Addr::new(192, 0, 2, 9));
        assert_eq!(
            parse_ethernet(&arp),
            Err(DecodeError::Ip(IpError::NotIp(0x0806)))
        );
    }
}
