//! The names and words of the replication link's values: section types,
//! protocols, states, status bits, flags, flows and records, as text and
//! as JSON ([`super::render`] puts them together per frame and message).

use std::fmt::Write as _;
use std::net::SocketAddr;

use serde_json::{json, Map, Value};
use tandem_replication::conntrackd::msg;
use tandem_replication::flow::{proto, Flow, Tuple, NO_BACKEND};
use tandem_replication::persist::PersistKey;
use tandem_replication::wire::{flags, kind, Record, ResyncReason, Role};

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

pub(super) fn section_label(k: u8) -> String {
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

pub(super) fn list(v: &[String]) -> String {
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

/// `of tcp A:p -> B:q `: the flow a handle names, when known.
fn of_text(known: Option<&Flow>) -> String {
    known.map_or_else(String::new, |f| {
        format!("of {} {} ", proto_name(f.proto), ends(&f.original, f.proto))
    })
}

/// The flow a handle names as JSON (`proto` and `original`), or `null`.
fn of_json(known: Option<&Flow>) -> Value {
    known.map_or(
        Value::Null,
        |f| json!({"proto": proto_name(f.proto), "original": tuple_json(&f.original, f.proto)}),
    )
}

/// One record in words, after its section's name. `known` is the flow an
/// update, delete or window record's handle names, when an earlier frame
/// of the same stream carried it: its tuple is shown, and the state's name.
pub fn record_text(r: &Record, known: Option<&Flow>) -> String {
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
            "slot {} gen {} {}state {} status {} lifetime {lifetime_ms}ms",
            handle.slot,
            handle.gen,
            of_text(known),
            known
                .and_then(|f| state_name(f.proto, *state))
                .map_or_else(|| state.to_string(), str::to_string),
            list(&status_names(u32::from(*status)))
        ),
        Record::FlowDelete { handle } => format!(
            "slot {} gen {} {}",
            handle.slot,
            handle.gen,
            of_text(known)
        )
        .trim_end()
        .to_string(),
        Record::FlowWindow { handle, window: w } => {
            let mut s = format!("slot {} gen {}", handle.slot, handle.gen);
            if known.is_some() {
                s.push(' ');
                s.push_str(of_text(known).trim_end());
            }
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

/// One record as JSON, `section` naming the section it came in; `known`
/// as for [`record_text`] (key `of` of an update, delete or window).
pub fn record_json(section: u8, r: &Record, known: Option<&Flow>) -> Value {
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
            "slot": handle.slot, "gen": handle.gen, "of": of_json(known),
            "state": known.and_then(|f| state_name(f.proto, *state)), "state_num": state,
            "status": status_names(u32::from(*status)), "status_raw": status,
            "lifetime_ms": lifetime_ms,
        }),
        Record::FlowDelete { handle } => {
            json!({"slot": handle.slot, "gen": handle.gen, "of": of_json(known)})
        }
        Record::FlowWindow { handle, window: w } => json!({
            "slot": handle.slot, "gen": handle.gen, "of": of_json(known), "scale": w.scale,
            "flags": w.flags, "end": w.end, "max_end": w.max_end, "max_window": w.max_window,
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
