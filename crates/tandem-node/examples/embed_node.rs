//! Embedding the whole node in an appliance's own process: the
//! configuration from the typed builder (`config::Builder`), the node
//! started with `drive::start` (signals off: the appliance keeps its own),
//! the typed events read from the handle (the first transitions
//! included), a simulated backend health check fed in with
//! `set_track("backend", Down / Up)` that moves the priority and the
//! Active role, a manual failover, maintenance on and off, and a graceful
//! `shutdown()` + `join()` (priority 0 sent, addresses removed).
//!
//! It runs the real Linux host (raw sockets, netlink, packet sockets), so
//! it needs root and an interface:
//!
//! ```text
//! cargo run -p tandem-node --example embed_node -- --help
//! sudo target/debug/examples/embed_node --interface eth0 --address 192.0.2.100/24
//! sudo target/debug/examples/embed_node --demo-netns
//! ```
//!
//! With `--demo-netns` it makes its own pair of network namespaces joined
//! by a veth (192.0.2.1/24 and 192.0.2.2/24, names unique by PID), runs a
//! peer node (priority 100) in one and this demonstration in the other,
//! and removes both namespaces at the end, on Ctrl-C too. docs/embedding.md
//! explains each step.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use crossbeam_channel::Receiver;
use tandem_election::{State, TrackEffect};
use tandem_node::config::{Builder, DaemonConfig, InstanceBuilder};
use tandem_node::drive::{self, HandleEvent, NodeHandle, Options};
use tandem_node::node::{EventKind, TrackState};

/// Embeds a whole Tandem node and walks it through health input,
/// failover, maintenance and a graceful stop.
#[derive(Debug, Parser)]
#[command(name = "embed_node")]
struct Args {
    /// The interface to run on (in --demo-netns: the namespace's eth0).
    #[arg(long, default_value = "eth0")]
    interface: String,
    /// The virtual router id.
    #[arg(long, default_value_t = 51)]
    vrid: u8,
    /// This node's priority (the demo's peer has 100).
    #[arg(long, default_value_t = 200)]
    priority: u8,
    /// The virtual address, ADDRESS/PREFIX.
    #[arg(long, default_value = "192.0.2.100/24")]
    address: String,
    /// The advert interval in seconds.
    #[arg(long, default_value_t = 1.0)]
    interval: f64,
    /// Make a pair of network namespaces with a veth, run a peer node in
    /// one and this demonstration in the other, and remove them after.
    #[arg(long)]
    demo_netns: bool,
    /// Run as the demonstration's peer: start, print events, stop on
    /// SIGTERM / SIGINT (the node's own signal handling, opted in).
    #[arg(long, hide = true)]
    peer: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if !is_root() {
        eprintln!(
            "embed_node runs the real Linux host (raw sockets, netlink): run it as root, \
             with --interface IFACE or with --demo-netns"
        );
        return ExitCode::from(2);
    }
    let result = if args.demo_netns {
        demo_netns(&args)
    } else if args.peer {
        peer(&args)
    } else {
        embed(&args)
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("embed_node: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The configuration, from the builder: one VRRPv3 instance "web" that
/// tracks the appliance's backend (down: priority - 150) and its disk
/// (down: Fault).
fn config(args: &Args, priority: u8) -> Result<DaemonConfig, String> {
    let (addr, prefix) = args
        .address
        .split_once('/')
        .ok_or_else(|| format!("--address {}: give ADDRESS/PREFIX", args.address))?;
    let addr: IpAddr = addr
        .parse()
        .map_err(|e| format!("--address {}: {e}", args.address))?;
    let prefix: u8 = prefix
        .parse()
        .map_err(|e| format!("--address {}: {e}", args.address))?;
    let run = std::env::temp_dir().join(format!("tandem-embed-{}", std::process::id()));
    Builder::new()
        .instance(
            InstanceBuilder::vrrp3(&args.interface, args.vrid)
                .name("web")
                .priority(priority)
                .address(addr, prefix)
                .interval(Duration::from_secs_f64(args.interval))
                .track("backend", TrackEffect::Weight(150))
                .track("disk", TrackEffect::Fault),
        )
        // Not served here (Options::control_socket is off), but a
        // configuration always names one: keep it out of tandemd's way.
        .control_socket(run.join("tandem.sock"))
        .state_dir(run)
        .build()
        // The same located, actionable error a configuration file gets.
        .map_err(|e| e.to_string())
}

/// The demonstration, in this process.
fn embed(args: &Args) -> Result<(), String> {
    let config = config(args, args.priority)?;
    let options = Options {
        events: 256,
        ..Options::default() // signals, control socket, health port: off
    };
    let node = drive::start(config, options).map_err(|e| e.to_string())?;
    // The appliance's own signal handling: Ctrl-C asks for a graceful stop.
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone()).map_err(|e| e.to_string())?;
    }
    let Some(events) = node.events().cloned() else {
        return Err("no event channel".into());
    };
    let steps = Steps {
        node: &node,
        events: &events,
        stop: &stop,
        patience: Duration::from_secs_f64(args.interval * 6.0 + 5.0),
    };
    let outcome = steps.run();
    say("shutdown: priority 0, addresses removed");
    node.shutdown();
    // The events up to the node's own `stopped`.
    for ev in events.iter() {
        let stopped = matches!(&ev, HandleEvent::Event(e) if e.kind == EventKind::Stopped);
        show(&ev);
        if stopped {
            break;
        }
    }
    node.join().map_err(|e| e.to_string())?;
    say("joined: the node has stopped");
    outcome
}

struct Steps<'a> {
    node: &'a NodeHandle,
    events: &'a Receiver<HandleEvent>,
    stop: &'a AtomicBool,
    patience: Duration,
}

