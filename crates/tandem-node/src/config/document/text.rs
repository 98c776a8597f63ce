//! The configuration file's text as a [`Document`], and a document as
//! the file's text.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::ops::Range;

use serde::Deserialize;
use tandem_config_sync::doc::{Document, Object, ObjectKey};
use tandem_config_sync::value::Value;
use toml::Spanned;

use crate::config::build::{app_kind, unit_id_error, value_problem, Src};
use crate::config::error::{At, ConfigError, Problem};

/// The file as a document reads it: each section a table of any fields
/// (the fields are checked by the file's own parse, not here).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DocFile {
    global: Option<Spanned<toml::Table>>,
    health: Option<Spanned<toml::Table>>,
    sync: Option<Spanned<toml::Table>>,
    replication: Option<Spanned<toml::Table>>,
    cloud: Option<Spanned<toml::Table>>,
    instance: Option<Vec<Spanned<toml::Table>>>,
    sync_group: Option<Vec<Spanned<toml::Table>>>,
    check: Option<Vec<Spanned<toml::Table>>>,
    unit: Option<BTreeMap<String, Spanned<DocUnit>>>,
    app: Option<BTreeMap<String, BTreeMap<String, Spanned<toml::Table>>>>,
}

/// `[unit.<id>]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DocUnit {
    instance: Option<BTreeMap<String, Spanned<toml::Table>>>,
}

/// The first line of a rendered file.
pub(super) const HEADER: &str =
    "# written by tandemd config sync; local settings are this unit's own (docs/config-sync.md)";

/// Sections rendered with a single object and no id, in this order.
const SINGLE: [&str; 5] = ["global", "health", "sync", "replication", "cloud"];

/// Sections rendered as arrays of tables, the id as `name`.
const NAMED: [&str; 3] = ["instance", "sync_group", "check"];

/// Reads the file's text (see [`super::document`]).
pub(super) fn read(text: &str) -> Result<Document, ConfigError> {
    read_in(text, Src::new(text, None, false))
}

/// [`read`] of a text that is not the file (some objects of it rendered
/// on their own): errors have no line, which would not be the file's.
pub(super) fn read_unlocated(text: &str) -> Result<Document, ConfigError> {
    read_in(text, Src::new("", None, false))
}

/// The objects `keys` of `doc` (those it has) as a document of their own.
pub(super) fn objects(doc: &Document, keys: &[ObjectKey]) -> Document {
    let mut some = Document::new();
    for key in keys {
        some.put_object(key.clone(), doc.object(key).cloned());
    }
    some
}

