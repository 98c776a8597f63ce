//! The Node's health checks on the fake host: scheduling (one run at a
//! time, staggered first runs), rise and fall, what the tracking
//! instances are told, a sync group faulting whole, file checks' grades,
//! and a reload keeping an unchanged check's state.

use std::time::Duration;

use tandem_election::Instant;

use super::*;
use crate::checks::{Outcome, Probe, ProbeResult};
use crate::config::DaemonConfig;
use crate::drive::fake::FakeHost;
use crate::node::tests::started;
use crate::node::Input;

fn at(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

const WEB: &str = "[[instance]]\nname = \"web\"\ninterface = \"eth0\"\nvrid = 51\npriority = 100\naddresses = [\"192.0.2.100/24\"]\n";

fn config(text: &str) -> DaemonConfig {
    crate::config::parse(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// The checks the node asked to run, in order.
fn runs(host: &FakeHost) -> Vec<(Instant, String)> {
    host.outputs
        .iter()
        .filter_map(|(t, o)| match o {
            Output::RunCheck { name, .. } => Some((*t, name.clone())),
            _ => None,
        })
        .collect()
}

fn done(host: &mut FakeHost, node: &mut Node, ms: u64, name: &str, outcome: Outcome) {
    host.push(Input::CheckDone {
        at: at(ms),
        name: name.into(),
        result: ProbeResult {
            outcome,
            detail: format!("test {}", outcome.name()),
            took: Duration::from_millis(3),
        },
    });
    // The fake host takes inputs before `until`.
    host.run_until(node, at(ms + 1)).unwrap();
}

fn check_events(host: &FakeHost) -> Vec<(String, &'static str, Option<i64>)> {
    host.outputs
        .iter()
        .filter_map(|(_, o)| match o {
            Output::Event(e) => match &e.kind {
                EventKind::Check(CheckEvent::Changed {
                    check,
                    health,
                    value,
                    ..
                }) => Some((check.clone(), health.name(), *value)),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

fn priority(node: &Node, ms: u64, instance: &str) -> u8 {
    let s = node.snapshot(at(ms));
    s.instances
        .iter()
        .find(|i| i.name == instance)
        .unwrap()
        .priority
}

fn state(node: &Node, ms: u64, instance: &str) -> String {
    let s = node.snapshot(at(ms));
    s.instances
        .iter()
        .find(|i| i.name == instance)
        .unwrap()
        .state
        .clone()
}

#[test]
fn one_run_at_a_time_and_the_next_one_interval_after_the_start() {
    let cfg = config(&format!(
        "[[check]]\nname = \"svc\"\nscript = \"true\"\ninterval = 1\n{WEB}track = [{{ check = \"svc\", weight = 10 }}]\n"
    ));
    let (mut node, mut host) = started(cfg, at(5_000));
    // The run at 0 never came back: no second run while it is in flight.
    assert_eq!(runs(&host), vec![(at(0), "svc".to_string())]);
    done(&mut host, &mut node, 5_000, "svc", Outcome::Pass);
    host.run_until(&mut node, at(5_100)).unwrap();
    // Overdue: it runs at once, then one interval later.
    let r = runs(&host);
    assert_eq!(r.len(), 2, "{r:?}");
    assert_eq!(r[1].0, at(5_000));
    done(&mut host, &mut node, 5_200, "svc", Outcome::Pass);
    host.run_until(&mut node, at(5_999)).unwrap();
    assert_eq!(runs(&host).len(), 2);
    host.run_until(&mut node, at(6_000)).unwrap();
    assert_eq!(runs(&host).len(), 3);
}

#[test]
fn first_runs_are_spread_over_one_interval() {
    let cfg = config(&format!(
        "[[check]]\nname = \"a\"\nscript = \"true\"\ninterval = 2\n\
         [[check]]\nname = \"b\"\nscript = \"true\"\ninterval = 2\n{WEB}\
         track = [{{ check = \"a\" }}, {{ check = \"b\" }}]\n"
    ));
    let (_node, host) = started(cfg, at(1_500));
    assert_eq!(
        runs(&host),
        vec![(at(0), "a".to_string()), (at(1_000), "b".to_string())]
    );
}

#[test]
fn fall_lowers_the_priority_and_rise_restores_it() {
    let cfg = config(&format!(
        "[[check]]\nname = \"svc\"\ntcp = \"192.0.2.10:80\"\nrise = 2\nfall = 2\nweight = 30\n{WEB}\
         track = [{{ check = \"svc\" }}]\n"
    ));
    let (mut node, mut host) = started(cfg, at(100));
    assert_eq!(priority(&node, 100, "web"), 100);
    done(&mut host, &mut node, 200, "svc", Outcome::Fail);
    assert_eq!(priority(&node, 200, "web"), 100, "one failure of fall = 2");
    assert_eq!(node.snapshot(at(200)).checks[0].state, "unknown");
    host.run_until(&mut node, at(2_000)).unwrap();
    done(&mut host, &mut node, 2_100, "svc", Outcome::Fail);
    assert_eq!(priority(&node, 2_100, "web"), 70);
    let st = &node.snapshot(at(2_100)).checks[0];
    assert_eq!((st.state.as_str(), st.failures, st.changes), ("down", 2, 1));
    assert_eq!(st.kind, "tcp");
    assert_eq!(st.tracked_by, vec!["web".to_string()]);
    assert_eq!(st.last_result.as_deref(), Some("fail"));
    assert_eq!(st.detail, "test fail");
    host.run_until(&mut node, at(4_000)).unwrap();
    done(&mut host, &mut node, 4_100, "svc", Outcome::Pass);
    assert_eq!(priority(&node, 4_100, "web"), 70, "one pass of rise = 2");
    host.run_until(&mut node, at(6_000)).unwrap();
    done(&mut host, &mut node, 6_100, "svc", Outcome::Pass);
    assert_eq!(priority(&node, 6_100, "web"), 100);
    assert_eq!(
        check_events(&host),
        vec![("svc".into(), "down", None), ("svc".into(), "up", None)]
    );
}

#[test]
fn a_fault_check_faults_its_whole_sync_group() {
    let cfg = config(
        "[[check]]\nname = \"db\"\nscript = \"pg_isready\"\n\
         [[instance]]\nname = \"pub\"\ninterface = \"eth0\"\nvrid = 1\naddresses = [\"192.0.2.100/24\"]\n\
         track = [{ check = \"db\", fault = true }]\n\
         [[instance]]\nname = \"priv\"\ninterface = \"eth0\"\nvrid = 2\naddresses = [\"192.0.2.101/24\"]\n\
         [[sync_group]]\nname = \"lvs\"\ninstances = [\"pub\", \"priv\"]\n",
    );
    let (mut node, mut host) = started(cfg, at(5_000));
    assert_eq!(state(&node, 5_000, "priv"), "Active");
    done(&mut host, &mut node, 5_000, "db", Outcome::Fail);
    assert_eq!(state(&node, 5_000, "pub"), "Fault");
    assert_eq!(state(&node, 5_000, "priv"), "Fault");
    host.run_until(&mut node, at(6_000)).unwrap();
    done(&mut host, &mut node, 6_000, "db", Outcome::Pass);
    assert_ne!(state(&node, 6_000, "pub"), "Fault");
    assert_ne!(state(&node, 6_000, "priv"), "Fault");
}

#[test]
fn a_file_number_times_the_weight_lowers_the_priority() {
    assert_eq!(file_lowering(-5, 3), 15);
    assert_eq!(file_lowering(5, -3), 15);
    assert_eq!(file_lowering(5, 3), 0);
    assert_eq!(file_lowering(i64::MIN, 1), 255);
    let cfg = config(&format!(
        "[[check]]\nname = \"lb\"\nfile = \"/run/lb/weight\"\n{WEB}track = [{{ check = \"lb\", weight = 3 }}]\n"
    ));
    let (mut node, mut host) = started(cfg, at(100));
    done(&mut host, &mut node, 100, "lb", Outcome::Value(-5));
    assert_eq!(priority(&node, 100, "web"), 85);
    host.run_until(&mut node, at(1_000)).unwrap();
    done(&mut host, &mut node, 1_000, "lb", Outcome::Value(4));
    assert_eq!(
        priority(&node, 1_000, "web"),
        100,
        "a positive product leaves it"
    );
    assert_eq!(node.snapshot(at(1_000)).checks[0].value, Some(4));
    assert_eq!(
        check_events(&host),
        vec![("lb".into(), "up", Some(-5)), ("lb".into(), "up", Some(4))]
    );
    // Lowered by a number, then the file cannot be read: the weight's
    // size (3) holds, not the number's lowering (15).
    host.run_until(&mut node, at(2_000)).unwrap();
    done(&mut host, &mut node, 2_000, "lb", Outcome::Value(-5));
    assert_eq!(priority(&node, 2_000, "web"), 85);
    host.run_until(&mut node, at(3_000)).unwrap();
    done(&mut host, &mut node, 3_000, "lb", Outcome::Fail);
    assert_eq!(priority(&node, 3_000, "web"), 97);
    assert_eq!(node.snapshot(at(3_000)).checks[0].state, "down");
}

#[test]
fn a_reload_keeps_an_unchanged_check_and_restarts_a_changed_one() {
    let text = |interval: u32| {
        format!(
            "[[check]]\nname = \"svc\"\nscript = \"true\"\nweight = 20\n\
             [[check]]\nname = \"other\"\nscript = \"true\"\ninterval = {interval}\n{WEB}\
             track = [{{ check = \"svc\" }}]\n"
        )
    };
    let (mut node, mut host) = started(config(&text(2)), at(100));
    done(&mut host, &mut node, 100, "svc", Outcome::Fail);
    assert_eq!(priority(&node, 100, "web"), 80);
    host.push(Input::Configure {
        at: at(200),
        config: Box::new(config(&text(3))),
        reply: None,
    });
    host.run_until(&mut node, at(300)).unwrap();
    let s = node.snapshot(at(300));
    assert_eq!(s.checks[0].state, "down", "svc is unchanged");
    assert_eq!(priority(&node, 300, "web"), 80);
    assert_eq!(s.checks[1].last_result, None, "other started again");
    // Probe kinds reach the host as configured.
    assert!(host.outputs.iter().any(|(_, o)| matches!(
        o,
        Output::RunCheck { probe, .. } if matches!(&**probe, Probe::Script { command, .. } if command == "true")
    )));
}

#[test]
fn a_result_for_no_running_check_changes_nothing() {
    let cfg = config(&format!(
        "[[check]]\nname = \"svc\"\nscript = \"true\"\n{WEB}track = [{{ check = \"svc\" }}]\n"
    ));
    let (mut node, mut host) = started(cfg, at(100));
    done(&mut host, &mut node, 100, "nope", Outcome::Fail);
    done(&mut host, &mut node, 110, "svc", Outcome::Fail);
    // A second result for the same run is not counted.
    done(&mut host, &mut node, 120, "svc", Outcome::Fail);
    let s = node.snapshot(at(120));
    assert_eq!(s.checks[0].failures, 1);
}
