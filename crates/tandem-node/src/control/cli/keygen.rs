//! `tandemd sync keygen FILE [--force]`: a new configuration-sync key file
//! (the pre-shared key both units of a pair hold; docs/tandemd.md).

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tandem_config_sync::channel::{ChannelError, Key};

/// Why no key file was written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeygenError {
    /// The file exists and `--force` was not given.
    #[error("{} exists: refusing to overwrite a key (both units must hold the same one); pass --force to replace it", path.display())]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// The directory the file would go in is not there.
    #[error("the directory of {} does not exist: create it first (mode 0700 or 0755, owned by root)", path.display())]
    NoDirectory {
        /// The file.
        path: PathBuf,
    },
    /// The operating system's random generator failed.
    #[error("cannot generate a key: {0}")]
    Random(#[source] ChannelError),
    /// The operating system's random source could not be read.
    #[error("cannot generate a key: /dev/urandom: {0}")]
    RandomSource(#[source] io::Error),
    /// Creating, writing or renaming the file failed.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
}

/// The directory `path` is in (`.` for a bare file name).
fn directory(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// Writes a new random key to `path`, mode 0600. Without `force` the file
/// is created exclusively (`O_EXCL`, never through a symbolic link), so an
/// existing key is never lost; with `force` the new key goes to a
/// temporary in the same directory, is fsynced and renamed over `path`,
/// so a reader sees the old key or the new one, never half of one.
pub fn keygen(path: &Path, force: bool) -> Result<(), KeygenError> {
    if !directory(path).is_dir() {
        return Err(KeygenError::NoDirectory {
            path: path.to_path_buf(),
        });
    }
    let key = Key::generate().map_err(KeygenError::Random)?;
    write_key(path, force, &key.to_file())
}

/// `tandemd replication keygen FILE [--force]`: a new replication key
/// file (32 random bytes from the operating system), written as
/// [`keygen`] writes a sync key.
pub fn replication_keygen(path: &Path, force: bool) -> Result<(), KeygenError> {
    if !directory(path).is_dir() {
        return Err(KeygenError::NoDirectory {
            path: path.to_path_buf(),
        });
    }
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| io::Read::read_exact(&mut f, &mut bytes))
        .map_err(KeygenError::RandomSource)?;
    let text = tandem_replication::seal::Psk(bytes).to_text();
    write_key(path, force, &text)
}

fn write_key(path: &Path, force: bool, text: &str) -> Result<(), KeygenError> {
    let write_error = |source| KeygenError::Write {
        path: path.to_path_buf(),
        source,
    };
    if force {
        return crate::file::write_atomic(path, text.as_bytes(), true).map_err(write_error);
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| match e.kind() {
            io::ErrorKind::AlreadyExists => KeygenError::Exists {
                path: path.to_path_buf(),
            },
            _ => write_error(e),
        })?;
    let written = file
        .set_permissions(std::fs::Permissions::from_mode(0o600))
        .and_then(|()| file.write_all(text.as_bytes()))
        .and_then(|()| file.sync_all());
    if let Err(e) = written {
        // Half a key is worse than none: the file was ours, remove it.
        drop(file);
        let _ = std::fs::remove_file(path);
        return Err(write_error(e));
    }
    drop(file);
    std::fs::File::open(directory(path))
        .and_then(|d| d.sync_all())
        .map_err(write_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("tandem-keygen-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn keygen_writes_a_private_key_file_that_parses() {
        let dir = scratch("new");
        let p = dir.join("sync.key");
        keygen(&p, false).unwrap();
        assert_eq!(mode(&p), 0o600);
        let text = std::fs::read_to_string(&p).unwrap();
        Key::parse_file(&text).unwrap();
        assert!(text.starts_with("tandem-sync-key v1\n"), "{text}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn keygen_refuses_an_existing_file_and_leaves_it_alone() {
        let dir = scratch("exists");
        let p = dir.join("sync.key");
        std::fs::write(&p, b"precious").unwrap();
        let err = keygen(&p, false).unwrap_err();
        assert!(matches!(err, KeygenError::Exists { .. }), "{err}");
        assert!(err.to_string().contains("--force"), "{err}");
        assert_eq!(std::fs::read(&p).unwrap(), b"precious");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn keygen_refuses_a_symbolic_link_without_force() {
        let dir = scratch("link");
        let target = dir.join("target");
        let p = dir.join("sync.key");
        std::os::unix::fs::symlink(&target, &p).unwrap();
        assert!(keygen(&p, false).is_err());
        assert!(!target.exists(), "the link was followed");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn keygen_force_replaces_the_key_atomically_and_privately() {
        let dir = scratch("force");
        let p = dir.join("sync.key");
        std::fs::write(&p, b"old").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        keygen(&p, true).unwrap();
        let first = std::fs::read_to_string(&p).unwrap();
        Key::parse_file(&first).unwrap();
        assert_eq!(mode(&p), 0o600);
        keygen(&p, true).unwrap();
        let second = std::fs::read_to_string(&p).unwrap();
        assert_ne!(first, second, "the same key twice");
        // No temporary is left beside it.
        let names: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(names.len(), 1, "{names:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn keygen_in_a_missing_directory_says_so() {
        let dir = scratch("nodir");
        let err = keygen(&dir.join("no/such/sync.key"), false).unwrap_err();
        assert!(matches!(err, KeygenError::NoDirectory { .. }), "{err}");
        let err = keygen(&dir.join("no/such/sync.key"), true).unwrap_err();
        assert!(matches!(err, KeygenError::NoDirectory { .. }), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
