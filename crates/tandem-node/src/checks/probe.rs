//! The probes themselves, each run on a worker thread of the host within
//! its timeout: a script, a file's number, a TCP connect, an HTTP GET.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{HttpProbe, Outcome, ProbeResult, DETAIL_LIMIT, FILE_LIMIT, HTTP_BODY_LIMIT};
use crate::hooks::{wait_or_kill, Outcome as Ended, SHELL};

/// A result with `detail` cut to [`DETAIL_LIMIT`] bytes on one line.
pub(super) fn result(outcome: Outcome, detail: String, started: Instant) -> ProbeResult {
    let mut detail: String = detail
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if detail.len() > DETAIL_LIMIT {
        let mut end = DETAIL_LIMIT;
        while !detail.is_char_boundary(end) {
            end -= 1;
        }
        detail.truncate(end);
    }
    ProbeResult {
        outcome,
        detail,
        took: started.elapsed(),
    }
}

/// `/bin/sh -c COMMAND`, its own process group, output discarded, as
/// `user` if given; exit 0 passes. At the timeout the whole group is
/// killed (background children included) and the script reaped.
pub(super) fn script(command: &str, user: Option<&str>, timeout: Duration) -> ProbeResult {
    let started = Instant::now();
    let mut cmd = Command::new(SHELL);
    cmd.arg("-c")
        .arg(command)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
    if let Some(name) = user {
        match lookup_user(name) {
            Ok((uid, gid)) => {
                // std drops root's supplementary groups with the uid.
                cmd.uid(uid).gid(gid);
            }
            Err(why) => return result(Outcome::Fail, why, started),
        }
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return result(
                Outcome::Fail,
                format!("cannot start {SHELL} -c: {e}"),
                started,
            )
        }
    };
    match wait_or_kill(&mut child, timeout) {
        Ended::Exited(st) if st.success() => result(Outcome::Pass, "exit 0".into(), started),
        Ended::Exited(st) => match (st.code(), st.signal()) {
            (Some(code), _) => result(Outcome::Fail, format!("exit {code}"), started),
            (None, Some(sig)) => result(Outcome::Fail, format!("killed by signal {sig}"), started),
            _ => result(Outcome::Fail, "ended abnormally".into(), started),
        },
        Ended::TimedOut { .. } => result(
            Outcome::Fail,
            format!(
                "killed at the timeout ({} s): the script and its process group",
                timeout.as_secs_f64()
            ),
            started,
        ),
        Ended::WaitFailed(e) => result(Outcome::Fail, format!("cannot wait for it: {e}"), started),
    }
}

/// The uid and primary gid of `name`, from /etc/passwd (at most 1 MiB).
fn lookup_user(name: &str) -> Result<(u32, u32), String> {
    let text = crate::file::read_limited(Path::new("/etc/passwd"), 1 << 20)
        .map_err(|e| format!("cannot read /etc/passwd to find user {name:?}: {e}"))?;
    let text = String::from_utf8_lossy(&text);
    for line in text.lines() {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() >= 4 && f[0] == name {
            if let (Ok(uid), Ok(gid)) = (f[2].parse(), f[3].parse()) {
                return Ok((uid, gid));
            }
        }
    }
    Err(format!(
        "no user {name:?} in /etc/passwd: create it, or change the check's user"
    ))
}

/// The integer in a file (white space around it, an optional sign).
pub(super) fn file(path: &Path) -> ProbeResult {
    let started = Instant::now();
    let bytes = match crate::file::read_limited(path, FILE_LIMIT as u64) {
        Ok(b) => b,
        Err(e) => return result(Outcome::Fail, format!("{}: {e}", path.display()), started),
    };
    let text = String::from_utf8_lossy(&bytes);
    match text.trim().parse::<i64>() {
        Ok(n) => result(Outcome::Value(n), format!("value {n}"), started),
        Err(_) => result(
            Outcome::Fail,
            format!("{} does not hold an integer", path.display()),
            started,
        ),
    }
}

