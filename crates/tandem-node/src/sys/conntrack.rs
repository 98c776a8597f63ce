//! The kernel's connection-tracking table over ctnetlink
//! (`NETLINK_NETFILTER`, subsystem `NFNL_SUBSYS_CTNETLINK`): read it
//! ([`Conntrack::dump`]), write it ([`Conntrack::create`], batched),
//! delete from it, and follow its changes ([`Events`]). No decisions: what
//! to install, and when, is the caller's.
//!
//! Everything acts in the network namespace of the thread that opened the
//! socket.
//!
//! # Entries
//!
//! An [`Entry`] is one connection: protocol, zone, original and reply
//! tuples, protocol state, status bits, timeout, mark, and for TCP the
//! window scales and conntrack's per-direction flags. For ICMP and ICMPv6
//! the "ports" of a [`Tuple`] are the identifier (`src_port`) and
//! `type << 8 | code` (`dst_port`), the reply tuple holding the reply type
//! (echo request 8 in the original, echo reply 0 in the reply).
//!
//! # NAT
//!
//! A NAT entry's reply tuple is not the inverse of its original: with
//! destination NAT the reply's source is the real server, with source NAT
//! the reply's destination is the translated source. The kernel
//! translates a packet only if its entry has the `IPS_DST_NAT` /
//! `IPS_SRC_NAT` status bit, and those bits cannot be set through
//! `CTA_STATUS` (the kernel ignores the NAT bits there). An entry sent
//! with the translated reply tuple alone (what `conntrack -I -r ... -q`
//! makes) is listed translated but has no NAT bit and translates nothing.
//! What works, and what [`Conntrack::create`] does (found on Linux 6.18,
//! tests/sys_conntrack.rs): the reply tuple sent is the untranslated
//! inverse of the original, plus `CTA_NAT_DST` (min = max = the reply's
//! source address and port) and/or `CTA_NAT_SRC` (the reply's destination
//! address and port). The kernel sets the binding up itself
//! (`nf_nat_setup_info`): it rewrites the reply tuple to the translated
//! one and sets `IPS_DST_NAT | IPS_DST_NAT_DONE` (`IPS_SRC_NAT |
//! IPS_SRC_NAT_DONE`).
//!
//! No NAT rule is needed on the host, but the NAT hooks must be
//! registered in the namespace, which happens only while some `type nat`
//! chain exists: with no nftables / iptables NAT table at all, a created
//! entry with its NAT bits set still translates nothing. Empty `type nat`
//! chains at prerouting and postrouting (no rules) are enough; the test
//! forwards UDP and a whole TCP connection (entry created in `SYN_SENT`
//! before the SYN) from a client to a virtual address and back, with
//! neither a rule nor the address on any host.
//!
//! An existing entry's NAT cannot be changed (the kernel refuses
//! `CTA_NAT_*` on an update): for an entry that exists,
//! [`Conntrack::create`] updates state, status, timeout, mark and TCP
//! flags and keeps the reply tuple. Delete it first to change the
//! translation.
//!
//! # Status on create
//!
//! The status sent always has `IPS_CONFIRMED`: the kernel answers `EBUSY`
//! to a status that would clear it (the entry it builds is confirmed).
//! Bits outside [`status::SETTABLE`] are not sent. On an update the kernel
//! also refuses (`EBUSY`) to clear `IPS_SEEN_REPLY`, `IPS_ASSURED` or
//! `IPS_EXPECTED`; such an entry is updated again without a status (it
//! keeps the kernel's).
//!
//! # TCP mid-stream pickup
//!
//! ctnetlink cannot set conntrack's window data (`td_end`, `td_maxend`,
//! `td_maxwin`): a created entry starts with none and learns it from the
//! next segments. Measured on Linux 6.18 with
//! `net.netfilter.nf_conntrack_tcp_loose = 0` and a `ct state invalid
//! drop` rule, a connection tracked from its SYN, the table flushed, the
//! entry re-created from a dump and 8 MiB echoed through it:
//!
//! | TCP details on create | result |
//! |---|---|
//! | none (`tcp: None`) | stalls: 35-51 segments invalid, the transfer does not finish |
//! | the dump's flags (`WINDOW_SCALE`, `SACK_PERM`, `MAXACK_SET`) and window scales | finishes, but 0-1 segments invalid (dropped, retransmitted) |
//! | `BE_LIBERAL | SACK_PERM` both ways ([`TcpInfo::pickup`]) | finishes, 0 invalid |
//! | the dump's flags and scales plus `BE_LIBERAL` | finishes, 0 invalid |
//!
//! So a taken-over flow needs `IP_CT_TCP_FLAG_BE_LIBERAL` in both
//! directions (as conntrackd sets it when it does not track windows):
//! conntrack then accepts every in-state segment without window checks.
//! Flags are set with mask = flags, never cleared. The window scales
//! count only when both directions have `WINDOW_SCALE` (the kernel's
//! rule). Without a loose pickup setting, a segment of a flow with no
//! entry is invalid, so the entry must exist before the flow's next
//! segment reaches the new router.
//!
//! # Batches
//!
//! [`Conntrack::create`], [`Conntrack::update`] and
//! [`Conntrack::delete_all`] send many messages per `sendmsg` (up to
//! [`BATCH_MESSAGES`] or 60 KiB). Only the last message of a batch asks
//! for an ACK; the kernel answers every failing message with its error
//! regardless, so one ACK closes a batch and the errors before it name the
//! failed entries. A failure is reported for its entry; it never stops the
//! rest.
//!
//! # Events
//!
//! [`Events`] joins `NFNLGRP_CONNTRACK_NEW`, `_UPDATE` and `_DESTROY`
//! with a large receive buffer (`SO_RCVBUFFORCE`). The kernel sends events
//! only with `net.netfilter.nf_conntrack_events` 1, or 2 (the default)
//! and a listener. When the buffer overflows the kernel drops events and
//! the next read fails with `ENOBUFS` ([`EventsError::Lost`]), even while
//! events are still queued. The socket takes no new events until its
//! queue has been read empty, so after a loss: read on until
//! [`Events::recv`] returns no events, then resynchronise with a dump.
//! (Found in the tests: changes made before the queue was drained were
//! never reported.)

