//! A typed builder for a [`DaemonConfig`], for an appliance that embeds
//! the whole node and configures it in code rather than with a file.
//!
//! ```
//! use std::time::Duration;
//! use tandem_node::config::{Builder, InstanceBuilder};
//! use tandem_election::TrackEffect;
//!
//! let config = Builder::new()
//!     .instance(
//!         InstanceBuilder::vrrp3("eth0", 51)
//!             .name("web")
//!             .priority(200)
//!             .address("192.0.2.100".parse().unwrap(), 24)
//!             .interval(Duration::from_millis(100))
//!             .track("backend", TrackEffect::Weight(60)),
//!     )
//!     .control_socket("/run/appliance/tandem.sock")
//!     .build()
//!     .expect("a valid configuration");
//! assert_eq!(config.instances[0].name, "web");
//! ```
//!
//! [`Builder::build`] writes the settings into the very structure the TOML
//! parser produces and runs it through the same checks, so a builder
//! configuration equals the file's for the same settings, and an invalid
//! one gets the same [`ConfigError`] (field path and problem; no line and
//! column, as there is no file). docs/config.md documents each setting
//! under the file field of the same name; docs/embedding.md the builder.

mod check;

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use tandem_election::{ChecksumPolicy, TrackEffect};

use super::build::{build_config, Src};
use super::raw::{
    nowhere, RawAnnounce, RawConfig, RawGlobal, RawHealth, RawInstance, RawRestartGuard,
    RawSyncGroup, RawTrack, S,
};
use super::{ConfigError, DaemonConfig, HealthConfig};
pub use check::CheckBuilder;

/// VRRPv2 authentication (`auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vrrp2Auth {
    /// No authentication (`"none"`).
    None,
    /// The simple text password (`"pass"`).
    Pass,
    /// IPsec Authentication Header (`"ah"`).
    Ah,
}

impl Vrrp2Auth {
    /// The file's word for it.
    pub const fn name(self) -> &'static str {
        match self {
            Vrrp2Auth::None => "none",
            Vrrp2Auth::Pass => "pass",
            Vrrp2Auth::Ah => "ah",
        }
    }
}

/// The configuration of the whole node: instances, sync groups and the
/// global settings. See the module docs.
#[derive(Debug, Clone, Default)]
pub struct Builder {
    instances: Vec<InstanceBuilder>,
    checks: Vec<CheckBuilder>,
    sync_groups: Vec<(String, Vec<String>)>,
    state_dir: Option<PathBuf>,
    control_socket: Option<PathBuf>,
    restart_guard: Option<GuardSettings>,
    health: Option<HealthConfig>,
    cloud: Option<super::CloudConfig>,
}

#[derive(Debug, Clone, Copy)]
struct GuardSettings {
    max_starts: usize,
    window: Duration,
    expire: bool,
}

impl GuardSettings {
    fn raw(self) -> S<RawRestartGuard> {
        nowhere(RawRestartGuard {
            max_starts: Some(nowhere(i64::try_from(self.max_starts).unwrap_or(i64::MAX))),
            window: Some(nowhere(self.window.as_secs_f64())),
            expire: Some(nowhere(self.expire)),
        })
    }
}

impl Builder {
    /// No instance yet, the default global settings.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Adds a virtual router (`[[instance]]`), after those added before.
    pub fn instance(mut self, instance: InstanceBuilder) -> Builder {
        self.instances.push(instance);
        self
    }

    /// Adds a health check (`[[check]]`, docs/checks.md) that instances
    /// follow with [`InstanceBuilder::track_check`].
    pub fn check(mut self, check: CheckBuilder) -> Builder {
        self.checks.push(check);
        self
    }

