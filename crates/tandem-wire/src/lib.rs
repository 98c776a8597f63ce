//! # tandem-wire
//!
//! Wire codecs for the three first-hop redundancy formats that share IP
//! protocol 112: VRRPv3 (RFC 9568) over IPv4 and IPv6, VRRPv2 (RFC 3768,
//! with RFC 2338's authentication types 0, 1 and 2) and CARP (OpenBSD
//! carp(4), as ucarp speaks it) over IPv4 and IPv6. Exact enough to serve as
//! a reference: every field, every checksum rule, every error has a name.
//!
//! What it does: checked zero-copy views over `&[u8]` (`Packet<T>`) and
//! owned representations (`Repr`) with `parse` and `emit`; the Internet
//! checksum in each coverage peers use ([`checksum`]); CARP's HMAC-SHA1
//! ([`carp::Key`]); keepalived's IPsec-AH ICV ([`ah`]); classification of a
//! protocol-112 payload ([`classify()`]); whole packets and frames, the
//! virtual MAC, gratuitous ARP and unsolicited NA ([`frame`]); one-line
//! test packets ([`build`]). With the `arbitrary` feature, every `Repr`
//! implements `arbitrary::Arbitrary` and generates only valid messages.
//!
//! What it does not do: I/O, timers, or any decision. `no_std` with
//! `alloc`; decoding allocates nothing but the address list of a `Repr`,
//! and never panics.
//!
//! ```
//! use bytes::BytesMut;
//! use tandem_wire::{vrrp3, Centiseconds, Checksum, Priority, Vrid};
//!
//! let src = "192.0.2.1".parse().unwrap();
//! let dst = "224.0.0.18".parse().unwrap();
//! let advert = vrrp3::Repr {
//!     vrid: Vrid::new(7).unwrap(),
//!     priority: Priority(150),
//!     max_adver_int: Centiseconds(100),
//!     addresses: vrrp3::Addresses::V4(vec!["192.0.2.7".parse().unwrap()]),
//! };
//! let mut buf = BytesMut::new();
//! advert.emit(&mut buf, Checksum::PseudoHeader { src, dst }).unwrap();
//!
//! let packet = vrrp3::Packet::new_checked(&buf[..]).unwrap();
//! // A receiver in automatic mode learns which checksum rule the peer uses.
//! assert_eq!(packet.checksum_mode(src, dst), Some(tandem_wire::ChecksumMode::PseudoHeader));
//! assert_eq!(vrrp3::Repr::parse(&packet, Checksum::Either { src, dst }).unwrap(), advert);
//! ```
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod ah;
pub mod build;
pub mod carp;
pub mod checksum;
pub mod classify;
pub mod error;
pub mod frame;
mod types;
pub mod vrrp2;
pub mod vrrp3;

pub use checksum::{Checksum, ChecksumMode};
pub use classify::{classify, Kind};
pub use error::{DecodeError, EncodeError, IpError};
pub use types::{Centiseconds, Family, Priority, Seconds, Vrid};

/// The IP protocol number of VRRP and CARP.
pub const IP_PROTOCOL: u8 = 112;
