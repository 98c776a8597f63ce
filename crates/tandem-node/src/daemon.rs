//! `tandemd run`: the event loop that carries out the election's actions on
//! a Linux host.
//!
//! One raw socket per (interface, family) receives every protocol-112
//! packet there and hands it, decoded, to the sync group (a lone instance
//! is a group of one) that owns its VRID. A thread per socket and one for
//! link events feed a channel; the main thread waits on it until the
//! election's next deadline, feeds the input, and carries out the actions:
//! adverts through the raw sockets, addresses through netlink, gratuitous
//! ARP / unsolicited NA through packet sockets. SIGTERM / SIGINT stop every
//! router gracefully (priority 0, CARP's going-down advert) and remove the
//! virtual addresses before exiting.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tandem_election::{
    codec, Action, Advert, Command, Diagnostic, Instant, Received, State, SyncGroup, Track,
    TrackEffect, VirtualRouter,
};
use tandem_wire::{frame, Family};

use crate::config::{DaemonConfig, Delivery, InstanceConfig};
use crate::sys::netlink::{self, LinkMonitor, Netlink};
use crate::sys::packet::PacketSocket;
use crate::sys::raw::RawSocket;
use crate::sys::SysError;

/// Why the daemon could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// A host operation failed.
    #[error(transparent)]
    Sys(#[from] SysError),
    /// An instance cannot run on this host.
    #[error("instance {instance:?}: {reason}")]
    Instance {
        /// The instance's name.
        instance: String,
        /// Why.
        reason: String,
    },
    /// The election refused a configuration.
    #[error("instance {instance:?}: {source}")]
    Config {
        /// The instance's name.
        instance: String,
        /// The election's reason.
        #[source]
        source: tandem_election::ConfigError,
    },
    /// The restart history could not be kept, and a restart guard is
    /// configured.
    #[error("restart history: {0}; a restart guard is configured, so tandemd does not start without it (fix the state directory, or remove restart_guard)")]
    History(#[source] crate::history::HistoryError),
    /// The configuration does not fit this host.
    #[error(transparent)]
    Host(crate::config::ConfigError),
    /// The health port could not be set up.
    #[error(transparent)]
    Http(#[from] crate::http::HttpError),
    /// The control socket could not be set up.
    #[error("control socket: {0}")]
    Control(String),
    /// Signal handling could not be set up.
    #[error("signals: {0}")]
    Signals(#[source] io::Error),
}

/// A request from the control socket to the main loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlRequest {
    /// The node snapshot.
    Status,
    /// Hand the Active role to the partner: every instance, or the one
    /// instance or sync group named.
    Failover {
        /// An instance or sync group name; `None` for all.
        target: Option<String>,
    },
    /// Maintenance mode of the node on or off.
    Maintenance {
        /// On.
        on: bool,
    },
    /// Clear the restart guard's pacified state.
    ClearPacified,
}

/// The main loop's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum ControlReply {
    /// The snapshot.
    Status(Box<crate::snapshot::NodeSnapshot>),
    /// Done, with what was done in words.
    Done(String),
    /// Refused, with why.
    Error(String),
}

/// How other threads (the control socket) talk to the main loop.
#[derive(Clone)]
pub struct ControlHandle {
    tx: Sender<Event>,
}

impl ControlHandle {
    /// Sends `req` and waits (up to 5 s) for the answer.
    pub fn request(&self, req: ControlRequest) -> ControlReply {
        let (reply, rx) = mpsc::channel();
        if self.tx.send(Event::Control { req, reply }).is_err() {
            return ControlReply::Error("tandemd is stopping".into());
        }
        rx.recv_timeout(Duration::from_secs(5))
            .unwrap_or_else(|_| ControlReply::Error("tandemd did not answer within 5 s".into()))
    }

    /// An ordered stream of events (state changes and diagnostics), one
    /// JSON object per string, until the receiver is dropped.
    pub fn subscribe(&self) -> Receiver<String> {
        let (tx, rx) = mpsc::channel();
        let _ = self.tx.send(Event::Subscribe(tx));
        rx
    }
}

/// What the receiver threads tell the main loop.
enum Event {
    Packet {
        socket: usize,
        src: IpAddr,
        dst: IpAddr,
        ttl: u8,
        bytes: Vec<u8>,
    },
    Link {
        name: String,
        up: bool,
    },
    Reload,
    Stop,
    Control {
        req: ControlRequest,
        reply: Sender<ControlReply>,
    },
    Subscribe(Sender<String>),
}

/// One instance as the daemon runs it.
struct Instance {
    cfg: InstanceConfig,
    group: usize,
    member: usize,
    socket: usize,
    /// Where addresses go (the macvlan with the virtual MAC, or the interface).
    addr_ifindex: u32,
    /// The MAC announcements come from.
    mac: [u8; 6],
    /// The macvlan to delete on exit.
    macvlan: Option<String>,
    primary: IpAddr,
    /// Unsolicited NA / gratuitous ARP sender.
    packet: PacketSocket,
    /// Counters for status and metrics.
    counters: crate::snapshot::InstanceCounters,
    /// The last state change.
    last_transition: Option<crate::snapshot::Transition>,
    /// The last peer heard: address, priority, whether it resigned, when.
    last_peer: Option<(IpAddr, u8, bool, std::time::Instant)>,
    /// The sync group's name, if in one.
    group_name: Option<String>,
}

/// A gratuitous ARP / NA burst still being sent.
struct Burst {
    packet: PacketSocket,
    frames: Vec<Vec<u8>>,
    left: u8,
    spacing: Duration,
    next: std::time::Instant,
}

/// Counters by kind, for status and metrics.
#[derive(Debug, Default, Clone)]
pub struct Counters {
    /// Adverts sent.
    pub sent: u64,
    /// Adverts received and handed to the election.
    pub received: u64,
    /// Received packets dropped by kind of error.
    pub errors: BTreeMap<String, u64>,
}

/// The running daemon.
pub struct Daemon {
    t0: std::time::Instant,
    groups: Vec<SyncGroup>,
    instances: Vec<Instance>,
    /// Instance index of each (group, member).
    members: Vec<Vec<usize>>,
    /// What each group was built from, to tell what a reload changes.
    units: Vec<Unit>,
    sockets: Vec<RawSocket>,
    /// (interface, family) of each socket, and whether it joined the group.
    socket_keys: Vec<((String, Family), bool)>,
    netlink: Netlink,
    bursts: Vec<Burst>,
    /// Counters.
    pub counters: Counters,
    log: Box<dyn Write + Send>,
    /// Published after every batch of inputs.
    snapshot: Arc<std::sync::RwLock<crate::snapshot::NodeSnapshot>>,
    /// Event stream subscribers (control socket).
    subscribers: Vec<Sender<String>>,
    maintenance: bool,
    /// How long ago the node's earlier starts were.
    recent_starts: Vec<Duration>,
    /// The main loop's input channel.
    tx: Sender<Event>,
    rx: Option<Receiver<Event>>,
    /// Tells the receiver threads to stop.
    stop: Arc<AtomicBool>,
    /// Where SIGHUP reloads from (`None`: started from flags).
    config_path: Option<PathBuf>,
    /// The loop runs: new sockets get their receiver thread at once.
    running: bool,
    /// A state changed since the last publish.
    state_changed: bool,
    /// When the snapshot was last published.
    published: std::time::Instant,
    /// Notify hooks (run off the loop, in order per instance).
    hooks: crate::hooks::HookRunner,
    /// Lines the hooks report, for the log.
    hook_log: Receiver<String>,
}

/// A sync group, or a lone instance, as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Unit {
    /// The sync group's name.
    group: Option<String>,
    instances: Vec<InstanceConfig>,
}

