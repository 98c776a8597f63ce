//! One-line builders of well-formed test packets, for people testing,
//! fuzzing or benchmarking their own code.
//!
//! ```
//! use tandem_wire::build::Advert;
//! // A keepalived-style VRRPv3 advertisement in an Ethernet frame.
//! let frame = Advert::vrrp3(7, ["192.0.2.7".parse().unwrap()]).priority(150).ethernet_frame();
//! let found = tandem_wire::frame::parse_ethernet(&frame).unwrap();
//! assert_eq!(found.ip.ttl, 255);
//! ```

use alloc::vec::Vec;
use bytes::BytesMut;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::checksum::Checksum;
use crate::frame;
use crate::{carp, vrrp2, vrrp3, Centiseconds, Family, Priority, Seconds, Vrid};

#[derive(Debug, Clone)]
enum Proto {
    Vrrp3 {
        rfc9568: bool,
    },
    Vrrp2 {
        auth: vrrp2::Auth,
    },
    Carp {
        password: Vec<u8>,
        advskew: u8,
        demotion: u8,
        counter: u64,
    },
}

/// A test advertisement under construction. Defaults: priority 100,
/// interval 1 s, TTL 255, sent from 192.0.2.1 (IPv4) or fe80::1 (IPv6)
/// to the VRRP group, Ethernet source 02:00:00:00:00:01.
#[derive(Debug, Clone)]
pub struct Advert {
    proto: Proto,
    vrid: Vrid,
    priority: u8,
    interval_cs: u16,
    addresses: Vec<IpAddr>,
    src: Option<IpAddr>,
    dst: Option<IpAddr>,
    ttl: u8,
    mac: [u8; 6],
}

fn vrid(v: u8) -> Vrid {
    Vrid::new(v).expect("a VRID is 1..=255")
}

impl Advert {
    fn new(proto: Proto, v: u8, addresses: impl IntoIterator<Item = IpAddr>) -> Advert {
        Advert {
            proto,
            vrid: vrid(v),
            priority: 100,
            interval_cs: 100,
            addresses: addresses.into_iter().collect(),
            src: None,
            dst: None,
            ttl: 255,
            mac: [0x02, 0, 0, 0, 0, 0x01],
        }
    }

    /// A VRRPv3 advertisement for `vrid` listing `addresses` (all of one
    /// family), with keepalived's default IPv4 checksum (pseudo-header).
    ///
    /// # Panics
    /// If `vrid` is 0.
    pub fn vrrp3(vrid: u8, addresses: impl IntoIterator<Item = IpAddr>) -> Advert {
        Advert::new(Proto::Vrrp3 { rfc9568: false }, vrid, addresses)
    }

    /// A VRRPv2 advertisement without authentication.
    ///
    /// # Panics
    /// If `vrid` is 0.
    pub fn vrrp2(vrid: u8, addresses: impl IntoIterator<Item = IpAddr>) -> Advert {
        Advert::new(
            Proto::Vrrp2 {
                auth: vrrp2::Auth::None,
            },
            vrid,
            addresses,
        )
    }

    /// A CARP advertisement for `vhid` signed with `password` over
    /// `addresses`, counter 1.
    ///
    /// # Panics
    /// If `vhid` is 0.
    pub fn carp(vhid: u8, password: &[u8], addresses: impl IntoIterator<Item = IpAddr>) -> Advert {
        let proto = Proto::Carp {
            password: password.to_vec(),
            advskew: 0,
            demotion: 0,
            counter: 1,
        };
        Advert::new(proto, vhid, addresses)
    }

