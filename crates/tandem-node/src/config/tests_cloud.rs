//! Tests of `[cloud]`: the role's mapping onto each instance's election,
//! its conflicts with priority / advskew / preempt, the hook settings and
//! each refusal with its field path.

use std::time::Duration;

use super::*;

const WEB: &str =
    "[[instance]]\nname = \"web\"\ninterface = \"eth0\"\nvrid = 51\naddresses = [\"192.0.2.100/24\"]\n";

/// Instance "web" with `extra` fields, a sync group "fw", then `[cloud]`
/// with `body`.
fn with(extra: &str, body: &str) -> String {
    format!(
        "{WEB}{extra}\n[[sync_group]]\nname = \"fw\"\ninstances = [\"web\"]\n\n[cloud]\n{body}\n"
    )
}

fn of(extra: &str, body: &str) -> DaemonConfig {
    match parse(&with(extra, body)) {
        Ok(c) => c,
        Err(e) => panic!("refused: {e}"),
    }
}

fn err(extra: &str, body: &str) -> String {
    match parse(&with(extra, body)) {
        Ok(c) => panic!("accepted: {:?}", c.global.cloud),
        Err(e) => e.to_string(),
    }
}

#[test]
fn cloud_defaults() {
    let c = of("", "");
    let cloud = c.global.cloud.expect("[cloud]");
    assert_eq!(cloud, CloudConfig::default());
    assert!(cloud.failback && !cloud.has_hooks());
    assert_eq!(cloud.hook_timeout, Duration::from_secs(30));
    assert_eq!(
        (cloud.attempts, cloud.retry_delay),
        (10, Duration::from_secs(1))
    );
    // Without a role the instance keeps its own priority and preempt.
    assert_eq!(c.instances[0].election.priority.0, 100);
    assert!(c.instances[0].election.preempt);
}

#[test]
fn roles_map_onto_the_preferred_host_policy() {
    let e = |extra: &str, body: &str| of(extra, body).instances[0].election.clone();
    let p = e("", "role = \"primary\"");
    assert_eq!((p.priority.0, p.preempt), (200, true));
    let s = e("", "role = \"secondary\"");
    assert_eq!((s.priority.0, s.preempt), (100, false));
    // No failback: nobody preempts, the primary still wins a tie at start.
    let p = e("", "role = \"primary\"\nfailback = false");
    assert_eq!((p.priority.0, p.preempt), (200, false));
    let s = e("", "role = \"secondary\"\nfailback = false");
    assert_eq!((s.priority.0, s.preempt), (100, false));
    // Values that agree with the role are accepted.
    let p = e("priority = 200\npreempt = true", "role = \"primary\"");
    assert_eq!((p.priority.0, p.preempt), (200, true));
    // CARP: by advskew.
    let carp = "protocol = \"carp\"\npassword = \"x\"";
    let p = e(carp, "role = \"primary\"");
    let s = e(carp, "role = \"secondary\"");
    let skew = |c: &tandem_election::Config| match c.protocol {
        tandem_election::Protocol::Carp { advskew, .. } => advskew,
        _ => panic!("not CARP"),
    };
    assert_eq!(
        (skew(&p), p.preempt, skew(&s), s.preempt),
        (0, true, 100, false)
    );
    // The mapping as a function.
    let base = tandem_election::Config::new(
        tandem_wire::Vrid::new(1).unwrap(),
        "192.0.2.1".parse().unwrap(),
        vec!["192.0.2.100".parse().unwrap()],
    );
    let c = role_election(base.clone(), Role::Secondary, true);
    assert_eq!((c.priority.0, c.preempt), (SECONDARY_PRIORITY, false));
    let c = role_election(base, Role::Primary, true);
    assert_eq!((c.priority.0, c.preempt), (PRIMARY_PRIORITY, true));
    assert!(c.validate().is_ok());
}

