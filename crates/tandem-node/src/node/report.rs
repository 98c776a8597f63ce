//! Stable names and operator words for what the election and the decoder
//! report, and the rate limit on repeated events.

use std::collections::HashMap;
use std::time::Duration;

use tandem_election::{AuthFailure, Diagnostic, Instant};

use super::output::Level;

/// The counter name of a diagnostic (status `errors`, metrics `kind`).
///
/// An Active router that yields to a better one reports
/// `SplitBrain { we_win: false }`: that is an ordinary preemption (or the
/// losing side of a healed split brain), counted as `yielded`. A split
/// brain is counted by the winner, which hears a worse router claim the
/// role while it holds it.
pub fn diagnostic_kind(d: &Diagnostic) -> &'static str {
    match d {
        Diagnostic::DuplicateVrid { .. } => "duplicate_vrid",
        Diagnostic::AuthFailure { .. } => "auth",
        Diagnostic::BadTtl { .. } => "bad_ttl",
        Diagnostic::SplitBrain { we_win: true, .. } => "split_brain",
        Diagnostic::SplitBrain { we_win: false, .. } => "yielded",
        Diagnostic::SplitBrainResolved => "split_brain_resolved",
        Diagnostic::Silence { .. } => "silence",
        Diagnostic::PeerHeard { .. } => "peer_heard",
        Diagnostic::VersionMismatch { .. } => "version",
        Diagnostic::IntervalMismatch { .. } => "interval",
        Diagnostic::ChecksumMode { .. } => "checksum_mode",
        Diagnostic::OwnAdvertLooped => "looped",
        Diagnostic::Pacified { .. } => "pacified",
        _ => "other",
    }
}

/// How much a diagnostic matters.
pub fn diagnostic_level(d: &Diagnostic) -> Level {
    match d {
        Diagnostic::PeerHeard { .. }
        | Diagnostic::SplitBrainResolved
        | Diagnostic::SplitBrain { we_win: false, .. } => Level::Info,
        _ => Level::Warn,
    }
}

/// A diagnostic in words an operator can act on.
pub fn explain(d: &Diagnostic) -> String {
    match d {
        Diagnostic::DuplicateVrid { src, addresses } => {
            let list: Vec<String> = addresses.iter().map(ToString::to_string).collect();
            format!(
                "duplicate VRID: {src} advertises the same VRID with addresses [{}]: check the VRID and addresses on both nodes",
                list.join(", ")
            )
        }
        Diagnostic::AuthFailure { src, what } => match what {
            AuthFailure::BadHmac => {
                format!("bad HMAC from {src}: check vhid, password and virtual addresses")
            }
            AuthFailure::AuthType => format!(
                "authentication type from {src} differs from ours: check auth on both nodes"
            ),
            AuthFailure::Password => {
                format!("wrong password from {src}: check the password on both nodes")
            }
        },
        Diagnostic::BadTtl { src, ttl } => {
            format!("TTL {ttl} from {src}: sender is not on this link (dropped)")
        }
        Diagnostic::SplitBrain {
            other,
            other_priority,
            we_win: true,
        } => format!(
            "split brain: {other} (priority {}) is Active too; we keep the role and it yields",
            other_priority.0
        ),
        Diagnostic::SplitBrain {
            other,
            other_priority,
            we_win: false,
        } => format!(
            "yielding to {other} (priority {}), which is Active with a better claim",
            other_priority.0
        ),
        Diagnostic::SplitBrainResolved => {
            "split brain resolved: announcing the addresses again".to_string()
        }
        Diagnostic::Silence { intervals } => format!(
            "no advert from any peer for {intervals} intervals: check the peer, multicast filtering and IGMP snooping"
        ),
        Diagnostic::PeerHeard { src } => format!("peer {src} heard again"),
        Diagnostic::VersionMismatch { src, theirs, ours } => format!(
            "{src} speaks version {theirs}, we speak {ours}: set the same protocol version on both nodes"
        ),
        Diagnostic::IntervalMismatch { src, theirs, ours } => format!(
            "{src} advertises every {} s, we every {} s: VRRPv2 drops its adverts; set the same interval",
            theirs.as_secs_f64(),
            ours.as_secs_f64()
        ),
        Diagnostic::ChecksumMode { src, theirs, ours } => format!(
            "{src} uses checksum form {}, we use {}: set checksum = \"auto\" or match the peer",
            theirs.name(),
            ours.name()
        ),
        Diagnostic::OwnAdvertLooped => {
            "our own advert came back (network loop or replay)".to_string()
        }
        Diagnostic::Pacified { starts, window } => format!(
            "pacified: started {starts} times within {} s; staying passive until `tandemd clear-pacified`",
            window.as_secs()
        ),
        _ => "an unnamed diagnostic of a newer election".to_string(),
    }
}

