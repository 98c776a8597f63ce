//! The configuration-sync adapter: the Node's one [`Session`] when the
//! configuration has `[sync]`, fed with the sync connection's bytes, the
//! election's role and the configuration file's changes; its decisions
//! come out as the Node's outputs.
//!
//! - The session starts when a configuration file with `[sync]` is
//!   applied ([`Input::ConfigureFile`](super::Input::ConfigureFile)): the
//!   key from the key file's text, the document from the file's shared
//!   form ([`config::document::shared`]), the authority from the sync state
//!   file ([`state_path`]). Changed `[sync]` settings (or key) restart it;
//!   a file without `[sync]` stops it ([`Output::SyncStop`]).
//! - A change from the partner ([`Output::Apply`](tandem_config_sync::session::Output::Apply))
//!   is adopted into this unit's file ([`config::document::adopt`]: local
//!   settings kept), written ([`Output::WriteFile`]), applied with the
//!   reload plan (unchanged units untouched), the state file written, and
//!   only then acknowledged. A refusal at any step changes nothing and is
//!   sent back with its code and path (the file is restored if it was
//!   already written).
//! - A local change (SIGHUP, `config apply`, `config set`) is applied, and
//!   if its shared form differs from the session's document it is
//!   committed; on the Backup of an active-standby pair sync refuses the
//!   commit and the change stays local (`sync_not_synced`).
//! - One change at a time: others wait in order. A configuration without
//!   its text ([`Input::Configure`](super::Input::Configure): flags, an
//!   embedder's typed reconfigure) is applied as before and leaves sync
//!   as it is.
//! - The role (Active when any instance is Active) goes to the session on
//!   every change; while the session is not ready, every instance holds
//!   preemption ([`Command::HoldPreemption`](tandem_election::Command::HoldPreemption)).
//! - The lower unit id dials; until the partner's id is known (it is kept
//!   in the state file) both dial, and the host keeps one connection.

mod change;
mod control;
mod event;
mod state;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tandem_config_sync::channel::{Key, Side};
use tandem_config_sync::digest::{hex, DigestTree};
use tandem_config_sync::doc::Document;
use tandem_config_sync::frame::{Mode, RejectCode, Role};
use tandem_config_sync::session::{self, Authority, Config, Session, State};
use tandem_election::Instant;

pub use control::{is_secret, MASK};
pub use event::SyncEvent;
pub use state::{SyncState, HEADER as STATE_HEADER, MAX_STATE_BYTES};

use super::input::{ReplyTo, SyncSide, WriteToken};
use super::output::{EventKind, Output};
use super::Node;
use crate::config::document::AdoptError;
use crate::config::{self, DaemonConfig, GlobalConfig, SyncConfig};
use crate::control::api::{ControlReply, SyncOutcome};
use crate::snapshot::SyncStatus;

/// How long `config apply` waits for the partner's ACK or REJECT.
pub const PARTNER_WAIT: Duration = Duration::from_secs(2);

/// The sync state file's name in `state_dir`.
pub const STATE_FILE: &str = "sync-state";

/// The largest key file read, in bytes.
pub const MAX_KEY_BYTES: u64 = 4096;

/// Where the sync state file of a configuration is.
pub fn state_path(global: &GlobalConfig) -> PathBuf {
    global.state_dir.join(STATE_FILE)
}

/// The running configuration file.
#[derive(Debug, Clone)]
pub(super) struct CurrentFile {
    pub(super) path: PathBuf,
    pub(super) text: String,
    /// The text's document ([`config::document::document`]), or why it
    /// has none: kept so that a change costs its objects, not a parse of
    /// the file.
    pub(super) doc: Result<Arc<Document>, AdoptError>,
    /// The configuration the text makes.
    pub(super) config: DaemonConfig,
}

/// The session with what it was started from.
#[derive(Debug)]
pub(super) struct Running {
    pub(super) settings: SyncConfig,
    pub(super) key_text: String,
    pub(super) state_path: PathBuf,
    pub(super) session: Session,
    pub(super) connected: bool,
    pub(super) dialing: Option<SocketAddr>,
    pub(super) peer_unit: Option<String>,
    pub(super) state: State,
    pub(super) role: Role,
    /// The [`file_version`](SyncAdapter::file_version) of the file whose
    /// shared form the session's document is: a local change of some
    /// objects of that file commits just those.
    pub(super) shared_of: Option<u64>,
    /// The file version that is the adoption of the session's document (a
    /// partner's change applied): the partner's next change of some
    /// objects is adopted object by object.
    pub(super) adopted_of: Option<u64>,
}

