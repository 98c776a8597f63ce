//! `AF_PACKET` sockets that send whole Ethernet frames on one interface:
//! the gratuitous ARPs and unsolicited neighbour advertisements a new
//! Active router sends (built by `tandem_wire::frame`), from the virtual
//! MAC or the interface's own.
//!
//! The socket is opened with protocol 0, so it receives nothing: it only
//! sends, and costs nothing while idle.
//!
//! [`CaptureSocket`] is the receiving kind, for `tandemd sniff`: every
//! frame of one interface that carries IP protocol 112, chosen in the
//! kernel by a classic BPF filter ([`PROTO112_FILTER`]), so other traffic
//! never reaches userspace.

use std::io;
use std::os::fd::AsRawFd;
use std::time::Duration;

use socket2::{Domain, SockAddr, SockAddrStorage, SockFilter, Socket, Type};

use super::{as_uninit, is_timeout, netlink, retry, SysError};

/// A send-only packet socket bound to one interface.
#[derive(Debug)]
pub struct PacketSocket {
    sock: Socket,
    ifname: String,
}

impl PacketSocket {
    /// Opens a packet socket that sends on `ifname` (`CAP_NET_RAW` is
    /// needed).
    pub fn open(ifname: &str) -> Result<PacketSocket, SysError> {
        let index = netlink::ifindex(ifname)?;
        let err = |source| SysError::PacketOpen {
            ifname: ifname.to_owned(),
            source,
        };
        let sock = Socket::new(Domain::PACKET, Type::RAW, None).map_err(err)?;
        let ifindex =
            i32::try_from(index).map_err(|_| err(io::Error::from(io::ErrorKind::InvalidInput)))?;
        sock.bind(&link_layer_addr(ifindex, 0)).map_err(err)?;
        Ok(PacketSocket {
            sock,
            ifname: ifname.to_owned(),
        })
    }

    /// Sends one whole frame (Ethernet header included) as it is.
    pub fn send(&self, frame: &[u8]) -> Result<(), SysError> {
        let err = |source| SysError::FrameSend {
            ifname: self.ifname.clone(),
            len: frame.len(),
            source,
        };
        let n = retry(|| self.sock.send(frame)).map_err(err)?;
        if n != frame.len() {
            return Err(err(io::Error::new(
                io::ErrorKind::WriteZero,
                format!("sent {n} of {} bytes", frame.len()),
            )));
        }
        Ok(())
    }

    /// A second handle on the same socket.
    pub fn try_clone(&self) -> Result<PacketSocket, SysError> {
        let sock = self
            .sock
            .try_clone()
            .map_err(|source| SysError::PacketOpen {
                ifname: self.ifname.clone(),
                source,
            })?;
        Ok(PacketSocket {
            sock,
            ifname: self.ifname.clone(),
        })
    }

    /// The interface's name.
    pub fn ifname(&self) -> &str {
        &self.ifname
    }
}

impl AsRawFd for PacketSocket {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.sock.as_raw_fd()
    }
}

/// The `sockaddr_ll` of interface `ifindex` and `protocol` (an ethertype
/// in host order; 0 binds without receiving anything).
#[allow(unsafe_code)]
fn link_layer_addr(ifindex: i32, protocol: u16) -> SockAddr {
    let mut storage = SockAddrStorage::zeroed();
    // SAFETY: `sockaddr_ll` is a socket address type of this platform and
    // smaller than the storage (`view_as` asserts it); all zeros is a
    // valid `sockaddr_ll`.
    let ll = unsafe { storage.view_as::<libc::sockaddr_ll>() };
    ll.sll_family = libc::AF_PACKET as libc::sa_family_t;
    ll.sll_ifindex = ifindex;
    ll.sll_protocol = protocol.to_be();
    let len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
    // SAFETY: the storage holds an initialised `sockaddr_ll` of family
    // AF_PACKET, and `len` is its size.
    unsafe { SockAddr::new(storage, len) }
}

