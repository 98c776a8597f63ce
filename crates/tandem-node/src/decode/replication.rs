//! Decoding the replication link: UDP datagrams that carry Tandem
//! replication frames or conntrackd sync messages, as `tandemd decode`
//! prints them beside the VRRP and CARP packets of the same capture.
//!
//! [`Decoder::decode`] looks at every frame that [`super::decode_frame`]
//! did not claim:
//! - a UDP payload that starts with the replication magic `0x5452` and
//!   major version 1 is a Tandem frame ([`TandemFrame`]): its header is
//!   always shown; with the pair's key (`--replication-key`) the frame is
//!   opened (verified, decrypted) and its sections and records listed,
//!   replays of a (node, stream, boot id)'s sequence numbers reported;
//! - a UDP datagram from or to the conntrackd port (3780 unless
//!   `--conntrackd-port`) whose first byte has version nibble 1 holds
//!   conntrackd messages ([`CtdMessage`], one per message);
//! - any other UDP datagram, and anything that is not UDP, is skipped.
//!
//! Well-formed but unacceptable input (a bad tag, an unknown key, a replay,
//! a TTL that tandemd drops) and malformed bytes are reported in the
//! record, with every field that could still be read.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use tandem_replication::conntrackd::entry::{self, EntryError};
use tandem_replication::conntrackd::msg::{self, Attr, MsgType};
use tandem_replication::flow::Flow;
use tandem_replication::seal::{KeyError, KeyRing, Psk, ReplayWindow};
use tandem_replication::wire::{
    self, decode_payload, Header, Record, Sections, HEADER_LEN, SECTION_HEADER_LEN,
};

use crate::capture::Frame;
use crate::file::{read_limited, FileError};

pub mod records;
pub mod render;
mod udp;

/// conntrackd's default sync port (`Port` in its `UDP` channel).
pub const CONNTRACKD_PORT: u16 = 3780;
/// The TTL / hop limit tandemd sends replication frames with; it drops
/// any other.
pub const REPLICATION_TTL: u8 = 255;
/// Key rings kept (one per cluster id and key): a capture naming more
/// cluster ids starts over, deriving again.
const MAX_RINGS: usize = 64;
/// Replay windows kept (one per cluster, node, stream and boot id).
const MAX_WINDOWS: usize = 4096;
/// Flows remembered by handle, to name the flow of an update or delete.
const MAX_FLOWS: usize = 1 << 16;

/// A flow's handle in its sender's stream: cluster, node, stream, boot id,
/// handle (wire form).
type FlowRef = (u16, u8, u8, u64, u32);

/// What the replication decoder needs besides the bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The pair's pre-shared keys (`--replication-key FILE`, repeatable
    /// for a rotation's current and next key). Empty: frames are shown
    /// sealed, header only.
    pub keys: Vec<Psk>,
    /// The UDP port that marks conntrackd traffic (either end).
    pub conntrackd_port: u16,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            keys: Vec::new(),
            conntrackd_port: CONNTRACKD_PORT,
        }
    }
}

/// The largest key file read: a key file is two short lines.
const MAX_KEY_FILE_BYTES: u64 = 4096;

/// Why a `--replication-key` file was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFileError {
    /// It could not be read.
    #[error("cannot read replication key {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: FileError,
    },
    /// It is not a key file (`tandemd replication keygen FILE` writes one).
    #[error("replication key {}: {source}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: KeyError,
    },
}

/// Reads a key file as `tandemd replication keygen` writes it.
pub fn load_key(path: &Path) -> Result<Psk, KeyFileError> {
    let bytes = read_limited(path, MAX_KEY_FILE_BYTES).map_err(|source| KeyFileError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let text = String::from_utf8_lossy(&bytes);
    Psk::parse(&text).map_err(|source| KeyFileError::Parse {
        path: path.to_path_buf(),
        source,
    })
}

/// The UDP ends of a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ends {
    /// Sender address and port.
    pub src: SocketAddr,
    /// Destination address and port.
    pub dst: SocketAddr,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
}

