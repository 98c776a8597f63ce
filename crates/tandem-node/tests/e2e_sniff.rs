//! End-to-end tests of `tandemd sniff`, in network namespaces: the
//! sniffer runs on the lab's observer (tests/e2e/lab.rs) with `--json
//! --duration`, while real packets cross the segment, and the test reads
//! its JSON lines.
//!
//! - a clean tandemd pair gives packets and a summary but no finding, and
//!   `--write` keeps a pcap that `tandemd decode` reads back with the same
//!   packets;
//! - faults injected from the nodes' namespaces (adverts built with
//!   `tandem_wire::build`, sent as whole Ethernet frames on a packet
//!   socket) each give their finding, and only for the VRID at fault;
//! - an IPv6 tandemd pair is summarised with its link-local Active, and a
//!   hop limit of 254 is `bad_ttl`;
//! - ucarp gives `carp_seen`, and with a wrong `--password` an
//!   `auth_mismatch`.
//!
//! They use the lab's rules: root, `ip`, `bridge`, `tcpdump` (and ucarp);
//! without them each test returns early saying why, except under
//! `CI=true`, where it fails. docs/testing.md says what each checks.
//!
//! **The injector is this test binary.** Frames must leave from inside a
//! node's namespace, so the test runs itself there: `ip netns exec NS env
//! TANDEM_E2E_SNIFF_INJECT=PLAN <this binary> --exact inject_child`. The
//! "test" `inject_child` reads the plan (one `AT_MS HEX_FRAME` per line),
//! sends each frame on eth0 at its time, prints one `inject-result:` line
//! and exits; without the variable (any ordinary `cargo test`) it returns
//! at once.

#[path = "e2e/lab.rs"]
#[allow(dead_code)]
mod lab;

use std::net::IpAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use lab::{Lab, Pid, Tool, TANDEMD};
use serde_json::Value;
use tandem_wire::build::Advert;

const INJECT_ENV: &str = "TANDEM_E2E_SNIFF_INJECT";
const RESULT: &str = "inject-result:";
/// The most frames or time one plan may hold.
const MAX_FRAMES: usize = 10_000;
const MAX_PLAN: Duration = Duration::from_secs(30);

// ------------------------------------------------------------ the injector

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Not a test of its own: the injector, when the test binary runs itself
/// in a namespace with `TANDEM_E2E_SNIFF_INJECT` set (see the module
/// docs). Without that variable it returns at once.
#[test]
fn inject_child() {
    let Ok(path) = std::env::var(INJECT_ENV) else {
        return;
    };
    let text = std::fs::read_to_string(&path).expect("the plan file");
    let mut plan: Vec<(u64, Vec<u8>)> = text
        .lines()
        .take(MAX_FRAMES)
        .map(|l| {
            let (at, frame) = l.split_once(' ').expect("AT_MS HEX");
            (
                at.parse().expect("AT_MS"),
                unhex(frame.trim()).expect("HEX"),
            )
        })
        .collect();
    plan.sort_by_key(|(at, _)| *at);
    let sock = tandem_node::sys::PacketSocket::open("eth0").expect("a packet socket on eth0");
    let start = Instant::now();
    let (mut sent, mut errors) = (0u64, 0u64);
    for (at, frame) in plan {
        let at = Duration::from_millis(at).min(MAX_PLAN);
        if let Some(wait) = at.checked_sub(start.elapsed()) {
            std::thread::sleep(wait);
        }
        match sock.send(&frame) {
            Ok(()) => sent += 1,
            Err(_) => errors += 1,
        }
    }
    println!("{RESULT} sent={sent} errors={errors}");
}

/// A plan of frames for one namespace.
#[derive(Default)]
struct Plan(Vec<(u64, Vec<u8>)>);

impl Plan {
    /// `advert` every `every_ms` from `from` to `to` (inclusive).
    fn every(&mut self, advert: &Advert, from: u64, to: u64, every_ms: u64) {
        let frame = advert.ethernet_frame();
        let mut t = from;
        while t <= to {
            self.0.push((t, frame.clone()));
            t += every_ms;
        }
    }

