//! End-to-end test of tandemd's conversation with a service manager
//! (systemd `Type=notify` with `WatchdogSec=`), played by this test: it
//! binds the notification socket, starts `tandemd run` in a namespace with
//! `NOTIFY_SOCKET` and `WATCHDOG_USEC` set, as systemd would, and reads
//! what arrives. docs/packaging.md describes the messages.
//!
//! A systemd that runs as a service manager is not available in the test
//! container, so the protocol itself is what is tested: `READY=1` only
//! once the node answers on its control socket, `STATUS=` with the state,
//! `WATCHDOG=1` at half the period while the loop turns, `RELOADING=1`
//! then `READY=1` around SIGHUP, `STOPPING=1` at SIGTERM; and no
//! `WATCHDOG=1` when `WATCHDOG_PID` names another process.
//!
//! It reuses the lab of the other end-to-end tests (tests/e2e/lab.rs);
//! it needs root, `ip`, `bridge` and `tcpdump`, and without them returns
//! early saying why, except under `CI=true`, where it fails.

#[path = "e2e/lab.rs"]
#[allow(dead_code)]
mod lab;

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lab::{Lab, Pid, TANDEMD};

/// The watchdog period the test hands tandemd: pings every 0.2 s.
const WATCHDOG_USEC: &str = "400000";

/// One message received, and when.
struct Message {
    at: Instant,
    text: String,
}

/// The service manager's end: a datagram socket in the lab's directory.
struct Manager {
    socket: UnixDatagram,
    got: Vec<Message>,
}

impl Manager {
    fn bind(path: &Path) -> Manager {
        let socket = UnixDatagram::bind(path).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        Manager {
            socket,
            got: Vec::new(),
        }
    }

    /// Reads what arrives for `d`.
    fn read_for(&mut self, d: Duration) {
        let end = Instant::now() + d;
        let mut buf = [0u8; 4096];
        while Instant::now() < end {
            if let Ok(n) = self.socket.recv(&mut buf) {
                self.got.push(Message {
                    at: Instant::now(),
                    text: String::from_utf8_lossy(&buf[..n]).into_owned(),
                });
            }
        }
    }

    /// Reads until a message has a line `line`, within `d`; its index.
    fn wait_line(&mut self, line: &str, d: Duration) -> Option<usize> {
        let end = Instant::now() + d;
        let mut buf = [0u8; 4096];
        loop {
            if let Some(i) = self
                .got
                .iter()
                .position(|m| m.text.lines().any(|l| l == line))
            {
                return Some(i);
            }
            if Instant::now() >= end {
                return None;
            }
            if let Ok(n) = self.socket.recv(&mut buf) {
                self.got.push(Message {
                    at: Instant::now(),
                    text: String::from_utf8_lossy(&buf[..n]).into_owned(),
                });
            }
        }
    }

    fn count(&self, line: &str, from: usize) -> usize {
        self.got[from..]
            .iter()
            .filter(|m| m.text.lines().any(|l| l == line))
            .count()
    }
}

/// Starts tandemd on node 0 as a service manager would.
fn start(lab: &mut Lab, socket: &Path, watchdog_pid: Option<&str>) -> (Pid, String) {
    let state = lab.state_dir(0).to_str().unwrap().to_owned();
    let control = format!("{state}/tandemd.sock");
    let config = lab.write(
        "tandemd.toml",
        "[[instance]]\nname = \"web\"\ninterface = \"eth0\"\nvrid = 10\n\
         addresses = [\"192.0.2.100/24\"]\ninterval = 0.1\n",
    );
    let ns = lab.nodes[0].ns.clone();
    let notify = format!("NOTIFY_SOCKET={}", socket.display());
    let watchdog = format!("WATCHDOG_USEC={WATCHDOG_USEC}");
    let pid_var = watchdog_pid.map(|p| format!("WATCHDOG_PID={p}"));
    let mut cmd = vec!["env", &notify, &watchdog];
    if let Some(p) = &pid_var {
        cmd.push(p);
    }
    cmd.extend([
        TANDEMD,
        "run",
        "--state-dir",
        &state,
        "--control-socket",
        &control,
        "--config",
        config.to_str().unwrap(),
    ]);
    (lab.spawn(&ns, "tandemd", &cmd), control)
}

