//! End-to-end tests: `tandemd run` in network namespaces, in pairs and
//! against keepalived and ucarp, checked through the nodes' addresses
//! (`ip -j addr`), the daemons' logs and a capture on an observer node.
//!
//! They need root, `ip`, `tcpdump`, and for some `keepalived` / `ucarp`.
//! Without them they return early saying why, except under `CI=true`,
//! where they fail. docs/testing.md says how to run them and what each one
//! checks; tests/e2e/lab.rs builds the namespaces.

#[path = "e2e/lab.rs"]
mod lab;

use std::time::Duration;

use lab::{Lab, Pid, Tool};
use tandem_node::decode::Options;
use tandem_wire::ChecksumMode;

const VIP4: &str = "192.0.2.100";
const VIP6: &str = "fd00::100";

/// What scheduling on two busy cores may add to a protocol's own bound.
const MARGIN: Duration = Duration::from_millis(1500);

/// Generous bound for a first election or a preemption (not measured).
const SETTLE: Duration = Duration::from_secs(15);

/// Master_Down_Interval of a VRRPv3 Backup: 3 intervals + skew.
fn down_interval(interval_s: f64, priority: u8) -> Duration {
    let skew = f64::from(256 - u16::from(priority)) * interval_s / 256.0;
    Duration::from_secs_f64(3.0 * interval_s + skew)
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| (*x).to_owned()).collect()
}

/// Starts a daemon on a node of the lab.
type Start<'a> = &'a dyn Fn(&mut Lab) -> Pid;

/// The common failover scenario. Node 0 runs the preferred router, node 1
/// the other. (1) The group elects node 0 alone. (2) Node 0 crashes (every
/// process frozen, then SIGKILL): node 1 takes `vip` within `bound`, node
/// 0 keeping its stale copy. (3) Node 0 starts again: the stale copy is
/// gone and node 0 preempts node 1, so `vip` ends on node 0 alone.
/// Returns the handles of node 0's two runs and node 1's.
fn failover_and_back(
    lab: &mut Lab,
    vip: &str,
    preferred: Start<'_>,
    other: Start<'_>,
    bound: Duration,
) -> (Pid, Pid, Pid) {
    let first = preferred(lab);
    let b = other(lab);
    lab.wait_only(0, vip, &[], SETTLE);
    lab.hold_only(0, vip, Duration::from_millis(600));
    lab.crash(0);
    let took = lab.wait_only(1, vip, &[0], bound + Duration::from_secs(5));
    assert!(
        took <= bound,
        "takeover after a crash took {took:?}, bound {bound:?}; {}",
        lab.report()
    );
    eprintln!("takeover after the crash: {took:?} (bound {bound:?})");
    let again = preferred(lab);
    lab.wait_only(0, vip, &[], SETTLE);
    lab.hold_only(0, vip, Duration::from_millis(400));
    (first, again, b)
}

fn tandemd_args(protocol: &[&str], prio: u8, addr: &str, extra: &[&str]) -> Vec<String> {
    let mut v = s(&["--interface", "eth0", "--vrid", "10", "--address", addr]);
    v.extend(s(protocol));
    if prio > 0 {
        v.extend(s(&["--priority", &prio.to_string()]));
    }
    v.extend(s(extra));
    v
}

fn start_tandemd(lab: &mut Lab, k: usize, label: &str, args: &[String]) -> Pid {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    lab.tandemd(k, label, &a)
}

/// keepalived's configuration for one VRRP instance on eth0.
#[derive(Clone)]
struct Ka<'a> {
    version: u8,
    prio: u8,
    interval: &'a str,
    vips: &'a [&'a str],
    auth_pass: Option<&'a str>,
    unicast: Option<(&'a str, &'a str)>,
}

impl Ka<'_> {
    fn conf(&self, id: &str) -> String {
        let mut c = format!(
            "global_defs {{\n  router_id {id}\n}}\nvrrp_instance VI_10 {{\n  state BACKUP\n  interface eth0\n  version {}\n  virtual_router_id 10\n  priority {}\n  advert_int {}\n",
            self.version, self.prio, self.interval
        );
        if let Some(p) = self.auth_pass {
            c += &format!("  authentication {{\n    auth_type PASS\n    auth_pass {p}\n  }}\n");
        }
        if let Some((src, peer)) = self.unicast {
            c += &format!("  unicast_src_ip {src}\n  unicast_peer {{\n    {peer}\n  }}\n");
        }
        c += "  virtual_ipaddress {\n";
        for v in self.vips {
            c += &format!("    {v} dev eth0\n");
        }
        c += "  }\n}\n";
        c
    }
}

fn start_ka(lab: &mut Lab, k: usize, ka: &Ka<'_>) -> Pid {
    let conf = ka.conf(&format!("{}-{k}", lab.id));
    lab.keepalived(k, &format!("keepalived-{k}"), &conf)
}

