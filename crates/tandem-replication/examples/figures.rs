//! Prints the replicator's figures, measured in process on virtual time
//! (the wall-clock time of the bulk too): time to bulk-sync 1 M IPv4
//! flows between two replicators, paced and verified; bytes per entry by
//! kind as actually sent; recovery time after 20 % loss; the flush
//! budget (the window in which a new flow can be lost at failover).
//!
//! `cargo run --release -p tandem-replication --example figures [bulk|bytes|recovery|flush]`

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use tandem_replication::flow::TcpWindow;
use tandem_replication::persist::{PersistKey, PersistenceTable};
use tandem_replication::session::Output;
use tandem_replication::sim::{self, Link, Side, Sim};
use tandem_replication::wire::{decode_payload, Record, HEADER_LEN, TAG_LEN};

fn main() {
    // One figure by name (`bulk`, `bytes`, `recovery`, `flush`), or all.
    let only = std::env::args().nth(1);
    let run = |name: &str| only.as_deref().is_none_or(|o| o == name);
    if run("bulk") {
        bulk(1_000_000, 200_000_000);
        // The default rate (Config::new).
        bulk(1_000_000, sim::config(1).bulk_rate);
    }
    if run("bytes") {
        bytes_per_entry();
    }
    if run("recovery") {
        recovery();
    }
    if run("flush") {
        flush_window();
    }
}

/// This thread's time on a CPU (Linux: /proc/thread-self/schedstat), so
/// that a busy machine does not inflate the figure.
fn cpu_time() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// A pair with `n` flows on the Active, none on the Backup yet.
fn pair(n: u32, rate: u64) -> Sim {
    let mut ca = sim::config(1);
    let mut cb = sim::config(2);
    ca.bulk_rate = rate;
    cb.bulk_rate = rate;
    let mut s = Sim::new(1, ca, cb);
    s.link.up = false;
    s.a.set_active(s.now, true);
    for i in 0..n {
        s.a.upsert_flow(s.now, sim::flow(i)).unwrap();
    }
    s
}

