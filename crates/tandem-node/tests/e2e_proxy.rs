//! End-to-end tests of the example sticky proxy
//! (crates/tandem-node/examples/sticky_proxy), a pair of HTTP reverse
//! proxies embedding a Tandem node each, in network namespaces
//! (tests/e2e/proxy_pair.rs): a client holding the `TANDEM_SRV` cookie
//! reaches the same real server before and after `kill -9` of the Active
//! unit, because the Backup's node had the proxy's persistence table
//! replicated; the same failover with the Backup started without
//! `[replication]` sends the cookie to another real server, so the test
//! proves what it claims.
//!
//! Round robin is arranged so that only the cookie can keep the client:
//! the cookie's real server (1) is not the one round robin gives the next
//! new client (0), and after the failover the cookie comes from a client
//! address neither unit has stuck, so neither the source address nor round
//! robin can pick 1 for it.
//!
//! They need root, `ip`, `bridge`, `tcpdump` (the lab's rules) and the
//! example binary (`cargo build -p tandem-node --examples`); without root
//! or a tool each test returns early saying why, except under `CI=true`,
//! where it fails. Every wait is bounded.

#[path = "e2e/lab.rs"]
#[allow(dead_code)]
mod lab;
#[path = "e2e/proxy_pair.rs"]
#[allow(dead_code)]
mod proxy_pair;
#[path = "e2e/sync_pair.rs"]
#[allow(dead_code)]
mod sync_pair;

use std::time::Duration;

use proxy_pair::{ProxyPair, CLIENTS};

/// What scheduling on two busy cores may add to a protocol's own bound.
const MARGIN: Duration = Duration::from_millis(1500);

/// What became of the cookie client at the failover.
struct Outcome {
    /// The cookie's real server before.
    before: usize,
    /// The real server of each request with the cookie after.
    after: Vec<usize>,
}

/// The cookie client through the Active, the Active killed, the cookie
/// through the new Active; `None` when the test cannot run here.
fn failover_with(tag: &str, backup_replication: bool) -> Option<Outcome> {
    let mut p = ProxyPair::new(tag, [true, backup_replication])?;
    let _servers = p.real_servers();
    p.start(0);
    assert!(
        p.wait_active(0, Duration::from_secs(5)),
        "a never Active; {}",
        p.lab.report()
    );
    p.start(1);
    if backup_replication {
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
    assert!(
        !p.lab.has(1, proxy_pair::VIP),
        "b holds the VIP too; {}",
        p.lab.report()
    );
    let get = |from: &str, cookie: Option<&str>| {
        p.get(from, cookie)
            .and_then(|r| r.server().map(|s| (s, r)))
            .unwrap_or_else(|e| panic!("request from {from}: {e}; {}", p.lab.report()))
    };
    // Two new clients: round robin gives the first real server 0, the
    // second 1; each gets a cookie.
    let (first, r) = get(CLIENTS[0], None);
    assert_eq!(first, 0, "round robin starts at 0: {r:?}");
    assert!(r.cookie.is_some(), "no cookie for a new client: {r:?}");
    let (before, r) = get(CLIENTS[1], None);
    assert_eq!(before, 1, "round robin's second pick: {r:?}");
    let cookie = r
        .cookie
        .unwrap_or_else(|| panic!("no cookie for the second client"));
    // The cookie holds, from its own address and from one never seen
    // (where only the cookie can choose: round robin's next is 0).
    for from in [CLIENTS[1], CLIENTS[2], CLIENTS[1]] {
        let (s, r) = get(from, Some(&cookie));
        assert_eq!(s, before, "the cookie from {from} on a: {r:?}");
        assert!(r.cookie.is_none(), "a known cookie replaced: {r:?}");
    }
    let log_a = p.log(0);
    assert!(
        log_a.contains(&format!("client={}:", CLIENTS[2])) && log_a.contains("via=cookie"),
        "a's log shows no choice by cookie:\n{log_a}"
    );
    // Both clients' entries (address and cookie each): 4 on a, and with
    // replication the same 4 in b's copy of a's table.
    let local = lab::wait_for(Duration::from_secs(2), || {
        p.table(0).is_some_and(|(l, _)| l == 4)
    });
    assert!(local.is_some(), "a's table: {:?}", p.table(0));
    if backup_replication {
        let mirrored = lab::wait_for(Duration::from_secs(3), || {
            p.table(1).is_some_and(|(_, partner)| partner == 4)
        });
        assert!(
            mirrored.is_some(),
            "b has not a's 4 entries: {:?}; {}",
            p.table(1),
            p.lab.report()
        );
    } else {
        assert_eq!(
            p.table(1),
            Some((0, 0)),
            "b without replication has entries"
        );
    }
    p.kill(0);
    assert!(
        p.wait_active(1, Duration::from_secs(3) + MARGIN),
        "b does not take over; {}",
        p.lab.report()
    );
    // The cookie from the address b has never seen, then from its own.
    let mut after = Vec::new();
    for from in [CLIENTS[2], CLIENTS[1], CLIENTS[2]] {
        // The client learns the VIP's new owner from b's gratuitous ARP:
        // a first connection may fail.
        let mut reply = Err(String::new());
        let answered = lab::wait_for(Duration::from_secs(3), || {
            reply = p.get(from, Some(&cookie));
            reply.is_ok()
        });
        let r = match (answered, reply) {
            (Some(_), Ok(r)) => r,
            (_, reply) => panic!(
                "no answer through b from {from}: {reply:?}; {}",
                p.lab.report()
            ),
        };
        let s = r
            .server()
            .unwrap_or_else(|e| panic!("through b: {e}; {}", p.lab.report()));
        if backup_replication {
            assert!(r.cookie.is_none(), "b replaced a replicated cookie: {r:?}");
        }
        after.push(s);
    }
    if backup_replication {
        let log_b = p.log(1);
        assert!(
            log_b.contains(&format!("client={}:", CLIENTS[2])) && log_b.contains("via=cookie"),
            "b's log shows no choice by cookie:\n{log_b}"
        );
    }
    Some(Outcome { before, after })
}

/// The cookie client keeps its real server across `kill -9` of the
/// Active: b answers the cookie from a's replicated entry.
#[test]
fn sticky_cookie_survives_kill_of_active_with_replication() {
    let Some(o) = failover_with("pxon", true) else {
        return;
    };
    assert_eq!(
        o.after,
        vec![o.before; 3],
        "the cookie client changed real servers at the failover"
    );
}

/// Without `[replication]` on the Backup the same cookie lands on round
/// robin's pick, another real server: the test above proves something.
#[test]
fn sticky_cookie_lost_at_failover_without_replication() {
    let Some(o) = failover_with("pxoff", false) else {
        return;
    };
    assert_ne!(
        o.after.first(),
        Some(&o.before),
        "the cookie kept its real server without replication: the test would prove nothing"
    );
}
