//! The HTTP health port and the Prometheus metrics of tandemd.
//!
//! A minimal HTTP/1.1 server: one thread running an event loop over
//! every connection (the `mio` crate, epoll), no async runtime. It answers three paths of
//! [`HealthConfig`]:
//!
//! - `path` (`/health`): 200 with `active_body` when every instance the
//!   probe watches is Active on this node, else 503 with `standby_body`.
//!   Cloud load balancers send traffic to the node that answers 200. The
//!   body is exactly the configured one; the `X-Tandem-State` header says
//!   why (`active`, `standby`, `partner-unreachable`, `pacified`,
//!   `maintenance`, `fault`, `stopped`, `unknown-instance`); with
//!   `[sync]`, `X-Tandem-Sync` carries configuration sync's state.
//! - `live_path` (`/live`): 200 `alive` whenever the daemon runs.
//! - `metrics_path` (`/metrics`): the Prometheus text exposition format
//!   0.0.4 ([`metrics_text`]).
//!
//! Anything else is 404, and a method other than GET or HEAD on a known
//! path is 405. [`respond`] holds all of that logic and touches no socket;
//! [`serve`] binds the port and answers from the daemon's
//! [`NodeSnapshot`]. docs/health.md documents the port.

mod replication;
mod server;
mod sync;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, RwLock};

use crate::config::HealthConfig;
use crate::snapshot::{InstanceStatus, Light, NodeSnapshot};

pub use server::{HttpError, HttpGuard, BUSY_BODY, MAX_CONNECTIONS, MAX_HEAD_BYTES, READ_TIMEOUT};
pub use sync::{SYNC_HEADER, SYNC_STATES};

/// The content type of the health and liveness bodies.
pub const TEXT_PLAIN: &str = "text/plain; charset=utf-8";
/// The content type of the health path's JSON answer.
pub const APPLICATION_JSON: &str = "application/json";
/// The content type of the metrics: Prometheus text exposition 0.0.4.
pub const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// The body of the liveness path.
pub const LIVE_BODY: &str = "alive\n";
/// The header that says why the health path answered as it did.
pub const STATE_HEADER: &str = "X-Tandem-State";
/// The header that lists the watched instances and their states
/// (`name=State`, separated by spaces).
pub const INSTANCES_HEADER: &str = "X-Tandem-Instances";

/// The states an instance can be in (RFC 9568 names, plus `Fault`); the
/// metrics carry one `tandem_instance_state` series for each.
pub const STATES: [&str; 4] = ["Initialize", "Backup", "Active", "Fault"];

const LIGHTS: [Light; 7] = [
    Light::Active,
    Light::Standby,
    Light::PartnerUnreachable,
    Light::Pacified,
    Light::Maintenance,
    Light::Fault,
    Light::Stopped,
];

/// The longest `X-Tandem-Instances` value sent; longer lists end in `...`.
const MAX_INSTANCES_HEADER: usize = 2048;

/// An HTTP response, before it is written to the socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The `Content-Type` header.
    pub content_type: &'static str,
    /// The body; a HEAD request gets the headers of it but not the bytes.
    pub body: String,
    /// Further headers (`Allow`, `X-Tandem-State`, ...).
    pub headers: Vec<(&'static str, String)>,
}

impl Response {
    fn text(status: u16, body: impl Into<String>) -> Response {
        Response {
            status,
            content_type: TEXT_PLAIN,
            body: body.into(),
            headers: Vec::new(),
        }
    }

    /// The value of header `name` (case-insensitive), if set.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The reason phrase of the status codes the server sends.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// Starts the health port: binds `cfg.listen` and answers from `snapshot`
/// on a thread of its own until the returned guard is dropped.
pub fn serve(
    cfg: &HealthConfig,
    snapshot: Arc<RwLock<NodeSnapshot>>,
) -> Result<HttpGuard, HttpError> {
    server::start(cfg.clone(), snapshot)
}

/// The answer to `method` on `path` (the request target without its query
/// string), given the node as `snap` shows it. Pure: the server calls it
/// for every well-formed request.
pub fn respond(cfg: &HealthConfig, snap: &NodeSnapshot, method: &str, path: &str) -> Response {
    respond_as(cfg, snap, method, path, Format::Text)
}

/// The form of the health path's body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `active_body` / `standby_body`, as configured.
    Text,
    /// A JSON object ([`health_json`]): asked for with `?format=json` or
    /// `Accept: application/json`.
    Json,
}

