//! A synced pair of tandemd units in the lab, for the configuration-sync
//! end-to-end tests (tests/e2e_sync.rs): each unit's configuration file
//! (in a directory of its own, so leftover temporaries can be listed), the
//! shared key, starting and stopping units by PID, the control commands of
//! docs/control.md (`config get|set|apply`, `sync status`) and bounded
//! waits on them.
//!
//! Unit `a` is node 0 (192.0.2.1), unit `b` node 1 (192.0.2.2); both listen
//! on their own lab address, port 6973, and name the other as `peer`. The
//! instance `web` is VRRPv3 on eth0, VRID 10, 192.0.2.100/24, adverts every
//! 0.1 s; `a` has priority 200 (so it is the Active), `b` 100.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::lab::{Lab, Pid, TANDEMD};

/// The virtual address of instance `web`.
pub(crate) const VIP: &str = "192.0.2.100";

/// Generous bound for a first election, a start, a first sync (not
/// measured).
pub(crate) const SETTLE: Duration = Duration::from_secs(20);

/// The sync port.
pub(crate) const PORT: u16 = 6973;

/// The units' ids, by node.
pub(crate) const UNITS: [&str; 3] = ["a", "b", "c"];

/// A pair (or a pair and a third, hostile, node).
pub(crate) struct Pair {
    /// The lab.
    pub(crate) lab: Lab,
    /// `e2e-<tag>`
    pub(crate) cluster: String,
    /// The shared key file.
    pub(crate) key: PathBuf,
    /// Each node's running tandemd, if any.
    pids: [Option<Pid>; 3],
    /// How many times each node's tandemd was started.
    starts: [usize; 3],
}

/// Text of a command's output.
pub(crate) fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `tandemd sync keygen FILE`, asserting that it says so and made the file
/// private.
pub(crate) fn keygen(path: &Path) {
    let out = Command::new(TANDEMD)
        .args(["sync", "keygen"])
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .expect("cannot run tandemd");
    assert!(
        out.status.success(),
        "tandemd sync keygen {}: {}{}",
        path.display(),
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains("wrote"),
        "keygen said {:?}",
        text(&out.stdout)
    );
    let mode = std::fs::metadata(path)
        .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777)
        .unwrap_or(0);
    assert_eq!(mode, 0o600, "{} has mode {mode:o}", path.display());
}

/// `n` services `[app.vs.svcN]` (address, port `port_base + N`), and the
/// marker `[app.meta.marker] round = round`.
pub(crate) fn services(n: usize, port_base: u32, round: u32) -> String {
    let mut s = String::with_capacity(n * 60);
    for i in 0..n {
        s += &format!(
            "[app.vs.svc{i}]\naddress = \"192.0.2.50\"\nport = {}\n\n",
            port_base + i as u32 % 1000
        );
    }
    s += &format!("[app.meta.marker]\nround = {round}\n");
    s
}

impl Pair {
    /// A lab of `n` nodes with the shared key; nothing started. `None`
    /// (after saying why) when the test cannot run here.
    pub(crate) fn new(tag: &str, n: usize) -> Option<Pair> {
        let lab = Lab::new(tag, n, &[])?;
        let key = lab.dir.join("sync.key");
        keygen(&key);
        for k in 0..n {
            std::fs::create_dir_all(lab.dir.join(format!("conf-{k}"))).unwrap();
            std::fs::create_dir_all(lab.state_dir(k)).unwrap();
        }
        Some(Pair {
            cluster: format!("e2e-{tag}"),
            lab,
            key,
            pids: [None; 3],
            starts: [0; 3],
        })
    }

    /// Node `k`'s configuration file.
    pub(crate) fn conf_path(&self, k: usize) -> PathBuf {
        self.lab.dir.join(format!("conf-{k}")).join("tandemd.toml")
    }

    /// Node `k`'s configuration with `key` as its key file, the priority
    /// of its unit (200 on a, 100 on b) and `tail` (overlays, `[app]`)
    /// after the instance.
    pub(crate) fn conf_with_key(&self, k: usize, key: &Path, tail: &str) -> String {
        let state = self.lab.state_dir(k);
        let state = state.display();
        let me = &self.lab.node(k).v4;
        // Unit a's partner is b; b's and c's partner is b / a.
        let peer = if k == 0 { "192.0.2.2" } else { "192.0.2.1" };
        let prio = if k == 0 { 200 } else { 100 };
        format!(
            r#"[global]
state_dir = "{state}"
control_socket = "{state}/tandemd.sock"

[sync]
unit = "{unit}"
cluster = "{cluster}"
listen = "{me}:{PORT}"
peer = "{peer}:{PORT}"
key_file = "{key}"

[[instance]]
name = "web"
interface = "eth0"
vrid = 10
priority = {prio}
interval = 0.1
addresses = ["{VIP}/24"]

{tail}"#,
            unit = UNITS[k],
            cluster = self.cluster,
            key = key.display(),
        )
    }

