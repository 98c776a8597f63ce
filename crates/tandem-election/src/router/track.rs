//! Timers, tracked objects, Fault, passive states, sync group forcing and
//! the priority and interval arithmetic.

use std::time::Duration;

use tandem_wire::Priority;

use super::VirtualRouter;
use crate::action::{Action, Diagnostic, Reason, State};
use crate::config::{carp_interval, Protocol, TrackEffect};
use crate::timer::Timer;
use crate::Instant;

impl VirtualRouter {
    // ----- timers and helpers ---------------------------------------------

    /// Silence is a Backup's observation: a Backup hears the Active router,
    /// while an Active router hears nobody in a healthy pair (Backups send
    /// nothing), so silence there would be a false alarm.
    pub(super) fn on_silence(&mut self) {
        if self.state == State::Backup
            && !self.silence_reported
            && self.config.silence_intervals > 0
        {
            self.silence_reported = true;
            self.diag(Diagnostic::Silence {
                intervals: self.config.silence_intervals,
            });
        }
    }

    pub(super) fn arm_silence(&mut self, now: Instant) {
        if self.config.silence_intervals > 0 {
            let after = self.config.protocol.interval() * self.config.silence_intervals;
            self.timers.set(Timer::Silence, now + after);
        }
    }

    pub(super) fn arm_active_down(&mut self, now: Instant) {
        if self.passive_reason().is_none() {
            self.timers
                .set(Timer::ActiveDown, now + self.active_down_interval());
        } else {
            self.timers.cancel(Timer::ActiveDown);
        }
    }

    pub(super) fn clear_pacified(&mut self, now: Instant) {
        self.timers.cancel(Timer::Pacified);
        if self.pacified.take().is_some() && self.state == State::Backup {
            self.arm_active_down(now);
        }
    }

    pub(super) fn reconsider_fault(&mut self, now: Instant, reason: Reason) {
        match (self.state, self.fault()) {
            (State::Active, true) => {
                self.send_resign();
                self.timers.cancel(Timer::Adver);
                self.timers.cancel(Timer::Announce);
                self.actions
                    .push_back(Action::RemoveAddresses(self.config.addresses.clone()));
                self.set_state(State::Fault, reason);
            }
            (State::Backup, true) => {
                self.timers.cancel(Timer::ActiveDown);
                self.set_state(State::Fault, reason);
            }
            (State::Fault, false) => {
                self.set_state(State::Backup, Reason::TrackUp);
                self.arm_active_down(now);
            }
            _ => {}
        }
    }

    pub(super) fn preempt_now(&self, now: Instant) -> bool {
        (self.config.preempt || self.is_owner())
            && !self.yielded
            && !self.preemption_held
            && now.saturating_since(self.started_at) >= self.config.preempt_delay
    }

    pub(super) fn is_owner(&self) -> bool {
        !matches!(self.config.protocol, Protocol::Carp { .. })
            && self.effective_priority() == Priority::OWNER
    }

    pub(super) fn fault(&self) -> bool {
        self.group_fault || self.fault_track().is_some()
    }

    /// True when a tracked object of this router (not the group) forces Fault.
    pub(crate) fn own_fault(&self) -> bool {
        self.fault_track().is_some()
    }

    // ----- sync group forcing ----------------------------------------------

    /// Sync group: become Active with the member that did.
    pub(crate) fn force_active(&mut self, now: Instant, reason: Reason) {
        let now = self.advance(now);
        if self.state == State::Backup && self.passive_reason().is_none() {
            self.become_active(now, reason);
            self.group_hold = Some(now + self.active_down_interval());
        }
    }

    /// Sync group: a member brought to Active by another one does not yield
    /// to a better peer for one Active_Down_Interval. The peer's group is
    /// about to yield to the member that won: if this one yielded too, both
    /// groups would resign at once and the one with the shorter skew would
    /// take everything back (adverts of different VRIDs can arrive in either
    /// order, over different interfaces). It sends nothing in reply, so two
    /// Active routers do not answer each other's adverts in a loop.
    pub(super) fn held_by_group(&self, now: Instant) -> bool {
        self.group_hold.is_some_and(|until| now < until)
    }

    /// Sync group: leave Active with the member that did, and do not
    /// preempt until the group is Active again.
    pub(crate) fn force_backup(&mut self, now: Instant, reason: Reason) {
        let now = self.advance(now);
        self.yielded = true;
        if self.state == State::Active {
            self.resign(now, reason);
        }
    }

    /// Sync group: Fault with the member that is in Fault, or out of it.
    pub(crate) fn set_group_fault(&mut self, now: Instant, on: bool, reason: Reason) {
        let now = self.advance(now);
        if self.group_fault != on {
            self.group_fault = on;
            self.reconsider_fault(now, reason);
        }
    }

    pub(super) fn fault_track(&self) -> Option<String> {
        self.config
            .tracks
            .iter()
            .find(|t| t.effect == TrackEffect::Fault && self.tracks_down.contains(&t.name))
            .map(|t| t.name.clone())
    }

    pub(super) fn track_weight(&self) -> u8 {
        let sum: u32 = self
            .config
            .tracks
            .iter()
            .filter(|t| self.tracks_down.contains(&t.name))
            .map(|t| match t.effect {
                TrackEffect::Weight(w) => {
                    u32::from(self.track_weights.get(&t.name).copied().unwrap_or(w))
                }
                TrackEffect::Fault => 0,
            })
            .sum();
        sum.min(255) as u8
    }

    pub(super) fn demotion(&self) -> u8 {
        self.config.demotion.saturating_add(self.track_weight())
    }

    pub(super) fn passive_reason(&self) -> Option<Reason> {
        if self.maintenance {
            Some(Reason::Maintenance)
        } else if self.pacified.is_some() {
            Some(Reason::Pacified)
        } else {
            None
        }
    }

    /// Skew_Time: RFC 9568 6.1 `((256 - Priority) * Active_Adver_Interval) / 256`;
    /// RFC 3768 6.1 `(256 - Priority) / 256` seconds; CARP has none.
    pub fn skew_time(&self) -> Duration {
        let p = u32::from(256 - u16::from(self.effective_priority().0));
        match self.config.protocol {
            Protocol::Vrrp3 { .. } => self.active_interval * p / 256,
            Protocol::Vrrp2 { .. } => Duration::from_secs(1) * p / 256,
            Protocol::Carp { .. } => Duration::ZERO,
        }
    }

    /// Active_Down_Interval: `3 * Active_Adver_Interval + Skew_Time`
    /// (RFC 9568 6.1; RFC 3768 uses the configured interval); CARP:
    /// `3 * advbase + advskew / 256`.
    pub fn active_down_interval(&self) -> Duration {
        match self.config.protocol {
            Protocol::Vrrp3 { .. } => 3 * self.active_interval + self.skew_time(),
            Protocol::Vrrp2 { .. } => 3 * self.config.protocol.interval() + self.skew_time(),
            Protocol::Carp {
                advbase, advskew, ..
            } => Duration::from_secs(3 * u64::from(advbase)) + carp_interval(0, advskew),
        }
    }
}
