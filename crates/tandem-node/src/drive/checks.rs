//! The health checks' probes, run off the loop: a bounded queue and at
//! most [`WORKERS`] threads, started as the first runs arrive.
//!
//! The Node asks for one run of a check at a time, so the queue holds at
//! most one run per check; when it is full anyway (more checks than
//! [`QUEUE_LEN`], all slow), the run is not queued and fails at once with
//! that reason, counted in the check's failures — the loop never waits.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};

use crate::checks::{self, Outcome, Probe, ProbeResult};

/// Threads that run probes.
pub const WORKERS: usize = 4;

/// Runs that may wait for a worker.
pub const QUEUE_LEN: usize = 256;

/// Called on the worker's thread with the run's result.
pub type Done = Box<dyn FnOnce(ProbeResult) + Send>;

struct Job {
    probe: Probe,
    timeout: Duration,
    done: Done,
}

/// The probes' workers.
pub struct CheckRunner {
    tx: Sender<Job>,
    rx: Receiver<Job>,
    workers: usize,
    /// Runs queued or running.
    busy: Arc<AtomicUsize>,
}

impl Default for CheckRunner {
    fn default() -> Self {
        CheckRunner::new()
    }
}

impl CheckRunner {
    /// No thread runs until the first probe.
    pub fn new() -> CheckRunner {
        CheckRunner::with_queue(QUEUE_LEN)
    }

    fn with_queue(len: usize) -> CheckRunner {
        let (tx, rx) = bounded(len);
        CheckRunner {
            tx,
            rx,
            workers: 0,
            busy: Arc::default(),
        }
    }

    /// Queues one run of `probe` and returns at once; `done` gets its
    /// result on a worker thread. A full queue gives the failed result
    /// back instead (its `done` is not called).
    pub fn run(&mut self, probe: Probe, timeout: Duration, done: Done) -> Result<(), ProbeResult> {
        // One more thread while there are fewer than WORKERS and every
        // one is busy.
        if self.workers < WORKERS && self.busy.load(Ordering::Relaxed) >= self.workers {
            let rx = self.rx.clone();
            let busy = self.busy.clone();
            let spawned = thread::Builder::new()
                .name(format!("check-{}", self.workers))
                .spawn(move || {
                    while let Ok(job) = rx.recv() {
                        let result = checks::run(&job.probe, job.timeout);
                        (job.done)(result);
                        busy.fetch_sub(1, Ordering::Relaxed);
                    }
                });
            if spawned.is_ok() {
                self.workers += 1;
            }
        }
        let failed = |why: String| ProbeResult {
            outcome: Outcome::Fail,
            detail: why,
            took: Duration::ZERO,
        };
        if self.workers == 0 {
            return Err(failed(
                "not run: no probe thread could be started (see tandemd's limits on threads)"
                    .into(),
            ));
        }
        // Counted before a worker can take it (and uncounted if refused).
        self.busy.fetch_add(1, Ordering::Relaxed);
        let sent = self.tx.try_send(Job {
            probe,
            timeout,
            done,
        });
        if sent.is_err() {
            self.busy.fetch_sub(1, Ordering::Relaxed);
        }
        match sent {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => Err(failed(format!(
                "not run: {} runs wait for the {} probe threads; \
                 lengthen the checks' intervals or shorten their timeouts",
                self.tx.len(),
                self.workers
            ))),
            Err(TrySendError::Disconnected(_)) => {
                Err(failed("not run: tandemd is stopping".into()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_come_back_and_a_full_queue_fails_at_once() {
        let mut r = CheckRunner::with_queue(2);
        let (tx, rx) = std::sync::mpsc::channel();
        let slow = Probe::Script {
            command: "sleep 1".into(),
            user: None,
        };
        // Fill every worker and the queue with slow runs.
        let mut refused = None;
        for _ in 0..(WORKERS + 2 + 1) {
            let tx = tx.clone();
            if let Err(res) = r.run(
                slow.clone(),
                Duration::from_millis(300),
                Box::new(move |res| {
                    let _ = tx.send(res);
                }),
            ) {
                refused = Some(res);
                break;
            }
        }
        let refused = refused.expect("a full queue refuses");
        assert_eq!(refused.outcome, Outcome::Fail);
        assert!(refused.detail.contains("runs wait"), "{}", refused.detail);
        assert!(r.workers <= WORKERS);
        // The first runs end at their timeout, failed.
        let first = rx.recv_timeout(Duration::from_secs(5)).expect("a result");
        assert_eq!(first.outcome, Outcome::Fail);
        assert!(first.detail.contains("timeout"), "{}", first.detail);
    }
}
