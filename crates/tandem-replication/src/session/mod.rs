//! The sans-IO replicator of one unit: the sender of its own stream (its
//! table, when Active) and the receiver of the partner's (the mirror).
//!
//! Datagrams in ([`Replicator::handle_datagram`]), table changes in
//! ([`Replicator::upsert_flow`], [`Replicator::remove_flow`], the
//! [`PersistenceTable`]), time in ([`Replicator::handle_timeout`]);
//! datagrams and events out ([`Replicator::poll_output`]), and the one
//! deadline ([`Replicator::poll_timeout`]).

use std::time::Duration;

use tandem_time::Instant;

use crate::flow::{Flow, FlowKey};
use crate::persist::{Persistence, PersistenceTable};
use crate::seal::{KeyRing, OpenError};
use crate::wire::DecodeError;

/// The replicator's settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// The pair's cluster id.
    pub cluster: u16,
    /// This unit's node id (the partner's differs).
    pub node: u8,
    /// Keys.
    pub keys: KeyRing,
    /// Largest datagram sent (UDP payload), bytes.
    pub max_datagram: usize,
    /// Longest a change waits before its frame is sent (the window in
    /// which a failover can lose a new flow).
    pub flush_budget: Duration,
    /// An idle sender's heartbeat period (bounds tail-loss detection).
    pub heartbeat: Duration,
    /// Longest a receiver waits before acknowledging.
    pub ack_delay: Duration,
    /// Period of a full sweep of shard digests.
    pub digest_interval: Duration,
    /// Bulk pacing, payload bytes per second.
    pub bulk_rate: u64,
    /// Frames remembered for repair (their manifests).
    pub ring_frames: usize,
    /// Added to a mirrored entry's lifetime before it expires.
    pub lifetime_grace: Duration,
    /// Most flows in the local table and in the mirror, each.
    pub max_flows: usize,
    /// The persistence table replicated, if any.
    pub persistence: Option<PersistenceTable>,
}

impl Config {
    /// Defaults: 1,400-byte datagrams, 5 ms flush budget, 100 ms
    /// heartbeat, 20 ms ACK delay, 1 s digest sweep, 25 MB/s bulk, 16,384
    /// frames of repair ring, 5 s grace, 4 M flows.
    pub fn new(cluster: u16, node: u8, keys: KeyRing) -> Config {
        Config {
            cluster,
            node,
            keys,
            max_datagram: 1400,
            flush_budget: Duration::from_millis(5),
            heartbeat: Duration::from_millis(100),
            ack_delay: Duration::from_millis(20),
            digest_interval: Duration::from_secs(1),
            bulk_rate: 25_000_000,
            ring_frames: 16_384,
            lifetime_grace: Duration::from_secs(5),
            max_flows: 4 << 20,
            persistence: None,
        }
    }
}

/// What the replicator asks of its driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send this datagram to the partner.
    Send(Vec<u8>),
    /// Something happened.
    Event(Event),
}

/// Events, each with a stable [`Event::name`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The partner's stream with a new boot id was bound (it started).
    PartnerStarted {
        /// Its node id.
        node: u8,
        /// Its boot id.
        boot: u64,
    },
    /// The mirror is in sync (every shard swept, digests equal, no gap).
    InSync,
    /// The mirror is no longer in sync.
    OutOfSync {
        /// Why.
        reason: &'static str,
    },
    /// A bulk of our stream to the partner ended.
    BulkSent {
        /// Entries sent.
        entries: u64,
    },
    /// A datagram was refused (counted; also rate-limited by the driver).
    Refused(Refusal),
}

/// Why a datagram was refused. It changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// TTL (hop limit) not 255: not from the link.
    #[error("TTL {ttl}, not 255: not sent from the sync link")]
    BadTtl {
        /// Received TTL.
        ttl: u8,
    },
    /// Could not be opened (malformed, another cluster, unknown key, forged).
    #[error(transparent)]
    Open(#[from] OpenError),
    /// Sealed by this unit's own node id.
    #[error("frame from this unit's own node id {node}: another unit is configured with the same node id")]
    OwnNode {
        /// The node id.
        node: u8,
    },
    /// Replayed, or older than the replay window.
    #[error("frame {seq} replayed or older than the replay window")]
    Replayed {
        /// Its sequence number.
        seq: u64,
    },
    /// A data frame of a boot id not bound by a HELLO answering our challenge.
    #[error("frame of boot id {boot:#018x} not bound by a HELLO answering this unit's challenge")]
    UnboundBoot {
        /// The boot id.
        boot: u64,
    },
    /// Malformed payload (after authentication).
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

/// Counters, all monotonic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counters {
    /// Frames sent.
    pub frames_sent: u64,
    /// Bytes sent (datagrams).
    pub bytes_sent: u64,
    /// Frames accepted.
    pub frames_received: u64,
    /// Records re-sent to repair loss.
    pub records_repaired: u64,
    /// Frames the partner reported missing (NACK or SACK gap).
    pub frames_lost: u64,
    /// Resyncs asked (of the partner).
    pub resyncs_requested: u64,
    /// Bulks sent.
    pub bulks_sent: u64,
    /// Shards whose digest differed.
    pub digest_mismatches: u64,
    /// Refused: bad TTL.
    pub refused_ttl: u64,
    /// Refused: authentication, key or cluster.
    pub refused_auth: u64,
    /// Refused: replayed or unbound boot.
    pub refused_replay: u64,
    /// Refused: malformed.
    pub refused_malformed: u64,
    /// Flows refused because the table or mirror was full.
    pub table_full: u64,
}

