//! End-to-end round trips of `tandemd import keepalived`: a keepalived.conf
//! pair member, imported with `tandemd import keepalived FILE -o FILE`,
//! checked with `tandemd check-config` inside the node's namespace, run by
//! `tandemd run --config`, against a real keepalived that runs the other
//! member's keepalived.conf (tests/e2e/lab.rs builds the namespaces).
//!
//! Each test makes its own lab: node a (index 0) runs keepalived with the
//! preferred configuration (priority 150), node b (index 1) tandemd with
//! the import of the same configuration at priority 100. keepalived holds
//! the addresses and tandemd stays Backup; keepalived stops or crashes and
//! tandemd takes the addresses within the protocol's bound; keepalived
//! starts again and preempts, and tandemd releases them. Each test also
//! checks the import's notices (`Import.notices`, repeated in the output's
//! header) against the list it expects, so a statement the importer
//! starts to drop fails here.
//!
//! - VRRPv2, `authentication { auth_type PASS }`, a `virtual_ipaddress`
//!   with `dev` and `label`, and the global `vrrp_garp_*` settings (the
//!   gratuitous ARPs of tandemd's takeover are counted on the observer);
//! - the RHEL LVS-NAT router pair: a `vrrp_sync_group` of the public VIP on
//!   eth0 and the private gateway VIP on a second segment (eth1), with a
//!   group `notify` script; tandemd takes both together and runs the
//!   script with keepalived's arguments (`GROUP VG1 MASTER 0`);
//! - VRRPv3 with `unicast_src_ip` / `unicast_peer`: both daemons advertise
//!   unicast only (seen on the observer).
//!
//! Unlike the other end-to-end tests, these never skip: without root or a
//! tool (`ip`, `bridge`, `tcpdump`, `keepalived`) they fail, saying what
//! is missing.

#[path = "e2e/lab.rs"]
#[allow(dead_code)]
mod lab;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use lab::{Lab, Pid, Tool, TANDEMD};
use tandem_node::decode::{Advert, Options};
use tandem_node::import::keepalived;

/// What scheduling on two busy cores may add to a protocol's own bound.
const MARGIN: Duration = Duration::from_millis(1500);

/// Generous bound for a first election or a preemption (not measured).
const SETTLE: Duration = Duration::from_secs(15);

/// Master_Down_Interval of a Backup: 3 intervals + skew (VRRPv2's skew
/// is (256 - priority) / 256 s, VRRPv3's that times the interval).
fn down_interval(interval_s: f64, priority: u8, v3: bool) -> Duration {
    let unit = if v3 { interval_s } else { 1.0 };
    let skew = f64::from(256 - u16::from(priority)) * unit / 256.0;
    Duration::from_secs_f64(3.0 * interval_s + skew)
}

/// A lab with two nodes and keepalived, or a panic saying why not.
fn lab(tag: &str) -> Lab {
    Lab::new(tag, 2, &[Tool::Keepalived]).unwrap_or_else(|| {
        panic!(
            "the import round-trip test cannot run here (the reason is on the line above): \
             it needs root, ip, bridge, tcpdump and keepalived, and does not skip"
        )
    })
}

/// The import of one configuration: through the command (`tandemd import
/// keepalived FILE -o OUT`, its notices on stderr) and through the
/// library, whose notices it returns (their messages, without file and
/// line). Both outputs must be the same text.
fn import(lab: &Lab, name: &str, conf: &str) -> (String, Vec<String>) {
    let input = lab.write(&format!("{name}.conf"), conf);
    let out = lab.dir.join(format!("{name}.toml"));
    let run = Command::new(TANDEMD)
        .args(["import", "keepalived"])
        .arg(&input)
        .arg("-o")
        .arg(&out)
        .output()
        .expect("run tandemd import");
    let stderr = String::from_utf8_lossy(&run.stderr).into_owned();
    assert!(
        run.status.success(),
        "tandemd import keepalived {}: {stderr}",
        input.display()
    );
    let toml = std::fs::read_to_string(&out).unwrap();
    let lib = keepalived::import_file(&input).unwrap();
    assert_eq!(lib.toml, toml, "the command and the library differ");
    let messages: Vec<String> = lib.notices.iter().map(|n| n.message.clone()).collect();
    for n in &lib.notices {
        assert!(
            toml.contains(&format!("# {n}")),
            "{n} is not in the header:\n{toml}"
        );
        assert!(
            stderr.contains(&n.to_string()),
            "{n} is not on the command's stderr: {stderr}"
        );
    }
    (toml, messages)
}

