//! The control socket of `tandemd run` and the client side of `tandemd
//! status`, `failover`, `maintenance`, `clear-pacified` and `events`.
//!
//! A Unix stream socket (default [`DEFAULT_SOCKET`], mode 0600: root only)
//! speaks one JSON request per line and answers one JSON reply per line:
//!
//! | request | reply |
//! |---|---|
//! | `{"cmd":"status"}` | `{"ok":true,"status":{...NodeSnapshot...}}` |
//! | `{"cmd":"failover","target":"web"}` (or `null` / absent: all) | `{"ok":true,"message":"handed over: web"}` |
//! | `{"cmd":"maintenance","on":true}` | `{"ok":true,"message":"maintenance on"}` |
//! | `{"cmd":"clear-pacified"}` | `{"ok":true,"message":"restart guard cleared"}` |
//! | `{"cmd":"events"}` | `{"ok":true,"events":"streaming"}`, then one event object per line until the client goes away |
//!
//! Anything refused or malformed gets `{"ok":false,"error":"..."}`, and
//! the connection stays usable. docs/control.md has the details.
//!
//! The default path is per network namespace ([`crate::netns`]). A server
//! holds an exclusive `flock` on `PATH.lock` for its whole life, so that
//! of two daemons starting on one path exactly one serves it and the other
//! gets [`ControlError::AlreadyRunning`]; a socket left by a daemon that
//! died (no lock, nothing listening) is replaced.

pub mod api;
pub mod cli;
mod render;
mod unique;

pub use api::{ControlReply, ControlRequest, Refusal};

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};
use serde_json::{json, Map, Value};

use crate::drive::ControlHandle;
use crate::snapshot::NodeSnapshot;

pub use render::render_status;
use unique::JsonError;

/// Where the control socket lives in the initial network namespace unless
/// configured otherwise (`[global] control_socket`); other namespaces have
/// their own ([`crate::netns`]).
pub const DEFAULT_SOCKET: &str = crate::config::DEFAULT_CONTROL_SOCKET;

/// What is appended to the socket path to name its lock file.
pub const LOCK_SUFFIX: &str = ".lock";

/// Connections served at once. One more closes the oldest connection that
/// is waiting for a request line; only when none is waiting (every one runs
/// a request or an event stream) is the new one told [`busy_message`].
pub const MAX_CONNECTIONS: usize = 64;

/// Event streams (`{"cmd":"events"}`) served at once, within
/// [`MAX_CONNECTIONS`], so that streams cannot lock `status` out.
pub const MAX_STREAMS: usize = 8;

/// The longest request line accepted, in bytes.
pub const MAX_REQUEST_LINE: usize = 64 * 1024;

