//! The host's half of replication: the link's UDP socket and its
//! receiving thread, the connection-tracking table's follower thread, and
//! installs at takeover. Mechanics only: what to send, what to install and
//! when are the Node's.
//!
//! - Datagrams from any address but the partner's are dropped and counted
//!   (for a multicast group, every source is handed over: authentication
//!   sorts them). The queue to the loop is bounded; a full queue drops
//!   and counts.
//! - The follower subscribes to the table's events first, then reads the
//!   table whole, so no change falls between the two; it reads it whole
//!   again every `refresh` and whenever the kernel or the queue lost
//!   events.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};

use super::threads::Clock;
use crate::config::ReplicationConfig;
use crate::conntrack::Entry;
use crate::node::sync::MAX_KEY_BYTES;
use crate::node::{Input, ReplicationLink};
use crate::sys::conntrack::{Conntrack, Events, EventsError};
use crate::sys::udp::{UdpLink, MAX_DATAGRAM};

/// Datagrams waiting for the loop; more are dropped and counted.
pub(super) const DATAGRAM_QUEUE: usize = 4096;
/// Batches of table changes waiting for the loop; when full, the follower
/// reads the table whole instead.
pub(super) const TABLE_QUEUE: usize = 256;
/// Changes per batch, at most.
const EVENT_BATCH: usize = 1024;

/// Counters of the link, shown in status.
#[derive(Debug, Default)]
pub(super) struct LinkCounters {
    pub(super) datagrams_dropped: AtomicU64,
    pub(super) foreign_source: AtomicU64,
    pub(super) truncated: AtomicU64,
    pub(super) send_failed: AtomicU64,
    pub(super) events_lost: AtomicU64,
}

struct Open {
    sock: UdpLink,
    peer: SocketAddr,
    stop: Arc<AtomicBool>,
}

/// The host's replication state.
pub(super) struct Replication {
    pub(super) rx: Receiver<Input>,
    tx: Sender<Input>,
    pub(super) table_rx: Receiver<Input>,
    table_tx: Sender<Input>,
    open: Option<Open>,
    installer: Option<Conntrack>,
    pub(super) counters: Arc<LinkCounters>,
}

impl Replication {
    pub(super) fn new() -> Replication {
        let (tx, rx) = bounded(DATAGRAM_QUEUE);
        let (table_tx, table_rx) = bounded(TABLE_QUEUE);
        Replication {
            rx,
            tx,
            table_rx,
            table_tx,
            open: None,
            installer: None,
            counters: Arc::default(),
        }
    }

    /// Opens the link of `settings` (closing any open one); the answer.
    pub(super) fn open(&mut self, clock: Clock, settings: &ReplicationConfig) -> Input {
        self.stop();
        let at = clock.now();
        let result = self.try_open(clock, settings);
        Input::ReplicationOpened { at, result }
    }

    fn try_open(
        &mut self,
        clock: Clock,
        settings: &ReplicationConfig,
    ) -> Result<ReplicationLink, String> {
        let read_key = |path: &std::path::Path| {
            super::files::small_text(path, MAX_KEY_BYTES)
                .map_err(|e| format!("key file {}: {e}", path.display()))
        };
        let key = match &settings.key_file {
            Some(p) => Some(read_key(p)?),
            None => None,
        };
        let next_key = match &settings.next_key_file {
            Some(p) => Some(read_key(p)?),
            None => None,
        };
        let sock = UdpLink::open(
            settings.listen,
            settings.peer,
            settings.interface.as_deref(),
            Duration::from_millis(200),
        )
        .map_err(|e| {
            format!(
                "cannot open the replication socket on {}: {e}",
                settings.listen
            )
        })?;
        let stop = Arc::new(AtomicBool::new(false));
        let recv = sock
            .try_clone()
            .map_err(|e| format!("replication socket: {e}"))?;
        let peer = settings.peer;
        let (tx, counters, stop2) = (self.tx.clone(), self.counters.clone(), stop.clone());
        std::thread::Builder::new()
            .name("tandem-repl-rx".into())
            .spawn(move || receive(recv, peer, clock, tx, counters, stop2))
            .map_err(|e| format!("replication receiver thread: {e}"))?;
        if settings.conntrack {
            let events = Events::subscribe()
                .map_err(|e| format!("cannot follow the connection-tracking table: {e}"))?;
            let table = Conntrack::open()
                .map_err(|e| format!("cannot read the connection-tracking table: {e}"))?;
            let (tx, counters, stop2) =
                (self.table_tx.clone(), self.counters.clone(), stop.clone());
            let refresh = settings.refresh;
            std::thread::Builder::new()
                .name("tandem-conntrack".into())
                .spawn(move || follow(events, table, refresh, clock, tx, counters, stop2))
                .map_err(|e| format!("conntrack follower thread: {e}"))?;
            self.installer = Some(
                Conntrack::open()
                    .map_err(|e| format!("cannot write the connection-tracking table: {e}"))?,
            );
        }
        self.open = Some(Open { sock, peer, stop });
        Ok(ReplicationLink {
            key,
            next_key,
            boot: super::setup::random_u64(),
        })
    }

