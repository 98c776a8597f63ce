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

use std::collections::BTreeSet;
use std::time::Duration;

use tandem_time::Instant;

use crate::channel::{ChannelError, Key, Side};
use crate::digest::Digest;
use crate::doc::{Document, Object, ObjectKey, Op};
use crate::frame::{Mode, RejectCode, Role};
use crate::merge::Conflict;

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
    /// Random per start (HELLO's boot id).
    pub boot: u64,
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
    /// The new shared form, whole.
    pub document: Document,
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

/// The session.
#[derive(Debug)]
pub struct Session {
    _private: (),
}

impl Session {
    /// A session over this unit's shared-form `document` at `authority`.
    pub fn new(config: Config, document: Document, authority: Authority) -> Self {
        let _ = (config, document, authority);
        todo!()
    }

    /// A TCP connection is open (it replaces any other).
    pub fn connect(&mut self, now: Instant, side: Side) -> Result<(), ChannelError> {
        let _ = (now, side);
        todo!()
    }

    /// Bytes read from TCP.
    pub fn receive(&mut self, now: Instant, bytes: &[u8]) {
        let _ = (now, bytes);
        todo!()
    }

    /// TCP closed.
    pub fn closed(&mut self, now: Instant) {
        let _ = now;
        todo!()
    }

    /// This unit's role changed (the election's view).
    pub fn set_role(&mut self, now: Instant, role: Role) {
        let _ = (now, role);
        todo!()
    }

    /// A local edit of the shared form, already validated and persisted by
    /// the host: the new document. Returns the authority it makes.
    pub fn commit(&mut self, now: Instant, document: Document) -> Result<Authority, CommitError> {
        let _ = (now, document);
        todo!()
    }

    /// The local edit as ops (see [`Session::commit`]).
    pub fn commit_ops(&mut self, now: Instant, ops: &[Op]) -> Result<Authority, CommitError> {
        let _ = (now, ops);
        todo!()
    }

    /// The host's answer to [`Output::Apply`].
    pub fn applied(&mut self, now: Instant, id: u64, result: Result<(), Refusal>) {
        let _ = (now, id, result);
        todo!()
    }

    /// `sync force`: this unit's document wins: a new epoch, and a snapshot
    /// to the partner. Returns the partner's objects it overwrites (as far
    /// as the last digest walk knows them).
    pub fn force(&mut self, now: Instant, wall_ms: u64) -> Vec<DiffEntry> {
        let _ = (now, wall_ms);
        todo!()
    }

    /// The state.
    pub fn state(&self) -> State {
        todo!()
    }

    /// Counters and last values.
    pub fn status(&self) -> Status {
        todo!()
    }

    /// The differing objects the last digest walk found.
    pub fn diff(&self) -> Vec<DiffEntry> {
        todo!()
    }

    /// This unit's shared-form document.
    pub fn document(&self) -> &Document {
        todo!()
    }

    /// Whether the election may preempt into this unit: in sync, or no
    /// partner to be in sync with.
    pub fn ready(&self) -> bool {
        todo!()
    }

    /// When to call [`Session::handle_timeout`].
    pub fn poll_timeout(&self) -> Option<Instant> {
        todo!()
    }

    /// Timers due.
    pub fn handle_timeout(&mut self, now: Instant) {
        let _ = now;
        todo!()
    }

    /// The next output.
    pub fn poll_output(&mut self) -> Option<Output> {
        todo!()
    }
}

#[allow(dead_code)]
type Sections = BTreeSet<String>;
