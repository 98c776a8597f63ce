//! The sans-IO replicator of one unit: the sender of its own stream (its
//! table, when Active) and the receiver of the partner's (the mirror).
//!
//! Datagrams in ([`Replicator::handle_datagram`]), table changes in
//! ([`Replicator::upsert_flow`], [`Replicator::remove_flow`], the
//! [`PersistenceTable`]), time in ([`Replicator::handle_timeout`]);
//! datagrams and events out ([`Replicator::poll_output`]), and the one
//! deadline ([`Replicator::poll_timeout`]).

use std::collections::VecDeque;
use std::time::Duration;

use tandem_time::Instant;

use crate::flow::{Flow, FlowKey};
use crate::persist::{Persistence, PersistenceTable};
use crate::seal::{KeyRing, OpenError};
use crate::table::mirror::Mirror;
use crate::table::{FlowHasher, Upserted};
use crate::wire::DecodeError;

mod bulk;
mod recv;
mod ring;
mod send;
mod verify;
mod window;

pub use window::RECV_WINDOW;

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
    /// Frames remembered for repair (their manifests); at least
    /// 4 × [`ACK_EVERY`].
    pub ring_frames: usize,
    /// Added to a mirrored entry's lifetime before it expires; a local
    /// flow not refreshed (upserted) within its lifetime plus this is
    /// removed.
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
    /// A stream id this unit does not run (it runs stream 0).
    #[error("stream {stream} is not run by this unit (it runs stream 0): the partner is configured with more streams")]
    UnknownStream {
        /// The stream id.
        stream: u8,
    },
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
    /// Bulks of the partner's stream ended here (swept, digest checked).
    pub bulks_received: u64,
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
    /// Frames that left the repair ring unacknowledged (each escalates
    /// to a full resync of our stream).
    pub ring_overflows: u64,
    /// Mirror entries removed by a bulk's mark-and-sweep.
    pub swept: u64,
    /// Mirror entries dropped at the end of their lifetime.
    pub expired: u64,
    /// Local flows dropped `lifetime_grace` after the end of their
    /// lifetime (not refreshed by an upsert; their delete is sent).
    pub expired_local: u64,
    /// ACK records sent.
    pub acks_sent: u64,
    /// NACK records sent (one per missing range).
    pub nacks_sent: u64,
    /// Bulk entries sent.
    pub bulk_entries_sent: u64,
    /// Frames of the partner received beyond the receive window (dropped;
    /// the sender repairs them).
    pub beyond_window: u64,
}

/// The replicator's state, for status and metrics.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Status {
    /// Our stream is live (Active).
    pub active: bool,
    /// The mirror is in sync with the partner's stream.
    pub in_sync: bool,
    /// The partner is heard: an authenticated frame of its bound boot
    /// within 3 × `heartbeat` of the last input (every unit sends at
    /// least a heartbeat that often).
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
    /// The partner reports its mirror of our stream in sync (the IN_SYNC
    /// flag of its frames).
    pub partner_in_sync: bool,
    /// The partner has bound our boot id (we may stream to it).
    pub partner_bound: bool,
    /// Why the mirror is not in sync (`None` when it is): `no_partner`,
    /// `bulk_pending` (no full bulk since the partner's boot was bound),
    /// `gap` (a NACKed hole is open), `digest` (a shard differs),
    /// `resync` (a bulk is asked or under way), `unverified` (some shard
    /// not yet compared equal).
    pub out_of_sync: Option<&'static str>,
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

/// HELLO period.
pub const HELLO_INTERVAL: Duration = Duration::from_secs(1);
/// How long a hole may stay open before it is NACKed (reordering).
pub const REORDER_GRACE: Duration = Duration::from_millis(2);
/// ACK at the latest after this many frames that need one.
pub const ACK_EVERY: u32 = 32;
/// A resync asked and not under way is asked again after this long.
pub const RESYNC_RETRY: Duration = Duration::from_secs(1);

