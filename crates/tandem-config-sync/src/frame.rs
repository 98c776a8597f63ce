//! The frames of a session, as owned values, and their encoding.
//!
//! A frame is the plaintext of one Noise transport message: type (u8),
//! flags (u8, zero in this version), body. Bodies use big-endian integers,
//! `str` = u32 length + UTF-8, `digest` = 32 bytes, values and objects in
//! the canonical encoding of [`crate::value`]. docs/config-sync.md gives
//! every layout. [`Frame::decode`] checks every length against the bytes
//! left and [`FrameLimits`] before it allocates, and refuses trailing
//! bytes.
//!
//! # Layouts
//!
//! Pieces the bodies are made of:
//!
//! | Piece         | Bytes |
//! |---------------|-------|
//! | `u8` `u16` `u32` `u64` | big-endian |
//! | `bool`        | u8: 0 or 1 (anything else is refused) |
//! | `str`         | u32 length + UTF-8 (length ≤ 65,536) |
//! | `digest`      | 32 raw bytes |
//! | `value`       | the canonical encoding of [`crate::value::Value`] |
//! | `list<T>`     | u32 count + count × `T`; a count over the bytes left is refused before allocating |
//! | `ObjectKey`   | `str` section, `str` id |
//! | `Object`      | u32 field count + (`str` name, `value`) × count, names strictly ascending |
//! | `Op`          | u8 kind, then: 1 Set: `ObjectKey`, `str` field, `value`; 2 Remove: `ObjectKey`, `str` field; 3 RemoveObject: `ObjectKey` |
//! | `Version`     | u32 count + (`str` unit, u64 counter) × count, units strictly ascending; u64 HLC stamp; `str` unit of the last edit |
//! | `ObjectEntry` | `ObjectKey`, u8 present (0 or 1), `Object` if present, `Version` |
//! | `Role`        | u8: 0 Unknown, 1 Active, 2 Backup |
//! | `Mode`        | u8: 0 ActiveStandby, 1 Bidirectional |
//! | `RejectCode`  | u16: 1 Invalid, 2 LocalConflict, 3 TooLarge, 4 Storage, 5 Stale, 6 Version, 7 Digest; any other kept as `Other(n)` |
//!
//! Every frame is `u8 type`, `u8 flags` (0), then the body:
//!
//! | Type | Name         | Body |
//! |------|--------------|------|
//! | 0x01 | `HELLO`      | `str` unit, `Role`, `Mode`, `str` software, u8 proto major, u8 lowest minor, u8 highest minor, u16 schema, u32 capabilities, u64 epoch, u64 generation, `digest` root, u64 boot |
//! | 0x02 | `PING`       | u64 epoch, u64 generation, `digest` root |
//! | 0x03 | `DIGEST_REQ` | `str` section, `str` after |
//! | 0x04 | `DIGESTS`    | `str` section, `list<(str name, digest)>` entries, `bool` more |
//! | 0x05 | `FETCH`      | `list<ObjectKey>` keys |
//! | 0x06 | `OBJECTS`    | `list<ObjectEntry>` entries, `bool` last |
//! | 0x07 | `DELTA`      | u64 epoch, u64 base generation, `digest` base root, u64 generation, `digest` root, `list<Op>` ops |
//! | 0x08 | `SNAP_BEGIN` | u64 epoch, u64 generation, u64 len (≤ [`FrameLimits::max_document`]), `digest` root |
//! | 0x09 | `SNAP_CHUNK` | u64 offset, u32 length + data (≤ [`MAX_CHUNK`]) |
//! | 0x0a | `SNAP_END`   | `digest` SHA-256 of the document |
//! | 0x0b | `ACK`        | u64 epoch, u64 generation, `digest` root |
//! | 0x0c | `NACK`       | u64 epoch, u64 generation, `digest` root |
//! | 0x0d | `REJECT`     | u64 generation, `RejectCode`, `str` path, `str` text |
//! | 0x0e | `ADOPT`      | u64 epoch, u64 generation, `digest` root |
//! | 0x0f | `BYE`        | `str` reason |
//!
//! A frame is at most [`MAX_FRAME`] bytes; [`Frame::encoded_len`] and the
//! `*_len` functions let a sender split long lists (DIGESTS, FETCH,
//! OBJECTS, DELTA's ops) across frames before encoding.

