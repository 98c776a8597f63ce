//! VRRPv2 advertisements (RFC 3768 section 5), IPv4 only.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Version| Type  | Virtual Rtr ID|   Priority    | Count IP Addrs|
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |   Auth Type   |   Adver Int   |          Checksum             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                         IP Address (1)                        |
//! |                            .....                              |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                     Authentication Data (1)                   |
//! |                     Authentication Data (2)                   |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! A message with `n` addresses is exactly `16 + 4n` bytes. The checksum
//! covers the message only (section 5.3.8). Authentication types 1 (simple
//! text password) and 2 (IP Authentication Header) are those of RFC 2338,
//! which RFC 3768 retired but keepalived still speaks; with type 2 the
//! message travels inside an AH header (see [`crate::ah`]).

use alloc::vec::Vec;
use bytes::BytesMut;
use core::net::Ipv4Addr;

use crate::checksum::{self, Checksum};
use crate::error::{DecodeError, EncodeError};
use crate::{Priority, Seconds, Vrid};

/// Length of the fixed header, before the addresses.
pub const HEADER_LEN: usize = 8;
/// Length of the authentication data, after the addresses.
pub const AUTH_DATA_LEN: usize = 8;
/// The version this module speaks.
pub const VERSION: u8 = 2;
/// The only message type: ADVERTISEMENT.
pub const TYPE_ADVERTISEMENT: u8 = 1;

/// The Auth Type field (RFC 2338 section 5.3.6), as on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthType {
    /// 0: no authentication.
    None,
    /// 1: simple text password in the authentication data.
    SimpleText,
    /// 2: IP Authentication Header (the message follows an AH header).
    IpAh,
    /// Any other value.
    Unknown(u8),
}

impl From<u8> for AuthType {
    fn from(v: u8) -> AuthType {
        match v {
            0 => AuthType::None,
            1 => AuthType::SimpleText,
            2 => AuthType::IpAh,
            v => AuthType::Unknown(v),
        }
    }
}

impl From<AuthType> for u8 {
    fn from(t: AuthType) -> u8 {
        match t {
            AuthType::None => 0,
            AuthType::SimpleText => 1,
            AuthType::IpAh => 2,
            AuthType::Unknown(v) => v,
        }
    }
}

/// Authentication of an owned advertisement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Auth {
    /// Type 0; the authentication data is zero on send, ignored on receipt.
    None,
    /// Type 1: the password, NUL-padded to 8 bytes.
    SimpleText([u8; 8]),
    /// Type 2: protected by an IP Authentication Header around the message;
    /// the authentication data is zero.
    IpAh,
}

impl Auth {
    /// A simple-text password as keepalived sends it: at most 8 bytes,
    /// NUL-padded; longer passwords are cut to 8.
    pub fn simple_text(password: &[u8]) -> Auth {
        let mut data = [0u8; 8];
        let n = password.len().min(8);
        data[..n].copy_from_slice(&password[..n]);
        Auth::SimpleText(data)
    }

    /// The Auth Type field for this authentication.
    pub fn auth_type(&self) -> AuthType {
        match self {
            Auth::None => AuthType::None,
            Auth::SimpleText(_) => AuthType::SimpleText,
            Auth::IpAh => AuthType::IpAh,
        }
    }

    /// The 8 authentication data bytes sent for this authentication.
    pub fn data(&self) -> [u8; 8] {
        match self {
            Auth::SimpleText(d) => *d,
            _ => [0; 8],
        }
    }
}

/// A zero-copy, checked view of a VRRPv2 message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buf: T,
}

