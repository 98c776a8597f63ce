//! The whole node inside an appliance's own process: [`start`] it from a
//! typed configuration and keep the [`NodeHandle`]: shutdown, join,
//! reconfigure, health input, failover, maintenance, status and a channel
//! of typed events (the first transitions included). tandemd is such an
//! embedder, with signal handling, the control socket and the health port
//! turned on. docs/embedding.md is the guide (the configuration builder,
//! [`Options`], the handle, events and their stable names, health input,
//! logs, the [`Host`](super::Host) trait); `examples/embed_node.rs` runs it.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;

use crossbeam_channel::{bounded, Receiver};

use super::linux::LinuxHost;
use super::threads::{self, ControlHandle, HostEvent};
use super::DriveError;
use crate::config::DaemonConfig;
use crate::control::api::{ControlReply, ControlRequest, Refusal};
use crate::node::replication::PersistenceTable;
use crate::node::{Event, Input, Node, NodeSettings, TrackState};
use crate::snapshot::NodeSnapshot;

/// How [`start`] runs the node.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Handle SIGTERM / SIGINT (graceful stop) and SIGHUP (reload from
    /// `config_path`). Off for an embedder, which keeps its own signals.
    pub signals: bool,
    /// Where SIGHUP and [`ControlHandle::reload`] read the configuration
    /// from (`None`: the node was configured in code or from flags).
    pub config_path: Option<PathBuf>,
    /// Serve the control socket at the configuration's `control_socket`.
    pub control_socket: bool,
    /// Serve the health port of the configuration's `[health]`, if any.
    pub health: bool,
    /// Typed events for the embedder ([`NodeHandle::events`]), at most
    /// this many waiting (0: no event channel). A reader that falls
    /// behind gets [`HandleEvent::Missed`] with how many it missed.
    pub events: usize,
    /// Record this start in `state_dir/starts` for the restart guard, and
    /// take the earlier ones from there (after the control socket is bound,
    /// so a start refused because another node serves it is not counted).
    /// A history that cannot be kept stops the start only when a restart
    /// guard is configured; otherwise it is logged and the node starts.
    pub state_dir: Option<PathBuf>,
    /// How long ago the node's earlier starts were, when the embedder
    /// keeps the history itself (`state_dir` is `None`).
    pub recent_starts: Vec<std::time::Duration>,
    /// tandemd's log writer's drop counter, shown in status and metrics.
    pub log_drops: Option<tracing_appender::non_blocking::ErrorCounter>,
    /// The appliance's persistence table, replicated over the
    /// configuration's `[replication]` with the flows (see
    /// [`Options::persistence`]).
    pub persistence: Option<PersistenceTable>,
    /// Tell the service manager (systemd, `Type=notify`) when the node is
    /// ready, reloading and stopping, its status line, and ping its
    /// watchdog from the loop, when `$NOTIFY_SOCKET` is set (and
    /// `$WATCHDOG_USEC`). The variables are taken out of the environment
    /// so hooks do not inherit them. tandemd sets it (docs/packaging.md).
    pub service_manager: bool,
}

impl Options {
    /// Replicates `table` (the appliance's persistence decisions) over
    /// `[replication]`; the partner's entries answer the table's lookups
    /// here the moment this unit is Active. Give the table calls the
    /// node's clock ([`NodeHandle::now`]).
    pub fn persistence(mut self, table: PersistenceTable) -> Options {
        self.persistence = Some(table);
        self
    }
}

impl std::fmt::Debug for super::HandleEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HandleEvent::Event(e) => write!(f, "Event({})", e.kind),
            HandleEvent::Missed(n) => write!(f, "Missed({n})"),
        }
    }
}

/// What the event channel carries.
pub enum HandleEvent {
    /// An event of the node, in order.
    Event(Event),
    /// This many events were dropped because the channel was full.
    Missed(u64),
}

/// The running node. Dropping it does not stop the node: call
/// [`NodeHandle::shutdown`] and [`NodeHandle::join`].
#[derive(Debug)]
pub struct NodeHandle {
    control: ControlHandle,
    snapshot: Arc<RwLock<NodeSnapshot>>,
    events: Option<Receiver<HandleEvent>>,
    thread: Option<JoinHandle<Result<(), DriveError>>>,
    _control_server: Option<crate::control::ServerGuard>,
    _http: Option<crate::http::HttpGuard>,
    clock: super::threads::Clock,
}

