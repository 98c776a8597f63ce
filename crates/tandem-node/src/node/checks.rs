//! Health checks (`[[check]]`, docs/checks.md), sans-IO: when each runs,
//! rise and fall, and what the tracking instances are told.
//!
//! Each check runs every `interval`, one run at a time: the Node asks the
//! host with [`Output::RunCheck`] and the host hands the result back as
//! [`Input::CheckDone`](super::Input::CheckDone); the loop never waits for
//! a probe. A check starts `unknown`, which lowers nothing; `rise` passing
//! runs in a row bring it up, `fall` failing runs bring it down. Up and
//! down become `TrackUp` / `TrackDown` for every instance that tracks the
//! check, whose election applies the track's weight or Fault (a sync
//! group then faults whole). A file check's number is graded at once
//! (no rise or fall): the product with each instance's factor, when
//! negative, lowers that instance's priority by its size
//! ([`Command::TrackWeight`]). First runs are spread over the first
//! interval so that many checks do not start at once.

use serde_json::{json, Value};
use tandem_election::{Command, Instant};

use super::output::{EventKind, Output};
use super::{Level, Node};
use crate::checks::{CheckConfig, Outcome, ProbeResult};
use crate::snapshot::CheckStatus;

/// Up, down or not yet known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Not decided yet: counts as up.
    Unknown,
    /// Up.
    Up,
    /// Down.
    Down,
}

impl Health {
    /// `unknown`, `up` or `down`: the stable name.
    pub const fn name(self) -> &'static str {
        match self {
            Health::Unknown => "unknown",
            Health::Up => "up",
            Health::Down => "down",
        }
    }
}

/// One check's state.
#[derive(Debug, Clone)]
pub(super) struct Check {
    cfg: CheckConfig,
    health: Health,
    /// Passing (positive) or failing (negative) runs in a row.
    streak: i64,
    value: Option<i64>,
    next_due: Instant,
    running: bool,
    last: Option<(ProbeResult, Instant)>,
    passes: u64,
    failures: u64,
    changes: u64,
}

/// What a check reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckEvent {
    /// It went up or down, or a file check's number changed.
    Changed {
        /// The check.
        check: String,
        /// Its state now.
        health: Health,
        /// A file check's number.
        value: Option<i64>,
        /// The run's detail.
        detail: String,
    },
}

impl CheckEvent {
    /// `check`: the stable event name.
    pub const fn name(&self) -> &'static str {
        "check"
    }

    /// Down is a warning.
    pub fn level(&self) -> Level {
        match self {
            CheckEvent::Changed {
                health: Health::Down,
                ..
            } => Level::Warn,
            CheckEvent::Changed { .. } => Level::Info,
        }
    }

    /// The event's own fields (docs/control.md).
    pub fn to_json(&self) -> Value {
        match self {
            CheckEvent::Changed {
                check,
                health,
                value,
                detail,
            } => json!({
                "check": check, "state": health.name(), "value": value, "detail": detail,
            }),
        }
    }
}

impl std::fmt::Display for CheckEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CheckEvent::Changed {
                check,
                health,
                value,
                detail,
            } => {
                write!(f, "check {check}: {}", health.name())?;
                if let Some(v) = value {
                    write!(f, " value={v}")?;
                }
                write!(f, " ({detail})")
            }
        }
    }
}

/// The lowering a file check's `value` asks of a track with `factor`:
/// the size of a negative product, at most 255; 0 otherwise.
pub fn file_lowering(value: i64, factor: i64) -> u8 {
    let product = value.saturating_mul(factor);
    if product >= 0 {
        0
    } else {
        product.unsigned_abs().min(255) as u8
    }
}

impl Node {
    /// Takes the `[[check]]` tables of a configuration just applied. A
    /// check whose settings are unchanged keeps its state and schedule.
    pub(super) fn checks_configure(&mut self, now: Instant, cfgs: &[CheckConfig]) {
        let mut old = std::mem::take(&mut self.checks);
        let n = cfgs.len().max(1) as u32;
        self.checks = cfgs
            .iter()
            .enumerate()
            .map(|(k, cfg)| {
                if let Some(i) = old.iter().position(|c| c.cfg == *cfg) {
                    return old.swap_remove(i);
                }
                Check {
                    cfg: cfg.clone(),
                    health: Health::Unknown,
                    streak: 0,
                    value: None,
                    // Spread the first runs over one interval.
                    next_due: now + cfg.interval * k as u32 / n,
                    running: false,
                    last: None,
                    passes: 0,
                    failures: 0,
                    changes: 0,
                }
            })
            .collect();
    }

    /// The commands that bring member `member` of group `g` in line with
    /// the checks it tracks (for a router that starts now).
    pub(super) fn checks_commands(&self, i: usize) -> Vec<Command> {
        let inst = &self.instances[i];
        inst.cfg
            .track_checks
            .iter()
            .filter_map(|t| {
                let c = self.checks.iter().find(|c| c.cfg.name == t.check)?;
                c.command(t.factor)
            })
            .collect()
    }

