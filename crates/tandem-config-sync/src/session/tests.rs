//! Session tests: two sessions back to back through an in-memory pipe,
//! on virtual time.

use std::time::Duration;

use tandem_time::Instant;

use super::*;
use crate::channel::{Key, Side};
use crate::doc::{Document, ObjectKey};
use crate::frame::{Frame, Mode, RejectCode, Role};
use crate::sim::{Answer, Pair, Unit};

mod props;
mod raw;
use crate::value::Value;

fn key() -> Key {
    Key::from_bytes([7; 32])
}

fn cfg(unit: &str, mode: Mode) -> Config {
    let mut c = Config::new(unit, "pair-1", key(), mode);
    c.boot = if unit == "a" { 11 } else { 22 };
    c.unix_ms_at_zero = 1_700_000_000_000;
    c
}

fn vs(n: usize) -> Document {
    let mut d = Document::new();
    for i in 0..n {
        let k = ObjectKey::new("app.vs", format!("vs{i:05}"));
        d.set(k.clone(), "port", Value::Int(80)).unwrap();
        d.set(k, "address", Value::Str(format!("192.0.2.{}", i % 250)))
            .unwrap();
    }
    d
}

fn with(doc: &Document, id: &str, field: &str, v: Value) -> Document {
    let mut d = doc.clone();
    d.set(ObjectKey::new("app.vs", id), field, v).unwrap();
    d
}

/// a Active, b Backup, same document at the same authority.
fn in_sync_pair(doc: Document) -> Pair {
    let auth = Authority {
        epoch: 5,
        generation: 3,
    };
    let mut a = Unit::new(cfg("a", Mode::ActiveStandby), doc.clone(), auth);
    let mut b = Unit::new(cfg("b", Mode::ActiveStandby), doc, auth);
    a.s.set_role(Instant::ZERO, Role::Active);
    b.s.set_role(Instant::ZERO, Role::Backup);
    let mut p = Pair::new(a, b);
    p.connect();
    p
}

#[test]
fn equal_documents_meet_in_sync_and_move_no_configuration() {
    let mut p = in_sync_pair(vs(100));
    p.run(Duration::from_secs(3));
    assert_eq!(p.a.s.state(), State::InSync);
    assert_eq!(p.b.s.state(), State::InSync);
    assert!(p.a.applied.is_empty() && p.b.applied.is_empty());
    assert!(p.a.s.ready() && p.b.s.ready());
    assert_eq!(p.b.s.status().peer_unit.as_deref(), Some("a"));
    assert!(p.a.errors().is_empty(), "{:?}", p.a.errors());
}

#[test]
fn a_commit_on_the_active_is_applied_on_the_backup_and_acknowledged() {
    let doc = vs(10);
    let mut p = in_sync_pair(doc.clone());
    let before = p.wire_ab;
    let new = with(&doc, "vs00003", "port", Value::Int(8080));
    let auth = p.a.s.commit(p.now, new.clone()).unwrap();
    assert_eq!(auth.generation, 4);
    assert_eq!(p.a.s.state(), State::Pending { generation: 4 });
    p.pump();
    let one_change = p.wire_ab - before;
    assert!(one_change <= 1024, "{one_change} bytes for one object");
    assert_eq!(p.b.applied.len(), 1);
    assert_eq!(p.b.s.document(), &new);
    assert_eq!(
        p.b.applied[0].changed,
        vec![ObjectKey::new("app.vs", "vs00003")]
    );
    assert_eq!(p.b.s.authority(), auth);
    assert_eq!(p.a.s.state(), State::InSync);
    assert!(p
        .a
        .events
        .iter()
        .any(|e| matches!(e, Event::Acked { generation: 4 })));
}

