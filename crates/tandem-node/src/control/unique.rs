//! JSON parsing that refuses duplicate keys.
//!
//! `serde_json` keeps the last value of a repeated key without a word, so
//! `{"cmd":"status","cmd":"failover"}` would read as a failover. The
//! control socket parses requests with [`parse`] instead: the same JSON
//! values, and an object that names a key twice, at any depth, is an
//! error naming that key and where it is.

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Why a request line is not acceptable JSON.
#[derive(Debug, thiserror::Error)]
pub(crate) enum JsonError {
    /// Not JSON at all.
    #[error("not JSON ({0})")]
    Syntax(#[source] serde_json::Error),
    /// An object names a key twice.
    #[error("duplicate key {key:?} {where_}; each key may appear only once")]
    DuplicateKey {
        /// The repeated key.
        key: String,
        /// Where the object is: `at the top level`, or `in "a"."b"[0]`.
        where_: String,
    },
}

/// Parses `text` as one JSON value, refusing repeated keys.
pub(crate) fn parse(text: &str) -> Result<Value, JsonError> {
    let found = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_str(text);
    let parsed = Unique {
        found: &found,
        path: String::new(),
    }
    .deserialize(&mut de)
    .and_then(|v| de.end().map(|()| v));
    match (parsed, found.into_inner()) {
        (_, Some((key, path))) => Err(JsonError::DuplicateKey {
            key,
            where_: if path.is_empty() {
                "at the top level".into()
            } else {
                format!("in {path}")
            },
        }),
        (Ok(v), None) => Ok(v),
        (Err(e), None) => Err(JsonError::Syntax(e)),
    }
}

/// Deserializes one value; `path` is where it sits in the document.
struct Unique<'a> {
    found: &'a RefCell<Option<(String, String)>>,
    path: String,
}

impl<'de> DeserializeSeed<'de> for Unique<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Unique<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(Unique {
            found: self.found,
            path: format!("{}[{}]", self.path, out.len()),
        })? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                let message = format!("duplicate key {key:?}");
                *self.found.borrow_mut() = Some((key, self.path));
                return Err(de::Error::custom(message));
            }
            let path = if self.path.is_empty() {
                format!("{key:?}")
            } else {
                format!("{}.{key:?}", self.path)
            };
            let value = map.next_value_seed(Unique {
                found: self.found,
                path,
            })?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_parse_as_serde_json_parses_them() {
        for text in [
            r#"{"cmd":"status"}"#,
            r#"{"a":[1,-2,3.5,null,true,"x",{"b":{}}],"c":{"d":[[]]}}"#,
            r#"  "just a string"  "#,
            "18446744073709551615",
        ] {
            let want: Value = serde_json::from_str(text).expect("valid");
            assert_eq!(parse(text).expect("parses"), want, "{text}");
        }
    }

    #[test]
    fn a_duplicate_key_is_refused_at_any_depth() {
        let cases = [
            (
                r#"{"cmd":"status","cmd":"failover"}"#,
                "cmd",
                "at the top level",
            ),
            (
                r#"{"cmd":"x","target":{"a":1,"a":2}}"#,
                "a",
                "in \"target\"",
            ),
            (
                r#"{"l":[0,{"k":[{"z":1,"y":2,"z":3}]}]}"#,
                "z",
                "in \"l\"[1].\"k\"[0]",
            ),
        ];
        for (text, key, where_) in cases {
            match parse(text) {
                Err(JsonError::DuplicateKey { key: k, where_: w }) => {
                    assert_eq!((k.as_str(), w.as_str()), (key, where_), "{text}");
                }
                other => panic!("{text}: {other:?}"),
            }
        }
        let e = parse(r#"{"cmd":"status","cmd":"failover"}"#).expect_err("dup");
        assert_eq!(
            e.to_string(),
            "duplicate key \"cmd\" at the top level; each key may appear only once"
        );
    }

    #[test]
    fn malformed_json_is_a_syntax_error() {
        for text in ["not json", "{\"a\":1", "{\"a\":1} trailing", "", "[1,]"] {
            assert!(matches!(parse(text), Err(JsonError::Syntax(_))), "{text}");
        }
        // Deep nesting stops at serde_json's recursion limit, without
        // overflowing the stack.
        let deep = "[".repeat(100_000);
        assert!(matches!(parse(&deep), Err(JsonError::Syntax(_))));
    }
}
