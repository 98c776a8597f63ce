use std::time::Duration;

use tandem_election::Instant;

use super::*;

fn cfg(attempts: u32) -> CloudConfig {
    CloudConfig {
        on_active: Some("move-ip".into()),
        on_standby: Some("release-ip".into()),
        attempts,
        retry_delay: Duration::from_secs(1),
        ..CloudConfig::default()
    }
}

fn at(ms: u64) -> Instant {
    Instant::ZERO + Duration::from_millis(ms)
}

fn steps(h: &mut CloudHooks) -> Vec<Step> {
    std::iter::from_fn(|| h.poll_step()).collect()
}

fn runs(h: &mut CloudHooks) -> Vec<(u64, Hook, u32)> {
    steps(h)
        .into_iter()
        .filter_map(|s| match s {
            Step::Run { id, hook, attempt } => Some((id, hook, attempt)),
            Step::Event(_) => None,
        })
        .collect()
}

#[test]
fn retry_delay_doubles_up_to_the_cap() {
    let one = Duration::from_secs(1);
    assert_eq!(retry_delay(one, 1), one);
    assert_eq!(retry_delay(one, 2), Duration::from_secs(2));
    assert_eq!(retry_delay(one, 3), Duration::from_secs(4));
    assert_eq!(retry_delay(one, 7), MAX_RETRY_DELAY);
    assert_eq!(retry_delay(one, u32::MAX), MAX_RETRY_DELAY);
    assert_eq!(
        retry_delay(Duration::from_millis(250), 3),
        Duration::from_secs(1)
    );
}

#[test]
fn becoming_active_runs_on_active_once_it_succeeds() {
    let mut h = CloudHooks::new(&cfg(5));
    h.set_active(at(0), true);
    assert_eq!(runs(&mut h), vec![(1, Hook::OnActive, 1)]);
    h.handle_done(at(100), 1, RunResult::Ok, Duration::from_millis(100));
    assert_eq!(h.poll_timeout(), None);
    let s = steps(&mut h);
    assert!(matches!(
        s.as_slice(),
        [Step::Event(CloudEvent::Hook {
            hook: Hook::OnActive,
            attempt: 1,
            result: RunResult::Ok,
            next: Next::Done,
            ..
        })]
    ));
    assert_eq!(h.status().unwrap().state, "done");
}

#[test]
fn a_failure_is_retried_after_the_delay_then_again_doubled() {
    let mut h = CloudHooks::new(&cfg(5));
    h.set_active(at(0), true);
    assert_eq!(runs(&mut h), vec![(1, Hook::OnActive, 1)]);
    h.handle_done(at(50), 1, RunResult::Failed(Some(1)), Duration::ZERO);
    assert_eq!(h.poll_timeout(), Some(at(1050)));
    h.handle_timeout(at(1049));
    assert!(runs(&mut h).is_empty(), "not before its time");
    h.handle_timeout(at(1050));
    assert_eq!(runs(&mut h), vec![(2, Hook::OnActive, 2)]);
    h.handle_done(at(1100), 2, RunResult::TimedOut, Duration::ZERO);
    assert_eq!(h.poll_timeout(), Some(at(3100)));
    h.handle_timeout(at(3100));
    assert_eq!(runs(&mut h), vec![(3, Hook::OnActive, 3)]);
    h.handle_done(at(3200), 3, RunResult::Ok, Duration::ZERO);
    assert_eq!(h.poll_timeout(), None);
    let r = h.results();
    assert_eq!(r.get("on_active failed"), Some(&1));
    assert_eq!(r.get("on_active timeout"), Some(&1));
    assert_eq!(r.get("on_active ok"), Some(&1));
}

