//! The pair with `[app]` objects: a change of only those is checked on
//! its objects and reloads nothing; any other takes the whole parse and
//! the reload plan.

use std::time::Duration;

use tandem_config_sync::doc::ObjectKey;
use tandem_config_sync::value::Value;

use super::*;
use crate::config::{self, document};

const APP: &str = "\n[app.vs.\"web1\"]\naddress = \"198.51.100.1\"\nport = 80\n\n\
                   [app.vs.\"web2\"]\naddress = \"198.51.100.2\"\nport = 80\n";

/// a Active, b Backup, both with the virtual services of [`APP`], in sync.
fn app_pair() -> Pair {
    let mut p = Pair::new(
        &(unit_text("a", 200, 51, "") + APP),
        &(unit_text("b", 100, 51, "") + APP),
    );
    p.run_to(at(6000));
    assert_eq!(p.a.node.states()["web"], State::Active);
    for u in [&p.a, &p.b] {
        let s = u.node.snapshot(p.now).sync.expect("sync");
        assert_eq!(s.state, "in-sync", "{s:?}");
    }
    p
}

fn set_on(u: &mut Unit, t: Instant, key: &str, value: &str) {
    u.host.push(Input::Control {
        at: t,
        request: ControlRequest::ConfigSet {
            key: key.into(),
            value: value.into(),
            local: false,
        },
        reply: 9,
    });
}

fn set_ups(u: &Unit) -> usize {
    u.host
        .outputs
        .iter()
        .filter(|(_, o)| matches!(o, Output::SetUp(_)))
        .count()
}

