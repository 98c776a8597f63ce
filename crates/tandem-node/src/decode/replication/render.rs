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

use serde_json::{json, Map, Value};
use tandem_replication::conntrackd::msg::{self, Attr, MsgType};
use tandem_replication::flow::{proto, Flow, Tuple, NO_BACKEND};
use tandem_replication::persist::PersistKey;
use tandem_replication::wire::{self, flags, kind, Record, ResyncReason, Role};

use super::{CtdMessage, Message, Seal, SectionRecords, TandemFrame, REPLICATION_TTL};

/// The wire name of a section type (`FLOW4`, `ACK`, ...), `None` for a
/// type this version does not know.
pub fn section_name(k: u8) -> Option<&'static str> {
    Some(match k {
        kind::FLOW4 => "FLOW4",
        kind::FLOW4X => "FLOW4X",
        kind::FLOW6 => "FLOW6",
        kind::FLOW6X => "FLOW6X",
        kind::FLOW_UPD => "FLOW_UPD",
        kind::FLOW_DEL => "FLOW_DEL",
        kind::PERSIST4 => "PERSIST4",
        kind::PERSIST6 => "PERSIST6",
        kind::PERSISTH => "PERSISTH",
        kind::PDEL4 => "PDEL4",
        kind::PDEL6 => "PDEL6",
        kind::PDELH => "PDELH",
        kind::HELLO => "HELLO",
        kind::ACK => "ACK",
        kind::NACK => "NACK",
        kind::RESYNC_REQ => "RESYNC_REQ",
        kind::BULK_BEGIN => "BULK_BEGIN",
        kind::BULK_END => "BULK_END",
        kind::DIGEST => "DIGEST",
        kind::HEARTBEAT => "HEARTBEAT",
        kind::TCPWIN => "TCPWIN",
        _ => return None,
    })
}

fn section_label(k: u8) -> String {
    section_name(k).map_or_else(|| format!("section {k:#04x}"), str::to_string)
}

/// A protocol's name: `tcp`, `udp`, `icmp`, `icmpv6`, `sctp`, `dccp`,
/// `udplite`, `gre`, or its number.
pub fn proto_name(p: u8) -> String {
    match p {
        proto::TCP => "tcp".into(),
        proto::UDP => "udp".into(),
        proto::ICMP => "icmp".into(),
        proto::ICMPV6 => "icmpv6".into(),
        proto::SCTP => "sctp".into(),
        33 => "dccp".into(),
        47 => "gre".into(),
        136 => "udplite".into(),
        n => format!("proto-{n}"),
    }
}

/// The kernel's name of a protocol state (lower case), `None` for UDP,
/// ICMP and unknown values.
pub fn state_name(p: u8, state: u8) -> Option<&'static str> {
    const TCP: [&str; 10] = [
        "none",
        "syn_sent",
        "syn_recv",
        "established",
        "fin_wait",
        "close_wait",
        "last_ack",
        "time_wait",
        "close",
        "syn_sent2",
    ];
    const SCTP: [&str; 10] = [
        "none",
        "closed",
        "cookie_wait",
        "cookie_echoed",
        "established",
        "shutdown_sent",
        "shutdown_recd",
        "shutdown_ack_sent",
        "heartbeat_sent",
        "heartbeat_acked",
    ];
    const DCCP: [&str; 10] = [
        "none", "request", "respond", "partopen", "open", "closereq", "closing", "timewait",
        "ignore", "invalid",
    ];
    let names = match p {
        proto::TCP => &TCP,
        proto::SCTP => &SCTP,
        33 => &DCCP,
        _ => return None,
    };
    names.get(usize::from(state)).copied()
}

/// The names of conntrack status bits (the kernel's `IPS_*`, lower case
/// with dashes); bits without a name as hex.
pub fn status_names(status: u32) -> Vec<String> {
    const NAMES: [&str; 16] = [
        "expected",
        "seen-reply",
        "assured",
        "confirmed",
        "src-nat",
        "dst-nat",
        "seq-adjust",
        "src-nat-done",
        "dst-nat-done",
        "dying",
        "fixed-timeout",
        "template",
        "nat-clash",
        "helper",
        "offload",
        "hw-offload",
    ];
    (0..32)
        .filter(|b| status & (1 << b) != 0)
        .map(|b| match NAMES.get(b) {
            Some(n) => (*n).to_string(),
            None => format!("{:#x}", 1u32 << b),
        })
        .collect()
}

