//! End-to-end tests of health checks (docs/checks.md): two tandemd on a
//! segment, node 0 preferred (priority 150) and node 1 (priority 100).
//! Node 0 tracks checks; when one fails, its priority falls below node
//! 1's (or it goes to Fault), node 1 takes the virtual address, and when
//! the check passes again node 0 takes it back. The checks are real: a
//! script (`test ! -e FLAG`), a tracked file holding a number, a TCP
//! connect, an HTTP GET and an HTTPS GET (its certificate checked against
//! a CA file) to a service in node 0's namespace (this test binary, run
//! again there as `service_child`, whose control file makes it answer
//! 200, answer 503, or close its listener). `tandemd status
//! --json` shows each check's state.
//!
//! They need root, `ip`, `bridge` and `tcpdump`; without them each test
//! returns early saying why, except under `CI=true`, where it fails.
//! Every wait is bounded.

#[path = "e2e/lab.rs"]
#[allow(dead_code)]
mod lab;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lab::{Lab, Pid, TANDEMD};
use serde_json::Value;

const VIP: &str = "192.0.2.100";
const VIP2: &str = "192.0.2.101";
/// Bound on every wait: a check falls in under 1 s (interval 0.2 s, fall
/// 2) and a failover at 0.1 s intervals takes under 0.5 s; the rest is
/// room for two busy cores.
const WAIT: Duration = Duration::from_secs(20);

/// The environment variable that makes `service_child` serve: the
/// address to listen on and the control file, `ADDR PATH`, then for TLS
/// the certificate and key files, `ADDR PATH CERT KEY`.
const SERVICE_ENV: &str = "TANDEM_E2E_CHECK_SERVICE";
/// The service gives up after this long, whatever happens.
const SERVICE_LIFE: Duration = Duration::from_secs(180);

/// One instance of the pair, `extra` lines appended.
fn instance(name: &str, vrid: u8, prio: u8, vip: &str, extra: &str) -> String {
    format!(
        "[[instance]]\nname = \"{name}\"\ninterface = \"eth0\"\nvrid = {vrid}\npriority = {prio}\n\
         interval = 0.1\naddresses = [\"{vip}/24\"]\nannounce = {{ repeat = 0, refresh_after = 0 }}\n{extra}\n"
    )
}

fn start(lab: &mut Lab, k: usize, conf: &str) -> Pid {
    let path = lab.write(&format!("tandemd-{k}.toml"), conf);
    lab.tandemd(
        k,
        &format!("tandemd-{k}"),
        &["--config", path.to_str().unwrap()],
    )
}