/// Whether a Tandem frame was opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seal {
    /// No `--replication-key`: the payload stays sealed.
    NoKey,
    /// The header is malformed: no attempt to open.
    NotTried,
    /// Verified and decrypted.
    Opened,
    /// Sealed with a key id none of the keys given has.
    UnknownKey {
        /// The header's key id.
        key_id: u8,
        /// The ids of the keys given.
        have: Vec<u8>,
    },
    /// The tag does not verify with the key of that id: altered, forged,
    /// or another key with the same id.
    BadTag,
}

impl Seal {
    /// The stable name: `sealed`, `not-opened`, `opened`, `unknown-key`,
    /// `bad-tag`.
    pub fn name(&self) -> &'static str {
        match self {
            Seal::NoKey => "sealed",
            Seal::NotTried => "not-opened",
            Seal::Opened => "opened",
            Seal::UnknownKey { .. } => "unknown-key",
            Seal::BadTag => "bad-tag",
        }
    }
}

/// One section of an opened frame and its records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectionRecords {
    /// The section type ([`wire::kind`]).
    pub kind: u8,
    /// Records in it.
    pub count: usize,
    /// Bytes per record.
    pub record_len: usize,
    /// Its records (none for an optional type this version does not
    /// know: skipped), or why they do not decode.
    pub records: Result<Vec<Record>, wire::DecodeError>,
    /// Beside each record: the flow its handle names, for an update,
    /// delete or window record whose flow an earlier frame of the same
    /// (cluster, node, stream, boot id) carried in this capture.
    pub known: Vec<Option<Flow>>,
}

/// One Tandem replication frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TandemFrame {
    /// The frame number in the capture.
    pub n: u64,
    /// UDP ends.
    pub ends: Ends,
    /// The datagram's bytes as captured.
    pub len: usize,
    /// The header's fields, read even when [`TandemFrame::error`] says the
    /// header is malformed (`None` when fewer than 32 bytes were captured).
    pub header: Option<Header>,
    /// Whether the frame was opened.
    pub seal: Seal,
    /// The sections of an opened frame, in order.
    pub sections: Vec<SectionRecords>,
    /// The sequence number was accepted before in the same (cluster, node,
    /// stream, boot id), or is older than the replay window.
    pub replayed: bool,
    /// The header or the section layout is malformed.
    pub error: Option<wire::DecodeError>,
    /// The capture holds less than the datagram: its UDP payload length.
    pub cut_from: Option<usize>,
    /// The packet is the first fragment of a larger datagram.
    pub fragment: bool,
}

/// One conntrackd message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CtdMessage {
    /// The frame number in the capture.
    pub n: u64,
    /// The message's place in its datagram, from 1.
    pub index: usize,
    /// UDP ends.
    pub ends: Ends,
    /// The version nibble.
    pub version: u8,
    /// The type, when the header was read.
    pub msg_type: Option<MsgType>,
    /// Header flags ([`msg::flags`]).
    pub flags: u8,
    /// The message's length field.
    pub len: usize,
    /// Sequence number.
    pub seq: u32,
    /// `from` and `to` of an ACK, NACK or RESYNC.
    pub range: Option<(u32, u32)>,
    /// The attributes of an entry that decoded (up to the first bad one).
    pub attrs: Vec<Attr>,
    /// The flow an entry describes.
    pub flow: Option<Result<Flow, EntryError>>,
    /// Why the message does not decode.
    pub error: Option<msg::DecodeError>,
    /// The capture holds less than the datagram: its UDP payload length.
    pub cut_from: Option<usize>,
}

/// One decoded item of the replication link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A Tandem replication frame.
    Tandem(TandemFrame),
    /// A conntrackd sync message.
    Conntrackd(CtdMessage),
}

/// The decoder of a capture's replication traffic: it keeps the key rings
/// it derived and the replay windows of the streams it saw.
#[derive(Debug, Default)]
pub struct Decoder {
    opts: Options,
    /// The key id of each key given, in order.
    key_ids: Vec<u8>,
    rings: HashMap<(u16, usize), KeyRing>,
    windows: HashMap<(u16, u8, u8, u64), ReplayWindow>,
    flows: HashMap<FlowRef, Flow>,
}

