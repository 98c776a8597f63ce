//! Two processes keep one table of virtual services in sync, the way an
//! appliance that embeds tandem-config-sync would: typed settings
//! ([`AppObject`]) in the `app` tree, the sans-IO session over a TCP
//! connection on loopback, and the host's answer to each change.
//!
//! `cargo run -p tandem-config-sync --example vs_pair` runs the Active in
//! this process and spawns the Backup as a second process; the Active
//! adds three virtual services, changes one and removes one; the Backup
//! prints every service it applies and exits when its document equals
//! the Active's; the Active exits 0 when the Backup did. Exit 1 on any
//! failure or after 20 s.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant as Wall};

use tandem_config_sync::app::{field, AppError, AppObject};
use tandem_config_sync::channel::{Key, Side};
use tandem_config_sync::doc::{Document, Object};
use tandem_config_sync::frame::{Mode, RejectCode, Role};
use tandem_config_sync::session::{Authority, Config, Event, Output, Refusal, Session, State};
use tandem_config_sync::value::Value;
use tandem_config_sync::Instant;

/// One virtual service of the appliance.
#[derive(Debug, Clone, PartialEq)]
struct VirtualService {
    name: String,
    address: String,
    port: u16,
    real_servers: Vec<String>,
}

impl AppObject for VirtualService {
    const KIND: &'static str = "vs";
    fn id(&self) -> String {
        self.name.clone()
    }
    fn to_fields(&self) -> Object {
        let servers = self.real_servers.iter().cloned().map(Value::Str).collect();
        Object::from([
            ("address".to_string(), Value::Str(self.address.clone())),
            ("port".to_string(), Value::Int(self.port.into())),
            ("real_servers".to_string(), Value::List(servers)),
        ])
    }
    fn from_fields(id: &str, f: &Object) -> Result<Self, AppError> {
        let port = field::int(Self::KIND, id, f, "port")?;
        Ok(VirtualService {
            name: id.to_string(),
            address: field::str(Self::KIND, id, f, "address")?,
            port: u16::try_from(port)
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| AppError::new(Self::KIND, id, "port", "not a port (1..65535)"))?,
            real_servers: field::strs(Self::KIND, id, f, "real_servers")?,
        })
    }
}

/// One edit of the Active's document.
type Step = Box<dyn Fn(&mut Document)>;

fn vs(name: &str, port: u16) -> VirtualService {
    VirtualService {
        name: name.into(),
        address: "192.0.2.80".into(),
        port,
        real_servers: vec!["198.51.100.11:8080".into(), "198.51.100.12:8080".into()],
    }
}

fn config(unit: &str) -> Config {
    // A real appliance reads its key file (`tandemd sync keygen`).
    let key = Key::from_bytes(*b"example key, not for production!");
    let mut c = Config::new(unit, "vs-pair-example", key, Mode::ActiveStandby);
    c.boot = std::process::id().into();
    c
}

