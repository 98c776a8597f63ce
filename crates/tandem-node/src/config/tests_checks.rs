//! Tests of `[[check]]` and of `track` entries naming checks: each kind
//! with its defaults, the effect a track settles on, and each refusal
//! with its field path and advice.

use std::time::Duration;

use tandem_election::{Track, TrackEffect};

use super::*;
use crate::checks::{Probe, TrackedCheck};

fn doc(checks: &str, track: &str) -> String {
    format!(
        "{checks}\n[[instance]]\nname = \"web\"\ninterface = \"eth0\"\nvrid = 51\naddresses = [\"192.0.2.100/24\"]\ntrack = [{track}]\n"
    )
}

fn of(checks: &str, track: &str) -> DaemonConfig {
    match parse(&doc(checks, track)) {
        Ok(c) => c,
        Err(e) => panic!("refused: {e}"),
    }
}

fn err(checks: &str, track: &str) -> String {
    match parse(&doc(checks, track)) {
        Ok(c) => panic!("accepted: {:?}", c.checks),
        Err(e) => e.to_string(),
    }
}

#[test]
fn script_check_defaults_and_fault_track() {
    let c = of(
        "[[check]]\nname = \"nginx\"\nscript = \"pidof nginx\"\n",
        "{ check = \"nginx\" }",
    );
    let ch = &c.checks[0];
    assert_eq!(ch.name, "nginx");
    assert_eq!(
        ch.probe,
        Probe::Script {
            command: "pidof nginx".into(),
            user: None
        }
    );
    assert_eq!(
        (ch.interval, ch.timeout),
        (Duration::from_secs(2), Duration::from_secs(2))
    );
    assert_eq!((ch.rise, ch.fall, ch.weight), (1, 1, None));
    let inst = &c.instances[0];
    assert_eq!(
        inst.track_checks,
        vec![TrackedCheck {
            check: "nginx".into(),
            effect: TrackEffect::Fault,
            factor: 1
        }]
    );
    assert!(inst.election.tracks.contains(&Track {
        name: "nginx".into(),
        effect: TrackEffect::Fault
    }));
}

#[test]
fn the_check_weight_applies_unless_the_track_gives_its_own() {
    let checks = "[[check]]\nname = \"api\"\ntcp = \"192.0.2.10:443\"\nweight = 20\ninterval = 1\ntimeout = 0.5\nrise = 2\nfall = 3\n";
    let c = of(checks, "{ check = \"api\" }");
    assert_eq!(
        c.instances[0].track_checks[0].effect,
        TrackEffect::Weight(20)
    );
    assert_eq!(c.checks[0].timeout, Duration::from_millis(500));
    assert_eq!((c.checks[0].rise, c.checks[0].fall), (2, 3));
    let c = of(checks, "{ check = \"api\", weight = 5 }");
    assert_eq!(
        c.instances[0].track_checks[0].effect,
        TrackEffect::Weight(5)
    );
    let c = of(checks, "{ check = \"api\", fault = true }");
    assert_eq!(c.instances[0].track_checks[0].effect, TrackEffect::Fault);
}

#[test]
fn http_check_parts() {
    let c = of(
        "[[check]]\nname = \"web\"\nhttp = \"http://[fd00::10]:8080/health?full=1\"\nhost = \"www.example.net\"\nexpect = [200, \"300-399\"]\nbody_contains = \"ok\"\n",
        "{ check = \"web\", weight = 50 }",
    );
    let Probe::Http(h) = &c.checks[0].probe else {
        panic!("{:?}", c.checks[0].probe)
    };
    assert_eq!(h.addr, "[fd00::10]:8080".parse().unwrap());
    assert_eq!(h.path, "/health?full=1");
    assert_eq!(h.host, "www.example.net");
    assert_eq!(h.expect, vec![(200, 200), (300, 399)]);
    assert_eq!(h.body_contains.as_deref(), Some("ok"));
    let c = of(
        "[[check]]\nname = \"w\"\nhttp = \"http://192.0.2.9\"\n",
        "{ check = \"w\" }",
    );
    let Probe::Http(h) = &c.checks[0].probe else {
        panic!()
    };
    assert_eq!(
        (h.addr.port(), h.path.as_str(), h.host.as_str()),
        (80, "/", "192.0.2.9")
    );
    assert_eq!(h.expect, vec![(200, 200)]);
    assert!(!h.tls);
}

#[test]
fn https_check_parts() {
    let c = of(
        "[[check]]\nname = \"w\"\nhttp = \"https://192.0.2.9/ready\"\nhost = \"lb.example.net\"\nca_file = \"/etc/tandemd/backend-ca.pem\"\n",
        "{ check = \"w\" }",
    );
    let Probe::Http(h) = &c.checks[0].probe else {
        panic!()
    };
    assert!(h.tls && h.verify);
    assert_eq!((h.addr.port(), h.host.as_str()), (443, "lb.example.net"));
    assert_eq!(
        h.ca_file.as_deref(),
        Some(std::path::Path::new("/etc/tandemd/backend-ca.pem"))
    );
    let c = of(
        "[[check]]\nname = \"w\"\nhttp = \"https://[fd00::9]:8443/\"\nverify = false\n",
        "{ check = \"w\" }",
    );
    let Probe::Http(h) = &c.checks[0].probe else {
        panic!()
    };
    assert!(h.tls && !h.verify && h.ca_file.is_none());
    assert_eq!(h.host, "[fd00::9]:8443");
}

