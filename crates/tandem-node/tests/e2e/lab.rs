//! The end-to-end tests' lab: an Ethernet segment made of network
//! namespaces, daemons started inside them, captures on an observer, and
//! bounded waits on the nodes' addresses. See docs/testing.md.
//!
//! Layout of one lab (`ID` = `te-<test tag>-<pid>`, unique per test):
//!
//! ```text
//!   ID-a (eth0) --+
//!   ID-b (eth0) --+-- br0 in ID-sw (STP, multicast snooping and MAC learning
//!   ID-c (eth0) --+    off: every frame reaches every port)
//!   ID-o (eth0) --+    the observer, running tcpdump
//! ```
//!
//! Node n (a = 1, b = 2, c = 3) has MAC 02:00:00:00:00:0n, 192.0.2.n/24
//! and fd00::n/64; the observer 02:00:00:00:00:fe, 192.0.2.254/24,
//! fd00::fe/64. Duplicate address detection, router solicitations and
//! router advertisements are off in every node before any address is
//! added, so link-local addresses are usable at once.
//!
//! Everything the lab starts is remembered by PID; dropping the lab stops
//! those processes (SIGTERM, then SIGKILL after a grace period), then any
//! process their children left inside the lab's own namespaces (keepalived
//! forks), then deletes the namespaces. Run logs and captures go to a
//! directory under the system temp dir (`tandem-<ID>`), kept after a
//! failure (and named in the panic message) or when `TANDEM_E2E_KEEP` is
//! set.
//!
//! `TANDEM_E2E_TANDEMD=/path/to/tandemd` runs the daemons the lab starts
//! from another build (an older one, to see a test fail without a fix);
//! the client commands the tests run stay those of this build.

use std::fs::File;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tandem_node::capture::Capture;
use tandem_node::decode::{self, Decoded, Options};

/// One node of the segment.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    /// The namespace.
    pub(crate) ns: String,
    /// Its port on the bridge, in the switch namespace.
    pub(crate) port: String,
    /// 192.0.2.n
    pub(crate) v4: String,
    /// 02:00:00:00:00:0n
    pub(crate) mac: [u8; 6],
}

/// A process the lab started.
pub(crate) struct Proc {
    /// What it is, for messages.
    pub(crate) label: String,
    child: Child,
    /// Its stdout + stderr.
    pub(crate) log: PathBuf,
    /// The namespace it runs in.
    pub(crate) ns: String,
    /// The read end of its stderr, when that is a pipe nobody reads.
    _unread: Option<ChildStderr>,
}

impl Proc {
    /// The PID.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its log so far.
    pub(crate) fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

/// Handle to a started process: its index in the lab.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pid(usize);

/// What a test needs besides root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tool {
    /// keepalived
    Keepalived,
    /// ucarp
    Ucarp,
    /// ping, on the observer
    Ping,
    /// nft (nftables): NAT and firewall rules, loss on a link
    #[allow(dead_code)] // e2e_replication.rs only
    Nft,
    /// conntrack (conntrack-tools): the tests' independent view of a
    /// connection-tracking table
    #[allow(dead_code)] // e2e_replication.rs only
    Conntrack,
}

/// The lab; see the module docs.
pub(crate) struct Lab {
    /// `te-<tag>-<pid>`
    pub(crate) id: String,
    /// The switch namespace.
    pub(crate) sw: String,
    /// The nodes a, b (, c).
    pub(crate) nodes: Vec<Node>,
    /// The observer's namespace.
    pub(crate) obs: String,
    /// Scratch directory: logs, captures, configurations, state dirs.
    pub(crate) dir: PathBuf,
    procs: Vec<Proc>,
    capture: Option<(Pid, PathBuf)>,
    namespaces: Vec<String>,
}

/// The tandemd binary under test.
pub(crate) const TANDEMD: &str = env!("CARGO_BIN_EXE_tandemd");

/// The tandemd the lab's daemons run: `TANDEM_E2E_TANDEMD` if set, else
/// [`TANDEMD`].
pub(crate) fn tandemd_under_test() -> &'static str {
    static BIN: OnceLock<String> = OnceLock::new();
    BIN.get_or_init(|| std::env::var("TANDEM_E2E_TANDEMD").unwrap_or_else(|_| TANDEMD.to_owned()))
}

