//! Changes of the configuration file, one at a time: a local one (SIGHUP,
//! `config apply`, `config set`) and one from the partner take the same
//! steps: write the file if its text is new there, apply it with the
//! reload plan, then (local) commit it to the session or (partner) write
//! the state file and acknowledge it. A failure at any step leaves the
//! running configuration and the file as they were.

use std::path::PathBuf;
use std::sync::Arc;

use tandem_config_sync::digest::hex;
use tandem_config_sync::doc::{Document, Object, ObjectKey};
use tandem_config_sync::frame::{RejectCode, Role};
use tandem_config_sync::session::{Apply, Authority, CommitError, Refusal};
use tandem_election::Instant;

use super::{reconfigured, state_path, CurrentFile, SyncEvent, SyncState, Wait};
use crate::config::document;
use crate::config::{DaemonConfig, SyncConfig};
use crate::control::api::{Refusal as ControlRefusal, SyncOutcome};
use crate::node::input::{ConfigFile, ReplyTo, WriteToken};
use crate::node::output::{EventKind, Output};
use crate::node::Node;

/// What waits its turn.
#[derive(Debug)]
pub(in crate::node) enum Work {
    /// A configuration file from this unit.
    Local {
        file: Box<ConfigFile>,
        /// What the Node worked out the file from (`config set`).
        known: Option<Box<Known>>,
        reply: Option<ReplyTo>,
        wait: bool,
    },
    /// A change from the partner.
    Partner(Apply),
}

/// A local file the Node made by editing one object of its running
/// file's document (`config set`).
#[derive(Debug)]
pub(in crate::node) struct Known {
    /// The object edited.
    pub(in crate::node) key: ObjectKey,
    /// Its fields after the edit (`None`: gone).
    pub(in crate::node) object: Option<Object>,
    /// The [`file_version`](super::SyncAdapter::file_version) of the file
    /// edited.
    pub(in crate::node) base: u64,
    /// The object is an `[app]` object: the configuration is the edited
    /// file's.
    pub(in crate::node) app_only: bool,
}

/// What the new file's document is known as.
#[derive(Debug)]
enum NewDoc {
    /// Read from the text once the change is applied.
    Unknown,
    /// Whole.
    Whole(Document),
    /// The running file's document (at `base`) with these objects
    /// replaced (in key order; `None`: removed): made in place once the
    /// change is applied.
    Patch {
        base: u64,
        objects: Vec<(ObjectKey, Option<Object>)>,
    },
}

/// A change under way.
#[derive(Debug)]
pub(in crate::node) struct Change {
    path: PathBuf,
    text: String,
    /// The new file's document.
    doc: NewDoc,
    /// The configuration `text` makes.
    config: DaemonConfig,
    /// Only `[app]` objects change: the configuration is the running
    /// file's, and nothing is reloaded if it is the one running.
    app_only: bool,
    /// The file's text before, if this change writes it: put back when the
    /// apply fails.
    restore: Option<String>,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Local {
        reply: Option<ReplyTo>,
        wait: bool,
        /// The unit's role when the change was asked for: a change that
        /// restarts the Active's virtual router is still the Active's.
        role: Role,
        settings: Option<Box<SyncConfig>>,
        state_path: PathBuf,
        sync_key: Option<Result<String, String>>,
        sync_state: Result<Option<String>, String>,
    },
    Partner {
        id: u64,
        authority: Authority,
        root: String,
        changed: Vec<ObjectKey>,
    },
}

/// A local change's sync files, as the host read them.
struct SyncFiles {
    state_path: PathBuf,
    sync_key: Option<Result<String, String>>,
    sync_state: Result<Option<String>, String>,
}

