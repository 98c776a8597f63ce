//! RFC 9568 (VRRPv3) rules, checked on one `VirtualRouter` driven directly
//! with hand-built adverts: the exact actions, and the exact deadlines
//! `poll_timeout` gives.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use common::*;
use tandem_election::{
    Action, Advert, ChecksumPolicy, Command, Config, Diagnostic, Instant, Protocol, Reason, State,
    Track, TrackEffect, VirtualRouter,
};
use tandem_wire::{vrrp2, Centiseconds, ChecksumMode, Priority};

use ChecksumMode::{NoPseudoHeader, PseudoHeader};

/// The advert a router with our addresses sends.
fn sent_v3(priority: u8, interval_cs: u16, mode: ChecksumMode) -> Action {
    Action::SendAdvert(v3(priority, interval_cs, mode))
}

fn changed(from: State, to: State, reason: Reason) -> Action {
    Action::StateChanged { from, to, reason }
}

fn add(accept: bool) -> Action {
    Action::AddAddresses {
        addresses: vec![VIP],
        accept,
    }
}

fn announce() -> Action {
    Action::Announce {
        addresses: vec![VIP],
        repeat: 5,
        spacing: Duration::ZERO,
    }
}

fn remove() -> Action {
    Action::RemoveAddresses(vec![VIP])
}

/// Down interval of a priority-100 Backup timing a 1 s Active: 3 s + 156/256 s.
const DOWN_100: Duration = Duration::from_nanos(3_609_375_000);

fn config_with(priority: u8, f: impl FnOnce(&mut Config)) -> Config {
    let mut c = vrrp3_config(priority, 100);
    f(&mut c);
    c
}

fn vrrp3_protocol(checksum: ChecksumPolicy, v2_compat: bool) -> Protocol {
    Protocol::Vrrp3 {
        interval: Centiseconds(100),
        checksum,
        v2_compat,
    }
}

/// A router of `config` started at 0 that took the Active role when its
/// down timer ran out; returns it and that instant.
fn active(config: Config) -> (VirtualRouter, Instant) {
    let (mut vr, _) = started(config, at(0));
    let t = vr.poll_timeout().expect("down timer");
    let actions = timeout(&mut vr, t);
    assert!(actions.contains(&changed(State::Backup, State::Active, Reason::ActiveDown)));
    (vr, t)
}

// ----- 6.4.1 Initialize ---------------------------------------------------

#[test]
fn rfc9568_6_4_1_owner_becomes_active_at_once() {
    // Input: Start of a priority-255 router (the address owner) at 1 s.
    // Output: an advert, the addresses (accepting), Active, the announce;
    // the next advert one interval later; no down timer.
    let (vr, actions) = started(vrrp3_config(255, 100), at(1000));
    assert_eq!(
        actions,
        vec![
            sent_v3(255, 100, PseudoHeader),
            add(true),
            changed(State::Initialize, State::Active, Reason::Owner),
            announce(),
        ]
    );
    assert_eq!(vr.state(), State::Active);
    assert_eq!(vr.poll_timeout(), Some(at(2000)));
}

#[test]
fn rfc9568_6_4_1_non_owner_becomes_backup_with_active_down_interval() {
    // Input: Start of a non-owner with priority 100, 200, 254 and interval
    // 1 s or 10 ms. Output: Backup, nothing sent, and the down timer at
    // 3 * interval + ((256 - priority) * interval) / 256, to the nanosecond.
    let cases: [(u8, u16, Duration, Duration); 6] = [
        (
            100,
            100,
            Duration::from_secs(3),
            Duration::from_nanos(609_375_000),
        ),
        (
            200,
            100,
            Duration::from_secs(3),
            Duration::from_nanos(218_750_000),
        ),
        (
            254,
            100,
            Duration::from_secs(3),
            Duration::from_nanos(7_812_500),
        ),
        (
            100,
            1,
            Duration::from_millis(30),
            Duration::from_nanos(6_093_750),
        ),
        (
            200,
            1,
            Duration::from_millis(30),
            Duration::from_nanos(2_187_500),
        ),
        (
            254,
            1,
            Duration::from_millis(30),
            Duration::from_nanos(78_125),
        ),
    ];
    for (priority, interval_cs, three_intervals, skew) in cases {
        let start = at(1000);
        let (mut vr, actions) = started(vrrp3_config(priority, interval_cs), start);
        let case = format!("priority {priority}, interval {interval_cs} cs");
        assert_eq!(
            actions,
            vec![changed(State::Initialize, State::Backup, Reason::Startup)],
            "{case}"
        );
        assert_eq!(vr.skew_time(), skew, "{case}");
        assert_eq!(vr.active_down_interval(), three_intervals + skew, "{case}");
        let deadline = start + three_intervals + skew;
        assert_eq!(vr.poll_timeout(), Some(deadline), "{case}");
        // A nanosecond early: still Backup, nothing sent.
        let early = Instant::from_duration(deadline.since_origin() - Duration::from_nanos(1));
        assert_eq!(timeout(&mut vr, early), vec![], "{case}");
        assert_eq!(vr.state(), State::Backup, "{case}");
    }
}

