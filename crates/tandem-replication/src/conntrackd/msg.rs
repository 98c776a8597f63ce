//! conntrackd's sync message (conntrack-tools `include/network.h`,
//! `src/build.c`, `src/parse.c`), as conntrackd 1.4.7 sends it.
//!
//! ```text
//!  0               1               2               3
//!  0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7
//! +-------+-------+---------------+-------------------------------+
//! |version| type  |     flags     |  length (this message, bytes) |
//! +-------+-------+---------------+-------------------------------+
//! |                        sequence number                        |
//! +---------------------------------------------------------------+
//! |  ACK, NACK, RESYNC (type CTL):  from  (first seq of a range)  |
//! |                                 to    (last seq of the range) |
//! +---------------------------------------------------------------+
//! |  CT_NEW / CT_UPD / CT_DEL: attributes, each                   |
//! |  +---------------------------+---------------------------+    |
//! |  | nta_len (4 + payload)     | nta_attr (NTA_*)          |    |
//! |  +---------------------------+---------------------------+    |
//! |  | payload, zero-padded to a multiple of 4 bytes         |    |
//! +---------------------------------------------------------------+
//! ```
//!
//! Every field is big endian, with three exceptions written by
//! conntrackd's `ct_build_u16` from a value libnetfilter_conntrack keeps in
//! network order: `NTA_ICMP_ID`, `NTA_SPAT_PORT` and `NTA_DPAT_PORT` are
//! little endian on the wire (as a little-endian host writes them; every
//! capture here comes from one). [`Attr`] holds their numeric values.
//!
//! A datagram holds one or more messages back to back
//! ([`messages`]); each message's length covers its header.

use super::attr::{be16, be32};
pub use super::attr::{nta, Attr, RawAttr, HELPER_NAME_MAX_LEN, LABELS_MAX_LEN};

/// `CONNTRACKD_PROTOCOL_VERSION`.
pub const VERSION: u8 = 1;
/// Header bytes of a message (`NETHDR_SIZ`).
pub const HEADER_LEN: usize = 8;
/// Header bytes of an ACK, NACK or RESYNC (`NETHDR_ACK_SIZ`).
pub const ACK_HEADER_LEN: usize = 16;
/// Attribute header bytes (`struct netattr`).
pub const ATTR_HEADER_LEN: usize = 4;

/// Header flags (`NET_F_*`).
pub mod flags {
    /// `NET_F_RESYNC`: asks the peer to send its whole cache (CTL).
    pub const RESYNC: u8 = 1 << 1;
    /// `NET_F_NACK`: the range `from..=to` was lost; send it again (CTL).
    pub const NACK: u8 = 1 << 2;
    /// `NET_F_ACK`: the range `from..=to` arrived (CTL).
    pub const ACK: u8 = 1 << 3;
    /// `NET_F_ALIVE`: keepalive, sent after 1 s without traffic (CTL).
    pub const ALIVE: u8 = 1 << 4;
    /// `NET_F_HELLO`: the sender (re)started its sequence numbering.
    pub const HELLO: u8 = 1 << 5;
    /// `NET_F_HELLO_BACK`: answers a HELLO.
    pub const HELLO_BACK: u8 = 1 << 6;
    /// The flags that make a CTL message carry `from` and `to`.
    pub const RANGE: u8 = RESYNC | NACK | ACK;
}

/// A message's type (`enum nethdr_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MsgType {
    /// `NET_T_STATE_CT_NEW`: a new conntrack entry.
    CtNew,
    /// `NET_T_STATE_CT_UPD`: an entry changed (the whole entry).
    CtUpd,
    /// `NET_T_STATE_CT_DEL`: an entry ended (the whole entry).
    CtDel,
    /// `NET_T_STATE_EXP_NEW`: a new expectation.
    ExpNew,
    /// `NET_T_STATE_EXP_UPD`.
    ExpUpd,
    /// `NET_T_STATE_EXP_DEL`.
    ExpDel,
    /// `NET_T_CTL`: control (ACK, NACK, RESYNC, ALIVE, HELLO).
    Ctl,
    /// A code conntrackd does not define.
    Unknown(u8),
}