/// The names of a Tandem header's flags.
pub fn flag_names(f: u16) -> Vec<String> {
    (0..16)
        .filter(|b| f & (1 << b) != 0)
        .map(|b| match 1u16 << b {
            flags::ENCRYPTED => "encrypted".to_string(),
            flags::ACK_REQUESTED => "ack-requested".to_string(),
            flags::BULK_ACTIVE => "bulk-active".to_string(),
            flags::IN_SYNC => "in-sync".to_string(),
            other => format!("{other:#06x}"),
        })
        .collect()
}

/// The names of a conntrackd header's flags (`NET_F_*`).
pub fn ctd_flag_names(f: u8) -> Vec<String> {
    (0..8)
        .filter(|b| f & (1 << b) != 0)
        .map(|b| match 1u8 << b {
            msg::flags::RESYNC => "resync".to_string(),
            msg::flags::NACK => "nack".to_string(),
            msg::flags::ACK => "ack".to_string(),
            msg::flags::ALIVE => "alive".to_string(),
            msg::flags::HELLO => "hello".to_string(),
            msg::flags::HELLO_BACK => "hello-back".to_string(),
            other => format!("{other:#04x}"),
        })
        .collect()
}

fn list(v: &[String]) -> String {
    if v.is_empty() {
        "-".into()
    } else {
        v.join(",")
    }
}

fn is_icmp(p: u8) -> bool {
    p == proto::ICMP || p == proto::ICMPV6
}

/// `dnat`, `snat`, `snat+dnat`, or `None`: how the reply tuple differs
/// from the original's inverse.
pub fn nat(f: &Flow) -> Option<&'static str> {
    let inv = f.original.inverse(f.proto);
    let d = (f.reply.src, f.reply.src_port) != (inv.src, inv.src_port);
    let s = (f.reply.dst, f.reply.dst_port) != (inv.dst, inv.dst_port);
    match (s, d) {
        (false, false) => None,
        (false, true) => Some("dnat"),
        (true, false) => Some("snat"),
        (true, true) => Some("snat+dnat"),
    }
}

fn ends(t: &Tuple, p: u8) -> String {
    if is_icmp(p) {
        format!(
            "{} -> {} type {} code {} id {}",
            t.src,
            t.dst,
            t.dst_port >> 8,
            t.dst_port & 0xff,
            t.src_port
        )
    } else {
        format!(
            "{} -> {}",
            SocketAddr::new(t.src, t.src_port),
            SocketAddr::new(t.dst, t.dst_port)
        )
    }
}

/// A flow in words: protocol, original tuple, the reply tuple when it is
/// translated, state, status, real server, mark, zone, window.
pub fn flow_text(f: &Flow) -> String {
    let mut s = format!("{} {}", proto_name(f.proto), ends(&f.original, f.proto));
    if let Some(n) = nat(f) {
        let _ = write!(s, " reply {} ({n})", ends(&f.reply, f.proto));
    }
    match state_name(f.proto, f.state) {
        Some(n) => {
            let _ = write!(s, " state {n}");
        }
        None if f.state != 0 => {
            let _ = write!(s, " state {}", f.state);
        }
        None => {}
    }
    let _ = write!(s, " status {}", list(&status_names(u32::from(f.status))));
    if f.backend != NO_BACKEND {
        let _ = write!(s, " backend {}", f.backend);
    }
    if f.mark != 0 {
        let _ = write!(s, " mark {}", f.mark);
    }
    if f.zone != 0 {
        let _ = write!(s, " zone {}", f.zone);
    }
    if let Some(w) = f.window {
        for (i, dir) in ["orig", "reply"].iter().enumerate() {
            let _ = write!(
                s,
                " {dir}-window scale {} flags {:#04x} end {} maxend {} maxwin {}",
                w.scale[i], w.flags[i], w.end[i], w.max_end[i], w.max_window[i]
            );
        }
    }
    s
}

fn tuple_json(t: &Tuple, p: u8) -> Value {
    let mut m = Map::new();
    m.insert("src".into(), json!(t.src.to_string()));
    m.insert("dst".into(), json!(t.dst.to_string()));
    m.insert("src_port".into(), json!(t.src_port));
    m.insert("dst_port".into(), json!(t.dst_port));
    if is_icmp(p) {
        m.insert("icmp_type".into(), json!(t.dst_port >> 8));
        m.insert("icmp_code".into(), json!(t.dst_port & 0xff));
        m.insert("icmp_id".into(), json!(t.src_port));
    }
    Value::Object(m)
}

