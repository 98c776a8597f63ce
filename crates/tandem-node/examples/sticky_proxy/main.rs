//! A small HTTP/1.1 reverse proxy with sticky real servers whose
//! stickiness survives a failover: its decisions live in a
//! `tandem_replication::persist::PersistenceTable` that the embedded
//! Tandem node replicates to the partner over `[replication]`, so that
//! after a takeover the new Active sends every client to the same real
//! server as before.
//!
//! For each request (one per connection, `Connection: close`):
//!
//! 1. the head is read within bounds: 8 KiB, a deadline for the whole head
//!    (a slow client gets `408`), a timeout on every socket, at most
//!    `--max-connections` at once (`503` beyond);
//! 2. the real server is, in order: the one of its `TANDEM_SRV` cookie
//!    (the cookie value's keyed hash is the key); the one of its source
//!    address; else the next one, round robin. The table is told of every
//!    use (the lifetime slides; the partner hears of it lazily). A client
//!    without a known cookie gets one (`Set-Cookie: TANDEM_SRV=<random>`),
//!    stuck to the same real server as its address;
//! 3. the request goes to that real server (hop-by-hop headers dropped,
//!    `X-Forwarded-For` added), and its response back to the client with
//!    `X-Tandem-Backend: <index>`.
//!
//! ```text
//! cargo run -p tandem-node --example sticky_proxy -- --help
//! sudo target/debug/examples/sticky_proxy --config tandemd.toml \
//!     --listen 0.0.0.0:8080 --backend 198.51.100.10:80 --backend 198.51.100.11:80
//! curl -si -c jar -b jar http://192.0.2.100:8080/    # X-Tandem-Backend: 0, again and again
//! ```
//!
//! `tandemd.toml` is the node's configuration (docs/config.md): the
//! virtual address the clients use, and a `[replication]` section whose key
//! file (`tandemd replication keygen FILE`, copied to both units) keys the
//! cookie hashes too, so both units hash a cookie alike. Unit 1's (unit 2
//! has `node = 2`, `peer = "192.0.2.1"`, a lower priority):
//!
//! ```toml
//! [[instance]]
//! name = "web"
//! interface = "eth0"
//! vrid = 51
//! priority = 200
//! addresses = ["192.0.2.100/24"]
//!
//! [replication]
//! node = 1
//! cluster = 7
//! peer = "192.0.2.2"
//! key_file = "/etc/tandemd/replication.key"
//! ```
//!
//! Listen on the unspecified address (or use `ip_nonlocal_bind`): the
//! virtual address is only on the Active unit. Without `[replication]` the
//! proxy still works, stickiness kept on this unit only. The HTTP part,
//! [`serve`], takes the listener, the real servers, the table and the
//! node's clock, and is tested on its own (`cargo test -p tandem-node
//! --example sticky_proxy`); the pair, failover included, in network
//! namespaces by `tests/e2e_proxy.rs` (`cargo build -p tandem-node
//! --examples` first), which follows `--verbose`'s lines.

use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use tandem_node::config::{self, DaemonConfig};
use tandem_node::drive::{self, Options};
use tandem_replication::persist::{KeyHasher, PersistenceTable};
use tandem_replication::seal::{KeyRing, Psk};

mod head;
mod http;
#[cfg(test)]
mod tests;

use http::{serve, Settings};

/// A sticky HTTP reverse proxy whose stickiness the embedded Tandem node
/// replicates to its partner.
#[derive(Debug, Parser)]
#[command(name = "sticky_proxy")]
struct Args {
    /// The node's configuration (with `[replication]` to replicate the
    /// stickiness).
    #[arg(long)]
    config: PathBuf,
    /// The address the proxy listens on.
    #[arg(long)]
    listen: SocketAddr,
    /// A real server, ADDR:PORT; its index (0, 1, ...) is its order here,
    /// the same on both units.
    #[arg(long = "backend", required = true, num_args = 1..)]
    backends: Vec<SocketAddr>,
    /// How long a client stays stuck after its last request, seconds.
    #[arg(long, default_value_t = 600)]
    lifetime: u64,
    /// Most persistence entries, each side.
    #[arg(long, default_value_t = 100_000)]
    capacity: usize,
    /// Most connections served at once.
    #[arg(long, default_value_t = 256)]
    max_connections: usize,
    /// Serve the node's control socket (`tandemd status` against it).
    #[arg(long)]
    control_socket: bool,
    /// Print one line per request, and one whenever the table's sizes
    /// change (`table local=L partner=P`: this unit's entries, and the
    /// partner's replicated here).
    #[arg(long)]
    verbose: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sticky_proxy: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), String> {
    let config = config::load(&args.config).map_err(|e| e.to_string())?;
    let listener = TcpListener::bind(args.listen)
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let table = PersistenceTable::new(cookie_hasher(&config)?, args.capacity);
    let options = Options {
        config_path: Some(args.config.clone()),
        control_socket: args.control_socket,
        ..Options::default()
    }
    .persistence(table.clone());
    let node = Arc::new(drive::start(config, options).map_err(|e| e.to_string())?);
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone()).map_err(|e| e.to_string())?;
    }
    eprintln!(
        "sticky_proxy: listening on {}, {} real servers",
        args.listen,
        args.backends.len()
    );
    if args.verbose {
        watch_table(table.clone(), stop.clone());
    }
    let settings = Settings {
        lifetime: Duration::from_secs(args.lifetime),
        max_connections: args.max_connections,
        log: args.verbose,
        stop,
        ..Settings::default()
    };
    let clock = {
        let node = node.clone();
        move || node.now()
    };
    let served = serve(listener, args.backends.clone(), table, clock, settings);
    // The proxy's threads are done with the node's clock: stop the node.
    node.shutdown();
    match Arc::try_unwrap(node) {
        Ok(node) => node.join().map_err(|e| e.to_string())?,
        Err(_) => eprintln!("sticky_proxy: a connection outlived the proxy; not waiting"),
    }
    served.map_err(|e| format!("proxy: {e}"))
}

/// Prints the table's sizes whenever they change (polled every 100 ms),
/// until `stop`: the partner's entries arriving show replication at work.
fn watch_table(table: PersistenceTable, stop: Arc<AtomicBool>) {
    let _ = std::thread::Builder::new()
        .name("proxy-table".into())
        .spawn(move || {
            let mut last = None;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let stats = table.stats();
                let sizes = (stats.local, stats.partner);
                if last != Some(sizes) {
                    eprintln!("sticky_proxy: table local={} partner={}", sizes.0, sizes.1);
                    last = Some(sizes);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
}

/// The hasher of cookie values: the pair's, from the replication key (the
/// same on both units); a random one without `[replication]`.
fn cookie_hasher(config: &DaemonConfig) -> Result<KeyHasher, String> {
    let Some(r) = &config.global.replication else {
        eprintln!("sticky_proxy: no [replication]: stickiness is kept on this unit only");
        return random_key().map(KeyHasher::new);
    };
    let Some(path) = &r.key_file else {
        return Err(
            "[replication] has no key_file: the proxy's table needs the tandem format".into(),
        );
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("[replication] key_file {}: {e}", path.display()))?;
    let psk =
        Psk::parse(&text).map_err(|e| format!("[replication] key_file {}: {e}", path.display()))?;
    let ring = KeyRing::new(r.cluster, &psk, None).map_err(|e| e.to_string())?;
    Ok(ring.hasher())
}

pub(crate) fn random_key() -> Result<[u8; 16], String> {
    let mut key = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut key))
        .map_err(|e| format!("cannot read /dev/urandom: {e}"))?;
    Ok(key)
}