/// How long the server waits for a request line to arrive whole; a
/// connection idle that long is closed.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a write to a client may block before the client is dropped
/// (an event reader that stopped reading).
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long the client waits for an answer (the daemon gives up on its
/// main loop after 5 s).
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

/// What went wrong on either side of the control socket.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ControlError {
    /// No socket file: the daemon is not running, or uses another path.
    #[error("tandemd is not running (no control socket at {}); if it runs with another control_socket, pass --control-socket PATH", path.display())]
    NotRunning {
        /// The socket path.
        path: PathBuf,
    },
    /// The socket file is there but nothing listens: a daemon that died.
    #[error("tandemd is not running (the control socket {} is stale: nothing answers on it)", path.display())]
    Stale {
        /// The socket path.
        path: PathBuf,
    },
    /// The socket (or its directory) is root-only.
    #[error("the control socket {} is root-only: run as root", path.display())]
    PermissionDenied {
        /// The socket path.
        path: PathBuf,
    },
    /// `serve`: a live daemon already serves the path (it holds the lock
    /// file, or its socket answers).
    #[error("another tandemd is running on {} (it holds the control socket's lock or answers on it); stop it or set another control_socket", path.display())]
    AlreadyRunning {
        /// The socket path.
        path: PathBuf,
    },
    /// `serve`: something other than a socket sits at the path.
    #[error("{} exists and is not a socket: refusing to replace it; remove it or set another control_socket", path.display())]
    NotASocket {
        /// The path.
        path: PathBuf,
    },
    /// `serve`: the socket's directory could not be created.
    #[error("cannot create the control socket directory {}: {source}", path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// `serve`: a stale socket file could not be removed.
    #[error("cannot remove the stale control socket {}: {source}", path.display())]
    RemoveStale {
        /// The socket path.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// `serve`: the lock file beside the socket could not be opened or
    /// locked.
    #[error("cannot lock the control socket's lock file {}: {source}", path.display())]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// `serve`: bind, chmod or rename of the socket failed.
    #[error("cannot set up the control socket {}: {source}", path.display())]
    Bind {
        /// The socket path.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// `serve`: the accept thread could not be started.
    #[error("cannot start the control socket thread: {0}")]
    Thread(#[source] io::Error),
    /// The conversation with the daemon failed.
    #[error("talking to tandemd on {}: {source}", path.display())]
    Io {
        /// The socket path.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The daemon did not answer in time.
    #[error("tandemd did not answer within {} s on {}: its main loop may be stuck; check its log", timeout.as_secs(), path.display())]
    Timeout {
        /// The socket path.
        path: PathBuf,
        /// How long the client waited.
        timeout: Duration,
    },
    /// The daemon closed the connection without a reply.
    #[error("tandemd closed the control connection on {} without answering (is it stopping?)", path.display())]
    NoAnswer {
        /// The socket path.
        path: PathBuf,
    },
    /// The reply was not the JSON this client expects (another version?).
    #[error(
        "tandemd's reply is not understood ({what}): is the daemon the same version as this tool?"
    )]
    BadReply {
        /// What was wrong with it.
        what: String,
    },
    /// The daemon refused the request, and says why.
    #[error("{message}")]
    Refused {
        /// The daemon's reason.
        message: String,
    },
}

/// One request line, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// A request for the main loop.
    Control(ControlRequest),
    /// Stream events on this connection.
    Events,
}

/// Parses one request line. The error is the message sent back to the
/// client.
pub fn parse_request(line: &str) -> Result<Request, String> {
    const EXAMPLE: &str = r#"one JSON object per line, e.g. {"cmd":"status"}"#;
    let value = unique::parse(line).map_err(|e| match e {
        JsonError::Syntax(_) => format!("malformed request: {e}; expected {EXAMPLE}"),
        JsonError::DuplicateKey { .. } => format!("malformed request: {e}"),
    })?;
    let Value::Object(obj) = value else {
        return Err(format!(
            "malformed request: {} instead of an object; expected {EXAMPLE}",
            kind_of(&value)
        ));
    };
    let cmd = match obj.get("cmd") {
        Some(Value::String(s)) => s.as_str(),
        Some(other) => {
            return Err(format!(
                "malformed request: \"cmd\" is {}, not a string",
                kind_of(other)
            ))
        }
        None => return Err(format!("malformed request: no \"cmd\"; expected {EXAMPLE}")),
    };
    let (request, allowed): (Request, &[&str]) = match cmd {
        "status" => (Request::Control(ControlRequest::Status), &[]),
        "clear-pacified" => (Request::Control(ControlRequest::ClearPacified), &[]),
        "events" => (Request::Events, &[]),
        "failover" => {
            let target = match obj.get("target") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
                Some(other) => {
                    return Err(format!(
                        "failover: \"target\" must be an instance or sync group name, or null for all; got {other}"
                    ))
                }
            };
            (
                Request::Control(ControlRequest::Failover { target }),
                &["target"],
            )
        }
        "maintenance" => match obj.get("on") {
            Some(Value::Bool(on)) => (
                Request::Control(ControlRequest::Maintenance { on: *on }),
                &["on"],
            ),
            Some(other) => {
                return Err(format!(
                    "maintenance: \"on\" must be true or false; got {other}"
                ))
            }
            None => return Err("maintenance: missing \"on\" (true or false)".into()),
        },
        other => {
            return Err(format!(
                "unknown command {other:?}: expected status, failover, maintenance, clear-pacified or events"
            ))
        }
    };
    if let Some(extra) = obj
        .keys()
        .find(|k| k.as_str() != "cmd" && !allowed.contains(&k.as_str()))
    {
        return Err(format!("{cmd}: unknown field {extra:?}"));
    }
    Ok(request)
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The request as JSON, as [`call`] sends it.
pub fn request_json(req: &ControlRequest) -> Value {
    match req {
        ControlRequest::Status => json!({"cmd": "status"}),
        ControlRequest::Failover { target } => json!({"cmd": "failover", "target": target}),
        ControlRequest::Maintenance { on } => json!({"cmd": "maintenance", "on": on}),
        ControlRequest::ClearPacified => json!({"cmd": "clear-pacified"}),
    }
}

/// The reply as JSON, as the server sends it: `"ok"`, and `"status"`, or
/// `"message"` (the reply in words) with the reply's fields, or `"error"`
/// with the refusal's stable name in `"refusal"`.
pub fn reply_json(reply: &ControlReply) -> Value {
    match reply {
        ControlReply::Status(s) => match serde_json::to_value(s) {
            Ok(status) => json!({"ok": true, "status": status}),
            Err(e) => error_json(&format!("cannot encode the status: {e}")),
        },
        ControlReply::HandedOver { instances } => {
            json!({"ok": true, "message": reply.to_string(), "handed_over": instances})
        }
        ControlReply::Maintenance { on } => {
            json!({"ok": true, "message": reply.to_string(), "maintenance": on})
        }
        ControlReply::Reconfigured {
            stopped,
            started,
            unchanged,
        } => json!({
            "ok": true, "message": reply.to_string(),
            "stopped": stopped, "started": started, "unchanged": unchanged,
        }),
        ControlReply::Refused(r) => {
            json!({"ok": false, "error": r.to_string(), "refusal": r.name()})
        }
        other => json!({"ok": true, "message": other.to_string()}),
    }
}

fn error_json(message: &str) -> Value {
    json!({"ok": false, "error": message})
}

// ---------------------------------------------------------------- server

type RequestFn = dyn Fn(ControlRequest) -> ControlReply + Send + Sync;
type SubscribeFn = dyn Fn() -> Receiver<String> + Send + Sync;

struct Backend {
    request: Box<RequestFn>,
    subscribe: Box<SubscribeFn>,
    connections: AtomicUsize,
    streams: AtomicUsize,
}

/// Keeps the control socket open; dropping it stops accepting and removes
/// the socket file (if it is still the one this server bound).
#[derive(Debug)]
pub struct ServerGuard {
    path: PathBuf,
    identity: (u64, u64),
    stop: Arc<AtomicBool>,
    /// The locked `PATH.lock`, held until the socket file is removed.
    _lock: fs::File,
}

impl ServerGuard {
    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ServerGuard {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept thread so it sees the flag.
        let _ = UnixStream::connect(&self.path);
        if let Ok(meta) = fs::symlink_metadata(&self.path) {
            if (meta.dev(), meta.ino()) == self.identity {
                let _ = fs::remove_file(&self.path);
            }
        }
    }
}

/// Serves the control socket at `path` for the daemon behind `handle`.
///
/// Start it before `Daemon::run`, and keep the guard alive while the
/// daemon runs:
/// `let _guard = control::serve(&cfg.global.control_socket, daemon.control_handle())?;`
pub fn serve(path: &Path, handle: ControlHandle) -> Result<ServerGuard, ControlError> {
    let events = handle.clone();
    serve_with(
        path,
        move |req| handle.request(req),
        move || events.subscribe(),
    )
}

/// [`serve`] with the main loop replaced by two functions: `request`
/// answers a request, `subscribe` opens an event stream (one JSON object
/// per string, ending when the sender is dropped).
pub fn serve_with<R, S>(path: &Path, request: R, subscribe: S) -> Result<ServerGuard, ControlError>
where
    R: Fn(ControlRequest) -> ControlReply + Send + Sync + 'static,
    S: Fn() -> Receiver<String> + Send + Sync + 'static,
{
    let lock = prepare_path(path)?;
    let bind_err = |source| ControlError::Bind {
        path: path.to_path_buf(),
        source,
    };
    // Bind under a temporary name, make it root-only, then rename it into
    // place: the socket is never reachable with looser permissions.
    let tmp = temp_name(path);
    let _ = fs::remove_file(&tmp);
    let listener = UnixListener::bind(&tmp).map_err(bind_err)?;
    let setup = fs::set_permissions(&tmp, fs::Permissions::from_mode(0o600))
        .and_then(|()| fs::rename(&tmp, path))
        .and_then(|()| fs::symlink_metadata(path));
    let meta = match setup {
        Ok(m) => m,
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            return Err(bind_err(e));
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    let backend = Arc::new(Backend {
        request: Box::new(request),
        subscribe: Box::new(subscribe),
        connections: AtomicUsize::new(0),
        streams: AtomicUsize::new(0),
    });
    let guard = ServerGuard {
        path: path.to_path_buf(),
        identity: (meta.dev(), meta.ino()),
        stop: stop.clone(),
        _lock: lock,
    };
    thread::Builder::new()
        .name("tandemd-control".into())
        .spawn(move || accept_loop(&listener, &backend, &stop))
        .map_err(ControlError::Thread)?;
    Ok(guard)
}

/// A name beside `path` that no other server uses: this process's PID
/// and a counter.
fn temp_name(path: &Path) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(
        ".{}.{}.tmp",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    path.with_file_name(name)
}

/// The lock file of the socket at `path`: `PATH.lock`.
pub fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(LOCK_SUFFIX);
    PathBuf::from(name)
}

/// Creates the directory, takes the lock file (refusing when another
/// server holds it), and removes a stale socket file (refusing a live one
/// or a file that is not a socket). Returns the locked file, to be held
/// while serving.
fn prepare_path(path: &Path) -> Result<fs::File, ControlError> {
    let path_buf = || path.to_path_buf();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        // Recursive creation tolerates a directory that another server
        // creates at the same moment.
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(dir)
            .map_err(|source| ControlError::CreateDir {
                path: dir.to_path_buf(),
                source,
            })?;
    }
    let lock_file = lock_path(path);
    let lock_err = |source| ControlError::Lock {
        path: lock_file.clone(),
        source,
    };
    let lock = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&lock_file)
        .map_err(lock_err)?;
    if !crate::sys::try_lock_exclusive(&lock).map_err(lock_err)? {
        return Err(ControlError::AlreadyRunning { path: path_buf() });
    }
    // The lock is ours: no other server of this version touches the path
    // until it is released. A socket file there is stale unless a daemon
    // that takes no lock answers on it.
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(lock),
        Err(source) => {
            return Err(ControlError::Bind {
                path: path_buf(),
                source,
            })
        }
    };
    if !meta.file_type().is_socket() {
        return Err(ControlError::NotASocket { path: path_buf() });
    }
    match UnixStream::connect(path) {
        Ok(_) => Err(ControlError::AlreadyRunning { path: path_buf() }),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::ConnectionRefused | io::ErrorKind::NotFound
            ) =>
        {
            match fs::remove_file(path) {
                Ok(()) => Ok(lock),
                // Gone already: what removing it was for.
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(lock),
                Err(source) => Err(ControlError::RemoveStale {
                    path: path_buf(),
                    source,
                }),
            }
        }
        Err(source) => Err(ControlError::Bind {
            path: path_buf(),
            source,
        }),
    }
}

