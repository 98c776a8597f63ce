//! `tandemd demo`: a pair (or up to four) Tandem nodes on the in-process
//! simulated LAN of [`crate::drive::sim`], with no privileges and no
//! packets leaving the process.
//!
//! Each node is the [`Node`](crate::node::Node) that `tandemd run` runs,
//! configured with a configuration file parsed as `tandemd run --config`
//! parses it, and driven by the driver's one loop
//! ([`crate::drive::step`]); only its host is simulated. Every advert is
//! built by the real `tandem-election` state machine, encoded to bytes by
//! `tandem-wire`, and decoded again by each receiving Node. The clock is
//! virtual: it jumps to the earliest deadline or delivery across the
//! nodes, so a minute of protocol time runs in a few milliseconds, and a
//! seed fixes every random choice, so the same options print the same
//! timeline.
//!
//! The scenario: the nodes start one after another and elect an Active
//! router; the Active one is killed at a random phase of its advert
//! interval (no goodbye) and a Backup takes over, timed against its
//! Active_Down_Interval; the killed node comes back and, if it is the
//! preferred host, takes the role back (failback); last, the Active node
//! stops gracefully, sends priority 0 (CARP: its going-down advert), and
//! a Backup takes over after its Skew_Time (CARP: at once). docs/demo.md shows a run.

use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use tandem_election::{Instant, State};

use crate::drive::sim::{self, Lan, LanError, Link, PortId};
use nodes::{build_nodes, NodeInfo};
use timeline::{millis, note, secs, section};

/// A node's index (node-1 is 0); the same as its port on the LAN.
type NodeId = PortId;

/// The VRID (CARP: VHID) of the demonstration's virtual router.
const VRID: u8 = 1;
/// Its virtual address.
const VIRTUAL: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);
/// The instance's name in each node's configuration.
const INSTANCE: &str = "gateway";
/// The interface it runs on (each node's port on the simulated LAN).
const INTERFACE: &str = "lan0";
/// The simulated LAN's one-way delay.
const DELAY: Duration = Duration::from_micros(100);

/// The protocol the demonstration runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DemoProtocol {
    /// VRRPv3 (RFC 9568).
    Vrrp3,
    /// VRRPv2 (RFC 3768).
    Vrrp2,
    /// CARP (OpenBSD carp(4)).
    Carp,
}

impl DemoProtocol {
    /// The protocol's name in the output.
    pub const fn name(self) -> &'static str {
        match self {
            DemoProtocol::Vrrp3 => "VRRPv3",
            DemoProtocol::Vrrp2 => "VRRPv2",
            DemoProtocol::Carp => "CARP",
        }
    }
}

/// Which node is the preferred host (`tandem_election::Config::preferred_host`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DemoPreferred {
    /// node-1: priority 200 (CARP: advskew 0) and preemption.
    First,
    /// node-2.
    Second,
    /// Neither: equal priorities, no preemption, so no failback.
    None,
}

/// The options of `tandemd demo`.
#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct DemoOptions {
    /// The protocol the nodes run.
    #[arg(long, value_enum, default_value_t = DemoProtocol::Vrrp3)]
    pub protocol: DemoProtocol,
    /// How many nodes (2 to 4); nodes 3 and 4 are extra Backups of lower rank.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(2..=4))]
    pub nodes: u8,
    /// The advert interval in seconds (VRRPv3: 0.01 to 40.95 in steps of
    /// 0.01; VRRPv2 and CARP: whole seconds, 1 to 255).
    #[arg(long, value_name = "SECONDS", default_value = "1", value_parser = parse_seconds)]
    pub interval: Duration,
    /// The seed of every random choice (the kill's phase, losses): the same
    /// seed prints the same timeline.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Percentage of frames the simulated LAN loses, per receiver (0 to 50).
    #[arg(long, value_name = "PERCENT", default_value_t = 0,
          value_parser = clap::value_parser!(u8).range(0..=50))]
    pub loss: u8,
    /// Which node is the preferred host, taking the Active role back when it returns.
    #[arg(long, value_enum, default_value_t = DemoPreferred::First)]
    pub preferred: DemoPreferred,
}

