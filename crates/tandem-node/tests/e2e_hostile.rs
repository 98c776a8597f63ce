//! End-to-end tests of tandemd under hostile input, in network namespaces:
//! a flood of bad packets while the daemon's log reader has stopped, and
//! while event subscribers read nothing. Each asserts what an operator
//! needs to hold: the election goes on, the control socket answers, memory
//! stays bounded, and the counters say what was dropped.
//!
//! They use the lab of the other end-to-end tests (tests/e2e/lab.rs) and
//! its rules: root, `ip`, `bridge`, `tcpdump`; without them each test
//! returns early saying why, except under `CI=true`, where it fails.
//! docs/testing.md says what each one checks.
//!
//! **The flooder is this test binary.** The test process must send raw
//! protocol-112 packets from inside a namespace, so it runs itself there:
//! `ip netns exec NS <this binary> --exact flood_child --nocapture` with
//! the parameters in the environment variable `TANDEM_E2E_FLOOD`
//! (`KIND RATE COUNT MAX_SECONDS VRID ADDRESS`). The "test" `flood_child`
//! then sends the packets on a raw socket (socket2, built with
//! `tandem_wire::build`, as `examples/flood.rs` does), prints one
//! `flood-result:` line and exits; run without that variable (as in any
//! ordinary `cargo test`) it returns at once. The binary is named by its
//! resolved path (`std::env::current_exe`), not `/proc/self/exe`: `ip netns
//! exec` would resolve that link to `ip` itself.
//!
//! `TANDEM_E2E_TANDEMD=/path/to/tandemd` runs the daemons from another
//! build (the lab's override), to see the tests fail without the fixes.

#[path = "e2e/lab.rs"]
#[allow(dead_code)]
mod lab;

use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddrV4};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use lab::{pair_flags, wait_for, Lab, Pid, TANDEMD};
use serde_json::Value;

/// Where the flood child finds its parameters.
const FLOOD_ENV: &str = "TANDEM_E2E_FLOOD";
/// The line the flood child reports on.
const RESULT: &str = "flood-result:";

/// Generous bound for a first election (not measured).
const SETTLE: Duration = Duration::from_secs(15);

/// The longest `tandemd status --json` may take to answer during a flood.
const STATUS_BOUND: Duration = Duration::from_secs(2);

const VIP4: &str = "192.0.2.100";
const CARP_VIP: &str = "192.0.2.200";
const CARP_PASS: &str = "hostile-e2e-pass";

// ------------------------------------------------------------ the flooder

/// What a flood sends (see `examples/flood.rs`).
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// VRRPv3 whose checksum is wrong with and without the pseudo-header.
    Vrrp3BadChecksum,
    /// CARP signed with a password the node does not have.
    CarpBadHmac,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Vrrp3BadChecksum => "vrrp3-bad-checksum",
            Kind::CarpBadHmac => "carp-bad-hmac",
        }
    }

    fn parse(s: &str) -> Option<Kind> {
        match s {
            "vrrp3-bad-checksum" => Some(Kind::Vrrp3BadChecksum),
            "carp-bad-hmac" => Some(Kind::CarpBadHmac),
            _ => None,
        }
    }
}

/// One flood's parameters, as `TANDEM_E2E_FLOOD` carries them.
#[derive(Debug, Clone)]
struct Flood {
    kind: Kind,
    rate: u32,
    count: u64,
    max_seconds: f64,
    vrid: u8,
    address: Ipv4Addr,
}

impl Flood {
    fn to_env(&self) -> String {
        format!(
            "{} {} {} {} {} {}",
            self.kind.name(),
            self.rate,
            self.count,
            self.max_seconds,
            self.vrid,
            self.address
        )
    }

