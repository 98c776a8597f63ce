//! Property tests of the election over random schedules in the simulator:
//! random priorities, start offsets, link delay and jitter, loss, kill
//! phases, partitions and sync-group faults, each drawn by proptest with
//! the simulator's seed. Every property states its rule and its bound.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use tandem_election::sim::{node_addr, EventKind, Lan, LinkModel, NodeId, NodeSpec};
use tandem_election::{
    Command, Config, PairRole, PreferredHost, Protocol, State, Track, TrackEffect,
};
use tandem_wire::{Priority, Vrid};

/// Every node's Advertisement_Interval in these runs (NodeSpec's default).
const INTERVAL: Duration = Duration::from_secs(1);

/// 48 cases each (the whole file runs in seconds), or `PROPTEST_CASES`.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(48);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

/// The virtual address of VRID `vrid`: 192.0.2.(99 + vrid).
fn vaddr(vrid: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, 99 + vrid))
}

/// RFC 9568 6.1 Skew_Time for a 1 s interval: `(256 - priority) / 256` s,
/// computed as the router does.
fn skew(priority: u8) -> Duration {
    INTERVAL * (256 - u32::from(priority)) / 256
}

/// RFC 9568 6.1 Active_Down_Interval: `3 * interval + Skew_Time`.
fn down_interval(priority: u8) -> Duration {
    3 * INTERVAL + skew(priority)
}

/// The longest one-way trip a frame takes on `link`.
fn max_trip(link: &LinkModel) -> Duration {
    link.delay + link.jitter
}

/// Node `i` of the LAN has address 192.0.2.(i + 1).
fn vrrp3_node(i: usize, priority: u8) -> NodeSpec {
    NodeSpec::vrrp3(i as u8 + 1, priority)
}

/// A link with a fixed delay of 0..5 ms and a jitter of 0..2 ms.
fn link() -> impl Strategy<Value = LinkModel> {
    (0u64..5_000, 0u64..2_000).prop_map(|(d, j)| LinkModel {
        delay: Duration::from_micros(d),
        jitter: Duration::from_micros(j),
        ..LinkModel::default()
    })
}

/// `n` distinct priorities in 1..=254, in random order.
fn distinct_priorities(n: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::sample::subsequence((1u8..=254).collect::<Vec<_>>(), n).prop_shuffle()
}

/// Distinct priorities, or one priority shared by all (the address tie-break).
fn priorities(n: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        distinct_priorities(n),
        (1u8..=254).prop_map(move |p| vec![p; n]),
    ]
}

/// The node that must win among `nodes` (highest priority, then highest
/// address, RFC 9568 6.4.3).
fn best(prios: &[u8], nodes: impl Iterator<Item = NodeId>) -> Option<NodeId> {
    nodes.max_by_key(|n| (prios[*n], *n))
}

/// A LAN of VRRPv3 nodes with `prios`, started at `offsets_ms` (relative).
fn start_lan(seed: u64, link: LinkModel, prios: &[u8], offsets_ms: &[u64]) -> Lan {
    let mut lan = Lan::new(seed);
    lan.set_link(link);
    for (i, p) in prios.iter().enumerate() {
        lan.add(vrrp3_node(i, *p));
    }
    let mut order: Vec<NodeId> = (0..prios.len()).collect();
    order.sort_by_key(|n| offsets_ms[*n]);
    let mut at = 0;
    for n in order {
        lan.run_for(Duration::from_millis(offsets_ms[n] - at));
        at = offsets_ms[n];
        lan.start(n);
    }
    lan
}

/// Exactly `node` is Active for VRID 1 and exactly it holds the address.
fn sole_active(lan: &Lan, node: NodeId) -> Result<(), TestCaseError> {
    prop_assert_eq!(
        lan.actives(1),
        vec![node],
        "Active routers at {}",
        lan.now()
    );
    prop_assert_eq!(lan.holders(vaddr(1)), vec![node], "address holders");
    Ok(())
}

/// State changes recorded at or after `since`.
fn state_changes_since(lan: &Lan, since: tandem_election::Instant) -> usize {
    lan.events()
        .iter()
        .filter(|e| e.at >= since && matches!(e.kind, EventKind::State { .. }))
        .count()
}

// ----- 1. convergence --------------------------------------------------------

