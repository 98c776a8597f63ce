//! CARP advertisements (OpenBSD carp(4), also spoken by ucarp), over IPv4
//! and IPv6.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Version| Type  |     VHID      |    AdvSkew    |   AuthLen (7) |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |   Demotion    |    AdvBase    |           Checksum            |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                        Counter (64 bits)                      |
//! |                                                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                  HMAC-SHA1 (20 bytes) ...                     |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! 36 bytes, version 2, type 1. AuthLen counts the counter and the HMAC in
//! 32-bit words (7). The checksum covers the message only, for IPv4 and
//! IPv6 alike. The interval is `advbase + advskew / 256` seconds; the
//! Active router is the one with the lowest (demotion, advbase, advskew).
//! ucarp sends 0 in the demotion byte.
//!
//! ## The HMAC
//! HMAC-SHA1 keyed with the password, over: version (`0x02`), type
//! (`0x01`), the vhid, every IPv4 virtual address in ascending order
//! (4 bytes each), every IPv6 virtual address in ascending order (16 bytes
//! each, link-local ones with bytes 2..4 zeroed), then the 8 counter bytes
//! as on the wire. None of the addresses travel in the message: sender and
//! receiver must be configured with the same set. OpenBSD sends the HMAC
//! computed without IPv6 link-local addresses and accepts either form;
//! [`Key`] does the same. When an OpenBSD carp interface has a link-layer
//! address set by hand (`lladdr`), those 6 bytes come before the vhid:
//! [`Key::with_lladdr`].
//!
//! The counter is not a sequence number: a lone ucarp Active draws a new
//! random counter for every advertisement, and OpenBSD keeps one random
//! value and recognises its own looped-back packets by it.

use alloc::vec::Vec;
use bytes::BytesMut;
use core::net::IpAddr;
use hmac::{Hmac, Mac};
use sha1::Sha1;

use crate::checksum::{self, Checksum};
use crate::error::{DecodeError, EncodeError};
use crate::{Centiseconds, Vrid};

/// Length of a CARP message.
pub const LEN: usize = 36;
/// The version CARP speaks.
pub const VERSION: u8 = 2;
/// The only message type: ADVERTISEMENT.
pub const TYPE_ADVERTISEMENT: u8 = 1;
/// AuthLen: counter and HMAC, in 32-bit words.
pub const AUTHLEN: u8 = 7;
/// Length of the HMAC-SHA1 digest.
pub const HMAC_LEN: usize = 20;

/// A zero-copy, checked view of a CARP message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buf: T,
}

