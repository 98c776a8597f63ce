//! Bidirectional mode (cloud pairs): either unit may edit, and concurrent
//! edits converge by one deterministic rule.
//!
//! Every object carries a [`Version`]: a version vector (one counter per
//! unit id) and a hybrid logical clock stamp of its last edit with the
//! editing unit's id. An edit bumps the editor's own counter. When two
//! versions of an object meet, the one whose vector dominates wins; if
//! neither dominates the edits were concurrent: the higher (HLC, unit id)
//! wins, the vectors are merged (element-wise maximum) and a
//! [`Conflict`] names the object and the losing value. A removed object is
//! a tombstone under the same rule. The merge is commutative, associative
//! and idempotent (the property tests check it).
//!
//! That holds because a unit's clock observes the stamp of every version
//! it merges in ([`Clock::observe`]) before it stamps its next edit: an
//! edit made after seeing another has the higher stamp, so the version a
//! merge keeps is always the one with the highest (stamp, unit) in the
//! object's whole history, and the vectors only record which edits that
//! history holds.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use crate::doc::{Object, ObjectKey};
use crate::value::encode_str;

#[cfg(test)]
mod tests;

/// A hybrid logical clock stamp: milliseconds of wall time in the high 48
/// bits, a counter in the low 16.
pub type Hlc = u64;

/// A hybrid logical clock.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Clock {
    last: Hlc,
}

impl Clock {
    /// A stamp for a local event at wall time `wall_ms`: greater than
    /// every stamp this clock has issued or seen.
    ///
    /// The stamp is `wall_ms << 16` when the wall clock is ahead of every
    /// stamp so far, else the last stamp plus one (the counter in the low
    /// 16 bits absorbs a wall clock that stands still or goes back). Wall
    /// times past 2^48 ms count as 2^48 - 1.
    pub fn tick(&mut self, wall_ms: u64) -> Hlc {
        let wall = wall_ms.min(MAX_WALL_MS) << 16;
        self.last = wall.max(self.last.saturating_add(1));
        self.last
    }

    /// Takes in a stamp seen from the partner: later ticks are above it.
    pub fn observe(&mut self, seen: Hlc) {
        self.last = self.last.max(seen);
    }

    /// The last stamp issued or seen.
    pub fn last(&self) -> Hlc {
        self.last
    }
}

/// The largest wall time a stamp holds, in milliseconds.
const MAX_WALL_MS: u64 = (1 << 48) - 1;

/// Records a local edit in `version`: `unit`'s counter goes up by one and
/// the stamp and editor become `stamp` and `unit`. `stamp` comes from
/// [`Clock::tick`] of a clock that has observed every version merged in.
pub fn bump(version: &mut Version, unit: &str, stamp: Hlc) {
    let counter = version.vector.entry(unit.to_owned()).or_insert(0);
    *counter = counter.saturating_add(1);
    version.stamp = stamp;
    version.unit = unit.to_owned();
}

/// How two version vectors compare (a missing counter is 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Causality {
    /// The same counters.
    Equal,
    /// The first has seen every edit of the second and more.
    Dominates,
    /// The second has seen every edit of the first and more.
    Dominated,
    /// Each has an edit the other has not seen.
    Concurrent,
}

/// Compares two version vectors.
pub fn compare(a: &BTreeMap<String, u64>, b: &BTreeMap<String, u64>) -> Causality {
    let mut greater = false;
    let mut less = false;
    for (unit, &x) in a {
        let y = b.get(unit).copied().unwrap_or(0);
        greater |= x > y;
        less |= x < y;
    }
    for (unit, &y) in b {
        if !a.contains_key(unit) && y > 0 {
            less = true;
        }
    }
    match (greater, less) {
        (false, false) => Causality::Equal,
        (true, false) => Causality::Dominates,
        (false, true) => Causality::Dominated,
        (true, true) => Causality::Concurrent,
    }
}

/// The element-wise maximum of two version vectors.
fn join(a: &BTreeMap<String, u64>, b: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    let mut out = a.clone();
    for (unit, &y) in b {
        let x = out.entry(unit.clone()).or_insert(0);
        *x = (*x).max(y);
    }
    out
}

