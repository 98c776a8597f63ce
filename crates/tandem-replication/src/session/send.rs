//! The sender half: our stream. Frames are built one at a time, in
//! priority order (control, live changes, repairs, bulk, digests), each
//! record written from the slot's current state at that moment; every
//! frame takes the next sequence number and leaves its manifest in the
//! ring.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use tandem_time::Instant;

use super::ring::{Item, Lost, Manifest, Ring};
use super::window::RECV_WINDOW;
use super::{Config, Output, Replicator, HELLO_INTERVAL};
use crate::persist::{Change, PersistKey, Persistence, TableId};
use crate::table::{
    needs_refresh, remaining_ms, shard_of, KeyedFx, SenderTable, SentState, ShardDigests, SHARDS,
};
use crate::wire::{
    flags, Ack, BulkEnd, FrameBuilder, Handle, Header, Hello, Nack, Record, Role, ShardRange, MINOR,
};

/// The most shards a lost frame's resync names one by one; more, and the
/// whole stream is resynced.
const RANGED_RESYNC_SHARDS: usize = 32;

/// The whole stream.
pub(crate) const FULL: ShardRange = ShardRange {
    first: 0,
    last: SHARDS as u16 - 1,
};

/// Digest sweeps are spread over this many frames per interval.
pub(crate) const DIGEST_TICKS: u32 = 32;
/// Shards per digest tick.
pub(crate) const DIGESTS_PER_TICK: u32 = SHARDS as u32 / DIGEST_TICKS;
/// Most frames one call sends (then it asks to be called again at once).
const MAX_FRAMES_PER_CALL: usize = 4096;
/// Most repair items waiting; beyond, the stream is resynced instead.
const MAX_REPAIRS: usize = 1 << 20;
/// Most frames one frame closes.
const MAX_CLOSES: usize = 64;
/// Most frames waiting to be closed.
const MAX_CLOSING: usize = 4096;

#[derive(Debug)]
pub(crate) struct Tx {
    pub(crate) table: SenderTable,
    pub(crate) ring: Ring,
    pub(crate) next_seq: u64,
    pub(crate) repairs: VecDeque<(u64, Item)>,
    pub(crate) bulk: Option<super::bulk::Bulk>,
    pub(crate) bulk_queue: VecDeque<ShardRange>,
    pub(crate) bulk_ids: u32,
    pub(crate) bulk_ends: VecDeque<BulkEnd>,
    pub(crate) tokens: f64,
    tokens_at: Instant,
    pub(crate) digests: ShardDigests,
    pub(crate) digest_cursor: u16,
    pub(crate) digest_left: u32,
    pub(crate) digest_at: Instant,
    pub(crate) flush_at: Option<Instant>,
    peer_cum: u64,
    peer_credit: u32,
    pub(crate) partner_bound: bool,
    pub(crate) last_sent: Instant,
    persist_sent: HashMap<(TableId, PersistKey), (u16, Instant)>,
    pub(crate) persist_pending: VecDeque<Change>,
    pub(crate) floor_notice: bool,
    /// Frames the receiver should stop waiting for (told in the next frame).
    pub(crate) closing: Vec<u64>,
    /// The partner boot that bound ours.
    bound_by: Option<u64>,
}

impl Tx {
    pub(crate) fn new(cfg: &Config, now: Instant) -> Tx {
        Tx {
            table: SenderTable::new(cfg.max_flows, KeyedFx::new(cfg.keys.digest_key())),
            ring: Ring::new(1),
            next_seq: 1,
            repairs: VecDeque::new(),
            bulk: None,
            bulk_queue: VecDeque::new(),
            bulk_ids: 0,
            bulk_ends: VecDeque::new(),
            tokens: 0.0,
            tokens_at: now,
            digests: ShardDigests::default(),
            digest_cursor: 0,
            digest_left: DIGESTS_PER_TICK,
            digest_at: now,
            flush_at: None,
            peer_cum: 0,
            peer_credit: 0,
            partner_bound: false,
            last_sent: now,
            persist_sent: HashMap::new(),
            persist_pending: VecDeque::new(),
            floor_notice: false,
            closing: Vec::new(),
            bound_by: None,
        }
    }
}