impl MsgType {
    /// From the header's low nibble.
    pub fn from_code(code: u8) -> MsgType {
        match code {
            0 => MsgType::CtNew,
            1 => MsgType::CtUpd,
            2 => MsgType::CtDel,
            3 => MsgType::ExpNew,
            4 => MsgType::ExpUpd,
            5 => MsgType::ExpDel,
            10 => MsgType::Ctl,
            c => MsgType::Unknown(c),
        }
    }

    /// The header's low nibble.
    pub fn code(self) -> u8 {
        match self {
            MsgType::CtNew => 0,
            MsgType::CtUpd => 1,
            MsgType::CtDel => 2,
            MsgType::ExpNew => 3,
            MsgType::ExpUpd => 4,
            MsgType::ExpDel => 5,
            MsgType::Ctl => 10,
            MsgType::Unknown(c) => c & 0x0f,
        }
    }

    /// A conntrack entry (CT_NEW, CT_UPD, CT_DEL).
    pub fn is_ct(self) -> bool {
        matches!(self, MsgType::CtNew | MsgType::CtUpd | MsgType::CtDel)
    }

    /// An expectation (EXP_NEW, EXP_UPD, EXP_DEL).
    pub fn is_exp(self) -> bool {
        matches!(self, MsgType::ExpNew | MsgType::ExpUpd | MsgType::ExpDel)
    }

    /// The type's stable name.
    pub fn name(self) -> &'static str {
        match self {
            MsgType::CtNew => "ct_new",
            MsgType::CtUpd => "ct_upd",
            MsgType::CtDel => "ct_del",
            MsgType::ExpNew => "exp_new",
            MsgType::ExpUpd => "exp_upd",
            MsgType::ExpDel => "exp_del",
            MsgType::Ctl => "ctl",
            MsgType::Unknown(_) => "unknown",
        }
    }
}

/// Malformed conntrackd bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Fewer bytes than a header or the message's length needs.
    #[error("truncated: need {needed} bytes, got {got}")]
    Truncated {
        /// Bytes needed.
        needed: usize,
        /// Bytes there.
        got: usize,
    },
    /// The version nibble is not [`VERSION`].
    #[error("conntrackd protocol version {version}, this decoder speaks {VERSION}")]
    BadVersion {
        /// The version found.
        version: u8,
    },
    /// The length field is below the header's own size.
    #[error("message length {len} below its header's {min} bytes")]
    LengthTooShort {
        /// The length field.
        len: u16,
        /// The header's size.
        min: usize,
    },
    /// A type conntrackd does not define (neither CT, EXP nor CTL).
    #[error("unknown message type {code}")]
    UnknownType {
        /// The type nibble.
        code: u8,
    },
    /// A CTL message longer than its header.
    #[error("control message of {len} bytes, its header is {expected}")]
    ControlLength {
        /// The length field.
        len: u16,
        /// The header's size.
        expected: usize,
    },
    /// An attribute whose `nta_len` is below its own header.
    #[error("attribute at offset {offset}: nta_len {len} below 4")]
    AttrTooShort {
        /// Offset in the message.
        offset: usize,
        /// Its `nta_len`.
        len: u16,
    },
    /// An attribute runs past its message's end.
    #[error("attribute {attr} of {len} bytes (padded) runs past the message end ({remaining} bytes left)")]
    AttrOverrun {
        /// Its `nta_attr`.
        attr: u16,
        /// Its padded length.
        len: usize,
        /// Bytes left in the message.
        remaining: usize,
    },
    /// A type from `NTA_MAX` up (conntrackd 1.4.7 refuses the message too).
    #[error("unknown attribute type {attr}")]
    UnknownAttr {
        /// Its `nta_attr`.
        attr: u16,
    },
    /// A fixed-size attribute of another size.
    #[error("attribute {attr}: nta_len {len}, conntrackd requires {expected}")]
    AttrLength {
        /// Its `nta_attr`.
        attr: u16,
        /// Its `nta_len`.
        len: u16,
        /// The size required.
        expected: u16,
    },
    /// A variable-size attribute beyond conntrackd's limit, or labels
    /// not a whole number of 32-bit words.
    #[error(
        "attribute {attr}: nta_len {len} not accepted (at most {max}, labels in 32-bit words)"
    )]
    AttrSize {
        /// Its `nta_attr`.
        attr: u16,
        /// Its `nta_len`.
        len: u16,
        /// The limit.
        max: usize,
    },
}

