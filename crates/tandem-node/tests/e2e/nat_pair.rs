//! The seed topology of replication's end-to-end tests: a NAT load
//! balancer router pair, keepalived's LVS-NAT layout.
//!
//! ```text
//!  client (ID-o) 192.0.2.254 --- br0 --- a eth0 192.0.2.1   b eth0 192.0.2.2
//!                                        |  VIP 192.0.2.100 (instance "public")
//!                                        a eth1 198.51.100.1  b eth1 198.51.100.2
//!  real server (ID-s) 198.51.100.10 -- br1 -+  gateway VIP 198.51.100.254 ("private")
//! ```
//!
//! - Both routers forward, with a strict firewall: `nf_conntrack_tcp_loose
//!   = 0` (a packet in the middle of a connection conntrack does not know
//!   is invalid) and a forward chain that accepts only established flows
//!   and new SYNs to the real server, and answers invalid packets with a
//!   TCP reset. `192.0.2.100:80` is destination-NATed to
//!   `198.51.100.10:8080`.
//! - The two instances are one sync group: the public VIP and the real
//!   server's gateway move together.
//! - With `replication`, `[replication]` runs over eth1 (198.51.100.1 <->
//!   .2, port 6974) with one key.
//! - `nf_conntrack_events = 1` in both routers.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::lab::{wait_for, Lab, Pid, Tool};
use super::sync_pair::in_netns;

/// The public virtual address and port.
pub(crate) const VIP: &str = "192.0.2.100";
/// The real server's service.
pub(crate) const REAL: &str = "198.51.100.10:8080";

/// The pair, its client and real server.
pub(crate) struct NatPair {
    pub(crate) lab: Lab,
    pub(crate) client: String,
    pub(crate) server: String,
    pub(crate) daemons: Vec<Option<Pid>>,
    pub(crate) confs: Vec<PathBuf>,
}

/// The firewall and NAT of a router.
const RULES: &str = r#"
table ip lb {
    chain nat_pre {
        type nat hook prerouting priority dstnat;
        ip daddr 192.0.2.100 tcp dport 80 dnat to 198.51.100.10:8080
    }
    chain filter_forward {
        type filter hook forward priority filter; policy drop;
        ct state established,related accept
        ct state new iifname "eth0" ip daddr 198.51.100.10 tcp dport 8080 tcp flags & (syn|ack) == syn accept
        ct state invalid meta l4proto tcp reject with tcp reset
    }
}
"#;

fn config(k: usize, key: &str, replication: bool) -> String {
    let (prio, own, peer) = if k == 0 { (200, 1, 2) } else { (100, 2, 1) };
    let mut c = format!(
        "[[instance]]\nname = \"public\"\ninterface = \"eth0\"\nvrid = 10\npriority = {prio}\n\
         interval = 0.1\naddresses = [\"192.0.2.100/24\"]\n\n\
         [[instance]]\nname = \"private\"\ninterface = \"eth1\"\nvrid = 11\npriority = {prio}\n\
         interval = 0.1\naddresses = [\"198.51.100.254/24\"]\n\n\
         [[sync_group]]\nname = \"lb\"\ninstances = [\"public\", \"private\"]\n"
    );
    if replication {
        c += &format!(
            "\n[replication]\nnode = {own}\ncluster = 7\nlisten = \"198.51.100.{own}:6974\"\n\
             peer = \"198.51.100.{peer}:6974\"\ninterface = \"eth1\"\nkey_file = \"{key}\"\n"
        );
    }
    c
}

impl NatPair {
    /// The topology, daemons not started; `None` (said why) when the test
    /// cannot run here, a panic under `CI=true`.
    pub(crate) fn new(tag: &str, replication: bool) -> Option<NatPair> {
        let mut lab = Lab::new(tag, 2, &[Tool::Nft, Tool::Conntrack])?;
        let client = lab.obs.clone();
        let server = lab.add_host("s");
        let (a, b) = (lab.node(0).ns.clone(), lab.node(1).ns.clone());
        lab.add_segment(
            "br1",
            &[
                (&a, "qa", "eth1", [2, 0, 0, 0, 1, 1], "198.51.100.1/24"),
                (&b, "qb", "eth1", [2, 0, 0, 0, 1, 2], "198.51.100.2/24"),
                (
                    &server,
                    "qs",
                    "eth0",
                    [2, 0, 0, 0, 1, 10],
                    "198.51.100.10/24",
                ),
            ],
        );
        lab.in_ns(
            &server,
            &["ip", "route", "add", "default", "via", "198.51.100.254"],
        );
        for ns in [&a, &b] {
            lab.in_ns(
                ns,
                &[
                    "sysctl",
                    "-qw",
                    "net.ipv4.ip_forward=1",
                    "net.netfilter.nf_conntrack_events=1",
                    "net.netfilter.nf_conntrack_tcp_loose=0",
                ],
            );
            let rules = lab.write(&format!("rules-{ns}.nft"), RULES);
            lab.in_ns(ns, &["nft", "-f", rules.to_str().unwrap()]);
        }
        let key = lab.replication_key();
        let confs = (0..2)
            .map(|k| lab.write(&format!("tandemd-{k}.toml"), &config(k, &key, replication)))
            .collect();
        Some(NatPair {
            lab,
            client,
            server,
            daemons: vec![None, None],
            confs,
        })
    }

    /// Starts tandemd on router `k`.
    pub(crate) fn start(&mut self, k: usize) {
        let conf = self.confs[k].to_str().unwrap().to_owned();
        let label = format!("tandemd-{k}");
        self.daemons[k] = Some(self.lab.tandemd(k, &label, &["--config", &conf]));
    }

