//! L7 persistence ("stickiness"): which real server a client is stuck to,
//! by source address or prefix, cookie, header value or TLS session id,
//! with a lifetime. An appliance keeps its decisions in a
//! [`PersistenceTable`]; the replicator streams the table's changes to the
//! partner, whose copy serves lookups the moment it becomes Active.
//!
//! Cookie, header and TLS-session keys are hashed with the cluster's
//! secret (SipHash-2-4, [`KeyHasher`]) before they are stored: the value
//! itself never leaves the box, and every key is fixed-size on the wire.

use std::net::IpAddr;

/// Which of the appliance's persistence tables (a service, a pool): up to
/// 256 per pair.
pub type TableId = u8;

/// What a client is recognised by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PersistKey {
    /// A source address, or the prefix it is in (`prefix` bits; 32 or 128
    /// for one address). The address is stored masked.
    Source {
        /// The address, masked to `prefix`.
        addr: IpAddr,
        /// Prefix length.
        prefix: u8,
    },
    /// A cookie value's keyed hash.
    Cookie(u64),
    /// A request header value's keyed hash.
    Header(u64),
    /// A TLS session id's (or ticket's) keyed hash.
    TlsSession(u64),
}

/// A persistence entry: a key stuck to a real server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Persistence {
    /// The table.
    pub table: TableId,
    /// The client's key.
    pub key: PersistKey,
    /// The real server.
    pub backend: u16,
    /// Remaining lifetime in milliseconds when read.
    pub lifetime_ms: u32,
}

/// The keyed hash of cookie, header and TLS-session values: SipHash-2-4
/// with a 128-bit key the pair shares (derived from the replication key,
/// see [`crate::seal::Keys::hash_key`]).
#[derive(Clone)]
pub struct KeyHasher {
    key: [u8; 16],
}

impl std::fmt::Debug for KeyHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyHasher(..)")
    }
}

impl KeyHasher {
    /// A hasher with this key.
    pub fn new(key: [u8; 16]) -> KeyHasher {
        KeyHasher { key }
    }

    /// The hash of a value (a cookie's, a header's, a session id).
    pub fn hash(&self, value: &[u8]) -> u64 {
        use std::hash::Hasher;
        let mut h = siphasher::sip::SipHasher24::new_with_key(&self.key);
        h.write(value);
        h.finish()
    }

    /// The key of a cookie value.
    pub fn cookie(&self, value: &[u8]) -> PersistKey {
        PersistKey::Cookie(self.hash(value))
    }

    /// The key of a header value.
    pub fn header(&self, value: &[u8]) -> PersistKey {
        PersistKey::Header(self.hash(value))
    }

    /// The key of a TLS session id.
    pub fn tls_session(&self, value: &[u8]) -> PersistKey {
        PersistKey::TlsSession(self.hash(value))
    }
}

impl PersistKey {
    /// A source key: `addr` masked to `prefix` bits (clamped to the
    /// family's length).
    pub fn source(addr: IpAddr, prefix: u8) -> PersistKey {
        match addr {
            IpAddr::V4(a) => {
                let p = prefix.min(32);
                let mask = if p == 0 {
                    0
                } else {
                    u32::MAX << (32 - u32::from(p))
                };
                PersistKey::Source {
                    addr: IpAddr::V4((u32::from(a) & mask).into()),
                    prefix: p,
                }
            }
            IpAddr::V6(a) => {
                let p = prefix.min(128);
                let mask = if p == 0 {
                    0
                } else {
                    u128::MAX << (128 - u32::from(p))
                };
                PersistKey::Source {
                    addr: IpAddr::V6((u128::from(a) & mask).into()),
                    prefix: p,
                }
            }
        }
    }
}

/// A change of the local table, for the replicator to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Change {
    /// Inserted or refreshed (the entry with its remaining lifetime).
    Upsert(Persistence),
    /// Removed.
    Delete {
        /// Table.
        table: TableId,
        /// Key.
        key: PersistKey,
    },
}

/// An appliance's persistence decisions and the partner's, shared between
/// the appliance's threads and the replicator (a cloneable handle).
///
/// - The appliance [`insert`](Self::insert)s a decision, [`touch`](Self::touch)es
///   it on use (sliding lifetime), [`lookup`](Self::lookup)s a client
///   (its own entries first, then the partner's), [`remove`](Self::remove)s.
/// - The replicator takes the local changes ([`take_changes`](Self::take_changes))
///   to send, and applies the partner's ([`apply_partner`](Self::apply_partner)),
///   each with the sequence number of its frame: an older change never
///   overwrites a newer one; [`sweep_partner`](Self::sweep_partner) ends a bulk.
/// - Time is the caller's: every call takes `now` on the driver's clock.
/// - Bounded: at most `capacity` local and `capacity` partner entries; an
///   insert beyond it is refused and counted.
#[derive(Clone)]
pub struct PersistenceTable {
    _private: std::sync::Arc<()>,
}

