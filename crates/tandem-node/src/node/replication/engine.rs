//! The two formats a replication link speaks, behind one face: Tandem's
//! own [`Replicator`], or a conntrackd [`Endpoint`] (FT-FW or NOTRACK) to
//! pair with a conntrackd peer.

use tandem_election::Instant;
use tandem_replication::conntrackd::config::Mode;
use tandem_replication::conntrackd::endpoint::Output as CtdOutput;
use tandem_replication::conntrackd::status::Event as CtdEvent;
use tandem_replication::conntrackd::Endpoint;
use tandem_replication::flow::{Flow, FlowKey};
use tandem_replication::session::{self, Replicator};

/// What an engine says, in the Tandem replicator's words.
pub(super) enum Said {
    Send(Vec<u8>),
    Event(session::Event),
    /// A conntrackd endpoint's event (logged by name).
    Conntrackd(CtdEvent),
}

/// The engine of a running link.
#[derive(Debug)]
pub(crate) enum Engine {
    Tandem(Box<Replicator>),
    Conntrackd(Box<Endpoint>),
}

/// The engine's state in one shape.
#[derive(Debug, Clone, Default)]
pub(super) struct Seen {
    pub(super) active: bool,
    pub(super) in_sync: bool,
    pub(super) partner_up: bool,
    pub(super) local_flows: usize,
    pub(super) mirror_flows: usize,
    pub(super) pending: usize,
    pub(super) bulk_sending: bool,
    pub(super) bulk_receiving: bool,
    pub(super) counters: session::Counters,
}

impl Engine {
    pub(super) fn set_active(&mut self, now: Instant, active: bool) {
        match self {
            Engine::Tandem(r) => r.set_active(now, active),
            Engine::Conntrackd(e) => e.set_active(now, active),
        }
    }

    /// A Backup asks for the peer's whole table. A conntrackd peer sends
    /// its table only when asked (RESYNC, as keepalived's
    /// primary-backup.sh runs `conntrackd -n` on a Backup): entries it
    /// had before this unit listened would never come. Tandem's
    /// replicator asks by itself.
    pub(super) fn backup_resync(&mut self, now: Instant) {
        if let Engine::Conntrackd(e) = self {
            e.request_resync(now);
        }
    }

    pub(super) fn upsert_flow(&mut self, now: Instant, flow: Flow) -> bool {
        match self {
            Engine::Tandem(r) => r.upsert_flow(now, flow).is_ok(),
            Engine::Conntrackd(e) => e.upsert_flow(now, flow).is_ok(),
        }
    }

    pub(super) fn remove_flow(&mut self, now: Instant, key: &FlowKey) {
        match self {
            Engine::Tandem(r) => {
                r.remove_flow(now, key);
            }
            Engine::Conntrackd(e) => {
                e.remove_flow(now, key);
            }
        }
    }

    pub(super) fn handle_datagram(&mut self, now: Instant, ttl: u8, bytes: &[u8]) {
        match self {
            Engine::Tandem(r) => r.handle_datagram(now, ttl, bytes),
            // conntrackd sends with the system's default TTL: no GTSM rule.
            Engine::Conntrackd(e) => e.handle_datagram(now, bytes),
        }
    }

    pub(super) fn handle_timeout(&mut self, now: Instant) {
        match self {
            Engine::Tandem(r) => r.handle_timeout(now),
            Engine::Conntrackd(e) => e.handle_timeout(now),
        }
    }

    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        match self {
            Engine::Tandem(r) => r.poll_timeout(),
            Engine::Conntrackd(e) => e.poll_timeout(),
        }
    }

    pub(super) fn poll(&mut self) -> Option<Said> {
        match self {
            Engine::Tandem(r) => r.poll_output().map(|o| match o {
                session::Output::Send(b) => Said::Send(b),
                session::Output::Event(e) => Said::Event(e),
            }),
            Engine::Conntrackd(e) => e.poll_output().map(|o| match o {
                CtdOutput::Send(b) => Said::Send(b),
                CtdOutput::Event(e) => Said::Conntrackd(e),
            }),
        }
    }

    pub(super) fn local_flows(&self) -> Vec<Flow> {
        match self {
            Engine::Tandem(r) => r.local_flows(),
            Engine::Conntrackd(e) => e.local_flows(),
        }
    }

    pub(super) fn mirror_flows(&self, now: Instant) -> Vec<Flow> {
        match self {
            Engine::Tandem(r) => r.mirror_flows(now),
            Engine::Conntrackd(e) => e.mirror_flows(now),
        }
    }

    /// The mirror is in sync (what the preemption hold asks after every
    /// input: no status is built for it).
    pub(super) fn in_sync(&self) -> bool {
        match self {
            Engine::Tandem(r) => r.in_sync(),
            Engine::Conntrackd(e) => conntrackd_in_sync(&e.status()),
        }
    }

    pub(super) fn seen(&self) -> Seen {
        match self {
            Engine::Tandem(r) => {
                let s = r.status();
                Seen {
                    active: s.active,
                    in_sync: s.in_sync,
                    partner_up: s.partner_up,
                    local_flows: s.local_flows,
                    mirror_flows: s.mirror_flows,
                    pending: s.pending,
                    bulk_sending: s.bulk_sending,
                    bulk_receiving: s.bulk_receiving,
                    counters: s.counters,
                }
            }
            Engine::Conntrackd(e) => {
                let s = e.status();
                let c = s.counters;
                let in_sync = conntrackd_in_sync(&s);
                Seen {
                    active: s.active,
                    in_sync,
                    partner_up: s.peer_up,
                    local_flows: s.local_flows,
                    mirror_flows: s.mirror_flows,
                    pending: s.pending,
                    bulk_sending: false,
                    bulk_receiving: false,
                    counters: session::Counters {
                        frames_sent: c.datagrams_sent,
                        bytes_sent: c.bytes_sent,
                        frames_received: c.datagrams_received,
                        records_repaired: c.retransmitted,
                        frames_lost: c.messages_lost,
                        resyncs_requested: c.resyncs_requested,
                        bulks_sent: c.resyncs_answered,
                        refused_malformed: c.malformed + c.bad_version + c.bad_header,
                        table_full: c.table_full + c.mirror_full,
                        ..session::Counters::default()
                    },
                }
            }
        }
    }
}

/// conntrackd has no verified "in sync": its peer heard and (FT-FW) our
/// HELLO answered is the nearest.
fn conntrackd_in_sync(s: &tandem_replication::conntrackd::status::Status) -> bool {
    s.peer_up && (s.hello_done || s.mode == Mode::Notrack)
}