#[test]
fn file_check_takes_a_signed_weight() {
    let c = of(
        "[[check]]\nname = \"lb\"\nfile = \"/run/lb/weight\"\n",
        "{ check = \"lb\", weight = -3 }",
    );
    assert_eq!(c.checks[0].interval, Duration::from_secs(1));
    assert_eq!(c.instances[0].track_checks[0].factor, -3);
    let c = of(
        "[[check]]\nname = \"lb\"\nfile = \"/run/lb/weight\"\n",
        "{ check = \"lb\" }",
    );
    assert_eq!(c.instances[0].track_checks[0].factor, 1);
    let e = err(
        "[[check]]\nname = \"s\"\nscript = \"true\"\n",
        "{ check = \"s\", weight = -3 }",
    );
    assert!(e.contains("weight -3 is out of range"), "{e}");
}

#[test]
fn refusals_name_the_field_and_the_fix() {
    let cases: &[(&str, &str, &str)] = &[
        ("[[check]]\nname = \"a\"\n", "{ check = \"a\" }", "give one of script, file, tcp or http"),
        (
            "[[check]]\nname = \"a\"\nscript = \"true\"\ntcp = \"192.0.2.1:80\"\n",
            "{ check = \"a\" }",
            "not script and tcp",
        ),
        ("[[check]]\nname = \"a\"\nscript = \"  \"\n", "{ check = \"a\" }", "the command is blank"),
        (
            "[[check]]\nname = \"a\"\nscript = \"true\"\nuser = \"no body\"\n",
            "{ check = \"a\" }",
            "is not a user name",
        ),
        (
            "[[check]]\nname = \"a\"\ntcp = \"db.example:5432\"\n",
            "{ check = \"a\" }",
            "checks never resolve names",
        ),
        (
            "[[check]]\nname = \"a\"\ntcp = \"192.0.2.1:80\"\nuser = \"nobody\"\n",
            "{ check = \"a\" }",
            "user applies to script checks only",
        ),
        (
            "[[check]]\nname = \"a\"\nhttp = \"http://192.0.2.1/\"\nverify = false\n",
            "{ check = \"a\" }",
            "verify applies to https checks only, and this one is a plain http check",
        ),
        (
            "[[check]]\nname = \"a\"\nhttp = \"https://192.0.2.1/\"\nca_file = \"ca.pem\"\n",
            "{ check = \"a\" }",
            "absolute",
        ),
        (
            "[[check]]\nname = \"a\"\nhttp = \"http://lb.example/\"\n",
            "{ check = \"a\" }",
            "the host must be an IP address",
        ),
        (
            "[[check]]\nname = \"a\"\nhttp = \"http://192.0.2.1/\"\nexpect = [700]\n",
            "{ check = \"a\" }",
            "700 is not an HTTP status",
        ),
        (
            "[[check]]\nname = \"a\"\nscript = \"true\"\ninterval = 1\ntimeout = 3\n",
            "{ check = \"a\" }",
            "at most the interval",
        ),
        (
            "[[check]]\nname = \"a\"\nscript = \"true\"\ninterval = 0.01\n",
            "{ check = \"a\" }",
            "out of range for a check",
        ),
        (
            "[[check]]\nname = \"a\"\nscript = \"true\"\nrise = 0\n",
            "{ check = \"a\" }",
            "rise",
        ),
        ("", "{ check = \"nope\" }", "no [[check]] is named \"nope\""),
        (
            "[[check]]\nname = \"a\"\nscript = \"true\"\n",
            "{ check = \"a\", interface = \"eth1\" }",
            "give either interface or check",
        ),
        (
            "[[check]]\nname = \"eth0\"\nscript = \"true\"\n",
            "{ check = \"eth0\" }",
            "has the name of an interface",
        ),
        (
            "[[check]]\nname = \"a\"\nscript = \"true\"\n[[check]]\nname = \"a\"\nscript = \"false\"\n",
            "{ check = \"a\" }",
            "check[0]",
        ),
        (
            "[[check]]\nname = \"a\"\nscript = \"true\"\n",
            "{ check = \"a\" }, { check = \"a\" }",
            "\"a\"",
        ),
    ];
    for (checks, track, want) in cases {
        let e = err(checks, track);
        assert!(e.contains(want), "{checks}{track}: {e}\n(wanted {want:?})");
    }
}

#[test]
fn no_checks_means_nothing_tracked() {
    let c = of("", "{ interface = \"eth1\" }");
    assert!(c.checks.is_empty() && c.instances[0].track_checks.is_empty());
}
