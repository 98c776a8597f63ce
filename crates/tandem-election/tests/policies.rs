//! Appliance policies around the election: tracking (weights and Fault),
//! preferred host, initial wait, HA timeout, manual failover, maintenance
//! and preempt delay. Exact timings drive a `VirtualRouter` directly; the
//! interplay of several nodes runs on the simulator.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use tandem_election::sim::{EventKind, Lan, NodeSpec};
use tandem_election::{
    Action, Advert, Command, Config, ConfigError, Instant, PairRole, PreferredHost, Protocol,
    Reason, Received, State, Track, TrackEffect, VirtualRouter,
};
use tandem_wire::{vrrp3, Centiseconds, ChecksumMode, Priority, Vrid};

const ME: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10));
const PEER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 20));
const VIP: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100));

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn at(d: Duration) -> Instant {
    Instant::from_duration(d)
}

/// VRID 1, 1 s interval, the given priority, no silence report and no
/// announce refresh, so the only timers are the election's.
fn config(priority: u8) -> Config {
    let mut c = Config::new(Vrid::new(1).unwrap(), ME, vec![VIP]);
    c.priority = Priority(priority);
    c.silence_intervals = 0;
    c.announce.refresh_after = None;
    c
}

fn uplink(effect: TrackEffect) -> Track {
    Track {
        name: "uplink".into(),
        effect,
    }
}

fn drain(vr: &mut VirtualRouter) -> Vec<Action> {
    std::iter::from_fn(|| vr.poll_action()).collect()
}

/// Calls `handle_timeout` at every deadline up to `until`; the actions.
fn run_to(vr: &mut VirtualRouter, until: Instant) -> Vec<Action> {
    let mut out = Vec::new();
    while let Some(t) = vr.poll_timeout().filter(|t| *t <= until) {
        vr.handle_timeout(t);
        out.extend(drain(vr));
    }
    out
}

/// A started router that has become Active alone; returns it and the time.
fn lone_active(c: Config) -> (VirtualRouter, Instant) {
    let mut vr = VirtualRouter::new(c, Instant::ZERO, &[]).unwrap();
    vr.handle_command(Instant::ZERO, Command::Start);
    run_to(&mut vr, at(secs(5)));
    assert_eq!(vr.state(), State::Active);
    drain(&mut vr);
    (vr, at(secs(5)))
}

fn v3(priority: u8) -> Advert {
    Advert::Vrrp3 {
        repr: vrrp3::Repr {
            vrid: Vrid::new(1).unwrap(),
            priority: Priority(priority),
            max_adver_int: Centiseconds(100),
            addresses: vrrp3::Addresses::V4(vec![Ipv4Addr::new(192, 0, 2, 100)]),
        },
        checksum: Some(ChecksumMode::PseudoHeader),
    }
}

fn rx(advert: &Advert) -> Received<'_> {
    Received {
        src: PEER,
        ttl: 255,
        advert,
    }
}

fn sent_priorities(actions: &[Action]) -> Vec<u8> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::SendAdvert(Advert::Vrrp3 { repr, .. }) => Some(repr.priority.0),
            Action::SendAdvert(Advert::Vrrp2(r)) => Some(r.priority.0),
            _ => None,
        })
        .collect()
}

fn state_changes(lan: &Lan, node: usize, since: Instant) -> usize {
    lan.events()
        .iter()
        .filter(|e| e.node == node && e.at > since && matches!(e.kind, EventKind::State { .. }))
        .count()
}

// ----- tracking ------------------------------------------------------------

