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

use hkdf::Hkdf;
use sha2::Sha256;
use snow::resolvers::{CryptoResolver, DefaultResolver};

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
    /// Text after the key line.
    #[error("the key file must hold only the header line and the key line")]
    Trailing,
}

/// The key file's first line.
const KEY_HEADER: &str = "tandem-sync-key v1";

/// The HKDF info's prefix (the cluster id follows).
const PSK_INFO: &[u8] = b"tandem-sync psk v1";

/// The prologue's prefix (the major version and the cluster id follow).
const PROLOGUE: &[u8] = b"tandem-sync";

/// The AEAD tag every Noise message of this pattern carries.
const TAG_LEN: usize = 16;

impl Key {
    /// A key from its bytes (tests, embedders with their own key store).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Key(bytes)
    }

    /// A new random key from the operating system's generator.
    pub fn generate() -> Result<Self, ChannelError> {
        let mut rng = DefaultResolver
            .resolve_rng()
            .ok_or_else(|| ChannelError::Random("no random generator is built in".into()))?;
        let mut key = [0u8; 32];
        rng.try_fill_bytes(&mut key)
            .map_err(|e| ChannelError::Random(e.to_string()))?;
        Ok(Key(key))
    }

    /// Reads a key file's text: the header line `tandem-sync-key v1`, then
    /// 64 hex digits (either case). Whitespace around each line and blank
    /// lines before, between and after are ignored; anything else after
    /// the key line is refused.
    pub fn parse_file(text: &str) -> Result<Self, KeyError> {
        let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
        if lines.next() != Some(KEY_HEADER) {
            return Err(KeyError::Header);
        }
        let hex = lines.next().ok_or(KeyError::Hex)?.as_bytes();
        if lines.next().is_some() {
            return Err(KeyError::Trailing);
        }
        if hex.len() != 64 {
            return Err(KeyError::Hex);
        }
        let mut key = [0u8; 32];
        for (byte, pair) in key.iter_mut().zip(hex.chunks_exact(2)) {
            let digit = |c: u8| (c as char).to_digit(16).ok_or(KeyError::Hex);
            *byte = (digit(pair[0])? * 16 + digit(pair[1])?) as u8;
        }
        Ok(Key(key))
    }

    /// The key file's text: the header line, the key as 64 lower-case hex
    /// digits, each ended by a newline.
    pub fn to_file(&self) -> String {
        let hex: String = self.0.iter().map(|b| format!("{b:02x}")).collect();
        format!("{KEY_HEADER}\n{hex}\n")
    }

    /// The Noise PSK for `cluster`: HKDF-SHA256 of the key, no salt, info
    /// `"tandem-sync psk v1" ‖ cluster id`.
    pub fn psk(&self, cluster: &str) -> [u8; 32] {
        let mut info = Vec::with_capacity(PSK_INFO.len() + cluster.len());
        info.extend_from_slice(PSK_INFO);
        info.extend_from_slice(cluster.as_bytes());
        let mut psk = [0u8; 32];
        Hkdf::<Sha256>::new(None, &self.0)
            .expand(&info, &mut psk)
            .expect("32 bytes is within HKDF-SHA256's output limit");
        psk
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
    state: State,
    deframer: Deframer,
    out: Vec<u8>,
}

enum State {
    Handshake(Box<snow::HandshakeState>),
    Transport(Box<snow::TransportState>),
    /// Failed: every later call returns this error.
    Dead(ChannelError),
}

/// The prologue both sides bind: `"tandem-sync" ‖ u8 major ‖ str(cluster)`.
fn prologue(cluster: &str) -> Vec<u8> {
    let mut p = Vec::with_capacity(PROLOGUE.len() + 5 + cluster.len());
    p.extend_from_slice(PROLOGUE);
    p.push(PROTO_MAJOR);
    crate::value::encode_str(cluster, &mut p);
    p
}

