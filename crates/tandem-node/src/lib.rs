//! # tandem-node
//!
//! A whole Tandem HA node, and `tandemd`, the daemon that runs one on Linux.
//!
//! - [`node`]: the sans-IO [`node::Node`], the one place where the protocols
//!   meet. Typed inputs stamped with their arrival time in, typed outputs
//!   in order out, `poll_timeout`; no clock, file or socket.
//! - [`drive`]: the one loop with one clock over a [`drive::Host`] (the
//!   Linux host over [`sys`], a fake one for tests), and the embedding API:
//!   [`drive::start`] runs the whole node inside an appliance's process and
//!   returns a [`drive::NodeHandle`] (shutdown, join, reconfigure, health
//!   input, failover, maintenance, typed events), from a configuration
//!   built with [`config::Builder`] or read from a file. docs/embedding.md
//!   is the guide, `examples/embed_node.rs` runs it; docs/architecture.md
//!   shows the layers.
//! - [`config`] (TOML and flags, validated), [`control`] (the control socket
//!   and its typed API), [`http`] (health port, metrics), [`hooks`] (notify
//!   hooks), [`snapshot`] (the status every reader sees).
//! - `tandemd decode`, a protocol analyser for VRRPv2, VRRPv3 and CARP
//!   captures ([`capture`] reads pcap and pcapng files, [`decode`] turns
//!   each frame into a [`decode::Decoded`] record, [`render`] prints it as
//!   JSON or as a line of text; docs/decode.md), `tandemd sniff`, the same
//!   decoder on a live interface with a running diagnosis of the segment
//!   ([`sniff`]; docs/sniff.md), and `tandemd demo`.
//!
//! The Node on a fake host with a virtual clock, as the tests run it:
//!
//! ```
//! use tandem_election::{Instant, State};
//! use tandem_node::drive::fake::FakeHost;
//! use tandem_node::node::{Input, Node, NodeSettings};
//!
//! let config = tandem_node::config::parse(
//!     "[[instance]]\nname = \"web\"\ninterface = \"eth0\"\nvrid = 51\n\
//!      priority = 150\naddresses = [\"192.0.2.100/24\"]\n",
//! )
//! .unwrap();
//! let mut node = Node::new(NodeSettings::default());
//! let mut host = FakeHost::new();
//! host.push(Input::Configure { at: Instant::ZERO, config: Box::new(config), reply: None });
//! // Alone on its LAN, it takes the role after Active_Down_Interval.
//! host.run_until(&mut node, Instant::from_millis(4000)).unwrap();
//! assert_eq!(node.states()["web"], State::Active);
//! ```

pub mod capture;
pub mod checks;
pub mod config;
pub mod conntrack;
pub mod control;
pub mod decode;
pub mod demo;
pub mod drive;
pub mod file;
pub mod history;
pub mod hooks;
pub mod http;
pub mod import;
pub mod netns;
pub mod node;
pub mod render;
pub mod snapshot;
pub mod sniff;
pub mod sys;

use std::io::{self, Write};
use std::path::Path;

use capture::{Capture, CaptureError};
use decode::Options;

/// How `tandemd decode` prints its records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// One line of text per packet ([`render::human`]).
    Human,
    /// One JSON object per line ([`render::json`]).
    Json,
}

/// Why `tandemd decode` stopped early.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The capture file is unreadable, damaged or of an unsupported link type.
    #[error(transparent)]
    Capture(#[from] CaptureError),
    /// Writing the output failed.
    #[error("cannot write the output: {0}")]
    Output(#[source] io::Error),
}

/// Decodes the capture at `path` and writes one line per VRRP / CARP
/// packet to `out`, and the replication link's frames and messages
/// ([`decode::replication`]). Frames before a damaged part of the file are written
/// before the error is returned. Returns the number of lines written.
pub fn decode_file(
    path: &Path,
    opts: &Options,
    output: Output,
    out: &mut dyn Write,
) -> Result<u64, RunError> {
    let capture = Capture::read(path)?;
    let mut link = decode::replication::Decoder::new(opts.replication.clone());
    let mut lines = 0;
    let mut result = Ok(());
    for frame in capture.frames()? {
        let frame = match frame {
            Ok(f) => f,
            Err(e) => {
                result = Err(e.into());
                break;
            }
        };
        if let Some(d) = decode::decode_frame(&frame, opts) {
            let line = match output {
                Output::Human => render::human(&d),
                Output::Json => render::json(&d),
            };
            writeln!(out, "{line}").map_err(RunError::Output)?;
            lines += 1;
            continue;
        }
        for m in link.decode(&frame) {
            let text = match output {
                Output::Human => decode::replication::render::human(&m),
                Output::Json => vec![decode::replication::render::json(&m)],
            };
            for line in text {
                writeln!(out, "{line}").map_err(RunError::Output)?;
                lines += 1;
            }
        }
    }
    out.flush().map_err(RunError::Output)?;
    result.map(|()| lines)
}
