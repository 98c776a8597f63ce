//! Zero-copy views of a payload: [`Sections`] checks every section header
//! once (types, record lengths, counts, bounds), then walks the sections
//! without a further check; typed views ([`Flow4`], [`Flow6`], [`Flow4X`],
//! [`Flow6X`], [`FlowUpdate`], [`FlowDelete`], [`TcpWin`] for TCPWIN and
//! TCPWIN_UPD) read one
//! record's fields in place. Field values are checked by their `to_*`
//! conversions (a view's getters never fail and never panic).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{kind, DecodeError, Handle, Record, SECTION_HEADER_LEN};
use crate::flow::{Flow, TcpWindow, Tuple};

pub(super) fn be16(b: &[u8], o: usize) -> u16 {
    u16::from_be_bytes([b[o], b[o + 1]])
}

pub(super) fn be32(b: &[u8], o: usize) -> u32 {
    u32::from_be_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}

pub(super) fn be64(b: &[u8], o: usize) -> u64 {
    (u64::from(be32(b, o)) << 32) | u64::from(be32(b, o + 4))
}

pub(super) fn v4(b: &[u8], o: usize) -> Ipv4Addr {
    Ipv4Addr::from(be32(b, o))
}

pub(super) fn v6(b: &[u8], o: usize) -> Ipv6Addr {
    Ipv6Addr::from((u128::from(be64(b, o)) << 64) | u128::from(be64(b, o + 8)))
}

/// The sections of a payload, checked: iterating yields each [`Section`].
#[derive(Debug, Clone, Copy)]
pub struct Sections<'a> {
    rest: &'a [u8],
}

impl<'a> Sections<'a> {
    /// Checks every section header of `payload`: a known type has its
    /// record length, an unknown type is optional (0x80 and up), no count
    /// is 0, the records are all there and nothing follows the last
    /// section. Record fields are not checked here.
    pub fn new_checked(payload: &'a [u8]) -> Result<Sections<'a>, DecodeError> {
        let mut rest = payload;
        while !rest.is_empty() {
            let (k, len, count) = match *rest {
                [k, len, c0, c1, ..] => (
                    k,
                    usize::from(len),
                    usize::from(u16::from_be_bytes([c0, c1])),
                ),
                _ => {
                    return Err(DecodeError::Truncated {
                        needed: SECTION_HEADER_LEN,
                        got: rest.len(),
                    })
                }
            };
            match kind::record_len(k) {
                Some(expected) if expected != len => {
                    return Err(DecodeError::BadRecordLength {
                        kind: k,
                        found: len,
                        expected,
                    })
                }
                None if kind::is_critical(k) => {
                    return Err(DecodeError::UnknownCritical { kind: k })
                }
                _ => {}
            }
            if count == 0 {
                return Err(DecodeError::EmptySection { kind: k });
            }
            let needed = SECTION_HEADER_LEN + len * count;
            rest = rest.get(needed..).ok_or(DecodeError::Truncated {
                needed,
                got: rest.len(),
            })?;
        }
        Ok(Sections { rest: payload })
    }
}

impl<'a> Iterator for Sections<'a> {
    type Item = Section<'a>;

    fn next(&mut self) -> Option<Section<'a>> {
        let (k, len, count) = match *self.rest {
            [k, len, c0, c1, ..] => (
                k,
                usize::from(len),
                usize::from(u16::from_be_bytes([c0, c1])),
            ),
            _ => return None,
        };
        let end = SECTION_HEADER_LEN + len * count;
        let records = self.rest.get(SECTION_HEADER_LEN..end)?;
        self.rest = self.rest.get(end..).unwrap_or_default();
        Some(Section {
            kind: k,
            record_len: len,
            count,
            records,
        })
    }
}

/// One section: a type and its records.
#[derive(Debug, Clone, Copy)]
pub struct Section<'a> {
    kind: u8,
    record_len: usize,
    count: usize,
    records: &'a [u8],
}

/// The records of a section, each `record_len` bytes.
#[derive(Debug, Clone)]
pub struct Records<'a> {
    bytes: &'a [u8],
    len: usize,
    left: usize,
}

