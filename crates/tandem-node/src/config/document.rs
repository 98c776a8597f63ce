//! tandemd's configuration file as a configuration-sync document
//! (docs/config-sync.md): the class of each of its settings, the file's
//! text as a [`Document`] and back, the shared form a unit sends, the
//! adoption of the partner's document in this unit's own local context,
//! and the field edits of `tandemd config get/set/unset`.
//!
//! The objects of a file: `[global]`, `[health]` and `[sync]` are
//! `("global", "")`, `("health", "")` and `("sync", "")`; each
//! `[[instance]]` is `("instance", NAME)` and each `[[sync_group]]`
//! `("sync_group", NAME)` with every field but `name`; an overlay
//! `[unit.U.instance.N]` is `("unit.U.instance", N)`; an appliance's
//! `[app.K.I]` is `("app.K", I)`. TOML values map to [`Value`]s one to
//! one, but a datetime, which becomes the string of its TOML text.

mod rules;
mod text;

use rules::RULES;

use tandem_config_sync::doc::{Document, Object, ObjectKey, Op};
use tandem_config_sync::frame::RejectCode;
use tandem_config_sync::schema::{Addresses, Class, RewriteRule, Rule, Schema};
use tandem_config_sync::value::Value;

use super::build::{self, DEFAULT_MAX_DOCUMENT};
use super::error::{At, ConfigError, Problem};
use super::{DaemonConfig, SyncConfig, MAX_CONFIG_BYTES};

/// The version of [`schema`]: carried in HELLO and in the root digest.
pub const SCHEMA_VERSION: u16 = 1;

/// tandemd's class table, with the built-in rewrite only
/// ([`schema_for`] without a `[sync]` section).
pub fn schema() -> Schema {
    schema_for(None)
}

/// tandemd's class table (first match wins, a path no rule matches is
/// shared), version [`SCHEMA_VERSION`]. The rewrites: an instance's
/// `unicast_peers` (the partner's address is sent as `@partner`), and
/// each `[sync] rewrite` pattern of `sync`.
pub fn schema_for(sync: Option<&SyncConfig>) -> Schema {
    let rules = RULES
        .iter()
        .map(|&(section, field, class, why)| Rule {
            section: section.to_string(),
            field: field.to_string(),
            class,
            why,
        })
        .collect();
    let mut rewrites = vec![RewriteRule {
        section: "instance".to_string(),
        field: "unicast_peers".to_string(),
    }];
    for (section, field) in sync.map_or(&[][..], |s| s.rewrite.as_slice()) {
        rewrites.push(RewriteRule {
            section: section.clone(),
            field: field.clone(),
        });
    }
    Schema {
        version: SCHEMA_VERSION,
        rules,
        rewrites,
    }
}

/// The file's text as a document (the module docs give the objects).
/// Only the shape is checked here, not the settings: a syntax error, an
/// unknown section, an instance or sync group without a `name` or with a
/// name used twice, a float that is not finite, or a name the document
/// cannot hold is an error.
pub fn document(text: &str) -> Result<Document, ConfigError> {
    text::read(text)
}

/// The document as a configuration file: a header comment, then
/// `[global]`, `[health]`, `[sync]`, each `[[instance]]` (`name` first,
/// then its fields in name order), each `[[sync_group]]`, the overlays
/// `[unit.U.instance."N"]`, the appliance's `[app.K."I"]`, each in key
/// order. Deterministic; `document(&render(&d)) == d` for every `d` that
/// [`document`] gives. A value of bytes, which no file gives, is written
/// as a list of integers.
pub fn render(doc: &Document) -> String {
    text::write(doc)
}

/// The address pairs of `[sync] addresses` as the schema takes them.
pub fn addresses(sync: Option<&SyncConfig>) -> Addresses {
    let pairs = sync.map_or(&[][..], |s| s.addresses.as_slice());
    Addresses {
        own: pairs.iter().map(|(own, _)| own.clone()).collect(),
        partner: pairs.iter().map(|(_, partner)| partner.clone()).collect(),
    }
}

/// The shared form of the file's text: what this unit sends and digests
/// (local fields dropped, the addresses of `[sync] addresses` and the
/// rewrite rules symbolised).
pub fn shared(text: &str, sync: Option<&SyncConfig>) -> Result<Document, ConfigError> {
    Ok(shared_doc(&document(text)?, sync))
}