/// A unit built but not yet running.
struct Prepared {
    unit: Unit,
    instances: Vec<Instance>,
    group: SyncGroup,
}

/// Sync groups first, then every other instance as a group of one.
fn units_of(config: &DaemonConfig) -> Vec<Unit> {
    let mut units: Vec<Unit> = config
        .sync_groups
        .iter()
        .map(|g| Unit {
            group: Some(g.name.clone()),
            instances: g
                .instances
                .iter()
                .filter_map(|n| config.instance(n).cloned())
                .collect(),
        })
        .collect();
    for c in &config.instances {
        if !config
            .sync_groups
            .iter()
            .any(|g| g.instances.contains(&c.name))
        {
            units.push(Unit {
                group: None,
                instances: vec![c.clone()],
            });
        }
    }
    units
}

/// How often counters reach the snapshot when no state changes.
const PUBLISH_EVERY: Duration = Duration::from_millis(100);

fn now_since(t0: std::time::Instant) -> Instant {
    Instant::from_duration(t0.elapsed())
}

/// Runs the daemon with `config` until SIGTERM / SIGINT: checks the
/// configuration against the host, records this start for the restart
/// guard, sets up every instance and runs the event loop.
pub fn start(config: DaemonConfig, path: Option<PathBuf>) -> Result<(), DaemonError> {
    let nl = std::cell::RefCell::new(Netlink::open()?);
    let problems = crate::config::check_host(&config, &|ifname: &str| {
        netlink::ifindex(ifname)
            .and_then(|i| nl.borrow_mut().addresses(i))
            .map(|v| v.into_iter().map(|(a, _)| a).collect())
            .unwrap_or_default()
    });
    if let Some(p) = problems.into_iter().next() {
        return Err(DaemonError::Host(p));
    }
    let guarded = config
        .instances
        .iter()
        .any(|i| i.election.restart_guard.is_some());
    let history = record_start(&config.global.state_dir, guarded)?;
    for line in history.log_lines(&config.global.state_dir) {
        eprintln!("tandemd[0.000] {line}");
    }
    let recent = history.recent;
    let control_socket = config.global.control_socket.clone();
    let health = config.global.health.clone();
    let mut daemon = Daemon::new(config, &recent, Box::new(io::stderr()))?;
    if let Some(p) = path {
        daemon.set_config_path(p);
    }
    // The control socket lives as long as the loop; the guard removes it.
    let _control = crate::control::serve(&control_socket, daemon.control_handle())
        .map_err(|e| DaemonError::Control(e.to_string()))?;
    // The health port (and metrics) reads the published snapshot.
    let _http = match &health {
        Some(h) => Some(crate::http::serve(h, daemon.snapshot())?),
        None => None,
    };
    daemon.run()
}

/// Reads, updates and saves the node's start history in `dir`; returns how
/// long ago the earlier starts were (kept for an hour). See
/// [`crate::history::record_start`]: `guarded` (a restart guard is
/// configured) makes a history that cannot be kept an error.
pub fn record_start(dir: &Path, guarded: bool) -> Result<crate::history::Recorded, DaemonError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    crate::history::record_start(dir, now, guarded).map_err(DaemonError::History)
}

fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        let _ = io::Read::read_exact(&mut f, &mut b);
    }
    let v = u64::from_ne_bytes(b);
    if v == 0 {
        // Never 0 (what an unset counter looks like); fall back on the clock.
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64 | 1)
            .unwrap_or(1)
    } else {
        v
    }
}

fn family_of(cfg: &InstanceConfig) -> Family {
    cfg.election
        .addresses
        .first()
        .map(|a| Family::of(*a))
        .unwrap_or(Family::V4)
}

/// The interface address an instance advertises from: the configured
/// source, else (IPv6) the interface's link-local address, else its first
/// address of the family that is not a virtual address.
fn pick_primary(cfg: &InstanceConfig, have: &[(IpAddr, u8)]) -> Option<IpAddr> {
    if let Some(s) = cfg.source {
        return Some(s);
    }
    let family = family_of(cfg);
    let ours = |a: &IpAddr| cfg.election.addresses.contains(a) && cfg.election.priority.0 != 255;
    let candidates = have
        .iter()
        .map(|(a, _)| *a)
        .filter(|a| Family::of(*a) == family && !ours(a));
    match family {
        Family::V6 => {
            let all: Vec<IpAddr> = candidates.collect();
            all.iter()
                .find(|a| matches!(a, IpAddr::V6(v) if v.segments()[0] & 0xffc0 == 0xfe80))
                .or(all.first())
                .copied()
        }
        Family::V4 => candidates.into_iter().next(),
    }
}

impl Daemon {
    /// Sets up every instance on the host: interfaces, virtual MACs,
    /// sockets, leftovers of a crash, the routers themselves.
    pub fn new(
        config: DaemonConfig,
        recent_starts: &[Duration],
        log: Box<dyn Write + Send>,
    ) -> Result<Daemon, DaemonError> {
        let (tx, rx) = mpsc::channel();
        let (hook_tx, hook_log) = mpsc::channel();
        let mut d = Daemon {
            t0: std::time::Instant::now(),
            groups: Vec::new(),
            instances: Vec::new(),
            members: Vec::new(),
            units: Vec::new(),
            sockets: Vec::new(),
            socket_keys: Vec::new(),
            netlink: Netlink::open()?,
            bursts: Vec::new(),
            counters: Counters::default(),
            log,
            snapshot: Arc::new(std::sync::RwLock::new(
                crate::snapshot::NodeSnapshot::empty(),
            )),
            subscribers: Vec::new(),
            maintenance: false,
            recent_starts: recent_starts.to_vec(),
            tx,
            rx: Some(rx),
            stop: Arc::new(AtomicBool::new(false)),
            config_path: None,
            running: false,
            state_changed: true,
            published: std::time::Instant::now(),
            hooks: crate::hooks::HookRunner::new(hook_tx),
            hook_log,
        };
        let mut prepared = Vec::new();
        for unit in units_of(&config) {
            prepared.push(d.prepare(&config, unit, true)?);
        }
        for p in prepared {
            d.install(p);
        }
        Ok(d)
    }

