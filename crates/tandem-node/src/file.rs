//! Reading the files tandemd is given (its configuration, the restart
//! history, `tandemd decode`'s captures) with a size limit, and only when
//! they are regular files.
//!
//! [`read_limited`] opens with `O_NONBLOCK` (so that opening a FIFO with no
//! writer cannot block) and `O_CLOEXEC`, asks the opened descriptor what it
//! is (`fstat`), refuses anything that is not a regular file (a FIFO, a
//! character device such as `/dev/zero`, a directory, ...) and any file
//! larger than the limit, and reads at most the limit plus one byte, so a
//! file that grows while it is read is refused too rather than read
//! without end.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// What a path is, when it is not a regular file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileKind {
    /// A named pipe.
    Fifo,
    /// A character device (`/dev/zero`, a terminal).
    CharDevice,
    /// A block device (a disk).
    BlockDevice,
    /// A directory.
    Directory,
    /// A Unix socket.
    Socket,
    /// Anything else.
    Other,
}

impl FileKind {
    /// The kind of a file type.
    fn of(t: std::fs::FileType) -> Option<FileKind> {
        Some(if t.is_file() {
            return None;
        } else if t.is_fifo() {
            FileKind::Fifo
        } else if t.is_char_device() {
            FileKind::CharDevice
        } else if t.is_block_device() {
            FileKind::BlockDevice
        } else if t.is_dir() {
            FileKind::Directory
        } else if t.is_socket() {
            FileKind::Socket
        } else {
            FileKind::Other
        })
    }

    /// What it is, in words: `a FIFO`, `a character device`, ...
    pub fn words(self) -> &'static str {
        match self {
            FileKind::Fifo => "a FIFO",
            FileKind::CharDevice => "a character device",
            FileKind::BlockDevice => "a block device",
            FileKind::Directory => "a directory",
            FileKind::Socket => "a socket",
            FileKind::Other => "not a file",
        }
    }
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.words())
    }
}

/// Why a file was not read. The messages do not name the file: the
/// caller's error does (`cannot read PATH: ...`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileError {
    /// The file could not be opened.
    #[error("{0}")]
    Open(#[source] io::Error),
    /// `fstat` or reading failed.
    #[error("{0}")]
    Read(#[source] io::Error),
    /// Not a regular file.
    #[error("it is {kind}, not a regular file")]
    NotRegular {
        /// What it is.
        kind: FileKind,
    },
    /// Larger than the limit.
    #[error("it is {size} bytes, more than the limit of {limit} bytes")]
    TooLarge {
        /// Its size (at least this much, if it grew while being read).
        size: u64,
        /// The limit.
        limit: u64,
    },
}

impl FileError {
    /// The system's error, for an open or read failure.
    pub fn io(&self) -> Option<&io::Error> {
        match self {
            FileError::Open(e) | FileError::Read(e) => Some(e),
            _ => None,
        }
    }
}

/// Opens `path` for reading without blocking on a FIFO, close-on-exec.
/// Symbolic links are followed (an operator may link the configuration).
fn open(path: &Path) -> Result<File, FileError> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .map_err(FileError::Open)
}

