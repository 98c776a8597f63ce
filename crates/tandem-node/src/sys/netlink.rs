//! Synchronous rtnetlink (`NETLINK_ROUTE`): interface lookups, the
//! virtual addresses, link state, and macvlan interfaces that carry the
//! virtual MAC.
//!
//! [`Netlink`] sends one request at a time and waits for its answer (the
//! kernel's ACK, or the end of a dump), so an error is reported by the
//! call that caused it. [`LinkMonitor`] is a separate socket subscribed to
//! `RTMGRP_LINK` that reports every link change.
//!
//! Virtual addresses (DESIGN.md, "Linux notes"): IPv6 ones are added with
//! `IFA_F_NODAD`, so they are usable at once rather than tentative for a
//! second of duplicate address detection; the scope is link for
//! fe80::/10 and global otherwise. A macvlan for the virtual MAC is
//! created in mode private with IPv6 address generation mode `none`: it
//! gets no link-local address of its own (one derived from the virtual
//! MAC would be the same on every router of the group and fail duplicate
//! address detection), so adverts keep coming from the parent's
//! link-local address.

use std::io;
use std::net::IpAddr;
use std::time::Duration;

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL,
    NLM_F_REQUEST,
};
use netlink_packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage, AddressScope,
};
use netlink_packet_route::link::{
    AfSpecInet6, AfSpecUnspec, In6AddrGenMode, InfoData, InfoKind, InfoMacVlan, LinkAttribute,
    LinkFlags, LinkInfo, LinkMessage, MacVlanMode,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

use super::{is_timeout, retry, valid_ifname, Mac, SysError};

/// The size of the receive buffer: larger than any rtnetlink datagram the
/// kernel builds (at most 32 KiB per dump skb).
const RECV_BUF: usize = 64 * 1024;
/// The multicast group of link notifications.
const RTMGRP_LINK: u32 = 1;

/// The index of interface `name`.
pub fn ifindex(name: &str) -> Result<u32, SysError> {
    Ok(Netlink::open()?.link_by_name(name)?.header.index)
}

/// The Ethernet address of interface `name`.
pub fn link_mac(name: &str) -> Result<[u8; 6], SysError> {
    let link = Netlink::open()?.link_by_name(name)?;
    mac_of(&link).ok_or_else(|| SysError::NotEthernet {
        ifname: name.to_owned(),
    })
}

/// A link's state as rtnetlink reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkEvent {
    /// The interface index.
    pub ifindex: u32,
    /// The interface name (empty if the kernel did not say).
    pub name: String,
    /// Administratively up and running (carrier on): `IFF_UP` and
    /// `IFF_RUNNING`. A deleted link is reported down.
    pub up: bool,
}

/// A `NETLINK_ROUTE` socket for requests answered with an ACK.
#[derive(Debug)]
pub struct Netlink {
    sock: Socket,
    seq: u32,
    buf: Vec<u8>,
}

impl Netlink {
    /// Opens a rtnetlink socket in the network namespace of the calling
    /// thread.
    pub fn open() -> Result<Netlink, SysError> {
        let sock = open_socket("open")?;
        Ok(Netlink {
            sock,
            seq: 0,
            buf: Vec::with_capacity(RECV_BUF),
        })
    }

    /// Adds `addr/prefix` to interface `ifindex`. IPv6 addresses are added
    /// with `IFA_F_NODAD`; the scope is link for fe80::/10, global
    /// otherwise. An address already there is not an error.
    pub fn add_address(&mut self, ifindex: u32, addr: IpAddr, prefix: u8) -> Result<(), SysError> {
        let msg = address_message(ifindex, addr, prefix);
        match self.request(
            "add address",
            RouteNetlinkMessage::NewAddress(msg),
            NLM_F_CREATE | NLM_F_EXCL,
        ) {
            Err(e) if errno_of(&e) == Some(libc::EEXIST) => Ok(()),
            r => r.map(drop),
        }
        .map_err(|e| detail(e, format!("{addr}/{prefix} on interface {ifindex}")))
    }

