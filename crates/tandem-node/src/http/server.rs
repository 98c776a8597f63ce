//! The socket side of the health port: one thread running an event loop
//! ([`mio`], epoll on Linux) over the listening socket and every
//! connection, a bounded request-head reader and parser, and the guard that
//! stops it all.
//!
//! One request per connection (`Connection: close`). A connection costs a
//! file descriptor and a small record until it sends something; no thread
//! waits on it, so idle and slow clients cannot crowd out a probe. The head
//! must arrive whole within [`READ_TIMEOUT`] (else 408) and fit in
//! [`MAX_HEAD_BYTES`] (else 431); the response must be written within
//! `WRITE_TIMEOUT`. At most [`MAX_CONNECTIONS`] connections are open at
//! once: a new one beyond that closes the oldest connection that is still
//! waiting for its head (or already answered), and counts the eviction.
//! Only when every connection is in the middle of writing its response is
//! the new one refused, with `429` and the body `busy` (never the
//! standby answer). Nothing a client sends can make it panic.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mio::net::{TcpListener as MioListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};

use crate::config::HealthConfig;
use crate::snapshot::NodeSnapshot;

use super::{reason_phrase, respond_as, Format, Response, TEXT_PLAIN};

/// The largest request head (request line and headers) accepted; a longer
/// one gets 431.
pub const MAX_HEAD_BYTES: usize = 8 * 1024;
/// How long a client has to send its whole request head; a slower one gets
/// 408.
pub const READ_TIMEOUT: Duration = Duration::from_secs(2);
/// How many connections may be open at once; one more evicts the oldest
/// connection still waiting for its head.
pub const MAX_CONNECTIONS: usize = 4096;
/// The body of the answer to a connection refused because every slot is
/// writing a response (status 429).
pub const BUSY_BODY: &str = "busy\n";
/// How long writing a response may take.
const WRITE_TIMEOUT: Duration = Duration::from_secs(2);
/// The most headers a request may have.
const MAX_HEADERS: usize = 100;
/// After the response, how much of what the client still sends is read
/// and thrown away (so that closing does not reset the connection before
/// the client has read the response), and for how long at most.
const DRAIN_BYTES: usize = 64 * 1024;
const DRAIN_TIME: Duration = Duration::from_millis(200);
/// How long the loop waits before accepting again after a failed accept
/// (e.g. out of file descriptors with nothing to evict).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
/// Connections accepted per turn of the loop, so that a flood of new
/// connections cannot starve the ones already open.
const ACCEPT_BATCH: usize = 256;
/// Events taken per turn of the loop.
const EVENTS: usize = 1024;

const LISTENER: Token = Token(0);
const WAKER: Token = Token(1);
/// The first connection token; tokens are never reused while the port runs.
const FIRST_ID: usize = 2;

/// Why the health port did not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// The listen address is in use, not local, or needs privileges.
    #[error("cannot listen on {addr} for the health port (check [health] listen, and that no other program holds the port): {source}")]
    Bind {
        /// The configured address.
        addr: SocketAddr,
        /// What the kernel said.
        #[source]
        source: io::Error,
    },
    /// The event loop (epoll instance, wake-up descriptor) could not be set
    /// up: usually out of file descriptors.
    #[error("cannot set up the health port's event loop (out of file descriptors?): {0}")]
    Poll(#[source] io::Error),
    /// The server thread could not be created.
    #[error("cannot start the health port's thread: {0}")]
    Spawn(#[source] io::Error),
}

/// The running health port. Dropping it stops the server thread, which
/// closes the listening socket and every connection.
#[derive(Debug)]
pub struct HttpGuard {
    local_addr: SocketAddr,
    stop: Arc<AtomicBool>,
    waker: Waker,
    thread: Option<JoinHandle<()>>,
}

impl HttpGuard {
    /// The address the port listens on (the real port when the configured
    /// one was 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }
}

impl Drop for HttpGuard {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let woke = self.waker.wake().is_ok();
        if let Some(t) = self.thread.take() {
            // Without the wake-up the thread ends at its next event or
            // deadline; waiting for it could hang the caller.
            if woke {
                let _ = t.join();
            }
        }
    }
}

/// Binds and starts the server thread.
pub(super) fn start(
    cfg: HealthConfig,
    snapshot: Arc<RwLock<NodeSnapshot>>,
) -> Result<HttpGuard, HttpError> {
    start_with(cfg, snapshot, MAX_CONNECTIONS)
}