    fn once(&mut self, at: u64, frame: Vec<u8>) {
        self.0.push((at, frame));
    }

    /// Starts the injector in node `k`'s namespace.
    fn start(&self, lab: &mut Lab, k: usize) -> Pid {
        let text: String = self
            .0
            .iter()
            .map(|(at, f)| format!("{at} {}\n", hex(f)))
            .collect();
        let path = lab.write(&format!("plan-{k}.txt"), &text);
        let exe = std::env::current_exe().expect("the test binary's path");
        let var = format!("{INJECT_ENV}={}", path.display());
        let ns = lab.node(k).ns.clone();
        lab.spawn(
            &ns,
            &format!("inject-{k}"),
            &[
                "env",
                &var,
                exe.to_str().unwrap(),
                "--exact",
                "inject_child",
                "--nocapture",
                "--test-threads=1",
            ],
        )
    }
}

// ------------------------------------------------------------ the sniffer

/// Starts `tandemd sniff eth0 --json` on the observer with `args`, and
/// waits until it listens.
fn start_sniff(lab: &mut Lab, args: &[&str]) -> Pid {
    let obs = lab.obs.clone();
    let mut cmd = vec![TANDEMD, "sniff", "eth0", "--json"];
    cmd.extend_from_slice(args);
    let p = lab.spawn(&obs, "sniff", &cmd);
    let ok = lab::wait_for(Duration::from_secs(10), || {
        lab.log(p).contains("listening on eth0")
    });
    assert!(ok.is_some(), "tandemd sniff did not start: {}", lab.log(p));
    p
}

/// Waits for the sniffer to end (its `--duration`) and returns its JSON
/// lines.
fn finish_sniff(lab: &mut Lab, p: Pid, timeout: Duration) -> Vec<Value> {
    assert!(
        lab.wait_exit(p, timeout),
        "tandemd sniff did not stop at its --duration; {}",
        lab.report()
    );
    lab.log(p)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn of_type<'a>(lines: &'a [Value], ty: &str) -> Vec<&'a Value> {
    lines.iter().filter(|v| v["type"] == ty).collect()
}

/// The findings of kind `kind`, by VRID.
fn findings<'a>(lines: &'a [Value], kind: &str) -> Vec<&'a Value> {
    of_type(lines, "finding")
        .into_iter()
        .filter(|f| f["kind"] == kind)
        .collect()
}

fn vrids(f: &[&Value]) -> Vec<u64> {
    let mut v: Vec<u64> = f.iter().filter_map(|f| f["vrid"].as_u64()).collect();
    v.sort_unstable();
    v.dedup();
    v
}

fn wait_injector(lab: &mut Lab, p: Pid) {
    assert!(
        lab.wait_exit(p, Duration::from_secs(20)),
        "the injector hangs"
    );
    let log = lab.log(p);
    let result = log
        .lines()
        .find_map(|l| l.split_once(RESULT).map(|(_, r)| r.to_owned()))
        .unwrap_or_else(|| panic!("the injector printed no result: {log}"));
    assert!(result.contains("errors=0"), "the injector failed: {result}");
}

// ------------------------------------------------------------------ tests

