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
        match self {
            Value::Bool(b) => {
                out.push(TAG_BOOL);
                out.push(u8::from(*b));
            }
            Value::Int(i) => {
                out.push(TAG_INT);
                out.extend_from_slice(&i.to_be_bytes());
            }
            Value::Float(f) => {
                out.push(TAG_FLOAT);
                // `-0.0 == 0.0`, so both zeros (and anything not finite)
                // are written as the bits of `0.0`.
                let f = if f.is_finite() && *f != 0.0 { *f } else { 0.0 };
                out.extend_from_slice(&f.to_bits().to_be_bytes());
            }
            Value::Str(s) => {
                out.push(TAG_STR);
                encode_str(s, out);
            }
            Value::Bytes(b) => {
                out.push(TAG_BYTES);
                out.extend_from_slice(&(b.len() as u32).to_be_bytes());
                out.extend_from_slice(b);
            }
            Value::List(items) => {
                out.push(TAG_LIST);
                out.extend_from_slice(&(items.len() as u32).to_be_bytes());
                for item in items {
                    item.encode(out);
                }
            }
            Value::Table(t) => {
                out.push(TAG_TABLE);
                out.extend_from_slice(&(t.len() as u32).to_be_bytes());
                for (k, v) in t {
                    encode_str(k, out);
                    v.encode(out);
                }
            }
        }
    }

    /// The length of the canonical encoding, without encoding.
    pub fn encoded_len(&self) -> usize {
        1 + match self {
            Value::Bool(_) => 1,
            Value::Int(_) | Value::Float(_) => 8,
            Value::Str(s) => 4 + s.len(),
            Value::Bytes(b) => 4 + b.len(),
            Value::List(items) => 4 + items.iter().map(Value::encoded_len).sum::<usize>(),
            Value::Table(t) => {
                4 + t
                    .iter()
                    .map(|(k, v)| 4 + k.len() + v.encoded_len())
                    .sum::<usize>()
            }
        }
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
        Value::decode_at(input, 0, limits)
    }

    /// Decodes one value starting at offset `at` of `input`; returns it
    /// and the bytes it took. Error offsets count from the start of
    /// `input`, so a frame's decoder reports where in the frame a value
    /// went wrong.
    pub fn decode_at(
        input: &[u8],
        at: usize,
        limits: &DecodeLimits,
    ) -> Result<(Value, usize), DecodeError> {
        let (value, end) = decode_value(input, at, 0, limits)?;
        Ok((value, end - at))
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

const TAG_BOOL: u8 = 0x01;
const TAG_INT: u8 = 0x02;
const TAG_FLOAT: u8 = 0x03;
const TAG_STR: u8 = 0x04;
const TAG_BYTES: u8 = 0x05;
const TAG_LIST: u8 = 0x06;
const TAG_TABLE: u8 = 0x07;

/// The bits of `-0.0`, refused on decode (it is written as `0.0`).
const NEG_ZERO_BITS: u64 = 0x8000_0000_0000_0000;

/// The most items a decoder reserves room for up front; a longer list
/// grows as its items actually decode, so a count alone never makes it
/// allocate much.
const MAX_RESERVE: usize = 1024;

/// `n` bytes at `at`, or how many are missing.
pub(crate) fn take(input: &[u8], at: usize, n: usize) -> Result<&[u8], DecodeError> {
    let left = input.len().saturating_sub(at);
    if n > left {
        return Err(DecodeError::Truncated { at, need: n - left });
    }
    Ok(&input[at..at + n])
}

/// A u32 big-endian at `at`.
pub(crate) fn read_u32(input: &[u8], at: usize) -> Result<u32, DecodeError> {
    let b = take(input, at, 4)?;
    Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// A u64 big-endian at `at`.
fn read_u64(input: &[u8], at: usize) -> Result<u64, DecodeError> {
    let b = take(input, at, 8)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    Ok(u64::from_be_bytes(a))
}

/// A u32 length at `at`, checked against `limits.max_len` and then against
/// the bytes left; returns it (the bytes follow at `at + 4`).
fn read_len(input: &[u8], at: usize, limits: &DecodeLimits) -> Result<usize, DecodeError> {
    let len = read_u32(input, at)? as usize;
    if len > limits.max_len {
        return Err(DecodeError::TooLong {
            len,
            max: limits.max_len,
            at,
        });
    }
    take(input, at + 4, len).map_err(|e| retag(e, at))?;
    Ok(len)
}

/// A u32 count of items at `at`: every item takes at least one byte, so
/// a count over the bytes left is refused before anything is reserved.
fn read_count(input: &[u8], at: usize) -> Result<usize, DecodeError> {
    let count = read_u32(input, at)? as usize;
    let left = input.len() - (at + 4);
    if count > left {
        return Err(DecodeError::Truncated {
            at,
            need: count - left,
        });
    }
    Ok(count)
}

/// Decodes a string (u32 length + UTF-8, as [`encode_str`] writes it)
/// starting at offset `at` of `input`; returns it and the bytes it took
/// (4 + its length). The length is checked against
/// [`DecodeLimits::max_len`] and the bytes left before anything is
/// allocated; error offsets count from the start of `input`.
pub fn decode_str(
    input: &[u8],
    at: usize,
    limits: &DecodeLimits,
) -> Result<(String, usize), DecodeError> {
    let len = read_len(input, at, limits)?;
    let bytes = &input[at + 4..at + 4 + len];
    let s = std::str::from_utf8(bytes).map_err(|_| DecodeError::BadUtf8 { at })?;
    Ok((s.to_owned(), 4 + len))
}

/// Decodes the value at `at`, nested `depth` lists or tables deep; returns
/// it and the offset just past it.
fn decode_value(
    input: &[u8],
    at: usize,
    depth: usize,
    limits: &DecodeLimits,
) -> Result<(Value, usize), DecodeError> {
    let tag = take(input, at, 1)?[0];
    let body = at + 1;
    match tag {
        TAG_BOOL => {
            match take(input, body, 1).map_err(|_| DecodeError::Truncated { at, need: 1 })?[0] {
                0 => Ok((Value::Bool(false), body + 1)),
                1 => Ok((Value::Bool(true), body + 1)),
                byte => Err(DecodeError::BadBool { byte, at: body }),
            }
        }
        TAG_INT => {
            let n = read_u64(input, body).map_err(|e| retag(e, at))?;
            Ok((Value::Int(n as i64), body + 8))
        }
        TAG_FLOAT => {
            let bits = read_u64(input, body).map_err(|e| retag(e, at))?;
            let f = f64::from_bits(bits);
            if !f.is_finite() || bits == NEG_ZERO_BITS {
                return Err(DecodeError::BadFloat { at });
            }
            Ok((Value::Float(f), body + 8))
        }
        TAG_STR => {
            let (s, n) = decode_str(input, body, limits).map_err(|e| retag(e, at))?;
            Ok((Value::Str(s), body + n))
        }
        TAG_BYTES => {
            let len = read_len(input, body, limits).map_err(|e| retag(e, at))?;
            let start = body + 4;
            Ok((
                Value::Bytes(input[start..start + len].to_vec()),
                start + len,
            ))
        }
        TAG_LIST | TAG_TABLE => {
            if depth >= limits.max_depth {
                return Err(DecodeError::TooDeep {
                    max: limits.max_depth,
                    at,
                });
            }
            let count = read_count(input, body).map_err(|e| retag(e, at))?;
            let mut pos = body + 4;
            if tag == TAG_LIST {
                let mut items = Vec::with_capacity(count.min(MAX_RESERVE));
                for _ in 0..count {
                    let (item, end) = decode_value(input, pos, depth + 1, limits)?;
                    items.push(item);
                    pos = end;
                }
                Ok((Value::List(items), pos))
            } else {
                let mut table = BTreeMap::new();
                for _ in 0..count {
                    let (key, n) = decode_str(input, pos, limits)?;
                    if table
                        .last_key_value()
                        .is_some_and(|(prev, _): (&String, _)| *prev >= key)
                    {
                        return Err(DecodeError::KeyOrder { at: pos });
                    }
                    let (value, end) = decode_value(input, pos + n, depth + 1, limits)?;
                    table.insert(key, value);
                    pos = end;
                }
                Ok((Value::Table(table), pos))
            }
        }
        tag => Err(DecodeError::UnknownTag { tag, at }),
    }
}

/// An error found inside a value's own length, count or bytes is reported
/// at the value's offset (its tag).
fn retag(e: DecodeError, at: usize) -> DecodeError {
    match e {
        DecodeError::Truncated { need, .. } => DecodeError::Truncated { at, need },
        DecodeError::BadUtf8 { .. } => DecodeError::BadUtf8 { at },
        DecodeError::TooLong { len, max, .. } => DecodeError::TooLong { len, max, at },
        other => other,
    }
}

/// Appends a u32 big-endian length and the bytes (strings, keys, paths).
pub fn encode_str(s: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

#[cfg(test)]
pub(crate) mod tests;