impl std::fmt::Debug for PersistenceTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PersistenceTable(..)")
    }
}

/// The table is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("persistence table full ({capacity} entries)")]
pub struct TableFull {
    /// Its capacity.
    pub capacity: usize,
}

impl PersistenceTable {
    /// An empty table of at most `capacity` entries each side, hashing
    /// cookies with `hasher`.
    pub fn new(hasher: KeyHasher, capacity: usize) -> PersistenceTable {
        let _ = (hasher, capacity);
        todo!("persist: new")
    }

    /// The hasher of cookie, header and TLS-session keys.
    pub fn hasher(&self) -> KeyHasher {
        todo!("persist: hasher")
    }

    /// Sticks `key` to `backend` for `lifetime` from `now`.
    pub fn insert(
        &self,
        now: tandem_time::Instant,
        table: TableId,
        key: PersistKey,
        backend: u16,
        lifetime: std::time::Duration,
    ) -> Result<(), TableFull> {
        let _ = (now, table, key, backend, lifetime);
        todo!("persist: insert")
    }

    /// The entry was used: its lifetime starts again from `now` (sent to
    /// the partner lazily, when the partner's copy would expire within
    /// half the lifetime).
    pub fn touch(&self, now: tandem_time::Instant, table: TableId, key: &PersistKey) -> bool {
        let _ = (now, table, key);
        todo!("persist: touch")
    }

    /// The real server of `key`: this unit's entry, else the partner's;
    /// `None` if neither or expired.
    pub fn lookup(
        &self,
        now: tandem_time::Instant,
        table: TableId,
        key: &PersistKey,
    ) -> Option<u16> {
        let _ = (now, table, key);
        todo!("persist: lookup")
    }

    /// Removes this unit's entry for `key`.
    pub fn remove(&self, now: tandem_time::Instant, table: TableId, key: &PersistKey) -> bool {
        let _ = (now, table, key);
        todo!("persist: remove")
    }

    /// Live local entries.
    pub fn len(&self) -> usize {
        todo!("persist: len")
    }

    /// No live local entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Live partner entries.
    pub fn partner_len(&self) -> usize {
        todo!("persist: partner_len")
    }

    /// Up to `max` local changes not sent yet, oldest first, each with its
    /// current state (an entry changed twice is sent once).
    pub fn take_changes(&self, now: tandem_time::Instant, max: usize) -> Vec<Change> {
        let _ = (now, max);
        todo!("persist: take_changes")
    }

    /// Changes are waiting.
    pub fn has_changes(&self) -> bool {
        todo!("persist: has_changes")
    }

    /// Every live local entry (a bulk), with remaining lifetimes.
    pub fn local_entries(&self, now: tandem_time::Instant) -> Vec<Persistence> {
        let _ = now;
        todo!("persist: local_entries")
    }

    /// Every live partner entry, with remaining lifetimes.
    pub fn partner_entries(&self, now: tandem_time::Instant) -> Vec<Persistence> {
        let _ = now;
        todo!("persist: partner_entries")
    }

    /// Applies a partner's change carried by frame `seq`: ignored if the
    /// entry was last changed by a later frame.
    pub fn apply_partner(&self, now: tandem_time::Instant, seq: u64, change: Change) {
        let _ = (now, seq, change);
        todo!("persist: apply_partner")
    }

    /// Ends a bulk: removes the partner entries last changed before frame
    /// `begin_seq`; returns how many.
    pub fn sweep_partner(&self, begin_seq: u64) -> usize {
        let _ = begin_seq;
        todo!("persist: sweep_partner")
    }

    /// Forgets every partner entry (the partner restarted with a new boot).
    pub fn clear_partner(&self) {
        todo!("persist: clear_partner")
    }

    /// Called (from the inserting thread) when a change is waiting and none
    /// was before: a driver wakes its loop with it.
    pub fn set_waker(&self, waker: Box<dyn Fn() + Send + Sync>) {
        let _ = waker;
        todo!("persist: set_waker")
    }
}
