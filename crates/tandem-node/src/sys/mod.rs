//! Linux I/O drivers of tandemd: blocking sockets, no decisions.
//!
//! - [`raw`]: IP protocol 112 raw sockets, IPv4 and IPv6, bound to one
//!   interface, joined to 224.0.0.18 / ff02::12, TTL / hop limit 255 on
//!   send, the received TTL / hop limit reported with each packet.
//! - [`netlink`]: synchronous rtnetlink: interface lookups, virtual
//!   addresses (IPv6 with `IFA_F_NODAD`), link state, macvlan interfaces
//!   for the virtual MAC, and a [`netlink::LinkMonitor`] of link changes.
//! - [`conntrack`]: the kernel's connection-tracking table over
//!   ctnetlink: dump, batched create / update, delete, and an event
//!   follower.
//! - [`sd_notify`]: the service manager's notification socket (systemd
//!   readiness, status, watchdog).
//! - [`packet`]: `AF_PACKET` sockets that send whole Ethernet frames
//!   (gratuitous ARP, unsolicited NA, built by `tandem_wire::frame`).
//!
//! Every call blocks. The sockets are `Send + Sync`: send through `&self`
//! from one thread while a `try_clone` receives in another. Interrupted
//! system calls (`EINTR`) are retried; every other failure is a
//! [`SysError`] naming the operation, the interface and the address.
//!
//! The few `unsafe` blocks (an `AF_PACKET` address, one socket option
//! that socket2 lacks, the receive buffer view) are each in a function of
//! a few lines with a `SAFETY:` comment.

pub mod conntrack;
pub mod netlink;
pub mod packet;
pub mod raw;
pub mod sd_notify;
pub mod udp;

use std::io;
use std::mem::MaybeUninit;
use std::net::IpAddr;

use tandem_wire::Family;

pub use netlink::{ifindex, link_mac, LinkEvent, LinkMonitor, Netlink};
pub use packet::{CaptureSocket, PacketSocket};
pub use raw::{RawPacket, RawSocket};