fn reloads(u: &Unit) -> Vec<(Vec<String>, Vec<String>, usize)> {
    u.host
        .outputs
        .iter()
        .filter_map(|(_, o)| match o {
            Output::Event(e) => match &e.kind {
                EventKind::Reloaded {
                    stopped,
                    started,
                    unchanged,
                } => Some((stopped.clone(), started.clone(), *unchanged)),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// The unit's kept document and configuration agree with its file: the
/// file reads back as the document and parses to the configuration, and
/// if tandemd wrote it (`rendered`), it is the document's rendering.
fn assert_cache_is_the_file(u: &Unit, rendered: bool) {
    let current = u.node.sync.file.as_ref().expect("a running file");
    assert_eq!(current.text, u.file());
    let doc = current.doc.as_ref().expect("the file's document");
    if rendered {
        assert_eq!(document::render(doc), u.file());
    }
    assert_eq!(document::document(u.file()).unwrap(), **doc);
    assert_eq!(config::parse(u.file()).unwrap(), current.config);
}

#[test]
fn an_app_only_set_reaches_the_backup_without_a_reload_and_its_file_is_its_kept_document() {
    // Input: a and b in sync with two virtual services; config set
    // app.vs.web1.port 8001 on a.
    // Expected: a answers with b's ACK; neither unit plans a reload (no
    // SetUp), each still reports the reload that kept its one unit; b's
    // file has the new port and is exactly its kept document, and parses
    // to its kept configuration (its own priority 100).
    let mut p = app_pair();
    let (a_set_ups, b_set_ups) = (set_ups(&p.a), set_ups(&p.b));
    let b_reloads = reloads(&p.b).len();
    let t = p.now;
    set_on(&mut p.a, t, "app.vs.web1.port", "8001");
    p.run_to(t + Duration::from_secs(2));
    assert!(
        p.a.replies().iter().any(|r| matches!(
            r,
            ControlReply::ConfigApplied {
                sync: SyncOutcome::Acked { .. },
                ..
            }
        )),
        "{:?}",
        p.a.replies()
    );
    assert_eq!(set_ups(&p.a), a_set_ups);
    assert_eq!(set_ups(&p.b), b_set_ups);
    assert_eq!(
        reloads(&p.b)[b_reloads..],
        [(Vec::new(), Vec::new(), 1)],
        "b reports the change as a reload that kept its unit"
    );
    let key = ObjectKey::new("app.vs", "web1");
    for u in [&p.a, &p.b] {
        assert_cache_is_the_file(u, true);
        let doc = document::document(u.file()).unwrap();
        assert_eq!(doc.get(&key, "port"), Some(&Value::Int(8001)));
    }
    assert!(p.b.file().contains("priority = 100"));
    assert!(p.b.sync_events().iter().any(
        |e| matches!(e, SyncEvent::Applied { changed, .. } if changed == &["app.vs.web1".to_string()])
    ));
    let state = PathBuf::from("/var/lib/tandemd-b/sync-state");
    let root = p.b.node.sync_status(p.now).unwrap().local_root;
    assert!(p.b.host.files[&state].contains(&format!("root {root}\n")));
    // A second change: b's file is the adoption of the session's document
    // now, so b adopts the one object alone; a commits the one object.
    let t = p.now;
    set_on(&mut p.a, t, "app.vs.web2.port", "8002");
    p.run_to(t + Duration::from_secs(2));
    assert_eq!(set_ups(&p.b), b_set_ups);
    for u in [&p.a, &p.b] {
        assert_cache_is_the_file(u, true);
        let doc = document::document(u.file()).unwrap();
        assert_eq!(doc.get(&key, "port"), Some(&Value::Int(8001)));
        let web2 = ObjectKey::new("app.vs", "web2");
        assert_eq!(doc.get(&web2, "port"), Some(&Value::Int(8002)));
    }
    let (sa, sb) = (
        p.a.node.sync_status(p.now).unwrap(),
        p.b.node.sync_status(p.now).unwrap(),
    );
    assert_eq!(
        (sa.state.as_str(), sb.state.as_str()),
        ("in-sync", "in-sync")
    );
    assert_eq!(sa.local_root, sb.local_root);
    assert_eq!(sb.applied, 2);
}

#[test]
fn a_bad_app_value_from_the_partner_is_refused_with_its_path_and_changes_nothing() {
    // Input: a's session commits a document whose app.vs.web2.port is
    // bytes (a value no file can write; a's own checks never make one).
    // Expected: b refuses it as invalid with that path, keeps its file
    // and its kept document; a hears the REJECT with the path.
    // (b's file was written by sync, at the good change before.)
    let mut p = app_pair();
    // A good change first: b adopts the next one object by object.
    let t = p.now;
    set_on(&mut p.a, t, "app.vs.web1.port", "8001");
    p.run_to(t + Duration::from_secs(2));
    assert!(p.b.file().contains("port = 8001"));
    let before = p.b.file().to_string();
    let t = p.now;
    let run = p.a.node.sync.run.as_mut().expect("a runs sync");
    let mut doc = run.session.document().clone();
    doc.set(
        ObjectKey::new("app.vs", "web2"),
        "port",
        Value::Bytes(vec![1, 2]),
    )
    .unwrap();
    run.session.commit(t, doc).unwrap();
    p.a.node.sync_drain(t);
    p.run_to(t + Duration::from_secs(2));
    assert_eq!(p.b.file(), before);
    assert_cache_is_the_file(&p.b, true);
    assert!(p.b.sync_events().iter().any(|e| matches!(
        e,
        SyncEvent::Refused { code, path, .. } if code == "invalid" && path == "app.vs.web2.port"
    )));
    assert!(p
        .a
        .sync_events()
        .iter()
        .any(|e| matches!(e, SyncEvent::Rejected { path, .. } if path == "app.vs.web2.port")));
}

#[test]
fn a_vrid_set_takes_the_whole_parse_and_restarts_the_instance_on_the_backup() {
    // Input: a and b in sync with virtual services; config set
    // instance.web.vrid 52 on a.
    // Expected: both plan a reload, b restarts web with VRID 52 (stopped
    // and started), and b's kept document and configuration are its new
    // file's.
    let mut p = app_pair();
    let b_set_ups = set_ups(&p.b);
    let b_reloads = reloads(&p.b).len();
    let t = p.now;
    set_on(&mut p.a, t, "instance.web.vrid", "52");
    p.run_to(t + Duration::from_secs(3));
    assert!(p.b.file().contains("vrid = 52"), "{}", p.b.file());
    assert!(set_ups(&p.b) > b_set_ups);
    let web = vec!["web".to_string()];
    assert!(reloads(&p.b)[b_reloads..].contains(&(web.clone(), web, 0)));
    assert_eq!(p.b.node.snapshot(p.now).instances[0].vrid, 52);
    assert_eq!(
        p.b.node.sync.file.as_ref().unwrap().config.instances[0]
            .election
            .vrid
            .get(),
        52
    );
    assert_cache_is_the_file(&p.a, true);
    assert_cache_is_the_file(&p.b, true);
}
