//! What an accepted advert does: the Backup and Active reactions of each
//! protocol, and split-brain reports.

use std::net::IpAddr;
use std::time::Duration;

use tandem_wire::{carp, Priority};

use super::VirtualRouter;
use crate::action::{Diagnostic, Reason, State};
use crate::config::{carp_interval, Protocol};
use crate::timer::Timer;
use crate::Instant;

impl VirtualRouter {
    pub(super) fn heard_peer(&mut self, now: Instant, src: IpAddr) {
        self.last_accepted = Some((src, now));
        if self.silence_reported {
            self.silence_reported = false;
            self.diag(Diagnostic::PeerHeard { src });
        }
        self.arm_silence(now);
    }

    pub(super) fn on_vrrp_advert(
        &mut self,
        now: Instant,
        src: IpAddr,
        priority: Priority,
        interval: Duration,
    ) {
        let local = self.effective_priority();
        match self.state {
            State::Backup => {
                if priority == Priority::RESIGN {
                    // RFC 9568 6.4.2: Active_Down_Timer = Skew_Time.
                    // Only the Active router's (or, before one is known, any) resignation.
                    let from_active = self.active_router.is_none_or(|a| a == src);
                    if self.passive_reason().is_none() && from_active {
                        self.resigned_pending = true;
                        self.timers.set(Timer::ActiveDown, now + self.skew_time());
                    }
                    return;
                }
                let preempt = self.preempt_now(now);
                if !preempt || priority >= local {
                    // Adopt the Active router's interval (v3; v2 intervals match).
                    self.active_interval = interval;
                    self.active_router = Some(src);
                    self.resigned_pending = false;
                    self.preempting = None;
                    self.arm_active_down(now);
                } else {
                    // Discard: the down timer runs out and we preempt.
                    self.preempting = Some(src);
                }
            }
            State::Active => {
                if priority == Priority::RESIGN {
                    // RFC 9568 6.4.3: send an advert at once.
                    self.send_advert();
                    self.timers
                        .set(Timer::Adver, now + self.config.protocol.interval());
                    return;
                }
                let they_win =
                    priority > local || (priority == local && src > self.config.primary_address);
                if they_win
                    && self.preempted == Some(src)
                    && now.saturating_since(self.active_since) < self.active_down_interval()
                {
                    // The router we just preempted says goodbye with its
                    // own priority, sent before it heard that ours fell (a
                    // tracked object failed meanwhile). It is Backup now
                    // and cannot claim the role before an
                    // Active_Down_Interval has passed; with preempt on it
                    // takes the role back at its own down timer. Yielding
                    // to it would leave nobody Active until then.
                    return;
                }
                self.diag_split_brain(now, src, priority, !they_win);
                if they_win && self.held_by_group(now) {
                    return;
                }
                if they_win {
                    // A last advert with our priority before yielding: the
                    // winner may never have heard us (a healed partition
                    // where its advert came first), and it must announce
                    // the addresses again, since hosts learnt ours.
                    self.send_advert();
                    self.active_interval = interval;
                    self.active_router = Some(src);
                    self.leave_active(now, Reason::Preempted { by: src });
                } else {
                    // Answer at once so that the other Active router yields
                    // within one advert instead of at its next timer.
                    self.send_advert();
                    self.timers
                        .set(Timer::Adver, now + self.config.protocol.interval());
                }
            }
            State::Initialize | State::Fault => {}
        }
    }

    pub(super) fn on_carp_advert(&mut self, now: Instant, src: IpAddr, c: carp::Repr) {
        let Protocol::Carp {
            advbase, advskew, ..
        } = self.config.protocol
        else {
            return;
        };
        let ours = carp_interval(advbase, advskew);
        let theirs = carp_interval(c.advbase, c.advskew);
        let our_demote = self.demotion();
        match self.state {
            State::Active => {
                // carp(4): yield to a router that advertises more often
                // (or as often) with no higher demotion, or to one less
                // demoted. Exact ties go to the higher address (OpenBSD
                // would have both yield).
                let tie = ours == theirs && c.demotion == our_demote;
                let they_win = if tie {
                    src > self.config.primary_address
                } else {
                    (ours >= theirs && c.demotion <= our_demote) || c.demotion < our_demote
                };
                let other_priority = Priority(255 - c.advskew);
                self.diag_split_brain(now, src, other_priority, !they_win);
                if they_win && self.held_by_group(now) {
                    return;
                }
                if they_win {
                    // As for VRRP: tell the winner we were Active too.
                    self.send_advert();
                    self.active_router = Some(src);
                    self.active_interval = theirs;
                    self.leave_active(now, Reason::Preempted { by: src });
                } else {
                    self.send_advert();
                    self.timers.set(Timer::Adver, now + ours);
                }
            }
            State::Backup => {
                let passive = self.passive_reason().is_some();
                let preempt = self.preempt_now(now);
                // carp(4): preempt a router that advertises less often;
                // take over from a more demoted one, preempt or not; and
                // from one that advertises so rarely it is bound to time
                // out (this includes the advert of a router going down).
                let take_over = !passive
                    && ((preempt && ours < theirs && c.demotion >= our_demote)
                        || c.demotion > our_demote
                        || (advbase > 0 && Duration::from_secs(3 * u64::from(advbase)) < theirs));
                if take_over {
                    let reason = if c.advbase == 255 && c.advskew == 255 {
                        Reason::ActiveResigned
                    } else {
                        Reason::Preempting { active: src }
                    };
                    self.become_active(now, reason);
                } else {
                    self.active_router = Some(src);
                    self.active_interval = theirs;
                    self.arm_active_down(now);
                }
            }
            State::Initialize | State::Fault => {}
        }
    }

    fn diag_split_brain(
        &mut self,
        now: Instant,
        other: IpAddr,
        other_priority: Priority,
        we_win: bool,
    ) {
        // A router we just preempted says goodbye with its last advert: that
        // is the end of a preemption, not a split brain.
        if we_win && now.saturating_since(self.active_since) < self.active_down_interval() {
            return;
        }
        let new_episode = self.split_brain.map(|(a, _)| a) != Some(other);
        if we_win {
            self.split_brain = Some((other, now));
        }
        if new_episode {
            self.diag(Diagnostic::SplitBrain {
                other,
                other_priority,
                we_win,
            });
        }
    }
}
