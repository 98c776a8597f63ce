//! Replication's events, with their stable names (docs/control.md lists
//! them with their fields).

use std::fmt;

use serde_json::{json, Value};

use crate::node::Level;

/// What replication reports. Each variant has a stable
/// [`name`](ReplicationEvent::name).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReplicationEvent {
    /// `replication_started`: the link is open.
    Started {
        /// This unit's node id.
        node: u8,
        /// The partner (or group) it sends to.
        peer: String,
        /// The format spoken.
        format: String,
    },
    /// `replication_error`: the link could not be opened, or a key is bad.
    Error {
        /// In words.
        text: String,
    },
    /// `replication_partner_started`: the partner's stream with a new
    /// boot id was bound.
    PartnerStarted {
        /// Its node id.
        node: u8,
        /// Its boot id, hex.
        boot: String,
    },
    /// `replication_in_sync`: this unit's mirror of the partner's table is
    /// complete and verified.
    InSync,
    /// `replication_out_of_sync`: it no longer is.
    OutOfSync {
        /// Why.
        reason: String,
    },
    /// `replication_bulk_sent`: a bulk of this unit's table to the partner
    /// ended.
    BulkSent {
        /// Entries sent.
        entries: u64,
    },
    /// `replication_refused`: a datagram was refused (rate-limited);
    /// nothing changed.
    Refused {
        /// Why (`bad_ttl`, `bad_tag`, `unknown_key`, `wrong_cluster`,
        /// `replayed`, `unbound_boot`, `own_node`, `malformed`).
        reason: String,
        /// In words.
        text: String,
        /// Refusals like it not shown since the last one.
        suppressed: u64,
    },
    /// `replication_installed`: at takeover, the partner's flows were put
    /// into this unit's connection-tracking table (before its addresses).
    Installed {
        /// Flows installed.
        flows: usize,
        /// Flows the table refused.
        failed: usize,
        /// The first refusal, in words.
        error: Option<String>,
    },
}

impl ReplicationEvent {
    /// The stable name.
    pub const fn name(&self) -> &'static str {
        match self {
            ReplicationEvent::Started { .. } => "replication_started",
            ReplicationEvent::Error { .. } => "replication_error",
            ReplicationEvent::PartnerStarted { .. } => "replication_partner_started",
            ReplicationEvent::InSync => "replication_in_sync",
            ReplicationEvent::OutOfSync { .. } => "replication_out_of_sync",
            ReplicationEvent::BulkSent { .. } => "replication_bulk_sent",
            ReplicationEvent::Refused { .. } => "replication_refused",
            ReplicationEvent::Installed { .. } => "replication_installed",
        }
    }

    /// How much it matters.
    pub fn level(&self) -> Level {
        match self {
            ReplicationEvent::Error { .. } | ReplicationEvent::Refused { .. } => Level::Warn,
            ReplicationEvent::OutOfSync { .. } => Level::Warn,
            ReplicationEvent::Installed { failed, .. } if *failed > 0 => Level::Warn,
            _ => Level::Info,
        }
    }

    /// The event's fields.
    pub fn to_json(&self) -> Value {
        match self {
            ReplicationEvent::Started { node, peer, format } => {
                json!({"node": node, "peer": peer, "format": format})
            }
            ReplicationEvent::Error { text } => json!({ "message": text }),
            ReplicationEvent::PartnerStarted { node, boot } => json!({"node": node, "boot": boot}),
            ReplicationEvent::InSync => json!({}),
            ReplicationEvent::OutOfSync { reason } => json!({ "reason": reason }),
            ReplicationEvent::BulkSent { entries } => json!({ "entries": entries }),
            ReplicationEvent::Refused {
                reason,
                text,
                suppressed,
            } => json!({"reason": reason, "message": text, "suppressed": suppressed}),
            ReplicationEvent::Installed {
                flows,
                failed,
                error,
            } => json!({"flows": flows, "failed": failed, "error": error}),
        }
    }
}

impl fmt::Display for ReplicationEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplicationEvent::Started { node, peer, format } => {
                write!(f, "replication: node {node} sends to {peer} ({format})")
            }
            ReplicationEvent::Error { text } => write!(f, "replication: {text}"),
            ReplicationEvent::PartnerStarted { node, boot } => {
                write!(f, "replication: partner node {node} started (boot {boot})")
            }
            ReplicationEvent::InSync => f.write_str("replication: in sync with the partner"),
            ReplicationEvent::OutOfSync { reason } => {
                write!(f, "replication: out of sync: {reason}")
            }
            ReplicationEvent::BulkSent { entries } => {
                write!(f, "replication: bulk of {entries} entries sent")
            }
            ReplicationEvent::Refused {
                reason,
                text,
                suppressed,
            } => {
                write!(f, "replication: datagram refused ({reason}): {text}")?;
                if *suppressed > 0 {
                    write!(f, " ({suppressed} more not shown)")?;
                }
                Ok(())
            }
            ReplicationEvent::Installed {
                flows,
                failed,
                error,
            } => {
                write!(f, "replication: {flows} flows installed at takeover")?;
                if *failed > 0 {
                    write!(f, ", {failed} refused")?;
                    if let Some(e) = error {
                        write!(f, " (first: {e})")?;
                    }
                }
                Ok(())
            }
        }
    }
}