/// Why a Linux I/O operation failed: the operation, the interface or
/// address it was about, and the kernel's error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SysError {
    /// No interface has this name (or the name is not a valid interface
    /// name: 1 to 15 bytes, no `/`, no white space).
    #[error("no interface named {0:?}")]
    NoSuchInterface(String),
    /// The raw socket could not be created (`CAP_NET_RAW` is needed).
    #[error("cannot open a raw {family} socket on {ifname}")]
    Open {
        /// The interface.
        ifname: String,
        /// The address family.
        family: Family,
        /// The kernel's error.
        #[source]
        source: io::Error,
    },
    /// A socket option was refused.
    #[error("cannot set {option} on the {family} socket of {ifname}")]
    SocketOption {
        /// The interface.
        ifname: String,
        /// The address family.
        family: Family,
        /// The option, e.g. `SO_BINDTODEVICE`.
        option: &'static str,
        /// The kernel's error.
        #[source]
        source: io::Error,
    },
    /// Binding to the source address failed (the address is not on the
    /// host, or not on this interface).
    #[error("cannot bind the socket of {ifname} to source {addr}")]
    Bind {
        /// The interface.
        ifname: String,
        /// The source address.
        addr: IpAddr,
        /// The kernel's error.
        #[source]
        source: io::Error,
    },
    /// Joining the VRRP / CARP multicast group failed.
    #[error("cannot join {group} on {ifname}")]
    Join {
        /// The interface.
        ifname: String,
        /// The group, 224.0.0.18 or ff02::12.
        group: IpAddr,
        /// The kernel's error.
        #[source]
        source: io::Error,
    },
    /// An address of the other family was given to a socket.
    #[error("{addr} is not an {family} address, as the socket of {ifname} needs")]
    WrongFamily {
        /// The interface.
        ifname: String,
        /// The socket's family.
        family: Family,
        /// The address of the other family.
        addr: IpAddr,
    },
    /// Sending a packet failed.
    #[error("cannot send to {dst} on {ifname}")]
    Send {
        /// The interface.
        ifname: String,
        /// The destination.
        dst: IpAddr,
        /// The kernel's error.
        #[source]
        source: io::Error,
    },
    /// Receiving failed.
    #[error("cannot receive on {ifname}")]
    Recv {
        /// The interface.
        ifname: String,
        /// The kernel's error.
        #[source]
        source: io::Error,
    },
    /// The read timeout set with `set_read_timeout` expired before a
    /// packet came. Not a fault: see [`SysError::is_timeout`].
    #[error("no packet on {ifname} before the read timeout")]
    Timeout {
        /// The interface (`netlink` for a [`LinkMonitor`]).
        ifname: String,
    },
    /// A received packet did not fit the buffer; it was dropped.
    #[error("a packet on {ifname} was longer than the {capacity}-byte buffer")]
    Truncated {
        /// The interface.
        ifname: String,
        /// The buffer's length.
        capacity: usize,
    },
    /// The kernel handed a packet whose IPv4 header is malformed. It was
    /// dropped.
    #[error("a packet on {ifname} has a malformed IPv4 header: {reason}")]
    BadHeader {
        /// The interface.
        ifname: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// The packet socket could not be opened or bound to the interface
    /// (`CAP_NET_RAW` is needed).
    #[error("cannot open a packet socket on {ifname}")]
    PacketOpen {
        /// The interface.
        ifname: String,
        /// The kernel's error.
        #[source]
        source: io::Error,
    },
    /// Receiving from a capture packet socket failed.
    #[error("cannot receive frames on {ifname}")]
    PacketRecv {
        /// The interface.
        ifname: String,
        /// The kernel's error.
        #[source]
        source: io::Error,
    },
    /// Sending a frame through a packet socket failed.
    #[error("cannot send a {len}-byte frame on {ifname}")]
    FrameSend {
        /// The interface.
        ifname: String,
        /// The frame's length.
        len: usize,
        /// The kernel's error.
        #[source]
        source: io::Error,
    },
    /// An rtnetlink request failed or was answered with an error.
    #[error("netlink {op} failed: {detail}")]
    Netlink {
        /// The operation, e.g. `add address`.
        op: &'static str,
        /// The interface, address or prefix involved.
        detail: String,
        /// The kernel's error.
        #[source]
        source: io::Error,
    },
    /// An rtnetlink answer could not be decoded.
    #[error("netlink {op}: undecodable answer: {detail}")]
    NetlinkDecode {
        /// The operation.
        op: &'static str,
        /// What could not be decoded.
        detail: String,
    },
    /// An interface has no Ethernet (6-byte) hardware address.
    #[error("{ifname} has no Ethernet address")]
    NotEthernet {
        /// The interface.
        ifname: String,
    },
    /// A macvlan could not be created because a link of that name exists
    /// with another MAC address.
    #[error("link {name} exists with MAC {found}, not {wanted}")]
    LinkExists {
        /// The link's name.
        name: String,
        /// The MAC it has.
        found: Mac,
        /// The MAC that was asked for.
        wanted: Mac,
    },
    /// A kernel setting under /proc/sys could not be read or written.
    #[error("cannot set {path} to {value}")]
    Sysctl {
        /// The file under /proc/sys.
        path: String,
        /// The value that was to be written.
        value: String,
        /// The kernel's error.
        #[source]
        source: io::Error,
    },
    /// A thread of the driver could not be started.
    #[error("cannot start the {what} thread")]
    Thread {
        /// Which thread.
        what: &'static str,
        /// Why.
        #[source]
        source: io::Error,
    },
}

impl SysError {
    /// Whether this is the expiry of a read timeout rather than a fault.
    pub fn is_timeout(&self) -> bool {
        matches!(self, SysError::Timeout { .. })
    }
}

/// A MAC address, printed as `00:00:5e:00:01:07`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Mac(pub [u8; 6]);

impl std::fmt::Display for Mac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let m = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

/// Makes `ifname` speak ARP for its own IPv4 addresses only (in the
/// network namespace of the calling thread): `net.ipv4.conf.IFNAME.`
/// `arp_ignore` = 1 (answer requests only for an address on this
/// interface) and `arp_announce` = 2 (ask with a sender address of this
/// interface), each unless it is already that strict. With the virtual
/// MAC, the parent would otherwise answer for the virtual addresses on its
/// macvlan with its own MAC, the macvlan for the node's own addresses with
/// the virtual MAC, and the parent's requests would carry a virtual
/// address as sender: each teaches neighbours the wrong MAC. Returns what
/// it changed, as `arp_ignore 0 -> 1`.
pub fn arp_own_addresses_only(ifname: &str) -> Result<Vec<String>, SysError> {
    if !valid_ifname(ifname) {
        return Err(SysError::NoSuchInterface(ifname.to_owned()));
    }
    let mut changed = Vec::new();
    for (key, min) in [("arp_ignore", 1u8), ("arp_announce", 2)] {
        let path = format!("/proc/sys/net/ipv4/conf/{ifname}/{key}");
        let err = |source| SysError::Sysctl {
            path: path.clone(),
            value: min.to_string(),
            source,
        };
        let old = std::fs::read_to_string(&path).map_err(err)?;
        let old = old.trim();
        if old.parse::<u8>().is_ok_and(|v| v >= min) {
            continue;
        }
        std::fs::write(&path, min.to_string()).map_err(err)?;
        changed.push(format!("{key} {old} -> {min}"));
    }
    Ok(changed)
}

