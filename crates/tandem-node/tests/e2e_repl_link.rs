//! End-to-end tests of the replication link itself (docs/replication.md),
//! in network namespaces, over a faulty relay (tests/e2e/repl_link.rs):
//! under loss, duplication and reordering the Backup's table converges to
//! the Active's exactly; a Backup restarted while the Active's table
//! changes catches up through a bulk; forged, altered, replayed,
//! wrong-key and wrong-TTL datagrams are refused and change nothing.
//! "Exactly" is judged by the kernels: after the Active dies, the Backup
//! installs its mirror, and its connection-tracking table must show the
//! test flows exactly as the Active's did.
//!
//! They need root, `ip`, `bridge`, `tcpdump` and `conntrack`; without them
//! each test returns early saying why, except under `CI=true`, where it
//! fails. Every wait is bounded.

#[path = "e2e/lab.rs"]
#[allow(dead_code)]
mod lab;
#[path = "e2e/repl_link.rs"]
#[allow(dead_code)]
mod repl_link;
#[path = "e2e/sync_pair.rs"]
#[allow(dead_code)]
mod sync_pair;

use std::time::Duration;

use repl_link::{delete_flows, tcp_flows, Faults, LinkPair};

/// a Active, b Backup, both running.
fn started(tag: &str) -> Option<LinkPair> {
    let mut p = LinkPair::new(tag)?;
    p.start(0);
    let active = lab::wait_for(Duration::from_secs(5), || {
        p.lab.holders("192.0.2.100") == vec![0]
    });
    assert!(active.is_some(), "a never Active; {}", p.lab.report());
    p.start(1);
    Some(p)
}

/// b's table after it took over equals a's before it died.
fn assert_takeover_equal(p: &mut LinkPair) {
    let before = p.table(0);
    assert!(p.fail_over(), "b does not take over; {}", p.lab.report());
    let installed = lab::wait_for(Duration::from_secs(5), || p.table(1) == before);
    assert!(
        installed.is_some(),
        "b's table differs from a's: a has {} test flows, b {}; only on a: {:?}; only on b: {:?}",
        before.len(),
        p.table(1).len(),
        before.difference(&p.table(1)).take(3).collect::<Vec<_>>(),
        p.table(1).difference(&before).take(3).collect::<Vec<_>>()
    );
}

/// 20% loss, 10% duplication and 20% reordering on the link while the
/// Active's table changes: inserts, updates (a new mark) and deletes.
#[test]
fn mirror_converges_under_loss_duplication_and_reordering() {
    let Some(mut p) = started("rlloss") else {
        return;
    };
    let relay = p.relay(
        Faults {
            loss: 20,
            duplicate: 10,
            reorder: 20,
        },
        7,
    );
    p.conntrack_restore(0, "insert.ct", &tcp_flows(0, 600, 1));
    p.conntrack_restore(
        0,
        "update.ct",
        &tcp_flows(0, 200, 9)
            .iter()
            .map(|l| {
                l.replacen("-I ", "-U ", 1)
                    .replace(" --state ESTABLISHED -t 3600 -u SEEN_REPLY,ASSURED", "")
            })
            .collect::<Vec<_>>(),
    );
    p.conntrack_restore(0, "delete.ct", &delete_flows(400, 600));
    let want = p.table(0).len() as u64;
    assert_eq!(
        want,
        400,
        "the Active's table: {:?}",
        p.table(0).iter().take(3).collect::<Vec<_>>()
    );
    assert!(
        p.wait_mirror(want, Duration::from_secs(20)),
        "b's mirror does not converge: {:?}; relay dropped {}",
        p.replication(1),
        relay.dropped.load(std::sync::atomic::Ordering::Relaxed)
    );
    assert!(
        relay.dropped.load(std::sync::atomic::Ordering::Relaxed) > 0,
        "no loss was injected"
    );
    assert_takeover_equal(&mut p);
}

/// b killed; a's table changes (inserts and deletes); b started again
/// catches up through a bulk: the flows deleted while it was away are
/// gone from its mirror too.
#[test]
fn restarted_backup_catches_up_through_bulk() {
    let Some(mut p) = started("rlbulk") else {
        return;
    };
    let _relay = p.relay(Faults::default(), 1);
    p.conntrack_restore(0, "first.ct", &tcp_flows(0, 300, 1));
    assert!(
        p.wait_mirror(300, Duration::from_secs(15)),
        "b never mirrors 300: {:?}",
        p.replication(1)
    );
    p.kill_daemon(1);
    p.conntrack_restore(0, "more.ct", &tcp_flows(300, 700, 2));
    p.conntrack_restore(0, "gone.ct", &delete_flows(0, 100));
    p.start(1);
    assert!(
        p.wait_mirror(600, Duration::from_secs(20)),
        "the restarted b does not catch up: {:?}; {}",
        p.replication(1),
        p.lab.report()
    );
    assert_takeover_equal(&mut p);
}

