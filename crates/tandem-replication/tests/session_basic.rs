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
