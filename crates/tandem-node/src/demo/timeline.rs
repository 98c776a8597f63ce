//! The timeline: what the nodes asked of their hosts (adverts, frames,
//! events), recorded by the simulated LAN, as lines of text; the reasons
//! and diagnostics in words; and the summary table.

use std::io::{self, Write};
use std::net::IpAddr;
use std::time::Duration;

use tandem_election::{codec, Advert, Diagnostic, Instant, Protocol, Reason, State};

use super::nodes::NodeInfo;
use super::{sim, Demo, DemoProtocol, DemoSummary, NodeId, VIRTUAL};
use crate::node::{report, EventKind as NodeEvent, Output};

/// What the timeline shows of what the nodes did.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum EventKind {
    /// The node was started.
    Started,
    /// The node was killed (no goodbye).
    Killed,
    /// The node was told to stop gracefully.
    Stopped,
    /// It sent an advert with this priority (CARP: 255 - advskew).
    Sent { priority: u8 },
    /// It began a burst of gratuitous ARPs, one frame per address a round.
    Announced { addresses: usize },
    /// Its election reported something.
    Diagnostic {
        diagnostic: Diagnostic,
        suppressed: u64,
    },
    /// Its instance changed state.
    State {
        from: State,
        to: State,
        reason: Reason,
    },
    /// Another event an operator should see, as tandemd logs it.
    Logged(String),
}

/// One line of the timeline.
#[derive(Debug, Clone)]
pub(super) struct Event {
    pub(super) at: Instant,
    pub(super) node: NodeId,
    pub(super) kind: EventKind,
}

impl Demo {
    /// Prints what the nodes did since the last flush.
    pub(super) fn flush(&mut self, out: &mut dyn Write) -> io::Result<()> {
        let mut events: Vec<Event> = Vec::new();
        for r in self.lan.take_log() {
            if let Some(kind) = self.event_of(r.port, r.at, r.what) {
                events.push(Event {
                    at: r.at,
                    node: r.port,
                    kind,
                });
            }
        }
        // Within one instant of one node: lifecycle, diagnostics, state,
        // adverts, announcements (the order a reader expects).
        events.sort_by_key(|e| (e.at, e.node, rank(&e.kind)));
        for e in &events {
            if let Some(text) = self.describe(e) {
                writeln!(
                    out,
                    "{:>10}  {:<17} {text}",
                    millis(e.at.since_origin()),
                    self.nodes[e.node].label()
                )?;
            }
        }
        Ok(())
    }

    /// What the timeline shows of one record of the LAN, if anything.
    fn event_of(&mut self, node: NodeId, at: Instant, what: sim::Happened) -> Option<EventKind> {
        let output = match what {
            sim::Happened::Started => {
                self.tracks[node].burst = None;
                return Some(EventKind::Started);
            }
            sim::Happened::Killed => return Some(EventKind::Killed),
            sim::Happened::Stopping => return Some(EventKind::Stopped),
            sim::Happened::Output(o) => o,
        };
        match output {
            Output::SendAdvert { dst, bytes, .. } => {
                // The advert as a receiver decodes it.
                let advert = codec::decode(&bytes, self.nodes[node].addr, dst).ok()?;
                let priority = match &advert {
                    Advert::Vrrp3 { repr, .. } => repr.priority.0,
                    Advert::Vrrp2(r) => r.priority.0,
                    Advert::Carp { repr, .. } => 255 - repr.advskew,
                };
                Some(EventKind::Sent { priority })
            }
            Output::SendFrames { frames, .. } => {
                // One round of a burst: a new burst unless it is the next
                // round of the one being sent.
                let announce = self.nodes[node].config.announce;
                let t = &mut self.tracks[node];
                let next_round = t
                    .burst
                    .is_some_and(|(last, n)| n < announce.repeat && at == last + announce.spacing);
                match (&mut t.burst, next_round) {
                    (Some((last, n)), true) => {
                        *last = at;
                        *n += 1;
                        None
                    }
                    _ => {
                        t.burst = Some((at, 1));
                        Some(EventKind::Announced {
                            addresses: frames.len(),
                        })
                    }
                }
            }
            Output::Event(e) => match e.kind {
                NodeEvent::State {
                    from, to, reason, ..
                } => Some(EventKind::State { from, to, reason }),
                NodeEvent::Diagnostic {
                    diagnostic,
                    suppressed,
                    ..
                } => Some(EventKind::Diagnostic {
                    diagnostic,
                    suppressed,
                }),
                // Started, stopped: the lifecycle lines say it.
                k if k.level() == crate::node::Level::Info => None,
                k => Some(EventKind::Logged(k.to_string())),
            },
            _ => None,
        }
    }

