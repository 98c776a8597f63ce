//! Telling the service manager how the node is doing (systemd's
//! `Type=notify` with a watchdog; the socket is [`crate::sys::sd_notify`]).
//!
//! - `READY=1` at the first status published after the first
//!   configuration was set up on the host (the control socket is bound
//!   before the loop starts, so it answers by then);
//! - `STATUS=<light>: <instance> <state>, ...` when that line changes, at
//!   most once a second (the last change is always sent);
//! - `RELOADING=1` when SIGHUP asks for a reload, `READY=1` once it was
//!   applied or refused;
//! - `STOPPING=1` when the node is asked to stop;
//! - `WATCHDOG=1` every half period, sent by the loop's own thread at its
//!   turns ([`ServiceNotify::turn`]; [`ServiceNotify::deadline`] wakes the
//!   loop in time), so a loop that stalls stops the pings and the service
//!   manager restarts the node.
//!
//! A message that cannot be sent is counted and logged once a minute at
//! most; it never blocks the loop.

use std::time::Duration;

use tandem_time::Instant;

use crate::snapshot::NodeSnapshot;
use crate::sys::sd_notify::{status_message, Notifier};

/// The shortest time between two `STATUS=` messages.
const STATUS_EVERY: Duration = Duration::from_secs(1);
/// The shortest time between two log lines about failed sends.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// The node's conversation with the service manager.
#[derive(Debug)]
pub(super) struct ServiceNotify {
    notifier: Notifier,
    /// Half the watchdog period, and when the next ping is due.
    watchdog: Option<(Duration, Instant)>,
    set_up: bool,
    ready: bool,
    reloading: bool,
    stopping: bool,
    /// The last `STATUS=` sent, when, and a newer one waiting.
    status_sent: Option<(String, Instant)>,
    status_waiting: Option<String>,
    /// Messages that could not be sent, and when that was last logged.
    pub(super) failed: u64,
    warned_at: Option<Instant>,
}

impl ServiceNotify {
    /// From the environment (`$NOTIFY_SOCKET`, `$WATCHDOG_USEC`); `None`
    /// when no service manager listens. A malformed setting is logged and
    /// ignored: the node runs without it.
    pub(super) fn from_env(now: Instant) -> Option<ServiceNotify> {
        match Notifier::from_env() {
            Ok(Some(notifier)) => {
                let watchdog = notifier.watchdog.map(|p| (p / 2, now));
                if let Some(p) = notifier.watchdog {
                    tracing::info!(
                        "service manager: watchdog every {:.3} s, pinged every {:.3} s",
                        p.as_secs_f64(),
                        p.as_secs_f64() / 2.0
                    );
                }
                Some(ServiceNotify {
                    notifier,
                    watchdog,
                    set_up: false,
                    ready: false,
                    reloading: false,
                    stopping: false,
                    status_sent: None,
                    status_waiting: None,
                    failed: 0,
                    warned_at: None,
                })
            }
            Ok(None) => None,
            Err(e) => {
                tracing::warn!("service manager: {e}; not notifying it");
                None
            }
        }
    }

    fn send(&mut self, now: Instant, message: &str) {
        if let Err(e) = self.notifier.send(message) {
            self.failed += 1;
            let due = self
                .warned_at
                .is_none_or(|at| now.saturating_since(at) >= WARN_EVERY);
            if due {
                self.warned_at = Some(now);
                tracing::warn!(
                    "service manager: cannot send {:?}: {e} ({} failed so far)",
                    message.lines().next().unwrap_or(""),
                    self.failed
                );
            }
        }
    }

    /// When the loop must turn next for the service manager.
    pub(super) fn deadline(&self) -> Option<Instant> {
        let ping = self.watchdog.map(|(_, due)| due);
        let status = match (&self.status_waiting, &self.status_sent) {
            (Some(_), Some((_, at))) => Some(*at + STATUS_EVERY),
            _ => None,
        };
        match (ping, status) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// One turn of the loop: the watchdog ping and a waiting status.
    pub(super) fn turn(&mut self, now: Instant) {
        if let Some((half, due)) = self.watchdog {
            if now >= due {
                self.send(now, "WATCHDOG=1");
                self.watchdog = Some((half, now + half));
            }
        }
        self.flush_status(now);
    }

    /// The first configuration is set up on the host.
    pub(super) fn set_up(&mut self) {
        self.set_up = true;
    }

    /// The node published its status.
    pub(super) fn published(&mut self, now: Instant, snap: &NodeSnapshot) {
        let mut line = crate::http::light_slug(snap.light).to_string();
        for (i, inst) in snap.instances.iter().enumerate() {
            line.push_str(if i == 0 { ": " } else { ", " });
            line.push_str(&inst.name);
            line.push(' ');
            line.push_str(&inst.state);
        }
        if self.status_sent.as_ref().map(|(s, _)| s) != Some(&line) {
            self.status_waiting = Some(line);
        }
        if self.set_up && !self.ready {
            self.ready = true;
            let status = self.status_waiting.take().unwrap_or_default();
            self.send(now, &format!("READY=1\n{}", status_message(&status)));
            self.status_sent = Some((status, now));
            return;
        }
        self.flush_status(now);
    }

    fn flush_status(&mut self, now: Instant) {
        if self.status_waiting.is_none() || !self.ready {
            return;
        }
        let due = self
            .status_sent
            .as_ref()
            .is_none_or(|(_, at)| now.saturating_since(*at) >= STATUS_EVERY);
        if due {
            if let Some(line) = self.status_waiting.take() {
                self.send(now, &status_message(&line));
                self.status_sent = Some((line, now));
            }
        }
    }

    /// SIGHUP: a reload begins.
    pub(super) fn reloading(&mut self, now: Instant) {
        if self.ready && !self.stopping {
            self.reloading = true;
            self.send(now, "RELOADING=1");
        }
    }

    /// A reload was applied or refused.
    pub(super) fn reloaded(&mut self, now: Instant) {
        if std::mem::take(&mut self.reloading) && !self.stopping {
            self.send(now, "READY=1");
        }
    }

    /// The node was asked to stop.
    pub(super) fn stopping(&mut self, now: Instant) {
        if !std::mem::replace(&mut self.stopping, true) {
            self.send(now, "STOPPING=1");
        }
    }
}
