use super::super::tests::{cfg, find, one, parse_exposition};
use super::super::{metrics_text, respond};
use super::*;
use crate::control::render::sync::tests::status;
use crate::snapshot::Light;

fn synced(state: &str) -> crate::snapshot::NodeSnapshot {
    let mut s = one("Active", Light::Active);
    let mut sync = status();
    sync.state = state.into();
    sync.local_generation = 41;
    s.sync = Some(sync);
    s.counters.sync_connections_refused = 2;
    s
}

#[test]
fn health_carries_the_sync_state_only_with_sync() {
    let r = respond(&cfg(), &one("Active", Light::Active), "GET", "/health");
    assert_eq!(r.header(SYNC_HEADER), None);
    for state in SYNC_STATES {
        let r = respond(&cfg(), &synced(state), "GET", "/health");
        assert_eq!(r.header("x-tandem-sync"), Some(state), "{state}");
        assert_eq!(r.status, 200, "sync does not change the answer");
    }
    let r = respond(&cfg(), &synced("blocked"), "HEAD", "/health");
    assert_eq!(r.header(SYNC_HEADER), Some("blocked"));
    // A state with bytes a header cannot carry is made printable.
    let r = respond(&cfg(), &synced("odd\r\nX-Evil: 1"), "GET", "/health");
    assert_eq!(r.header(SYNC_HEADER), Some("odd??X-Evil: 1"));
    // The other paths do not carry it.
    let r = respond(&cfg(), &synced("in-sync"), "GET", "/live");
    assert_eq!(r.header(SYNC_HEADER), None);
}

#[test]
fn metrics_have_one_sync_state_series_per_state_and_the_counts() {
    let text = metrics_text(&synced("diverged"));
    let samples = parse_exposition(&text);
    for state in SYNC_STATES {
        let got = find(&samples, "tandem_sync_state", &[("state", state)]);
        assert_eq!(got.len(), 1, "{state}");
        assert_eq!(
            got[0].value,
            f64::from(u8::from(state == "diverged")),
            "{state}"
        );
    }
    for (name, v) in [
        ("tandem_sync_generation", 41.0),
        ("tandem_sync_connected", 1.0),
        ("tandem_sync_bytes_sent_total", 1200.0),
        ("tandem_sync_bytes_received_total", 800.0),
        ("tandem_sync_applied_total", 2.0),
        ("tandem_sync_rejected_total", 1.0),
        ("tandem_sync_conflicts_total", 0.0),
        ("tandem_sync_connections_refused_total", 2.0),
        ("tandem_sync_write_queue_full_total", 0.0),
    ] {
        let got = find(&samples, name, &[]);
        assert_eq!(got.len(), 1, "{name}");
        assert_eq!(got[0].value, v, "{name}");
    }
    assert!(
        text.contains("\ntandem_sync_state{state=\"in-sync\"} 0\n"),
        "{text}"
    );
}

#[test]
fn metrics_without_sync_have_no_sync_series() {
    let text = metrics_text(&one("Active", Light::Active));
    assert!(!text.contains("tandem_sync_"), "{text}");
}

#[test]
fn an_unknown_sync_state_gets_a_series_of_its_own() {
    let samples = parse_exposition(&metrics_text(&synced("new-\"state\"")));
    let got = find(&samples, "tandem_sync_state", &[("state", "new-\"state\"")]);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].value, 1.0);
    let ones = find(&samples, "tandem_sync_state", &[]);
    assert_eq!(ones.iter().filter(|s| s.value == 1.0).count(), 1);
}
