//! # tandem-replication
//!
//! Connection-table and persistence replication for a Tandem HA pair,
//! sans-IO: the Active unit streams its L4 connection entries (tuples,
//! NAT, protocol state, remaining lifetime, real server) and L7
//! persistence entries (client key to real server) to the Backup in
//! compact, sequenced, encrypted UDP frames, so that sessions survive a
//! failover. docs/replication.md gives every byte.
//!
//! - [`flow`]: the replicated connection;
//! - [`persist`]: persistence keys, entries, and the appliance's
//!   [`PersistenceTable`](persist::PersistenceTable);
//! - [`wire`]: the frame: header, sections, records;
//! - [`seal`]: keys, per-frame AEAD, the replay window;
//! - [`session`]: the [`Replicator`](session::Replicator): sequencing,
//!   selective ACK and NACK, repair by current state, paced bulk resync
//!   with mark-and-sweep and digests, "in sync";
//! - [`table`]: the sender's slab of flows with its dirty queue, the
//!   receiver's mirror, the shard digests;
//! - [`sim`]: two replicators on virtual time through a seeded lossy link
//!   (the tests', the figures' and the benches' harness);
//! - [`conntrackd`]: conntrackd's own sync messages (FT-FW and NOTRACK),
//!   to pair with a conntrackd peer.
//!
//! Nothing here reads a clock, a socket or a file.

pub mod conntrackd;
pub mod flow;
pub mod persist;
pub mod seal;
pub mod session;
pub mod sim;
pub mod table;
pub mod wire;