// ----- 6.4.2 Backup ----------------------------------------------------------

#[test]
fn rfc9568_6_4_2_backup_priority_zero_sets_down_timer_to_skew_time() {
    // Input: a priority-100 Backup hears a priority-200 Active at 1 s, then
    // its priority-0 advert at 2 s. Output: nothing at once; the down timer
    // at 2 s + Skew_Time (156/256 s); then the takeover, as ActiveResigned.
    let (mut vr, _) = started(vrrp3_config(100, 100), at(0));
    assert_eq!(
        receive(&mut vr, at(1000), HIGHER, &v3(200, 100, PseudoHeader)),
        vec![]
    );
    assert_eq!(vr.poll_timeout(), Some(at(1000) + DOWN_100));
    assert_eq!(
        receive(&mut vr, at(2000), HIGHER, &v3(0, 100, PseudoHeader)),
        vec![]
    );
    let deadline = at(2000) + n256(156);
    assert_eq!(vr.poll_timeout(), Some(deadline));
    assert_eq!(
        timeout(&mut vr, deadline),
        vec![
            sent_v3(100, 100, PseudoHeader),
            add(false),
            changed(State::Backup, State::Active, Reason::ActiveResigned),
            announce(),
        ]
    );
}

#[test]
fn rfc9568_6_4_2_backup_adopts_active_interval() {
    // Input: a priority-100 Backup configured with 1 s hears a priority-200
    // Active advertising Max Adver Int 50 cs at 1 s. Output: the down timer
    // at 1 s + 3 * 0.5 s + (156 * 0.5 s) / 256; Active_Adver_Interval 0.5 s.
    // When the Active goes back to 100 cs, the Backup follows.
    let (mut vr, _) = started(vrrp3_config(100, 100), at(0));
    assert_eq!(
        receive(&mut vr, at(1000), HIGHER, &v3(200, 50, PseudoHeader)),
        vec![]
    );
    assert_eq!(vr.status().active_interval, Duration::from_millis(500));
    assert_eq!(vr.skew_time(), Duration::from_nanos(304_687_500));
    assert_eq!(
        vr.poll_timeout(),
        Some(at(1000) + Duration::from_millis(1500) + Duration::from_nanos(304_687_500))
    );
    assert_eq!(
        receive(&mut vr, at(1500), HIGHER, &v3(200, 100, PseudoHeader)),
        vec![]
    );
    assert_eq!(vr.status().active_interval, Duration::from_secs(1));
    assert_eq!(vr.poll_timeout(), Some(at(1500) + DOWN_100));
}

#[test]
fn rfc9568_6_4_2_backup_resets_down_timer_on_equal_priority() {
    // Input: a priority-100 Backup (preempt on) hears priority 100 at 2 s.
    // Output: nothing; the down timer moves to 2 s + the down interval.
    let (mut vr, _) = started(vrrp3_config(100, 100), at(0));
    assert_eq!(
        receive(&mut vr, at(2000), HIGHER, &v3(100, 100, PseudoHeader)),
        vec![]
    );
    assert_eq!(vr.poll_timeout(), Some(at(2000) + DOWN_100));
    assert_eq!(vr.active_router(), Some(HIGHER));
}

#[test]
fn rfc9568_6_4_2_backup_with_preempt_discards_lower_priority() {
    // Input: a priority-200 Backup (preempt on, down at 3 s + 56/256 s) hears
    // a priority-100 Active every second, advertising 50 cs.
    // Output: the adverts are discarded: the timer is not reset and the
    // interval not adopted, and the Backup takes over at the old deadline,
    // saying whom it preempted.
    let (mut vr, _) = started(vrrp3_config(200, 100), at(0));
    let deadline = at(3000) + n256(56);
    for t in [1000, 2000, 3000] {
        assert_eq!(
            receive(&mut vr, at(t), LOWER, &v3(100, 50, PseudoHeader)),
            vec![]
        );
        assert_eq!(vr.poll_timeout(), Some(deadline));
    }
    assert_eq!(vr.status().active_interval, Duration::from_secs(1));
    assert_eq!(
        timeout(&mut vr, deadline),
        vec![
            sent_v3(200, 100, PseudoHeader),
            add(false),
            changed(
                State::Backup,
                State::Active,
                Reason::Preempting { active: LOWER }
            ),
            announce(),
        ]
    );
}