/// The step a change is at.
#[derive(Debug)]
pub(in crate::node) enum Step {
    /// The new text is being written; the plan follows.
    Writing {
        token: WriteToken,
        change: Box<Change>,
    },
    /// The plan is with the host.
    Planned { tag: u64, change: Box<Change> },
    /// A partner change is applied; its state file is being written, the
    /// ACK follows.
    State {
        token: WriteToken,
        id: u64,
        generation: u64,
        changed: Vec<String>,
    },
}

impl Node {
    /// [`Input::ConfigureFile`](crate::node::Input::ConfigureFile).
    pub(in crate::node) fn on_config_file(
        &mut self,
        now: Instant,
        file: Result<Box<ConfigFile>, String>,
        reply: Option<ReplyTo>,
        wait: bool,
    ) {
        if self.stopping {
            if let Some(to) = reply {
                self.refuse(to, ControlRefusal::Stopping);
            }
            return;
        }
        match file {
            Err(error) => {
                self.emit(
                    now,
                    EventKind::ReloadFailed {
                        error: error.clone(),
                    },
                );
                if let Some(to) = reply {
                    self.refuse(to, ControlRefusal::Reconfigure(error));
                }
            }
            Ok(file) => {
                self.sync.queue.push_back(Work::Local {
                    file,
                    known: None,
                    reply,
                    wait,
                });
                self.sync_next(now);
            }
        }
    }

    /// Starts the next change if none is under way.
    pub(in crate::node) fn sync_next(&mut self, now: Instant) {
        while self.sync.step.is_none() {
            let Some(work) = self.sync.queue.pop_front() else {
                return;
            };
            match work {
                Work::Local {
                    file,
                    known,
                    reply,
                    wait,
                } => self.start_local(now, *file, known.map(|k| *k), reply, wait),
                Work::Partner(apply) => self.start_partner(now, apply),
            }
        }
    }

    fn start_local(
        &mut self,
        now: Instant,
        file: ConfigFile,
        known: Option<Known>,
        reply: Option<ReplyTo>,
        wait: bool,
    ) {
        let restore = self
            .sync
            .file
            .as_ref()
            .filter(|f| f.path == file.path)
            .map(|f| f.text.clone());
        // Worked out against the file as it still is?
        let version = self.sync.file_version;
        let (doc, app_only) = match known {
            Some(k) => {
                let app_only = k.app_only && k.base == version;
                let doc = NewDoc::Patch {
                    base: k.base,
                    objects: vec![(k.key, k.object)],
                };
                (doc, app_only)
            }
            None => (NewDoc::Unknown, false),
        };
        let change = Change {
            path: file.path,
            text: file.text,
            doc,
            app_only,
            restore: None,
            kind: Kind::Local {
                reply,
                wait,
                role: self.sync.run.as_ref().map_or(Role::Unknown, |r| r.role),
                settings: file.config.global.sync.clone().map(Box::new),
                state_path: state_path(&file.config.global),
                sync_key: file.sync_key,
                sync_state: file.sync_state,
            },
            config: file.config,
        };
        if file.write {
            self.write_then_plan(Box::new(Change { restore, ..change }));
        } else {
            self.start_plan(now, Box::new(change));
        }
    }

