//! Timers as data: each [`Timer`] keys one deadline of a [`Timers`] table
//! (tandem-time's [`TimerTable`]), whose earliest deadline is what
//! `poll_timeout` returns.

use tandem_time::{TimerKey, TimerTable};

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

impl TimerKey for Timer {
    /// Due together, timers fire in this order.
    const ALL: &'static [Timer] = &[
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
pub(crate) type Timers = TimerTable<Timer, 5>;
