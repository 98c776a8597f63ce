//! Tests of the configuration: defaults, every field, every error with its
//! exact message, the flag form, and the files in examples/.

use std::net::IpAddr;
use std::time::Duration;

use clap::Parser;
use tandem_election::{ChecksumPolicy, Protocol, RestartGuard, Track, TrackEffect};
use tandem_wire::{vrrp2, Centiseconds, Priority, Seconds};

use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// One instance: lines 1 to 4 are fixed, `extra` starts on line 5.
fn one(extra: &str) -> String {
    format!(
        "[[instance]]\ninterface = \"eth0\"\nvrid = 51\naddresses = [\"192.0.2.100/24\"]\n{extra}\n"
    )
}

fn err(text: &str) -> String {
    match parse(text) {
        Ok(c) => panic!("accepted: {c:?}"),
        Err(e) => e.to_string(),
    }
}

fn ok(text: &str) -> InstanceConfig {
    match parse(text) {
        Ok(mut c) => c.instances.remove(0),
        Err(e) => panic!("refused: {e}"),
    }
}

#[test]
fn defaults() {
    let i = ok(&one(""));
    assert_eq!(i.name, "eth0-51-ipv4");
    assert_eq!(i.interface, "eth0");
    assert_eq!(i.election.vrid.get(), 51);
    assert_eq!(
        i.election.protocol,
        Protocol::Vrrp3 {
            interval: Centiseconds(100),
            checksum: ChecksumPolicy::Auto,
            v2_compat: false
        }
    );
    assert_eq!(i.election.priority, Priority(100));
    assert!(i.election.preempt);
    assert_eq!(i.election.preempt_delay, Duration::ZERO);
    assert!(!i.election.accept_mode);
    assert_eq!(i.election.addresses, vec![ip("192.0.2.100")]);
    assert_eq!(i.prefixes, vec![24]);
    assert_eq!(i.election.primary_address, ip("0.0.0.0"));
    assert_eq!(i.election.carp_counter, 0);
    assert_eq!(i.election.announce, tandem_election::Announce::default());
    assert_eq!(i.election.restart_guard, None);
    assert_eq!(i.source, None);
    assert_eq!(i.delivery, Delivery::Multicast);
    assert!(!i.vmac);
    assert!(i.track_interfaces.is_empty());
    assert_eq!(i.ah_password, None);
    let c = parse(&one("")).unwrap();
    assert_eq!(c.global.state_dir, PathBuf::from("/var/lib/tandemd"));
    assert!(c.sync_groups.is_empty());
}

#[test]
fn every_field() {
    let text = r#"
[global]
state_dir = "/run/tandemd"

[[instance]]
name = "web"
interface = "eth0"
protocol = "vrrp3"
vrid = 51
priority = 150
interval = 0.5
addresses = ["192.0.2.100/24", "192.0.2.101"]
preempt = false
preempt_delay = 2.5
accept = true
checksum = "rfc9568"
vrrp2_compat = true
source = "192.0.2.1"
unicast_peers = ["192.0.2.2", "192.0.2.3"]
ttl_exempt = ["192.0.2.3"]
vmac = true
initial_wait = 10
silence_intervals = 5
announce = { repeat = 3, spacing = 0.1, refresh_after = 0 }
track = [ { interface = "eth1", weight = 20 }, { interface = "eth2", fault = true }, { interface = "eth3" } ]
restart_guard = { max_starts = 4, window = 600.0, expire = true }
"#;
    let c = parse(text).unwrap();
    assert_eq!(c.global.state_dir, PathBuf::from("/run/tandemd"));
    let i = &c.instances[0];
    assert_eq!(i.name, "web");
    assert_eq!(
        i.election.protocol,
        Protocol::Vrrp3 {
            interval: Centiseconds(50),
            checksum: ChecksumPolicy::Rfc9568,
            v2_compat: true
        }
    );
    assert_eq!(i.election.priority, Priority(150));
    assert_eq!(
        i.election.addresses,
        vec![ip("192.0.2.100"), ip("192.0.2.101")]
    );
    assert_eq!(i.prefixes, vec![24, 32]);
    assert!(!i.election.preempt);
    assert_eq!(i.election.preempt_delay, Duration::from_millis(2500));
    assert!(i.election.accept_mode);
    assert_eq!(i.source, Some(ip("192.0.2.1")));
    assert_eq!(i.election.primary_address, ip("192.0.2.1"));
    assert_eq!(
        i.delivery,
        Delivery::Unicast(vec![ip("192.0.2.2"), ip("192.0.2.3")])
    );
    assert_eq!(i.election.ttl_exempt, vec![ip("192.0.2.3")]);
    assert!(i.vmac);
    assert_eq!(i.election.initial_wait, Duration::from_secs(10));
    assert_eq!(i.election.silence_intervals, 5);
    assert_eq!(i.election.announce.repeat, 3);
    assert_eq!(i.election.announce.spacing, Duration::from_millis(100));
    assert_eq!(i.election.announce.refresh_after, None);
    assert_eq!(i.track_interfaces, vec!["eth1", "eth2", "eth3"]);
    assert_eq!(
        i.election.tracks,
        vec![
            Track {
                name: "eth1".into(),
                effect: TrackEffect::Weight(20)
            },
            Track {
                name: "eth2".into(),
                effect: TrackEffect::Fault
            },
            Track {
                name: "eth3".into(),
                effect: TrackEffect::Fault
            },
        ]
    );
    assert_eq!(
        i.election.restart_guard,
        Some(RestartGuard {
            max_starts: 4,
            window: Duration::from_secs(600),
            expire: true
        })
    );
    assert_eq!(c.instance("web"), Some(i));
}

