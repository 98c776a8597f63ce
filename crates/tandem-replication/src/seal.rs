//! Keys and per-frame sealing: every frame is sealed with
//! XChaCha20-Poly1305 (the header as associated data), with a key per
//! sending node derived by HKDF-SHA256 from the pair's pre-shared key and
//! the cluster id; two keys may be live at once (current and next) for a
//! hitless rotation, told apart by the header's key id. A sliding window
//! per (node, stream, boot id) refuses replayed frames.

use chacha20poly1305::aead::AeadInPlace;
use chacha20poly1305::{KeyInit, Tag, XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use sha2::Sha256;

use crate::persist::KeyHasher;
use crate::wire::{flags, DecodeError, Header, HEADER_LEN, TAG_LEN};

/// The first line of a key file.
pub const KEY_FILE_HEADER: &str = "tandem-replication-key v1";

/// HKDF salt prefix (the cluster id follows, big-endian).
const SALT: &[u8] = b"tandem-replication v1";

/// The pre-shared key: 32 bytes, from a key file.
#[derive(Clone, PartialEq, Eq)]
pub struct Psk(pub [u8; 32]);

impl std::fmt::Debug for Psk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Psk(..)")
    }
}

impl Psk {
    /// A key from its 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Psk {
        Psk(bytes)
    }

    /// A key file's key: the first line `tandem-replication-key v1`, the
    /// second 64 hex digits (either case); surrounding whitespace and
    /// empty lines after it are ignored.
    pub fn parse(text: &str) -> Result<Psk, KeyError> {
        let mut lines = text.lines();
        if lines.next().map(str::trim) != Some(KEY_FILE_HEADER) {
            return Err(KeyError::BadHeader {
                expected: KEY_FILE_HEADER,
            });
        }
        let hex = lines.next().map(str::trim).ok_or(KeyError::BadKey)?;
        if lines.any(|l| !l.trim().is_empty()) || hex.len() != 64 {
            return Err(KeyError::BadKey);
        }
        let digit = |c: u8| char::from(c).to_digit(16).map(|d| d as u8);
        let mut key = [0u8; 32];
        for (k, pair) in key.iter_mut().zip(hex.as_bytes().chunks_exact(2)) {
            let (Some(hi), Some(lo)) = (digit(pair[0]), digit(pair[1])) else {
                return Err(KeyError::BadKey);
            };
            *k = hi << 4 | lo;
        }
        Ok(Psk(key))
    }

    /// The key file's text (what [`Psk::parse`] reads), lower-case hex.
    pub fn to_text(&self) -> String {
        let mut s = String::with_capacity(KEY_FILE_HEADER.len() + 66);
        s.push_str(KEY_FILE_HEADER);
        s.push('\n');
        for b in self.0 {
            s.push_str(&format!("{b:02x}"));
        }
        s.push('\n');
        s
    }

    /// The key's id: the low byte of a fingerprint derived from the key
    /// alone (HKDF-SHA256, no salt but the format's, info `key id`), so
    /// both units name a key file alike without numbering it.
    pub fn key_id(&self) -> u8 {
        let mut fp = [0u8; 8];
        expand(SALT, &self.0, &[b"key id"], &mut fp);
        fp[7]
    }
}

/// HKDF-SHA256 extract and expand to `out` (at most 8,160 bytes: always
/// within for the 8 to 32 bytes asked here).
fn expand(salt: &[u8], ikm: &[u8], info: &[&[u8]], out: &mut [u8]) {
    let hk = Hkdf::<Sha256>::new(Some(salt), ikm);
    // Only an output longer than 255 hash lengths fails.
    let expanded = hk.expand_multi_info(info, out);
    debug_assert!(expanded.is_ok());
}

/// Why a key file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Not the key file format.
    #[error("not a replication key file: the first line must be `{expected}`")]
    BadHeader {
        /// The expected first line.
        expected: &'static str,
    },
    /// The key line is not 64 hex digits.
    #[error("the key must be 64 hex digits on the second line")]
    BadKey,
    /// Current and next key have the same key id.
    #[error("the current and next keys share key id {id}: generate another next key")]
    KeyIdClash {
        /// The id.
        id: u8,
    },
}

