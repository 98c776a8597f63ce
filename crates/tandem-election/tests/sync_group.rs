//! Sync groups: the virtual routers of one node change state together,
//! all or nothing. Two nodes, each running VRID 1 and VRID 2 as one group.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use tandem_election::sim::{EventKind, Lan, LinkModel, NodeSpec};
use tandem_election::{
    Action, Command, Instant, Reason, State, SyncGroup, Track, TrackEffect, VirtualRouter,
};
use tandem_wire::{Priority, Vrid};

const VIP1: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100));
const VIP2: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 101));

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Node `n` running VRID 1 (192.0.2.100) and VRID 2 (192.0.2.101) at
/// `priority`, both tracking "uplink" with effect Fault.
fn group_node(n: u8, priority: u8) -> NodeSpec {
    let mut first = NodeSpec::vrrp3(n, priority).routers.remove(0);
    first.tracks = vec![Track {
        name: "uplink".into(),
        effect: TrackEffect::Fault,
    }];
    let mut second = first.clone();
    second.vrid = Vrid::new(2).unwrap();
    second.addresses = vec![VIP2];
    NodeSpec::routers(vec![first, second])
}

fn group_state(lan: &Lan, node: usize) -> Option<State> {
    lan.group(node).expect("node runs").state()
}

/// A (200) and B (100), settled with A Active.
fn settled_pair(seed: u64) -> (Lan, usize, usize) {
    let mut lan = Lan::new(seed);
    let a = lan.add(group_node(1, 200));
    let b = lan.add(group_node(2, 100));
    lan.start_all();
    lan.run_for(secs(10));
    assert_eq!((lan.actives(1), lan.actives(2)), (vec![a], vec![a]));
    assert_eq!(group_state(&lan, a), Some(State::Active));
    assert_eq!(group_state(&lan, b), Some(State::Backup));
    (lan, a, b)
}

fn state_changes(lan: &Lan, node: usize, since: Instant) -> Vec<(u8, State, State)> {
    lan.events()
        .iter()
        .filter(|e| e.node == node && e.at > since)
        .filter_map(|e| match e.kind {
            EventKind::State { vrid, from, to, .. } => Some((vrid, from, to)),
            _ => None,
        })
        .collect()
}

#[test]
fn sync_group_member_fault_on_active_node_moves_every_member_to_the_partner() {
    // Input (sim): A (VRID 1 + 2, priority 200) Active, B (100) Backup;
    // "uplink" goes down on A's VRID 1 only; later it comes up.
    // Expected: both of A's members in Fault (group state Fault), both of
    // B's Active within B's Skew_Time (156/256 s) plus the link delay, B
    // holds both addresses; after the uplink is up A (preempt, 200) takes
    // both back and the groups agree again.
    let (mut lan, a, b) = settled_pair(1);
    let t0 = lan.now();
    lan.command(a, Some(0), Command::TrackDown("uplink".into()));
    assert_eq!(group_state(&lan, a), Some(State::Fault));
    assert_eq!(
        lan.router(a, 1).unwrap().status().tracks_down,
        Vec::<String>::new()
    );
    let t = lan
        .run_until(secs(5), |l| {
            l.actives(1) == vec![b] && l.actives(2) == vec![b]
        })
        .expect("B takes both VRIDs");
    assert!(t - t0 <= ms(620), "took {:?}", t - t0);
    lan.run_for(secs(30));
    assert_eq!((lan.actives(1), lan.actives(2)), (vec![b], vec![b]));
    assert_eq!(group_state(&lan, a), Some(State::Fault));
    assert_eq!(group_state(&lan, b), Some(State::Active));
    assert_eq!(lan.holders(VIP1), vec![b]);
    assert_eq!(lan.holders(VIP2), vec![b]);

    lan.command(a, Some(0), Command::TrackUp("uplink".into()));
    assert_eq!(group_state(&lan, a), Some(State::Backup));
    lan.run_for(secs(30));
    assert_eq!((lan.actives(1), lan.actives(2)), (vec![a], vec![a]));
    assert_eq!(group_state(&lan, a), Some(State::Active));
    assert_eq!(group_state(&lan, b), Some(State::Backup));
    assert_eq!(lan.holders(VIP1), vec![a]);
    assert_eq!(lan.holders(VIP2), vec![a]);
}