#[test]
fn track_weight_down_lowers_effective_priority_and_adverts_carry_it() {
    // Input: a lone Active router, priority 200, tracking "uplink" with
    // weight 50; the uplink goes down, then up.
    // Expected: effective priority 150 and adverts of 150 while it is down,
    // 200 again after it comes up; the router stays Active (no peer).
    let mut c = config(200);
    c.tracks = vec![uplink(TrackEffect::Weight(50))];
    let (mut vr, t0) = lone_active(c);
    vr.handle_command(t0, Command::TrackDown("uplink".into()));
    assert_eq!(vr.effective_priority(), Priority(150));
    assert_eq!(vr.status().priority, Priority(150));
    assert_eq!(vr.status().tracks_down, vec!["uplink".to_string()]);
    let out = run_to(&mut vr, t0 + secs(3));
    assert_eq!(sent_priorities(&out), vec![150, 150, 150]);
    vr.handle_command(t0 + secs(3), Command::TrackUp("uplink".into()));
    assert_eq!(vr.effective_priority(), Priority(200));
    let out = run_to(&mut vr, t0 + secs(5));
    assert_eq!(sent_priorities(&out), vec![200, 200]);
    assert_eq!(vr.state(), State::Active);
}

#[test]
fn track_down_replaces_a_graded_weight_with_the_configured_one() {
    // Input: priority 200 tracking "file" with weight 50; a graded verdict
    // of 120 (a file check's number), then the plain TrackDown a check
    // sends when its file can no longer be read.
    // Expected: 80 while graded, then 150 (the configured weight), not 80.
    let mut c = config(200);
    c.tracks = vec![Track {
        name: "file".into(),
        effect: TrackEffect::Weight(50),
    }];
    let (mut vr, t0) = lone_active(c);
    vr.handle_command(
        t0,
        Command::TrackWeight {
            name: "file".into(),
            weight: 120,
        },
    );
    assert_eq!(vr.effective_priority(), Priority(80));
    vr.handle_command(t0, Command::TrackDown("file".into()));
    assert_eq!(vr.effective_priority(), Priority(150));
    vr.handle_command(t0, Command::TrackUp("file".into()));
    assert_eq!(vr.effective_priority(), Priority(200));
}

#[test]
fn track_weight_is_clamped_to_1_through_254() {
    // Input: priority 100 with two weights of 60 down (100 - 120 < 1);
    // an owner (255) with a weight of 1 down.
    // Expected: effective priority 1 (never 0, which means "resigning"),
    // and 254 for the owner, which is no longer the owner.
    let mut c = config(100);
    c.tracks = vec![
        uplink(TrackEffect::Weight(60)),
        Track {
            name: "health".into(),
            effect: TrackEffect::Weight(60),
        },
    ];
    let (mut vr, t0) = lone_active(c);
    vr.handle_command(t0, Command::TrackDown("uplink".into()));
    assert_eq!(vr.effective_priority(), Priority(40));
    vr.handle_command(t0, Command::TrackDown("health".into()));
    assert_eq!(vr.effective_priority(), Priority(1));
    let out = run_to(&mut vr, t0 + secs(1));
    assert_eq!(sent_priorities(&out), vec![1]);

    let mut c = config(255);
    c.tracks = vec![uplink(TrackEffect::Weight(1))];
    let mut vr = VirtualRouter::new(c, Instant::ZERO, &[]).unwrap();
    vr.handle_command(Instant::ZERO, Command::Start);
    assert_eq!(vr.state(), State::Active, "owner is Active at once");
    vr.handle_command(Instant::ZERO, Command::TrackDown("uplink".into()));
    assert_eq!(vr.effective_priority(), Priority(254));
}

