//! `tandemd status` as a person reads it: the node's light first, then a
//! table of instances, then details per instance.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::snapshot::{InstanceStatus, NodeSnapshot};

pub(crate) mod sync;

/// Whether `c` must not reach a terminal as it is: a control character
/// (C0, DEL, C1: line breaks, escape sequences) or a character that
/// reorders or hides text (bidirectional overrides and isolates,
/// zero-width characters, the byte-order mark).
fn unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

/// `text` with every [`unsafe_char`] written as `\u{XX}`, so that a
/// hostile or damaged snapshot cannot forge lines or send escape
/// sequences to the terminal `tandemd status` prints on.
pub(crate) fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn esc(text: &str) -> String {
    escape(text).into_owned()
}

fn esc_map<V: Clone>(m: &BTreeMap<String, V>) -> BTreeMap<String, V> {
    m.iter().map(|(k, v)| (esc(k), v.clone())).collect()
}

/// The snapshot with every string [`escape`]d.
fn escaped(s: &NodeSnapshot) -> NodeSnapshot {
    let mut s = s.clone();
    s.version = esc(&s.version);
    s.groups = s
        .groups
        .iter()
        .map(|(g, members)| (esc(g), members.iter().map(|m| esc(m)).collect()))
        .collect();
    for i in &mut s.instances {
        i.name = esc(&i.name);
        i.interface = esc(&i.interface);
        i.protocol = esc(&i.protocol);
        i.group = i.group.as_deref().map(esc);
        i.state = esc(&i.state);
        for mode in i.peer_checksum_modes.values_mut() {
            *mode = esc(mode);
        }
        if let Some(t) = &mut i.last_transition {
            t.from = esc(&t.from);
            t.to = esc(&t.to);
            t.reason = esc(&t.reason);
        }
        i.passive = i.passive.as_deref().map(esc);
        i.tracks_down = i.tracks_down.iter().map(|t| esc(t)).collect();
        if let Some(p) = &mut i.partner {
            p.state = esc(&p.state);
        }
        i.counters.errors = esc_map(&i.counters.errors);
    }
    s.counters.dropped = esc_map(&s.counters.dropped);
    s.counters.diagnostics = esc_map(&s.counters.diagnostics);
    s.counters.unknown_vrids = esc_map(&s.counters.unknown_vrids);
    s
}

/// Renders the snapshot as an appliance-style status page (fits 100
/// columns unless names or addresses are very long). Every string of the
/// snapshot is escaped (`\u{XX}`) first, and the page once more but for its own
/// line breaks.
pub fn render_status(s: &NodeSnapshot) -> String {
    let page = page(&escaped(s));
    let lines: Vec<Cow<'_, str>> = page.split('\n').map(escape).collect();
    lines.join("\n")
}

fn page(s: &NodeSnapshot) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "node: {}    tandemd {}, up {}",
        s.light.words(),
        s.version,
        duration(s.uptime_s)
    );
    let starts = s.restart_guard.recent_starts;
    let _ = write!(out, "recent starts: {starts} in the last hour",);
    if s.restart_guard.pacified {
        out.push_str("; pacified: staying passive (tandemd clear-pacified to resume)");
    }
    out.push('\n');
    if s.maintenance {
        out.push_str(
            "maintenance: on, every instance passive (tandemd maintenance off to resume)\n",
        );
    }
    for (group, members) in &s.groups {
        let _ = writeln!(out, "sync group {group}: {}", members.join(", "));
    }
    if let Some(sync) = &s.sync {
        let _ = writeln!(out, "{}", esc(&sync::status_line(sync)));
    }
    if let Some(r) = &s.replication {
        let _ = writeln!(out, "{}", esc(&replication_line(r)));
    }
    if let Some(c) = &s.cloud {
        let _ = writeln!(out, "{}", esc(&cloud_line(c)));
    }
    for c in &s.checks {
        let _ = writeln!(out, "{}", esc(&check_line(c)));
    }
    node_counters(&mut out, &s.counters);
    if s.instances.is_empty() {
        out.push_str("no instances\n");
        return out;
    }
    out.push('\n');
    out.push_str(&table(s));
    for i in &s.instances {
        out.push('\n');
        details(&mut out, i, s.at_unix);
    }
    out
}

