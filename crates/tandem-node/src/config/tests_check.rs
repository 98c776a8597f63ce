//! Tests of `[global] control_socket` and `restart_guard`, `[health]`,
//! `notify`, their flags, several errors from one file, and
//! `tandemd check-config`'s checks and reports.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser;
use tandem_election::RestartGuard;

use super::*;

/// One instance: lines 1 to 4 are fixed, `extra` starts on line 5.
fn one(extra: &str) -> String {
    format!(
        "[[instance]]\nname = \"web\"\ninterface = \"eth0\"\nvrid = 51\naddresses = [\"192.0.2.100/24\"]\n{extra}\n"
    )
}

fn err(text: &str) -> String {
    match parse(text) {
        Ok(c) => panic!("accepted: {c:?}"),
        Err(e) => e.to_string(),
    }
}

fn ok(text: &str) -> DaemonConfig {
    parse(text).unwrap_or_else(|e| panic!("refused: {e}"))
}

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    flags: RunFlags,
}

fn flags(args: &[&str]) -> RunFlags {
    let mut argv = vec!["tandemd-run", "--interface", "eth0", "--vrid", "7"];
    argv.extend_from_slice(&["--address", "192.0.2.10/24"]);
    argv.extend_from_slice(args);
    Cli::try_parse_from(argv).unwrap().flags
}

#[test]
fn global_defaults() {
    let c = ok(&one(""));
    assert_eq!(
        c.global.control_socket,
        Path::new("/run/tandemd/tandemd.sock")
    );
    assert_eq!(c.global.health, None);
    assert_eq!(c.instances[0].notify, None);
}

#[test]
fn control_socket() {
    let c = ok(&format!(
        "[global]\ncontrol_socket = \"/run/t.sock\"\n{}",
        one("")
    ));
    assert_eq!(c.global.control_socket, Path::new("/run/t.sock"));
    assert_eq!(
        err(&format!(
            "[global]\ncontrol_socket = \"t.sock\"\n{}",
            one("")
        )),
        "line 2, column 18: global.control_socket: \"t.sock\" is not an absolute path"
    );
}

#[test]
fn health_defaults_and_fields() {
    let c = ok(&format!("{}[health]\nlisten = \"0.0.0.0:8080\"\n", one("")));
    let h = c.global.health.unwrap();
    assert_eq!(h, HealthConfig::new("0.0.0.0:8080".parse().unwrap()));
    assert_eq!(
        (
            h.path.as_str(),
            h.live_path.as_str(),
            h.metrics_path.as_str()
        ),
        ("/health", "/live", "/metrics")
    );
    assert_eq!(
        (h.active_body.as_str(), h.standby_body.as_str()),
        ("active\n", "standby\n")
    );
    assert!(h.instances.is_empty());

    let c = ok(&format!(
        "{}[health]\nlisten = \"[::]:9000\"\npath = \"/ready\"\nlive_path = \"/alive\"\n\
         metrics_path = \"/m\"\ninstances = [\"web\"]\nactive_body = \"up\"\nstandby_body = \"\"\n",
        one("")
    ));
    let h = c.global.health.unwrap();
    assert_eq!(h.listen, "[::]:9000".parse().unwrap());
    assert_eq!(
        (
            h.path.as_str(),
            h.live_path.as_str(),
            h.metrics_path.as_str()
        ),
        ("/ready", "/alive", "/m")
    );
    assert_eq!(h.instances, vec!["web".to_string()]);
    assert_eq!(
        (h.active_body.as_str(), h.standby_body.as_str()),
        ("up", "")
    );
}

