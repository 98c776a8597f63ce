//! Embedding tandem-election alone: the driver loop an appliance writes
//! around `VirtualRouter`, with two routers in two threads that exchange
//! real encoded adverts over a channel (standing in for the appliance's
//! network I/O), on the real monotonic clock. The host is simulated: it
//! prints what a real one would do (add and remove the virtual addresses,
//! send each gratuitous ARP of a burst) and keeps a table of which node
//! holds each virtual address on the segment, so no root is needed.
//!
//! What the loop must do, and does here:
//! - carry out every action, in order: adverts, addresses added *and
//!   removed*, and `Announce` as a burst of `repeat` frames `spacing`
//!   apart (the burst is a timer of the host; a burst still running when
//!   the addresses are removed stops);
//! - on shutdown, carry out the actions of `Command::Shutdown` too: the
//!   priority-0 advert and the removal of the addresses, or the address
//!   stays up beside the new Active router;
//! - hand the router a bounded batch of inputs per turn, then
//!   `handle_timeout`, so a flood of adverts cannot starve its timers;
//! - sleep until `poll_timeout` (or the next frame of a burst), also once
//!   the peer is gone (no spinning on a closed link).
//!
//! For a real appliance, embed the whole node instead: tandem-node's
//! `drive::start` runs this loop on Linux (raw sockets, netlink, packet
//! sockets) with a typed configuration builder, health input and events;
//! see docs/embedding.md and `cargo run -p tandem-node --example embed_node`.
//!
//! Run: `cargo run -p tandem-election --example embed`
//! Two routers (priorities 200 and 100, 100 ms interval) elect; the Active
//! one stops gracefully at 0.7 s and the other takes over after its skew
//! time; it stops at 1.5 s. The example exits non-zero if an address was
//! ever held by both nodes, or is still held by a stopped node.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant as StdInstant};

use tandem_election::{
    codec, Action, Announce, Command, Config, Instant, Protocol, Received, VirtualRouter,
};
use tandem_wire::{Centiseconds, Priority, Vrid};

/// Inputs handed to the router per turn of the loop, at most; the rest
/// wait for the next turn, after the timers have run.
const MAX_INPUTS_PER_TURN: usize = 16;

/// The segment as the simulated hosts see it: who holds each virtual
/// address, and whether two nodes ever held one at once.
#[derive(Default)]
struct Segment {
    holders: BTreeMap<IpAddr, Vec<&'static str>>,
    conflicts: u32,
}

/// A burst of gratuitous ARPs still to send.
struct Burst {
    addresses: Vec<IpAddr>,
    sent: u8,
    repeat: u8,
    spacing: Duration,
    next: Instant,
}

/// What an appliance's host does with the actions; here simulated.
struct SimHost {
    name: &'static str,
    me: IpAddr,
    t0: StdInstant,
    link: Sender<(IpAddr, Vec<u8>)>,
    segment: Arc<Mutex<Segment>>,
    bursts: Vec<Burst>,
}

impl SimHost {
    fn say(&self, what: std::fmt::Arguments<'_>) {
        println!("{:>7.1?} {}: {what}", self.t0.elapsed(), self.name);
    }

    /// Carries out one action.
    fn carry_out(&mut self, now: Instant, action: Action) {
        match action {
            Action::SendAdvert(adv) => {
                let Some(bytes) = codec::encode(&adv, self.me, codec::group_of(self.me)) else {
                    self.say(format_args!("advert does not encode; not sent"));
                    return;
                };
                // A closed link (the peer is gone) drops the advert, as a
                // network with nobody on it would.
                let _ = self.link.send((self.me, bytes));
            }
            Action::AddAddresses { addresses, .. } => {
                let mut seg = self.segment.lock().unwrap_or_else(|e| e.into_inner());
                for a in &addresses {
                    let h = seg.holders.entry(*a).or_default();
                    if !h.contains(&self.name) {
                        h.push(self.name);
                    }
                    if h.len() > 1 {
                        seg.conflicts += 1;
                    }
                }
                drop(seg);
                self.say(format_args!("ip addr add {}", list(&addresses)));
            }
            Action::RemoveAddresses(addresses) => {
                let mut seg = self.segment.lock().unwrap_or_else(|e| e.into_inner());
                for a in &addresses {
                    if let Some(h) = seg.holders.get_mut(a) {
                        h.retain(|n| *n != self.name);
                    }
                }
                drop(seg);
                // No more announcing addresses this node gave up.
                for b in &mut self.bursts {
                    b.addresses.retain(|a| !addresses.contains(a));
                }
                self.bursts.retain(|b| !b.addresses.is_empty());
                self.say(format_args!("ip addr del {}", list(&addresses)));
            }
            Action::Announce {
                addresses,
                repeat,
                spacing,
            } => {
                if repeat > 0 {
                    self.bursts.push(Burst {
                        addresses,
                        sent: 0,
                        repeat,
                        spacing,
                        next: now,
                    });
                }
            }
            Action::StateChanged { from, to, reason } => self.say(format_args!(
                "{} -> {} (reason={})",
                from.name(),
                to.name(),
                reason.name()
            )),
            Action::Diagnostic(_) => self.say(format_args!("diagnostic")),
        }
    }