/// Lines of a tandemd log that report trouble with what it received.
fn reception_trouble(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| {
            l.contains("dropped advert")
                || l.contains("checksum form")
                || l.contains("TTL ")
                || l.contains("speaks version")
                || l.contains("authentication")
                || l.contains("password")
                || l.contains("HMAC")
        })
        .collect()
}

fn assert_clean(lab: &Lab, p: Pid) {
    let log = lab.log(p);
    let bad = reception_trouble(&log);
    assert!(
        bad.is_empty(),
        "{} reports trouble: {bad:#?}; {}",
        lab.proc(p).label,
        lab.report()
    );
}

// ------------------------------------------------------------------ tandemd pairs

/// VRRPv3, IPv4, 0.1 s: one Active; a crash moves the address within the
/// bound and the new Active announces it; a restart removes the stale
/// copy and preempts.
#[test]
fn tandemd_pair_crash_moves_vip() {
    let Some(mut lab) = Lab::new("crash", 2, &[]) else {
        return;
    };
    lab.start_capture("wire.pcap");
    let v = |p| tandemd_args(&[], p, "192.0.2.100/24", &["--interval", "0.1"]);
    let (va, vb) = (v(200), v(100));
    let (first, again, b) = failover_and_back(
        &mut lab,
        VIP4,
        &|l| start_tandemd(l, 0, "tandemd-a", &va),
        &|l| start_tandemd(l, 1, "tandemd-b", &vb),
        down_interval(0.1, 100) + MARGIN,
    );
    let frames = lab.stop_capture();
    let garps = lab::garp_senders(&frames, VIP4);
    assert!(
        garps.contains(&lab.node(1).mac),
        "no gratuitous ARP for {VIP4} from node b ({}); senders {garps:?}",
        lab::mac_string(lab.node(1).mac)
    );
    assert!(
        garps.contains(&lab.node(0).mac),
        "no gratuitous ARP for {VIP4} from node a"
    );
    let log_a = lab.log(first);
    assert!(log_a.contains("state Backup -> Active"), "{}", lab.report());
    let log_a2 = lab.log(again);
    assert!(
        log_a2.contains("removed leftover address 192.0.2.100"),
        "the restarted node did not remove its stale address; {}",
        lab.report()
    );
    assert!(
        log_a2.contains("-> Active reason=preempting"),
        "{}",
        lab.report()
    );
    let log_b = lab.log(b);
    assert!(
        log_b.contains("-> Active reason=active_down"),
        "{}",
        lab.report()
    );
    assert!(
        log_b.contains("Active -> Backup reason=preempted"),
        "{}",
        lab.report()
    );
    for p in [first, again, b] {
        assert_clean(&lab, p);
    }
}

/// The Active's link going down: it goes to Fault and drops the address,
/// the other takes over within the bound; link up: it preempts back.
#[test]
fn tandemd_pair_link_down_moves_vip() {
    let Some(mut lab) = Lab::new("link", 2, &[]) else {
        return;
    };
    let a = start_tandemd(
        &mut lab,
        0,
        "tandemd-a",
        &tandemd_args(&[], 200, "192.0.2.100/24", &["--interval", "0.1"]),
    );
    let b = start_tandemd(
        &mut lab,
        1,
        "tandemd-b",
        &tandemd_args(&[], 100, "192.0.2.100/24", &["--interval", "0.1"]),
    );
    lab.wait_only(0, VIP4, &[], SETTLE);
    lab.hold_only(0, VIP4, Duration::from_millis(500));
    lab.start_capture("wire.pcap");
    lab.port(0, false);
    let bound = down_interval(0.1, 100) + MARGIN;
    let took = lab.wait_only(1, VIP4, &[], bound + Duration::from_secs(5));
    assert!(took <= bound, "takeover took {took:?}, bound {bound:?}");
    eprintln!("takeover after link down: {took:?} (bound {bound:?})");
    let frames = lab.stop_capture();
    assert!(
        lab::garp_senders(&frames, VIP4).contains(&lab.node(1).mac),
        "no gratuitous ARP for {VIP4} from node b"
    );
    assert!(lab.log(a).contains("-> Fault"), "{}", lab.report());
    lab.port(0, true);
    lab.wait_only(0, VIP4, &[], SETTLE);
    lab.hold_only(0, VIP4, Duration::from_millis(400));
    assert!(lab.log(a).contains("Fault -> Backup"), "{}", lab.report());
    assert!(
        lab.log(b).contains("Active -> Backup reason=preempted"),
        "{}",
        lab.report()
    );
}

