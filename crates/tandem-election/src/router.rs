//! One virtual router: the state machine of RFC 9568 section 6.4 (VRRPv3),
//! RFC 3768 section 6.4 (VRRPv2) and OpenBSD carp(4) (CARP), with the
//! appliance policies around it.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::IpAddr;
use std::time::Duration;

use tandem_wire::{carp, ChecksumMode, Family, Priority};

use crate::action::{Action, Diagnostic, Reason, State};
use crate::config::{ChecksumPolicy, Config, ConfigError, Protocol};
use crate::input::{Command, Received};
use crate::timer::{Timer, Timers};
use crate::Instant;

mod check;
mod receive;
mod send;
mod track;

use check::Peer;

/// What a status display shows of one virtual router.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// Current state.
    pub state: State,
    /// The priority sent now (configured, less tracked weights).
    pub priority: Priority,
    /// The Active router's address, when known (ours when Active).
    pub active_router: Option<IpAddr>,
    /// The interval the Backup times against (Active_Adver_Interval).
    pub active_interval: Duration,
    /// Checksum form each VRRPv3 IPv4 peer uses.
    pub peer_checksum_modes: Vec<(IpAddr, ChecksumMode)>,
    /// Why the node is passive, if it is.
    pub passive: Option<Reason>,
    /// Tracked objects that are down.
    pub tracks_down: Vec<String>,
}

/// A virtual router. Feed it inputs with `handle_*`, drain `poll_action`,
/// and call `handle_timeout` at `poll_timeout`.
#[derive(Debug, Clone)]
pub struct VirtualRouter {
    config: Config,
    state: State,
    now: Instant,
    timers: Timers,
    actions: VecDeque<Action>,
    priority: Priority,
    tracks_down: BTreeSet<String>,
    /// Weights set by `Command::TrackWeight`, over the configured ones.
    track_weights: BTreeMap<String, u8>,
    /// Active_Adver_Interval (RFC 9568 section 6.2).
    active_interval: Duration,
    active_router: Option<IpAddr>,
    started_at: Instant,
    /// After a failover or a forced Backup: do not preempt until we are
    /// Active again.
    yielded: bool,
    maintenance: bool,
    pacified: Option<(usize, Duration)>,
    silence_reported: bool,
    split_brain: Option<(IpAddr, Instant)>,
    /// The router this one took the role from (Reason::Preempting), to
    /// tell its last advert from a claim.
    preempted: Option<IpAddr>,
    /// The last advert that passed every check (TTL, authentication,
    /// addresses, version, interval): its sender and when.
    last_accepted: Option<(IpAddr, Instant)>,
    peer_modes: Vec<(IpAddr, ChecksumMode)>,
    send_mode: ChecksumMode,
    /// VRRPv2 compatibility: the router last heard sending VRRPv3, and
    /// when (its VRRPv2 adverts are ignored while it keeps doing so).
    v3_from: Option<(IpAddr, Instant)>,
    carp_key: Option<carp::Key>,
    /// The Active router resigned: the takeover that follows says so.
    resigned_pending: bool,
    /// A lower-priority Active router whose adverts we discard to preempt it.
    preempting: Option<IpAddr>,
    /// Fault imposed by the sync group (another member is in Fault).
    group_fault: bool,
    /// `Command::HoldPreemption`: do not preempt a live Active router.
    preemption_held: bool,
    /// When this router last became Active.
    active_since: Instant,
    /// Sync group: Active because another member won its election; until
    /// this instant a better peer does not preempt it (see `force_active`).
    group_hold: Option<Instant>,
}

