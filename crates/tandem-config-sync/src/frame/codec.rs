//! The pieces frame bodies are made of: a writer that either appends or
//! only counts (so [`super::Frame::encoded_len`] is exact without
//! encoding), and a checked reader over one whole frame.

use std::collections::BTreeMap;

use super::{FrameError, ObjectEntry};
use crate::digest::Digest;
use crate::doc::{Object, ObjectKey, Op};
use crate::merge::Version;
use crate::value::{self, DecodeError, DecodeLimits, Value};

/// Op kinds.
pub(super) const OP_SET: u8 = 1;
pub(super) const OP_REMOVE: u8 = 2;
pub(super) const OP_REMOVE_OBJECT: u8 = 3;

/// Where encoded bytes go: a vector, or a counter.
pub(super) trait Sink {
    /// Appends bytes.
    fn put(&mut self, bytes: &[u8]);
    /// Appends a value's canonical encoding.
    fn value(&mut self, v: &Value);

    fn u8(&mut self, x: u8) {
        self.put(&[x]);
    }
    fn u16(&mut self, x: u16) {
        self.put(&x.to_be_bytes());
    }
    fn u32(&mut self, x: u32) {
        self.put(&x.to_be_bytes());
    }
    fn u64(&mut self, x: u64) {
        self.put(&x.to_be_bytes());
    }
    fn flag(&mut self, b: bool) {
        self.u8(u8::from(b));
    }
    /// A count of items (lists are never longer than a frame).
    fn count(&mut self, n: usize) {
        self.u32(n as u32);
    }
    fn str(&mut self, s: &str) {
        self.count(s.len());
        self.put(s.as_bytes());
    }
    fn digest(&mut self, d: &Digest) {
        self.put(d);
    }
    fn key(&mut self, k: &ObjectKey) {
        self.str(&k.section);
        self.str(&k.id);
    }
    fn object(&mut self, o: &Object) {
        self.count(o.len());
        for (name, v) in o {
            self.str(name);
            self.value(v);
        }
    }
    fn version(&mut self, v: &Version) {
        self.count(v.vector.len());
        for (unit, n) in &v.vector {
            self.str(unit);
            self.u64(*n);
        }
        self.u64(v.stamp);
        self.str(&v.unit);
    }
    fn entry(&mut self, e: &ObjectEntry) {
        self.key(&e.key);
        match &e.object {
            Some(o) => {
                self.u8(1);
                self.object(o);
            }
            None => self.u8(0),
        }
        self.version(&e.version);
    }
    fn op(&mut self, op: &Op) {
        match op {
            Op::Set { key, field, value } => {
                self.u8(OP_SET);
                self.key(key);
                self.str(field);
                self.value(value);
            }
            Op::Remove { key, field } => {
                self.u8(OP_REMOVE);
                self.key(key);
                self.str(field);
            }
            Op::RemoveObject { key } => {
                self.u8(OP_REMOVE_OBJECT);
                self.key(key);
            }
        }
    }
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
    fn value(&mut self, v: &Value) {
        v.encode(self);
    }
}

/// Counts the bytes an encoding would take.
#[derive(Default)]
pub(super) struct Count(pub(super) usize);

impl Sink for Count {
    fn put(&mut self, bytes: &[u8]) {
        self.0 += bytes.len();
    }
    fn value(&mut self, v: &Value) {
        self.0 += v.encoded_len();
    }
}

/// A checked cursor over one frame; every error names the frame kind and
/// the offset in the frame.
pub(super) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    kind: &'static str,
    limits: DecodeLimits,
}

impl<'a> Reader<'a> {
    /// A reader of `buf` (the whole frame) from offset `pos`.
    pub(super) fn new(buf: &'a [u8], pos: usize, kind: &'static str) -> Self {
        Reader {
            buf,
            pos,
            kind,
            limits: DecodeLimits::default(),
        }
    }

    pub(super) fn body(&self, why: &'static str, at: usize) -> FrameError {
        FrameError::Body {
            kind: self.kind,
            why,
            at,
        }
    }

    fn value_error(&self, e: DecodeError) -> FrameError {
        match e {
            DecodeError::Truncated { at, .. } => self.body("ends early", at),
            source => FrameError::Value {
                kind: self.kind,
                source,
            },
        }
    }

    /// The offset in the frame.
    pub(super) fn pos(&self) -> usize {
        self.pos
    }

