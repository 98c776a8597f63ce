//! Reading capture files: classic pcap and pcapng, as tcpdump, dumpcap and
//! Wireshark write them.
//!
//! [`Capture::read`] loads a whole file and tells the format by its magic
//! number; [`Capture::frames`] then walks the frames in file order, numbered
//! from 1 as Wireshark numbers them (every packet record counts, whatever it
//! carries; pcapng blocks that are not packets do not). Only the link types
//! an advertisement can be found in are accepted ([`LinkType`]); anything
//! else, and any damage to the file, is a [`CaptureError`] that says what
//! is wrong and where.

use std::borrow::Cow;
use std::fmt;
use std::path::{Path, PathBuf};

use pcap_file::pcap::PcapParser;
use pcap_file::pcapng::{Block, PcapNgParser};
use pcap_file::PcapError;

use crate::file::{read_limited, FileError};

/// The largest capture `tandemd decode` reads: 1 GiB. The whole file is
/// held in memory; split larger captures (`editcap -c`).
pub const MAX_CAPTURE_BYTES: u64 = 1 << 30;

/// Magic numbers of the classic pcap format (microsecond and nanosecond
/// timestamps, both byte orders), as the first four bytes of the file.
const PCAP_MAGICS: [[u8; 4]; 4] = [
    [0xa1, 0xb2, 0xc3, 0xd4],
    [0xd4, 0xc3, 0xb2, 0xa1],
    [0xa1, 0xb2, 0x3c, 0x4d],
    [0x4d, 0x3c, 0xb2, 0xa1],
];
/// The block type of a pcapng Section Header Block, the first four bytes of
/// a pcapng file (the same in both byte orders).
const PCAPNG_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];

/// The link-layer header types `tandemd decode` reads (the tcpdump.org
/// `LINKTYPE_*` registry).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkType {
    /// `LINKTYPE_ETHERNET` (1): Ethernet II, VLAN tags allowed.
    Ethernet,
    /// `LINKTYPE_LINUX_SLL` (113): Linux cooked capture, 16-byte header
    /// (`tcpdump -i any` before libpcap 1.10, or with `-y LINUX_SLL`).
    LinuxSll,
    /// `LINKTYPE_LINUX_SLL2` (276): Linux cooked capture v2, 20-byte header
    /// (`tcpdump -i any` with libpcap 1.10 and later).
    LinuxSll2,
    /// `LINKTYPE_RAW` (101): a bare IPv4 or IPv6 packet.
    Raw,
    /// `LINKTYPE_IPV4` (228): a bare IPv4 packet.
    Ipv4,
    /// `LINKTYPE_IPV6` (229): a bare IPv6 packet.
    Ipv6,
}

impl LinkType {
    /// The link type of a `LINKTYPE_*` code, or `None` for one this tool
    /// does not read. The FCS bits of a pcap header (26..=31) are ignored.
    pub fn from_code(code: u32) -> Option<LinkType> {
        match code & 0xffff {
            1 => Some(LinkType::Ethernet),
            113 => Some(LinkType::LinuxSll),
            276 => Some(LinkType::LinuxSll2),
            101 => Some(LinkType::Raw),
            228 => Some(LinkType::Ipv4),
            229 => Some(LinkType::Ipv6),
            _ => None,
        }
    }

    /// The `LINKTYPE_*` code.
    pub const fn code(self) -> u32 {
        match self {
            LinkType::Ethernet => 1,
            LinkType::LinuxSll => 113,
            LinkType::LinuxSll2 => 276,
            LinkType::Raw => 101,
            LinkType::Ipv4 => 228,
            LinkType::Ipv6 => 229,
        }
    }

    /// The registry name, without the `LINKTYPE_` prefix.
    pub const fn name(self) -> &'static str {
        match self {
            LinkType::Ethernet => "ETHERNET",
            LinkType::LinuxSll => "LINUX_SLL",
            LinkType::LinuxSll2 => "LINUX_SLL2",
            LinkType::Raw => "RAW",
            LinkType::Ipv4 => "IPV4",
            LinkType::Ipv6 => "IPV6",
        }
    }
}