#[test]
fn sync_group_member_fault_on_backup_node_keeps_the_group_out_of_the_election() {
    // Input (sim): A Active, B Backup; "uplink" goes down on B's VRID 2;
    // A is killed; 30 s; B's uplink comes up.
    // Expected: B's group in Fault with no change on A; B does not take
    // over while in Fault (nobody Active); after the uplink is up B takes
    // both VRIDs within its Active_Down_Interval (3 s + 156/256 s).
    let (mut lan, a, b) = settled_pair(2);
    let t0 = lan.now();
    lan.command(b, Some(1), Command::TrackDown("uplink".into()));
    assert_eq!(group_state(&lan, b), Some(State::Fault));
    lan.run_for(secs(10));
    assert!(state_changes(&lan, a, t0).is_empty());
    lan.kill(a);
    lan.run_for(secs(30));
    assert_eq!((lan.actives(1), lan.actives(2)), (vec![], vec![]));
    let t1 = lan.now();
    lan.command(b, Some(1), Command::TrackUp("uplink".into()));
    assert_eq!(group_state(&lan, b), Some(State::Backup));
    let t = lan
        .run_until(secs(10), |l| {
            l.actives(1) == vec![b] && l.actives(2) == vec![b]
        })
        .expect("B takes both");
    assert!(t - t1 <= ms(3610));
    assert_eq!(group_state(&lan, b), Some(State::Active));
}

/// Raises the priority of `member` on B to 250 and checks the whole group
/// moves to B once and stays there for 60 s.
fn preempt_one_member_moves_the_group(member: usize, seed: u64, link: LinkModel) {
    let (mut lan, a, b) = settled_pair(seed);
    lan.set_link(link);
    let t0 = lan.now();
    lan.command(b, Some(member), Command::SetPriority(Priority(250)));
    lan.run_for(secs(60));
    assert_eq!((lan.actives(1), lan.actives(2)), (vec![b], vec![b]));
    assert_eq!(group_state(&lan, a), Some(State::Backup));
    assert_eq!(group_state(&lan, b), Some(State::Active));
    // One move per member and node: no flapping back.
    let mut on_a = state_changes(&lan, a, t0);
    let mut on_b = state_changes(&lan, b, t0);
    on_a.sort_by_key(|c| c.0);
    on_b.sort_by_key(|c| c.0);
    assert_eq!(
        on_a,
        vec![
            (1, State::Active, State::Backup),
            (2, State::Active, State::Backup)
        ]
    );
    assert_eq!(
        on_b,
        vec![
            (1, State::Backup, State::Active),
            (2, State::Backup, State::Active)
        ]
    );
    assert_eq!(lan.holders(VIP1), vec![b]);
    assert_eq!(lan.holders(VIP2), vec![b]);
}

#[test]
fn sync_group_preempting_member_vrid1_moves_the_whole_group_without_flapping() {
    // Input (sim): A (200, 200) Active, B (100, 100); B's VRID 1 is raised
    // to 250 (Command::SetPriority); 60 s.
    // Expected: B's VRID 1 preempts and brings VRID 2 along; A's VRID 2
    // (200 > B's 100) does not take it back: exactly one state change per
    // member on each node, groups Active (B) and Backup (A).
    preempt_one_member_moves_the_group(0, 3, LinkModel::default());
}

#[test]
fn sync_group_preempting_member_vrid2_moves_the_whole_group_without_flapping() {
    // Input (sim): as above, with B's VRID 2 raised to 250.
    // Expected: the same single move of both VRIDs to B.
    preempt_one_member_moves_the_group(1, 4, LinkModel::default());
}

#[test]
fn sync_group_active_node_killed_partner_takes_every_member() {
    // Input (sim): A Active, B Backup; A is killed.
    // Expected: both of B's members Active (group state Active) within B's
    // Active_Down_Interval (3 s + 156/256 s) of A's last advert.
    let (mut lan, a, b) = settled_pair(5);
    let t0 = lan.now();
    lan.kill(a);
    let t = lan
        .run_until(secs(10), |l| {
            l.actives(1) == vec![b] && l.actives(2) == vec![b]
        })
        .expect("B takes both");
    assert!(t - t0 <= ms(3610));
    assert_eq!(group_state(&lan, b), Some(State::Active));
}

