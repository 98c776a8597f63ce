//! Socket-level tests of the control server with closures in place of the
//! daemon's main loop (no root needed).

use crossbeam_channel::{unbounded, Receiver, Sender};
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Instant;

use super::*;

/// A fresh directory under the system temp dir, removed on drop.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub(crate) fn new() -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "tandemd-ctl-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = fs::remove_dir_all(&dir);
        TempDir(dir)
    }

    pub(crate) fn sock(&self) -> PathBuf {
        self.0.join("run").join("tandemd.sock")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A server whose main loop records requests and answers from `answer`;
/// event subscribers' senders are kept in the returned list.
pub(crate) struct Fake {
    pub(crate) requests: Arc<Mutex<Vec<ControlRequest>>>,
    subscribers: Arc<Mutex<Vec<Sender<String>>>>,
    guard: ServerGuard,
}

pub(crate) fn fake(path: &Path, answer: fn(&ControlRequest) -> ControlReply) -> Fake {
    let requests = Arc::new(Mutex::new(Vec::new()));
    let subscribers = Arc::new(Mutex::new(Vec::new()));
    let (r, s) = (requests.clone(), subscribers.clone());
    let guard = serve_with(
        path,
        move |req| {
            let reply = answer(&req);
            r.lock().unwrap().push(req);
            reply
        },
        move || {
            let (tx, rx) = unbounded();
            s.lock().unwrap().push(tx);
            rx
        },
    )
    .unwrap();
    Fake {
        requests,
        subscribers,
        guard,
    }
}

fn done(req: &ControlRequest) -> ControlReply {
    match req {
        ControlRequest::Status => ControlReply::Status(Box::new(super::render::tests::sample())),
        ControlRequest::Failover {
            target: Some(t), ..
        } if t == "nope" => ControlReply::Refused(Refusal::NoSuchTarget(t.clone())),
        ControlRequest::Failover { target } => ControlReply::HandedOver {
            instances: vec![target.clone().unwrap_or_else(|| "all".into())],
        },
        ControlRequest::Maintenance { on } => ControlReply::Maintenance { on: *on },
        _ => ControlReply::PacifiedCleared,
    }
}

/// Sends raw lines on one connection and reads one reply per line.
fn raw(path: &Path, lines: &[&str]) -> Vec<Value> {
    let mut s = UnixStream::connect(path).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut reader = BufReader::new(s.try_clone().unwrap());
    lines
        .iter()
        .map(|l| {
            s.write_all(l.as_bytes()).unwrap();
            s.write_all(b"\n").unwrap();
            let mut reply = String::new();
            reader.read_line(&mut reply).unwrap();
            serde_json::from_str(&reply).unwrap()
        })
        .collect()
}

fn error_of(v: &Value) -> &str {
    assert_eq!(v["ok"], false, "{v}");
    v["error"].as_str().unwrap()
}

#[test]
fn status_round_trips_the_snapshot() {
    let dir = TempDir::new();
    let f = fake(&dir.sock(), done);
    let snap = status(&dir.sock()).unwrap();
    assert_eq!(snap, super::render::tests::sample());
    let reply = call(&dir.sock(), &json!({"cmd": "status"})).unwrap();
    assert_eq!(reply["ok"], true);
    assert_eq!(reply["status"]["light"], "active");
    assert_eq!(*f.requests.lock().unwrap(), vec![ControlRequest::Status; 2]);
}

#[test]
fn commands_map_to_control_requests() {
    let dir = TempDir::new();
    let f = fake(&dir.sock(), done);
    let p = dir.sock();
    for req in [
        json!({"cmd": "failover", "target": "web"}),
        json!({"cmd": "failover", "target": null}),
        json!({"cmd": "failover"}),
        json!({"cmd": "maintenance", "on": true}),
        json!({"cmd": "maintenance", "on": false}),
        json!({"cmd": "clear-pacified"}),
    ] {
        let reply = call(&p, &req).unwrap();
        assert_eq!(reply["ok"], true);
        assert!(!reply["message"].as_str().unwrap().is_empty());
    }
    assert_eq!(
        *f.requests.lock().unwrap(),
        vec![
            ControlRequest::Failover {
                target: Some("web".into())
            },
            ControlRequest::Failover { target: None },
            ControlRequest::Failover { target: None },
            ControlRequest::Maintenance { on: true },
            ControlRequest::Maintenance { on: false },
            ControlRequest::ClearPacified,
        ]
    );
    // request_json builds what the server parses back.
    for req in f.requests.lock().unwrap().iter() {
        let line = request_json(req).to_string();
        assert_eq!(parse_request(&line), Ok(Request::Control(req.clone())));
    }
}

#[test]
fn refusal_becomes_refused_error() {
    let dir = TempDir::new();
    let _f = fake(&dir.sock(), done);
    let err = call(&dir.sock(), &json!({"cmd": "failover", "target": "nope"})).unwrap_err();
    assert!(matches!(err, ControlError::Refused { .. }));
    assert_eq!(err.to_string(), "no instance or sync group named \"nope\"");
}

#[test]
fn malformed_requests_get_specific_errors_and_the_connection_survives() {
    let dir = TempDir::new();
    let f = fake(&dir.sock(), done);
    let replies = raw(
        &dir.sock(),
        &[
            "not json",
            "[1, 2]",
            "{}",
            r#"{"cmd": 7}"#,
            r#"{"cmd": "reboot"}"#,
            r#"{"cmd": "maintenance"}"#,
            r#"{"cmd": "maintenance", "on": "yes"}"#,
            r#"{"cmd": "failover", "target": 3}"#,
            r#"{"cmd": "failover", "tagret": "web"}"#,
            "\u{1b}[A",
            r#"{"cmd": "clear-pacified"}"#,
        ],
    );
    let errors: Vec<&str> = replies[..10].iter().map(error_of).collect();
    // docs/control.md shows these words.
    assert_eq!(
        errors[0],
        r#"malformed request: not JSON (expected ident at line 1 column 2); expected one JSON object per line, e.g. {"cmd":"status"}"#
    );
    assert!(
        errors[1].contains("an array instead of an object"),
        "{}",
        errors[1]
    );
    assert!(errors[2].contains("no \"cmd\""));
    assert!(errors[3].contains("\"cmd\" is a number"));
    assert_eq!(
        errors[4],
        "unknown command \"reboot\": expected status, failover, maintenance, clear-pacified, events, config-apply, config-get, config-set, config-unset, sync-status, sync-clear, sync-diff or sync-force"
    );
    assert_eq!(errors[5], "maintenance: missing \"on\" (true or false)");
    assert_eq!(
        errors[6],
        "maintenance: \"on\" must be true or false; got \"yes\""
    );
    assert!(errors[7].starts_with("failover: \"target\" must be"));
    assert_eq!(errors[8], "failover: unknown field \"tagret\"");
    assert!(errors[9].starts_with("malformed request: not JSON"));
    assert_eq!(replies[10]["ok"], true);
    // Only the valid request reached the main loop.
    assert_eq!(
        *f.requests.lock().unwrap(),
        vec![ControlRequest::ClearPacified]
    );
}

#[test]
fn invalid_utf8_and_overlong_lines_are_answered() {
    let dir = TempDir::new();
    let _f = fake(&dir.sock(), done);
    let mut s = UnixStream::connect(dir.sock()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut reader = BufReader::new(s.try_clone().unwrap());
    s.write_all(b"\xff\xfe\n").unwrap();
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let v: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(error_of(&v), "malformed request: not UTF-8");
    // An overlong line: the server answers and closes.
    let _ = s.write_all(&vec![b'x'; MAX_REQUEST_LINE + 4097]);
    line.clear();
    reader.read_line(&mut line).unwrap();
    let v: Value = serde_json::from_str(&line).unwrap();
    assert!(error_of(&v).contains("longer than"));
    line.clear();
    assert_eq!(reader.read_line(&mut line).unwrap(), 0);
}

#[test]
fn events_stream_in_order_until_the_client_leaves() {
    let dir = TempDir::new();
    let f = fake(&dir.sock(), done);
    let subs = f.subscribers.clone();
    let feeder = thread::spawn(move || {
        // Wait for the subscription, then send three events.
        let deadline = Instant::now() + Duration::from_secs(10);
        while subs.lock().unwrap().is_empty() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(10));
        }
        let tx = subs.lock().unwrap()[0].clone();
        for n in 0..3 {
            tx.send(json!({"event": "state", "n": n}).to_string())
                .unwrap();
        }
        tx
    });
    let mut got = Vec::new();
    stream(&dir.sock(), |line| {
        got.push(serde_json::from_str::<Value>(line).unwrap());
        got.len() < 3
    })
    .unwrap();
    let tx = feeder.join().unwrap();
    assert_eq!(
        got.iter().map(|v| v["n"].clone()).collect::<Vec<_>>(),
        [0, 1, 2]
    );
    // The client left: the server notices within a couple of seconds, so
    // a later send fails once the receiver is dropped.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if tx.send("{}".into()).is_err() {
            break;
        }
        assert!(Instant::now() < deadline, "the stream outlived its client");
        thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn events_stream_ends_when_the_daemon_stops() {
    let dir = TempDir::new();
    let f = fake(&dir.sock(), done);
    let subs = f.subscribers.clone();
    let stopper = thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(10);
        while subs.lock().unwrap().is_empty() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(10));
        }
        let tx = subs.lock().unwrap().remove(0);
        tx.send(r#"{"event":"last"}"#.into()).unwrap();
    });
    let mut got = Vec::new();
    stream(&dir.sock(), |line| {
        got.push(line.to_string());
        true
    })
    .unwrap();
    stopper.join().unwrap();
    assert_eq!(got, [r#"{"event":"last"}"#]);
}

#[test]
fn socket_is_root_only_and_removed_on_drop() {
    let dir = TempDir::new();
    let f = fake(&dir.sock(), done);
    let mode = fs::metadata(dir.sock()).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let dmode = fs::metadata(dir.sock().parent().unwrap())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(dmode & 0o777, 0o755);
    assert_eq!(f.guard.path(), dir.sock());
    drop(f);
    assert!(!dir.sock().exists());
    let err = call(&dir.sock(), &json!({"cmd": "status"})).unwrap_err();
    assert!(matches!(err, ControlError::NotRunning { .. }));
    assert!(err.to_string().starts_with(&format!(
        "tandemd is not running (no control socket at {}",
        dir.sock().display()
    )));
}

#[test]
fn stale_socket_is_replaced() {
    let dir = TempDir::new();
    fs::create_dir_all(dir.sock().parent().unwrap()).unwrap();
    drop(UnixListener::bind(dir.sock()).unwrap());
    assert!(dir.sock().exists());
    let err = call(&dir.sock(), &json!({"cmd": "status"})).unwrap_err();
    assert!(matches!(err, ControlError::Stale { .. }), "{err}");
    let _f = fake(&dir.sock(), done);
    assert!(status(&dir.sock()).is_ok());
}

#[test]
fn live_socket_is_refused() {
    let dir = TempDir::new();
    let _first = fake(&dir.sock(), done);
    let err = serve_with(&dir.sock(), done_owned, unbounded::<String>().1.into_fn()).unwrap_err();
    assert!(matches!(err, ControlError::AlreadyRunning { .. }));
    assert_eq!(
        err.to_string(),
        format!(
            "another tandemd is running on {} (it holds the control socket's lock or answers on it); stop it or set another control_socket",
            dir.sock().display()
        )
    );
    // The first server still answers.
    assert!(status(&dir.sock()).is_ok());
}

#[test]
fn servers_starting_together_on_one_path_exactly_one_wins() {
    // Many rounds, each with every server released at the same moment.
    for round in 0..20 {
        let dir = TempDir::new();
        if round % 2 == 1 {
            // Every other round, a stale socket is there to be replaced.
            fs::create_dir_all(dir.sock().parent().unwrap()).unwrap();
            drop(UnixListener::bind(dir.sock()).unwrap());
        }
        let n = 8;
        let barrier = Arc::new(std::sync::Barrier::new(n));
        let threads: Vec<_> = (0..n)
            .map(|_| {
                let (b, path) = (barrier.clone(), dir.sock());
                std::thread::spawn(move || {
                    b.wait();
                    serve_with(&path, done_owned, unbounded::<String>().1.into_fn())
                })
            })
            .collect();
        let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        let won: Vec<&ServerGuard> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        let lost: Vec<&ControlError> = results.iter().filter_map(|r| r.as_ref().err()).collect();
        assert_eq!(won.len(), 1, "round {round}: {lost:?}");
        for e in &lost {
            assert!(
                matches!(e, ControlError::AlreadyRunning { .. }),
                "round {round}: {e}"
            );
            assert!(
                e.to_string().starts_with(&format!(
                    "another tandemd is running on {}",
                    dir.sock().display()
                )),
                "{e}"
            );
        }
        // The winner is the one that answers.
        assert!(status(&dir.sock()).is_ok(), "round {round}");
        drop(results);
        // Once it is gone, the path is free again.
        let _next = fake(&dir.sock(), done);
        assert!(status(&dir.sock()).is_ok());
    }
}

#[test]
fn a_running_server_holds_the_path_even_without_its_socket_file() {
    let dir = TempDir::new();
    let _first = fake(&dir.sock(), done);
    assert!(lock_path(&dir.sock()).exists());
    fs::remove_file(dir.sock()).unwrap();
    let err = serve_with(&dir.sock(), done_owned, unbounded::<String>().1.into_fn()).unwrap_err();
    assert!(matches!(err, ControlError::AlreadyRunning { .. }), "{err}");
    assert!(!dir.sock().exists());
}

#[test]
fn a_dead_servers_socket_and_lock_file_are_taken_over() {
    let dir = TempDir::new();
    drop(fake(&dir.sock(), done));
    // What a killed daemon leaves: its lock file (unlocked now) and a
    // socket nobody listens on.
    assert!(lock_path(&dir.sock()).exists());
    drop(UnixListener::bind(dir.sock()).unwrap());
    let _f = fake(&dir.sock(), done);
    assert!(status(&dir.sock()).is_ok());
}

#[test]
fn a_file_that_is_not_a_socket_is_left_alone() {
    let dir = TempDir::new();
    fs::create_dir_all(dir.sock().parent().unwrap()).unwrap();
    fs::write(dir.sock(), "precious").unwrap();
    let err = serve_with(&dir.sock(), done_owned, unbounded::<String>().1.into_fn()).unwrap_err();
    assert!(matches!(err, ControlError::NotASocket { .. }));
    assert_eq!(fs::read_to_string(dir.sock()).unwrap(), "precious");
}

/// A client that connects and sends part of a request line, or nothing.
fn idle_client(path: &Path, n: usize) -> UnixStream {
    let mut s = UnixStream::connect(path).unwrap();
    let partial: &[u8] = match n % 3 {
        0 => b"",
        1 => b"{",
        _ => br#"{"cmd":"#,
    };
    s.write_all(partial).unwrap();
    s
}

#[test]
fn idle_connections_do_not_lock_clients_out() {
    let dir = TempDir::new();
    let f = fake(&dir.sock(), done);
    let mut idle: Vec<UnixStream> = (0..MAX_CONNECTIONS + 36)
        .map(|n| idle_client(&dir.sock(), n))
        .collect();
    for _ in 0..20 {
        assert_eq!(status(&dir.sock()).unwrap(), super::render::tests::sample());
    }
    let (text, r) = cli_commands::run(&cli_commands::status_of(&dir.sock()));
    r.unwrap();
    assert!(text.starts_with("node: "), "{text}");
    assert_eq!(f.requests.lock().unwrap().len(), 21);
    // The oldest idle connection made room: closed without an answer.
    idle[0]
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 64];
    assert_eq!(idle[0].read(&mut buf).unwrap(), 0);
    drop(idle);
}