/// What the node dropped or refused, when it did: decode errors, unknown
/// VRIDs, full queues, suppressed repeats.
/// `cloud: active, role primary (failback), on_active done (attempt 2, last ok)`
pub(crate) fn cloud_line(c: &crate::snapshot::CloudStatus) -> String {
    let mut line = format!("cloud: {}", c.state);
    if let Some(role) = &c.role {
        let fb = if c.failback {
            "failback"
        } else {
            "no failback"
        };
        line.push_str(&format!(", role {role} ({fb})"));
    }
    if let Some(h) = &c.hook {
        line.push_str(&format!(", {} {} (attempt {}", h.hook, h.state, h.attempt));
        if let Some(r) = &h.last_result {
            line.push_str(&format!(", last {r}"));
        }
        line.push(')');
    }
    line
}

/// `check nginx (script): down after 3 failures, last fail "exit 1" in 0.004 s; 12 passed, 3 failed; tracked by web`
pub(crate) fn check_line(c: &crate::snapshot::CheckStatus) -> String {
    let mut line = format!("check {} ({}): {}", c.name, c.kind, c.state);
    if let Some(v) = c.value {
        line.push_str(&format!(", value {v}"));
    }
    if let Some(r) = &c.last_result {
        line.push_str(&format!(", last {r} {:?}", c.detail));
        if let Some(t) = c.took_s {
            line.push_str(&format!(" in {t:.3} s"));
        }
    } else {
        line.push_str(", no run ended yet");
    }
    line.push_str(&format!("; {} passed, {} failed", c.passes, c.failures));
    if c.tracked_by.is_empty() {
        line.push_str("; tracked by no instance");
    } else {
        line.push_str(&format!("; tracked by {}", c.tracked_by.join(", ")));
    }
    line
}

/// `replication: in-sync, node 1 -> 198.51.100.2:6974 (tandem), 120 flows here, 118 mirrored, ...`
fn replication_line(r: &crate::snapshot::ReplicationStatus) -> String {
    let mut line = format!(
        "replication: {}, node {} -> {} ({}), {} flows here, {} mirrored",
        r.state, r.node, r.peer, r.format, r.local_flows, r.mirror_flows
    );
    if r.pending > 0 {
        line.push_str(&format!(", {} pending", r.pending));
    }
    if r.bulk_sending {
        line.push_str(", sending a bulk");
    }
    if r.bulk_receiving {
        line.push_str(", receiving a bulk");
    }
    if r.refused > 0 {
        line.push_str(&format!(", {} datagrams refused", r.refused));
    }
    if let Some(e) = &r.last_error {
        line.push_str(&format!(", last error: {e}"));
    }
    line
}