/// [`respond`], with the health path's body in `format`; the status code
/// and headers are the same in either form.
pub fn respond_as(
    cfg: &HealthConfig,
    snap: &NodeSnapshot,
    method: &str,
    path: &str,
    format: Format,
) -> Response {
    let known = path == cfg.path || path == cfg.live_path || path == cfg.metrics_path;
    if !known {
        return Response::text(404, "not found\n");
    }
    if method != "GET" && method != "HEAD" {
        let mut r = Response::text(405, "method not allowed\n");
        r.headers.push(("Allow", "GET, HEAD".into()));
        return r;
    }
    if path == cfg.path {
        let mut r = health(cfg, snap);
        if format == Format::Json {
            r.content_type = APPLICATION_JSON;
            r.body = health_json(&r, snap);
        }
        r
    } else if path == cfg.live_path {
        Response::text(200, LIVE_BODY)
    } else {
        Response {
            status: 200,
            content_type: METRICS_CONTENT_TYPE,
            body: metrics_text(snap),
            headers: Vec::new(),
        }
    }
}

/// The health path: 200 when every watched instance is Active.
fn health(cfg: &HealthConfig, snap: &NodeSnapshot) -> Response {
    let mut watched: Vec<InstanceStatus> = Vec::new();
    let mut missing = false;
    if cfg.instances.is_empty() {
        watched.extend(snap.instances.iter().cloned());
    } else {
        for name in &cfg.instances {
            match snap.instance(name) {
                Some(i) => watched.push(i.clone()),
                None => missing = true,
            }
        }
    }
    let all_active = !watched.is_empty() && !missing && watched.iter().all(|i| i.state == "Active");
    let state = if missing {
        "unknown-instance"
    } else {
        match NodeSnapshot::node_light(&watched) {
            // The node light passes over instances still initializing.
            Light::Standby if watched.iter().any(|i| i.light == Light::Stopped) => "stopped",
            l => light_slug(l),
        }
    };
    let mut r = if all_active {
        Response::text(200, cfg.active_body.clone())
    } else {
        Response::text(503, cfg.standby_body.clone())
    };
    r.headers.push((STATE_HEADER, state.into()));
    let mut list = String::new();
    for i in &watched {
        if !list.is_empty() {
            list.push(' ');
        }
        let _ = write!(list, "{}={}", i.name, i.state);
    }
    for name in &cfg.instances {
        if snap.instance(name).is_none() {
            if !list.is_empty() {
                list.push(' ');
            }
            let _ = write!(list, "{name}=missing");
        }
    }
    r.headers
        .push((INSTANCES_HEADER, header_value(&list, MAX_INSTANCES_HEADER)));
    if let Some(sync) = &snap.sync {
        r.headers.push((SYNC_HEADER, header_value(&sync.state, 64)));
    }
    r
}

/// The health path's JSON body, made from the text answer `r` (its status
/// and headers) and `snap`: `status` (the code), `active` (every watched
/// instance Active), `state` (as `X-Tandem-State`), `instances` (each
/// watched one: `name`, `state`, `group`; a missing one has state
/// `missing`), `sync` (as `X-Tandem-Sync`; `null` without `[sync]`),
/// `replication` (replication's state; `null` without `[replication]`),
/// `cloud` (`role`, `failback`, `state`, `hook`; `null` without
/// `[cloud]`), `checks` (each check's `name` and `state`), `version`.
/// docs/health.md lists the values.
pub fn health_json(r: &Response, snap: &NodeSnapshot) -> String {
    let list = r.header(INSTANCES_HEADER).unwrap_or("");
    let instances: Vec<serde_json::Value> = list
        .split(' ')
        .filter_map(|pair| pair.split_once('='))
        .map(|(name, state)| {
            let group = snap.instance(name).and_then(|i| i.group.clone());
            serde_json::json!({"name": name, "state": state, "group": group})
        })
        .collect();
    let cloud = snap.cloud.as_ref().map(|c| {
        serde_json::json!({
            "role": c.role, "failback": c.failback, "state": c.state, "hook": c.hook,
        })
    });
    let v = serde_json::json!({
        "status": r.status,
        "active": r.status == 200,
        "state": r.header(STATE_HEADER),
        "instances": instances,
        "sync": snap.sync.as_ref().map(|s| &s.state),
        "replication": snap.replication.as_ref().map(|s| &s.state),
        "cloud": cloud,
        "checks": snap.checks.iter().map(|c| serde_json::json!({"name": c.name, "state": c.state})).collect::<Vec<_>>(),
        "version": snap.version,
    });
    let mut body = v.to_string();
    body.push('\n');
    body
}