/// A flow as JSON.
pub fn flow_json(f: &Flow) -> Value {
    json!({
        "proto": proto_name(f.proto),
        "proto_num": f.proto,
        "zone": f.zone,
        "original": tuple_json(&f.original, f.proto),
        "reply": tuple_json(&f.reply, f.proto),
        "nat": nat(f),
        "state": state_name(f.proto, f.state),
        "state_num": f.state,
        "status": status_names(u32::from(f.status)),
        "status_raw": f.status,
        "lifetime_ms": f.lifetime_ms,
        "backend": (f.backend != NO_BACKEND).then_some(f.backend),
        "mark": f.mark,
        "window": f.window.map(|w| json!({
            "scale": w.scale, "flags": w.flags, "end": w.end,
            "max_end": w.max_end, "max_window": w.max_window,
        })),
    })
}

fn key_text(k: &PersistKey) -> String {
    match k {
        PersistKey::Source { addr, prefix } => format!("source {addr}/{prefix}"),
        PersistKey::Cookie(h) => format!("cookie {h:016x}"),
        PersistKey::Header(h) => format!("header {h:016x}"),
        PersistKey::TlsSession(h) => format!("tls-session {h:016x}"),
    }
}

fn key_json(k: &PersistKey) -> Value {
    match k {
        PersistKey::Source { addr, prefix } => {
            json!({"kind": "source", "addr": addr.to_string(), "prefix": prefix})
        }
        PersistKey::Cookie(h) => json!({"kind": "cookie", "hash": format!("{h:016x}")}),
        PersistKey::Header(h) => json!({"kind": "header", "hash": format!("{h:016x}")}),
        PersistKey::TlsSession(h) => {
            json!({"kind": "tls-session", "hash": format!("{h:016x}")})
        }
    }
}

fn role(r: Role) -> String {
    match r {
        Role::Active => "active".into(),
        Role::Backup => "backup".into(),
        Role::Unknown(c) => format!("role-{c}"),
    }
}

fn reason(r: ResyncReason) -> String {
    match r {
        ResyncReason::Join => "join".into(),
        ResyncReason::Gap => "gap".into(),
        ResyncReason::Digest => "digest".into(),
        ResyncReason::Operator => "operator".into(),
        ResyncReason::Unknown(c) => format!("reason-{c}"),
    }
}

/// One record in words, after its section's name.
pub fn record_text(r: &Record) -> String {
    match r {
        Record::Flow { handle, flow } => format!(
            "slot {} gen {} {} lifetime {}ms",
            handle.slot,
            handle.gen,
            flow_text(flow),
            flow.lifetime_ms
        ),
        Record::FlowUpdate {
            handle,
            state,
            status,
            lifetime_ms,
        } => format!(
            "slot {} gen {} state {state} status {} lifetime {lifetime_ms}ms",
            handle.slot,
            handle.gen,
            list(&status_names(u32::from(*status)))
        ),
        Record::FlowDelete { handle } => format!("slot {} gen {}", handle.slot, handle.gen),
        Record::FlowWindow { handle, window: w } => {
            let mut s = format!("slot {} gen {}", handle.slot, handle.gen);
            for (i, dir) in ["orig", "reply"].iter().enumerate() {
                let _ = write!(
                    s,
                    " {dir} scale {} flags {:#04x} end {} maxend {} maxwin {}",
                    w.scale[i], w.flags[i], w.end[i], w.max_end[i], w.max_window[i]
                );
            }
            s
        }
        Record::Persist(p) => format!(
            "table {} {} -> backend {} lifetime {}ms",
            p.table,
            key_text(&p.key),
            p.backend,
            p.lifetime_ms
        ),
        Record::PersistDelete { table, key } => format!("table {table} {}", key_text(key)),
        Record::Hello(h) => format!(
            "role {} versions {}-{} caps {:#x} challenge {:016x} response {:016x} mirrored-boot {:016x} live {}",
            role(h.role), h.versions.0, h.versions.1, h.capabilities, h.challenge, h.response,
            h.mirrored_boot, h.live
        ),
        Record::Ack(a) => format!(
            "stream {} boot {:016x} cum {} sack {:#x} credit {}",
            a.stream, a.boot, a.cumulative, a.sack, a.credit
        ),
        Record::Nack(n) => format!(
            "stream {} boot {:016x} missing {}-{}",
            n.stream, n.boot, n.first, n.last
        ),
        Record::ResyncReq(q) => format!(
            "stream {} boot {:016x} shards {}-{} reason {}",
            q.stream,
            q.boot,
            q.range.first,
            q.range.last,
            reason(q.reason)
        ),
        Record::BulkBegin(b) => format!(
            "bulk {} shards {}-{} entries {}",
            b.bulk, b.range.first, b.range.last, b.entries
        ),
        Record::BulkEnd(b) => format!(
            "bulk {} shards {}-{} begin-seq {} entries {} digest {:016x}",
            b.bulk, b.range.first, b.range.last, b.begin_seq, b.entries, b.digest
        ),
        Record::Digest { shard, digest } => format!("shard {shard} digest {digest:016x}"),
        Record::Heartbeat { highest_seq, live } => {
            format!("highest-seq {highest_seq} live {live}")
        }
    }
}

