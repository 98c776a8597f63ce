//! The encrypted channel: Noise `NNpsk0_25519_ChaChaPoly_SHA256` through
//! `snow`, a pre-shared key from the key file, and the u16-length framing
//! on TCP.
//!
//! - The key file (`tandemd sync keygen`) holds 32 random bytes as hex on
//!   the line after a `tandem-sync-key v1` header ([`Key::parse_file`],
//!   [`Key::to_file`]).
//! - The Noise PSK is HKDF-SHA256(ikm = key, salt = none, info =
//!   `"tandem-sync psk v1" ‖ cluster id`), so one key file serves several
//!   clusters without one accepting another's traffic.
//! - The prologue is `"tandem-sync" ‖ u8 protocol major ‖ str(cluster id)`:
//!   a peer of another cluster or major version fails the handshake MAC.
//! - On TCP every Noise message goes as u16 big-endian length + message;
//!   [`Deframer`] cuts a byte stream into messages and refuses a length
//!   of 0 or above 65,535 before it buffers it.
//!
//! Handshake: the connecting side writes message 1 (`psk, e`), the
//! listening side reads it and writes message 2 (`e, ee`); both are then in
//! transport mode. A wrong key or cluster id fails the responder's read of
//! message 1 ([`ChannelError::Handshake`]), a tampered message 2 the
//! initiator's. In transport mode a replayed, reordered or altered message
//! fails its AEAD tag under the implicit nonce ([`ChannelError::Decrypt`]):
//! the session closes and nothing it carried is used.

/// The protocol major version the prologue binds.
pub const PROTO_MAJOR: u8 = 1;

/// The Noise pattern.
pub const NOISE_PATTERN: &str = "Noise_NNpsk0_25519_ChaChaPoly_SHA256";

/// The largest Noise message.
pub const MAX_MESSAGE: usize = 65_535;

/// The operator's 32-byte key.
#[derive(Clone, PartialEq, Eq)]
pub struct Key([u8; 32]);

/// Never prints the key.
impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(..)")
    }
}

/// Why a key file is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The first line is not `tandem-sync-key v1`.
    #[error("not a tandem-sync key file: the first line must be \"tandem-sync-key v1\"")]
    Header,
    /// The key line is not 64 hex digits.
    #[error(
        "the key line must be 64 hex digits (32 bytes); run `tandemd sync keygen` for a new one"
    )]
    Hex,
}

impl Key {
    /// A key from its bytes (tests, embedders with their own key store).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Key(bytes)
    }

    /// A new random key from the operating system's generator.
    pub fn generate() -> Result<Self, ChannelError> {
        todo!()
    }

    /// Reads a key file's text.
    pub fn parse_file(text: &str) -> Result<Self, KeyError> {
        let _ = text;
        todo!()
    }

    /// The key file's text.
    pub fn to_file(&self) -> String {
        todo!()
    }

    /// The Noise PSK for `cluster`.
    pub fn psk(&self, cluster: &str) -> [u8; 32] {
        let _ = cluster;
        todo!()
    }
}

/// Why the channel failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChannelError {
    /// The handshake failed: wrong key, wrong cluster id, another major
    /// version, or a tampered handshake message.
    #[error(
        "handshake failed (wrong key, wrong cluster id, another protocol major, or tampered): {0}"
    )]
    Handshake(String),
    /// A transport message failed authentication: altered, replayed or
    /// reordered.
    #[error("a message failed authentication (altered, replayed or reordered)")]
    Decrypt,
    /// A length prefix of 0 (messages are never empty).
    #[error("a message length of 0")]
    EmptyMessage,
    /// A message over [`MAX_MESSAGE`] was to be sent.
    #[error("message of {0} bytes is over the Noise limit of 65,535")]
    TooLarge(usize),
    /// Data before the handshake finished, or a handshake message after.
    #[error("unexpected message: {0}")]
    Unexpected(&'static str),
    /// The OS random generator failed.
    #[error("no randomness: {0}")]
    Random(String),
}

/// Which end of the TCP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Connected out: writes handshake message 1.
    Initiator,
    /// Accepted: reads message 1.
    Responder,
}

/// One connection's Noise state: handshake, then transport.
pub struct Channel {
    _private: (),
}

impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channel")
            .field("ready", &self.is_ready())
            .finish()
    }
}

impl Channel {
    /// Starts a channel. An initiator's first message is ready at once:
    /// take it with [`Channel::take_output`].
    pub fn new(side: Side, key: &Key, cluster: &str) -> Result<Self, ChannelError> {
        let _ = (side, key, cluster);
        todo!()
    }

    /// Whether the handshake is done (frames can be sent).
    pub fn is_ready(&self) -> bool {
        todo!()
    }

    /// Feeds bytes read from TCP. Returns the frames (plaintexts) they
    /// completed, in order; handshake messages produce none but may queue
    /// output. After an error the channel is dead.
    pub fn receive(&mut self, bytes: &[u8]) -> Result<Vec<Vec<u8>>, ChannelError> {
        let _ = bytes;
        todo!()
    }

    /// Encrypts one frame (at most [`crate::frame::MAX_FRAME`] bytes) and
    /// queues it, length-prefixed, for TCP.
    pub fn send(&mut self, frame: &[u8]) -> Result<(), ChannelError> {
        let _ = frame;
        todo!()
    }

    /// Bytes to write to TCP, in order (empty when none).
    pub fn take_output(&mut self) -> Vec<u8> {
        todo!()
    }
}

/// Cuts a TCP byte stream into u16-length-prefixed messages.
#[derive(Debug, Default)]
pub struct Deframer {
    buf: Vec<u8>,
}

impl Deframer {
    /// An empty deframer.
    pub fn new() -> Self {
        Deframer::default()
    }

    /// Appends bytes read from TCP.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next whole message, if one is buffered. A zero length is an
    /// error. Never buffers more than one message plus what was pushed.
    pub fn next_message(&mut self) -> Option<Result<Vec<u8>, ChannelError>> {
        todo!()
    }
}
