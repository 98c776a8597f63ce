//! VRRPv3 advertisements (RFC 9568 section 5), over IPv4 and IPv6.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Version| Type  | Virtual Rtr ID|   Priority    |Count IPvX Addr|
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |(rsvd) |     Max Adver Int     |          Checksum             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                     IPvX Address(es) ...                      |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! The message does not say whether its addresses are IPv4 or IPv6: with
//! `n >= 1` addresses it is `8 + 4n` bytes long for IPv4 and `8 + 16n` for
//! IPv6, and the two never coincide, so the length tells.
//!
//! The checksum (section 5.2.8) covers the message and, for IPv6, the IPv6
//! pseudo-header. For IPv4, RFC 9568 clarified that there is no
//! pseudo-header, but keepalived and FRR include one by default: see
//! [`Checksum`] and [`Packet::checksum_mode`].

use alloc::vec::Vec;
use bytes::BytesMut;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::checksum::{self, Checksum, ChecksumMode};
use crate::error::{DecodeError, EncodeError, IpError};
use crate::{Centiseconds, Family, Priority, Vrid};

/// Length of the fixed header, before the addresses.
pub const HEADER_LEN: usize = 8;
/// The version this module speaks.
pub const VERSION: u8 = 3;
/// The only message type: ADVERTISEMENT.
pub const TYPE_ADVERTISEMENT: u8 = 1;

struct Header {
    version: u8,
    kind: u8,
    vrid: u8,
    count: u8,
    max_adver_int: u16,
}

/// The fixed header, read as one big-endian word (one bounds check).
fn header(input: &[u8]) -> nom::IResult<&[u8], Header> {
    let (input, h) = nom::number::complete::be_u64(input)?;
    Ok((
        input,
        Header {
            version: (h >> 60) as u8,
            kind: (h >> 56) as u8 & 0x0f,
            vrid: (h >> 48) as u8,
            count: (h >> 32) as u8,
            max_adver_int: (h >> 16) as u16 & 0x0fff,
        },
    ))
}