fn rfc9568_6_4_3_converges_to_one_active(
    seed: u64,
    link: LinkModel,
    prios: Vec<u8>,
    offsets_ms: Vec<u64>,
) -> Result<(), TestCaseError> {
    let n = prios.len();
    let mut lan = start_lan(seed, link, &prios, &offsets_ms);
    // The latest starter needs its Active_Down_Interval (< 4 s) to claim,
    // and a preempted router yields one trip after that.
    lan.run_for(Duration::from_secs(12));
    let actives = lan.actives(1);
    prop_assert_eq!(actives.len(), 1, "one Active, got {:?}", actives);
    let winner = actives[0];
    sole_active(&lan, winner)?;
    for other in (0..n).filter(|o| *o != winner) {
        prop_assert_eq!(lan.state(other, 0), State::Backup);
    }
    let all_equal = prios.iter().all(|p| *p == prios[0]);
    let first = (0..n).min_by_key(|i| offsets_ms[*i]).unwrap_or(0);
    let margin = Duration::from_millis(1) + max_trip(&link);
    let first_alone = (0..n)
        .filter(|i| *i != first)
        .all(|i| Duration::from_millis(offsets_ms[i] - offsets_ms[first]) > margin);
    if !all_equal || offsets_ms.iter().all(|o| *o == offsets_ms[0]) {
        // Distinct priorities: the highest, whoever claimed first (preempt
        // is on). Equal priorities claiming together: the highest address.
        prop_assert_eq!(Some(winner), best(&prios, 0..n));
    } else if first_alone {
        // Equal priorities, one node well ahead: it claims first and the
        // others, hearing an equal priority, do not preempt (6.4.2 ">=").
        prop_assert_eq!(winner, first);
    }
    // And it stays that way.
    let settled = lan.now();
    lan.run_for(Duration::from_secs(10));
    prop_assert_eq!(state_changes_since(&lan, settled), 0);
    sole_active(&lan, winner)
}

proptest! {
    #![proptest_config(config())]

    /// RFC 9568 6.4: 2..=4 VRRPv3 routers with random priorities (distinct,
    /// or all equal), random start offsets and link delay / jitter end
    /// with exactly one Active router, the highest priority (ties: the
    /// highest primary address when they claim together; the first to
    /// claim when it is alone, since an equal priority does not preempt),
    /// and it alone holds the virtual address. Bound: 12 s after the last
    /// start, then no state change for 10 s.
    #[test]
    fn rfc9568_6_4_3_one_active_highest_priority_after_convergence(
        seed in any::<u64>(),
        link in link(),
        (prios, offsets_ms) in (2usize..=4).prop_flat_map(|n| (
            priorities(n),
            prop_oneof![
                Just(vec![0u64; n]),
                proptest::collection::vec(0u64..5_000, n),
            ],
        )),
    ) {
        rfc9568_6_4_3_converges_to_one_active(seed, link, prios, offsets_ms)?;
    }
}

// ----- 2. failover bound -------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    /// RFC 9568 6.4.2: kill the Active router (no priority 0) at a random
    /// phase of its advert timer. A Backup claims the role when its
    /// Active_Down_Interval (3 * interval + Skew_Time) has passed since the
    /// last advert it received, which left at most one interval before the
    /// kill. A lower Backup whose skew is within a trip of the best one's
    /// may claim too, and yields when the best one's first advert arrives.
    /// So, from the kill: no Active before `down_interval(best) - interval`,
    /// and by `down_interval(best) + 2 * trip` (inside the looser
    /// `down_interval + interval`) the sole Active is a best remaining
    /// router (the highest priority; among equal priorities whoever claims
    /// first, or the highest address when they claim together), for good.
    #[test]
    fn rfc9568_6_4_2_failover_within_active_down_interval(
        seed in any::<u64>(),
        link in link(),
        prios in (2usize..=4).prop_flat_map(priorities),
        phase_ms in 0u64..1_000,
    ) {
        let n = prios.len();
        let mut lan = start_lan(seed, link, &prios, &vec![0; n]);
        lan.run_for(Duration::from_secs(10));
        let first = best(&prios, 0..n).unwrap_or(0);
        sole_active(&lan, first)?;
        lan.run_for(Duration::from_millis(phase_ms));
        let killed_at = lan.now();
        lan.kill(first);
        let rest: Vec<NodeId> = (0..n).filter(|i| *i != first).collect();
        let top = rest.iter().map(|i| prios[*i]).max().unwrap_or(0);
        let adi = down_interval(top);
        let early = lan.run_until(adi - INTERVAL, |l| !l.actives(1).is_empty());
        prop_assert_eq!(early, None, "killed at {}", killed_at);
        let bound = adi + 2 * max_trip(&link);
        prop_assert!(bound <= adi + INTERVAL);
        lan.run_for(killed_at + bound - lan.now());
        let actives = lan.actives(1);
        prop_assert_eq!(actives.len(), 1, "{:?} after {:?}", actives, bound);
        let next = actives[0];
        prop_assert_eq!(prios[next], top, "node {} is not a best remaining router", next);
        sole_active(&lan, next)?;
        let changed = lan.run_until(Duration::from_secs(10), |l| l.actives(1) != vec![next]);
        prop_assert_eq!(changed, None);
    }
}