impl Default for DemoOptions {
    fn default() -> DemoOptions {
        DemoOptions {
            protocol: DemoProtocol::Vrrp3,
            nodes: 2,
            interval: Duration::from_secs(1),
            seed: 1,
            loss: 0,
            preferred: DemoPreferred::First,
        }
    }
}

/// Parses a positive number of seconds, fractions allowed ("0.5").
fn parse_seconds(s: &str) -> Result<Duration, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if !v.is_finite() || v <= 0.0 || v > 255.0 {
        return Err(format!("{s} s is not between 0 and 255 seconds"));
    }
    Ok(Duration::from_secs_f64(v))
}

/// Why the options cannot run (returned inside an `io::Error` of kind
/// `InvalidInput`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DemoOptionError {
    /// The interval is not one the protocol can send.
    #[error("--interval {interval:?} cannot be sent by {protocol}: {why}")]
    Interval {
        /// The protocol.
        protocol: &'static str,
        /// The interval asked for.
        interval: Duration,
        /// What the protocol accepts.
        why: &'static str,
    },
    /// `--nodes` outside 2..=4.
    #[error("--nodes {0}: the demonstration runs 2 to 4 nodes")]
    Nodes(u8),
    /// `--loss` above 50 %.
    #[error("--loss {0}: at most 50 percent")]
    Loss(u8),
    /// The election refuses the configuration built from the options.
    #[error("the election refuses the demonstration's configuration: {0}")]
    Config(#[from] tandem_election::ConfigError),
    /// A node's configuration file, built from the options, does not parse.
    #[error("{node}'s configuration file: {source}")]
    File {
        /// The node ("node-1").
        node: String,
        /// Why.
        #[source]
        source: Box<crate::config::ConfigError>,
    },
    /// A node's configuration file has no instance.
    #[error("{0}'s configuration file has no instance")]
    NoInstance(String),
}

/// What the demonstration measured. Node numbers count from 1 (node-1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoSummary {
    /// The node Active after the election.
    pub elected: usize,
    /// From the first node's start to a single Active router.
    pub election: Duration,
    /// The node killed (the Active one).
    pub killed: usize,
    /// When it was killed, after its last advert.
    pub kill_phase: Duration,
    /// The node that took over.
    pub took_over: usize,
    /// From the kill to the takeover.
    pub takeover: Duration,
    /// The theoretical bound: the Active_Down_Interval of the node that
    /// took over (3 x interval + Skew_Time; CARP: 3 x advbase + advskew/256).
    pub bound: Duration,
    /// From the killed node's restart to it being Active again, if it
    /// took the role back (it does when it is the preferred host).
    pub failback: Option<Duration>,
    /// The node stopped gracefully (the Active one at the time).
    pub stopped: usize,
    /// The node that took over from it.
    pub resign_took_over: usize,
    /// From the graceful stop to the takeover.
    pub resign_takeover: Duration,
    /// The Skew_Time of the node that took over (CARP: zero).
    pub skew: Duration,
    /// Adverts sent by all nodes.
    pub adverts: u64,
    /// The nodes holding the virtual address at the end (added and not
    /// removed since): the one Active node.
    pub holders: Vec<usize>,
    /// The virtual time the demonstration covered.
    pub virtual_time: Duration,
}

/// Runs the demonstration and prints its timeline to `out`.
///
/// Options the protocol cannot run (a VRRPv2 interval of 0.5 s, say) give
/// an error of kind `InvalidInput` wrapping a [`DemoOptionError`].
pub fn run(opts: &DemoOptions, out: &mut dyn Write) -> io::Result<DemoSummary> {
    let nodes = build_nodes(opts).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let mut lan = Lan::new(
        opts.seed,
        Link {
            delay: DELAY,
            loss: f64::from(opts.loss) / 100.0,
        },
    );
    for n in &nodes {
        lan.add_port(n.addr);
    }
    let mut demo = Demo {
        opts: opts.clone(),
        lan,
        tracks: vec![Track::default(); nodes.len()],
        nodes,
        rng: SplitMix(opts.seed ^ 0x7a4d_e3b1_0c5f_9e21),
    };
    let summary = demo.scenario(out)?;
    out.flush()?;
    Ok(summary)
}

/// The configuration file each node runs, in node order, as `tandemd run
/// --config` reads it.
pub fn config_files(opts: &DemoOptions) -> Result<Vec<String>, DemoOptionError> {
    Ok(build_nodes(opts)?.into_iter().map(|n| n.text).collect())
}

