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
