//! RFC 3768 (VRRPv2) rules, checked on one `VirtualRouter` driven directly
//! with hand-built adverts: the exact actions and deadlines.

mod common;

use std::time::Duration;

use common::*;
use tandem_election::{
    Action, AuthFailure, Command, Config, Diagnostic, Instant, Reason, State, VirtualRouter,
};
use tandem_wire::vrrp2::Auth;
use tandem_wire::Priority;

fn sent(priority: u8, interval_s: u8, auth: Auth) -> Action {
    Action::SendAdvert(v2(priority, interval_s, auth))
}

fn changed(from: State, to: State, reason: Reason) -> Action {
    Action::StateChanged { from, to, reason }
}

fn takeover(reason: Reason) -> [Action; 3] {
    [
        Action::AddAddresses {
            addresses: vec![VIP],
            accept: false,
        },
        changed(State::Backup, State::Active, reason),
        Action::Announce {
            addresses: vec![VIP],
            repeat: 5,
            spacing: Duration::ZERO,
        },
    ]
}

/// Master_Down_Interval of a priority-100 Backup with a 1 s interval.
const DOWN_100: Duration = Duration::from_nanos(3_609_375_000);

fn auth_failure(what: AuthFailure) -> Vec<Action> {
    vec![Action::Diagnostic(Diagnostic::AuthFailure {
        src: HIGHER,
        what,
    })]
}

/// A Backup of `config` started at 0 that took over at its Master_Down_Timer.
fn active(config: Config) -> (VirtualRouter, Instant) {
    let (mut vr, _) = started(config, at(0));
    let t = vr.poll_timeout().expect("down timer");
    let actions = timeout(&mut vr, t);
    assert!(actions.contains(&changed(State::Backup, State::Active, Reason::ActiveDown)));
    (vr, t)
}

#[test]
fn rfc3768_6_1_skew_time_is_in_seconds_whatever_the_interval() {
    // Input: Start of VRRPv2 Backups with priorities 100, 200, 254 and
    // intervals 1, 3, 10 s. Output: Skew_Time = (256 - priority) / 256 s,
    // not scaled by the interval, and the Master_Down_Timer at
    // 3 * Advertisement_Interval + Skew_Time.
    let cases: [(u8, u8, Duration); 5] = [
        (100, 1, n256(156)),
        (100, 3, n256(156)),
        (200, 1, n256(56)),
        (200, 10, n256(56)),
        (254, 10, n256(2)),
    ];
    for (priority, interval_s, skew) in cases {
        let (vr, actions) = started(vrrp2_config(priority, interval_s, Auth::None), at(1000));
        let case = format!("priority {priority}, interval {interval_s} s");
        assert_eq!(
            actions,
            vec![changed(State::Initialize, State::Backup, Reason::Startup)],
            "{case}"
        );
        assert_eq!(vr.skew_time(), skew, "{case}");
        let down = Duration::from_secs(3 * u64::from(interval_s)) + skew;
        assert_eq!(vr.active_down_interval(), down, "{case}");
        assert_eq!(vr.poll_timeout(), Some(at(1000) + down), "{case}");
    }
}

#[test]
fn rfc3768_6_4_2_master_down_timer_expiry_takes_over() {
    // Input: a priority-100 Backup (1 s) hears nothing. Output: at
    // 3 s + 156/256 s a VRRPv2 advert (priority 100, 1 s), the addresses,
    // Master (Active), the announce; the next advert 1 s later.
    let (mut vr, _) = started(vrrp2_config(100, 1, Auth::None), at(0));
    let t = at(0) + DOWN_100;
    let mut expected = vec![sent(100, 1, Auth::None)];
    expected.extend(takeover(Reason::ActiveDown));
    assert_eq!(timeout(&mut vr, t), expected);
    assert_eq!(vr.poll_timeout(), Some(t + Duration::from_secs(1)));
}

#[test]
fn rfc3768_6_4_2_backup_resets_timer_on_matching_advert() {
    // Input: a priority-100 Backup (1 s) hears priority 200 at 1 s, 1 s interval.
    // Output: nothing; the Master_Down_Timer at 1 s + 3 s + 156/256 s.
    let (mut vr, _) = started(vrrp2_config(100, 1, Auth::None), at(0));
    assert_eq!(
        receive(&mut vr, at(1000), HIGHER, &v2(200, 1, Auth::None)),
        vec![]
    );
    assert_eq!(vr.poll_timeout(), Some(at(1000) + DOWN_100));
    assert_eq!(vr.active_router(), Some(HIGHER));
}

