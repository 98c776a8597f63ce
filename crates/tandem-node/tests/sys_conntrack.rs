//! Tests of the ctnetlink driver (`tandem_node::sys::conntrack`) against
//! the kernel, each in network namespaces of its own
//! (`tct-<test>-<pid>-<n>`), with `net.netfilter.nf_conntrack_events=1`.
//!
//! The `conntrack` command (conntrack-tools) is the independent truth: it
//! makes entries the driver must read (`-I`, `-U`, `-D`) and lists the
//! entries the driver made (`-L`). Driver calls run on a thread that
//! entered the namespace (`setns`); sockets made there stay in it.
//!
//! They need root. Without it they return early and say why, except under
//! `CI=true`, where they fail instead.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tandem_node::sys::conntrack::{
    parse_events, proto, status, tcp_flag, tcp_state, Conntrack, Entry, Event, Events, EventsError,
    TcpInfo, Tuple,
};

// ---------------------------------------------------------------- the lab

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// Whether the test can run; panics under CI=true when it cannot.
fn can_run() -> bool {
    let why = if !is_root() {
        "the conntrack tests need root (network namespaces, ctnetlink)"
    } else if Command::new("conntrack").arg("--version").output().is_err() {
        "the conntrack tests need the conntrack command (Debian package conntrack)"
    } else {
        return true;
    };
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{why}, and CI=true");
    }
    eprintln!("skipped: {why}");
    false
}

fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A network namespace with conntrack events on; deleted on drop.
struct Ns(String);

static COUNTER: AtomicUsize = AtomicUsize::new(0);

impl Ns {
    fn new(tag: &str) -> Ns {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let ns = Ns(format!("tct-{tag}-{}-{n}", std::process::id()));
        run("ip", &["netns", "add", &ns.0]);
        run("ip", &["-n", &ns.0, "link", "set", "lo", "up"]);
        ns.sysctl("net.netfilter.nf_conntrack_events=1");
        ns
    }

    fn sysctl(&self, setting: &str) {
        run("ip", &["netns", "exec", &self.0, "sysctl", "-qw", setting]);
    }

    /// Runs `conntrack ARGS` in the namespace; its stdout.
    fn ct(&self, args: &[&str]) -> String {
        let mut all = vec!["netns", "exec", &self.0, "conntrack"];
        all.extend_from_slice(args);
        run("ip", &all)
    }

    fn ip(&self, args: &str) {
        let mut all = vec!["-n", &self.0];
        all.extend(args.split_whitespace());
        run("ip", &all);
    }

    fn nft(&self, args: &str) -> String {
        let mut all = vec!["netns", "exec", &self.0, "nft"];
        all.extend(args.split_whitespace());
        run("ip", &all)
    }

    /// Runs `f` on a thread inside the namespace.
    fn within<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let path = format!("/run/netns/{}", self.0);
        std::thread::spawn(move || {
            enter(&path);
            f()
        })
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e))
    }

    fn conntrack(&self) -> Conntrack {
        self.within(|| Conntrack::open().expect("open ctnetlink"))
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// Moves the calling thread into the network namespace at `path`.
#[allow(unsafe_code)]
fn enter(path: &str) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    // SAFETY: setns on a descriptor of a namespace file we hold open; it
    // changes only this thread's network namespace.
    let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(rc, 0, "setns {path}: {}", std::io::Error::last_os_error());
}

// ------------------------------------------------------ conntrack -L, read

/// One line of `conntrack -L`, as fields: `proto`, `timeout`, `state`
/// (if any), `mark`, `zone`, and the tuples as `src`/`dst`/`sport`/`dport`
/// (`type`/`code`/`id` for ICMP) prefixed `o.` and `r.`.
fn listed(ns: &Ns) -> Vec<BTreeMap<String, String>> {
    let out = ns.ct(&["-L"]);
    out.lines()
        .filter(|l| !l.trim().is_empty())
        .map(fields)
        .collect()
}

