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

#[path = "sys_conntrack/forward.rs"]
mod forward;
#[path = "sys_conntrack/lab.rs"]
mod lab;

use std::time::{Duration, Instant};

use tandem_node::sys::conntrack::{
    parse_events, proto, status, tcp_flag, tcp_state, Entry, Event, Events, EventsError, SctpInfo,
    TcpInfo,
};

use lab::{assert_listed, can_run, entry, listed, listed_by_port, tuple, Ns};

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
    let mut dnat6 = entry(proto::UDP, tuple("fd00::1", "fd00::10", 2006, 53), 0, 60, 0);
    dnat6.reply = tuple("fd00:5::5", "fd00::1", 5353, 2006);
    // SCTP_CONNTRACK_ESTABLISHED is 3.
    let mut sctp = entry(
        proto::SCTP,
        tuple("192.0.2.1", "192.0.2.2", 2007, 3868),
        3,
        90,
        0,
    );
    sctp.sctp = Some(SctpInfo {
        vtag: [0x1111, 0x2222],
    });
    vec![tcp, udp6, icmp, dnat, snat, zoned, dnat6, sctp]
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
    let dnat6 = got(2006);
    assert_eq!(dnat6.reply, want[6].reply);
    assert_eq!(dnat6.status & status::DST_NAT, status::DST_NAT);
    let sctp = got(2007);
    assert_eq!((sctp.state, sctp.sctp), (3, want[7].sctp), "{sctp:?}");
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
    // Assured: an update without ASSURED cannot clear it, and keeps it.
    ns.ct(&[
        "-I",
        "-p",
        "udp",
        "-s",
        "192.0.2.1",
        "-d",
        "192.0.2.2",
        "--sport",
        "3004",
        "--dport",
        "53",
        "-t",
        "100",
        "-u",
        "SEEN_REPLY,ASSURED",
        "-m",
        "1",
    ]);
    let mut ct = ns.conntrack();
    let assured = entry(
        proto::UDP,
        tuple("192.0.2.1", "192.0.2.2", 3004, 53),
        0,
        200,
        5,
    );
    let applied = ct.create(&[assured]);
    assert!(applied.failed.is_empty(), "{applied:?}");
    assert_eq!(applied.updated, 1);
    let got = ct.get(&assured.key()).unwrap().unwrap();
    assert_eq!(
        (got.mark, got.status & status::ASSURED),
        (5, status::ASSURED)
    );
    assert!(ct.delete(&assured.key()).unwrap());

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

    // update creates what is not there.
    let absent = entry(
        proto::UDP,
        tuple("192.0.2.1", "192.0.2.2", 3005, 53),
        0,
        60,
        4,
    );
    let applied = ct.update(&[fresh, absent]);
    assert!(applied.failed.is_empty(), "{applied:?}");
    assert_eq!((applied.updated, applied.created), (1, 1));

    let list = listed(&ns);
    assert_eq!(list.len(), 4, "{list:#?}");
    assert_listed(listed_by_port(&list, 3005), &absent);
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
    // Batched: the rest, one of them twice.
    let mut keys: Vec<_> = want[1..5].iter().map(Entry::key).collect();
    keys.push(want[1].key());
    let d = ct.delete_all(&keys);
    assert!(d.failed.is_empty(), "{d:?}");
    assert_eq!((d.deleted, d.absent), (4, 1));
    assert_eq!(listed(&ns).len(), want.len() - 6);
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
    // Updates: one round.
    let t = Instant::now();
    let applied = ct.update(&many);
    let took = t.elapsed();
    assert!(applied.failed.is_empty());
    assert_eq!((applied.updated, applied.created), (n as usize, 0));
    println!(
        "updated {n} entries (update) in {:.3} s: {:.0} entries/s",
        took.as_secs_f64(),
        f64::from(n) / took.as_secs_f64()
    );
    // create again: every one exists, so every one is updated.
    let t = Instant::now();
    let applied = ct.create(&many);
    let took = t.elapsed();
    assert!(applied.failed.is_empty());
    assert_eq!(applied.updated, n as usize);
    println!(
        "updated {n} entries (create) in {:.3} s: {:.0} entries/s",
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