#[test]
fn restart_guard_defaults() {
    let i = ok(&one("restart_guard = {}"));
    assert_eq!(i.election.restart_guard, Some(RestartGuard::default()));
}

#[test]
fn vrrp2_and_carp() {
    let i = ok(&one(
        "protocol = \"vrrp2\"\ninterval = 3\npassword = \"secret\"",
    ));
    assert_eq!(
        i.election.protocol,
        Protocol::Vrrp2 {
            interval: Seconds(3),
            auth: vrrp2::Auth::simple_text(b"secret")
        }
    );
    let i = ok(&one("protocol = \"vrrp2\""));
    assert_eq!(
        i.election.protocol,
        Protocol::Vrrp2 {
            interval: Seconds(1),
            auth: vrrp2::Auth::None
        }
    );
    let i = ok(&one(
        "protocol = \"vrrp2\"\nauth = \"ah\"\npassword = \"k\"",
    ));
    assert_eq!(
        i.election.protocol,
        Protocol::Vrrp2 {
            interval: Seconds(1),
            auth: vrrp2::Auth::IpAh
        }
    );
    assert_eq!(i.ah_password, Some(b"k".to_vec()));
    let i = ok(&one(
        "protocol = \"carp\"\npassword = \"pw\"\nadvskew = 100\ndemotion = 2\nbroadcast = true",
    ));
    assert_eq!(
        i.election.protocol,
        Protocol::Carp {
            advbase: 1,
            advskew: 100,
            password: b"pw".to_vec()
        }
    );
    assert_eq!(i.election.demotion, 2);
    assert_eq!(i.delivery, Delivery::Broadcast);
    assert_eq!(i.election.carp_counter, 0);
    let i = ok(&one("protocol = \"carp\"\npassword = \"pw\"\ninterval = 3"));
    assert!(matches!(
        i.election.protocol,
        Protocol::Carp { advbase: 3, .. }
    ));
    let i = ok(&one("protocol = \"carp\"\npassword = \"pw\"\nadvbase = 4"));
    assert!(matches!(
        i.election.protocol,
        Protocol::Carp { advbase: 4, .. }
    ));
}

#[test]
fn ha_timeout_sets_the_interval() {
    let i = ok(&one("ha_timeout = 3.0"));
    assert!(matches!(
        i.election.protocol,
        Protocol::Vrrp3 {
            interval: Centiseconds(100),
            ..
        }
    ));
    let i = ok(&one("ha_timeout = 15"));
    assert!(matches!(
        i.election.protocol,
        Protocol::Vrrp3 {
            interval: Centiseconds(500),
            ..
        }
    ));
}

#[test]
fn vrrp3_intervals() {
    for (text, cs) in [
        ("0.01", 1),
        ("0.07", 7),
        ("0.29", 29),
        ("1", 100),
        ("40.95", 4095),
    ] {
        let i = ok(&one(&format!("interval = {text}")));
        assert!(
            matches!(i.election.protocol, Protocol::Vrrp3 { interval, .. } if interval == Centiseconds(cs)),
            "{text}"
        );
    }
}

#[test]
fn ipv6() {
    let i = ok(&one("").replace("192.0.2.100/24", "fe80::1\", \"fd00::100/64"));
    assert_eq!(i.name, "eth0-51-ipv6");
    assert_eq!(i.prefixes, vec![128, 64]);
    assert_eq!(i.election.primary_address, ip("::"));
    let i = ok(&one("source = \"fe80::2\"").replace("192.0.2.100/24", "fd00::100/64"));
    assert_eq!(i.source, Some(ip("fe80::2")));
    // Unicast may come from a global address (keepalived does).
    ok(&one("source = \"fd00::2\"\nunicast_peers = [\"fd00::3\"]")
        .replace("192.0.2.100/24", "fd00::100/64"));
}

