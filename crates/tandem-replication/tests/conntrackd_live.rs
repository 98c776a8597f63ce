//! Live interop with a real conntrackd (1.4.7), in two network namespaces
//! this test creates and removes (192.0.2.1 ours, 192.0.2.2 conntrackd's,
//! joined by a veth; UDP unicast channel on port 3780):
//!
//! - conntrackd -> ours: entries made with `conntrack -I` in conntrackd's
//!   namespace land in our endpoint's mirror;
//! - ours -> conntrackd: flows we upsert land in conntrackd's external
//!   cache (`conntrackd -e`) and, after `conntrackd -c`, in its kernel
//!   table (`conntrack -L`);
//!
//! in FT-FW, and conntrackd -> ours in NOTRACK.
//!
//! **Our endpoint's driver is this test binary.** Its UDP socket must live
//! in our namespace, so the test runs itself there: `ip netns exec NS
//! <this binary> --exact driver_child --nocapture` with the mode in
//! `TANDEM_CTD_DRIVER`. The "test" `driver_child` then drives an
//! [`Endpoint`] over a std UDP socket, taking commands on stdin and
//! answering on stdout (`upsert ...`, `mirror`, `status`, `quit`); without
//! that variable it returns at once.
//!
//! Needs root and `ip`, `sysctl`, `conntrack`, `conntrackd`; without them
//! it returns early saying why, except under `CI=true`, where it fails.
//! Every process is stopped by its PID and the namespaces are removed on
//! drop, also when an assertion fails.

use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant as StdInstant};

use tandem_replication::conntrackd::endpoint::{Config, Endpoint, Mode, Output};
use tandem_replication::flow::{status, Flow, Tuple, NO_BACKEND};
use tandem_time::Instant;

const DRIVER_ENV: &str = "TANDEM_CTD_DRIVER";
const OURS: &str = "192.0.2.1";
const THEIRS: &str = "192.0.2.2";
const PORT: u16 = 3780;
/// Longest any wait may take.
const SETTLE: Duration = Duration::from_secs(15);

// ------------------------------------------------------------ the driver

fn parse_mode(s: &str) -> Mode {
    if s == "NOTRACK" {
        Mode::Notrack
    } else {
        Mode::Ftfw
    }
}

/// `upsert PROTO SRC SPORT DST DPORT RSRC RSPORT STATE STATUS TIMEOUT_S`
fn parse_upsert(w: &[&str]) -> Option<Flow> {
    let p: u8 = w.first()?.parse().ok()?;
    let ip = |i: usize| -> Option<IpAddr> { w.get(i)?.parse().ok() };
    let port = |i: usize| -> Option<u16> { w.get(i)?.parse().ok() };
    let original = Tuple {
        src: ip(1)?,
        src_port: port(2)?,
        dst: ip(3)?,
        dst_port: port(4)?,
    };
    let mut reply = original.inverse(p);
    reply.src = ip(5)?;
    reply.src_port = port(6)?;
    Some(Flow {
        proto: p,
        zone: 0,
        original,
        reply,
        state: w.get(7)?.parse().ok()?,
        status: w.get(8)?.parse().ok()?,
        lifetime_ms: w.get(9)?.parse::<u32>().ok()? * 1000,
        backend: NO_BACKEND,
        mark: 0,
        window: None,
    })
}

fn print_flow(f: &Flow) {
    let (o, r) = (&f.original, &f.reply);
    println!(
        "flow {} {} {} {} {} {} {} {} {} {} {} {}",
        f.proto,
        o.src,
        o.src_port,
        o.dst,
        o.dst_port,
        r.src,
        r.src_port,
        r.dst,
        r.dst_port,
        f.state,
        f.mark,
        f.lifetime_ms
    );
}