    fn left(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// The next `n` bytes.
    pub(super) fn take(&mut self, n: usize) -> Result<&'a [u8], FrameError> {
        if n > self.left() {
            return Err(self.body("ends early", self.pos));
        }
        let b = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(b)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], FrameError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    pub(super) fn u8(&mut self) -> Result<u8, FrameError> {
        Ok(self.array::<1>()?[0])
    }
    pub(super) fn u16(&mut self) -> Result<u16, FrameError> {
        Ok(u16::from_be_bytes(self.array()?))
    }
    pub(super) fn u32(&mut self) -> Result<u32, FrameError> {
        Ok(u32::from_be_bytes(self.array()?))
    }
    pub(super) fn u64(&mut self) -> Result<u64, FrameError> {
        Ok(u64::from_be_bytes(self.array()?))
    }
    pub(super) fn digest(&mut self) -> Result<Digest, FrameError> {
        self.array()
    }

    /// A bool flag: 0 or 1, nothing else.
    pub(super) fn flag(&mut self) -> Result<bool, FrameError> {
        let at = self.pos;
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(self.body("flag byte is neither 0 nor 1", at)),
        }
    }

    /// A u32 count of items, each at least one byte: a count over the
    /// bytes left is refused before anything is reserved.
    pub(super) fn count(&mut self) -> Result<usize, FrameError> {
        let at = self.pos;
        let n = self.u32()? as usize;
        if n > self.left() {
            return Err(self.body("count is over the bytes left", at));
        }
        Ok(n)
    }

    /// Room to reserve for `n` items: bounded, the vector grows as items
    /// actually decode.
    pub(super) fn reserve(n: usize) -> usize {
        n.min(1024)
    }

    pub(super) fn str(&mut self) -> Result<String, FrameError> {
        let (s, n) =
            value::decode_str(self.buf, self.pos, &self.limits).map_err(|e| self.value_error(e))?;
        self.pos += n;
        Ok(s)
    }

    pub(super) fn value(&mut self) -> Result<Value, FrameError> {
        let (v, n) =
            Value::decode_at(self.buf, self.pos, &self.limits).map_err(|e| self.value_error(e))?;
        self.pos += n;
        Ok(v)
    }

    pub(super) fn key(&mut self) -> Result<ObjectKey, FrameError> {
        let section = self.str()?;
        let id = self.str()?;
        Ok(ObjectKey { section, id })
    }

    pub(super) fn object(&mut self) -> Result<Object, FrameError> {
        let n = self.count()?;
        let mut o: Object = BTreeMap::new();
        for _ in 0..n {
            let at = self.pos;
            let name = self.str()?;
            if o.last_key_value().is_some_and(|(prev, _)| *prev >= name) {
                return Err(FrameError::Value {
                    kind: self.kind,
                    source: DecodeError::KeyOrder { at },
                });
            }
            let v = self.value()?;
            o.insert(name, v);
        }
        Ok(o)
    }

    pub(super) fn version(&mut self) -> Result<Version, FrameError> {
        let n = self.count()?;
        let mut vector = BTreeMap::new();
        for _ in 0..n {
            let at = self.pos;
            let unit = self.str()?;
            if vector
                .last_key_value()
                .is_some_and(|(prev, _): (&String, _)| *prev >= unit)
            {
                return Err(self.body("version vector units out of order or repeated", at));
            }
            let count = self.u64()?;
            vector.insert(unit, count);
        }
        let stamp = self.u64()?;
        let unit = self.str()?;
        Ok(Version {
            vector,
            stamp,
            unit,
        })
    }

    pub(super) fn entry(&mut self) -> Result<ObjectEntry, FrameError> {
        let key = self.key()?;
        let object = if self.flag()? {
            Some(self.object()?)
        } else {
            None
        };
        let version = self.version()?;
        Ok(ObjectEntry {
            key,
            object,
            version,
        })
    }

    pub(super) fn op(&mut self) -> Result<Op, FrameError> {
        let at = self.pos;
        match self.u8()? {
            OP_SET => {
                let key = self.key()?;
                let field = self.str()?;
                let value = self.value()?;
                Ok(Op::Set { key, field, value })
            }
            OP_REMOVE => {
                let key = self.key()?;
                let field = self.str()?;
                Ok(Op::Remove { key, field })
            }
            OP_REMOVE_OBJECT => Ok(Op::RemoveObject { key: self.key()? }),
            _ => Err(self.body("unknown op kind", at)),
        }
    }

    /// A list: u32 count, then items.
    pub(super) fn list<T>(
        &mut self,
        mut item: impl FnMut(&mut Self) -> Result<T, FrameError>,
    ) -> Result<Vec<T>, FrameError> {
        let n = self.count()?;
        let mut items = Vec::with_capacity(Self::reserve(n));
        for _ in 0..n {
            items.push(item(self)?);
        }
        Ok(items)
    }

    /// The end of the frame: nothing may be left.
    pub(super) fn finish(&self) -> Result<(), FrameError> {
        if self.left() != 0 {
            return Err(self.body("trailing bytes", self.pos));
        }
        Ok(())
    }
}
