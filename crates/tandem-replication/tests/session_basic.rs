//! The replicator between two units on a clean link: binding, bulk,
//! live changes, in sync.

use std::time::Duration;

use tandem_replication::session::Event;
use tandem_replication::sim::{self, Sim};

#[test]
fn backup_mirrors_active_after_join_and_live_changes() {
    let mut s = Sim::new(1, sim::config(1), sim::config(2));
    s.a.set_active(s.now, true);
    for i in 0..1000 {
        s.a.upsert_flow(s.now, sim::flow(i)).unwrap();
    }
    assert!(
        s.run_until(Duration::from_secs(5), |s| s.converged()
            && s.b.status().in_sync),
        "{:?} {:?}",
        s.a.status(),
        s.b.status()
    );
    assert!(s
        .events_b
        .iter()
        .any(|e| matches!(e, Event::PartnerStarted { .. })));
    assert!(s.events_b.contains(&Event::InSync));
    assert!(s.run_until(Duration::from_secs(2), |s| s.a.status().partner_in_sync));
    // Live: updates and removals.
    let now = s.now;
    for i in 0..100 {
        let mut f = sim::flow(i);
        f.state = 7;
        s.a.upsert_flow(now, f).unwrap();
        assert!(s.a.remove_flow(now, &sim::flow(500 + i).key()));
    }
    assert!(s.run_until(Duration::from_secs(2), |s| s.converged()));
    assert_eq!(s.b.mirror_flows(s.now).len(), 900);
}

/// Lazy refresh: a flow upserted every second with a 10 s lifetime is
/// refreshed on the Backup only when the deadline it was told comes
/// closer than half the lifetime (a FLOW_UPD every ~5 s, not every
/// upsert), and never expires there; left alone, it expires on both
/// sides on their own clocks.
#[test]
fn lifetimes_refresh_lazily_and_expire_on_both_clocks() {
    use tandem_replication::sim::Side;
    use tandem_replication::wire::{decode_payload, Record};
    let mut s = Sim::new(2, sim::config(1), sim::config(2));
    s.a.set_active(s.now, true);
    assert!(s.run_until(Duration::from_secs(2), |s| s.b.status().in_sync));
    s.capture = true;
    let mut f = sim::flow(1);
    f.lifetime_ms = 10_000;
    for _ in 0..30 {
        s.a.upsert_flow(s.now, f).unwrap();
        s.run_for(Duration::from_secs(1));
        assert_eq!(s.b.mirror_flows(s.now).len(), 1);
    }
    let keys = sim::config(1).keys;
    let updates = s
        .captured
        .iter()
        .filter(|(side, _)| *side == Side::A)
        .filter_map(|(_, d)| keys.open(d).ok())
        .filter_map(|(_, p)| decode_payload(&p).ok())
        .flatten()
        .filter(|r| matches!(r, Record::FlowUpdate { .. }))
        .count();
    assert!(
        (4..=8).contains(&updates),
        "{updates} updates for 30 upserts"
    );
    // No more upserts: gone from the mirror after lifetime + grace, and
    // from the Active's table too.
    s.run_for(Duration::from_secs(16));
    assert_eq!(s.b.mirror_flows(s.now).len(), 0);
    assert_eq!(s.a.local_flows().len(), 0);
    assert!(s.run_until(Duration::from_secs(5), |s| s.converged()
        && s.b.status().in_sync));
    assert_eq!(s.a.status().counters.expired_local, 1);
}

/// Bounded: the table refuses a flow beyond `max_flows`, counted; IPv6
/// flows replicate like IPv4 ones.
#[test]
fn table_is_bounded_and_ipv6_flows_replicate() {
    use std::net::{IpAddr, Ipv6Addr};
    use tandem_replication::flow::{proto, Flow, Tuple};
    let mut ca = sim::config(1);
    ca.max_flows = 100;
    let mut s = Sim::new(3, ca, sim::config(2));
    s.a.set_active(s.now, true);
    for i in 0..100u16 {
        let t = Tuple {
            src: IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, i)),
            dst: IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 1, 0, 0, 0, 1)),
            src_port: 40_000 + i,
            dst_port: 443,
        };
        s.a.upsert_flow(s.now, Flow::untranslated(proto::TCP, t, 3, 60_000))
            .unwrap();
    }
    let err = s.a.upsert_flow(s.now, sim::flow(1)).unwrap_err();
    assert_eq!(err.capacity, 100);
    assert_eq!(s.a.status().counters.table_full, 1);
    assert!(s.run_until(Duration::from_secs(3), |s| s.converged()
        && s.b.status().in_sync));
    assert_eq!(s.b.mirror_flows(s.now).len(), 100);
}
