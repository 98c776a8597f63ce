//! Health checks that tracked objects follow: scripts, files, TCP connects
//! and HTTP(S) GETs ("use for HA checks").
//!
//! A check is configured once (`[[check]]` in the configuration,
//! docs/checks.md) and tracked by any number of instances
//! (`track = [{ check = "web" }]`), each with its own weight or `fault`.
//!
//! The split follows the rest of the node:
//! - the Node decides ([`crate::node`]): when each check runs (its
//!   `interval`, on the host's one clock), how many results in a row move
//!   it up or down (`rise` / `fall`), what that does to each instance
//!   tracking it, and what status, metrics and events show. It asks the
//!   host to run a probe with [`Output::RunCheck`](crate::node::Output) and
//!   hears the result as [`Input::CheckDone`](crate::node::Input);
//! - the host runs probes off the loop ([`run`] here, on the driver's
//!   worker threads), each within its timeout, and never blocks the loop.

mod probe;
mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// One configured check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckConfig {
    /// Its name: 1 to 64 characters among `A-Z a-z 0-9 _ . -`, unique among
    /// checks, and not the name of an interface an instance tracks.
    pub name: String,
    /// What it runs.
    pub probe: Probe,
    /// Time from one run's start to the next.
    pub interval: Duration,
    /// A run that has not finished by then fails (a script's whole
    /// process group is killed).
    pub timeout: Duration,
    /// Passing runs in a row that bring a down (or not yet known) check up.
    pub rise: u32,
    /// Failing runs in a row that bring an up (or not yet known) check down.
    pub fall: u32,
    /// The weight instances use when their `track` entry gives neither
    /// `weight` nor `fault`; `None`: such instances go to Fault.
    pub weight: Option<u8>,
}

/// What a check runs.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Probe {
    /// A command, run as `/bin/sh -c COMMAND`, in its own process group;
    /// exit status 0 passes.
    Script {
        /// The command line.
        command: String,
        /// Run as this user (name), with its primary group; `None`: as
        /// tandemd's own user.
        user: Option<String>,
    },
    /// A file holding a number (keepalived's `track_file`): the number,
    /// times the tracking instance's weight, adjusts its priority. A
    /// missing or unreadable file, or one that does not hold an integer,
    /// fails.
    File {
        /// The file.
        path: PathBuf,
    },
    /// A TCP connect: passes once the connection is established.
    Tcp {
        /// Where to connect.
        addr: SocketAddr,
        /// Connect from this address (`None`: the kernel picks).
        source: Option<std::net::IpAddr>,
    },
    /// An HTTP or HTTPS GET (boxed: the other probes are small).
    Http(Box<HttpProbe>),
}

/// An HTTP(S) GET probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpProbe {
    /// `https` when true, else `http`.
    pub tls: bool,
    /// The server's address (the URL's host is an IP address literal:
    /// checks do not resolve names, so they never depend on DNS).
    pub addr: SocketAddr,
    /// Connect from this address (`None`: the kernel picks).
    pub source: Option<std::net::IpAddr>,
    /// The `Host` header and, with TLS, the server name checked against
    /// the certificate.
    pub host: String,
    /// The path and query, starting with `/`.
    pub path: String,
    /// Expected status codes: inclusive ranges (`200` is `200..=200`).
    pub expect: Vec<(u16, u16)>,
    /// With TLS: check the server's certificate (against `ca_file`, or
    /// the system's roots). `false` accepts any certificate.
    pub verify: bool,
    /// With TLS: a PEM file of CA certificates to trust instead of the
    /// system's.
    pub ca_file: Option<PathBuf>,
    /// The response body must contain this text (within the first
    /// [`HTTP_BODY_LIMIT`] bytes).
    pub body_contains: Option<String>,
}

/// An instance's tracking of a check (`track = [{ check = "NAME" }]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackedCheck {
    /// The check's name.
    pub check: String,
    /// While the check is down: lower the priority (CARP: raise the
    /// demotion) by this weight, or go to Fault.
    pub effect: tandem_election::TrackEffect,
    /// For a file check, the multiplier of the file's number (the track's
    /// `weight` with its sign, default 1): as keepalived's `track_file`,
    /// the product is added to the priority, and a negative product
    /// lowers it by its size (at most 255; tandemd never raises a
    /// priority above the configured one, so a positive product leaves
    /// it). With `fault = true`, a negative product faults instead.
    pub factor: i64,
}

/// At most this many bytes of an HTTP response are read.
pub const HTTP_BODY_LIMIT: usize = 64 * 1024;

/// At most this many bytes of a tracked file are read.
pub const FILE_LIMIT: usize = 4096;

/// What one run of a probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeResult {
    /// Passed, failed, or (a file) the number read.
    pub outcome: Outcome,
    /// What happened, for status and logs, one line, at most
    /// [`DETAIL_LIMIT`] bytes: `exit 0`, `exit 2: <last line of output>`,
    /// `killed at the timeout (2 s)`, `connected in 1.2 ms`,
    /// `connection refused`, `HTTP 503`, `value 7`, `no such file`...
    pub detail: String,
    /// How long the run took.
    pub took: Duration,
}

/// At most this many bytes of a [`ProbeResult::detail`].
pub const DETAIL_LIMIT: usize = 200;

/// The outcome of one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Passed.
    Pass,
    /// Failed (including a timeout).
    Fail,
    /// A file check read this number.
    Value(i64),
}

impl Outcome {
    /// The stable name: `pass`, `fail` or `value`.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Value(_) => "value",
        }
    }
}

/// Runs `probe` once, blocking the calling thread for at most `timeout`
/// (plus the time to reap a killed script). Never panics; any problem is a
/// failed [`ProbeResult`] with its reason in `detail`.
pub fn run(probe: &Probe, timeout: Duration) -> ProbeResult {
    match probe {
        Probe::Script { command, user } => probe::script(command, user.as_deref(), timeout),
        Probe::File { path } => probe::file(path),
        Probe::Tcp { addr, source } => probe::tcp(*addr, *source, timeout),
        Probe::Http(p) => probe::http(p, timeout),
    }
}

impl Probe {
    /// The stable name of its kind: `script`, `file`, `tcp` or `http`.
    pub fn kind(&self) -> &'static str {
        match self {
            Probe::Script { .. } => "script",
            Probe::File { .. } => "file",
            Probe::Tcp { .. } => "tcp",
            Probe::Http(_) => "http",
        }
    }
}