mod codec;
mod pieces;
#[cfg(test)]
mod tests;

use codec::{Count, Reader, Sink};
pub use pieces::{
    digest_entry_len, encode_entry, encode_key, encode_object, encode_op, encode_version,
    entry_len, key_len, op_len,
};
use pieces::{mode_byte, mode_from, role_byte, role_from};

use crate::digest::Digest;
use crate::doc::{Object, ObjectKey, Op};
use crate::merge::Version;

/// The largest plaintext of one frame: a Noise message is at most 65,535
/// bytes, of which 16 are the AEAD tag.
pub const MAX_FRAME: usize = 65_535 - 16;

/// The largest data of one [`Frame::SnapChunk`].
pub const MAX_CHUNK: usize = 64_000;

/// Limits a decoder checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameLimits {
    /// Largest snapshot a SNAP_BEGIN may announce (the document limit).
    pub max_document: u64,
}

impl Default for FrameLimits {
    fn default() -> Self {
        FrameLimits {
            max_document: 64 << 20,
        }
    }
}

/// The unit's role as HELLO carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// 0: not (yet) known.
    Unknown,
    /// 1: the Active unit (it pushes in active/standby mode).
    Active,
    /// 2: the Backup unit.
    Backup,
}

/// How the pair edits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// 0: the Active edits and pushes, the Backup follows.
    ActiveStandby,
    /// 1: either unit edits; concurrent edits merge (cloud pairs).
    Bidirectional,
}

/// HELLO, the first frame each way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    /// The sender's unit id.
    pub unit: String,
    /// Its role.
    pub role: Role,
    /// Its mode (both must agree).
    pub mode: Mode,
    /// tandemd's version, as `1.4.2`.
    pub software: String,
    /// Protocol version range it speaks: major, lowest and highest minor.
    pub proto_major: u8,
    /// Lowest minor.
    pub proto_minor_min: u8,
    /// Highest minor.
    pub proto_minor_max: u8,
    /// Schema version of its document.
    pub schema: u16,
    /// Capability bits (none defined: 0).
    pub capabilities: u32,
    /// Authority of its document: epoch.
    pub epoch: u64,
    /// Generation.
    pub generation: u64,
    /// Root digest of its shared form.
    pub root: Digest,
    /// Random per start: tells a restart from a reconnect.
    pub boot: u64,
}

/// One object as FETCH answers it, or as bidirectional mode pushes it.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectEntry {
    /// The object.
    pub key: ObjectKey,
    /// Its fields (`None`: the sender has no such object).
    pub object: Option<Object>,
    /// Its version (bidirectional mode; default otherwise).
    pub version: Version,
}

/// Codes of a REJECT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectCode {
    /// 1: the document fails the receiver's validation (path names the field).
    Invalid,
    /// 2: it conflicts with the receiver's local settings.
    LocalConflict,
    /// 3: over the receiver's document limit.
    TooLarge,
    /// 4: the receiver could not write it (disk full, permissions).
    Storage,
    /// 5: refused by authority: the receiver's (epoch, generation) is newer.
    Stale,
    /// 6: the versions do not allow it (a newer unit pushing to an older).
    Version,
    /// 7: a snapshot's digest did not match.
    Digest,
    /// Any other code, kept as read.
    Other(u16),
}

