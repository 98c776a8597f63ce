//! The replication frame: one UDP datagram. A 32-byte header (the AEAD's
//! associated data), then typed sections of fixed-size records (the
//! encrypted payload), then the 16-byte tag. docs/replication.md gives
//! every byte.
//!
//! - [`Header`]: version, flags, cluster / node / stream ids, key id, boot
//!   id, 64-bit sequence number;
//! - [`Record`]: every record as an owned value (flows, updates, deletes,
//!   persistence, and the control records);
//! - [`encode_payload`] / [`decode_payload`]: records to sections and back;
//!   [`Sections`] walks a payload without copying;
//! - [`FrameBuilder`]: fills one datagram up to a size limit, record by
//!   record, with the exact size known before each push.
//!
//! Section types below 0x80 are critical: a receiver that does not know
//! one refuses the frame ([`DecodeError::UnknownCritical`]). Types 0x80 and
//! up are optional: skipped by their length.
//!
//! ```
//! use std::net::{IpAddr, Ipv4Addr};
//! use tandem_replication::flow::{proto, Flow, Tuple};
//! use tandem_replication::seal::{KeyRing, Psk};
//! use tandem_replication::wire::{decode_payload, FrameBuilder, Handle, Header, Record};
//!
//! let flow = Flow::untranslated(
//!     proto::TCP,
//!     Tuple {
//!         src: IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7)),
//!         dst: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10)),
//!         src_port: 40000,
//!         dst_port: 443,
//!     },
//!     3,
//!     432_000_000,
//! );
//! let mut frame = FrameBuilder::new(1400 - 48);
//! frame.push(Record::Flow { handle: Handle { slot: 1, gen: 0 }, flow }).unwrap();
//! assert_eq!(frame.payload_len(), 4 + 32);
//!
//! let keys = KeyRing::new(7, &Psk::from_bytes([1; 32]), None).unwrap();
//! let header = Header {
//!     minor: 0, flags: 0, payload_len: 0, cluster: 7, node: 1, stream: 0,
//!     key_id: 0, boot: 0x5eed, seq: 1,
//! };
//! let datagram = keys.seal(header, &frame.encode());
//! assert_eq!(datagram.len(), 32 + 36 + 16);
//!
//! let (header, payload) = keys.open(&datagram).unwrap();
//! assert_eq!(header.seq, 1);
//! assert_eq!(decode_payload(&payload).unwrap(), frame.records());
//! ```

use crate::flow::{Flow, TcpWindow};
use crate::persist::{PersistKey, Persistence, TableId};

mod decode;
mod encode;
mod header;
pub mod view;

pub use decode::decode_payload;
pub use encode::{encode_payload, FrameBuilder};
pub use view::{Section, Sections};

/// The frame's first two bytes.
pub const MAGIC: u16 = 0x5452;
/// The major version this crate speaks.
pub const VERSION: u8 = 1;
/// The minor version it sends (informational).
pub const MINOR: u8 = 0;
/// Header bytes.
pub const HEADER_LEN: usize = 32;
/// AEAD tag bytes.
pub const TAG_LEN: usize = 16;
/// Section header bytes.
pub const SECTION_HEADER_LEN: usize = 4;

