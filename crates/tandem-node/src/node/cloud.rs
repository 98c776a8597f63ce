//! The provider hook of `[cloud]` (docs/cloud.md), sans-IO: when to run
//! `on_active` and `on_standby`, and the retry schedule.
//!
//! The node is Active for the hooks while every watched instance is
//! Active. On becoming Active, `on_active` runs; when it fails (exits
//! non-zero, is killed at its timeout, or does not start) it runs again
//! after [`retry_delay`], until it exits 0, `attempts` runs were made, or
//! the node leaves Active. Leaving Active (after having been Active) runs
//! `on_standby` the same way. A run superseded by a change of the node's
//! state is not waited for and not retried: the new state's hook queues
//! behind it, so the two never run at once. [`CloudHooks`] holds these
//! decisions with an injected `now`; the Node turns its steps into
//! [`Output::RunCloudHook`] and events, and
//! the host runs the command (`hooks::HookRunner::run_command`) and hands
//! the result back as [`Input::CloudHookDone`](super::Input::CloudHookDone).

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::time::Duration;

use serde_json::{json, Value};
use tandem_election::Instant;

use super::output::{EventKind, Output};
use super::{Level, Node, State};
use crate::config::{CloudConfig, SyncGroupConfig, MAX_RETRY_DELAY};
use crate::hooks::{CommandRun, RunResult};
use crate::snapshot::{CloudHookStatus, CloudStatus};

/// The queue key of the provider hook's runs (no instance name has a
/// space, so no notify hook shares it).
pub const HOOK_KEY: &str = "cloud provider";

/// Which hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Hook {
    /// `on_active`: the node became Active.
    OnActive,
    /// `on_standby`: the node left Active.
    OnStandby,
}

impl Hook {
    /// `on_active` or `on_standby`: the stable name.
    pub const fn name(self) -> &'static str {
        match self {
            Hook::OnActive => "on_active",
            Hook::OnStandby => "on_standby",
        }
    }
}

/// The wait before the next attempt after `failures` failed ones (1 or
/// more): `first`, doubling after each further failure, at most
/// [`MAX_RETRY_DELAY`].
pub fn retry_delay(first: Duration, failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(31);
    first
        .checked_mul(1 << doublings)
        .unwrap_or(MAX_RETRY_DELAY)
        .min(MAX_RETRY_DELAY)
}

/// What [`CloudHooks`] asks for, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Run `hook` now (its `attempt`-th run, from 1), as run `id`; hand
    /// its result to [`CloudHooks::handle_done`] with that id.
    Run {
        /// The run's id.
        id: u64,
        /// The hook.
        hook: Hook,
        /// Which attempt, from 1.
        attempt: u32,
    },
    /// Something to report.
    Event(CloudEvent),
}

/// Where the current hook is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Its attempt runs.
    Running,
    /// It failed; the next attempt is due then.
    Waiting(Instant),
    /// It exited 0.
    Done,
    /// Every attempt failed.
    GaveUp,
}

