//! A simulated LAN for several Nodes in one process, the host of
//! `tandemd demo`: each node has a port on the LAN, and each turn of a
//! node is one [`step`] of the driver's loop, the loop tandemd runs.
//!
//! - The clock is virtual and shared: it jumps to the earliest pending
//!   time across all nodes (a node's [`Node::poll_timeout`], an advert
//!   arriving, an input waiting), and the node due first takes its turn
//!   (ties in port order). A minute of protocol time runs in milliseconds.
//! - An [`Output::SendAdvert`] of one node becomes an [`Input::Advert`] for
//!   each other running node after the link delay (a unicast advert only
//!   for the port with that address), with the IP source, destination and
//!   TTL 255 a raw socket reports. Each receiver loses it with the link's
//!   loss probability, drawn from a seeded generator: the same seed and
//!   inputs give the same run.
//! - Added and removed addresses are tracked per port
//!   ([`Lan::holders`]); frames ([`Output::SendFrames`]), events and every
//!   other output except status publishes are recorded with their time
//!   ([`Lan::take_log`]); nothing leaves the process.
//! - [`Lan::kill`] drops a node without a shutdown (no goodbye; its
//!   addresses go with it), [`Lan::stop`] hands it [`Input::Shutdown`].
//!
//! ```
//! use std::time::Duration;
//! use tandem_node::config;
//! use tandem_node::drive::sim::{Lan, Link};
//!
//! let text = |p| format!(
//!     "[[instance]]\nname = \"web\"\ninterface = \"lan0\"\nvrid = 1\n\
//!      priority = {p}\naddresses = [\"192.0.2.100/24\"]\n");
//! let mut lan = Lan::new(1, Link::default());
//! let a = lan.add_port("192.0.2.1".parse().unwrap());
//! let b = lan.add_port("192.0.2.2".parse().unwrap());
//! lan.start(a, config::parse(&text(200)).unwrap()).unwrap();
//! lan.start(b, config::parse(&text(100)).unwrap()).unwrap();
//! lan.run_for(Duration::from_secs(10)).unwrap();
//! assert_eq!(lan.holders("192.0.2.100".parse().unwrap()), [a]);
//! ```

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, VecDeque};
use std::net::IpAddr;
use std::time::Duration;

use tandem_time::Instant;

use super::{step, DriveError, Host};
use crate::config::DaemonConfig;
use crate::node::{Input, InstanceHost, Node, NodeSettings, Output, Plan, SetUpDone};

/// A port (a node's place on the LAN), by index.
pub type PortId = usize;

/// Adverts in flight to one port at most; more are dropped and counted
/// ([`Lan::dropped`]).
pub const IN_FLIGHT_LIMIT: usize = 4096;

/// Inputs waiting for one node at most (configurations, set-up answers,
/// shutdowns); more are dropped and counted.
pub const INBOX_LIMIT: usize = 64;

/// Records not yet taken with [`Lan::take_log`] at most; more are dropped
/// and counted.
pub const LOG_LIMIT: usize = 1 << 16;

/// Turns at one instant at most before the LAN reports a node that never
/// lets its clock move on ([`LanError::Stuck`]).
const TURNS_PER_INSTANT: usize = 10_000;

/// How the LAN treats each advert.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Link {
    /// One-way delay.
    pub delay: Duration,
    /// Probability (0 to 1) that a receiver does not get an advert.
    pub loss: f64,
}

impl Default for Link {
    /// 0.1 ms, no loss.
    fn default() -> Link {
        Link {
            delay: Duration::from_micros(100),
            loss: 0.0,
        }
    }
}

/// What happened on a port.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Happened {
    /// A node was started on the port ([`Lan::start`]).
    Started,
    /// The node was killed: dropped without a shutdown ([`Lan::kill`]).
    Killed,
    /// The node was told to stop gracefully ([`Lan::stop`]).
    Stopping,
    /// The node asked its host for this (status publishes are not recorded).
    Output(Output),
}

/// One entry of the log.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// When (the virtual clock).
    pub at: Instant,
    /// Where.
    pub port: PortId,
    /// What.
    pub what: Happened,
}

/// Why the LAN cannot do what it was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LanError {
    /// No port has this index.
    #[error("port {0}: no such port on the simulated LAN")]
    NoSuchPort(PortId),
    /// The port's node is running: kill or stop it first.
    #[error("port {0}: a node is already running there")]
    Running(PortId),
    /// A node's loop ended with an error.
    #[error("port {port}: {source}")]
    Drive {
        /// The node's port.
        port: PortId,
        /// Why.
        #[source]
        source: DriveError,
    },
    /// A node asked for more than `TURNS_PER_INSTANT` turns at one
    /// instant without letting the clock move on.
    #[error("port {port}: the node keeps asking for turns at {at} without the clock moving on")]
    Stuck {
        /// The node's port.
        port: PortId,
        /// The instant.
        at: Instant,
    },
}