/// [`start`] with another connection cap (tests use a small one).
fn start_with(
    cfg: HealthConfig,
    snapshot: Arc<RwLock<NodeSnapshot>>,
    max_connections: usize,
) -> Result<HttpGuard, HttpError> {
    let addr = cfg.listen;
    let bind = |source| HttpError::Bind { addr, source };
    let std_listener = TcpListener::bind(addr).map_err(bind)?;
    let local_addr = std_listener.local_addr().map_err(bind)?;
    std_listener.set_nonblocking(true).map_err(bind)?;
    let mut listener = MioListener::from_std(std_listener);
    let poll = Poll::new().map_err(HttpError::Poll)?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)
        .map_err(HttpError::Poll)?;
    let waker = Waker::new(poll.registry(), WAKER).map_err(HttpError::Poll)?;
    let stop = Arc::new(AtomicBool::new(false));
    let server = Server {
        cfg,
        snapshot,
        poll,
        listener,
        conns: BTreeMap::new(),
        deadlines: BTreeSet::new(),
        next_id: FIRST_ID,
        max_connections: max_connections.max(1),
        accept_again: None,
        stats: Stats::default(),
        scratch: vec![0u8; 16 * 1024],
    };
    let thread = {
        let stop = stop.clone();
        std::thread::Builder::new()
            .name("tandemd-http".into())
            .spawn(move || server.run(&stop))
            .map_err(HttpError::Spawn)?
    };
    Ok(HttpGuard {
        local_addr,
        stop,
        waker,
        thread: Some(thread),
    })
}

/// What the port counts about its connections; `/metrics` shows them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Stats {
    /// Connections closed to make room for a new one.
    evicted: u64,
    /// Connections refused with 429 because nothing could be evicted.
    refused: u64,
    /// Heads not complete within [`READ_TIMEOUT`] (answered 408).
    head_timeouts: u64,
}

/// Where a connection is in its one request.
#[derive(Debug)]
enum Phase {
    /// Waiting for the request head; what arrived so far.
    Head(Vec<u8>),
    /// Writing the response; `sent` bytes of `out` are out.
    Write { out: Vec<u8>, sent: usize },
    /// Answered and shut down for writing; reading and dropping what the
    /// client still sends, `read` bytes so far.
    Drain { read: usize },
}

#[derive(Debug)]
struct Conn {
    stream: TcpStream,
    phase: Phase,
    deadline: Instant,
}

/// What reading a head produced.
enum HeadProgress {
    /// Not complete yet; the socket has nothing more for now.
    Pending,
    /// The client closed, or the socket failed, before a whole head.
    Closed,
    /// The head, with its final blank line.
    Head(Vec<u8>),
    /// Longer than [`MAX_HEAD_BYTES`].
    TooLarge,
}

/// What draining produced.
enum DrainProgress {
    /// The socket has nothing more for now.
    Pending,
    /// The client closed, sent too much, or the socket failed.
    Done,
}

struct Server {
    cfg: HealthConfig,
    snapshot: Arc<RwLock<NodeSnapshot>>,
    poll: Poll,
    listener: MioListener,
    /// Open connections by token; a lower token was accepted earlier.
    conns: BTreeMap<usize, Conn>,
    /// Every open connection's deadline, earliest first.
    deadlines: BTreeSet<(Instant, usize)>,
    next_id: usize,
    max_connections: usize,
    /// When to try accepting again after a failed accept, or after a full
    /// batch (the listener, edge-triggered, does not report the rest).
    accept_again: Option<Instant>,
    stats: Stats,
    scratch: Vec<u8>,
}