/// A `config apply` / `config set` answer waiting for the partner.
#[derive(Debug)]
pub(super) struct Wait {
    pub(super) reply: ReplyTo,
    pub(super) generation: u64,
    pub(super) deadline: Instant,
    pub(super) reloaded: (Vec<String>, Vec<String>, usize),
}

/// The adapter's state (a field of the Node).
#[derive(Debug, Default)]
pub(super) struct SyncAdapter {
    pub(super) file: Option<CurrentFile>,
    /// Counts the changes of `file`: a change worked out against the file
    /// as it was knows whether it still is.
    pub(super) file_version: u64,
    /// The running configuration is `file`'s (not one given without its
    /// text): a change that leaves `file`'s configuration as it is needs
    /// no reload.
    pub(super) file_running: bool,
    pub(super) run: Option<Running>,
    /// `[sync]` is configured but sync could not start: why.
    pub(super) off: Option<(SyncConfig, String)>,
    pub(super) queue: VecDeque<change::Work>,
    pub(super) step: Option<change::Step>,
    /// Writes whose answer only matters if it fails, by token.
    pub(super) background: BTreeMap<WriteToken, PathBuf>,
    pub(super) next_token: u64,
    pub(super) next_tag: u64,
    pub(super) waits: Vec<Wait>,
    /// The last `HoldPreemption` given to every instance.
    pub(super) held: Option<bool>,
}

impl SyncAdapter {
    pub(super) fn token(&mut self) -> WriteToken {
        self.next_token += 1;
        WriteToken(self.next_token)
    }
}

/// The operator's name of a reject code.
pub fn reject_code_name(code: RejectCode) -> String {
    match code {
        RejectCode::Invalid => "invalid".into(),
        RejectCode::LocalConflict => "local-conflict".into(),
        RejectCode::TooLarge => "too-large".into(),
        RejectCode::Storage => "storage".into(),
        RejectCode::Stale => "stale".into(),
        RejectCode::Version => "version".into(),
        RejectCode::Digest => "digest".into(),
        RejectCode::Other(n) => format!("code-{n}"),
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Active => "active",
        Role::Backup => "backup",
        Role::Unknown => "unknown",
    }
}

fn state_detail(state: &State) -> Option<String> {
    match state {
        State::Pending { generation } => Some(format!("generation {generation}")),
        State::Diverged { sections } => Some(sections.join(", ")),
        State::Conflict { objects } => Some(
            objects
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        ),
        State::Blocked { reason } => Some(reason.clone()),
        _ => None,
    }
}

impl Node {
    // ----- starting and stopping ---------------------------------------------

