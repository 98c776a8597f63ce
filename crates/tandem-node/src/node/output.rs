//! What the Node asks of the host, in order, and the events it reports.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use serde_json::{json, Value};
use tandem_election::{Diagnostic, Reason, State};

use super::input::{ReplyTo, SocketId, WriteToken};
use super::plan::Plan;
use super::report;
use super::sync::SyncEvent;
use crate::config::NotifyConfig;
use crate::control::api::ControlReply;
use crate::hooks::HookEvent;
use crate::snapshot::NodeSnapshot;

/// One thing for the host to carry out. Outputs come in the order the
/// host must carry them out (an advert before the addresses it gives up
/// are removed, for example).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Output {
    /// Send an encoded advert on a raw protocol-112 socket.
    SendAdvert {
        /// The socket (from [`InstanceHost::socket`](super::InstanceHost)).
        socket: SocketId,
        /// Where to: the group, the broadcast address or a unicast peer.
        dst: IpAddr,
        /// The whole protocol-112 message, checksum (and HMAC) included.
        bytes: Vec<u8>,
    },
    /// Send link-layer frames (one round of a gratuitous ARP / unsolicited
    /// NA burst) out of an interface.
    SendFrames {
        /// The interface (the macvlan with the virtual MAC, or the parent).
        interface: String,
        /// Whole Ethernet frames.
        frames: Vec<Vec<u8>>,
    },
    /// Add virtual addresses.
    AddAddresses {
        /// The instance they belong to (for the host's messages).
        instance: String,
        /// The interface index.
        ifindex: u32,
        /// Addresses with their prefix lengths.
        addresses: Vec<(IpAddr, u8)>,
    },
    /// Remove virtual addresses.
    RemoveAddresses {
        /// The instance they belong to.
        instance: String,
        /// The interface index.
        ifindex: u32,
        /// Addresses with their prefix lengths.
        addresses: Vec<(IpAddr, u8)>,
    },
    /// Delete a link the host created for an instance (its macvlan).
    DeleteLink {
        /// The link's name.
        name: String,
    },
    /// Run an instance's notify hook (off the loop, in order per instance).
    RunHook {
        /// The hook.
        notify: NotifyConfig,
        /// The transition it is told about.
        event: Box<HookEvent>,
    },
    /// Run a health check's probe once, off the loop, within `timeout`
    /// ([`crate::checks::run`]); the result comes back as
    /// [`Input::CheckDone`](super::Input::CheckDone) with the same `name`.
    /// The Node asks for one run of a check at a time.
    RunCheck {
        /// The check's name.
        name: String,
        /// What to run.
        probe: Box<crate::checks::Probe>,
        /// How long the run may take.
        timeout: std::time::Duration,
    },
    /// Run the `[cloud]` provider hook (off the loop, one run at a time, in
    /// order), then hand back how it ended with
    /// [`Input::CloudHookDone`](super::Input::CloudHookDone) and `id`.
    RunCloudHook {
        /// The run's id.
        id: u64,
        /// The command, its environment and timeout.
        run: crate::hooks::CommandRun,
    },
    /// An event for the log, the event stream and an embedding appliance.
    Event(Event),
    /// The node's status, for the control socket, health port and metrics.
    PublishStatus(Box<NodeSnapshot>),
    /// The answer to a control request.
    Reply {
        /// Who asked.
        to: ReplyTo,
        /// The answer.
        reply: ControlReply,
    },
    /// Set up what `plan` starts on the host (interfaces, virtual MACs,
    /// sockets), then hand the result back with
    /// [`Input::SetUp`](super::Input::SetUp).
    SetUp(Box<Plan>),
    /// Every instance has stopped: the loop ends.
    Stopped,
    /// Write a file atomically: a temporary in the same directory, fsync,
    /// rename over `path`, fsync the directory; then answer with
    /// [`Input::Written`](super::Input::Written) and `token`. A failure
    /// leaves `path` as it was.
    WriteFile {
        /// The file.
        path: PathBuf,
        /// Its new text.
        text: String,
        /// Mode 0600 and the directory made if missing (the sync state
        /// file); otherwise the file keeps its mode (the configuration).
        private: bool,
        /// For the answer.
        token: WriteToken,
    },
    /// Read the configuration file at `path` (size-limited, a regular
    /// file; with `[sync]`, its key file and the sync state file too) and
    /// hand it back with [`Input::ConfigureFile`](super::Input::ConfigureFile)
    /// (`reply`, `wait_partner: true`); `config apply`.
    ReadConfig {
        /// The file.
        path: PathBuf,
        /// Who asked.
        reply: ReplyTo,
    },
    /// Configuration sync: listen on `listen` for the partner (replacing
    /// any earlier listener). One connection at a time: one accepted while
    /// another is open is closed at once.
    SyncListen {
        /// Address and port.
        listen: SocketAddr,
    },
    /// Configuration sync: dial the partner while no connection is open
    /// (backoff from 100 ms doubling to 5 s, forever), or stop dialing
    /// (`None`) and only accept.
    SyncDial {
        /// The partner's address and port.
        peer: Option<SocketAddr>,
    },
    /// Configuration sync: write these bytes to the connection, in order.
    SyncTransmit {
        /// The bytes.
        bytes: Vec<u8>,
    },
    /// Configuration sync: close the connection (no
    /// [`Input::SyncClosed`](super::Input::SyncClosed) follows for it).
    SyncClose {
        /// Why, for the log.
        reason: String,
    },
    /// Configuration sync: the open connection's partner authenticated
    /// (its HELLO came through the Noise channel). Until then a newly
    /// accepted connection replaces it, so a host that only connects
    /// cannot hold the one connection slot.
    SyncAuthenticated,
    /// Configuration sync stops: no listener, no dialing, no connection.
    SyncStop,
    /// Replication: open the link of these settings (replacing any open
    /// one): bind the UDP socket (TTL 255), read the key files, draw a boot
    /// id; with `conntrack`, follow the connection-tracking table's events
    /// and read it whole (again every `refresh`, and whenever events were
    /// lost). The answer is [`Input::ReplicationOpened`](super::Input::ReplicationOpened),
    /// then [`Input::ConntrackTable`](super::Input::ConntrackTable) and
    /// [`Input::ConntrackEvents`](super::Input::ConntrackEvents).
    ReplicationOpen {
        /// The settings.
        settings: Box<crate::config::ReplicationConfig>,
    },
    /// Replication: send this datagram to the partner (or group).
    ReplicationSend {
        /// The datagram.
        bytes: Vec<u8>,
    },
    /// Replication stops: socket closed, table no longer followed.
    ReplicationStop,
    /// Put these entries into the connection-tracking table now (an
    /// existing entry is updated), before the outputs that follow (the
    /// virtual addresses of a takeover); the answer is
    /// [`Input::ConntrackInstalled`](super::Input::ConntrackInstalled).
    ConntrackInstall {
        /// The entries.
        entries: Vec<crate::conntrack::Entry>,
    },
}

