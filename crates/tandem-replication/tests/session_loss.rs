//! Convergence under loss, duplication and reordering: the Backup's
//! mirror ends equal to the Active's table, flow for flow and digest for
//! digest, within bounded virtual time.

use std::time::Duration;

use tandem_replication::sim::{self, Link, Sim};

/// Random upserts (new flows, state changes, lifetime refreshes) and
/// removals on the Active while the link loses, duplicates and reorders.
fn churn(s: &mut Sim, ops: usize, universe: u32) {
    for _ in 0..ops {
        let i = s.rng.below(u64::from(universe)) as u32;
        let now = s.now;
        match s.rng.below(10) {
            0..=5 => {
                let mut f = sim::flow(i);
                f.state = 1 + s.rng.below(8) as u8;
                s.a.upsert_flow(now, f).unwrap();
            }
            6..=7 => {
                s.a.remove_flow(now, &sim::flow(i).key());
            }
            _ => {
                let mut f = sim::flow(i);
                f.backend = s.rng.below(8) as u16;
                s.a.upsert_flow(now, f).unwrap();
            }
        }
        let gap = Duration::from_micros(s.rng.below(400));
        s.run_for(gap);
    }
}

fn lossy() -> Link {
    Link {
        loss: 0.2,
        duplicate: 0.1,
        delay: Duration::from_micros(300),
        jitter: Duration::from_millis(2),
        up: true,
    }
}

#[test]
fn mirror_converges_under_20_percent_loss_duplication_and_reordering() {
    for seed in 0..24 {
        let mut s = Sim::new(seed, sim::config(1), sim::config(2));
        s.link = lossy();
        s.a.set_active(s.now, true);
        churn(&mut s, 3000, 1500);
        let stop = s.now;
        let ok = s.run_until(Duration::from_secs(20), |s| s.converged());
        assert!(
            ok,
            "seed {seed}: not converged after {:?}: a {:?} b {:?}",
            s.now - stop,
            s.a.status(),
            s.b.status()
        );
        let c = s.a.status().counters;
        assert!(
            c.frames_lost > 0 && c.records_repaired > 0,
            "seed {seed}: no repair exercised: {c:?}"
        );
        // And it says so.
        assert!(
            s.run_until(Duration::from_secs(10), |s| s.b.status().in_sync
                && s.converged()),
            "seed {seed}: converged but not in sync: {:?}",
            s.b.status()
        );
    }
}