impl Phase {
    const fn name(self) -> &'static str {
        match self {
            Phase::Running => "running",
            Phase::Waiting(_) => "waiting",
            Phase::Done => "done",
            Phase::GaveUp => "gave_up",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Run {
    id: u64,
    hook: Hook,
    attempt: u32,
    phase: Phase,
    last: Option<RunResult>,
}

/// The decisions of the provider hook: see the [module docs](self).
#[derive(Debug, Clone)]
pub struct CloudHooks {
    has: [bool; 2],
    attempts: u32,
    retry_delay: Duration,
    active: bool,
    was_active: bool,
    run: Option<Run>,
    /// Runs superseded while they ran, by id: their results are counted
    /// but not retried.
    superseded: VecDeque<(u64, Hook)>,
    next_id: u64,
    steps: VecDeque<Step>,
    results: BTreeMap<(Hook, &'static str), u64>,
}

impl CloudHooks {
    /// The decisions for `cfg`'s hooks; the node starts not Active.
    pub fn new(cfg: &CloudConfig) -> CloudHooks {
        CloudHooks {
            has: [cfg.on_active.is_some(), cfg.on_standby.is_some()],
            attempts: cfg.attempts.max(1),
            retry_delay: cfg.retry_delay,
            active: false,
            was_active: false,
            run: None,
            superseded: VecDeque::new(),
            next_id: 0,
            steps: VecDeque::new(),
            results: BTreeMap::new(),
        }
    }

    /// Takes a new configuration's hooks and retry settings; the node's
    /// state and the current run are kept.
    pub fn reconfigure(&mut self, cfg: &CloudConfig) {
        self.has = [cfg.on_active.is_some(), cfg.on_standby.is_some()];
        self.attempts = cfg.attempts.max(1);
        self.retry_delay = cfg.retry_delay;
    }

    /// Whether the node is Active for the hooks.
    pub fn is_active(&self) -> bool {
        self.active
    }

    fn has(&self, hook: Hook) -> bool {
        self.has[hook as usize]
    }

    /// The node is (`true`) or is not Active now. A change starts the new
    /// state's hook, and ends the old one's retries.
    pub fn set_active(&mut self, _now: Instant, active: bool) {
        if active == self.active {
            return;
        }
        self.active = active;
        self.steps
            .push_back(Step::Event(CloudEvent::State { active }));
        let hook = if active {
            self.was_active = true;
            Hook::OnActive
        } else if self.was_active {
            Hook::OnStandby
        } else {
            return;
        };
        if self.has(hook) {
            self.start(hook, 1);
        } else {
            self.supersede();
        }
    }

    /// Ends the current run's retries: no hook for the node's new state.
    fn supersede(&mut self) {
        if let Some(old) = self.run.take().filter(|r| r.phase == Phase::Running) {
            if self.superseded.len() >= 16 {
                self.superseded.pop_front();
            }
            self.superseded.push_back((old.id, old.hook));
        }
    }

    fn start(&mut self, hook: Hook, attempt: u32) {
        if let Some(old) = self.run.filter(|r| r.phase == Phase::Running) {
            if self.superseded.len() >= 16 {
                self.superseded.pop_front();
            }
            self.superseded.push_back((old.id, old.hook));
        }
        self.next_id += 1;
        let id = self.next_id;
        let last = self.run.filter(|r| r.hook == hook).and_then(|r| r.last);
        self.run = Some(Run {
            id,
            hook,
            attempt,
            phase: Phase::Running,
            last,
        });
        self.steps.push_back(Step::Run { id, hook, attempt });
    }

    /// Run `id` ended with `result`. The current run that failed is
    /// retried (or given up); an older one is only counted.
    pub fn handle_done(&mut self, now: Instant, id: u64, result: RunResult, elapsed: Duration) {
        let Some(run) = self.run.filter(|r| r.id == id && r.phase == Phase::Running) else {
            // Superseded: the hook of the node's new state is queued.
            let Some(k) = self.superseded.iter().position(|(i, _)| *i == id) else {
                return;
            };
            let Some((_, hook)) = self.superseded.remove(k) else {
                return;
            };
            *self.results.entry((hook, result.name())).or_default() += 1;
            self.steps.push_back(Step::Event(CloudEvent::Hook {
                hook,
                attempt: 0,
                result,
                elapsed,
                next: Next::Superseded,
            }));
            return;
        };
        *self.results.entry((run.hook, result.name())).or_default() += 1;
        let next = if result == RunResult::Ok {
            Next::Done
        } else if run.attempt >= self.attempts {
            Next::GaveUp
        } else {
            Next::Retry(retry_delay(self.retry_delay, run.attempt))
        };
        let phase = match next {
            Next::Done => Phase::Done,
            Next::GaveUp => Phase::GaveUp,
            Next::Retry(d) => Phase::Waiting(now + d),
            Next::Superseded => Phase::Running,
        };
        self.run = Some(Run {
            phase,
            last: Some(result),
            ..run
        });
        self.steps.push_back(Step::Event(CloudEvent::Hook {
            hook: run.hook,
            attempt: run.attempt,
            result,
            elapsed,
            next,
        }));
    }

    /// When [`CloudHooks::handle_timeout`] is due: the next attempt.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.run?.phase {
            Phase::Waiting(at) => Some(at),
            _ => None,
        }
    }

    /// Starts the next attempt when it is due. Early or repeated calls
    /// are harmless.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(run) = self.run {
            if let Phase::Waiting(at) = run.phase {
                if at <= now {
                    self.start(run.hook, run.attempt + 1);
                }
            }
        }
    }

    /// The next step, in order.
    pub fn poll_step(&mut self) -> Option<Step> {
        self.steps.pop_front()
    }

    /// The current (or last) run: hook, attempt, phase name, last result.
    fn status(&self) -> Option<CloudHookStatus> {
        self.run.map(|r| CloudHookStatus {
            hook: r.hook.name().into(),
            attempt: r.attempt,
            state: r.phase.name().into(),
            last_result: r.last.map(|l| l.name().into()),
        })
    }

    /// Results counted, as `hook result` → count.
    fn results(&self) -> BTreeMap<String, u64> {
        self.results
            .iter()
            .map(|((h, r), n)| (format!("{} {r}", h.name()), *n))
            .collect()
    }
}

