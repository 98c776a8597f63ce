//! What one virtual router is configured with, and the checks that make a
//! configuration acceptable before anything runs.

use std::net::IpAddr;
use std::time::Duration;

use tandem_wire::{vrrp2, Centiseconds, Family, Priority, Seconds, Vrid};

/// How a VRRPv3 router over IPv4 computes its checksum (see
/// `tandem_wire::checksum`). IPv6 always uses the pseudo-header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChecksumPolicy {
    /// RFC 9568: the message only. Receive only this form.
    Rfc9568,
    /// keepalived's and FRR's default: with an IPv4 pseudo-header. Receive
    /// only this form.
    Ipv4PseudoHeader,
    /// Accept any form, remember which one each peer uses, send in the
    /// peers' form (the pseudo-header form until a peer is heard), and
    /// report a VRID whose peers mix them.
    Auto,
}

/// The protocol, with its timing and authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Protocol {
    /// VRRPv3 (RFC 9568).
    Vrrp3 {
        /// Advertisement_Interval, 1..=4095 centiseconds.
        interval: Centiseconds,
        /// IPv4 checksum form.
        checksum: ChecksumPolicy,
        /// RFC 9568 section 8.4: also send and accept VRRPv2 adverts
        /// (upgrade scenarios; IPv4 only).
        v2_compat: bool,
    },
    /// VRRPv2 (RFC 3768), IPv4 only.
    Vrrp2 {
        /// Advertisement_Interval, whole seconds.
        interval: Seconds,
        /// Authentication (RFC 2338 types 0, 1, 2).
        auth: vrrp2::Auth,
    },
    /// CARP (OpenBSD carp(4), ucarp).
    Carp {
        /// Seconds part of the interval.
        advbase: u8,
        /// 1/256ths of a second added to advbase; also the election's
        /// rank (lower wins).
        advskew: u8,
        /// The password keying the HMAC.
        password: Vec<u8>,
    },
}

impl Protocol {
    /// VRRPv3 with keepalived-compatible defaults: the given interval, the
    /// automatic checksum form, no VRRPv2 compatibility.
    pub fn vrrp3(interval: Centiseconds) -> Protocol {
        Protocol::Vrrp3 {
            interval,
            checksum: ChecksumPolicy::Auto,
            v2_compat: false,
        }
    }

    /// The configured advertisement interval.
    pub fn interval(&self) -> Duration {
        match self {
            Protocol::Vrrp3 { interval, .. } => Duration::from_millis(u64::from(interval.0) * 10),
            Protocol::Vrrp2 { interval, .. } => Duration::from_secs(u64::from(interval.0)),
            Protocol::Carp {
                advbase, advskew, ..
            } => carp_interval(*advbase, *advskew),
        }
    }
}

/// `advbase + advskew / 256` seconds, in whole microseconds as OpenBSD
/// and ucarp compute it (`advskew * 1000000 / 256`).
pub fn carp_interval(advbase: u8, advskew: u8) -> Duration {
    Duration::from_secs(u64::from(advbase))
        + Duration::from_micros(u64::from(advskew) * 1_000_000 / 256)
}

/// What a tracked object does to the router when it is down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrackEffect {
    /// Lower the priority by this much (VRRP), or raise the demotion
    /// counter by this much (CARP).
    Weight(u8),
    /// Put the router in Fault: no adverts, no addresses.
    Fault,
}

/// An interface or health check the router tracks ("use for HA checks").
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Track {
    /// The name the driver uses in `Command::TrackDown` / `TrackUp`.
    pub name: String,
    /// What happens while it is down.
    pub effect: TrackEffect,
}

/// The gratuitous ARP / unsolicited NA burst sent on becoming Active.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Announce {
    /// Frames per address in one burst (keepalived: 5).
    pub repeat: u8,
    /// Spacing between the frames of a burst.
    pub spacing: Duration,
    /// Send the burst again this long after becoming Active (keepalived's
    /// `garp_master_delay`: 5 s), if set.
    pub refresh_after: Option<Duration>,
}

impl Default for Announce {
    fn default() -> Announce {
        Announce {
            repeat: 5,
            spacing: Duration::ZERO,
            refresh_after: Some(Duration::from_secs(5)),
        }
    }
}

/// The restart guard: a node that started `max_starts` times within
/// `window` stays passive ("pacified") until cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RestartGuard {
    /// Starts (this one included) that pacify the node.
    pub max_starts: usize,
    /// The window they must fall in.
    pub window: Duration,
    /// Leave the pacified state by itself once the window has passed
    /// since the oldest counted start (otherwise only when cleared).
    pub expire: bool,
}

impl Default for RestartGuard {
    fn default() -> RestartGuard {
        RestartGuard {
            max_starts: 3,
            window: Duration::from_secs(300),
            expire: false,
        }
    }
}

