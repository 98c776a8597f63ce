//! conntrackd's sync messages (conntrack-tools `include/network.h`): the
//! network header, the attribute (TLV) format, and the FT-FW and NOTRACK
//! exchanges, so that a unit can receive from and send to a conntrackd peer.
//!
//! - [`msg`]: the message codec: [`msg::Message`] (checked view),
//!   [`msg::Repr`] (owned), [`msg::messages`] (the messages of a datagram),
//!   [`msg::Attr`] (every `NTA_*` attribute of conntrackd 1.4.7 and later);
//! - [`entry`]: an entry to a [`Flow`](crate::flow::Flow) and back.
//!
//! docs/conntrackd.md gives every byte as observed from conntrackd 1.4.7.

pub mod attr;
pub mod entry;
pub mod msg;
