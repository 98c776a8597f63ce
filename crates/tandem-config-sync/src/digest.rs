//! Object, section and root digests (SHA-256) over the canonical encoding,
//! kept up to date as the document changes.
//!
//! - object  = SHA-256("tandem-sync object v1" ‖ str(section) ‖ str(id) ‖
//!   u32 count ‖ for each field in name order: str(name) ‖ value)
//! - section = SHA-256("tandem-sync section v1" ‖ str(section) ‖ u32 count ‖
//!   for each object in id order: str(id) ‖ object digest)
//! - root    = SHA-256("tandem-sync root v1" ‖ u16 schema version ‖ u32 count ‖
//!   for each section in name order: str(section) ‖ section digest)
//!
//! where `str` is [`crate::value::encode_str`] (u32 length + UTF-8). An
//! empty document's root is the root of zero sections. The golden vectors
//! in this module's tests pin every one.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use sha2::{Digest as _, Sha256};

use crate::doc::{Document, Object, ObjectKey};

#[cfg(test)]
mod tests;

/// A SHA-256 digest.
pub type Digest = [u8; 32];

/// Domain separation of an object digest.
const OBJECT_DOMAIN: &[u8] = b"tandem-sync object v1";
/// Domain separation of a section digest.
const SECTION_DOMAIN: &[u8] = b"tandem-sync section v1";
/// Domain separation of the root digest.
const ROOT_DOMAIN: &[u8] = b"tandem-sync root v1";

/// Feeds `str(s)`: u32 big-endian length, then the UTF-8 bytes.
fn hash_str(h: &mut Sha256, s: &str) {
    h.update((s.len() as u32).to_be_bytes());
    h.update(s.as_bytes());
}

/// The digest of one object.
pub fn object_digest(key: &ObjectKey, object: &Object) -> Digest {
    let mut h = Sha256::new();
    h.update(OBJECT_DOMAIN);
    hash_str(&mut h, &key.section);
    hash_str(&mut h, &key.id);
    h.update((object.len() as u32).to_be_bytes());
    let mut value = Vec::new();
    for (name, v) in object {
        hash_str(&mut h, name);
        value.clear();
        v.encode(&mut value);
        h.update(&value);
    }
    h.finalize().into()
}

/// The digest of one section from its objects' (id, digest) in id order.
fn section_digest<'a>(
    section: &str,
    objects: impl ExactSizeIterator<Item = (&'a str, &'a Digest)>,
) -> Digest {
    let mut h = Sha256::new();
    h.update(SECTION_DOMAIN);
    hash_str(&mut h, section);
    h.update((objects.len() as u32).to_be_bytes());
    for (id, digest) in objects {
        hash_str(&mut h, id);
        h.update(digest);
    }
    h.finalize().into()
}

/// The root digest from every section's digest in name order.
fn root_digest(schema_version: u16, sections: &BTreeMap<String, Digest>) -> Digest {
    let mut h = Sha256::new();
    h.update(ROOT_DOMAIN);
    h.update(schema_version.to_be_bytes());
    h.update((sections.len() as u32).to_be_bytes());
    for (section, digest) in sections {
        hash_str(&mut h, section);
        h.update(digest);
    }
    h.finalize().into()
}

/// The root digest of `doc` under schema version `schema_version` (what
/// [`DigestTree::new`] then [`DigestTree::root`] give).
pub fn root_of(schema_version: u16, doc: &Document) -> Digest {
    DigestTree::new(schema_version, doc).root()
}

/// The range of `objects` that holds `section`'s objects after `after`.
fn section_range<'a, V>(
    objects: &'a BTreeMap<ObjectKey, V>,
    section: &'a str,
    after: Option<&str>,
) -> impl Iterator<Item = (&'a ObjectKey, &'a V)> + 'a {
    let start = match after {
        Some(id) => Bound::Excluded(ObjectKey::new(section, id)),
        None => Bound::Included(ObjectKey::new(section, "")),
    };
    objects
        .range((start, Bound::Unbounded))
        .take_while(move |(key, _)| key.section == section)
}

/// Digests of a document, per object, per section and the root, updated
/// incrementally: [`DigestTree::update`] recomputes only the objects named
/// and their sections.
///
/// Object digests are kept in one map ordered by (section, id), so one
/// section's objects are a contiguous range of it: recomputing a section
/// and [`DigestTree::objects_in`] are range queries.
#[derive(Debug, Clone, PartialEq)]
pub struct DigestTree {
    schema_version: u16,
    objects: BTreeMap<ObjectKey, Digest>,
    sections: BTreeMap<String, Digest>,
    root: Digest,
}

impl DigestTree {
    /// Computes every digest of `doc`.
    pub fn new(schema_version: u16, doc: &Document) -> Self {
        let objects: BTreeMap<ObjectKey, Digest> = doc
            .objects()
            .iter()
            .map(|(key, object)| (key.clone(), object_digest(key, object)))
            .collect();
        let mut tree = DigestTree {
            schema_version,
            objects,
            sections: BTreeMap::new(),
            root: [0; 32],
        };
        for section in doc.sections() {
            tree.recompute_section(section);
        }
        tree.root = root_digest(schema_version, &tree.sections);
        tree
    }

    /// Recomputes the digests of the objects `changed` (present in `doc`
    /// or gone from it), their sections and the root. Objects not named
    /// keep their digests even if `doc` changed them: name every key a
    /// change touched ([`Document::changed_keys`]).
    pub fn update<'a>(&mut self, doc: &Document, changed: impl IntoIterator<Item = &'a ObjectKey>) {
        let mut sections = BTreeSet::new();
        for key in changed {
            match doc.object(key) {
                Some(object) => {
                    self.objects.insert(key.clone(), object_digest(key, object));
                }
                None => {
                    self.objects.remove(key);
                }
            }
            sections.insert(key.section.as_str());
        }
        if sections.is_empty() {
            return;
        }
        for section in sections {
            self.recompute_section(section);
        }
        self.root = root_digest(self.schema_version, &self.sections);
    }

    /// Recomputes one section's digest from its objects' digests (and
    /// drops it if it has none).
    fn recompute_section(&mut self, section: &str) {
        let ids: Vec<(&str, &Digest)> = section_range(&self.objects, section, None)
            .map(|(key, digest)| (key.id.as_str(), digest))
            .collect();
        if ids.is_empty() {
            self.sections.remove(section);
        } else {
            let digest = section_digest(section, ids.into_iter());
            self.sections.insert(section.to_owned(), digest);
        }
    }

    /// The schema version the root digest binds.
    pub fn schema_version(&self) -> u16 {
        self.schema_version
    }

    /// The root digest.
    pub fn root(&self) -> Digest {
        self.root
    }

    /// Every section's digest, in name order.
    pub fn sections(&self) -> &BTreeMap<String, Digest> {
        &self.sections
    }

    /// The digests of one section's objects, in id order, starting after
    /// `after` (exclusive; `None`: from the first).
    pub fn objects_in<'a>(
        &'a self,
        section: &'a str,
        after: Option<&'a str>,
    ) -> impl Iterator<Item = (&'a ObjectKey, &'a Digest)> + 'a {
        section_range(&self.objects, section, after)
    }

    /// One object's digest.
    pub fn object(&self, key: &ObjectKey) -> Option<&Digest> {
        self.objects.get(key)
    }
}

/// Lower-case hex of a digest (for status, logs and `sync diff`).
pub fn hex(d: &Digest) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}
