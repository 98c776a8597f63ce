//! The replication adapter: the Node's one [`Replicator`] when the
//! configuration has `[replication]`, fed with the link's datagrams, the
//! connection-tracking table's changes and the election's role; its
//! datagrams and events come out as the Node's outputs.
//!
//! - The link opens when a configuration with `[replication]` is applied
//!   ([`Output::ReplicationOpen`]); the host answers with the key files'
//!   texts and a boot id ([`Input::ReplicationOpened`](super::Input::ReplicationOpened)). Changed settings
//!   reopen it; a configuration without `[replication]` stops it.
//! - The table: the host reads it whole ([`Input::ConntrackTable`](super::Input::ConntrackTable)) and
//!   follows its events ([`Input::ConntrackEvents`](super::Input::ConntrackEvents)); each entry becomes a
//!   flow of the local table ([`flow_of`]) unless it is ignored (loopback,
//!   the `ignore` prefixes, the replication and sync ports' own traffic,
//!   protocols other than TCP, UDP, SCTP, ICMP and ICMPv6).
//! - The role: Active when any instance is Active; the Active streams its
//!   table, the Backup mirrors the partner's.
//! - Takeover: when an instance becomes Active, the mirror's flows go into
//!   the connection-tracking table ([`Output::ConntrackInstall`]) before
//!   the instance's addresses are added, so the first packet of an
//!   established connection finds its entry.
//! - Preemption: a Backup whose mirror is not in sync holds preemption
//!   ([`Command::HoldPreemption`], with configuration sync's hold); a dead
//!   Active is still replaced.

mod engine;
mod event;

use std::net::IpAddr;

use tandem_election::{Command, Instant};
use tandem_replication::conntrackd;
use tandem_replication::flow::{self, Flow, FlowKey, Tuple as FlowTuple, NO_BACKEND};
use tandem_replication::seal::{KeyRing, Psk};
use tandem_replication::session::{self, Replicator};

use engine::{Engine, Said};

pub use event::ReplicationEvent;
pub use tandem_replication::persist::PersistenceTable;

use super::input::ReplicationLink;
use super::output::{EventKind, Output};
use super::Node;
use crate::config::{ReplicationConfig, ReplicationFormat, DEFAULT_SYNC_PORT};
use crate::conntrack::{Entry, Event as CtEvent, TcpInfo, Tuple};
use crate::snapshot::ReplicationStatus;

/// The replicator with what it was started from.
#[derive(Debug)]
pub(super) struct Running {
    pub(super) settings: ReplicationConfig,
    pub(super) engine: Engine,
    /// A conntrackd peer's sessions heard (HELLO after none) on this link.
    pub(super) peer_sessions: u64,
}

/// The Node's replication state.
#[derive(Debug, Default)]
pub(super) struct ReplicationAdapter {
    /// The embedding appliance's persistence table, replicated with the
    /// flows.
    pub(super) persistence: Option<PersistenceTable>,
    /// The settings of the link being opened or open.
    pub(super) settings: Option<ReplicationConfig>,
    pub(super) run: Option<Running>,
    /// The role last given to the replicator.
    pub(super) active: bool,
    /// The mirror went into the table since this unit last became Active.
    pub(super) installed: bool,
    /// The last error, for status.
    pub(super) last_error: Option<String>,
    /// Entries left out by the filter.
    pub(super) ignored: u64,
    /// Flows installed at takeovers, and refused.
    pub(super) installed_flows: u64,
    pub(super) install_failed: u64,
    /// Table changes and whole reads handed over by the host.
    pub(super) table_events: u64,
    pub(super) table_reads: u64,
    /// A conntrackd peer's events, by name.
    pub(super) conntrackd_events: std::collections::BTreeMap<&'static str, u64>,
}

impl ReplicationAdapter {
    /// Preemption should be held: replication runs, this unit mirrors
    /// the partner, and the mirror is not in sync.
    pub(super) fn hold(&self) -> bool {
        match &self.run {
            Some(r) => !self.active && !r.engine.in_sync(),
            None => self.settings.is_some(),
        }
    }
}

impl Node {
    /// Hands the Node the appliance's persistence table (before the
    /// configuration): replicated over `[replication]` with the flows.
    pub fn set_persistence(&mut self, table: PersistenceTable) {
        self.replication.persistence = Some(table);
    }