/// A healthy tandemd pair: packets, a summary with the Active, no
/// finding; and `--write`'s pcap decodes to the same packets.
#[test]
fn clean_pair_gives_no_finding_and_write_keeps_the_packets() {
    let Some(mut lab) = Lab::new("snclean", 2, &[]) else {
        return;
    };
    let pcap = lab.dir.join("sniff.pcap");
    let pcap_s = pcap.to_str().unwrap().to_owned();
    let sniff = start_sniff(&mut lab, &["--duration", "7", "--write", &pcap_s]);
    lab.tandemd(0, "tandemd-a", &lab::pair_flags("200"));
    lab.tandemd(1, "tandemd-b", &lab::pair_flags("100"));
    let lines = finish_sniff(&mut lab, sniff, Duration::from_secs(15));
    let packets = of_type(&lines, "packet");
    assert!(
        packets.len() >= 10,
        "too few packets: {lines:#?}; {}",
        lab.report()
    );
    let f = of_type(&lines, "finding");
    assert!(f.is_empty(), "findings on a clean segment: {f:#?}");
    let summary = of_type(&lines, "summary");
    let last = summary.last().expect("a final summary");
    let routers = last["routers"].as_array().unwrap();
    assert_eq!(routers.len(), 1, "{last:#}");
    assert_eq!(routers[0]["vrid"], 10);
    assert_eq!(routers[0]["active"], "192.0.2.1");
    assert_eq!(routers[0]["priority"], 200);
    assert_eq!(routers[0]["state"], "ok");
    assert_eq!(routers[0]["addresses"][0], "192.0.2.100");
    assert_eq!(last["packets"].as_u64(), Some(packets.len() as u64));

    // The pcap, through tandemd decode: the same records in order.
    let out = Command::new(TANDEMD)
        .args(["decode", "--json", &pcap_s])
        .output()
        .expect("tandemd decode");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let decoded: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let strip = |v: &Value| {
        let mut v = v.clone();
        let o = v.as_object_mut().unwrap();
        o.remove("type");
        o.remove("time_s");
        v
    };
    let sniffed: Vec<Value> = packets.iter().map(|p| strip(p)).collect();
    assert_eq!(sniffed, decoded);
}