/// [`shared`] of the file's document.
pub fn shared_doc(doc: &Document, sync: Option<&SyncConfig>) -> Document {
    schema_for(sync).shared_form(doc, &addresses(sync))
}

/// Whether every one of `keys` is an object of `[app]` (`app.<kind>`): a
/// change of only these leaves tandemd's own settings, the
/// [`DaemonConfig`], as they were.
pub fn app_only<'a>(keys: impl IntoIterator<Item = &'a ObjectKey>) -> bool {
    keys.into_iter().all(|k| k.section.starts_with("app."))
}

/// Checks the `[app]` objects `keys` of `doc` (a file's document) as the
/// file's parse checks `[app]`: they are rendered on their own, read back
/// (the values must read back as they are: `Err` with the path of the
/// first that does not) and given the checks of `[app]`. The errors have
/// no line (the objects' text is not the file's).
fn check_app_objects(doc: &Document, keys: &[ObjectKey]) -> Result<(), AppCheck> {
    check_app_document(&text::objects(doc, keys))
}

/// [`check_app_objects`] of a document of just those objects.
fn check_app_document(some: &Document) -> Result<(), AppCheck> {
    let text = render(some);
    let back = text::read_unlocated(&text).map_err(AppCheck::Config)?;
    if let Some(op) = back.diff(some).first() {
        return Err(AppCheck::NoForm(op_path(op)));
    }
    build::check_app_text(&text).map_err(AppCheck::Config)
}

/// Why changed `[app]` objects fail [`check_app_objects`].
enum AppCheck {
    /// A check of the file.
    Config(ConfigError),
    /// The value at this path has no form in the file.
    NoForm(String),
}

/// The field path (or the object's, for a removed object) an op names.
fn op_path(op: &Op) -> String {
    let key = op.key();
    match op {
        Op::Set { field, .. } | Op::Remove { field, .. } => key.path(field),
        Op::RemoveObject { .. } => key.to_string(),
    }
}

fn no_form(path: String) -> AdoptError {
    AdoptError {
        code: AdoptCode::Invalid,
        text: format!("{path}: this value has no form in tandemd's configuration file"),
        path,
    }
}

/// A configuration this unit adopted from the partner's shared document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adopted {
    /// The new file's text ([`render`] of the adopted document).
    pub text: String,
    /// That text, parsed and checked as a file.
    pub config: DaemonConfig,
}

/// The partner's shared document adopted into this unit's file's
/// document ([`adopt_doc`]).
#[derive(Debug, Clone, PartialEq)]
pub struct AdoptedDoc {
    /// The new file's document.
    pub doc: Document,
    /// The new file's text ([`render`] of `doc`).
    pub text: String,
    /// The objects of the file that change, in key order.
    pub changed: Vec<ObjectKey>,
    /// `text` parsed and checked as a file; `None` when only `[app]`
    /// objects change ([`app_only`]): tandemd's settings are those of the
    /// file adopted into, and only the changed objects were checked.
    pub config: Option<DaemonConfig>,
}

/// Why a shared document cannot be adopted, as a REJECT says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdoptCode {
    /// The adopted configuration fails this unit's checks.
    Invalid,
    /// The shared document sets one of this unit's local settings.
    LocalConflict,
    /// The adopted file is larger than this unit accepts.
    TooLarge,
}

impl AdoptCode {
    /// `invalid`, `local-conflict` or `too-large`: the name logs and
    /// `sync status` use.
    pub fn name(self) -> &'static str {
        match self {
            AdoptCode::Invalid => "invalid",
            AdoptCode::LocalConflict => "local-conflict",
            AdoptCode::TooLarge => "too-large",
        }
    }

    /// The code of the REJECT frame that reports it.
    pub fn reject_code(self) -> RejectCode {
        match self {
            AdoptCode::Invalid => RejectCode::Invalid,
            AdoptCode::LocalConflict => RejectCode::LocalConflict,
            AdoptCode::TooLarge => RejectCode::TooLarge,
        }
    }
}

/// Why a shared document was not adopted: the code, the field path of
/// the first error (`instance "web".vrid`, `instance.web.priority`; empty
/// when no field is to blame) and the error's text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {text}", code.name())]
pub struct AdoptError {
    /// What kind of refusal.
    pub code: AdoptCode,
    /// The field path of the first error.
    pub path: String,
    /// The error, as the operator reads it.
    pub text: String,
}