/// Our endpoint on a real socket: the driver loop of a unit, in small.
#[test]
fn driver_child() {
    let Ok(mode) = std::env::var(DRIVER_ENV) else {
        return;
    };
    let sock = UdpSocket::bind((OURS, PORT)).expect("bind the sync port");
    let peer: SocketAddr = (THEIRS.parse::<IpAddr>().unwrap(), PORT).into();
    let start = StdInstant::now();
    let now = || Instant::from_duration(start.elapsed());
    let unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_secs() as u32);
    let mut ep = Endpoint::new(Config::new(parse_mode(&mode), unix), now());
    ep.set_active(now(), true);
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut buf = vec![0u8; 65536];
    while start.elapsed() < Duration::from_secs(120) {
        while let Ok(line) = rx.try_recv() {
            let w: Vec<&str> = line.split_whitespace().collect();
            match w.first().copied() {
                Some("upsert") => {
                    let f = parse_upsert(&w[1..]).expect("upsert line");
                    ep.upsert_flow(now(), f).expect("table room");
                    println!("ok");
                }
                Some("mirror") => {
                    for f in ep.mirror_flows(now()) {
                        print_flow(&f);
                    }
                    println!("end");
                }
                Some("status") => println!("{:?}", ep.status()),
                Some("quit") | None => return,
                Some(other) => panic!("unknown command {other}"),
            }
            std::io::stdout().flush().unwrap();
        }
        while let Some(o) = ep.poll_output() {
            match o {
                Output::Send(d) => {
                    let _ = sock.send_to(&d, peer);
                }
                Output::Event(e) => eprintln!("driver: event {}", e.name()),
            }
        }
        let wait = ep
            .poll_timeout()
            .map_or(Duration::from_millis(50), |t| t.saturating_since(now()))
            .clamp(Duration::from_millis(1), Duration::from_millis(50));
        sock.set_read_timeout(Some(wait)).unwrap();
        if let Ok((n, from)) = sock.recv_from(&mut buf) {
            if from.ip() == peer.ip() {
                ep.handle_datagram(now(), &buf[..n]);
            }
        }
        ep.handle_timeout(now());
    }
}

// ------------------------------------------------------------ the lab

/// Why this host cannot run the test, if it cannot.
fn missing() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let root = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .is_some_and(|l| l.split_whitespace().nth(1) == Some("0"));
    if !root {
        return Some("not root".into());
    }
    let path = std::env::var("PATH").unwrap_or_default();
    for tool in ["ip", "sysctl", "conntrack", "conntrackd"] {
        let found = path
            .split(':')
            .any(|d| std::path::Path::new(d).join(tool).is_file());
        if !found {
            return Some(format!("{tool} not found in PATH"));
        }
    }
    None
}

/// Returns true when the test should run; prints why not, or fails under CI.
fn can_run() -> bool {
    match missing() {
        None => true,
        Some(why) if std::env::var("CI").as_deref() == Ok("true") => panic!("CI=true: {why}"),
        Some(why) => {
            eprintln!("skipping conntrackd live test: {why}");
            false
        }
    }
}