/// Each fault, injected with real frames, gives its finding for the VRID
/// at fault and for no other.
#[test]
fn injected_faults_are_each_diagnosed() {
    let Some(mut lab) = Lab::new("snfault", 2, &[]) else {
        return;
    };
    let ip = |s: &str| -> IpAddr { s.parse().unwrap() };
    let (a4, b4) = (ip("192.0.2.1"), ip("192.0.2.2"));
    let (mac_a, mac_b) = (lab.node(0).mac, lab.node(1).mac);
    let v3 = |vrid: u8, vip: &str, src: IpAddr, mac| {
        Advert::vrrp3(vrid, [ip(vip)])
            .interval_cs(20)
            .src(src)
            .mac(mac)
    };
    let (mut pa, mut pb) = (Plan::default(), Plan::default());
    // 20: both send (split brain), with the two checksum forms.
    pa.every(
        &v3(20, "192.0.2.120", a4, mac_a).priority(200),
        0,
        3000,
        200,
    );
    pb.every(
        &v3(20, "192.0.2.120", b4, mac_b).rfc9568_checksum(),
        100,
        3000,
        200,
    );
    // 21: one VRID, two address sets.
    pa.every(&v3(21, "192.0.2.121", a4, mac_a), 0, 3000, 200);
    pb.every(&v3(21, "192.0.2.122", b4, mac_b).priority(0), 100, 600, 200);
    // 22: TTL 64.
    pb.every(&v3(22, "192.0.2.123", b4, mac_b).ttl(64), 0, 3000, 200);
    // 23: VRRPv2 and VRRPv3.
    pa.every(&v3(23, "192.0.2.124", a4, mac_a), 0, 3000, 200);
    let v2 = Advert::vrrp2(23, [ip("192.0.2.124")])
        .priority(0)
        .src(b4)
        .mac(mac_b);
    pb.every(&v2, 500, 1500, 1000);
    // 24: CARP signed with another password than --password.
    let carp = Advert::carp(24, b"not-s3cret", [ip("192.0.2.200")])
        .carp_fields(0, 0, 1)
        .src(a4)
        .mac(mac_a);
    pa.every(&carp, 0, 3000, 1000);
    // 25: a router that stops after 1 s (interval 0.2 s: silent 0.8 s later).
    pa.every(&v3(25, "192.0.2.125", a4, mac_a), 0, 1000, 200);
    // A malformed packet (version 5).
    let mut bad = v3(26, "192.0.2.126", b4, mac_b).ethernet_frame();
    bad[14 + 20] = 0x51;
    pb.once(1000, bad);

    let sniff = start_sniff(
        &mut lab,
        &[
            "--duration",
            "6",
            "--password",
            "s3cret",
            "--carp-address",
            "192.0.2.200",
        ],
    );
    let ia = pa.start(&mut lab, 0);
    let ib = pb.start(&mut lab, 1);
    wait_injector(&mut lab, ia);
    wait_injector(&mut lab, ib);
    let lines = finish_sniff(&mut lab, sniff, Duration::from_secs(15));
    let all = of_type(&lines, "finding");
    let expect = [
        ("split_brain", vec![20]),
        ("mixed_checksums", vec![20]),
        ("duplicate_vrid", vec![21]),
        ("bad_ttl", vec![22]),
        ("mixed_versions", vec![23]),
        ("carp_seen", vec![24]),
        ("auth_mismatch", vec![24]),
    ];
    for (kind, want) in &expect {
        let got = vrids(&findings(&lines, kind));
        assert_eq!(&got, want, "{kind}: {all:#?}");
    }
    // 25 went silent; 20, 21, 22, 23 too when the injectors stopped, and
    // the split brain of 20 ended.
    let silent = vrids(&findings(&lines, "silent"));
    assert!(silent.contains(&25), "{all:#?}");
    assert_eq!(vrids(&findings(&lines, "split_brain_cleared")), [20]);
    let silent_25 = findings(&lines, "silent")
        .into_iter()
        .find(|f| f["vrid"] == 25)
        .unwrap()["time_s"]
        .as_f64()
        .unwrap();
    let last_25 = of_type(&lines, "packet")
        .into_iter()
        .filter(|p| p["vrid"] == 25)
        .filter_map(|p| p["time_s"].as_f64())
        .fold(0.0, f64::max);
    // Three intervals and the skew (0.8 s) after the last advert.
    assert!(
        silent_25 - last_25 >= 0.75,
        "25 reported silent {:.3}s after its last advert: {all:#?}",
        silent_25 - last_25
    );
    let malformed = findings(&lines, "malformed");
    assert_eq!(malformed.len(), 1, "{all:#?}");
    assert!(
        malformed[0]["error"].as_str().unwrap().contains('5'),
        "{malformed:#?}"
    );
    // Each finding once: no repetition per packet.
    for (kind, _) in &expect {
        assert_eq!(findings(&lines, kind).len(), 1, "{kind} repeated: {all:#?}");
    }
    let summary = of_type(&lines, "summary");
    let routers = summary.last().unwrap()["routers"]
        .as_array()
        .unwrap()
        .clone();
    assert!(routers.len() >= 6, "{routers:#?}");
}

/// ucarp: CARP is seen as such, and a wrong --password is an
/// auth_mismatch.
#[test]
fn ucarp_is_seen_as_carp_and_a_wrong_password_as_auth_mismatch() {
    let Some(mut lab) = Lab::new("snucarp", 2, &[Tool::Ucarp]) else {
        return;
    };
    let sniff = start_sniff(
        &mut lab,
        &[
            "--duration",
            "7",
            "--password",
            "wrong",
            "--carp-address",
            "192.0.2.200",
        ],
    );
    // ucarp runs its up and down scripts directly: the lab's, executable.
    let mut scripts = Vec::new();
    for name in ["ucarp-vip-up.sh", "ucarp-vip-down.sh"] {
        use std::os::unix::fs::PermissionsExt;
        let from = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/e2e")
            .join(name);
        let to = lab.dir.join(name);
        std::fs::copy(from, &to).unwrap();
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o755)).unwrap();
        scripts.push(to.to_str().unwrap().to_owned());
    }
    let (up, down) = (
        format!("--upscript={}", scripts[0]),
        format!("--downscript={}", scripts[1]),
    );
    let node = lab.node(0).clone();
    let srcip = format!("--srcip={}", node.v4);
    lab.spawn(
        &node.ns,
        "ucarp",
        &[
            "ucarp",
            "--interface=eth0",
            &srcip,
            "--vhid=10",
            "--pass=s3cret",
            "--addr=192.0.2.200",
            "--advbase=1",
            "--advskew=0",
            &up,
            &down,
        ],
    );
    let lines = finish_sniff(&mut lab, sniff, Duration::from_secs(15));
    let all = of_type(&lines, "finding");
    assert_eq!(vrids(&findings(&lines, "carp_seen")), [10], "{all:#?}");
    assert_eq!(vrids(&findings(&lines, "auth_mismatch")), [10], "{all:#?}");
    let packets = of_type(&lines, "packet");
    assert!(packets.iter().all(|p| p["proto"] == "carp"), "{packets:#?}");
}