/// Why a datagram was not opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// Malformed.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// Another pair's frame.
    #[error("cluster id {found} is not this pair's ({expected})")]
    WrongCluster {
        /// Found.
        found: u16,
        /// Expected.
        expected: u16,
    },
    /// Sealed with a key this unit does not have.
    #[error(
        "key id {key_id} is neither the current nor the next key: check both units' key files"
    )]
    UnknownKey {
        /// The header's key id.
        key_id: u8,
    },
    /// Authentication failed: forged, altered, or another key.
    #[error("authentication failed (altered frame, or a different key with the same key id)")]
    BadTag,
}

/// The keys derived from one pre-shared key for one cluster.
#[derive(Clone)]
struct Keys {
    id: u8,
    /// Per sending node id, its frame key.
    frame: Vec<[u8; 32]>,
    hash: [u8; 16],
    digest: [u8; 16],
}

impl Keys {
    fn derive(cluster: u16, psk: &Psk) -> Keys {
        let mut salt = SALT.to_vec();
        salt.extend_from_slice(&cluster.to_be_bytes());
        let hk = Hkdf::<Sha256>::new(Some(&salt), &psk.0);
        let okm = |info: &[&[u8]], out: &mut [u8]| {
            let expanded = hk.expand_multi_info(info, out);
            debug_assert!(expanded.is_ok());
        };
        let frame = (0..=255u8)
            .map(|node| {
                let mut k = [0u8; 32];
                okm(&[b"frame key", &[node]], &mut k);
                k
            })
            .collect();
        let (mut hash, mut digest) = ([0u8; 16], [0u8; 16]);
        okm(&[b"persistence hash key"], &mut hash);
        okm(&[b"shard digest key"], &mut digest);
        Keys {
            id: psk.key_id(),
            frame,
            hash,
            digest,
        }
    }

    fn cipher(&self, node: u8) -> XChaCha20Poly1305 {
        let key = self
            .frame
            .get(usize::from(node))
            .copied()
            .unwrap_or([0; 32]);
        XChaCha20Poly1305::new(&key.into())
    }
}

/// The nonce of a frame: boot id, sequence number, cluster, node, stream,
/// four zero bytes.
fn nonce(h: &Header) -> XNonce {
    let mut n = [0u8; 24];
    n[0..8].copy_from_slice(&h.boot.to_be_bytes());
    n[8..16].copy_from_slice(&h.seq.to_be_bytes());
    n[16..18].copy_from_slice(&h.cluster.to_be_bytes());
    n[18] = h.node;
    n[19] = h.stream;
    n.into()
}

/// The key ring of one unit: the current key (which seals) and the next
/// key (accepted too), each derived per cluster.
#[derive(Clone)]
pub struct KeyRing {
    cluster: u16,
    current: Keys,
    next: Option<Keys>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("cluster", &self.cluster)
            .field("current", &self.current.id)
            .field("next", &self.next.as_ref().map(|k| k.id))
            .finish()
    }
}

impl KeyRing {
    /// The ring of `cluster` with a current and optionally a next key.
    ///
    /// Rotation: give both units the new key as `next`, then make it
    /// `current` on each unit (frames sealed with either are opened
    /// meanwhile), then drop the old one.
    pub fn new(cluster: u16, current: &Psk, next: Option<&Psk>) -> Result<KeyRing, KeyError> {
        let current = Keys::derive(cluster, current);
        let next = next.map(|n| Keys::derive(cluster, n));
        if let Some(n) = &next {
            if n.id == current.id {
                return Err(KeyError::KeyIdClash { id: n.id });
            }
        }
        Ok(KeyRing {
            cluster,
            current,
            next,
        })
    }

    /// The cluster id.
    pub fn cluster(&self) -> u16 {
        self.cluster
    }

    /// The key id frames are sealed with.
    pub fn key_id(&self) -> u8 {
        self.current.id
    }

    /// The next key's id, if there is one.
    pub fn next_key_id(&self) -> Option<u8> {
        self.next.as_ref().map(|k| k.id)
    }

