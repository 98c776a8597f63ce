//! tandemd paired with a real conntrackd (1.4.7), both ways, in network
//! namespaces (tests/e2e/ctd_pair.rs): the way Linux router pairs run
//! keepalived + conntrackd, with tandemd as one of the two routers.
//!
//! - conntrackd -> tandemd: a runs keepalived (the Active) and conntrackd;
//!   b runs tandemd (the Backup) with `format = "conntrackd-ftfw"`. a's
//!   entries, made before and after tandemd starts, land in b's mirror;
//!   none is in b's kernel table while a lives; a crashes, b takes over
//!   and its kernel table shows a's entries (tuples, state, status, mark).
//! - tandemd -> conntrackd: b's tandemd is the Active; its kernel's
//!   entries land in a's conntrackd external cache and, after `conntrackd
//!   -c`, in a's kernel table.
//!
//! They need root, `ip`, `bridge`, `tcpdump`, `sysctl`, `conntrack`,
//! `conntrackd` and `keepalived`; without them each test returns early
//! saying why, except under `CI=true`, where it fails. Every wait is
//! bounded.

#[path = "e2e/ctd_pair.rs"]
#[allow(dead_code)]
mod ctd_pair;
#[path = "e2e/lab.rs"]
#[allow(dead_code)]
mod lab;

use std::time::Duration;

use ctd_pair::{flow_key, flows, CtdPair, VIP};

/// conntrackd -> tandemd, and tandemd's takeover installing what
/// conntrackd sent into its kernel.
#[test]
fn conntrackd_active_tandemd_takes_over_its_entries() {
    let Some(mut p) = CtdPair::new("ctdin", 100) else {
        return;
    };
    p.start_conntrackd();
    p.start_keepalived(200);
    let active = lab::wait_for(Duration::from_secs(10), || p.lab.holders(VIP) == vec![0]);
    assert!(active.is_some(), "keepalived never Active; {}", p.report());
    // Entries a has before tandemd starts: tandemd gets them only by
    // asking (RESYNC, as `conntrackd -n` does on a Backup).
    p.restore(0, "before.ct", &flows(20_000, 20, 0, false));
    let before = lab::wait_for(Duration::from_secs(10), || p.cache_keys("-i").len() == 20);
    assert!(
        before.is_some(),
        "conntrackd's internal cache: {:?}; {}",
        p.cache_keys("-i"),
        p.report()
    );
    p.start_tandemd();
    let heard = lab::wait_for(Duration::from_secs(10), || {
        p.replication().is_some_and(|r| r["in_sync"] == true)
    });
    assert!(
        heard.is_some(),
        "tandemd never in sync with conntrackd: {:?}; {}",
        p.replication(),
        p.report()
    );
    // Entries made while both run: events.
    p.restore(0, "after.ct", &flows(30_000, 10, 5, true));
    let want = p.table(0);
    assert_eq!(want.len(), 36, "a's kernel table: {want:?}");
    let mirrored = lab::wait_for(Duration::from_secs(15), || {
        p.replication()
            .is_some_and(|r| r["mirror_flows"].as_u64() == Some(36))
    });
    assert!(
        mirrored.is_some(),
        "b's mirror never holds a's 36 entries: {:?}; conntrackd's internal cache has {}; {}",
        p.replication(),
        p.cache_keys("-i").len(),
        p.report()
    );
    // A delete travels too (CT_DEL).
    p.conntrack(0, "-D -p udp -s 203.0.113.101 --sport 30000");
    let want = p.table(0);
    assert_eq!(want.len(), 35, "a's kernel table: {want:?}");
    let deleted = lab::wait_for(Duration::from_secs(10), || {
        p.replication()
            .is_some_and(|r| r["mirror_flows"].as_u64() == Some(35))
    });
    assert!(
        deleted.is_some(),
        "b's mirror keeps a deleted entry: {:?}",
        p.replication()
    );
    // The negative control: a mirror is not the kernel's table.
    assert!(
        p.table(1).is_empty(),
        "b's kernel has test flows before any takeover: {:?}",
        p.table(1)
    );
    // a dies: keepalived and conntrackd killed, its links cut.
    p.lab.crash(0);
    p.lab.port(0, false);
    p.lab.set_port("qa", false);
    let took = lab::wait_for(Duration::from_secs(5), || p.lab.holders(VIP).contains(&1));
    assert!(took.is_some(), "b never takes over; {}", p.report());
    // The mirror went in before the VIP: the table is complete as soon as
    // the VIP is seen.
    let got = p.table(1);
    assert!(
        got == want,
        "b holds the VIP but its kernel table differs from a's: a had {}, b has {}; only on a: {:?}; only on b: {:?}",
        want.len(),
        got.len(),
        want.difference(&got).take(3).collect::<Vec<_>>(),
        got.difference(&want).take(3).collect::<Vec<_>>()
    );
    // The DNAT entry kept its reply tuple (the real server's).
    assert!(
        got.iter()
            .any(|l| l.contains("src=203.0.113.200 dst=192.0.2.80")
                && l.contains("src=198.51.100.100 dst=203.0.113.200 sport=8080")),
        "the DNAT entry: {got:?}"
    );
    eprintln!(
        "b's mirror: 36 entries {:?} after the last conntrack -R; b holds the VIP {:?} after the crash, with a's entries",
        mirrored.unwrap(),
        took.unwrap()
    );
}

