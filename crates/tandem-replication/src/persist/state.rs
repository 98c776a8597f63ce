//! The table's state under its lock: both sides' entries, their expiry,
//! the queue of changes to send.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tandem_time::Instant;

use super::expiry::{Expiring, Expiry, SLACK};
use super::table::{PersistStats, TableFull, MAX_LIFETIME, PARTNER_TOMBSTONE_HOLD};
use super::{Change, PersistKey, Persistence, TableId};

/// Expired entries purged (heap elements examined) per call, per side.
const PURGE_BATCH: usize = 16;

pub(super) type Key = (TableId, PersistKey);

struct Local {
    backend: u16,
    lifetime: Duration,
    deadline: Instant,
    /// The deadline the partner was last told (None: never sent).
    advertised_deadline: Option<Instant>,
    dirty: bool,
    generation: u64,
}

struct Partner {
    /// None: a tombstone (deleted by the partner at `last_seq`).
    backend: Option<u16>,
    deadline: Instant,
    last_seq: u64,
    generation: u64,
}

impl Expiring for Local {
    fn deadline(&self) -> Instant {
        self.deadline
    }
    fn generation(&self) -> u64 {
        self.generation
    }
}

impl Expiring for Partner {
    fn deadline(&self) -> Instant {
        self.deadline
    }
    fn generation(&self) -> u64 {
        self.generation
    }
}

pub(super) type Waker = Arc<dyn Fn() + Send + Sync>;

pub(super) struct Inner {
    capacity: usize,
    last_now: Instant,
    local: HashMap<Key, Local>,
    local_expiry: Expiry,
    /// Keys with a change to send, each once (some may have expired since:
    /// skipped when taken, or dropped by a compaction).
    queue: VecDeque<Key>,
    queued: HashSet<Key>,
    /// Keys removed locally, their Delete not sent yet.
    deletes: HashSet<Key>,
    dirty_count: usize,
    pub(super) changes_lost: bool,
    partner: HashMap<Key, Partner>,
    partner_expiry: Expiry,
    partner_tombstones: usize,
    /// Partner changes from frames before this one are stale (the last
    /// bulk swept them).
    partner_floor: u64,
    pub(super) waker: Option<Waker>,
    stats: PersistStats,
}

/// The sliding-lifetime rule: tell the partner again when the deadline it
/// knows is closer than half the lifetime.
fn refresh_due(advertised: Option<Instant>, now: Instant, lifetime: Duration) -> bool {
    match advertised {
        None => true,
        Some(a) => a.saturating_since(now) < lifetime / 2,
    }
}

/// Milliseconds, rounded up (a live entry never says 0), at most `u32::MAX`.
fn millis_ceil(d: Duration) -> u32 {
    let ms = d.as_millis() + u128::from(d.subsec_nanos() % 1_000_000 != 0);
    u32::try_from(ms).unwrap_or(u32::MAX)
}

impl Inner {
    pub(super) fn new(capacity: usize) -> Inner {
        Inner {
            capacity,
            last_now: Instant::ZERO,
            local: HashMap::new(),
            local_expiry: Expiry::default(),
            queue: VecDeque::new(),
            queued: HashSet::new(),
            deletes: HashSet::new(),
            dirty_count: 0,
            changes_lost: false,
            partner: HashMap::new(),
            partner_expiry: Expiry::default(),
            partner_tombstones: 0,
            partner_floor: 0,
            waker: None,
            stats: PersistStats::default(),
        }
    }

    /// A `now` earlier than the latest seen counts as the latest.
    pub(super) fn clamp(&mut self, now: Instant) -> Instant {
        self.last_now = self.last_now.max(now);
        self.last_now
    }

    pub(super) fn pending(&self) -> usize {
        self.dirty_count + self.deletes.len()
    }