/// A zero-copy, checked view of a VRRPv3 message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buf: T,
    family: Family,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Checks the layout: length, version 3, type 1, VRID 1..=255, at least
    /// one address, a count that matches the length, a non-zero interval.
    /// The checksum is checked separately ([`Packet::verify_checksum`]),
    /// since it needs the addresses of the carrying packet.
    pub fn new_checked(buf: T) -> Result<Self, DecodeError> {
        let b = buf.as_ref();
        let (_, h) = header(b).map_err(|_| DecodeError::Truncated {
            needed: HEADER_LEN,
            got: b.len(),
        })?;
        if h.version != VERSION {
            return Err(DecodeError::BadVersion {
                expected: VERSION,
                found: h.version,
            });
        }
        if h.kind != TYPE_ADVERTISEMENT {
            return Err(DecodeError::BadType(h.kind));
        }
        if h.vrid == 0 {
            return Err(DecodeError::ZeroVrid);
        }
        if h.count == 0 {
            return Err(DecodeError::NoAddresses);
        }
        let body = b.len() - HEADER_LEN;
        let n = usize::from(h.count);
        let family = if body == 4 * n {
            Family::V4
        } else if body == 16 * n {
            Family::V6
        } else if body < 4 * n {
            return Err(DecodeError::Truncated {
                needed: HEADER_LEN + 4 * n,
                got: b.len(),
            });
        } else {
            return Err(DecodeError::AddressCountMismatch {
                count: h.count,
                len: b.len(),
            });
        };
        if h.max_adver_int == 0 {
            return Err(DecodeError::ZeroInterval);
        }
        Ok(Packet { buf, family })
    }

    /// Checks the layout and that the addresses are of `family` (the family
    /// of the carrying IP packet).
    ///
    /// Knowing the family, a message shorter than its count needs in that
    /// family is [`DecodeError::Truncated`] (with the length that family
    /// needs), where [`Packet::new_checked`] alone would call an IPv6
    /// message cut short an address count mismatch. A message that is
    /// exactly as long as `count` addresses of the other family is a
    /// [`DecodeError::FamilyMismatch`].
    pub fn new_checked_family(buf: T, family: Family) -> Result<Self, DecodeError> {
        let (len, count) = {
            let b = buf.as_ref();
            (b.len(), b.get(3).copied())
        };
        let p = match (Self::new_checked(buf), count) {
            (
                Err(DecodeError::Truncated { .. } | DecodeError::AddressCountMismatch { .. }),
                Some(count),
            ) if len >= HEADER_LEN
                && len < HEADER_LEN + usize::from(count) * family.address_len() =>
            {
                return Err(DecodeError::Truncated {
                    needed: HEADER_LEN + usize::from(count) * family.address_len(),
                    got: len,
                });
            }
            (r, _) => r?,
        };
        if p.family != family {
            return Err(DecodeError::FamilyMismatch {
                message: p.family,
                carrier: family,
            });
        }
        Ok(p)
    }

    fn b(&self) -> &[u8] {
        self.buf.as_ref()
    }

    /// The version nibble (3).
    pub fn version(&self) -> u8 {
        self.b()[0] >> 4
    }
    /// Virtual Rtr ID (section 5.2.3).
    pub fn vrid(&self) -> Vrid {
        Vrid::new(self.b()[1]).unwrap_or(Vrid::new(1).expect("1 is a valid VRID"))
    }
    /// Priority (section 5.2.4).
    pub fn priority(&self) -> Priority {
        Priority(self.b()[2])
    }
    /// Count IPvX Addr (section 5.2.5).
    pub fn count(&self) -> u8 {
        self.b()[3]
    }
    /// The 4 reserved bits: zero on send, ignored on receipt (section 5.2.6).
    pub fn reserved(&self) -> u8 {
        self.b()[4] >> 4
    }
    /// Max Adver Int (section 5.2.7).
    pub fn max_adver_int(&self) -> Centiseconds {
        Centiseconds(u16::from_be_bytes([self.b()[4], self.b()[5]]) & 0x0fff)
    }
    /// The checksum on the wire (section 5.2.8).
    pub fn checksum(&self) -> u16 {
        u16::from_be_bytes([self.b()[6], self.b()[7]])
    }
    /// The family of the addresses, told by the length.
    pub fn family(&self) -> Family {
        self.family
    }
    /// The addresses, in wire order (section 5.2.9).
    pub fn addresses(&self) -> impl Iterator<Item = IpAddr> + '_ {
        let family = self.family;
        self.b()[HEADER_LEN..]
            .chunks_exact(family.address_len())
            .map(move |c| match family {
                Family::V4 => IpAddr::V4(Ipv4Addr::new(c[0], c[1], c[2], c[3])),
                Family::V6 => {
                    let mut o = [0u8; 16];
                    o.copy_from_slice(c);
                    IpAddr::V6(Ipv6Addr::from(o))
                }
            })
    }
    /// The message bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.b()
    }
    /// The buffer back.
    pub fn into_inner(self) -> T {
        self.buf
    }

    /// Verifies the checksum under the coverage `ck`, and returns the mode
    /// that matched (`None` for [`Checksum::Skip`]).
    ///
    /// `Either` accepts every IPv4 coverage met in the field (see
    /// [`Checksum::Either`]) and only the pseudo-header for IPv6 (RFC 9568
    /// section 5.2.8 leaves IPv6 no choice).
    pub fn verify_checksum(&self, ck: Checksum) -> Result<Option<ChecksumMode>, DecodeError> {
        let found = self.checksum();
        let msg = self.b();
        let check = |computed: u16, mode| {
            if computed == found {
                Ok(Some(mode))
            } else {
                Err(DecodeError::BadChecksum { computed, found })
            }
        };
        match ck {
            Checksum::Skip => Ok(None),
            Checksum::NoPseudoHeader => check(
                checksum::finish(checksum::message_sum(msg)),
                ChecksumMode::NoPseudoHeader,
            ),
            Checksum::PseudoHeader { src, dst } => {
                let pseudo = self.pseudo_header_sum(src, dst)?;
                let base = checksum::message_sum(msg);
                check(checksum::finish(base + pseudo), ChecksumMode::PseudoHeader)
            }
            Checksum::Either { src, dst } => {
                // The message is summed once; each form adds its pseudo-header.
                let pseudo = self.pseudo_header_sum(src, dst)?;
                let base = checksum::message_sum(msg);
                let with = checksum::finish(base + pseudo);
                if with == found {
                    return Ok(Some(ChecksumMode::PseudoHeader));
                }
                if self.family == Family::V4 {
                    if checksum::finish(base) == found {
                        return Ok(Some(ChecksumMode::NoPseudoHeader));
                    }
                    let group = IpAddr::V4(crate::frame::GROUP_V4);
                    if dst != group
                        && checksum::with_pseudo(base, src, group, msg.len()) == Some(found)
                    {
                        return Ok(Some(ChecksumMode::PseudoHeaderGroupDst));
                    }
                }
                Err(DecodeError::BadChecksum {
                    computed: with,
                    found,
                })
            }
        }
    }

    /// The pseudo-header sum for `src` -> `dst`, which must both be of the
    /// message's family (for mixed families no pseudo-header exists, so no
    /// checksum can verify, not even a 0 on the wire).
    #[inline]
    fn pseudo_header_sum(&self, src: IpAddr, dst: IpAddr) -> Result<u64, DecodeError> {
        let len = self.b().len();
        match (src, dst, self.family) {
            (IpAddr::V4(_), IpAddr::V4(_), Family::V4)
            | (IpAddr::V6(_), IpAddr::V6(_), Family::V6) => {
                Ok(checksum::pseudo_header_sum(src, dst, len).unwrap_or(0))
            }
            (IpAddr::V4(_), IpAddr::V4(_), _) | (IpAddr::V6(_), IpAddr::V6(_), _) => {
                Err(DecodeError::FamilyMismatch {
                    message: self.family,
                    carrier: Family::of(src),
                })
            }
            _ => Err(IpError::MixedFamilies { src, dst }.into()),
        }
    }

    /// Which coverage the checksum on the wire matches, for a packet from
    /// `src` to `dst`; `None` if neither.
    pub fn checksum_mode(&self, src: IpAddr, dst: IpAddr) -> Option<ChecksumMode> {
        self.verify_checksum(Checksum::Either { src, dst })
            .ok()
            .flatten()
    }
}