fn bulk(n: u32, rate: u64) {
    let mut s = pair(n, rate);
    let (mut a, mut b) = (s.a, s.b);
    let mut now = s.now;
    // Back to back, no delay: every datagram delivered at once, in order;
    // time jumps to the next deadline when both are quiet. Each unit's
    // own CPU time is measured around its calls.
    let (mut cpu_a, mut cpu_b) = (Duration::ZERO, Duration::ZERO);
    let wall = std::time::Instant::now();
    let t0 = now;
    let mut to_a: Vec<Vec<u8>> = Vec::new();
    let mut to_b: Vec<Vec<u8>> = Vec::new();
    let timed = |spent: &mut Duration, f: &mut dyn FnMut()| {
        let t = std::time::Instant::now();
        f();
        *spent += t.elapsed();
    };
    let cpu0 = cpu_time();
    let done = |b: &tandem_replication::session::Replicator| {
        b.status().counters.bulks_received >= 1 && b.mirror().len() == n as usize
    };
    while !done(&b) && now - t0 < Duration::from_secs(60) {
        timed(&mut cpu_a, &mut || {
            for d in to_a.drain(..) {
                a.handle_datagram(now, 255, &d);
            }
            if a.poll_timeout().is_some_and(|t| t <= now) {
                a.handle_timeout(now);
            }
            while let Some(o) = a.poll_output() {
                if let Output::Send(d) = o {
                    to_b.push(d);
                }
            }
        });
        timed(&mut cpu_b, &mut || {
            for d in to_b.drain(..) {
                b.handle_datagram(now, 255, &d);
            }
            if b.poll_timeout().is_some_and(|t| t <= now) {
                b.handle_timeout(now);
            }
            while let Some(o) = b.poll_output() {
                if let Output::Send(d) = o {
                    to_a.push(d);
                }
            }
        });
        if to_a.is_empty() && to_b.is_empty() {
            let next = [a.poll_timeout(), b.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            now = next.map_or(now, |t| t.max(now));
        }
    }
    let wall = wall.elapsed();
    let cpu = cpu_time().zip(cpu0).map(|(b, a)| b.saturating_sub(a));
    let virt = now - t0;
    let c = a.status().counters;
    s.a = a;
    s.b = b;
    s.now = now;
    let verified = done(&s.b) && s.converged() && s.b.status().counters.digest_mismatches == 0;
    println!(
        "bulk sync of {n} IPv4 TCP flows (DNAT), bulk_rate {} MB/s:",
        rate / 1_000_000
    );
    println!(
        "  {:.3} s paced (virtual time); time in each unit's calls: Active {:.3} s, Backup {:.3} s (sealing, opening, encoding, decoding, tables); both on one thread: wall-clock {:.3} s, CPU {}; verified: {verified}",
        virt.as_secs_f64(),
        cpu_a.as_secs_f64(),
        cpu_b.as_secs_f64(),
        wall.as_secs_f64(),
        cpu.map_or("n/a".into(), |c| format!("{:.3} s", c.as_secs_f64()))
    );
    println!(
        "  {} frames, {} bytes sent by the Active, {:.1} bytes per entry on the wire (headers and tags included)",
        c.frames_sent,
        c.bytes_sent,
        c.bytes_sent as f64 / f64::from(n)
    );
    let t1 = s.now;
    let in_sync = s.run_until(Duration::from_secs(10), |s| s.b.status().in_sync);
    println!(
        "  in sync: {in_sync}, {:.3} s after the bulk's end",
        (s.now - t1).as_secs_f64()
    );
}

/// Sends records of each kind and accounts the bytes actually in the
/// frames: each record's bytes, plus its share of its frame's header,
/// tag and section headers.
fn bytes_per_entry() {
    let mut ca = sim::config(1);
    let t = PersistenceTable::new(ca.keys.hasher(), 100_000);
    ca.persistence = Some(t.clone());
    let mut s = Sim::new(2, ca, sim::config(2));
    s.a.set_active(s.now, true);
    assert!(s.run_until(Duration::from_secs(2), |s| s.b.status().in_sync
        || s.b.status().counters.bulks_received > 0));
    s.run_for(Duration::from_millis(100));
    s.capture = true;
    let n = 20_000u32;
    let now = s.now;
    for i in 0..n {
        s.a.upsert_flow(now, sim::flow(i)).unwrap();
    }
    s.run_for(Duration::from_millis(50));
    let now = s.now;
    for i in 0..n {
        let mut f = sim::flow(i);
        f.state = 4;
        s.a.upsert_flow(now, f).unwrap();
    }
    s.run_for(Duration::from_millis(50));
    let now = s.now;
    for i in 0..n {
        let mut f = sim::flow(i);
        f.state = 4;
        f.window = Some(TcpWindow {
            scale: [7, 7],
            end: [i, i + 1],
            ..TcpWindow::default()
        });
        s.a.upsert_flow(now, f).unwrap();
    }
    s.run_for(Duration::from_millis(50));
    let now = s.now;
    for i in 0..n {
        s.a.remove_flow(now, &sim::flow(i).key());
    }
    s.run_for(Duration::from_millis(50));
    let hasher = t.hasher();
    let life = Duration::from_secs(600);
    for i in 0..n {
        let addr = IpAddr::V4(Ipv4Addr::from(0xc633_6400 + i));
        t.insert(s.now, 1, PersistKey::source(addr, 32), 3, life)
            .unwrap();
        t.insert(
            s.now,
            2,
            hasher.cookie(format!("session-{i}").as_bytes()),
            3,
            life,
        )
        .unwrap();
    }
    s.a.handle_timeout(s.now);
    s.run_for(Duration::from_millis(50));
    // Mixed live churn: new flows, state changes and ends interleaved,
    // 20,000 changes over 2 s (flushes every 5 ms).
    let mixed_from = s.captured.len();
    for k in 0..20_000u32 {
        let i = 100_000 + s.rng.below(5_000) as u32;
        let now = s.now;
        match s.rng.below(3) {
            0 => {
                s.a.remove_flow(now, &sim::flow(i).key());
            }
            _ => {
                let mut f = sim::flow(i);
                f.state = 1 + (k % 8) as u8;
                s.a.upsert_flow(now, f).unwrap();
            }
        }
        s.run_for(Duration::from_micros(100));
    }
    s.run_for(Duration::from_millis(50));
    let keys = sim::config(1).keys;
    let (mut recs, mut bytes) = (0u64, 0u64);
    for (side, d) in s.captured.get(mixed_from..).unwrap_or_default() {
        if *side != Side::A {
            continue;
        }
        let Ok((_, payload)) = keys.open(d) else {
            continue;
        };
        let Ok(records) = decode_payload(&payload) else {
            continue;
        };
        let n = records
            .iter()
            .filter(|r| {
                matches!(
                    r,
                    Record::Flow { .. } | Record::FlowUpdate { .. } | Record::FlowDelete { .. }
                )
            })
            .count() as u64;
        if n * 2 > records.len() as u64 {
            recs += n;
            bytes += d.len() as u64;
        }
    }
    s.capture = false;
    let mut by: BTreeMap<&'static str, (u64, f64, f64)> = BTreeMap::new();
    for (side, d) in s.captured.get(..mixed_from).unwrap_or_default() {
        if *side != Side::A {
            continue;
        }
        let Ok((_, payload)) = keys.open(d) else {
            continue;
        };
        let Ok(records) = decode_payload(&payload) else {
            continue;
        };
        let body: usize = records.iter().map(Record::wire_len).sum();
        let overhead = (d.len() - body) as f64;
        for r in &records {
            let kind = match r {
                Record::Flow { flow, .. } if flow.window.is_some() => "flow insert + TCPWIN",
                Record::Flow { .. } => "flow insert (FLOW4)",
                Record::FlowUpdate { .. } => "flow update (FLOW_UPD)",
                Record::FlowDelete { .. } => "flow delete (FLOW_DEL)",
                Record::FlowWindow { .. } => "window update (TCPWIN)",
                Record::Persist(p) => match p.key {
                    PersistKey::Source { .. } => "persistence, IPv4 source (PERSIST4)",
                    _ => "persistence, cookie hash (PERSISTH)",
                },
                _ => continue,
            };
            let len = r.wire_len() as f64;
            let e = by.entry(kind).or_default();
            e.0 += 1;
            e.1 += len;
            e.2 += len + overhead * len / body.max(1) as f64;
        }
    }
    println!("bytes per entry as sent (record; with its share of header {HEADER_LEN}, tag {TAG_LEN} and section headers):");
    for (kind, (count, rec, all)) in by {
        println!(
            "  {kind:40} {:5.1} B  {:5.1} B   ({count} records)",
            rec / count as f64,
            all / count as f64
        );
    }
    println!(
        "  mixed live churn (inserts, updates, deletes interleaved): {:.1} B per record, everything in its frames counted ({recs} records)",
        bytes as f64 / recs.max(1) as f64
    );
}

/// Churn under 20 % loss, duplication and reordering, then time until the
/// mirror is exact again (loss still on, and with the link clean).
fn recovery() {
    let mut lossy = Vec::new();
    for seed in 0..20 {
        let mut s = Sim::new(100 + seed, sim::config(1), sim::config(2));
        s.link = Link {
            loss: 0.2,
            duplicate: 0.1,
            delay: Duration::from_micros(300),
            jitter: Duration::from_millis(2),
            up: true,
        };
        s.a.set_active(s.now, true);
        for _ in 0..5_000 {
            let i = s.rng.below(2000) as u32;
            let now = s.now;
            if s.rng.below(4) == 0 {
                s.a.remove_flow(now, &sim::flow(i).key());
            } else {
                let mut f = sim::flow(i);
                f.state = 1 + s.rng.below(8) as u8;
                s.a.upsert_flow(now, f).unwrap();
            }
            let gap = Duration::from_micros(s.rng.below(200));
            s.run_for(gap);
        }
        let stop = s.now;
        assert!(s.run_until(Duration::from_secs(30), |s| s.converged()));
        lossy.push((s.now - stop).as_secs_f64() * 1000.0);
    }
    lossy.sort_by(f64::total_cmp);
    println!(
        "recovery after 20% loss + 10% duplication + 2 ms reordering (5,000 changes over ~0.5 s, 20 seeds; virtual time from the last change to an exact mirror, loss still on; checked every 5 ms):"
    );
    println!(
        "  median {:.0} ms, 90th {:.0} ms, max {:.0} ms",
        lossy[lossy.len() / 2],
        lossy[lossy.len() * 9 / 10],
        lossy[lossy.len() - 1]
    );
}

/// How long a new flow waits before its frame leaves (the window in
/// which a failover loses it): new flows one by one on a clean link.
fn flush_window() {
    let mut s = Sim::new(3, sim::config(1), sim::config(2));
    s.a.set_active(s.now, true);
    assert!(s.run_until(Duration::from_secs(2), |s| s
        .b
        .status()
        .counters
        .bulks_received
        > 0));
    let mut worst = Duration::ZERO;
    let mut total = Duration::ZERO;
    let n = 200;
    for i in 0..n {
        let pause = Duration::from_micros(s.rng.below(20_000));
        s.run_for(pause);
        let t0 = s.now;
        s.a.upsert_flow(t0, sim::flow(i)).unwrap();
        let key = sim::flow(i).key();
        let limit = t0 + Duration::from_secs(1);
        while !s.b.mirror().entries().any(|(_, e)| e.flow.key() == key) {
            assert!(s.step(limit), "flow {i} never mirrored");
        }
        let d = s.now - t0;
        worst = worst.max(d);
        total += d;
    }
    println!(
        "flush budget {} ms (Config::flush_budget): a new flow is in a frame at most that long after the change; measured change-to-mirror on a 0.2 ms link: mean {:.1} ms, worst {:.1} ms over {n} flows",
        sim::config(1).flush_budget.as_millis(),
        total.as_secs_f64() * 1000.0 / f64::from(n),
        worst.as_secs_f64() * 1000.0
    );
}
