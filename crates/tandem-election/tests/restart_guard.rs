//! The restart guard: a node that started `max_starts` times within
//! `window` stays passive ("pacified") until an operator clears it, or,
//! with `expire`, until the window has passed since the oldest start.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use tandem_election::sim::{EventKind, Lan, NodeSpec};
use tandem_election::{
    Action, Command, Config, Diagnostic, Instant, Reason, RestartGuard, State, VirtualRouter,
};
use tandem_wire::{Priority, Vrid};

const ME: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10));
const VIP: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100));

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn at(d: Duration) -> Instant {
    Instant::from_duration(d)
}

/// Priority 100, 1 s, the default guard, no silence report and no
/// announce refresh (the only timers are the election's and the guard's).
fn guarded(expire: bool) -> Config {
    let mut c = Config::new(Vrid::new(1).unwrap(), ME, vec![VIP]);
    c.silence_intervals = 0;
    c.announce.refresh_after = None;
    c.restart_guard = Some(RestartGuard {
        expire,
        ..RestartGuard::default()
    });
    c
}

fn drain(vr: &mut VirtualRouter) -> Vec<Action> {
    std::iter::from_fn(|| vr.poll_action()).collect()
}

fn run_to(vr: &mut VirtualRouter, until: Instant) -> Vec<Action> {
    let mut out = Vec::new();
    while let Some(t) = vr.poll_timeout().filter(|t| *t <= until) {
        vr.handle_timeout(t);
        out.extend(drain(vr));
    }
    out
}

fn became_active(actions: &[Action]) -> bool {
    actions.iter().any(|a| {
        matches!(
            a,
            Action::StateChanged {
                to: State::Active,
                ..
            }
        )
    })
}

#[test]
fn restart_guard_default_is_three_starts_in_five_minutes_without_expiry() {
    // Input: RestartGuard::default().
    // Expected: 3 starts, 300 s, no expiry (only an operator clears it).
    assert_eq!(
        RestartGuard::default(),
        RestartGuard {
            max_starts: 3,
            window: secs(300),
            expire: false
        }
    );
}

#[test]
fn restart_guard_third_start_in_five_minutes_pacifies_and_never_claims() {
    // Input: the default guard; earlier starts 60 s and 120 s ago (this
    // start is the third within 5 min); started alone, run for 10 min.
    // Expected: Diagnostic::Pacified { starts: 3, window: 300 s } at
    // construction; status().passive == Some(Pacified); Backup with no
    // deadline; never Active, never an advert.
    let mut vr = VirtualRouter::new(guarded(false), Instant::ZERO, &[secs(60), secs(120)]).unwrap();
    assert_eq!(
        drain(&mut vr),
        vec![Action::Diagnostic(Diagnostic::Pacified {
            starts: 3,
            window: secs(300)
        })]
    );
    assert_eq!(vr.status().passive, Some(Reason::Pacified));
    vr.handle_command(Instant::ZERO, Command::Start);
    assert_eq!(vr.state(), State::Backup);
    assert_eq!(vr.poll_timeout(), None, "no down timer, no guard expiry");
    let out = run_to(&mut vr, at(secs(600)));
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(vr.state(), State::Backup);
    assert_eq!(vr.status().passive, Some(Reason::Pacified));
}

#[test]
fn restart_guard_pacifies_an_address_owner_too() {
    // Input: priority 255 (owner), the default guard, earlier starts 60 s
    // and 120 s ago; started.
    // Expected: Backup, not the owner's immediate Active (RFC 9568 6.4.1
    // gives way to the guard).
    let mut c = guarded(false);
    c.priority = Priority::OWNER;
    let mut vr = VirtualRouter::new(c, Instant::ZERO, &[secs(60), secs(120)]).unwrap();
    vr.handle_command(Instant::ZERO, Command::Start);
    assert_eq!(vr.state(), State::Backup);
    assert!(!became_active(&run_to(&mut vr, at(secs(600)))));
}

