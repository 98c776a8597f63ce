//! Sections to records: [`decode_payload`], through the checked
//! [`Sections`] view.

use std::net::IpAddr;

use super::view::{be16, be32, be64, v4, v6, FlowDelete, FlowUpdate, TcpWin};
use super::{
    kind, Ack, BulkBegin, BulkEnd, DecodeError, Hello, Nack, Record, ResyncReason, ResyncReq, Role,
    Section, Sections, ShardRange,
};
use crate::persist::{PersistKey, Persistence};

/// The records of a payload, in order; optional sections of unknown types
/// skipped.
///
/// A TCPWIN section right after a flow section of `n` records, whose
/// first `n` records name those flows' handles in order, carries their
/// windows: they come back as the flows' [`Flow::window`](crate::flow::Flow::window).
/// A TCPWIN_UPD record, and any other TCPWIN record (not written by this
/// encoder), is a [`Record::FlowWindow`].
pub fn decode_payload(payload: &[u8]) -> Result<Vec<Record>, DecodeError> {
    let sections = Sections::new_checked(payload)?;
    let mut out = Vec::with_capacity(payload.len() / 24);
    // The records of the flow section just decoded, if the last section
    // was one.
    let mut run: Option<(usize, usize)> = None;
    for s in sections {
        let start = out.len();
        match s.kind() {
            kind::FLOW4 => flows(&mut out, s.flows4().map(|f| f.to_flow()))?,
            kind::FLOW6 => flows(&mut out, s.flows6().map(|f| f.to_flow()))?,
            kind::FLOW4X => flows(&mut out, s.flows4x().map(|f| Ok(f.to_flow())))?,
            kind::FLOW6X => flows(&mut out, s.flows6x().map(|f| f.to_flow()))?,
            kind::TCPWIN => {
                windows(&mut out, run, s);
                run = None;
                continue;
            }
            kind::TCPWIN_UPD => out.extend(s.window_updates().map(|w| Record::FlowWindow {
                handle: w.handle(),
                window: w.window(),
            })),
            _ => others(&mut out, s)?,
        }
        run = match s.kind() {
            kind::FLOW4 | kind::FLOW6 | kind::FLOW4X | kind::FLOW6X => Some((start, out.len())),
            _ => None,
        };
    }
    Ok(out)
}

fn flows(
    out: &mut Vec<Record>,
    records: impl Iterator<Item = Result<(super::Handle, crate::flow::Flow), DecodeError>>,
) -> Result<(), DecodeError> {
    for r in records {
        let (handle, flow) = r?;
        out.push(Record::Flow { handle, flow });
    }
    Ok(())
}

/// A TCPWIN section: the windows of the flow run before it, if it names
/// the run's handles in order, and standalone windows.
fn windows(out: &mut Vec<Record>, run: Option<(usize, usize)>, s: Section<'_>) {
    let mut wins = s.tcp_windows();
    if let Some(flows) = run.and_then(|(a, b)| out.get_mut(a..b)) {
        let matches = s.count() >= flows.len()
            && flows
                .iter()
                .zip(s.tcp_windows())
                .all(|(f, w)| matches!(f, Record::Flow { handle, .. } if *handle == w.handle()));
        if matches {
            for (f, w) in flows.iter_mut().zip(wins.by_ref()) {
                if let Record::Flow { flow, .. } = f {
                    flow.window = Some(w.window());
                }
            }
        }
    }
    out.extend(wins.map(|w: TcpWin<'_>| Record::FlowWindow {
        handle: w.handle(),
        window: w.window(),
    }));
}

fn reserved(k: u8, bytes: &[u8], field: &'static str) -> Result<(), DecodeError> {
    if bytes.iter().any(|&b| b != 0) {
        return Err(DecodeError::BadField { kind: k, field });
    }
    Ok(())
}

/// A source key: prefix within the family's length, address masked.
fn source(k: u8, addr: IpAddr, prefix: u8) -> Result<PersistKey, DecodeError> {
    let max = if addr.is_ipv4() { 32 } else { 128 };
    if prefix > max {
        return Err(DecodeError::BadField {
            kind: k,
            field: "prefix length (longer than the address)",
        });
    }
    let key = PersistKey::source(addr, prefix);
    if key != (PersistKey::Source { addr, prefix }) {
        return Err(DecodeError::BadField {
            kind: k,
            field: "address (bits set beyond the prefix)",
        });
    }
    Ok(key)
}

fn hashed(k: u8, code: u8, hash: u64) -> Result<PersistKey, DecodeError> {
    match code {
        1 => Ok(PersistKey::Cookie(hash)),
        2 => Ok(PersistKey::Header(hash)),
        3 => Ok(PersistKey::TlsSession(hash)),
        _ => Err(DecodeError::BadField {
            kind: k,
            field: "key kind (1 cookie, 2 header, 3 TLS session)",
        }),
    }
}

