use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use crate::value::Value;

fn key() -> ObjectKey {
    ObjectKey::new("app.vs", "web1")
}

fn obj(n: i64) -> Option<Object> {
    Some(Object::from([("port".to_owned(), Value::Int(n))]))
}

fn ver(vector: &[(&str, u64)], stamp: Hlc, unit: &str, object: Option<Object>) -> Versioned {
    Versioned {
        version: Version {
            vector: vector.iter().map(|(u, n)| (u.to_string(), *n)).collect(),
            stamp,
            unit: unit.into(),
        },
        object,
    }
}

/// The state a unit ends with after merging `remote` into `local`.
fn merged(local: &Versioned, remote: &Versioned) -> Versioned {
    let mut out = local.clone();
    merge_into(&key(), &mut out, remote);
    out
}

#[test]
fn clock_is_wall_time_then_a_counter() {
    let mut clock = Clock::default();
    assert_eq!(clock.tick(1000), 1000 << 16);
    assert_eq!(clock.tick(1000), (1000 << 16) + 1);
    assert_eq!(clock.tick(999), (1000 << 16) + 2, "a wall clock going back");
    assert_eq!(clock.tick(1001), 1001 << 16);
    clock.observe(5000 << 16);
    assert_eq!(clock.last(), 5000 << 16);
    assert_eq!(clock.tick(1002), (5000 << 16) + 1, "above what it saw");
    clock.observe(1);
    assert_eq!(
        clock.tick(1002),
        (5000 << 16) + 2,
        "an old stamp does not move it back"
    );
    let mut far = Clock::default();
    assert_eq!(far.tick(u64::MAX), MAX_WALL_MS << 16);
    assert!(far.tick(u64::MAX) > MAX_WALL_MS << 16);
}

#[test]
fn bump_counts_the_editors_edits() {
    let mut v = Version::default();
    bump(&mut v, "a", 10);
    bump(&mut v, "a", 11);
    bump(&mut v, "b", 12);
    assert_eq!(
        v.vector,
        BTreeMap::from([("a".to_owned(), 2), ("b".to_owned(), 1)])
    );
    assert_eq!((v.stamp, v.unit.as_str()), (12, "b"));
}

#[test]
fn compare_treats_a_missing_counter_as_zero() {
    let v = |pairs: &[(&str, u64)]| -> BTreeMap<String, u64> {
        pairs.iter().map(|(u, n)| (u.to_string(), *n)).collect()
    };
    assert_eq!(
        compare(&v(&[("a", 1)]), &v(&[("a", 1), ("b", 0)])),
        Causality::Equal
    );
    assert_eq!(
        compare(&v(&[("a", 2)]), &v(&[("a", 1)])),
        Causality::Dominates
    );
    assert_eq!(
        compare(&v(&[("a", 1)]), &v(&[("a", 1), ("b", 1)])),
        Causality::Dominated
    );
    assert_eq!(
        compare(&v(&[("a", 2)]), &v(&[("a", 1), ("b", 1)])),
        Causality::Concurrent
    );
    assert_eq!(compare(&v(&[]), &v(&[])), Causality::Equal);
}

#[test]
fn the_dominating_version_wins_whatever_the_stamps() {
    let old = ver(&[("a", 1)], 900, "a", obj(80));
    let new = ver(&[("a", 1), ("b", 1)], 100, "b", obj(81));
    assert_eq!(merge(&key(), &new, &old), Merged::Local);
    assert_eq!(merge(&key(), &old, &new), Merged::Remote);
    assert_eq!(merge(&key(), &old, &old), Merged::Local);
}