    /// [`Pair::conf_with_key`] with the shared key.
    pub(crate) fn conf(&self, k: usize, tail: &str) -> String {
        self.conf_with_key(k, &self.key, tail)
    }

    /// Writes node `k`'s configuration file.
    pub(crate) fn write_conf(&self, k: usize, text: &str) {
        std::fs::write(self.conf_path(k), text).unwrap();
    }

    /// Node `k`'s configuration file as it is on disk now.
    pub(crate) fn file(&self, k: usize) -> Vec<u8> {
        std::fs::read(self.conf_path(k)).unwrap_or_default()
    }

    /// Starts node `k`'s tandemd on its configuration file.
    pub(crate) fn start(&mut self, k: usize) {
        let label = format!("tandemd-{}", UNITS[k]);
        let conf = self.conf_path(k);
        let pid = self
            .lab
            .tandemd(k, &label, &["--config", conf.to_str().unwrap()]);
        self.pids[k] = Some(pid);
        self.starts[k] += 1;
        // The control socket answers.
        let ok = crate::lab::wait_for(SETTLE, || self.sync_status(k).is_some());
        assert!(
            ok.is_some(),
            "unit {}'s control socket never answered sync status; {}",
            UNITS[k],
            self.lab.report()
        );
    }

    /// SIGTERM to node `k`'s tandemd, and waits for it to exit.
    pub(crate) fn stop(&mut self, k: usize) {
        if let Some(p) = self.pids[k].take() {
            self.lab.signal(p, "TERM");
            assert!(
                self.lab.wait_exit(p, Duration::from_secs(10)),
                "unit {} did not exit after SIGTERM; {}",
                UNITS[k],
                self.lab.report()
            );
        }
    }

    /// SIGKILL to node `k`'s tandemd, and waits for it to be gone.
    pub(crate) fn kill(&mut self, k: usize) {
        if let Some(p) = self.pids[k].take() {
            self.lab.signal(p, "KILL");
            assert!(self.lab.wait_exit(p, Duration::from_secs(5)));
        }
    }

    /// Sends `sig` to node `k`'s tandemd.
    pub(crate) fn signal(&mut self, k: usize, sig: &str) {
        if let Some(p) = self.pids[k] {
            self.lab.signal(p, sig);
        }
    }

    /// The PID of node `k`'s tandemd.
    pub(crate) fn pid(&self, k: usize) -> Option<u32> {
        self.pids[k].map(|p| self.lab.proc(p).pid())
    }

    /// The log of node `k`'s running (or last) tandemd.
    pub(crate) fn log(&self, k: usize) -> String {
        self.pids[k].map(|p| self.lab.log(p)).unwrap_or_default()
    }

    /// Node `k`'s control socket.
    pub(crate) fn socket(&self, k: usize) -> PathBuf {
        self.lab.state_dir(k).join("tandemd.sock")
    }

    /// Runs a client command against node `k`.
    pub(crate) fn ctl(&self, k: usize, args: &[&str]) -> Output {
        ctl_at(&self.socket(k), args)
    }

    /// `config get KEY` on node `k`: the value's TOML, `None` when unset
    /// (exit 1). A reply of the form `KEY = VALUE` counts as `VALUE`.
    pub(crate) fn get(&self, k: usize, key: &str) -> Option<String> {
        let out = self.ctl(k, &["config", "get", key]);
        if !out.status.success() {
            assert_eq!(
                out.status.code(),
                Some(1),
                "config get {key} on unit {}: {}{}",
                UNITS[k],
                text(&out.stdout),
                text(&out.stderr)
            );
            return None;
        }
        let s = text(&out.stdout);
        let s = s.trim();
        Some(s.strip_prefix(&format!("{key} = ")).unwrap_or(s).to_owned())
    }

    /// `config set KEY VALUE` on node `k`, asserting success; returns its
    /// output line and wall time.
    pub(crate) fn set(&self, k: usize, key: &str, value: &str) -> (String, Duration) {
        let t = Instant::now();
        let out = self.ctl(k, &["config", "set", key, value]);
        let took = t.elapsed();
        assert!(
            out.status.success(),
            "config set {key} {value} on unit {}: exit {:?}: {}{}; {}",
            UNITS[k],
            out.status.code(),
            text(&out.stdout),
            text(&out.stderr),
            self.lab.report()
        );
        (text(&out.stdout), took)
    }

    /// `sync status --json` of node `k`, `None` while it does not answer.
    pub(crate) fn sync_status(&self, k: usize) -> Option<Value> {
        let out = self.ctl(k, &["sync", "status", "--json"]);
        if !out.status.success() {
            return None;
        }
        serde_json::from_slice(&out.stdout).ok()
    }

    /// `status --json` of node `k`.
    pub(crate) fn status(&self, k: usize) -> Option<Value> {
        let out = self.ctl(k, &["status", "--json"]);
        if !out.status.success() {
            return None;
        }
        serde_json::from_slice(&out.stdout).ok()
    }