    /// Sets the priority (VRRP) .
    pub fn priority(mut self, p: u8) -> Advert {
        self.priority = p;
        self
    }
    /// Sets the interval in centiseconds (VRRPv2 and CARP round down to seconds for advbase).
    pub fn interval_cs(mut self, cs: u16) -> Advert {
        self.interval_cs = cs;
        self
    }
    /// VRRPv3 over IPv4: checksum without the pseudo-header (RFC 9568).
    pub fn rfc9568_checksum(mut self) -> Advert {
        if let Proto::Vrrp3 { rfc9568 } = &mut self.proto {
            *rfc9568 = true;
        }
        self
    }
    /// VRRPv2: simple-text password.
    pub fn simple_password(mut self, pw: &[u8]) -> Advert {
        if let Proto::Vrrp2 { auth } = &mut self.proto {
            *auth = vrrp2::Auth::simple_text(pw);
        }
        self
    }
    /// CARP: advskew, demotion and counter.
    pub fn carp_fields(mut self, advskew_: u8, demotion_: u8, counter_: u64) -> Advert {
        if let Proto::Carp {
            advskew,
            demotion,
            counter,
            ..
        } = &mut self.proto
        {
            (*advskew, *demotion, *counter) = (advskew_, demotion_, counter_);
        }
        self
    }
    /// Sets the IP source.
    pub fn src(mut self, a: IpAddr) -> Advert {
        self.src = Some(a);
        self
    }
    /// Sets the IP destination (default: the multicast group).
    pub fn dst(mut self, a: IpAddr) -> Advert {
        self.dst = Some(a);
        self
    }
    /// Sets the TTL / hop limit.
    pub fn ttl(mut self, t: u8) -> Advert {
        self.ttl = t;
        self
    }
    /// Sets the Ethernet source.
    pub fn mac(mut self, m: [u8; 6]) -> Advert {
        self.mac = m;
        self
    }

    fn family(&self) -> Family {
        self.addresses
            .first()
            .map(|a| Family::of(*a))
            .unwrap_or(Family::V4)
    }
    fn src_ip(&self) -> IpAddr {
        self.src.unwrap_or(match self.family() {
            Family::V4 => IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
            Family::V6 => IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1)),
        })
    }
    fn dst_ip(&self) -> IpAddr {
        self.dst.unwrap_or(match self.family() {
            Family::V4 => IpAddr::V4(frame::GROUP_V4),
            Family::V6 => IpAddr::V6(frame::GROUP_V6),
        })
    }

    /// The protocol-112 message bytes.
    ///
    /// # Panics
    /// If the settings cannot be encoded (no address, mixed families,
    /// interval out of range).
    pub fn message(&self) -> Vec<u8> {
        let mut out = BytesMut::new();
        let (src, dst) = (self.src_ip(), self.dst_ip());
        match &self.proto {
            Proto::Vrrp3 { rfc9568 } => {
                let addresses =
                    vrrp3::Addresses::from_ips(&self.addresses).expect("addresses of one family");
                let ck = if *rfc9568 && self.family() == Family::V4 {
                    Checksum::NoPseudoHeader
                } else {
                    Checksum::PseudoHeader { src, dst }
                };
                vrrp3::Repr {
                    vrid: self.vrid,
                    priority: Priority(self.priority),
                    max_adver_int: Centiseconds(self.interval_cs),
                    addresses,
                }
                .emit(&mut out, ck)
                .expect("valid VRRPv3 settings");
            }
            Proto::Vrrp2 { auth } => {
                let addresses = self
                    .addresses
                    .iter()
                    .map(|a| match a {
                        IpAddr::V4(a) => *a,
                        IpAddr::V6(_) => panic!("VRRPv2 is IPv4 only"),
                    })
                    .collect();
                vrrp2::Repr {
                    vrid: self.vrid,
                    priority: Priority(self.priority),
                    adver_int: Seconds((self.interval_cs / 100).clamp(1, 255) as u8),
                    auth: *auth,
                    addresses,
                }
                .emit(&mut out, Checksum::NoPseudoHeader)
                .expect("valid VRRPv2 settings");
            }
            Proto::Carp {
                password,
                advskew,
                demotion,
                counter,
            } => {
                let key = carp::Key::new(password, self.vrid, &self.addresses);
                carp::Repr {
                    vhid: self.vrid,
                    advskew: *advskew,
                    advbase: (self.interval_cs / 100).clamp(1, 255) as u8,
                    demotion: *demotion,
                    counter: *counter,
                }
                .emit(&mut out, &key, Checksum::NoPseudoHeader)
                .expect("valid CARP settings");
            }
        }
        out.to_vec()
    }

    /// The IP packet carrying the message.
    pub fn ip_packet(&self) -> Vec<u8> {
        frame::ip_packet(self.src_ip(), self.dst_ip(), self.ttl, &self.message())
            .expect("source and destination of one family")
    }

    /// The Ethernet frame carrying the IP packet, to the group's multicast
    /// MAC (or broadcast for a unicast destination).
    pub fn ethernet_frame(&self) -> Vec<u8> {
        let dst = frame::multicast_mac(self.dst_ip()).unwrap_or(frame::BROADCAST_MAC);
        frame::ethernet_frame(self.mac, dst, &self.ip_packet())
    }
}
