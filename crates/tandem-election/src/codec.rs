//! Between [`Advert`] and the bytes of an IP payload, through
//! `tandem-wire`: what a driver (tandemd, the simulator) sends and receives.

use std::net::IpAddr;

use bytes::BytesMut;
use tandem_wire::{
    carp, classify, frame, vrrp2, vrrp3, Checksum, ChecksumMode, DecodeError, Family, Kind,
};

use crate::Advert;

/// The multicast group adverts of `src`'s family go to.
pub fn group_of(src: IpAddr) -> IpAddr {
    match src {
        IpAddr::V4(_) => IpAddr::V4(frame::GROUP_V4),
        IpAddr::V6(_) => IpAddr::V6(frame::GROUP_V6),
    }
}

/// Encodes `adv` as the IP payload sent from `src` to `dst`, with the
/// checksum form the election chose (VRRPv3), or `None` if it cannot be
/// encoded (a bug in the caller: the election only emits valid adverts).
pub fn encode(adv: &Advert, src: IpAddr, dst: IpAddr) -> Option<Vec<u8>> {
    let mut buf = BytesMut::new();
    match adv {
        Advert::Vrrp3 { repr, checksum } => {
            let ck = match checksum {
                Some(ChecksumMode::NoPseudoHeader) => Checksum::NoPseudoHeader,
                Some(ChecksumMode::PseudoHeaderGroupDst) => Checksum::PseudoHeader {
                    src,
                    dst: group_of(src),
                },
                _ => Checksum::PseudoHeader { src, dst },
            };
            repr.emit(&mut buf, ck).ok()?;
        }
        Advert::Vrrp2(r) => r.emit(&mut buf, Checksum::NoPseudoHeader).ok()?,
        Advert::Carp { repr, hmac } => repr
            .emit_with_hmac(&mut buf, hmac, Checksum::NoPseudoHeader)
            .ok()?,
    }
    Some(buf.to_vec())
}

/// Decodes the IP payload of a protocol-112 packet from `src` to `dst`,
/// verifying its checksum in every form the field uses (the VRRPv3 form
/// found travels with the advert). The CARP HMAC is left to the election,
/// which holds the key.
pub fn decode(bytes: &[u8], src: IpAddr, dst: IpAddr) -> Result<Advert, DecodeError> {
    let family = Family::of(src);
    match classify(bytes, Some(family))? {
        Kind::Vrrp3 => {
            let p = vrrp3::Packet::new_checked_family(bytes, family)?;
            let mode = p.verify_checksum(Checksum::Either { src, dst })?;
            let repr = vrrp3::Repr::parse(&p, Checksum::Skip)?;
            Ok(Advert::Vrrp3 {
                repr,
                checksum: mode,
            })
        }
        Kind::Vrrp2 => Ok(Advert::Vrrp2(vrrp2::Repr::decode(
            bytes,
            Checksum::NoPseudoHeader,
        )?)),
        Kind::Carp => {
            let p = carp::Packet::new_checked(bytes)?;
            let repr = carp::Repr::parse(&p, Checksum::NoPseudoHeader, None)?;
            Ok(Advert::Carp {
                repr,
                hmac: *p.hmac(),
            })
        }
    }
}