    /// Sends the frames of every burst that are due.
    fn run_bursts(&mut self, now: Instant) {
        for i in 0..self.bursts.len() {
            while self.bursts[i].sent < self.bursts[i].repeat && self.bursts[i].next <= now {
                let b = &mut self.bursts[i];
                b.sent += 1;
                b.next = b.next + b.spacing;
                let (sent, repeat, addrs) = (b.sent, b.repeat, list(&b.addresses));
                self.say(format_args!("gratuitous ARP {addrs} ({sent}/{repeat})"));
            }
        }
        self.bursts.retain(|b| b.sent < b.repeat);
    }

    /// When the next frame of a burst is due.
    fn next_burst(&self) -> Option<Instant> {
        self.bursts.iter().map(|b| b.next).min()
    }
}

fn list(a: &[IpAddr]) -> String {
    a.iter()
        .map(IpAddr::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

/// One appliance node: its router, its simulated host, its link.
fn node(
    name: &'static str,
    addr: u8,
    priority: u8,
    rx: Receiver<(IpAddr, Vec<u8>)>,
    tx: Sender<(IpAddr, Vec<u8>)>,
    segment: Arc<Mutex<Segment>>,
    run_for: Duration,
) {
    let me = IpAddr::V4(Ipv4Addr::new(192, 0, 2, addr));
    let vip = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100));
    let mut config = Config::new(Vrid::new(7).expect("VRID"), me, vec![vip]);
    config.priority = Priority(priority);
    config.protocol = Protocol::vrrp3(Centiseconds(10));
    config.announce = Announce {
        repeat: 3,
        spacing: Duration::from_millis(50),
        refresh_after: None,
    };
    let t0 = StdInstant::now();
    // The appliance maps its monotonic clock onto the election's Instant.
    let now = || Instant::from_duration(t0.elapsed());
    let stop_at = Instant::from_duration(run_for);
    let mut host = SimHost {
        name,
        me,
        t0,
        link: tx,
        segment,
        bursts: Vec::new(),
    };
    let mut vr = match VirtualRouter::new(config, now(), &[]) {
        Ok(vr) => vr,
        Err(e) => {
            eprintln!("{name}: invalid configuration: {e}");
            return;
        }
    };
    vr.handle_command(now(), Command::Start);
    loop {
        // 1. Carry out every queued action, then the due burst frames.
        while let Some(action) = vr.poll_action() {
            host.carry_out(now(), action);
        }
        host.run_bursts(now());
        if now() >= stop_at {
            break;
        }
        // 2. Sleep until the router's next deadline, the next burst frame
        //    or the stop, unless an advert comes first.
        let wake = [vr.poll_timeout(), host.next_burst(), Some(stop_at)]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(stop_at);
        let wait = wake.saturating_since(now());
        let mut batch = Vec::new();
        match rx.recv_timeout(wait) {
            Ok(m) => {
                batch.push(m);
                // 3. At most a bounded batch per turn: the timers run next.
                while batch.len() < MAX_INPUTS_PER_TURN {
                    match rx.try_recv() {
                        Ok(m) => batch.push(m),
                        Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
                    }
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            // The peer is gone: nothing will come, so sleep to the deadline.
            Err(RecvTimeoutError::Disconnected) => std::thread::sleep(wait),
        }
        for (src, bytes) in batch {
            // A message that does not decode is dropped (a real host
            // counts it); the router never sees it.
            if let Ok(advert) = codec::decode(&bytes, src, codec::group_of(src)) {
                let received = Received {
                    src,
                    ttl: 255,
                    advert: &advert,
                };
                vr.handle_advert(now(), received);
            }
        }
        // 4. The timers, every turn: early or repeated calls are harmless.
        vr.handle_timeout(now());
    }
    // 5. Stop gracefully and carry out what that asks for: the priority-0
    //    advert (the partner takes over after its skew time, not after
    //    the master-down interval) and the removal of the addresses.
    vr.handle_command(now(), Command::Shutdown);
    while let Some(action) = vr.poll_action() {
        host.carry_out(now(), action);
    }
    host.say(format_args!("stopped"));
}

fn main() {
    let segment = Arc::new(Mutex::new(Segment::default()));
    let (a_tx, b_rx) = channel();
    let (b_tx, a_rx) = channel();
    let seg_a = segment.clone();
    let seg_b = segment.clone();
    let a = std::thread::spawn(move || {
        node(
            "node-a",
            1,
            200,
            a_rx,
            a_tx,
            seg_a,
            Duration::from_millis(700),
        )
    });
    let b = std::thread::spawn(move || {
        node(
            "node-b",
            2,
            100,
            b_rx,
            b_tx,
            seg_b,
            Duration::from_millis(1500),
        )
    });
    let ok_a = a.join().is_ok();
    let ok_b = b.join().is_ok();
    let seg = segment.lock().unwrap_or_else(|e| e.into_inner());
    let left: Vec<String> = seg
        .holders
        .iter()
        .filter(|(_, h)| !h.is_empty())
        .map(|(a, h)| format!("{a} on {}", h.join(", ")))
        .collect();
    println!(
        "segment: {} address(es) left up, {} conflict(s)",
        left.len(),
        seg.conflicts
    );
    if !ok_a || !ok_b || seg.conflicts > 0 || !left.is_empty() {
        eprintln!("wrong: {}", left.join("; "));
        std::process::exit(1);
    }
}
