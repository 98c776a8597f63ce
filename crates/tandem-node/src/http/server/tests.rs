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
            path: "/health",
            format: Format::Text,
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

/// A connection that sends part of a request head and then nothing.
fn slowloris(addr: SocketAddr, n: usize) -> TcpStream {
    let mut s = TcpStream::connect(addr).expect("connect");
    let partial: &[u8] = match n % 3 {
        0 => b"",
        1 => b"G",
        _ => b"GET /health HTTP/1.1\r\nX-Slow: ",
    };
    s.write_all(partial).expect("send");
    s
}

#[test]
fn three_hundred_idle_and_slow_connections_do_not_crowd_out_probes() {
    let (guard, _snap) = start("Active", Light::Active);
    let addr = guard.local_addr();
    let held: Vec<TcpStream> = (0..300).map(|n| slowloris(addr, n)).collect();
    for _ in 0..50 {
        let t = Instant::now();
        let g = get(addr, "/health");
        assert_eq!((g.status, g.body.as_str()), (200, "active\n"), "{g:?}");
        assert_eq!(g.header("X-Tandem-State"), Some("active"));
        assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    }
    let g = get(addr, "/live");
    assert_eq!((g.status, g.body.as_str()), (200, "alive\n"));
    let g = get(addr, "/metrics");
    assert!(
        g.body
            .contains("\ntandem_http_connections_evicted_total 0\n"),
        "{}",
        g.body
    );
    assert!(g
        .body
        .contains("\ntandem_http_connections_refused_total 0\n"));
    drop(held);
}

#[test]
fn a_full_port_evicts_the_oldest_idle_connection_and_counts_it() {
    let snap = Arc::new(RwLock::new(snapshot(vec![instance(
        "vi1",
        "Active",
        Light::Active,
    )])));
    let guard = start_with(cfg(), snap, 8).expect("serve on 127.0.0.1:0");
    let addr = guard.local_addr();
    let mut idle: Vec<TcpStream> = (0..8).map(|n| slowloris(addr, n)).collect();
    // The port holds 8: the probe evicts the oldest idle connection.
    let g = get(addr, "/health");
    assert_eq!((g.status, g.body.as_str()), (200, "active\n"), "{g:?}");
    let oldest = &mut idle[0];
    oldest
        .set_read_timeout(Some(Duration::from_secs(1)))
        .expect("timeout");
    let mut buf = [0u8; 64];
    // Closed without an answer, well before its 2 s head deadline.
    assert_eq!(oldest.read(&mut buf).map_err(|e| e.kind()), Ok(0));
    // The newest idle connection is still open.
    let newest = &mut idle[7];
    newest
        .set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    assert!(newest.read(&mut buf).is_err(), "still waiting for its head");
    let g = get(addr, "/metrics");
    assert_eq!(g.status, 200);
    let evicted = g
        .body
        .lines()
        .find_map(|l| l.strip_prefix("tandem_http_connections_evicted_total "))
        .and_then(|v| v.parse::<u64>().ok());
    assert!(evicted.is_some_and(|n| n >= 1), "{}", g.body);
    assert!(g
        .body
        .contains("# TYPE tandem_http_connections_evicted_total counter\n"));
}

#[test]
fn a_refused_connection_gets_429_busy_never_the_standby_answer() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let client = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
    let (accepted, _) = listener.accept().expect("accept");
    accepted.set_nonblocking(true).expect("nonblocking");
    refuse_busy(mio::net::TcpStream::from_std(accepted));
    let g = read_response(client);
    assert_eq!((g.status, g.body.as_str()), (429, BUSY_BODY), "{g:?}");
    assert_eq!(g.header("X-Tandem-State"), None);
    assert_eq!(g.header("Retry-After"), Some("1"));
    assert!(g.head.starts_with("HTTP/1.1 429 Too Many Requests\r\n"));
}

#[test]
fn slow_heads_are_counted_as_timeouts() {
    let (guard, _snap) = start("Active", Light::Active);
    let addr = guard.local_addr();
    let s = slowloris(addr, 2);
    assert_eq!(read_response(s).status, 408);
    let g = get(addr, "/metrics");
    assert!(
        g.body.contains("\ntandem_http_request_timeouts_total 1\n"),
        "{}",
        g.body
    );
}

#[test]
fn parse_head_takes_json_from_the_query_or_accept() {
    let f = |head: &[u8]| parse_head(head).map(|r| r.format);
    assert_eq!(
        f(b"GET /health?format=json HTTP/1.1\r\n\r\n"),
        Ok(Format::Json)
    );
    assert_eq!(
        f(b"GET /health?a=1&format=json#x HTTP/1.1\r\n\r\n"),
        Ok(Format::Json)
    );
    assert_eq!(
        f(b"GET /health?format=jsonx HTTP/1.1\r\n\r\n"),
        Ok(Format::Text)
    );
    assert_eq!(
        f(b"GET /health HTTP/1.1\r\naccept: text/html, application/json;q=0.9\r\n\r\n"),
        Ok(Format::Json)
    );
    assert_eq!(
        f(b"GET /health HTTP/1.1\r\nAccept: */*\r\n\r\n"),
        Ok(Format::Text)
    );
}
