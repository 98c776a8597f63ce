//! [`Instant`]: a point on the driver's monotonic clock. Nothing in this
//! crate reads a clock: every input of a sans-IO state machine carries an
//! `Instant` (tandemd maps its monotonic clock onto it; the simulator its
//! virtual one).

use core::fmt;
use core::ops::{Add, Sub};
use core::time::Duration;

/// A point on the driver's monotonic clock, as the time since an origin the
/// driver chose (its start, say).
///
/// Arithmetic saturates: adding past the end of [`Duration`] gives the
/// largest instant, and `later - earlier` with the two swapped gives zero,
/// so no input can make it panic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(Duration);

impl Instant {
    /// The origin.
    pub const ZERO: Instant = Instant(Duration::ZERO);

    /// The instant `since` after the origin.
    pub const fn from_duration(since: Duration) -> Instant {
        Instant(since)
    }

    /// The instant `ms` milliseconds after the origin.
    pub const fn from_millis(ms: u64) -> Instant {
        Instant(Duration::from_millis(ms))
    }

    /// Time since the origin.
    pub const fn since_origin(self) -> Duration {
        self.0
    }

    /// `self - earlier`, or zero if `earlier` is later.
    pub fn saturating_since(self, earlier: Instant) -> Duration {
        self.0.saturating_sub(earlier.0)
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        Instant(self.0.saturating_add(d))
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    fn sub(self, earlier: Instant) -> Duration {
        self.saturating_since(earlier)
    }
}

/// Seconds since the origin with three decimals: `12.345s`.
impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.3}s", self.0.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::ToString;

    #[test]
    fn constructors_agree() {
        assert_eq!(Instant::ZERO, Instant::default());
        assert_eq!(Instant::ZERO.since_origin(), Duration::ZERO);
        assert_eq!(
            Instant::from_millis(1_500),
            Instant::from_duration(Duration::from_millis(1_500))
        );
        assert_eq!(
            Instant::from_millis(1_500).since_origin(),
            Duration::from_millis(1_500)
        );
    }

    #[test]
    fn ordered_by_time_since_origin() {
        assert!(Instant::from_millis(1) < Instant::from_millis(2));
        assert!(Instant::ZERO < Instant::from_duration(Duration::from_nanos(1)));
    }

    #[test]
    fn add_moves_forward_and_saturates() {
        let t = Instant::from_millis(1_000) + Duration::from_millis(250);
        assert_eq!(t, Instant::from_millis(1_250));
        let end = Instant::from_duration(Duration::MAX);
        assert_eq!(end + Duration::from_secs(1), end);
        assert_eq!(Instant::from_millis(1) + Duration::MAX, end);
    }

    #[test]
    fn sub_is_elapsed_time_or_zero() {
        let a = Instant::from_millis(1_000);
        let b = Instant::from_millis(3_500);
        assert_eq!(b - a, Duration::from_millis(2_500));
        assert_eq!(b.saturating_since(a), Duration::from_millis(2_500));
        assert_eq!(a - b, Duration::ZERO);
        assert_eq!(a.saturating_since(b), Duration::ZERO);
        assert_eq!(a - a, Duration::ZERO);
    }

    #[test]
    fn displays_seconds_with_milliseconds() {
        assert_eq!(Instant::ZERO.to_string(), "0.000s");
        assert_eq!(Instant::from_millis(12_345).to_string(), "12.345s");
        assert_eq!(Instant::from_millis(7).to_string(), "0.007s");
    }
}