    /// Removes `addr/prefix` from interface `ifindex`. An address not
    /// there is not an error. For IPv4 the prefix must be the one the
    /// address was added with, or the kernel finds no such address.
    pub fn remove_address(
        &mut self,
        ifindex: u32,
        addr: IpAddr,
        prefix: u8,
    ) -> Result<(), SysError> {
        let msg = address_message(ifindex, addr, prefix);
        match self.request("remove address", RouteNetlinkMessage::DelAddress(msg), 0) {
            Err(e) if matches!(errno_of(&e), Some(libc::EADDRNOTAVAIL | libc::ENOENT)) => Ok(()),
            r => r.map(drop),
        }
        .map_err(|e| detail(e, format!("{addr}/{prefix} on interface {ifindex}")))
    }

    /// The addresses of interface `ifindex` with their prefix lengths,
    /// IPv4 and IPv6, link-local ones included.
    pub fn addresses(&mut self, ifindex: u32) -> Result<Vec<(IpAddr, u8)>, SysError> {
        Ok(self
            .address_details(ifindex)?
            .into_iter()
            .map(|a| (a.addr, a.prefix))
            .collect())
    }

    /// [`Netlink::addresses`] with each address's flags.
    pub fn address_details(&mut self, ifindex: u32) -> Result<Vec<AddressInfo>, SysError> {
        let mut req = AddressMessage::default();
        req.header.family = AddressFamily::Unspec;
        req.header.index = ifindex;
        let answers = self
            .request(
                "list addresses",
                RouteNetlinkMessage::GetAddress(req),
                NLM_F_DUMP,
            )
            .map_err(|e| detail(e, format!("interface {ifindex}")))?;
        let mut out = Vec::new();
        for m in answers {
            let RouteNetlinkMessage::NewAddress(a) = m else {
                continue;
            };
            if a.header.index != ifindex {
                continue;
            }
            let mut local = None;
            let mut address = None;
            let mut flags = u32::from(a.header.flags.bits());
            for attr in &a.attributes {
                match attr {
                    AddressAttribute::Local(ip) => local = Some(*ip),
                    AddressAttribute::Address(ip) => address = Some(*ip),
                    AddressAttribute::Flags(f) => flags = f.bits(),
                    _ => {}
                }
            }
            // IFA_LOCAL is the address itself (IFA_ADDRESS is the peer on
            // point-to-point IPv4 links); IPv6 sends IFA_ADDRESS alone.
            if let Some(addr) = local.or(address) {
                out.push(AddressInfo {
                    addr,
                    prefix: a.header.prefix_len,
                    nodad: flags & libc::IFA_F_NODAD != 0,
                    tentative: flags & libc::IFA_F_TENTATIVE != 0,
                });
            }
        }
        Ok(out)
    }

    /// Whether interface `ifindex` is up and running (`IFF_UP` and
    /// `IFF_RUNNING`: administratively up with carrier).
    pub fn link_up(&mut self, ifindex: u32) -> Result<bool, SysError> {
        Ok(link_event(&self.link_by_index(ifindex)?).up)
    }