#[test]
fn track_weight_below_partner_priority_hands_over_and_track_up_takes_it_back() {
    // Input (sim): A priority 200 tracking "uplink" with weight 150, B
    // priority 100, both preempting; A's uplink goes down, later comes up.
    // Expected: A advertises 50 < 100, so B takes over within B's
    // Active_Down_Interval (3 s + 156/256 s) plus an interval; after the
    // uplink is up again A (200) takes the role back.
    let mut lan = Lan::new(11);
    let a = lan
        .add(NodeSpec::vrrp3(1, 200).with(|c| c.tracks = vec![uplink(TrackEffect::Weight(150))]));
    let b = lan.add(NodeSpec::vrrp3(2, 100));
    lan.start_all();
    lan.run_for(secs(10));
    assert_eq!(lan.actives(1), vec![a]);
    let t0 = lan.now();
    lan.command(a, None, Command::TrackDown("uplink".into()));
    assert_eq!(lan.router(a, 0).unwrap().effective_priority(), Priority(50));
    let t = lan
        .run_until(secs(10), |l| l.actives(1) == vec![b])
        .expect("B takes over from the demoted A");
    assert!(t - t0 <= ms(3610 + 1000), "took {:?}", t - t0);
    assert_eq!(lan.holders(VIP), vec![b]);
    lan.run_for(secs(20));
    assert_eq!(
        lan.actives(1),
        vec![b],
        "no flapping while the uplink is down"
    );
    lan.command(a, None, Command::TrackUp("uplink".into()));
    let t1 = lan.now();
    let t = lan
        .run_until(secs(10), |l| l.actives(1) == vec![a])
        .expect("A takes the role back");
    assert!(t - t1 <= ms(3220 + 1000), "took {:?}", t - t1);
    assert_eq!(lan.holders(VIP), vec![a]);
}

#[test]
fn track_fault_down_on_active_resigns_into_fault_and_up_returns_to_backup() {
    // Input: a lone Active router, priority 200, tracking "uplink" with
    // effect Fault; the uplink goes down; adverts arrive; the uplink comes up.
    // Expected: a priority-0 advert, RemoveAddresses, Active -> Fault; no
    // adverts and no deadline in Fault; adverts are ignored there (no
    // actions, state unchanged); up: Fault -> Backup with the down timer
    // at exactly now + Active_Down_Interval (3 s + 56/256 s).
    let mut c = config(200);
    c.tracks = vec![uplink(TrackEffect::Fault)];
    let (mut vr, t0) = lone_active(c);
    vr.handle_command(t0, Command::TrackDown("uplink".into()));
    let out = drain(&mut vr);
    assert_eq!(sent_priorities(&out), vec![0]);
    assert!(out.contains(&Action::RemoveAddresses(vec![VIP])));
    assert!(out.contains(&Action::StateChanged {
        from: State::Active,
        to: State::Fault,
        reason: Reason::TrackDown("uplink".into()),
    }));
    assert_eq!(vr.state(), State::Fault);
    assert_eq!(vr.poll_timeout(), None, "nothing to time in Fault");
    let out = run_to(&mut vr, t0 + secs(30));
    assert!(out.is_empty(), "no adverts in Fault: {out:?}");
    // A lower-priority peer's advert and a resignation: both ignored.
    for p in [50, 0] {
        vr.handle_advert(t0 + secs(31), rx(&v3(p)));
        assert!(drain(&mut vr).is_empty());
        assert_eq!(vr.state(), State::Fault);
        assert_eq!(vr.poll_timeout(), None);
    }
    let t1 = t0 + secs(40);
    vr.handle_command(t1, Command::TrackUp("uplink".into()));
    assert_eq!(
        drain(&mut vr),
        vec![Action::StateChanged {
            from: State::Fault,
            to: State::Backup,
            reason: Reason::TrackUp,
        }]
    );
    let down = secs(3) + Duration::from_nanos(56 * 1_000_000_000 / 256);
    assert_eq!(vr.active_down_interval(), down);
    assert_eq!(vr.poll_timeout(), Some(t1 + down));
    let out = run_to(&mut vr, t1 + down);
    assert_eq!(vr.state(), State::Active, "{out:?}");
}