    fn from_env(s: &str) -> Flood {
        let f: Vec<&str> = s.split_whitespace().collect();
        assert_eq!(
            f.len(),
            6,
            "{FLOOD_ENV}={s:?}: want KIND RATE COUNT MAX_SECONDS VRID ADDRESS"
        );
        let bad = |what: &str| -> ! { panic!("{FLOOD_ENV}={s:?}: bad {what}") };
        Flood {
            kind: Kind::parse(f[0]).unwrap_or_else(|| bad("kind")),
            rate: f[1]
                .parse()
                .ok()
                .filter(|r| (1..=100_000).contains(r))
                .unwrap_or_else(|| bad("rate")),
            count: f[2]
                .parse()
                .ok()
                .filter(|c| *c <= 1_000_000)
                .unwrap_or_else(|| bad("count")),
            max_seconds: f[3]
                .parse()
                .ok()
                .filter(|t| *t > 0.0 && *t <= 30.0)
                .unwrap_or_else(|| bad("max seconds")),
            vrid: f[4]
                .parse()
                .ok()
                .filter(|v| *v > 0)
                .unwrap_or_else(|| bad("vrid")),
            address: f[5].parse().unwrap_or_else(|_| bad("address")),
        }
    }

    /// The message bytes, checked to be hostile as the kind says.
    fn message(&self) -> Vec<u8> {
        use tandem_wire::build::Advert;
        use tandem_wire::{vrrp3, Checksum};
        let addr = IpAddr::V4(self.address);
        // The node checks the checksum against the real source (the
        // flooder's 192.0.2.254, the lab's observer).
        let src = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 254));
        let dst = IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18));
        match self.kind {
            Kind::Vrrp3BadChecksum => {
                let mut m = Advert::vrrp3(self.vrid, [addr])
                    .priority(250)
                    .src(src)
                    .dst(dst)
                    .message();
                m[6] ^= 0x5a;
                m[7] ^= 0xa5;
                let p = vrrp3::Packet::new_checked(&m[..]).expect("a VRRPv3 layout");
                assert!(p.verify_checksum(Checksum::Either { src, dst }).is_err());
                assert!(p.verify_checksum(Checksum::NoPseudoHeader).is_err());
                m
            }
            Kind::CarpBadHmac => Advert::carp(self.vrid, b"not-the-password", [addr])
                .carp_fields(0, 0, 1)
                .src(src)
                .dst(dst)
                .message(),
        }
    }

    /// Sends the flood on eth0 of the namespace this process runs in:
    /// (sent, send errors).
    fn send(&self) -> (u64, u64) {
        use socket2::{Domain, Protocol, SockAddr, Socket, Type};
        let msg = self.message();
        let s = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(112)))
            .expect("a raw socket (protocol 112)");
        s.bind_device(Some(b"eth0")).expect("SO_BINDTODEVICE eth0");
        s.set_multicast_ttl_v4(255).expect("IP_MULTICAST_TTL");
        s.set_multicast_loop_v4(false).expect("IP_MULTICAST_LOOP");
        s.set_recv_buffer_size(4096).expect("SO_RCVBUF");
        let to = SockAddr::from(SocketAddrV4::new(Ipv4Addr::new(224, 0, 0, 18), 0));
        let limit = Duration::from_secs_f64(self.max_seconds);
        let (mut sent, mut errors, mut attempts) = (0u64, 0u64, 0u64);
        let start = Instant::now();
        loop {
            let elapsed = start.elapsed();
            if attempts >= self.count || elapsed >= limit {
                return (sent, errors);
            }
            let due = ((elapsed.as_secs_f64() * f64::from(self.rate)) as u64 + 1).min(self.count);
            while attempts < due {
                attempts += 1;
                match s.send_to(&msg, &to) {
                    Ok(_) => sent += 1,
                    Err(_) => errors += 1,
                }
            }
            std::thread::sleep(Duration::from_micros(500));
        }
    }
}

/// Not a test of its own: the flooder, when the test binary runs itself
/// in a namespace with `TANDEM_E2E_FLOOD` set (see the module docs).
/// Without that variable it returns at once.
#[test]
fn flood_child() {
    let Ok(spec) = std::env::var(FLOOD_ENV) else {
        return;
    };
    let (sent, errors) = Flood::from_env(&spec).send();
    println!("{RESULT} sent={sent} errors={errors}");
}

/// A flood running in a namespace; killed by PID if still running when
/// dropped.
struct Flooding {
    child: Child,
    out: std::sync::mpsc::Receiver<String>,
}

impl Flooding {
    fn start(ns: &str, flood: &Flood) -> Flooding {
        let exe = std::env::current_exe().expect("the test binary's path");
        let mut child = Command::new("ip")
            .args(["netns", "exec", ns])
            .arg(&exe)
            .args(["--exact", "flood_child", "--nocapture", "--test-threads=1"])
            .env(FLOOD_ENV, flood.to_env())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cannot start the flood child");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, out) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Flooding { child, out }
    }

    fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits (up to `timeout`) for the flood to end; the number sent.
    fn finish(mut self, timeout: Duration) -> u64 {
        let ok = wait_for(timeout, || !self.running());
        assert!(
            ok.is_some(),
            "the flood child did not end within {timeout:?}"
        );
        let status = self.child.wait().expect("the flood child's status");
        let lines: Vec<String> = self.out.try_iter().collect();
        assert!(status.success(), "the flood child failed: {lines:#?}");
        let result = lines
            .iter()
            .find_map(|l| l.split_once(RESULT).map(|(_, r)| r.to_owned()))
            .unwrap_or_else(|| panic!("the flood child printed no result: {lines:#?}"));
        eprintln!("flood:{result}");
        let field = |k: &str| -> u64 {
            result
                .split_whitespace()
                .find_map(|f| f.strip_prefix(k)?.parse().ok())
                .unwrap_or_else(|| panic!("no {k} in {result:?}"))
        };
        let (sent, errors) = (field("sent="), field("errors="));
        assert!(
            sent > 0 && errors <= sent / 100,
            "the flood failed to send: {result}"
        );
        sent
    }
}

impl Drop for Flooding {
    fn drop(&mut self) {
        if self.running() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------- helpers

/// The control socket of the tandemd on node `k` (as `Lab::tandemd` sets it).
fn socket(lab: &Lab, k: usize) -> PathBuf {
    lab.state_dir(k).join("tandemd.sock")
}

/// `tandemd status --json` of node `k` if it answers within `bound`
/// (the client is killed by PID after that), with how long it took.
fn status_within(lab: &Lab, k: usize, bound: Duration) -> (Option<Value>, Duration) {
    let start = Instant::now();
    let mut child = Command::new(TANDEMD)
        .args(["status", "--json", "--control-socket"])
        .arg(socket(lab, k))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("cannot run tandemd status");
    let done = wait_for(bound, || matches!(child.try_wait(), Ok(Some(_))));
    if done.is_none() {
        let _ = child.kill();
        let _ = child.wait();
        return (None, start.elapsed());
    }
    let out = child.wait_with_output().expect("tandemd status output");
    let took = start.elapsed();
    if !out.status.success() {
        return (None, took);
    }
    (serde_json::from_slice(&out.stdout).ok(), took)
}

/// Polls node `k`'s status until `pred` holds (or panics after `timeout`).
fn wait_status(lab: &Lab, k: usize, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Value {
    let mut last = None;
    let ok = wait_for(timeout, || {
        let (s, _) = status_within(lab, k, Duration::from_secs(3));
        let hit = s.as_ref().is_some_and(&pred);
        last = s;
        hit
    });
    match (ok, last) {
        (Some(_), Some(s)) => s,
        (_, last) => panic!(
            "node {k}'s status did not reach the expected state within {timeout:?}; last: {}; {}",
            last.map(|s| s.to_string()).unwrap_or_else(|| "none".into()),
            lab.report()
        ),
    }
}

fn state(s: &Value) -> &str {
    s["instances"][0]["state"].as_str().unwrap_or("")
}

fn counter(s: &Value, path: &[&str]) -> u64 {
    let mut v = &s["counters"];
    for p in path {
        v = &v[*p];
    }
    v.as_u64().unwrap_or(0)
}

/// VmRSS of a process, in KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// Lines of a tandemd log that report becoming Active.
fn became_active(log: &str) -> Vec<&str> {
    log.lines().filter(|l| l.contains("-> Active")).collect()
}

// ------------------------------------------------------------------ tests

/// A stopped log reader and 5,000 bad-checksum adverts a second never
/// stop the election. The Active's stderr is a pipe nobody reads (it
/// fills within a fraction of a second); from the observer, 25,000 VRRPv3
/// adverts with a bad checksum go to 224.0.0.18 in 5 s. Throughout, the
/// virtual address is on the Active alone (sampled every 50 ms), the
/// Backup never becomes Active, and the Active's `tandemd status --json`
/// answers within 2 s each second. Afterwards its counters show the
/// drops (`dropped.checksum`) and that the logging gave way
/// (`log_lines_dropped` or `events_suppressed`).
#[test]
fn log_backpressure_never_stops_the_election() {
    let Some(mut lab) = Lab::new("hlog", 2, &[]) else {
        return;
    };
    lab.tandemd_unread_stderr(0, "tandemd-a", &pair_flags("200"));
    lab.wait_only(0, VIP4, &[], SETTLE);
    let b = lab.tandemd(1, "tandemd-b", &pair_flags("100"));
    wait_status(&lab, 1, SETTLE, |s| state(s) == "Backup");
    wait_status(&lab, 0, SETTLE, |s| state(s) == "Active");
    lab.hold_only(0, VIP4, Duration::from_millis(500));
    let transitions = |s: &Value| s["instances"][0]["counters"]["transitions"].as_u64();
    let b_transitions = transitions(&wait_status(&lab, 1, SETTLE, |_| true));

    let obs = lab.obs.clone();
    let flood = Flooding::start(
        &obs,
        &Flood {
            kind: Kind::Vrrp3BadChecksum,
            rate: 5000,
            count: 25_000,
            max_seconds: 7.0,
            vrid: 10,
            address: Ipv4Addr::new(192, 0, 2, 100),
        },
    );
    let stop = AtomicBool::new(false);
    let wrong_holders = Mutex::new(Vec::new());
    let mut answers = Vec::new();
    let flood_sent = std::thread::scope(|sc| {
        sc.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                let h = lab.holders(VIP4);
                if h != [0] {
                    wrong_holders.lock().unwrap().push(h);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        let mut flood = flood;
        // A status request each second, during the flood and 1 s after.
        let mut after = None::<Instant>;
        loop {
            let t = Instant::now();
            answers.push(status_within(&lab, 0, STATUS_BOUND));
            if after.is_none() && !flood.running() {
                after = Some(Instant::now());
            }
            if after.is_some_and(|a| a.elapsed() >= Duration::from_secs(1)) {
                break;
            }
            std::thread::sleep(Duration::from_secs(1).saturating_sub(t.elapsed()));
        }
        stop.store(true, Ordering::Relaxed);
        flood.finish(Duration::from_secs(10))
    });

    let wrong = wrong_holders.into_inner().unwrap();
    assert!(
        wrong.is_empty(),
        "{VIP4} was not on the Active alone during the flood: holders {:?} ({} samples); {}",
        &wrong[..wrong.len().min(5)],
        wrong.len(),
        lab.report()
    );
    let took: Vec<String> = answers
        .iter()
        .map(|(s, t)| {
            format!(
                "{}{:.2}s",
                if s.is_some() { "" } else { "NO ANSWER " },
                t.as_secs_f64()
            )
        })
        .collect();
    eprintln!("status answers during the flood: {took:?}");
    assert!(answers.len() >= 5, "{took:?}");
    assert!(
        answers.iter().all(|(s, _)| s.as_ref().is_some_and(|s| state(s) == "Active")),
        "the Active's status did not answer within {STATUS_BOUND:?} (or not Active) during the flood: {took:?}; {}",
        lab.report()
    );
    assert!(
        became_active(&lab.log(b)).is_empty(),
        "the Backup became Active: {:?}; {}",
        became_active(&lab.log(b)),
        lab.report()
    );
    let sb = wait_status(&lab, 1, Duration::from_secs(3), |_| true);
    assert_eq!(state(&sb), "Backup", "{sb}");
    assert_eq!(transitions(&sb), b_transitions, "{sb}");

    let sa = answers.last().and_then(|(s, _)| s.clone()).unwrap();
    let checksum = counter(&sa, &["dropped", "checksum"]);
    let (logs, suppressed) = (
        counter(&sa, &["log_lines_dropped"]),
        counter(&sa, &["events_suppressed"]),
    );
    eprintln!(
        "Active: dropped.checksum {checksum} of {flood_sent} sent, log_lines_dropped {logs}, events_suppressed {suppressed}, input_queue_drops {}",
        counter(&sa, &["input_queue_drops"])
    );
    assert!(
        checksum >= flood_sent / 2,
        "dropped.checksum {checksum} of {flood_sent} sent: {}",
        sa["counters"]
    );
    assert!(logs > 0 || suppressed > 0, "{}", sa["counters"]);
    // Still advertising: the Backup hears it and the Active keeps the role.
    lab.hold_only(0, VIP4, Duration::from_millis(500));
}

/// Eight event subscribers that never read do not make tandemd's memory
/// grow with the events it produces. One CARP node; eight connections to
/// its control socket each send `{"cmd":"events"}` and read nothing; then
/// 100,000 CARP adverts signed with the wrong password arrive (20,000 a
/// second), each a bad-HMAC diagnostic. tandemd's VmRSS stays below its
/// size before the flood + 20 MiB (sampled every 100 ms, and 2 s after),
/// `tandemd status --json` answers within 2 s afterwards, and its
/// counters show the adverts (`errors.auth`) and the repeated events it
/// did not report one by one (`events_suppressed`).
#[test]
fn slow_event_readers_keep_memory_bounded() {
    const READERS: usize = 8;
    const BOUND_KIB: u64 = 20 * 1024;
    let Some(mut lab) = Lab::new("hev", 2, &[]) else {
        return;
    };
    let p: Pid = lab.tandemd(
        0,
        "tandemd-a",
        &[
            "--interface",
            "eth0",
            "--vrid",
            "10",
            "--protocol",
            "carp",
            "--password",
            CARP_PASS,
            "--address",
            "192.0.2.200/24",
            "--interval",
            "1",
        ],
    );
    lab.wait_only(0, CARP_VIP, &[], SETTLE);
    wait_status(&lab, 0, SETTLE, |s| state(s) == "Active");
    let pid = lab.proc(p).pid();
    let sock = socket(&lab, 0);
    // Connected from the test process: the socket file is on the host's
    // file system, reachable from any namespace.
    let mut readers = Vec::new();
    for _ in 0..READERS {
        let mut s = UnixStream::connect(&sock).expect("connect to the control socket");
        s.write_all(b"{\"cmd\":\"events\"}\n").expect("subscribe");
        readers.push(s);
    }
    std::thread::sleep(Duration::from_millis(500));
    let before = rss_kib(pid).expect("tandemd's VmRSS");

    let obs = lab.obs.clone();
    let mut flood = Flooding::start(
        &obs,
        &Flood {
            kind: Kind::CarpBadHmac,
            rate: 20_000,
            count: 100_000,
            max_seconds: 10.0,
            vrid: 10,
            address: Ipv4Addr::new(192, 0, 2, 200),
        },
    );
    let mut max = before;
    let sample = |max: &mut u64| {
        if let Some(r) = rss_kib(pid) {
            *max = (*max).max(r);
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    while flood.running() {
        sample(&mut max);
    }
    let sent = flood.finish(Duration::from_secs(1));
    let end = Instant::now() + Duration::from_secs(2);
    while Instant::now() < end {
        sample(&mut max);
    }
    let after = rss_kib(pid).unwrap_or(0);
    let mib = |k: u64| k as f64 / 1024.0;
    eprintln!(
        "tandemd VmRSS with {READERS} silent readers: before {:.1} MiB, max {:.1} MiB, after {:.1} MiB",
        mib(before),
        mib(max),
        mib(after)
    );
    assert!(
        max < before + BOUND_KIB,
        "tandemd's VmRSS grew from {:.1} to {:.1} MiB (bound: +{} MiB) with {READERS} silent event readers; {}",
        mib(before),
        mib(max),
        BOUND_KIB / 1024,
        lab.report()
    );
    let (s, took) = status_within(&lab, 0, STATUS_BOUND);
    let s = s.unwrap_or_else(|| {
        panic!(
            "tandemd status did not answer within {STATUS_BOUND:?} ({took:?}); {}",
            lab.report()
        )
    });
    assert_eq!(state(&s), "Active", "{s}");
    let auth = s["instances"][0]["counters"]["errors"]["auth"]
        .as_u64()
        .unwrap_or(0);
    eprintln!(
        "bad-HMAC adverts counted: {auth} of {sent}; events_suppressed {}, event_lines_dropped {}, subscribers_dropped {}",
        counter(&s, &["events_suppressed"]),
        counter(&s, &["event_lines_dropped"]),
        counter(&s, &["subscribers_dropped"])
    );
    assert!(auth >= sent / 2, "errors.auth {auth} of {sent} sent: {s}");
    assert!(counter(&s, &["events_suppressed"]) > 0, "{}", s["counters"]);
    drop(readers);
}
