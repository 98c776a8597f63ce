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
/// see [`crate::seal::KeyRing::hasher`]).
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

mod expiry;
mod state;
mod table;

pub use table::{PersistStats, PersistenceTable, TableFull, MAX_LIFETIME, PARTNER_TOMBSTONE_HOLD};
