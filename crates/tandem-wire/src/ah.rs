//! VRRPv2 with authentication type 2: the IP Authentication Header as
//! keepalived sends it (RFC 2338 section 5.3.6.3 and RFC 2402).
//!
//! The packet is IPv4 protocol 51, then a 24-byte AH header (next header
//! 112, payload length 4, SPI = the sender's IPv4 address, a sequence
//! number, a 12-byte ICV), then the VRRPv2 message with auth type 2.
//!
//! keepalived's ICV is the first 12 bytes of HMAC-MD5 keyed with the
//! password NUL-padded to 8 bytes, over: the IPv4 header with TOS,
//! flags/fragment offset and header checksum zeroed (the TTL is kept), the
//! AH header with the ICV zeroed, and the VRRP message.

use hmac::{Hmac, Mac};
use md5::Md5;

use crate::error::DecodeError;

/// Length of the AH header keepalived sends (12 fixed bytes + 12-byte ICV).
pub const AH_LEN: usize = 24;
/// Length of the ICV (HMAC-MD5-96).
pub const ICV_LEN: usize = 12;

/// The ICV keepalived computes for an IPv4 header `ip_header`, an AH header
/// `ah` (its ICV bytes are ignored) and the VRRP `message`.
///
/// Returns `None` when `ip_header` is shorter than 20 bytes or `ah` is not
/// 24 bytes long.
pub fn keepalived_icv(
    ip_header: &[u8],
    ah: &[u8],
    message: &[u8],
    password: &[u8],
) -> Option<[u8; ICV_LEN]> {
    if ip_header.len() < 20 || ah.len() != AH_LEN {
        return None;
    }
    let mut key = [0u8; 8];
    let n = password.len().min(8);
    key[..n].copy_from_slice(&password[..n]);
    let mut mac = <Hmac<Md5> as Mac>::new_from_slice(&key).ok()?;
    // IPv4 header: TOS (1), flags/fragment (6..8) and checksum (10..12) zeroed.
    let mut ip = [0u8; 60];
    let ip = &mut ip[..ip_header.len().min(60)];
    ip.copy_from_slice(&ip_header[..ip.len()]);
    ip[1] = 0;
    ip[6..8].fill(0);
    ip[10..12].fill(0);
    mac.update(ip);
    mac.update(&ah[..12]);
    mac.update(&[0u8; ICV_LEN]);
    mac.update(message);
    let full = mac.finalize().into_bytes();
    let mut icv = [0u8; ICV_LEN];
    icv.copy_from_slice(&full[..ICV_LEN]);
    Some(icv)
}

/// Verifies the ICV in `ah` against the one computed with `password`.
pub fn verify_keepalived(
    ip_header: &[u8],
    ah: &[u8],
    message: &[u8],
    password: &[u8],
) -> Result<(), DecodeError> {
    let want = keepalived_icv(ip_header, ah, message, password).ok_or(DecodeError::Truncated {
        needed: AH_LEN,
        got: ah.len(),
    })?;
    // Constant time: fold every byte's difference.
    let diff = want
        .iter()
        .zip(&ah[12..AH_LEN])
        .fold(0u8, |d, (a, b)| d | (a ^ b));
    if diff == 0 {
        Ok(())
    } else {
        Err(DecodeError::BadAhIcv)
    }
}
