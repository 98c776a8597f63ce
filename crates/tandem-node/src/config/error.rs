//! What is wrong with a configuration, where, and why.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;

use tandem_wire::Family;

use crate::file::FileError;

/// A place in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file, when it was read by [`super::load`].
    pub file: Option<PathBuf>,
    /// Line, from 1.
    pub line: usize,
    /// Column in characters, from 1.
    pub column: usize,
}

impl Location {
    /// The location of byte `offset` of `text`.
    pub(crate) fn of(text: &str, offset: usize, file: Option<PathBuf>) -> Location {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        Location { file, line, column }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.file {
            Some(file) => write!(f, "{}:{}:{}", file.display(), self.line, self.column),
            None => write!(f, "line {}, column {}", self.line, self.column),
        }
    }
}

/// Where a problem is: the place in the file (none for flags and for
/// [`super::check_host`]) and the field, as `instance "web".vrid`,
/// `instance[1].addresses[2]`, `sync_group "fw".instances[0]` or, in the
/// flag form, `--interval`. Instances and sync groups are named by their
/// `name` when the file gives one, else by their index from 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct At {
    /// The place in the file.
    pub location: Option<Location>,
    /// The field.
    pub field: String,
}

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Some(l) => write!(f, "{l}: {}", self.field),
            None => f.write_str(&self.field),
        }
    }
}

/// Why a configuration cannot run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file cannot be read: it is missing or unreadable, not a
    /// regular file (a FIFO, a device, a directory), or larger than
    /// [`super::MAX_CONFIG_BYTES`].
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: FileError,
    },
    /// The file is not UTF-8 text.
    #[error("{location}: not UTF-8 text: byte {byte:#04x} cannot start or continue a character here; save the file as UTF-8")]
    NotUtf8 {
        /// Where the first byte that is not UTF-8 is.
        location: Location,
        /// That byte.
        byte: u8,
    },
    /// Not TOML, or not of the expected shape: a syntax error, a value of
    /// the wrong type, an unknown key. The message is the TOML parser's.
    #[error("{}{message}", Prefix(location))]
    Toml {
        /// Where the parser stopped, when it says.
        location: Option<Location>,
        /// The parser's message (it names an unknown key and the keys
        /// that are allowed there).
        message: String,
    },
    /// Well-formed, but a value is not acceptable.
    #[error("{at}: {problem}")]
    Invalid {
        /// Where.
        at: At,
        /// Why (boxed: it is large and errors are rare).
        problem: Box<Problem>,
    },
}

impl ConfigError {
    /// The same error without its place in the text: for a text the
    /// operator never saw (the file as `config set` would have written it),
    /// where the field path says where.
    pub fn without_location(mut self) -> ConfigError {
        match &mut self {
            ConfigError::Invalid { at, .. } => at.location = None,
            ConfigError::Toml { location, .. } => *location = None,
            _ => {}
        }
        self
    }

    /// The problem, for an [`ConfigError::Invalid`].
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            ConfigError::Invalid { problem, .. } => Some(problem.as_ref()),
            _ => None,
        }
    }
}

struct Prefix<'a>(&'a Option<Location>);

impl fmt::Display for Prefix<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(l) => write!(f, "{l}: "),
            None => Ok(()),
        }
    }
}