/// Dirty slots sorted together.
const DIRTY_BATCH: usize = 256;

/// The record type a persistence change is sent as (sections group them).
fn persist_kind(c: &Change) -> u8 {
    use crate::persist::PersistKey::Source;
    match c {
        Change::Upsert(p) => match p.key {
            Source { addr, .. } if addr.is_ipv4() => 0,
            Source { .. } => 1,
            _ => 2,
        },
        Change::Delete { key, .. } => match key {
            Source { addr, .. } if addr.is_ipv4() => 3,
            Source { .. } => 4,
            _ => 5,
        },
    }
}

impl Replicator {
    fn can_data(&self) -> bool {
        self.active && self.tx.partner_bound
    }

    /// The repair ring's size: as configured, but at least a few ACK
    /// periods, so that normal acknowledgement lag never overflows it.
    pub(crate) fn ring_frames(&self) -> usize {
        self.cfg.ring_frames.max(4 * super::ACK_EVERY as usize)
    }

    fn burst(&self) -> f64 {
        (self.cfg.bulk_rate as f64 / 100.0).max(4.0 * self.max_payload() as f64)
    }

    fn refill(&mut self) {
        let dt = self.now.saturating_since(self.tx.tokens_at).as_secs_f64();
        self.tx.tokens_at = self.now;
        self.tx.tokens = (self.tx.tokens + dt * self.cfg.bulk_rate as f64).min(self.burst());
    }

    fn credit_ok(&self) -> bool {
        let in_flight = (self.tx.next_seq - 1).saturating_sub(self.tx.peer_cum);
        let ring = (self.ring_frames() as u64 * 3 / 4).max(1);
        in_flight < u64::from(self.tx.peer_credit).min(ring)
    }

    pub(crate) fn bulk_pending(&self) -> bool {
        self.tx.bulk.is_some() || !self.tx.bulk_queue.is_empty()
    }

    fn bulk_ready(&self) -> bool {
        self.bulk_pending() && self.tx.tokens >= self.max_payload() as f64 && self.credit_ok()
    }

    fn live_pending(&self) -> bool {
        self.tx.table.dirty_len() > 0
            || !self.tx.persist_pending.is_empty()
            || self
                .cfg
                .persistence
                .as_ref()
                .is_some_and(|p| p.has_changes())
    }

    /// Live changes go now: their flush budget ran out, or a frame's worth
    /// is waiting; and the receiver has room (its credit). A burst larger
    /// than the receiver's window (a table filled before the partner came)
    /// waits for its ACKs instead of being sent beyond the window and lost.
    fn live_due(&self) -> bool {
        self.live_pending()
            && self.credit_ok()
            && (self.tx.flush_at.is_some_and(|t| t <= self.now)
                || self.tx.table.dirty_len() * 24 >= self.max_payload())
    }

    fn heartbeat_due(&self) -> bool {
        self.now >= self.tx.last_sent + self.cfg.heartbeat
    }

    fn want_frame(&self) -> bool {
        let now = self.now;
        if !self.tx.partner_bound {
            return now >= self.hello_at || self.heartbeat_due();
        }
        now >= self.hello_at
            || self.heartbeat_due()
            || self.tx.floor_notice
            || !self.tx.closing.is_empty()
            || self.rx_control_due()
            || (self.can_data()
                && (self.live_due()
                    || !self.tx.repairs.is_empty()
                    || self.bulk_ready()
                    || now >= self.tx.digest_at))
    }

    /// The sender's next deadline.
    pub(crate) fn tx_deadline(&self) -> Option<Instant> {
        let now = self.now;
        let mut t = self.tx.last_sent + self.cfg.heartbeat;
        if !self.tx.partner_bound {
            return Some(t);
        }
        if self.tx.floor_notice || !self.tx.closing.is_empty() {
            t = now;
        }
        if self.can_data() {
            if self.live_pending() && self.credit_ok() {
                if let Some(f) = self.tx.flush_at {
                    t = t.min(f);
                }
            }
            if !self.tx.repairs.is_empty() {
                t = now;
            }
            t = t.min(self.tx.digest_at);
            if self.bulk_pending() && self.credit_ok() {
                let need = self.max_payload() as f64 - self.tx.tokens;
                let wait = if need <= 0.0 {
                    Duration::ZERO
                } else {
                    Duration::from_secs_f64(need / self.cfg.bulk_rate.max(1) as f64)
                };
                t = t.min(now + wait.max(Duration::from_micros(10)));
            }
        }
        Some(t)
    }

