//! The sans-IO session: one per pair, across its TCP connections.
//!
//! The host opens TCP (both units dial and listen; the host keeps one
//! connection, see docs/config-sync.md) and calls [`Session::connect`],
//! feeds what it reads to [`Session::receive`], writes every
//! [`Output::Transmit`], closes on [`Output::Close`] and calls
//! [`Session::closed`] when TCP goes. A local edit is
//! [`Session::commit`]; a change from the partner comes out as
//! [`Output::Apply`], which the host validates, persists and applies, then
//! answers with [`Session::applied`]: only then does the partner get its
//! ACK (or, on failure, a REJECT with code and path). Time is injected:
//! [`Session::poll_timeout`] / [`Session::handle_timeout`].

mod api;
mod recv;
mod send;
mod snap;
mod stage;
#[cfg(test)]
mod tests;
mod walk;

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tandem_time::{Instant, TimerKey, TimerTable};

use crate::channel::{Channel, Key};
use crate::digest::{Digest, DigestTree};
use crate::doc::{Document, Object, ObjectKey, Op};
use crate::frame::{Hello, Mode, RejectCode, Role};
use crate::merge::{Clock, Conflict, Version};

/// A document's authority: a unit with the same epoch and a higher
/// generation has the newer document.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Authority {
    /// The lineage: 0 for a unit that was never paired or committed; set at
    /// random by the first commit, kept by every sync, and replaced by
    /// `sync force`.
    pub epoch: u64,
    /// Commits since the epoch began.
    pub generation: u64,
}

/// The session's settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// This unit's id (as `a`; `unit.<id>` values apply to it).
    pub unit: String,
    /// The cluster id both units share (bound into the handshake).
    pub cluster: String,
    /// The pre-shared key.
    pub key: Key,
    /// How the pair edits.
    pub mode: Mode,
    /// tandemd's version (HELLO).
    pub software: String,
    /// Schema version of the document.
    pub schema_version: u16,
    /// Keepalive (PING) period; default 1 s.
    pub keepalive: Duration,
    /// No frame for this long closes the connection; default 3.5 s.
    pub dead_after: Duration,
    /// Deltas kept for replay; default 256.
    pub ring_deltas: usize,
    /// Bytes of deltas kept for replay; default 1 MiB.
    pub ring_bytes: usize,
    /// Largest document accepted; default 64 MiB.
    pub max_document: u64,
    /// Random per start (HELLO's boot id); also seeds new epochs.
    pub boot: u64,
    /// Wall-clock milliseconds since the Unix epoch at [`Instant::ZERO`]
    /// (bidirectional mode's hybrid logical clock).
    pub unix_ms_at_zero: u64,
    /// A connection whose handshake and HELLO take longer is closed;
    /// default 2 s.
    pub handshake_timeout: Duration,
}

impl Config {
    /// Settings with the defaults above.
    pub fn new(unit: impl Into<String>, cluster: impl Into<String>, key: Key, mode: Mode) -> Self {
        Config {
            unit: unit.into(),
            cluster: cluster.into(),
            key,
            mode,
            software: env!("CARGO_PKG_VERSION").to_string(),
            schema_version: 1,
            keepalive: Duration::from_secs(1),
            dead_after: Duration::from_millis(3500),
            ring_deltas: 256,
            ring_bytes: 1 << 20,
            max_document: 64 << 20,
            boot: 0,
            unix_ms_at_zero: 0,
            handshake_timeout: Duration::from_secs(2),
        }
    }
}

/// Where the pair stands, as `sync status` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Connected, roots equal, nothing outstanding.
    InSync,
    /// A local commit waits for the partner's ACK.
    Pending {
        /// The generation sent.
        generation: u64,
    },
    /// A repair or snapshot is under way.
    Syncing,
    /// Roots differ and this unit cannot decide (different epochs):
    /// the differing sections.
    Diverged {
        /// Section names.
        sections: Vec<String>,
    },
    /// Bidirectional mode: objects whose concurrent edits conflicted
    /// since the last `sync status --clear` (the merge has resolved them).
    Conflict {
        /// Objects.
        objects: Vec<ObjectKey>,
    },
    /// Sync refuses to proceed: versions, mode, or a REJECT.
    Blocked {
        /// A sentence for the operator.
        reason: String,
    },
    /// No authenticated connection.
    Disconnected,
}

