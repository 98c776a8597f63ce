//! Rendering a [`Decoded`] record: one JSON object ([`json`]) or one line
//! of text for an operator ([`human`]). Both read the same record and the
//! same [`Decoded::problems`]; neither decides anything.

use std::fmt::Write as _;
use std::net::IpAddr;

use serde::Serialize;
use tandem_wire::Family;

use crate::decode::{proto_label, Advert, ChecksumCheck, Decoded};

/// The JSON object of one record. Keys common to every record are always
/// present (`null` when unknown); keys of one protocol only appear for it.
/// docs/decode.md describes every key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Record {
    /// Frame number, from 1, counting every frame of the file.
    pub n: u64,
    /// Ethernet (or Linux cooked) source address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eth_src: Option<String>,
    /// Ethernet destination address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eth_dst: Option<String>,
    /// `"ipv4"` or `"ipv6"`.
    pub family: Option<&'static str>,
    /// IP source.
    pub src: Option<String>,
    /// IP destination.
    pub dst: Option<String>,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: Option<u8>,
    /// `ttl == 255`.
    pub ttl_ok: Option<bool>,
    /// `"vrrp2"`, `"vrrp3"` or `"carp"`.
    pub proto: Option<&'static str>,
    /// VRID, or CARP's VHID.
    pub vrid: Option<u8>,
    /// VRRP priority.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<u8>,
    /// CARP advbase, seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advbase: Option<u8>,
    /// CARP advskew, 1/256 s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advskew: Option<u8>,
    /// CARP demotion counter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub demotion: Option<u8>,
    /// CARP counter, 16 hex digits as on the wire.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counter: Option<String>,
    /// CARP counter in decimal (a string: it exceeds JSON's safe integers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counter_dec: Option<String>,
    /// The advertisement interval in centiseconds.
    pub interval_cs: Option<u16>,
    /// Virtual addresses on the wire (`[]` for CARP).
    pub addresses: Option<Vec<String>>,
    /// Whether the checksum matches.
    pub checksum_ok: Option<bool>,
    /// VRRPv3 over IPv4: `"rfc9568"` or `"ipv4-pseudo-header"`.
    pub checksum_mode: Option<&'static str>,
    /// VRRPv2 auth type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_type: Option<u8>,
    /// VRRPv2 authentication data, 16 hex digits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_data: Option<String>,
    /// VRRPv2 auth type 1: the password, trailing NULs cut.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_string: Option<String>,
    /// CARP: HMAC verified (`null` without `--password` and `--carp-address`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hmac_ok: Option<Option<bool>>,
    /// IPsec-AH SPI.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ah_spi: Option<u32>,
    /// IPsec-AH sequence number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ah_seq: Option<u32>,
    /// IPsec-AH ICV verified (`null` without `--password`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ah_icv_ok: Option<Option<bool>>,
    /// Why the packet does not decode.
    pub error: Option<String>,
    /// Every problem, in words (the suffixes of the human line).
    pub problems: Vec<String>,
}

