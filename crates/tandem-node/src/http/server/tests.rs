//! Tests of the server on real sockets (127.0.0.1, no root needed): the
//! parser, the health flip, HEAD, and clients that send garbage, too much
//! or too slowly.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use super::*;
use crate::http::tests::{cfg, instance, snapshot};
use crate::http::TEXT_PLAIN;
use crate::snapshot::Light;

#[test]
fn parse_head_accepts_well_formed_requests() {
    let r =
        parse_head(b"GET /health HTTP/1.1\r\nHost: x\r\nUser-Agent: ELB-HealthChecker/2.0\r\n\r\n");
    assert_eq!(
        r,
        Ok(Request {
            method: "GET",
            path: "/health"
        })
    );
    let r = parse_head(b"HEAD /live?probe=1#x HTTP/1.0\n\n");
    assert_eq!(r.map(|r| (r.method, r.path)), Ok(("HEAD", "/live")));
    let r = parse_head(b"GET http://10.0.0.1:8080/metrics?x HTTP/1.1\r\n\r\n");
    assert_eq!(r.map(|r| r.path), Ok("/metrics"));
    let r = parse_head(b"GET HTTPS://host HTTP/1.1\r\n\r\n");
    assert_eq!(r.map(|r| r.path), Ok("/"));
    let r = parse_head(b"DELETE /health HTTP/1.1\r\n\r\n");
    assert_eq!(r.map(|r| r.method), Ok("DELETE"));
}

#[test]
fn parse_head_refuses_malformed_requests() {
    let bad: &[&[u8]] = &[
        b"\r\n\r\n",
        b"GET\r\n\r\n",
        b"GET /health\r\n\r\n",
        b"GET  /health HTTP/1.1\r\n\r\n",
        b"GET /health HTTP/1.1 extra\r\n\r\n",
        b"G(T /health HTTP/1.1\r\n\r\n",
        b"GET health HTTP/1.1\r\n\r\n",
        b"GET ftp://x/health HTTP/1.1\r\n\r\n",
        b"GET /he\x7flth HTTP/1.1\r\n\r\n",
        b"GET /health FOO/1.1\r\n\r\n",
        b"GET /health HTTP/1.1\r\nno colon here\r\n\r\n",
        b"GET /health HTTP/1.1\r\n: empty name\r\n\r\n",
        b"GET /health HTTP/1.1\r\nbad name: x\r\n\r\n",
        b"GET /\xff\xfe HTTP/1.1\r\n\r\n",
        b"\x00\x01\x02\x03\r\n\r\n",
    ];
    for b in bad {
        assert_eq!(
            parse_head(b),
            Err(ParseError::Malformed),
            "{}",
            String::from_utf8_lossy(b)
        );
    }
    assert_eq!(
        parse_head(b"GET /health HTTP/2.0\r\n\r\n"),
        Err(ParseError::Version)
    );
    let many: String = (0..=MAX_HEADERS).map(|n| format!("X-{n}: y\r\n")).collect();
    let req = format!("GET /health HTTP/1.1\r\n{many}\r\n");
    assert_eq!(parse_head(req.as_bytes()), Err(ParseError::Malformed));
}

#[test]
fn parse_head_never_panics_on_any_prefix_or_byte() {
    let good = b"GET http://h/health?x HTTP/1.1\r\nHost: h\r\n\r\n";
    for end in 0..=good.len() {
        let _ = parse_head(&good[..end]);
        for b in [0u8, b' ', b'/', b':', b'\n', b'\r', 0x80, 0xff] {
            let mut v = good.to_vec();
            if end < v.len() {
                v[end] = b;
            }
            let _ = parse_head(&v);
        }
    }
}

#[test]
fn head_end_finds_crlf_and_lf() {
    assert_eq!(head_end(b"GET / HTTP/1.1\r\n\r\nbody"), Some(18));
    assert_eq!(head_end(b"GET / HTTP/1.1\n\n"), Some(16));
    assert_eq!(head_end(b"GET / HTTP/1.1\r\n"), None);
}