/// A header's fields read without a check (for a malformed header).
fn peek_header(d: &[u8]) -> Option<Header> {
    let h: &[u8; HEADER_LEN] = d.get(..HEADER_LEN)?.try_into().ok()?;
    let be64 = |o: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(h.get(o..o + 8).unwrap_or(&[0; 8]));
        u64::from_be_bytes(b)
    };
    Some(Header {
        minor: h[3],
        flags: u16::from_be_bytes([h[4], h[5]]),
        payload_len: u16::from_be_bytes([h[6], h[7]]),
        cluster: u16::from_be_bytes([h[8], h[9]]),
        node: h[10],
        stream: h[11],
        key_id: h[12],
        boot: be64(16),
        seq: be64(24),
    })
}

/// Each section of a payload decoded alone (so every record keeps the
/// section type it came in; a TCPWIN section shows as window records).
fn sections(payload: &[u8]) -> Result<Vec<SectionRecords>, wire::DecodeError> {
    let mut out = Vec::new();
    for s in Sections::new_checked(payload)? {
        let mut one = Vec::with_capacity(SECTION_HEADER_LEN + s.record_len() * s.count());
        one.push(s.kind());
        one.push(s.record_len() as u8);
        one.extend_from_slice(&(s.count() as u16).to_be_bytes());
        s.records().for_each(|r| one.extend_from_slice(r));
        out.push(SectionRecords {
            kind: s.kind(),
            count: s.count(),
            record_len: s.record_len(),
            records: decode_payload(&one),
            known: Vec::new(),
        });
    }
    Ok(out)
}

impl Decoder {
    /// A decoder with these keys and port.
    pub fn new(opts: Options) -> Decoder {
        Decoder {
            key_ids: opts.keys.iter().map(Psk::key_id).collect(),
            opts,
            rings: HashMap::new(),
            windows: HashMap::new(),
            flows: HashMap::new(),
        }
    }

    /// The replication messages of a frame: none when it is not
    /// replication traffic; one for a Tandem frame; one per message of a
    /// conntrackd datagram.
    pub fn decode(&mut self, frame: &Frame<'_>) -> Vec<Message> {
        let Some(d) = udp::datagram(frame) else {
            return Vec::new();
        };
        let ends = Ends {
            src: d.src,
            dst: d.dst,
            ttl: d.ttl,
        };
        let p = d.payload;
        if matches!(p, [0x54, 0x52, wire::VERSION, ..]) {
            return vec![Message::Tandem(self.tandem(frame.number, ends, &d))];
        }
        let port = self.opts.conntrackd_port;
        let ctd_port = d.src.port() == port || d.dst.port() == port;
        if ctd_port && p.first().is_some_and(|b| b >> 4 == msg::VERSION) {
            return conntrackd(frame.number, ends, p, d.cut_from)
                .into_iter()
                .map(Message::Conntrackd)
                .collect();
        }
        Vec::new()
    }

    fn tandem(&mut self, n: u64, ends: Ends, d: &udp::Datagram<'_>) -> TandemFrame {
        let datagram = d.payload;
        let mut f = TandemFrame {
            n,
            ends,
            len: datagram.len(),
            header: peek_header(datagram),
            seal: Seal::NotTried,
            sections: Vec::new(),
            replayed: false,
            error: None,
            cut_from: d.cut_from,
            fragment: d.fragment,
        };
        let header = match Header::parse(datagram) {
            Ok(h) => h,
            Err(e) => {
                f.error = Some(e);
                return f;
            }
        };
        if self.opts.keys.is_empty() {
            f.seal = Seal::NoKey;
            return f;
        }
        let (seal, payload) = self.open(&header, datagram);
        f.seal = seal;
        let Some(payload) = payload else {
            return f;
        };
        if self.windows.len() >= MAX_WINDOWS {
            self.windows.clear();
        }
        let w = self
            .windows
            .entry((header.cluster, header.node, header.stream, header.boot))
            .or_default();
        f.replayed = !w.is_fresh(header.seq);
        w.accept(header.seq);
        match sections(&payload) {
            Ok(s) => f.sections = s,
            Err(e) => f.error = Some(e),
        }
        for s in &mut f.sections {
            if let Ok(records) = &s.records {
                s.known = records.iter().map(|r| self.remember(&header, r)).collect();
            }
        }
        f
    }