/// The flags of the tests' usual pair: VRRPv3 on eth0, VRID 10,
/// 192.0.2.100/24, adverts every 0.1 s, and `--priority prio` last (a
/// caller's extra flags follow).
#[allow(dead_code)] // not e2e.rs
pub(crate) fn pair_flags(prio: &str) -> [&str; 10] {
    [
        "--interface",
        "eth0",
        "--vrid",
        "10",
        "--address",
        "192.0.2.100/24",
        "--interval",
        "0.1",
        "--priority",
        prio,
    ]
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

fn have(cmd: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(cmd).is_file()))
        .unwrap_or(false)
        || ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
            .iter()
            .any(|d| Path::new(d).join(cmd).is_file())
}

/// Why this test cannot run here, if it cannot.
fn blocker(tools: &[Tool]) -> Option<String> {
    if !is_root() {
        return Some(
            "the end-to-end tests need root (network namespaces, raw sockets, netlink)".into(),
        );
    }
    let mut need = vec!["ip", "bridge", "tcpdump"];
    for t in tools {
        need.push(match t {
            Tool::Keepalived => "keepalived",
            Tool::Ucarp => "ucarp",
            Tool::Ping => "ping",
            Tool::Nft => "nft",
            Tool::Conntrack => "conntrack",
        });
    }
    let missing: Vec<&str> = need.into_iter().filter(|c| !have(c)).collect();
    (!missing.is_empty()).then(|| {
        format!(
            "the end-to-end test needs {} (Debian packages: keepalived ucarp tcpdump iproute2 iputils-ping nftables conntrack)",
            missing.join(", ")
        )
    })
}

/// Runs a command, panicking with its stderr if it fails.
pub(crate) fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn nsx(ns: &str, args: &[&str]) -> String {
    let mut all = vec!["netns", "exec", ns];
    all.extend_from_slice(args);
    run("ip", &all)
}

fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .stderr(Stdio::null())
        .status();
}

fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state is the field after the parenthesised command name.
        Ok(s) => s
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|st| st != "Z"),
        Err(_) => false,
    }
}

