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
//!
//! The symbols are relative to the unit that applies the document:
//! `@self` is "my own address", `@partner` "the other unit's". With
//! several address pairs, `@self`, `@self.1`, `@self.2`... name
//! [`Addresses::own`] at index 0, 1, 2... and `@partner`, `@partner.1`...
//! [`Addresses::partner`]. Unit sections (`unit.<id>.…`) name one unit's
//! values absolutely and are never rewritten.

use std::net::IpAddr;

use crate::doc::{Document, ObjectKey};
use crate::value::Value;

#[cfg(test)]
mod tests;

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

/// Whether `name` matches `pattern`: exact, `*` (any name without a
/// dot), or `prefix*` (any name that starts with `prefix`, so `app.*`
/// covers `app.vs` and `app.vs.x`).
pub fn matches(pattern: &str, name: &str) -> bool {
    if pattern == "*" {
        return !name.contains('.');
    }
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name,
    }
}

/// The unit id and overlaid section of `unit.<id>.<rest>`; `rest` is
/// empty for `unit.<id>` itself. `None` for a section that is no overlay.
pub fn unit_overlay(section: &str) -> Option<(&str, &str)> {
    let rest = section.strip_prefix("unit.")?;
    let (unit, overlaid) = rest.split_once('.').unwrap_or((rest, ""));
    if unit.is_empty() {
        return None;
    }
    Some((unit, overlaid))
}

/// The rules of a [`Schema`] that can match the fields of one section,
/// worked out once for the section ([`Schema::section`]): a field's class
/// and whether it is rewritten then only match the field patterns.
#[derive(Debug, Clone)]
pub struct SectionClasses<'a> {
    /// The section is a unit overlay (`unit.<id>.…`).
    overlay: bool,
    /// The rules whose section pattern matches (the overlaid section for
    /// an overlay), in the schema's order.
    rules: Vec<&'a Rule>,
    /// The rewrite rules whose section pattern matches.
    rewrites: Vec<&'a RewriteRule>,
}

impl SectionClasses<'_> {
    /// The class of a field of the section: as [`Schema::class`] gives it.
    pub fn class(&self, field: &str) -> Class {
        let class = self
            .rules
            .iter()
            .find(|rule| matches(&rule.field, field))
            .map_or(Class::Shared, |rule| rule.class);
        match (self.overlay, class) {
            (false, c) => c,
            (true, Class::Local) => Class::Local,
            (true, _) => Class::Unit,
        }
    }

    /// Whether a rewrite rule names this field of the section.
    pub fn rewritten(&self, field: &str) -> bool {
        self.rewrites.iter().any(|rule| matches(&rule.field, field))
    }
}

impl Schema {
    /// The class of one field. A section `unit.<id>.…` is [`Class::Unit`]
    /// for any field whose overlaid path is not local, and [`Class::Local`]
    /// for one whose overlaid path is.
    ///
    /// Any other section takes the class of the first rule whose section
    /// and field patterns both match, or [`Class::Shared`] if none does.
    pub fn class(&self, key: &ObjectKey, field: &str) -> Class {
        self.section(&key.section).class(field)
    }

