//! Golden vectors built by hand (bytes written out here, hashed with sha2
//! directly, never through the module's own encoder) and the incremental
//! tree checked against a full recomputation.

use proptest::prelude::*;
use sha2::{Digest as _, Sha256};

use super::*;
use crate::doc::tests::{arb_doc, arb_ops};
use crate::doc::Op;
use crate::value::Value;

fn sha(bytes: &[u8]) -> Digest {
    Sha256::digest(bytes).into()
}

/// `str(s)` written by hand: u32 big-endian length, then the bytes.
fn s(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(&(text.len() as u32).to_be_bytes());
    out.extend_from_slice(text.as_bytes());
}

/// The small two-section document of the golden vectors.
fn two_sections() -> Document {
    let mut doc = Document::new();
    doc.apply(&[
        Op::Set {
            key: ObjectKey::new("global", ""),
            field: "restart_guard".into(),
            value: Value::Bool(true),
        },
        Op::Set {
            key: ObjectKey::new("instance", "web"),
            field: "vrid".into(),
            value: Value::Int(7),
        },
        Op::Set {
            key: ObjectKey::new("instance", "web"),
            field: "interface".into(),
            value: Value::Str("eth0".into()),
        },
    ])
    .unwrap();
    doc
}

/// The pinned root of the empty document, schema version 1.
const EMPTY_ROOT_V1: &str = "d6a49e66b6443b8a71e74e6d000783460a78e6a7b820f39b2d64d7cc5d575f7f";
/// The pinned root of [`two_sections`], schema version 1.
const TWO_SECTIONS_ROOT_V1: &str =
    "156a1d328b781f2f51dc8e5a4c93ddf5d8ae3370f6b7e59f460fe889a6fecf15";

#[test]
fn golden_empty_document_root() {
    let mut bytes = b"tandem-sync root v1".to_vec();
    bytes.extend_from_slice(&[0x00, 0x01]); // schema version 1
    bytes.extend_from_slice(&[0, 0, 0, 0]); // zero sections
    let want = sha(&bytes);
    let doc = Document::new();
    assert_eq!(root_of(1, &doc), want);
    assert_eq!(DigestTree::new(1, &doc).root(), want);
    assert_eq!(hex(&want), EMPTY_ROOT_V1);
    assert!(DigestTree::new(1, &doc).sections().is_empty());
}

#[test]
fn golden_two_sections() {
    // global: one id-less object, one bool field.
    let mut global = b"tandem-sync object v1".to_vec();
    s(&mut global, "global");
    s(&mut global, "");
    global.extend_from_slice(&[0, 0, 0, 1]);
    s(&mut global, "restart_guard");
    global.extend_from_slice(&[0x01, 0x01]); // bool true
    let global_obj = sha(&global);

    // instance.web: two fields in name order (interface < vrid).
    let mut web = b"tandem-sync object v1".to_vec();
    s(&mut web, "instance");
    s(&mut web, "web");
    web.extend_from_slice(&[0, 0, 0, 2]);
    s(&mut web, "interface");
    web.extend_from_slice(&[0x04, 0, 0, 0, 4]);
    web.extend_from_slice(b"eth0");
    s(&mut web, "vrid");
    web.extend_from_slice(&[0x02, 0, 0, 0, 0, 0, 0, 0, 7]);
    let web_obj = sha(&web);

    let mut global_sec = b"tandem-sync section v1".to_vec();
    s(&mut global_sec, "global");
    global_sec.extend_from_slice(&[0, 0, 0, 1]);
    s(&mut global_sec, "");
    global_sec.extend_from_slice(&global_obj);
    let global_sec = sha(&global_sec);

    let mut instance_sec = b"tandem-sync section v1".to_vec();
    s(&mut instance_sec, "instance");
    instance_sec.extend_from_slice(&[0, 0, 0, 1]);
    s(&mut instance_sec, "web");
    instance_sec.extend_from_slice(&web_obj);
    let instance_sec = sha(&instance_sec);

    let mut root = b"tandem-sync root v1".to_vec();
    root.extend_from_slice(&[0x00, 0x01]);
    root.extend_from_slice(&[0, 0, 0, 2]);
    s(&mut root, "global");
    root.extend_from_slice(&global_sec);
    s(&mut root, "instance");
    root.extend_from_slice(&instance_sec);
    let root = sha(&root);

    let doc = two_sections();
    let tree = DigestTree::new(1, &doc);
    let global_key = ObjectKey::new("global", "");
    let web_key = ObjectKey::new("instance", "web");
    assert_eq!(
        object_digest(&global_key, doc.object(&global_key).unwrap()),
        global_obj
    );
    assert_eq!(tree.object(&global_key), Some(&global_obj));
    assert_eq!(tree.object(&web_key), Some(&web_obj));
    assert_eq!(tree.sections().get("global"), Some(&global_sec));
    assert_eq!(tree.sections().get("instance"), Some(&instance_sec));
    assert_eq!(tree.sections().len(), 2);
    assert_eq!(tree.root(), root);
    assert_eq!(root_of(1, &doc), root);
    assert_eq!(hex(&root), TWO_SECTIONS_ROOT_V1);
}