#[test]
fn a_commit_of_some_objects_is_the_commit_of_the_document_with_them() {
    // Input: a commits two objects in place (one changed, one removed).
    // Expected: the same authority and root as a commit of the whole
    // document with them, applied and acknowledged by b; an unchanged
    // object commits nothing.
    let doc = vs(10);
    let mut p = in_sync_pair(doc.clone());
    let mut new = with(&doc, "vs00003", "port", Value::Int(8080));
    new.put_object(ObjectKey::new("app.vs", "vs00004"), None);
    let objects = vec![
        (
            ObjectKey::new("app.vs", "vs00003"),
            new.object(&ObjectKey::new("app.vs", "vs00003")).cloned(),
        ),
        (ObjectKey::new("app.vs", "vs00004"), None),
    ];
    let auth = p.a.s.commit_objects(p.now, objects, Role::Active).unwrap();
    assert_eq!(auth.generation, 4);
    assert_eq!(p.a.s.document(), &new);
    assert_eq!(
        p.a.s.root(),
        crate::digest::root_of(cfg("a", Mode::ActiveStandby).schema_version, &new)
    );
    p.pump();
    assert_eq!(p.b.s.document(), &new);
    assert_eq!(p.b.s.authority(), auth);
    assert_eq!(p.a.s.state(), State::InSync);
    let same = vec![(
        ObjectKey::new("app.vs", "vs00001"),
        doc.object(&ObjectKey::new("app.vs", "vs00001")).cloned(),
    )];
    assert_eq!(
        p.a.s.commit_objects(p.now, same, Role::Active).unwrap(),
        auth
    );
}

#[test]
fn the_backup_refuses_a_commit_in_active_standby_mode() {
    let doc = vs(2);
    let mut p = in_sync_pair(doc.clone());
    let new = with(&doc, "vs00001", "port", Value::Int(1));
    assert_eq!(p.b.s.commit(p.now, new), Err(CommitError::NotActive));
}

#[test]
fn a_refused_change_changes_nothing_and_the_sender_hears_code_and_path() {
    let doc = vs(3);
    let mut p = in_sync_pair(doc.clone());
    p.b.answer = Answer::Refuse;
    let root_b = p.b.s.status().local_root;
    p.a.s
        .commit(p.now, with(&doc, "vs00001", "port", Value::Int(81)))
        .unwrap();
    p.pump();
    assert_eq!(p.b.s.status().local_root, root_b);
    assert_eq!(p.b.s.document(), &doc);
    let r = p.a.rejected();
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].code, RejectCode::LocalConflict);
    assert_eq!(r[0].path, "app.vs.vs00001.port");
    assert!(matches!(p.a.s.state(), State::Blocked { .. }));
}

#[test]
fn a_wrong_key_fails_the_handshake_and_nothing_is_applied() {
    let doc = vs(2);
    let a = Unit::new(
        cfg("a", Mode::ActiveStandby),
        with(&doc, "x", "p", Value::Int(1)),
        Authority {
            epoch: 5,
            generation: 9,
        },
    );
    let mut cb = cfg("b", Mode::ActiveStandby);
    cb.key = Key::from_bytes([8; 32]);
    let b = Unit::new(
        cb,
        doc.clone(),
        Authority {
            epoch: 5,
            generation: 3,
        },
    );
    let mut p = Pair::new(a, b);
    p.connect();
    p.run(Duration::from_secs(1));
    assert!(p.b.applied.is_empty());
    assert_eq!(p.b.s.document(), &doc);
    assert!(
        p.b.errors().iter().any(|e| e.contains("handshake")),
        "{:?}",
        p.b.errors()
    );
    assert_eq!(p.b.s.state(), State::Disconnected);
}

#[test]
fn another_cluster_id_fails_the_handshake() {
    let doc = vs(1);
    let a = Unit::new(
        cfg("a", Mode::ActiveStandby),
        doc.clone(),
        Authority::default(),
    );
    let mut cb = cfg("b", Mode::ActiveStandby);
    cb.cluster = "pair-2".into();
    let b = Unit::new(cb, doc, Authority::default());
    let mut p = Pair::new(a, b);
    p.connect();
    assert!(p.b.errors().iter().any(|e| e.contains("handshake")));
    assert!(p.b.s.status().peer_unit.is_none());
}