impl State {
    /// `in-sync`, `pending`, `syncing`, `diverged`, `conflict`, `blocked`,
    /// `disconnected`: the stable names of status, metrics and events.
    pub fn name(&self) -> &'static str {
        match self {
            State::InSync => "in-sync",
            State::Pending { .. } => "pending",
            State::Syncing => "syncing",
            State::Diverged { .. } => "diverged",
            State::Conflict { .. } => "conflict",
            State::Blocked { .. } => "blocked",
            State::Disconnected => "disconnected",
        }
    }
}

/// The receiver's refusal of a change (what [`Session::applied`] takes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Why.
    pub code: RejectCode,
    /// The path at fault.
    pub path: String,
    /// A sentence.
    pub text: String,
}

/// A change for the host to apply.
#[derive(Debug, Clone, PartialEq)]
pub struct Apply {
    /// Its id, for [`Session::applied`].
    pub id: u64,
    /// The new shared form, whole (shared with the session: the host
    /// should drop it once used, so the session's next change is made in
    /// place).
    pub document: Arc<Document>,
    /// The objects that changed.
    pub changed: Vec<ObjectKey>,
    /// The authority the unit takes when it is applied.
    pub authority: Authority,
}

/// What the session tells the host.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// The state changed.
    State(State),
    /// The partner said HELLO.
    Peer {
        /// Its unit id.
        unit: String,
        /// Its software version.
        software: String,
    },
    /// The partner applied up to this generation.
    Acked {
        /// Generation.
        generation: u64,
    },
    /// The partner refused a change.
    Rejected {
        /// The generation.
        generation: u64,
        /// Its refusal.
        refusal: Refusal,
    },
    /// Roots differ: where.
    Diverged {
        /// The differing objects.
        objects: Vec<ObjectKey>,
    },
    /// Bidirectional: concurrent edits; the merge kept one.
    Conflict(Conflict),
    /// The connection failed or the partner broke the protocol.
    Error {
        /// A sentence (the channel's or frame's error).
        text: String,
    },
}

/// What the host carries out, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Write these bytes to the TCP connection.
    Transmit(Vec<u8>),
    /// Close the TCP connection.
    Close {
        /// Why.
        reason: String,
    },
    /// Validate, persist and apply a change, then call [`Session::applied`].
    Apply(Apply),
    /// Tell the operator.
    Event(Event),
}

/// Why a local commit was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommitError {
    /// Active/standby mode: the Backup follows the Active.
    #[error("this unit is the Backup: edit the configuration on the Active (or use --local for a local setting)")]
    NotActive,
    /// A change from the partner is being applied.
    #[error("a change from the partner is being applied; retry")]
    Busy,
}

/// Counters and the last of everything, for `sync status`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    /// This unit's authority.
    pub local: Authority,
    /// Its root.
    pub local_root: Digest,
    /// The partner's unit id, once known.
    pub peer_unit: Option<String>,
    /// Its software version.
    pub peer_software: Option<String>,
    /// Its authority, as last heard.
    pub peer: Option<Authority>,
    /// Its root, as last heard.
    pub peer_root: Option<Digest>,
    /// When the roots last matched.
    pub last_success: Option<Instant>,
    /// The last error, as a sentence.
    pub last_error: Option<String>,
    /// Bytes written to TCP.
    pub bytes_sent: u64,
    /// Bytes read from TCP.
    pub bytes_received: u64,
    /// Bytes of frames that carry configuration (DELTA, SNAP_*, OBJECTS)
    /// sent, before encryption.
    pub config_bytes_sent: u64,
    /// Changes applied from the partner.
    pub applied: u64,
    /// Changes the partner refused.
    pub rejected: u64,
    /// Conflicts resolved (bidirectional).
    pub conflicts: u64,
}

