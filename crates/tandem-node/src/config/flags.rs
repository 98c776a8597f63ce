//! The flag form of `tandemd run`: one virtual router, no file.

use std::net::IpAddr;
use std::path::PathBuf;

use super::build::cloud::{apply_flag_role, flag_role, RoleFields};
use super::build::{build_flag_global, build_flag_instance};
use super::raw::{nowhere, RawInstance, RawTrack};
use super::{ConfigError, DaemonConfig, GlobalConfig};

/// `tandemd run --interface IFACE --vrid N --address ADDR/PREFIX ...`:
/// one virtual router from flags alone. Each flag sets the file field of
/// the same name (docs/config.md), with the same defaults and checks; an
/// error names the flag.
#[derive(Debug, Clone, Default, PartialEq, clap::Args)]
pub struct RunFlags {
    /// The interface the virtual router runs on.
    #[arg(long, value_name = "IFACE")]
    pub interface: Option<String>,
    /// The virtual router id (VRID; CARP's VHID), 1 to 255.
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub vrid: Option<i64>,
    /// Priority, 1 to 255 (default 100; 255 = owner of the addresses).
    /// VRRP only: CARP ranks by --advskew.
    #[arg(long, value_name = "P", allow_negative_numbers = true)]
    pub priority: Option<i64>,
    /// A virtual address, ADDRESS or ADDRESS/PREFIX (repeat for each).
    #[arg(long = "address", value_name = "ADDR[/PREFIX]")]
    pub addresses: Vec<String>,
    /// vrrp3 (default), vrrp2 or carp.
    #[arg(long, value_name = "PROTOCOL")]
    pub protocol: Option<String>,
    /// Advert interval in seconds (default 1): VRRPv3 0.01 to 40.95 in
    /// steps of 0.01; VRRPv2 and CARP (advbase) whole seconds 1 to 255.
    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true)]
    pub interval: Option<f64>,
    /// VRRPv2 password (simple text unless --auth ah) or CARP password.
    #[arg(long, value_name = "P")]
    pub password: Option<String>,
    /// VRRPv2 authentication: none, pass or ah (default: pass with a
    /// --password, else none).
    #[arg(long, value_name = "AUTH")]
    pub auth: Option<String>,
    /// CARP advskew, 0 to 255 (lower wins; default 0).
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub advskew: Option<i64>,
    /// VRRPv3 IPv4 checksum: auto (default), rfc9568 or ipv4-pseudo-header.
    #[arg(long, value_name = "MODE")]
    pub checksum: Option<String>,
    /// Send adverts by unicast to this peer instead of multicast (repeat
    /// for each).
    #[arg(long = "unicast-peer", value_name = "ADDR")]
    pub unicast_peers: Vec<IpAddr>,
    /// Send adverts to the interface's IPv4 broadcast address.
    #[arg(long)]
    pub broadcast: bool,
    /// The source address of adverts (default: the interface's own).
    #[arg(long, value_name = "ADDR")]
    pub source: Option<IpAddr>,
    /// Do not take the Active role from a lower-priority router.
    #[arg(long)]
    pub no_preempt: bool,
    /// Accept mode: the Active router accepts packets to the virtual
    /// addresses it does not own.
    #[arg(long)]
    pub accept: bool,
    /// Carry the virtual addresses on a macvlan with the virtual MAC.
    #[arg(long)]
    pub vmac: bool,
    /// An interface whose link going down puts the router in Fault
    /// (repeat for each).
    #[arg(long = "track-interface", value_name = "IFACE")]
    pub track_interfaces: Vec<String>,
    /// Run this shell command (/bin/sh -c) on every state change, with
    /// the instance, old and new state in its environment.
    #[arg(long, value_name = "CMD")]
    pub notify: Option<String>,
    /// Kill the notify command after this many seconds (default 10; more
    /// than 0, at most 3600).
    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true)]
    pub notify_timeout: Option<f64>,
    /// The control socket (default: this network namespace's,
    /// /run/tandemd/tandemd.sock in the initial one; docs/config.md); with
    /// --config, overrides the file's `control_socket`.
    #[arg(long, alias = "socket", value_name = "PATH")]
    pub control_socket: Option<PathBuf>,
    /// Serve the HTTP health port on ADDR:PORT (200 while Active, 503
    /// otherwise, on /health; /live; /metrics); with --config, overrides
    /// the file's `[health] listen`.
    #[arg(long, value_name = "ADDR:PORT")]
    pub health_listen: Option<String>,
    /// This unit's fixed role in the pair: primary or secondary (the
    /// primary is Active whenever it is healthy); `[cloud] role`.
    #[arg(long, value_name = "ROLE")]
    pub role: Option<String>,
    /// With --role: the primary does not take the Active role back when it
    /// returns; `[cloud] failback = false`.
    #[arg(long)]
    pub no_failback: bool,
}