    fn start_partner(&mut self, now: Instant, apply: Apply) {
        let Some(run) = &self.sync.run else {
            return;
        };
        let refuse = |node: &mut Node, code: RejectCode, path: String, text: String| {
            node.partner_refused(now, apply.id, Refusal { code, path, text });
        };
        let Some(current) = &self.sync.file else {
            let text = "this unit has no configuration file to write".to_string();
            return refuse(self, RejectCode::Storage, String::new(), text);
        };
        let own = match &current.doc {
            Ok(d) => d,
            Err(e) => return refuse(self, e.code.reject_code(), e.path.clone(), e.text.clone()),
        };
        // The file is the adoption of the session's document before this
        // change: a change of [app] objects only is adopted object by
        // object; any other is adopted and checked whole.
        let version = self.sync.file_version;
        let by_object = run.adopted_of == Some(version) && document::app_only(&apply.changed);
        let adopted = if by_object {
            document::adopt_objects(own, &apply.document, &apply.changed, Some(&run.settings)).map(
                |a| {
                    (
                        a.text,
                        NewDoc::Patch {
                            base: version,
                            objects: a.objects,
                        },
                        None,
                    )
                },
            )
        } else {
            document::adopt_doc(own, &apply.document, Some(&run.settings))
                .map(|a| (a.text, NewDoc::Whole(a.doc), a.config))
        };
        let (text, doc, config) = match adopted {
            Ok(a) => a,
            Err(e) => return refuse(self, e.code.reject_code(), e.path, e.text),
        };
        // The session staged the change: its root is the document's.
        let root = hex(&run.session.root());
        let (path, restore) = (current.path.clone(), current.text.clone());
        let (config, app_only) = match config {
            Some(c) => (c, false),
            None => (current.config.clone(), true),
        };
        let Apply {
            id,
            document,
            changed,
            authority,
        } = apply;
        // The session's document is shared with it: let it go, so that the
        // session stages its next change in place.
        drop(document);
        let change = Change {
            path,
            text,
            doc,
            config,
            app_only,
            restore: Some(restore),
            kind: Kind::Partner {
                id,
                authority,
                root,
                changed,
            },
        };
        self.write_then_plan(Box::new(change));
    }

    fn write_then_plan(&mut self, change: Box<Change>) {
        let token = self.sync.token();
        self.outputs.push_back(Output::WriteFile {
            path: change.path.clone(),
            text: change.text.clone(),
            private: false,
            token,
        });
        self.sync.step = Some(Step::Writing { token, change });
    }

    /// Applies a written change with the reload plan; a change of `[app]`
    /// objects only, over the running file's configuration, leaves every
    /// instance as it is: it is done at once, answered as a reload that
    /// kept every unit.
    fn start_plan(&mut self, now: Instant, change: Box<Change>) {
        if change.app_only && self.sync.file_running {
            let unchanged = self.units.len();
            self.emit(
                now,
                EventKind::Reloaded {
                    stopped: Vec::new(),
                    started: Vec::new(),
                    unchanged,
                },
            );
            self.state_changed = true;
            return self.change_applied(now, change, (Vec::new(), Vec::new(), unchanged));
        }
        self.sync.next_tag += 1;
        let tag = self.sync.next_tag;
        let mut plan = self.plan(change.config.clone());
        plan.tag = Some(tag);
        self.outputs.push_back(Output::SetUp(Box::new(plan)));
        self.sync.step = Some(Step::Planned { tag, change });
    }

    /// Refuses the partner's change `id`: nothing changed here.
    fn partner_refused(&mut self, now: Instant, id: u64, refusal: Refusal) {
        let ev = SyncEvent::Refused {
            code: super::reject_code_name(refusal.code),
            path: refusal.path.clone(),
            text: refusal.text.clone(),
        };
        if let Some(run) = &mut self.sync.run {
            run.session.applied(now, id, Err(refusal));
        }
        self.emit_sync(now, ev);
        self.state_changed = true;
        self.sync_drain(now);
    }

