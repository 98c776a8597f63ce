//! Tests of the configuration file as a sync document: every key has an
//! explicit class, docs/config-sync.md lists every rule, the file's text
//! reads into a document and renders back to the same document (the
//! examples and generated `[app]` trees), and the shape errors.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use tandem_config_sync::doc::{Document, ObjectKey};
use tandem_config_sync::schema::{matches, Class};
use tandem_config_sync::value::Value;

use super::*;

/// Every key tandemd's file accepts, per section (an instance's and a
/// sync group's `name` is its object's id, not a field). A key raw.rs
/// accepts and this list lacks fails [`keys_are_those_the_file_accepts`];
/// a key here without an explicit class rule fails
/// [`every_key_has_an_explicit_class`].
pub(crate) const KEYS: &[(&str, &[&str])] = &[
    ("global", &["state_dir", "control_socket", "restart_guard"]),
    (
        "health",
        &[
            "listen",
            "path",
            "live_path",
            "metrics_path",
            "instances",
            "active_body",
            "standby_body",
        ],
    ),
    (
        "sync",
        &[
            "unit",
            "cluster",
            "listen",
            "peer",
            "key_file",
            "mode",
            "max_document",
            "addresses",
            "rewrite",
        ],
    ),
    (
        "replication",
        &[
            "node",
            "cluster",
            "listen",
            "peer",
            "interface",
            "key_file",
            "next_key_file",
            "format",
            "conntrack",
            "ignore",
            "flush_ms",
            "bulk_rate_mbit",
            "max_flows",
            "refresh",
        ],
    ),
    (
        "instance",
        &[
            "interface",
            "protocol",
            "vrid",
            "priority",
            "interval",
            "advbase",
            "advskew",
            "demotion",
            "addresses",
            "preempt",
            "preempt_delay",
            "accept",
            "checksum",
            "vrrp2_compat",
            "password",
            "auth",
            "source",
            "unicast_peers",
            "broadcast",
            "ttl_exempt",
            "vmac",
            "initial_wait",
            "ha_timeout",
            "silence_intervals",
            "announce",
            "track",
            "restart_guard",
            "notify",
            "notify_timeout",
            "notify_args",
            "notify_xparam",
            "notify_active",
            "notify_backup",
            "notify_fault",
            "notify_stop",
        ],
    ),
    (
        "sync_group",
        &[
            "instances",
            "notify",
            "notify_timeout",
            "notify_args",
            "notify_active",
            "notify_backup",
            "notify_fault",
            "notify_stop",
        ],
    ),
];

/// A file that sets every key of [`KEYS`] (over several instances, as
/// some exclude each other).
const FULL: &str = r#"
[global]
state_dir = "/var/lib/tandemd-a"
control_socket = "/run/tandemd-a.sock"
restart_guard = { max_starts = 3, window = 300.0, expire = true }

[health]
listen = "0.0.0.0:8080"
path = "/health"
live_path = "/live"
metrics_path = "/metrics"
instances = ["v3"]
active_body = "active\n"
standby_body = "standby\n"

[sync]
unit = "a"
cluster = "pair-1"
listen = "192.0.2.1"
peer = "192.0.2.2:6973"
key_file = "/etc/tandemd/sync.key"
mode = "active-standby"
max_document = 1048576
addresses = [["192.0.2.1", "192.0.2.2"]]
rewrite = ["app.geo.*.address"]

[replication]
node = 1
cluster = 7
listen = "198.51.100.1:6974"
peer = "198.51.100.2:6974"
interface = "eth1"
key_file = "/etc/tandemd/replication.key"
next_key_file = "/etc/tandemd/replication-next.key"
format = "tandem"
conntrack = true
ignore = ["203.0.113.0/24"]
flush_ms = 5
bulk_rate_mbit = 200
max_flows = 1048576
refresh = 30.0

