//! Tests of `respond` and `metrics_text`: every path, method and state.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::*;
use crate::snapshot::{InstanceCounters, RestartGuardStatus, Transition};

pub(crate) fn cfg() -> HealthConfig {
    let c = HealthConfig::new(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0));
    assert_eq!(
        (
            c.path.as_str(),
            c.live_path.as_str(),
            c.metrics_path.as_str()
        ),
        ("/health", "/live", "/metrics")
    );
    assert_eq!(
        (c.active_body.as_str(), c.standby_body.as_str()),
        ("active\n", "standby\n")
    );
    c
}

pub(crate) fn instance(name: &str, state: &str, light: Light) -> InstanceStatus {
    InstanceStatus {
        name: name.into(),
        interface: "eth0".into(),
        vrid: 51,
        protocol: "vrrp3".into(),
        group: None,
        state: state.into(),
        priority: 100,
        address: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)),
        active_router: None,
        interval_ms: 1000.0,
        peer_checksum_modes: BTreeMap::new(),
        last_transition: None,
        passive: None,
        tracks_down: Vec::new(),
        partner: None,
        counters: InstanceCounters::default(),
        light,
    }
}

pub(crate) fn snapshot(instances: Vec<InstanceStatus>) -> NodeSnapshot {
    let light = NodeSnapshot::node_light(&instances);
    NodeSnapshot {
        version: "0.1.0".into(),
        uptime_s: 12.5,
        at_unix: 1_700_000_000.0,
        instances,
        groups: BTreeMap::new(),
        restart_guard: RestartGuardStatus {
            recent_starts: 1,
            pacified: false,
        },
        maintenance: false,
        light,
        counters: Default::default(),
        sync: None,
        replication: None,
        cloud: None,
        checks: Vec::new(),
    }
}

pub(super) fn one(state: &str, light: Light) -> NodeSnapshot {
    snapshot(vec![instance("vi1", state, light)])
}

#[test]
fn health_is_200_with_the_active_body_on_the_active_node() {
    for method in ["GET", "HEAD"] {
        let r = respond(&cfg(), &one("Active", Light::Active), method, "/health");
        assert_eq!(r.status, 200);
        assert_eq!(r.body, "active\n");
        assert_eq!(r.content_type, TEXT_PLAIN);
        assert_eq!(r.header(STATE_HEADER), Some("active"));
        assert_eq!(r.header(INSTANCES_HEADER), Some("vi1=Active"));
    }
}

#[test]
fn health_is_503_with_the_standby_body_in_every_other_state() {
    let cases = [
        ("Backup", Light::Standby, "standby"),
        ("Backup", Light::PartnerUnreachable, "partner-unreachable"),
        ("Backup", Light::Pacified, "pacified"),
        ("Backup", Light::Maintenance, "maintenance"),
        ("Fault", Light::Fault, "fault"),
        ("Initialize", Light::Stopped, "stopped"),
    ];
    for method in ["GET", "HEAD"] {
        for (state, light, word) in cases {
            let r = respond(&cfg(), &one(state, light), method, "/health");
            assert_eq!(r.status, 503, "{state} {light:?}");
            assert_eq!(r.body, "standby\n");
            assert_eq!(r.header(STATE_HEADER), Some(word));
            assert_eq!(
                r.header(INSTANCES_HEADER),
                Some(format!("vi1={state}").as_str())
            );
        }
    }
}

#[test]
fn health_is_503_before_the_first_snapshot() {
    let r = respond(&cfg(), &NodeSnapshot::empty(), "GET", "/health");
    assert_eq!(r.status, 503);
    assert_eq!(r.header(STATE_HEADER), Some("stopped"));
}