    /// Waits up to `timeout` for router `k` to hold the public VIP (a
    /// killed router keeps its addresses, but its links are cut).
    pub(crate) fn wait_active(&self, k: usize, timeout: Duration) -> bool {
        wait_for(timeout, || self.lab.holders(VIP).contains(&k)).is_some()
    }

    /// Router `k`'s replication status, if it answers.
    pub(crate) fn replication(&self, k: usize) -> Option<serde_json::Value> {
        self.lab.replication(k)
    }

    /// The connection-tracking entries of router `k` for TCP port 80 of
    /// the VIP, as `conntrack -L` prints them.
    pub(crate) fn conntrack_lines(&self, k: usize) -> Vec<String> {
        let ns = self.lab.node(k).ns.clone();
        self.lab
            .in_ns(&ns, &["conntrack", "-L", "-p", "tcp", "--orig-dst", VIP])
            .lines()
            .filter(|l| l.contains("dport=80"))
            .map(str::to_owned)
            .collect()
    }

    /// Router `k` dies: every process in it killed (SIGKILL) and its links
    /// cut, as a power loss would.
    pub(crate) fn kill(&mut self, k: usize) {
        self.lab.crash(k);
        self.lab.port(k, false);
        self.lab.set_port(if k == 0 { "qa" } else { "qb" }, false);
    }

    /// The echo server on the real server.
    pub(crate) fn echo_server(&self) -> Echo {
        let listener = in_netns(&self.server, || {
            TcpListener::bind(REAL).expect("bind the real server")
        });
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        std::thread::spawn(move || {
            listener.set_nonblocking(true).unwrap();
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut c, _)) => {
                        let s2 = s.clone();
                        std::thread::spawn(move || {
                            let _ = c.set_read_timeout(Some(Duration::from_millis(200)));
                            let mut buf = [0u8; 4096];
                            while !s2.load(Ordering::Relaxed) {
                                match c.read(&mut buf) {
                                    Ok(0) => return,
                                    Ok(n) => {
                                        if c.write_all(&buf[..n]).is_err() {
                                            return;
                                        }
                                    }
                                    Err(e)
                                        if matches!(
                                            e.kind(),
                                            std::io::ErrorKind::WouldBlock
                                                | std::io::ErrorKind::TimedOut
                                        ) => {}
                                    Err(_) => return,
                                }
                            }
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Echo { stop }
    }

    /// A long-lived stream from the client through the VIP: one 8-byte
    /// message every 50 ms, each echoed back.
    pub(crate) fn stream(&self) -> Stream {
        let to: SocketAddr = format!("{VIP}:80").parse().unwrap();
        let sock = in_netns(&self.client, move || {
            TcpStream::connect_timeout(&to, Duration::from_secs(3))
        })
        .expect("the client connects through the VIP");
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let echoed = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(std::sync::Mutex::new(None::<String>));
        let stop = Arc::new(AtomicBool::new(false));
        let (e, f, s) = (echoed.clone(), failed.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut sock = sock;
            let mut sent = 0u64;
            let mut got = Vec::new();
            let mut next = Instant::now();
            let mut buf = [0u8; 256];
            while !s.load(Ordering::Relaxed) {
                if Instant::now() >= next {
                    sent += 1;
                    if let Err(err) = sock.write_all(&sent.to_be_bytes()) {
                        *f.lock().unwrap() = Some(format!("write: {err}"));
                        return;
                    }
                    next += Duration::from_millis(50);
                }
                match sock.read(&mut buf) {
                    Ok(0) => {
                        *f.lock().unwrap() = Some("the connection was closed".into());
                        return;
                    }
                    Ok(n) => {
                        got.extend_from_slice(&buf[..n]);
                        e.store((got.len() / 8) as u64, Ordering::Relaxed);
                    }
                    Err(err)
                        if matches!(
                            err.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) => {}
                    Err(err) => {
                        *f.lock().unwrap() = Some(format!("read: {err}"));
                        return;
                    }
                }
            }
            // Every echo in order: nothing lost, nothing repeated.
            for (i, c) in got.chunks_exact(8).enumerate() {
                let v = u64::from_be_bytes(c.try_into().unwrap());
                if v != i as u64 + 1 {
                    *f.lock().unwrap() = Some(format!("echo {} is {v}", i + 1));
                    return;
                }
            }
        });
        Stream {
            echoed,
            failed,
            stop,
            thread: Some(thread),
        }
    }
}

/// The echo server; stops when dropped.
pub(crate) struct Echo {
    stop: Arc<AtomicBool>,
}

impl Drop for Echo {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The client's stream.
pub(crate) struct Stream {
    echoed: Arc<AtomicU64>,
    failed: Arc<std::sync::Mutex<Option<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Stream {
    /// Messages echoed so far.
    pub(crate) fn echoed(&self) -> u64 {
        self.echoed.load(Ordering::Relaxed)
    }

    /// Why it broke, if it did.
    pub(crate) fn failure(&self) -> Option<String> {
        self.failed.lock().unwrap().clone()
    }

    /// Waits up to `timeout` for `n` more echoes than now; false if the
    /// stream broke or stalled.
    pub(crate) fn advances(&self, n: u64, timeout: Duration) -> bool {
        let want = self.echoed() + n;
        wait_for(timeout, || {
            self.echoed() >= want || self.failure().is_some()
        })
        .is_some()
            && self.failure().is_none()
            && self.echoed() >= want
    }

    /// Stops it; why it broke, if it did.
    pub(crate) fn finish(mut self) -> Option<String> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.failure()
    }
}
