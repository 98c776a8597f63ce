//! Tests of the Node with the fake host and a virtual clock (no root).

use std::net::IpAddr;
use std::time::Duration;

use tandem_election::{Instant, State};
use tandem_wire::build;

use super::*;
use crate::control::api::{ControlReply, ControlRequest, Refusal};
use crate::drive::fake::FakeHost;

const US: &str = "192.0.2.1";
const PEER: &str = "192.0.2.2";
const VIP: &str = "192.0.2.100";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn at(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

fn config(text: &str) -> DaemonConfig {
    crate::config::parse(text).unwrap()
}

/// One VRRPv3 instance `web`, VRID 51, on eth0, with `extra` lines.
fn web(priority: u8, extra: &str) -> DaemonConfig {
    config(&format!(
        "[[instance]]\nname = \"web\"\ninterface = \"eth0\"\nvrid = 51\npriority = {priority}\n\
         addresses = [\"{VIP}/24\"]\n{extra}"
    ))
}

/// A Node configured with `cfg`, run to `until` on a fake host (the
/// Node's other test modules use it too).
pub(super) fn started(cfg: DaemonConfig, until: Instant) -> (Node, FakeHost) {
    let mut node = Node::new(NodeSettings::default());
    let mut host = FakeHost::new();
    host.push(Input::Configure {
        at: Instant::ZERO,
        config: Box::new(cfg),
        reply: None,
    });
    host.run_until(&mut node, until).unwrap();
    (node, host)
}

fn advert(host: &FakeHost, at: Instant, adv: &build::Advert, src: &str) -> Input {
    let socket = host.socket_of("eth0").unwrap();
    Input::Advert {
        at,
        socket,
        src: ip(src),
        dst: ip("224.0.0.18"),
        ttl: 255,
        bytes: adv.clone().src(ip(src)).message(),
    }
}

fn state_events(host: &FakeHost) -> Vec<(State, State, String)> {
    host.outputs
        .iter()
        .filter_map(|(_, o)| match o {
            Output::Event(Event {
                kind: EventKind::State {
                    from, to, reason, ..
                },
                ..
            }) => Some((*from, *to, reason.to_string())),
            _ => None,
        })
        .collect()
}

fn events_named<'a>(host: &'a FakeHost, name: &str) -> Vec<&'a EventKind> {
    host.outputs
        .iter()
        .filter_map(|(_, o)| match o {
            Output::Event(e) if e.kind.name() == name => Some(&e.kind),
            _ => None,
        })
        .collect()
}

fn status(node: &Node, now: Instant) -> crate::snapshot::NodeSnapshot {
    node.snapshot(now)
}

#[test]
fn a_lone_instance_becomes_active_adds_its_address_and_announces() {
    // Input: one instance, no peer, 4 s. Output: Backup at start, Active
    // after Active_Down_Interval (3 s + skew), then its address added and a
    // gratuitous ARP burst, in that order.
    let (node, host) = started(web(150, ""), at(4000));
    assert_eq!(node.states()["web"], State::Active);
    let order: Vec<&str> = host
        .outputs_since(0)
        .iter()
        .filter_map(|o| match o {
            Output::AddAddresses { .. } => Some("add"),
            Output::SendFrames { .. } => Some("announce"),
            Output::Event(Event {
                kind: EventKind::State {
                    to: State::Active, ..
                },
                ..
            }) => Some("active"),
            _ => None,
        })
        .take(3)
        .collect();
    assert_eq!(order, ["add", "active", "announce"]);
    assert_eq!(
        state_events(&host),
        vec![
            (State::Initialize, State::Backup, "startup".into()),
            (State::Backup, State::Active, "active_down".into()),
        ]
    );
}

#[test]
fn announcement_bursts_are_timers_repeated_with_their_spacing() {
    // Input: an instance announcing 3 times 500 ms apart. Output: three
    // SendFrames rounds at the takeover, +500 ms and +1000 ms.
    let (_, host) = started(
        web(
            150,
            "announce = { repeat = 3, spacing = 0.5, refresh_after = 0 }\n",
        ),
        at(6000),
    );
    let rounds: Vec<Instant> = host
        .outputs
        .iter()
        .filter(|(_, o)| matches!(o, Output::SendFrames { .. }))
        .map(|(t, _)| *t)
        .collect();
    assert_eq!(rounds.len(), 3, "{rounds:?}");
    assert_eq!(rounds[1] - rounds[0], Duration::from_millis(500));
    assert_eq!(rounds[2] - rounds[1], Duration::from_millis(500));
}