fn fields(line: &str) -> BTreeMap<String, String> {
    let mut f = BTreeMap::new();
    let mut words = line.split_whitespace();
    f.insert("proto".into(), words.nth(1).unwrap_or("").to_string());
    f.insert("timeout".into(), words.next().unwrap_or("").to_string());
    let mut dir = "o.";
    for w in words {
        if w.starts_with('[') {
            f.insert(w.trim_matches(['[', ']']).to_string(), String::new());
            continue;
        }
        let Some((k, v)) = w.split_once('=') else {
            f.insert("state".into(), w.to_string());
            continue;
        };
        if matches!(k, "mark" | "zone" | "use") {
            f.insert(k.into(), v.into());
            continue;
        }
        let key = format!("{dir}{k}");
        if f.contains_key(&key) {
            dir = "r.";
        }
        f.insert(format!("{dir}{k}"), v.into());
    }
    f
}

/// The listed entry whose original source port is `sport` (ICMP: id).
fn listed_by_port(list: &[BTreeMap<String, String>], sport: u16) -> &BTreeMap<String, String> {
    let s = sport.to_string();
    list.iter()
        .find(|f| f.get("o.sport") == Some(&s) || f.get("o.id") == Some(&s))
        .unwrap_or_else(|| panic!("no entry with port {sport} in {list:#?}"))
}

fn tuple(src: &str, dst: &str, sp: u16, dp: u16) -> Tuple {
    Tuple {
        src: src.parse().unwrap(),
        dst: dst.parse().unwrap(),
        src_port: sp,
        dst_port: dp,
    }
}

fn entry(p: u8, orig: Tuple, state: u8, timeout_s: u32, mark: u32) -> Entry {
    Entry {
        proto: p,
        zone: 0,
        orig,
        reply: orig.inverse(p),
        state,
        status: 0,
        timeout_s,
        mark,
        tcp: None,
        sctp: None,
        id: None,
    }
}

fn near(got: &str, want: u32) -> bool {
    got.parse::<u32>().is_ok_and(|g| g <= want && g + 2 >= want)
}