/// Section types. Below 0x80: critical; 0x80 and up: optional.
/// docs/replication.md gives each record's layout.
pub mod kind {
    /// IPv4 flow, compact form (32 bytes).
    pub const FLOW4: u8 = 0x01;
    /// IPv4 flow, explicit form: zone, mark, whole reply tuple (44 bytes).
    pub const FLOW4X: u8 = 0x02;
    /// IPv6 flow, compact form (68 bytes).
    pub const FLOW6: u8 = 0x03;
    /// Any flow, explicit form with 16-byte addresses and a family bit
    /// per address (IPv6, and mixed families such as NAT64) (96 bytes).
    pub const FLOW6X: u8 = 0x04;
    /// A flow's state, status and lifetime (12 bytes).
    pub const FLOW_UPD: u8 = 0x05;
    /// A flow's end (8 bytes).
    pub const FLOW_DEL: u8 = 0x06;
    /// Persistence by IPv4 source (12 bytes).
    pub const PERSIST4: u8 = 0x10;
    /// Persistence by IPv6 source (24 bytes).
    pub const PERSIST6: u8 = 0x11;
    /// Persistence by a hashed key: cookie, header, TLS session (16 bytes).
    pub const PERSISTH: u8 = 0x12;
    /// Removal of an IPv4 source persistence entry (8 bytes).
    pub const PDEL4: u8 = 0x13;
    /// Removal of an IPv6 source persistence entry (20 bytes).
    pub const PDEL6: u8 = 0x14;
    /// Removal of a hashed-key persistence entry (12 bytes).
    pub const PDELH: u8 = 0x15;
    /// HELLO (36 bytes).
    pub const HELLO: u8 = 0x40;
    /// ACK (32 bytes).
    pub const ACK: u8 = 0x41;
    /// NACK (32 bytes).
    pub const NACK: u8 = 0x42;
    /// RESYNC_REQ (16 bytes).
    pub const RESYNC_REQ: u8 = 0x43;
    /// BULK_BEGIN (12 bytes).
    pub const BULK_BEGIN: u8 = 0x44;
    /// BULK_END (28 bytes).
    pub const BULK_END: u8 = 0x45;
    /// DIGEST (10 bytes).
    pub const DIGEST: u8 = 0x46;
    /// HEARTBEAT (12 bytes).
    pub const HEARTBEAT: u8 = 0x47;
    /// The TCP windows of the flows of the flow section just before
    /// (optional, 32 bytes).
    pub const TCPWIN: u8 = 0x80;
    /// A flow's TCP window changed, the flow not in the payload
    /// (optional, 32 bytes; the TCPWIN layout).
    pub const TCPWIN_UPD: u8 = 0x81;

    /// The record length of a known type, `None` for a type this version
    /// does not know.
    pub const fn record_len(kind: u8) -> Option<usize> {
        Some(match kind {
            FLOW4 => 32,
            FLOW4X => 44,
            FLOW6 => 68,
            FLOW6X => 96,
            FLOW_UPD => 12,
            FLOW_DEL => 8,
            PERSIST4 => 12,
            PERSIST6 => 24,
            PERSISTH => 16,
            PDEL4 => 8,
            PDEL6 => 20,
            PDELH => 12,
            HELLO => 36,
            ACK => 32,
            NACK => 32,
            RESYNC_REQ => 16,
            BULK_BEGIN => 12,
            BULK_END => 28,
            DIGEST => 10,
            HEARTBEAT => 12,
            TCPWIN | TCPWIN_UPD => 32,
            _ => return None,
        })
    }

    /// A receiver that does not know the type must refuse the frame.
    pub const fn is_critical(kind: u8) -> bool {
        kind < 0x80
    }
}

/// Header flags.
pub mod flags {
    /// The payload is encrypted (always set by this crate).
    pub const ENCRYPTED: u16 = 1 << 0;
    /// The sender asks for an ACK at once.
    pub const ACK_REQUESTED: u16 = 1 << 1;
    /// A bulk resync of the sender's stream is under way.
    pub const BULK_ACTIVE: u16 = 1 << 2;
    /// The sender's mirror of the receiver's stream is in sync.
    pub const IN_SYNC: u16 = 1 << 3;
}

/// A frame's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header {
    /// Minor version.
    pub minor: u8,
    /// [`flags`].
    pub flags: u16,
    /// Payload length (sections, without the tag). Set by the encoder.
    pub payload_len: u16,
    /// The HA pair's cluster id.
    pub cluster: u16,
    /// The sending unit's node id.
    pub node: u8,
    /// The stream.
    pub stream: u8,
    /// Which of the sender's keys sealed the frame.
    pub key_id: u8,
    /// The sender's random boot id (new at every start).
    pub boot: u64,
    /// The frame's sequence number in (node, stream, boot): from 1.
    pub seq: u64,
}