/// An advert on its way to a port.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Delivery {
    at: Instant,
    seq: u64,
    src: IpAddr,
    dst: IpAddr,
    bytes: Vec<u8>,
}

#[derive(Debug)]
struct Port {
    addr: IpAddr,
    carp_counter: u64,
    node: Option<Node>,
    /// A node runs (it may be out of `node` while it takes its turn).
    running: bool,
    inbox: VecDeque<Input>,
    in_flight: BinaryHeap<Reverse<Delivery>>,
    held: BTreeSet<IpAddr>,
    starts: Vec<Instant>,
}

/// The simulated LAN and its scheduler. See the [module documentation](self).
#[derive(Debug)]
pub struct Lan {
    now: Instant,
    link: Link,
    rng: SplitMix,
    ports: Vec<Port>,
    seq: u64,
    log: VecDeque<Record>,
    adverts_sent: u64,
    dropped: u64,
}

impl Lan {
    /// An empty LAN at time zero whose random choices come from `seed`.
    pub fn new(seed: u64, link: Link) -> Lan {
        Lan {
            now: Instant::ZERO,
            link,
            rng: SplitMix(seed),
            ports: Vec::new(),
            seq: 0,
            log: VecDeque::new(),
            adverts_sent: 0,
            dropped: 0,
        }
    }

    /// Adds a port whose interface address (the source of its node's
    /// adverts, unless an instance sets `source`) is `addr`.
    pub fn add_port(&mut self, addr: IpAddr) -> PortId {
        let carp_counter = self.rng.next().max(1);
        self.ports.push(Port {
            addr,
            carp_counter,
            node: None,
            running: false,
            inbox: VecDeque::new(),
            in_flight: BinaryHeap::new(),
            held: BTreeSet::new(),
            starts: Vec::new(),
        });
        self.ports.len() - 1
    }

    /// Starts a new Node on `port` with `config`, told how long ago its
    /// earlier starts on this port were (the restart guard). It sets up
    /// and starts at once, in turns at the current instant.
    pub fn start(&mut self, port: PortId, config: DaemonConfig) -> Result<(), LanError> {
        let now = self.now;
        let p = self.port_mut(port)?;
        if p.running {
            return Err(LanError::Running(port));
        }
        let settings = NodeSettings {
            recent_starts: p.starts.iter().rev().map(|s| now - *s).collect(),
            ..NodeSettings::default()
        };
        p.starts.push(now);
        p.node = Some(Node::new(settings));
        p.running = true;
        p.held.clear();
        p.inbox.clear();
        p.in_flight.clear();
        self.record(port, Happened::Started);
        self.deliver_input(
            port,
            Input::Configure {
                at: now,
                config: Box::new(config),
                reply: None,
            },
        );
        self.settle(port)
    }

    /// Kills the node on `port`: dropped at once, without a shutdown; it
    /// sends nothing more, and its addresses go with it.
    pub fn kill(&mut self, port: PortId) -> Result<(), LanError> {
        let p = self.port_mut(port)?;
        p.node = None;
        p.running = false;
        p.held.clear();
        p.inbox.clear();
        p.in_flight.clear();
        self.record(port, Happened::Killed);
        Ok(())
    }

    /// Tells the node on `port` to stop gracefully ([`Input::Shutdown`]),
    /// which it does at once, in a turn at the current instant.
    pub fn stop(&mut self, port: PortId) -> Result<(), LanError> {
        let at = self.now;
        self.port_mut(port)?;
        self.record(port, Happened::Stopping);
        self.deliver_input(port, Input::Shutdown { at });
        self.settle(port)
    }

    /// Hands the node on `port` an input stamped with the current instant,
    /// which it handles at once (dropped and counted if its inbox is full).
    pub fn input(&mut self, port: PortId, input: Input) -> Result<(), LanError> {
        self.port_mut(port)?;
        self.deliver_input(port, input);
        self.settle(port)
    }

    /// Gives the node on `port` turns until it has handled its inbox.
    fn settle(&mut self, port: PortId) -> Result<(), LanError> {
        let mut inputs = Vec::new();
        let mut turns = 0;
        while self.running(port) && !self.ports[port].inbox.is_empty() {
            turns += 1;
            if turns > TURNS_PER_INSTANT {
                return Err(LanError::Stuck { port, at: self.now });
            }
            self.turn(port, &mut inputs)?;
        }
        Ok(())
    }