    /// A configuration was applied: open, reopen or stop the link.
    pub(super) fn replication_configure(&mut self, want: Option<ReplicationConfig>) {
        if want == self.replication.settings {
            return;
        }
        if self.replication.settings.take().is_some() {
            self.replication.run = None;
            self.outputs.push_back(Output::ReplicationStop);
        }
        if let Some(settings) = want {
            self.replication.settings = Some(settings.clone());
            self.outputs.push_back(Output::ReplicationOpen {
                settings: Box::new(settings),
            });
        }
        self.state_changed = true;
    }

    pub(super) fn on_replication_opened(
        &mut self,
        now: Instant,
        result: Result<ReplicationLink, String>,
    ) {
        let Some(settings) = self.replication.settings.clone() else {
            return;
        };
        let link = match result {
            Ok(l) => l,
            Err(text) => return self.replication_error(now, text),
        };
        let mut engine = match settings.format {
            ReplicationFormat::Tandem => {
                let keys = match key_ring(&settings, &link) {
                    Ok(k) => k,
                    Err(text) => return self.replication_error(now, text),
                };
                let mut config = session::Config::new(settings.cluster, settings.node, keys);
                config.flush_budget = settings.flush;
                config.bulk_rate = settings.bulk_rate / 8;
                config.max_flows = settings.max_flows;
                config.persistence = self.replication.persistence.clone();
                Engine::Tandem(Box::new(Replicator::new(config, link.boot, now)))
            }
            ReplicationFormat::ConntrackdFtfw | ReplicationFormat::ConntrackdNotrack => {
                let mode = if settings.format == ReplicationFormat::ConntrackdFtfw {
                    conntrackd::config::Mode::Ftfw
                } else {
                    conntrackd::config::Mode::Notrack
                };
                // conntrackd starts its numbering at the Unix time; any
                // start does, and the boot id is as good.
                let mut config = conntrackd::config::Config::new(mode, link.boot as u32);
                config.max_flows = settings.max_flows;
                Engine::Conntrackd(Box::new(conntrackd::Endpoint::new(config, now)))
            }
        };
        let active = self.any_active();
        engine.set_active(now, active);
        if !active {
            engine.backup_resync(now);
        }
        self.replication.active = active;
        self.replication.last_error = None;
        self.replication.run = Some(Running {
            settings: settings.clone(),
            engine,
            peer_sessions: 0,
        });
        self.emit(
            now,
            EventKind::Replication(ReplicationEvent::Started {
                node: settings.node,
                peer: settings.peer.to_string(),
                format: settings.format.name().to_string(),
            }),
        );
        self.replication_drain(now);
    }

    fn replication_error(&mut self, now: Instant, text: String) {
        self.replication.last_error = Some(text.clone());
        self.replication.run = None;
        self.state_changed = true;
        self.emit(
            now,
            EventKind::Replication(ReplicationEvent::Error { text }),
        );
    }

    pub(super) fn on_replication_received(&mut self, now: Instant, ttl: u8, bytes: &[u8]) {
        if let Some(run) = &mut self.replication.run {
            run.engine.handle_datagram(now, ttl, bytes);
            self.replication_drain(now);
        }
    }

    pub(super) fn on_conntrack_table(&mut self, now: Instant, entries: Vec<Entry>) {
        let Some(run) = &mut self.replication.run else {
            return;
        };
        self.replication.table_reads += 1;
        let mut full = false;
        let mut seen = std::collections::HashSet::with_capacity(entries.len());
        let mut ignored = 0;
        for e in &entries {
            match flow_of(&run.settings, e) {
                Some(f) => {
                    seen.insert(f.key());
                    if !full && !run.engine.upsert_flow(now, f) {
                        full = true;
                    }
                }
                None => ignored += 1,
            }
        }
        let gone: Vec<FlowKey> = run
            .engine
            .local_flows()
            .into_iter()
            .map(|f| f.key())
            .filter(|k| !seen.contains(k))
            .collect();
        for k in &gone {
            run.engine.remove_flow(now, k);
        }
        self.replication.ignored += ignored;
        self.counters_changed = true;
        self.replication_drain(now);
    }