/// The header as (version/type, VHID, advskew, authlen, advbase), read
/// as one big-endian word; the rest of the 36 bytes must follow.
fn header(input: &[u8]) -> nom::IResult<&[u8], (u8, u8, u8, u8, u8)> {
    let (input, h) = nom::number::complete::be_u64(input)?;
    let (input, _rest) = nom::bytes::complete::take(LEN - 8)(input)?;
    let b = h.to_be_bytes();
    Ok((input, (b[0], b[1], b[2], b[3], b[5])))
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Checks the layout: 36 bytes, version 2, type 1, authlen 7, vhid
    /// 1..=255, an interval that is not zero.
    pub fn new_checked(buf: T) -> Result<Self, DecodeError> {
        let b = buf.as_ref();
        let (rest, (vt, vhid, advskew, authlen, advbase)) =
            header(b).map_err(|_| DecodeError::Truncated {
                needed: LEN,
                got: b.len(),
            })?;
        if !rest.is_empty() {
            return Err(DecodeError::BadLength {
                what: "CARP",
                expected: LEN,
                got: b.len(),
            });
        }
        if vt >> 4 != VERSION {
            return Err(DecodeError::BadVersion {
                expected: VERSION,
                found: vt >> 4,
            });
        }
        if vt & 0x0f != TYPE_ADVERTISEMENT {
            return Err(DecodeError::BadType(vt & 0x0f));
        }
        if authlen != AUTHLEN {
            return Err(DecodeError::BadAuthLen(authlen));
        }
        if vhid == 0 {
            return Err(DecodeError::ZeroVrid);
        }
        if advbase == 0 && advskew == 0 {
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
    /// The virtual host id.
    pub fn vhid(&self) -> Vrid {
        Vrid::new(self.b()[1]).unwrap_or(Vrid::new(1).expect("1 is a valid VHID"))
    }
    /// AdvSkew: 1/256ths of a second added to advbase.
    pub fn advskew(&self) -> u8 {
        self.b()[2]
    }
    /// AuthLen (7).
    pub fn authlen(&self) -> u8 {
        self.b()[3]
    }
    /// The demotion counter (OpenBSD; 0 from ucarp).
    pub fn demotion(&self) -> u8 {
        self.b()[4]
    }
    /// AdvBase, in seconds.
    pub fn advbase(&self) -> u8 {
        self.b()[5]
    }
    /// The interval, `advbase + advskew / 256` s, rounded down to centiseconds.
    pub fn interval(&self) -> Centiseconds {
        interval(self.advbase(), self.advskew())
    }
    /// The checksum on the wire.
    pub fn checksum(&self) -> u16 {
        u16::from_be_bytes([self.b()[6], self.b()[7]])
    }
    /// The 64-bit counter, read big-endian.
    pub fn counter(&self) -> u64 {
        let mut c = [0u8; 8];
        c.copy_from_slice(&self.b()[8..16]);
        u64::from_be_bytes(c)
    }
    /// The HMAC-SHA1 on the wire.
    pub fn hmac(&self) -> &[u8; HMAC_LEN] {
        self.b()[16..LEN].try_into().unwrap_or(&[0; HMAC_LEN])
    }
    /// The message bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.b()
    }

    /// Verifies the checksum (message only; `Skip` skips it).
    pub fn verify_checksum(&self, ck: Checksum) -> Result<(), DecodeError> {
        checksum::verify_message_only(self.b(), ck)
    }

    /// Verifies the HMAC with `key`, in constant time.
    pub fn verify_hmac(&self, key: &Key) -> Result<(), DecodeError> {
        if key.vhid != self.vhid() {
            return Err(DecodeError::BadHmac);
        }
        key.verify(self.counter(), self.hmac())
    }
}

/// `advbase + advskew / 256` seconds, rounded down to centiseconds.
pub fn interval(advbase: u8, advskew: u8) -> Centiseconds {
    Centiseconds(u16::from(advbase) * 100 + (u16::from(advskew) * 100) / 256)
}

/// A CARP authentication key for one virtual host: the password, the vhid
/// and the virtual addresses, precomputed so that generating or verifying
/// an HMAC costs two SHA-1 block compressions.
#[derive(Clone)]
pub struct Key {
    vhid: Vrid,
    /// With IPv6 link-local addresses (OpenBSD `HMAC_ORIG`).
    with_ll: Hmac<Sha1>,
    /// Without them (OpenBSD `HMAC_NOV6LL`, what it sends).
    without_ll: Hmac<Sha1>,
}

impl core::fmt::Debug for Key {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Key")
            .field("vhid", &self.vhid)
            .finish_non_exhaustive()
    }
}

fn is_scoped(a: &core::net::Ipv6Addr) -> bool {
    // Link-local unicast fe80::/10 and link/interface-local multicast, the
    // addresses KAME embeds a scope in.
    let o = a.octets();
    (o[0] == 0xfe && o[1] & 0xc0 == 0x80) || (o[0] == 0xff && matches!(o[1] & 0x0f, 1 | 2))
}

impl Key {
    /// The key for `vhid` with `password` and the virtual `addresses` (in
    /// any order; duplicates count once, as in OpenBSD).
    ///
    /// The password is the HMAC key as is. (OpenBSD's ifconfig keeps at
    /// most 19 bytes of it; give the same bytes to interoperate.)
    pub fn new(password: &[u8], vhid: Vrid, addresses: &[IpAddr]) -> Key {
        Key::build(password, vhid, addresses, None)
    }

