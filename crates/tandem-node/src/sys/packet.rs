//! `AF_PACKET` sockets that send whole Ethernet frames on one interface:
//! the gratuitous ARPs and unsolicited neighbour advertisements a new
//! Active router sends (built by `tandem_wire::frame`), from the virtual
//! MAC or the interface's own.
//!
//! The socket is opened with protocol 0, so it receives nothing: it only
//! sends, and costs nothing while idle.

use std::io;
use std::os::fd::AsRawFd;

use socket2::{Domain, SockAddr, SockAddrStorage, Socket, Type};

use super::{netlink, retry, SysError};

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
        sock.bind(&link_layer_addr(ifindex)).map_err(err)?;
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

/// The `sockaddr_ll` of interface `ifindex`, protocol 0 (bind without
/// receiving anything).
#[allow(unsafe_code)]
fn link_layer_addr(ifindex: i32) -> SockAddr {
    let mut storage = SockAddrStorage::zeroed();
    // SAFETY: `sockaddr_ll` is a socket address type of this platform and
    // smaller than the storage (`view_as` asserts it); all zeros is a
    // valid `sockaddr_ll`.
    let ll = unsafe { storage.view_as::<libc::sockaddr_ll>() };
    ll.sll_family = libc::AF_PACKET as libc::sa_family_t;
    ll.sll_ifindex = ifindex;
    let len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
    // SAFETY: the storage holds an initialised `sockaddr_ll` of family
    // AF_PACKET, and `len` is its size.
    unsafe { SockAddr::new(storage, len) }
}