/// The fixed header as (version/type, VRID, count, auth type, interval),
/// read as one big-endian word (one bounds check).
fn header(input: &[u8]) -> nom::IResult<&[u8], (u8, u8, u8, u8, u8)> {
    let (input, h) = nom::number::complete::be_u64(input)?;
    let b = h.to_be_bytes();
    Ok((input, (b[0], b[1], b[3], b[4], b[5])))
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Checks the layout: version 2, type 1, VRID 1..=255, length
    /// `16 + 4 * count` with at least one address, a known authentication type, a non-zero interval.
    pub fn new_checked(buf: T) -> Result<Self, DecodeError> {
        let b = buf.as_ref();
        let min = HEADER_LEN + AUTH_DATA_LEN;
        let (_, (vt, vrid, count, auth, interval)) =
            header(b).map_err(|_| DecodeError::Truncated {
                needed: min,
                got: b.len(),
            })?;
        if vt >> 4 != VERSION {
            return Err(DecodeError::BadVersion {
                expected: VERSION,
                found: vt >> 4,
            });
        }
        if vt & 0x0f != TYPE_ADVERTISEMENT {
            return Err(DecodeError::BadType(vt & 0x0f));
        }
        if vrid == 0 {
            return Err(DecodeError::ZeroVrid);
        }
        let needed = min + 4 * usize::from(count);
        if b.len() < needed {
            return Err(DecodeError::Truncated {
                needed,
                got: b.len(),
            });
        }
        if b.len() != needed {
            return Err(DecodeError::AddressCountMismatch {
                count,
                len: b.len(),
            });
        }
        if count == 0 {
            return Err(DecodeError::NoAddresses);
        }
        if let AuthType::Unknown(t) = AuthType::from(auth) {
            return Err(DecodeError::UnknownAuthType(t));
        }
        if interval == 0 {
            return Err(DecodeError::ZeroInterval);
        }
        Ok(Packet { buf })
    }

    fn b(&self) -> &[u8] {
        self.buf.as_ref()
    }
    /// The version nibble (2).
    pub fn version(&self) -> u8 {
        self.b()[0] >> 4
    }
    /// Virtual Rtr ID (section 5.3.3).
    pub fn vrid(&self) -> Vrid {
        Vrid::new(self.b()[1]).unwrap_or(Vrid::new(1).expect("1 is a valid VRID"))
    }
    /// Priority (section 5.3.4).
    pub fn priority(&self) -> Priority {
        Priority(self.b()[2])
    }
    /// Count IP Addrs (section 5.3.5).
    pub fn count(&self) -> u8 {
        self.b()[3]
    }
    /// Auth Type (section 5.3.6).
    pub fn auth_type(&self) -> AuthType {
        AuthType::from(self.b()[4])
    }
    /// Adver Int (section 5.3.7).
    pub fn adver_int(&self) -> Seconds {
        Seconds(self.b()[5])
    }
    /// The checksum on the wire (section 5.3.8).
    pub fn checksum(&self) -> u16 {
        u16::from_be_bytes([self.b()[6], self.b()[7]])
    }
    /// The addresses (section 5.3.9).
    pub fn addresses(&self) -> impl Iterator<Item = Ipv4Addr> + '_ {
        let end = self.b().len() - AUTH_DATA_LEN;
        self.b()[HEADER_LEN..end]
            .chunks_exact(4)
            .map(|c| Ipv4Addr::new(c[0], c[1], c[2], c[3]))
    }
    /// The 8 authentication data bytes (section 5.3.10).
    pub fn auth_data(&self) -> [u8; 8] {
        let b = self.b();
        let mut d = [0u8; 8];
        d.copy_from_slice(&b[b.len() - AUTH_DATA_LEN..]);
        d
    }
    /// The message bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.b()
    }

    /// Verifies the checksum (message only; `Skip` skips it). A
    /// pseudo-header context is an error of the caller: VRRPv2 has none,
    /// so it is checked as `NoPseudoHeader`.
    pub fn verify_checksum(&self, ck: Checksum) -> Result<(), DecodeError> {
        checksum::verify_message_only(self.b(), ck)
    }
}

/// An owned VRRPv2 advertisement.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Repr {
    /// Virtual Rtr ID.
    pub vrid: Vrid,
    /// Priority.
    pub priority: Priority,
    /// Adver Int, 1..=255 seconds.
    pub adver_int: Seconds,
    /// Authentication type and data.
    pub auth: Auth,
    /// The virtual addresses (1 to 255).
    pub addresses: Vec<Ipv4Addr>,
}

