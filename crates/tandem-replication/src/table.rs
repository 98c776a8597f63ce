//! The two tables of a stream: the sender's slab ([`SenderTable`]) and
//! the receiver's mirror ([`mirror::Mirror`]), and the shard digests both
//! keep.
//!
//! A flow's identity on the wire is its sender-side slot and the slot's
//! generation ([`Handle`]); the mirror is indexed by the same slot. Shards
//! group slots by `slot % 4096`: the unit of bulk resync and of digest
//! comparison. A shard's digest is the XOR of a keyed SipHash of every
//! live flow's (slot, generation, replicated fields except the running
//! lifetime), so it changes in O(1) per record and is equal on both sides
//! exactly when the shard's contents are.

use std::collections::{HashMap, VecDeque};
use std::hash::Hasher;
use std::net::IpAddr;

use tandem_time::Instant;

use crate::flow::{Flow, FlowKey, TcpWindow};
use crate::wire::Handle;

pub mod mirror;

/// Shards per stream.
pub const SHARDS: usize = 4096;

/// The shard of a slot.
pub fn shard_of(slot: u32) -> u16 {
    (slot as usize % SHARDS) as u16
}

/// The keyed hashes of flows: digest contributions and change detection.
#[derive(Clone)]
pub struct FlowHasher {
    key: [u8; 16],
}

impl std::fmt::Debug for FlowHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FlowHasher(..)")
    }
}

fn write_addr(h: &mut impl Hasher, a: &IpAddr) {
    match a {
        IpAddr::V4(a) => {
            h.write_u8(4);
            h.write(&a.octets());
        }
        IpAddr::V6(a) => {
            h.write_u8(6);
            h.write(&a.octets());
        }
    }
}

fn write_tuple(h: &mut impl Hasher, t: &crate::flow::Tuple) {
    write_addr(h, &t.src);
    write_addr(h, &t.dst);
    h.write_u16(t.src_port);
    h.write_u16(t.dst_port);
}

fn write_window(h: &mut impl Hasher, w: &Option<TcpWindow>) {
    match w {
        None => h.write_u8(0),
        Some(w) => {
            h.write_u8(1);
            h.write(&w.scale);
            h.write(&w.flags);
            for v in w.end.iter().chain(&w.max_end).chain(&w.max_window) {
                h.write_u32(*v);
            }
        }
    }
}

impl FlowHasher {
    /// A hasher with the pair's digest key.
    pub fn new(key: [u8; 16]) -> FlowHasher {
        FlowHasher { key }
    }

    fn sip(&self) -> siphasher::sip::SipHasher24 {
        siphasher::sip::SipHasher24::new_with_key(&self.key)
    }

    /// The digest contribution of `flow` in `handle`: every replicated
    /// field but the lifetime.
    pub fn fingerprint(&self, handle: Handle, flow: &Flow) -> u64 {
        let mut h = self.sip();
        h.write_u32(handle.slot);
        h.write_u8(handle.gen);
        h.write_u8(flow.proto);
        h.write_u16(flow.zone);
        write_tuple(&mut h, &flow.original);
        write_tuple(&mut h, &flow.reply);
        h.write_u8(flow.state);
        h.write_u16(flow.status);
        h.write_u16(flow.backend);
        h.write_u32(flow.mark);
        write_window(&mut h, &flow.window);
        h.finish()
    }

    /// The hash of the fields only a full record carries (not the state,
    /// status, lifetime or window): local change detection, unkeyed.
    pub fn core(&self, flow: &Flow) -> u64 {
        let mut h = Fx(0);
        h.write_u8(flow.proto);
        h.write_u16(flow.zone);
        write_tuple(&mut h, &flow.original);
        write_tuple(&mut h, &flow.reply);
        h.write_u16(flow.backend);
        h.write_u32(flow.mark);
        h.finish()
    }

    /// The hash of a window: local change detection, unkeyed.
    pub fn window(&self, w: &Option<TcpWindow>) -> u64 {
        let mut h = Fx(0);
        write_window(&mut h, w);
        h.finish()
    }

    /// A pseudo-random value from `seed` and `counter` (the receiver's
    /// challenges: the crate reads no random source).
    pub fn nonce(&self, seed: u64, counter: u64) -> u64 {
        let mut h = self.sip();
        h.write_u64(seed);
        h.write_u64(counter);
        h.write(b"tandem-replication challenge");
        h.finish()
    }
}