[[instance]]
name = "v3"
interface = "eth0"
protocol = "vrrp3"
vrid = 51
priority = 200
interval = 1.0
addresses = ["192.0.2.100/24"]
preempt = true
preempt_delay = 5.0
accept = false
checksum = "auto"
vrrp2_compat = true
source = "192.0.2.1"
unicast_peers = ["192.0.2.2"]
ttl_exempt = ["192.0.2.2"]
vmac = false
initial_wait = 1.0
silence_intervals = 3
announce = { repeat = 5, spacing = 0.0, refresh_after = 5.0 }
track = [{ interface = "eth1", weight = 50 }, { interface = "eth2", fault = true }]
restart_guard = { max_starts = 5 }
notify = "logger tandem"
notify_timeout = 20.0
notify_active = "logger active"
notify_backup = "logger backup"
notify_fault = "logger fault"
notify_stop = "logger stop"

[[instance]]
name = "v2"
interface = "eth0"
protocol = "vrrp2"
vrid = 52
addresses = ["192.0.2.101/24"]
password = "secret"
auth = "pass"
broadcast = true
ha_timeout = 3.0

[[instance]]
name = "carp"
interface = "eth0"
protocol = "carp"
vrid = 53
advbase = 1
advskew = 10
demotion = 0
password = "s3cret"
addresses = ["192.0.2.102/24"]
notify_active = "/etc/vip-up.sh"
notify_args = "ucarp"
notify_xparam = "x"

[[sync_group]]
name = "g"
instances = ["v3", "v2"]
notify = "/etc/keepalived/notify.sh"
notify_timeout = 5.0
notify_args = "keepalived"
notify_active = "logger g active"
notify_backup = "logger g backup"
notify_fault = "logger g fault"
notify_stop = "logger g stop"
"#;

fn keys_of(section: &str) -> &'static [&'static str] {
    KEYS.iter()
        .find(|(s, _)| *s == section)
        .map_or(&[][..], |(_, k)| *k)
}

/// The keys the file accepts in `header`'s table, as its parser lists
/// them when it refuses an unknown one.
fn accepted(header: &str, needs: &str) -> BTreeSet<String> {
    let text = format!("{header}\n{needs}zz_not_a_key = 1\n");
    let e = parse(&text).unwrap_err().to_string();
    let (_, list) = e
        .split_once("expected ")
        .unwrap_or_else(|| panic!("{header}: {e}"));
    let list = list.strip_prefix("one of ").unwrap_or(list);
    list.split(", ")
        .flat_map(|k| k.split(" or "))
        .map(|k| k.trim().trim_matches('`').to_string())
        .collect()
}

#[test]
fn keys_are_those_the_file_accepts() {
    let instance = "interface = \"eth0\"\nvrid = 1\naddresses = [\"192.0.2.1\"]\n";
    for (section, header, needs) in [
        ("global", "[global]", ""),
        ("health", "[health]", ""),
        ("sync", "[sync]", ""),
        ("instance", "[[instance]]", instance),
        ("sync_group", "[[sync_group]]", ""),
    ] {
        let mut expected: BTreeSet<String> =
            keys_of(section).iter().map(|k| k.to_string()).collect();
        if matches!(section, "instance" | "sync_group") {
            expected.insert("name".to_string());
        }
        assert_eq!(accepted(header, needs), expected, "[{section}]");
    }
    // An overlay takes the keys of an instance.
    let overlay = accepted("[unit.a.instance.x]", "");
    let mut expected: BTreeSet<String> =
        keys_of("instance").iter().map(|k| k.to_string()).collect();
    expected.insert("name".to_string());
    assert_eq!(overlay, expected);
}

#[test]
fn full_file_sets_every_key() {
    let config = parse(FULL).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.instances.len(), 3);
    let doc = document(FULL).unwrap();
    for (section, keys) in KEYS {
        let set: BTreeSet<&str> = doc
            .objects()
            .iter()
            .filter(|(k, _)| k.section == *section)
            .flat_map(|(_, o)| o.keys().map(String::as_str))
            .collect();
        for key in *keys {
            assert!(set.contains(key), "FULL does not set {section}.{key}");
        }
    }
}

