//! The configuration-sync connection's mechanics on a real host: a
//! listener, a dialer (while the Node says this unit dials), and at most
//! one connection, each on threads of its own; the loop only moves bytes.
//!
//! - One connection at a time: one accepted while another is open is
//!   closed at once and counted (`sync_connections_refused`), unless the
//!   open one was accepted and its partner has not authenticated yet
//!   ([`SyncTcp::authenticated`]): then the new one replaces it, so a host
//!   that only connects cannot hold the slot. The dialer does not dial
//!   while a connection it cannot replace is open. An unauthenticated
//!   connection is also closed by the session's handshake timeout.
//! - Dialing: connect timeout 3 s; backoff from 100 ms doubling to 5 s
//!   (with up to a quarter of jitter), forever; reset once a connection
//!   has lived 10 s.
//! - Reading: chunks of at most 64 KiB into a bounded queue to the loop
//!   (the reader waits when it is full: TCP pushes back on the partner);
//!   no byte for 30 s closes the connection (the session's keepalive is
//!   1 s).
//! - Writing: the Node's bytes, in order, through a bounded queue to a
//!   writer thread (write timeout 5 s). A full queue closes the connection
//!   and is counted (`sync_write_queue_full`): the loop never blocks.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};

use crate::node::SyncSide;

/// Bytes read at a time.
pub(super) const READ_CHUNK: usize = 64 * 1024;
/// Chunks read and not yet taken by the loop.
pub(super) const READ_QUEUE: usize = 256;
/// Writes (frames of at most 64 KiB) waiting for the writer thread; one
/// more closes the connection. A snapshot goes out as one burst of frames:
/// 16,384 hold one of 1 GiB, the largest `max_document`.
pub(super) const WRITE_QUEUE: usize = 16_384;
/// Connect timeout.
pub(super) const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// No byte for this long closes the connection.
pub(super) const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// A write blocked this long closes the connection.
pub(super) const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// First dial backoff.
pub(super) const BACKOFF_MIN: Duration = Duration::from_millis(100);
/// Longest dial backoff.
pub(super) const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// What the threads tell the loop.
pub(super) enum TcpEvent {
    Connected {
        id: u64,
        side: SyncSide,
        stream: TcpStream,
        writer: Sender<Vec<u8>>,
    },
    Bytes {
        id: u64,
        bytes: Vec<u8>,
    },
    Closed {
        id: u64,
        reason: String,
    },
}

/// What the loop hands the Node, from [`SyncTcp::take`].
pub(super) enum Taken {
    Connected(SyncSide),
    Bytes(Vec<u8>),
    Closed(String),
}

/// Counters of the sync connection.
#[derive(Debug, Default)]
pub(super) struct SyncCounters {
    pub(super) refused: AtomicU64,
    pub(super) queue_full: AtomicU64,
}

#[derive(Debug, Default)]
struct Shared {
    /// The open connection's id.
    current: Mutex<Option<u64>>,
    /// The id + 1 of the connection whose partner authenticated (0: none).
    authenticated: AtomicU64,
    /// The open connection was accepted (not dialed).
    accepted: AtomicBool,
    next_id: AtomicU64,
}

impl Shared {
    fn current(&self) -> Option<u64> {
        match self.current.lock() {
            Ok(c) => *c,
            Err(e) => *e.into_inner(),
        }
    }

    fn set_current(&self, f: impl FnOnce(&mut Option<u64>) -> bool) -> bool {
        match self.current.lock() {
            Ok(mut c) => f(&mut c),
            Err(e) => f(&mut e.into_inner()),
        }
    }

    /// Whether a new connection may replace the open one: it was accepted
    /// and its partner has not authenticated (a host that only connects
    /// must not hold the slot). A dialed one is never replaced, so two
    /// units dialing each other at once do not swap connections.
    fn replaceable(&self, current: u64) -> bool {
        self.accepted.load(Ordering::SeqCst)
            && self.authenticated.load(Ordering::SeqCst) != current + 1
    }