impl RunFlags {
    /// Applies `--control-socket` and `--health-listen` to `global` (a
    /// file's, under `--config`): each given flag overrides the file;
    /// `--health-listen` without a `[health]` table serves the defaults.
    pub fn apply_global(&self, global: &mut GlobalConfig) -> Result<(), ConfigError> {
        build_flag_global(
            global,
            self.control_socket
                .as_ref()
                .map(|p| p.to_string_lossy().into_owned()),
            self.health_listen.clone(),
        )
    }
}

/// The configuration the flags give: one instance, no sync group, the
/// default [`GlobalConfig`] but for `--control-socket` and
/// `--health-listen`.
pub fn from_flags(f: &RunFlags) -> Result<DaemonConfig, ConfigError> {
    let strings = |v: &[IpAddr]| v.iter().map(|a| nowhere(a.to_string())).collect::<Vec<_>>();
    let raw = RawInstance {
        interface: f.interface.clone().map(nowhere),
        vrid: f.vrid.map(nowhere),
        priority: f.priority.map(nowhere),
        addresses: (!f.addresses.is_empty())
            .then(|| nowhere(f.addresses.iter().cloned().map(nowhere).collect())),
        protocol: f.protocol.clone().map(nowhere),
        interval: f.interval.map(nowhere),
        password: f.password.clone().map(nowhere),
        auth: f.auth.clone().map(nowhere),
        advskew: f.advskew.map(nowhere),
        checksum: f.checksum.clone().map(nowhere),
        unicast_peers: (!f.unicast_peers.is_empty()).then(|| nowhere(strings(&f.unicast_peers))),
        broadcast: f.broadcast.then(|| nowhere(true)),
        source: f.source.map(|a| nowhere(a.to_string())),
        preempt: f.no_preempt.then(|| nowhere(false)),
        accept: f.accept.then(|| nowhere(true)),
        vmac: f.vmac.then(|| nowhere(true)),
        notify: f.notify.clone().map(nowhere),
        notify_timeout: f.notify_timeout.map(nowhere),
        track: (!f.track_interfaces.is_empty()).then(|| {
            nowhere(
                f.track_interfaces
                    .iter()
                    .map(|t| {
                        nowhere(RawTrack {
                            interface: Some(nowhere(t.clone())),
                            check: None,
                            weight: None,
                            fault: None,
                        })
                    })
                    .collect(),
            )
        }),
        ..RawInstance::default()
    };
    let role = flag_role(f.role.clone(), f.no_failback)?;
    let fields = RoleFields::of(&raw);
    let mut instance = build_flag_instance(raw)?;
    if let Some(role) = role {
        apply_flag_role(role, &fields, &mut instance)?;
    }
    let mut global = GlobalConfig::default();
    f.apply_global(&mut global)?;
    if let Some(role) = role {
        global.cloud = Some(super::CloudConfig {
            role: Some(role.role),
            failback: role.failback,
            ..super::CloudConfig::default()
        });
    }
    Ok(DaemonConfig {
        instances: vec![instance],
        sync_groups: Vec::new(),
        checks: Vec::new(),
        global,
    })
}