#[test]
fn an_altered_frame_closes_the_connection_and_changes_nothing() {
    let doc = vs(3);
    let mut p = in_sync_pair(doc.clone());
    p.corrupt_next_ab = true;
    p.a.s
        .commit(p.now, with(&doc, "vs00001", "port", Value::Int(82)))
        .unwrap();
    p.pump();
    assert!(p.b.applied.is_empty());
    assert_eq!(p.b.s.document(), &doc);
    assert!(
        p.b.errors().iter().any(|e| e.contains("authentication")),
        "{:?}",
        p.b.errors()
    );
}

#[test]
fn a_replayed_frame_fails_and_changes_nothing() {
    let doc = vs(3);
    let mut p = in_sync_pair(doc.clone());
    // Record a -> b bytes of a commit, deliver them, then again.
    p.a.s
        .commit(p.now, with(&doc, "vs00001", "port", Value::Int(83)))
        .unwrap();
    let mut recorded = Vec::new();
    while let Some(o) = p.a.s.poll_output() {
        if let Output::Transmit(b) = o {
            recorded.push(b);
        }
    }
    for r in &recorded {
        p.b.s.receive(p.now, r);
    }
    p.pump();
    let applied = p.b.applied.len();
    assert_eq!(applied, 1);
    let root = p.b.s.status().local_root;
    for r in &recorded {
        p.b.s.receive(p.now, r);
    }
    p.pump();
    assert_eq!(p.b.applied.len(), 1, "the replay applied again");
    assert_eq!(p.b.s.status().local_root, root);
    assert!(p.b.errors().iter().any(|e| e.contains("authentication")));
}

#[test]
fn a_backup_that_missed_changes_catches_up_from_the_ring() {
    let doc = vs(20);
    let mut p = in_sync_pair(doc.clone());
    p.cut();
    let mut d = doc.clone();
    for i in 0..5 {
        d = with(&d, &format!("vs{i:05}"), "port", Value::Int(9000 + i));
        p.a.s.commit(p.now, d.clone()).unwrap();
    }
    p.pump();
    p.connect();
    p.run(Duration::from_secs(1));
    assert_eq!(p.b.s.document(), &d);
    assert_eq!(p.b.applied.len(), 5, "one apply per replayed delta");
    assert!(p.roots_equal());
    assert_eq!(p.a.s.state(), State::InSync);
}

#[test]
fn beyond_the_ring_only_the_differing_objects_are_fetched() {
    let doc = vs(500);
    let mut p = in_sync_pair(doc.clone());
    p.cut();
    let mut d = doc.clone();
    for i in 0..300 {
        d = with(&d, &format!("vs{:05}", i % 3), "port", Value::Int(1000 + i));
        p.a.s.commit(p.now, d.clone()).unwrap();
    }
    p.pump();
    p.connect();
    p.run(Duration::from_secs(2));
    assert_eq!(p.b.s.document(), &d);
    let last = p.b.applied.last().unwrap();
    assert_eq!(last.changed.len(), 3, "{:?}", last.changed);
    assert_eq!(p.b.s.authority(), p.a.s.authority());
    assert!(p.roots_equal());
}

#[test]
fn a_unit_back_with_an_older_configuration_never_overwrites_the_newer() {
    let doc = vs(5);
    let newer = with(&doc, "vs00002", "port", Value::Int(443));
    // b (Active now) has generation 7; a comes back at 3 with the old one.
    let a = Unit::new(
        cfg("a", Mode::ActiveStandby),
        doc.clone(),
        Authority {
            epoch: 5,
            generation: 3,
        },
    );
    let b = Unit::new(
        cfg("b", Mode::ActiveStandby),
        newer.clone(),
        Authority {
            epoch: 5,
            generation: 7,
        },
    );
    let mut p = Pair::new(a, b);
    p.a.s.set_role(p.now, Role::Active);
    p.b.s.set_role(p.now, Role::Backup);
    p.connect();
    p.run(Duration::from_secs(2));
    assert!(p.b.applied.is_empty(), "the newer unit was overwritten");
    assert_eq!(p.b.s.document(), &newer);
    assert_eq!(p.a.s.document(), &newer, "the older unit follows");
    assert!(p.roots_equal());
}