/// What comes after a run's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// It exited 0: nothing more.
    Done,
    /// It failed: the next attempt after this long.
    Retry(Duration),
    /// It failed and was the last attempt.
    GaveUp,
    /// The node's state changed while it ran: not retried.
    Superseded,
}

impl Next {
    /// `done`, `retry`, `gave_up` or `superseded`.
    pub const fn name(self) -> &'static str {
        match self {
            Next::Done => "done",
            Next::Retry(_) => "retry",
            Next::GaveUp => "gave_up",
            Next::Superseded => "superseded",
        }
    }
}

/// What the provider hook reports. Each variant has a stable
/// [`name`](CloudEvent::name).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloudEvent {
    /// `cloud_state`: the node became Active for the hooks (every watched
    /// instance Active), or left Active.
    State {
        /// Active now.
        active: bool,
    },
    /// `cloud_hook`: a run ended.
    Hook {
        /// The hook.
        hook: Hook,
        /// Which attempt, from 1 (0: a run superseded while it ran).
        attempt: u32,
        /// How it ended.
        result: RunResult,
        /// How long it ran.
        elapsed: Duration,
        /// What follows.
        next: Next,
    },
}

impl CloudEvent {
    /// The stable name.
    pub const fn name(&self) -> &'static str {
        match self {
            CloudEvent::State { .. } => "cloud_state",
            CloudEvent::Hook { .. } => "cloud_hook",
        }
    }

    /// How much it matters.
    pub fn level(&self) -> Level {
        match self {
            CloudEvent::Hook {
                next: Next::GaveUp, ..
            } => Level::Error,
            CloudEvent::Hook {
                next: Next::Retry(_),
                ..
            } => Level::Warn,
            _ => Level::Info,
        }
    }

    /// The event's fields.
    pub fn to_json(&self) -> Value {
        match self {
            CloudEvent::State { active } => {
                json!({"state": if *active { "active" } else { "standby" }})
            }
            CloudEvent::Hook {
                hook,
                attempt,
                result,
                elapsed,
                next,
            } => {
                let code = match result {
                    RunResult::Failed(c) => *c,
                    _ => None,
                };
                let retry_in = match next {
                    Next::Retry(d) => Some(d.as_secs_f64()),
                    _ => None,
                };
                json!({
                    "hook": hook.name(), "attempt": attempt,
                    "result": result.name(), "exit_code": code,
                    "elapsed_s": elapsed.as_secs_f64(), "next": next.name(),
                    "retry_in_s": retry_in,
                })
            }
        }
    }
}

