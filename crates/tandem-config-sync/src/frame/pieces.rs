//! The body pieces' wire codes and the public encoders of a frame's list
//! items (so a sender can measure and split long lists).

use super::codec::{Count, Reader, Sink};
use super::{FrameError, Mode, ObjectEntry, RejectCode, Role};
use crate::doc::{Object, ObjectKey, Op};
use crate::merge::Version;

pub(super) fn role_byte(r: Role) -> u8 {
    match r {
        Role::Unknown => 0,
        Role::Active => 1,
        Role::Backup => 2,
    }
}

pub(super) fn role_from(r: &mut Reader<'_>) -> Result<Role, FrameError> {
    let at = r.pos();
    match r.u8()? {
        0 => Ok(Role::Unknown),
        1 => Ok(Role::Active),
        2 => Ok(Role::Backup),
        _ => Err(r.body("unknown role", at)),
    }
}

pub(super) fn mode_byte(m: Mode) -> u8 {
    match m {
        Mode::ActiveStandby => 0,
        Mode::Bidirectional => 1,
    }
}

pub(super) fn mode_from(r: &mut Reader<'_>) -> Result<Mode, FrameError> {
    let at = r.pos();
    match r.u8()? {
        0 => Ok(Mode::ActiveStandby),
        1 => Ok(Mode::Bidirectional),
        _ => Err(r.body("unknown mode", at)),
    }
}

impl RejectCode {
    /// The code on the wire.
    pub fn code(self) -> u16 {
        match self {
            RejectCode::Invalid => 1,
            RejectCode::LocalConflict => 2,
            RejectCode::TooLarge => 3,
            RejectCode::Storage => 4,
            RejectCode::Stale => 5,
            RejectCode::Version => 6,
            RejectCode::Digest => 7,
            RejectCode::Other(n) => n,
        }
    }

    /// The code read from the wire (1..=7 are named, any other is kept).
    pub fn from_code(n: u16) -> Self {
        match n {
            1 => RejectCode::Invalid,
            2 => RejectCode::LocalConflict,
            3 => RejectCode::TooLarge,
            4 => RejectCode::Storage,
            5 => RejectCode::Stale,
            6 => RejectCode::Version,
            7 => RejectCode::Digest,
            n => RejectCode::Other(n),
        }
    }
}

/// Appends an [`ObjectKey`]: `str` section, `str` id.
pub fn encode_key(key: &ObjectKey, out: &mut Vec<u8>) {
    out.key(key);
}

/// Appends an [`Object`]: u32 field count, then (`str` name, value) in
/// name order.
pub fn encode_object(object: &Object, out: &mut Vec<u8>) {
    out.object(object);
}

/// Appends an [`Op`]: u8 kind (1 Set, 2 Remove, 3 RemoveObject), key,
/// then the field and value it has.
pub fn encode_op(op: &Op, out: &mut Vec<u8>) {
    out.op(op);
}

/// Appends a [`Version`]: the vector (u32 count, (`str` unit, u64) in unit
/// order), the u64 stamp, `str` unit.
pub fn encode_version(version: &Version, out: &mut Vec<u8>) {
    out.version(version);
}

/// Appends an [`ObjectEntry`]: key, u8 present, the object if present,
/// the version.
pub fn encode_entry(entry: &ObjectEntry, out: &mut Vec<u8>) {
    out.entry(entry);
}

/// Bytes one key takes in a FETCH.
pub fn key_len(key: &ObjectKey) -> usize {
    let mut c = Count::default();
    c.key(key);
    c.0
}

/// Bytes one op takes in a DELTA.
pub fn op_len(op: &Op) -> usize {
    let mut c = Count::default();
    c.op(op);
    c.0
}

/// Bytes one entry takes in an OBJECTS.
pub fn entry_len(entry: &ObjectEntry) -> usize {
    let mut c = Count::default();
    c.entry(entry);
    c.0
}

/// Bytes one (name, digest) entry takes in a DIGESTS.
pub fn digest_entry_len(name: &str) -> usize {
    4 + name.len() + 32
}