#[test]
fn different_histories_are_located_not_overwritten_until_forced() {
    let a_doc = with(&vs(4), "vs00001", "port", Value::Int(1));
    let b_doc = with(&vs(4), "vs00002", "port", Value::Int(2));
    let a = Unit::new(
        cfg("a", Mode::ActiveStandby),
        a_doc.clone(),
        Authority {
            epoch: 1,
            generation: 9,
        },
    );
    let b = Unit::new(
        cfg("b", Mode::ActiveStandby),
        b_doc.clone(),
        Authority {
            epoch: 2,
            generation: 3,
        },
    );
    let mut p = Pair::new(a, b);
    p.a.s.set_role(p.now, Role::Active);
    p.b.s.set_role(p.now, Role::Backup);
    p.connect();
    p.run(Duration::from_secs(2));
    assert!(p.a.applied.is_empty() && p.b.applied.is_empty());
    assert!(
        matches!(p.a.s.state(), State::Diverged { .. }),
        "{:?}",
        p.a.s.state()
    );
    let diff = p.a.s.diff();
    let keys: Vec<String> = diff.iter().map(|d| d.key.to_string()).collect();
    assert_eq!(keys, ["app.vs.vs00001", "app.vs.vs00002"]);
    let overwritten = p.a.s.force(p.now);
    assert_eq!(overwritten.len(), 2);
    p.pump();
    p.run(Duration::from_secs(1));
    assert_eq!(p.b.s.document(), &a_doc);
    assert_eq!(p.b.s.authority(), p.a.s.authority());
    assert_eq!(p.a.s.state(), State::InSync);
}

#[test]
fn a_fresh_unit_joins_by_snapshot() {
    let doc = vs(3000);
    let a = Unit::new(
        cfg("a", Mode::ActiveStandby),
        doc.clone(),
        Authority {
            epoch: 5,
            generation: 40,
        },
    );
    let b = Unit::new(
        cfg("b", Mode::ActiveStandby),
        Document::new(),
        Authority::default(),
    );
    let mut p = Pair::new(a, b);
    p.a.s.set_role(p.now, Role::Active);
    p.connect();
    p.run(Duration::from_secs(1));
    assert_eq!(p.b.s.document(), &doc);
    assert_eq!(p.b.s.authority(), p.a.s.authority());
}

#[test]
fn a_divergence_is_detected_within_two_seconds_and_repaired() {
    let doc = vs(50);
    let mut p = in_sync_pair(doc.clone());
    p.run(Duration::from_millis(500));
    // A hand edit on the Backup (not a commit).
    p.b.s
        .set_document(p.now, with(&doc, "vs00007", "port", Value::Int(7)));
    p.run(Duration::from_millis(2_000));
    assert!(
        p.b.events
            .iter()
            .any(|e| matches!(e, Event::Diverged { objects } if objects.len() == 1)),
        "{:?}",
        p.b.events
    );
    assert_eq!(p.b.s.document(), &doc, "the Active's document is restored");
    assert!(p.roots_equal());
}

#[test]
fn a_newer_schema_never_pushes_to_an_older_unit() {
    let doc = vs(2);
    let mut ca = cfg("a", Mode::ActiveStandby);
    ca.schema_version = 2;
    let a = Unit::new(
        ca,
        with(&doc, "vs00001", "port", Value::Int(5)),
        Authority {
            epoch: 5,
            generation: 4,
        },
    );
    let b = Unit::new(
        cfg("b", Mode::ActiveStandby),
        doc.clone(),
        Authority {
            epoch: 5,
            generation: 3,
        },
    );
    let mut p = Pair::new(a, b);
    p.a.s.set_role(p.now, Role::Active);
    p.connect();
    p.run(Duration::from_secs(2));
    assert!(p.b.applied.is_empty());
    match p.a.s.state() {
        State::Blocked { reason } => assert!(
            reason.contains("schema 1") && reason.contains("schema 2"),
            "{reason}"
        ),
        s => panic!("{s:?}"),
    }
}

