//! Which paths are sent, which stay on the unit, which apply to one unit;
//! the shared form; and the address rewrite rules.
//!
//! A [`Schema`] is data: a list of [`Rule`]s, each a section pattern, a
//! field pattern and a [`Class`]; the first rule that matches wins and a
//! path no rule matches is [`Class::Shared`] (so a setting an appliance
//! adds is synced unless it says otherwise). Patterns are exact names, `*`
//! for any one segment-free name, or a prefix ending in `*` (`app.*`).
//!
//! The shared form of a document drops every [`Class::Local`] field and,
//! for fields a [`RewriteRule`] names, replaces this unit's own addresses
//! with `@self` and the partner's with `@partner`: both units' shared forms
//! (and so their digests) are equal although their files differ in local
//! settings and in the addresses that name each unit.

use crate::doc::{Document, ObjectKey};

/// The class of a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// Sent to the partner and applied there.
    Shared,
    /// Never sent, never overwritten: host name, interface addresses, the
    /// unit's own priority, the sync channel's own settings.
    Local,
    /// Sent, under `unit.<id>`, and applied only by the unit with that id.
    Unit,
}

impl Class {
    /// `shared`, `local` or `unit`: the name docs and `sync status` use.
    pub fn name(self) -> &'static str {
        match self {
            Class::Shared => "shared",
            Class::Local => "local",
            Class::Unit => "unit",
        }
    }
}

/// One rule of a schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Section pattern: `instance`, `app.*`, `*`.
    pub section: String,
    /// Field pattern: `priority`, `*`.
    pub field: String,
    /// The class of what matches.
    pub class: Class,
    /// Why (shown by docs and `sync status --schema`).
    pub why: &'static str,
}

/// A field whose values may name a unit's own address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RewriteRule {
    /// Section pattern.
    pub section: String,
    /// Field pattern. The field's value (a string, or a list of strings;
    /// an address with a `/prefix` or a `:port` counts by its address part)
    /// is rewritten.
    pub field: String,
}

/// The addresses that name each unit, for [`RewriteRule`]s.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Addresses {
    /// This unit's own addresses (e.g. `192.0.2.1`), in the order of the
    /// partner's counterparts.
    pub own: Vec<String>,
    /// The partner's, position for position.
    pub partner: Vec<String>,
}

/// The classes of a document's paths, and its rewrite rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schema {
    /// Its version, carried in HELLO and in the root digest.
    pub version: u16,
    /// Rules, first match wins.
    pub rules: Vec<Rule>,
    /// Rewrite rules.
    pub rewrites: Vec<RewriteRule>,
}

/// Whether `name` matches `pattern` (exact, `*`, or `prefix*`).
pub fn matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name,
    }
}

impl Schema {
    /// The class of one field. A section `unit.<id>.…` is [`Class::Unit`]
    /// for any field whose overlaid path is not local, and [`Class::Local`]
    /// for one whose overlaid path is.
    pub fn class(&self, key: &ObjectKey, field: &str) -> Class {
        let _ = (key, field);
        todo!()
    }

    /// The shared form of `doc` (local fields dropped, addresses
    /// symbolised), as this unit sends and digests it.
    pub fn shared_form(&self, doc: &Document, addresses: &Addresses) -> Document {
        let _ = (doc, addresses);
        todo!()
    }

    /// What this unit keeps when it takes `shared` from the partner: the
    /// shared fields of `shared` (symbols resolved to this unit's
    /// addresses) and the local fields of `own`.
    pub fn adopt(&self, shared: &Document, own: &Document, addresses: &Addresses) -> Document {
        let _ = (shared, own, addresses);
        todo!()
    }
}