/// The errors of one instance, each with its exact message.
#[test]
fn instance_errors() {
    let cases: &[(&str, &str)] = &[
        ("prority = 3", "line 5, column 1: unknown field `prority`, expected one of `name`, `interface`, `protocol`, `vrid`, `priority`, `interval`, `advbase`, `advskew`, `demotion`, `addresses`, `preempt`, `preempt_delay`, `accept`, `checksum`, `vrrp2_compat`, `password`, `auth`, `source`, `unicast_peers`, `broadcast`, `ttl_exempt`, `vmac`, `initial_wait`, `ha_timeout`, `silence_intervals`, `announce`, `track`, `restart_guard`, `notify`, `notify_timeout`, `notify_args`, `notify_xparam`, `notify_active`, `notify_backup`, `notify_fault`, `notify_stop`"),
        ("priority = \"high\"", "line 5, column 12: invalid type: string \"high\", expected i64"),
        ("name = \"\"", "line 5, column 8: instance \"\".name: a name cannot be empty"),
        ("protocol = \"vrrp4\"", "line 5, column 12: instance[0].protocol: unknown protocol \"vrrp4\": use \"vrrp3\", \"vrrp2\" or \"carp\""),
        ("priority = 0", "line 5, column 12: instance[0].priority: priority 0 is sent only by an Active router that resigns: use 1 to 255"),
        ("priority = 256", "line 5, column 12: instance[0].priority: priority 256 is out of range: use 1 to 255 (255 only on the node that owns the virtual addresses)"),
        ("password = \"secret\"", "line 5, column 12: instance[0].password: VRRPv3 has no authentication (RFC 9568): remove the password, or use protocol \"vrrp2\" (auth = \"pass\" or \"ah\") or \"carp\""),
        ("interval = 0.001", "line 5, column 12: instance[0].interval: interval 0.001 s is out of range for VRRPv3: use 0.01 to 40.95 s"),
        ("interval = 41", "line 5, column 12: instance[0].interval: interval 41 s is out of range for VRRPv3: use 0.01 to 40.95 s"),
        ("interval = -1", "line 5, column 12: instance[0].interval: interval -1 s is out of range for VRRPv3: use 0.01 to 40.95 s"),
        ("interval = 0.015", "line 5, column 12: instance[0].interval: interval 0.015 s is not a whole number of centiseconds: VRRPv3 counts in steps of 0.01 s"),
        ("interval = nan", "line 5, column 12: instance[0].interval: interval NaN s is out of range for VRRPv3: use 0.01 to 40.95 s"),
        ("interval = 1\nha_timeout = 6", "line 6, column 14: instance[0].ha_timeout: give either interval or ha_timeout, not both: ha_timeout sets the interval to a third of it"),
        ("ha_timeout = 2", "line 5, column 14: instance[0].ha_timeout: ha_timeout 2 s is out of range: use 3 to 15 s"),
        ("ha_timeout = 16", "line 5, column 14: instance[0].ha_timeout: ha_timeout 16 s is out of range: use 3 to 15 s"),
        ("checksum = \"on\"", "line 5, column 12: instance[0].checksum: unknown checksum mode \"on\": use \"auto\", \"rfc9568\" or \"ipv4-pseudo-header\""),
        ("auth = \"pass\"", "line 5, column 8: instance[0].auth: applies to VRRPv2 only, and this virtual router runs VRRPv3"),
        ("advskew = 1", "line 5, column 11: instance[0].advskew: applies to CARP only, and this virtual router runs VRRPv3"),
        ("advbase = 1", "line 5, column 11: instance[0].advbase: applies to CARP only, and this virtual router runs VRRPv3"),
        ("demotion = 1", "line 5, column 12: instance[0].demotion: applies to CARP only, and this virtual router runs VRRPv3"),
        ("preempt_delay = -1", "line 5, column 17: instance[0].preempt_delay: -1 is not a duration: use seconds, 0 or more (fractions allowed)"),
        ("initial_wait = inf", "line 5, column 16: instance[0].initial_wait: inf is not a duration: use seconds, 0 or more (fractions allowed)"),
        ("silence_intervals = -1", "line 5, column 21: instance[0].silence_intervals: -1 is out of range: use 0 to 4294967295"),
        ("source = \"192.0.2.1/24\"", "line 5, column 10: instance[0].source: \"192.0.2.1/24\": only virtual addresses take a /PREFIX; write the address alone"),
        ("source = \"fd00::1\"", "line 5, column 10: instance[0].source: fd00::1 is IPv6 but the virtual addresses are IPv4: use an IPv4 address"),
        ("source = \"gateway\"", "line 5, column 10: instance[0].source: \"gateway\" is not an IP address: write an IPv4 or IPv6 address, for a virtual address optionally followed by /PREFIX"),
        ("unicast_peers = [\"192.0.2.2\", \"fd00::2\"]", "line 5, column 31: instance[0].unicast_peers[1]: fd00::2 is IPv6 but the virtual addresses are IPv4: use an IPv4 address"),
        ("unicast_peers = [\"192.0.2.2\", \"192.0.2.2\"]", "line 5, column 31: instance[0].unicast_peers[1]: 192.0.2.2 is listed twice"),
        ("ttl_exempt = [\"fd00::2\"]", "line 5, column 15: instance[0].ttl_exempt[0]: fd00::2 is IPv6 but the virtual addresses are IPv4: use an IPv4 address"),
        ("broadcast = true\nunicast_peers = [\"192.0.2.2\"]", "line 5, column 13: instance[0].broadcast: broadcast = true and unicast_peers exclude each other: adverts go either to the broadcast address or to the listed peers"),
        ("announce = { repeat = 256 }", "line 5, column 23: instance[0].announce.repeat: 256 is out of range: use 0 to 255"),
        ("announce = { repeats = 2 }", "line 5, column 14: unknown field `repeats`, expected one of `repeat`, `spacing`, `refresh_after`"),
        ("announce = { spacing = -0.5 }", "line 5, column 24: instance[0].announce.spacing: -0.5 is not a duration: use seconds, 0 or more (fractions allowed)"),
        ("track = [ { weight = 10 } ]", "line 5, column 11: instance[0].track[0].interface: missing: give the tracked interface's name (interface = \"eth1\") or a check's (check = \"NAME\")"),
        ("track = [ { interface = \"eth1\", weight = 10, fault = true } ]", "line 5, column 11: instance[0].track[0]: give either weight or fault = true, not both"),
        ("track = [ { interface = \"eth1\", fault = false } ]", "line 5, column 11: instance[0].track[0]: fault = false with no weight does nothing: give a weight (1 to 255) or fault = true"),
        ("track = [ { interface = \"eth1\", weight = 0 } ]", "line 5, column 42: instance[0].track[0].weight: weight 0 is out of range: use 1 to 255 (or fault = true to stop the router while the link is down)"),
        ("track = [ { interface = \"eth1\" }, { interface = \"eth1\" } ]", "line 5, column 49: instance[0].track[1].interface: interface \"eth1\" is tracked twice"),
        ("track = [ { interface = \"a/b\" } ]", "line 5, column 25: instance[0].track[0].interface: \"a/b\" is not a Linux interface name: it contains '/', ':' or white space"),
        ("restart_guard = { max_starts = 0 }", "line 5, column 32: instance[0].restart_guard.max_starts: 0 is out of range: use 1 to 1000"),
        ("restart_guard = { window = 0 }", "line 5, column 28: instance[0].restart_guard.window: restart guard needs at least one start and a non-zero window"),
        ("restart_guard = { windw = 3 }", "line 5, column 19: unknown field `windw`, expected one of `max_starts`, `window`, `expire`"),
    ];
    for (extra, want) in cases {
        assert_eq!(err(&one(extra)), *want, "{extra}");
    }
}