    /// The rules that can apply to the fields of `section`: for many
    /// fields of one section, [`SectionClasses::class`] gives what
    /// [`Schema::class`] does with the section patterns matched once.
    pub fn section(&self, section: &str) -> SectionClasses<'_> {
        let (overlay, ruled) = match unit_overlay(section) {
            Some((_, overlaid)) => (true, overlaid),
            None => (false, section),
        };
        SectionClasses {
            overlay,
            rules: self
                .rules
                .iter()
                .filter(|rule| matches(&rule.section, ruled))
                .collect(),
            rewrites: self
                .rewrites
                .iter()
                .filter(|rule| matches(&rule.section, section))
                .collect(),
        }
    }

    /// The shared form of `doc` (local fields dropped, addresses
    /// symbolised), as this unit sends and digests it: every
    /// [`Class::Local`] field goes, an object left with no field goes, and
    /// in a [`Class::Shared`] field a [`RewriteRule`] names, a string (or
    /// each string of a list) whose address part is `addresses.own[i]`
    /// becomes `@self` (`@self.<i>` for `i > 0`) and one that is
    /// `addresses.partner[i]` becomes `@partner` likewise, the suffix kept:
    /// `192.0.2.1/24` → `@self/24`, `192.0.2.1:80` → `@self:80`,
    /// `[2001:db8::1]:80` → `[@self]:80`. [`Class::Unit`] fields are kept
    /// as they are.
    pub fn shared_form(&self, doc: &Document, addresses: &Addresses) -> Document {
        let mut out = Document::new();
        let mut sections = Sections::new(self);
        for (key, object) in doc.objects() {
            let classes = sections.of(&key.section);
            let kept = shared_fields(classes, object, |s| symbolise(s, addresses));
            out.put_object(key.clone(), Some(kept));
        }
        out
    }

    /// The shared form of one object of `section`, as [`Schema::shared_form`]
    /// makes it (empty when no field of it is sent).
    pub fn shared_object(
        &self,
        section: &str,
        object: &crate::doc::Object,
        addresses: &Addresses,
    ) -> crate::doc::Object {
        shared_fields(&self.section(section), object, |s| symbolise(s, addresses))
    }

    /// What this unit keeps when it takes `shared` from the partner: the
    /// shared fields of `shared` (symbols resolved to this unit's
    /// addresses) and the local fields of `own`.
    ///
    /// In detail: every [`Class::Shared`] field of `shared`, where a
    /// [`RewriteRule`] names it with `@self` (`@self.<i>`) replaced by
    /// this unit's `addresses.own[i]` and `@partner` (`@partner.<i>`) by
    /// its `addresses.partner[i]`, suffix kept (so the sender's own address
    /// becomes this unit's counterpart, and this unit's address, which the
    /// sender wrote as `@partner`, comes back as itself); every
    /// [`Class::Unit`] field of `shared` as it is; every [`Class::Local`]
    /// field of `own` exactly. A `Local` field in `shared` is ignored. A
    /// symbol whose index this unit has no address for is left as written,
    /// for the receiver's validation to refuse with its path.
    pub fn adopt(&self, shared: &Document, own: &Document, addresses: &Addresses) -> Document {
        let mut out = Document::new();
        let mut sections = Sections::new(self);
        for (key, object) in shared.objects() {
            let classes = sections.of(&key.section);
            let kept = shared_fields(classes, object, |s| resolve(s, addresses));
            out.put_object(key.clone(), Some(kept));
        }
        for (key, object) in own.objects() {
            let classes = sections.of(&key.section);
            let mut locals = object
                .iter()
                .filter(|(field, _)| classes.class(field) == Class::Local)
                .peekable();
            if locals.peek().is_none() {
                continue;
            }
            let mut merged = out.object(key).cloned().unwrap_or_default();
            merged.extend(locals.map(|(field, value)| (field.clone(), value.clone())));
            out.put_object(key.clone(), Some(merged));
        }
        out
    }
}

impl Schema {
    /// One object of [`Schema::adopt`]`(shared, own, addresses)`, from the
    /// object of that key in `shared` and in `own` (`None`: it has none):
    /// the shared fields of the first, symbols resolved, and the local
    /// fields of the second; `None` when that leaves no field.
    pub fn adopt_object(
        &self,
        section: &str,
        shared: Option<&crate::doc::Object>,
        own: Option<&crate::doc::Object>,
        addresses: &Addresses,
    ) -> Option<crate::doc::Object> {
        let classes = self.section(section);
        let mut kept = match shared {
            Some(o) => shared_fields(&classes, o, |s| resolve(s, addresses)),
            None => crate::doc::Object::new(),
        };
        for (field, value) in own.into_iter().flatten() {
            if classes.class(field) == Class::Local {
                kept.insert(field.clone(), value.clone());
            }
        }
        (!kept.is_empty()).then_some(kept)
    }
}

/// The [`SectionClasses`] of the section last asked for: a document's
/// objects come in key order, so each section's are worked out once.
struct Sections<'a> {
    schema: &'a Schema,
    last: Option<(String, SectionClasses<'a>)>,
}

impl<'a> Sections<'a> {
    fn new(schema: &'a Schema) -> Self {
        Sections { schema, last: None }
    }

    fn of(&mut self, section: &str) -> &SectionClasses<'a> {
        if self.last.as_ref().is_some_and(|(s, _)| s != section) {
            self.last = None;
        }
        let schema = self.schema;
        &self
            .last
            .get_or_insert_with(|| (section.to_owned(), schema.section(section)))
            .1
    }
}