#[test]
fn schema_version_is_bound_in_the_root() {
    let doc = two_sections();
    assert_ne!(root_of(1, &doc), root_of(2, &doc));
    assert_ne!(root_of(1, &Document::new()), root_of(2, &Document::new()));
    assert_eq!(DigestTree::new(7, &doc).schema_version(), 7);
}

#[test]
fn a_field_moved_between_objects_changes_the_root() {
    // Same names and values, other places: framing keeps them apart.
    let mut a = Document::new();
    a.set(ObjectKey::new("instance", "ab"), "c", Value::Int(1))
        .unwrap();
    let mut b = Document::new();
    b.set(ObjectKey::new("instance", "a"), "bc", Value::Int(1))
        .unwrap();
    assert_ne!(root_of(1, &a), root_of(1, &b));
    let mut c = Document::new();
    c.set(ObjectKey::new("instancea", "b"), "c", Value::Int(1))
        .unwrap();
    assert_ne!(root_of(1, &a), root_of(1, &c));
}

#[test]
fn objects_in_is_one_section_in_id_order_after_the_cursor() {
    let mut doc = Document::new();
    for (section, id) in [
        ("instance", "a"),
        ("instance", "c"),
        ("instance", "e"),
        ("instance-x", "a"),
        ("health", "z"),
    ] {
        doc.set(ObjectKey::new(section, id), "f", Value::Int(1))
            .unwrap();
    }
    let tree = DigestTree::new(1, &doc);
    let ids = |after: Option<&str>| -> Vec<String> {
        tree.objects_in("instance", after)
            .map(|(k, _)| k.id.clone())
            .collect()
    };
    assert_eq!(ids(None), ["a", "c", "e"]);
    assert_eq!(ids(Some("a")), ["c", "e"]);
    assert_eq!(ids(Some("b")), ["c", "e"]);
    assert_eq!(ids(Some("e")), Vec::<String>::new());
    assert_eq!(ids(Some("")), ["a", "c", "e"]);
    assert_eq!(tree.objects_in("nothing", None).count(), 0);
    assert_eq!(tree.objects_in("health", None).count(), 1);
    for (key, digest) in tree.objects_in("instance", None) {
        assert_eq!(tree.object(key), Some(digest));
    }
}

#[test]
fn update_recomputes_only_what_it_is_told() {
    let before = two_sections();
    let mut tree = DigestTree::new(1, &before);
    let old_root = tree.root();
    let mut after = before.clone();
    let ops = [
        Op::Set {
            key: ObjectKey::new("instance", "web"),
            field: "vrid".into(),
            value: Value::Int(8),
        },
        Op::RemoveObject {
            key: ObjectKey::new("global", ""),
        },
    ];
    after.apply(&ops).unwrap();
    tree.update(&after, &[]);
    assert_eq!(tree.root(), old_root, "nothing named, nothing recomputed");
    tree.update(&after, &Document::changed_keys(&ops));
    assert_eq!(tree, DigestTree::new(1, &after));
    assert_eq!(tree.sections().len(), 1, "the emptied section is gone");
    assert_eq!(tree.object(&ObjectKey::new("global", "")), None);
}

proptest! {
    #[test]
    fn update_equals_a_full_recomputation(doc in arb_doc(), ops in arb_ops(), version in any::<u16>()) {
        let mut tree = DigestTree::new(version, &doc);
        let mut after = doc.clone();
        after.apply(&ops).unwrap();
        tree.update(&after, &Document::changed_keys(&ops));
        prop_assert_eq!(&tree, &DigestTree::new(version, &after));
        prop_assert_eq!(tree.root(), root_of(version, &after));
    }

    #[test]
    fn update_after_a_diff_equals_the_other_tree(a in arb_doc(), b in arb_doc()) {
        let mut tree = DigestTree::new(1, &a);
        let ops = a.diff(&b);
        let mut c = a.clone();
        c.apply(&ops).unwrap();
        tree.update(&c, &Document::changed_keys(&ops));
        prop_assert_eq!(tree, DigestTree::new(1, &b));
    }

    #[test]
    fn equal_roots_iff_equal_documents(a in arb_doc(), b in arb_doc()) {
        prop_assert_eq!(root_of(1, &a) == root_of(1, &b), a == b);
    }
}