#[test]
fn encode_writes_status_headers_and_body() {
    let mut r = Response::text(405, "method not allowed\n");
    r.headers.push(("Allow", "GET, HEAD".into()));
    let full = String::from_utf8(encode(&r, false)).unwrap_or_default();
    assert!(full.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"));
    assert!(full.contains("\r\nContent-Length: 19\r\n"));
    assert!(full.contains("\r\nAllow: GET, HEAD\r\n"));
    assert!(full.ends_with("\r\n\r\nmethod not allowed\n"));
    let head = String::from_utf8(encode(&r, true)).unwrap_or_default();
    assert!(head.ends_with("\r\n\r\n"));
    assert!(head.contains("\r\nContent-Length: 19\r\n"));
}

/// A parsed response as a client sees it.
#[derive(Debug)]
struct Got {
    status: u16,
    head: String,
    body: String,
}

impl Got {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

fn read_response(mut s: TcpStream) -> Got {
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    let mut buf = Vec::new();
    // A reset after a complete response (the server closed with unread
    // input) still leaves the response in `buf`.
    let _ = s.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .strip_prefix("HTTP/1.1 ")
        .and_then(|r| r.get(..3))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Got {
        status,
        head: head.to_string(),
        body: body.to_string(),
    }
}

fn send(addr: SocketAddr, raw: &[u8]) -> Got {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.write_all(raw).expect("send");
    read_response(s)
}

fn get(addr: SocketAddr, path: &str) -> Got {
    send(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes(),
    )
}

fn start(state: &str, light: Light) -> (HttpGuard, Arc<RwLock<NodeSnapshot>>) {
    let snap = Arc::new(RwLock::new(snapshot(vec![instance("vi1", state, light)])));
    let guard = crate::http::serve(&cfg(), snap.clone()).expect("serve on 127.0.0.1:0");
    (guard, snap)
}

#[test]
fn health_flips_from_200_to_503_when_the_snapshot_changes() {
    let (guard, snap) = start("Active", Light::Active);
    let addr = guard.local_addr();
    let g = get(addr, "/health");
    assert_eq!((g.status, g.body.as_str()), (200, "active\n"));
    assert_eq!(g.header("X-Tandem-State"), Some("active"));
    assert_eq!(g.header("Connection"), Some("close"));
    assert_eq!(g.header("Content-Type"), Some(TEXT_PLAIN));

    *snap.write().expect("lock") = snapshot(vec![instance("vi1", "Backup", Light::Standby)]);
    let g = get(addr, "/health");
    assert_eq!((g.status, g.body.as_str()), (503, "standby\n"));
    assert_eq!(g.header("X-Tandem-State"), Some("standby"));

    let g = get(addr, "/live");
    assert_eq!((g.status, g.body.as_str()), (200, "alive\n"));
    let g = get(addr, "/metrics");
    assert_eq!(g.status, 200);
    assert!(g
        .body
        .contains("tandem_instance_state{instance=\"vi1\",interface=\"eth0\",vrid=\"51\",protocol=\"vrrp3\",state=\"Backup\"} 1\n"));
    assert_eq!(get(addr, "/nope").status, 404);
    let g = send(
        addr,
        b"POST /health HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
    );
    assert_eq!(g.status, 405);
    assert_eq!(g.header("Allow"), Some("GET, HEAD"));
}

#[test]
fn head_gets_the_headers_without_the_body() {
    let (guard, _snap) = start("Active", Light::Active);
    let g = send(guard.local_addr(), b"HEAD /health HTTP/1.1\r\n\r\n");
    assert_eq!(g.status, 200);
    assert_eq!(g.header("Content-Length"), Some("7"));
    assert_eq!(g.body, "");
}

#[test]
fn dropping_the_guard_closes_the_port() {
    let (guard, _snap) = start("Active", Light::Active);
    let addr = guard.local_addr();
    assert_eq!(get(addr, "/live").status, 200);
    drop(guard);
    assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err());
}

#[test]
fn a_port_in_use_is_a_bind_error() {
    let (guard, _snap) = start("Active", Light::Active);
    let mut c = cfg();
    c.listen = guard.local_addr();
    let err = crate::http::serve(&c, Arc::new(RwLock::new(NodeSnapshot::empty())))
        .expect_err("second bind");
    assert!(matches!(err, HttpError::Bind { addr, .. } if addr == guard.local_addr()));
    assert!(err.to_string().contains(&guard.local_addr().to_string()));
}

#[test]
fn garbage_gets_400_and_the_server_keeps_answering() {
    let (guard, _snap) = start("Active", Light::Active);
    let addr = guard.local_addr();
    let mut junk: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
    junk.extend_from_slice(b"\r\n\r\n");
    assert_eq!(send(addr, &junk).status, 400);
    assert_eq!(
        send(addr, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n\n").status,
        400
    );
    assert_eq!(send(addr, b"GET /health HTTP/9.9\r\n\r\n").status, 505);
    // Closing without a request gets nothing, and harms nothing.
    drop(TcpStream::connect(addr).expect("connect"));
    let mut half = TcpStream::connect(addr).expect("connect");
    half.write_all(b"GET /hea").expect("send");
    drop(half);
    assert_eq!(get(addr, "/health").status, 200);
}

#[test]
fn huge_heads_get_431_and_the_server_keeps_answering() {
    let (guard, _snap) = start("Active", Light::Active);
    let addr = guard.local_addr();
    let big = format!(
        "GET /health HTTP/1.1\r\nX-Big: {}\r\n\r\n",
        "a".repeat(MAX_HEAD_BYTES)
    );
    assert_eq!(send(addr, big.as_bytes()).status, 431);
    // No blank line at all, and far more than the limit.
    let mut s = TcpStream::connect(addr).expect("connect");
    let _ = s.write_all(&vec![b'x'; 200_000]);
    let g = read_response(s);
    assert!(g.status == 431 || g.status == 0, "{g:?}");
    // Just under the limit is fine.
    let fits = format!(
        "GET /health HTTP/1.1\r\nX-Big: {}\r\n\r\n",
        "a".repeat(MAX_HEAD_BYTES - 100)
    );
    assert_eq!(send(addr, fits.as_bytes()).status, 200);
}

#[test]
fn slow_clients_time_out_without_blocking_others() {
    let (guard, _snap) = start("Active", Light::Active);
    let addr = guard.local_addr();
    let start = Instant::now();
    let mut slow = Vec::new();
    for _ in 0..8 {
        let mut s = TcpStream::connect(addr).expect("connect");
        s.write_all(b"GET /health HTTP/1.1\r\nX-Slow: ")
            .expect("send");
        slow.push(s);
    }
    // Others are answered at once.
    for _ in 0..5 {
        let t = Instant::now();
        assert_eq!(get(addr, "/health").status, 200);
        assert!(t.elapsed() < Duration::from_secs(1));
    }
    // A byte now and then does not extend the deadline.
    std::thread::sleep(Duration::from_millis(700));
    for s in &mut slow {
        let _ = s.write_all(b"a");
    }
    for s in slow {
        let g = read_response(s);
        assert_eq!(g.status, 408);
    }
    let took = start.elapsed();
    assert!(
        took >= READ_TIMEOUT - Duration::from_millis(100),
        "{took:?}"
    );
    assert!(took < READ_TIMEOUT + Duration::from_secs(2), "{took:?}");
}

#[test]
fn connections_beyond_the_limit_get_503_then_service_resumes() {
    let (guard, _snap) = start("Active", Light::Active);
    let addr = guard.local_addr();
    let idle: Vec<TcpStream> = (0..MAX_CONNECTIONS)
        .map(|_| TcpStream::connect(addr).expect("connect"))
        .collect();
    let g = get(addr, "/health");
    assert_eq!(g.status, 503);
    assert!(g.body.starts_with("busy"));
    drop(idle);
    // The idle connections' threads see the close and free their slots.
    let t = Instant::now();
    loop {
        let g = get(addr, "/health");
        if g.status == 200 {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(5), "still busy: {g:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