/// Asserts the listed entry `f` has `e`'s tuples, state, mark, timeout.
fn assert_listed(f: &BTreeMap<String, String>, e: &Entry) {
    let g = |k: &str| f.get(k).cloned().unwrap_or_default();
    for (d, t) in [("o.", e.orig), ("r.", e.reply)] {
        assert_eq!(g(&format!("{d}src")), t.src.to_string(), "{d}src of {f:?}");
        assert_eq!(g(&format!("{d}dst")), t.dst.to_string(), "{d}dst of {f:?}");
        if matches!(e.proto, proto::ICMP | proto::ICMPV6) {
            assert_eq!(g(&format!("{d}id")), t.src_port.to_string(), "{f:?}");
            assert_eq!(
                g(&format!("{d}type")),
                (t.dst_port >> 8).to_string(),
                "{f:?}"
            );
            assert_eq!(
                g(&format!("{d}code")),
                (t.dst_port & 0xff).to_string(),
                "{f:?}"
            );
        } else {
            assert_eq!(g(&format!("{d}sport")), t.src_port.to_string(), "{f:?}");
            assert_eq!(g(&format!("{d}dport")), t.dst_port.to_string(), "{f:?}");
        }
    }
    assert_eq!(g("mark"), e.mark.to_string(), "{f:?}");
    assert!(
        near(&g("timeout"), e.timeout_s),
        "timeout of {f:?}, want {}",
        e.timeout_s
    );
    if e.proto == proto::TCP {
        let names = ["NONE", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT"];
        assert_eq!(g("state"), names[usize::from(e.state)], "{f:?}");
    }
    if e.zone != 0 {
        assert_eq!(g("zone"), e.zone.to_string(), "{f:?}");
    }
}

// ------------------------------------------------------------------ tests

#[test]
fn dump_sees_the_entries_conntrack_makes() {
    if !can_run() {
        return;
    }
    let ns = Ns::new("dump");
    let cli: &[&[&str]] = &[
        &[
            "-p",
            "tcp",
            "-s",
            "192.0.2.1",
            "-d",
            "192.0.2.2",
            "--sport",
            "1000",
            "--dport",
            "80",
            "--state",
            "ESTABLISHED",
            "-t",
            "100",
            "-u",
            "SEEN_REPLY,ASSURED",
            "-m",
            "5",
        ],
        // (conntrack 1.4.7 takes a -u after -m as the mark.)
        &[
            "-p",
            "udp",
            "-s",
            "192.0.2.1",
            "-d",
            "192.0.2.2",
            "--sport",
            "1001",
            "--dport",
            "53",
            "-t",
            "50",
        ],
        &[
            "-p",
            "icmp",
            "-s",
            "192.0.2.1",
            "-d",
            "192.0.2.2",
            "--icmp-type",
            "8",
            "--icmp-code",
            "0",
            "--icmp-id",
            "1002",
            "-t",
            "30",
        ],
        &[
            "-p", "tcp", "-s", "fd00::1", "-d", "fd00::2", "--sport", "1003", "--dport", "443",
            "--state", "SYN_SENT", "-t", "120",
        ],
        &[
            "-p",
            "icmpv6",
            "-s",
            "fd00::1",
            "-d",
            "fd00::2",
            "--icmpv6-type",
            "128",
            "--icmpv6-code",
            "0",
            "--icmpv6-id",
            "1004",
            "-t",
            "30",
        ],
        // Destination NAT: the reply comes from the real server.
        &[
            "-p",
            "udp",
            "-s",
            "192.0.2.1",
            "-d",
            "198.51.100.10",
            "-r",
            "203.0.113.5",
            "-q",
            "192.0.2.1",
            "--sport",
            "1005",
            "--dport",
            "53",
            "--reply-port-src",
            "5353",
            "--reply-port-dst",
            "1005",
            "-t",
            "60",
        ],
    ];
    for args in cli {
        let mut a = vec!["-I"];
        a.extend_from_slice(args);
        ns.ct(&a);
    }
    let mut ct = ns.conntrack();
    let dump = ct.dump().expect("dump");
    assert_eq!(dump.len(), cli.len(), "{dump:#?}");
    let by_port = |p: u16| {
        dump.iter()
            .find(|e| e.orig.src_port == p)
            .unwrap_or_else(|| panic!("no entry with port {p}: {dump:#?}"))
    };
    let near_t = |e: &Entry, t: u32| assert!(e.timeout_s <= t && e.timeout_s + 2 >= t, "{e:?}");

    let tcp = by_port(1000);
    assert_eq!(tcp.proto, proto::TCP);
    assert_eq!(tcp.orig, tuple("192.0.2.1", "192.0.2.2", 1000, 80));
    assert_eq!(tcp.reply, tuple("192.0.2.2", "192.0.2.1", 80, 1000));
    assert_eq!(tcp.state, tcp_state::ESTABLISHED);
    assert_eq!(tcp.mark, 5);
    assert!(tcp.tcp.is_some());
    assert!(tcp.id.is_some());
    assert_eq!(
        tcp.status & (status::ASSURED | status::SEEN_REPLY | status::CONFIRMED),
        status::ASSURED | status::SEEN_REPLY | status::CONFIRMED
    );
    near_t(tcp, 100);

    let udp = by_port(1001);
    assert_eq!((udp.proto, udp.state, udp.mark), (proto::UDP, 0, 0));
    assert_eq!(udp.reply, udp.orig.inverse(proto::UDP));
    near_t(udp, 50);

    let icmp = by_port(1002);
    assert_eq!(icmp.proto, proto::ICMP);
    assert_eq!(icmp.orig, tuple("192.0.2.1", "192.0.2.2", 1002, 8 << 8));
    assert_eq!(icmp.reply, tuple("192.0.2.2", "192.0.2.1", 1002, 0));

    let v6 = by_port(1003);
    assert_eq!(v6.orig, tuple("fd00::1", "fd00::2", 1003, 443));
    assert_eq!(v6.state, tcp_state::SYN_SENT);

    let icmp6 = by_port(1004);
    assert_eq!(icmp6.proto, proto::ICMPV6);
    assert_eq!(icmp6.orig, tuple("fd00::1", "fd00::2", 1004, 128 << 8));
    assert_eq!(icmp6.reply, tuple("fd00::2", "fd00::1", 1004, 129 << 8));

    let dnat = by_port(1005);
    assert_eq!(dnat.orig, tuple("192.0.2.1", "198.51.100.10", 1005, 53));
    assert_eq!(dnat.reply, tuple("203.0.113.5", "192.0.2.1", 5353, 1005));
}

/// A variety of entries: TCP with pickup flags, UDP over IPv6, ICMP, a
/// destination-NAT TCP flow, a source-NAT UDP flow, a zoned entry.
fn variety() -> Vec<Entry> {
    let mut tcp = entry(
        proto::TCP,
        tuple("192.0.2.1", "192.0.2.2", 2000, 80),
        tcp_state::ESTABLISHED,
        300,
        7,
    );
    tcp.tcp = Some(TcpInfo::pickup());
    tcp.status = status::SEEN_REPLY | status::ASSURED;
    let udp6 = entry(proto::UDP, tuple("fd00::1", "fd00::2", 2001, 53), 0, 40, 0);
    let icmp = entry(
        proto::ICMP,
        tuple("192.0.2.1", "192.0.2.2", 2002, 8 << 8),
        0,
        20,
        1,
    );
    let mut dnat = entry(
        proto::TCP,
        tuple("192.0.2.1", "198.51.100.10", 2003, 443),
        tcp_state::SYN_SENT,
        90,
        0,
    );
    dnat.reply = tuple("203.0.113.5", "192.0.2.1", 8443, 2003);
    let mut snat = entry(
        proto::UDP,
        tuple("192.0.2.1", "198.51.100.20", 2004, 123),
        0,
        30,
        0,
    );
    snat.reply = tuple("198.51.100.20", "203.0.113.1", 123, 62004);
    let mut zoned = entry(
        proto::UDP,
        tuple("192.0.2.1", "192.0.2.2", 2005, 514),
        0,
        60,
        3,
    );
    zoned.zone = 7;
    vec![tcp, udp6, icmp, dnat, snat, zoned]
}

#[test]
fn created_entries_are_what_conntrack_lists() {
    if !can_run() {
        return;
    }
    let ns = Ns::new("create");
    let mut ct = ns.conntrack();
    let want = variety();
    let applied = ct.create(&want);
    assert!(applied.failed.is_empty(), "{:?}", applied.failed);
    assert_eq!((applied.created, applied.updated), (want.len(), 0));

    let list = listed(&ns);
    assert_eq!(list.len(), want.len(), "{list:#?}");
    for e in &want {
        assert_listed(listed_by_port(&list, e.orig.src_port), e);
    }

    // Read back: the NAT entries carry the kernel's NAT bits, the TCP
    // entry its flags.
    let dump = ct.dump().unwrap();
    let got = |p: u16| *dump.iter().find(|e| e.orig.src_port == p).unwrap();
    let dnat = got(2003);
    assert_eq!(dnat.reply, want[3].reply);
    assert_eq!(
        dnat.status & (status::DST_NAT | status::DST_NAT_DONE | status::SRC_NAT),
        status::DST_NAT | status::DST_NAT_DONE
    );
    let snat = got(2004);
    assert_eq!(snat.reply, want[4].reply);
    assert_eq!(
        snat.status & (status::SRC_NAT | status::DST_NAT),
        status::SRC_NAT
    );
    let tcp = got(2000);
    let flags = tcp.tcp.expect("TCP protoinfo").flags;
    for f in flags {
        assert_eq!(f & tcp_flag::BE_LIBERAL, tcp_flag::BE_LIBERAL, "{tcp:?}");
    }
    assert_eq!(tcp.status & status::ASSURED, status::ASSURED);
    assert_eq!(got(2005).zone, 7);
    // get finds an entry by its key, zone included.
    assert_eq!(ct.get(&want[5].key()).unwrap().map(|e| e.mark), Some(3));
    let mut unzoned = want[5].key();
    unzoned.zone = 0;
    assert_eq!(ct.get(&unzoned).unwrap(), None);
}

#[test]
fn an_existing_entry_is_updated_and_a_bad_one_fails_alone() {
    if !can_run() {
        return;
    }
    let ns = Ns::new("update");
    ns.ct(&[
        "-I",
        "-p",
        "tcp",
        "-s",
        "192.0.2.1",
        "-d",
        "192.0.2.2",
        "--sport",
        "3000",
        "--dport",
        "80",
        "--state",
        "SYN_SENT",
        "-t",
        "100",
        "-m",
        "1",
    ]);
    let mut ct = ns.conntrack();
    let mut existing = entry(
        proto::TCP,
        tuple("192.0.2.1", "192.0.2.2", 3000, 80),
        tcp_state::ESTABLISHED,
        500,
        2,
    );
    existing.tcp = Some(TcpInfo::pickup());
    let fresh = entry(
        proto::UDP,
        tuple("192.0.2.1", "192.0.2.2", 3001, 53),
        0,
        60,
        0,
    );
    // ICMP type 3 (unreachable) is not a query: the kernel refuses it.
    let bad = entry(
        proto::ICMP,
        tuple("192.0.2.1", "192.0.2.2", 3002, 3 << 8),
        0,
        60,
        0,
    );
    let fresh2 = entry(
        proto::UDP,
        tuple("192.0.2.1", "192.0.2.2", 3003, 53),
        0,
        60,
        0,
    );
    let applied = ct.create(&[existing, bad, fresh, fresh2]);
    assert_eq!(applied.created, 2, "{applied:?}");
    assert_eq!(applied.updated, 1, "{applied:?}");
    assert_eq!(applied.failed.len(), 1, "{applied:?}");
    assert_eq!(applied.failed[0].0, 1);
    assert_eq!(applied.failed[0].1.raw_os_error(), Some(libc::EINVAL));

    let list = listed(&ns);
    assert_eq!(list.len(), 3, "{list:#?}");
    assert_listed(listed_by_port(&list, 3000), &existing);
    assert_listed(listed_by_port(&list, 3001), &fresh);
    assert_listed(listed_by_port(&list, 3003), &fresh2);
}

#[test]
fn delete_and_flush_remove_entries() {
    if !can_run() {
        return;
    }
    let ns = Ns::new("delete");
    let mut ct = ns.conntrack();
    let want = variety();
    assert!(ct.create(&want).failed.is_empty());
    assert!(ct.delete(&want[0].key()).unwrap());
    assert!(!ct.delete(&want[0].key()).unwrap(), "deleted twice");
    assert!(ct.delete(&want[5].key()).unwrap(), "the zoned one");
    let list = listed(&ns);
    assert_eq!(list.len(), want.len() - 2, "{list:#?}");
    assert!(!list
        .iter()
        .any(|f| f.get("o.sport").is_some_and(|p| p == "2000")));
    ct.flush().unwrap();
    assert_eq!(listed(&ns).len(), 0);
    assert!(ct.dump().unwrap().is_empty());
}

/// Reads events until `done` says the list is complete, at most 10 s.
fn collect(ev: &mut Events, mut done: impl FnMut(&[Event]) -> bool) -> Vec<Event> {
    let mut got = Vec::new();
    let end = Instant::now() + Duration::from_secs(10);
    while !done(&got) && Instant::now() < end {
        got.extend(ev.recv().expect("events"));
    }
    got
}

#[test]
fn events_report_new_update_destroy() {
    if !can_run() {
        return;
    }
    let ns = Ns::new("events");
    let mut ev = ns.within(|| Events::subscribe().expect("subscribe"));
    ev.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    assert!(ev.recv().unwrap().is_empty(), "no events yet");
    let base = [
        "-p",
        "udp",
        "-s",
        "192.0.2.1",
        "-d",
        "192.0.2.2",
        "--sport",
        "4000",
        "--dport",
        "53",
    ];
    let with = |op: &str, more: &[&'static str]| {
        let mut a = vec![op];
        a.extend_from_slice(&base);
        a.extend_from_slice(more);
        ns.ct(&a);
    };
    with("-I", &["-t", "100", "-m", "1"]);
    with("-U", &["-m", "9"]);
    with("-D", &[]);
    let got = collect(&mut ev, |g| {
        g.iter().any(|e| matches!(e, Event::Destroy(_)))
    });
    let orig = tuple("192.0.2.1", "192.0.2.2", 4000, 53);
    let kinds: Vec<(&str, u32)> = got
        .iter()
        .map(|e| match e {
            Event::New(e) => ("new", e.mark),
            Event::Update(e) => ("update", e.mark),
            Event::Destroy(e) => ("destroy", e.mark),
        })
        .collect();
    assert_eq!(
        kinds,
        [("new", 1), ("update", 9), ("destroy", 9)],
        "{got:#?}"
    );
    for e in &got {
        let (Event::New(e) | Event::Update(e) | Event::Destroy(e)) = e;
        assert_eq!(e.orig, orig);
    }
    match &got[0] {
        Event::New(e) => assert!(e.timeout_s > 90, "{e:?}"),
        other => panic!("{other:?}"),
    }

    // Our own writes are events too, one per entry.
    let mut ct = ns.conntrack();
    let want = variety();
    assert!(ct.create(&want).failed.is_empty());
    let news = |g: &[Event]| g.iter().filter(|e| matches!(e, Event::New(_))).count();
    let got = collect(&mut ev, |g| news(g) >= want.len());
    assert_eq!(news(&got), want.len(), "{got:#?}");
    assert_eq!(ev.skipped(), 0);
}

#[test]
fn a_full_event_buffer_is_reported_as_lost() {
    if !can_run() {
        return;
    }
    let ns = Ns::new("lost");
    let mut ev = ns.within(|| Events::subscribe_with_buffer(4096).expect("subscribe"));
    ev.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut ct = ns.conntrack();
    let many: Vec<Entry> = (0..500)
        .map(|i| {
            entry(
                proto::UDP,
                tuple("192.0.2.1", "192.0.2.2", 10000 + i, 53),
                0,
                60,
                0,
            )
        })
        .collect();
    assert!(ct.create(&many).failed.is_empty());
    assert!(matches!(ev.recv(), Err(EventsError::Lost)));
    // Once the queue is drained, new changes are reported again.
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        match ev.recv() {
            Ok(v) if v.is_empty() => break,
            Ok(_) | Err(EventsError::Lost) => assert!(Instant::now() < end, "never drained"),
            Err(e) => panic!("{e}"),
        }
    }
    ct.flush().unwrap();
    // 500 destroy events overflow the buffer again; the first arrive.
    let mut destroyed = 0;
    while destroyed == 0 && Instant::now() < end {
        match ev.recv() {
            Ok(v) => destroyed += v.iter().filter(|e| matches!(e, Event::Destroy(_))).count(),
            Err(EventsError::Lost) => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert!(destroyed > 0, "no destroy events after the loss");
}

#[test]
fn twenty_thousand_entries_in_one_batch() {
    if !can_run() {
        return;
    }
    let ns = Ns::new("batch");
    let mut ct = ns.conntrack();
    let n = 20_000u32;
    let many: Vec<Entry> = (0..n)
        .map(|i| {
            let src = format!("192.0.2.{}", 1 + i / 10_000);
            let mut e = entry(
                proto::TCP,
                tuple(&src, "198.51.100.10", 1024 + (i % 10_000) as u16, 443),
                tcp_state::ESTABLISHED,
                600,
                i,
            );
            e.tcp = Some(TcpInfo::pickup());
            e
        })
        .collect();
    let t = Instant::now();
    let applied = ct.create(&many);
    let took = t.elapsed();
    assert!(
        applied.failed.is_empty(),
        "{:?}",
        &applied.failed[..applied.failed.len().min(5)]
    );
    assert_eq!(applied.created, n as usize);
    println!(
        "created {n} entries in {:.3} s: {:.0} entries/s",
        took.as_secs_f64(),
        f64::from(n) / took.as_secs_f64()
    );
    let t = Instant::now();
    let dump = ct.dump().unwrap();
    let took = t.elapsed();
    println!(
        "dumped {} entries in {:.3} s: {:.0} entries/s",
        dump.len(),
        took.as_secs_f64(),
        dump.len() as f64 / took.as_secs_f64()
    );
    assert_eq!(dump.len(), n as usize);
    let count = ns.ct(&["-C"]);
    assert_eq!(count.trim(), n.to_string());
    // Again: every one exists, so every one is updated.
    let t = Instant::now();
    let applied = ct.create(&many);
    let took = t.elapsed();
    assert!(applied.failed.is_empty());
    assert_eq!(applied.updated, n as usize);
    println!(
        "updated {n} entries in {:.3} s: {:.0} entries/s",
        took.as_secs_f64(),
        f64::from(n) / took.as_secs_f64()
    );
}

#[test]
fn garbage_never_panics_the_parser() {
    // Not root: pure parsing.
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..20_000 {
        let len = (next() % 600) as usize;
        let mut b: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        // Often a plausible netlink header, so the parser goes deeper.
        if b.len() >= 20 && next() % 2 == 0 {
            b[..4].copy_from_slice(&(len as u32).to_ne_bytes());
            b[4] = (next() % 3) as u8;
            b[5] = 1;
        }
        let _ = parse_events(&b);
    }
}

// -------------------------------------------------- NAT forwarding proof

/// client (192.0.2.1) -- router (192.0.2.254 | 198.51.100.254) -- server
/// (198.51.100.2); the virtual address 203.0.113.10 is on no host and
/// the router has no route to it.
struct Routed {
    client: Ns,
    router: Ns,
    server: Ns,
}

impl Routed {
    fn new(tag: &str) -> Routed {
        let r = Routed {
            client: Ns::new(&format!("{tag}c")),
            router: Ns::new(&format!("{tag}r")),
            server: Ns::new(&format!("{tag}s")),
        };
        for (ns, dev, peer) in [(&r.client, "vc", "rc"), (&r.server, "vs", "rs")] {
            ns.ip(&format!(
                "link add {dev} type veth peer name {peer} netns {}",
                r.router.0
            ));
        }
        r.client.ip("addr add 192.0.2.1/24 dev vc");
        r.client.ip("link set vc up");
        r.client.ip("route add default via 192.0.2.254");
        r.server.ip("addr add 198.51.100.2/24 dev vs");
        r.server.ip("link set vs up");
        r.server.ip("route add default via 198.51.100.254");
        r.router.ip("addr add 192.0.2.254/24 dev rc");
        r.router.ip("addr add 198.51.100.254/24 dev rs");
        r.router.ip("link set rc up");
        r.router.ip("link set rs up");
        r.router.sysctl("net.ipv4.ip_forward=1");
        r.router.sysctl("net.netfilter.nf_conntrack_tcp_loose=0");
        r
    }

    /// NAT chains without a rule, and a forward chain that counts and
    /// drops what conntrack finds invalid.
    fn nat_hooks(&self) {
        self.router.nft("add table ip t");
        self.router
            .nft("add chain ip t pre { type nat hook prerouting priority -100 ; }");
        self.router
            .nft("add chain ip t post { type nat hook postrouting priority 100 ; }");
        self.router
            .nft("add chain ip t filter { type filter hook forward priority 0 ; }");
        self.router
            .nft("add rule ip t filter ct state invalid counter drop");
    }

    fn invalid_drops(&self) -> u64 {
        let out = self.router.nft("list chain ip t filter");
        out.split_whitespace()
            .skip_while(|w| *w != "packets")
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }
}

const VIP: &str = "203.0.113.10";

/// A UDP echo server on 198.51.100.2:7000 in the server namespace.
fn udp_echo(server: &Ns) -> std::thread::JoinHandle<()> {
    let sock = server.within(|| UdpSocket::bind("198.51.100.2:7000").unwrap());
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        while let Ok((n, from)) = sock.recv_from(&mut buf) {
            let _ = sock.send_to(&buf[..n], from);
        }
    })
}

