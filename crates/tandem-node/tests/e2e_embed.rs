//! End-to-end tests of the whole node embedded in a process
//! (`config::Builder`, `drive::start`, `NodeHandle`), in network
//! namespaces, against `tandemd run` on the other node of the lab.
//!
//! The embedded node runs in this test process: a thread enters node a's
//! namespace (`setns`) and calls `drive::start` there, so the node's loop
//! and every socket it opens live in that namespace; the test itself keeps
//! running in the host's. They need root, `ip`, `bridge` and `tcpdump`;
//! without them they return early saying why, except under `CI=true`,
//! where they fail. docs/testing.md lists them; tests/e2e/lab.rs builds
//! the namespaces.

#[path = "e2e/lab.rs"]
#[allow(dead_code)]
mod lab;

use std::fs::File;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use lab::{wait_for, Lab, Pid};
use tandem_election::{State, TrackEffect};
use tandem_node::config::{Builder, DaemonConfig, InstanceBuilder};
use tandem_node::control::api::ControlReply;
use tandem_node::decode::{Advert, Options as DecodeOptions};
use tandem_node::drive::{self, HandleEvent, NodeHandle, Options};
use tandem_node::node::{EventKind, TrackState};

const WEB_VIP: &str = "192.0.2.100";
const DB_VIP: &str = "192.0.2.101";

/// The advert interval of both instances, seconds.
const INTERVAL_S: f64 = 1.0;

/// What scheduling on two busy cores may add to a protocol's own bound.
const MARGIN: Duration = Duration::from_millis(1500);

/// Generous bound for a first election or a preemption (not measured).
const SETTLE: Duration = Duration::from_secs(15);

/// Skew_Time of a VRRPv3 Backup.
fn skew(priority: u8) -> Duration {
    Duration::from_secs_f64(f64::from(256 - u16::from(priority)) * INTERVAL_S / 256.0)
}

/// Master_Down_Interval of a VRRPv3 Backup: 3 intervals + skew.
fn down_interval(priority: u8) -> Duration {
    Duration::from_secs_f64(3.0 * INTERVAL_S) + skew(priority)
}

/// tandemd on node b: the same two instances at priority 100.
fn peer_toml() -> String {
    let inst = |name: &str, vrid: u8, vip: &str| {
        format!(
            "[[instance]]\nname = \"{name}\"\ninterface = \"eth0\"\nvrid = {vrid}\n\
             priority = 100\naddresses = [\"{vip}/24\"]\ninterval = {INTERVAL_S}\n\n"
        )
    };
    inst("web", 51, WEB_VIP) + &inst("db", 52, DB_VIP)
}

fn start_peer(lab: &mut Lab) -> Pid {
    let conf = lab.write("peer.toml", &peer_toml());
    lab.tandemd(1, "tandemd-b", &["--config", conf.to_str().unwrap()])
}

/// The embedded node's configuration, from the builder: "web" tracks
/// the backend (weight 150) and the disk (Fault); "db" tracks nothing.
fn config(lab: &Lab, web_priority: u8) -> DaemonConfig {
    let state = lab.state_dir(0);
    Builder::new()
        .instance(
            InstanceBuilder::vrrp3("eth0", 51)
                .name("web")
                .priority(web_priority)
                .address(WEB_VIP.parse().unwrap(), 24)
                .interval(Duration::from_secs_f64(INTERVAL_S))
                .track("backend", TrackEffect::Weight(150))
                .track("disk", TrackEffect::Fault),
        )
        .instance(
            InstanceBuilder::vrrp3("eth0", 52)
                .name("db")
                .priority(200)
                .address(DB_VIP.parse().unwrap(), 24)
                .interval(Duration::from_secs_f64(INTERVAL_S)),
        )
        .control_socket(state.join("embedded.sock"))
        .state_dir(state)
        .build()
        .expect("a valid configuration")
}