#[test]
fn frames_held_during_an_apply_are_processed_after_it() {
    let doc = vs(3);
    let mut p = in_sync_pair(doc.clone());
    p.b.answer = Answer::Hold;
    let d1 = with(&doc, "vs00001", "port", Value::Int(1));
    let d2 = with(&d1, "vs00002", "port", Value::Int(2));
    p.a.s.commit(p.now, d1).unwrap();
    p.pump();
    p.a.s.commit(p.now, d2.clone()).unwrap();
    p.pump();
    assert_eq!(p.b.held.len(), 1);
    assert_eq!(p.b.s.state(), State::Syncing);
    p.b.answer = Answer::Accept;
    let first = p.b.held.remove(0);
    p.b.s.applied(p.now, first.id, Ok(()));
    p.pump();
    assert_eq!(p.b.s.document(), &d2);
}

#[test]
fn bidirectional_edits_on_both_units_converge_and_report_the_conflict() {
    let doc = vs(4);
    let a = Unit::new(
        cfg("a", Mode::Bidirectional),
        doc.clone(),
        Authority::default(),
    );
    let b = Unit::new(
        cfg("b", Mode::Bidirectional),
        doc.clone(),
        Authority::default(),
    );
    let mut p = Pair::new(a, b);
    p.connect();
    // Both edit the same object while apart, b a second later.
    p.cut();
    p.a.s
        .commit(p.now, with(&doc, "vs00001", "port", Value::Int(1)))
        .unwrap();
    p.now = p.now + Duration::from_secs(1);
    p.b.s
        .commit(p.now, with(&doc, "vs00001", "port", Value::Int(2)))
        .unwrap();
    p.a.s
        .commit(
            p.now,
            with(
                &with(&doc, "vs00001", "port", Value::Int(1)),
                "vs00003",
                "port",
                Value::Int(3),
            ),
        )
        .unwrap();
    p.pump();
    p.connect();
    p.run(Duration::from_secs(3));
    assert!(p.roots_equal());
    let k = ObjectKey::new("app.vs", "vs00001");
    assert_eq!(
        p.a.s.document().get(&k, "port"),
        Some(&Value::Int(2)),
        "the later edit wins"
    );
    assert_eq!(
        p.a.s
            .document()
            .get(&ObjectKey::new("app.vs", "vs00003"), "port"),
        Some(&Value::Int(3))
    );
    let conflicts: Vec<_> =
        p.a.events
            .iter()
            .chain(p.b.events.iter())
            .filter_map(|e| match e {
                Event::Conflict(c) => Some(c),
                _ => None,
            })
            .collect();
    assert!(!conflicts.is_empty());
    assert_eq!(conflicts[0].key, k);
    assert_eq!(conflicts[0].winner, "b");
}

#[test]
fn a_silent_partner_is_dropped_and_a_restart_reconnects() {
    let doc = vs(2);
    let mut p = in_sync_pair(doc.clone());
    // The pipe stops carrying (a partner that hangs).
    p.connected = false;
    p.run(Duration::from_secs(4));
    assert_eq!(p.a.s.state(), State::Disconnected);
    assert!(p.a.errors().iter().any(|e| e.contains("nothing heard")));
    // The Backup restarts with its persisted state and reconnects.
    let auth = p.b.s.authority();
    p.b = Unit::new(cfg("b", Mode::ActiveStandby), doc.clone(), auth);
    p.b.s.set_role(p.now, Role::Backup);
    p.connect();
    p.run(Duration::from_secs(1));
    assert_eq!(p.a.s.state(), State::InSync);
}

#[test]
fn a_frame_before_hello_closes_the_connection() {
    let mut b = Session::new(cfg("b", Mode::ActiveStandby), vs(1), Authority::default());
    b.connect(Instant::ZERO, Side::Responder).unwrap();
    b.on_frame(Frame::Ping {
        epoch: 0,
        generation: 0,
        root: [0; 32],
    });
    let outs: Vec<Output> = std::iter::from_fn(|| b.poll_output()).collect();
    assert!(
        outs.iter().any(|o| matches!(o, Output::Close { .. })),
        "{outs:?}"
    );
    assert!(outs
        .iter()
        .any(|o| matches!(o, Output::Event(Event::Error { text }) if text == "PING before HELLO")));
    assert_eq!(b.state(), State::Disconnected);
}

