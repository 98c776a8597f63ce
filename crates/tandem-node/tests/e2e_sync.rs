//! End-to-end tests of configuration sync between the two units of a
//! tandemd pair (docs/config-sync.md), in network namespaces: a change on
//! the Active applied on the standby within a second, local and per-unit
//! settings that stay each unit's own, a restarted standby catching up,
//! hostile bytes on the sync port, SIGKILL in the middle of an apply, a
//! stale unit that must not win, and preemption held until in sync.
//!
//! They use the lab of the other end-to-end tests (tests/e2e/lab.rs) and
//! its rules: root, `ip`, `bridge`, `tcpdump`; without them each test
//! returns early saying why, except under `CI=true`, where it fails. Every
//! wait is bounded. The pair (tests/e2e/sync_pair.rs): unit a on node 0
//! (priority 200, the Active), unit b on node 1 (priority 100), each with
//! a configuration file in a directory of its own, a `[sync]` section and
//! the key `tandemd sync keygen` wrote. docs/testing.md says what each
//! test checks.

#[path = "e2e/lab.rs"]
#[allow(dead_code)]
mod lab;
#[path = "e2e/sync_pair.rs"]
#[allow(dead_code)]
mod sync_pair;

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use tandem_config_sync::channel::{Channel, Key, Side};
use tandem_config_sync::frame::Frame;
use tandem_config_sync::value::Value as DocValue;
use tandem_node::config::document;

use lab::{wait_for, TANDEMD};
use sync_pair::{
    ctl_at, generation, in_netns, keygen, local_root, services, state, tcp_send, text, Pair, PORT,
    SETTLE, VIP,
};

/// What scheduling on two busy cores may add to a protocol's own bound.
const MARGIN: Duration = Duration::from_millis(1500);

/// `[app.vs.web]`: the appliance's virtual service every test starts with.
const WEB: &str = "[app.vs.web]\naddress = \"192.0.2.50\"\nport = 443\n";

/// A field of node `k`'s configuration file on disk.
fn disk(p: &Pair, k: usize, key: &str) -> Option<DocValue> {
    let t = String::from_utf8(p.file(k)).expect("the configuration file is UTF-8");
    document::get(&t, key).unwrap_or_else(|e| panic!("unit {k}'s file does not parse: {e}"))
}

/// `tandemd check-config --no-host FILE` exits 0 (the test process is not
/// in the unit's namespace, so the host checks would look at the wrong
/// interfaces).
fn check_config(path: &std::path::Path) -> Result<(), String> {
    let out = Command::new(TANDEMD)
        .args(["check-config", "--no-host"])
        .arg(path)
        .output()
        .expect("cannot run tandemd");
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("{}{}", text(&out.stdout), text(&out.stderr)))
    }
}

/// The sync status of node `k`, which must answer.
fn sync(p: &Pair, k: usize) -> Value {
    p.sync_status(k)
        .unwrap_or_else(|| panic!("unit {k} does not answer sync status; {}", p.report()))
}

// ---------------------------------------------------------------------- tests

/// `config set` on the Active returns after the standby applied the
/// change: under a second, and by then the standby's running
/// configuration and its file on disk have the value.
#[test]
fn change_on_active_applied_on_standby_within_1s() {
    let Some(mut p) = Pair::new("sset", 2) else {
        return;
    };
    p.start_pair(WEB);
    let before = sync(&p, 0);
    let (line, took) = p.set(0, "app.vs.web.port", "8443");
    eprintln!("config set on the Active: {took:?}: {}", line.trim());
    // The value is there the moment the command returns.
    let on_b = p.get(1, "app.vs.web.port");
    let on_disk = disk(&p, 1, "app.vs.web.port");
    assert!(
        line.contains("partner applied"),
        "config set did not wait for the partner: {line:?}; {}",
        p.report()
    );
    assert!(took < Duration::from_secs(1), "config set took {took:?}");
    assert_eq!(on_b.as_deref(), Some("8443"), "{}", p.report());
    assert_eq!(on_disk, Some(DocValue::Int(8443)));
    p.wait_in_sync(Duration::from_secs(2));
    let (a, b) = (sync(&p, 0), sync(&p, 1));
    assert_eq!(generation(&a), generation(&before).map(|g| g + 1), "{a}");
    assert_eq!(generation(&a), generation(&b), "a {a}\nb {b}");
    // The Active's own file has it too, and the standby still runs as the
    // Backup.
    assert_eq!(disk(&p, 0, "app.vs.web.port"), Some(DocValue::Int(8443)));
    assert_eq!(p.role(1), "Backup");
    // The human page says so.
    let page = text(&p.ctl(1, &["sync", "status"]).stdout);
    assert!(page.starts_with("sync: in-sync"), "{page}");
}