impl fmt::Display for CloudEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloudEvent::State { active: true } => {
                f.write_str("cloud: state active (every watched instance is Active)")
            }
            CloudEvent::State { active: false } => f.write_str("cloud: state standby"),
            CloudEvent::Hook {
                hook,
                attempt,
                result,
                elapsed,
                next,
            } => {
                write!(
                    f,
                    "cloud: hook={} attempt={attempt} result={} after {:.3} s",
                    hook.name(),
                    result.name(),
                    elapsed.as_secs_f64()
                )?;
                if let RunResult::Failed(Some(c)) = result {
                    write!(f, " (exit status {c})")?;
                }
                match next {
                    Next::Done => Ok(()),
                    Next::Retry(d) => write!(f, "; next attempt in {:.3} s", d.as_secs_f64()),
                    Next::GaveUp => f.write_str(
                        "; gave up: every attempt failed (see the hook's log lines; \
                         raise attempts, or fix the command)",
                    ),
                    Next::Superseded => {
                        f.write_str("; superseded: the node's state changed while it ran")
                    }
                }
            }
        }
    }
}

/// The Node's side: the configuration, the watched instances, the
/// decisions.
#[derive(Debug, Default)]
pub(super) struct CloudAdapter {
    cfg: Option<CloudConfig>,
    /// The watched instances' names (empty: every instance).
    watched: Vec<String>,
    hooks: Option<CloudHooks>,
    /// A state changed since the last settle.
    pub(super) dirty: bool,
}