/// Three nodes elect exactly one Active; a graceful stop (priority 0) of
/// the Active hands over within the skew time, well under one interval.
#[test]
fn tandemd_three_nodes_graceful_stop() {
    let Some(mut lab) = Lab::new("three", 3, &[]) else {
        return;
    };
    let a = start_tandemd(
        &mut lab,
        0,
        "tandemd-a",
        &tandemd_args(&[], 250, "192.0.2.100/24", &[]),
    );
    let b = start_tandemd(
        &mut lab,
        1,
        "tandemd-b",
        &tandemd_args(&[], 230, "192.0.2.100/24", &[]),
    );
    let c = start_tandemd(
        &mut lab,
        2,
        "tandemd-c",
        &tandemd_args(&[], 100, "192.0.2.100/24", &[]),
    );
    lab.wait_only(0, VIP4, &[], SETTLE);
    lab.hold_only(0, VIP4, Duration::from_millis(1500));
    let start = std::time::Instant::now();
    lab.signal(a, "TERM");
    // Skew_Time of node b: 26/256 s; the bound: one advert interval.
    let took = lab.wait_only(1, VIP4, &[], Duration::from_secs(5));
    assert!(
        took < Duration::from_secs(1),
        "takeover after a graceful stop took {took:?}, more than one interval; {}",
        lab.report()
    );
    eprintln!("takeover after SIGTERM: {took:?}");
    assert!(
        lab.wait_exit(a, Duration::from_secs(5)),
        "node a did not exit"
    );
    assert!(start.elapsed() < Duration::from_secs(5));
    lab.hold_only(1, VIP4, Duration::from_millis(1500));
    assert!(
        lab.log(b).contains("-> Active reason=active_resigned"),
        "{}",
        lab.report()
    );
    assert!(!lab.log(c).contains("-> Active"), "{}", lab.report());
    assert!(lab.log(a).contains("stopped"), "{}", lab.report());
}

// ---------------------------------------------------------------- keepalived

/// VRRPv2 with a password, tandemd preferred: keepalived takes over from
/// a crashed tandemd, the restarted tandemd takes the role back.
#[test]
fn keepalived_vrrp2_tandemd_preferred() {
    let Some(mut lab) = Lab::new("v2td", 2, &[Tool::Keepalived]) else {
        return;
    };
    let td = tandemd_args(
        &["--protocol", "vrrp2", "--password", "secret"],
        200,
        "192.0.2.100/24",
        &[],
    );
    let ka = Ka {
        version: 2,
        prio: 100,
        interval: "1",
        vips: &["192.0.2.100/24"],
        auth_pass: Some("secret"),
        unicast: None,
    };
    let (first, again, _) = failover_and_back(
        &mut lab,
        VIP4,
        &|l| start_tandemd(l, 0, "tandemd", &td),
        &|l| start_ka(l, 1, &ka),
        down_interval(1.0, 100) + MARGIN,
    );
    assert_clean(&lab, first);
    assert_clean(&lab, again);
}

/// VRRPv2 with a password, keepalived preferred.
#[test]
fn keepalived_vrrp2_keepalived_preferred() {
    let Some(mut lab) = Lab::new("v2ka", 2, &[Tool::Keepalived]) else {
        return;
    };
    let td = tandemd_args(
        &["--protocol", "vrrp2", "--password", "secret"],
        100,
        "192.0.2.100/24",
        &[],
    );
    let ka = Ka {
        version: 2,
        prio: 200,
        interval: "1",
        vips: &["192.0.2.100/24"],
        auth_pass: Some("secret"),
        unicast: None,
    };
    let (_, _, td_pid) = failover_and_back(
        &mut lab,
        VIP4,
        &|l| start_ka(l, 0, &ka),
        &|l| start_tandemd(l, 1, "tandemd", &td),
        down_interval(1.0, 100) + MARGIN,
    );
    assert_clean(&lab, td_pid);
}

