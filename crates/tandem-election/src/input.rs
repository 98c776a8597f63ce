//! Inputs: advertisements from the wire and commands from operators and
//! health checks.

use std::net::IpAddr;

use tandem_wire::{carp, vrrp2, vrrp3, ChecksumMode};

/// An advertisement, as received (decoded by `tandem-wire`) or to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Advert {
    /// VRRPv3. Received: the checksum form it matched, if known. To send:
    /// the form to compute (`None` for IPv6, which has only one).
    Vrrp3 {
        /// The advertisement.
        repr: vrrp3::Repr,
        /// Checksum form.
        checksum: Option<ChecksumMode>,
    },
    /// VRRPv2.
    Vrrp2(vrrp2::Repr),
    /// CARP with its HMAC (verified by the election with its key when
    /// received; computed by it when sent).
    Carp {
        /// The advertisement.
        repr: carp::Repr,
        /// The HMAC-SHA1 on the wire.
        hmac: [u8; carp::HMAC_LEN],
    },
}

impl Advert {
    /// The protocol version number on the wire: 2 (VRRPv2, CARP) or 3.
    pub fn version(&self) -> u8 {
        match self {
            Advert::Vrrp3 { .. } => 3,
            Advert::Vrrp2(_) | Advert::Carp { .. } => 2,
        }
    }

    /// The VRID / VHID.
    pub fn vrid(&self) -> tandem_wire::Vrid {
        match self {
            Advert::Vrrp3 { repr, .. } => repr.vrid,
            Advert::Vrrp2(r) => r.vrid,
            Advert::Carp { repr, .. } => repr.vhid,
        }
    }
}

/// An advertisement received from the wire, with what the IP layer said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received<'a> {
    /// IP source address.
    pub src: IpAddr,
    /// IPv4 TTL / IPv6 hop limit.
    pub ttl: u8,
    /// The advertisement.
    pub advert: &'a Advert,
}

/// Operator and health inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Start the router (the Startup event of RFC 9568 section 6.4.1).
    Start,
    /// Stop it: an Active router sends priority 0 first (section 6.4.3).
    Shutdown,
    /// Change the configured priority.
    SetPriority(tandem_wire::Priority),
    /// A tracked object went down: the configured weight or Fault applies,
    /// replacing a graded weight [`Command::TrackWeight`] set.
    TrackDown(String),
    /// A tracked object came back.
    TrackUp(String),
    /// A health check's graded verdict on a tracked object: lower the
    /// priority (CARP: raise the demotion) by `weight` instead of the
    /// configured weight while it lasts; 0 means healthy (as
    /// [`Command::TrackUp`]). For a track with `TrackEffect::Fault`, any
    /// weight above 0 means down.
    TrackWeight {
        /// The tracked object.
        name: String,
        /// How much it lowers the priority now.
        weight: u8,
    },
    /// Hand the Active role to a peer: resign with priority 0 and do not
    /// take the role back until the peer fails.
    Failover,
    /// Maintenance mode: stay passive (resigning if Active) until turned off.
    Maintenance(bool),
    /// Clear the restart guard's pacified state.
    ClearRestartGuard,
    /// Hold preemption (`true`) or release it (`false`). While held, a
    /// Backup does not preempt a live Active router of lower priority (it
    /// stays Backup and follows it), but still takes over when the Active
    /// router goes silent or resigns. tandemd holds it while configuration
    /// sync says this unit's configuration is not in sync with the
    /// partner's: the election never preempts into a unit that is not in
    /// sync, and a dead Active router is still replaced.
    HoldPreemption(bool),
}