#[test]
fn health_errors() {
    let h = |body: &str| err(&format!("{}[health]\n{body}\n", one("")));
    // The [health] table starts on line 7.
    assert_eq!(
        h("listen = \"8080\""),
        "line 8, column 10: health.listen: \"8080\" is not ADDR:PORT: write an address and a port, as \"0.0.0.0:8080\" or \"[::]:8080\" (IPv6 in brackets)"
    );
    assert_eq!(
        h("listen = \"::1:8080\""),
        "line 8, column 10: health.listen: \"::1:8080\" is not ADDR:PORT: write an address and a port, as \"0.0.0.0:8080\" or \"[::]:8080\" (IPv6 in brackets)"
    );
    assert!(h("listen = \"0.0.0.0:0\"").ends_with("health.listen: port 0 would make the kernel choose a port no load balancer knows: give the port the probes use"));
    assert!(h("path = \"/h\"")
        .contains("health.listen: missing: give the address and port to listen on"));
    assert_eq!(
        h("listen = \"0.0.0.0:8080\"\npath = \"health\""),
        "line 9, column 8: health.path: \"health\" is not an HTTP path: start it with '/', as \"/health\""
    );
    assert_eq!(
        h("listen = \"0.0.0.0:8080\"\nmetrics_path = \"/live\""),
        "line 9, column 16: health.metrics_path: \"/live\" is also the live_path: path, live_path and metrics_path each need their own"
    );
    assert!(h("listen = \"0.0.0.0:8080\"\npath = \"/p\"\nlive_path = \"/p\"")
        .ends_with("health.live_path: \"/p\" is also the path: path, live_path and metrics_path each need their own"));
    assert!(h("listen = \"0.0.0.0:8080\"\ninstances = [\"db\"]")
        .contains("health.instances[0]: no instance is named \"db\""));
    assert!(
        h("listen = \"0.0.0.0:8080\"\ninstances = [\"web\", \"web\"]")
            .ends_with("health.instances[1]: instance \"web\" is listed twice")
    );
}

#[test]
fn notify() {
    let c = ok(&one("notify = \"/usr/local/bin/on-change\""));
    assert_eq!(
        c.instances[0].notify,
        Some(NotifyConfig {
            command: "/usr/local/bin/on-change".to_string(),
            timeout: Duration::from_secs(10),
        })
    );
    let c = ok(&one(
        "notify = \"systemctl restart strongswan\"\nnotify_timeout = 2.5",
    ));
    assert_eq!(
        c.instances[0].notify.as_ref().unwrap().timeout,
        Duration::from_millis(2500)
    );
    ok(&one("notify = \"x\"\nnotify_timeout = 3600"));

    assert_eq!(
        err(&one("notify = \"  \"")),
        "line 6, column 10: instance \"web\".notify: the notify command is empty: give a shell command (run with /bin/sh -c), or remove notify"
    );
    for t in ["0", "-1.0", "3600.5", "1e300", "nan"] {
        assert_eq!(
            err(&one(&format!("notify = \"x\"\nnotify_timeout = {t}"))),
            format!(
                "line 7, column 18: instance \"web\".notify_timeout: notify_timeout {} s is out of range: use more than 0 and at most 3600 s",
                t.parse::<f64>().unwrap()
            )
        );
    }
    assert_eq!(
        err(&one("notify_timeout = 5")),
        "line 6, column 18: instance \"web\".notify_timeout: notify_timeout without notify does nothing: add notify = \"COMMAND\" or remove notify_timeout"
    );
}

#[test]
fn notify_args_and_per_state_commands() {
    use crate::config::NotifyArgs;
    let c = ok(&one(
        "notify = \"/n\"\nnotify_args = \"keepalived\"\nnotify_active = \"/up\"\nnotify_timeout = 3",
    ));
    let h = &c.instances[0].hooks;
    assert_eq!(h.args, NotifyArgs::Keepalived);
    assert_eq!(h.active.as_ref().unwrap().command, "/up");
    assert_eq!(h.active.as_ref().unwrap().timeout, Duration::from_secs(3));
    assert_eq!(h.backup, None);
    let c = ok(&one(
        "notify_backup = \"/down\"\nnotify_args = \"ucarp\"\nnotify_xparam = \"x\"",
    ));
    assert_eq!(
        c.instances[0].hooks.args,
        NotifyArgs::Ucarp {
            xparam: Some("x".into())
        }
    );
    // notify_timeout with a per-state command alone is fine.
    ok(&one("notify_stop = \"/stop\"\nnotify_timeout = 1"));

    let cases: &[(&str, &str)] = &[
        ("notify = \"/n\"\nnotify_args = \"systemd\"", "line 7, column 15: instance \"web\".notify_args: \"systemd\" is not a notify_args form: use \"none\" (the transition in the environment only), \"keepalived\" (TYPE NAME STATE PRIORITY) or \"ucarp\" (INTERFACE ADDRESS [XPARAM])"),
        ("notify_args = \"keepalived\"", "line 6, column 15: instance \"web\".notify_args: notify_args without a notify command does nothing: add notify (or notify_active, notify_backup, notify_fault, notify_stop), or remove notify_args"),
        ("notify = \"/n\"\nnotify_xparam = \"x\"", "line 7, column 17: instance \"web\".notify_xparam: notify_xparam is an argument of the ucarp form only: add notify_args = \"ucarp\" or remove notify_xparam"),
        ("notify_fault = \"\"", "line 6, column 16: instance \"web\".notify_fault: the notify command is empty: give a shell command (run with /bin/sh -c), or remove notify"),
    ];
    for (extra, want) in cases {
        assert_eq!(&err(&one(extra)), want, "{extra}");
    }
    let group = |extra: &str| {
        format!(
            "{}[[sync_group]]\nname = \"fw\"\ninstances = [\"web\"]\n{extra}\n",
            one("")
        )
    };
    let c = ok(&group("notify = \"/g\"\nnotify_args = \"keepalived\""));
    assert_eq!(c.sync_groups[0].notify.as_ref().unwrap().command, "/g");
    assert_eq!(c.sync_groups[0].hooks.args, NotifyArgs::Keepalived);
    assert_eq!(
        err(&group("notify = \"/g\"\nnotify_args = \"ucarp\"")),
        "line 11, column 15: sync_group \"fw\".notify_args: notify_args \"ucarp\" passes an instance's interface and address, which a sync group does not have: use \"none\" or \"keepalived\" here, or set it on the members"
    );
}

