//! End-to-end tests of tandemd's control surface in network namespaces:
//! `tandemd status`, `failover`, `maintenance`, `clear-pacified`, `events`
//! and `check-config`, the HTTP health port, notify hooks, SIGHUP reload
//! and the restart guard, against real `tandemd run` nodes.
//!
//! They reuse the lab of the other end-to-end tests (tests/e2e/lab.rs):
//! each tandemd has its own `--state-dir` and `--control-socket` in the
//! test's scratch directory, and the client commands talk to that socket
//! from the test process. The health port listens inside a node's
//! namespace and is queried there with curl. They need root, `ip`,
//! `bridge`, `tcpdump` and `curl`; without them they return early saying
//! why, except under `CI=true`, where they fail. docs/testing.md says what
//! each one checks.

#[path = "e2e/lab.rs"]
#[allow(dead_code)]
mod lab;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lab::{pair_flags, Lab, Pid, TANDEMD};
use serde_json::Value;

const VIP4: &str = "192.0.2.100";

/// What scheduling on two busy cores may add to a protocol's own bound.
const MARGIN: Duration = Duration::from_millis(1500);

/// Generous bound for a first election or a preemption (not measured).
const SETTLE: Duration = Duration::from_secs(15);

/// The health port, inside each node's namespace.
const HEALTH: &str = "127.0.0.1:8080";

/// Master_Down_Interval of a VRRPv3 Backup: 3 intervals + skew.
fn down_interval(interval_s: f64, priority: u8) -> Duration {
    let skew = f64::from(256 - u16::from(priority)) * interval_s / 256.0;
    Duration::from_secs_f64(3.0 * interval_s + skew)
}

/// A lab, or `None` (after saying why) when this test cannot run here.
/// curl is needed by the health checks; under `CI=true` it must be there.
fn new_lab(tag: &str, n: usize, curl: bool) -> Option<Lab> {
    let lab = Lab::new(tag, n, &[])?;
    if curl && !have_curl() {
        let why = "the end-to-end test needs curl (Debian package: curl)";
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{why}, and CI=true: the end-to-end tests must run in CI");
        }
        eprintln!("skipped: {why}");
        return None;
    }
    Some(lab)
}