/// Connects to `addr` (from `source` if given) within `timeout`.
fn connect(
    addr: SocketAddr,
    source: Option<std::net::IpAddr>,
    timeout: Duration,
) -> std::io::Result<TcpStream> {
    let domain = socket2::Domain::for_address(addr);
    let s = socket2::Socket::new(domain, socket2::Type::STREAM, Some(socket2::Protocol::TCP))?;
    if let Some(ip) = source {
        s.bind(&SocketAddr::new(ip, 0).into())?;
    }
    s.connect_timeout(&addr.into(), timeout)?;
    Ok(s.into())
}

fn connect_error(e: &std::io::Error, timeout: Duration) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "connection refused".into(),
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => {
            format!("timed out after {} s", timeout.as_secs_f64())
        }
        _ if e.raw_os_error() == Some(libc::EHOSTUNREACH) => "no route to host".into(),
        _ if e.raw_os_error() == Some(libc::ENETUNREACH) => "network unreachable".into(),
        _ => e.to_string(),
    }
}

/// A TCP connect: passes once established (then closed).
pub(super) fn tcp(
    addr: SocketAddr,
    source: Option<std::net::IpAddr>,
    timeout: Duration,
) -> ProbeResult {
    let started = Instant::now();
    match connect(addr, source, timeout) {
        Ok(_) => {
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            result(Outcome::Pass, format!("connected in {ms:.1} ms"), started)
        }
        Err(e) => result(Outcome::Fail, connect_error(&e, timeout), started),
    }
}

/// An HTTP/1.1 GET with `Connection: close`, over TLS for `https`; the
/// status must be one of `expect`, and the body (its first
/// [`HTTP_BODY_LIMIT`] bytes) hold `body_contains` if given. The whole
/// run, handshake included, keeps within `timeout`.
pub(super) fn http(p: &HttpProbe, timeout: Duration) -> ProbeResult {
    let started = Instant::now();
    let tcp = match connect(p.addr, p.source, timeout) {
        Ok(s) => s,
        Err(e) => return result(Outcome::Fail, connect_error(&e, timeout), started),
    };
    if !p.tls {
        return exchange(p, &mut &tcp, &tcp, timeout, started);
    }
    let config = match super::tls::client_config(p) {
        Ok(c) => c,
        Err(why) => return result(Outcome::Fail, why, started),
    };
    let name = match super::tls::server_name(&p.host) {
        Ok(n) => n,
        Err(why) => return result(Outcome::Fail, why, started),
    };
    let mut conn = match rustls::ClientConnection::new(config, name) {
        Ok(c) => c,
        Err(e) => return result(Outcome::Fail, format!("TLS setup: {e}"), started),
    };
    let mut sock = &tcp;
    let mut stream = rustls::Stream::new(&mut conn, &mut sock);
    exchange(p, &mut stream, &tcp, timeout, started)
}

/// The TLS error inside an I/O error, explained; else the I/O error.
fn io_error(what: &str, e: &std::io::Error, p: &HttpProbe) -> String {
    match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        Some(tls) => super::tls::explain(tls, &p.host),
        None => format!("{what}: {e}"),
    }
}

