//! The Linux host: raw sockets, netlink, packet sockets, hooks, the event
//! stream, the published status. It carries out what the Node decided and
//! hands it what arrived; it decides nothing.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crossbeam_channel::{bounded, select, Receiver, Sender};
use tandem_time::Instant;

use super::fanout::Subscribers;
use super::replication::Replication;
use super::sync_tcp::{SyncTcp, Taken};
use super::threads::{self, Clock, ControlHandle, HostEvent, Packet, QueueCounters};
use super::{DriveError, Host};
use crate::control::api::ControlReply;
use crate::node::{Event, EventKind, Input, Level, Output, ReplyTo};
use crate::snapshot::NodeSnapshot;
use crate::sys::netlink::Netlink;
use crate::sys::packet::PacketSocket;
use crate::sys::raw::RawSocket;

/// Inputs handed to the Node per turn of the loop, at most, of each kind.
const BATCH: usize = 256;
/// The longest the loop sleeps without a timer (hook lines are logged then).
const IDLE_WAKE: Duration = Duration::from_millis(500);

/// The Linux host. Built by [`super::start`].
pub struct LinuxHost {
    pub(super) clock: Clock,
    pub(super) netlink: Netlink,
    pub(super) sockets: Vec<RawSocket>,
    /// (interface, family) of each socket, and whether it joined the group.
    pub(super) socket_keys: Vec<((String, tandem_wire::Family), bool)>,
    /// Announcement (packet) sockets by interface.
    pub(super) announcers: HashMap<String, PacketSocket>,
    packets_tx: Sender<Packet>,
    packets: Receiver<Packet>,
    events: Receiver<HostEvent>,
    pub(super) events_tx: Sender<HostEvent>,
    pub(super) queue_counters: Arc<QueueCounters>,
    pub(super) stop: Arc<AtomicBool>,
    /// Inputs the host made itself (set-up results), handed over first.
    pending: VecDeque<Input>,
    snapshot: Arc<RwLock<NodeSnapshot>>,
    /// The event stream's readers (bounded queues, counted drops).
    subscribers: Subscribers,
    /// The embedding appliance's typed events, if it asked for them.
    embedder: Option<(Sender<super::HandleEvent>, u64)>,
    hooks: Option<crate::hooks::HookRunner>,
    checks: super::checks::CheckRunner,
    hook_log: std::sync::mpsc::Receiver<String>,
    replies: HashMap<ReplyTo, Sender<ControlReply>>,
    next_reply: ReplyTo,
    /// Where SIGHUP reloads from (`None`: started from flags).
    config_path: Option<PathBuf>,
    /// Log lines the writer dropped (tandemd's non-blocking log).
    log_drops: Option<tracing_appender::non_blocking::ErrorCounter>,
    /// Host warnings (failed sends, ...) last logged, to rate-limit them.
    warned: HashMap<String, (Instant, u64)>,
    /// The configuration-sync connection.
    sync_tcp: SyncTcp,
    /// The replication link.
    replication: Replication,
    /// The service manager, when it listens (`Options::service_manager`).
    pub(super) notify: Option<super::notify::ServiceNotify>,
}

impl LinuxHost {
    /// A host with nothing set up yet.
    pub(super) fn new(
        config_path: Option<PathBuf>,
        embedder: Option<Sender<super::HandleEvent>>,
        log_drops: Option<tracing_appender::non_blocking::ErrorCounter>,
    ) -> Result<LinuxHost, DriveError> {
        let (packets_tx, packets) = bounded(threads::PACKET_QUEUE);
        let (events_tx, events) = bounded(threads::EVENT_QUEUE);
        let (hook_tx, hook_log) = std::sync::mpsc::channel();
        Ok(LinuxHost {
            clock: Clock(std::time::Instant::now()),
            netlink: Netlink::open()?,
            sockets: Vec::new(),
            socket_keys: Vec::new(),
            announcers: HashMap::new(),
            packets_tx,
            packets,
            events,
            events_tx,
            queue_counters: Arc::default(),
            stop: Arc::new(AtomicBool::new(false)),
            pending: VecDeque::new(),
            snapshot: Arc::new(RwLock::new(NodeSnapshot::empty())),
            subscribers: Subscribers::default(),
            embedder: embedder.map(|tx| (tx, 0)),
            hooks: Some(crate::hooks::HookRunner::new(hook_tx)),
            checks: super::checks::CheckRunner::new(),
            hook_log,
            replies: HashMap::new(),
            next_reply: 0,
            config_path,
            log_drops,
            warned: HashMap::new(),
            sync_tcp: SyncTcp::new(),
            replication: Replication::new(),
            notify: None,
        })
    }