/// A flow's identity in its sender's table: the slot it occupies (24 bits)
/// and the slot's generation (bumped at each reuse, wrapping).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Handle {
    /// Slot index, below [`Handle::MAX_SLOTS`].
    pub slot: u32,
    /// Generation.
    pub gen: u8,
}

impl Handle {
    /// Slots per stream.
    pub const MAX_SLOTS: u32 = 1 << 24;

    /// The 32-bit wire form: slot << 8 | gen.
    pub fn to_wire(self) -> u32 {
        (self.slot << 8) | u32::from(self.gen)
    }

    /// From the wire form.
    pub fn from_wire(v: u32) -> Handle {
        Handle {
            slot: v >> 8,
            gen: v as u8,
        }
    }
}

/// The sender's role, in HELLO.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Streams its table.
    Active,
    /// Mirrors the partner's.
    Backup,
    /// A code this version does not know.
    Unknown(u8),
}

/// HELLO: who the sender is, and the challenge that binds a new boot id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Hello {
    /// Role.
    pub role: Role,
    /// Lowest and highest major version spoken.
    pub versions: (u8, u8),
    /// Capability bits (none defined yet: 0).
    pub capabilities: u32,
    /// A fresh random challenge of the sender's receiver half: the partner
    /// answers it in its next HELLO's `response`.
    pub challenge: u64,
    /// The partner's last challenge, answered (0: none yet).
    pub response: u64,
    /// The boot id of the partner's stream the sender mirrors (0: none).
    pub mirrored_boot: u64,
    /// Live entries in the sender's own stream.
    pub live: u32,
}

/// ACK: cumulative sequence number and a selective bitmap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ack {
    /// The stream acknowledged.
    pub stream: u8,
    /// The boot id of the stream acknowledged.
    pub boot: u64,
    /// Every frame up to and including this one was received.
    pub cumulative: u64,
    /// Bit i set: frame `cumulative + 2 + i` was received.
    pub sack: u64,
    /// Frames the receiver will take beyond `cumulative`.
    pub credit: u32,
}

/// NACK: frames `first..=last` are missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Nack {
    /// The stream.
    pub stream: u8,
    /// The boot id of the stream.
    pub boot: u64,
    /// First missing.
    pub first: u64,
    /// Last missing.
    pub last: u64,
}

/// What a resync covers: shards `first..=last` of the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ShardRange {
    /// First shard.
    pub first: u16,
    /// Last shard (inclusive).
    pub last: u16,
}

/// RESYNC_REQ: the receiver asks for a bulk of a shard range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ResyncReq {
    /// The stream.
    pub stream: u8,
    /// The boot id the receiver knows (0: none).
    pub boot: u64,
    /// Shards.
    pub range: ShardRange,
    /// Why (a [`ResyncReason`] code).
    pub reason: ResyncReason,
}

/// Why a resync is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResyncReason {
    /// The receiver (re)joined, or saw a new boot id.
    Join,
    /// A gap the sender can no longer repair.
    Gap,
    /// A shard's digest differed.
    Digest,
    /// The operator asked.
    Operator,
    /// A code this version does not know.
    Unknown(u8),
}

/// BULK_BEGIN: the bulk of a shard range starts in this frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BulkBegin {
    /// Bulk id (per sender boot).
    pub bulk: u32,
    /// Shards.
    pub range: ShardRange,
    /// Entries expected (estimate).
    pub entries: u32,
}

/// BULK_END: the bulk of a shard range is complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BulkEnd {
    /// Bulk id.
    pub bulk: u32,
    /// Shards.
    pub range: ShardRange,
    /// The sequence number of the frame that carried BULK_BEGIN: entries
    /// of the range last changed before it and not refreshed are swept.
    pub begin_seq: u64,
    /// Entries sent.
    pub entries: u32,
    /// The range's digest (XOR of its shards' digests).
    pub digest: u64,
}

