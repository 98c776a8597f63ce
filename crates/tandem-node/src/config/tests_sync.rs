//! Tests of `[sync]`, `[app]` and the `[unit.<id>.instance.<name>]`
//! overlays: what the file accepts, what it fills in, every refusal with
//! its field path and line.

use std::net::SocketAddr;
use std::path::PathBuf;

use super::*;

/// `[sync]` with `extra` lines (from line 6), one instance "web" after.
fn with_sync(extra: &str) -> String {
    format!(
        "[sync]\nunit = \"a\"\ncluster = \"pair-1\"\npeer = \"192.0.2.2\"\nkey_file = \"/etc/tandemd/sync.key\"\n{extra}\n\
         [[instance]]\nname = \"web\"\ninterface = \"eth0\"\nvrid = 51\naddresses = [\"192.0.2.100/24\"]\n"
    )
}

fn sync_of(text: &str) -> SyncConfig {
    match parse(text) {
        Ok(c) => c.global.sync.expect("a [sync] section"),
        Err(e) => panic!("refused: {e}"),
    }
}

fn err(text: &str) -> String {
    match parse(text) {
        Ok(c) => panic!("accepted: {c:?}"),
        Err(e) => e.to_string(),
    }
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

#[test]
fn sync_defaults() {
    let s = sync_of(&with_sync(""));
    assert_eq!(s.unit, "a");
    assert_eq!(s.cluster, "pair-1");
    assert_eq!(s.peer, addr("192.0.2.2:6973"));
    assert_eq!(s.listen, addr("0.0.0.0:6973"));
    assert_eq!(s.key_file, PathBuf::from("/etc/tandemd/sync.key"));
    assert!(!s.bidirectional);
    assert_eq!(s.max_document, 64 << 20);
    assert!(s.addresses.is_empty());
    assert!(s.rewrite.is_empty());
    assert_eq!(parse(&with_sync("")).unwrap().global.sync, Some(s));
    assert!(
        parse("[[instance]]\ninterface = \"eth0\"\nvrid = 1\naddresses = [\"192.0.2.1\"]\n")
            .unwrap()
            .global
            .sync
            .is_none()
    );
}

#[test]
fn sync_every_field() {
    let s = sync_of(&with_sync(
        "listen = \"192.0.2.1:7000\"\nmode = \"bidirectional\"\nmax_document = 1024\n\
         addresses = [[\"192.0.2.1\", \"192.0.2.2\"], [\"2001:DB8::1\", \"2001:db8::2\"]]\n\
         rewrite = [\"app.geo.*.address\", \"app.*.*.peer\"]",
    ));
    assert_eq!(s.listen, addr("192.0.2.1:7000"));
    assert!(s.bidirectional);
    assert_eq!(s.max_document, 1024);
    assert_eq!(
        s.addresses,
        vec![
            ("192.0.2.1".to_string(), "192.0.2.2".to_string()),
            ("2001:db8::1".to_string(), "2001:db8::2".to_string()),
        ]
    );
    assert_eq!(
        s.rewrite,
        vec![
            ("app.geo".to_string(), "address".to_string()),
            ("app.*".to_string(), "peer".to_string()),
        ]
    );
    let v6 = with_sync("").replace("192.0.2.2", "[2001:db8::2]");
    assert_eq!(sync_of(&v6).peer, addr("[2001:db8::2]:6973"));
    assert_eq!(sync_of(&v6).listen, addr("[::]:6973"));
    let v6port = with_sync("").replace("192.0.2.2", "[2001:db8::2]:99");
    assert_eq!(sync_of(&v6port).peer, addr("[2001:db8::2]:99"));
    assert!(!sync_of(&with_sync("mode = \"active-standby\"")).bidirectional);
}

#[test]
fn sync_errors() {
    assert_eq!(
        err(&with_sync("").replace("unit = \"a\"\n", "")),
        "line 1, column 1: sync.unit: missing: give this unit's id, as unit = \"a\" (the partner has another)"
    );
    assert_eq!(
        err(&with_sync("").replace("unit = \"a\"", "unit = \"A\"")),
        "line 2, column 8: sync.unit: \"A\" is not a unit id: character 1 ('A') is not allowed; a unit id is 1 to 32 characters among a-z, 0-9, '_' and '-', as \"a\" or \"fw-east\""
    );
    let long = "u".repeat(33);
    assert!(
        err(&with_sync("").replace("unit = \"a\"", &format!("unit = \"{long}\"")))
            .contains("it is 33 characters long, more than 32")
    );
    assert!(err(&with_sync("").replace("pair-1", ""))
        .contains("sync.cluster: \"\" is not a cluster id: it is empty"));
    assert!(err(&with_sync("").replace("pair-1", "p\\u0007"))
        .contains("sync.cluster: \"p\\u{7}\" is not a cluster id: character 2"));
    assert!(
        err(&with_sync("").replace("peer = \"192.0.2.2\"\n", "")).contains("sync.peer: missing")
    );
    assert!(
        err(&with_sync("").replace("key_file = \"/etc/tandemd/sync.key\"\n", ""))
            .contains("sync.key_file: missing")
    );
    assert_eq!(
        err(&with_sync("").replace("/etc/tandemd/sync.key", "sync.key")),
        "line 5, column 12: sync.key_file: \"sync.key\" is not an absolute path"
    );
    assert!(err(&with_sync("").replace("192.0.2.2", "peer.example"))
        .starts_with("line 4, column 8: sync.peer: \"peer.example\" is not ADDR or ADDR:PORT"));
    assert!(err(&with_sync("").replace("192.0.2.2", "192.0.2.2:0"))
        .contains("sync.peer: port 0 is not a port the partner can reach"));
    assert_eq!(
        err(&with_sync("listen = \"[::]:6973\"")),
        "line 6, column 10: sync.listen: :: and the peer 192.0.2.2 are of two families: configuration sync runs over one TCP connection, give both of one family"
    );
    assert!(err(&with_sync("mode = \"both\"")).contains("sync.mode: unknown sync mode \"both\""));
    assert_eq!(
        err(&with_sync("max_document = 1023")),
        "line 6, column 16: sync.max_document: 1023 is out of range: use 1024 to 1073741824"
    );
    assert!(err(&with_sync("max_document = 1073741825")).contains("out of range"));
    assert_eq!(
        err(&with_sync("addresses = [[\"192.0.2.1\"]]")),
        "line 6, column 14: sync.addresses[0]: an address pair is [\"OWN\", \"PARTNER\"], two addresses, and this one has 1"
    );
    assert!(err(&with_sync("addresses = [[\"192.0.2.1\", \"x\"]]"))
        .contains("sync.addresses[0][1]: \"x\" is not an IP address"));
    assert!(err(&with_sync(
        "addresses = [[\"192.0.2.1\", \"192.0.2.2\"], [\"192.0.2.3\", \"192.0.2.1\"]]"
    ))
    .contains("sync.addresses[1][1]: 192.0.2.1 is already in an address pair"));
    for (pattern, why) in [
        ("instance.*.peer", "only fields of [app] are rewritten"),
        (
            "app.geo.x.address",
            "the third part is the object id and must be *",
        ),
        ("app.geo.address", "it is not four parts"),
        ("app.g o.*.address", "the kind is not *"),
        ("app.geo.*.", "the field is not *"),
    ] {
        let e = err(&with_sync(&format!("rewrite = [\"{pattern}\"]")));
        assert!(e.contains("sync.rewrite[0]: ") && e.contains(why), "{e}");
    }
    assert!(err(&with_sync("colour = 1")).contains("unknown field `colour`"));
}

#[test]
fn app_is_accepted_and_checked() {
    let text = format!(
        "{}\n[app.vs.web1]\nport = 443\nweight = 1.5\nname = \"web\"\nwhen = 1979-05-27T07:32:00Z\n\
         backends = [\"10.0.0.1\", \"10.0.0.2\"]\nhealth = {{ path = \"/\", every = 5 }}\n[app.geo.site]\naddress = \"192.0.2.1\"\n",
        with_sync("")
    );
    assert!(parse(&text).is_ok());
    let e = err(&format!("{}\n[app.vs.web1]\nweight = nan\n", with_sync("")));
    assert!(
        e.contains("app.vs.\"web1\".weight: NaN is not a finite number"),
        "{e}"
    );
    let e = err(&format!(
        "{}\n[app.vs.web1]\nw = [1.0, inf]\n",
        with_sync("")
    ));
    assert!(
        e.contains("app.vs.\"web1\".w: inf is not a finite number"),
        "{e}"
    );
    // [app] is kinds of objects of fields: a field directly under a kind is refused.
    assert_eq!(
        err(&format!("{}\n[app.vs]\nport = 1\n", with_sync(""))),
        "line 14, column 8: invalid type: integer `1`, expected a map"
    );
}

/// Two instances, "web" and "db", overlays in `overlays`.
fn overlaid(unit: &str, overlays: &str) -> Result<DaemonConfig, ConfigError> {
    parse(&format!(
        "[sync]\nunit = \"{unit}\"\ncluster = \"c\"\npeer = \"192.0.2.2\"\nkey_file = \"/k\"\n\
         [[instance]]\nname = \"web\"\ninterface = \"eth0\"\nvrid = 51\npriority = 200\naddresses = [\"192.0.2.100/24\"]\n\
         [[instance]]\nname = \"db\"\ninterface = \"eth0\"\nvrid = 52\naddresses = [\"192.0.2.101/24\"]\n\
         {overlays}\n"
    ))
}

#[test]
fn overlays_apply_on_their_unit_only() {
    let overlays = "[unit.a.instance.web]\ninterface = \"eth1\"\nvrid = 61\n\
                    [unit.b.instance.web]\ninterface = \"eth2\"\n";
    let a = overlaid("a", overlays).unwrap();
    let web = a.instance("web").unwrap();
    assert_eq!(web.interface, "eth1");
    assert_eq!(web.election.vrid.get(), 61);
    assert_eq!(web.election.priority.0, 200);
    assert_eq!(a.instance("db").unwrap().interface, "eth0");
    let b = overlaid("b", overlays).unwrap();
    assert_eq!(b.instance("web").unwrap().interface, "eth2");
    assert_eq!(b.instance("web").unwrap().election.vrid.get(), 51);
    let c = overlaid("c", overlays).unwrap();
    assert_eq!(c.instance("web").unwrap().interface, "eth0");
}

#[test]
fn overlaid_instance_is_validated_as_overlaid() {
    let e = overlaid("a", "[unit.a.instance.web]\nvrid = 0\n")
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("line 18, column 8: instance \"web\".vrid: VRID 0"),
        "{e}"
    );
    // On the other unit the bad overlay is kept but not applied.
    assert!(overlaid("b", "[unit.a.instance.web]\nvrid = 0\n").is_ok());
    // An overlay that makes two instances collide is caught as in a file.
    let e = overlaid("a", "[unit.a.instance.db]\nvrid = 51\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("instance \"db\".vrid: VRID 51 on eth0"), "{e}");
}