    /// Where SIGHUP reloads the configuration from.
    pub fn set_config_path(&mut self, path: PathBuf) {
        self.config_path = Some(path);
    }

    /// Builds the routers of one unit (a sync group, or a lone instance)
    /// without touching the running ones. `cleanup`: remove leftovers of a
    /// crash (at start only: on reload the previous owner removes them).
    fn prepare(
        &mut self,
        config: &DaemonConfig,
        unit: Unit,
        cleanup: bool,
    ) -> Result<Prepared, DaemonError> {
        let now = self.now();
        let mut instances = Vec::new();
        let mut routers = Vec::new();
        for cfg in &unit.instances {
            let name = cfg.name.clone();
            let fail = |reason: String| DaemonError::Instance {
                instance: name.clone(),
                reason,
            };
            if let tandem_election::Protocol::Vrrp2 {
                auth: tandem_wire::vrrp2::Auth::IpAh,
                ..
            } = cfg.election.protocol
            {
                return Err(fail(
                    "VRRPv2 IPsec-AH authentication is decoded by `tandemd decode` but not spoken by `tandemd run` yet: use auth = \"none\" or \"pass\"".into(),
                ));
            }
            let ifindex = netlink::ifindex(&cfg.interface)?;
            let family = family_of(cfg);
            let have = self.netlink.addresses(ifindex)?;
            let primary = pick_primary(cfg, &have).ok_or_else(|| {
                fail(format!(
                    "interface {} has no {family} address to advertise from",
                    cfg.interface
                ))
            })?;
            // Addresses a crash left behind: we are not Active yet.
            if cleanup && cfg.election.priority.0 != 255 {
                for (a, p) in &have {
                    if let Some(i) = cfg.election.addresses.iter().position(|v| v == a) {
                        self.netlink.remove_address(
                            ifindex,
                            *a,
                            cfg.prefixes.get(i).copied().unwrap_or(*p),
                        )?;
                        writeln!(
                            io::stderr(),
                            "tandemd: instance={} removed leftover address {a}",
                            cfg.name
                        )
                        .ok();
                    }
                }
            }
            let vrid = cfg.election.vrid;
            let (addr_ifindex, mac, macvlan) = if cfg.vmac {
                let mac = match cfg.election.protocol {
                    // CARP uses 00-00-5E-00-01-{VHID} for both families.
                    tandem_election::Protocol::Carp { .. } => frame::carp_virtual_mac(vrid),
                    _ => frame::virtual_mac(vrid, family),
                };
                let ifname = format!(
                    "vrrp{}.{}",
                    if family == Family::V6 { "6" } else { "" },
                    vrid.get()
                );
                let idx = self.netlink.create_macvlan(&cfg.interface, &ifname, mac)?;
                if family == Family::V4 {
                    // ARP for the virtual addresses answered by the macvlan
                    // alone, with the virtual MAC (IPv6 neighbour discovery
                    // already answers per interface).
                    crate::sys::arp_own_addresses_only(&ifname)?;
                    let changed = crate::sys::arp_own_addresses_only(&cfg.interface)?;
                    if !changed.is_empty() {
                        writeln!(
                            io::stderr(),
                            "tandemd: instance={} {}: {} so that only {ifname} speaks ARP for the virtual addresses",
                            cfg.name,
                            cfg.interface,
                            changed.join(", ")
                        )
                        .ok();
                    }
                }
                (idx, mac, Some(ifname))
            } else {
                (ifindex, netlink::link_mac(&cfg.interface)?, None)
            };
            let announce_if = macvlan.clone().unwrap_or_else(|| cfg.interface.clone());
            let packet = PacketSocket::open(&announce_if)?;
            let socket = self.socket_for(config, cfg, family)?;
            let mut ec = cfg.election.clone();
            ec.primary_address = primary;
            if ec.carp_counter == 0 {
                ec.carp_counter = random_u64();
            }
            // The instance's own interface going down puts it in Fault.
            if !ec.tracks.iter().any(|t| t.name == cfg.interface) {
                ec.tracks.push(Track {
                    name: cfg.interface.clone(),
                    effect: TrackEffect::Fault,
                });
            }
            let vr = VirtualRouter::new(ec, now, &self.recent_starts).map_err(|source| {
                DaemonError::Config {
                    instance: cfg.name.clone(),
                    source,
                }
            })?;
            routers.push(vr);
            instances.push(Instance {
                cfg: cfg.clone(),
                group: 0,
                member: 0,
                socket,
                addr_ifindex,
                mac,
                macvlan,
                primary,
                packet,
                counters: Default::default(),
                last_transition: None,
                last_peer: None,
                group_name: unit.group.clone(),
            });
        }
        Ok(Prepared {
            unit,
            instances,
            group: SyncGroup::new(routers),
        })
    }

    /// The raw socket for `cfg`'s interface and family, opened if needed.
    fn socket_for(
        &mut self,
        config: &DaemonConfig,
        cfg: &InstanceConfig,
        family: Family,
    ) -> Result<usize, DaemonError> {
        let key = (cfg.interface.clone(), family);
        if let Some(i) = self.socket_keys.iter().position(|k| k.0 == key) {
            if cfg.delivery == Delivery::Multicast && !self.socket_keys[i].1 {
                return Err(DaemonError::Instance {
                    instance: cfg.name.clone(),
                    reason: format!(
                        "a multicast instance on {} ({family}) where only unicast ones ran: restart tandemd to join the group",
                        cfg.interface
                    ),
                });
            }
            return Ok(i);
        }
        let join = config.instances.iter().any(|c| {
            c.interface == cfg.interface
                && family_of(c) == family
                && c.delivery == Delivery::Multicast
        });
        self.sockets
            .push(RawSocket::open(&cfg.interface, family, cfg.source, join)?);
        self.socket_keys.push((key, join));
        let idx = self.sockets.len() - 1;
        if self.running {
            self.spawn_receiver(idx)?;
        }
        Ok(idx)
    }