impl Steps<'_> {
    fn run(&self) -> Result<(), String> {
        say("started; waiting for the first transitions");
        self.wait_state(|to| to == State::Active || to == State::Backup)?;
        self.wait_state(|to| to == State::Active)?;
        self.status();

        say("health check: backend failing -> set_track(\"backend\", Down)");
        self.node
            .set_track("backend", TrackState::Down)
            .map_err(|e| e.to_string())?;
        self.wait_state(|to| to == State::Backup)?;
        self.status();

        say("health check: backend healthy again -> set_track(\"backend\", Up)");
        self.node
            .set_track("backend", TrackState::Up)
            .map_err(|e| e.to_string())?;
        self.wait_state(|to| to == State::Active)?;
        self.status();

        say("health check: disk failing -> set_track(\"disk\", Down)");
        self.node
            .set_track("disk", TrackState::Down)
            .map_err(|e| e.to_string())?;
        self.wait_state(|to| to == State::Fault)?;
        self.node
            .set_track("disk", TrackState::Up)
            .map_err(|e| e.to_string())?;
        self.wait_state(|to| to == State::Active)?;

        say("failover: hand the Active role to the partner");
        let reply = self.node.failover(None).map_err(|e| e.to_string())?;
        say(&format!("  reply: {}", reply_name(&reply)));
        self.wait_state(|to| to == State::Backup)?;
        self.watch(Duration::from_secs_f64(self.patience.as_secs_f64() / 2.0));

        say("maintenance on: stay passive");
        self.node.maintenance(true).map_err(|e| e.to_string())?;
        self.watch(Duration::from_secs(2));
        self.status();
        say("maintenance off");
        self.node.maintenance(false).map_err(|e| e.to_string())?;
        self.watch(self.patience);
        self.status();
        Ok(())
    }

    /// Prints events until a state change of "web" whose new state
    /// passes `want`.
    fn wait_state(&self, want: impl Fn(State) -> bool) -> Result<(), String> {
        let end = Instant::now() + self.patience;
        while Instant::now() < end {
            if self.stop.load(Ordering::Relaxed) {
                return Err("interrupted".into());
            }
            let Ok(ev) = self.events.recv_timeout(Duration::from_millis(200)) else {
                continue;
            };
            show(&ev);
            if let HandleEvent::Event(e) = &ev {
                if let EventKind::State { instance, to, .. } = &e.kind {
                    if instance == "web" && want(*to) {
                        return Ok(());
                    }
                }
            }
        }
        Err(format!(
            "no expected state change within {:?}: is the peer up?",
            self.patience
        ))
    }

    /// Prints events for `d`.
    fn watch(&self, d: Duration) {
        let end = Instant::now() + d;
        while Instant::now() < end && !self.stop.load(Ordering::Relaxed) {
            if let Ok(ev) = self.events.recv_timeout(Duration::from_millis(200)) {
                show(&ev);
            }
        }
    }

    fn status(&self) {
        for i in &self.node.status().instances {
            say(&format!(
                "  status: {} {} priority={} tracks_down={:?}",
                i.name, i.state, i.priority, i.tracks_down
            ));
        }
    }
}

fn reply_name(r: &tandem_node::control::api::ControlReply) -> String {
    use tandem_node::control::api::ControlReply as R;
    match r {
        R::HandedOver { instances } => format!("handed over {}", instances.join(", ")),
        R::Maintenance { on } => format!("maintenance {}", if *on { "on" } else { "off" }),
        _ => "done".into(),
    }
}

/// One event, as the JSON `tandemd events` prints (stable names).
fn show(ev: &HandleEvent) {
    match ev {
        HandleEvent::Event(e) => say(&format!("  event {}", e.to_json())),
        HandleEvent::Missed(n) => say(&format!("  missed {n} events (reader too slow)")),
    }
}