fn handshake_error(e: snow::Error) -> ChannelError {
    ChannelError::Handshake(e.to_string())
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
        let params = NOISE_PATTERN.parse().map_err(handshake_error)?;
        let psk = key.psk(cluster);
        let prologue = prologue(cluster);
        let builder = snow::Builder::new(params)
            .psk(0, &psk)
            .and_then(|b| b.prologue(&prologue))
            .map_err(handshake_error)?;
        let hs = match side {
            Side::Initiator => builder.build_initiator(),
            Side::Responder => builder.build_responder(),
        }
        .map_err(handshake_error)?;
        let mut channel = Channel {
            state: State::Handshake(Box::new(hs)),
            deframer: Deframer::new(),
            out: Vec::new(),
        };
        if side == Side::Initiator {
            channel.write_handshake()?;
        }
        Ok(channel)
    }

    /// Whether the handshake is done (frames can be sent).
    pub fn is_ready(&self) -> bool {
        matches!(self.state, State::Transport(_))
    }

    /// Whether an error ended the channel (every later call returns it).
    pub fn is_dead(&self) -> bool {
        matches!(self.state, State::Dead(_))
    }

    /// Feeds bytes read from TCP. Returns the frames (plaintexts) they
    /// completed, in order; handshake messages produce none but may queue
    /// output. After an error the channel is dead: this and every later
    /// call return the error, and the frames decrypted before it in the
    /// same call are not returned.
    pub fn receive(&mut self, bytes: &[u8]) -> Result<Vec<Vec<u8>>, ChannelError> {
        if let State::Dead(e) = &self.state {
            return Err(e.clone());
        }
        self.deframer.push(bytes);
        let mut frames = Vec::new();
        while let Some(message) = self.deframer.next_message() {
            let step = message.and_then(|m| self.read(&m));
            match step {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => {}
                Err(e) => return Err(self.kill(e)),
            }
        }
        Ok(frames)
    }

    /// Encrypts one frame (at most [`crate::frame::MAX_FRAME`] bytes) and
    /// queues it, length-prefixed, for TCP. A frame too large, or one sent
    /// before the handshake is done, is refused and changes nothing; a
    /// failure of the cipher itself ends the channel.
    pub fn send(&mut self, frame: &[u8]) -> Result<(), ChannelError> {
        let transport = match &mut self.state {
            State::Dead(e) => return Err(e.clone()),
            State::Handshake(_) => {
                return Err(ChannelError::Unexpected(
                    "a frame to send before the handshake finished",
                ))
            }
            State::Transport(t) => t,
        };
        let len = frame.len() + TAG_LEN;
        if len > MAX_MESSAGE {
            return Err(ChannelError::TooLarge(len));
        }
        let mut message = vec![0u8; len];
        match transport.write_message(frame, &mut message) {
            Ok(n) => {
                message.truncate(n);
                self.queue(&message);
                Ok(())
            }
            // Only a used-up nonce makes the cipher refuse: the
            // connection cannot go on.
            Err(_) => Err(self.kill(ChannelError::Unexpected(
                "the cipher refused to encrypt (nonce used up)",
            ))),
        }
    }

    /// Bytes to write to TCP, in order (empty when none).
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    /// Ends the channel with `e`, and returns it.
    fn kill(&mut self, e: ChannelError) -> ChannelError {
        self.state = State::Dead(e.clone());
        e
    }

    /// Queues one message with its u16 length.
    fn queue(&mut self, message: &[u8]) {
        self.out
            .extend_from_slice(&(message.len() as u16).to_be_bytes());
        self.out.extend_from_slice(message);
    }

    /// Writes the next handshake message (empty payload) and queues it;
    /// enters transport mode when that was the last one.
    fn write_handshake(&mut self) -> Result<(), ChannelError> {
        let State::Handshake(hs) = &mut self.state else {
            return Err(ChannelError::Unexpected(
                "a handshake message after the handshake",
            ));
        };
        let mut message = vec![0u8; MAX_MESSAGE];
        let n = hs
            .write_message(&[], &mut message)
            .map_err(handshake_error)?;
        message.truncate(n);
        self.queue(&message);
        self.finish_handshake()
    }

    /// Enters transport mode once the handshake is done.
    fn finish_handshake(&mut self) -> Result<(), ChannelError> {
        let State::Handshake(hs) = &self.state else {
            return Ok(());
        };
        if !hs.is_handshake_finished() {
            return Ok(());
        }
        let State::Handshake(hs) = std::mem::replace(
            &mut self.state,
            State::Dead(ChannelError::Unexpected("a handshake that did not finish")),
        ) else {
            return Ok(());
        };
        let transport = hs.into_transport_mode().map_err(handshake_error)?;
        self.state = State::Transport(Box::new(transport));
        Ok(())
    }

    /// Reads one message: a handshake message (answered if it is the
    /// responder's turn) or a transport message (its plaintext).
    fn read(&mut self, message: &[u8]) -> Result<Option<Vec<u8>>, ChannelError> {
        let mut payload = vec![0u8; message.len()];
        match &mut self.state {
            State::Dead(e) => Err(e.clone()),
            State::Transport(t) => {
                let n = t
                    .read_message(message, &mut payload)
                    .map_err(|_| ChannelError::Decrypt)?;
                payload.truncate(n);
                Ok(Some(payload))
            }
            State::Handshake(hs) => {
                let n = hs
                    .read_message(message, &mut payload)
                    .map_err(handshake_error)?;
                if n != 0 {
                    return Err(ChannelError::Handshake(
                        "a handshake message with a payload".into(),
                    ));
                }
                if hs.is_handshake_finished() {
                    self.finish_handshake()?;
                } else if hs.is_my_turn() {
                    self.write_handshake()?;
                }
                Ok(None)
            }
        }
    }
}

/// Cuts a TCP byte stream into u16-length-prefixed messages.
#[derive(Debug, Default)]
pub struct Deframer {
    buf: Vec<u8>,
    /// Where the next message starts in `buf`.
    start: usize,
}

impl Deframer {
    /// An empty deframer.
    pub fn new() -> Self {
        Deframer::default()
    }

    /// Appends bytes read from TCP.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes buffered and not yet returned as a message.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// The next whole message, if one is buffered. A zero length is an
    /// error (returned again on every later call: the stream is broken).
    /// Never buffers more than one message plus what was pushed.
    pub fn next_message(&mut self) -> Option<Result<Vec<u8>, ChannelError>> {
        let rest = &self.buf[self.start..];
        let [hi, lo, body @ ..] = rest else {
            return None;
        };
        let len = usize::from(u16::from_be_bytes([*hi, *lo]));
        if len == 0 {
            return Some(Err(ChannelError::EmptyMessage));
        }
        let message = body.get(..len)?.to_vec();
        self.start += 2 + len;
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        Some(Ok(message))
    }
}

#[cfg(test)]
mod tests;