/// Decrements a counter when dropped.
struct Slot<'a>(&'a AtomicUsize);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Takes one of `max` slots, or returns `None`.
fn take_slot(counter: &AtomicUsize, max: usize) -> Option<Slot<'_>> {
    counter
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
            (n < max).then_some(n + 1)
        })
        .ok()
        .map(|_| Slot(counter))
}

/// What a client refused for lack of room is told.
pub fn busy_message() -> String {
    format!(
        "busy: all {MAX_CONNECTIONS} control connections are running requests or event streams; try again"
    )
}

/// The connections waiting for a request line, oldest first, each with a
/// handle to shut it down when a new connection needs its place.
#[derive(Default)]
struct Waiting(Mutex<BTreeMap<u64, UnixStream>>);

impl Waiting {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, UnixStream>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Connection `id` starts waiting for a request line.
    fn enter(&self, id: u64, handle: UnixStream) {
        self.lock().insert(id, handle);
    }

    /// Connection `id` has its line (or is gone); `None` if it was evicted
    /// meanwhile.
    fn leave(&self, id: u64) -> Option<UnixStream> {
        self.lock().remove(&id)
    }

    /// Shuts down the oldest waiting connection (its thread sees the end
    /// of the stream and ends); false if none is waiting.
    fn evict_oldest(&self) -> bool {
        let oldest = self.lock().pop_first();
        match oldest {
            Some((_, handle)) => {
                let _ = handle.shutdown(std::net::Shutdown::Both);
                true
            }
            None => false,
        }
    }
}