#[test]
fn rfc3768_6_4_2_priority_zero_sets_timer_to_skew_time() {
    // Input: a priority-100 Backup hears the Master at 1 s, then its
    // priority-0 advert at 2 s. Output: the takeover at 2 s + 156/256 s,
    // as ActiveResigned.
    let (mut vr, _) = started(vrrp2_config(100, 1, Auth::None), at(0));
    assert_eq!(
        receive(&mut vr, at(1000), HIGHER, &v2(200, 1, Auth::None)),
        vec![]
    );
    assert_eq!(
        receive(&mut vr, at(2000), HIGHER, &v2(0, 1, Auth::None)),
        vec![]
    );
    let t = at(2000) + n256(156);
    assert_eq!(vr.poll_timeout(), Some(t));
    let mut expected = vec![sent(100, 1, Auth::None)];
    expected.extend(takeover(Reason::ActiveResigned));
    assert_eq!(timeout(&mut vr, t), expected);
}

#[test]
fn rfc3768_7_1_other_interval_is_dropped_not_adopted() {
    // Input: a priority-100 Backup configured with 1 s hears priority 200
    // advertising 2 s. Output: IntervalMismatch (2 s against 1 s); the advert
    // is dropped: the timer is not reset, and the Backup takes over at its
    // first deadline.
    let (mut vr, _) = started(vrrp2_config(100, 1, Auth::None), at(0));
    assert_eq!(
        receive(&mut vr, at(1000), HIGHER, &v2(200, 2, Auth::None)),
        vec![Action::Diagnostic(Diagnostic::IntervalMismatch {
            src: HIGHER,
            theirs: Duration::from_secs(2),
            ours: Duration::from_secs(1),
        })]
    );
    assert_eq!(vr.poll_timeout(), Some(at(0) + DOWN_100));
    assert_eq!(vr.status().active_interval, Duration::from_secs(1));
    let actions = timeout(&mut vr, at(0) + DOWN_100);
    assert!(actions.contains(&changed(State::Backup, State::Active, Reason::ActiveDown)));
}

#[test]
fn rfc3768_7_1_other_interval_does_not_preempt_a_master() {
    // Input: a priority-100 Master (1 s) hears priority 200 advertising 3 s.
    // Output: IntervalMismatch only: it stays Master, answers nothing.
    let (mut vr, t) = active(vrrp2_config(100, 1, Auth::None));
    let now = t + Duration::from_millis(100);
    assert_eq!(
        receive(&mut vr, now, HIGHER, &v2(200, 3, Auth::None)),
        vec![Action::Diagnostic(Diagnostic::IntervalMismatch {
            src: HIGHER,
            theirs: Duration::from_secs(3),
            ours: Duration::from_secs(1),
        })]
    );
    assert_eq!(vr.state(), State::Active);
    assert_eq!(vr.poll_timeout(), Some(t + Duration::from_secs(1)));
}

#[test]
fn rfc3768_7_1_auth_type_mismatch_is_dropped() {
    // Input: Backups hear priority 200 with another authentication type:
    // none against a password, a password against none, AH against none.
    // Output: AuthFailure AuthType each time; the timer is not reset.
    let cases = [
        (Auth::None, Auth::simple_text(b"secret")),
        (Auth::simple_text(b"secret"), Auth::None),
        (Auth::None, Auth::IpAh),
    ];
    for (ours, theirs) in cases {
        let (mut vr, _) = started(vrrp2_config(100, 1, ours), at(0));
        assert_eq!(
            receive(&mut vr, at(1000), HIGHER, &v2(200, 1, theirs)),
            auth_failure(AuthFailure::AuthType),
            "ours {ours:?}, theirs {theirs:?}"
        );
        assert_eq!(vr.poll_timeout(), Some(at(0) + DOWN_100));
    }
}

#[test]
fn rfc3768_7_1_wrong_password_is_dropped() {
    // Input: a Backup with password "secret" hears priority 200 with
    // "Secret", then with "secret1". Output: AuthFailure Password each time;
    // the timer is not reset.
    let (mut vr, _) = started(vrrp2_config(100, 1, Auth::simple_text(b"secret")), at(0));
    for wrong in [&b"Secret"[..], &b"secret1"[..]] {
        assert_eq!(
            receive(
                &mut vr,
                at(1000),
                HIGHER,
                &v2(200, 1, Auth::simple_text(wrong))
            ),
            auth_failure(AuthFailure::Password)
        );
        assert_eq!(vr.poll_timeout(), Some(at(0) + DOWN_100));
    }
}

