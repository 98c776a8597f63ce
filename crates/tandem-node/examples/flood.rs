//! `flood`: sends hostile protocol-112 packets at a bounded rate, for the
//! hostile-input bench (scripts/bench-hostile.sh). Not a test and not part
//! of tandemd.
//!
//! ```text
//! flood --interface eth0 --kind vrrp3-bad-checksum --rate 5000 --count 100000 --max-seconds 20
//! ```
//!
//! Kinds (all to 224.0.0.18 with TTL 255 unless `--dst` says otherwise,
//! from the interface's own address):
//! - `vrrp3-bad-checksum`: a VRRPv3 advert whose checksum is wrong in both
//!   IPv4 forms (with and without the pseudo-header): tandemd drops it as
//!   malformed;
//! - `carp-bad-hmac`: a CARP advert signed with `--wrong-password`: a node
//!   with another password rejects its HMAC (a diagnostic);
//! - `vrrp2-bad-password`: a VRRPv2 advert with the simple-text password
//!   `--wrong-password`: a node with another password rejects it (a
//!   diagnostic).
//!
//! It stops after `--count` packets or `--max-seconds`, whichever comes
//! first, and prints what it sent as one line of `key=value` fields. Needs
//! root (a raw socket).

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddrV4};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tandem_wire::build::Advert;
use tandem_wire::{vrrp3, Checksum};

/// What to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Kind {
    /// VRRPv3 with a checksum wrong in every form.
    Vrrp3BadChecksum,
    /// CARP with an HMAC made with the wrong password.
    CarpBadHmac,
    /// VRRPv2 with the wrong simple-text password.
    Vrrp2BadPassword,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Vrrp3BadChecksum => "vrrp3-bad-checksum",
            Kind::CarpBadHmac => "carp-bad-hmac",
            Kind::Vrrp2BadPassword => "vrrp2-bad-password",
        }
    }
}

/// Send hostile protocol-112 packets at a bounded rate.
#[derive(Debug, Parser)]
#[command(name = "flood")]
struct Args {
    /// The interface to send on.
    #[arg(long)]
    interface: String,
    /// What to send.
    #[arg(long, value_enum)]
    kind: Kind,
    /// Packets per second (1 to 1,000,000).
    #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    rate: u32,
    /// Stop after this many packets (at most 100,000,000).
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    count: u64,
    /// Stop after this many seconds in any case (at most 3600).
    #[arg(long, default_value_t = 60.0)]
    max_seconds: f64,
    /// The VRID (CARP's VHID) the packets name, 1 to 255.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=255))]
    vrid: u8,
    /// The VRRP priority the packets carry.
    #[arg(long, default_value_t = 250)]
    priority: u8,
    /// The virtual address the packets list.
    #[arg(long, default_value = "192.0.2.100")]
    address: Ipv4Addr,
    /// The IPv4 source the packets claim (only used for the checksum: the
    /// kernel writes the interface's address in the IP header).
    #[arg(long, default_value = "192.0.2.254")]
    source: Ipv4Addr,
    /// The destination.
    #[arg(long, default_value = "224.0.0.18")]
    dst: Ipv4Addr,
    /// The password the CARP HMAC or the VRRPv2 authentication uses (one the
    /// target does not have).
    #[arg(long, default_value = "not-the-password")]
    wrong_password: String,
}

