//! Smoke tests of the simulator: the basic life of a pair in each protocol.

use std::time::Duration;

use tandem_election::sim::{Lan, NodeSpec};
use tandem_election::{Command, State};

fn pair_fails_over(a: NodeSpec, b: NodeSpec, bound: Duration) {
    let mut lan = Lan::new(7);
    let a = lan.add(a);
    let b = lan.add(b);
    lan.start_all();
    lan.run_for(Duration::from_secs(10));
    assert_eq!(lan.actives(1), vec![a]);
    let killed_at = lan.now();
    lan.kill(a);
    let t = lan
        .run_until(Duration::from_secs(30), |l| l.actives(1) == vec![b])
        .expect("takeover");
    assert!(t - killed_at <= bound, "takeover took {:?}", t - killed_at);
    lan.start(a);
    lan.run_for(Duration::from_secs(10));
    assert_eq!(
        lan.actives(1),
        vec![a],
        "preemption brings the preferred node back"
    );
}

#[test]
fn vrrp3_pair() {
    // Backup priority 100: 3 s + (156/256) s.
    pair_fails_over(
        NodeSpec::vrrp3(1, 200),
        NodeSpec::vrrp3(2, 100),
        Duration::from_millis(3610),
    );
}

#[test]
fn vrrp2_pair() {
    pair_fails_over(
        NodeSpec::vrrp2(1, 200),
        NodeSpec::vrrp2(2, 100),
        Duration::from_millis(3610),
    );
}

#[test]
fn carp_pair() {
    // advskew 100: 3 s + 100/256 s.
    let b = NodeSpec::carp(2, 100).with(|c| c.preempt = true);
    pair_fails_over(
        NodeSpec::carp(1, 0).with(|c| c.preempt = true),
        b,
        Duration::from_millis(3400),
    );
}

#[test]
fn graceful_stop_is_fast() {
    let mut lan = Lan::new(1);
    let a = lan.add(NodeSpec::vrrp3(1, 200));
    let b = lan.add(NodeSpec::vrrp3(2, 100));
    lan.start_all();
    lan.run_for(Duration::from_secs(10));
    let t0 = lan.now();
    lan.stop(a);
    let t = lan
        .run_until(Duration::from_secs(10), |l| l.state(b, 0) == State::Active)
        .unwrap();
    assert!(
        t - t0 < Duration::from_millis(700),
        "skew time, not down interval: {:?}",
        t - t0
    );
}

#[test]
fn failover_command_moves_the_role_and_keeps_it_there() {
    let mut lan = Lan::new(1);
    let a = lan.add(NodeSpec::vrrp3(1, 200));
    let b = lan.add(NodeSpec::vrrp3(2, 100));
    lan.start_all();
    lan.run_for(Duration::from_secs(10));
    lan.command(a, None, Command::Failover);
    lan.run_for(Duration::from_secs(20));
    assert_eq!(lan.actives(1), vec![b]);
}
