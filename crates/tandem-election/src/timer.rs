//! Timers as data: each [`Timer`] indexes one deadline, and
//! [`Timers::earliest`] is what `poll_timeout` returns.

use crate::Instant;

/// The timers of one virtual router.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    /// Adver_Timer (RFC 9568 section 6.2): the Active router's next advert.
    Adver,
    /// Active_Down_Timer (RFC 9568 section 6.2; Master_Down_Timer in RFC
    /// 3768): a Backup router's takeover deadline.
    ActiveDown,
    /// The next repeat of the gratuitous ARP / unsolicited NA burst.
    Announce,
    /// When "no advert from any peer for N intervals" is reached.
    Silence,
    /// When the restart guard's window has passed.
    Pacified,
}

const N: usize = 5;

impl Timer {
    const ALL: [Timer; N] = [
        Timer::Adver,
        Timer::ActiveDown,
        Timer::Announce,
        Timer::Silence,
        Timer::Pacified,
    ];

    fn index(self) -> usize {
        self as usize
    }
}

/// Deadlines, one per [`Timer`].
#[derive(Debug, Clone, Default)]
pub(crate) struct Timers {
    at: [Option<Instant>; N],
}

impl Timers {
    pub(crate) fn set(&mut self, t: Timer, at: Instant) {
        self.at[t.index()] = Some(at);
    }
    pub(crate) fn cancel(&mut self, t: Timer) {
        self.at[t.index()] = None;
    }
    /// Timers due at `now`, in a fixed order, cleared as they are returned.
    pub(crate) fn take_due(&mut self, now: Instant) -> impl Iterator<Item = Timer> + use<> {
        let mut due = [None; N];
        for (i, t) in Timer::ALL.iter().enumerate() {
            if self.at[i].is_some_and(|at| at <= now) {
                self.at[i] = None;
                due[i] = Some(*t);
            }
        }
        due.into_iter().flatten()
    }
    pub(crate) fn earliest(&self) -> Option<Instant> {
        self.at.iter().flatten().min().copied()
    }
    pub(crate) fn clear(&mut self) {
        self.at = [None; N];
    }
}