/// `NTA_ALIGN`: up to a multiple of 4.
pub fn align4(len: usize) -> usize {
    (len + 3) & !3
}

/// One message, checked: a view over exactly its `length` bytes.
#[derive(Debug, Clone, Copy)]
pub struct Message<T: AsRef<[u8]>> {
    buf: T,
}

impl<T: AsRef<[u8]>> Message<T> {
    /// Checks the header: version 1, a length within `buf` and at least
    /// the header's (16 for ACK, NACK, RESYNC). `buf` may continue past the
    /// message; the view covers its `length` bytes only (see
    /// [`Message::len`]). The type is not checked here.
    pub fn new_checked(buf: T) -> Result<Message<T>, DecodeError> {
        let b = buf.as_ref();
        if b.len() < HEADER_LEN {
            return Err(DecodeError::Truncated {
                needed: HEADER_LEN,
                got: b.len(),
            });
        }
        let version = b[0] >> 4;
        if version != VERSION {
            return Err(DecodeError::BadVersion { version });
        }
        let len = be16(b, 2);
        let min = header_len(MsgType::from_code(b[0] & 0x0f), b[1]);
        if usize::from(len) < min {
            return Err(DecodeError::LengthTooShort { len, min });
        }
        if usize::from(len) > b.len() {
            return Err(DecodeError::Truncated {
                needed: usize::from(len),
                got: b.len(),
            });
        }
        Ok(Message { buf })
    }

    fn bytes(&self) -> &[u8] {
        let b = self.buf.as_ref();
        &b[..usize::from(be16(b, 2)).min(b.len())]
    }

    /// The message's type.
    pub fn msg_type(&self) -> MsgType {
        MsgType::from_code(self.buf.as_ref()[0] & 0x0f)
    }

    /// [`flags`].
    pub fn flags(&self) -> u8 {
        self.buf.as_ref()[1]
    }

    /// The length field: the message's bytes, header included.
    pub fn len(&self) -> usize {
        usize::from(be16(self.buf.as_ref(), 2))
    }

    /// Never: a checked message holds at least its header.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The sequence number.
    pub fn seq(&self) -> u32 {
        be32(self.buf.as_ref(), 4)
    }

    /// `from` and `to` of an ACK, NACK or RESYNC.
    pub fn range(&self) -> Option<(u32, u32)> {
        let b = self.bytes();
        (header_len(self.msg_type(), self.flags()) == ACK_HEADER_LEN)
            .then(|| (be32(b, 8), be32(b, 12)))
    }

    /// The bytes after the header: the attributes of an entry or an
    /// expectation; nothing for a well-formed CTL.
    pub fn payload(&self) -> &[u8] {
        let h = header_len(self.msg_type(), self.flags());
        self.bytes().get(h..).unwrap_or(&[])
    }

    /// The message's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes()
    }

    /// Its attributes (CT and EXP types), each checked for length and
    /// alignment; the first malformed one ends the walk with an error.
    pub fn attributes(&self) -> Attrs<'_> {
        Attrs {
            buf: self.payload(),
            pos: 0,
            base: header_len(self.msg_type(), self.flags()),
        }
    }
}

/// The header's size for a type and flags: 16 for a CTL with ACK, NACK
/// or RESYNC, 8 otherwise.
pub fn header_len(msg_type: MsgType, flags: u8) -> usize {
    if msg_type == MsgType::Ctl && flags & flags::RANGE != 0 {
        ACK_HEADER_LEN
    } else {
        HEADER_LEN
    }
}

/// The messages of a datagram, in order. A malformed header ends the walk
/// (as conntrackd does: nothing after it can be framed).
pub fn messages(datagram: &[u8]) -> Messages<'_> {
    Messages {
        rest: datagram,
        failed: false,
    }
}

/// Iterator of [`messages`].
#[derive(Debug, Clone)]
pub struct Messages<'a> {
    rest: &'a [u8],
    failed: bool,
}

