//! The configuration document: sections of objects of fields.
//!
//! An object is addressed by an [`ObjectKey`]: its section (`instance`,
//! `sync_group`, `global`, `health`, `app.<kind>`, `unit.<id>`) and its id
//! within the section (an instance's name, a virtual service's name; empty
//! for a section's one object, as `global`). An object is a map of field
//! names to [`Value`]s. Order is never a list position between objects:
//! an object that needs one carries an explicit field.
//!
//! A change is a list of [`Op`]s; [`Document::apply`] applies all of them
//! or none.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Bound;

use crate::value::Value;

mod codec;
mod path;
#[cfg(test)]
pub(crate) mod tests;

pub use codec::{DocDecodeError, DocStream, StreamError};

/// The longest section, id or field name, in bytes.
pub const MAX_NAME_LEN: usize = 255;

/// Where an object lives.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    /// The section: `instance`, `global`, `app.vs`, `unit.b`, ...
    pub section: String,
    /// The object's id in its section; empty for a section's only object.
    pub id: String,
}

impl ObjectKey {
    /// A key from its parts.
    pub fn new(section: impl Into<String>, id: impl Into<String>) -> Self {
        ObjectKey {
            section: section.into(),
            id: id.into(),
        }
    }
}

/// `section` for an id-less object; `section."id"` when the id has a dot,
/// a quote, a backslash, white space or a control character (a quote or
/// a backslash inside is written `\"`, `\\`); else `section.id`: the form
/// `sync diff`, errors and events print, and the one
/// [`ObjectKey::parse_path`] reads back with a field.
impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.section)?;
        if !self.id.is_empty() {
            f.write_str(".")?;
            path::write_segment(f, &self.id)?;
        }
        Ok(())
    }
}

/// Why a path does not name a field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("path {path:?}: {why}")]
pub struct PathError {
    /// The path as given.
    pub path: String,
    /// What is wrong with it.
    pub why: &'static str,
}

impl ObjectKey {
    /// Reads a field's path, as `config get/set` take it: the section
    /// (one segment; two for `app.<kind>`; `unit.<id>.` then a section for
    /// a per-unit overlay, as `unit.b.instance`), then the id if the
    /// section's objects have one, then the field: `global.restart_guard`,
    /// `instance.web.vrid`, `app.vs.web1.port`, `unit.b.instance.web.interface`.
    /// After the section, one segment left is a field of the id-less
    /// object, two are id and field. A segment with a dot is quoted:
    /// `instance."a.b".vrid`. Returns the key and the field name.
    ///
    /// A quoted segment writes a quote as `\"` and a backslash as `\\`.
    /// Section segments are never quoted and are made of `[a-z0-9_-]`.
    /// The names are checked as [`Document::apply`] checks them.
    pub fn parse_path(path: &str) -> Result<(ObjectKey, String), PathError> {
        path::parse(path).map_err(|why| PathError {
            path: path.to_owned(),
            why,
        })
    }

    /// The path of one of its fields, as [`ObjectKey::parse_path`] reads
    /// it back (`instance.web.vrid`, `instance."a.b".vrid`, `global.restart_guard`).
    pub fn path(&self, field: &str) -> String {
        let mut out = self.to_string();
        out.push('.');
        // Writing into a String cannot fail.
        let _ = path::write_segment(&mut out, field);
        out
    }
}

/// One object: its fields.
pub type Object = BTreeMap<String, Value>;

/// One operation of a change.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// Set one field (creating the object if needed).
    Set {
        /// The object.
        key: ObjectKey,
        /// The field.
        field: String,
        /// The new value.
        value: Value,
    },
    /// Remove one field (the object goes when its last field does).
    Remove {
        /// The object.
        key: ObjectKey,
        /// The field.
        field: String,
    },
    /// Remove a whole object.
    RemoveObject {
        /// The object.
        key: ObjectKey,
    },
}

impl Op {
    /// The object it touches.
    pub fn key(&self) -> &ObjectKey {
        match self {
            Op::Set { key, .. } | Op::Remove { key, .. } | Op::RemoveObject { key } => key,
        }
    }
}

/// Why a change cannot be applied.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DocError {
    /// A float that is NaN or infinite.
    #[error("{key}.{field}: a float must be finite")]
    NotFinite {
        /// The object.
        key: ObjectKey,
        /// The field.
        field: String,
    },
    /// An empty or over-long section, id or field name.
    #[error("{what}: {why}")]
    BadName {
        /// The name as given.
        what: String,
        /// What is wrong.
        why: &'static str,
    },
}