    pub(super) fn purge_local(&mut self, now: Instant, budget: Option<usize>) {
        let dirty = &mut self.dirty_count;
        let stats = &mut self.stats;
        self.local_expiry
            .purge(&mut self.local, now, budget, |_, entry| {
                if entry.dirty {
                    *dirty -= 1;
                }
                stats.local_expired += 1;
            });
    }

    pub(super) fn purge_partner(&mut self, now: Instant, budget: Option<usize>) {
        let tombstones = &mut self.partner_tombstones;
        let stats = &mut self.stats;
        self.partner_expiry
            .purge(&mut self.partner, now, budget, |_, entry| {
                if entry.backend.is_none() {
                    *tombstones -= 1;
                } else {
                    stats.partner_expired += 1;
                }
            });
    }

    /// Drops the local entry of `key` if it expired at `now`.
    pub(super) fn drop_expired_local(&mut self, key: &Key, now: Instant) {
        if self.local.get(key).is_some_and(|l| l.deadline <= now) {
            if let Some(l) = self.local.remove(key) {
                if l.dirty {
                    self.dirty_count -= 1;
                }
                self.stats.local_expired += 1;
            }
        }
    }

    /// Drops the partner entry of `key` if it expired at `now`.
    pub(super) fn drop_expired_partner(&mut self, key: &Key, now: Instant) {
        if self.partner.get(key).is_some_and(|p| p.deadline <= now) {
            if let Some(p) = self.partner.remove(key) {
                if p.backend.is_none() {
                    self.partner_tombstones -= 1;
                } else {
                    self.stats.partner_expired += 1;
                }
            }
        }
    }

    pub(super) fn enqueue(&mut self, key: Key) {
        if !self.queued.insert(key) {
            return;
        }
        self.queue.push_back(key);
        if self.queue.len() > 2 * self.capacity + SLACK {
            // Only slots of expired entries are dropped: the valid ones are
            // at most `capacity` upserts and `capacity` deletes.
            let local = &self.local;
            let deletes = &self.deletes;
            let queued = &mut self.queued;
            self.queue.retain(|k| {
                let valid = local.get(k).is_some_and(|l| l.dirty) || deletes.contains(k);
                if !valid {
                    queued.remove(k);
                }
                valid
            });
        }
    }

    /// The local entry of `key` (which exists) has a change to send.
    pub(super) fn mark_dirty(&mut self, key: Key) {
        if let Some(l) = self.local.get_mut(&key) {
            if !l.dirty {
                l.dirty = true;
                self.dirty_count += 1;
            }
            self.enqueue(key);
        }
    }

    pub(super) fn partner_live(&self) -> usize {
        self.partner.len() - self.partner_tombstones
    }

    pub(super) fn insert(
        &mut self,
        now: Instant,
        key: Key,
        backend: u16,
        lifetime: Duration,
    ) -> Result<(), TableFull> {
        let now = self.clamp(now);
        self.purge_local(now, Some(PURGE_BATCH));
        self.drop_expired_local(&key, now);
        let lifetime = lifetime.min(MAX_LIFETIME);
        let deadline = now + lifetime;
        if let Some(l) = self.local.get_mut(&key) {
            let changed = l.backend != backend
                || l.lifetime != lifetime
                || refresh_due(l.advertised_deadline, now, lifetime);
            if deadline < l.deadline {
                l.generation = self.local_expiry.schedule(deadline, key);
            }
            l.backend = backend;
            l.lifetime = lifetime;
            l.deadline = deadline;
            if changed {
                self.mark_dirty(key);
            }
            return Ok(());
        }
        if self.local.len() >= self.capacity {
            self.purge_local(now, None);
            if self.local.len() >= self.capacity {
                self.stats.local_full += 1;
                return Err(TableFull {
                    capacity: self.capacity,
                });
            }
        }
        let generation = self.local_expiry.schedule(deadline, key);
        self.local.insert(
            key,
            Local {
                backend,
                lifetime,
                deadline,
                advertised_deadline: None,
                dirty: false,
                generation,
            },
        );
        // A delete not sent yet becomes this upsert (same queue slot).
        self.deletes.remove(&key);
        self.mark_dirty(key);
        Ok(())
    }