#[test]
fn rfc9568_6_4_2_backup_without_preempt_accepts_lower_priority() {
    // Input: a priority-200 Backup with preempt off hears priority 100 at 1 s.
    // Output: the down timer is reset to 1 s + 3 s + 56/256 s.
    let (mut vr, _) = started(config_with(200, |c| c.preempt = false), at(0));
    assert_eq!(
        receive(&mut vr, at(1000), LOWER, &v3(100, 100, PseudoHeader)),
        vec![]
    );
    assert_eq!(
        vr.poll_timeout(),
        Some(at(1000) + Duration::from_secs(3) + n256(56))
    );
    assert_eq!(vr.active_router(), Some(LOWER));
}

#[test]
fn rfc9568_6_4_2_down_timer_expiry_takes_over() {
    // Input: a priority-100 Backup hears nothing. Output: at 3 s + 156/256 s
    // an advert, the addresses (not accepting: Accept_Mode off), Active,
    // the announce; then the Adver_Timer one interval later.
    let (mut vr, _) = started(vrrp3_config(100, 100), at(0));
    let t = at(0) + DOWN_100;
    assert_eq!(
        timeout(&mut vr, t),
        vec![
            sent_v3(100, 100, PseudoHeader),
            add(false),
            changed(State::Backup, State::Active, Reason::ActiveDown),
            announce(),
        ]
    );
    assert_eq!(vr.poll_timeout(), Some(t + Duration::from_secs(1)));
    assert_eq!(vr.active_router(), Some(ME));
}

#[test]
fn rfc9568_6_1_accept_mode_is_carried_in_add_addresses() {
    // Input: Accept_Mode on, takeover. Output: AddAddresses with accept set.
    let (mut vr, _) = started(config_with(100, |c| c.accept_mode = true), at(0));
    let actions = timeout(&mut vr, at(0) + DOWN_100);
    assert_eq!(actions[1], add(true));
}

// ----- 6.4.3 Active ----------------------------------------------------------

#[test]
fn rfc9568_6_4_3_active_sends_advert_every_interval() {
    // Input: an Active router (owner, started at 0, interval 1 s) whose
    // Adver_Timer fires. Output: exactly one advert each second, and the
    // next deadline one interval on.
    let (mut vr, _) = started(vrrp3_config(255, 100), at(0));
    for s in 1..=5 {
        assert_eq!(vr.poll_timeout(), Some(at(s * 1000)));
        assert_eq!(
            timeout(&mut vr, at(s * 1000)),
            vec![sent_v3(255, 100, PseudoHeader)]
        );
    }
    assert_eq!(vr.poll_timeout(), Some(at(6000)));
}

#[test]
fn rfc9568_6_4_3_active_answers_priority_zero_at_once() {
    // Input: an Active router hears a priority-0 advert 0.5 s after taking over.
    // Output: an advert at once, still Active, the next one a full interval later.
    let (mut vr, t) = active(vrrp3_config(200, 100));
    let now = t + Duration::from_millis(500);
    assert_eq!(
        receive(&mut vr, now, HIGHER, &v3(0, 100, PseudoHeader)),
        vec![sent_v3(200, 100, PseudoHeader)]
    );
    assert_eq!(vr.state(), State::Active);
    assert_eq!(vr.poll_timeout(), Some(now + Duration::from_secs(1)));
}

#[test]
fn rfc9568_6_4_3_active_yields_to_higher_priority_and_adopts_interval() {
    // Input: a priority-100 Active hears priority 200 at 50 cs, from a lower
    // address. Output: one last advert of its own (so that the winner knows
    // it was Active too), the addresses removed, Backup (Preempted by the
    // sender), and the down timer at 3 * 0.5 s + (156 * 0.5 s) / 256.
    let (mut vr, t) = active(vrrp3_config(100, 100));
    let now = t + Duration::from_millis(100);
    assert_eq!(
        receive(&mut vr, now, LOWER, &v3(200, 50, PseudoHeader)),
        vec![
            Action::Diagnostic(Diagnostic::SplitBrain {
                other: LOWER,
                other_priority: Priority(200),
                we_win: false,
            }),
            sent_v3(100, 100, PseudoHeader),
            remove(),
            changed(
                State::Active,
                State::Backup,
                Reason::Preempted { by: LOWER }
            ),
        ]
    );
    assert_eq!(
        vr.poll_timeout(),
        Some(now + Duration::from_millis(1500) + Duration::from_nanos(304_687_500))
    );
    assert_eq!(vr.active_router(), Some(LOWER));
}

