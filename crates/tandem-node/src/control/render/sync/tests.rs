use super::*;

pub(crate) fn status() -> SyncStatus {
    SyncStatus {
        state: "in-sync".into(),
        detail: None,
        mode: "active-standby".into(),
        unit: "a".into(),
        role: "active".into(),
        ready: true,
        connected: true,
        local_epoch: 0xdead_beef,
        local_generation: 12,
        local_root: "ab".repeat(32),
        peer_unit: Some("b".into()),
        peer_software: Some("0.9.0".into()),
        peer_epoch: Some(0xdead_beef),
        peer_generation: Some(12),
        peer_root: Some("ab".repeat(32)),
        last_success_age_s: Some(3.7),
        last_error: None,
        bytes_sent: 1200,
        bytes_received: 800,
        config_bytes_sent: 0,
        applied: 2,
        rejected: 1,
        conflicts: 0,
    }
}

fn line(object: &str, field: &str, local: Option<&str>, peer: Option<&str>) -> DiffLine {
    DiffLine {
        object: object.into(),
        field: field.into(),
        local: local.map(Into::into),
        peer: peer.map(Into::into),
    }
}

#[test]
fn sync_status_in_words_has_every_line_in_order() {
    let text = render_sync_status(&status());
    let expected = format!(
        "sync: in-sync\n\
         local: epoch 00000000deadbeef generation 12 root {r}\n\
         partner: unit b tandemd 0.9.0 epoch 00000000deadbeef generation 12 root {r}\n\
         last success: 3 s ago\n\
         last error: none\n\
         bytes: sent 1200 received 800 (configuration sent 0)\n\
         applied 2 rejected 1 conflicts 0\n",
        r = "ab".repeat(32)
    );
    assert_eq!(text, expected);
}

#[test]
fn sync_status_shows_reason_sections_or_objects_by_state() {
    let mut s = status();
    s.state = "blocked".into();
    s.detail = Some("the partner runs schema 2".into());
    assert!(render_sync_status(&s)
        .starts_with("sync: blocked\nreason: the partner runs schema 2\nlocal:"));
    s.state = "diverged".into();
    s.detail = Some("instance, app.vs".into());
    assert!(
        render_sync_status(&s).starts_with("sync: diverged\nsections: instance, app.vs\nlocal:")
    );
    let j = sync_status_json(&s);
    assert_eq!(j["sections"], json!(["instance", "app.vs"]));
    assert!(j.get("reason").is_none() && j.get("objects").is_none());
    s.state = "conflict".into();
    s.detail = Some("instance.web".into());
    assert!(render_sync_status(&s).starts_with("sync: conflict\nobjects: instance.web\n"));
    assert_eq!(sync_status_json(&s)["objects"], json!(["instance.web"]));
    s.state = "off".into();
    s.detail = None;
    s.last_error = Some("cannot read the key file".into());
    assert_eq!(
        sync_status_json(&s)["reason"],
        json!("cannot read the key file")
    );
}

#[test]
fn sync_status_without_a_partner_says_none_and_never() {
    let mut s = status();
    s.state = "disconnected".into();
    s.peer_unit = None;
    s.last_success_age_s = None;
    s.last_error = Some("connect 192.0.2.2:6973: refused".into());
    let text = render_sync_status(&s);
    assert!(text.contains("\npartner: none\n"), "{text}");
    assert!(text.contains("\nlast success: never\n"), "{text}");
    assert!(
        text.contains("\nlast error: connect 192.0.2.2:6973: refused\n"),
        "{text}"
    );
    assert_eq!(sync_status_json(&s)["partner"], Value::Null);
}

#[test]
fn sync_status_json_has_the_documented_names_and_forms() {
    let j = sync_status_json(&status());
    assert_eq!(j["state"], "in-sync");
    assert_eq!(j["local"]["epoch"], "00000000deadbeef");
    assert_eq!(j["local"]["generation"], 12);
    assert_eq!(j["local"]["root"].as_str().map(str::len), Some(64));
    assert_eq!(j["partner"]["unit"], "b");
    assert_eq!(j["partner"]["version"], "0.9.0");
    assert_eq!(j["partner"]["epoch"], "00000000deadbeef");
    assert_eq!(j["last_success_ago_s"], 3.7);
    assert_eq!(j["last_error"], Value::Null);
    for (k, v) in [
        ("bytes_sent", 1200),
        ("bytes_received", 800),
        ("applied", 2),
        ("rejected", 1),
        ("conflicts", 0),
    ] {
        assert_eq!(j[k], v, "{k}");
    }
    assert!(j.get("reason").is_none());
}