/// The canonical bytes of a value for the last tie-break (a tombstone
/// is empty, so it ranks lowest).
fn tie_bytes(object: &Option<Object>) -> Vec<u8> {
    let mut out = Vec::new();
    if let Some(object) = object {
        out.push(1);
        for (name, value) in object {
            encode_str(name, &mut out);
            value.encode(&mut out);
        }
    }
    out
}

/// Orders two versions of an object for the conflict rule: (stamp, unit),
/// then (only if both are equal, which one unit's clock never allows) the
/// canonical bytes of the value, so the rule is total.
fn rank(a: &Versioned, b: &Versioned) -> Ordering {
    a.version
        .stamp
        .cmp(&b.version.stamp)
        .then_with(|| a.version.unit.cmp(&b.version.unit))
        .then_with(|| tie_bytes(&a.object).cmp(&tie_bytes(&b.object)))
}

/// The version of one object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Version {
    /// Edits seen, per unit id.
    pub vector: BTreeMap<String, u64>,
    /// Stamp of the last edit.
    pub stamp: Hlc,
    /// Unit that made the last edit.
    pub unit: String,
}

/// One side of a merge: an object's version and its value (`None`: removed).
#[derive(Debug, Clone, PartialEq)]
pub struct Versioned {
    /// The version.
    pub version: Version,
    /// The object, or `None` for a tombstone.
    pub object: Option<Object>,
}

/// Concurrent edits of one object, and which one lost.
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    /// The object.
    pub key: ObjectKey,
    /// The winning edit's unit.
    pub winner: String,
    /// The losing edit's unit.
    pub loser: String,
    /// The losing value (`None`: it was a removal).
    pub lost: Option<Object>,
}

/// The outcome of merging a remote version into a local one.
// A merge outcome lives for one object's merge; boxing the concurrent
// case would cost an allocation for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Merged {
    /// The local version stands (it dominates or equals).
    Local,
    /// The remote one replaces it.
    Remote,
    /// Concurrent: the result (with merged vector) and the conflict.
    Concurrent {
        /// What both units end with.
        result: Versioned,
        /// The conflict to report.
        conflict: Conflict,
    },
}

/// Merges `remote` into `local` for the object `key`.
///
/// - `local`'s vector dominates, or both are equal as a whole: [`Merged::Local`];
/// - `remote`'s vector dominates: [`Merged::Remote`];
/// - neither dominates: the higher (stamp, unit) wins; the result has the
///   winner's value, stamp and unit and the element-wise maximum of the
///   vectors, and the [`Conflict`] names the loser and its value (which
///   equals the winner's when both units made the same edit);
/// - equal vectors with different versions (two histories told apart only
///   by a damaged or hand-made version): the same rule picks the winner,
///   and a conflict is reported if the values differ.
pub fn merge(key: &ObjectKey, local: &Versioned, remote: &Versioned) -> Merged {
    let causality = compare(&local.version.vector, &remote.version.vector);
    match causality {
        Causality::Dominates => return Merged::Local,
        Causality::Dominated => return Merged::Remote,
        Causality::Equal if local == remote => return Merged::Local,
        Causality::Equal | Causality::Concurrent => {}
    }
    let (winner, loser, remote_wins) = match rank(local, remote) {
        Ordering::Less => (remote, local, true),
        Ordering::Greater | Ordering::Equal => (local, remote, false),
    };
    if causality == Causality::Equal && winner.object == loser.object {
        return if remote_wins {
            Merged::Remote
        } else {
            Merged::Local
        };
    }
    Merged::Concurrent {
        result: Versioned {
            version: Version {
                vector: join(&local.version.vector, &remote.version.vector),
                stamp: winner.version.stamp,
                unit: winner.version.unit.clone(),
            },
            object: winner.object.clone(),
        },
        conflict: Conflict {
            key: key.clone(),
            winner: winner.version.unit.clone(),
            loser: loser.version.unit.clone(),
            lost: loser.object.clone(),
        },
    }
}

/// Merges `remote` into `local` in place (see [`merge`]); returns the
/// conflict, if the edits were concurrent.
pub fn merge_into(key: &ObjectKey, local: &mut Versioned, remote: &Versioned) -> Option<Conflict> {
    match merge(key, local, remote) {
        Merged::Local => None,
        Merged::Remote => {
            *local = remote.clone();
            None
        }
        Merged::Concurrent { result, conflict } => {
            *local = result;
            Some(conflict)
        }
    }
}