fn have_curl() -> bool {
    Command::new("curl")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn now_unix() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

/// The control socket of the tandemd on node `k` (as `Lab::tandemd` sets it).
fn socket(lab: &Lab, k: usize) -> PathBuf {
    lab.state_dir(k).join("tandemd.sock")
}

/// Runs a client command (`status`, `failover`, ...) against node `k`'s
/// control socket, from the test process.
fn ctl(lab: &Lab, k: usize, args: &[&str]) -> Output {
    Command::new(TANDEMD)
        .args(args)
        .arg("--control-socket")
        .arg(socket(lab, k))
        .stdin(Stdio::null())
        .output()
        .expect("cannot run tandemd")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `tandemd status --json` of node `k`, or `None` while it does not answer.
fn status(lab: &Lab, k: usize) -> Option<Value> {
    let out = ctl(lab, k, &["status", "--json"]);
    if !out.status.success() {
        return None;
    }
    serde_json::from_slice(&out.stdout).ok()
}

/// `tandemd status` (the human page) of node `k`.
fn status_page(lab: &Lab, k: usize) -> String {
    let out = ctl(lab, k, &["status"]);
    assert!(
        out.status.success(),
        "tandemd status failed: {}",
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// Polls node `k`'s status every 20 ms until `pred` holds; returns it.
fn wait_status(lab: &Lab, k: usize, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    let mut last = None;
    loop {
        if let Some(s) = status(lab, k) {
            if pred(&s) {
                return s;
            }
            last = Some(s);
        }
        if start.elapsed() >= timeout {
            panic!(
                "node {k}'s status did not reach the expected state within {timeout:?}; last: {}; {}",
                last.map(|s| s.to_string()).unwrap_or_else(|| "none".into()),
                lab.report()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The first instance of a status.
fn inst(s: &Value) -> &Value {
    &s["instances"][0]
}

fn state(s: &Value) -> &str {
    inst(s)["state"].as_str().unwrap_or("")
}

/// Runs `args` inside namespace `ns`, capturing its output (not panicking).
fn in_ns(ns: &str, args: &[&str]) -> Output {
    Command::new("ip")
        .args(["netns", "exec", ns])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("cannot run ip netns exec")
}

/// An HTTP GET of `path` on the health port of node `k`, with curl inside
/// its namespace: (status code, headers, body).
fn http(lab: &Lab, k: usize, path: &str) -> (u16, String, String) {
    let url = format!("http://{HEALTH}{path}");
    let out = in_ns(&lab.node(k).ns, &["curl", "-s", "-i", "-m", "3", &url]);
    let raw = text(&out.stdout);
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let code = head
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, head.to_owned(), body.to_owned())
}

/// Starts tandemd with a configuration file on node `k`.
fn tandemd_conf(lab: &mut Lab, k: usize, label: &str, conf: &Path, extra: &[&str]) -> Pid {
    let mut args = vec!["--config", conf.to_str().unwrap()];
    args.extend_from_slice(extra);
    lab.tandemd(k, label, &args)
}

/// The flag form: VRRPv3, eth0, VRID 10, 192.0.2.100/24, 0.1 s.
fn tandemd_flags(lab: &mut Lab, k: usize, label: &str, prio: u8, extra: &[&str]) -> Pid {
    let p = prio.to_string();
    let mut args = pair_flags(&p).to_vec();
    args.extend_from_slice(extra);
    lab.tandemd(k, label, &args)
}

/// The state changes in a tandemd log, in order: `(from, to)`.
fn log_transitions(log: &str) -> Vec<(String, String)> {
    log.lines()
        .filter_map(|l| {
            let rest = l.split_once(" state ")?.1;
            let (from, rest) = rest.split_once(" -> ")?;
            let to = rest.split_whitespace().next()?;
            Some((from.to_owned(), to.to_owned()))
        })
        .collect()
}

/// The JSON objects among the lines of a log.
fn json_lines(log: &str) -> Vec<Value> {
    log.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(Value::is_object)
        .collect()
}

/// Frames of a pcap file with their capture time (Unix seconds).
fn timed_frames(path: &Path) -> Vec<(f64, Vec<u8>)> {
    let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut r =
        pcap_file::pcap::PcapReader::new(f).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut v = Vec::new();
    while let Some(Ok(p)) = r.next_packet() {
        v.push((p.timestamp.as_secs_f64(), p.data.to_vec()));
    }
    v
}

/// A VRRPv3 advert over IPv4 in an Ethernet frame: (VRID, priority).
fn vrrp3_v4(f: &[u8]) -> Option<(u8, u8)> {
    if f.len() < 34 || f[12..14] != [0x08, 0x00] || f[23] != 112 {
        return None;
    }
    let ihl = usize::from(f[14] & 0x0f) * 4;
    let v = f.get(14 + ihl..14 + ihl + 3)?;
    (v[0] >> 4 == 3).then_some((v[1], v[2]))
}

// ---------------------------------------------------------------------- tests

/// `tandemd status` tells the truth before and after a crash: states,
/// Active router, priorities, interval, lights; the survivor reports its
/// takeover with the reason and a transition count.
#[test]
fn status_reflects_failover() {
    let Some(mut lab) = new_lab("cstat", 2, false) else {
        return;
    };
    tandemd_flags(&mut lab, 0, "tandemd-a", 200, &[]);
    tandemd_flags(&mut lab, 1, "tandemd-b", 100, &[]);
    lab.wait_only(0, VIP4, &[], SETTLE);
    let a = wait_status(&lab, 0, SETTLE, |s| state(s) == "Active");
    let b = wait_status(&lab, 1, SETTLE, |s| {
        state(s) == "Backup" && inst(s)["active_router"] == "192.0.2.1"
    });
    let (ia, ib) = (inst(&a), inst(&b));
    assert_eq!(ia["priority"], 200, "{a}");
    assert_eq!(ib["priority"], 100, "{b}");
    assert_eq!(ia["interval_ms"].as_f64(), Some(100.0), "{a}");
    assert_eq!(ib["interval_ms"].as_f64(), Some(100.0), "{b}");
    assert_eq!(ia["address"], "192.0.2.1", "{a}");
    assert_eq!(ia["light"], "active", "{a}");
    assert_eq!(a["light"], "active", "{a}");
    assert_eq!(ib["light"], "standby", "{b}");
    assert_eq!(b["light"], "standby", "{b}");
    assert_eq!(ib["partner"]["address"], "192.0.2.1", "{b}");
    assert_eq!(ib["partner"]["priority"], 200, "{b}");
    assert_eq!(ib["vrid"], 10, "{b}");
    assert_eq!(ib["protocol"], "vrrp3", "{b}");
    let page_a = status_page(&lab, 0);
    let page_b = status_page(&lab, 1);
    assert!(page_a.starts_with("node: active"), "{page_a}");
    assert!(page_b.starts_with("node: standby"), "{page_b}");
    assert!(page_b.contains("192.0.2.1"), "{page_b}");

    lab.crash(0);
    let bound = down_interval(0.1, 100) + MARGIN;
    let took = lab.wait_only(1, VIP4, &[0], bound + Duration::from_secs(5));
    assert!(took <= bound, "takeover took {took:?}, bound {bound:?}");
    let b = wait_status(&lab, 1, Duration::from_secs(5), |s| state(s) == "Active");
    let ib = inst(&b);
    let lt = &ib["last_transition"];
    assert_eq!(lt["from"], "Backup", "{b}");
    assert_eq!(lt["to"], "Active", "{b}");
    let reason = lt["reason"].as_str().unwrap_or("");
    assert!(
        reason.starts_with("active_down") || reason.starts_with("preempting"),
        "reason {reason:?}; {b}"
    );
    assert!(ib["counters"]["transitions"].as_u64() >= Some(2), "{b}");
    assert!(lt["at_unix"].as_f64().is_some_and(|t| t > 0.0), "{b}");
    assert_eq!(ib["active_router"], "192.0.2.2", "{b}");
    // The light of an Active router that hears no one.
    let light = ib["light"].as_str().unwrap_or("");
    assert!(
        ["active", "partner-unreachable"].contains(&light),
        "light {light:?}; {b}"
    );
    let page = status_page(&lab, 1);
    let words = b["light"].as_str().unwrap_or("?").replace('-', " ");
    assert!(page.starts_with(&format!("node: {words}")), "{page}");
    assert!(
        page.contains("active_down") || page.contains("preempting"),
        "{page}"
    );
}

/// `tandemd failover` on the Active hands the address to the partner,
/// which the old Active does not take back; on a node with nothing Active
/// (or a name that does not exist) it fails with a message.
#[test]
fn failover_command_moves_role() {
    let Some(mut lab) = new_lab("cfail", 2, false) else {
        return;
    };
    tandemd_flags(&mut lab, 0, "tandemd-a", 200, &[]);
    tandemd_flags(&mut lab, 1, "tandemd-b", 100, &[]);
    lab.wait_only(0, VIP4, &[], SETTLE);
    wait_status(&lab, 1, SETTLE, |s| state(s) == "Backup");

    let out = ctl(&lab, 0, &["failover"]);
    assert!(out.status.success(), "failover: {}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("handed over: eth0-10-ipv4"),
        "{}",
        text(&out.stdout)
    );
    // The resigning advert (priority 0) makes b take over after its skew
    // time, well under the Active-down timer.
    let took = lab.wait_only(1, VIP4, &[], Duration::from_secs(5));
    assert!(
        took < down_interval(0.1, 100) + MARGIN,
        "handover took {took:?}"
    );
    eprintln!("handover after `tandemd failover`: {took:?}");
    let b = wait_status(&lab, 1, Duration::from_secs(3), |s| state(s) == "Active");
    assert_eq!(inst(&b)["active_router"], "192.0.2.2", "{b}");
    let a = wait_status(&lab, 0, Duration::from_secs(3), |s| state(s) == "Backup");
    assert_eq!(inst(&a)["last_transition"]["reason"], "failover", "{a}");
    // Node a has the higher priority and preempts, yet stays Backup while
    // the partner lives.
    let end = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < end {
        assert_eq!(lab.holders(VIP4), vec![1], "{}", lab.report());
        let a = status(&lab, 0).expect("node a answers");
        assert_eq!(state(&a), "Backup", "{a}");
        std::thread::sleep(Duration::from_millis(100));
    }

    let out = ctl(&lab, 0, &["failover"]);
    assert!(!out.status.success(), "failover on a Backup node succeeded");
    let err = text(&out.stderr);
    assert!(err.contains("nothing to hand over"), "{err}");
    let out = ctl(&lab, 1, &["failover", "nosuch"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("no instance or sync group named \"nosuch\""),
        "{err}"
    );
    // Nothing moved.
    lab.hold_only(1, VIP4, Duration::from_millis(300));
}

/// The health port: 200 with the configured body on the Active, 503 on
/// the Backup, /live 200 on both, metrics; after `tandemd failover` both
/// codes flip within one advert interval (+100 ms for the poll) of each
/// node's transition.
#[test]
fn health_port_follows_role() {
    let Some(mut lab) = new_lab("chealth", 2, true) else {
        return;
    };
    let conf = |prio: u8| {
        format!(
            r#"[health]
listen = "127.0.0.1:9"
active_body = "tandem-active\n"
standby_body = "tandem-standby\n"

[[instance]]
name = "web"
interface = "eth0"
vrid = 10
priority = {prio}
interval = 0.1
addresses = ["192.0.2.100/24"]
"#
        )
    };
    let ca = lab.write("a.toml", &conf(200));
    let cb = lab.write("b.toml", &conf(100));
    // --health-listen overrides the file's listen.
    tandemd_conf(&mut lab, 0, "tandemd-a", &ca, &["--health-listen", HEALTH]);
    tandemd_conf(&mut lab, 1, "tandemd-b", &cb, &["--health-listen", HEALTH]);
    lab.wait_only(0, VIP4, &[], SETTLE);
    wait_status(&lab, 1, SETTLE, |s| state(s) == "Backup");

    let (code, head, body) = http(&lab, 0, "/health");
    assert_eq!((code, body.as_str()), (200, "tandem-active\n"), "{head}");
    assert!(head.contains("X-Tandem-State: active"), "{head}");
    let (code, head, body) = http(&lab, 1, "/health");
    assert_eq!((code, body.as_str()), (503, "tandem-standby\n"), "{head}");
    assert!(head.contains("X-Tandem-State: standby"), "{head}");
    for k in 0..2 {
        let (code, head, _) = http(&lab, k, "/live");
        assert_eq!(code, 200, "node {k} /live: {head}");
    }
    let (code, _, metrics) = http(&lab, 0, "/metrics");
    assert_eq!(code, 200);
    let series = |m: &str, st: &str| -> Vec<String> {
        m.lines()
            .filter(|l| {
                l.starts_with("tandem_instance_state{")
                    && l.contains("instance=\"web\"")
                    && l.contains(&format!("state=\"{st}\""))
            })
            .map(str::to_owned)
            .collect()
    };
    let act = series(&metrics, "Active");
    assert!(act.len() == 1 && act[0].ends_with(" 1"), "{metrics}");
    let bak = series(&metrics, "Backup");
    assert!(bak.len() == 1 && bak[0].ends_with(" 0"), "{metrics}");
    let (_, _, metrics_b) = http(&lab, 1, "/metrics");
    let bak = series(&metrics_b, "Backup");
    assert!(bak.len() == 1 && bak[0].ends_with(" 1"), "{metrics_b}");

    // Pollers inside each namespace: "<unix time after the answer> <code>"
    // every 20 ms.
    let script = format!(
        "while :; do c=$(curl -s -m 1 -o /dev/null -w '%{{http_code}}' http://{HEALTH}/health); \
         printf '%s %s\\n' \"$(date +%s.%N)\" \"$c\"; sleep 0.02; done"
    );
    let ns: Vec<String> = (0..2).map(|k| lab.node(k).ns.clone()).collect();
    let poll = [
        lab.spawn(&ns[0], "poll-a", &["sh", "-c", &script]),
        lab.spawn(&ns[1], "poll-b", &["sh", "-c", &script]),
    ];
    let polls = |lab: &Lab, k: usize| -> Vec<(f64, u16)> {
        lab.log(poll[k])
            .lines()
            .filter_map(|l| {
                let (t, c) = l.split_once(' ')?;
                Some((t.parse().ok()?, c.trim().parse().ok()?))
            })
            .collect()
    };
    let ready = lab::wait_for(Duration::from_secs(5), || {
        polls(&lab, 0).len() >= 3 && polls(&lab, 1).len() >= 3
    });
    assert!(ready.is_some(), "the pollers do not run; {}", lab.report());

    let t_cmd = now_unix();
    let out = ctl(&lab, 0, &["failover", "web"]);
    assert!(out.status.success(), "failover: {}", text(&out.stderr));
    let b = wait_status(&lab, 1, Duration::from_secs(5), |s| state(s) == "Active");
    let a = wait_status(&lab, 0, Duration::from_secs(5), |s| state(s) == "Backup");
    let t_b = inst(&b)["last_transition"]["at_unix"].as_f64().unwrap();
    let t_a = inst(&a)["last_transition"]["at_unix"].as_f64().unwrap();
    // Let the pollers see the flip.
    let seen = lab::wait_for(Duration::from_secs(3), || {
        polls(&lab, 1).iter().any(|(t, c)| *t > t_cmd && *c == 200)
            && polls(&lab, 0).iter().any(|(t, c)| *t > t_cmd && *c == 503)
    });
    let (pa, pb) = (polls(&lab, 0), polls(&lab, 1));
    assert!(
        seen.is_some(),
        "the health codes did not flip; a: {pa:?}; b: {pb:?}"
    );
    let first = |p: &[(f64, u16)], code: u16| {
        p.iter()
            .find(|(t, c)| *t > t_cmd && *c == code)
            .map(|(t, _)| *t)
            .unwrap()
    };
    let bound = 0.1 + 0.1;
    let flip_b = first(&pb, 200) - t_b;
    let flip_a = first(&pa, 503) - t_a;
    eprintln!(
        "health flip after the transition: new Active {flip_b:.3} s, old Active {flip_a:.3} s"
    );
    assert!(
        flip_b < bound,
        "node b answered 200 {flip_b:.3} s after becoming Active (bound {bound} s); {pb:?}"
    );
    assert!(
        flip_a < bound,
        "node a answered 503 {flip_a:.3} s after leaving Active (bound {bound} s); {pa:?}"
    );
    // Never both 200 after the flip settled, and the codes stay flipped.
    std::thread::sleep(Duration::from_millis(300));
    let (code, _, body) = http(&lab, 1, "/health");
    assert_eq!((code, body.as_str()), (200, "tandem-active\n"));
    let (code, _, body) = http(&lab, 0, "/health");
    assert_eq!((code, body.as_str()), (503, "tandem-standby\n"));
}

/// A notify hook that hangs does not hold the election: the node takes
/// over within the usual bound while its hook still runs, and the hook is
/// killed at its timeout. Hooks record every transition, in order.
#[test]
fn hung_notify_hook_does_not_block_election() {
    let Some(mut lab) = new_lab("chook", 2, false) else {
        return;
    };
    let mark = lab.dir.join("hook-a.txt");
    let record = lab.dir.join("hook-b.txt");
    let hang = format!(
        "echo \"$TANDEM_OLD_STATE $TANDEM_NEW_STATE\" >> {}; sleep 60",
        mark.display()
    );
    let rec = format!(
        "echo \"$TANDEM_OLD_STATE $TANDEM_NEW_STATE $TANDEM_INSTANCE $TANDEM_VRID\" >> {}",
        record.display()
    );
    let b = tandemd_flags(&mut lab, 1, "tandemd-b", 200, &["--notify", &rec]);
    lab.wait_only(1, VIP4, &[], SETTLE);
    let a = tandemd_flags(
        &mut lab,
        0,
        "tandemd-a",
        100,
        &["--notify", &hang, "--notify-timeout", "4"],
    );
    let lines = |p: &Path| -> Vec<String> {
        std::fs::read_to_string(p)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    };
    let started = lab::wait_for(Duration::from_secs(10), || !lines(&mark).is_empty());
    assert!(
        started.is_some(),
        "node a's hook never ran; {}",
        lab.report()
    );
    let hook_start = Instant::now();
    assert_eq!(lines(&mark), vec!["Initialize Backup"]);

    // Node a's first hook hangs (for 4 s); the partner crashes now.
    lab.crash(1);
    let bound = down_interval(0.1, 100) + MARGIN;
    let took = lab.wait_only(0, VIP4, &[1], bound + Duration::from_secs(5));
    assert!(
        took <= bound,
        "takeover took {took:?} with a hook hanging, bound {bound:?}; {}",
        lab.report()
    );
    eprintln!("takeover with a hung hook: {took:?}");
    // It happened while the first hook still ran.
    assert!(hook_start.elapsed() < Duration::from_secs(4));
    assert!(
        !lab.log(a).contains("killed at its timeout"),
        "{}",
        lab.report()
    );
    assert_eq!(lines(&mark), vec!["Initialize Backup"]);

    // Both hooks are killed at their timeout, one after the other.
    let killed = lab::wait_for(Duration::from_secs(15), || {
        lab.log(a).matches("killed at its timeout").count() >= 2
    });
    assert!(killed.is_some(), "{}", lab.report());
    let log_a = lab.log(a);
    let kill_lines: Vec<&str> = log_a
        .lines()
        .filter(|l| l.contains("killed at its timeout"))
        .collect();
    assert!(
        kill_lines[0].contains("Initialize -> Backup")
            && kill_lines[1].contains("Backup -> Active")
            && kill_lines
                .iter()
                .all(|l| l.contains("notify_timeout 4.000 s")),
        "{kill_lines:#?}"
    );
    let want: Vec<String> = log_transitions(&log_a)
        .into_iter()
        .map(|(f, t)| format!("{f} {t}"))
        .collect();
    assert_eq!(
        want,
        vec!["Initialize Backup", "Backup Active"],
        "{}",
        lab.report()
    );
    assert_eq!(lines(&mark), want, "node a's hook record");
    // Node b's hook saw each of its transitions, in order, with the
    // instance and VRID in its environment.
    let want_b: Vec<String> = log_transitions(&lab.log(b))
        .into_iter()
        .map(|(f, t)| format!("{f} {t} eth0-10-ipv4 10"))
        .collect();
    assert!(want_b.len() >= 2, "{}", lab.report());
    assert_eq!(lines(&record), want_b, "node b's hook record");
}

/// SIGHUP after a change to one instance restarts that instance only: the
/// other keeps advertising at its period with the same priority, sends no
/// gratuitous ARP and its address sees no netlink event. A broken file
/// changes nothing.
#[test]
fn reload_leaves_unchanged_instance_alone() {
    let Some(mut lab) = new_lab("creload", 2, false) else {
        return;
    };
    let record = lab.dir.join("hook-two.txt");
    let record_s = record.display().to_string();
    let conf = |prio2: u8| {
        format!(
            r#"[[instance]]
name = "one"
interface = "eth0"
vrid = 1
priority = 200
interval = 0.2
addresses = ["192.0.2.101/24"]
announce = {{ refresh_after = 0 }}

[[instance]]
name = "two"
interface = "eth0"
vrid = 2
priority = {prio2}
interval = 0.2
addresses = ["192.0.2.102/24"]
announce = {{ refresh_after = 0 }}
notify = 'echo "$TANDEM_OLD_STATE $TANDEM_NEW_STATE" >> {record_s}'
"#
        )
    };
    let path = lab.write("tandemd.toml", &conf(150));
    let d = tandemd_conf(&mut lab, 0, "tandemd-a", &path, &[]);
    lab.wait_only(0, "192.0.2.101", &[], SETTLE);
    lab.wait_only(0, "192.0.2.102", &[], SETTLE);
    let before = wait_status(&lab, 0, SETTLE, |s| {
        s["instances"]
            .as_array()
            .is_some_and(|v| v.len() == 2 && v.iter().all(|i| i["state"] == "Active"))
    });

    let ns = lab.node(0).ns.clone();
    let mon = lab.spawn(&ns, "ip-monitor", &["ip", "-o", "monitor", "address"]);
    let sock = socket(&lab, 0);
    let events = lab.spawn(
        &ns,
        "events",
        &[
            TANDEMD,
            "events",
            "--control-socket",
            sock.to_str().unwrap(),
        ],
    );
    lab.start_capture("reload.pcap");
    std::thread::sleep(Duration::from_millis(600));
    let t_hup = now_unix();
    std::fs::write(&path, conf(160)).unwrap();
    lab.signal(d, "HUP");
    let reloaded = lab::wait_for(Duration::from_secs(5), || {
        lab.log(d).contains("configuration reloaded")
    });
    assert!(reloaded.is_some(), "{}", lab.report());
    let line = lab
        .log(d)
        .lines()
        .find(|l| l.contains("configuration reloaded"))
        .unwrap()
        .to_owned();
    assert!(
        line.contains("stopped [two], started [two], 1 unchanged"),
        "{line}"
    );
    // Instance two comes back Active with its new priority.
    lab.wait_only(0, "192.0.2.102", &[], SETTLE);
    let mid = wait_status(&lab, 0, SETTLE, |s| {
        s["instances"]
            .as_array()
            .is_some_and(|v| v.len() == 2 && v.iter().all(|i| i["state"] == "Active"))
    });
    let one = |s: &Value| s["instances"][0].clone();
    assert_eq!(one(&mid)["name"], "one");
    assert_eq!(
        one(&mid)["counters"]["transitions"],
        one(&before)["counters"]["transitions"],
        "instance one changed state; {mid}"
    );
    assert_eq!(mid["instances"][1]["priority"], 160, "{mid}");
    std::thread::sleep(Duration::from_millis(600));

    // A broken file: nothing changes.
    let mon_before = lab.log(mon);
    let t_broken = now_unix();
    std::fs::write(&path, "[[instance]\nname = ").unwrap();
    lab.signal(d, "HUP");
    let refused = lab::wait_for(Duration::from_secs(5), || {
        lab.log(d).contains("configuration unchanged")
    });
    assert!(refused.is_some(), "{}", lab.report());
    std::thread::sleep(Duration::from_millis(800));
    let after = status(&lab, 0).expect("node a answers");
    for k in 0..2 {
        let (x, y) = (&mid["instances"][k], &after["instances"][k]);
        assert_eq!(x["state"], y["state"], "{after}");
        assert_eq!(x["priority"], y["priority"], "{after}");
        assert_eq!(
            x["counters"]["transitions"], y["counters"]["transitions"],
            "{after}"
        );
    }
    let frames = lab.stop_capture();
    let mon_log = lab.log(mon);
    assert_eq!(
        mon_log, mon_before,
        "address events after the refused reload"
    );

    // Instance one's adverts: priority 200 throughout, no gap over 1.5
    // intervals (across the reload and the refused reload).
    let timed = timed_frames(&lab.dir.join("reload.pcap"));
    let ads = |vrid: u8| -> Vec<(f64, u8)> {
        timed
            .iter()
            .filter_map(|(t, f)| vrrp3_v4(f).filter(|a| a.0 == vrid).map(|a| (*t, a.1)))
            .collect()
    };
    let one_ads = ads(1);
    assert!(
        one_ads.len() >= 10,
        "too few adverts of VRID 1: {one_ads:?}"
    );
    assert!(
        one_ads.first().unwrap().0 < t_hup && one_ads.last().unwrap().0 > t_broken + 0.5,
        "the capture does not span both reloads: {one_ads:?}"
    );
    assert!(
        one_ads.iter().all(|a| a.1 == 200),
        "VRID 1 changed priority: {one_ads:?}"
    );
    let max_gap = one_ads
        .windows(2)
        .map(|w| w[1].0 - w[0].0)
        .fold(0.0, f64::max);
    eprintln!(
        "VRID 1: {} adverts, largest gap {max_gap:.3} s",
        one_ads.len()
    );
    assert!(max_gap <= 0.3, "VRID 1 gap {max_gap:.3} s > 1.5 intervals");
    // No re-announcement of instance one's address, none of its address
    // events; instance two did both (so the capture and monitor work).
    assert!(
        lab::garp_senders(&frames, "192.0.2.101").is_empty(),
        "gratuitous ARP for 192.0.2.101 during the reload"
    );
    assert!(
        !lab::garp_senders(&frames, "192.0.2.102").is_empty(),
        "no gratuitous ARP for the restarted 192.0.2.102"
    );
    assert!(
        !mon_log.contains("192.0.2.101"),
        "address event for 192.0.2.101: {mon_log}"
    );
    assert!(
        mon_log.contains("192.0.2.102"),
        "no address event for the restarted 192.0.2.102: {mon_log}"
    );
    let two_ads = ads(2);
    assert!(
        two_ads.iter().any(|a| a.1 == 0),
        "instance two did not resign: {two_ads:?}"
    );
    assert!(
        two_ads.iter().any(|a| a.1 == 160),
        "instance two does not advertise 160: {two_ads:?}"
    );
    let two_after: Vec<&(f64, u8)> = two_ads.iter().filter(|a| a.0 > t_broken).collect();
    assert!(
        two_after.iter().all(|a| a.1 == 160),
        "instance two changed after the refused reload: {two_after:?}"
    );
    assert_eq!(
        log_transitions(&lab.log(d))
            .iter()
            .filter(|t| t.1 == "Active")
            .count(),
        3
    );
    // The stopped instance's last transition reaches its hook and the
    // event stream like any other; instance one has no event at all.
    let hooked = lab::wait_for(Duration::from_secs(3), || {
        std::fs::read_to_string(&record).is_ok_and(|t| t.lines().count() >= 5)
    });
    let rec = std::fs::read_to_string(&record).unwrap_or_default();
    assert!(
        hooked.is_some(),
        "instance two's hooks: {rec:?}; {}",
        lab.report()
    );
    assert_eq!(
        rec.lines().collect::<Vec<_>>(),
        vec![
            "Initialize Backup",
            "Backup Active",
            "Active Initialize",
            "Initialize Backup",
            "Backup Active"
        ],
        "{}",
        lab.report()
    );
    let ev: Vec<(String, String, String)> = json_lines(&lab.log(events))
        .iter()
        .filter(|e| e["event"] == "state")
        .map(|e| {
            let f = |k: &str| e[k].as_str().unwrap_or("?").to_owned();
            (f("instance"), f("from"), f("to"))
        })
        .collect();
    let t = |i: &str, f: &str, to: &str| (i.to_owned(), f.to_owned(), to.to_owned());
    assert_eq!(
        ev,
        vec![
            t("two", "Active", "Initialize"),
            t("two", "Initialize", "Backup"),
            t("two", "Backup", "Active")
        ],
        "events during the reloads"
    );
}

/// Three starts within the restart guard's window: the third comes up
/// pacified (passive, light pacified, health 503) and stays Backup alone;
/// `tandemd clear-pacified` lets it become Active.
#[test]
fn restart_guard_pacifies_third_start() {
    let Some(mut lab) = new_lab("cguard", 2, true) else {
        return;
    };
    let conf = lab.write(
        "tandemd.toml",
        r#"[global]
restart_guard = { max_starts = 3, window = 300 }

[[instance]]
name = "web"
interface = "eth0"
vrid = 10
priority = 200
interval = 0.1
addresses = ["192.0.2.100/24"]
"#,
    );
    for n in 1..=2 {
        let p = tandemd_conf(&mut lab, 0, "tandemd-a", &conf, &[]);
        let s = wait_status(&lab, 0, SETTLE, |s| {
            !s["instances"].as_array().unwrap().is_empty()
        });
        assert_eq!(s["restart_guard"]["pacified"], false, "start {n}: {s}");
        assert_eq!(s["restart_guard"]["recent_starts"], n, "start {n}: {s}");
        lab.signal(p, "TERM");
        assert!(lab.wait_exit(p, Duration::from_secs(5)), "{}", lab.report());
    }
    let p = tandemd_conf(
        &mut lab,
        0,
        "tandemd-a",
        &conf,
        &["--health-listen", HEALTH],
    );
    let s = wait_status(&lab, 0, SETTLE, |s| {
        !s["instances"].as_array().unwrap().is_empty()
    });
    assert_eq!(s["restart_guard"]["pacified"], true, "{s}");
    assert_eq!(s["restart_guard"]["recent_starts"], 3, "{s}");
    assert_eq!(s["light"], "pacified", "{s}");
    // Alone on the link, for more than three Active-down intervals.
    let end = Instant::now() + down_interval(0.1, 200) * 3 + Duration::from_millis(500);
    while Instant::now() < end {
        assert!(!lab.has(0, VIP4), "a pacified node took the address");
        let s = status(&lab, 0).expect("node a answers");
        assert_ne!(state(&s), "Active", "{s}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let s = status(&lab, 0).unwrap();
    assert_eq!(state(&s), "Backup", "{s}");
    assert_eq!(inst(&s)["light"], "pacified", "{s}");
    assert!(
        inst(&s)["passive"]
            .as_str()
            .is_some_and(|p| p.contains("pacified")),
        "{s}"
    );
    let page = status_page(&lab, 0);
    assert!(page.starts_with("node: pacified"), "{page}");
    let (code, head, _) = http(&lab, 0, "/health");
    assert_eq!(code, 503, "{head}");
    assert!(head.contains("X-Tandem-State: pacified"), "{head}");

    let out = ctl(&lab, 0, &["clear-pacified"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("restart guard cleared"));
    lab.wait_only(0, VIP4, &[], SETTLE);
    let s = wait_status(&lab, 0, Duration::from_secs(3), |s| state(s) == "Active");
    assert_eq!(s["restart_guard"]["pacified"], false, "{s}");
    assert_ne!(s["light"], "pacified", "{s}");
    let (code, head, _) = http(&lab, 0, "/health");
    assert_eq!(code, 200, "{head}");
    assert!(lab.log(p).contains("pacified"), "{}", lab.report());
}

/// `tandemd maintenance on` moves the role away and keeps it away; `off`
/// lets preemption bring it back. `tandemd events` streams each node's
/// state changes as JSON lines, in order.
#[test]
fn maintenance_and_event_stream() {
    let Some(mut lab) = new_lab("cmaint", 2, false) else {
        return;
    };
    tandemd_flags(&mut lab, 0, "tandemd-a", 200, &[]);
    tandemd_flags(&mut lab, 1, "tandemd-b", 100, &[]);
    lab.wait_only(0, VIP4, &[], SETTLE);
    wait_status(&lab, 1, SETTLE, |s| state(s) == "Backup");
    let mut readers = Vec::new();
    for k in 0..2 {
        let ns = lab.node(k).ns.clone();
        let sock = socket(&lab, k);
        let label = format!("events-{k}");
        readers.push(lab.spawn(
            &ns,
            &label,
            &[
                TANDEMD,
                "events",
                "--control-socket",
                sock.to_str().unwrap(),
            ],
        ));
    }
    // The readers subscribe before anything happens.
    std::thread::sleep(Duration::from_millis(700));

    let out = ctl(&lab, 0, &["maintenance", "on"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("maintenance on"));
    lab.wait_only(1, VIP4, &[], Duration::from_secs(5));
    let a = wait_status(&lab, 0, Duration::from_secs(3), |s| state(s) == "Backup");
    assert_eq!(a["maintenance"], true, "{a}");
    assert_eq!(a["light"], "maintenance", "{a}");
    assert!(
        inst(&a)["passive"]
            .as_str()
            .is_some_and(|p| p.contains("maintenance")),
        "{a}"
    );
    // Higher priority, preemption on, and yet it stays away.
    lab.hold_only(1, VIP4, Duration::from_millis(1500));
    let page = status_page(&lab, 0);
    assert!(page.starts_with("node: maintenance"), "{page}");

    let out = ctl(&lab, 0, &["maintenance", "off"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    lab.wait_only(0, VIP4, &[], SETTLE);
    let a = wait_status(&lab, 0, Duration::from_secs(3), |s| state(s) == "Active");
    assert_eq!(a["maintenance"], false, "{a}");
    wait_status(&lab, 1, Duration::from_secs(3), |s| state(s) == "Backup");
    std::thread::sleep(Duration::from_millis(300));

    let states = |k: usize| -> Vec<Value> {
        json_lines(&lab.log(readers[k]))
            .into_iter()
            .filter(|e| e["event"] == "state")
            .collect()
    };
    let (ea, eb) = (states(0), states(1));
    let seq = |e: &[Value]| -> Vec<(String, String)> {
        e.iter()
            .map(|x| {
                (
                    x["from"].as_str().unwrap_or("?").to_owned(),
                    x["to"].as_str().unwrap_or("?").to_owned(),
                )
            })
            .collect()
    };
    let pair = |f: &str, t: &str| (f.to_owned(), t.to_owned());
    assert_eq!(
        seq(&ea),
        vec![pair("Active", "Backup"), pair("Backup", "Active")],
        "node a's events: {ea:#?}"
    );
    assert_eq!(
        seq(&eb),
        vec![pair("Backup", "Active"), pair("Active", "Backup")],
        "node b's events: {eb:#?}"
    );
    assert_eq!(ea[0]["reason"], "maintenance", "{ea:#?}");
    assert!(
        ea[1]["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("preempting")),
        "{ea:#?}"
    );
    assert!(
        eb[1]["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("preempted")),
        "{eb:#?}"
    );
    for e in ea.iter().chain(&eb) {
        assert_eq!(e["instance"], "eth0-10-ipv4", "{e}");
        assert_eq!(e["vrid"], 10, "{e}");
    }
    for e in [&ea, &eb] {
        let t: Vec<f64> = e.iter().filter_map(|x| x["at_unix"].as_f64()).collect();
        assert!(
            t.len() == e.len() && t.windows(2).all(|w| w[0] <= w[1]),
            "{e:#?}"
        );
    }
    // b took over after a resigned, and a's return came after b's takeover.
    let at = |e: &Value| e["at_unix"].as_f64().unwrap();
    assert!(at(&eb[0]) >= at(&ea[0]) && at(&ea[1]) >= at(&eb[0]));
}

/// `tandemd check-config` explains each error (duplicate VRID on an
/// interface, password on VRRPv3; priority 255 without owning the address,
/// checked on the node) and exits 1; a good file exits 0.
#[test]
fn check_config_explains_errors() {
    let Some(lab) = new_lab("ccheck", 2, false) else {
        return;
    };
    let ns = lab.node(0).ns.clone();
    let check = |name: &str, body: &str, extra: &[&str]| -> (Option<i32>, String) {
        let p = lab.write(name, body);
        let mut args = vec![TANDEMD, "check-config", p.to_str().unwrap()];
        args.extend_from_slice(extra);
        let out = in_ns(&ns, &args);
        (out.status.code(), text(&out.stdout) + &text(&out.stderr))
    };
    let (code, out) = check(
        "bad.toml",
        r#"[[instance]]
name = "web"
interface = "eth0"
vrid = 5
addresses = ["192.0.2.100/24"]

[[instance]]
name = "db"
interface = "eth0"
vrid = 5
addresses = ["192.0.2.101/24"]

[[instance]]
name = "vpn"
interface = "eth0"
vrid = 6
password = "secret"
addresses = ["192.0.2.102/24"]
"#,
        &[],
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(
            "instance \"db\".vrid: VRID 5 on eth0 (IPv4) is already used by instance \"web\""
        ),
        "{out}"
    );
    assert!(
        out.contains("instance \"vpn\".password: VRRPv3 has no authentication"),
        "{out}"
    );
    assert!(
        out.contains("bad.toml:10:8:"),
        "no line number for db's vrid: {out}"
    );
    assert!(out.contains("2 errors"), "{out}");

    let owner = |addr: &str| {
        format!(
            r#"[[instance]]
name = "web"
interface = "eth0"
vrid = 5
priority = 255
addresses = ["{addr}/24"]
"#
        )
    };
    let (code, out) = check("owner.toml", &owner("192.0.2.100"), &[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("priority 255 is the address owner's: this node must own 192.0.2.100"),
        "{out}"
    );
    // The same file for another machine, and a real owner here.
    let (code, out) = check("owner.toml", &owner("192.0.2.100"), &["--no-host"]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = check("owned.toml", &owner("192.0.2.1"), &[]);
    assert_eq!(code, Some(0), "{out}");

    let (code, out) = check(
        "good.toml",
        r#"[[instance]]
name = "web"
interface = "eth0"
vrid = 5
priority = 150
interval = 0.1
addresses = ["192.0.2.100/24"]
notify = "true"
notify_timeout = 2
"#,
        &[],
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("OK, 1 instance"), "{out}");
    // An interface that does not exist in this namespace.
    let (code, out) = check(
        "noif.toml",
        "[[instance]]\ninterface = \"eth9\"\nvrid = 5\naddresses = [\"192.0.2.100/24\"]\n",
        &[],
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("eth9"), "{out}");
}