/// A header value made of visible ASCII and spaces only, at most `max`
/// bytes.
fn header_value(s: &str, max: usize) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c == ' ' || c.is_ascii_graphic() {
                c
            } else {
                '?'
            }
        })
        .collect();
    if out.len() > max {
        out.truncate(max.saturating_sub(3));
        out.push_str("...");
    }
    out
}

/// The light as a label value / header token.
pub fn light_slug(light: Light) -> &'static str {
    match light {
        Light::Active => "active",
        Light::Standby => "standby",
        Light::PartnerUnreachable => "partner-unreachable",
        Light::Pacified => "pacified",
        Light::Maintenance => "maintenance",
        Light::Fault => "fault",
        Light::Stopped => "stopped",
    }
}

/// Escapes a label value of the Prometheus text format: backslash, double
/// quote and line feed.
pub fn escape_label_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// A sample value as the text format writes it (`NaN`, `+Inf`, `-Inf`).
fn value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v}")
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Reads one counter of an instance.
type CounterOf = fn(&InstanceStatus) -> u64;

/// The labels that name an instance: `instance`, `interface`, `vrid`,
/// `protocol`.
fn instance_labels(i: &InstanceStatus) -> String {
    format!(
        "instance=\"{}\",interface=\"{}\",vrid=\"{}\",protocol=\"{}\"",
        escape_label_value(&i.name),
        escape_label_value(&i.interface),
        i.vrid,
        escape_label_value(&i.protocol),
    )
}