#[test]
fn track_fault_down_on_backup_goes_to_fault_without_advert() {
    // Input: a Backup router (priority 100) hearing an Active peer of 200,
    // tracking "uplink" with effect Fault; the uplink goes down.
    // Expected: Backup -> Fault, no advert, no timer; the peer's later
    // resignation is ignored (a router in Fault never takes over).
    let mut c = config(100);
    c.tracks = vec![uplink(TrackEffect::Fault)];
    let mut vr = VirtualRouter::new(c, Instant::ZERO, &[]).unwrap();
    vr.handle_command(Instant::ZERO, Command::Start);
    vr.handle_advert(at(ms(500)), rx(&v3(200)));
    drain(&mut vr);
    vr.handle_command(at(secs(1)), Command::TrackDown("uplink".into()));
    let out = drain(&mut vr);
    assert_eq!(sent_priorities(&out), Vec::<u8>::new());
    assert_eq!(vr.state(), State::Fault);
    assert_eq!(vr.poll_timeout(), None);
    vr.handle_advert(at(secs(2)), rx(&v3(0)));
    assert!(run_to(&mut vr, at(secs(60))).is_empty());
    assert_eq!(vr.state(), State::Fault);
}

#[test]
fn carp_track_weight_raises_demotion_and_partner_takes_over() {
    // Input (sim): CARP A advskew 0, B advskew 100, A tracks "uplink" with
    // weight 1; the uplink goes down, then up.
    // Expected: A's adverts carry demotion 1 and B (demotion 0) takes over
    // within one of A's intervals of A's next advert; up again, A (advskew
    // 0, preempt) takes the role back.
    let mut lan = Lan::new(5);
    let a = lan.add(NodeSpec::carp(1, 0).with(|c| c.tracks = vec![uplink(TrackEffect::Weight(1))]));
    let b = lan.add(NodeSpec::carp(2, 100));
    lan.start_all();
    lan.run_for(secs(10));
    assert_eq!(lan.actives(1), vec![a]);
    // Direct: the demotion counter in the advert.
    let mut probe = lan.router(a, 0).unwrap().clone();
    probe.handle_command(lan.now(), Command::TrackDown("uplink".into()));
    let when = probe.poll_timeout().unwrap();
    probe.handle_timeout(when);
    let demotions: Vec<u8> = std::iter::from_fn(|| probe.poll_action())
        .filter_map(|a| match a {
            Action::SendAdvert(Advert::Carp { repr, .. }) => Some(repr.demotion),
            _ => None,
        })
        .collect();
    assert_eq!(demotions, vec![1]);

    let t0 = lan.now();
    lan.command(a, None, Command::TrackDown("uplink".into()));
    let t = lan
        .run_until(secs(10), |l| l.actives(1) == vec![b])
        .expect("B takes over from the demoted A");
    assert!(t - t0 <= ms(1100), "took {:?}", t - t0);
    lan.run_for(secs(20));
    assert_eq!(lan.actives(1), vec![b]);
    lan.command(a, None, Command::TrackUp("uplink".into()));
    lan.run_until(secs(10), |l| l.actives(1) == vec![a])
        .expect("A takes the role back");
}

// ----- preferred host --------------------------------------------------------

/// Runs a pair under `preferred`; kills the Active node, restarts it, and
/// returns (the node Active first, the node Active 30 s after the restart).
fn preferred_host_cycle(preferred: PreferredHost) -> (usize, usize) {
    let mut lan = Lan::new(3);
    let a = lan.add(
        NodeSpec::vrrp3(1, 100).with(|c| *c = c.clone().preferred_host(preferred, PairRole::First)),
    );
    let b = lan.add(
        NodeSpec::vrrp3(2, 100)
            .with(|c| *c = c.clone().preferred_host(preferred, PairRole::Second)),
    );
    lan.start_all();
    lan.run_for(secs(10));
    let actives = lan.actives(1);
    assert_eq!(actives.len(), 1, "{actives:?}");
    let first = actives[0];
    let other = if first == a { b } else { a };
    lan.kill(first);
    lan.run_until(secs(10), |l| l.actives(1) == vec![other])
        .expect("the partner takes over");
    lan.start(first);
    let restarted = lan.now();
    lan.run_for(secs(30));
    let actives = lan.actives(1);
    assert_eq!(actives.len(), 1, "{actives:?}");
    if actives[0] == other {
        assert_eq!(
            state_changes(&lan, other, restarted),
            0,
            "the Active node kept the role without a blip"
        );
    }
    (first, actives[0])
}

