//! A replication pair whose link runs through a faulty relay: the tests of
//! loss, duplication, reordering, restarts and hostile frames.
//!
//! ```text
//!   a eth0 192.0.2.1  --- br0 ---  b eth0 192.0.2.2      (VRID 10, 192.0.2.100)
//!   a eth1 198.51.100.1 -- br1 -- b eth1 198.51.100.2
//!                            |
//!                 relay (ID-r) 198.51.100.3:6974
//! ```
//!
//! Each unit's `[replication] peer` is the relay; the relay forwards a's
//! datagrams to b and b's to a (from its own address, TTL 255), dropping,
//! duplicating and holding back (reordering) as told, and can inject
//! datagrams of its own. The tests make connection-tracking entries on a
//! with `conntrack -R` and compare the two kernels' tables (`conntrack -L
//! -o save`) after b took over: an independent view of what was
//! replicated.

use std::collections::BTreeSet;
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::lab::{wait_for, Lab, Pid, Tool};
use super::sync_pair::in_netns;

/// The relay's address.
pub(crate) const RELAY: &str = "198.51.100.3:6974";

/// The relay's faults, in percent of datagrams.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Faults {
    pub(crate) loss: u32,
    pub(crate) duplicate: u32,
    pub(crate) reorder: u32,
}

/// The relay: counts and the frames it forwarded (for replays).
pub(crate) struct Relay {
    pub(crate) faults: Arc<Mutex<Faults>>,
    pub(crate) forwarded: Arc<AtomicU64>,
    pub(crate) dropped: Arc<AtomicU64>,
    /// Datagrams a sent to b, as forwarded (at most 10,000).
    pub(crate) seen: Arc<Mutex<Vec<Vec<u8>>>>,
    sock: UdpSocket,
    stop: Arc<AtomicBool>,
}

impl Relay {
    /// Sends `bytes` to b from the relay with this TTL.
    pub(crate) fn inject(&self, bytes: &[u8], ttl: u32) {
        let _ = self.sock.set_ttl(ttl);
        let _ = self.sock.send_to(bytes, "198.51.100.2:6974");
        let _ = self.sock.set_ttl(255);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The pair and its relay.
pub(crate) struct LinkPair {
    pub(crate) lab: Lab,
    pub(crate) relay_ns: String,
    pub(crate) daemons: Vec<Option<Pid>>,
    pub(crate) confs: Vec<PathBuf>,
    pub(crate) key: PathBuf,
}

fn config(k: usize, key: &str) -> String {
    config_to(k, key, RELAY, true)
}

/// Unit `k`'s configuration sending to `peer` (with `listen` on its own
/// address, or unspecified for a multicast group).
pub(crate) fn config_to(k: usize, key: &str, peer: &str, own_listen: bool) -> String {
    let (prio, own) = if k == 0 { (200, 1) } else { (100, 2) };
    let listen = if own_listen {
        format!("listen = \"198.51.100.{own}:6974\"\n")
    } else {
        String::new()
    };
    format!(
        "[[instance]]\nname = \"public\"\ninterface = \"eth0\"\nvrid = 10\npriority = {prio}\n\
         interval = 0.1\naddresses = [\"192.0.2.100/24\"]\n\n\
         [replication]\nnode = {own}\ncluster = 7\n{listen}\
         peer = \"{peer}\"\ninterface = \"eth1\"\nkey_file = \"{key}\"\nrefresh = 0\n"
    )
}

/// Small deterministic random numbers for the relay.
struct Rng(u64);

impl Rng {
    fn percent(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % 100) as u32
    }
}

impl LinkPair {
    /// The topology, daemons not started.
    pub(crate) fn new(tag: &str) -> Option<LinkPair> {
        let mut lab = Lab::new(tag, 2, &[Tool::Conntrack])?;
        let relay_ns = lab.add_host("r");
        let (a, b) = (lab.node(0).ns.clone(), lab.node(1).ns.clone());
        lab.add_segment(
            "br1",
            &[
                (&a, "qa", "eth1", [2, 0, 0, 0, 1, 1], "198.51.100.1/24"),
                (&b, "qb", "eth1", [2, 0, 0, 0, 1, 2], "198.51.100.2/24"),
                (
                    &relay_ns,
                    "qr",
                    "eth0",
                    [2, 0, 0, 0, 1, 3],
                    "198.51.100.3/24",
                ),
            ],
        );
        for ns in [&a, &b] {
            lab.in_ns(
                ns,
                &["sysctl", "-qw", "net.netfilter.nf_conntrack_events=1"],
            );
        }
        let k = lab.replication_key();
        let confs = (0..2)
            .map(|n| lab.write(&format!("tandemd-{n}.toml"), &config(n, &k)))
            .collect();
        Some(LinkPair {
            lab,
            relay_ns,
            daemons: vec![None, None],
            confs,
            key: PathBuf::from(k),
        })
    }

