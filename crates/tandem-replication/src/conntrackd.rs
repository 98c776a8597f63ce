//! conntrackd's sync messages (conntrack-tools `include/network.h`): the
//! network header, the attribute (TLV) format, and the FT-FW and NOTRACK
//! exchanges, so that a unit can receive from and send to a conntrackd peer.
//!
//! - [`msg`]: the message codec: [`msg::Message`] (checked view),
//!   [`msg::Repr`] (owned), [`msg::messages`] (the messages of a datagram);
//! - [`attr`]: every `NTA_*` attribute of conntrackd 1.4.7 and later;
//! - [`entry`]: an entry to a [`Flow`](crate::flow::Flow) and back;
//! - [`endpoint`]: the sans-IO peer, [`Endpoint`], in FT-FW or NOTRACK
//!   mode ([`config`], [`status`]); [`ftfw`]: its sequence tracking and
//!   resend queue.
//!
//! ALARM mode's messages decode (they are the same CT_NEW / CT_UPD), but
//! no endpoint speaks ALARM; expectations decode as opaque attributes and
//! are skipped (counted). docs/conntrackd.md gives every byte as observed
//! from conntrackd 1.4.7.

pub mod attr;
pub mod config;
pub mod endpoint;
pub mod entry;
pub mod ftfw;
pub mod msg;
pub mod status;

pub use endpoint::Endpoint;
