//! Two replicators on virtual time, joined by a seeded lossy link (loss,
//! duplication, reordering, delay, cuts) and restarted at will: the
//! harness of the session tests, the figures example and the benchmarks.
//! The clock jumps to the next deadline or delivery.
//!
//! ```
//! use std::time::Duration;
//! use tandem_replication::sim::{self, Sim};
//!
//! let mut s = Sim::new(7, sim::config(1), sim::config(2));
//! s.a.set_active(s.now, true);
//! for i in 0..100 {
//!     s.a.upsert_flow(s.now, sim::flow(i)).unwrap();
//! }
//! assert!(s.run_until(Duration::from_secs(5), |s| s.converged() && s.b.status().in_sync));
//! assert_eq!(s.b.mirror_flows(s.now).len(), 100);
//! ```

use std::collections::BinaryHeap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use tandem_time::Instant;

use crate::flow::{proto, status, Flow, Tuple};
use crate::seal::{KeyRing, Psk};
use crate::session::{Config, Event, Output, Replicator};

/// The cluster id of simulated pairs.
pub const CLUSTER: u16 = 42;

/// The pre-shared key of simulated pairs.
pub fn psk() -> Psk {
    Psk::from_bytes([0x5a; 32])
}

/// A configuration for node `node` of the simulated pair.
pub fn config(node: u8) -> Config {
    let keys = KeyRing::new(CLUSTER, &psk(), None).expect("a fixed valid key");
    Config::new(CLUSTER, node, keys)
}

/// An IPv4 TCP flow numbered `i`, destination-NATed to a real server.
pub fn flow(i: u32) -> Flow {
    let client = Ipv4Addr::from(0xc633_6400u32 | (i >> 16)); // 198.51.100.x
    let real = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10 + (i % 4) as u8));
    let original = Tuple {
        src: IpAddr::V4(client),
        dst: IpAddr::V4(Ipv4Addr::new(203, 0, 113, 1)),
        src_port: (i & 0xffff) as u16,
        dst_port: 443,
    };
    let mut f = Flow::untranslated(proto::TCP, original, 3, 600_000);
    f.reply = Tuple {
        src: real,
        dst: original.src,
        src_port: 8443,
        dst_port: original.src_port,
    };
    f.status = status::CONFIRMED | status::ASSURED | status::SEEN_REPLY | status::DST_NAT;
    f.backend = (i % 4) as u16;
    f
}

/// A seeded pseudo-random generator (SplitMix64).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9e37_79b9_7f4a_7c15)
    }

    /// The next 64 bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A value in `0..n` (0 if `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }

    /// `true` with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64 / ((1u64 << 53) as f64)) < p
    }
}

/// The link's faults, each direction alike.
#[derive(Debug, Clone, Copy)]
pub struct Link {
    /// Probability a datagram is lost.
    pub loss: f64,
    /// Probability a datagram is delivered twice.
    pub duplicate: f64,
    /// Fixed one-way delay.
    pub delay: Duration,
    /// Random extra delay, up to this (reorders datagrams).
    pub jitter: Duration,
    /// The link carries datagrams (a cut when `false`).
    pub up: bool,
}

impl Default for Link {
    fn default() -> Self {
        Link {
            loss: 0.0,
            duplicate: 0.0,
            delay: Duration::from_micros(200),
            jitter: Duration::ZERO,
            up: true,
        }
    }
}

/// Which unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Side {
    /// Unit a (node 1 by default).
    A,
    /// Unit b.
    B,
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct InFlight {
    at: std::cmp::Reverse<(Instant, u64)>,
    to: Side,
    datagram: Vec<u8>,
}

/// A frame filter: `false` drops the datagram (sent by `Side`).
pub type Tap = Box<dyn FnMut(Side, &[u8]) -> bool>;

/// Two replicators and the link between them.
pub struct Sim {
    /// Virtual now.
    pub now: Instant,
    /// Unit a.
    pub a: Replicator,
    /// Unit b.
    pub b: Replicator,
    /// The link.
    pub link: Link,
    /// The generator of link faults (and of restart boot ids).
    pub rng: Rng,
    /// Events of a, in order (bounded to the last 100,000).
    pub events_a: Vec<Event>,
    /// Events of b.
    pub events_b: Vec<Event>,
    /// Datagrams sent by a and by b, kept for replay tests when `capture`.
    pub captured: Vec<(Side, Vec<u8>)>,
    /// Keep sent datagrams in `captured` (up to 100,000).
    pub capture: bool,
    /// Drops chosen datagrams.
    pub tap: Option<Tap>,
    in_flight: BinaryHeap<InFlight>,
    order: u64,
    config_a: Config,
    config_b: Config,
}

impl std::fmt::Debug for Sim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sim")
            .field("now", &self.now)
            .field("in_flight", &self.in_flight.len())
            .finish()
    }
}

const EVENTS_KEPT: usize = 100_000;

impl Sim {
    /// Two fresh units with these configurations.
    pub fn new(seed: u64, a: Config, b: Config) -> Sim {
        let mut rng = Rng::new(seed);
        let now = Instant::from_millis(1_000);
        let ra = Replicator::new(a.clone(), rng.next_u64(), now);
        let rb = Replicator::new(b.clone(), rng.next_u64(), now);
        Sim {
            now,
            a: ra,
            b: rb,
            link: Link::default(),
            rng,
            events_a: Vec::new(),
            events_b: Vec::new(),
            captured: Vec::new(),
            capture: false,
            tap: None,
            in_flight: BinaryHeap::new(),
            order: 0,
            config_a: a,
            config_b: b,
        }
    }