/// A simulation: random commits, cuts, delays and restarts of the Backup;
/// at the end, reconnected and quiet, the roots are equal.
#[test]
fn simulation_with_cuts_delays_and_restarts_ends_in_sync() {
    let doc = vs(30);
    for seed in 1..=20u64 {
        let mut rng = seed;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let mut p = in_sync_pair(doc.clone());
        let mut d = doc.clone();
        for step in 0..60 {
            match next() % 10 {
                0 => p.cut(),
                1 if !p.connected => p.connect(),
                2 => {
                    let auth = p.b.s.authority();
                    let bdoc = p.b.s.document().clone();
                    p.b = Unit::new(cfg("b", Mode::ActiveStandby), bdoc, auth);
                    p.b.s.set_role(p.now, Role::Backup);
                    p.a.s.closed(p.now);
                    p.connected = false;
                    p.connect();
                }
                _ => {
                    let id = format!("vs{:05}", next() % 40);
                    d = with(&d, &id, "port", Value::Int((step * 7) as i64));
                    let _ = p.a.s.commit(p.now, d.clone());
                }
            }
            p.pump();
            p.run(Duration::from_millis(100 * (next() % 5)));
        }
        if !p.connected {
            p.connect();
        }
        p.run(Duration::from_secs(6));
        assert!(
            p.roots_equal(),
            "seed {seed}: {:?} / {:?}",
            p.a.s.state(),
            p.b.s.state()
        );
        assert_eq!(p.b.s.document(), &d, "seed {seed}");
    }
}

#[test]
fn an_edit_made_on_the_active_commits_although_the_role_changed_since() {
    let doc = vs(2);
    let mut p = in_sync_pair(doc.clone());
    // The edit restarted the Active's router: it is not Active yet.
    p.a.s.set_role(p.now, Role::Backup);
    let new = with(&doc, "vs00001", "port", Value::Int(9));
    assert_eq!(
        p.a.s.commit(p.now, new.clone()),
        Err(CommitError::NotActive)
    );
    p.a.s.commit_as(p.now, new.clone(), Role::Active).unwrap();
    p.pump();
    assert_eq!(p.b.s.document(), &new);
}

#[test]
fn restored_versions_keep_an_edit_made_apart_across_a_restart() {
    let doc = vs(3);
    let a = Unit::new(
        cfg("a", Mode::Bidirectional),
        doc.clone(),
        Authority::default(),
    );
    let b = Unit::new(
        cfg("b", Mode::Bidirectional),
        doc.clone(),
        Authority::default(),
    );
    let mut p = Pair::new(a, b);
    p.connect();
    // Both edit vs00001 once, in sync.
    p.a.s
        .commit(p.now, with(&doc, "vs00001", "port", Value::Int(1)))
        .unwrap();
    p.pump();
    let synced = p.b.s.document().clone();
    // Apart, b edits it again, and restarts before it could sync.
    p.cut();
    p.now = p.now + Duration::from_secs(1);
    let edited = with(&synced, "vs00001", "port", Value::Int(2));
    p.b.s.commit(p.now, edited.clone()).unwrap();
    let versions = p.b.s.versions();
    let auth = p.b.s.authority();
    for restore in [false, true] {
        let mut b = Unit::new(cfg("b", Mode::Bidirectional), edited.clone(), auth);
        if restore {
            b.s.restore_versions(versions.clone());
        }
        let mut q = Pair::new(
            Unit::new(
                cfg("a", Mode::Bidirectional),
                p.a.s.document().clone(),
                p.a.s.authority(),
            ),
            b,
        );
        q.a.s.restore_versions(p.a.s.versions());
        q.now = p.now;
        q.connect();
        q.run(Duration::from_secs(3));
        assert!(q.roots_equal());
        let port =
            q.a.s
                .document()
                .get(&ObjectKey::new("app.vs", "vs00001"), "port")
                .cloned();
        if restore {
            assert_eq!(
                port,
                Some(Value::Int(2)),
                "b's edit made apart survives its restart"
            );
        } else {
            // Without the versions, the restarted unit's edit looks older.
            assert_eq!(port, Some(Value::Int(1)));
        }
    }
}