// ----- 3. loss ---------------------------------------------------------------------

/// A pair under 20% loss per receiver for `secs`: every spurious takeover
/// (the lower router Active while the higher is Active) ends at the first
/// advert of the higher router that reaches the lower one, and the higher
/// router advertises at least once an interval throughout, so without a
/// further loss it ends within one interval (plus a trip) of the claim,
/// inside the "interval + skew" bound. Returns the episodes seen.
fn spurious_takeovers_resolve(
    mut lan: Lan,
    high: NodeId,
    low: NodeId,
    interval: Duration,
    secs: u64,
) -> Result<usize, TestCaseError> {
    lan.run_for(Duration::from_secs(10));
    prop_assert_eq!(lan.actives(1), vec![high]);
    lan.set_link(LinkModel {
        loss: 0.2,
        ..LinkModel::default()
    });
    lan.record_deliveries();
    let end = lan.now() + Duration::from_secs(secs);
    let high_addr = node_addr(high as u8 + 1);
    let mut episodes = 0;
    while let Some(start) = lan.run_until(end - lan.now(), |l| l.actives(1).len() > 1) {
        let mut both = vec![high, low];
        both.sort_unstable();
        prop_assert_eq!(lan.actives(1), both);
        let over = lan.run_until(Duration::from_secs(60), |l| l.actives(1).len() == 1);
        prop_assert!(over.is_some(), "split brain from {} never ended", start);
        let over = over.unwrap_or_default();
        prop_assert_eq!(
            lan.actives(1),
            vec![high],
            "the higher router keeps the role"
        );
        prop_assert_eq!(lan.holders(vaddr(1)), vec![high]);
        // RFC 9568 6.4.3: an Active router that receives a higher priority
        // becomes Backup, at that advert.
        let first_heard = lan
            .delivered()
            .iter()
            .find(|d| d.at >= start && d.to == low && d.src == high_addr)
            .map(|d| d.at);
        prop_assert_eq!(
            first_heard,
            Some(over),
            "yielded at {} (claim at {})",
            over,
            start
        );
        // The higher router advertised at least once an interval.
        let mut sent: Vec<_> = lan
            .events()
            .iter()
            .filter(|e| e.node == high && matches!(e.kind, EventKind::Sent { .. }))
            .filter(|e| e.at + interval >= start && e.at <= over)
            .map(|e| e.at)
            .collect();
        sent.push(over);
        prop_assert!(
            sent.windows(2).all(|w| w[1] - w[0] <= interval),
            "advert gap during the split brain: {:?}",
            sent
        );
        episodes += 1;
        if lan.now() >= end {
            break;
        }
    }
    Ok(episodes)
}

