//! # tandem-time
//!
//! Time as data for Tandem's sans-IO crates (tandem-election, config sync,
//! replication): an [`Instant`] on the driver's monotonic clock, and a
//! [`TimerTable`] of deadlines keyed by the caller's own timer enum.
//!
//! Nothing here reads a clock. The driver (tandemd, the simulator, an
//! appliance embedding the crates) owns the one clock and passes `now` into
//! every call; a state machine sets deadlines in its table and reports
//! [`TimerTable::poll_timeout`] as the time to be called back.
//!
//! `no_std`, no dependencies, no allocation.
//!
//! ```
//! use core::time::Duration;
//! use tandem_time::{Instant, TimerKey, TimerTable};
//!
//! // A protocol's timers: one deadline each.
//! #[derive(Debug, Clone, Copy, PartialEq, Eq)]
//! enum Timer {
//!     Retransmit,
//!     Keepalive,
//! }
//!
//! impl TimerKey for Timer {
//!     const ALL: &'static [Timer] = &[Timer::Retransmit, Timer::Keepalive];
//!     fn index(self) -> usize {
//!         self as usize
//!     }
//! }
//!
//! let start = Instant::from_millis(1_000);
//! let mut timers: TimerTable<Timer, 2> = TimerTable::new();
//! timers.set(Timer::Keepalive, start + Duration::from_secs(10));
//! timers.set(Timer::Retransmit, start + Duration::from_millis(200));
//!
//! // The driver sleeps until the earliest deadline...
//! assert_eq!(timers.poll_timeout(), Some(Instant::from_millis(1_200)));
//!
//! // ...then hands the state machine the timers that are due, each once.
//! let now = Instant::from_millis(1_250);
//! let due: Vec<Timer> = timers.expired(now).collect();
//! assert_eq!(due, [Timer::Retransmit]);
//! assert_eq!(timers.get(Timer::Retransmit), None);
//! assert_eq!(timers.poll_timeout(), Some(Instant::from_millis(11_000)));
//! ```
#![no_std]
#![forbid(unsafe_code)]

mod instant;
mod timer;

pub use instant::Instant;
pub use timer::{Expired, TimerKey, TimerTable};