/// Polls `cond` every 50 ms until it holds or `timeout` passes; returns
/// how long it took.
pub(crate) fn wait_for(timeout: Duration, mut cond: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    loop {
        if cond() {
            return Some(start.elapsed());
        }
        if start.elapsed() >= timeout {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Lab {
    /// A lab with `n` nodes (2 or 3) and the observer, or `None` after
    /// saying why when the test cannot run here (not root, a tool
    /// missing). Under `CI=true` it panics instead: CI never skips.
    pub(crate) fn new(tag: &str, n: usize, tools: &[Tool]) -> Option<Lab> {
        if let Some(why) = blocker(tools) {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("{why}, and CI=true: the end-to-end tests must run in CI");
            }
            eprintln!("skipped: {why}");
            return None;
        }
        let id = format!("te-{tag}-{}", std::process::id());
        let dir = std::env::temp_dir().join(format!("tandem-{id}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut lab = Lab {
            sw: format!("{id}-sw"),
            obs: format!("{id}-o"),
            id,
            nodes: Vec::new(),
            dir,
            procs: Vec::new(),
            capture: None,
            namespaces: Vec::new(),
        };
        lab.build(n);
        Some(lab)
    }

    fn add_ns(&mut self, ns: &str) {
        // A namespace left by an earlier run of the same PID: remove it.
        let _ = Command::new("ip")
            .args(["netns", "del", ns])
            .stderr(Stdio::null())
            .status();
        run("ip", &["netns", "add", ns]);
        self.namespaces.push(ns.to_owned());
        run("ip", &["-n", ns, "link", "set", "lo", "up"]);
    }

    fn build(&mut self, n: usize) {
        let sw = self.sw.clone();
        self.add_ns(&sw);
        nsx(
            &sw,
            &[
                "sysctl",
                "-qw",
                "net.ipv6.conf.all.disable_ipv6=1",
                "net.ipv6.conf.default.disable_ipv6=1",
            ],
        );
        run(
            "ip",
            &[
                "-n",
                &sw,
                "link",
                "add",
                "br0",
                "type",
                "bridge",
                "mcast_snooping",
                "0",
                "stp_state",
                "0",
                "forward_delay",
                "0",
            ],
        );
        run("ip", &["-n", &sw, "link", "set", "br0", "up"]);
        let mut members: Vec<(String, String, u8, String, String)> = Vec::new();
        for (k, letter) in ["a", "b", "c"].iter().take(n).enumerate() {
            let host = k as u8 + 1;
            members.push((
                format!("{}-{letter}", self.id),
                format!("p{letter}"),
                host,
                format!("192.0.2.{host}"),
                format!("fd00::{host}"),
            ));
        }
        members.push((
            self.obs.clone(),
            "po".into(),
            0xfe,
            "192.0.2.254".into(),
            "fd00::fe".into(),
        ));
        for (ns, port, host, v4, v6) in &members {
            self.add_ns(ns);
            nsx(
                ns,
                &[
                    "sysctl",
                    "-qw",
                    "net.ipv6.conf.all.accept_dad=0",
                    "net.ipv6.conf.default.accept_dad=0",
                    "net.ipv6.conf.all.router_solicitations=0",
                    "net.ipv6.conf.default.router_solicitations=0",
                    "net.ipv6.conf.all.accept_ra=0",
                    "net.ipv6.conf.default.accept_ra=0",
                ],
            );
            // Made in the switch namespace, one end moved straight into the node.
            run(
                "ip",
                &[
                    "-n", &sw, "link", "add", port, "type", "veth", "peer", "name", "eth0",
                    "netns", ns,
                ],
            );
            run("ip", &["-n", &sw, "link", "set", port, "master", "br0"]);
            run(
                "bridge",
                &[
                    "-n",
                    &sw,
                    "link",
                    "set",
                    "dev",
                    port,
                    "learning",
                    "off",
                    "flood",
                    "on",
                    "mcast_flood",
                    "on",
                ],
            );
            run("ip", &["-n", &sw, "link", "set", port, "up"]);
            let mac = [2, 0, 0, 0, 0, *host];
            let mac_s = mac_string(mac);
            run("ip", &["-n", ns, "link", "set", "eth0", "address", &mac_s]);
            run("ip", &["-n", ns, "link", "set", "eth0", "up"]);
            run(
                "ip",
                &["-n", ns, "addr", "add", &format!("{v4}/24"), "dev", "eth0"],
            );
            run(
                "ip",
                &[
                    "-n",
                    ns,
                    "addr",
                    "add",
                    &format!("{v6}/64"),
                    "dev",
                    "eth0",
                    "nodad",
                ],
            );
            if ns != &self.obs {
                self.nodes.push(Node {
                    ns: ns.clone(),
                    port: port.clone(),
                    v4: v4.clone(),
                    mac,
                });
            }
        }
        // Every node's link-local address present and not tentative.
        for (ns, ..) in &members {
            let ok = wait_for(Duration::from_secs(5), || {
                addr_entries(ns).iter().any(|a| {
                    a["family"] == "inet6" && a["scope"] == "link" && a.get("tentative").is_none()
                })
            });
            assert!(ok.is_some(), "{ns}: no usable link-local address");
        }
    }

    /// A namespace of the lab's own (`ID-suffix`, loopback up), removed
    /// with the lab.
    #[allow(dead_code)] // e2e_replication.rs only
    pub(crate) fn add_host(&mut self, suffix: &str) -> String {
        let ns = format!("{}-{suffix}", self.id);
        self.add_ns(&ns);
        ns
    }

    /// A second segment: bridge `bridge` in the switch namespace, and for
    /// each `(ns, port, ifname, mac, cidr)` a veth from port `port` on it
    /// to `ifname` in `ns`, with that MAC and address.
    #[allow(dead_code)] // e2e_replication.rs only
    pub(crate) fn add_segment(
        &mut self,
        bridge: &str,
        links: &[(&str, &str, &str, [u8; 6], &str)],
    ) {
        let sw = self.sw.clone();
        run(
            "ip",
            &[
                "-n",
                &sw,
                "link",
                "add",
                bridge,
                "type",
                "bridge",
                "mcast_snooping",
                "0",
                "stp_state",
                "0",
                "forward_delay",
                "0",
            ],
        );
        run("ip", &["-n", &sw, "link", "set", bridge, "up"]);
        for (ns, port, ifname, mac, cidr) in links {
            run(
                "ip",
                &[
                    "-n", &sw, "link", "add", port, "type", "veth", "peer", "name", ifname,
                    "netns", ns,
                ],
            );
            run("ip", &["-n", &sw, "link", "set", port, "master", bridge]);
            run("ip", &["-n", &sw, "link", "set", port, "up"]);
            run(
                "ip",
                &[
                    "-n",
                    ns,
                    "link",
                    "set",
                    ifname,
                    "address",
                    &mac_string(*mac),
                ],
            );
            run("ip", &["-n", ns, "link", "set", ifname, "up"]);
            run("ip", &["-n", ns, "addr", "add", cidr, "dev", ifname]);
        }
    }

    /// A replication key (`tandemd replication keygen`) in the scratch
    /// directory; its path.
    #[allow(dead_code)] // the replication tests only
    pub(crate) fn replication_key(&self) -> String {
        let key = self.dir.join("replication.key");
        let out = Command::new(TANDEMD)
            .args(["replication", "keygen"])
            .arg(&key)
            .output()
            .expect("tandemd replication keygen");
        assert!(
            out.status.success(),
            "keygen: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        key.to_str().unwrap().to_owned()
    }

    /// `replication` of `tandemd status --json` at control socket `sock`,
    /// if the node answers.
    #[allow(dead_code)] // the replication tests only
    pub(crate) fn replication_at(&self, sock: &str) -> Option<serde_json::Value> {
        let out = Command::new(TANDEMD)
            .args(["status", "--json", "--control-socket", sock])
            .output()
            .ok()?;
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        v.get("replication").cloned()
    }

    /// `replication` of node `k`'s tandemd (started by [`Lab::tandemd`]).
    #[allow(dead_code)] // the replication tests only
    pub(crate) fn replication(&self, k: usize) -> Option<serde_json::Value> {
        self.replication_at(&format!("{}/tandemd.sock", self.state_dir(k).display()))
    }

    /// Sets a bridge port of any segment up or down.
    #[allow(dead_code)] // e2e_replication.rs only
    pub(crate) fn set_port(&self, port: &str, up: bool) {
        run(
            "ip",
            &[
                "-n",
                &self.sw,
                "link",
                "set",
                port,
                if up { "up" } else { "down" },
            ],
        );
    }

    /// Runs `args` inside `ns`; its stdout (panics if it fails).
    #[allow(dead_code)] // e2e_replication.rs only
    pub(crate) fn in_ns(&self, ns: &str, args: &[&str]) -> String {
        nsx(ns, args)
    }

    /// Node `k` (0 = a).
    pub(crate) fn node(&self, k: usize) -> &Node {
        &self.nodes[k]
    }

    /// The state directory for a tandemd on node `k`.
    pub(crate) fn state_dir(&self, k: usize) -> PathBuf {
        self.dir.join(format!("state-{k}"))
    }

    /// Writes `text` to a file of the scratch directory; returns its path.
    pub(crate) fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// Starts `cmd` inside `ns` (`ip netns exec` execs it, so the PID is
    /// the command's), its output going to `<label>.log`.
    pub(crate) fn spawn(&mut self, ns: &str, label: &str, cmd: &[&str]) -> Pid {
        self.spawn_io(ns, label, cmd, false)
    }

    /// [`Lab::spawn`]; with `unread_stderr`, its stderr is a pipe whose
    /// read end the lab holds open and never reads (so it fills, 64 KiB,
    /// and writes to it block), and only stdout goes to the log.
    fn spawn_io(&mut self, ns: &str, label: &str, cmd: &[&str], unread_stderr: bool) -> Pid {
        let n = self.procs.iter().filter(|p| p.label == label).count();
        let log = self.dir.join(if n == 0 {
            format!("{label}.log")
        } else {
            format!("{label}.{n}.log")
        });
        let out = File::create(&log).unwrap();
        let err = if unread_stderr {
            Stdio::piped()
        } else {
            Stdio::from(out.try_clone().unwrap())
        };
        let mut child = Command::new("ip")
            .args(["netns", "exec", ns])
            .args(cmd)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {label}: {e}"));
        let unread = child.stderr.take();
        self.procs.push(Proc {
            label: label.to_owned(),
            child,
            log,
            ns: ns.to_owned(),
            _unread: unread,
        });
        Pid(self.procs.len() - 1)
    }

    /// Starts tandemd ([`tandemd_under_test`]) on node `k` with `args`
    /// after `run --state-dir DIR --control-socket DIR/tandemd.sock`.
    pub(crate) fn tandemd(&mut self, k: usize, label: &str, args: &[&str]) -> Pid {
        self.tandemd_io(k, label, args, false)
    }

    /// [`Lab::tandemd`] with its stderr (its log) a pipe that nobody
    /// reads: a log reader that has stopped.
    #[allow(dead_code)] // e2e_hostile.rs only
    pub(crate) fn tandemd_unread_stderr(&mut self, k: usize, label: &str, args: &[&str]) -> Pid {
        self.tandemd_io(k, label, args, true)
    }

    fn tandemd_io(&mut self, k: usize, label: &str, args: &[&str], unread_stderr: bool) -> Pid {
        let ns = self.nodes[k].ns.clone();
        let state = self.state_dir(k);
        let state = state.to_str().unwrap().to_owned();
        // Every node of the lab runs on this one host: each needs its own
        // control socket (a Unix socket path is not per namespace).
        let control = format!("{state}/tandemd.sock");
        let mut cmd = vec![
            tandemd_under_test(),
            "run",
            "--state-dir",
            &state,
            "--control-socket",
            &control,
        ];
        cmd.extend_from_slice(args);
        self.spawn_io(&ns, label, &cmd, unread_stderr)
    }

    /// Starts keepalived (VRRP only, foreground, logging to the console)
    /// on node `k` with the configuration `conf`.
    pub(crate) fn keepalived(&mut self, k: usize, label: &str, conf: &str) -> Pid {
        let ns = self.nodes[k].ns.clone();
        let n = self.procs.iter().filter(|p| p.label == label).count();
        let base = self.dir.join(format!("{label}.{n}"));
        let conf_path = self.write(&format!("{label}.{n}.conf"), conf);
        let pid = format!("{}.pid", base.display());
        let vrrp_pid = format!("{}-vrrp.pid", base.display());
        self.spawn(
            &ns,
            label,
            &[
                "keepalived",
                "-n",
                "-l",
                "-D",
                "-G",
                "-P",
                "-f",
                conf_path.to_str().unwrap(),
                "-p",
                &pid,
                "-r",
                &vrrp_pid,
            ],
        )
    }

    /// The process behind a handle.
    pub(crate) fn proc(&self, p: Pid) -> &Proc {
        &self.procs[p.0]
    }

    /// Its log so far.
    pub(crate) fn log(&self, p: Pid) -> String {
        self.procs[p.0].log_text()
    }

    /// Sends `sig` (a name: TERM, INT, KILL) to one started process.
    pub(crate) fn signal(&mut self, p: Pid, sig: &str) {
        let pr = &mut self.procs[p.0];
        if pr.running() {
            signal(pr.pid(), sig);
        }
    }

    /// Waits up to `timeout` for a process to exit; true if it did.
    pub(crate) fn wait_exit(&mut self, p: Pid, timeout: Duration) -> bool {
        let pr = &mut self.procs[p.0];
        wait_for(timeout, || !pr.running()).is_some()
    }

    /// A crash of node `k`: every process in its namespace is frozen
    /// (SIGSTOP, so none can react, as keepalived's VRRP child would to its
    /// parent's death) and then killed (SIGKILL). Their addresses stay.
    pub(crate) fn crash(&mut self, k: usize) {
        let ns = self.nodes[k].ns.clone();
        let pids = ns_pids(&ns);
        for p in &pids {
            signal(*p, "STOP");
        }
        for p in &pids {
            signal(*p, "KILL");
        }
        for pr in self.procs.iter_mut().filter(|pr| pr.ns == ns) {
            let _ = pr.child.wait();
        }
        let gone = wait_for(Duration::from_secs(5), || pids.iter().all(|p| !alive(*p)));
        assert!(gone.is_some(), "{ns}: processes survive SIGKILL");
    }

    /// Starts tcpdump on the observer, writing `name` in the scratch
    /// directory, and waits until it listens.
    pub(crate) fn start_capture(&mut self, name: &str) {
        let path = self.dir.join(name);
        let obs = self.obs.clone();
        let p = self.spawn(
            &obs,
            "tcpdump",
            &[
                "tcpdump",
                "-i",
                "eth0",
                "-n",
                "-U",
                "--immediate-mode",
                "-s",
                "0",
                "-w",
                path.to_str().unwrap(),
                "arp or ip proto 112 or ip6 proto 112 or icmp6",
            ],
        );
        let ok = wait_for(Duration::from_secs(10), || {
            self.log(p).contains("listening on")
        });
        assert!(ok.is_some(), "tcpdump did not start: {}", self.log(p));
        self.capture = Some((p, path));
    }

    /// Stops the capture (SIGINT, so the file is complete) and returns its
    /// frames.
    pub(crate) fn stop_capture(&mut self) -> Vec<Vec<u8>> {
        let (p, path) = self.capture.take().expect("no capture running");
        // Frames sent just now reach the file.
        std::thread::sleep(Duration::from_millis(200));
        self.signal(p, "INT");
        assert!(self.wait_exit(p, Duration::from_secs(5)), "tcpdump hangs");
        let cap = Capture::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        cap.frames()
            .unwrap()
            .map_while(Result::ok)
            .map(|f| f.data.to_vec())
            .collect()
    }

    /// The addresses on node `k`'s interfaces (every interface).
    pub(crate) fn addrs(&self, k: usize) -> Vec<IpAddr> {
        addr_entries(&self.nodes[k].ns)
            .iter()
            .filter_map(|a| a["local"].as_str()?.parse().ok())
            .collect()
    }

    /// Whether node `k` carries `addr`.
    pub(crate) fn has(&self, k: usize, addr: &str) -> bool {
        let a: IpAddr = addr.parse().unwrap();
        self.addrs(k).contains(&a)
    }

    /// The nodes that carry `addr`.
    pub(crate) fn holders(&self, addr: &str) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|k| self.has(*k, addr))
            .collect()
    }

    /// Waits until `addr` is on node `k` and on no other node (but those in
    /// `ignore`, e.g. a crashed node's leftovers); returns how long it took.
    pub(crate) fn wait_only(
        &self,
        k: usize,
        addr: &str,
        ignore: &[usize],
        timeout: Duration,
    ) -> Duration {
        wait_for(timeout, || {
            (0..self.nodes.len())
                .filter(|n| !ignore.contains(n))
                .all(|n| self.has(n, addr) == (n == k))
        })
        .unwrap_or_else(|| {
            panic!(
                "{addr} not on node {} alone within {timeout:?} (holders {:?}); {}",
                k,
                self.holders(addr),
                self.report()
            )
        })
    }

    /// Checks that `addr` stays on node `k` alone for `hold`.
    pub(crate) fn hold_only(&self, k: usize, addr: &str, hold: Duration) {
        let end = Instant::now() + hold;
        while Instant::now() < end {
            let h = self.holders(addr);
            assert_eq!(
                h,
                vec![k],
                "{addr} should stay on node {k} alone; {}",
                self.report()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Changes the link state of node `k`'s bridge port.
    pub(crate) fn port(&self, k: usize, up: bool) {
        run(
            "ip",
            &[
                "-n",
                &self.sw,
                "link",
                "set",
                &self.nodes[k].port,
                if up { "up" } else { "down" },
            ],
        );
    }

    /// Every process's log, for failure messages.
    pub(crate) fn report(&self) -> String {
        let mut s = format!("scratch directory {}\n", self.dir.display());
        for (k, n) in self.nodes.iter().enumerate() {
            s += &format!("node {k} ({}) addresses: {:?}\n", n.ns, self.addrs(k));
        }
        for p in &self.procs {
            if p.label == "tcpdump" {
                continue;
            }
            let text = p.log_text();
            let tail: Vec<&str> = text.lines().rev().take(40).collect();
            s += &format!("--- {} (pid {}):\n", p.label, p.pid());
            for l in tail.iter().rev() {
                s += l;
                s += "\n";
            }
        }
        s
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for p in &mut self.procs {
            if p.running() {
                signal(p.pid(), "TERM");
            }
        }
        let end = Instant::now() + Duration::from_secs(3);
        for p in &mut self.procs {
            while p.running() && Instant::now() < end {
                std::thread::sleep(Duration::from_millis(20));
            }
            if p.running() {
                let _ = p.child.kill();
            }
            let _ = p.child.wait();
        }
        // Children of ours left in our own namespaces (keepalived's VRRP
        // process): by PID, then the namespaces.
        for ns in &self.namespaces {
            for pid in ns_pids(ns) {
                signal(pid, "KILL");
            }
        }
        for ns in self.namespaces.iter().rev() {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        if !std::thread::panicking() && std::env::var_os("TANDEM_E2E_KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn ns_pids(ns: &str) -> Vec<u32> {
    Command::new("ip")
        .args(["netns", "pids", ns])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

fn addr_entries(ns: &str) -> Vec<serde_json::Value> {
    let out = Command::new("ip")
        .args(["-n", ns, "-j", "addr", "show"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_default();
    v.as_array()
        .into_iter()
        .flatten()
        .flat_map(|l| l["addr_info"].as_array().cloned().unwrap_or_default())
        .collect()
}

/// `02:00:00:00:00:0a`
pub(crate) fn mac_string(m: [u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Gratuitous ARPs in `frames` for `addr`, by sender MAC: ARP (ethertype
/// 0x0806) with sender and target protocol address both `addr`.
pub(crate) fn garp_senders(frames: &[Vec<u8>], addr: &str) -> Vec<[u8; 6]> {
    let a: std::net::Ipv4Addr = addr.parse().unwrap();
    let a = a.octets();
    frames
        .iter()
        .filter(|f| f.len() >= 42 && f[12..14] == [0x08, 0x06])
        .filter(|f| f[28..32] == a && f[38..42] == a)
        .map(|f| f[22..28].try_into().unwrap())
        .collect()
}

/// Unsolicited neighbour advertisements in `frames` for `addr`, by
/// Ethernet source: ICMPv6 type 136 whose target is `addr`.
pub(crate) fn na_senders(frames: &[Vec<u8>], addr: &str) -> Vec<[u8; 6]> {
    let a: std::net::Ipv6Addr = addr.parse().unwrap();
    let a = a.octets();
    frames
        .iter()
        .filter(|f| f.len() >= 78 && f[12..14] == [0x86, 0xdd] && f[20] == 58)
        .filter(|f| f[54] == 136 && f[62..78] == a)
        .map(|f| f[6..12].try_into().unwrap())
        .collect()
}

/// The protocol-112 packets in `frames`, decoded by `tandemd decode`'s
/// decoder (with `password` for CARP / AH checks).
/// Checks a unicast exchange in `ads`: tandemd (`tandemd`, an address)
/// and the peer (`peer`, named `peer_name` in messages) each sent adverts
/// to the other, and no advert went to a multicast group.
pub(crate) fn assert_unicast_both_ways(
    ads: &[Decoded],
    tandemd: &str,
    peer: &str,
    peer_name: &str,
) {
    let unicast = |src: &str, dst: &str| {
        ads.iter().any(|d| {
            d.ip.is_some_and(|ip| ip.src.to_string() == src && ip.dst.to_string() == dst)
        })
    };
    assert!(unicast(tandemd, peer), "no unicast advert from tandemd");
    assert!(unicast(peer, tandemd), "no unicast advert from {peer_name}");
    assert!(
        !ads.iter()
            .any(|d| d.ip.is_some_and(|ip| ip.dst.is_multicast())),
        "a multicast advert was sent"
    );
}

pub(crate) fn adverts(frames: &[Vec<u8>], opts: &Options) -> Vec<Decoded> {
    frames
        .iter()
        .enumerate()
        .filter_map(|(i, f)| {
            let frame = tandem_node::capture::Frame {
                number: i as u64 + 1,
                link_type: tandem_node::capture::LinkType::Ethernet,
                data: std::borrow::Cow::Borrowed(&f[..]),
            };
            decode::decode_frame(&frame, opts)
        })
        .collect()
}