#[test]
fn role_conflicts_are_refused_with_the_instance_field() {
    let e = err("priority = 150", "role = \"primary\"");
    assert!(e.contains("instance \"web\".priority: priority 150 conflicts with [cloud] role = \"primary\", which gives this unit priority 200"), "{e}");
    assert!(e.contains("remove priority from the instance"), "{e}");
    let e = err("priority = 255", "role = \"secondary\"");
    assert!(e.contains("priority 255 conflicts"), "{e}");
    let e = err("preempt = true", "role = \"secondary\"");
    assert!(e.contains("instance \"web\".preempt: preempt = true conflicts with [cloud] role = \"secondary\" and failback = true, which give preempt = false"), "{e}");
    let e = err("preempt = true", "role = \"primary\"\nfailback = false");
    assert!(e.contains("preempt = true conflicts"), "{e}");
    let e = err(
        "protocol = \"carp\"\npassword = \"x\"\nadvskew = 10",
        "role = \"secondary\"",
    );
    assert!(
        e.contains("instance \"web\".advskew: advskew 10 conflicts"),
        "{e}"
    );
}

#[test]
fn cloud_hook_settings() {
    let c = of(
        "",
        "on_active = \"/usr/local/bin/move-ip\"\non_standby = \"true\"\nsync_group = \"fw\"\n\
         hook_timeout = 5\nattempts = 3\nretry_delay = 0.5",
    )
    .global
    .cloud
    .unwrap();
    assert_eq!(c.on_active.as_deref(), Some("/usr/local/bin/move-ip"));
    assert_eq!(c.on_standby.as_deref(), Some("true"));
    assert_eq!(c.sync_group.as_deref(), Some("fw"));
    assert_eq!(c.hook_timeout, Duration::from_secs(5));
    assert_eq!(c.attempts, 3);
    assert_eq!(c.retry_delay, Duration::from_millis(500));
    let c = of("", "on_active = \"x\"\ninstances = [\"web\"]")
        .global
        .cloud
        .unwrap();
    assert_eq!(c.instances, vec!["web".to_string()]);
}

#[test]
fn cloud_errors() {
    for (body, want) in [
        (
            "role = \"master\"",
            "cloud.role: \"master\" is not a role: use \"primary\" or \"secondary\"",
        ),
        (
            "failback = false",
            "cloud.failback: failback without role does nothing",
        ),
        ("on_active = \"  \"", "cloud.on_active:"),
        (
            "hook_timeout = 5",
            "cloud.hook_timeout: hook_timeout without on_active or on_standby does nothing",
        ),
        ("attempts = 3", "cloud.attempts: attempts without on_active"),
        (
            "retry_delay = 3",
            "cloud.retry_delay: retry_delay without on_active",
        ),
        (
            "on_active = \"x\"\nhook_timeout = 0",
            "cloud.hook_timeout: hook_timeout 0 s is out of range",
        ),
        (
            "on_active = \"x\"\nhook_timeout = 3601",
            "hook_timeout 3601 s is out of range",
        ),
        ("on_active = \"x\"\nattempts = 0", "cloud.attempts:"),
        ("on_active = \"x\"\nattempts = 101", "cloud.attempts:"),
        (
            "on_active = \"x\"\nretry_delay = 61",
            "cloud.retry_delay: retry_delay 61 s is out of range",
        ),
        ("on_active = \"x\"\nretry_delay = -1", "cloud.retry_delay:"),
        ("instances = [\"db\"]", "cloud.instances[0]: "),
        (
            "instances = [\"web\", \"web\"]",
            "cloud.instances[1]: instance \"web\" is listed twice",
        ),
        (
            "sync_group = \"nope\"",
            "cloud.sync_group: no sync group is named \"nope\"",
        ),
        (
            "instances = [\"web\"]\nsync_group = \"fw\"",
            "cloud.sync_group: give instances or sync_group, not both",
        ),
        ("rol = \"primary\"", "unknown field `rol`"),
    ] {
        let e = err("", body);
        assert!(e.contains(want), "{body}: {e}");
    }
}

