//! The control API: what an operator (the control socket, `tandemd
//! status`) or an embedding appliance (`drive::NodeHandle`) asks the node,
//! and the node's typed answers. The loop and the socket server both name
//! these types; neither names the other.

use std::fmt;

use crate::snapshot::NodeSnapshot;

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
}

impl ControlRequest {
    /// The request's name on the control socket (`"cmd"`).
    pub const fn name(&self) -> &'static str {
        match self {
            ControlRequest::Status => "status",
            ControlRequest::Failover { .. } => "failover",
            ControlRequest::Maintenance { .. } => "maintenance",
            ControlRequest::ClearPacified => "clear-pacified",
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
    /// Not done, and why.
    Refused(Refusal),
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
        }
    }
}
