//! Notify hooks: a command run on each state transition of an instance.
//!
//! [`HookRunner::run`] queues a [`HookEvent`] and returns at once, so the
//! election loop never waits for a hook. Each instance has its own worker
//! thread (created on the instance's first event) that takes the
//! instance's queue in order: the hooks of one instance run one at a time,
//! in transition order, and hooks of different instances run side by side.
//!
//! A hook is `/bin/sh -c <command>` with the transition in its environment
//! (`TANDEM_INSTANCE`, `TANDEM_VRID`, `TANDEM_INTERFACE`, `TANDEM_GROUP`,
//! `TANDEM_OLD_STATE`, `TANDEM_NEW_STATE`, `TANDEM_REASON`, `TANDEM_TIME`),
//! stdin from `/dev/null`, and stdout and stderr captured (the last
//! [`OUTPUT_TAIL`] bytes, logged when the hook fails). It leads its own
//! process group, and when it outlives its timeout the whole group gets
//! `SIGKILL`, background children included, and the hook is reaped.
//!
//! Each run writes lines to the log channel given to [`HookRunner::new`]:
//! started, exit status, killed at the timeout, failed to start, queue
//! overflow. docs/hooks.md describes the configuration and the semantics.
//!
//! [`HookRunner::run_command`] runs any other command the same way (its
//! own queue, environment and timeout) and reports how it ended
//! ([`RunResult`]) to a callback: the provider hook of `[cloud]`, whose
//! retries the Node decides.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::io::{self, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::config::NotifyConfig;

/// The shell that runs each hook, as `/bin/sh -c <command>`.
pub const SHELL: &str = "/bin/sh";

/// How many events wait in one instance's queue (the running hook not
/// counted). Beyond that the oldest waiting event is dropped, and logged.
pub const QUEUE_LEN: usize = 64;

/// How many bytes of a hook's output (stdout and stderr together, the last
/// ones) are kept for the log.
pub const OUTPUT_TAIL: usize = 4096;

/// When the [`HookRunner`] is dropped (tandemd stopping), hooks already
/// queued still start during this long; later ones are dropped, and logged.
/// A hook that has started always gets its whole timeout.
pub const STOP_GRACE: Duration = Duration::from_secs(5);

/// How long to wait, after a hook exits, for the end of its output: a
/// background process that inherited stdout or stderr may hold it open.
const OUTPUT_WAIT: Duration = Duration::from_secs(1);

/// One state transition of an instance, as a hook sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct HookEvent {
    /// The instance's name (`TANDEM_INSTANCE`).
    pub instance: String,
    /// Its virtual router ID (`TANDEM_VRID`).
    pub vrid: u8,
    /// The interface it runs on (`TANDEM_INTERFACE`).
    pub interface: String,
    /// The sync group it belongs to, if any (`TANDEM_GROUP`, empty if none).
    pub group: Option<String>,
    /// The state it left: `Initialize`, `Backup`, `Active` or `Fault`
    /// (`TANDEM_OLD_STATE`).
    pub from: String,
    /// The state it entered (`TANDEM_NEW_STATE`).
    pub to: String,
    /// Why, as in the event stream, e.g. `ActiveDown` (`TANDEM_REASON`).
    pub reason: String,
    /// When the transition happened, in seconds since the Unix epoch
    /// (`TANDEM_TIME`, whole seconds).
    pub at_unix: f64,
    /// Positional arguments appended to the command (`notify_args`:
    /// keepalived's `INSTANCE NAME STATE PRIORITY`, ucarp's `INTERFACE
    /// ADDRESS [XPARAM]`); empty for Tandem's own form.
    pub args: Vec<String>,
    /// A sync group's hook: `group` names the group, `instance` the member
    /// whose change moved the group; the group's hooks have a queue of
    /// their own.
    pub group_hook: bool,
}