#[test]
fn attempts_are_bounded() {
    let mut h = CloudHooks::new(&cfg(2));
    h.set_active(at(0), true);
    assert_eq!(runs(&mut h), vec![(1, Hook::OnActive, 1)]);
    h.handle_done(at(0), 1, RunResult::Failed(Some(2)), Duration::ZERO);
    h.handle_timeout(at(1000));
    assert_eq!(runs(&mut h), vec![(2, Hook::OnActive, 2)]);
    h.handle_done(at(1000), 2, RunResult::NotStarted, Duration::ZERO);
    assert_eq!(h.poll_timeout(), None, "no third attempt");
    let s = steps(&mut h);
    assert!(matches!(
        s.as_slice(),
        [Step::Event(e @ CloudEvent::Hook { next: Next::GaveUp, .. })] if e.level() == Level::Error
    ));
    assert_eq!(h.status().unwrap().state, "gave_up");
}

#[test]
fn leaving_active_ends_the_retries_and_runs_on_standby() {
    let mut h = CloudHooks::new(&cfg(5));
    h.set_active(at(0), true);
    assert_eq!(runs(&mut h), vec![(1, Hook::OnActive, 1)]);
    h.handle_done(at(10), 1, RunResult::Failed(Some(1)), Duration::ZERO);
    h.set_active(at(20), false);
    assert_eq!(runs(&mut h), vec![(2, Hook::OnStandby, 1)]);
    assert_eq!(h.poll_timeout(), None, "on_active's retry is gone");
    h.handle_timeout(at(5000));
    assert!(runs(&mut h).is_empty());
}

#[test]
fn a_run_superseded_while_it_runs_is_counted_not_retried() {
    let mut h = CloudHooks::new(&cfg(5));
    h.set_active(at(0), true);
    assert_eq!(runs(&mut h), vec![(1, Hook::OnActive, 1)]);
    h.set_active(at(10), false);
    assert_eq!(runs(&mut h), vec![(2, Hook::OnStandby, 1)]);
    h.handle_done(at(20), 1, RunResult::Failed(Some(1)), Duration::ZERO);
    assert_eq!(h.poll_timeout(), None);
    let s = steps(&mut h);
    assert!(matches!(
        s.as_slice(),
        [Step::Event(CloudEvent::Hook {
            hook: Hook::OnActive,
            next: Next::Superseded,
            ..
        })]
    ));
    // The standby run is still the current one, and is retried.
    h.handle_done(at(30), 2, RunResult::Failed(None), Duration::ZERO);
    assert_eq!(h.poll_timeout(), Some(at(1030)));
    // An unknown id changes nothing.
    h.handle_done(at(40), 99, RunResult::Ok, Duration::ZERO);
    assert_eq!(h.poll_timeout(), Some(at(1030)));
}

#[test]
fn on_standby_runs_only_after_having_been_active() {
    let mut h = CloudHooks::new(&cfg(5));
    h.set_active(at(0), false);
    assert!(steps(&mut h).is_empty(), "no change, nothing to do");
    let mut h = CloudHooks::new(&CloudConfig {
        on_active: None,
        ..cfg(5)
    });
    h.set_active(at(0), true);
    assert!(runs(&mut h).is_empty(), "no on_active configured");
    h.set_active(at(10), false);
    assert_eq!(runs(&mut h), vec![(1, Hook::OnStandby, 1)]);
}

#[test]
fn events_have_stable_names_and_fields() {
    let e = CloudEvent::Hook {
        hook: Hook::OnActive,
        attempt: 2,
        result: RunResult::Failed(Some(3)),
        elapsed: Duration::from_millis(1500),
        next: Next::Retry(Duration::from_secs(2)),
    };
    assert_eq!(e.name(), "cloud_hook");
    let j = e.to_json();
    assert_eq!(j["hook"], "on_active");
    assert_eq!(j["result"], "failed");
    assert_eq!(j["exit_code"], 3);
    assert_eq!(j["next"], "retry");
    assert_eq!(j["retry_in_s"], 2.0);
    assert_eq!(
        e.to_string(),
        "cloud: hook=on_active attempt=2 result=failed after 1.500 s (exit status 3); next attempt in 2.000 s"
    );
    assert_eq!(CloudEvent::State { active: true }.name(), "cloud_state");
}

// ----- the Node with [cloud], on the fake host ----------------------------

use crate::drive::fake::FakeHost;
use crate::node::Input;