impl<'a> Iterator for Messages<'a> {
    type Item = Result<Message<&'a [u8]>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() || self.failed {
            return None;
        }
        match Message::new_checked(self.rest) {
            Ok(m) => {
                let len = m.len();
                let (this, rest) = self.rest.split_at(len.min(self.rest.len()));
                self.rest = rest;
                Some(Ok(Message { buf: this }))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// Iterator of [`Message::attributes`].
#[derive(Debug, Clone)]
pub struct Attrs<'a> {
    buf: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Iterator for Attrs<'a> {
    type Item = Result<RawAttr<'a>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.buf.get(self.pos..)?;
        if rest.is_empty() {
            return None;
        }
        if rest.len() < ATTR_HEADER_LEN {
            self.pos = self.buf.len();
            return Some(Err(DecodeError::Truncated {
                needed: ATTR_HEADER_LEN,
                got: rest.len(),
            }));
        }
        let len = be16(rest, 0);
        let attr = be16(rest, 2);
        if usize::from(len) < ATTR_HEADER_LEN {
            let offset = self.base + self.pos;
            self.pos = self.buf.len();
            return Some(Err(DecodeError::AttrTooShort { offset, len }));
        }
        let padded = align4(usize::from(len));
        if padded > rest.len() {
            self.pos = self.buf.len();
            return Some(Err(DecodeError::AttrOverrun {
                attr,
                len: padded,
                remaining: rest.len(),
            }));
        }
        self.pos += padded;
        Some(Ok(RawAttr {
            attr,
            payload: &rest[ATTR_HEADER_LEN..usize::from(len)],
        }))
    }
}

/// What a message carries.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Body {
    /// A conntrack entry's attributes, in wire order (CT_NEW, CT_UPD,
    /// CT_DEL).
    Entry(Vec<Attr>),
    /// An expectation's attributes, kept as bytes: this crate does not
    /// replicate expectations (checked only for TLV framing).
    Expectation(Vec<u8>),
    /// A CTL message: `from` and `to` with ACK, NACK or RESYNC.
    Control {
        /// The range, with [`flags::RANGE`] flags.
        range: Option<(u32, u32)>,
    },
}

/// One message, owned.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Repr {
    /// Its type.
    pub msg_type: MsgType,
    /// [`flags`].
    pub flags: u8,
    /// Sequence number.
    pub seq: u32,
    /// What it carries.
    pub body: Body,
}

impl Repr {
    /// Decodes a checked message: a known type, attributes that follow
    /// conntrackd's rules, a CTL without trailing bytes.
    pub fn parse(m: &Message<&[u8]>) -> Result<Repr, DecodeError> {
        let msg_type = m.msg_type();
        let body = match msg_type {
            MsgType::CtNew | MsgType::CtUpd | MsgType::CtDel => {
                let mut attrs = Vec::new();
                for raw in m.attributes() {
                    attrs.push(Attr::parse(raw?)?);
                }
                Body::Entry(attrs)
            }
            MsgType::ExpNew | MsgType::ExpUpd | MsgType::ExpDel => {
                for raw in m.attributes() {
                    raw?;
                }
                Body::Expectation(m.payload().to_vec())
            }
            MsgType::Ctl => {
                let expected = header_len(msg_type, m.flags());
                if m.len() != expected {
                    return Err(DecodeError::ControlLength {
                        len: m.len() as u16,
                        expected,
                    });
                }
                Body::Control { range: m.range() }
            }
            MsgType::Unknown(code) => return Err(DecodeError::UnknownType { code }),
        };
        Ok(Repr {
            msg_type,
            flags: m.flags(),
            seq: m.seq(),
            body,
        })
    }

    /// Decodes the first message of `bytes` (checking the header first).
    pub fn decode(bytes: &[u8]) -> Result<Repr, DecodeError> {
        Repr::parse(&Message::new_checked(bytes)?)
    }

    /// A control message.
    pub fn control(flags: u8, seq: u32, range: Option<(u32, u32)>) -> Repr {
        Repr {
            msg_type: MsgType::Ctl,
            flags,
            seq,
            body: Body::Control { range },
        }
    }

