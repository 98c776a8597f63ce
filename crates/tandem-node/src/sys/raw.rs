//! Raw IP sockets for protocol 112 (VRRP and CARP), one per interface and
//! address family.
//!
//! Sending: the payload is the VRRP / CARP message and the kernel builds
//! the IP header (IPv4 `IP_HDRINCL` off), with TTL / hop limit 255 for
//! unicast, broadcast and multicast alike (RFC 9568 section 5.1.1.3,
//! RFC 3768 section 5.1.1.3), multicast loop off so a router does not
//! hear itself, and `SO_BINDTODEVICE` so every packet leaves by the
//! configured interface.
//!
//! Receiving: a raw socket sees every protocol-112 packet the interface
//! receives, for any VRID. For IPv4 the kernel hands the whole IP packet,
//! and [`RawPacket`] reports its source, destination and TTL. For IPv6 it
//! hands the payload alone: the hop limit comes as `IPV6_HOPLIMIT`
//! ancillary data and the destination as `IPV6_PKTINFO`. The TTL is
//! reported, not checked: dropping and counting packets whose TTL is not
//! 255 is the election's job (it reports a diagnostic).

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
use std::ops::Range;
use std::os::fd::AsRawFd;
use std::time::Duration;

use socket2::{
    Domain, InterfaceIndexOrAddress, MaybeUninitSlice, MsgHdrMut, Protocol, SockAddr, Socket, Type,
};
use tandem_wire::frame::{GROUP_V4, GROUP_V6};
use tandem_wire::Family;

use super::{as_uninit, is_timeout, netlink, retry, SysError};

/// IP protocol number of VRRP and CARP.
pub const PROTOCOL: u8 = 112;

/// A received packet: its addresses, TTL / hop limit, and where its
/// payload (the VRRP / CARP message) lies in the caller's buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawPacket {
    /// The IP source.
    pub src: IpAddr,
    /// The IP destination: from the header for IPv4; for IPv6 from
    /// `IPV6_PKTINFO`, or the group ff02::12 if the kernel gave none.
    pub dst: IpAddr,
    /// The TTL / hop limit the packet arrived with (0 if the kernel gave
    /// no IPv6 hop limit, which it always does).
    pub ttl: u8,
    /// The payload's bytes in the buffer given to [`RawSocket::recv`].
    pub payload: Range<usize>,
}

/// A raw socket for one IP protocol (112 unless opened with
/// [`RawSocket::open_protocol`]) on one interface and address family.
#[derive(Debug)]
pub struct RawSocket {
    sock: Socket,
    ifname: String,
    ifindex: u32,
    family: Family,
}

impl RawSocket {
    /// Opens a raw socket for IP protocol 112 on `ifname` and `family`:
    /// bound to the interface, TTL / hop limit 255 for unicast and
    /// multicast, multicast loop off, broadcast allowed (IPv4), joined to
    /// 224.0.0.18 / ff02::12 on the interface when `join_group`.
    ///
    /// `source` binds the socket to that local address, so it is the
    /// source of every packet sent (a link-local IPv6 address is scoped
    /// to the interface). IPv6 sockets bind with `IPV6_FREEBIND`, so a
    /// link-local address still tentative (duplicate address detection)
    /// can be bound. Without `source` the kernel chooses: the primary
    /// address of the interface for IPv4, its link-local address for
    /// IPv6 towards ff02::12.
    pub fn open(
        ifname: &str,
        family: Family,
        source: Option<IpAddr>,
        join_group: bool,
    ) -> Result<RawSocket, SysError> {
        Self::open_protocol(ifname, family, source, join_group, PROTOCOL)
    }

