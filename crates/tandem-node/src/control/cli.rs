//! The client subcommands: `tandemd status`, `failover`, `maintenance`,
//! `clear-pacified`, `events`, `config apply|get|set|unset` and `sync
//! keygen|status|diff|force`. main.rs parses them with these argument
//! types and calls [`run`].

mod keygen;
mod sync;

pub use keygen::{keygen, replication_keygen, KeygenError};
pub use sync::{
    ConfigApplyArgs, ConfigCommand, ConfigGetArgs, ConfigSetArgs, ConfigUnsetArgs, KeygenArgs,
    SyncCommand, SyncDiffArgs, SyncForceArgs, SyncStatusArgs,
};

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use serde_json::json;

use super::{call, render_status, status, stream, ControlError};

/// The socket option every client subcommand takes: `--control-socket`,
/// as `tandemd run` (`--socket`, its older name, still works).
#[derive(Debug, Clone, Default, Args)]
pub struct SocketArg {
    /// The daemon's control socket (its `[global] control_socket`);
    /// default: this network namespace's (/run/tandemd/tandemd.sock in the
    /// initial one, /run/tandemd/netns/NAME/tandemd.sock in `ip netns exec
    /// NAME`; docs/control.md).
    #[arg(long = "control-socket", alias = "socket", value_name = "PATH")]
    pub socket: Option<PathBuf>,
}

impl SocketArg {
    /// The path given, else the default of this network namespace
    /// ([`crate::netns`]).
    pub fn path(&self) -> PathBuf {
        self.socket
            .clone()
            .unwrap_or_else(crate::netns::default_control_socket)
    }
}

/// `tandemd status`.
#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    /// The node snapshot as JSON (the same fields, for programs) instead of
    /// the table.
    #[arg(long)]
    pub json: bool,
    /// The control socket.
    #[command(flatten)]
    pub socket: SocketArg,
}

/// `tandemd failover`.
#[derive(Debug, Clone, Args)]
pub struct FailoverArgs {
    /// An instance or sync group name; without it, every instance that is
    /// Active on this node.
    #[arg(value_name = "INSTANCE|GROUP")]
    pub target: Option<String>,
    /// The control socket.
    #[command(flatten)]
    pub socket: SocketArg,
}

/// On or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnOff {
    /// Enter maintenance.
    On,
    /// Leave maintenance.
    Off,
}

/// `tandemd maintenance`.
#[derive(Debug, Clone, Args)]
pub struct MaintenanceArgs {
    /// `on`: every instance goes passive (an Active one hands over first);
    /// `off`: the node takes part in the election again.
    #[arg(value_enum)]
    pub mode: OnOff,
    /// The control socket.
    #[command(flatten)]
    pub socket: SocketArg,
}

/// The client subcommands, for main.rs to dispatch.
#[derive(Debug, Clone)]
pub enum ClientCommand {
    /// `tandemd status`.
    Status(StatusArgs),
    /// `tandemd failover`.
    Failover(FailoverArgs),
    /// `tandemd maintenance`.
    Maintenance(MaintenanceArgs),
    /// `tandemd clear-pacified`.
    ClearPacified(SocketArg),
    /// `tandemd events`.
    Events(SocketArg),
    /// `tandemd config ...`.
    Config(ConfigCommand),
    /// `tandemd sync ...` (`sync keygen` needs no daemon).
    Sync(SyncCommand),
}

impl ClientCommand {
    fn name(&self) -> &'static str {
        match self {
            ClientCommand::Status(_) => "status",
            ClientCommand::Failover(_) => "failover",
            ClientCommand::Maintenance(_) => "maintenance",
            ClientCommand::ClearPacified(_) => "clear-pacified",
            ClientCommand::Events(_) => "events",
            ClientCommand::Config(c) => c.name(),
            ClientCommand::Sync(c) => c.name(),
        }
    }
}

/// Runs a client subcommand: prints its result on standard output, or
/// `tandemd NAME: why` on standard error with exit status 1. `config
/// apply|set|unset` exit with 2 when refused (nothing changed) and 3 when
/// the partner refused the change (docs/control.md).
pub fn run(cmd: &ClientCommand) -> ExitCode {
    let mut out = io::stdout().lock();
    match execute(cmd, &mut out) {
        Ok(code) => ExitCode::from(code),
        Err(Failure::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            drop(out);
            eprintln!("tandemd {}: {e}", cmd.name());
            ExitCode::FAILURE
        }
    }
}

/// Why a client subcommand failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Failure {
    #[error(transparent)]
    Control(#[from] ControlError),
    #[error("cannot write the output: {0}")]
    Output(#[source] io::Error),
    #[error("tandemd closed the event stream (it stopped or is restarting)")]
    Closed,
    #[error(transparent)]
    Keygen(#[from] KeygenError),
    #[error("{} is not set", super::render::escape(.0))]
    NotSet(String),
    #[error("{}: {source}", path.display())]
    Path {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Runs `cmd`, printing on `out`; the exit status when it did not fail.
pub(crate) fn execute(cmd: &ClientCommand, out: &mut dyn Write) -> Result<u8, Failure> {
    let message = |path: &Path, request: serde_json::Value| -> Result<String, Failure> {
        let reply = call(path, &request)?;
        Ok(reply["message"].as_str().unwrap_or("done").to_string())
    };
    let text = match cmd {
        ClientCommand::Status(a) => {
            if a.json {
                // The daemon's JSON as it is, so fields this tool does not
                // know yet still reach the program reading it.
                let mut reply = call(&a.socket.path(), &json!({"cmd": "status"}))?;
                sync::status_json_sync(&mut reply["status"]);
                let pretty = serde_json::to_string_pretty(&reply["status"])
                    .map_err(|e| Failure::Output(e.into()))?;
                format!("{pretty}\n")
            } else {
                render_status(&status(&a.socket.path())?)
            }
        }
        ClientCommand::Failover(a) => {
            let m = message(
                &a.socket.path(),
                json!({"cmd": "failover", "target": a.target}),
            )?;
            format!("{m}\n")
        }
        ClientCommand::Maintenance(a) => {
            let on = a.mode == OnOff::On;
            let m = message(&a.socket.path(), json!({"cmd": "maintenance", "on": on}))?;
            format!("{m}\n")
        }
        ClientCommand::ClearPacified(a) => {
            let m = message(&a.path(), json!({"cmd": "clear-pacified"}))?;
            format!("{m}\n")
        }
        ClientCommand::Events(a) => {
            let mut failed = None;
            stream(&a.path(), |line| {
                let written = writeln!(out, "{line}").and_then(|()| out.flush());
                match written {
                    Ok(()) => true,
                    Err(e) => {
                        failed = Some(e);
                        false
                    }
                }
            })?;
            return match failed {
                Some(e) => Err(Failure::Output(e)),
                None => Err(Failure::Closed),
            };
        }
        ClientCommand::Config(c) => return sync::config(c, out),
        ClientCommand::Sync(c) => return sync::sync(c, out),
    };
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(Failure::Output)?;
    Ok(0)
}
