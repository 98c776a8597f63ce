//! Diagnostics an operator needs: split brain and its end, silence (no
//! advert from any peer), a duplicate VRID with other addresses, a peer of
//! another protocol version, and peers of one VRID mixing checksum forms.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use tandem_election::sim::{node_addr, Event, EventKind, Lan, NodeSpec};
use tandem_election::{
    Action, Advert, ChecksumPolicy, Command, Config, Diagnostic, Instant, Protocol, Received,
    State, VirtualRouter,
};
use tandem_wire::{carp, vrrp2, vrrp3, Centiseconds, ChecksumMode, Priority, Seconds, Vrid};

const ME: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10));
const PEER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 20));
const OTHER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 30));
const VIP: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100));

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn at(d: Duration) -> Instant {
    Instant::from_duration(d)
}

/// VRID 1, priority 100, 1 s, silence after 3 intervals, no announce refresh.
fn config() -> Config {
    let mut c = Config::new(Vrid::new(1).unwrap(), ME, vec![VIP]);
    c.announce.refresh_after = None;
    c
}

fn started(c: Config) -> VirtualRouter {
    let mut vr = VirtualRouter::new(c, Instant::ZERO, &[]).unwrap();
    vr.handle_command(Instant::ZERO, Command::Start);
    drain(&mut vr);
    vr
}

fn drain(vr: &mut VirtualRouter) -> Vec<Action> {
    std::iter::from_fn(|| vr.poll_action()).collect()
}

fn diags(actions: &[Action]) -> Vec<Diagnostic> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Diagnostic(d) => Some(d.clone()),
            _ => None,
        })
        .collect()
}

fn v3(priority: u8, addr: Ipv4Addr, mode: ChecksumMode) -> Advert {
    Advert::Vrrp3 {
        repr: vrrp3::Repr {
            vrid: Vrid::new(1).unwrap(),
            priority: Priority(priority),
            max_adver_int: Centiseconds(100),
            addresses: vrrp3::Addresses::V4(vec![addr]),
        },
        checksum: Some(mode),
    }
}

fn from(src: IpAddr, advert: &Advert) -> Received<'_> {
    Received {
        src,
        ttl: 255,
        advert,
    }
}

fn vip4() -> Ipv4Addr {
    Ipv4Addr::new(192, 0, 2, 100)
}

fn node_diags(lan: &Lan, node: usize, since: Instant) -> Vec<(Instant, Diagnostic)> {
    lan.events()
        .iter()
        .filter(|e| e.node == node && e.at >= since)
        .filter_map(|e| match &e.kind {
            EventKind::Diagnostic(d) => Some((e.at, d.clone())),
            _ => None,
        })
        .collect()
}

fn is_sent_by(e: &Event, node: usize) -> bool {
    e.node == node && matches!(e.kind, EventKind::Sent { .. })
}

// ----- split brain -----------------------------------------------------------

/// A (200) and B (100) partitioned until both are Active.
fn partitioned_pair() -> (Lan, usize, usize) {
    let mut lan = Lan::new(12);
    let a = lan.add(NodeSpec::vrrp3(1, 200));
    let b = lan.add(NodeSpec::vrrp3(2, 100));
    lan.start_all();
    lan.run_for(secs(10));
    lan.partition(&[&[a], &[b]]);
    lan.run_for(secs(10));
    assert_eq!(lan.actives(1), vec![a, b], "both Active while partitioned");
    (lan, a, b)
}