    /// The election state of node `k`'s instance `web` (`Active`, ...).
    pub(crate) fn role(&self, k: usize) -> String {
        self.status(k)
            .and_then(|s| s["instances"][0]["state"].as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    /// Waits until node `k`'s instance is in `state`.
    pub(crate) fn wait_role(&self, k: usize, state: &str, timeout: Duration) {
        let ok = crate::lab::wait_for(timeout, || self.role(k) == state);
        assert!(
            ok.is_some(),
            "unit {} not {state} within {timeout:?} (it is {:?}); {}",
            UNITS[k],
            self.role(k),
            self.lab.report()
        );
    }

    /// Whether nodes `x` and `y` both say in-sync with equal roots.
    pub(crate) fn in_sync(&self, x: usize, y: usize) -> bool {
        match (self.sync_status(x), self.sync_status(y)) {
            (Some(a), Some(b)) => {
                state(&a) == "in-sync"
                    && state(&b) == "in-sync"
                    && local_root(&a).is_some()
                    && local_root(&a) == local_root(&b)
                    && partner_root(&a) == local_root(&b)
                    && partner_root(&b) == local_root(&a)
            }
            _ => false,
        }
    }

    /// Waits until a and b are in sync; returns how long it took.
    pub(crate) fn wait_in_sync(&self, timeout: Duration) -> Duration {
        crate::lab::wait_for(timeout, || self.in_sync(0, 1)).unwrap_or_else(|| {
            panic!(
                "a and b not in sync within {timeout:?}:\na: {}\nb: {}\n{}",
                show(self.sync_status(0)),
                show(self.sync_status(1)),
                self.lab.report()
            )
        })
    }

    /// Starts a and b on configurations with `tail`, waits for a Active,
    /// b Backup and the two in sync.
    pub(crate) fn start_pair(&mut self, tail: &str) {
        self.write_conf(0, &self.conf(0, tail));
        self.write_conf(1, &self.conf(1, tail));
        self.start(0);
        self.start(1);
        self.wait_role(0, "Active", SETTLE);
        self.wait_role(1, "Backup", SETTLE);
        self.wait_in_sync(SETTLE);
    }

    /// Every process's log and both units' sync status, for messages.
    pub(crate) fn report(&self) -> String {
        format!(
            "a: {}\nb: {}\n{}",
            show(self.sync_status(0)),
            show(self.sync_status(1)),
            self.lab.report()
        )
    }
}

/// Runs a client command against the control socket `sock`.
pub(crate) fn ctl_at(sock: &Path, args: &[&str]) -> Output {
    Command::new(TANDEMD)
        .args(args)
        .arg("--control-socket")
        .arg(sock)
        .stdin(Stdio::null())
        .output()
        .expect("cannot run tandemd")
}

fn show(v: Option<Value>) -> String {
    v.map(|v| v.to_string())
        .unwrap_or_else(|| "no answer".into())
}

/// A sync status's state.
pub(crate) fn state(s: &Value) -> &str {
    s["state"].as_str().unwrap_or("")
}

/// `local.root` (docs/control.md); the flat `local_root` too.
pub(crate) fn local_root(s: &Value) -> Option<String> {
    s.pointer("/local/root")
        .or_else(|| s.get("local_root"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// `partner.root`; the flat `peer_root` too.
pub(crate) fn partner_root(s: &Value) -> Option<String> {
    s.pointer("/partner/root")
        .or_else(|| s.get("peer_root"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// `local.generation`; the flat `local_generation` too.
pub(crate) fn generation(s: &Value) -> Option<u64> {
    s.pointer("/local/generation")
        .or_else(|| s.get("local_generation"))
        .and_then(Value::as_u64)
}

/// `local.epoch` as text (a hex string or a number).
pub(crate) fn epoch(s: &Value) -> String {
    s.pointer("/local/epoch")
        .or_else(|| s.get("local_epoch"))
        .map(|v| v.to_string())
        .unwrap_or_default()
}

/// Runs `f` on a thread inside network namespace `ns` (setns on that
/// thread only: the test process stays where it is).
#[allow(unsafe_code)]
pub(crate) fn in_netns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        // SAFETY: setns on a descriptor of a namespace file we hold open;
        // it changes only this thread's network namespace.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns {path}: {}", std::io::Error::last_os_error());
        f()
    })
    .join()
    .unwrap_or_else(|e| std::panic::resume_unwind(e))
}

/// Connects to `to`, writes `bytes` (in pieces of `chunk` bytes, so a
/// peer sees them arrive over time), reads what comes back for at most
/// `read_for`, and closes. Returns what was read.
pub(crate) fn tcp_send(to: SocketAddr, bytes: &[u8], read_for: Duration) -> Vec<u8> {
    let mut s = match TcpStream::connect_timeout(&to, Duration::from_secs(2)) {
        Ok(s) => s,
        Err(e) => panic!("cannot connect to {to}: {e}"),
    };
    let _ = s.write_all(bytes);
    let mut got = Vec::new();
    let end = Instant::now() + read_for;
    let mut buf = [0u8; 4096];
    while Instant::now() < end {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let _ = s.set_read_timeout(Some(left));
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    got
}