proptest! {
    #![proptest_config(config())]

    /// RFC 9568 6.4.3 under 20% loss: a VRRPv3 pair (distinct random
    /// priorities) runs 300 s; each spurious takeover by the Backup is
    /// resolved to the higher router at the first advert of it that gets
    /// through: within one interval plus skew unless that advert is lost.
    #[test]
    fn rfc9568_6_4_3_spurious_takeover_resolves_under_loss(
        seed in any::<u64>(),
        prios in distinct_priorities(2),
    ) {
        let mut lan = Lan::new(seed);
        lan.add(vrrp3_node(0, prios[0]));
        lan.add(vrrp3_node(1, prios[1]));
        lan.start_all();
        let (high, low) = if prios[0] > prios[1] { (0, 1) } else { (1, 0) };
        spurious_takeovers_resolve(lan, high, low, INTERVAL, 300)?;
    }

    /// carp(4) under 20% loss: a CARP pair (advbase 1, distinct advskews,
    /// lower wins) runs 300 s; each spurious takeover by the backup ends
    /// at the first advert of the master that gets through (the backup
    /// yields to a router advertising more often): within the master's
    /// interval plus the backup's advskew / 256 s unless it is lost.
    #[test]
    fn carp_spurious_takeover_resolves_under_loss(
        seed in any::<u64>(),
        skews in proptest::sample::subsequence((0u8..=254).collect::<Vec<_>>(), 2).prop_shuffle(),
    ) {
        let mut lan = Lan::new(seed);
        lan.add(NodeSpec::carp(1, skews[0]).with(|c| c.preempt = true));
        lan.add(NodeSpec::carp(2, skews[1]).with(|c| c.preempt = true));
        lan.start_all();
        let (high, low) = if skews[0] < skews[1] { (0, 1) } else { (1, 0) };
        let interval = tandem_election::carp_interval(1, skews[high]);
        spurious_takeovers_resolve(lan, high, low, interval, 300)?;
    }

    /// RFC 9568 6.4.3: once the loss stops, a spurious takeover made
    /// under 20% loss ends within one interval plus Skew_Time (plus a
    /// trip): the higher router answers the claim at once, and its next
    /// periodic advert is at most one interval away anyway.
    #[test]
    fn rfc9568_6_4_3_spurious_takeover_resolves_within_interval_plus_skew(
        seed in any::<u64>(),
        prios in distinct_priorities(2),
        link in link(),
    ) {
        let mut lan = Lan::new(seed);
        lan.set_link(link);
        lan.add(vrrp3_node(0, prios[0]));
        lan.add(vrrp3_node(1, prios[1]));
        lan.start_all();
        lan.run_for(Duration::from_secs(10));
        let (high, low) = if prios[0] > prios[1] { (0, 1) } else { (1, 0) };
        prop_assert_eq!(lan.actives(1), vec![high]);
        lan.set_link(LinkModel { loss: 0.2, ..link });
        // Expected after ~156 intervals; rarely beyond 2000.
        let start = lan.run_until(Duration::from_secs(4_000), |l| l.actives(1).len() > 1);
        prop_assume!(start.is_some());
        let start = start.unwrap_or_default();
        lan.set_link(link);
        let over = lan.run_until(Duration::from_secs(10), |l| l.actives(1) == vec![high]);
        prop_assert!(over.is_some());
        let took = over.unwrap_or_default() - start;
        let bound = INTERVAL + skew(prios[low]) + max_trip(&link);
        prop_assert!(took <= bound, "resolved after {:?}, bound {:?}", took, bound);
        // Frames lost before the loss stopped may still be in flight; none
        // can start a new split brain within a down interval.
        lan.run_for(Duration::from_secs(10));
        sole_active(&lan, high)?;
    }
}

// ----- 4. partition and heal ---------------------------------------------------

proptest! {
    #![proptest_config(config())]

    /// RFC 9568 6.4: a pair or a triple (distinct priorities) partitioned
    /// for a random time elects an Active router on every side (if the
    /// partition outlasts a down interval); after the heal the highest
    /// Active hears or is heard by the others within one interval plus a
    /// trip, so a single Active (the highest priority) exists within
    /// `interval + skew + trip` of the heal, and stays.
    #[test]
    fn rfc9568_6_4_3_partition_heal_leaves_one_active(
        seed in any::<u64>(),
        link in link(),
        (prios, sides) in (2usize..=3).prop_flat_map(|n| (
            distinct_priorities(n),
            proptest::collection::vec(0usize..3, n),
        )),
        split_ms in 0u64..20_000,
    ) {
        let n = prios.len();
        let sides: Vec<usize> = sides.iter().map(|s| s % n).collect();
        prop_assume!(sides.iter().any(|s| *s != sides[0]));
        let mut lan = start_lan(seed, link, &prios, &vec![0; n]);
        lan.run_for(Duration::from_secs(10));
        let top = best(&prios, 0..n).unwrap_or(0);
        sole_active(&lan, top)?;
        let sets: Vec<Vec<NodeId>> =
            (0..n).map(|s| (0..n).filter(|i| sides[*i] == s).collect()).collect();
        let set_refs: Vec<&[NodeId]> = sets.iter().map(Vec::as_slice).collect();
        lan.partition(&set_refs);
        lan.run_for(Duration::from_millis(split_ms));
        if split_ms >= 5_000 {
            // Each side's best router is Active on it.
            for set in sets.iter().filter(|s| !s.is_empty()) {
                let side_best = best(&prios, set.iter().copied());
                let side_actives: Vec<NodeId> =
                    lan.actives(1).into_iter().filter(|a| set.contains(a)).collect();
                prop_assert_eq!(side_actives, side_best.into_iter().collect::<Vec<_>>());
            }
        }
        lan.heal();
        let healed = lan.now();
        let lowest = prios.iter().copied().min().unwrap_or(1);
        let bound = INTERVAL + skew(lowest) + max_trip(&link);
        lan.run_for(bound);
        sole_active(&lan, top)?;
        let changed = lan.run_until(Duration::from_secs(10), |l| l.actives(1) != vec![top]);
        prop_assert_eq!(changed, None, "healed at {}", healed);
    }
}