#[test]
fn a_refusal_reaches_the_client_as_the_busy_message() {
    let dir = TempDir::new();
    // Every request waits for the gate: MAX_CONNECTIONS of them hold every
    // connection, and none is waiting for a line, so none can be evicted.
    let gate = Arc::new((Mutex::new(false), std::sync::Condvar::new()));
    let entered = Arc::new(AtomicUsize::new(0));
    let (g, e) = (gate.clone(), entered.clone());
    let _guard = serve_with(
        &dir.sock(),
        move |req| {
            e.fetch_add(1, Ordering::SeqCst);
            let (lock, cv) = &*g;
            let open = lock.lock().unwrap();
            let _open = cv
                .wait_timeout_while(open, Duration::from_secs(20), |open| !*open)
                .unwrap();
            done_owned(req)
        },
        || unbounded().1,
    )
    .unwrap();
    let held: Vec<UnixStream> = (0..MAX_CONNECTIONS)
        .map(|_| {
            let mut s = UnixStream::connect(dir.sock()).unwrap();
            s.write_all(b"{\"cmd\":\"status\"}\n").unwrap();
            s
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    while entered.load(Ordering::SeqCst) < MAX_CONNECTIONS {
        assert!(Instant::now() < deadline, "requests did not arrive");
        thread::sleep(Duration::from_millis(10));
    }
    let (text, r) = cli_commands::run(&cli_commands::status_of(&dir.sock()));
    assert_eq!(text, "");
    assert_eq!(r.unwrap_err(), busy_message());
    // A raw client that sends first reads the same line.
    let mut s = UnixStream::connect(dir.sock()).unwrap();
    let _ = s.write_all(b"{\"cmd\":\"status\"}\n");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut line = String::new();
    BufReader::new(&mut s).read_line(&mut line).unwrap();
    let v: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(error_of(&v), busy_message());
    // Opening the gate answers the held requests.
    *gate.0.lock().unwrap() = true;
    gate.1.notify_all();
    for mut h in held {
        h.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut line = String::new();
        BufReader::new(&mut h).read_line(&mut line).unwrap();
        assert!(line.starts_with("{\"ok\":true"), "{line}");
    }
}

#[test]
fn a_request_with_a_duplicate_key_is_refused_and_does_nothing() {
    let dir = TempDir::new();
    let f = fake(&dir.sock(), done);
    let replies = raw(
        &dir.sock(),
        &[
            r#"{"cmd":"status","cmd":"failover"}"#,
            r#"{"cmd":"failover","target":null,"target":"web"}"#,
            r#"{"cmd":"maintenance","on":true,"x":{"a":1,"a":2}}"#,
            r#"{"cmd":"status"}"#,
        ],
    );
    assert_eq!(
        error_of(&replies[0]),
        "malformed request: duplicate key \"cmd\" at the top level; each key may appear only once"
    );
    assert_eq!(
        error_of(&replies[1]),
        "malformed request: duplicate key \"target\" at the top level; each key may appear only once"
    );
    assert_eq!(
        error_of(&replies[2]),
        "malformed request: duplicate key \"a\" in \"x\"; each key may appear only once"
    );
    assert_eq!(replies[3]["ok"], true);
    assert_eq!(*f.requests.lock().unwrap(), [ControlRequest::Status]);
}

fn done_owned(req: ControlRequest) -> ControlReply {
    done(&req)
}

/// A subscribe function that hands out one receiver, then empty ones.
trait IntoFn {
    fn into_fn(self) -> Box<dyn Fn() -> Receiver<String> + Send + Sync>;
}

impl IntoFn for Receiver<String> {
    fn into_fn(self) -> Box<dyn Fn() -> Receiver<String> + Send + Sync> {
        let slot = Mutex::new(Some(self));
        Box::new(move || slot.lock().unwrap().take().unwrap_or_else(|| unbounded().1))
    }
}

#[test]
fn client_errors_say_what_to_do() {
    let p = Path::new("/run/tandemd/x.sock").to_path_buf();
    assert_eq!(
        ControlError::PermissionDenied { path: p.clone() }.to_string(),
        "the control socket /run/tandemd/x.sock is root-only: run as root"
    );
    assert!(ControlError::Timeout {
        path: p,
        timeout: CLIENT_TIMEOUT
    }
    .to_string()
    .contains("did not answer within 10 s"));
}

mod cli_commands {
    use super::*;
    use crate::control::cli::{
        execute, ClientCommand, FailoverArgs, MaintenanceArgs, OnOff, SocketArg, StatusArgs,
    };

    pub(super) fn status_of(path: &Path) -> ClientCommand {
        ClientCommand::Status(StatusArgs {
            json: false,
            socket: SocketArg {
                socket: Some(path.to_path_buf()),
            },
        })
    }

    pub(super) fn run(cmd: &ClientCommand) -> (String, Result<(), String>) {
        let mut out = Vec::new();
        let result = execute(cmd, &mut out)
            .map(|_| ())
            .map_err(|e| e.to_string());
        (String::from_utf8(out).unwrap(), result)
    }

    #[test]
    fn client_subcommands_print_what_the_daemon_says() {
        let dir = TempDir::new();
        let f = fake(&dir.sock(), done);
        let socket = SocketArg {
            socket: Some(dir.sock()),
        };
        let (text, r) = run(&ClientCommand::Status(StatusArgs {
            json: false,
            socket: socket.clone(),
        }));
        r.unwrap();
        assert_eq!(text, render_status(&super::super::render::tests::sample()));
        let (text, r) = run(&ClientCommand::Status(StatusArgs {
            json: true,
            socket: socket.clone(),
        }));
        r.unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["instances"][0]["name"], "web");
        let (text, r) = run(&ClientCommand::Failover(FailoverArgs {
            target: Some("web".into()),
            socket: socket.clone(),
        }));
        r.unwrap();
        assert_eq!(text, "handed over: web\n");
        let (_, r) = run(&ClientCommand::Maintenance(MaintenanceArgs {
            mode: OnOff::On,
            socket: socket.clone(),
        }));
        r.unwrap();
        let (_, r) = run(&ClientCommand::ClearPacified(socket.clone()));
        r.unwrap();
        let (text, r) = run(&ClientCommand::Failover(FailoverArgs {
            target: Some("nope".into()),
            socket: socket.clone(),
        }));
        assert_eq!(text, "");
        assert_eq!(r.unwrap_err(), "no instance or sync group named \"nope\"");
        assert_eq!(
            f.requests.lock().unwrap()[2..5],
            [
                ControlRequest::Failover {
                    target: Some("web".into())
                },
                ControlRequest::Maintenance { on: true },
                ControlRequest::ClearPacified,
            ]
        );
        // Events: the stream ends when the daemon drops it.
        let subs = f.subscribers.clone();
        let feeder = thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(10);
            while subs.lock().unwrap().is_empty() && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(10));
            }
            let tx = subs.lock().unwrap().remove(0);
            tx.send(r#"{"event":"state","instance":"web"}"#.into())
                .unwrap();
        });
        let (text, r) = run(&ClientCommand::Events(socket));
        feeder.join().unwrap();
        assert_eq!(text, "{\"event\":\"state\",\"instance\":\"web\"}\n");
        assert_eq!(
            r.unwrap_err(),
            "tandemd closed the event stream (it stopped or is restarting)"
        );
    }
}
