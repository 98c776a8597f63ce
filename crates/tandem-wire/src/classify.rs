//! Telling CARP, VRRPv2 and VRRPv3 apart in an IP protocol 112 payload.
//!
//! All three share protocol number 112 and the 224.0.0.18 / ff02::12
//! groups; CARP and VRRPv2 even share version number 2. The rule, by layout
//! and length only:
//!
//! 1. version nibble 3: VRRPv3;
//! 2. version nibble 2 over IPv6: CARP (VRRPv2 is IPv4 only, RFC 3768);
//! 3. version nibble 2, 36 bytes, fourth byte other than 5: CARP. A VRRPv2
//!    message is `16 + 4 * count` bytes, so a 36-byte VRRPv2 message has
//!    count 5, while CARP's fourth byte is its authlen, 7;
//! 4. any other version nibble 2: VRRPv2;
//! 5. anything else: [`DecodeError::UnknownVersion`].
//!
//! A 36-byte CARP message whose fourth byte is 5 would read as a valid
//! VRRPv2 message; no CARP implementation sends authlen 5.

use crate::error::DecodeError;
use crate::Family;

/// Which protocol a protocol-112 payload is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// VRRP version 2 (RFC 3768).
    Vrrp2,
    /// VRRP version 3 (RFC 9568).
    Vrrp3,
    /// CARP version 2 (OpenBSD carp(4), ucarp).
    Carp,
}

impl Kind {
    /// The short name `tandemd decode` prints: `vrrp2`, `vrrp3`, `carp`.
    pub const fn name(self) -> &'static str {
        match self {
            Kind::Vrrp2 => "vrrp2",
            Kind::Vrrp3 => "vrrp3",
            Kind::Carp => "carp",
        }
    }
}

/// Classifies a protocol-112 payload carried over `family` (if known).
///
/// ```
/// use tandem_wire::classify::{classify, Kind};
/// use tandem_wire::Family;
/// let carp = [0x21, 10, 0, 7, 0, 1, 0, 0].iter().chain(&[0u8; 28]).copied().collect::<Vec<_>>();
/// assert_eq!(classify(&carp, Some(Family::V4)), Ok(Kind::Carp));
/// ```
pub fn classify(payload: &[u8], family: Option<Family>) -> Result<Kind, DecodeError> {
    let first = *payload
        .first()
        .ok_or(DecodeError::Truncated { needed: 1, got: 0 })?;
    match first >> 4 {
        3 => Ok(Kind::Vrrp3),
        2 if family == Some(Family::V6) => Ok(Kind::Carp),
        2 if payload.len() == crate::carp::LEN && payload[3] != 5 => Ok(Kind::Carp),
        2 => Ok(Kind::Vrrp2),
        v => Err(DecodeError::UnknownVersion(v)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn carp_is_never_vrrp() {
        let mut carp = vec![0u8; 36];
        carp[0] = 0x21;
        carp[3] = 7;
        assert_eq!(classify(&carp, Some(Family::V4)), Ok(Kind::Carp));
        assert_eq!(classify(&carp, None), Ok(Kind::Carp));
        // Wrong authlen still has CARP's shape: the CARP decoder names the fault.
        carp[3] = 6;
        assert_eq!(classify(&carp, Some(Family::V4)), Ok(Kind::Carp));
    }

    #[test]
    fn vrrp2_of_carp_length_has_count_5() {
        let mut v2 = vec![0u8; 36];
        v2[0] = 0x21;
        v2[3] = 5;
        assert_eq!(classify(&v2, Some(Family::V4)), Ok(Kind::Vrrp2));
        // Count 7 means 44 bytes: VRRPv2, never CARP.
        let mut v2 = vec![0u8; 44];
        v2[0] = 0x21;
        v2[3] = 7;
        assert_eq!(classify(&v2, Some(Family::V4)), Ok(Kind::Vrrp2));
    }

    #[test]
    fn version_2_over_ipv6_is_carp() {
        assert_eq!(classify(&[0x21; 20], Some(Family::V6)), Ok(Kind::Carp));
    }

    #[test]
    fn other_versions_are_errors() {
        assert_eq!(
            classify(&[0x11; 20], None),
            Err(DecodeError::UnknownVersion(1))
        );
        assert_eq!(
            classify(&[], None),
            Err(DecodeError::Truncated { needed: 1, got: 0 })
        );
    }
}