/// The shared and unit fields of `object`, rewritten fields' strings
/// mapped by `f`.
fn shared_fields(
    classes: &SectionClasses<'_>,
    object: &crate::doc::Object,
    f: impl Fn(&str) -> Option<String>,
) -> crate::doc::Object {
    let mut kept = crate::doc::Object::new();
    for (field, value) in object {
        match classes.class(field) {
            Class::Local => {}
            Class::Unit => {
                kept.insert(field.clone(), value.clone());
            }
            Class::Shared => {
                let value = if classes.rewritten(field) {
                    map_strings(value, &f)
                } else {
                    value.clone()
                };
                kept.insert(field.clone(), value);
            }
        }
    }
    kept
}

/// `value` with `f` applied to it if it is a string, or to each string of
/// it if it is a list; any other value as it is.
fn map_strings(value: &Value, f: impl Fn(&str) -> Option<String>) -> Value {
    let one = |s: &String| Value::Str(f(s).unwrap_or_else(|| s.clone()));
    match value {
        Value::Str(s) => one(s),
        Value::List(items) => Value::List(
            items
                .iter()
                .map(|item| match item {
                    Value::Str(s) => one(s),
                    other => other.clone(),
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// An address-bearing string cut into its parts.
struct AddressText<'a> {
    /// The address (or symbol), without brackets.
    address: &'a str,
    /// Whether it was written in brackets (`[2001:db8::1]:80`).
    bracketed: bool,
    /// What follows: `/24`, `:80`, or nothing.
    suffix: &'a str,
}

/// Cuts `s` into address and suffix: `[a]rest`; else up to the first `/`,
/// and in that up to a single `:` (a port; more colons are IPv6).
fn split_address(s: &str) -> AddressText<'_> {
    if let Some(inner) = s.strip_prefix('[') {
        if let Some((address, suffix)) = inner.split_once(']') {
            return AddressText {
                address,
                bracketed: true,
                suffix,
            };
        }
    }
    let (head, _) = s.split_once('/').unwrap_or((s, ""));
    let address = match head.split_once(':') {
        Some((host, port)) if !port.contains(':') => host,
        _ => head,
    };
    AddressText {
        address,
        bracketed: false,
        suffix: &s[address.len()..],
    }
}

/// Whether two address texts name the same address (as IP addresses when
/// both parse, else byte for byte).
fn same_address(a: &str, b: &str) -> bool {
    match (a.parse::<IpAddr>(), b.parse::<IpAddr>()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// The symbol for index `i` of `base` (`@self`, `@self.1`, ...).
fn symbol(base: &str, i: usize) -> String {
    if i == 0 {
        base.to_owned()
    } else {
        format!("{base}.{i}")
    }
}

/// The symbolic form of `s`, if its address part is one of this unit's
/// addresses or the partner's.
fn symbolise(s: &str, addresses: &Addresses) -> Option<String> {
    let text = split_address(s);
    if text.address.is_empty() {
        return None;
    }
    let found = |list: &[String], base: &str| {
        list.iter()
            .position(|a| same_address(a, text.address))
            .map(|i| symbol(base, i))
    };
    let sym = found(&addresses.own, "@self").or_else(|| found(&addresses.partner, "@partner"))?;
    Some(if text.bracketed {
        format!("[{sym}]{}", text.suffix)
    } else {
        format!("{sym}{}", text.suffix)
    })
}

/// Reads `@self`, `@self.<i>`, `@partner`, `@partner.<i>` (`i` ≥ 1, no
/// leading zero): which list and which index.
fn parse_symbol(text: &str) -> Option<(bool, usize)> {
    let (own, rest) = if let Some(rest) = text.strip_prefix("@self") {
        (true, rest)
    } else {
        (false, text.strip_prefix("@partner")?)
    };
    if rest.is_empty() {
        return Some((own, 0));
    }
    let digits = rest.strip_prefix('.')?;
    if digits.is_empty() || digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let i: usize = digits.parse().ok()?;
    Some((own, i))
}

/// `s` with its symbol replaced by this unit's address, if it has one
/// this unit can resolve.
fn resolve(s: &str, addresses: &Addresses) -> Option<String> {
    let (symbolic, bracketed, suffix) = if let Some(inner) = s.strip_prefix('[') {
        let (sym, suffix) = inner.split_once(']')?;
        (sym, true, suffix)
    } else {
        let end = s.find(['/', ':']).unwrap_or(s.len());
        (&s[..end], false, &s[end..])
    };
    let (own, i) = parse_symbol(symbolic)?;
    let list = if own {
        &addresses.own
    } else {
        &addresses.partner
    };
    let address = list.get(i)?;
    let bracket = address.contains(':') && (bracketed || suffix.starts_with(':'));
    Some(if bracket {
        format!("[{address}]{suffix}")
    } else {
        format!("{address}{suffix}")
    })
}
