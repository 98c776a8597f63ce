//! The replication link's records as text lines and JSON objects, beside
//! [`crate::render`]'s for VRRP and CARP: the same frame number first, the
//! same ` -- problem` suffixes, the same `n` / `src` / `dst` / `ttl` /
//! `proto` / `error` / `problems` keys. docs/tandemd.md lists every key.
//!
//! A Tandem frame is one line (its header) followed by one line per record
//! (`N.i`), and one JSON object with a `records` array; a conntrackd
//! message is one line (`N.i`, the message's place in its datagram) and
//! one JSON object.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

use serde_json::{json, Value};
use tandem_replication::conntrackd::msg::{Attr, MsgType};
use tandem_replication::wire;

use super::records::{
    ctd_flag_names, flag_names, flow_json, flow_text, list, record_json, record_text,
    section_label, section_name,
};
use super::{CtdMessage, Message, Seal, SectionRecords, TandemFrame, REPLICATION_TTL};

fn family(a: &SocketAddr) -> &'static str {
    match a.ip() {
        IpAddr::V4(_) => "ipv4",
        IpAddr::V6(_) => "ipv6",
    }
}

impl TandemFrame {
    /// What is wrong with the frame, in words, in the order they matter:
    /// cut or fragmented, malformed, not authenticated, replayed, TTL.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(len) = self.cut_from {
            out.push(format!(
                "captured {} of the datagram's {len} bytes (snap length too short)",
                self.len
            ));
        }
        if self.fragment {
            out.push("IP fragment: the datagram is split over several packets (not reassembled; tandemd never sends one)".into());
        }
        if let Some(e) = &self.error {
            out.push(format!("malformed replication frame: {e}"));
        }
        match &self.seal {
            Seal::UnknownKey { key_id, have } => out.push(format!(
                "authentication failed: sealed with key id {key_id}, the --replication-key given has key id {} (another key)",
                have.iter().map(u8::to_string).collect::<Vec<_>>().join(", ")
            )),
            Seal::BadTag => out.push(
                "authentication failed: the tag does not verify (altered or forged frame, or another key with the same key id)".into(),
            ),
            _ => {}
        }
        for s in &self.sections {
            if let Err(e) = &s.records {
                out.push(format!("malformed {} section: {e}", section_label(s.kind)));
            }
        }
        if self.replayed {
            let seq = self.header.map_or(0, |h| h.seq);
            out.push(format!(
                "replayed: sequence number {seq} was already accepted in this stream (or is older than the replay window)"
            ));
        }
        if self.ends.ttl != REPLICATION_TTL {
            out.push(format!(
                "TTL {}: tandemd drops replication frames not sent with {REPLICATION_TTL}",
                self.ends.ttl
            ));
        }
        out
    }

    fn seal_text(&self) -> &'static str {
        match self.seal {
            Seal::NoKey => "sealed (give --replication-key to open)",
            Seal::NotTried => "not opened",
            Seal::Opened => "opened",
            Seal::UnknownKey { .. } | Seal::BadTag => "not opened",
        }
    }
}

fn sections_json(sections: &[SectionRecords]) -> Value {
    Value::Array(
        sections
            .iter()
            .map(|s| {
                json!({
                    "type": section_label(s.kind).to_lowercase(),
                    "type_code": s.kind,
                    "count": s.count,
                    "record_len": s.record_len,
                    "known": section_name(s.kind).is_some(),
                    "error": s.records.as_ref().err().map(ToString::to_string),
                })
            })
            .collect(),
    )
}