#[test]
fn split_brain_heal_reported_on_both_sides_and_resolved_on_the_winner() {
    // Input (sim): A (200) and B (100) partitioned until both are Active;
    // healed just after A's advert (so B's next advert reaches A first).
    // Expected: A reports SplitBrain { other: B, 100, we_win: true } and
    // answers at once; B reports SplitBrain { other: A, 200, we_win: false }
    // and leaves Active; a single Active (A) within one advert interval +
    // B's Skew_Time of the heal; two intervals later A reports
    // SplitBrainResolved and announces its addresses again.
    let (mut lan, a, b) = partitioned_pair();
    let n = lan.events().len();
    lan.run_until(secs(2), |l| {
        l.events()[n..].iter().any(|e| is_sent_by(e, a))
    })
    .expect("A advertises");
    let healed = lan.now();
    lan.heal();
    let single = lan
        .run_until(secs(5), |l| l.actives(1) == vec![a])
        .expect("one Active");
    let bound = secs(1) + Duration::from_nanos(156 * 1_000_000_000 / 256);
    assert!(single - healed <= bound, "took {:?}", single - healed);
    lan.run_for(secs(5));
    assert_eq!(lan.actives(1), vec![a]);
    assert_eq!(lan.holders(VIP), vec![a]);

    let on_a = node_diags(&lan, a, healed);
    let on_b = node_diags(&lan, b, healed);
    let split_a: Vec<&Diagnostic> = on_a
        .iter()
        .map(|(_, d)| d)
        .filter(|d| matches!(d, Diagnostic::SplitBrain { .. }))
        .collect();
    assert_eq!(
        split_a,
        vec![&Diagnostic::SplitBrain {
            other: node_addr(2),
            other_priority: Priority(100),
            we_win: true
        }]
    );
    assert!(on_b.iter().any(|(_, d)| *d
        == Diagnostic::SplitBrain {
            other: node_addr(1),
            other_priority: Priority(200),
            we_win: false
        }));
    let resolved: Vec<Instant> = on_a
        .iter()
        .filter(|(_, d)| *d == Diagnostic::SplitBrainResolved)
        .map(|(t, _)| *t)
        .collect();
    assert_eq!(resolved.len(), 1, "{on_a:?}");
    // Two intervals after A last heard B (just before B left).
    let after = resolved[0] - single;
    assert!(after >= secs(2) - ms(1) && after <= secs(3), "{after:?}");
    let announced_at_resolution = lan.events().iter().any(|e| {
        e.node == a && e.at == resolved[0] && matches!(e.kind, EventKind::Announced { .. })
    });
    assert!(announced_at_resolution, "second announce on the winner");
    assert!(node_diags(&lan, b, healed)
        .iter()
        .all(|(_, d)| *d != Diagnostic::SplitBrainResolved));
}