mod codec;
mod events;
mod numbers;

pub use events::{parse_events, Events, EventsError};
pub use numbers::{proto, status, tcp_flag, tcp_state};

use std::io;
use std::net::IpAddr;
use std::os::fd::AsRawFd;
use std::time::Duration;

use netlink_packet_core::{NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST};
use netlink_packet_netfilter::conntrack::ConntrackMessage;
use netlink_packet_netfilter::NetfilterProtoFamily;
use netlink_sys::{protocols::NETLINK_NETFILTER, Socket};

use super::retry;
use codec::{Msg, Purpose};

/// How many messages [`Conntrack::create`] puts in one `sendmsg`.
pub const BATCH_MESSAGES: usize = 256;
/// A batch's datagram stays below this many bytes.
const BATCH_BYTES: usize = 60 * 1024;
/// Receive buffer for answers: larger than any ctnetlink datagram (dump
/// datagrams are at most 32 KiB).
const RECV_BUF: usize = 64 * 1024;
/// The request socket's receive buffer: a whole batch of error answers
/// fits.
const REQUEST_RCVBUF: usize = 4 << 20;
/// The event socket's receive buffer.
pub const EVENTS_RCVBUF: usize = 32 << 20;
/// How long a request waits for the kernel's answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// One direction of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tuple {
    /// Source address.
    pub src: IpAddr,
    /// Destination address (of the same family).
    pub dst: IpAddr,
    /// Source port (ICMP / ICMPv6: identifier).
    pub src_port: u16,
    /// Destination port (ICMP / ICMPv6: `type << 8 | code`).
    pub dst_port: u16,
}

impl Tuple {
    /// The other direction without NAT: addresses and ports swapped (ICMP:
    /// identifier kept, a query type turned into its reply's).
    pub fn inverse(&self, protocol: u8) -> Tuple {
        match protocol {
            proto::ICMP | proto::ICMPV6 => {
                let (ty, code) = ((self.dst_port >> 8) as u8, self.dst_port as u8);
                let reply = icmp_reply_type(protocol, ty).unwrap_or(ty);
                Tuple {
                    src: self.dst,
                    dst: self.src,
                    src_port: self.src_port,
                    dst_port: (u16::from(reply) << 8) | u16::from(code),
                }
            }
            _ => Tuple {
                src: self.dst,
                dst: self.src,
                src_port: self.dst_port,
                dst_port: self.src_port,
            },
        }
    }
}

