//! The receiver's mirror of the partner's stream: an array indexed by the
//! sender's slot, each live entry with its generation, flow, local
//! deadline and the (receiver-local) sequence number of the frame that
//! last changed it; a tombstone keeps that sequence number for a slot
//! whose flow ended, so a late record cannot revive it. A [`FlowKey`](crate::flow::FlowKey)
//! index serves a takeover.
//!
//! Sequence numbers here are receiver-local ("lseq"): the frame's
//! sequence number plus an offset that grows at each new boot of the
//! partner, so every frame of a newer boot is later than every frame of
//! an older one.
//!
//! Apply rules (each record is "the state of this handle as of frame N"):
//! - a flow insert applies if its frame is later than the slot's last
//!   change, whatever the generation there;
//! - an update or window applies if the generation is equal, the frame is
//!   later, and the entry belongs to the current boot; if the slot holds
//!   an older change of another generation (or none), the base of the
//!   update is missing: [`Applied::MissingBase`] (the caller has the frame
//!   repaired);
//! - a delete applies if its frame is later than the slot's last change:
//!   at that frame the sender's slot was empty, so anything older in it is
//!   dead, whatever its generation.

use std::time::Duration;

use tandem_time::Instant;

use super::{remaining_ms, shard_of, FlowHasher, Index, KeyedFx, ShardDigests, SHARDS};
use crate::flow::{Flow, TcpWindow};
use crate::wire::{Handle, ShardRange};

/// A live mirrored flow.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    /// Its generation.
    pub gen: u8,
    /// The flow (its lifetime as received).
    pub flow: Flow,
    /// When it expires on our clock.
    pub deadline: Instant,
    /// The frame that last changed it (receiver-local).
    pub lseq: u64,
    /// Its digest contribution.
    pub fp: u64,
}

/// One slot of the mirror.
#[derive(Debug, Clone, Copy)]
pub enum MirrorSlot {
    /// Never used.
    Empty,
    /// A live flow.
    Live(Entry),
    /// Its flow ended in this frame (receiver-local).
    Dead(u64),
}

impl MirrorSlot {
    fn lseq(&self) -> u64 {
        match self {
            MirrorSlot::Empty => 0,
            MirrorSlot::Live(e) => e.lseq,
            MirrorSlot::Dead(l) => *l,
        }
    }
}

/// What applying a record did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Applied.
    Done,
    /// A later change is already there: ignored (duplicates, reordering).
    Stale,
    /// An update whose flow is not there: the frame must be repaired.
    MissingBase,
    /// The mirror is full (or the slot beyond its capacity): refused.
    Full,
}

/// The mirror.
#[derive(Debug)]
pub struct Mirror {
    slots: Vec<MirrorSlot>,
    index: Index,
    live: usize,
    capacity: usize,
    digests: ShardDigests,
    touched: Vec<u64>,
    cursor: usize,
    grace: Duration,
}

impl Mirror {
    /// An empty mirror of at most `capacity` flows (and slots), keeping
    /// each entry `grace` beyond its lifetime, its index seeded with `seed`.
    pub fn new(capacity: usize, grace: Duration, seed: KeyedFx) -> Mirror {
        Mirror {
            slots: Vec::new(),
            index: Index::with_hasher(seed),
            live: 0,
            capacity: capacity.min(Handle::MAX_SLOTS as usize),
            digests: ShardDigests::default(),
            touched: vec![0; SHARDS],
            cursor: 0,
            grace,
        }
    }

    /// Live entries (some may be past their deadline until swept).
    pub fn len(&self) -> usize {
        self.live
    }

    /// No live entry.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// A shard's digest.
    pub fn digest(&self, shard: u16) -> u64 {
        self.digests.get(shard)
    }

    /// A range's digest.
    pub fn range_digest(&self, range: ShardRange) -> u64 {
        self.digests.range(range.first, range.last)
    }

    /// The latest frame (receiver-local) that changed `shard`.
    pub fn touched(&self, shard: u16) -> u64 {
        self.touched.get(usize::from(shard)).copied().unwrap_or(0)
    }

    /// The latest frame that changed any shard of `range`.
    pub fn range_touched(&self, range: ShardRange) -> u64 {
        let (a, b) = (usize::from(range.first), usize::from(range.last));
        self.touched
            .get(a..=b.max(a).min(SHARDS - 1))
            .map_or(0, |t| t.iter().copied().max().unwrap_or(0))
    }

    /// Makes room for about `entries` more flows (a bulk begins).
    pub fn reserve(&mut self, entries: usize) {
        let room = self.capacity.saturating_sub(self.live);
        let n = entries.min(room);
        self.index
            .reserve(n.saturating_sub(self.index.capacity() - self.index.len()));
        let slots = (self.live + n).min(self.capacity);
        if slots > self.slots.len() {
            self.slots.reserve(slots - self.slots.len());
        }
    }