/// A fast unkeyed hash (multiply-rotate, as rustc's FxHasher) for
/// change detection on this unit only: never on the wire.
struct Fx(u64);

impl Hasher for Fx {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut w = [0u8; 8];
            if let Some(d) = w.get_mut(..chunk.len()) {
                d.copy_from_slice(chunk);
            }
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w))
                .wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// A fast hash for the tables' key indexes, seeded with a secret (the
/// pair's digest key), so that keys chosen by outside clients cannot be
/// aimed at one bucket without it.
#[derive(Clone, Copy)]
pub struct KeyedFx(u64);

impl std::fmt::Debug for KeyedFx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyedFx(..)")
    }
}

impl KeyedFx {
    /// Seeded from a 16-byte key.
    pub fn new(key: [u8; 16]) -> KeyedFx {
        let mut w = [0u8; 8];
        w.copy_from_slice(key.get(..8).unwrap_or(&[0; 8]));
        KeyedFx(u64::from_le_bytes(w) | 1)
    }
}

impl std::hash::BuildHasher for KeyedFx {
    type Hasher = FxState;
    fn build_hasher(&self) -> FxState {
        FxState(self.0)
    }
}

/// The state of [`KeyedFx`].
#[derive(Debug)]
pub struct FxState(u64);

impl FxState {
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for FxState {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut w = [0u8; 8];
            if let Some(d) = w.get_mut(..chunk.len()) {
                d.copy_from_slice(chunk);
            }
            self.add(u64::from_le_bytes(w));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    fn write_u16(&mut self, i: u16) {
        self.add(u64::from(i));
    }
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    fn finish(&self) -> u64 {
        // A final mix, so that the low bits (the bucket) depend on all.
        let mut z = self.0;
        z = (z ^ (z >> 33)).wrapping_mul(0xff51_afd7_ed55_8ccd);
        z ^ (z >> 29)
    }
}

/// A key index.
pub type Index = HashMap<FlowKey, u32, KeyedFx>;

/// One digest per shard, updated in O(1).
#[derive(Clone)]
pub struct ShardDigests {
    d: Vec<u64>,
}

impl std::fmt::Debug for ShardDigests {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ShardDigests({:#018x})",
            self.range(0, SHARDS as u16 - 1)
        )
    }
}

impl Default for ShardDigests {
    fn default() -> Self {
        ShardDigests { d: vec![0; SHARDS] }
    }
}

impl ShardDigests {
    /// Toggles `fp` in `shard` (adds it if absent, removes it if present).
    pub fn toggle(&mut self, shard: u16, fp: u64) {
        if let Some(d) = self.d.get_mut(usize::from(shard)) {
            *d ^= fp;
        }
    }

    /// One shard's digest.
    pub fn get(&self, shard: u16) -> u64 {
        self.d.get(usize::from(shard)).copied().unwrap_or(0)
    }

    /// The XOR of shards `first..=last`.
    pub fn range(&self, first: u16, last: u16) -> u64 {
        let (a, b) = (usize::from(first), usize::from(last).min(SHARDS - 1));
        self.d
            .get(a..=b.max(a))
            .map_or(0, |s| s.iter().fold(0, |x, d| x ^ d))
    }

    /// Every shard zero.
    pub fn clear(&mut self) {
        self.d.iter_mut().for_each(|d| *d = 0);
    }
}

/// What the partner was last sent for a slot.
#[derive(Debug, Clone, Copy)]
pub struct SentState {
    /// The generation it knows.
    pub gen: u8,
    /// State sent.
    pub state: u8,
    /// Status sent.
    pub status: u16,
    /// Hash of the full record's other fields ([`FlowHasher::core`]).
    pub core: u64,
    /// Hash of the window sent ([`FlowHasher::window`]).
    pub window: u64,
    /// Its digest contribution.
    pub fp: u64,
    /// The deadline advertised (our clock): send time + lifetime sent.
    pub advertised: Instant,
    /// The lifetime last sent, ms.
    pub lifetime_ms: u32,
}

/// One slot of the sender's slab.
#[derive(Debug, Clone)]
pub struct Slot {
    /// Its generation: the live flow's, or the next occupant's when free.
    pub gen: u8,
    /// The live flow (its lifetime as of `deadline`'s reading).
    pub flow: Option<Flow>,
    /// When the live flow expires (our clock), from its last upsert.
    pub deadline: Instant,
    /// Queued for the next flush.
    pub dirty: bool,
    /// What the partner was sent.
    pub sent: Option<SentState>,
}

/// The sender's table: a slab of slots, a key index and the dirty queue.
#[derive(Debug)]
pub struct SenderTable {
    slots: Vec<Slot>,
    free: VecDeque<u32>,
    index: Index,
    dirty: VecDeque<u32>,
    capacity: usize,
    cursor: usize,
}

/// What an upsert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upserted {
    /// A new flow in this slot.
    Inserted(Handle),
    /// An existing flow, queued for sending.
    Changed(Handle),
    /// An existing flow; nothing the partner needs now.
    Unchanged(Handle),
}