    /// Adds a sync group (`[[sync_group]]`) of the instances named.
    pub fn sync_group<I, T>(mut self, name: impl Into<String>, instances: I) -> Builder
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        let members = instances.into_iter().map(Into::into).collect();
        self.sync_groups.push((name.into(), members));
        self
    }

    /// `[global] state_dir`: where the restart guard keeps its history.
    /// Absolute.
    pub fn state_dir(mut self, path: impl Into<PathBuf>) -> Builder {
        self.state_dir = Some(path.into());
        self
    }

    /// `[global] control_socket`. Absolute.
    pub fn control_socket(mut self, path: impl Into<PathBuf>) -> Builder {
        self.control_socket = Some(path.into());
        self
    }

    /// `[global] restart_guard`: the default of every instance.
    pub fn restart_guard(mut self, max_starts: usize, window: Duration, expire: bool) -> Builder {
        self.restart_guard = Some(GuardSettings {
            max_starts,
            window,
            expire,
        });
        self
    }

    /// `[health]`: the HTTP health port ([`HealthConfig::new`] gives the
    /// defaults for a listen address).
    pub fn health(mut self, health: HealthConfig) -> Builder {
        self.health = Some(health);
        self
    }

    /// `[cloud]`: this unit's fixed role and the provider hook, checked as
    /// the file's (`failback` counts only with a role; the hook settings
    /// only with a hook).
    pub fn cloud(mut self, cloud: super::CloudConfig) -> Builder {
        self.cloud = Some(cloud);
        self
    }

    /// The checked configuration, or the first error (as
    /// [`super::parse`] would give it for the same settings in a file).
    pub fn build(self) -> Result<DaemonConfig, ConfigError> {
        self.build_all().map_err(|mut e| e.swap_remove(0))
    }

    /// [`Builder::build`] with every error found (as [`super::parse_all`]);
    /// never `Err` of an empty list.
    pub fn build_all(self) -> Result<DaemonConfig, Vec<ConfigError>> {
        let src = Src::new("", None, false);
        build_config(&src, self.raw())
    }

    fn raw(self) -> RawConfig {
        let path = |p: PathBuf| nowhere(p.to_string_lossy().into_owned());
        let global = (self.state_dir.is_some()
            || self.control_socket.is_some()
            || self.restart_guard.is_some())
        .then(|| {
            nowhere(RawGlobal {
                state_dir: self.state_dir.map(path),
                control_socket: self.control_socket.map(path),
                restart_guard: self.restart_guard.map(GuardSettings::raw),
            })
        });
        let health = self.health.map(|h| {
            nowhere(RawHealth {
                listen: Some(nowhere(h.listen.to_string())),
                path: Some(nowhere(h.path)),
                live_path: Some(nowhere(h.live_path)),
                metrics_path: Some(nowhere(h.metrics_path)),
                instances: (!h.instances.is_empty()).then(|| strings(h.instances)),
                active_body: Some(nowhere(h.active_body)),
                standby_body: Some(nowhere(h.standby_body)),
            })
        });
        let cloud = self.cloud.map(|c| {
            let hooks = c.has_hooks();
            let secs = |d: Duration| nowhere(d.as_secs_f64());
            nowhere(super::build::cloud::RawCloud {
                role: c.role.map(|r| nowhere(r.name().to_string())),
                failback: c.role.map(|_| nowhere(c.failback)),
                on_active: c.on_active.map(nowhere),
                on_standby: c.on_standby.map(nowhere),
                instances: (!c.instances.is_empty()).then(|| strings(c.instances)),
                sync_group: c.sync_group.map(nowhere),
                hook_timeout: hooks.then(|| secs(c.hook_timeout)),
                attempts: hooks.then(|| nowhere(i64::from(c.attempts))),
                retry_delay: hooks.then(|| secs(c.retry_delay)),
            })
        });
        RawConfig {
            global,
            health,
            cloud,
            instance: Some(self.instances.into_iter().map(|i| nowhere(i.raw)).collect()),
            check: (!self.checks.is_empty())
                .then(|| self.checks.into_iter().map(|c| nowhere(c.raw)).collect()),
            sync_group: (!self.sync_groups.is_empty()).then(|| {
                self.sync_groups
                    .into_iter()
                    .map(|(name, members)| {
                        nowhere(RawSyncGroup {
                            name: Some(nowhere(name)),
                            instances: Some(strings(members)),
                            ..RawSyncGroup::default()
                        })
                    })
                    .collect()
            }),
            ..RawConfig::default()
        }
    }
}

