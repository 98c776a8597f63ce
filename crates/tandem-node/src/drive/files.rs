//! The files a host reads and writes for the Node: a configuration file
//! with, when it has `[sync]`, its key file and the sync state file.

use std::path::Path;

use crate::config::DaemonConfig;
use crate::file::{read_limited, FileError};
use crate::node::sync::{state_path, MAX_KEY_BYTES, MAX_STATE_BYTES};
use crate::node::ConfigFile;

/// Reads the configuration at `from` for the running file `target`
/// (`config apply` of another file writes it there): its text, parsed
/// (unless `parsed` is the configuration already parsed from it), and
/// with `[sync]` the key file's and the state file's texts.
pub(crate) fn config_file(
    target: &Path,
    from: &Path,
    parsed: Option<DaemonConfig>,
) -> Result<ConfigFile, String> {
    let text = crate::config::read_text(from).map_err(|e| e.to_string())?;
    let config = match parsed {
        Some(c) => c,
        None => crate::config::parse_at(&text, from).map_err(|e| e.to_string())?,
    };
    let sync_key = config
        .global
        .sync
        .as_ref()
        .map(|s| small_text(&s.key_file, MAX_KEY_BYTES));
    let sync_state = if config.global.sync.is_some() {
        let path = state_path(&config.global);
        match read_limited(&path, MAX_STATE_BYTES) {
            Err(e)
                if e.io()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::NotFound) =>
            {
                Ok(None)
            }
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
            Ok(bytes) => String::from_utf8(bytes)
                .map(Some)
                .map_err(|_| format!("{} is not UTF-8 text", path.display())),
        }
    } else {
        Ok(None)
    };
    Ok(ConfigFile {
        path: target.to_path_buf(),
        text,
        config,
        write: target != from,
        sync_key,
        sync_state,
    })
}

/// A small text file (a key): at most `limit` bytes of UTF-8.
pub(super) fn small_text(path: &Path, limit: u64) -> Result<String, String> {
    let bytes = read_limited(path, limit).map_err(|e: FileError| format!("cannot read it: {e}"))?;
    String::from_utf8(bytes).map_err(|_| "it is not UTF-8 text".to_string())
}
