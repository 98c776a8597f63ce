//! Tests of the document-level edits and adoption: a change of `[app]`
//! objects only is checked on those objects and keeps tandemd's settings;
//! any other change is parsed as a whole file.

use tandem_config_sync::doc::{Document, ObjectKey};
use tandem_config_sync::value::Value;

use super::document::{
    adopt_doc, adopt_objects, app_only, document, render, set_doc, shared_doc, unset_doc,
};
use super::*;

/// Unit `unit`'s file: instance web, `[sync]`, three virtual services.
fn file(unit: &str) -> String {
    let (own, partner, priority) = match unit {
        "a" => ("192.0.2.1", "192.0.2.2", 200),
        _ => ("192.0.2.2", "192.0.2.1", 100),
    };
    let mut text = format!(
        "[global]\nstate_dir = \"/var/lib/tandemd-{unit}\"\n\n\
         [sync]\nunit = \"{unit}\"\ncluster = \"pair-1\"\nlisten = \"{own}\"\npeer = \"{partner}\"\n\
         key_file = \"/etc/tandemd/{unit}.key\"\n\n\
         [[instance]]\nname = \"web\"\ninterface = \"eth0\"\nvrid = 51\npriority = {priority}\n\
         addresses = [\"192.0.2.100/24\"]\n"
    );
    for i in 0..3 {
        text.push_str(&format!(
            "\n[app.vs.\"vs{i}\"]\naddress = \"198.51.100.{i}\"\nport = 443\n\
             real_servers = [\"203.0.113.{i}:8443\"]\n"
        ));
    }
    text
}

#[test]
fn an_app_only_set_renders_back_to_the_same_document_and_configuration() {
    // Input: a checked file; config set of an [app] field on its document.
    // Expected: no configuration is parsed (it is the file's), and the new
    // text, parsed as a file later (a restart), gives back exactly the new
    // document and the file's configuration.
    let text = file("a");
    let config = parse(&text).unwrap();
    let doc = document(&text).unwrap();
    let edited = set_doc(&doc, "app.vs.vs1.port", "8001").unwrap();
    assert_eq!(edited.config, None);
    let mut new = doc.clone();
    edited.apply_to(&mut new);
    assert_eq!(edited.text, render(&new));
    assert_eq!(
        new.get(&ObjectKey::new("app.vs", "vs1"), "port"),
        Some(&Value::Int(8001))
    );
    assert_eq!(document(&edited.text).unwrap(), new);
    assert_eq!(parse(&edited.text).unwrap(), config);
    // A new object (rendered in its place), and unsetting its only field,
    // take the same path.
    let added = set_doc(&new, "app.vs.vs10.port", "9").unwrap();
    assert_eq!(added.config, None);
    let mut with = new.clone();
    added.apply_to(&mut with);
    assert_eq!(added.text, render(&with));
    assert_eq!(document(&added.text).unwrap(), with);
    let removed = unset_doc(&with, "app.vs.vs10.port").unwrap();
    assert_eq!(
        (removed.config.as_ref(), removed.object.as_ref()),
        (None, None)
    );
    assert_eq!(removed.text, edited.text);
}

#[test]
fn a_set_outside_app_is_parsed_as_a_whole_file() {
    // Input: config set of the VRID, then of a bad VRID.
    // Expected: the first comes with the parsed configuration (VRID 52);
    // the second is refused by the file's check with its path.
    let doc = document(&file("a")).unwrap();
    let edited = set_doc(&doc, "instance.web.vrid", "52").unwrap();
    let config = edited.config.expect("a non-app change is parsed");
    assert_eq!(config, parse(&edited.text).unwrap());
    assert_eq!(config.instances[0].election.vrid.get(), 52);
    let e = set_doc(&doc, "instance.web.vrid", "0").unwrap_err();
    assert!(e.to_string().contains("vrid"), "{e}");
}

#[test]
fn an_app_value_the_file_checks_refuse_is_refused_with_its_path() {
    // Input: a value nested deeper than a document carries, in [app].
    // Expected: refused with the field's path as given.
    let doc = document(&file("a")).unwrap();
    let deep = format!("{}1{}", "[".repeat(20), "]".repeat(20));
    let e = set_doc(&doc, "app.vs.vs1.port", &deep).unwrap_err();
    match &e {
        ConfigError::Invalid { at, .. } => assert_eq!(at.field, "app.vs.vs1.port"),
        other => panic!("{other}"),
    }
}