impl HookEvent {
    /// The environment the hook runs with, in a fixed order.
    pub fn env(&self) -> [(&'static str, String); 8] {
        [
            ("TANDEM_INSTANCE", self.instance.clone()),
            ("TANDEM_VRID", self.vrid.to_string()),
            ("TANDEM_INTERFACE", self.interface.clone()),
            ("TANDEM_GROUP", self.group.clone().unwrap_or_default()),
            ("TANDEM_OLD_STATE", self.from.clone()),
            ("TANDEM_NEW_STATE", self.to.clone()),
            ("TANDEM_REASON", self.reason.clone()),
            // Whole seconds, so that shell arithmetic and `date -d @…` take it.
            (
                "TANDEM_TIME",
                format!("{:.0}", self.at_unix.max(0.0).floor()),
            ),
        ]
    }

    /// `hook instance=web vrid=51 Backup -> Active`: how log lines name it
    /// (a group's hook: `hook group=fw Backup -> Active`).
    fn label(&self) -> String {
        match (&self.group, self.group_hook) {
            (Some(g), true) => format!("hook group={g} {} -> {}", self.from, self.to),
            _ => format!(
                "hook instance={} vrid={} {} -> {}",
                self.instance, self.vrid, self.from, self.to
            ),
        }
    }

    /// The queue the hook waits in: its instance's, or its group's.
    fn queue_key(&self) -> String {
        match (&self.group, self.group_hook) {
            (Some(g), true) => format!("group {g}"),
            _ => self.instance.clone(),
        }
    }

    /// The argv after `/bin/sh`: `-c COMMAND`, or, with arguments,
    /// `-c 'COMMAND "$@"' COMMAND ARGS...`, so that the shell passes the
    /// arguments to the command as given, whatever they hold.
    pub fn shell_args(&self, command: &str) -> Vec<String> {
        if self.args.is_empty() {
            return vec!["-c".into(), command.to_string()];
        }
        let mut v = vec![
            "-c".into(),
            format!("{command} \"$@\""),
            command.to_string(),
        ];
        v.extend(self.args.iter().cloned());
        v
    }
}

/// Runs the notify hooks of every instance, one worker thread per instance.
///
/// Dropping it tells the workers to stop: each finishes the hook it is
/// running (within that hook's timeout), starts the hooks still queued for
/// up to [`STOP_GRACE`], logs the ones it drops, and exits. The drop waits
/// for the workers, so the hooks of tandemd's last transitions (to
/// `Initialize` at shutdown) run before the process exits.
pub struct HookRunner {
    log: Sender<String>,
    workers: Mutex<HashMap<String, Worker>>,
}

impl std::fmt::Debug for HookRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let workers = lock(&self.workers);
        let mut names: Vec<&String> = workers.keys().collect();
        names.sort();
        f.debug_struct("HookRunner")
            .field("instances", &names)
            .finish_non_exhaustive()
    }
}

struct Worker {
    queue: Arc<Queue>,
    thread: Option<JoinHandle<()>>,
}

struct Queue {
    state: Mutex<QueueState>,
    wake: Condvar,
}

#[derive(Default)]
struct QueueState {
    jobs: VecDeque<Job>,
    /// Set when the runner is dropped.
    stopping_since: Option<Instant>,
}

/// Called with how a command ended and how long it ran.
pub type Done = Box<dyn FnOnce(RunResult, Duration) + Send>;

struct Job {
    command: String,
    /// The argv after `/bin/sh` (`-c COMMAND`, with positional arguments
    /// for keepalived's and ucarp's forms: [`HookEvent::shell_args`]).
    argv: Vec<String>,
    timeout: Duration,
    /// How log lines name the run (`hook instance=web vrid=51 ...`).
    label: String,
    /// Whose queue it waits in, for the overflow line (`instance web`).
    owner: String,
    env: Vec<(String, String)>,
    done: Option<Done>,
    /// The settings that name the command and its timeout, for the log's
    /// advice (`notify`, `notify_timeout`).
    fields: (&'static str, &'static str),
}

impl Job {
    /// Tells the caller, if it asked, how the job ended.
    fn finish(&mut self, result: RunResult, elapsed: Duration) {
        if let Some(done) = self.done.take() {
            done(result, elapsed);
        }
    }
}

/// How one run of a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunResult {
    /// It exited 0.
    Ok,
    /// It exited with another status (`Some(code)`), or was killed by a
    /// signal (`None`).
    Failed(Option<i32>),
    /// It still ran at its timeout: its process group was killed.
    TimedOut,
    /// It did not start: the shell could not be spawned, or it was dropped
    /// from its queue (full, or tandemd stopping).
    NotStarted,
}

impl RunResult {
    /// `ok`, `failed`, `timeout` or `not_started`: the stable name in
    /// events, status and metrics.
    pub const fn name(self) -> &'static str {
        match self {
            RunResult::Ok => "ok",
            RunResult::Failed(_) => "failed",
            RunResult::TimedOut => "timeout",
            RunResult::NotStarted => "not_started",
        }
    }

    /// The stable names, in this order.
    pub const NAMES: [&'static str; 4] = ["ok", "failed", "timeout", "not_started"];
}