/// `ETH_P_ALL`: every ethertype, as a packet socket's protocol.
const ETH_P_ALL: u16 = 0x0003;

// Classic BPF opcodes (linux/filter.h, linux/bpf_common.h).
const LD_W_ABS: u16 = 0x20;
const LD_H_ABS: u16 = 0x28;
const LD_B_ABS: u16 = 0x30;
const JEQ_K: u16 = 0x15;
const RET_K: u16 = 0x06;
/// The ancillary load "a VLAN tag was stripped from this frame"
/// (`SKF_AD_OFF + SKF_AD_VLAN_TAG_PRESENT`, as the kernel reads it: a
/// negative offset).
const VLAN_TAG_PRESENT: u32 = (-0x1000i32 + 48) as u32;
/// How much of an accepted frame the filter keeps: all of it.
const KEEP_ALL: u32 = 0x0004_0000;

/// One classic BPF instruction: opcode, jump-if-true, jump-if-false, k.
pub type BpfInsn = (u16, u8, u8, u32);

/// The filter a [`CaptureSocket`] runs in the kernel, on frames as an
/// `AF_PACKET` `SOCK_RAW` socket sees them (Ethernet header first). It
/// accepts untagged Ethernet frames carrying IPv4 protocol 112 (VRRP,
/// CARP) or 51 (IPsec-AH, keepalived's VRRPv2 `auth_type AH` wraps VRRP in
/// it) and IPv6 next header 112, and drops everything else, VLAN-tagged
/// frames included (those belong to the VLAN's own interface).
///
/// ```text
///  0 ld  vlan_tag_present     5 jeq #112  -> accept       10 accept: ret #262144
///  1 jeq #0 else drop         6 jeq #51   -> accept       11 drop:   ret #0
///  2 ldh [12]                 7 jeq #0x86dd else drop
///  3 jeq #0x0800 else 7       8 ldb [20]      (next header)
///  4 ldb [23]  (protocol)     9 jeq #112  -> accept else drop
/// ```
pub const PROTO112_FILTER: [BpfInsn; 12] = [
    (LD_W_ABS, 0, 0, VLAN_TAG_PRESENT),
    (JEQ_K, 0, 9, 0),
    (LD_H_ABS, 0, 0, 12),
    (JEQ_K, 0, 3, 0x0800),
    (LD_B_ABS, 0, 0, 23),
    (JEQ_K, 4, 0, 112),
    (JEQ_K, 3, 4, 51),
    (JEQ_K, 0, 3, 0x86dd),
    (LD_B_ABS, 0, 0, 20),
    (JEQ_K, 0, 1, 112),
    (RET_K, 0, 0, KEEP_ALL),
    (RET_K, 0, 0, 0),
];

/// A receiving packet socket on one interface that gets only the frames
/// [`PROTO112_FILTER`] accepts, whole (Ethernet header included), sent and
/// received by this host alike.
#[derive(Debug)]
pub struct CaptureSocket {
    sock: Socket,
    ifname: String,
}

impl CaptureSocket {
    /// Opens the socket on `ifname` (`CAP_NET_RAW` is needed). The filter
    /// is attached before the socket is bound to a protocol, so not one
    /// unfiltered frame is queued. `timeout` bounds each
    /// [`CaptureSocket::recv`].
    pub fn open(ifname: &str, timeout: Duration) -> Result<CaptureSocket, SysError> {
        let index = netlink::ifindex(ifname)?;
        let err = |source| SysError::PacketOpen {
            ifname: ifname.to_owned(),
            source,
        };
        let ifindex =
            i32::try_from(index).map_err(|_| err(io::Error::from(io::ErrorKind::InvalidInput)))?;
        // Protocol 0: nothing is received until the bind below.
        let sock = Socket::new(Domain::PACKET, Type::RAW, None).map_err(err)?;
        let program: Vec<SockFilter> = PROTO112_FILTER
            .iter()
            .map(|&(code, jt, jf, k)| SockFilter::new(code, jt, jf, k))
            .collect();
        sock.attach_filter(&program).map_err(err)?;
        sock.set_read_timeout(Some(timeout)).map_err(err)?;
        sock.bind(&link_layer_addr(ifindex, ETH_P_ALL))
            .map_err(err)?;
        Ok(CaptureSocket {
            sock,
            ifname: ifname.to_owned(),
        })
    }

