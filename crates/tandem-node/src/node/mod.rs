//! The sans-IO Node: the one place where the protocols of a Tandem node
//! meet. It reads no clock, file or socket. The host hands it typed
//! [`Input`]s stamped with their arrival time; it answers with
//! [`Output`]s, in the order they must be carried out, and says with
//! [`Node::poll_timeout`] when to call [`Node::handle_timeout`].
//!
//! What is decision and not I/O lives here: the demultiplexing of adverts
//! to virtual routers (unknown VRIDs counted), gratuitous ARP / NA bursts as
//! timer data, the status light and the partner view (from accepted
//! adverts only), reload as a plan (keep / stop / start), failover targets,
//! and the rate limit on repeated events. The one loop that drives it is
//! [`crate::drive`]'s.
//!
//! ```
//! use tandem_election::Instant;
//! use tandem_node::config;
//! use tandem_node::node::{Input, Node, NodeSettings, Output};
//!
//! let config = config::parse(
//!     "[[instance]]\nname = \"web\"\ninterface = \"eth0\"\nvrid = 51\n\
//!      priority = 150\naddresses = [\"192.0.2.100/24\"]\n",
//! )
//! .unwrap();
//! let mut node = Node::new(NodeSettings::default());
//! node.handle(Input::Configure { at: Instant::ZERO, config: Box::new(config), reply: None });
//! // The Node asks its host to set up what starts (interfaces, sockets).
//! assert!(matches!(node.poll_output(), Some(Output::SetUp(_))));
//! ```

mod announce;
pub mod checks;
pub mod cloud;
mod election;
mod input;
mod notify;
mod output;
mod plan;
mod reload;
pub mod replication;
pub mod sync;

use election::{advert_kind, protocol_kind};
pub use election::{prefix_of, protocol_name, virtual_mac};
pub mod report;
mod status;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_notify;

use std::collections::{BTreeMap, VecDeque};
use std::net::IpAddr;
use std::time::Duration;

use tandem_election::{codec, Advert, Command, Instant, Received, SyncGroup, VirtualRouter};

pub use input::{
    ConfigFile, Input, ReplicationLink, ReplyTo, SetUpDone, SocketId, SyncSide, TrackState,
    WriteToken,
};
pub use output::{Event, EventKind, Level, Output};
pub use plan::{units_of, Plan, SetUpError, Unit};
pub use tandem_election::State;

use crate::config::{DaemonConfig, InstanceConfig};
use crate::control::api::{ControlReply, ControlRequest, Refusal};
use crate::snapshot::{InstanceCounters, NodeCounters, Transition};

/// What the host set up for one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceHost {
    /// The raw socket its adverts go out of and come in on.
    pub socket: SocketId,
    /// The interface index its addresses go on (the macvlan, or the
    /// interface).
    pub ifindex: u32,
    /// The interface its announcements go out of.
    pub announce_interface: String,
    /// The MAC its announcements come from.
    pub mac: [u8; 6],
    /// The macvlan the host created for it, deleted when it stops.
    pub macvlan: Option<String>,
    /// The interface address it advertises from.
    pub primary: IpAddr,
    /// CARP's replay cookie (random, never 0).
    pub carp_counter: u64,
}

/// Settings of the Node itself (not of its instances).
#[derive(Debug, Clone, PartialEq)]
pub struct NodeSettings {
    /// The wall-clock time (seconds since the Unix epoch) at
    /// [`Instant::ZERO`], to stamp events and status.
    pub unix_at_zero: f64,
    /// How long ago the node's earlier starts were (the restart guard).
    pub recent_starts: Vec<Duration>,
    /// How often counters reach the published status when no state changes.
    pub publish_every: Duration,
}

impl Default for NodeSettings {
    fn default() -> NodeSettings {
        NodeSettings {
            unix_at_zero: 0.0,
            recent_starts: Vec::new(),
            publish_every: Duration::from_millis(100),
        }
    }
}

