use proptest::prelude::*;

use super::*;
use crate::digest::root_of;
use crate::doc::Op;

fn rule(section: &str, field: &str, class: Class) -> Rule {
    Rule {
        section: section.into(),
        field: field.into(),
        class,
        why: "test",
    }
}

fn schema() -> Schema {
    Schema {
        version: 1,
        rules: vec![
            rule("global", "hostname", Class::Local),
            rule("instance", "priority", Class::Local),
            rule("instance", "interface", Class::Local),
        ],
        rewrites: vec![
            RewriteRule {
                section: "instance".into(),
                field: "peer".into(),
            },
            RewriteRule {
                section: "instance".into(),
                field: "bind".into(),
            },
            RewriteRule {
                section: "app.*".into(),
                field: "listen".into(),
            },
        ],
    }
}

fn addrs(own: &[&str], partner: &[&str]) -> Addresses {
    Addresses {
        own: own.iter().map(|s| s.to_string()).collect(),
        partner: partner.iter().map(|s| s.to_string()).collect(),
    }
}

fn a_addrs() -> Addresses {
    addrs(&["192.0.2.1"], &["192.0.2.2"])
}

fn b_addrs() -> Addresses {
    addrs(&["192.0.2.2"], &["192.0.2.1"])
}

fn k(section: &str, id: &str) -> ObjectKey {
    ObjectKey::new(section, id)
}

fn st(s: &str) -> Value {
    Value::Str(s.into())
}

fn set(section: &str, id: &str, field: &str, value: Value) -> Op {
    Op::Set {
        key: k(section, id),
        field: field.into(),
        value,
    }
}

/// One unit's document: `me` is its own address, `other` the partner's.
fn unit_doc(hostname: &str, priority: i64, me: &str, other: &str) -> Document {
    let mut doc = Document::new();
    doc.apply(&[
        set("global", "", "hostname", st(hostname)),
        set("global", "", "restart_guard", Value::Bool(true)),
        set("instance", "web", "vrid", Value::Int(7)),
        set("instance", "web", "priority", Value::Int(priority)),
        set(
            "instance",
            "web",
            "interface",
            st(&format!("eth-{hostname}")),
        ),
        set("instance", "web", "peer", st(other)),
        set("instance", "web", "bind", st(&format!("{me}/24"))),
        set(
            "app.vs",
            "web1",
            "listen",
            Value::List(vec![
                st(&format!("{me}:80")),
                st("198.51.100.7:80"),
                Value::Int(3),
            ]),
        ),
        set("app.vs", "web1", "note", st(me)),
        set("unit.b.instance", "web", "advert", Value::Int(50)),
        set(
            "unit.b.instance",
            "web",
            "priority",
            Value::Int(priority + 1),
        ),
    ])
    .unwrap();
    doc
}

fn doc_a() -> Document {
    let mut doc = unit_doc("a", 200, "192.0.2.1", "192.0.2.2");
    // An object with only a local field: never in the shared form.
    doc.apply(&[set("instance", "only-local", "priority", Value::Int(5))])
        .unwrap();
    doc
}

fn doc_b() -> Document {
    let mut doc = unit_doc("b", 100, "192.0.2.2", "192.0.2.1");
    // An object with only a local field: never in the shared form.
    doc.apply(&[set("instance", "only-local", "priority", Value::Int(9))])
        .unwrap();
    doc
}

#[test]
fn first_matching_rule_wins_and_default_is_shared() {
    let schema = Schema {
        version: 1,
        rules: vec![
            rule("instance", "vrid", Class::Shared),
            rule("instance", "*", Class::Local),
            rule("app.*", "secret", Class::Local),
            rule("*", "hostname", Class::Local),
            rule("instance", "vrid", Class::Local), // shadowed by the first
        ],
        rewrites: vec![],
    };
    assert_eq!(schema.class(&k("instance", "web"), "vrid"), Class::Shared);
    assert_eq!(schema.class(&k("instance", "web"), "advert"), Class::Local);
    assert_eq!(schema.class(&k("app.vs", "x"), "secret"), Class::Local);
    assert_eq!(schema.class(&k("app.vs", "x"), "port"), Class::Shared);
    assert_eq!(schema.class(&k("global", ""), "hostname"), Class::Local);
    // `*` is one dot-free name: `app.vs` is not covered by it.
    assert_eq!(schema.class(&k("app.vs", ""), "hostname"), Class::Shared);
    assert_eq!(schema.class(&k("health", "p"), "target"), Class::Shared);
}