/// One record.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Record {
    /// Insert or replace a flow (FLOW4 / FLOW4X / FLOW6 / FLOW6X, chosen
    /// by content; the window, if any, as a TCPWIN record beside it).
    Flow {
        /// Its handle.
        handle: Handle,
        /// The flow.
        flow: Flow,
    },
    /// A flow's state, status or lifetime changed (FLOW_UPD).
    FlowUpdate {
        /// Its handle.
        handle: Handle,
        /// Protocol state.
        state: u8,
        /// Status bits.
        status: u16,
        /// Remaining lifetime, ms.
        lifetime_ms: u32,
    },
    /// A flow ended (FLOW_DEL).
    FlowDelete {
        /// Its handle.
        handle: Handle,
    },
    /// A flow's TCP window changed (TCPWIN_UPD, optional section).
    FlowWindow {
        /// Its handle.
        handle: Handle,
        /// The window.
        window: TcpWindow,
    },
    /// Insert or refresh a persistence entry (PERSIST4 / PERSIST6 / PERSISTH).
    Persist(Persistence),
    /// Remove a persistence entry (PDEL4 / PDEL6 / PDELH).
    PersistDelete {
        /// Table.
        table: TableId,
        /// Key.
        key: PersistKey,
    },
    /// HELLO.
    Hello(Hello),
    /// ACK.
    Ack(Ack),
    /// NACK.
    Nack(Nack),
    /// RESYNC_REQ.
    ResyncReq(ResyncReq),
    /// BULK_BEGIN.
    BulkBegin(BulkBegin),
    /// BULK_END.
    BulkEnd(BulkEnd),
    /// DIGEST: one shard's 64-bit digest.
    Digest {
        /// The shard.
        shard: u16,
        /// Its digest.
        digest: u64,
    },
    /// HEARTBEAT: the idle sender's highest sequence number and live count.
    Heartbeat {
        /// Highest sequence number sent in this stream.
        highest_seq: u64,
        /// Live entries.
        live: u32,
    },
}

/// Malformed bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Fewer bytes than a field needs.
    #[error("truncated: need {needed} bytes, got {got}")]
    Truncated {
        /// Needed.
        needed: usize,
        /// Got.
        got: usize,
    },
    /// Not a replication frame.
    #[error("bad magic {found:#06x} (expected {MAGIC:#06x}): not a Tandem replication frame")]
    BadMagic {
        /// Found.
        found: u16,
    },
    /// A major version this crate does not speak.
    #[error("unsupported major version {found} (this build speaks {VERSION})")]
    UnsupportedVersion {
        /// Found.
        found: u8,
    },
    /// The header's payload length and the datagram disagree.
    #[error("payload length {declared} but {actual} bytes follow the header")]
    BadLength {
        /// In the header.
        declared: usize,
        /// Present (without the tag).
        actual: usize,
    },
    /// A critical section type this version does not know.
    #[error("unknown critical section type {kind:#04x}: the sender is newer; upgrade this unit")]
    UnknownCritical {
        /// The type.
        kind: u8,
    },
    /// A section's record length is not its type's.
    #[error("section {kind:#04x}: record length {found}, expected {expected}")]
    BadRecordLength {
        /// The type.
        kind: u8,
        /// Found.
        found: usize,
        /// Expected.
        expected: usize,
    },
    /// The header's reserved bytes (13 to 15) are not zero.
    #[error("header reserved bytes 13..16 are {found:#08x}, not zero: a sender of another format revision")]
    HeaderReserved {
        /// The three bytes, big-endian.
        found: u32,
    },
    /// A section with no record.
    #[error("section {kind:#04x} has a record count of 0")]
    EmptySection {
        /// The type.
        kind: u8,
    },
    /// A field holds a value its record cannot have.
    #[error("section {kind:#04x}: invalid {field}")]
    BadField {
        /// The type.
        kind: u8,
        /// The field.
        field: &'static str,
    },
}