    pub(super) fn touch(&mut self, now: Instant, key: Key) -> bool {
        let now = self.clamp(now);
        self.purge_local(now, Some(PURGE_BATCH));
        self.drop_expired_local(&key, now);
        let Some(l) = self.local.get_mut(&key) else {
            return false;
        };
        // `now` never goes back, so the deadline only moves later.
        l.deadline = now + l.lifetime;
        if !l.dirty && refresh_due(l.advertised_deadline, now, l.lifetime) {
            self.mark_dirty(key);
        }
        true
    }

    pub(super) fn lookup(&mut self, now: Instant, key: &Key) -> Option<u16> {
        let now = self.clamp(now);
        self.purge_local(now, Some(PURGE_BATCH));
        self.purge_partner(now, Some(PURGE_BATCH));
        if let Some(l) = self.local.get(key).filter(|l| l.deadline > now) {
            return Some(l.backend);
        }
        self.partner
            .get(key)
            .filter(|p| p.deadline > now)
            .and_then(|p| p.backend)
    }

    pub(super) fn remove(&mut self, now: Instant, key: Key) -> bool {
        let now = self.clamp(now);
        self.purge_local(now, Some(PURGE_BATCH));
        self.drop_expired_local(&key, now);
        let Some(l) = self.local.remove(&key) else {
            return false;
        };
        if l.dirty {
            self.dirty_count -= 1;
        }
        if self.deletes.len() >= self.capacity {
            self.stats.changes_lost += 1;
            self.changes_lost = true;
        } else {
            self.deletes.insert(key);
            self.enqueue(key);
        }
        true
    }

    pub(super) fn take_changes(&mut self, now: Instant, max: usize) -> Vec<Change> {
        let now = self.clamp(now);
        self.purge_local(now, Some(PURGE_BATCH));
        let mut out = Vec::with_capacity(max.min(self.pending()));
        while out.len() < max {
            let Some(key) = self.queue.pop_front() else {
                break;
            };
            self.queued.remove(&key);
            self.drop_expired_local(&key, now);
            if let Some(l) = self.local.get_mut(&key) {
                if l.dirty {
                    l.dirty = false;
                    self.dirty_count -= 1;
                    l.advertised_deadline = Some(l.deadline);
                    out.push(Change::Upsert(Persistence {
                        table: key.0,
                        key: key.1,
                        backend: l.backend,
                        lifetime_ms: millis_ceil(l.deadline.saturating_since(now)),
                    }));
                }
            } else if self.deletes.remove(&key) {
                out.push(Change::Delete {
                    table: key.0,
                    key: key.1,
                });
            }
        }
        out
    }

    pub(super) fn local_entries(&mut self, now: Instant) -> Vec<Persistence> {
        let now = self.clamp(now);
        self.purge_local(now, None);
        let mut out: Vec<Persistence> = self
            .local
            .iter()
            .filter(|(_, l)| l.deadline > now)
            .map(|(k, l)| Persistence {
                table: k.0,
                key: k.1,
                backend: l.backend,
                lifetime_ms: millis_ceil(l.deadline.saturating_since(now)),
            })
            .collect();
        out.sort_unstable_by_key(|p| (p.table, p.key));
        out
    }

    pub(super) fn partner_entries(&mut self, now: Instant) -> Vec<Persistence> {
        let now = self.clamp(now);
        self.purge_partner(now, None);
        let mut out: Vec<Persistence> = self
            .partner
            .iter()
            .filter(|(_, p)| p.deadline > now)
            .filter_map(|(k, p)| {
                Some(Persistence {
                    table: k.0,
                    key: k.1,
                    backend: p.backend?,
                    lifetime_ms: millis_ceil(p.deadline.saturating_since(now)),
                })
            })
            .collect();
        out.sort_unstable_by_key(|p| (p.table, p.key));
        out
    }

