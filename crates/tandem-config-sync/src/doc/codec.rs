//! The snapshot encoding of a whole document:
//!
//! ```text
//! u32 object count
//! per object, in key order (section, then id):
//!     str(section) str(id) u32 field count
//!     per field, in name order: str(name) value
//! ```
//!
//! `str` is [`encode_str`] (u32 length + UTF-8), `value` the canonical
//! value encoding. There is exactly one encoding of a document: a decoder
//! refuses keys or fields out of order or repeated, an empty object, a bad
//! name and any byte after the last object.

use crate::value::{decode_str, encode_str, DecodeError, DecodeLimits, Value};

use super::{check_field, check_id, check_section, Document, Object, ObjectKey};

/// Why bytes are not a document's snapshot encoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DocDecodeError {
    /// A string or a value is malformed (offsets count from the start of
    /// the snapshot).
    #[error(transparent)]
    Value(#[from] DecodeError),
    /// The input ends inside a count.
    #[error("truncated: {need} more bytes needed at offset {at}")]
    Truncated {
        /// Offset of the count.
        at: usize,
        /// Bytes missing.
        need: usize,
    },
    /// A count larger than the bytes left could hold.
    #[error("{what} count {count} at offset {at} cannot fit in the {left} bytes left")]
    CountOverflow {
        /// `object` or `field`.
        what: &'static str,
        /// The count read.
        count: u32,
        /// Its offset.
        at: usize,
        /// Bytes after it.
        left: usize,
    },
    /// An object's key not strictly after the previous one.
    #[error("object {key} at offset {at} is out of order or repeated")]
    KeyOrder {
        /// The key.
        key: ObjectKey,
        /// Its offset.
        at: usize,
    },
    /// A field name not strictly after the previous one.
    #[error("field {field:?} of {key} at offset {at} is out of order or repeated")]
    FieldOrder {
        /// The object.
        key: ObjectKey,
        /// The field.
        field: String,
        /// Its offset.
        at: usize,
    },
    /// An object with no field (a document holds none).
    #[error("object {key} at offset {at} has no field")]
    EmptyObject {
        /// The object.
        key: ObjectKey,
        /// Its offset.
        at: usize,
    },
    /// A section, id or field name [`Document::apply`] would refuse.
    #[error("name {name:?} at offset {at}: {why}")]
    BadName {
        /// The name.
        name: String,
        /// Its offset.
        at: usize,
        /// What is wrong.
        why: &'static str,
    },
    /// Bytes after the last object.
    #[error("{extra} bytes after the document's end at offset {at}")]
    TrailingBytes {
        /// Where the document ended.
        at: usize,
        /// How many bytes follow.
        extra: usize,
    },
}

/// Fewest bytes a field takes: a one-byte name and a bool.
const MIN_FIELD: usize = 4 + 1 + 2;
/// Fewest bytes an object takes: a one-byte section, an empty id, a count
/// and one field.
const MIN_OBJECT: usize = 4 + 1 + 4 + 4 + MIN_FIELD;

/// Reads a u32 count at `at` and checks that `count` items of at least
/// `min` bytes fit in what is left before `end`, the end of the whole
/// snapshot (past the end of `input` when it is still arriving).
fn read_count(
    input: &[u8],
    at: usize,
    end: usize,
    what: &'static str,
    min: usize,
) -> Result<usize, DocDecodeError> {
    let bytes = input
        .get(at..at.saturating_add(4))
        .ok_or(DocDecodeError::Truncated {
            at,
            need: (at + 4).saturating_sub(input.len()),
        })?;
    let count = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    let left = end.saturating_sub(at + 4);
    if (count as usize).saturating_mul(min) > left {
        return Err(DocDecodeError::CountOverflow {
            what,
            count,
            at,
            left,
        });
    }
    Ok(count as usize)
}

/// Decodes the object at `pos` of `bytes` (`end`: the end of the whole
/// snapshot), which must come after `last`; returns it and its length.
fn decode_object(
    bytes: &[u8],
    mut pos: usize,
    end: usize,
    limits: &DecodeLimits,
    last: Option<&ObjectKey>,
) -> Result<(ObjectKey, Object, usize), DocDecodeError> {
    let start = pos;
    let (section, n) = decode_str(bytes, pos, limits)?;
    name_check(&section, pos, check_section)?;
    pos += n;
    let (id, n) = decode_str(bytes, pos, limits)?;
    name_check(&id, pos, check_id)?;
    pos += n;
    let key = ObjectKey { section, id };
    if last.is_some_and(|last| *last >= key) {
        return Err(DocDecodeError::KeyOrder { key, at: start });
    }
    let fields = read_count(bytes, pos, end, "field", MIN_FIELD)?;
    if fields == 0 {
        return Err(DocDecodeError::EmptyObject { key, at: start });
    }
    pos += 4;
    let mut object = Object::new();
    for _ in 0..fields {
        let (name, n) = decode_str(bytes, pos, limits)?;
        name_check(&name, pos, check_field)?;
        if object.keys().next_back().is_some_and(|last| *last >= name) {
            return Err(DocDecodeError::FieldOrder {
                key,
                field: name,
                at: pos,
            });
        }
        pos += n;
        let (value, n) = Value::decode_at(bytes, pos, limits)?;
        pos += n;
        object.insert(name, value);
    }
    Ok((key, object, pos - start))
}

impl DocDecodeError {
    /// Whether it says only that the bytes end too soon (more may come).
    fn is_truncation(&self) -> bool {
        matches!(
            self,
            DocDecodeError::Truncated { .. } | DocDecodeError::Value(DecodeError::Truncated { .. })
        )
    }
}