// ----- 5. preemption and preferred host ---------------------------------------

#[derive(Debug, Clone, Copy)]
enum Preemption {
    /// Random distinct priorities, preempt on everywhere.
    On,
    /// Random distinct priorities, preempt off everywhere.
    Off,
    /// PreferredHost::First: the first node fails back.
    PreferFirst,
    /// PreferredHost::None: nobody fails back.
    PreferNone,
}

proptest! {
    #![proptest_config(config())]

    /// RFC 9568 6.4.2 (Preempt_Mode) and the preferred-host policy: kill
    /// the Active router, let a Backup take over, restart the killed node
    /// after a random time. With preempt on (PreferredHost::First) the
    /// restarted higher-priority router is the sole Active exactly one
    /// Active_Down_Interval after its start (plus a trip); with preempt
    /// off (PreferredHost::None) it stays Backup for 20 s.
    #[test]
    fn rfc9568_6_4_2_preempt_takes_role_back_only_when_on(
        seed in any::<u64>(),
        link in link(),
        prios in distinct_priorities(2),
        mode in prop_oneof![
            Just(Preemption::On),
            Just(Preemption::Off),
            Just(Preemption::PreferFirst),
            Just(Preemption::PreferNone),
        ],
        down_ms in 4_000u64..12_000,
    ) {
        let mut lan = Lan::new(seed);
        lan.set_link(link);
        for (i, p) in prios.iter().enumerate() {
            let role = if i == 0 { PairRole::First } else { PairRole::Second };
            let spec = vrrp3_node(i, *p).with(|c| match mode {
                Preemption::On => c.preempt = true,
                Preemption::Off => c.preempt = false,
                Preemption::PreferFirst => {
                    *c = c.clone().preferred_host(PreferredHost::First, role);
                }
                Preemption::PreferNone => {
                    *c = c.clone().preferred_host(PreferredHost::None, role);
                }
            });
            lan.add(spec);
        }
        lan.start_all();
        lan.run_for(Duration::from_secs(10));
        let actives = lan.actives(1);
        prop_assert_eq!(actives.len(), 1);
        let first = actives[0];
        let other = 1 - first;
        let prio = |n: NodeId| lan.router(n, 0).map_or(0, |r| r.effective_priority().0);
        let (p_first, p_other) = (prio(first), prio(other));
        lan.kill(first);
        let t = lan.run_until(Duration::from_secs(10), |l| l.actives(1) == vec![other]);
        prop_assert!(t.is_some());
        lan.run_for(Duration::from_millis(down_ms));
        lan.start(first);
        let started = lan.now();
        let preempts = matches!(mode, Preemption::On | Preemption::PreferFirst);
        if preempts {
            prop_assert!(p_first > p_other, "the highest priority won at start");
            let t = lan.run_until(Duration::from_secs(10), |l| l.actives(1) == vec![first]);
            prop_assert!(t.is_some(), "no failback");
            let took = t.unwrap_or_default() - started;
            let adi = down_interval(p_first);
            prop_assert!(took >= adi, "failback after {:?}, before {:?}", took, adi);
            prop_assert!(took <= adi + max_trip(&link), "failback after {:?}", took);
            sole_active(&lan, first)?;
        } else {
            let t = lan.run_until(Duration::from_secs(20), |l| l.actives(1) != vec![other]);
            prop_assert_eq!(t, None, "the Active role moved without preemption");
            prop_assert_eq!(lan.state(first, 0), State::Backup);
            sole_active(&lan, other)?;
        }
    }
}

// ----- 6. sync groups -----------------------------------------------------------