#[test]
fn preferred_host_first_fails_back_to_the_first_node() {
    // Input (sim): preferred host First; the first node (Active) is killed
    // and restarted.
    // Expected: the first node is Active at start and again after it
    // returns (failback).
    assert_eq!(preferred_host_cycle(PreferredHost::First), (0, 0));
}

#[test]
fn preferred_host_second_fails_back_to_the_second_node() {
    // Input (sim): preferred host Second; the second node is killed and
    // restarted.
    // Expected: the second node is Active at start and again after it returns.
    assert_eq!(preferred_host_cycle(PreferredHost::Second), (1, 1));
}

#[test]
fn preferred_host_none_leaves_the_role_where_it_is() {
    // Input (sim): no preferred host; the Active node is killed and
    // restarted.
    // Expected: the partner took over and keeps the role after the
    // restarted node returns (no failback, no state change on the partner).
    let (first, later) = preferred_host_cycle(PreferredHost::None);
    assert_ne!(first, later);
}

#[test]
fn preferred_host_sets_priority_and_preempt() {
    // Input: Config::preferred_host for each policy and role.
    // Expected: the preferred node 200 + preempt; the other, and both
    // under None, 100 without preempt.
    let c = config(150);
    for (p, r, prio, preempt) in [
        (PreferredHost::First, PairRole::First, 200, true),
        (PreferredHost::First, PairRole::Second, 100, false),
        (PreferredHost::Second, PairRole::First, 100, false),
        (PreferredHost::Second, PairRole::Second, 200, true),
        (PreferredHost::None, PairRole::First, 100, false),
        (PreferredHost::None, PairRole::Second, 100, false),
    ] {
        let c = c.clone().preferred_host(p, r);
        assert_eq!(
            (c.priority, c.preempt),
            (Priority(prio), preempt),
            "{p:?} {r:?}"
        );
    }
}

// ----- initial wait ---------------------------------------------------------

#[test]
fn initial_wait_alone_stays_backup_for_the_wait_then_becomes_active() {
    // Input: initial_wait 10 s, priority 100, no peer.
    // Expected: Backup with its deadline at exactly 10 s; still Backup at
    // 9.999 s; Active at 10 s.
    let mut c = config(100);
    c.initial_wait = secs(10);
    let mut vr = VirtualRouter::new(c, Instant::ZERO, &[]).unwrap();
    vr.handle_command(Instant::ZERO, Command::Start);
    assert_eq!(vr.state(), State::Backup);
    assert_eq!(vr.poll_timeout(), Some(at(secs(10))));
    vr.handle_timeout(at(ms(9999)));
    assert_eq!(vr.state(), State::Backup);
    vr.handle_timeout(at(secs(10)));
    assert_eq!(vr.state(), State::Active);
}

#[test]
fn initial_wait_with_an_active_peer_never_claims() {
    // Input: initial_wait 10 s, priority 100; a peer of priority 200
    // advertises every second for 60 s.
    // Expected: the router never becomes Active.
    let mut c = config(100);
    c.initial_wait = secs(10);
    let mut vr = VirtualRouter::new(c, Instant::ZERO, &[]).unwrap();
    vr.handle_command(Instant::ZERO, Command::Start);
    let adv = v3(200);
    for s in 0..60 {
        let t = at(ms(s * 1000 + 300));
        run_to(&mut vr, t);
        vr.handle_advert(t, rx(&adv));
        assert_eq!(vr.state(), State::Backup, "at {t}");
    }
}

// ----- HA timeout -----------------------------------------------------------

#[test]
fn ha_timeout_maps_to_a_third_as_interval() {
    // Input: Config::ha_timeout(3 s, 4 s, ..., 15 s) on VRRPv3.
    // Expected: Advertisement_Interval = timeout / 3 in whole centiseconds.
    for s in 3..=15u64 {
        let c = config(100).ha_timeout(secs(s)).unwrap();
        let Protocol::Vrrp3 { interval, .. } = c.protocol else {
            panic!("still VRRPv3");
        };
        assert_eq!(interval, Centiseconds((s * 100 / 3) as u16), "{s} s");
        c.validate().unwrap();
    }
}