    /// Starts (or restarts) the session for `settings` over the running
    /// file; on failure sync is off, with the reason in the status.
    pub(super) fn sync_start(
        &mut self,
        now: Instant,
        settings: SyncConfig,
        key: Option<Result<String, String>>,
        state_text: Result<Option<String>, String>,
        state_path: PathBuf,
    ) {
        self.sync_stop(now, None);
        let off = |node: &mut Node, settings: SyncConfig, why: String| {
            node.emit_sync(now, SyncEvent::Error { text: why.clone() });
            node.sync.off = Some((settings, why));
            node.state_changed = true;
        };
        let key_text = match key {
            Some(Ok(t)) => t,
            Some(Err(e)) => {
                let why = format!("key file {}: {e}", settings.key_file.display());
                return off(self, settings, why);
            }
            None => {
                let why = format!("key file {} was not read", settings.key_file.display());
                return off(self, settings, why);
            }
        };
        let key = match Key::parse_file(&key_text) {
            Ok(k) => k,
            Err(e) => {
                let why = format!("key file {}: {e}", settings.key_file.display());
                return off(self, settings, why);
            }
        };
        let document = match self.sync.file.as_ref().map(|f| &f.doc) {
            None => Err("no configuration file".to_string()),
            Some(Err(e)) => Err(format!("the shared configuration: {}", e.text)),
            Some(Ok(doc)) => Ok(config::document::shared_doc(doc, Some(&settings))),
        };
        let document = match document {
            Ok(d) => d,
            Err(why) => return off(self, settings, why),
        };
        let persisted = match state_text {
            Ok(Some(t)) => match SyncState::parse(&t) {
                Ok(s) => s,
                Err(e) => {
                    let text = format!(
                        "sync state file {}: {e}; starting from epoch 0 (the partner's configuration is not taken without `sync force` or pairing)",
                        state_path.display()
                    );
                    self.emit_sync(now, SyncEvent::Error { text });
                    SyncState::default()
                }
            },
            Ok(None) => SyncState::default(),
            Err(e) => {
                let text = format!("sync state file {}: {e}", state_path.display());
                self.emit_sync(now, SyncEvent::Error { text });
                SyncState::default()
            }
        };
        let mode = if settings.bidirectional {
            Mode::Bidirectional
        } else {
            Mode::ActiveStandby
        };
        let mut cfg = Config::new(settings.unit.clone(), settings.cluster.clone(), key, mode);
        cfg.max_document = settings.max_document;
        cfg.boot = self.settings.unix_at_zero.to_bits() ^ now.since_origin().as_nanos() as u64;
        // Wall time for bidirectional mode's hybrid logical clock: the
        // later edit of two concurrent ones wins, across units.
        cfg.unix_ms_at_zero = (self.settings.unix_at_zero.max(0.0) * 1000.0) as u64;
        if let Some(root) = &persisted.root {
            let now_root = hex(&DigestTree::new(cfg.schema_version, &document).root());
            if *root != now_root {
                let text = "the shared configuration changed while tandemd was not running; \
                            the partner compares it when it connects"
                    .to_string();
                self.emit_sync(now, SyncEvent::Error { text });
            }
        }
        let mut session = Session::new(cfg, document, persisted.authority);
        if mode == Mode::Bidirectional {
            session.restore_versions(persisted.versions.into_iter().collect());
        }
        let dial = persisted
            .peer
            .as_deref()
            .is_none_or(|p| settings.unit.as_str() < p)
            .then_some(settings.peer);
        self.outputs.push_back(Output::SyncListen {
            listen: settings.listen,
        });
        self.outputs.push_back(Output::SyncDial { peer: dial });
        let state = session.state();
        self.sync.off = None;
        self.sync.held = None;
        self.sync.run = Some(Running {
            settings,
            key_text,
            state_path,
            session,
            connected: false,
            dialing: dial,
            peer_unit: persisted.peer,
            state: State::Disconnected,
            role: Role::Unknown,
            shared_of: Some(self.sync.file_version),
            adopted_of: None,
        });
        self.emit_sync(
            now,
            SyncEvent::State {
                from: "off".into(),
                to: state.name().into(),
                detail: state_detail(&state),
            },
        );
        if let Some(r) = &mut self.sync.run {
            r.state = state;
        }
        self.state_changed = true;
        self.sync_settle(now);
    }

    /// Stops the session (a file without `[sync]`, or before a restart).
    pub(super) fn sync_stop(&mut self, now: Instant, why: Option<&str>) {
        self.sync.off = None;
        let Some(run) = self.sync.run.take() else {
            return;
        };
        self.outputs.push_back(Output::SyncStop);
        for w in std::mem::take(&mut self.sync.waits) {
            self.reply_applied(
                w,
                SyncOutcome::NotSynced {
                    reason: "sync stopped".into(),
                },
            );
        }
        if let Some(why) = why {
            self.emit_sync(
                now,
                SyncEvent::State {
                    from: run.state.name().into(),
                    to: "off".into(),
                    detail: Some(why.into()),
                },
            );
        }
        self.state_changed = true;
    }

    // ----- the connection -------------------------------------------------------

    pub(super) fn on_sync_connected(&mut self, now: Instant, side: SyncSide) {
        let Some(run) = &mut self.sync.run else {
            self.outputs.push_back(Output::SyncClose {
                reason: "configuration sync is not running".into(),
            });
            return;
        };
        let side = match side {
            SyncSide::Initiator => Side::Initiator,
            SyncSide::Responder => Side::Responder,
        };
        run.connected = true;
        if let Err(e) = run.session.connect(now, side) {
            run.connected = false;
            let text = e.to_string();
            self.outputs.push_back(Output::SyncClose {
                reason: text.clone(),
            });
            self.emit_sync(now, SyncEvent::Error { text });
        }
        self.state_changed = true;
        self.sync_drain(now);
    }

    pub(super) fn on_sync_received(&mut self, now: Instant, bytes: &[u8]) {
        if let Some(run) = &mut self.sync.run {
            if run.connected {
                run.session.receive(now, bytes);
                self.counters_changed = true;
                self.sync_drain(now);
            }
        }
    }

    pub(super) fn on_sync_closed(&mut self, now: Instant, reason: &str) {
        if let Some(run) = &mut self.sync.run {
            if run.connected {
                run.connected = false;
                run.session.closed(now);
                let text = format!("connection closed: {reason}");
                self.emit_sync(now, SyncEvent::Error { text });
                self.state_changed = true;
                self.sync_drain(now);
            }
        }
    }

    // ----- the session's outputs ------------------------------------------------