#[derive(Debug, Clone, Copy)]
enum Step {
    Kill(NodeId),
    Restart(NodeId),
    TrackDown(NodeId),
    TrackUp(NodeId),
    Partition,
    Heal,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0usize..2).prop_map(Step::Kill),
        (0usize..2).prop_map(Step::Restart),
        (0usize..2).prop_map(Step::TrackDown),
        (0usize..2).prop_map(Step::TrackUp),
        Just(Step::Partition),
        Just(Step::Heal),
    ]
}

/// A node with a sync group of VRID 1 and VRID 2 at `priority`; member 0
/// tracks "uplink" (Fault when down).
fn sync_node(i: usize, priority: u8) -> NodeSpec {
    let member = |v: u8| {
        let vrid = Vrid::new(v).unwrap_or(Vrid::new(1).expect("1 is a VRID"));
        let mut c = Config::new(vrid, node_addr(i as u8 + 1), vec![vaddr(v)]);
        c.priority = Priority(priority);
        c.protocol = Protocol::vrrp3(tandem_wire::Centiseconds(100));
        c
    };
    let mut first = member(1);
    first.tracks.push(Track {
        name: "uplink".into(),
        effect: TrackEffect::Fault,
    });
    NodeSpec::routers(vec![first, member(2)])
}

/// No running node has its sync group split (members in different states).
fn group_whole(lan: &Lan) -> bool {
    (0..lan.len()).all(|n| !lan.alive(n) || lan.state(n, 0) == lan.state(n, 1))
}

proptest! {
    #![proptest_config(config())]

    /// Sync groups (all or nothing): two nodes with a two-member group,
    /// random kills, restarts, Fault tracks and partitions, 6 s apart.
    /// At every instant every running node's group is in one state
    /// (SyncGroup::state() is Some); per VRID at most one Active whenever
    /// the LAN is whole, and once settled exactly one when some running
    /// node is not in Fault, with both VRIDs on the same node.
    #[test]
    fn sync_group_members_never_split(
        seed in any::<u64>(),
        link in link(),
        prios in distinct_priorities(2),
        steps in proptest::collection::vec(step(), 1..8),
    ) {
        let mut lan = Lan::new(seed);
        lan.set_link(link);
        lan.add(sync_node(0, prios[0]));
        lan.add(sync_node(1, prios[1]));
        lan.start_all();
        lan.run_for(Duration::from_secs(10));
        let mut down = [false; 2];
        let mut split = false;
        for s in steps.iter().copied().chain([Step::Heal]) {
            match s {
                Step::Kill(n) => lan.kill(n),
                Step::Restart(n) => {
                    if lan.alive(n) {
                        lan.kill(n);
                    }
                    lan.start(n);
                    // A restarted node's tracks are read afresh.
                    if down[n] {
                        lan.command(n, Some(0), Command::TrackDown("uplink".into()));
                    }
                }
                Step::TrackDown(n) => {
                    down[n] = true;
                    lan.command(n, Some(0), Command::TrackDown("uplink".into()));
                }
                Step::TrackUp(n) => {
                    down[n] = false;
                    lan.command(n, Some(0), Command::TrackUp("uplink".into()));
                }
                Step::Partition => {
                    split = true;
                    lan.partition(&[&[0], &[1]]);
                }
                Step::Heal => {
                    split = false;
                    lan.heal();
                }
            }
            prop_assert!(group_whole(&lan), "group split right after {:?}", s);
            let broke = lan.run_until(Duration::from_secs(6), |l| !group_whole(l));
            prop_assert_eq!(broke, None, "group split after {:?}", s);
            // Fault follows the track of member 0, on both members.
            for (n, is_down) in down.iter().enumerate() {
                if lan.alive(n) {
                    let fault = (lan.state(n, 0) == State::Fault, lan.state(n, 1) == State::Fault);
                    prop_assert_eq!(fault, (*is_down, *is_down), "node {} after {:?}", n, s);
                }
            }
            if !split {
                let contenders = (0..2).filter(|n| lan.alive(*n) && !down[*n]).count();
                for vrid in [1, 2] {
                    let actives = lan.actives(vrid);
                    prop_assert!(actives.len() <= 1, "VRID {} after {:?}: {:?}", vrid, s, actives);
                    prop_assert_eq!(actives.len(), usize::from(contenders > 0), "VRID {} after {:?}", vrid, s);
                }
                prop_assert_eq!(lan.actives(1), lan.actives(2));
                prop_assert_eq!(lan.holders(vaddr(1)), lan.actives(1));
                prop_assert_eq!(lan.holders(vaddr(2)), lan.actives(2));
            }
        }
    }
}
