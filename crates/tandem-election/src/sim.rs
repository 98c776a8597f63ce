//! A simulated LAN: N nodes on a virtual clock, each running its virtual
//! routers (as one sync group) through the real `tandem-wire` codecs, with
//! configurable delay, jitter, loss, duplication and partitions that heal.
//! Seeded, so every run with the same seed and inputs is the same run.
//!
//! The clock jumps from one deadline to the next (a node's timer or a
//! packet's arrival), so minutes of protocol time run in milliseconds.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tandem_wire::{vrrp2, Priority, Vrid};

pub use crate::Instant;
use crate::{
    Action, Advert, Command, Config, Diagnostic, Protocol, Reason, Received, State, SyncGroup,
    VirtualRouter,
};

/// A node's index on the LAN.
pub type NodeId = usize;

/// What runs on one node: its virtual routers, changing state together
/// when there are several (a sync group).
#[derive(Debug, Clone)]
pub struct NodeSpec {
    /// One configuration per virtual router.
    pub routers: Vec<Config>,
    /// Times of earlier starts, for the restart guard (as `ago` durations
    /// at the next start).
    pub recent_starts: Vec<Duration>,
}

impl NodeSpec {
    /// Node `n` (address 192.0.2.n) with one VRRPv3 router, VRID 1,
    /// virtual address 192.0.2.100, interval 1 s, the given priority.
    pub fn vrrp3(n: u8, priority: u8) -> NodeSpec {
        let mut c = Config::new(
            vrid(1),
            node_addr(n),
            vec![IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100))],
        );
        c.priority = Priority(priority);
        NodeSpec {
            routers: vec![c],
            recent_starts: Vec::new(),
        }
    }

    /// Node `n` with one VRRPv2 router, VRID 1, 1 s, the given priority.
    pub fn vrrp2(n: u8, priority: u8) -> NodeSpec {
        let mut s = NodeSpec::vrrp3(n, priority);
        s.routers[0].protocol = Protocol::Vrrp2 {
            interval: tandem_wire::Seconds(1),
            auth: vrrp2::Auth::None,
        };
        s
    }

    /// Node `n` with one CARP router, VHID 1, advbase 1, the given
    /// advskew, password "sim", preempt on.
    pub fn carp(n: u8, advskew: u8) -> NodeSpec {
        let mut s = NodeSpec::vrrp3(n, 100);
        s.routers[0].protocol = Protocol::Carp {
            advbase: 1,
            advskew,
            password: b"sim".to_vec(),
        };
        s.routers[0].carp_counter = 0x5eed_0000_0000_0000 | u64::from(n);
        s
    }

    /// A node running the given routers (a sync group if several).
    pub fn routers(routers: Vec<Config>) -> NodeSpec {
        NodeSpec {
            routers,
            recent_starts: Vec::new(),
        }
    }

    /// Changes every router's configuration with `f`.
    pub fn with(mut self, f: impl Fn(&mut Config)) -> NodeSpec {
        self.routers.iter_mut().for_each(f);
        self
    }
}

/// The address of node `n`: 192.0.2.n.
pub fn node_addr(n: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, n))
}

fn vrid(v: u8) -> Vrid {
    Vrid::new(v).unwrap_or(Vrid::new(1).expect("1 is a VRID"))
}

/// How the LAN treats each frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkModel {
    /// Fixed one-way delay.
    pub delay: Duration,
    /// Extra delay drawn uniformly from `0..jitter`.
    pub jitter: Duration,
    /// Probability a frame is lost, per receiver.
    pub loss: f64,
    /// Probability a frame arrives twice, per receiver.
    pub duplicate: f64,
}

impl Default for LinkModel {
    fn default() -> LinkModel {
        LinkModel {
            delay: Duration::from_micros(100),
            jitter: Duration::ZERO,
            loss: 0.0,
            duplicate: 0.0,
        }
    }
}