/// Addresses of one family, as a VRRPv3 advertisement lists them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Addresses {
    /// IPv4 virtual addresses.
    V4(Vec<Ipv4Addr>),
    /// IPv6 virtual addresses (the link-local one first, RFC 9568 section 5.2.9).
    V6(Vec<Ipv6Addr>),
}

impl Addresses {
    /// The addresses of `ips`, if they are all of one family (and there is
    /// at least one).
    pub fn from_ips(ips: &[IpAddr]) -> Option<Addresses> {
        let first = ips.first()?;
        let out = match first {
            IpAddr::V4(_) => Addresses::V4(
                ips.iter()
                    .map(|a| match a {
                        IpAddr::V4(a) => Some(*a),
                        IpAddr::V6(_) => None,
                    })
                    .collect::<Option<_>>()?,
            ),
            IpAddr::V6(_) => Addresses::V6(
                ips.iter()
                    .map(|a| match a {
                        IpAddr::V6(a) => Some(*a),
                        IpAddr::V4(_) => None,
                    })
                    .collect::<Option<_>>()?,
            ),
        };
        Some(out)
    }

    /// The family.
    pub fn family(&self) -> Family {
        match self {
            Addresses::V4(_) => Family::V4,
            Addresses::V6(_) => Family::V6,
        }
    }
    /// How many.
    pub fn len(&self) -> usize {
        match self {
            Addresses::V4(a) => a.len(),
            Addresses::V6(a) => a.len(),
        }
    }
    /// True if there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Each address as an `IpAddr`.
    pub fn iter(&self) -> impl Iterator<Item = IpAddr> + '_ {
        let (v4, v6) = match self {
            Addresses::V4(a) => (&a[..], &[][..]),
            Addresses::V6(a) => (&[][..], &a[..]),
        };
        v4.iter()
            .map(|a| IpAddr::V4(*a))
            .chain(v6.iter().map(|a| IpAddr::V6(*a)))
    }
}