    /// Runs until `d` of virtual time has passed.
    pub fn run_for(&mut self, d: Duration) -> Result<(), LanError> {
        let until = self.now + d;
        while self.advance(until)? {}
        self.now = self.now.max(until);
        Ok(())
    }

    /// Runs until `pred` holds (checked between instants) or `limit` of
    /// virtual time passes; the time it first held.
    pub fn run_until(
        &mut self,
        limit: Duration,
        mut pred: impl FnMut(&Lan) -> bool,
    ) -> Result<Option<Instant>, LanError> {
        let until = self.now + limit;
        loop {
            if pred(self) {
                return Ok(Some(self.now));
            }
            if !self.advance(until)? {
                self.now = self.now.max(until);
                return Ok(pred(self).then_some(self.now));
            }
        }
    }

    /// Moves the clock to the earliest pending time, if it is not after
    /// `until`, and gives every node due then its turns (in port order,
    /// again while one is still due at that instant). False if nothing is
    /// due by `until`.
    pub fn advance(&mut self, until: Instant) -> Result<bool, LanError> {
        let Some(next) = (0..self.ports.len()).filter_map(|i| self.due(i)).min() else {
            return Ok(false);
        };
        if next > until {
            return Ok(false);
        }
        let mut turns = 0;
        let mut inputs = Vec::new();
        loop {
            let mut any = false;
            for port in 0..self.ports.len() {
                if self.due(port).is_none_or(|t| t > next) {
                    continue;
                }
                any = true;
                turns += 1;
                if turns > TURNS_PER_INSTANT {
                    return Err(LanError::Stuck { port, at: self.now });
                }
                self.turn(port, &mut inputs)?;
            }
            if !any {
                return Ok(true);
            }
        }
    }

    /// One turn of the loop for the node on `port`.
    fn turn(&mut self, port: PortId, inputs: &mut Vec<Input>) -> Result<(), LanError> {
        let Some(mut node) = self.ports[port].node.take() else {
            return Ok(());
        };
        let go_on = step(&mut node, &mut PortHost { lan: self, port }, inputs)
            .map_err(|source| LanError::Drive { port, source })?;
        inputs.clear();
        let p = &mut self.ports[port];
        if go_on && p.running {
            p.node = Some(node);
        } else {
            p.running = false;
        }
        Ok(())
    }

    /// When the node on `port` is due for a turn, if it runs.
    fn due(&self, port: PortId) -> Option<Instant> {
        let p = &self.ports[port];
        let node = p.node.as_ref().filter(|_| p.running)?;
        if !p.inbox.is_empty() {
            return Some(self.now);
        }
        let arrival = p.in_flight.peek().map(|d| d.0.at);
        [node.poll_timeout(), arrival]
            .into_iter()
            .flatten()
            .min()
            .map(|t| t.max(self.now))
    }

    fn port_mut(&mut self, port: PortId) -> Result<&mut Port, LanError> {
        self.ports.get_mut(port).ok_or(LanError::NoSuchPort(port))
    }

    fn deliver_input(&mut self, port: PortId, input: Input) {
        let inbox = &mut self.ports[port].inbox;
        if inbox.len() >= INBOX_LIMIT {
            self.dropped += 1;
        } else {
            inbox.push_back(input);
        }
    }

    fn record(&mut self, port: PortId, what: Happened) {
        if self.log.len() >= LOG_LIMIT {
            self.dropped += 1;
            return;
        }
        self.log.push_back(Record {
            at: self.now,
            port,
            what,
        });
    }

    /// Puts an advert from `from` on the wire.
    fn send(&mut self, from: PortId, dst: IpAddr, bytes: &[u8]) {
        self.adverts_sent += 1;
        let src = self.ports[from].addr;
        let group = dst.is_multicast() || is_broadcast(dst);
        for to in 0..self.ports.len() {
            let p = &self.ports[to];
            if to == from || !p.running || !(group || p.addr == dst) {
                continue;
            }
            if self.rng.unit() < self.link.loss {
                continue;
            }
            if p.in_flight.len() >= IN_FLIGHT_LIMIT {
                self.dropped += 1;
                continue;
            }
            self.seq += 1;
            let delivery = Delivery {
                at: self.now + self.link.delay,
                seq: self.seq,
                src,
                dst,
                bytes: bytes.to_vec(),
            };
            self.ports[to].in_flight.push(Reverse(delivery));
        }
    }

