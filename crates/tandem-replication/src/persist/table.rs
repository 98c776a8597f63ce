//! The [`PersistenceTable`]: this unit's persistence decisions, the
//! partner's copy, the queue of changes to send, and lazy expiry, behind
//! one lock.
//!
//! - Local entries carry their lifetime, deadline, the deadline last
//!   advertised to the partner and a dirty flag. A changed entry is queued
//!   once; [`PersistenceTable::take_changes`] writes its state at that
//!   moment (an insert then a refresh: one record).
//! - Partner entries carry the sequence number of the frame that last
//!   changed them; an older frame changes nothing. A partner's delete
//!   leaves a tombstone for [`PARTNER_TOMBSTONE_HOLD`], so a reordered,
//!   older insert cannot bring the entry back.
//! - Expiry is by the callers' `now`: lookups never answer with an expired
//!   entry; expired entries are purged a few per call (an expiry heap per
//!   side), and expiry is never replicated: each unit expires on its own
//!   clock.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tandem_time::Instant;

use super::{Change, KeyHasher, PersistKey, Persistence, TableId};

/// The longest lifetime an entry keeps: the wire's `u32` milliseconds
/// (about 49.7 days). Longer lifetimes are clamped to it.
pub const MAX_LIFETIME: Duration = Duration::from_millis(u32::MAX as u64);

/// How long a partner's delete is remembered (as a tombstone) so that an
/// older, reordered insert of the same key is recognised and ignored.
pub const PARTNER_TOMBSTONE_HOLD: Duration = Duration::from_secs(60);

/// Expired entries purged (heap elements examined) per call, per side.
const PURGE_BATCH: usize = 16;

/// Stale heap elements (or stale queue slots) tolerated beyond the live
/// entries before a rebuild.
const SLACK: usize = 64;

type Key = (TableId, PersistKey);

/// The table is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("persistence table full ({capacity} entries): raise the capacity or shorten lifetimes")]
pub struct TableFull {
    /// Its capacity.
    pub capacity: usize,
}

/// A table's sizes and counters ([`PersistenceTable::stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PersistStats {
    /// Live local entries.
    pub local: usize,
    /// Live partner entries.
    pub partner: usize,
    /// Local changes waiting to be sent.
    pub pending_changes: usize,
    /// Local inserts refused: table full.
    pub local_full: u64,
    /// Partner inserts refused: table full.
    pub partner_full: u64,
    /// Local deletes not queued because the queue of deletes was full (the
    /// partner needs a bulk: [`PersistenceTable::take_changes_lost`]).
    pub changes_lost: u64,
    /// Partner changes ignored: carried by a frame older than the entry's
    /// last change or than the last bulk.
    pub partner_stale: u64,
    /// Local entries expired.
    pub local_expired: u64,
    /// Partner entries expired.
    pub partner_expired: u64,
}

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

trait Expiring {
    fn deadline(&self) -> Instant;
    fn generation(&self) -> u64;
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

/// Deadlines of one side, earliest first. An entry has one current element
/// (its generation); a later deadline is found when the element pops and
/// pushed again, an earlier one gets a new generation. Stale elements are
/// dropped when they pop, or by a rebuild once they outnumber the entries.
#[derive(Default)]
struct Expiry {
    heap: BinaryHeap<Reverse<(Instant, u64, Key)>>,
    next_generation: u64,
}

impl Expiry {
    fn schedule(&mut self, deadline: Instant, key: Key) -> u64 {
        let generation = self.next_generation;
        self.next_generation = self.next_generation.wrapping_add(1);
        self.heap.push(Reverse((deadline, generation, key)));
        generation
    }

