//! The topology of the sticky proxy's end-to-end tests: two units each
//! running the example reverse proxy (examples/sticky_proxy, a whole
//! Tandem node embedded), in front of two real servers.
//!
//! ```text
//!  clients (ID-o) 192.0.2.201-.203 -- br0 -- a eth0 192.0.2.1   b eth0 192.0.2.2
//!                                           |  VIP 192.0.2.100 (instance "web")
//!                                           a eth1 198.51.100.1  b eth1 198.51.100.2
//!  real servers (ID-s) 198.51.100.10:8080 (0), .11:8080 (1) -- br1 -+
//! ```
//!
//! - Each unit's proxy listens on 0.0.0.0:80 (the VIP is only on the
//!   Active) with the two real servers in the same order, `--verbose`
//!   (one line per request, and the table's sizes), and the node's control
//!   socket in the scratch directory.
//! - With `[replication]` (node 1 and 2, cluster 7, over eth1, port 6974,
//!   `conntrack = false`: only the proxy's persistence table), both units
//!   use the one key `tandemd replication keygen` wrote, which also keys
//!   the cookie hashes.
//! - The real servers are threads of the test process (sockets made in
//!   their namespace): each answers every request with `real server N`.
//!
//! The proxy binary is `target/<profile>/examples/sticky_proxy`, next to
//! the tandemd under test: `cargo build -p tandem-node --examples` before
//! the tests (examples get no `CARGO_BIN_EXE_`, so the tests cannot make
//! Cargo build it).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::lab::{self, wait_for, Lab, TANDEMD};
use super::sync_pair::in_netns;

/// The virtual address the clients use.
pub(crate) const VIP: &str = "192.0.2.100";
/// The real servers, in the proxies' order.
pub(crate) const REAL: [&str; 2] = ["198.51.100.10:8080", "198.51.100.11:8080"];
/// The clients' addresses (on the observer).
pub(crate) const CLIENTS: [&str; 3] = ["192.0.2.201", "192.0.2.202", "192.0.2.203"];

/// The example proxy next to the tandemd under test; panics, saying how
/// to build it, when it is not there.
pub(crate) fn sticky_proxy_bin() -> String {
    let bin = std::path::Path::new(TANDEMD)
        .parent()
        .map(|d| d.join("examples").join("sticky_proxy"))
        .unwrap_or_default();
    assert!(
        bin.is_file(),
        "{} is missing: build the examples first (cargo build -p tandem-node --examples)",
        bin.display()
    );
    bin.to_str().expect("a UTF-8 path").to_owned()
}

fn config(k: usize, key: &str, control: &str, replication: bool) -> String {
    let (prio, own, peer) = if k == 0 { (200, 1, 2) } else { (100, 2, 1) };
    let mut c = format!(
        "[global]\ncontrol_socket = \"{control}\"\n\n\
         [[instance]]\nname = \"web\"\ninterface = \"eth0\"\nvrid = 51\npriority = {prio}\n\
         interval = 0.1\naddresses = [\"{VIP}/24\"]\n"
    );
    if replication {
        c += &format!(
            "\n[replication]\nnode = {own}\ncluster = 7\nlisten = \"198.51.100.{own}:6974\"\n\
             peer = \"198.51.100.{peer}:6974\"\ninterface = \"eth1\"\nconntrack = false\n\
             key_file = \"{key}\"\n"
        );
    }
    c
}

/// The pair, its clients and real servers.
pub(crate) struct ProxyPair {
    pub(crate) lab: Lab,
    pub(crate) client: String,
    pub(crate) servers: String,
    proxy: String,
    pids: Vec<Option<lab::Pid>>,
    confs: Vec<PathBuf>,
    sockets: Vec<String>,
}