    /// [`RawSocket::open`] for another IP protocol, e.g. 51 to receive
    /// VRRPv2 packets authenticated with IPsec AH as keepalived sends
    /// them.
    pub fn open_protocol(
        ifname: &str,
        family: Family,
        source: Option<IpAddr>,
        join_group: bool,
        protocol: u8,
    ) -> Result<RawSocket, SysError> {
        let ifindex = netlink::ifindex(ifname)?;
        let domain = match family {
            Family::V4 => Domain::IPV4,
            Family::V6 => Domain::IPV6,
        };
        let sock = Socket::new(domain, Type::RAW, Some(Protocol::from(i32::from(protocol))))
            .map_err(|source| SysError::Open {
                ifname: ifname.to_owned(),
                family,
                source,
            })?;
        let opt = |option: &'static str, r: io::Result<()>| {
            r.map_err(|source| SysError::SocketOption {
                ifname: ifname.to_owned(),
                family,
                option,
                source,
            })
        };
        opt("SO_BINDTODEVICE", sock.bind_device(Some(ifname.as_bytes())))?;
        match family {
            Family::V4 => {
                opt("IP_HDRINCL", sock.set_header_included_v4(false))?;
                opt("IP_TTL", sock.set_ttl_v4(255))?;
                opt("IP_MULTICAST_TTL", sock.set_multicast_ttl_v4(255))?;
                opt("IP_MULTICAST_LOOP", sock.set_multicast_loop_v4(false))?;
                opt("IP_MULTICAST_ALL", sock.set_multicast_all_v4(false))?;
                opt("SO_BROADCAST", sock.set_broadcast(true))?;
            }
            Family::V6 => {
                opt("IPV6_UNICAST_HOPS", sock.set_unicast_hops_v6(255))?;
                opt("IPV6_MULTICAST_HOPS", sock.set_multicast_hops_v6(255))?;
                opt("IPV6_MULTICAST_LOOP", sock.set_multicast_loop_v6(false))?;
                opt("IPV6_MULTICAST_IF", sock.set_multicast_if_v6(ifindex))?;
                opt("IPV6_MULTICAST_ALL", sock.set_multicast_all_v6(false))?;
                opt("IPV6_RECVHOPLIMIT", sock.set_recv_hoplimit_v6(true))?;
                opt("IPV6_RECVPKTINFO", set_recv_pktinfo_v6(&sock))?;
                opt("IPV6_FREEBIND", sock.set_freebind_v6(true))?;
            }
        }
        if let Some(addr) = source {
            let sa = sockaddr(family, addr, ifindex).ok_or_else(|| SysError::WrongFamily {
                ifname: ifname.to_owned(),
                family,
                addr,
            })?;
            sock.bind(&sa).map_err(|source| SysError::Bind {
                ifname: ifname.to_owned(),
                addr,
                source,
            })?;
        }
        if join_group {
            let (group, r) = match family {
                Family::V4 => (
                    IpAddr::V4(GROUP_V4),
                    sock.join_multicast_v4_n(&GROUP_V4, &InterfaceIndexOrAddress::Index(ifindex)),
                ),
                Family::V6 => (
                    IpAddr::V6(GROUP_V6),
                    sock.join_multicast_v6(&GROUP_V6, ifindex),
                ),
            };
            r.map_err(|source| SysError::Join {
                ifname: ifname.to_owned(),
                group,
                source,
            })?;
        }
        Ok(RawSocket {
            sock,
            ifname: ifname.to_owned(),
            ifindex,
            family,
        })
    }

    /// A second handle on the same socket (`dup`), e.g. to receive in one
    /// thread while another sends. Options and the read timeout are
    /// shared.
    pub fn try_clone(&self) -> Result<RawSocket, SysError> {
        let sock = self.sock.try_clone().map_err(|source| SysError::Open {
            ifname: self.ifname.clone(),
            family: self.family,
            source,
        })?;
        Ok(RawSocket {
            sock,
            ifname: self.ifname.clone(),
            ifindex: self.ifindex,
            family: self.family,
        })
    }

    /// The interface's name.
    pub fn ifname(&self) -> &str {
        &self.ifname
    }

    /// The interface's index.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// The socket's address family.
    pub fn family(&self) -> Family {
        self.family
    }

    /// Sends `payload` (the VRRP / CARP message) to `dst`: the group, a
    /// unicast peer, or (IPv4) a broadcast address. A link-local IPv6
    /// destination is scoped to the interface.
    pub fn send(&self, payload: &[u8], dst: IpAddr) -> Result<(), SysError> {
        let sa = sockaddr(self.family, dst, self.ifindex).ok_or_else(|| SysError::WrongFamily {
            ifname: self.ifname.clone(),
            family: self.family,
            addr: dst,
        })?;
        let err = |source| SysError::Send {
            ifname: self.ifname.clone(),
            dst,
            source,
        };
        let n = retry(|| self.sock.send_to(payload, &sa)).map_err(err)?;
        if n != payload.len() {
            return Err(err(io::Error::new(
                io::ErrorKind::WriteZero,
                format!("sent {n} of {} bytes", payload.len()),
            )));
        }
        Ok(())
    }

    /// Waits for the next packet, writes it into `buf` and says where its
    /// payload is. A 64 KiB buffer never truncates; a packet longer than
    /// `buf` is dropped and reported as [`SysError::Truncated`]. After a
    /// read timeout, [`SysError::Timeout`].
    pub fn recv(&self, buf: &mut [u8]) -> Result<RawPacket, SysError> {
        match self.family {
            Family::V4 => self.recv_v4(buf),
            Family::V6 => self.recv_v6(buf),
        }
    }

    /// Sets how long [`RawSocket::recv`] waits (`None`: forever; zero is
    /// refused by the kernel interface, use a small duration).
    pub fn set_read_timeout(&self, d: Option<Duration>) -> Result<(), SysError> {
        self.sock
            .set_read_timeout(d)
            .map_err(|source| SysError::SocketOption {
                ifname: self.ifname.clone(),
                family: self.family,
                option: "SO_RCVTIMEO",
                source,
            })
    }

    fn recv_error(&self, e: io::Error) -> SysError {
        if is_timeout(&e) {
            SysError::Timeout {
                ifname: self.ifname.clone(),
            }
        } else {
            SysError::Recv {
                ifname: self.ifname.clone(),
                source: e,
            }
        }
    }

    fn recv_v4(&self, buf: &mut [u8]) -> Result<RawPacket, SysError> {
        let capacity = buf.len();
        let (n, truncated) = retry(|| {
            let mut bufs = [MaybeUninitSlice::new(as_uninit(buf))];
            let mut msg = MsgHdrMut::new().with_buffers(&mut bufs);
            let n = self.sock.recvmsg(&mut msg, 0)?;
            Ok((n, msg.flags().is_truncated()))
        })
        .map_err(|e| self.recv_error(e))?;
        if truncated || n > capacity {
            return Err(SysError::Truncated {
                ifname: self.ifname.clone(),
                capacity,
            });
        }
        parse_ipv4(&buf[..n]).map_err(|reason| SysError::BadHeader {
            ifname: self.ifname.clone(),
            reason,
        })
    }

    fn recv_v6(&self, buf: &mut [u8]) -> Result<RawPacket, SysError> {
        let capacity = buf.len();
        let mut control = [0u8; 128];
        let mut from = SockAddr::from(SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, 0, 0, 0));
        let (n, truncated, control_len) = retry(|| {
            let mut bufs = [MaybeUninitSlice::new(as_uninit(buf))];
            let mut msg = MsgHdrMut::new()
                .with_addr(&mut from)
                .with_buffers(&mut bufs)
                .with_control(as_uninit(&mut control));
            let n = self.sock.recvmsg(&mut msg, 0)?;
            Ok((n, msg.flags().is_truncated(), msg.control_len()))
        })
        .map_err(|e| self.recv_error(e))?;
        if truncated || n > capacity {
            return Err(SysError::Truncated {
                ifname: self.ifname.clone(),
                capacity,
            });
        }
        let src = from
            .as_socket_ipv6()
            .map(|a| IpAddr::V6(*a.ip()))
            .unwrap_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED));
        let anc = parse_ipv6_control(&control[..control_len.min(control.len())]);
        Ok(RawPacket {
            src,
            dst: IpAddr::V6(anc.dst.unwrap_or(GROUP_V6)),
            ttl: anc.hop_limit.unwrap_or(0),
            payload: 0..n,
        })
    }
}