    /// [`Input::Written`](crate::node::Input::Written).
    pub(in crate::node) fn on_written(
        &mut self,
        now: Instant,
        token: WriteToken,
        result: Result<(), String>,
    ) {
        match self.sync.step.take() {
            Some(Step::Writing { token: t, change }) if t == token => match result {
                Ok(()) => self.start_plan(now, change),
                Err(e) => {
                    let error = format!("cannot write {}: {e}", change.path.display());
                    self.change_failed(now, change, error, RejectCode::Storage, false, true);
                }
            },
            Some(Step::State {
                token: t,
                id,
                generation,
                changed,
            }) if t == token => {
                match result {
                    Ok(()) => {
                        if let Some(run) = &mut self.sync.run {
                            run.session.applied(now, id, Ok(()));
                            // The file is the adoption of the session's
                            // document now.
                            run.adopted_of = Some(self.sync.file_version);
                        }
                        self.emit_sync(
                            now,
                            SyncEvent::Applied {
                                generation,
                                changed,
                            },
                        );
                    }
                    Err(e) => {
                        let text = format!(
                            "the configuration is applied here, but the sync state file could not be written: {e}"
                        );
                        let refusal = Refusal {
                            code: RejectCode::Storage,
                            path: String::new(),
                            text,
                        };
                        self.partner_refused(now, id, refusal);
                    }
                }
                self.state_changed = true;
                self.sync_drain(now);
            }
            other => {
                self.sync.step = other;
                if let Some(path) = self.sync.background.remove(&token) {
                    if let Err(e) = result {
                        let text = format!("cannot write {}: {e}", path.display());
                        self.emit_sync(now, SyncEvent::Error { text });
                    }
                }
            }
        }
    }

    /// A change failed before or during its apply: the file is put back if
    /// it was written, the asker or the partner told.
    fn change_failed(
        &mut self,
        now: Instant,
        change: Box<Change>,
        error: String,
        code: RejectCode,
        written: bool,
        report: bool,
    ) {
        let change = *change;
        if let (true, Some(old)) = (written, change.restore) {
            let token = self.sync.token();
            self.sync.background.insert(token, change.path.clone());
            self.outputs.push_back(Output::WriteFile {
                path: change.path,
                text: old,
                private: false,
                token,
            });
        }
        match change.kind {
            Kind::Local { reply, .. } => {
                if report {
                    self.emit(
                        now,
                        EventKind::ReloadFailed {
                            error: error.clone(),
                        },
                    );
                }
                if let Some(to) = reply {
                    self.refuse(to, ControlRefusal::Reconfigure(error));
                }
                self.sync_drain(now);
            }
            Kind::Partner { id, .. } => {
                let refusal = Refusal {
                    code,
                    path: String::new(),
                    text: error,
                };
                self.partner_refused(now, id, refusal);
            }
        }
    }

    /// The apply of a tagged plan is done (called by the apply itself).
    pub(in crate::node) fn sync_plan_done(
        &mut self,
        now: Instant,
        tag: u64,
        result: Result<(Vec<String>, Vec<String>, usize), String>,
    ) {
        let change = match self.sync.step.take() {
            Some(Step::Planned { tag: t, change }) if t == tag => change,
            other => {
                self.sync.step = other;
                return;
            }
        };
        let reloaded = match result {
            Ok(r) => r,
            Err(e) => {
                // The apply reported its failure (`reload_failed`).
                let written = change.restore.is_some();
                return self.change_failed(
                    now,
                    change,
                    e,
                    RejectCode::LocalConflict,
                    written,
                    false,
                );
            }
        };
        self.change_applied(now, change, reloaded);
    }

