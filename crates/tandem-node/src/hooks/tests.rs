//! Hook runner tests: real `/bin/sh` children, no root needed.

use super::*;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::Receiver;

/// A fresh empty directory under the system temp dir, removed on drop.
struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn scratch(name: &str) -> Scratch {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "tandem-hooks-{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    Scratch(dir)
}

fn notify(command: impl Into<String>, timeout: Duration) -> NotifyConfig {
    NotifyConfig {
        command: command.into(),
        timeout,
    }
}

fn event(instance: &str, from: &str, to: &str) -> HookEvent {
    HookEvent {
        instance: instance.into(),
        vrid: 51,
        interface: "eth0".into(),
        group: None,
        from: from.into(),
        to: to.into(),
        reason: "ActiveDown".into(),
        at_unix: 1_700_000_000.75,
        args: Vec::new(),
        group_hook: false,
    }
}

fn runner() -> (HookRunner, Receiver<String>) {
    let (tx, rx) = mpsc::channel();
    (HookRunner::new(tx), rx)
}

/// Waits up to 10 s for a log line containing `needle`; returns it.
fn wait_line(rx: &Receiver<String>, seen: &mut Vec<String>, needle: &str) -> String {
    if let Some(l) = seen.iter().find(|l| l.contains(needle)) {
        return l.clone();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) => {
                seen.push(l.clone());
                if l.contains(needle) {
                    return l;
                }
            }
            Err(_) => panic!("no log line with {needle:?}; got {seen:#?}"),
        }
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Is `pid` gone (or a zombie nobody has reaped yet)?
fn dead(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // "pid (comm) S ...": the state follows the last ')'.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
    }
}

#[test]
fn hooks_of_one_instance_run_in_transition_order() {
    let dir = scratch("order");
    let out = dir.join("out");
    let (hooks, rx) = runner();
    // The sleep makes later events queue behind a running hook.
    let n = notify(
        format!(
            "sleep 0.02; echo \"$TANDEM_NEW_STATE\" >> {}",
            out.display()
        ),
        Duration::from_secs(10),
    );
    let states: Vec<String> = (0..8).map(|k| format!("S{k}")).collect();
    for (k, to) in states.iter().enumerate() {
        let from = if k == 0 { "Initialize" } else { &states[k - 1] };
        hooks.run(&n, event("web", from, to));
    }
    drop(hooks);
    let lines: Vec<String> = read(&out).lines().map(String::from).collect();
    assert_eq!(lines, states);
    let log: Vec<String> = rx.try_iter().collect();
    assert_eq!(
        log.iter().filter(|l| l.contains(": started pid ")).count(),
        8
    );
    assert_eq!(
        log.iter()
            .filter(|l| l.contains(": exited 0 after "))
            .count(),
        8
    );
    assert!(log[0].starts_with("hook instance=web vrid=51 Initialize -> S0: started pid "));
}

#[test]
fn hooks_of_different_instances_run_concurrently() {
    let dir = scratch("concurrent");
    let (hooks, rx) = runner();
    // a's hook waits (up to 5 s) for b's hook: it only sees it if b's runs
    // while a's is still running.
    let a = notify(
        format!(
            "i=0; while [ ! -e {d}/b ] && [ $i -lt 250 ]; do sleep 0.02; i=$((i+1)); done; \
             [ -e {d}/b ] && touch {d}/a-saw-b",
            d = dir.display()
        ),
        Duration::from_secs(10),
    );
    let b = notify(
        format!("touch {}/b", dir.display()),
        Duration::from_secs(10),
    );
    hooks.run(&a, event("a", "Backup", "Active"));
    hooks.run(&b, event("b", "Backup", "Active"));
    drop(hooks);
    assert!(
        dir.join("a-saw-b").exists(),
        "log: {:#?}",
        rx.try_iter().collect::<Vec<_>>()
    );
}

