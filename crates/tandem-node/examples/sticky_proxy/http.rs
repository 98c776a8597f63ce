//! The proxy itself: [`serve`] and what it does with one connection.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tandem_replication::persist::{KeyHasher, PersistKey, PersistenceTable, TableFull, TableId};
use tandem_time::Instant;

use crate::head::{
    cookie_value, error_response, parse_request, parse_response, request_head, Head, COOKIE,
    HOP_BY_HOP,
};
use crate::random_key;

/// The persistence table id of this proxy's service.
const TABLE: TableId = 0;
/// Largest response head from a real server.
const RESPONSE_HEAD_MAX: usize = 16 * 1024;
/// The proxy's limits and switches.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// Largest request head.
    pub(crate) head_limit: usize,
    /// The whole request head must arrive within this.
    pub(crate) head_timeout: Duration,
    /// Every read and write, on both sockets.
    pub(crate) io_timeout: Duration,
    /// Connecting to a real server.
    pub(crate) connect_timeout: Duration,
    /// Most connections at once.
    pub(crate) max_connections: usize,
    /// A client's stickiness, after its last request.
    pub(crate) lifetime: Duration,
    /// One line per request on stderr.
    pub(crate) log: bool,
    /// Set: stop accepting, let the connections end, return.
    pub(crate) stop: Arc<AtomicBool>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            head_limit: 8 * 1024,
            head_timeout: Duration::from_secs(10),
            io_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(2),
            max_connections: 256,
            lifetime: Duration::from_secs(600),
            log: false,
            stop: Arc::new(AtomicBool::new(false)),
        }
    }
}

type Clock = Box<dyn Fn() -> Instant + Send + Sync>;

struct Proxy {
    backends: Vec<SocketAddr>,
    table: PersistenceTable,
    clock: Clock,
    settings: Settings,
    /// The next real server, round robin.
    next: AtomicUsize,
    /// Connections being served.
    active: AtomicUsize,
    /// Keys the cookie values this unit hands out (random, not guessable).
    tokens: KeyHasher,
    token_counter: AtomicU64,
}

/// Serves HTTP on `listener` until `settings.stop` is set: each request
/// to one of `backends`, chosen by `table` (cookie, then source address,
/// then round robin), whose calls take `clock`'s `now` (the node's:
/// [`tandem_node::drive::NodeHandle::now`]). Returns once the connections
/// in progress have ended (or a bounded wait has passed).
pub(crate) fn serve(
    listener: TcpListener,
    backends: Vec<SocketAddr>,
    table: PersistenceTable,
    clock: impl Fn() -> Instant + Send + Sync + 'static,
    settings: Settings,
) -> io::Result<()> {
    if backends.is_empty() || backends.len() > usize::from(u16::MAX) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "give between 1 and 65535 real servers",
        ));
    }
    listener.set_nonblocking(true)?;
    let tokens = KeyHasher::new(random_key().map_err(io::Error::other)?);
    let proxy = Arc::new(Proxy {
        backends,
        table,
        clock: Box::new(clock),
        settings,
        next: AtomicUsize::new(0),
        active: AtomicUsize::new(0),
        tokens,
        token_counter: AtomicU64::new(0),
    });
    while !proxy.settings.stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((client, peer)) => admit(&proxy, client, peer),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => {
                // Out of descriptors, a connection reset before accept:
                // keep serving, without spinning.
                if proxy.settings.log {
                    eprintln!("sticky_proxy: accept: {e}");
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
    let s = &proxy.settings;
    let patience = s.head_timeout + s.connect_timeout + s.io_timeout * 4;
    let end = std::time::Instant::now() + patience;
    while proxy.active.load(Ordering::SeqCst) > 0 && std::time::Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// One connection fewer when dropped.
struct Slot(Arc<Proxy>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::SeqCst);
    }
}

fn admit(proxy: &Arc<Proxy>, mut client: TcpStream, peer: SocketAddr) {
    let _ = client.set_nonblocking(false);
    let _ = client.set_nodelay(true);
    if proxy.active.fetch_add(1, Ordering::SeqCst) >= proxy.settings.max_connections {
        proxy.active.fetch_sub(1, Ordering::SeqCst);
        let _ = client.set_write_timeout(Some(Duration::from_millis(100)));
        let _ = client.write_all(&error_response(503, "Service Unavailable", "busy"));
        return;
    }
    let slot = Slot(proxy.clone());
    // If the thread cannot be made, the closure (and the slot) is dropped.
    let _ = std::thread::Builder::new()
        .name("proxy-conn".into())
        .spawn(move || {
            let proxy = slot.0.clone();
            proxy.connection(client, peer);
            drop(slot);
        });
}