/// One instance as the Node runs it.
#[derive(Debug)]
struct Instance {
    /// A number of its own, never reused (its rate-limit scope).
    uid: u64,
    cfg: InstanceConfig,
    group: usize,
    member: usize,
    host: InstanceHost,
    counters: InstanceCounters,
    last_transition: Option<Transition>,
    partner: Option<status::Partner>,
    group_name: Option<String>,
}

/// The sans-IO Node. See the [module documentation](self).
#[derive(Debug)]
pub struct Node {
    settings: NodeSettings,
    now: Instant,
    groups: Vec<SyncGroup>,
    /// Instance index of each (group, member).
    members: Vec<Vec<usize>>,
    units: Vec<Unit>,
    instances: Vec<Instance>,
    /// Interface of each socket, as the instances on it name it.
    socket_interfaces: BTreeMap<SocketId, String>,
    bursts: announce::Bursts,
    limiter: report::Limiter,
    counters: NodeCounters,
    outputs: VecDeque<Output>,
    maintenance: bool,
    /// Bumped by every applied plan, so a stale plan is refused.
    generation: u64,
    /// The next instance's [`Instance::uid`].
    next_uid: u64,
    configured: bool,
    stopping: bool,
    /// A state changed since the last publish.
    state_changed: bool,
    /// Counters changed since the last publish.
    counters_changed: bool,
    published: Option<Instant>,
    /// Configuration sync and the configuration file's changes.
    sync: sync::SyncAdapter,
    /// Connection-table and persistence replication.
    replication: replication::ReplicationAdapter,
    /// The `[cloud]` provider hook.
    cloud: cloud::CloudAdapter,
    /// The sync groups' notify hooks, by group name.
    group_hooks: notify::GroupHookMap,
    /// The health checks, in configuration order.
    checks: Vec<checks::Check>,
}

impl Node {
    /// A Node with no instance yet: hand it its configuration with
    /// [`Input::Configure`].
    pub fn new(settings: NodeSettings) -> Node {
        Node {
            settings,
            now: Instant::ZERO,
            groups: Vec::new(),
            members: Vec::new(),
            units: Vec::new(),
            instances: Vec::new(),
            socket_interfaces: BTreeMap::new(),
            bursts: Default::default(),
            limiter: Default::default(),
            counters: Default::default(),
            outputs: VecDeque::new(),
            maintenance: false,
            generation: 0,
            next_uid: 0,
            configured: false,
            stopping: false,
            state_changed: true,
            counters_changed: false,
            published: None,
            sync: Default::default(),
            replication: Default::default(),
            cloud: Default::default(),
            group_hooks: Default::default(),
            checks: Vec::new(),
        }
    }