    /// Seals a frame: `header` (its `payload_len`, `key_id` and the
    /// ENCRYPTED flag are set here) and the encoded payload.
    ///
    /// # Panics
    ///
    /// If the payload is longer than 65,535 bytes (the header's length
    /// field): a caller's bug, as [`FrameBuilder`](crate::wire::FrameBuilder)
    /// never makes one.
    pub fn seal(&self, header: Header, payload: &[u8]) -> Vec<u8> {
        let payload_len = u16::try_from(payload.len())
            .unwrap_or_else(|_| panic!("payload of {} bytes exceeds 65,535", payload.len()));
        let header = Header {
            payload_len,
            key_id: self.current.id,
            flags: header.flags | flags::ENCRYPTED,
            ..header
        };
        let aad = header.emit();
        let mut out = Vec::with_capacity(HEADER_LEN + payload.len() + TAG_LEN);
        out.extend_from_slice(&aad);
        out.extend_from_slice(payload);
        let cipher = self.current.cipher(header.node);
        let sealed = out
            .get_mut(HEADER_LEN..)
            .map(|body| cipher.encrypt_in_place_detached(&nonce(&header), &aad, body));
        match sealed {
            Some(Ok(tag)) => out.extend_from_slice(&tag),
            // Only a payload beyond 256 GiB fails.
            _ => unreachable!("a frame of at most 65,535 bytes always seals"),
        }
        out
    }

    /// Opens a datagram: its header and decrypted payload. No replay check
    /// (see [`ReplayWindow`]).
    ///
    /// The header (magic, version, length), then the cluster, then the key
    /// id are checked before any cryptography; the tag authenticates the
    /// header and the payload (the sender's key is the one of the header's
    /// node id).
    pub fn open(&self, datagram: &[u8]) -> Result<(Header, Vec<u8>), OpenError> {
        let header = Header::parse(datagram)?;
        if header.cluster != self.cluster {
            return Err(OpenError::WrongCluster {
                found: header.cluster,
                expected: self.cluster,
            });
        }
        let keys = if header.key_id == self.current.id {
            &self.current
        } else {
            match &self.next {
                Some(n) if n.id == header.key_id => n,
                _ => {
                    return Err(OpenError::UnknownKey {
                        key_id: header.key_id,
                    })
                }
            }
        };
        let end = HEADER_LEN + usize::from(header.payload_len);
        let (Some(aad), Some(body), Some(tag)) = (
            datagram.get(..HEADER_LEN),
            datagram.get(HEADER_LEN..end),
            datagram.get(end..),
        ) else {
            return Err(OpenError::BadTag);
        };
        let tag = Tag::from_slice(tag);
        let mut payload = body.to_vec();
        keys.cipher(header.node)
            .decrypt_in_place_detached(&nonce(&header), aad, &mut payload, tag)
            .map_err(|_| OpenError::BadTag)?;
        Ok((header, payload))
    }

    /// The keyed hash of persistence keys (same on both units; from the
    /// current key).
    pub fn hasher(&self) -> KeyHasher {
        KeyHasher::new(self.current.hash)
    }

    /// The 128-bit key of the shard digests (same on both units; from the
    /// current key).
    pub fn digest_key(&self) -> [u8; 16] {
        self.current.digest
    }
}

/// The replay window of one (node, stream, boot id): the highest sequence
/// number accepted and which of the 1,024 before it were.
#[derive(Debug, Clone, Default)]
pub struct ReplayWindow {
    highest: u64,
    /// Bit i (word i / 64, bit i % 64): `highest - i` was accepted.
    seen: [u64; 16],
}

impl ReplayWindow {
    /// Frames behind the highest that are still told apart.
    pub const SIZE: u64 = 1024;

    /// An empty window.
    pub fn new() -> ReplayWindow {
        ReplayWindow::default()
    }

    /// `seq` was not accepted before and is not too old (sequence number
    /// 0 never is: numbers start at 1).
    pub fn is_fresh(&self, seq: u64) -> bool {
        if seq == 0 {
            return false;
        }
        if seq > self.highest {
            return true;
        }
        let back = self.highest - seq;
        back < Self::SIZE && !self.bit(back)
    }

    /// Records `seq` as accepted (after its tag was verified).
    pub fn accept(&mut self, seq: u64) {
        if seq == 0 {
            return;
        }
        if seq > self.highest {
            self.shift(seq - self.highest);
            self.highest = seq;
            self.seen[0] |= 1;
        } else if self.highest - seq < Self::SIZE {
            let back = self.highest - seq;
            self.seen[(back / 64) as usize] |= 1 << (back % 64);
        }
    }

    /// The highest accepted (0: none).
    pub fn highest(&self) -> u64 {
        self.highest
    }

    fn bit(&self, back: u64) -> bool {
        self.seen
            .get((back / 64) as usize)
            .is_some_and(|w| w & (1 << (back % 64)) != 0)
    }