#[test]
fn rfc9568_6_4_3_active_yields_to_equal_priority_from_higher_address() {
    // Input: a priority-100 Active hears priority 100 from a higher primary
    // address. Output: Backup, Preempted by it; down timer at the down interval.
    let (mut vr, t) = active(vrrp3_config(100, 100));
    let now = t + Duration::from_millis(100);
    let actions = receive(&mut vr, now, HIGHER, &v3(100, 100, PseudoHeader));
    assert_eq!(
        actions[1..],
        [
            sent_v3(100, 100, PseudoHeader),
            remove(),
            changed(
                State::Active,
                State::Backup,
                Reason::Preempted { by: HIGHER }
            ),
        ]
    );
    assert_eq!(vr.poll_timeout(), Some(now + DOWN_100));
}

#[test]
fn rfc9568_6_4_3_active_discards_equal_priority_from_lower_address() {
    // Input: a priority-100 Active hears priority 100 from a lower address,
    // 100 ms after it became Active (the goodbye of a router it just
    // preempted), and again 10 s later.
    // Output: it stays Active and answers with an advert at once; the first
    // time is the end of a preemption, not a split brain; the second is a
    // split brain it wins.
    let (mut vr, t) = active(vrrp3_config(100, 100));
    let now = t + Duration::from_millis(100);
    assert_eq!(
        receive(&mut vr, now, LOWER, &v3(100, 100, PseudoHeader)),
        vec![sent_v3(100, 100, PseudoHeader)]
    );
    assert_eq!(vr.state(), State::Active);
    assert_eq!(vr.poll_timeout(), Some(now + Duration::from_secs(1)));
    let later = now + Duration::from_secs(10);
    while let Some(d) = vr.poll_timeout().filter(|d| *d <= later) {
        vr.handle_timeout(d);
        while vr.poll_action().is_some() {}
    }
    assert_eq!(
        receive(&mut vr, later, LOWER, &v3(100, 100, PseudoHeader)),
        vec![
            Action::Diagnostic(Diagnostic::SplitBrain {
                other: LOWER,
                other_priority: Priority(100),
                we_win: true,
            }),
            sent_v3(100, 100, PseudoHeader),
        ]
    );
}

#[test]
fn rfc9568_6_4_3_active_discards_lower_priority() {
    // Input: a priority-100 Active hears priority 50 from a higher address.
    // Output: it stays Active and answers at once.
    let (mut vr, t) = active(vrrp3_config(100, 100));
    let now = t + Duration::from_millis(100);
    let actions = receive(&mut vr, now, HIGHER, &v3(50, 100, PseudoHeader));
    assert_eq!(actions.last(), Some(&sent_v3(100, 100, PseudoHeader)));
    assert_eq!(vr.state(), State::Active);
}

#[test]
fn rfc9568_6_4_3_shutdown_sends_priority_zero() {
    // Input: Shutdown of an Active router. Output: a priority-0 advert, the
    // addresses removed, Initialize; no timer left; later adverts ignored.
    let (mut vr, t) = active(vrrp3_config(100, 100));
    vr.handle_command(t, Command::Shutdown);
    assert_eq!(
        drain(&mut vr),
        vec![
            sent_v3(0, 100, PseudoHeader),
            remove(),
            changed(State::Active, State::Initialize, Reason::Shutdown),
        ]
    );
    assert_eq!(vr.poll_timeout(), None);
    assert_eq!(
        receive(&mut vr, t, HIGHER, &v3(200, 100, PseudoHeader)),
        vec![]
    );
}

#[test]
fn rfc9568_6_4_2_shutdown_of_backup_sends_nothing() {
    // Input: Shutdown of a Backup. Output: Initialize only: no advert, no
    // address change, no timer.
    let (mut vr, _) = started(vrrp3_config(100, 100), at(0));
    vr.handle_command(at(1000), Command::Shutdown);
    assert_eq!(
        drain(&mut vr),
        vec![changed(State::Backup, State::Initialize, Reason::Shutdown)]
    );
    assert_eq!(vr.poll_timeout(), None);
}

// ----- 7.1 Receiving ---------------------------------------------------------

#[test]
fn rfc9568_7_1_ttl_not_255_is_dropped() {
    // Input: a Backup hears priority 200 with TTL 254. Output: BadTtl; the
    // down timer is not reset.
    let (mut vr, _) = started(vrrp3_config(100, 100), at(0));
    assert_eq!(
        receive_ttl(&mut vr, at(1000), HIGHER, 254, &v3(200, 100, PseudoHeader)),
        vec![Action::Diagnostic(Diagnostic::BadTtl {
            src: HIGHER,
            ttl: 254
        })]
    );
    assert_eq!(vr.poll_timeout(), Some(at(0) + DOWN_100));
}