/// Starts the node: sets up every instance on the host and runs the loop
/// on a thread of its own. Returns once the instances are set up (and
/// have started), or with the reason they could not be.
pub fn start(config: DaemonConfig, options: Options) -> Result<NodeHandle, DriveError> {
    let (events_tx, events) = match options.events {
        0 => (None, None),
        n => {
            let (tx, rx) = bounded(n);
            (Some(tx), Some(rx))
        }
    };
    let mut host = LinuxHost::new(
        options.config_path.clone(),
        events_tx,
        options.log_drops.clone(),
    )?;
    if options.service_manager {
        host.notify = super::notify::ServiceNotify::from_env(host.clock.now());
    }
    let control = host.control_handle();
    let snapshot = host.snapshot();
    let clock = host.clock;
    if options.signals {
        threads::spawn_signals(host.events_tx.clone()).map_err(DriveError::Signals)?;
    }
    threads::spawn_link_monitor(host.events_tx.clone(), host.stop.clone())?;
    let control_socket = config.global.control_socket.clone();
    let health = config.global.health.clone();
    let control_server = if options.control_socket {
        let c = control.clone();
        let s = control.clone();
        Some(
            crate::control::serve_with(
                &control_socket,
                move |req| c.request(req),
                move || s.subscribe(),
            )
            .map_err(DriveError::Control)?,
        )
    } else {
        None
    };
    let recent_starts = match &options.state_dir {
        Some(dir) => {
            let guarded = config
                .instances
                .iter()
                .any(|i| i.election.restart_guard.is_some());
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs();
            let recorded =
                crate::history::record_start(dir, now, guarded).map_err(DriveError::History)?;
            for line in recorded.log_lines(dir) {
                tracing::warn!(event = "history", "{line}");
            }
            recorded.recent
        }
        None => options.recent_starts.clone(),
    };
    let unix_at_zero = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default();
    let mut node = Node::new(NodeSettings {
        unix_at_zero,
        recent_starts,
        ..NodeSettings::default()
    });
    if let Some(table) = options.persistence.clone() {
        let wake = control.clone();
        table.set_waker(Box::new(move || wake.wake()));
        node.set_persistence(table);
    }
    // The first configuration is set up here, before the loop's thread
    // starts, so that a configuration that does not fit fails `start`.
    let (ready_tx, ready) = bounded(1);
    // Started from a file: the Node gets its text too (configuration sync
    // reads and writes it).
    let first = match &options.config_path {
        Some(path) => {
            let file = super::files::config_file(path, path, Some(config)).map(Box::new);
            if let Err(e) = &file {
                return Err(DriveError::SetUp(e.clone()));
            }
            HostEvent::ConfigureFile {
                file,
                reply: Some(ready_tx),
            }
        }
        None => HostEvent::Configure {
            config: Box::new(config),
            reply: Some(ready_tx),
        },
    };
    let _ = host.events_tx.try_send(first);
    let mut inputs: Vec<Input> = Vec::new();
    loop {
        if !super::step(&mut node, &mut host, &mut inputs)? {
            return Err(DriveError::SetUp("the node stopped while starting".into()));
        }
        if let Ok(reply) = ready.try_recv() {
            match reply {
                ControlReply::Refused(Refusal::Reconfigure(e)) => return Err(DriveError::SetUp(e)),
                ControlReply::Refused(r) => return Err(DriveError::SetUp(r.to_string())),
                _ => break,
            }
        }
    }
    let http = match (&health, options.health) {
        (Some(h), true) => Some(crate::http::serve(h, snapshot.clone())?),
        _ => None,
    };
    let thread = std::thread::Builder::new()
        .name("tandemd-loop".into())
        .spawn(move || super::run(&mut node, &mut host))
        .map_err(|e| DriveError::Thread(e.to_string()))?;
    Ok(NodeHandle {
        control,
        snapshot,
        events,
        thread: Some(thread),
        _control_server: control_server,
        _http: http,
        clock,
    })
}

