//! Configuration sync's events, with their stable names (docs/control.md
//! lists them with their fields).

use std::fmt;

use serde_json::{json, Value};

use crate::node::Level;

/// What configuration sync reports. Each variant has a stable
/// [`name`](SyncEvent::name).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyncEvent {
    /// `sync_state`: the pair's sync state changed (`in-sync`, `pending`,
    /// `syncing`, `diverged`, `conflict`, `blocked`, `disconnected`, and
    /// `off` when sync stopped or could not start).
    State {
        /// The state left.
        from: String,
        /// The state entered.
        to: String,
        /// The pending generation, the differing sections, why blocked.
        detail: Option<String>,
    },
    /// `sync_peer`: the partner said who it is.
    Peer {
        /// Its unit id.
        unit: String,
        /// Its tandemd version.
        software: String,
    },
    /// `sync_committed`: a local change of the shared configuration, sent
    /// to the partner as this generation.
    Committed {
        /// The generation.
        generation: u64,
    },
    /// `sync_not_synced`: a local change applied here but not sent.
    NotSynced {
        /// Why.
        reason: String,
    },
    /// `sync_acked`: the partner applied this unit's configuration up to
    /// this generation.
    Acked {
        /// The generation.
        generation: u64,
    },
    /// `sync_rejected`: the partner refused this unit's change.
    Rejected {
        /// The generation.
        generation: u64,
        /// Its code (`invalid`, `local-conflict`, `storage`, ...).
        code: String,
        /// The path at fault.
        path: String,
        /// The partner's words.
        text: String,
    },
    /// `sync_applied`: a change from the partner was written and applied.
    Applied {
        /// The generation this unit is at now.
        generation: u64,
        /// The objects that changed.
        changed: Vec<String>,
    },
    /// `sync_refused`: a change from the partner was refused here;
    /// nothing changed.
    Refused {
        /// The code sent back.
        code: String,
        /// The path at fault.
        path: String,
        /// Why.
        text: String,
    },
    /// `sync_diverged`: the two configurations differ in these objects.
    Diverged {
        /// The objects.
        objects: Vec<String>,
    },
    /// `sync_conflict`: concurrent edits of one object (bidirectional
    /// mode); the merge kept the winner's.
    Conflict {
        /// The object.
        object: String,
        /// The unit whose edit won.
        winner: String,
        /// The unit whose edit lost.
        loser: String,
    },
    /// `sync_forced`: `sync force`: this unit's configuration wins.
    Forced {
        /// The partner's fields it overwrites.
        overwritten: usize,
    },
    /// `sync_error`: the connection, the key, the state file or the
    /// partner failed.
    Error {
        /// In words.
        text: String,
    },
}

impl SyncEvent {
    /// The stable name.
    pub const fn name(&self) -> &'static str {
        match self {
            SyncEvent::State { .. } => "sync_state",
            SyncEvent::Peer { .. } => "sync_peer",
            SyncEvent::Committed { .. } => "sync_committed",
            SyncEvent::NotSynced { .. } => "sync_not_synced",
            SyncEvent::Acked { .. } => "sync_acked",
            SyncEvent::Rejected { .. } => "sync_rejected",
            SyncEvent::Applied { .. } => "sync_applied",
            SyncEvent::Refused { .. } => "sync_refused",
            SyncEvent::Diverged { .. } => "sync_diverged",
            SyncEvent::Conflict { .. } => "sync_conflict",
            SyncEvent::Forced { .. } => "sync_forced",
            SyncEvent::Error { .. } => "sync_error",
        }
    }

    /// How much it matters.
    pub fn level(&self) -> Level {
        match self {
            SyncEvent::State { to, .. } => match to.as_str() {
                "diverged" | "blocked" | "conflict" | "off" => Level::Warn,
                _ => Level::Info,
            },
            SyncEvent::NotSynced { .. }
            | SyncEvent::Rejected { .. }
            | SyncEvent::Refused { .. }
            | SyncEvent::Diverged { .. }
            | SyncEvent::Conflict { .. }
            | SyncEvent::Forced { .. } => Level::Warn,
            SyncEvent::Error { .. } => Level::Error,
            _ => Level::Info,
        }
    }

    /// The event's fields as JSON (without `event` and `at_unix`).
    pub fn to_json(&self) -> Value {
        match self {
            SyncEvent::State { from, to, detail } => {
                json!({"from": from, "to": to, "detail": detail})
            }
            SyncEvent::Peer { unit, software } => json!({"unit": unit, "software": software}),
            SyncEvent::Committed { generation } | SyncEvent::Acked { generation } => {
                json!({ "generation": generation })
            }
            SyncEvent::NotSynced { reason } => json!({ "reason": reason }),
            SyncEvent::Rejected {
                generation,
                code,
                path,
                text,
            } => json!({"generation": generation, "code": code, "path": path, "message": text}),
            SyncEvent::Applied {
                generation,
                changed,
            } => json!({"generation": generation, "changed": changed}),
            SyncEvent::Refused { code, path, text } => {
                json!({"code": code, "path": path, "message": text})
            }
            SyncEvent::Diverged { objects } => json!({ "objects": objects }),
            SyncEvent::Conflict {
                object,
                winner,
                loser,
            } => json!({"object": object, "winner": winner, "loser": loser}),
            SyncEvent::Forced { overwritten } => json!({ "overwritten": overwritten }),
            SyncEvent::Error { text } => json!({ "message": text }),
        }
    }
}

impl fmt::Display for SyncEvent {
    /// The log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SyncEvent::State { from, to, detail } => {
                write!(f, "sync {from} -> {to}")?;
                match detail {
                    Some(d) => write!(f, ": {d}"),
                    None => Ok(()),
                }
            }
            SyncEvent::Peer { unit, software } => {
                write!(f, "sync partner is unit {unit} (tandemd {software})")
            }
            SyncEvent::Committed { generation } => {
                write!(f, "configuration change sent to the partner as generation {generation}")
            }
            SyncEvent::NotSynced { reason } => {
                write!(f, "configuration applied here, not synced: {reason}")
            }
            SyncEvent::Acked { generation } => {
                write!(f, "the partner applied generation {generation}")
            }
            SyncEvent::Rejected {
                generation,
                code,
                path,
                text,
            } => write!(
                f,
                "the partner refused generation {generation}: {code} at {path}: {text}"
            ),
            SyncEvent::Applied {
                generation,
                changed,
            } => write!(
                f,
                "applied the partner's configuration (generation {generation}); changed [{}]",
                changed.join(", ")
            ),
            SyncEvent::Refused { code, path, text } => write!(
                f,
                "refused the partner's configuration: {code} at {path}: {text}; nothing changed"
            ),
            SyncEvent::Diverged { objects } => write!(
                f,
                "the configurations differ in [{}]: `tandemd sync diff` shows how",
                objects.join(", ")
            ),
            SyncEvent::Conflict {
                object,
                winner,
                loser,
            } => write!(
                f,
                "concurrent edits of {object}: unit {winner}'s kept, unit {loser}'s lost"
            ),
            SyncEvent::Forced { overwritten } => write!(
                f,
                "sync force: this unit's configuration wins; {overwritten} of the partner's fields overwritten"
            ),
            SyncEvent::Error { text } => write!(f, "sync error: {text}"),
        }
    }
}