fn read_in(text: &str, src: Src<'_>) -> Result<Document, ConfigError> {
    let file: DocFile = toml::from_str(text).map_err(|e| ConfigError::Toml {
        location: e.span().and_then(|s| src.loc(s)),
        message: e.message().trim_end().to_string(),
    })?;
    let mut doc = Document::new();
    let mut add = |key: ObjectKey, table: &Spanned<toml::Table>, base: &str, skip: Option<&str>| {
        for (field, value) in table.get_ref() {
            if Some(field.as_str()) == skip {
                continue;
            }
            let err = |problem| invalid(&src, table.span(), format!("{base}.{field}"), problem);
            let value = to_value(value).map_err(err)?;
            doc.set(key.clone(), field.clone(), value)
                .map_err(|e| err(Problem::Doc(e)))?;
        }
        Ok::<(), ConfigError>(())
    };
    for (section, table) in [
        ("global", &file.global),
        ("health", &file.health),
        ("sync", &file.sync),
        ("replication", &file.replication),
        ("cloud", &file.cloud),
    ] {
        if let Some(t) = table {
            add(ObjectKey::new(section, ""), t, section, None)?;
        }
    }
    for (section, list) in [
        ("instance", file.instance.unwrap_or_default()),
        ("sync_group", file.sync_group.unwrap_or_default()),
        ("check", file.check.unwrap_or_default()),
    ] {
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for (i, t) in list.iter().enumerate() {
            let Some(toml::Value::String(name)) = t.get_ref().get("name") else {
                let at = format!("{section}[{i}].name");
                return Err(invalid(&src, t.span(), at, Problem::Unnamed));
            };
            let base = format!("{section} {name:?}");
            if let Some(first) = seen.insert(name.clone(), i) {
                let problem = Problem::DuplicateName {
                    name: name.clone(),
                    first: format!("{section}[{first}]"),
                };
                return Err(invalid(&src, t.span(), format!("{base}.name"), problem));
            }
            add(
                ObjectKey::new(section, name.clone()),
                t,
                &base,
                Some("name"),
            )?;
        }
    }
    for (unit, overlays) in file.unit.unwrap_or_default() {
        if unit_id_error(&unit).is_some() {
            let problem = Problem::OverlayUnitId(unit.clone());
            return Err(invalid(
                &src,
                overlays.span(),
                format!("unit.{unit}"),
                problem,
            ));
        }
        let section = format!("unit.{unit}.instance");
        for (name, t) in overlays.into_inner().instance.unwrap_or_default() {
            let base = format!("unit.{unit}.instance {name:?}");
            add(ObjectKey::new(section.clone(), name), &t, &base, None)?;
        }
    }
    for (kind, objects) in file.app.unwrap_or_default() {
        if let Err(why) = app_kind(&kind) {
            let span = objects.values().next().map_or(0..0, |o| o.span());
            let problem = Problem::AppName {
                name: kind.clone(),
                why,
            };
            return Err(invalid(&src, span, format!("app.{kind}"), problem));
        }
        let section = format!("app.{kind}");
        for (id, t) in objects {
            let base = format!("app.{kind}.{id:?}");
            add(ObjectKey::new(section.clone(), id), &t, &base, None)?;
        }
    }
    Ok(doc)
}

fn invalid(src: &Src<'_>, span: Range<usize>, field: String, problem: Problem) -> ConfigError {
    ConfigError::Invalid {
        at: At {
            location: src.loc(span),
            field,
        },
        problem: Box::new(problem),
    }
}

/// A TOML value as a document's: a datetime becomes its TOML text.
pub(super) fn to_value(v: &toml::Value) -> Result<Value, Problem> {
    if let Some(p) = value_problem(v, 0) {
        return Err(p);
    }
    Ok(convert(v))
}

fn convert(v: &toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::Str(s.clone()),
        toml::Value::Integer(i) => Value::Int(*i),
        toml::Value::Float(f) => Value::Float(*f),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::Str(d.to_string()),
        toml::Value::Array(a) => Value::List(a.iter().map(convert).collect()),
        toml::Value::Table(t) => {
            Value::Table(t.iter().map(|(k, v)| (k.clone(), convert(v))).collect())
        }
    }
}

/// The document as the file's text (see [`super::render`]).
pub(super) fn write(doc: &Document) -> String {
    write_objects(doc.len(), doc.objects().iter())
}

/// [`write`] of `doc` with the objects of `patch` (in key order, each key
/// once) replacing its own (`None`: without it), `doc` itself untouched.
pub(super) fn write_patched(doc: &Document, patch: &[(ObjectKey, Option<Object>)]) -> String {
    let mut patch = patch.iter().peekable();
    let mut merged: Vec<(&ObjectKey, &Object)> = Vec::with_capacity(doc.len() + patch.len());
    for (k, o) in doc.objects() {
        let mut replaced = false;
        while let Some((pk, po)) = patch.next_if(|(pk, _)| pk <= k) {
            replaced |= pk == k;
            if let Some(po) = po {
                merged.push((pk, po));
            }
        }
        if !replaced {
            merged.push((k, o));
        }
    }
    for (pk, po) in patch {
        if let Some(po) = po {
            merged.push((pk, po));
        }
    }
    write_objects(merged.len(), merged.into_iter())
}