    /// A slot.
    pub fn get(&self, slot: u32) -> Option<&MirrorSlot> {
        self.slots.get(slot as usize)
    }

    fn touch(&mut self, slot: u32, lseq: u64) {
        if let Some(t) = self.touched.get_mut(usize::from(shard_of(slot))) {
            *t = (*t).max(lseq);
        }
    }

    fn slot_mut(&mut self, slot: u32) -> Option<&mut MirrorSlot> {
        let i = slot as usize;
        if i >= self.capacity {
            return None;
        }
        if i >= self.slots.len() {
            self.slots.resize(i + 1, MirrorSlot::Empty);
        }
        self.slots.get_mut(i)
    }

    /// Ends the live entry in `slot` (if any) as of `lseq`.
    fn kill(&mut self, slot: u32, lseq: u64) {
        let Some(s) = self.slots.get_mut(slot as usize) else {
            return;
        };
        if let MirrorSlot::Live(e) = *s {
            *s = MirrorSlot::Dead(lseq.max(e.lseq));
            self.live -= 1;
            self.digests.toggle(shard_of(slot), e.fp);
            if self.index.get(&e.flow.key()) == Some(&slot) {
                self.index.remove(&e.flow.key());
            }
        } else {
            *s = MirrorSlot::Dead(lseq.max(s.lseq()));
        }
    }

    fn deadline(&self, now: Instant, lifetime_ms: u32) -> Instant {
        now + Duration::from_millis(u64::from(lifetime_ms)) + self.grace
    }

    /// A flow insert (or full refresh) carried by frame `lseq`.
    pub fn insert(
        &mut self,
        now: Instant,
        lseq: u64,
        handle: Handle,
        flow: Flow,
        hasher: &FlowHasher,
    ) -> Applied {
        let deadline = self.deadline(now, flow.lifetime_ms);
        let live = self.live;
        let capacity = self.capacity;
        let Some(s) = self.slot_mut(handle.slot) else {
            return Applied::Full;
        };
        if s.lseq() >= lseq {
            return Applied::Stale;
        }
        let was_live = matches!(s, MirrorSlot::Live(_));
        if !was_live && live >= capacity {
            return Applied::Full;
        }
        self.kill(handle.slot, 0);
        let fp = hasher.fingerprint(handle, &flow);
        if let Some(s) = self.slots.get_mut(handle.slot as usize) {
            *s = MirrorSlot::Live(Entry {
                gen: handle.gen,
                flow,
                deadline,
                lseq,
                fp,
            });
        }
        self.live += 1;
        self.digests.toggle(shard_of(handle.slot), fp);
        let key = flow.key();
        let keep_other = self.index.get(&key).is_some_and(|&o| {
            o != handle.slot
                && matches!(self.slots.get(o as usize), Some(MirrorSlot::Live(e)) if e.lseq > lseq)
        });
        if !keep_other {
            self.index.insert(key, handle.slot);
        }
        self.touch(handle.slot, lseq);
        Applied::Done
    }

    /// Changes a live entry of `handle` with `f` if the rules allow;
    /// `base`: the first frame of the partner's current boot.
    fn modify(
        &mut self,
        lseq: u64,
        handle: Handle,
        base: u64,
        hasher: &FlowHasher,
        f: impl FnOnce(&mut Entry),
    ) -> Applied {
        let Some(s) = self.slots.get_mut(handle.slot as usize) else {
            return if (handle.slot as usize) < self.capacity {
                Applied::MissingBase
            } else {
                Applied::Full
            };
        };
        if s.lseq() >= lseq {
            return Applied::Stale;
        }
        match s {
            MirrorSlot::Live(e) if e.gen == handle.gen && e.lseq >= base => {
                let old = e.fp;
                f(e);
                e.lseq = lseq;
                e.fp = hasher.fingerprint(handle, &e.flow);
                let new = e.fp;
                self.digests.toggle(shard_of(handle.slot), old ^ new);
                self.touch(handle.slot, lseq);
                Applied::Done
            }
            MirrorSlot::Live(_) => {
                // An older occupant (or one of an older boot): the slot
                // has moved on, its current flow is not here.
                self.kill(handle.slot, 0);
                self.touch(handle.slot, lseq);
                Applied::MissingBase
            }
            _ => Applied::MissingBase,
        }
    }

    /// A state, status and lifetime update carried by frame `lseq`.
    #[allow(clippy::too_many_arguments)]
    pub fn update(
        &mut self,
        now: Instant,
        lseq: u64,
        handle: Handle,
        state: u8,
        status: u16,
        lifetime_ms: u32,
        base: u64,
        hasher: &FlowHasher,
    ) -> Applied {
        let deadline = self.deadline(now, lifetime_ms);
        self.modify(lseq, handle, base, hasher, |e| {
            e.flow.state = state;
            e.flow.status = status;
            e.flow.lifetime_ms = lifetime_ms;
            e.deadline = deadline;
        })
    }