    /// The state of every link.
    pub fn links(&mut self) -> Result<Vec<LinkEvent>, SysError> {
        let answers = self
            .request(
                "list links",
                RouteNetlinkMessage::GetLink(LinkMessage::default()),
                NLM_F_DUMP,
            )
            .map_err(|e| detail(e, String::from("all links")))?;
        Ok(answers
            .iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => Some(link_event(l)),
                _ => None,
            })
            .collect())
    }

    /// Creates macvlan `name` on `parent` with MAC `mac`, in mode private,
    /// IPv6 address generation mode `none` (no link-local address of its
    /// own), and sets it up. Returns its index. A link `name` that already
    /// has `mac` is reused (set up again); one with another MAC is
    /// [`SysError::LinkExists`].
    pub fn create_macvlan(
        &mut self,
        parent: &str,
        name: &str,
        mac: [u8; 6],
    ) -> Result<u32, SysError> {
        let index = match self.link_by_name(name) {
            Ok(link) => {
                let found = mac_of(&link).unwrap_or([0; 6]);
                if found != mac {
                    return Err(SysError::LinkExists {
                        name: name.to_owned(),
                        found: Mac(found),
                        wanted: Mac(mac),
                    });
                }
                link.header.index
            }
            Err(SysError::NoSuchInterface(_)) => {
                let parent_index = self.link_by_name(parent)?.header.index;
                let mut msg = LinkMessage::default();
                msg.attributes = vec![
                    LinkAttribute::IfName(name.to_owned()),
                    LinkAttribute::Link(parent_index),
                    LinkAttribute::Address(mac.to_vec()),
                    LinkAttribute::LinkInfo(vec![
                        LinkInfo::Kind(InfoKind::MacVlan),
                        LinkInfo::Data(InfoData::MacVlan(vec![InfoMacVlan::Mode(
                            MacVlanMode::Private,
                        )])),
                    ]),
                ];
                self.request(
                    "create macvlan",
                    RouteNetlinkMessage::NewLink(msg),
                    NLM_F_CREATE | NLM_F_EXCL,
                )
                .map_err(|e| detail(e, format!("{name} on {parent} with MAC {}", Mac(mac))))?;
                self.link_by_name(name)?.header.index
            }
            Err(e) => return Err(e),
        };
        // While the link is down, so no link-local address is generated.
        let mut gen = LinkMessage::default();
        gen.header.index = index;
        gen.attributes = vec![LinkAttribute::AfSpecUnspec(vec![AfSpecUnspec::Inet6(
            vec![AfSpecInet6::AddrGenMode(In6AddrGenMode::None)],
        )])];
        self.request(
            "set address generation mode",
            RouteNetlinkMessage::SetLink(gen),
            0,
        )
        .map_err(|e| detail(e, format!("{name} (index {index}): none")))?;
        self.set_link_up(index, true)
            .map_err(|e| detail(e, format!("{name} (index {index})")))?;
        Ok(index)
    }

    /// Sets interface `ifindex` administratively up or down.
    pub fn set_up(&mut self, ifindex: u32, up: bool) -> Result<(), SysError> {
        self.set_link_up(ifindex, up)
            .map_err(|e| detail(e, format!("interface {ifindex}")))
    }

    /// Deletes link `name`. A link not there is not an error.
    pub fn delete_link(&mut self, name: &str) -> Result<(), SysError> {
        if !valid_ifname(name) {
            return Err(SysError::NoSuchInterface(name.to_owned()));
        }
        let mut msg = LinkMessage::default();
        msg.attributes = vec![LinkAttribute::IfName(name.to_owned())];
        match self.request("delete link", RouteNetlinkMessage::DelLink(msg), 0) {
            Err(e) if errno_of(&e) == Some(libc::ENODEV) => Ok(()),
            r => r.map(drop),
        }
        .map_err(|e| detail(e, name.to_owned()))
    }

    fn set_link_up(&mut self, index: u32, up: bool) -> Result<(), SysError> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        msg.header.flags = if up {
            LinkFlags::Up
        } else {
            LinkFlags::empty()
        };
        msg.header.change_mask = LinkFlags::Up;
        self.request(
            if up { "set link up" } else { "set link down" },
            RouteNetlinkMessage::SetLink(msg),
            0,
        )
        .map(drop)
    }

    /// The link called `name`; [`SysError::NoSuchInterface`] if none.
    fn link_by_name(&mut self, name: &str) -> Result<LinkMessage, SysError> {
        if !valid_ifname(name) {
            return Err(SysError::NoSuchInterface(name.to_owned()));
        }
        let mut msg = LinkMessage::default();
        msg.attributes = vec![LinkAttribute::IfName(name.to_owned())];
        self.get_link(msg, name.to_owned())
    }

    fn link_by_index(&mut self, index: u32) -> Result<LinkMessage, SysError> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        self.get_link(msg, format!("interface index {index}"))
    }

    fn get_link(&mut self, msg: LinkMessage, what: String) -> Result<LinkMessage, SysError> {
        let answers = match self.request("get link", RouteNetlinkMessage::GetLink(msg), 0) {
            Err(e) if matches!(errno_of(&e), Some(libc::ENODEV | libc::EINVAL)) => {
                return Err(SysError::NoSuchInterface(what));
            }
            r => r.map_err(|e| detail(e, what.clone()))?,
        };
        answers
            .into_iter()
            .find_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => Some(l),
                _ => None,
            })
            .ok_or(SysError::NetlinkDecode {
                op: "get link",
                detail: format!("no link in the answer for {what}"),
            })
    }

    /// Sends `msg` with `NLM_F_REQUEST | NLM_F_ACK | flags` and collects
    /// the answers until the ACK (or, for a dump, `NLMSG_DONE`).
    fn request(
        &mut self,
        op: &'static str,
        msg: RouteNetlinkMessage,
        flags: u16,
    ) -> Result<Vec<RouteNetlinkMessage>, SysError> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        send_request(&self.sock, op, msg, flags, seq)?;
        let mut answers = Vec::new();
        loop {
            recv_datagram(&self.sock, &mut self.buf).map_err(|e| {
                if is_timeout(&e) {
                    SysError::Timeout {
                        ifname: String::from("netlink"),
                    }
                } else {
                    SysError::Netlink {
                        op,
                        detail: String::from("receiving the answer"),
                        source: e,
                    }
                }
            })?;
            for m in split(&self.buf, op)? {
                if m.header.sequence_number != seq {
                    continue;
                }
                match m.payload {
                    NetlinkPayload::InnerMessage(inner) => answers.push(inner),
                    NetlinkPayload::Done(_) => return Ok(answers),
                    NetlinkPayload::Error(e) => {
                        return match e.code {
                            None => Ok(answers),
                            Some(_) => Err(SysError::Netlink {
                                op,
                                detail: String::new(),
                                source: e.to_io(),
                            }),
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}

/// An address of an interface, with the flags an operator asks about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressInfo {
    /// The address.
    pub addr: IpAddr,
    /// Its prefix length.
    pub prefix: u8,
    /// Added without duplicate address detection (`IFA_F_NODAD`).
    pub nodad: bool,
    /// Held by duplicate address detection (`IFA_F_TENTATIVE`).
    pub tentative: bool,
}

/// A socket subscribed to link notifications (`RTMGRP_LINK`).
#[derive(Debug)]
pub struct LinkMonitor {
    sock: Socket,
    buf: Vec<u8>,
    seq: u32,
}

impl LinkMonitor {
    /// Opens the socket and subscribes, in the network namespace of the
    /// calling thread.
    pub fn open() -> Result<LinkMonitor, SysError> {
        let mut sock = open_socket("subscribe to link changes")?;
        sock.bind(&SocketAddr::new(0, RTMGRP_LINK))
            .map_err(|source| SysError::Netlink {
                op: "subscribe to link changes",
                detail: String::from("RTMGRP_LINK"),
                source,
            })?;
        Ok(LinkMonitor {
            sock,
            buf: Vec::with_capacity(RECV_BUF),
            seq: 0,
        })
    }

    /// Waits for link changes and returns them (at least one). The kernel
    /// also notifies changes that leave `up` as it was, so the same state
    /// can be reported twice. If notifications were lost (the socket's
    /// buffer overflowed), asks for the state of every link and reports
    /// that instead. After a read timeout, [`SysError::Timeout`].
    // Not an `Iterator`: it blocks, fails, and never ends.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Vec<LinkEvent>, SysError> {
        loop {
            match recv_datagram(&self.sock, &mut self.buf) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    // Lost notifications: the dump's answers arrive on this
                    // socket as NEWLINK messages, read like notifications.
                    self.seq = self.seq.wrapping_add(1);
                    send_request(
                        &self.sock,
                        "list links",
                        RouteNetlinkMessage::GetLink(LinkMessage::default()),
                        NLM_F_DUMP,
                        self.seq,
                    )?;
                    continue;
                }
                Err(e) if is_timeout(&e) => {
                    return Err(SysError::Timeout {
                        ifname: String::from("netlink"),
                    })
                }
                Err(source) => {
                    return Err(SysError::Netlink {
                        op: "receive link changes",
                        detail: String::new(),
                        source,
                    })
                }
            }
            let events: Vec<LinkEvent> = split(&self.buf, "receive link changes")?
                .into_iter()
                .filter_map(|m| match m.payload {
                    NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(l)) => {
                        Some(link_event(&l))
                    }
                    NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelLink(l)) => {
                        Some(LinkEvent {
                            up: false,
                            ..link_event(&l)
                        })
                    }
                    _ => None,
                })
                .collect();
            if !events.is_empty() {
                return Ok(events);
            }
        }
    }

    /// Sets how long [`LinkMonitor::next`] waits (`None`: forever).
    pub fn set_read_timeout(&self, d: Option<Duration>) -> Result<(), SysError> {
        socket2::SockRef::from(&self.sock)
            .set_read_timeout(d)
            .map_err(|source| SysError::Netlink {
                op: "set read timeout",
                detail: format!("{d:?}"),
                source,
            })
    }
}