    /// The published status the control socket, health port and metrics read.
    pub fn snapshot(&self) -> Arc<RwLock<NodeSnapshot>> {
        self.snapshot.clone()
    }

    /// A handle for other threads to reach the loop.
    pub fn control_handle(&self) -> ControlHandle {
        ControlHandle {
            tx: self.events_tx.clone(),
        }
    }

    pub(super) fn spawn_receiver(
        &self,
        sock: &RawSocket,
        idx: usize,
    ) -> Result<(), crate::sys::SysError> {
        threads::spawn_receiver(
            sock,
            idx,
            self.clock,
            self.packets_tx.clone(),
            self.queue_counters.clone(),
            self.stop.clone(),
        )
    }

    fn reply_token(&mut self, reply: Sender<ControlReply>) -> ReplyTo {
        self.next_reply += 1;
        self.replies.insert(self.next_reply, reply);
        self.next_reply
    }

    fn host_event(&mut self, ev: HostEvent, inputs: &mut Vec<Input>) {
        let at = self.clock.now();
        match ev {
            HostEvent::Link { name, up } => inputs.push(Input::Link { at, name, up }),
            HostEvent::Track { name, state } => inputs.push(Input::Track { at, name, state }),
            HostEvent::Stop => {
                if let Some(n) = &mut self.notify {
                    n.stopping(at);
                }
                inputs.push(Input::Shutdown { at });
            }
            HostEvent::Control { request, reply } => {
                let reply = self.reply_token(reply);
                inputs.push(Input::Control { at, request, reply });
            }
            HostEvent::Configure { config, reply } => {
                let reply = reply.map(|r| self.reply_token(r));
                inputs.push(Input::Configure { at, config, reply });
            }
            HostEvent::ConfigureFile { file, reply } => {
                let reply = reply.map(|r| self.reply_token(r));
                inputs.push(Input::ConfigureFile {
                    at,
                    file,
                    reply,
                    wait_partner: false,
                });
            }
            HostEvent::Subscribe(tx) => self.subscribers.add(tx),
            HostEvent::Wake => {}
            HostEvent::CheckDone { name, result } => {
                inputs.push(Input::CheckDone { at, name, result })
            }
            HostEvent::CloudHookDone {
                id,
                result,
                elapsed,
            } => inputs.push(Input::CloudHookDone {
                at,
                id,
                result,
                elapsed,
            }),
            HostEvent::Reload => {
                let Some(path) = self.config_path.clone() else {
                    tracing::info!("SIGHUP: started from flags, nothing to reload");
                    return;
                };
                if let Some(n) = &mut self.notify {
                    n.reloading(at);
                }
                let file = super::files::config_file(&path, &path, None).map(Box::new);
                inputs.push(Input::ConfigureFile {
                    at,
                    file,
                    reply: None,
                    wait_partner: false,
                });
            }
        }
    }