    /// Sends a datagram to the partner.
    pub(super) fn send(&self, bytes: &[u8]) {
        if let Some(o) = &self.open {
            if o.sock.send(bytes, o.peer).is_err() {
                self.counters.send_failed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Installs entries now; the answer.
    pub(super) fn install(&mut self, clock: Clock, entries: &[Entry]) -> Input {
        let (installed, failed, error) = match &mut self.installer {
            Some(ct) => {
                let applied = ct.create(entries);
                let error = applied.failed.first().map(|(i, e)| {
                    let o = &entries[(*i).min(entries.len().saturating_sub(1))].orig;
                    format!("{}:{} -> {}:{}: {e}", o.src, o.src_port, o.dst, o.dst_port)
                });
                (
                    applied.created + applied.updated,
                    applied.failed.len(),
                    error,
                )
            }
            None => (
                0,
                entries.len(),
                Some("the connection-tracking table is not open".to_string()),
            ),
        };
        Input::ConntrackInstalled {
            at: clock.now(),
            installed,
            failed,
            error,
        }
    }

    /// Closes the link and stops its threads.
    pub(super) fn stop(&mut self) {
        if let Some(o) = self.open.take() {
            o.stop.store(true, Ordering::SeqCst);
        }
        self.installer = None;
    }
}

impl Drop for Replication {
    fn drop(&mut self) {
        self.stop();
    }
}

fn receive(
    sock: UdpLink,
    peer: SocketAddr,
    clock: Clock,
    tx: Sender<Input>,
    counters: Arc<LinkCounters>,
    stop: Arc<AtomicBool>,
) {
    let multicast = peer.ip().is_multicast();
    let mut buf = vec![0u8; MAX_DATAGRAM];
    while !stop.load(Ordering::Relaxed) {
        let d = match sock.recv(&mut buf) {
            Ok(d) => d,
            Err(e) if crate::sys::is_timeout(&e) => continue,
            Err(_) => {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        if d.truncated {
            counters.truncated.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        if !multicast && d.src.ip() != peer.ip() {
            counters.foreign_source.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let input = Input::ReplicationReceived {
            at: clock.now(),
            ttl: d.ttl,
            bytes: buf[..d.len].to_vec(),
        };
        match tx.try_send(input) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                counters.datagrams_dropped.fetch_add(1, Ordering::Relaxed);
            }
            Err(TrySendError::Disconnected(_)) => return,
        }
    }
}

fn follow(
    mut events: Events,
    mut table: Conntrack,
    refresh: Duration,
    clock: Clock,
    tx: Sender<Input>,
    counters: Arc<LinkCounters>,
    stop: Arc<AtomicBool>,
) {
    let _ = events.set_read_timeout(Some(Duration::from_millis(200)));
    let mut read_whole = true;
    let mut last_read = std::time::Instant::now();
    while !stop.load(Ordering::Relaxed) {
        if read_whole || (!refresh.is_zero() && last_read.elapsed() >= refresh) {
            match table.dump() {
                Ok(entries) => {
                    let input = Input::ConntrackTable {
                        at: clock.now(),
                        entries,
                    };
                    // The whole table waits for room (it replaces what
                    // was lost); the loop drains the queue every turn.
                    if tx.send_timeout(input, Duration::from_secs(5)).is_err() {
                        counters.events_lost.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    read_whole = false;
                    last_read = std::time::Instant::now();
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
        match events.recv() {
            Ok(batch) if batch.is_empty() => {}
            Ok(batch) => {
                for chunk in batch.chunks(EVENT_BATCH) {
                    let input = Input::ConntrackEvents {
                        at: clock.now(),
                        events: chunk.to_vec(),
                    };
                    if tx.try_send(input).is_err() {
                        counters.events_lost.fetch_add(1, Ordering::Relaxed);
                        read_whole = true;
                    }
                }
            }
            Err(EventsError::Lost) => {
                counters.events_lost.fetch_add(1, Ordering::Relaxed);
                read_whole = true;
            }
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}