impl Server {
    fn run(mut self, stop: &AtomicBool) {
        let mut events = Events::with_capacity(EVENTS);
        loop {
            if stop.load(Ordering::SeqCst) {
                return;
            }
            let now = Instant::now();
            let wake = self
                .deadlines
                .first()
                .map(|(at, _)| *at)
                .into_iter()
                .chain(self.accept_again)
                .min();
            let timeout = wake.map(|at| at.saturating_duration_since(now));
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() != io::ErrorKind::Interrupted {
                    std::thread::sleep(ACCEPT_BACKOFF);
                }
                continue;
            }
            for event in &events {
                match event.token() {
                    LISTENER => self.accept(),
                    WAKER => {}
                    Token(id) => self.ready(id),
                }
            }
            let now = Instant::now();
            if self.accept_again.is_some_and(|at| at <= now) {
                self.accept_again = None;
                self.accept();
            }
            self.expire(Instant::now());
        }
    }

    /// Accepts what the listener holds, one batch at most.
    fn accept(&mut self) {
        for _ in 0..ACCEPT_BATCH {
            match self.listener.accept() {
                Ok((stream, _)) => self.admit(stream),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => {}
                Err(e) if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) => {
                    // Out of descriptors: free one if an idle connection
                    // holds it, else wait and try again.
                    if !self.evict_oldest() {
                        self.accept_again = Some(Instant::now() + ACCEPT_BACKOFF);
                        return;
                    }
                }
                Err(_) => {
                    self.accept_again = Some(Instant::now() + ACCEPT_BACKOFF);
                    return;
                }
            }
        }
        // A full batch: the rest waits for the next turn.
        self.accept_again = Some(Instant::now());
    }

    fn admit(&mut self, mut stream: TcpStream) {
        if self.conns.len() >= self.max_connections && !self.evict_oldest() {
            self.stats.refused += 1;
            refuse_busy(stream);
            return;
        }
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1).max(FIRST_ID);
        if self
            .poll
            .registry()
            .register(
                &mut stream,
                Token(id),
                Interest::READABLE | Interest::WRITABLE,
            )
            .is_err()
        {
            return;
        }
        let deadline = Instant::now() + READ_TIMEOUT;
        self.deadlines.insert((deadline, id));
        self.conns.insert(
            id,
            Conn {
                stream,
                phase: Phase::Head(Vec::new()),
                deadline,
            },
        );
        // The registration reports data that is already there.
    }

    /// Closes the oldest connection that is waiting for its head or already
    /// answered; false if every connection is writing a response.
    fn evict_oldest(&mut self) -> bool {
        let victim = self
            .conns
            .iter()
            .find(|(_, c)| !matches!(c.phase, Phase::Write { .. }))
            .map(|(id, _)| *id);
        match victim {
            Some(id) => {
                self.stats.evicted += 1;
                self.close(id);
                true
            }
            None => false,
        }
    }

    fn close(&mut self, id: usize) {
        if let Some(mut c) = self.conns.remove(&id) {
            self.deadlines.remove(&(c.deadline, id));
            let _ = self.poll.registry().deregister(&mut c.stream);
        }
    }

    fn set_deadline(&mut self, id: usize, at: Instant) {
        if let Some(c) = self.conns.get_mut(&id) {
            self.deadlines.remove(&(c.deadline, id));
            c.deadline = at;
            self.deadlines.insert((at, id));
        }
    }

    /// A connection's socket is readable or writable.
    fn ready(&mut self, id: usize) {
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        match &mut c.phase {
            Phase::Head(buf) => match read_head(&mut c.stream, buf, &mut self.scratch) {
                HeadProgress::Pending => {}
                HeadProgress::Closed => self.close(id),
                HeadProgress::TooLarge => {
                    self.answer(id, &Response::text(431, "request head too large\n"), false);
                }
                HeadProgress::Head(head) => {
                    let (response, head_only) = self.response_to(&head);
                    self.answer(id, &response, head_only);
                }
            },
            Phase::Write { .. } => self.flush(id),
            Phase::Drain { .. } => self.drain(id),
        }
    }

    /// The answer to a whole request head.
    fn response_to(&self, head: &[u8]) -> (Response, bool) {
        match parse_head(head) {
            Err(ParseError::Malformed) => (Response::text(400, "bad request\n"), false),
            Err(ParseError::Version) => {
                (Response::text(505, "HTTP/1.0 and HTTP/1.1 only\n"), false)
            }
            Ok(req) => {
                let snap = self
                    .snapshot
                    .read()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                let mut r = respond_as(&self.cfg, &snap, req.method, req.path, req.format);
                if req.path == self.cfg.metrics_path && r.status == 200 {
                    r.body.push_str(&self.metrics_text());
                }
                (r, req.method == "HEAD")
            }
        }
    }

    /// The port's own series, appended to `/metrics`.
    fn metrics_text(&self) -> String {
        let open = self.conns.len();
        let s = self.stats;
        format!(
            "# HELP tandem_http_connections_open Connections open on the health port.\n\
             # TYPE tandem_http_connections_open gauge\n\
             tandem_http_connections_open {open}\n\
             # HELP tandem_http_connections_evicted_total Health-port connections closed before their request was complete to make room for a new connection when the port held its maximum.\n\
             # TYPE tandem_http_connections_evicted_total counter\n\
             tandem_http_connections_evicted_total {}\n\
             # HELP tandem_http_connections_refused_total Health-port connections answered 429 busy because every connection was writing a response.\n\
             # TYPE tandem_http_connections_refused_total counter\n\
             tandem_http_connections_refused_total {}\n\
             # HELP tandem_http_request_timeouts_total Health-port requests whose head was not complete within 2 s (answered 408).\n\
             # TYPE tandem_http_request_timeouts_total counter\n\
             tandem_http_request_timeouts_total {}\n",
            s.evicted,
            s.refused,
            s.head_timeouts,
        )
    }

    /// Starts writing `response`.
    fn answer(&mut self, id: usize, response: &Response, head_only: bool) {
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        c.phase = Phase::Write {
            out: encode(response, head_only),
            sent: 0,
        };
        self.set_deadline(id, Instant::now() + WRITE_TIMEOUT);
        self.flush(id);
    }

    /// Writes what the socket takes; once all is out, shuts down the
    /// sending side and drains.
    fn flush(&mut self, id: usize) {
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        let Phase::Write { out, sent } = &mut c.phase else {
            return;
        };
        while *sent < out.len() {
            match c.stream.write(&out[*sent..]) {
                Ok(0) => return self.close(id),
                Ok(n) => *sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return self.close(id),
            }
        }
        let _ = c.stream.shutdown(Shutdown::Write);
        c.phase = Phase::Drain { read: 0 };
        self.set_deadline(id, Instant::now() + DRAIN_TIME);
        // Bytes after the head (a body) arrived before and bring no new
        // readiness event: read them now.
        self.drain(id);
    }

    fn drain(&mut self, id: usize) {
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        let Phase::Drain { read } = &mut c.phase else {
            return;
        };
        if let DrainProgress::Done = drain(&mut c.stream, read, &mut self.scratch) {
            self.close(id);
        }
    }

    /// Acts on every deadline up to `now`.
    fn expire(&mut self, now: Instant) {
        while let Some(&(at, id)) = self.deadlines.first() {
            if at > now {
                return;
            }
            let is_head = matches!(self.conns.get(&id).map(|c| &c.phase), Some(Phase::Head(_)));
            if is_head {
                self.stats.head_timeouts += 1;
                // Sets a new deadline, so the loop moves on.
                self.answer(id, &Response::text(408, "request timeout\n"), false);
            } else {
                self.close(id);
            }
            // A deadline whose connection is gone.
            self.deadlines.remove(&(at, id));
        }
    }
}