#[test]
fn concurrent_edits_pick_the_higher_stamp_and_report_the_loser() {
    let a = ver(&[("a", 2), ("b", 1)], 200, "a", obj(80));
    let b = ver(&[("a", 1), ("b", 2)], 300, "b", None);
    let want = Versioned {
        version: Version {
            vector: BTreeMap::from([("a".to_owned(), 2), ("b".to_owned(), 2)]),
            stamp: 300,
            unit: "b".into(),
        },
        object: None,
    };
    let Merged::Concurrent { result, conflict } = merge(&key(), &a, &b) else {
        panic!("concurrent edits")
    };
    assert_eq!(result, want);
    assert_eq!(
        conflict,
        Conflict {
            key: key(),
            winner: "b".into(),
            loser: "a".into(),
            lost: obj(80),
        }
    );
    // The other way round: same result, the same loser.
    let Merged::Concurrent { result, conflict } = merge(&key(), &b, &a) else {
        panic!("concurrent edits")
    };
    assert_eq!(result, want);
    assert_eq!((conflict.winner.as_str(), conflict.lost), ("b", obj(80)));
}

#[test]
fn equal_stamps_break_the_tie_by_unit_id() {
    let a = ver(&[("a", 1)], 500, "a", obj(1));
    let b = ver(&[("b", 1)], 500, "b", obj(2));
    let Merged::Concurrent { result, conflict } = merge(&key(), &a, &b) else {
        panic!("concurrent edits")
    };
    assert_eq!(
        (result.object, conflict.winner.as_str(), conflict.lost),
        (obj(2), "b", obj(1))
    );
}

#[test]
fn a_tombstone_that_loses_is_reported_as_a_removal() {
    let removed = ver(&[("a", 2)], 100, "a", None);
    let edited = ver(&[("a", 1), ("b", 1)], 200, "b", obj(9));
    let Merged::Concurrent { result, conflict } = merge(&key(), &removed, &edited) else {
        panic!("concurrent edits")
    };
    assert_eq!(result.object, obj(9));
    assert_eq!(conflict.lost, None);
    assert_eq!(conflict.loser, "a");
}

#[test]
fn equal_vectors_with_different_values_are_still_deterministic() {
    let x = ver(&[("a", 1)], 10, "a", obj(1));
    let y = ver(&[("a", 1)], 20, "a", obj(2));
    let Merged::Concurrent { result, conflict } = merge(&key(), &x, &y) else {
        panic!("a conflict must be reported")
    };
    assert_eq!(result, y);
    assert_eq!(conflict.lost, obj(1));
    assert_eq!(merged(&y, &x), y);
    // Same vector and value, other stamp: no conflict, the higher stands.
    let z = ver(&[("a", 1)], 30, "a", obj(2));
    assert_eq!(merge(&key(), &y, &z), Merged::Remote);
    assert_eq!(merge(&key(), &z, &y), Merged::Local);
    // Everything equal but the value: the canonical bytes decide, both ways.
    let p = ver(&[("a", 1)], 10, "a", obj(1));
    let q = ver(&[("a", 1)], 10, "a", obj(2));
    assert_eq!(merged(&p, &q), merged(&q, &p));
}

/// One step of the two-unit model.
#[derive(Debug, Clone)]
enum Step {
    /// Unit `unit` edits object `key` (None: removes it) at wall time
    /// `wall` (units' clocks disagree and may go back).
    Edit {
        unit: usize,
        key: usize,
        value: Option<i64>,
        wall: u64,
    },
    /// Unit `from` puts its current version of `key` on the wire.
    Send { from: usize, key: usize },
    /// A message on the wire arrives (and stays, to arrive again).
    Deliver { pick: usize },
    /// A message on the wire is lost.
    Lose { pick: usize },
}

fn arb_step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (0usize..2, 0usize..3, proptest::option::weighted(0.8, 0i64..4), 0u64..50)
            .prop_map(|(unit, key, value, wall)| Step::Edit { unit, key, value, wall }),
        3 => (0usize..2, 0usize..3).prop_map(|(from, key)| Step::Send { from, key }),
        3 => any::<usize>().prop_map(|pick| Step::Deliver { pick }),
        1 => any::<usize>().prop_map(|pick| Step::Lose { pick }),
    ]
}

const UNITS: [&str; 2] = ["a", "b"];