impl<'a> Iterator for Records<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let (r, rest) = self.bytes.split_at_checked(self.len)?;
        self.bytes = rest;
        Some(r)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for Records<'_> {}

macro_rules! typed {
    ($(#[$doc:meta])* $method:ident, $view:ident, $kind:expr, $len:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        pub struct $view<'a>(&'a [u8; $len]);

        impl<'a> $view<'a> {
            /// Record bytes.
            pub const LEN: usize = $len;

            /// A view of one record's bytes (exactly [`Self::LEN`]).
            pub fn new_checked(bytes: &'a [u8]) -> Result<$view<'a>, DecodeError> {
                bytes.try_into().map($view).map_err(|_| DecodeError::BadRecordLength {
                    kind: $kind,
                    found: bytes.len(),
                    expected: $len,
                })
            }

            /// The flow's handle (bytes 0 to 3).
            pub fn handle(&self) -> Handle {
                Handle::from_wire(be32(self.0, 0))
            }

            /// The record's bytes.
            pub fn bytes(&self) -> &'a [u8; $len] {
                self.0
            }
        }

        impl<'a> Section<'a> {
            $(#[$doc])*
            ///
            /// Empty unless the section has that type.
            pub fn $method(&self) -> impl Iterator<Item = $view<'a>> + 'a {
                let records = if self.kind == $kind { self.records } else { &[] };
                records
                    .chunks_exact($len)
                    .filter_map(|r| <&[u8; $len]>::try_from(r).ok().map($view))
            }
        }
    };
}

typed!(
    /// FLOW4 records: compact IPv4 flows.
    flows4, Flow4, kind::FLOW4, 32
);
typed!(
    /// FLOW6 records: compact IPv6 flows.
    flows6, Flow6, kind::FLOW6, 68
);
typed!(
    /// FLOW4X records: explicit IPv4 flows.
    flows4x, Flow4X, kind::FLOW4X, 44
);
typed!(
    /// FLOW6X records: explicit flows with 16-byte addresses.
    flows6x, Flow6X, kind::FLOW6X, 96
);
typed!(
    /// FLOW_UPD records.
    flow_updates, FlowUpdate, kind::FLOW_UPD, 12
);
typed!(
    /// FLOW_DEL records.
    flow_deletes, FlowDelete, kind::FLOW_DEL, 8
);
typed!(
    /// TCPWIN records.
    tcp_windows, TcpWin, kind::TCPWIN, 32
);

impl<'a> Section<'a> {
    /// TCPWIN_UPD records (the TCPWIN layout).
    ///
    /// Empty unless the section has that type.
    pub fn window_updates(&self) -> impl Iterator<Item = TcpWin<'a>> + 'a {
        let records = if self.kind == kind::TCPWIN_UPD {
            self.records
        } else {
            &[]
        };
        records
            .chunks_exact(TcpWin::LEN)
            .filter_map(|r| <&[u8; 32]>::try_from(r).ok().map(TcpWin))
    }

    /// The section type ([`kind`]).
    pub fn kind(&self) -> u8 {
        self.kind
    }

    /// Bytes per record.
    pub fn record_len(&self) -> usize {
        self.record_len
    }

    /// Records in the section (at least 1).
    pub fn count(&self) -> usize {
        self.count
    }

    /// A receiver must know the type (below 0x80).
    pub fn is_critical(&self) -> bool {
        kind::is_critical(self.kind)
    }

    /// The records' bytes, one slice each.
    pub fn records(&self) -> Records<'a> {
        Records {
            bytes: self.records,
            len: self.record_len,
            left: self.count,
        }
    }
}

/// Which end of the reply tuple a compact flow record (FLOW4, FLOW6)
/// translates: the state byte's bits 4 and 5.
pub mod nat_end {
    /// None: the reply tuple is the original's inverse.
    pub const NONE: u8 = 0;
    /// The reply's source (destination NAT: the real server).
    pub const REPLY_SOURCE: u8 = 1;
    /// The reply's destination (source NAT).
    pub const REPLY_DESTINATION: u8 = 2;
}

/// A compact record's flow from its fields (both compact forms).
#[allow(clippy::too_many_arguments)]
fn compact_flow(
    k: u8,
    b: &[u8],
    original: Tuple,
    nat_addr: IpAddr,
    nat_port: u16,
) -> Result<(Handle, Flow), DecodeError> {
    let proto = b[4];
    let sb = b[5];
    if sb & 0xc0 != 0 {
        return Err(DecodeError::BadField {
            kind: k,
            field: "state byte bits 6-7 (reserved)",
        });
    }
    let inverse = original.inverse(proto);
    let reply = match (sb >> 4) & 3 {
        nat_end::NONE => {
            if !nat_addr.is_unspecified() || nat_port != 0 {
                return Err(DecodeError::BadField {
                    kind: k,
                    field: "NAT address/port of an untranslated flow (must be zero)",
                });
            }
            inverse
        }
        nat_end::REPLY_SOURCE => Tuple {
            src: nat_addr,
            src_port: nat_port,
            ..inverse
        },
        nat_end::REPLY_DESTINATION => Tuple {
            dst: nat_addr,
            dst_port: nat_port,
            ..inverse
        },
        _ => {
            return Err(DecodeError::BadField {
                kind: k,
                field: "NAT end (state byte bits 4-5 = 3)",
            })
        }
    };
    let flow = Flow {
        proto,
        zone: 0,
        original,
        reply,
        state: sb & 0x0f,
        status: be16(b, 6),
        lifetime_ms: be32(b, 8),
        backend: be16(b, 12),
        mark: 0,
        window: None,
    };
    Ok((Handle::from_wire(be32(b, 0)), flow))
}

impl Flow4<'_> {
    /// Protocol (byte 4).
    pub fn proto(&self) -> u8 {
        self.0[4]
    }
    /// Protocol state (byte 5, bits 0-3).
    pub fn state(&self) -> u8 {
        self.0[5] & 0x0f
    }
    /// Which end is translated ([`nat_end`]; byte 5, bits 4-5).
    pub fn nat_end(&self) -> u8 {
        (self.0[5] >> 4) & 3
    }
    /// Status bits (bytes 6-7).
    pub fn status(&self) -> u16 {
        be16(self.0, 6)
    }
    /// Remaining lifetime, ms (bytes 8-11).
    pub fn lifetime_ms(&self) -> u32 {
        be32(self.0, 8)
    }
    /// Real server (bytes 12-13).
    pub fn backend(&self) -> u16 {
        be16(self.0, 12)
    }
    /// Original source address (bytes 16-19).
    pub fn src(&self) -> Ipv4Addr {
        v4(self.0, 16)
    }
    /// Original destination address (bytes 20-23).
    pub fn dst(&self) -> Ipv4Addr {
        v4(self.0, 20)
    }
    /// Original source port (bytes 24-25).
    pub fn src_port(&self) -> u16 {
        be16(self.0, 24)
    }
    /// Original destination port (bytes 26-27).
    pub fn dst_port(&self) -> u16 {
        be16(self.0, 26)
    }
    /// Translated address (bytes 28-31) and port (bytes 14-15).
    pub fn nat(&self) -> (Ipv4Addr, u16) {
        (v4(self.0, 28), be16(self.0, 14))
    }
    /// The flow, fields checked.
    pub fn to_flow(&self) -> Result<(Handle, Flow), DecodeError> {
        let original = Tuple {
            src: IpAddr::V4(self.src()),
            dst: IpAddr::V4(self.dst()),
            src_port: self.src_port(),
            dst_port: self.dst_port(),
        };
        let (a, p) = self.nat();
        compact_flow(kind::FLOW4, self.0, original, IpAddr::V4(a), p)
    }
}