/// Why a request got no response from a real server.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Refused {
    #[error("request head over {limit} bytes")]
    HeadTooLarge { limit: usize },
    #[error("request head not complete within {0:?}")]
    HeadTimeout(Duration),
    #[error("malformed request: {0}")]
    Malformed(String),
    #[error("{0} is not supported by this proxy")]
    Unsupported(&'static str),
    #[error("the client closed the connection")]
    ClientClosed,
    #[error("client: {0}")]
    Client(io::Error),
    #[error("real server {index} ({addr}): {source}")]
    Backend {
        index: usize,
        addr: SocketAddr,
        source: io::Error,
    },
    #[error("real server {index}: malformed response: {why}")]
    BadResponse { index: usize, why: String },
    /// The response had begun: the client sees a cut-off response.
    #[error("relaying the response: {0}")]
    Relay(io::Error),
}

impl Refused {
    /// The status the client gets, if a response can still be sent.
    fn status(&self) -> Option<(u16, &'static str)> {
        Some(match self {
            Refused::HeadTooLarge { .. } => (431, "Request Header Fields Too Large"),
            Refused::HeadTimeout(_) => (408, "Request Timeout"),
            Refused::Malformed(_) => (400, "Bad Request"),
            Refused::Unsupported(_) => (501, "Not Implemented"),
            Refused::Backend { source, .. } if is_timeout(source) => (504, "Gateway Timeout"),
            Refused::Backend { .. } | Refused::BadResponse { .. } => (502, "Bad Gateway"),
            Refused::ClientClosed | Refused::Client(_) | Refused::Relay(_) => return None,
        })
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Which rule chose the real server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    Cookie,
    Source,
    RoundRobin,
}

impl Via {
    fn name(self) -> &'static str {
        match self {
            Via::Cookie => "cookie",
            Via::Source => "source",
            Via::RoundRobin => "round_robin",
        }
    }
}

struct Choice {
    index: usize,
    via: Via,
    /// A new cookie value for the client.
    set_cookie: Option<String>,
}

impl Proxy {
    fn connection(&self, mut client: TcpStream, peer: SocketAddr) {
        let s = &self.settings;
        let _ = client.set_read_timeout(Some(s.io_timeout));
        let _ = client.set_write_timeout(Some(s.io_timeout));
        let result = self.exchange(&mut client, peer);
        match &result {
            Ok((index, via)) if s.log => {
                eprintln!(
                    "sticky_proxy: client={peer} backend={index} via={}",
                    via.name()
                );
            }
            Ok(_) => {}
            Err(e) => {
                if let Some((code, reason)) = e.status() {
                    let _ = client.write_all(&error_response(code, reason, &e.to_string()));
                }
                if s.log {
                    eprintln!("sticky_proxy: client={peer} refused: {e}");
                }
            }
        }
        let _ = client.shutdown(Shutdown::Write);
    }

    /// One request and its response.
    fn exchange(&self, client: &mut TcpStream, peer: SocketAddr) -> Result<(usize, Via), Refused> {
        let mut buf = Vec::with_capacity(2048);
        let head = self.read_head(client, &mut buf)?;
        if head.method.eq_ignore_ascii_case("CONNECT") {
            return Err(Refused::Unsupported("CONNECT"));
        }
        if head.values("transfer-encoding").next().is_some() {
            return Err(Refused::Unsupported(
                "a request body with Transfer-Encoding",
            ));
        }
        let choice = self.choose(&head, peer.ip());
        let index = choice.index;
        let addr = self.backends[index];
        let backend_err = |source| Refused::Backend {
            index,
            addr,
            source,
        };
        let mut upstream = TcpStream::connect_timeout(&addr, self.settings.connect_timeout)
            .map_err(backend_err)?;
        let _ = upstream.set_read_timeout(Some(self.settings.io_timeout));
        let _ = upstream.set_write_timeout(Some(self.settings.io_timeout));
        let _ = upstream.set_nodelay(true);
        upstream
            .write_all(&request_head(&head, peer.ip(), addr))
            .map_err(backend_err)?;
        // The body: what came with the head, then the rest from the client.
        let early = buf.get(head.len..).unwrap_or_default();
        let early = &early[..early
            .len()
            .min(usize::try_from(head.content_length).unwrap_or(usize::MAX))];
        upstream.write_all(early).map_err(backend_err)?;
        let rest = head.content_length - early.len() as u64;
        if rest > 0 {
            let expects = head
                .values("expect")
                .any(|v| v.eq_ignore_ascii_case(b"100-continue"));
            if expects {
                client
                    .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                    .map_err(Refused::Client)?;
            }
            copy_exact(client, &mut upstream, rest).map_err(|e| match e {
                Copy::Read(e) if is_timeout(&e) => Refused::HeadTimeout(self.settings.io_timeout),
                Copy::Read(e) => Refused::Client(e),
                Copy::Write(e) => backend_err(e),
            })?;
        }
        self.relay_response(&mut upstream, client, &head, &choice)?;
        Ok((index, choice.via))
    }