fn strings(v: Vec<String>) -> S<Vec<S<String>>> {
    nowhere(v.into_iter().map(nowhere).collect())
}

/// One virtual router (`[[instance]]`). Each setting is the file field of
/// the same name, with the same default; what does not fit the protocol
/// (a priority for CARP, a password for VRRPv3) is refused by
/// [`Builder::build`] exactly as in a file.
#[derive(Debug, Clone)]
pub struct InstanceBuilder {
    raw: RawInstance,
}

impl InstanceBuilder {
    fn new(protocol: &str, interface: &str, vrid: u8) -> InstanceBuilder {
        InstanceBuilder {
            raw: RawInstance {
                protocol: Some(nowhere(protocol.to_string())),
                interface: Some(nowhere(interface.to_string())),
                vrid: Some(nowhere(i64::from(vrid))),
                ..RawInstance::default()
            },
        }
    }

    /// A VRRPv3 router (RFC 9568) on `interface` with this VRID.
    pub fn vrrp3(interface: &str, vrid: u8) -> InstanceBuilder {
        InstanceBuilder::new("vrrp3", interface, vrid)
    }

    /// A VRRPv2 router (RFC 3768), IPv4 only.
    pub fn vrrp2(interface: &str, vrid: u8) -> InstanceBuilder {
        InstanceBuilder::new("vrrp2", interface, vrid)
    }

    /// A CARP router with this VHID; it needs a [`password`](Self::password).
    pub fn carp(interface: &str, vhid: u8) -> InstanceBuilder {
        InstanceBuilder::new("carp", interface, vhid)
    }

    /// `name`; default `<interface>-<vrid>-<ipv4|ipv6>`.
    pub fn name(mut self, name: impl Into<String>) -> InstanceBuilder {
        self.raw.name = Some(nowhere(name.into()));
        self
    }

    /// `priority`, 1 to 255 (VRRP only; default 100).
    pub fn priority(mut self, priority: u8) -> InstanceBuilder {
        self.raw.priority = Some(nowhere(i64::from(priority)));
        self
    }

    /// Adds a virtual address with its prefix length (`"ADDRESS/PREFIX"`
    /// in `addresses`), after those added before.
    pub fn address(mut self, address: IpAddr, prefix: u8) -> InstanceBuilder {
        let list = self
            .raw
            .addresses
            .get_or_insert_with(|| nowhere(Vec::new()));
        list.get_mut().push(nowhere(format!("{address}/{prefix}")));
        self
    }

    /// `interval`: the advert interval (VRRPv3: 10 ms steps up to 40.95 s;
    /// VRRPv2 and CARP: whole seconds).
    pub fn interval(mut self, interval: Duration) -> InstanceBuilder {
        self.raw.interval = Some(nowhere(interval.as_secs_f64()));
        self
    }

    /// `preempt` (default on).
    pub fn preempt(mut self, on: bool) -> InstanceBuilder {
        self.raw.preempt = Some(nowhere(on));
        self
    }

    /// `preempt_delay`.
    pub fn preempt_delay(mut self, delay: Duration) -> InstanceBuilder {
        self.raw.preempt_delay = Some(nowhere(delay.as_secs_f64()));
        self
    }

    /// `accept` (Accept_Mode).
    pub fn accept(mut self, on: bool) -> InstanceBuilder {
        self.raw.accept = Some(nowhere(on));
        self
    }

    /// `checksum`: VRRPv3 IPv4 checksum form (default auto).
    pub fn checksum(mut self, policy: ChecksumPolicy) -> InstanceBuilder {
        let word = match policy {
            ChecksumPolicy::Rfc9568 => "rfc9568",
            ChecksumPolicy::Ipv4PseudoHeader => "ipv4-pseudo-header",
            ChecksumPolicy::Auto => "auto",
        };
        self.raw.checksum = Some(nowhere(word.to_string()));
        self
    }

    /// `password`: VRRPv2 (simple text, or the AH key) or CARP.
    pub fn password(mut self, password: impl Into<String>) -> InstanceBuilder {
        self.raw.password = Some(nowhere(password.into()));
        self
    }