#[derive(Debug, thiserror::Error)]
enum FloodError {
    #[error("--max-seconds must be more than 0 and at most 3600, got {0}")]
    MaxSeconds(f64),
    #[error("the {kind} packet passed the check it must fail: {what}")]
    NotHostile {
        kind: &'static str,
        what: &'static str,
    },
    #[error("raw socket (protocol 112): {0} (run as root)")]
    Socket(#[source] io::Error),
    #[error("socket option {option}: {source}")]
    Option {
        option: &'static str,
        #[source]
        source: io::Error,
    },
}

/// The message bytes for `args.kind`, checked to be hostile in the way the
/// kind says.
fn message(args: &Args) -> Result<Vec<u8>, FloodError> {
    let addr = IpAddr::V4(args.address);
    let (src, dst) = (IpAddr::V4(args.source), IpAddr::V4(args.dst));
    let wrong = args.wrong_password.as_bytes();
    let msg = match args.kind {
        Kind::Vrrp3BadChecksum => {
            let mut m = Advert::vrrp3(args.vrid, [addr])
                .priority(args.priority)
                .src(src)
                .dst(dst)
                .message();
            // Bytes 6..8 hold the checksum; a changed value is wrong with
            // the pseudo-header, and checked below to be wrong without.
            if let Some(ck) = m.get_mut(6..8) {
                ck[0] ^= 0x5a;
                ck[1] ^= 0xa5;
            }
            let not_hostile = |what| FloodError::NotHostile {
                kind: args.kind.name(),
                what,
            };
            let p = vrrp3::Packet::new_checked(&m[..]).map_err(|_| not_hostile("layout"))?;
            if p.verify_checksum(Checksum::Either { src, dst }).is_ok() {
                return Err(not_hostile("checksum (either form)"));
            }
            if p.verify_checksum(Checksum::NoPseudoHeader).is_ok() {
                return Err(not_hostile("checksum (no pseudo-header)"));
            }
            m
        }
        Kind::CarpBadHmac => Advert::carp(args.vrid, wrong, [addr])
            .carp_fields(0, 0, 1)
            .src(src)
            .dst(dst)
            .message(),
        Kind::Vrrp2BadPassword => Advert::vrrp2(args.vrid, [addr])
            .priority(args.priority)
            .simple_password(wrong)
            .src(src)
            .dst(dst)
            .message(),
    };
    Ok(msg)
}

fn socket(args: &Args) -> Result<Socket, FloodError> {
    let opt = |option| move |source| FloodError::Option { option, source };
    let s = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(112)))
        .map_err(FloodError::Socket)?;
    s.bind_device(Some(args.interface.as_bytes()))
        .map_err(opt("SO_BINDTODEVICE"))?;
    s.set_multicast_ttl_v4(255)
        .map_err(opt("IP_MULTICAST_TTL"))?;
    s.set_ttl_v4(255).map_err(opt("IP_TTL"))?;
    s.set_multicast_loop_v4(false)
        .map_err(opt("IP_MULTICAST_LOOP"))?;
    // Nothing is read from this socket: keep what queues on it small.
    s.set_recv_buffer_size(4096).map_err(opt("SO_RCVBUF"))?;
    Ok(s)
}

/// What a run did.
#[derive(Debug, Default)]
struct Sent {
    sent: u64,
    errors: u64,
    last_error: Option<io::ErrorKind>,
}

fn run(args: &Args) -> Result<(Sent, Duration), FloodError> {
    if !(args.max_seconds > 0.0 && args.max_seconds <= 3600.0) {
        return Err(FloodError::MaxSeconds(args.max_seconds));
    }
    let msg = message(args)?;
    let sock = socket(args)?;
    let to = SockAddr::from(SocketAddrV4::new(args.dst, 0));
    let limit = Duration::from_secs_f64(args.max_seconds);
    let rate = f64::from(args.rate);
    let mut out = Sent::default();
    let mut attempts = 0u64;
    let start = Instant::now();
    loop {
        let elapsed = start.elapsed();
        if attempts >= args.count || elapsed >= limit {
            return Ok((out, elapsed));
        }
        // Packets due by now at the rate, never more than the count.
        let due = ((elapsed.as_secs_f64() * rate) as u64 + 1).min(args.count);
        while attempts < due {
            attempts += 1;
            match sock.send_to(&msg, &to) {
                Ok(_) => out.sent += 1,
                Err(e) => {
                    out.errors += 1;
                    out.last_error = Some(e.kind());
                }
            }
        }
        std::thread::sleep(Duration::from_micros(500));
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok((s, elapsed)) => {
            let secs = elapsed.as_secs_f64();
            let rate = if secs > 0.0 {
                s.sent as f64 / secs
            } else {
                0.0
            };
            let last = s
                .last_error
                .map(|k| format!(" last_error={k}"))
                .unwrap_or_default();
            println!(
                "flood kind={} sent={} errors={} seconds={secs:.2} rate={rate:.0}/s{last}",
                args.kind.name(),
                s.sent,
                s.errors,
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("flood: {e}");
            ExitCode::FAILURE
        }
    }
}