#[test]
fn rfc9568_7_1_ttl_exempt_peer_is_accepted_with_hop_limit_64() {
    // Input: an IPv6 Backup exempting PEER6 hears priority 200 from PEER6
    // with hop limit 64, and from OTHER6 (not exempt) with hop limit 64.
    // Output: PEER6's resets the down timer; OTHER6's gives BadTtl.
    let mut c = Config::new(vrid(), ME6, VIP6.to_vec());
    c.silence_intervals = 0;
    c.announce.refresh_after = None;
    c.ttl_exempt = vec![PEER6];
    let (mut vr, _) = started(c, at(0));
    let advert = v3_with(200, 100, None, VIP6.to_vec());
    assert_eq!(receive_ttl(&mut vr, at(1000), PEER6, 64, &advert), vec![]);
    assert_eq!(vr.poll_timeout(), Some(at(1000) + DOWN_100));
    assert_eq!(
        receive_ttl(&mut vr, at(2000), OTHER6, 64, &advert),
        vec![Action::Diagnostic(Diagnostic::BadTtl {
            src: OTHER6,
            ttl: 64
        })]
    );
    assert_eq!(vr.poll_timeout(), Some(at(1000) + DOWN_100));
}

#[test]
fn rfc9568_7_1_address_mismatch_is_duplicate_vrid_and_dropped() {
    // Input: a Backup hears priority 200 for our VRID listing another address.
    // Output: DuplicateVrid with that address; the down timer is not reset.
    let other = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 200));
    let (mut vr, _) = started(vrrp3_config(100, 100), at(0));
    let advert = v3_with(200, 100, Some(PseudoHeader), vec![other]);
    assert_eq!(
        receive(&mut vr, at(1000), HIGHER, &advert),
        vec![Action::Diagnostic(Diagnostic::DuplicateVrid {
            src: HIGHER,
            addresses: vec![other],
        })]
    );
    assert_eq!(vr.poll_timeout(), Some(at(0) + DOWN_100));
}

#[test]
fn rfc9568_7_1_address_mismatch_from_owner_is_accepted() {
    // Input: the same, at priority 255 (the owner). Output: DuplicateVrid is
    // reported, and the advert is accepted: the down timer is reset.
    let other = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 200));
    let (mut vr, _) = started(vrrp3_config(100, 100), at(0));
    let advert = v3_with(255, 100, Some(PseudoHeader), vec![other]);
    assert_eq!(
        receive(&mut vr, at(1000), HIGHER, &advert),
        vec![Action::Diagnostic(Diagnostic::DuplicateVrid {
            src: HIGHER,
            addresses: vec![other],
        })]
    );
    assert_eq!(vr.poll_timeout(), Some(at(1000) + DOWN_100));
}

#[test]
fn rfc9568_7_1_advert_for_another_vrid_is_ignored() {
    // Input: a Backup and an Active hear priority 254 adverts for VRID 2.
    // Output: nothing; no timer moves; the Active keeps its role.
    let other_vrid = Advert::Vrrp3 {
        repr: v3_repr(2, 254, 100, vec![VIP]),
        checksum: Some(PseudoHeader),
    };
    let (mut vr, _) = started(vrrp3_config(100, 100), at(0));
    assert_eq!(receive(&mut vr, at(1000), HIGHER, &other_vrid), vec![]);
    assert_eq!(vr.poll_timeout(), Some(at(0) + DOWN_100));

    let (mut vr, t) = active(vrrp3_config(100, 100));
    assert_eq!(receive(&mut vr, t, HIGHER, &other_vrid), vec![]);
    assert_eq!(vr.state(), State::Active);
    assert_eq!(vr.poll_timeout(), Some(t + Duration::from_secs(1)));
}

#[test]
fn rfc9568_7_1_own_looped_advert_is_ignored() {
    // Input: adverts whose source is our primary address, as a Backup
    // (priority 200) and as an Active (priority 100, equal to ours).
    // Output: nothing; no timer moves; no answer, no split brain.
    let (mut vr, _) = started(vrrp3_config(100, 100), at(0));
    assert_eq!(
        receive(&mut vr, at(1000), ME, &v3(200, 100, PseudoHeader)),
        vec![]
    );
    assert_eq!(vr.poll_timeout(), Some(at(0) + DOWN_100));

    let (mut vr, t) = active(vrrp3_config(100, 100));
    let now = t + Duration::from_millis(10);
    assert_eq!(
        receive(&mut vr, now, ME, &v3(100, 100, PseudoHeader)),
        vec![]
    );
    assert_eq!(vr.state(), State::Active);
    assert_eq!(vr.poll_timeout(), Some(t + Duration::from_secs(1)));
}

