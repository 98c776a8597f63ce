//! The proxy alone, on loopback: two small real servers on 127.0.0.1,
//! clients from distinct loopback addresses (127.0.0.2, .3, ...), the
//! table on a clock of the test's.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use tandem_replication::persist::{Change, KeyHasher, PersistKey, Persistence, PersistenceTable};
use tandem_time::Instant;

use crate::http::{serve, Settings};

/// A real server: answers every request with `backend <index>` and keeps
/// what it received.
struct Backend {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn backend(index: usize) -> Backend {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let received = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let (r, s) = (received.clone(), stop.clone());
    std::thread::spawn(move || {
        while !s.load(Ordering::Relaxed) {
            let Ok((mut conn, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            };
            conn.set_nonblocking(false).unwrap();
            conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let request = read_request(&mut conn);
            r.lock().unwrap().push(request);
            let body = format!("backend {index}");
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nX-Backend-Says: {index}\r\n\
                 Connection: keep-alive\r\n\r\n{body}",
                body.len()
            );
        }
    });
    Backend {
        addr,
        received,
        stop,
    }
}

/// A request's head and its Content-Length body, as text.
fn read_request(conn: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") && buf.len() < 65_536 {
        match conn.read(&mut byte) {
            Ok(1) => buf.push(byte[0]),
            _ => break,
        }
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    let _ = conn.read_exact(&mut body);
    head + &String::from_utf8_lossy(&body)
}

/// The proxy, serving on a thread until dropped.
struct Running {
    addr: SocketAddr,
    table: PersistenceTable,
    origin: std::time::Instant,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<std::io::Result<()>>>,
}

impl Running {
    fn now(&self) -> Instant {
        Instant::from_duration(self.origin.elapsed())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn settings() -> Settings {
    Settings {
        head_timeout: Duration::from_millis(400),
        io_timeout: Duration::from_millis(400),
        connect_timeout: Duration::from_millis(400),
        ..Settings::default()
    }
}

fn proxy(backends: &[&Backend], settings: Settings) -> Running {
    proxy_to(backends.iter().map(|b| b.addr).collect(), settings)
}

fn proxy_to(backends: Vec<SocketAddr>, settings: Settings) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let table = PersistenceTable::new(KeyHasher::new([9; 16]), 1_000);
    let origin = std::time::Instant::now();
    let stop = settings.stop.clone();
    let t = table.clone();
    let thread = std::thread::spawn(move || {
        serve(
            listener,
            backends,
            t,
            move || Instant::from_duration(origin.elapsed()),
            settings,
        )
    });
    Running {
        addr,
        table,
        origin,
        stop,
        thread: Some(thread),
    }
}

/// A connection to the proxy from `src` (a loopback address).
fn connect_from(src: &str, to: SocketAddr) -> TcpStream {
    let src: IpAddr = src.parse().unwrap();
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.bind(&SocketAddr::new(src, 0).into()).unwrap();
    socket
        .connect_timeout(&to.into(), Duration::from_secs(5))
        .unwrap();
    let conn: TcpStream = socket.into();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    conn.set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    conn
}

#[derive(Debug)]
struct Reply {
    code: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn backend(&self) -> usize {
        self.header("X-Tandem-Backend")
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no X-Tandem-Backend: {self:?}"))
    }

