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

use std::collections::BTreeMap;

use crate::doc::{Document, Object, ObjectKey};

/// A SHA-256 digest.
pub type Digest = [u8; 32];

/// The digest of one object.
pub fn object_digest(key: &ObjectKey, object: &Object) -> Digest {
    let _ = (key, object);
    todo!()
}

/// Digests of a document, per object, per section and the root, updated
/// incrementally: [`DigestTree::update`] recomputes only the objects named
/// and their sections.
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
        let _ = (schema_version, doc);
        todo!()
    }

    /// Recomputes the digests of the objects `changed` (present in `doc`
    /// or gone from it), their sections and the root.
    pub fn update<'a>(&mut self, doc: &Document, changed: impl IntoIterator<Item = &'a ObjectKey>) {
        let _ = (doc, changed);
        todo!()
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
        let _ = (section, after);
        self.objects.iter().take(0)
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