    /// Starts the relay with `faults` (changeable later), seeded.
    pub(crate) fn relay(&self, faults: Faults, seed: u64) -> Relay {
        let sock = in_netns(&self.relay_ns, || {
            UdpSocket::bind(RELAY).expect("bind the relay")
        });
        sock.set_ttl(255).unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(5)))
            .unwrap();
        let relay = Relay {
            faults: Arc::new(Mutex::new(faults)),
            forwarded: Arc::default(),
            dropped: Arc::default(),
            seen: Arc::default(),
            sock: sock.try_clone().unwrap(),
            stop: Arc::default(),
        };
        let (f, fw, dr, seen, stop) = (
            relay.faults.clone(),
            relay.forwarded.clone(),
            relay.dropped.clone(),
            relay.seen.clone(),
            relay.stop.clone(),
        );
        std::thread::spawn(move || {
            let a: SocketAddr = "198.51.100.1:6974".parse().unwrap();
            let b: SocketAddr = "198.51.100.2:6974".parse().unwrap();
            let mut rng = Rng(seed | 1);
            let mut held: Option<(Vec<u8>, SocketAddr, Instant)> = None;
            let mut buf = vec![0u8; 65536];
            while !stop.load(Ordering::Relaxed) {
                if let Some((_, _, at)) = &held {
                    if at.elapsed() > Duration::from_millis(20) {
                        let (bytes, to, _) = held.take().unwrap();
                        let _ = sock.send_to(&bytes, to);
                    }
                }
                let Ok((n, from)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                let to = if from.ip() == a.ip() {
                    b
                } else if from.ip() == b.ip() {
                    a
                } else {
                    continue;
                };
                let bytes = buf[..n].to_vec();
                if to == b {
                    let mut s = seen.lock().unwrap();
                    if s.len() < 10_000 {
                        s.push(bytes.clone());
                    }
                }
                let faults = *f.lock().unwrap();
                if rng.percent() < faults.loss {
                    dr.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                fw.fetch_add(1, Ordering::Relaxed);
                if held.is_none() && rng.percent() < faults.reorder {
                    held = Some((bytes, to, Instant::now()));
                    continue;
                }
                let _ = sock.send_to(&bytes, to);
                if rng.percent() < faults.duplicate {
                    let _ = sock.send_to(&bytes, to);
                }
                // A datagram held back goes after this one: reordered.
                if let Some((h, t, _)) = held.take() {
                    let _ = sock.send_to(&h, t);
                }
            }
        });
        relay
    }

    /// Points both units at `peer` (a multicast group: `listen`
    /// unspecified) instead of the relay; before they start.
    pub(crate) fn use_peer(&mut self, peer: &str) {
        let key = self.key.to_str().unwrap().to_owned();
        for k in 0..2 {
            let text = config_to(k, &key, peer, false);
            std::fs::write(&self.confs[k], text).unwrap();
        }
    }

    /// Starts tandemd on unit `k`.
    pub(crate) fn start(&mut self, k: usize) {
        let conf = self.confs[k].to_str().unwrap().to_owned();
        let label = format!("tandemd-{k}");
        self.daemons[k] = Some(self.lab.tandemd(k, &label, &["--config", &conf]));
    }

    /// Stops unit `k`'s tandemd with SIGKILL (its kernel table stays).
    pub(crate) fn kill_daemon(&mut self, k: usize) {
        if let Some(p) = self.daemons[k].take() {
            self.lab.signal(p, "KILL");
            assert!(
                self.lab.wait_exit(p, Duration::from_secs(5)),
                "tandemd {k} survives SIGKILL"
            );
        }
    }

    /// `tandemd status --json` of unit `k`'s `replication`.
    pub(crate) fn replication(&self, k: usize) -> Option<serde_json::Value> {
        self.lab.replication(k)
    }

    /// Loads `lines` (`conntrack -R` lines) into unit `k`'s kernel table.
    /// Updates (`-U`) run one command each: conntrack 1.4.7 fails restores
    /// of several `-U` lines with "Protocol error" now and then (tried
    /// up to three times).
    pub(crate) fn conntrack_restore(&self, k: usize, name: &str, lines: &[String]) {
        let ns = self.lab.node(k).ns.clone();
        if !lines.iter().any(|l| l.starts_with("-U")) {
            let path = self.lab.write(name, &(lines.join("\n") + "\n"));
            self.lab
                .in_ns(&ns, &["conntrack", "-R", path.to_str().unwrap()]);
            return;
        }
        for line in lines {
            let mut args = vec!["netns", "exec", &ns, "conntrack"];
            args.extend(line.split_whitespace());
            let ok = (0..3).any(|_| {
                std::process::Command::new("ip")
                    .args(&args)
                    .output()
                    .is_ok_and(|o| o.status.success())
            });
            assert!(ok, "conntrack {line} failed three times");
        }
    }

    /// The test flows (203.0.113.0/24) of unit `k`'s kernel table, each
    /// as `conntrack -L` shows its tuples, protocol state, status and mark
    /// (not its timeout).
    pub(crate) fn table(&self, k: usize) -> BTreeSet<String> {
        let ns = self.lab.node(k).ns.clone();
        let out = std::process::Command::new("ip")
            .args(["netns", "exec", &ns, "conntrack", "-L"])
            .output()
            .expect("conntrack -L");
        // `tcp 6 3599 ESTABLISHED src=... [ASSURED] mark=9 use=1`: the
        // timeout (third word) runs down on each side and `use` is the
        // kernel's reference count; the rest must be equal.
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.contains("203.0.113."))
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

    /// Waits until b's mirror holds `n` flows and is in sync.
    pub(crate) fn wait_mirror(&self, n: u64, timeout: Duration) -> bool {
        wait_for(timeout, || {
            self.replication(1)
                .is_some_and(|r| r["mirror_flows"].as_u64() == Some(n) && r["in_sync"] == true)
        })
        .is_some()
    }

    /// a dies (every process killed, links cut); b takes over and
    /// installs its mirror. Returns once b holds the VIP.
    pub(crate) fn fail_over(&mut self) -> bool {
        self.lab.crash(0);
        self.lab.port(0, false);
        self.lab.set_port("qa", false);
        let took = wait_for(Duration::from_secs(5), || {
            self.lab.holders("192.0.2.100").contains(&1)
        });
        took.is_some()
    }
}

/// `conntrack -R` lines for flows `from..to` of the test network: TCP
/// established (assured), to 192.0.2.50:80 from 203.0.113.x.
pub(crate) fn tcp_flows(from: u32, to: u32, mark: u32) -> Vec<String> {
    (from..to)
        .map(|i| {
            format!(
                "-I -p tcp -s 203.0.113.{} -d 192.0.2.50 --sport {} --dport 80 --state ESTABLISHED -t 3600 -u SEEN_REPLY,ASSURED -m {mark}",
                1 + i % 250,
                10_000 + i
            )
        })
        .collect()
}

/// `conntrack -R` lines deleting flows `from..to` of [`tcp_flows`].
pub(crate) fn delete_flows(from: u32, to: u32) -> Vec<String> {
    (from..to)
        .map(|i| {
            format!(
                "-D -p tcp -s 203.0.113.{} -d 192.0.2.50 --sport {} --dport 80",
                1 + i % 250,
                10_000 + i
            )
        })
        .collect()
}
