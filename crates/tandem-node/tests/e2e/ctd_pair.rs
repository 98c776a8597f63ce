//! A pair of one conntrackd unit and one tandemd unit, the way Linux
//! router pairs run conntrackd (VyOS "connsync": keepalived + conntrackd),
//! with tandemd in place of one of the two routers.
//!
//! ```text
//!   a eth0 192.0.2.1  --- br0 ---  b eth0 192.0.2.2      (VRID 10, 192.0.2.100)
//!   a eth1 198.51.100.1 -- br1 -- b eth1 198.51.100.2    (sync link, UDP 3780)
//! ```
//!
//! a runs conntrackd 1.4.7 (FT-FW, UDP unicast to b, in the foreground,
//! stopped by its PID) and, when asked, keepalived; b runs tandemd with
//! `[replication] format = "conntrackd-ftfw"` toward a. Both kernels
//! report connection-tracking events (`nf_conntrack_events=1`). The tests
//! fill a table with `conntrack -R` and compare `conntrack -L` views, and
//! read conntrackd's caches with `conntrackd -i` / `-e`.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use super::lab::{wait_for, Lab, Pid, Tool};

/// conntrackd's sync port (both ends).
pub(crate) const PORT: u16 = 3780;
/// The virtual address.
pub(crate) const VIP: &str = "192.0.2.100";

/// The pair; nothing started.
pub(crate) struct CtdPair {
    pub(crate) lab: Lab,
    /// conntrackd's configuration on a.
    pub(crate) ctd_conf: PathBuf,
    /// tandemd's configuration on b.
    pub(crate) td_conf: PathBuf,
    pub(crate) conntrackd: Option<Pid>,
    pub(crate) tandemd: Option<Pid>,
}

/// Why conntrackd cannot run here (Lab::new checks the rest).
fn no_conntrackd() -> Option<String> {
    let found = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
        .iter()
        .any(|d| std::path::Path::new(d).join("conntrackd").is_file())
        || std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("conntrackd").is_file()));
    (!found).then(|| "the test needs conntrackd (Debian package conntrackd)".to_owned())
}

fn conntrackd_conf(dir: &std::path::Path) -> String {
    let d = dir.display();
    // As VyOS writes it, in small: FT-FW over UDP unicast on the sync
    // link, the link's and the units' own addresses not replicated.
    format!(
        "Sync {{\n\tMode FTFW {{\n\t\tResendQueueSize 131072\n\t\tACKWindowSize 300\n\t\tDisableExternalCache Off\n\t}}\n\
         \tUDP Default {{\n\t\tIPv4_address 198.51.100.1\n\t\tIPv4_Destination_Address 198.51.100.2\n\
         \t\tPort {PORT}\n\t\tInterface eth1\n\t\tChecksum on\n\t}}\n}}\n\
         General {{\n\tHashSize 8192\n\tHashLimit 65536\n\tLogFile {d}/conntrackd-a.log\n\tSyslog off\n\
         \tLockFile {d}/conntrackd-a.lock\n\tUNIX {{\n\t\tPath {d}/conntrackd-a.ctl\n\t}}\n\
         \tNetlinkBufferSize 2097152\n\tNetlinkBufferSizeMaxGrowth 8388608\n\
         \tFilter From Userspace {{\n\t\tAddress Ignore {{\n\t\t\tIPv4_address 127.0.0.1\n\
         \t\t\tIPv4_address 192.0.2.1\n\t\t\tIPv4_address 192.0.2.2\n\t\t\tIPv4_address 192.0.2.100\n\
         \t\t\tIPv4_address 198.51.100.1\n\t\t\tIPv4_address 198.51.100.2\n\t\t\tIPv6_address ::1\n\
         \t\t}}\n\t}}\n}}\n"
    )
}

/// tandemd on b: one VRRPv3 instance (keepalived's default checksum form
/// is accepted by `auto`), conntrackd-ftfw toward a's conntrackd.
fn tandemd_conf(priority: u8) -> String {
    format!(
        "[[instance]]\nname = \"public\"\ninterface = \"eth0\"\nvrid = 10\npriority = {priority}\n\
         interval = 0.2\naddresses = [\"{VIP}/24\"]\n\n\
         [replication]\nnode = 2\ncluster = 7\nformat = \"conntrackd-ftfw\"\n\
         listen = \"198.51.100.2:{PORT}\"\npeer = \"198.51.100.1:{PORT}\"\ninterface = \"eth1\"\n"
    )
}