#[test]
fn unit_sections_are_unit_unless_the_overlaid_path_is_local() {
    let schema = schema();
    assert_eq!(
        schema.class(&k("unit.b.instance", "web"), "advert"),
        Class::Unit
    );
    assert_eq!(
        schema.class(&k("unit.b.instance", "web"), "priority"),
        Class::Local
    );
    assert_eq!(
        schema.class(&k("unit.a.global", ""), "hostname"),
        Class::Local
    );
    assert_eq!(
        schema.class(&k("unit.a.global", ""), "restart_guard"),
        Class::Unit
    );
    assert_eq!(
        schema.class(&k("unit.a.app.vs", "x"), "listen"),
        Class::Unit
    );
    assert_eq!(schema.class(&k("unit.a", ""), "x"), Class::Unit);
    // Not overlays.
    assert_eq!(schema.class(&k("unitx", ""), "x"), Class::Shared);
    assert_eq!(schema.class(&k("unit", ""), "x"), Class::Shared);
    assert_eq!(unit_overlay("unit.b.app.vs"), Some(("b", "app.vs")));
    assert_eq!(unit_overlay("unit.b"), Some(("b", "")));
    assert_eq!(unit_overlay("unit"), None);
    assert_eq!(unit_overlay("units.b.x"), None);
}

#[test]
fn matches_exact_star_and_prefix() {
    assert!(matches("instance", "instance"));
    assert!(!matches("instance", "instances"));
    assert!(matches("*", "instance"));
    assert!(!matches("*", "app.vs"));
    assert!(matches("app.*", "app.vs"));
    assert!(!matches("app.*", "app"));
    assert!(matches("*", "vrid"));
}

#[test]
fn shared_form_drops_local_and_symbolises_addresses() {
    let shared = schema().shared_form(&doc_a(), &a_addrs());
    let web = shared.object(&k("instance", "web")).unwrap();
    assert_eq!(web.get("priority"), None);
    assert_eq!(web.get("interface"), None);
    assert_eq!(web.get("peer"), Some(&st("@partner")));
    assert_eq!(web.get("bind"), Some(&st("@self/24")));
    assert_eq!(web.get("vrid"), Some(&Value::Int(7)));
    let vs = shared.object(&k("app.vs", "web1")).unwrap();
    assert_eq!(
        vs.get("listen"),
        Some(&Value::List(vec![
            st("@self:80"),
            st("198.51.100.7:80"),
            Value::Int(3)
        ]))
    );
    // No rewrite rule names `note`: the address stays.
    assert_eq!(vs.get("note"), Some(&st("192.0.2.1")));
    assert_eq!(shared.get(&k("global", ""), "hostname"), None);
    // An object with only local fields is gone.
    assert_eq!(shared.object(&k("instance", "only-local")), None);
    // Unit values stay, their local fields go.
    let overlay = shared.object(&k("unit.b.instance", "web")).unwrap();
    assert_eq!(overlay.get("advert"), Some(&Value::Int(50)));
    assert_eq!(overlay.get("priority"), None);
}

#[test]
fn both_units_have_equal_shared_forms_and_roots() {
    let schema = schema();
    let a = doc_a();
    let mut b = doc_b();
    // `note` names each unit's own address but no rule rewrites it: make
    // it equal so the rest of the comparison is about rewritten fields.
    b.set(k("app.vs", "web1"), "note", st("192.0.2.1")).unwrap();
    assert_ne!(a, b);
    let sa = schema.shared_form(&a, &a_addrs());
    let sb = schema.shared_form(&b, &b_addrs());
    assert_eq!(sa, sb);
    assert_eq!(root_of(1, &sa), root_of(1, &sb));
    assert_ne!(root_of(1, &a), root_of(1, &b));
}

#[test]
fn adopt_resolves_to_the_receivers_counterparts_both_ways() {
    let schema = schema();
    let mut a = doc_a();
    let mut b = doc_b();
    b.set(k("app.vs", "web1"), "note", st("192.0.2.1")).unwrap();
    a.set(k("app.vs", "web1"), "note", st("192.0.2.1")).unwrap();

    // A -> B: B ends with exactly its own document.
    let from_a = schema.shared_form(&a, &a_addrs());
    let at_b = schema.adopt(&from_a, &b, &b_addrs());
    assert_eq!(at_b, b);
    assert_eq!(
        at_b.get(&k("instance", "web"), "peer"),
        Some(&st("192.0.2.1"))
    );
    assert_eq!(
        at_b.get(&k("instance", "web"), "bind"),
        Some(&st("192.0.2.2/24"))
    );

    // B -> A.
    let from_b = schema.shared_form(&b, &b_addrs());
    let at_a = schema.adopt(&from_b, &a, &a_addrs());
    assert_eq!(at_a, a);
    assert_eq!(
        at_a.get(&k("instance", "web"), "peer"),
        Some(&st("192.0.2.2"))
    );
    assert_eq!(
        at_a.get(&k("app.vs", "web1"), "listen"),
        Some(&Value::List(vec![
            st("192.0.2.1:80"),
            st("198.51.100.7:80"),
            Value::Int(3)
        ]))
    );
}

