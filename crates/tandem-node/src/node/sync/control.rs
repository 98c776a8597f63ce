//! The control requests of the configuration and of sync: `config apply`,
//! `config get`, `config set`, `sync status`, `sync diff`, `sync force`.

use std::collections::BTreeSet;

use tandem_config_sync::doc::{Object, ObjectKey};
use tandem_config_sync::frame::Role;
use tandem_config_sync::schema::Class;
use tandem_config_sync::session::DiffEntry;
use tandem_config_sync::value::Value;
use tandem_election::Instant;

use super::change::{Known, Work};
use super::SyncEvent;
use crate::config::document;
use crate::control::api::{ControlReply, DiffLine, Refusal};
use crate::node::input::{ConfigFile, ReplyTo};
use crate::node::output::Output;
use crate::node::Node;

/// The text shown instead of a secret's value.
pub const MASK: &str = "\"***\"";

/// Whether a field holds a secret: its name is, or has a `_`-separated
/// part that is, `password`, `key`, `secret` or `auth` (`ah_password`,
/// `key_file`, `auth_type`).
pub fn is_secret(field: &str) -> bool {
    let lower = field.to_ascii_lowercase();
    lower
        .split(['_', '-', '.'])
        .any(|part| matches!(part, "password" | "key" | "secret" | "auth"))
}