/// The replicator's state, for status and metrics.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Status {
    /// Our stream is live (Active).
    pub active: bool,
    /// The mirror is in sync with the partner's stream.
    pub in_sync: bool,
    /// The partner is heard (a frame within 3 heartbeats... see docs).
    pub partner_up: bool,
    /// Flows in the local table.
    pub local_flows: usize,
    /// Flows in the mirror.
    pub mirror_flows: usize,
    /// Changes waiting to be sent.
    pub pending: usize,
    /// A bulk of our stream is under way.
    pub bulk_sending: bool,
    /// A bulk of the partner's stream is being received.
    pub bulk_receiving: bool,
    /// Counters.
    pub counters: Counters,
}

/// A flow could not be added: the table is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("flow table full ({capacity} flows)")]
pub struct FlowTableFull {
    /// Capacity.
    pub capacity: usize,
}

/// One unit's replicator.
#[derive(Debug)]
pub struct Replicator {
    _config: Config,
}

impl Replicator {
    /// A replicator with a fresh random `boot` id (the driver's random
    /// source: nothing here reads one).
    pub fn new(config: Config, boot: u64, now: Instant) -> Replicator {
        let _ = (boot, now);
        Replicator { _config: config }
    }

    /// Becomes Active (streams its table) or Backup (mirrors the partner's).
    pub fn set_active(&mut self, now: Instant, active: bool) {
        let _ = (now, active);
        todo!("session: set_active")
    }

    /// A flow of the local table was created or changed.
    pub fn upsert_flow(&mut self, now: Instant, flow: Flow) -> Result<(), FlowTableFull> {
        let _ = (now, flow);
        todo!("session: upsert_flow")
    }

    /// A flow of the local table ended; `false` if it was not there.
    pub fn remove_flow(&mut self, now: Instant, key: &FlowKey) -> bool {
        let _ = (now, key);
        todo!("session: remove_flow")
    }

    /// A datagram from the partner's address, with its TTL (hop limit).
    pub fn handle_datagram(&mut self, now: Instant, ttl: u8, datagram: &[u8]) {
        let _ = (now, ttl, datagram);
        todo!("session: handle_datagram")
    }

    /// Time passed (early or repeated calls are harmless).
    pub fn handle_timeout(&mut self, now: Instant) {
        let _ = now;
        todo!("session: handle_timeout")
    }

    /// When to call [`handle_timeout`](Self::handle_timeout) next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        todo!("session: poll_timeout")
    }

    /// The next output.
    pub fn poll_output(&mut self) -> Option<Output> {
        todo!("session: poll_output")
    }

    /// Asks the partner for a full resync of its stream.
    pub fn request_resync(&mut self, now: Instant) {
        let _ = now;
        todo!("session: request_resync")
    }

    /// The local table's flows.
    pub fn local_flows(&self) -> Vec<Flow> {
        todo!("session: local_flows")
    }

    /// The mirror's live flows, each with its remaining lifetime at `now`
    /// (what a takeover installs).
    pub fn mirror_flows(&self, now: Instant) -> Vec<Flow> {
        let _ = now;
        todo!("session: mirror_flows")
    }

    /// The partner's live persistence entries.
    pub fn mirror_persistence(&self, now: Instant) -> Vec<Persistence> {
        let _ = now;
        todo!("session: mirror_persistence")
    }

    /// Status and counters.
    pub fn status(&self) -> Status {
        todo!("session: status")
    }
}

impl Event {
    /// The event's stable name.
    pub fn name(&self) -> &'static str {
        match self {
            Event::PartnerStarted { .. } => "partner_started",
            Event::InSync => "in_sync",
            Event::OutOfSync { .. } => "out_of_sync",
            Event::BulkSent { .. } => "bulk_sent",
            Event::Refused(_) => "refused",
        }
    }
}

impl Refusal {
    /// The refusal's stable name.
    pub fn name(&self) -> &'static str {
        match self {
            Refusal::BadTtl { .. } => "bad_ttl",
            Refusal::Open(OpenError::BadTag) => "bad_tag",
            Refusal::Open(OpenError::UnknownKey { .. }) => "unknown_key",
            Refusal::Open(OpenError::WrongCluster { .. }) => "wrong_cluster",
            Refusal::Open(_) => "malformed",
            Refusal::OwnNode { .. } => "own_node",
            Refusal::Replayed { .. } => "replayed",
            Refusal::UnboundBoot { .. } => "unbound_boot",
            Refusal::Decode(_) => "malformed",
        }
    }
}