#[test]
fn adverts_for_unknown_vrids_are_counted_and_reported_once_per_window() {
    // Input: 100 well-formed adverts for VRID 9 (nobody runs it) within
    // 100 ms. Output: counted 100 times in status; one unknown_vrid event,
    // the rest suppressed and summarised.
    let (mut node, mut host) = started(web(150, ""), at(100));
    let adv = build::Advert::vrrp3(9, [ip(VIP)]);
    for k in 0..100 {
        host.push(advert(&host, at(200 + k), &adv, PEER));
    }
    host.run_until(&mut node, at(2500)).unwrap();
    let snap = status(&node, at(2500));
    assert_eq!(snap.counters.unknown_vrid, 100);
    assert_eq!(snap.counters.unknown_vrids["eth0 vrid 9"], 100);
    assert_eq!(events_named(&host, "unknown_vrid").len(), 1);
    let summary = events_named(&host, "suppressed");
    assert!(
        matches!(
            summary.as_slice(),
            [EventKind::Suppressed { count: 99, .. }]
        ),
        "{summary:?}"
    );
}

#[test]
fn a_flood_of_bad_packets_is_counted_but_logged_at_most_once_a_second() {
    // Input: 5,000 bad-checksum adverts in one second. Output: all counted
    // under dropped.checksum; at most two dropped events (the first, and one
    // after the window), plus a summary.
    let (mut node, mut host) = started(web(150, ""), at(100));
    let mut bytes = build::Advert::vrrp3(51, [ip(VIP)]).src(ip(PEER)).message();
    bytes[6] ^= 0xff;
    let socket = host.socket_of("eth0").unwrap();
    for k in 0..5000u64 {
        host.push(Input::Advert {
            at: Instant::from_duration(Duration::from_micros(200_000 + k * 200)),
            socket,
            src: ip(PEER),
            dst: ip("224.0.0.18"),
            ttl: 255,
            bytes: bytes.clone(),
        });
    }
    host.run_until(&mut node, at(3000)).unwrap();
    let snap = status(&node, at(3000));
    assert_eq!(snap.counters.dropped["checksum"], 5000);
    assert_eq!(snap.instances[0].counters.errors["checksum"], 5000);
    let shown = events_named(&host, "dropped").len();
    assert!((1..=2).contains(&shown), "{shown} dropped events shown");
    assert!(!events_named(&host, "suppressed").is_empty());
    assert_eq!(snap.counters.events_suppressed + shown as u64, 5000);
}

#[test]
fn a_peer_with_a_wrong_password_never_becomes_the_partner() {
    // Input: a Backup (VRRPv2, password "right") hears adverts with the
    // wrong password. Output: the auth diagnostic counted; no partner and
    // no Active router in status; the light says partner unreachable.
    let cfg = web(100, "protocol = \"vrrp2\"\npassword = \"right\"\n");
    let (mut node, mut host) = started(cfg, at(100));
    let adv = build::Advert::vrrp2(51, [ip(VIP)])
        .priority(200)
        .simple_password(b"wrong");
    for k in 0..3 {
        host.push(advert(&host, at(500 + k * 1000), &adv, PEER));
    }
    host.run_until(&mut node, at(2600)).unwrap();
    let snap = status(&node, at(2600));
    let i = &snap.instances[0];
    assert_eq!(i.partner, None, "{i:?}");
    assert_eq!(i.active_router, None);
    assert_eq!(i.counters.errors["auth"], 3);
    assert_eq!(i.light, crate::snapshot::Light::PartnerUnreachable);
    // With the right password, the same adverts make it the partner.
    let good = build::Advert::vrrp2(51, [ip(VIP)])
        .priority(200)
        .simple_password(b"right");
    host.push(advert(&host, at(2700), &good, PEER));
    host.run_until(&mut node, at(2800)).unwrap();
    let snap = status(&node, at(2800));
    let p = snap.instances[0].partner.as_ref().expect("partner");
    assert_eq!((p.address, p.priority), (ip(PEER), 200));
    assert_eq!(snap.instances[0].light, crate::snapshot::Light::Standby);
}

