//! `tandemd config apply|get|set|unset` and `tandemd sync
//! keygen|status|diff|force`: their arguments, the requests they send and
//! how they print the replies (docs/control.md).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::{Args, Subcommand};
use serde_json::{json, Map, Value};

use super::{Failure, SocketArg};
use crate::control::api::{ControlRequest, DiffLine, SyncOutcome};
use crate::control::render::escape;
use crate::control::render::sync::{
    diff_json, render_applied, render_diff, render_forced, render_sync_status, sync_status_json,
};
use crate::control::{call, request_json, ControlError};
use crate::snapshot::SyncStatus;

/// `tandemd config ...`.
#[derive(Debug, Clone, Subcommand)]
pub enum ConfigCommand {
    /// Apply a configuration file: validate it as check-config does, write
    /// it over the daemon's configuration file atomically, reload, and
    /// with `[sync]` on the Active send it to the partner.
    ///
    /// Prints one line: `applied: generation N, partner applied (in X ms)`,
    /// `applied here: generation N; partner pending`, `refused by the
    /// partner: CODE at PATH: TEXT` (exit status 3: applied here, not
    /// there) or `refused: WHY` (exit status 2: nothing changed).
    Apply(ConfigApplyArgs),
    /// Print one value of the running configuration as a TOML literal.
    ///
    /// KEY is a field path: `instance.web.vrid`, `app.vs.web1.port`,
    /// `global.restart_guard`. Secrets print as "***". Exit status 1 when
    /// the field is not set.
    Get(ConfigGetArgs),
    /// Set one value of the running configuration, then apply it as
    /// `config apply` does (the same lines and exit statuses).
    ///
    /// VALUE is a TOML literal: `150`, `'"eth1"'`, `'[1, 2]'`. On the
    /// Backup of an active-standby pair it is refused (exit status 2)
    /// unless --local and KEY is a local setting (never synced).
    Set(ConfigSetArgs),
    /// Remove one value of the running configuration, then apply it as
    /// `config set` does.
    Unset(ConfigUnsetArgs),
}

/// `tandemd config apply`.
#[derive(Debug, Clone, Args)]
pub struct ConfigApplyArgs {
    /// The new configuration file.
    pub file: PathBuf,
    /// The daemon's reply object as JSON instead of the line.
    #[arg(long)]
    pub json: bool,
    /// The control socket.
    #[command(flatten)]
    pub socket: SocketArg,
}

/// `tandemd config get`.
#[derive(Debug, Clone, Args)]
pub struct ConfigGetArgs {
    /// The field path (`instance.web.vrid`).
    pub key: String,
    /// `{"key", "value", "class"}` instead of the value.
    #[arg(long)]
    pub json: bool,
    /// The control socket.
    #[command(flatten)]
    pub socket: SocketArg,
}

/// `tandemd config set`.
#[derive(Debug, Clone, Args)]
pub struct ConfigSetArgs {
    /// The field path (`instance.web.priority`).
    pub key: String,
    /// The new value, a TOML literal (`150`, `"eth1"`, `[1, 2]`).
    #[arg(allow_hyphen_values = true)]
    pub value: String,
    /// A local setting of this unit (priority, source, paths, `[sync]`):
    /// allowed on the Backup, never sent to the partner.
    #[arg(long)]
    pub local: bool,
    /// The daemon's reply object as JSON instead of the line.
    #[arg(long)]
    pub json: bool,
    /// The control socket.
    #[command(flatten)]
    pub socket: SocketArg,
}

/// `tandemd config unset`.
#[derive(Debug, Clone, Args)]
pub struct ConfigUnsetArgs {
    /// The field path (`instance.web.preempt_delay`).
    pub key: String,
    /// A local setting of this unit: allowed on the Backup.
    #[arg(long)]
    pub local: bool,
    /// The daemon's reply object as JSON instead of the line.
    #[arg(long)]
    pub json: bool,
    /// The control socket.
    #[command(flatten)]
    pub socket: SocketArg,
}