/// tandemd -> conntrackd: the Active tandemd's kernel entries in
/// conntrackd's external cache, and in its kernel after a commit.
#[test]
fn tandemd_active_conntrackd_commits_its_entries() {
    let Some(mut p) = CtdPair::new("ctdout", 200) else {
        return;
    };
    p.start_conntrackd();
    p.start_tandemd();
    let active = lab::wait_for(Duration::from_secs(10), || p.lab.holders(VIP) == vec![1]);
    assert!(active.is_some(), "tandemd never Active; {}", p.report());
    p.restore(1, "flows.ct", &flows(40_000, 20, 5, true));
    let want = p.table(1);
    assert_eq!(want.len(), 26, "b's kernel table: {want:?}");
    let keys: std::collections::BTreeSet<String> = want.iter().map(|l| flow_key(l)).collect();
    let cached = lab::wait_for(Duration::from_secs(15), || p.cache_keys("-e") == keys);
    let ext = p.cache_keys("-e");
    assert!(
        cached.is_some(),
        "conntrackd's external cache has {} of b's {} entries; missing {:?}; extra {:?}; tandemd: {:?}; {}",
        ext.len(),
        keys.len(),
        keys.difference(&ext).take(3).collect::<Vec<_>>(),
        ext.difference(&keys).take(3).collect::<Vec<_>>(),
        p.replication(),
        p.report()
    );
    // A delete travels too.
    p.conntrack(1, "-D -p tcp -s 203.0.113.1 --sport 40000");
    let want = p.table(1);
    assert_eq!(want.len(), 25, "b's kernel table: {want:?}");
    let keys: std::collections::BTreeSet<String> = want.iter().map(|l| flow_key(l)).collect();
    let deleted = lab::wait_for(Duration::from_secs(10), || p.cache_keys("-e") == keys);
    assert!(
        deleted.is_some(),
        "conntrackd's external cache keeps a deleted entry: {:?}",
        p.cache_keys("-e").difference(&keys).collect::<Vec<_>>()
    );
    // (conntrackd's `-e` shows a NAT entry's original tuple only: it
    // keeps the NAT attributes, not a reply tuple; the commit below
    // shows what they make.)
    // The negative control: the external cache is not a's kernel.
    assert!(
        p.table(0).is_empty(),
        "a's kernel has test flows before the commit: {:?}",
        p.table(0)
    );
    p.ctl(&["-c"]).expect("conntrackd -c");
    let committed = lab::wait_for(Duration::from_secs(10), || p.table(0) == want);
    let got = p.table(0);
    assert!(
        committed.is_some(),
        "a's kernel after the commit differs from b's: b has {}, a {}; only on b: {:?}; only on a: {:?}",
        want.len(),
        got.len(),
        want.difference(&got).take(3).collect::<Vec<_>>(),
        got.difference(&want).take(3).collect::<Vec<_>>()
    );
    // The DNAT entry's reply comes from the real server.
    assert!(
        got.iter()
            .any(|l| l.contains("src=203.0.113.200 dst=192.0.2.80")
                && l.contains("src=198.51.100.100 dst=203.0.113.200 sport=8080")),
        "the DNAT entry: {got:?}"
    );
    // conntrackd sends the committed entries back (they are its kernel's
    // now): seen, not required.
    let echo = lab::wait_for(Duration::from_secs(3), || {
        p.replication()
            .is_some_and(|r| r["mirror_flows"].as_u64() == Some(25))
    });
    eprintln!(
        "external cache {:?} after conntrack -R, kernel {:?} after conntrackd -c; conntrackd's echo in b's mirror {:?} later",
        cached.unwrap(),
        committed.unwrap(),
        echo
    );
}

/// conntrackd restarted under a running tandemd Backup: what a's kernel
/// got meanwhile reaches b's mirror, because tandemd asks the new
/// conntrackd (its HELLO) for its table, as it asked the first.
#[test]
fn restarted_conntrackd_is_asked_for_its_table() {
    let Some(mut p) = CtdPair::new("ctdrestart", 100) else {
        return;
    };
    p.start_conntrackd();
    p.start_keepalived(200);
    let active = lab::wait_for(Duration::from_secs(10), || p.lab.holders(VIP) == vec![0]);
    assert!(active.is_some(), "keepalived never Active; {}", p.report());
    p.start_tandemd();
    p.restore(0, "first.ct", &flows(20_000, 10, 0, false));
    let first = lab::wait_for(Duration::from_secs(10), || {
        p.replication()
            .is_some_and(|r| r["mirror_flows"].as_u64() == Some(10) && r["in_sync"] == true)
    });
    assert!(first.is_some(), "b never mirrors 10: {:?}", p.replication());
    let requested = p.replication().unwrap()["resyncs_requested"].as_u64();
    // conntrackd stops (SIGTERM: it removes its lock file); entries made
    // meanwhile are in a's kernel only; a new conntrackd reads them at
    // its start and sends them when asked.
    let old = p.conntrackd.take().unwrap();
    p.lab.signal(old, "TERM");
    assert!(
        p.lab.wait_exit(old, Duration::from_secs(5)),
        "conntrackd survives SIGTERM"
    );
    p.restore(0, "meanwhile.ct", &flows(30_000, 10, 5, false));
    p.start_conntrackd();
    let caught = lab::wait_for(Duration::from_secs(15), || {
        p.replication()
            .is_some_and(|r| r["mirror_flows"].as_u64() == Some(25))
    });
    assert!(
        caught.is_some(),
        "b's mirror misses what a's kernel got while conntrackd was down: {:?}; {}",
        p.replication(),
        p.report()
    );
    let again = p.replication().unwrap()["resyncs_requested"].as_u64();
    assert!(
        again > requested,
        "no new RESYNC: {requested:?} then {again:?}"
    );
}
