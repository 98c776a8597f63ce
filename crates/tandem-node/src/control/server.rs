//! The server side of the control socket: the listener and its lock,
//! one thread per connection, the eviction of idle connections when full,
//! and event streams.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};
use serde_json::json;

use crate::drive::ControlHandle;

use super::{
    error_json, parse_request, reply_json, write_line, ControlError, ControlReply, ControlRequest,
    Request, LOCK_SUFFIX, MAX_CONNECTIONS, MAX_REQUEST_LINE, MAX_STREAMS, REQUEST_TIMEOUT,
    WRITE_TIMEOUT,
};

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
        // Waiting from the moment it is accepted, so that the next
        // connection can evict it even before its thread has run (a busy
        // machine starts threads late).
        let Ok(handle) = stream.try_clone() else {
            backend.connections.fetch_sub(1, Ordering::SeqCst);
            continue;
        };
        waiting.enter(id, handle);
        let b = backend.clone();
        let w = waiting.clone();
        let spawned = thread::Builder::new()
            .name("tandemd-control-conn".into())
            .spawn(move || {
                let _slot = Slot(&b.connections);
                handle_connection(stream, &b, &w, id);
            });
        if spawned.is_err() {
            waiting.leave(id);
            backend.connections.fetch_sub(1, Ordering::SeqCst);
        }
    }
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

/// Serves connection `id`, which the accept loop entered as waiting.
fn handle_connection(mut stream: UnixStream, backend: &Backend, waiting: &Waiting, id: u64) {
    let mut handle: Option<UnixStream> = None;
    let mut pending = Vec::new();
    loop {
        // While it waits for a line, a new connection may evict it.
        if let Some(h) = handle.take() {
            waiting.enter(id, h);
        }
        let read = read_request_line(&mut stream, &mut pending);
        match waiting.leave(id) {
            Some(h) => handle = Some(h),
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