/// Why a value is not acceptable. Each message says what to do instead.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    /// A required field is absent.
    #[error("missing: {0}")]
    Missing(&'static str),
    /// No `[[instance]]` at all.
    #[error("no [[instance]] table: there is no virtual router to run")]
    NoInstances,
    /// Not an interface name Linux accepts.
    #[error("{name:?} is not a Linux interface name: {why}")]
    InterfaceName {
        /// The name.
        name: String,
        /// Why not.
        why: &'static str,
    },
    /// An instance or sync group name that is empty.
    #[error("a name cannot be empty")]
    EmptyName,
    /// An instance or sync group name that is too long or has a
    /// character other than `A-Z a-z 0-9 _ . -`.
    #[error("{name:?} is not a valid name: {why}; a name is 1 to 64 characters among A-Z, a-z, 0-9, '_', '.' and '-'")]
    BadName {
        /// The name.
        name: String,
        /// Why not: the first character refused, or the length.
        why: String,
    },
    /// Not vrrp3, vrrp2 or carp.
    #[error("unknown protocol {0:?}: use \"vrrp3\", \"vrrp2\" or \"carp\"")]
    UnknownProtocol(String),
    /// Not auto, rfc9568 or ipv4-pseudo-header.
    #[error("unknown checksum mode {0:?}: use \"auto\", \"rfc9568\" or \"ipv4-pseudo-header\"")]
    UnknownChecksum(String),
    /// Not none, pass or ah.
    #[error("unknown VRRPv2 authentication {0:?}: use \"none\", \"pass\" or \"ah\"")]
    UnknownAuth(String),
    /// VRID outside 1..=255.
    #[error("VRID {0} is out of range: use 1 to 255")]
    VridRange(i64),
    /// Priority 0.
    #[error("priority 0 is sent only by an Active router that resigns: use 1 to 255")]
    PriorityZero,
    /// Priority outside 0..=255.
    #[error("priority {0} is out of range: use 1 to 255 (255 only on the node that owns the virtual addresses)")]
    PriorityRange(i64),
    /// A priority for CARP, which has none.
    #[error("CARP has no priority: it elects the node with the lowest advskew (after demotion); set advskew instead (0 wins)")]
    PriorityWithCarp,
    /// A field of another protocol.
    #[error("applies to {applies_to} only, and this virtual router runs {protocol}")]
    NotForProtocol {
        /// The protocols the field applies to.
        applies_to: &'static str,
        /// The instance's protocol.
        protocol: &'static str,
    },
    /// VRRPv3 with a password.
    #[error("VRRPv3 has no authentication (RFC 9568): remove the password, or use protocol \"vrrp2\" (auth = \"pass\" or \"ah\") or \"carp\"")]
    PasswordWithVrrp3,
    /// CARP without a password.
    #[error("CARP needs a password: its HMAC-SHA1 is keyed with it (ucarp's --pass)")]
    CarpWithoutPassword,
    /// VRRPv2 `auth = "pass"` or `"ah"` without a password.
    #[error("auth = {0:?} needs a password")]
    AuthWithoutPassword(&'static str),
    /// VRRPv2 `auth = "none"` with a password.
    #[error("a password is never sent with auth = \"none\": set auth = \"pass\" or \"ah\", or remove the password")]
    PasswordWithoutAuth,
    /// A VRRPv2 password longer than 8 bytes.
    #[error("VRRPv2 passwords are at most 8 bytes and this one has {0}; keepalived cuts longer ones to their first 8: write those")]
    Vrrp2PasswordLength(usize),
    /// VRRPv2 over IPv6.
    #[error("VRRPv2 is IPv4 only (RFC 3768): use protocol \"vrrp3\" for IPv6")]
    Vrrp2Ipv6,
    /// VRRPv2 compatibility with IPv6 addresses.
    #[error("VRRPv2 compatibility is IPv4 only (RFC 3768 has no IPv6)")]
    Vrrp2CompatIpv6,
    /// The checksum mode with IPv6.
    #[error("the checksum mode applies to VRRPv3 over IPv4; over IPv6 the checksum always covers the IPv6 pseudo-header: remove it")]
    ChecksumIpv6,
    /// A VRRPv3 interval outside 0.01..=40.95 s.
    #[error("interval {0} s is out of range for VRRPv3: use 0.01 to 40.95 s")]
    Vrrp3Interval(f64),
    /// A VRRPv3 interval that is not whole centiseconds.
    #[error(
        "interval {0} s is not a whole number of centiseconds: VRRPv3 counts in steps of 0.01 s"
    )]
    Vrrp3IntervalStep(f64),
    /// A VRRPv2 interval that is not whole seconds in 1..=255.
    #[error("interval {0} s is not valid for VRRPv2: use whole seconds, 1 to 255")]
    Vrrp2Interval(f64),
    /// A CARP interval (advbase) that is not whole seconds in 1..=255.
    #[error("interval {0} s is not a valid CARP advbase: use whole seconds, 1 to 255 (advskew adds 1/256ths of a second)")]
    CarpInterval(f64),
    /// advbase outside 1..=255.
    #[error("advbase {0} is out of range: use 1 to 255 seconds")]
    AdvbaseRange(i64),
    /// advskew outside 0..=255.
    #[error("advskew {0} is out of range: use 0 to 255")]
    AdvskewRange(i64),
    /// demotion outside 0..=255.
    #[error("demotion {0} is out of range: use 0 to 255")]
    DemotionRange(i64),
    /// Both `interval` and `advbase`.
    #[error("give either interval or advbase, not both: for CARP, interval is the advbase")]
    IntervalAndAdvbase,
    /// Both `interval` and `ha_timeout`.
    #[error("give either interval or ha_timeout, not both: ha_timeout sets the interval to a third of it")]
    IntervalAndHaTimeout,
    /// An HA timeout outside 3..=15 s.
    #[error("ha_timeout {0} s is out of range: use 3 to 15 s")]
    HaTimeout(f64),
    /// A duration that is negative, not finite or too large.
    #[error("{0} is not a duration: use seconds, 0 or more (fractions allowed)")]
    Duration(f64),
    /// A number out of its range.
    #[error("{value} is out of range: use {min} to {max}")]
    Range {
        /// The value.
        value: i64,
        /// The smallest allowed.
        min: i64,
        /// The largest allowed.
        max: i64,
    },
    /// An address that does not parse.
    #[error("{0:?} is not an IP address: write an IPv4 or IPv6 address, for a virtual address optionally followed by /PREFIX")]
    BadAddress(String),
    /// A prefix length that is not a number or out of range.
    #[error("prefix length {prefix:?} of {address} is out of range: use 1 to {max}")]
    PrefixRange {
        /// The address.
        address: IpAddr,
        /// The prefix as written.
        prefix: String,
        /// 32 or 128.
        max: u8,
    },
    /// A prefix on an address that takes none (peers, source).
    #[error("{0:?}: only virtual addresses take a /PREFIX; write the address alone")]
    UnexpectedPrefix(String),
    /// A virtual address that is not a unicast address.
    #[error("{address} cannot be a virtual address: it is {kind}")]
    NotUnicast {
        /// The address.
        address: IpAddr,
        /// What it is instead.
        kind: &'static str,
    },
    /// An empty address list.
    #[error("empty: a virtual router needs at least one virtual address")]
    NoAddresses,
    /// More than 255 virtual addresses.
    #[error("{0} virtual addresses: an advert lists at most 255")]
    TooManyAddresses(usize),
    /// The same address twice in one list.
    #[error("{0} is listed twice")]
    DuplicateAddress(IpAddr),
    /// Two families among the virtual addresses.
    #[error("{other} is {} and {first} {}: one virtual router carries one family; make another [[instance]] for the other family", Family::of(*other), Family::of(*first))]
    MixedFamilies {
        /// The first virtual address.
        first: IpAddr,
        /// One of the other family.
        other: IpAddr,
    },
    /// A source, peer or TTL-exempt address of the other family.
    #[error("{address} is {} but the virtual addresses are {family}: use an {family} address", Family::of(*address))]
    WrongFamily {
        /// The address.
        address: IpAddr,
        /// The virtual addresses' family.
        family: Family,
    },
    /// A VRRPv3 IPv6 multicast source that is not link-local.
    #[error("{0} is not link-local: VRRPv3 over IPv6 multicast sends from the interface's link-local address (RFC 9568 section 5.1.2.1); give an fe80:: address or leave source out")]
    SourceNotLinkLocal(IpAddr),
    /// Broadcast with unicast peers.
    #[error("broadcast = true and unicast_peers exclude each other: adverts go either to the broadcast address or to the listed peers")]
    BroadcastAndUnicast,
    /// Broadcast over IPv6.
    #[error("IPv6 has no broadcast: use multicast (the default) or unicast_peers")]
    BroadcastIpv6,
    /// Both weight and fault on a tracked interface.
    #[error("give either weight or fault = true, not both")]
    WeightAndFault,
    /// Neither weight nor fault on a tracked interface.
    #[error("fault = false with no weight does nothing: give a weight (1 to 255) or fault = true")]
    TrackNoEffect,
    /// A `[[check]]` with none, or more than one, of its kinds.
    #[error("{}", if .0.is_empty() { "give one of script, file, tcp or http: what the check runs".to_string() } else { format!("give one of script, file, tcp or http, not {}", .0.join(" and ")) })]
    CheckKind(Vec<String>),
    /// A check field for another kind of check.
    #[error("{field} applies to {applies_to} checks only, and this one is a {kind} check")]
    NotForCheck {
        /// The field.
        field: &'static str,
        /// This check's kind.
        kind: &'static str,
        /// The kinds it applies to.
        applies_to: String,
    },
    /// A blank script.
    #[error("the command is blank: give the command line to run")]
    BlankCommand,
    /// A user name that cannot be one.
    #[error("{0:?} is not a user name: 1 to 32 characters among A-Z, a-z, 0-9, '_', '.' and '-'")]
    BadUser(String),
    /// Not ADDRESS:PORT.
    #[error("{0:?} is not ADDRESS:PORT: write an IP address and a port, as \"192.0.2.10:80\" or \"[fd00::10]:443\" (checks never resolve names)")]
    BadTarget(String),
    /// An http check URL that cannot be used.
    #[error("{0:?} is not a URL a check can GET: {1}")]
    BadUrl(String, &'static str),
    /// A Host header value that cannot be one.
    #[error("{0:?} is not a host name for the Host header: no spaces or control characters")]
    BadHostHeader(String),
    /// An expected status that is not one.
    #[error("{0} is not an HTTP status or range: write 200 or \"200-299\" (100 to 599)")]
    BadStatus(String),
    /// A check interval out of range.
    #[error("interval {0} s is out of range for a check: use 0.1 to 3600 s")]
    CheckInterval(f64),
    /// A check timeout longer than its interval, or zero.
    #[error("timeout {timeout} s must be more than 0 and at most the interval {interval} s: a run must end before the next one is due")]
    CheckTimeout {
        /// The timeout.
        timeout: f64,
        /// The interval.
        interval: f64,
    },
    /// A track entry naming both an interface and a check.
    #[error("give either interface or check, not both: each track entry follows one object")]
    TrackBoth,
    /// A tracked check that no `[[check]]` defines.
    #[error("no [[check]] is named {0:?}: define it, or fix the name")]
    UnknownCheck(String),
    /// A check named like an interface an instance uses.
    #[error("check {name:?} has the name of an interface instance {instance:?} runs on or tracks: a link event of that interface would move the check; rename the check")]
    CheckNamesInterface {
        /// The check.
        name: String,
        /// The instance.
        instance: String,
    },
    /// A track weight outside 1..=255.
    #[error("weight {0} is out of range: use 1 to 255 (or fault = true to stop the router while the link is down)")]
    TrackWeight(i64),
    /// The same interface tracked twice.
    #[error("interface {0:?} is tracked twice")]
    DuplicateTrack(String),
    /// A relative state directory.
    #[error("{0:?} is not an absolute path")]
    RelativePath(String),
    /// Two instances with one name.
    #[error("name {name:?} is already used by {first}")]
    DuplicateName {
        /// The name.
        name: String,
        /// The instance that has it first (its path).
        first: String,
    },
    /// Two instances with one VRID on one interface and family.
    #[error("VRID {vrid} on {interface} ({family}) is already used by instance {other:?}: VRRP and CARP share IP protocol 112, so each interface and family takes a VRID (VHID) once")]
    DuplicateVrid {
        /// The VRID.
        vrid: u8,
        /// The interface.
        interface: String,
        /// The family.
        family: Family,
        /// The instance that has it first.
        other: String,
    },
    /// One virtual address in two instances on one interface.
    #[error("{address} is also a virtual address of instance {other:?} on {interface}: two virtual routers would fight over it")]
    SharedAddress {
        /// The address.
        address: IpAddr,
        /// The interface.
        interface: String,
        /// The other instance.
        other: String,
    },
    /// Two sync groups with one name.
    #[error("sync group name {0:?} is used twice")]
    DuplicateGroupName(String),
    /// A sync group with no member.
    #[error("empty: a sync group needs at least one instance")]
    EmptyGroup,
    /// A sync group naming an instance that does not exist.
    #[error("no instance is named {0:?} (an instance is named by its `name`, or \"<interface>-<vrid>-<ipv4|ipv6>\" when it has none)")]
    UnknownInstance(String),
    /// An instance listed twice in one sync group.
    #[error("instance {0:?} is listed twice")]
    RepeatedMember(String),
    /// An instance in two sync groups.
    #[error("instance {instance:?} is already in sync group {group:?}: an instance belongs to one sync group at most")]
    TwoGroups {
        /// The instance.
        instance: String,
        /// The group it is in first.
        group: String,
    },
    /// An address owner (priority 255) that does not own an address.
    #[error("priority 255 is the address owner's: this node must own {address} (it is not one of {interface}'s addresses); lower the priority or add the address to {interface}")]
    NotOwner {
        /// The virtual address.
        address: IpAddr,
        /// The interface.
        interface: String,
    },
    /// A source address that is not on the interface.
    #[error("{address} is not one of {interface}'s addresses: adverts must come from this node's own address")]
    SourceNotLocal {
        /// The source address.
        address: IpAddr,
        /// The interface.
        interface: String,
    },
    /// A health `listen` that is not `ADDR:PORT`.
    #[error("{0:?} is not ADDR:PORT: write an address and a port, as \"0.0.0.0:8080\" or \"[::]:8080\" (IPv6 in brackets)")]
    BadListen(String),
    /// A health `listen` on port 0.
    #[error("port 0 would make the kernel choose a port no load balancer knows: give the port the probes use")]
    ListenPortZero,
    /// A health path that does not start with '/'.
    #[error("{0:?} is not an HTTP path: start it with '/', as \"/health\"")]
    BadPath(String),
    /// Two health paths that are the same.
    #[error("{path:?} is also the {other}: path, live_path and metrics_path each need their own")]
    SamePath {
        /// The path.
        path: String,
        /// The field that has it first.
        other: &'static str,
    },
    /// An empty notify command.
    #[error(
        "the notify command is empty: give a shell command (run with /bin/sh -c), or remove notify"
    )]
    EmptyCommand,
    /// A notify timeout out of range.
    #[error("notify_timeout {0} s is out of range: use more than 0 and at most 3600 s")]
    NotifyTimeout(f64),
    /// A notify timeout without a notify command.
    #[error("notify_timeout without notify does nothing: add notify = \"COMMAND\" or remove notify_timeout")]
    TimeoutWithoutNotify,
    /// A `notify_args` form that does not exist.
    #[error("{0:?} is not a notify_args form: use \"none\" (the transition in the environment only), \"keepalived\" (TYPE NAME STATE PRIORITY) or \"ucarp\" (INTERFACE ADDRESS [XPARAM])")]
    UnknownNotifyArgs(String),
    /// `notify_args = "ucarp"` on a sync group.
    #[error("notify_args \"ucarp\" passes an instance's interface and address, which a sync group does not have: use \"none\" or \"keepalived\" here, or set it on the members")]
    UcarpArgsOnGroup,
    /// `notify_xparam` without `notify_args = "ucarp"`.
    #[error("notify_xparam is an argument of the ucarp form only: add notify_args = \"ucarp\" or remove notify_xparam")]
    XparamWithoutUcarp,
    /// `notify_args` with no command to pass them to.
    #[error("notify_args without a notify command does nothing: add notify (or notify_active, notify_backup, notify_fault, notify_stop), or remove notify_args")]
    ArgsWithoutNotify,
    /// An interface the host does not have (`tandemd check-config` on the node).
    #[error("interface {0:?} does not exist on this host: check the name (`ip link`), or create it before tandemd starts")]
    NoSuchInterface(String),
    /// What `tandem_election::Config::validate` found.
    #[error("{0}")]
    Election(tandem_election::ConfigError),
    /// A `[sync] unit` that is not 1 to 32 characters of `a-z 0-9 _ -`.
    #[error("{name:?} is not a unit id: {why}; a unit id is 1 to 32 characters among a-z, 0-9, '_' and '-', as \"a\" or \"fw-east\"")]
    BadUnitId {
        /// The id as written.
        name: String,
        /// Why not.
        why: String,
    },
    /// A `[sync] cluster` that is empty, too long or not printable.
    #[error("{name:?} is not a cluster id: {why}; a cluster id is 1 to 64 printable ASCII characters, the same on both units")]
    BadClusterId {
        /// The id as written.
        name: String,
        /// Why not.
        why: String,
    },
    /// A `[sync] listen` or `peer` that is not `ADDR` or `ADDR:PORT`.
    #[error("{0:?} is not ADDR or ADDR:PORT: write an IP address, optionally with a port, as \"192.0.2.1\", \"192.0.2.1:6973\" or \"[2001:db8::1]:6973\" (the port defaults to 6973)")]
    BadSyncAddress(String),
    /// A `[replication] listen` or `peer` that is not `ADDR` or `ADDR:PORT`.
    #[error("{0:?} is not ADDR or ADDR:PORT: write an IP address, optionally with a port, as \"198.51.100.2\" or \"198.51.100.2:6974\" (the port defaults to 6974)")]
    BadReplicationAddress(String),
    /// `[replication] listen` and `peer` of two families.
    #[error("{listen} and the peer {peer} are of two families: give both of one family")]
    ReplicationFamilies {
        /// The listen address.
        listen: IpAddr,
        /// The peer's address.
        peer: IpAddr,
    },
    /// A `[replication] format` that is none of the formats.
    #[error("unknown replication format {0:?}: use \"tandem\", \"conntrackd-ftfw\" or \"conntrackd-notrack\"")]
    UnknownReplicationFormat(String),
    /// An `ignore` entry that is not `ADDR/PREFIX`.
    #[error("{0:?} is not ADDR/PREFIX: write a network, as \"198.51.100.0/24\"")]
    BadIgnorePrefix(String),
    /// Port 0 for sync.
    #[error("port 0 is not a port the partner can reach: leave the port out for 6973, or give the one both units use")]
    SyncPortZero,
    /// `listen` and `peer` of two families.
    #[error("{listen} and the peer {peer} are of two families: configuration sync runs over one TCP connection, give both of one family")]
    SyncFamilies {
        /// The listen address.
        listen: IpAddr,
        /// The peer's address.
        peer: IpAddr,
    },
    /// A `[sync] mode` that is neither mode.
    #[error("unknown sync mode {0:?}: use \"active-standby\" (the active unit's changes are sent) or \"bidirectional\" (either unit's)")]
    UnknownSyncMode(String),
    /// An `addresses` entry that is not a pair.
    #[error("an address pair is [\"OWN\", \"PARTNER\"], two addresses, and this one has {0}")]
    NotAPair(usize),
    /// An address in two pairs, or in both places of one.
    #[error("{0} is already in an address pair: each address names one unit, once")]
    RepeatedPairAddress(IpAddr),
    /// A `rewrite` pattern that is not `app.<kind>.*.<field>`.
    #[error("{pattern:?} is not a rewrite pattern: {why}; write \"app.<kind>.*.<field>\", as \"app.geo.*.address\" (the * stands for any object of the kind)")]
    BadRewrite {
        /// The pattern as written.
        pattern: String,
        /// What is wrong.
        why: &'static str,
    },
    /// A `[unit.<id>]` that is not a unit id.
    #[error("unit {0:?} in [unit.<id>] is not a unit id: a unit id is 1 to 32 characters among a-z, 0-9, '_' and '-', as [sync] unit is")]
    OverlayUnitId(String),
    /// An overlay that sets a local field.
    #[error("{0} is already a setting of each unit (a local field, never synced): set it in the unit's own [[instance]] table, not in a [unit.<id>.instance.<name>] overlay")]
    OverlayLocal(&'static str),
    /// An overlay that sets `name`.
    #[error("an overlay is named by its table, [unit.<id>.instance.<name>]: remove name")]
    OverlayName,
    /// An overlay naming an instance that does not exist.
    #[error("no instance is named {0:?}: an overlay [unit.<id>.instance.<name>] changes fields of the [[instance]] of that name (or of default name \"<interface>-<vrid>-<ipv4|ipv6>\")")]
    OverlayUnknownInstance(String),
    /// An `[app]` float that is NaN or infinite.
    #[error("{0} is not a finite number: configuration sync carries finite floats only")]
    NotFinite(f64),
    /// An `[app]` value nested deeper than a document carries.
    #[error("lists and tables nest {0} deep here: configuration sync carries at most 16 levels")]
    TooDeep(usize),
    /// An `[app]` kind, id or field name a document cannot hold.
    #[error("{name:?}: {why}")]
    AppName {
        /// The name.
        name: String,
        /// The document's rule it breaks.
        why: &'static str,
    },
    /// An instance or sync group without a name, in a configuration
    /// document (its objects are addressed by name).
    #[error("configuration sync addresses each [[instance]] and [[sync_group]] by its name: add name = \"...\"")]
    Unnamed,
    /// `name` set through a field path: the name is the object's id.
    #[error("the name is the object's id in the path (instance.<name>.<field>): to rename, add the object under its new name and unset the old one")]
    NameIsId,
    /// A field path that does not read.
    #[error("{0}")]
    Path(tandem_config_sync::doc::PathError),
    /// What the document refused.
    #[error("{0}")]
    Doc(tandem_config_sync::doc::DocError),
    /// A value literal of `config set` that is not one TOML value.
    #[error("{0:?} is not a TOML value: write it as in the file, as 150, \"eth1\", [1, 2], true or {{ a = 1 }}")]
    BadValue(String),
    /// A value a document can hold but the file cannot write: it would
    /// read back as another.
    #[error("this value has no form in tandemd's configuration file")]
    NoForm,
    /// A `[cloud]` value, or an instance's value that `[cloud] role`
    /// contradicts.
    #[error(transparent)]
    Cloud(super::build::cloud::CloudProblem),
}
