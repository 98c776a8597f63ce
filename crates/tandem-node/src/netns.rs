//! Default paths per network namespace: where `tandemd run` puts its
//! control socket and its state (restart-guard history) when neither the
//! configuration nor a flag says, and where `tandemd status`, `failover`,
//! `maintenance`, `clear-pacified` and `events` look for the node.
//!
//! A Unix socket path and a directory are not per network namespace, so
//! two nodes on one host in two namespaces would otherwise share them.
//! The namespace of the process decides (docs/config.md, "Default paths"):
//!
//! | namespace | control socket | state directory |
//! |---|---|---|
//! | the initial one (PID 1's) | `/run/tandemd/tandemd.sock` | `/var/lib/tandemd` |
//! | named `NAME` (`ip netns add NAME`) | `/run/tandemd/netns/NAME/tandemd.sock` | `/var/lib/tandemd/netns/NAME` |
//! | unnamed, inode `INO` | `/run/tandemd/netns/net-INO/tandemd.sock` | `/var/lib/tandemd/netns/net-INO` |
//!
//! A namespace is named `NAME` when `/run/netns/NAME` is that namespace
//! (same device and inode as `/proc/self/ns/net`); with several names the
//! first in byte order counts. A name that would make the socket path
//! longer than a Unix socket path can be ([`MAX_NAME_LEN`]), or that starts
//! with `.`, is not used: the namespace counts as unnamed. When PID 1's
//! namespace cannot be read (not root), a namespace without a name counts
//! as the initial one.

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::config::{DEFAULT_CONTROL_SOCKET, DEFAULT_STATE_DIR};

/// Where `ip netns` keeps its names.
pub const NETNS_RUN_DIR: &str = "/run/netns";

/// The directory of the per-namespace control sockets.
pub const SOCKET_NETNS_DIR: &str = "/run/tandemd/netns";

/// The socket's file name in each namespace's directory.
pub const SOCKET_FILE: &str = "tandemd.sock";

/// The longest namespace name used in paths: `/run/tandemd/netns/NAME/tandemd.sock`
/// then fits a Unix socket path (107 bytes and the NUL).
pub const MAX_NAME_LEN: usize = 107 - SOCKET_NETNS_DIR.len() - 2 - SOCKET_FILE.len();

/// At most this many entries of [`NETNS_RUN_DIR`] are looked at.
pub const MAX_NAMES: usize = 4096;

/// A namespace's identity: the device and inode of its nsfs file.
pub type NsId = (u64, u64);

/// The network namespace a process runs in, as far as paths go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetNs {
    /// PID 1's namespace (or one that cannot be told from it): today's
    /// default paths.
    Initial,
    /// A namespace `ip netns` knows by this name.
    Named(String),
    /// Another namespace, by the inode of its nsfs file.
    Unnamed(u64),
}

/// Why the namespace could not be told.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetNsError {
    /// `/proc/self/ns/net` could not be read.
    #[error(
        "cannot read /proc/self/ns/net to tell the network namespace: {0} (is /proc mounted?)"
    )]
    SelfNs(#[source] io::Error),
}

impl NetNs {
    /// The namespace this process runs in: see the module docs.
    pub fn current() -> Result<NetNs, NetNsError> {
        let own = id_of(Path::new("/proc/self/ns/net")).map_err(NetNsError::SelfNs)?;
        let init = id_of(Path::new("/proc/1/ns/net")).ok();
        Ok(NetNs::identify(own, init, names_of(own)))
    }

    /// Which namespace `own` is, given PID 1's (`None` when it cannot be
    /// read) and the names in [`NETNS_RUN_DIR`] that are `own`.
    pub fn identify(own: NsId, init: Option<NsId>, mut names: Vec<String>) -> NetNs {
        if init == Some(own) {
            return NetNs::Initial;
        }
        names.retain(|n| usable_name(n));
        names.sort();
        match names.into_iter().next() {
            Some(n) => NetNs::Named(n),
            None if init.is_none() => NetNs::Initial,
            None => NetNs::Unnamed(own.1),
        }
    }

    /// The directory name under the per-namespace directories; `None`
    /// for the initial namespace.
    pub fn dir_name(&self) -> Option<String> {
        match self {
            NetNs::Initial => None,
            NetNs::Named(n) => Some(n.clone()),
            NetNs::Unnamed(ino) => Some(format!("net-{ino}")),
        }
    }

    /// The default control socket in this namespace.
    pub fn control_socket(&self) -> PathBuf {
        match self.dir_name() {
            None => PathBuf::from(DEFAULT_CONTROL_SOCKET),
            Some(d) => Path::new(SOCKET_NETNS_DIR).join(d).join(SOCKET_FILE),
        }
    }

    /// The default state directory in this namespace.
    pub fn state_dir(&self) -> PathBuf {
        match self.dir_name() {
            None => PathBuf::from(DEFAULT_STATE_DIR),
            Some(d) => Path::new(DEFAULT_STATE_DIR).join("netns").join(d),
        }
    }

    /// How logs name it: `initial`, `netns NAME`, `net-INO`.
    pub fn describe(&self) -> String {
        match self {
            NetNs::Initial => "initial".into(),
            NetNs::Named(n) => format!("netns {n}"),
            NetNs::Unnamed(ino) => format!("net-{ino}"),
        }
    }
}

/// The default control socket of the namespace this process runs in; the
/// initial namespace's when the namespace cannot be told.
pub fn default_control_socket() -> PathBuf {
    NetNs::current()
        .map(|ns| ns.control_socket())
        .unwrap_or_else(|_| PathBuf::from(DEFAULT_CONTROL_SOCKET))
}