fn name_check(
    name: &str,
    at: usize,
    check: fn(&str) -> Result<(), &'static str>,
) -> Result<(), DocDecodeError> {
    check(name).map_err(|why| DocDecodeError::BadName {
        name: name.to_owned(),
        at,
        why,
    })
}

impl Document {
    /// Appends the snapshot encoding (see the module doc of `doc::codec`:
    /// u32 object count, then per object in key order str(section) str(id)
    /// u32 field count and (str(name) value) in name order).
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&(self.objects.len() as u32).to_be_bytes());
        for (key, object) in &self.objects {
            encode_str(&key.section, out);
            encode_str(&key.id, out);
            out.extend_from_slice(&(object.len() as u32).to_be_bytes());
            for (name, value) in object {
                encode_str(name, out);
                value.encode(out);
            }
        }
    }

    /// The snapshot encoding as a new vector.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }

    /// Decodes a whole snapshot (all of `bytes`, nothing after it). Every
    /// count is checked against the bytes left and every string and value
    /// against `limits` before anything is allocated; names are checked as
    /// [`Document::apply`] checks them.
    pub fn decode(bytes: &[u8], limits: &DecodeLimits) -> Result<Document, DocDecodeError> {
        let end = bytes.len();
        let count = read_count(bytes, 0, end, "object", MIN_OBJECT)?;
        let mut pos = 4;
        let mut doc = Document::new();
        for _ in 0..count {
            let last = doc.objects.keys().next_back();
            let (key, object, n) = decode_object(bytes, pos, end, limits, last)?;
            pos += n;
            doc.objects.insert(key, object);
        }
        if pos != bytes.len() {
            return Err(DocDecodeError::TrailingBytes {
                at: pos,
                extra: bytes.len() - pos,
            });
        }
        Ok(doc)
    }
}

/// Why a snapshot arriving in chunks is not a document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StreamError {
    /// More bytes than announced.
    #[error("{got} bytes pushed, {len} announced")]
    TooLong {
        /// Pushed so far.
        got: u64,
        /// Announced.
        len: u64,
    },
    /// The snapshot ends before what it announced.
    #[error("the snapshot ended after {got} of {len} bytes")]
    Short {
        /// Pushed.
        got: u64,
        /// Announced.
        len: u64,
    },
    /// An object (or the count) is malformed; `offset` is where the bytes
    /// the error's own offsets count from begin in the snapshot.
    #[error("at snapshot offset {offset} (object {index}): {source}")]
    Bad {
        /// The object's index (0 for the count).
        index: usize,
        /// Offset in the snapshot of the error's first byte position.
        offset: u64,
        /// What is wrong.
        source: DocDecodeError,
    },
}

/// Decodes a snapshot as its chunks arrive: what it holds is the
/// document so far and at most one partial object, never the whole
/// encoding. The same checks as [`Document::decode`]; counts are checked
/// against the announced length before anything is allocated.
#[derive(Debug)]
pub struct DocStream {
    len: u64,
    got: u64,
    /// Bytes not decoded yet, from snapshot offset `base`.
    buf: Vec<u8>,
    base: u64,
    objects_left: Option<usize>,
    decoded: usize,
    doc: Document,
    limits: DecodeLimits,
}

impl DocStream {
    /// A decoder for a snapshot of `len` bytes.
    pub fn new(len: u64, limits: DecodeLimits) -> Self {
        DocStream {
            len,
            got: 0,
            buf: Vec::new(),
            base: 0,
            objects_left: None,
            decoded: 0,
            doc: Document::new(),
            limits,
        }
    }

    /// Bytes pushed so far.
    pub fn received(&self) -> u64 {
        self.got
    }

    /// The next chunk; decodes every object it completes.
    pub fn push(&mut self, data: &[u8]) -> Result<(), StreamError> {
        let got = self.got + data.len() as u64;
        if got > self.len {
            return Err(StreamError::TooLong { got, len: self.len });
        }
        self.got = got;
        self.buf.extend_from_slice(data);
        // The end of the whole snapshot, counted from `buf`'s start.
        let end = usize::try_from(self.len - self.base).unwrap_or(usize::MAX);
        let complete = self.got == self.len;
        let mut pos = 0;
        let bad = |index, offset, source| StreamError::Bad {
            index,
            offset,
            source,
        };
        if self.objects_left.is_none() {
            match read_count(&self.buf, 0, end, "object", MIN_OBJECT) {
                Ok(n) => {
                    self.objects_left = Some(n);
                    pos = 4;
                }
                Err(e) if e.is_truncation() && !complete => return Ok(()),
                Err(e) => return Err(bad(0, self.base, e)),
            }
        }
        while self.objects_left.unwrap_or(0) > 0 {
            let last = self.doc.objects.keys().next_back();
            match decode_object(&self.buf, pos, end, &self.limits, last) {
                Ok((key, object, n)) => {
                    pos += n;
                    self.doc.objects.insert(key, object);
                    self.decoded += 1;
                    self.objects_left = self.objects_left.map(|n| n - 1);
                }
                Err(e) if e.is_truncation() && !complete => break,
                Err(e) => return Err(bad(self.decoded, self.base, e)),
            }
        }
        self.buf.drain(..pos);
        self.base += pos as u64;
        Ok(())
    }

    /// The document, once every announced byte was pushed and decoded.
    pub fn finish(self) -> Result<Document, StreamError> {
        if self.got != self.len {
            return Err(StreamError::Short {
                got: self.got,
                len: self.len,
            });
        }
        if self.objects_left.is_none() || !self.buf.is_empty() {
            let at = usize::try_from(self.base).unwrap_or(usize::MAX);
            let source = DocDecodeError::TrailingBytes {
                at,
                extra: self.buf.len(),
            };
            return Err(StreamError::Bad {
                index: self.decoded,
                offset: 0,
                source,
            });
        }
        Ok(self.doc)
    }
}