    /// `auth`: VRRPv2 authentication.
    pub fn auth(mut self, auth: Vrrp2Auth) -> InstanceBuilder {
        self.raw.auth = Some(nowhere(auth.name().to_string()));
        self
    }

    /// `advskew`: CARP's rank, lower wins (default 0).
    pub fn advskew(mut self, advskew: u8) -> InstanceBuilder {
        self.raw.advskew = Some(nowhere(i64::from(advskew)));
        self
    }

    /// `demotion`: CARP's demotion counter.
    pub fn demotion(mut self, demotion: u8) -> InstanceBuilder {
        self.raw.demotion = Some(nowhere(i64::from(demotion)));
        self
    }

    /// `source`: the source address of adverts (default the interface's).
    pub fn source(mut self, source: IpAddr) -> InstanceBuilder {
        self.raw.source = Some(nowhere(source.to_string()));
        self
    }

    /// Adds a unicast peer (`unicast_peers`): adverts go to each peer
    /// instead of the multicast group.
    pub fn unicast_peer(mut self, peer: IpAddr) -> InstanceBuilder {
        let list = self
            .raw
            .unicast_peers
            .get_or_insert_with(|| nowhere(Vec::new()));
        list.get_mut().push(nowhere(peer.to_string()));
        self
    }

    /// `broadcast`: adverts to the interface's IPv4 broadcast address.
    pub fn broadcast(mut self, on: bool) -> InstanceBuilder {
        self.raw.broadcast = Some(nowhere(on));
        self
    }

    /// `vmac`: the addresses on a macvlan with the virtual MAC.
    pub fn vmac(mut self, on: bool) -> InstanceBuilder {
        self.raw.vmac = Some(nowhere(on));
        self
    }

    /// Adds a peer whose adverts are accepted with any TTL / hop limit
    /// (`ttl_exempt`; keepalived's IPv6 unicast adverts carry 64).
    pub fn ttl_exempt(mut self, peer: IpAddr) -> InstanceBuilder {
        let list = self
            .raw
            .ttl_exempt
            .get_or_insert_with(|| nowhere(Vec::new()));
        list.get_mut().push(nowhere(peer.to_string()));
        self
    }

    /// `ha_timeout`: the detection time, instead of `interval` (the
    /// interval becomes a third of it).
    pub fn ha_timeout(mut self, timeout: Duration) -> InstanceBuilder {
        self.raw.ha_timeout = Some(nowhere(timeout.as_secs_f64()));
        self
    }

    /// `silence_intervals`: report "no adverts received" after this many
    /// silent intervals (0: never).
    pub fn silence_intervals(mut self, intervals: u32) -> InstanceBuilder {
        self.raw.silence_intervals = Some(nowhere(i64::from(intervals)));
        self
    }

    /// `vrrp2_compat`: VRRPv3 over IPv4 also sends and accepts VRRPv2
    /// adverts while migrating (RFC 9568 section 8.4).
    pub fn vrrp2_compat(mut self, on: bool) -> InstanceBuilder {
        self.raw.vrrp2_compat = Some(nowhere(on));
        self
    }

    /// `initial_wait`: how long to stay passive after start while the
    /// partner is silent.
    pub fn initial_wait(mut self, wait: Duration) -> InstanceBuilder {
        self.raw.initial_wait = Some(nowhere(wait.as_secs_f64()));
        self
    }

    /// `announce`: gratuitous ARP / unsolicited NA frames per address on
    /// taking over, their spacing, and the refresh period (`None`: none).
    pub fn announce(
        mut self,
        repeat: u8,
        spacing: Duration,
        refresh_after: Option<Duration>,
    ) -> InstanceBuilder {
        self.raw.announce = Some(nowhere(RawAnnounce {
            repeat: Some(nowhere(i64::from(repeat))),
            spacing: Some(nowhere(spacing.as_secs_f64())),
            refresh_after: Some(nowhere(refresh_after.map_or(0.0, |d| d.as_secs_f64()))),
        }));
        self
    }