/// What the timeline remembers of a node.
#[derive(Debug, Clone, Default)]
struct Track {
    state: Option<State>,
    /// The priority it advertises, while it advertises.
    advertising: Option<u8>,
    active_since: Option<Instant>,
    /// Its last advert that was not a resignation.
    last_advert: Option<Instant>,
    /// The announcement burst being sent: when its last round went out,
    /// and how many rounds have.
    burst: Option<(Instant, u8)>,
    adverts: u64,
    times_active: u32,
    time_active: Duration,
    started_at: Option<Instant>,
}

/// A seeded generator for the demonstration's own choices.
#[derive(Debug, Clone)]
struct SplitMix(u64);

impl SplitMix {
    /// A number in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

struct Demo {
    opts: DemoOptions,
    lan: Lan,
    nodes: Vec<NodeInfo>,
    tracks: Vec<Track>,
    rng: SplitMix,
}

/// The LAN's error as the demonstration's (the simulated host never fails
/// a node; this would be a bug).
fn lan_error(e: LanError) -> io::Error {
    io::Error::other(e)
}

/// The nodes whose instance is Active.
fn actives(lan: &Lan) -> Vec<NodeId> {
    (0..lan.len())
        .filter(|p| {
            lan.node(*p)
                .is_some_and(|n| n.states().values().any(|s| *s == State::Active))
        })
        .collect()
}

impl Demo {
    fn interval(&self) -> Duration {
        self.nodes[0].config.protocol.interval()
    }

    fn longest_adi(&self) -> Duration {
        self.nodes.iter().map(|n| n.adi).max().unwrap_or_default()
    }

    fn actives(&self) -> Vec<NodeId> {
        actives(&self.lan)
    }

    fn run_for(&mut self, d: Duration) -> io::Result<()> {
        self.lan.run_for(d).map_err(lan_error)
    }

    fn run_until(
        &mut self,
        limit: Duration,
        pred: impl FnMut(&Lan) -> bool,
    ) -> io::Result<Option<Instant>> {
        self.lan.run_until(limit, pred).map_err(lan_error)
    }

    fn start(&mut self, node: NodeId) -> io::Result<()> {
        self.tracks[node].started_at = Some(self.lan.now());
        let file = self.nodes[node].file.clone();
        self.lan.start(node, file).map_err(lan_error)
    }

