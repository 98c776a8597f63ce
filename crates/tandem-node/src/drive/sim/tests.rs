//! Tests of the simulated LAN: delivery rules, losses, bounds, the
//! scheduler's clock, kill versus graceful stop, the restart history.

use std::net::Ipv4Addr;

use crate::node::State;

use super::*;
use crate::config;

const GROUP: IpAddr = IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18));
const VIRTUAL: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100));

fn addr(n: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, n))
}

fn file(priority: u8, extra: &str) -> DaemonConfig {
    config::parse(&format!(
        "[[instance]]\nname = \"web\"\ninterface = \"lan0\"\nvrid = 1\n\
         priority = {priority}\naddresses = [\"192.0.2.100/24\"]\n{extra}"
    ))
    .expect("a valid configuration")
}

/// A LAN with `n` ports, 192.0.2.1 and up.
fn lan(n: u8, link: Link) -> Lan {
    let mut lan = Lan::new(7, link);
    for i in 1..=n {
        lan.add_port(addr(i));
    }
    lan
}

fn state(lan: &Lan, port: PortId) -> Option<State> {
    lan.node(port).and_then(|n| n.states().get("web").copied())
}

fn arrivals(lan: &Lan, port: PortId) -> Vec<(Instant, IpAddr, IpAddr)> {
    let mut v: Vec<_> = lan.ports[port]
        .in_flight
        .iter()
        .map(|d| (d.0.at, d.0.src, d.0.dst))
        .collect();
    v.sort();
    v
}

// Input: port 0 sends to the group, ports 1 and 3 run, port 2 does not.
// Expected: ports 1 and 3 get it one link delay later, from port 0's
// address; neither the sender nor the stopped port does.
#[test]
fn group_adverts_reach_every_other_running_port_after_the_delay() {
    let mut lan = lan(4, Link::default());
    for p in [0, 1, 3] {
        lan.ports[p].running = true;
    }
    lan.now = Instant::ZERO + Duration::from_secs(2);
    lan.send(0, GROUP, b"advert");
    let at = lan.now + Duration::from_micros(100);
    assert_eq!(arrivals(&lan, 1), [(at, addr(1), GROUP)]);
    assert_eq!(arrivals(&lan, 3), [(at, addr(1), GROUP)]);
    assert!(arrivals(&lan, 0).is_empty());
    assert!(arrivals(&lan, 2).is_empty());
    assert_eq!(lan.adverts_sent(), 1);
}

// Input: a unicast advert to 192.0.2.3. Expected: only that port gets it.
#[test]
fn unicast_adverts_reach_only_their_destination() {
    let mut lan = lan(3, Link::default());
    lan.ports.iter_mut().for_each(|p| p.running = true);
    lan.send(0, addr(3), b"advert");
    assert!(arrivals(&lan, 1).is_empty());
    assert_eq!(arrivals(&lan, 2).len(), 1);
}

// Input: every advert lost (loss 1). Expected: nothing in flight, the
// advert still counted as sent, and both nodes of a pair end up Active.
#[test]
fn lost_adverts_never_arrive() {
    let mut lan = lan(
        2,
        Link {
            loss: 1.0,
            ..Link::default()
        },
    );
    lan.ports.iter_mut().for_each(|p| p.running = true);
    lan.send(0, GROUP, b"advert");
    assert!(arrivals(&lan, 1).is_empty());
    assert_eq!(lan.adverts_sent(), 1);

    let mut lan = lan_pair(1.0);
    lan.run_for(Duration::from_secs(10)).unwrap();
    assert_eq!(
        (state(&lan, 0), state(&lan, 1)),
        (Some(State::Active), Some(State::Active))
    );
    assert_eq!(lan.holders(VIRTUAL), [0, 1]);
}

// Input: one advert more than a port's in-flight bound. Expected: the
// extra one is dropped and counted.
#[test]
fn in_flight_queue_is_bounded() {
    let mut lan = lan(2, Link::default());
    lan.ports.iter_mut().for_each(|p| p.running = true);
    for _ in 0..=IN_FLIGHT_LIMIT {
        lan.send(0, GROUP, b"advert");
    }
    assert_eq!(lan.ports[1].in_flight.len(), IN_FLIGHT_LIMIT);
    assert_eq!(lan.dropped(), 1);
}

// Input: an advert due at 1 s for port 1, whose node waits with no
// deadline. Expected: the clock moves to 1 s and the node gets it as a
// raw socket hands it over: source, destination, TTL 255, arrival time.
#[test]
fn arrivals_are_adverts_with_ttl_255() {
    let mut lan = lan(2, Link::default());
    lan.ports[0].running = true;
    lan.ports[1].running = true;
    lan.link.delay = Duration::from_secs(1);
    lan.send(0, GROUP, b"bytes");
    let mut inputs = Vec::new();
    PortHost {
        lan: &mut lan,
        port: 1,
    }
    .wait(None, &mut inputs);
    let one = Instant::ZERO + Duration::from_secs(1);
    assert_eq!(lan.now(), one);
    match inputs.as_slice() {
        [Input::Advert {
            at,
            socket: 0,
            src,
            dst,
            ttl: 255,
            bytes,
        }] => {
            assert_eq!((*at, *src, *dst), (one, addr(1), GROUP));
            assert_eq!(bytes, b"bytes");
        }
        other => panic!("{other:?}"),
    }
}

fn lan_pair(loss: f64) -> Lan {
    let mut lan = lan(
        2,
        Link {
            loss,
            ..Link::default()
        },
    );
    lan.start(0, file(200, "")).unwrap();
    lan.start(1, file(100, "")).unwrap();
    lan
}