/// `tandemd check-config FILE` inside node `k`'s namespace (the host
/// checks too: the interfaces exist there).
fn check_config(lab: &Lab, k: usize, path: &Path) {
    let out = Command::new("ip")
        .args(["netns", "exec", &lab.node(k).ns, TANDEMD, "check-config"])
        .arg(path)
        .output()
        .expect("run tandemd check-config");
    assert!(
        out.status.success(),
        "check-config refused the import {}:\n{}{}",
        path.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Imports `conf` as `name`, checks it on node 1 and starts tandemd there
/// on it.
fn start_imported(lab: &mut Lab, name: &str, conf: &str) -> (Pid, String, Vec<String>) {
    let (toml, notices) = import(lab, name, conf);
    let path = lab.dir.join(format!("{name}.toml"));
    check_config(lab, 1, &path);
    let p = path.to_str().unwrap().to_owned();
    let pid = lab.tandemd(1, "tandemd", &["--config", &p]);
    (pid, toml, notices)
}

/// Lines of tandemd's log that report trouble with what it received.
fn reception_trouble(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| {
            l.contains("dropped advert")
                || l.contains("checksum form")
                || l.contains("TTL ")
                || l.contains("speaks version")
                || l.contains("authentication")
                || l.contains("password")
                || l.contains("refused")
        })
        .collect()
}

/// Lines of keepalived's log that report an advert it did not accept.
fn keepalived_trouble(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| {
            let l = l.to_ascii_lowercase();
            l.contains("invalid") || l.contains("mismatch") || l.contains("bad ")
        })
        .collect()
}

fn assert_clean(lab: &Lab, td: Pid, kas: &[Pid]) {
    let log = lab.log(td);
    let bad = reception_trouble(&log);
    assert!(
        bad.is_empty(),
        "tandemd reports trouble: {bad:#?}; {}",
        lab.report()
    );
    for k in kas {
        let log = lab.log(*k);
        let bad = keepalived_trouble(&log);
        assert!(
            bad.is_empty(),
            "keepalived reports trouble: {bad:#?}; {}",
            lab.report()
        );
    }
}

/// Waits until every address of `vips` is on node `k` alone (but nodes
/// in `ignore`); returns when each first was, from `start`.
fn wait_all(
    lab: &Lab,
    k: usize,
    vips: &[&str],
    ignore: &[usize],
    start: Instant,
    timeout: Duration,
) -> Vec<Duration> {
    let mut at: Vec<Option<Duration>> = vec![None; vips.len()];
    let ok = lab::wait_for(timeout, || {
        for (i, v) in vips.iter().enumerate() {
            let only = (0..lab.nodes.len())
                .filter(|n| !ignore.contains(n))
                .all(|n| lab.has(n, v) == (n == k));
            if only && at[i].is_none() {
                at[i] = Some(start.elapsed());
            }
        }
        at.iter().all(Option::is_some)
    });
    assert!(
        ok.is_some(),
        "{vips:?} not all on node {k} alone within {timeout:?} (got {at:?}); {}",
        lab.report()
    );
    at.into_iter().map(Option::unwrap).collect()
}