    /// Carries out the session's outputs.
    pub(super) fn sync_drain(&mut self, now: Instant) {
        loop {
            let Some(run) = &mut self.sync.run else {
                return;
            };
            let Some(out) = run.session.poll_output() else {
                break;
            };
            match out {
                session::Output::Transmit(bytes) => {
                    self.outputs.push_back(Output::SyncTransmit { bytes });
                }
                session::Output::Close { reason } => {
                    run.connected = false;
                    self.outputs.push_back(Output::SyncClose { reason });
                    self.state_changed = true;
                }
                session::Output::Apply(apply) => {
                    self.sync.queue.push_back(change::Work::Partner(apply));
                }
                session::Output::Event(e) => self.on_session_event(now, e),
            }
        }
        self.sync_next(now);
    }

    fn on_session_event(&mut self, now: Instant, e: session::Event) {
        match e {
            session::Event::State(state) => {
                let Some(run) = &mut self.sync.run else {
                    return;
                };
                let from = run.state.name();
                run.state = state.clone();
                self.state_changed = true;
                self.emit_sync(
                    now,
                    SyncEvent::State {
                        from: from.into(),
                        to: state.name().into(),
                        detail: state_detail(&state),
                    },
                );
            }
            session::Event::Peer { unit, software } => {
                self.outputs.push_back(Output::SyncAuthenticated);
                self.on_peer(now, &unit);
                self.emit_sync(now, SyncEvent::Peer { unit, software });
            }
            session::Event::Acked { generation } => {
                self.resolve_waits(generation, |g| SyncOutcome::Acked { generation: g }, true);
                self.emit_sync(now, SyncEvent::Acked { generation });
            }
            session::Event::Rejected {
                generation,
                refusal,
            } => {
                let code = reject_code_name(refusal.code);
                let (path, text) = (refusal.path, refusal.text);
                let outcome = SyncOutcome::Rejected {
                    generation,
                    code: code.clone(),
                    path: path.clone(),
                    text: text.clone(),
                };
                self.resolve_waits(generation, |_| outcome.clone(), false);
                self.emit_sync(
                    now,
                    SyncEvent::Rejected {
                        generation,
                        code,
                        path,
                        text,
                    },
                );
            }
            session::Event::Diverged { objects } => {
                let objects = objects.iter().map(ToString::to_string).collect();
                self.emit_sync(now, SyncEvent::Diverged { objects });
            }
            session::Event::Conflict(c) => {
                let ev = SyncEvent::Conflict {
                    object: c.key.to_string(),
                    winner: c.winner,
                    loser: c.loser,
                    lost: c
                        .lost
                        .map(|o| control::value_text(&tandem_config_sync::value::Value::Table(o))),
                };
                self.emit_sync(now, ev);
            }
            session::Event::Error { text } => self.emit_sync(now, SyncEvent::Error { text }),
            _ => {}
        }
    }

    /// The partner's unit id is known: the lower id dials, the other only
    /// accepts; the id is kept in the state file.
    fn on_peer(&mut self, _now: Instant, unit: &str) {
        let Some(run) = &mut self.sync.run else {
            return;
        };
        if run.peer_unit.as_deref() == Some(unit) {
            return;
        }
        run.peer_unit = Some(unit.to_string());
        let dial = (run.settings.unit.as_str() < unit).then_some(run.settings.peer);
        if dial != run.dialing {
            run.dialing = dial;
            self.outputs.push_back(Output::SyncDial { peer: dial });
        }
        self.sync_persist();
    }

    /// Writes the state file (in the background: a failure is reported).
    pub(super) fn sync_persist(&mut self) {
        let Some(run) = &self.sync.run else {
            return;
        };
        let status = run.session.status();
        let text = SyncState {
            authority: status.local,
            root: Some(hex(&status.local_root)),
            peer: run.peer_unit.clone(),
            versions: run.session.versions().into_iter().collect(),
        }
        .to_text();
        let path = run.state_path.clone();
        let token = self.sync.token();
        self.sync.background.insert(token, path.clone());
        self.outputs.push_back(Output::WriteFile {
            path,
            text,
            private: true,
            token,
        });
    }

    /// Answers the waits for `generation` (and, if `up_to`, earlier ones).
    fn resolve_waits(
        &mut self,
        generation: u64,
        outcome: impl Fn(u64) -> SyncOutcome,
        up_to: bool,
    ) {
        let (done, keep): (Vec<Wait>, Vec<Wait>) = std::mem::take(&mut self.sync.waits)
            .into_iter()
            .partition(|w| w.generation == generation || (up_to && w.generation < generation));
        self.sync.waits = keep;
        for w in done {
            let o = outcome(w.generation);
            self.reply_applied(w, o);
        }
    }