impl Flow6<'_> {
    /// Original source address (bytes 16-31).
    pub fn src(&self) -> Ipv6Addr {
        v6(self.0, 16)
    }
    /// Original destination address (bytes 32-47).
    pub fn dst(&self) -> Ipv6Addr {
        v6(self.0, 32)
    }
    /// The flow, fields checked.
    pub fn to_flow(&self) -> Result<(Handle, Flow), DecodeError> {
        let b = self.0;
        let original = Tuple {
            src: IpAddr::V6(self.src()),
            dst: IpAddr::V6(self.dst()),
            src_port: be16(b, 48),
            dst_port: be16(b, 50),
        };
        compact_flow(kind::FLOW6, b, original, IpAddr::V6(v6(b, 52)), be16(b, 14))
    }
}

fn explicit_flow(b: &[u8], original: Tuple, reply: Tuple) -> (Handle, Flow) {
    let flow = Flow {
        proto: b[4],
        zone: be16(b, 14),
        original,
        reply,
        state: b[5],
        status: be16(b, 6),
        lifetime_ms: be32(b, 8),
        backend: be16(b, 12),
        mark: be32(b, 16),
        window: None,
    };
    (Handle::from_wire(be32(b, 0)), flow)
}

impl Flow4X<'_> {
    /// The flow (every field value is valid).
    pub fn to_flow(&self) -> (Handle, Flow) {
        let b = self.0;
        let tuple = |o: usize| Tuple {
            src: IpAddr::V4(v4(b, o)),
            dst: IpAddr::V4(v4(b, o + 4)),
            src_port: be16(b, o + 8),
            dst_port: be16(b, o + 10),
        };
        explicit_flow(b, tuple(20), tuple(32))
    }
}