    /// Adds a tracked object (`track`): an interface, whose link state
    /// the node follows, or any name an embedder reports with
    /// [`NodeHandle::set_track`](crate::drive::NodeHandle::set_track).
    /// While it is down the priority drops by the weight, or the router
    /// goes to Fault.
    pub fn track(self, name: impl Into<String>, effect: TrackEffect) -> InstanceBuilder {
        let (weight, fault) = match effect {
            TrackEffect::Weight(w) => (Some(nowhere(i64::from(w))), None),
            TrackEffect::Fault => (None, Some(nowhere(true))),
        };
        self.push_track(RawTrack {
            interface: Some(nowhere(name.into())),
            check: None,
            weight,
            fault,
        })
    }

    /// Follows a health check added with [`Builder::check`] (`track =
    /// [{ check = NAME }]`): while it is down the priority drops by the
    /// weight, or the router goes to Fault; `None` takes the check's own
    /// weight, else Fault.
    pub fn track_check(
        self,
        check: impl Into<String>,
        effect: Option<TrackEffect>,
    ) -> InstanceBuilder {
        let (weight, fault) = match effect {
            Some(TrackEffect::Weight(w)) => (Some(nowhere(i64::from(w))), None),
            Some(TrackEffect::Fault) => (None, Some(nowhere(true))),
            None => (None, None),
        };
        self.push_track(RawTrack {
            interface: None,
            check: Some(nowhere(check.into())),
            weight,
            fault,
        })
    }

    /// Follows a file check with a signed multiplier (`track = [{ check =
    /// NAME, weight = FACTOR }]`, -255 to 255): the file's number times
    /// `factor`, when negative, lowers the priority by its size.
    pub fn track_file_check(self, check: impl Into<String>, factor: i16) -> InstanceBuilder {
        self.push_track(RawTrack {
            interface: None,
            check: Some(nowhere(check.into())),
            weight: Some(nowhere(i64::from(factor))),
            fault: None,
        })
    }

    fn push_track(mut self, track: RawTrack) -> InstanceBuilder {
        let list = self.raw.track.get_or_insert_with(|| nowhere(Vec::new()));
        list.get_mut().push(nowhere(track));
        self
    }

    /// `restart_guard` of this instance.
    pub fn restart_guard(
        mut self,
        max_starts: usize,
        window: Duration,
        expire: bool,
    ) -> InstanceBuilder {
        self.raw.restart_guard = Some(
            GuardSettings {
                max_starts,
                window,
                expire,
            }
            .raw(),
        );
        self
    }

    /// `notify`: a command (`/bin/sh -c`) run on each state change.
    pub fn notify(mut self, command: impl Into<String>) -> InstanceBuilder {
        self.raw.notify = Some(nowhere(command.into()));
        self
    }