    fn scenario(&mut self, out: &mut dyn Write) -> io::Result<DemoSummary> {
        self.header(out)?;
        let interval = self.interval();
        let limit = 4 * self.longest_adi() + 4 * interval;

        // 1. Election: the nodes start a quarter interval apart.
        section(out, "1. Election: the nodes start one after another")?;
        let stagger = interval / 4;
        for n in 0..self.nodes.len() {
            if n > 0 {
                self.run_for(stagger)?;
            }
            self.start(n)?;
        }
        let elected_at = self
            .run_until(limit, |l| actives(l).len() == 1)?
            .unwrap_or(self.lan.now());
        self.flush(out)?;
        let elected = self.actives().first().copied().unwrap_or(0);
        self.explain_election(out, elected, elected_at)?;
        self.run_for(2 * interval)?;
        self.flush(out)?;

        // 2. Kill the Active node at a random phase of its interval.
        let victim = self.actives().first().copied().unwrap_or(elected);
        let kill_at = self.at_phase(victim);
        section(
            out,
            &format!(
                "2. Kill the Active node ({}) without a goodbye",
                self.nodes[victim].name
            ),
        )?;
        self.run_for(kill_at - self.lan.now())?;
        self.flush(out)?;
        let last_advert = self.tracks[victim].last_advert.unwrap_or(kill_at);
        self.lan.kill(victim).map_err(lan_error)?;
        let took_over_at = self
            .run_until(limit, |l| !actives(l).is_empty())?
            .unwrap_or(self.lan.now());
        self.flush(out)?;
        let took_over = self.actives().first().copied().unwrap_or(victim);
        let takeover = took_over_at - kill_at;
        let bound = self.nodes[took_over].adi;
        if took_over_at == kill_at {
            note(
                out,
                took_over_at,
                &format!(
                    "{} was already Active: it had missed {}'s adverts (frames lost)",
                    self.nodes[took_over].name, self.nodes[victim].name
                ),
            )?;
        }
        note(
            out,
            took_over_at,
            &format!(
                "takeover: {} Active {} after the kill ({} killed {} after its last advert)",
                self.nodes[took_over].name,
                secs(takeover),
                self.nodes[victim].name,
                secs(kill_at - last_advert),
            ),
        )?;
        note(
            out,
            took_over_at,
            &format!(
                "bound: {}'s Active_Down_Interval = {}",
                self.nodes[took_over].name,
                self.nodes[took_over].adi_formula(),
            ),
        )?;
        if takeover + (kill_at - last_advert) == bound + DELAY {
            note(
                out,
                took_over_at,
                &format!(
                    "counted from the last advert heard: {} = {} - {} + {} link delay",
                    secs(takeover),
                    secs(bound),
                    secs(kill_at - last_advert),
                    millis(DELAY)
                ),
            )?;
        }
        self.run_for(3 * interval)?;
        self.flush(out)?;

        // 3. Bring the killed node back: failback if it is preferred.
        section(out, &format!("3. Bring {} back", self.nodes[victim].name))?;
        let restart_at = self.lan.now();
        self.start(victim)?;
        // A preferred host takes the role back within its Active_Down_Interval
        // (CARP: on the first advert it hears); watch well past that.
        let window = 2 * self.longest_adi() + interval;
        let failback_at = self.run_until(window, |l| actives(l) == [victim])?;
        self.flush(out)?;
        let failback = failback_at.map(|t| t - restart_at);
        self.explain_failback(out, victim, failback_at, took_over)?;
        self.run_for(2 * interval)?;
        self.flush(out)?;

        // 4. Graceful stop of the Active node: priority 0, Skew_Time.
        let leaving = self.actives().first().copied().unwrap_or(took_over);
        section(
            out,
            &format!(
                "4. Stop the Active node ({}) gracefully",
                self.nodes[leaving].name
            ),
        )?;
        let stop_at = self.at_phase(leaving);
        self.run_for(stop_at - self.lan.now())?;
        self.flush(out)?;
        self.lan.stop(leaving).map_err(lan_error)?;
        let resign_at = self
            .run_until(limit, |l| !actives(l).is_empty())?
            .unwrap_or(self.lan.now());
        self.flush(out)?;
        let resign_took_over = self.actives().first().copied().unwrap_or(leaving);
        let resign_takeover = resign_at - stop_at;
        let skew = self.nodes[resign_took_over].skew;
        let what = if matches!(self.opts.protocol, DemoProtocol::Carp) {
            "its going-down advert"
        } else {
            "priority 0"
        };
        note(
            out,
            resign_at,
            &format!(
                "takeover: {} Active {} after {} sent {what}, instead of a whole Active_Down_Interval",
                self.nodes[resign_took_over].name,
                secs(resign_takeover),
                self.nodes[leaving].name,
            ),
        )?;
        note(
            out,
            resign_at,
            &if matches!(self.opts.protocol, DemoProtocol::Carp) {
                format!(
                    "CARP has no Skew_Time: a Backup takes over as soon as it hears the \
                     going-down advert ({} link delay)",
                    millis(DELAY)
                )
            } else {
                format!(
                    "Skew_Time of {} = {} (plus {} link delay)",
                    self.nodes[resign_took_over].name,
                    self.nodes[resign_took_over].skew_formula(),
                    millis(DELAY),
                )
            },
        )?;
        self.run_for(2 * interval)?;
        self.flush(out)?;

        let summary = DemoSummary {
            elected: elected + 1,
            election: elected_at.since_origin(),
            killed: victim + 1,
            kill_phase: kill_at - last_advert,
            took_over: took_over + 1,
            takeover,
            bound,
            failback,
            stopped: leaving + 1,
            resign_took_over: resign_took_over + 1,
            resign_takeover,
            skew,
            adverts: self.lan.adverts_sent(),
            holders: self
                .lan
                .holders(IpAddr::V4(VIRTUAL))
                .into_iter()
                .map(|p| p + 1)
                .collect(),
            virtual_time: self.lan.now().since_origin(),
        };
        self.table(out, &summary)?;
        Ok(summary)
    }

