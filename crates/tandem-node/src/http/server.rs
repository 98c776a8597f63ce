//! The socket side of the health port: the accept thread, one thread per
//! connection, a bounded request-head reader and parser, and the guard
//! that stops it all.
//!
//! One request per connection (`Connection: close`). The head must arrive
//! whole within [`READ_TIMEOUT`] and fit in [`MAX_HEAD_BYTES`]; at most
//! [`MAX_CONNECTIONS`] connections are served at once and the others get
//! an immediate 503. Nothing a client sends can make it panic or block
//! other clients for longer than the read timeout.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::config::HealthConfig;
use crate::snapshot::NodeSnapshot;

use super::{reason_phrase, respond, Response};

/// The largest request head (request line and headers) accepted; a longer
/// one gets 431.
pub const MAX_HEAD_BYTES: usize = 8 * 1024;
/// How long a client has to send its whole request head; a slower one gets
/// 408.
pub const READ_TIMEOUT: Duration = Duration::from_secs(2);
/// How many connections are served at once; more get 503 at once.
pub const MAX_CONNECTIONS: usize = 32;
/// How long writing a response may take.
const WRITE_TIMEOUT: Duration = Duration::from_secs(2);
/// The most headers a request may have.
const MAX_HEADERS: usize = 100;
/// After the response, how much of what the client still sends is read
/// and thrown away (so that closing does not reset the connection before
/// the client has read the response), and for how long at most.
const DRAIN_BYTES: usize = 64 * 1024;
const DRAIN_TIME: Duration = Duration::from_millis(200);
/// How long the accept thread rests after a failed accept (e.g. out of
/// file descriptors).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

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
    /// The accept thread could not be created.
    #[error("cannot start the health port's accept thread: {0}")]
    Spawn(#[source] io::Error),
}

/// The running health port. Dropping it stops the accept thread and closes
/// the listening socket; connections being served finish on their own
/// within the read and write timeouts.
#[derive(Debug)]
pub struct HttpGuard {
    local_addr: SocketAddr,
    stop: Arc<AtomicBool>,
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
        // Wake the blocking accept with a connection of our own.
        let ip = match self.local_addr.ip() {
            IpAddr::V4(a) if a.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(a) if a.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        let woke =
            TcpStream::connect_timeout(&SocketAddr::new(ip, self.local_addr.port()), WRITE_TIMEOUT)
                .is_ok();
        if let Some(t) = self.thread.take() {
            // Without the wake-up the thread ends at the next connection;
            // waiting for it could hang the caller.
            if woke {
                let _ = t.join();
            }
        }
    }
}

/// Binds and starts the accept thread.
pub(super) fn start(
    cfg: HealthConfig,
    snapshot: Arc<RwLock<NodeSnapshot>>,
) -> Result<HttpGuard, HttpError> {
    let addr = cfg.listen;
    let listener = TcpListener::bind(addr).map_err(|source| HttpError::Bind { addr, source })?;
    let local_addr = listener
        .local_addr()
        .map_err(|source| HttpError::Bind { addr, source })?;
    let stop = Arc::new(AtomicBool::new(false));
    let thread = {
        let stop = stop.clone();
        std::thread::Builder::new()
            .name("tandemd-http".into())
            .spawn(move || accept_loop(&listener, &Arc::new(cfg), &snapshot, &stop))
            .map_err(HttpError::Spawn)?
    };
    Ok(HttpGuard {
        local_addr,
        stop,
        thread: Some(thread),
    })
}

/// Counts a connection in; counts it out when dropped, however the
/// connection's thread ends.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn accept_loop(
    listener: &TcpListener,
    cfg: &Arc<HealthConfig>,
    snapshot: &Arc<RwLock<NodeSnapshot>>,
    stop: &AtomicBool,
) {
    let active = Arc::new(AtomicUsize::new(0));
    loop {
        let accepted = listener.accept();
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let stream = match accepted {
            Ok((s, _)) => s,
            Err(_) => {
                std::thread::sleep(ACCEPT_BACKOFF);
                continue;
            }
        };
        if active.load(Ordering::SeqCst) >= MAX_CONNECTIONS {
            reject_busy(stream);
            continue;
        }
        active.fetch_add(1, Ordering::SeqCst);
        let slot = Slot(active.clone());
        let cfg = cfg.clone();
        let snapshot = snapshot.clone();
        // If the thread cannot be created the closure, the slot and the
        // stream inside it are dropped: the client sees the connection
        // close.
        let _ = std::thread::Builder::new()
            .name("tandemd-http-conn".into())
            .spawn(move || {
                let _slot = slot;
                serve_connection(stream, &cfg, &snapshot);
            });
    }
}

