//! tandemd's configuration: the TOML file of `tandemd run --config FILE`,
//! the flag form of `tandemd run` for one virtual router, and the checks
//! that make either acceptable before anything touches the host.
//!
//! [`parse`] / [`load`] read a file, [`from_flags`] reads [`RunFlags`];
//! both give a [`DaemonConfig`] whose every instance carries a
//! [`tandem_election::Config`] that has passed `Config::validate`.
//! [`check_host`] adds the checks that need the host (the address owner
//! must own its addresses). [`check_file`] is `tandemd check-config`:
//! every error of a file, and the host checks on the node, rendered by
//! [`render_human`] / [`render_json`]. docs/config.md documents every
//! field.
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
mod builder;
mod check;
pub mod document;
mod error;
mod flags;
mod raw;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_adopt;
#[cfg(test)]
mod tests_app_only;
#[cfg(test)]
mod tests_check;
#[cfg(test)]
mod tests_checks;
#[cfg(test)]
mod tests_cloud;
#[cfg(test)]
mod tests_document;
#[cfg(test)]
mod tests_files;
#[cfg(test)]
mod tests_replication;
#[cfg(test)]
mod tests_sync;

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use build::cloud::{
    role_election, CloudConfig, CloudProblem, Role, DEFAULT_ATTEMPTS, DEFAULT_HOOK_TIMEOUT,
    DEFAULT_RETRY_DELAY, MAX_ATTEMPTS, MAX_HOOK_TIMEOUT, MAX_RETRY_DELAY, PRIMARY_ADVSKEW,
    PRIMARY_PRIORITY, SECONDARY_ADVSKEW, SECONDARY_PRIORITY,
};
pub use builder::{Builder, CheckBuilder, InstanceBuilder, Vrrp2Auth};
pub use check::{
    check_config_command, check_file, check_host_links, check_text, netlink_host, render_human,
    render_json, CheckReport, HostLookup,
};
pub use document::{
    adopt, document, get, render, schema, schema_for, set, shared, unset, AdoptCode, AdoptError,
    Adopted, SCHEMA_VERSION,
};
pub use error::{At, ConfigError, Location, Problem};
pub use flags::{from_flags, RunFlags};

/// Where the state of tandemd lives by default (restart-guard history).
pub const DEFAULT_STATE_DIR: &str = "/var/lib/tandemd";

/// Where the control socket is by default.
pub const DEFAULT_CONTROL_SOCKET: &str = "/run/tandemd/tandemd.sock";

/// How long a notify command may run by default before it is killed.
pub const DEFAULT_NOTIFY_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest `notify_timeout` accepted: an hour.
pub const MAX_NOTIFY_TIMEOUT: Duration = Duration::from_secs(3600);

/// Everything `tandemd run` runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonConfig {
    /// The virtual routers, in the order of the file.
    pub instances: Vec<InstanceConfig>,
    /// Sync groups: members leave the Active role together.
    pub sync_groups: Vec<SyncGroupConfig>,
    /// Health checks instances track (`[[check]]`, docs/checks.md).
    pub checks: Vec<crate::checks::CheckConfig>,
    /// Settings of the whole daemon.
    pub global: GlobalConfig,
}

impl DaemonConfig {
    /// The instance named `name` (a scan: for many look-ups, use
    /// [`DaemonConfig::by_name`]).
    pub fn instance(&self, name: &str) -> Option<&InstanceConfig> {
        self.instances.iter().find(|i| i.name == name)
    }

    /// Every instance by its name, for look-ups in constant time (names
    /// are unique).
    pub fn by_name(&self) -> std::collections::HashMap<&str, &InstanceConfig> {
        self.instances
            .iter()
            .map(|i| (i.name.as_str(), i))
            .collect()
    }
}

/// Settings of the whole daemon (`[global]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobalConfig {
    /// Where tandemd keeps its state (the restart guard's start times).
    /// Absolute. Default [`DEFAULT_STATE_DIR`], made per network
    /// namespace by [`GlobalConfig::for_namespace`].
    pub state_dir: PathBuf,
    /// The control socket (`tandemd status`, `failover`, ...). Absolute.
    /// Default [`DEFAULT_CONTROL_SOCKET`], made per network namespace by
    /// [`GlobalConfig::for_namespace`]; `[global] control_socket`, flag
    /// `--control-socket`.
    pub control_socket: PathBuf,
    /// The HTTP health port, if configured (`[health]`, flag
    /// `--health-listen`).
    pub health: Option<HealthConfig>,
    /// Configuration sync with the partner (`[sync]`), if configured.
    pub sync: Option<SyncConfig>,
    /// Connection-table and persistence replication (`[replication]`),
    /// if configured.
    pub replication: Option<ReplicationConfig>,
    /// The pair's cloud settings (`[cloud]`): this unit's fixed role and
    /// the provider hooks, if configured.
    pub cloud: Option<CloudConfig>,
    /// Which paths the file or a flag gave.
    set: SetPaths,
}