/// What happened, for timelines and assertions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// A router changed state.
    State {
        /// VRID.
        vrid: u8,
        /// From.
        from: State,
        /// To.
        to: State,
        /// Why.
        reason: Reason,
    },
    /// A router reported something.
    Diagnostic(Diagnostic),
    /// A router sent an advert.
    Sent {
        /// VRID.
        vrid: u8,
        /// Its priority (CARP: 255 - advskew).
        priority: u8,
    },
    /// Gratuitous ARPs / unsolicited NAs went out.
    Announced {
        /// How many addresses.
        addresses: usize,
    },
    /// The node was killed (no goodbye).
    Killed,
    /// The node was stopped gracefully.
    Stopped,
    /// The node was started.
    Started,
}

/// One entry of the timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// When.
    pub at: Instant,
    /// Which node.
    pub node: NodeId,
    /// What.
    pub kind: EventKind,
}

#[derive(Debug)]
struct Node {
    spec: NodeSpec,
    group: Option<SyncGroup>,
    alive: bool,
    held: BTreeSet<IpAddr>,
    starts: Vec<Instant>,
    partition: u32,
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Delivery {
    at: Instant,
    seq: u64,
    to: NodeId,
    src: IpAddr,
    bytes: Vec<u8>,
}

/// The simulated LAN.
#[derive(Debug)]
pub struct Lan {
    now: Instant,
    rng: SmallRng,
    link: LinkModel,
    nodes: Vec<Node>,
    in_flight: BinaryHeap<Reverse<Delivery>>,
    seq: u64,
    events: Vec<Event>,
    /// Frames sent and delivered, for rates.
    pub frames_sent: u64,
    delivered: Option<Vec<Delivered>>,
}

/// An advert handed to a running node (recorded after
/// [`Lan::record_deliveries`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    /// When.
    pub at: Instant,
    /// The sender's address.
    pub src: IpAddr,
    /// The receiving node.
    pub to: NodeId,
}

impl Lan {
    /// An empty LAN whose random choices come from `seed`.
    pub fn new(seed: u64) -> Lan {
        Lan {
            now: Instant::ZERO,
            rng: SmallRng::seed_from_u64(seed),
            link: LinkModel::default(),
            nodes: Vec::new(),
            in_flight: BinaryHeap::new(),
            seq: 0,
            events: Vec::new(),
            frames_sent: 0,
            delivered: None,
        }
    }

    /// Sets the link model from now on.
    pub fn set_link(&mut self, link: LinkModel) {
        self.link = link;
    }

    /// Adds a node (not started).
    pub fn add(&mut self, spec: NodeSpec) -> NodeId {
        self.nodes.push(Node {
            spec,
            group: None,
            alive: false,
            held: BTreeSet::new(),
            starts: Vec::new(),
            partition: 0,
        });
        self.nodes.len() - 1
    }

    /// The virtual time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Starts (or restarts) a node: new routers from its configuration,
    /// told how long ago its earlier starts were.
    ///
    /// # Panics
    /// If a configuration is invalid (a bug in the test that built it).
    pub fn start(&mut self, node: NodeId) {
        let now = self.now;
        let n = &mut self.nodes[node];
        let ago: Vec<Duration> = n
            .starts
            .iter()
            .map(|s| now - *s)
            .chain(n.spec.recent_starts.iter().copied())
            .collect();
        let routers = n
            .spec
            .routers
            .iter()
            .map(|c| {
                VirtualRouter::new(c.clone(), now, &ago).expect("valid simulated configuration")
            })
            .collect();
        n.starts.push(now);
        n.alive = true;
        n.held.clear();
        let mut g = SyncGroup::new(routers);
        g.handle_command(now, None, Command::Start);
        n.group = Some(g);
        self.events.push(Event {
            at: now,
            node,
            kind: EventKind::Started,
        });
        self.drain(node);
    }

    /// Starts every node at the current time.
    pub fn start_all(&mut self) {
        (0..self.nodes.len()).for_each(|n| self.start(n));
    }

    /// Kills a node: it stops at once, sends nothing more, holds nothing.
    pub fn kill(&mut self, node: NodeId) {
        let n = &mut self.nodes[node];
        n.alive = false;
        n.group = None;
        n.held.clear();
        self.events.push(Event {
            at: self.now,
            node,
            kind: EventKind::Killed,
        });
    }

    /// Stops a node gracefully (priority 0 / CARP's going-down advert).
    pub fn stop(&mut self, node: NodeId) {
        self.command(node, None, Command::Shutdown);
        self.events.push(Event {
            at: self.now,
            node,
            kind: EventKind::Stopped,
        });
        let n = &mut self.nodes[node];
        n.alive = false;
        n.group = None;
    }

