//! The Internet checksum (RFC 1071) and the coverage rules of each format.
//!
//! | format            | checksum covers                                            |
//! |-------------------|------------------------------------------------------------|
//! | VRRPv2            | the VRRP message only (RFC 3768 section 5.3.8)             |
//! | VRRPv3 over IPv6  | IPv6 pseudo-header + message (RFC 9568 section 5.2.8)      |
//! | VRRPv3 over IPv4  | RFC 9568: message only; keepalived and FRR by default:     |
//! |                   | IPv4 pseudo-header + message                               |
//! | CARP (v4 and v6)  | the CARP message only                                      |

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::error::DecodeError;
use crate::IP_PROTOCOL;

/// What a checksum covers besides the message: the context the bytes lack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Checksum {
    /// Message plus the pseudo-header of the carrying packet (VRRPv3 over
    /// IPv6 always; VRRPv3 over IPv4 as keepalived and FRR send by default).
    PseudoHeader {
        /// IP source address.
        src: IpAddr,
        /// IP destination address.
        dst: IpAddr,
    },
    /// The message alone (VRRPv2, CARP, and VRRPv3 over IPv4 per RFC 9568).
    NoPseudoHeader,
    /// On parse: accept any VRRPv3 IPv4 mode met in the field (automatic
    /// mode): message only, pseudo-header, and for unicast packets the
    /// pseudo-header with 224.0.0.18 as destination (keepalived's
    /// `old_unicast_checksum`). On emit it is the same as `PseudoHeader`.
    Either {
        /// IP source address.
        src: IpAddr,
        /// IP destination address.
        dst: IpAddr,
    },
    /// Do not verify (parse) / write a zero checksum (emit).
    Skip,
}

/// Which VRRPv3 coverage rule a checksum on the wire matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ChecksumMode {
    /// The message only: RFC 9568 for IPv4 (keepalived `v3_checksum_as_v2`).
    NoPseudoHeader,
    /// Pseudo-header and message: IPv6 always; keepalived and FRR on IPv4.
    PseudoHeader,
    /// Pseudo-header with the multicast group as destination although the
    /// packet was unicast: keepalived's `old_unicast_checksum` (IPv4).
    PseudoHeaderGroupDst,
}

impl ChecksumMode {
    /// The name `tandemd decode` prints for a VRRPv3 IPv4 checksum mode.
    pub const fn name(self) -> &'static str {
        match self {
            ChecksumMode::NoPseudoHeader => "rfc9568",
            ChecksumMode::PseudoHeader => "ipv4-pseudo-header",
            ChecksumMode::PseudoHeaderGroupDst => "ipv4-pseudo-header-group-dst",
        }
    }
}

/// Adds `data` to a running one's-complement sum kept in a `u64`.
///
/// Words are read big-endian, 4 bytes at a time; an odd last byte is padded
/// with zero as RFC 1071 says.
#[inline]
pub fn sum(mut acc: u64, data: &[u8]) -> u64 {
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        acc += u64::from(u32::from_be_bytes([c[0], c[1], c[2], c[3]]));
    }
    let rest = chunks.remainder();
    let mut tail = [0u8; 4];
    tail[..rest.len()].copy_from_slice(rest);
    acc + u64::from(u32::from_be_bytes(tail))
}

/// Folds a running sum to 16 bits and complements it.
#[inline]
pub fn finish(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// The Internet checksum of `data` alone.
///
/// ```
/// // RFC 1071 section 3 example bytes.
/// let c = tandem_wire::checksum::internet(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
/// assert_eq!(c, !0xddf2);
/// ```
#[inline]
pub fn internet(data: &[u8]) -> u16 {
    finish(sum(0, data))
}

/// The one's-complement sum of the pseudo-header for a protocol-112 payload
/// of `len` bytes from `src` to `dst`; `None` when the families differ.
#[inline]
pub fn pseudo_header_sum(src: IpAddr, dst: IpAddr, len: usize) -> Option<u64> {
    pseudo_header_sum_for(src, dst, len, IP_PROTOCOL)
}

/// As [`pseudo_header_sum`], for any upper-layer `protocol` (58 for ICMPv6).
#[inline]
pub fn pseudo_header_sum_for(src: IpAddr, dst: IpAddr, len: usize, protocol: u8) -> Option<u64> {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => Some(pseudo_v4(s, d, len, protocol)),
        (IpAddr::V6(s), IpAddr::V6(d)) => Some(pseudo_v6(s, d, len, protocol)),
        _ => None,
    }
}