#[test]
fn a_ttl_exempt_unicast_peer_is_recorded_as_partner() {
    // Input: a Backup with unicast peer 192.0.2.2 in ttl_exempt hears its
    // adverts with TTL 64. Output: the partner is 192.0.2.2; the light is
    // standby. Without the exemption: bad_ttl counted, no partner.
    for exempt in [true, false] {
        let extra = format!(
            "unicast_peers = [\"{PEER}\"]\n{}",
            if exempt {
                format!("ttl_exempt = [\"{PEER}\"]\n")
            } else {
                String::new()
            }
        );
        let (mut node, mut host) = started(web(100, &extra), at(100));
        let adv = build::Advert::vrrp3(51, [ip(VIP)]).priority(200);
        let mut input = advert(&host, at(500), &adv, PEER);
        if let Input::Advert { ttl, dst, .. } = &mut input {
            *ttl = 64;
            *dst = ip(US);
        }
        host.push(input);
        host.run_until(&mut node, at(600)).unwrap();
        let snap = status(&node, at(600));
        let i = &snap.instances[0];
        if exempt {
            assert_eq!(i.partner.as_ref().map(|p| p.address), Some(ip(PEER)));
            assert_eq!(i.light, crate::snapshot::Light::Standby);
        } else {
            assert_eq!(i.partner, None);
            assert_eq!(i.counters.errors["bad_ttl"], 1);
        }
    }
}

#[test]
fn an_ordinary_preemption_is_counted_as_yielded_not_as_a_split_brain() {
    // Input: we are Active (150); a better router (200) preempts. Output:
    // Active -> Backup with reason `preempted by=192.0.2.2`; the counters
    // say yielded 1 and no split_brain.
    let (mut node, mut host) = started(web(150, ""), at(4000));
    assert_eq!(node.states()["web"], State::Active);
    let adv = build::Advert::vrrp3(51, [ip(VIP)]).priority(200);
    host.push(advert(&host, at(4100), &adv, PEER));
    host.run_until(&mut node, at(4200)).unwrap();
    assert_eq!(node.states()["web"], State::Backup);
    let last = state_events(&host).pop().unwrap();
    assert_eq!(
        last,
        (State::Active, State::Backup, format!("preempted by={PEER}"))
    );
    let snap = status(&node, at(4200));
    assert_eq!(snap.counters.diagnostics.get("yielded"), Some(&1));
    assert_eq!(snap.counters.diagnostics.get("split_brain"), None);
}

#[test]
fn lights_follow_state_partner_and_maintenance() {
    // Backup hearing its partner: standby; partner silent beyond three
    // intervals while another blocks takeover: partner unreachable;
    // Active: active; maintenance: maintenance.
    let (mut node, mut host) = started(web(100, "preempt = false\n"), at(100));
    let adv = build::Advert::vrrp3(51, [ip(VIP)]).priority(200);
    host.push(advert(&host, at(500), &adv, PEER));
    host.run_until(&mut node, at(600)).unwrap();
    let light = |node: &Node, t| status(node, t).instances[0].light;
    assert_eq!(light(&node, at(600)), crate::snapshot::Light::Standby);
    host.run_until(&mut node, at(5000)).unwrap();
    assert_eq!(light(&node, at(5000)), crate::snapshot::Light::Active);
    host.push(Input::Control {
        at: at(5100),
        request: ControlRequest::Maintenance { on: true },
        reply: 7,
    });
    host.run_until(&mut node, at(5200)).unwrap();
    assert_eq!(light(&node, at(5200)), crate::snapshot::Light::Maintenance);
    assert_eq!(node.states()["web"], State::Backup);
    let replied = host.outputs.iter().any(|(_, o)| {
        matches!(
            o,
            Output::Reply {
                to: 7,
                reply: ControlReply::Maintenance { on: true }
            }
        )
    });
    assert!(replied);
}

/// Two lone instances and a sync group of two.
fn four() -> DaemonConfig {
    config(
        "[[instance]]\nname = \"a\"\ninterface = \"eth0\"\nvrid = 1\npriority = 150\naddresses = [\"192.0.2.101/24\"]\n\
         [[instance]]\nname = \"b\"\ninterface = \"eth0\"\nvrid = 2\npriority = 150\naddresses = [\"192.0.2.102/24\"]\n\
         [[instance]]\nname = \"c\"\ninterface = \"eth0\"\nvrid = 3\npriority = 150\naddresses = [\"192.0.2.103/24\"]\n\
         [[instance]]\nname = \"d\"\ninterface = \"eth0\"\nvrid = 4\npriority = 150\naddresses = [\"192.0.2.104/24\"]\n\
         [[sync_group]]\nname = \"g\"\ninstances = [\"c\", \"d\"]\n"
    )
}

fn reply_to(host: &FakeHost, to: ReplyTo) -> Option<&ControlReply> {
    host.outputs.iter().find_map(|(_, o)| match o {
        Output::Reply { to: t, reply } if *t == to => Some(reply),
        _ => None,
    })
}