/// An owned VRRPv3 advertisement.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Repr {
    /// Virtual Rtr ID.
    pub vrid: Vrid,
    /// Priority.
    pub priority: Priority,
    /// Max Adver Int, 1..=4095 centiseconds.
    pub max_adver_int: Centiseconds,
    /// The virtual addresses (1 to 255 of them).
    pub addresses: Addresses,
}

impl Repr {
    /// Decodes a checked packet, verifying its checksum under `ck`.
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>, ck: Checksum) -> Result<Repr, DecodeError> {
        p.verify_checksum(ck)?;
        let body = &p.b()[HEADER_LEN..];
        let addresses = match p.family() {
            Family::V4 => Addresses::V4(
                body.chunks_exact(4)
                    .map(|c| Ipv4Addr::new(c[0], c[1], c[2], c[3]))
                    .collect(),
            ),
            Family::V6 => Addresses::V6(
                body.chunks_exact(16)
                    .map(|c| Ipv6Addr::from(<[u8; 16]>::try_from(c).unwrap_or([0; 16])))
                    .collect(),
            ),
        };
        Ok(Repr {
            vrid: p.vrid(),
            priority: p.priority(),
            max_adver_int: p.max_adver_int(),
            addresses,
        })
    }

    /// Checks the layout of `bytes` and decodes them: [`Packet::new_checked`]
    /// then [`Repr::parse`].
    pub fn decode(bytes: &[u8], ck: Checksum) -> Result<Repr, DecodeError> {
        Repr::parse(&Packet::new_checked(bytes)?, ck)
    }

    /// Bytes [`Repr::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.addresses.len() * self.addresses.family().address_len()
    }

    /// Appends the message to `out`, checksum included (computed under
    /// `ck`; `Either` counts as `PseudoHeader`, `Skip` writes 0).
    /// On error nothing is written.
    pub fn emit(&self, out: &mut BytesMut, ck: Checksum) -> Result<(), EncodeError> {
        let n = self.addresses.len();
        if n == 0 || n > 255 {
            return Err(EncodeError::AddressCount(n));
        }
        if self.max_adver_int.0 == 0 || self.max_adver_int > Centiseconds::MAX_ADVER_INT {
            return Err(EncodeError::IntervalOutOfRange(self.max_adver_int.0));
        }
        if let Checksum::PseudoHeader { src, dst } | Checksum::Either { src, dst } = ck {
            // Both ends: with mixed families there is no pseudo-header to sum.
            for context in [Family::of(src), Family::of(dst)] {
                if context != self.addresses.family() {
                    return Err(EncodeError::FamilyMismatch {
                        message: self.addresses.family(),
                        context,
                    });
                }
            }
        }
        // Size once, then write in place: one resize instead of a call per field.
        let start = out.len();
        out.resize(start + self.buffer_len(), 0);
        let msg = &mut out[start..];
        msg[..6].copy_from_slice(&[
            (VERSION << 4) | TYPE_ADVERTISEMENT,
            self.vrid.get(),
            self.priority.0,
            n as u8,
            (self.max_adver_int.0 >> 8) as u8,
            self.max_adver_int.0 as u8,
        ]);
        match &self.addresses {
            Addresses::V4(a) => {
                for (c, a) in msg[HEADER_LEN..].chunks_exact_mut(4).zip(a) {
                    c.copy_from_slice(&a.octets());
                }
            }
            Addresses::V6(a) => {
                for (c, a) in msg[HEADER_LEN..].chunks_exact_mut(16).zip(a) {
                    c.copy_from_slice(&a.octets());
                }
            }
        }
        let ck = match ck {
            Checksum::Either { src, dst } => Checksum::PseudoHeader { src, dst },
            ck => ck,
        };
        if let Some(c) = checksum::compute(msg, ck) {
            msg[6..8].copy_from_slice(&c.to_be_bytes());
        }
        Ok(())
    }
}