impl AsRawFd for RawSocket {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.sock.as_raw_fd()
    }
}

/// The socket address of `addr` for a socket of `family` on interface
/// `ifindex`, or `None` if the families differ. Link-local IPv6 unicast
/// and multicast addresses get the interface as scope.
fn sockaddr(family: Family, addr: IpAddr, ifindex: u32) -> Option<SockAddr> {
    match (family, addr) {
        (Family::V4, IpAddr::V4(a)) => Some(SockAddr::from(SocketAddrV4::new(a, 0))),
        (Family::V6, IpAddr::V6(a)) => {
            let seg0 = a.segments()[0];
            let link_scope = (seg0 & 0xffc0) == 0xfe80 || (seg0 & 0xff0f) == 0xff02;
            let scope = if link_scope { ifindex } else { 0 };
            Some(SockAddr::from(SocketAddrV6::new(a, 0, 0, scope)))
        }
        _ => None,
    }
}

/// Finds the addresses, TTL and payload of an IPv4 packet as a raw socket
/// hands it over.
fn parse_ipv4(p: &[u8]) -> Result<RawPacket, &'static str> {
    if p.len() < 20 {
        return Err("shorter than 20 bytes");
    }
    if p[0] >> 4 != 4 {
        return Err("version is not 4");
    }
    let ihl = usize::from(p[0] & 0x0f) * 4;
    if ihl < 20 || ihl > p.len() {
        return Err("header length out of range");
    }
    let total = usize::from(u16::from_be_bytes([p[2], p[3]]));
    if total < ihl {
        return Err("total length shorter than the header");
    }
    let end = total.min(p.len());
    let src = Ipv4Addr::new(p[12], p[13], p[14], p[15]);
    let dst = Ipv4Addr::new(p[16], p[17], p[18], p[19]);
    Ok(RawPacket {
        src: IpAddr::V4(src),
        dst: IpAddr::V4(dst),
        ttl: p[8],
        payload: ihl..end,
    })
}

/// What IPv6 ancillary data said about a packet.
#[derive(Debug, Default, PartialEq, Eq)]
struct Ancillary {
    hop_limit: Option<u8>,
    dst: Option<Ipv6Addr>,
}