/// The metrics of the node in the Prometheus text exposition format
/// 0.0.4: a `# HELP` and a `# TYPE` line per family, then its series.
///
/// Per instance (labels `instance`, `interface`, `vrid`, `protocol`):
/// `tandem_instance_state` (one series per state, 1 for the current one),
/// `tandem_instance_priority`, `tandem_transitions_total`,
/// `tandem_adverts_sent_total`, `tandem_adverts_received_total`,
/// `tandem_errors_total` (label `kind`, one series per kind seen) and
/// `tandem_last_transition_timestamp_seconds` (instances that changed
/// state). Per node: `tandem_node_light` (one series per light),
/// `tandem_up`, `tandem_uptime_seconds`, `tandem_build_info`. With
/// `[sync]`: the `tandem_sync_*` families (`tandem_sync_state` with one
/// series per [`SYNC_STATES`] name, the generation, bytes and counts).
pub fn metrics_text(snap: &NodeSnapshot) -> String {
    let mut out = String::with_capacity(1024 + 1024 * snap.instances.len());
    let labelled: Vec<(String, &InstanceStatus)> = snap
        .instances
        .iter()
        .map(|i| (instance_labels(i), i))
        .collect();

    family(
        &mut out,
        "tandem_up",
        "gauge",
        "1 while tandemd runs and answers.",
    );
    out.push_str("tandem_up 1\n");
    family(
        &mut out,
        "tandem_uptime_seconds",
        "gauge",
        "Seconds since tandemd started.",
    );
    let _ = writeln!(out, "tandem_uptime_seconds {}", value(snap.uptime_s));
    family(
        &mut out,
        "tandem_build_info",
        "gauge",
        "The version of tandemd, as a label; always 1.",
    );
    let _ = writeln!(
        out,
        "tandem_build_info{{version=\"{}\"}} 1",
        escape_label_value(&snap.version)
    );
    family(
        &mut out,
        "tandem_node_light",
        "gauge",
        "The node's status light: 1 for the current light, 0 for the others.",
    );
    for l in LIGHTS {
        let _ = writeln!(
            out,
            "tandem_node_light{{light=\"{}\"}} {}",
            light_slug(l),
            u8::from(snap.light == l)
        );
    }

    family(
        &mut out,
        "tandem_instance_state",
        "gauge",
        "The state of the instance: 1 for the current state, 0 for the others.",
    );
    for (labels, i) in &labelled {
        for s in STATES {
            let _ = writeln!(
                out,
                "tandem_instance_state{{{labels},state=\"{s}\"}} {}",
                u8::from(i.state == s)
            );
        }
        if !STATES.contains(&i.state.as_str()) {
            let _ = writeln!(
                out,
                "tandem_instance_state{{{labels},state=\"{}\"}} 1",
                escape_label_value(&i.state)
            );
        }
    }
    family(
        &mut out,
        "tandem_instance_priority",
        "gauge",
        "The priority the instance advertises now (CARP: 255 - advskew).",
    );
    for (labels, i) in &labelled {
        let _ = writeln!(out, "tandem_instance_priority{{{labels}}} {}", i.priority);
    }
    let counters: [(&str, &str, CounterOf); 3] = [
        (
            "tandem_transitions_total",
            "State changes of the instance.",
            |i| i.counters.transitions,
        ),
        (
            "tandem_adverts_sent_total",
            "Adverts the instance sent.",
            |i| i.counters.adverts_sent,
        ),
        (
            "tandem_adverts_received_total",
            "Adverts received and handed to the instance's election.",
            |i| i.counters.adverts_received,
        ),
    ];
    for (name, help, get) in counters {
        family(&mut out, name, "counter", help);
        for (labels, i) in &labelled {
            let _ = writeln!(out, "{name}{{{labels}}} {}", get(i));
        }
    }
    family(
        &mut out,
        "tandem_errors_total",
        "counter",
        "Problems by kind: decode errors (checksum, length, ...) and diagnostics (bad_ttl, auth, split_brain, ...).",
    );
    for (labels, i) in &labelled {
        for (kind, n) in &i.counters.errors {
            let _ = writeln!(
                out,
                "tandem_errors_total{{{labels},kind=\"{}\"}} {n}",
                escape_label_value(kind)
            );
        }
    }
    family(
        &mut out,
        "tandem_last_transition_timestamp_seconds",
        "gauge",
        "Unix time of the instance's last state change.",
    );
    for (labels, i) in &labelled {
        if let Some(t) = &i.last_transition {
            let _ = writeln!(
                out,
                "tandem_last_transition_timestamp_seconds{{{labels}}} {}",
                value(t.at_unix)
            );
        }
    }
    node_counters(&mut out, &snap.counters);
    if let Some(sync) = &snap.sync {
        sync::sync_metrics(&mut out, sync, &snap.counters);
    }
    if let Some(r) = &snap.replication {
        replication::replication_metrics(&mut out, r);
    }
    if let Some(c) = &snap.cloud {
        cloud_metrics(&mut out, c);
    }
    if !snap.checks.is_empty() {
        check_metrics(&mut out, &snap.checks);
    }
    out
}

/// With `[[check]]`: `tandem_check_state{check,kind,state}` (1 for the
/// check's state: `up`, `down` or `unknown`), `tandem_check_runs_total
/// {check,result}` (`pass`, `fail`), `tandem_check_duration_seconds
/// {check}` (the last run), `tandem_check_changes_total{check}`, and for
/// file checks `tandem_check_value{check}`.
fn check_metrics(out: &mut String, checks: &[crate::snapshot::CheckStatus]) {
    family(
        out,
        "tandem_check_state",
        "gauge",
        "1 for the health check's state (up, down, unknown), 0 for the others.",
    );
    for c in checks {
        for state in ["up", "down", "unknown"] {
            let _ = writeln!(
                out,
                "tandem_check_state{{check=\"{}\",kind=\"{}\",state=\"{state}\"}} {}",
                escape_label_value(&c.name),
                escape_label_value(&c.kind),
                u8::from(c.state == state)
            );
        }
    }
    family(
        out,
        "tandem_check_runs_total",
        "counter",
        "Runs of the health check that ended, by result (pass includes a file check's reads).",
    );
    for c in checks {
        let name = escape_label_value(&c.name);
        let _ = writeln!(
            out,
            "tandem_check_runs_total{{check=\"{name}\",result=\"pass\"}} {}",
            c.passes
        );
        let _ = writeln!(
            out,
            "tandem_check_runs_total{{check=\"{name}\",result=\"fail\"}} {}",
            c.failures
        );
    }
    family(
        out,
        "tandem_check_changes_total",
        "counter",
        "Times the health check went up or down.",
    );
    for c in checks {
        let _ = writeln!(
            out,
            "tandem_check_changes_total{{check=\"{}\"}} {}",
            escape_label_value(&c.name),
            c.changes
        );
    }
    family(
        out,
        "tandem_check_duration_seconds",
        "gauge",
        "How long the health check's last run took.",
    );
    for c in checks {
        if let Some(t) = c.took_s {
            let _ = writeln!(
                out,
                "tandem_check_duration_seconds{{check=\"{}\"}} {}",
                escape_label_value(&c.name),
                value(t)
            );
        }
    }
    if checks.iter().any(|c| c.value.is_some()) {
        family(
            out,
            "tandem_check_value",
            "gauge",
            "The number a file health check read last.",
        );
        for c in checks {
            if let Some(v) = c.value {
                let _ = writeln!(
                    out,
                    "tandem_check_value{{check=\"{}\"}} {v}",
                    escape_label_value(&c.name)
                );
            }
        }
    }
}

