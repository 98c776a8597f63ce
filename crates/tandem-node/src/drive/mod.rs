//! The driver: one loop, one clock, a [`Host`] that carries the Node's
//! outputs out and hands it its inputs. tandemd, an appliance that embeds
//! the whole node ([`start`], [`NodeHandle`]) and the tests (with a fake
//! host and a virtual clock) all run this loop:
//!
//! ```
//! use tandem_time::Instant;
//! use tandem_node::drive::{fake::FakeHost, DriveError, Host};
//! use tandem_node::node::{Input, Node, NodeSettings};
//!
//! fn run(node: &mut Node, host: &mut impl Host) -> Result<(), DriveError> {
//!     let mut inputs = Vec::new();
//!     loop {
//!         let wake = node.poll_timeout();
//!         host.wait(wake, &mut inputs);          // stamped on arrival
//!         for input in inputs.drain(..) {
//!             node.handle(input);
//!         }
//!         node.handle_timeout(host.now());       // early or repeated: harmless
//!         while let Some(out) = node.poll_output() {
//!             if !host.carry_out(out)? {         // in order; false once stopped
//!                 return Ok(());
//!             }
//!         }
//!     }
//! }
//!
//! // On a fake host with a virtual clock: configure, then stop at 5 s.
//! let config = tandem_node::config::parse(
//!     "[[instance]]\nname = \"web\"\ninterface = \"eth0\"\nvrid = 51\n\
//!      addresses = [\"192.0.2.100/24\"]\n",
//! )
//! .unwrap();
//! let mut host = FakeHost::new();
//! host.push(Input::Configure { at: Instant::ZERO, config: Box::new(config), reply: None });
//! host.push(Input::Shutdown { at: Instant::from_millis(5000) });
//! let mut node = Node::new(NodeSettings::default());
//! run(&mut node, &mut host).unwrap();
//! assert!(node.is_stopped());
//! ```
//!
//! [`run`] is that loop, and [`step`] one turn of it. The driver names only
//! the Node's input and output types: a protocol the Node gains changes
//! the Node and a host's mechanics, never this loop.

pub mod checks;
pub mod fake;
mod fanout;
mod files;
mod handle;
pub mod linux;
mod notify;
mod replication;
mod setup;
pub mod sim;
mod sync_tcp;
pub mod tandemd;
mod threads;

use tandem_time::Instant;

pub use handle::{start, HandleEvent, NodeHandle, Options};
pub use threads::{ControlHandle, EVENT_QUEUE, PACKET_QUEUE, REPLY_TIMEOUT, SUBSCRIBER_QUEUE};

use crate::node::{Input, Node, Output};

/// What a node runs on: the one clock, the inputs, the outputs.
pub trait Host {
    /// The one clock.
    fn now(&mut self) -> Instant;

    /// Waits until inputs arrive or `deadline` passes (`None`: until inputs
    /// arrive, or a while), and appends what arrived, stamped on arrival. A
    /// host hands over a bounded batch at a time, so timers run between
    /// batches however fast inputs come.
    fn wait(&mut self, deadline: Option<Instant>, inputs: &mut Vec<Input>);

    /// Carries out one output. `Ok(false)` once the node has stopped; an
    /// error ends the loop (a failure the node cannot run without, such as
    /// its first configuration not fitting the host).
    fn carry_out(&mut self, output: Output) -> Result<bool, DriveError>;
}

/// One turn of the loop; `Ok(false)` once the node has stopped.
pub fn step<H: Host>(
    node: &mut Node,
    host: &mut H,
    inputs: &mut Vec<Input>,
) -> Result<bool, DriveError> {
    let wake = node.poll_timeout();
    host.wait(wake, inputs);
    for input in inputs.drain(..) {
        node.handle(input);
    }
    node.handle_timeout(host.now());
    while let Some(out) = node.poll_output() {
        if !host.carry_out(out)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The loop: turns until the node stops.
pub fn run<H: Host>(node: &mut Node, host: &mut H) -> Result<(), DriveError> {
    let mut inputs = Vec::new();
    while step(node, host, &mut inputs)? {}
    Ok(())
}

/// Why a node could not start or had to stop.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DriveError {
    /// A host operation failed.
    #[error(transparent)]
    Sys(#[from] crate::sys::SysError),
    /// The configuration does not fit this host.
    #[error(transparent)]
    Host(crate::config::ConfigError),
    /// The first configuration could not be set up on the host.
    #[error("{0}")]
    SetUp(String),
    /// The restart history could not be kept and a restart guard needs it.
    #[error("restart history: {0}; a restart guard is configured, so tandemd does not start without it (fix the state directory, or remove restart_guard)")]
    History(#[source] crate::history::HistoryError),
    /// The health port could not be set up.
    #[error(transparent)]
    Http(#[from] crate::http::HttpError),
    /// The control socket could not be set up.
    #[error("control socket: {0}")]
    Control(#[source] crate::control::ControlError),
    /// Signal handling could not be set up.
    #[error("signals: {0}")]
    Signals(#[source] std::io::Error),
    /// The node's thread could not be started, or ended by panicking.
    #[error("the node's thread: {0}")]
    Thread(String),
}