/// A command for [`HookRunner::run_command`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandRun {
    /// The queue it waits in: runs of one key run one at a time, in
    /// order. Instance names are keys of their notify hooks; use a key no
    /// instance name can be (with a space, say).
    pub key: String,
    /// How its log lines name it.
    pub label: String,
    /// Run with `/bin/sh -c`.
    pub command: String,
    /// Its process group is killed after this long.
    pub timeout: Duration,
    /// Its environment, on top of tandemd's.
    pub env: Vec<(String, String)>,
    /// The settings that name the command and its timeout, as the log's
    /// advice names them (`("on_active", "hook_timeout")`).
    pub fields: (&'static str, &'static str),
}

impl HookRunner {
    /// A runner with no worker yet. `log` receives one line per hook run
    /// (started / exit status / killed at the timeout / failed to start)
    /// and per dropped event, for the daemon's log. A closed receiver is
    /// not an error: the lines are then lost.
    pub fn new(log: Sender<String>) -> HookRunner {
        HookRunner {
            log,
            workers: Mutex::new(HashMap::new()),
        }
    }

    /// Queues `ev` for the hook `notify` and returns at once; the
    /// instance's worker (`ev.instance`) runs it after the instance's
    /// earlier events. When [`QUEUE_LEN`] events already wait, the oldest
    /// is dropped and logged.
    pub fn run(&self, notify: &NotifyConfig, ev: HookEvent) {
        let job = Job {
            command: notify.command.clone(),
            argv: ev.shell_args(&notify.command),
            timeout: notify.timeout,
            label: ev.label(),
            owner: if ev.group_hook {
                ev.queue_key()
            } else {
                format!("instance {}", ev.instance)
            },
            env: ev.env().map(|(k, v)| (k.to_string(), v)).into(),
            done: None,
            fields: ("notify", "notify_timeout"),
        };
        self.queue(ev.queue_key(), job);
    }

    /// Queues `run` and returns at once; its key's worker runs it after
    /// the key's earlier runs, exactly as a notify hook (its own process
    /// group, killed whole at the timeout, output logged when it fails),
    /// then calls `done` on the worker's thread. A run that never starts
    /// (dropped from a full queue, or tandemd stopping) gets
    /// [`RunResult::NotStarted`].
    pub fn run_command(&self, run: CommandRun, done: Done) {
        let job = Job {
            argv: vec!["-c".into(), run.command.clone()],
            command: run.command,
            timeout: run.timeout,
            owner: run.label.clone(),
            label: run.label,
            env: run.env,
            done: Some(done),
            fields: run.fields,
        };
        self.queue(run.key, job);
    }

    fn queue(&self, key: String, mut job: Job) {
        let mut workers = lock(&self.workers);
        let worker = match workers.entry(key) {
            Entry::Occupied(o) => o.into_mut(),
            Entry::Vacant(v) => match spawn_worker(v.key(), self.log.clone()) {
                Ok(w) => v.insert(w),
                Err(e) => {
                    let _ = self.log.send(format!(
                        "{}: not run: cannot start a hook thread for the instance: {e}",
                        job.label
                    ));
                    job.finish(RunResult::NotStarted, Duration::ZERO);
                    return;
                }
            },
        };
        let mut st = lock(&worker.queue.state);
        if st.jobs.len() >= QUEUE_LEN {
            if let Some(mut old) = st.jobs.pop_front() {
                let _ = self.log.send(format!(
                    "{}: dropped, not run: {QUEUE_LEN} hooks of {} were waiting \
                     (the running hook is slow or transitions come too fast; \
                     check the hook and notify_timeout)",
                    old.label, old.owner
                ));
                old.finish(RunResult::NotStarted, Duration::ZERO);
            }
        }
        st.jobs.push_back(job);
        worker.queue.wake.notify_one();
    }
}

