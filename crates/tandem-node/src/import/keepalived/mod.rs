//! `tandemd import keepalived FILE`: keepalived.conf to a tandemd file.
//!
//! [`lexer`] reads the file and its includes into statements;
//! [`convert`] turns `global_defs`, `vrrp_script`, `vrrp_track_file`,
//! `vrrp_instance` (in `instance.rs`) and `vrrp_sync_group` into `[[check]]`,
//! `[[instance]]` and `[[sync_group]]` tables, and every statement it
//! cannot carry into a [`Notice`](crate::import::Notice).
//! docs/migration.md has the table of every statement and what it
//! becomes.

mod checks;
pub mod convert;
mod instance;
pub mod lexer;

use std::path::Path;

use crate::import::{Import, ImportError};

/// Imports the keepalived configuration at `path` (and its includes).
pub fn import_file(path: &Path) -> Result<Import, ImportError> {
    let (stmts, notices) = lexer::read_file(path)?;
    convert::convert(&stmts, notices, &path.display().to_string())
}

/// Imports keepalived configuration text, named `name` in the notices;
/// includes are read relative to `dir` (`None`: refused).
pub fn import_text(text: &str, name: &str, dir: Option<&Path>) -> Result<Import, ImportError> {
    let (stmts, notices) = lexer::read_text(text, name, dir);
    convert::convert(&stmts, notices, name)
}
