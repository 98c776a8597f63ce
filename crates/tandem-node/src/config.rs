//! tandemd's configuration: the TOML file of `tandemd run --config FILE`,
//! the flag form of `tandemd run` for one virtual router, and the checks
//! that make either acceptable before anything touches the host.
//!
//! [`parse`] / [`load`] read a file, [`from_flags`] reads [`RunFlags`];
//! both give a [`DaemonConfig`] whose every instance carries a
//! [`tandem_election::Config`] that has passed `Config::validate`.
//! [`check_host`] adds the checks that need the host (the address owner
//! must own its addresses). docs/config.md documents every field.
//!
//! Every [`ConfigError`] says where (file, line and column when the TOML
//! has them, and the field path: `instance "web".vrid`,
//! `instance[1].addresses[2]`, or the flag: `--interval`) and why.
//!
//! What the daemon must still fill in: `election.primary_address` is the
//! unspecified address of the family (`0.0.0.0` / `::`) unless `source`
//! was given (take the interface's own address, the link-local one for
//! IPv6, at start), and `election.carp_counter` is 0 (draw it at random).

mod build;
mod error;
mod flags;
mod raw;
#[cfg(test)]
mod tests;

use std::net::IpAddr;
use std::path::{Path, PathBuf};

pub use error::{At, ConfigError, Location, Problem};
pub use flags::{from_flags, RunFlags};

/// Where the state of tandemd lives by default (restart-guard history).
pub const DEFAULT_STATE_DIR: &str = "/var/lib/tandemd";

/// Everything `tandemd run` runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonConfig {
    /// The virtual routers, in the order of the file.
    pub instances: Vec<InstanceConfig>,
    /// Sync groups: members leave the Active role together.
    pub sync_groups: Vec<SyncGroupConfig>,
    /// Settings of the whole daemon.
    pub global: GlobalConfig,
}

impl DaemonConfig {
    /// The instance named `name`.
    pub fn instance(&self, name: &str) -> Option<&InstanceConfig> {
        self.instances.iter().find(|i| i.name == name)
    }
}

/// Settings of the whole daemon (`[global]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobalConfig {
    /// Where tandemd keeps its state (the restart guard's start times).
    /// Absolute. Default [`DEFAULT_STATE_DIR`].
    pub state_dir: PathBuf,
}

impl Default for GlobalConfig {
    fn default() -> GlobalConfig {
        GlobalConfig {
            state_dir: PathBuf::from(DEFAULT_STATE_DIR),
        }
    }
}

/// Where adverts go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// 224.0.0.18 / ff02::12, TTL / hop limit 255 (the default).
    Multicast,
    /// The IPv4 broadcast address of the interface (ucarp and OpenBSD
    /// can do this where multicast is filtered). IPv4 only.
    Broadcast,
    /// Each listed peer, by unicast; of the instance's family.
    Unicast(Vec<IpAddr>),
}

/// One virtual router (`[[instance]]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceConfig {
    /// Unique; default `<interface>-<vrid>-<ipv4|ipv6>`.
    pub name: String,
    /// The interface the router runs on.
    pub interface: String,
    /// The election's configuration; `validate()` has passed.
    /// `primary_address` is `source` if given, else the unspecified
    /// address of the family, for the daemon to fill in; `carp_counter`
    /// is 0, for the daemon to draw at random.
    pub election: tandem_election::Config,
    /// The prefix length of each virtual address, in the order of
    /// `election.addresses` (32 / 128 where the file gave none).
    pub prefixes: Vec<u8>,
    /// The source address of adverts, if configured (keepalived's
    /// `unicast_src_ip`, ucarp's `--srcip`).
    pub source: Option<IpAddr>,
    /// Where adverts go.
    pub delivery: Delivery,
    /// Carry the virtual addresses on a macvlan with the virtual MAC
    /// (00-00-5E-00-01-{VRID} / 00-00-5E-00-02-{VRID}).
    pub vmac: bool,
    /// Interfaces whose link state is tracked; each is also in
    /// `election.tracks` (by the same name) with its effect.
    pub track_interfaces: Vec<String>,
    /// VRRPv2 with `auth = "ah"`: the IPsec-AH key, the password as
    /// given (at most 8 bytes; keepalived NUL-pads it to 8). `None`
    /// otherwise: a simple-text password is in `election.protocol`.
    pub ah_password: Option<Vec<u8>>,
}

impl InstanceConfig {
    /// The address family of the virtual addresses.
    pub fn family(&self) -> tandem_wire::Family {
        tandem_wire::Family::of(self.election.primary_address)
    }
}

/// A sync group (`[[sync_group]]`): if one member leaves the Active role,
/// every member does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncGroupConfig {
    /// Unique among sync groups.
    pub name: String,
    /// Names of member instances; each instance is in one group at most.
    pub instances: Vec<String>,
}

/// Parses and checks a configuration file's text. Errors give the line
/// and column but no file name; [`load`] adds it.
pub fn parse(text: &str) -> Result<DaemonConfig, ConfigError> {
    build::parse_text(text, None)
}

/// Reads, parses and checks the configuration file at `path`.
pub fn load(path: &Path) -> Result<DaemonConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    build::parse_text(&text, Some(path))
}

/// The checks that need the host: `host_addresses(interface)` gives the
/// addresses currently on an interface (before tandemd adds any).
///
/// - priority 255 (the address owner) must own every virtual address:
///   each must already be one of the interface's addresses;
/// - `source`, if given, must be one of the interface's addresses.
///
/// An interface with no address at all is not judged here (it may not
/// exist yet; the daemon reports a missing interface itself).
pub fn check_host(
    config: &DaemonConfig,
    host_addresses: &dyn Fn(&str) -> Vec<IpAddr>,
) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    for inst in &config.instances {
        let own = host_addresses(&inst.interface);
        if own.is_empty() {
            continue;
        }
        let base = format!("instance {:?}", inst.name);
        let at = |field: &str| At {
            location: None,
            field: format!("{base}.{field}"),
        };
        if inst.election.priority == tandem_wire::Priority::OWNER {
            for a in &inst.election.addresses {
                if !own.contains(a) {
                    errors.push(ConfigError::Invalid {
                        at: at("priority"),
                        problem: Box::new(Problem::NotOwner {
                            address: *a,
                            interface: inst.interface.clone(),
                        }),
                    });
                }
            }
        }
        if let Some(src) = inst.source {
            if !own.contains(&src) {
                errors.push(ConfigError::Invalid {
                    at: at("source"),
                    problem: Box::new(Problem::SourceNotLocal {
                        address: src,
                        interface: inst.interface.clone(),
                    }),
                });
            }
        }
    }
    errors
}
