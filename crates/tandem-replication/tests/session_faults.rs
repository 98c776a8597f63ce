//! Faults the sequence numbers cannot see or repair one by one: a
//! restarted Backup, a lost delete, silent corruption, a repair ring
//! that overflows. Each is caught and repaired by a bulk.

use std::time::Duration;

use tandem_replication::session::Event;
use tandem_replication::sim::{self, Link, Sim};

fn synced(seed: u64, flows: u32) -> Sim {
    let mut s = Sim::new(seed, sim::config(1), sim::config(2));
    s.a.set_active(s.now, true);
    for i in 0..flows {
        s.a.upsert_flow(s.now, sim::flow(i)).unwrap();
    }
    assert!(s.run_until(Duration::from_secs(5), |s| s.converged()
        && s.b.status().in_sync));
    s
}

/// A Backup killed mid-stream comes back with a new boot id and an empty
/// mirror: the Active binds it through HELLO, it asks a full resync
/// (Join) and catches up through the bulk while live changes go on.
#[test]
fn restarted_backup_catches_up_through_bulk() {
    let mut s = synced(3, 2000);
    s.link = Link {
        loss: 0.1,
        jitter: Duration::from_millis(1),
        ..Link::default()
    };
    let bulks = s.a.status().counters.bulks_sent;
    // Changes in flight when b dies.
    for i in 2000..2300 {
        s.a.upsert_flow(s.now, sim::flow(i)).unwrap();
    }
    s.run_for(Duration::from_millis(2));
    s.restart_b();
    assert_eq!(s.b.mirror_flows(s.now).len(), 0);
    for i in 0..200 {
        s.a.remove_flow(s.now, &sim::flow(i).key());
        s.run_for(Duration::from_micros(300));
    }
    assert!(s.run_until(Duration::from_secs(10), |s| s.converged()
        && s.b.status().in_sync));
    assert_eq!(s.b.mirror_flows(s.now).len(), 2100);
    assert!(
        s.a.status().counters.bulks_sent > bulks,
        "caught up without a bulk?"
    );
    // The Active saw its partner start again.
    let started = s
        .events_a
        .iter()
        .filter(|e| matches!(e, Event::PartnerStarted { .. }))
        .count();
    assert_eq!(started, 2);
}

/// A stale mirror entry whose delete was lost (planted behind the
/// protocol's back, never sent) is removed by a bulk's mark-and-sweep.
#[test]
fn stale_entry_of_a_lost_delete_is_swept_by_the_bulk() {
    let mut s = synced(4, 300);
    let ghost = sim::flow(999_999);
    assert!(s.b.debug_plant_mirror(5000, 0, ghost));
    assert!(s
        .b
        .mirror_flows(s.now)
        .iter()
        .any(|f| f.key() == ghost.key()));
    s.b.request_resync(s.now);
    assert!(s.run_until(Duration::from_secs(5), |s| s.converged()));
    assert!(!s
        .b
        .mirror_flows(s.now)
        .iter()
        .any(|f| f.key() == ghost.key()));
    assert!(s.b.status().counters.swept >= 1);
}

/// The same stale entry, with no bulk asked: the continuous digests find
/// its shard differs and repair it.
#[test]
fn stale_entry_is_found_by_digests_without_asking() {
    let mut s = synced(5, 300);
    assert!(s.b.debug_plant_mirror(4096 + 77, 3, sim::flow(777_777)));
    assert!(!s.converged());
    assert!(s.run_until(Duration::from_secs(5), |s| s.converged()
        && s.b.status().in_sync));
    assert!(s.b.status().counters.digest_mismatches >= 1);
    assert!(s.events_b.contains(&Event::OutOfSync { reason: "digest" }));
}

/// Silent corruption of a mirrored flow (its real server changed, as a
/// bug or a memory fault would) is caught by the shard digests and
/// repaired by a ranged resync of that shard only.
#[test]
fn silent_corruption_is_repaired_by_digests() {
    let mut s = synced(6, 5000);
    let before = s.a.status().counters.bulk_entries_sent;
    assert!(s.b.debug_tamper_mirror(1234, |f| f.backend = 77));
    assert!(!s.converged());
    assert!(s.run_until(Duration::from_secs(5), |s| s.converged()
        && s.b.status().in_sync));
    let c = s.b.status().counters;
    assert!(
        c.digest_mismatches >= 1 && c.resyncs_requested >= 2,
        "{c:?}"
    );
    let resent = s.a.status().counters.bulk_entries_sent - before;
    assert!(
        resent > 0 && resent < 50,
        "a shard's bulk, not the table's: {resent}"
    );
}

