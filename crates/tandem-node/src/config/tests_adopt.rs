//! Tests of the shared form, of adopting the partner's document in this
//! unit's own local context, and of `config get/set/unset`.

use std::path::Path;

use tandem_config_sync::doc::{Document, ObjectKey};
use tandem_config_sync::value::Value;

use super::*;

/// Unit `unit`'s file of a pair: its own priority, paths, health port,
/// sync settings and address pairs; `extra` after.
fn unit_file(unit: &str, extra: &str) -> String {
    let (own, partner, priority) = match unit {
        "a" => ("192.0.2.1", "192.0.2.2", 200),
        _ => ("192.0.2.2", "192.0.2.1", 100),
    };
    format!(
        r#"[global]
state_dir = "/var/lib/tandemd-{unit}"
restart_guard = {{ max_starts = 3, window = 300.0 }}

[health]
listen = "{own}:8080"
path = "/health"

[sync]
unit = "{unit}"
cluster = "pair-1"
listen = "{own}"
peer = "{partner}"
key_file = "/etc/tandemd/{unit}.key"
addresses = [["{own}", "{partner}"]]
rewrite = ["app.geo.*.address"]

[[instance]]
name = "web"
interface = "eth0"
vrid = 51
priority = {priority}
addresses = ["192.0.2.100/24"]
unicast_peers = ["{partner}"]

[unit.b.instance.web]
interface = "eth1"

[app.geo.site1]
address = "{own}"
weight = 2
{extra}
"#
    )
}

fn sync_of(text: &str) -> SyncConfig {
    parse(text).unwrap().global.sync.unwrap()
}

fn shared_of(text: &str) -> Document {
    shared(text, Some(&sync_of(text))).unwrap()
}

fn adopt_on_b(shared: &Document) -> Result<Adopted, AdoptError> {
    let b = unit_file("b", "");
    adopt(&b, shared, Some(&sync_of(&b)))
}

#[test]
fn shared_form_drops_local_fields_and_names_units_symbolically() {
    let a = shared_of(&unit_file("a", ""));
    let b = shared_of(&unit_file("b", ""));
    // Both units send the same document although their files differ.
    assert_eq!(a, b);
    let web = ObjectKey::new("instance", "web");
    assert_eq!(a.get(&web, "priority"), None);
    assert_eq!(a.get(&web, "vrid"), Some(&Value::Int(51)));
    assert_eq!(
        a.get(&web, "unicast_peers"),
        Some(&Value::List(vec![Value::Str("@partner".into())]))
    );
    assert!(a.object(&ObjectKey::new("sync", "")).is_none());
    assert_eq!(a.get(&ObjectKey::new("global", ""), "state_dir"), None);
    assert_eq!(a.get(&ObjectKey::new("health", ""), "listen"), None);
    let site = ObjectKey::new("app.geo", "site1");
    assert_eq!(a.get(&site, "address"), Some(&Value::Str("@self".into())));
    let overlay = ObjectKey::new("unit.b.instance", "web");
    assert_eq!(
        a.get(&overlay, "interface"),
        Some(&Value::Str("eth1".into()))
    );
}

#[test]
fn adopting_keeps_this_units_local_settings() {
    let b_text = unit_file("b", "");
    let b_before = parse(&b_text).unwrap();
    let adopted = adopt_on_b(&shared_of(&unit_file("a", ""))).unwrap();
    let c = &adopted.config;
    let web = c.instance("web").unwrap();
    assert_eq!(web.election.priority.0, 100);
    assert_eq!(c.global.state_dir, Path::new("/var/lib/tandemd-b"));
    assert_eq!(c.global.sync, b_before.global.sync);
    assert_eq!(
        c.global.health.as_ref().unwrap().listen,
        "192.0.2.2:8080".parse().unwrap()
    );
    // The partner's address, sent as @partner, is B's partner: A.
    assert_eq!(
        web.delivery,
        Delivery::Unicast(vec!["192.0.2.1".parse().unwrap()])
    );
    // B's overlay renames the interface on B.
    assert_eq!(web.interface, "eth1");
    // The adopted text is B's file in all but layout.
    assert_eq!(document(&adopted.text).unwrap(), document(&b_text).unwrap());
    assert_eq!(parse(&adopted.text).unwrap(), adopted.config);
    // A's own site address reaches B as B's own.
    let site = ObjectKey::new("app.geo", "site1");
    let doc = document(&adopted.text).unwrap();
    assert_eq!(
        doc.get(&site, "address"),
        Some(&Value::Str("192.0.2.2".into()))
    );
}

