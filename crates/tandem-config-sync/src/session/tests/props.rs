//! Property tests of the session: bidirectional convergence.

use super::*;
use proptest::prelude::*;

/// One step of a run: an edit at a unit, a cut, a reconnect, or time.
#[derive(Debug, Clone)]
enum Step {
    Edit {
        at_b: bool,
        object: u8,
        port: i64,
        remove: bool,
    },
    Cut,
    Connect,
    Wait(u16),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (any::<bool>(), 0u8..6, 0i64..100, prop::bool::weighted(0.15))
            .prop_map(|(at_b, object, port, remove)| Step::Edit { at_b, object, port, remove }),
        1 => Just(Step::Cut),
        1 => Just(Step::Connect),
        2 => (0u16..1500).prop_map(Step::Wait),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Edits on both units in any interleaving, with the connection
    /// cut and restored at any point (what was in flight is lost), end
    /// with equal roots once the units are connected and quiet.
    #[test]
    fn every_interleaving_loss_and_reconnect_ends_with_equal_roots(steps in prop::collection::vec(step(), 1..40)) {
        let doc = vs(4);
        let a = Unit::new(cfg("a", Mode::Bidirectional), doc.clone(), Authority::default());
        let b = Unit::new(cfg("b", Mode::Bidirectional), doc.clone(), Authority::default());
        let mut p = Pair::new(a, b);
        p.connect();
        for s in steps {
            match s {
                Step::Edit { at_b, object, port, remove } => {
                    let u = if at_b { &mut p.b } else { &mut p.a };
                    let mut d = u.s.document().clone();
                    let k = ObjectKey::new("app.vs", format!("vs{object:05}"));
                    if remove {
                        d.put_object(k, None);
                    } else {
                        d.set(k, "port", Value::Int(port)).unwrap();
                    }
                    let _ = u.s.commit(p.now, d);
                    p.pump();
                }
                Step::Cut => p.cut(),
                Step::Connect => {
                    if !p.connected {
                        p.connect();
                    }
                }
                Step::Wait(ms) => p.run(Duration::from_millis(u64::from(ms))),
            }
        }
        if !p.connected {
            p.connect();
        }
        p.run(Duration::from_secs(5));
        prop_assert!(p.roots_equal(), "a {:?} b {:?}", p.a.s.state(), p.b.s.state());
        prop_assert_eq!(p.a.s.document(), p.b.s.document());
    }
}
