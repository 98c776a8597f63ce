//! A connection-tracking entry as the host's table (the Linux kernel's,
//! over ctnetlink) holds it: the plain data of [`crate::sys::conntrack`],
//! which the host reads and installs and the Node's replication adapter
//! turns into replicated flows and back.

pub use crate::sys::conntrack::{Entry, Event, Key, SctpInfo, TcpInfo, Tuple};