/// Hostile datagrams at b from the partner's address (the relay): random
/// bytes, a sealed frame with one byte altered, frames sealed with
/// another key, a's own frames replayed, and a's frame with TTL 64. Each
/// is refused and counted, and b's mirror stays a's.
#[test]
fn forged_replayed_and_wrong_key_frames_change_nothing() {
    let Some(mut p) = started("rlhostile") else {
        return;
    };
    let relay = p.relay(Faults::default(), 3);
    p.conntrack_restore(0, "flows.ct", &tcp_flows(0, 100, 1));
    assert!(
        p.wait_mirror(100, Duration::from_secs(15)),
        "b never mirrors 100: {:?}",
        p.replication(1)
    );
    let refused_before = p.replication(1).unwrap()["refused"].as_u64().unwrap_or(0);
    // The last frame a sent: b accepted it (b is in sync since).
    let last: Vec<u8> = relay
        .seen
        .lock()
        .unwrap()
        .last()
        .cloned()
        .expect("a frame of a");
    // Random bytes, and a valid header before garbage.
    for i in 0..50u8 {
        relay.inject(&[i; 100], 255);
    }
    let mut garbage = last.clone();
    for b in garbage.iter_mut().skip(32) {
        *b ^= 0x5a;
    }
    relay.inject(&garbage, 255);
    // One byte altered, at 20 places across the frame: the tag fails (or
    // the header does not parse).
    for i in 0..20 {
        let mut f = last.clone();
        let at = i * f.len() / 20;
        f[at] ^= 1;
        relay.inject(&f, 255);
    }
    // The same frame again, 20 times.
    for _ in 0..20 {
        relay.inject(&last, 255);
    }
    // Sealed with another key.
    let other = tandem_replication::seal::Psk::from_bytes([0x42; 32]);
    let ring = tandem_replication::seal::KeyRing::new(7, &other, None).unwrap();
    let h = tandem_replication::wire::Header::parse(&last).unwrap();
    for _ in 0..10 {
        relay.inject(&ring.seal(h, &[]), 255);
    }
    // A good frame, but not from the link (TTL 64).
    relay.inject(&last, 64);
    // Every one of them: random 50, garbage 1, altered 20, again 20,
    // other key 10, TTL 1.
    const REFUSED: u64 = 50 + 1 + 20 + 20 + 10 + 1;
    let refused = lab::wait_for(Duration::from_secs(5), || {
        p.replication(1)
            .and_then(|r| r["refused"].as_u64())
            .is_some_and(|n| n >= refused_before + REFUSED)
    });
    assert!(
        refused.is_some(),
        "b did not refuse them all: {:?}",
        p.replication(1)
    );
    let r = p.replication(1).unwrap();
    assert_eq!(r["mirror_flows"].as_u64(), Some(100), "{r}");
    assert_takeover_equal(&mut p);
}

/// The election never preempts into a unit whose mirror is not in sync:
/// a (priority 200) restarted while b is Active stays Backup while the
/// link drops everything b sends it, and takes the Active role back only
/// once its mirror of b's table is in sync. (b took over when a died: a
/// dead Active is still replaced.)
#[test]
fn preemption_waits_until_the_mirror_is_in_sync() {
    let Some(mut p) = started("rlhold") else {
        return;
    };
    let relay = p.relay(Faults::default(), 5);
    p.conntrack_restore(0, "flows.ct", &tcp_flows(0, 50, 1));
    assert!(
        p.wait_mirror(50, Duration::from_secs(15)),
        "b never mirrors 50: {:?}",
        p.replication(1)
    );
    p.kill_daemon(0);
    let b_active = lab::wait_for(Duration::from_secs(5), || {
        p.lab.holders("192.0.2.100").contains(&1)
    });
    assert!(
        b_active.is_some(),
        "b does not replace the dead Active; {}",
        p.lab.report()
    );
    // a's addresses stay after SIGKILL: remove the VIP from a by hand, as
    // a rebooted unit would come up without it.
    let a = p.lab.node(0).ns.clone();
    p.lab
        .in_ns(&a, &["ip", "addr", "del", "192.0.2.100/24", "dev", "eth0"]);
    *relay.faults.lock().unwrap() = Faults {
        loss: 100,
        duplicate: 0,
        reorder: 0,
    };
    p.start(0);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        p.lab.holders("192.0.2.100"),
        vec![1],
        "a preempted with its mirror not in sync: {:?}",
        p.replication(0)
    );
    assert!(
        p.replication(0).is_some_and(|r| r["in_sync"] == false),
        "{:?}",
        p.replication(0)
    );
    *relay.faults.lock().unwrap() = Faults::default();
    let back = lab::wait_for(Duration::from_secs(15), || {
        p.lab.holders("192.0.2.100") == vec![0]
    });
    assert!(
        back.is_some(),
        "a never takes the Active role back once in sync: {:?}; {}",
        p.replication(0),
        p.lab.report()
    );
    assert!(p
        .replication(0)
        .is_some_and(|r| r["in_sync"] == true || r["state"] == "active"));
}

/// Multicast: both units send to a group on the replication link (and
/// listen on the unspecified address); the mirror converges as over
/// unicast, and the takeover installs it.
#[test]
fn multicast_group_replicates() {
    let Some(mut p) = LinkPair::new("rlmcast") else {
        return;
    };
    p.use_peer("239.255.70.1:6974");
    p.start(0);
    let active = lab::wait_for(Duration::from_secs(5), || {
        p.lab.holders("192.0.2.100") == vec![0]
    });
    assert!(active.is_some(), "a never Active; {}", p.lab.report());
    p.start(1);
    p.conntrack_restore(0, "flows.ct", &tcp_flows(0, 200, 1));
    assert!(
        p.wait_mirror(200, Duration::from_secs(15)),
        "b's mirror over multicast: {:?}; {}",
        p.replication(1),
        p.lab.report()
    );
    assert_takeover_equal(&mut p);
}