    /// Adds a prepared unit to the running set.
    fn install(&mut self, p: Prepared) -> usize {
        let g = self.groups.len();
        let mut idx = Vec::new();
        for (m, mut inst) in p.instances.into_iter().enumerate() {
            inst.group = g;
            inst.member = m;
            idx.push(self.instances.len());
            self.instances.push(inst);
        }
        self.groups.push(p.group);
        self.members.push(idx);
        self.units.push(p.unit);
        g
    }

    /// The snapshot the control socket, health port and metrics read.
    pub fn snapshot(&self) -> Arc<std::sync::RwLock<crate::snapshot::NodeSnapshot>> {
        self.snapshot.clone()
    }

    /// A handle for other threads (the control socket) to reach the loop.
    pub fn control_handle(&self) -> ControlHandle {
        ControlHandle {
            tx: self.tx.clone(),
        }
    }

    /// Runs until SIGTERM or SIGINT, then stops every router gracefully.
    pub fn run(mut self) -> Result<(), DaemonError> {
        let tx = self.tx.clone();
        let Some(rx) = self.rx.take() else {
            return Ok(());
        };
        for i in 0..self.sockets.len() {
            self.spawn_receiver(i)?;
        }
        self.running = true;
        self.spawn_signals(&tx)?;
        self.spawn_link_monitor(&tx)?;
        // Tracked links that are already down.
        let tracked: Vec<String> = self
            .instances
            .iter()
            .flat_map(|i| i.cfg.track_interfaces.clone())
            .chain(self.instances.iter().map(|i| i.cfg.interface.clone()))
            .collect();
        let now = self.now();
        for name in tracked {
            if let Ok(idx) = netlink::ifindex(&name) {
                if !self.netlink.link_up(idx).unwrap_or(true) {
                    self.track(now, &name, false);
                }
            }
        }
        for g in 0..self.groups.len() {
            self.groups[g].handle_command(now, None, Command::Start);
            self.drain(g);
        }
        let result = self.event_loop(&rx);
        self.stop.store(true, Ordering::SeqCst);
        self.shutdown();
        result
    }

    fn now(&self) -> Instant {
        now_since(self.t0)
    }

    fn event_loop(&mut self, rx: &Receiver<Event>) -> Result<(), DaemonError> {
        loop {
            let now = self.now();
            let next = self.groups.iter().filter_map(SyncGroup::poll_timeout).min();
            let burst = self.bursts.iter().map(|b| b.next).min();
            let mut wait = next
                .map(|t| t.saturating_since(now))
                .unwrap_or(Duration::from_secs(1));
            if let Some(b) = burst {
                wait = wait.min(b.saturating_duration_since(std::time::Instant::now()));
            }
            // One batch: the event waited for, then every event already
            // queued, before the timers run and the snapshot is published.
            let mut event = rx.recv_timeout(wait);
            loop {
                match event {
                    Ok(Event::Stop) => return Ok(()),
                    // SIGHUP must not kill the node (its default action would).
                    Ok(Event::Reload) => self.reload(),
                    Ok(Event::Packet {
                        socket,
                        src,
                        dst,
                        ttl,
                        bytes,
                    }) => self.packet(socket, src, dst, ttl, &bytes),
                    Ok(Event::Control { req, reply }) => {
                        let answer = self.control(req);
                        let _ = reply.send(answer);
                    }
                    Ok(Event::Subscribe(tx)) => self.subscribers.push(tx),
                    Ok(Event::Link { name, up }) => {
                        let now = self.now();
                        self.track(now, &name, up);
                    }
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => return Ok(()),
                }
                match rx.try_recv() {
                    Ok(e) => event = Ok(e),
                    Err(_) => break,
                }
            }
            let now = self.now();
            for g in 0..self.groups.len() {
                if self.groups[g].poll_timeout().is_some_and(|t| t <= now) {
                    self.groups[g].handle_timeout(now);
                    self.drain(g);
                }
            }
            self.send_bursts();
            self.log_hooks();
            // A state change is published at once (the health port must
            // follow it); counters and "last heard" at most every 100 ms, so
            // that a Backup hearing many routers does not rebuild the
            // snapshot for every advert.
            if self.state_changed || self.published.elapsed() >= PUBLISH_EVERY {
                self.publish();
            }
        }
    }

    fn log_hooks(&mut self) {
        let lines: Vec<String> = self.hook_log.try_iter().collect();
        for l in lines {
            self.logline(&l);
        }
    }

    fn control(&mut self, req: ControlRequest) -> ControlReply {
        let now = self.now();
        match req {
            ControlRequest::Status => {
                self.publish();
                let snap = self
                    .snapshot
                    .read()
                    .map(|s| s.clone())
                    .unwrap_or_else(|e| e.into_inner().clone());
                ControlReply::Status(Box::new(snap))
            }
            ControlRequest::Failover { target } => {
                let groups: Vec<usize> = match &target {
                    None => (0..self.groups.len()).collect(),
                    Some(t) => {
                        let by_instance = self
                            .instances
                            .iter()
                            .filter(|i| &i.cfg.name == t)
                            .map(|i| i.group);
                        let by_group = self
                            .instances
                            .iter()
                            .filter(|i| i.group_name.as_ref() == Some(t))
                            .map(|i| i.group);
                        let mut g: Vec<usize> = by_instance.chain(by_group).collect();
                        g.sort_unstable();
                        g.dedup();
                        if g.is_empty() {
                            return ControlReply::Error(format!(
                                "no instance or sync group named {t:?}"
                            ));
                        }
                        g
                    }
                };
                let active: Vec<usize> = groups
                    .into_iter()
                    .filter(|g| {
                        self.groups[*g]
                            .members()
                            .iter()
                            .any(|m| m.state() == State::Active)
                    })
                    .collect();
                if active.is_empty() {
                    return ControlReply::Error(
                        "nothing to hand over: no such instance is Active on this node".into(),
                    );
                }
                let mut names = Vec::new();
                for g in active {
                    self.groups[g].handle_command(now, None, Command::Failover);
                    names.extend(
                        self.members[g]
                            .iter()
                            .map(|i| self.instances[*i].cfg.name.clone()),
                    );
                    self.drain(g);
                }
                ControlReply::Done(format!("handed over: {}", names.join(", ")))
            }
            ControlRequest::Maintenance { on } => {
                self.maintenance = on;
                for g in 0..self.groups.len() {
                    self.groups[g].handle_command(now, None, Command::Maintenance(on));
                    self.drain(g);
                }
                ControlReply::Done(format!("maintenance {}", if on { "on" } else { "off" }))
            }
            ControlRequest::ClearPacified => {
                for g in 0..self.groups.len() {
                    self.groups[g].handle_command(now, None, Command::ClearRestartGuard);
                    self.drain(g);
                }
                ControlReply::Done("restart guard cleared".into())
            }
        }
    }

