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
pub(crate) mod render;
mod server;
mod unique;

pub use api::{ControlReply, ControlRequest, Refusal};

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Map, Value};

use crate::snapshot::NodeSnapshot;

pub use render::render_status;
pub use render::sync::{
    diff_json, epoch_hex, render_applied, render_diff, render_forced, render_sync_status,
    sync_status_json,
};
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
        /// The refusal's stable name (`"refusal"`: `not_active`,
        /// `reconfigure`, ...), when the daemon sent one.
        refusal: Option<String>,
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
        "sync-status" => (Request::Control(ControlRequest::SyncStatus), &[]),
        "sync-clear" => (Request::Control(ControlRequest::SyncClear), &[]),
        "sync-diff" => (Request::Control(ControlRequest::SyncDiff), &[]),
        "sync-force" => (Request::Control(ControlRequest::SyncForce), &[]),
        "config-apply" => {
            let path = string_field(&obj, cmd, "path", "the configuration file to apply")?;
            if !path.starts_with('/') {
                return Err(format!("{cmd}: \"path\" must be absolute; got {path:?}"));
            }
            (
                Request::Control(ControlRequest::ConfigApply { path: path.into() }),
                &["path"],
            )
        }
        "config-get" => {
            let key = string_field(&obj, cmd, "key", "a path such as instance.web.vrid")?;
            (Request::Control(ControlRequest::ConfigGet { key }), &["key"])
        }
        "config-set" => {
            let key = string_field(&obj, cmd, "key", "a path such as instance.web.vrid")?;
            let value = string_field(&obj, cmd, "value", "the new value as TOML")?;
            let local = local_field(&obj, cmd)?;
            (
                Request::Control(ControlRequest::ConfigSet { key, value, local }),
                &["key", "value", "local"],
            )
        }
        "config-unset" => {
            let key = string_field(&obj, cmd, "key", "a path such as instance.web.vrid")?;
            let local = local_field(&obj, cmd)?;
            (
                Request::Control(ControlRequest::ConfigUnset { key, local }),
                &["key", "local"],
            )
        }
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
                "unknown command {other:?}: expected status, failover, maintenance, clear-pacified, events, config-apply, config-get, config-set, config-unset, sync-status, sync-clear, sync-diff or sync-force"
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

/// A request's optional `"local"` flag (absent or null: false).
fn local_field(obj: &serde_json::Map<String, Value>, cmd: &str) -> Result<bool, String> {
    match obj.get("local") {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(format!(
            "{cmd}: \"local\" must be true or false; got {other}"
        )),
    }
}

/// A request's non-empty string field.
fn string_field(
    obj: &serde_json::Map<String, Value>,
    cmd: &str,
    name: &str,
    what: &str,
) -> Result<String, String> {
    match obj.get(name) {
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 65_536 => Ok(s.clone()),
        Some(Value::String(s)) if s.is_empty() => {
            Err(format!("{cmd}: \"{name}\" is empty; expected {what}"))
        }
        Some(Value::String(_)) => Err(format!("{cmd}: \"{name}\" is longer than 65,536 bytes")),
        Some(other) => Err(format!(
            "{cmd}: \"{name}\" must be a string ({what}); got {other}"
        )),
        None => Err(format!("{cmd}: missing \"{name}\" ({what})")),
    }
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
        ControlRequest::ConfigApply { path } => json!({"cmd": "config-apply", "path": path}),
        ControlRequest::ConfigGet { key } => json!({"cmd": "config-get", "key": key}),
        ControlRequest::ConfigSet { key, value, local } => {
            json!({"cmd": "config-set", "key": key, "value": value, "local": local})
        }
        ControlRequest::ConfigUnset { key, local } => {
            json!({"cmd": "config-unset", "key": key, "local": local})
        }
        ControlRequest::SyncStatus => json!({"cmd": "sync-status"}),
        ControlRequest::SyncClear => json!({"cmd": "sync-clear"}),
        ControlRequest::SyncDiff => json!({"cmd": "sync-diff"}),
        ControlRequest::SyncForce => json!({"cmd": "sync-force"}),
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
        ControlReply::ConfigApplied {
            stopped,
            started,
            unchanged,
            sync,
        } => json!({
            "ok": true, "message": reply.to_string(),
            "stopped": stopped, "started": started, "unchanged": unchanged, "sync": sync,
        }),
        ControlReply::ConfigValue { key, value, class } => json!({
            "ok": true, "message": reply.to_string(), "key": key, "value": value, "class": class,
        }),
        ControlReply::SyncStatus(s) => match serde_json::to_value(s) {
            Ok(sync) => json!({"ok": true, "message": reply.to_string(), "sync": sync}),
            Err(e) => error_json(&format!("cannot encode the sync status: {e}")),
        },
        ControlReply::SyncDiff { entries } => {
            json!({"ok": true, "message": reply.to_string(), "diff": entries})
        }
        ControlReply::SyncForced {
            epoch,
            generation,
            overwritten,
        } => json!({
            "ok": true, "message": reply.to_string(), "epoch": format!("{epoch:016x}"),
            "generation": generation, "overwritten": overwritten,
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

fn write_line(stream: &mut UnixStream, value: &Value) -> io::Result<()> {
    let mut line = value.to_string();
    line.push('\n');
    stream.write_all(line.as_bytes())
}

pub use server::{busy_message, lock_path, serve, serve_with, ServerGuard};

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
            refusal: obj
                .get("refusal")
                .and_then(Value::as_str)
                .map(str::to_string),
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