    fn clear(&self, id: u64) {
        self.set_current(|c| {
            if *c == Some(id) {
                *c = None;
            }
            true
        });
    }
}

struct Worker {
    stop: Arc<AtomicBool>,
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

struct Conn {
    id: u64,
    stream: TcpStream,
    writer: Sender<Vec<u8>>,
}

/// The sync connection of a host. See the [module documentation](self).
pub(super) struct SyncTcp {
    tx: Sender<TcpEvent>,
    pub(super) rx: Receiver<TcpEvent>,
    shared: Arc<Shared>,
    pub(super) counters: Arc<SyncCounters>,
    listener: Option<(SocketAddr, Worker)>,
    dialer: Option<(SocketAddr, Worker)>,
    conn: Option<Conn>,
}

impl SyncTcp {
    pub(super) fn new() -> SyncTcp {
        let (tx, rx) = bounded(READ_QUEUE);
        SyncTcp {
            tx,
            rx,
            shared: Arc::default(),
            counters: Arc::default(),
            listener: None,
            dialer: None,
            conn: None,
        }
    }

    /// Listens on `addr` (replacing another listener).
    pub(super) fn listen(&mut self, addr: SocketAddr) {
        if self.listener.as_ref().is_some_and(|(a, _)| *a == addr) {
            return;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let (shared, tx, counters, s) = (
            self.shared.clone(),
            self.tx.clone(),
            self.counters.clone(),
            stop.clone(),
        );
        let spawned = std::thread::Builder::new()
            .name("tandemd-sync-listen".into())
            .spawn(move || listen_loop(addr, &s, &shared, &tx, &counters));
        if let Err(e) = spawned {
            tracing::error!("sync: cannot start the listener thread: {e}");
        }
        self.listener = Some((addr, Worker { stop }));
    }

    /// Dials `peer` while no connection is open, or stops dialing.
    pub(super) fn dial(&mut self, peer: Option<SocketAddr>) {
        if self.dialer.as_ref().map(|(a, _)| *a) == peer {
            return;
        }
        self.dialer = None;
        let Some(peer) = peer else {
            return;
        };
        let stop = Arc::new(AtomicBool::new(false));
        let (shared, tx, s) = (self.shared.clone(), self.tx.clone(), stop.clone());
        let spawned = std::thread::Builder::new()
            .name("tandemd-sync-dial".into())
            .spawn(move || dial_loop(peer, &s, &shared, &tx));
        if let Err(e) = spawned {
            tracing::error!("sync: cannot start the dialer thread: {e}");
        }
        self.dialer = Some((peer, Worker { stop }));
    }

    /// Queues bytes for the connection; `Some(reason)` if it had to be
    /// closed (its queue was full).
    pub(super) fn transmit(&mut self, bytes: Vec<u8>) -> Option<String> {
        let conn = self.conn.as_ref()?;
        match conn.writer.try_send(bytes) {
            Ok(()) => None,
            Err(TrySendError::Full(_)) => {
                self.counters.queue_full.fetch_add(1, Ordering::Relaxed);
                let reason = format!(
                    "the write queue is full ({WRITE_QUEUE} writes): the partner does not read"
                );
                self.close();
                Some(reason)
            }
            Err(TrySendError::Disconnected(_)) => {
                // The writer ended on an error: its Closed event follows.
                None
            }
        }
    }

    /// The open connection's partner authenticated: it is kept.
    pub(super) fn authenticated(&mut self) {
        if let Some(c) = &self.conn {
            self.shared.authenticated.store(c.id + 1, Ordering::SeqCst);
        }
    }

    /// Closes the connection (no Closed reaches the Node for it).
    pub(super) fn close(&mut self) {
        if let Some(c) = self.conn.take() {
            let _ = c.stream.shutdown(Shutdown::Both);
            self.shared.clear(c.id);
        }
    }

    /// Stops listening, dialing, and closes the connection.
    pub(super) fn stop(&mut self) {
        self.listener = None;
        self.dialer = None;
        self.close();
    }

    /// What one event from the threads means for the Node (`None`: an
    /// event of a connection that is gone).
    pub(super) fn take(&mut self, ev: TcpEvent) -> Option<Taken> {
        match ev {
            TcpEvent::Connected {
                id,
                side,
                stream,
                writer,
            } => {
                if self.shared.current() != Some(id) {
                    let _ = stream.shutdown(Shutdown::Both);
                    return None;
                }
                self.close();
                self.conn = Some(Conn { id, stream, writer });
                Some(Taken::Connected(side))
            }
            TcpEvent::Bytes { id, bytes } => {
                (self.conn.as_ref().map(|c| c.id) == Some(id)).then_some(Taken::Bytes(bytes))
            }
            TcpEvent::Closed { id, reason } => {
                if self.conn.as_ref().map(|c| c.id) != Some(id) {
                    return None;
                }
                self.close();
                Some(Taken::Closed(reason))
            }
        }
    }
}

impl Drop for SyncTcp {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Sleeps `d` in slices, returning early (true) when `stop` is set.
fn sleep_unless(stop: &AtomicBool, d: Duration) -> bool {
    let slice = Duration::from_millis(50);
    let mut left = d;
    while !left.is_zero() {
        if stop.load(Ordering::Relaxed) {
            return true;
        }
        let s = left.min(slice);
        std::thread::sleep(s);
        left -= s;
    }
    stop.load(Ordering::Relaxed)
}

fn listen_loop(
    addr: SocketAddr,
    stop: &AtomicBool,
    shared: &Arc<Shared>,
    tx: &Sender<TcpEvent>,
    counters: &SyncCounters,
) {
    let mut warned = false;
    let listener = loop {
        match TcpListener::bind(addr).and_then(|l| l.set_nonblocking(true).map(|()| l)) {
            Ok(l) => break l,
            Err(e) => {
                if !warned {
                    tracing::warn!("sync: cannot listen on {addr}: {e}; retrying every second");
                    warned = true;
                }
                if sleep_unless(stop, Duration::from_secs(1)) {
                    return;
                }
            }
        }
    };
    tracing::info!("sync: listening on {addr}");
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((stream, from)) => {
                let _ = stream.set_nonblocking(false);
                if !establish(stream, SyncSide::Responder, shared, tx) {
                    counters.refused.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!("sync: refused a second connection from {from}");
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                sleep_unless(stop, Duration::from_millis(100));
            }
            Err(_) => {
                sleep_unless(stop, Duration::from_millis(100));
            }
        }
    }
}

fn dial_loop(peer: SocketAddr, stop: &AtomicBool, shared: &Arc<Shared>, tx: &Sender<TcpEvent>) {
    let mut backoff = BACKOFF_MIN;
    let mut rng = Jitter::new();
    while !stop.load(Ordering::Relaxed) {
        if shared.current().is_some_and(|c| !shared.replaceable(c)) {
            sleep_unless(stop, Duration::from_millis(100));
            continue;
        }
        let opened = TcpStream::connect_timeout(&peer, CONNECT_TIMEOUT)
            .ok()
            .filter(|s| establish_dialed(s, shared, tx));
        if opened.is_some() {
            let since = std::time::Instant::now();
            while shared.current().is_some() && !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
            }
            if since.elapsed() >= Duration::from_secs(10) {
                backoff = BACKOFF_MIN;
                continue;
            }
        }
        let wait = backoff + rng.up_to(backoff / 4);
        if sleep_unless(stop, wait) {
            return;
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

fn establish_dialed(s: &TcpStream, shared: &Arc<Shared>, tx: &Sender<TcpEvent>) -> bool {
    match s.try_clone() {
        Ok(s) => establish(s, SyncSide::Initiator, shared, tx),
        Err(_) => false,
    }
}

/// Makes `stream` the connection unless one is open; starts its reader
/// and writer and tells the loop.
fn establish(
    stream: TcpStream,
    side: SyncSide,
    shared: &Arc<Shared>,
    tx: &Sender<TcpEvent>,
) -> bool {
    let id = shared.next_id.fetch_add(1, Ordering::Relaxed) + 1;
    let taken = shared.set_current(|c| {
        if let Some(open) = *c {
            if !shared.replaceable(open) {
                return false;
            }
            tracing::debug!("sync: an unauthenticated connection is replaced by a new one");
        }
        *c = Some(id);
        shared
            .accepted
            .store(side == SyncSide::Responder, Ordering::SeqCst);
        true
    });
    if !taken {
        let _ = stream.shutdown(Shutdown::Both);
        return false;
    }
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(READ_TIMEOUT));
    let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
    let clones = (stream.try_clone(), stream.try_clone());
    let (Ok(reader), Ok(writer)) = clones else {
        shared.clear(id);
        let _ = stream.shutdown(Shutdown::Both);
        return false;
    };
    let (wtx, wrx) = bounded::<Vec<u8>>(WRITE_QUEUE);
    let wtx2 = tx.clone();
    let w = std::thread::Builder::new()
        .name("tandemd-sync-tx".into())
        .spawn(move || write_loop(writer, id, &wrx, &wtx2));
    if w.is_err() {
        shared.clear(id);
        let _ = stream.shutdown(Shutdown::Both);
        return false;
    }
    let Ok(closer) = stream.try_clone() else {
        shared.clear(id);
        let _ = stream.shutdown(Shutdown::Both);
        return false;
    };
    // The loop hears of the connection before any of its bytes: the
    // reader starts only after Connected is queued, so a message the
    // partner sent at once is never dropped as belonging to no connection.
    let ev = TcpEvent::Connected {
        id,
        side,
        stream,
        writer: wtx,
    };
    if tx.send_timeout(ev, Duration::from_secs(5)).is_err() {
        shared.clear(id);
        return false;
    }
    let (rtx, rshared) = (tx.clone(), shared.clone());
    let r = std::thread::Builder::new()
        .name("tandemd-sync-rx".into())
        .spawn(move || read_loop(reader, id, &rtx, &rshared));
    if r.is_err() {
        let _ = tx.send(TcpEvent::Closed {
            id,
            reason: "cannot start the connection's reader thread".into(),
        });
        let _ = closer.shutdown(Shutdown::Both);
    }
    true
}

fn read_loop(mut stream: TcpStream, id: u64, tx: &Sender<TcpEvent>, shared: &Shared) {
    let mut buf = vec![0u8; READ_CHUNK];
    let reason = loop {
        match stream.read(&mut buf) {
            Ok(0) => break "the partner closed the connection".to_string(),
            Ok(n) => {
                let bytes = buf.get(..n).map(<[u8]>::to_vec).unwrap_or_default();
                if tx.send(TcpEvent::Bytes { id, bytes }).is_err() {
                    break "the loop ended".to_string();
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                break format!("nothing read for {} s", READ_TIMEOUT.as_secs());
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => break format!("read failed: {e}"),
        }
    };
    let _ = stream.shutdown(Shutdown::Both);
    shared.clear(id);
    let _ = tx.send_timeout(TcpEvent::Closed { id, reason }, Duration::from_secs(5));
}

fn write_loop(mut stream: TcpStream, id: u64, rx: &Receiver<Vec<u8>>, tx: &Sender<TcpEvent>) {
    for bytes in rx {
        if let Err(e) = stream.write_all(&bytes) {
            let _ = stream.shutdown(Shutdown::Both);
            let reason = format!("write failed: {e}");
            let _ = tx.send_timeout(TcpEvent::Closed { id, reason }, Duration::from_secs(5));
            return;
        }
    }
}

/// Jitter for the backoff (xorshift; not for anything secret).
struct Jitter(u64);

impl Jitter {
    fn new() -> Jitter {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        Jitter(t ^ u64::from(std::process::id()) | 1)
    }

    fn up_to(&mut self, d: Duration) -> Duration {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        let ms = d.as_millis() as u64;
        Duration::from_millis(if ms == 0 { 0 } else { self.0 % (ms + 1) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn next(tcp: &mut SyncTcp) -> Option<Taken> {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while std::time::Instant::now() < deadline {
            if let Ok(ev) = tcp.rx.recv_timeout(Duration::from_millis(100)) {
                if let Some(t) = tcp.take(ev) {
                    return Some(t);
                }
            }
        }
        None
    }

    fn free_port() -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    }

    #[test]
    fn one_connection_bytes_both_ways_a_second_one_refused_and_counted() {
        let addr = free_port();
        let mut a = SyncTcp::new();
        a.listen(addr);
        let mut b = SyncTcp::new();
        b.dial(Some(addr));
        assert!(matches!(
            next(&mut a),
            Some(Taken::Connected(SyncSide::Responder))
        ));
        assert!(matches!(
            next(&mut b),
            Some(Taken::Connected(SyncSide::Initiator))
        ));
        assert!(b.transmit(b"hello".to_vec()).is_none());
        let mut got = Vec::new();
        while got.len() < 5 {
            match next(&mut a) {
                Some(Taken::Bytes(bytes)) => got.extend(bytes),
                _ => panic!("no bytes"),
            }
        }
        assert_eq!(got, b"hello");
        // Once its partner authenticated, a second connection is closed at
        // once (an end of stream, not a timeout).
        a.authenticated();
        let mut extra = TcpStream::connect(addr).unwrap();
        extra
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut buf = [0u8; 1];
        assert!(matches!(extra.read(&mut buf), Ok(0)), "not closed");
        // (Counted just after the close.)
        let counted = std::time::Instant::now() + Duration::from_secs(2);
        while a.counters.refused.load(Ordering::Relaxed) == 0 && std::time::Instant::now() < counted
        {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(a.counters.refused.load(Ordering::Relaxed), 1);
        // The Node closes: the other side sees it closed.
        a.close();
        assert!(matches!(next(&mut b), Some(Taken::Closed(_))));
        // And b dials again (its backoff is short).
        assert!(matches!(next(&mut a), Some(Taken::Connected(_))));
        a.stop();
        b.stop();
    }

    #[test]
    fn an_unauthenticated_accepted_connection_is_replaced_by_the_next() {
        let addr = free_port();
        let mut a = SyncTcp::new();
        a.listen(addr);
        // A host that connects and says nothing holds the slot (once the
        // listener thread is up)...
        let mut squatter = (0..100)
            .find_map(|_| {
                TcpStream::connect(addr)
                    .inspect_err(|_| std::thread::sleep(Duration::from_millis(20)))
                    .ok()
            })
            .expect("the listener is up within 2 s");
        assert!(matches!(
            next(&mut a),
            Some(Taken::Connected(SyncSide::Responder))
        ));
        // ...until the next connection comes: it takes the slot, and the
        // squatter's connection is closed.
        let mut b = SyncTcp::new();
        b.dial(Some(addr));
        assert!(matches!(
            next(&mut b),
            Some(Taken::Connected(SyncSide::Initiator))
        ));
        assert!(matches!(
            next(&mut a),
            Some(Taken::Connected(SyncSide::Responder))
        ));
        squatter
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut buf = [0u8; 1];
        assert!(
            matches!(squatter.read(&mut buf), Ok(0)),
            "the squatter is still connected"
        );
        assert!(b.transmit(b"hi".to_vec()).is_none());
        let mut got = Vec::new();
        while got.len() < 2 {
            match next(&mut a) {
                Some(Taken::Bytes(bytes)) => got.extend(bytes),
                other => panic!("no bytes: {}", other.is_some()),
            }
        }
        assert_eq!(got, b"hi");
        a.stop();
        b.stop();
    }
}