/// Reads `IPV6_HOPLIMIT` and `IPV6_PKTINFO` from a `recvmsg` control
/// buffer ([`super::control_messages`]).
fn parse_ipv6_control(c: &[u8]) -> Ancillary {
    let mut out = Ancillary::default();
    super::control_messages(c, |level, ty, data| {
        if level == libc::IPPROTO_IPV6 {
            if ty == libc::IPV6_HOPLIMIT && data.len() >= 4 {
                let v = i32::from_ne_bytes([data[0], data[1], data[2], data[3]]);
                out.hop_limit = u8::try_from(v).ok();
            } else if ty == libc::IPV6_PKTINFO && data.len() >= 16 {
                let mut a = [0u8; 16];
                a.copy_from_slice(&data[..16]);
                out.dst = Some(Ipv6Addr::from(a));
            }
        }
    });
    out
}

/// Turns on `IPV6_RECVPKTINFO`, which socket2 does not offer.
fn set_recv_pktinfo_v6(sock: &Socket) -> io::Result<()> {
    super::set_int_option(sock, libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_header_is_parsed() {
        let message = [0x31u8, 7, 150, 1, 0, 100, 0, 0, 192, 0, 2, 7];
        let p =
            tandem_wire::frame::ipv4_packet(Ipv4Addr::new(192, 0, 2, 1), GROUP_V4, 255, &message);
        let r = parse_ipv4(&p).unwrap();
        assert_eq!(r.src, IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)));
        assert_eq!(r.dst, IpAddr::V4(GROUP_V4));
        assert_eq!(r.ttl, 255);
        assert_eq!(&p[r.payload], &message);
    }

    #[test]
    fn malformed_ipv4_headers_are_errors() {
        assert!(parse_ipv4(&[0x45; 10]).is_err());
        let mut p = [0u8; 20];
        p[0] = 0x65;
        assert_eq!(parse_ipv4(&p), Err("version is not 4"));
        p[0] = 0x4f;
        assert_eq!(parse_ipv4(&p), Err("header length out of range"));
        p[0] = 0x45;
        p[3] = 10;
        assert_eq!(parse_ipv4(&p), Err("total length shorter than the header"));
        // Any bytes: an answer, never a panic.
        for len in 0..64 {
            let _ = parse_ipv4(&vec![0x46; len]);
        }
    }

    fn cmsg(level: i32, ty: i32, data: &[u8]) -> Vec<u8> {
        const W: usize = std::mem::size_of::<usize>();
        let hdr = (W + 8 + W - 1) & !(W - 1);
        let len = hdr + data.len();
        let mut v = Vec::new();
        v.extend_from_slice(&len.to_ne_bytes());
        v.extend_from_slice(&level.to_ne_bytes());
        v.extend_from_slice(&ty.to_ne_bytes());
        v.resize(hdr, 0);
        v.extend_from_slice(data);
        v.resize((len + W - 1) & !(W - 1), 0);
        v
    }

    #[test]
    fn ipv6_ancillary_data_is_parsed() {
        let mut c = cmsg(libc::IPPROTO_IPV6, libc::IPV6_PKTINFO, &{
            let mut d = GROUP_V6.octets().to_vec();
            d.extend_from_slice(&3u32.to_ne_bytes());
            d
        });
        c.extend(cmsg(
            libc::IPPROTO_IPV6,
            libc::IPV6_HOPLIMIT,
            &64i32.to_ne_bytes(),
        ));
        let a = parse_ipv6_control(&c);
        assert_eq!(a.hop_limit, Some(64));
        assert_eq!(a.dst, Some(GROUP_V6));
        // Every prefix: no panic, and no field from a cut message.
        for n in 0..c.len() {
            let _ = parse_ipv6_control(&c[..n]);
        }
        assert_eq!(parse_ipv6_control(&[0xff; 40]), Ancillary::default());
    }

    #[test]
    fn sockaddr_scopes_link_local() {
        let ll: IpAddr = "fe80::1".parse().unwrap();
        let sa = sockaddr(Family::V6, ll, 9).unwrap();
        assert_eq!(sa.as_socket_ipv6().unwrap().scope_id(), 9);
        let g = sockaddr(Family::V6, IpAddr::V6(GROUP_V6), 9).unwrap();
        assert_eq!(g.as_socket_ipv6().unwrap().scope_id(), 9);
        let global: IpAddr = "fd00::1".parse().unwrap();
        assert_eq!(
            sockaddr(Family::V6, global, 9)
                .unwrap()
                .as_socket_ipv6()
                .unwrap()
                .scope_id(),
            0
        );
        assert!(sockaddr(Family::V4, global, 9).is_none());
    }
}