#[test]
fn health_without_a_list_needs_every_instance_active() {
    let both = snapshot(vec![
        instance("a", "Active", Light::Active),
        instance("b", "Active", Light::Active),
    ]);
    assert_eq!(respond(&cfg(), &both, "GET", "/health").status, 200);
    let split = snapshot(vec![
        instance("a", "Active", Light::Active),
        instance("b", "Backup", Light::Standby),
    ]);
    let r = respond(&cfg(), &split, "GET", "/health");
    assert_eq!(r.status, 503);
    assert_eq!(r.header(INSTANCES_HEADER), Some("a=Active b=Backup"));
}

#[test]
fn health_with_a_list_watches_only_the_listed_instances() {
    let split = snapshot(vec![
        instance("a", "Active", Light::Active),
        instance("b", "Backup", Light::Standby),
    ]);
    let mut c = cfg();
    c.instances = vec!["a".into()];
    let r = respond(&c, &split, "GET", "/health");
    assert_eq!(r.status, 200);
    assert_eq!(r.header(STATE_HEADER), Some("active"));
    assert_eq!(r.header(INSTANCES_HEADER), Some("a=Active"));
    c.instances = vec!["b".into()];
    assert_eq!(respond(&c, &split, "GET", "/health").status, 503);
    c.instances = vec!["a".into(), "b".into()];
    assert_eq!(respond(&c, &split, "GET", "/health").status, 503);
}

#[test]
fn health_naming_a_missing_instance_is_503() {
    let mut c = cfg();
    c.instances = vec!["a".into(), "gone".into()];
    let r = respond(
        &c,
        &snapshot(vec![instance("a", "Active", Light::Active)]),
        "GET",
        "/health",
    );
    assert_eq!(r.status, 503);
    assert_eq!(r.header(STATE_HEADER), Some("unknown-instance"));
    assert_eq!(r.header(INSTANCES_HEADER), Some("a=Active gone=missing"));
}

#[test]
fn health_uses_the_configured_path_and_bodies() {
    let mut c = cfg();
    c.path = "/lb".into();
    c.active_body = "OK".into();
    c.standby_body = String::new();
    let r = respond(&c, &one("Active", Light::Active), "GET", "/lb");
    assert_eq!((r.status, r.body.as_str()), (200, "OK"));
    let r = respond(&c, &one("Backup", Light::Standby), "GET", "/lb");
    assert_eq!((r.status, r.body.as_str()), (503, ""));
    assert_eq!(
        respond(&c, &one("Active", Light::Active), "GET", "/health").status,
        404
    );
}

#[test]
fn live_is_200_in_every_state() {
    for snap in [
        NodeSnapshot::empty(),
        one("Active", Light::Active),
        one("Backup", Light::Standby),
        one("Fault", Light::Fault),
    ] {
        for method in ["GET", "HEAD"] {
            let r = respond(&cfg(), &snap, method, "/live");
            assert_eq!(r.status, 200);
            assert_eq!(r.body, LIVE_BODY);
        }
    }
}

#[test]
fn metrics_is_200_in_the_exposition_format() {
    for snap in [NodeSnapshot::empty(), one("Backup", Light::Standby)] {
        for method in ["GET", "HEAD"] {
            let r = respond(&cfg(), &snap, method, "/metrics");
            assert_eq!(r.status, 200);
            assert_eq!(r.content_type, METRICS_CONTENT_TYPE);
            assert_eq!(r.body, metrics_text(&snap));
        }
    }
}

#[test]
fn other_methods_on_known_paths_are_405_with_allow() {
    for path in ["/health", "/live", "/metrics"] {
        for method in ["POST", "PUT", "DELETE", "OPTIONS", "PATCH", "get", "TRACE"] {
            let r = respond(&cfg(), &one("Active", Light::Active), method, path);
            assert_eq!(r.status, 405, "{method} {path}");
            assert_eq!(r.header("allow"), Some("GET, HEAD"));
        }
    }
}

#[test]
fn unknown_paths_are_404_for_any_method() {
    for path in [
        "/",
        "/healthz",
        "/health/",
        "/HEALTH",
        "",
        "*",
        "/metrics/x",
    ] {
        for method in ["GET", "HEAD", "POST"] {
            let r = respond(&cfg(), &one("Active", Light::Active), method, path);
            assert_eq!(r.status, 404, "{method} {path:?}");
        }
    }
}