impl fmt::Display for LinkType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.code())
    }
}

/// The two capture file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Classic libpcap format: one link type for the whole file.
    Pcap,
    /// pcapng: a link type per interface.
    PcapNg,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Pcap => "pcap",
            Format::PcapNg => "pcapng",
        })
    }
}

/// Why a capture file cannot be read (or read further).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaptureError {
    /// The file could not be opened or read, is not a regular file (a
    /// FIFO, a device), or is larger than [`MAX_CAPTURE_BYTES`].
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: FileError,
    },
    /// The file does not start with a pcap or pcapng magic number.
    #[error(
        "not a capture file: it starts with {}, not with a pcap (a1b2c3d4, a1b23c4d, either byte order) or pcapng (0a0d0d0a) magic number",
        hex_bytes(.magic)
    )]
    NotACapture {
        /// The first bytes of the file (up to 4).
        magic: Vec<u8>,
    },
    /// The file header of a pcap file, or the first section header of a
    /// pcapng file, is cut short or invalid.
    #[error("damaged {format} file header: {reason}")]
    BadHeader {
        /// The format the magic number announced.
        format: Format,
        /// What is wrong with it.
        reason: String,
    },
    /// The file ends inside a record (a packet record header or its data,
    /// or a pcapng block): the capture was cut short.
    #[error(
        "truncated {format} file: it ends inside the record after frame {after_frame} ({missing})"
    )]
    Truncated {
        /// The format.
        format: Format,
        /// The last complete frame (0 if none).
        after_frame: u64,
        /// Which record was cut.
        missing: &'static str,
    },
    /// A record after the file header is invalid.
    #[error("damaged {format} record after frame {after_frame}: {reason}")]
    BadRecord {
        /// The format.
        format: Format,
        /// The last complete frame (0 if none).
        after_frame: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// The file (pcap) or an interface (pcapng) has a link type this tool
    /// cannot find IP packets in.
    #[error(
        "unsupported link type {code}{}: tandemd decode reads ETHERNET (1), LINUX_SLL (113), LINUX_SLL2 (276), RAW (101), IPV4 (228) and IPV6 (229)",
        interface.map(|i| format!(" on pcapng interface {i}")).unwrap_or_default()
    )]
    UnknownLinkType {
        /// The `LINKTYPE_*` code.
        code: u32,
        /// The pcapng interface id, for pcapng files.
        interface: Option<u32>,
    },
    /// A pcapng packet names an interface that no Interface Description
    /// Block of its section declared.
    #[error("frame {frame} names pcapng interface {interface}, which the file never describes")]
    UnknownInterface {
        /// The frame number.
        frame: u64,
        /// The interface id in the packet block.
        interface: u32,
    },
}

fn hex_bytes(b: &[u8]) -> String {
    if b.is_empty() {
        return "nothing (the file is empty)".to_owned();
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// One frame of a capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame<'a> {
    /// 1-based frame number, as Wireshark shows it.
    pub number: u64,
    /// The link type of the frame.
    pub link_type: LinkType,
    /// The captured bytes (possibly fewer than were on the wire, if the
    /// capture had a snap length).
    pub data: Cow<'a, [u8]>,
}

/// A capture file read into memory.
#[derive(Debug, Clone)]
pub struct Capture {
    bytes: Vec<u8>,
    format: Format,
}

impl Capture {
    /// Reads the file at `path` (a regular file of at most
    /// [`MAX_CAPTURE_BYTES`]) and checks its magic number.
    pub fn read(path: &Path) -> Result<Capture, CaptureError> {
        let bytes = read_limited(path, MAX_CAPTURE_BYTES).map_err(|source| CaptureError::Io {
            path: path.to_owned(),
            source,
        })?;
        Capture::from_bytes(bytes)
    }

    /// A capture from bytes already in memory.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Capture, CaptureError> {
        let magic = bytes.get(..4).unwrap_or(&bytes);
        let format = if PCAP_MAGICS.iter().any(|m| m == magic) {
            Format::Pcap
        } else if magic == PCAPNG_MAGIC {
            Format::PcapNg
        } else {
            return Err(CaptureError::NotACapture {
                magic: magic.to_vec(),
            });
        };
        Ok(Capture { bytes, format })
    }

    /// The format told by the magic number.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The frames, in file order. The file header is checked here: a
    /// damaged header, or a pcap file of an unsupported link type, is an
    /// error before any frame.
    pub fn frames(&self) -> Result<Frames<'_>, CaptureError> {
        let src = &self.bytes[..];
        let inner = match self.format {
            Format::Pcap => {
                let (rest, parser) =
                    PcapParser::new(src).map_err(|e| header_error(Format::Pcap, e))?;
                let code = u32::from(parser.header().datalink);
                let link_type = LinkType::from_code(code).ok_or(CaptureError::UnknownLinkType {
                    code,
                    interface: None,
                })?;
                Inner::Pcap {
                    parser,
                    link_type,
                    rest,
                }
            }
            Format::PcapNg => {
                let (rest, parser) =
                    PcapNgParser::new(src).map_err(|e| header_error(Format::PcapNg, e))?;
                Inner::PcapNg { parser, rest }
            }
        };
        Ok(Frames {
            inner,
            number: 0,
            done: false,
        })
    }
}

