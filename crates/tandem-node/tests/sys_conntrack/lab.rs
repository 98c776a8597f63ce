//! The namespaces of the conntrack tests, `conntrack -L` read as fields,
//! and the routed three-namespace lab of the forwarding tests.

use std::collections::BTreeMap;
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use tandem_node::sys::conntrack::{proto, Conntrack, Entry, Tuple};

// ---------------------------------------------------------------- the lab

pub(crate) fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// Whether the test can run; panics under CI=true when it cannot.
pub(crate) fn can_run() -> bool {
    let why = if !is_root() {
        "the conntrack tests need root (network namespaces, ctnetlink)"
    } else if Command::new("conntrack").arg("--version").output().is_err() {
        "the conntrack tests need the conntrack command (Debian package conntrack)"
    } else {
        return true;
    };
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{why}, and CI=true");
    }
    eprintln!("skipped: {why}");
    false
}

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

/// A network namespace with conntrack events on; deleted on drop.
pub(crate) struct Ns(pub(crate) String);

pub(crate) static COUNTER: AtomicUsize = AtomicUsize::new(0);

impl Ns {
    pub(crate) fn new(tag: &str) -> Ns {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let ns = Ns(format!("tct-{tag}-{}-{n}", std::process::id()));
        run("ip", &["netns", "add", &ns.0]);
        run("ip", &["-n", &ns.0, "link", "set", "lo", "up"]);
        ns.sysctl("net.netfilter.nf_conntrack_events=1");
        ns
    }

    pub(crate) fn sysctl(&self, setting: &str) {
        run("ip", &["netns", "exec", &self.0, "sysctl", "-qw", setting]);
    }

    /// Runs `conntrack ARGS` in the namespace; its stdout.
    pub(crate) fn ct(&self, args: &[&str]) -> String {
        let mut all = vec!["netns", "exec", &self.0, "conntrack"];
        all.extend_from_slice(args);
        run("ip", &all)
    }

    pub(crate) fn ip(&self, args: &str) {
        let mut all = vec!["-n", &self.0];
        all.extend(args.split_whitespace());
        run("ip", &all);
    }

    pub(crate) fn nft(&self, args: &str) -> String {
        let mut all = vec!["netns", "exec", &self.0, "nft"];
        all.extend(args.split_whitespace());
        run("ip", &all)
    }

    /// Runs `f` on a thread inside the namespace.
    pub(crate) fn within<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let path = format!("/run/netns/{}", self.0);
        std::thread::spawn(move || {
            enter(&path);
            f()
        })
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e))
    }

    pub(crate) fn conntrack(&self) -> Conntrack {
        self.within(|| Conntrack::open().expect("open ctnetlink"))
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// Moves the calling thread into the network namespace at `path`.
#[allow(unsafe_code)]
pub(crate) fn enter(path: &str) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    // SAFETY: setns on a descriptor of a namespace file we hold open; it
    // changes only this thread's network namespace.
    let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(rc, 0, "setns {path}: {}", std::io::Error::last_os_error());
}

// ------------------------------------------------------ conntrack -L, read

/// One line of `conntrack -L`, as fields: `proto`, `timeout`, `state`
/// (if any), `mark`, `zone`, and the tuples as `src`/`dst`/`sport`/`dport`
/// (`type`/`code`/`id` for ICMP) prefixed `o.` and `r.`.
pub(crate) fn listed(ns: &Ns) -> Vec<BTreeMap<String, String>> {
    let out = ns.ct(&["-L"]);
    out.lines()
        .filter(|l| !l.trim().is_empty())
        .map(fields)
        .collect()
}

pub(crate) fn fields(line: &str) -> BTreeMap<String, String> {
    let mut f = BTreeMap::new();
    let mut words = line.split_whitespace();
    f.insert("proto".into(), words.nth(1).unwrap_or("").to_string());
    f.insert("timeout".into(), words.next().unwrap_or("").to_string());
    let mut dir = "o.";
    for w in words {
        if w.starts_with('[') {
            f.insert(w.trim_matches(['[', ']']).to_string(), String::new());
            continue;
        }
        let Some((k, v)) = w.split_once('=') else {
            f.insert("state".into(), w.to_string());
            continue;
        };
        if matches!(k, "mark" | "zone" | "use") {
            f.insert(k.into(), v.into());
            continue;
        }
        let key = format!("{dir}{k}");
        if f.contains_key(&key) {
            dir = "r.";
        }
        f.insert(format!("{dir}{k}"), v.into());
    }
    f
}

/// The listed entry whose original source port is `sport` (ICMP: id).
pub(crate) fn listed_by_port(
    list: &[BTreeMap<String, String>],
    sport: u16,
) -> &BTreeMap<String, String> {
    let s = sport.to_string();
    list.iter()
        .find(|f| f.get("o.sport") == Some(&s) || f.get("o.id") == Some(&s))
        .unwrap_or_else(|| panic!("no entry with port {sport} in {list:#?}"))
}