impl ProxyPair {
    /// The topology, proxies not started; unit `k` has `[replication]`
    /// when `replication[k]`. `None` (said why) when the test cannot run
    /// here, a panic under `CI=true`.
    pub(crate) fn new(tag: &str, replication: [bool; 2]) -> Option<ProxyPair> {
        let mut lab = Lab::new(tag, 2, &[])?;
        let proxy = sticky_proxy_bin();
        let client = lab.obs.clone();
        let servers = lab.add_host("s");
        let (a, b) = (lab.node(0).ns.clone(), lab.node(1).ns.clone());
        lab.add_segment(
            "br1",
            &[
                (&a, "qa", "eth1", [2, 0, 0, 0, 1, 1], "198.51.100.1/24"),
                (&b, "qb", "eth1", [2, 0, 0, 0, 1, 2], "198.51.100.2/24"),
                (
                    &servers,
                    "qs",
                    "eth0",
                    [2, 0, 0, 0, 1, 10],
                    "198.51.100.10/24",
                ),
            ],
        );
        lab.in_ns(
            &servers,
            &["ip", "addr", "add", "198.51.100.11/24", "dev", "eth0"],
        );
        for addr in CLIENTS {
            lab.in_ns(
                &client,
                &["ip", "addr", "add", &format!("{addr}/24"), "dev", "eth0"],
            );
        }
        let key = lab.replication_key();
        let sockets: Vec<String> = (0..2)
            .map(|k| format!("{}/proxy-{k}.sock", lab.dir.display()))
            .collect();
        let confs = (0..2)
            .map(|k| {
                lab.write(
                    &format!("proxy-{k}.toml"),
                    &config(k, &key, &sockets[k], replication[k]),
                )
            })
            .collect();
        Some(ProxyPair {
            lab,
            client,
            servers,
            proxy,
            pids: vec![None, None],
            confs,
            sockets,
        })
    }

    /// Starts the proxy of unit `k` and waits (bounded) until it listens.
    pub(crate) fn start(&mut self, k: usize) {
        let ns = self.lab.node(k).ns.clone();
        let conf = self.confs[k].to_str().unwrap().to_owned();
        let sticky_proxy_bin: &str = &self.proxy;
        let pid = self.lab.spawn(
            &ns,
            &format!("proxy-{k}"),
            &[
                sticky_proxy_bin,
                "--config",
                &conf,
                "--listen",
                "0.0.0.0:80",
                "--backend",
                REAL[0],
                "--backend",
                REAL[1],
                "--control-socket",
                "--verbose",
            ],
        );
        self.pids[k] = Some(pid);
        let up = wait_for(Duration::from_secs(5), || {
            self.lab.log(pid).contains("listening on")
        });
        assert!(
            up.is_some(),
            "proxy {k} does not start; {}",
            self.lab.report()
        );
    }

    /// Proxy `k`'s log so far.
    pub(crate) fn log(&self, k: usize) -> String {
        self.pids[k].map(|p| self.lab.log(p)).unwrap_or_default()
    }

    /// Waits up to `timeout` for unit `k` to hold the VIP (a killed unit
    /// keeps its addresses, but its links are cut).
    pub(crate) fn wait_active(&self, k: usize, timeout: Duration) -> bool {
        wait_for(timeout, || self.lab.holders(VIP).contains(&k)).is_some()
    }

    /// Unit `k`'s replication status (`tandemd status --json`), if its
    /// node answers.
    pub(crate) fn replication(&self, k: usize) -> Option<serde_json::Value> {
        self.lab.replication_at(&self.sockets[k])
    }

    /// The last `table local=L partner=P` line of proxy `k`: (L, P).
    pub(crate) fn table(&self, k: usize) -> Option<(u64, u64)> {
        let log = self.log(k);
        let line = log
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("sticky_proxy: table "))?;
        let mut sizes = line
            .split_whitespace()
            .filter_map(|w| w.split_once('=').and_then(|(_, n)| n.parse().ok()));
        Some((sizes.next()?, sizes.next()?))
    }

    /// Unit `k` dies: every process in it killed (SIGKILL) and both its
    /// links cut, as a power loss would.
    pub(crate) fn kill(&mut self, k: usize) {
        self.lab.crash(k);
        self.lab.port(k, false);
        self.lab.set_port(if k == 0 { "qa" } else { "qb" }, false);
    }

    /// The real servers, answering until dropped.
    pub(crate) fn real_servers(&self) -> RealServers {
        let stop = Arc::new(AtomicBool::new(false));
        for (n, addr) in REAL.iter().enumerate() {
            let addr: SocketAddr = addr.parse().unwrap();
            let listener = in_netns(&self.servers, move || {
                TcpListener::bind(addr).expect("bind a real server")
            });
            let stop = stop.clone();
            std::thread::spawn(move || serve(listener, n, &stop));
        }
        RealServers { stop }
    }

    /// One request from client address `from` through the VIP, with the
    /// cookie `cookie` if any.
    pub(crate) fn get(&self, from: &str, cookie: Option<&str>) -> Result<Reply, String> {
        let from: SocketAddr = format!("{from}:0").parse().unwrap();
        let to: SocketAddr = format!("{VIP}:80").parse().unwrap();
        let sock = in_netns(&self.client, move || connect_from(from, to))
            .map_err(|e| format!("connect from {from} to {to}: {e}"))?;
        let mut request = format!("GET / HTTP/1.1\r\nHost: {VIP}\r\n");
        if let Some(c) = cookie {
            request += &format!("Cookie: TANDEM_SRV={c}\r\n");
        }
        request += "Connection: close\r\n\r\n";
        exchange(sock, request.as_bytes()).and_then(|raw| Reply::parse(&raw))
    }
}