/// The request and its answer over `stream` (plain or TLS), whose
/// timeouts are set on the socket `tcp` under it.
fn exchange<S: Read + Write>(
    p: &HttpProbe,
    stream: &mut S,
    tcp: &TcpStream,
    timeout: Duration,
    started: Instant,
) -> ProbeResult {
    let left = |started: Instant| {
        timeout
            .saturating_sub(started.elapsed())
            .max(Duration::from_millis(1))
    };
    let late = || {
        result(
            Outcome::Fail,
            format!("no whole answer within {} s", timeout.as_secs_f64()),
            started,
        )
    };
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: tandemd-check\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        p.path, p.host
    );
    let _ = tcp.set_write_timeout(Some(left(started)));
    let _ = tcp.set_read_timeout(Some(left(started)));
    if let Err(e) = stream
        .write_all(request.as_bytes())
        .and_then(|()| stream.flush())
    {
        if is_timeout(&e) {
            return late();
        }
        return result(
            Outcome::Fail,
            io_error("sending the request", &e, p),
            started,
        );
    }
    // Read the head and up to the body limit, within the time left.
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    let limit = HTTP_BODY_LIMIT + 16 * 1024;
    loop {
        if started.elapsed() >= timeout {
            return late();
        }
        let _ = tcp.set_read_timeout(Some(left(started)));
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                if buf.len() >= limit {
                    break;
                }
                // Enough read once the head is whole and no body text is asked for.
                if p.body_contains.is_none() && find(&buf, b"\r\n\r\n").is_some() {
                    break;
                }
            }
            Err(e) if is_timeout(&e) => return late(),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            // A TLS server that closes without close_notify: what came is the answer.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !buf.is_empty() => break,
            Err(e) => {
                return result(
                    Outcome::Fail,
                    io_error("reading the answer", &e, p),
                    started,
                )
            }
        }
    }
    let Some(head_end) = find(&buf, b"\r\n\r\n") else {
        return result(Outcome::Fail, "the answer is not HTTP".into(), started);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]);
    let status_line = head.lines().next().unwrap_or("");
    let mut parts = status_line.split_whitespace();
    let code = match (parts.next(), parts.next().map(str::parse::<u16>)) {
        (Some(v), Some(Ok(c))) if v.starts_with("HTTP/1.") => c,
        _ => return result(Outcome::Fail, "the answer is not HTTP".into(), started),
    };
    if !p.expect.iter().any(|(a, b)| (*a..=*b).contains(&code)) {
        return result(Outcome::Fail, format!("HTTP {code}"), started);
    }
    if let Some(want) = &p.body_contains {
        let body_end = buf.len().min(head_end + 4 + HTTP_BODY_LIMIT);
        let body = &buf[head_end + 4..body_end];
        if find(body, want.as_bytes()).is_none() {
            return result(
                Outcome::Fail,
                format!("HTTP {code}, but the body lacks {want:?}"),
                started,
            );
        }
    }
    result(Outcome::Pass, format!("HTTP {code}"), started)
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn serve_once(answer: &'static str) -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            if let Ok((mut s, _)) = l.accept() {
                let mut b = [0u8; 1024];
                let _ = s.read(&mut b);
                let _ = s.write_all(answer.as_bytes());
            }
        });
        addr
    }

    fn probe(addr: SocketAddr) -> HttpProbe {
        HttpProbe {
            tls: false,
            addr,
            source: None,
            host: addr.to_string(),
            path: "/healthz".into(),
            expect: vec![(200, 200)],
            verify: true,
            ca_file: None,
            body_contains: None,
        }
    }

    const T: Duration = Duration::from_secs(2);

    #[test]
    fn scripts() {
        assert_eq!(script("exit 0", None, T).outcome, Outcome::Pass);
        let r = script("exit 3", None, T);
        assert_eq!((r.outcome, r.detail.as_str()), (Outcome::Fail, "exit 3"));
        // The timeout kills the group: a background child too.
        let dir = std::env::temp_dir().join(format!("tandem-probe-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mark = dir.join("late");
        let r = script(
            &format!("(sleep 1; touch {}) & sleep 5", mark.display()),
            None,
            Duration::from_millis(200),
        );
        assert_eq!(r.outcome, Outcome::Fail);
        assert!(
            r.detail.starts_with("killed at the timeout"),
            "{}",
            r.detail
        );
        assert!(r.took < Duration::from_secs(2));
        std::thread::sleep(Duration::from_millis(1300));
        assert!(!mark.exists(), "the background child outlived the kill");
        let r = script("exit 0", Some("no-such-user-here"), T);
        assert_eq!(r.outcome, Outcome::Fail);
        assert!(r.detail.contains("no user"), "{}", r.detail);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn script_as_another_user() {
        // Only root can switch users.
        let root = std::fs::read_to_string("/proc/self/status")
            .is_ok_and(|s| s.lines().any(|l| l.starts_with("Uid:\t0\t")));
        if !root {
            return;
        }
        let r = script("test \"$(id -u)\" = 65534", Some("nobody"), T);
        assert_eq!(r.outcome, Outcome::Pass, "{}", r.detail);
        let r = script("test \"$(id -u)\" = 0", Some("nobody"), T);
        assert_eq!(r.outcome, Outcome::Fail);
    }

    #[test]
    fn files() {
        let dir = std::env::temp_dir().join(format!("tandem-probe-f-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("w");
        std::fs::write(&f, " -7\n").unwrap();
        assert_eq!(file(&f).outcome, Outcome::Value(-7));
        std::fs::write(&f, "seven").unwrap();
        assert_eq!(file(&f).outcome, Outcome::Fail);
        std::fs::write(&f, vec![b'1'; FILE_LIMIT + 1]).unwrap();
        assert_eq!(file(&f).outcome, Outcome::Fail);
        assert_eq!(file(&dir.join("missing")).outcome, Outcome::Fail);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn tcp_connects_and_is_refused() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let r = tcp(addr, None, T);
        assert_eq!(r.outcome, Outcome::Pass, "{}", r.detail);
        drop(l);
        let r = tcp(addr, None, T);
        assert_eq!(
            (r.outcome, r.detail.as_str()),
            (Outcome::Fail, "connection refused")
        );
    }

    #[test]
    fn http_statuses_bodies_and_timeouts() {
        let ok = serve_once("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        assert_eq!(http(&probe(ok), T).outcome, Outcome::Pass);
        let down = serve_once("HTTP/1.1 503 Service Unavailable\r\n\r\n");
        let r = http(&probe(down), T);
        assert_eq!((r.outcome, r.detail.as_str()), (Outcome::Fail, "HTTP 503"));
        let body = serve_once("HTTP/1.1 200 OK\r\n\r\nstatus: degraded");
        let mut p = probe(body);
        p.body_contains = Some("status: ok".into());
        assert_eq!(http(&p, T).outcome, Outcome::Fail);
        let range = serve_once("HTTP/1.0 302 Found\r\n\r\n");
        let mut p = probe(range);
        p.expect = vec![(200, 200), (300, 399)];
        assert_eq!(http(&p, T).outcome, Outcome::Pass);
        let junk = serve_once("SSH-2.0-OpenSSH\r\n\r\n");
        assert_eq!(http(&probe(junk), T).outcome, Outcome::Fail);
        // A server that never answers: the timeout holds.
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let r = http(&probe(addr), Duration::from_millis(300));
        assert_eq!(r.outcome, Outcome::Fail);
        assert!(r.took < Duration::from_secs(1), "{:?}", r.took);
        drop(l);
    }

    /// A CA and a server certificate it signed (for `lb.test` and
    /// 127.0.0.1), valid now or expired.
    struct Pki {
        ca_pem: String,
        chain: Vec<rustls::pki_types::CertificateDer<'static>>,
        key: rustls::pki_types::PrivateKeyDer<'static>,
    }

    fn pki(expired: bool) -> Pki {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = ca.self_signed(&ca_key).unwrap();
        let key = KeyPair::generate().unwrap();
        let mut leaf =
            CertificateParams::new(vec!["lb.test".to_string(), "127.0.0.1".to_string()]).unwrap();
        if expired {
            leaf.not_before = rcgen::date_time_ymd(2001, 1, 1);
            leaf.not_after = rcgen::date_time_ymd(2002, 1, 1);
        }
        let leaf = leaf.signed_by(&key, &ca, &ca_key).unwrap();
        Pki {
            ca_pem: ca.pem(),
            chain: vec![leaf.der().clone()],
            key: rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        }
    }

    /// A TLS server on loopback that answers one request with `answer`.
    fn serve_tls_once(pki: &Pki, answer: &'static str) -> SocketAddr {
        let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(pki.chain.clone(), pki.key.clone_key())
        .unwrap();
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            let Ok((s, _)) = l.accept() else { return };
            let _ = s.set_read_timeout(Some(Duration::from_secs(3)));
            let conn = rustls::ServerConnection::new(std::sync::Arc::new(config)).unwrap();
            let mut tls = rustls::StreamOwned::new(conn, s);
            let mut b = [0u8; 1024];
            if tls.read(&mut b).is_ok() {
                let _ = tls.write_all(answer.as_bytes());
                tls.conn.send_close_notify();
                let _ = tls.flush();
            }
        });
        addr
    }

    fn https(addr: SocketAddr, host: &str, ca_file: Option<&Path>) -> HttpProbe {
        HttpProbe {
            tls: true,
            host: host.into(),
            ca_file: ca_file.map(Path::to_path_buf),
            ..probe(addr)
        }
    }

    #[test]
    fn https_verifies_the_certificate_and_its_name() {
        let dir = std::env::temp_dir().join(format!("tandem-probe-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca = dir.join("ca.pem");
        let good = pki(false);
        std::fs::write(&ca, &good.ca_pem).unwrap();
        const OK: &str = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

        // Trusted through ca_file, by name and by address.
        let r = http(
            &https(serve_tls_once(&good, OK), "lb.test:8443", Some(&ca)),
            T,
        );
        assert_eq!((r.outcome, r.detail.as_str()), (Outcome::Pass, "HTTP 200"));
        let addr = serve_tls_once(&good, OK);
        let r = http(&https(addr, &addr.to_string(), Some(&ca)), T);
        assert_eq!(r.outcome, Outcome::Pass, "{}", r.detail);
        // The status and body rules hold over TLS too.
        let down = serve_tls_once(&good, "HTTP/1.1 503 Service Unavailable\r\n\r\n");
        let r = http(&https(down, "lb.test", Some(&ca)), T);
        assert_eq!((r.outcome, r.detail.as_str()), (Outcome::Fail, "HTTP 503"));
        let mut p = https(serve_tls_once(&good, OK), "lb.test", Some(&ca));
        p.body_contains = Some("ok".into());
        assert_eq!(http(&p, T).outcome, Outcome::Pass);

        // Another name than the certificate's.
        let r = http(&https(serve_tls_once(&good, OK), "www.test", Some(&ca)), T);
        assert_eq!(r.outcome, Outcome::Fail);
        assert!(r.detail.contains("not valid for www.test"), "{}", r.detail);
        // A CA the probe was not given (the system's roots do not hold it).
        let r = http(&https(serve_tls_once(&good, OK), "lb.test", None), T);
        assert_eq!(r.outcome, Outcome::Fail);
        assert!(r.detail.contains("ca_file"), "{}", r.detail);
        // ... unless verification is off.
        let mut p = https(serve_tls_once(&good, OK), "lb.test", None);
        p.verify = false;
        let r = http(&p, T);
        assert_eq!(r.outcome, Outcome::Pass, "{}", r.detail);
        // An expired certificate.
        let old = pki(true);
        std::fs::write(&ca, &old.ca_pem).unwrap();
        let r = http(&https(serve_tls_once(&old, OK), "lb.test", Some(&ca)), T);
        assert_eq!(r.outcome, Outcome::Fail);
        assert!(r.detail.contains("expired"), "{}", r.detail);
        // A CA file that is not one.
        std::fs::write(&ca, "junk").unwrap();
        let r = http(&https(serve_tls_once(&good, OK), "lb.test", Some(&ca)), T);
        assert!(
            r.detail.contains("holds no PEM certificate"),
            "{}",
            r.detail
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn https_to_a_plain_server_fails_and_a_silent_one_times_out() {
        let plain = serve_once("HTTP/1.1 200 OK\r\n\r\n");
        let mut p = https(plain, "lb.test", None);
        p.verify = false;
        let r = http(&p, T);
        assert_eq!(r.outcome, Outcome::Fail);
        assert!(r.detail.starts_with("TLS: "), "{}", r.detail);
        // A listener that never speaks: the handshake keeps to the timeout.
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut p = https(l.local_addr().unwrap(), "lb.test", None);
        p.verify = false;
        let r = http(&p, Duration::from_millis(300));
        assert_eq!(r.outcome, Outcome::Fail);
        assert!(
            r.detail.starts_with("no whole answer within"),
            "{}",
            r.detail
        );
        assert!(r.took < Duration::from_secs(1), "{:?}", r.took);
        drop(l);
    }
}