    /// Sends what is due, frame by frame.
    pub(crate) fn pump(&mut self) {
        self.again = false;
        for _ in 0..MAX_FRAMES_PER_CALL {
            self.refill();
            if !self.want_frame() || !self.build() {
                return;
            }
        }
        self.again = true;
    }

    fn hello(&self) -> Hello {
        Hello {
            role: if self.active {
                Role::Active
            } else {
                Role::Backup
            },
            versions: (crate::wire::VERSION, crate::wire::VERSION),
            capabilities: 0,
            challenge: self.rx.challenge,
            response: self.rx.partner_challenge,
            mirrored_boot: self.rx.bound.as_ref().map_or(0, |b| b.boot),
            live: u32::try_from(self.tx.table.len()).unwrap_or(u32::MAX),
        }
    }

    /// Builds and sends one frame; `false` if there was nothing to send.
    fn build(&mut self) -> bool {
        let now = self.now;
        let mut b = FrameBuilder::new(self.max_payload());
        let mut m = Manifest::new();
        let mut fl = 0u16;
        let heartbeat = self.heartbeat_due();
        let hello = now >= self.hello_at || (heartbeat && !self.tx.partner_bound);
        if hello {
            let _ = b.push(Record::Hello(self.hello()));
            self.hello_at = now + HELLO_INTERVAL;
        }
        if !self.tx.partner_bound {
            // The partner refuses anything else from a boot it has not
            // bound: HELLO alone.
            self.rx.ack_at = None;
            self.rx.nack_at = None;
            return hello && self.send_frame(b, m, fl);
        }
        if self.tx.floor_notice || hello || heartbeat {
            let _ = b.push(Record::Ack(Ack {
                stream: 0,
                boot: self.boot,
                cumulative: self.tx.ring.floor(),
                sack: 0,
                credit: 0,
            }));
            self.tx.floor_notice = false;
            self.tx.ring.floor_passed_loss = false;
        }
        self.rx_control(&mut b);
        let mut progress = false;
        if self.can_data() {
            if self.live_due() {
                self.live(&mut b, &mut m);
            }
            self.repairs(&mut b, &mut m);
            if self.bulk_ready() {
                progress |= self.bulk(&mut b, &mut m);
            }
            if now >= self.tx.digest_at {
                self.push_digests(&mut b);
            }
        }
        self.push_closes(&mut b, &mut m);
        if heartbeat {
            if b.is_empty() {
                let _ = b.push(Record::Heartbeat {
                    highest_seq: self.tx.next_seq,
                    live: u32::try_from(self.tx.table.len()).unwrap_or(u32::MAX),
                });
            }
            if self.tx.ring.has_unsettled() {
                fl |= flags::ACK_REQUESTED;
            }
        }
        if b.is_empty() {
            return progress;
        }
        self.send_frame(b, m, fl)
    }