/// The reply type of an ICMP / ICMPv6 query type as conntrack pairs them
/// (`invmap` in `nf_conntrack_proto_icmp.c` / `_icmpv6.c`).
fn icmp_reply_type(protocol: u8, ty: u8) -> Option<u8> {
    let pairs: &[(u8, u8)] = if protocol == proto::ICMPV6 {
        &[(128, 129), (139, 140)]
    } else {
        &[(8, 0), (13, 14), (15, 16), (17, 18), (10, 9)]
    };
    pairs
        .iter()
        .find_map(|&(a, b)| (a == ty).then_some(b).or((b == ty).then_some(a)))
}

/// What names an entry in the table: protocol, zone, original tuple.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    /// IANA protocol number.
    pub proto: u8,
    /// Zone (0: the default zone).
    pub zone: u16,
    /// The original tuple.
    pub orig: Tuple,
}

/// TCP details of an entry; index 0 is the original direction, 1 the reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TcpInfo {
    /// Window scale per direction (`CTA_PROTOINFO_TCP_WSCALE_*`).
    pub wscale: [u8; 2],
    /// conntrack's flags per direction ([`tcp_flag`]). On create and update
    /// they are set, never cleared (mask = flags).
    pub flags: [u8; 2],
}

impl TcpInfo {
    /// What a taken-over flow needs (module docs, "TCP mid-stream
    /// pickup"): `BE_LIBERAL | SACK_PERM` both ways, no window scale.
    pub const fn pickup() -> TcpInfo {
        let f = tcp_flag::BE_LIBERAL | tcp_flag::SACK_PERM;
        TcpInfo {
            wscale: [0, 0],
            flags: [f, f],
        }
    }
}

/// SCTP details of an entry (`CTA_PROTOINFO_SCTP`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SctpInfo {
    /// Verification tag per direction.
    pub vtag: [u32; 2],
}

/// One connection-tracking entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Entry {
    /// IANA protocol number ([`proto`]).
    pub proto: u8,
    /// Zone (0: the default zone).
    pub zone: u16,
    /// The original direction.
    pub orig: Tuple,
    /// The reply direction as translated: `orig.inverse(proto)` without
    /// NAT (module docs, "NAT").
    pub reply: Tuple,
    /// TCP: [`tcp_state`]; SCTP: `SCTP_CONNTRACK_*`; 0 otherwise.
    pub state: u8,
    /// Status bits ([`status`]).
    pub status: u32,
    /// Seconds until the entry expires (required on create; 0 in destroy
    /// events).
    pub timeout_s: u32,
    /// Connection mark.
    pub mark: u32,
    /// TCP window scales and flags; `None` on create: the kernel's
    /// defaults (strict window tracking).
    pub tcp: Option<TcpInfo>,
    /// SCTP verification tags; `None` on create: zero tags.
    pub sctp: Option<SctpInfo>,
    /// The kernel's id of the entry (`CTA_ID`); ignored on create.
    pub id: Option<u32>,
}

impl Entry {
    /// The entry's key.
    pub fn key(&self) -> Key {
        Key {
            proto: self.proto,
            zone: self.zone,
            orig: self.orig,
        }
    }
}

/// A change to the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A new entry (`IPCTNL_MSG_CT_NEW` with `NLM_F_CREATE`).
    New(Entry),
    /// A changed entry (state, status, timeout, mark...).
    Update(Entry),
    /// A deleted or expired entry.
    Destroy(Entry),
}

/// What [`Conntrack::create`] or [`Conntrack::update`] did.
#[derive(Debug, Default)]
pub struct Applied {
    /// Entries created.
    pub created: usize,
    /// Entries that existed and were updated.
    pub updated: usize,
    /// Entries that failed: the index in the slice and the kernel's error.
    pub failed: Vec<(usize, io::Error)>,
}

/// What [`Conntrack::delete_all`] did.
#[derive(Debug, Default)]
pub struct Deleted {
    /// Entries deleted.
    pub deleted: usize,
    /// Keys the table had no entry for.
    pub absent: usize,
    /// Keys whose deletion failed otherwise: the index in the slice and the
    /// kernel's error.
    pub failed: Vec<(usize, io::Error)>,
}

/// A ctnetlink socket for requests.
#[derive(Debug)]
pub struct Conntrack {
    sock: Socket,
    seq: u32,
    buf: Vec<u8>,
}

