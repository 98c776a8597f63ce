//! The control API: what an operator (the control socket, `tandemd
//! status`) or an embedding appliance (`drive::NodeHandle`) asks the node,
//! and the node's typed answers. The loop and the socket server both name
//! these types; neither names the other.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::snapshot::{NodeSnapshot, SyncStatus};

/// A request to the node.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ControlRequest {
    /// The node snapshot.
    Status,
    /// Hand the Active role to the partner: every instance, or the one
    /// instance or sync group named.
    Failover {
        /// An instance or sync group name; `None` for all.
        target: Option<String>,
    },
    /// Maintenance mode of the node on or off.
    Maintenance {
        /// On.
        on: bool,
    },
    /// Clear the restart guard's pacified state.
    ClearPacified,
    /// Apply the configuration file at `path` (the running file, or
    /// another one, which is then written over the running file): the
    /// reload plan, and with `[sync]` a commit the partner applies. On the
    /// Active of a synced pair the answer waits for the partner's ACK or
    /// REJECT, at most 2 s; without `[sync]` it is a reconfigure.
    ConfigApply {
        /// The file; the host reads it (size-limited, a regular file).
        path: PathBuf,
    },
    /// One value of the running configuration file, by its path
    /// (`global.state_dir`, `instance.web.vrid`, `app.vs.web1.port`).
    ConfigGet {
        /// The path.
        key: String,
    },
    /// Set one value (TOML) in the running configuration file, then apply
    /// it as `config apply` does. The Backup of an active-standby pair
    /// refuses unless `local`; `local` accepts only local settings (never
    /// synced), and such a change is not sent to the partner.
    ConfigSet {
        /// The path.
        key: String,
        /// The new value, as TOML (`"eth1"`, `51`, `["a", "b"]`).
        value: String,
        /// A local setting of this unit (`--local`).
        local: bool,
    },
    /// Remove one value from the running configuration file, then apply
    /// it as `config set` does (the same refusals on the Backup).
    ConfigUnset {
        /// The path.
        key: String,
        /// A local setting of this unit (`--local`).
        local: bool,
    },
    /// Configuration sync's status.
    SyncStatus,
    /// `sync status --clear`: forget the conflicts reported so far, then
    /// the status.
    SyncClear,
    /// The objects whose shared values differ between the two units.
    SyncDiff,
    /// `sync force`: this unit's configuration wins: a new epoch, sent to
    /// the partner whole.
    SyncForce,
}

impl ControlRequest {
    /// The request's name on the control socket (`"cmd"`).
    pub const fn name(&self) -> &'static str {
        match self {
            ControlRequest::Status => "status",
            ControlRequest::Failover { .. } => "failover",
            ControlRequest::Maintenance { .. } => "maintenance",
            ControlRequest::ClearPacified => "clear-pacified",
            ControlRequest::ConfigApply { .. } => "config-apply",
            ControlRequest::ConfigGet { .. } => "config-get",
            ControlRequest::ConfigSet { .. } => "config-set",
            ControlRequest::ConfigUnset { .. } => "config-unset",
            ControlRequest::SyncStatus => "sync-status",
            ControlRequest::SyncClear => "sync-clear",
            ControlRequest::SyncDiff => "sync-diff",
            ControlRequest::SyncForce => "sync-force",
        }
    }
}