/// How much an event matters, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Routine: a state change, a reload.
    Info,
    /// Something an operator should look at.
    Warn,
    /// Something failed.
    Error,
}

impl Level {
    /// The stable name.
    pub const fn name(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

/// An event with the wall-clock time it happened at.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Seconds since the Unix epoch.
    pub at_unix: f64,
    /// What happened.
    pub kind: EventKind,
}

/// What happened. Each variant has a stable [`name`](EventKind::name).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum EventKind {
    /// An instance changed state.
    State {
        /// The instance.
        instance: String,
        /// Its VRID (CARP: VHID).
        vrid: u8,
        /// Its sync group.
        group: Option<String>,
        /// The state left.
        from: State,
        /// The state entered.
        to: State,
        /// Why.
        reason: Reason,
    },
    /// The election reported something about an instance.
    Diagnostic {
        /// The instance.
        instance: String,
        /// Its VRID.
        vrid: u8,
        /// What.
        diagnostic: Diagnostic,
        /// How many like it were not reported since the last one shown.
        suppressed: u64,
    },
    /// A protocol-112 packet that does not decode was dropped.
    Dropped {
        /// The interface it came in on.
        interface: String,
        /// Its sender.
        src: IpAddr,
        /// The counter it went to (`checksum`, `length`, ...).
        kind: &'static str,
        /// The decoder's words.
        error: String,
        /// How many like it were not reported since the last one shown.
        suppressed: u64,
    },
    /// A well-formed advert for a VRID (and protocol) no instance runs on
    /// that interface.
    UnknownVrid {
        /// The interface.
        interface: String,
        /// Its sender.
        src: IpAddr,
        /// The VRID.
        vrid: u8,
        /// How many like it were not reported since the last one shown.
        suppressed: u64,
    },
    /// Repeats of a rate-limited event that were counted, not reported, in
    /// the last window.
    Suppressed {
        /// The event's name.
        event: &'static str,
        /// What the repeats were about (`instance=web kind=auth`).
        about: String,
        /// How many.
        count: u64,
    },
    /// The instances were set up and started (the first configuration).
    Started {
        /// Their names.
        instances: Vec<String>,
    },
    /// A new configuration was applied.
    Reloaded {
        /// Instances stopped (removed or changed).
        stopped: Vec<String>,
        /// Instances started (added or changed).
        started: Vec<String>,
        /// Units (sync groups, lone instances) left running untouched.
        unchanged: usize,
    },
    /// A new configuration was not applied; nothing changed.
    ReloadFailed {
        /// Why.
        error: String,
    },
    /// Every instance stopped.
    Stopped,
    /// Configuration sync (its own stable names: `sync_state`, ...).
    Sync(SyncEvent),
    /// Connection-table and persistence replication (`replication_*`).
    Replication(super::replication::ReplicationEvent),
    /// The `[cloud]` provider hook (`cloud_*`).
    Cloud(super::cloud::CloudEvent),
    /// A health check went up or down (`check`).
    Check(super::checks::CheckEvent),
}