/// Errors about the fixed fields, the addresses and the protocols.
#[test]
fn field_errors() {
    let cases: &[(&str, &str)] = &[
        ("[[instance]]\nvrid = 1\naddresses = [\"192.0.2.1\"]\n", "line 1, column 1: instance[0].interface: missing: give the interface the virtual router runs on"),
        ("[[instance]]\ninterface = \"eth0\"\naddresses = [\"192.0.2.1\"]\n", "line 1, column 1: instance[0].vrid: missing: give the virtual router's id (VRID; VHID for CARP), 1 to 255"),
        ("[[instance]]\ninterface = \"eth0\"\nvrid = 1\n", "line 1, column 1: instance[0].addresses: missing: give the virtual addresses, as \"ADDRESS/PREFIX\""),
        ("[[instance]]\ninterface = \"eth0\"\nvrid = 0\naddresses = [\"192.0.2.1\"]\n", "line 3, column 8: instance[0].vrid: VRID 0 is out of range: use 1 to 255"),
        ("[[instance]]\ninterface = \"eth0\"\nvrid = 256\naddresses = [\"192.0.2.1\"]\n", "line 3, column 8: instance[0].vrid: VRID 256 is out of range: use 1 to 255"),
        ("[[instance]]\ninterface = \"\"\nvrid = 1\naddresses = [\"192.0.2.1\"]\n", "line 2, column 13: instance[0].interface: \"\" is not a Linux interface name: it is empty"),
        ("[[instance]]\ninterface = \"a-very-long-name0\"\nvrid = 1\naddresses = [\"192.0.2.1\"]\n", "line 2, column 13: instance[0].interface: \"a-very-long-name0\" is not a Linux interface name: it is longer than 15 bytes"),
        ("[[instance]]\ninterface = \"eth0\"\nvrid = 1\naddresses = []\n", "line 4, column 13: instance[0].addresses: empty: a virtual router needs at least one virtual address"),
        ("[[instance]]\ninterface = \"eth0\"\nvrid = 1\naddresses = [\"192.0.2.1\", \"fd00::1\"]\n", "line 4, column 27: instance[0].addresses[1]: fd00::1 is IPv6 and 192.0.2.1 IPv4: one virtual router carries one family; make another [[instance]] for the other family"),
        ("[[instance]]\ninterface = \"eth0\"\nvrid = 1\naddresses = [\"192.0.2.1\", \"192.0.2.1/24\"]\n", "line 4, column 27: instance[0].addresses[1]: 192.0.2.1 is listed twice"),
        ("[[instance]]\ninterface = \"eth0\"\nvrid = 1\naddresses = [\"192.0.2.1/33\"]\n", "line 4, column 14: instance[0].addresses[0]: prefix length \"33\" of 192.0.2.1 is out of range: use 1 to 32"),
        ("[[instance]]\ninterface = \"eth0\"\nvrid = 1\naddresses = [\"fd00::1/129\"]\n", "line 4, column 14: instance[0].addresses[0]: prefix length \"129\" of fd00::1 is out of range: use 1 to 128"),
        ("[[instance]]\ninterface = \"eth0\"\nvrid = 1\naddresses = [\"192.0.2.1/0\"]\n", "line 4, column 14: instance[0].addresses[0]: prefix length \"0\" of 192.0.2.1 is out of range: use 1 to 32"),
        ("[[instance]]\ninterface = \"eth0\"\nvrid = 1\naddresses = [\"192.0.2.1/x\"]\n", "line 4, column 14: instance[0].addresses[0]: prefix length \"x\" of 192.0.2.1 is out of range: use 1 to 32"),
        ("[[instance]]\ninterface = \"eth0\"\nvrid = 1\naddresses = [\"192.0.2.300\"]\n", "line 4, column 14: instance[0].addresses[0]: \"192.0.2.300\" is not an IP address: write an IPv4 or IPv6 address, for a virtual address optionally followed by /PREFIX"),
        ("[[instance]]\ninterface = \"eth0\"\nvrid = 1\naddresses = [\"224.0.0.18\"]\n", "line 4, column 14: instance[0].addresses[0]: 224.0.0.18 cannot be a virtual address: it is a multicast address"),
        ("[[instance]]\ninterface = \"eth0\"\nvrid = 1\naddresses = [\"0.0.0.0\"]\n", "line 4, column 14: instance[0].addresses[0]: 0.0.0.0 cannot be a virtual address: it is the unspecified address"),
        ("[[instance]]\ninterface = \"eth0\"\nvrid = 1\naddresses = [\"::1\"]\n", "line 4, column 14: instance[0].addresses[0]: ::1 cannot be a virtual address: it is a loopback address"),
        ("[[instance]]\ninterface = \"eth0\"\nvrid = 1\naddresses = [\"255.255.255.255\"]\n", "line 4, column 14: instance[0].addresses[0]: 255.255.255.255 cannot be a virtual address: it is the broadcast address"),
        ("[[instance]]\ninterface = \"eth0\"\nvrid = 1\nprotocol = \"vrrp2\"\naddresses = [\"fd00::1\"]\n", "line 4, column 12: instance[0].protocol: VRRPv2 is IPv4 only (RFC 3768): use protocol \"vrrp3\" for IPv6"),
        ("[[instance]]\ninterface = \"eth0\"\nvrid = 1\naddresses = [\"fd00::1\"]\nvrrp2_compat = true\n", "line 5, column 16: instance[0].vrrp2_compat: VRRPv2 compatibility is IPv4 only (RFC 3768 has no IPv6)"),
        ("[[instance]]\ninterface = \"eth0\"\nvrid = 1\naddresses = [\"fd00::1\"]\nchecksum = \"rfc9568\"\n", "line 5, column 12: instance[0].checksum: the checksum mode applies to VRRPv3 over IPv4; over IPv6 the checksum always covers the IPv6 pseudo-header: remove it"),
        ("[[instance]]\ninterface = \"eth0\"\nvrid = 1\naddresses = [\"fd00::1\"]\nbroadcast = true\n", "line 5, column 13: instance[0].broadcast: IPv6 has no broadcast: use multicast (the default) or unicast_peers"),
        ("[[instance]]\ninterface = \"eth0\"\nvrid = 1\naddresses = [\"fd00::1\"]\nsource = \"fd00::2\"\n", "line 5, column 10: instance[0].source: fd00::2 is not link-local: VRRPv3 over IPv6 multicast sends from the interface's link-local address (RFC 9568 section 5.1.2.1); give an fe80:: address or leave source out"),
    ];
    for (text, want) in cases {
        assert_eq!(err(text), *want, "{text}");
    }
}

