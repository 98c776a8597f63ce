//! A sans-IO conntrackd peer: FT-FW (reliable) or NOTRACK (best effort),
//! speaking conntrackd's own messages, so that a unit pairs with a
//! conntrackd 1.4 node.
//!
//! The local table ([`Endpoint::upsert_flow`], [`Endpoint::remove_flow`]) is
//! conntrackd's internal cache: its changes go out as CT_NEW, CT_UPD and
//! CT_DEL, built from each flow's **current** state when its message is
//! sent (repeated changes coalesce). What the peer sends lands in the
//! mirror ([`Endpoint::mirror_flows`]), conntrackd's external cache.
//!
//! FT-FW as `src/sync-ftfw.c` runs it: one sequence number per message
//! (control ones included); the receiver acknowledges every
//! `ack_window` in-order messages, and at the alive period whatever is
//! pending; a gap sends ACK for what was in order and NACK for the gap;
//! older messages are dropped. Sent entries and ACK/NACK/RESYNC wait in
//! a bounded resend queue until acknowledged; a NACK sends the current
//! state of the objects in its range again. HELLO is set on every message
//! until the peer's HELLO_BACK; a peer's HELLO empties the resend queue.
//! Two departures from conntrackd, both toward not losing state silently:
//! when the resend queue is full the oldest item is evicted **and
//! counted**, and the endpoint sends its whole table again once the peer
//! is heard (conntrackd evicts quietly); and a bulk (answering RESYNC) is
//! paced, `bulk_bytes_per_tick` per `bulk_tick`, not one burst.
//!
//! NOTRACK: the same messages without ACK, NACK or resend queue;
//! sequence numbers only count losses; RESYNC and ALIVE still work.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use tandem_time::Instant;

pub use super::config::{Config, Mode};
use super::entry;
use super::ftfw::{before, Item, Reply, ResendQueue, Seq, Tracker};
use super::msg::{self, flags, Body, DecodeError, Message, MsgType, Repr};
pub use super::status::{Counters, Event, Status};
use crate::flow::{Flow, FlowKey};
use crate::session::FlowTableFull;

/// What the endpoint asks of its driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send this datagram to the peer.
    Send(Vec<u8>),
    /// Something happened.
    Event(Event),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ObjState {
    New,
    Alive,
    Dead,
}

#[derive(Debug, Clone)]
struct Local {
    flow: Flow,
    state: ObjState,
    in_tx: bool,
    sent: bool,
    /// Sent while the peer had not answered our HELLO: it may have been
    /// lost unnoticed (a peer in HELLO does not track our numbers).
    sent_in_hello: bool,
    rs_seq: Option<u32>,
}

#[derive(Debug, Clone)]
struct Mirrored {
    flow: Flow,
    received: Instant,
}

#[derive(Debug, Clone)]
enum Tx {
    Obj(FlowKey, bool),
    Ctl(Repr),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hello {
    Say,
    Done,
}

#[derive(Debug, Clone)]
struct Bulk {
    keys: Vec<FlowKey>,
    next: usize,
    sent: u64,
    budget: usize,
    tick_at: Instant,
}

/// One conntrackd peer.
#[derive(Debug)]
pub struct Endpoint {
    cfg: Config,
    now: Instant,
    active: bool,
    seq: u32,
    local: HashMap<FlowKey, Local>,
    mirror: HashMap<FlowKey, Mirrored>,
    tx: VecDeque<Tx>,
    rs: ResendQueue,
    tracker: Tracker,
    hello: Hello,
    say_hello_back: bool,
    peer_in_hello: bool,
    heard: Option<Instant>,
    alive_at: Instant,
    ack_at: Option<Instant>,
    bulk: Option<Bulk>,
    bulk_after_overflow: bool,
    /// Local entries in state Dead (removed, their CT_DEL not yet
    /// acknowledged).
    dead: usize,
    out: VecDeque<Output>,
    counters: Counters,
}

impl Endpoint {
    /// An endpoint, Backup (not streaming its table) until
    /// [`set_active`](Self::set_active).
    pub fn new(config: Config, now: Instant) -> Endpoint {
        Endpoint {
            seq: config.initial_seq,
            rs: ResendQueue::new(config.resend_queue),
            tracker: Tracker::new(config.ack_window),
            alive_at: now + config.alive_interval,
            cfg: config,
            now,
            active: false,
            local: HashMap::new(),
            mirror: HashMap::new(),
            tx: VecDeque::new(),
            hello: Hello::Say,
            say_hello_back: false,
            peer_in_hello: false,
            heard: None,
            ack_at: None,
            bulk: None,
            bulk_after_overflow: false,
            dead: 0,
            out: VecDeque::new(),
            counters: Counters::default(),
        }
    }

