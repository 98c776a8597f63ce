//! # tandem-config-sync
//!
//! The configuration-sync protocol of a Tandem HA pair, sans-IO: the two
//! units keep one configuration document, encrypted and mutually
//! authenticated on the wire, with divergence located to the object and
//! changes applied atomically. docs/config-sync.md gives every byte.
//!
//! - [`value`]: typed values and their canonical encoding (the one
//!   encoding digests and frames use);
//! - [`doc`]: the document: sections of objects of fields, and the
//!   operations a change is made of;
//! - [`digest`]: object, section and root digests over the canonical
//!   encoding, kept up to date incrementally;
//! - [`app`]: the embedding appliance's typed settings in the `app`
//!   tree;
//! - [`schema`]: the class of every path (shared, local, per unit), the
//!   shared form, and the address rewrite rules;
//! - [`merge`]: bidirectional mode's version vectors, hybrid logical
//!   clock and its deterministic conflict rule;
//! - [`frame`]: the frames, as owned values, with their limits;
//! - [`channel`]: the Noise `NNpsk0` handshake and transport (through
//!   `snow`), the length-prefixed deframer, the key file;
//! - [`session`]: the sans-IO session over one TCP connection at a time:
//!   bytes in, bytes and decisions out, with injected time.
//!
//! - [`sim`]: two sessions back to back on virtual time (tests,
//!   examples, benchmarks).
//!
//! Nothing here reads a clock, a socket or a file.
//!
//! Two units whose files differ only in a local setting have one root
//! digest; a change to a shared one is located to its object:
//!
//! ```
//! use tandem_config_sync::digest::DigestTree;
//! use tandem_config_sync::doc::{Document, ObjectKey};
//! use tandem_config_sync::schema::{Addresses, Class, Rule, Schema};
//! use tandem_config_sync::value::Value;
//!
//! let schema = Schema {
//!     version: 1,
//!     rules: vec![Rule {
//!         section: "instance".into(),
//!         field: "priority".into(),
//!         class: Class::Local,
//!         why: "the unit's own priority",
//!     }],
//!     rewrites: vec![],
//! };
//! let web = ObjectKey::new("instance", "web");
//! let unit = |priority: i64| {
//!     let mut d = Document::new();
//!     d.set(web.clone(), "vrid", Value::Int(51)).unwrap();
//!     d.set(web.clone(), "priority", Value::Int(priority)).unwrap();
//!     schema.shared_form(&d, &Addresses::default())
//! };
//! let (a, b) = (unit(200), unit(100));
//! assert_eq!(DigestTree::new(1, &a).root(), DigestTree::new(1, &b).root());
//!
//! let mut changed = b.clone();
//! changed.set(web.clone(), "vrid", Value::Int(52)).unwrap();
//! assert_eq!(a.diff(&changed).len(), 1);
//! assert_ne!(DigestTree::new(1, &a).object(&web), DigestTree::new(1, &changed).object(&web));
//! ```
//!
//! [`sim`] shows two sessions keeping such a document in sync.
#![forbid(unsafe_code)]

pub mod app;
pub mod channel;
pub mod digest;
pub mod doc;
pub mod frame;
pub mod merge;
pub mod schema;
pub mod session;
pub mod sim;
pub mod value;

pub use tandem_time::Instant;