    pub(super) fn reply_applied(&mut self, w: Wait, sync: SyncOutcome) {
        let (stopped, started, unchanged) = w.reloaded;
        self.outputs.push_back(Output::Reply {
            to: w.reply,
            reply: ControlReply::ConfigApplied {
                stopped,
                started,
                unchanged,
                sync,
            },
        });
    }

    pub(super) fn emit_sync(&mut self, now: Instant, e: SyncEvent) {
        self.emit(now, EventKind::Sync(e));
    }

    // ----- role, preemption, timers -------------------------------------------------

    /// After every input and timer: the role to the session, preemption
    /// held while it is not ready.
    pub(super) fn sync_settle(&mut self, now: Instant) {
        let role = if self.instances.is_empty() {
            Role::Unknown
        } else if self
            .instances
            .iter()
            .any(|i| self.router(i).state() == tandem_election::State::Active)
        {
            Role::Active
        } else {
            Role::Backup
        };
        let want_hold = match &mut self.sync.run {
            Some(run) => {
                if run.role != role {
                    run.role = role;
                    run.session.set_role(now, role);
                    self.state_changed = true;
                    self.sync_drain(now);
                }
                self.sync.run.as_ref().is_some_and(|r| !r.session.ready())
            }
            None => false,
        };
        self.settle_hold(now, want_hold);
    }

    pub(super) fn sync_poll_timeout(&self) -> Option<Instant> {
        let session = self
            .sync
            .run
            .as_ref()
            .and_then(|r| r.session.poll_timeout());
        let wait = self.sync.waits.iter().map(|w| w.deadline).min();
        session.into_iter().chain(wait).min()
    }

    pub(super) fn sync_handle_timeout(&mut self, now: Instant) {
        if let Some(run) = &mut self.sync.run {
            if run.session.poll_timeout().is_some_and(|t| t <= now) {
                run.session.handle_timeout(now);
                self.sync_drain(now);
            }
        }
        if self.sync.waits.iter().any(|w| w.deadline <= now) {
            let (due, keep): (Vec<Wait>, Vec<Wait>) = std::mem::take(&mut self.sync.waits)
                .into_iter()
                .partition(|w| w.deadline <= now);
            self.sync.waits = keep;
            for w in due {
                let generation = w.generation;
                self.reply_applied(w, SyncOutcome::Pending { generation });
            }
        }
        self.sync_settle(now);
    }

    /// The status as `sync status` and the snapshot show it.
    pub(super) fn sync_status(&self, now: Instant) -> Option<SyncStatus> {
        if let Some((settings, why)) = &self.sync.off {
            return Some(SyncStatus {
                state: "off".into(),
                mode: mode_name(settings).into(),
                unit: settings.unit.clone(),
                role: "unknown".into(),
                ready: true,
                last_error: Some(why.clone()),
                ..SyncStatus::default()
            });
        }
        let run = self.sync.run.as_ref()?;
        let state = run.session.state();
        let s = run.session.status();
        Some(SyncStatus {
            state: state.name().into(),
            detail: state_detail(&state),
            mode: mode_name(&run.settings).into(),
            unit: run.settings.unit.clone(),
            role: role_name(run.role).into(),
            ready: run.session.ready(),
            connected: run.connected,
            local_epoch: s.local.epoch,
            local_generation: s.local.generation,
            local_root: hex(&s.local_root),
            peer_unit: s.peer_unit.or_else(|| run.peer_unit.clone()),
            peer_software: s.peer_software,
            peer_epoch: s.peer.map(|a: Authority| a.epoch),
            peer_generation: s.peer.map(|a| a.generation),
            peer_root: s.peer_root.as_ref().map(hex),
            last_success_age_s: s
                .last_success
                .map(|t| now.saturating_since(t).as_secs_f64()),
            last_error: s.last_error,
            bytes_sent: s.bytes_sent,
            bytes_received: s.bytes_received,
            config_bytes_sent: s.config_bytes_sent,
            applied: s.applied,
            rejected: s.rejected,
            conflicts: s.conflicts,
        })
    }
}

fn mode_name(s: &SyncConfig) -> &'static str {
    if s.bidirectional {
        "bidirectional"
    } else {
        "active-standby"
    }
}

/// The answer to a local change that does not wait for the partner.
pub(super) fn reconfigured(r: (Vec<String>, Vec<String>, usize)) -> ControlReply {
    ControlReply::Reconfigured {
        stopped: r.0,
        started: r.1,
        unchanged: r.2,
    }
}