impl SenderTable {
    /// An empty table of at most `capacity` flows, its index seeded with
    /// `seed`.
    pub fn new(capacity: usize, seed: KeyedFx) -> SenderTable {
        SenderTable {
            slots: Vec::new(),
            free: VecDeque::new(),
            index: HashMap::with_hasher(seed),
            dirty: VecDeque::new(),
            capacity: capacity.min(Handle::MAX_SLOTS as usize),
            cursor: 0,
        }
    }

    /// Removes the flows among the next `budget` slots whose deadline
    /// passed `grace` ago (a cursor walks the slab): the driver no longer
    /// refreshes them, and the partner's mirror drops them on its own
    /// clock at about the same time. Queues those whose advertised
    /// deadline is due a lazy refresh. Returns how many were removed.
    pub fn expire_some(
        &mut self,
        now: Instant,
        grace: std::time::Duration,
        budget: usize,
    ) -> usize {
        let mut dead = Vec::new();
        for _ in 0..budget.min(self.slots.len()) {
            if self.cursor >= self.slots.len() {
                self.cursor = 0;
            }
            let i = self.cursor as u32;
            self.cursor += 1;
            let Some(s) = self.slots.get(i as usize) else {
                continue;
            };
            let Some(f) = s.flow else { continue };
            if s.deadline + grace <= now {
                dead.push(f.key());
            } else if s
                .sent
                .is_some_and(|x| needs_refresh(&x, &f, s.deadline, now))
            {
                // The partner's deadline runs out before ours: refresh
                // it now rather than at the next upsert.
                self.mark_dirty(i);
            }
        }
        for k in &dead {
            self.remove(k);
        }
        dead.len()
    }

    /// Live flows.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// No live flow.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The most live flows.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Slots in the slab (live or free).
    pub fn slab_len(&self) -> usize {
        self.slots.len()
    }

    /// A slot.
    pub fn slot(&self, slot: u32) -> Option<&Slot> {
        self.slots.get(slot as usize)
    }

    /// A slot, mutably.
    pub fn slot_mut(&mut self, slot: u32) -> Option<&mut Slot> {
        self.slots.get_mut(slot as usize)
    }

    /// The slot of a live flow.
    pub fn find(&self, key: &FlowKey) -> Option<u32> {
        self.index.get(key).copied()
    }

    /// Slots waiting for the flush.
    pub fn dirty_len(&self) -> usize {
        self.dirty.len()
    }

    /// The next dirty slot (its flag cleared).
    pub fn pop_dirty(&mut self) -> Option<u32> {
        let s = self.dirty.pop_front()?;
        if let Some(slot) = self.slots.get_mut(s as usize) {
            slot.dirty = false;
        }
        Some(s)
    }

    /// Puts `slot` back at the head of the dirty queue (it did not fit).
    pub fn unpop_dirty(&mut self, slot: u32) {
        if let Some(s) = self.slots.get_mut(slot as usize) {
            if !s.dirty {
                s.dirty = true;
                self.dirty.push_front(slot);
            }
        }
    }

    /// A bulk of the whole table starts: it sends every live flow's
    /// current state, so the live flows queued for the flush need not go
    /// too (a table filled before the partner came would otherwise go
    /// twice, and first as a burst of live frames). Flows that ended stay
    /// queued: their deletes free the slots.
    pub fn bulk_supersedes_dirty(&mut self) {
        let slots = &mut self.slots;
        self.dirty.retain(|&s| match slots.get_mut(s as usize) {
            Some(slot) if slot.flow.is_some() => {
                slot.dirty = false;
                false
            }
            _ => true,
        });
    }