    /// What the host set up for each instance `plan` starts on `port`: the
    /// LAN's one socket and interface, the port's address and MAC.
    fn set_up(&self, port: PortId, plan: &Plan) -> SetUpDone {
        let p = &self.ports[port];
        let hosts = plan
            .starting()
            .map(|cfg| InstanceHost {
                socket: 0,
                ifindex: 1,
                announce_interface: cfg.interface.clone(),
                mac: [0x02, 0, 0, 0, (port >> 8) as u8, port as u8],
                macvlan: None,
                primary: cfg.source.unwrap_or(p.addr),
                carp_counter: p.carp_counter,
            })
            .collect();
        SetUpDone {
            hosts,
            links_down: Vec::new(),
        }
    }

    // ----- observations ----------------------------------------------------

    /// The virtual time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// The node running on `port`, if any.
    pub fn node(&self, port: PortId) -> Option<&Node> {
        let p = self.ports.get(port)?;
        p.node.as_ref().filter(|_| p.running)
    }

    /// Whether a node runs on `port`.
    pub fn running(&self, port: PortId) -> bool {
        self.node(port).is_some()
    }

    /// The interface address of `port`.
    pub fn addr(&self, port: PortId) -> Option<IpAddr> {
        self.ports.get(port).map(|p| p.addr)
    }

    /// The ports whose node holds `addr` (added and not removed since).
    pub fn holders(&self, addr: IpAddr) -> Vec<PortId> {
        (0..self.ports.len())
            .filter(|p| self.ports[*p].held.contains(&addr))
            .collect()
    }

    /// Adverts put on the wire by all nodes.
    pub fn adverts_sent(&self) -> u64 {
        self.adverts_sent
    }

    /// Adverts, inputs and log records dropped because their queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The log since the last call, in time order.
    pub fn take_log(&mut self) -> Vec<Record> {
        self.log.drain(..).collect()
    }

    /// The number of ports.
    pub fn len(&self) -> usize {
        self.ports.len()
    }

    /// True without ports.
    pub fn is_empty(&self) -> bool {
        self.ports.is_empty()
    }
}

fn is_broadcast(a: IpAddr) -> bool {
    matches!(a, IpAddr::V4(v) if v.is_broadcast())
}

/// A port's host for one turn of its node.
struct PortHost<'a> {
    lan: &'a mut Lan,
    port: PortId,
}

impl Host for PortHost<'_> {
    fn now(&mut self) -> Instant {
        self.lan.now
    }

    fn wait(&mut self, deadline: Option<Instant>, inputs: &mut Vec<Input>) {
        let (lan, port) = (&mut *self.lan, self.port);
        if !lan.ports[port].inbox.is_empty() {
            inputs.extend(lan.ports[port].inbox.drain(..));
        } else {
            let arrival = lan.ports[port].in_flight.peek().map(|d| d.0.at);
            if let Some(t) = [deadline, arrival].into_iter().flatten().min() {
                lan.now = lan.now.max(t);
            }
        }
        let now = lan.now;
        let p = &mut lan.ports[port];
        while p.in_flight.peek().is_some_and(|d| d.0.at <= now) {
            let Some(Reverse(d)) = p.in_flight.pop() else {
                break;
            };
            inputs.push(Input::Advert {
                at: d.at,
                socket: 0,
                src: d.src,
                dst: d.dst,
                ttl: 255,
                bytes: d.bytes,
            });
        }
    }

    fn carry_out(&mut self, output: Output) -> Result<bool, DriveError> {
        let (lan, port) = (&mut *self.lan, self.port);
        let mut go_on = true;
        match &output {
            Output::PublishStatus(_) => return Ok(true),
            Output::SendAdvert { dst, bytes, .. } => lan.send(port, *dst, bytes),
            Output::AddAddresses { addresses, .. } => {
                lan.ports[port]
                    .held
                    .extend(addresses.iter().map(|(a, _)| *a));
            }
            Output::RemoveAddresses { addresses, .. } => {
                for (a, _) in addresses {
                    lan.ports[port].held.remove(a);
                }
            }
            Output::SetUp(plan) => {
                let done = lan.set_up(port, plan);
                let at = lan.now;
                lan.deliver_input(
                    port,
                    Input::SetUp {
                        at,
                        plan: plan.clone(),
                        result: Ok(done),
                    },
                );
            }
            Output::Stopped => {
                lan.ports[port].running = false;
                go_on = false;
            }
            _ => {}
        }
        lan.record(port, Happened::Output(output));
        Ok(go_on)
    }
}

/// The LAN's seeded generator (SplitMix64).
#[derive(Debug, Clone)]
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests;