#[test]
fn overlay_errors() {
    for local in [
        "priority = 100",
        "advskew = 1",
        "demotion = 2",
        "source = \"192.0.2.1\"",
    ] {
        let key = local.split(' ').next().unwrap();
        let e = overlaid("b", &format!("[unit.a.instance.web]\n{local}\n"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            format!("line 18, column {}: unit.a.instance \"web\".{key}: {key} is already a setting of each unit (a local field, never synced): set it in the unit's own [[instance]] table, not in a [unit.<id>.instance.<name>] overlay", key.len() + 4)
        );
    }
    let e = overlaid("a", "[unit.b.instance.mail]\nvrid = 3\n")
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("line 17, column 1: unit.b.instance \"mail\": no instance is named \"mail\""),
        "{e}"
    );
    let e = overlaid("a", "[unit.a.instance.web]\nname = \"x\"\n")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("unit.a.instance \"web\".name: an overlay is named by its table"),
        "{e}"
    );
    let e = overlaid("a", "[unit.a.instance.web]\ncolour = 1\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown field `colour`"), "{e}");
    let e = overlaid("a", "[unit.A.instance.web]\nvrid = 3\n")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("unit.A: unit \"A\" in [unit.<id>] is not a unit id"),
        "{e}"
    );
    let e = overlaid("a", "[unit.a.global]\nstate_dir = \"/x\"\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown field `global`"), "{e}");
}