/// The node's answer.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ControlReply {
    /// The snapshot.
    Status(Box<NodeSnapshot>),
    /// These instances resigned so that the partner takes over.
    HandedOver {
        /// Their names, in configuration order.
        instances: Vec<String>,
    },
    /// Maintenance mode is now as asked.
    Maintenance {
        /// On.
        on: bool,
    },
    /// The restart guard no longer holds the node passive.
    PacifiedCleared,
    /// A new configuration was applied.
    Reconfigured {
        /// Instances stopped (removed or changed).
        stopped: Vec<String>,
        /// Instances started (added or changed).
        started: Vec<String>,
        /// Units (sync groups, lone instances) left running untouched.
        unchanged: usize,
    },
    /// `config apply` / `config set`: the configuration was applied here;
    /// what the partner made of it.
    ConfigApplied {
        /// Instances stopped (removed or changed).
        stopped: Vec<String>,
        /// Instances started (added or changed).
        started: Vec<String>,
        /// Units left running untouched.
        unchanged: usize,
        /// The partner's side.
        sync: SyncOutcome,
    },
    /// `config get`.
    ConfigValue {
        /// The path asked for.
        key: String,
        /// Its value as TOML (`None`: not set); secrets shown as `"***"`.
        value: Option<String>,
        /// `shared`, `local` or `unit` (with `[sync]`), else `local`.
        class: String,
    },
    /// `sync status`.
    SyncStatus(Box<SyncStatus>),
    /// `sync diff`: the fields whose shared values differ.
    SyncDiff {
        /// In object order.
        entries: Vec<DiffLine>,
    },
    /// `sync force`: this unit's configuration wins.
    SyncForced {
        /// The new epoch of this unit's authority.
        epoch: u64,
        /// Its generation.
        generation: u64,
        /// The partner's values it overwrites (as far as the last
        /// comparison knows them).
        overwritten: Vec<DiffLine>,
    },
    /// Not done, and why.
    Refused(Refusal),
}

/// What the partner made of a local change (`config apply`, `config set`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum SyncOutcome {
    /// This unit has no `[sync]`.
    NotConfigured,
    /// The shared part did not change (a local setting, or the same text):
    /// nothing to send.
    Unchanged,
    /// The partner applied it.
    Acked {
        /// The generation.
        generation: u64,
    },
    /// The partner refused it; it stays applied here.
    Rejected {
        /// The generation.
        generation: u64,
        /// The partner's code (`invalid`, `local-conflict`, `storage`, ...).
        code: String,
        /// The path at fault.
        path: String,
        /// The partner's words.
        text: String,
    },
    /// No answer from the partner within 2 s (or not connected): sent when
    /// it is connected and in step.
    Pending {
        /// The generation.
        generation: u64,
    },
    /// Applied here only: sync refused the commit.
    NotSynced {
        /// Why (this unit is the Backup, a change from the partner is
        /// being applied, ...).
        reason: String,
    },
}

impl fmt::Display for SyncOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SyncOutcome::NotConfigured => f.write_str("no [sync]: applied here"),
            SyncOutcome::Unchanged => f.write_str("nothing shared changed: not sent"),
            SyncOutcome::Acked { generation } => {
                write!(f, "partner applied generation {generation}")
            }
            SyncOutcome::Rejected {
                generation,
                code,
                path,
                text,
            } => write!(
                f,
                "applied here; the partner refused generation {generation}: {code} at {path}: {text}"
            ),
            SyncOutcome::Pending { generation } => {
                write!(f, "applied here; partner pending (generation {generation})")
            }
            SyncOutcome::NotSynced { reason } => write!(f, "applied here; not synced: {reason}"),
        }
    }
}

/// One differing field, as `sync diff` and `sync force` show it. Values
/// are TOML; a field named like a secret (`password`, `key`, `secret`,
/// `auth`) shows `"***"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffLine {
    /// The object (`instance.web`, `app.vs.web1`).
    pub object: String,
    /// The field.
    pub field: String,
    /// This unit's value (`None`: absent here).
    pub local: Option<String>,
    /// The partner's (`None`: absent there).
    pub peer: Option<String>,
}

impl ControlReply {
    /// Whether the node did what was asked.
    pub fn ok(&self) -> bool {
        !matches!(self, ControlReply::Refused(_))
    }
}