    /// Queues `slot` for the flush (once).
    pub fn mark_dirty(&mut self, slot: u32) {
        if let Some(s) = self.slots.get_mut(slot as usize) {
            if !s.dirty {
                s.dirty = true;
                self.dirty.push_back(slot);
            }
        }
    }

    /// Inserts or updates `flow` (its lifetime read at `now`); `None` if
    /// the table is full. `hasher` tells what the partner must be sent.
    pub fn upsert(&mut self, now: Instant, flow: Flow, hasher: &FlowHasher) -> Option<Upserted> {
        let deadline = now + std::time::Duration::from_millis(u64::from(flow.lifetime_ms));
        if let Some(&s) = self.index.get(&flow.key()) {
            let slot = self.slots.get_mut(s as usize)?;
            let handle = Handle {
                slot: s,
                gen: slot.gen,
            };
            slot.flow = Some(flow);
            slot.deadline = deadline;
            let needs = match &slot.sent {
                None => true,
                Some(sent) => {
                    sent.gen != slot.gen
                        || sent.state != flow.state
                        || sent.status != flow.status
                        || sent.window != hasher.window(&flow.window)
                        || sent.core != hasher.core(&flow)
                        // Lazy refresh: the partner's deadline is closer
                        // than half the lifetime.
                        || needs_refresh(sent, &flow, deadline, now)
                }
            };
            if needs {
                self.mark_dirty(s);
                return Some(Upserted::Changed(handle));
            }
            return Some(Upserted::Unchanged(handle));
        }
        if self.index.len() >= self.capacity {
            return None;
        }
        let s = match self.free.pop_front() {
            Some(s) => s,
            None => {
                let s = u32::try_from(self.slots.len()).ok()?;
                if s >= Handle::MAX_SLOTS {
                    return None;
                }
                self.slots.push(Slot {
                    gen: 0,
                    flow: None,
                    deadline: now,
                    dirty: false,
                    sent: None,
                });
                s
            }
        };
        let slot = self.slots.get_mut(s as usize)?;
        slot.flow = Some(flow);
        slot.deadline = deadline;
        let handle = Handle {
            slot: s,
            gen: slot.gen,
        };
        self.index.insert(flow.key(), s);
        self.mark_dirty(s);
        Some(Upserted::Inserted(handle))
    }

    /// Removes a live flow: its slot is free at once (generation bumped),
    /// and queued so that the partner is sent its delete.
    pub fn remove(&mut self, key: &FlowKey) -> Option<Handle> {
        let s = self.index.remove(key)?;
        let slot = self.slots.get_mut(s as usize)?;
        let handle = Handle {
            slot: s,
            gen: slot.gen,
        };
        slot.flow = None;
        slot.gen = slot.gen.wrapping_add(1);
        self.free.push_back(s);
        self.mark_dirty(s);
        Some(handle)
    }

    /// A new partner knows nothing: no slot was sent, nothing is queued
    /// (a full bulk follows).
    pub fn forget_sent(&mut self) {
        for s in &mut self.slots {
            s.sent = None;
            s.dirty = false;
        }
        self.dirty.clear();
    }

    /// Every live flow, each with its remaining lifetime at `now`.
    pub fn flows(&self, now: Instant) -> Vec<Flow> {
        self.slots
            .iter()
            .filter_map(|s| {
                s.flow.map(|mut f| {
                    f.lifetime_ms = remaining_ms(s.deadline, now);
                    f
                })
            })
            .collect()
    }
}

/// Lazy refresh: the deadline the partner was told is closer than half
/// the flow's lifetime, and the flow now lives longer than that.
pub fn needs_refresh(sent: &SentState, flow: &Flow, deadline: Instant, now: Instant) -> bool {
    sent.advertised.saturating_since(now)
        < std::time::Duration::from_millis(u64::from(flow.lifetime_ms) / 2)
        && deadline > sent.advertised
}

/// Milliseconds from `now` to `deadline` (0 if past), as a u32.
pub fn remaining_ms(deadline: Instant, now: Instant) -> u32 {
    u32::try_from(deadline.saturating_since(now).as_millis()).unwrap_or(u32::MAX)
}
