//! `tandemd sync status`, `sync diff`, `sync force` and `config apply/set`
//! as a person reads them, and the JSON forms docs/control.md documents.
//! Every string from the daemon is [`escape`]d before it reaches a
//! terminal.

use std::fmt::Write as _;

use serde_json::{json, Value};

use super::{escape, seconds};
use crate::control::api::{DiffLine, SyncOutcome};
use crate::snapshot::SyncStatus;

fn esc(text: &str) -> String {
    escape(text).into_owned()
}

/// The detail of `s` split as its state has it: (`reason`, `sections`,
/// `objects`).
fn detail_parts(s: &SyncStatus) -> (Option<String>, Option<Vec<String>>, Option<Vec<String>>) {
    let list = |d: &str| -> Vec<String> {
        d.split(", ")
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect()
    };
    match (s.state.as_str(), s.detail.as_deref()) {
        ("blocked", Some(d)) => (Some(d.to_string()), None, None),
        ("off", _) => (s.last_error.clone().or(s.detail.clone()), None, None),
        ("diverged", Some(d)) => (None, Some(list(d)), None),
        ("conflict", Some(d)) => (None, None, Some(list(d))),
        _ => (None, None, None),
    }
}

/// An epoch as `sync status` writes it: 16 hex digits.
pub fn epoch_hex(epoch: u64) -> String {
    format!("{epoch:016x}")
}

/// `sync status --json` (and the `"sync"` member of `status --json`):
/// `state`, `reason` / `sections` / `objects` when the state has them,
/// `local` {`epoch`, `generation`, `root`}, `partner` {`unit`, `version`,
/// `epoch`, `generation`, `root`} or null, `last_success_ago_s`,
/// `last_error`, `bytes_sent`, `bytes_received`, `config_bytes_sent`, `applied`, `rejected`,
/// `conflicts`, and `mode`, `unit`, `role`, `ready`, `connected`.
pub fn sync_status_json(s: &SyncStatus) -> Value {
    let (reason, sections, objects) = detail_parts(s);
    let partner = s.peer_unit.as_ref().map(|unit| {
        json!({
            "unit": unit,
            "version": s.peer_software,
            "epoch": s.peer_epoch.map(epoch_hex),
            "generation": s.peer_generation,
            "root": s.peer_root,
        })
    });
    let mut v = json!({
        "state": s.state,
        "mode": s.mode,
        "unit": s.unit,
        "role": s.role,
        "ready": s.ready,
        "connected": s.connected,
        "local": {
            "epoch": epoch_hex(s.local_epoch),
            "generation": s.local_generation,
            "root": s.local_root,
        },
        "partner": partner,
        "last_success_ago_s": s.last_success_age_s,
        "last_error": s.last_error,
        "bytes_sent": s.bytes_sent,
        "bytes_received": s.bytes_received,
        "config_bytes_sent": s.config_bytes_sent,
        "applied": s.applied,
        "rejected": s.rejected,
        "conflicts": s.conflicts,
    });
    if let Value::Object(m) = &mut v {
        if let Some(r) = reason {
            m.insert("reason".into(), json!(r));
        }
        if let Some(l) = sections {
            m.insert("sections".into(), json!(l));
        }
        if let Some(l) = objects {
            m.insert("objects".into(), json!(l));
        }
    }
    v
}

/// `sync status` in words: `sync: STATE`, the state's reason, sections or
/// objects, then `local:`, `partner:`, `last success:`, `last error:`,
/// `bytes:` and the counts.
pub fn render_sync_status(s: &SyncStatus) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "sync: {}", esc(&s.state));
    let (reason, sections, objects) = detail_parts(s);
    if let Some(r) = reason {
        let _ = writeln!(out, "reason: {}", esc(&r));
    }
    if let Some(l) = sections {
        let _ = writeln!(out, "sections: {}", esc(&l.join(", ")));
    }
    if let Some(l) = objects {
        let _ = writeln!(out, "objects: {}", esc(&l.join(", ")));
    }
    if s.state == "pending" {
        if let Some(d) = &s.detail {
            let _ = writeln!(out, "pending: {}", esc(d));
        }
    }
    let _ = writeln!(
        out,
        "local: epoch {} generation {} root {}",
        epoch_hex(s.local_epoch),
        s.local_generation,
        or_unknown(&s.local_root)
    );
    match &s.peer_unit {
        Some(unit) => {
            let _ = writeln!(
                out,
                "partner: unit {} tandemd {} epoch {} generation {} root {}",
                esc(unit),
                s.peer_software.as_deref().map_or("?".into(), esc),
                s.peer_epoch.map_or("?".into(), epoch_hex),
                s.peer_generation.map_or("?".into(), |g| g.to_string()),
                s.peer_root.as_deref().map_or("?".into(), or_unknown),
            );
        }
        None => out.push_str("partner: none\n"),
    }
    match s.last_success_age_s {
        Some(age) if age.is_finite() => {
            let _ = writeln!(out, "last success: {} ago", whole_seconds(age));
        }
        _ => out.push_str("last success: never\n"),
    }
    let _ = writeln!(
        out,
        "last error: {}",
        s.last_error.as_deref().map_or("none".into(), esc)
    );
    let _ = writeln!(
        out,
        "bytes: sent {} received {} (configuration sent {})",
        s.bytes_sent, s.bytes_received, s.config_bytes_sent
    );
    let _ = writeln!(
        out,
        "applied {} rejected {} conflicts {}",
        s.applied, s.rejected, s.conflicts
    );
    out
}

