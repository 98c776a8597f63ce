//! The receiver half: the partner's stream. Datagrams are checked (TTL,
//! AEAD, own node, stream, boot binding, replay) before anything changes;
//! then every record applies by the mirror's rules, holes are tracked and
//! NACKed, ACKs go back, bulks end with mark-and-sweep, digests are
//! compared, and "in sync" follows.

use std::collections::VecDeque;

use tandem_time::Instant;

use super::send::FULL;
use super::window::RxWindow;
use super::{Config, Event, Refusal, Replicator, ACK_EVERY, REORDER_GRACE, RESYNC_RETRY};
use crate::persist::Change;
use crate::seal::{OpenError, ReplayWindow};
use crate::table::mirror::{Applied, Mirror};
use crate::table::{FlowHasher, SHARDS};
use crate::wire::{
    decode_payload, flags, Ack, BulkEnd, FrameBuilder, Header, Hello, Nack, Record, ResyncReason,
    ResyncReq, ShardRange,
};

/// Boot ids of a node remembered as retired (their frames are replays).
const RETIRED_KEPT: usize = 8;
/// Bulk ends held for holes below them.
const HELD_KEPT: usize = 64;
/// Resync requests outstanding.
pub(crate) const WANTED_KEPT: usize = 64;
/// NACK ranges per frame.
const NACK_RANGES: usize = 32;
/// Slots of each table visited for expiry per walk.
const EXPIRY_BUDGET: usize = 8192;
/// Time between expiry walks (so 819,200 slots a second).
const EXPIRY_PERIOD: std::time::Duration = std::time::Duration::from_millis(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ShardCheck {
    /// No digest of it since the partner's boot was bound.
    Unverified,
    /// Its digest came after the full bulk, but could not be compared
    /// (changes of it, or holes, were pending).
    Seen,
    /// Compared equal.
    Equal,
    /// Compared different (a resync of it is asked).
    Differs,
}

/// The partner's boot we mirror.
#[derive(Debug)]
pub(crate) struct Bound {
    pub(crate) node: u8,
    pub(crate) boot: u64,
    replay: ReplayWindow,
    pub(crate) win: RxWindow,
    /// Receiver-local sequence numbers: `base + seq`.
    pub(crate) base: u64,
    last_hello_seq: u64,
}

impl Bound {
    pub(crate) fn window(&self) -> (u64, u64) {
        (self.win.cum(), self.win.highest())
    }
}

#[derive(Debug)]
struct Candidate {
    node: u8,
    boot: u64,
    replay: ReplayWindow,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Want {
    pub(crate) range: ShardRange,
    pub(crate) reason: ResyncReason,
    pub(crate) asked_at: Instant,
}

#[derive(Debug)]
pub(crate) struct Rx {
    pub(crate) mirror: Mirror,
    pub(crate) bound: Option<Bound>,
    candidate: Option<Candidate>,
    retired: VecDeque<(u8, u64)>,
    lseq_top: u64,
    pub(crate) challenge: u64,
    seed: u64,
    counter: u64,
    pub(crate) partner_challenge: u64,
    pub(crate) ack_at: Option<Instant>,
    unacked: u32,
    pub(crate) nack_at: Option<Instant>,
    pub(crate) gap_reported: bool,
    pub(crate) held: Vec<(u64, BulkEnd)>,
    pub(crate) wanted: Vec<Want>,
    pub(crate) outbox: VecDeque<ResyncReq>,
    pub(crate) full_bulk_done: bool,
    pub(crate) checks: Vec<ShardCheck>,
    /// Shards Equal or Seen.
    pub(crate) equal: usize,
    /// Shards Differs.
    pub(crate) differs: usize,
    pub(crate) in_sync: bool,
    pub(crate) last_heard: Option<Instant>,
    expiry_at: Instant,
    pub(crate) partner_bulk_active: bool,
    pub(crate) bulk_receiving: bool,
    pub(crate) partner_in_sync: bool,
}

impl Rx {
    pub(crate) fn new(cfg: &Config, boot: u64, hasher: &FlowHasher) -> Rx {
        Rx {
            mirror: Mirror::new(
                cfg.max_flows,
                cfg.lifetime_grace,
                crate::table::KeyedFx::new(cfg.keys.digest_key()),
            ),
            bound: None,
            candidate: None,
            retired: VecDeque::new(),
            lseq_top: 0,
            challenge: hasher.nonce(boot, 0) | 1,
            seed: boot,
            counter: 0,
            partner_challenge: 0,
            ack_at: None,
            unacked: 0,
            nack_at: None,
            gap_reported: false,
            held: Vec::new(),
            wanted: Vec::new(),
            outbox: VecDeque::new(),
            full_bulk_done: false,
            checks: vec![ShardCheck::Unverified; SHARDS],
            equal: 0,
            differs: 0,
            in_sync: false,
            last_heard: None,
            expiry_at: Instant::ZERO,
            partner_bulk_active: false,
            bulk_receiving: false,
            partner_in_sync: false,
        }
    }

    pub(crate) fn check(&mut self, shard: u16, c: ShardCheck) {
        let counted = |c: ShardCheck| matches!(c, ShardCheck::Equal | ShardCheck::Seen);
        if let Some(x) = self.checks.get_mut(usize::from(shard)) {
            if counted(*x) {
                self.equal -= 1;
            }
            if *x == ShardCheck::Differs {
                self.differs -= 1;
            }
            if counted(c) {
                self.equal += 1;
            }
            if c == ShardCheck::Differs {
                self.differs += 1;
            }
            *x = c;
        }
    }

    pub(crate) fn wanted_covers(&self, shard: u16) -> bool {
        self.wanted
            .iter()
            .any(|w| w.range.first <= shard && shard <= w.range.last)
    }
}

pub(crate) fn covers(outer: ShardRange, inner: ShardRange) -> bool {
    outer.first <= inner.first && inner.last <= outer.last
}

impl Replicator {
    fn refuse(&mut self, r: Refusal) {
        let c = &mut self.counters;
        match &r {
            Refusal::BadTtl { .. } => c.refused_ttl += 1,
            Refusal::Open(OpenError::Decode(_)) | Refusal::Decode(_) => c.refused_malformed += 1,
            Refusal::Open(_) | Refusal::OwnNode { .. } => c.refused_auth += 1,
            Refusal::Replayed { .. } | Refusal::UnboundBoot { .. } => c.refused_replay += 1,
            Refusal::UnknownStream { .. } => c.refused_malformed += 1,
        }
        self.event(Event::Refused(r));
    }

    /// One datagram: checked, then applied.
    pub(crate) fn receive(&mut self, ttl: u8, datagram: &[u8]) {
        if ttl != 255 {
            return self.refuse(Refusal::BadTtl { ttl });
        }
        let (h, payload) = match self.cfg.keys.open(datagram) {
            Ok(x) => x,
            Err(e) => return self.refuse(Refusal::Open(e)),
        };
        if h.node == self.cfg.node {
            return self.refuse(Refusal::OwnNode { node: h.node });
        }
        if h.stream != 0 {
            return self.refuse(Refusal::UnknownStream { stream: h.stream });
        }
        let records = match decode_payload(&payload) {
            Ok(r) => r,
            Err(e) => return self.refuse(Refusal::Decode(e)),
        };
        let bound = self
            .rx
            .bound
            .as_ref()
            .is_some_and(|b| b.node == h.node && b.boot == h.boot);
        if bound {
            self.receive_bound(&h, records);
        } else {
            self.receive_unbound(&h, records);
        }
        self.update_sync();
    }

    /// A frame of a boot not bound: only HELLO, which may bind it.
    fn receive_unbound(&mut self, h: &Header, records: Vec<Record>) {
        if self.rx.retired.contains(&(h.node, h.boot)) {
            return self.refuse(Refusal::Replayed { seq: h.seq });
        }
        let hellos: Vec<Hello> = records
            .iter()
            .filter_map(|r| match r {
                Record::Hello(x) => Some(*x),
                _ => None,
            })
            .collect();
        if hellos.is_empty() || hellos.len() != records.len() {
            return self.refuse(Refusal::UnboundBoot { boot: h.boot });
        }
        let fresh = match &self.rx.candidate {
            Some(c) if c.node == h.node && c.boot == h.boot => c.replay.is_fresh(h.seq),
            _ => h.seq != 0,
        };
        if !fresh {
            return self.refuse(Refusal::Replayed { seq: h.seq });
        }
        let mut cand = match self.rx.candidate.take() {
            Some(c) if c.node == h.node && c.boot == h.boot => c,
            _ => Candidate {
                node: h.node,
                boot: h.boot,
                replay: ReplayWindow::new(),
            },
        };
        cand.replay.accept(h.seq);
        self.counters.frames_received += 1;
        // A boot we have not bound cannot have bound ours: until it does,
        // HELLO alone goes out (anything else it would refuse).
        self.partner_bound_us(false, h.boot);
        let mut bind = false;
        for hello in &hellos {
            if hello.challenge != self.rx.partner_challenge {
                self.rx.partner_challenge = hello.challenge;
                self.hello_at = self.now;
            }
            bind |= hello.response == self.rx.challenge;
        }
        if !bind {
            self.rx.candidate = Some(cand);
            return;
        }
        self.bind(h, cand.replay);
        for hello in &hellos {
            self.on_hello(h, hello);
        }
    }

    /// Binds the partner's new boot: a fresh receive state, the old mirror
    /// left to the mark-and-sweep of the full resync asked at once.
    fn bind(&mut self, h: &Header, replay: ReplayWindow) {
        let now = self.now;
        if let Some(old) = self.rx.bound.take() {
            if self.rx.retired.len() >= RETIRED_KEPT {
                self.rx.retired.pop_front();
            }
            self.rx.retired.push_back((old.node, old.boot));
            self.rx.lseq_top = self
                .rx
                .lseq_top
                .max(old.base + old.replay.highest().max(old.win.highest()));
        }
        let base = self.rx.lseq_top;
        self.rx.lseq_top += 1;
        self.rx.bound = Some(Bound {
            node: h.node,
            boot: h.boot,
            replay,
            win: RxWindow::new(h.seq),
            base,
            last_hello_seq: 0,
        });
        self.rx.counter += 1;
        self.rx.challenge = self.hasher.nonce(self.rx.seed, self.rx.counter) | 1;
        let rx = &mut self.rx;
        rx.held.clear();
        rx.wanted.clear();
        rx.outbox.clear();
        rx.full_bulk_done = false;
        rx.checks
            .iter_mut()
            .for_each(|c| *c = ShardCheck::Unverified);
        rx.equal = 0;
        rx.differs = 0;
        rx.ack_at = None;
        rx.nack_at = None;
        rx.gap_reported = false;
        rx.unacked = 0;
        rx.bulk_receiving = false;
        rx.partner_bulk_active = true;
        rx.last_heard = Some(now);
        self.hello_at = now;
        self.event(Event::PartnerStarted {
            node: h.node,
            boot: h.boot,
        });
        self.want(FULL, ResyncReason::Join);
    }

    fn on_hello(&mut self, h: &Header, hello: &Hello) {
        if hello.challenge != self.rx.partner_challenge {
            self.rx.partner_challenge = hello.challenge;
            self.hello_at = self.now;
        }
        let Some(b) = self.rx.bound.as_mut() else {
            return;
        };
        if h.seq < b.last_hello_seq {
            return;
        }
        b.last_hello_seq = h.seq;
        self.partner_bound_us(hello.mirrored_boot == self.boot, h.boot);
    }

    fn receive_bound(&mut self, h: &Header, records: Vec<Record>) {
        let now = self.now;
        let Some(b) = self.rx.bound.as_mut() else {
            return;
        };
        if !b.replay.is_fresh(h.seq) {
            return self.refuse(Refusal::Replayed { seq: h.seq });
        }
        b.replay.accept(h.seq);
        let base = b.base;
        let latest = h.seq >= b.win.highest();
        self.counters.frames_received += 1;
        self.rx.last_heard = Some(now);
        if latest {
            self.rx.partner_bulk_active = h.flags & flags::BULK_ACTIVE != 0;
            self.rx.partner_in_sync = h.flags & flags::IN_SYNC != 0;
        }
        let lseq = base + h.seq;
        let mut eliciting = false;
        let mut missing = false;
        let mut floor = None;
        let mut closes = Vec::new();
        let mut digests = Vec::new();
        let hasher = self.hasher.clone();
        for r in records {
            let applied = match r {
                Record::Flow { handle, flow } => {
                    eliciting = true;
                    self.rx.mirror.insert(now, lseq, handle, flow, &hasher)
                }
                Record::FlowUpdate {
                    handle,
                    state,
                    status,
                    lifetime_ms,
                } => {
                    eliciting = true;
                    let first = base + 1;
                    self.rx.mirror.update(
                        now,
                        lseq,
                        handle,
                        state,
                        status,
                        lifetime_ms,
                        first,
                        &hasher,
                    )
                }
                Record::FlowDelete { handle } => {
                    eliciting = true;
                    self.rx.mirror.delete(lseq, handle)
                }
                Record::FlowWindow { handle, window } => {
                    eliciting = true;
                    self.rx
                        .mirror
                        .window(lseq, handle, window, base + 1, &hasher)
                }
                Record::Persist(mut p) => {
                    eliciting = true;
                    if let Some(t) = &self.cfg.persistence {
                        let grace =
                            u32::try_from(self.cfg.lifetime_grace.as_millis()).unwrap_or(u32::MAX);
                        p.lifetime_ms = p.lifetime_ms.saturating_add(grace);
                        t.apply_partner(now, lseq, Change::Upsert(p));
                    }
                    Applied::Done
                }
                Record::PersistDelete { table, key } => {
                    eliciting = true;
                    if let Some(t) = &self.cfg.persistence {
                        t.apply_partner(now, lseq, Change::Delete { table, key });
                    }
                    Applied::Done
                }
                Record::Hello(hello) => {
                    self.on_hello(h, &hello);
                    Applied::Done
                }
                Record::Ack(a) => {
                    if a.boot == self.boot {
                        self.partner_bound_us(true, h.boot);
                        self.on_ack(&a);
                    } else if a.boot == h.boot && a.stream == 0 {
                        let f = a.cumulative.min(h.seq);
                        floor = Some(floor.map_or(f, |x: u64| x.max(f)));
                    }
                    Applied::Done
                }
                Record::Nack(n) => {
                    if n.boot == self.boot {
                        self.on_nack(&n);
                    } else if n.boot == h.boot && n.stream == 0 && closes.len() < 256 {
                        closes.push((n.first, n.last.min(h.seq)));
                    }
                    Applied::Done
                }
                Record::ResyncReq(q) => {
                    if q.boot == self.boot {
                        self.partner_bound_us(true, h.boot);
                    }
                    self.on_resync(&q);
                    Applied::Done
                }
                Record::BulkBegin(bb) => {
                    eliciting = true;
                    self.rx.bulk_receiving = true;
                    self.rx.mirror.reserve(bb.entries as usize);
                    Applied::Done
                }
                Record::BulkEnd(e) => {
                    eliciting = true;
                    if self.rx.held.len() >= HELD_KEPT {
                        self.rx.held.remove(0);
                    }
                    self.rx.held.push((h.seq, e));
                    Applied::Done
                }
                Record::Digest { shard, digest } => {
                    digests.push((shard, digest));
                    Applied::Done
                }
                Record::Heartbeat { .. } => Applied::Done,
            };
            match applied {
                Applied::MissingBase => missing = true,
                Applied::Full => self.counters.table_full += 1,
                Applied::Done | Applied::Stale => {}
            }
        }
        let Some(b) = self.rx.bound.as_mut() else {
            return;
        };
        if missing {
            // An update without its flow: leave the frame a hole, so the
            // sender repairs it with the flow's current state.
            b.win.saw(h.seq);
        } else if !b.win.mark(h.seq) {
            self.counters.beyond_window += 1;
        }
        if let Some(f) = floor {
            b.win.floor(f);
        }
        for (first, last) in closes {
            b.win.close(first, last);
        }
        let cum = b.win.cum();
        let gap = b.win.has_gap();
        if !gap {
            self.rx.gap_reported = false;
            self.rx.nack_at = None;
        } else if self.rx.nack_at.is_none() {
            self.rx.nack_at = Some(now + REORDER_GRACE);
        }
        self.apply_held(cum);
        if !self.rx.partner_bulk_active && !digests.is_empty() {
            self.compare_digests(lseq, cum >= h.seq, &digests);
        }
        if eliciting {
            self.rx.unacked += 1;
            self.rx.ack_at.get_or_insert(now + self.cfg.ack_delay);
            if self.rx.unacked >= ACK_EVERY {
                self.rx.ack_at = Some(now);
            }
        }
        if h.flags & flags::ACK_REQUESTED != 0 {
            self.rx.ack_at = Some(now);
        }
    }

    pub(crate) fn rx_control_due(&self) -> bool {
        let now = self.now;
        self.rx.bound.is_some()
            && (self.rx.ack_at.is_some_and(|t| t <= now)
                || self.rx.nack_at.is_some_and(|t| t <= now)
                || !self.rx.outbox.is_empty())
    }

    /// ACK, NACKs and resync requests into the frame being built.
    pub(crate) fn rx_control(&mut self, b: &mut FrameBuilder) {
        let now = self.now;
        let Some(bnd) = self.rx.bound.as_ref() else {
            self.rx.ack_at = None;
            self.rx.nack_at = None;
            return;
        };
        let boot = bnd.boot;
        if self.rx.nack_at.is_some_and(|t| t <= now) {
            let holes = bnd.win.holes(NACK_RANGES);
            let mut sent = 0;
            for &(first, last) in &holes {
                let rec = Record::Nack(Nack {
                    stream: 0,
                    boot,
                    first,
                    last,
                });
                if b.push(rec).is_err() {
                    break;
                }
                sent += 1;
            }
            self.counters.nacks_sent += sent;
            if sent > 0 {
                self.rx.gap_reported = true;
            }
            self.rx.nack_at = bnd
                .win
                .has_gap()
                .then(|| now + (self.cfg.ack_delay * 3).max(REORDER_GRACE * 5));
            self.rx.ack_at = Some(now);
        }
        if self.rx.ack_at.is_some_and(|t| t <= now) {
            let rec = Record::Ack(Ack {
                stream: 0,
                boot,
                cumulative: bnd.win.cum(),
                sack: bnd.win.sack(),
                credit: bnd.win.credit(),
            });
            if b.push(rec).is_ok() {
                self.counters.acks_sent += 1;
                self.rx.ack_at = None;
                self.rx.unacked = 0;
            }
        }
        while let Some(q) = self.rx.outbox.front() {
            if b.push(Record::ResyncReq(*q)).is_err() {
                break;
            }
            self.rx.outbox.pop_front();
        }
    }

    /// The receiver's next deadline.
    pub(crate) fn rx_deadline(&self) -> Option<Instant> {
        self.rx.bound.as_ref()?;
        if !self.tx.partner_bound {
            return None;
        }
        let retry = self
            .rx
            .wanted
            .iter()
            .map(|w| w.asked_at + RESYNC_RETRY)
            .min();
        [self.rx.ack_at, self.rx.nack_at, retry]
            .into_iter()
            .flatten()
            .min()
    }

    /// Timers of both halves that are not frames: resync retries, expiry.
    pub(crate) fn timers(&mut self) {
        let now = self.now;
        if !self.rx.partner_bulk_active || self.rx.last_heard.is_none() {
            let mut again = Vec::new();
            for w in &mut self.rx.wanted {
                if now >= w.asked_at + RESYNC_RETRY {
                    w.asked_at = now;
                    again.push((w.range, w.reason));
                }
            }
            if let Some(b) = self.rx.bound.as_ref() {
                for (range, reason) in again {
                    self.rx.outbox.push_back(ResyncReq {
                        stream: 0,
                        boot: b.boot,
                        range,
                        reason,
                    });
                    self.counters.resyncs_requested += 1;
                }
            }
        } else {
            // A bulk is under way: keep waiting.
            for w in &mut self.rx.wanted {
                if now >= w.asked_at + RESYNC_RETRY {
                    w.asked_at = now;
                }
            }
        }
        if now >= self.rx.expiry_at {
            // A bounded walk of both tables every EXPIRY_PERIOD.
            self.rx.expiry_at = now + EXPIRY_PERIOD;
            let expired = self.rx.mirror.expire_some(now, EXPIRY_BUDGET);
            self.counters.expired += expired as u64;
            let grace = self.cfg.lifetime_grace;
            let expired = self.tx.table.expire_some(now, grace, EXPIRY_BUDGET);
            if expired > 0 {
                self.counters.expired_local += expired as u64;
                self.tx.flush_at.get_or_insert(now + self.cfg.flush_budget);
            }
        }
        if now >= self.hello_at {
            self.prune_persist();
        }
        let mut lost = false;
        if let Some(p) = &self.cfg.persistence {
            if p.has_changes() && self.tx.flush_at.is_none() {
                self.tx.flush_at = Some(now + self.cfg.flush_budget);
            }
            lost = p.take_changes_lost();
        }
        if lost {
            // Changes the table could not keep: only a bulk repairs them.
            self.queue_bulk(FULL, false);
        }
        self.update_sync();
    }
}
