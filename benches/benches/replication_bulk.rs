//! The replicator's bulk resync in one process (two sans-IO replicators
//! on virtual time, real XChaCha20-Poly1305 on every frame): a Backup
//! joins an Active holding 100,000 and 1,000,000 IPv4 TCP flows and
//! receives them all through a paced bulk (200 MB/s), verified by the
//! range digest at the bulk's end. The time measured is the CPU work of
//! both units; the paced time on the link is printed by
//! `cargo run --release -p tandem-replication --example figures`.
//! Run with `cargo bench -p tandem-benches --bench replication_bulk`.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use tandem_replication::sim::{self, Sim};

/// A pair with `n` flows on the Active and the link cut: the Backup has
/// not joined yet.
fn pair(n: u32) -> Sim {
    let mut ca = sim::config(1);
    let mut cb = sim::config(2);
    ca.bulk_rate = 200_000_000;
    cb.bulk_rate = 200_000_000;
    let mut s = Sim::new(1, ca, cb);
    s.link.up = false;
    s.a.set_active(s.now, true);
    for i in 0..n {
        s.a.upsert_flow(s.now, sim::flow(i)).unwrap();
    }
    s
}

/// Joins the Backup and runs until its bulk ended with every flow.
fn join(mut s: Sim, n: usize) -> Sim {
    s.link.up = true;
    let done = s.run_until(Duration::from_secs(60), |s| {
        s.b.status().counters.bulks_received >= 1 && s.b.mirror().len() == n
    });
    assert!(done && s.b.status().counters.digest_mismatches == 0);
    s
}

fn bulk(c: &mut Criterion) {
    let mut g = c.benchmark_group("replication_bulk");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    for n in [100_000u32, 1_000_000] {
        g.bench_function(format!("join_{n}_ipv4_flows"), |b| {
            b.iter_batched(|| pair(n), |s| join(s, n as usize), BatchSize::PerIteration)
        });
    }
    g.finish();
}

criterion_group!(benches, bulk);
criterion_main!(benches);
