//! One virtual router: the state machine of RFC 9568 section 6.4 (VRRPv3),
//! RFC 3768 section 6.4 (VRRPv2) and OpenBSD carp(4) (CARP), with the
//! appliance policies around it.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::IpAddr;
use std::time::Duration;

use tandem_wire::{carp, vrrp2, vrrp3, Centiseconds, ChecksumMode, Family, Priority, Seconds};

use crate::action::{Action, AuthFailure, Diagnostic, Reason, State};
use crate::config::{carp_interval, ChecksumPolicy, Config, ConfigError, Protocol, TrackEffect};
use crate::input::{Advert, Command, Received};
use crate::timer::{Timer, Timers};
use crate::Instant;

/// Peers remembered for their checksum form (bounded: sources are not trusted).
const MAX_PEERS: usize = 16;

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
                if self.config.tracks.iter().any(|t| t.name == name)
                    && self.tracks_down.insert(name.clone())
                {
                    self.reconsider_fault(now, Reason::TrackDown(name));
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

    // ----- receiving ---------------------------------------------------

    /// Protocol-level checks of a received advert (RFC 9568 7.1, RFC 3768
    /// 7.1, carp(4)); `None` drops it.
    fn check(&mut self, now: Instant, rx: Received<'_>) -> Option<Peer> {
        let src = rx.src;
        // The settings the checks need, copied out of the configuration.
        let ours = match &self.config.protocol {
            Protocol::Vrrp3 {
                checksum,
                v2_compat,
                ..
            } => Ours::Vrrp3 {
                checksum: *checksum,
                v2_compat: *v2_compat,
            },
            Protocol::Vrrp2 { interval, auth } => Ours::Vrrp2 {
                interval: *interval,
                auth: *auth,
            },
            Protocol::Carp { .. } => Ours::Carp,
        };
        match (ours, rx.advert) {
            (
                Ours::Vrrp3 { checksum, .. },
                Advert::Vrrp3 {
                    repr,
                    checksum: mode,
                },
            ) => {
                if !self.check_addresses(src, repr.priority, repr.addresses.iter()) {
                    return None;
                }
                if let Some(mode) = mode {
                    if !self.check_checksum_mode(src, checksum, *mode) {
                        return None;
                    }
                }
                self.v3_from = Some((src, now));
                Some(Peer::Vrrp {
                    priority: repr.priority,
                    interval: cs(repr.max_adver_int),
                })
            }
            (
                Ours::Vrrp3 {
                    v2_compat: true, ..
                },
                Advert::Vrrp2(repr),
            ) => {
                // RFC 9568 8.4.2: a Backup SHOULD ignore VRRPv2 adverts from
                // an Active router that also sends VRRPv3.
                let down = self.active_down_interval();
                if self
                    .v3_from
                    .is_some_and(|(a, t)| a == src && now.saturating_since(t) < down)
                {
                    return None;
                }
                let addrs = repr.addresses.iter().map(|a| IpAddr::V4(*a));
                if !self.check_addresses(src, repr.priority, addrs) {
                    return None;
                }
                // ...and time out on the VRRPv2 rate, seconds in centiseconds.
                Some(Peer::Vrrp {
                    priority: repr.priority,
                    interval: secs(repr.adver_int),
                })
            }
            (Ours::Vrrp2 { interval, auth }, Advert::Vrrp2(repr)) => {
                // RFC 3768 7.1: authenticate, then the addresses, then the interval.
                if repr.auth.auth_type() != auth.auth_type() {
                    self.diag(Diagnostic::AuthFailure {
                        src,
                        what: AuthFailure::AuthType,
                    });
                    return None;
                }
                if let (vrrp2::Auth::SimpleText(theirs), vrrp2::Auth::SimpleText(ours)) =
                    (repr.auth, auth)
                {
                    if theirs != ours {
                        self.diag(Diagnostic::AuthFailure {
                            src,
                            what: AuthFailure::Password,
                        });
                        return None;
                    }
                }
                let addrs = repr.addresses.iter().map(|a| IpAddr::V4(*a));
                if !self.check_addresses(src, repr.priority, addrs) {
                    return None;
                }
                if repr.adver_int != interval {
                    let (theirs, ours) = (secs(repr.adver_int), secs(interval));
                    self.diag(Diagnostic::IntervalMismatch { src, theirs, ours });
                    return None;
                }
                Some(Peer::Vrrp {
                    priority: repr.priority,
                    interval: secs(repr.adver_int),
                })
            }
            (Ours::Carp, Advert::Carp { repr, hmac }) => {
                let key = self.carp_key.as_ref()?;
                if key.verify(repr.counter, hmac).is_err() {
                    self.diag(Diagnostic::AuthFailure {
                        src,
                        what: AuthFailure::BadHmac,
                    });
                    return None;
                }
                if repr.counter == self.config.carp_counter {
                    // OpenBSD's replay cookie: our own advert came back.
                    self.diag(Diagnostic::OwnAdvertLooped);
                    return None;
                }
                Some(Peer::Carp(*repr))
            }
            (ours, theirs) => {
                let _ = now;
                let ours_v = match ours {
                    Ours::Vrrp3 { .. } => 3,
                    _ => 2,
                };
                self.diag(Diagnostic::VersionMismatch {
                    src,
                    theirs: theirs.version(),
                    ours: ours_v,
                });
                None
            }
        }
    }

    /// RFC 9568 7.1 / RFC 3768 7.1: an address list that differs from ours
    /// is logged, and dropped unless its sender is the owner (priority 255).
    fn check_addresses(
        &mut self,
        src: IpAddr,
        priority: Priority,
        theirs: impl Iterator<Item = IpAddr>,
    ) -> bool {
        let mut theirs: Vec<IpAddr> = theirs.collect();
        let mut ours = self.config.addresses.clone();
        theirs.sort_unstable();
        ours.sort_unstable();
        if theirs == ours {
            return true;
        }
        self.diag(Diagnostic::DuplicateVrid {
            src,
            addresses: theirs,
        });
        priority == Priority::OWNER
    }

    fn check_checksum_mode(
        &mut self,
        src: IpAddr,
        policy: ChecksumPolicy,
        mode: ChecksumMode,
    ) -> bool {
        if Family::of(src) == Family::V6 {
            return true;
        }
        let required = match policy {
            ChecksumPolicy::Rfc9568 => Some(ChecksumMode::NoPseudoHeader),
            ChecksumPolicy::Ipv4PseudoHeader => Some(ChecksumMode::PseudoHeader),
            ChecksumPolicy::Auto => None,
        };
        if let Some(required) = required {
            if mode != required {
                self.diag(Diagnostic::ChecksumMode {
                    src,
                    theirs: mode,
                    ours: required,
                });
                return false;
            }
            return true;
        }
        // Automatic: remember the peer's form, send in it, report a mix.
        match self.peer_modes.iter_mut().find(|(a, _)| *a == src) {
            Some(entry) => entry.1 = mode,
            None => {
                if self.peer_modes.len() == MAX_PEERS {
                    self.peer_modes.remove(0);
                }
                self.peer_modes.push((src, mode));
            }
        }
        if let Some((other, m)) = self.peer_modes.iter().find(|(_, m)| *m != mode) {
            let (other, m) = (*other, *m);
            self.diag(Diagnostic::ChecksumMode {
                src: other,
                theirs: m,
                ours: mode,
            });
        }
        self.send_mode = mode;
        true
    }

    fn heard_peer(&mut self, now: Instant, src: IpAddr) {
        self.last_accepted = Some((src, now));
        if self.silence_reported {
            self.silence_reported = false;
            self.diag(Diagnostic::PeerHeard { src });
        }
        self.arm_silence(now);
    }

    fn on_vrrp_advert(
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

    fn on_carp_advert(&mut self, now: Instant, src: IpAddr, c: carp::Repr) {
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

    // ----- timers and helpers ---------------------------------------------

    /// Silence is a Backup's observation: a Backup hears the Active router,
    /// while an Active router hears nobody in a healthy pair (Backups send
    /// nothing), so silence there would be a false alarm.
    fn on_silence(&mut self) {
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

    fn arm_silence(&mut self, now: Instant) {
        if self.config.silence_intervals > 0 {
            let after = self.config.protocol.interval() * self.config.silence_intervals;
            self.timers.set(Timer::Silence, now + after);
        }
    }

    fn arm_active_down(&mut self, now: Instant) {
        if self.passive_reason().is_none() {
            self.timers
                .set(Timer::ActiveDown, now + self.active_down_interval());
        } else {
            self.timers.cancel(Timer::ActiveDown);
        }
    }

    fn clear_pacified(&mut self, now: Instant) {
        self.timers.cancel(Timer::Pacified);
        if self.pacified.take().is_some() && self.state == State::Backup {
            self.arm_active_down(now);
        }
    }

    fn reconsider_fault(&mut self, now: Instant, reason: Reason) {
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

    fn preempt_now(&self, now: Instant) -> bool {
        (self.config.preempt || self.is_owner())
            && !self.yielded
            && now.saturating_since(self.started_at) >= self.config.preempt_delay
    }

    fn is_owner(&self) -> bool {
        !matches!(self.config.protocol, Protocol::Carp { .. })
            && self.effective_priority() == Priority::OWNER
    }

    fn fault(&self) -> bool {
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
    fn held_by_group(&self, now: Instant) -> bool {
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

    fn fault_track(&self) -> Option<String> {
        self.config
            .tracks
            .iter()
            .find(|t| t.effect == TrackEffect::Fault && self.tracks_down.contains(&t.name))
            .map(|t| t.name.clone())
    }

    fn track_weight(&self) -> u8 {
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

    fn demotion(&self) -> u8 {
        self.config.demotion.saturating_add(self.track_weight())
    }

    fn passive_reason(&self) -> Option<Reason> {
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

    fn set_state(&mut self, to: State, reason: Reason) {
        let from = self.state;
        if from == to {
            return;
        }
        self.state = to;
        if to != State::Active && self.active_router == Some(self.config.primary_address) {
            self.active_router = None;
        }
        self.actions
            .push_back(Action::StateChanged { from, to, reason });
    }

    fn diag(&mut self, d: Diagnostic) {
        self.actions.push_back(Action::Diagnostic(d));
    }

    fn announce_burst(&mut self) {
        let a = self.config.announce;
        self.actions.push_back(Action::Announce {
            addresses: self.config.addresses.clone(),
            repeat: a.repeat,
            spacing: a.spacing,
        });
    }

    fn announce(&mut self) {
        if self.state == State::Active {
            self.announce_burst();
        }
    }

    fn send_advert(&mut self) {
        let p = self.effective_priority();
        self.send_with(p, None);
    }

    /// Priority 0; CARP: advbase 255, advskew 255 (a carp interface going down).
    fn send_resign(&mut self) {
        self.send_with(Priority::RESIGN, Some((255, 255)));
    }

    fn send_with(&mut self, priority: Priority, carp_timing: Option<(u8, u8)>) {
        let c = &self.config;
        match &c.protocol {
            Protocol::Vrrp3 {
                interval,
                v2_compat,
                ..
            } => {
                // Validated at construction: one family, at least one.
                let Some(addresses) = vrrp3::Addresses::from_ips(&c.addresses) else {
                    return;
                };
                let repr = vrrp3::Repr {
                    vrid: c.vrid,
                    priority,
                    max_adver_int: *interval,
                    addresses,
                };
                self.actions.push_back(Action::SendAdvert(Advert::Vrrp3 {
                    repr,
                    checksum: Some(self.send_mode),
                }));
                if *v2_compat {
                    // RFC 9568 8.4.2: also send VRRPv2, at the same rate.
                    let secs = (interval.0 / 100).clamp(1, 255) as u8;
                    let repr = self.vrrp2_repr(priority, Seconds(secs), vrrp2::Auth::None);
                    self.actions
                        .push_back(Action::SendAdvert(Advert::Vrrp2(repr)));
                }
            }
            Protocol::Vrrp2 { interval, auth } => {
                let repr = self.vrrp2_repr(priority, *interval, *auth);
                self.actions
                    .push_back(Action::SendAdvert(Advert::Vrrp2(repr)));
            }
            Protocol::Carp {
                advbase, advskew, ..
            } => {
                let (advbase, advskew) = carp_timing.unwrap_or((*advbase, *advskew));
                let repr = carp::Repr {
                    vhid: c.vrid,
                    advskew,
                    advbase,
                    demotion: self.demotion(),
                    counter: c.carp_counter,
                };
                let Some(key) = &self.carp_key else { return };
                let hmac = key.generate(repr.counter);
                self.actions
                    .push_back(Action::SendAdvert(Advert::Carp { repr, hmac }));
            }
        }
    }

    fn vrrp2_repr(&self, priority: Priority, adver_int: Seconds, auth: vrrp2::Auth) -> vrrp2::Repr {
        vrrp2::Repr {
            vrid: self.config.vrid,
            priority,
            adver_int,
            auth,
            addresses: self
                .config
                .addresses
                .iter()
                .filter_map(|a| {
                    if let IpAddr::V4(a) = a {
                        Some(*a)
                    } else {
                        None
                    }
                })
                .collect(),
        }
    }
}

/// The protocol settings the receive checks need.
#[derive(Clone, Copy)]
enum Ours {
    Vrrp3 {
        checksum: ChecksumPolicy,
        v2_compat: bool,
    },
    Vrrp2 {
        interval: Seconds,
        auth: vrrp2::Auth,
    },
    Carp,
}

/// What the state machine needs of a checked advert.
enum Peer {
    Vrrp {
        priority: Priority,
        interval: Duration,
    },
    Carp(carp::Repr),
}

fn cs(c: Centiseconds) -> Duration {
    Duration::from_millis(u64::from(c.0) * 10)
}

fn secs(s: Seconds) -> Duration {
    Duration::from_secs(u64::from(s.0))
}