impl EventKind {
    /// The stable name of the event (`"event"` in the stream).
    pub const fn name(&self) -> &'static str {
        match self {
            EventKind::State { .. } => "state",
            EventKind::Diagnostic { .. } => "diagnostic",
            EventKind::Dropped { .. } => "dropped",
            EventKind::UnknownVrid { .. } => "unknown_vrid",
            EventKind::Suppressed { .. } => "suppressed",
            EventKind::Started { .. } => "started",
            EventKind::Reloaded { .. } => "reloaded",
            EventKind::ReloadFailed { .. } => "reload_failed",
            EventKind::Stopped => "stopped",
            EventKind::Sync(e) => e.name(),
            EventKind::Replication(e) => e.name(),
            EventKind::Cloud(e) => e.name(),
            EventKind::Check(e) => e.name(),
        }
    }

    /// How much it matters.
    pub fn level(&self) -> Level {
        match self {
            EventKind::State { to, .. } if *to == State::Fault => Level::Warn,
            EventKind::Diagnostic { diagnostic, .. } => report::diagnostic_level(diagnostic),
            EventKind::Dropped { .. } | EventKind::UnknownVrid { .. } => Level::Warn,
            EventKind::Suppressed { .. } => Level::Warn,
            EventKind::ReloadFailed { .. } => Level::Error,
            EventKind::Sync(e) => e.level(),
            EventKind::Replication(e) => e.level(),
            EventKind::Cloud(e) => e.level(),
            EventKind::Check(e) => e.level(),
            _ => Level::Info,
        }
    }
}