impl AdoptError {
    /// The refusal of a configuration that fails the file's checks.
    pub fn config(e: &ConfigError) -> AdoptError {
        let path = match e {
            ConfigError::Invalid { at, .. } => at.field.clone(),
            _ => String::new(),
        };
        AdoptError {
            code: AdoptCode::Invalid,
            path,
            text: e.to_string(),
        }
    }
}

/// Takes the partner's shared document: this unit's local settings (from
/// `own_text`, its current file) and every shared field of `shared`
/// (`@self` and `@partner` resolved to this unit's addresses), rendered
/// as a file and then parsed and checked exactly as a file is: the
/// receiver checks a synced configuration in its own local context (its
/// own overlays, priorities, sync settings).
///
/// Refused with [`AdoptCode::LocalConflict`] if `shared` sets a local
/// field, [`AdoptCode::TooLarge`] if the file would be larger than
/// `[sync] max_document` (or [`MAX_CONFIG_BYTES`]), [`AdoptCode::Invalid`]
/// if it does not pass the checks.
pub fn adopt(
    own_text: &str,
    shared: &Document,
    sync: Option<&SyncConfig>,
) -> Result<Adopted, AdoptError> {
    let own = document(own_text).map_err(|e| AdoptError::config(&e))?;
    let adopted = adopt_doc(&own, shared, sync)?;
    let config = match adopted.config {
        Some(c) => c,
        // The file adopted into was text, not a checked file: all of it
        // is checked.
        None => build::parse_text(&adopted.text, None).map_err(|e| AdoptError::config(&e))?,
    };
    Ok(Adopted {
        text: adopted.text,
        config,
    })
}

/// A local field that came in the partner's shared document.
fn local_conflict(key: &ObjectKey, field: &str) -> AdoptError {
    AdoptError {
        code: AdoptCode::LocalConflict,
        path: key.path(field),
        text: format!(
            "{}: a local setting is each unit's own and is never synced",
            key.path(field)
        ),
    }
}

/// Refuses an adopted file over this unit's limit (`[sync]
/// max_document`, at most what a configuration file may be).
fn within_limit(text: &str, sync: Option<&SyncConfig>) -> Result<(), AdoptError> {
    let limit = sync
        .map_or(DEFAULT_MAX_DOCUMENT, |s| s.max_document)
        .min(MAX_CONFIG_BYTES);
    if text.len() as u64 > limit {
        return Err(AdoptError {
            code: AdoptCode::TooLarge,
            path: String::new(),
            text: format!(
                "the adopted configuration is {} bytes, more than the {limit} this unit accepts ([sync] max_document)",
                text.len()
            ),
        });
    }
    Ok(())
}

