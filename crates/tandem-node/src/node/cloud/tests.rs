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