#[test]
fn instance_names_in_the_header_stay_printable() {
    let snap = snapshot(vec![instance("we\r\nird\u{e9}", "Active", Light::Active)]);
    let r = respond(&cfg(), &snap, "GET", "/health");
    assert_eq!(r.header(INSTANCES_HEADER), Some("we??ird?=Active"));
    let long: Vec<InstanceStatus> = (0..500)
        .map(|n| instance(&format!("instance-{n}"), "Active", Light::Active))
        .collect();
    let r = respond(&cfg(), &snapshot(long), "GET", "/health");
    let v = r.header(INSTANCES_HEADER).unwrap_or_default();
    assert!(v.len() <= MAX_INSTANCES_HEADER && v.ends_with("..."));
}

#[test]
fn label_values_are_escaped() {
    assert_eq!(escape_label_value("plain"), "plain");
    assert_eq!(escape_label_value("a\\b"), "a\\\\b");
    assert_eq!(escape_label_value("say \"hi\""), "say \\\"hi\\\"");
    assert_eq!(escape_label_value("two\nlines"), "two\\nlines");
    assert_eq!(escape_label_value("ünï"), "ünï");
}

#[test]
fn values_use_the_text_format_spelling() {
    assert_eq!(value(1.5), "1.5");
    assert_eq!(value(1_700_000_000.25), "1700000000.25");
    assert_eq!(value(f64::NAN), "NaN");
    assert_eq!(value(f64::INFINITY), "+Inf");
    assert_eq!(value(f64::NEG_INFINITY), "-Inf");
}

/// One sample line: `name{labels} value`, split up.
#[derive(Debug)]
pub(super) struct Sample {
    pub(super) name: String,
    pub(super) labels: Vec<(String, String)>,
    pub(super) value: f64,
}

/// Parses the text format line by line, as a scraper would, and checks
/// that every sample's family has HELP and TYPE lines before it.
pub(super) fn parse_exposition(text: &str) -> Vec<Sample> {
    let mut typed: BTreeMap<String, String> = BTreeMap::new();
    let mut helped = Vec::new();
    let mut samples = Vec::new();
    assert!(text.ends_with('\n'));
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').expect("HELP name text");
            assert!(!help.is_empty());
            helped.push(name.to_string());
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
            assert!(["gauge", "counter"].contains(&kind), "{line}");
            assert!(
                helped.last() == Some(&name.to_string()),
                "HELP before TYPE: {line}"
            );
            assert!(
                typed.insert(name.into(), kind.into()).is_none(),
                "one TYPE: {line}"
            );
            continue;
        }
        assert!(!line.starts_with('#') && !line.is_empty(), "{line:?}");
        let name_end = line.find(['{', ' ']).expect("name");
        let name = &line[..name_end];
        assert!(
            name.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':'),
            "{name}"
        );
        let mut rest = &line[name_end..];
        let mut labels = Vec::new();
        if let Some(r) = rest.strip_prefix('{') {
            rest = r;
            loop {
                let eq = rest.find("=\"").expect("label=\"");
                let key = rest[..eq].to_string();
                rest = &rest[eq + 2..];
                let mut val = String::new();
                let mut chars = rest.char_indices();
                let end = loop {
                    match chars.next().expect("closing quote") {
                        (_, '\\') => match chars.next().expect("escape").1 {
                            '\\' => val.push('\\'),
                            '"' => val.push('"'),
                            'n' => val.push('\n'),
                            c => panic!("bad escape \\{c}"),
                        },
                        (i, '"') => break i,
                        (_, c) => val.push(c),
                    }
                };
                labels.push((key, val));
                rest = &rest[end + 1..];
                if let Some(r) = rest.strip_prefix(',') {
                    rest = r;
                } else {
                    rest = rest.strip_prefix('}').expect("closing brace");
                    break;
                }
            }
        }
        let v = rest.strip_prefix(' ').expect("space before value");
        let value = match v {
            "NaN" => f64::NAN,
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().expect("value"),
        };
        assert!(typed.contains_key(name), "TYPE before sample: {line}");
        assert_eq!(
            helped.last().map(String::as_str),
            Some(name),
            "grouped: {line}"
        );
        samples.push(Sample {
            name: name.into(),
            labels,
            value,
        });
    }
    samples
}

