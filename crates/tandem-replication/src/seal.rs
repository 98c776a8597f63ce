//! Keys and per-frame sealing: every frame is sealed with
//! XChaCha20-Poly1305 (the header as associated data), with a key per
//! sending node derived by HKDF-SHA256 from the pair's pre-shared key and
//! the cluster id; two keys may be live at once (current and next) for a
//! hitless rotation, told apart by the header's key id. A sliding window
//! per (node, stream, boot id) refuses replayed frames.

use crate::persist::KeyHasher;
use crate::wire::{DecodeError, Header};

/// The pre-shared key: 32 bytes, from a key file.
#[derive(Clone, PartialEq, Eq)]
pub struct Psk(pub [u8; 32]);

impl std::fmt::Debug for Psk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Psk(..)")
    }
}

impl Psk {
    /// The key file's text.
    pub fn to_text(&self) -> String {
        todo!("seal: Psk::to_text")
    }

    /// The key of a key file's text.
    pub fn parse(text: &str) -> Result<Psk, KeyError> {
        let _ = text;
        todo!("seal: Psk::parse")
    }
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

/// The key ring of one unit: the current key (which seals) and the next
/// key (accepted too), each derived per cluster.
#[derive(Clone)]
pub struct KeyRing {
    _private: (),
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyRing(..)")
    }
}

impl KeyRing {
    /// The ring of `cluster` with a current and optionally a next key.
    pub fn new(cluster: u16, current: &Psk, next: Option<&Psk>) -> Result<KeyRing, KeyError> {
        let _ = (cluster, current, next);
        todo!("seal: KeyRing::new")
    }

    /// The key id frames are sealed with.
    pub fn key_id(&self) -> u8 {
        todo!("seal: key_id")
    }

    /// Seals a frame: `header` (its `payload_len`, `key_id` and the
    /// ENCRYPTED flag are set here) and the encoded payload.
    pub fn seal(&self, header: Header, payload: &[u8]) -> Vec<u8> {
        let _ = (header, payload);
        todo!("seal: seal")
    }

    /// Opens a datagram: its header and decrypted payload. No replay check
    /// (see [`ReplayWindow`]).
    pub fn open(&self, datagram: &[u8]) -> Result<(Header, Vec<u8>), OpenError> {
        let _ = datagram;
        todo!("seal: open")
    }

    /// The keyed hash of persistence keys (same on both units).
    pub fn hasher(&self) -> KeyHasher {
        todo!("seal: hasher")
    }

    /// The 128-bit key of the shard digests (same on both units).
    pub fn digest_key(&self) -> [u8; 16] {
        todo!("seal: digest_key")
    }
}

/// The replay window of one (node, stream, boot id): the highest sequence
/// number accepted and which of the 1,024 before it were.
#[derive(Debug, Clone, Default)]
pub struct ReplayWindow {
    _private: (),
}

impl ReplayWindow {
    /// Frames behind the highest that are still told apart.
    pub const SIZE: u64 = 1024;

    /// An empty window.
    pub fn new() -> ReplayWindow {
        ReplayWindow::default()
    }

    /// `seq` was not accepted before and is not too old.
    pub fn is_fresh(&self, seq: u64) -> bool {
        let _ = seq;
        todo!("seal: ReplayWindow::is_fresh")
    }

    /// Records `seq` as accepted (after its tag was verified).
    pub fn accept(&mut self, seq: u64) {
        let _ = seq;
        todo!("seal: ReplayWindow::accept")
    }

    /// The highest accepted (0: none).
    pub fn highest(&self) -> u64 {
        todo!("seal: ReplayWindow::highest")
    }
}
