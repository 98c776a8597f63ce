//! The threads around the loop and the bounded queues between them:
//! one receiver per raw socket, the link monitor, signals, and the handle
//! other threads (the control socket, an embedding appliance) reach the
//! loop with. Every queue is bounded; what does not fit is dropped and
//! counted, never queued without limit.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};
use tandem_time::Instant;

use crate::config::DaemonConfig;
use crate::control::api::{ControlReply, ControlRequest, Refusal};
use crate::node::TrackState;
use crate::sys::netlink::LinkMonitor;
use crate::sys::raw::RawSocket;

/// Packets waiting for the loop; more are dropped and counted.
pub const PACKET_QUEUE: usize = 4096;
/// Requests and events (control, link, signals) waiting for the loop.
pub const EVENT_QUEUE: usize = 256;
/// Event lines waiting for one subscriber.
pub const SUBSCRIBER_QUEUE: usize = 1024;
/// How long a control request waits for the loop's answer.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// A packet from a receiver thread, stamped on arrival.
pub(super) struct Packet {
    pub(super) at: Instant,
    pub(super) socket: usize,
    pub(super) src: IpAddr,
    pub(super) dst: IpAddr,
    pub(super) ttl: u8,
    pub(super) bytes: Vec<u8>,
}

/// What other threads tell the loop.
pub(super) enum HostEvent {
    Link {
        name: String,
        up: bool,
    },
    Reload,
    Stop,
    Control {
        request: ControlRequest,
        reply: Sender<ControlReply>,
    },
    Configure {
        config: Box<DaemonConfig>,
        reply: Option<Sender<ControlReply>>,
    },
    /// The first configuration of a node started from its file.
    ConfigureFile {
        file: Result<Box<crate::node::ConfigFile>, String>,
        reply: Option<Sender<ControlReply>>,
    },
    Track {
        name: String,
        state: TrackState,
    },
    Subscribe(Sender<String>),
    /// Turn the loop (a table of the Node's has changes waiting).
    Wake,
    /// A run of a health check's probe ended.
    CheckDone {
        name: String,
        result: crate::checks::ProbeResult,
    },
    /// A run of the provider hook ended.
    CloudHookDone {
        id: u64,
        result: crate::hooks::RunResult,
        elapsed: Duration,
    },
}

/// Counters of the queues into the loop.
#[derive(Debug, Default)]
pub(super) struct QueueCounters {
    pub(super) packets_dropped: AtomicU64,
}

/// The monotonic clock, as the Node's [`Instant`].
#[derive(Debug, Clone, Copy)]
pub(super) struct Clock(pub(super) std::time::Instant);

impl Clock {
    pub(super) fn now(self) -> Instant {
        Instant::from_duration(self.0.elapsed())
    }
}

/// How other threads (the control socket, an embedding appliance) reach
/// the loop: requests with a typed answer, events, subscriptions.
#[derive(Clone, Debug)]
pub struct ControlHandle {
    pub(super) tx: Sender<HostEvent>,
}

impl ControlHandle {
    /// Sends `request` and waits (up to [`REPLY_TIMEOUT`]) for the answer.
    pub fn request(&self, request: ControlRequest) -> ControlReply {
        let (reply, rx) = bounded(1);
        match self.tx.try_send(HostEvent::Control { request, reply }) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return ControlReply::Refused(Refusal::Busy),
            Err(TrySendError::Disconnected(_)) => return ControlReply::Refused(Refusal::Stopping),
        }
        rx.recv_timeout(REPLY_TIMEOUT)
            .unwrap_or(ControlReply::Refused(Refusal::Timeout(
                REPLY_TIMEOUT.as_secs(),
            )))
    }

    /// Applies a new configuration (the plan SIGHUP makes) and waits for the
    /// outcome.
    pub fn reconfigure(&self, config: DaemonConfig) -> ControlReply {
        let (reply, rx) = bounded(1);
        let ev = HostEvent::Configure {
            config: Box::new(config),
            reply: Some(reply),
        };
        if self.tx.send_timeout(ev, REPLY_TIMEOUT).is_err() {
            return ControlReply::Refused(Refusal::Busy);
        }
        // Setting up new instances touches the host: allow it longer.
        rx.recv_timeout(4 * REPLY_TIMEOUT)
            .unwrap_or(ControlReply::Refused(Refusal::Timeout(
                4 * REPLY_TIMEOUT.as_secs(),
            )))
    }

    /// A health check's verdict on a tracked object. Waits (up to
    /// [`REPLY_TIMEOUT`]) for room in the loop's queue.
    pub fn set_track(&self, name: &str, state: TrackState) -> Result<(), Refusal> {
        let ev = HostEvent::Track {
            name: name.to_string(),
            state,
        };
        self.tx
            .send_timeout(ev, REPLY_TIMEOUT)
            .map_err(|e| match e {
                crossbeam_channel::SendTimeoutError::Timeout(_) => Refusal::Busy,
                crossbeam_channel::SendTimeoutError::Disconnected(_) => Refusal::Stopping,
            })
    }

    /// Stops the node gracefully (priority 0, addresses removed).
    pub fn shutdown(&self) {
        let _ = self.tx.send_timeout(HostEvent::Stop, REPLY_TIMEOUT);
    }

    /// Turns the loop once (never blocks: a full queue already turns it).
    pub fn wake(&self) {
        let _ = self.tx.try_send(HostEvent::Wake);
    }

    /// Reloads the configuration file, as SIGHUP does.
    pub fn reload(&self) {
        let _ = self.tx.send_timeout(HostEvent::Reload, REPLY_TIMEOUT);
    }

    /// An ordered stream of events, one JSON object per line, until the
    /// receiver is dropped. A subscriber that falls behind by
    /// [`SUBSCRIBER_QUEUE`] lines misses lines and is told how many
    /// (`{"event":"missed","count":N}`); one that falls far behind is
    /// disconnected.
    pub fn subscribe(&self) -> Receiver<String> {
        let (tx, rx) = bounded(SUBSCRIBER_QUEUE);
        let _ = self
            .tx
            .send_timeout(HostEvent::Subscribe(tx), REPLY_TIMEOUT);
        rx
    }
}