#[test]
fn vrrp2_errors() {
    let cases: &[(&str, &str)] = &[
        ("interval = 0.5", "line 6, column 12: instance[0].interval: interval 0.5 s is not valid for VRRPv2: use whole seconds, 1 to 255"),
        ("interval = 256", "line 6, column 12: instance[0].interval: interval 256 s is not valid for VRRPv2: use whole seconds, 1 to 255"),
        ("auth = \"md5\"", "line 6, column 8: instance[0].auth: unknown VRRPv2 authentication \"md5\": use \"none\", \"pass\" or \"ah\""),
        ("auth = \"pass\"", "line 6, column 8: instance[0].auth: auth = \"pass\" needs a password"),
        ("auth = \"ah\"\npassword = \"\"", "line 6, column 8: instance[0].auth: auth = \"ah\" needs a password"),
        ("auth = \"none\"\npassword = \"x\"", "line 7, column 12: instance[0].password: a password is never sent with auth = \"none\": set auth = \"pass\" or \"ah\", or remove the password"),
        ("password = \"123456789\"", "line 6, column 12: instance[0].password: VRRPv2 passwords are at most 8 bytes and this one has 9; keepalived cuts longer ones to their first 8: write those"),
        ("checksum = \"auto\"", "line 6, column 12: instance[0].checksum: applies to VRRPv3 only, and this virtual router runs VRRPv2"),
        ("vrrp2_compat = true", "line 6, column 16: instance[0].vrrp2_compat: applies to VRRPv3 only, and this virtual router runs VRRPv2"),
    ];
    for (extra, want) in cases {
        let text = one(&format!("protocol = \"vrrp2\"\n{extra}"));
        assert_eq!(err(&text), *want, "{extra}");
    }
}

#[test]
fn carp_errors() {
    let cases: &[(&str, &str)] = &[
        ("", "line 1, column 1: instance[0].password: CARP needs a password: its HMAC-SHA1 is keyed with it (ucarp's --pass)"),
        ("password = \"\"", "line 6, column 12: instance[0].password: CARP needs a password: its HMAC-SHA1 is keyed with it (ucarp's --pass)"),
        ("password = \"p\"\npriority = 100", "line 7, column 12: instance[0].priority: CARP has no priority: it elects the node with the lowest advskew (after demotion); set advskew instead (0 wins)"),
        ("password = \"p\"\ninterval = 1.5", "line 7, column 12: instance[0].interval: interval 1.5 s is not a valid CARP advbase: use whole seconds, 1 to 255 (advskew adds 1/256ths of a second)"),
        ("password = \"p\"\ninterval = 0", "line 7, column 12: instance[0].interval: interval 0 s is not a valid CARP advbase: use whole seconds, 1 to 255 (advskew adds 1/256ths of a second)"),
        ("password = \"p\"\ninterval = 2\nadvbase = 2", "line 8, column 11: instance[0].advbase: give either interval or advbase, not both: for CARP, interval is the advbase"),
        ("password = \"p\"\nadvbase = 0", "line 7, column 11: instance[0].advbase: advbase 0 is out of range: use 1 to 255 seconds"),
        ("password = \"p\"\nadvskew = 256", "line 7, column 11: instance[0].advskew: advskew 256 is out of range: use 0 to 255"),
        ("password = \"p\"\ndemotion = -1", "line 7, column 12: instance[0].demotion: demotion -1 is out of range: use 0 to 255"),
        ("password = \"p\"\nauth = \"pass\"", "line 7, column 8: instance[0].auth: applies to VRRPv2 only, and this virtual router runs CARP"),
    ];
    for (extra, want) in cases {
        let text = one(&format!("protocol = \"carp\"\n{extra}"));
        assert_eq!(err(&text), *want, "{extra}");
    }
}