/// Drives the session over the stream until `done` says so.
fn drive(
    s: &mut Session,
    stream: &mut TcpStream,
    start: Wall,
    mut done: impl FnMut(&mut Session, Option<&Event>) -> bool,
) -> Result<(), String> {
    stream
        .set_read_timeout(Some(Duration::from_millis(10)))
        .map_err(|e| e.to_string())?;
    let now = || Instant::from_duration(start.elapsed());
    let mut buf = vec![0u8; 65_536];
    while start.elapsed() < Duration::from_secs(20) {
        while let Some(out) = s.poll_output() {
            match out {
                Output::Transmit(b) => stream.write_all(&b).map_err(|e| e.to_string())?,
                Output::Close { reason } => return Err(format!("closed: {reason}")),
                Output::Apply(a) => {
                    // The host's validation: every service must read back.
                    let bad = a
                        .document
                        .apps::<VirtualService>()
                        .into_iter()
                        .find_map(Result::err);
                    let id = a.id;
                    drop(a);
                    let answer = match bad {
                        Some(e) => Err(Refusal {
                            code: RejectCode::Invalid,
                            path: format!("app.{}.{}.{}", e.kind, e.id, e.field),
                            text: e.why,
                        }),
                        None => Ok(()),
                    };
                    s.applied(now(), id, answer);
                }
                Output::Event(e) => {
                    if done(s, Some(&e)) {
                        return Ok(());
                    }
                }
            }
        }
        if done(s, None) {
            return Ok(());
        }
        match stream.read(&mut buf) {
            Ok(0) => return Err("the partner closed the connection".into()),
            Ok(n) => s.receive(now(), &buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(e.to_string()),
        }
        s.handle_timeout(now());
    }
    Err("no result within 20 s".into())
}

fn backup(port: u16) -> Result<(), String> {
    let start = Wall::now();
    let mut s = Session::new(config("b"), Document::new(), Authority::default());
    s.set_role(Instant::ZERO, Role::Backup);
    let mut stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    s.connect(Instant::ZERO, Side::Initiator)
        .map_err(|e| e.to_string())?;
    drive(&mut s, &mut stream, start, |s, e| {
        // In sync after each change (its ACK is written before this event).
        let Some(Event::State(State::InSync)) = e else {
            return false;
        };
        let services: Vec<_> = s
            .document()
            .apps::<VirtualService>()
            .into_iter()
            .flatten()
            .collect();
        println!("backup in sync: {} services", services.len());
        for v in &services {
            println!(
                "backup has {} {}:{} -> {}",
                v.name,
                v.address,
                v.port,
                v.real_servers.join(", ")
            );
        }
        // The Active's last step leaves two services, web on 8443.
        services.len() == 2 && services.iter().any(|v| *v == vs("web", 8443))
    })
}

fn active() -> Result<(), String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut child = Command::new(me)
        .args(["backup", &port.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let (mut stream, _) = listener.accept().map_err(|e| e.to_string())?;
    let start = Wall::now();
    let mut s = Session::new(config("a"), Document::new(), Authority::default());
    s.set_role(Instant::ZERO, Role::Active);
    s.connect(Instant::ZERO, Side::Responder)
        .map_err(|e| e.to_string())?;
    // The appliance's edits: one commit each, once the previous is acknowledged.
    let mut doc = Document::new();
    let steps: Vec<Step> = vec![
        Box::new(|d| {
            for (n, p) in [("web", 443), ("mail", 25), ("dns", 53)] {
                d.put_app(&vs(n, p)).expect("valid");
            }
        }),
        Box::new(|d| d.put_app(&vs("web", 8443)).expect("valid")),
        Box::new(|d| d.remove_app::<VirtualService>("dns")),
    ];
    let mut next = 0;
    let driven = drive(&mut s, &mut stream, start, |s, e| {
        let ready = matches!(e, Some(Event::State(State::InSync)))
            || (e.is_none() && s.state() == State::InSync);
        if ready && next < steps.len() {
            steps[next](&mut doc);
            next += 1;
            match s.commit(Instant::from_duration(start.elapsed()), doc.clone()) {
                Ok(a) => println!("active committed generation {}", a.generation),
                Err(e) => println!("active: {e}"),
            }
        }
        // The Backup is in sync the moment it applied the last change
        // (its ACK says so).
        next == steps.len() && s.state() == State::InSync
    });
    let out = child.stdout.take().ok_or("no output from the backup")?;
    let lines: Vec<String> = BufReader::new(out).lines().map_while(Result::ok).collect();
    for l in &lines {
        println!("  {l}");
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    driven?;
    if !status.success() {
        return Err(format!("the backup failed: {status}"));
    }
    if !lines
        .iter()
        .any(|l| l == "backup has web 192.0.2.80:8443 -> 198.51.100.11:8080, 198.51.100.12:8080")
    {
        return Err("the backup does not show web on 8443".into());
    }
    println!("backup applied every change");
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let result = match args.get(1).map(String::as_str) {
        Some("backup") => match args.get(2).and_then(|p| p.parse().ok()) {
            Some(port) => backup(port),
            None => Err("usage: vs_pair backup PORT".into()),
        },
        _ => active(),
    };
    if let Err(e) = result {
        eprintln!("vs_pair: {e}");
        std::process::exit(1);
    }
}