/// One frame.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Frame {
    /// 0x01.
    Hello(Hello),
    /// 0x02: keepalive, every second.
    Ping {
        /// Epoch.
        epoch: u64,
        /// Generation.
        generation: u64,
        /// Root.
        root: Digest,
    },
    /// 0x03: ask for digests: every section's (`section` empty) or one
    /// section's objects after the id `after`.
    DigestReq {
        /// The section, or empty for the list of sections.
        section: String,
        /// Start after this object id (paging).
        after: String,
    },
    /// 0x04: digests answering DIGEST_REQ; `more` when the list goes on.
    Digests {
        /// The section (empty: entries are sections).
        section: String,
        /// (section name or object id, digest), in order.
        entries: Vec<(String, Digest)>,
        /// More follow: ask again after the last entry.
        more: bool,
    },
    /// 0x05: ask for whole objects.
    Fetch {
        /// The objects.
        keys: Vec<ObjectKey>,
    },
    /// 0x06: objects answering FETCH, or pushed (bidirectional).
    Objects {
        /// The objects.
        entries: Vec<ObjectEntry>,
        /// Last frame of the answer.
        last: bool,
    },
    /// 0x07: a change, applied only on its exact base.
    Delta {
        /// Epoch.
        epoch: u64,
        /// The generation it applies to.
        base_generation: u64,
        /// The root it applies to.
        base_root: Digest,
        /// The generation it makes.
        generation: u64,
        /// The root it makes.
        root: Digest,
        /// The operations.
        ops: Vec<Op>,
    },
    /// 0x08: a snapshot begins.
    SnapBegin {
        /// Epoch.
        epoch: u64,
        /// Generation.
        generation: u64,
        /// Length of the encoded document that follows.
        len: u64,
        /// Its root.
        root: Digest,
    },
    /// 0x09: part of a snapshot.
    SnapChunk {
        /// Offset of `data` in the snapshot.
        offset: u64,
        /// At most [`MAX_CHUNK`] bytes.
        data: Vec<u8>,
    },
    /// 0x0a: the snapshot ends.
    SnapEnd {
        /// SHA-256 of the whole encoded document.
        sha256: Digest,
    },
    /// 0x0b: applied (persisted and running).
    Ack {
        /// Epoch.
        epoch: u64,
        /// Generation now.
        generation: u64,
        /// Root now.
        root: Digest,
    },
    /// 0x0c: not applied: the receiver is not on the base.
    Nack {
        /// Receiver's epoch.
        epoch: u64,
        /// Receiver's generation.
        generation: u64,
        /// Receiver's root.
        root: Digest,
    },
    /// 0x0d: refused; nothing changed on the receiver.
    Reject {
        /// The generation refused.
        generation: u64,
        /// Why.
        code: RejectCode,
        /// The path at fault (may be empty).
        path: String,
        /// A sentence for the operator.
        text: String,
    },
    /// 0x0e: the sender adopts the receiver's authority after a repair
    /// (both roots now equal): epoch and generation to take.
    Adopt {
        /// Epoch.
        epoch: u64,
        /// Generation.
        generation: u64,
        /// Root both now have.
        root: Digest,
    },
    /// 0x0f: the sender closes, with a reason.
    Bye {
        /// Why.
        reason: String,
    },
}

/// Why bytes are not a frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// Empty input or no room for type and flags.
    #[error("frame shorter than its 2-byte header")]
    Short,
    /// A type this version does not know.
    #[error("unknown frame type {0:#04x}")]
    UnknownType(u8),
    /// Flags other than zero.
    #[error("frame type {kind:#04x} has flags {flags:#04x}; this version defines none")]
    Flags {
        /// The type.
        kind: u8,
        /// The flags.
        flags: u8,
    },
    /// The body ends early or has bytes left over.
    #[error("{kind} body: {why} at offset {at}")]
    Body {
        /// The frame's name.
        kind: &'static str,
        /// What is wrong.
        why: &'static str,
        /// Offset in the frame.
        at: usize,
    },
    /// A value inside is not canonical.
    #[error("{kind} body: {source}")]
    Value {
        /// The frame's name.
        kind: &'static str,
        /// The value error.
        source: crate::value::DecodeError,
    },
    /// Over a limit.
    #[error("{kind}: {what} {got} is over the limit {max}")]
    Limit {
        /// The frame's name.
        kind: &'static str,
        /// What.
        what: &'static str,
        /// Read.
        got: u64,
        /// Limit.
        max: u64,
    },
}

