//! `tandemd`: the Tandem HA daemon and its tools.

use std::io::{self, BufWriter, Write};
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use tandem_node::control::cli as control_cli;
use tandem_node::decode::{replication, Options};
use tandem_node::{decode_file, Output, RunError};

/// Tandem: VRRP and CARP high availability.
#[derive(Debug, Parser)]
#[command(name = "tandemd", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HA node: from a TOML file (--config), or one virtual router
    /// from flags alone, in the foreground. Needs root (raw sockets, netlink).
    Run(Box<RunArgs>),
    /// A pair of simulated nodes on an in-process LAN (no privileges):
    /// election, takeover, failback, graceful stop, as a timeline.
    Demo(tandem_node::demo::DemoOptions),
    /// Print every VRRPv2, VRRPv3 and CARP packet of a pcap or pcapng file,
    /// and the replication link's traffic: Tandem replication frames
    /// (opened with --replication-key) and conntrackd sync messages.
    Decode(DecodeArgs),
    /// Capture VRRP and CARP live on an interface: every packet as
    /// `decode` prints it, and a running diagnosis of the segment (split
    /// brain, duplicate VRID, authentication mismatch, bad TTL, silent
    /// router, mixed versions or checksum forms), with a table of the
    /// virtual routers seen. Needs CAP_NET_RAW. See docs/sniff.md.
    Sniff(tandem_node::sniff::SniffArgs),
    /// Show the running node: its status light, restart guard and instances.
    ///
    /// The first line is the node's light (active / standby / partner
    /// unreachable / pacified / maintenance / fault / stopped), then the
    /// restart guard, then one row per instance (state, priority, Active
    /// router, advert interval, last change) and details per instance:
    /// last transition and why, the partner's view, the checksum form each
    /// peer uses, counters by problem kind, tracks down, why passive.
    /// --json prints the same snapshot as JSON. See docs/control.md.
    Status(tandem_node::control::cli::StatusArgs),
    /// Hand the Active role to the partner.
    ///
    /// Every instance that is Active on this node, or the one instance or
    /// sync group named (a sync group always moves whole). They resign
    /// with priority 0, so the partner takes over at once, and do not take
    /// the role back until the partner fails. Refused when nothing named
    /// is Active here.
    Failover(tandem_node::control::cli::FailoverArgs),
    /// Maintenance mode of this node: on or off.
    ///
    /// `on` hands over whatever is Active and keeps every instance passive
    /// (never taking over) until `off`. The status light shows
    /// "maintenance" meanwhile.
    Maintenance(tandem_node::control::cli::MaintenanceArgs),
    /// Clear the restart guard's pacified state.
    ///
    /// A node that started too often within the guard's window stays
    /// passive ("pacified") until this command, so a crash loop cannot
    /// flap the addresses.
    ClearPacified(tandem_node::control::cli::SocketArg),
    /// Print the node's events as they happen, one JSON object per line.
    ///
    /// State changes ("event":"state", with from, to and reason) and
    /// diagnostics ("event":"diagnostic", with kind and message), in the
    /// order the daemon saw them, until tandemd stops (exit status 1) or
    /// the reader goes away.
    Events(tandem_node::control::cli::SocketArg),
    /// Read or change the running configuration: apply a file, get, set
    /// or unset one value. With `[sync]`, a change on the Active goes to
    /// the partner too. See docs/control.md.
    Config {
        #[command(subcommand)]
        command: control_cli::ConfigCommand,
    },
    /// Configuration sync between the two units of a pair: keygen,
    /// status, diff, force. See docs/control.md and docs/config-sync.md.
    Sync {
        #[command(subcommand)]
        command: control_cli::SyncCommand,
    },
    /// Connection-table and persistence replication: keygen. The
    /// replication state is in `status` (docs/replication.md).
    Replication {
        #[command(subcommand)]
        command: ReplicationCommand,
    },
    /// Convert another daemon's configuration into a tandemd file:
    /// `import keepalived FILE [-o OUT]`, `import ucarp -- ARGS...`.
    /// What cannot be carried over is listed on stderr and as comments at
    /// the top of the output (docs/migration.md).
    #[command(subcommand)]
    Import(ImportCommand),
    /// Check a configuration file and explain every error, with its place
    /// (duplicate VRID on an interface, password on VRRPv3, ...). On the
    /// node it also checks the host: each interface exists, a priority-255
    /// router owns its addresses, `source` is on the interface. Exit
    /// status 0 when the file is good, 1 otherwise (docs/config.md).
    CheckConfig {
        /// The configuration file.
        file: PathBuf,
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
        /// Skip the host checks (checking a file for another machine).
        #[arg(long)]
        no_host: bool,
    },
    /// Print a shell completion script for tandemd: bash, zsh, fish,
    /// elvish or powershell (docs/packaging.md says where each goes).
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write tandemd's manual pages, generated from this command line:
    /// tandemd.8 and one page per command (tandemd-run.8, ...) into DIR,
    /// or tandemd.8 alone to standard output without --dir.
    Man {
        /// The directory to write the pages into (created if missing).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

/// `tandemd import ...`.
#[derive(Debug, Subcommand)]
enum ImportCommand {
    /// A keepalived.conf (and its includes) to a tandemd TOML file.
    Keepalived {
        /// The keepalived configuration file.
        file: PathBuf,
        /// Write the TOML here (created or replaced) instead of stdout.
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
    },
    /// A ucarp command line (the arguments after `ucarp`, after `--`) to
    /// a tandemd TOML file.
    Ucarp {
        /// Write the TOML here (created or replaced) instead of stdout.
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
        /// ucarp's arguments, e.g. `-- --interface=eth0 --vhid=1 ...`.
        #[arg(last = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

/// `tandemd import`: prints the notices, writes the TOML.
fn import(cmd: ImportCommand) -> ExitCode {
    use tandem_node::import;
    let (result, output) = match cmd {
        ImportCommand::Keepalived { file, output } => {
            (import::keepalived::import_file(&file), output)
        }
        ImportCommand::Ucarp { output, args } => (import::ucarp::import_args(&args), output),
    };
    let imported = match result {
        Ok(i) => i,
        Err(e) => {
            eprintln!("tandemd import: {e}");
            return ExitCode::FAILURE;
        }
    };
    for n in &imported.notices {
        eprintln!("{n}");
    }
    match output {
        Some(path) => {
            if let Err(e) = tandem_node::file::write_atomic(&path, imported.toml.as_bytes(), false)
            {
                eprintln!("tandemd import: cannot write {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        }
        None => print!("{}", imported.toml),
    }
    ExitCode::SUCCESS
}

/// `tandemd replication ...`.
#[derive(Debug, Subcommand)]
enum ReplicationCommand {
    /// Write a new replication key file (32 random bytes, mode 0600): copy
    /// it to the partner; both units' `[replication] key_file`. Refuses to
    /// overwrite a file unless --force.
    Keygen(control_cli::KeygenArgs),
}

#[derive(Debug, Args)]
struct RunArgs {
    /// The configuration file (see docs/config.md); without it, the flags
    /// below describe one virtual router.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Where the node keeps its start history (restart guard); overrides
    /// the configuration's `state_dir` (default: this network namespace's,
    /// /var/lib/tandemd in the initial one; docs/config.md).
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// How log lines are written to standard error: `text` (one line per
    /// event with level and fields) or `json` (one JSON object per line).
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(flatten)]
    flags: tandem_node::config::RunFlags,
}

#[derive(Debug, Args)]
struct DecodeArgs {
    /// The capture file (pcap or pcapng; Ethernet, Linux cooked or raw IP).
    file: PathBuf,
    /// Password to verify CARP HMACs and keepalived's IPsec-AH ICVs with.
    #[arg(long, value_name = "P")]
    password: Option<String>,
    /// A CARP virtual address (repeat for each): the HMAC covers them.
    #[arg(long = "carp-address", value_name = "A")]
    carp_address: Vec<IpAddr>,
    /// The replication link's key file (as `tandemd replication keygen`
    /// writes it): Tandem replication frames are verified, decrypted and
    /// their records listed. Repeat for a rotation's current and next key.
    /// Without it, frames show their header only.
    #[arg(long = "replication-key", value_name = "FILE")]
    replication_key: Vec<PathBuf>,
    /// The UDP port that marks conntrackd sync traffic (either end).
    #[arg(long = "conntrackd-port", value_name = "N", default_value_t = tandem_node::decode::replication::CONNTRACKD_PORT)]
    conntrackd_port: u16,
    /// One JSON object per line instead of text.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Decode(args) => decode(args),
        Command::Sniff(args) => sniff(&args),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut cmd, "tandemd", &mut script);
            // A reader that went away (`| head`) is not an error.
            let _ = io::Write::write_all(&mut io::stdout(), &script);
            ExitCode::SUCCESS
        }
        Command::Man { dir } => match man(dir.as_deref()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("tandemd man: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Demo(opts) => {
            let mut out = BufWriter::new(io::stdout().lock());
            match tandem_node::demo::run(&opts, &mut out) {
                Ok(_) => ExitCode::SUCCESS,
                Err(e) => {
                    drop(out);
                    eprintln!("tandemd demo: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Run(args) => run(*args),
        Command::Status(a) => control_cli::run(&control_cli::ClientCommand::Status(a)),
        Command::Failover(a) => control_cli::run(&control_cli::ClientCommand::Failover(a)),
        Command::Maintenance(a) => control_cli::run(&control_cli::ClientCommand::Maintenance(a)),
        Command::ClearPacified(a) => {
            control_cli::run(&control_cli::ClientCommand::ClearPacified(a))
        }
        Command::Events(a) => control_cli::run(&control_cli::ClientCommand::Events(a)),
        Command::Config { command } => {
            control_cli::run(&control_cli::ClientCommand::Config(command))
        }
        Command::Sync { command } => control_cli::run(&control_cli::ClientCommand::Sync(command)),
        Command::Replication {
            command: ReplicationCommand::Keygen(a),
        } => match control_cli::replication_keygen(&a.file, a.force) {
            Ok(()) => {
                println!("wrote {}", a.file.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("tandemd replication keygen: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Import(cmd) => import(cmd),
        Command::CheckConfig {
            file,
            json,
            no_host,
        } => {
            let mut out = io::stdout().lock();
            match tandem_node::config::check_config_command(&file, json, no_host, &mut out) {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => ExitCode::FAILURE,
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::FAILURE,
                Err(e) => {
                    eprintln!("tandemd check-config: cannot write the report: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

fn run(args: RunArgs) -> ExitCode {
    let config = match &args.config {
        // --control-socket and --health-listen override the file's.
        Some(path) => tandem_node::config::load(path).and_then(|mut c| {
            args.flags.apply_global(&mut c.global)?;
            Ok(c)
        }),
        None => tandem_node::config::from_flags(&args.flags),
    };
    let mut config = match config {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tandemd run: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(dir) = args.state_dir {
        config.global.set_state_dir(dir);
    }
    // Paths nobody configured: this network namespace's defaults.
    match tandem_node::netns::NetNs::current() {
        Ok(ns) => config.global.for_namespace(&ns),
        Err(e) => eprintln!("tandemd run: {e}; using the initial namespace's default paths"),
    }
    let (log_drops, _log_guard) = init_log(args.log_format);
    match tandem_node::drive::tandemd::run(config, args.config.clone(), Some(log_drops)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tandemd run: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The form of tandemd's log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    /// `2026-12-03T18:20:21.123Z  INFO instance=web vrid=51 state Backup -> Active reason=...`
    Text,
    /// `{"timestamp":...,"level":"INFO","fields":{"message":...,"event":"state"}}`
    Json,
}

/// Logs go to standard error through a bounded, non-blocking writer: a
/// slow reader of standard error (a paused terminal, a logger falling
/// behind) drops lines, counted in the status, and never stalls the loop.
fn init_log(
    format: LogFormat,
) -> (
    tracing_appender::non_blocking::ErrorCounter,
    tracing_appender::non_blocking::WorkerGuard,
) {
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .buffered_lines_limit(4096)
        .lossy(true)
        .thread_name("tandemd-log")
        .finish(io::stderr());
    let drops = writer.error_counter();
    let builder = tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .with_target(false);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    (drops, guard)
}

fn sniff(args: &tandem_node::sniff::SniffArgs) -> ExitCode {
    let mut out = io::LineWriter::new(io::stdout().lock());
    match tandem_node::sniff::run(args, &mut out) {
        Ok(_) => ExitCode::SUCCESS,
        Err(tandem_node::sniff::SniffError::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => {
            ExitCode::SUCCESS
        }
        Err(e) => {
            drop(out);
            let mut msg = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                msg.push_str(&format!(": {s}"));
                source = s.source();
            }
            eprintln!("tandemd sniff: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn decode(args: DecodeArgs) -> ExitCode {
    let mut keys = Vec::new();
    for path in &args.replication_key {
        match replication::load_key(path) {
            Ok(k) => keys.push(k),
            Err(e) => {
                eprintln!("tandemd decode: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let opts = Options {
        password: args.password.map(String::into_bytes),
        carp_addresses: args.carp_address,
        replication: replication::Options {
            keys,
            conntrackd_port: args.conntrackd_port,
        },
    };
    let output = if args.json {
        Output::Json
    } else {
        Output::Human
    };
    let mut out = BufWriter::new(io::stdout().lock());
    match decode_file(&args.file, &opts, output, &mut out) {
        Ok(_) => ExitCode::SUCCESS,
        // A reader that went away (`| head`) is not an error.
        Err(RunError::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            drop(out);
            eprintln!("tandemd decode: {}: {e}", args.file.display());
            ExitCode::FAILURE
        }
    }
}

/// The manual pages: tandemd.8 and, into `dir`, tandemd-COMMAND.8 for each
/// command (and tandemd-COMMAND-SUB.8 for `config set`, ...).
fn man(dir: Option<&std::path::Path>) -> io::Result<()> {
    let cmd = <Cli as clap::CommandFactory>::command();
    let Some(dir) = dir else {
        return clap_mangen::Man::new(cmd)
            .section("8")
            .render(&mut io::stdout().lock());
    };
    std::fs::create_dir_all(dir)?;
    let mut pages = vec![(String::from("tandemd"), cmd.clone())];
    let mut i = 0;
    while i < pages.len() {
        let (name, c) = pages[i].clone();
        for sub in c.get_subcommands().filter(|s| s.get_name() != "help") {
            let full = format!("{name}-{}", sub.get_name());
            pages.push((full.clone(), sub.clone().name(full)));
        }
        i += 1;
    }
    for (name, c) in pages {
        let path = dir.join(format!("{name}.8"));
        let mut out = io::BufWriter::new(std::fs::File::create(&path)?);
        clap_mangen::Man::new(c).section("8").render(&mut out)?;
        out.flush()?;
        writeln!(io::stdout(), "wrote {}", path.display())?;
    }
    Ok(())
}