    /// The value of the stickiness cookie set, if any.
    fn cookie(&self) -> Option<String> {
        let v = self.header("Set-Cookie")?;
        let v = v.strip_prefix("TANDEM_SRV=")?;
        Some(v.split(';').next().unwrap_or_default().to_string())
    }
}

/// Reads the whole response (up to the close) and parses it.
fn read_reply(conn: &mut TcpStream) -> Reply {
    let mut raw = Vec::new();
    let _ = conn.read_to_end(&mut raw);
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut resp = httparse::Response::new(&mut headers);
    let len = match resp.parse(&raw) {
        Ok(httparse::Status::Complete(len)) => len,
        other => panic!(
            "no response: {other:?} in {:?}",
            String::from_utf8_lossy(&raw)
        ),
    };
    Reply {
        code: resp.code.unwrap(),
        headers: resp
            .headers
            .iter()
            .map(|h| {
                (
                    h.name.to_string(),
                    String::from_utf8_lossy(h.value).into_owned(),
                )
            })
            .collect(),
        body: String::from_utf8_lossy(&raw[len..]).into_owned(),
    }
}

fn send(src: &str, to: SocketAddr, raw: &[u8]) -> Reply {
    let mut conn = connect_from(src, to);
    conn.write_all(raw).unwrap();
    read_reply(&mut conn)
}

fn get(src: &str, to: SocketAddr, cookie: Option<&str>) -> Reply {
    let cookie = cookie
        .map(|c| format!("Cookie: theme=dark; TANDEM_SRV={c}\r\n"))
        .unwrap_or_default();
    send(
        src,
        to,
        format!("GET /x HTTP/1.1\r\nHost: shop.example\r\n{cookie}\r\n").as_bytes(),
    )
}

#[test]
fn a_cookie_keeps_its_real_server_from_any_address() {
    let (b0, b1) = (backend(0), backend(1));
    let p = proxy(&[&b0, &b1], settings());
    // First visit from .2: round robin, a new cookie.
    let first = get("127.0.0.2", p.addr, None);
    assert_eq!(first.code, 200);
    let a = first.backend();
    assert_eq!(first.body, format!("backend {a}"));
    let token = first.cookie().expect("a new client gets a cookie");
    assert_eq!(token.len(), 32);
    // .3 without a cookie: the next real server, its own cookie.
    let other = get("127.0.0.3", p.addr, None);
    assert_ne!(other.backend(), a);
    assert_ne!(other.cookie().unwrap(), token);
    // .3 with the first cookie: the cookie wins over .3's own entry.
    for _ in 0..3 {
        let r = get("127.0.0.3", p.addr, Some(&token));
        assert_eq!(r.backend(), a);
        assert_eq!(r.cookie(), None, "a known cookie is not set again");
    }
    let key = p.table.hasher().cookie(token.as_bytes());
    assert_eq!(p.table.lookup(p.now(), 0, &key), Some(a as u16));
    // An unknown cookie: the address decides, and a new cookie is set.
    let r = get(
        "127.0.0.3",
        p.addr,
        Some("00000000000000000000000000000000"),
    );
    assert_eq!(r.backend(), other.backend());
    assert!(r.cookie().is_some());
    let seen = [&b0, &b1][a].received.lock().unwrap().clone();
    assert!(seen
        .iter()
        .any(|r| r.contains("X-Forwarded-For: 127.0.0.3\r\n")));
}

#[test]
fn an_address_keeps_its_real_server_and_a_partner_decision_is_adopted() {
    let (b0, b1) = (backend(0), backend(1));
    let p = proxy(&[&b0, &b1], settings());
    let first = get("127.0.0.4", p.addr, None).backend();
    for _ in 0..3 {
        let r = get("127.0.0.4", p.addr, None);
        assert_eq!(r.backend(), first, "same address, same real server");
        assert!(r.cookie().is_some(), "no cookie sent: one is set");
    }
    assert_ne!(get("127.0.0.5", p.addr, None).backend(), first);
    let source = PersistKey::source("127.0.0.4".parse().unwrap(), 32);
    assert_eq!(p.table.lookup(p.now(), 0, &source), Some(first as u16));

    // The partner's decision for .6 (as after a takeover): round robin
    // would give `first`; the partner's real server is kept, and adopted.
    let partner = PersistKey::source("127.0.0.6".parse().unwrap(), 32);
    let theirs = 1 - first as u16;
    p.table.apply_partner(
        p.now(),
        1,
        Change::Upsert(Persistence {
            table: 0,
            key: partner,
            backend: theirs,
            lifetime_ms: 60_000,
        }),
    );
    assert_eq!(
        get("127.0.0.6", p.addr, None).backend(),
        usize::from(theirs)
    );
    assert!(p
        .table
        .local_entries(p.now())
        .iter()
        .any(|e| e.key == partner && e.backend == theirs));
}

#[test]
fn the_request_head_is_bounded() {
    let (b0, b1) = (backend(0), backend(1));
    let p = proxy(&[&b0, &b1], settings());
    let big = format!("GET / HTTP/1.1\r\nX-Pad: {}\r\n\r\n", "a".repeat(9_000));
    assert_eq!(send("127.0.0.2", p.addr, big.as_bytes()).code, 431);
    let many: String = (0..65).map(|i| format!("X-H{i}: v\r\n")).collect();
    let many = format!("GET / HTTP/1.1\r\n{many}\r\n");
    assert_eq!(send("127.0.0.2", p.addr, many.as_bytes()).code, 431);
    assert!(b0.received.lock().unwrap().is_empty() && b1.received.lock().unwrap().is_empty());
    let fits = format!("GET / HTTP/1.1\r\nX-Pad: {}\r\n\r\n", "a".repeat(7_000));
    assert_eq!(send("127.0.0.2", p.addr, fits.as_bytes()).code, 200);
}

#[test]
fn a_slow_client_gets_408_when_the_head_deadline_passes() {
    let b0 = backend(0);
    let p = proxy(&[&b0], settings());
    // Half a head, then silence.
    let start = std::time::Instant::now();
    let r = send("127.0.0.2", p.addr, b"GET / HTTP/1.1\r\nHost: a\r\n");
    let took = start.elapsed();
    assert_eq!(r.code, 408);
    assert!(
        took >= Duration::from_millis(350) && took < Duration::from_secs(3),
        "{took:?}"
    );

    // A byte every 50 ms: each read is quick, the whole head is not.
    let mut conn = connect_from("127.0.0.3", p.addr);
    let mut writer = conn.try_clone().unwrap();
    let start = std::time::Instant::now();
    let dripper = std::thread::spawn(move || {
        let _ = writer.write_all(b"GET / HTTP/1.1\r\nX-Slow: ");
        for _ in 0..100 {
            if writer.write_all(b"a").is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    let r = read_reply(&mut conn);
    let took = start.elapsed();
    assert_eq!(r.code, 408);
    assert!(took < Duration::from_secs(2), "{took:?}");
    drop(conn);
    dripper.join().unwrap();
    assert!(b0.received.lock().unwrap().is_empty());
}

#[test]
fn connections_beyond_the_bound_get_503() {
    let b0 = backend(0);
    let p = proxy(
        &[&b0],
        Settings {
            max_connections: 2,
            head_timeout: Duration::from_secs(3),
            io_timeout: Duration::from_secs(3),
            ..settings()
        },
    );
    let idle = [
        connect_from("127.0.0.2", p.addr),
        connect_from("127.0.0.2", p.addr),
    ];
    std::thread::sleep(Duration::from_millis(100));
    let start = std::time::Instant::now();
    let r = get("127.0.0.3", p.addr, None);
    assert_eq!(r.code, 503);
    assert!(start.elapsed() < Duration::from_secs(1));
    drop(idle);
    // The slots come back once those connections end.
    let end = std::time::Instant::now() + Duration::from_secs(5);
    let code = loop {
        let code = get("127.0.0.3", p.addr, None).code;
        if code == 200 || std::time::Instant::now() > end {
            break code;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(code, 200);
}

#[test]
fn a_body_is_forwarded_and_hop_by_hop_headers_are_not() {
    let b0 = backend(0);
    let p = proxy(&[&b0], settings());
    let r = send(
        "127.0.0.2",
        p.addr,
        b"POST /form HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\nKeep-Alive: 5\r\n\
          Content-Length: 5\r\n\r\nhello",
    );
    assert_eq!(r.code, 200);
    assert_eq!(r.body, "backend 0");
    assert_eq!(
        r.header("X-Backend-Says"),
        Some("0"),
        "end-to-end headers pass"
    );
    assert_eq!(r.header("Connection"), Some("close"));
    let got = b0.received.lock().unwrap().clone();
    assert_eq!(
        got,
        ["POST /form HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\
          X-Forwarded-For: 127.0.0.2\r\nConnection: close\r\n\r\nhello"]
    );

    // Expect: 100-continue: the proxy says continue, then forwards.
    let mut conn = connect_from("127.0.0.2", p.addr);
    conn.write_all(
        b"PUT /f HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n",
    )
    .unwrap();
    let mut interim = [0u8; 25];
    conn.read_exact(&mut interim).unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    conn.write_all(b"abc").unwrap();
    assert_eq!(read_reply(&mut conn).code, 200);
    assert!(b0.received.lock().unwrap()[1].ends_with("\r\n\r\nabc"));
}

#[test]
fn requests_it_cannot_serve_get_an_error_status() {
    // A port nobody listens on.
    let dead = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let p = proxy_to(vec![dead], settings());
    assert_eq!(get("127.0.0.2", p.addr, None).code, 502);
    let chunked = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    assert_eq!(send("127.0.0.2", p.addr, chunked).code, 501);
    assert_eq!(send("127.0.0.2", p.addr, b"NOT HTTP\r\n\r\n").code, 400);
    let two = b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab";
    assert_eq!(send("127.0.0.2", p.addr, two).code, 400);
}

#[test]
fn the_documented_configuration_is_a_valid_one() {
    let doc: String = include_str!("main.rs")
        .lines()
        .filter_map(|l| l.strip_prefix("//!"))
        .map(|l| l.strip_prefix(' ').unwrap_or(l))
        .skip_while(|l| *l != "```toml")
        .skip(1)
        .take_while(|l| *l != "```")
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(doc.contains("[replication]"), "{doc}");
    let config = tandem_node::config::parse(&doc).unwrap_or_else(|e| panic!("{e}\n{doc}"));
    let r = config.global.replication.expect("[replication]");
    assert_eq!((r.node, r.cluster), (1, 7));
}