    fn tick(&mut self, now: Instant) {
        self.now = self.now.max(now);
    }

    /// Becomes Active (streams its table, starting with a bulk of it) or
    /// Backup (keeps its table, sends nothing of it but bulks asked for).
    pub fn set_active(&mut self, now: Instant, active: bool) {
        self.tick(now);
        let was = self.active;
        self.active = active;
        if active && !was {
            self.start_bulk();
        }
        self.xmit();
    }

    /// A flow of the local table was created or changed.
    pub fn upsert_flow(&mut self, now: Instant, flow: Flow) -> Result<(), FlowTableFull> {
        self.tick(now);
        let key = flow.key();
        match self.local.get_mut(&key) {
            Some(l) => {
                if l.flow == flow && l.state != ObjState::Dead {
                    return Ok(());
                }
                if l.state == ObjState::Dead {
                    self.dead = self.dead.saturating_sub(1);
                }
                l.state = match l.state {
                    ObjState::Dead => ObjState::New,
                    _ if !l.sent => ObjState::New,
                    _ => ObjState::Alive,
                };
                l.flow = flow;
            }
            None => {
                if self.local.len() >= self.cfg.max_flows {
                    self.counters.table_full += 1;
                    return Err(FlowTableFull {
                        capacity: self.cfg.max_flows,
                    });
                }
                self.local.insert(
                    key,
                    Local {
                        flow,
                        state: ObjState::New,
                        in_tx: false,
                        sent: false,
                        sent_in_hello: false,
                        rs_seq: None,
                    },
                );
            }
        }
        if self.active {
            self.enqueue(key, false);
        }
        self.xmit();
        Ok(())
    }

    /// A flow of the local table ended; `false` if it was not there.
    pub fn remove_flow(&mut self, now: Instant, key: &FlowKey) -> bool {
        self.tick(now);
        let Some(l) = self.local.get_mut(key) else {
            return false;
        };
        if l.state == ObjState::Dead {
            return false;
        }
        if !l.sent || !self.active {
            // Never told the peer (or not streaming): nothing to delete there.
            self.local.remove(key);
        } else {
            l.state = ObjState::Dead;
            self.dead += 1;
            self.enqueue(*key, false);
        }
        self.xmit();
        true
    }

    /// Asks the peer for its whole table (RESYNC, as `conntrackd -n`).
    pub fn request_resync(&mut self, now: Instant) {
        self.tick(now);
        self.counters.resyncs_requested += 1;
        self.tx
            .push_back(Tx::Ctl(Repr::control(flags::RESYNC, 0, Some((0, 0)))));
        self.xmit();
    }

    /// Sends the whole local table (as `conntrackd -B`), paced.
    pub fn send_bulk(&mut self, now: Instant) {
        self.tick(now);
        self.start_bulk();
        self.xmit();
    }

    fn start_bulk(&mut self) {
        let mut keys: Vec<FlowKey> = self
            .local
            .iter()
            .filter(|(_, l)| l.state != ObjState::Dead)
            .map(|(k, _)| *k)
            .collect();
        keys.sort_unstable();
        self.start_bulk_of(keys);
    }

    fn start_bulk_of(&mut self, keys: Vec<FlowKey>) {
        self.bulk = Some(Bulk {
            keys,
            next: 0,
            sent: 0,
            budget: self.cfg.bulk_bytes_per_tick.max(1),
            tick_at: self.now + self.cfg.bulk_tick,
        });
    }