/// Runs `cmd ARGS` to success; its stdout.
fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd} {args:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `ARGV` in namespace `ns` (`ip netns exec`) to success; its stdout.
fn in_ns(ns: &str, args: &[&str]) -> String {
    let out = Command::new("ip")
        .args(["netns", "exec", ns])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{ns}: {args:?}: {e}"));
    assert!(
        out.status.success(),
        "{ns}: {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Two namespaces, conntrackd in one, our driver in the other; all undone
/// on drop.
struct Lab {
    ours: String,
    theirs: String,
    dir: PathBuf,
    conntrackd: Option<Child>,
    driver: Option<Child>,
    to_driver: Option<ChildStdin>,
    from_driver: Option<mpsc::Receiver<String>>,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl Lab {
    fn new(mode: &str) -> Lab {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let id = format!("{}{}", std::process::id(), n);
        let dir = std::env::temp_dir().join(format!("tandem-ctd-live-{id}"));
        std::fs::create_dir_all(&dir).unwrap();
        let mut lab = Lab {
            ours: format!("ctdo{id}"),
            theirs: format!("ctdt{id}"),
            dir,
            conntrackd: None,
            driver: None,
            to_driver: None,
            from_driver: None,
        };
        let (va, vb) = (format!("co{id}"), format!("ct{id}"));
        run("ip", &["netns", "add", &lab.ours]);
        run("ip", &["netns", "add", &lab.theirs]);
        run(
            "ip",
            &["link", "add", &va, "type", "veth", "peer", "name", &vb],
        );
        run(
            "ip",
            &["link", "set", &va, "netns", &lab.ours, "name", "veth0"],
        );
        run(
            "ip",
            &["link", "set", &vb, "netns", &lab.theirs, "name", "veth0"],
        );
        for (ns, addr) in [(&lab.ours, OURS), (&lab.theirs, THEIRS)] {
            run(
                "ip",
                &[
                    "-n",
                    ns,
                    "addr",
                    "add",
                    &format!("{addr}/24"),
                    "dev",
                    "veth0",
                ],
            );
            run("ip", &["-n", ns, "link", "set", "lo", "up"]);
            run("ip", &["-n", ns, "link", "set", "veth0", "up"]);
        }
        in_ns(
            &lab.theirs,
            &["sysctl", "-q", "-w", "net.netfilter.nf_conntrack_events=1"],
        );
        let conf = lab.conf(mode);
        std::fs::write(lab.dir.join("conntrackd.conf"), conf).unwrap();
        let log = std::fs::File::create(lab.dir.join("conntrackd.out")).unwrap();
        lab.conntrackd = Some(
            Command::new("ip")
                .args(["netns", "exec", &lab.theirs, "conntrackd", "-C"])
                .arg(lab.dir.join("conntrackd.conf"))
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .expect("start conntrackd"),
        );
        let exe = std::env::current_exe().expect("the test binary's path");
        let mut driver = Command::new("ip")
            .args(["netns", "exec", &lab.ours])
            .arg(&exe)
            .args(["--exact", "driver_child", "--nocapture", "--test-threads=1"])
            .env(DRIVER_ENV, mode)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the driver");
        lab.to_driver = driver.stdin.take();
        let stdout = driver.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        lab.driver = Some(driver);
        lab.from_driver = Some(rx);
        // conntrackd is up when its control socket answers.
        lab.wait("conntrackd's control socket", || {
            lab.ctl(&["-s", "network"]).is_some()
        });
        lab
    }

    fn conf(&self, mode: &str) -> String {
        let d = self.dir.display();
        let mode_block = if mode == "NOTRACK" {
            "Mode NOTRACK {\n\t\tDisableInternalCache Off\n\t\tDisableExternalCache Off\n\t}"
        } else {
            "Mode FTFW {\n\t\tResendQueueSize 131072\n\t\tACKWindowSize 300\n\t\tDisableExternalCache Off\n\t}"
        };
        format!(
            "Sync {{\n\t{mode_block}\n\tUDP Default {{\n\t\tIPv4_address {THEIRS}\n\t\tIPv4_Destination_Address {OURS}\n\t\tPort {PORT}\n\t\tInterface veth0\n\t\tChecksum on\n\t}}\n}}\nGeneral {{\n\tHashSize 8192\n\tHashLimit 65536\n\tLogFile {d}/conntrackd.log\n\tSyslog off\n\tLockFile {d}/lock\n\tUNIX {{\n\t\tPath {d}/ctl\n\t}}\n\tNetlinkBufferSize 2097152\n\tNetlinkBufferSizeMaxGrowth 8388608\n\tFilter From Userspace {{\n\t\tAddress Ignore {{\n\t\t\tIPv4_address 127.0.0.1\n\t\t\tIPv4_address {OURS}\n\t\t\tIPv4_address {THEIRS}\n\t\t\tIPv6_address ::1\n\t\t}}\n\t}}\n}}\n"
        )
    }

    /// `conntrackd -C CONF ARGS` in conntrackd's namespace, or None if it failed.
    fn ctl(&self, args: &[&str]) -> Option<String> {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.theirs, "conntrackd", "-C"])
            .arg(self.dir.join("conntrackd.conf"))
            .args(args)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn wait(&self, what: &str, mut ok: impl FnMut() -> bool) {
        let t = StdInstant::now();
        while t.elapsed() < SETTLE {
            if ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let log = std::fs::read_to_string(self.dir.join("conntrackd.log")).unwrap_or_default();
        panic!("timed out waiting for {what}; conntrackd's log:\n{log}");
    }

    /// Sends a command to the driver and reads its answer up to `until`.
    fn ask(&mut self, cmd: &str, until: &str) -> Vec<String> {
        let w = self.to_driver.as_mut().unwrap();
        writeln!(w, "{cmd}").unwrap();
        w.flush().unwrap();
        let rx = self.from_driver.as_ref().unwrap();
        let mut lines = Vec::new();
        loop {
            let line = rx.recv_timeout(SETTLE).expect("the driver answers");
            let done = line.starts_with(until);
            lines.push(line);
            if done {
                return lines;
            }
        }
    }

    /// Our mirror: (proto, original src, sport, dst, dport, reply src, rsport, state, mark).
    fn mirror(&mut self) -> Vec<Vec<String>> {
        self.ask("mirror", "end")
            .into_iter()
            .filter_map(|l| {
                l.strip_prefix("flow ")
                    .map(|r| r.split_whitespace().map(String::from).collect())
            })
            .collect()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Some(w) = self.to_driver.as_mut() {
            let _ = writeln!(w, "quit");
        }
        for child in [self.driver.take(), self.conntrackd.take()]
            .into_iter()
            .flatten()
        {
            let mut child = child;
            let t = StdInstant::now();
            while t.elapsed() < Duration::from_secs(2) {
                if matches!(child.try_wait(), Ok(Some(_))) {
                    break;
                }
                if child.id() != 0 && t.elapsed() > Duration::from_millis(300) {
                    let _ = child.kill();
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.ours])
            .status();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.theirs])
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Entries conntrackd's kernel gets, and what our mirror must show for
/// each: (conntrack -I args, proto, src, sport, dst, dport, reply src, reply sport, state).
const THEIR_ENTRIES: &[(&str, &str)] = &[
    (
        "-p tcp -s 198.51.100.10 -d 203.0.113.20 --sport 40000 --dport 80 --state ESTABLISHED -u SEEN_REPLY,ASSURED -t 600",
        "6 198.51.100.10 40000 203.0.113.20 80 203.0.113.20 80 3",
    ),
    (
        "-p udp -s 198.51.100.11 -d 203.0.113.21 --sport 5353 --dport 53 -t 30",
        "17 198.51.100.11 5353 203.0.113.21 53 203.0.113.21 53 0",
    ),
    (
        "-p icmp -s 198.51.100.12 -d 203.0.113.22 --icmp-type 8 --icmp-code 0 --icmp-id 4660 -t 30",
        "1 198.51.100.12 4660 203.0.113.22 2048 203.0.113.22 4660 0",
    ),
    (
        "-p tcp -s fd00::10 -d fd00::20 --sport 40001 --dport 443 --state ESTABLISHED -u SEEN_REPLY,ASSURED -t 600",
        "6 fd00::10 40001 fd00::20 443 fd00::20 443 3",
    ),
    (
        "-p tcp -s 198.51.100.13 -d 203.0.113.80 --sport 40002 --dport 80 --dst-nat 203.0.113.100:8080 --state ESTABLISHED -u SEEN_REPLY,ASSURED -t 600",
        "6 198.51.100.13 40002 203.0.113.80 80 203.0.113.100 8080 3",
    ),
];

fn conntrackd_to_ours(lab: &mut Lab) {
    for (args, _) in THEIR_ENTRIES {
        let mut a = vec!["conntrack", "-I"];
        a.extend(args.split_whitespace());
        in_ns(&lab.theirs, &a);
    }
    let want: Vec<Vec<String>> = THEIR_ENTRIES
        .iter()
        .map(|(_, w)| w.split_whitespace().map(String::from).collect())
        .collect();
    // proto, original src sport dst dport, reply src sport, state.
    let key =
        |g: &Vec<String>| -> Vec<String> { g[..7].iter().chain(&g[9..10]).cloned().collect() };
    let t = StdInstant::now();
    let mut got = Vec::new();
    while t.elapsed() < SETTLE {
        got = lab.mirror();
        let found = want
            .iter()
            .filter(|w| got.iter().any(|g| key(g) == **w))
            .count();
        if found == want.len() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    for w in &want {
        assert!(
            got.iter().any(|g| key(g) == *w),
            "mirror lacks {w:?}: {got:?}"
        );
    }
    // Timeouts travel: the TCP entry's lifetime is conntrack's 600 s
    // (read when the event was built: 599 or 600).
    let tcp = got.iter().find(|g| g[1] == "198.51.100.10").unwrap();
    let ms: u32 = tcp[11].parse().unwrap();
    assert!((599_000..=600_000).contains(&ms), "{tcp:?}");
    // A delete reaches the mirror too.
    in_ns(
        &lab.theirs,
        &["conntrack", "-D", "-p", "udp", "-s", "198.51.100.11"],
    );
    let t = StdInstant::now();
    while t.elapsed() < SETTLE && lab.mirror().iter().any(|g| g[1] == "198.51.100.11") {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        !lab.mirror().iter().any(|g| g[1] == "198.51.100.11"),
        "CT_DEL applied"
    );
}

#[test]
fn ftfw_conntrackd_and_ours_exchange_entries() {
    if !can_run() {
        return;
    }
    let mut lab = Lab::new("FTFW");
    conntrackd_to_ours(&mut lab);

    // ours -> conntrackd: a plain TCP flow, a UDP flow, a DNAT flow.
    let st = status::CONFIRMED | status::ASSURED | status::SEEN_REPLY;
    let nat = st | status::DST_NAT | status::SRC_NAT_DONE | status::DST_NAT_DONE;
    let ours = [
        format!("upsert 6 198.51.100.50 40100 203.0.113.50 80 203.0.113.50 80 3 {st} 600"),
        format!(
            "upsert 17 198.51.100.51 5000 203.0.113.51 53 203.0.113.51 53 0 {} 60",
            status::CONFIRMED
        ),
        format!("upsert 6 198.51.100.52 40101 203.0.113.80 80 203.0.113.100 8080 3 {nat} 600"),
    ];
    for cmd in &ours {
        lab.ask(cmd, "ok");
    }
    let srcs = ["198.51.100.50", "198.51.100.51", "198.51.100.52"];
    lab.wait("our flows in conntrackd's external cache", || {
        let ext = lab.ctl(&["-e"]).unwrap_or_default();
        srcs.iter().all(|s| ext.contains(&format!("src={s} ")))
    });
    let ext = lab.ctl(&["-e"]).unwrap();
    assert!(
        ext.lines().any(|l| l.contains("src=198.51.100.50 ")
            && l.contains("ESTABLISHED")
            && l.contains("dport=80")),
        "{ext}"
    );
    // Commit the external cache into conntrackd's kernel table.
    lab.ctl(&["-c"]).expect("conntrackd -c");
    let t = StdInstant::now();
    let mut kernel = String::new();
    while t.elapsed() < SETTLE {
        kernel = in_ns(&lab.theirs, &["conntrack", "-L"]);
        if srcs.iter().all(|s| kernel.contains(&format!("src={s} "))) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let line = |src: &str| {
        kernel
            .lines()
            .find(|l| l.contains(&format!("src={src} ")))
            .unwrap_or_else(|| panic!("{src} not committed:\n{kernel}"))
            .to_string()
    };
    let tcp = line("198.51.100.50");
    assert!(
        tcp.contains("ESTABLISHED") && tcp.contains("sport=40100 dport=80"),
        "{tcp}"
    );
    let udp = line("198.51.100.51");
    assert!(
        udp.starts_with("udp") && udp.contains("sport=5000 dport=53"),
        "{udp}"
    );
    // The DNAT flow's reply comes from the real server.
    let dnat = line("198.51.100.52");
    assert!(
        dnat.contains("src=203.0.113.100 dst=198.51.100.52 sport=8080 dport=40101"),
        "{dnat}"
    );
    // conntrackd answers our HELLO with HELLO_BACK (on its next message,
    // within its 1 s alive period), and acknowledges what we sent: at most
    // our last ACK waits in the resend queue (the two sides acknowledge
    // each other's ACKs every second).
    let t = StdInstant::now();
    let mut status = Vec::new();
    let resend = |s: &str| -> usize {
        let v = s.split("resend_queue: ").nth(1).unwrap_or("9");
        v.split(',')
            .next()
            .unwrap_or("9")
            .trim()
            .parse()
            .unwrap_or(9)
    };
    while t.elapsed() < SETTLE {
        status = lab.ask("status", "Status");
        if status[0].contains("hello_done: true") && resend(&status[0]) <= 1 {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(status[0].contains("hello_done: true"), "{status:?}");
    assert!(resend(&status[0]) <= 1, "all acknowledged: {status:?}");
    assert!(status[0].contains("retransmitted: 0"), "{status:?}");
}

#[test]
fn notrack_conntrackd_to_ours() {
    if !can_run() {
        return;
    }
    let mut lab = Lab::new("NOTRACK");
    conntrackd_to_ours(&mut lab);
    let status = lab.ask("status", "Status");
    assert!(status[0].contains("acks_sent: 0"), "{status:?}");
}
