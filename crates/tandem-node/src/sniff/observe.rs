//! What the diagnosis of `tandemd sniff` takes in: the fields of one
//! record of `tandemd decode`'s decoder that matter to it.

use std::net::IpAddr;

use tandem_wire::{ChecksumMode, DecodeError, Family, Kind};

use crate::decode::{Advert, Decoded};
use crate::render::auth_string;

/// CARP's timing fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CarpFields {
    /// AdvBase, seconds.
    pub advbase: u8,
    /// AdvSkew, 1/256ths of a second.
    pub advskew: u8,
    /// The demotion counter.
    pub demotion: u8,
}

/// What the diagnosis needs of one decoded advertisement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedAdvert {
    /// The address family it came over.
    pub family: Family,
    /// VRID or VHID.
    pub vrid: u8,
    /// The protocol.
    pub proto: Kind,
    /// The IP source.
    pub src: IpAddr,
    /// The Ethernet source, when the capture has it.
    pub mac: Option<[u8; 6]>,
    /// TTL / hop limit.
    pub ttl: u8,
    /// VRRP priority (`None` for CARP).
    pub priority: Option<u8>,
    /// CARP's fields (`None` for VRRP).
    pub carp: Option<CarpFields>,
    /// The advertisement interval, centiseconds.
    pub interval_cs: u16,
    /// The virtual addresses on the wire (none for CARP).
    pub addresses: Vec<IpAddr>,
    /// Whether the checksum matches.
    pub checksum_ok: bool,
    /// The checksum form matched (VRRPv3 over IPv4 only).
    pub checksum_mode: Option<ChecksumMode>,
    /// Authentication checked against `--password`: CARP HMAC, VRRPv2 AH
    /// ICV or simple-text password; `None` when nothing could be checked.
    pub auth_ok: Option<bool>,
    /// VRRPv2: the auth type and, for type 1, the password bytes (zeros
    /// otherwise), compared between speakers.
    pub vrrp2_auth: Option<(u8, [u8; 8])>,
}

/// A protocol-112 packet that does not decode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    /// The IP source, when the IP header could be read.
    pub src: Option<IpAddr>,
    /// The family, when the IP header could be read.
    pub family: Option<Family>,
    /// The decoder's error.
    pub error: DecodeError,
}

/// What one decoded packet is to the diagnosis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observation {
    /// A decoded advertisement.
    Advert(ObservedAdvert),
    /// A malformed packet.
    Malformed(Malformed),
}

impl Observation {
    /// The observation of a record of `tandemd decode`'s decoder;
    /// `password` checks VRRPv2 simple-text passwords (CARP HMACs and AH
    /// ICVs were checked by the decoder).
    pub fn of(d: &Decoded, password: Option<&[u8]>) -> Observation {
        let malformed = |error: DecodeError| {
            Observation::Malformed(Malformed {
                src: d.ip.map(|ip| ip.src),
                family: d.ip.map(|ip| ip.family()),
                error,
            })
        };
        if let Some(e) = &d.error {
            return malformed(e.clone());
        }
        let (Some(ip), Some(proto), Some(a)) = (d.ip, d.proto, d.advert.as_ref()) else {
            // The decoder gives all three when there is no error.
            return malformed(DecodeError::Truncated { needed: 1, got: 0 });
        };
        let mut auth_ok = d.ah.and_then(|ah| ah.icv_ok);
        let mut vrrp2_auth = None;
        let mut carp = None;
        match a {
            Advert::Vrrp2 {
                auth_type,
                auth_data,
                ..
            } => {
                let data = if *auth_type == 1 { *auth_data } else { [0; 8] };
                vrrp2_auth = Some((*auth_type, data));
                if let (1, Some(pw)) = (*auth_type, password) {
                    // The wire carries 8 bytes, NUL padded.
                    let end = pw.len().min(8);
                    auth_ok = Some(auth_string(auth_data).as_bytes() == &pw[..end]);
                }
            }
            Advert::Carp {
                advbase,
                advskew,
                demotion,
                hmac_ok,
                ..
            } => {
                auth_ok = *hmac_ok;
                carp = Some(CarpFields {
                    advbase: *advbase,
                    advskew: *advskew,
                    demotion: *demotion,
                });
            }
            Advert::Vrrp3 { .. } => {}
        }
        Observation::Advert(ObservedAdvert {
            family: ip.family(),
            vrid: a.vrid(),
            proto,
            src: ip.src,
            mac: d.link.and_then(|l| l.src),
            ttl: ip.ttl,
            priority: a.priority(),
            carp,
            interval_cs: a.interval_cs(),
            addresses: a.addresses().to_vec(),
            checksum_ok: d.checksum.is_some_and(|c| c.ok()),
            checksum_mode: d.checksum.and_then(|c| c.mode()),
            auth_ok,
            vrrp2_auth,
        })
    }
}

/// `"ipv4"` or `"ipv6"`.
pub const fn family_name(f: Family) -> &'static str {
    match f {
        Family::V4 => "ipv4",
        Family::V6 => "ipv6",
    }
}