#[test]
fn split_brain_heal_when_the_winner_speaks_first_the_loser_says_goodbye() {
    // Input (sim): as above, healed just after B's advert (so A's next
    // advert reaches B first).
    // Expected: B reports SplitBrain { other: A, 200, we_win: false },
    // sends one last advert of its own and leaves Active within one
    // interval of the heal; A, hearing that last advert, learns that B was
    // Active too: SplitBrain { other: B, 100, we_win: true }, then
    // SplitBrainResolved and a second gratuitous ARP burst, since hosts
    // learnt B's address during the partition.
    let (mut lan, a, b) = partitioned_pair();
    let n = lan.events().len();
    lan.run_until(secs(2), |l| {
        l.events()[n..].iter().any(|e| is_sent_by(e, b))
    })
    .expect("B advertises");
    let healed = lan.now();
    lan.heal();
    let single = lan
        .run_until(secs(5), |l| l.actives(1) == vec![a])
        .expect("one Active");
    assert!(single - healed <= secs(1) + ms(1));
    lan.run_for(secs(5));
    let splits = |node| {
        node_diags(&lan, node, healed)
            .into_iter()
            .map(|(_, d)| d)
            .filter(|d| {
                matches!(
                    d,
                    Diagnostic::SplitBrain { .. } | Diagnostic::SplitBrainResolved
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        splits(b),
        vec![Diagnostic::SplitBrain {
            other: node_addr(1),
            other_priority: Priority(200),
            we_win: false
        }]
    );
    assert_eq!(
        splits(a),
        vec![
            Diagnostic::SplitBrain {
                other: node_addr(2),
                other_priority: Priority(100),
                we_win: true
            },
            Diagnostic::SplitBrainResolved,
        ]
    );
    assert!(lan
        .events()
        .iter()
        .any(|e| e.node == a && e.at > healed && matches!(e.kind, EventKind::Announced { .. })));
}

// ----- silence ---------------------------------------------------------------

#[test]
fn silence_is_a_backups_observation_then_peer_heard() {
    // Input: a router (1 s interval, silence after 3 intervals, initial
    // wait 20 s) started at 0 hears an Active peer at 1 s, then nothing
    // until 4.5 s, when the peer advertises again, and again at 5 s.
    // Expected: nothing up to 3.999 s (a normal start raises nothing);
    // Diagnostic::Silence { intervals: 3 } at exactly 4 s (3 intervals
    // after the last advert, before the 4.609 s takeover); PeerHeard at
    // 4.5 s; nothing at 5 s.
    let mut c = config();
    c.initial_wait = secs(20);
    let mut vr = started(c);
    let adv = v3(200, vip4(), ChecksumMode::PseudoHeader);
    vr.handle_advert(at(secs(1)), from(PEER, &adv));
    assert!(diags(&drain(&mut vr)).is_empty());
    let mut seen = Vec::new();
    while let Some(t) = vr.poll_timeout().filter(|t| *t <= at(ms(4400))) {
        vr.handle_timeout(t);
        seen.extend(diags(&drain(&mut vr)).into_iter().map(|d| (t, d)));
    }
    assert_eq!(
        seen,
        vec![(at(secs(4)), Diagnostic::Silence { intervals: 3 })]
    );
    vr.handle_advert(at(ms(4500)), from(PEER, &adv));
    assert_eq!(
        diags(&drain(&mut vr)),
        vec![Diagnostic::PeerHeard { src: PEER }]
    );
    // A peer heard without silence first: no PeerHeard.
    vr.handle_advert(at(secs(5)), from(PEER, &adv));
    assert!(diags(&drain(&mut vr)).is_empty());
}

#[test]
fn silence_is_not_reported_by_an_active_router_or_at_a_normal_start() {
    // Input: a lone router that becomes Active (nobody to hear: in a
    // healthy pair the Active hears no one either, Backups are silent).
    // Expected: no Silence in 20 s.
    let mut vr = started(config());
    let mut seen = Vec::new();
    while let Some(t) = vr.poll_timeout().filter(|t| *t <= at(secs(20))) {
        vr.handle_timeout(t);
        seen.extend(diags(&drain(&mut vr)));
    }
    assert_eq!(vr.state(), State::Active);
    assert!(
        !seen.iter().any(|d| matches!(d, Diagnostic::Silence { .. })),
        "{seen:?}"
    );
}

#[test]
fn silence_in_the_sim_when_the_active_dies_then_peer_heard() {
    // Input (sim): A (100) and B (200) start; B is Active; B is killed at
    // 20 s and restarted at 30 s.
    // Expected: no Silence before the kill; A reports Silence { intervals:
    // 3 } within 3 s of the kill, before it takes over; PeerHeard
    // { src: B } once B advertises again.
    let mut lan = Lan::new(1);
    let a = lan.add(NodeSpec::vrrp3(1, 100));
    let b = lan.add(NodeSpec::vrrp3(2, 200));
    lan.start_all();
    lan.run_for(secs(20));
    assert_eq!(lan.actives(1), vec![b]);
    assert!(node_diags(&lan, a, Instant::ZERO).is_empty());
    let killed = lan.now();
    lan.kill(b);
    lan.run_for(secs(10));
    let d = node_diags(&lan, a, killed);
    let silence = d
        .iter()
        .find(|(_, d)| *d == Diagnostic::Silence { intervals: 3 })
        .expect("silence");
    assert!(
        silence.0 - killed <= secs(3),
        "silence {:?} after the kill",
        silence.0 - killed
    );
    assert_eq!(lan.actives(1), vec![a]);
    let t0 = lan.now();
    lan.start(b);
    lan.run_for(secs(10));
    assert_eq!(lan.actives(1), vec![b]);
    assert!(node_diags(&lan, a, t0)
        .iter()
        .any(|(_, d)| *d == Diagnostic::PeerHeard { src: node_addr(2) }));
}

#[test]
fn duplicate_vrid_with_other_addresses_is_reported_and_dropped() {
    // Input: a Backup router (VIP 192.0.2.100) gets, at 1 s, an advert for
    // its VRID of priority 200 listing 192.0.2.200 instead.
    // Expected: DuplicateVrid { src, addresses: [192.0.2.200] }; the advert
    // is dropped (the down timer still runs from the start and the router
    // becomes Active then).
    let mut vr = started(config());
    let adv = v3(
        200,
        Ipv4Addr::new(192, 0, 2, 200),
        ChecksumMode::PseudoHeader,
    );
    vr.handle_advert(at(secs(1)), from(PEER, &adv));
    assert_eq!(
        diags(&drain(&mut vr)),
        vec![Diagnostic::DuplicateVrid {
            src: PEER,
            addresses: vec![IpAddr::V4(Ipv4Addr::new(192, 0, 2, 200))]
        }]
    );
    assert_eq!(vr.active_router(), None);
    let down = vr.active_down_interval();
    let mut t = at(secs(1));
    while let Some(d) = vr.poll_timeout().filter(|d| *d <= at(down)) {
        t = d;
        vr.handle_timeout(d);
    }
    assert_eq!(vr.state(), State::Active);
    assert_eq!(t, at(down));
}

#[test]
fn duplicate_vrid_in_the_sim_both_nodes_report_it() {
    // Input (sim): two nodes on VRID 1, one with 192.0.2.100, the other
    // with 192.0.2.200.
    // Expected: both end up Active (neither accepts the other's adverts),
    // and each reports DuplicateVrid naming the other and its address.
    let mut lan = Lan::new(3);
    let a = lan.add(NodeSpec::vrrp3(1, 200));
    let other = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 200));
    let b = lan.add(NodeSpec::vrrp3(2, 100).with(|c| c.addresses = vec![other]));
    lan.start_all();
    lan.run_for(secs(10));
    assert_eq!(lan.actives(1), vec![a, b]);
    assert!(node_diags(&lan, a, Instant::ZERO).iter().any(|(_, d)| *d
        == Diagnostic::DuplicateVrid {
            src: node_addr(2),
            addresses: vec![other]
        }));
    assert!(node_diags(&lan, b, Instant::ZERO).iter().any(|(_, d)| *d
        == Diagnostic::DuplicateVrid {
            src: node_addr(1),
            addresses: vec![VIP]
        }));
}

// ----- version mismatch --------------------------------------------------------

#[test]
fn version_mismatch_vrrp2_advert_to_vrrp3_router() {
    // Input: a VRRPv3 router (no VRRPv2 compatibility) in Backup gets a
    // VRRPv2 advert of priority 200, then a CARP advert.
    // Expected: VersionMismatch { theirs: 2, ours: 3 } each time; neither
    // holds the router back (Active at its Active_Down_Interval).
    let mut vr = started(config());
    let v2 = Advert::Vrrp2(vrrp2::Repr {
        vrid: Vrid::new(1).unwrap(),
        priority: Priority(200),
        adver_int: Seconds(1),
        auth: vrrp2::Auth::None,
        addresses: vec![vip4()],
    });
    let carp = Advert::Carp {
        repr: carp::Repr {
            vhid: Vrid::new(1).unwrap(),
            advskew: 0,
            advbase: 1,
            demotion: 0,
            counter: 1,
        },
        hmac: [0; carp::HMAC_LEN],
    };
    for adv in [&v2, &carp] {
        vr.handle_advert(at(secs(1)), from(PEER, adv));
        assert_eq!(
            diags(&drain(&mut vr)),
            vec![Diagnostic::VersionMismatch {
                src: PEER,
                theirs: 2,
                ours: 3
            }]
        );
        assert_eq!(vr.active_router(), None);
    }
    let down = vr.active_down_interval();
    while let Some(d) = vr.poll_timeout().filter(|d| *d <= at(down)) {
        vr.handle_timeout(d);
    }
    assert_eq!(vr.state(), State::Active);
}

#[test]
fn version_mismatch_in_the_sim_vrrp2_and_vrrp3_nodes_report_each_other() {
    // Input (sim): a VRRPv3 node and a VRRPv2 node on VRID 1.
    // Expected: both Active; the VRRPv3 node reports VersionMismatch
    // { theirs: 2, ours: 3 }, the VRRPv2 node { theirs: 3, ours: 2 }.
    let mut lan = Lan::new(4);
    let a = lan.add(NodeSpec::vrrp3(1, 200));
    let b = lan.add(NodeSpec::vrrp2(2, 100));
    lan.start_all();
    lan.run_for(secs(10));
    assert_eq!(lan.actives(1), vec![a, b]);
    assert!(node_diags(&lan, a, Instant::ZERO).iter().any(|(_, d)| *d
        == Diagnostic::VersionMismatch {
            src: node_addr(2),
            theirs: 2,
            ours: 3
        }));
    assert!(node_diags(&lan, b, Instant::ZERO).iter().any(|(_, d)| *d
        == Diagnostic::VersionMismatch {
            src: node_addr(1),
            theirs: 3,
            ours: 2
        }));
}

// ----- checksum forms ------------------------------------------------------------

#[test]
fn checksum_mode_auto_reports_peers_mixing_forms() {
    // Input: an Auto router hears peer P with the pseudo-header form, then
    // peer O with the RFC 9568 form (no pseudo-header).
    // Expected: no diagnostic for P alone; on O's advert ChecksumMode
    // { src: P, theirs: PseudoHeader, ours: NoPseudoHeader } (it now sends
    // in O's form); status lists both peers' forms.
    let mut vr = started(config());
    let ph = v3(200, vip4(), ChecksumMode::PseudoHeader);
    let noph = v3(200, vip4(), ChecksumMode::NoPseudoHeader);
    vr.handle_advert(at(ms(500)), from(PEER, &ph));
    assert!(!diags(&drain(&mut vr))
        .iter()
        .any(|d| matches!(d, Diagnostic::ChecksumMode { .. })));
    vr.handle_advert(at(ms(700)), from(OTHER, &noph));
    assert_eq!(
        diags(&drain(&mut vr)),
        vec![Diagnostic::ChecksumMode {
            src: PEER,
            theirs: ChecksumMode::PseudoHeader,
            ours: ChecksumMode::NoPseudoHeader
        }]
    );
    assert_eq!(
        vr.status().peer_checksum_modes,
        vec![
            (PEER, ChecksumMode::PseudoHeader),
            (OTHER, ChecksumMode::NoPseudoHeader)
        ]
    );
}

#[test]
fn checksum_mode_auto_in_the_sim_reports_two_peers_of_different_forms() {
    // Input (sim): B (200) strict RFC 9568 form, C (150) strict
    // pseudo-header form, A (50) Auto; all on VRID 1.
    // Expected: B and C drop each other's adverts (both Active); A hears
    // both and reports a ChecksumMode mix naming one of them with its form.
    let mut lan = Lan::new(5);
    let a = lan.add(NodeSpec::vrrp3(1, 50));
    let strict = |policy: ChecksumPolicy| {
        move |c: &mut Config| {
            c.protocol = Protocol::Vrrp3 {
                interval: Centiseconds(100),
                checksum: policy,
                v2_compat: false,
            }
        }
    };
    let b = lan.add(NodeSpec::vrrp3(2, 200).with(strict(ChecksumPolicy::Rfc9568)));
    let c = lan.add(NodeSpec::vrrp3(3, 150).with(strict(ChecksumPolicy::Ipv4PseudoHeader)));
    lan.start_all();
    lan.run_for(secs(10));
    assert_eq!(lan.actives(1), vec![b, c]);
    assert_eq!(lan.state(a, 0), State::Backup);
    let mixes: Vec<Diagnostic> = node_diags(&lan, a, Instant::ZERO)
        .into_iter()
        .map(|(_, d)| d)
        .filter(|d| matches!(d, Diagnostic::ChecksumMode { .. }))
        .collect();
    assert!(
        mixes.iter().any(|d| *d
            == Diagnostic::ChecksumMode {
                src: node_addr(2),
                theirs: ChecksumMode::NoPseudoHeader,
                ours: ChecksumMode::PseudoHeader
            }
            || *d
                == Diagnostic::ChecksumMode {
                    src: node_addr(3),
                    theirs: ChecksumMode::PseudoHeader,
                    ours: ChecksumMode::NoPseudoHeader
                }),
        "{mixes:?}"
    );
    let modes = lan.router(a, 0).unwrap().status().peer_checksum_modes;
    assert!(modes.contains(&(node_addr(2), ChecksumMode::NoPseudoHeader)));
    assert!(modes.contains(&(node_addr(3), ChecksumMode::PseudoHeader)));
    // The strict routers report each other's form as refused.
    assert!(node_diags(&lan, b, Instant::ZERO).iter().any(|(_, d)| *d
        == Diagnostic::ChecksumMode {
            src: node_addr(3),
            theirs: ChecksumMode::PseudoHeader,
            ours: ChecksumMode::NoPseudoHeader
        }));
}
