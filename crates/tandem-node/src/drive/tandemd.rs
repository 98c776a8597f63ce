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
    let state_dir = config.global.state_dir.clone();
    let handle = start(
        config,
        Options {
            signals: true,
            config_path: path,
            control_socket: true,
            health: true,
            events: 0,
            state_dir: Some(state_dir),
            recent_starts: Vec::new(),
            log_drops,
            persistence: None,
            service_manager: true,
        },
    )?;
    handle.join()
}
