//! End-to-end test of the default paths per network namespace: two
//! `tandemd run` from flags alone (no `--control-socket`, no
//! `--state-dir`) in two namespaces of one host, started at the same
//! moment. Each must come up on its own control socket
//! (`/run/tandemd/netns/NS/tandemd.sock`) with its own restart history
//! (`/var/lib/tandemd/netns/NS`), and the client commands run with
//! `ip netns exec NS tandemd ...` must find that namespace's node without
//! a flag. docs/config.md ("Default paths") and docs/testing.md.
//!
//! It reuses the lab of the other end-to-end tests (tests/e2e/lab.rs);
//! it needs root, `ip`, `bridge` and `tcpdump`, and without them returns
//! early saying why, except under `CI=true`, where it fails.

#[path = "e2e/lab.rs"]
#[allow(dead_code)]
mod lab;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use lab::{pair_flags, Lab, Pid, TANDEMD};
use serde_json::Value;

const VIP4: &str = "192.0.2.100";

/// Generous bound for a first election (not measured).
const SETTLE: Duration = Duration::from_secs(15);

/// The per-namespace directories this test's daemons create on the host,
/// removed when the test ends (after the lab has stopped the daemons).
struct HostDirs(Vec<PathBuf>);

impl Drop for HostDirs {
    fn drop(&mut self) {
        for d in &self.0 {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

fn socket_of(ns: &str) -> PathBuf {
    Path::new("/run/tandemd/netns")
        .join(ns)
        .join("tandemd.sock")
}

fn state_of(ns: &str) -> PathBuf {
    Path::new("/var/lib/tandemd/netns").join(ns)
}

/// `ip netns exec NS tandemd ARGS...`: a client command run inside the
/// namespace, with no socket flag.
fn tandemd_in(ns: &str, args: &[&str]) -> Output {
    Command::new("ip")
        .args(["netns", "exec", ns, TANDEMD])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("cannot run ip netns exec")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `tandemd status --json` inside `ns`, or `None` while it does not answer.
fn status(ns: &str) -> Option<Value> {
    let out = tandemd_in(ns, &["status", "--json"]);
    if !out.status.success() {
        return None;
    }
    serde_json::from_slice(&out.stdout).ok()
}

/// Polls `ns`'s status until `pred` holds; returns it.
fn wait_status(lab: &Lab, ns: &str, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    let mut last = None;
    loop {
        if let Some(s) = status(ns) {
            if pred(&s) {
                return s;
            }
            last = Some(s);
        }
        if start.elapsed() >= timeout {
            let why = text(&tandemd_in(ns, &["status"]).stderr);
            panic!(
                "{ns}: status did not reach the expected state within {timeout:?}; last: {}; \
                 tandemd status says: {why}; {}",
                last.map(|s| s.to_string()).unwrap_or_else(|| "none".into()),
                lab.report()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn inst(s: &Value) -> &Value {
    &s["instances"][0]
}

/// `tandemd run` from flags on node `k`, with no path flag at all.
fn start(lab: &mut Lab, k: usize, label: &str, prio: u8) -> Pid {
    let ns = lab.node(k).ns.clone();
    let p = prio.to_string();
    let mut args = vec![TANDEMD, "run"];
    args.extend(pair_flags(&p));
    lab.spawn(&ns, label, &args)
}

fn starts_recorded(ns: &str) -> usize {
    std::fs::read_to_string(state_of(ns).join("starts"))
        .unwrap_or_default()
        .lines()
        .count()
}

/// Two nodes from flags with default paths, in two namespaces, started
/// together: both come up, each on its namespace's socket and state
/// directory; `status`, `maintenance`, `events`, `failover` and
/// `clear-pacified` inside each namespace reach that namespace's node.
#[test]
fn two_nodes_in_two_namespaces_with_default_paths() {
    let pid = std::process::id();
    let names: Vec<String> = ["a", "b"]
        .iter()
        .map(|l| format!("te-nsdef-{pid}-{l}"))
        .collect();
    let _dirs = HostDirs(
        names
            .iter()
            .flat_map(|n| [socket_of(n).parent().unwrap().to_path_buf(), state_of(n)])
            .collect(),
    );
    let Some(mut lab) = Lab::new("nsdef", 2, &[]) else {
        return;
    };
    let ns: Vec<String> = (0..2).map(|k| lab.node(k).ns.clone()).collect();
    assert_eq!(ns, names);
    for n in &ns {
        assert!(
            !state_of(n).exists(),
            "{} left by an earlier run",
            state_of(n).display()
        );
    }

    // Both at the same moment.
    let a = start(&mut lab, 0, "tandemd-a", 200);
    let b = start(&mut lab, 1, "tandemd-b", 100);

    let sa = wait_status(&lab, &ns[0], SETTLE, |s| inst(s)["state"] == "Active");
    let sb = wait_status(&lab, &ns[1], SETTLE, |s| inst(s)["state"] == "Backup");
    lab.wait_only(0, VIP4, &[], SETTLE);
    // Each namespace's status is its own node's.
    assert_eq!(inst(&sa)["priority"], 200, "{sa}");
    assert_eq!(inst(&sb)["priority"], 100, "{sb}");
    for (k, s) in [(0, &sa), (1, &sb)] {
        assert_eq!(s["restart_guard"]["recent_starts"], 1, "node {k}: {s}");
        assert!(
            socket_of(&ns[k]).exists(),
            "{}",
            socket_of(&ns[k]).display()
        );
        assert_eq!(starts_recorded(&ns[k]), 1, "node {k}");
    }
    let page = text(&tandemd_in(&ns[0], &["status"]).stdout);
    assert!(page.starts_with("node: active"), "{page}");

    // The other client commands find the node of their namespace too.
    let events = lab.spawn(&ns[0], "events-a", &[TANDEMD, "events"]);
    std::thread::sleep(Duration::from_millis(500));
    let out = tandemd_in(&ns[0], &["maintenance", "on"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    lab.wait_only(1, VIP4, &[], SETTLE);
    wait_status(&lab, &ns[1], SETTLE, |s| inst(s)["state"] == "Active");
    let sa = wait_status(&lab, &ns[0], SETTLE, |s| inst(s)["state"] == "Backup");
    assert_eq!(sa["maintenance"], true, "{sa}");
    let seen = lab::wait_for(Duration::from_secs(5), || {
        lab.log(events).lines().any(|l| {
            serde_json::from_str::<Value>(l)
                .is_ok_and(|e| e["event"] == "state" && e["to"] == "Backup")
        })
    });
    assert!(
        seen.is_some(),
        "no event in {}'s stream; {}",
        ns[0],
        lab.report()
    );
    let out = tandemd_in(&ns[0], &["maintenance", "off"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    lab.wait_only(0, VIP4, &[], SETTLE);
    let out = tandemd_in(&ns[0], &["failover"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    lab.wait_only(1, VIP4, &[], SETTLE);
    let out = tandemd_in(&ns[1], &["clear-pacified"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The old flag name still works.
    let sock = socket_of(&ns[1]);
    let out = tandemd_in(
        &ns[0],
        &["status", "--json", "--socket", sock.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(inst(&s)["priority"], 100, "{s}");

    // A second start of node a counts in a's history only.
    lab.signal(a, "TERM");
    assert!(
        lab.wait_exit(a, Duration::from_secs(10)),
        "{}",
        lab.report()
    );
    assert!(
        !socket_of(&ns[0]).exists(),
        "the socket outlives its daemon"
    );
    start(&mut lab, 0, "tandemd-a", 200);
    let sa = wait_status(&lab, &ns[0], SETTLE, |s| inst(s)["state"] != "Initialize");
    assert_eq!(sa["restart_guard"]["recent_starts"], 2, "{sa}");
    assert_eq!(starts_recorded(&ns[0]), 2);
    assert_eq!(starts_recorded(&ns[1]), 1);
    let sb = wait_status(&lab, &ns[1], SETTLE, |_| true);
    assert_eq!(sb["restart_guard"]["recent_starts"], 1, "{sb}");
    assert!(!lab.log(b).contains("another tandemd"), "{}", lab.report());
}

/// Two nodes in one namespace, from flags with default paths, started at
/// the same moment: exactly one serves the namespace's control socket, the
/// other stops with `another tandemd is running on PATH`.
#[test]
fn two_nodes_in_one_namespace_exactly_one_starts() {
    let pid = std::process::id();
    let name = format!("te-nsone-{pid}-a");
    let _dirs = HostDirs(vec![
        socket_of(&name).parent().unwrap().to_path_buf(),
        state_of(&name),
    ]);
    let Some(mut lab) = Lab::new("nsone", 2, &[]) else {
        return;
    };
    let ns = lab.node(0).ns.clone();
    assert_eq!(ns, name);
    let first = start(&mut lab, 0, "tandemd-1", 200);
    let second = start(&mut lab, 0, "tandemd-2", 200);
    let want = format!("another tandemd is running on {}", socket_of(&ns).display());
    let refused = lab::wait_for(SETTLE, || {
        lab.log(first).contains(&want) || lab.log(second).contains(&want)
    });
    assert!(
        refused.is_some(),
        "neither start was refused; {}",
        lab.report()
    );
    let (winner, loser) = if lab.log(first).contains(&want) {
        (second, first)
    } else {
        (first, second)
    };
    assert!(
        lab.wait_exit(loser, Duration::from_secs(5)),
        "{}",
        lab.report()
    );
    assert!(!lab.log(winner).contains(&want), "{}", lab.report());
    let s = wait_status(&lab, &ns, SETTLE, |s| inst(s)["state"] == "Active");
    assert_eq!(inst(&s)["priority"], 200, "{s}");
    // The winner keeps its socket: the loser removed nothing.
    assert!(socket_of(&ns).exists());
    assert!(
        !lab.wait_exit(winner, Duration::from_millis(500)),
        "{}",
        lab.report()
    );
}