/// Runs `f` again while it fails with `EINTR`.
pub(crate) fn retry<T>(mut f: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match f() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// Whether an error is the expiry of `SO_RCVTIMEO`.
pub(crate) fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Views an initialised byte buffer as the `MaybeUninit` buffer that
/// socket2's receive calls take.
#[allow(unsafe_code)]
pub(crate) fn as_uninit(buf: &mut [u8]) -> &mut [MaybeUninit<u8>] {
    // SAFETY: `MaybeUninit<u8>` has the size, alignment and validity of
    // `u8`, so the cast slice covers exactly the same memory. The only
    // callers hand it to socket2's receive calls, which write initialised
    // bytes (or nothing) and never write `MaybeUninit::uninit()`, so every
    // byte of `buf` is still initialised when the borrow ends.
    unsafe { &mut *(buf as *mut [u8] as *mut [MaybeUninit<u8>]) }
}

/// Walks a `recvmsg` control buffer: a sequence of `cmsghdr { size_t
/// len; int level; int type; }`, each header and data aligned to
/// `size_t`, in host byte order; `f` gets each message's level, type and
/// data. A malformed buffer ends the walk.
pub(crate) fn control_messages(c: &[u8], mut f: impl FnMut(i32, i32, &[u8])) {
    const W: usize = std::mem::size_of::<usize>();
    let align = |n: usize| (n + W - 1) & !(W - 1);
    let hdr = align(W + 8);
    let mut off = 0;
    while off + hdr <= c.len() {
        let mut lenb = [0u8; W];
        lenb.copy_from_slice(&c[off..off + W]);
        let len = usize::from_ne_bytes(lenb);
        let word = |at: usize| i32::from_ne_bytes([c[at], c[at + 1], c[at + 2], c[at + 3]]);
        let (level, ty) = (word(off + W), word(off + W + 4));
        if len < hdr || off + len > c.len() {
            break;
        }
        f(level, ty, &c[off + hdr..off + len]);
        off += align(len);
    }
}

/// Sets an `int` socket option that socket2 does not offer.
#[allow(unsafe_code)]
pub(crate) fn set_int_option(
    sock: &socket2::Socket,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let len = libc::socklen_t::try_from(std::mem::size_of::<libc::c_int>()).unwrap_or(4);
    // SAFETY: the descriptor is open for the whole call (borrowed from
    // `sock`), and `optval` points to a live `c_int` whose size is `len`;
    // the kernel only reads it.
    let r = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            level,
            name,
            (&value as *const libc::c_int).cast(),
            len,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Whether `name` can be a Linux interface name (`dev_valid_name`).
pub(crate) fn valid_ifname(name: &str) -> bool {
    !name.is_empty()
        && name.len() < 16
        && name != "."
        && name != ".."
        && !name
            .bytes()
            .any(|b| b == b'/' || b == b':' || b == 0 || b.is_ascii_whitespace())
}

/// Takes an exclusive `flock(2)` lock on `file` without waiting: `Ok(true)`
/// when it is ours (until the file is closed), `Ok(false)` when another
/// open file holds it.
#[allow(unsafe_code)]
pub(crate) fn try_lock_exclusive(file: &std::fs::File) -> io::Result<bool> {
    use std::os::fd::AsRawFd;
    // SAFETY: flock takes a file descriptor and flags and touches no
    // memory; the descriptor stays open for the call (borrowed `file`).
    loop {
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc == 0 {
            return Ok(true);
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EWOULDBLOCK) => return Ok(false),
            Some(libc::EINTR) => continue,
            _ => return Err(e),
        }
    }
}