    /// Gives a command to a node's router `member` (or all of them).
    pub fn command(&mut self, node: NodeId, member: Option<usize>, cmd: Command) {
        let now = self.now;
        if let Some(g) = self.nodes[node].group.as_mut() {
            g.handle_command(now, member, cmd);
        }
        self.drain(node);
    }

    /// Splits the LAN: nodes in different sets no longer hear each other.
    /// Nodes not listed stay in set 0 with the first.
    pub fn partition(&mut self, sets: &[&[NodeId]]) {
        for (i, set) in sets.iter().enumerate() {
            for n in *set {
                self.nodes[*n].partition = i as u32;
            }
        }
    }

    /// Heals every partition.
    pub fn heal(&mut self) {
        self.nodes.iter_mut().for_each(|n| n.partition = 0);
    }

    /// Runs until `d` of virtual time has passed.
    pub fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        while self.step(until) {}
        self.now = self.now.max(until);
    }

    /// Runs until `pred` holds or `limit` of virtual time passes; returns
    /// the time it first held.
    pub fn run_until(
        &mut self,
        limit: Duration,
        mut pred: impl FnMut(&Lan) -> bool,
    ) -> Option<Instant> {
        let until = self.now + limit;
        loop {
            if pred(self) {
                return Some(self.now);
            }
            if !self.step(until) {
                self.now = self.now.max(until);
                return pred(self).then_some(self.now);
            }
        }
    }

    /// Processes the next event at or before `until`; false if none.
    fn step(&mut self, until: Instant) -> bool {
        let next_timer = self
            .nodes
            .iter()
            .filter(|n| n.alive)
            .filter_map(|n| n.group.as_ref().and_then(SyncGroup::poll_timeout))
            .min();
        let next_packet = self.in_flight.peek().map(|d| d.0.at);
        let next = match (next_timer, next_packet) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => match a.or(b) {
                Some(t) => t,
                None => return false,
            },
        };
        if next > until {
            return false;
        }
        self.now = self.now.max(next);
        let now = self.now;
        while self.in_flight.peek().is_some_and(|d| d.0.at <= now) {
            let Some(Reverse(d)) = self.in_flight.pop() else {
                break;
            };
            self.deliver(d);
        }
        for i in 0..self.nodes.len() {
            let due = self.nodes[i].alive
                && self.nodes[i]
                    .group
                    .as_ref()
                    .and_then(SyncGroup::poll_timeout)
                    .is_some_and(|t| t <= now);
            if due {
                if let Some(g) = self.nodes[i].group.as_mut() {
                    g.handle_timeout(now);
                }
                self.drain(i);
            }
        }
        true
    }

    fn deliver(&mut self, d: Delivery) {
        let now = self.now;
        let node = &mut self.nodes[d.to];
        let Some(g) = node.group.as_mut() else { return };
        if !node.alive {
            return;
        }
        // Receive through the real decoders, as tandemd does.
        let Some(advert) = decode(&d.bytes, d.src) else {
            return;
        };
        if let Some(log) = self.delivered.as_mut() {
            log.push(Delivered {
                at: now,
                src: d.src,
                to: d.to,
            });
        }
        g.handle_advert(
            now,
            Received {
                src: d.src,
                ttl: 255,
                advert: &advert,
            },
        );
        self.drain(d.to);
    }

    fn drain(&mut self, node: NodeId) {
        let now = self.now;
        let mut out = Vec::new();
        if let Some(g) = self.nodes[node].group.as_mut() {
            while let Some((m, a)) = g.poll_action() {
                let vrid = g.members()[m].config().vrid.get();
                let src = g.members()[m].config().primary_address;
                out.push((vrid, src, a));
            }
        }
        for (vrid, src, a) in out {
            let kind = match a {
                Action::SendAdvert(adv) => {
                    let priority = match &adv {
                        Advert::Vrrp3 { repr, .. } => repr.priority.0,
                        Advert::Vrrp2(r) => r.priority.0,
                        Advert::Carp { repr, .. } => 255 - repr.advskew,
                    };
                    self.send(node, src, &adv);
                    EventKind::Sent { vrid, priority }
                }
                Action::AddAddresses { addresses, .. } => {
                    self.nodes[node].held.extend(addresses);
                    continue;
                }
                Action::RemoveAddresses(addresses) => {
                    addresses.iter().for_each(|a| {
                        self.nodes[node].held.remove(a);
                    });
                    continue;
                }
                Action::Announce { addresses, .. } => EventKind::Announced {
                    addresses: addresses.len(),
                },
                Action::StateChanged { from, to, reason } => EventKind::State {
                    vrid,
                    from,
                    to,
                    reason,
                },
                Action::Diagnostic(d) => EventKind::Diagnostic(d),
            };
            self.events.push(Event {
                at: now,
                node,
                kind,
            });
        }
    }

    fn send(&mut self, from: NodeId, src: IpAddr, adv: &Advert) {
        let Some(bytes) = encode(adv, src) else {
            return;
        };
        self.frames_sent += 1;
        for to in 0..self.nodes.len() {
            if to == from
                || !self.nodes[to].alive
                || self.nodes[to].partition != self.nodes[from].partition
            {
                continue;
            }
            let copies = if self.rng.random::<f64>() < self.link.loss {
                0
            } else if self.rng.random::<f64>() < self.link.duplicate {
                2
            } else {
                1
            };
            for _ in 0..copies {
                let jitter = if self.link.jitter.is_zero() {
                    Duration::ZERO
                } else {
                    self.link.jitter.mul_f64(self.rng.random::<f64>())
                };
                self.seq += 1;
                let at = self.now + self.link.delay + jitter;
                self.in_flight.push(Reverse(Delivery {
                    at,
                    seq: self.seq,
                    to,
                    src,
                    bytes: bytes.clone(),
                }));
            }
        }
    }

    // ----- observations --------------------------------------------------

    /// The state of router `member` on `node` (Initialize when not running).
    pub fn state(&self, node: NodeId, member: usize) -> State {
        self.nodes[node]
            .group
            .as_ref()
            .and_then(|g| g.members().get(member).map(VirtualRouter::state))
            .unwrap_or(State::Initialize)
    }

    /// The router `member` on `node`, when running.
    pub fn router(&self, node: NodeId, member: usize) -> Option<&VirtualRouter> {
        self.nodes[node]
            .group
            .as_ref()
            .and_then(|g| g.members().get(member))
    }

    /// The sync group of `node`'s routers, when running.
    pub fn group(&self, node: NodeId) -> Option<&SyncGroup> {
        self.nodes[node].group.as_ref()
    }

    /// Running nodes whose router with `vrid` is Active.
    pub fn actives(&self, vrid: u8) -> Vec<NodeId> {
        (0..self.nodes.len())
            .filter(|n| {
                self.nodes[*n].group.as_ref().is_some_and(|g| {
                    g.members()
                        .iter()
                        .any(|m| m.config().vrid.get() == vrid && m.state() == State::Active)
                })
            })
            .collect()
    }

    /// Nodes holding `addr`.
    pub fn holders(&self, addr: IpAddr) -> Vec<NodeId> {
        (0..self.nodes.len())
            .filter(|n| self.nodes[*n].held.contains(&addr))
            .collect()
    }

    /// Whether the node runs.
    pub fn alive(&self, node: NodeId) -> bool {
        self.nodes[node].alive
    }

    /// Records every advert handed to a running node from now on.
    pub fn record_deliveries(&mut self) {
        self.delivered.get_or_insert_with(Vec::new);
    }

    /// The adverts recorded since [`Lan::record_deliveries`].
    pub fn delivered(&self) -> &[Delivered] {
        self.delivered.as_deref().unwrap_or_default()
    }

    /// The timeline so far.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// The number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True without nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
}

/// Encodes an advert as the IP payload a router sends from `src` to its group.
pub fn encode(adv: &Advert, src: IpAddr) -> Option<Vec<u8>> {
    crate::codec::encode(adv, src, crate::codec::group_of(src))
}

/// Decodes an IP payload received from `src` on the group; `None` for
/// anything malformed.
pub fn decode(bytes: &[u8], src: IpAddr) -> Option<Advert> {
    crate::codec::decode(bytes, src, crate::codec::group_of(src)).ok()
}