#[test]
fn environment_describes_the_transition() {
    let dir = scratch("env");
    let (hooks, rx) = runner();
    let n = notify(
        format!(
            "env | grep '^TANDEM_' | sort > {d}/$TANDEM_INSTANCE",
            d = dir.display()
        ),
        Duration::from_secs(10),
    );
    hooks.run(&n, event("web", "Backup", "Active"));
    let mut grouped = event("db", "Active", "Backup");
    grouped.group = Some("dmz".into());
    grouped.vrid = 7;
    grouped.interface = "bond0.12".into();
    grouped.reason = "Preempted { by: 192.0.2.2 }".into();
    hooks.run(&n, grouped);
    drop(hooks);
    assert_eq!(
        read(&dir.join("web")),
        "TANDEM_GROUP=\n\
         TANDEM_INSTANCE=web\n\
         TANDEM_INTERFACE=eth0\n\
         TANDEM_NEW_STATE=Active\n\
         TANDEM_OLD_STATE=Backup\n\
         TANDEM_REASON=ActiveDown\n\
         TANDEM_TIME=1700000000\n\
         TANDEM_VRID=51\n",
        "log: {:#?}",
        rx.try_iter().collect::<Vec<_>>()
    );
    assert_eq!(
        read(&dir.join("db")),
        "TANDEM_GROUP=dmz\n\
         TANDEM_INSTANCE=db\n\
         TANDEM_INTERFACE=bond0.12\n\
         TANDEM_NEW_STATE=Backup\n\
         TANDEM_OLD_STATE=Active\n\
         TANDEM_REASON=Preempted { by: 192.0.2.2 }\n\
         TANDEM_TIME=1700000000\n\
         TANDEM_VRID=7\n"
    );
}

#[test]
fn hung_hook_is_killed_at_its_timeout_and_the_next_one_runs() {
    let dir = scratch("timeout");
    let out = dir.join("out");
    let (hooks, rx) = runner();
    let mut seen = Vec::new();
    let t0 = Instant::now();
    hooks.run(
        &notify("echo before-hang; sleep 60", Duration::from_millis(300)),
        event("web", "Backup", "Active"),
    );
    wait_line(&rx, &mut seen, ": started pid ");
    // A behaviour check, not a benchmark: run() queues and returns while
    // the slow hook runs, far sooner than that hook's 300 ms.
    let called = Instant::now();
    hooks.run(
        &notify(
            format!("echo ran > {}", out.display()),
            Duration::from_secs(10),
        ),
        event("web", "Active", "Backup"),
    );
    let took = called.elapsed();
    assert!(took < Duration::from_millis(10), "run() took {took:?}");

    let killed = wait_line(&rx, &mut seen, "killed at its timeout");
    assert!(
        killed.starts_with("hook instance=web vrid=51 Backup -> Active: killed at its timeout"),
        "{killed}"
    );
    assert!(
        killed.contains("killed its process group (SIGKILL)"),
        "{killed}"
    );
    assert!(
        killed.contains("before-hang"),
        "output is in the line: {killed}"
    );
    wait_line(&rx, &mut seen, "Active -> Backup: exited 0");
    assert!(
        t0.elapsed() < Duration::from_secs(5),
        "took {:?}",
        t0.elapsed()
    );
    assert_eq!(read(&out), "ran\n");
}

#[test]
fn timeout_kills_the_whole_process_group() {
    let dir = scratch("group");
    let pidfile = dir.join("pid");
    let (hooks, rx) = runner();
    let mut seen = Vec::new();
    hooks.run(
        &notify(
            format!("sleep 60 & echo $! > {}; wait", pidfile.display()),
            Duration::from_millis(300),
        ),
        event("web", "Backup", "Active"),
    );
    wait_line(&rx, &mut seen, "killed at its timeout");
    drop(hooks);
    let pid: u32 = read(&pidfile).trim().parse().expect("grandchild pid");
    let deadline = Instant::now() + Duration::from_secs(2);
    while !dead(pid) && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
    }
    assert!(dead(pid), "grandchild {pid} still runs");
}

#[test]
fn missing_command_logs_a_failure() {
    let (hooks, rx) = runner();
    hooks.run(
        &notify("/nonexistent/tandem-notify-hook", Duration::from_secs(10)),
        event("web", "Backup", "Active"),
    );
    drop(hooks);
    let log: Vec<String> = rx.try_iter().collect();
    let failed = log
        .iter()
        .find(|l| l.contains(": failed: "))
        .unwrap_or_else(|| panic!("no failure line: {log:#?}"));
    assert!(failed.contains("exit status 127"), "{failed}");
    assert!(failed.contains("check the path in notify"), "{failed}");
    assert!(
        failed.contains("/nonexistent/tandem-notify-hook"),
        "shell's message: {failed}"
    );
}

#[test]
fn failing_hook_logs_status_and_output_tail() {
    let (hooks, rx) = runner();
    hooks.run(
        &notify(
            "i=0; while [ $i -lt 2000 ]; do echo line$i; i=$((i+1)); done; echo oops >&2; exit 3",
            Duration::from_secs(10),
        ),
        event("web", "Backup", "Active"),
    );
    drop(hooks);
    let log: Vec<String> = rx.try_iter().collect();
    let failed = log
        .iter()
        .find(|l| l.contains(": failed: exit status 3 after "))
        .unwrap_or_else(|| panic!("no failure line: {log:#?}"));
    assert!(failed.contains("oops"), "{failed}");
    assert!(failed.contains("line1999"), "{failed}");
    assert!(
        !failed.contains("line0\\n"),
        "only the tail is kept: {failed}"
    );
    assert!(failed.len() < OUTPUT_TAIL + 1024, "{} bytes", failed.len());
}

