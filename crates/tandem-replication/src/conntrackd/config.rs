//! A conntrackd [`Endpoint`](super::endpoint::Endpoint)'s settings.

use std::time::Duration;

/// conntrackd's synchronisation mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// `Mode FTFW`: acknowledged, repaired.
    Ftfw,
    /// `Mode NOTRACK`: best effort.
    Notrack,
}

/// The endpoint's settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// FT-FW or NOTRACK (the peer's `Mode`).
    pub mode: Mode,
    /// The first sequence number (conntrackd uses the Unix time at start;
    /// the driver gives it).
    pub initial_seq: u32,
    /// A datagram's buffer, bytes: messages are appended while the total
    /// stays below it (conntrackd: the interface MTU less 28, 1,472).
    pub max_datagram: usize,
    /// `ACKWindowSize` (300).
    pub ack_window: u32,
    /// `ResendQueueSize` (131,072).
    pub resend_queue: usize,
    /// The alive period: an ALIVE (or the pending ACK) after this long
    /// without sending (conntrackd: 1 s, fixed).
    pub alive_interval: Duration,
    /// The peer counts as up while heard within this long.
    pub peer_timeout: Duration,
    /// Send `NTA_TIMEOUT` (false: as conntrackd with `CommitTimeout`).
    pub send_timeout: bool,
    /// A mirrored flow's lifetime when the peer sends no timeout.
    pub default_lifetime_ms: u32,
    /// Mirrored flows expire when their lifetime runs out (false: they
    /// stay until CT_DEL, as in conntrackd's external cache, and
    /// [`Endpoint::mirror_flows`](super::Endpoint::mirror_flows) reports the
    /// lifetime received).
    pub expire_mirror: bool,
    /// Bulk pacing: message bytes per tick.
    pub bulk_bytes_per_tick: usize,
    /// Bulk pacing: the tick.
    pub bulk_tick: Duration,
    /// Most flows in the local table and in the mirror, each.
    pub max_flows: usize,
    /// Most outputs waiting for the driver; beyond it messages stay
    /// queued until it drains.
    pub max_outputs: usize,
}

impl Config {
    /// conntrackd's defaults in `mode`: 1,472-byte datagrams, ACK window
    /// 300, resend queue 131,072, alive 1 s (peer down after 3 s), timeouts
    /// sent; bulk paced at 64 KiB per millisecond; 4 M flows; 4,096 outputs.
    pub fn new(mode: Mode, initial_seq: u32) -> Config {
        Config {
            mode,
            initial_seq,
            max_datagram: 1472,
            ack_window: 300,
            resend_queue: 131_072,
            alive_interval: Duration::from_secs(1),
            peer_timeout: Duration::from_secs(3),
            send_timeout: true,
            default_lifetime_ms: 180_000,
            expire_mirror: false,
            bulk_bytes_per_tick: 64 * 1024,
            bulk_tick: Duration::from_millis(1),
            max_flows: 4 << 20,
            max_outputs: 4096,
        }
    }
}
