//! End-to-end tests of cloud mode (docs/cloud.md): two tandemd on a
//! segment where, as in a cloud network, multicast and ARP do not arrive
//! (an nftables rule in each node's namespace drops 224.0.0.0/4 and every
//! ARP frame at ingress; the nodes know each other by static neighbour
//! entries). The pair advertises by unicast, has fixed roles (`[cloud]
//! role`), and a provider hook (`on_active` / `on_standby`): a shell
//! script that records each call in a file and fails its first call on
//! each node, so the retry shows. The health port answers 200 on the
//! Active node and 503 on the other, with `X-Tandem-State`, at each step.
//!
//! They need root, `ip`, `bridge`, `tcpdump`, `nft` and `curl`; without
//! them each test returns early saying why, except under `CI=true`, where
//! it fails. Every wait is bounded.

#[path = "e2e/lab.rs"]
#[allow(dead_code)]
mod lab;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use lab::{Lab, Pid, Tool};

/// The virtual address.
const VIP: &str = "192.0.2.100";
/// Bound on every wait: a failover at a 0.1 s interval takes under 0.5 s,
/// the rest is room for two busy cores.
const WAIT: Duration = Duration::from_secs(15);

/// Drops what a cloud network does not deliver: multicast (VRRP's
/// 224.0.0.18 among it) and ARP, gratuitous or not.
const NFT_RULES: &str = "table netdev cloud {
  chain ingress {
    type filter hook ingress device \"eth0\" priority 0; policy accept;
    ether type arp drop
    ip daddr 224.0.0.0/4 drop
  }
}
";

/// The provider hook: records its call, fails the first call of each hook
/// on each node (exit 3), then succeeds.
const HOOK: &str = r#"#!/bin/sh
echo "$TANDEM_CLOUD_HOOK $TANDEM_STATE attempt=$TANDEM_ATTEMPT role=$TANDEM_ROLE addresses=$TANDEM_ADDRESSES instances=$TANDEM_INSTANCES" >> "$1"
if [ ! -e "$1.$TANDEM_CLOUD_HOOK.failed" ]; then
    : > "$1.$TANDEM_CLOUD_HOOK.failed"
    exit 3
fi
exit 0
"#;

