//! Timers as data: a [`TimerTable`] holds one optional deadline per key of
//! the caller's timer enum, [`TimerTable::poll_timeout`] is the earliest,
//! and [`TimerTable::expired`] hands back the timers due at `now`.

use core::fmt;
use core::iter::FusedIterator;
use core::marker::PhantomData;

use crate::Instant;

/// A timer enum that indexes a [`TimerTable`].
///
/// The contract, for a table of `N` timers: [`TimerKey::ALL`] lists every
/// key exactly once, `ALL.len() == N` (checked when the table is built: a
/// mismatch fails to compile), and `k.index()` is `k`'s position in `ALL`.
/// For a fieldless enum listed in declaration order, `self as usize` is
/// that position.
///
/// A table whose `N` is not the number of keys does not build:
///
/// ```compile_fail
/// use tandem_time::{TimerKey, TimerTable};
/// #[derive(Clone, Copy)]
/// enum Timer { Only }
/// impl TimerKey for Timer {
///     const ALL: &'static [Timer] = &[Timer::Only];
///     fn index(self) -> usize { self as usize }
/// }
/// let _table: TimerTable<Timer, 2> = TimerTable::new();
/// ```
pub trait TimerKey: Copy + 'static {
    /// Every key, once each, in the order [`TimerTable::expired`] reports
    /// timers that fall due together.
    const ALL: &'static [Self];
    /// This key's position in [`TimerKey::ALL`].
    fn index(self) -> usize;
}

/// One optional deadline per key of `K`, a timer enum with `N` keys.
///
/// Setting a timer that is already set moves its deadline; cancelling one
/// that is not set does nothing. No allocation; `N` deadlines inline.
///
/// # Panics
///
/// Only if `K` breaks the [`TimerKey`] contract (an `index` of `N` or more).
pub struct TimerTable<K: TimerKey, const N: usize> {
    at: [Option<Instant>; N],
    key: PhantomData<K>,
}

impl<K: TimerKey, const N: usize> TimerTable<K, N> {
    /// A table with no timer set.
    pub const fn new() -> Self {
        const {
            assert!(
                K::ALL.len() == N,
                "TimerTable<K, N>: N must be the number of keys in K::ALL"
            )
        };
        TimerTable {
            at: [None; N],
            key: PhantomData,
        }
    }

    /// Set (or move) `key`'s deadline to `at`.
    pub fn set(&mut self, key: K, at: Instant) {
        self.at[key.index()] = Some(at);
    }

    /// Clear `key`'s deadline; harmless if it was not set.
    pub fn cancel(&mut self, key: K) {
        self.at[key.index()] = None;
    }

    /// `key`'s deadline, if set.
    pub fn get(&self, key: K) -> Option<Instant> {
        self.at[key.index()]
    }

    /// Whether `key` has a deadline.
    pub fn is_set(&self, key: K) -> bool {
        self.get(key).is_some()
    }

    /// The earliest deadline of any timer, or `None` when none is set.
    pub fn earliest(&self) -> Option<Instant> {
        self.at.iter().flatten().min().copied()
    }

    /// When the state machine must be called back: the earliest deadline.
    /// The same as [`TimerTable::earliest`], named for what a sans-IO state
    /// machine's `poll_timeout` returns.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.earliest()
    }

    /// The timers due at `now` (deadline at or before `now`), in
    /// [`TimerKey::ALL`] order. They are cleared when this is called, before
    /// the iterator yields any of them, and the iterator does not borrow the
    /// table: a handler may set timers again while the caller iterates (a
    /// timer set again that is already due waits for the next call).
    pub fn expired(&mut self, now: Instant) -> Expired<K, N> {
        let mut due = [None; N];
        for (slot, (at, key)) in due.iter_mut().zip(self.at.iter_mut().zip(K::ALL)) {
            if at.is_some_and(|at| at <= now) {
                *at = None;
                *slot = Some(*key);
            }
        }
        Expired { due, next: 0 }
    }

    /// Clear every timer.
    pub fn clear(&mut self) {
        self.at = [None; N];
    }

    /// The timers that are set, with their deadlines, in [`TimerKey::ALL`]
    /// order.
    pub fn iter(&self) -> impl Iterator<Item = (K, Instant)> + '_ {
        K::ALL
            .iter()
            .zip(self.at.iter())
            .filter_map(|(k, at)| at.map(|at| (*k, at)))
    }
}

impl<K: TimerKey, const N: usize> Default for TimerTable<K, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: TimerKey, const N: usize> Clone for TimerTable<K, N> {
    fn clone(&self) -> Self {
        TimerTable {
            at: self.at,
            key: PhantomData,
        }
    }
}

impl<K: TimerKey, const N: usize> PartialEq for TimerTable<K, N> {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at
    }
}

impl<K: TimerKey, const N: usize> Eq for TimerTable<K, N> {}