fn tandem_human(f: &TandemFrame) -> Vec<String> {
    let mut s = format!("{}  {} > {}  tandem-repl", f.n, f.ends.src, f.ends.dst);
    match f.header {
        Some(h) => {
            let _ = write!(
                s,
                " v{}.{} cluster {} node {} stream {} key {} boot {:016x} seq {} flags {} len {}",
                wire::VERSION,
                h.minor,
                h.cluster,
                h.node,
                h.stream,
                h.key_id,
                h.boot,
                h.seq,
                list(&flag_names(h.flags)),
                h.payload_len
            );
        }
        None => {
            let _ = write!(s, " ({} bytes)", f.len);
        }
    }
    let _ = write!(s, " {}", f.seal_text());
    if f.seal == Seal::Opened {
        let summary: Vec<String> = f
            .sections
            .iter()
            .map(|x| format!("{}x{}", section_label(x.kind), x.count))
            .collect();
        let _ = write!(s, " sections {}", list(&summary));
    }
    let _ = write!(s, " ttl {}", f.ends.ttl);
    for p in f.problems() {
        let _ = write!(s, " -- {p}");
    }
    let mut lines = vec![s];
    let mut i = 0;
    for sec in &f.sections {
        match &sec.records {
            Ok(records) if records.is_empty() => {
                i += 1;
                lines.push(format!(
                    "{}.{i}  {}: optional, unknown to this version: {} records of {} bytes skipped",
                    f.n,
                    section_label(sec.kind),
                    sec.count,
                    sec.record_len
                ));
            }
            Ok(records) => {
                for (j, r) in records.iter().enumerate() {
                    i += 1;
                    let known = sec.known.get(j).and_then(Option::as_ref);
                    lines.push(format!(
                        "{}.{i}  {} {}",
                        f.n,
                        section_label(sec.kind),
                        record_text(r, known)
                    ));
                }
            }
            Err(e) => {
                i += 1;
                lines.push(format!(
                    "{}.{i}  {} -- malformed: {e}",
                    f.n,
                    section_label(sec.kind)
                ));
            }
        }
    }
    lines
}

fn tandem_json(f: &TandemFrame) -> Value {
    let h = f.header;
    let records: Option<Vec<Value>> = (f.seal == Seal::Opened).then(|| {
        f.sections
            .iter()
            .filter_map(|s| s.records.as_ref().ok().map(|r| (s, r)))
            .flat_map(|(s, r)| {
                r.iter().enumerate().map(move |(j, r)| {
                    record_json(s.kind, r, s.known.get(j).and_then(Option::as_ref))
                })
            })
            .collect()
    });
    json!({
        "n": f.n,
        "family": family(&f.ends.src),
        "src": f.ends.src.ip().to_string(),
        "src_port": f.ends.src.port(),
        "dst": f.ends.dst.ip().to_string(),
        "dst_port": f.ends.dst.port(),
        "ttl": f.ends.ttl,
        "ttl_ok": f.ends.ttl == REPLICATION_TTL,
        "proto": "tandem-replication",
        "len": f.len,
        "version": h.map(|_| wire::VERSION),
        "minor": h.map(|h| h.minor),
        "flags": h.map(|h| flag_names(h.flags)),
        "flags_raw": h.map(|h| h.flags),
        "payload_len": h.map(|h| h.payload_len),
        "cluster": h.map(|h| h.cluster),
        "node": h.map(|h| h.node),
        "stream": h.map(|h| h.stream),
        "key_id": h.map(|h| h.key_id),
        "boot": h.map(|h| format!("{:016x}", h.boot)),
        "seq": h.map(|h| h.seq),
        "seal": f.seal.name(),
        "authenticated": match f.seal {
            Seal::Opened => Some(true),
            Seal::UnknownKey { .. } | Seal::BadTag => Some(false),
            Seal::NoKey | Seal::NotTried => None,
        },
        "replayed": f.replayed,
        "sections": (f.seal == Seal::Opened).then(|| sections_json(&f.sections)),
        "records": records,
        "error": f.error.as_ref().map(ToString::to_string),
        "problems": f.problems(),
    })
}

/// The values of an entry's attributes that a [`Flow`] does not keep.
#[derive(Default)]
struct Extra {
    timeout_s: Option<u32>,
    status: Option<u32>,
    helper: Option<String>,
}

fn extra(attrs: &[Attr]) -> Extra {
    let mut e = Extra::default();
    for a in attrs {
        match a {
            Attr::Timeout(t) => e.timeout_s = Some(*t),
            Attr::Status(s) => e.status = Some(*s),
            Attr::HelperName(n) => {
                let end = n.iter().position(|b| *b == 0).unwrap_or(n.len());
                e.helper = Some(String::from_utf8_lossy(n.get(..end).unwrap_or(n)).into_owned());
            }
            _ => {}
        }
    }
    e
}