fn cloud_runs(host: &FakeHost) -> Vec<(Instant, u64, CommandRun)> {
    host.outputs
        .iter()
        .filter_map(|(t, o)| match o {
            Output::RunCloudHook { id, run } => Some((*t, *id, run.clone())),
            _ => None,
        })
        .collect()
}

fn env<'a>(run: &'a CommandRun, key: &str) -> &'a str {
    run.env
        .iter()
        .find(|(k, _)| k == key)
        .map_or("", |(_, v)| v.as_str())
}

#[test]
fn the_node_runs_on_active_when_active_and_retries_a_failure() {
    // Input: a lone primary with on_active, 4 s; the first run fails.
    // Output: one run when the instance is Active, with the addresses and
    // role in its environment; a second 0.5 s after the failure; none
    // after the success.
    let cfg = crate::config::parse(
        "[[instance]]\nname = \"web\"\ninterface = \"eth0\"\nvrid = 51\n\
         addresses = [\"192.0.2.100/24\"]\n\n[cloud]\nrole = \"primary\"\n\
         on_active = \"move-ip\"\nattempts = 3\nretry_delay = 0.5\n",
    )
    .unwrap();
    let (mut node, mut host) = crate::node::tests::started(cfg, at(4000));
    assert_eq!(node.states()["web"], State::Active);
    let runs = cloud_runs(&host);
    assert_eq!(runs.len(), 1, "{runs:?}");
    let (t1, id1, run) = &runs[0];
    assert_eq!(run.command, "move-ip");
    assert_eq!(run.key, HOOK_KEY);
    assert_eq!(env(run, "TANDEM_ADDRESSES"), "192.0.2.100");
    assert_eq!(env(run, "TANDEM_ROLE"), "primary");
    assert_eq!(env(run, "TANDEM_STATE"), "active");
    assert_eq!(env(run, "TANDEM_ATTEMPT"), "1");
    assert_eq!(env(run, "TANDEM_INSTANCES"), "web");
    host.push(Input::CloudHookDone {
        at: at(4000),
        id: *id1,
        result: RunResult::Failed(Some(1)),
        elapsed: Duration::from_millis(10),
    });
    host.run_until(&mut node, at(4400)).unwrap();
    assert_eq!(cloud_runs(&host).len(), 1, "not before the delay");
    host.run_until(&mut node, at(4600)).unwrap();
    let runs = cloud_runs(&host);
    assert_eq!(runs.len(), 2, "{runs:?}");
    let (t2, id2, run) = &runs[1];
    assert!(*t2 >= at(4500) && *t2 > *t1, "{t2:?}");
    assert_eq!(env(run, "TANDEM_ATTEMPT"), "2");
    host.push(Input::CloudHookDone {
        at: at(4600),
        id: *id2,
        result: RunResult::Ok,
        elapsed: Duration::from_millis(10),
    });
    host.run_until(&mut node, at(10_000)).unwrap();
    assert_eq!(cloud_runs(&host).len(), 2);
    let snap = node.snapshot(at(10_000));
    let cloud = snap.cloud.expect("cloud status");
    assert_eq!(
        (cloud.role.as_deref(), cloud.state.as_str()),
        (Some("primary"), "active")
    );
    let hook = cloud.hook.expect("a run");
    assert_eq!((hook.state.as_str(), hook.attempt), ("done", 2));
    assert_eq!(cloud.results.get("on_active failed"), Some(&1));
    assert_eq!(snap.instances[0].priority, 200);
}

#[test]
fn the_status_line_says_the_state_role_and_hook() {
    let mut c = crate::snapshot::CloudStatus {
        role: Some("primary".into()),
        failback: true,
        state: "active".into(),
        hook: Some(crate::snapshot::CloudHookStatus {
            hook: "on_active".into(),
            attempt: 2,
            state: "done".into(),
            last_result: Some("ok".into()),
        }),
        results: Default::default(),
    };
    assert_eq!(
        crate::control::render::cloud_line(&c),
        "cloud: active, role primary (failback), on_active done (attempt 2, last ok)"
    );
    c.role = None;
    c.hook = None;
    c.state = "standby".into();
    assert_eq!(crate::control::render::cloud_line(&c), "cloud: standby");
}