pub(crate) fn tuple(src: &str, dst: &str, sp: u16, dp: u16) -> Tuple {
    Tuple {
        src: src.parse().unwrap(),
        dst: dst.parse().unwrap(),
        src_port: sp,
        dst_port: dp,
    }
}

pub(crate) fn entry(p: u8, orig: Tuple, state: u8, timeout_s: u32, mark: u32) -> Entry {
    Entry {
        proto: p,
        zone: 0,
        orig,
        reply: orig.inverse(p),
        state,
        status: 0,
        timeout_s,
        mark,
        tcp: None,
        sctp: None,
        id: None,
    }
}

pub(crate) fn near(got: &str, want: u32) -> bool {
    got.parse::<u32>().is_ok_and(|g| g <= want && g + 2 >= want)
}

/// Asserts the listed entry `f` has `e`'s tuples, state, mark, timeout.
pub(crate) fn assert_listed(f: &BTreeMap<String, String>, e: &Entry) {
    let g = |k: &str| f.get(k).cloned().unwrap_or_default();
    for (d, t) in [("o.", e.orig), ("r.", e.reply)] {
        assert_eq!(g(&format!("{d}src")), t.src.to_string(), "{d}src of {f:?}");
        assert_eq!(g(&format!("{d}dst")), t.dst.to_string(), "{d}dst of {f:?}");
        if matches!(e.proto, proto::ICMP | proto::ICMPV6) {
            assert_eq!(g(&format!("{d}id")), t.src_port.to_string(), "{f:?}");
            assert_eq!(
                g(&format!("{d}type")),
                (t.dst_port >> 8).to_string(),
                "{f:?}"
            );
            assert_eq!(
                g(&format!("{d}code")),
                (t.dst_port & 0xff).to_string(),
                "{f:?}"
            );
        } else {
            assert_eq!(g(&format!("{d}sport")), t.src_port.to_string(), "{f:?}");
            assert_eq!(g(&format!("{d}dport")), t.dst_port.to_string(), "{f:?}");
        }
    }
    assert_eq!(g("mark"), e.mark.to_string(), "{f:?}");
    assert!(
        near(&g("timeout"), e.timeout_s),
        "timeout of {f:?}, want {}",
        e.timeout_s
    );
    if e.proto == proto::TCP {
        let names = ["NONE", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT"];
        assert_eq!(g("state"), names[usize::from(e.state)], "{f:?}");
    }
    if e.zone != 0 {
        assert_eq!(g("zone"), e.zone.to_string(), "{f:?}");
    }
}

// -------------------------------------------------- NAT forwarding proof

/// client (192.0.2.1) -- router (192.0.2.254 | 198.51.100.254) -- server
/// (198.51.100.2); the virtual address 203.0.113.10 is on no host and
/// the router has no route to it.
pub(crate) struct Routed {
    pub(crate) client: Ns,
    pub(crate) router: Ns,
    pub(crate) server: Ns,
}

impl Routed {
    pub(crate) fn new(tag: &str) -> Routed {
        let r = Routed {
            client: Ns::new(&format!("{tag}c")),
            router: Ns::new(&format!("{tag}r")),
            server: Ns::new(&format!("{tag}s")),
        };
        for (ns, dev, peer) in [(&r.client, "vc", "rc"), (&r.server, "vs", "rs")] {
            ns.ip(&format!(
                "link add {dev} type veth peer name {peer} netns {}",
                r.router.0
            ));
        }
        r.client.ip("addr add 192.0.2.1/24 dev vc");
        r.client.ip("link set vc up");
        r.client.ip("route add default via 192.0.2.254");
        r.server.ip("addr add 198.51.100.2/24 dev vs");
        r.server.ip("link set vs up");
        r.server.ip("route add default via 198.51.100.254");
        r.router.ip("addr add 192.0.2.254/24 dev rc");
        r.router.ip("addr add 198.51.100.254/24 dev rs");
        r.router.ip("link set rc up");
        r.router.ip("link set rs up");
        r.router.sysctl("net.ipv4.ip_forward=1");
        r.router.sysctl("net.netfilter.nf_conntrack_tcp_loose=0");
        r
    }

    /// NAT chains without a rule, and a forward chain that counts and
    /// drops what conntrack finds invalid.
    pub(crate) fn nat_hooks(&self) {
        self.router.nft("add table ip t");
        self.router
            .nft("add chain ip t pre { type nat hook prerouting priority -100 ; }");
        self.router
            .nft("add chain ip t post { type nat hook postrouting priority 100 ; }");
        self.router
            .nft("add chain ip t filter { type filter hook forward priority 0 ; }");
        self.router
            .nft("add rule ip t filter ct state invalid counter drop");
    }

    pub(crate) fn invalid_drops(&self) -> u64 {
        let out = self.router.nft("list chain ip t filter");
        out.split_whitespace()
            .skip_while(|w| *w != "packets")
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }
}
