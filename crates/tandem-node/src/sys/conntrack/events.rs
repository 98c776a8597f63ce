//! The event follower: a ctnetlink socket in the conntrack multicast
//! groups (module docs of `conntrack`, "Events").

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::Duration;

use netlink_sys::Socket;

use super::codec::{self, Msg};
use super::{open_socket, recv_datagram, set_rcvbuf, Event, EVENTS_RCVBUF, RECV_BUF};

/// At most this many datagrams are read by one [`Events::recv`].
const EVENT_READS: usize = 1024;

/// Why [`Events::recv`] returned no events.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EventsError {
    /// The socket's buffer overflowed and the kernel dropped events
    /// (`ENOBUFS`), or a datagram too long for the buffer was dropped:
    /// resynchronise with [`super::Conntrack::dump`].
    #[error("conntrack events were lost (the event socket's buffer overflowed)")]
    Lost,
    /// Reading the socket failed.
    #[error("cannot read conntrack events")]
    Io(#[source] io::Error),
}

/// A socket subscribed to the table's changes.
#[derive(Debug)]
pub struct Events {
    sock: Socket,
    buf: Vec<u8>,
    skipped: u64,
}

/// `NFNLGRP_CONNTRACK_NEW`, `_UPDATE`, `_DESTROY`.
const GROUPS: [u32; 3] = [1, 2, 3];

impl Events {
    /// Subscribes to new, updated and destroyed entries in the network
    /// namespace of the calling thread, with an [`EVENTS_RCVBUF`] receive
    /// buffer (`SO_RCVBUFFORCE`; without `CAP_NET_ADMIN`, as large as
    /// `net.core.rmem_max` allows).
    pub fn subscribe() -> io::Result<Events> {
        Events::subscribe_with_buffer(EVENTS_RCVBUF)
    }

    /// [`Events::subscribe`] with a receive buffer of `bytes` (the kernel
    /// doubles it for its bookkeeping).
    pub fn subscribe_with_buffer(bytes: usize) -> io::Result<Events> {
        let sock = open_socket()?;
        for g in GROUPS {
            sock.add_membership(g)?;
        }
        set_rcvbuf(&sock, bytes)?;
        Ok(Events {
            sock,
            buf: Vec::with_capacity(RECV_BUF),
            skipped: 0,
        })
    }

    /// How long [`Events::recv`] waits for the first event (`None`:
    /// forever).
    pub fn set_read_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        socket2::SockRef::from(&self.sock).set_read_timeout(d)
    }

    /// In non-blocking mode [`Events::recv`] returns at once, with no
    /// events if none are queued.
    pub fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        self.sock.set_non_blocking(on)
    }

    /// Waits for events (at most the read timeout) and returns every
    /// event queued by then, in the kernel's order; an empty list when
    /// the timeout expired first.
    pub fn recv(&mut self) -> Result<Vec<Event>, EventsError> {
        let mut out = Vec::new();
        for n in 0..EVENT_READS {
            let flags = if n == 0 { 0 } else { libc::MSG_DONTWAIT };
            match recv_datagram(&self.sock, &mut self.buf, flags) {
                Ok(()) => {}
                // An overflow, or a datagram too long for the buffer
                // (dropped by the receive).
                Err(e) if matches!(e.raw_os_error(), Some(libc::ENOBUFS | libc::EMSGSIZE)) => {
                    return Err(EventsError::Lost)
                }
                Err(e) if crate::sys::is_timeout(&e) => break,
                Err(e) => return Err(EventsError::Io(e)),
            }
            match codec::split(&self.buf) {
                Ok(msgs) => {
                    for m in msgs {
                        match m {
                            Msg::Entry { event, .. } => out.push(event),
                            _ => self.skipped += 1,
                        }
                    }
                }
                Err(_) => self.skipped += 1,
            }
        }
        Ok(out)
    }

    /// How many received messages were not conntrack entries or did not
    /// decode (they are skipped).
    pub fn skipped(&self) -> u64 {
        self.skipped
    }
}

impl AsRawFd for Events {
    fn as_raw_fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }
}

impl AsFd for Events {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}

/// Decodes a datagram of ctnetlink messages into the events it holds;
/// messages that are not entries are left out. Never panics.
pub fn parse_events(datagram: &[u8]) -> Result<Vec<Event>, netlink_packet_core::DecodeError> {
    Ok(codec::split(datagram)?
        .into_iter()
        .filter_map(|m| match m {
            Msg::Entry { event, .. } => Some(event),
            _ => None,
        })
        .collect())
}