/// Receives from one raw socket until `stop`, into the bounded packet
/// queue; a full queue drops the packet and counts it.
pub(super) fn spawn_receiver(
    sock: &RawSocket,
    idx: usize,
    clock: Clock,
    tx: Sender<Packet>,
    counters: Arc<QueueCounters>,
    stop: Arc<AtomicBool>,
) -> Result<(), crate::sys::SysError> {
    let sock = sock.try_clone()?;
    sock.set_read_timeout(Some(Duration::from_millis(200)))?;
    std::thread::Builder::new()
        .name(format!("tandemd-rx{idx}"))
        .spawn(move || {
            let mut buf = vec![0u8; 65536];
            while !stop.load(Ordering::Relaxed) {
                let Ok(p) = sock.recv(&mut buf) else {
                    continue; // timeouts let the thread notice `stop`
                };
                let packet = Packet {
                    at: clock.now(),
                    socket: idx,
                    src: p.src,
                    dst: p.dst,
                    ttl: p.ttl,
                    bytes: buf[p.payload.clone()].to_vec(),
                };
                match tx.try_send(packet) {
                    Ok(()) => {}
                    Err(TrySendError::Full(_)) => {
                        counters.packets_dropped.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(TrySendError::Disconnected(_)) => return,
                }
            }
        })
        .map_err(|source| crate::sys::SysError::Thread {
            what: "receiver",
            source,
        })?;
    Ok(())
}

/// SIGTERM / SIGINT stop the node, SIGHUP reloads (its default action
/// would kill it).
pub(super) fn spawn_signals(tx: Sender<HostEvent>) -> Result<(), std::io::Error> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGHUP])?;
    std::thread::Builder::new()
        .name("tandemd-signals".into())
        .spawn(move || {
            for sig in signals.forever() {
                let stop = sig != SIGHUP;
                let ev = if stop {
                    HostEvent::Stop
                } else {
                    HostEvent::Reload
                };
                if tx.send(ev).is_err() || stop {
                    return;
                }
            }
        })?;
    Ok(())
}

/// Link up / down events from netlink.
pub(super) fn spawn_link_monitor(
    tx: Sender<HostEvent>,
    stop: Arc<AtomicBool>,
) -> Result<(), crate::sys::SysError> {
    let mut mon = LinkMonitor::open()?;
    mon.set_read_timeout(Some(Duration::from_millis(500)))?;
    std::thread::Builder::new()
        .name("tandemd-links".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match mon.next() {
                    Ok(events) => {
                        for e in events {
                            let ev = HostEvent::Link {
                                name: e.name,
                                up: e.up,
                            };
                            if tx.send_timeout(ev, REPLY_TIMEOUT).is_err() {
                                return;
                            }
                        }
                    }
                    Err(e) if e.is_timeout() => {}
                    Err(_) => std::thread::sleep(Duration::from_millis(100)),
                }
            }
        })
        .map_err(|source| crate::sys::SysError::Thread {
            what: "link monitor",
            source,
        })?;
    Ok(())
}