/// Which node of a pair should hold the Active role when both are healthy
/// (appliance "preferred host"). See [`Config::preferred_host`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PreferredHost {
    /// The first node: it takes the role back when it returns (failback).
    First,
    /// The second node.
    Second,
    /// Neither: whoever is Active stays Active (no failback).
    None,
}

/// This node's place in a pair, for [`Config::preferred_host`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PairRole {
    /// The first node of the pair.
    First,
    /// The second node of the pair.
    Second,
}

/// The configuration of one virtual router.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// VRID (VHID for CARP).
    pub vrid: Vrid,
    /// Protocol, timing and authentication.
    pub protocol: Protocol,
    /// Priority (VRRP; 255 = address owner). CARP ranks by advskew.
    pub priority: Priority,
    /// The virtual addresses, of one family (IPv6: link-local first).
    pub addresses: Vec<IpAddr>,
    /// This router's own address on the link: the source of its adverts
    /// and the tie-break between equal priorities (RFC 9568 section 6.4.3).
    pub primary_address: IpAddr,
    /// Preempt_Mode (RFC 9568 section 6.1); OpenBSD's net.inet.carp.preempt.
    pub preempt: bool,
    /// After start, do not preempt a lower-priority Active router for this long.
    pub preempt_delay: Duration,
    /// Accept_Mode (RFC 9568 section 6.1), carried to the driver.
    pub accept_mode: bool,
    /// Gratuitous ARP / unsolicited NA on becoming Active.
    pub announce: Announce,
    /// After start, stay Backup at least this long before claiming the
    /// Active role when no peer is heard.
    pub initial_wait: Duration,
    /// Report silence after this many advert intervals without hearing
    /// any peer (0: never).
    pub silence_intervals: u32,
    /// Tracked interfaces and health checks.
    pub tracks: Vec<Track>,
    /// The restart guard, if enabled.
    pub restart_guard: Option<RestartGuard>,
    /// Peers whose TTL / hop limit is not checked (keepalived's IPv6
    /// unicast adverts carry hop limit 64).
    pub ttl_exempt: Vec<IpAddr>,
    /// CARP: the starting demotion counter.
    pub demotion: u8,
    /// CARP: the random 64-bit counter this router sends (the driver
    /// draws it; OpenBSD keeps one random value and recognises its own
    /// looped-back packets by it).
    pub carp_counter: u64,
}

impl Config {
    /// A VRRPv3 router with the defaults appliance users know: priority
    /// 100, preempt on, 1 s interval, automatic checksum form, keepalived's
    /// announce burst, silence reported after 3 intervals.
    pub fn new(vrid: Vrid, primary_address: IpAddr, addresses: Vec<IpAddr>) -> Config {
        Config {
            vrid,
            protocol: Protocol::vrrp3(Centiseconds(100)),
            priority: Priority::DEFAULT,
            addresses,
            primary_address,
            preempt: true,
            preempt_delay: Duration::ZERO,
            accept_mode: false,
            announce: Announce::default(),
            initial_wait: Duration::ZERO,
            silence_intervals: 3,
            tracks: Vec::new(),
            restart_guard: None,
            ttl_exempt: Vec::new(),
            demotion: 0,
            carp_counter: 0,
        }
    }

    /// Sets the detection time as an appliance "HA timeout" of 3 to 15 s:
    /// the advert interval becomes a third of it, so that a Backup takes
    /// over between `timeout` and `timeout + interval` after the Active
    /// router's last advert (3 intervals + skew).
    pub fn ha_timeout(mut self, timeout: Duration) -> Result<Config, ConfigError> {
        if !(Duration::from_secs(3)..=Duration::from_secs(15)).contains(&timeout) {
            return Err(ConfigError::HaTimeoutOutOfRange(timeout));
        }
        let third = timeout / 3;
        self.protocol = match self.protocol {
            Protocol::Vrrp3 {
                checksum,
                v2_compat,
                ..
            } => Protocol::Vrrp3 {
                interval: Centiseconds((third.as_millis() / 10) as u16),
                checksum,
                v2_compat,
            },
            Protocol::Vrrp2 { auth, .. } => Protocol::Vrrp2 {
                interval: Seconds(third.as_secs() as u8),
                auth,
            },
            Protocol::Carp {
                advskew, password, ..
            } => Protocol::Carp {
                advbase: third.as_secs() as u8,
                advskew,
                password,
            },
        };
        Ok(self)
    }