#[test]
fn failover_targets_an_instance_a_group_or_everything() {
    let (mut node, mut host) = started(four(), at(4000));
    let ask = |host: &mut FakeHost, t: u64, target: Option<&str>| {
        host.push(Input::Control {
            at: at(4000 + t),
            request: ControlRequest::Failover {
                target: target.map(str::to_string),
            },
            reply: t,
        });
    };
    ask(&mut host, 1, Some("nope"));
    ask(&mut host, 2, Some("g"));
    ask(&mut host, 3, Some("a"));
    ask(&mut host, 4, Some("c"));
    host.run_until(&mut node, at(4010)).unwrap();
    assert_eq!(
        reply_to(&host, 1),
        Some(&ControlReply::Refused(Refusal::NoSuchTarget("nope".into())))
    );
    assert_eq!(
        reply_to(&host, 2),
        Some(&ControlReply::HandedOver {
            instances: vec!["c".into(), "d".into()]
        })
    );
    assert_eq!(
        reply_to(&host, 3),
        Some(&ControlReply::HandedOver {
            instances: vec!["a".into()]
        })
    );
    // The group already handed over: nothing of it is Active any more.
    assert_eq!(
        reply_to(&host, 4),
        Some(&ControlReply::Refused(Refusal::NothingActive))
    );
    let states = node.states();
    assert_eq!(states["b"], State::Active);
    assert!(["a", "c", "d"].iter().all(|n| states[*n] == State::Backup));
}

#[test]
fn a_reload_keeps_unchanged_units_stops_removed_ones_and_starts_new_ones() {
    // Input: four instances Active; a new configuration drops b, changes
    // the priority of a, keeps the group g, adds e. Output: b and a stop
    // (priority 0, addresses removed), g is untouched (no transition), a
    // and e start; the reply lists it.
    let (mut node, mut host) = started(four(), at(4000));
    let text = "[[instance]]\nname = \"a\"\ninterface = \"eth0\"\nvrid = 1\npriority = 160\naddresses = [\"192.0.2.101/24\"]\n\
        [[instance]]\nname = \"c\"\ninterface = \"eth0\"\nvrid = 3\npriority = 150\naddresses = [\"192.0.2.103/24\"]\n\
        [[instance]]\nname = \"d\"\ninterface = \"eth0\"\nvrid = 4\npriority = 150\naddresses = [\"192.0.2.104/24\"]\n\
        [[instance]]\nname = \"e\"\ninterface = \"eth0\"\nvrid = 5\npriority = 150\naddresses = [\"192.0.2.105/24\"]\n\
        [[sync_group]]\nname = \"g\"\ninstances = [\"c\", \"d\"]\n";
    let before = host.outputs.len();
    host.push(Input::Configure {
        at: at(4100),
        config: Box::new(config(text)),
        reply: Some(9),
    });
    host.run_until(&mut node, at(4200)).unwrap();
    assert_eq!(
        reply_to(&host, 9),
        Some(&ControlReply::Reconfigured {
            stopped: vec!["a".into(), "b".into()],
            started: vec!["a".into(), "e".into()],
            unchanged: 1,
        })
    );
    let touched: Vec<String> = host.outputs[before..]
        .iter()
        .filter_map(|(_, o)| match o {
            Output::Event(Event {
                kind: EventKind::State { instance, to, .. },
                ..
            }) => Some(format!("{instance}->{}", to.name())),
            _ => None,
        })
        .collect();
    assert_eq!(
        touched,
        ["a->Initialize", "b->Initialize", "a->Backup", "e->Backup"]
    );
    let removed = host.outputs[before..]
        .iter()
        .filter(|(_, o)| matches!(o, Output::RemoveAddresses { .. }))
        .count();
    assert_eq!(removed, 2);
    let names: Vec<String> = node.states().into_keys().collect();
    assert_eq!(names, ["a", "c", "d", "e"]);
    assert!(node.states()["c"] == State::Active && node.states()["d"] == State::Active);
}

#[test]
fn a_reload_the_host_cannot_set_up_changes_nothing() {
    let (mut node, mut host) = started(four(), at(4000));
    host.fail_setup = Some("interface eth9 does not exist".into());
    let before = node.states();
    host.push(Input::Configure {
        at: at(4100),
        config: Box::new(web(100, "")),
        reply: Some(3),
    });
    host.run_until(&mut node, at(4200)).unwrap();
    assert_eq!(node.states(), before);
    assert_eq!(
        reply_to(&host, 3),
        Some(&ControlReply::Refused(Refusal::Reconfigure(
            "interface eth9 does not exist".into()
        )))
    );
    assert_eq!(events_named(&host, "reload_failed").len(), 1);
}