    /// Rebuilds the snapshot and publishes it.
    fn publish(&mut self) {
        self.state_changed = false;
        self.published = std::time::Instant::now();
        use crate::snapshot::{
            InstanceStatus, Light, NodeSnapshot, PartnerView, RestartGuardStatus,
        };
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        let mut instances = Vec::with_capacity(self.instances.len());
        for inst in &self.instances {
            let vr = &self.groups[inst.group].members()[inst.member];
            let st = vr.status();
            let interval = st.active_interval;
            let partner = inst
                .last_peer
                .map(|(address, priority, resigned, at)| PartnerView {
                    address,
                    priority,
                    state: if resigned {
                        "resigning".into()
                    } else {
                        "Active".into()
                    },
                    last_heard_s: at.elapsed().as_secs_f64(),
                });
            let heard_recently = inst
                .last_peer
                .is_some_and(|(_, _, _, at)| at.elapsed() <= 3 * interval);
            let light = match (st.state, &st.passive) {
                (State::Fault, _) => Light::Fault,
                (_, Some(tandem_election::Reason::Pacified)) => Light::Pacified,
                (_, Some(_)) => Light::Maintenance,
                (State::Active, _) => Light::Active,
                (State::Backup, _) if heard_recently => Light::Standby,
                (State::Backup, _) => Light::PartnerUnreachable,
                (State::Initialize, _) => Light::Stopped,
            };
            let priority = match vr.config().protocol {
                tandem_election::Protocol::Carp { advskew, .. } => 255 - advskew,
                _ => st.priority.0,
            };
            instances.push(InstanceStatus {
                name: inst.cfg.name.clone(),
                interface: inst.cfg.interface.clone(),
                vrid: inst.cfg.election.vrid.get(),
                protocol: protocol_name(&inst.cfg).into(),
                group: inst.group_name.clone(),
                state: st.state.name().into(),
                priority,
                address: inst.primary,
                active_router: st.active_router,
                interval_ms: interval.as_secs_f64() * 1000.0,
                peer_checksum_modes: st
                    .peer_checksum_modes
                    .iter()
                    .map(|(a, m)| (*a, m.name().to_string()))
                    .collect(),
                last_transition: inst.last_transition.clone(),
                passive: st.passive.as_ref().map(|r| format!("{r:?}")),
                tracks_down: st.tracks_down.clone(),
                partner,
                counters: inst.counters.clone(),
                light,
            });
        }
        let pacified = instances.iter().any(|i| i.light == Light::Pacified);
        let mut groups = BTreeMap::new();
        for inst in &self.instances {
            if let Some(g) = &inst.group_name {
                groups
                    .entry(g.clone())
                    .or_insert_with(Vec::new)
                    .push(inst.cfg.name.clone());
            }
        }
        let light = NodeSnapshot::node_light(&instances);
        let snap = NodeSnapshot {
            version: env!("CARGO_PKG_VERSION").to_string(),
            uptime_s: self.t0.elapsed().as_secs_f64(),
            at_unix: wall,
            instances,
            groups,
            restart_guard: RestartGuardStatus {
                recent_starts: self.recent_starts.len() + 1,
                pacified,
            },
            maintenance: self.maintenance,
            light,
        };
        match self.snapshot.write() {
            Ok(mut w) => *w = snap,
            Err(e) => *e.into_inner() = snap,
        }
    }

    /// Queues the notify hook of a state change of the instance `cfg` and
    /// sends it to the event stream; returns it as the status shows it.
    fn report_transition(
        &mut self,
        cfg: &InstanceConfig,
        group: Option<String>,
        from: State,
        to: State,
        reason: &str,
    ) -> crate::snapshot::Transition {
        self.state_changed = true;
        let (name, vrid) = (cfg.name.clone(), cfg.election.vrid.get());
        let at_unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        let t = crate::snapshot::Transition {
            at_unix,
            from: from.name().into(),
            to: to.name().into(),
            reason: reason.into(),
        };
        let line = serde_json::json!({
            "at_unix": at_unix, "event": "state", "instance": name, "vrid": vrid,
            "from": t.from, "to": t.to, "reason": t.reason,
        });
        if let Some(notify) = &cfg.notify {
            self.hooks.run(
                notify,
                crate::hooks::HookEvent {
                    instance: name,
                    vrid,
                    interface: cfg.interface.clone(),
                    group,
                    from: t.from.clone(),
                    to: t.to.clone(),
                    reason: t.reason.clone(),
                    at_unix,
                },
            );
        }
        self.broadcast(line.to_string());
        t
    }

    /// Sends one event line to every subscriber, dropping those gone.
    fn broadcast(&mut self, line: String) {
        self.subscribers.retain(|s| s.send(line.clone()).is_ok());
    }

    fn packet(&mut self, socket: usize, src: IpAddr, dst: IpAddr, ttl: u8, bytes: &[u8]) {
        let now = self.now();
        let advert = match codec::decode(bytes, src, dst) {
            Ok(a) => a,
            Err(e) => {
                let kind = error_kind(&e).to_string();
                *self.counters.errors.entry(kind.clone()).or_default() += 1;
                // Count it on the instance its VRID byte names, if any.
                if let Some(i) = bytes.get(1).and_then(|v| {
                    self.instances
                        .iter()
                        .position(|i| i.socket == socket && i.cfg.election.vrid.get() == *v)
                }) {
                    *self.instances[i].counters.errors.entry(kind).or_default() += 1;
                }
                self.logline(&format!("dropped advert from {src}: {e}"));
                return;
            }
        };
        self.counters.received += 1;
        let vrid = advert.vrid();
        let kind = advert_kind(&advert);
        // The group whose member has this VRID and protocol on this socket.
        let target = self.instances.iter().find(|i| {
            i.socket == socket && i.cfg.election.vrid == vrid && protocol_kind(&i.cfg) == kind
        });
        let target = target.or_else(|| {
            self.instances
                .iter()
                .find(|i| i.socket == socket && i.cfg.election.vrid == vrid)
        });
        let Some(i) = target.map(|t| {
            self.instances
                .iter()
                .position(|i| std::ptr::eq(i, t))
                .unwrap_or(0)
        }) else {
            return;
        };
        let g = self.instances[i].group;
        let (priority, resigned) = match &advert {
            Advert::Vrrp3 { repr, .. } => (repr.priority.0, repr.priority.0 == 0),
            Advert::Vrrp2(r) => (r.priority.0, r.priority.0 == 0),
            Advert::Carp { repr, .. } => (
                255 - repr.advskew,
                repr.advbase == 255 && repr.advskew == 255,
            ),
        };
        self.instances[i].counters.adverts_received += 1;
        if ttl == 255 {
            self.instances[i].last_peer =
                Some((src, priority, resigned, std::time::Instant::now()));
        }
        self.groups[g].handle_advert(
            now,
            Received {
                src,
                ttl,
                advert: &advert,
            },
        );
        self.drain(g);
    }