    /// Reads the request head into `buf` (which may then hold the body's
    /// first bytes too): at most `head_limit` bytes, by `head_timeout`.
    fn read_head(&self, client: &mut TcpStream, buf: &mut Vec<u8>) -> Result<Head, Refused> {
        let s = &self.settings;
        let deadline = std::time::Instant::now() + s.head_timeout;
        let mut chunk = [0u8; 4096];
        loop {
            if !buf.is_empty() {
                if let Some(head) = parse_request(buf, s.head_limit)? {
                    return Ok(head);
                }
            }
            if buf.len() >= s.head_limit {
                return Err(Refused::HeadTooLarge {
                    limit: s.head_limit,
                });
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Err(Refused::HeadTimeout(s.head_timeout));
            }
            let _ = client.set_read_timeout(Some(left.min(s.io_timeout)));
            let want = chunk.len().min(s.head_limit - buf.len());
            match client.read(&mut chunk[..want]) {
                Ok(0) if buf.is_empty() => return Err(Refused::ClientClosed),
                Ok(0) => return Err(Refused::Malformed("closed within the head".into())),
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if is_timeout(&e) => {
                    // One read timed out: the deadline says whether to go on.
                }
                Err(e) => return Err(Refused::Client(e)),
            }
            let _ = client.set_read_timeout(Some(s.io_timeout));
        }
    }

    /// The real server: the cookie's, else the source address's, else
    /// round robin; a client without a known cookie gets a new one.
    fn choose(&self, head: &Head, client: IpAddr) -> Choice {
        let now = (self.clock)();
        let lifetime = self.settings.lifetime;
        let n = self.backends.len();
        let valid = |b: &u16| usize::from(*b) < n;
        let hasher = self.table.hasher();
        if let Some(value) = cookie_value(head) {
            let key = hasher.cookie(value);
            if let Some(b) = self.table.stick(now, TABLE, &key, lifetime).filter(valid) {
                return Choice {
                    index: usize::from(b),
                    via: Via::Cookie,
                    set_cookie: None,
                };
            }
        }
        let source = PersistKey::source(client, 128);
        let (backend, via) = match self
            .table
            .stick(now, TABLE, &source, lifetime)
            .filter(valid)
        {
            Some(b) => (b, Via::Source),
            None => {
                let b = self.next.fetch_add(1, Ordering::Relaxed) % n;
                let b = u16::try_from(b).unwrap_or(0);
                self.note_full(self.table.insert(now, TABLE, source, b, lifetime));
                (b, Via::RoundRobin)
            }
        };
        let token = self.token();
        self.note_full(self.table.insert(
            now,
            TABLE,
            hasher.cookie(token.as_bytes()),
            backend,
            lifetime,
        ));
        Choice {
            index: usize::from(backend),
            via,
            set_cookie: Some(token),
        }
    }

    fn note_full(&self, r: Result<(), TableFull>) {
        if let (Err(e), true) = (r, self.settings.log) {
            eprintln!("sticky_proxy: not stuck: {e}");
        }
    }

    /// A new cookie value: 128 bits, keyed by a random key of this run.
    fn token(&self) -> String {
        let n = self.token_counter.fetch_add(1, Ordering::Relaxed);
        let hi = self.tokens.hash(&[&n.to_be_bytes()[..], b"hi"].concat());
        let lo = self.tokens.hash(&[&n.to_be_bytes()[..], b"lo"].concat());
        format!("{hi:016x}{lo:016x}")
    }