/// One record as JSON, `section` naming the section it came in.
pub fn record_json(section: u8, r: &Record) -> Value {
    let sec = section_label(section).to_lowercase();
    let mut v = match r {
        Record::Flow { handle, flow } => {
            json!({"slot": handle.slot, "gen": handle.gen, "flow": flow_json(flow)})
        }
        Record::FlowUpdate {
            handle,
            state,
            status,
            lifetime_ms,
        } => json!({
            "slot": handle.slot, "gen": handle.gen, "state_num": state,
            "status": status_names(u32::from(*status)), "status_raw": status,
            "lifetime_ms": lifetime_ms,
        }),
        Record::FlowDelete { handle } => json!({"slot": handle.slot, "gen": handle.gen}),
        Record::FlowWindow { handle, window: w } => json!({
            "slot": handle.slot, "gen": handle.gen, "scale": w.scale, "flags": w.flags,
            "end": w.end, "max_end": w.max_end, "max_window": w.max_window,
        }),
        Record::Persist(p) => json!({
            "table": p.table, "key": key_json(&p.key), "backend": p.backend,
            "lifetime_ms": p.lifetime_ms,
        }),
        Record::PersistDelete { table, key } => json!({"table": table, "key": key_json(key)}),
        Record::Hello(h) => json!({
            "role": role(h.role), "versions": [h.versions.0, h.versions.1],
            "capabilities": h.capabilities, "challenge": format!("{:016x}", h.challenge),
            "response": format!("{:016x}", h.response),
            "mirrored_boot": format!("{:016x}", h.mirrored_boot), "live": h.live,
        }),
        Record::Ack(a) => json!({
            "stream": a.stream, "boot": format!("{:016x}", a.boot),
            "cumulative": a.cumulative, "sack": format!("{:016x}", a.sack), "credit": a.credit,
        }),
        Record::Nack(n) => json!({
            "stream": n.stream, "boot": format!("{:016x}", n.boot),
            "first": n.first, "last": n.last,
        }),
        Record::ResyncReq(q) => json!({
            "stream": q.stream, "boot": format!("{:016x}", q.boot),
            "first_shard": q.range.first, "last_shard": q.range.last, "reason": reason(q.reason),
        }),
        Record::BulkBegin(b) => json!({
            "bulk": b.bulk, "first_shard": b.range.first, "last_shard": b.range.last,
            "entries": b.entries,
        }),
        Record::BulkEnd(b) => json!({
            "bulk": b.bulk, "first_shard": b.range.first, "last_shard": b.range.last,
            "begin_seq": b.begin_seq, "entries": b.entries,
            "digest": format!("{:016x}", b.digest),
        }),
        Record::Digest { shard, digest } => {
            json!({"shard": shard, "digest": format!("{digest:016x}")})
        }
        Record::Heartbeat { highest_seq, live } => {
            json!({"highest_seq": highest_seq, "live": live})
        }
    };
    if let Value::Object(m) = &mut v {
        m.insert("section".into(), json!(sec));
    }
    v
}

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
                for r in records {
                    i += 1;
                    lines.push(format!(
                        "{}.{i}  {} {}",
                        f.n,
                        section_label(sec.kind),
                        record_text(r)
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
            .filter_map(|s| s.records.as_ref().ok().map(|r| (s.kind, r)))
            .flat_map(|(k, r)| r.iter().map(move |r| record_json(k, r)))
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