    /// Keeps a flow record's flow by its handle; gives the flow an update,
    /// delete or window record names (a delete forgets it).
    fn remember(&mut self, h: &Header, r: &Record) -> Option<Flow> {
        let at = |handle: &wire::Handle| (h.cluster, h.node, h.stream, h.boot, handle.to_wire());
        match r {
            Record::Flow { handle, flow } => {
                if self.flows.len() >= MAX_FLOWS {
                    self.flows.clear();
                }
                self.flows.insert(at(handle), *flow);
                None
            }
            Record::FlowUpdate { handle, .. } | Record::FlowWindow { handle, .. } => {
                self.flows.get(&at(handle)).copied()
            }
            Record::FlowDelete { handle } => self.flows.remove(&at(handle)),
            _ => None,
        }
    }

    /// Opens with each key whose id is the header's.
    fn open(&mut self, h: &Header, datagram: &[u8]) -> (Seal, Option<Vec<u8>>) {
        let candidates: Vec<usize> = (0..self.key_ids.len())
            .filter(|&i| self.key_ids.get(i) == Some(&h.key_id))
            .collect();
        if candidates.is_empty() {
            let seal = Seal::UnknownKey {
                key_id: h.key_id,
                have: self.key_ids.clone(),
            };
            return (seal, None);
        }
        for i in candidates {
            if !self.rings.contains_key(&(h.cluster, i)) && self.rings.len() >= MAX_RINGS {
                self.rings.clear();
            }
            let Some(psk) = self.opts.keys.get(i) else {
                continue;
            };
            let ring = match self.rings.entry((h.cluster, i)) {
                std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
                std::collections::hash_map::Entry::Vacant(v) => {
                    // One key alone never clashes with a next key.
                    match KeyRing::new(h.cluster, psk, None) {
                        Ok(r) => v.insert(r),
                        Err(_) => continue,
                    }
                }
            };
            // The header parsed and the ring is of its cluster and key id:
            // only the tag can fail.
            if let Ok((_, payload)) = ring.open(datagram) {
                return (Seal::Opened, Some(payload));
            }
        }
        (Seal::BadTag, None)
    }
}

/// The messages of a conntrackd datagram, a malformed one last.
fn conntrackd(n: u64, ends: Ends, p: &[u8], cut_from: Option<usize>) -> Vec<CtdMessage> {
    let mut out = Vec::new();
    let mut at = 0;
    for (i, m) in msg::messages(p).enumerate() {
        let rest = p.get(at..).unwrap_or_default();
        let mut c = CtdMessage {
            n,
            index: i + 1,
            ends,
            version: rest.first().map_or(0, |b| b >> 4),
            msg_type: rest.first().map(|b| MsgType::from_code(b & 0x0f)),
            flags: rest.get(1).copied().unwrap_or(0),
            len: match rest {
                [_, _, a, b, ..] => usize::from(u16::from_be_bytes([*a, *b])),
                _ => 0,
            },
            seq: match rest {
                [_, _, _, _, a, b, c, d, ..] => u32::from_be_bytes([*a, *b, *c, *d]),
                _ => 0,
            },
            range: None,
            attrs: Vec::new(),
            flow: None,
            error: None,
            cut_from,
        };
        match m {
            Ok(m) => {
                at += m.len();
                c.range = m.range();
                match msg::Repr::parse(&m) {
                    Ok(r) => {
                        if let Some(attrs) = r.entry() {
                            c.flow = Some(entry::to_flow(attrs, 0));
                            c.attrs = attrs.to_vec();
                        }
                    }
                    Err(e) => {
                        c.error = Some(e);
                        if m.msg_type().is_ct() {
                            c.attrs = m
                                .attributes()
                                .map_while(|a| a.ok().and_then(|a| Attr::parse(a).ok()))
                                .collect();
                        }
                    }
                }
            }
            Err(e) => c.error = Some(e),
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests;