fn header_error(format: Format, e: PcapError) -> CaptureError {
    let reason = match e {
        PcapError::IncompleteBuffer => "the file ends inside it".to_owned(),
        e => e.to_string(),
    };
    CaptureError::BadHeader { format, reason }
}

enum Inner<'a> {
    Pcap {
        parser: PcapParser,
        link_type: LinkType,
        rest: &'a [u8],
    },
    PcapNg {
        parser: PcapNgParser,
        rest: &'a [u8],
    },
}

/// An iterator over the frames of a [`Capture`]. After the first error it
/// returns `None`.
pub struct Frames<'a> {
    inner: Inner<'a>,
    number: u64,
    done: bool,
}

impl fmt::Debug for Frames<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Frames")
            .field("number", &self.number)
            .finish_non_exhaustive()
    }
}

impl<'a> Frames<'a> {
    fn record_error(&self, format: Format, e: PcapError, missing: &'static str) -> CaptureError {
        match e {
            PcapError::IncompleteBuffer => CaptureError::Truncated {
                format,
                after_frame: self.number,
                missing,
            },
            e => CaptureError::BadRecord {
                format,
                after_frame: self.number,
                reason: e.to_string(),
            },
        }
    }

    fn next_frame(&mut self) -> Option<Result<Frame<'a>, CaptureError>> {
        match &mut self.inner {
            Inner::Pcap {
                parser,
                link_type,
                rest,
            } => {
                if rest.is_empty() {
                    return None;
                }
                let link_type = *link_type;
                match parser.next_raw_packet(rest) {
                    Ok((r, packet)) => {
                        *rest = r;
                        self.number += 1;
                        Some(Ok(Frame {
                            number: self.number,
                            link_type,
                            data: packet.data,
                        }))
                    }
                    Err(e) => Some(Err(self.record_error(Format::Pcap, e, "a packet record"))),
                }
            }
            Inner::PcapNg { parser, rest } => loop {
                if rest.is_empty() {
                    return None;
                }
                let (r, block) = match parser.next_block(rest) {
                    Ok(x) => x,
                    Err(e) => {
                        let e = self.record_error(Format::PcapNg, e, "a pcapng block");
                        return Some(Err(e));
                    }
                };
                *rest = r;
                let (interface, data) = match block {
                    Block::EnhancedPacket(b) => (b.interface_id, b.data),
                    Block::Packet(b) => (u32::from(b.interface_id), b.data),
                    // A Simple Packet Block belongs to the first interface.
                    Block::SimplePacket(b) => (0, b.data),
                    _ => continue,
                };
                self.number += 1;
                let Some(idb) = parser.interfaces().get(interface as usize) else {
                    return Some(Err(CaptureError::UnknownInterface {
                        frame: self.number,
                        interface,
                    }));
                };
                let code = u32::from(idb.linktype);
                let Some(link_type) = LinkType::from_code(code) else {
                    return Some(Err(CaptureError::UnknownLinkType {
                        code,
                        interface: Some(interface),
                    }));
                };
                return Some(Ok(Frame {
                    number: self.number,
                    link_type,
                    data,
                }));
            },
        }
    }
}

