//! Outputs: what the driver carries out, in order.

use std::net::IpAddr;
use std::time::Duration;

use tandem_wire::{ChecksumMode, Priority};

use crate::Advert;

/// The states of RFC 9568 section 6.4, plus Fault for a router whose
/// tracked object forces it out of the election.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Not participating (section 6.4.1).
    Initialize,
    /// Monitoring the Active router (section 6.4.2).
    Backup,
    /// Forwarding for the virtual addresses (section 6.4.3).
    Active,
    /// Out of the election because a tracked object is down.
    Fault,
}

impl State {
    /// The name in status output.
    pub const fn name(self) -> &'static str {
        match self {
            State::Initialize => "Initialize",
            State::Backup => "Backup",
            State::Active => "Active",
            State::Fault => "Fault",
        }
    }
}

/// Why a state changed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// The router started.
    Startup,
    /// The router owns the addresses (priority 255).
    Owner,
    /// No advert from the Active router within Active_Down_Interval.
    ActiveDown,
    /// The Active router resigned (priority 0): taken over after Skew_Time.
    ActiveResigned,
    /// A better router advertised.
    Preempted {
        /// Its address.
        by: IpAddr,
    },
    /// We took the role from a worse Active router (preemption).
    Preempting {
        /// The router we took it from.
        active: IpAddr,
    },
    /// An operator asked to hand the role over.
    Failover,
    /// Maintenance mode.
    Maintenance,
    /// The restart guard pacified the node.
    Pacified,
    /// A tracked object forcing Fault went down.
    TrackDown(String),
    /// Every tracked object forcing Fault is up again.
    TrackUp,
    /// A member of the sync group changed state.
    SyncGroup {
        /// The member's VRID.
        member: u8,
    },
    /// The router stopped.
    Shutdown,
}

impl Reason {
    /// The stable name of the reason, as hooks (`TANDEM_REASON`), events,
    /// status and logs show it; [`Reason`]'s `Display` adds its fields
    /// (`preempted by=192.0.2.2`).
    pub const fn name(&self) -> &'static str {
        match self {
            Reason::Startup => "startup",
            Reason::Owner => "owner",
            Reason::ActiveDown => "active_down",
            Reason::ActiveResigned => "active_resigned",
            Reason::Preempted { .. } => "preempted",
            Reason::Preempting { .. } => "preempting",
            Reason::Failover => "failover",
            Reason::Maintenance => "maintenance",
            Reason::Pacified => "pacified",
            Reason::TrackDown(_) => "track_down",
            Reason::TrackUp => "track_up",
            Reason::SyncGroup { .. } => "sync_group",
            Reason::Shutdown => "shutdown",
        }
    }
}

impl core::fmt::Display for Reason {
    /// The name, then its fields as `key=value`: `preempted by=192.0.2.2`,
    /// `preempting active=192.0.2.2`, `track_down track=eth1`,
    /// `sync_group member=52`.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())?;
        match self {
            Reason::Preempted { by } => write!(f, " by={by}"),
            Reason::Preempting { active } => write!(f, " active={active}"),
            Reason::TrackDown(t) => write!(f, " track={t}"),
            Reason::SyncGroup { member } => write!(f, " member={member}"),
            _ => Ok(()),
        }
    }
}

/// Something the operator should know, as an event.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Diagnostic {
    /// An advert with our VRID lists other addresses (RFC 9568 section 7.1).
    DuplicateVrid {
        /// Its sender.
        src: IpAddr,
        /// The addresses it lists.
        addresses: Vec<IpAddr>,
    },
    /// Authentication failed: bad CARP HMAC, VRRPv2 password or auth type.
    AuthFailure {
        /// The sender.
        src: IpAddr,
        /// What to check.
        what: AuthFailure,
    },
    /// TTL / hop limit not 255: the sender is not on this link (section 7.1).
    BadTtl {
        /// The sender.
        src: IpAddr,
        /// The TTL seen.
        ttl: u8,
    },
    /// Another router advertises as Active while we are Active.
    SplitBrain {
        /// The other Active router.
        other: IpAddr,
        /// Its priority (CARP: 255 - advskew).
        other_priority: Priority,
        /// Whether we keep the role under the election's rules.
        we_win: bool,
    },
    /// The split brain ended: we are the only Active router heard again.
    SplitBrainResolved,
    /// No advert from any peer for this many intervals (multicast blocked,
    /// IGMP snooping, peer down).
    Silence {
        /// Intervals without a peer's advert.
        intervals: u32,
    },
    /// A peer was heard again after silence.
    PeerHeard {
        /// Its address.
        src: IpAddr,
    },
    /// A peer speaks another protocol version.
    VersionMismatch {
        /// The peer.
        src: IpAddr,
        /// Its version.
        theirs: u8,
        /// Ours.
        ours: u8,
    },
    /// VRRPv2: the peer's interval differs from ours; RFC 3768 section 7.1
    /// drops its adverts.
    IntervalMismatch {
        /// The peer.
        src: IpAddr,
        /// Its interval.
        theirs: Duration,
        /// Ours.
        ours: Duration,
    },
    /// A peer uses another VRRPv3 IPv4 checksum form than ours (strict
    /// policy: its adverts are dropped), or the peers of a VRID mix forms.
    ChecksumMode {
        /// The peer.
        src: IpAddr,
        /// Its form.
        theirs: ChecksumMode,
        /// The form we send.
        ours: ChecksumMode,
    },
    /// A CARP advert with our own counter came back (a loop or a replay).
    OwnAdvertLooped,
    /// The restart guard pacified the node.
    Pacified {
        /// Starts within the window, this one included.
        starts: usize,
        /// The window.
        window: Duration,
    },
}

/// What to check after an authentication failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthFailure {
    /// CARP HMAC: check vhid, password and virtual addresses.
    BadHmac,
    /// VRRPv2: the authentication type differs from ours.
    AuthType,
    /// VRRPv2 simple text: the password differs.
    Password,
}

/// What the driver must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send this advertisement (TTL / hop limit 255).
    SendAdvert(Advert),
    /// Put these virtual addresses on the interface.
    AddAddresses {
        /// The addresses.
        addresses: Vec<IpAddr>,
        /// Accept_Mode: accept packets addressed to them.
        accept: bool,
    },
    /// Take these virtual addresses off.
    RemoveAddresses(Vec<IpAddr>),
    /// Send gratuitous ARPs / unsolicited NAs for these addresses.
    Announce {
        /// The addresses.
        addresses: Vec<IpAddr>,
        /// Frames per address.
        repeat: u8,
        /// Spacing between them.
        spacing: Duration,
    },
    /// The state changed.
    StateChanged {
        /// From.
        from: State,
        /// To.
        to: State,
        /// Why.
        reason: Reason,
    },
    /// Something to report.
    Diagnostic(Diagnostic),
}