#[test]
fn global_restart_guard() {
    let text = "[global]\nrestart_guard = { max_starts = 5, window = 60 }\n\
        [[instance]]\ninterface = \"eth0\"\nvrid = 1\naddresses = [\"192.0.2.1\"]\n\
        [[instance]]\ninterface = \"eth0\"\nvrid = 2\naddresses = [\"192.0.2.2\"]\n\
        restart_guard = { expire = true }\n";
    let c = ok(text);
    assert_eq!(
        c.instances[0].election.restart_guard,
        Some(RestartGuard {
            max_starts: 5,
            window: Duration::from_secs(60),
            expire: false,
        })
    );
    assert_eq!(
        c.instances[1].election.restart_guard,
        Some(RestartGuard {
            expire: true,
            ..RestartGuard::default()
        })
    );
    assert_eq!(
        err(&format!(
            "[global]\nrestart_guard = {{ max_starts = 0 }}\n{}",
            one("")
        )),
        "line 2, column 32: global.restart_guard.max_starts: 0 is out of range: use 1 to 1000"
    );
    assert_eq!(ok(&one("")).instances[0].election.restart_guard, None);
}

#[test]
fn flags_for_the_new_fields() {
    let c = from_flags(&flags(&[
        "--notify",
        "logger changed",
        "--notify-timeout",
        "3",
        "--control-socket",
        "/tmp/t.sock",
        "--health-listen",
        "127.0.0.1:8080",
    ]))
    .unwrap();
    assert_eq!(
        c.instances[0].notify,
        Some(NotifyConfig {
            command: "logger changed".to_string(),
            timeout: Duration::from_secs(3),
        })
    );
    assert_eq!(c.global.control_socket, PathBuf::from("/tmp/t.sock"));
    assert_eq!(
        c.global.health,
        Some(HealthConfig::new("127.0.0.1:8080".parse().unwrap()))
    );

    let e = |args: &[&str]| from_flags(&flags(args)).unwrap_err().to_string();
    assert_eq!(
        e(&["--health-listen", "localhost"]),
        "--health-listen: \"localhost\" is not ADDR:PORT: write an address and a port, as \"0.0.0.0:8080\" or \"[::]:8080\" (IPv6 in brackets)"
    );
    assert_eq!(
        e(&["--control-socket", "t.sock"]),
        "--control-socket: \"t.sock\" is not an absolute path"
    );
    assert_eq!(
        e(&["--notify", "x", "--notify-timeout", "0"]),
        "--notify-timeout: notify_timeout 0 s is out of range: use more than 0 and at most 3600 s"
    );
    assert!(e(&["--notify", ""]).starts_with("--notify: the notify command is empty"));
}

#[test]
fn flags_override_a_file() {
    let mut c = ok(&format!(
        "{}[health]\nlisten = \"0.0.0.0:80\"\npath = \"/ready\"\n",
        one("")
    ));
    let f = Cli::try_parse_from(["x", "--health-listen", "[::1]:81", "--control-socket", "/s"])
        .unwrap()
        .flags;
    f.apply_global(&mut c.global).unwrap();
    let h = c.global.health.unwrap();
    assert_eq!(
        (h.listen, h.path.as_str()),
        ("[::1]:81".parse().unwrap(), "/ready")
    );
    assert_eq!(c.global.control_socket, Path::new("/s"));
}