    /// One event as a timeline line, updating what the timeline remembers;
    /// `None` for the adverts a summary line already covers.
    fn describe(&mut self, e: &Event) -> Option<String> {
        let node = e.node;
        let carp = matches!(self.opts.protocol, DemoProtocol::Carp);
        match &e.kind {
            EventKind::Started => Some("started".to_string()),
            EventKind::Killed => {
                self.left(node, e.at);
                Some("KILLED: no goodbye, no more adverts".to_string())
            }
            EventKind::Stopped => Some("stopping gracefully".to_string()),
            EventKind::Sent { priority } => {
                self.tracks[node].adverts += 1;
                if *priority > 0 {
                    self.tracks[node].last_advert = Some(e.at);
                }
                if *priority == 0 {
                    self.tracks[node].advertising = None;
                    return Some(if carp {
                        "sent its going-down advert (advbase 255, advskew 255): Backups take over at once"
                            .to_string()
                    } else {
                        "sent priority 0: a Backup takes over after its Skew_Time".to_string()
                    });
                }
                if self.tracks[node].state != Some(State::Active) {
                    // Timeline order puts the state change first: this is
                    // the last advert of a router that yields.
                    return Some(
                        "sent one last advert as it yields, so that the winner knows it was Active too"
                            .to_string(),
                    );
                }
                if self.tracks[node].advertising == Some(*priority) {
                    return None;
                }
                self.tracks[node].advertising = Some(*priority);
                let every = short_secs(self.nodes[node].config.protocol.interval());
                Some(if carp {
                    format!(
                        "advertising every {every} (advbase {}, advskew {})",
                        self.nodes[node].config.protocol.interval().as_secs(),
                        255 - priority
                    )
                } else {
                    format!("advertising every {every}, priority {priority}")
                })
            }
            EventKind::Announced { addresses } => {
                let announce = self.nodes[node].config.announce;
                let since = self.tracks[node].active_since;
                let when = match (since, announce.refresh_after) {
                    (Some(a), _) if a == e.at => String::new(),
                    (Some(a), Some(after)) if a + after == e.at => {
                        format!(" again, {} after becoming Active", secs(after))
                    }
                    _ => " again".to_string(),
                };
                Some(format!(
                    "gratuitous ARP for {VIRTUAL}{}, {} frames{when}",
                    if *addresses > 1 { " and others" } else { "" },
                    announce.repeat,
                ))
            }
            EventKind::Diagnostic {
                diagnostic,
                suppressed,
            } => Some(match suppressed {
                0 => self.diagnostic(diagnostic),
                n => format!(
                    "{} (and {n} like it not shown)",
                    self.diagnostic(diagnostic)
                ),
            }),
            EventKind::Logged(text) => Some(text.clone()),
            EventKind::State {
                from, to, reason, ..
            } => {
                let why = self.reason(node, *to, reason);
                self.tracks[node].state = Some(*to);
                if *to == State::Active {
                    self.tracks[node].active_since = Some(e.at);
                    self.tracks[node].times_active += 1;
                } else {
                    self.left(node, e.at);
                    self.tracks[node].state = Some(*to);
                }
                Some(format!("{} -> {}: {why}", from.name(), to.name()))
            }
        }
    }

    /// The node left the Active role (or the LAN).
    fn left(&mut self, node: NodeId, at: Instant) {
        let t = &mut self.tracks[node];
        if let Some(since) = t.active_since.take() {
            t.time_active += at - since;
        }
        t.advertising = None;
        t.state = None;
    }

