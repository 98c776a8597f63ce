//! Replication on the metrics page: the `tandem_replication_*` series
//! (docs/health.md), present when the node has `[replication]`.

use std::fmt::Write as _;

use super::{family, value};
use crate::snapshot::ReplicationStatus;

/// The `tandem_replication_*` families: the gauges
/// `tandem_replication_in_sync`, `tandem_replication_partner_up`,
/// `tandem_replication_local_flows`, `tandem_replication_mirror_flows`,
/// `tandem_replication_pending`, and the counters
/// `tandem_replication_frames_sent_total`, `..._bytes_sent_total`,
/// `..._frames_received_total`, `..._records_repaired_total`,
/// `..._frames_lost_total`, `..._resyncs_requested_total`,
/// `..._bulks_sent_total`, `..._digest_mismatches_total`,
/// `..._refused_total`, `..._table_full_total`, `..._ignored_total`,
/// `..._installed_total`, `..._install_failed_total`, and the host's
/// `..._datagrams_dropped_total`, `..._foreign_source_total`,
/// `..._truncated_total`, `..._send_failed_total`,
/// `..._table_events_lost_total`.
pub(super) fn replication_metrics(out: &mut String, r: &ReplicationStatus) {
    let gauges: [(&str, &str, f64); 5] = [
        (
            "tandem_replication_in_sync",
            "1 while this unit's mirror of the partner's table is complete and verified.",
            f64::from(u8::from(r.in_sync)),
        ),
        (
            "tandem_replication_partner_up",
            "1 while the partner's replication frames arrive.",
            f64::from(u8::from(r.partner_up)),
        ),
        (
            "tandem_replication_local_flows",
            "Flows in this unit's table.",
            r.local_flows as f64,
        ),
        (
            "tandem_replication_mirror_flows",
            "Flows in this unit's mirror of the partner's table.",
            r.mirror_flows as f64,
        ),
        (
            "tandem_replication_pending",
            "Changes waiting to be sent.",
            r.pending as f64,
        ),
    ];
    for (name, help, v) in gauges {
        family(out, name, "gauge", help);
        let _ = writeln!(out, "{name} {}", value(v));
    }
    let counters: [(&str, &str, u64); 18] = [
        (
            "tandem_replication_datagrams_dropped_total",
            "Datagrams dropped: the queue to the node's loop was full.",
            r.datagrams_dropped,
        ),
        (
            "tandem_replication_foreign_source_total",
            "Datagrams from an address other than the partner's, dropped.",
            r.foreign_source,
        ),
        (
            "tandem_replication_truncated_total",
            "Datagrams larger than the receive buffer, dropped.",
            r.truncated,
        ),
        (
            "tandem_replication_send_failed_total",
            "Sends that failed.",
            r.send_failed,
        ),
        (
            "tandem_replication_table_events_lost_total",
            "Times connection-tracking changes were lost and the table read whole again.",
            r.table_events_lost,
        ),
        (
            "tandem_replication_frames_sent_total",
            "Replication frames sent.",
            r.frames_sent,
        ),
        (
            "tandem_replication_bytes_sent_total",
            "Replication bytes sent.",
            r.bytes_sent,
        ),
        (
            "tandem_replication_frames_received_total",
            "Replication frames accepted.",
            r.frames_received,
        ),
        (
            "tandem_replication_records_repaired_total",
            "Records sent again to repair loss.",
            r.records_repaired,
        ),
        (
            "tandem_replication_frames_lost_total",
            "Frames the partner reported missing.",
            r.frames_lost,
        ),
        (
            "tandem_replication_resyncs_requested_total",
            "Resyncs asked of the partner.",
            r.resyncs_requested,
        ),
        (
            "tandem_replication_bulks_sent_total",
            "Bulks of this unit's table sent.",
            r.bulks_sent,
        ),
        (
            "tandem_replication_digest_mismatches_total",
            "Shards whose digests differed.",
            r.digest_mismatches,
        ),
        (
            "tandem_replication_refused_total",
            "Datagrams refused: TTL, authentication, replay, malformed.",
            r.refused,
        ),
        (
            "tandem_replication_table_full_total",
            "Flows refused because a table was full.",
            r.table_full,
        ),
        (
            "tandem_replication_ignored_total",
            "Connection-tracking entries not replicated (filtered).",
            r.ignored,
        ),
        (
            "tandem_replication_installed_total",
            "Flows installed into the connection-tracking table at takeovers.",
            r.installed,
        ),
        (
            "tandem_replication_install_failed_total",
            "Flows the connection-tracking table refused at takeovers.",
            r.install_failed,
        ),
    ];
    for (name, help, v) in counters {
        family(out, name, "counter", help);
        let _ = writeln!(out, "{name} {v}");
    }
}