#[test]
fn full_queue_drops_the_oldest_event() {
    let dir = scratch("overflow");
    let gate = dir.join("gate");
    let out = dir.join("out");
    let (hooks, rx) = runner();
    let mut seen = Vec::new();
    hooks.run(
        &notify(
            format!("while [ ! -e {} ]; do sleep 0.01; done", gate.display()),
            Duration::from_secs(10),
        ),
        event("web", "Initialize", "Backup"),
    );
    wait_line(&rx, &mut seen, ": started pid ");
    let n = notify(
        format!("echo \"$TANDEM_NEW_STATE\" >> {}", out.display()),
        Duration::from_secs(10),
    );
    let total = QUEUE_LEN + 6;
    for k in 0..total {
        hooks.run(&n, event("web", "Backup", &format!("S{k}")));
    }
    std::fs::write(&gate, "").expect("open the gate");
    drop(hooks);
    seen.extend(rx.try_iter());
    let dropped: Vec<&String> = seen
        .iter()
        .filter(|l| l.contains(": dropped, not run: "))
        .collect();
    assert_eq!(dropped.len(), 6, "{seen:#?}");
    assert!(dropped[0].starts_with("hook instance=web vrid=51 Backup -> S0: dropped"));
    let want: Vec<String> = (6..total).map(|k| format!("S{k}")).collect();
    let got: Vec<String> = read(&out).lines().map(String::from).collect();
    assert_eq!(got, want);
}

#[test]
fn drop_lets_the_running_hook_finish() {
    let dir = scratch("drop");
    let out = dir.join("out");
    let (hooks, rx) = runner();
    let mut seen = Vec::new();
    hooks.run(
        &notify(
            format!("sleep 0.2; echo done > {}", out.display()),
            Duration::from_secs(10),
        ),
        event("web", "Active", "Initialize"),
    );
    wait_line(&rx, &mut seen, ": started pid ");
    drop(hooks);
    assert_eq!(read(&out), "done\n");
}

#[test]
fn tail_keeps_the_last_bytes() {
    let mut t = Tail::default();
    t.push(b"  hello\n");
    assert_eq!(t.text(), "hello");
    for _ in 0..100 {
        t.push(&[b'x'; 100]);
    }
    t.push(b"end");
    let text = t.text();
    assert!(text.starts_with("[...] x"));
    assert!(text.ends_with("xend"));
    // Each stream keeps half of OUTPUT_TAIL, so both fit in it together.
    assert_eq!(text.len(), "[...] ".len() + OUTPUT_TAIL / 2);
}

/// A command of `run_command` with `env`, `timeout` and the cloud fields.
fn command_run(command: &str, timeout: Duration) -> CommandRun {
    CommandRun {
        key: "cloud provider".into(),
        label: "cloud hook=on_active attempt=1".into(),
        command: command.into(),
        timeout,
        env: vec![("TANDEM_ADDRESSES".into(), "192.0.2.100".into())],
        fields: ("on_active", "hook_timeout"),
    }
}

#[test]
fn run_command_reports_how_each_run_ended() {
    let dir = scratch("run-command");
    let (runner, log) = runner();
    let (tx, rx) = std::sync::mpsc::channel();
    let out = dir.join("env");
    let cases = [
        (
            format!("echo \"$TANDEM_ADDRESSES\" > {}", out.display()),
            RunResult::Ok,
        ),
        ("exit 4".to_string(), RunResult::Failed(Some(4))),
        ("sleep 30".to_string(), RunResult::TimedOut),
    ];
    for (command, _) in &cases {
        let tx = tx.clone();
        runner.run_command(
            command_run(command, Duration::from_millis(300)),
            Box::new(move |result, elapsed| {
                let _ = tx.send((result, elapsed));
            }),
        );
    }
    for (command, want) in &cases {
        let (got, elapsed) = rx.recv_timeout(Duration::from_secs(10)).expect("a result");
        assert_eq!(got, *want, "{command}");
        if *want == RunResult::TimedOut {
            assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
        }
    }
    assert_eq!(read(&out).trim(), "192.0.2.100");
    let mut seen = Vec::new();
    let line = wait_line(&log, &mut seen, "killed at its timeout");
    assert!(
        line.contains("(hook_timeout 0.300 s)") && line.contains("raise hook_timeout"),
        "{line}"
    );
    assert_eq!(RunResult::TimedOut.name(), "timeout");
    assert_eq!(RunResult::NAMES, ["ok", "failed", "timeout", "not_started"]);
}