    pub(super) fn on_conntrack_events(&mut self, now: Instant, events: Vec<CtEvent>) {
        let Some(run) = &mut self.replication.run else {
            return;
        };
        self.replication.table_events += events.len() as u64;
        let mut ignored = 0;
        for ev in events {
            match ev {
                CtEvent::New(e) | CtEvent::Update(e) => match flow_of(&run.settings, &e) {
                    Some(f) => {
                        run.engine.upsert_flow(now, f);
                    }
                    None => ignored += 1,
                },
                CtEvent::Destroy(e) => match flow_of(&run.settings, &e) {
                    Some(f) => {
                        run.engine.remove_flow(now, &f.key());
                    }
                    None => ignored += 1,
                },
            }
        }
        self.replication.ignored += ignored;
        self.counters_changed = true;
        self.replication_drain(now);
    }

    pub(super) fn on_conntrack_installed(
        &mut self,
        now: Instant,
        installed: usize,
        failed: usize,
        error: Option<String>,
    ) {
        self.replication.installed_flows += installed as u64;
        self.replication.install_failed += failed as u64;
        self.counters_changed = true;
        self.emit(
            now,
            EventKind::Replication(ReplicationEvent::Installed {
                flows: installed,
                failed,
                error,
            }),
        );
    }

    /// Before the addresses of an instance that became Active: the mirror
    /// into the connection-tracking table, once per takeover.
    pub(super) fn replication_before_addresses(&mut self, now: Instant) {
        if self.replication.installed {
            return;
        }
        self.replication.installed = true;
        let Some(run) = &self.replication.run else {
            return;
        };
        if !run.settings.conntrack {
            return;
        }
        let entries: Vec<Entry> = run.engine.mirror_flows(now).iter().map(entry_of).collect();
        if !entries.is_empty() {
            self.outputs.push_back(Output::ConntrackInstall { entries });
        }
    }

    fn any_active(&self) -> bool {
        self.instances
            .iter()
            .any(|i| self.router(i).state() == tandem_election::State::Active)
    }

    /// After every input and timer: the role to the replicator; returns
    /// whether preemption should be held for replication.
    pub(super) fn replication_settle(&mut self, now: Instant) -> bool {
        let active = self.any_active();
        if !active {
            self.replication.installed = false;
        }
        if let Some(run) = &mut self.replication.run {
            if self.replication.active != active {
                run.engine.set_active(now, active);
                if !active {
                    run.engine.backup_resync(now);
                }
                self.replication.active = active;
                self.state_changed = true;
                self.replication_drain(now);
            }
        }
        self.replication.hold()
    }

    pub(super) fn replication_poll_timeout(&self) -> Option<Instant> {
        self.replication
            .run
            .as_ref()
            .and_then(|r| r.engine.poll_timeout())
    }

    pub(super) fn replication_handle_timeout(&mut self, now: Instant) {
        if let Some(run) = &mut self.replication.run {
            run.engine.handle_timeout(now);
            self.replication_drain(now);
        }
    }

    /// The replicator's outputs as the Node's.
    fn replication_drain(&mut self, now: Instant) {
        let mut events = Vec::new();
        if let Some(run) = &mut self.replication.run {
            let mut resync = false;
            while let Some(out) = run.engine.poll() {
                match out {
                    Said::Send(bytes) => self.outputs.push_back(Output::ReplicationSend { bytes }),
                    Said::Event(e) => events.push(e),
                    Said::Conntrackd(e) => {
                        // A conntrackd peer that restarted (a session after
                        // the first, which the RESYNC of our start covers): a
                        // Backup asks for its table again.
                        if e == conntrackd::status::Event::PeerHello {
                            run.peer_sessions += 1;
                            resync = run.peer_sessions > 1 && !self.replication.active;
                        }
                        count_conntrackd_event(&mut self.replication.conntrackd_events, &e)
                    }
                }
                if std::mem::take(&mut resync) {
                    run.engine.backup_resync(now);
                }
            }
        }
        for e in events {
            self.replication_event(now, e);
        }
    }

