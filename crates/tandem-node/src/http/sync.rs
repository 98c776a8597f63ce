//! Configuration sync on the health port: the `X-Tandem-Sync` header and
//! the `tandem_sync_*` series (docs/health.md). Both appear only when the
//! node has `[sync]`.

use std::fmt::Write as _;

use super::{escape_label_value, family, value};
use crate::snapshot::{NodeCounters, SyncStatus};

/// The header of the health path that carries the sync state
/// (`in-sync`, `pending`, ...), present when the node has `[sync]`.
pub const SYNC_HEADER: &str = "X-Tandem-Sync";

/// The sync states: `tandem_sync_state` has one series for each, 1 for
/// the current one (`off`: sync could not start).
pub const SYNC_STATES: [&str; 8] = [
    "in-sync",
    "pending",
    "syncing",
    "diverged",
    "conflict",
    "blocked",
    "disconnected",
    "off",
];

/// The `tandem_sync_*` families: `tandem_sync_state` (label `state`),
/// `tandem_sync_connected`, `tandem_sync_generation`, and the counters
/// `tandem_sync_bytes_sent_total`, `tandem_sync_bytes_received_total`,
/// `tandem_sync_applied_total`, `tandem_sync_rejected_total`,
/// `tandem_sync_conflicts_total`, `tandem_sync_connections_refused_total`,
/// `tandem_sync_write_queue_full_total`.
pub(super) fn sync_metrics(out: &mut String, s: &SyncStatus, c: &NodeCounters) {
    family(
        out,
        "tandem_sync_state",
        "gauge",
        "Configuration sync's state: 1 for the current state, 0 for the others.",
    );
    for name in SYNC_STATES {
        let _ = writeln!(
            out,
            "tandem_sync_state{{state=\"{name}\"}} {}",
            u8::from(s.state == name)
        );
    }
    if !SYNC_STATES.contains(&s.state.as_str()) {
        let _ = writeln!(
            out,
            "tandem_sync_state{{state=\"{}\"}} 1",
            escape_label_value(&s.state)
        );
    }
    let gauges: [(&str, &str, f64); 2] = [
        (
            "tandem_sync_connected",
            "1 while a connection to the partner is open.",
            f64::from(u8::from(s.connected)),
        ),
        (
            "tandem_sync_generation",
            "The generation of this unit's configuration authority.",
            s.local_generation as f64,
        ),
    ];
    for (name, help, v) in gauges {
        family(out, name, "gauge", help);
        let _ = writeln!(out, "{name} {}", value(v));
    }
    let counters: [(&str, &str, u64); 7] = [
        (
            "tandem_sync_bytes_sent_total",
            "Bytes written to the partner's sync connection.",
            s.bytes_sent,
        ),
        (
            "tandem_sync_bytes_received_total",
            "Bytes read from the partner's sync connection.",
            s.bytes_received,
        ),
        (
            "tandem_sync_applied_total",
            "Configuration changes from the partner applied here.",
            s.applied,
        ),
        (
            "tandem_sync_rejected_total",
            "Configuration changes refused, by the partner or here.",
            s.rejected,
        ),
        (
            "tandem_sync_conflicts_total",
            "Concurrent edits of one object resolved (bidirectional mode).",
            s.conflicts,
        ),
        (
            "tandem_sync_connections_refused_total",
            "Sync connections closed at once because one was already open.",
            c.sync_connections_refused,
        ),
        (
            "tandem_sync_write_queue_full_total",
            "Sync connections closed because the partner did not read.",
            c.sync_write_queue_full,
        ),
    ];
    for (name, help, v) in counters {
        family(out, name, "counter", help);
        let _ = writeln!(out, "{name} {v}");
    }
}

#[cfg(test)]
mod tests;