#[test]
fn ha_timeout_outside_3_to_15_seconds_is_refused() {
    // Input: ha_timeout of 2 s, 2.999 s, 15.001 s and 16 s.
    // Expected: ConfigError::HaTimeoutOutOfRange with the value given.
    for d in [secs(2), ms(2999), ms(15001), secs(16)] {
        assert_eq!(
            config(100).ha_timeout(d),
            Err(ConfigError::HaTimeoutOutOfRange(d))
        );
    }
}

#[test]
fn ha_timeout_takeover_between_timeout_and_timeout_plus_interval() {
    // Input (sim): a pair (200 / 100) configured with ha_timeout T for T in
    // 3, 5, 10, 15 s; the Active node is killed just after sending an advert.
    // Expected: the Backup becomes Active between T and T + interval
    // after the kill.
    for s in [3u64, 5, 10, 15] {
        let t = secs(s);
        let mut lan = Lan::new(s);
        let set = |c: &mut Config| *c = c.clone().ha_timeout(t).unwrap();
        let a = lan.add(NodeSpec::vrrp3(1, 200).with(set));
        let b = lan.add(NodeSpec::vrrp3(2, 100).with(set));
        lan.start_all();
        lan.run_for(4 * t);
        assert_eq!(lan.actives(1), vec![a]);
        let n = lan.events().len();
        lan.run_until(t, |l| {
            l.events()[n..]
                .iter()
                .any(|e| e.node == a && matches!(e.kind, EventKind::Sent { .. }))
        })
        .expect("A advertises");
        let killed = lan.now();
        lan.kill(a);
        let took = lan
            .run_until(3 * t, |l| l.actives(1) == vec![b])
            .expect("takeover")
            - killed;
        let interval = t / 3;
        assert!(
            took >= t && took <= t + interval,
            "T = {t:?}: takeover after {took:?}"
        );
    }
}

#[test]
fn vrrp3_10ms_interval_takes_over_within_three_intervals_skew_and_one() {
    // Input (sim): a VRRPv3 pair (200 / 100) with a 10 ms interval (1 cs);
    // the Active node is killed at an arbitrary moment.
    // Expected: the Backup becomes Active within 3 * 10 ms + Skew_Time
    // (156/256 * 10 ms) + one interval; the pair is stable before the kill.
    let fast = |c: &mut Config| c.protocol = Protocol::vrrp3(Centiseconds(1));
    let mut lan = Lan::new(9);
    let a = lan.add(NodeSpec::vrrp3(1, 200).with(fast));
    let b = lan.add(NodeSpec::vrrp3(2, 100).with(fast));
    lan.start_all();
    lan.run_for(secs(1));
    assert_eq!(lan.actives(1), vec![a]);
    let t0 = lan.now();
    lan.run_for(secs(2));
    assert_eq!(state_changes(&lan, a, t0) + state_changes(&lan, b, t0), 0);
    lan.run_for(ms(3));
    let killed = lan.now();
    lan.kill(a);
    let took = lan
        .run_until(secs(1), |l| l.actives(1) == vec![b])
        .expect("takeover")
        - killed;
    let bound = ms(30) + Duration::from_micros(156 * 10_000 / 256) + ms(10);
    assert!(took <= bound, "took {took:?}, bound {bound:?}");
}

// ----- manual failover -------------------------------------------------------