/// `tandemd status --json` of node `k`.
fn status(lab: &Lab, k: usize) -> Option<Value> {
    let out = Command::new(TANDEMD)
        .args(["status", "--json", "--control-socket"])
        .arg(lab.state_dir(k).join("tandemd.sock"))
        .stdin(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    serde_json::from_slice(&out.stdout).ok()
}

/// Waits until check `name` on node `k` is in `state`; returns its status.
fn wait_check(lab: &Lab, k: usize, name: &str, state: &str) -> Value {
    let mut last = Value::Null;
    let ok = lab::wait_for(WAIT, || {
        let Some(s) = status(lab, k) else {
            return false;
        };
        let Some(c) = s["checks"]
            .as_array()
            .and_then(|l| l.iter().find(|c| c["name"] == name))
        else {
            return false;
        };
        last = c.clone();
        c["state"] == state
    });
    assert!(
        ok.is_some(),
        "check {name} on node {k}: {last}, expected {state}; {}",
        lab.report()
    );
    last
}

fn instance_state(lab: &Lab, k: usize, name: &str) -> String {
    status(lab, k)
        .and_then(|s| {
            s["instances"]
                .as_array()?
                .iter()
                .find(|i| i["name"] == name)
                .map(|i| i["state"].as_str().unwrap_or("").to_owned())
        })
        .unwrap_or_default()
}

#[test]
fn script_and_file_checks_move_the_address_and_back() {
    let Some(mut lab) = Lab::new("chk-sf", 2, &[]) else {
        return;
    };
    let flag = lab.dir.join("svc-down");
    let weight = lab.dir.join("weight");
    std::fs::write(&weight, "0\n").unwrap();
    let checks = format!(
        "[[check]]\nname = \"svc\"\nscript = \"test ! -e {}\"\ninterval = 0.2\ntimeout = 0.2\n\
         rise = 2\nfall = 2\nweight = 60\n\n\
         [[check]]\nname = \"lb\"\nfile = \"{}\"\ninterval = 0.2\n\n",
        flag.display(),
        weight.display()
    );
    let a = format!(
        "{checks}{}",
        instance(
            "web",
            51,
            150,
            VIP,
            "track = [{ check = \"svc\" }, { check = \"lb\", weight = 1 }]"
        )
    );
    let pa = start(&mut lab, 0, &a);
    start(&mut lab, 1, &instance("web", 51, 100, VIP, ""));
    lab.wait_only(0, VIP, &[], WAIT);
    let c = wait_check(&lab, 0, "svc", "up");
    assert_eq!(c["kind"], "script");
    assert_eq!(c["tracked_by"][0], "web");

    // The script fails: 150 - 60 = 90 < 100, node 1 takes over.
    std::fs::write(&flag, "").unwrap();
    let c = wait_check(&lab, 0, "svc", "down");
    assert_eq!(c["last_result"], "fail");
    assert!(c["failures"].as_u64().unwrap() >= 2, "{c}");
    lab.wait_only(1, VIP, &[], WAIT);
    // It passes again: node 0 preempts.
    std::fs::remove_file(&flag).unwrap();
    wait_check(&lab, 0, "svc", "up");
    lab.wait_only(0, VIP, &[], WAIT);

    // The file's number times the weight: -60 lowers 150 to 90.
    std::fs::write(&weight, "-60\n").unwrap();
    lab.wait_only(1, VIP, &[], WAIT);
    let s = status(&lab, 0).expect("status");
    let lb = s["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "lb")
        .unwrap();
    assert_eq!(lb["value"], -60, "{lb}");
    // A positive number raises nothing, and 0 restores the priority.
    std::fs::write(&weight, "0\n").unwrap();
    lab.wait_only(0, VIP, &[], WAIT);
    // The event log names each change.
    let log = lab.log(pa);
    assert!(log.contains("check svc: down"), "{log}");
    assert!(log.contains("check lb: up value=-60"), "{log}");
}

#[test]
fn tcp_and_http_checks_follow_a_real_service() {
    let Some(mut lab) = Lab::new("chk-net", 2, &[]) else {
        return;
    };
    let control = lab.dir.join("service-state");
    std::fs::write(&control, "up").unwrap();
    let addr: SocketAddr = format!("{}:8081", lab.node(0).v4).parse().unwrap();
    let _service = Service::start(&lab.node(0).ns, addr, &control);
    let checks = format!(
        "[[check]]\nname = \"port\"\ntcp = \"{addr}\"\ninterval = 0.2\ntimeout = 0.2\nfall = 2\n\n\
         [[check]]\nname = \"page\"\nhttp = \"http://{addr}/health\"\nexpect = [\"200-299\"]\n\
         body_contains = \"ok\"\ninterval = 0.2\ntimeout = 0.2\nfall = 2\n\n"
    );
    let a = format!(
        "{checks}{}",
        instance(
            "web",
            51,
            150,
            VIP,
            "track = [{ check = \"port\", weight = 60 }, { check = \"page\", weight = 60 }]"
        )
    );
    start(&mut lab, 0, &a);
    start(&mut lab, 1, &instance("web", 51, 100, VIP, ""));
    wait_check(&lab, 0, "port", "up");
    wait_check(&lab, 0, "page", "up");
    lab.wait_only(0, VIP, &[], WAIT);

    // HTTP 503: the page check fails, the port check still passes.
    std::fs::write(&control, "503").unwrap();
    let c = wait_check(&lab, 0, "page", "down");
    assert!(c["detail"].as_str().unwrap().contains("503"), "{c}");
    lab.wait_only(1, VIP, &[], WAIT);
    assert_eq!(wait_check(&lab, 0, "port", "up")["kind"], "tcp");
    std::fs::write(&control, "up").unwrap();
    wait_check(&lab, 0, "page", "up");
    lab.wait_only(0, VIP, &[], WAIT);

    // The service goes away: both fail (150 - 120 = 30).
    std::fs::write(&control, "down").unwrap();
    wait_check(&lab, 0, "port", "down");
    wait_check(&lab, 0, "page", "down");
    lab.wait_only(1, VIP, &[], WAIT);
    assert_eq!(instance_state(&lab, 0, "web"), "Backup");
    std::fs::write(&control, "up").unwrap();
    lab.wait_only(0, VIP, &[], WAIT);
}

#[test]
fn an_https_check_verifies_a_real_tls_service() {
    let Some(mut lab) = Lab::new("chk-tls", 2, &[]) else {
        return;
    };
    let control = lab.dir.join("tls-state");
    std::fs::write(&control, "up").unwrap();
    // A CA, and a certificate it signed for lb.test, written as PEM.
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["lb.test".to_string()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    let (ca_file, cert, key_file) = (
        lab.dir.join("ca.pem"),
        lab.dir.join("lb.pem"),
        lab.dir.join("lb.key"),
    );
    std::fs::write(&ca_file, ca.pem()).unwrap();
    std::fs::write(&cert, leaf.pem()).unwrap();
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    let addr: SocketAddr = format!("{}:8443", lab.node(0).v4).parse().unwrap();
    let _service = Service::start_tls(&lab.node(0).ns, addr, &control, &cert, &key_file);
    let check = |name: &str, host: &str| {
        format!(
            "[[check]]\nname = \"{name}\"\nhttp = \"https://{addr}/health\"\nhost = \"{host}\"\n\
             ca_file = \"{}\"\nbody_contains = \"ok\"\ninterval = 0.5\ntimeout = 0.5\nfall = 2\n\n",
            ca_file.display()
        )
    };
    // "wrong" asks for a name the certificate does not hold; nothing tracks it.
    let a = format!(
        "{}{}{}",
        check("tls", "lb.test"),
        check("wrong", "www.test"),
        instance(
            "web",
            51,
            150,
            VIP,
            "track = [{ check = \"tls\", weight = 60 }]"
        )
    );
    start(&mut lab, 0, &a);
    start(&mut lab, 1, &instance("web", 51, 100, VIP, ""));
    wait_check(&lab, 0, "tls", "up");
    let c = wait_check(&lab, 0, "wrong", "down");
    assert!(
        c["detail"]
            .as_str()
            .unwrap()
            .contains("not valid for www.test"),
        "{c}"
    );
    lab.wait_only(0, VIP, &[], WAIT);

    // HTTP 503 over TLS: node 1 takes the address; 200 again: node 0.
    std::fs::write(&control, "503").unwrap();
    let c = wait_check(&lab, 0, "tls", "down");
    assert!(c["detail"].as_str().unwrap().contains("503"), "{c}");
    lab.wait_only(1, VIP, &[], WAIT);
    std::fs::write(&control, "up").unwrap();
    wait_check(&lab, 0, "tls", "up");
    lab.wait_only(0, VIP, &[], WAIT);
}

#[test]
fn a_faulting_check_takes_its_whole_sync_group_to_the_partner() {
    let Some(mut lab) = Lab::new("chk-grp", 2, &[]) else {
        return;
    };
    let flag = lab.dir.join("db-down");
    let group = "[[sync_group]]\nname = \"lvs\"\ninstances = [\"public\", \"gateway\"]\n";
    let a = format!(
        "[[check]]\nname = \"db\"\nscript = \"test ! -e {}\"\ninterval = 0.2\ntimeout = 0.2\n\n{}{}{group}",
        flag.display(),
        instance("public", 51, 150, VIP, "track = [{ check = \"db\", fault = true }]"),
        instance("gateway", 52, 150, VIP2, ""),
    );
    let b = format!(
        "{}{}{group}",
        instance("public", 51, 100, VIP, ""),
        instance("gateway", 52, 100, VIP2, "")
    );
    start(&mut lab, 0, &a);
    start(&mut lab, 1, &b);
    lab.wait_only(0, VIP, &[], WAIT);
    lab.wait_only(0, VIP2, &[], WAIT);
    wait_check(&lab, 0, "db", "up");

    // Only "public" tracks the check; the group faults whole.
    std::fs::write(&flag, "").unwrap();
    wait_check(&lab, 0, "db", "down");
    lab.wait_only(1, VIP, &[], WAIT);
    lab.wait_only(1, VIP2, &[], WAIT);
    assert_eq!(instance_state(&lab, 0, "public"), "Fault");
    assert_eq!(instance_state(&lab, 0, "gateway"), "Fault");
    std::fs::remove_file(&flag).unwrap();
    lab.wait_only(0, VIP, &[], WAIT);
    lab.wait_only(0, VIP2, &[], WAIT);
}

// ------------------------------------------------------------ the service

/// `service_child` running in a namespace; killed by PID when dropped.
struct Service {
    child: Child,
}

impl Service {
    fn start(ns: &str, addr: SocketAddr, control: &Path) -> Service {
        Service::run_child(ns, format!("{addr} {}", control.display()), control)
    }

    /// The same over TLS, with this certificate and key (PEM files).
    fn start_tls(ns: &str, addr: SocketAddr, control: &Path, cert: &Path, key: &Path) -> Service {
        let spec = format!(
            "{addr} {} {} {}",
            control.display(),
            cert.display(),
            key.display()
        );
        Service::run_child(ns, spec, control)
    }

    fn run_child(ns: &str, spec: String, control: &Path) -> Service {
        let exe = std::env::current_exe().expect("the test binary's path");
        let child = Command::new("ip")
            .args(["netns", "exec", ns])
            .arg(&exe)
            .args([
                "--exact",
                "service_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(SERVICE_ENV, spec)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cannot start the service child");
        // Until it listens (bounded).
        let up = lab::wait_for(Duration::from_secs(10), || {
            Path::new(&format!("{}.listening", control.display())).exists()
        });
        assert!(up.is_some(), "the service child did not start listening");
        Service { child }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Not a test of its own: with [`SERVICE_ENV`] set (by
/// [`Service::start`], inside a namespace), serves on its address until
/// [`SERVICE_LIFE`]: the control file says `up` (HTTP 200 "ok"), `503`,
/// or `down` (no listener: connections are refused); over TLS when given
/// a certificate and key.
#[test]
fn service_child() {
    let Ok(spec) = std::env::var(SERVICE_ENV) else {
        return;
    };
    let parts: Vec<&str> = spec.split(' ').collect();
    let addr: SocketAddr = parts[0].parse().expect("an address");
    let control = PathBuf::from(parts.get(1).expect("ADDR PATH"));
    let tls = parts
        .get(2)
        .map(|cert| tls_config(Path::new(cert), Path::new(parts[3])));
    let end = Instant::now() + SERVICE_LIFE;
    let mut listener: Option<TcpListener> = None;
    while Instant::now() < end {
        let mode = std::fs::read_to_string(&control).unwrap_or_default();
        let mode = mode.trim().to_owned();
        if mode == "down" {
            listener = None;
        } else if listener.is_none() {
            if let Ok(l) = TcpListener::bind(addr) {
                l.set_nonblocking(true).unwrap();
                listener = Some(l);
                let _ = std::fs::write(format!("{}.listening", control.display()), "");
            }
        }
        if let Some(l) = &listener {
            while let Ok((conn, _)) = l.accept() {
                let code = if mode == "503" { 503 } else { 200 };
                let tls = tls.clone();
                std::thread::spawn(move || match tls {
                    None => answer(conn, code),
                    Some(config) => {
                        let _ = conn.set_nonblocking(false);
                        let Ok(tls) = rustls::ServerConnection::new(config) else {
                            return;
                        };
                        answer(rustls::StreamOwned::new(tls, conn), code);
                    }
                });
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The service's TLS settings: its certificate and key from PEM files.
fn tls_config(cert: &Path, key: &Path) -> std::sync::Arc<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain = vec![CertificateDer::from_pem_file(cert).expect("the certificate")];
    let key = PrivateKeyDer::from_pem_file(key).expect("the key");
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .expect("a usable certificate and key");
    std::sync::Arc::new(config)
}

/// A connection the service answers on: a TCP stream, or TLS over one.
trait Conn: Read + Write {
    fn socket(&self) -> &TcpStream;
    /// Ends the answer (TLS: with close_notify).
    fn finish(&mut self) {}
}

impl Conn for TcpStream {
    fn socket(&self) -> &TcpStream {
        self
    }
}

impl Conn for rustls::StreamOwned<rustls::ServerConnection, TcpStream> {
    fn socket(&self) -> &TcpStream {
        &self.sock
    }
    fn finish(&mut self) {
        self.conn.send_close_notify();
        let _ = self.flush();
    }
}

/// Reads a request (or nothing: a TCP check closes at once) and answers.
fn answer(mut conn: impl Conn, code: u16) {
    let _ = conn.socket().set_nonblocking(false);
    let _ = conn.socket().set_read_timeout(Some(Duration::from_secs(1)));
    let mut buf = [0u8; 2048];
    let mut got = Vec::new();
    while !got.windows(4).any(|w| w == b"\r\n\r\n") && got.len() < 8192 {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    let (reason, body) = if code == 200 {
        ("OK", "ok\n")
    } else {
        ("Service Unavailable", "busy\n")
    };
    let _ = write!(
        conn,
        "HTTP/1.1 {code} {reason}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    conn.finish();
}