    /// Replaces unit b with a fresh start (a new boot id, empty tables),
    /// as after a crash; its datagrams in flight still arrive.
    pub fn restart_b(&mut self) {
        let boot = self.rng.next_u64();
        self.b = Replicator::new(self.config_b.clone(), boot, self.now);
    }

    /// Replaces unit a with a fresh start.
    pub fn restart_a(&mut self) {
        let boot = self.rng.next_u64();
        self.a = Replicator::new(self.config_a.clone(), boot, self.now);
    }

    /// Injects a datagram to `to`, delivered now (replays, forgeries).
    pub fn inject(&mut self, to: Side, ttl: u8, datagram: &[u8]) {
        let now = self.now;
        match to {
            Side::A => self.a.handle_datagram(now, ttl, datagram),
            Side::B => self.b.handle_datagram(now, ttl, datagram),
        }
        self.drain();
    }

    fn drain(&mut self) {
        for side in [Side::A, Side::B] {
            loop {
                let o = match side {
                    Side::A => self.a.poll_output(),
                    Side::B => self.b.poll_output(),
                };
                match o {
                    None => break,
                    Some(Output::Event(e)) => {
                        let ev = match side {
                            Side::A => &mut self.events_a,
                            Side::B => &mut self.events_b,
                        };
                        if ev.len() >= EVENTS_KEPT {
                            ev.drain(..EVENTS_KEPT / 2);
                        }
                        ev.push(e);
                    }
                    Some(Output::Send(d)) => self.transmit(side, d),
                }
            }
        }
    }

    fn transmit(&mut self, from: Side, d: Vec<u8>) {
        if self.capture && self.captured.len() < EVENTS_KEPT {
            self.captured.push((from, d.clone()));
        }
        if let Some(tap) = self.tap.as_mut() {
            if !tap(from, &d) {
                return;
            }
        }
        if !self.link.up || self.rng.chance(self.link.loss) {
            return;
        }
        let to = match from {
            Side::A => Side::B,
            Side::B => Side::A,
        };
        let copies = if self.rng.chance(self.link.duplicate) {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let jitter = self.link.jitter.as_nanos() as u64;
            let extra = Duration::from_nanos(self.rng.below(jitter + 1));
            self.order += 1;
            self.in_flight.push(InFlight {
                at: std::cmp::Reverse((self.now + self.link.delay + extra, self.order)),
                to,
                datagram: d.clone(),
            });
        }
    }

    /// One step: the next delivery or deadline. `false` if nothing is
    /// scheduled before `limit`.
    pub fn step(&mut self, limit: Instant) -> bool {
        self.drain();
        let next_in = self.in_flight.peek().map(|f| f.at.0 .0);
        let next = [next_in, self.a.poll_timeout(), self.b.poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        let Some(t) = next else {
            return false;
        };
        if t > limit {
            return false;
        }
        self.now = self.now.max(t);
        let now = self.now;
        while self.in_flight.peek().is_some_and(|f| f.at.0 .0 <= now) {
            if let Some(f) = self.in_flight.pop() {
                match f.to {
                    Side::A => self.a.handle_datagram(now, 255, &f.datagram),
                    Side::B => self.b.handle_datagram(now, 255, &f.datagram),
                }
                self.drain();
            }
        }
        if self.a.poll_timeout().is_some_and(|t| t <= now) {
            self.a.handle_timeout(now);
        }
        if self.b.poll_timeout().is_some_and(|t| t <= now) {
            self.b.handle_timeout(now);
        }
        self.drain();
        true
    }

    /// Runs for `d` of virtual time.
    pub fn run_for(&mut self, d: Duration) {
        let limit = self.now + d;
        let mut steps = 0u64;
        while steps < 50_000_000 && self.step(limit) {
            steps += 1;
        }
        self.now = self.now.max(limit);
    }

    /// Runs until `done` holds (checked every 5 ms of virtual time), at
    /// most `max`; whether it held.
    pub fn run_until(&mut self, max: Duration, mut done: impl FnMut(&Sim) -> bool) -> bool {
        let end = self.now + max;
        while self.now < end {
            if done(self) {
                return true;
            }
            let limit = (self.now + Duration::from_millis(5)).min(end);
            let mut steps = 0u64;
            while steps < 10_000_000 && self.step(limit) {
                steps += 1;
            }
            self.now = self.now.max(limit);
        }
        done(self)
    }

    /// b's mirror holds exactly a's table (same flows, same state; the
    /// running lifetimes aside) and the digests agree.
    pub fn converged(&self) -> bool {
        mirrors(&self.a, &self.b, self.now)
    }
}

/// `backup`'s mirror is exactly `active`'s table, digests equal.
pub fn mirrors(active: &Replicator, backup: &Replicator, now: Instant) -> bool {
    if active.digests().0 != backup.digests().1
        || active.status().local_flows != backup.mirror().len()
    {
        return false;
    }
    let key = |f: &Flow| f.key();
    let mut local = active.local_flows();
    let mut mirror = backup.mirror_flows(now);
    if local.len() != mirror.len() || backup.mirror().len() != local.len() {
        return false;
    }
    local.sort_by_key(key);
    mirror.sort_by_key(key);
    if !local.iter().zip(&mirror).all(|(l, m)| l.same_state(m)) {
        return false;
    }
    active.digests().0 == backup.digests().1
}
