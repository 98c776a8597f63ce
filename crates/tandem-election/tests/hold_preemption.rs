//! `Command::HoldPreemption`: while held, a better Backup does not preempt
//! a live Active router, but still replaces a dead one; released, it
//! preempts as configured. Runs on the simulator.

use std::time::Duration;

use tandem_election::sim::{Lan, NodeSpec};
use tandem_election::{Command, State};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// A (100) Active alone for 10 s, then B (200, preempt on) started with
/// preemption held.
fn held_pair(b_spec: NodeSpec, a_spec: NodeSpec) -> (Lan, usize, usize) {
    let mut lan = Lan::new(11);
    let a = lan.add(a_spec);
    let b = lan.add(b_spec);
    lan.start(a);
    lan.run_for(secs(10));
    assert_eq!(lan.actives(1), vec![a]);
    lan.start(b);
    lan.command(b, None, Command::HoldPreemption(true));
    (lan, a, b)
}

#[test]
fn held_a_better_backup_does_not_preempt_a_live_active() {
    // Input (sim): A 100 Active; B 200 with preempt on, preemption held
    // from its start; 30 s pass.
    // Expected: A stays the only Active, B stays Backup following A.
    let (mut lan, a, b) = held_pair(NodeSpec::vrrp3(2, 200), NodeSpec::vrrp3(1, 100));
    let changed = lan.run_until(secs(30), |l| l.actives(1) != vec![a]);
    assert_eq!(changed, None, "B preempted although preemption was held");
    assert_eq!(lan.state(b, 0), State::Backup);
}

#[test]
fn held_a_dead_active_is_still_replaced() {
    // Input (sim): as above; after 5 s A is killed.
    // Expected: B takes over within its Active_Down_Interval (3 s +
    // 56/256 s) of A's last advert.
    let (mut lan, a, b) = held_pair(NodeSpec::vrrp3(2, 200), NodeSpec::vrrp3(1, 100));
    lan.run_for(secs(5));
    assert_eq!(lan.actives(1), vec![a]);
    let killed = lan.now();
    lan.kill(a);
    let t = lan
        .run_until(secs(10), |l| l.actives(1) == vec![b])
        .expect("B takes over from the dead Active");
    assert!(t - killed <= ms(3220), "took {:?}", t - killed);
}

#[test]
fn released_the_better_backup_preempts() {
    // Input (sim): as above; after 10 s held, preemption is released.
    // Expected: B preempts within its Active_Down_Interval plus one
    // interval of the release; A goes Backup.
    let (mut lan, a, b) = held_pair(NodeSpec::vrrp3(2, 200), NodeSpec::vrrp3(1, 100));
    lan.run_for(secs(10));
    assert_eq!(lan.actives(1), vec![a]);
    let released = lan.now();
    lan.command(b, None, Command::HoldPreemption(false));
    let t = lan
        .run_until(secs(10), |l| l.actives(1) == vec![b])
        .expect("B preempts once released");
    assert!(t - released <= ms(3220 + 1000), "took {:?}", t - released);
    assert_eq!(lan.state(a, 0), State::Backup);
}

#[test]
fn held_while_preempting_follows_the_active_again() {
    // Input (sim): A 100 Active; B 200 started unheld, so it discards A's
    // adverts to preempt; 1 s after B's start (before its down timer runs
    // out) preemption is held.
    // Expected: B does not take over in the next 30 s.
    let mut lan = Lan::new(12);
    let a = lan.add(NodeSpec::vrrp3(1, 100));
    let b = lan.add(NodeSpec::vrrp3(2, 200));
    lan.start(a);
    lan.run_for(secs(10));
    lan.start(b);
    lan.run_for(ms(1500));
    assert_eq!(lan.actives(1), vec![a]);
    lan.command(b, None, Command::HoldPreemption(true));
    let changed = lan.run_until(secs(30), |l| l.actives(1) != vec![a]);
    assert_eq!(changed, None, "B preempted after preemption was held");
}

#[test]
fn carp_held_a_more_frequent_backup_does_not_preempt() {
    // Input (sim): CARP, A advskew 100 Active; B advskew 0 (advertises
    // more often, preempt on) held from its start; then A is killed.
    // Expected: A stays Active for 30 s; after the kill B takes over.
    let (mut lan, a, b) = held_pair(NodeSpec::carp(2, 0), NodeSpec::carp(1, 100));
    let changed = lan.run_until(secs(30), |l| l.actives(1) != vec![a]);
    assert_eq!(changed, None, "B preempted although preemption was held");
    lan.kill(a);
    lan.run_until(secs(10), |l| l.actives(1) == vec![b])
        .expect("B takes over from the dead Active");
}