/// Reads the regular file at `path`, at most `max_bytes` bytes: a FIFO, a
/// device, a directory or a socket is refused without reading, and so is a
/// file larger than `max_bytes` (at most `max_bytes + 1` bytes are read).
pub fn read_limited(path: &Path, max_bytes: u64) -> Result<Vec<u8>, FileError> {
    let file = open(path)?;
    let meta = file.metadata().map_err(FileError::Read)?;
    if let Some(kind) = FileKind::of(meta.file_type()) {
        return Err(FileError::NotRegular { kind });
    }
    if meta.len() > max_bytes {
        return Err(FileError::TooLarge {
            size: meta.len(),
            limit: max_bytes,
        });
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    let mut reader = (&file).take(max_bytes.saturating_add(1));
    reader.read_to_end(&mut bytes).map_err(FileError::Read)?;
    let read = bytes.len() as u64;
    if read > max_bytes {
        // It grew while being read.
        let now = file.metadata().map_or(read, |m| m.len());
        return Err(FileError::TooLarge {
            size: now.max(read),
            limit: max_bytes,
        });
    }
    Ok(bytes)
}

/// Writes `bytes` to `path` atomically: a fresh temporary in the same
/// directory (never following a link), fsync, rename over `path`, fsync
/// the directory. `private`: mode 0600, and the directory is made if
/// missing (state files); otherwise the file keeps the mode it has (0600
/// for a new one). On failure `path` is unchanged and the temporary gone.
pub fn write_atomic(path: &Path, bytes: &[u8], private: bool) -> io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path has no file name"))?;
    if private {
        std::fs::create_dir_all(dir)?;
    }
    let mode = if private {
        0o600
    } else {
        std::fs::metadata(path).map_or(0o600, |m| m.permissions().mode() & 0o7777)
    };
    let tmp = dir.join(format!(
        ".{}.tandemd-{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    // A temporary a crash left behind (the same process id) goes first;
    // removing a symbolic link removes the link only.
    let _ = std::fs::remove_file(&tmp);
    let written = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&tmp)?;
        // The umask does not narrow the mode the file had.
        file.set_permissions(std::fs::Permissions::from_mode(mode))?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    File::open(dir).and_then(|d| d.sync_all())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn scratch(test: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("tandem-file-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn write_atomic_replaces_keeping_the_mode_or_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = scratch("atomic");
        let p = dir.join("tandemd.toml");
        std::fs::write(&p, b"old").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
        write_atomic(&p, b"new text", false).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"new text");
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o640);
        let state = dir.join("state").join("sync-state");
        write_atomic(&state, b"s", true).unwrap();
        let mode = std::fs::metadata(&state).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o600);
        // Nothing is left behind but the two files.
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        // A path in a missing directory fails and changes nothing.
        assert!(write_atomic(&dir.join("no/such/f"), b"x", false).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn reads_a_regular_file_up_to_the_limit() {
        let dir = scratch("regular");
        let p = dir.join("f");
        std::fs::write(&p, b"0123456789").unwrap();
        assert_eq!(read_limited(&p, 10).unwrap(), b"0123456789");
        assert_eq!(read_limited(&p, 100).unwrap(), b"0123456789");
        let e = read_limited(&p, 9).unwrap_err();
        assert!(
            matches!(e, FileError::TooLarge { size: 10, limit: 9 }),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            "it is 10 bytes, more than the limit of 9 bytes"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn dev_zero_is_refused_without_reading() {
        let e = read_limited(Path::new("/dev/zero"), 1 << 20).unwrap_err();
        assert!(
            matches!(
                e,
                FileError::NotRegular {
                    kind: FileKind::CharDevice
                }
            ),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            "it is a character device, not a regular file"
        );
    }

    #[test]
    fn a_fifo_without_writer_is_refused_at_once() {
        let dir = scratch("fifo");
        let p = dir.join("fifo");
        let status = std::process::Command::new("mkfifo")
            .arg(&p)
            .status()
            .unwrap();
        assert!(status.success());
        // A blocking open would wait here for a writer forever.
        let e = read_limited(&p, 1 << 20).unwrap_err();
        assert!(
            matches!(
                e,
                FileError::NotRegular {
                    kind: FileKind::Fifo
                }
            ),
            "{e:?}"
        );
        assert_eq!(e.to_string(), "it is a FIFO, not a regular file");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_directory_is_refused() {
        let dir = scratch("dir");
        let e = read_limited(&dir, 1 << 20).unwrap_err();
        assert_eq!(e.to_string(), "it is a directory, not a regular file");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_file_is_an_open_error() {
        let e = read_limited(Path::new("/nonexistent/tandem"), 10).unwrap_err();
        assert_eq!(
            e.io().map(io::Error::kind),
            Some(io::ErrorKind::NotFound),
            "{e:?}"
        );
    }

    #[test]
    fn a_file_longer_than_its_stat_size_is_capped_while_reading() {
        // /proc files report size 0 and have more: only the read can tell.
        let p = Path::new("/proc/self/status");
        let e = read_limited(p, 10).unwrap_err();
        assert!(
            matches!(
                e,
                FileError::TooLarge {
                    size: 11,
                    limit: 10
                }
            ),
            "{e:?}"
        );
        assert!(read_limited(p, 1 << 20).unwrap().starts_with(b"Name:"));
    }
}