#[test]
fn a_shared_change_reaches_the_partner() {
    let a = unit_file("a", "").replace("vrid = 51", "vrid = 60");
    let a = a.replace("interface = \"eth1\"", "interface = \"eth2\"");
    let adopted = adopt_on_b(&shared_of(&a)).unwrap();
    let web = adopted.config.instance("web").unwrap();
    assert_eq!(web.election.vrid.get(), 60);
    assert_eq!(web.interface, "eth2");
    assert_eq!(web.election.priority.0, 100);
    // A new instance on A reaches B; one A removes leaves B.
    let a = format!(
        "{}\n[[instance]]\nname = \"db\"\ninterface = \"eth0\"\nvrid = 52\npriority = 250\naddresses = [\"192.0.2.101/24\"]\n",
        unit_file("a", "")
    );
    let adopted = adopt_on_b(&shared_of(&a)).unwrap();
    let db = adopted.config.instance("db").unwrap();
    assert_eq!(
        db.election.priority.0, 100,
        "the default: priority is A's own"
    );
    let b = format!(
        "{}\n[[instance]]\nname = \"old\"\ninterface = \"eth0\"\nvrid = 53\npriority = 90\naddresses = [\"192.0.2.102/24\"]\n",
        unit_file("b", "")
    );
    let adopted = adopt(&b, &shared_of(&unit_file("a", "")), Some(&sync_of(&b))).unwrap();
    assert!(adopted.config.instance("old").is_none());
}

#[test]
fn an_invalid_shared_value_is_refused_with_its_path() {
    let mut shared = shared_of(&unit_file("a", ""));
    let web = ObjectKey::new("instance", "web");
    shared.set(web.clone(), "vrid", Value::Int(0)).unwrap();
    let e = adopt_on_b(&shared).unwrap_err();
    assert_eq!(e.code, AdoptCode::Invalid);
    assert_eq!(e.path, "instance \"web\".vrid");
    assert!(e.text.contains("VRID 0 is out of range"), "{}", e.text);
    assert_eq!(
        e.code.reject_code(),
        tandem_config_sync::frame::RejectCode::Invalid
    );
    // A value of the wrong type.
    let mut shared = shared_of(&unit_file("a", ""));
    shared
        .set(web.clone(), "vrid", Value::Str("x".into()))
        .unwrap();
    assert_eq!(adopt_on_b(&shared).unwrap_err().code, AdoptCode::Invalid);
    // Bytes have no form in the file.
    let mut shared = shared_of(&unit_file("a", ""));
    let site = ObjectKey::new("app.geo", "site1");
    shared.set(site, "blob", Value::Bytes(vec![1, 2])).unwrap();
    let e = adopt_on_b(&shared).unwrap_err();
    assert_eq!(
        (e.code, e.path.as_str()),
        (AdoptCode::Invalid, "app.geo.site1.blob")
    );
    // An overlay of B that is invalid on B.
    let mut shared = shared_of(&unit_file("a", ""));
    let overlay = ObjectKey::new("unit.b.instance", "web");
    shared
        .set(overlay, "interface", Value::Str("a/b".into()))
        .unwrap();
    let e = adopt_on_b(&shared).unwrap_err();
    assert_eq!(e.path, "instance \"web\".interface");
}

#[test]
fn a_shared_local_field_is_a_conflict() {
    let mut shared = shared_of(&unit_file("a", ""));
    let web = ObjectKey::new("instance", "web");
    shared.set(web, "priority", Value::Int(250)).unwrap();
    let e = adopt_on_b(&shared).unwrap_err();
    assert_eq!(e.code, AdoptCode::LocalConflict);
    assert_eq!(e.path, "instance.web.priority");
    assert_eq!(e.code.name(), "local-conflict");
    let mut shared = shared_of(&unit_file("a", ""));
    shared
        .set(
            ObjectKey::new("sync", ""),
            "peer",
            Value::Str("192.0.2.9".into()),
        )
        .unwrap();
    assert_eq!(adopt_on_b(&shared).unwrap_err().path, "sync.peer");
}

