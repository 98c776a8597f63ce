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
    /// Print every VRRPv2, VRRPv3 and CARP packet of a pcap or pcapng file.
    Decode(DecodeArgs),
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
    let Command::Decode(args) = Cli::parse().command;
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