// check-config.

/// A host with eth0 (192.0.2.1) and eth1 (no address).
fn host(ifname: &str) -> Option<Vec<IpAddr>> {
    match ifname {
        "eth0" => Some(vec!["192.0.2.1".parse().unwrap()]),
        "eth1" => Some(Vec::new()),
        _ => None,
    }
}

fn check(text: &str) -> CheckReport {
    check_text(text, Some(Path::new("t.toml")), Some(&host))
}

fn messages(r: &CheckReport) -> Vec<String> {
    r.errors.iter().map(ToString::to_string).collect()
}

#[test]
fn check_duplicate_vrid_on_an_interface() {
    let r = check(
        "[[instance]]\nname = \"a\"\ninterface = \"eth0\"\nvrid = 7\naddresses = [\"192.0.2.10\"]\n\
         [[instance]]\nname = \"b\"\ninterface = \"eth0\"\nvrid = 7\naddresses = [\"192.0.2.11\"]\n",
    );
    assert_eq!(
        messages(&r),
        ["t.toml:9:8: instance \"b\".vrid: VRID 7 on eth0 (IPv4) is already used by instance \"a\": VRRP and CARP share IP protocol 112, so each interface and family takes a VRID (VHID) once"]
    );
    assert!(render_human(&r).ends_with("t.toml: 1 error\n"));
}

#[test]
fn check_password_on_vrrp3() {
    let r = check(&one("password = \"secret\""));
    assert_eq!(
        messages(&r),
        ["t.toml:6:12: instance \"web\".password: VRRPv3 has no authentication (RFC 9568): remove the password, or use protocol \"vrrp2\" (auth = \"pass\" or \"ah\") or \"carp\""]
    );
}

#[test]
fn check_priority_255_without_the_address() {
    let r = check(&one("priority = 255"));
    assert_eq!(
        messages(&r),
        ["instance \"web\".priority: priority 255 is the address owner's: this node must own 192.0.2.100 (it is not one of eth0's addresses); lower the priority or add the address to eth0"]
    );
    // Owning it is fine; so is any priority below 255.
    let owner = "[[instance]]\ninterface = \"eth0\"\nvrid = 1\npriority = 255\naddresses = [\"192.0.2.1/24\"]\n";
    assert!(check(owner).is_ok());
    // An interface with no address at all is judged too.
    let r = check(
        "[[instance]]\nname = \"x\"\ninterface = \"eth1\"\nvrid = 1\npriority = 255\naddresses = [\"192.0.2.9\"]\n",
    );
    assert_eq!(r.errors.len(), 1);
    assert!(matches!(
        r.errors[0].problem(),
        Some(Problem::NotOwner { .. })
    ));
}

#[test]
fn check_host_interface_and_source() {
    let r = check(
        "[[instance]]\nname = \"x\"\ninterface = \"eth9\"\nvrid = 1\naddresses = [\"192.0.2.9\"]\n\
         [[instance]]\nname = \"y\"\ninterface = \"eth0\"\nvrid = 2\nsource = \"192.0.2.2\"\naddresses = [\"192.0.2.8\"]\n",
    );
    assert_eq!(
        messages(&r),
        [
            "instance \"x\".interface: interface \"eth9\" does not exist on this host: check the name (`ip link`), or create it before tandemd starts",
            "instance \"y\".source: 192.0.2.2 is not one of eth0's addresses: adverts must come from this node's own address",
        ]
    );
    assert!(render_human(&r)
        .contains("    hint: checking the file on another machine than the node? add --no-host\n"));
    // Without the host, the file alone is good.
    let r = check_text(&r_text(), None, None);
    assert!(r.is_ok());
}

fn r_text() -> String {
    "[[instance]]\ninterface = \"eth9\"\nvrid = 1\npriority = 255\naddresses = [\"192.0.2.9\"]\n"
        .to_string()
}