/// A change on a to the instance both units run leaves b's own settings
/// alone: its priority, state_dir, control socket, `[sync]` section and
/// its `[unit.b...]` overlay; a's `[unit.a...]` overlay reaches b's file
/// while b runs with its own priority and interface.
#[test]
fn local_and_per_unit_settings_survive() {
    let Some(mut p) = Pair::new("slocal", 2) else {
        return;
    };
    let tail = format!(
        "[unit.a.instance.web]\npreempt_delay = 1\n\n[unit.b.instance.web]\npreempt_delay = 2\n\n{WEB}"
    );
    p.start_pair(&tail);
    let own = [
        "instance.web.priority",
        "global.state_dir",
        "global.control_socket",
        "sync.unit",
        "sync.cluster",
        "sync.listen",
        "sync.peer",
        "sync.key_file",
        "unit.b.instance.web.preempt_delay",
    ];
    let b_before: Vec<Option<String>> = own.iter().map(|k| p.get(1, k)).collect();
    let a_before: Vec<Option<String>> = own.iter().map(|k| p.get(0, k)).collect();
    assert_eq!(b_before[0].as_deref(), Some("100"));
    assert_eq!(a_before[0].as_deref(), Some("200"));
    assert_eq!(b_before[3].as_deref(), Some("\"b\""));

    let (line, _) = p.set(0, "instance.web.interval", "0.2");
    assert!(line.contains("partner applied"), "{line}; {}", p.report());
    p.wait_in_sync(Duration::from_secs(3));
    // A changed instance restarts on both units (the reload plan): a is
    // the Active again after its down interval.
    p.wait_role(0, "Active", SETTLE);
    assert_eq!(p.get(1, "instance.web.interval").as_deref(), Some("0.2"));
    let b_after: Vec<Option<String>> = own.iter().map(|k| p.get(1, k)).collect();
    let a_after: Vec<Option<String>> = own.iter().map(|k| p.get(0, k)).collect();
    for (i, k) in own.iter().enumerate() {
        assert_eq!(b_before[i], b_after[i], "unit b's {k} changed");
        assert_eq!(a_before[i], a_after[i], "unit a's {k} changed");
    }
    // b runs the new interval with its own priority.
    let ok = wait_for(SETTLE, || {
        p.status(1).is_some_and(|s| {
            let i = &s["instances"][0];
            i["interval_ms"].as_f64() == Some(200.0) && i["priority"] == 100
        })
    });
    assert!(ok.is_some(), "b: {:?}", p.status(1));

    // a's overlay is synced: it is in b's file, and b ignores it.
    let (line, _) = p.set(0, "unit.a.instance.web.preempt_delay", "3");
    assert!(line.contains("partner applied"), "{line}; {}", p.report());
    assert_eq!(
        disk(&p, 1, "unit.a.instance.web.preempt_delay"),
        Some(DocValue::Int(3))
    );
    assert_eq!(
        disk(&p, 1, "unit.b.instance.web.preempt_delay"),
        Some(DocValue::Int(2))
    );
    assert_eq!(
        disk(&p, 1, "instance.web.priority"),
        Some(DocValue::Int(100))
    );
    assert_eq!(
        disk(&p, 0, "instance.web.priority"),
        Some(DocValue::Int(200))
    );
    let s = p.status(1).expect("b answers");
    let i = &s["instances"][0];
    assert_eq!(i["priority"], 100, "{s}");
    assert_eq!(i["interface"], "eth0", "{s}");
    assert_eq!(i["state"], "Backup", "{s}");
    // The Backup refuses a shared change, and takes a local one.
    let out = p.ctl(1, &["config", "set", "app.vs.web.port", "1"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(said.contains("this unit is the Backup"), "{said}");
    let out = p.ctl(
        1,
        &["config", "set", "--local", "instance.web.priority", "90"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(p.get(1, "instance.web.priority").as_deref(), Some("90"));
    assert_eq!(p.get(0, "instance.web.priority").as_deref(), Some("200"));
    p.wait_in_sync(Duration::from_secs(3));
}

/// A standby stopped while the Active makes three changes has all three
/// within a few seconds of starting again.
#[test]
fn restarted_standby_catches_up() {
    let Some(mut p) = Pair::new("scatch", 2) else {
        return;
    };
    p.start_pair(WEB);
    p.stop(1);
    let changes = [
        ("app.vs.web.port", "8001"),
        ("app.vs.mail.port", "25"),
        ("app.vs.web.backends", "[\"10.0.0.1\", \"10.0.0.2\"]"),
    ];
    for (k, v) in changes {
        let (line, _) = p.set(0, k, v);
        assert!(line.contains("pending"), "{line}");
    }
    let gen_a = generation(&sync(&p, 0));
    p.start(1);
    let took = p.wait_in_sync(Duration::from_secs(5) + MARGIN);
    eprintln!("restarted standby in sync after {took:?}");
    for (k, v) in changes {
        assert_eq!(p.get(1, k).as_deref(), Some(v), "{k}");
    }
    assert_eq!(
        disk(&p, 1, "app.vs.mail.port"),
        Some(DocValue::Int(25)),
        "b's file"
    );
    assert_eq!(generation(&sync(&p, 1)), gen_a);
}

/// Bytes that are not the partner's session change nothing on b: its file
/// stays byte for byte, it stays in sync with a, and it reports the
/// handshake and authentication failures.
#[test]
fn bad_traffic_changes_nothing() {
    let Some(mut p) = Pair::new("sbad", 3) else {
        return;
    };
    p.start_pair(WEB);
    let file_before = p.file(1);
    let gen_before = generation(&sync(&p, 1));
    let to: SocketAddr = format!("192.0.2.2:{PORT}").parse().unwrap();
    let obs = p.lab.obs.clone();
    let key = Key::parse_file(&std::fs::read_to_string(&p.key).unwrap()).unwrap();
    let cluster = p.cluster.clone();

    let mut seed = u64::from(std::process::id()) | 1;
    let random: Vec<u8> = (0..8192)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect();
    // The same behind a plausible length: a whole message 1 of noise.
    let mut framed = 200u16.to_be_bytes().to_vec();
    framed.extend_from_slice(&random[..200]);
    let msg1 = Channel::new(Side::Initiator, &key, &cluster)
        .unwrap()
        .take_output();
    let truncated = msg1[..msg1.len() / 2].to_vec();

    // While a is connected: every extra connection is closed, a's stays.
    {
        let (r, t) = (random.clone(), truncated.clone());
        in_netns(&obs, move || {
            tcp_send(to, &r, Duration::from_millis(300));
            tcp_send(to, &t, Duration::from_millis(300));
        });
    }
    std::thread::sleep(Duration::from_millis(500));
    assert!(p.in_sync(0, 1), "{}", p.report());

    // With a stopped, b's port is free for whoever connects.
    let ns_b = p.lab.node(1).ns.clone();
    let sock_b = p.socket(1);
    let events = p.lab.spawn(
        &ns_b,
        "events-b",
        &[
            TANDEMD,
            "events",
            "--control-socket",
            sock_b.to_str().unwrap(),
        ],
    );
    p.stop(0);
    let ok = wait_for(Duration::from_secs(10), || {
        p.sync_status(1)
            .is_some_and(|s| state(&s) == "disconnected")
    });
    assert!(ok.is_some(), "b: {:?}", p.sync_status(1));

    // Random bytes, noise behind a length, half a handshake, then a genuine short
    // connection (message 1, b's message 2, one BYE) recorded and
    // replayed on a new connection.
    let replay = in_netns(&obs, move || {
        tcp_send(to, &random, Duration::from_millis(500));
        tcp_send(to, &framed, Duration::from_millis(2500));
        tcp_send(to, &truncated, Duration::from_millis(2500));
        let mut ch = Channel::new(Side::Initiator, &key, &cluster).unwrap();
        let mut sent = ch.take_output();
        let mut s = std::net::TcpStream::connect_timeout(&to, Duration::from_secs(2))
            .expect("connect to b");
        std::io::Write::write_all(&mut s, &sent).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut buf = vec![0u8; 65536];
        let end = Instant::now() + Duration::from_secs(2);
        while !ch.is_ready() && Instant::now() < end {
            match std::io::Read::read(&mut s, &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    ch.receive(&buf[..n]).expect("b's handshake message");
                }
            }
        }
        assert!(
            ch.is_ready(),
            "b did not answer a valid message 1 (the right key) within 2 s"
        );
        ch.send(
            &Frame::Bye {
                reason: "e2e capture".into(),
            }
            .to_bytes(),
        )
        .unwrap();
        let bye = ch.take_output();
        std::io::Write::write_all(&mut s, &bye).unwrap();
        sent.extend_from_slice(&bye);
        drop(s);
        std::thread::sleep(Duration::from_millis(200));
        // The replay: b takes message 1 afresh, and the old BYE fails
        // under the new keys: b closes at once, not at the handshake's
        // 2 s timeout.
        let t = Instant::now();
        tcp_send(to, &sent, Duration::from_millis(2500));
        t.elapsed()
    });
    assert!(
        replay < Duration::from_millis(1500),
        "b kept the replayed connection open for {replay:?}"
    );

    // A tandemd with another key dials b as unit a.
    let other = p.lab.dir.join("other.key");
    keygen(&other);
    let c_conf = p
        .conf_with_key(2, &other, "")
        .replace("unit = \"c\"", "unit = \"a\"")
        .replace("peer = \"192.0.2.1:6973\"", "peer = \"192.0.2.2:6973\"")
        .replace("vrid = 10", "vrid = 20")
        .replace(VIP, "192.0.2.120");
    p.write_conf(2, &c_conf);
    p.start(2);
    let shown = wait_for(Duration::from_secs(10), || {
        p.sync_status(1).is_some_and(|s| {
            s["last_error"]
                .as_str()
                .is_some_and(|e| e.contains("handshake"))
        })
    });
    assert!(
        shown.is_some(),
        "b's sync status shows no handshake failure: {:?}",
        p.sync_status(1)
    );
    p.stop(2);
    let seen = format!("{}\n{}", p.lab.log(events), p.log(1));
    assert!(seen.contains("handshake failed"), "b's events: {seen}");
    assert!(
        seen.contains("failed authentication"),
        "b's events do not show the replay: {seen}"
    );
    assert!(
        p.lab.log(events).lines().any(|l| l.contains("sync_error")),
        "no sync_error event: {}",
        p.lab.log(events)
    );
    // b still in step with a, its file untouched.
    assert_eq!(p.file(1), file_before, "b's file changed");
    p.start(0);
    p.wait_in_sync(SETTLE);
    assert_eq!(p.file(1), file_before, "b's file changed");
    assert_eq!(generation(&sync(&p, 1)), gen_before);
    assert_eq!(p.get(1, "app.vs.web.port").as_deref(), Some("443"));
}

/// SIGKILL of b at a random moment of a large change leaves b's file the
/// old configuration or the new one, never a mix nor a broken file; b
/// catches up after its restart.
#[test]
fn kill_during_apply_leaves_old_or_new() {
    let Some(mut p) = Pair::new("skill", 2) else {
        return;
    };
    const N: usize = 2000;
    const ROUNDS: u32 = 10;
    p.start_pair(WEB);
    let head = p.conf(0, "");
    let big = |r: u32| format!("{head}{}", services(N, 1000 + r, r));
    let next = p.lab.dir.join("next.toml");
    std::fs::write(&next, big(0)).unwrap();
    let out = p.ctl(0, &["config", "apply", next.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    p.wait_in_sync(SETTLE);
    let mut seed = u64::from(std::process::id());
    eprintln!("kill_during_apply seed {seed}");
    let mut killed_pids = Vec::new();
    let (mut saw_old, mut saw_new) = (0, 0);
    for r in 1..=ROUNDS {
        std::fs::write(&next, big(r)).unwrap();
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let delay = Duration::from_millis((seed >> 33) % 1200);
        let sock = p.socket(0);
        let path = next.clone();
        let apply =
            std::thread::spawn(move || ctl_at(&sock, &["config", "apply", path.to_str().unwrap()]));
        std::thread::sleep(delay);
        killed_pids.push(p.pid(1).unwrap_or(0));
        p.kill(1);
        let out = apply.join().unwrap();
        assert!(
            out.status.success(),
            "round {r}: apply on a: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        check_config(&p.conf_path(1))
            .unwrap_or_else(|e| panic!("round {r}: b's file after SIGKILL at {delay:?}: {e}"));
        let marker = disk(&p, 1, "app.meta.marker.round");
        let port0 = disk(&p, 1, "app.vs.svc0.port");
        let last = disk(&p, 1, &format!("app.vs.svc{}.port", N - 1));
        let want = |m: u32| {
            (
                Some(DocValue::Int(i64::from(m))),
                Some(DocValue::Int(i64::from(1000 + m))),
                Some(DocValue::Int(i64::from(1000 + m + (N as u32 - 1) % 1000))),
            )
        };
        let got = (marker, port0, last);
        if got == want(r - 1) {
            saw_old += 1;
        } else if got == want(r) {
            saw_new += 1;
        } else {
            panic!("round {r}: b's file is neither old nor new: {got:?}");
        }
        p.start(1);
        p.wait_in_sync(SETTLE);
        assert_eq!(
            disk(&p, 1, "app.meta.marker.round"),
            Some(DocValue::Int(i64::from(r)))
        );
    }
    eprintln!("kill during apply: {saw_old} rounds left the old file, {saw_new} the new one");
    // Temporaries: only those of killed processes may remain, one each.
    let dir = p.conf_path(1).parent().unwrap().to_owned();
    let running = p.pid(1).unwrap_or(0);
    let extra: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "tandemd.toml")
        .collect();
    eprintln!("files left beside b's configuration: {extra:?}");
    for n in &extra {
        assert!(
            !n.contains(&format!("-{running}.")),
            "the running b left {n}"
        );
        assert!(
            killed_pids.iter().any(|k| n.contains(&k.to_string())),
            "{n} is not a killed process's temporary"
        );
    }
    assert!(extra.len() <= ROUNDS as usize);
}

/// A unit that was away (b) and comes back alone, as the Active, with its
/// old configuration does not overwrite the newer one: when a returns,
/// a's configuration wins on both.
#[test]
fn stale_unit_does_not_overwrite() {
    let Some(mut p) = Pair::new("sstale", 2) else {
        return;
    };
    p.start_pair(WEB);
    p.set(0, "app.vs.web.port", "444");
    p.wait_in_sync(Duration::from_secs(3));
    p.stop(1);
    p.set(0, "app.vs.web.port", "8001");
    p.set(0, "app.vs.new.port", "9");
    let gen_a = generation(&sync(&p, 0));
    p.stop(0);
    p.start(1);
    p.wait_role(1, "Active", SETTLE);
    assert_eq!(p.get(1, "app.vs.web.port").as_deref(), Some("444"));
    p.start(0);
    p.wait_in_sync(SETTLE);
    for k in 0..2 {
        assert_eq!(p.get(k, "app.vs.web.port").as_deref(), Some("8001"), "{k}");
        assert_eq!(p.get(k, "app.vs.new.port").as_deref(), Some("9"), "{k}");
        assert_eq!(disk(&p, k, "app.vs.web.port"), Some(DocValue::Int(8001)));
    }
    assert_eq!(generation(&sync(&p, 1)), gen_a);
    // And a, in sync, takes its role back.
    p.lab.wait_only(0, VIP, &[], SETTLE);
}

/// A higher-priority unit whose sync channel fails (another key) does not
/// preempt the live Active; with the right key it does, once in sync.
#[test]
fn election_holds_preemption_until_in_sync() {
    let Some(mut p) = Pair::new("spreempt", 2) else {
        return;
    };
    let other = p.lab.dir.join("other.key");
    keygen(&other);
    p.write_conf(1, &p.conf(1, WEB));
    p.start(1);
    p.wait_role(1, "Active", SETTLE);
    p.lab.wait_only(1, VIP, &[], SETTLE);
    p.write_conf(0, &p.conf_with_key(0, &other, WEB));
    p.start(0);
    p.wait_role(0, "Backup", SETTLE);
    // a hears b's lower priority and would preempt at once.
    p.lab.hold_only(1, VIP, Duration::from_secs(3));
    let s = sync(&p, 0);
    assert_ne!(state(&s), "in-sync", "{s}");
    if let Some(ready) = s.get("ready") {
        assert_eq!(ready, false, "{s}");
    }
    p.stop(0);
    p.write_conf(0, &p.conf(0, WEB));
    p.start(0);
    p.wait_in_sync(SETTLE);
    let took = p.lab.wait_only(0, VIP, &[], SETTLE);
    eprintln!("preempted {took:?} after the restart with the right key");
    p.wait_role(1, "Backup", Duration::from_secs(5));
}

/// Bidirectional mode (cloud pairs): either unit edits and the other
/// applies it; edits made on both while the link is down converge when it
/// comes back (the later one wins, the conflict is counted), with equal
/// roots and both files holding the winner.
#[test]
fn bidirectional_either_unit_edits_and_concurrent_edits_converge() {
    let Some(mut p) = Pair::new("sbidi", 2) else {
        return;
    };
    for k in 0..2 {
        let text = p.conf(k, WEB).replace(
            "\n\n[[instance]]",
            "\nmode = \"bidirectional\"\n\n[[instance]]",
        );
        assert!(text.contains("mode = \"bidirectional\""));
        p.write_conf(k, &text);
    }
    p.start(0);
    p.start(1);
    p.wait_role(0, "Active", SETTLE);
    p.wait_in_sync(SETTLE);
    // The Backup edits; the Active applies.
    let (line, _) = p.set(1, "app.vs.web.port", "7001");
    assert!(line.contains("partner applied"), "{line:?}; {}", p.report());
    assert_eq!(p.get(0, "app.vs.web.port").as_deref(), Some("7001"));
    let (line, _) = p.set(0, "app.vs.mail.port", "25");
    assert!(line.contains("partner applied"), "{line:?}; {}", p.report());
    assert_eq!(p.get(1, "app.vs.mail.port").as_deref(), Some("25"));
    // Apart: the link between them down until both see the partner gone.
    let (sw, port_b) = (p.lab.sw.clone(), p.lab.node(1).port.clone());
    lab::run("ip", &["-n", &sw, "link", "set", &port_b, "down"]);
    let apart = wait_for(Duration::from_secs(10), || {
        [0, 1]
            .iter()
            .all(|&k| state(&sync(&p, k)) == "disconnected")
    });
    assert!(apart.is_some(), "still connected: {}", p.report());
    p.set(0, "app.vs.web.port", "8001");
    std::thread::sleep(Duration::from_millis(50));
    p.set(1, "app.vs.web.port", "8002");
    lab::run("ip", &["-n", &sw, "link", "set", &port_b, "up"]);
    // Equal roots again; the state says conflict (the resolved object)
    // until `sync status --clear`.
    let met = wait_for(Duration::from_secs(20), || {
        let (a, b) = (sync(&p, 0), sync(&p, 1));
        local_root(&a) == local_root(&b)
            && [&a, &b]
                .iter()
                .all(|s| matches!(state(s), "in-sync" | "conflict"))
            && [&a, &b].iter().any(|s| state(s) == "conflict")
    });
    assert!(
        met.is_some(),
        "not converged with a conflict: {}",
        p.report()
    );
    let (a, b) = (sync(&p, 0), sync(&p, 1));
    let named = |s: &Value| s["objects"].to_string().contains("app.vs.web");
    assert!(
        named(&a) || named(&b),
        "the conflict does not name app.vs.web: a {a}\nb {b}"
    );
    assert_eq!(local_root(&a), local_root(&b), "a {a}\nb {b}");
    assert_eq!(
        p.get(0, "app.vs.web.port").as_deref(),
        Some("8002"),
        "{}",
        p.report()
    );
    assert_eq!(p.get(1, "app.vs.web.port").as_deref(), Some("8002"));
    assert_eq!(disk(&p, 0, "app.vs.web.port"), Some(DocValue::Int(8002)));
    let conflicts = |s: &Value| s["conflicts"].as_u64().unwrap_or(0);
    assert!(
        conflicts(&a) + conflicts(&b) >= 1,
        "no conflict counted: a {a}\nb {b}"
    );
}