    fn track(&mut self, now: Instant, name: &str, up: bool) {
        for g in 0..self.groups.len() {
            for (m, &i) in self.members[g].clone().iter().enumerate() {
                let cfg = &self.instances[i].cfg;
                if cfg.interface == name || cfg.track_interfaces.iter().any(|t| t == name) {
                    let cmd = if up {
                        Command::TrackUp(name.to_string())
                    } else {
                        Command::TrackDown(name.to_string())
                    };
                    self.groups[g].handle_command(now, Some(m), cmd);
                }
            }
            self.drain(g);
        }
    }

    /// Carries out group `g`'s actions.
    fn drain(&mut self, g: usize) {
        while let Some((m, action)) = self.groups[g].poll_action() {
            let i = self.members[g][m];
            self.act(i, action);
        }
    }

    fn act(&mut self, i: usize, action: Action) {
        let mut msgs = Vec::new();
        self.carry_out(i, action, &mut msgs);
        for m in msgs {
            self.logline(&m);
        }
    }

    fn carry_out(&mut self, i: usize, action: Action, msgs: &mut Vec<String>) {
        let inst = &self.instances[i];
        let name = inst.cfg.name.clone();
        match action {
            Action::SendAdvert(adv) => {
                let sent = send_advert(&self.sockets, inst, &adv, msgs);
                self.counters.sent += sent;
                self.instances[i].counters.adverts_sent += sent;
            }
            Action::AddAddresses { addresses, .. } => {
                for a in &addresses {
                    let prefix = prefix_of(&inst.cfg, *a);
                    if let Err(e) = self.netlink.add_address(inst.addr_ifindex, *a, prefix) {
                        msgs.push(format!(
                            "instance={name} add address {a}/{prefix} failed: {e}"
                        ));
                    }
                }
            }
            Action::RemoveAddresses(addresses) => {
                remove_addresses(&mut self.netlink, inst, &addresses, msgs);
            }
            Action::Announce {
                addresses,
                repeat,
                spacing,
            } => {
                let frames = frame::announcements(inst.mac, &addresses, router_flag(&inst.cfg));
                let packet = match inst.packet.try_clone() {
                    Ok(p) => p,
                    Err(e) => {
                        msgs.push(format!("instance={name} cannot announce: {e}"));
                        return;
                    }
                };
                self.bursts.push(Burst {
                    packet,
                    frames,
                    left: repeat.max(1),
                    spacing,
                    next: std::time::Instant::now(),
                });
                self.send_bursts();
            }
            Action::StateChanged { from, to, reason } => {
                let vrid = inst.cfg.election.vrid.get();
                msgs.push(format!(
                    "instance={name} vrid={vrid} state {} -> {} reason={reason:?}",
                    from.name(),
                    to.name()
                ));
                let (cfg, group) = (inst.cfg.clone(), inst.group_name.clone());
                let t = self.report_transition(&cfg, group, from, to, &format!("{reason:?}"));
                let inst = &mut self.instances[i];
                inst.counters.transitions += 1;
                inst.last_transition = Some(t);
            }
            Action::Diagnostic(d) => {
                let kind = diagnostic_kind(&d);
                *self.counters.errors.entry(kind.into()).or_default() += 1;
                *self.instances[i]
                    .counters
                    .errors
                    .entry(kind.into())
                    .or_default() += 1;
                let message = explain(&d);
                let at_unix = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_secs_f64();
                let line = serde_json::json!({
                    "at_unix": at_unix, "event": "diagnostic", "instance": name,
                    "vrid": self.instances[i].cfg.election.vrid.get(), "kind": kind, "message": message,
                });
                self.broadcast(line.to_string());
                msgs.push(format!("instance={name} {message}"));
            }
        }
    }

    fn send_bursts(&mut self) {
        let now = std::time::Instant::now();
        let mut k = 0;
        while k < self.bursts.len() {
            if self.bursts[k].next <= now {
                let b = &mut self.bursts[k];
                for f in &b.frames {
                    let _ = b.packet.send(f);
                }
                b.left -= 1;
                b.next = now + b.spacing;
                if b.left == 0 {
                    self.bursts.swap_remove(k);
                    continue;
                }
            }
            k += 1;
        }
    }

    /// SIGHUP: reads the configuration again and applies the difference.
    /// Units (sync groups, lone instances) whose configuration is unchanged
    /// keep running untouched: no flap, no re-announce. Changed and removed
    /// ones stop gracefully; changed and added ones start. Nothing changes
    /// if the new configuration or any new unit cannot be set up.
    fn reload(&mut self) {
        let Some(path) = self.config_path.clone() else {
            self.logline("SIGHUP: started from flags, nothing to reload");
            return;
        };
        let config = match crate::config::load(&path) {
            Ok(c) => c,
            Err(e) => {
                self.logline(&format!("SIGHUP: configuration unchanged: {e}"));
                return;
            }
        };
        // [global] (state_dir, control_socket, health) applies from the next start.
        let new_units = units_of(&config);
        let keep: Vec<bool> = self.units.iter().map(|u| new_units.contains(u)).collect();
        let mut prepared = Vec::new();
        let added: Vec<Unit> = new_units
            .iter()
            .filter(|u| !self.units.contains(u))
            .cloned()
            .collect();
        for unit in added {
            match self.prepare(&config, unit, false) {
                Ok(p) => prepared.push(p),
                Err(e) => {
                    self.logline(&format!("SIGHUP: configuration unchanged: {e}"));
                    return;
                }
            }
        }
        // Stop what goes away (gracefully), keep the rest as it is.
        let now = self.now();
        let mut old_groups = std::mem::take(&mut self.groups);
        let old_members = std::mem::take(&mut self.members);
        let old_units = std::mem::take(&mut self.units);
        let mut old_instances: Vec<Option<Instance>> = std::mem::take(&mut self.instances)
            .into_iter()
            .map(Some)
            .collect();
        let mut stopped = Vec::new();
        for (g, group) in old_groups.iter_mut().enumerate() {
            if keep[g] {
                continue;
            }
            group.handle_command(now, None, Command::Shutdown);
            while let Some((m, action)) = group.poll_action() {
                let i = old_members[g][m];
                if let Some(inst) = old_instances[i].as_ref() {
                    // Its last transition runs its hook and reaches the
                    // event stream like any other.
                    if let Action::StateChanged { from, to, reason } = &action {
                        let (cfg, group) = (&inst.cfg, inst.group_name.clone());
                        self.report_transition(cfg, group, *from, *to, &format!("{reason:?}"));
                    }
                    let mut msgs = Vec::new();
                    carry_out_stopping(&mut self.netlink, &self.sockets, inst, action, &mut msgs);
                    for m in msgs {
                        self.logline(&m);
                    }
                }
            }
            for &i in &old_members[g] {
                if let Some(inst) = old_instances[i].take() {
                    if let Some(name) = &inst.macvlan {
                        let _ = self.netlink.delete_link(name);
                    }
                    stopped.push(inst.cfg.name);
                }
            }
        }
        // Reinstall the kept units in their new order, then the new ones.
        let mut kept_groups: Vec<Option<SyncGroup>> = old_groups.into_iter().map(Some).collect();
        for unit in &new_units {
            if let Some(g) = old_units
                .iter()
                .position(|u| u == unit)
                .filter(|g| keep[*g])
            {
                let instances = old_members[g]
                    .iter()
                    .filter_map(|i| old_instances[*i].take())
                    .collect();
                let group = kept_groups[g]
                    .take()
                    .expect("each kept group is moved once");
                self.install(Prepared {
                    unit: unit.clone(),
                    instances,
                    group,
                });
            }
        }
        let mut started = Vec::new();
        for p in prepared {
            started.extend(p.unit.instances.iter().map(|c| c.name.clone()));
            let g = self.install(p);
            self.groups[g].handle_command(now, None, Command::Start);
            self.drain(g);
        }
        self.logline(&format!(
            "SIGHUP: configuration reloaded; stopped [{}], started [{}], {} unchanged",
            stopped.join(", "),
            started.join(", "),
            keep.iter().filter(|k| **k).count()
        ));
    }