    /// Asks for the runs that are due.
    pub(super) fn checks_handle_timeout(&mut self, now: Instant) {
        if self.stopping {
            return;
        }
        for c in &mut self.checks {
            if c.running || c.next_due > now {
                continue;
            }
            c.running = true;
            c.next_due = now + c.cfg.interval;
            self.outputs.push_back(Output::RunCheck {
                name: c.cfg.name.clone(),
                probe: Box::new(c.cfg.probe.clone()),
                timeout: c.cfg.timeout,
            });
        }
    }

    /// When the next run is due.
    pub(super) fn checks_poll_timeout(&self) -> Option<Instant> {
        if self.stopping {
            return None;
        }
        self.checks
            .iter()
            .filter(|c| !c.running)
            .map(|c| c.next_due)
            .min()
    }

    /// A run's result, from the host.
    pub(super) fn on_check_done(&mut self, now: Instant, name: &str, result: ProbeResult) {
        let Some(k) = self
            .checks
            .iter()
            .position(|c| c.cfg.name == name && c.running)
        else {
            // A check removed by a reload while it ran.
            return;
        };
        self.state_changed = true;
        let c = &mut self.checks[k];
        c.running = false;
        let before = (c.health, c.value);
        match result.outcome {
            Outcome::Pass => {
                c.passes += 1;
                c.streak = c.streak.max(0) + 1;
                if c.streak >= i64::from(c.cfg.rise) {
                    c.health = Health::Up;
                }
            }
            Outcome::Fail => {
                c.failures += 1;
                c.streak = c.streak.min(0) - 1;
                if -c.streak >= i64::from(c.cfg.fall) {
                    c.health = Health::Down;
                }
            }
            Outcome::Value(v) => {
                c.passes += 1;
                c.streak = 1;
                c.health = Health::Up;
                c.value = Some(v);
            }
        }
        let detail = result.detail.clone();
        c.last = Some((result, now));
        if before == (c.health, c.value) {
            return;
        }
        if before.0 != c.health {
            c.changes += 1;
        }
        let event = CheckEvent::Changed {
            check: c.cfg.name.clone(),
            health: c.health,
            value: c.value,
            detail,
        };
        self.emit(now, EventKind::Check(event));
        self.checks_apply(now, k);
    }

    /// Tells every instance that tracks check `k` its state.
    fn checks_apply(&mut self, now: Instant, k: usize) {
        let name = &self.checks[k].cfg.name;
        let mut todo = Vec::new();
        for (i, inst) in self.instances.iter().enumerate() {
            for t in &inst.cfg.track_checks {
                if &t.check == name {
                    if let Some(cmd) = self.checks[k].command(t.factor) {
                        todo.push((i, cmd));
                    }
                }
            }
        }
        for (i, cmd) in todo {
            let (g, m) = (self.instances[i].group, self.instances[i].member);
            self.groups[g].handle_command(now, Some(m), cmd);
            self.drain(g);
        }
    }

    /// The checks as the status shows them.
    pub(super) fn checks_status(&self, now: Instant) -> Vec<CheckStatus> {
        self.checks
            .iter()
            .map(|c| {
                let last = c.last.as_ref();
                CheckStatus {
                    name: c.cfg.name.clone(),
                    kind: c.cfg.probe.kind().into(),
                    state: c.health.name().into(),
                    last_result: last.map(|(r, _)| r.outcome.name().to_string()),
                    detail: last.map(|(r, _)| r.detail.clone()).unwrap_or_default(),
                    value: c.value,
                    last_run_unix: last
                        .map(|(_, at)| self.unix(now) - now.saturating_since(*at).as_secs_f64()),
                    took_s: last.map(|(r, _)| r.took.as_secs_f64()),
                    passes: c.passes,
                    failures: c.failures,
                    changes: c.changes,
                    tracked_by: self
                        .instances
                        .iter()
                        .filter(|i| i.cfg.track_checks.iter().any(|t| t.check == c.cfg.name))
                        .map(|i| i.cfg.name.clone())
                        .collect(),
                }
            })
            .collect()
    }
}

impl Check {
    /// The track command for an instance with `factor` (`None`: unknown,
    /// nothing to say).
    fn command(&self, factor: i64) -> Option<Command> {
        let name = self.cfg.name.clone();
        match (self.health, self.value) {
            (Health::Unknown, _) => None,
            (Health::Down, _) => Some(Command::TrackDown(name)),
            (Health::Up, Some(v)) => Some(Command::TrackWeight {
                name,
                weight: file_lowering(v, factor),
            }),
            (Health::Up, None) => Some(Command::TrackUp(name)),
        }
    }
}

#[cfg(test)]
mod tests;