    fn send_frame(&mut self, b: FrameBuilder, m: Manifest, mut fl: u16) -> bool {
        let seq = self.tx.next_seq;
        self.tx.next_seq += 1;
        if self.rx.in_sync {
            fl |= flags::IN_SYNC;
        }
        if self.bulk_pending() {
            fl |= flags::BULK_ACTIVE;
        }
        if self.tx.ring.unsettled() >= self.ring_frames() / 2 {
            // Half the ring waits: acknowledge now, not after the delay.
            fl |= flags::ACK_REQUESTED;
        }
        if !self.credit_ok() && (self.live_pending() || self.bulk_pending()) {
            // Changes wait for credit, and frames of control alone are not
            // acknowledged: ask, or the credit never comes back.
            fl |= flags::ACK_REQUESTED;
        }
        let header = Header {
            minor: MINOR,
            flags: fl,
            payload_len: 0,
            cluster: self.cfg.cluster,
            node: self.cfg.node,
            stream: 0,
            key_id: self.cfg.keys.key_id(),
            boot: self.boot,
            seq,
        };
        let datagram = self.cfg.keys.seal(header, &b.encode());
        self.tx.ring.push(seq, m);
        // Frames we can no longer repair one by one: a ranged resync of
        // the shards their flows are in (the whole stream if they carried
        // persistence or a bulk's end, or too many shards); frames of
        // control alone need none.
        let mut shards: Vec<u16> = Vec::new();
        let mut full = false;
        let cap = self.ring_frames();
        let evicted = self.tx.ring.evict_noting(cap, &mut |items| {
            for i in items {
                match i {
                    Item::Flow(h) => shards.push(shard_of(h.slot)),
                    Item::Persist(..) | Item::BulkEnd(_) => full = true,
                }
            }
        });
        if evicted > 0 {
            self.counters.ring_overflows += evicted;
            shards.sort_unstable();
            shards.dedup();
            if full || shards.len() > RANGED_RESYNC_SHARDS {
                self.queue_bulk(FULL, false);
            } else {
                for s in shards {
                    self.queue_bulk(ShardRange { first: s, last: s }, false);
                }
            }
        }
        if self.tx.ring.floor_passed_loss {
            self.tx.floor_notice = true;
        }
        self.counters.frames_sent += 1;
        self.counters.bytes_sent += datagram.len() as u64;
        self.tx.last_sent = self.now;
        self.out.push_back(Output::Send(datagram));
        true
    }

    /// Writes a full record of the live flow in `slot` (the partner is
    /// sent its current state); `Err` if it does not fit.
    pub(crate) fn emit_full(
        &mut self,
        b: &mut FrameBuilder,
        slot: u32,
    ) -> Result<Option<Handle>, ()> {
        let now = self.now;
        let Some(s) = self.tx.table.slot(slot) else {
            return Ok(None);
        };
        let Some(mut flow) = s.flow else {
            return Ok(None);
        };
        let handle = Handle { slot, gen: s.gen };
        let lifetime = remaining_ms(s.deadline, now);
        let current = s.sent.filter(|x| {
            x.gen == s.gen
                && x.state == flow.state
                && x.status == flow.status
                && x.core == self.hasher.core(&flow)
                && x.window == self.hasher.window(&flow.window)
        });
        flow.lifetime_ms = lifetime;
        b.push(Record::Flow { handle, flow }).map_err(|_| ())?;
        let sent = match current {
            // Sent before and unchanged since: the hashes hold.
            Some(x) => SentState {
                advertised: now + Duration::from_millis(u64::from(lifetime)),
                lifetime_ms: lifetime,
                ..x
            },
            None => {
                let fp = self.hasher.fingerprint(handle, &flow);
                let old = self
                    .tx
                    .table
                    .slot(slot)
                    .and_then(|s| s.sent)
                    .map_or(0, |x| x.fp);
                self.tx.digests.toggle(shard_of(slot), old ^ fp);
                SentState {
                    gen: handle.gen,
                    state: flow.state,
                    status: flow.status,
                    core: self.hasher.core(&flow),
                    window: self.hasher.window(&flow.window),
                    fp,
                    advertised: now + Duration::from_millis(u64::from(lifetime)),
                    lifetime_ms: lifetime,
                }
            }
        };
        if let Some(s) = self.tx.table.slot_mut(slot) {
            s.sent = Some(sent);
        }
        Ok(Some(handle))
    }