    /// Bytes on the wire. A control message's size follows its flags (16
    /// with ACK, NACK, RESYNC; `range` then defaults to 0, 0).
    pub fn buffer_len(&self) -> usize {
        match &self.body {
            Body::Entry(attrs) => HEADER_LEN + attrs.iter().map(Attr::wire_len).sum::<usize>(),
            Body::Expectation(bytes) => HEADER_LEN + bytes.len(),
            Body::Control { .. } => header_len(MsgType::Ctl, self.flags),
        }
    }

    /// Appends the message. The type of an [`Body::Control`] is CTL and
    /// that of an [`Body::Entry`] is its `msg_type` whatever it says.
    pub fn emit(&self, out: &mut Vec<u8>) {
        let msg_type = match self.body {
            Body::Control { .. } => MsgType::Ctl,
            _ => self.msg_type,
        };
        let len = self.buffer_len();
        out.push((VERSION << 4) | msg_type.code());
        out.push(self.flags);
        out.extend_from_slice(&(len.min(usize::from(u16::MAX)) as u16).to_be_bytes());
        out.extend_from_slice(&self.seq.to_be_bytes());
        match &self.body {
            Body::Entry(attrs) => attrs.iter().for_each(|a| a.emit(out)),
            Body::Expectation(bytes) => out.extend_from_slice(bytes),
            Body::Control { range } => {
                if header_len(MsgType::Ctl, self.flags) == ACK_HEADER_LEN {
                    let (from, to) = range.unwrap_or((0, 0));
                    out.extend_from_slice(&from.to_be_bytes());
                    out.extend_from_slice(&to.to_be_bytes());
                }
            }
        }
    }