impl Frame {
    /// The frame's name as docs, logs and errors print it: `HELLO`, `PING`,
    /// `DIGEST_REQ`, `DIGESTS`, `FETCH`, `OBJECTS`, `DELTA`, `SNAP_BEGIN`,
    /// `SNAP_CHUNK`, `SNAP_END`, `ACK`, `NACK`, `REJECT`, `ADOPT`, `BYE`.
    pub fn name(&self) -> &'static str {
        kind_name(self.kind())
    }

    /// The frame's type byte.
    pub fn kind(&self) -> u8 {
        match self {
            Frame::Hello(_) => HELLO,
            Frame::Ping { .. } => PING,
            Frame::DigestReq { .. } => DIGEST_REQ,
            Frame::Digests { .. } => DIGESTS,
            Frame::Fetch { .. } => FETCH,
            Frame::Objects { .. } => OBJECTS,
            Frame::Delta { .. } => DELTA,
            Frame::SnapBegin { .. } => SNAP_BEGIN,
            Frame::SnapChunk { .. } => SNAP_CHUNK,
            Frame::SnapEnd { .. } => SNAP_END,
            Frame::Ack { .. } => ACK,
            Frame::Nack { .. } => NACK,
            Frame::Reject { .. } => REJECT,
            Frame::Adopt { .. } => ADOPT,
            Frame::Bye { .. } => BYE,
        }
    }

    /// Appends the encoding (type, flags, body).
    pub fn encode(&self, out: &mut Vec<u8>) {
        self.write(out);
    }

    /// The encoding as a new vector.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode(&mut out);
        out
    }

    /// The length of the encoding (type and flags included), computed
    /// without encoding: a sender compares it with [`MAX_FRAME`].
    pub fn encoded_len(&self) -> usize {
        let mut c = Count::default();
        self.write(&mut c);
        c.0
    }

    fn write<S: Sink>(&self, s: &mut S) {
        s.u8(self.kind());
        s.u8(0);
        match self {
            Frame::Hello(h) => {
                s.str(&h.unit);
                s.u8(role_byte(h.role));
                s.u8(mode_byte(h.mode));
                s.str(&h.software);
                s.u8(h.proto_major);
                s.u8(h.proto_minor_min);
                s.u8(h.proto_minor_max);
                s.u16(h.schema);
                s.u32(h.capabilities);
                s.u64(h.epoch);
                s.u64(h.generation);
                s.digest(&h.root);
                s.u64(h.boot);
            }
            Frame::Ping {
                epoch,
                generation,
                root,
            }
            | Frame::Ack {
                epoch,
                generation,
                root,
            }
            | Frame::Nack {
                epoch,
                generation,
                root,
            }
            | Frame::Adopt {
                epoch,
                generation,
                root,
            } => {
                s.u64(*epoch);
                s.u64(*generation);
                s.digest(root);
            }
            Frame::DigestReq { section, after } => {
                s.str(section);
                s.str(after);
            }
            Frame::Digests {
                section,
                entries,
                more,
            } => {
                s.str(section);
                s.count(entries.len());
                for (name, d) in entries {
                    s.str(name);
                    s.digest(d);
                }
                s.flag(*more);
            }
            Frame::Fetch { keys } => {
                s.count(keys.len());
                for k in keys {
                    s.key(k);
                }
            }
            Frame::Objects { entries, last } => {
                s.count(entries.len());
                for e in entries {
                    s.entry(e);
                }
                s.flag(*last);
            }
            Frame::Delta {
                epoch,
                base_generation,
                base_root,
                generation,
                root,
                ops,
            } => {
                s.u64(*epoch);
                s.u64(*base_generation);
                s.digest(base_root);
                s.u64(*generation);
                s.digest(root);
                s.count(ops.len());
                for op in ops {
                    s.op(op);
                }
            }
            Frame::SnapBegin {
                epoch,
                generation,
                len,
                root,
            } => {
                s.u64(*epoch);
                s.u64(*generation);
                s.u64(*len);
                s.digest(root);
            }
            Frame::SnapChunk { offset, data } => {
                s.u64(*offset);
                s.count(data.len());
                s.put(data);
            }
            Frame::SnapEnd { sha256 } => s.digest(sha256),
            Frame::Reject {
                generation,
                code,
                path,
                text,
            } => {
                s.u64(*generation);
                s.u16(code.code());
                s.str(path);
                s.str(text);
            }
            Frame::Bye { reason } => s.str(reason),
        }
    }

    /// Decodes one whole frame.
    pub fn decode(bytes: &[u8], limits: &FrameLimits) -> Result<Frame, FrameError> {
        let (kind, flags) = match bytes {
            [kind, flags, ..] => (*kind, *flags),
            _ => return Err(FrameError::Short),
        };
        let name = match kind {
            HELLO..=BYE => kind_name(kind),
            _ => return Err(FrameError::UnknownType(kind)),
        };
        if flags != 0 {
            return Err(FrameError::Flags { kind, flags });
        }
        let mut r = Reader::new(bytes, 2, name);
        let frame = match kind {
            HELLO => {
                let unit = r.str()?;
                let role = role_from(&mut r)?;
                let mode = mode_from(&mut r)?;
                Frame::Hello(Hello {
                    unit,
                    role,
                    mode,
                    software: r.str()?,
                    proto_major: r.u8()?,
                    proto_minor_min: r.u8()?,
                    proto_minor_max: r.u8()?,
                    schema: r.u16()?,
                    capabilities: r.u32()?,
                    epoch: r.u64()?,
                    generation: r.u64()?,
                    root: r.digest()?,
                    boot: r.u64()?,
                })
            }
            PING | ACK | NACK | ADOPT => {
                let epoch = r.u64()?;
                let generation = r.u64()?;
                let root = r.digest()?;
                match kind {
                    PING => Frame::Ping {
                        epoch,
                        generation,
                        root,
                    },
                    ACK => Frame::Ack {
                        epoch,
                        generation,
                        root,
                    },
                    NACK => Frame::Nack {
                        epoch,
                        generation,
                        root,
                    },
                    _ => Frame::Adopt {
                        epoch,
                        generation,
                        root,
                    },
                }
            }
            DIGEST_REQ => Frame::DigestReq {
                section: r.str()?,
                after: r.str()?,
            },
            DIGESTS => Frame::Digests {
                section: r.str()?,
                entries: r.list(|r| Ok((r.str()?, r.digest()?)))?,
                more: r.flag()?,
            },
            FETCH => Frame::Fetch {
                keys: r.list(Reader::key)?,
            },
            OBJECTS => Frame::Objects {
                entries: r.list(Reader::entry)?,
                last: r.flag()?,
            },
            DELTA => Frame::Delta {
                epoch: r.u64()?,
                base_generation: r.u64()?,
                base_root: r.digest()?,
                generation: r.u64()?,
                root: r.digest()?,
                ops: r.list(Reader::op)?,
            },
            SNAP_BEGIN => {
                let epoch = r.u64()?;
                let generation = r.u64()?;
                let len = r.u64()?;
                if len > limits.max_document {
                    return Err(FrameError::Limit {
                        kind: name,
                        what: "snapshot length",
                        got: len,
                        max: limits.max_document,
                    });
                }
                Frame::SnapBegin {
                    epoch,
                    generation,
                    len,
                    root: r.digest()?,
                }
            }
            SNAP_CHUNK => {
                let offset = r.u64()?;
                let len = r.u32()?;
                if len as usize > MAX_CHUNK {
                    return Err(FrameError::Limit {
                        kind: name,
                        what: "chunk length",
                        got: u64::from(len),
                        max: MAX_CHUNK as u64,
                    });
                }
                Frame::SnapChunk {
                    offset,
                    data: r.take(len as usize)?.to_vec(),
                }
            }
            SNAP_END => Frame::SnapEnd {
                sha256: r.digest()?,
            },
            REJECT => Frame::Reject {
                generation: r.u64()?,
                code: RejectCode::from_code(r.u16()?),
                path: r.str()?,
                text: r.str()?,
            },
            _ => Frame::Bye { reason: r.str()? },
        };
        r.finish()?;
        Ok(frame)
    }
}