    fn who(&self, addr: IpAddr) -> String {
        self.nodes
            .iter()
            .find(|n| n.addr == addr)
            .map_or_else(|| addr.to_string(), NodeInfo::label)
    }

    /// Whether `a` outranks `b` (higher priority; CARP: lower advskew).
    fn outranks(&self, a: NodeId, b: NodeId) -> bool {
        let (a, b) = (&self.nodes[a].config, &self.nodes[b].config);
        match (&a.protocol, &b.protocol) {
            (Protocol::Carp { advskew: x, .. }, Protocol::Carp { advskew: y, .. }) => x < y,
            _ => a.priority > b.priority,
        }
    }

    fn preempts(&self, node: NodeId, active: NodeId) -> String {
        format!(
            "preempts {} ({} vs {}, preempt on)",
            self.nodes[active].name,
            self.nodes[node].rank(),
            self.nodes[active].rank()
        )
    }

    fn reason(&self, node: NodeId, to: State, reason: &Reason) -> String {
        let n = &self.nodes[node];
        let carp = matches!(self.opts.protocol, DemoProtocol::Carp);
        let other_active = (0..self.nodes.len())
            .find(|j| *j != node && self.tracks[*j].state == Some(State::Active));
        match (reason, other_active) {
            (Reason::Startup, _) => format!(
                "waiting up to its Active_Down_Interval ({}) for an Active router's advert",
                secs(n.adi)
            ),
            (Reason::Owner, _) => "it owns the virtual address (priority 255)".to_string(),
            (Reason::ActiveDown, Some(j)) if n.config.preempt && self.outranks(node, j) => {
                self.preempts(node, j)
            }
            (Reason::ActiveDown, Some(j)) => format!(
                "no advert from {} within its Active_Down_Interval ({}): frames lost",
                self.nodes[j].name,
                secs(n.adi)
            ),
            (Reason::ActiveDown, None) => format!(
                "no advert from an Active router within its Active_Down_Interval ({})",
                secs(n.adi)
            ),
            (Reason::ActiveResigned, _) if carp => {
                "the Active router went down gracefully: taken over at once".to_string()
            }
            (Reason::ActiveResigned, _) => format!(
                "the Active router resigned (priority 0): taken over after Skew_Time ({})",
                secs(n.skew)
            ),
            (Reason::Preempted { by }, _) if *by != n.addr => {
                let rank = self
                    .nodes
                    .iter()
                    .find(|m| m.addr == *by)
                    .map(NodeInfo::rank)
                    .unwrap_or_default();
                format!("preempted by {} ({rank} vs {})", self.who(*by), n.rank())
            }
            (Reason::Shutdown, _) => "stopped".to_string(),
            // Taking the role from a lower-ranked Active router, whatever
            // the election calls it.
            (_, Some(j)) if to == State::Active => self.preempts(node, j),
            (other, _) => other.to_string(),
        }
    }

    fn diagnostic(&self, d: &Diagnostic) -> String {
        match d {
            Diagnostic::Silence { intervals } => format!(
                "diagnostic: no advert from any peer for {intervals} intervals ({})",
                secs(self.interval() * *intervals)
            ),
            Diagnostic::PeerHeard { src } => {
                format!("diagnostic: hears {} again", self.who(*src))
            }
            Diagnostic::SplitBrain {
                other,
                other_priority,
                we_win,
            } => format!(
                "diagnostic: another Active router, {} ({}): {}",
                self.who(*other),
                if matches!(self.opts.protocol, DemoProtocol::Carp) {
                    format!("advskew {}", 255 - other_priority.0)
                } else {
                    format!("priority {}", other_priority.0)
                },
                if *we_win {
                    "this node keeps the role"
                } else {
                    "it wins, this node yields"
                }
            ),
            Diagnostic::SplitBrainResolved => {
                "diagnostic: the other Active router is silent again: split brain over".to_string()
            }
            other => format!("diagnostic: {}", report::explain(other)),
        }
    }