/// A value as TOML, secrets inside tables masked.
pub(super) fn value_text(v: &Value) -> String {
    match v {
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => format!("{f:?}"),
        Value::Str(s) => quoted(s),
        Value::Bytes(b) => {
            let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
            quoted(&hex)
        }
        Value::List(l) => format!(
            "[{}]",
            l.iter().map(value_text).collect::<Vec<_>>().join(", ")
        ),
        Value::Table(t) => format!(
            "{{ {} }}",
            t.iter()
                .map(|(k, v)| {
                    let v = if is_secret(k) {
                        MASK.to_string()
                    } else {
                        value_text(v)
                    };
                    format!("{} = {v}", quoted(k))
                })
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// A string as a TOML basic string (JSON's escapes are TOML's).
fn quoted(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// The differing fields of the differing objects, secrets masked.
pub(super) fn diff_lines(entries: &[DiffEntry]) -> Vec<DiffLine> {
    let mut lines = Vec::new();
    let empty = Object::new();
    for e in entries {
        let local = e.local.as_ref().unwrap_or(&empty);
        let peer = e.peer.as_ref().unwrap_or(&empty);
        let fields: BTreeSet<&String> = local.keys().chain(peer.keys()).collect();
        for field in fields {
            let (l, p) = (local.get(field), peer.get(field));
            if l == p {
                continue;
            }
            let show = |v: Option<&Value>| {
                v.map(|v| {
                    if is_secret(field) {
                        MASK.to_string()
                    } else {
                        value_text(v)
                    }
                })
            };
            lines.push(DiffLine {
                object: e.key.to_string(),
                field: field.clone(),
                local: show(l),
                peer: show(p),
            });
        }
    }
    lines
}

/// The last segment of a dotted path (quotes not considered: a secret's
/// name has none).
fn last_segment(path: &str) -> &str {
    path.rsplit('.').next().unwrap_or(path)
}

impl Node {
    /// The configuration and sync requests; `None`: the answer comes later.
    pub(in crate::node) fn sync_control(
        &mut self,
        now: Instant,
        request: crate::control::api::ControlRequest,
        reply: ReplyTo,
    ) -> Option<ControlReply> {
        use crate::control::api::ControlRequest as R;
        let refused = |r: Refusal| Some(ControlReply::Refused(r));
        match request {
            R::ConfigApply { path } => {
                self.outputs.push_back(Output::ReadConfig { path, reply });
                None
            }
            R::ConfigGet { key } => {
                let Some(file) = &self.sync.file else {
                    return refused(Refusal::NoConfigFile);
                };
                let value = match &file.doc {
                    Ok(doc) => document::get_doc(doc, &key),
                    Err(_) => document::get(&file.text, &key),
                };
                let value = match value {
                    Ok(v) => v,
                    Err(e) => return refused(Refusal::BadKey(e.to_string())),
                };
                let value = value.map(|v| {
                    if is_secret(last_segment(&key)) {
                        MASK.to_string()
                    } else {
                        value_text(&v)
                    }
                });
                let class = self.class_of(&key).name().to_string();
                Some(ControlReply::ConfigValue { key, value, class })
            }
            R::ConfigSet { key, value, local } => self.config_set(key, Some(value), local, reply),
            R::ConfigUnset { key, local } => self.config_set(key, None, local, reply),
            R::SyncClear => match &mut self.sync.run {
                Some(run) => {
                    run.session.clear_conflicts();
                    self.state_changed = true;
                    match self.sync_status(now) {
                        Some(s) => Some(ControlReply::SyncStatus(Box::new(s))),
                        None => refused(self.no_sync()),
                    }
                }
                None => refused(self.no_sync()),
            },
            R::SyncStatus => match self.sync_status(now) {
                Some(s) => Some(ControlReply::SyncStatus(Box::new(s))),
                None => refused(Refusal::NoSync("this unit has no [sync]".into())),
            },
            R::SyncDiff => match &self.sync.run {
                Some(run) => Some(ControlReply::SyncDiff {
                    entries: diff_lines(&run.session.diff()),
                }),
                None => refused(self.no_sync()),
            },
            R::SyncForce => {
                let Some(run) = &mut self.sync.run else {
                    return refused(self.no_sync());
                };
                let overwritten = diff_lines(&run.session.force(now));
                self.emit_sync(
                    now,
                    SyncEvent::Forced {
                        overwritten: overwritten.len(),
                    },
                );
                self.sync_persist();
                self.state_changed = true;
                self.sync_drain(now);
                let local = self.sync.run.as_ref().map(|r| r.session.status().local);
                let local = local.unwrap_or_default();
                Some(ControlReply::SyncForced {
                    epoch: local.epoch,
                    generation: local.generation,
                    overwritten,
                })
            }
            other => refused(Refusal::NoSync(format!(
                "{} is not a sync request",
                other.name()
            ))),
        }
    }

    fn no_sync(&self) -> Refusal {
        match &self.sync.off {
            Some((_, why)) => Refusal::NoSync(why.clone()),
            None => Refusal::NoSync("this unit has no [sync]".into()),
        }
    }

    /// The class of a path under this unit's `[sync]` (local without it).
    fn class_of(&self, key: &str) -> Class {
        let settings = self.sync.run.as_ref().map(|r| &r.settings);
        let Some(settings) = settings else {
            return Class::Local;
        };
        match ObjectKey::parse_path(key) {
            Ok((object, field)) => document::schema_for(Some(settings)).class(&object, &field),
            Err(_) => Class::Shared,
        }
    }

    /// `config set` (`value`) and `config unset` (`None`).
    fn config_set(
        &mut self,
        key: String,
        value: Option<String>,
        local: bool,
        reply: ReplyTo,
    ) -> Option<ControlReply> {
        let refused = |r: Refusal| Some(ControlReply::Refused(r));
        let Some(file) = &self.sync.file else {
            return refused(Refusal::NoConfigFile);
        };
        let (path, doc) = (file.path.clone(), file.doc.clone());
        let base_config = file.config.clone();
        if let Some(run) = &self.sync.run {
            let backup = run.role != Role::Active;
            let standby = !run.settings.bidirectional;
            if standby && backup && !local {
                return refused(Refusal::NotActive);
            }
            if local {
                if let Err(e) = ObjectKey::parse_path(&key) {
                    return refused(Refusal::BadKey(e.to_string()));
                }
                let class = self.class_of(&key);
                if class != Class::Local {
                    return refused(Refusal::NotLocal(key, class.name()));
                }
            }
        }
        // The file's document, which passed the file's checks with the
        // file: an edit of an [app] object checks that object only.
        let doc = match doc {
            Ok(d) => d,
            Err(e) => return refused(Refusal::BadKey(e.text)),
        };
        let edited = match &value {
            Some(value) => document::set_doc(&doc, &key, value),
            None => document::unset_doc(&doc, &key),
        };
        let edited = match edited {
            Ok(e) => e,
            // The text checked is the file as it would be written: its
            // lines mean nothing to the operator; the field path does.
            Err(e) => return refused(Refusal::BadKey(e.without_location().to_string())),
        };
        let (config, app_only) = match edited.config {
            Some(c) => (c, false),
            None => (base_config, true),
        };
        let sync_key = self.sync.run.as_ref().map(|r| Ok(r.key_text.clone()));
        let file = ConfigFile {
            path,
            text: edited.text,
            config,
            write: true,
            sync_key,
            sync_state: Ok(None),
        };
        let known = Known {
            key: edited.key,
            object: edited.object,
            base: self.sync.file_version,
            app_only,
        };
        self.sync.queue.push_back(Work::Local {
            file: Box::new(file),
            known: Some(Box::new(known)),
            reply: Some(reply),
            wait: true,
        });
        self.sync_next(self.now);
        None
    }
}