    pub(super) fn apply_partner(&mut self, now: Instant, seq: u64, change: Change) {
        let now = self.clamp(now);
        self.purge_partner(now, Some(PURGE_BATCH));
        let (key, upsert) = match change {
            Change::Upsert(p) => ((p.table, p.key), Some((p.backend, p.lifetime_ms))),
            Change::Delete { table, key } => ((table, key), None),
        };
        let newer_known = self.partner.get(&key).is_some_and(|p| p.last_seq > seq);
        if seq < self.partner_floor || newer_known {
            self.stats.partner_stale += 1;
            return;
        }
        self.drop_expired_partner(&key, now);
        match upsert {
            Some((backend, lifetime_ms)) => {
                let deadline = now + Duration::from_millis(u64::from(lifetime_ms));
                self.upsert_partner(now, key, seq, backend, deadline);
            }
            None => self.delete_partner(now, key, seq),
        }
    }

    pub(super) fn upsert_partner(
        &mut self,
        now: Instant,
        key: Key,
        seq: u64,
        backend: u16,
        deadline: Instant,
    ) {
        let tombstone = match self.partner.get(&key) {
            Some(p) => p.backend.is_none(),
            None => true,
        };
        if tombstone && self.partner_live() >= self.capacity {
            self.purge_partner(now, None);
            if self.partner_live() >= self.capacity {
                self.stats.partner_full += 1;
                return;
            }
        }
        match self.partner.get_mut(&key) {
            Some(p) => {
                if p.backend.is_none() {
                    self.partner_tombstones -= 1;
                }
                if deadline < p.deadline {
                    p.generation = self.partner_expiry.schedule(deadline, key);
                }
                p.backend = Some(backend);
                p.deadline = deadline;
                p.last_seq = seq;
            }
            None => {
                let generation = self.partner_expiry.schedule(deadline, key);
                self.partner.insert(
                    key,
                    Partner {
                        backend: Some(backend),
                        deadline,
                        last_seq: seq,
                        generation,
                    },
                );
            }
        }
    }

    pub(super) fn delete_partner(&mut self, now: Instant, key: Key, seq: u64) {
        let deadline = now + PARTNER_TOMBSTONE_HOLD;
        let room = self.partner_tombstones < self.capacity;
        match self.partner.get_mut(&key) {
            Some(p) if p.backend.is_none() => {
                if deadline < p.deadline {
                    p.generation = self.partner_expiry.schedule(deadline, key);
                }
                p.deadline = deadline;
                p.last_seq = seq;
            }
            Some(p) if room => {
                if deadline < p.deadline {
                    p.generation = self.partner_expiry.schedule(deadline, key);
                }
                p.backend = None;
                p.deadline = deadline;
                p.last_seq = seq;
                self.partner_tombstones += 1;
            }
            Some(_) => {
                self.partner.remove(&key);
            }
            None if room => {
                let generation = self.partner_expiry.schedule(deadline, key);
                self.partner.insert(
                    key,
                    Partner {
                        backend: None,
                        deadline,
                        last_seq: seq,
                        generation,
                    },
                );
                self.partner_tombstones += 1;
            }
            None => {}
        }
    }

    pub(super) fn sweep_partner(&mut self, begin_seq: u64) -> usize {
        self.partner_floor = self.partner_floor.max(begin_seq);
        let now = self.last_now;
        let mut swept = 0;
        let mut tombstones = 0;
        self.partner.retain(|_, p| {
            let keep = p.last_seq >= begin_seq;
            if !keep && p.backend.is_some() && p.deadline > now {
                swept += 1;
            }
            if keep && p.backend.is_none() {
                tombstones += 1;
            }
            keep
        });
        self.partner_tombstones = tombstones;
        swept
    }

    pub(super) fn clear_partner(&mut self) {
        self.partner.clear();
        self.partner_expiry.heap.clear();
        self.partner_tombstones = 0;
        self.partner_floor = 0;
    }