    /// A window update carried by frame `lseq`.
    pub fn window(
        &mut self,
        lseq: u64,
        handle: Handle,
        window: TcpWindow,
        base: u64,
        hasher: &FlowHasher,
    ) -> Applied {
        self.modify(lseq, handle, base, hasher, |e| e.flow.window = Some(window))
    }

    /// A delete carried by frame `lseq`.
    pub fn delete(&mut self, lseq: u64, handle: Handle) -> Applied {
        let Some(s) = self.slot_mut(handle.slot) else {
            return Applied::Full;
        };
        if s.lseq() >= lseq {
            return Applied::Stale;
        }
        self.kill(handle.slot, lseq);
        self.touch(handle.slot, lseq);
        Applied::Done
    }

    /// Mark-and-sweep at a bulk's end: drops the live entries of `range`
    /// last changed before `begin` (the bulk's first frame); returns how
    /// many.
    pub fn sweep(&mut self, range: ShardRange, begin: u64, lseq: u64) -> usize {
        let mut n = 0;
        for shard in range.first..=range.last.min(SHARDS as u16 - 1) {
            let mut i = usize::from(shard);
            while i < self.slots.len() {
                if matches!(self.slots.get(i), Some(MirrorSlot::Live(e)) if e.lseq < begin) {
                    self.kill(i as u32, lseq);
                    n += 1;
                }
                i += SHARDS;
            }
        }
        n
    }

    /// Drops the entries of `shard` past their deadline; returns how many.
    pub fn expire_shard(&mut self, now: Instant, shard: u16) -> usize {
        let mut n = 0;
        let mut i = usize::from(shard);
        while i < self.slots.len() {
            if matches!(self.slots.get(i), Some(MirrorSlot::Live(e)) if e.deadline <= now) {
                self.kill(i as u32, 0);
                n += 1;
            }
            i += SHARDS;
        }
        n
    }

    /// Drops expired entries among the next `budget` slots (a cursor walks
    /// the mirror); returns how many.
    pub fn expire_some(&mut self, now: Instant, budget: usize) -> usize {
        let mut n = 0;
        for _ in 0..budget.min(self.slots.len()) {
            if self.cursor >= self.slots.len() {
                self.cursor = 0;
            }
            let i = self.cursor;
            self.cursor += 1;
            if matches!(self.slots.get(i), Some(MirrorSlot::Live(e)) if e.deadline <= now) {
                self.kill(i as u32, 0);
                n += 1;
            }
        }
        n
    }

    /// Every live, unexpired flow (one per key: the latest), each with its
    /// remaining lifetime at `now` (the grace not counted).
    pub fn flows(&self, now: Instant) -> Vec<Flow> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match s {
                MirrorSlot::Live(e)
                    if e.deadline > now && self.index.get(&e.flow.key()) == Some(&(i as u32)) =>
                {
                    let mut f = e.flow;
                    f.lifetime_ms = remaining_ms(e.deadline, now).saturating_sub(self.grace_ms());
                    Some(f)
                }
                _ => None,
            })
            .collect()
    }

    fn grace_ms(&self) -> u32 {
        u32::try_from(self.grace.as_millis()).unwrap_or(u32::MAX)
    }

    /// The live entries with their handles (tests, figures).
    pub fn entries(&self) -> impl Iterator<Item = (Handle, &Entry)> + '_ {
        self.slots.iter().enumerate().filter_map(|(i, s)| match s {
            MirrorSlot::Live(e) => Some((
                Handle {
                    slot: i as u32,
                    gen: e.gen,
                },
                e,
            )),
            _ => None,
        })
    }

    /// Test hook: changes a live entry's flow behind the protocol's back
    /// (digest kept consistent with the new contents, as a bug would).
    pub fn tamper(&mut self, slot: u32, hasher: &FlowHasher, f: impl FnOnce(&mut Flow)) -> bool {
        let Some(MirrorSlot::Live(e)) = self.slots.get_mut(slot as usize) else {
            return false;
        };
        let old = e.fp;
        f(&mut e.flow);
        e.fp = hasher.fingerprint(Handle { slot, gen: e.gen }, &e.flow);
        let new = e.fp;
        self.digests.toggle(shard_of(slot), old ^ new);
        true
    }

    /// Test hook: inserts a flow that the partner never sent (a missed
    /// delete), with a frame number older than any.
    pub fn plant(&mut self, now: Instant, handle: Handle, flow: Flow, hasher: &FlowHasher) -> bool {
        if matches!(self.get(handle.slot), Some(MirrorSlot::Live(_))) {
            return false;
        }
        if let Some(s) = self.slot_mut(handle.slot) {
            *s = MirrorSlot::Empty;
        }
        self.insert(now, 1, handle, flow, hasher) == Applied::Done
    }
}