#[test]
fn file_errors() {
    let two = |a: &str, b: &str| {
        format!("[[instance]]\ninterface = \"eth0\"\nvrid = 1\naddresses = [\"192.0.2.1\"]\n{a}\n[[instance]]\ninterface = \"eth0\"\nvrid = 2\naddresses = [\"192.0.2.2\"]\n{b}\n")
    };
    let cases: Vec<(String, &str)> = vec![
        ("".into(), "instance: no [[instance]] table: there is no virtual router to run"),
        ("[[instances]]\n".into(), "line 1, column 3: unknown field `instances`, expected one of `global`, `health`, `instance`, `sync_group`, `check`, `sync`, `replication`, `cloud`, `app`, `unit`"),
        ("[[instance]\n".into(), "line 1, column 12: unclosed array table, expected `]`"),
        ("[global]\nstate_dir = \"var/lib\"\n".into(), "line 2, column 13: global.state_dir: \"var/lib\" is not an absolute path"),
        ("[global]\nstatedir = \"/x\"\n".into(), "line 2, column 1: unknown field `statedir`, expected one of `state_dir`, `control_socket`, `restart_guard`"),
        (two("name = \"a\"", "name = \"a\""), "line 10, column 8: instance \"a\".name: name \"a\" is already used by instance[0]"),
        (two("", "name = \"eth0-1-ipv4\""), "line 10, column 8: instance \"eth0-1-ipv4\".name: name \"eth0-1-ipv4\" is already used by instance[0]"),
        (two("", "").replace("vrid = 2", "vrid = 1"), "line 8, column 8: instance[1].vrid: VRID 1 on eth0 (IPv4) is already used by instance \"eth0-1-ipv4\": VRRP and CARP share IP protocol 112, so each interface and family takes a VRID (VHID) once"),
        (two("", "protocol = \"carp\"\npassword = \"p\"").replace("vrid = 2", "vrid = 1"), "line 8, column 8: instance[1].vrid: VRID 1 on eth0 (IPv4) is already used by instance \"eth0-1-ipv4\": VRRP and CARP share IP protocol 112, so each interface and family takes a VRID (VHID) once"),
        (two("", "").replace("192.0.2.2", "192.0.2.1"), "line 9, column 14: instance[1].addresses[0]: 192.0.2.1 is also a virtual address of instance \"eth0-1-ipv4\" on eth0: two virtual routers would fight over it"),
    ];
    for (text, want) in &cases {
        assert_eq!(err(text), *want, "{text}");
    }
    // One VRID on two interfaces, or on one interface for both families, is fine.
    let c = parse(&two("", "").replace("vrid = 2", "vrid = 1").replace(
        "\"eth0\"\nvrid = 1\naddresses = [\"192.0.2.2\"]",
        "\"eth1\"\nvrid = 1\naddresses = [\"192.0.2.2\"]",
    ))
    .unwrap();
    assert_eq!(c.instances[1].name, "eth1-1-ipv4");
    let c = parse(
        &two("", "")
            .replace("vrid = 2", "vrid = 1")
            .replace("192.0.2.2", "fd00::2"),
    )
    .unwrap();
    assert_eq!(c.instances[1].name, "eth0-1-ipv6");
}