#[test]
fn adopt_takes_shared_changes_and_keeps_local_fields_untouched() {
    let schema = schema();
    let mut a = doc_a();
    a.apply(&[
        set("instance", "web", "vrid", Value::Int(8)),
        set("instance", "web", "priority", Value::Int(1)), // local: not sent
        set("unit.b.instance", "web", "advert", Value::Int(60)),
        Op::RemoveObject {
            key: k("app.vs", "web1"),
        },
    ])
    .unwrap();
    let b = doc_b();
    let at_b = schema.adopt(&schema.shared_form(&a, &a_addrs()), &b, &b_addrs());
    assert_eq!(
        at_b.get(&k("instance", "web"), "vrid"),
        Some(&Value::Int(8))
    );
    assert_eq!(
        at_b.get(&k("instance", "web"), "priority"),
        Some(&Value::Int(100))
    );
    assert_eq!(
        at_b.get(&k("instance", "web"), "interface"),
        Some(&st("eth-b"))
    );
    assert_eq!(at_b.get(&k("global", ""), "hostname"), Some(&st("b")));
    assert_eq!(
        at_b.get(&k("instance", "only-local"), "priority"),
        Some(&Value::Int(9))
    );
    assert_eq!(
        at_b.get(&k("unit.b.instance", "web"), "advert"),
        Some(&Value::Int(60))
    );
    assert_eq!(
        at_b.get(&k("unit.b.instance", "web"), "priority"),
        Some(&Value::Int(101))
    );
    assert_eq!(at_b.object(&k("app.vs", "web1")), None);
    // Every local field of B, exactly.
    for (key, object) in b.objects() {
        for (field, value) in object {
            if schema.class(key, field) == Class::Local {
                assert_eq!(at_b.get(key, field), Some(value), "{}", key.path(field));
            }
        }
    }
    // A local field the partner sent anyway is ignored.
    let mut rogue = schema.shared_form(&a, &a_addrs());
    rogue.set(k("global", ""), "hostname", st("a")).unwrap();
    assert_eq!(
        schema
            .adopt(&rogue, &b, &b_addrs())
            .get(&k("global", ""), "hostname"),
        Some(&st("b"))
    );
}

#[test]
fn ipv6_and_several_address_pairs() {
    let schema = schema();
    let a = addrs(
        &["2001:db8::1", "198.51.100.1"],
        &["2001:db8::2", "198.51.100.2"],
    );
    let b = addrs(
        &["2001:db8::2", "198.51.100.2"],
        &["2001:db8::1", "198.51.100.1"],
    );
    let mut doc = Document::new();
    let list = Value::List(vec![
        st("[2001:db8::1]:80"),
        st("2001:db8:0::1/64"),
        st("198.51.100.1"),
        st("198.51.100.2:443"),
        st("[2001:db8::2]"),
        st("2001:db8::9"),
    ]);
    doc.set(k("app.vs", "x"), "listen", list).unwrap();
    let shared = schema.shared_form(&doc, &a);
    assert_eq!(
        shared.get(&k("app.vs", "x"), "listen"),
        Some(&Value::List(vec![
            st("[@self]:80"),
            st("@self/64"),
            st("@self.1"),
            st("@partner.1:443"),
            st("[@partner]"),
            st("2001:db8::9"),
        ]))
    );
    let at_b = schema.adopt(&shared, &Document::new(), &b);
    assert_eq!(
        at_b.get(&k("app.vs", "x"), "listen"),
        Some(&Value::List(vec![
            st("[2001:db8::2]:80"),
            st("2001:db8::2/64"),
            st("198.51.100.2"),
            st("198.51.100.1:443"),
            st("[2001:db8::1]"),
            st("2001:db8::9"),
        ]))
    );
}

#[test]
fn unresolvable_symbols_are_left_as_written() {
    let schema = schema();
    let mut doc = Document::new();
    let list = Value::List(vec![
        st("@self.3"),
        st("@self.01"),
        st("@selfish"),
        st("@partner.1/24"),
    ]);
    doc.set(k("app.vs", "x"), "listen", list.clone()).unwrap();
    let at_b = schema.adopt(&doc, &Document::new(), &b_addrs());
    assert_eq!(at_b.get(&k("app.vs", "x"), "listen"), Some(&list));
}

proptest! {
    /// Any document written for A, with any mix of A's and B's addresses in
    /// rewritten fields, comes to B as its counterpart and back unchanged.
    #[test]
    fn adopt_inverts_shared_form_across_units(
        picks in proptest::collection::vec((0usize..4, 0usize..3, "[a-z]{1,4}"), 0..12)
    ) {
        let schema = schema();
        let a_addr = ["192.0.2.1", "192.0.2.2", "203.0.113.5", "not-an-address"];
        let b_addr = ["192.0.2.2", "192.0.2.1", "203.0.113.5", "not-an-address"];
        let suffix = ["", "/24", ":8080"];
        let mut at_a = Document::new();
        let mut at_b = Document::new();
        for (which, sfx, id) in &picks {
            let va = st(&format!("{}{}", a_addr[*which], suffix[*sfx]));
            let vb = st(&format!("{}{}", b_addr[*which], suffix[*sfx]));
            at_a.set(k("instance", id), "peer", va).unwrap();
            at_b.set(k("instance", id), "peer", vb).unwrap();
        }
        let sa = schema.shared_form(&at_a, &a_addrs());
        prop_assert_eq!(&sa, &schema.shared_form(&at_b, &b_addrs()));
        prop_assert_eq!(&schema.adopt(&sa, &Document::new(), &b_addrs()), &at_b);
        prop_assert_eq!(&schema.adopt(&sa, &Document::new(), &a_addrs()), &at_a);
    }
}