    /// Waits up to the socket's timeout for one frame: its length in
    /// `buf` (a frame longer than `buf` is cut to it), or `None` when the
    /// time passed or a signal interrupted the wait.
    pub fn recv(&self, buf: &mut [u8]) -> Result<Option<usize>, SysError> {
        match self.sock.recv(as_uninit(buf)) {
            Ok(n) => Ok(Some(n.min(buf.len()))),
            Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => Ok(None),
            Err(source) => Err(SysError::PacketRecv {
                ifname: self.ifname.clone(),
                source,
            }),
        }
    }

    /// The interface's name.
    pub fn ifname(&self) -> &str {
        &self.ifname
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tandem_wire::build::Advert;

    /// Runs the subset of classic BPF that [`PROTO112_FILTER`] uses on an
    /// untagged frame: the number of bytes it keeps.
    fn run(program: &[BpfInsn], frame: &[u8]) -> u32 {
        let (mut pc, mut a) = (0usize, 0u32);
        for _ in 0..program.len() {
            let (code, jt, jf, k) = program[pc];
            let load = |len: usize| -> Option<u32> {
                let at = usize::try_from(k).ok()?;
                let b = frame.get(at..at + len)?;
                Some(b.iter().fold(0, |acc, x| (acc << 8) | u32::from(*x)))
            };
            pc += 1;
            match code {
                LD_W_ABS if k == VLAN_TAG_PRESENT => a = 0,
                LD_W_ABS => match load(4) {
                    Some(v) => a = v,
                    None => return 0,
                },
                LD_H_ABS => match load(2) {
                    Some(v) => a = v,
                    None => return 0,
                },
                LD_B_ABS => match load(1) {
                    Some(v) => a = v,
                    None => return 0,
                },
                JEQ_K => pc += usize::from(if a == k { jt } else { jf }),
                RET_K => return k,
                other => panic!("opcode {other:#x} not in the test interpreter"),
            }
        }
        panic!("the filter ran off its end");
    }

    #[test]
    fn the_filter_keeps_protocol_112_and_ah_and_drops_the_rest() {
        let v4: std::net::IpAddr = "192.0.2.10".parse().unwrap();
        let v6: std::net::IpAddr = "fd00::10".parse().unwrap();
        let vrrp4 = Advert::vrrp3(10, [v4]).ethernet_frame();
        let vrrp6 = Advert::vrrp3(10, [v6]).ethernet_frame();
        let carp = Advert::carp(10, b"pw", [v4]).ethernet_frame();
        for f in [&vrrp4, &vrrp6, &carp] {
            assert_eq!(run(&PROTO112_FILTER, f), KEEP_ALL);
        }
        let mut ah = vrrp4.clone();
        ah[23] = 51;
        assert_eq!(run(&PROTO112_FILTER, &ah), KEEP_ALL);
        let mut udp = vrrp4.clone();
        udp[23] = 17;
        assert_eq!(run(&PROTO112_FILTER, &udp), 0);
        let mut udp6 = vrrp6.clone();
        udp6[20] = 17;
        assert_eq!(run(&PROTO112_FILTER, &udp6), 0);
        let arp = tandem_wire::frame::gratuitous_arp([2, 0, 0, 0, 0, 1], [192, 0, 2, 9].into());
        assert_eq!(run(&PROTO112_FILTER, &arp), 0);
        // A frame too short for the protocol byte is dropped.
        assert_eq!(run(&PROTO112_FILTER, &vrrp4[..20]), 0);
    }
}