impl Conntrack {
    /// Opens a ctnetlink socket in the network namespace of the calling
    /// thread (`CAP_NET_ADMIN` is needed to change the table).
    pub fn open() -> io::Result<Conntrack> {
        let sock = open_socket()?;
        set_rcvbuf(&sock, REQUEST_RCVBUF)?;
        socket2::SockRef::from(&sock).set_read_timeout(Some(ANSWER_TIMEOUT))?;
        Ok(Conntrack {
            sock,
            seq: 0,
            buf: Vec::with_capacity(RECV_BUF),
        })
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    /// Every entry of the table, IPv4 and IPv6. Entries that change while
    /// the dump runs may be missing or reported twice.
    pub fn dump(&mut self) -> io::Result<Vec<Entry>> {
        let seq = self.next_seq();
        let m = codec::message(
            ConntrackMessage::Get(Vec::new()),
            NetfilterProtoFamily::Unspec,
            NLM_F_REQUEST | NLM_F_DUMP,
            seq,
        );
        self.send_one(&m)?;
        let mut out = Vec::new();
        self.answers(seq, |e| out.push(e))?;
        Ok(out)
    }

    /// The entry `key` names, if the table has it.
    pub fn get(&mut self, key: &Key) -> io::Result<Option<Entry>> {
        let seq = self.next_seq();
        let m = codec::message(
            ConntrackMessage::Get(codec::key_attrs(key)),
            codec::family_of(&key.orig),
            NLM_F_REQUEST | NLM_F_ACK,
            seq,
        );
        self.send_one(&m)?;
        let mut found = None;
        match self.answers(seq, |e| found = Some(e)) {
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
            r => r.map(|()| found),
        }
    }

    /// Deletes the entry `key` names: `Ok(false)` if there was none.
    pub fn delete(&mut self, key: &Key) -> io::Result<bool> {
        let seq = self.next_seq();
        let m = codec::message(
            ConntrackMessage::Delete(codec::key_attrs(key)),
            codec::family_of(&key.orig),
            NLM_F_REQUEST | NLM_F_ACK,
            seq,
        );
        self.send_one(&m)?;
        match self.answers(seq, |_| {}) {
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(false),
            r => r.map(|()| true),
        }
    }

    /// Deletes every entry, IPv4 and IPv6.
    pub fn flush(&mut self) -> io::Result<()> {
        let seq = self.next_seq();
        let m = codec::message(
            ConntrackMessage::Delete(Vec::new()),
            NetfilterProtoFamily::Unspec,
            NLM_F_REQUEST | NLM_F_ACK,
            seq,
        );
        self.send_one(&m)?;
        self.answers(seq, |_| {})
    }

    /// Installs `entries`: each is created, or updated if the table has an
    /// entry with its key (module docs: an update keeps the existing NAT).
    /// Every entry needs a timeout. Failures are reported per entry. For
    /// entries that mostly exist already, [`Conntrack::update`] takes one
    /// round instead of two.
    pub fn create(&mut self, entries: &[Entry]) -> Applied {
        self.apply(entries, true)
    }

    /// [`Conntrack::create`] for entries expected to exist: each is
    /// updated, or created if the table has no entry with its key.
    pub fn update(&mut self, entries: &[Entry]) -> Applied {
        self.apply(entries, false)
    }

    fn apply(&mut self, entries: &[Entry], create_first: bool) -> Applied {
        let mut applied = Applied::default();
        let all: Vec<usize> = (0..entries.len()).collect();
        let (mut to_update, mut to_create) = (Vec::new(), Vec::new());
        if create_first {
            for (i, r) in self.batch(entries, &all, Purpose::Create) {
                match r {
                    Ok(()) => applied.created += 1,
                    Err(e) if e.raw_os_error() == Some(libc::EEXIST) => to_update.push(i),
                    Err(e) => applied.failed.push((i, e)),
                }
            }
        } else {
            to_update = all;
        }
        let mut busy = Vec::new();
        for (i, r) in self.batch(entries, &to_update, Purpose::Update) {
            match r {
                Ok(()) => applied.updated += 1,
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => busy.push(i),
                Err(e) if !create_first && e.raw_os_error() == Some(libc::ENOENT) => {
                    to_create.push(i)
                }
                Err(e) => applied.failed.push((i, e)),
            }
        }
        for (i, r) in self.batch(entries, &busy, Purpose::UpdateKeepStatus) {
            match r {
                Ok(()) => applied.updated += 1,
                Err(e) => applied.failed.push((i, e)),
            }
        }
        for (i, r) in self.batch(entries, &to_create, Purpose::Create) {
            match r {
                Ok(()) => applied.created += 1,
                Err(e) => applied.failed.push((i, e)),
            }
        }
        applied.failed.sort_by_key(|(i, _)| *i);
        applied
    }

    /// Sends `entries[which]` in batches; the result of each.
    fn batch(
        &mut self,
        entries: &[Entry],
        which: &[usize],
        purpose: Purpose,
    ) -> Vec<(usize, io::Result<()>)> {
        let flags = match purpose {
            Purpose::Create => NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL,
            Purpose::Update | Purpose::UpdateKeepStatus => NLM_F_REQUEST,
        };
        self.batch_of(which, flags, |i| {
            let e = &entries[i];
            (
                ConntrackMessage::New(codec::new_attrs(e, purpose)),
                codec::family_of(&e.orig),
            )
        })
    }

    /// Sends the messages `build` makes for `which` in batches, with
    /// `flags`; the result of each.
    fn batch_of(
        &mut self,
        which: &[usize],
        flags: u16,
        build: impl Fn(usize) -> (ConntrackMessage, NetfilterProtoFamily),
    ) -> Vec<(usize, io::Result<()>)> {
        let mut results = Vec::with_capacity(which.len());
        let mut rest = which;
        let mut datagram = Vec::with_capacity(BATCH_BYTES + 4096);
        while !rest.is_empty() {
            // Build one datagram; the last message asks for the ACK.
            datagram.clear();
            let mut seqs = Vec::new();
            let mut taken = 0;
            for (k, &i) in rest.iter().enumerate() {
                let last = k + 1 == rest.len() || k + 1 == BATCH_MESSAGES;
                let (msg, family) = build(i);
                let seq = self.next_seq();
                let mut m = codec::message(msg, family, flags, seq);
                let full = datagram.len() + m.buffer_len() > BATCH_BYTES;
                if last || full {
                    m.header.flags |= NLM_F_ACK;
                }
                codec::append(&mut datagram, &m);
                seqs.push((seq, i));
                taken = k + 1;
                if last || full {
                    break;
                }
            }
            rest = rest.get(taken.max(1)..).unwrap_or(&[]);
            results.extend(self.run_batch(&datagram, &seqs));
        }
        results
    }

    /// Deletes the entries `keys` name, batched like [`Conntrack::create`].
    pub fn delete_all(&mut self, keys: &[Key]) -> Deleted {
        let all: Vec<usize> = (0..keys.len()).collect();
        let mut out = Deleted::default();
        let results = self.batch_of(&all, NLM_F_REQUEST, |i| {
            let k = &keys[i];
            (
                ConntrackMessage::Delete(codec::key_attrs(k)),
                codec::family_of(&k.orig),
            )
        });
        for (i, r) in results {
            match r {
                Ok(()) => out.deleted += 1,
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => out.absent += 1,
                Err(e) => out.failed.push((i, e)),
            }
        }
        out
    }

    /// Sends one batch datagram and reads its answers: every message
    /// without an error before the final ACK succeeded.
    fn run_batch(
        &mut self,
        datagram: &[u8],
        seqs: &[(u32, usize)],
    ) -> Vec<(usize, io::Result<()>)> {
        let mut codes: Vec<Option<i32>> = vec![None; seqs.len()];
        let first = seqs.first().map_or(0, |s| s.0);
        let slot = |seq: u32| {
            let k = seq.wrapping_sub(first) as usize;
            (k < seqs.len()).then_some(k)
        };
        let finish = |codes: Vec<Option<i32>>, unknown: &dyn Fn() -> io::Error| {
            codes
                .into_iter()
                .zip(seqs)
                .map(|(c, &(_, i))| {
                    (
                        i,
                        match c {
                            Some(0) => Ok(()),
                            Some(code) => Err(io::Error::from_raw_os_error(code.abs())),
                            None => Err(unknown()),
                        },
                    )
                })
                .collect()
        };
        if let Err(e) = self.send_bytes(datagram) {
            let (kind, raw) = (e.kind(), e.raw_os_error());
            return finish(codes, &|| match raw {
                Some(r) => io::Error::from_raw_os_error(r),
                None => io::Error::from(kind),
            });
        }
        let mut lost = false;
        loop {
            match recv_datagram(&self.sock, &mut self.buf, 0) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    lost = true;
                    continue;
                }
                Err(e) => {
                    // No final ACK: the unanswered entries' fate is unknown.
                    let (kind, raw) = (e.kind(), e.raw_os_error());
                    return finish(codes, &|| match raw {
                        Some(r) => io::Error::from_raw_os_error(r),
                        None => io::Error::from(kind),
                    });
                }
            }
            let Ok(msgs) = codec::split(&self.buf) else {
                continue;
            };
            let mut closed = false;
            for m in msgs {
                if let Msg::Ack { seq, code } = m {
                    if let Some(k) = slot(seq) {
                        codes[k] = Some(code);
                        closed |= k + 1 == seqs.len();
                    }
                }
            }
            if closed {
                break;
            }
        }
        // The final ACK came: every message without an error succeeded,
        // unless answers were lost (then their fate is unknown).
        for c in codes.iter_mut().filter(|c| c.is_none()) {
            if !lost {
                *c = Some(0);
            }
        }
        finish(codes, &|| io::Error::from_raw_os_error(libc::ENOBUFS))
    }

    fn send_one(
        &mut self,
        m: &netlink_packet_core::NetlinkMessage<netlink_packet_netfilter::NetfilterMessage>,
    ) -> io::Result<()> {
        let mut bytes = Vec::with_capacity(m.buffer_len() + 4);
        codec::append(&mut bytes, m);
        self.send_bytes(&bytes)
    }

    fn send_bytes(&self, bytes: &[u8]) -> io::Result<()> {
        let n = retry(|| self.sock.send(bytes, 0))?;
        if n != bytes.len() {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                format!("sent {n} of {} bytes", bytes.len()),
            ));
        }
        Ok(())
    }

    /// Reads the answers to request `seq` until its ACK, error or
    /// `NLMSG_DONE`, handing each entry to `f`.
    fn answers(&mut self, seq: u32, mut f: impl FnMut(Entry)) -> io::Result<()> {
        loop {
            recv_datagram(&self.sock, &mut self.buf, 0)?;
            let msgs = codec::split(&self.buf).map_err(|e| {
                io::Error::new(io::ErrorKind::InvalidData, format!("ctnetlink answer: {e}"))
            })?;
            for m in msgs {
                match m {
                    Msg::Entry { seq: s, event } if s == seq => match event {
                        Event::New(e) | Event::Update(e) | Event::Destroy(e) => f(e),
                    },
                    Msg::Done { seq: s } if s == seq => return Ok(()),
                    Msg::Ack { seq: s, code } if s == seq => {
                        return match code {
                            0 => Ok(()),
                            c => Err(io::Error::from_raw_os_error(c.abs())),
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}

fn open_socket() -> io::Result<Socket> {
    let mut sock = Socket::new(NETLINK_NETFILTER)?;
    sock.bind_auto()?;
    // Error answers without the request copied in.
    let _ = sock.set_cap_ack(true);
    Ok(sock)
}

/// Receives one datagram into `buf` (cleared first).
fn recv_datagram(sock: &Socket, buf: &mut Vec<u8>, flags: libc::c_int) -> io::Result<()> {
    retry(|| {
        buf.clear();
        let n = sock.recv(buf, flags | libc::MSG_TRUNC)?;
        if n > buf.len() {
            // Longer than any ctnetlink datagram: dropped, said as EMSGSIZE
            // (which a netlink receive never fails with otherwise).
            return Err(io::Error::from_raw_os_error(libc::EMSGSIZE));
        }
        Ok(())
    })
}

/// Sets the receive buffer with `SO_RCVBUFFORCE` (past `rmem_max`, needs
/// `CAP_NET_ADMIN`), else with `SO_RCVBUF`.
fn set_rcvbuf(sock: &Socket, bytes: usize) -> io::Result<()> {
    let size = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    if force_rcvbuf(sock, size).is_ok() {
        return Ok(());
    }
    sock.set_rx_buf_sz(size)
}

/// `SO_RCVBUFFORCE`, which neither socket2 nor netlink-sys offers.
#[allow(unsafe_code)]
fn force_rcvbuf(sock: &Socket, size: libc::c_int) -> io::Result<()> {
    let len = libc::socklen_t::try_from(std::mem::size_of::<libc::c_int>()).unwrap_or(4);
    // SAFETY: the descriptor is open for the whole call (borrowed from
    // `sock`), and `optval` points to a live `c_int` whose size is `len`;
    // the kernel only reads it.
    let r = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            (&size as *const libc::c_int).cast(),
            len,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
