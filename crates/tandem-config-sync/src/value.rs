//! Typed values and their canonical encoding.
//!
//! The canonical encoding is defined by this project (docs/config-sync.md,
//! "Canonical encoding"); digests and frames both use it, never a
//! library's serialization. Tables are encoded with their keys sorted,
//! floats by their IEEE-754 bits with `-0.0` as `0.0`; NaN and infinities
//! are not values. Decoding checks every length against the bytes left and
//! against [`DecodeLimits`] before it allocates.

use std::collections::BTreeMap;

/// One value of the document.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Tag 0x01.
    Bool(bool),
    /// Tag 0x02, 8 bytes big-endian two's complement.
    Int(i64),
    /// Tag 0x03, finite only; 8 bytes big-endian IEEE-754 bits, `-0.0`
    /// written as `0.0`.
    Float(f64),
    /// Tag 0x04, u32 length + UTF-8.
    Str(String),
    /// Tag 0x05, u32 length + bytes.
    Bytes(Vec<u8>),
    /// Tag 0x06, u32 count + values.
    List(Vec<Value>),
    /// Tag 0x07, u32 count + (u32 length + UTF-8 key, value) in key order.
    Table(BTreeMap<String, Value>),
}

/// Limits a decoder checks before allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Deepest nesting of lists and tables (default 16).
    pub max_depth: usize,
    /// Longest string or byte string (default 65,536).
    pub max_len: usize,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits {
            max_depth: 16,
            max_len: 65_536,
        }
    }
}

/// Why bytes are not a canonical value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ends inside a value.
    #[error("truncated: {need} more bytes needed at offset {at}")]
    Truncated {
        /// Offset of the value.
        at: usize,
        /// Bytes missing.
        need: usize,
    },
    /// A tag this version does not know.
    #[error("unknown value tag {tag:#04x} at offset {at}")]
    UnknownTag {
        /// The tag.
        tag: u8,
        /// Its offset.
        at: usize,
    },
    /// A bool byte other than 0 or 1.
    #[error("bool byte {byte:#04x} at offset {at} is neither 0 nor 1")]
    BadBool {
        /// The byte.
        byte: u8,
        /// Its offset.
        at: usize,
    },
    /// NaN, an infinity, or `-0.0` (not canonical).
    #[error("float at offset {at} is not canonical (NaN, infinite or -0)")]
    BadFloat {
        /// Its offset.
        at: usize,
    },
    /// A string that is not UTF-8.
    #[error("string at offset {at} is not UTF-8")]
    BadUtf8 {
        /// Its offset.
        at: usize,
    },
    /// Table keys not strictly ascending (not canonical, or repeated).
    #[error("table key at offset {at} is out of order or repeated")]
    KeyOrder {
        /// Its offset.
        at: usize,
    },
    /// Nested deeper than [`DecodeLimits::max_depth`].
    #[error("nested deeper than {max} at offset {at}")]
    TooDeep {
        /// The limit.
        max: usize,
        /// Offset.
        at: usize,
    },
    /// A length over [`DecodeLimits::max_len`].
    #[error("length {len} at offset {at} is over the limit {max}")]
    TooLong {
        /// The length read.
        len: usize,
        /// The limit.
        max: usize,
        /// Offset.
        at: usize,
    },
}

impl Value {
    /// The value's type name as docs and errors spell it: `bool`, `int`,
    /// `float`, `string`, `bytes`, `list`, `table`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "string",
            Value::Bytes(_) => "bytes",
            Value::List(_) => "list",
            Value::Table(_) => "table",
        }
    }

    /// Appends the canonical encoding. A non-finite float is encoded as
    /// `0.0` (the constructors of the document refuse them first).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let _ = out;
        todo!("canonical encoding")
    }

    /// The canonical encoding as a new vector.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }

    /// Decodes one value from the front of `input`; returns it and the
    /// bytes it took.
    pub fn decode(input: &[u8], limits: &DecodeLimits) -> Result<(Value, usize), DecodeError> {
        let _ = (input, limits);
        todo!("canonical decoding")
    }

    /// Whether every float inside is finite (a document holds no others).
    pub fn is_valid(&self) -> bool {
        match self {
            Value::Float(f) => f.is_finite(),
            Value::List(items) => items.iter().all(Value::is_valid),
            Value::Table(t) => t.values().all(Value::is_valid),
            _ => true,
        }
    }
}

/// Appends a u32 big-endian length and the bytes (strings, keys, paths).
pub fn encode_str(s: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}