/// Checks that every address of `vips` stays on node `k` alone (but
/// nodes in `ignore`) for `hold`.
fn hold_all(lab: &Lab, k: usize, vips: &[&str], ignore: &[usize], hold: Duration) {
    let end = Instant::now() + hold;
    while Instant::now() < end {
        for v in vips {
            let h: Vec<usize> = lab
                .holders(v)
                .into_iter()
                .filter(|n| !ignore.contains(n))
                .collect();
            assert_eq!(h, vec![k], "{v} should stay on node {k}; {}", lab.report());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// keepalived on node 0 preferred, imported tandemd on node 1: node 0
/// holds `vips` while tandemd stays Backup; node 0's keepalived stops
/// (`crash`: every process frozen and killed, else SIGTERM) and tandemd
/// takes them all within `bound`; keepalived starts again and preempts.
/// Returns keepalived's two runs and when tandemd had each address.
fn round_trip(
    lab: &mut Lab,
    vips: &[&str],
    k1: &str,
    td: Pid,
    crash: bool,
    bound: Duration,
    active_for: Duration,
) -> (Pid, Pid, Vec<Duration>) {
    let first = lab.keepalived(0, "keepalived", k1);
    wait_all(lab, 0, vips, &[], Instant::now(), SETTLE);
    // tandemd is up and Backup, not only slow to start.
    let up = lab::wait_for(SETTLE, || lab.log(td).contains("-> Backup"));
    assert!(
        up.is_some(),
        "tandemd never became Backup; {}",
        lab.report()
    );
    hold_all(lab, 0, vips, &[], Duration::from_millis(1500));
    let start = Instant::now();
    if crash {
        lab.crash(0);
    } else {
        lab.signal(first, "TERM");
    }
    let ignore: &[usize] = if crash { &[0] } else { &[] };
    let took = wait_all(lab, 1, vips, ignore, start, bound + Duration::from_secs(5));
    for (v, t) in vips.iter().zip(&took) {
        assert!(
            *t <= bound,
            "tandemd took {v} after {t:?}, bound {bound:?}; {}",
            lab.report()
        );
    }
    eprintln!("tandemd took {vips:?} after {took:?} (bound {bound:?})");
    if !crash {
        assert!(
            lab.wait_exit(first, Duration::from_secs(10)),
            "keepalived did not exit on SIGTERM"
        );
    }
    hold_all(lab, 1, vips, ignore, active_for);
    let again = lab.keepalived(0, "keepalived", k1);
    wait_all(lab, 0, vips, &[], Instant::now(), SETTLE);
    hold_all(lab, 0, vips, &[], Duration::from_millis(500));
    let log = lab.log(td);
    assert!(
        log.contains("-> Active reason=active_"),
        "tandemd's takeover is not in its log; {}",
        lab.report()
    );
    assert!(
        log.contains("Active -> Backup reason=preempted"),
        "tandemd was not preempted by the restarted keepalived; {}",
        lab.report()
    );
    (first, again, took)
}

// ------------------------------------------------------------------ VRRPv2

const VIP2: &str = "192.0.2.100";

/// The VRRPv2 pair member, `state` and `prio` its own.
fn k_vrrp2(id: &str, state: &str, prio: u8) -> String {
    format!(
        r#"! A VRRPv2 pair member with a simple password.
global_defs {{
    router_id {id}
    vrrp_garp_master_delay 2
    vrrp_garp_master_repeat 3
    vrrp_garp_interval 0.05
}}

vrrp_instance VI_1 {{
    state {state}
    interface eth0
    virtual_router_id 51
    priority {prio}
    advert_int 1
    authentication {{
        auth_type PASS
        auth_pass s3cret
    }}
    virtual_ipaddress {{
        {VIP2}/24 dev eth0 label eth0:1
    }}
}}
"#
    )
}

/// VRRPv2 with `auth_type PASS`, `dev`/`label` and the `vrrp_garp_*`
/// settings: keepalived (150) on node a, the import of the same file at
/// priority 100 on node b. keepalived holds the VIP and tandemd stays
/// Backup; keepalived crashes and tandemd takes the VIP within 3 intervals
/// plus the skew, announcing it in bursts of `vrrp_garp_master_repeat` gratuitous
/// ARPs (the second `vrrp_garp_master_delay` later); keepalived restarts
/// and preempts.
#[test]
fn import_keepalived_vrrp2_pass_round_trip() {
    let mut lab = lab("imp2");
    let k1 = k_vrrp2(&format!("{}-a", lab.id), "MASTER", 150);
    let k2 = k_vrrp2(&format!("{}-b", lab.id), "BACKUP", 100);
    let (td, toml, notices) = start_imported(&mut lab, "k2", &k2);
    assert_eq!(
        notices,
        [format!(
            "vrrp_instance VI_1: {VIP2}/24 \"label eth0:1\" is not carried over: tandemd adds addresses without a label"
        )],
        "{toml}"
    );
    for want in [
        "protocol = \"vrrp2\"",
        "vrid = 51",
        "priority = 100",
        "auth = \"pass\"",
        "password = \"s3cret\"",
        "addresses = [\"192.0.2.100/24\"]",
        "announce = { repeat = 3, spacing = 0.05, refresh_after = 2 }",
    ] {
        assert!(toml.contains(want), "{want} is not in the import:\n{toml}");
    }
    lab.start_capture("wire.pcap");
    let (first, again, _) = round_trip(
        &mut lab,
        &[VIP2],
        &k1,
        td,
        true,
        down_interval(1.0, 100, false) + MARGIN,
        Duration::from_millis(3000),
    );
    let frames = lab.stop_capture();
    // Active for more than the 2 s refresh: two bursts of 3.
    let garps = lab::garp_senders(&frames, VIP2)
        .into_iter()
        .filter(|m| *m == lab.node(1).mac)
        .count();
    assert!(
        garps >= 6,
        "tandemd sent {garps} gratuitous ARPs for {VIP2}, want 2 bursts of 3; {}",
        lab.report()
    );
    // Every advert on the wire, from either daemon, is VRRPv2 VRID 51 with
    // the simple password.
    let ads = lab::adverts(&frames, &Options::default());
    let mut senders = std::collections::BTreeSet::new();
    for d in &ads {
        assert!(d.problems().is_empty(), "{:?}: {:?}", d.ip, d.problems());
        match &d.advert {
            Some(Advert::Vrrp2 {
                vrid: 51,
                auth_type: 1,
                auth_data: [b's', b'3', b'c', b'r', b'e', b't', 0, 0],
                ..
            }) => {}
            other => panic!("{:?}: not keepalived's VRRPv2 advert: {other:?}", d.ip),
        }
        senders.extend(d.ip.map(|ip| ip.src.to_string()));
    }
    assert_eq!(
        senders.into_iter().collect::<Vec<_>>(),
        ["192.0.2.1", "192.0.2.2"],
        "the adverts' senders"
    );
    assert_clean(&lab, td, &[first, again]);
}

// ------------------------------------------------------------------ LVS-NAT

const VIP_PUB: &str = "203.0.113.10";
const VIP_GW: &str = "198.51.100.1";

/// The LVS-NAT router pair member (tests/import/keepalived/lvs-nat.conf's
/// layout), with a group notify script writing its arguments to `log`.
fn k_lvs(id: &str, state: &str, prio: u8, notify: &str) -> String {
    let inst = |name: &str, dev: &str, vrid: u8, vip: &str| {
        format!(
            r#"vrrp_instance {name} {{
    state {state}
    interface {dev}
    virtual_router_id {vrid}
    priority {prio}
    advert_int 1
    authentication {{
        auth_type PASS
        auth_pass passw123
    }}
    virtual_ipaddress {{
        {vip}
    }}
}}
"#
        )
    };
    format!(
        r#"! The RHEL Load Balancer (LVS-NAT) router pair: the public VIP and the
! private gateway VIP move together, in one sync group.
global_defs {{
    router_id {id}
}}

vrrp_sync_group VG1 {{
    group {{
        RH_EXT
        RH_INT
    }}
    notify "{notify}"
}}

{}
{}
virtual_server {VIP_PUB} 80 {{
    delay_loop 6
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 198.51.100.20 80 {{
        weight 1
        TCP_CHECK {{
            connect_timeout 3
        }}
    }}
}}
"#,
        inst("RH_EXT", "eth0", 50, VIP_PUB),
        inst("RH_INT", "eth1", 2, &format!("{VIP_GW}/24")),
    )
}

/// A notify script that appends its arguments to `log`; its path.
fn notify_script(lab: &Lab, name: &str, log: &Path) -> String {
    let path = lab.write(
        name,
        &format!("#!/bin/sh\necho \"$@\" >> '{}'\n", log.display()),
    );
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.to_str().unwrap().to_owned()
}

/// The LVS-NAT layout: a `vrrp_sync_group` of the public VIP (eth0, VRID
/// 50, on the lab's segment) and the private gateway VIP (eth1, VRID 2,
/// on a second segment of 198.51.100.0/24), keepalived (150) on node a,
/// the import at 100 on node b. keepalived stops (SIGTERM) and tandemd
/// takes both addresses together (within a second of each other, both
/// within the bound); the group's notify script runs with keepalived's
/// arguments, `GROUP VG1 MASTER 0`; keepalived restarts and takes both
/// back.
#[test]
fn import_keepalived_lvs_nat_sync_group_round_trip() {
    let mut lab = lab("implvs");
    let (a, b) = (lab.node(0).ns.clone(), lab.node(1).ns.clone());
    lab.add_segment(
        "br1",
        &[
            (&a, "pa1", "eth1", [2, 0, 0, 0, 1, 1], "198.51.100.11/24"),
            (&b, "pb1", "eth1", [2, 0, 0, 0, 1, 2], "198.51.100.12/24"),
        ],
    );
    let ka_log = lab.dir.join("notify-keepalived.log");
    let td_log = lab.dir.join("notify-tandemd.log");
    let ka_notify = notify_script(&lab, "notify-a.sh", &ka_log);
    let td_notify = notify_script(&lab, "notify-b.sh", &td_log);
    let k1 = k_lvs(&format!("{}-a", lab.id), "MASTER", 150, &ka_notify);
    let k2 = k_lvs(&format!("{}-b", lab.id), "MASTER", 100, &td_notify);
    let (td, toml, notices) = start_imported(&mut lab, "k2", &k2);
    assert_eq!(
        notices,
        ["\"virtual_server\" is not carried over: tandemd does no load balancing (IPVS); keep a separate IPVS tool"],
        "{toml}"
    );
    for want in [
        "[[sync_group]]\nname = \"VG1\"\ninstances = [\"RH_EXT\", \"RH_INT\"]",
        &format!("notify = \"{td_notify}\"\nnotify_args = \"keepalived\""),
        "interface = \"eth1\"\nprotocol = \"vrrp2\"\nvrid = 2",
        "addresses = [\"203.0.113.10\"]",
        "addresses = [\"198.51.100.1/24\"]",
    ] {
        assert!(toml.contains(want), "{want} is not in the import:\n{toml}");
    }
    let (first, again, took) = round_trip(
        &mut lab,
        &[VIP_PUB, VIP_GW],
        &k1,
        td,
        false,
        down_interval(1.0, 100, false) + MARGIN,
        Duration::from_millis(1000),
    );
    let apart = took[0].abs_diff(took[1]);
    assert!(
        apart <= Duration::from_secs(1),
        "tandemd took the two addresses {apart:?} apart ({took:?}); {}",
        lab.report()
    );
    let lines = || std::fs::read_to_string(&td_log).unwrap_or_default();
    let ok = lab::wait_for(Duration::from_secs(5), || {
        lines().lines().any(|l| l == "GROUP VG1 MASTER 0")
            && lines()
                .lines()
                .filter(|l| *l == "GROUP VG1 BACKUP 0")
                .count()
                >= 1
    });
    assert!(
        ok.is_some(),
        "tandemd's group notify did not run with keepalived's arguments: {:?}; {}",
        lines(),
        lab.report()
    );
    // The same script under keepalived got the same form.
    let ka_lines = std::fs::read_to_string(&ka_log).unwrap_or_default();
    assert!(
        ka_lines.lines().any(|l| l.starts_with("GROUP VG1 MASTER")),
        "keepalived's group notify: {ka_lines:?}"
    );
    assert_clean(&lab, td, &[first, again]);
}

// ------------------------------------------------------------------ VRRPv3

const VIP3: &str = "192.0.2.130";

fn k_vrrp3(id: &str, prio: u8, src: &str, peer: &str) -> String {
    format!(
        r#"global_defs {{
    router_id {id}
    vrrp_version 3
}}

vrrp_instance VI_3 {{
    state BACKUP
    interface eth0
    virtual_router_id 30
    priority {prio}
    advert_int 0.2
    unicast_src_ip {src}
    unicast_peer {{
        {peer}
    }}
    virtual_ipaddress {{
        {VIP3}/24 dev eth0
    }}
}}
"#
    )
}