#[test]
fn sync_groups() {
    let base = "[[instance]]\nname = \"web\"\ninterface = \"eth0\"\nvrid = 1\naddresses = [\"192.0.2.1\"]\n[[instance]]\nname = \"db\"\ninterface = \"eth1\"\nvrid = 1\naddresses = [\"198.51.100.1\"]\n";
    let c = parse(&format!(
        "{base}[[sync_group]]\nname = \"fw\"\ninstances = [\"web\", \"db\"]\n"
    ))
    .unwrap();
    assert_eq!(
        c.sync_groups,
        vec![SyncGroupConfig {
            name: "fw".into(),
            instances: vec!["web".into(), "db".into()],
            notify: None,
            hooks: Default::default(),
        }]
    );
    let cases: &[(&str, &str)] = &[
        ("[[sync_group]]\ninstances = [\"web\"]\n", "line 11, column 1: sync_group[0].name: missing: give the sync group a name"),
        ("[[sync_group]]\nname = \"\"\ninstances = [\"web\"]\n", "line 12, column 8: sync_group \"\".name: a name cannot be empty"),
        ("[[sync_group]]\nname = \"fw\"\n", "line 11, column 1: sync_group \"fw\".instances: missing: list the names of the member instances"),
        ("[[sync_group]]\nname = \"fw\"\ninstances = []\n", "line 13, column 13: sync_group \"fw\".instances: empty: a sync group needs at least one instance"),
        ("[[sync_group]]\nname = \"fw\"\ninstances = [\"web\", \"mail\"]\n", "line 13, column 21: sync_group \"fw\".instances[1]: no instance is named \"mail\" (an instance is named by its `name`, or \"<interface>-<vrid>-<ipv4|ipv6>\" when it has none)"),
        ("[[sync_group]]\nname = \"fw\"\ninstances = [\"web\", \"web\"]\n", "line 13, column 21: sync_group \"fw\".instances[1]: instance \"web\" is listed twice"),
        ("[[sync_group]]\nname = \"fw\"\ninstances = [\"web\"]\n[[sync_group]]\nname = \"lb\"\ninstances = [\"db\", \"web\"]\n", "line 16, column 20: sync_group \"lb\".instances[1]: instance \"web\" is already in sync group \"fw\": an instance belongs to one sync group at most"),
        ("[[sync_group]]\nname = \"fw\"\ninstances = [\"web\"]\n[[sync_group]]\nname = \"fw\"\ninstances = [\"db\"]\n", "line 15, column 8: sync_group \"fw\".name: sync group name \"fw\" is used twice"),
        ("[[sync_group]]\nname = \"fw\"\nmembers = [\"web\"]\n", "line 13, column 1: unknown field `members`, expected one of `name`, `instances`, `notify`, `notify_timeout`, `notify_args`, `notify_active`, `notify_backup`, `notify_fault`, `notify_stop`"),
    ];
    for (extra, want) in cases {
        assert_eq!(err(&format!("{base}{extra}")), *want, "{extra}");
    }
}

#[test]
fn election_errors_are_mapped_with_the_path() {
    // Config::validate's own checks still run; each names the instance's field.
    let e = super::build::map_election_error_for_test(
        "instance \"web\"",
        tandem_election::ConfigError::DuplicateTrack("eth1".into()),
    );
    assert_eq!(
        e.to_string(),
        "instance \"web\".track: tracked object \"eth1\" is listed twice"
    );
}