/// Tells the client it is refused, without waiting (non-blocking): the
/// line fits in the socket's buffer. What the client already sent is read
/// first, so that closing does not reset the connection before the client
/// reads the line.
fn refuse_busy(mut stream: UnixStream) {
    let _ = stream.set_nonblocking(true);
    let _ = write_line(&mut stream, &error_json(&busy_message()));
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let mut chunk = [0u8; 4096];
    let _ = stream.read(&mut chunk);
}

fn accept_loop(listener: &UnixListener, backend: &Arc<Backend>, stop: &AtomicBool) {
    let waiting = Arc::new(Waiting::default());
    let mut next_id: u64 = 0;
    loop {
        let accepted = listener.accept();
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let stream = match accepted {
            Ok((s, _)) => s,
            Err(_) => {
                // Out of descriptors or similar: do not spin.
                thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
        match take_slot(&backend.connections, MAX_CONNECTIONS) {
            // The thread releases the slot when the connection ends.
            Some(slot) => std::mem::forget(slot),
            // The evicted connection's thread ends at once and releases
            // its slot; this one takes it over.
            None if waiting.evict_oldest() => {
                backend.connections.fetch_add(1, Ordering::SeqCst);
            }
            None => {
                refuse_busy(stream);
                continue;
            }
        }
        let id = next_id;
        next_id = next_id.wrapping_add(1);
        let b = backend.clone();
        let w = waiting.clone();
        let spawned = thread::Builder::new()
            .name("tandemd-control-conn".into())
            .spawn(move || {
                let _slot = Slot(&b.connections);
                handle_connection(stream, &b, &w, id);
            });
        if spawned.is_err() {
            backend.connections.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

fn write_line(stream: &mut UnixStream, value: &Value) -> io::Result<()> {
    let mut line = value.to_string();
    line.push('\n');
    stream.write_all(line.as_bytes())
}

/// Why a request line could not be read.
enum LineError {
    /// The client closed the connection, timed out or failed.
    Gone,
    /// Longer than [`MAX_REQUEST_LINE`].
    TooLong,
}

/// Reads one line (without its newline) that must arrive whole within
/// [`REQUEST_TIMEOUT`].
fn read_request_line(stream: &mut UnixStream, pending: &mut Vec<u8>) -> Result<Vec<u8>, LineError> {
    let deadline = Instant::now() + REQUEST_TIMEOUT;
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(pos) = pending.iter().position(|&b| b == b'\n') {
            let mut line: Vec<u8> = pending.drain(..=pos).collect();
            line.pop();
            return Ok(line);
        }
        if pending.len() > MAX_REQUEST_LINE {
            return Err(LineError::TooLong);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            return Err(LineError::Gone);
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return Err(LineError::Gone),
            Ok(n) => pending.extend_from_slice(&chunk[..n]),
        }
    }
}

fn handle_connection(mut stream: UnixStream, backend: &Backend, waiting: &Waiting, id: u64) {
    let Ok(mut handle) = stream.try_clone() else {
        return;
    };
    let mut pending = Vec::new();
    loop {
        // While it waits for a line, a new connection may evict it.
        waiting.enter(id, handle);
        let read = read_request_line(&mut stream, &mut pending);
        match waiting.leave(id) {
            Some(h) => handle = h,
            None => return,
        }
        let line = match read {
            Ok(l) => l,
            Err(LineError::Gone) => return,
            Err(LineError::TooLong) => {
                let _ = write_line(
                    &mut stream,
                    &error_json(&format!(
                        "malformed request: longer than {MAX_REQUEST_LINE} bytes without a newline"
                    )),
                );
                linger(&mut stream);
                return;
            }
        };
        let reply = match std::str::from_utf8(&line) {
            Err(_) => error_json("malformed request: not UTF-8"),
            Ok(text) if text.trim().is_empty() => continue,
            Ok(text) => match parse_request(text) {
                Err(message) => error_json(&message),
                Ok(Request::Control(req)) => reply_json(&(backend.request)(req)),
                Ok(Request::Events) => {
                    stream_events(&mut stream, backend);
                    return;
                }
            },
        };
        if write_line(&mut stream, &reply).is_err() {
            return;
        }
    }
}

/// Closes our side and discards what the client still sends (briefly),
/// so that it reads the last reply instead of a reset.
fn linger(stream: &mut UnixStream) {
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let deadline = Instant::now() + Duration::from_secs(1);
    let mut chunk = [0u8; 4096];
    let mut total = 0;
    while total < 1 << 20 {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            return;
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => total += n,
        }
    }
}

fn stream_events(stream: &mut UnixStream, backend: &Backend) {
    let Some(_slot) = take_slot(&backend.streams, MAX_STREAMS) else {
        let _ = write_line(
            stream,
            &error_json(&format!(
                "busy: {MAX_STREAMS} event streams are open; try again"
            )),
        );
        return;
    };
    let rx = (backend.subscribe)();
    if write_line(stream, &json!({"ok": true, "events": "streaming"})).is_err() {
        return;
    }
    loop {
        match rx.recv_timeout(Duration::from_secs(1)) {
            Ok(mut line) => {
                line.push('\n');
                if stream.write_all(line.as_bytes()).is_err() {
                    return;
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                if peer_gone(stream) {
                    return;
                }
            }
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// Whether the client closed its end (checked while no event flows).
fn peer_gone(stream: &mut UnixStream) -> bool {
    if stream.set_nonblocking(true).is_err() {
        return true;
    }
    let mut buf = [0u8; 256];
    let gone = match stream.read(&mut buf) {
        Ok(0) => true,
        // Whatever the client sends while streaming is ignored.
        Ok(_) => false,
        Err(e) => e.kind() != io::ErrorKind::WouldBlock,
    };
    stream.set_nonblocking(false).is_err() || gone
}

// ---------------------------------------------------------------- client

fn connect(path: &Path) -> Result<UnixStream, ControlError> {
    let path_buf = path.to_path_buf();
    UnixStream::connect(path).map_err(|source| match source.kind() {
        io::ErrorKind::NotFound => ControlError::NotRunning { path: path_buf },
        io::ErrorKind::PermissionDenied => ControlError::PermissionDenied { path: path_buf },
        io::ErrorKind::ConnectionRefused => ControlError::Stale { path: path_buf },
        _ => ControlError::Io {
            path: path_buf,
            source,
        },
    })
}

fn io_error(path: &Path, source: io::Error) -> ControlError {
    match source.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => ControlError::Timeout {
            path: path.to_path_buf(),
            timeout: CLIENT_TIMEOUT,
        },
        _ => ControlError::Io {
            path: path.to_path_buf(),
            source,
        },
    }
}

/// Reads one reply line and checks `"ok"`: the object on `true`,
/// [`ControlError::Refused`] on `false`.
fn read_reply(path: &Path, reader: &mut impl BufRead) -> Result<Map<String, Value>, ControlError> {
    let mut line = String::new();
    let n = reader.read_line(&mut line).map_err(|e| io_error(path, e))?;
    if n == 0 {
        return Err(ControlError::NoAnswer {
            path: path.to_path_buf(),
        });
    }
    let value: Value = serde_json::from_str(&line).map_err(|e| ControlError::BadReply {
        what: format!("not JSON: {e}"),
    })?;
    let Value::Object(obj) = value else {
        return Err(ControlError::BadReply {
            what: "not an object".into(),
        });
    };
    match obj.get("ok") {
        Some(Value::Bool(true)) => Ok(obj),
        Some(Value::Bool(false)) => Err(ControlError::Refused {
            message: obj
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("refused, without a reason")
                .to_string(),
        }),
        _ => Err(ControlError::BadReply {
            what: "no \"ok\"".into(),
        }),
    }
}

/// Connects, sends `request` and reads the first reply line. A daemon that
/// refuses the connection (busy) answers and closes it before reading the
/// request, so a send that fails on a closed connection still reads the
/// answer that came before.
fn exchange(
    path: &Path,
    request: &Value,
) -> Result<(BufReader<UnixStream>, Map<String, Value>), ControlError> {
    let mut stream = connect(path)?;
    let sent = stream
        .set_read_timeout(Some(CLIENT_TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(CLIENT_TIMEOUT)))
        .and_then(|()| write_line(&mut stream, request));
    let mut reader = BufReader::new(stream);
    match sent {
        Ok(()) => read_reply(path, &mut reader).map(|reply| (reader, reply)),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
            ) =>
        {
            match read_reply(path, &mut reader) {
                Ok(reply) => Ok((reader, reply)),
                Err(refused @ ControlError::Refused { .. }) => Err(refused),
                Err(_) => Err(io_error(path, e)),
            }
        }
        Err(e) => Err(io_error(path, e)),
    }
}

/// Sends one request and returns the reply object (`"ok": true`); a reply
/// with `"ok": false` becomes [`ControlError::Refused`] with its reason.
pub fn call(path: &Path, request: &Value) -> Result<Value, ControlError> {
    exchange(path, request).map(|(_, reply)| Value::Object(reply))
}

/// Asks for the node snapshot.
pub fn status(path: &Path) -> Result<NodeSnapshot, ControlError> {
    let reply = call(path, &request_json(&ControlRequest::Status))?;
    let status = reply
        .get("status")
        .cloned()
        .ok_or_else(|| ControlError::BadReply {
            what: "no \"status\"".into(),
        })?;
    serde_json::from_value(status).map_err(|e| ControlError::BadReply {
        what: format!("status: {e}"),
    })
}

/// Opens the event stream and calls `on_line` with each event line (one
/// JSON object) until it returns `false` or the daemon closes the stream.
pub fn stream(path: &Path, mut on_line: impl FnMut(&str) -> bool) -> Result<(), ControlError> {
    let (mut reader, _) = exchange(path, &json!({"cmd": "events"}))?;
    // Events come whenever they happen: no timeout from here on.
    reader
        .get_ref()
        .set_read_timeout(None)
        .map_err(|e| io_error(path, e))?;
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) => return Ok(()),
            Ok(_) => {
                if !on_line(line.trim_end_matches(['\n', '\r'])) {
                    return Ok(());
                }
            }
            Err(e) => return Err(io_error(path, e)),
        }
    }
}

#[cfg(test)]
mod tests;
