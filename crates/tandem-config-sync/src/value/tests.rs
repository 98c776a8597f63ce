use super::*;
use proptest::prelude::*;

fn dec(bytes: &[u8]) -> Result<(Value, usize), DecodeError> {
    Value::decode(bytes, &DecodeLimits::default())
}

fn table(pairs: &[(&str, Value)]) -> Value {
    Value::Table(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    )
}

/// Encodes `v`, checks the bytes against `golden`, and decodes them back.
fn golden(v: Value, golden: &[u8]) {
    assert_eq!(v.to_bytes(), golden, "encoding of {v:?}");
    assert_eq!(dec(golden), Ok((v, golden.len())));
}

#[test]
fn golden_bool() {
    golden(Value::Bool(false), &[0x01, 0x00]);
    golden(Value::Bool(true), &[0x01, 0x01]);
}

#[test]
fn golden_int() {
    golden(Value::Int(1), &[0x02, 0, 0, 0, 0, 0, 0, 0, 1]);
    golden(
        Value::Int(-1),
        &[0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
    );
    golden(
        Value::Int(0x0102_0304_0506_0708),
        &[0x02, 1, 2, 3, 4, 5, 6, 7, 8],
    );
    golden(Value::Int(i64::MIN), &[0x02, 0x80, 0, 0, 0, 0, 0, 0, 0]);
}

#[test]
fn golden_float() {
    // 1.5 = 0x3ff8_0000_0000_0000
    golden(Value::Float(1.5), &[0x03, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0]);
    // -2.0 = 0xc000_0000_0000_0000
    golden(Value::Float(-2.0), &[0x03, 0xc0, 0, 0, 0, 0, 0, 0, 0]);
    golden(Value::Float(0.0), &[0x03, 0, 0, 0, 0, 0, 0, 0, 0]);
}

#[test]
fn negative_zero_and_non_finite_are_written_as_zero() {
    let zero = [0x03, 0, 0, 0, 0, 0, 0, 0, 0];
    assert_eq!(Value::Float(-0.0).to_bytes(), zero);
    assert_eq!(Value::Float(f64::NAN).to_bytes(), zero);
    assert_eq!(Value::Float(f64::INFINITY).to_bytes(), zero);
    assert_eq!(Value::Float(f64::NEG_INFINITY).to_bytes(), zero);
}

#[test]
fn golden_str() {
    golden(Value::Str(String::new()), &[0x04, 0, 0, 0, 0]);
    golden(Value::Str("ab".into()), &[0x04, 0, 0, 0, 2, b'a', b'b']);
    // "é" is two bytes of UTF-8.
    golden(Value::Str("é".into()), &[0x04, 0, 0, 0, 2, 0xc3, 0xa9]);
}

#[test]
fn golden_bytes() {
    golden(Value::Bytes(vec![]), &[0x05, 0, 0, 0, 0]);
    golden(
        Value::Bytes(vec![0xde, 0xad, 0x00]),
        &[0x05, 0, 0, 0, 3, 0xde, 0xad, 0x00],
    );
}

#[test]
fn golden_list() {
    golden(Value::List(vec![]), &[0x06, 0, 0, 0, 0]);
    golden(
        Value::List(vec![Value::Bool(true), Value::List(vec![])]),
        &[0x06, 0, 0, 0, 2, 0x01, 0x01, 0x06, 0, 0, 0, 0],
    );
}

#[test]
fn golden_table_sorts_keys() {
    golden(Value::Table(BTreeMap::new()), &[0x07, 0, 0, 0, 0]);
    // Inserted "b" first; written "a" first.
    let mut t = BTreeMap::new();
    t.insert("b".to_string(), Value::Bool(false));
    t.insert("a".to_string(), Value::Int(2));
    golden(
        Value::Table(t),
        &[
            0x07, 0, 0, 0, 2, // tag, count
            0, 0, 0, 1, b'a', 0x02, 0, 0, 0, 0, 0, 0, 0, 2, // "a" = Int(2)
            0, 0, 0, 1, b'b', 0x01, 0x00, // "b" = false
        ],
    );
}

#[test]
fn decode_reports_the_bytes_taken_and_ignores_what_follows() {
    assert_eq!(dec(&[0x01, 0x01, 0xff, 0xff]), Ok((Value::Bool(true), 2)));
}

#[test]
fn decode_at_and_decode_str_count_offsets_from_the_input_start() {
    let limits = DecodeLimits::default();
    let bytes = [0xaa, 0xbb, 0x02, 0, 0, 0, 0, 0, 0, 0, 7];
    assert_eq!(Value::decode_at(&bytes, 2, &limits), Ok((Value::Int(7), 9)));
    assert_eq!(
        Value::decode_at(&bytes, 2, &DecodeLimits::default()).map(|(_, n)| n),
        Ok(9)
    );
    let s = [0xaa, 0, 0, 0, 3, b'x', b'y', b'z', 0xbb];
    assert_eq!(decode_str(&s, 1, &limits), Ok(("xyz".to_string(), 7)));
    assert_eq!(
        decode_str(&s, 2, &limits),
        Err(DecodeError::Truncated { at: 2, need: 885 })
    );
    let bad = [0xaa, 0, 0, 0, 1, 0xff];
    assert_eq!(
        decode_str(&bad, 1, &limits),
        Err(DecodeError::BadUtf8 { at: 1 })
    );
    assert_eq!(
        decode_str(&[0, 0, 0, 5, b'a'], 0, &limits),
        Err(DecodeError::Truncated { at: 0, need: 4 })
    );
    assert_eq!(
        decode_str(&[0, 0], 0, &limits),
        Err(DecodeError::Truncated { at: 0, need: 2 })
    );
}

#[test]
fn truncated() {
    assert_eq!(dec(&[]), Err(DecodeError::Truncated { at: 0, need: 1 }));
    assert_eq!(dec(&[0x01]), Err(DecodeError::Truncated { at: 0, need: 1 }));
    assert_eq!(
        dec(&[0x02, 0, 0, 0]),
        Err(DecodeError::Truncated { at: 0, need: 5 })
    );
    assert_eq!(
        dec(&[0x03, 0]),
        Err(DecodeError::Truncated { at: 0, need: 7 })
    );
    assert_eq!(
        dec(&[0x04, 0, 0, 0, 3, b'a']),
        Err(DecodeError::Truncated { at: 0, need: 2 })
    );
    assert_eq!(
        dec(&[0x05, 0, 0]),
        Err(DecodeError::Truncated { at: 0, need: 2 })
    );
    // A list item missing: reported at the item.
    assert_eq!(
        dec(&[0x06, 0, 0, 0, 2, 0x01, 0x01, 0x01]),
        Err(DecodeError::Truncated { at: 7, need: 1 })
    );
}

#[test]
fn a_count_over_the_bytes_left_is_truncated_before_reserving() {
    // Four billion items announced, none present.
    assert_eq!(
        dec(&[0x06, 0xff, 0xff, 0xff, 0xff]),
        Err(DecodeError::Truncated {
            at: 0,
            need: 0xffff_ffff
        })
    );
    assert_eq!(
        dec(&[0x07, 0, 0, 0, 3, 0, 0]),
        Err(DecodeError::Truncated { at: 0, need: 1 })
    );
}

#[test]
fn unknown_tag() {
    assert_eq!(dec(&[0x00]), Err(DecodeError::UnknownTag { tag: 0, at: 0 }));
    assert_eq!(
        dec(&[0x08, 0, 0]),
        Err(DecodeError::UnknownTag { tag: 8, at: 0 })
    );
    assert_eq!(
        dec(&[0x06, 0, 0, 0, 1, 0xff]),
        Err(DecodeError::UnknownTag { tag: 0xff, at: 5 })
    );
}

#[test]
fn bad_bool() {
    assert_eq!(
        dec(&[0x01, 0x02]),
        Err(DecodeError::BadBool { byte: 2, at: 1 })
    );
    assert_eq!(
        dec(&[0x01, 0xff]),
        Err(DecodeError::BadBool { byte: 0xff, at: 1 })
    );
}

#[test]
fn bad_float() {
    for bits in [
        0x8000_0000_0000_0000u64, // -0.0
        f64::NAN.to_bits(),
        0x7ff0_0000_0000_0001, // another NaN
        f64::INFINITY.to_bits(),
        f64::NEG_INFINITY.to_bits(),
    ] {
        let mut b = vec![0x03];
        b.extend_from_slice(&bits.to_be_bytes());
        assert_eq!(
            dec(&b),
            Err(DecodeError::BadFloat { at: 0 }),
            "bits {bits:#x}"
        );
    }
}

#[test]
fn bad_utf8() {
    assert_eq!(
        dec(&[0x04, 0, 0, 0, 2, 0xc3, 0x28]),
        Err(DecodeError::BadUtf8 { at: 0 })
    );
    // A table key too.
    assert_eq!(
        dec(&[0x07, 0, 0, 0, 1, 0, 0, 0, 1, 0x80, 0x01, 0x00]),
        Err(DecodeError::BadUtf8 { at: 5 })
    );
    // Bytes need not be UTF-8.
    assert!(dec(&[0x05, 0, 0, 0, 2, 0xc3, 0x28]).is_ok());
}

#[test]
fn key_order() {
    let entry = |k: u8| [0, 0, 0, 1, k, 0x01, 0x00];
    let mut out_of_order = vec![0x07, 0, 0, 0, 2];
    out_of_order.extend_from_slice(&entry(b'b'));
    out_of_order.extend_from_slice(&entry(b'a'));
    assert_eq!(dec(&out_of_order), Err(DecodeError::KeyOrder { at: 12 }));
    let mut repeated = vec![0x07, 0, 0, 0, 2];
    repeated.extend_from_slice(&entry(b'a'));
    repeated.extend_from_slice(&entry(b'a'));
    assert_eq!(dec(&repeated), Err(DecodeError::KeyOrder { at: 12 }));
    let mut ascending = vec![0x07, 0, 0, 0, 2];
    ascending.extend_from_slice(&entry(b'a'));
    ascending.extend_from_slice(&entry(b'b'));
    assert_eq!(
        dec(&ascending),
        Ok((
            table(&[("a", Value::Bool(false)), ("b", Value::Bool(false))]),
            19
        ))
    );
}

/// `depth` empty lists nested in each other.
fn nested(depth: usize) -> Value {
    let mut v = Value::List(vec![]);
    for _ in 1..depth {
        v = Value::List(vec![v]);
    }
    v
}

#[test]
fn too_deep() {
    let limits = DecodeLimits::default();
    assert_eq!(limits.max_depth, 16);
    let ok = nested(16).to_bytes();
    assert_eq!(Value::decode(&ok, &limits), Ok((nested(16), ok.len())));
    // The 17th list starts after 16 list headers of 5 bytes.
    let deep = nested(17).to_bytes();
    assert_eq!(
        Value::decode(&deep, &limits),
        Err(DecodeError::TooDeep { max: 16, at: 80 })
    );
    // Tables count too.
    let t = table(&[("a", nested(1))]).to_bytes();
    let shallow = DecodeLimits {
        max_depth: 1,
        ..limits
    };
    assert_eq!(
        Value::decode(&t, &shallow),
        Err(DecodeError::TooDeep { max: 1, at: 10 })
    );
}

#[test]
fn too_long() {
    let limits = DecodeLimits {
        max_len: 3,
        ..DecodeLimits::default()
    };
    let s = Value::Str("abcd".into()).to_bytes();
    assert_eq!(
        Value::decode(&s, &limits),
        Err(DecodeError::TooLong {
            len: 4,
            max: 3,
            at: 0
        })
    );
    let b = Value::Bytes(vec![0; 4]).to_bytes();
    assert_eq!(
        Value::decode(&b, &limits),
        Err(DecodeError::TooLong {
            len: 4,
            max: 3,
            at: 0
        })
    );
    // Checked before the bytes left: a huge length is TooLong, not Truncated.
    assert_eq!(
        dec(&[0x05, 0xff, 0xff, 0xff, 0xff]),
        Err(DecodeError::TooLong {
            len: 0xffff_ffff,
            max: 65_536,
            at: 0
        })
    );
    // Keys too.
    let t = table(&[("abcd", Value::Bool(true))]).to_bytes();
    assert_eq!(
        Value::decode(&t, &limits),
        Err(DecodeError::TooLong {
            len: 4,
            max: 3,
            at: 5
        })
    );
    // At the limit is fine.
    let s = Value::Str("abc".into()).to_bytes();
    assert!(Value::decode(&s, &limits).is_ok());
}

#[test]
fn is_valid_finds_non_finite_floats_inside() {
    assert!(table(&[("a", Value::List(vec![Value::Float(1.0)]))]).is_valid());
    assert!(!table(&[("a", Value::List(vec![Value::Float(f64::NAN)]))]).is_valid());
    assert!(!Value::Float(f64::INFINITY).is_valid());
}

/// Finite values, nested a few levels.
pub(crate) fn any_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| Value::Float(if f == 0.0 { 0.0 } else { f })),
        ".{0,12}".prop_map(Value::Str),
        proptest::collection::vec(any::<u8>(), 0..16).prop_map(Value::Bytes),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::List),
            proptest::collection::btree_map(".{0,6}", inner, 0..6).prop_map(Value::Table),
        ]
    })
}

proptest! {
    #[test]
    fn roundtrip(v in any_value()) {
        let bytes = v.to_bytes();
        prop_assert_eq!(v.encoded_len(), bytes.len());
        prop_assert_eq!(dec(&bytes), Ok((v, bytes.len())));
    }

    #[test]
    fn decode_never_panics(bytes in proptest::collection::vec(prop_oneof![any::<u8>(), 0u8..8], 0..64)) {
        let _ = dec(&bytes);
    }

    #[test]
    fn whatever_decodes_is_canonical(bytes in proptest::collection::vec(prop_oneof![any::<u8>(), 0u8..8], 0..64)) {
        if let Ok((v, n)) = dec(&bytes) {
            prop_assert_eq!(v.to_bytes(), &bytes[..n]);
        }
    }

    /// Encodings with one byte changed: either refused or canonical.
    #[test]
    fn altered_encodings_decode_canonically_or_not_at_all(v in any_value(), at in any::<usize>(), byte in any::<u8>()) {
        let mut bytes = v.to_bytes();
        let i = at % bytes.len();
        bytes[i] = byte;
        if let Ok((w, n)) = dec(&bytes) {
            prop_assert_eq!(w.to_bytes(), &bytes[..n]);
        }
    }
}
