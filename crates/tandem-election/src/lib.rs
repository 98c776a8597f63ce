//! # tandem-election
//!
//! The decision-making core of a Tandem HA node: the VRRPv3 (RFC 9568),
//! VRRPv2 (RFC 3768) and CARP (OpenBSD carp(4)) election, with the
//! behaviour appliance HA pairs need around it: preemption and preempt
//! delay, accept mode, owner priority, sync groups, tracking with weights or
//! Fault, preferred host, initial wait, HA timeout, manual failover,
//! maintenance, the restart guard, and diagnostics as events.
//!
//! Sans-IO: no sockets, no clock, no threads. Every input carries an
//! injected [`Instant`]; outputs queue as [`Action`]s; `poll_timeout` says
//! when to call back. `tandemd` drives it on Linux; [`sim`] drives it on a
//! simulated LAN with a virtual clock.
//!
//! ```
//! use tandem_election::sim::{Lan, NodeSpec};
//! use tandem_election::State;
//!
//! // Two VRRPv3 routers on a simulated LAN: the higher priority wins.
//! let mut lan = Lan::new(1);
//! let a = lan.add(NodeSpec::vrrp3(1, 200));
//! let b = lan.add(NodeSpec::vrrp3(2, 100));
//! lan.start_all();
//! lan.run_for(std::time::Duration::from_secs(5));
//! assert_eq!(lan.state(a, 0), State::Active);
//! assert_eq!(lan.state(b, 0), State::Backup);
//! ```
#![forbid(unsafe_code)]

mod action;
pub mod codec;
mod config;
mod group;
mod input;
mod router;
pub mod sim;
mod timer;

pub use action::{Action, AuthFailure, Diagnostic, Reason, State};
pub use config::{
    carp_interval, Announce, ChecksumPolicy, Config, ConfigError, PairRole, PreferredHost,
    Protocol, RestartGuard, Track, TrackEffect,
};
pub use group::SyncGroup;
pub use input::{Advert, Command, Received};
pub use router::{Status, VirtualRouter};
/// The driver's monotonic time, from tandem-time (re-exported here so the
/// election's users need one crate).
pub use tandem_time::Instant;
pub use timer::Timer;