fn usable_name(n: &str) -> bool {
    !n.is_empty() && !n.starts_with('.') && !n.contains('/') && n.len() <= MAX_NAME_LEN
}

fn id_of(path: &Path) -> io::Result<NsId> {
    // stat follows the magic link to the nsfs inode.
    fs::metadata(path).map(|m| (m.dev(), m.ino()))
}

/// The names in [`NETNS_RUN_DIR`] whose file is the namespace `own`.
fn names_of(own: NsId) -> Vec<String> {
    let Ok(dir) = fs::read_dir(NETNS_RUN_DIR) else {
        return Vec::new();
    };
    dir.take(MAX_NAMES)
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            (usable_name(&name) && id_of(&e.path()).ok()? == own).then_some(name)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWN: NsId = (4, 4026532001);
    const INIT: NsId = (4, 4026531840);

    #[test]
    fn pid_1s_namespace_keeps_the_old_defaults() {
        let ns = NetNs::identify(INIT, Some(INIT), vec!["blue".into()]);
        assert_eq!(ns, NetNs::Initial);
        assert_eq!(ns.control_socket(), Path::new("/run/tandemd/tandemd.sock"));
        assert_eq!(ns.state_dir(), Path::new("/var/lib/tandemd"));
    }

    #[test]
    fn a_named_namespace_gets_its_own_directory() {
        let ns = NetNs::identify(OWN, Some(INIT), vec!["blue".into()]);
        assert_eq!(ns, NetNs::Named("blue".into()));
        assert_eq!(
            ns.control_socket(),
            Path::new("/run/tandemd/netns/blue/tandemd.sock")
        );
        assert_eq!(ns.state_dir(), Path::new("/var/lib/tandemd/netns/blue"));
        assert_eq!(ns.describe(), "netns blue");
    }

    #[test]
    fn the_first_of_several_names_counts() {
        let ns = NetNs::identify(OWN, Some(INIT), vec!["red".into(), "blue".into()]);
        assert_eq!(ns, NetNs::Named("blue".into()));
    }

    #[test]
    fn an_unnamed_namespace_goes_by_its_inode() {
        let ns = NetNs::identify(OWN, Some(INIT), Vec::new());
        assert_eq!(ns, NetNs::Unnamed(4026532001));
        assert_eq!(
            ns.control_socket(),
            Path::new("/run/tandemd/netns/net-4026532001/tandemd.sock")
        );
        assert_eq!(
            ns.state_dir(),
            Path::new("/var/lib/tandemd/netns/net-4026532001")
        );
    }

    #[test]
    fn names_that_cannot_make_a_socket_path_are_not_used() {
        let long = "n".repeat(MAX_NAME_LEN + 1);
        for bad in [long.as_str(), ".hidden", "", "a/b"] {
            let ns = NetNs::identify(OWN, Some(INIT), vec![bad.into()]);
            assert_eq!(ns, NetNs::Unnamed(OWN.1), "{bad:?}");
        }
        let longest = "n".repeat(MAX_NAME_LEN);
        let ns = NetNs::identify(OWN, Some(INIT), vec![longest]);
        let sock = ns.control_socket();
        assert_eq!(sock.as_os_str().len(), 107, "{}", sock.display());
    }

    #[test]
    fn without_pid_1s_namespace_an_unnamed_one_counts_as_initial() {
        assert_eq!(NetNs::identify(OWN, None, Vec::new()), NetNs::Initial);
        assert_eq!(
            NetNs::identify(OWN, None, vec!["blue".into()]),
            NetNs::Named("blue".into())
        );
    }

    #[test]
    fn configured_paths_win_over_the_namespace_defaults() {
        use crate::config::GlobalConfig;
        let blue = NetNs::Named("blue".into());
        let mut g = GlobalConfig::default();
        g.for_namespace(&blue);
        assert_eq!(
            g.control_socket,
            Path::new("/run/tandemd/netns/blue/tandemd.sock")
        );
        assert_eq!(g.state_dir, Path::new("/var/lib/tandemd/netns/blue"));

        // A flag or the file, even when it names the initial default.
        let mut g = GlobalConfig::default();
        g.set_state_dir(PathBuf::from("/srv/tandemd"));
        g.set_control_socket(PathBuf::from(DEFAULT_CONTROL_SOCKET));
        g.for_namespace(&blue);
        assert_eq!(g.state_dir, Path::new("/srv/tandemd"));
        assert_eq!(g.control_socket, Path::new(DEFAULT_CONTROL_SOCKET));

        let c = crate::config::parse(
            "[global]\nstate_dir = \"/var/lib/tandemd\"\n\n[[instance]]\nname = \"web\"\ninterface = \"eth0\"\nvrid = 1\naddresses = [\"192.0.2.100/24\"]\n",
        )
        .unwrap();
        let mut g = c.global;
        g.for_namespace(&blue);
        assert_eq!(g.state_dir, Path::new(DEFAULT_STATE_DIR));
        assert_eq!(
            g.control_socket,
            Path::new("/run/tandemd/netns/blue/tandemd.sock")
        );

        // The initial namespace changes nothing.
        let mut g = GlobalConfig::default();
        g.for_namespace(&NetNs::Initial);
        assert_eq!(g, GlobalConfig::default());
    }

    #[test]
    fn this_process_has_a_namespace() {
        // Whatever it is, its paths are absolute and the socket path fits.
        let ns = NetNs::current().expect("/proc/self/ns/net");
        assert!(ns.control_socket().is_absolute());
        assert!(ns.control_socket().as_os_str().len() <= 107);
        assert!(ns.state_dir().is_absolute());
    }
}