#[test]
fn failover_hands_role_to_partner_which_keeps_it_until_it_dies() {
    // Input (sim): A 200 Active, B 100 Backup, both preempting; Failover
    // on A; 60 s; then B is killed.
    // Expected: B Active within its Skew_Time (156/256 s) plus the link
    // delay; A does not take the role back in 60 s (despite preempt and a
    // higher priority); when B dies, A takes over within its
    // Active_Down_Interval (3 s + 56/256 s).
    let mut lan = Lan::new(21);
    let a = lan.add(NodeSpec::vrrp3(1, 200));
    let b = lan.add(NodeSpec::vrrp3(2, 100));
    lan.start_all();
    lan.run_for(secs(10));
    assert_eq!(lan.actives(1), vec![a]);
    let t0 = lan.now();
    lan.command(a, None, Command::Failover);
    assert_eq!(lan.state(a, 0), State::Backup);
    let t = lan
        .run_until(secs(5), |l| l.actives(1) == vec![b])
        .expect("B takes the role");
    assert!(t - t0 <= ms(610), "took {:?}", t - t0);
    let handed = lan.now();
    lan.run_for(secs(60));
    assert_eq!(lan.actives(1), vec![b]);
    assert_eq!(state_changes(&lan, a, handed), 0);
    let killed = lan.now();
    lan.kill(b);
    let t = lan
        .run_until(secs(10), |l| l.actives(1) == vec![a])
        .expect("A takes it back once B is gone");
    assert!(t - killed <= ms(3220), "took {:?}", t - killed);
}

#[test]
fn failover_on_a_backup_does_nothing() {
    // Input: a Backup router hearing an Active peer; Command::Failover.
    // Expected: no action, still Backup, same deadline.
    let mut vr = VirtualRouter::new(config(100), Instant::ZERO, &[]).unwrap();
    vr.handle_command(Instant::ZERO, Command::Start);
    vr.handle_advert(at(secs(1)), rx(&v3(200)));
    drain(&mut vr);
    let deadline = vr.poll_timeout();
    vr.handle_command(at(secs(2)), Command::Failover);
    assert!(drain(&mut vr).is_empty());
    assert_eq!(vr.state(), State::Backup);
    assert_eq!(vr.poll_timeout(), deadline);
}

// ----- maintenance -----------------------------------------------------------

#[test]
fn maintenance_on_active_resigns_and_never_claims_until_off() {
    // Input (sim): A 200 Active, B 100; Maintenance(true) on A; 30 s; B is
    // killed; 30 s; Maintenance(false) on A.
    // Expected: B takes over within its Skew_Time; A stays Backup even
    // after B dies (no Active at all); after maintenance ends, A becomes
    // Active within its Active_Down_Interval.
    let mut lan = Lan::new(8);
    let a = lan.add(NodeSpec::vrrp3(1, 200));
    let b = lan.add(NodeSpec::vrrp3(2, 100));
    lan.start_all();
    lan.run_for(secs(10));
    let t0 = lan.now();
    lan.command(a, None, Command::Maintenance(true));
    assert_eq!(lan.state(a, 0), State::Backup);
    assert_eq!(
        lan.router(a, 0).unwrap().status().passive,
        Some(Reason::Maintenance)
    );
    let t = lan
        .run_until(secs(5), |l| l.actives(1) == vec![b])
        .expect("B takes over");
    assert!(t - t0 <= ms(610));
    lan.run_for(secs(30));
    assert_eq!(lan.actives(1), vec![b]);
    lan.kill(b);
    lan.run_for(secs(30));
    assert_eq!(lan.actives(1), Vec::<usize>::new());
    assert_eq!(lan.state(a, 0), State::Backup);
    let t1 = lan.now();
    lan.command(a, None, Command::Maintenance(false));
    assert_eq!(lan.router(a, 0).unwrap().status().passive, None);
    let t = lan
        .run_until(secs(10), |l| l.actives(1) == vec![a])
        .expect("A claims after maintenance");
    assert!(t - t1 <= ms(3220));
}