pub(super) fn find<'a>(
    samples: &'a [Sample],
    name: &str,
    want: &[(&str, &str)],
) -> Vec<&'a Sample> {
    samples
        .iter()
        .filter(|s| {
            s.name == name
                && want
                    .iter()
                    .all(|(k, v)| s.labels.iter().any(|(a, b)| a == k && b == v))
        })
        .collect()
}

fn busy_snapshot() -> NodeSnapshot {
    let mut a = instance("vi1", "Active", Light::Active);
    a.priority = 150;
    a.counters = InstanceCounters {
        adverts_sent: 120,
        adverts_received: 3,
        transitions: 2,
        errors: BTreeMap::from([("checksum".into(), 4), ("bad_ttl".into(), 1)]),
    };
    a.last_transition = Some(Transition {
        at_unix: 1_700_000_123.5,
        from: "Backup".into(),
        to: "Active".into(),
        reason: "master down timer".into(),
    });
    let mut b = instance("odd \"name\"\\\n", "Backup", Light::PartnerUnreachable);
    b.interface = "eth1".into();
    b.vrid = 7;
    b.protocol = "carp".into();
    snapshot(vec![a, b])
}

#[test]
fn metrics_parse_line_by_line() {
    let snap = busy_snapshot();
    let samples = parse_exposition(&metrics_text(&snap));
    let vi1 = [
        ("instance", "vi1"),
        ("interface", "eth0"),
        ("vrid", "51"),
        ("protocol", "vrrp3"),
    ];
    let state = |labels: &[(&str, &str)], s: &str| {
        let mut l = labels.to_vec();
        l.push(("state", s));
        let found = find(&samples, "tandem_instance_state", &l);
        assert_eq!(found.len(), 1, "{s}");
        found[0].value
    };
    assert_eq!(state(&vi1, "Active"), 1.0);
    assert_eq!(state(&vi1, "Backup"), 0.0);
    assert_eq!(state(&vi1, "Initialize"), 0.0);
    assert_eq!(state(&vi1, "Fault"), 0.0);
    assert_eq!(find(&samples, "tandem_instance_state", &vi1).len(), 4);
    let one = |name: &str, labels: &[(&str, &str)]| {
        let found = find(&samples, name, labels);
        assert_eq!(found.len(), 1, "{name} {labels:?}");
        found[0].value
    };
    assert_eq!(one("tandem_instance_priority", &vi1), 150.0);
    assert_eq!(one("tandem_transitions_total", &vi1), 2.0);
    assert_eq!(one("tandem_adverts_sent_total", &vi1), 120.0);
    assert_eq!(one("tandem_adverts_received_total", &vi1), 3.0);
    let mut ck = vi1.to_vec();
    ck.push(("kind", "checksum"));
    assert_eq!(one("tandem_errors_total", &ck), 4.0);
    let mut ttl = vi1.to_vec();
    ttl.push(("kind", "bad_ttl"));
    assert_eq!(one("tandem_errors_total", &ttl), 1.0);
    assert_eq!(
        one("tandem_last_transition_timestamp_seconds", &vi1),
        1_700_000_123.5
    );

    // The second instance: escaped name, no errors, no transition yet.
    let odd = [
        ("instance", "odd \"name\"\\\n"),
        ("vrid", "7"),
        ("protocol", "carp"),
    ];
    assert_eq!(state(&odd, "Backup"), 1.0);
    assert_eq!(state(&odd, "Active"), 0.0);
    assert!(find(&samples, "tandem_errors_total", &odd).is_empty());
    assert!(find(&samples, "tandem_last_transition_timestamp_seconds", &odd).is_empty());

    assert_eq!(one("tandem_up", &[]), 1.0);
    assert_eq!(one("tandem_uptime_seconds", &[]), 12.5);
    assert_eq!(one("tandem_build_info", &[("version", "0.1.0")]), 1.0);
    assert_eq!(
        one("tandem_node_light", &[("light", "partner-unreachable")]),
        1.0
    );
    assert_eq!(one("tandem_node_light", &[("light", "active")]), 0.0);
    assert_eq!(find(&samples, "tandem_node_light", &[]).len(), LIGHTS.len());
    assert_eq!(
        find(&samples, "tandem_node_light", &[])
            .iter()
            .map(|s| s.value)
            .sum::<f64>(),
        1.0
    );
}