fn open_socket(op: &'static str) -> Result<Socket, SysError> {
    let sock = Socket::new(NETLINK_ROUTE).map_err(|source| SysError::Netlink {
        op,
        detail: String::from("NETLINK_ROUTE socket"),
        source,
    })?;
    // Ask for error messages without the request copied in (smaller).
    let _ = sock.set_cap_ack(true);
    Ok(sock)
}

fn send_request(
    sock: &Socket,
    op: &'static str,
    msg: RouteNetlinkMessage,
    flags: u16,
    seq: u32,
) -> Result<(), SysError> {
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | NLM_F_ACK | flags;
    header.sequence_number = seq;
    let mut packet = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(msg));
    packet.finalize();
    let mut bytes = vec![0u8; packet.buffer_len()];
    packet.serialize(&mut bytes);
    let n = retry(|| sock.send(&bytes, 0)).map_err(|source| SysError::Netlink {
        op,
        detail: String::from("sending the request"),
        source,
    })?;
    if n != bytes.len() {
        return Err(SysError::Netlink {
            op,
            detail: format!("sent {n} of {} bytes", bytes.len()),
            source: io::Error::from(io::ErrorKind::WriteZero),
        });
    }
    Ok(())
}

/// Receives one datagram into `buf` (cleared first).
fn recv_datagram(sock: &Socket, buf: &mut Vec<u8>) -> io::Result<()> {
    retry(|| {
        buf.clear();
        let n = sock.recv(buf, libc::MSG_TRUNC)?;
        if n > buf.len() {
            return Err(io::Error::other(format!(
                "a {n}-byte datagram did not fit the {}-byte buffer",
                buf.len()
            )));
        }
        Ok(())
    })
}