    /// Ages every bit by `by` frames.
    fn shift(&mut self, by: u64) {
        if by >= Self::SIZE {
            self.seen = [0; 16];
            return;
        }
        let (words, bits) = ((by / 64) as usize, (by % 64) as u32);
        let old = self.seen;
        for (i, w) in self.seen.iter_mut().enumerate() {
            let lo = i
                .checked_sub(words)
                .and_then(|j| old.get(j))
                .copied()
                .unwrap_or(0);
            let below = i
                .checked_sub(words + 1)
                .and_then(|j| old.get(j))
                .copied()
                .unwrap_or(0);
            *w = if bits == 0 {
                lo
            } else {
                (lo << bits) | (below >> (64 - bits))
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn psk(b: u8) -> Psk {
        Psk([b; 32])
    }

    fn header() -> Header {
        Header {
            minor: 0,
            flags: flags::ACK_REQUESTED,
            payload_len: 0,
            cluster: 7,
            node: 1,
            stream: 2,
            key_id: 0,
            boot: 0x0102_0304_0506_0708,
            seq: 5,
        }
    }

    #[test]
    fn seals_and_opens() {
        let ring = KeyRing::new(7, &psk(1), None).unwrap();
        let d = ring.seal(header(), b"payload");
        assert_eq!(d.len(), HEADER_LEN + 7 + TAG_LEN);
        let (h, p) = ring.open(&d).unwrap();
        assert_eq!(p, b"payload");
        assert_eq!(h.payload_len, 7);
        assert_eq!(h.key_id, psk(1).key_id());
        assert_eq!(h.flags, flags::ACK_REQUESTED | flags::ENCRYPTED);
        // The payload is not in clear.
        assert_ne!(&d[HEADER_LEN..HEADER_LEN + 7], b"payload");
    }

    #[test]
    fn key_file_round_trips_and_refuses() {
        let k = Psk::from_bytes(core::array::from_fn(|i| i as u8 * 7));
        let text = k.to_text();
        assert!(text.starts_with("tandem-replication-key v1\n"));
        assert_eq!(Psk::parse(&text), Ok(k.clone()));
        assert_eq!(
            Psk::parse(
                &text
                    .to_uppercase()
                    .replace("TANDEM-REPLICATION-KEY V1", KEY_FILE_HEADER)
            ),
            Ok(k)
        );
        assert_eq!(
            Psk::parse("tandem-key v1\n00\n"),
            Err(KeyError::BadHeader {
                expected: KEY_FILE_HEADER
            })
        );
        assert_eq!(
            Psk::parse("tandem-replication-key v1\n0011\n"),
            Err(KeyError::BadKey)
        );
        let bad = format!("{KEY_FILE_HEADER}\n{}\n", "g".repeat(64));
        assert_eq!(Psk::parse(&bad), Err(KeyError::BadKey));
        let extra = format!("{}junk\n", psk(3).to_text());
        assert_eq!(Psk::parse(&extra), Err(KeyError::BadKey));
        assert_eq!(
            Psk::parse(""),
            Err(KeyError::BadHeader {
                expected: KEY_FILE_HEADER
            })
        );
    }

    #[test]
    fn replay_window_slides() {
        let mut w = ReplayWindow::new();
        assert!(!w.is_fresh(0));
        assert!(w.is_fresh(1));
        w.accept(1);
        assert!(!w.is_fresh(1));
        w.accept(100);
        assert_eq!(w.highest(), 100);
        assert!(!w.is_fresh(1) && !w.is_fresh(100));
        assert!(w.is_fresh(2) && w.is_fresh(99) && w.is_fresh(101));
        w.accept(50);
        assert!(!w.is_fresh(50));
        // 1,024 frames behind the highest: too old.
        w.accept(1100);
        assert!(!w.is_fresh(76), "1100 - 76 = 1024");
        assert!(w.is_fresh(77));
        assert!(!w.is_fresh(100), "still remembered 1000 back");
        w.accept(1100 + 63);
        w.accept(1100 + 64 + 65);
        // Shifted by 65 then 66 bits: across words, bits kept.
        assert!(!w.is_fresh(1100) && !w.is_fresh(1163) && !w.is_fresh(1229));
        assert!(w.is_fresh(229) && w.is_fresh(1164));
        assert!(w.is_fresh(1101));
        w.accept(u64::MAX);
        assert!(!w.is_fresh(1100) && !w.is_fresh(u64::MAX));
        assert!(w.is_fresh(u64::MAX - 1));
    }
}