/// Enters the network namespace `ns` (`ip netns add` names it) on the
/// calling thread; threads it starts afterwards are in it too.
#[allow(unsafe_code)]
fn enter_netns(ns: &str) -> std::io::Result<()> {
    let f = File::open(format!("/var/run/netns/{ns}"))?;
    // SAFETY: setns takes a file descriptor, open for the call's length,
    // and a namespace type; it touches no memory of this process.
    let r = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Starts the embedded node inside node a's namespace: signals, control
/// socket and health port off, as an appliance would.
fn start_embedded(lab: &Lab, config: DaemonConfig) -> NodeHandle {
    let ns = lab.node(0).ns.clone();
    let started = std::thread::spawn(move || {
        enter_netns(&ns).map_err(|e| format!("setns {ns}: {e}"))?;
        drive::start(
            config,
            Options {
                events: 1024,
                ..Options::default()
            },
        )
        .map_err(|e| e.to_string())
    })
    .join()
    .expect("the starting thread");
    started.unwrap_or_else(|e| panic!("drive::start: {e}; {}", lab.report()))
}

/// Every event read so far, and the channel.
struct Events {
    rx: Receiver<HandleEvent>,
    seen: Vec<EventKind>,
}

impl Events {
    fn new(node: &NodeHandle) -> Events {
        Events {
            rx: node.events().expect("an event channel").clone(),
            seen: Vec::new(),
        }
    }

    /// Reads events until one passes `want` (returned), or panics after
    /// `timeout` with what was seen.
    fn until(&mut self, timeout: Duration, want: impl Fn(&EventKind) -> bool) -> EventKind {
        let end = Instant::now() + timeout;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(HandleEvent::Event(e)) => {
                    self.seen.push(e.kind.clone());
                    if want(&e.kind) {
                        return e.kind;
                    }
                }
                Ok(HandleEvent::Missed(n)) => panic!("{n} events missed"),
                Err(_) => panic!("no such event within {timeout:?}; seen: {:?}", self.names()),
            }
        }
    }

    /// The state change of `instance` to `to`.
    fn state(&mut self, timeout: Duration, instance: &str, to: State) -> EventKind {
        self.until(timeout, |k| is_state(k, instance, to))
    }

    /// Drains what has arrived, without waiting.
    fn drain(&mut self) {
        while let Ok(ev) = self.rx.try_recv() {
            if let HandleEvent::Event(e) = ev {
                self.seen.push(e.kind);
            }
        }
    }

    fn names(&self) -> Vec<String> {
        self.seen.iter().map(describe).collect()
    }
}

fn is_state(k: &EventKind, instance: &str, want: State) -> bool {
    matches!(k, EventKind::State { instance: i, to, .. } if i == instance && *to == want)
}

fn describe(k: &EventKind) -> String {
    match k {
        EventKind::State {
            instance,
            from,
            to,
            reason,
            ..
        } => format!(
            "{} {instance} {}->{} {}",
            k.name(),
            from.name(),
            to.name(),
            reason.name()
        ),
        other => other.name().to_string(),
    }
}

fn web_priority(node: &NodeHandle) -> Option<u8> {
    node.status()
        .instances
        .iter()
        .find(|i| i.name == "web")
        .map(|i| i.priority)
}