    /// The message as bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.buffer_len());
        self.emit(&mut v);
        v
    }

    /// The entry's attributes, for a CT message.
    pub fn entry(&self) -> Option<&[Attr]> {
        match &self.body {
            Body::Entry(a) => Some(a),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    // A CT_NEW from the FT-FW capture (IPv4 UDP 198.51.100.11:5353 ->
    // 203.0.113.21:53, timeout 30).
    const UDP_NEW: [u8; 76] = [
        0x10, 0x00, 0x00, 0x4c, 0x6b, 0x12, 0x31, 0xf7, 0x00, 0x0c, 0x00, 0x00, 0xc6, 0x33, 0x64,
        0x0b, 0xcb, 0x00, 0x71, 0x15, 0x00, 0x08, 0x00, 0x05, 0x00, 0x00, 0x00, 0x08, 0x00, 0x05,
        0x00, 0x02, 0x11, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x03, 0x14, 0xe9, 0x00, 0x35, 0x00,
        0x08, 0x00, 0x06, 0x00, 0x00, 0x00, 0x1e, 0x00, 0x08, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x10, 0x00, 0x1f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00,
    ];

    #[test]
    fn getters_on_a_captured_entry() {
        let m = Message::new_checked(&UDP_NEW[..]).unwrap();
        assert_eq!(m.msg_type(), MsgType::CtNew);
        assert_eq!((m.flags(), m.len(), m.seq()), (0, 76, 0x6b1231f7));
        assert_eq!(m.range(), None);
        let r = Repr::parse(&m).unwrap();
        let attrs = r.entry().unwrap();
        assert_eq!(
            attrs[0],
            Attr::Ipv4 {
                src: Ipv4Addr::new(198, 51, 100, 11),
                dst: Ipv4Addr::new(203, 0, 113, 21)
            }
        );
        assert!(attrs.contains(&Attr::Port { src: 5353, dst: 53 }));
        assert!(attrs.contains(&Attr::Timeout(30)));
        assert_eq!(r.to_bytes(), UDP_NEW);
    }

    #[test]
    fn ack_header_carries_the_range() {
        let ack = [
            0x1a, 0x68, 0, 16, 0x6b, 0x12, 0x31, 0xf5, 0x6b, 0x12, 0x31, 0xf4, 0x6b, 0x12, 0x31,
            0xf4,
        ];
        let m = Message::new_checked(&ack[..]).unwrap();
        assert_eq!(m.range(), Some((0x6b1231f4, 0x6b1231f4)));
        let r = Repr::parse(&m).unwrap();
        assert_eq!(
            r,
            Repr::control(
                flags::ACK | flags::HELLO | flags::HELLO_BACK,
                0x6b1231f5,
                Some((0x6b1231f4, 0x6b1231f4))
            )
        );
        let mut out = vec![0xa5; 3];
        r.emit(&mut out);
        assert_eq!(&out[3..], &ack);
        // An ACK shorter than 16 bytes.
        let short = [0x1a, 0x08, 0, 8, 0, 0, 0, 1];
        assert_eq!(
            Message::new_checked(&short[..]).unwrap_err(),
            DecodeError::LengthTooShort { len: 8, min: 16 }
        );
    }

    #[test]
    fn malformed_bytes_give_specific_errors() {
        assert_eq!(
            Message::new_checked(&[0x10u8, 0, 0][..]).unwrap_err(),
            DecodeError::Truncated { needed: 8, got: 3 }
        );
        let mut v2 = UDP_NEW;
        v2[0] = 0x20;
        assert_eq!(
            Message::new_checked(&v2[..]).unwrap_err(),
            DecodeError::BadVersion { version: 2 }
        );
        assert!(matches!(
            Message::new_checked(&UDP_NEW[..40]).unwrap_err(),
            DecodeError::Truncated {
                needed: 76,
                got: 40
            }
        ));
        let mut unknown = UDP_NEW;
        unknown[22..24].copy_from_slice(&40u16.to_be_bytes());
        assert_eq!(
            Repr::decode(&unknown).unwrap_err(),
            DecodeError::UnknownAttr { attr: 40 }
        );
        let mut badlen = UDP_NEW;
        badlen[20..22].copy_from_slice(&9u16.to_be_bytes()); // STATUS of 5 bytes
        assert_eq!(
            Repr::decode(&badlen).unwrap_err(),
            DecodeError::AttrLength {
                attr: nta::STATUS,
                len: 9,
                expected: 8
            }
        );
        let mut over = UDP_NEW;
        over[60..62].copy_from_slice(&20u16.to_be_bytes());
        assert!(matches!(
            Repr::decode(&over).unwrap_err(),
            DecodeError::AttrOverrun { .. }
        ));
        let mut zero = UDP_NEW;
        zero[8..10].copy_from_slice(&0u16.to_be_bytes());
        assert_eq!(
            Repr::decode(&zero).unwrap_err(),
            DecodeError::AttrTooShort { offset: 8, len: 0 }
        );
        let mut ty = UDP_NEW;
        ty[0] = 0x17;
        assert_eq!(
            Repr::decode(&ty).unwrap_err(),
            DecodeError::UnknownType { code: 7 }
        );
    }

    #[test]
    fn datagram_walk_stops_at_the_first_bad_header() {
        let mut d = UDP_NEW.to_vec();
        d.extend_from_slice(&UDP_NEW);
        d.extend_from_slice(&[0x10, 0, 0, 4]);
        let v: Vec<_> = messages(&d).collect();
        assert_eq!(v.len(), 3);
        assert!(v[0].is_ok() && v[1].is_ok());
        assert_eq!(
            v[2].as_ref().unwrap_err(),
            &DecodeError::Truncated { needed: 8, got: 4 }
        );
    }

    #[test]
    fn every_prefix_of_a_message_is_truncated() {
        for n in 0..UDP_NEW.len() {
            assert!(matches!(
                Message::new_checked(&UDP_NEW[..n]).unwrap_err(),
                DecodeError::Truncated { .. }
            ));
        }
    }

    #[test]
    fn little_endian_ports_and_icmp_id() {
        let mut out = vec![0xa5; 1];
        Attr::SpatPort(61000).emit(&mut out);
        assert_eq!(out[1..], [0, 6, 0, 14, 0x48, 0xee, 0, 0]);
        let raw = RawAttr {
            attr: nta::ICMP_ID,
            payload: &[0x34, 0x12],
        };
        assert_eq!(Attr::parse(raw).unwrap(), Attr::IcmpId(0x1234));
        let raw = RawAttr {
            attr: nta::ZONE,
            payload: &[0, 7],
        };
        assert_eq!(Attr::parse(raw).unwrap(), Attr::Zone(7));
    }
}
