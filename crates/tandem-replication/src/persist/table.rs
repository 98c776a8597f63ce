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

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tandem_time::Instant;

use super::state::{Inner, Waker};
use super::{Change, KeyHasher, PersistKey, Persistence, TableId};

/// The longest lifetime an entry keeps: the wire's `u32` milliseconds
/// (about 49.7 days). Longer lifetimes are clamped to it.
pub const MAX_LIFETIME: Duration = Duration::from_millis(u32::MAX as u64);

/// How long a partner's delete is remembered (as a tombstone) so that an
/// older, reordered insert of the same key is recognised and ignored.
pub const PARTNER_TOMBSTONE_HOLD: Duration = Duration::from_secs(60);

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
        self.with(Inner::local_len)
    }

    /// No live local entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Live partner entries (at the latest `now` seen).
    pub fn partner_len(&self) -> usize {
        self.with(Inner::partner_len)
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