    /// As [`Key::new`], for an OpenBSD carp interface whose link-layer
    /// address was set by hand: the 6 bytes of `lladdr` are covered too.
    pub fn with_lladdr(password: &[u8], vhid: Vrid, addresses: &[IpAddr], lladdr: [u8; 6]) -> Key {
        Key::build(password, vhid, addresses, Some(lladdr))
    }

    fn build(password: &[u8], vhid: Vrid, addresses: &[IpAddr], lladdr: Option<[u8; 6]>) -> Key {
        let mut v4: Vec<[u8; 4]> = addresses
            .iter()
            .filter_map(|a| match a {
                IpAddr::V4(a) => Some(a.octets()),
                IpAddr::V6(_) => None,
            })
            .collect();
        v4.sort_unstable();
        v4.dedup();
        let mut v6: Vec<([u8; 16], bool)> = addresses
            .iter()
            .filter_map(|a| match a {
                IpAddr::V6(a) => {
                    let mut o = a.octets();
                    let scoped = is_scoped(a);
                    if scoped {
                        o[2] = 0;
                        o[3] = 0;
                    }
                    Some((o, scoped))
                }
                IpAddr::V4(_) => None,
            })
            .collect();
        v6.sort_unstable();
        v6.dedup_by(|a, b| a.0 == b.0);
        let prefix = |skip_ll: bool| {
            // `new_from_slice` accepts keys of any length.
            let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(password)
                .unwrap_or_else(|_| <Hmac<Sha1> as Mac>::new_from_slice(&[]).expect("empty key"));
            mac.update(&[VERSION, TYPE_ADVERTISEMENT]);
            if let Some(ll) = lladdr {
                mac.update(&ll);
            }
            mac.update(&[vhid.get()]);
            v4.iter().for_each(|a| mac.update(a));
            v6.iter()
                .filter(|(_, ll)| !(skip_ll && *ll))
                .for_each(|(a, _)| mac.update(a));
            mac
        };
        Key {
            vhid,
            with_ll: prefix(false),
            without_ll: prefix(true),
        }
    }

    /// The vhid this key is for.
    pub fn vhid(&self) -> Vrid {
        self.vhid
    }

    /// The HMAC a sender puts in an advertisement with `counter`.
    pub fn generate(&self, counter: u64) -> [u8; HMAC_LEN] {
        let mut mac = self.without_ll.clone();
        mac.update(&counter.to_be_bytes());
        mac.finalize().into_bytes().into()
    }

    /// Verifies `hmac` for `counter` in constant time, accepting the forms
    /// with and without IPv6 link-local addresses, as OpenBSD does.
    pub fn verify(&self, counter: u64, hmac: &[u8; HMAC_LEN]) -> Result<(), DecodeError> {
        let c = counter.to_be_bytes();
        let mut mac = self.without_ll.clone();
        mac.update(&c);
        if mac.verify_slice(hmac).is_ok() {
            return Ok(());
        }
        let mut mac = self.with_ll.clone();
        mac.update(&c);
        mac.verify_slice(hmac).map_err(|_| DecodeError::BadHmac)
    }
}

/// An owned CARP advertisement. The HMAC is not part of it: [`Repr::emit`]
/// computes it with a [`Key`], and [`Repr::parse`] verifies it when given one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Repr {
    /// The virtual host id.
    pub vhid: Vrid,
    /// AdvSkew, 1/256ths of a second.
    pub advskew: u8,
    /// AdvBase, seconds.
    pub advbase: u8,
    /// The demotion counter.
    pub demotion: u8,
    /// The 64-bit counter.
    pub counter: u64,
}

impl Repr {
    /// Decodes a checked packet, verifying the checksum under `ck` (`Skip`
    /// skips it) and, if a key is given, the HMAC.
    pub fn parse<T: AsRef<[u8]>>(
        p: &Packet<T>,
        ck: Checksum,
        key: Option<&Key>,
    ) -> Result<Repr, DecodeError> {
        p.verify_checksum(ck)?;
        if let Some(key) = key {
            p.verify_hmac(key)?;
        }
        Ok(Repr {
            vhid: p.vhid(),
            advskew: p.advskew(),
            advbase: p.advbase(),
            demotion: p.demotion(),
            counter: p.counter(),
        })
    }