    /// Applies a preferred-host policy for a node in `role`: the preferred
    /// node gets priority 200 and preempts (failback), the other priority
    /// 100 without preemption; with no preference both have priority 100
    /// and neither preempts, so the Active role stays where it is.
    pub fn preferred_host(mut self, preferred: PreferredHost, role: PairRole) -> Config {
        let preferred_here = matches!(
            (preferred, role),
            (PreferredHost::First, PairRole::First) | (PreferredHost::Second, PairRole::Second)
        );
        self.priority = if preferred_here {
            Priority(200)
        } else {
            Priority::DEFAULT
        };
        self.preempt = preferred_here;
        if let Protocol::Carp { advskew, .. } = &mut self.protocol {
            *advskew = if preferred_here { 0 } else { 100 };
        }
        self
    }

    /// Checks the configuration; a router is only built from one that passes.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let Some(first) = self.addresses.first() else {
            return Err(ConfigError::NoAddresses);
        };
        let family = Family::of(*first);
        if self.addresses.len() > 255 {
            return Err(ConfigError::TooManyAddresses(self.addresses.len()));
        }
        if let Some(a) = self.addresses.iter().find(|a| Family::of(**a) != family) {
            return Err(ConfigError::MixedFamilies {
                first: *first,
                other: *a,
            });
        }
        if Family::of(self.primary_address) != family {
            return Err(ConfigError::PrimaryFamily {
                primary: self.primary_address,
                family,
            });
        }
        match &self.protocol {
            Protocol::Vrrp3 {
                interval,
                v2_compat,
                ..
            } => {
                if interval.0 == 0 || *interval > Centiseconds::MAX_ADVER_INT {
                    return Err(ConfigError::IntervalOutOfRange(self.protocol.interval()));
                }
                if *v2_compat && family == Family::V6 {
                    return Err(ConfigError::Vrrp2OverIpv6);
                }
            }
            Protocol::Vrrp2 { interval, .. } => {
                if interval.0 == 0 {
                    return Err(ConfigError::IntervalOutOfRange(Duration::ZERO));
                }
                if family == Family::V6 {
                    return Err(ConfigError::Vrrp2OverIpv6);
                }
            }
            Protocol::Carp {
                advbase,
                advskew,
                password,
            } => {
                if *advbase == 0 && *advskew == 0 {
                    return Err(ConfigError::IntervalOutOfRange(Duration::ZERO));
                }
                if password.is_empty() {
                    return Err(ConfigError::EmptyCarpPassword);
                }
            }
        }
        if self.priority == Priority::RESIGN {
            return Err(ConfigError::PriorityZero);
        }
        if let Some(g) = self.restart_guard {
            if g.max_starts == 0 || g.window.is_zero() {
                return Err(ConfigError::RestartGuard);
            }
        }
        let mut names: Vec<&str> = self.tracks.iter().map(|t| t.name.as_str()).collect();
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(ConfigError::DuplicateTrack(w[0].to_string()));
        }
        Ok(())
    }
}

/// Why a configuration cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No virtual address.
    #[error("no virtual address: a virtual router needs at least one")]
    NoAddresses,
    /// More than an advert can list.
    #[error("{0} virtual addresses: an advert lists at most 255")]
    TooManyAddresses(usize),
    /// IPv4 and IPv6 in one virtual router (RFC 9568 treats them as two).
    #[error("virtual addresses {first} and {other} are of different families: use one virtual router per family")]
    MixedFamilies {
        /// The first address.
        first: IpAddr,
        /// One of another family.
        other: IpAddr,
    },
    /// The primary address is not of the virtual addresses' family.
    #[error("primary address {primary} is not {family} like the virtual addresses")]
    PrimaryFamily {
        /// The primary address.
        primary: IpAddr,
        /// The virtual addresses' family.
        family: Family,
    },
    /// Interval zero or above the protocol's maximum.
    #[error("advert interval {0:?} is out of range (VRRPv3: 10 ms to 40.95 s; VRRPv2: 1 to 255 s; CARP: not zero)")]
    IntervalOutOfRange(Duration),
    /// HA timeout outside 3..=15 s.
    #[error("HA timeout {0:?} is outside 3 to 15 s")]
    HaTimeoutOutOfRange(Duration),
    /// VRRPv2 is IPv4 only.
    #[error("VRRPv2 is IPv4 only (RFC 3768): use VRRPv3 for IPv6")]
    Vrrp2OverIpv6,
    /// CARP needs a password: its HMAC is keyed with it.
    #[error("CARP needs a password (its HMAC is keyed with it)")]
    EmptyCarpPassword,
    /// Priority 0 is only ever sent by a resigning Active router.
    #[error("priority 0 is reserved for an Active router that resigns: use 1 to 255")]
    PriorityZero,
    /// A restart guard with no starts or no window.
    #[error("restart guard needs at least one start and a non-zero window")]
    RestartGuard,
    /// Two tracked objects with the same name.
    #[error("tracked object {0:?} is listed twice")]
    DuplicateTrack(String),
}