fn node_counters(out: &mut String, c: &crate::snapshot::NodeCounters) {
    let kinds = |m: &BTreeMap<String, u64>| {
        m.iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut parts = Vec::new();
    if !c.dropped.is_empty() {
        parts.push(format!("undecodable packets: {}", kinds(&c.dropped)));
    }
    if c.unknown_vrid > 0 {
        parts.push(format!(
            "adverts for unknown VRIDs: {} ({})",
            c.unknown_vrid,
            kinds(&c.unknown_vrids)
        ));
    }
    for (what, n) in [
        (
            "received packets dropped (loop queue full)",
            c.input_queue_drops,
        ),
        ("log lines dropped (log writer behind)", c.log_lines_dropped),
        ("event lines dropped (slow readers)", c.event_lines_dropped),
        ("slow event readers disconnected", c.subscribers_dropped),
        ("repeated events not shown", c.events_suppressed),
    ] {
        if n > 0 {
            parts.push(format!("{what}: {n}"));
        }
    }
    for p in parts {
        let _ = writeln!(out, "node counters: {p}");
    }
}

const HEADERS: [&str; 10] = [
    "INSTANCE",
    "IFACE",
    "VRID",
    "PROTO",
    "STATE",
    "PRIO",
    "ACTIVE ROUTER",
    "INTERVAL",
    "LAST CHANGE",
    "LIGHT",
];

/// Columns aligned to the right (numbers).
const RIGHT: [bool; 10] = [
    false, false, true, false, false, true, false, true, false, false,
];

fn table(s: &NodeSnapshot) -> String {
    let rows: Vec<[String; 10]> = s
        .instances
        .iter()
        .map(|i| {
            [
                i.name.clone(),
                i.interface.clone(),
                i.vrid.to_string(),
                i.protocol.clone(),
                i.state.clone(),
                i.priority.to_string(),
                i.active_router
                    .map_or_else(|| "-".to_string(), |a| a.to_string()),
                seconds(i.interval_ms / 1000.0),
                i.last_transition.as_ref().map_or_else(
                    || "-".to_string(),
                    |t| format!("{} ago -> {}", duration(s.at_unix - t.at_unix), t.to),
                ),
                i.light.words().to_string(),
            ]
        })
        .collect();
    let mut widths = HEADERS.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let headers = HEADERS.map(String::from);
    for row in std::iter::once(&headers).chain(&rows) {
        let mut line = String::new();
        for (k, cell) in row.iter().enumerate() {
            if k > 0 {
                line.push_str("  ");
            }
            let _ = if RIGHT[k] {
                write!(line, "{cell:>w$}", w = widths[k])
            } else {
                write!(line, "{cell:<w$}", w = widths[k])
            };
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn details(out: &mut String, i: &InstanceStatus, now_unix: f64) {
    let _ = write!(
        out,
        "{} ({} vrid {}, {}): address {}",
        i.name, i.interface, i.vrid, i.protocol, i.address
    );
    if let Some(g) = &i.group {
        let _ = write!(out, ", sync group {g}");
    }
    out.push('\n');
    match &i.last_transition {
        Some(t) => {
            let _ = writeln!(
                out,
                "  last transition: {} ago, {} -> {}: {}",
                duration(now_unix - t.at_unix),
                t.from,
                t.to,
                t.reason
            );
        }
        None => out.push_str("  last transition: none yet\n"),
    }
    match &i.partner {
        Some(p) => {
            let _ = writeln!(
                out,
                "  partner: {} priority {}, last heard as {} {} ago",
                p.address,
                p.priority,
                p.state,
                if p.last_heard_s < 60.0 {
                    seconds(p.last_heard_s)
                } else {
                    duration(p.last_heard_s)
                }
            );
        }
        None => out.push_str("  partner: none heard\n"),
    }
    if !i.peer_checksum_modes.is_empty() {
        let modes: Vec<String> = i
            .peer_checksum_modes
            .iter()
            .map(|(peer, mode)| format!("{peer} {mode}"))
            .collect();
        let _ = writeln!(out, "  peer checksums: {}", modes.join(", "));
    }
    let c = &i.counters;
    let _ = writeln!(
        out,
        "  counters: sent {}, received {}, transitions {}",
        c.adverts_sent, c.adverts_received, c.transitions
    );
    if c.errors.is_empty() {
        out.push_str("  problems: none\n");
    } else {
        let problems: Vec<String> = c.errors.iter().map(|(k, n)| format!("{k} {n}")).collect();
        let _ = writeln!(out, "  problems: {}", problems.join(", "));
    }
    if !i.tracks_down.is_empty() {
        let _ = writeln!(out, "  tracks down: {}", i.tracks_down.join(", "));
    }
    if let Some(p) = &i.passive {
        let _ = writeln!(out, "  passive: {p}");
    }
}

/// `0.4 s`, `12 s`, `1.25 s`: seconds with at most two decimals.
fn seconds(s: f64) -> String {
    if !s.is_finite() || s < 0.0 {
        return "?".into();
    }
    let text = format!("{s:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text} s")
}

/// `42s`, `12m 5s`, `3h 12m`, `2d 4h`.
fn duration(s: f64) -> String {
    if !s.is_finite() {
        return "?".into();
    }
    // Clocks may disagree by a little: never show a negative age.
    let total = s.max(0.0) as u64;
    let (d, h, m, sec) = (
        total / 86_400,
        total / 3600 % 24,
        total / 60 % 60,
        total % 60,
    );
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m {sec}s")
    } else {
        format!("{sec}s")
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeMap;
    use std::net::IpAddr;

    use super::*;
    use crate::snapshot::{InstanceCounters, Light, PartnerView, RestartGuardStatus, Transition};

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// A two-instance node, Active on one and Backup on the other.
    pub(crate) fn sample() -> NodeSnapshot {
        let now = 1_750_000_000.0;
        let web = InstanceStatus {
            name: "web".into(),
            interface: "eth0".into(),
            vrid: 51,
            protocol: "vrrp3".into(),
            group: Some("dmz".into()),
            state: "Active".into(),
            priority: 200,
            address: ip("192.0.2.1"),
            active_router: Some(ip("192.0.2.1")),
            interval_ms: 1000.0,
            peer_checksum_modes: BTreeMap::from([(ip("192.0.2.2"), "ipv4-pseudo-header".into())]),
            last_transition: Some(Transition {
                at_unix: now - 725.0,
                from: "Backup".into(),
                to: "Active".into(),
                reason: "Preempting { active: 192.0.2.2 }".into(),
            }),
            passive: None,
            tracks_down: Vec::new(),
            partner: Some(PartnerView {
                address: ip("192.0.2.2"),
                priority: 100,
                state: "Active".into(),
                last_heard_s: 725.3,
            }),
            counters: InstanceCounters {
                adverts_sent: 4312,
                adverts_received: 12,
                transitions: 2,
                errors: BTreeMap::from([("bad_ttl".into(), 3), ("checksum".into(), 1)]),
            },
            light: Light::Active,
        };
        let db = InstanceStatus {
            name: "db-v6".into(),
            interface: "eth1".into(),
            vrid: 52,
            protocol: "carp".into(),
            group: None,
            state: "Backup".into(),
            priority: 155,
            address: ip("2001:db8::1"),
            active_router: Some(ip("2001:db8::2")),
            interval_ms: 1250.0,
            peer_checksum_modes: BTreeMap::new(),
            last_transition: Some(Transition {
                at_unix: now - 11_530.0,
                from: "Initialize".into(),
                to: "Backup".into(),
                reason: "Startup".into(),
            }),
            passive: None,
            tracks_down: vec!["eth2".into()],
            partner: Some(PartnerView {
                address: ip("2001:db8::2"),
                priority: 240,
                state: "Active".into(),
                last_heard_s: 1.2,
            }),
            counters: InstanceCounters {
                adverts_sent: 0,
                adverts_received: 9211,
                transitions: 1,
                errors: BTreeMap::new(),
            },
            light: Light::Standby,
        };
        NodeSnapshot {
            version: "0.1.0".into(),
            uptime_s: 11_532.0,
            at_unix: now,
            instances: vec![web, db],
            groups: BTreeMap::from([("dmz".into(), vec!["web".into()])]),
            restart_guard: RestartGuardStatus {
                recent_starts: 1,
                pacified: false,
            },
            maintenance: false,
            light: Light::Active,
            counters: Default::default(),
            sync: None,
            replication: None,
            cloud: None,
            checks: Vec::new(),
        }
    }

    #[test]
    fn status_page_shows_light_table_and_details() {
        let text = render_status(&sample());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "node: active    tandemd 0.1.0, up 3h 12m");
        assert_eq!(lines[1], "recent starts: 1 in the last hour");
        assert_eq!(lines[2], "sync group dmz: web");
        assert!(lines[4].starts_with("INSTANCE  IFACE  VRID  PROTO  STATE   PRIO  ACTIVE ROUTER"));
        assert!(text.contains(
            "web       eth0     51  vrrp3  Active   200  192.0.2.1           1 s  12m 5s ago -> Active  active"
        ), "{text}");
        assert!(text.contains(
            "  last transition: 12m 5s ago, Backup -> Active: Preempting { active: 192.0.2.2 }"
        ));
        assert!(text.contains("  partner: 192.0.2.2 priority 100, last heard as Active 12m 5s ago"));
        assert!(
            text.contains("  partner: 2001:db8::2 priority 240, last heard as Active 1.2 s ago")
        );
        assert!(text.contains("  peer checksums: 192.0.2.2 ipv4-pseudo-header"));
        assert!(text.contains("  counters: sent 4312, received 12, transitions 2"));
        assert!(text.contains("  problems: bad_ttl 3, checksum 1"));
        assert!(text.contains("  tracks down: eth2"));
        assert!(text.contains("1.25 s"));
        for line in &lines {
            assert!(line.chars().count() <= 100, "too wide: {line:?}");
        }
    }

    #[test]
    fn node_counters_show_only_when_something_was_dropped() {
        let mut s = sample();
        assert!(!render_status(&s).contains("node counters"));
        s.counters.dropped.insert("checksum".into(), 5000);
        s.counters.log_lines_dropped = 12;
        let page = render_status(&s);
        assert!(
            page.contains("node counters: undecodable packets: checksum 5000\n"),
            "{page}"
        );
        assert!(page.contains("node counters: log lines dropped (log writer behind): 12\n"));
    }

    #[test]
    fn passive_node_says_why_and_how_to_resume() {
        assert!(render_status(&pacified()).contains("  passive: Pacified\n"));
        let mut s = sample();
        s.light = Light::Pacified;
        s.restart_guard = RestartGuardStatus {
            recent_starts: 3,
            pacified: true,
        };
        s.maintenance = true;
        s.instances[0].passive = Some("pacified by the restart guard".into());
        s.instances[0].partner = None;
        s.instances[0].last_transition = None;
        let text = render_status(&s);
        assert!(text.starts_with("node: pacified"));
        assert!(text.contains(
            "recent starts: 3 in the last hour; pacified: staying passive (tandemd clear-pacified to resume)"
        ));
        assert!(text.contains("maintenance: on"));
        assert!(text.contains("  passive: pacified by the restart guard"));
        assert!(text.contains("  partner: none heard"));
        assert!(text.contains("  last transition: none yet"));
    }

    #[test]
    fn a_hostile_snapshot_puts_no_escape_on_the_terminal() {
        let with = |text: &str| {
            let mut s = sample();
            s.version = text.into();
            s.groups = BTreeMap::from([(text.into(), vec![text.into()])]);
            let i = &mut s.instances[0];
            i.name = text.into();
            i.interface = text.into();
            i.protocol = text.into();
            i.group = Some(text.into());
            i.state = text.into();
            i.passive = Some(text.into());
            i.tracks_down = vec![text.into()];
            i.peer_checksum_modes = BTreeMap::from([(ip("192.0.2.2"), text.into())]);
            i.counters.errors = BTreeMap::from([(text.into(), 1)]);
            if let Some(t) = &mut i.last_transition {
                t.from = text.into();
                t.to = text.into();
                t.reason = text.into();
            }
            if let Some(p) = &mut i.partner {
                p.state = text.into();
            }
            s
        };
        let evil = "web\u{1b}[2J\u{1b}]0;owned\u{7}\nnode: active\r\u{9b}31m\u{202e}";
        let s = with(evil);
        let text = render_status(&s);
        let bad: Vec<char> = text
            .chars()
            .filter(|c| *c != '\n' && unsafe_char(*c))
            .collect();
        assert!(bad.is_empty(), "{bad:?} in {text}");
        // No line was forged: every line that starts with "node:" is the first.
        assert_eq!(text.lines().filter(|l| l.starts_with("node:")).count(), 1);
        assert!(
            text.contains(
                "web\\u{1b}[2J\\u{1b}]0;owned\\u{7}\\u{a}node: active\\u{d}\\u{9b}31m\\u{202e}"
            ),
            "{text}"
        );
        // The same number of lines as an honest page.
        assert_eq!(
            text.lines().count(),
            render_status(&with("web")).lines().count()
        );
    }

    #[test]
    fn escape_leaves_printable_text_alone() {
        assert!(matches!(escape("web-1 eth0.100 ü"), Cow::Borrowed(_)));
        assert_eq!(escape("a\tb"), "a\\u{9}b");
    }

    #[test]
    fn empty_node() {
        let text = render_status(&NodeSnapshot::empty());
        assert!(text.starts_with("node: stopped"));
        assert!(text.contains("no instances"));
    }

    #[test]
    fn durations_and_seconds() {
        assert_eq!(duration(0.2), "0s");
        assert_eq!(duration(-3.0), "0s");
        assert_eq!(duration(61.0), "1m 1s");
        assert_eq!(duration(3600.0 * 50.0), "2d 2h");
        assert_eq!(duration(f64::NAN), "?");
        assert_eq!(seconds(1.0), "1 s");
        assert_eq!(seconds(0.4), "0.4 s");
        assert_eq!(seconds(1.256), "1.26 s");
        assert_eq!(seconds(-1.0), "?");
    }

    /// Prints the sample page (docs/control.md shows it):
    /// `cargo test -p tandem-node print_sample_status -- --nocapture`.
    #[test]
    fn print_sample_status() {
        println!("{}", render_status(&sample()));
        println!("{}", render_status(&pacified()));
        println!("{}", serde_json::to_string_pretty(&sample()).unwrap());
    }

    /// The sample after a crash loop: pacified, and its partner silent.
    fn pacified() -> NodeSnapshot {
        let mut s = sample();
        s.uptime_s = 4.0;
        s.restart_guard = RestartGuardStatus {
            recent_starts: 3,
            pacified: true,
        };
        s.groups.clear();
        s.instances.truncate(1);
        let web = &mut s.instances[0];
        web.group = None;
        web.state = "Backup".into();
        web.active_router = None;
        web.passive = Some("Pacified".into());
        web.partner = None;
        web.peer_checksum_modes.clear();
        web.counters = InstanceCounters {
            adverts_sent: 0,
            adverts_received: 0,
            transitions: 1,
            errors: BTreeMap::new(),
        };
        web.last_transition = Some(Transition {
            at_unix: s.at_unix - 3.9,
            from: "Initialize".into(),
            to: "Backup".into(),
            reason: "Pacified".into(),
        });
        web.light = Light::Pacified;
        s.light = Light::Pacified;
        s
    }
}