    /// `notify_timeout` (default 10 s).
    pub fn notify_timeout(mut self, timeout: Duration) -> InstanceBuilder {
        self.raw.notify_timeout = Some(nowhere(timeout.as_secs_f64()));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{parse, parse_all, Problem};

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// The same settings as `TOML` below.
    fn full() -> Builder {
        let mut health = HealthConfig::new("127.0.0.1:8080".parse().unwrap());
        health.instances = vec!["web".into()];
        Builder::new()
            .instance(
                InstanceBuilder::vrrp3("eth0", 51)
                    .name("web")
                    .priority(200)
                    .address(ip("192.0.2.100"), 24)
                    .address(ip("192.0.2.101"), 32)
                    .interval(Duration::from_millis(100))
                    .preempt(false)
                    .preempt_delay(Duration::from_secs(2))
                    .checksum(ChecksumPolicy::Rfc9568)
                    .track("backend", TrackEffect::Weight(60))
                    .track("eth1", TrackEffect::Fault)
                    .announce(3, Duration::from_millis(200), Some(Duration::from_secs(30)))
                    .notify("/usr/local/bin/ha-notify")
                    .notify_timeout(Duration::from_secs(5)),
            )
            .instance(
                InstanceBuilder::vrrp2("eth0", 52)
                    .name("db")
                    .address(ip("192.0.2.110"), 24)
                    .password("secret")
                    .auth(Vrrp2Auth::Pass)
                    .unicast_peer(ip("192.0.2.2"))
                    .ttl_exempt(ip("192.0.2.2"))
                    .ha_timeout(Duration::from_secs(6))
                    .silence_intervals(10),
            )
            .instance(
                InstanceBuilder::carp("eth1", 9)
                    .address(ip("198.51.100.9"), 24)
                    .advskew(100)
                    .password("carp-pass")
                    .interval(Duration::from_secs(2)),
            )
            .sync_group("fw", ["web", "db"])
            .state_dir("/var/lib/appliance")
            .control_socket("/run/appliance/tandem.sock")
            .restart_guard(4, Duration::from_secs(600), true)
            .health(health)
    }

    const TOML: &str = r#"
[global]
state_dir = "/var/lib/appliance"
control_socket = "/run/appliance/tandem.sock"
restart_guard = { max_starts = 4, window = 600, expire = true }

[health]
listen = "127.0.0.1:8080"
instances = ["web"]

[[instance]]
name = "web"
protocol = "vrrp3"
interface = "eth0"
vrid = 51
priority = 200
addresses = ["192.0.2.100/24", "192.0.2.101/32"]
interval = 0.1
preempt = false
preempt_delay = 2
checksum = "rfc9568"
track = [{ interface = "backend", weight = 60 }, { interface = "eth1", fault = true }]
announce = { repeat = 3, spacing = 0.2, refresh_after = 30 }
notify = "/usr/local/bin/ha-notify"
notify_timeout = 5

[[instance]]
name = "db"
protocol = "vrrp2"
interface = "eth0"
vrid = 52
addresses = ["192.0.2.110/24"]
password = "secret"
auth = "pass"
unicast_peers = ["192.0.2.2"]
ttl_exempt = ["192.0.2.2"]
ha_timeout = 6
silence_intervals = 10

[[instance]]
protocol = "carp"
interface = "eth1"
vrid = 9
addresses = ["198.51.100.9/24"]
advskew = 100
password = "carp-pass"
interval = 2

[[sync_group]]
name = "fw"
instances = ["web", "db"]
"#;

    #[test]
    fn builder_equals_the_file_for_the_same_settings() {
        let from_file = parse(TOML).unwrap();
        let built = full().build().unwrap();
        assert_eq!(built, from_file);
        // Defaults too: the minimal instance of each.
        let min = Builder::new()
            .instance(InstanceBuilder::vrrp3("eth0", 7).address(ip("fd00::7"), 64))
            .build()
            .unwrap();
        let file =
            parse("[[instance]]\ninterface = \"eth0\"\nvrid = 7\naddresses = [\"fd00::7/64\"]\n")
                .unwrap();
        assert_eq!(min, file);
        assert_eq!(min.instances[0].name, "eth0-7-ipv6");
    }

    /// The error of `ConfigError::Invalid` without its line and column.
    fn at_problem(e: &ConfigError) -> (String, Problem) {
        match e {
            ConfigError::Invalid { at, problem } => (at.field.clone(), (**problem).clone()),
            other => panic!("not an Invalid error: {other}"),
        }
    }

    /// Each invalid setting gives the error the file gives for it.
    #[test]
    fn vrrp2_compat_equals_the_file() {
        let built = Builder::new()
            .instance(
                InstanceBuilder::vrrp3("eth0", 7)
                    .name("mig")
                    .address(ip("192.0.2.7"), 24)
                    .vrrp2_compat(true),
            )
            .build()
            .unwrap();
        let file = parse(
            "[[instance]]\nname = \"mig\"\ninterface = \"eth0\"\nvrid = 7\n\
             addresses = [\"192.0.2.7/24\"]\nvrrp2_compat = true\n",
        )
        .unwrap();
        assert_eq!(built, file);
    }

    #[test]
    fn invalid_settings_give_the_files_errors() {
        let base = "[[instance]]\nname = \"web\"\ninterface = \"eth0\"\n";
        let cases: Vec<(Builder, String)> = vec![
            (
                Builder::new().instance(
                    InstanceBuilder::vrrp3("eth0", 0)
                        .name("web")
                        .address(ip("192.0.2.1"), 24),
                ),
                format!("{base}vrid = 0\naddresses = [\"192.0.2.1/24\"]\n"),
            ),
            (
                Builder::new().instance(
                    InstanceBuilder::vrrp3("eth0", 1)
                        .name("web")
                        .address(ip("192.0.2.1"), 33),
                ),
                format!("{base}vrid = 1\naddresses = [\"192.0.2.1/33\"]\n"),
            ),
            (
                Builder::new().instance(
                    InstanceBuilder::carp("eth0", 1)
                        .name("web")
                        .priority(10)
                        .password("p")
                        .address(ip("192.0.2.1"), 24),
                ),
                format!("{base}protocol = \"carp\"\nvrid = 1\npriority = 10\npassword = \"p\"\naddresses = [\"192.0.2.1/24\"]\n"),
            ),
            (
                Builder::new().instance(
                    InstanceBuilder::vrrp3("eth0", 1)
                        .name("web")
                        .address(ip("192.0.2.1"), 24)
                        .track("backend", TrackEffect::Weight(0)),
                ),
                format!("{base}vrid = 1\naddresses = [\"192.0.2.1/24\"]\ntrack = [{{ interface = \"backend\", weight = 0 }}]\n"),
            ),
            (
                Builder::new().instance(
                    InstanceBuilder::vrrp3("eth0", 1)
                        .name("web")
                        .address(ip("192.0.2.1"), 24)
                        .address(ip("fd00::1"), 64),
                ),
                format!("{base}vrid = 1\naddresses = [\"192.0.2.1/24\", \"fd00::1/64\"]\n"),
            ),
            (
                Builder::new().instance(
                    InstanceBuilder::vrrp3("eth0", 1)
                        .name("web")
                        .address(ip("192.0.2.1"), 24)
                        .interval(Duration::from_millis(5)),
                ),
                format!("{base}vrid = 1\naddresses = [\"192.0.2.1/24\"]\ninterval = 0.005\n"),
            ),
            (
                Builder::new()
                    .instance(
                        InstanceBuilder::vrrp3("eth0", 1)
                            .name("web")
                            .address(ip("192.0.2.1"), 24),
                    )
                    .sync_group("fw", ["web", "nope"]),
                format!("{base}vrid = 1\naddresses = [\"192.0.2.1/24\"]\n[[sync_group]]\nname = \"fw\"\ninstances = [\"web\", \"nope\"]\n"),
            ),
            (
                Builder::new()
                    .instance(
                        InstanceBuilder::vrrp3("eth0", 1)
                            .name("web")
                            .address(ip("192.0.2.1"), 24),
                    )
                    .control_socket("relative.sock"),
                format!("[global]\ncontrol_socket = \"relative.sock\"\n{base}vrid = 1\naddresses = [\"192.0.2.1/24\"]\n"),
            ),
        ];
        for (builder, toml) in cases {
            let file = parse(&toml).expect_err(&toml);
            let built = builder.build().expect_err(&toml);
            assert_eq!(at_problem(&built), at_problem(&file), "{toml}");
            // A file names the line; the builder has none.
            assert!(matches!(&built, ConfigError::Invalid { at, .. } if at.location.is_none()));
        }
    }

    #[test]
    fn no_instance_and_every_error_as_the_file() {
        let e = Builder::new().build().unwrap_err();
        assert_eq!(e.problem(), Some(&Problem::NoInstances));
        let two_bad = Builder::new()
            .instance(InstanceBuilder::vrrp3("eth0", 0).address(ip("192.0.2.1"), 24))
            .instance(InstanceBuilder::vrrp3("eth0", 2))
            .build_all()
            .unwrap_err();
        let file = parse_all(
            "[[instance]]\ninterface = \"eth0\"\nvrid = 0\naddresses = [\"192.0.2.1/24\"]\n\
             [[instance]]\ninterface = \"eth0\"\nvrid = 2\n",
        )
        .unwrap_err();
        assert_eq!(two_bad.len(), 2);
        let a: Vec<_> = two_bad.iter().map(at_problem).collect();
        let b: Vec<_> = file.iter().map(at_problem).collect();
        assert_eq!(a, b);
    }
}