    /// [`Packet::new_checked`] then [`Repr::parse`].
    pub fn decode(bytes: &[u8], ck: Checksum, key: Option<&Key>) -> Result<Repr, DecodeError> {
        Repr::parse(&Packet::new_checked(bytes)?, ck, key)
    }

    /// The interval, `advbase + advskew / 256` s.
    pub fn interval(&self) -> Centiseconds {
        interval(self.advbase, self.advskew)
    }

    /// Bytes [`Repr::emit`] writes.
    pub const fn buffer_len(&self) -> usize {
        LEN
    }

    /// Appends the message to `out` with the HMAC computed with `key` and
    /// the checksum (`Skip` writes 0). On error nothing is written.
    pub fn emit(&self, out: &mut BytesMut, key: &Key, ck: Checksum) -> Result<(), EncodeError> {
        if key.vhid != self.vhid {
            return Err(EncodeError::VhidMismatch {
                key: key.vhid.get(),
                message: self.vhid.get(),
            });
        }
        self.emit_with_hmac(out, &key.generate(self.counter), ck)
    }

    /// Appends the message with a given HMAC (to reproduce a capture, or to
    /// send a deliberately wrong one in tests).
    pub fn emit_with_hmac(
        &self,
        out: &mut BytesMut,
        hmac: &[u8; HMAC_LEN],
        ck: Checksum,
    ) -> Result<(), EncodeError> {
        if self.advbase == 0 && self.advskew == 0 {
            return Err(EncodeError::ZeroInterval);
        }
        let start = out.len();
        out.resize(start + LEN, 0);
        let msg = &mut out[start..];
        msg[..6].copy_from_slice(&[
            (VERSION << 4) | TYPE_ADVERTISEMENT,
            self.vhid.get(),
            self.advskew,
            AUTHLEN,
            self.demotion,
            self.advbase,
        ]);
        msg[8..16].copy_from_slice(&self.counter.to_be_bytes());
        msg[16..].copy_from_slice(hmac);
        checksum::write_message_only(msg, ck);
        Ok(())
    }
}