#[test]
fn every_key_has_an_explicit_class() {
    let s = schema();
    let default = s
        .rules
        .iter()
        .position(|r| r.section == "app.*")
        .expect("the app rule");
    for (section, keys) in KEYS {
        for key in *keys {
            let first = s
                .rules
                .iter()
                .position(|r| matches(&r.section, section) && matches(&r.field, key));
            match first {
                Some(i) if i < default && !r_is_wild(&s.rules[i].section) => {}
                other => panic!("{section}.{key} has no class rule of its own ({other:?})"),
            }
        }
    }
    // The local ones, exactly.
    let local: BTreeSet<(String, String)> = s
        .rules
        .iter()
        .filter(|r| r.class == Class::Local)
        .map(|r| (r.section.clone(), r.field.clone()))
        .collect();
    let expected: BTreeSet<(String, String)> = [
        ("global", "state_dir"),
        ("global", "control_socket"),
        ("health", "listen"),
        ("sync", "*"),
        ("replication", "*"),
        ("instance", "priority"),
        ("instance", "advskew"),
        ("instance", "demotion"),
        ("instance", "source"),
        ("cloud", "role"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(local, expected);
    // One rule per key: no key is named twice.
    let mut seen = BTreeSet::new();
    for r in &s.rules {
        assert!(
            seen.insert((&r.section, &r.field)),
            "{} {} twice",
            r.section,
            r.field
        );
        assert!(!r.why.is_empty());
    }
    assert_eq!(s.version, 1);
}

fn r_is_wild(section: &str) -> bool {
    section.ends_with('*')
}

#[test]
fn classes_of_paths() {
    let s = schema();
    let class = |section: &str, id: &str, field: &str| s.class(&ObjectKey::new(section, id), field);
    assert_eq!(class("instance", "web", "priority"), Class::Local);
    assert_eq!(class("instance", "web", "vrid"), Class::Shared);
    assert_eq!(class("sync", "", "peer"), Class::Local);
    assert_eq!(class("global", "", "restart_guard"), Class::Shared);
    assert_eq!(class("unit.b.instance", "web", "interface"), Class::Unit);
    assert_eq!(class("app.vs", "web1", "port"), Class::Shared);
    assert_eq!(s.rewrites.len(), 1);
    assert_eq!(s.rewrites[0].section, "instance");
    assert_eq!(s.rewrites[0].field, "unicast_peers");
    let sync = parse(FULL).unwrap().global.sync.unwrap();
    let with = schema_for(Some(&sync));
    assert_eq!(with.rewrites.len(), 2);
    assert_eq!(with.rewrites[1].section, "app.geo");
    assert_eq!(with.rewrites[1].field, "address");
    assert_eq!(with.rules, s.rules);
}

/// The row of a rule in docs/config-sync.md.
fn row(r: &tandem_config_sync::schema::Rule) -> String {
    format!(
        "| `{}` | `{}` | {} | {} |",
        r.section,
        r.field,
        r.class.name(),
        r.why
    )
}

#[test]
fn config_sync_docs_list_every_rule() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/config-sync.md");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let (_, table) = text
        .split_once("## Classes of tandemd's settings")
        .expect("docs/config-sync.md has a section \"## Classes of tandemd's settings\"");
    assert!(table.contains("| section | field | class | why |"));
    for r in schema().rules {
        let row = row(&r);
        assert!(
            table.contains(&row),
            "docs/config-sync.md lacks the row\n{row}"
        );
    }
}

#[test]
fn examples_read_and_render_back() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let doc = document(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let rendered = render(&doc);
        assert_eq!(document(&rendered).unwrap(), doc, "{}", path.display());
        assert_eq!(render(&document(&rendered).unwrap()), rendered);
        let a = parse(&text).unwrap();
        let b = parse(&rendered).unwrap_or_else(|e| panic!("{}: {e}\n{rendered}", path.display()));
        assert_eq!(a.by_name(), b.by_name(), "{}", path.display());
        assert_eq!(a.global, b.global);
        assert_eq!(a.sync_groups, b.sync_groups);
        n += 1;
    }
    assert!(n >= 4, "{n} examples");
    // And the file with every key.
    let doc = document(FULL).unwrap();
    let rendered = render(&doc);
    assert_eq!(document(&rendered).unwrap(), doc);
    assert_eq!(
        parse(FULL).unwrap().global,
        parse(&rendered).unwrap().global
    );
}