#[test]
fn a_hostile_sync_status_puts_no_escape_on_the_terminal() {
    let mut s = status();
    s.state = "blocked".into();
    s.detail = Some("bad\n\u{1b}[31mforged: line".into());
    s.peer_unit = Some("b\u{202e}x".into());
    s.last_error = Some("e\r\n".into());
    let text = render_sync_status(&s);
    assert!(!text.contains('\u{1b}') && !text.contains('\r') && !text.contains('\u{202e}'));
    assert!(!text.contains("\nforged"), "{text}");
    let diff = render_diff(&[line("x\ny", "f\u{1b}", Some("\"\u{7}\""), None)]);
    assert!(
        !diff.contains('\u{1b}') && !diff.contains('\u{7}'),
        "{diff}"
    );
    assert_eq!(diff.lines().count(), 2, "{diff}");
}

#[test]
fn diff_groups_fields_by_object_and_says_when_in_sync() {
    let lines = [
        line("instance.web", "vrid", Some("51"), Some("52")),
        line("instance.web", "password", Some("\"***\""), Some("\"***\"")),
        line("app.vs.web1", "port", None, Some("8080")),
    ];
    assert_eq!(
        render_diff(&lines),
        "instance.web\n  vrid: local 51 | partner 52\n  password: local \"***\" | partner \"***\"\n\
         app.vs.web1\n  port: local absent | partner 8080\n"
    );
    assert_eq!(render_diff(&[]), "in sync: no differences\n");
    let j = diff_json(&lines);
    assert_eq!(j.as_array().map(Vec::len), Some(2));
    assert_eq!(j[0]["object"], "instance.web");
    assert_eq!(
        j[0]["fields"][0],
        json!({"field": "vrid", "local": "51", "partner": "52"})
    );
    assert_eq!(j[1]["fields"][0]["local"], Value::Null);
    assert_eq!(diff_json(&[]), json!([]));
}

#[test]
fn forced_lists_what_it_overwrites() {
    let text = render_forced(
        0x1f,
        3,
        &[line("global", "restart_guard", Some("2"), Some("5"))],
    );
    assert_eq!(
        text,
        "forced: epoch 000000000000001f generation 3; overwrites on the partner:\n\
         global\n  restart_guard: local 2 | partner 5\n"
    );
    assert!(render_forced(1, 1, &[]).ends_with("partner:\n  nothing known to differ\n"));
}

#[test]
fn applied_lines_and_exit_statuses() {
    assert_eq!(
        render_applied(&SyncOutcome::Acked { generation: 7 }, 42),
        (
            "applied: generation 7, partner applied (in 42 ms)\n".into(),
            0
        )
    );
    assert_eq!(
        render_applied(&SyncOutcome::Pending { generation: 8 }, 2000),
        ("applied here: generation 8; partner pending\n".into(), 0)
    );
    let rejected = SyncOutcome::Rejected {
        generation: 9,
        code: "local-conflict".into(),
        path: "instance.web.addresses".into(),
        text: "IPv6 addresses with an IPv4 source".into(),
    };
    assert_eq!(
        render_applied(&rejected, 5),
        (
            "refused by the partner: local-conflict at instance.web.addresses: IPv6 addresses with an IPv4 source\n"
                .into(),
            3
        )
    );
    for other in [
        SyncOutcome::NotConfigured,
        SyncOutcome::Unchanged,
        SyncOutcome::NotSynced {
            reason: "a change from the partner is being applied".into(),
        },
    ] {
        let (text, code) = render_applied(&other, 1);
        assert_eq!(code, 0, "{other:?}");
        assert!(
            text.starts_with("applied") && text.ends_with('\n'),
            "{text}"
        );
    }
}

#[test]
fn the_status_page_has_a_sync_line_only_with_sync() {
    let mut snap = crate::control::render::tests::sample();
    assert!(!crate::control::render_status(&snap).contains("\nsync: "));
    let mut s = status();
    s.state = "pending".into();
    s.detail = Some("generation 13\n\u{1b}x".into());
    snap.sync = Some(s);
    let page = crate::control::render_status(&snap);
    assert!(
        page.contains(
            "\nsync: pending (generation 13\\u{a}\\u{1b}x), partner b, last success 3 s ago\n"
        ),
        "{page}"
    );
}