fn answers(control: &str) -> bool {
    Command::new(TANDEMD)
        .args(["status", "--json", "--control-socket", control])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn ready_status_watchdog_reload_and_stop() {
    let Some(mut lab) = Lab::new("sdnotify", 2, &[]) else {
        return;
    };
    let path = lab.dir.join("notify.sock");
    let mut mgr = Manager::bind(&path);
    let (pid, control) = start(&mut lab, &path, None);

    // READY=1 comes once, and by then the control socket answers.
    let ready = mgr.wait_line("READY=1", Duration::from_secs(15));
    let ready = ready.unwrap_or_else(|| panic!("no READY=1:\n{}", lab.report()));
    assert!(
        answers(&control),
        "READY=1 before the control socket answers"
    );
    assert_eq!(mgr.count("READY=1", 0), 1);
    // Alone on the segment, the instance becomes Active: STATUS says so.
    assert!(
        mgr.wait_line("STATUS=active: web Active", Duration::from_secs(10))
            .is_some(),
        "no STATUS with the Active state: {:?}\n{}",
        mgr.got.iter().map(|m| &m.text).collect::<Vec<_>>(),
        lab.report()
    );

    // WATCHDOG=1 every 0.2 s: over 2 s, about 10 (bounds allow for a busy
    // machine; none at all, or one per turn of the loop, fails).
    let from = mgr.got.len();
    mgr.read_for(Duration::from_secs(2));
    let pings = mgr.count("WATCHDOG=1", from);
    assert!((5..=15).contains(&pings), "{pings} WATCHDOG=1 in 2 s");
    let ping_times: Vec<Instant> = mgr.got[from..]
        .iter()
        .filter(|m| m.text == "WATCHDOG=1")
        .map(|m| m.at)
        .collect();
    let longest = ping_times
        .windows(2)
        .map(|w| w[1] - w[0])
        .max()
        .unwrap_or_default();
    assert!(
        longest < Duration::from_millis(400),
        "a gap of {longest:?} between pings: the watchdog (0.4 s) would fire"
    );

    // SIGHUP: RELOADING=1, then READY=1 again.
    let before = mgr.got.len();
    lab.signal(pid, "HUP");
    let reloading = mgr.wait_line("RELOADING=1", Duration::from_secs(5));
    assert!(
        reloading.is_some_and(|i| i >= before),
        "no RELOADING=1 after SIGHUP"
    );
    let start = reloading.unwrap();
    let again = (|| {
        let end = Instant::now() + Duration::from_secs(5);
        while Instant::now() < end {
            if mgr.count("READY=1", start + 1) > 0 {
                return true;
            }
            mgr.read_for(Duration::from_millis(100));
        }
        false
    })();
    assert!(again, "no READY=1 after the reload");
    assert!(ready < start);

    // SIGTERM: STOPPING=1.
    lab.signal(pid, "TERM");
    assert!(
        mgr.wait_line("STOPPING=1", Duration::from_secs(5))
            .is_some(),
        "no STOPPING=1 at SIGTERM"
    );
    assert!(lab.wait_exit(pid, Duration::from_secs(10)));
}

#[test]
fn no_watchdog_for_another_process() {
    let Some(mut lab) = Lab::new("sdnotpid", 2, &[]) else {
        return;
    };
    let path = lab.dir.join("notify.sock");
    let mut mgr = Manager::bind(&path);
    // PID 1 is watched, not tandemd: it must not ping on its behalf.
    let (_pid, _control) = start(&mut lab, &path, Some("1"));
    assert!(
        mgr.wait_line("READY=1", Duration::from_secs(15)).is_some(),
        "no READY=1:\n{}",
        lab.report()
    );
    mgr.read_for(Duration::from_secs(1));
    assert_eq!(mgr.count("WATCHDOG=1", 0), 0);
}
