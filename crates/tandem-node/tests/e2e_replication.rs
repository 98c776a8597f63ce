//! End-to-end tests of connection replication between the two units of a
//! tandemd pair (docs/replication.md), in network namespaces, on the
//! LVS-NAT router pair of tests/e2e/nat_pair.rs: a long-lived TCP stream
//! through the Active survives `kill -9` of the Active (and its links),
//! because the Backup's connection-tracking table had the stream's entry
//! when it took over; the same test without `[replication]` shows the
//! stream broken by the Backup's firewall, so the test proves what it
//! claims.
//!
//! They need root, `ip`, `bridge`, `tcpdump`, `nft` and `conntrack`;
//! without them each test returns early saying why, except under
//! `CI=true`, where it fails. Every wait is bounded.

#[path = "e2e/lab.rs"]
#[allow(dead_code)]
mod lab;
#[path = "e2e/nat_pair.rs"]
#[allow(dead_code)]
mod nat_pair;
#[path = "e2e/sync_pair.rs"]
#[allow(dead_code)]
mod sync_pair;

use std::time::Duration;

use nat_pair::NatPair;

/// What scheduling on two busy cores may add to a protocol's own bound.
const MARGIN: Duration = Duration::from_millis(1500);

/// The stream through the Active, the Active killed, and what becomes of
/// the stream: `Ok` if it went on through the Backup, `Err` with why not.
fn failover_with(tag: &str, replication: bool) -> Option<Result<(), String>> {
    let mut p = NatPair::new(tag, replication)?;
    let _echo = p.echo_server();
    p.start(0);
    assert!(
        p.wait_active(0, Duration::from_secs(5)),
        "a never Active; {}",
        p.lab.report()
    );
    p.start(1);
    // b is the Backup and, with replication, in sync.
    if replication {
        let synced = lab::wait_for(Duration::from_secs(10), || {
            p.replication(1)
                .is_some_and(|r| r["in_sync"] == true && r["state"] == "in-sync")
        });
        assert!(
            synced.is_some(),
            "b never in sync: {:?}; {}",
            p.replication(1),
            p.lab.report()
        );
    } else {
        std::thread::sleep(Duration::from_secs(1));
    }
    let stream = p.stream();
    assert!(
        stream.advances(10, Duration::from_secs(5)),
        "the stream does not run through a: {:?}; {}",
        stream.failure(),
        p.lab.report()
    );
    if replication {
        // The entry reaches b's mirror (the flush budget is 5 ms).
        let mirrored = lab::wait_for(Duration::from_secs(3), || {
            p.replication(1)
                .is_some_and(|r| r["mirror_flows"].as_u64() >= Some(1))
        });
        assert!(
            mirrored.is_some(),
            "b mirrors no flow: {:?}",
            p.replication(1)
        );
        assert!(
            p.conntrack_lines(1).is_empty(),
            "b installs before a takeover"
        );
    }
    p.kill(0);
    assert!(
        p.wait_active(1, Duration::from_secs(3) + MARGIN),
        "b does not take over; {}",
        p.lab.report()
    );
    let went_on = stream.advances(20, Duration::from_secs(8));
    let failure = stream.finish();
    if went_on && failure.is_none() {
        let lines = p.conntrack_lines(1);
        assert!(
            !lines.is_empty(),
            "the stream went on, but b has no entry for it"
        );
        Some(Ok(()))
    } else {
        Some(Err(failure.unwrap_or_else(|| "the stream stalled".into())))
    }
}

/// The stream keeps flowing through the new Active without a reset:
/// its connection-tracking entry (with the destination NAT to the real
/// server) was installed before the Backup added the addresses.
#[test]
fn stream_survives_kill_of_active_with_replication() {
    let Some(result) = failover_with("rpon", true) else {
        return;
    };
    if let Err(why) = result {
        panic!("the stream broke at failover with replication on: {why}");
    }
}

/// Without `[replication]` the same failover breaks the stream: the
/// Backup's strict firewall does not know the connection and resets it.
#[test]
fn stream_breaks_at_failover_without_replication() {
    let Some(result) = failover_with("rpoff", false) else {
        return;
    };
    match result {
        Ok(()) => panic!("the stream survived without replication: the test would prove nothing"),
        // The Backup's firewall answered the unknown connection's packets
        // with a reset.
        Err(why) => assert!(
            why.contains("reset"),
            "the stream broke, but not by a reset: {why}"
        ),
    }
}