/// One differing object, as `sync diff` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct DiffEntry {
    /// The object.
    pub key: ObjectKey,
    /// This unit's fields (`None`: absent here).
    pub local: Option<Object>,
    /// The partner's (`None`: absent there).
    pub peer: Option<Object>,
}

/// The session's timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Timer {
    /// Handshake and HELLO must finish.
    Handshake,
    /// Send a PING.
    Keepalive,
    /// Nothing heard for `dead_after`.
    Dead,
    /// A repair walk or a NACK answer is overdue: start again.
    Stall,
    /// The partner has not acknowledged the last change: ask again.
    AckWait,
}

impl TimerKey for Timer {
    const ALL: &'static [Timer] = &[
        Timer::Handshake,
        Timer::Keepalive,
        Timer::Dead,
        Timer::Stall,
        Timer::AckWait,
    ];
    fn index(self) -> usize {
        self as usize
    }
}

/// One delta kept for replay.
#[derive(Debug, Clone)]
struct RingEntry {
    epoch: u64,
    base_generation: u64,
    base_root: Digest,
    generation: u64,
    root: Digest,
    ops: Vec<Op>,
    bytes: usize,
}

/// A change waiting for the host's [`Session::applied`].
#[derive(Debug, Clone)]
struct Pending {
    id: u64,
    /// How to put the document back if the host refuses the change (the
    /// change is staged in the session's document meanwhile).
    undo: Undo,
    authority: Authority,
    /// Bidirectional: the versions the objects take.
    versions: Vec<(ObjectKey, Version)>,
    /// Conflicts to report once applied.
    conflicts: Vec<Conflict>,
}

/// What a staged change replaced.
#[derive(Debug, Clone)]
enum Undo {
    /// These objects had these values.
    Objects(Vec<(ObjectKey, Option<Object>)>),
    /// The whole document and its digests.
    Whole(Arc<Document>, Box<DigestTree>),
}

/// A snapshot being received.
#[derive(Debug)]
struct SnapIn {
    epoch: u64,
    generation: u64,
    len: u64,
    root: Digest,
    /// Decodes the chunks as they come: the document so far and at most
    /// one partial object, never the whole encoding.
    stream: crate::doc::DocStream,
    sha: sha2::Sha256,
    /// The first decoding error, answered with REJECT at SNAP_END.
    bad: Option<String>,
}

/// One TCP connection.
#[derive(Debug)]
struct Conn {
    channel: Channel,
    hello_sent: bool,
    peer: Option<Hello>,
    walk: Option<walk::Walk>,
    snap_in: Option<SnapIn>,
    /// Frames that arrived while a change was being applied.
    held: VecDeque<crate::frame::Frame>,
    /// Roots differed at the last PING (divergence is acted on at the
    /// second, so a change in flight is not mistaken for one).
    mismatch_seen: bool,
}

/// Why sync stands still, until the cause goes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Block {
    /// For the life of the connection: versions, mode, unit ids.
    Peer(String),
    /// Until the next change goes through: the partner refused one.
    Rejected(String),
}

/// The session. See the [module documentation](self).
#[derive(Debug)]
pub struct Session {
    cfg: Config,
    doc: Arc<Document>,
    tree: DigestTree,
    authority: Authority,
    role: Role,
    conn: Option<Conn>,
    out: VecDeque<Output>,
    timers: TimerTable<Timer, 5>,
    ring: VecDeque<RingEntry>,
    ring_bytes: usize,
    pending: Option<Pending>,
    next_apply: u64,
    awaiting: Option<u64>,
    status: Status,
    last_state: State,
    block: Option<Block>,
    /// A `sync force` not yet acknowledged: push a snapshot on connect.
    forcing: bool,
    versions: BTreeMap<ObjectKey, Version>,
    clock: Clock,
    diff: Vec<DiffEntry>,
    conflicts: Vec<ObjectKey>,
    now: Instant,
}

/// Frames held while a change is applied, at most.
const MAX_HELD: usize = 256;
/// Repair walks that may end with a root other than the partner's before
/// a snapshot is asked for.
const MAX_WALKS: u32 = 3;