#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for Repr {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(Repr {
            vhid: u.arbitrary()?,
            advskew: u.arbitrary()?,
            advbase: u.int_in_range(1..=255)?,
            demotion: u.arbitrary()?,
            counter: u.arbitrary()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{Ipv4Addr, Ipv6Addr};

    // ucarp, vhid 10, password carpkey1, address 192.0.2.130 (vector
    // ucarp-ipv4-pass, first packet).
    const UCARP: [u8; 36] = [
        0x21, 0x0a, 0x00, 0x07, 0x00, 0x01, 0x1a, 0xf0, 0x16, 0xb3, 0x14, 0x16, 0x7d, 0x8a, 0x6f,
        0xbe, 0x7d, 0x62, 0x36, 0xb9, 0xa5, 0xdb, 0x0e, 0xf7, 0x47, 0x24, 0x24, 0x81, 0x95, 0x66,
        0x7b, 0x5b, 0xd3, 0x37, 0xf3, 0x5d,
    ];

    fn key() -> Key {
        Key::new(
            b"carpkey1",
            Vrid::new(10).unwrap(),
            &[IpAddr::V4(Ipv4Addr::new(192, 0, 2, 130))],
        )
    }

    #[test]
    fn getters_read_the_fields() {
        let p = Packet::new_checked(&UCARP[..]).unwrap();
        assert_eq!(p.vhid().get(), 10);
        assert_eq!(p.advskew(), 0);
        assert_eq!(p.authlen(), 7);
        assert_eq!(p.demotion(), 0);
        assert_eq!(p.advbase(), 1);
        assert_eq!(p.interval(), Centiseconds(100));
        assert_eq!(p.counter(), 0x16b3_1416_7d8a_6fbe);
        p.verify_checksum(Checksum::NoPseudoHeader).unwrap();
        p.verify_hmac(&key()).unwrap();
    }

    #[test]
    fn emit_reproduces_ucarp_bytes() {
        let r = Repr::decode(&UCARP, Checksum::NoPseudoHeader, Some(&key())).unwrap();
        let mut out = BytesMut::from(&[0xa5u8][..]);
        r.emit(&mut out, &key(), Checksum::NoPseudoHeader).unwrap();
        assert_eq!(&out[1..], &UCARP[..]);
    }

    #[test]
    fn wrong_password_vhid_or_address_fails_the_hmac() {
        let p = Packet::new_checked(&UCARP[..]).unwrap();
        let a = [IpAddr::V4(Ipv4Addr::new(192, 0, 2, 130))];
        let v = Vrid::new(10).unwrap();
        assert_eq!(
            p.verify_hmac(&Key::new(b"carpkey2", v, &a)),
            Err(DecodeError::BadHmac)
        );
        assert_eq!(
            p.verify_hmac(&Key::new(
                b"carpkey1",
                v,
                &[IpAddr::V4(Ipv4Addr::new(192, 0, 2, 131))]
            )),
            Err(DecodeError::BadHmac)
        );
        assert_eq!(
            p.verify_hmac(&Key::new(b"carpkey1", Vrid::new(11).unwrap(), &a)),
            Err(DecodeError::BadHmac)
        );
    }

    #[test]
    fn address_order_does_not_matter_and_v4_comes_before_v6() {
        let v = Vrid::new(3).unwrap();
        let a4 = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7));
        let b4 = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 5));
        let a6 = IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 9));
        let k1 = Key::new(b"pw", v, &[a4, a6, b4]);
        let k2 = Key::new(b"pw", v, &[a6, b4, a4, b4]);
        assert_eq!(k1.generate(42), k2.generate(42));
        // Reference: HMAC over version 2, type 1, vhid, sorted IPv4, then IPv6, then counter.
        let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(b"pw").unwrap();
        mac.update(&[2, 1, 3, 192, 0, 2, 5, 192, 0, 2, 7]);
        mac.update(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9]);
        mac.update(&42u64.to_be_bytes());
        let want: [u8; 20] = mac.finalize().into_bytes().into();
        assert_eq!(k1.generate(42), want);
    }

    #[test]
    fn link_local_addresses_are_left_out_on_send_and_accepted_either_way() {
        let v = Vrid::new(4).unwrap();
        let ll = IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1));
        let g = IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1));
        let k = Key::new(b"pw", v, &[ll, g]);
        let without = Key::new(b"pw", v, &[g]);
        assert_eq!(k.generate(7), without.generate(7));
        // A peer that covers the link-local address (OpenBSD HMAC_ORIG).
        let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(b"pw").unwrap();
        mac.update(&[2, 1, 4]);
        mac.update(&Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1).octets());
        mac.update(&Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1).octets());
        mac.update(&7u64.to_be_bytes());
        let orig: [u8; 20] = mac.finalize().into_bytes().into();
        assert_ne!(orig, k.generate(7));
        k.verify(7, &orig).unwrap();
    }

    #[test]
    fn malformed_inputs_name_their_fault() {
        assert_eq!(
            Packet::new_checked(&UCARP[..35]).unwrap_err(),
            DecodeError::Truncated {
                needed: 36,
                got: 35
            }
        );
        let mut long = [0u8; 37];
        long[..36].copy_from_slice(&UCARP);
        assert_eq!(
            Packet::new_checked(&long[..]).unwrap_err(),
            DecodeError::BadLength {
                what: "CARP",
                expected: 36,
                got: 37
            }
        );
        let mut b = UCARP;
        b[3] = 5;
        assert_eq!(
            Packet::new_checked(&b[..]).unwrap_err(),
            DecodeError::BadAuthLen(5)
        );
        let mut b = UCARP;
        b[0] = 0x31;
        assert_eq!(
            Packet::new_checked(&b[..]).unwrap_err(),
            DecodeError::BadVersion {
                expected: 2,
                found: 3
            }
        );
        let mut b = UCARP;
        b[5] = 0;
        assert_eq!(
            Packet::new_checked(&b[..]).unwrap_err(),
            DecodeError::ZeroInterval
        );
        let mut b = UCARP;
        b[20] ^= 0xff;
        let p = Packet::new_checked(&b[..]).unwrap();
        assert!(matches!(
            p.verify_checksum(Checksum::NoPseudoHeader),
            Err(DecodeError::BadChecksum { .. })
        ));
        assert_eq!(p.verify_hmac(&key()), Err(DecodeError::BadHmac));
    }

    #[test]
    fn type_and_vhid_are_checked() {
        let mut b = UCARP;
        b[0] = 0x22;
        assert_eq!(
            Packet::new_checked(&b[..]).unwrap_err(),
            DecodeError::BadType(2)
        );
        let mut b = UCARP;
        b[1] = 0;
        assert_eq!(
            Packet::new_checked(&b[..]).unwrap_err(),
            DecodeError::ZeroVrid
        );
    }

    #[test]
    fn scoped_ipv6_addresses_are_hashed_with_the_scope_bytes_zeroed() {
        // OpenBSD clears the KAME-embedded scope (bytes 2..4) of link-local
        // addresses before hashing them (the HMAC_ORIG form).
        let v = Vrid::new(5).unwrap();
        let embedded = IpAddr::V6("fe80:3::1".parse().unwrap());
        let plain = IpAddr::V6("fe80::1".parse().unwrap());
        let global = IpAddr::V6("fd00::1".parse().unwrap());
        let a = Key::new(b"pw", v, &[embedded, global]);
        let b = Key::new(b"pw", v, &[plain, global]);
        let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(b"pw").unwrap();
        mac.update(&[2, 1, 5]);
        mac.update(&Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1).octets());
        mac.update(&Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1).octets());
        mac.update(&9u64.to_be_bytes());
        let orig: [u8; 20] = mac.finalize().into_bytes().into();
        a.verify(9, &orig).unwrap();
        b.verify(9, &orig).unwrap();
        // A global address is never altered: fd00:3::1 is a different key.
        let c = Key::new(b"pw", v, &[IpAddr::V6("fd00:3::1".parse().unwrap())]);
        assert_ne!(c.generate(9), Key::new(b"pw", v, &[global]).generate(9));
    }

    #[test]
    fn lladdr_is_covered_before_the_vhid() {
        let v = Vrid::new(6).unwrap();
        let a = [IpAddr::V4(Ipv4Addr::new(192, 0, 2, 6))];
        let ll = [2, 0, 0, 0, 0, 6];
        let k = Key::with_lladdr(b"pw", v, &a, ll);
        let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(b"pw").unwrap();
        mac.update(&[2, 1]);
        mac.update(&ll);
        mac.update(&[6, 192, 0, 2, 6]);
        mac.update(&3u64.to_be_bytes());
        let want: [u8; 20] = mac.finalize().into_bytes().into();
        assert_eq!(k.generate(3), want);
        assert_eq!(
            Key::new(b"pw", v, &a).verify(3, &want),
            Err(DecodeError::BadHmac)
        );
    }

    #[test]
    fn emit_rejects_a_key_for_another_vhid_and_a_zero_interval() {
        let mut r = Repr::decode(&UCARP, Checksum::NoPseudoHeader, None).unwrap();
        let mut out = BytesMut::new();
        let other = Key::new(b"carpkey1", Vrid::new(11).unwrap(), &[]);
        assert_eq!(
            r.emit(&mut out, &other, Checksum::NoPseudoHeader),
            Err(EncodeError::VhidMismatch {
                key: 11,
                message: 10
            })
        );
        r.advbase = 0;
        assert_eq!(
            r.emit(&mut out, &key(), Checksum::NoPseudoHeader),
            Err(EncodeError::ZeroInterval)
        );
        assert!(out.is_empty());
    }

    #[test]
    fn interval_is_advbase_plus_advskew_over_256() {
        assert_eq!(interval(1, 128), Centiseconds(150));
        assert_eq!(interval(0, 255), Centiseconds(99));
    }
}