impl Repr {
    /// Decodes a checked packet, verifying its checksum unless `ck` is `Skip`.
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>, ck: Checksum) -> Result<Repr, DecodeError> {
        p.verify_checksum(ck)?;
        let auth = match p.auth_type() {
            AuthType::None => Auth::None,
            AuthType::SimpleText => Auth::SimpleText(p.auth_data()),
            AuthType::IpAh => Auth::IpAh,
            AuthType::Unknown(t) => return Err(DecodeError::UnknownAuthType(t)),
        };
        Ok(Repr {
            vrid: p.vrid(),
            priority: p.priority(),
            adver_int: p.adver_int(),
            auth,
            addresses: p.addresses().collect(),
        })
    }

    /// [`Packet::new_checked`] then [`Repr::parse`].
    pub fn decode(bytes: &[u8], ck: Checksum) -> Result<Repr, DecodeError> {
        Repr::parse(&Packet::new_checked(bytes)?, ck)
    }

    /// Bytes [`Repr::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + 4 * self.addresses.len() + AUTH_DATA_LEN
    }

    /// Appends the message to `out` with its checksum (message only; `Skip`
    /// writes 0). On error nothing is written.
    pub fn emit(&self, out: &mut BytesMut, ck: Checksum) -> Result<(), EncodeError> {
        let n = self.addresses.len();
        if n == 0 || n > 255 {
            return Err(EncodeError::AddressCount(n));
        }
        if self.adver_int.0 == 0 {
            return Err(EncodeError::ZeroInterval);
        }
        let start = out.len();
        out.resize(start + self.buffer_len(), 0);
        let msg = &mut out[start..];
        msg[..6].copy_from_slice(&[
            (VERSION << 4) | TYPE_ADVERTISEMENT,
            self.vrid.get(),
            self.priority.0,
            n as u8,
            self.auth.auth_type().into(),
            self.adver_int.0,
        ]);
        for (c, a) in msg[HEADER_LEN..].chunks_exact_mut(4).zip(&self.addresses) {
            c.copy_from_slice(&a.octets());
        }
        let auth_at = msg.len() - AUTH_DATA_LEN;
        msg[auth_at..].copy_from_slice(&self.auth.data());
        checksum::write_message_only(msg, ck);
        Ok(())
    }
}