fn have_curl() -> bool {
    Command::new("curl")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The pair: a is the primary, b the secondary.
struct CloudPair {
    lab: Lab,
    hook: PathBuf,
    failback: bool,
}

impl CloudPair {
    fn new(tag: &str, failback: bool) -> Option<CloudPair> {
        let lab = Lab::new(tag, 2, &[Tool::Nft])?;
        if !have_curl() {
            let why = "the end-to-end test needs curl (Debian package: curl)";
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("{why}, and CI=true: the end-to-end tests must run in CI");
            }
            eprintln!("skipped: {why}");
            return None;
        }
        let rules = lab.write("cloud.nft", NFT_RULES);
        for k in 0..2 {
            let ns = lab.node(k).ns.clone();
            lab.in_ns(&ns, &["nft", "-f", rules.to_str().unwrap()]);
            // No ARP: the partner's MAC is known statically, as a cloud
            // network's own neighbour resolution would give it.
            let other = 1 - k;
            let peer = lab.node(other).v4.clone();
            let mac = lab::mac_string(lab.node(other).mac);
            lab.in_ns(
                &ns,
                &[
                    "ip",
                    "neigh",
                    "replace",
                    &peer,
                    "lladdr",
                    &mac,
                    "dev",
                    "eth0",
                    "nud",
                    "permanent",
                ],
            );
        }
        let hook = lab.write("hook.sh", HOOK);
        Some(CloudPair {
            lab,
            hook,
            failback,
        })
    }

    fn calls_file(&self, k: usize) -> PathBuf {
        self.lab.dir.join(format!("calls-{k}"))
    }

    /// The hook's calls on node `k`, one line each.
    fn calls(&self, k: usize) -> Vec<String> {
        std::fs::read_to_string(self.calls_file(k))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn conf(&self, k: usize) -> String {
        let role = ["primary", "secondary"][k];
        let peer = &self.lab.node(1 - k).v4;
        let hook = self.hook.display();
        let calls = self.calls_file(k);
        let calls = calls.display();
        format!(
            "[health]\nlisten = \"0.0.0.0:8080\"\n\n\
             [cloud]\nrole = \"{role}\"\nfailback = {}\n\
             on_active = \"/bin/sh {hook} {calls}\"\non_standby = \"/bin/sh {hook} {calls}\"\n\
             attempts = 5\nretry_delay = 0.2\nhook_timeout = 5\n\n\
             [[instance]]\nname = \"web\"\ninterface = \"eth0\"\nvrid = 51\ninterval = 0.1\n\
             addresses = [\"{VIP}/24\"]\nunicast_peers = [\"{peer}\"]\n\
             announce = {{ repeat = 0, refresh_after = 0 }}\n",
            self.failback
        )
    }

    fn start(&mut self, k: usize) -> Pid {
        let conf = self.lab.write(&format!("tandemd-{k}.toml"), &self.conf(k));
        let label = format!("tandemd-{k}");
        self.lab
            .tandemd(k, &label, &["--config", conf.to_str().unwrap()])
    }

    /// `GET /health` on node `k` from inside its namespace: the status
    /// code and the `X-Tandem-State` header (0 and "" when it does not
    /// answer).
    fn probe(&self, k: usize, query: &str) -> (u16, String, String) {
        let ns = &self.lab.node(k).ns;
        let url = format!("http://{}:8080/health{query}", self.lab.node(k).v4);
        let out = Command::new("ip")
            .args(["netns", "exec", ns, "curl", "-s", "-i", "-m", "3", &url])
            .output()
            .expect("curl runs");
        let raw = String::from_utf8_lossy(&out.stdout).into_owned();
        let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
        let code = head
            .lines()
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let state = head
            .lines()
            .find_map(|l| {
                let (n, v) = l.split_once(':')?;
                n.eq_ignore_ascii_case("x-tandem-state")
                    .then(|| v.trim().to_owned())
            })
            .unwrap_or_default();
        (code, state, body.to_owned())
    }

    /// Waits until node `k`'s health port answers `code` with `state`.
    fn wait_probe(&self, k: usize, code: u16, state: &str) {
        let mut last = (0, String::new(), String::new());
        let ok = lab::wait_for(WAIT, || {
            last = self.probe(k, "");
            last.0 == code && last.1 == state
        });
        assert!(
            ok.is_some(),
            "node {k}: health {last:?}, expected {code} {state}; {}",
            self.lab.report()
        );
    }

    /// Waits until node `k`'s hook was called `n` times with lines that
    /// start with `what`.
    fn wait_calls(&self, k: usize, what: &str, n: usize) {
        let ok = lab::wait_for(WAIT, || {
            self.calls(k).iter().filter(|l| l.starts_with(what)).count() >= n
        });
        assert!(
            ok.is_some(),
            "node {k}: hook calls {:?}, expected {n} of {what:?}; {}",
            self.calls(k),
            self.lab.report()
        );
    }
}

/// The pair up, a Active and its hook retried once; b Backup. Checks the
/// health port on both.
fn start_pair(p: &mut CloudPair) {
    p.start(0);
    p.start(1);
    p.lab.wait_only(0, VIP, &[], WAIT);
    p.wait_probe(0, 200, "active");
    p.wait_probe(1, 503, "standby");
    // The first call failed (exit 3), the second, 0.2 s later, succeeded.
    p.wait_calls(0, "on_active active attempt=1 role=primary", 1);
    p.wait_calls(0, "on_active active attempt=2 role=primary", 1);
    let first = &p.calls(0)[0];
    assert!(
        first.ends_with(&format!("addresses={VIP} instances=web")),
        "{first}"
    );
    // No more attempts after the success; b's hook never ran.
    std::thread::sleep(Duration::from_millis(600));
    let on_active = |k| {
        p.calls(k)
            .iter()
            .filter(|l| l.starts_with("on_active"))
            .count()
    };
    assert_eq!(on_active(0), 2, "{:?}", p.calls(0));
    assert!(p.calls(1).is_empty(), "{:?}", p.calls(1));
    // The JSON form says the same.
    let (code, _, body) = p.probe(0, "?format=json");
    let v: serde_json::Value =
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(code, 200);
    assert_eq!(v["active"], true);
    assert_eq!(v["cloud"]["role"], "primary");
    assert_eq!(v["cloud"]["state"], "active");
    assert_eq!(v["cloud"]["hook"]["state"], "done");
    assert_eq!(v["instances"][0]["state"], "Active");
}

/// The primary crashes: the secondary takes over and its hook runs
/// (failing once, then succeeding).
fn crash_primary(p: &mut CloudPair) {
    p.lab.crash(0);
    p.lab.wait_only(1, VIP, &[0], WAIT);
    p.wait_probe(1, 200, "active");
    p.wait_calls(1, "on_active active attempt=1 role=secondary", 1);
    p.wait_calls(1, "on_active active attempt=2 role=secondary", 1);
    assert_eq!(p.probe(0, "").0, 0, "the crashed node answers nothing");
}

#[test]
fn cloud_pair_fails_back_to_the_primary() {
    let Some(mut p) = CloudPair::new("cloud-fb", true) else {
        return;
    };
    start_pair(&mut p);
    crash_primary(&mut p);
    // The primary returns and takes the Active role back (failback); the
    // secondary's on_standby runs.
    p.start(0);
    p.lab.wait_only(0, VIP, &[], WAIT);
    p.wait_probe(0, 200, "active");
    p.wait_probe(1, 503, "standby");
    // a's marker exists: its on_active succeeds at the first attempt.
    p.wait_calls(0, "on_active active attempt=1 role=primary", 2);
    p.wait_calls(1, "on_standby standby attempt=1 role=secondary", 1);
    p.wait_calls(1, "on_standby standby attempt=2 role=secondary", 1);
    p.lab.hold_only(0, VIP, Duration::from_millis(500));
}

#[test]
fn cloud_pair_without_failback_stays_on_the_secondary() {
    let Some(mut p) = CloudPair::new("cloud-nofb", false) else {
        return;
    };
    start_pair(&mut p);
    crash_primary(&mut p);
    // The primary returns and stays Backup: no failback.
    p.start(0);
    p.wait_probe(0, 503, "standby");
    p.lab.hold_only(1, VIP, Duration::from_secs(2));
    assert_eq!(p.probe(1, "").0, 200);
    assert!(
        !p.calls(0)
            .iter()
            .skip(2)
            .any(|l| l.starts_with("on_active")),
        "a ran on_active again: {:?}",
        p.calls(0)
    );
    assert!(
        !p.calls(1).iter().any(|l| l.starts_with("on_standby")),
        "b left Active: {:?}",
        p.calls(1)
    );
}