/// The timers that are set, as a map from key to deadline.
impl<K: TimerKey + fmt::Debug, const N: usize> fmt::Debug for TimerTable<K, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// The timers that were due, from [`TimerTable::expired`].
#[derive(Debug, Clone)]
pub struct Expired<K: TimerKey, const N: usize> {
    due: [Option<K>; N],
    next: usize,
}

impl<K: TimerKey, const N: usize> Iterator for Expired<K, N> {
    type Item = K;
    fn next(&mut self) -> Option<K> {
        while let Some(slot) = self.due.get(self.next) {
            self.next += 1;
            if let Some(key) = slot {
                return Some(*key);
            }
        }
        None
    }
}

impl<K: TimerKey, const N: usize> FusedIterator for Expired<K, N> {}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use core::time::Duration;
    use std::vec::Vec;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum T {
        A,
        B,
        C,
    }

    impl TimerKey for T {
        const ALL: &'static [T] = &[T::A, T::B, T::C];
        fn index(self) -> usize {
            self as usize
        }
    }

    type Table = TimerTable<T, 3>;

    fn ms(v: u64) -> Instant {
        Instant::from_millis(v)
    }

    #[test]
    fn empty_table_has_no_deadline() {
        let mut t = Table::new();
        assert_eq!(t.earliest(), None);
        assert_eq!(t.poll_timeout(), None);
        assert_eq!(t.get(T::A), None);
        assert!(!t.is_set(T::B));
        assert_eq!(t.expired(ms(u64::MAX)).count(), 0);
        assert_eq!(t, Table::default());
    }

    #[test]
    fn set_get_cancel_per_key() {
        let mut t = Table::new();
        t.set(T::B, ms(20));
        assert_eq!(t.get(T::B), Some(ms(20)));
        assert_eq!(t.get(T::A), None);
        assert_eq!(t.get(T::C), None);
        t.set(T::B, ms(5));
        assert_eq!(t.get(T::B), Some(ms(5)), "set again moves the deadline");
        t.cancel(T::B);
        assert_eq!(t.get(T::B), None);
        t.cancel(T::B);
        assert_eq!(t.get(T::B), None, "cancelling an unset timer is harmless");
    }

    #[test]
    fn earliest_is_the_minimum_over_set_timers() {
        let mut t = Table::new();
        t.set(T::A, ms(300));
        t.set(T::C, ms(100));
        t.set(T::B, ms(200));
        assert_eq!(t.earliest(), Some(ms(100)));
        assert_eq!(t.poll_timeout(), Some(ms(100)));
        t.cancel(T::C);
        assert_eq!(t.earliest(), Some(ms(200)));
        t.clear();
        assert_eq!(t.earliest(), None);
    }

    #[test]
    fn expired_yields_due_timers_in_key_order_and_clears_them() {
        let mut t = Table::new();
        t.set(T::C, ms(10));
        t.set(T::A, ms(30));
        t.set(T::B, ms(31));
        // Due at 30: C (10) and A (30, at the deadline exactly), not B.
        let due: Vec<T> = t.expired(ms(30)).collect();
        assert_eq!(due, [T::A, T::C], "in ALL order, not deadline order");
        assert_eq!(t.get(T::A), None);
        assert_eq!(t.get(T::C), None);
        assert_eq!(t.get(T::B), Some(ms(31)));
        // Repeated call at the same time: nothing more.
        assert_eq!(t.expired(ms(30)).count(), 0);
        assert_eq!(t.expired(ms(31)).collect::<Vec<_>>(), [T::B]);
    }

    #[test]
    fn timers_set_while_iterating_wait_for_the_next_call() {
        let mut t = Table::new();
        t.set(T::A, ms(10));
        t.set(T::B, ms(10));
        let mut fired = Vec::new();
        for k in t.expired(ms(10)) {
            fired.push(k);
            // A handler re-arms its own timer, already due.
            t.set(k, ms(10));
        }
        assert_eq!(fired, [T::A, T::B]);
        assert_eq!(t.get(T::A), Some(ms(10)));
        assert_eq!(t.expired(ms(10)).collect::<Vec<_>>(), [T::A, T::B]);
    }

    #[test]
    fn iter_and_debug_list_set_timers_only() {
        let mut t = Table::new();
        t.set(T::C, ms(3));
        t.set(T::A, ms(1));
        assert_eq!(t.iter().collect::<Vec<_>>(), [(T::A, ms(1)), (T::C, ms(3))]);
        assert_eq!(
            std::format!("{t:?}"),
            std::format!("{{A: {:?}, C: {:?}}}", ms(1), ms(3))
        );
    }

    #[test]
    fn far_deadlines_compare_without_overflow() {
        let mut t = Table::new();
        let end = Instant::from_duration(Duration::MAX);
        t.set(T::A, end);
        t.set(T::B, ms(0) + Duration::MAX);
        assert_eq!(t.earliest(), Some(end));
        assert_eq!(t.expired(ms(u64::MAX)).count(), 0);
        assert_eq!(t.expired(end).count(), 2);
    }
}