    /// Logs an event, sends it to the event stream and to the embedding
    /// appliance. Never blocks: full queues drop and count.
    fn event(&mut self, ev: Event) {
        if let (Some(n), EventKind::Reloaded { .. } | EventKind::ReloadFailed { .. }) =
            (&mut self.notify, &ev.kind)
        {
            n.reloaded(self.clock.now());
        }
        let line = ev.kind.to_string();
        match ev.kind.level() {
            Level::Info => tracing::info!(event = ev.kind.name(), "{line}"),
            Level::Warn => tracing::warn!(event = ev.kind.name(), "{line}"),
            Level::Error => tracing::error!(event = ev.kind.name(), "{line}"),
        }
        if !self.subscribers.is_empty() {
            self.subscribers.push(ev.at_unix, &ev.to_json().to_string());
        }
        if let Some((tx, missed)) = &mut self.embedder {
            if *missed > 0 && tx.try_send(super::HandleEvent::Missed(*missed)).is_ok() {
                *missed = 0;
            }
            if *missed > 0 || tx.try_send(super::HandleEvent::Event(ev)).is_err() {
                *missed += 1;
            }
        }
    }

    /// Logs a host failure, at most once per key every 10 s, with a count
    /// of the repeats.
    fn warn(&mut self, key: String, message: impl FnOnce() -> String) {
        let now = self.clock.now();
        let every = Duration::from_secs(10);
        match self.warned.get_mut(&key) {
            Some((last, n)) if now.saturating_since(*last) < every => *n += 1,
            Some((last, n)) => {
                let more = std::mem::take(n);
                *last = now;
                tracing::warn!("{} ({more} more like it in the last 10 s)", message());
            }
            None => {
                if self.warned.len() < 1024 {
                    self.warned.insert(key, (now, 0));
                }
                tracing::warn!("{}", message());
            }
        }
    }

    fn log_hooks(&mut self) {
        for line in self.hook_log.try_iter().take(BATCH) {
            tracing::info!(event = "hook", "{line}");
        }
    }

    fn publish(&mut self, mut snap: NodeSnapshot) {
        snap.counters.input_queue_drops =
            self.queue_counters.packets_dropped.load(Ordering::Relaxed);
        snap.counters.log_lines_dropped = self
            .log_drops
            .as_ref()
            .map_or(0, |c| c.dropped_lines() as u64);
        snap.counters.event_lines_dropped = self.subscribers.lines_dropped;
        snap.counters.subscribers_dropped = self.subscribers.dropped;
        if let Some(r) = &mut snap.replication {
            let c = &self.replication.counters;
            r.datagrams_dropped = c.datagrams_dropped.load(Ordering::Relaxed);
            r.foreign_source = c.foreign_source.load(Ordering::Relaxed);
            r.truncated = c.truncated.load(Ordering::Relaxed);
            r.send_failed = c.send_failed.load(Ordering::Relaxed);
            r.table_events_lost = c.events_lost.load(Ordering::Relaxed);
        }
        let sync = &self.sync_tcp.counters;
        snap.counters.sync_connections_refused = sync.refused.load(Ordering::Relaxed);
        snap.counters.sync_write_queue_full = sync.queue_full.load(Ordering::Relaxed);
        if let Some(n) = &mut self.notify {
            n.published(self.clock.now(), &snap);
        }
        match self.snapshot.write() {
            Ok(mut w) => *w = snap,
            Err(e) => *e.into_inner() = snap,
        }
    }
}

impl Host for LinuxHost {
    fn now(&mut self) -> Instant {
        self.clock.now()
    }