    /// Writes what changed in a dirty slot since the partner was last
    /// sent it; `Err` if it does not fit.
    fn emit_dirty(&mut self, b: &mut FrameBuilder, slot: u32) -> Result<Option<Handle>, ()> {
        let now = self.now;
        let Some(s) = self.tx.table.slot(slot).cloned() else {
            return Ok(None);
        };
        match (s.flow, s.sent) {
            (Some(flow), Some(x))
                if x.gen == s.gen
                    && x.core == self.hasher.core(&flow)
                    && (flow.window.is_some() || x.window == self.hasher.window(&None)) =>
            {
                let handle = Handle { slot, gen: s.gen };
                let window = self.hasher.window(&flow.window);
                let win_changed = x.window != window;
                let st_changed = x.state != flow.state || x.status != flow.status;
                let refresh = needs_refresh(&x, &flow, s.deadline, now);
                if !win_changed && !st_changed && !refresh {
                    return Ok(None);
                }
                let lifetime = remaining_ms(s.deadline, now);
                let mut recs = Vec::new();
                if let (true, Some(w)) = (win_changed, flow.window) {
                    recs.push(Record::FlowWindow { handle, window: w });
                }
                if st_changed || refresh || !win_changed {
                    recs.push(Record::FlowUpdate {
                        handle,
                        state: flow.state,
                        status: flow.status,
                        lifetime_ms: lifetime,
                    });
                }
                let need: usize =
                    recs.iter().map(|r| b.cost(r)).sum::<usize>() + crate::wire::SECTION_HEADER_LEN;
                if b.payload_len() + need > b.max_payload() {
                    return Err(());
                }
                for r in recs {
                    b.push(r).map_err(|_| ())?;
                }
                let mut flow_now = flow;
                flow_now.lifetime_ms = lifetime;
                let fp = self.hasher.fingerprint(handle, &flow_now);
                self.tx.digests.toggle(shard_of(slot), x.fp ^ fp);
                if let Some(sl) = self.tx.table.slot_mut(slot) {
                    sl.sent = Some(SentState {
                        state: flow.state,
                        status: flow.status,
                        window,
                        fp,
                        advertised: now + Duration::from_millis(u64::from(lifetime)),
                        lifetime_ms: lifetime,
                        ..x
                    });
                }
                Ok(Some(handle))
            }
            (Some(_), _) => self.emit_full(b, slot),
            (None, Some(x)) => {
                let handle = Handle { slot, gen: x.gen };
                b.push(Record::FlowDelete { handle }).map_err(|_| ())?;
                self.tx.digests.toggle(shard_of(slot), x.fp);
                if let Some(sl) = self.tx.table.slot_mut(slot) {
                    sl.sent = None;
                }
                Ok(Some(handle))
            }
            (None, None) => Ok(None),
        }
    }

    pub(crate) fn emit_persist(
        &mut self,
        b: &mut FrameBuilder,
        change: Change,
    ) -> Result<Item, Change> {
        let now = self.now;
        let (rec, item) = match change {
            Change::Upsert(p) => (Record::Persist(p), Item::Persist(p.table, p.key)),
            Change::Delete { table, key } => (
                Record::PersistDelete { table, key },
                Item::Persist(table, key),
            ),
        };
        if b.push(rec).is_err() {
            return Err(change);
        }
        match change {
            Change::Upsert(p) => {
                let deadline = now + Duration::from_millis(u64::from(p.lifetime_ms));
                self.tx
                    .persist_sent
                    .insert((p.table, p.key), (p.backend, deadline));
            }
            Change::Delete { table, key } => {
                self.tx.persist_sent.remove(&(table, key));
            }
        }
        Ok(item)
    }

    /// The record a dirty slot will likely need (a guess, for grouping).
    fn likely_kind(&self, slot: u32) -> u8 {
        let Some(s) = self.tx.table.slot(slot) else {
            return 0;
        };
        match (&s.flow, &s.sent) {
            (None, _) => 0,
            (Some(f), Some(x)) if x.gen == s.gen => {
                if f.window.is_some() && x.window != self.hasher.window(&f.window) {
                    2
                } else {
                    1
                }
            }
            (Some(f), _) => 3 + u8::from(!f.original.is_v4()) + 2 * u8::from(f.window.is_some()),
        }
    }

