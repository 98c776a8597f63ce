//! Tests of tandemd's Linux I/O drivers (`tandem_node::sys`) in network
//! namespaces: raw protocol-112 sockets, rtnetlink, packet sockets.
//!
//! They need root. Without it they return early and say why, except under
//! `CI=true`, where they fail instead.
//!
//! How code runs inside a namespace: each test makes its own pair of
//! namespaces, `tnd-<test>-<pid>-a` and `-b`, joined by a veth pair (`va`
//! 192.0.2.1/24 + fd00::1/64 in a, `vb` 192.0.2.2/24 + fd00::2/64 in b,
//! duplicate address detection off, so addresses are usable at once). To
//! act in a namespace the test runs this same test binary there, as
//! `ip netns exec NS <this binary> --exact helper --nocapture`, with the
//! task in the `TANDEM_SYS_HELPER` environment variable. The `helper`
//! test does that task and prints its results as lines with a keyword
//! (`READY`, `PKT ...`, `EVENT ...`); without the variable it does nothing
//! and passes. Every helper process is killed by its PID when its handle
//! drops and the namespaces are deleted by a guard, so a failing test
//! leaves nothing behind.

use std::io::{BufRead, BufReader, Read};
use std::net::{IpAddr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tandem_node::sys::{self, LinkMonitor, Netlink, PacketSocket, RawSocket, SysError};
use tandem_wire::build::Advert;
use tandem_wire::Family;

const HELPER_ENV: &str = "TANDEM_SYS_HELPER";

// ---------------------------------------------------------------- helper side

/// Does the task in `TANDEM_SYS_HELPER`, if any (see the file header).
#[test]
fn helper() {
    let Ok(task) = std::env::var(HELPER_ENV) else {
        return;
    };
    let args: Vec<&str> = task.split_whitespace().collect();
    match args.as_slice() {
        ["recv", ifname, fam, count] => {
            let sock = RawSocket::open(ifname, family(fam), None, true).unwrap();
            sock.set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            say("READY");
            let mut buf = vec![0u8; 65536];
            for _ in 0..count.parse::<usize>().unwrap() {
                let p = sock.recv(&mut buf).unwrap();
                say(&format!(
                    "PKT {} {} {} {}",
                    p.src,
                    p.dst,
                    p.ttl,
                    hex(&buf[p.payload])
                ));
            }
        }
        ["send", ifname, fam, dst, source, payload] => {
            let source = (*source != "-").then(|| source.parse().unwrap());
            let sock = RawSocket::open(ifname, family(fam), source, false).unwrap();
            sock.send(&unhex(payload), dst.parse().unwrap()).unwrap();
            say("SENT");
        }
        ["send-ttl", ifname, fam, dst, ttl, payload] => {
            // A plain raw socket, to send with another TTL than 255.
            use socket2::{Domain, Protocol, Socket, Type};
            let ttl: u32 = ttl.parse().unwrap();
            let dst: IpAddr = dst.parse().unwrap();
            let index = sys::ifindex(ifname).unwrap();
            let (domain, to) = match family(fam) {
                Family::V4 => (Domain::IPV4, SocketAddr::new(dst, 0)),
                Family::V6 => (
                    Domain::IPV6,
                    SocketAddr::V6(std::net::SocketAddrV6::new(
                        dst.to_string().parse().unwrap(),
                        0,
                        0,
                        index,
                    )),
                ),
            };
            let s = Socket::new(domain, Type::RAW, Some(Protocol::from(112))).unwrap();
            s.bind_device(Some(ifname.as_bytes())).unwrap();
            match family(fam) {
                Family::V4 => {
                    s.set_multicast_ttl_v4(ttl).unwrap();
                    s.set_ttl_v4(ttl).unwrap();
                }
                Family::V6 => {
                    s.set_multicast_hops_v6(ttl).unwrap();
                    s.set_unicast_hops_v6(ttl).unwrap();
                    s.set_multicast_if_v6(index).unwrap();
                }
            }
            s.send_to(&unhex(payload), &to.into()).unwrap();
            say("SENT");
        }
        ["addr-add", ifname, addr, prefix] => {
            let mut nl = Netlink::open().unwrap();
            let index = sys::ifindex(ifname).unwrap();
            nl.add_address(index, addr.parse().unwrap(), prefix.parse().unwrap())
                .unwrap();
            // Again: already there is not an error.
            nl.add_address(index, addr.parse().unwrap(), prefix.parse().unwrap())
                .unwrap();
            say("DONE");
        }
        ["addr-del", ifname, addr, prefix] => {
            let mut nl = Netlink::open().unwrap();
            let index = sys::ifindex(ifname).unwrap();
            nl.remove_address(index, addr.parse().unwrap(), prefix.parse().unwrap())
                .unwrap();
            nl.remove_address(index, addr.parse().unwrap(), prefix.parse().unwrap())
                .unwrap();
            say("DONE");
        }
        ["addr-list", ifname] => {
            let mut nl = Netlink::open().unwrap();
            let index = sys::ifindex(ifname).unwrap();
            let plain = nl.addresses(index).unwrap();
            for a in nl.address_details(index).unwrap() {
                assert!(plain.contains(&(a.addr, a.prefix)));
                say(&format!(
                    "ADDR {}/{} {} {}",
                    a.addr, a.prefix, a.nodad, a.tentative
                ));
            }
            say("DONE");
        }
        ["link-up", ifname] => {
            let mut nl = Netlink::open().unwrap();
            let index = sys::ifindex(ifname).unwrap();
            say(&format!("UP {}", nl.link_up(index).unwrap()));
        }
        ["monitor", seconds] => {
            let mut mon = LinkMonitor::open().unwrap();
            mon.set_read_timeout(Some(Duration::from_millis(200)))
                .unwrap();
            say("READY");
            let end = Instant::now() + Duration::from_secs(seconds.parse().unwrap());
            while Instant::now() < end {
                match mon.next() {
                    Ok(events) => {
                        for e in events {
                            say(&format!("EVENT {} {} {}", e.ifindex, e.name, e.up));
                        }
                    }
                    Err(e) if e.is_timeout() => {}
                    Err(e) => panic!("{e}"),
                }
            }
        }
        ["macvlan", parent, name, mac] => {
            let mut nl = Netlink::open().unwrap();
            let mac = parse_mac(mac);
            match nl.create_macvlan(parent, name, mac) {
                Ok(index) => {
                    say(&format!("INDEX {index}"));
                    // Again: reused.
                    let again = nl.create_macvlan(parent, name, mac).unwrap();
                    say(&format!("INDEX {again}"));
                    assert_eq!(sys::link_mac(name).unwrap(), mac);
                }
                Err(SysError::LinkExists { .. }) => say("EXISTS"),
                Err(e) => panic!("{e}"),
            }
        }
        ["link-del", name] => {
            let mut nl = Netlink::open().unwrap();
            nl.delete_link(name).unwrap();
            nl.delete_link(name).unwrap();
            assert!(matches!(
                sys::ifindex(name),
                Err(SysError::NoSuchInterface(_))
            ));
            say("DONE");
        }
        ["garp", ifname, addr] => {
            let mac = sys::link_mac(ifname).unwrap();
            let frame = tandem_wire::frame::gratuitous_arp(mac, addr.parse().unwrap());
            let sock = PacketSocket::open(ifname).unwrap();
            say(&format!("FRAME {}", hex(&frame)));
            for _ in 0..5 {
                sock.send(&frame).unwrap();
                std::thread::sleep(Duration::from_millis(200));
            }
        }
        _ => panic!("unknown helper task {task:?}"),
    }
}

/// Prints a result line. The marker finds it in the harness's output,
/// which may share the line (`test helper ... @@ READY`).
fn say(line: &str) {
    println!("{MARK}{line}");
}

const MARK: &str = "@@ ";

fn family(s: &str) -> Family {
    match s {
        "v4" => Family::V4,
        "v6" => Family::V6,
        _ => panic!("family {s:?}"),
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn parse_mac(s: &str) -> [u8; 6] {
    let v: Vec<u8> = s
        .split(':')
        .map(|x| u8::from_str_radix(x, 16).unwrap())
        .collect();
    v.try_into().unwrap()
}

// ---------------------------------------------------------------- test side

/// Two namespaces joined by a veth pair; deleted on drop.
struct Lab {
    a: String,
    b: String,
}

impl Lab {
    /// The lab, or `None` (after saying why) when not root outside CI.
    fn new(tag: &str) -> Option<Lab> {
        if !is_root() {
            let why = "the sys tests need root (network namespaces, raw sockets)";
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("{why}, and CI=true");
            }
            eprintln!("skipped: {why}");
            return None;
        }
        let pid = std::process::id();
        let lab = Lab {
            a: format!("tnd-{tag}-{pid}-a"),
            b: format!("tnd-{tag}-{pid}-b"),
        };
        for ns in [&lab.a, &lab.b] {
            run("ip", &["netns", "add", ns]);
            run(
                "ip",
                &[
                    "netns",
                    "exec",
                    ns,
                    "sysctl",
                    "-qw",
                    "net.ipv6.conf.all.accept_dad=0",
                    "net.ipv6.conf.default.accept_dad=0",
                ],
            );
            run("ip", &["-n", ns, "link", "set", "lo", "up"]);
        }
        run(
            "ip",
            &[
                "-n", &lab.a, "link", "add", "va", "type", "veth", "peer", "name", "vb", "netns",
                &lab.b,
            ],
        );
        for (ns, dev, n) in [(&lab.a, "va", 1), (&lab.b, "vb", 2)] {
            let v4 = format!("192.0.2.{n}/24");
            let v6 = format!("fd00::{n}/64");
            run("ip", &["-n", ns, "addr", "add", &v4, "dev", dev]);
            run("ip", &["-n", ns, "addr", "add", &v6, "dev", dev, "nodad"]);
            run("ip", &["-n", ns, "link", "set", dev, "up"]);
        }
        // Both link-local addresses present and usable.
        lab.link_local(&lab.a, "va");
        lab.link_local(&lab.b, "vb");
        Some(lab)
    }

    /// The link-local address of `dev`, once it is there and not tentative.
    fn link_local(&self, ns: &str, dev: &str) -> IpAddr {
        let end = Instant::now() + Duration::from_secs(5);
        loop {
            for a in self.addrs(ns, dev) {
                if a["scope"] == "link" && a["family"] == "inet6" && a.get("tentative").is_none() {
                    return a["local"].as_str().unwrap().parse().unwrap();
                }
            }
            assert!(Instant::now() < end, "no link-local address on {dev}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `ip -j addr show dev DEV`'s address entries.
    fn addrs(&self, ns: &str, dev: &str) -> Vec<serde_json::Value> {
        let out = run("ip", &["-n", ns, "-j", "addr", "show", "dev", dev]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        v[0]["addr_info"].as_array().cloned().unwrap_or_default()
    }

    fn helper(&self, ns: &str, task: &str) -> Helper {
        Helper::spawn(ns, task)
    }

    /// Runs a helper task to its end and returns its lines.
    fn helper_lines(&self, ns: &str, task: &str) -> Vec<String> {
        let h = self.helper(ns, task);
        h.finish()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for ns in [&self.a, &self.b] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// Runs a command, panicking with its stderr if it fails.
fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A helper process in a namespace, its output lines arriving on a
/// channel. Killed by PID on drop.
struct Helper {
    child: Child,
    lines: mpsc::Receiver<String>,
    task: String,
}

impl Helper {
    fn spawn(ns: &str, task: &str) -> Helper {
        let exe = std::env::current_exe().unwrap();
        let mut child = Command::new("ip")
            .args(["netns", "exec", ns])
            .arg(exe)
            .args(["--exact", "helper", "--nocapture", "--test-threads=1"])
            .env(HELPER_ENV, task)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(i) = line.find(MARK) {
                    if tx.send(line[i + MARK.len()..].to_owned()).is_err() {
                        break;
                    }
                }
            }
        });
        Helper {
            child,
            lines: rx,
            task: task.to_owned(),
        }
    }

    /// The next line, within `timeout`.
    fn line(&self, timeout: Duration) -> String {
        self.lines
            .recv_timeout(timeout)
            .unwrap_or_else(|e| panic!("helper {:?}: no line within {timeout:?}: {e}", self.task))
    }

    /// Waits for the line `want` exactly.
    fn expect(&self, want: &str, timeout: Duration) {
        let l = self.line(timeout);
        assert_eq!(l, want, "helper {:?}", self.task);
    }

    /// Waits (at most 20 s) for the helper to end successfully; its lines.
    fn finish(mut self) -> Vec<String> {
        let end = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "helper {:?} failed", self.task);
                break;
            }
            assert!(Instant::now() < end, "helper {:?} did not end", self.task);
            std::thread::sleep(Duration::from_millis(20));
        }
        // The reader thread ends at EOF.
        let mut out = Vec::new();
        while let Ok(l) = self.lines.recv_timeout(Duration::from_secs(2)) {
            out.push(l);
        }
        out
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

const LINE: Duration = Duration::from_secs(10);

/// Sends a group advert, a unicast one, a TTL-64 one and (IPv4) a
/// broadcast one from a to b and checks what b's RawSocket reports.
fn raw_exchange(tag: &str, fam: Family) {
    let Some(lab) = Lab::new(tag) else { return };
    let (f, vip, group, peer, local): (&str, IpAddr, IpAddr, IpAddr, IpAddr) = match fam {
        Family::V4 => (
            "v4",
            "192.0.2.100".parse().unwrap(),
            "224.0.0.18".parse().unwrap(),
            "192.0.2.2".parse().unwrap(),
            "192.0.2.1".parse().unwrap(),
        ),
        Family::V6 => (
            "v6",
            "fd00::100".parse().unwrap(),
            "ff02::12".parse().unwrap(),
            "fd00::2".parse().unwrap(),
            "fd00::1".parse().unwrap(),
        ),
    };
    // The source of group adverts: the interface's address (IPv4), or its
    // link-local address bound explicitly (IPv6, scoped to the interface).
    let (group_src, bind) = match fam {
        Family::V4 => (local, String::from("-")),
        Family::V6 => {
            let ll = lab.link_local(&lab.a, "va");
            (ll, ll.to_string())
        }
    };
    let message = Advert::vrrp3(7, [vip]).priority(150).message();
    let payload = hex(&message);

    let count = if fam == Family::V4 { 4 } else { 3 };
    let rx = lab.helper(&lab.b, &format!("recv vb {f} {count}"));
    rx.expect("READY", LINE);
    lab.helper_lines(&lab.a, &format!("send va {f} {group} {bind} {payload}"));
    assert_eq!(
        rx.line(LINE),
        format!("PKT {group_src} {group} 255 {payload}"),
        "group advert"
    );
    lab.helper_lines(&lab.a, &format!("send va {f} {peer} - {payload}"));
    assert_eq!(
        rx.line(LINE),
        format!("PKT {local} {peer} 255 {payload}"),
        "unicast advert"
    );
    lab.helper_lines(&lab.a, &format!("send-ttl va {f} {group} 64 {payload}"));
    let ttl_src = match fam {
        Family::V4 => local,
        Family::V6 => group_src,
    };
    assert_eq!(
        rx.line(LINE),
        format!("PKT {ttl_src} {group} 64 {payload}"),
        "an advert with TTL 64 is received with its TTL"
    );
    if fam == Family::V4 {
        lab.helper_lines(&lab.a, &format!("send va v4 192.0.2.255 - {payload}"));
        assert_eq!(
            rx.line(LINE),
            format!("PKT {local} 192.0.2.255 255 {payload}"),
            "broadcast advert"
        );
    }
    rx.finish();
}

#[test]
fn raw_socket_ipv4_group_unicast_broadcast_and_ttl() {
    raw_exchange("raw4", Family::V4);
}

#[test]
fn raw_socket_ipv6_group_unicast_and_hop_limit() {
    raw_exchange("raw6", Family::V6);
}

#[test]
fn netlink_adds_and_removes_addresses() {
    let Some(lab) = Lab::new("addr") else { return };
    // Duplicate address detection on, so an address added without
    // IFA_F_NODAD would show as tentative.
    run(
        "ip",
        &[
            "netns",
            "exec",
            &lab.a,
            "sysctl",
            "-qw",
            "net.ipv6.conf.va.accept_dad=1",
        ],
    );
    for (addr, prefix) in [("192.0.2.100", 24), ("fd00::100", 64), ("fe80::100", 64)] {
        lab.helper_lines(&lab.a, &format!("addr-add va {addr} {prefix}"));
    }
    let entries = lab.addrs(&lab.a, "va");
    let find = |addr: &str| {
        entries
            .iter()
            .find(|e| e["local"] == addr)
            .unwrap_or_else(|| panic!("{addr} not in {entries:?}"))
            .clone()
    };
    let v4 = find("192.0.2.100");
    assert_eq!(v4["prefixlen"], 24);
    assert_eq!(v4["scope"], "global");
    let v6 = find("fd00::100");
    assert_eq!(v6["prefixlen"], 64);
    assert_eq!(v6["scope"], "global");
    assert_eq!(v6["nodad"], true, "{v6}");
    assert!(v6.get("tentative").is_none(), "{v6}");
    let ll = find("fe80::100");
    assert_eq!(ll["scope"], "link");
    assert_eq!(ll["nodad"], true);

    let listed = lab.helper_lines(&lab.a, "addr-list va");
    for want in [
        "ADDR 192.0.2.1/24 false false",
        "ADDR 192.0.2.100/24 false false",
        "ADDR fd00::1/64 true false",
        "ADDR fd00::100/64 true false",
        "ADDR fe80::100/64 true false",
    ] {
        assert!(listed.iter().any(|l| l == want), "{want} not in {listed:?}");
    }

    for (addr, prefix) in [("192.0.2.100", 24), ("fd00::100", 64), ("fe80::100", 64)] {
        lab.helper_lines(&lab.a, &format!("addr-del va {addr} {prefix}"));
    }
    let left: Vec<_> = lab
        .addrs(&lab.a, "va")
        .iter()
        .filter_map(|e| e["local"].as_str().map(str::to_owned))
        .collect();
    for gone in ["192.0.2.100", "fd00::100", "fe80::100"] {
        assert!(!left.iter().any(|l| l == gone), "{gone} still in {left:?}");
    }
    assert!(left.iter().any(|l| l == "192.0.2.1"));
}

/// Waits for an `EVENT` of `dev` with `up`, skipping the others.
fn expect_event(mon: &Helper, dev: &str, up: bool, within: Duration) -> Duration {
    let start = Instant::now();
    let end = start + within;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        let line = mon
            .lines
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no event {dev} up={up} within {within:?}"));
        let f: Vec<&str> = line.split(' ').collect();
        if f.len() == 4 && f[0] == "EVENT" && f[2] == dev && f[3] == up.to_string() {
            return start.elapsed();
        }
    }
}

/// How long a link event may take to reach the monitor. `IFF_RUNNING`
/// follows the carrier through the kernel's linkwatch work, which runs at
/// most once a second for "non-urgent" devices (and a veth whose peer has
/// the same ifindex in the other namespace, as here, is one): a change
/// can wait up to a second in the kernel before any notification is sent,
/// then the helper process has to be scheduled, on a loaded machine too.
/// One second was the kernel's own worst case, and failed under load.
const LINK_EVENT: Duration = Duration::from_secs(5);

#[test]
fn link_state_follows_the_link_and_the_monitor_reports_it() {
    let Some(lab) = Lab::new("link") else { return };
    assert_eq!(lab.helper_lines(&lab.a, "link-up va"), ["UP true"]);
    let mon = lab.helper(&lab.a, "monitor 30");
    mon.expect("READY", LINE);

    run("ip", &["-n", &lab.a, "link", "set", "va", "down"]);
    expect_event(&mon, "va", false, LINK_EVENT);
    assert_eq!(lab.helper_lines(&lab.a, "link-up va"), ["UP false"]);

    run("ip", &["-n", &lab.a, "link", "set", "va", "up"]);
    expect_event(&mon, "va", true, LINK_EVENT);
    assert_eq!(lab.helper_lines(&lab.a, "link-up va"), ["UP true"]);

    // Carrier: the peer goes down, va stays administratively up.
    run("ip", &["-n", &lab.b, "link", "set", "vb", "down"]);
    expect_event(&mon, "va", false, LINK_EVENT);
    assert_eq!(lab.helper_lines(&lab.a, "link-up va"), ["UP false"]);
    run("ip", &["-n", &lab.b, "link", "set", "vb", "up"]);
    expect_event(&mon, "va", true, LINK_EVENT);
}

#[test]
fn macvlan_carries_the_virtual_mac() {
    let Some(lab) = Lab::new("mvl") else { return };
    let lines = lab.helper_lines(&lab.a, "macvlan va tndvm7 00:00:5e:00:01:07");
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0], lines[1], "reused, same index");

    let out = run("ip", &["-n", &lab.a, "-d", "-j", "link", "show", "tndvm7"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let link = &v[0];
    assert_eq!(lines[0], format!("INDEX {}", link["ifindex"]));
    assert_eq!(link["address"], "00:00:5e:00:01:07");
    assert_eq!(link["linkinfo"]["info_kind"], "macvlan");
    assert_eq!(link["linkinfo"]["info_data"]["mode"], "private");
    assert_eq!(link["inet6_addr_gen_mode"], "none", "{link}");
    assert!(
        link["flags"].as_array().unwrap().iter().any(|f| f == "UP"),
        "{link}"
    );
    // No link-local address of its own.
    std::thread::sleep(Duration::from_millis(200));
    assert!(lab.addrs(&lab.a, "tndvm7").is_empty());

    assert_eq!(
        lab.helper_lines(&lab.a, "macvlan va tndvm7 00:00:5e:00:01:08"),
        ["EXISTS"]
    );
    lab.helper_lines(&lab.a, "link-del tndvm7");
    let gone = Command::new("ip")
        .args(["-n", &lab.a, "link", "show", "tndvm7"])
        .output()
        .unwrap();
    assert!(!gone.status.success());
}

/// Deletes a file on drop.
struct TempFile(std::path::PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn packet_socket_sends_a_gratuitous_arp() {
    let Some(lab) = Lab::new("garp") else { return };
    let file = TempFile(std::env::temp_dir().join(format!("tnd-garp-{}.pcap", std::process::id())));
    let mut tcpdump = Command::new("ip")
        .args([
            "netns", "exec", &lab.b, "tcpdump", "-i", "vb", "-c", "1", "-U", "-w",
        ])
        .arg(&file.0)
        .arg("arp")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tcpdump (apt-get install tcpdump)");
    struct Kill<'a>(&'a mut Child);
    impl Drop for Kill<'_> {
        fn drop(&mut self) {
            if self.0.try_wait().ok().flatten().is_none() {
                let _ = self.0.kill();
            }
            let _ = self.0.wait();
        }
    }
    let mut stderr = BufReader::new(tcpdump.stderr.take().unwrap());
    let guard = Kill(&mut tcpdump);
    let mut first = String::new();
    stderr.read_line(&mut first).unwrap();
    assert!(first.contains("listening on vb"), "tcpdump: {first}");

    let mac = run("ip", &["-n", &lab.a, "-j", "link", "show", "va"]);
    let mac: serde_json::Value = serde_json::from_str(&mac).unwrap();
    let mac = mac[0]["address"].as_str().unwrap().to_owned();

    let sender = lab.helper(&lab.a, "garp va 192.0.2.100");
    let frame_line = sender.line(LINE);
    let frame = unhex(frame_line.strip_prefix("FRAME ").unwrap());
    assert_eq!(hex(&frame[6..12]), mac.replace(':', ""), "from va's MAC");

    let end = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = guard.0.try_wait().unwrap() {
            let mut rest = String::new();
            let _ = stderr.read_to_string(&mut rest);
            assert!(status.success(), "tcpdump: {rest}");
            break;
        }
        assert!(Instant::now() < end, "tcpdump captured nothing");
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(guard);
    sender.finish();

    let reader = pcap_file::pcap::PcapReader::new(std::fs::File::open(&file.0).unwrap()).unwrap();
    let mut reader = reader;
    let packet = reader.next_packet().unwrap().unwrap();
    assert_eq!(
        packet.data.as_ref(),
        frame.as_slice(),
        "captured byte for byte"
    );
}