impl Drop for HookRunner {
    fn drop(&mut self) {
        let mut workers = std::mem::take(&mut *lock(&self.workers));
        let now = Instant::now();
        for w in workers.values() {
            lock(&w.queue.state).stopping_since = Some(now);
            w.queue.wake.notify_all();
        }
        for (name, w) in workers.iter_mut() {
            if let Some(t) = w.thread.take() {
                if t.join().is_err() {
                    let _ = self
                        .log
                        .send(format!("hook instance={name}: the hook thread panicked"));
                }
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn spawn_worker(instance: &str, log: Sender<String>) -> io::Result<Worker> {
    let queue = Arc::new(Queue {
        state: Mutex::new(QueueState::default()),
        wake: Condvar::new(),
    });
    let q = queue.clone();
    let thread = thread::Builder::new()
        .name(format!("hook-{instance}"))
        .spawn(move || work(&q, &log))?;
    Ok(Worker {
        queue,
        thread: Some(thread),
    })
}

/// A worker's loop: take the next job, run it, until the runner is dropped
/// and the queue is empty (or [`STOP_GRACE`] has passed).
fn work(queue: &Queue, log: &Sender<String>) {
    loop {
        let job = {
            let mut st = lock(&queue.state);
            loop {
                if let Some(since) = st.stopping_since {
                    if since.elapsed() > STOP_GRACE {
                        for mut job in st.jobs.drain(..) {
                            let _ = log.send(format!(
                                "{}: dropped, not run: tandemd is stopping and the hooks \
                                 before it took longer than {} s",
                                job.label,
                                STOP_GRACE.as_secs()
                            ));
                            job.finish(RunResult::NotStarted, Duration::ZERO);
                        }
                        return;
                    }
                }
                if let Some(job) = st.jobs.pop_front() {
                    break job;
                }
                if st.stopping_since.is_some() {
                    return;
                }
                st = queue.wake.wait(st).unwrap_or_else(PoisonError::into_inner);
            }
        };
        let mut job = job;
        let started = Instant::now();
        let result = run_hook(&job, log);
        job.finish(result, started.elapsed());
    }
}

/// How a hook ended.
/// How a child ended under [`wait_or_kill`].
pub(crate) enum Outcome {
    /// It exited.
    Exited(ExitStatus),
    /// Still running at its timeout: its group was killed, then it was
    /// reaped.
    TimedOut { kill: io::Result<()> },
    /// `try_wait` failed; the group was killed.
    WaitFailed(io::Error),
}

/// Runs one hook to its end or its timeout, and logs it.
fn run_hook(job: &Job, log: &Sender<String>) -> RunResult {
    let label = &job.label;
    let mut cmd = Command::new(SHELL);
    cmd.args(&job.argv)
        .envs(job.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let started = Instant::now();
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let _ = log.send(format!(
                "{label}: failed to start {SHELL} -c {:?}: {e} (check that {SHELL} exists \
                 and that tandemd may create processes)",
                job.command
            ));
            return RunResult::NotStarted;
        }
    };
    drop(cmd);
    let _ = log.send(format!(
        "{label}: started pid {} (timeout {} s): {:?}",
        child.id(),
        secs(job.timeout),
        job.command
    ));

    // One tail per stream: two readers pushing into one buffer would
    // interleave them by scheduling luck and could cut stderr's last words.
    let tails = [
        Arc::new(Mutex::new(Tail::default())),
        Arc::new(Mutex::new(Tail::default())),
    ];
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let mut readers = 0;
    let streams: [Option<Box<dyn Read + Send>>; 2] = [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    ];
    for (k, stream) in streams.into_iter().enumerate() {
        let Some(stream) = stream else { continue };
        let tail = tails[k].clone();
        let done = done_tx.clone();
        let spawned = thread::Builder::new()
            .name("hook-output".into())
            .spawn(move || {
                read_tail(stream, &tail);
                let _ = done.send(());
            });
        // Without a reader the pipe is closed; the hook gets SIGPIPE when
        // it writes, which its exit status then shows.
        if spawned.is_ok() {
            readers += 1;
        }
    }
    drop(done_tx);

    let outcome = wait_or_kill(&mut child, job.timeout);
    let elapsed = secs(started.elapsed());

    let wait_until = Instant::now() + OUTPUT_WAIT;
    let mut held_open = false;
    for _ in 0..readers {
        let left = wait_until.saturating_duration_since(Instant::now());
        if done_rx.recv_timeout(left).is_err() {
            held_open = true;
            break;
        }
    }
    let output = {
        let (out, err) = (lock(&tails[0]).text(), lock(&tails[1]).text());
        let mut text = match (out.is_empty(), err.is_empty()) {
            (_, true) => out,
            (true, false) => err,
            (false, false) => format!("{out} | stderr: {err}"),
        };
        if held_open {
            text.push_str(" [output still held open by a background process of the hook]");
        }
        text
    };

    let result = match &outcome {
        Outcome::Exited(st) if st.success() => RunResult::Ok,
        Outcome::Exited(st) => RunResult::Failed(st.code()),
        Outcome::TimedOut { .. } => RunResult::TimedOut,
        Outcome::WaitFailed(_) => RunResult::Failed(None),
    };
    let line = match outcome {
        Outcome::Exited(st) if st.success() => format!("{label}: exited 0 after {elapsed} s"),
        Outcome::Exited(st) => {
            let how = match (st.code(), st.signal()) {
                (Some(126), _) => "exit status 126 (the shell found the command but cannot \
                                   execute it: check its permissions)"
                    .to_string(),
                (Some(127), _) => format!(
                    "exit status 127 (the shell did not find the command: \
                     check the path in {})",
                    job.fields.0
                ),
                (Some(c), _) => format!("exit status {c}"),
                (None, Some(s)) => format!("killed by signal {s}"),
                (None, None) => format!("{st}"),
            };
            format!("{label}: failed: {how} after {elapsed} s; output: {output:?}")
        }
        Outcome::TimedOut { kill } => {
            let killed = match kill {
                Ok(()) => "killed its process group (SIGKILL)".to_string(),
                Err(e) => format!("could not kill its process group: {e}"),
            };
            format!(
                "{label}: killed at its timeout: still running after {elapsed} s \
                 ({timeout_field} {} s), {killed}; check what the command waits for, \
                 or raise {timeout_field}; output: {output:?}",
                secs(job.timeout),
                timeout_field = job.fields.1,
            )
        }
        Outcome::WaitFailed(e) => format!(
            "{label}: failed: cannot wait for the hook: {e}; killed its process group; \
             output: {output:?}"
        ),
    };
    let _ = log.send(line);
    result
}

/// Waits for `child` until `timeout`, then kills its process group and
/// reaps it. The group is only ever killed before its leader is reaped,
/// so its ID cannot belong to another group yet.
/// Waits for `child`, the leader of its own process group, until
/// `timeout`; then kills the whole group and reaps the leader.
pub(crate) fn wait_or_kill(child: &mut Child, timeout: Duration) -> Outcome {
    let deadline = Instant::now() + timeout;
    let mut nap = Duration::from_millis(1);
    loop {
        match child.try_wait() {
            Ok(Some(st)) => return Outcome::Exited(st),
            Ok(None) => {}
            Err(e) => {
                let _ = kill_group(child.id());
                let _ = child.wait();
                return Outcome::WaitFailed(e);
            }
        }
        let now = Instant::now();
        if now >= deadline {
            let kill = kill_group(child.id());
            // SIGKILL cannot be caught: the leader ends at once. If the
            // kill itself failed, kill the leader alone so this wait ends.
            if kill.is_err() {
                let _ = child.kill();
            }
            let _ = child.wait();
            return Outcome::TimedOut { kill };
        }
        thread::sleep(nap.min(deadline - now));
        nap = (nap * 2).min(Duration::from_millis(20));
    }
}

/// Sends `SIGKILL` to the process group `pgid`.
#[allow(unsafe_code)]
fn kill_group(pgid: u32) -> io::Result<()> {
    let pgid = libc::pid_t::try_from(pgid)
        .ok()
        .filter(|&p| p > 1)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "bad process group id"))?;
    // SAFETY: kill(2) takes two integers and touches no memory of this
    // process. `-pgid` names the group the hook leads (spawned with
    // process_group(0), so its group ID is its PID), never 0 or -1 (checked
    // above). The caller has not reaped the leader, so the ID is still the
    // hook's.
    let r = unsafe { libc::kill(-pgid, libc::SIGKILL) };
    if r == 0 {
        return Ok(());
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::ESRCH) {
        // Nothing left in the group to kill.
        return Ok(());
    }
    Err(e)
}

/// Bytes kept of each stream: together at most [`OUTPUT_TAIL`].
const KEEP: usize = OUTPUT_TAIL / 2;

/// The last bytes written to one of a hook's streams (stdout or stderr).
#[derive(Default)]
struct Tail {
    buf: Vec<u8>,
    cut: bool,
}

impl Tail {
    fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        if self.buf.len() > 2 * KEEP {
            let extra = self.buf.len() - KEEP;
            self.buf.drain(..extra);
            self.cut = true;
        }
    }

    fn text(&self) -> String {
        let start = self.buf.len().saturating_sub(KEEP);
        let text = String::from_utf8_lossy(&self.buf[start..]);
        let text = text.trim();
        if self.cut || start > 0 {
            format!("[...] {text}")
        } else {
            text.to_string()
        }
    }
}

fn read_tail(mut stream: Box<dyn Read + Send>, tail: &Mutex<Tail>) {
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => lock(tail).push(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

fn secs(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64())
}

#[cfg(test)]
mod tests;