impl Event {
    /// The event as one JSON object, as `tandemd events` prints it
    /// (docs/control.md lists every field).
    pub fn to_json(&self) -> Value {
        let mut v = match &self.kind {
            EventKind::State {
                instance,
                vrid,
                group,
                from,
                to,
                reason,
            } => json!({
                "instance": instance, "vrid": vrid, "group": group,
                "from": from.name(), "to": to.name(),
                "reason": reason.to_string(), "reason_name": reason.name(),
            }),
            EventKind::Diagnostic {
                instance,
                vrid,
                diagnostic,
                suppressed,
            } => json!({
                "instance": instance, "vrid": vrid,
                "kind": report::diagnostic_kind(diagnostic),
                "message": report::explain(diagnostic), "suppressed": suppressed,
            }),
            EventKind::Dropped {
                interface,
                src,
                kind,
                error,
                suppressed,
            } => json!({
                "interface": interface, "src": src, "kind": kind,
                "message": error, "suppressed": suppressed,
            }),
            EventKind::UnknownVrid {
                interface,
                src,
                vrid,
                suppressed,
            } => json!({
                "interface": interface, "src": src, "vrid": vrid, "suppressed": suppressed,
            }),
            EventKind::Suppressed {
                event,
                about,
                count,
            } => json!({"of": event, "about": about, "count": count}),
            EventKind::Started { instances } => json!({ "instances": instances }),
            EventKind::Reloaded {
                stopped,
                started,
                unchanged,
            } => json!({"stopped": stopped, "started": started, "unchanged": unchanged}),
            EventKind::ReloadFailed { error } => json!({ "message": error }),
            EventKind::Stopped => json!({}),
            EventKind::Sync(e) => e.to_json(),
            EventKind::Replication(e) => e.to_json(),
            EventKind::Cloud(e) => e.to_json(),
            EventKind::Check(e) => e.to_json(),
        };
        if let Value::Object(m) = &mut v {
            m.insert("at_unix".into(), json!(self.at_unix));
            m.insert("event".into(), json!(self.kind.name()));
        }
        v
    }
}

impl fmt::Display for EventKind {
    /// The log line: stable `key=value` fields, then words.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let more = |f: &mut fmt::Formatter<'_>, n: u64| {
            if n > 0 {
                write!(f, " (and {n} like it not shown)")
            } else {
                Ok(())
            }
        };
        match self {
            EventKind::State {
                instance,
                vrid,
                from,
                to,
                reason,
                ..
            } => write!(
                f,
                "instance={instance} vrid={vrid} state {} -> {} reason={reason}",
                from.name(),
                to.name()
            ),
            EventKind::Diagnostic {
                instance,
                diagnostic,
                suppressed,
                ..
            } => {
                write!(
                    f,
                    "instance={instance} kind={} {}",
                    report::diagnostic_kind(diagnostic),
                    report::explain(diagnostic)
                )?;
                more(f, *suppressed)
            }
            EventKind::Dropped {
                interface,
                src,
                kind,
                error,
                suppressed,
            } => {
                write!(
                    f,
                    "interface={interface} kind={kind} dropped advert from {src}: {error}"
                )?;
                more(f, *suppressed)
            }
            EventKind::UnknownVrid {
                interface,
                src,
                vrid,
                suppressed,
            } => {
                write!(
                    f,
                    "interface={interface} vrid={vrid} advert from {src} for a VRID no instance runs here"
                )?;
                more(f, *suppressed)
            }
            EventKind::Suppressed {
                event,
                about,
                count,
            } => write!(
                f,
                "{about}: {count} more {event} events like the last one in the last second, counted, not shown"
            ),
            EventKind::Started { instances } => write!(f, "started [{}]", instances.join(", ")),
            EventKind::Reloaded {
                stopped,
                started,
                unchanged,
            } => crate::control::api::reloaded(f, stopped, started, *unchanged),
            EventKind::ReloadFailed { error } => write!(f, "configuration unchanged: {error}"),
            EventKind::Stopped => f.write_str("stopped"),
            EventKind::Sync(e) => e.fmt(f),
            EventKind::Replication(e) => e.fmt(f),
            EventKind::Cloud(e) => e.fmt(f),
            EventKind::Check(e) => e.fmt(f),
        }
    }
}
