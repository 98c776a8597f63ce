//! Bulk resync over real UDP on loopback: unit a (Active) holds N flows
//! (default 1,000,000), unit b starts empty and joins; the time from b's
//! start until b reports "in sync" (every shard swept, the bulk's range
//! digests and a full digest sweep equal, no gap open), with the bytes and
//! datagrams a sent. Each unit runs on a thread of its own with its own
//! socket, its own replicator and the one clock of this process; nothing
//! is simulated but the absence of a kernel table.
//!
//! Then the flush budget: single changes on a, each timed until b's
//! mirror has it (p50 / p99), the window in which a new flow can be lost
//! at a failover.
//!
//! ```sh
//! cargo run --release -p tandem-replication --example loopback_bulk -- [FLOWS] [BULK_MBIT]
//! ```
//! Prints figures; exits 1 if b never gets in sync or its mirror differs.

use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant as Wall};

use tandem_replication::session::{Output, Replicator};
use tandem_replication::sim;
use tandem_time::Instant;

/// One unit's loop: datagrams in, timers, outputs out, until `stop`.
fn run(
    r: Arc<Mutex<Replicator>>,
    sock: UdpSocket,
    to: std::net::SocketAddr,
    clock: Wall,
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
) {
    let now = || Instant::from_duration(clock.elapsed());
    let mut buf = vec![0u8; 65536];
    sock.set_nonblocking(false).unwrap();
    while !stop.load(Ordering::Relaxed) {
        let wait = {
            let r = r.lock().unwrap();
            r.poll_timeout()
                .map(|t| t.saturating_since(now()))
                .unwrap_or(Duration::from_millis(50))
                .clamp(Duration::from_micros(50), Duration::from_millis(1))
        };
        sock.set_read_timeout(Some(wait)).unwrap();
        let got = sock.recv(&mut buf).ok();
        let mut r = r.lock().unwrap();
        if let Some(n) = got {
            r.handle_datagram(now(), 255, &buf[..n]);
            // Drain what else is queued without waiting.
            sock.set_nonblocking(true).unwrap();
            while let Ok(n) = sock.recv(&mut buf) {
                r.handle_datagram(now(), 255, &buf[..n]);
            }
            sock.set_nonblocking(false).unwrap();
        }
        r.handle_timeout(now());
        while let Some(o) = r.poll_output() {
            if let Output::Send(d) = o {
                sent.fetch_add(d.len() as u64, Ordering::Relaxed);
                // A full socket buffer drops (the protocol repairs it).
                let _ = sock.send_to(&d, to);
            }
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let flows: u32 = args
        .get(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let mbit: u64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(2_000);
    let clock = Wall::now();
    let now = || Instant::from_duration(clock.elapsed());

    let sa = UdpSocket::bind("127.0.0.1:0").unwrap();
    let sb = UdpSocket::bind("127.0.0.1:0").unwrap();
    let (aa, ab) = (sa.local_addr().unwrap(), sb.local_addr().unwrap());
    for s in [&sa, &sb] {
        let s2 = socket2::SockRef::from(s);
        let _ = s2.set_recv_buffer_size(16 << 20);
        let _ = s2.set_send_buffer_size(16 << 20);
    }

    let mut ca = sim::config(1);
    ca.bulk_rate = mbit * 1_000_000 / 8;
    let mut cb = sim::config(2);
    cb.bulk_rate = ca.bulk_rate;
    let mut a = Replicator::new(ca, 0x0a0a_0a0a, now());
    a.set_active(now(), true);
    let fill = Wall::now();
    for i in 0..flows {
        a.upsert_flow(now(), sim::flow(i))
            .expect("room for the flows");
    }
    let fill_s = fill.elapsed().as_secs_f64();
    // a's inserts went nowhere yet (no partner): drop what it queued.
    while a.poll_output().is_some() {}
    let a = Arc::new(Mutex::new(a));
    let stop = Arc::new(AtomicBool::new(false));
    let sent_a = Arc::new(AtomicU64::new(0));
    let sent_b = Arc::new(AtomicU64::new(0));
    let ta = {
        let (r, s, st, n) = (
            a.clone(),
            sa.try_clone().unwrap(),
            stop.clone(),
            sent_a.clone(),
        );
        std::thread::spawn(move || run(r, s, ab, clock, st, n))
    };
    let started = Wall::now();
    let b = Arc::new(Mutex::new(Replicator::new(cb, 0x0b0b_0b0b, now())));
    let tb = {
        let (r, s, st, n) = (
            b.clone(),
            sb.try_clone().unwrap(),
            stop.clone(),
            sent_b.clone(),
        );
        std::thread::spawn(move || run(r, s, aa, clock, st, n))
    };
    let deadline = Duration::from_secs(120);
    let mut in_sync = None;
    while started.elapsed() < deadline {
        std::thread::sleep(Duration::from_millis(2));
        let s = b.lock().unwrap().status();
        if s.in_sync && s.mirror_flows == flows as usize {
            in_sync = Some(started.elapsed());
            break;
        }
    }
    let Some(took) = in_sync else {
        let s = b.lock().unwrap().status();
        eprintln!("b never in sync in {deadline:?}: {s:?}");
        stop.store(true, Ordering::Relaxed);
        std::process::exit(1);
    };
    let st = a.lock().unwrap().status();
    let bytes = sent_a.load(Ordering::Relaxed);
    println!("bulk resync over loopback UDP, {flows} IPv4 TCP flows (DNAT, real server), bulk rate {mbit} Mbit/s:");
    println!("  a's table filled in {fill_s:.3} s (not counted)");
    println!(
        "  b started -> in sync (digests verified): {:.3} s",
        took.as_secs_f64()
    );
    println!(
        "  a sent {} frames, {:.1} MB ({:.1} bytes per flow, frames and handshake included); b sent {:.1} KB",
        st.counters.frames_sent,
        bytes as f64 / 1e6,
        bytes as f64 / f64::from(flows),
        sent_b.load(Ordering::Relaxed) as f64 / 1e3
    );

    // Mirror equals table.
    {
        let (a, b) = (a.lock().unwrap(), b.lock().unwrap());
        if !sim::mirrors(&a, &b, now()) {
            eprintln!("b's mirror differs from a's table");
            stop.store(true, Ordering::Relaxed);
            std::process::exit(1);
        }
    }

    // Flush budget: one new flow at a time, until b has it.
    let mut lat = Vec::new();
    for i in 0..200u32 {
        let f = sim::flow(flows + i);
        let t0 = Wall::now();
        a.lock().unwrap().upsert_flow(now(), f).unwrap();
        loop {
            if b.lock().unwrap().status().mirror_flows == (flows + i + 1) as usize {
                break;
            }
            if t0.elapsed() > Duration::from_secs(2) {
                break;
            }
            std::thread::sleep(Duration::from_micros(100));
        }
        lat.push(t0.elapsed());
        std::thread::sleep(Duration::from_millis(2));
    }
    lat.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "  a new flow on a until b mirrors it (flush budget 5 ms): p50 {:.2} ms, p99 {:.2} ms (n = {})",
        ms(lat[lat.len() / 2]),
        ms(lat[lat.len() * 99 / 100]),
        lat.len()
    );
    stop.store(true, Ordering::Relaxed);
    let _ = ta.join();
    let _ = tb.join();
}