    /// Reads the real server's response head, writes it to the client with
    /// `X-Tandem-Backend` (and the new cookie), then relays the body.
    fn relay_response(
        &self,
        upstream: &mut TcpStream,
        client: &mut TcpStream,
        request: &Head,
        choice: &Choice,
    ) -> Result<(), Refused> {
        let index = choice.index;
        let addr = self.backends[index];
        let mut buf = Vec::with_capacity(2048);
        let mut chunk = [0u8; 4096];
        // Interim 1xx responses (early hints) are skipped: a few at most.
        let mut interim = 0;
        let response = loop {
            match parse_response(&buf) {
                Ok(Some(r)) if (100..200).contains(&r.code) && r.code != 101 && interim < 4 => {
                    interim += 1;
                    buf.drain(..r.len);
                    continue;
                }
                Ok(Some(r)) => break r,
                Ok(None) => {}
                Err(why) => return Err(Refused::BadResponse { index, why }),
            }
            if buf.len() >= RESPONSE_HEAD_MAX {
                return Err(Refused::BadResponse {
                    index,
                    why: format!("head over {RESPONSE_HEAD_MAX} bytes"),
                });
            }
            let want = chunk.len().min(RESPONSE_HEAD_MAX - buf.len());
            match upstream.read(&mut chunk[..want]) {
                Ok(0) => {
                    return Err(Refused::BadResponse {
                        index,
                        why: "closed before the end of the head".into(),
                    });
                }
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(Refused::Backend {
                        index,
                        addr,
                        source,
                    });
                }
            }
        };
        let mut out = Vec::with_capacity(response.len + 160);
        let _ = write!(out, "HTTP/1.1 {} {}\r\n", response.code, response.reason);
        for (name, value) in &response.headers {
            let lower = name.to_ascii_lowercase();
            // The body is relayed as it comes: its framing stays.
            if lower != "transfer-encoding" && HOP_BY_HOP.contains(&lower.as_str()) {
                continue;
            }
            if lower == "x-tandem-backend" {
                continue;
            }
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
        let _ = write!(out, "X-Tandem-Backend: {index}\r\n");
        if let Some(token) = &choice.set_cookie {
            let _ = write!(
                out,
                "Set-Cookie: {COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax\r\n"
            );
        }
        out.extend_from_slice(b"Connection: close\r\n\r\n");
        client.write_all(&out).map_err(Refused::Client)?;
        let bodyless = request.method.eq_ignore_ascii_case("HEAD")
            || response.code == 204
            || response.code == 304;
        if bodyless {
            return Ok(());
        }
        let early = buf.get(response.len..).unwrap_or_default();
        match response.content_length {
            Some(len) => {
                let early = &early[..early.len().min(usize::try_from(len).unwrap_or(usize::MAX))];
                client.write_all(early).map_err(Refused::Relay)?;
                copy_exact(upstream, client, len - early.len() as u64).map_err(|e| match e {
                    Copy::Read(e) | Copy::Write(e) => Refused::Relay(e),
                })?;
            }
            None => {
                // Chunked or up to the close (Connection: close was asked).
                client.write_all(early).map_err(Refused::Relay)?;
                copy_to_end(upstream, client).map_err(Refused::Relay)?;
            }
        }
        Ok(())
    }
}

enum Copy {
    Read(io::Error),
    Write(io::Error),
}

/// Copies exactly `n` bytes (an early end is an error).
fn copy_exact(from: &mut TcpStream, to: &mut TcpStream, mut n: u64) -> Result<(), Copy> {
    let mut chunk = [0u8; 16 * 1024];
    while n > 0 {
        let want = chunk.len().min(usize::try_from(n).unwrap_or(usize::MAX));
        let got = match from.read(&mut chunk[..want]) {
            Ok(0) => {
                return Err(Copy::Read(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("ended {n} bytes early"),
                )));
            }
            Ok(got) => got,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Copy::Read(e)),
        };
        to.write_all(&chunk[..got]).map_err(Copy::Write)?;
        n -= got as u64;
    }
    Ok(())
}

/// Copies up to the end of `from`.
fn copy_to_end(from: &mut TcpStream, to: &mut TcpStream) -> io::Result<()> {
    let mut chunk = [0u8; 16 * 1024];
    loop {
        match from.read(&mut chunk) {
            Ok(0) => return Ok(()),
            Ok(n) => to.write_all(&chunk[..n])?,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}