fn say(s: &str) {
    println!("[{}] {s}", std::process::id());
}

/// The demonstration's peer: signals opted in, stops on SIGTERM.
fn peer(args: &Args) -> Result<(), String> {
    let options = Options {
        signals: true,
        events: 256,
        ..Options::default()
    };
    let node = drive::start(config(args, args.priority)?, options).map_err(|e| e.to_string())?;
    if let Some(events) = node.events().cloned() {
        std::thread::spawn(move || {
            for ev in events.iter() {
                if let HandleEvent::Event(e) = &ev {
                    if let EventKind::State {
                        from, to, reason, ..
                    } = &e.kind
                    {
                        println!(
                            "[peer] {} -> {} reason={}",
                            from.name(),
                            to.name(),
                            reason.name()
                        );
                    }
                }
            }
        });
    }
    node.join().map_err(|e| e.to_string())
}

// ------------------------------------------------------------ --demo-netns

/// Two namespaces, their veth, and the processes started in them; dropped:
/// the processes are stopped (SIGTERM, then SIGKILL) and the namespaces
/// deleted.
struct Demo {
    namespaces: Vec<String>,
    children: Vec<Child>,
}

impl Drop for Demo {
    fn drop(&mut self) {
        for c in &mut self.children {
            if matches!(c.try_wait(), Ok(None)) {
                let _ = Command::new("kill")
                    .args(["-TERM", &c.id().to_string()])
                    .status();
            }
        }
        let end = Instant::now() + Duration::from_secs(5);
        for c in &mut self.children {
            while matches!(c.try_wait(), Ok(None)) && Instant::now() < end {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        for ns in &self.namespaces {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        say(&format!(
            "removed namespaces {}",
            self.namespaces.join(", ")
        ));
    }
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn demo_netns(args: &Args) -> Result<(), String> {
    let pid = std::process::id();
    let ns_a = format!("tandem-embed-{pid}-a");
    let ns_b = format!("tandem-embed-{pid}-b");
    let (va, vb) = (format!("tea{pid}"), format!("teb{pid}"));
    let mut demo = Demo {
        namespaces: Vec::new(),
        children: Vec::new(),
    };
    for ns in [&ns_a, &ns_b] {
        ip(&["netns", "add", ns])?;
        demo.namespaces.push(ns.clone());
        ip(&["-n", ns, "link", "set", "lo", "up"])?;
    }
    ip(&["link", "add", &va, "type", "veth", "peer", "name", &vb])?;
    for (ns, v, host) in [(&ns_a, &va, 1), (&ns_b, &vb, 2)] {
        ip(&["link", "set", v, "netns", ns])?;
        ip(&["-n", ns, "link", "set", v, "name", "eth0"])?;
        ip(&[
            "-n",
            ns,
            "addr",
            "add",
            &format!("192.0.2.{host}/24"),
            "dev",
            "eth0",
        ])?;
        ip(&["-n", ns, "link", "set", "eth0", "up"])?;
    }
    say(&format!(
        "namespaces {ns_a} (192.0.2.1) and {ns_b} (192.0.2.2), joined by a veth"
    ));
    let exe: PathBuf = std::env::current_exe().map_err(|e| e.to_string())?;
    let exe = exe.to_string_lossy().into_owned();
    let interval = args.interval.to_string();
    let vrid = args.vrid.to_string();
    let common = [
        "--interface",
        "eth0",
        "--vrid",
        &vrid,
        "--address",
        &args.address,
        "--interval",
        &interval,
    ];
    let spawn = |ns: &str, extra: &[&str]| -> Result<Child, String> {
        Command::new("ip")
            .args(["netns", "exec", ns, &exe])
            .args(common)
            .args(extra)
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start in {ns}: {e}"))
    };
    demo.children
        .push(spawn(&ns_b, &["--peer", "--priority", "100"])?);
    // The peer's first election, so that the demonstration starts against it.
    std::thread::sleep(Duration::from_secs_f64(args.interval * 4.0));
    let priority = args.priority.to_string();
    demo.children
        .push(spawn(&ns_a, &["--priority", &priority])?);
    // Ctrl-C reaches the children too (same process group): they stop
    // gracefully; here it only stops the waiting.
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone()).map_err(|e| e.to_string())?;
    }
    let status = loop {
        match demo.children[1].try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) if stop.load(Ordering::Relaxed) => break None,
            Ok(None) => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => return Err(e.to_string()),
        }
    };
    drop(demo);
    match status {
        Some(s) if s.success() => Ok(()),
        Some(s) => Err(format!("the demonstration ended with {s}")),
        None => Err("interrupted".into()),
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}