    fn enqueue(&mut self, key: FlowKey, bulk: bool) -> bool {
        let Some(l) = self.local.get_mut(&key) else {
            return false;
        };
        l.rs_seq = None;
        if l.in_tx {
            return false;
        }
        l.in_tx = true;
        self.tx.push_back(Tx::Obj(key, bulk));
        true
    }

    /// A datagram from the peer.
    pub fn handle_datagram(&mut self, now: Instant, datagram: &[u8]) {
        self.tick(now);
        self.counters.datagrams_received += 1;
        for m in msg::messages(datagram) {
            match m {
                Ok(m) => self.handle_message(&m),
                Err(e) => {
                    match e {
                        DecodeError::BadVersion { .. } => self.counters.bad_version += 1,
                        _ => self.counters.malformed += 1,
                    }
                    self.push_out(Output::Event(Event::Refused(e)));
                    break;
                }
            }
        }
        self.xmit();
    }

    fn handle_message(&mut self, m: &Message<&[u8]>) {
        let (ty, fl, seq) = (m.msg_type(), m.flags(), m.seq());
        let data = (ty.is_ct() || ty.is_exp()) && fl & !(flags::HELLO | flags::HELLO_BACK) == 0;
        let ctl = ty == MsgType::Ctl
            && fl & (flags::RANGE | flags::ALIVE) != 0
            && (self.cfg.mode == Mode::Ftfw || fl & (flags::ACK | flags::NACK) == 0);
        if !data && !ctl {
            self.counters.bad_header += 1;
            return;
        }
        if let Some((from, to)) = m.range() {
            if fl & (flags::ACK | flags::NACK) != 0 && before(to, from) {
                self.counters.bad_header += 1;
                return;
            }
        }
        self.heard = Some(self.now);
        if self.cfg.mode == Mode::Notrack {
            if let Seq::After { expected } = self.tracker.classify(seq) {
                self.note_gap(expected, seq);
            }
            self.tracker.note(seq);
            self.digest(m);
            return;
        }
        // FT-FW: HELLO and HELLO_BACK first (digest_hello).
        let mut class = self.tracker.classify(seq);
        if fl & flags::HELLO_BACK != 0 && self.hello == Hello::Say {
            self.hello = Hello::Done;
            // What went out during HELLO goes again, now that the peer
            // tracks our numbers (conntrackd does not: it stays lost).
            let mut keys: Vec<FlowKey> = Vec::new();
            for (k, l) in self.local.iter_mut() {
                if std::mem::take(&mut l.sent_in_hello) {
                    keys.push(*k);
                }
            }
            keys.sort_unstable();
            for k in keys {
                self.enqueue(k, false);
            }
        }
        if fl & flags::HELLO != 0 {
            self.say_hello_back = true;
            // conntrackd takes every HELLO message as in sequence, so a
            // loss while the peer says HELLO goes unnoticed. We restart
            // tracking only at a new session (the first HELLO after none,
            // or one older than expected: the peer restarted) and check
            // the numbers of the others.
            if !self.peer_in_hello || class == Seq::Before {
                self.peer_in_hello = true;
                self.tracker.hello(seq);
                class = Seq::Unset;
                // The new session may know nothing of what we sent
                // (conntrackd empties its resend queue at every HELLO,
                // losing it): all of it goes again, and our table.
                for (s, item) in self.rs.clear() {
                    self.resend(s, item);
                }
                self.push_out(Output::Event(Event::PeerHello));
                if self.active && !self.local.is_empty() {
                    self.start_bulk();
                }
            }
        } else {
            self.peer_in_hello = false;
        }
        if class == Seq::Before {
            self.counters.messages_before += 1;
            return;
        }
        if let Seq::After { expected } = class {
            self.note_gap(expected, seq);
        }
        self.digest(m);
        let mut replies = Vec::new();
        self.tracker.accept(seq, class, &mut replies);
        for r in replies {
            self.reply(r);
        }
        if self.tracker.pending() {
            self.ack_at
                .get_or_insert(self.now + self.cfg.alive_interval);
        } else {
            self.ack_at = None;
        }
        if self.bulk_after_overflow {
            self.bulk_after_overflow = false;
            self.start_bulk();
        }
    }