/// The whole document.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Document {
    objects: BTreeMap<ObjectKey, Object>,
}

impl Document {
    /// An empty document.
    pub fn new() -> Self {
        Document::default()
    }

    /// Every object, in key order.
    pub fn objects(&self) -> &BTreeMap<ObjectKey, Object> {
        &self.objects
    }

    /// One object.
    pub fn object(&self, key: &ObjectKey) -> Option<&Object> {
        self.objects.get(key)
    }

    /// One field.
    pub fn get(&self, key: &ObjectKey, field: &str) -> Option<&Value> {
        self.objects.get(key)?.get(field)
    }

    /// Sets one field (see [`Op::Set`]); refuses a non-finite float or a bad name.
    pub fn set(
        &mut self,
        key: ObjectKey,
        field: impl Into<String>,
        value: Value,
    ) -> Result<(), DocError> {
        self.apply(&[Op::Set {
            key,
            field: field.into(),
            value,
        }])
    }

    /// Replaces (or with `None` removes) a whole object.
    pub fn put_object(&mut self, key: ObjectKey, object: Option<Object>) {
        match object {
            Some(o) if !o.is_empty() => {
                self.objects.insert(key, o);
            }
            _ => {
                self.objects.remove(&key);
            }
        }
    }

    /// Applies every op, or none if one is invalid: every op is checked
    /// first (floats finite, see [`Value::is_valid`]; section, id and field
    /// names as [`check_section`], [`check_id`] and [`check_field`] want
    /// them), then all are applied in order. Removing a field or an object
    /// that is not there does nothing; an object goes when its last field
    /// does.
    pub fn apply(&mut self, ops: &[Op]) -> Result<(), DocError> {
        for op in ops {
            check_op(op)?;
        }
        for op in ops {
            match op {
                Op::Set { key, field, value } => {
                    self.objects
                        .entry(key.clone())
                        .or_default()
                        .insert(field.clone(), value.clone());
                }
                Op::Remove { key, field } => {
                    if let Some(object) = self.objects.get_mut(key) {
                        object.remove(field);
                        if object.is_empty() {
                            self.objects.remove(key);
                        }
                    }
                }
                Op::RemoveObject { key } => {
                    self.objects.remove(key);
                }
            }
        }
        Ok(())
    }

    /// The ops that turn `self` into `other`, object by object, field by
    /// field, in key order: [`Op::RemoveObject`] for an object `other`
    /// lacks, [`Op::Set`] for a field new or changed in `other`,
    /// [`Op::Remove`] for a field `other` lacks. Equal documents give none.
    pub fn diff(&self, other: &Document) -> Vec<Op> {
        let mut ops = Vec::new();
        let mut mine = self.objects.iter().peekable();
        let mut theirs = other.objects.iter().peekable();
        loop {
            match (mine.peek(), theirs.peek()) {
                (None, None) => break,
                (Some((key, _)), None) => {
                    ops.push(Op::RemoveObject {
                        key: (*key).clone(),
                    });
                    mine.next();
                }
                (None, Some((key, object))) => {
                    diff_object(key, &Object::new(), object, &mut ops);
                    theirs.next();
                }
                (Some((a, old)), Some((b, new))) => match a.cmp(b) {
                    std::cmp::Ordering::Less => {
                        ops.push(Op::RemoveObject { key: (*a).clone() });
                        mine.next();
                    }
                    std::cmp::Ordering::Greater => {
                        diff_object(b, &Object::new(), new, &mut ops);
                        theirs.next();
                    }
                    std::cmp::Ordering::Equal => {
                        diff_object(b, old, new, &mut ops);
                        mine.next();
                        theirs.next();
                    }
                },
            }
        }
        ops
    }

    /// The objects a change touches (each op's key, once), in key order:
    /// what [`crate::digest::DigestTree::update`] recomputes after
    /// [`Document::apply`].
    pub fn changed_keys(ops: &[Op]) -> BTreeSet<ObjectKey> {
        ops.iter().map(|op| op.key().clone()).collect()
    }