/// The text of these objects, given in key order.
fn write_objects<'a>(
    count: usize,
    objects: impl Iterator<Item = (&'a ObjectKey, &'a Object)>,
) -> String {
    // About what a virtual service of a few fields takes: one allocation
    // for most files.
    let mut out = String::with_capacity(HEADER.len() + 1 + count.saturating_mul(128));
    out.push_str(HEADER);
    out.push('\n');
    const NAMED_FIRST: u8 = SINGLE.len() as u8;
    const NAMED_END: u8 = NAMED_FIRST + NAMED.len() as u8;
    let rank = |key: &ObjectKey| -> u8 {
        let s = key.section.as_str();
        if let Some(i) = SINGLE.iter().position(|x| *x == s) {
            return i as u8;
        }
        if let Some(i) = NAMED.iter().position(|x| *x == s) {
            return NAMED_FIRST + i as u8;
        }
        if s.starts_with("unit.") {
            NAMED_END
        } else if s.starts_with("app.") {
            NAMED_END + 1
        } else {
            NAMED_END + 2
        }
    };
    // Each key's rank worked out once; stable: within a rank, the
    // document's own (key) order.
    let mut keys: Vec<(u8, &ObjectKey, &Object)> = objects.map(|(k, o)| (rank(k), k, o)).collect();
    keys.sort_by_key(|(r, _, _)| *r);
    // The header of the last section written, made once per section.
    let mut header: Option<(&str, String)> = None;
    for (r, key, fields) in keys {
        out.push('\n');
        if (NAMED_FIRST..NAMED_END).contains(&r) {
            let _ = writeln!(out, "[[{}]]", key.section);
            out.push_str("name = ");
            write_str(&mut out, &key.id);
            out.push('\n');
        } else {
            if header.as_ref().is_none_or(|(s, _)| *s != key.section) {
                header = Some((&key.section, section_header(&key.section)));
            }
            out.push('[');
            if let Some((_, h)) = &header {
                out.push_str(h);
            }
            if !key.id.is_empty() || r >= NAMED_FIRST {
                out.push('.');
                write_str(&mut out, &key.id);
            }
            out.push_str("]\n");
        }
        for (field, value) in fields {
            write_key(&mut out, field);
            out.push_str(" = ");
            write_value(&mut out, value);
            out.push('\n');
        }
    }
    out
}

/// A section's dotted name as a TOML header: each segment a key.
fn section_header(section: &str) -> String {
    let mut out = String::new();
    for (i, segment) in section.split('.').enumerate() {
        if i > 0 {
            out.push('.');
        }
        write_key(&mut out, segment);
    }
    out
}

/// A key, bare when TOML allows it, else a quoted string.
fn write_key(out: &mut String, key: &str) {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        out.push_str(key);
    } else {
        write_str(out, key);
    }
}

/// A TOML basic string: quote, backslash and control characters escaped.
fn write_str(out: &mut String, s: &str) {
    out.push('"');
    // Most strings need no escape: copied whole.
    if !s.chars().any(|c| c == '"' || c == '\\' || c.is_control()) {
        out.push_str(s);
        out.push('"');
        return;
    }
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A value as a TOML value: lists as arrays, tables inline; a float
/// always with a point or an exponent, so it reads back as a float.
/// Bytes, which a file never holds, are written as a list of integers.
fn write_value(out: &mut String, v: &Value) {
    match v {
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) => write_float(out, *f),
        Value::Str(s) => write_str(out, s),
        Value::Bytes(b) => {
            out.push('[');
            for (i, byte) in b.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                let _ = write!(out, "{byte}");
            }
            out.push(']');
        }
        Value::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Table(t) => {
            if t.is_empty() {
                out.push_str("{}");
                return;
            }
            out.push_str("{ ");
            for (i, (k, item)) in t.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_key(out, k);
                out.push_str(" = ");
                write_value(out, item);
            }
            out.push_str(" }");
        }
    }
}

fn write_float(out: &mut String, f: f64) {
    if f.is_nan() {
        out.push_str("nan");
    } else if f.is_infinite() {
        out.push_str(if f > 0.0 { "inf" } else { "-inf" });
    } else {
        let text = format!("{f:?}");
        let point = text.contains(['.', 'e', 'E']);
        out.push_str(&text);
        if !point {
            out.push_str(".0");
        }
    }
}