#[test]
fn restart_guard_clear_lets_a_pacified_router_claim() {
    // Input: pacified (earlier starts 60 s and 120 s ago), started alone;
    // Command::ClearRestartGuard at 100 s.
    // Expected: passive None; the down timer at exactly 100 s +
    // Active_Down_Interval; Active then.
    let mut vr = VirtualRouter::new(guarded(false), Instant::ZERO, &[secs(60), secs(120)]).unwrap();
    vr.handle_command(Instant::ZERO, Command::Start);
    run_to(&mut vr, at(secs(100)));
    let t = at(secs(100));
    vr.handle_command(t, Command::ClearRestartGuard);
    assert_eq!(vr.status().passive, None);
    let deadline = t + vr.active_down_interval();
    assert_eq!(vr.poll_timeout(), Some(deadline));
    vr.handle_timeout(deadline);
    assert_eq!(vr.state(), State::Active);
}

#[test]
fn restart_guard_one_earlier_start_does_not_pacify() {
    // Input: the default guard; one earlier start 60 s ago (two in all).
    // Expected: no Pacified diagnostic, not passive; Active at its
    // Active_Down_Interval alone.
    let mut vr = VirtualRouter::new(guarded(false), Instant::ZERO, &[secs(60)]).unwrap();
    assert!(drain(&mut vr).is_empty());
    assert_eq!(vr.status().passive, None);
    vr.handle_command(Instant::ZERO, Command::Start);
    let down = vr.active_down_interval();
    assert_eq!(vr.poll_timeout(), Some(at(down)));
    run_to(&mut vr, at(down));
    assert_eq!(vr.state(), State::Active);
}

#[test]
fn restart_guard_counts_only_starts_within_the_window() {
    // Input: the default guard; earlier starts 60 s and 301 s ago.
    // Expected: only two starts within 5 min: not pacified.
    let vr = VirtualRouter::new(guarded(false), Instant::ZERO, &[secs(60), secs(301)]).unwrap();
    assert_eq!(vr.status().passive, None);
    // Exactly at the window's edge the start still counts.
    let vr = VirtualRouter::new(guarded(false), Instant::ZERO, &[secs(60), secs(300)]).unwrap();
    assert_eq!(vr.status().passive, Some(Reason::Pacified));
}

#[test]
fn restart_guard_with_expiry_leaves_pacified_when_the_window_has_passed() {
    // Input: the guard with expire: true; earlier starts 60 s and 120 s
    // ago; built at 1000 s and started alone.
    // Expected: the deadline is exactly 1000 s + (300 s - 120 s) = 1180 s
    // (poll_timeout); still pacified just before; at 1180 s passive None
    // and the down timer at 1180 s + Active_Down_Interval; Active then.
    let t0 = at(secs(1000));
    let mut vr = VirtualRouter::new(guarded(true), t0, &[secs(60), secs(120)]).unwrap();
    let expiry = at(secs(1180));
    assert_eq!(vr.poll_timeout(), Some(expiry));
    vr.handle_command(t0, Command::Start);
    assert_eq!(vr.poll_timeout(), Some(expiry));
    vr.handle_timeout(at(secs(1180) - Duration::from_millis(1)));
    assert_eq!(vr.status().passive, Some(Reason::Pacified));
    vr.handle_timeout(expiry);
    assert_eq!(vr.status().passive, None);
    let deadline = expiry + vr.active_down_interval();
    assert_eq!(vr.poll_timeout(), Some(deadline));
    assert!(!became_active(&drain(&mut vr)));
    vr.handle_timeout(deadline);
    assert_eq!(vr.state(), State::Active);
}

