//! `tandemd`: the Tandem HA daemon and its tools.

use std::io::{self, BufWriter};
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use tandem_node::decode::Options;
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
    /// Print every VRRPv2, VRRPv3 and CARP packet of a pcap or pcapng file.
    Decode(DecodeArgs),
}

#[derive(Debug, Args)]
struct RunArgs {
    /// The configuration file (see docs/config.md); without it, the flags
    /// below describe one virtual router.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Where the node keeps its start history (restart guard); overrides
    /// the configuration's `state_dir`.
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
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
    /// One JSON object per line instead of text.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Decode(args) => decode(args),
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
    }
}

fn run(args: RunArgs) -> ExitCode {
    let config = match &args.config {
        Some(path) => tandem_node::config::load(path),
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
        config.global.state_dir = dir;
    }
    match tandem_node::daemon::start(config, args.config.clone()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tandemd run: {e}");
            ExitCode::FAILURE
        }
    }
}

fn decode(args: DecodeArgs) -> ExitCode {
    let opts = Options {
        password: args.password.map(String::into_bytes),
        carp_addresses: args.carp_address,
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