fn ka3<'a>(prio: u8, vips: &'a [&'a str]) -> Ka<'a> {
    Ka {
        version: 3,
        prio,
        interval: "0.2",
        vips,
        auth_pass: None,
        unicast: None,
    }
}

/// tandemd's adverts from `src` in the capture, with the checksum form each
/// one matched.
fn checksum_forms(frames: &[Vec<u8>], src: &str) -> Vec<Option<ChecksumMode>> {
    let src: std::net::IpAddr = src.parse().unwrap();
    lab::adverts(frames, &Options::default())
        .into_iter()
        .filter(|d| d.ip.is_some_and(|ip| ip.src == src))
        .map(|d| d.checksum.and_then(|c| c.mode()))
        .collect()
}

/// VRRPv3 IPv4 at 0.2 s, keepalived preferred, tandemd with
/// `--checksum auto`: it hears keepalived's pseudo-header checksums and,
/// while Active, sends in that form.
#[test]
fn keepalived_vrrp3_checksum_auto() {
    let Some(mut lab) = Lab::new("v3auto", 2, &[Tool::Keepalived]) else {
        return;
    };
    lab.start_capture("wire.pcap");
    let td = tandemd_args(
        &["--checksum", "auto"],
        100,
        "192.0.2.100/24",
        &["--interval", "0.2"],
    );
    let ka = ka3(200, &["192.0.2.100/24"]);
    let (_, _, td_pid) = failover_and_back(
        &mut lab,
        VIP4,
        &|l| start_ka(l, 0, &ka),
        &|l| start_tandemd(l, 1, "tandemd", &td),
        down_interval(0.2, 100) + MARGIN,
    );
    let frames = lab.stop_capture();
    let forms = checksum_forms(&frames, "192.0.2.2");
    assert!(!forms.is_empty(), "tandemd sent no advert while Active");
    assert!(
        forms.iter().all(|f| *f == Some(ChecksumMode::PseudoHeader)),
        "tandemd's adverts: {forms:?}"
    );
    assert_clean(&lab, td_pid);
}

/// VRRPv3 IPv4 at 0.2 s, tandemd preferred with `--checksum
/// ipv4-pseudo-header`: keepalived accepts its adverts (stays Backup).
#[test]
fn keepalived_vrrp3_checksum_pseudo_header() {
    let Some(mut lab) = Lab::new("v3ph", 2, &[Tool::Keepalived]) else {
        return;
    };
    let td = tandemd_args(
        &["--checksum", "ipv4-pseudo-header"],
        200,
        "192.0.2.100/24",
        &["--interval", "0.2"],
    );
    let ka = ka3(100, &["192.0.2.100/24"]);
    let (first, again, ka_pid) = failover_and_back(
        &mut lab,
        VIP4,
        &|l| start_tandemd(l, 0, "tandemd", &td),
        &|l| start_ka(l, 1, &ka),
        down_interval(0.2, 100) + MARGIN,
    );
    assert_clean(&lab, first);
    assert_clean(&lab, again);
    let log = lab.log(ka_pid).to_lowercase();
    assert!(!log.contains("checksum"), "keepalived: {}", lab.report());
}

/// VRRPv3 IPv4: tandemd `--checksum rfc9568` preferred, tandemd `auto` the
/// other: the auto side accepts the message-only form and sends in it.
#[test]
fn tandemd_checksum_rfc9568_auto_follows() {
    let Some(mut lab) = Lab::new("rfc", 2, &[]) else {
        return;
    };
    lab.start_capture("wire.pcap");
    let hi = tandemd_args(
        &["--checksum", "rfc9568"],
        200,
        "192.0.2.100/24",
        &["--interval", "0.1"],
    );
    let lo = tandemd_args(
        &["--checksum", "auto"],
        100,
        "192.0.2.100/24",
        &["--interval", "0.1"],
    );
    let (first, again, b) = failover_and_back(
        &mut lab,
        VIP4,
        &|l| start_tandemd(l, 0, "tandemd-rfc9568", &hi),
        &|l| start_tandemd(l, 1, "tandemd-auto", &lo),
        down_interval(0.1, 100) + MARGIN,
    );
    let frames = lab.stop_capture();
    let forms_a = checksum_forms(&frames, "192.0.2.1");
    let forms_b = checksum_forms(&frames, "192.0.2.2");
    assert!(!forms_a.is_empty() && !forms_b.is_empty());
    assert!(
        forms_a
            .iter()
            .all(|f| *f == Some(ChecksumMode::NoPseudoHeader)),
        "rfc9568 node: {forms_a:?}"
    );
    assert!(
        forms_b
            .iter()
            .all(|f| *f == Some(ChecksumMode::NoPseudoHeader)),
        "auto node: {forms_b:?}"
    );
    for p in [first, again, b] {
        assert_clean(&lab, p);
    }
}

/// VRRPv3 IPv4: tandemd `--checksum rfc9568` against keepalived 2.2.7,
/// which only speaks the pseudo-header form: the mismatch is reported on
/// both sides (keepalived drops tandemd's adverts; tandemd names the
/// checksum form keepalived uses).
#[test]
fn keepalived_vrrp3_checksum_rfc9568_mismatch_reported() {
    let Some(mut lab) = Lab::new("v3rfc", 2, &[Tool::Keepalived]) else {
        return;
    };
    let td = start_tandemd(
        &mut lab,
        0,
        "tandemd",
        &tandemd_args(
            &["--checksum", "rfc9568"],
            100,
            "192.0.2.100/24",
            &["--interval", "0.2"],
        ),
    );
    let ka = start_ka(&mut lab, 1, &ka3(200, &["192.0.2.100/24"]));
    let seen = lab::wait_for(SETTLE, || {
        lab.log(td).contains("checksum form") && lab.log(ka).to_lowercase().contains("checksum")
    });
    assert!(
        seen.is_some(),
        "the checksum mismatch is not reported on both sides; {}",
        lab.report()
    );
    // Neither accepts the other's adverts: both end up Active.
    let both = lab::wait_for(SETTLE, || lab.holders(VIP4).len() == 2);
    assert!(both.is_some(), "expected two Actives; {}", lab.report());
}

/// VRRPv3 IPv6 at 0.2 s (adverts from link-local addresses to ff02::12),
/// tandemd preferred: keepalived accepts its adverts, takes over on a
/// crash, and yields when tandemd comes back; tandemd sends unsolicited
/// neighbour advertisements for the address.
#[test]
fn keepalived_vrrp3_ipv6() {
    let Some(mut lab) = Lab::new("v3v6", 2, &[Tool::Keepalived]) else {
        return;
    };
    lab.start_capture("wire.pcap");
    let td = tandemd_args(&[], 200, "fd00::100/64", &["--interval", "0.2"]);
    let ka = ka3(100, &["fd00::100/64"]);
    let (first, again, _) = failover_and_back(
        &mut lab,
        VIP6,
        &|l| start_tandemd(l, 0, "tandemd", &td),
        &|l| start_ka(l, 1, &ka),
        down_interval(0.2, 100) + MARGIN,
    );
    let frames = lab.stop_capture();
    let na = lab::na_senders(&frames, VIP6);
    assert!(
        na.contains(&lab.node(0).mac),
        "no unsolicited NA for {VIP6} from tandemd; senders {na:?}"
    );
    assert_clean(&lab, first);
    assert_clean(&lab, again);
}

/// VRRPv3 IPv4 unicast both ways (tandemd `--unicast-peer`, keepalived
/// `unicast_peer`), tandemd preferred.
#[test]
fn keepalived_vrrp3_unicast_ipv4() {
    let Some(mut lab) = Lab::new("uni4", 2, &[Tool::Keepalived]) else {
        return;
    };
    lab.start_capture("wire.pcap");
    let td = tandemd_args(
        &[],
        200,
        "192.0.2.100/24",
        &[
            "--interval",
            "0.2",
            "--source",
            "192.0.2.1",
            "--unicast-peer",
            "192.0.2.2",
        ],
    );
    let ka = Ka {
        unicast: Some(("192.0.2.2", "192.0.2.1")),
        ..ka3(100, &["192.0.2.100/24"])
    };
    let (first, again, _) = failover_and_back(
        &mut lab,
        VIP4,
        &|l| start_tandemd(l, 0, "tandemd", &td),
        &|l| start_ka(l, 1, &ka),
        down_interval(0.2, 100) + MARGIN,
    );
    let frames = lab.stop_capture();
    let ads = lab::adverts(&frames, &Options::default());
    lab::assert_unicast_both_ways(&ads, "192.0.2.1", "192.0.2.2", "keepalived");
    assert_clean(&lab, first);
    assert_clean(&lab, again);
}

/// VRRPv3 IPv6 unicast, keepalived preferred: keepalived's unicast adverts
/// carry hop limit 64, which tandemd accepts from a `ttl_exempt` peer
/// (configuration file).
#[test]
fn keepalived_vrrp3_unicast_ipv6_ttl_exempt() {
    let Some(mut lab) = Lab::new("uni6", 2, &[Tool::Keepalived]) else {
        return;
    };
    let conf = lab.write(
        "tandemd.toml",
        r#"[[instance]]
name = "uni6"
interface = "eth0"
vrid = 10
priority = 100
interval = 0.2
addresses = ["fd00::100/64"]
source = "fd00::2"
unicast_peers = ["fd00::1"]
ttl_exempt = ["fd00::1"]
"#,
    );
    let conf = conf.to_str().unwrap().to_owned();
    let ka = Ka {
        unicast: Some(("fd00::1", "fd00::2")),
        ..ka3(200, &["fd00::100/64"])
    };
    lab.start_capture("wire.pcap");
    let (_, _, td_pid) = failover_and_back(
        &mut lab,
        VIP6,
        &|l| start_ka(l, 0, &ka),
        &|l| l.tandemd(1, "tandemd", &["--config", &conf]),
        down_interval(0.2, 100) + MARGIN,
    );
    assert_clean(&lab, td_pid);
    // The exemption was needed: keepalived's adverts arrived with another
    // hop limit than 255, and tandemd's own carry 255.
    let frames = lab.stop_capture();
    let ads = lab::adverts(&frames, &Options::default());
    let hops = |src: &str| -> Vec<u8> {
        ads.iter()
            .filter_map(|d| d.ip)
            .filter(|ip| ip.src.to_string() == src)
            .map(|ip| ip.ttl)
            .collect()
    };
    let (ka_hops, td_hops) = (hops("fd00::1"), hops("fd00::2"));
    assert!(
        !ka_hops.is_empty() && ka_hops.iter().all(|h| *h != 255),
        "keepalived's unicast hop limits: {ka_hops:?}"
    );
    assert!(
        !td_hops.is_empty() && td_hops.iter().all(|h| *h == 255),
        "tandemd's hop limits: {td_hops:?}"
    );
}

// --------------------------------------------------------------------- ucarp

/// ucarp's up and down scripts, copied to the scratch directory with the
/// execute bit set (ucarp runs them directly).
fn ucarp_scripts(lab: &Lab) -> (String, String) {
    use std::os::unix::fs::PermissionsExt;
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e");
    let mut out = Vec::new();
    for name in ["ucarp-vip-up.sh", "ucarp-vip-down.sh"] {
        let to = lab.dir.join(name);
        std::fs::copy(src.join(name), &to).unwrap();
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o755)).unwrap();
        out.push(to.to_str().unwrap().to_owned());
    }
    (out[0].clone(), out[1].clone())
}