    fn replication_event(&mut self, now: Instant, e: session::Event) {
        let ev = match e {
            session::Event::PartnerStarted { node, boot } => ReplicationEvent::PartnerStarted {
                node,
                boot: format!("{boot:016x}"),
            },
            session::Event::InSync => {
                self.state_changed = true;
                ReplicationEvent::InSync
            }
            session::Event::OutOfSync { reason } => {
                self.state_changed = true;
                ReplicationEvent::OutOfSync {
                    reason: reason.to_string(),
                }
            }
            session::Event::BulkSent { entries } => ReplicationEvent::BulkSent { entries },
            session::Event::Refused(r) => {
                self.counters_changed = true;
                let key = ("replication_refused", super::report::Scope::Node, r.name());
                let Some(suppressed) = self.limiter.admit(now, key, String::new) else {
                    self.counters.events_suppressed += 1;
                    return;
                };
                ReplicationEvent::Refused {
                    reason: r.name().to_string(),
                    text: r.to_string(),
                    suppressed,
                }
            }
            _ => return,
        };
        self.emit(now, EventKind::Replication(ev));
    }

    /// The status as `status` shows it.
    pub(super) fn replication_status(&self) -> Option<ReplicationStatus> {
        let settings = self.replication.settings.as_ref()?;
        let mut st = ReplicationStatus {
            node: settings.node,
            peer: settings.peer.to_string(),
            format: settings.format.name().to_string(),
            state: "opening".into(),
            last_error: self.replication.last_error.clone(),
            ignored: self.replication.ignored,
            installed: self.replication.installed_flows,
            install_failed: self.replication.install_failed,
            table_events: self.replication.table_events,
            table_reads: self.replication.table_reads,
            ..ReplicationStatus::default()
        };
        if self.replication.last_error.is_some() {
            st.state = "error".into();
        }
        if let Some(run) = &self.replication.run {
            let s = run.engine.seen();
            st.state = if s.active {
                "active"
            } else if s.in_sync {
                "in-sync"
            } else {
                "syncing"
            }
            .into();
            st.in_sync = s.in_sync;
            st.partner_up = s.partner_up;
            st.local_flows = s.local_flows;
            st.mirror_flows = s.mirror_flows;
            st.pending = s.pending;
            st.bulk_sending = s.bulk_sending;
            st.bulk_receiving = s.bulk_receiving;
            let c = s.counters;
            st.frames_sent = c.frames_sent;
            st.bytes_sent = c.bytes_sent;
            st.frames_received = c.frames_received;
            st.records_repaired = c.records_repaired;
            st.frames_lost = c.frames_lost;
            st.resyncs_requested = c.resyncs_requested;
            st.bulks_sent = c.bulks_sent;
            st.digest_mismatches = c.digest_mismatches;
            st.refused = c.refused_ttl + c.refused_auth + c.refused_replay + c.refused_malformed;
            st.table_full = c.table_full;
        }
        Some(st)
    }

    /// Hold preemption as configuration sync and replication want it.
    pub(super) fn settle_hold(&mut self, now: Instant, sync_hold: bool) {
        let repl_hold = self.replication_settle(now);
        let want_hold = sync_hold || repl_hold;
        if self.sync.held != Some(want_hold) && !self.groups.is_empty() {
            self.sync.held = Some(want_hold);
            self.command_all(now, Command::HoldPreemption(want_hold));
        }
    }
}

/// Counts a conntrackd endpoint's event by its name (its counters carry
/// the detail).
fn count_conntrackd_event(
    counts: &mut std::collections::BTreeMap<&'static str, u64>,
    e: &conntrackd::status::Event,
) {
    *counts.entry(e.name()).or_default() += 1;
}

/// The key ring of the link's key files.
fn key_ring(settings: &ReplicationConfig, link: &ReplicationLink) -> Result<KeyRing, String> {
    let path = settings
        .key_file
        .as_ref()
        .ok_or("the tandem format needs a key_file")?;
    let text = link.key.as_deref().ok_or("the key file was not read")?;
    let current = Psk::parse(text).map_err(|e| format!("{}: {e}", path.display()))?;
    let next = match (&settings.next_key_file, &link.next_key) {
        (Some(path), Some(text)) => {
            Some(Psk::parse(text).map_err(|e| format!("{}: {e}", path.display()))?)
        }
        _ => None,
    };
    KeyRing::new(settings.cluster, &current, next.as_ref()).map_err(|e| e.to_string())
}

fn in_prefix(a: IpAddr, (net, prefix): (IpAddr, u8)) -> bool {
    a.is_ipv4() == net.is_ipv4() && crate::config::mask_address(a, prefix) == net
}

