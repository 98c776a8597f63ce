//! `tandemd run`: the node with everything a daemon adds around it. It
//! checks the configuration against the host, records the start for the
//! restart guard, then starts the node as an embedder would, with signal
//! handling, the control socket and the health port on, and waits for it.

use std::path::PathBuf;

use super::{start, DriveError, Options};
use crate::config::DaemonConfig;
use crate::sys::netlink::{self, Netlink};

/// Runs the node with `config` until SIGTERM / SIGINT (SIGHUP reloads
/// from `path`).
pub fn run(
    config: DaemonConfig,
    path: Option<PathBuf>,
    log_drops: Option<tracing_appender::non_blocking::ErrorCounter>,
) -> Result<(), DriveError> {
    let nl = std::cell::RefCell::new(Netlink::open()?);
    let problems = crate::config::check_host(&config, &|ifname: &str| {
        netlink::ifindex(ifname)
            .and_then(|i| nl.borrow_mut().addresses(i))
            .map(|v| v.into_iter().map(|(a, _)| a).collect())
            .unwrap_or_default()
    });
    if let Some(p) = problems.into_iter().next() {
        return Err(DriveError::Host(p));
    }
    let recent_starts = record_start(&config.global.state_dir)?;
    let handle = start(
        config,
        Options {
            signals: true,
            config_path: path,
            control_socket: true,
            health: true,
            events: 0,
            recent_starts,
            log_drops,
        },
    )?;
    handle.join()
}

/// Reads, updates and saves the node's start history in `dir`; returns how
/// long ago the earlier starts were (kept for an hour).
pub fn record_start(dir: &std::path::Path) -> Result<Vec<std::time::Duration>, DriveError> {
    use std::io::Write;
    use std::time::{Duration, SystemTime, UNIX_EPOCH};
    let path = dir.join("starts");
    let err = |source| DriveError::History {
        path: path.clone(),
        source,
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(err(e)),
    };
    let starts: Vec<u64> = text
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .filter(|t| *t <= now && now - *t <= 3600)
        .collect();
    let ago = starts
        .iter()
        .map(|t| Duration::from_secs(now - t))
        .collect();
    std::fs::create_dir_all(dir).map_err(err)?;
    let mut lines: Vec<String> = starts.iter().map(u64::to_string).collect();
    lines.push(now.to_string());
    // Write, fsync, rename: a crash leaves the old history or the new one.
    let tmp = dir.join(format!("starts.tmp.{}", std::process::id()));
    {
        let mut f = std::fs::File::create(&tmp).map_err(err)?;
        f.write_all((lines.join("\n") + "\n").as_bytes())
            .map_err(err)?;
        f.sync_all().map_err(err)?;
    }
    std::fs::rename(&tmp, &path).map_err(err)?;
    Ok(ago)
}