#[test]
fn metrics_of_an_empty_node_still_parse() {
    let samples = parse_exposition(&metrics_text(&NodeSnapshot::empty()));
    assert!(find(&samples, "tandem_instance_state", &[]).is_empty());
    assert_eq!(
        find(&samples, "tandem_node_light", &[("light", "stopped")])[0].value,
        1.0
    );
    assert_eq!(find(&samples, "tandem_up", &[])[0].value, 1.0);
}

#[test]
fn an_unexpected_state_gets_a_series_of_its_own() {
    let snap = one("Weird\"", Light::Standby);
    let samples = parse_exposition(&metrics_text(&snap));
    let series = find(&samples, "tandem_instance_state", &[("instance", "vi1")]);
    assert_eq!(series.len(), 5);
    assert_eq!(
        find(&samples, "tandem_instance_state", &[("state", "Weird\"")])[0].value,
        1.0
    );
}

#[test]
fn every_counter_family_ends_in_total() {
    let text = metrics_text(&busy_snapshot());
    for line in text.lines().filter(|l| l.starts_with("# TYPE ")) {
        let mut w = line.split(' ').skip(2);
        let (name, kind) = (w.next().unwrap_or(""), w.next().unwrap_or(""));
        assert_eq!(kind == "counter", name.ends_with("_total"), "{line}");
    }
}

#[test]
fn metrics_show_every_node_counter() {
    let mut s = one("Active", Light::Active);
    s.counters.dropped.insert("checksum".into(), 5000);
    s.counters.diagnostics.insert("yielded".into(), 2);
    s.counters.log_lines_dropped = 3;
    s.counters.unknown_vrid = 7;
    let text = metrics_text(&s);
    for line in [
        "tandem_node_dropped_total{kind=\"checksum\"} 5000",
        "tandem_node_diagnostics_total{kind=\"yielded\"} 2",
        "tandem_node_unknown_vrid_total 7",
        "tandem_node_queue_drops_total{queue=\"log\"} 3",
        "tandem_node_queue_drops_total{queue=\"input\"} 0",
        "tandem_node_events_suppressed_total 0",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "{line} missing from:\n{text}"
        );
    }
}

#[test]
fn health_answers_json_with_the_same_code_and_headers() {
    let mut snap = snapshot(vec![
        instance("web", "Active", Light::Active),
        instance("db", "Backup", Light::Standby),
    ]);
    snap.sync = Some(crate::snapshot::SyncStatus {
        state: "in-sync".into(),
        ..Default::default()
    });
    snap.cloud = Some(crate::snapshot::CloudStatus {
        role: Some("primary".into()),
        failback: true,
        state: "standby".into(),
        ..Default::default()
    });
    let text = respond(&cfg(), &snap, "GET", "/health");
    let r = respond_as(&cfg(), &snap, "GET", "/health", Format::Json);
    assert_eq!((r.status, r.content_type), (503, APPLICATION_JSON));
    assert_eq!(
        r.headers, text.headers,
        "the headers do not depend on the form"
    );
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["status"], 503);
    assert_eq!(v["active"], false);
    assert_eq!(v["state"].as_str(), text.header(STATE_HEADER));
    assert_eq!(v["instances"][0]["name"], "web");
    assert_eq!(v["instances"][0]["state"], "Active");
    assert_eq!(v["instances"][1]["state"], "Backup");
    assert_eq!(v["sync"], "in-sync");
    assert_eq!(v["replication"], serde_json::Value::Null);
    assert_eq!(v["cloud"]["role"], "primary");
    assert_eq!(v["cloud"]["state"], "standby");
    // Active, no [sync], no [cloud]; the other paths keep their form.
    let one = one("Active", Light::Active);
    let r = respond_as(&cfg(), &one, "GET", "/health", Format::Json);
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(
        (r.status, &v["active"], &v["sync"]),
        (200, &serde_json::json!(true), &serde_json::Value::Null)
    );
    let live = respond_as(&cfg(), &one, "GET", "/live", Format::Json);
    assert_eq!(
        (live.content_type, live.body.as_str()),
        (TEXT_PLAIN, LIVE_BODY)
    );
}