// ----- checksum forms (IPv4) ------------------------------------------------

#[test]
fn rfc9568_5_2_8_strict_policy_drops_pseudo_header_form() {
    // Input: a Backup with the strict RFC 9568 policy hears priority 200 in
    // the pseudo-header form, then in the RFC 9568 form.
    // Output: the first gives ChecksumMode and is dropped; the second resets
    // the down timer; our own adverts are in the RFC 9568 form.
    let c = config_with(100, |c| {
        c.protocol = vrrp3_protocol(ChecksumPolicy::Rfc9568, false)
    });
    let (mut vr, _) = started(c, at(0));
    assert_eq!(
        receive(&mut vr, at(1000), HIGHER, &v3(200, 100, PseudoHeader)),
        vec![Action::Diagnostic(Diagnostic::ChecksumMode {
            src: HIGHER,
            theirs: PseudoHeader,
            ours: NoPseudoHeader,
        })]
    );
    assert_eq!(vr.poll_timeout(), Some(at(0) + DOWN_100));
    assert_eq!(
        receive(&mut vr, at(2000), HIGHER, &v3(200, 100, NoPseudoHeader)),
        vec![]
    );
    let deadline = at(2000) + DOWN_100;
    assert_eq!(vr.poll_timeout(), Some(deadline));
    assert_eq!(
        timeout(&mut vr, deadline)[0],
        sent_v3(100, 100, NoPseudoHeader)
    );
}

#[test]
fn rfc9568_5_2_8_pseudo_header_policy_drops_rfc9568_form() {
    // Input: a Backup with the pseudo-header policy hears the RFC 9568 form.
    // Output: ChecksumMode, dropped.
    let c = config_with(100, |c| {
        c.protocol = vrrp3_protocol(ChecksumPolicy::Ipv4PseudoHeader, false)
    });
    let (mut vr, _) = started(c, at(0));
    assert_eq!(
        receive(&mut vr, at(1000), HIGHER, &v3(200, 100, NoPseudoHeader)),
        vec![Action::Diagnostic(Diagnostic::ChecksumMode {
            src: HIGHER,
            theirs: NoPseudoHeader,
            ours: PseudoHeader,
        })]
    );
    assert_eq!(vr.poll_timeout(), Some(at(0) + DOWN_100));
}

#[test]
fn rfc9568_5_2_8_auto_policy_sends_in_the_peers_form() {
    // Input: an Active router with the automatic policy (sending the
    // pseudo-header form, no peer heard yet) hears a lower-priority peer
    // using the RFC 9568 form. Output: it answers, and keeps advertising,
    // in the RFC 9568 form; the peer's form is reported in the status.
    let (mut vr, t) = active(vrrp3_config(200, 100));
    let now = t + Duration::from_millis(100);
    let actions = receive(&mut vr, now, LOWER, &v3(100, 100, NoPseudoHeader));
    assert_eq!(actions.last(), Some(&sent_v3(200, 100, NoPseudoHeader)));
    assert_eq!(
        timeout(&mut vr, now + Duration::from_secs(1)),
        vec![sent_v3(200, 100, NoPseudoHeader)]
    );
    assert_eq!(
        vr.status().peer_checksum_modes,
        vec![(LOWER, NoPseudoHeader)]
    );
}

#[test]
fn rfc9568_5_2_8_auto_policy_reports_peers_that_mix_forms() {
    // Input: an automatic-policy Backup hears HIGHER in the pseudo-header
    // form, then LOWER in the RFC 9568 form. Output: nothing for the first;
    // ChecksumMode naming HIGHER's form for the second.
    let (mut vr, _) = started(vrrp3_config(100, 100), at(0));
    assert_eq!(
        receive(&mut vr, at(1000), HIGHER, &v3(200, 100, PseudoHeader)),
        vec![]
    );
    assert_eq!(
        receive(&mut vr, at(1500), LOWER, &v3(150, 100, NoPseudoHeader)),
        vec![Action::Diagnostic(Diagnostic::ChecksumMode {
            src: HIGHER,
            theirs: PseudoHeader,
            ours: NoPseudoHeader,
        })]
    );
}

// ----- 8.4 VRRPv2 / VRRPv3 interoperation ----------------------------------

