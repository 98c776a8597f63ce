//! The `app` tree: an embedding appliance's own typed settings (virtual
//! services, real servers, certificates, ...) in the synced document.
//!
//! A type implements [`AppObject`]: its kind names its section
//! (`app.<kind>`), its id names the object, and it converts to and from
//! the object's fields. Its fields are shared (synced) unless the
//! appliance's schema says otherwise ([`crate::schema`]).
//!
//! ```
//! use tandem_config_sync::app::{field, AppError, AppObject};
//! use tandem_config_sync::doc::{Document, Object};
//! use tandem_config_sync::value::Value;
//!
//! #[derive(Debug, Clone, PartialEq)]
//! struct VirtualService { name: String, port: u16 }
//!
//! impl AppObject for VirtualService {
//!     const KIND: &'static str = "vs";
//!     fn id(&self) -> String { self.name.clone() }
//!     fn to_fields(&self) -> Object {
//!         Object::from([("port".to_string(), Value::Int(self.port.into()))])
//!     }
//!     fn from_fields(id: &str, fields: &Object) -> Result<Self, AppError> {
//!         let port = field::int(Self::KIND, id, fields, "port")?;
//!         let port = u16::try_from(port).map_err(|_| AppError::new(Self::KIND, id, "port", "not a port"))?;
//!         Ok(VirtualService { name: id.to_string(), port })
//!     }
//! }
//!
//! let mut doc = Document::new();
//! let web = VirtualService { name: "web".into(), port: 443 };
//! doc.put_app(&web).unwrap();
//! assert_eq!(doc.app::<VirtualService>("web"), Some(Ok(web)));
//! ```

use crate::doc::{DocError, Document, Object, ObjectKey};

/// One typed object of the `app` tree.
pub trait AppObject: Sized {
    /// Its kind: objects live in section `app.<KIND>` (lower case,
    /// `[a-z0-9_-]`).
    const KIND: &'static str;
    /// Its id within the kind.
    fn id(&self) -> String;
    /// Its fields.
    fn to_fields(&self) -> Object;
    /// Reads it back; a field missing or of another type is an error
    /// naming the field.
    fn from_fields(id: &str, fields: &Object) -> Result<Self, AppError>;
}

/// Why an object of the `app` tree is not a valid `T`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("app.{kind}.{id}.{field}: {why}")]
pub struct AppError {
    /// The kind.
    pub kind: String,
    /// The object's id.
    pub id: String,
    /// The field.
    pub field: String,
    /// What is wrong.
    pub why: String,
}

impl AppError {
    /// An error about one field.
    pub fn new(kind: &str, id: &str, field: &str, why: impl Into<String>) -> Self {
        AppError {
            kind: kind.to_string(),
            id: id.to_string(),
            field: field.to_string(),
            why: why.into(),
        }
    }
}

/// The section of a kind: `app.<kind>`.
pub fn section<T: AppObject>() -> String {
    format!("app.{}", T::KIND)
}

impl Document {
    /// Puts `value` into the `app` tree (replacing the object of its id).
    pub fn put_app<T: AppObject>(&mut self, value: &T) -> Result<(), DocError> {
        let key = ObjectKey::new(section::<T>(), value.id());
        let mut ops = vec![crate::doc::Op::RemoveObject { key: key.clone() }];
        for (field, v) in value.to_fields() {
            ops.push(crate::doc::Op::Set {
                key: key.clone(),
                field,
                value: v,
            });
        }
        self.apply(&ops)
    }

    /// Removes the object `id` of kind `T`.
    pub fn remove_app<T: AppObject>(&mut self, id: &str) {
        self.put_object(ObjectKey::new(section::<T>(), id), None);
    }

    /// The object `id` of kind `T`, read back.
    pub fn app<T: AppObject>(&self, id: &str) -> Option<Result<T, AppError>> {
        let key = ObjectKey::new(section::<T>(), id);
        self.object(&key).map(|o| T::from_fields(id, o))
    }

    /// Every object of kind `T`, in id order.
    pub fn apps<T: AppObject>(&self) -> Vec<Result<T, AppError>> {
        let s = section::<T>();
        self.section(&s)
            .map(|(k, o)| T::from_fields(&k.id, o))
            .collect()
    }
}

/// Typed reads of one field, for [`AppObject::from_fields`].
pub mod field {
    use super::AppError;
    use crate::doc::Object;
    use crate::value::Value;

    fn get<'a>(kind: &str, id: &str, o: &'a Object, f: &str) -> Result<&'a Value, AppError> {
        o.get(f)
            .ok_or_else(|| AppError::new(kind, id, f, "missing"))
    }

    fn wrong(kind: &str, id: &str, f: &str, want: &str, got: &Value) -> AppError {
        AppError::new(
            kind,
            id,
            f,
            format!("a {want} was expected, not a {}", got.type_name()),
        )
    }

    /// An integer field.
    pub fn int(kind: &str, id: &str, o: &Object, f: &str) -> Result<i64, AppError> {
        match get(kind, id, o, f)? {
            Value::Int(i) => Ok(*i),
            v => Err(wrong(kind, id, f, "int", v)),
        }
    }

    /// A string field.
    pub fn str(kind: &str, id: &str, o: &Object, f: &str) -> Result<String, AppError> {
        match get(kind, id, o, f)? {
            Value::Str(s) => Ok(s.clone()),
            v => Err(wrong(kind, id, f, "string", v)),
        }
    }

    /// A bool field.
    pub fn bool(kind: &str, id: &str, o: &Object, f: &str) -> Result<bool, AppError> {
        match get(kind, id, o, f)? {
            Value::Bool(b) => Ok(*b),
            v => Err(wrong(kind, id, f, "bool", v)),
        }
    }

    /// A list of strings.
    pub fn strs(kind: &str, id: &str, o: &Object, f: &str) -> Result<Vec<String>, AppError> {
        match get(kind, id, o, f)? {
            Value::List(items) => items
                .iter()
                .map(|v| match v {
                    Value::Str(s) => Ok(s.clone()),
                    v => Err(wrong(kind, id, f, "list of strings", v)),
                })
                .collect(),
            v => Err(wrong(kind, id, f, "list", v)),
        }
    }
}