/// `tandemd sync ...`.
#[derive(Debug, Clone, Subcommand)]
pub enum SyncCommand {
    /// Write a new random configuration-sync key file (mode 0600).
    ///
    /// Copy the file to the partner: both units must hold the same key.
    /// Refuses an existing file unless --force (which replaces it
    /// atomically). Needs no running daemon.
    Keygen(KeygenArgs),
    /// Configuration sync's state, both units' authority (epoch,
    /// generation, root digest), the last success and error, and counts.
    ///
    /// States: in-sync, pending, syncing, diverged, conflict, blocked,
    /// disconnected (and off when sync could not start).
    Status(SyncStatusArgs),
    /// The objects whose shared settings differ between the two units,
    /// field by field (secrets masked), as the last comparison found them.
    Diff(SyncDiffArgs),
    /// This unit's configuration wins: a new epoch, sent to the partner
    /// whole. Prints what it overwrites there.
    Force(SyncForceArgs),
}

/// `tandemd sync keygen`.
#[derive(Debug, Clone, Args)]
pub struct KeygenArgs {
    /// The key file to write (the `[sync] key_file` of both units).
    pub file: PathBuf,
    /// Replace an existing file (atomically: a reader sees the old key or
    /// the new one).
    #[arg(long)]
    pub force: bool,
}

/// `tandemd sync status`.
#[derive(Debug, Clone, Args)]
pub struct SyncStatusArgs {
    /// One JSON object instead of the lines.
    #[arg(long)]
    pub json: bool,
    /// Forget the conflicts reported so far (bidirectional mode), then
    /// print the status.
    #[arg(long)]
    pub clear: bool,
    /// The control socket.
    #[command(flatten)]
    pub socket: SocketArg,
}

/// `tandemd sync diff`.
#[derive(Debug, Clone, Args)]
pub struct SyncDiffArgs {
    /// A JSON array `[{"object", "fields": [{"field", "local", "partner"}]}]`.
    #[arg(long)]
    pub json: bool,
    /// The control socket.
    #[command(flatten)]
    pub socket: SocketArg,
}

/// `tandemd sync force`.
#[derive(Debug, Clone, Args)]
pub struct SyncForceArgs {
    /// `{"epoch", "generation", "overwritten"}` instead of the lines.
    #[arg(long)]
    pub json: bool,
    /// The control socket.
    #[command(flatten)]
    pub socket: SocketArg,
}

impl ConfigCommand {
    pub(super) fn name(&self) -> &'static str {
        match self {
            ConfigCommand::Apply(_) => "config apply",
            ConfigCommand::Get(_) => "config get",
            ConfigCommand::Set(_) => "config set",
            ConfigCommand::Unset(_) => "config unset",
        }
    }
}

impl SyncCommand {
    pub(super) fn name(&self) -> &'static str {
        match self {
            SyncCommand::Keygen(_) => "sync keygen",
            SyncCommand::Status(_) => "sync status",
            SyncCommand::Diff(_) => "sync diff",
            SyncCommand::Force(_) => "sync force",
        }
    }
}

/// A part of a reply, decoded.
fn field<T: serde::de::DeserializeOwned>(reply: &Value, name: &str) -> Result<T, Failure> {
    let part = reply.get(name).cloned().unwrap_or(Value::Null);
    serde_json::from_value(part).map_err(|e| {
        Failure::Control(ControlError::BadReply {
            what: format!("{name}: {e}"),
        })
    })
}

fn pretty(v: &Value) -> Result<String, Failure> {
    serde_json::to_string_pretty(v)
        .map(|t| format!("{t}\n"))
        .map_err(|e| Failure::Output(e.into()))
}

/// Refusals that say nothing about the configuration (the daemon is
/// stopping, busy or stuck): exit status 1 like any failure to talk.
fn transient(refusal: Option<&str>) -> bool {
    matches!(refusal, Some("timeout" | "busy" | "stopping"))
}

/// Sends a configuration change and prints its outcome; the exit status:
/// 0 applied, 2 refused here (nothing changed), 3 refused by the partner.
fn change(
    socket: &Path,
    request: &ControlRequest,
    json: bool,
    out: &mut dyn Write,
) -> Result<u8, Failure> {
    let started = Instant::now();
    let (text, code) = match call(socket, &request_json(request)) {
        Ok(reply) => {
            let outcome: SyncOutcome = field(&reply, "sync")?;
            let (line, code) = render_applied(&outcome, started.elapsed().as_millis());
            if json {
                (pretty(&reply)?, code)
            } else {
                (line, code)
            }
        }
        Err(ControlError::Refused { message, refusal }) if !transient(refusal.as_deref()) => {
            if json {
                let v = json!({"ok": false, "error": message, "refusal": refusal});
                (pretty(&v)?, 2)
            } else {
                (format!("refused: {}\n", escape(&message)), 2)
            }
        }
        Err(e) => return Err(e.into()),
    };
    write_out(out, &text)?;
    Ok(code)
}