#[test]
fn a_document_over_the_limit_is_too_large() {
    let b = unit_file("b", "").replace("rewrite =", "max_document = 1024\nrewrite =");
    let mut shared = shared_of(&unit_file("a", ""));
    let site = ObjectKey::new("app.geo", "site1");
    shared
        .set(site, "notes", Value::Str("x".repeat(2000)))
        .unwrap();
    let e = adopt(&b, &shared, Some(&sync_of(&b))).unwrap_err();
    assert_eq!(e.code, AdoptCode::TooLarge);
    assert!(
        e.text.contains("more than the 1024 this unit accepts"),
        "{}",
        e.text
    );
}

#[test]
fn get_reads_a_field() {
    let a = unit_file("a", "");
    assert_eq!(
        get(&a, "instance.web.priority").unwrap(),
        Some(Value::Int(200))
    );
    assert_eq!(get(&a, "instance.web.preempt").unwrap(), None);
    assert_eq!(get(&a, "instance.nope.vrid").unwrap(), None);
    assert_eq!(
        get(&a, "app.geo.site1.weight").unwrap(),
        Some(Value::Int(2))
    );
    assert_eq!(get(&a, "sync.unit").unwrap(), Some(Value::Str("a".into())));
    assert_eq!(
        get(&a, "unit.b.instance.web.interface").unwrap(),
        Some(Value::Str("eth1".into()))
    );
    let guard = get(&a, "global.restart_guard").unwrap().unwrap();
    assert!(matches!(guard, Value::Table(t) if t.get("max_starts") == Some(&Value::Int(3))));
    let e = get(&a, "instance..vrid").unwrap_err().to_string();
    assert!(
        e.starts_with("instance..vrid: path \"instance..vrid\": "),
        "{e}"
    );
}

#[test]
fn set_changes_a_field_and_checks_the_file() {
    let a = unit_file("a", "");
    let text = set(&a, "instance.web.priority", "150").unwrap();
    assert_eq!(
        parse(&text)
            .unwrap()
            .instance("web")
            .unwrap()
            .election
            .priority
            .0,
        150
    );
    let text = set(&a, "instance.web.interface", "\"eth3\"").unwrap();
    assert_eq!(
        parse(&text).unwrap().instance("web").unwrap().interface,
        "eth3"
    );
    let text = set(&a, "global.restart_guard", "{ max_starts = 7 }").unwrap();
    assert_eq!(
        get(&text, "global.restart_guard").unwrap(),
        Some(Value::Table(
            [("max_starts".to_string(), Value::Int(7))].into()
        ))
    );
    let text = set(&a, "app.vs.web1.ports", "[80, 443]").unwrap();
    assert_eq!(
        get(&text, "app.vs.web1.ports").unwrap(),
        Some(Value::List(vec![Value::Int(80), Value::Int(443)]))
    );
    assert!(text.starts_with("# written by tandemd config sync"));
    // A value the file refuses is refused, with the file's path.
    let e = set(&a, "instance.web.vrid", "0").unwrap_err().to_string();
    assert!(
        e.contains("instance \"web\".vrid: VRID 0 is out of range"),
        "{e}"
    );
    let e = set(&a, "instance.web.vrid", "1\n[global]")
        .unwrap_err()
        .to_string();
    assert!(e.contains("is not a TOML value"), "{e}");
    assert!(set(&a, "instance.web.vrid", "").is_err());
    assert!(set(&a, "instance.web.colour", "1")
        .unwrap_err()
        .to_string()
        .contains("colour"));
    let e = set(&a, "instance.web.name", "\"x\"")
        .unwrap_err()
        .to_string();
    assert!(e.contains("the name is the object's id"), "{e}");
    let e = set(&a, "app.vs.w.f", "nan").unwrap_err().to_string();
    assert!(e.contains("NaN is not a finite number"), "{e}");
}

#[test]
fn unset_removes_a_field() {
    let a = unit_file("a", "");
    let text = unset(&a, "instance.web.priority").unwrap();
    assert_eq!(
        parse(&text)
            .unwrap()
            .instance("web")
            .unwrap()
            .election
            .priority
            .0,
        100
    );
    assert_eq!(get(&text, "instance.web.priority").unwrap(), None);
    // Unsetting what is not set changes nothing.
    assert_eq!(unset(&text, "instance.web.priority").unwrap(), text);
    // A required field cannot go.
    let e = unset(&a, "instance.web.vrid").unwrap_err().to_string();
    assert!(e.contains("instance \"web\".vrid: missing"), "{e}");
    let text = unset(&a, "app.geo.site1.weight").unwrap();
    let text = unset(&text, "app.geo.site1.address").unwrap();
    assert!(!text.contains("site1"));
}