/// Sends "ping" from 192.0.2.1:`port` to the virtual address and waits
/// 1 s for the answer: who answered.
fn udp_ping(client: &Ns, port: u16) -> Option<SocketAddr> {
    let sock = client.within(move || UdpSocket::bind(("192.0.2.1", port)).unwrap());
    sock.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    sock.send_to(b"ping", (VIP, 7000)).unwrap();
    let mut buf = [0u8; 64];
    match sock.recv_from(&mut buf) {
        Ok((4, from)) if &buf[..4] == b"ping" => Some(from),
        _ => None,
    }
}

fn dnat(p: u8, sport: u16, dport: u16, state: u8) -> Entry {
    let mut e = entry(p, tuple("192.0.2.1", VIP, sport, dport), state, 60, 0);
    e.reply = tuple("198.51.100.2", "192.0.2.1", dport, sport);
    e
}

#[test]
fn a_created_dnat_entry_translates_forwarded_packets() {
    if !can_run() {
        return;
    }
    let lab = Routed::new("nat");
    let _echo = udp_echo(&lab.server);
    let mut ct = lab.router.conntrack();
    let vip: IpAddr = VIP.parse().unwrap();

    // Without NAT hooks in the namespace nothing is translated, even with
    // the entry in place.
    assert!(ct
        .create(&[dnat(proto::UDP, 40000, 7000, 0)])
        .failed
        .is_empty());
    assert_eq!(
        udp_ping(&lab.client, 40000),
        None,
        "translated without NAT hooks"
    );

    // NAT chains without a rule: the entry's binding translates both ways.
    lab.nat_hooks();
    assert!(ct
        .create(&[dnat(proto::UDP, 40001, 7000, 0)])
        .failed
        .is_empty());
    assert_eq!(
        udp_ping(&lab.client, 40001),
        Some(SocketAddr::new(vip, 7000))
    );
    // Another source port has no entry, and no rule translates it.
    assert_eq!(udp_ping(&lab.client, 40002), None);
    // An entry with the translated reply tuple alone (no CTA_NAT_DST, as
    // `conntrack -I -r` makes it) has no IPS_DST_NAT and translates nothing.
    lab.router.ct(&[
        "-I",
        "-p",
        "udp",
        "-s",
        "192.0.2.1",
        "-d",
        VIP,
        "-r",
        "198.51.100.2",
        "-q",
        "192.0.2.1",
        "--sport",
        "40003",
        "--dport",
        "7000",
        "--reply-port-src",
        "7000",
        "--reply-port-dst",
        "40003",
        "-t",
        "60",
    ]);
    let plain = ct
        .get(&dnat(proto::UDP, 40003, 7000, 0).key())
        .unwrap()
        .unwrap();
    assert_eq!(plain.reply, dnat(proto::UDP, 40003, 7000, 0).reply);
    assert_eq!(plain.status & status::DST_NAT, 0, "{plain:?}");
    assert_eq!(udp_ping(&lab.client, 40003), None);

    // TCP: the entry exists before the SYN (state SYN_SENT); the client's
    // connection to the virtual address reaches the real server.
    let listener = lab
        .server
        .within(|| TcpListener::bind("198.51.100.2:8080").unwrap());
    let server = std::thread::spawn(move || {
        let (mut s, from) = listener.accept().unwrap();
        let mut buf = [0u8; 5];
        s.read_exact(&mut buf).unwrap();
        s.write_all(b"pong!").unwrap();
        (from, buf)
    });
    let mut e = dnat(proto::TCP, 41000, 8080, tcp_state::SYN_SENT);
    e.tcp = Some(TcpInfo::pickup());
    assert!(ct.create(&[e]).failed.is_empty());
    let mut s = lab.client.within(|| {
        use socket2::{Domain, Socket, Type};
        let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        s.set_reuse_address(true).unwrap();
        s.bind(&"192.0.2.1:41000".parse::<SocketAddr>().unwrap().into())
            .unwrap();
        s.connect_timeout(
            &SocketAddr::new(VIP.parse().unwrap(), 8080).into(),
            Duration::from_secs(3),
        )
        .unwrap();
        TcpStream::from(s)
    });
    s.write_all(b"ping!").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let mut buf = [0u8; 5];
    s.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"pong!");
    assert_eq!(s.peer_addr().unwrap(), SocketAddr::new(vip, 8080));
    let (from, got) = server.join().unwrap();
    assert_eq!((from, &got), ("192.0.2.1:41000".parse().unwrap(), b"ping!"));
    let live = ct.get(&e.key()).unwrap().expect("the entry");
    // ESTABLISHED, or a closing state once the server has closed.
    assert!(live.state >= tcp_state::ESTABLISHED, "{live:?}");
    assert_eq!(live.status & status::DST_NAT, status::DST_NAT, "{live:?}");
    assert_eq!(lab.invalid_drops(), 0);
}