#[test]
fn load_names_the_file() {
    let dir = std::env::temp_dir().join(format!("tandem-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.toml");
    std::fs::write(&path, one("priority = 0")).unwrap();
    assert_eq!(
        load(&path).unwrap_err().to_string(),
        format!(
            "{}:5:12: instance[0].priority: priority 0 is sent only by an Active router that resigns: use 1 to 255",
            path.display()
        )
    );
    let missing = dir.join("missing.toml");
    let e = load(&missing).unwrap_err();
    assert!(matches!(e, ConfigError::Read { .. }));
    assert!(e
        .to_string()
        .starts_with(&format!("cannot read {}: ", missing.display())));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn check_host_finds_owner_and_source_faults() {
    let c = parse(&one("priority = 255\nsource = \"192.0.2.1\"")).unwrap();
    let host = |ifname: &str| -> Vec<IpAddr> {
        if ifname == "eth0" {
            vec![ip("192.0.2.100")]
        } else {
            vec![]
        }
    };
    let errors: Vec<String> = check_host(&c, &host)
        .iter()
        .map(|e| e.to_string())
        .collect();
    assert_eq!(
        errors,
        vec!["instance \"eth0-51-ipv4\".source: 192.0.2.1 is not one of eth0's addresses: adverts must come from this node's own address"]
    );
    let host = |_: &str| vec![ip("192.0.2.1")];
    let errors: Vec<String> = check_host(&c, &host)
        .iter()
        .map(|e| e.to_string())
        .collect();
    assert_eq!(
        errors,
        vec!["instance \"eth0-51-ipv4\".priority: priority 255 is the address owner's: this node must own 192.0.2.100 (it is not one of eth0's addresses); lower the priority or add the address to eth0"]
    );
    assert!(check_host(&c, &|_: &str| vec![]).is_empty());
}

/// `tandemd run`'s flags, as main.rs flattens them.
#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    flags: RunFlags,
}

fn flags(args: &[&str]) -> RunFlags {
    let mut argv = vec!["tandemd-run"];
    argv.extend_from_slice(args);
    Cli::try_parse_from(argv).unwrap().flags
}

fn flag_err(args: &[&str]) -> String {
    match from_flags(&flags(args)) {
        Ok(c) => panic!("accepted: {c:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn flag_form() {
    let c = from_flags(&flags(&[
        "--interface",
        "eth0",
        "--vrid",
        "7",
        "--priority",
        "200",
        "--address",
        "192.0.2.10/24",
        "--address",
        "192.0.2.11",
        "--interval",
        "0.01",
    ]))
    .unwrap();
    assert_eq!(c.global, GlobalConfig::default());
    assert!(c.sync_groups.is_empty());
    let i = &c.instances[0];
    assert_eq!(i.name, "eth0-7-ipv4");
    assert_eq!(i.election.priority, Priority(200));
    assert_eq!(i.prefixes, vec![24, 32]);
    assert!(i.election.preempt);
    assert!(matches!(
        i.election.protocol,
        Protocol::Vrrp3 {
            interval: Centiseconds(1),
            checksum: ChecksumPolicy::Auto,
            ..
        }
    ));

    let c = from_flags(&flags(&[
        "--interface",
        "eth0",
        "--vrid",
        "7",
        "--address",
        "192.0.2.10/24",
        "--protocol",
        "carp",
        "--password",
        "x",
        "--interval",
        "2",
        "--advskew",
        "50",
        "--no-preempt",
        "--unicast-peer",
        "192.0.2.2",
        "--unicast-peer",
        "192.0.2.3",
        "--source",
        "192.0.2.1",
        "--vmac",
        "--accept",
        "--track-interface",
        "eth1",
    ]))
    .unwrap();
    let i = &c.instances[0];
    assert_eq!(
        i.election.protocol,
        Protocol::Carp {
            advbase: 2,
            advskew: 50,
            password: b"x".to_vec()
        }
    );
    assert!(!i.election.preempt);
    assert!(i.election.accept_mode);
    assert!(i.vmac);
    assert_eq!(i.source, Some(ip("192.0.2.1")));
    assert_eq!(
        i.delivery,
        Delivery::Unicast(vec![ip("192.0.2.2"), ip("192.0.2.3")])
    );
    assert_eq!(i.track_interfaces, vec!["eth1"]);
    assert_eq!(i.election.tracks[0].effect, TrackEffect::Fault);

    let c = from_flags(&flags(&[
        "--interface",
        "eth0",
        "--vrid",
        "7",
        "--address",
        "192.0.2.10",
        "--protocol",
        "vrrp2",
        "--password",
        "secret",
        "--broadcast",
    ]))
    .unwrap();
    assert_eq!(
        c.instances[0].election.protocol,
        Protocol::Vrrp2 {
            interval: Seconds(1),
            auth: vrrp2::Auth::simple_text(b"secret")
        }
    );
    assert_eq!(c.instances[0].delivery, Delivery::Broadcast);
}

#[test]
fn flag_errors() {
    let base = [
        "--interface",
        "eth0",
        "--vrid",
        "7",
        "--address",
        "192.0.2.10/24",
    ];
    let with = |extra: &[&'static str]| {
        let mut v: Vec<&str> = base.to_vec();
        v.extend_from_slice(extra);
        flag_err(&v)
    };
    assert_eq!(
        flag_err(&["--vrid", "7", "--address", "192.0.2.10"]),
        "--interface: missing: give the interface the virtual router runs on"
    );
    assert_eq!(
        flag_err(&["--interface", "eth0", "--address", "192.0.2.10"]),
        "--vrid: missing: give the virtual router's id (VRID; VHID for CARP), 1 to 255"
    );
    assert_eq!(
        flag_err(&["--interface", "eth0", "--vrid", "7"]),
        "--address: missing: give the virtual addresses, as \"ADDRESS/PREFIX\""
    );
    assert_eq!(
        flag_err(&[
            "--interface",
            "eth0",
            "--vrid",
            "0",
            "--address",
            "192.0.2.10"
        ]),
        "--vrid: VRID 0 is out of range: use 1 to 255"
    );
    assert_eq!(
        with(&["--interval", "0.015"]),
        "--interval: interval 0.015 s is not a whole number of centiseconds: VRRPv3 counts in steps of 0.01 s"
    );
    assert_eq!(
        with(&["--password", "x"]),
        "--password: VRRPv3 has no authentication (RFC 9568): remove the password, or use protocol \"vrrp2\" (auth = \"pass\" or \"ah\") or \"carp\""
    );
    assert_eq!(
        with(&["--protocol", "carp"]),
        "--password: CARP needs a password: its HMAC-SHA1 is keyed with it (ucarp's --pass)"
    );
    assert_eq!(
        with(&["--protocol", "carp", "--password", "x", "--priority", "100"]),
        "--priority: CARP has no priority: it elects the node with the lowest advskew (after demotion); set advskew instead (0 wins)"
    );
    assert_eq!(
        with(&["--unicast-peer", "fd00::2"]),
        "--unicast-peer: fd00::2 is IPv6 but the virtual addresses are IPv4: use an IPv4 address"
    );
    assert_eq!(
        with(&["--address", "fd00::1"]),
        "--address: fd00::1 is IPv6 and 192.0.2.10 IPv4: one virtual router carries one family; make another [[instance]] for the other family"
    );
    assert_eq!(
        with(&["--protocol", "vrrp2", "--interval", "0.5"]),
        "--interval: interval 0.5 s is not valid for VRRPv2: use whole seconds, 1 to 255"
    );
    assert_eq!(
        with(&["--advskew", "3"]),
        "--advskew: applies to CARP only, and this virtual router runs VRRPv3"
    );
}

/// Every example file under examples/ parses.
#[test]
fn examples_parse() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            if let Err(e) = load(&path) {
                panic!("{e}");
            }
            seen += 1;
        }
    }
    assert!(seen >= 4, "{seen} example files in {}", dir.display());
}

/// docs/config.md has a table row for every key the parser accepts.
#[test]
fn docs_name_every_key() {
    let docs =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/config.md"))
            .unwrap();
    let mut keys = Vec::new();
    for text in [
        "[global]\nx = 1\n".to_string(),
        format!("{}[health]\nx = 1\n", one("")),
        one("x = 1"),
        "[[sync_group]]\nx = 1\n".to_string(),
        "[sync]\nx = 1\n".to_string(),
    ] {
        let message = err(&text);
        let (_, list) = message.split_once("expected").unwrap();
        keys.extend(
            list.split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_string)
                .collect::<Vec<_>>(),
        );
    }
    assert!(keys.len() > 30, "{keys:?}");
    for key in keys {
        assert!(
            docs.contains(&format!("| `{key}` |")),
            "docs/config.md has no row for `{key}`"
        );
    }
}