#[test]
fn overlay_by_default_name() {
    let text = "[sync]\nunit = \"a\"\ncluster = \"c\"\npeer = \"192.0.2.2\"\nkey_file = \"/k\"\n\
                [[instance]]\ninterface = \"eth0\"\nvrid = 51\naddresses = [\"192.0.2.100/24\"]\n\
                [unit.a.instance.\"eth0-51-ipv4\"]\ninterface = \"eth1\"\n";
    let c = parse(text).unwrap();
    assert_eq!(c.instances[0].interface, "eth1");
    // The default name is the one before the overlay.
    assert_eq!(c.instances[0].name, "eth1-51-ipv4");
}

/// The examples of docs/config.md's `[sync]`, `[app]` and overlay
/// sections, put together, make a file tandemd runs.
#[test]
fn docs_examples_parse() {
    let docs =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/config.md"))
            .unwrap();
    let mut text = String::new();
    for section in [
        "## `[sync]`",
        "## `[app]`",
        "## `[unit.<id>.instance.<name>]`",
    ] {
        let (_, rest) = docs
            .split_once(section)
            .unwrap_or_else(|| panic!("{section}"));
        let (_, block) = rest.split_once("```toml\n").unwrap();
        let (block, _) = block.split_once("```").unwrap();
        text.push_str(block);
    }
    let c = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(c.global.sync.as_ref().unwrap().unit, "a");
    assert_eq!(c.instance("web").unwrap().interface, "eth0");
    let b = parse(&text.replace("unit = \"a\"", "unit = \"b\"")).unwrap();
    assert_eq!(b.instance("web").unwrap().interface, "ens3");
}