    pub(super) fn table(&self, out: &mut dyn Write, s: &DemoSummary) -> io::Result<()> {
        section(out, "Summary")?;
        let name = |n: usize| self.nodes[n - 1].name.as_str();
        writeln!(
            out,
            "  election          {:<9} {} Active",
            secs(s.election),
            name(s.elected)
        )?;
        writeln!(
            out,
            "  takeover (kill)   {:<9} {} after {}; bound {} ({}'s Active_Down_Interval){}",
            secs(s.takeover),
            name(s.took_over),
            name(s.killed),
            secs(s.bound),
            name(s.took_over),
            if s.takeover <= s.bound {
                ", within it"
            } else {
                ", LATE (frames lost)"
            },
        )?;
        match s.failback {
            Some(d) => writeln!(
                out,
                "  failback          {:<9} {} Active again after its restart",
                secs(d),
                name(s.killed)
            )?,
            None => writeln!(
                out,
                "  failback          none      {} stayed Backup",
                name(s.killed)
            )?,
        }
        writeln!(
            out,
            "  takeover (stop)   {:<9} {} after {}; Skew_Time {}",
            secs(s.resign_takeover),
            name(s.resign_took_over),
            name(s.stopped),
            if matches!(self.opts.protocol, DemoProtocol::Carp) {
                "none (CARP)".to_string()
            } else {
                secs(s.skew)
            }
        )?;
        writeln!(out)?;
        writeln!(
            out,
            "  {:<17} {:>7}  {:>12}  {:>11}  now",
            "node", "adverts", "times Active", "time Active"
        )?;
        let end = self.lan.now();
        for (i, (n, t)) in self.nodes.iter().zip(&self.tracks).enumerate() {
            let total = t.time_active + t.active_since.map_or(Duration::ZERO, |a| end - a);
            let state = self
                .lan
                .node(i)
                .and_then(|n| n.states().into_values().next());
            let now = if let Some(state) = state {
                state.name()
            } else if i + 1 == s.stopped {
                "stopped"
            } else {
                "down"
            };
            writeln!(
                out,
                "  {:<17} {:>7}  {:>12}  {:>11}  {now}",
                n.label(),
                t.adverts,
                t.times_active,
                secs(total)
            )?;
        }
        writeln!(out)?;
        writeln!(
            out,
            "  {} adverts encoded and decoded over {} of virtual time (simulated LAN).",
            s.adverts,
            secs(s.virtual_time)
        )
    }
}

/// Sort rank of an event within one instant of one node.
pub(super) fn rank(k: &EventKind) -> u8 {
    match k {
        EventKind::Started | EventKind::Killed | EventKind::Stopped => 0,
        EventKind::Diagnostic { .. } | EventKind::Logged(_) | EventKind::Sent { priority: 0 } => 1,
        EventKind::State { .. } => 2,
        EventKind::Sent { .. } => 3,
        EventKind::Announced { .. } => 4,
    }
}

pub(super) fn section(out: &mut dyn Write, title: &str) -> io::Result<()> {
    writeln!(out)?;
    writeln!(out, "== {title} ==")
}

/// A line of commentary in the timeline.
pub(super) fn note(out: &mut dyn Write, at: Instant, text: &str) -> io::Result<()> {
    writeln!(
        out,
        "{:>10}  {:<17} {text}",
        millis(at.since_origin()),
        "  >>"
    )
}

/// "3.219 s"; below 10 ms, "0.1 ms".
pub(super) fn secs(d: Duration) -> String {
    if !d.is_zero() && d < Duration::from_millis(10) {
        return millis(d);
    }
    format!("{:.3} s", d.as_secs_f64())
}

/// "1.00 s" for whole centiseconds, else "1.391 s".
fn short_secs(d: Duration) -> String {
    if d.as_nanos() % 10_000_000 == 0 {
        format!("{:.2} s", d.as_secs_f64())
    } else {
        secs(d)
    }
}

/// "3218.8 ms".
pub(super) fn millis(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}