const HELLO: u8 = 0x01;
const PING: u8 = 0x02;
const DIGEST_REQ: u8 = 0x03;
const DIGESTS: u8 = 0x04;
const FETCH: u8 = 0x05;
const OBJECTS: u8 = 0x06;
const DELTA: u8 = 0x07;
const SNAP_BEGIN: u8 = 0x08;
const SNAP_CHUNK: u8 = 0x09;
const SNAP_END: u8 = 0x0a;
const ACK: u8 = 0x0b;
const NACK: u8 = 0x0c;
const REJECT: u8 = 0x0d;
const ADOPT: u8 = 0x0e;
const BYE: u8 = 0x0f;

/// The name of a known type byte.
fn kind_name(kind: u8) -> &'static str {
    match kind {
        HELLO => "HELLO",
        PING => "PING",
        DIGEST_REQ => "DIGEST_REQ",
        DIGESTS => "DIGESTS",
        FETCH => "FETCH",
        OBJECTS => "OBJECTS",
        DELTA => "DELTA",
        SNAP_BEGIN => "SNAP_BEGIN",
        SNAP_CHUNK => "SNAP_CHUNK",
        SNAP_END => "SNAP_END",
        ACK => "ACK",
        NACK => "NACK",
        REJECT => "REJECT",
        ADOPT => "ADOPT",
        _ => "BYE",
    }
}