impl CtdMessage {
    /// What is wrong with the message, in words.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(len) = self.cut_from {
            out.push(format!(
                "captured less than the datagram's {len} bytes (snap length too short)"
            ));
        }
        if let Some(e) = &self.error {
            out.push(format!("malformed conntrackd message: {e}"));
        }
        if let Some(Err(e)) = &self.flow {
            out.push(format!("entry without a flow: {e}"));
        }
        out
    }

    fn type_label(&self) -> String {
        match self.msg_type {
            Some(MsgType::Unknown(c)) => format!("TYPE_{c}"),
            Some(t) => t.name().to_uppercase(),
            None => "?".into(),
        }
    }
}

fn ctd_human(m: &CtdMessage) -> String {
    let mut s = format!(
        "{}.{}  {} > {}  conntrackd v{} {} seq {} flags {} len {}",
        m.n,
        m.index,
        m.ends.src,
        m.ends.dst,
        m.version,
        m.type_label(),
        m.seq,
        list(&ctd_flag_names(m.flags)),
        m.len
    );
    if let Some((from, to)) = m.range {
        let _ = write!(s, " range {from}-{to}");
    }
    if let Some(Ok(f)) = &m.flow {
        let e = extra(&m.attrs);
        let _ = write!(s, " {}", flow_text(f));
        match e.timeout_s {
            Some(t) => {
                let _ = write!(s, " timeout {t}s");
            }
            None => s.push_str(" timeout -"),
        }
        if let Some(h) = e.helper {
            let _ = write!(s, " helper {h}");
        }
    }
    if m.msg_type.is_some_and(MsgType::is_exp) {
        s.push_str(" (expectation: attributes not shown)");
    }
    for p in m.problems() {
        let _ = write!(s, " -- {p}");
    }
    s
}

fn ctd_json(m: &CtdMessage) -> Value {
    let e = extra(&m.attrs);
    json!({
        "n": m.n,
        "msg": m.index,
        "family": family(&m.ends.src),
        "src": m.ends.src.ip().to_string(),
        "src_port": m.ends.src.port(),
        "dst": m.ends.dst.ip().to_string(),
        "dst_port": m.ends.dst.port(),
        "ttl": m.ends.ttl,
        "proto": "conntrackd",
        "version": m.version,
        "type": m.msg_type.map(MsgType::name),
        "type_code": m.msg_type.map(MsgType::code),
        "flags": ctd_flag_names(m.flags),
        "flags_raw": m.flags,
        "len": m.len,
        "seq": m.seq,
        "range": m.range.map(|(from, to)| json!({"from": from, "to": to})),
        "flow": m.flow.as_ref().and_then(|f| f.as_ref().ok()).map(|f| {
            let mut v = flow_json(f);
            // Without NTA_TIMEOUT (CommitTimeout) the lifetime is unknown.
            if let (Value::Object(o), None) = (&mut v, e.timeout_s) {
                o.insert("lifetime_ms".into(), Value::Null);
            }
            v
        }),
        "timeout_s": e.timeout_s,
        "status_raw": e.status,
        "helper": e.helper,
        "attrs": m.attrs.len(),
        "error": m.error.as_ref().map(ToString::to_string),
        "problems": m.problems(),
    })
}

/// The text lines of one message: a Tandem frame's header line and one
/// line per record; a conntrackd message's line.
pub fn human(m: &Message) -> Vec<String> {
    match m {
        Message::Tandem(f) => tandem_human(f),
        Message::Conntrackd(c) => vec![ctd_human(c)],
    }
}

/// One JSON object, on one line.
pub fn json(m: &Message) -> String {
    let v = match m {
        Message::Tandem(f) => tandem_json(f),
        Message::Conntrackd(c) => ctd_json(c),
    };
    // Serialising strings, numbers and arrays cannot fail.
    serde_json::to_string(&v).unwrap_or_default()
}