    /// A change is applied (with its plan, or without one): it is the
    /// running file now; a local one is committed, a partner's persisted
    /// then acknowledged.
    fn change_applied(
        &mut self,
        now: Instant,
        change: Box<Change>,
        reloaded: (Vec<String>, Vec<String>, usize),
    ) {
        let change = *change;
        let version = self.sync.file_version;
        let before = self.sync.file.take().map(|f| f.doc);
        // The objects a change of [app] objects only made in place: a local
        // one commits just those.
        let mut patched = None;
        let doc = match (change.doc, before) {
            (NewDoc::Whole(d), _) => Ok(Arc::new(d)),
            (NewDoc::Patch { base, objects }, Some(Ok(mut doc))) if base == version => {
                // In place: the document is no one else's by now.
                let edit = Arc::make_mut(&mut doc);
                let mut keys = Vec::with_capacity(objects.len());
                for (key, object) in objects {
                    keys.push(key.clone());
                    edit.put_object(key, object);
                }
                if change.app_only {
                    patched = Some((keys, base));
                }
                Ok(doc)
            }
            _ => document::document(&change.text)
                .map(Arc::new)
                .map_err(|e| document::AdoptError::config(&e)),
        };
        self.sync.file = Some(CurrentFile {
            path: change.path,
            text: change.text,
            doc,
            config: change.config,
        });
        self.sync.file_version += 1;
        self.sync.file_running = true;
        match change.kind {
            Kind::Local {
                reply,
                wait,
                role,
                settings,
                state_path,
                sync_key,
                sync_state,
            } => {
                let files = SyncFiles {
                    state_path,
                    sync_key,
                    sync_state,
                };
                let outcome = self.after_local(now, settings.map(|s| *s), files, patched, role);
                self.answer_local(now, reply, wait, reloaded, outcome);
                self.sync_drain(now);
            }
            Kind::Partner {
                id,
                authority,
                root,
                changed,
            } => {
                let peer = self.sync.run.as_ref().and_then(|r| r.peer_unit.clone());
                // Bidirectional: the versions the change makes (empty in
                // active/standby mode).
                let versions = self
                    .sync
                    .run
                    .as_ref()
                    .map(|r| r.session.versions().into_iter().collect())
                    .unwrap_or_default();
                let text = SyncState {
                    authority,
                    root: Some(root),
                    peer,
                    versions,
                }
                .to_text();
                let Some(path) = self.sync.run.as_ref().map(|r| r.state_path.clone()) else {
                    return;
                };
                let token = self.sync.token();
                self.outputs.push_back(Output::WriteFile {
                    path,
                    text,
                    private: true,
                    token,
                });
                self.sync.step = Some(Step::State {
                    token,
                    id,
                    generation: authority.generation,
                    changed: changed.iter().map(ToString::to_string).collect(),
                });
            }
        }
    }

    /// A local change is applied: start, restart or stop sync as its
    /// `[sync]` says, or commit its shared form.
    ///
    /// `patched`: the change made these `[app]` objects of the file at that
    /// version, and nothing else.
    fn after_local(
        &mut self,
        now: Instant,
        settings: Option<SyncConfig>,
        files: SyncFiles,
        patched: Option<(Vec<ObjectKey>, u64)>,
        role: Role,
    ) -> SyncOutcome {
        let SyncFiles {
            state_path,
            sync_key,
            sync_state,
        } = files;
        let Some(settings) = settings else {
            if self.sync.run.is_some() || self.sync.off.is_some() {
                self.sync_stop(now, Some("[sync] was removed from the configuration"));
            }
            return SyncOutcome::NotConfigured;
        };
        let restart = match &self.sync.run {
            None => true,
            Some(r) => {
                r.settings != settings
                    || matches!(&sync_key, Some(Ok(k)) if *k != r.key_text)
                    || r.state_path != state_path
            }
        };
        if restart {
            self.sync_start(now, settings, sync_key, sync_state, state_path);
            return SyncOutcome::NotSynced {
                reason: "sync (re)started with these settings: the partner compares its configuration when it connects".into(),
            };
        }
        let version = self.sync.file_version;
        if let Some(outcome) = self.commit_objects(now, &settings, patched, role) {
            return outcome;
        }
        let shared = match self.sync.file.as_ref().map(|f| &f.doc) {
            None => return SyncOutcome::NotConfigured,
            Some(Ok(doc)) => document::shared_doc(doc, Some(&settings)),
            Some(Err(e)) => {
                let reason = format!("the shared configuration: {}", e.text);
                self.emit_sync(
                    now,
                    SyncEvent::NotSynced {
                        reason: reason.clone(),
                    },
                );
                return SyncOutcome::NotSynced { reason };
            }
        };
        let Some(run) = &mut self.sync.run else {
            return SyncOutcome::NotConfigured;
        };
        if shared == *run.session.document() {
            run.shared_of = Some(version);
            return SyncOutcome::Unchanged;
        }
        let result = if !run.settings.bidirectional && role == Role::Backup {
            // The Active's document replaces it at the next repair.
            run.session.set_document(now, shared);
            run.shared_of = Some(version);
            Err(CommitError::NotActive)
        } else {
            let r = run.session.commit_as(now, shared, role);
            run.shared_of = r.is_ok().then_some(version);
            r
        };
        self.committed(now, result)
    }