/// The flow a table entry is, or `None` if it is not replicated.
pub fn flow_of(settings: &ReplicationConfig, e: &Entry) -> Option<Flow> {
    use flow::proto;
    if ![
        proto::TCP,
        proto::UDP,
        proto::SCTP,
        proto::ICMP,
        proto::ICMPV6,
    ]
    .contains(&e.proto)
    {
        return None;
    }
    let addrs = [e.orig.src, e.orig.dst, e.reply.src, e.reply.dst];
    if addrs.iter().any(|a| a.is_loopback() || a.is_unspecified()) {
        return None;
    }
    if addrs
        .iter()
        .any(|a| settings.ignore.iter().any(|p| in_prefix(*a, *p)))
    {
        return None;
    }
    // The pair's own traffic: replication's datagrams and sync's
    // connection, between this unit and the partner's address.
    let own_ports = [
        settings.peer.port(),
        settings.listen.port(),
        DEFAULT_SYNC_PORT,
    ];
    let peer = settings.peer.ip();
    if matches!(e.proto, proto::TCP | proto::UDP)
        && (e.orig.src == peer || e.orig.dst == peer)
        && [e.orig.src_port, e.orig.dst_port]
            .iter()
            .any(|p| own_ports.contains(p))
    {
        return None;
    }
    let tuple = |t: &Tuple| FlowTuple {
        src: t.src,
        dst: t.dst,
        src_port: t.src_port,
        dst_port: t.dst_port,
    };
    Some(Flow {
        proto: e.proto,
        zone: e.zone,
        original: tuple(&e.orig),
        reply: tuple(&e.reply),
        state: e.state,
        status: e.status as u16,
        lifetime_ms: e.timeout_s.saturating_mul(1000),
        backend: NO_BACKEND,
        mark: e.mark,
        window: None,
    })
}

/// The table entry a mirrored flow is installed as: its remaining
/// lifetime (at least a second), TCP picked up liberally
/// ([`TcpInfo::pickup`]: conntrack cannot be given the windows, so it
/// accepts in-state segments without window checks).
pub fn entry_of(f: &Flow) -> Entry {
    let tuple = |t: &FlowTuple| Tuple {
        src: t.src,
        dst: t.dst,
        src_port: t.src_port,
        dst_port: t.dst_port,
    };
    let tcp = (f.proto == flow::proto::TCP).then(TcpInfo::pickup);
    Entry {
        proto: f.proto,
        zone: f.zone,
        orig: tuple(&f.original),
        reply: tuple(&f.reply),
        state: f.state,
        status: u32::from(f.status),
        timeout_s: f.lifetime_ms.div_ceil(1000).max(1),
        mark: f.mark,
        tcp,
        sctp: None,
        id: None,
    }
}

#[cfg(test)]
mod tests {
    use tandem_replication::conntrackd::msg::{flags, messages};

    use super::super::{Input, NodeSettings};
    use super::*;
    use crate::drive::fake::FakeHost;

