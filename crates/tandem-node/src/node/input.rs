//! What the host hands the Node, each stamped with its arrival time.

use std::net::IpAddr;
use std::path::PathBuf;

use tandem_election::Instant;

use super::plan::{Plan, SetUpError};
use super::InstanceHost;
use crate::config::DaemonConfig;
use crate::control::api::ControlRequest;

/// A raw protocol-112 socket of the host, by index.
pub type SocketId = usize;

/// Who asked a control request, for the [`Output::Reply`](super::Output::Reply).
pub type ReplyTo = u64;

/// The state a health check reports for a tracked object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackState {
    /// Healthy.
    Up,
    /// Failed: the instances tracking it lower their priority by the
    /// configured weight, or go to Fault.
    Down,
    /// Degraded by this much: the instances tracking it lower their
    /// priority (CARP: raise the demotion) by this weight instead of the
    /// configured one; 0 is [`TrackState::Up`]; a track configured to cause
    /// Fault goes to Fault for any weight above 0.
    Weight(u8),
}

/// One input. `at` is when it arrived (the host's one clock).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Input {
    /// A protocol-112 packet from a raw socket.
    Advert {
        /// Arrival.
        at: Instant,
        /// The socket it came in on.
        socket: SocketId,
        /// IP source.
        src: IpAddr,
        /// IP destination.
        dst: IpAddr,
        /// TTL (IPv4) or hop limit (IPv6).
        ttl: u8,
        /// The protocol-112 message (after the IP header).
        bytes: Vec<u8>,
    },
    /// An interface's link went up or down.
    Link {
        /// Arrival.
        at: Instant,
        /// The interface.
        name: String,
        /// Up.
        up: bool,
    },
    /// A health check of the embedding appliance (or tandemd's) reports a
    /// tracked object.
    Track {
        /// Arrival.
        at: Instant,
        /// The tracked object's name (`track = [...]` in the configuration).
        name: String,
        /// Its state.
        state: TrackState,
    },
    /// The result of a probe the Node asked for with
    /// [`Output::RunCheck`](super::Output::RunCheck).
    CheckDone {
        /// When the run ended.
        at: Instant,
        /// The check's name (`[[check]] name`).
        name: String,
        /// What the run found.
        result: crate::checks::ProbeResult,
    },
    /// A control request; the answer comes as an
    /// [`Output::Reply`](super::Output::Reply) to `reply`.
    Control {
        /// Arrival.
        at: Instant,
        /// The request.
        request: ControlRequest,
        /// Who asked.
        reply: ReplyTo,
    },
    /// A new configuration (SIGHUP, `reconfigure`, or the first one). The
    /// Node plans it and asks the host to set up what starts
    /// ([`Output::SetUp`](super::Output::SetUp)); `reply`, if any, gets
    /// the outcome.
    Configure {
        /// Arrival.
        at: Instant,
        /// The configuration.
        config: Box<DaemonConfig>,
        /// Who asked, if anyone waits for the answer.
        reply: Option<ReplyTo>,
    },
    /// The host's answer to [`Output::SetUp`](super::Output::SetUp): what it
    /// set up for each instance the plan starts (in the order of
    /// [`Plan::starting`]), and which tracked links are down now; or why it
    /// could not.
    SetUp {
        /// Arrival.
        at: Instant,
        /// The plan.
        plan: Box<Plan>,
        /// Per instance started, or the reason none can start.
        result: Result<SetUpDone, SetUpError>,
    },
    /// Stop gracefully: priority 0 (CARP: the going-down advert), addresses
    /// removed, hooks of the last transitions, then
    /// [`Output::Stopped`](super::Output::Stopped).
    Shutdown {
        /// Arrival.
        at: Instant,
    },
    /// A run of the `[cloud]` provider hook
    /// ([`Output::RunCloudHook`](super::Output::RunCloudHook)) ended.
    CloudHookDone {
        /// Arrival.
        at: Instant,
        /// The run's id.
        id: u64,
        /// How it ended.
        result: crate::hooks::RunResult,
        /// How long it ran.
        elapsed: std::time::Duration,
    },
    /// A configuration read from its file, with the file's text: the first
    /// configuration of `tandemd run --config`, SIGHUP, and `config apply`
    /// (after [`Output::ReadConfig`](super::Output::ReadConfig)). It takes
    /// the path of [`Input::Configure`]; the text is what configuration
    /// sync reads the shared document from and writes the partner's
    /// changes into. `Err` is why the host could not read or parse it:
    /// nothing changes (a `reload_failed` event, and the reply refused).
    ConfigureFile {
        /// Arrival.
        at: Instant,
        /// The file, or why it could not be read.
        file: Result<Box<ConfigFile>, String>,
        /// Who asked, if anyone waits for the answer.
        reply: Option<ReplyTo>,
        /// `config apply`: with `[sync]`, the answer waits for the
        /// partner's ACK or REJECT (at most [`super::sync::PARTNER_WAIT`]).
        wait_partner: bool,
    },
    /// The host's answer to [`Output::WriteFile`](super::Output::WriteFile).
    Written {
        /// Arrival.
        at: Instant,
        /// The write's token.
        token: WriteToken,
        /// `Err`: why the file could not be written (it is unchanged).
        result: Result<(), String>,
    },
    /// The configuration-sync TCP connection is open (one at a time: the
    /// host closes any other at once).
    SyncConnected {
        /// Arrival.
        at: Instant,
        /// Which end this unit is.
        side: SyncSide,
    },
    /// Bytes read from the configuration-sync connection.
    SyncReceived {
        /// Arrival.
        at: Instant,
        /// At most 64 KiB.
        bytes: Vec<u8>,
    },
    /// The configuration-sync connection closed (the partner, a timeout,
    /// an error, a full write queue).
    SyncClosed {
        /// Arrival.
        at: Instant,
        /// Why, in words.
        reason: String,
    },
    /// The answer to [`Output::ReplicationOpen`](super::Output::ReplicationOpen).
    ReplicationOpened {
        /// Arrival.
        at: Instant,
        /// The link, or why it could not be opened.
        result: Result<ReplicationLink, String>,
    },
    /// A datagram from the replication link (from the partner's address,
    /// or any address for a multicast group).
    ReplicationReceived {
        /// Arrival.
        at: Instant,
        /// TTL (IPv4) or hop limit (IPv6).
        ttl: u8,
        /// The UDP payload.
        bytes: Vec<u8>,
    },
    /// The whole connection-tracking table as read now: what the Node
    /// holds and this lacks has ended.
    ConntrackTable {
        /// Arrival.
        at: Instant,
        /// Every entry.
        entries: Vec<crate::conntrack::Entry>,
    },
    /// Changes of the connection-tracking table, in order.
    ConntrackEvents {
        /// Arrival.
        at: Instant,
        /// The changes.
        events: Vec<crate::conntrack::Event>,
    },
    /// The answer to [`Output::ConntrackInstall`](super::Output::ConntrackInstall).
    ConntrackInstalled {
        /// Arrival.
        at: Instant,
        /// Entries installed.
        installed: usize,
        /// Entries refused, and the first refusal in words.
        failed: usize,
        /// The first refusal.
        error: Option<String>,
    },
}