    /// A local change of some `[app]` objects (`patched`) of the file whose
    /// shared form the session has: commits the shared form of just those
    /// objects. `None`: the whole shared form is to be committed.
    fn commit_objects(
        &mut self,
        now: Instant,
        settings: &SyncConfig,
        patched: Option<(Vec<ObjectKey>, u64)>,
        role: Role,
    ) -> Option<SyncOutcome> {
        let (keys, base) = patched?;
        let version = self.sync.file_version;
        let doc = match &self.sync.file.as_ref()?.doc {
            Ok(d) => Arc::clone(d),
            Err(_) => return None,
        };
        let run = self.sync.run.as_mut()?;
        let backup = !run.settings.bidirectional && role == Role::Backup;
        if run.shared_of != Some(base) || backup {
            return None;
        }
        let schema = document::schema_for(Some(settings));
        let addresses = document::addresses(Some(settings));
        let objects: Vec<(ObjectKey, Option<Object>)> = keys
            .into_iter()
            .map(|key| {
                let shared = doc
                    .object(&key)
                    .map(|o| schema.shared_object(&key.section, o, &addresses))
                    .filter(|o| !o.is_empty());
                (key, shared)
            })
            .filter(|(key, shared)| run.session.document().object(key) != shared.as_ref())
            .collect();
        drop(doc);
        if objects.is_empty() {
            run.shared_of = Some(version);
            return Some(SyncOutcome::Unchanged);
        }
        let result = run.session.commit_objects(now, objects, role);
        run.shared_of = result.is_ok().then_some(version);
        Some(self.committed(now, result))
    }

    /// The outcome of a commit (or of a Backup's change the Active's
    /// document replaces).
    fn committed(&mut self, now: Instant, result: Result<Authority, CommitError>) -> SyncOutcome {
        match result {
            Ok(authority) => {
                let generation = authority.generation;
                self.emit_sync(now, SyncEvent::Committed { generation });
                self.sync_persist();
                self.state_changed = true;
                SyncOutcome::Pending { generation }
            }
            Err(e) => {
                let reason = match e {
                    CommitError::NotActive => {
                        "this unit is the Backup of an active-standby pair: the Active's configuration will replace it".to_string()
                    }
                    other => other.to_string(),
                };
                self.emit_sync(
                    now,
                    SyncEvent::NotSynced {
                        reason: reason.clone(),
                    },
                );
                SyncOutcome::NotSynced { reason }
            }
        }
    }

    fn answer_local(
        &mut self,
        now: Instant,
        reply: Option<ReplyTo>,
        wait: bool,
        reloaded: (Vec<String>, Vec<String>, usize),
        outcome: SyncOutcome,
    ) {
        let Some(to) = reply else {
            return;
        };
        if !wait {
            self.outputs.push_back(Output::Reply {
                to,
                reply: reconfigured(reloaded),
            });
            return;
        }
        let w = Wait {
            reply: to,
            generation: 0,
            deadline: now + super::PARTNER_WAIT,
            reloaded,
        };
        // No partner connected: no ACK can come; say pending at once.
        let alone =
            self.sync.run.as_ref().is_none_or(|r| {
                r.session.state() == tandem_config_sync::session::State::Disconnected
            });
        match outcome {
            SyncOutcome::Pending { generation } if !alone => {
                self.sync.waits.push(Wait { generation, ..w });
            }
            other => self.reply_applied(w, other),
        }
    }
}