/// keepalived on a: VRRPv3, VRID 10, the VIP, adverts every 0.2 s.
pub(crate) fn keepalived_conf(id: &str, priority: u8) -> String {
    format!(
        "global_defs {{\n  router_id {id}\n}}\nvrrp_instance VI_10 {{\n  state BACKUP\n  interface eth0\n  \
         version 3\n  virtual_router_id 10\n  priority {priority}\n  advert_int 0.2\n  \
         virtual_ipaddress {{\n    {VIP}/24 dev eth0\n  }}\n}}\n"
    )
}

impl CtdPair {
    /// The topology and configurations; `None` (after saying why) where
    /// the test cannot run, a panic instead under `CI=true`.
    pub(crate) fn new(tag: &str, tandemd_priority: u8) -> Option<CtdPair> {
        if let Some(why) = no_conntrackd() {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("{why}, and CI=true: the end-to-end tests must run in CI");
            }
            eprintln!("skipped: {why}");
            return None;
        }
        let mut lab = Lab::new(tag, 2, &[Tool::Conntrack, Tool::Keepalived])?;
        let (a, b) = (lab.node(0).ns.clone(), lab.node(1).ns.clone());
        lab.add_segment(
            "br1",
            &[
                (&a, "qa", "eth1", [2, 0, 0, 0, 1, 1], "198.51.100.1/24"),
                (&b, "qb", "eth1", [2, 0, 0, 0, 1, 2], "198.51.100.2/24"),
            ],
        );
        for ns in [&a, &b] {
            lab.in_ns(
                ns,
                &["sysctl", "-qw", "net.netfilter.nf_conntrack_events=1"],
            );
        }
        let ctd_conf = lab.write("conntrackd-a.conf", &conntrackd_conf(&lab.dir));
        let td_conf = lab.write("tandemd-b.toml", &tandemd_conf(tandemd_priority));
        Some(CtdPair {
            lab,
            ctd_conf,
            td_conf,
            conntrackd: None,
            tandemd: None,
        })
    }

    /// Starts conntrackd on a (foreground) and waits until its control
    /// socket answers.
    pub(crate) fn start_conntrackd(&mut self) {
        let ns = self.lab.node(0).ns.clone();
        let conf = self.ctd_conf.to_str().unwrap().to_owned();
        self.conntrackd = Some(
            self.lab
                .spawn(&ns, "conntrackd", &["conntrackd", "-C", &conf]),
        );
        let up = wait_for(Duration::from_secs(10), || {
            self.ctl(&["-s", "network"]).is_some()
        });
        assert!(up.is_some(), "conntrackd never answers; {}", self.report());
    }

    /// Starts keepalived on a with this priority.
    pub(crate) fn start_keepalived(&mut self, priority: u8) -> Pid {
        let conf = keepalived_conf(&format!("{}-a", self.lab.id), priority);
        self.lab.keepalived(0, "keepalived", &conf)
    }

    /// Starts tandemd on b.
    pub(crate) fn start_tandemd(&mut self) {
        let conf = self.td_conf.to_str().unwrap().to_owned();
        self.tandemd = Some(self.lab.tandemd(1, "tandemd", &["--config", &conf]));
    }

    /// `conntrackd -C CONF ARGS` on a; its stdout, `None` if it failed.
    pub(crate) fn ctl(&self, args: &[&str]) -> Option<String> {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.lab.node(0).ns, "conntrackd", "-C"])
            .arg(&self.ctd_conf)
            .args(args)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `tandemd status --json`'s `replication` on b.
    pub(crate) fn replication(&self) -> Option<serde_json::Value> {
        self.lab.replication(1)
    }

    /// Loads `lines` (`conntrack -R` lines) into unit `k`'s kernel table.
    pub(crate) fn restore(&self, k: usize, name: &str, lines: &[String]) {
        let ns = self.lab.node(k).ns.clone();
        let path = self.lab.write(name, &(lines.join("\n") + "\n"));
        self.lab
            .in_ns(&ns, &["conntrack", "-R", path.to_str().unwrap()]);
    }

    /// `conntrack ARGS` (words) on unit `k`; its stdout.
    pub(crate) fn conntrack(&self, k: usize, args: &str) -> String {
        let mut v = vec!["conntrack"];
        v.extend(args.split_whitespace());
        self.lab.in_ns(&self.lab.node(k).ns, &v)
    }

    /// The test flows (an address in 203.0.113.0/24) of unit `k`'s kernel
    /// table, as `conntrack -L` shows them without the timeout and the
    /// reference count: tuples, protocol state, status flags and mark.
    pub(crate) fn table(&self, k: usize) -> BTreeSet<String> {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.lab.node(k).ns, "conntrack", "-L"])
            .output()
            .expect("conntrack -L");
        test_lines(&String::from_utf8_lossy(&out.stdout))
            .map(|l| {
                l.split_whitespace()
                    .enumerate()
                    .filter(|(i, w)| *i != 2 && !w.starts_with("use="))
                    .map(|(_, w)| w)
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    }

    /// The test flows of unit `k`'s kernel table by [`flow_key`].
    pub(crate) fn kernel_keys(&self, k: usize) -> BTreeSet<String> {
        self.table(k).iter().map(|l| flow_key(l)).collect()
    }

    /// The test flows of a conntrackd cache (`-i` internal, `-e`
    /// external) by [`flow_key`].
    pub(crate) fn cache_keys(&self, which: &str) -> BTreeSet<String> {
        test_lines(&self.ctl(&[which]).unwrap_or_default())
            .map(flow_key)
            .collect()
    }

    /// Every log, conntrackd's own log file included.
    pub(crate) fn report(&self) -> String {
        let log =
            std::fs::read_to_string(self.lab.dir.join("conntrackd-a.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(30).collect();
        let mut s = self.lab.report();
        s += "--- conntrackd-a.log:\n";
        for l in tail.iter().rev() {
            s += l;
            s += "\n";
        }
        s
    }
}

fn test_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines().filter(|l| l.contains("203.0.113."))
}

/// What `conntrack -L` and conntrackd's cache dumps all show of an
/// entry, in one form: the protocol, the TCP state, the original tuple
/// and the mark (`tcp ESTABLISHED src=.. dst=.. sport=.. dport=..
/// mark=5`). conntrackd's `-e` shows the reply tuple only of a NAT entry.
pub(crate) fn flow_key(line: &str) -> String {
    let states = [
        "SYN_SENT",
        "SYN_RECV",
        "ESTABLISHED",
        "FIN_WAIT",
        "CLOSE_WAIT",
        "LAST_ACK",
        "TIME_WAIT",
        "CLOSE",
    ];
    let mut words = line.split_whitespace();
    let mut key: Vec<&str> = words.next().into_iter().collect();
    let mut tuple = 0;
    for w in words {
        let is_tuple = ["src=", "dst=", "sport=", "dport="]
            .iter()
            .any(|p| w.starts_with(p));
        if is_tuple {
            tuple += 1;
        }
        if states.contains(&w) || (is_tuple && tuple <= 4) || w.starts_with("mark=") {
            key.push(w);
        }
    }
    key.join(" ")
}

/// The test's flows as `conntrack -R` lines: `tcp` TCP ESTABLISHED
/// (assured) to 192.0.2.50:80 with mark 5, `udp` UDP to 192.0.2.53:53 with
/// mark 6 (unreplied), and one TCP flow DNATed from 192.0.2.80:80 to
/// 198.51.100.100:8080 with mark 7; sources in 203.0.113.0/24, source
/// ports from `base`.
pub(crate) fn flows(base: u32, tcp: u32, udp: u32, dnat: bool) -> Vec<String> {
    let mut v: Vec<String> = (0..tcp)
        .map(|i| {
            format!(
                "-I -p tcp -s 203.0.113.{} -d 192.0.2.50 --sport {} --dport 80 --state ESTABLISHED -t 3600 -u SEEN_REPLY,ASSURED -m 5",
                1 + i % 100,
                base + i
            )
        })
        .collect();
    v.extend((0..udp).map(|i| {
        format!(
            "-I -p udp -s 203.0.113.{} -d 192.0.2.53 --sport {} --dport 53 -t 120 -m 6",
            101 + i % 50,
            base + i
        )
    }));
    if dnat {
        v.push(format!(
            "-I -p tcp -s 203.0.113.200 -d 192.0.2.80 --sport {base} --dport 80 --dst-nat 198.51.100.100:8080 --state ESTABLISHED -t 3600 -u SEEN_REPLY,ASSURED -m 7"
        ));
    }
    v
}