#[test]
fn maintenance_alone_never_claims() {
    // Input: a lone router started and put in maintenance before its down
    // timer runs out; 60 s.
    // Expected: it stays Backup with no deadline; off: Active after its
    // Active_Down_Interval.
    let mut vr = VirtualRouter::new(config(100), Instant::ZERO, &[]).unwrap();
    vr.handle_command(Instant::ZERO, Command::Start);
    vr.handle_command(at(secs(1)), Command::Maintenance(true));
    assert_eq!(vr.poll_timeout(), None);
    run_to(&mut vr, at(secs(60)));
    assert_eq!(vr.state(), State::Backup);
    vr.handle_command(at(secs(60)), Command::Maintenance(false));
    assert_eq!(
        vr.poll_timeout(),
        Some(at(secs(60)) + vr.active_down_interval())
    );
    run_to(&mut vr, at(secs(65)));
    assert_eq!(vr.state(), State::Active);
}

#[test]
fn maintenance_on_backup_stays_backup_and_does_not_take_over() {
    // Input (sim): A 200 Active, B 100 Backup; Maintenance(true) on B; A
    // is killed; 30 s; Maintenance(false) on B.
    // Expected: B stays Backup while in maintenance (nobody Active), and
    // takes over within its Active_Down_Interval once it is off.
    let mut lan = Lan::new(4);
    let a = lan.add(NodeSpec::vrrp3(1, 200));
    let b = lan.add(NodeSpec::vrrp3(2, 100));
    lan.start_all();
    lan.run_for(secs(10));
    lan.command(b, None, Command::Maintenance(true));
    lan.run_for(secs(10));
    assert_eq!(lan.actives(1), vec![a]);
    assert_eq!(lan.state(b, 0), State::Backup);
    lan.kill(a);
    lan.run_for(secs(30));
    assert_eq!(lan.state(b, 0), State::Backup);
    let t = lan.now();
    lan.command(b, None, Command::Maintenance(false));
    let up = lan
        .run_until(secs(10), |l| l.actives(1) == vec![b])
        .expect("B claims after maintenance");
    assert!(up - t <= ms(3610));
}

// ----- preempt delay ---------------------------------------------------------

#[test]
fn preempt_delay_holds_off_preemption_for_the_delay() {
    // Input (sim): A 100 Active alone; B 200 with preempt_delay 30 s
    // started later.
    // Expected: A stays the only Active for 30 s after B's start; B
    // preempts after that, within its Active_Down_Interval (3 s + 56/256 s)
    // plus one interval.
    let mut lan = Lan::new(6);
    let a = lan.add(NodeSpec::vrrp3(1, 100));
    let b = lan.add(NodeSpec::vrrp3(2, 200).with(|c| c.preempt_delay = secs(30)));
    lan.start(a);
    lan.run_for(secs(10));
    assert_eq!(lan.actives(1), vec![a]);
    lan.start(b);
    let t0 = lan.now();
    let early = lan.run_until(ms(29_999), |l| l.actives(1) != vec![a]);
    assert_eq!(early, None, "B preempted before its delay");
    let t = lan
        .run_until(secs(10), |l| l.actives(1) == vec![b])
        .expect("B preempts after the delay");
    assert!(t - t0 >= secs(30));
    assert!(t - t0 <= secs(30) + ms(3220 + 1000), "took {:?}", t - t0);
}

#[test]
fn preempt_delay_does_not_delay_a_takeover_when_the_active_dies() {
    // Input (sim): A 100 Active, B 200 with preempt_delay 30 s started
    // later; A is killed 5 s after B's start.
    // Expected: B takes over within its Active_Down_Interval of A's last
    // advert (the delay only holds off preemption).
    let mut lan = Lan::new(6);
    let a = lan.add(NodeSpec::vrrp3(1, 100));
    let b = lan.add(NodeSpec::vrrp3(2, 200).with(|c| c.preempt_delay = secs(30)));
    lan.start(a);
    lan.run_for(secs(10));
    lan.start(b);
    lan.run_for(secs(5));
    let killed = lan.now();
    lan.kill(a);
    let t = lan
        .run_until(secs(10), |l| l.actives(1) == vec![b])
        .expect("B takes over");
    assert!(t - killed <= ms(3220), "took {:?}", t - killed);
}