impl Flow6X<'_> {
    /// Family bits (byte 20): bit 0 original source, 1 original
    /// destination, 2 reply source, 3 reply destination is IPv4 (carried
    /// IPv4-mapped).
    pub fn families(&self) -> u8 {
        self.0[20]
    }
    /// The flow, fields checked.
    pub fn to_flow(&self) -> Result<(Handle, Flow), DecodeError> {
        let b = self.0;
        let fam = b[20];
        if fam & 0xf0 != 0 || b[21] != 0 || b[22] != 0 || b[23] != 0 {
            return Err(DecodeError::BadField {
                kind: kind::FLOW6X,
                field: "reserved (family bits 4-7, bytes 21-23)",
            });
        }
        let addr = |o: usize, bit: u8| -> Result<IpAddr, DecodeError> {
            let a = v6(b, o);
            if fam & (1 << bit) == 0 {
                return Ok(IpAddr::V6(a));
            }
            a.to_ipv4_mapped()
                .map(IpAddr::V4)
                .ok_or(DecodeError::BadField {
                    kind: kind::FLOW6X,
                    field: "IPv4 address not IPv4-mapped",
                })
        };
        let original = Tuple {
            src: addr(24, 0)?,
            dst: addr(40, 1)?,
            src_port: be16(b, 56),
            dst_port: be16(b, 58),
        };
        let reply = Tuple {
            src: addr(60, 2)?,
            dst: addr(76, 3)?,
            src_port: be16(b, 92),
            dst_port: be16(b, 94),
        };
        Ok(explicit_flow(b, original, reply))
    }
}

impl FlowUpdate<'_> {
    /// The record, fields checked.
    pub fn to_record(&self) -> Result<Record, DecodeError> {
        let b = self.0;
        if b[5] != 0 {
            return Err(DecodeError::BadField {
                kind: kind::FLOW_UPD,
                field: "reserved (byte 5)",
            });
        }
        Ok(Record::FlowUpdate {
            handle: self.handle(),
            state: b[4],
            status: be16(b, 6),
            lifetime_ms: be32(b, 8),
        })
    }
}

impl FlowDelete<'_> {
    /// The record, fields checked.
    pub fn to_record(&self) -> Result<Record, DecodeError> {
        if be32(self.0, 4) != 0 {
            return Err(DecodeError::BadField {
                kind: kind::FLOW_DEL,
                field: "reserved (bytes 4-7)",
            });
        }
        Ok(Record::FlowDelete {
            handle: self.handle(),
        })
    }
}

impl TcpWin<'_> {
    /// The window (every field value is valid).
    pub fn window(&self) -> TcpWindow {
        let b = self.0;
        TcpWindow {
            scale: [b[4], b[5]],
            flags: [b[6], b[7]],
            end: [be32(b, 8), be32(b, 20)],
            max_end: [be32(b, 12), be32(b, 24)],
            max_window: [be32(b, 16), be32(b, 28)],
        }
    }
}