    fn shutdown(&mut self) {
        let now = self.now();
        for g in 0..self.groups.len() {
            self.groups[g].handle_command(now, None, Command::Shutdown);
            self.drain(g);
        }
        for i in 0..self.instances.len() {
            if let Some(name) = self.instances[i].macvlan.clone() {
                let _ = self.netlink.delete_link(&name);
            }
        }
        // Let the hooks of these last transitions run (the runner waits for
        // its workers when dropped), then log what they said.
        let (tx, _) = mpsc::channel();
        drop(std::mem::replace(
            &mut self.hooks,
            crate::hooks::HookRunner::new(tx),
        ));
        self.log_hooks();
        self.logline("stopped");
    }

    fn logline(&mut self, msg: &str) {
        let t = self.t0.elapsed().as_secs_f64();
        let _ = writeln!(self.log, "tandemd[{t:.3}] {msg}");
    }

    fn spawn_receiver(&self, idx: usize) -> Result<(), DaemonError> {
        let sock = self.sockets[idx].try_clone()?;
        sock.set_read_timeout(Some(Duration::from_millis(200)))?;
        let tx = self.tx.clone();
        let stop = self.stop.clone();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 65536];
            while !stop.load(Ordering::SeqCst) {
                match sock.recv(&mut buf) {
                    Ok(p) => {
                        let bytes = buf[p.payload.clone()].to_vec();
                        let ev = Event::Packet {
                            socket: idx,
                            src: p.src,
                            dst: p.dst,
                            ttl: p.ttl,
                            bytes,
                        };
                        if tx.send(ev).is_err() {
                            return;
                        }
                    }
                    Err(_) => continue, // timeouts let the thread notice `stop`
                }
            }
        });
        Ok(())
    }

    fn spawn_signals(&self, tx: &Sender<Event>) -> Result<(), DaemonError> {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGHUP])
            .map_err(DaemonError::Signals)?;
        let tx = tx.clone();
        std::thread::spawn(move || {
            for sig in signals.forever() {
                let stop = sig != SIGHUP;
                let ev = if stop { Event::Stop } else { Event::Reload };
                if tx.send(ev).is_err() || stop {
                    return;
                }
            }
        });
        Ok(())
    }

    fn spawn_link_monitor(&self, tx: &Sender<Event>) -> Result<(), DaemonError> {
        let mut mon = LinkMonitor::open()?;
        let tx = tx.clone();
        std::thread::spawn(move || loop {
            match mon.next() {
                Ok(events) => {
                    for e in events {
                        if tx
                            .send(Event::Link {
                                name: e.name,
                                up: e.up,
                            })
                            .is_err()
                        {
                            return;
                        }
                    }
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        });
        Ok(())
    }

    /// The state of every instance, by name.
    pub fn states(&self) -> HashMap<String, State> {
        self.instances
            .iter()
            .map(|i| {
                (
                    i.cfg.name.clone(),
                    self.groups[i.group].members()[i.member].state(),
                )
            })
            .collect()
    }
}

/// The Router flag of unsolicited NAs: RFC 9568 6.4.1 / 6.4.2 set it for
/// a VRRP virtual router; CARP addresses need not belong to a router.
fn router_flag(cfg: &InstanceConfig) -> bool {
    matches!(
        cfg.election.protocol,
        tandem_election::Protocol::Vrrp3 { .. }
    )
}

/// Carries out the last actions of an instance being stopped by a reload
/// (its priority-0 advert, the removal of its addresses).
fn carry_out_stopping(
    netlink: &mut Netlink,
    sockets: &[RawSocket],
    inst: &Instance,
    action: Action,
    msgs: &mut Vec<String>,
) {
    let name = &inst.cfg.name;
    match action {
        Action::SendAdvert(adv) => {
            send_advert(sockets, inst, &adv, msgs);
        }
        Action::RemoveAddresses(addresses) => remove_addresses(netlink, inst, &addresses, msgs),
        Action::StateChanged { from, to, reason } => {
            msgs.push(format!(
                "instance={name} vrid={} state {} -> {} reason={reason:?}",
                inst.cfg.election.vrid.get(),
                from.name(),
                to.name()
            ));
        }
        _ => {}
    }
}

/// Sends `adv` for `inst` to the group, the broadcast address or each
/// unicast peer; returns how many copies went out.
fn send_advert(
    sockets: &[RawSocket],
    inst: &Instance,
    adv: &Advert,
    msgs: &mut Vec<String>,
) -> u64 {
    let src = inst.primary;
    let dsts: Vec<IpAddr> = match &inst.cfg.delivery {
        Delivery::Multicast => vec![codec::group_of(src)],
        Delivery::Broadcast => vec![IpAddr::V4(Ipv4Addr::BROADCAST)],
        Delivery::Unicast(peers) => peers.clone(),
    };
    let mut sent = 0;
    for dst in dsts {
        let Some(bytes) = codec::encode(adv, src, dst) else {
            continue;
        };
        match sockets[inst.socket].send(&bytes, dst) {
            Ok(()) => sent += 1,
            Err(e) => msgs.push(format!(
                "instance={} send to {dst} failed: {e}",
                inst.cfg.name
            )),
        }
    }
    sent
}

/// Takes `addresses` of `inst` off its interface.
fn remove_addresses(
    netlink: &mut Netlink,
    inst: &Instance,
    addresses: &[IpAddr],
    msgs: &mut Vec<String>,
) {
    for a in addresses {
        let prefix = prefix_of(&inst.cfg, *a);
        if let Err(e) = netlink.remove_address(inst.addr_ifindex, *a, prefix) {
            msgs.push(format!(
                "instance={} remove address {a}/{prefix} failed: {e}",
                inst.cfg.name
            ));
        }
    }
}

fn prefix_of(cfg: &InstanceConfig, a: IpAddr) -> u8 {
    cfg.election
        .addresses
        .iter()
        .position(|v| *v == a)
        .and_then(|i| cfg.prefixes.get(i).copied())
        .unwrap_or(if a.is_ipv4() { 32 } else { 128 })
}

fn advert_kind(a: &Advert) -> u8 {
    match a {
        Advert::Vrrp3 { .. } => 3,
        Advert::Vrrp2(_) => 2,
        Advert::Carp { .. } => 0,
    }
}

fn protocol_name(cfg: &InstanceConfig) -> &'static str {
    match cfg.election.protocol {
        tandem_election::Protocol::Vrrp3 { .. } => "vrrp3",
        tandem_election::Protocol::Vrrp2 { .. } => "vrrp2",
        tandem_election::Protocol::Carp { .. } => "carp",
    }
}