fn v2_compat_config(priority: u8) -> Config {
    config_with(priority, |c| {
        c.protocol = vrrp3_protocol(ChecksumPolicy::Auto, true)
    })
}

fn sent_v2(priority: u8, interval_s: u8) -> Action {
    Action::SendAdvert(v2(priority, interval_s, vrrp2::Auth::None))
}

#[test]
fn rfc9568_8_4_active_sends_vrrp3_and_vrrp2_each_interval() {
    // Input: a v2-compatible priority-200 router takes over, then its
    // Adver_Timer fires twice. Output: each time a VRRPv3 advert and a
    // VRRPv2 advert (1 s, no authentication), in that order.
    let (mut vr, _) = started(v2_compat_config(200), at(0));
    let t = at(3000) + n256(56);
    assert_eq!(
        timeout(&mut vr, t),
        vec![
            sent_v3(200, 100, PseudoHeader),
            sent_v2(200, 1),
            add(false),
            changed(State::Backup, State::Active, Reason::ActiveDown),
            announce(),
        ]
    );
    for s in 1..=2 {
        let now = t + Duration::from_secs(s);
        assert_eq!(
            timeout(&mut vr, now),
            vec![sent_v3(200, 100, PseudoHeader), sent_v2(200, 1)]
        );
    }
}

#[test]
fn rfc9568_8_4_without_v2_compat_active_sends_vrrp3_only() {
    // Input: the same router without VRRPv2 compatibility. Output: only VRRPv3.
    let (mut vr, t) = active(vrrp3_config(200, 100));
    assert_eq!(
        timeout(&mut vr, t + Duration::from_secs(1)),
        vec![sent_v3(200, 100, PseudoHeader)]
    );
}

#[test]
fn rfc9568_8_4_backup_accepts_vrrp2_active_on_its_rate() {
    // Input: a v2-compatible priority-100 Backup hears a VRRPv2-only Active
    // (priority 200, 2 s) at 1 s. Output: the down timer at
    // 1 s + 3 * 2 s + (156 * 2 s) / 256; then, silence, the takeover there.
    let (mut vr, _) = started(v2_compat_config(100), at(0));
    assert_eq!(
        receive(&mut vr, at(1000), HIGHER, &v2(200, 2, vrrp2::Auth::None)),
        vec![]
    );
    let deadline = at(1000) + Duration::from_secs(6) + n256(2 * 156);
    assert_eq!(vr.poll_timeout(), Some(deadline));
    assert_eq!(vr.active_router(), Some(HIGHER));
    assert!(timeout(&mut vr, deadline).contains(&changed(
        State::Backup,
        State::Active,
        Reason::ActiveDown
    )));
}

#[test]
fn rfc9568_8_4_backup_ignores_vrrp2_from_active_that_sends_vrrp3() {
    // Input: a v2-compatible Backup hears one VRRPv3 advert (1 s) from an
    // Active at 1 s, then its VRRPv2 advert claiming 10 s at 1.5 s.
    // Output: the VRRPv2 advert is ignored: the timer stays on the VRRPv3 rate.
    let (mut vr, _) = started(v2_compat_config(100), at(0));
    assert_eq!(
        receive(&mut vr, at(1000), HIGHER, &v3(200, 100, PseudoHeader)),
        vec![]
    );
    assert_eq!(
        receive(&mut vr, at(1500), HIGHER, &v2(200, 10, vrrp2::Auth::None)),
        vec![]
    );
    assert_eq!(vr.poll_timeout(), Some(at(1000) + DOWN_100));
    assert_eq!(vr.status().active_interval, Duration::from_secs(1));
}

#[test]
fn rfc9568_8_4_vrrp2_only_active_after_a_vrrp3_one_is_followed() {
    // Input: a v2-compatible Backup hears a VRRPv3 Active (HIGHER) twice,
    // then only a VRRPv2 Active (LOWER, priority 150, 1 s) every second.
    // Output: every VRRPv2 advert of LOWER resets the down timer; the
    // Backup never takes over while LOWER advertises.
    let (mut vr, _) = started(v2_compat_config(100), at(0));
    for t in [1000, 2000] {
        assert_eq!(
            receive(&mut vr, at(t), HIGHER, &v3(200, 100, PseudoHeader)),
            vec![]
        );
    }
    for t in (3000..=12_000).step_by(1000) {
        assert_eq!(timeout(&mut vr, at(t)), vec![]);
        assert_eq!(
            receive(&mut vr, at(t), LOWER, &v2(150, 1, vrrp2::Auth::None)),
            vec![],
            "at {t} ms"
        );
        assert_eq!(vr.poll_timeout(), Some(at(t) + DOWN_100), "at {t} ms");
    }
    assert_eq!(vr.state(), State::Backup);
}