/// One unit's replicator.
#[derive(Debug)]
pub struct Replicator {
    pub(crate) cfg: Config,
    pub(crate) boot: u64,
    pub(crate) now: Instant,
    pub(crate) active: bool,
    pub(crate) hasher: FlowHasher,
    pub(crate) out: VecDeque<Output>,
    pub(crate) counters: Counters,
    pub(crate) tx: send::Tx,
    pub(crate) rx: recv::Rx,
    /// When the next HELLO goes.
    pub(crate) hello_at: Instant,
    /// pump() stopped at its frame budget: call again at once.
    pub(crate) again: bool,
}

/// Most outputs queued (events beyond it are dropped; datagrams are
/// bounded by the pump's frame budget).
const MAX_OUTPUTS: usize = 1 << 16;

impl Replicator {
    /// A replicator with a fresh random `boot` id (the driver's random
    /// source: nothing here reads one).
    pub fn new(config: Config, boot: u64, now: Instant) -> Replicator {
        let hasher = FlowHasher::new(config.keys.digest_key());
        let tx = send::Tx::new(&config, now);
        let rx = recv::Rx::new(&config, boot, &hasher);
        Replicator {
            cfg: config,
            boot,
            now,
            active: false,
            hasher,
            out: VecDeque::new(),
            counters: Counters::default(),
            tx,
            rx,
            hello_at: now,
            again: false,
        }
    }

    pub(crate) fn tick(&mut self, now: Instant) {
        self.now = self.now.max(now);
    }

    pub(crate) fn event(&mut self, e: Event) {
        if self.out.len() < MAX_OUTPUTS {
            self.out.push_back(Output::Event(e));
        }
    }

    /// This unit's boot id.
    pub fn boot(&self) -> u64 {
        self.boot
    }

    /// Becomes Active (streams its table) or Backup (mirrors the partner's).
    pub fn set_active(&mut self, now: Instant, active: bool) {
        self.tick(now);
        if self.active != active {
            self.active = active;
            self.hello_at = self.now;
            if active && self.tx.table.dirty_len() > 0 {
                self.tx
                    .flush_at
                    .get_or_insert(self.now + self.cfg.flush_budget);
            }
        }
        self.pump();
    }

    /// A flow of the local table was created or changed.
    pub fn upsert_flow(&mut self, now: Instant, flow: Flow) -> Result<(), FlowTableFull> {
        self.tick(now);
        match self.tx.table.upsert(self.now, flow, &self.hasher) {
            None => {
                self.counters.table_full += 1;
                Err(FlowTableFull {
                    capacity: self.tx.table.capacity(),
                })
            }
            Some(Upserted::Unchanged(_)) => Ok(()),
            Some(_) => {
                self.changed();
                Ok(())
            }
        }
    }

    /// A flow of the local table ended; `false` if it was not there.
    pub fn remove_flow(&mut self, now: Instant, key: &FlowKey) -> bool {
        self.tick(now);
        if self.tx.table.remove(key).is_none() {
            return false;
        }
        self.changed();
        true
    }

    fn changed(&mut self) {
        let now = self.now;
        let budget = self.cfg.flush_budget;
        self.tx.flush_at.get_or_insert(now + budget);
        if self.tx.table.dirty_len() * 24 >= self.max_payload() {
            self.pump();
        }
    }

    /// A datagram from the partner's address, with its TTL (hop limit).
    pub fn handle_datagram(&mut self, now: Instant, ttl: u8, datagram: &[u8]) {
        self.tick(now);
        self.receive(ttl, datagram);
        self.pump();
    }