/// Which of [`GlobalConfig`]'s paths were configured rather than defaulted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct SetPaths {
    state_dir: bool,
    control_socket: bool,
}

impl GlobalConfig {
    /// Sets `state_dir` as configured (`[global] state_dir`, `--state-dir`):
    /// [`GlobalConfig::for_namespace`] leaves it alone.
    pub fn set_state_dir(&mut self, dir: PathBuf) {
        self.state_dir = dir;
        self.set.state_dir = true;
    }

    /// Sets `control_socket` as configured (`[global] control_socket`,
    /// `--control-socket`): [`GlobalConfig::for_namespace`] leaves it alone.
    pub fn set_control_socket(&mut self, path: PathBuf) {
        self.control_socket = path;
        self.set.control_socket = true;
    }

    /// Replaces each path that is still the default with the default of
    /// the network namespace `ns` ([`crate::netns`]); configured paths win.
    pub fn for_namespace(&mut self, ns: &crate::netns::NetNs) {
        if !self.set.state_dir && self.state_dir == Path::new(DEFAULT_STATE_DIR) {
            self.state_dir = ns.state_dir();
        }
        if !self.set.control_socket && self.control_socket == Path::new(DEFAULT_CONTROL_SOCKET) {
            self.control_socket = ns.control_socket();
        }
    }
}

impl Default for GlobalConfig {
    fn default() -> GlobalConfig {
        GlobalConfig {
            state_dir: PathBuf::from(DEFAULT_STATE_DIR),
            control_socket: PathBuf::from(DEFAULT_CONTROL_SOCKET),
            health: None,
            sync: None,
            replication: None,
            cloud: None,
            set: SetPaths::default(),
        }
    }
}

/// The HTTP health port (`[health]`): 200 on the Active node, 503 on
/// the others, for cloud load-balancer probes; a liveness path; metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthConfig {
    /// Where to listen, `ADDR:PORT` (`[::]:PORT` for IPv6).
    pub listen: SocketAddr,
    /// The readiness path: 200 while Active, 503 otherwise. Default
    /// `"/health"`.
    pub path: String,
    /// The liveness path: 200 whenever the daemon runs. Default `"/live"`.
    pub live_path: String,
    /// Prometheus metrics. Default `"/metrics"`.
    pub metrics_path: String,
    /// The instances that must be Active for `path` to answer 200;
    /// empty: every instance.
    pub instances: Vec<String>,
    /// The body of a 200 on `path`. Default `"active\n"`.
    pub active_body: String,
    /// The body of a 503 on `path`. Default `"standby\n"`.
    pub standby_body: String,
}

impl HealthConfig {
    /// The defaults, listening on `listen`.
    pub fn new(listen: SocketAddr) -> HealthConfig {
        HealthConfig {
            listen,
            path: "/health".to_string(),
            live_path: "/live".to_string(),
            metrics_path: "/metrics".to_string(),
            instances: Vec::new(),
            active_body: "active\n".to_string(),
            standby_body: "standby\n".to_string(),
        }
    }
}

/// The default TCP port of configuration sync.
pub const DEFAULT_SYNC_PORT: u16 = 6973;

/// Configuration sync with the partner (`[sync]`, docs/config-sync.md).
/// Every field is a local setting: never sent, never overwritten.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncConfig {
    /// This unit's id (`unit = "a"`): `unit.<id>` values apply to it.
    pub unit: String,
    /// The cluster id both units share (`cluster = "..."`).
    pub cluster: String,
    /// Where to listen (`listen = "ADDR[:PORT]"`, port default
    /// [`DEFAULT_SYNC_PORT`]).
    pub listen: SocketAddr,
    /// The partner (`peer = "ADDR[:PORT]"`).
    pub peer: SocketAddr,
    /// The key file `tandemd sync keygen` wrote (`key_file`).
    pub key_file: PathBuf,
    /// `mode = "active-standby"` (default) or `"bidirectional"`.
    pub bidirectional: bool,
    /// Largest document accepted, bytes (`max_document`, default 64 MiB).
    pub max_document: u64,
    /// Address pairs for the rewrite rules (`addresses = [["OWN",
    /// "PARTNER"], ...]`): a value naming this unit's own address is sent
    /// as `@self` and a partner's address as `@partner`.
    pub addresses: Vec<(String, String)>,
    /// `app` fields whose values name a unit's address (`rewrite =
    /// ["app.geo.*.address", ...]`), as section and field patterns.
    pub rewrite: Vec<(String, String)>,
}