/// `12 s`: whole seconds, never negative.
fn whole_seconds(s: f64) -> String {
    format!("{} s", s.max(0.0) as u64)
}

fn or_unknown(s: &str) -> String {
    if s.is_empty() {
        "?".into()
    } else {
        esc(s)
    }
}

/// Differing fields grouped by object, in the order given.
fn by_object(lines: &[DiffLine]) -> Vec<(&str, Vec<&DiffLine>)> {
    let mut groups: Vec<(&str, Vec<&DiffLine>)> = Vec::new();
    for l in lines {
        match groups.last_mut() {
            Some((object, fields)) if *object == l.object => fields.push(l),
            _ => groups.push((&l.object, vec![l])),
        }
    }
    groups
}

/// A value of a diff line: the TOML the daemon sent (secrets already
/// `"***"`), or `absent`.
fn shown(v: Option<&str>) -> String {
    v.map_or("absent".into(), esc)
}

/// The blocks of `sync diff` (and of `sync force`): `OBJECT`, then one
/// `  field: local VALUE | partner VALUE` line per field.
fn diff_blocks(out: &mut String, lines: &[DiffLine]) {
    for (object, fields) in by_object(lines) {
        let _ = writeln!(out, "{}", esc(object));
        for f in fields {
            let _ = writeln!(
                out,
                "  {}: local {} | partner {}",
                esc(&f.field),
                shown(f.local.as_deref()),
                shown(f.peer.as_deref())
            );
        }
    }
}

/// `sync diff` in words; `in sync: no differences` when there are none.
pub fn render_diff(lines: &[DiffLine]) -> String {
    if lines.is_empty() {
        return "in sync: no differences\n".into();
    }
    let mut out = String::new();
    diff_blocks(&mut out, lines);
    out
}

/// `sync diff --json`: `[{"object", "fields": [{"field", "local",
/// "partner"}]}]`, a value null where the field is absent.
pub fn diff_json(lines: &[DiffLine]) -> Value {
    Value::Array(
        by_object(lines)
            .into_iter()
            .map(|(object, fields)| {
                let fields: Vec<Value> = fields
                    .iter()
                    .map(|f| json!({"field": f.field, "local": f.local, "partner": f.peer}))
                    .collect();
                json!({"object": object, "fields": fields})
            })
            .collect(),
    )
}

/// `sync force` in words: `forced: epoch E generation G; overwrites on the
/// partner:` and the objects as `sync diff` shows them.
pub fn render_forced(epoch: u64, generation: u64, overwritten: &[DiffLine]) -> String {
    let mut out = format!(
        "forced: epoch {} generation {generation}; overwrites on the partner:\n",
        epoch_hex(epoch)
    );
    if overwritten.is_empty() {
        out.push_str("  nothing known to differ\n");
    } else {
        diff_blocks(&mut out, overwritten);
    }
    out
}

/// `config apply` / `config set` / `config unset` in one line, and the
/// exit status: 0 applied, 3 the partner refused it.
pub fn render_applied(sync: &SyncOutcome, elapsed_ms: u128) -> (String, u8) {
    let line = match sync {
        SyncOutcome::Acked { generation } => {
            format!("applied: generation {generation}, partner applied (in {elapsed_ms} ms)")
        }
        SyncOutcome::Pending { generation } => {
            format!("applied here: generation {generation}; partner pending")
        }
        SyncOutcome::Rejected {
            code, path, text, ..
        } => {
            let line = format!(
                "refused by the partner: {} at {}: {}",
                esc(code),
                esc(path),
                esc(text)
            );
            return (format!("{line}\n"), 3);
        }
        SyncOutcome::NotConfigured => "applied (no [sync]: nothing to send)".into(),
        SyncOutcome::Unchanged => "applied: nothing shared changed, nothing sent".into(),
        SyncOutcome::NotSynced { reason } => {
            format!("applied here; not synced: {}", esc(reason))
        }
    };
    (format!("{line}\n"), 0)
}

/// The `sync` line of `tandemd status`: the state and its detail.
pub(crate) fn status_line(s: &SyncStatus) -> String {
    let mut line = format!("sync: {}", s.state);
    if let Some(d) = &s.detail {
        let _ = write!(line, " ({d})");
    }
    if let Some(unit) = &s.peer_unit {
        let _ = write!(line, ", partner {unit}");
    }
    if let Some(age) = s.last_success_age_s {
        let _ = write!(line, ", last success {} ago", seconds(age.max(0.0).floor()));
    }
    line
}

#[cfg(test)]
pub(crate) mod tests;
