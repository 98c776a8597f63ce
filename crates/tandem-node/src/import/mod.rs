//! Migration: `tandemd import keepalived FILE` and `tandemd import ucarp
//! -- ARGS...` turn another daemon's configuration into a tandemd file
//! (docs/migration.md).
//!
//! Each importer reads the other daemon's format with its own parser (no
//! code of theirs), carries over what has a tandemd equivalent, and lists
//! every statement it could not carry as a [`Notice`] with its file and
//! line. The output is TOML text with those notices as comments at the
//! top; it passes `tandemd check-config --no-host` whenever the input's
//! instances are complete (an instance missing its interface, VRID or
//! addresses is left out, with a notice).
//!
//! Nothing here panics on any input: files are read with a size limit,
//! includes with a depth and a count limit, blocks with a nesting limit.

pub mod keepalived;
mod out;
pub mod ucarp;

use std::fmt;

/// One statement that was not carried over, or a note on one that was
/// carried in another form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The file it is in (as given or as an include named it); for a
    /// command line, `ucarp`.
    pub file: String,
    /// Its line, from 1; 0 for a command line.
    pub line: usize,
    /// What and why, e.g. `vrrp_instance VI_1: "smtp_alert" is not
    /// carried over: tandemd sends no mail; use a notify hook`.
    pub message: String,
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}:{}: {}", self.file, self.line, self.message)
        }
    }
}

/// The result of an import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    /// The tandemd configuration, TOML, the notices as comments at its top.
    pub toml: String,
    /// What was not carried over, in the order of the input.
    pub notices: Vec<Notice>,
}

/// Why an import produced nothing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The input file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: crate::file::FileError,
    },
    /// The input file is not UTF-8 text.
    #[error("{path}: not UTF-8 text at byte {at}: save the file as UTF-8")]
    NotText {
        /// The file.
        path: String,
        /// The offset of the first bad byte.
        at: usize,
    },
    /// A ucarp command line that cannot be read.
    #[error("ucarp {0}")]
    Ucarp(String),
    /// Nothing to carry over: no instance could be made.
    #[error("{0}: no virtual router could be carried over (see the notices above)")]
    Nothing(String),
}