/// The first transitions reach the event channel; a health check's Down
/// lowers the priority by the weight (200 - 150 = 50 < 100: the peer takes
/// over) or puts the instance in Fault (the peer takes over), Up undoes
/// it; shutdown sends priority 0 and removes the addresses, and the peer
/// takes over within its skew time, well under Master_Down_Interval.
#[test]
fn embedded_node_events_health_input_and_graceful_shutdown() {
    let Some(mut lab) = Lab::new("embed", 2, &[]) else {
        return;
    };
    let peer = start_peer(&mut lab);
    lab.wait_only(1, WEB_VIP, &[], SETTLE);
    let node = start_embedded(&lab, config(&lab, 200));
    let mut events = Events::new(&node);

    // The first transitions, in order, from the channel.
    let first = events.until(
        SETTLE,
        |k| matches!(k, EventKind::State { instance, .. } if instance == "web"),
    );
    assert!(
        matches!(
            &first,
            EventKind::State {
                from: State::Initialize,
                to: State::Backup,
                ..
            }
        ),
        "first transition of web: {}",
        describe(&first)
    );
    events.state(SETTLE, "web", State::Active);
    events.drain();
    assert!(
        events
            .seen
            .iter()
            .any(|k| matches!(k, EventKind::Started { instances } if instances == &["web", "db"])),
        "no started event: {:?}",
        events.names()
    );
    lab.wait_only(0, WEB_VIP, &[], SETTLE);
    lab.wait_only(0, DB_VIP, &[], SETTLE);
    lab.hold_only(0, WEB_VIP, Duration::from_millis(1500));

    // Backend down: priority 50, the peer (100) takes over.
    node.set_track("backend", TrackState::Down).unwrap();
    let lowered = wait_for(Duration::from_secs(3), || web_priority(&node) == Some(50));
    assert!(
        lowered.is_some(),
        "priority of web: {:?}",
        web_priority(&node)
    );
    let started = Instant::now();
    // When the address was seen on no node (the old Active resigned
    // before the peer took over), for the log.
    let mut gap: Option<Duration> = None;
    let took = wait_for(down_interval(100) + MARGIN, || {
        let h = lab.holders(WEB_VIP);
        if h.is_empty() {
            gap = Some(started.elapsed());
        }
        h == vec![1]
    })
    .unwrap_or_else(|| panic!("the peer did not take web over; {}", lab.report()));
    eprintln!("backend down: peer took web over in {took:?} (last seen on no node: {gap:?})");
    events.state(Duration::from_secs(5), "web", State::Backup);
    assert!(node.status().instances[0]
        .tracks_down
        .contains(&"backend".to_string()));
    // db tracks nothing: it stays.
    assert_eq!(lab.holders(DB_VIP), vec![0]);

    // Backend up: priority 200 again, web preempts back.
    node.set_track("backend", TrackState::Up).unwrap();
    events.state(SETTLE, "web", State::Active);
    assert_eq!(web_priority(&node), Some(200));
    lab.wait_only(0, WEB_VIP, &[], SETTLE);

    // Disk down: Fault, the peer takes over; up: back.
    node.set_track("disk", TrackState::Down).unwrap();
    events.state(Duration::from_secs(5), "web", State::Fault);
    lab.wait_only(1, WEB_VIP, &[], down_interval(100) + MARGIN);
    node.set_track("disk", TrackState::Up).unwrap();
    events.state(SETTLE, "web", State::Active);
    lab.wait_only(0, WEB_VIP, &[], SETTLE);
    lab.hold_only(0, WEB_VIP, Duration::from_millis(1500));

    // Graceful shutdown.
    lab.start_capture("shutdown.pcap");
    let start = Instant::now();
    node.shutdown();
    let stop = events.until(Duration::from_secs(10), |k| *k == EventKind::Stopped);
    assert_eq!(stop, EventKind::Stopped);
    node.join().expect("the node stops cleanly");
    lab.wait_only(1, WEB_VIP, &[], Duration::from_secs(10));
    // From the call to shutdown(): the peer's Skew_Time, plus scheduling.
    let took = start.elapsed();
    lab.wait_only(1, DB_VIP, &[], Duration::from_secs(10));
    let bound = skew(100) + MARGIN;
    assert!(
        took < bound && bound < down_interval(100),
        "takeover after shutdown took {took:?}, over skew time + margin {bound:?}; {}",
        lab.report()
    );
    eprintln!("takeover after shutdown(): {took:?} (skew {:?})", skew(100));
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "shutdown + join took {:?}",
        start.elapsed()
    );
    assert!(
        !lab.has(0, WEB_VIP) && !lab.has(0, DB_VIP),
        "{}",
        lab.report()
    );
    for instance in ["web", "db"] {
        assert!(
            events.seen.iter().any(|k| matches!(
                k,
                EventKind::State { instance: i, to: State::Initialize, reason, .. }
                    if i == instance && reason.name() == "shutdown"
            )),
            "{instance}: no shutdown transition: {:?}",
            events.names()
        );
    }
    let frames = lab.stop_capture();
    let ads = lab::adverts(&frames, &DecodeOptions::default());
    for vrid in [51, 52] {
        assert!(
            ads.iter().any(|d| {
                d.ip.is_some_and(|ip| ip.src.to_string() == "192.0.2.1")
                    && matches!(d.advert, Some(Advert::Vrrp3 { vrid: v, priority: 0, .. }) if v == vrid)
            }),
            "no priority-0 advert for VRID {vrid} from the embedded node"
        );
    }
    let log = lab.log(peer);
    assert!(
        log.contains("-> Active reason=active_resigned"),
        "{}",
        lab.report()
    );
}