#[test]
fn shutdown_sends_priority_zero_removes_addresses_and_stops() {
    let (mut node, mut host) = started(web(150, ""), at(4000));
    let before = host.outputs.len();
    host.push(Input::Shutdown { at: at(4100) });
    host.run_until(&mut node, at(5000)).unwrap();
    let out: Vec<&Output> = host.outputs[before..].iter().map(|(_, o)| o).collect();
    let advert = out.iter().find_map(|o| match o {
        Output::SendAdvert { bytes, .. } => Some(bytes.clone()),
        _ => None,
    });
    let bytes = advert.expect("an advert");
    let p = tandem_wire::vrrp3::Packet::new_checked(bytes.as_slice()).unwrap();
    assert_eq!(p.priority().0, 0);
    assert!(out
        .iter()
        .any(|o| matches!(o, Output::RemoveAddresses { .. })));
    assert!(matches!(out.last(), Some(Output::Stopped)));
    assert!(node.is_stopped());
    // Requests after the stop are refused, never left unanswered.
    node.handle(Input::Control {
        at: at(5001),
        request: ControlRequest::Status,
        reply: 1,
    });
    assert!(matches!(
        node.poll_output(),
        Some(Output::Reply {
            reply: ControlReply::Refused(Refusal::Stopping),
            ..
        })
    ));
}

#[test]
fn a_tracked_link_down_at_start_starts_the_instance_in_fault() {
    let mut node = Node::new(NodeSettings::default());
    let mut host = FakeHost::new();
    host.links_down = vec!["eth0".into()];
    host.push(Input::Configure {
        at: Instant::ZERO,
        config: Box::new(web(150, "")),
        reply: None,
    });
    host.run_until(&mut node, at(5000)).unwrap();
    assert_eq!(node.states()["web"], State::Fault);
    host.push(Input::Link {
        at: at(5100),
        name: "eth0".into(),
        up: true,
    });
    host.run_until(&mut node, at(9000)).unwrap();
    assert_eq!(node.states()["web"], State::Active);
}

#[test]
fn a_health_check_track_moves_the_instance() {
    // Input: an instance tracking "backend" with fault; the appliance
    // reports it down, then up. Output: Fault, then back in the election.
    let mut cfg = web(150, "");
    cfg.instances[0]
        .election
        .tracks
        .push(tandem_election::Track {
            name: "backend".into(),
            effect: tandem_election::TrackEffect::Fault,
        });
    let (mut node, mut host) = started(cfg, at(4000));
    assert_eq!(node.states()["web"], State::Active);
    host.push(Input::Track {
        at: at(4100),
        name: "backend".into(),
        state: TrackState::Down,
    });
    host.run_until(&mut node, at(4200)).unwrap();
    assert_eq!(node.states()["web"], State::Fault);
    host.push(Input::Track {
        at: at(4300),
        name: "backend".into(),
        state: TrackState::Up,
    });
    host.run_until(&mut node, at(9000)).unwrap();
    assert_eq!(node.states()["web"], State::Active);
}

#[test]
fn a_graded_health_check_lowers_the_priority_by_its_weight() {
    // Input: priority 150, tracking "backend" with weight 20; the appliance
    // reports weight 60, then 0, then 5, then Down. Output: priority 90
    // while degraded by 60 (not 130, the configured weight), 150 at 0, and
    // 130 once Down: a check that is down costs its configured weight.
    let mut cfg = web(150, "");
    cfg.instances[0]
        .election
        .tracks
        .push(tandem_election::Track {
            name: "backend".into(),
            effect: tandem_election::TrackEffect::Weight(20),
        });
    let (mut node, mut host) = started(cfg, at(100));
    let priority = |node: &Node, t| status(node, t).instances[0].priority;
    assert_eq!(priority(&node, at(100)), 150);
    for (t, w, want) in [(200, 60, 90), (300, 0, 150), (400, 5, 145)] {
        host.push(Input::Track {
            at: at(t),
            name: "backend".into(),
            state: TrackState::Weight(w),
        });
        host.run_until(&mut node, at(t + 50)).unwrap();
        assert_eq!(priority(&node, at(t + 50)), want, "weight {w}");
    }
    host.push(Input::Track {
        at: at(500),
        name: "backend".into(),
        state: TrackState::Down,
    });
    host.run_until(&mut node, at(550)).unwrap();
    assert_eq!(
        priority(&node, at(550)),
        130,
        "Down applies the configured weight, not the weight reported last"
    );
    host.push(Input::Track {
        at: at(600),
        name: "backend".into(),
        state: TrackState::Up,
    });
    host.run_until(&mut node, at(650)).unwrap();
    assert_eq!(priority(&node, at(650)), 150);
}
