//! # tandem-node
//!
//! The host side of Tandem: everything that touches files, sockets and
//! clocks, and the `tandemd` binary that puts it together.
//!
//! So far: `tandemd decode`, a protocol analyser for VRRPv2, VRRPv3 and
//! CARP captures ([`capture`] reads pcap and pcapng files, [`decode`] turns
//! each frame into a [`decode::Decoded`] record, [`render`] prints it as
//! JSON or as a line of text). docs/decode.md documents the command.
//!
//! An appliance can run the whole node inside its own process: a
//! configuration from [`config::Builder`] (or a file), [`drive::start`],
//! and the [`drive::NodeHandle`] it returns (shutdown, reconfigure, health
//! input, failover, maintenance, status, typed events). docs/embedding.md
//! is the guide; `examples/embed_node.rs` runs it.

pub mod capture;
pub mod config;
pub mod control;
pub mod decode;
pub mod demo;
pub mod drive;
pub mod hooks;
pub mod http;
pub mod node;
pub mod render;
pub mod snapshot;
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
/// packet to `out`. Frames before a damaged part of the file are written
/// before the error is returned. Returns the number of lines written.
pub fn decode_file(
    path: &Path,
    opts: &Options,
    output: Output,
    out: &mut dyn Write,
) -> Result<u64, RunError> {
    let capture = Capture::read(path)?;
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
        }
    }
    out.flush().map_err(RunError::Output)?;
    result.map(|()| lines)
}