/// A TCP connection from `from` (an address of this namespace) to `to`.
fn connect_from(from: SocketAddr, to: SocketAddr) -> std::io::Result<TcpStream> {
    let s = socket2::Socket::new(
        socket2::Domain::IPV4,
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    s.bind(&from.into())?;
    s.connect_timeout(&to.into(), Duration::from_secs(2))?;
    Ok(s.into())
}

/// Writes `request`, reads up to the close (at most 64 KiB, 3 s).
fn exchange(mut sock: TcpStream, request: &[u8]) -> Result<Vec<u8>, String> {
    sock.write_all(request).map_err(|e| format!("write: {e}"))?;
    let end = Instant::now() + Duration::from_secs(3);
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!(
                "no end of response within 3 s: {:?}",
                String::from_utf8_lossy(&got)
            ));
        }
        let _ = sock.set_read_timeout(Some(left));
        match sock.read(&mut buf) {
            Ok(0) => return Ok(got),
            Ok(n) if got.len() + n <= 64 * 1024 => got.extend_from_slice(&buf[..n]),
            Ok(_) => return Err("response over 64 KiB".into()),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("read: {e}")),
        }
    }
}

/// What the proxy answered.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    /// The status code.
    pub(crate) code: u16,
    /// `X-Tandem-Backend`.
    pub(crate) backend: Option<usize>,
    /// The value of `Set-Cookie: TANDEM_SRV=...`.
    pub(crate) cookie: Option<String>,
    /// Which real server the body says answered.
    pub(crate) served_by: Option<usize>,
}

impl Reply {
    fn parse(raw: &[u8]) -> Result<Reply, String> {
        let text = String::from_utf8_lossy(raw);
        let (head, body) = text
            .split_once("\r\n\r\n")
            .ok_or_else(|| format!("no response head in {text:?}"))?;
        let mut lines = head.split("\r\n");
        let code = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| format!("no status line in {text:?}"))?;
        let mut reply = Reply {
            code,
            backend: None,
            cookie: None,
            served_by: body
                .trim()
                .strip_prefix("real server ")
                .and_then(|n| n.parse().ok()),
        };
        for line in lines {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            if name.eq_ignore_ascii_case("x-tandem-backend") {
                reply.backend = value.parse().ok();
            } else if name.eq_ignore_ascii_case("set-cookie") {
                if let Some(v) = value.strip_prefix("TANDEM_SRV=") {
                    reply.cookie = Some(v.split(';').next().unwrap_or_default().to_owned());
                }
            }
        }
        Ok(reply)
    }

    /// The real server, if the proxy's header and the server's body agree
    /// and the status is 200.
    pub(crate) fn server(&self) -> Result<usize, String> {
        match (self.code, self.backend, self.served_by) {
            (200, Some(b), Some(s)) if b == s => Ok(b),
            _ => Err(format!("not a clean answer of one real server: {self:?}")),
        }
    }
}

/// The real servers; stop when dropped.
pub(crate) struct RealServers {
    stop: Arc<AtomicBool>,
}

impl Drop for RealServers {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Real server `n`: every request answered with `real server n`.
fn serve(listener: TcpListener, n: usize, stop: &AtomicBool) {
    listener.set_nonblocking(true).unwrap();
    while !stop.load(Ordering::Relaxed) {
        let Ok((mut c, _)) = listener.accept() else {
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        let _ = c.set_nonblocking(false);
        let _ = c.set_read_timeout(Some(Duration::from_secs(2)));
        let mut head = Vec::new();
        let mut buf = [0u8; 4096];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
            match c.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(k) => head.extend_from_slice(&buf[..k]),
            }
        }
        let body = format!("real server {n}\n");
        let _ = c.write_all(
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        );
    }
}
