//! Small value types shared by the formats: units and identifiers in types.

use core::fmt;
use core::net::IpAddr;
use core::num::NonZeroU8;

/// A virtual router identifier: VRRP's VRID or CARP's VHID, 1..=255
/// (RFC 9568 section 5.2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Vrid(NonZeroU8);

impl Vrid {
    /// A VRID, or `None` for 0.
    pub const fn new(id: u8) -> Option<Vrid> {
        match NonZeroU8::new(id) {
            Some(n) => Some(Vrid(n)),
            None => None,
        }
    }

    /// The identifier as on the wire.
    pub const fn get(self) -> u8 {
        self.0.get()
    }
}

impl fmt::Display for Vrid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.get().fmt(f)
    }
}

/// A VRRP priority (RFC 9568 section 5.2.4): 255 is the address owner,
/// 0 a Active router that stops participating, 1..=254 backups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Priority(pub u8);

impl Priority {
    /// The address owner's priority.
    pub const OWNER: Priority = Priority(255);
    /// Sent by an Active router that stops participating.
    pub const RESIGN: Priority = Priority(0);
    /// The default priority of a backup (RFC 9568 section 6.1).
    pub const DEFAULT: Priority = Priority(100);
}

/// A duration in centiseconds: VRRPv3's Max Adver Int unit (RFC 9568
/// section 5.2.7), also used to compare intervals across formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Centiseconds(pub u16);

impl Centiseconds {
    /// Largest VRRPv3 Max Adver Int (12 bits): 40.95 s.
    pub const MAX_ADVER_INT: Centiseconds = Centiseconds(4095);
}

impl fmt::Display for Centiseconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02} s", self.0 / 100, self.0 % 100)
    }
}

/// A duration in whole seconds: VRRPv2's Adver Int unit (RFC 3768
/// section 5.3.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Seconds(pub u8);

/// An address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

impl Family {
    /// The family of an address.
    pub const fn of(addr: IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }

    /// Bytes of one address of this family.
    pub const fn address_len(self) -> usize {
        match self {
            Family::V4 => 4,
            Family::V6 => 16,
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        })
    }
}

#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for Vrid {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(Vrid(
            NonZeroU8::new(u.int_in_range(1..=255)?).unwrap_or(NonZeroU8::MIN),
        ))
    }
}
