//! Deadlines of one side of the table, earliest first.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use tandem_time::Instant;

use super::state::Key;

/// Stale heap elements (or stale queue slots) tolerated beyond the live
/// entries before a rebuild.
pub(super) const SLACK: usize = 64;

/// An entry with a deadline and the generation of its heap element.
pub(super) trait Expiring {
    /// When it expires.
    fn deadline(&self) -> Instant;
    /// Its current heap element's generation.
    fn generation(&self) -> u64;
}

/// Deadlines of one side, earliest first. An entry has one current element
/// (its generation); a later deadline is found when the element pops and
/// pushed again, an earlier one gets a new generation. Stale elements are
/// dropped when they pop, or by a rebuild once they outnumber the entries.
#[derive(Default)]
pub(super) struct Expiry {
    pub(super) heap: BinaryHeap<Reverse<(Instant, u64, Key)>>,
    next_generation: u64,
}

impl Expiry {
    pub(super) fn schedule(&mut self, deadline: Instant, key: Key) -> u64 {
        let generation = self.next_generation;
        self.next_generation = self.next_generation.wrapping_add(1);
        self.heap.push(Reverse((deadline, generation, key)));
        generation
    }

    /// Removes from `map` the entries expired at `now`, examining at most
    /// `budget` heap elements (all due ones if `None`); `removed` sees each.
    pub(super) fn purge<E: Expiring>(
        &mut self,
        map: &mut HashMap<Key, E>,
        now: Instant,
        budget: Option<usize>,
        mut removed: impl FnMut(Key, E),
    ) {
        let mut work = 0usize;
        while budget.is_none_or(|b| work < b) {
            let Some(&Reverse((due, generation, key))) = self.heap.peek() else {
                break;
            };
            if due > now {
                break;
            }
            self.heap.pop();
            work += 1;
            let Some(entry) = map.get(&key) else {
                continue;
            };
            if entry.generation() != generation {
                continue;
            }
            if entry.deadline() <= now {
                if let Some(entry) = map.remove(&key) {
                    removed(key, entry);
                }
            } else {
                self.heap.push(Reverse((entry.deadline(), generation, key)));
            }
        }
        if self.heap.len() > 2 * map.len() + SLACK {
            self.heap = map
                .iter()
                .map(|(k, e)| Reverse((e.deadline(), e.generation(), *k)))
                .collect();
        }
    }
}