/// Splits a datagram into its netlink messages.
fn split(
    mut buf: &[u8],
    op: &'static str,
) -> Result<Vec<NetlinkMessage<RouteNetlinkMessage>>, SysError> {
    let mut out = Vec::new();
    while buf.len() >= 16 {
        let len = u32::from_ne_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
        if len < 16 || len > buf.len() {
            return Err(SysError::NetlinkDecode {
                op,
                detail: format!("message length {len} in a {}-byte datagram", buf.len()),
            });
        }
        match NetlinkMessage::<RouteNetlinkMessage>::deserialize(&buf[..len]) {
            Ok(m) => out.push(m),
            // A message of a kind this crate does not know is skipped; the
            // ones asked about always decode.
            Err(e) => {
                let ty = u16::from_ne_bytes([buf[4], buf[5]]);
                if ty == libc::NLMSG_ERROR as u16 || ty == libc::NLMSG_DONE as u16 {
                    return Err(SysError::NetlinkDecode {
                        op,
                        detail: e.to_string(),
                    });
                }
            }
        }
        let step = (len + 3) & !3;
        buf = &buf[step.min(buf.len())..];
    }
    Ok(out)
}

fn address_message(ifindex: u32, addr: IpAddr, prefix: u8) -> AddressMessage {
    let mut msg = AddressMessage::default();
    msg.header.index = ifindex;
    msg.header.prefix_len = prefix;
    msg.header.family = match addr {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    };
    let link_local = matches!(addr, IpAddr::V6(a) if (a.segments()[0] & 0xffc0) == 0xfe80);
    msg.header.scope = if link_local {
        AddressScope::Link
    } else {
        AddressScope::Universe
    };
    msg.attributes.push(AddressAttribute::Local(addr));
    msg.attributes.push(AddressAttribute::Address(addr));
    if addr.is_ipv6() {
        msg.header.flags = AddressHeaderFlags::Nodad;
        msg.attributes
            .push(AddressAttribute::Flags(AddressFlags::Nodad));
    }
    msg
}