#[test]
fn an_app_only_adoption_keeps_the_configuration_and_reads_back() {
    // Input: a changes one virtual service; b adopts a's shared form into
    // its own document.
    // Expected: only that object changes, no configuration is parsed, and
    // b's new text reads back as the adopted document and b's own
    // configuration (its priority 100 kept).
    let (a, b) = (file("a"), file("b"));
    let sync_a = parse(&a).unwrap().global.sync;
    let config_b = parse(&b).unwrap();
    let own = document(&b).unwrap();
    let mut doc_a = document(&a).unwrap();
    set_doc(&doc_a, "app.vs.vs2.port", "8443")
        .unwrap()
        .apply_to(&mut doc_a);
    let shared = shared_doc(&doc_a, sync_a.as_ref());
    let adopted = adopt_doc(&own, &shared, config_b.global.sync.as_ref()).unwrap();
    assert_eq!(adopted.changed, vec![ObjectKey::new("app.vs", "vs2")]);
    assert!(app_only(&adopted.changed));
    assert_eq!(adopted.config, None);
    assert_eq!(adopted.text, render(&adopted.doc));
    assert_eq!(document(&adopted.text).unwrap(), adopted.doc);
    assert_eq!(parse(&adopted.text).unwrap(), config_b);
    assert_eq!(config_b.instances[0].election.priority.0, 100);
}

#[test]
fn an_adoption_outside_app_is_parsed_and_a_value_without_a_form_is_refused_by_path() {
    // Input: a's shared form with VRID 52; then one with bytes (which a
    // file cannot write) in an [app] field.
    // Expected: the first is parsed (b's configuration, VRID 52, priority
    // 100); the second is refused as invalid, with the field's path.
    let (a, b) = (file("a"), file("b"));
    let sync_a = parse(&a).unwrap().global.sync;
    let sync_b = parse(&b).unwrap().global.sync;
    let own = document(&b).unwrap();
    let mut shared = shared_doc(&document(&a).unwrap(), sync_a.as_ref());
    shared
        .set(ObjectKey::new("instance", "web"), "vrid", Value::Int(52))
        .unwrap();
    let adopted = adopt_doc(&own, &shared, sync_b.as_ref()).unwrap();
    let config = adopted.config.expect("a non-app change is parsed");
    assert_eq!(config.instances[0].election.vrid.get(), 52);
    assert_eq!(config.instances[0].election.priority.0, 100);
    let mut bad: Document = shared_doc(&document(&a).unwrap(), sync_a.as_ref());
    bad.set(
        ObjectKey::new("app.vs", "vs0"),
        "port",
        Value::Bytes(vec![1, 2]),
    )
    .unwrap();
    let e = adopt_doc(&own, &bad, sync_b.as_ref()).unwrap_err();
    assert_eq!(e.code, document::AdoptCode::Invalid);
    assert_eq!(e.path, "app.vs.vs0.port");
}

#[test]
fn adopting_app_objects_one_by_one_gives_what_adopting_the_whole_document_gives() {
    // Input: b has adopted a's document; a then adds, changes and removes
    // virtual services.
    // Expected: adopting just the changed objects gives the same text and
    // document as adopting the whole of a's new document.
    let (a, b) = (file("a"), file("b"));
    let sync_a = parse(&a).unwrap().global.sync;
    let sync_b = parse(&b).unwrap().global.sync;
    let mut doc_a = document(&a).unwrap();
    let before = shared_doc(&doc_a, sync_a.as_ref());
    let own = adopt_doc(&document(&b).unwrap(), &before, sync_b.as_ref())
        .unwrap()
        .doc;
    for (path, value) in [
        ("app.vs.vs0.port", Some("8000")),
        ("app.vs.vs10.port", Some("10")),
        ("app.vs.vs2.port", None),
    ] {
        let e = match value {
            Some(v) => set_doc(&doc_a, path, v),
            None => unset_doc(&doc_a, path),
        };
        e.unwrap().apply_to(&mut doc_a);
    }
    let after = shared_doc(&doc_a, sync_a.as_ref());
    let changed: Vec<ObjectKey> = Document::changed_keys(&before.diff(&after))
        .into_iter()
        .collect();
    assert_eq!(changed.len(), 3);
    let whole = adopt_doc(&own, &after, sync_b.as_ref()).unwrap();
    let some = adopt_objects(&own, &after, &changed, sync_b.as_ref()).unwrap();
    assert_eq!(some.text, whole.text);
    let mut patched = own.clone();
    for (key, object) in some.objects {
        patched.put_object(key, object);
    }
    assert_eq!(patched, whole.doc);
    // And a bad value among them is refused with its path.
    let mut bad = after.clone();
    bad.set(
        ObjectKey::new("app.vs", "vs0"),
        "port",
        Value::Bytes(vec![0]),
    )
    .unwrap();
    let e = adopt_objects(&own, &bad, &changed, sync_b.as_ref()).unwrap_err();
    assert_eq!(
        (e.code, e.path.as_str()),
        (document::AdoptCode::Invalid, "app.vs.vs0.port")
    );
}