fn range(b: &[u8], o: usize) -> ShardRange {
    ShardRange {
        first: be16(b, o),
        last: be16(b, o + 2),
    }
}

/// The records of a section that is neither a flow nor a window section
/// (unknown optional sections add nothing).
fn others(out: &mut Vec<Record>, s: Section<'_>) -> Result<(), DecodeError> {
    let k = s.kind();
    match k {
        kind::FLOW_UPD => {
            for r in s.flow_updates() {
                out.push(FlowUpdate::to_record(&r)?);
            }
            return Ok(());
        }
        kind::FLOW_DEL => {
            for r in s.flow_deletes() {
                out.push(FlowDelete::to_record(&r)?);
            }
            return Ok(());
        }
        _ => {}
    }
    if kind::record_len(k).is_none() {
        return Ok(());
    }
    for b in s.records() {
        out.push(other(k, b)?);
    }
    Ok(())
}

fn other(k: u8, b: &[u8]) -> Result<Record, DecodeError> {
    Ok(match k {
        kind::PERSIST4 | kind::PERSIST6 | kind::PERSISTH => {
            let key = match k {
                kind::PERSIST4 => source(k, IpAddr::V4(v4(b, 8)), b[1])?,
                kind::PERSIST6 => source(k, IpAddr::V6(v6(b, 8)), b[1])?,
                _ => hashed(k, b[1], be64(b, 8))?,
            };
            Record::Persist(Persistence {
                table: b[0],
                key,
                backend: be16(b, 2),
                lifetime_ms: be32(b, 4),
            })
        }
        kind::PDEL4 | kind::PDEL6 | kind::PDELH => {
            reserved(k, &b[2..4], "reserved (bytes 2-3)")?;
            let key = match k {
                kind::PDEL4 => source(k, IpAddr::V4(v4(b, 4)), b[1])?,
                kind::PDEL6 => source(k, IpAddr::V6(v6(b, 4)), b[1])?,
                _ => hashed(k, b[1], be64(b, 4))?,
            };
            Record::PersistDelete { table: b[0], key }
        }
        kind::HELLO => {
            reserved(k, &b[3..4], "reserved (byte 3)")?;
            Record::Hello(Hello {
                role: match b[0] {
                    1 => Role::Active,
                    2 => Role::Backup,
                    c => Role::Unknown(c),
                },
                versions: (b[1], b[2]),
                capabilities: be32(b, 4),
                challenge: be64(b, 8),
                response: be64(b, 16),
                mirrored_boot: be64(b, 24),
                live: be32(b, 32),
            })
        }
        kind::ACK => {
            reserved(k, &b[1..4], "reserved (bytes 1-3)")?;
            Record::Ack(Ack {
                stream: b[0],
                credit: be32(b, 4),
                boot: be64(b, 8),
                cumulative: be64(b, 16),
                sack: be64(b, 24),
            })
        }
        kind::NACK => {
            reserved(k, &b[1..8], "reserved (bytes 1-7)")?;
            Record::Nack(Nack {
                stream: b[0],
                boot: be64(b, 8),
                first: be64(b, 16),
                last: be64(b, 24),
            })
        }
        kind::RESYNC_REQ => {
            reserved(k, &b[6..8], "reserved (bytes 6-7)")?;
            Record::ResyncReq(ResyncReq {
                stream: b[0],
                reason: match b[1] {
                    1 => ResyncReason::Join,
                    2 => ResyncReason::Gap,
                    3 => ResyncReason::Digest,
                    4 => ResyncReason::Operator,
                    c => ResyncReason::Unknown(c),
                },
                range: range(b, 2),
                boot: be64(b, 8),
            })
        }
        kind::BULK_BEGIN => Record::BulkBegin(BulkBegin {
            bulk: be32(b, 0),
            range: range(b, 4),
            entries: be32(b, 8),
        }),
        kind::BULK_END => Record::BulkEnd(BulkEnd {
            bulk: be32(b, 0),
            range: range(b, 4),
            entries: be32(b, 8),
            begin_seq: be64(b, 12),
            digest: be64(b, 20),
        }),
        kind::DIGEST => Record::Digest {
            shard: be16(b, 0),
            digest: be64(b, 2),
        },
        kind::HEARTBEAT => Record::Heartbeat {
            highest_seq: be64(b, 0),
            live: be32(b, 8),
        },
        _ => {
            // Flow, window, update and delete sections are decoded by
            // their views; a known type never reaches here otherwise.
            return Err(DecodeError::BadField {
                kind: k,
                field: "section type",
            });
        }
    })
}