    /// Live changes: dirty slots, then persistence changes.
    fn live(&mut self, b: &mut FrameBuilder, m: &mut Manifest) {
        // In batches sorted by the record each slot is likely to need, so
        // that records of one type share a section header (slots are
        // independent: their order within a frame does not matter).
        loop {
            let mut batch: Vec<u32> = Vec::with_capacity(DIRTY_BATCH);
            while batch.len() < DIRTY_BATCH {
                match self.tx.table.pop_dirty() {
                    Some(s) => batch.push(s),
                    None => break,
                }
            }
            if batch.is_empty() {
                break;
            }
            batch.sort_by_key(|&s| self.likely_kind(s));
            for (i, &s) in batch.iter().enumerate() {
                match self.emit_dirty(b, s) {
                    Ok(Some(h)) => m.items.push(Item::Flow(h)),
                    Ok(None) => {}
                    Err(()) => {
                        for &r in batch.get(i..).unwrap_or_default().iter().rev() {
                            self.tx.table.unpop_dirty(r);
                        }
                        return;
                    }
                }
            }
        }
        loop {
            if self.tx.persist_pending.is_empty() {
                let room = (b.max_payload() - b.payload_len()) / 12 + 1;
                if let Some(p) = &self.cfg.persistence {
                    // One change per key: their order does not matter, so
                    // records of one type go together (one section header).
                    let mut batch = p.take_changes(self.now, room);
                    batch.sort_by_key(persist_kind);
                    self.tx.persist_pending.extend(batch);
                }
            }
            let Some(c) = self.tx.persist_pending.pop_front() else {
                break;
            };
            match self.emit_persist(b, c) {
                Ok(item) => m.items.push(item),
                Err(c) => {
                    self.tx.persist_pending.push_front(c);
                    return;
                }
            }
        }
        self.tx.flush_at = None;
    }

    /// Repairs: the current state of what lost frames carried.
    fn repairs(&mut self, b: &mut FrameBuilder, m: &mut Manifest) {
        let seq = self.tx.next_seq;
        while let Some(&(origin, item)) = self.tx.repairs.front() {
            // Room for the notices that close what this frame completes.
            let reserve = (m.closes.len() + 2) * 36;
            if b.payload_len() + reserve > b.max_payload() {
                return;
            }
            let carried = match item {
                Item::Flow(h) => {
                    let (gen, live) = match self.tx.table.slot(h.slot) {
                        Some(s) => (s.gen, s.flow.is_some()),
                        None => (h.gen.wrapping_add(1), false),
                    };
                    if gen == h.gen && live {
                        match self.emit_full(b, h.slot) {
                            Ok(h) => h.map(Item::Flow),
                            Err(()) => return,
                        }
                    } else if !live {
                        // It died: its delete (harmless if it was seen).
                        match b.push(Record::FlowDelete { handle: h }) {
                            Ok(()) => Some(Item::Flow(h)),
                            Err(_) => return,
                        }
                    } else {
                        // Reused: the new occupant's insert supersedes.
                        None
                    }
                }
                Item::Persist(table, key) => {
                    let change = match self.tx.persist_sent.get(&(table, key)) {
                        Some(&(backend, deadline)) => Change::Upsert(Persistence {
                            table,
                            key,
                            backend,
                            lifetime_ms: remaining_ms(deadline, self.now),
                        }),
                        None => Change::Delete { table, key },
                    };
                    match self.emit_persist(b, change) {
                        Ok(i) => Some(i),
                        Err(_) => return,
                    }
                }
                Item::BulkEnd(id) => match self.tx.bulk_ends.iter().find(|e| e.bulk == id) {
                    Some(e) => {
                        let e = BulkEnd {
                            digest: self.tx.digests.range(e.range.first, e.range.last),
                            ..*e
                        };
                        match b.push(Record::BulkEnd(e)) {
                            Ok(()) => Some(Item::BulkEnd(id)),
                            Err(_) => return,
                        }
                    }
                    None => None,
                },
            };
            self.tx.repairs.pop_front();
            if let Some(i) = carried {
                self.counters.records_repaired += 1;
                m.items.push(i);
                if !m.repairs.contains(&origin) && origin < seq && self.tx.ring.carried(origin) {
                    m.repairs.push(origin);
                }
            }
            if self.tx.ring.repaired_one(origin) && m.closes.len() < MAX_CLOSES {
                m.closes.push(origin);
                let more = self.tx.ring.closes_of(origin);
                m.closes.extend(more.into_iter().take(MAX_CLOSES));
            }
        }
    }