    fn wait(&mut self, deadline: Option<Instant>, inputs: &mut Vec<Input>) {
        self.log_hooks();
        if !self.pending.is_empty() {
            inputs.extend(self.pending.drain(..));
            return;
        }
        let now = self.clock.now();
        // The service manager's watchdog is pinged from this thread, so a
        // loop that stalls stops pinging it.
        let deadline = match self.notify.as_mut() {
            Some(n) => {
                n.turn(now);
                match (deadline, n.deadline()) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                }
            }
            None => deadline,
        };
        let timeout = deadline.map_or(IDLE_WAKE, |d| d.saturating_since(now).min(IDLE_WAKE));
        // Requests and link events first: a packet flood must not delay them.
        select! {
            recv(self.events) -> ev => if let Ok(ev) = ev { self.host_event(ev, inputs) },
            recv(self.sync_tcp.rx) -> ev => if let Ok(ev) = ev { self.sync_event(ev, inputs) },
            recv(self.replication.table_rx) -> ev => if let Ok(i) = ev { inputs.push(i) },
            recv(self.replication.rx) -> ev => if let Ok(i) = ev { inputs.push(i) },
            recv(self.packets) -> p => if let Ok(p) = p { inputs.push(packet_input(p)) },
            default(timeout) => {},
        }
        for _ in 0..BATCH {
            let Ok(ev) = self.events.try_recv() else {
                break;
            };
            self.host_event(ev, inputs);
        }
        for _ in 0..BATCH {
            let Ok(ev) = self.sync_tcp.rx.try_recv() else {
                break;
            };
            self.sync_event(ev, inputs);
        }
        inputs.extend(self.packets.try_iter().take(BATCH).map(packet_input));
        for rx in [&self.replication.table_rx, &self.replication.rx] {
            inputs.extend(rx.try_iter().take(BATCH));
        }
    }

    fn carry_out(&mut self, output: Output) -> Result<bool, DriveError> {
        match output {
            Output::SendAdvert { socket, dst, bytes } => {
                if let Some(s) = self.sockets.get(socket) {
                    if let Err(e) = s.send(&bytes, dst) {
                        self.warn(format!("send {socket} {dst}"), || {
                            format!("send to {dst} failed: {e}")
                        });
                    }
                }
            }
            Output::SendFrames { interface, frames } => {
                if let Some(p) = self.announcers.get(&interface) {
                    let mut failed = None;
                    for f in &frames {
                        if let Err(e) = p.send(f) {
                            failed = Some(e);
                        }
                    }
                    if let Some(e) = failed {
                        self.warn(format!("announce {interface}"), || {
                            format!("announcement on {interface} failed: {e}")
                        });
                    }
                }
            }
            Output::AddAddresses {
                instance,
                ifindex,
                addresses,
            } => {
                for (a, prefix) in addresses {
                    if let Err(e) = self.netlink.add_address(ifindex, a, prefix) {
                        tracing::error!("instance={instance} add address {a}/{prefix} failed: {e}");
                    }
                }
            }
            Output::RemoveAddresses {
                instance,
                ifindex,
                addresses,
            } => {
                for (a, prefix) in addresses {
                    if let Err(e) = self.netlink.remove_address(ifindex, a, prefix) {
                        tracing::error!(
                            "instance={instance} remove address {a}/{prefix} failed: {e}"
                        );
                    }
                }
            }
            Output::DeleteLink { name } => {
                self.announcers.remove(&name);
                let _ = self.netlink.delete_link(&name);
            }
            Output::RunHook { notify, event } => {
                if let Some(h) = &self.hooks {
                    h.run(&notify, *event);
                }
            }
            Output::RunCheck {
                name,
                probe,
                timeout,
            } => {
                let tx = self.events_tx.clone();
                let n = name.clone();
                // On the probe's worker thread: waits for room in the
                // loop's queue as the other senders do, never the loop.
                let done = Box::new(move |result| {
                    let ev = HostEvent::CheckDone { name: n, result };
                    let _ = tx.send_timeout(ev, threads::REPLY_TIMEOUT);
                });
                if let Err(result) = self.checks.run(*probe, timeout, done) {
                    let at = self.clock.now();
                    self.pending
                        .push_back(Input::CheckDone { at, name, result });
                }
            }
            Output::RunCloudHook { id, run } => {
                if let Some(h) = &self.hooks {
                    let tx = self.events_tx.clone();
                    // On the hook's worker thread: waits for room in the
                    // loop's queue as the other senders do, never the loop.
                    let done = Box::new(move |result, elapsed| {
                        let ev = HostEvent::CloudHookDone {
                            id,
                            result,
                            elapsed,
                        };
                        let _ = tx.send_timeout(ev, threads::REPLY_TIMEOUT);
                    });
                    h.run_command(run, done);
                }
            }
            Output::Event(ev) => self.event(ev),
            Output::PublishStatus(snap) => self.publish(*snap),
            Output::Reply { to, reply } => {
                if let Some(tx) = self.replies.remove(&to) {
                    let _ = tx.try_send(reply);
                }
            }
            Output::SetUp(plan) => {
                let result = self.set_up(&plan);
                if plan.initial {
                    if let Err(e) = &result {
                        return Err(DriveError::SetUp(e.0.clone()));
                    }
                    if let Some(n) = &mut self.notify {
                        n.set_up();
                    }
                }
                let at = self.clock.now();
                self.pending.push_back(Input::SetUp { at, plan, result });
            }
            Output::WriteFile {
                path,
                text,
                private,
                token,
            } => {
                let result = crate::file::write_atomic(&path, text.as_bytes(), private)
                    .map_err(|e| e.to_string());
                let at = self.clock.now();
                self.pending.push_back(Input::Written { at, token, result });
            }
            Output::ReadConfig { path, reply } => {
                let target = self.config_path.clone().unwrap_or_else(|| path.clone());
                let file = super::files::config_file(&target, &path, None).map(Box::new);
                let at = self.clock.now();
                self.pending.push_back(Input::ConfigureFile {
                    at,
                    file,
                    reply: Some(reply),
                    wait_partner: true,
                });
            }
            Output::SyncListen { listen } => self.sync_tcp.listen(listen),
            Output::SyncDial { peer } => self.sync_tcp.dial(peer),
            Output::SyncTransmit { bytes } => {
                if let Some(reason) = self.sync_tcp.transmit(bytes) {
                    let at = self.clock.now();
                    self.pending.push_back(Input::SyncClosed { at, reason });
                }
            }
            Output::SyncClose { reason } => {
                tracing::debug!("sync: closing the connection: {reason}");
                self.sync_tcp.close();
            }
            Output::SyncAuthenticated => self.sync_tcp.authenticated(),
            Output::SyncStop => self.sync_tcp.stop(),
            Output::ReplicationOpen { settings } => {
                let answer = self.replication.open(self.clock, &settings);
                self.pending.push_back(answer);
            }
            Output::ReplicationSend { bytes } => self.replication.send(&bytes),
            Output::ReplicationStop => self.replication.stop(),
            Output::ConntrackInstall { entries } => {
                let answer = self.replication.install(self.clock, &entries);
                self.pending.push_back(answer);
            }
            Output::Stopped => {
                if let Some(n) = &mut self.notify {
                    n.stopping(self.clock.now());
                }
                self.stop.store(true, Ordering::SeqCst);
                self.sync_tcp.stop();
                self.replication.stop();
                // The hooks of the last transitions run (the runner waits
                // for its workers when dropped), then what they said is logged.
                drop(self.hooks.take());
                self.log_hooks();
                return Ok(false);
            }
        }
        Ok(true)
    }
}

impl Drop for LinuxHost {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

impl LinuxHost {
    fn sync_event(&mut self, ev: super::sync_tcp::TcpEvent, inputs: &mut Vec<Input>) {
        let at = self.clock.now();
        match self.sync_tcp.take(ev) {
            Some(Taken::Connected(side)) => inputs.push(Input::SyncConnected { at, side }),
            Some(Taken::Bytes(bytes)) => inputs.push(Input::SyncReceived { at, bytes }),
            Some(Taken::Closed(reason)) => inputs.push(Input::SyncClosed { at, reason }),
            None => {}
        }
    }
}

fn packet_input(p: Packet) -> Input {
    Input::Advert {
        at: p.at,
        socket: p.socket,
        src: p.src,
        dst: p.dst,
        ttl: p.ttl,
        bytes: p.bytes,
    }
}