    /// Feeds one input. Outputs queue until [`Node::poll_output`].
    pub fn handle(&mut self, input: Input) {
        let now = self.advance(input.at());
        match input {
            Input::Advert {
                socket,
                src,
                dst,
                ttl,
                bytes,
                ..
            } => self.on_advert(now, socket, src, dst, ttl, &bytes),
            Input::Link { name, up, .. } => self.on_track(now, &name, up),
            Input::Track { name, state, .. } => {
                let cmd = match state {
                    TrackState::Up => Command::TrackUp(name),
                    TrackState::Down => Command::TrackDown(name),
                    TrackState::Weight(weight) => Command::TrackWeight { name, weight },
                };
                self.command_all(now, cmd);
            }
            Input::CheckDone { name, result, .. } => self.on_check_done(now, &name, result),
            Input::Control { request, reply, .. } => {
                if let Some(answer) = self.control(now, request, reply) {
                    self.outputs.push_back(Output::Reply {
                        to: reply,
                        reply: answer,
                    });
                }
            }
            Input::Configure { config, reply, .. } => {
                if self.stopping {
                    if let Some(to) = reply {
                        self.refuse(to, Refusal::Stopping);
                    }
                    return;
                }
                // The running configuration is no longer the file's.
                self.sync.file_running = false;
                let mut plan = self.plan(*config);
                plan.reply = reply;
                self.outputs.push_back(Output::SetUp(Box::new(plan)));
            }
            Input::SetUp { plan, result, .. } => self.apply(now, *plan, result),
            Input::Shutdown { .. } => self.shutdown(now),
            Input::ConfigureFile {
                file,
                reply,
                wait_partner,
                ..
            } => self.on_config_file(now, file, reply, wait_partner),
            Input::Written { token, result, .. } => self.on_written(now, token, result),
            Input::SyncConnected { side, .. } => self.on_sync_connected(now, side),
            Input::SyncReceived { bytes, .. } => self.on_sync_received(now, &bytes),
            Input::SyncClosed { reason, .. } => self.on_sync_closed(now, &reason),
            Input::ReplicationOpened { result, .. } => self.on_replication_opened(now, result),
            Input::ReplicationReceived { ttl, bytes, .. } => {
                self.on_replication_received(now, ttl, &bytes)
            }
            Input::ConntrackTable { entries, .. } => self.on_conntrack_table(now, entries),
            Input::ConntrackEvents { events, .. } => self.on_conntrack_events(now, events),
            Input::ConntrackInstalled {
                installed,
                failed,
                error,
                ..
            } => self.on_conntrack_installed(now, installed, failed, error),
            Input::CloudHookDone {
                id,
                result,
                elapsed,
                ..
            } => self.on_cloud_done(now, id, result, elapsed),
        }
        self.sync_settle(now);
        self.cloud_settle(now);
    }

    /// Runs the timers due at `now`: elections, announcement bursts, rate
    /// limit summaries, the status publish. Early or repeated calls are
    /// harmless.
    pub fn handle_timeout(&mut self, now: Instant) {
        let now = self.advance(now);
        for g in 0..self.groups.len() {
            if self.groups[g].poll_timeout().is_some_and(|t| t <= now) {
                self.groups[g].handle_timeout(now);
                self.drain(g);
            }
        }
        let outputs = &mut self.outputs;
        self.bursts.fire(now, &mut |o| outputs.push_back(o));
        for (event, about, count) in self.limiter.expire(now) {
            self.emit(
                now,
                EventKind::Suppressed {
                    event,
                    about,
                    count,
                },
            );
        }
        self.sync_handle_timeout(now);
        if self.replication_poll_timeout().is_some_and(|t| t <= now) {
            self.replication_handle_timeout(now);
        }
        self.cloud_settle(now);
        self.checks_handle_timeout(now);
        if self.state_changed || (self.counters_changed && self.publish_due(now)) {
            self.publish(now);
        }
    }

