//! The node's start history, `STATE_DIR/starts`, that the restart guard
//! counts: one start per line, in seconds since the Unix epoch.
//!
//! [`record_start`] reads the history, adds this start and saves it:
//!
//! - the file is read as bytes, at most [`MAX_HISTORY_BYTES`], and only if
//!   it is a regular file; a line that is not a number (a torn write, a
//!   stray byte, text that is not UTF-8) is skipped and counted, never an
//!   error; starts older than [`KEEP`] (or in the future) are dropped, and
//!   at most [`MAX_KEPT_STARTS`] are kept;
//! - it is saved through a temporary `starts.tmp.PID` created with
//!   `O_CREAT | O_EXCL | O_NOFOLLOW` and mode 0600 (a symbolic link planted
//!   at that name is never followed), written, fsynced, renamed over
//!   `starts`, and the directory fsynced: a crash leaves the old history
//!   or the new one. The temporary is removed on every failure, and
//!   temporaries left by earlier runs that crashed (`starts.tmp.*` whose
//!   process is gone) are removed first;
//! - when the history cannot be read or saved (a read-only or full state
//!   directory, a file where the directory should be), a node with no
//!   restart guard configured starts all the same, with a warning for the
//!   log ([`Recorded::warning`]); a node with a restart guard does not
//!   start ([`HistoryError`]): it could not tell how often it restarted.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::file::{read_limited, FileError};

/// The history's file name in the state directory.
pub const HISTORY_FILE: &str = "starts";

/// The prefix of the temporary the history is written to, followed by
/// the writer's process id.
pub const TEMP_PREFIX: &str = "starts.tmp.";

/// The largest history file read: 1 MiB (more than [`MAX_KEPT_STARTS`]
/// lines take).
pub const MAX_HISTORY_BYTES: u64 = 1 << 20;

/// How long a start is remembered: an hour.
pub const KEEP: Duration = Duration::from_secs(3600);

/// The most starts kept (the newest); a restart guard counts at most
/// 1000.
pub const MAX_KEPT_STARTS: usize = 10_000;