#[test]
fn rfc9568_8_4_without_v2_compat_vrrp2_is_a_version_mismatch() {
    // Input: a Backup without VRRPv2 compatibility hears a VRRPv2 advert.
    // Output: VersionMismatch (2 against 3); dropped: the timer is not reset.
    let (mut vr, _) = started(vrrp3_config(100, 100), at(0));
    assert_eq!(
        receive(&mut vr, at(1000), HIGHER, &v2(200, 1, vrrp2::Auth::None)),
        vec![Action::Diagnostic(Diagnostic::VersionMismatch {
            src: HIGHER,
            theirs: 2,
            ours: 3,
        })]
    );
    assert_eq!(vr.poll_timeout(), Some(at(0) + DOWN_100));
}

// ----- sans-IO time ------------------------------------------------------------

#[test]
fn sans_io_earlier_now_counts_as_the_last_one() {
    // Input: a Backup started at 10 s hears an Active at 12 s, then an advert
    // stamped 11 s (earlier). Output: the second counts as 12 s: the down
    // timer is 12 s + the down interval, not 11 s + it.
    let (mut vr, _) = started(vrrp3_config(100, 100), at(10_000));
    assert_eq!(
        receive(&mut vr, at(12_000), HIGHER, &v3(200, 100, PseudoHeader)),
        vec![]
    );
    assert_eq!(
        receive(&mut vr, at(11_000), HIGHER, &v3(200, 100, PseudoHeader)),
        vec![]
    );
    assert_eq!(vr.poll_timeout(), Some(at(12_000) + DOWN_100));
}

#[test]
fn sans_io_early_or_repeated_timeout_is_harmless() {
    // Input: an owner Active from 0; handle_timeout at 0.5 s (early), at 1 s
    // twice, and at 0.9 s (earlier than the last call).
    // Output: exactly one advert, at the first 1 s call; the deadline 2 s.
    let (mut vr, _) = started(vrrp3_config(255, 100), at(0));
    assert_eq!(timeout(&mut vr, at(500)), vec![]);
    assert_eq!(vr.poll_timeout(), Some(at(1000)));
    assert_eq!(
        timeout(&mut vr, at(1000)),
        vec![sent_v3(255, 100, PseudoHeader)]
    );
    assert_eq!(timeout(&mut vr, at(1000)), vec![]);
    assert_eq!(timeout(&mut vr, at(900)), vec![]);
    assert_eq!(vr.poll_timeout(), Some(at(2000)));
}

#[test]
fn rfc9568_6_4_3_the_farewell_of_a_router_just_preempted_does_not_unseat_us() {
    // Input: we (100, tracking "backend" with weight 60) hear LOWER Active at
    // 90, discard its adverts (6.4.2 preempt) and take over at our down
    // timer; 1 ms later "backend" fails (our priority 40), and 1 ms after
    // that LOWER's last advert arrives: priority 90, sent as it yielded to
    // us, before it heard that ours fell. Expected: we stay Active. LOWER is
    // Backup now; with preempt on it discards our priority-40 adverts and
    // takes the role back at its own down timer, so nobody is left without
    // an Active router. Once an Active_Down_Interval has passed, the same
    // advert is a real claim again and we yield to it.
    let mut cfg = vrrp3_config(100, 100);
    cfg.tracks.push(Track {
        name: "backend".into(),
        effect: TrackEffect::Weight(60),
    });
    let (mut vr, _) = started(cfg, at(0));
    receive(&mut vr, at(100), LOWER, &v3(90, 100, PseudoHeader));
    let t = vr.poll_timeout().expect("down timer");
    let took = timeout(&mut vr, t);
    assert!(took.contains(&changed(
        State::Backup,
        State::Active,
        Reason::Preempting { active: LOWER }
    )));
    vr.handle_command(
        t + Duration::from_millis(1),
        Command::TrackDown("backend".into()),
    );
    drain(&mut vr);
    let farewell = receive(
        &mut vr,
        t + Duration::from_millis(2),
        LOWER,
        &v3(90, 100, PseudoHeader),
    );
    assert_eq!(vr.state(), State::Active, "{farewell:?}");
    assert!(!farewell
        .iter()
        .any(|a| matches!(a, Action::RemoveAddresses(_))));
    // An Active_Down_Interval later (3 s + skew of priority 40, 3.84 s):
    // a claim.
    let later = t + Duration::from_millis(4_000);
    let claim = receive(&mut vr, later, LOWER, &v3(90, 100, PseudoHeader));
    assert_eq!(vr.state(), State::Backup, "{claim:?}");
}
