//! Arbitrary interleavings of table operations and link faults (loss,
//! duplication, reordering, cuts, a Backup restart) converge once the
//! link is clean again: same flows, same digests, in sync.

use std::time::Duration;

use proptest::prelude::*;
use tandem_replication::flow::TcpWindow;
use tandem_replication::sim::{self, Link, Sim};

#[derive(Debug, Clone)]
enum Op {
    Upsert { i: u32, state: u8 },
    Window { i: u32, end: u32 },
    Backend { i: u32, backend: u16 },
    Remove { i: u32 },
    Run { us: u64 },
    Faults { loss: f64, dup: f64, jitter_us: u64 },
    Cut { up: bool },
    RestartBackup,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0..300u32, 1..10u8).prop_map(|(i, state)| Op::Upsert { i, state }),
        2 => (0..300u32, any::<u32>()).prop_map(|(i, end)| Op::Window { i, end }),
        2 => (0..300u32, 0..16u16).prop_map(|(i, backend)| Op::Backend { i, backend }),
        4 => (0..300u32).prop_map(|i| Op::Remove { i }),
        4 => (0..5_000u64).prop_map(|us| Op::Run { us }),
        1 => (0.0..0.5f64, 0.0..0.3f64, 0..3_000u64)
            .prop_map(|(loss, dup, jitter_us)| Op::Faults { loss, dup, jitter_us }),
        1 => any::<bool>().prop_map(|up| Op::Cut { up }),
        1 => Just(Op::RestartBackup),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, .. ProptestConfig::default() })]

    #[test]
    fn any_interleaving_of_changes_and_faults_converges(
        seed in any::<u64>(),
        ops in prop::collection::vec(op(), 1..400),
    ) {
        let mut s = Sim::new(seed, sim::config(1), sim::config(2));
        s.a.set_active(s.now, true);
        for op in ops {
            let now = s.now;
            match op {
                Op::Upsert { i, state } => {
                    let mut f = sim::flow(i);
                    f.state = state;
                    s.a.upsert_flow(now, f).unwrap();
                }
                Op::Window { i, end } => {
                    let mut f = sim::flow(i);
                    f.window = Some(TcpWindow { end: [end, end / 2], ..TcpWindow::default() });
                    s.a.upsert_flow(now, f).unwrap();
                }
                Op::Backend { i, backend } => {
                    let mut f = sim::flow(i);
                    f.backend = backend;
                    s.a.upsert_flow(now, f).unwrap();
                }
                Op::Remove { i } => {
                    s.a.remove_flow(now, &sim::flow(i).key());
                }
                Op::Run { us } => s.run_for(Duration::from_micros(us)),
                Op::Faults { loss, dup, jitter_us } => {
                    s.link.loss = loss;
                    s.link.duplicate = dup;
                    s.link.jitter = Duration::from_micros(jitter_us);
                }
                Op::Cut { up } => s.link.up = up,
                Op::RestartBackup => s.restart_b(),
            }
        }
        s.link = Link::default();
        let ok = s.run_until(Duration::from_secs(30), |s| s.converged() && s.b.status().in_sync);
        prop_assert!(ok, "a {:?}\nb {:?}", s.a.status(), s.b.status());
    }
}