/// Why the start history could not be kept.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HistoryError {
    /// The history file exists but cannot be read: unreadable, not a
    /// regular file, or larger than [`MAX_HISTORY_BYTES`].
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: FileError,
    },
    /// The state directory cannot be created or is not a directory.
    #[error("cannot create the state directory {}: {source}", dir.display())]
    Dir {
        /// The state directory.
        dir: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The temporary cannot be created, written or fsynced (a read-only
    /// or full file system, a name already taken).
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The temporary.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The temporary cannot be renamed over the history.
    #[error("cannot rename {} to {}: {source}", from.display(), to.display())]
    Rename {
        /// The temporary.
        from: PathBuf,
        /// The history file.
        to: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The state directory cannot be fsynced after the rename.
    #[error("cannot sync the state directory {}: {source}", dir.display())]
    SyncDir {
        /// The state directory.
        dir: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
}

/// What [`record_start`] found and did.
#[derive(Debug)]
pub struct Recorded {
    /// How long ago the earlier starts were (this one excluded), within
    /// [`KEEP`]; empty when the history could not be read.
    pub recent: Vec<Duration>,
    /// Lines of the history that were not a start time, skipped.
    pub corrupt_lines: usize,
    /// Temporaries of earlier runs removed.
    pub stale_removed: usize,
    /// Why the history was not kept, when no restart guard is configured
    /// and the node starts anyway.
    pub warning: Option<HistoryError>,
}

impl Recorded {
    /// The log lines this start calls for (none when all went well):
    /// `restart history: ...`.
    pub fn log_lines(&self, dir: &Path) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(w) = &self.warning {
            lines.push(format!(
                "restart history: WARNING: not kept: {w}; starting anyway, as no restart guard \
                 is configured (a restart guard would refuse to start)"
            ));
        }
        if self.corrupt_lines > 0 {
            lines.push(format!(
                "restart history: {}: skipped {} line(s) that are not a start time",
                dir.join(HISTORY_FILE).display(),
                self.corrupt_lines
            ));
        }
        if self.stale_removed > 0 {
            lines.push(format!(
                "restart history: removed {} temporary file(s) left by an earlier run",
                self.stale_removed
            ));
        }
        lines
    }
}

/// Reads the history in `dir`, adds a start at `now_unix` (seconds since
/// the epoch) and saves it. `guarded`: a restart guard is configured, so
/// a history that cannot be kept is an error; otherwise it is
/// [`Recorded::warning`] and the node starts.
pub fn record_start(dir: &Path, now_unix: u64, guarded: bool) -> Result<Recorded, HistoryError> {
    let mut recorded = Recorded {
        recent: Vec::new(),
        corrupt_lines: 0,
        stale_removed: 0,
        warning: None,
    };
    match keep(dir, now_unix, &mut recorded) {
        Ok(()) => Ok(recorded),
        Err(e) if guarded => Err(e),
        Err(e) => {
            recorded.warning = Some(e);
            Ok(recorded)
        }
    }
}

fn keep(dir: &Path, now: u64, recorded: &mut Recorded) -> Result<(), HistoryError> {
    let path = dir.join(HISTORY_FILE);
    let bytes = match read_limited(&path, MAX_HISTORY_BYTES) {
        Ok(b) => b,
        Err(FileError::Open(e)) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        // A file where the state directory should be.
        Err(FileError::Open(source)) if source.kind() == io::ErrorKind::NotADirectory => {
            return Err(HistoryError::Dir {
                dir: dir.to_path_buf(),
                source,
            })
        }
        Err(source) => return Err(HistoryError::Read { path, source }),
    };
    let (mut starts, corrupt) = parse(&bytes, now);
    recorded.corrupt_lines = corrupt;
    recorded.recent = starts
        .iter()
        .map(|t| Duration::from_secs(now - t))
        .collect();
    std::fs::create_dir_all(dir).map_err(|source| HistoryError::Dir {
        dir: dir.to_path_buf(),
        source,
    })?;
    recorded.stale_removed = remove_stale(dir);
    starts.push(now);
    let keep_from = starts.len().saturating_sub(MAX_KEPT_STARTS);
    let mut text = Vec::with_capacity(12 * (starts.len() - keep_from));
    for t in &starts[keep_from..] {
        text.extend_from_slice(t.to_string().as_bytes());
        text.push(b'\n');
    }
    save(dir, &path, &text)
}

/// The start times of a history within [`KEEP`] of `now`, oldest first,
/// and the number of lines that are not a time. Empty lines are not
/// counted; times in the future (the clock went back) are dropped.
pub fn parse(bytes: &[u8], now: u64) -> (Vec<u64>, usize) {
    let mut starts = Vec::new();
    let mut corrupt = 0;
    for line in bytes.split(|b| *b == b'\n') {
        let line = line.trim_ascii();
        if line.is_empty() {
            continue;
        }
        match parse_u64(line) {
            Some(t) if t <= now && now - t <= KEEP.as_secs() => starts.push(t),
            Some(_) => {}
            None => corrupt += 1,
        }
    }
    starts.sort_unstable();
    (starts, corrupt)
}

/// ASCII decimal digits, no sign, no overflow.
fn parse_u64(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 20 {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &b| {
        if b.is_ascii_digit() {
            n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        } else {
            None
        }
    })
}

/// Removes `starts.tmp.*` in `dir` that no running process writes: a
/// suffix that is not a process id, the id of a process that is gone, or
/// this process's own id (from an earlier run that had it). Symbolic
/// links are removed, never followed; directories are left alone.
/// Returns how many were removed.
fn remove_stale(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let own = std::process::id();
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.as_encoded_bytes().strip_prefix(TEMP_PREFIX.as_bytes()) else {
            continue;
        };
        let live = parse_u64(pid)
            .and_then(|p| u32::try_from(p).ok())
            .is_some_and(|p| p != own && Path::new(&format!("/proc/{p}")).exists());
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if !live && !is_dir && std::fs::remove_file(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// Writes `text` to a fresh temporary, fsyncs it, renames it over `path`
/// and fsyncs `dir`; removes the temporary if any step fails.
fn save(dir: &Path, path: &Path, text: &[u8]) -> Result<(), HistoryError> {
    let tmp = dir.join(format!("{TEMP_PREFIX}{}", std::process::id()));
    let write_err = |source| HistoryError::Write {
        path: tmp.clone(),
        source,
    };
    // O_EXCL: never open what is already there (a symbolic link included).
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&tmp)
        .map_err(write_err)?;
    let written = file
        .write_all(text)
        .and_then(|()| file.sync_all())
        .map_err(write_err);
    drop(file);
    let renamed = written.and_then(|()| {
        std::fs::rename(&tmp, path).map_err(|source| HistoryError::Rename {
            from: tmp.clone(),
            to: path.to_path_buf(),
            source,
        })
    });
    if let Err(e) = renamed {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| HistoryError::SyncDir {
            dir: dir.to_path_buf(),
            source,
        })
}

#[cfg(test)]
mod tests;