    /// Live local entries at the latest `now` seen.
    pub(super) fn local_len(&mut self) -> usize {
        let now = self.last_now;
        self.purge_local(now, None);
        self.local.len()
    }

    /// Live partner entries at the latest `now` seen.
    pub(super) fn partner_len(&mut self) -> usize {
        let now = self.last_now;
        self.purge_partner(now, None);
        self.partner_live()
    }

    pub(super) fn stats(&mut self) -> PersistStats {
        let now = self.last_now;
        self.purge_local(now, None);
        self.purge_partner(now, None);
        PersistStats {
            local: self.local.len(),
            partner: self.partner_live(),
            pending_changes: self.pending(),
            ..self.stats
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(i: u64) -> Key {
        (0, PersistKey::Cookie(i))
    }

    #[test]
    fn each_call_purges_a_bounded_number_of_entries() {
        let mut s = Inner::new(1_000);
        for i in 0..200 {
            s.insert(Instant::ZERO, key(i), 1, Duration::from_millis(100))
                .unwrap();
        }
        let later = Instant::from_millis(100);
        assert_eq!(s.lookup(later, &key(0)), None);
        assert_eq!(s.local.len(), 200 - PURGE_BATCH);
        assert_eq!(s.lookup(later, &key(0)), None);
        assert_eq!(s.local.len(), 200 - 2 * PURGE_BATCH);
        s.purge_local(later, None);
        assert!(s.local.is_empty());
        assert_eq!(s.dirty_count, 0, "the expired entries' changes are dropped");
        assert!(s.take_changes(later, 1_000).is_empty());
        assert!(s.queue.is_empty() && s.queued.is_empty());
    }

    #[test]
    fn churn_of_expiring_or_removed_entries_keeps_queue_and_heaps_bounded() {
        let capacity = 8;
        let mut s = Inner::new(capacity);
        let mut now = Instant::ZERO;
        for i in 0..10_000u64 {
            now = now + Duration::from_millis(10);
            s.insert(now, key(i), 1, Duration::from_millis(5)).unwrap();
            if i % 3 == 0 {
                s.remove(now, key(i));
            }
            s.touch(now, key(i));
            s.apply_partner(
                now,
                i,
                Change::Upsert(Persistence {
                    table: 0,
                    key: PersistKey::Cookie(i),
                    backend: 1,
                    lifetime_ms: 5,
                }),
            );
            if i % 5 == 0 {
                s.apply_partner(
                    now,
                    i,
                    Change::Delete {
                        table: 0,
                        key: PersistKey::Cookie(i),
                    },
                );
            }
            assert!(s.queue.len() <= 2 * capacity + SLACK + 1);
            assert_eq!(s.queue.len(), s.queued.len());
            assert!(s.local.len() <= capacity);
            assert!(s.partner.len() <= 2 * capacity);
            assert!(s.local_expiry.heap.len() <= 2 * capacity + SLACK + 1);
            assert!(s.partner_expiry.heap.len() <= 4 * capacity + SLACK + 1);
            assert!(s.pending() <= 2 * capacity);
        }
        assert!(s.stats.local_expired > 0 && s.stats.changes_lost > 0);
    }

    #[test]
    fn a_shorter_lifetime_is_purged_at_its_own_deadline() {
        let mut s = Inner::new(16);
        s.insert(Instant::ZERO, key(1), 1, Duration::from_secs(100))
            .unwrap();
        s.insert(Instant::ZERO, key(1), 1, Duration::from_secs(1))
            .unwrap();
        s.purge_local(Instant::from_millis(1_000), None);
        assert!(s.local.is_empty());
    }

    #[test]
    fn millis_round_up_and_saturate() {
        assert_eq!(millis_ceil(Duration::ZERO), 0);
        assert_eq!(millis_ceil(Duration::from_nanos(1)), 1);
        assert_eq!(millis_ceil(Duration::from_millis(7)), 7);
        assert_eq!(millis_ceil(Duration::MAX), u32::MAX);
    }
}