    fn note_gap(&mut self, expected: u32, seq: u32) {
        let lost = seq.wrapping_sub(expected);
        self.counters.messages_lost += u64::from(lost);
        self.push_out(Output::Event(Event::Gap {
            from: expected,
            to: seq.wrapping_sub(1),
        }));
    }

    /// Queues a control message, unless the transmit queue already holds
    /// more than the table and `max_outputs` (a driver that stopped
    /// draining): then it is dropped and counted.
    fn push_ctl(&mut self, r: Repr) {
        if self.tx.len() >= self.local.len() + self.cfg.max_outputs {
            self.counters.control_dropped += 1;
            return;
        }
        self.tx.push_back(Tx::Ctl(r));
    }

    fn reply(&mut self, r: Reply) {
        let (f, from, to) = match r {
            Reply::Ack(a, b) => (flags::ACK, a, b),
            Reply::Nack(a, b) => (flags::NACK, a, b),
        };
        self.push_ctl(Repr::control(f, 0, Some((from, to))));
    }

    /// What a message asks for (digest_msg), after tracking.
    fn digest(&mut self, m: &Message<&[u8]>) {
        self.counters.messages_received += 1;
        let ty = m.msg_type();
        if ty.is_exp() {
            self.counters.expectations_skipped += 1;
            return;
        }
        if ty.is_ct() {
            let repr = match Repr::parse(m) {
                Ok(r) => r,
                Err(e) => {
                    self.counters.malformed += 1;
                    self.push_out(Output::Event(Event::Refused(e)));
                    return;
                }
            };
            let Some(attrs) = repr.entry() else { return };
            match entry::to_flow(attrs, self.cfg.default_lifetime_ms) {
                Ok(flow) => self.apply(ty, flow),
                Err(_) => self.counters.entries_refused += 1,
            }
            return;
        }
        let fl = m.flags();
        let range = m.range().unwrap_or((0, 0));
        if fl & flags::ACK != 0 {
            for (s, item) in self.rs.take_range(range.0, range.1) {
                self.release(s, item);
            }
        } else if fl & flags::NACK != 0 {
            for (s, item) in self.rs.take_range(range.0, range.1) {
                self.resend(s, item);
            }
        } else if fl & flags::RESYNC != 0 {
            self.counters.resyncs_answered += 1;
            self.push_out(Output::Event(Event::ResyncRequested));
            self.start_bulk();
        }
    }

    fn apply(&mut self, ty: MsgType, flow: Flow) {
        self.counters.entries_applied += 1;
        let key = flow.key();
        if ty == MsgType::CtDel {
            self.mirror.remove(&key);
            return;
        }
        if !self.mirror.contains_key(&key) && self.mirror.len() >= self.cfg.max_flows {
            self.counters.mirror_full += 1;
            return;
        }
        self.mirror.insert(
            key,
            Mirrored {
                flow,
                received: self.now,
            },
        );
    }

    /// An item acknowledged (or dropped with the queue).
    fn release(&mut self, seq: u32, item: Item) {
        if let Item::Obj(key) = item {
            if let Some(l) = self.local.get_mut(&key) {
                if l.rs_seq == Some(seq) {
                    l.rs_seq = None;
                    if l.state == ObjState::Dead && !l.in_tx && !l.sent_in_hello {
                        self.local.remove(&key);
                        self.dead = self.dead.saturating_sub(1);
                    }
                }
            }
        }
    }

    fn resend(&mut self, seq: u32, item: Item) {
        match item {
            Item::Obj(key) => {
                let live = self.local.get(&key).is_some_and(|l| l.rs_seq == Some(seq));
                if live && self.enqueue(key, false) {
                    self.counters.retransmitted += 1;
                }
            }
            Item::Ctl(r) => {
                self.counters.retransmitted += 1;
                self.push_ctl(r);
            }
        }
    }