fn start_ucarp(lab: &mut Lab, k: usize, advskew: u8, preempt: bool) -> Pid {
    let (up, down) = ucarp_scripts(lab);
    let node = lab.node(k).clone();
    let mut args = vec![
        "ucarp".to_owned(),
        "--interface=eth0".into(),
        format!("--srcip={}", node.v4),
        "--vhid=10".into(),
        "--pass=s3cret".into(),
        "--addr=192.0.2.200".into(),
        "--advbase=1".into(),
        format!("--advskew={advskew}"),
        format!("--upscript={up}"),
        format!("--downscript={down}"),
        "--shutdown".into(),
    ];
    if preempt {
        args.push("--preempt".into());
    }
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    lab.spawn(&node.ns, &format!("ucarp-{k}"), &a)
}

fn carp_args(advskew: u8) -> Vec<String> {
    tandemd_args(
        &[
            "--protocol",
            "carp",
            "--password",
            "s3cret",
            "--advskew",
            &advskew.to_string(),
        ],
        0,
        "192.0.2.200/24",
        &[],
    )
}

/// CARP bound: 3 x (advbase + advskew / 256) of the taking-over node.
fn carp_down(advskew: u8) -> Duration {
    Duration::from_secs_f64(3.0 * (1.0 + f64::from(advskew) / 256.0))
}

