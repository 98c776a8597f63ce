//! The 32-byte frame header (docs/replication.md, "Header").
//!
//! ```text
//!  0      2     3     4       6         8         10   11     12     13        16      24     32
//!  +------+-----+-----+-------+---------+---------+----+------+------+---------+-------+------+
//!  |magic |major|minor| flags | pay.len | cluster |node|stream|key id| reserved| boot  | seq  |
//!  +------+-----+-----+-------+---------+---------+----+------+------+---------+-------+------+
//! ```
//! All big-endian. The reserved bytes are sent zero and refused otherwise
//! (a sender of another revision of the format must not be half
//! understood: new header fields come with a new minor version).

use super::{DecodeError, Header, HEADER_LEN, MAGIC, TAG_LEN, VERSION};

impl Header {
    /// The header of a datagram (magic, version and length checked
    /// against the datagram's size; the tag is not checked here).
    pub fn parse(datagram: &[u8]) -> Result<Header, DecodeError> {
        let h: &[u8; HEADER_LEN] = datagram
            .get(..HEADER_LEN)
            .and_then(|s| s.try_into().ok())
            .ok_or(DecodeError::Truncated {
                needed: HEADER_LEN + TAG_LEN,
                got: datagram.len(),
            })?;
        let magic = u16::from_be_bytes([h[0], h[1]]);
        if magic != MAGIC {
            return Err(DecodeError::BadMagic { found: magic });
        }
        if h[2] != VERSION {
            return Err(DecodeError::UnsupportedVersion { found: h[2] });
        }
        let reserved = u32::from_be_bytes([0, h[13], h[14], h[15]]);
        if reserved != 0 {
            return Err(DecodeError::HeaderReserved { found: reserved });
        }
        if datagram.len() < HEADER_LEN + TAG_LEN {
            return Err(DecodeError::Truncated {
                needed: HEADER_LEN + TAG_LEN,
                got: datagram.len(),
            });
        }
        let payload_len = u16::from_be_bytes([h[6], h[7]]);
        let actual = datagram.len() - HEADER_LEN - TAG_LEN;
        if usize::from(payload_len) != actual {
            return Err(DecodeError::BadLength {
                declared: usize::from(payload_len),
                actual,
            });
        }
        Ok(Header {
            minor: h[3],
            flags: u16::from_be_bytes([h[4], h[5]]),
            payload_len,
            cluster: u16::from_be_bytes([h[8], h[9]]),
            node: h[10],
            stream: h[11],
            key_id: h[12],
            boot: u64::from_be_bytes([h[16], h[17], h[18], h[19], h[20], h[21], h[22], h[23]]),
            seq: u64::from_be_bytes([h[24], h[25], h[26], h[27], h[28], h[29], h[30], h[31]]),
        })
    }

    /// The 32 header bytes.
    pub fn emit(&self) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[0..2].copy_from_slice(&MAGIC.to_be_bytes());
        h[2] = VERSION;
        h[3] = self.minor;
        h[4..6].copy_from_slice(&self.flags.to_be_bytes());
        h[6..8].copy_from_slice(&self.payload_len.to_be_bytes());
        h[8..10].copy_from_slice(&self.cluster.to_be_bytes());
        h[10] = self.node;
        h[11] = self.stream;
        h[12] = self.key_id;
        h[16..24].copy_from_slice(&self.boot.to_be_bytes());
        h[24..32].copy_from_slice(&self.seq.to_be_bytes());
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header {
            minor: 2,
            flags: 0x0009,
            payload_len: 3,
            cluster: 0x0102,
            node: 7,
            stream: 9,
            key_id: 0xab,
            boot: 0x1122_3344_5566_7788,
            seq: 0x0000_0000_0000_0102,
        }
    }

    const GOLDEN: [u8; 32] = [
        0x54, 0x52, // magic
        0x01, 0x02, // major, minor
        0x00, 0x09, // flags
        0x00, 0x03, // payload length
        0x01, 0x02, // cluster
        0x07, 0x09, 0xab, // node, stream, key id
        0x00, 0x00, 0x00, // reserved
        0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, // boot
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, // seq
    ];

    fn datagram(h: [u8; 32], payload: usize) -> Vec<u8> {
        let mut d = h.to_vec();
        d.resize(HEADER_LEN + payload + TAG_LEN, 0xa5);
        d
    }

    #[test]
    fn emits_and_parses_the_golden_header() {
        assert_eq!(header().emit(), GOLDEN);
        assert_eq!(Header::parse(&datagram(GOLDEN, 3)), Ok(header()));
    }

    #[test]
    fn refuses_magic_version_reserved_and_length() {
        let mut h = GOLDEN;
        h[1] = 0x53;
        assert_eq!(
            Header::parse(&datagram(h, 3)),
            Err(DecodeError::BadMagic { found: 0x5453 })
        );
        let mut h = GOLDEN;
        h[2] = 2;
        assert_eq!(
            Header::parse(&datagram(h, 3)),
            Err(DecodeError::UnsupportedVersion { found: 2 })
        );
        let mut h = GOLDEN;
        h[14] = 1;
        assert_eq!(
            Header::parse(&datagram(h, 3)),
            Err(DecodeError::HeaderReserved { found: 0x100 })
        );
        assert_eq!(
            Header::parse(&datagram(GOLDEN, 4)),
            Err(DecodeError::BadLength {
                declared: 3,
                actual: 4
            })
        );
        assert_eq!(
            Header::parse(&GOLDEN[..20]),
            Err(DecodeError::Truncated {
                needed: 48,
                got: 20
            })
        );
        assert_eq!(
            Header::parse(&GOLDEN),
            Err(DecodeError::Truncated {
                needed: 48,
                got: 32
            })
        );
    }
}