    fn at(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    /// RESYNCs the Node asked for (re-sends of one queued are not counted).
    fn resyncs(node: &Node, ms: u64) -> u64 {
        node.snapshot(at(ms))
            .replication
            .map_or(0, |r| r.resyncs_requested)
    }

    /// Whether a datagram with a RESYNC left.
    fn resync_sent(host: &FakeHost) -> bool {
        host.outputs_since(0)
            .iter()
            .filter_map(|o| match o {
                Output::ReplicationSend { bytes } => Some(bytes),
                _ => None,
            })
            .flat_map(|b| messages(b).filter_map(Result::ok).collect::<Vec<_>>())
            .any(|m| m.flags() & flags::RESYNC != 0)
    }

    /// A conntrackd peer's ALIVE (with HELLO while it says HELLO).
    fn alive(host: &mut FakeHost, ms: u64, seq: u32, hello: bool) {
        let fl = flags::ALIVE | if hello { flags::HELLO } else { 0 };
        let mut bytes = vec![0x1a, fl, 0, 8];
        bytes.extend(seq.to_be_bytes());
        host.push(Input::ReplicationReceived {
            at: at(ms),
            ttl: 64,
            bytes,
        });
    }

    /// A Backup with a conntrackd peer asks for its table when its link
    /// opens, not again at the peer's first HELLO, and again when the peer
    /// restarts (a HELLO after its session was established).
    #[test]
    fn a_conntrackd_backup_asks_for_the_peers_table() {
        let cfg = crate::config::parse(
            "[[instance]]\nname = \"web\"\ninterface = \"eth0\"\nvrid = 51\npriority = 100\n\
             addresses = [\"192.0.2.100/24\"]\n\n[replication]\nnode = 2\ncluster = 7\n\
             format = \"conntrackd-ftfw\"\npeer = \"198.51.100.1:3780\"\n",
        )
        .unwrap();
        let mut node = Node::new(NodeSettings::default());
        let mut host = FakeHost::new();
        host.push(Input::Configure {
            at: Instant::ZERO,
            config: Box::new(cfg),
            reply: None,
        });
        host.push(Input::ReplicationOpened {
            at: at(10),
            result: Ok(ReplicationLink {
                key: None,
                next_key: None,
                boot: 1000,
            }),
        });
        host.run_until(&mut node, at(20)).unwrap();
        assert_eq!(resyncs(&node, 20), 1, "at the link's opening");
        assert!(resync_sent(&host), "no RESYNC went out");
        // The peer's first session: our RESYNC covers it.
        alive(&mut host, 30, 5000, true);
        alive(&mut host, 40, 5001, false);
        host.run_until(&mut node, at(50)).unwrap();
        assert_eq!(resyncs(&node, 50), 1, "not again at the first HELLO");
        // The peer restarted: a new session, a new RESYNC.
        alive(&mut host, 60, 9000, true);
        host.run_until(&mut node, at(70)).unwrap();
        assert_eq!(resyncs(&node, 70), 2, "at the peer's restart");
    }

    /// The filter: the pair's own traffic, loopback, ignored networks and
    /// other protocols are left out; a client that happens to use the
    /// replication port as its source port is not.
    #[test]
    fn flow_of_leaves_out_the_pairs_own_traffic_and_nothing_else() {
        let cfg = crate::config::parse(
            "[[instance]]\nname = \"web\"\ninterface = \"eth0\"\nvrid = 51\n\
             addresses = [\"192.0.2.100/24\"]\n\n[replication]\nnode = 1\ncluster = 7\n\
             peer = \"198.51.100.2\"\nkey_file = \"/k\"\nignore = [\"203.0.113.0/28\"]\n",
        )
        .unwrap();
        let r = cfg.global.replication.unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let entry = |proto: u8, src: &str, sport: u16, dst: &str, dport: u16| {
            let orig = Tuple {
                src: ip(src),
                dst: ip(dst),
                src_port: sport,
                dst_port: dport,
            };
            Entry {
                proto,
                zone: 0,
                orig,
                reply: orig.inverse(proto),
                state: 3,
                status: 0xe,
                timeout_s: 60,
                mark: 0,
                tcp: None,
                sctp: None,
                id: None,
            }
        };
        let kept = |e: Entry| flow_of(&r, &e).is_some();
        assert!(kept(entry(6, "203.0.113.50", 6974, "192.0.2.100", 80)));
        assert!(kept(entry(17, "203.0.113.50", 40000, "192.0.2.100", 6974)));
        assert!(!kept(entry(17, "198.51.100.1", 6974, "198.51.100.2", 6974)));
        assert!(!kept(entry(17, "198.51.100.2", 6974, "198.51.100.1", 6974)));
        assert!(!kept(entry(6, "198.51.100.1", 40000, "198.51.100.2", 6973)));
        assert!(!kept(entry(6, "127.0.0.1", 40000, "127.0.0.1", 80)));
        assert!(!kept(entry(6, "203.0.113.5", 40000, "192.0.2.100", 80)));
        assert!(!kept(entry(112, "192.0.2.1", 0, "224.0.0.18", 0)));
        let f = flow_of(&r, &entry(6, "203.0.113.50", 1234, "192.0.2.100", 80)).unwrap();
        assert_eq!(f.lifetime_ms, 60_000);
        let e = entry(6, "203.0.113.50", 1234, "192.0.2.100", 80);
        let back = entry_of(&f);
        assert_eq!((back.orig, back.reply, back.state), (e.orig, e.reply, 3));
        assert_eq!(back.tcp, Some(TcpInfo::pickup()));
    }
}