fn write_out(out: &mut dyn Write, text: &str) -> Result<(), Failure> {
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(Failure::Output)
}

/// Makes `file` absolute against the working directory, as the daemon
/// needs it.
fn absolute(file: &Path) -> Result<PathBuf, Failure> {
    std::path::absolute(file).map_err(|e| Failure::Path {
        path: file.to_path_buf(),
        source: e,
    })
}

pub(super) fn config(cmd: &ConfigCommand, out: &mut dyn Write) -> Result<u8, Failure> {
    match cmd {
        ConfigCommand::Apply(a) => {
            let path = absolute(&a.file)?;
            let req = ControlRequest::ConfigApply { path };
            change(&a.socket.path(), &req, a.json, out)
        }
        ConfigCommand::Set(a) => {
            let req = ControlRequest::ConfigSet {
                key: a.key.clone(),
                value: a.value.clone(),
                local: a.local,
            };
            change(&a.socket.path(), &req, a.json, out)
        }
        ConfigCommand::Unset(a) => {
            let req = ControlRequest::ConfigUnset {
                key: a.key.clone(),
                local: a.local,
            };
            change(&a.socket.path(), &req, a.json, out)
        }
        ConfigCommand::Get(a) => {
            let req = ControlRequest::ConfigGet { key: a.key.clone() };
            let reply = call(&a.socket.path(), &request_json(&req))?;
            let value: Option<String> = field(&reply, "value")?;
            if a.json {
                let class: Option<String> = field(&reply, "class")?;
                let v = json!({"key": a.key, "value": value, "class": class});
                write_out(out, &pretty(&v)?)?;
            }
            match value {
                Some(v) if !a.json => write_out(out, &format!("{}\n", escape(&v)))?,
                Some(_) => {}
                None => return Err(Failure::NotSet(a.key.clone())),
            }
            Ok(0)
        }
    }
}

pub(super) fn sync(cmd: &SyncCommand, out: &mut dyn Write) -> Result<u8, Failure> {
    let text = match cmd {
        SyncCommand::Keygen(a) => {
            super::keygen::keygen(&a.file, a.force)?;
            format!("wrote {}\n", escape(&a.file.display().to_string()))
        }
        SyncCommand::Status(a) => {
            let req = if a.clear {
                ControlRequest::SyncClear
            } else {
                ControlRequest::SyncStatus
            };
            let reply = call(&a.socket.path(), &request_json(&req))?;
            let status: SyncStatus = field(&reply, "sync")?;
            if a.json {
                pretty(&sync_status_json(&status))?
            } else {
                render_sync_status(&status)
            }
        }
        SyncCommand::Diff(a) => {
            let reply = call(&a.socket.path(), &request_json(&ControlRequest::SyncDiff))?;
            let lines: Vec<DiffLine> = field(&reply, "diff")?;
            if a.json {
                pretty(&diff_json(&lines))?
            } else {
                render_diff(&lines)
            }
        }
        SyncCommand::Force(a) => {
            let reply = call(&a.socket.path(), &request_json(&ControlRequest::SyncForce))?;
            let epoch_text: String = field(&reply, "epoch")?;
            let epoch = u64::from_str_radix(&epoch_text, 16).map_err(|_| {
                Failure::Control(ControlError::BadReply {
                    what: format!("epoch {epoch_text:?} is not hex"),
                })
            })?;
            let generation: u64 = field(&reply, "generation")?;
            let lines: Vec<DiffLine> = field(&reply, "overwritten")?;
            if a.json {
                pretty(&json!({
                    "epoch": epoch_text, "generation": generation,
                    "overwritten": diff_json(&lines),
                }))?
            } else {
                render_forced(epoch, generation, &lines)
            }
        }
    };
    write_out(out, &text)?;
    Ok(0)
}

/// `status --json`: the `"sync"` member in the form of `sync status
/// --json` (a member this tool cannot read is left as the daemon sent it).
pub(super) fn status_json_sync(status: &mut Value) {
    if let Some(m) = status.as_object_mut() {
        convert_sync(m);
    }
}

fn convert_sync(m: &mut Map<String, Value>) {
    let Some(raw) = m.get("sync") else { return };
    if let Ok(s) = serde_json::from_value::<SyncStatus>(raw.clone()) {
        m.insert("sync".into(), sync_status_json(&s));
    }
}

#[cfg(test)]
mod tests;