impl VirtualRouter {
    /// A router in Initialize. `recent_starts` are how long ago the node's
    /// previous starts were (the driver persists them); the restart guard
    /// counts them with this one.
    pub fn new(
        config: Config,
        now: Instant,
        recent_starts: &[Duration],
    ) -> Result<VirtualRouter, ConfigError> {
        config.validate()?;
        let carp_key = match &config.protocol {
            Protocol::Carp { password, .. } => {
                Some(carp::Key::new(password, config.vrid, &config.addresses))
            }
            _ => None,
        };
        let pacified = config.restart_guard.and_then(|g| {
            let starts = 1 + recent_starts.iter().filter(|ago| **ago <= g.window).count();
            (starts >= g.max_starts).then_some((starts, g.window))
        });
        let send_mode = match config.protocol {
            Protocol::Vrrp3 {
                checksum: ChecksumPolicy::Rfc9568,
                ..
            } if Family::of(config.primary_address) == Family::V4 => ChecksumMode::NoPseudoHeader,
            _ => ChecksumMode::PseudoHeader,
        };
        let mut vr = VirtualRouter {
            priority: config.priority,
            active_interval: config.protocol.interval(),
            config,
            state: State::Initialize,
            now,
            timers: Timers::default(),
            actions: VecDeque::new(),
            tracks_down: BTreeSet::new(),
            track_weights: BTreeMap::new(),
            active_router: None,
            started_at: now,
            yielded: false,
            maintenance: false,
            pacified,
            silence_reported: false,
            split_brain: None,
            last_accepted: None,
            preempted: None,
            peer_modes: Vec::new(),
            send_mode,
            v3_from: None,
            carp_key,
            resigned_pending: false,
            preempting: None,
            group_fault: false,
            preemption_held: false,
            active_since: now,
            group_hold: None,
        };
        if let (Some((starts, window)), Some(g)) = (vr.pacified, vr.config.restart_guard) {
            vr.diag(Diagnostic::Pacified { starts, window });
            if g.expire {
                // The oldest counted start is at most `window` ago.
                let oldest = recent_starts
                    .iter()
                    .filter(|a| **a <= window)
                    .max()
                    .copied()
                    .unwrap_or_default();
                vr.timers.set(Timer::Pacified, now + (window - oldest));
            }
        }
        Ok(vr)
    }

