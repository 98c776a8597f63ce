//! STUB (h-node): the signatures h-map's `config::document` provides, so
//! that the Node's sync adapter compiles before that work is merged. The
//! merge replaces this file with h-map's.
#![allow(missing_docs, clippy::missing_errors_doc, unused_variables)]

use tandem_config_sync::doc::Document;
use tandem_config_sync::schema::Schema;

use super::{ConfigError, DaemonConfig, SyncConfig};

pub fn schema_for(sync: Option<&SyncConfig>) -> Schema {
    todo!("h-map")
}

pub fn document(text: &str) -> Result<Document, ConfigError> {
    todo!("h-map")
}

pub fn render(doc: &Document) -> String {
    todo!("h-map")
}

pub fn shared(text: &str, sync: Option<&SyncConfig>) -> Result<Document, ConfigError> {
    todo!("h-map")
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adopted {
    pub text: String,
    pub config: DaemonConfig,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdoptCode {
    Invalid,
    LocalConflict,
    TooLarge,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdoptError {
    pub code: AdoptCode,
    pub path: String,
    pub text: String,
}

pub fn adopt(
    own_text: &str,
    shared: &Document,
    sync: Option<&SyncConfig>,
) -> Result<Adopted, AdoptError> {
    todo!("h-map")
}

pub fn get(text: &str, path: &str) -> Result<Option<String>, ConfigError> {
    todo!("h-map")
}

pub fn set(text: &str, path: &str, value_toml: &str) -> Result<String, ConfigError> {
    todo!("h-map")
}

pub fn unset(text: &str, path: &str) -> Result<String, ConfigError> {
    todo!("h-map")
}
