//! `tandemd sniff IFACE`: live capture of VRRP and CARP on one interface,
//! each packet decoded as `tandemd decode` prints it, and a running
//! diagnosis of the segment (docs/sniff.md).
//!
//! - The capture is a packet socket ([`crate::sys::CaptureSocket`]) whose
//!   kernel filter passes only untagged Ethernet frames of IPv4 protocol
//!   112 (and 51, keepalived's IPsec-AH around VRRPv2) and IPv6 next
//!   header 112: other traffic costs no CPU here.
//! - Each frame goes through [`crate::decode::decode_frame`] and
//!   [`crate::render`], the decoder and renderer of `tandemd decode`, then
//!   into the sans-IO [`diagnose::Diagnosis`], whose findings and summary
//!   tables [`output`] prints.
//! - `--write FILE` keeps every captured frame in a pcap file that
//!   `tandemd decode`, tcpdump and Wireshark read.
//! - It stops after `--count` packets, after `--duration`, or on SIGINT /
//!   SIGTERM, and prints a last summary table.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, Write};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pcap_file::pcap::{PcapPacket, PcapWriter};
use tandem_time::Instant;

use crate::capture::{Frame, LinkType};
use crate::decode::{self, Options};
use crate::sys::{CaptureSocket, SysError};

pub mod diagnose;
pub mod finding;
pub mod observe;
pub mod output;

use diagnose::{Diagnosis, Observation};

/// How long one wait for a frame lasts: the latest a stop request, the end
/// of `--duration` or a due summary is noticed.
pub const TICK: Duration = Duration::from_millis(100);
/// The largest frame kept whole; longer ones (none of ours) are cut.
pub const SNAPLEN: usize = 65535;
/// The longest `--duration` or `--summary-every`: one year.
const MAX_SECONDS: f64 = 366.0 * 86400.0;

/// `tandemd sniff`'s command line.
#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct SniffArgs {
    /// The interface to capture on (untagged Ethernet; capture a VLAN on
    /// its own interface).
    #[arg(value_name = "IFACE")]
    pub interface: String,
    /// Also write every captured frame to this pcap file (replaced if it
    /// exists); `tandemd decode`, tcpdump and Wireshark read it.
    #[arg(long, value_name = "FILE")]
    pub write: Option<PathBuf>,
    /// One JSON object per line: packets, findings, summaries
    /// (docs/sniff.md).
    #[arg(long)]
    pub json: bool,
    /// Stop after N VRRP / CARP packets.
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Stop after this many seconds (fractions allowed).
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    pub duration: Option<Duration>,
    /// Password to verify CARP HMACs, keepalived's IPsec-AH ICVs and
    /// VRRPv2 simple-text passwords with.
    #[arg(long, value_name = "P")]
    pub password: Option<String>,
    /// A CARP virtual address (repeat for each): the HMAC covers them.
    #[arg(long = "carp-address", value_name = "A")]
    pub carp_address: Vec<IpAddr>,
    /// Print the table of virtual routers every SECONDS (it is always
    /// printed once at the end).
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    pub summary_every: Option<Duration>,
}

/// A positive number of seconds, at most a year.
fn parse_seconds(s: &str) -> Result<Duration, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if !(v > 0.0 && v <= MAX_SECONDS) {
        return Err(format!(
            "{s} seconds: give a number above 0 and at most {MAX_SECONDS}"
        ));
    }
    Ok(Duration::from_secs_f64(v))
}

/// Why `tandemd sniff` stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SniffError {
    /// The interface name cannot be a Linux interface.
    #[error("{0:?} is not a valid interface name")]
    BadInterface(String),
    /// The capture socket could not be opened or read.
    #[error(transparent)]
    Socket(#[from] SysError),
    /// The pcap file could not be created or written.
    #[error("cannot write {path}")]
    Write {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: pcap_file::PcapError,
    },
    /// The stop signals could not be set up.
    #[error("cannot handle SIGINT / SIGTERM")]
    Signals(#[source] io::Error),
    /// Writing the output failed.
    #[error("cannot write the output")]
    Output(#[source] io::Error),
}

/// What a run saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Report {
    /// Frames the filter passed.
    pub frames: u64,
    /// VRRP / CARP packets among them (printed).
    pub packets: u64,
    /// Findings printed.
    pub findings: u64,
}

/// Runs `tandemd sniff` until `--count`, `--duration`, or SIGINT /
/// SIGTERM, writing to `out`; one line on standard error says when the
/// capture has started.
pub fn run(args: &SniffArgs, out: &mut dyn Write) -> Result<Report, SniffError> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop)).map_err(SniffError::Signals)?;
    }
    run_until(args, out, &stop)
}