    // ----- queries -------------------------------------------------------

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }
    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }
    /// The priority this router advertises now: the configured one less
    /// the weights of tracked objects that are down, kept within 1..=254
    /// unless nothing is down (an owner keeps 255).
    pub fn effective_priority(&self) -> Priority {
        let weight = self.track_weight();
        if weight == 0 {
            return self.priority;
        }
        Priority(self.priority.0.saturating_sub(weight).clamp(1, 254))
    }
    /// The sender of the last advert this router accepted (past the TTL,
    /// authentication, address, version and interval checks) and when: a
    /// driver that shows a partner shows this one, never a sender whose
    /// adverts were refused.
    pub fn last_accepted(&self) -> Option<(IpAddr, Instant)> {
        self.last_accepted
    }
    /// The Active router's address, when known.
    pub fn active_router(&self) -> Option<IpAddr> {
        self.active_router
    }
    /// A snapshot for status displays.
    pub fn status(&self) -> Status {
        Status {
            state: self.state,
            priority: self.effective_priority(),
            active_router: self.active_router,
            active_interval: self.active_interval,
            peer_checksum_modes: self.peer_modes.clone(),
            passive: self.passive_reason(),
            tracks_down: self.tracks_down.iter().cloned().collect(),
        }
    }
    /// The next action for the driver, in order.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }
    /// When the driver must call [`VirtualRouter::handle_timeout`] next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.earliest()
    }

    // ----- inputs --------------------------------------------------------

    /// A timer may be due. Early or repeated calls are harmless.
    pub fn handle_timeout(&mut self, now: Instant) {
        let now = self.advance(now);
        for t in self.timers.expired(now) {
            match t {
                Timer::Adver => self.on_adver_timer(now),
                Timer::ActiveDown => self.on_active_down(now),
                Timer::Announce => self.announce(),
                Timer::Silence => self.on_silence(),
                Timer::Pacified => self.clear_pacified(now),
            }
        }
    }

    /// An operator or health input.
    pub fn handle_command(&mut self, now: Instant, cmd: Command) {
        let now = self.advance(now);
        match cmd {
            Command::Start => self.start(now),
            Command::Shutdown => self.shutdown(),
            Command::SetPriority(p) => {
                if p != Priority::RESIGN {
                    self.priority = p;
                }
            }
            Command::TrackDown(name) => {
                if self.config.tracks.iter().any(|t| t.name == name) {
                    // Down with the configured effect: a graded weight ends.
                    self.track_weights.remove(&name);
                    if self.tracks_down.insert(name.clone()) {
                        self.reconsider_fault(now, Reason::TrackDown(name));
                    }
                }
            }
            Command::TrackUp(name) => {
                self.track_weights.remove(&name);
                if self.tracks_down.remove(&name) {
                    self.reconsider_fault(now, Reason::TrackUp);
                }
            }
            Command::TrackWeight { name, weight: 0 } => {
                self.handle_command(now, Command::TrackUp(name));
            }
            Command::TrackWeight { name, weight } => {
                if self.config.tracks.iter().any(|t| t.name == name) {
                    self.track_weights.insert(name.clone(), weight);
                    if self.tracks_down.insert(name.clone()) {
                        self.reconsider_fault(now, Reason::TrackDown(name));
                    }
                }
            }
            Command::Failover => {
                if self.state == State::Active {
                    self.yielded = true;
                    self.resign(now, Reason::Failover);
                }
            }
            Command::Maintenance(on) => {
                self.maintenance = on;
                if on {
                    if self.state == State::Active {
                        self.resign(now, Reason::Maintenance);
                    } else {
                        self.timers.cancel(Timer::ActiveDown);
                    }
                } else if self.state == State::Backup {
                    self.arm_active_down(now);
                }
            }
            Command::ClearRestartGuard => self.clear_pacified(now),
            Command::HoldPreemption(on) => {
                self.preemption_held = on;
                if on && self.state == State::Backup && self.preempting.take().is_some() {
                    // Adverts of the lower-priority Active router were
                    // being discarded so that the down timer runs out:
                    // follow it again, and time it from now.
                    self.arm_active_down(now);
                }
            }
        }
    }

    /// An advertisement from the wire for this router's VRID.
    pub fn handle_advert(&mut self, now: Instant, rx: Received<'_>) {
        let now = self.advance(now);
        if matches!(self.state, State::Initialize) || rx.advert.vrid() != self.config.vrid {
            return;
        }
        if rx.src == self.config.primary_address {
            return; // our own advert, looped back
        }
        // RFC 9568 7.1 / RFC 3768 7.1: TTL / hop limit must be 255.
        if rx.ttl != 255 && !self.config.ttl_exempt.contains(&rx.src) {
            self.diag(Diagnostic::BadTtl {
                src: rx.src,
                ttl: rx.ttl,
            });
            return;
        }
        let Some(peer) = self.check(now, rx) else {
            return;
        };
        self.heard_peer(now, rx.src);
        if self.state == State::Fault {
            return;
        }
        match peer {
            Peer::Vrrp { priority, interval } => {
                self.on_vrrp_advert(now, rx.src, priority, interval)
            }
            Peer::Carp(c) => self.on_carp_advert(now, rx.src, c),
        }
    }

    // ----- the state machine ----------------------------------------------

    fn advance(&mut self, now: Instant) -> Instant {
        self.now = self.now.max(now);
        self.now
    }

    fn start(&mut self, now: Instant) {
        if self.state != State::Initialize {
            return;
        }
        self.started_at = now;
        self.active_interval = self.config.protocol.interval();
        // At start nobody has been heard yet: count silence from when the
        // Backup would first take over, so that a normal start (the winner
        // waits its down interval) raises nothing.
        if self.config.silence_intervals > 0 {
            let after = (self.config.protocol.interval() * self.config.silence_intervals)
                .max(self.active_down_interval().max(self.config.initial_wait));
            self.timers.set(Timer::Silence, now + after);
        }
        if self.fault() {
            let reason = match self.fault_track() {
                Some(name) => Reason::TrackDown(name),
                None => Reason::SyncGroup { member: 0 },
            };
            self.set_state(State::Fault, reason);
            return;
        }
        // RFC 9568 6.4.1: the owner becomes Active at once.
        if self.is_owner() && self.passive_reason().is_none() {
            self.become_active(now, Reason::Owner);
            return;
        }
        self.set_state(State::Backup, Reason::Startup);
        if self.passive_reason().is_none() {
            let wait = self.active_down_interval().max(self.config.initial_wait);
            self.timers.set(Timer::ActiveDown, now + wait);
        }
    }

    fn shutdown(&mut self) {
        if self.state == State::Initialize {
            return;
        }
        if self.state == State::Active {
            self.send_resign();
            self.actions
                .push_back(Action::RemoveAddresses(self.config.addresses.clone()));
        }
        self.timers.clear();
        self.active_router = None;
        self.split_brain = None;
        self.set_state(State::Initialize, Reason::Shutdown);
    }

    /// Leaves Active for Backup, telling the peers with priority 0 (CARP:
    /// the advert of a router going down) so that one takes over after
    /// its skew time rather than the whole down interval.
    fn resign(&mut self, now: Instant, reason: Reason) {
        self.send_resign();
        self.leave_active(now, reason);
    }

    fn leave_active(&mut self, now: Instant, reason: Reason) {
        self.timers.cancel(Timer::Adver);
        self.timers.cancel(Timer::Announce);
        self.split_brain = None;
        self.actions
            .push_back(Action::RemoveAddresses(self.config.addresses.clone()));
        self.set_state(State::Backup, reason);
        self.arm_active_down(now);
    }

    fn become_active(&mut self, now: Instant, reason: Reason) {
        self.active_since = now;
        self.preempted = match reason {
            Reason::Preempting { active } => Some(active),
            _ => None,
        };
        self.timers.cancel(Timer::ActiveDown);
        self.yielded = false;
        self.group_hold = None;
        self.split_brain = None;
        self.active_router = Some(self.config.primary_address);
        self.send_advert();
        self.actions.push_back(Action::AddAddresses {
            addresses: self.config.addresses.clone(),
            accept: self.config.accept_mode || self.is_owner(),
        });
        self.set_state(State::Active, reason);
        self.announce_burst();
        if let Some(after) = self.config.announce.refresh_after {
            self.timers.set(Timer::Announce, now + after);
        }
        self.timers
            .set(Timer::Adver, now + self.config.protocol.interval());
    }

    fn on_adver_timer(&mut self, now: Instant) {
        if self.state != State::Active {
            return;
        }
        self.send_advert();
        let interval = self.config.protocol.interval();
        self.timers.set(Timer::Adver, now + interval);
        // A split brain we won is over once the other router has been
        // silent for two intervals: announce again, since it may have
        // taken the addresses' neighbour entries.
        if let Some((_, last)) = self.split_brain {
            if now.saturating_since(last) >= 2 * interval {
                self.split_brain = None;
                self.diag(Diagnostic::SplitBrainResolved);
                self.announce_burst();
            }
        }
    }

    fn on_active_down(&mut self, now: Instant) {
        if self.state != State::Backup || self.passive_reason().is_some() {
            return;
        }
        let reason = match (self.resigned_pending, self.preempting) {
            (true, _) => Reason::ActiveResigned,
            (false, Some(active)) => Reason::Preempting { active },
            (false, None) => Reason::ActiveDown,
        };
        self.resigned_pending = false;
        self.preempting = None;
        self.become_active(now, reason);
    }
}