    /// A time at a random phase (5 % to 95 %) of `node`'s advert interval,
    /// after its last advert and not before now.
    fn at_phase(&mut self, node: NodeId) -> Instant {
        let interval = self.interval();
        let phase = interval.mul_f64(0.05 + 0.9 * self.rng.unit());
        let now = self.lan.now();
        let mut at = self.tracks[node].last_advert.unwrap_or(now) + phase;
        while at <= now {
            at = at + interval;
        }
        at
    }

    fn header(&self, out: &mut dyn Write) -> io::Result<()> {
        let o = &self.opts;
        writeln!(
            out,
            "Tandem demo: {} nodes running {} on a SIMULATED LAN",
            self.nodes.len(),
            o.protocol.name()
        )?;
        writeln!(
            out,
            "  virtual clock (times below are protocol time, not wall-clock time); real tandem-wire"
        )?;
        writeln!(
            out,
            "  codecs and tandem-election state machines: every advert is encoded to bytes and decoded"
        )?;
        writeln!(
            out,
            "  by each receiver. No privileges, no packets leave this process."
        )?;
        writeln!(
            out,
            "  advert interval {}, preferred host {}, seed {}, loss {}%, one-way delay {}",
            secs(self.interval()),
            match o.preferred {
                DemoPreferred::First => "node-1",
                DemoPreferred::Second => "node-2",
                DemoPreferred::None => "none",
            },
            o.seed,
            o.loss,
            millis(DELAY),
        )?;
        writeln!(out, "  VRID {VRID}, virtual address {VIRTUAL}")?;
        writeln!(out)?;
        for n in &self.nodes {
            writeln!(
                out,
                "  {:<17} {}, preempt {:<4} Active_Down_Interval {}",
                n.label(),
                n.rank(),
                if n.config.preempt { "on," } else { "off," },
                n.adi_formula(),
            )?;
        }
        Ok(())
    }

    fn explain_election(
        &self,
        out: &mut dyn Write,
        elected: NodeId,
        at: Instant,
    ) -> io::Result<()> {
        note(
            out,
            at,
            &format!(
                "elected: {} ({}), whose Active_Down_Interval ran out first:",
                self.nodes[elected].name,
                self.nodes[elected].rank(),
            ),
        )?;
        for (n, t) in self.nodes.iter().zip(&self.tracks) {
            let start = t.started_at.unwrap_or(Instant::ZERO);
            note(
                out,
                at,
                &format!(
                    "  {} started at {} + {} = {}",
                    n.name,
                    secs(start.since_origin()),
                    secs(n.adi),
                    secs((start + n.adi).since_origin())
                ),
            )?;
        }
        note(
            out,
            at,
            "the others hear its adverts and stay Backup, restarting their down timers on each one",
        )
    }

    fn explain_failback(
        &self,
        out: &mut dyn Write,
        returned: NodeId,
        failback_at: Option<Instant>,
        holder: NodeId,
    ) -> io::Result<()> {
        let r = &self.nodes[returned];
        match failback_at {
            Some(at) => {
                let restart = self.tracks[returned].started_at.unwrap_or(at);
                note(
                    out,
                    at,
                    &format!(
                        "failback: {} Active again {} after its restart, as the preferred host \
                         ({}, preempt on)",
                        r.name,
                        secs(at - restart),
                        r.rank(),
                    ),
                )?;
                note(
                    out,
                    at,
                    if matches!(self.opts.protocol, DemoProtocol::Carp) {
                        "(a CARP Backup with preempt on takes over as soon as it hears an Active \
                         router that advertises less often)"
                    } else {
                        "(a Backup with preempt on discards adverts of lower priority, so its \
                         Active_Down_Interval runs out)"
                    },
                )
            }
            None => note(
                out,
                self.lan.now(),
                &format!(
                    "no failback: {} stays Backup and {} stays Active ({} vs {}; preempt {}): \
                     with no preferred host the role stays where it is",
                    r.name,
                    self.nodes[holder].name,
                    r.rank(),
                    self.nodes[holder].rank(),
                    if r.config.preempt { "on" } else { "off" },
                ),
            ),
        }
    }
}

mod nodes;
#[cfg(test)]
mod tests;
mod timeline;