/// One unit of the model: its clock and its versions.
#[derive(Debug, Clone, Default)]
struct Unit {
    clock: Clock,
    objects: BTreeMap<ObjectKey, Versioned>,
}

impl Unit {
    fn receive(&mut self, key: &ObjectKey, remote: &Versioned) {
        self.clock.observe(remote.version.stamp);
        match self.objects.get_mut(key) {
            Some(local) => {
                merge_into(key, local, remote);
            }
            None => {
                self.objects.insert(key.clone(), remote.clone());
            }
        }
    }
}

fn model_key(i: usize) -> ObjectKey {
    ObjectKey::new("app.vs", format!("k{i}"))
}

/// Runs the steps; returns both units and every version seen anywhere.
fn run(steps: &[Step]) -> ([Unit; 2], Vec<(ObjectKey, Versioned)>) {
    let mut units = [Unit::default(), Unit::default()];
    let mut wire: Vec<(usize, ObjectKey, Versioned)> = Vec::new();
    let mut seen = Vec::new();
    for step in steps {
        match step {
            Step::Edit {
                unit,
                key,
                value,
                wall,
            } => {
                let u = &mut units[*unit];
                let stamp = u.clock.tick(*wall);
                let entry = u
                    .objects
                    .entry(model_key(*key))
                    .or_insert_with(|| Versioned {
                        version: Version::default(),
                        object: None,
                    });
                bump(&mut entry.version, UNITS[*unit], stamp);
                entry.object = value.map(|n| obj(n).unwrap_or_default());
                seen.push((model_key(*key), entry.clone()));
            }
            Step::Send { from, key } => {
                if let Some(v) = units[*from].objects.get(&model_key(*key)) {
                    wire.push((1 - from, model_key(*key), v.clone()));
                }
            }
            Step::Deliver { pick } => {
                if !wire.is_empty() {
                    let (to, key, v) = wire[pick % wire.len()].clone();
                    units[to].receive(&key, &v);
                    if let Some(now) = units[to].objects.get(&key) {
                        seen.push((key.clone(), now.clone()));
                    }
                }
            }
            Step::Lose { pick } => {
                if !wire.is_empty() {
                    let n = pick % wire.len();
                    wire.remove(n);
                }
            }
        }
    }
    (units, seen)
}

/// Every object of `from` sent to and merged into `to`.
fn exchange(units: &mut [Unit; 2], from: usize) {
    let to = 1 - from;
    let all: Vec<(ObjectKey, Versioned)> = units[from]
        .objects
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (key, v) in all {
        units[to].receive(&key, &v);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn both_units_converge_after_a_full_exchange(steps in proptest::collection::vec(arb_step(), 0..60), first in 0usize..2) {
        let (mut units, _) = run(&steps);
        exchange(&mut units, first);
        exchange(&mut units, 1 - first);
        prop_assert_eq!(&units[0].objects, &units[1].objects);
    }

    #[test]
    fn merge_is_commutative_associative_and_idempotent(
        steps in proptest::collection::vec(arb_step(), 0..60),
        picks in (any::<usize>(), any::<usize>(), any::<usize>()),
    ) {
        let (_, seen) = run(&steps);
        prop_assume!(!seen.is_empty());
        // Versions of one object only (the one of the first pick).
        let one = &seen[picks.0 % seen.len()].0;
        let of_key: Vec<&Versioned> = seen.iter().filter(|(k, _)| k == one).map(|(_, v)| v).collect();
        let a = of_key[picks.0 % of_key.len()];
        let b = of_key[picks.1 % of_key.len()];
        let c = of_key[picks.2 % of_key.len()];
        prop_assert_eq!(merged(a, b), merged(b, a));
        prop_assert_eq!(merged(&merged(a, b), c), merged(a, &merged(b, c)));
        prop_assert_eq!(&merged(a, a), a);
        prop_assert_eq!(merged(&merged(a, b), b), merged(a, b));
    }
}