// Input: a pair, priorities 200 and 100, for 60 s of virtual time.
// Expected: the clock is at 60 s, port 0 is Active and alone holds the
// virtual address, port 1 is Backup and holds nothing.
#[test]
fn pair_elects_the_higher_priority() {
    let mut lan = lan_pair(0.0);
    lan.run_for(Duration::from_secs(60)).unwrap();
    assert_eq!(lan.now(), Instant::ZERO + Duration::from_secs(60));
    assert_eq!(state(&lan, 0), Some(State::Active));
    assert_eq!(state(&lan, 1), Some(State::Backup));
    assert_eq!(lan.holders(VIRTUAL), [0]);
    // One advert a second from the Active node, and nothing from the Backup.
    let sent = lan.adverts_sent();
    assert!((56..=58).contains(&sent), "{sent}");
}

// Input: the Active node is killed. Expected: it is gone at once with its
// addresses, without a goodbye (no advert, no removal, no Stopped), and
// the Backup takes over within its Active_Down_Interval
// (3 s + 156/256 s) plus the link delay.
#[test]
fn kill_drops_the_node_without_a_goodbye() {
    let mut lan = lan_pair(0.0);
    lan.run_for(Duration::from_secs(10)).unwrap();
    lan.take_log();
    let killed_at = lan.now();
    lan.kill(0).unwrap();
    assert!(lan.node(0).is_none());
    assert!(lan.holders(VIRTUAL).is_empty());
    let took_over = lan
        .run_until(Duration::from_secs(10), |l| {
            state(l, 1) == Some(State::Active)
        })
        .unwrap()
        .expect("port 1 takes over");
    assert!(
        took_over - killed_at <= Duration::from_millis(3609) + Duration::from_micros(100),
        "{:?}",
        took_over - killed_at
    );
    assert_eq!(lan.holders(VIRTUAL), [1]);
    let log = lan.take_log();
    assert_eq!(log[0].what, Happened::Killed);
    assert!(log[1..].iter().all(|r| r.port == 1), "{log:?}");
}

// Input: the Active node is stopped gracefully. Expected: at once, it
// sends priority 0, then removes the virtual address, then stops; the
// Backup takes over after its Skew_Time (156/256 s) plus the link delay.
#[test]
fn graceful_stop_sends_priority_0_and_removes_addresses() {
    let mut lan = lan_pair(0.0);
    lan.run_for(Duration::from_secs(10)).unwrap();
    lan.take_log();
    let stopped_at = lan.now();
    lan.stop(0).unwrap();
    assert!(lan.node(0).is_none());
    assert_eq!(lan.holders(VIRTUAL), Vec::<PortId>::new());
    let outputs: Vec<Output> = lan
        .take_log()
        .into_iter()
        .filter_map(|r| match r.what {
            Happened::Output(o) if r.port == 0 => Some(o),
            _ => None,
        })
        .collect();
    let advert = outputs.iter().position(|o| match o {
        Output::SendAdvert { bytes, .. } => bytes.get(2) == Some(&0),
        _ => false,
    });
    let removed = outputs
        .iter()
        .position(|o| matches!(o, Output::RemoveAddresses { .. }));
    let stopped = outputs.iter().position(|o| *o == Output::Stopped);
    assert!(
        advert.is_some() && advert < removed && removed < stopped,
        "{outputs:?}"
    );
    let took_over = lan
        .run_until(Duration::from_secs(10), |l| {
            state(l, 1) == Some(State::Active)
        })
        .unwrap()
        .expect("port 1 takes over");
    assert_eq!(
        took_over - stopped_at,
        Duration::from_secs(1) * 156 / 256 + Duration::from_micros(100)
    );
    assert_eq!(lan.holders(VIRTUAL), [1]);
}

// Input: a node with a restart guard of 2 starts in 300 s, alone on the
// LAN, killed and started again. Expected: Active after its first start,
// never after the second (the Node was told of the earlier start).
#[test]
fn restarts_are_told_of_earlier_starts() {
    let guard = "restart_guard = { max_starts = 2, window = 300 }\n";
    let mut lan = lan(1, Link::default());
    lan.start(0, file(100, guard)).unwrap();
    lan.run_for(Duration::from_secs(10)).unwrap();
    assert_eq!(state(&lan, 0), Some(State::Active));
    lan.kill(0).unwrap();
    lan.start(0, file(100, guard)).unwrap();
    assert!(matches!(
        lan.start(0, file(100, guard)),
        Err(LanError::Running(0))
    ));
    lan.run_for(Duration::from_secs(30)).unwrap();
    assert_ne!(state(&lan, 0), Some(State::Active));
    assert!(lan.holders(VIRTUAL).is_empty());
}

// Input: the same seed twice, another seed once, with 30 % loss.
// Expected: the same log twice, another log for the other seed.
#[test]
fn same_seed_same_run() {
    let run = |seed| {
        let mut lan = Lan::new(
            seed,
            Link {
                loss: 0.3,
                ..Link::default()
            },
        );
        lan.add_port(addr(1));
        lan.add_port(addr(2));
        lan.start(0, file(200, "")).unwrap();
        lan.start(1, file(100, "")).unwrap();
        lan.run_for(Duration::from_secs(30)).unwrap();
        lan.take_log()
    };
    assert_eq!(run(1), run(1));
    assert_ne!(run(1), run(2));
}

#[test]
fn unknown_ports_are_refused() {
    let mut lan = lan(1, Link::default());
    assert!(matches!(lan.kill(5), Err(LanError::NoSuchPort(5))));
    assert!(matches!(lan.stop(5), Err(LanError::NoSuchPort(5))));
    assert!(matches!(
        lan.start(5, file(100, "")),
        Err(LanError::NoSuchPort(5))
    ));
}