    /// The next output, in order.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When to call [`Node::handle_timeout`] next (`None`: no timer runs).
    pub fn poll_timeout(&self) -> Option<Instant> {
        let publish = (self.counters_changed || self.state_changed).then(|| {
            self.published
                .map_or(self.now, |p| p + self.settings.publish_every)
        });
        [
            self.groups.iter().filter_map(SyncGroup::poll_timeout).min(),
            self.bursts.poll_timeout(),
            self.limiter.poll_timeout(),
            self.sync_poll_timeout(),
            self.replication_poll_timeout(),
            self.cloud_poll_timeout(),
            self.checks_poll_timeout(),
            publish,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Whether the Node has stopped (after [`Input::Shutdown`]).
    pub fn is_stopped(&self) -> bool {
        self.stopping
    }

    /// The state of every instance, by name.
    pub fn states(&self) -> BTreeMap<String, State> {
        self.instances
            .iter()
            .map(|i| (i.cfg.name.clone(), self.router(i).state()))
            .collect()
    }

    /// What applying `config` would do, against the units running now.
    pub fn plan(&self, config: DaemonConfig) -> Plan {
        let units = units_of(&config);
        // A unit is known by its sync group or its lone instance's name
        // (unique in a configuration): one lookup and one comparison each,
        // so a large configuration reloads in linear time.
        let running: std::collections::HashMap<_, usize> = self
            .units
            .iter()
            .enumerate()
            .map(|(g, u)| (plan::unit_id(u), g))
            .collect();
        let kept: Vec<Option<usize>> = units
            .iter()
            .map(|u| {
                running
                    .get(&plan::unit_id(u))
                    .copied()
                    .filter(|g| self.units[*g] == *u)
            })
            .collect();
        let mut keep = vec![false; self.units.len()];
        for g in kept.iter().flatten() {
            keep[*g] = true;
        }
        let start = (0..units.len()).filter(|u| kept[*u].is_none()).collect();
        Plan {
            config,
            units,
            kept,
            keep,
            start,
            generation: self.generation,
            initial: !self.configured,
            reply: None,
            tag: None,
        }
    }

    fn advance(&mut self, at: Instant) -> Instant {
        self.now = self.now.max(at);
        self.now
    }

    fn router(&self, i: &Instance) -> &VirtualRouter {
        &self.groups[i.group].members()[i.member]
    }

    fn refuse(&mut self, to: ReplyTo, why: Refusal) {
        self.outputs.push_back(Output::Reply {
            to,
            reply: ControlReply::Refused(why),
        });
    }

    fn unix(&self, now: Instant) -> f64 {
        self.settings.unix_at_zero + now.since_origin().as_secs_f64()
    }

    /// Counts an event the rate limit did not let through (`admitted` is
    /// `None`); passes `Some(n)` on.
    fn suppressed(&mut self, admitted: Option<u64>) -> Option<u64> {
        if admitted.is_none() {
            self.counters.events_suppressed += 1;
            self.counters_changed = true;
        }
        admitted
    }

    /// Queues an event.
    fn emit(&mut self, now: Instant, kind: EventKind) {
        let at_unix = self.unix(now);
        self.outputs
            .push_back(Output::Event(Event { at_unix, kind }));
    }

    // ----- adverts --------------------------------------------------------

    fn on_advert(
        &mut self,
        now: Instant,
        socket: SocketId,
        src: IpAddr,
        dst: IpAddr,
        ttl: u8,
        bytes: &[u8],
    ) {
        self.counters_changed = true;
        let interface = |interfaces: &BTreeMap<SocketId, String>| {
            interfaces
                .get(&socket)
                .cloned()
                .unwrap_or_else(|| format!("socket{socket}"))
        };
        let advert = match codec::decode(bytes, src, dst) {
            Ok(a) => a,
            Err(e) => {
                let kind = report::error_kind(&e);
                bump(&mut self.counters.dropped, kind);
                // Counted on the instance its VRID byte names, if any.
                if let Some(i) = bytes.get(1).and_then(|v| {
                    self.instances
                        .iter()
                        .position(|i| i.host.socket == socket && i.cfg.election.vrid.get() == *v)
                }) {
                    bump(&mut self.instances[i].counters.errors, kind);
                }
                // A flood of bad packets costs a counter and a lookup each:
                // the event is made only when it is shown.
                let interfaces = &self.socket_interfaces;
                let key = ("dropped", report::Scope::Socket(socket), kind);
                let admitted = self
                    .limiter
                    .admit(now, key, || format!("interface={}", interface(interfaces)));
                if let Some(suppressed) = self.suppressed(admitted) {
                    let interface = interface(&self.socket_interfaces);
                    let error = e.to_string();
                    self.emit(
                        now,
                        EventKind::Dropped {
                            interface,
                            src,
                            kind,
                            error,
                            suppressed,
                        },
                    );
                }
                return;
            }
        };
        self.counters.adverts_received += 1;
        let vrid = advert.vrid();
        let kind = advert_kind(&advert);
        let on_socket = |i: &&Instance| i.host.socket == socket && i.cfg.election.vrid == vrid;
        let target = self
            .instances
            .iter()
            .position(|i| on_socket(&i) && protocol_kind(&i.cfg) == kind)
            .or_else(|| self.instances.iter().position(|i| on_socket(&i)));
        let Some(i) = target else {
            self.counters.unknown_vrid += 1;
            let name = interface(&self.socket_interfaces);
            *self
                .counters
                .unknown_vrids
                .entry(format!("{name} vrid {}", vrid.get()))
                .or_default() += 1;
            let key = ("unknown_vrid", report::Scope::Socket(socket), "");
            let admitted = self.limiter.admit(now, key, || format!("interface={name}"));
            if let Some(suppressed) = self.suppressed(admitted) {
                self.emit(
                    now,
                    EventKind::UnknownVrid {
                        interface: name,
                        src,
                        vrid: vrid.get(),
                        suppressed,
                    },
                );
            }
            return;
        };
        let g = self.instances[i].group;
        self.instances[i].counters.adverts_received += 1;
        self.groups[g].handle_advert(
            now,
            Received {
                src,
                ttl,
                advert: &advert,
            },
        );
        // The partner is whoever the election accepted, never a sender it
        // refused (bad HMAC or password, bad TTL, another VRID's addresses).
        let accepted = self.router(&self.instances[i]).last_accepted() == Some((src, now));
        if accepted {
            let (priority, resigned) = match &advert {
                Advert::Vrrp3 { repr, .. } => (repr.priority.0, repr.priority.0 == 0),
                Advert::Vrrp2(r) => (r.priority.0, r.priority.0 == 0),
                Advert::Carp { repr, .. } => (
                    255 - repr.advskew,
                    repr.advbase == 255 && repr.advskew == 255,
                ),
            };
            self.instances[i].partner = Some(status::Partner {
                address: src,
                priority,
                resigned,
                at: now,
            });
        }
        self.drain(g);
    }

    fn on_track(&mut self, now: Instant, name: &str, up: bool) {
        // Every member that tracks `name` (its own interface included)
        // takes it; the others ignore it.
        let name = name.to_string();
        self.command_all(
            now,
            if up {
                Command::TrackUp(name)
            } else {
                Command::TrackDown(name)
            },
        );
    }

    // ----- control --------------------------------------------------------

    fn control(
        &mut self,
        now: Instant,
        request: ControlRequest,
        reply: ReplyTo,
    ) -> Option<ControlReply> {
        if self.stopping {
            return Some(ControlReply::Refused(Refusal::Stopping));
        }
        Some(match request {
            ControlRequest::Status => {
                let snap = self.snapshot(now);
                self.publish_snapshot(now, snap.clone());
                ControlReply::Status(Box::new(snap))
            }
            ControlRequest::Failover { target } => {
                let active = |g: usize| {
                    self.groups[g]
                        .members()
                        .iter()
                        .any(|m| m.state() == State::Active)
                };
                let units = match plan::failover_units(&self.units, target.as_deref(), active) {
                    Ok(u) => u,
                    Err(why) => return Some(ControlReply::Refused(why)),
                };
                let mut instances = Vec::new();
                for g in units {
                    self.groups[g].handle_command(now, None, Command::Failover);
                    instances.extend(self.units[g].instances.iter().map(|c| c.name.clone()));
                    self.drain(g);
                }
                ControlReply::HandedOver { instances }
            }
            ControlRequest::Maintenance { on } => {
                self.maintenance = on;
                self.state_changed = true;
                self.command_all(now, Command::Maintenance(on));
                ControlReply::Maintenance { on }
            }
            ControlRequest::ClearPacified => {
                self.command_all(now, Command::ClearRestartGuard);
                ControlReply::PacifiedCleared
            }
            other => return self.sync_control(now, other, reply),
        })
    }

    fn command_all(&mut self, now: Instant, cmd: Command) {
        for g in 0..self.groups.len() {
            self.groups[g].handle_command(now, None, cmd.clone());
            self.drain(g);
        }
    }
}

/// Adds one to `kind`'s counter, allocating its name only the first time.
fn bump(counters: &mut BTreeMap<String, u64>, kind: &str) {
    match counters.get_mut(kind) {
        Some(n) => *n += 1,
        None => {
            counters.insert(kind.to_string(), 1);
        }
    }
}