/// Answers 429 `busy` without waiting (the socket is non-blocking): the
/// response fits in the socket's send buffer, and a client that does not
/// read it only loses it.
fn refuse_busy(mut stream: TcpStream) {
    let mut r = Response::text(429, BUSY_BODY);
    debug_assert_eq!(r.content_type, TEXT_PLAIN);
    r.headers.push(("Retry-After", "1".into()));
    let _ = stream.write_all(&encode(&r, false));
    let _ = stream.shutdown(Shutdown::Write);
    // Take in the request if it is already here, so that closing does not
    // reset the connection before the client reads the answer.
    let mut chunk = [0u8; 4096];
    let _ = stream.read(&mut chunk);
}

/// Reads what the socket has into `buf` until the blank line that ends
/// the head, the size limit, or nothing more for now.
fn read_head(stream: &mut TcpStream, buf: &mut Vec<u8>, scratch: &mut [u8]) -> HeadProgress {
    loop {
        let room = (MAX_HEAD_BYTES + 1)
            .saturating_sub(buf.len())
            .min(scratch.len());
        let n = match stream.read(&mut scratch[..room]) {
            Ok(0) => return HeadProgress::Closed,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return HeadProgress::Pending,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return HeadProgress::Closed,
        };
        let from = buf.len().saturating_sub(3);
        buf.extend_from_slice(&scratch[..n]);
        if let Some(end) = head_end(&buf[from..]) {
            let mut head = std::mem::take(buf);
            head.truncate(from + end);
            return if head.len() > MAX_HEAD_BYTES {
                HeadProgress::TooLarge
            } else {
                HeadProgress::Head(head)
            };
        }
        if buf.len() > MAX_HEAD_BYTES {
            return HeadProgress::TooLarge;
        }
    }
}