#[test]
fn cloud_metrics_carry_the_state_and_the_hook_results() {
    let mut snap = one("Active", Light::Active);
    let text = metrics_text(&snap);
    assert!(!text.contains("tandem_cloud_"), "none without [cloud]");
    let mut results = std::collections::BTreeMap::new();
    results.insert("on_active failed".to_string(), 1);
    results.insert("on_active ok".to_string(), 1);
    snap.cloud = Some(crate::snapshot::CloudStatus {
        state: "active".into(),
        results,
        ..Default::default()
    });
    let text = metrics_text(&snap);
    assert!(text.contains("\ntandem_cloud_active 1\n"), "{text}");
    assert!(text.contains("tandem_cloud_hook_runs_total{hook=\"on_active\",result=\"failed\"} 1\n"));
    assert!(text.contains("tandem_cloud_hook_runs_total{hook=\"on_active\",result=\"ok\"} 1\n"));
}

#[test]
fn check_metrics_status_line_and_health_json_carry_each_check() {
    let mut snap = one("Active", Light::Active);
    assert!(
        !metrics_text(&snap).contains("tandem_check_"),
        "none without checks"
    );
    snap.checks = vec![
        crate::snapshot::CheckStatus {
            name: "nginx".into(),
            kind: "script".into(),
            state: "down".into(),
            last_result: Some("fail".into()),
            detail: "exit 1".into(),
            took_s: Some(0.25),
            passes: 4,
            failures: 2,
            changes: 1,
            tracked_by: vec!["web".into()],
            ..Default::default()
        },
        crate::snapshot::CheckStatus {
            name: "lb".into(),
            kind: "file".into(),
            state: "up".into(),
            value: Some(-3),
            ..Default::default()
        },
    ];
    let text = metrics_text(&snap);
    for want in [
        "tandem_check_state{check=\"nginx\",kind=\"script\",state=\"down\"} 1\n",
        "tandem_check_state{check=\"nginx\",kind=\"script\",state=\"up\"} 0\n",
        "tandem_check_runs_total{check=\"nginx\",result=\"fail\"} 2\n",
        "tandem_check_runs_total{check=\"nginx\",result=\"pass\"} 4\n",
        "tandem_check_changes_total{check=\"nginx\"} 1\n",
        "tandem_check_duration_seconds{check=\"nginx\"} 0.25\n",
        "tandem_check_value{check=\"lb\"} -3\n",
    ] {
        assert!(text.contains(want), "{want}\n{text}");
    }
    assert_eq!(
        crate::control::render::check_line(&snap.checks[0]),
        "check nginx (script): down, last fail \"exit 1\" in 0.250 s; 4 passed, 2 failed; tracked by web"
    );
    let r = respond(&cfg(), &snap, "GET", "/health");
    let v: serde_json::Value = serde_json::from_str(&health_json(&r, &snap)).unwrap();
    assert_eq!(v["checks"][0]["name"], "nginx");
    assert_eq!(v["checks"][0]["state"], "down");
}