#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for Repr {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        let n = u.int_in_range(1..=8usize)?;
        let auth = match u.int_in_range(0..=2u8)? {
            0 => Auth::None,
            1 => Auth::SimpleText(u.arbitrary()?),
            _ => Auth::IpAh,
        };
        Ok(Repr {
            vrid: u.arbitrary()?,
            priority: Priority(u.arbitrary()?),
            adver_int: Seconds(u.int_in_range(1..=255)?),
            auth,
            addresses: (0..n)
                .map(|_| u.arbitrary().map(Ipv4Addr::from_bits))
                .collect::<Result<_, _>>()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // keepalived, VRID 52, priority 120, 1 s, simple text "s3cret"
    // (vector ka-v2-ipv4-auth-pass).
    const KA_PASS: [u8; 20] = [
        0x21, 0x34, 0x78, 0x01, 0x01, 0x01, 0x67, 0x48, 0xc0, 0x00, 0x02, 0x66, 0x73, 0x33, 0x63,
        0x72, 0x65, 0x74, 0x00, 0x00,
    ];

    #[test]
    fn getters_read_the_fields() {
        let p = Packet::new_checked(&KA_PASS[..]).unwrap();
        assert_eq!(p.version(), 2);
        assert_eq!(p.vrid().get(), 52);
        assert_eq!(p.priority(), Priority(120));
        assert_eq!(p.count(), 1);
        assert_eq!(p.auth_type(), AuthType::SimpleText);
        assert_eq!(p.adver_int(), Seconds(1));
        assert_eq!(p.checksum(), 0x6748);
        assert_eq!(
            p.addresses().collect::<Vec<_>>(),
            [Ipv4Addr::new(192, 0, 2, 102)]
        );
        assert_eq!(&p.auth_data(), b"s3cret\0\0");
        p.verify_checksum(Checksum::NoPseudoHeader).unwrap();
    }

    #[test]
    fn emit_reproduces_the_bytes() {
        let r = Repr::decode(&KA_PASS, Checksum::NoPseudoHeader).unwrap();
        assert_eq!(r.auth, Auth::simple_text(b"s3cret"));
        let mut out = BytesMut::from(&[0xa5u8][..]);
        r.emit(&mut out, Checksum::NoPseudoHeader).unwrap();
        assert_eq!(&out[1..], &KA_PASS[..]);
    }

    #[test]
    fn malformed_inputs_name_their_fault() {
        assert_eq!(
            Packet::new_checked(&KA_PASS[..12]).unwrap_err(),
            DecodeError::Truncated {
                needed: 20,
                got: 12
            }
        );
        let mut b = KA_PASS;
        b[4] = 3;
        assert_eq!(
            Packet::new_checked(&b[..]).unwrap_err(),
            DecodeError::UnknownAuthType(3)
        );
        let mut b = KA_PASS;
        b[5] = 0;
        assert_eq!(
            Packet::new_checked(&b[..]).unwrap_err(),
            DecodeError::ZeroInterval
        );
        let mut b = KA_PASS;
        b[3] = 0;
        assert_eq!(
            Packet::new_checked(&b[..]).unwrap_err(),
            DecodeError::AddressCountMismatch { count: 0, len: 20 }
        );
        let mut b = KA_PASS;
        b[7] ^= 1;
        assert!(matches!(
            Repr::decode(&b, Checksum::NoPseudoHeader),
            Err(DecodeError::BadChecksum {
                computed: 0x6748,
                found: 0x6749
            })
        ));
    }

    #[test]
    fn version_and_type_are_checked() {
        // RFC 3768 7.1: MUST verify the VRRP version is 2; type 1 is the only type.
        let mut b = KA_PASS;
        b[0] = 0x31;
        assert_eq!(
            Packet::new_checked(&b[..]).unwrap_err(),
            DecodeError::BadVersion {
                expected: 2,
                found: 3
            }
        );
        let mut b = KA_PASS;
        b[0] = 0x22;
        assert_eq!(
            Packet::new_checked(&b[..]).unwrap_err(),
            DecodeError::BadType(2)
        );
        let mut b = KA_PASS;
        b[1] = 0;
        assert_eq!(
            Packet::new_checked(&b[..]).unwrap_err(),
            DecodeError::ZeroVrid
        );
    }

    #[test]
    fn auth_data_is_ignored_under_auth_type_0() {
        // RFC 3768 5.3.10: set to zero on transmission, ignored on reception.
        let mut b = KA_PASS;
        b[4] = 0; // auth type 0, data still "s3cret"
        let c = crate::checksum::internet(&{
            let mut z = b;
            z[6] = 0;
            z[7] = 0;
            z
        });
        b[6..8].copy_from_slice(&c.to_be_bytes());
        let r = Repr::decode(&b, Checksum::NoPseudoHeader).unwrap();
        assert_eq!(r.auth, Auth::None);
        let mut out = BytesMut::new();
        r.emit(&mut out, Checksum::NoPseudoHeader).unwrap();
        assert_eq!(&out[12..], &[0u8; 8], "sent as zero");
    }

    #[test]
    fn emit_rejects_what_cannot_be_sent() {
        let mut r = Repr::decode(&KA_PASS, Checksum::NoPseudoHeader).unwrap();
        let mut out = BytesMut::new();
        r.adver_int = Seconds(0);
        assert_eq!(
            r.emit(&mut out, Checksum::Skip),
            Err(EncodeError::ZeroInterval)
        );
        r.adver_int = Seconds(1);
        r.addresses.clear();
        assert_eq!(
            r.emit(&mut out, Checksum::Skip),
            Err(EncodeError::AddressCount(0))
        );
        r.addresses = alloc::vec![Ipv4Addr::new(192, 0, 2, 1); 256];
        assert_eq!(
            r.emit(&mut out, Checksum::Skip),
            Err(EncodeError::AddressCount(256))
        );
        assert!(out.is_empty(), "nothing written on error");
    }

    #[test]
    fn long_passwords_are_cut_to_eight_bytes() {
        assert_eq!(Auth::simple_text(b"abcdefghijk").data(), *b"abcdefgh");
    }
}