    /// Time passed (early or repeated calls are harmless).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.tick(now);
        let now = self.now;
        if let Some(b) = self.bulk.as_mut() {
            if now >= b.tick_at {
                b.budget = self.cfg.bulk_bytes_per_tick.max(1);
                b.tick_at = now + self.cfg.bulk_tick;
            }
        }
        if self.ack_at.is_some_and(|t| now >= t) || now >= self.alive_at {
            self.ack_at = None;
            match self.tracker.take_pending() {
                Some(r) if self.cfg.mode == Mode::Ftfw => self.reply(r),
                _ => {
                    if now >= self.alive_at {
                        self.push_ctl(Repr::control(flags::ALIVE, 0, None));
                    }
                }
            }
            self.alive_at = now + self.cfg.alive_interval;
        }
        if self.cfg.expire_mirror {
            self.mirror.retain(|_, m| {
                now.saturating_since(m.received)
                    < Duration::from_millis(u64::from(m.flow.lifetime_ms))
            });
        }
        self.xmit();
    }

    /// When to call [`handle_timeout`](Self::handle_timeout) next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut t = self.alive_at;
        if let Some(a) = self.ack_at {
            t = t.min(a);
        }
        if let Some(b) = &self.bulk {
            t = t.min(b.tick_at);
        }
        Some(t)
    }

    /// The next output.
    pub fn poll_output(&mut self) -> Option<Output> {
        let o = self.out.pop_front();
        if o.is_some() && self.out.len() + 1 == self.cfg.max_outputs {
            // Room again: send what waited.
            self.xmit();
        }
        o
    }

    fn push_out(&mut self, o: Output) {
        if self.out.len() < self.cfg.max_outputs.saturating_mul(2) {
            self.out.push_back(o);
        }
    }

    /// The next message to send, if any (tx queue, then the bulk's next).
    fn next_message(&mut self) -> Option<(Repr, Option<Item>, bool)> {
        loop {
            if let Some(t) = self.tx.pop_front() {
                match t {
                    Tx::Ctl(r) => {
                        let item = (self.cfg.mode == Mode::Ftfw && r.flags & flags::RANGE != 0)
                            .then(|| {
                                Item::Ctl(Repr {
                                    flags: r.flags & !(flags::HELLO | flags::HELLO_BACK),
                                    ..r.clone()
                                })
                            });
                        return Some((r, item, false));
                    }
                    Tx::Obj(key, bulk) => {
                        let Some(l) = self.local.get_mut(&key) else {
                            continue;
                        };
                        if !l.in_tx {
                            continue;
                        }
                        l.in_tx = false;
                        l.sent = true;
                        l.sent_in_hello |= self.hello == Hello::Say && self.cfg.mode == Mode::Ftfw;
                        let ty = match l.state {
                            ObjState::New => MsgType::CtNew,
                            ObjState::Alive => MsgType::CtUpd,
                            ObjState::Dead => MsgType::CtDel,
                        };
                        let attrs = entry::from_flow(&l.flow, self.cfg.send_timeout);
                        let r = Repr {
                            msg_type: ty,
                            flags: 0,
                            seq: 0,
                            body: Body::Entry(attrs),
                        };
                        return Some((r, Some(Item::Obj(key)), bulk));
                    }
                }
            }
            let b = self.bulk.as_mut()?;
            if b.budget == 0 {
                return None;
            }
            let Some(&key) = b.keys.get(b.next) else {
                let sent = b.sent;
                self.bulk = None;
                self.push_out(Output::Event(Event::BulkSent { entries: sent }));
                return None;
            };
            b.next += 1;
            let live = self
                .local
                .get(&key)
                .is_some_and(|l| l.state != ObjState::Dead);
            if live {
                b.sent += 1;
                self.counters.bulk_entries_sent += 1;
                self.enqueue(key, true);
            }
        }
    }

    fn next_seq(&mut self) -> u32 {
        let s = self.seq;
        self.seq = self.seq.wrapping_add(1);
        s
    }

    /// Drains the transmit queue into datagrams (tx_queue_xmit + the
    /// channel buffer): each message gets its number and flags when sent.
    fn xmit(&mut self) {
        let mut buf: Vec<u8> = Vec::new();
        while self.out.len() < self.cfg.max_outputs {
            let Some((mut r, item, bulk)) = self.next_message() else {
                break;
            };
            r.seq = self.next_seq();
            if self.cfg.mode == Mode::Ftfw {
                if self.hello == Hello::Say {
                    r.flags |= flags::HELLO;
                }
                if std::mem::take(&mut self.say_hello_back) {
                    r.flags |= flags::HELLO_BACK;
                }
            }
            let len = r.buffer_len();
            if bulk {
                if let Some(b) = self.bulk.as_mut() {
                    b.budget = b.budget.saturating_sub(len);
                }
            }
            if !buf.is_empty() && buf.len() + len >= self.cfg.max_datagram {
                self.flush(&mut buf);
            }
            r.emit(&mut buf);
            self.counters.messages_sent += 1;
            if r.flags & flags::ACK != 0 {
                self.counters.acks_sent += 1;
            }
            if r.flags & flags::NACK != 0 {
                self.counters.nacks_sent += 1;
            }
            self.after_send(r.seq, item);
        }
        self.flush(&mut buf);
    }

    fn after_send(&mut self, seq: u32, item: Option<Item>) {
        let Some(item) = item else { return };
        if self.cfg.mode == Mode::Notrack {
            if let Item::Obj(key) = item {
                if self
                    .local
                    .get(&key)
                    .is_some_and(|l| l.state == ObjState::Dead && !l.in_tx)
                {
                    self.local.remove(&key);
                    self.dead = self.dead.saturating_sub(1);
                }
            }
            return;
        }
        if let Item::Obj(key) = &item {
            if let Some(l) = self.local.get_mut(key) {
                l.rs_seq = Some(seq);
            }
        }
        if self.rs.is_full() {
            let local = &self.local;
            self.rs.compact(|s, i| match i {
                Item::Obj(k) => local.get(k).is_some_and(|l| l.rs_seq == Some(s)),
                Item::Ctl(_) => true,
            });
        }
        if self.rs.is_full() {
            if let Some((s, old)) = self.rs.evict() {
                self.counters.resend_evicted += 1;
                self.release(s, old);
                self.bulk_after_overflow = true;
                let evicted = self.counters.resend_evicted;
                self.push_out(Output::Event(Event::ResendOverflow { evicted }));
            }
        }
        self.rs.push(seq, item);
    }

    fn flush(&mut self, buf: &mut Vec<u8>) {
        if buf.is_empty() {
            return;
        }
        self.counters.datagrams_sent += 1;
        self.counters.bytes_sent += buf.len() as u64;
        self.alive_at = self.now + self.cfg.alive_interval;
        self.out.push_back(Output::Send(std::mem::take(buf)));
    }

    /// The local table's live flows.
    pub fn local_flows(&self) -> Vec<Flow> {
        self.local
            .values()
            .filter(|l| l.state != ObjState::Dead)
            .map(|l| l.flow)
            .collect()
    }

    /// The mirror's flows (the peer's table, conntrackd's external cache),
    /// with their remaining lifetime at `now` when `expire_mirror` is set,
    /// else the lifetime received.
    pub fn mirror_flows(&self, now: Instant) -> Vec<Flow> {
        let now = now.max(self.now);
        self.mirror
            .values()
            .filter_map(|m| {
                if !self.cfg.expire_mirror {
                    return Some(m.flow);
                }
                let gone = now.saturating_since(m.received).as_millis();
                let left = u128::from(m.flow.lifetime_ms).checked_sub(gone)?;
                (left > 0).then_some(Flow {
                    lifetime_ms: left as u32,
                    ..m.flow
                })
            })
            .collect()
    }

    /// Status and counters.
    pub fn status(&self) -> Status {
        Status {
            mode: self.cfg.mode,
            active: self.active,
            peer_up: self
                .heard
                .is_some_and(|h| self.now.saturating_since(h) < self.cfg.peer_timeout),
            hello_done: self.hello == Hello::Done,
            local_flows: self.local.len().saturating_sub(self.dead),
            mirror_flows: self.mirror.len(),
            pending: self.tx.len(),
            resend_queue: self.rs.len(),
            bulk_sending: self.bulk.is_some(),
            counters: self.counters,
        }
    }
}