/// CARP with a password, tandemd preferred (advskew 0 against ucarp's 100).
#[test]
fn ucarp_tandemd_preferred() {
    let Some(mut lab) = Lab::new("carptd", 2, &[Tool::Ucarp]) else {
        return;
    };
    let td = carp_args(0);
    let (first, again, _) = failover_and_back(
        &mut lab,
        "192.0.2.200",
        &|l| start_tandemd(l, 0, "tandemd", &td),
        &|l| start_ucarp(l, 1, 100, false),
        carp_down(100) + MARGIN,
    );
    assert_clean(&lab, first);
    assert_clean(&lab, again);
}

/// CARP with a password, ucarp preferred (advskew 0, --preempt, against
/// tandemd's 100).
#[test]
fn ucarp_ucarp_preferred() {
    let Some(mut lab) = Lab::new("carpuc", 2, &[Tool::Ucarp]) else {
        return;
    };
    let td = carp_args(100);
    let (_, _, td_pid) = failover_and_back(
        &mut lab,
        "192.0.2.200",
        &|l| start_ucarp(l, 0, 0, true),
        &|l| start_tandemd(l, 1, "tandemd", &td),
        carp_down(100) + MARGIN,
    );
    assert_clean(&lab, td_pid);
}

// ------------------------------------------------- virtual MAC, split brain

/// `ip -j -d -n NS link show DEV`, or `None` when there is no such link.
fn link_json(ns: &str, dev: &str) -> Option<serde_json::Value> {
    let out = std::process::Command::new("ip")
        .args(["-j", "-d", "-n", ns, "link", "show", "dev", dev])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    v.get(0).cloned()
}