/// The counter name of a diagnostic.
pub fn diagnostic_kind(d: &Diagnostic) -> &'static str {
    match d {
        Diagnostic::DuplicateVrid { .. } => "duplicate_vrid",
        Diagnostic::AuthFailure { .. } => "auth",
        Diagnostic::BadTtl { .. } => "bad_ttl",
        Diagnostic::SplitBrain { .. } => "split_brain",
        Diagnostic::SplitBrainResolved => "split_brain_resolved",
        Diagnostic::Silence { .. } => "silence",
        Diagnostic::PeerHeard { .. } => "peer_heard",
        Diagnostic::VersionMismatch { .. } => "version",
        Diagnostic::IntervalMismatch { .. } => "interval",
        Diagnostic::ChecksumMode { .. } => "checksum_mode",
        Diagnostic::OwnAdvertLooped => "looped",
        Diagnostic::Pacified { .. } => "pacified",
        _ => "other",
    }
}

fn protocol_kind(cfg: &InstanceConfig) -> u8 {
    match cfg.election.protocol {
        tandem_election::Protocol::Vrrp3 { .. } => 3,
        tandem_election::Protocol::Vrrp2 { .. } => 2,
        tandem_election::Protocol::Carp { .. } => 0,
    }
}

fn error_kind(e: &tandem_wire::DecodeError) -> &'static str {
    use tandem_wire::DecodeError as E;
    match e {
        E::Truncated { .. }
        | E::BadLength { .. }
        | E::AddressCountMismatch { .. }
        | E::NoAddresses => "length",
        E::BadVersion { .. } | E::UnknownVersion(_) => "version",
        E::BadType(_) => "type",
        E::BadChecksum { .. } => "checksum",
        E::ZeroInterval => "interval",
        E::UnknownAuthType(_) | E::BadAuthLen(_) => "auth",
        E::BadHmac | E::BadAhIcv => "auth",
        E::ZeroVrid => "vrid",
        _ => "malformed",
    }
}

/// A diagnostic in words an operator can act on.
pub fn explain(d: &Diagnostic) -> String {
    use tandem_election::AuthFailure;
    match d {
        Diagnostic::DuplicateVrid { src, addresses } => format!(
            "duplicate VRID: {src} advertises the same VRID with addresses {addresses:?}: check the VRID and addresses on both nodes"
        ),
        Diagnostic::AuthFailure { src, what } => match what {
            AuthFailure::BadHmac => format!("bad HMAC from {src}: check vhid, password and virtual addresses"),
            AuthFailure::AuthType => format!("authentication type from {src} differs from ours: check auth on both nodes"),
            AuthFailure::Password => format!("wrong password from {src}: check the password on both nodes"),
        },
        Diagnostic::BadTtl { src, ttl } => format!("TTL {ttl} from {src}: sender is not on this link (dropped)"),
        Diagnostic::SplitBrain { other, other_priority, we_win: true } => format!(
            "split brain: {other} (priority {}) is Active too; we keep the role and it yields",
            other_priority.0
        ),
        Diagnostic::SplitBrain { other, other_priority, we_win: false } => format!(
            "{other} (priority {}) is Active with a better claim: yielding to it (a preemption, or the end of a split brain)",
            other_priority.0
        ),
        Diagnostic::SplitBrainResolved => "split brain resolved: announcing the addresses again".to_string(),
        Diagnostic::Silence { intervals } => format!(
            "no advert from any peer for {intervals} intervals: check the peer, multicast filtering and IGMP snooping"
        ),
        Diagnostic::PeerHeard { src } => format!("peer {src} heard again"),
        Diagnostic::VersionMismatch { src, theirs, ours } => {
            format!("{src} speaks version {theirs}, we speak {ours}: set the same protocol version on both nodes")
        }
        Diagnostic::IntervalMismatch { src, theirs, ours } => {
            format!("{src} advertises every {theirs:?}, we every {ours:?}: VRRPv2 drops its adverts; set the same interval")
        }
        Diagnostic::ChecksumMode { src, theirs, ours } => format!(
            "{src} uses checksum form {}, we use {}: set checksum = \"auto\" or match the peer",
            theirs.name(),
            ours.name()
        ),
        Diagnostic::OwnAdvertLooped => "our own advert came back (network loop or replay)".to_string(),
        Diagnostic::Pacified { starts, window } => format!(
            "pacified: started {starts} times within {window:?}; staying passive until `tandemd clear-pacified`"
        ),
        other => format!("{other:?}"),
    }
}

/// An unspecified address of `family`, the placeholder before the daemon
/// knows the interface's own address.
pub fn unspecified(family: Family) -> IpAddr {
    match family {
        Family::V4 => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        Family::V6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    }
}
