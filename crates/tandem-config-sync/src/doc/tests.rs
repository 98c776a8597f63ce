use proptest::prelude::*;

use super::*;
use crate::value::DecodeLimits;

fn key(section: &str, id: &str) -> ObjectKey {
    ObjectKey::new(section, id)
}

fn set(section: &str, id: &str, field: &str, value: Value) -> Op {
    Op::Set {
        key: key(section, id),
        field: field.into(),
        value,
    }
}

fn sample() -> Document {
    let mut doc = Document::new();
    doc.apply(&[
        set("global", "", "restart_guard", Value::Bool(true)),
        set("instance", "web", "vrid", Value::Int(7)),
        set("instance", "web", "interface", Value::Str("eth0".into())),
        set("instance", "db", "vrid", Value::Int(8)),
        set("app.vs", "web1", "port", Value::Int(443)),
        set("unit.b.instance", "web", "priority", Value::Int(90)),
    ])
    .unwrap();
    doc
}

#[test]
fn display_plain_quoted_and_idless() {
    assert_eq!(key("global", "").to_string(), "global");
    assert_eq!(key("instance", "web").to_string(), "instance.web");
    assert_eq!(key("instance", "a.b").to_string(), r#"instance."a.b""#);
    assert_eq!(
        key("instance", "say \"hi\"").to_string(),
        r#"instance."say \"hi\"""#
    );
    assert_eq!(
        key("instance", r"back\slash").to_string(),
        r#"instance."back\\slash""#
    );
    assert_eq!(key("app.vs", "web1").to_string(), "app.vs.web1");
    assert_eq!(key("instance", "web").path("vrid"), "instance.web.vrid");
    assert_eq!(key("global", "").path("a.b"), r#"global."a.b""#);
}

#[test]
fn parse_path_examples_from_the_doc_comment() {
    let cases = [
        ("global.restart_guard", key("global", ""), "restart_guard"),
        ("instance.web.vrid", key("instance", "web"), "vrid"),
        ("app.vs.web1.port", key("app.vs", "web1"), "port"),
        ("app.vs.port", key("app.vs", ""), "port"),
        (
            "unit.b.instance.web.interface",
            key("unit.b.instance", "web"),
            "interface",
        ),
        (
            "unit.b.global.hostname",
            key("unit.b.global", ""),
            "hostname",
        ),
        (
            "unit.b.app.vs.web1.port",
            key("unit.b.app.vs", "web1"),
            "port",
        ),
        (r#"instance."a.b".vrid"#, key("instance", "a.b"), "vrid"),
        (
            r#"instance."say \"hi\"".vrid"#,
            key("instance", "say \"hi\""),
            "vrid",
        ),
        (r#"instance.web."x.y""#, key("instance", "web"), "x.y"),
    ];
    for (path, k, field) in cases {
        assert_eq!(
            ObjectKey::parse_path(path),
            Ok((k, field.to_owned())),
            "{path}"
        );
    }
}

#[test]
fn parse_path_errors_say_why() {
    let cases = [
        ("", "the path is empty"),
        ("global", "the path names a section but no field"),
        (
            "instance..vrid",
            "a segment is empty (a leading, trailing or double dot, or \"\")",
        ),
        (
            "instance.web.vrid.",
            "a segment is empty (a leading, trailing or double dot, or \"\")",
        ),
        (
            r#"instance."web.vrid"#,
            "a quoted segment has no closing quote",
        ),
        (
            r#"instance."we"b.vrid"#,
            "a closing quote must end its segment",
        ),
        (
            r#"instance.we"b".vrid"#,
            "a quote inside an unquoted segment (quote the whole segment)",
        ),
        (
            r#"instance."a\nb".vrid"#,
            "inside quotes a backslash must be followed by a quote or a backslash",
        ),
        (
            "instance.a.b.c",
            "after the section only an id and a field may follow (quote a segment that has a dot)",
        ),
        ("app", "`app` must be followed by a kind, as `app.vs`"),
        (
            "unit",
            "`unit` must be followed by a unit id and a section, as `unit.b.instance`",
        ),
        (
            "unit.b",
            "`unit.<id>` must be followed by a section, as `unit.b.instance`",
        ),
        (
            "unit.b.unit.c.x.y",
            "a unit overlay cannot hold another unit overlay",
        ),
        (
            r#""instance".web.vrid"#,
            "a section segment is never quoted",
        ),
        (
            "Instance.web.vrid",
            "a section name is made of [a-z0-9_-] segments joined by dots",
        ),
    ];
    for (path, why) in cases {
        let err = ObjectKey::parse_path(path).unwrap_err();
        assert_eq!(err.why, why, "{path}");
        assert_eq!(err.path, path);
    }
    let long = format!("instance.{}.vrid", "x".repeat(256));
    assert_eq!(
        ObjectKey::parse_path(&long).unwrap_err().why,
        "an object id must be at most 255 bytes"
    );
}

#[test]
fn apply_sets_removes_and_drops_emptied_objects() {
    let mut doc = sample();
    doc.apply(&[
        Op::Remove {
            key: key("instance", "db"),
            field: "vrid".into(),
        },
        Op::Remove {
            key: key("instance", "nothing"),
            field: "vrid".into(),
        },
        Op::RemoveObject {
            key: key("app.vs", "web1"),
        },
        set("instance", "web", "vrid", Value::Int(9)),
    ])
    .unwrap();
    assert_eq!(doc.object(&key("instance", "db")), None);
    assert_eq!(doc.object(&key("app.vs", "web1")), None);
    assert_eq!(
        doc.get(&key("instance", "web"), "vrid"),
        Some(&Value::Int(9))
    );
    assert_eq!(doc.len(), 3);
}

#[test]
fn apply_is_all_or_nothing() {
    let before = sample();
    let bad_ops = [
        (
            set("instance", "web", "weight", Value::Float(f64::NAN)),
            "NotFinite",
        ),
        (
            set(
                "instance",
                "web",
                "w",
                Value::List(vec![Value::Float(f64::INFINITY)]),
            ),
            "NotFinite",
        ),
        (set("instance", "web", "", Value::Int(1)), "BadName"),
        (set("", "web", "vrid", Value::Int(1)), "BadName"),
        (set("Instance", "web", "vrid", Value::Int(1)), "BadName"),
        (set("app..vs", "web", "vrid", Value::Int(1)), "BadName"),
        (
            set("instance", &"i".repeat(256), "vrid", Value::Int(1)),
            "BadName",
        ),
        (
            set("instance", "web", &"f".repeat(256), Value::Int(1)),
            "BadName",
        ),
        (
            Op::Remove {
                key: key("instance", "web"),
                field: String::new(),
            },
            "BadName",
        ),
    ];
    for (bad, kind) in bad_ops {
        let mut doc = before.clone();
        let err = doc
            .apply(&[set("instance", "web", "vrid", Value::Int(99)), bad.clone()])
            .unwrap_err();
        let got = match err {
            DocError::NotFinite { .. } => "NotFinite",
            DocError::BadName { .. } => "BadName",
        };
        assert_eq!(got, kind, "{bad:?}");
        assert_eq!(doc, before, "nothing applied for {bad:?}");
    }
    let mut doc = Document::new();
    doc.set(
        key("instance", &"i".repeat(255)),
        "f".repeat(255),
        Value::Int(1),
    )
    .unwrap();
    assert_eq!(doc.len(), 1);
}

#[test]
fn diff_gives_remove_object_set_and_remove_in_key_order() {
    let a = sample();
    let mut b = a.clone();
    b.apply(&[
        Op::RemoveObject {
            key: key("instance", "db"),
        },
        set("instance", "web", "vrid", Value::Int(70)),
        Op::Remove {
            key: key("instance", "web"),
            field: "interface".into(),
        },
        set("instance", "web", "advert", Value::Int(100)),
        set("health", "ping", "target", Value::Str("192.0.2.9".into())),
    ])
    .unwrap();
    let ops = a.diff(&b);
    assert_eq!(
        ops,
        vec![
            set("health", "ping", "target", Value::Str("192.0.2.9".into())),
            Op::RemoveObject {
                key: key("instance", "db")
            },
            set("instance", "web", "advert", Value::Int(100)),
            Op::Remove {
                key: key("instance", "web"),
                field: "interface".into(),
            },
            set("instance", "web", "vrid", Value::Int(70)),
        ]
    );
    assert!(a.diff(&a).is_empty());
    let mut c = a.clone();
    c.apply(&ops).unwrap();
    assert_eq!(c, b);
}

#[test]
fn changed_keys_and_sections() {
    let ops = [
        set("instance", "web", "vrid", Value::Int(1)),
        Op::RemoveObject {
            key: key("global", ""),
        },
        Op::Remove {
            key: key("instance", "web"),
            field: "x".into(),
        },
    ];
    let keys: Vec<ObjectKey> = Document::changed_keys(&ops).into_iter().collect();
    assert_eq!(keys, vec![key("global", ""), key("instance", "web")]);
    let doc = sample();
    let sections: Vec<&str> = doc.sections().collect();
    assert_eq!(
        sections,
        vec!["app.vs", "global", "instance", "unit.b.instance"]
    );
    let ids: Vec<&str> = doc
        .section("instance")
        .map(|(k, _)| k.id.as_str())
        .collect();
    assert_eq!(ids, vec!["db", "web"]);
    assert_eq!(doc.section("inst").count(), 0);
}

#[test]
fn snapshot_encoding_by_hand() {
    let mut doc = Document::new();
    doc.set(key("global", ""), "a", Value::Bool(true)).unwrap();
    doc.set(key("instance", "w"), "vrid", Value::Int(7))
        .unwrap();
    let mut want = vec![0, 0, 0, 2];
    want.extend_from_slice(&[0, 0, 0, 6]);
    want.extend_from_slice(b"global");
    want.extend_from_slice(&[0, 0, 0, 0]);
    want.extend_from_slice(&[0, 0, 0, 1]);
    want.extend_from_slice(&[0, 0, 0, 1, b'a', 0x01, 1]);
    want.extend_from_slice(&[0, 0, 0, 8]);
    want.extend_from_slice(b"instance");
    want.extend_from_slice(&[0, 0, 0, 1, b'w']);
    want.extend_from_slice(&[0, 0, 0, 1]);
    want.extend_from_slice(&[0, 0, 0, 4]);
    want.extend_from_slice(b"vrid");
    want.extend_from_slice(&[0x02, 0, 0, 0, 0, 0, 0, 0, 7]);
    assert_eq!(doc.to_bytes(), want);
    assert_eq!(Document::decode(&want, &DecodeLimits::default()), Ok(doc));
    assert_eq!(Document::new().to_bytes(), vec![0, 0, 0, 0]);
    assert_eq!(
        Document::decode(&[0, 0, 0, 0], &DecodeLimits::default()),
        Ok(Document::new())
    );
}

/// An object as written raw: section, id, fields.
type RawObject<'a> = (&'a str, &'a str, &'a [(&'a str, Value)]);

/// Snapshot bytes of objects given as (section, id, [(field, value)]) in
/// the order given (so a test can write a non-canonical order).
fn raw(objects: &[RawObject<'_>]) -> Vec<u8> {
    let mut out = (objects.len() as u32).to_be_bytes().to_vec();
    for (section, id, fields) in objects {
        crate::value::encode_str(section, &mut out);
        crate::value::encode_str(id, &mut out);
        out.extend_from_slice(&(fields.len() as u32).to_be_bytes());
        for (name, value) in fields.iter() {
            crate::value::encode_str(name, &mut out);
            value.encode(&mut out);
        }
    }
    out
}

#[test]
fn decode_refuses_non_canonical_snapshots() {
    let limits = DecodeLimits::default();
    let one: &[(&str, Value)] = &[("f", Value::Int(1))];
    let two_out_of_order: &[(&str, Value)] = &[("g", Value::Int(1)), ("f", Value::Int(2))];
    let two_same: &[(&str, Value)] = &[("f", Value::Int(1)), ("f", Value::Int(2))];
    let empty: &[(&str, Value)] = &[];
    let bad_field: &[(&str, Value)] = &[("", Value::Int(1))];

    let err = Document::decode(&raw(&[("b", "", one), ("a", "", one)]), &limits).unwrap_err();
    assert!(
        matches!(err, DocDecodeError::KeyOrder { ref key, .. } if *key == ObjectKey::new("a", "")),
        "{err}"
    );
    let err = Document::decode(&raw(&[("a", "x", one), ("a", "x", one)]), &limits).unwrap_err();
    assert!(matches!(err, DocDecodeError::KeyOrder { .. }), "{err}");
    let err = Document::decode(&raw(&[("a", "", two_out_of_order)]), &limits).unwrap_err();
    assert!(
        matches!(err, DocDecodeError::FieldOrder { ref field, .. } if field == "f"),
        "{err}"
    );
    let err = Document::decode(&raw(&[("a", "", two_same)]), &limits).unwrap_err();
    assert!(matches!(err, DocDecodeError::FieldOrder { .. }), "{err}");
    let err = Document::decode(&raw(&[("a", "", empty), ("b", "", one)]), &limits).unwrap_err();
    assert!(
        matches!(err, DocDecodeError::EmptyObject { at: 4, .. }),
        "{err}"
    );
    let err = Document::decode(&raw(&[("A", "", one)]), &limits).unwrap_err();
    assert!(
        matches!(err, DocDecodeError::BadName { at: 4, .. }),
        "{err}"
    );
    let err = Document::decode(&raw(&[("a", "", bad_field)]), &limits).unwrap_err();
    assert!(matches!(err, DocDecodeError::BadName { .. }), "{err}");

    let mut trailing = raw(&[("a", "", one)]);
    let end = trailing.len();
    trailing.push(0);
    assert_eq!(
        Document::decode(&trailing, &limits),
        Err(DocDecodeError::TrailingBytes { at: end, extra: 1 })
    );
    assert_eq!(
        Document::decode(&[0xff, 0xff, 0xff, 0xff], &limits),
        Err(DocDecodeError::CountOverflow {
            what: "object",
            count: u32::MAX,
            at: 0,
            left: 0
        })
    );
    assert_eq!(
        Document::decode(&[0, 0], &limits),
        Err(DocDecodeError::Truncated { at: 0, need: 2 })
    );
}

#[test]
fn every_prefix_of_a_snapshot_is_refused() {
    let bytes = sample().to_bytes();
    for n in 0..bytes.len() {
        assert!(
            Document::decode(&bytes[..n], &DecodeLimits::default()).is_err(),
            "prefix {n}"
        );
    }
}

fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        (-1.0e6f64..1.0e6).prop_map(Value::Float),
        "[a-z0-9./:@ ]{0,12}".prop_map(Value::Str),
        proptest::collection::vec(any::<u8>(), 0..6).prop_map(Value::Bytes),
    ];
    leaf.prop_recursive(2, 12, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::List),
            proptest::collection::btree_map("[a-z]{0,4}", inner, 0..4).prop_map(Value::Table),
        ]
    })
}

/// Random documents over a few sections, ids and fields (so two of them
/// overlap).
pub(crate) fn arb_doc() -> impl Strategy<Value = Document> {
    let section = prop_oneof![
        Just("global"),
        Just("instance"),
        Just("app.vs"),
        Just("unit.b.instance")
    ];
    let id = prop_oneof![Just(""), Just("web"), Just("db"), Just("a.b")];
    let field = prop_oneof![Just("vrid"), Just("port"), Just("interface"), Just("x y")];
    proptest::collection::vec((section, id, field, arb_value()), 0..16).prop_map(|sets| {
        let mut doc = Document::new();
        let ops: Vec<Op> = sets
            .into_iter()
            .map(|(s, i, f, v)| set(s, i, f, v))
            .collect();
        doc.apply(&ops).unwrap();
        doc
    })
}

proptest! {
    #[test]
    fn snapshot_round_trips(doc in arb_doc()) {
        let bytes = doc.to_bytes();
        prop_assert_eq!(Document::decode(&bytes, &DecodeLimits::default()), Ok(doc));
    }

    #[test]
    fn diff_then_apply_gives_the_other(a in arb_doc(), b in arb_doc()) {
        let mut c = a.clone();
        c.apply(&a.diff(&b)).unwrap();
        prop_assert_eq!(c, b);
    }

    #[test]
    fn path_round_trips(id in "[a-z.\" \\\\]{0,6}", field in "[a-z.\" \\\\]{1,6}") {
        for section in ["instance", "app.vs", "unit.b.instance", "unit.b.app.vs"] {
            let k = key(section, &id);
            prop_assert_eq!(ObjectKey::parse_path(&k.path(&field)), Ok((k, field.clone())));
        }
    }

    #[test]
    fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = Document::decode(&bytes, &DecodeLimits::default());
    }
}

#[test]
fn objects_are_sorted_maps() {
    // The document's order is the key order, whatever the order of the ops.
    let mut a = Document::new();
    a.apply(&[
        set("b", "", "x", Value::Int(1)),
        set("a", "", "x", Value::Int(1)),
    ])
    .unwrap();
    let keys: Vec<&ObjectKey> = a.objects().keys().collect();
    assert_eq!(keys, vec![&key("a", ""), &key("b", "")]);
}

/// Random ops over the same few keys as [`arb_doc`] (sets, removals of
/// fields and of whole objects), all valid.
pub(crate) fn arb_ops() -> impl Strategy<Value = Vec<Op>> {
    let key = (
        prop_oneof![
            Just("global"),
            Just("instance"),
            Just("app.vs"),
            Just("health")
        ],
        prop_oneof![Just(""), Just("web"), Just("db")],
    )
        .prop_map(|(s, i)| ObjectKey::new(s, i));
    let field = prop_oneof![Just("vrid"), Just("port"), Just("interface")];
    let op = prop_oneof![
        (key.clone(), field.clone(), arb_value()).prop_map(|(key, field, value)| Op::Set {
            key,
            field: field.into(),
            value
        }),
        (key.clone(), field).prop_map(|(key, field)| Op::Remove {
            key,
            field: field.into()
        }),
        key.prop_map(|key| Op::RemoveObject { key }),
    ];
    proptest::collection::vec(op, 0..8)
}

mod stream {
    use super::*;
    use crate::doc::DocStream;

    fn streamed(bytes: &[u8], step: usize) -> Result<Document, String> {
        let mut s = DocStream::new(bytes.len() as u64, DecodeLimits::default());
        for chunk in bytes.chunks(step.max(1)) {
            s.push(chunk).map_err(|e| e.to_string())?;
        }
        s.finish().map_err(|e| e.to_string())
    }

    proptest! {
        /// In any chunk sizes, the stream decodes what the whole decode
        /// decodes, and refuses what it refuses.
        #[test]
        fn a_stream_in_any_chunks_decodes_as_the_whole(doc in arb_doc(), step in 1usize..200, cut in any::<prop::sample::Index>(), flip in any::<u8>()) {
            let bytes = doc.to_bytes();
            prop_assert_eq!(streamed(&bytes, step), Ok(doc));
            // An altered byte: both refuse, or both accept the same document.
            let mut bad = bytes.clone();
            let i = cut.index(bad.len());
            bad[i] ^= flip | 1;
            let whole = Document::decode(&bad, &DecodeLimits::default());
            let part = streamed(&bad, step);
            prop_assert_eq!(whole.is_ok(), part.is_ok());
            if let (Ok(w), Ok(p)) = (whole, part) {
                prop_assert_eq!(w, p);
            }
        }
    }

    #[test]
    fn more_or_fewer_bytes_than_announced_are_refused() {
        let bytes = arb_small().to_bytes();
        let mut s = DocStream::new(bytes.len() as u64 - 1, DecodeLimits::default());
        assert!(s.push(&bytes).is_err());
        let mut s = DocStream::new(bytes.len() as u64 + 1, DecodeLimits::default());
        s.push(&bytes).unwrap();
        assert!(s.finish().is_err());
    }

    fn arb_small() -> Document {
        let mut d = Document::new();
        d.set(
            ObjectKey::new("app.vs", "web"),
            "port",
            crate::value::Value::Int(1),
        )
        .unwrap();
        d
    }
}