/// The IPv4 / IPv6 addresses on `dev` in `ns` (`ip -j -n NS addr show dev DEV`).
fn dev_addrs(ns: &str, dev: &str) -> Vec<String> {
    let out = lab::run("ip", &["-j", "-n", ns, "addr", "show", "dev", dev]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_default();
    v[0]["addr_info"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["local"].as_str().map(str::to_owned))
        .collect()
}

/// Checks that node `k` carries `VIP4` on a macvlan `vrrp.10` of eth0 with
/// the VRRP virtual MAC of VRID 10, up.
fn assert_vmac_holder(lab: &Lab, k: usize, vmac: &str) {
    let ns = &lab.node(k).ns;
    let link = link_json(ns, "vrrp.10")
        .unwrap_or_else(|| panic!("node {k}: no link vrrp.10; {}", lab.report()));
    assert_eq!(link["address"], vmac, "node {k}: {link}");
    assert_eq!(link["linkinfo"]["info_kind"], "macvlan", "node {k}: {link}");
    assert_eq!(link["link"], "eth0", "node {k}: parent of vrrp.10: {link}");
    assert!(
        link["flags"].as_array().unwrap().iter().any(|f| f == "UP"),
        "node {k}: vrrp.10 is not up: {link}"
    );
    let on = dev_addrs(ns, "vrrp.10");
    assert!(
        on.iter().any(|a| a == VIP4),
        "node {k}: {VIP4} not on vrrp.10 ({on:?}); {}",
        lab.report()
    );
    assert!(
        !dev_addrs(ns, "eth0").iter().any(|a| a == VIP4),
        "node {k}: {VIP4} on eth0 too"
    );
}

/// Gratuitous ARPs for `addr` in `frames`: (Ethernet source, ARP sender
/// hardware address).
fn garp_macs(frames: &[Vec<u8>], addr: &str) -> Vec<([u8; 6], [u8; 6])> {
    let a: std::net::Ipv4Addr = addr.parse().unwrap();
    let a = a.octets();
    frames
        .iter()
        .filter(|f| f.len() >= 42 && f[12..14] == [0x08, 0x06])
        .filter(|f| f[28..32] == a && f[38..42] == a)
        .map(|f| (f[6..12].try_into().unwrap(), f[22..28].try_into().unwrap()))
        .collect()
}

/// `--vmac`, VRRPv3 IPv4, 0.1 s: the Active carries the address on a
/// macvlan `vrrp.10` with MAC 00:00:5e:00:01:0a and announces it from that
/// MAC; after a crash the other node does the same on its own macvlan;
/// a graceful stop deletes the macvlan.
#[test]
fn tandemd_vmac_pair() {
    let Some(mut lab) = Lab::new("vmac", 2, &[Tool::Ping]) else {
        return;
    };
    const VMAC: [u8; 6] = [0x00, 0x00, 0x5e, 0x00, 0x01, 0x0a];
    let vmac = lab::mac_string(VMAC);
    let v = |p| tandemd_args(&[], p, "192.0.2.100/24", &["--interval", "0.1", "--vmac"]);
    lab.start_capture("elect.pcap");
    let a = start_tandemd(&mut lab, 0, "tandemd-a", &v(200));
    let b = start_tandemd(&mut lab, 1, "tandemd-b", &v(100));
    lab.wait_only(0, VIP4, &[], SETTLE);
    lab.hold_only(0, VIP4, Duration::from_millis(500));
    assert_vmac_holder(&lab, 0, &vmac);
    // Neighbours reach the address at the virtual MAC, and the nodes' own
    // addresses at their own MACs (the macvlans answer no ARP for them).
    let obs = lab.obs.clone();
    for (ip, want) in [
        (VIP4, vmac.clone()),
        ("192.0.2.1", lab::mac_string(lab.node(0).mac)),
        ("192.0.2.2", lab::mac_string(lab.node(1).mac)),
    ] {
        lab::run("ip", &["-n", &obs, "neigh", "flush", "dev", "eth0"]);
        lab::run(
            "ip",
            &["netns", "exec", &obs, "ping", "-c", "1", "-W", "2", ip],
        );
        std::thread::sleep(Duration::from_millis(300));
        let out = lab::run(
            "ip",
            &["-j", "-n", &obs, "neigh", "show", ip, "dev", "eth0"],
        );
        let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_default();
        assert_eq!(
            v[0]["lladdr"],
            want.as_str(),
            "observer's neighbour entry for {ip}: {out}"
        );
    }
    let frames = lab.stop_capture();
    let garps = garp_macs(&frames, VIP4);
    assert!(!garps.is_empty(), "no gratuitous ARP for {VIP4}");
    assert!(
        garps.iter().all(|(src, sha)| *src == VMAC && *sha == VMAC),
        "gratuitous ARPs for {VIP4} not all from and for {vmac}: {garps:?}"
    );

    lab.start_capture("takeover.pcap");
    lab.crash(0);
    let bound = down_interval(0.1, 100) + MARGIN;
    let took = lab.wait_only(1, VIP4, &[0], bound + Duration::from_secs(5));
    assert!(
        took <= bound,
        "takeover with --vmac took {took:?}, bound {bound:?}; {}",
        lab.report()
    );
    eprintln!("takeover with --vmac after the crash: {took:?} (bound {bound:?})");
    assert_vmac_holder(&lab, 1, &vmac);
    let frames = lab.stop_capture();
    let garps = garp_macs(&frames, VIP4);
    assert!(
        !garps.is_empty(),
        "no gratuitous ARP from node b after the crash"
    );
    assert!(
        garps.iter().all(|(src, sha)| *src == VMAC && *sha == VMAC),
        "node b's gratuitous ARPs for {VIP4} not all from and for {vmac}: {garps:?}"
    );
    assert!(
        lab.log(b).contains("-> Active reason=active_down"),
        "{}",
        lab.report()
    );

    lab.signal(b, "TERM");
    assert!(
        lab.wait_exit(b, Duration::from_secs(5)),
        "node b did not exit"
    );
    let b_ns = lab.node(1).ns.clone();
    assert!(
        link_json(&b_ns, "vrrp.10").is_none(),
        "node b's vrrp.10 is still there after a graceful stop; {}",
        lab.report()
    );
    assert!(
        !lab.has(1, VIP4),
        "node b kept {VIP4} after a graceful stop"
    );
    assert!(lab.log(b).contains("stopped"), "{}", lab.report());
    assert_clean(&lab, a);
    assert_clean(&lab, b);
}

/// Isolates (or joins again) the two nodes' switch ports from each other;
/// both keep reaching the observer.
fn isolate(lab: &Lab, on: bool) {
    for k in 0..2 {
        lab::run(
            "bridge",
            &[
                "-n",
                &lab.sw,
                "link",
                "set",
                "dev",
                &lab.node(k).port,
                "isolated",
                if on { "on" } else { "off" },
            ],
        );
    }
}

/// A split brain (the nodes' ports isolated from each other on the
/// switch): both become Active; healed: the lower priority yields within
/// one interval + skew, the winner logs the episode and its end and
/// announces the address again.
#[test]
fn tandemd_split_brain_heal_reannounces() {
    let Some(mut lab) = Lab::new("split", 2, &[]) else {
        return;
    };
    let v = |p| tandemd_args(&[], p, "192.0.2.100/24", &["--interval", "0.1"]);
    let a = start_tandemd(&mut lab, 0, "tandemd-a", &v(200));
    let b = start_tandemd(&mut lab, 1, "tandemd-b", &v(100));
    lab.wait_only(0, VIP4, &[], SETTLE);
    lab.hold_only(0, VIP4, Duration::from_millis(300));

    isolate(&lab, true);
    let both = lab::wait_for(
        down_interval(0.1, 100) + MARGIN + Duration::from_secs(3),
        || lab.holders(VIP4) == [0, 1],
    );
    assert!(
        both.is_some(),
        "isolated, node b did not take {VIP4} too; {}",
        lab.report()
    );
    // Past node b's refresh burst (5 s after becoming Active), so that a
    // gratuitous ARP captured from now on is one sent after the heal.
    let end = std::time::Instant::now() + Duration::from_millis(5700);
    while std::time::Instant::now() < end {
        assert_eq!(
            lab.holders(VIP4),
            [0, 1],
            "the split brain ended while isolated; {}",
            lab.report()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    lab.start_capture("heal.pcap");

    isolate(&lab, false);
    let skew = Duration::from_secs_f64(f64::from(256 - 100u16) * 0.1 / 256.0);
    let bound = Duration::from_millis(100) + skew + MARGIN;
    let took = lab.wait_only(0, VIP4, &[], bound + Duration::from_secs(5));
    assert!(
        took <= bound,
        "one Active {took:?} after the heal, bound {bound:?}; {}",
        lab.report()
    );
    eprintln!("one Active again {took:?} after the heal (bound {bound:?})");
    let resolved = lab::wait_for(Duration::from_secs(3), || {
        lab.log(a)
            .contains("split brain resolved: announcing the addresses again")
    });
    assert!(
        resolved.is_some(),
        "node a did not log the end of the split brain; {}",
        lab.report()
    );
    lab.hold_only(0, VIP4, Duration::from_millis(400));
    let frames = lab.stop_capture();

    let log_a = lab.log(a);
    assert!(
        log_a.contains("split brain: 192.0.2.2 (priority 100) is Active too"),
        "{}",
        lab.report()
    );
    let log_b = lab.log(b);
    assert!(
        log_b.contains("-> Active reason=active_down"),
        "{}",
        lab.report()
    );
    assert!(
        log_b.contains("state Active -> Backup"),
        "node b did not yield; {}",
        lab.report()
    );
    assert!(!lab.has(1, VIP4), "node b kept {VIP4}");
    let garps = lab::garp_senders(&frames, VIP4);
    assert!(
        garps.contains(&lab.node(0).mac),
        "no gratuitous ARP for {VIP4} from node a after the heal; senders {garps:?}; {}",
        lab.report()
    );
    assert!(
        !garps.contains(&lab.node(1).mac),
        "node b announced {VIP4} after the heal: {garps:?}"
    );
    assert_clean(&lab, a);
    assert_clean(&lab, b);
}