/// The link is cut while the Active keeps changing its table. The
/// Active sends no more than the receiver's credit allows: the changes
/// wait in its table, coalesced, and nothing is sent beyond what it can
/// repair. As the cut goes on, its heartbeats fill the small repair ring:
/// that is not silence either: the Active counts the overflow and resyncs
/// the stream, and the mirror converges once the link is back.
#[test]
fn cut_link_holds_changes_back_then_a_full_ring_escalates_to_a_resync() {
    let mut cfg = sim::config(1);
    cfg.ring_frames = 16;
    let mut s = Sim::new(7, cfg, sim::config(2));
    s.a.set_active(s.now, true);
    for i in 0..100 {
        s.a.upsert_flow(s.now, sim::flow(i)).unwrap();
    }
    assert!(s.run_until(Duration::from_secs(5), |s| s.converged()));
    let bulks = s.a.status().counters.bulks_sent;
    let sent = s.a.status().counters.frames_sent;
    s.link.up = false;
    for i in 0..3000 {
        s.a.upsert_flow(s.now, sim::flow(100 + i)).unwrap();
        if i % 3 == 0 {
            s.a.remove_flow(s.now, &sim::flow(i / 3).key());
        }
        s.run_for(Duration::from_micros(100));
    }
    s.run_for(Duration::from_millis(50));
    let st = s.a.status();
    // 3,000 changes are more frames' worth than the credit lets go (the
    // ring's size, at least 128 frames, three quarters of it in flight).
    assert!(st.pending > 500, "{st:?}");
    let during = st.counters.frames_sent - sent;
    assert!(during <= 96, "sent {during} frames during the cut: {st:?}");
    assert_eq!(st.counters.ring_overflows, 0, "{st:?}");
    // Seconds of heartbeats with no ACK overflow the 16-frame ring.
    s.run_for(Duration::from_secs(3));
    let c = s.a.status().counters;
    assert!(c.ring_overflows > 0, "{c:?}");
    s.link.up = true;
    let ok = s.run_until(Duration::from_secs(10), |s| {
        s.converged() && s.b.status().in_sync
    });
    assert!(ok, "a: {:?}\nb: {:?}", s.a.status(), s.b.status());
    assert!(s.a.status().counters.bulks_sent > bulks);
}

/// A frame lost beyond repair (the link cut until heartbeats push it out
/// of the ring) costs a resync of the shards of the flows it carried, not
/// of the whole table.
#[test]
fn a_frame_lost_beyond_repair_resyncs_its_shards_only() {
    let mut cfg = sim::config(1);
    cfg.ring_frames = 16;
    let mut s = Sim::new(8, cfg, sim::config(2));
    s.a.set_active(s.now, true);
    for i in 0..2000 {
        s.a.upsert_flow(s.now, sim::flow(i)).unwrap();
    }
    assert!(s.run_until(Duration::from_secs(10), |s| s.converged()
        && s.b.status().in_sync));
    // Every frame of the bulk acknowledged before the cut.
    s.run_for(Duration::from_millis(500));
    let before = s.a.status().counters;
    s.link.up = false;
    for i in 0..3 {
        let mut f = sim::flow(i * 500);
        f.state = 4;
        s.a.upsert_flow(s.now, f).unwrap();
    }
    // Heartbeats for 20 s: the frame with the three changes leaves the
    // 128-frame ring unacknowledged.
    s.run_for(Duration::from_secs(20));
    let c = s.a.status().counters;
    assert!(c.ring_overflows > before.ring_overflows, "{c:?}");
    s.link.up = true;
    assert!(s.run_until(Duration::from_secs(10), |s| s.converged()
        && s.b.status().in_sync));
    let resent = s.a.status().counters.bulk_entries_sent - before.bulk_entries_sent;
    assert!(
        resent > 0 && resent < 50,
        "three shards, not the table: {resent} entries"
    );
}

/// Roles swap (a failover): b becomes Active and streams its own table,
/// a mirrors it; a's old stream stays mirrored on b until swept.
#[test]
fn roles_swap_and_the_new_active_streams() {
    let mut s = synced(8, 100);
    s.a.set_active(s.now, false);
    s.b.set_active(s.now, true);
    for i in 0..50 {
        s.b.upsert_flow(s.now, sim::flow(10_000 + i)).unwrap();
    }
    assert!(s.run_until(Duration::from_secs(5), |s| {
        sim::mirrors(&s.b, &s.a, s.now) && s.a.status().in_sync
    }));
    assert_eq!(s.a.mirror_flows(s.now).len(), 50);
}