/// What the host opened for [`Output::ReplicationOpen`](super::Output::ReplicationOpen).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicationLink {
    /// The key file's text (none for the conntrackd formats without one).
    pub key: Option<String>,
    /// The next key file's text, if configured.
    pub next_key: Option<String>,
    /// A fresh random boot id (never 0).
    pub boot: u64,
}

/// Which end of the configuration-sync TCP connection a unit is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncSide {
    /// It connected out.
    Initiator,
    /// It accepted.
    Responder,
}

/// Names one [`Output::WriteFile`](super::Output::WriteFile), for its
/// [`Input::Written`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WriteToken(pub u64);

/// A configuration file as the host read it (see [`Input::ConfigureFile`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigFile {
    /// The running configuration file: where changes (the partner's,
    /// `config set`'s, `config apply`'s) are written.
    pub path: PathBuf,
    /// The configuration's text.
    pub text: String,
    /// The text, parsed and checked.
    pub config: DaemonConfig,
    /// The text is not in `path` yet (`config apply` of another file): the
    /// Node writes it there before it applies it.
    pub write: bool,
    /// With `[sync]`: the key file's text, or why it could not be read.
    pub sync_key: Option<Result<String, String>>,
    /// The sync state file's text (`None`: there is none yet), or why it
    /// could not be read. See [`super::sync::state_path`].
    pub sync_state: Result<Option<String>, String>,
}

/// What the host set up for a plan.
#[derive(Debug, Clone, PartialEq)]
pub struct SetUpDone {
    /// One per instance of [`Plan::starting`], in that order.
    pub hosts: Vec<InstanceHost>,
    /// Interfaces (own or tracked) of those instances that are down now.
    pub links_down: Vec<String>,
}

impl Input {
    /// When it arrived.
    pub fn at(&self) -> Instant {
        match self {
            Input::Advert { at, .. }
            | Input::Link { at, .. }
            | Input::Track { at, .. }
            | Input::CheckDone { at, .. }
            | Input::Control { at, .. }
            | Input::Configure { at, .. }
            | Input::SetUp { at, .. }
            | Input::ConfigureFile { at, .. }
            | Input::Written { at, .. }
            | Input::SyncConnected { at, .. }
            | Input::SyncReceived { at, .. }
            | Input::SyncClosed { at, .. }
            | Input::ReplicationOpened { at, .. }
            | Input::ReplicationReceived { at, .. }
            | Input::ConntrackTable { at, .. }
            | Input::ConntrackEvents { at, .. }
            | Input::ConntrackInstalled { at, .. }
            | Input::CloudHookDone { at, .. }
            | Input::Shutdown { at } => *at,
        }
    }
}
