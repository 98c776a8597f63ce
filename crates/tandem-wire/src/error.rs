//! Errors of the codecs.
//!
//! [`DecodeError`] means the bytes are malformed: a receiver drops the packet
//! and counts the error by kind. Well-formed but unacceptable input (a VRID
//! that is not configured, a TTL that is not 255) is not a decode error: the
//! election reports it as a diagnostic.

use core::net::IpAddr;

use crate::Family;

/// Why a message (or the IP packet or frame carrying it) could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Fewer bytes than the layout needs.
    #[error("truncated: need {needed} bytes, got {got}")]
    Truncated {
        /// Bytes the layout needs.
        needed: usize,
        /// Bytes present.
        got: usize,
    },
    /// A fixed-size message with extra bytes after it.
    #[error("bad length: a {what} message is {expected} bytes, got {got}")]
    BadLength {
        /// The message kind.
        what: &'static str,
        /// Its fixed length.
        expected: usize,
        /// Bytes present.
        got: usize,
    },
    /// The version nibble is not the one of the format being decoded.
    #[error("bad version {found}: expected {expected}")]
    BadVersion {
        /// Expected version.
        expected: u8,
        /// Version on the wire.
        found: u8,
    },
    /// The version nibble is none of VRRPv2/CARP (2) or VRRPv3 (3).
    #[error("unknown protocol-112 version {0}: neither VRRPv2, VRRPv3 nor CARP")]
    UnknownVersion(u8),
    /// The type nibble is not 1 (ADVERTISEMENT), the only type defined.
    #[error("bad type {0}: only 1 (advertisement) is defined")]
    BadType(u8),
    /// VRID / VHID 0 is not a valid virtual router identifier (1..=255).
    #[error("virtual router id 0 is invalid (1..=255)")]
    ZeroVrid,
    /// VRRPv3 requires at least one address (RFC 9568 section 5.2.5).
    #[error("address count is 0: an advertisement lists at least one address")]
    NoAddresses,
    /// The address count does not match the length of the message.
    #[error("address count {count} does not match message length {len}")]
    AddressCountMismatch {
        /// Count field on the wire.
        count: u8,
        /// Length of the message in bytes.
        len: usize,
    },
    /// The addresses in the message are of another family than the IP
    /// packet that carries it (or than the checksum context).
    #[error("message lists {message} addresses but travels over {carrier}")]
    FamilyMismatch {
        /// Family of the addresses in the message.
        message: Family,
        /// Family of the carrying IP packet.
        carrier: Family,
    },
    /// The checksum on the wire is not the one computed over the bytes.
    #[error("bad checksum: computed {computed:#06x}, found {found:#06x}")]
    BadChecksum {
        /// What the checksum should be.
        computed: u16,
        /// What the message carries.
        found: u16,
    },
    /// An advertisement interval of 0.
    #[error("advertisement interval is 0")]
    ZeroInterval,
    /// A VRRPv2 authentication type other than 0, 1 or 2.
    #[error("unknown VRRPv2 authentication type {0} (known: 0 none, 1 simple text, 2 IP AH)")]
    UnknownAuthType(u8),
    /// A CARP authlen other than 7 (counter and HMAC in 32-bit words).
    #[error("bad CARP authlen {0}: expected 7")]
    BadAuthLen(u8),
    /// The CARP HMAC does not verify with the key.
    #[error("bad HMAC: check vhid, password and virtual addresses")]
    BadHmac,
    /// keepalived's IPsec-AH ICV does not verify with the password.
    #[error("bad IPsec-AH ICV: check the password (auth_pass)")]
    BadAhIcv,
    /// The carrying IP packet or frame is malformed.
    #[error("bad IP packet: {0}")]
    Ip(#[from] IpError),
}

/// Why the IP packet or link-layer frame around an advertisement is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IpError {
    /// The frame or packet ends inside a header.
    #[error("truncated header: {0}")]
    Truncated(&'static str),
    /// A header field is invalid.
    #[error("malformed header: {0}")]
    Malformed(&'static str),
    /// The link layer carries something other than IPv4 or IPv6.
    #[error("not an IP packet (EtherType {0:#06x})")]
    NotIp(u16),
    /// The IP packet carries another protocol than 112 (VRRP / CARP).
    #[error("IP protocol {0}, not 112 (VRRP / CARP)")]
    NotProtocol112(u8),
    /// A fragment: advertisements are never fragmented.
    #[error("fragmented packet: advertisements are never fragmented")]
    Fragmented,
    /// Source and destination of different families.
    #[error("source {src} and destination {dst} are of different families")]
    MixedFamilies {
        /// Source address.
        src: IpAddr,
        /// Destination address.
        dst: IpAddr,
    },
}

/// Why a representation could not be written to the wire.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The address list is empty or longer than 255.
    #[error("{0} addresses: an advertisement carries 1 to 255")]
    AddressCount(usize),
    /// A VRRPv3 Max Adver Int outside 1..=4095 centiseconds.
    #[error("advertisement interval {0} cs is outside 1..=4095")]
    IntervalOutOfRange(u16),
    /// A VRRPv2 advertisement interval of 0 seconds, or CARP advbase and
    /// advskew both 0.
    #[error("advertisement interval is 0")]
    ZeroInterval,
    /// The checksum context is of another family than the addresses.
    #[error("addresses are {message} but the checksum context is {context}")]
    FamilyMismatch {
        /// Family of the addresses.
        message: Family,
        /// Family of the checksum context.
        context: Family,
    },
    /// The CARP key was made for another VHID than the message's.
    #[error("CARP key is for vhid {key}, message has vhid {message}")]
    VhidMismatch {
        /// VHID the key covers.
        key: u8,
        /// VHID of the message.
        message: u8,
    },
}