impl Node {
    /// Takes `[cloud]` of a configuration just applied.
    pub(super) fn cloud_configure(&mut self, cfg: Option<CloudConfig>, groups: &[SyncGroupConfig]) {
        let c = &mut self.cloud;
        c.dirty = true;
        let Some(cfg) = cfg else {
            *c = CloudAdapter {
                dirty: true,
                ..CloudAdapter::default()
            };
            return;
        };
        c.watched = if !cfg.instances.is_empty() {
            cfg.instances.clone()
        } else if let Some(g) = &cfg.sync_group {
            groups
                .iter()
                .find(|s| &s.name == g)
                .map(|s| s.instances.clone())
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        match (&mut c.hooks, cfg.has_hooks()) {
            (Some(h), true) => h.reconfigure(&cfg),
            (h, true) => *h = Some(CloudHooks::new(&cfg)),
            (h, false) => *h = None,
        }
        c.cfg = Some(cfg);
    }

    /// Whether every watched instance is Active (none watched: false).
    fn cloud_watched_active(&self) -> bool {
        let w = &self.cloud.watched;
        if w.is_empty() {
            return !self.instances.is_empty()
                && self
                    .instances
                    .iter()
                    .all(|i| self.router(i).state() == State::Active);
        }
        w.iter().all(|name| {
            self.instances
                .iter()
                .find(|i| &i.cfg.name == name)
                .is_some_and(|i| self.router(i).state() == State::Active)
        })
    }

    /// After a batch of inputs: follows the node's state, runs what is
    /// due, and turns the decisions into outputs.
    pub(super) fn cloud_settle(&mut self, now: Instant) {
        if self.cloud.hooks.is_none() {
            return;
        }
        if std::mem::take(&mut self.cloud.dirty) {
            let active = self.cloud_watched_active();
            if let Some(h) = &mut self.cloud.hooks {
                h.set_active(now, active);
            }
        }
        if let Some(h) = &mut self.cloud.hooks {
            h.handle_timeout(now);
        }
        while let Some(step) = self.cloud.hooks.as_mut().and_then(CloudHooks::poll_step) {
            match step {
                Step::Event(e) => {
                    self.state_changed = true;
                    self.emit(now, EventKind::Cloud(e));
                }
                Step::Run { id, hook, attempt } => {
                    self.state_changed = true;
                    if let Some(run) = self.cloud_run(now, hook, attempt) {
                        self.outputs.push_back(Output::RunCloudHook { id, run });
                    }
                }
            }
        }
    }

    /// A run's result, from the host.
    pub(super) fn on_cloud_done(
        &mut self,
        now: Instant,
        id: u64,
        result: RunResult,
        elapsed: Duration,
    ) {
        if let Some(h) = &mut self.cloud.hooks {
            h.handle_done(now, id, result, elapsed);
        }
    }

    /// When the next attempt is due.
    pub(super) fn cloud_poll_timeout(&self) -> Option<Instant> {
        self.cloud.hooks.as_ref()?.poll_timeout()
    }

    /// The command, with its environment, of `hook`'s `attempt`-th run.
    fn cloud_run(&self, now: Instant, hook: Hook, attempt: u32) -> Option<CommandRun> {
        let cfg = self.cloud.cfg.as_ref()?;
        let command = match hook {
            Hook::OnActive => cfg.on_active.clone()?,
            Hook::OnStandby => cfg.on_standby.clone()?,
        };
        let watched: Vec<&super::Instance> = if self.cloud.watched.is_empty() {
            self.instances.iter().collect()
        } else {
            self.instances
                .iter()
                .filter(|i| self.cloud.watched.contains(&i.cfg.name))
                .collect()
        };
        let join = |items: Vec<String>| {
            let mut seen = Vec::new();
            for i in items {
                if !seen.contains(&i) {
                    seen.push(i);
                }
            }
            seen.join(" ")
        };
        let addresses = join(
            watched
                .iter()
                .flat_map(|i| i.cfg.election.addresses.iter().map(|a| a.to_string()))
                .collect(),
        );
        let interfaces = join(watched.iter().map(|i| i.cfg.interface.clone()).collect());
        let instances = join(watched.iter().map(|i| i.cfg.name.clone()).collect());
        let state = match hook {
            Hook::OnActive => "active",
            Hook::OnStandby => "standby",
        };
        let env = [
            ("TANDEM_CLOUD_HOOK", hook.name().to_string()),
            ("TANDEM_STATE", state.to_string()),
            ("TANDEM_ROLE", cfg.role.map_or("", |r| r.name()).to_string()),
            ("TANDEM_INSTANCES", instances),
            ("TANDEM_GROUP", cfg.sync_group.clone().unwrap_or_default()),
            ("TANDEM_ADDRESSES", addresses),
            ("TANDEM_INTERFACES", interfaces),
            ("TANDEM_ATTEMPT", attempt.to_string()),
            ("TANDEM_ATTEMPTS", cfg.attempts.to_string()),
            (
                "TANDEM_TIME",
                format!("{:.0}", self.unix(now).max(0.0).floor()),
            ),
        ];
        Some(CommandRun {
            key: HOOK_KEY.to_string(),
            label: format!("cloud hook={} attempt={attempt}", hook.name()),
            command,
            timeout: cfg.hook_timeout,
            env: env.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            fields: (hook.name(), "hook_timeout"),
        })
    }

    /// `[cloud]` as the status shows it.
    pub(super) fn cloud_status(&self) -> Option<CloudStatus> {
        let cfg = self.cloud.cfg.as_ref()?;
        let hooks = self.cloud.hooks.as_ref();
        Some(CloudStatus {
            role: cfg.role.map(|r| r.name().to_string()),
            failback: cfg.failback,
            state: if hooks.map_or_else(|| self.cloud_watched_active(), CloudHooks::is_active) {
                "active"
            } else {
                "standby"
            }
            .into(),
            hook: hooks.and_then(CloudHooks::status),
            results: hooks.map(CloudHooks::results).unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests;