fn link_event(l: &LinkMessage) -> LinkEvent {
    let name = l
        .attributes
        .iter()
        .find_map(|a| match a {
            LinkAttribute::IfName(n) => Some(n.clone()),
            _ => None,
        })
        .unwrap_or_default();
    LinkEvent {
        ifindex: l.header.index,
        name,
        up: l.header.flags.contains(LinkFlags::Up | LinkFlags::Running),
    }
}

fn mac_of(l: &LinkMessage) -> Option<[u8; 6]> {
    l.attributes.iter().find_map(|a| match a {
        LinkAttribute::Address(m) => <[u8; 6]>::try_from(m.as_slice()).ok(),
        _ => None,
    })
}

/// The errno of a kernel-reported netlink error.
fn errno_of(e: &SysError) -> Option<i32> {
    match e {
        SysError::Netlink { source, .. } => source.raw_os_error(),
        _ => None,
    }
}

/// Fills in the detail of a [`SysError::Netlink`] from [`Netlink::request`].
fn detail(e: SysError, detail: String) -> SysError {
    match e {
        SysError::Netlink {
            op,
            detail: d,
            source,
        } if d.is_empty() => SysError::Netlink { op, detail, source },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_messages_carry_scope_and_nodad() {
        let m = address_message(3, "fe80::7".parse().unwrap(), 64);
        assert_eq!(m.header.scope, AddressScope::Link);
        assert!(m
            .attributes
            .contains(&AddressAttribute::Flags(AddressFlags::Nodad)));
        let m = address_message(3, "fd00::7".parse().unwrap(), 64);
        assert_eq!(m.header.scope, AddressScope::Universe);
        let m = address_message(3, "192.0.2.7".parse().unwrap(), 24);
        assert_eq!(m.header.family, AddressFamily::Inet);
        assert_eq!(m.header.prefix_len, 24);
        assert!(!m
            .attributes
            .iter()
            .any(|a| matches!(a, AddressAttribute::Flags(_))));
    }

    #[test]
    fn malformed_datagrams_are_errors_not_panics() {
        assert!(split(&[0xff; 20], "test").is_err());
        assert!(split(&[4, 0, 0, 0], "test").unwrap().is_empty());
        for n in 0..40 {
            let _ = split(&vec![0x10; n], "test");
        }
    }
}
