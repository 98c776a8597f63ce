//! Tests of `[replication]`: its defaults, every field, and each refusal
//! with its field path.

use std::time::Duration;

use super::*;

/// An instance "web", then `[replication]` with `body`.
fn with(body: &str) -> String {
    format!(
        "[[instance]]\nname = \"web\"\ninterface = \"eth0\"\nvrid = 51\naddresses = [\"192.0.2.100/24\"]\n\n\
         [replication]\n{body}\n"
    )
}

fn of(body: &str) -> ReplicationConfig {
    match parse(&with(body)) {
        Ok(c) => c.global.replication.expect("a [replication] section"),
        Err(e) => panic!("refused: {e}"),
    }
}

fn err(body: &str) -> String {
    match parse(&with(body)) {
        Ok(c) => panic!("accepted: {:?}", c.global.replication),
        Err(e) => e.to_string(),
    }
}

const MIN: &str =
    "node = 1\ncluster = 7\npeer = \"198.51.100.2\"\nkey_file = \"/etc/tandemd/r.key\"";

#[test]
fn replication_defaults() {
    let r = of(MIN);
    assert_eq!(r.peer, "198.51.100.2:6974".parse().unwrap());
    assert_eq!(r.listen, "0.0.0.0:6974".parse().unwrap());
    assert_eq!(r.format, ReplicationFormat::Tandem);
    assert!(r.conntrack);
    assert_eq!(r.flush, Duration::from_millis(5));
    assert_eq!(r.bulk_rate, 200_000_000);
    assert_eq!(r.max_flows, 4 << 20);
    assert_eq!(r.refresh, Duration::from_secs(30));
    assert!(r.ignore.is_empty() && r.interface.is_none() && r.next_key_file.is_none());
    // IPv6: the listen address of the peer's family.
    let r = of("node = 2\ncluster = 7\npeer = \"[fd00::2]\"\nkey_file = \"/k\"");
    assert_eq!(r.listen, "[::]:6974".parse().unwrap());
    // conntrackd's formats take no key.
    let r = of("node = 2\ncluster = 7\npeer = \"198.51.100.1:3780\"\nformat = \"conntrackd-ftfw\"");
    assert_eq!(
        (r.format, r.key_file, r.peer.port()),
        (ReplicationFormat::ConntrackdFtfw, None, 3780)
    );
    // An ignored network is kept masked.
    let r = of(&format!("{MIN}\nignore = [\"203.0.113.77/24\"]"));
    assert_eq!(r.ignore, vec![("203.0.113.0".parse().unwrap(), 24)]);
}

#[test]
fn replication_errors() {
    let cases = [
        (
            "cluster = 7\npeer = \"198.51.100.2\"\nkey_file = \"/k\"",
            "replication.node: missing",
        ),
        (
            "node = 0\ncluster = 7\npeer = \"198.51.100.2\"\nkey_file = \"/k\"",
            "0 is out of range: use 1 to 255",
        ),
        (
            "node = 1\ncluster = 70000\npeer = \"198.51.100.2\"\nkey_file = \"/k\"",
            "70000 is out of range: use 1 to 65535",
        ),
        (
            "node = 1\ncluster = 7\nkey_file = \"/k\"",
            "replication.peer: missing",
        ),
        (
            "node = 1\ncluster = 7\npeer = \"partner\"\nkey_file = \"/k\"",
            "\"partner\" is not ADDR or ADDR:PORT",
        ),
        (
            "node = 1\ncluster = 7\npeer = \"198.51.100.2:0\"\nkey_file = \"/k\"",
            "port 0",
        ),
        (
            "node = 1\ncluster = 7\npeer = \"198.51.100.2\"",
            "replication.key_file: missing",
        ),
        (
            "node = 1\ncluster = 7\npeer = \"198.51.100.2\"\nkey_file = \"k\"",
            "is not an absolute path",
        ),
        (&format!("{MIN}\nlisten = \"[fd00::1]\""), "two families"),
        (
            &format!("{MIN}\nformat = \"pfsync\""),
            "unknown replication format \"pfsync\"",
        ),
        (
            &format!("{MIN}\nignore = [\"203.0.113.0\"]"),
            "is not ADDR/PREFIX",
        ),
        (
            &format!("{MIN}\nignore = [\"203.0.113.0/33\"]"),
            "is not ADDR/PREFIX",
        ),
        (
            &format!("{MIN}\nflush_ms = 0"),
            "0 is out of range: use 1 to 50",
        ),
        (
            &format!("{MIN}\ninterface = \"eth 1\""),
            "is not a Linux interface name",
        ),
        (&format!("{MIN}\nrefresh = -1.0"), "is not a duration"),
        (&format!("{MIN}\nspeed = 1"), "unknown field `speed`"),
    ];
    for (body, want) in &cases {
        let e = err(body);
        assert!(e.contains(want), "{body}\n -> {e}\n wanted: {want}");
    }
}
