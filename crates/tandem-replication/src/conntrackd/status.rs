//! What a conntrackd [`Endpoint`](super::endpoint::Endpoint) reports: its
//! events (each with a stable name), counters and status.

use super::config::Mode;
use super::msg::DecodeError;

/// Events, each with a stable [`Event::name`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The peer (re)started its numbering (HELLO).
    PeerHello,
    /// The peer asked for our table (RESYNC); a bulk starts.
    ResyncRequested,
    /// A bulk of our table ended.
    BulkSent {
        /// Entries sent.
        entries: u64,
    },
    /// Messages `from..=to` of the peer were lost (FT-FW: NACKed).
    Gap {
        /// First missing.
        from: u32,
        /// Last missing.
        to: u32,
    },
    /// The resend queue was full: its oldest item was evicted, so loss of
    /// it cannot be repaired; the table is sent again once the peer is heard.
    ResendOverflow {
        /// Items evicted so far.
        evicted: u64,
    },
    /// A datagram, or a message of it, was refused (counted).
    Refused(DecodeError),
}

impl Event {
    /// The event's stable name.
    pub fn name(&self) -> &'static str {
        match self {
            Event::PeerHello => "peer_hello",
            Event::ResyncRequested => "resync_requested",
            Event::BulkSent { .. } => "bulk_sent",
            Event::Gap { .. } => "gap",
            Event::ResendOverflow { .. } => "resend_overflow",
            Event::Refused(_) => "refused",
        }
    }
}

/// Counters, all monotonic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counters {
    /// Datagrams sent.
    pub datagrams_sent: u64,
    /// Bytes sent.
    pub bytes_sent: u64,
    /// Messages sent (control ones included).
    pub messages_sent: u64,
    /// Datagrams received.
    pub datagrams_received: u64,
    /// Messages received and accepted.
    pub messages_received: u64,
    /// Entries applied to the mirror (NEW, UPD, DEL).
    pub entries_applied: u64,
    /// ACKs sent.
    pub acks_sent: u64,
    /// NACKs sent.
    pub nacks_sent: u64,
    /// Messages of the peer missing (gaps), as conntrackd counts them.
    pub messages_lost: u64,
    /// Messages older than expected, dropped (FT-FW).
    pub messages_before: u64,
    /// Messages sent again for the peer's NACKs.
    pub retransmitted: u64,
    /// Resend-queue items evicted because it was full.
    pub resend_evicted: u64,
    /// RESYNCs sent (our requests).
    pub resyncs_requested: u64,
    /// RESYNCs answered with a bulk.
    pub resyncs_answered: u64,
    /// Entries sent by bulks.
    pub bulk_entries_sent: u64,
    /// Malformed datagrams or messages (the rest of a datagram after a bad
    /// header is lost with it).
    pub malformed: u64,
    /// Messages of another protocol version.
    pub bad_version: u64,
    /// Messages whose flags make no sense for their type (conntrackd's
    /// "malformed header").
    pub bad_header: u64,
    /// Expectation messages, skipped: not replicated here.
    pub expectations_skipped: u64,
    /// Entries that decode but are not a flow (no tuple, mixed families).
    pub entries_refused: u64,
    /// Mirrored flows refused because the mirror was full.
    pub mirror_full: u64,
    /// Local flows refused because the table was full.
    pub table_full: u64,
    /// Control messages not queued: the driver stopped draining outputs.
    pub control_dropped: u64,
}

/// The endpoint's state, for status and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The mode.
    pub mode: Mode,
    /// Local changes are streamed.
    pub active: bool,
    /// The peer was heard within `peer_timeout`.
    pub peer_up: bool,
    /// The peer answered our HELLO (FT-FW).
    pub hello_done: bool,
    /// Flows in the local table.
    pub local_flows: usize,
    /// Flows in the mirror.
    pub mirror_flows: usize,
    /// Messages waiting to be sent.
    pub pending: usize,
    /// Items in the resend queue.
    pub resend_queue: usize,
    /// A bulk is under way.
    pub bulk_sending: bool,
    /// Counters.
    pub counters: Counters,
}