#[test]
fn document_objects() {
    let text = format!(
        "{FULL}\n[unit.b.instance.v3]\ninterface = \"eth9\"\n[app.vs.web1]\nport = 443\nwhen = 1979-05-27T07:32:00Z\n"
    );
    let doc = document(&text).unwrap();
    let sections: BTreeSet<(&str, &str)> = doc
        .objects()
        .keys()
        .map(|k| (k.section.as_str(), k.id.as_str()))
        .collect();
    let expected: BTreeSet<(&str, &str)> = [
        ("global", ""),
        ("health", ""),
        ("sync", ""),
        ("replication", ""),
        ("instance", "v3"),
        ("instance", "v2"),
        ("instance", "carp"),
        ("sync_group", "g"),
        ("unit.b.instance", "v3"),
        ("app.vs", "web1"),
    ]
    .into_iter()
    .collect();
    assert_eq!(sections, expected);
    let v3 = ObjectKey::new("instance", "v3");
    assert_eq!(doc.get(&v3, "vrid"), Some(&Value::Int(51)));
    assert_eq!(doc.get(&v3, "name"), None);
    assert_eq!(doc.get(&v3, "interval"), Some(&Value::Float(1.0)));
    assert_eq!(doc.get(&v3, "preempt"), Some(&Value::Bool(true)));
    assert_eq!(
        doc.get(&v3, "addresses"),
        Some(&Value::List(vec![Value::Str("192.0.2.100/24".into())]))
    );
    let guard = BTreeMap::from([("max_starts".to_string(), Value::Int(5))]);
    assert_eq!(doc.get(&v3, "restart_guard"), Some(&Value::Table(guard)));
    let web1 = ObjectKey::new("app.vs", "web1");
    assert_eq!(
        doc.get(&web1, "when"),
        Some(&Value::Str("1979-05-27T07:32:00Z".into()))
    );
    let overlay = ObjectKey::new("unit.b.instance", "v3");
    assert_eq!(
        doc.get(&overlay, "interface"),
        Some(&Value::Str("eth9".into()))
    );
}

#[test]
fn document_errors() {
    let unnamed = "[[instance]]\ninterface = \"eth0\"\nvrid = 1\naddresses = [\"192.0.2.1\"]\n";
    assert_eq!(
        document(unnamed).unwrap_err().to_string(),
        "line 1, column 1: instance[0].name: configuration sync addresses each [[instance]] and [[sync_group]] by its name: add name = \"...\""
    );
    assert!(document("[[sync_group]]\ninstances = []\n")
        .unwrap_err()
        .to_string()
        .contains("sync_group[0].name: configuration sync addresses"));
    let twice = "[[instance]]\nname = \"a\"\n[[instance]]\nname = \"a\"\n";
    assert!(document(twice)
        .unwrap_err()
        .to_string()
        .contains("instance \"a\".name: name \"a\" is already used by instance[0]"));
    assert!(document("[colour]\n")
        .unwrap_err()
        .to_string()
        .contains("unknown field `colour`"));
    assert!(document("[app.vs.a]\nw = nan\n")
        .unwrap_err()
        .to_string()
        .contains("app.vs.\"a\".w: NaN is not a finite number"));
    assert!(document("[app.Vs.a]\nw = 1\n")
        .unwrap_err()
        .to_string()
        .contains("app.Vs: \"Vs\": a section name is made of [a-z0-9_-] segments"));
    assert!(document("[app.\"v.s\".a]\nw = 1\n")
        .unwrap_err()
        .to_string()
        .contains("without a dot"));
    let deep = format!("[app.vs.a]\nw = {}1{}\n", "[".repeat(17), "]".repeat(17));
    assert!(document(&deep)
        .unwrap_err()
        .to_string()
        .contains("nest 17 deep"));
    let ok = format!("[app.vs.a]\nw = {}1{}\n", "[".repeat(16), "]".repeat(16));
    assert!(document(&ok).is_ok());
    assert!(document("[global\n").is_err());
}

