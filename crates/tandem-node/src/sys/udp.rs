//! The replication link's UDP socket: bound to the link's interface if
//! one is configured, TTL / hop limit 255 on send (multicast too), the
//! received TTL / hop limit reported with each datagram (`IP_RECVTTL`,
//! `IPV6_RECVHOPLIMIT`), a multicast group joined when the peer is one.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use socket2::{Domain, MaybeUninitSlice, MsgHdrMut, Protocol, SockAddr, Socket, Type};

use super::{as_uninit, control_messages, retry, set_int_option};

/// A received datagram's size limit: larger ones are truncated and refused.
pub const MAX_DATAGRAM: usize = 65_535;

/// One datagram as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    /// The sender.
    pub src: SocketAddr,
    /// Its TTL (IPv4) or hop limit (IPv6); 0 if the kernel did not say.
    pub ttl: u8,
    /// Payload bytes in the receive buffer.
    pub len: usize,
    /// The datagram did not fit the buffer.
    pub truncated: bool,
}

/// The replication socket.
#[derive(Debug)]
pub struct UdpLink {
    sock: Socket,
}

impl UdpLink {
    /// Opens the socket: bound to `listen` (and to `interface`, if any),
    /// sending with TTL 255, reporting each datagram's TTL; joined to
    /// `peer` if it is a multicast group. Receives time out after
    /// `timeout`, so that a receiving thread can stop.
    pub fn open(
        listen: SocketAddr,
        peer: SocketAddr,
        interface: Option<&str>,
        timeout: Duration,
    ) -> io::Result<UdpLink> {
        let domain = if listen.is_ipv4() {
            Domain::IPV4
        } else {
            Domain::IPV6
        };
        let sock = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
        sock.set_reuse_address(true)?;
        if let Some(name) = interface {
            sock.bind_device(Some(name.as_bytes()))?;
        }
        let ifindex = match interface {
            Some(name) => super::ifindex(name).unwrap_or(0),
            None => 0,
        };
        let _ = sock.set_recv_buffer_size(4 << 20);
        let _ = sock.set_send_buffer_size(4 << 20);
        match peer.ip() {
            IpAddr::V4(group) => {
                sock.set_ttl_v4(255)?;
                set_int_option(&sock, libc::IPPROTO_IP, libc::IP_RECVTTL, 1)?;
                if group.is_multicast() {
                    sock.set_multicast_ttl_v4(255)?;
                    sock.set_multicast_loop_v4(false)?;
                    let iface = socket2::InterfaceIndexOrAddress::Index(ifindex);
                    sock.join_multicast_v4_n(&group, &iface)?;
                }
            }
            IpAddr::V6(group) => {
                sock.set_unicast_hops_v6(255)?;
                sock.set_recv_hoplimit_v6(true)?;
                if group.is_multicast() {
                    sock.set_multicast_hops_v6(255)?;
                    sock.set_multicast_loop_v6(false)?;
                    sock.join_multicast_v6(&group, ifindex)?;
                }
            }
        }
        sock.set_read_timeout(Some(timeout))?;
        sock.bind(&SockAddr::from(listen))?;
        Ok(UdpLink { sock })
    }

    /// Another handle on the same socket (one thread receives, another sends).
    pub fn try_clone(&self) -> io::Result<UdpLink> {
        Ok(UdpLink {
            sock: self.sock.try_clone()?,
        })
    }

    /// Sends a datagram.
    pub fn send(&self, bytes: &[u8], to: SocketAddr) -> io::Result<usize> {
        retry(|| self.sock.send_to(bytes, &SockAddr::from(to)))
    }

    /// Receives one datagram into `buf` (an error of kind `WouldBlock` or
    /// `TimedOut` when the timeout passed).
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Datagram> {
        let mut control = [0u8; 128];
        let mut from = SockAddr::from(SocketAddr::from(([0u8; 4], 0)));
        let (len, truncated, control_len) = retry(|| {
            let mut bufs = [MaybeUninitSlice::new(as_uninit(buf))];
            let mut msg = MsgHdrMut::new()
                .with_addr(&mut from)
                .with_buffers(&mut bufs)
                .with_control(as_uninit(&mut control));
            let n = self.sock.recvmsg(&mut msg, 0)?;
            Ok((n, msg.flags().is_truncated(), msg.control_len()))
        })?;
        let mut ttl = 0u8;
        control_messages(
            &control[..control_len.min(control.len())],
            |level, ty, data| {
                let v4 = level == libc::IPPROTO_IP && ty == libc::IP_TTL;
                let v6 = level == libc::IPPROTO_IPV6 && ty == libc::IPV6_HOPLIMIT;
                if (v4 || v6) && data.len() >= 4 {
                    let v = i32::from_ne_bytes([data[0], data[1], data[2], data[3]]);
                    ttl = u8::try_from(v).unwrap_or(0);
                }
            },
        );
        let src = from
            .as_socket()
            .unwrap_or_else(|| SocketAddr::from(([0u8; 4], 0)));
        Ok(Datagram {
            src,
            ttl,
            len: len.min(buf.len()),
            truncated,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_datagrams_carry_their_ttl() {
        let a = UdpLink::open(
            "127.0.0.1:0".parse().unwrap(),
            "127.0.0.1:1".parse().unwrap(),
            None,
            Duration::from_millis(500),
        )
        .unwrap();
        let b_addr: SocketAddr = {
            let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            s.local_addr().unwrap()
        };
        let b = UdpLink::open(
            b_addr,
            "127.0.0.1:1".parse().unwrap(),
            None,
            Duration::from_millis(500),
        )
        .unwrap();
        a.send(b"hello", b_addr).unwrap();
        let mut buf = [0u8; 64];
        let d = b.recv(&mut buf).unwrap();
        assert_eq!(&buf[..d.len], b"hello");
        assert_eq!(d.ttl, 255);
        assert!(!d.truncated);
        // A plain socket sends with the default TTL (64): reported as such.
        let plain = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        plain.send_to(b"x", b_addr).unwrap();
        let d = b.recv(&mut buf).unwrap();
        assert_ne!(d.ttl, 255);
    }
}