/// [`adopt`] into `own`, the document of this unit's current file, which
/// passed the file's checks (its configuration is the one running).
///
/// When every object that changes is an `[app]` object ([`app_only`]),
/// only those are checked (as the file's parse checks `[app]`, their
/// values read back as they are) and tandemd's settings are `own`'s
/// ([`AdoptedDoc::config`] is `None`): a change costs its objects, not the
/// file. Any other change is checked as a whole file, as [`adopt`] does.
/// The refusals are [`adopt`]'s.
pub fn adopt_doc(
    own: &Document,
    shared: &Document,
    sync: Option<&SyncConfig>,
) -> Result<AdoptedDoc, AdoptError> {
    let schema = schema_for(sync);
    let mut classes: Option<(&str, tandem_config_sync::schema::SectionClasses<'_>)> = None;
    for (key, fields) in shared.objects() {
        if classes.as_ref().is_none_or(|(s, _)| *s != key.section) {
            classes = Some((&key.section, schema.section(&key.section)));
        }
        let Some((_, of_section)) = &classes else {
            continue;
        };
        if let Some(field) = fields.keys().find(|f| of_section.class(f) == Class::Local) {
            return Err(local_conflict(key, field));
        }
    }
    let mut doc = schema.adopt(shared, own, &addresses(sync));
    // An object the partner removed goes, with this unit's local fields
    // of it (an instance's priority without its instance is no instance).
    let orphans: Vec<ObjectKey> = doc
        .objects()
        .keys()
        .filter(|k| !k.id.is_empty() && shared.object(k).is_none())
        .cloned()
        .collect();
    for key in orphans {
        doc.put_object(key, None);
    }
    let changed: Vec<ObjectKey> = Document::changed_keys(&own.diff(&doc))
        .into_iter()
        .collect();
    let text = render(&doc);
    within_limit(&text, sync)?;
    if app_only(&changed) {
        return match check_app_objects(&doc, &changed) {
            Ok(()) => Ok(AdoptedDoc {
                doc,
                text,
                changed,
                config: None,
            }),
            Err(AppCheck::Config(e)) => Err(AdoptError::config(&e)),
            Err(AppCheck::NoForm(path)) => Err(no_form(path)),
        };
    }
    let back = document(&text).map_err(|e| AdoptError::config(&e))?;
    if let Some(op) = back.diff(&doc).first() {
        return Err(no_form(op_path(op)));
    }
    let config = build::parse_text(&text, None).map_err(|e| AdoptError::config(&e))?;
    Ok(AdoptedDoc {
        doc,
        text,
        changed,
        config: Some(config),
    })
}

/// The partner's change of some `[app]` objects adopted into `own`: the
/// objects of the file that change, and the new text.
#[derive(Debug, Clone, PartialEq)]
pub struct AdoptedObjects {
    /// The objects that change, in key order, with their new fields
    /// (`None`: the object goes).
    pub objects: Vec<(ObjectKey, Option<Object>)>,
    /// The new file's text ([`render`] of `own` with `objects`).
    pub text: String,
}

/// [`adopt_doc`] of a change of the `[app]` objects `keys` (all
/// [`app_only`]) when `own` is already the adoption of the partner's
/// document before it: only those objects are adopted (each as
/// [`adopt_doc`] makes it), checked as the file's parse checks `[app]`,
/// and put into the text; tandemd's settings are `own`'s. The refusals
/// are [`adopt_doc`]'s, for those objects (a local field set in one of
/// them, the size of the new file, a value the file checks refuse).
pub fn adopt_objects(
    own: &Document,
    shared: &Document,
    keys: &[ObjectKey],
    sync: Option<&SyncConfig>,
) -> Result<AdoptedObjects, AdoptError> {
    let schema = schema_for(sync);
    let addresses = addresses(sync);
    let mut keys: Vec<&ObjectKey> = keys.iter().collect();
    keys.sort();
    keys.dedup();
    let mut objects = Vec::with_capacity(keys.len());
    for key in keys {
        let from = shared.object(key);
        let classes = schema.section(&key.section);
        if let Some(field) = from
            .into_iter()
            .flat_map(|o| o.keys())
            .find(|f| classes.class(f) == Class::Local)
        {
            return Err(local_conflict(key, field));
        }
        let mine = own.object(key);
        let new = match from {
            // An object the partner removed goes, local fields and all.
            None if !key.id.is_empty() => None,
            _ => schema.adopt_object(&key.section, from, mine, &addresses),
        };
        if new.as_ref() != mine {
            objects.push((key.clone(), new));
        }
    }
    let text = text::write_patched(own, &objects);
    within_limit(&text, sync)?;
    let mut some = Document::new();
    for (key, object) in &objects {
        some.put_object(key.clone(), object.clone());
    }
    match check_app_document(&some) {
        Ok(()) => Ok(AdoptedObjects { objects, text }),
        Err(AppCheck::Config(e)) => Err(AdoptError::config(&e)),
        Err(AppCheck::NoForm(path)) => Err(no_form(path)),
    }
}

/// An error of a `config get/set/unset` path or value.
fn edit_error(path: &str, problem: Problem) -> ConfigError {
    ConfigError::Invalid {
        at: At {
            location: None,
            field: path.to_string(),
        },
        problem: Box::new(problem),
    }
}

fn parse_path(path: &str) -> Result<(ObjectKey, String), ConfigError> {
    let (key, field) =
        ObjectKey::parse_path(path).map_err(|e| edit_error(path, Problem::Path(e)))?;
    if field == "name" && matches!(key.section.as_str(), "instance" | "sync_group" | "check") {
        return Err(edit_error(path, Problem::NameIsId));
    }
    Ok((key, field))
}

/// `tandemd config get KEY`: the value at `path` (as
/// [`ObjectKey::parse_path`] reads it: `instance.web.priority`,
/// `app.vs.web1.port`, `global.restart_guard`) in the file's text, `None`
/// if the file does not set it.
pub fn get(text: &str, path: &str) -> Result<Option<Value>, ConfigError> {
    get_doc(&document(text)?, path)
}

/// [`get`] in the file's document.
pub fn get_doc(doc: &Document, path: &str) -> Result<Option<Value>, ConfigError> {
    let (key, field) = parse_path(path)?;
    Ok(doc.get(&key, &field).cloned())
}

/// `tandemd config set KEY VALUE`: the new file's text with the field at
/// `path` set to `value_toml`, a TOML value as the file writes it (`150`,
/// `"eth1"`, `[1, 2]`, `true`, `{ max_starts = 3 }`). The text is
/// [`render`]ed (comments and layout are not kept) and checked as a file
/// before it is returned.
pub fn set(text: &str, path: &str, value_toml: &str) -> Result<String, ConfigError> {
    checked_text(set_doc(&document(text)?, path, value_toml)?)
}

/// `tandemd config unset KEY`: the new file's text without the field at
/// `path` (the object goes with its last field; unsetting a field the
/// file does not set changes nothing), checked as a file.
pub fn unset(text: &str, path: &str) -> Result<String, ConfigError> {
    checked_text(unset_doc(&document(text)?, path)?)
}

/// The text of an edit of a document that came from text, not from a
/// checked file: all of it is checked.
fn checked_text(edited: Edited) -> Result<String, ConfigError> {
    if edited.config.is_none() {
        build::parse_text(&edited.text, None)?;
    }
    Ok(edited.text)
}

/// A file's document after a `config set` or `config unset`: the one
/// object it changes, the new text, and the configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Edited {
    /// The object edited.
    pub key: ObjectKey,
    /// Its fields after the edit (`None`: the object is gone).
    pub object: Option<Object>,
    /// The new file's text ([`render`] of the edited document).
    pub text: String,
    /// `text` parsed and checked as a file; `None` when the edit is of an
    /// `[app]` object ([`app_only`]): tandemd's settings are those of the
    /// document edited, and only the edited object was checked.
    pub config: Option<DaemonConfig>,
}