#[test]
fn render_is_exact() {
    let mut doc = Document::new();
    let web = ObjectKey::new("instance", "web");
    doc.set(web.clone(), "vrid", Value::Int(51)).unwrap();
    doc.set(web.clone(), "interval", Value::Float(1.0)).unwrap();
    doc.set(
        web.clone(),
        "addresses",
        Value::List(vec![Value::Str("192.0.2.1/24".into())]),
    )
    .unwrap();
    doc.set(
        ObjectKey::new("global", ""),
        "state_dir",
        Value::Str("/var/lib/t".into()),
    )
    .unwrap();
    let app = ObjectKey::new("app.vs", "a \"b\".c");
    doc.set(app.clone(), "big", Value::Float(1e300)).unwrap();
    doc.set(app.clone(), "small", Value::Float(-2.5e-8))
        .unwrap();
    doc.set(
        app.clone(),
        "note",
        Value::Str("tab\there\nquote\" back\\ bell\u{7} é".into()),
    )
    .unwrap();
    let t = BTreeMap::from([
        ("x y".to_string(), Value::Bool(false)),
        ("z".to_string(), Value::Table(BTreeMap::new())),
    ]);
    doc.set(app.clone(), "t", Value::Table(t)).unwrap();
    doc.set(
        ObjectKey::new("unit.b.instance", "web"),
        "interface",
        Value::Str("eth1".into()),
    )
    .unwrap();
    doc.set(
        ObjectKey::new("sync_group", "g"),
        "instances",
        Value::List(vec![]),
    )
    .unwrap();
    let expected = "# written by tandemd config sync; local settings are this unit's own (docs/config-sync.md)\n\
\n[global]\nstate_dir = \"/var/lib/t\"\n\
\n[[instance]]\nname = \"web\"\naddresses = [\"192.0.2.1/24\"]\ninterval = 1.0\nvrid = 51\n\
\n[[sync_group]]\nname = \"g\"\ninstances = []\n\
\n[unit.b.instance.\"web\"]\ninterface = \"eth1\"\n\
\n[app.vs.\"a \\\"b\\\".c\"]\nbig = 1e300\nnote = \"tab\\there\\nquote\\\" back\\\\ bell\\u0007 é\"\nsmall = -2.5e-8\nt = { \"x y\" = false, z = {} }\n";
    assert_eq!(render(&doc), expected);
    assert_eq!(document(&render(&doc)).unwrap(), doc);
    assert_eq!(render(&Document::new()), format!("{}\n", text_header()));
}

fn text_header() -> &'static str {
    "# written by tandemd config sync; local settings are this unit's own (docs/config-sync.md)"
}

/// A value a file can hold (no bytes), nested a few levels.
fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::Float),
        ".{0,12}".prop_map(Value::Str),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::List),
            prop::collection::btree_map(".{0,6}", inner, 0..4).prop_map(Value::Table),
        ]
    })
}

/// `[app]` trees: kinds of objects of fields, with ids and field names
/// of any characters.
fn app_tree() -> impl Strategy<Value = Vec<(String, String, String, Value)>> {
    prop::collection::vec(("[a-z][a-z0-9_-]{0,6}", ".{0,8}", ".{1,8}", value()), 0..8)
}

proptest! {
    #[test]
    fn generated_app_trees_render_back(tree in app_tree()) {
        let mut doc = document(FULL).unwrap();
        for (kind, id, field, v) in tree {
            doc.set(ObjectKey::new(format!("app.{kind}"), id), field, v).unwrap();
        }
        let text = render(&doc);
        let back = document(&text);
        prop_assert!(back.is_ok(), "{:?}\n{}", back.err(), text);
        prop_assert_eq!(back.unwrap(), doc);
        // And the file is still one tandemd runs.
        prop_assert!(parse(&text).is_ok(), "{}", text);
    }
}