impl fmt::Display for ControlReply {
    /// The reply in words, as `tandemd` prints it (`"message"` on the
    /// control socket).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ControlReply::Status(s) => write!(f, "status of {} instances", s.instances.len()),
            ControlReply::HandedOver { instances } => {
                write!(f, "handed over: {}", instances.join(", "))
            }
            ControlReply::Maintenance { on } => {
                write!(f, "maintenance {}", if *on { "on" } else { "off" })
            }
            ControlReply::PacifiedCleared => f.write_str("restart guard cleared"),
            ControlReply::Reconfigured {
                stopped,
                started,
                unchanged,
            } => reloaded(f, stopped, started, *unchanged),
            ControlReply::ConfigApplied {
                stopped,
                started,
                unchanged,
                sync,
            } => {
                reloaded(f, stopped, started, *unchanged)?;
                write!(f, "; {sync}")
            }
            ControlReply::ConfigValue { key, value, .. } => match value {
                Some(v) => write!(f, "{key} = {v}"),
                None => write!(f, "{key} is not set"),
            },
            ControlReply::SyncStatus(s) => write!(f, "sync {}", s.state),
            ControlReply::SyncDiff { entries } => {
                write!(f, "{} fields differ", entries.len())
            }
            ControlReply::SyncForced {
                epoch,
                generation,
                overwritten,
            } => write!(
                f,
                "this unit's configuration wins: epoch {epoch:016x} generation {generation}; {} of the partner's fields overwritten",
                overwritten.len()
            ),
            ControlReply::Refused(r) => r.fmt(f),
        }
    }
}

/// A reload's outcome in words, as the reply and the `reloaded` event say it.
pub(crate) fn reloaded(
    f: &mut fmt::Formatter<'_>,
    stopped: &[String],
    started: &[String],
    unchanged: usize,
) -> fmt::Result {
    write!(
        f,
        "configuration reloaded; stopped [{}], started [{}], {unchanged} unchanged",
        stopped.join(", "),
        started.join(", ")
    )
}

/// Why the node did not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The failover target names nothing configured.
    #[error("no instance or sync group named {0:?}")]
    NoSuchTarget(String),
    /// Nothing the failover names is Active here.
    #[error("nothing to hand over: no such instance is Active on this node")]
    NothingActive,
    /// The node is stopping (or stopped) and takes no more requests.
    #[error("tandemd is stopping")]
    Stopping,
    /// The loop did not answer in time.
    #[error("tandemd did not answer within {0} s")]
    Timeout(u64),
    /// The loop's request queue is full: try again.
    #[error("tandemd is busy: its request queue is full; try again")]
    Busy,
    /// A new configuration was not applied; nothing changed.
    #[error("configuration unchanged: {0}")]
    Reconfigure(String),
    /// `config get` / `config set` / `config apply` need the
    /// configuration file, and the node was started without one.
    #[error("tandemd was started without a configuration file: nothing to read or change")]
    NoConfigFile,
    /// `config get` / `config set`: the path or value is not one.
    #[error("{0}")]
    BadKey(String),
    /// Active-standby sync: the Backup follows the Active.
    #[error("this unit is the Backup: edit the configuration on the Active (or use --local for a local setting)")]
    NotActive,
    /// `config set --local` of a setting that is synced.
    #[error(
        "{0} is a {1} setting, synced with the partner: set it on the Active, without --local"
    )]
    NotLocal(String, &'static str),
    /// A sync request on a unit without `[sync]` (or whose sync could not
    /// start: the status says why).
    #[error("configuration sync is not running: {0}")]
    NoSync(String),
    /// Another configuration change is under way.
    #[error("another configuration change is being applied; try again")]
    ChangeBusy,
}

impl Refusal {
    /// The stable name of the refusal (`"refusal"` on the control socket).
    pub const fn name(&self) -> &'static str {
        match self {
            Refusal::NoSuchTarget(_) => "no_such_target",
            Refusal::NothingActive => "nothing_active",
            Refusal::Stopping => "stopping",
            Refusal::Timeout(_) => "timeout",
            Refusal::Busy => "busy",
            Refusal::Reconfigure(_) => "reconfigure",
            Refusal::NoConfigFile => "no_config_file",
            Refusal::BadKey(_) => "bad_key",
            Refusal::NotActive => "not_active",
            Refusal::NotLocal(..) => "not_local",
            Refusal::NoSync(_) => "no_sync",
            Refusal::ChangeBusy => "change_busy",
        }
    }
}