#[test]
fn rfc3768_7_1_matching_password_is_accepted() {
    // Input: a Backup with password "secret" hears priority 200 with
    // "secret". Output: nothing; the timer is reset. Its own adverts, once
    // Master, carry the password.
    let auth = Auth::simple_text(b"secret");
    let (mut vr, _) = started(vrrp2_config(100, 1, auth), at(0));
    assert_eq!(
        receive(&mut vr, at(1000), HIGHER, &v2(200, 1, auth)),
        vec![]
    );
    let t = at(1000) + DOWN_100;
    assert_eq!(vr.poll_timeout(), Some(t));
    assert_eq!(timeout(&mut vr, t)[0], sent(100, 1, auth));
}

#[test]
fn rfc3768_7_1_ttl_not_255_is_dropped() {
    // Input: a Backup hears priority 200 with TTL 1. Output: BadTtl; dropped.
    let (mut vr, _) = started(vrrp2_config(100, 1, Auth::None), at(0));
    assert_eq!(
        receive_ttl(&mut vr, at(1000), HIGHER, 1, &v2(200, 1, Auth::None)),
        vec![Action::Diagnostic(Diagnostic::BadTtl {
            src: HIGHER,
            ttl: 1
        })]
    );
    assert_eq!(vr.poll_timeout(), Some(at(0) + DOWN_100));
}

#[test]
fn rfc3768_7_1_vrrp3_advert_is_a_version_mismatch() {
    // Input: a VRRPv2 Backup hears a VRRPv3 advert. Output: VersionMismatch
    // (3 against 2); dropped.
    let (mut vr, _) = started(vrrp2_config(100, 1, Auth::None), at(0));
    let advert = v3(200, 100, tandem_wire::ChecksumMode::NoPseudoHeader);
    assert_eq!(
        receive(&mut vr, at(1000), HIGHER, &advert),
        vec![Action::Diagnostic(Diagnostic::VersionMismatch {
            src: HIGHER,
            theirs: 3,
            ours: 2,
        })]
    );
    assert_eq!(vr.poll_timeout(), Some(at(0) + DOWN_100));
}

#[test]
fn rfc3768_6_4_3_master_sends_advert_every_interval() {
    // Input: a Master with a 2 s interval whose Adver_Timer fires three times.
    // Output: one advert (2 s) each time, 2 s apart.
    let (mut vr, t) = active(vrrp2_config(100, 2, Auth::None));
    assert_eq!(t, at(6000) + n256(156));
    for k in 1..=3 {
        let now = t + Duration::from_secs(2 * k);
        assert_eq!(vr.poll_timeout(), Some(now));
        assert_eq!(timeout(&mut vr, now), vec![sent(100, 2, Auth::None)]);
    }
}

#[test]
fn rfc3768_6_4_3_master_yields_to_higher_priority() {
    // Input: a priority-100 Master hears priority 200. Output: one last
    // advert of its own (so the winner knows it was Master too), the
    // addresses removed, Backup, Preempted by it; the Master_Down_Timer set.
    let (mut vr, t) = active(vrrp2_config(100, 1, Auth::None));
    let now = t + Duration::from_millis(100);
    assert_eq!(
        receive(&mut vr, now, LOWER, &v2(200, 1, Auth::None)),
        vec![
            Action::Diagnostic(Diagnostic::SplitBrain {
                other: LOWER,
                other_priority: Priority(200),
                we_win: false,
            }),
            sent(100, 1, Auth::None),
            Action::RemoveAddresses(vec![VIP]),
            changed(
                State::Active,
                State::Backup,
                Reason::Preempted { by: LOWER }
            ),
        ]
    );
    assert_eq!(vr.poll_timeout(), Some(now + DOWN_100));
}

#[test]
fn rfc3768_6_4_3_master_keeps_role_against_lower_priority() {
    // Input: a priority-100 Master hears priority 50. Output: it stays Master
    // and answers with an advert.
    let (mut vr, t) = active(vrrp2_config(100, 1, Auth::None));
    let now = t + Duration::from_millis(100);
    let actions = receive(&mut vr, now, HIGHER, &v2(50, 1, Auth::None));
    assert_eq!(actions.last(), Some(&sent(100, 1, Auth::None)));
    assert_eq!(vr.state(), State::Active);
}

#[test]
fn rfc3768_6_4_3_shutdown_sends_priority_zero() {
    // Input: Shutdown of a Master. Output: a priority-0 advert (with the
    // password), the addresses removed, Initialize.
    let auth = Auth::simple_text(b"secret");
    let (mut vr, t) = active(vrrp2_config(100, 1, auth));
    vr.handle_command(t, Command::Shutdown);
    assert_eq!(
        drain(&mut vr),
        vec![
            sent(0, 1, auth),
            Action::RemoveAddresses(vec![VIP]),
            changed(State::Active, State::Initialize, Reason::Shutdown),
        ]
    );
    assert_eq!(vr.poll_timeout(), None);
}
