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
        /// The losing value as a TOML inline table, secrets masked
        /// (`None`: the losing edit removed the object).
        lost: Option<String>,
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

    /// The event's fields as JSON (without `event` and `at_unix`), as
    /// docs/control.md lists them: `sync_state` {state, from, reason?},
    /// `sync_applied` {generation, objects}, `sync_rejected` {generation,
    /// code, path, text}, `sync_conflict` {object, winner, loser, lost},
    /// `sync_error` {text}, ...
    pub fn to_json(&self) -> Value {
        match self {
            SyncEvent::State { from, to, detail } => {
                let mut v = json!({"state": to, "from": from});
                if let (Some(d), Value::Object(m)) = (detail, &mut v) {
                    m.insert("reason".into(), json!(d));
                }
                v
            }
            SyncEvent::Peer { unit, software } => json!({"unit": unit, "version": software}),
            SyncEvent::Committed { generation } | SyncEvent::Acked { generation } => {
                json!({ "generation": generation })
            }
            SyncEvent::NotSynced { reason } => json!({ "reason": reason }),
            SyncEvent::Rejected {
                generation,
                code,
                path,
                text,
            } => json!({"generation": generation, "code": code, "path": path, "text": text}),
            SyncEvent::Applied {
                generation,
                changed,
            } => json!({"generation": generation, "objects": changed}),
            SyncEvent::Refused { code, path, text } => {
                json!({"code": code, "path": path, "text": text})
            }
            SyncEvent::Diverged { objects } => json!({ "objects": objects }),
            SyncEvent::Conflict {
                object,
                winner,
                loser,
                lost,
            } => json!({"object": object, "winner": winner, "loser": loser, "lost": lost}),
            SyncEvent::Forced { overwritten } => json!({ "overwritten": overwritten }),
            SyncEvent::Error { text } => json!({ "text": text }),
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
                ..
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::{Event, EventKind};

    fn line(e: SyncEvent) -> Value {
        Event {
            at_unix: 1_700_000_000.5,
            kind: EventKind::Sync(e),
        }
        .to_json()
    }

    #[test]
    fn sync_events_carry_the_documented_names_and_fields() {
        let v = line(SyncEvent::State {
            from: "in-sync".into(),
            to: "blocked".into(),
            detail: Some("the partner runs schema 2".into()),
        });
        assert_eq!(v["event"], "sync_state");
        assert_eq!(v["state"], "blocked");
        assert_eq!(v["from"], "in-sync");
        assert_eq!(v["reason"], "the partner runs schema 2");
        assert_eq!(v["at_unix"], 1_700_000_000.5);
        let v = line(SyncEvent::State {
            from: "pending".into(),
            to: "in-sync".into(),
            detail: None,
        });
        assert!(v.get("reason").is_none(), "{v}");
        let v = line(SyncEvent::Applied {
            generation: 7,
            changed: vec!["instance.web".into()],
        });
        assert_eq!(
            (
                v["event"].clone(),
                v["generation"].clone(),
                v["objects"].clone()
            ),
            (json!("sync_applied"), json!(7), json!(["instance.web"]))
        );
        let v = line(SyncEvent::Rejected {
            generation: 8,
            code: "local-conflict".into(),
            path: "instance.web.addresses".into(),
            text: "IPv6 with an IPv4 source".into(),
        });
        assert_eq!(v["event"], "sync_rejected");
        for (k, want) in [
            ("generation", json!(8)),
            ("code", json!("local-conflict")),
            ("path", json!("instance.web.addresses")),
            ("text", json!("IPv6 with an IPv4 source")),
        ] {
            assert_eq!(v[k], want, "{k}");
        }
        let v = line(SyncEvent::Conflict {
            object: "app.vs.web1".into(),
            winner: "a".into(),
            loser: "b".into(),
            lost: Some("{ \"port\" = 8080 }".into()),
        });
        assert_eq!(v["event"], "sync_conflict");
        assert_eq!(v["object"], "app.vs.web1");
        assert_eq!(
            (v["winner"].clone(), v["loser"].clone()),
            (json!("a"), json!("b"))
        );
        assert_eq!(v["lost"], "{ \"port\" = 8080 }");
        let v = line(SyncEvent::Error {
            text: "connect 192.0.2.2:6973: refused".into(),
        });
        assert_eq!(v["event"], "sync_error");
        assert_eq!(v["text"], "connect 192.0.2.2:6973: refused");
    }

    #[test]
    fn every_sync_event_name_is_snake_case_and_distinct() {
        let all = [
            SyncEvent::State {
                from: String::new(),
                to: String::new(),
                detail: None,
            },
            SyncEvent::Peer {
                unit: String::new(),
                software: String::new(),
            },
            SyncEvent::Committed { generation: 0 },
            SyncEvent::NotSynced {
                reason: String::new(),
            },
            SyncEvent::Acked { generation: 0 },
            SyncEvent::Rejected {
                generation: 0,
                code: String::new(),
                path: String::new(),
                text: String::new(),
            },
            SyncEvent::Applied {
                generation: 0,
                changed: vec![],
            },
            SyncEvent::Refused {
                code: String::new(),
                path: String::new(),
                text: String::new(),
            },
            SyncEvent::Diverged { objects: vec![] },
            SyncEvent::Conflict {
                object: String::new(),
                winner: String::new(),
                loser: String::new(),
                lost: None,
            },
            SyncEvent::Forced { overwritten: 0 },
            SyncEvent::Error {
                text: String::new(),
            },
        ];
        let names: std::collections::BTreeSet<&str> = all.iter().map(SyncEvent::name).collect();
        assert_eq!(names.len(), all.len());
        for n in names {
            // Snake case, as every other event of tandemd.
            assert!(n.starts_with("sync_") && !n.contains('-'), "{n}");
        }
    }
}