pub use build::replication::mask as mask_address;

/// The default UDP port of replication.
pub const DEFAULT_REPLICATION_PORT: u16 = 6974;

/// What the replication link speaks (`[replication] format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicationFormat {
    /// Tandem's own frames (docs/replication.md), the default.
    Tandem,
    /// conntrackd's sync messages, FT-FW mode (reliable): pairs with a
    /// conntrackd peer (docs/conntrackd.md).
    ConntrackdFtfw,
    /// conntrackd's sync messages, NOTRACK mode (best effort).
    ConntrackdNotrack,
}

impl ReplicationFormat {
    /// The name the file uses.
    pub fn name(self) -> &'static str {
        match self {
            ReplicationFormat::Tandem => "tandem",
            ReplicationFormat::ConntrackdFtfw => "conntrackd-ftfw",
            ReplicationFormat::ConntrackdNotrack => "conntrackd-notrack",
        }
    }
}

/// Connection-table and persistence replication with the partner
/// (`[replication]`, docs/replication.md). Every field is a local setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicationConfig {
    /// This unit's node id, 1 to 255 (`node`); the partner's differs.
    pub node: u8,
    /// The pair's cluster id, 1 to 65535 (`cluster`), the same on both.
    pub cluster: u16,
    /// The UDP address to bind (`listen`, default the unspecified address
    /// of the peer's family, port [`DEFAULT_REPLICATION_PORT`]).
    pub listen: SocketAddr,
    /// The partner, or a multicast group (`peer = "ADDR[:PORT]"`).
    pub peer: SocketAddr,
    /// The dedicated interface of the replication link, if any
    /// (`interface`): the socket is bound to it.
    pub interface: Option<String>,
    /// The key file `tandemd replication keygen` wrote (`key_file`):
    /// required for the tandem format; conntrackd's formats authenticate
    /// nothing and take none.
    pub key_file: Option<PathBuf>,
    /// The next key during a rotation (`next_key_file`): accepted as well.
    pub next_key_file: Option<PathBuf>,
    /// `format = "tandem"` (default), `"conntrackd-ftfw"` or
    /// `"conntrackd-notrack"`.
    pub format: ReplicationFormat,
    /// Replicate the kernel's connection-tracking table (`conntrack`,
    /// default true).
    pub conntrack: bool,
    /// Flows with an address in one of these prefixes are not replicated
    /// (`ignore = ["198.51.100.0/24", ...]`). The replication and sync
    /// ports' own flows never are.
    pub ignore: Vec<(IpAddr, u8)>,
    /// Longest a change waits before it is sent (`flush_ms`, 1 to 50,
    /// default 5).
    pub flush: Duration,
    /// Bulk resync pacing, bits per second (`bulk_rate_mbit`, default 200).
    pub bulk_rate: u64,
    /// Most flows kept, each side (`max_flows`, default 4,194,304).
    pub max_flows: usize,
    /// How often the kernel table is read again to refresh lifetimes
    /// (`refresh`, seconds, default 30; 0: never).
    pub refresh: Duration,
}

/// A command run on every state change of an instance (`notify`,
/// `notify_timeout`), in order per instance, never blocking the election.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyConfig {
    /// Run with `/bin/sh -c`; not empty.
    pub command: String,
    /// Killed after this long; more than 0, at most
    /// [`MAX_NOTIFY_TIMEOUT`]. Default [`DEFAULT_NOTIFY_TIMEOUT`].
    pub timeout: Duration,
}

/// How the notify commands get their arguments (`notify_args`).
///
/// `None` is Tandem's own form: no arguments, the transition in the
/// environment (docs/hooks.md). The other two keep the scripts of the
/// daemon a node replaces working unchanged: the arguments are appended
/// to the command (`/bin/sh -c 'COMMAND "$@"'`), the environment is set
/// as always.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum NotifyArgs {
    /// No arguments (`notify_args = "none"`, the default).
    #[default]
    None,
    /// keepalived's (`"keepalived"`): `notify` gets `INSTANCE NAME STATE
    /// PRIORITY` (a sync group's: `GROUP NAME STATE 0`), STATE one of
    /// `MASTER`, `BACKUP`, `FAULT`, `STOP`; the per-state commands get none.
    Keepalived,
    /// ucarp's (`"ucarp"`, instances only): every command gets `INTERFACE
    /// ADDRESS`, then `xparam` when given (ucarp's `--xparam`).
    Ucarp {
        /// `notify_xparam`: one more argument.
        xparam: Option<String>,
    },
}