#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for Repr {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        let n = u.int_in_range(1..=8usize)?;
        let addresses = if u.arbitrary()? {
            Addresses::V6(
                (0..n)
                    .map(|_| u.arbitrary().map(Ipv6Addr::from_bits))
                    .collect::<Result<_, _>>()?,
            )
        } else {
            Addresses::V4(
                (0..n)
                    .map(|_| u.arbitrary().map(Ipv4Addr::from_bits))
                    .collect::<Result<_, _>>()?,
            )
        };
        Ok(Repr {
            vrid: u.arbitrary()?,
            priority: Priority(u.arbitrary()?),
            max_adver_int: Centiseconds(u.int_in_range(1..=4095)?),
            addresses,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    // keepalived, VRID 61, priority 150, 100 cs, three IPv4 addresses,
    // IPv4 pseudo-header checksum (vector ka-v3-ipv4-3vip-int1).
    const KA_V4: [u8; 20] = [
        0x31, 0x3d, 0x96, 0x03, 0x00, 0x64, 0x4f, 0x06, 0xc0, 0x00, 0x02, 0x3d, 0xc0, 0x00, 0x02,
        0x3e, 0xc0, 0x00, 0x02, 0x3f,
    ];
    const SRC: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    const DST: IpAddr = IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18));

    #[test]
    fn getters_read_the_fields() {
        let p = Packet::new_checked(&KA_V4[..]).unwrap();
        assert_eq!(p.version(), 3);
        assert_eq!(p.vrid().get(), 61);
        assert_eq!(p.priority(), Priority(150));
        assert_eq!(p.count(), 3);
        assert_eq!(p.reserved(), 0);
        assert_eq!(p.max_adver_int(), Centiseconds(100));
        assert_eq!(p.checksum(), 0x4f06);
        assert_eq!(p.family(), Family::V4);
        assert_eq!(
            p.addresses().nth(2),
            Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 63)))
        );
    }

    #[test]
    fn checksum_mode_is_reported() {
        let p = Packet::new_checked(&KA_V4[..]).unwrap();
        assert_eq!(p.checksum_mode(SRC, DST), Some(ChecksumMode::PseudoHeader));
        assert!(matches!(
            p.verify_checksum(Checksum::NoPseudoHeader),
            Err(DecodeError::BadChecksum { found: 0x4f06, .. })
        ));
    }

    #[test]
    fn emit_fills_every_byte() {
        let r = Repr::decode(&KA_V4, Checksum::PseudoHeader { src: SRC, dst: DST }).unwrap();
        let mut out = BytesMut::from(&[0xa5u8; 3][..]);
        r.emit(&mut out, Checksum::PseudoHeader { src: SRC, dst: DST })
            .unwrap();
        assert_eq!(&out[..3], &[0xa5; 3]);
        assert_eq!(&out[3..], &KA_V4[..]);
    }

    #[test]
    fn old_unicast_checksum_is_recognised_in_automatic_mode_only() {
        // keepalived old_unicast_checksum: pseudo-header with 224.0.0.18
        // as destination on a packet unicast to 192.0.2.2.
        let unicast = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));
        let r = Repr::decode(&KA_V4, Checksum::Skip).unwrap();
        let mut out = BytesMut::new();
        r.emit(&mut out, Checksum::PseudoHeader { src: SRC, dst: DST })
            .unwrap();
        let p = Packet::new_checked(&out[..]).unwrap();
        assert_eq!(
            p.checksum_mode(SRC, unicast),
            Some(ChecksumMode::PseudoHeaderGroupDst)
        );
        assert!(p
            .verify_checksum(Checksum::PseudoHeader {
                src: SRC,
                dst: unicast
            })
            .is_err());
    }

    #[test]
    fn ipv6_checksums_always_cover_the_pseudo_header() {
        // RFC 9568 5.2.8: for IPv6 the pseudo-header is always included;
        // automatic mode does not accept a message-only IPv6 checksum.
        let src: IpAddr = "fe80::1".parse().unwrap();
        let dst: IpAddr = "ff02::12".parse().unwrap();
        let r = Repr {
            vrid: Vrid::new(9).unwrap(),
            priority: Priority(100),
            max_adver_int: Centiseconds(100),
            addresses: Addresses::V6(vec!["fe80::9".parse().unwrap()]),
        };
        let mut good = BytesMut::new();
        r.emit(&mut good, Checksum::PseudoHeader { src, dst })
            .unwrap();
        let p = Packet::new_checked(&good[..]).unwrap();
        assert_eq!(p.checksum_mode(src, dst), Some(ChecksumMode::PseudoHeader));
        let mut bad = BytesMut::new();
        r.emit(&mut bad, Checksum::NoPseudoHeader).unwrap();
        let p = Packet::new_checked(&bad[..]).unwrap();
        assert_eq!(p.checksum_mode(src, dst), None);
        assert!(Repr::parse(&p, Checksum::Either { src, dst }).is_err());
    }

    #[test]
    fn addresses_from_ips_are_of_one_family() {
        let v4: IpAddr = "192.0.2.1".parse().unwrap();
        let v6: IpAddr = "fd00::1".parse().unwrap();
        assert_eq!(
            Addresses::from_ips(&[v4]),
            Some(Addresses::V4(vec![Ipv4Addr::new(192, 0, 2, 1)]))
        );
        assert_eq!(
            Addresses::from_ips(&[v6]).map(|a| a.family()),
            Some(Family::V6)
        );
        assert_eq!(Addresses::from_ips(&[v4, v6]), None);
        assert_eq!(Addresses::from_ips(&[]), None);
    }

    #[test]
    fn rfc9568_mode_round_trips() {
        let r = Repr::decode(&KA_V4, Checksum::Skip).unwrap();
        let mut out = BytesMut::new();
        r.emit(&mut out, Checksum::NoPseudoHeader).unwrap();
        let p = Packet::new_checked(&out[..]).unwrap();
        assert_eq!(
            p.checksum_mode(SRC, DST),
            Some(ChecksumMode::NoPseudoHeader)
        );
        assert_eq!(Repr::parse(&p, Checksum::NoPseudoHeader).unwrap(), r);
    }

    #[test]
    fn malformed_inputs_name_their_fault() {
        assert_eq!(
            Packet::new_checked(&KA_V4[..5]).unwrap_err(),
            DecodeError::Truncated { needed: 8, got: 5 }
        );
        let mut b = KA_V4;
        b[0] = 0x21;
        assert_eq!(
            Packet::new_checked(&b[..]).unwrap_err(),
            DecodeError::BadVersion {
                expected: 3,
                found: 2
            }
        );
        let mut b = KA_V4;
        b[0] = 0x32;
        assert_eq!(
            Packet::new_checked(&b[..]).unwrap_err(),
            DecodeError::BadType(2)
        );
        let mut b = KA_V4;
        b[1] = 0;
        assert_eq!(
            Packet::new_checked(&b[..]).unwrap_err(),
            DecodeError::ZeroVrid
        );
        let mut b = KA_V4;
        b[3] = 0;
        assert_eq!(
            Packet::new_checked(&b[..]).unwrap_err(),
            DecodeError::NoAddresses
        );
        let mut b = KA_V4;
        b[3] = 2;
        assert_eq!(
            Packet::new_checked(&b[..]).unwrap_err(),
            DecodeError::AddressCountMismatch { count: 2, len: 20 }
        );
        let mut b = KA_V4;
        b[3] = 4;
        assert_eq!(
            Packet::new_checked(&b[..]).unwrap_err(),
            DecodeError::Truncated {
                needed: 24,
                got: 20
            }
        );
        let mut b = KA_V4;
        b[4] = 0xf0;
        b[5] = 0;
        assert_eq!(
            Packet::new_checked(&b[..]).unwrap_err(),
            DecodeError::ZeroInterval
        );
        assert_eq!(
            Packet::new_checked_family(&KA_V4[..], Family::V6).unwrap_err(),
            DecodeError::FamilyMismatch {
                message: Family::V4,
                carrier: Family::V6
            }
        );
    }

    #[test]
    fn ipv6_message_cut_short_is_truncated_when_the_family_is_known() {
        // Found by tests/proptest.rs (vrrp3_prefixes_are_truncated): the
        // first 13 bytes of an IPv6 message with one address (24 bytes)
        // used to give AddressCountMismatch from new_checked_family.
        let mut v6 = [0u8; 24];
        v6[..8].copy_from_slice(&[0x31, 7, 100, 1, 0x00, 0x64, 0, 0]);
        v6[8..].copy_from_slice(&Ipv6Addr::LOCALHOST.octets());
        assert_eq!(
            Packet::new_checked_family(&v6[..], Family::V6)
                .unwrap()
                .count(),
            1
        );
        assert_eq!(
            Packet::new_checked_family(&v6[..13], Family::V6).unwrap_err(),
            DecodeError::Truncated {
                needed: 24,
                got: 13
            }
        );
        // Fewer than 4 address bytes: the length IPv6 needs, not IPv4's.
        assert_eq!(
            Packet::new_checked_family(&v6[..10], Family::V6).unwrap_err(),
            DecodeError::Truncated {
                needed: 24,
                got: 10
            }
        );
        // The family unknown, 13 bytes are still no valid message.
        assert_eq!(
            Packet::new_checked(&v6[..13]).unwrap_err(),
            DecodeError::AddressCountMismatch { count: 1, len: 13 }
        );
        // Exactly one IPv4 address long: a valid IPv4 message on an IPv6 carrier.
        assert_eq!(
            Packet::new_checked_family(&v6[..12], Family::V6).unwrap_err(),
            DecodeError::FamilyMismatch {
                message: Family::V4,
                carrier: Family::V6
            }
        );
        // Over IPv4, extra bytes remain a count mismatch.
        assert_eq!(
            Packet::new_checked_family(&v6[..13], Family::V4).unwrap_err(),
            DecodeError::AddressCountMismatch { count: 1, len: 13 }
        );
    }

    #[test]
    fn mixed_family_context_verifies_nothing_and_emits_nothing() {
        // A checksum of 0 used to verify under a pseudo-header context with
        // an IPv4 source and an IPv6 destination (no pseudo-header exists,
        // and the computed value defaulted to 0); emit wrote a 0 checksum.
        let v6 = IpAddr::V6(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12));
        let mut b = KA_V4;
        b[6..8].fill(0);
        let p = Packet::new_checked(&b[..]).unwrap();
        for ck in [
            Checksum::PseudoHeader { src: SRC, dst: v6 },
            Checksum::Either { src: SRC, dst: v6 },
        ] {
            assert_eq!(
                p.verify_checksum(ck),
                Err(DecodeError::Ip(IpError::MixedFamilies {
                    src: SRC,
                    dst: v6
                }))
            );
        }
        let r = Repr::decode(&KA_V4, Checksum::Skip).unwrap();
        let mut out = BytesMut::new();
        assert_eq!(
            r.emit(&mut out, Checksum::PseudoHeader { src: SRC, dst: v6 }),
            Err(EncodeError::FamilyMismatch {
                message: Family::V4,
                context: Family::V6
            })
        );
        assert!(out.is_empty());
    }

    #[test]
    fn reserved_bits_are_ignored_on_receipt() {
        // RFC 9568 section 5.2.6: MUST be ignored on receipt.
        let mut b = KA_V4;
        b[4] |= 0xf0;
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.reserved(), 0xf);
        assert_eq!(p.max_adver_int(), Centiseconds(100));
    }

    #[test]
    fn emit_rejects_what_cannot_be_sent() {
        let mut r = Repr::decode(&KA_V4, Checksum::Skip).unwrap();
        let mut out = BytesMut::new();
        r.max_adver_int = Centiseconds(4096);
        assert_eq!(
            r.emit(&mut out, Checksum::Skip),
            Err(EncodeError::IntervalOutOfRange(4096))
        );
        r.max_adver_int = Centiseconds(100);
        r.addresses = Addresses::V4(vec![]);
        assert_eq!(
            r.emit(&mut out, Checksum::Skip),
            Err(EncodeError::AddressCount(0))
        );
        assert!(out.is_empty());
    }
}