/// `aa:bb:cc:dd:ee:ff`.
pub fn mac(m: &[u8; 6]) -> String {
    let mut s = String::with_capacity(17);
    for (i, b) in m.iter().enumerate() {
        if i > 0 {
            s.push(':');
        }
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn hex(b: &[u8]) -> String {
    b.iter()
        .fold(String::with_capacity(2 * b.len()), |mut s, x| {
            let _ = write!(s, "{x:02x}");
            s
        })
}

/// The password of a simple-text VRRPv2 advert: trailing NULs cut, bytes
/// that are not UTF-8 replaced.
pub fn auth_string(data: &[u8; 8]) -> String {
    let end = data.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
    String::from_utf8_lossy(&data[..end]).into_owned()
}

impl Record {
    /// The JSON record of a decoded packet.
    pub fn new(d: &Decoded) -> Record {
        let a = d.advert.as_ref();
        let carp = |f: fn(&Advert) -> Option<u8>| a.and_then(f);
        let counter = match a {
            Some(Advert::Carp { counter, .. }) => Some(*counter),
            _ => None,
        };
        let (auth_type, auth_data) = match a {
            Some(Advert::Vrrp2 {
                auth_type,
                auth_data,
                ..
            }) => (Some(*auth_type), Some(auth_data)),
            _ => (None, None),
        };
        Record {
            n: d.n,
            eth_src: d.link.and_then(|l| l.src).as_ref().map(mac),
            eth_dst: d.link.and_then(|l| l.dst).as_ref().map(mac),
            family: d.ip.map(|ip| match ip.family() {
                Family::V4 => "ipv4",
                Family::V6 => "ipv6",
            }),
            src: d.ip.map(|ip| ip.src.to_string()),
            dst: d.ip.map(|ip| ip.dst.to_string()),
            ttl: d.ip.map(|ip| ip.ttl),
            ttl_ok: d.ttl_ok(),
            proto: d.proto.map(|k| k.name()),
            vrid: a.map(Advert::vrid),
            priority: a.and_then(Advert::priority),
            advbase: carp(|a| match a {
                Advert::Carp { advbase, .. } => Some(*advbase),
                _ => None,
            }),
            advskew: carp(|a| match a {
                Advert::Carp { advskew, .. } => Some(*advskew),
                _ => None,
            }),
            demotion: carp(|a| match a {
                Advert::Carp { demotion, .. } => Some(*demotion),
                _ => None,
            }),
            counter: counter.map(|c| format!("{c:016x}")),
            counter_dec: counter.map(|c| c.to_string()),
            interval_cs: a.map(Advert::interval_cs),
            addresses: a.map(|a| a.addresses().iter().map(IpAddr::to_string).collect()),
            checksum_ok: d.checksum.map(|c| c.ok()),
            checksum_mode: d.checksum.and_then(|c| c.mode()).map(|m| m.name()),
            auth_type,
            auth_data: auth_data.map(|d| hex(d)),
            auth_string: auth_data.filter(|_| auth_type == Some(1)).map(auth_string),
            hmac_ok: match a {
                Some(Advert::Carp { hmac_ok, .. }) => Some(*hmac_ok),
                _ => None,
            },
            ah_spi: d.ah.map(|ah| ah.spi),
            ah_seq: d.ah.map(|ah| ah.sequence),
            ah_icv_ok: d.ah.map(|ah| ah.icv_ok),
            error: d.error.as_ref().map(ToString::to_string),
            problems: d.problems(),
        }
    }
}

/// One JSON object, on one line.
pub fn json(d: &Decoded) -> String {
    // Serialising plain strings, numbers and options cannot fail.
    serde_json::to_string(&Record::new(d)).unwrap_or_default()
}

fn seconds(cs: u16) -> String {
    format!("{}.{:02}s", cs / 100, cs % 100)
}

fn verdict(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "ok",
        Some(false) => "bad",
        None => "unchecked",
    }
}

fn join(a: &[IpAddr]) -> String {
    a.iter()
        .map(IpAddr::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// One line of text, like a protocol analyser's summary, with the problems
/// appended after ` -- `.
///
/// `3  192.0.2.1 -> 224.0.0.18  VRRPv3 vrid 61 prio 150 int 1.00s addrs 192.0.2.61 cksum ok (ipv4-pseudo-header) ttl 255`
pub fn human(d: &Decoded) -> String {
    let mut s = format!("{}  ", d.n);
    match d.ip {
        Some(ip) => {
            let _ = write!(s, "{} -> {}  ", ip.src, ip.dst);
        }
        None => s.push_str("?  "),
    }
    match &d.advert {
        Some(
            a @ Advert::Vrrp2 {
                vrid,
                priority,
                auth_type,
                auth_data,
                addresses,
                ..
            },
        ) => {
            let _ = write!(
                s,
                "VRRPv2 vrid {vrid} prio {priority} int {} addrs {} auth ",
                seconds(a.interval_cs()),
                join(addresses)
            );
            match (d.ah, auth_type) {
                (Some(ah), _) => {
                    let _ = write!(
                        s,
                        "ah spi {:#010x} seq {} icv {}",
                        ah.spi,
                        ah.sequence,
                        verdict(ah.icv_ok)
                    );
                }
                (None, 0) => s.push_str("none"),
                (None, 1) => {
                    let _ = write!(s, "pass {:?}", auth_string(auth_data));
                }
                (None, t) => {
                    let _ = write!(s, "type {t}");
                }
            }
        }
        Some(Advert::Vrrp3 {
            vrid,
            priority,
            max_adver_int_cs,
            addresses,
        }) => {
            let _ = write!(
                s,
                "VRRPv3 vrid {vrid} prio {priority} int {} addrs {}",
                seconds(*max_adver_int_cs),
                join(addresses)
            );
        }
        Some(
            a @ Advert::Carp {
                vhid,
                advbase,
                advskew,
                demotion,
                counter,
                hmac_ok,
            },
        ) => {
            let _ = write!(
                s,
                "CARP vhid {vhid} advbase {advbase} advskew {advskew} demote {demotion} counter {counter:016x} hmac {} int {}",
                verdict(*hmac_ok),
                seconds(a.interval_cs())
            );
        }
        None => s.push_str(d.proto.map_or("protocol 112", proto_label)),
    }
    match d.checksum {
        Some(c @ ChecksumCheck::Good { .. }) => {
            s.push_str(" cksum ok");
            if let Some(m) = c.mode() {
                let _ = write!(s, " ({})", m.name());
            }
        }
        Some(ChecksumCheck::Bad { .. }) => s.push_str(" cksum bad"),
        None => {}
    }
    if let Some(ip) = d.ip {
        let _ = write!(s, " ttl {}", ip.ttl);
    }
    for p in d.problems() {
        let _ = write!(s, " -- {p}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_strings_lose_trailing_nuls_only() {
        assert_eq!(auth_string(b"s3cret\0\0"), "s3cret");
        assert_eq!(auth_string(b"a\0b\0\0\0\0\0"), "a\0b");
        assert_eq!(auth_string(&[0; 8]), "");
        assert_eq!(auth_string(b"\xffabcdefg"), "\u{fffd}abcdefg");
    }

    #[test]
    fn macs_and_intervals() {
        assert_eq!(mac(&[0, 0, 0x5e, 0, 1, 0x65]), "00:00:5e:00:01:65");
        assert_eq!(seconds(1), "0.01s");
        assert_eq!(seconds(139), "1.39s");
    }
}