impl Edited {
    /// Makes the edit in `doc` (the document it was made from).
    pub fn apply_to(&self, doc: &mut Document) {
        doc.put_object(self.key.clone(), self.object.clone());
    }
}

/// [`set`] in `doc`, the document of a file that passed the file's
/// checks, which is left as it is (the edit is one object, applied with
/// [`Edited::apply_to`]): an edit of an `[app]` object checks that object
/// as the file's parse checks `[app]` (and keeps tandemd's settings), any
/// other is checked as a whole file.
pub fn set_doc(doc: &Document, path: &str, value_toml: &str) -> Result<Edited, ConfigError> {
    let (key, field) = parse_path(path)?;
    let value = parse_value(path, value_toml)?;
    edit(doc, path, Op::Set { key, field, value })
}

/// [`unset`] in `doc`, checked as [`set_doc`] checks.
pub fn unset_doc(doc: &Document, path: &str) -> Result<Edited, ConfigError> {
    let (key, field) = parse_path(path)?;
    edit(doc, path, Op::Remove { key, field })
}

fn edit(doc: &Document, path: &str, op: Op) -> Result<Edited, ConfigError> {
    let key = op.key().clone();
    // The edited object alone: the document stays as it is.
    let mut one = Document::new();
    one.put_object(key.clone(), doc.object(&key).cloned());
    one.apply(&[op])
        .map_err(|e| edit_error(path, Problem::Doc(e)))?;
    let object = one.object(&key).cloned();
    let text = text::write_patched(doc, &[(key.clone(), object.clone())]);
    let config = if app_only([&key]) {
        match check_app_document(&one) {
            Ok(()) => None,
            Err(AppCheck::Config(e)) => return Err(e),
            Err(AppCheck::NoForm(at)) => return Err(edit_error(&at, Problem::NoForm)),
        }
    } else {
        Some(build::parse_text(&text, None)?)
    };
    Ok(Edited {
        key,
        object,
        text,
        config,
    })
}

/// One TOML value literal.
fn parse_value(path: &str, literal: &str) -> Result<Value, ConfigError> {
    let bad = || edit_error(path, Problem::BadValue(literal.to_string()));
    let table: toml::Table = toml::from_str(&format!("v = {literal}\n")).map_err(|_| bad())?;
    if table.len() != 1 {
        return Err(bad());
    }
    let value = table.get("v").ok_or_else(bad)?;
    text::to_value(value).map_err(|p| edit_error(path, p))
}