#[test]
fn restart_guard_without_expiry_stays_pacified_past_the_window() {
    // Input: the guard with expire: false; earlier starts 60 s and 120 s
    // ago; started alone, run for an hour.
    // Expected: still pacified and Backup after the window has long passed.
    let mut vr = VirtualRouter::new(guarded(false), Instant::ZERO, &[secs(60), secs(120)]).unwrap();
    vr.handle_command(Instant::ZERO, Command::Start);
    run_to(&mut vr, at(secs(3600)));
    vr.handle_timeout(at(secs(3600)));
    assert_eq!(vr.status().passive, Some(Reason::Pacified));
    assert_eq!(vr.state(), State::Backup);
}

fn guard(c: &mut Config) {
    c.restart_guard = Some(RestartGuard::default());
}

fn pacified_events(lan: &Lan, node: usize) -> usize {
    lan.events()
        .iter()
        .filter(|e| {
            e.node == node && matches!(e.kind, EventKind::Diagnostic(Diagnostic::Pacified { .. }))
        })
        .count()
}

#[test]
fn restart_guard_three_quick_restarts_in_the_sim_pacify_the_node() {
    // Input (sim): A 200 and B 100; A is killed and restarted twice within
    // a minute (three starts in all).
    // Expected: after the first restart A takes the role back; after the
    // second A is pacified (one Pacified event), stays Backup while B is
    // Active, and does not take over even when B dies; an operator's
    // ClearRestartGuard lets it claim.
    let mut lan = Lan::new(2);
    let a = lan.add(NodeSpec::vrrp3(1, 200).with(guard));
    let b = lan.add(NodeSpec::vrrp3(2, 100).with(guard));
    lan.start_all();
    lan.run_for(secs(10));
    lan.kill(a);
    lan.run_for(secs(5));
    lan.start(a);
    lan.run_for(secs(10));
    assert_eq!(lan.actives(1), vec![a], "second start: not pacified");
    assert_eq!(pacified_events(&lan, a), 0);
    lan.kill(a);
    lan.run_for(secs(5));
    lan.start(a);
    assert_eq!(pacified_events(&lan, a), 1);
    assert_eq!(
        lan.router(a, 0).unwrap().status().passive,
        Some(Reason::Pacified)
    );
    lan.run_for(secs(60));
    assert_eq!(lan.actives(1), vec![b]);
    lan.kill(b);
    lan.run_for(secs(60));
    assert_eq!(lan.actives(1), Vec::<usize>::new());
    lan.command(a, None, Command::ClearRestartGuard);
    lan.run_until(secs(5), |l| l.actives(1) == vec![a])
        .expect("cleared: A claims");
}

#[test]
fn restart_guard_recent_starts_of_the_node_spec_pacify_at_first_start() {
    // Input (sim): a lone node whose NodeSpec lists earlier starts 30 s and
    // 90 s ago; started, run for 60 s.
    // Expected: pacified at once, never Active.
    let mut lan = Lan::new(2);
    let mut spec = NodeSpec::vrrp3(1, 200).with(guard);
    spec.recent_starts = vec![secs(30), secs(90)];
    let a = lan.add(spec);
    lan.start(a);
    lan.run_for(secs(60));
    assert_eq!(pacified_events(&lan, a), 1);
    assert_eq!(lan.state(a, 0), State::Backup);
}

#[test]
fn restart_guard_start_repeated_on_a_running_node_pacifies() {
    // Input (sim): a lone node started three times in a row 1 s apart
    // (Lan::start on a running node restarts it).
    // Expected: the third start is pacified; never Active afterwards.
    let mut lan = Lan::new(2);
    let a = lan.add(NodeSpec::vrrp3(1, 200).with(guard));
    lan.start(a);
    lan.run_for(secs(1));
    lan.start(a);
    lan.run_for(secs(1));
    lan.start(a);
    let third = lan.now();
    lan.run_for(secs(60));
    assert_eq!(pacified_events(&lan, a), 1);
    assert!(!lan.events().iter().any(|e| e.at >= third
        && matches!(
            e.kind,
            EventKind::State {
                to: State::Active,
                ..
            }
        )));
}