#[test]
fn check_config_reports_the_role_conflict_with_the_others() {
    let text = with("priority = 150", "role = \"primary\"\nattempts = 3");
    let errors = build::parse_text_all(&text, None).unwrap_err();
    let all: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(all.len(), 2, "{all:?}");
    assert!(
        all.iter().any(|e| e.contains("instance \"web\".priority")),
        "{all:?}"
    );
    assert!(all.iter().any(|e| e.contains("cloud.attempts")), "{all:?}");
}

#[test]
fn role_is_each_units_own_and_the_rest_is_shared() {
    let text = with("", "role = \"primary\"\non_active = \"x\"");
    let shared = document::shared(&text, None).unwrap();
    let key = tandem_config_sync::doc::ObjectKey::new("cloud", "");
    let obj = shared.object(&key).expect("[cloud] is sent");
    assert!(obj.get("role").is_none(), "role is local");
    assert!(obj.get("on_active").is_some(), "on_active is shared");
}

#[test]
fn the_flag_form_takes_a_role() {
    let mut f = RunFlags {
        interface: Some("eth0".into()),
        vrid: Some(7),
        addresses: vec!["192.0.2.10/24".into()],
        role: Some("secondary".into()),
        ..RunFlags::default()
    };
    let c = from_flags(&f).unwrap();
    assert_eq!(c.instances[0].election.priority.0, 100);
    assert!(!c.instances[0].election.preempt);
    assert_eq!(c.global.cloud.unwrap().role, Some(Role::Secondary));
    f.priority = Some(150);
    let e = from_flags(&f).unwrap_err().to_string();
    assert!(e.starts_with("--priority: priority 150 conflicts"), "{e}");
    f.priority = None;
    f.role = None;
    f.no_failback = true;
    let e = from_flags(&f).unwrap_err().to_string();
    assert!(e.starts_with("--no-failback: failback without role"), "{e}");
}

/// The two example units are a primary and a secondary of one pair.
#[test]
fn the_cloud_examples_are_a_primary_and_a_secondary() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let a = load(&dir.join("cloud-pair-a.toml")).unwrap();
    let b = load(&dir.join("cloud-pair-b.toml")).unwrap();
    let (ca, cb) = (a.global.cloud.unwrap(), b.global.cloud.unwrap());
    assert_eq!(
        (ca.role, cb.role),
        (Some(Role::Primary), Some(Role::Secondary))
    );
    assert_eq!((ca.failback, cb.failback), (true, true));
    let (ea, eb) = (&a.instances[0].election, &b.instances[0].election);
    assert_eq!((ea.priority.0, ea.preempt), (200, true));
    assert_eq!((eb.priority.0, eb.preempt), (100, false));
    assert_eq!(ea.addresses, eb.addresses);
    assert_eq!(ea.announce.repeat, 0);
}

/// docs/config.md has a row for every key of `[cloud]`.
#[test]
fn docs_name_every_cloud_key() {
    let docs = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/config.md"),
    )
    .unwrap();
    let message = err("", "x = 1");
    let (_, list) = message.split_once("expected").unwrap();
    let keys: Vec<&str> = list.split('`').skip(1).step_by(2).collect();
    assert_eq!(keys.len(), 9, "{keys:?}");
    for key in keys {
        assert!(
            docs.contains(&format!("| `{key}` |")),
            "docs/config.md has no row for `{key}`"
        );
    }
}

#[test]
fn the_builder_takes_cloud_as_the_file() {
    let cloud = CloudConfig {
        role: Some(Role::Primary),
        on_active: Some("move-ip".into()),
        attempts: 4,
        ..CloudConfig::default()
    };
    let web = || {
        InstanceBuilder::vrrp3("eth0", 51)
            .name("web")
            .address("192.0.2.100".parse().unwrap(), 24)
    };
    let c = Builder::new()
        .instance(web())
        .cloud(cloud.clone())
        .build()
        .unwrap();
    assert_eq!(c.global.cloud.as_ref(), Some(&cloud));
    assert_eq!(c.instances[0].election.priority.0, 200);
    let e = Builder::new()
        .instance(web().priority(150))
        .cloud(cloud)
        .build()
        .unwrap_err()
        .to_string();
    assert!(e.contains("priority 150 conflicts"), "{e}");
}
