use std::os::unix::fs::PermissionsExt;

use super::*;

const NOW: u64 = 1_750_000_000;

/// A fresh scratch directory for one test.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tandem-history-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The names in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn is_root() -> bool {
    // The effective uid, from /proc (no unsafe call).
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

#[test]
fn records_starts_and_reports_how_long_ago() {
    let dir = scratch("records");
    let state = dir.join("state");
    let r = record_start(&state, NOW - 100, true).unwrap();
    assert!(r.recent.is_empty());
    let r = record_start(&state, NOW, true).unwrap();
    assert_eq!(r.recent, vec![Duration::from_secs(100)]);
    assert!(r.warning.is_none());
    assert_eq!(
        std::fs::read_to_string(state.join("starts")).unwrap(),
        format!("{}\n{NOW}\n", NOW - 100)
    );
    assert_eq!(names(&state), ["starts"]);
    let mode = std::fs::metadata(state.join("starts"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_non_utf8_byte_is_a_skipped_line_not_an_error() {
    let dir = scratch("utf8");
    let mut old = format!("{}\n", NOW - 10).into_bytes();
    old.extend_from_slice(b"17\xff50\n\xc3\n");
    old.extend_from_slice(format!("{}\n", NOW - 5).as_bytes());
    std::fs::write(dir.join("starts"), &old).unwrap();
    let r = record_start(&dir, NOW, true).unwrap();
    assert_eq!(
        r.recent,
        vec![Duration::from_secs(10), Duration::from_secs(5)]
    );
    assert_eq!(r.corrupt_lines, 2);
    assert!(r.log_lines(&dir)[0].contains("skipped 2 line(s)"));
    assert_eq!(
        std::fs::read_to_string(dir.join("starts")).unwrap(),
        format!("{}\n{}\n{NOW}\n", NOW - 10, NOW - 5)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn parse_skips_old_future_and_garbage() {
    let text = format!(
        "{}\n\n  {}  \n{}\n-5\n99999999999999999999999\nabc\n",
        NOW - 4000,
        NOW - 1,
        NOW + 60
    );
    let (starts, corrupt) = parse(text.as_bytes(), NOW);
    assert_eq!(starts, vec![NOW - 1]);
    assert_eq!(corrupt, 3);
}

#[test]
fn a_file_in_place_of_the_state_directory() {
    let dir = scratch("notdir");
    let state = dir.join("state");
    std::fs::write(&state, b"not a directory").unwrap();
    // No restart guard: the node starts, with a warning.
    let r = record_start(&state, NOW, false).unwrap();
    assert!(r.recent.is_empty());
    let w = r.warning.as_ref().expect("a warning");
    assert!(matches!(w, HistoryError::Dir { .. }), "{w:?}");
    let lines = r.log_lines(&state);
    assert!(
        lines[0].starts_with("restart history: WARNING: not kept: "),
        "{lines:?}"
    );
    assert!(lines[0].contains("starting anyway"), "{lines:?}");
    // A restart guard: refused, with the reason.
    let e = record_start(&state, NOW, true).unwrap_err();
    assert!(matches!(e, HistoryError::Dir { .. }), "{e:?}");
    assert!(e.to_string().starts_with(&format!(
        "cannot create the state directory {}: ",
        state.display()
    )));
    assert_eq!(names(&dir), ["state"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_read_only_state_directory() {
    if is_root() {
        // Root writes through permissions: the file-in-place and full
        // file-system tests cover the write failures there.
        eprintln!("skipped: root ignores directory permissions");
        return;
    }
    let dir = scratch("readonly");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    let r = record_start(&dir, NOW, false).unwrap();
    assert!(
        matches!(r.warning, Some(HistoryError::Write { .. })),
        "{r:?}"
    );
    assert!(matches!(
        record_start(&dir, NOW, true),
        Err(HistoryError::Write { .. })
    ));
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert!(names(&dir).is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_history_that_is_not_a_regular_file() {
    let dir = scratch("fifo");
    let status = std::process::Command::new("mkfifo")
        .arg(dir.join("starts"))
        .status()
        .unwrap();
    assert!(status.success());
    // Without O_NONBLOCK this would wait for a writer forever.
    let e = record_start(&dir, NOW, true).unwrap_err();
    assert!(
        matches!(
            e,
            HistoryError::Read {
                source: FileError::NotRegular { .. },
                ..
            }
        ),
        "{e:?}"
    );
    assert!(
        e.to_string().ends_with("it is a FIFO, not a regular file"),
        "{e}"
    );
    let r = record_start(&dir, NOW, false).unwrap();
    assert!(matches!(r.warning, Some(HistoryError::Read { .. })));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_history_over_the_limit_is_refused() {
    let dir = scratch("large");
    let f = std::fs::File::create(dir.join("starts")).unwrap();
    f.set_len(MAX_HISTORY_BYTES + 1).unwrap();
    drop(f);
    let e = record_start(&dir, NOW, true).unwrap_err();
    assert!(
        matches!(
            e,
            HistoryError::Read {
                source: FileError::TooLarge { .. },
                ..
            }
        ),
        "{e:?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_symlink_at_the_temporary_is_never_followed() {
    let dir = scratch("symlink");
    let victim = dir.join("victim");
    std::fs::write(&victim, b"precious\n").unwrap();
    let state = dir.join("state");
    std::fs::create_dir(&state).unwrap();
    let tmp = state.join(format!("{TEMP_PREFIX}{}", std::process::id()));
    std::os::unix::fs::symlink(&victim, &tmp).unwrap();
    let r = record_start(&state, NOW, true).unwrap();
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious\n");
    assert_eq!(r.stale_removed, 1);
    assert_eq!(names(&state), ["starts"]);
    assert!(!std::fs::symlink_metadata(state.join("starts"))
        .unwrap()
        .file_type()
        .is_symlink());

    // Created exclusively: a link planted after the clean-up is refused
    // too, and the victim is still untouched.
    std::os::unix::fs::symlink(&victim, &tmp).unwrap();
    let e = save(&state, &state.join("starts"), b"1\n").unwrap_err();
    assert!(matches!(e, HistoryError::Write { .. }), "{e:?}");
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious\n");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn leftovers_of_crashed_runs_are_removed_and_live_ones_kept() {
    let dir = scratch("leftovers");
    // No process has pid 2^22 + 1 (above Linux's pid_max limit).
    for name in ["starts.tmp.4194305", "starts.tmp.junk", "starts.tmp."] {
        std::fs::write(dir.join(name), b"half").unwrap();
    }
    // pid 1 runs: its temporary may be being written.
    std::fs::write(dir.join("starts.tmp.1"), b"busy").unwrap();
    std::fs::create_dir(dir.join("starts.tmp.dir")).unwrap();
    std::fs::write(dir.join("other"), b"kept").unwrap();
    let r = record_start(&dir, NOW, true).unwrap();
    assert_eq!(r.stale_removed, 3);
    assert_eq!(
        names(&dir),
        ["other", "starts", "starts.tmp.1", "starts.tmp.dir"]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_temporary_is_removed_when_the_rename_fails() {
    let dir = scratch("rename");
    // A directory (not empty) where the history should be: the read
    // refuses it first.
    std::fs::create_dir_all(dir.join("starts/x")).unwrap();
    assert!(matches!(
        record_start(&dir, NOW, true),
        Err(HistoryError::Read { .. })
    ));
    // The save step itself: rename over a non-empty directory fails.
    let e = save(&dir, &dir.join("starts"), b"1\n").unwrap_err();
    assert!(matches!(e, HistoryError::Rename { .. }), "{e:?}");
    assert_eq!(names(&dir), ["starts"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn keeps_at_most_the_newest_starts() {
    let dir = scratch("many");
    let text: String = (0..MAX_KEPT_STARTS as u64 + 50)
        .map(|i| format!("{}\n", NOW - 3000 + i / 10))
        .collect();
    std::fs::write(dir.join("starts"), text).unwrap();
    record_start(&dir, NOW, true).unwrap();
    let kept = std::fs::read_to_string(dir.join("starts")).unwrap();
    assert_eq!(kept.lines().count(), MAX_KEPT_STARTS);
    assert_eq!(kept.lines().last(), Some(NOW.to_string().as_str()));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A full file system: a 64 KiB tmpfs filled up. Needs root (mount);
/// returns early without it, except under CI=true.
#[test]
fn a_full_state_directory() {
    if !is_root() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "a_full_state_directory needs root (mount) and CI=true is set"
        );
        eprintln!("skipped: a_full_state_directory needs root to mount a tmpfs");
        return;
    }
    let dir = scratch("full");
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "tandem-history-full"])
        .arg(&dir)
        .status()
        .unwrap();
    assert!(mounted.success(), "mount tmpfs failed");
    let result = std::panic::catch_unwind(|| {
        // Fill it up.
        let mut f = std::fs::File::create(dir.join("filler")).unwrap();
        let chunk = [0u8; 4096];
        while f.write_all(&chunk).is_ok() {}
        let _ = f.sync_all();
        drop(f);
        let r = record_start(&dir, NOW, false).unwrap();
        assert!(
            matches!(r.warning, Some(HistoryError::Write { .. })),
            "{r:?}"
        );
        let e = record_start(&dir, NOW, true).unwrap_err();
        assert!(matches!(e, HistoryError::Write { .. }), "{e:?}");
        assert!(e.to_string().contains("No space left on device"), "{e}");
        assert_eq!(names(&dir), ["filler"]);
    });
    let _ = std::process::Command::new("umount").arg(&dir).status();
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(p) = result {
        std::panic::resume_unwind(p);
    }
}