impl<'a> Iterator for Frames<'a> {
    type Item = Result<Frame<'a>, CaptureError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let item = self.next_frame();
        if !matches!(item, Some(Ok(_))) {
            self.done = true;
        }
        item
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A little-endian pcap file header for `link_type`.
    fn pcap_header(link_type: u32) -> Vec<u8> {
        let mut h = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
        h.extend_from_slice(&[0; 8]);
        h.extend_from_slice(&65535u32.to_le_bytes());
        h.extend_from_slice(&link_type.to_le_bytes());
        h
    }

    fn record(data: &[u8]) -> Vec<u8> {
        let mut r = vec![0; 8];
        r.extend_from_slice(&(data.len() as u32).to_le_bytes());
        r.extend_from_slice(&(data.len() as u32).to_le_bytes());
        r.extend_from_slice(data);
        r
    }

    #[test]
    fn pcap_frames_are_numbered_from_one() {
        let mut f = pcap_header(101);
        f.extend(record(&[0x45; 3]));
        f.extend(record(&[0x60; 5]));
        let c = Capture::from_bytes(f).unwrap();
        assert_eq!(c.format(), Format::Pcap);
        let frames: Vec<_> = c.frames().unwrap().map(Result::unwrap).collect();
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[0].number, 1);
        assert_eq!(frames[1].number, 2);
        assert_eq!(frames[1].link_type, LinkType::Raw);
        assert_eq!(&frames[1].data[..], &[0x60; 5]);
    }

    #[test]
    fn garbage_is_not_a_capture() {
        let e = Capture::from_bytes(b"GARBAGE!".to_vec()).unwrap_err();
        assert!(matches!(e, CaptureError::NotACapture { .. }), "{e}");
        assert!(e.to_string().contains("47415242"), "{e}");
        let e = Capture::from_bytes(Vec::new()).unwrap_err();
        assert!(e.to_string().contains("empty"), "{e}");
    }

    #[test]
    fn unknown_link_type_is_named() {
        let c = Capture::from_bytes(pcap_header(105)).unwrap();
        let e = c.frames().unwrap_err();
        assert!(matches!(
            e,
            CaptureError::UnknownLinkType {
                code: 105,
                interface: None
            }
        ));
        assert!(e.to_string().contains("105"), "{e}");
    }

    #[test]
    fn truncation_is_reported_after_the_last_whole_frame() {
        let mut f = pcap_header(1);
        f.extend(record(&[0u8; 60]));
        f.extend(record(&[0u8; 60]));
        f.truncate(f.len() - 10);
        let c = Capture::from_bytes(f).unwrap();
        let mut frames = c.frames().unwrap();
        assert!(frames.next().unwrap().is_ok());
        let e = frames.next().unwrap().unwrap_err();
        assert!(
            matches!(e, CaptureError::Truncated { after_frame: 1, .. }),
            "{e}"
        );
        assert!(frames.next().is_none());
        // A file header cut short.
        let c = Capture::from_bytes(pcap_header(1)[..10].to_vec()).unwrap();
        assert!(matches!(
            c.frames().unwrap_err(),
            CaptureError::BadHeader { .. }
        ));
    }

    #[test]
    fn every_prefix_and_bit_flip_of_a_file_gives_frames_or_an_error() {
        let mut f = pcap_header(1);
        f.extend(record(&[0x11; 40]));
        f.extend(record(&[0x22; 70]));
        for n in 0..f.len() {
            if let Ok(c) = Capture::from_bytes(f[..n].to_vec()) {
                if let Ok(frames) = c.frames() {
                    frames.for_each(drop);
                }
            }
            let mut g = f.clone();
            g[n] ^= 0xff;
            if let Ok(c) = Capture::from_bytes(g) {
                if let Ok(frames) = c.frames() {
                    frames.for_each(drop);
                }
            }
        }
    }
}
