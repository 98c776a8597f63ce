//! CARP rules (OpenBSD carp(4) semantics, as ucarp speaks them), checked on
//! one `VirtualRouter` driven directly with hand-built adverts whose HMAC is
//! computed with the shared key: the exact actions and deadlines.

mod common;

use std::time::Duration;

use common::*;
use tandem_election::{
    Action, Advert, AuthFailure, Command, Config, Diagnostic, Instant, Reason, State, VirtualRouter,
};
use tandem_wire::{carp, Priority};

fn changed(from: State, to: State, reason: Reason) -> Action {
    Action::StateChanged { from, to, reason }
}

/// The advert this router sends: our VHID, `advbase`, `advskew`,
/// `demotion`, our counter and its HMAC.
fn sent(advbase: u8, advskew: u8, demotion: u8) -> Action {
    let repr = carp::Repr {
        vhid: vrid(),
        advskew,
        advbase,
        demotion,
        counter: OUR_COUNTER,
    };
    Action::SendAdvert(Advert::Carp {
        repr,
        hmac: carp_key().generate(OUR_COUNTER),
    })
}

/// What a Backup does when it takes the Active role.
fn takeover(advbase: u8, advskew: u8, demotion: u8, reason: Reason) -> Vec<Action> {
    vec![
        sent(advbase, advskew, demotion),
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

/// An Active router yielding: the split-brain report, its last advert
/// (`farewell`, so that the winner knows it was Active too), the addresses
/// removed, Backup.
fn yielded(to: std::net::IpAddr, advskew: u8, farewell: Action) -> Vec<Action> {
    vec![
        Action::Diagnostic(Diagnostic::SplitBrain {
            other: to,
            other_priority: Priority(255 - advskew),
            we_win: false,
        }),
        farewell,
        Action::RemoveAddresses(vec![VIP]),
        changed(State::Active, State::Backup, Reason::Preempted { by: to }),
    ]
}

/// Down interval of advbase 1, advskew 100: 3 s + 100/256 s.
const DOWN_1_100: Duration = Duration::from_nanos(3_390_625_000);
/// Interval of advbase 1, advskew 100: 1 s + 100/256 s.
const INTERVAL_1_100: Duration = Duration::from_nanos(1_390_625_000);

fn carp_with(advbase: u8, advskew: u8, f: impl FnOnce(&mut Config)) -> Config {
    let mut c = carp_config(advbase, advskew);
    f(&mut c);
    c
}

/// A router of `config` started at 0 that took the Active role at its down timer.
fn active(config: Config) -> (VirtualRouter, Instant) {
    let (mut vr, _) = started(config, at(0));
    let t = vr.poll_timeout().expect("down timer");
    let actions = timeout(&mut vr, t);
    assert!(actions.contains(&changed(State::Backup, State::Active, Reason::ActiveDown)));
    (vr, t)
}

#[test]
fn carp_backup_down_interval_is_three_advbase_plus_advskew() {
    // Input: Start with (advbase, advskew) = (1, 0), (1, 100), (2, 255), (3, 1).
    // Output: Backup, nothing sent, the down timer at
    // 3 * advbase + advskew / 256 s, the fraction in whole microseconds as
    // carp(4) and ucarp compute it (`advskew * 1000000 / 256` in a timeval).
    let cases: [(u8, u8, Duration); 4] = [
        (1, 0, Duration::from_secs(3)),
        (1, 100, DOWN_1_100),
        (
            2,
            255,
            Duration::from_secs(6) + Duration::from_micros(996_093),
        ),
        (3, 1, Duration::from_secs(9) + Duration::from_micros(3_906)),
    ];
    for (advbase, advskew, down) in cases {
        let (vr, actions) = started(carp_config(advbase, advskew), at(1000));
        let case = format!("advbase {advbase}, advskew {advskew}");
        assert_eq!(
            actions,
            vec![changed(State::Initialize, State::Backup, Reason::Startup)],
            "{case}"
        );
        assert_eq!(vr.active_down_interval(), down, "{case}");
        assert_eq!(vr.poll_timeout(), Some(at(1000) + down), "{case}");
    }
}

#[test]
fn carp_active_advertises_every_interval_with_demotion_counter_and_hmac() {
    // Input: advbase 1, advskew 100, demotion 3, nothing heard.
    // Output: at 3 s + 100/256 s the takeover with an advert carrying
    // advbase 1, advskew 100, demotion 3, our counter and a valid HMAC;
    // then the same advert every 1 s + 100/256 s, the counter unchanged.
    let (mut vr, _) = started(carp_with(1, 100, |c| c.demotion = 3), at(0));
    let t = at(0) + DOWN_1_100;
    assert_eq!(timeout(&mut vr, t), takeover(1, 100, 3, Reason::ActiveDown));
    for k in 1..=3 {
        let now = t + INTERVAL_1_100 * k;
        assert_eq!(vr.poll_timeout(), Some(now));
        let actions = timeout(&mut vr, now);
        assert_eq!(actions, vec![sent(1, 100, 3)]);
        let Action::SendAdvert(Advert::Carp { repr, hmac }) = &actions[0] else {
            unreachable!()
        };
        assert_eq!(carp_key().verify(repr.counter, hmac), Ok(()));
    }
}

#[test]
fn carp_bad_hmac_is_dropped() {
    // Input: a Backup hears adverts whose HMAC was made with another
    // password, and with the right password over another counter.
    // Output: AuthFailure BadHmac each time; the down timer is not reset.
    // The same advert with the right HMAC resets it.
    let (mut vr, _) = started(carp_config(1, 100), at(0));
    let repr = carp_repr(1, 0, 0, 7);
    let wrong_password = carp::Key::new(b"other", vrid(), &[VIP]).generate(7);
    let wrong_counter = carp_key().generate(8);
    for hmac in [wrong_password, wrong_counter] {
        assert_eq!(
            receive(&mut vr, at(1000), HIGHER, &Advert::Carp { repr, hmac }),
            vec![Action::Diagnostic(Diagnostic::AuthFailure {
                src: HIGHER,
                what: AuthFailure::BadHmac,
            })]
        );
        assert_eq!(vr.poll_timeout(), Some(at(0) + DOWN_1_100));
    }
    assert_eq!(
        receive(&mut vr, at(2000), HIGHER, &carp_advert(1, 0, 0, 7)),
        vec![]
    );
    assert_eq!(vr.poll_timeout(), Some(at(2000) + DOWN_1_100));
}

#[test]
fn carp_advert_with_our_counter_is_our_own_looped() {
    // Input: a Backup hears, from another address, a valid advert carrying
    // our own counter. Output: OwnAdvertLooped; dropped. One counter further
    // on, the same advert is accepted.
    let (mut vr, _) = started(carp_config(1, 100), at(0));
    assert_eq!(
        receive(
            &mut vr,
            at(1000),
            HIGHER,
            &carp_advert(1, 0, 0, OUR_COUNTER)
        ),
        vec![Action::Diagnostic(Diagnostic::OwnAdvertLooped)]
    );
    assert_eq!(vr.poll_timeout(), Some(at(0) + DOWN_1_100));
    let advert = carp_advert(1, 0, 0, OUR_COUNTER + 1);
    assert_eq!(receive(&mut vr, at(2000), HIGHER, &advert), vec![]);
    assert_eq!(vr.poll_timeout(), Some(at(2000) + DOWN_1_100));
}

#[test]
fn carp_random_counter_of_a_ucarp_active_is_accepted_every_time() {
    // Input: a Backup hears an Active (advskew 0) every second whose counter
    // is new and random each time: falling, rising, repeated, zero, maximal.
    // Output: every advert is accepted: no diagnostic, and the down timer is
    // reset each time; the Backup never takes over.
    let (mut vr, _) = started(carp_config(1, 100), at(0));
    let counters = [
        0x9e37_79b9_7f4a_7c15,
        0x0000_0000_0000_0001,
        0x7fff_ffff_0000_0000,
        0x7fff_ffff_0000_0000,
        0,
        u64::MAX,
        0x1234,
    ];
    for (k, counter) in (1..).zip(counters) {
        let now = at(k * 1000);
        assert_eq!(timeout(&mut vr, now), vec![]);
        assert_eq!(
            receive(&mut vr, now, HIGHER, &carp_advert(1, 0, 0, counter)),
            vec![],
            "counter {counter:#x}"
        );
        assert_eq!(vr.poll_timeout(), Some(now + DOWN_1_100));
    }
    assert_eq!(vr.state(), State::Backup);
    assert_eq!(vr.active_router(), Some(HIGHER));
}

#[test]
fn carp_active_yields_to_peer_advertising_more_often() {
    // Input: an Active with advbase 1, advskew 100 hears advskew 0,
    // demotion 0 (ours 0), from a lower address.
    // Output: one last advert of its own, the addresses removed, Backup
    // (Preempted by it), the down timer at 3 s + 100/256 s.
    let (mut vr, t) = active(carp_config(1, 100));
    let now = t + Duration::from_millis(100);
    assert_eq!(
        receive(&mut vr, now, LOWER, &carp_advert(1, 0, 0, 1)),
        yielded(LOWER, 0, sent(1, 100, 0))
    );
    assert_eq!(vr.poll_timeout(), Some(now + DOWN_1_100));
    assert_eq!(vr.active_router(), Some(LOWER));
}

#[test]
fn carp_active_keeps_role_against_less_frequent_or_more_demoted_peer() {
    // Input: an Active with advbase 1, advskew 100, demotion 0 hears
    // advskew 200 (less often), then advskew 0 with demotion 1 (more often
    // but more demoted). Output: it stays Active and answers each at once;
    // its Adver_Timer restarts from the answer.
    let (mut vr, t) = active(carp_config(1, 100));
    for (k, (advskew, demotion)) in [(200, 0), (0, 1)].into_iter().enumerate() {
        let now = t + Duration::from_millis(100 * (k as u64 + 1));
        let actions = receive(&mut vr, now, HIGHER, &carp_advert(1, advskew, demotion, 1));
        assert_eq!(actions.last(), Some(&sent(1, 100, 0)), "advskew {advskew}");
        assert!(
            !actions
                .iter()
                .any(|a| matches!(a, Action::StateChanged { .. })),
            "advskew {advskew}"
        );
        assert_eq!(vr.poll_timeout(), Some(now + INTERVAL_1_100));
    }
    assert_eq!(vr.state(), State::Active);
}

#[test]
fn carp_active_yields_to_less_demoted_peer() {
    // Input: an Active with advskew 0 and demotion 2 hears advskew 200
    // (less often) with demotion 1. Output: it yields to it.
    let (mut vr, t) = active(carp_with(1, 0, |c| c.demotion = 2));
    let now = t + Duration::from_millis(100);
    assert_eq!(
        receive(&mut vr, now, HIGHER, &carp_advert(1, 200, 1, 1)),
        yielded(HIGHER, 200, sent(1, 0, 2))
    );
    assert_eq!(vr.poll_timeout(), Some(now + Duration::from_secs(3)));
}

#[test]
fn carp_backup_with_preempt_takes_over_from_less_frequent_active() {
    // Input: a Backup with advskew 0 and preempt on hears an Active with
    // advskew 100, same demotion. Output: it takes over at once.
    let (mut vr, _) = started(carp_with(1, 0, |c| c.preempt = true), at(0));
    assert_eq!(
        receive(&mut vr, at(1000), HIGHER, &carp_advert(1, 100, 0, 1)),
        takeover(1, 0, 0, Reason::Preempting { active: HIGHER })
    );
    assert_eq!(vr.poll_timeout(), Some(at(2000)));
}

#[test]
fn carp_backup_without_preempt_follows_less_frequent_active() {
    // Input: the same Backup with preempt off. Output: nothing; the down
    // timer is reset to 1 s + 3 s.
    let (mut vr, _) = started(carp_config(1, 0), at(0));
    assert_eq!(
        receive(&mut vr, at(1000), HIGHER, &carp_advert(1, 100, 0, 1)),
        vec![]
    );
    assert_eq!(vr.poll_timeout(), Some(at(4000)));
    assert_eq!(vr.state(), State::Backup);
}

#[test]
fn carp_backup_with_preempt_follows_less_demoted_less_frequent_active() {
    // Input: a Backup with advskew 0, demotion 1 and preempt on hears an
    // Active with advskew 100 and demotion 0. Output: no takeover (its
    // demotion is better); the down timer is reset.
    let (mut vr, _) = started(
        carp_with(1, 0, |c| {
            c.preempt = true;
            c.demotion = 1;
        }),
        at(0),
    );
    assert_eq!(
        receive(&mut vr, at(1000), HIGHER, &carp_advert(1, 100, 0, 1)),
        vec![]
    );
    assert_eq!(vr.poll_timeout(), Some(at(4000)));
}

#[test]
fn carp_backup_takes_over_from_more_demoted_active_without_preempt() {
    // Input: a Backup (advskew 100, preempt off, demotion 0) hears an Active
    // advertising more often (advskew 0) with demotion 1. Output: it takes
    // over at once. With demotion 0 it would follow (second router).
    let (mut vr, _) = started(carp_config(1, 100), at(0));
    assert_eq!(
        receive(&mut vr, at(1000), HIGHER, &carp_advert(1, 0, 1, 1)),
        takeover(1, 100, 0, Reason::Preempting { active: HIGHER })
    );

    let (mut vr, _) = started(carp_config(1, 100), at(0));
    assert_eq!(
        receive(&mut vr, at(1000), HIGHER, &carp_advert(1, 0, 0, 1)),
        vec![]
    );
    assert_eq!(vr.poll_timeout(), Some(at(1000) + DOWN_1_100));
}

#[test]
fn carp_going_down_advert_makes_backup_take_over_at_once() {
    // Input: a Backup (preempt off) follows an Active, then hears its
    // going-down advert (advbase 255, advskew 255). Output: it takes over
    // at once, as ActiveResigned.
    let (mut vr, _) = started(carp_config(1, 100), at(0));
    assert_eq!(
        receive(&mut vr, at(1000), HIGHER, &carp_advert(1, 0, 0, 1)),
        vec![]
    );
    assert_eq!(
        receive(&mut vr, at(2000), HIGHER, &carp_advert(255, 255, 0, 2)),
        takeover(1, 100, 0, Reason::ActiveResigned)
    );
    assert_eq!(vr.poll_timeout(), Some(at(2000) + INTERVAL_1_100));
}

#[test]
fn carp_shutdown_as_active_sends_going_down_advert() {
    // Input: Shutdown of an Active with demotion 4. Output: an advert with
    // advbase 255, advskew 255, demotion 4, our counter and a valid HMAC,
    // the addresses removed, Initialize; no timer left.
    let (mut vr, t) = active(carp_with(1, 100, |c| c.demotion = 4));
    vr.handle_command(t, Command::Shutdown);
    assert_eq!(
        drain(&mut vr),
        vec![
            sent(255, 255, 4),
            Action::RemoveAddresses(vec![VIP]),
            changed(State::Active, State::Initialize, Reason::Shutdown),
        ]
    );
    assert_eq!(vr.poll_timeout(), None);
}

#[test]
fn carp_shutdown_as_backup_sends_nothing() {
    // Input: Shutdown of a Backup. Output: Initialize only.
    let (mut vr, _) = started(carp_config(1, 100), at(0));
    vr.handle_command(at(500), Command::Shutdown);
    assert_eq!(
        drain(&mut vr),
        vec![changed(State::Backup, State::Initialize, Reason::Shutdown)]
    );
}

#[test]
fn carp_active_tie_goes_to_the_higher_address() {
    // Input: an Active (advskew 100, demotion 0) hears an exact tie (advskew
    // 100, demotion 0) from a lower address, then from a higher one.
    // Output: it answers the lower one and stays Active (carp(4) would have
    // both yield and flap); it yields to the higher one.
    let (mut vr, t) = active(carp_config(1, 100));
    let now = t + Duration::from_millis(100);
    let actions = receive(&mut vr, now, LOWER, &carp_advert(1, 100, 0, 1));
    assert_eq!(actions.last(), Some(&sent(1, 100, 0)));
    assert_eq!(vr.state(), State::Active);
    let now = now + Duration::from_millis(100);
    let actions = receive(&mut vr, now, HIGHER, &carp_advert(1, 100, 0, 2));
    assert_eq!(
        actions[1..],
        yielded(HIGHER, 100, sent(1, 100, 0))[1..],
        "yields to the higher address"
    );
}