/// With `[cloud]`: `tandem_cloud_active` (1 while every watched instance
/// is Active) and `tandem_cloud_hook_runs_total{hook,result}` (one series
/// per hook and result seen).
fn cloud_metrics(out: &mut String, c: &crate::snapshot::CloudStatus) {
    family(
        out,
        "tandem_cloud_active",
        "gauge",
        "1 while every instance the [cloud] hooks watch is Active on this node.",
    );
    let _ = writeln!(out, "tandem_cloud_active {}", u8::from(c.state == "active"));
    family(
        out,
        "tandem_cloud_hook_runs_total",
        "counter",
        "Runs of the [cloud] provider hook that ended, by hook and result.",
    );
    for (key, n) in &c.results {
        let (hook, result) = key.split_once(' ').unwrap_or((key.as_str(), ""));
        let _ = writeln!(
            out,
            "tandem_cloud_hook_runs_total{{hook=\"{}\",result=\"{}\"}} {n}",
            escape_label_value(hook),
            escape_label_value(result)
        );
    }
}

/// The node's own counters: every one in [`NodeCounters`] has a series.
fn node_counters(out: &mut String, c: &crate::snapshot::NodeCounters) {
    let plain: [(&str, &str, u64); 5] = [
        (
            "tandem_node_adverts_sent_total",
            "Adverts the node sent (one per destination).",
            c.adverts_sent,
        ),
        (
            "tandem_node_adverts_received_total",
            "Well-formed adverts the node received.",
            c.adverts_received,
        ),
        (
            "tandem_node_unknown_vrid_total",
            "Well-formed adverts for a VRID no instance runs on their interface.",
            c.unknown_vrid,
        ),
        (
            "tandem_node_events_suppressed_total",
            "Repeated events counted but not reported (rate limit).",
            c.events_suppressed,
        ),
        (
            "tandem_node_subscribers_dropped_total",
            "Event stream subscribers disconnected for falling too far behind.",
            c.subscribers_dropped,
        ),
    ];
    for (name, help, v) in plain {
        family(out, name, "counter", help);
        let _ = writeln!(out, "{name} {v}");
    }
    let by_kind: [(&str, &str, &BTreeMap<String, u64>); 3] = [
        (
            "tandem_node_dropped_total",
            "Packets that did not decode, by kind.",
            &c.dropped,
        ),
        (
            "tandem_node_diagnostics_total",
            "Diagnostics of the election, by kind.",
            &c.diagnostics,
        ),
        (
            "tandem_node_unknown_vrids_total",
            "Adverts for VRIDs no instance runs, by interface and VRID.",
            &c.unknown_vrids,
        ),
    ];
    for (name, help, map) in by_kind {
        family(out, name, "counter", help);
        for (kind, n) in map {
            let _ = writeln!(out, "{name}{{kind=\"{}\"}} {n}", escape_label_value(kind));
        }
    }
    family(
        out,
        "tandem_node_queue_drops_total",
        "counter",
        "Items dropped because a bounded queue was full: queue input (packets to the loop), log (log lines), events (event stream lines).",
    );
    for (queue, n) in [
        ("input", c.input_queue_drops),
        ("log", c.log_lines_dropped),
        ("events", c.event_lines_dropped),
    ] {
        let _ = writeln!(
            out,
            "tandem_node_queue_drops_total{{queue=\"{queue}\"}} {n}"
        );
    }
}

#[cfg(test)]
mod tests;