#[test]
fn sync_group_never_ends_split_under_jitter_and_loss() {
    // Input (sim, 10 seeds): a pair of groups on a link with 0..20 ms of
    // jitter and 5 % loss, driven through a member Fault and recovery, a
    // priority raise on one member of the Backup node, a failover and a
    // kill and restart.
    // Expected: after each step settles, each running node's group state is
    // Some (never split), and exactly one node is Active for both VRIDs.
    for seed in 0..10 {
        let mut lan = Lan::new(seed);
        lan.set_link(LinkModel {
            delay: ms(1),
            jitter: ms(20),
            loss: 0.05,
            duplicate: 0.0,
        });
        let a = lan.add(group_node(1, 200));
        let b = lan.add(group_node(2, 100));
        lan.start_all();
        let steps: Vec<(usize, Option<usize>, Command)> = vec![
            (a, Some(1), Command::TrackDown("uplink".into())),
            (a, Some(1), Command::TrackUp("uplink".into())),
            (b, Some(0), Command::SetPriority(Priority(250))),
            (b, None, Command::Failover),
        ];
        let check = |lan: &Lan, what: &str| {
            for n in [a, b] {
                if lan.alive(n) {
                    assert!(
                        group_state(lan, n).is_some(),
                        "seed {seed}, {what}: node {n} split"
                    );
                }
            }
            let (one, two) = (lan.actives(1), lan.actives(2));
            assert_eq!(one.len(), 1, "seed {seed}, {what}: {one:?}");
            assert_eq!(one, two, "seed {seed}, {what}");
        };
        lan.run_for(secs(20));
        check(&lan, "start");
        for (node, member, cmd) in steps {
            let what = format!("{cmd:?} on {node}");
            lan.command(node, member, cmd);
            lan.run_for(secs(20));
            check(&lan, &what);
        }
        let active = lan.actives(1)[0];
        lan.kill(active);
        lan.run_for(secs(20));
        check(&lan, "kill");
        lan.start(active);
        lan.run_for(secs(20));
        check(&lan, "restart");
    }
}

#[test]
fn sync_group_direct_fault_of_one_member_faults_all_and_tags_the_actions() {
    // Input: a SyncGroup of two Backup routers (VRID 1, 2) driven directly;
    // "uplink" down on member 1 only.
    // Expected: both members in Fault; member 0's change has reason
    // SyncGroup { member: 2 }, member 1's TrackDown("uplink"); the actions
    // carry each member's index; group state Fault.
    let spec = group_node(1, 100);
    let routers: Vec<VirtualRouter> = spec
        .routers
        .into_iter()
        .map(|c| VirtualRouter::new(c, Instant::ZERO, &[]).unwrap())
        .collect();
    let mut g = SyncGroup::new(routers);
    g.handle_command(Instant::ZERO, None, Command::Start);
    assert_eq!(g.state(), Some(State::Backup));
    while g.poll_action().is_some() {}
    g.handle_command(
        Instant::from_millis(500),
        Some(1),
        Command::TrackDown("uplink".into()),
    );
    let changes: Vec<(usize, State, Reason)> = std::iter::from_fn(|| g.poll_action())
        .filter_map(|(i, a)| match a {
            Action::StateChanged { to, reason, .. } => Some((i, to, reason)),
            _ => None,
        })
        .collect();
    assert_eq!(
        changes,
        vec![
            (1, State::Fault, Reason::TrackDown("uplink".into())),
            (0, State::Fault, Reason::SyncGroup { member: 2 }),
        ]
    );
    assert_eq!(g.state(), Some(State::Fault));
    g.handle_command(
        Instant::from_millis(600),
        Some(1),
        Command::TrackUp("uplink".into()),
    );
    assert_eq!(g.state(), Some(State::Backup));
}

#[test]
fn sync_group_preemption_does_not_flap_when_adverts_arrive_out_of_order() {
    // Input (sim, 40 seeds x both members): as the two tests above, on a
    // link with 0..30 ms of jitter, so that the partner's adverts for VRID
    // 1 and VRID 2 reach A in either order.
    // Expected: the same single move of both VRIDs to B, every time.
    let link = LinkModel {
        delay: ms(1),
        jitter: ms(30),
        loss: 0.0,
        duplicate: 0.0,
    };
    for seed in 0..40 {
        preempt_one_member_moves_the_group((seed % 2) as usize, 100 + seed, link);
    }
}