    /// NACK records of our own stream (boot = ours): "stop waiting for
    /// these frames", for the frames this one completes the repair of and
    /// the lost frames that had nothing to repair.
    fn push_closes(&mut self, b: &mut FrameBuilder, m: &mut Manifest) {
        let mut all: Vec<u64> = std::mem::take(&mut m.closes);
        all.append(&mut self.tx.closing);
        all.sort_unstable();
        all.dedup();
        let mut i = 0;
        while let Some(&first) = all.get(i) {
            let start = i;
            let mut last = first;
            while all.get(i + 1) == Some(&(last + 1)) {
                last += 1;
                i += 1;
            }
            i += 1;
            let rec = Record::Nack(Nack {
                stream: 0,
                boot: self.boot,
                first,
                last,
            });
            if b.push(rec).is_err() {
                // What did not fit goes in the next frame.
                self.tx.closing = all.split_off(start);
                break;
            }
        }
        // The manifest names what this frame closes: if it is lost, its
        // repair (or the answer to its NACK) closes them again.
        m.closes = all;
    }

    /// The partner acknowledged frames of our stream.
    pub(crate) fn on_ack(&mut self, ack: &Ack) {
        if ack.stream != 0 || ack.boot != self.boot {
            return;
        }
        let top = self.tx.next_seq - 1;
        let cum = ack.cumulative.min(top);
        let sack = if cum + 2 > top {
            0
        } else {
            let n = (top - cum - 1).min(64);
            if n >= 64 {
                ack.sack
            } else {
                ack.sack & ((1u64 << n) - 1)
            }
        };
        self.tx.ring.ack(cum, sack);
        self.tx.peer_cum = self.tx.peer_cum.max(cum);
        self.tx.peer_credit = ack.credit;
        if self.tx.ring.floor_passed_loss {
            self.tx.floor_notice = true;
        }
    }

    /// The partner is missing frames of our stream.
    pub(crate) fn on_nack(&mut self, nack: &Nack) {
        if nack.stream != 0 || nack.boot != self.boot {
            return;
        }
        let top = self.tx.next_seq - 1;
        let first = nack.first.max(1);
        let last = nack.last.min(top).min(first.saturating_add(RECV_WINDOW));
        for seq in first..=last {
            if seq <= self.tx.ring.floor() {
                // Settled (or beyond repair and resynced): the partner
                // needs the floor.
                self.tx.floor_notice = true;
                continue;
            }
            match self.tx.ring.lost(seq, self.now) {
                Lost::Repair(items) => {
                    self.counters.frames_lost += 1;
                    self.tx.repairs.extend(items.into_iter().map(|i| (seq, i)));
                }
                Lost::Settled(closes) => {
                    if self.tx.closing.len() < MAX_CLOSING {
                        self.tx.closing.push(seq);
                        self.tx.closing.extend(closes);
                    }
                }
                Lost::Repairing | Lost::Unknown => {}
            }
        }
        if self.tx.repairs.len() > MAX_REPAIRS {
            // Too much to repair record by record: resync instead.
            while let Some((origin, _)) = self.tx.repairs.pop_front() {
                self.tx.ring.repaired_one(origin);
            }
            self.queue_bulk(FULL, false);
        }
        if self.tx.ring.floor_passed_loss {
            self.tx.floor_notice = true;
        }
    }

    /// The partner's boot `by` bound ours (or not). A boot new to us
    /// knows nothing of our stream: what we sent before does not count,
    /// and it gets everything through a full bulk (it asks one too).
    pub(crate) fn partner_bound_us(&mut self, bound: bool, by: u64) {
        if bound && !self.tx.partner_bound {
            self.tx.peer_cum = self.tx.next_seq - 1;
            self.tx.peer_credit = (RECV_WINDOW / 2) as u32;
            self.tx.digest_at = self.now;
        }
        if bound && self.tx.bound_by != Some(by) {
            self.tx.bound_by = Some(by);
            self.tx.table.forget_sent();
            self.tx.digests.clear();
            self.tx.persist_pending.clear();
            self.tx.persist_sent.clear();
            self.queue_bulk(FULL, false);
        }
        self.tx.partner_bound = bound;
    }

    /// Drops the shadow of persistence entries long expired.
    pub(crate) fn prune_persist(&mut self) {
        let cutoff = self.now;
        let grace = self.cfg.lifetime_grace;
        self.tx
            .persist_sent
            .retain(|_, (_, deadline)| *deadline + grace > cutoff);
    }
}