/// `reconfigure` with web's priority changed restarts web alone (stopped
/// gracefully, started with the new priority) and leaves db running
/// untouched: no state change of db, its addresses never leave.
#[test]
fn embedded_node_reconfigure_keeps_unchanged_instances() {
    let Some(mut lab) = Lab::new("embrc", 2, &[]) else {
        return;
    };
    start_peer(&mut lab);
    lab.wait_only(1, WEB_VIP, &[], SETTLE);
    let node = start_embedded(&lab, config(&lab, 200));
    let mut events = Events::new(&node);
    lab.wait_only(0, WEB_VIP, &[], SETTLE);
    lab.wait_only(0, DB_VIP, &[], SETTLE);
    lab.hold_only(0, DB_VIP, Duration::from_millis(1500));
    events.drain();
    let db_before = node
        .status()
        .instances
        .iter()
        .find(|i| i.name == "db")
        .and_then(|i| i.last_transition.clone())
        .expect("db has changed state");
    let seen_before = events.seen.len();

    let reply = node
        .reconfigure(config(&lab, 180))
        .unwrap_or_else(|r| panic!("reconfigure refused: {r}"));
    match reply {
        ControlReply::Reconfigured {
            stopped,
            started,
            unchanged,
        } => {
            assert_eq!(stopped, vec!["web".to_string()]);
            assert_eq!(started, vec!["web".to_string()]);
            assert_eq!(unchanged, 1);
        }
        other => panic!("reply: {other:?}"),
    }
    let reloaded = events.until(Duration::from_secs(5), |k| {
        matches!(k, EventKind::Reloaded { .. })
    });
    assert_eq!(
        reloaded,
        EventKind::Reloaded {
            stopped: vec!["web".into()],
            started: vec!["web".into()],
            unchanged: 1,
        }
    );
    // The new web preempts back with 180 > 100; db stays on node a all along.
    let back = Instant::now() + SETTLE;
    let mut db_left = false;
    let ok = wait_for(SETTLE, || {
        db_left |= lab.holders(DB_VIP) != vec![0];
        web_priority(&node) == Some(180) && lab.holders(WEB_VIP) == vec![0]
    });
    assert!(ok.is_some() && Instant::now() < back, "{}", lab.report());
    lab.hold_only(0, DB_VIP, Duration::from_millis(1500));
    assert!(!db_left, "db's address left node a during the reload");
    events.drain();
    let db_changes: Vec<String> = events.seen[seen_before..]
        .iter()
        .filter(|k| matches!(k, EventKind::State { instance, .. } if instance == "db"))
        .map(describe)
        .collect();
    assert!(db_changes.is_empty(), "db restarted: {db_changes:?}");
    let db_after = node
        .status()
        .instances
        .iter()
        .find(|i| i.name == "db")
        .and_then(|i| i.last_transition.clone());
    assert_eq!(db_after, Some(db_before));
    node.shutdown();
    node.join().expect("the node stops cleanly");
}