/// [`run`], stopping when `stop` is set (checked every [`TICK`]).
pub fn run_until(
    args: &SniffArgs,
    out: &mut dyn Write,
    stop: &AtomicBool,
) -> Result<Report, SniffError> {
    if !crate::sys::valid_ifname(&args.interface) {
        return Err(SniffError::BadInterface(args.interface.clone()));
    }
    let sock = CaptureSocket::open(&args.interface, TICK)?;
    // Standard error: the output itself may be JSON for a program.
    eprintln!(
        "tandemd sniff: listening on {} (IPv4 protocol 112 and 51, IPv6 next header 112; untagged frames)",
        args.interface
    );
    let mut pcap = match &args.write {
        Some(path) => {
            let err = |source| SniffError::Write {
                path: path.clone(),
                source,
            };
            let f = File::create(path).map_err(|e| err(pcap_file::PcapError::IoError(e)))?;
            Some((PcapWriter::new(f).map_err(err)?, path))
        }
        None => None,
    };
    let opts = Options {
        password: args.password.clone().map(String::into_bytes),
        carp_addresses: args.carp_address.clone(),
        ..Options::default()
    };
    let printer = output::Printer::new(&args.interface, args.json);
    let mut diag = Diagnosis::new(&args.interface);
    let start = std::time::Instant::now();
    let elapsed = || Instant::from_duration(start.elapsed());
    let mut report = Report::default();
    let mut buf = vec![0u8; SNAPLEN];
    let mut next_summary = args.summary_every.map(|e| Instant::ZERO + e);
    let w = |r: io::Result<()>| r.map_err(SniffError::Output);
    loop {
        if stop.load(Ordering::Relaxed)
            || args.duration.is_some_and(|d| start.elapsed() >= d)
            || args.count.is_some_and(|n| report.packets >= n)
        {
            break;
        }
        if let Some(len) = sock.recv(&mut buf)? {
            let now = elapsed();
            report.frames += 1;
            let data = &buf[..len];
            if let Some((writer, path)) = &mut pcap {
                let ts = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default();
                let orig = u32::try_from(len).unwrap_or(u32::MAX);
                writer
                    .write_packet(&PcapPacket::new(ts, orig, data))
                    .map_err(|source| SniffError::Write {
                        path: path.to_path_buf(),
                        source,
                    })?;
            }
            let frame = Frame {
                number: report.frames,
                link_type: LinkType::Ethernet,
                data: Cow::Borrowed(data),
            };
            if let Some(d) = decode::decode_frame(&frame, &opts) {
                report.packets += 1;
                w(printer.packet(out, now, &d))?;
                match Observation::of(&d, opts.password.as_deref()) {
                    Observation::Advert(a) => diag.observe(now, &a),
                    Observation::Malformed(m) => diag.observe_malformed(now, &m),
                }
            }
        }
        let now = elapsed();
        while let Some(f) = diag.poll(now) {
            report.findings += 1;
            w(printer.finding(out, &f))?;
        }
        if let Some(at) = next_summary.filter(|at| now >= *at) {
            w(printer.summary(out, now, &diag, &report))?;
            // A late loop (a slow reader) skips the periods it missed.
            next_summary = args
                .summary_every
                .map(|e| if at + e > now { at + e } else { now + e });
        }
        w(out.flush())?;
    }
    let now = elapsed();
    while let Some(f) = diag.poll(now) {
        report.findings += 1;
        w(printer.finding(out, &f))?;
    }
    w(printer.summary(out, now, &diag, &report))?;
    w(out.flush())?;
    Ok(report)
}
