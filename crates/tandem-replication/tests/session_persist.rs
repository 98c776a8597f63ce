//! L7 persistence entries replicate in the same frames as the flows:
//! live changes, repair under loss, and the bulk of a restarted Backup
//! with its sweep.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use tandem_replication::persist::{PersistKey, PersistenceTable};
use tandem_replication::session::Config;
use tandem_replication::sim::{self, Link, Sim};

fn with_table(node: u8) -> (Config, PersistenceTable) {
    let mut c = sim::config(node);
    let t = PersistenceTable::new(c.keys.hasher(), 10_000);
    c.persistence = Some(t.clone());
    (c, t)
}

fn source(i: u32) -> PersistKey {
    PersistKey::source(IpAddr::V4(Ipv4Addr::from(0xc633_6400 + i)), 32)
}

/// The partner's copy equals our table (lifetimes aside).
fn same(local: &PersistenceTable, partner: &PersistenceTable, s: &Sim) -> bool {
    let strip = |v: Vec<tandem_replication::persist::Persistence>| {
        let mut v: Vec<_> = v.into_iter().map(|p| (p.table, p.key, p.backend)).collect();
        v.sort();
        v
    };
    strip(local.local_entries(s.now)) == strip(partner.partner_entries(s.now))
}

#[test]
fn persistence_entries_replicate_under_loss_and_after_a_restart() {
    let (mut ca, ta) = with_table(1);
    let (cb, tb) = with_table(2);
    ca_ring(&mut ca);
    let mut s = Sim::new(21, ca, cb);
    s.a.set_active(s.now, true);
    s.link = Link {
        loss: 0.2,
        duplicate: 0.1,
        jitter: Duration::from_millis(2),
        ..Link::default()
    };
    let hasher = ta.hasher();
    let life = Duration::from_secs(600);
    for i in 0..500u32 {
        let now = s.now;
        ta.insert(now, 1, source(i), (i % 5) as u16, life).unwrap();
        ta.insert(now, 2, hasher.cookie(format!("c{i}").as_bytes()), 7, life)
            .unwrap();
        if i % 7 == 0 {
            ta.remove(now, 1, &source(i / 2));
        }
        s.a.upsert_flow(now, sim::flow(i)).unwrap();
        s.a.handle_timeout(now);
        s.run_for(Duration::from_micros(500));
    }
    assert!(ta.len() > 900);
    assert!(
        s.run_until(Duration::from_secs(10), |s| s.converged()
            && same(&ta, &tb, s)),
        "a {} entries, b's copy {}",
        ta.len(),
        tb.partner_len()
    );
    // b's mirror answers a lookup for a's decision.
    assert_eq!(tb.lookup(s.now, 1, &source(499)), Some(4));
    // A restarted b (its copy forgotten) gets them back through the bulk.
    tb.clear_partner();
    s.restart_b();
    assert!(s.run_until(Duration::from_secs(10), |s| s.converged()
        && same(&ta, &tb, s)));
    // Deletes lost beyond repair (the link cut while the ring overflows)
    // are made good by the full resync's mark-and-sweep.
    s.link.up = false;
    for i in 0..50u32 {
        assert!(ta.remove(s.now, 2, &hasher.cookie(format!("c{i}").as_bytes())));
    }
    for i in 0..8000u32 {
        s.a.upsert_flow(s.now, sim::flow(10_000 + i)).unwrap();
        s.run_for(Duration::from_micros(50));
    }
    // The sender holds its changes back for credit; the cut's heartbeats
    // overflow the ring in a few seconds.
    s.run_for(Duration::from_secs(5));
    assert!(s.a.status().counters.ring_overflows > 0);
    s.link = Link::default();
    assert!(s.run_until(Duration::from_secs(10), |s| s.converged()
        && same(&ta, &tb, s)));
    assert!(tb.lookup(s.now, 2, &hasher.cookie(b"c1")).is_none());
}

fn ca_ring(c: &mut Config) {
    c.ring_frames = 128;
}