/// IPv6: a clean tandemd pair over VRRPv3 IPv6 is summarised with its
/// link-local Active and no finding, and an injected hop limit of 254 on
/// another VRID is `bad_ttl` for that VRID alone.
#[test]
fn ipv6_pair_is_summarised_and_hop_limit_254_is_bad_ttl() {
    let Some(mut lab) = Lab::new("snipv6", 2, &[]) else {
        return;
    };
    let mac_b = lab.node(1).mac;
    // Node b's link-local address (EUI-64 of its MAC, the U/L bit flipped).
    let ll_b = {
        let m = mac_b;
        let seg = |a: u8, b: u8| u16::from_be_bytes([a, b]);
        IpAddr::from(std::net::Ipv6Addr::new(
            0xfe80,
            0,
            0,
            0,
            seg(m[0] ^ 0x02, m[1]),
            seg(m[2], 0xff),
            seg(0xfe, m[3]),
            seg(m[4], m[5]),
        ))
    };
    let mut pb = Plan::default();
    let hop254 = Advert::vrrp3(30, ["fd00::130".parse().unwrap()])
        .interval_cs(20)
        .src(ll_b)
        .mac(mac_b)
        .ttl(254);
    pb.every(&hop254, 0, 3000, 200);
    let sniff = start_sniff(&mut lab, &["--duration", "7"]);
    let flags = |prio: &'static str| {
        [
            "--interface",
            "eth0",
            "--vrid",
            "10",
            "--address",
            "fd00::100/64",
            "--interval",
            "0.1",
            "--priority",
            prio,
        ]
    };
    lab.tandemd(0, "tandemd-a", &flags("200"));
    lab.tandemd(1, "tandemd-b", &flags("100"));
    let ib = pb.start(&mut lab, 1);
    wait_injector(&mut lab, ib);
    let lines = finish_sniff(&mut lab, sniff, Duration::from_secs(15));
    let all = of_type(&lines, "finding");
    assert_eq!(vrids(&findings(&lines, "bad_ttl")), [30], "{all:#?}");
    let others: Vec<_> = all.iter().filter(|f| f["vrid"] == 10).collect();
    assert!(
        others.is_empty(),
        "findings for the clean pair: {others:#?}"
    );
    let v10: Vec<_> = of_type(&lines, "packet")
        .into_iter()
        .filter(|p| p["vrid"] == 10)
        .collect();
    assert!(v10.len() >= 10, "too few VRID 10 packets: {lines:#?}");
    let summary = of_type(&lines, "summary");
    let routers = summary.last().expect("a final summary")["routers"]
        .as_array()
        .unwrap()
        .clone();
    let r10 = routers
        .iter()
        .find(|r| r["vrid"] == 10)
        .unwrap_or_else(|| panic!("no VRID 10 in {routers:#?}"));
    let active: IpAddr = r10["active"].as_str().unwrap().parse().unwrap();
    assert!(
        matches!(active, IpAddr::V6(a) if a.segments()[0] == 0xfe80),
        "the Active is not link-local: {r10:#}"
    );
    assert_ne!(active, ll_b, "the Active is the priority-100 node: {r10:#}");
    assert_eq!(r10["priority"], 200, "{r10:#}");
    assert_eq!(r10["state"], "ok", "{r10:#}");
    assert_eq!(r10["addresses"][0], "fd00::100", "{r10:#}");
}