/// VRRPv3 at 0.2 s with `unicast_src_ip` / `unicast_peer`: keepalived
/// (150) on node a, the import at 100 on node b, nothing lost in the
/// import. keepalived stops (SIGTERM) and tandemd takes the VIP;
/// keepalived restarts and preempts. On the wire, each daemon advertised
/// only unicast, to the other.
#[test]
fn import_keepalived_vrrp3_unicast_round_trip() {
    let mut lab = lab("imp3");
    let k1 = k_vrrp3(&format!("{}-a", lab.id), 150, "192.0.2.1", "192.0.2.2");
    let k2 = k_vrrp3(&format!("{}-b", lab.id), 100, "192.0.2.2", "192.0.2.1");
    let (td, toml, notices) = start_imported(&mut lab, "k2", &k2);
    assert!(notices.is_empty(), "{notices:#?}\n{toml}");
    for want in [
        "protocol = \"vrrp3\"",
        "interval = 0.2",
        "source = \"192.0.2.2\"",
        "unicast_peers = [\"192.0.2.1\"]",
    ] {
        assert!(toml.contains(want), "{want} is not in the import:\n{toml}");
    }
    lab.start_capture("wire.pcap");
    let (first, again, _) = round_trip(
        &mut lab,
        &[VIP3],
        &k1,
        td,
        false,
        down_interval(0.2, 100, true) + MARGIN,
        Duration::from_millis(1000),
    );
    let frames = lab.stop_capture();
    let ads = lab::adverts(&frames, &Options::default());
    lab::assert_unicast_both_ways(&ads, "192.0.2.2", "192.0.2.1", "keepalived");
    for d in &ads {
        assert!(d.problems().is_empty(), "{:?}: {:?}", d.ip, d.problems());
    }
    assert_clean(&lab, td, &[first, again]);
}