    /// Removes from `map` the entries expired at `now`, examining at most
    /// `budget` heap elements (all due ones if `None`); `removed` sees each.
    fn purge<E: Expiring>(
        &mut self,
        map: &mut HashMap<Key, E>,
        now: Instant,
        budget: Option<usize>,
        mut removed: impl FnMut(Key, E),
    ) {
        let mut work = 0usize;
        while budget.is_none_or(|b| work < b) {
            let Some(&Reverse((due, generation, key))) = self.heap.peek() else {
                break;
            };
            if due > now {
                break;
            }
            self.heap.pop();
            work += 1;
            let Some(entry) = map.get(&key) else {
                continue;
            };
            if entry.generation() != generation {
                continue;
            }
            if entry.deadline() <= now {
                if let Some(entry) = map.remove(&key) {
                    removed(key, entry);
                }
            } else {
                self.heap.push(Reverse((entry.deadline(), generation, key)));
            }
        }
        if self.heap.len() > 2 * map.len() + SLACK {
            self.heap = map
                .iter()
                .map(|(k, e)| Reverse((e.deadline(), e.generation(), *k)))
                .collect();
        }
    }
}

type Waker = Arc<dyn Fn() + Send + Sync>;

struct Inner {
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
    changes_lost: bool,
    partner: HashMap<Key, Partner>,
    partner_expiry: Expiry,
    partner_tombstones: usize,
    /// Partner changes from frames before this one are stale (the last
    /// bulk swept them).
    partner_floor: u64,
    waker: Option<Waker>,
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
    fn new(capacity: usize) -> Inner {
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
    fn clamp(&mut self, now: Instant) -> Instant {
        self.last_now = self.last_now.max(now);
        self.last_now
    }

    fn pending(&self) -> usize {
        self.dirty_count + self.deletes.len()
    }

    fn purge_local(&mut self, now: Instant, budget: Option<usize>) {
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

    fn purge_partner(&mut self, now: Instant, budget: Option<usize>) {
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
    fn drop_expired_local(&mut self, key: &Key, now: Instant) {
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
    fn drop_expired_partner(&mut self, key: &Key, now: Instant) {
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

    fn enqueue(&mut self, key: Key) {
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
    fn mark_dirty(&mut self, key: Key) {
        if let Some(l) = self.local.get_mut(&key) {
            if !l.dirty {
                l.dirty = true;
                self.dirty_count += 1;
            }
            self.enqueue(key);
        }
    }

    fn partner_live(&self) -> usize {
        self.partner.len() - self.partner_tombstones
    }

    fn insert(
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

    fn touch(&mut self, now: Instant, key: Key) -> bool {
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

    fn lookup(&mut self, now: Instant, key: &Key) -> Option<u16> {
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

    fn remove(&mut self, now: Instant, key: Key) -> bool {
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

    fn take_changes(&mut self, now: Instant, max: usize) -> Vec<Change> {
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

    fn local_entries(&mut self, now: Instant) -> Vec<Persistence> {
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

    fn partner_entries(&mut self, now: Instant) -> Vec<Persistence> {
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

    fn apply_partner(&mut self, now: Instant, seq: u64, change: Change) {
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

    fn upsert_partner(
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

    fn delete_partner(&mut self, now: Instant, key: Key, seq: u64) {
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

    fn sweep_partner(&mut self, begin_seq: u64) -> usize {
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

    fn clear_partner(&mut self) {
        self.partner.clear();
        self.partner_expiry.heap.clear();
        self.partner_tombstones = 0;
        self.partner_floor = 0;
    }

    fn stats(&mut self) -> PersistStats {
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

struct Shared {
    hasher: KeyHasher,
    inner: Mutex<Inner>,
}

/// An appliance's persistence decisions and the partner's, shared between
/// the appliance's threads and the replicator (a cloneable handle).
///
/// - The appliance [`insert`](Self::insert)s a decision, [`touch`](Self::touch)es
///   it on use (sliding lifetime), [`lookup`](Self::lookup)s a client
///   (its own entries first, then the partner's), [`remove`](Self::remove)s.
///   [`stick`](Self::stick) is lookup and touch in one call, adopting the
///   partner's decision after a takeover.
/// - The replicator takes the local changes ([`take_changes`](Self::take_changes))
///   to send, and applies the partner's ([`apply_partner`](Self::apply_partner)),
///   each with the sequence number of its frame: an older change never
///   overwrites a newer one; [`sweep_partner`](Self::sweep_partner) ends a bulk.
/// - Time is the caller's: every call takes `now` on the driver's clock (a
///   `now` earlier than the latest seen counts as the latest). Entries
///   expire on each unit's own clock; expiry is never sent.
/// - Bounded: at most `capacity` local and `capacity` partner entries; an
///   insert beyond it is refused and counted. The queue of changes holds
///   each key once (at most `capacity` upserts and `capacity` deletes).
///   Expired entries are purged a few per call (amortised constant work).
///
/// ```
/// use std::time::Duration;
/// use tandem_replication::persist::{Change, KeyHasher, PersistKey, PersistenceTable};
/// use tandem_time::Instant;
///
/// let hasher = KeyHasher::new([7; 16]);
/// let active = PersistenceTable::new(hasher.clone(), 1024);
/// let standby = PersistenceTable::new(hasher, 1024);
/// let ten_min = Duration::from_secs(600);
/// let t0 = Instant::ZERO;
///
/// // The proxy sticks a client's cookie and address to real server 2.
/// let cookie = active.hasher().cookie(b"f3a9c1d2");
/// let client = PersistKey::source("192.0.2.10".parse()?, 32);
/// active.insert(t0, 0, cookie, 2, ten_min)?;
/// active.insert(t0, 0, client, 2, ten_min)?;
/// assert_eq!(active.lookup(t0, 0, &cookie), Some(2));
///
/// // The replicator sends both in frame 1; the standby applies them.
/// let changes = active.take_changes(t0, 64);
/// assert_eq!(changes.len(), 2);
/// for change in changes {
///     standby.apply_partner(t0, 1, change);
/// }
/// assert_eq!(standby.lookup(t0, 0, &cookie), Some(2));
///
/// // Used a minute later: the lifetime slides, but the standby's copy still
/// // has nine minutes, more than half the lifetime: nothing to send yet.
/// let t1 = t0 + Duration::from_secs(60);
/// assert!(active.touch(t1, 0, &cookie));
/// assert!(!active.has_changes());
///
/// // Removed: one delete, and the standby forgets it too.
/// assert!(active.remove(t1, 0, &client));
/// let changes = active.take_changes(t1, 64);
/// assert_eq!(changes, [Change::Delete { table: 0, key: client }]);
/// standby.apply_partner(t1, 2, changes[0]);
/// assert_eq!(standby.lookup(t1, 0, &client), None);
///
/// // Ten minutes after its last use the cookie expires, on each side's own
/// // clock, with nothing sent.
/// let t2 = t1 + ten_min;
/// assert_eq!(active.lookup(t2, 0, &cookie), None);
/// assert_eq!(standby.lookup(t2, 0, &cookie), None);
/// assert!(!active.has_changes());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct PersistenceTable {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for PersistenceTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PersistenceTable(..)")
    }
}

impl PersistenceTable {
    /// An empty table of at most `capacity` entries each side, hashing
    /// cookies with `hasher`.
    pub fn new(hasher: KeyHasher, capacity: usize) -> PersistenceTable {
        PersistenceTable {
            shared: Arc::new(Shared {
                hasher,
                inner: Mutex::new(Inner::new(capacity)),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The lock is never held across a call out (the waker runs after
        // it is released), so a poisoned lock holds a consistent table.
        self.shared
            .inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` under the lock, then the waker, outside it, if changes are
    /// now waiting and none were before.
    fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        let mut inner = self.lock();
        let before = inner.pending();
        let result = f(&mut inner);
        let waker = if before == 0 && inner.pending() > 0 {
            inner.waker.clone()
        } else {
            None
        };
        drop(inner);
        if let Some(waker) = waker {
            waker();
        }
        result
    }

    /// The hasher of cookie, header and TLS-session keys.
    pub fn hasher(&self) -> KeyHasher {
        self.shared.hasher.clone()
    }

    /// Sticks `key` to `backend` for `lifetime` from `now` (at most
    /// [`MAX_LIFETIME`]). A key already there takes the new backend and
    /// lifetime; the change is queued for the partner if either differs or
    /// the partner's copy is due a refresh.
    pub fn insert(
        &self,
        now: Instant,
        table: TableId,
        key: PersistKey,
        backend: u16,
        lifetime: Duration,
    ) -> Result<(), TableFull> {
        self.with(|s| s.insert(now, (table, key), backend, lifetime))
    }

    /// The entry was used: its lifetime starts again from `now` (sent to
    /// the partner lazily, when the partner's copy would expire within
    /// half the lifetime). `false` if this unit has no live entry for
    /// `key`; a partner's entry is not touched (insert it to adopt it, or
    /// use [`stick`](Self::stick)).
    pub fn touch(&self, now: Instant, table: TableId, key: &PersistKey) -> bool {
        self.with(|s| s.touch(now, (table, *key)))
    }

    /// The real server of `key`: this unit's entry, else the partner's;
    /// `None` if neither or expired.
    pub fn lookup(&self, now: Instant, table: TableId, key: &PersistKey) -> Option<u16> {
        self.with(|s| s.lookup(now, &(table, *key)))
    }

    /// The real server of `key`, used at `now`: this unit's entry, touched;
    /// else the partner's, adopted as this unit's with `lifetime` (after a
    /// takeover the clients keep their real servers, and the entries live
    /// on here); `None` if neither. If the table is full the partner's
    /// answer is still given, and the refusal counted.
    pub fn stick(
        &self,
        now: Instant,
        table: TableId,
        key: &PersistKey,
        lifetime: Duration,
    ) -> Option<u16> {
        self.with(|s| {
            let k = (table, *key);
            let backend = s.lookup(now, &k)?;
            if !s.touch(now, k) {
                let _ = s.insert(now, k, backend, lifetime);
            }
            Some(backend)
        })
    }

    /// Removes this unit's entry for `key` (a delete is queued for the
    /// partner); `false` if there was no live one. The partner's own entry
    /// for `key`, if any, is the partner's: it still answers lookups until
    /// it expires or the partner removes it; insert a decision to override it.
    pub fn remove(&self, now: Instant, table: TableId, key: &PersistKey) -> bool {
        self.with(|s| s.remove(now, (table, *key)))
    }

    /// Live local entries (at the latest `now` seen).
    pub fn len(&self) -> usize {
        self.with(|s| {
            let now = s.last_now;
            s.purge_local(now, None);
            s.local.len()
        })
    }

    /// No live local entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Live partner entries (at the latest `now` seen).
    pub fn partner_len(&self) -> usize {
        self.with(|s| {
            let now = s.last_now;
            s.purge_partner(now, None);
            s.partner_live()
        })
    }

    /// Up to `max` local changes not sent yet, oldest first, each with its
    /// current state (an entry changed twice is sent once; an entry
    /// inserted and removed is sent as a delete; one that expired before it
    /// was sent is not sent at all).
    pub fn take_changes(&self, now: Instant, max: usize) -> Vec<Change> {
        self.with(|s| s.take_changes(now, max))
    }

    /// Changes are waiting (a following [`take_changes`](Self::take_changes)
    /// may still return none if they expired meanwhile).
    pub fn has_changes(&self) -> bool {
        self.lock().pending() > 0
    }

    /// Every live local entry (a bulk), with remaining lifetimes, ordered by
    /// table and key.
    pub fn local_entries(&self, now: Instant) -> Vec<Persistence> {
        self.with(|s| s.local_entries(now))
    }

    /// Every live partner entry, with remaining lifetimes, ordered by table
    /// and key.
    pub fn partner_entries(&self, now: Instant) -> Vec<Persistence> {
        self.with(|s| s.partner_entries(now))
    }

    /// Applies a partner's change carried by frame `seq`: ignored if the
    /// entry was last changed by a later frame, or if `seq` is before the
    /// last swept bulk. An upsert's entry expires `lifetime_ms` after `now`
    /// (the replicator adds its grace to `lifetime_ms` first); a delete is
    /// remembered for [`PARTNER_TOMBSTONE_HOLD`] against reordered older
    /// upserts.
    pub fn apply_partner(&self, now: Instant, seq: u64, change: Change) {
        self.with(|s| s.apply_partner(now, seq, change))
    }

    /// Ends a bulk: removes the partner entries last changed before frame
    /// `begin_seq`; returns how many. Changes from frames before
    /// `begin_seq` arriving later are ignored (the bulk superseded them).
    pub fn sweep_partner(&self, begin_seq: u64) -> usize {
        self.with(|s| s.sweep_partner(begin_seq))
    }

    /// Forgets every partner entry (the partner restarted with a new boot):
    /// sequence numbers start again.
    pub fn clear_partner(&self) {
        self.with(Inner::clear_partner)
    }

    /// Called (from the inserting thread, outside the table's lock) when a
    /// change is waiting and none was before: a driver wakes its loop with
    /// it. Called at once if changes are already waiting. Replaces the
    /// previous waker.
    pub fn set_waker(&self, waker: Box<dyn Fn() + Send + Sync>) {
        let waker: Waker = Arc::from(waker);
        let mut inner = self.lock();
        inner.waker = Some(waker.clone());
        let waiting = inner.pending() > 0;
        drop(inner);
        if waiting {
            waker();
        }
    }

    /// Whether local changes were lost since the last call (deletes beyond
    /// the queue's bound, with no replicator taking them): if so, the
    /// partner's copy can only be repaired by a bulk.
    pub fn take_changes_lost(&self) -> bool {
        std::mem::take(&mut self.lock().changes_lost)
    }

    /// Sizes and counters (at the latest `now` seen).
    pub fn stats(&self) -> PersistStats {
        self.with(Inner::stats)
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