/// Answers 503 without waiting (the socket is non-blocking): the response
/// fits in the socket's send buffer, and a client that does not read it
/// only loses it.
fn reject_busy(mut stream: TcpStream) {
    if stream.set_nonblocking(true).is_ok() {
        let r = Response::text(503, "busy: too many connections\n");
        let _ = stream.write_all(&encode(&r, false));
        let _ = stream.shutdown(Shutdown::Write);
        // Take in the request if it is already here, so that closing does
        // not reset the connection before the client reads the 503.
        let mut chunk = [0u8; MAX_HEAD_BYTES];
        let _ = stream.read(&mut chunk);
    }
}

/// Why a request head could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HeadError {
    /// Longer than [`MAX_HEAD_BYTES`].
    TooLarge,
    /// Not complete within [`READ_TIMEOUT`].
    Timeout,
    /// The client closed, or the socket failed, before a whole head.
    Closed,
}

/// A request line, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Request<'a> {
    method: &'a str,
    /// The path, without query string or fragment.
    path: &'a str,
}

/// Why a request head is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ParseError {
    /// Not a request line, or a header line without a name and colon.
    Malformed,
    /// A protocol other than HTTP/1.0 or HTTP/1.1.
    Version,
}

fn serve_connection(mut stream: TcpStream, cfg: &HealthConfig, snapshot: &RwLock<NodeSnapshot>) {
    let deadline = Instant::now() + READ_TIMEOUT;
    let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
    let (response, head_only) = match read_head(&mut stream, deadline) {
        Err(HeadError::Closed) => return,
        Err(HeadError::TooLarge) => (Response::text(431, "request head too large\n"), false),
        Err(HeadError::Timeout) => (Response::text(408, "request timeout\n"), false),
        Ok(head) => match parse_head(&head) {
            Err(ParseError::Malformed) => (Response::text(400, "bad request\n"), false),
            Err(ParseError::Version) => {
                (Response::text(505, "HTTP/1.0 and HTTP/1.1 only\n"), false)
            }
            Ok(req) => {
                let snap = snapshot
                    .read()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                (
                    respond(cfg, &snap, req.method, req.path),
                    req.method == "HEAD",
                )
            }
        },
    };
    if stream.write_all(&encode(&response, head_only)).is_err() {
        return;
    }
    let _ = stream.flush();
    let _ = stream.shutdown(Shutdown::Write);
    drain(&mut stream);
}

/// Reads until the blank line that ends the head. Returns the head with
/// its final blank line; bytes after it (a body) are not needed.
fn read_head(stream: &mut TcpStream, deadline: Instant) -> Result<Vec<u8>, HeadError> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(HeadError::Timeout);
        }
        if stream.set_read_timeout(Some(left)).is_err() {
            return Err(HeadError::Closed);
        }
        let room = (MAX_HEAD_BYTES + 1)
            .saturating_sub(buf.len())
            .min(chunk.len());
        let n = match stream.read(&mut chunk[..room]) {
            Ok(0) => return Err(HeadError::Closed),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e)
                if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::TimedOut =>
            {
                return Err(HeadError::Timeout)
            }
            Err(_) => return Err(HeadError::Closed),
        };
        let from = buf.len().saturating_sub(3);
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = head_end(&buf[from..]) {
            buf.truncate(from + end);
            return if buf.len() > MAX_HEAD_BYTES {
                Err(HeadError::TooLarge)
            } else {
                Ok(buf)
            };
        }
        if buf.len() > MAX_HEAD_BYTES {
            return Err(HeadError::TooLarge);
        }
    }
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
    let mut headers = 0;
    for line in lines {
        if line.is_empty() {
            continue;
        }
        headers += 1;
        let Some((name, _value)) = line.split_once(':') else {
            return Err(ParseError::Malformed);
        };
        if headers > MAX_HEADERS || name.is_empty() || !name.bytes().all(is_tchar) {
            return Err(ParseError::Malformed);
        }
    }
    Ok(Request { method, path })
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

/// Reads and drops what the client still sends, briefly.
fn drain(stream: &mut TcpStream) {
    let end = Instant::now() + DRAIN_TIME;
    let mut chunk = [0u8; 4096];
    let mut total = 0;
    while total < DRAIN_BYTES {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            return;
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => total += n,
        }
    }
}

#[cfg(test)]
mod tests;