/// Reads and drops what the client still sends, up to [`DRAIN_BYTES`].
fn drain(stream: &mut TcpStream, read: &mut usize, scratch: &mut [u8]) -> DrainProgress {
    while *read < DRAIN_BYTES {
        match stream.read(scratch) {
            Ok(0) => return DrainProgress::Done,
            Ok(n) => *read += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return DrainProgress::Pending,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return DrainProgress::Done,
        }
    }
    DrainProgress::Done
}

/// A request line, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Request<'a> {
    method: &'a str,
    /// The path, without query string or fragment.
    path: &'a str,
    /// JSON asked for: `format=json` in the query, or `application/json`
    /// in an `Accept` header.
    format: Format,
}

/// Why a request head is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ParseError {
    /// Not a request line, or a header line without a name and colon.
    Malformed,
    /// A protocol other than HTTP/1.0 or HTTP/1.1.
    Version,
}

/// The length up to and including the blank line (`\r\n\r\n` or `\n\n`).
fn head_end(buf: &[u8]) -> Option<usize> {
    let crlf = buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4);
    let lf = buf.windows(2).position(|w| w == b"\n\n").map(|p| p + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Parses the request line and checks the header lines (RFC 9112 §3, §5):
/// `METHOD SP target SP HTTP/1.x`, then `name: value` lines. A lone LF is
/// taken as a line end, as RFC 9112 §2.2 allows.
fn parse_head(head: &[u8]) -> Result<Request<'_>, ParseError> {
    let text = std::str::from_utf8(head).map_err(|_| ParseError::Malformed)?;
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let request_line = lines.next().ok_or(ParseError::Malformed)?;
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ParseError::Malformed);
    };
    if method.is_empty() || !method.bytes().all(is_tchar) {
        return Err(ParseError::Malformed);
    }
    match version {
        "HTTP/1.1" | "HTTP/1.0" => {}
        v if v.starts_with("HTTP/") => return Err(ParseError::Version),
        _ => return Err(ParseError::Malformed),
    }
    let path = request_path(target).ok_or(ParseError::Malformed)?;
    let mut json = wants_json_query(target);
    let mut headers = 0;
    for line in lines {
        if line.is_empty() {
            continue;
        }
        headers += 1;
        let Some((name, value)) = line.split_once(':') else {
            return Err(ParseError::Malformed);
        };
        if headers > MAX_HEADERS || name.is_empty() || !name.bytes().all(is_tchar) {
            return Err(ParseError::Malformed);
        }
        if name.eq_ignore_ascii_case("accept") && value.contains("application/json") {
            json = true;
        }
    }
    let format = if json { Format::Json } else { Format::Text };
    Ok(Request {
        method,
        path,
        format,
    })
}

/// The path of a request target in origin form (`/health?x=1`) or absolute
/// form (`http://host:port/health`), without query or fragment.
fn request_path(target: &str) -> Option<&str> {
    let rest = if target.starts_with('/') {
        target
    } else {
        let lower = target.get(..8).map(str::to_ascii_lowercase);
        let after = match lower.as_deref() {
            Some("https://") => target.get(8..)?,
            Some(l) if l.starts_with("http://") => target.get(7..)?,
            _ => return None,
        };
        match after.find('/') {
            Some(p) => after.get(p..)?,
            None => "/",
        }
    };
    let end = rest.find(['?', '#']).unwrap_or(rest.len());
    let path = rest.get(..end)?;
    if path.bytes().all(|b| b.is_ascii_graphic()) {
        Some(path)
    } else {
        None
    }
}

/// Whether the target's query string has `format=json`.
fn wants_json_query(target: &str) -> bool {
    let Some((_, query)) = target.split_once('?') else {
        return false;
    };
    let query = query.split('#').next().unwrap_or("");
    query.split('&').any(|kv| kv == "format=json")
}

/// A token character of RFC 9110 §5.6.2.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// The response's bytes: status line, headers and, unless `head_only`,
/// the body.
fn encode(r: &Response, head_only: bool) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n",
        r.status,
        reason_phrase(r.status),
        r.content_type,
        r.body.len()
    );
    for (name, value) in &r.headers {
        out.push_str(name);
        out.push_str(": ");
        // Values are built by `respond`; keep CR and LF out all the same.
        out.extend(value.chars().filter(|c| *c != '\r' && *c != '\n'));
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    if !head_only {
        bytes.extend_from_slice(r.body.as_bytes());
    }
    bytes
}

#[cfg(test)]
mod tests;