/// The counter name of a decode error (status `dropped`, metrics `kind`).
pub fn error_kind(e: &tandem_wire::DecodeError) -> &'static str {
    use tandem_wire::DecodeError as E;
    match e {
        E::Truncated { .. }
        | E::BadLength { .. }
        | E::AddressCountMismatch { .. }
        | E::NoAddresses => "length",
        E::BadVersion { .. } | E::UnknownVersion(_) => "version",
        E::BadType(_) => "type",
        E::BadChecksum { .. } => "checksum",
        E::ZeroInterval => "interval",
        E::UnknownAuthType(_) | E::BadAuthLen(_) | E::BadHmac | E::BadAhIcv => "auth",
        E::ZeroVrid => "vrid",
        _ => "malformed",
    }
}

/// How often one kind of repeated event is reported.
pub const LIMIT_WINDOW: Duration = Duration::from_secs(1);

/// Whose events a rate limit counts: a socket's (decode errors, unknown
/// VRIDs) or an instance's (diagnostics), by a number the Node gives them.
/// Bounded by the configuration (never by what senders put in packets), so
/// a flood of forged sources cannot grow the limiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Scope {
    /// A raw socket.
    Socket(super::SocketId),
    /// An instance, by the number it got when it started.
    Instance(u64),
    /// The node as a whole (replication's link).
    Node,
}

/// What a rate-limited event is about: its name, its scope, its kind. Cheap
/// to make, so that a suppressed event costs a lookup and no allocation.
pub(super) type LimitKey = (&'static str, Scope, &'static str);

/// A window that closed with repeats in it: the event's name, what it was
/// about in words (`interface=eth0 kind=checksum`), and how many.
pub(super) type Summary = (&'static str, String, u64);

/// The rate limit: one event per key per [`LIMIT_WINDOW`]; the repeats in
/// between are counted, reported with the next one shown, and summarised
/// by a `suppressed` event when the window closes.
#[derive(Debug, Default)]
pub(super) struct Limiter {
    keys: HashMap<LimitKey, Window>,
}

#[derive(Debug)]
struct Window {
    until: Instant,
    suppressed: u64,
    /// The key in words, made once when the key is first seen.
    about: String,
}

impl Limiter {
    /// Whether an event under `key` is shown now; if so, how many were
    /// suppressed before it (already summarised ones excluded). `about`
    /// names the key in words, for the summary; it runs only for a new key.
    pub(super) fn admit(
        &mut self,
        now: Instant,
        key: LimitKey,
        about: impl FnOnce() -> String,
    ) -> Option<u64> {
        match self.keys.get_mut(&key) {
            Some(w) if now < w.until => {
                w.suppressed += 1;
                None
            }
            Some(w) => {
                let n = std::mem::take(&mut w.suppressed);
                w.until = now + LIMIT_WINDOW;
                Some(n)
            }
            None => {
                let (_, _, kind) = key;
                let about = match about() {
                    a if kind.is_empty() => a,
                    a => format!("{a} kind={kind}"),
                };
                self.keys.insert(
                    key,
                    Window {
                        until: now + LIMIT_WINDOW,
                        suppressed: 0,
                        about,
                    },
                );
                Some(0)
            }
        }
    }

    /// Closes the windows that ended: their suppressed counts, to report;
    /// keys idle for a window are forgotten.
    pub(super) fn expire(&mut self, now: Instant) -> Vec<Summary> {
        let mut out = Vec::new();
        self.keys.retain(|(event, _, _), w| {
            if now < w.until {
                return true;
            }
            if w.suppressed > 0 {
                out.push((*event, w.about.clone(), std::mem::take(&mut w.suppressed)));
                w.until = now + LIMIT_WINDOW;
                return true;
            }
            false
        });
        out.sort();
        out
    }

    /// When the earliest window with something to summarise ends.
    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        self.keys
            .values()
            .filter(|w| w.suppressed > 0)
            .map(|w| w.until)
            .min()
    }
}