    /// The distinct section names, in name order.
    pub fn sections(&self) -> impl Iterator<Item = &str> + '_ {
        let mut last: Option<&str> = None;
        self.objects.keys().filter_map(move |key| {
            if last == Some(key.section.as_str()) {
                None
            } else {
                last = Some(key.section.as_str());
                last
            }
        })
    }

    /// One section's objects, in id order.
    pub fn section<'a>(
        &'a self,
        section: &'a str,
    ) -> impl Iterator<Item = (&'a ObjectKey, &'a Object)> + 'a {
        let start = ObjectKey::new(section, "");
        self.objects
            .range((Bound::Included(start), Bound::Unbounded))
            .take_while(move |(key, _)| key.section == section)
    }

    /// Number of objects.
    pub fn len(&self) -> usize {
        self.objects.len()
    }

    /// Whether it has no object.
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }
}

/// The field-level ops that turn `old` into `new` (both objects of `key`).
fn diff_object(key: &ObjectKey, old: &Object, new: &Object, ops: &mut Vec<Op>) {
    let mut a = old.iter().peekable();
    let mut b = new.iter().peekable();
    loop {
        let order = match (a.peek(), b.peek()) {
            (None, None) => break,
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some((fa, _)), Some((fb, _))) => fa.cmp(fb),
        };
        match order {
            std::cmp::Ordering::Less => {
                if let Some((field, _)) = a.next() {
                    ops.push(Op::Remove {
                        key: key.clone(),
                        field: field.clone(),
                    });
                }
            }
            std::cmp::Ordering::Greater => {
                if let Some((field, value)) = b.next() {
                    ops.push(Op::Set {
                        key: key.clone(),
                        field: field.clone(),
                        value: value.clone(),
                    });
                }
            }
            std::cmp::Ordering::Equal => {
                if let (Some((_, va)), Some((field, vb))) = (a.next(), b.next()) {
                    if va != vb {
                        ops.push(Op::Set {
                            key: key.clone(),
                            field: field.clone(),
                            value: vb.clone(),
                        });
                    }
                }
            }
        }
    }
}

/// Checks one op's names and value.
fn check_op(op: &Op) -> Result<(), DocError> {
    let key = op.key();
    check_key(key)?;
    match op {
        Op::Set { key, field, value } => {
            check_field(field).map_err(|why| bad_name(field, why))?;
            if !value.is_valid() {
                return Err(DocError::NotFinite {
                    key: key.clone(),
                    field: field.clone(),
                });
            }
        }
        Op::Remove { field, .. } => check_field(field).map_err(|why| bad_name(field, why))?,
        Op::RemoveObject { .. } => {}
    }
    Ok(())
}

/// Checks a key's section and id.
fn check_key(key: &ObjectKey) -> Result<(), DocError> {
    check_section(&key.section).map_err(|why| bad_name(&key.section, why))?;
    check_id(&key.id).map_err(|why| bad_name(&key.id, why))
}

fn bad_name(what: &str, why: &'static str) -> DocError {
    DocError::BadName {
        what: what.to_owned(),
        why,
    }
}

/// Whether `name` is a section name: 1 to [`MAX_NAME_LEN`] bytes, segments
/// of `[a-z0-9_-]` joined by single dots (`instance`, `app.vs`,
/// `unit.b.instance`). The error says what is wrong.
pub fn check_section(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("a section name must not be empty");
    }
    if name.len() > MAX_NAME_LEN {
        return Err("a section name must be at most 255 bytes");
    }
    for segment in name.split('.') {
        check_section_segment(segment)?;
    }
    Ok(())
}

/// One dot-free segment of a section name.
fn check_section_segment(segment: &str) -> Result<(), &'static str> {
    if segment.is_empty() {
        return Err(
            "a section name must not have an empty segment (a leading, trailing or double dot)",
        );
    }
    if !segment
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    {
        return Err("a section name is made of [a-z0-9_-] segments joined by dots");
    }
    Ok(())
}

/// Whether `id` is an object id: at most [`MAX_NAME_LEN`] bytes (empty for
/// a section's only object).
pub fn check_id(id: &str) -> Result<(), &'static str> {
    if id.len() > MAX_NAME_LEN {
        return Err("an object id must be at most 255 bytes");
    }
    Ok(())
}

/// Whether `name` is a field name: 1 to [`MAX_NAME_LEN`] bytes.
pub fn check_field(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("a field name must not be empty");
    }
    if name.len() > MAX_NAME_LEN {
        return Err("a field name must be at most 255 bytes");
    }
    Ok(())
}