impl NotifyArgs {
    /// The name in the file: `none`, `keepalived`, `ucarp`.
    pub fn name(&self) -> &'static str {
        match self {
            NotifyArgs::None => "none",
            NotifyArgs::Keepalived => "keepalived",
            NotifyArgs::Ucarp { .. } => "ucarp",
        }
    }
}

/// Commands run on entering one state (`notify_active`, `notify_backup`,
/// `notify_fault`, `notify_stop`: keepalived's `notify_master` ...,
/// ucarp's up and down scripts), besides `notify`, and how every
/// command of the instance or group gets its arguments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateHooks {
    /// `notify_args`.
    pub args: NotifyArgs,
    /// On entering Active (`notify_active`).
    pub active: Option<NotifyConfig>,
    /// On entering Backup (`notify_backup`), at start too.
    pub backup: Option<NotifyConfig>,
    /// On entering Fault (`notify_fault`).
    pub fault: Option<NotifyConfig>,
    /// On stopping: entering Initialize (`notify_stop`).
    pub stop: Option<NotifyConfig>,
}

impl StateHooks {
    /// The command for entering `state`, if any.
    pub fn for_state(&self, state: tandem_election::State) -> Option<&NotifyConfig> {
        use tandem_election::State;
        match state {
            State::Active => self.active.as_ref(),
            State::Backup => self.backup.as_ref(),
            State::Fault => self.fault.as_ref(),
            State::Initialize => self.stop.as_ref(),
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
    /// Checks tracked (`track = [{ check = "NAME" }]`); each is also in
    /// `election.tracks` by the check's name.
    pub track_checks: Vec<crate::checks::TrackedCheck>,
    /// VRRPv2 with `auth = "ah"`: the IPsec-AH key, the password as
    /// given (at most 8 bytes; keepalived NUL-pads it to 8). `None`
    /// otherwise: a simple-text password is in `election.protocol`.
    pub ah_password: Option<Vec<u8>>,
    /// The command run on each state change, if any.
    pub notify: Option<NotifyConfig>,
    /// The commands run on entering one state, and `notify_args`.
    pub hooks: StateHooks,
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
    /// The command run on each change of the group's state (`notify`):
    /// Active when every member is, Fault when one is, Backup when one
    /// leaves Active, stopped when all are (docs/hooks.md).
    pub notify: Option<NotifyConfig>,
    /// The group's per-state commands and `notify_args` (`none` or
    /// `keepalived`).
    pub hooks: StateHooks,
}

/// Parses and checks a configuration file's text. Errors give the line
/// and column but no file name; [`load`] adds it.
pub fn parse(text: &str) -> Result<DaemonConfig, ConfigError> {
    build::parse_text(text, None)
}

/// [`parse`], with every error found rather than the first: a TOML
/// syntax or shape error is alone; past that, each instance, sync group
/// and table gives its first error. Never `Err` of an empty list.
pub fn parse_all(text: &str) -> Result<DaemonConfig, Vec<ConfigError>> {
    build::parse_text_all(text, None)
}

/// The largest configuration file read: 32 MiB. The 100,000-instance
/// file of scripts/bench-check-config.sh is 9.1 MiB and takes 340 MiB of
/// memory to check; the limit bounds that at about four times as much.
pub const MAX_CONFIG_BYTES: u64 = 32 << 20;

/// Reads, parses and checks the configuration file at `path`: a regular
/// file of at most [`MAX_CONFIG_BYTES`], UTF-8 text.
pub fn load(path: &Path) -> Result<DaemonConfig, ConfigError> {
    let text = read_text(path)?;
    build::parse_text(&text, Some(path))
}

/// [`parse`] of the text of the file at `path` (errors name it).
pub(crate) fn parse_at(text: &str, path: &Path) -> Result<DaemonConfig, ConfigError> {
    build::parse_text(text, Some(path))
}

/// The text of the configuration file at `path` (see [`load`]).
pub(crate) fn read_text(path: &Path) -> Result<String, ConfigError> {
    let bytes =
        crate::file::read_limited(path, MAX_CONFIG_BYTES).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
    String::from_utf8(bytes).map_err(|e| {
        let good = e.utf8_error().valid_up_to();
        let bytes = e.into_bytes();
        let text = String::from_utf8_lossy(&bytes[..good]);
        ConfigError::NotUtf8 {
            location: Location::of(&text, good, Some(path.to_path_buf())),
            byte: bytes.get(good).copied().unwrap_or(0),
        }
    })
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
        if !own.is_empty() {
            errors.extend(host_errors(inst, &own));
        }
    }
    errors
}

/// The address-owner and source checks of one instance against `own`,
/// its interface's addresses.
fn host_errors(inst: &InstanceConfig, own: &[IpAddr]) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    let at = |field: &str| At {
        location: None,
        field: format!("instance {:?}.{field}", inst.name),
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
    errors
}