#[test]
fn check_reports_every_error() {
    let text = "[global]\ncontrol_socket = \"rel\"\n\
        [[instance]]\nname = \"a\"\ninterface = \"eth0\"\nvrid = 300\naddresses = [\"192.0.2.10\"]\n\
        [[instance]]\nname = \"b\"\ninterface = \"eth0\"\nvrid = 8\npassword = \"p\"\naddresses = [\"192.0.2.11\"]\n\
        [[instance]]\nname = \"c\"\ninterface = \"eth0\"\nvrid = 9\naddresses = [\"192.0.2.12\"]\n\
        [[sync_group]]\nname = \"g\"\ninstances = [\"a\", \"c\"]\n\
        [[sync_group]]\nname = \"h\"\ninstances = [\"zz\"]\n\
        [health]\nlisten = \"nope\"\ninstances = [\"b\"]\n";
    let r = check(text);
    let m = messages(&r);
    assert_eq!(m.len(), 5, "{m:#?}");
    assert!(m[0].starts_with("t.toml:2:18: global.control_socket:"));
    assert!(m[1].starts_with("t.toml:6:8: instance \"a\".vrid: VRID 300 is out of range"));
    assert!(m[2].starts_with("t.toml:12:12: instance \"b\".password: VRRPv3 has no authentication"));
    // Group "g" names "a", which failed: not reported again.
    assert!(m[3]
        .starts_with("t.toml:24:14: sync_group \"h\".instances[0]: no instance is named \"zz\""));
    assert!(m[4].starts_with("t.toml:26:10: health.listen: \"nope\" is not ADDR:PORT"));
    assert_eq!(r.notes, ["host checks skipped: fix the file first"]);
    assert!(render_human(&r)
        .ends_with("note: host checks skipped: fix the file first\nt.toml: 5 errors\n"));
    // parse() gives the first of them.
    assert!(err(text).starts_with("line 2, column 18: global.control_socket:"));
    assert_eq!(parse_all(text).unwrap_err().len(), 5);
}

#[test]
fn check_unnamed_failed_instance_keeps_groups_quiet() {
    // The failed instance's default name is eth0-1-ipv4: the group naming
    // it is not reported.
    let text = "[[instance]]\ninterface = \"eth0\"\nvrid = 1\npriority = 0\naddresses = [\"192.0.2.10\"]\n\
        [[sync_group]]\nname = \"g\"\ninstances = [\"eth0-1-ipv4\"]\n";
    let m = messages(&check(text));
    assert_eq!(m.len(), 1, "{m:#?}");
    assert!(m[0].contains("priority 0"));
}

#[test]
fn check_toml_error_is_alone() {
    let r = check(&one("prority = 5"));
    let out = render_human(&r);
    assert!(
        out.starts_with("t.toml:6:1: unknown field `prority`"),
        "{out}"
    );
    assert!(out.contains("    hint: a misspelt or misplaced key"));
}

#[test]
fn check_ok_and_json() {
    let text = format!(
        "{}[[sync_group]]\nname = \"g\"\ninstances = [\"web\"]\n",
        one("")
    );
    let r = check_text(&text, Some(Path::new("t.toml")), None);
    assert_eq!(render_human(&r), "t.toml: OK, 1 instance, 1 sync group\n");
    let v: serde_json::Value = serde_json::from_str(&render_json(&r)).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["instances"], 1);
    assert_eq!(v["sync_groups"], 1);
    assert_eq!(v["errors"].as_array().unwrap().len(), 0);

    let r = check(&one("password = \"x\""));
    let v: serde_json::Value = serde_json::from_str(&render_json(&r)).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["instances"], serde_json::Value::Null);
    let e = &v["errors"][0];
    assert_eq!(
        (e["file"].as_str(), e["line"].as_u64(), e["column"].as_u64()),
        (Some("t.toml"), Some(6), Some(12))
    );
    assert_eq!(e["field"], "instance \"web\".password");
    assert!(e["message"]
        .as_str()
        .unwrap()
        .starts_with("VRRPv3 has no authentication"));
}

#[test]
fn check_file_unreadable_and_examples() {
    let r = check_file(Path::new("/nonexistent/t.toml"), None);
    assert!(render_human(&r).starts_with("cannot read /nonexistent/t.toml: "));
    let mut out = Vec::new();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/vrrp3-pair-a.toml");
    assert!(check_config_command(&example, false, true, &mut out).unwrap());
    let out = String::from_utf8(out).unwrap();
    assert!(out.ends_with(": OK, 2 instances, 1 sync group\n"), "{out}");
}