impl NodeHandle {
    /// Stops the node gracefully: every Active instance sends priority 0
    /// (CARP: its going-down advert) and removes its addresses; the hooks
    /// of the last transitions run. Returns at once; [`NodeHandle::join`]
    /// waits for the end.
    pub fn shutdown(&self) {
        self.control.shutdown();
    }

    /// Waits for the node to stop (after [`NodeHandle::shutdown`], or a
    /// signal when [`Options::signals`] is on).
    pub fn join(mut self) -> Result<(), DriveError> {
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(DriveError::Thread("the loop panicked".into())),
            None => Ok(()),
        }
    }

    /// Applies a new configuration with the plan SIGHUP makes: unchanged
    /// units keep running untouched, changed and removed ones stop
    /// gracefully, changed and added ones start; nothing changes if any
    /// cannot be set up.
    pub fn reconfigure(&self, config: DaemonConfig) -> Result<ControlReply, Refusal> {
        match self.control.reconfigure(config) {
            ControlReply::Refused(r) => Err(r),
            ok => Ok(ok),
        }
    }

    /// A health check's verdict on the tracked object `name` (a `track`
    /// entry of the instances): `Down` lowers their priority by its weight
    /// or puts them in Fault; `Up` undoes it.
    pub fn set_track(&self, name: &str, state: TrackState) -> Result<(), Refusal> {
        self.control.set_track(name, state)
    }

    /// Hands the Active role to the partner: every instance, or the
    /// instance or sync group named.
    pub fn failover(&self, target: Option<&str>) -> Result<ControlReply, Refusal> {
        let target = target.map(str::to_string);
        match self.control.request(ControlRequest::Failover { target }) {
            ControlReply::Refused(r) => Err(r),
            ok => Ok(ok),
        }
    }

    /// Maintenance mode on (stay passive, resigning if Active) or off.
    pub fn maintenance(&self, on: bool) -> Result<ControlReply, Refusal> {
        match self.control.request(ControlRequest::Maintenance { on }) {
            ControlReply::Refused(r) => Err(r),
            ok => Ok(ok),
        }
    }

    /// Sets one value of the running configuration file (a field path as
    /// `app.vs.web.port`, the value as TOML: `8443`, `"eth1"`) and applies
    /// it; with `[sync]` on the Active, the answer comes once the partner
    /// applied it (or refused it, or after 2 s: pending). Needs a node
    /// started from a file (`Options::config_path`). An appliance keeps its
    /// typed settings in the `app` tree this way (docs/config-sync.md).
    pub fn config_set(&self, key: &str, value_toml: &str) -> Result<ControlReply, Refusal> {
        let request = ControlRequest::ConfigSet {
            key: key.to_string(),
            value: value_toml.to_string(),
            local: false,
        };
        match self.control.request(request) {
            ControlReply::Refused(r) => Err(r),
            ok => Ok(ok),
        }
    }

    /// One value of the running configuration file, by its field path.
    pub fn config_get(&self, key: &str) -> Result<ControlReply, Refusal> {
        match self.control.request(ControlRequest::ConfigGet {
            key: key.to_string(),
        }) {
            ControlReply::Refused(r) => Err(r),
            ok => Ok(ok),
        }
    }

    /// The node's clock: the `now` of its tables (a
    /// [`PersistenceTable`]'s calls).
    pub fn now(&self) -> tandem_time::Instant {
        self.clock.now()
    }

    /// The status as last published (at most 100 ms old, at once after a
    /// state change).
    pub fn status(&self) -> NodeSnapshot {
        match self.snapshot.read() {
            Ok(s) => s.clone(),
            Err(e) => e.into_inner().clone(),
        }
    }

    /// The typed events, in order, from the first transitions on (`None`
    /// when [`Options::events`] is 0).
    pub fn events(&self) -> Option<&Receiver<HandleEvent>> {
        self.events.as_ref()
    }

    /// A handle other threads can use (requests, subscriptions).
    pub fn control(&self) -> &ControlHandle {
        &self.control
    }

    /// The status the health port and metrics read.
    pub fn snapshot(&self) -> Arc<RwLock<NodeSnapshot>> {
        self.snapshot.clone()
    }
}