#[inline]
fn pseudo_v4(src: Ipv4Addr, dst: Ipv4Addr, len: usize, protocol: u8) -> u64 {
    // src, dst, zero, protocol, length (RFC 768 layout)
    let acc = u64::from(u32::from(src)) + u64::from(u32::from(dst));
    acc + u64::from(protocol) + (len as u64 & 0xffff)
}

#[inline]
fn pseudo_v6(src: Ipv6Addr, dst: Ipv6Addr, len: usize, protocol: u8) -> u64 {
    // src, dst, 32-bit length, 24 zero bits, next header (RFC 8200 section 8.1)
    let acc = sum(sum(0, &src.octets()), &dst.octets());
    acc + (len as u64 & 0xffff_ffff) + u64::from(protocol)
}

/// The one's-complement sum of `msg` with its checksum field (bytes 6..8)
/// counted as zero. Summing the whole message and adding the field's
/// complement avoids a copy.
#[inline]
pub(crate) fn message_sum(msg: &[u8]) -> u64 {
    let found = u16::from_be_bytes([msg[6], msg[7]]);
    sum(0, msg) + u64::from(!found)
}

/// The checksum for a message whose [`message_sum`] is `base`, with the
/// pseudo-header of `src` -> `dst` added; `None` for mixed families.
#[inline]
pub(crate) fn with_pseudo(base: u64, src: IpAddr, dst: IpAddr, len: usize) -> Option<u16> {
    Some(finish(base + pseudo_header_sum(src, dst, len)?))
}

/// Verifies the checksum of a message it covers alone (VRRPv2, CARP);
/// `Skip` skips it. A pseudo-header context is checked as message-only:
/// these formats have none.
pub(crate) fn verify_message_only(msg: &[u8], ck: Checksum) -> Result<(), DecodeError> {
    if ck == Checksum::Skip {
        return Ok(());
    }
    let found = u16::from_be_bytes([msg[6], msg[7]]);
    let computed = finish(message_sum(msg));
    if computed == found {
        Ok(())
    } else {
        Err(DecodeError::BadChecksum { computed, found })
    }
}

/// Writes the message-only checksum into bytes 6..8 of `msg`, whose field
/// is zero (VRRPv2, CARP); `Skip` leaves it zero.
pub(crate) fn write_message_only(msg: &mut [u8], ck: Checksum) {
    if ck != Checksum::Skip {
        let c = internet(msg);
        msg[6..8].copy_from_slice(&c.to_be_bytes());
    }
}

/// The checksum over `msg` (its checksum field counted as zero) under the
/// coverage `ck` (`Either` computes the pseudo-header form).
///
/// Returns `None` for `Skip` or when `src` and `dst` are of different families.
#[inline]
pub(crate) fn compute(msg: &[u8], ck: Checksum) -> Option<u16> {
    let base = message_sum(msg);
    match ck {
        Checksum::NoPseudoHeader => Some(finish(base)),
        Checksum::PseudoHeader { src, dst } | Checksum::Either { src, dst } => {
            with_pseudo(base, src, dst, msg.len())
        }
        Checksum::Skip => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 section 3: the sum of these words is ddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(internet(&data), !0xddf2);
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(
            internet(&[0x12, 0x34, 0x56]),
            internet(&[0x12, 0x34, 0x56, 0x00])
        );
    }

    #[test]
    fn a_message_with_its_checksum_sums_to_zero() {
        let mut msg = [0x31, 0x3d, 0x96, 0x03, 0x00, 0x64, 0, 0, 0xc0, 0, 2, 0x3d];
        let c = internet(&msg);
        msg[6..8].copy_from_slice(&c.to_be_bytes());
        assert_eq!(internet(&msg), 0);
        assert_eq!(compute(&msg, Checksum::NoPseudoHeader), Some(c));
    }

    #[test]
    fn mixed_families_have_no_pseudo_header() {
        let s = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
        let d = IpAddr::V6(Ipv6Addr::LOCALHOST);
        assert_eq!(pseudo_header_sum(s, d, 8), None);
    }
}