    /// Time passed (early or repeated calls are harmless).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.tick(now);
        self.timers();
        self.pump();
    }

    /// When to call [`handle_timeout`](Self::handle_timeout) next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.again {
            return Some(self.now);
        }
        [Some(self.hello_at), self.tx_deadline(), self.rx_deadline()]
            .into_iter()
            .flatten()
            .min()
    }

    /// The next output.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// Asks the partner for a full resync of its stream.
    pub fn request_resync(&mut self, now: Instant) {
        self.tick(now);
        self.want(
            crate::wire::ShardRange {
                first: 0,
                last: crate::table::SHARDS as u16 - 1,
            },
            crate::wire::ResyncReason::Operator,
        );
        self.pump();
    }

    /// The local table's flows (each with its remaining lifetime as of the
    /// last input).
    pub fn local_flows(&self) -> Vec<Flow> {
        self.tx.table.flows(self.now)
    }

    /// The mirror's live flows, each with its remaining lifetime at `now`
    /// (what a takeover installs).
    pub fn mirror_flows(&self, now: Instant) -> Vec<Flow> {
        self.rx.mirror.flows(now.max(self.now))
    }

    /// The partner's live persistence entries.
    pub fn mirror_persistence(&self, now: Instant) -> Vec<Persistence> {
        self.cfg
            .persistence
            .as_ref()
            .map(|p| p.partner_entries(now.max(self.now)))
            .unwrap_or_default()
    }

    /// The mirror is in sync with the partner's stream ([`Status::in_sync`],
    /// without building the status).
    pub fn in_sync(&self) -> bool {
        self.rx.in_sync
    }

    /// Status and counters.
    pub fn status(&self) -> Status {
        Status {
            active: self.active,
            in_sync: self.rx.in_sync,
            partner_up: self
                .rx
                .last_heard
                .is_some_and(|t| self.now.saturating_since(t) <= self.cfg.heartbeat * 3),
            local_flows: self.tx.table.len(),
            mirror_flows: self.rx.mirror.len(),
            pending: self.tx.table.dirty_len()
                + self.tx.repairs.len()
                + self.tx.persist_pending.len(),
            bulk_sending: self.tx.bulk.is_some() || !self.tx.bulk_queue.is_empty(),
            bulk_receiving: self.rx.bulk_receiving,
            partner_in_sync: self.rx.partner_in_sync,
            partner_bound: self.tx.partner_bound,
            out_of_sync: self.sync_reason(),
            counters: self.counters,
        }
    }

    /// The digest of shards `first..=last` of our stream as sent, and of
    /// the mirror: equal when the partner's mirror of our stream and ours
    /// of the partner's match (tests, figures).
    pub fn digests(&self) -> (u64, u64) {
        let last = crate::table::SHARDS as u16 - 1;
        (
            self.tx.digests.range(0, last),
            self.rx
                .mirror
                .range_digest(crate::wire::ShardRange { first: 0, last }),
        )
    }

    /// The mirror (tests, figures).
    pub fn mirror(&self) -> &Mirror {
        &self.rx.mirror
    }

    /// Debugging: the receive window of the partner's stream
    /// (cumulative, highest) and our stream's floor and next sequence
    /// number.
    pub fn debug_sequences(&self) -> (u64, u64, u64, u64) {
        let (c, h) = self.rx.bound.as_ref().map_or((0, 0), |b| b.window());
        (c, h, self.tx.ring.floor(), self.tx.next_seq)
    }

    /// Fault injection for tests: changes a mirrored flow behind the
    /// protocol's back, as a bug or a memory fault would (the digests
    /// must find and repair it). `false` if the slot holds no flow.
    pub fn debug_tamper_mirror(&mut self, slot: u32, f: impl FnOnce(&mut Flow)) -> bool {
        let hasher = self.hasher.clone();
        self.rx.mirror.tamper(slot, &hasher, f)
    }

    /// Fault injection for tests: puts a flow in the mirror that the
    /// partner never sent (as if its delete had been lost and the slot
    /// never reused). `false` if the slot holds a flow.
    pub fn debug_plant_mirror(&mut self, slot: u32, gen: u8, flow: Flow) -> bool {
        let hasher = self.hasher.clone();
        self.rx
            .mirror
            .plant(self.now, crate::wire::Handle { slot, gen }, flow, &hasher)
    }

    pub(crate) fn max_payload(&self) -> usize {
        self.cfg
            .max_datagram
            .saturating_sub(crate::wire::HEADER_LEN + crate::wire::TAG_LEN)
            .clamp(64, usize::from(u16::MAX))
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
            Refusal::UnknownStream { .. } => "unknown_stream",
        }
    }
}
