//! The findings of `tandemd sniff`'s diagnosis: stable kind names and
//! what to do about each (docs/sniff.md).

use std::net::IpAddr;

use tandem_time::Instant;
use tandem_wire::Family;

/// What a finding is about: a stable name ([`FindingKind::name`]) and a
/// hint on what to do ([`FindingKind::hint`]). docs/sniff.md describes
/// each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum FindingKind {
    /// The same VRID advertised with different address sets.
    DuplicateVrid,
    /// One of the colliding speakers went away.
    DuplicateVridCleared,
    /// A CARP HMAC or VRRPv2 AH ICV that does not verify with
    /// `--password`, or a VRRPv2 password that differs from it or between
    /// speakers.
    AuthMismatch,
    /// A TTL / hop limit other than 255.
    BadTtl,
    /// A checksum that matches no form the protocol allows.
    BadChecksum,
    /// Two sources sending adverts for one VRID at the same time.
    SplitBrain,
    /// The split brain is over: one of the two stopped.
    SplitBrainCleared,
    /// Nobody has advertised a known virtual router for its down interval.
    Silent,
    /// A silent virtual router advertises again.
    SilentCleared,
    /// Speakers of different protocols or versions in one VRID.
    MixedVersions,
    /// VRRPv3 over IPv4 speakers of one VRID using different checksum
    /// forms.
    MixedChecksums,
    /// CARP seen (informational).
    CarpSeen,
    /// Protocol-112 packets that do not decode.
    Malformed,
}

impl FindingKind {
    /// The stable name, as `"kind"` in JSON and after `!!` in text.
    pub const fn name(self) -> &'static str {
        match self {
            FindingKind::DuplicateVrid => "duplicate_vrid",
            FindingKind::DuplicateVridCleared => "duplicate_vrid_cleared",
            FindingKind::AuthMismatch => "auth_mismatch",
            FindingKind::BadTtl => "bad_ttl",
            FindingKind::BadChecksum => "bad_checksum",
            FindingKind::SplitBrain => "split_brain",
            FindingKind::SplitBrainCleared => "split_brain_cleared",
            FindingKind::Silent => "silent",
            FindingKind::SilentCleared => "silent_cleared",
            FindingKind::MixedVersions => "mixed_versions",
            FindingKind::MixedChecksums => "mixed_checksums",
            FindingKind::CarpSeen => "carp_seen",
            FindingKind::Malformed => "malformed",
        }
    }

    /// What an operator should check or do.
    pub const fn hint(self) -> &'static str {
        match self {
            FindingKind::DuplicateVrid => {
                "two separate virtual routers collide on one VRID: pick another VRID on one of them"
            }
            FindingKind::DuplicateVridCleared => "one of the colliding speakers stopped advertising",
            FindingKind::AuthMismatch => "check vhid, password and virtual addresses on every speaker",
            FindingKind::BadTtl => {
                "the sender is not on this link, or sends unicast / over a routed path: adverts must be sent with TTL 255 on the segment itself"
            }
            FindingKind::BadChecksum => {
                "damaged on the way, or a peer computes the checksum over other fields: compare the checksum forms the peers use"
            }
            FindingKind::SplitBrain => {
                "both act as Active: they do not hear each other's adverts (multicast filtered, a firewall dropping protocol 112, unicast peers misconfigured, authentication or VRID mismatch)"
            }
            FindingKind::SplitBrainCleared => "only one source advertises again",
            FindingKind::Silent => {
                "the Active stopped and no Backup took over: check the nodes are running and their link"
            }
            FindingKind::SilentCleared => "a router advertises again",
            FindingKind::MixedVersions => {
                "speakers of one VRID must run the same protocol and version: configure them alike"
            }
            FindingKind::MixedChecksums => {
                "peers disagree on the VRRPv3 IPv4 checksum form (RFC 9568 vs the IPv4 pseudo-header of keepalived and FRR): set tandemd's checksum = \"auto\", or keepalived's v3_checksum_as_v2 alike on all"
            }
            FindingKind::CarpSeen => {
                "CARP is identified by its layout; tcpdump and Wireshark label it VRRP"
            }
            FindingKind::Malformed => "a sender emits broken packets; the error says what is wrong",
        }
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// What it is.
    pub kind: FindingKind,
    /// When it was found (the `now` of the call that found it).
    pub at: Instant,
    /// The virtual router's family (`None` for a malformed packet whose IP
    /// header could not be read).
    pub family: Option<Family>,
    /// The VRID or VHID (`None` for malformed packets).
    pub vrid: Option<u8>,
    /// The IP sources involved.
    pub sources: Vec<IpAddr>,
    /// What was seen, in words, with the values an operator needs.
    pub message: String,
    /// Malformed packets: how many since the last report (1 otherwise).
    pub count: u64,
    /// Malformed packets: the decoder's error for the last one.
    pub error: Option<String>,
}
