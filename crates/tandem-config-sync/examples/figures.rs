//! Figures of the sans-IO protocol, real crypto, in one process: time from
//! a commit on the Active to the change applied on the Backup (p50, p99),
//! for one object in a small and in a 10,000-service document; a full
//! 10,000-service snapshot; divergence detection and repair; bytes on the
//! wire. tandemd's own figures (with the file written and fsynced, and the
//! node reloaded) come from scripts/bench-sync.sh.
//!
//! `cargo run --release -p tandem-config-sync --example figures`

use std::time::{Duration, Instant as Wall};

use tandem_config_sync::channel::Key;
use tandem_config_sync::doc::{Document, ObjectKey};
use tandem_config_sync::frame::{Mode, Role};
use tandem_config_sync::session::{Authority, Config};
use tandem_config_sync::sim::{Pair, Unit};
use tandem_config_sync::value::Value;

fn services(n: usize) -> Document {
    let mut d = Document::new();
    for i in 0..n {
        let k = ObjectKey::new("app.vs", format!("vs{i:05}"));
        let fields = [
            ("address", Value::Str(format!("198.51.100.{}", i % 250))),
            ("port", Value::Int(443)),
            ("protocol", Value::Str("tcp".into())),
            ("scheduler", Value::Str("least-connections".into())),
            (
                "real_servers",
                Value::List(vec![
                    Value::Str(format!("203.0.113.{}:8443", i % 250)),
                    Value::Str(format!("203.0.113.{}:8443", (i + 1) % 250)),
                ]),
            ),
        ];
        for (f, v) in fields {
            d.set(k.clone(), f, v).expect("valid");
        }
    }
    d
}

fn pair(doc: &Document) -> Pair {
    let key = Key::from_bytes([9; 32]);
    let auth = Authority {
        epoch: 1,
        generation: 1,
    };
    let a = Unit::new(
        Config::new("a", "bench", key.clone(), Mode::ActiveStandby),
        doc.clone(),
        auth,
    );
    let b = Unit::new(
        Config::new("b", "bench", key, Mode::ActiveStandby),
        doc.clone(),
        auth,
    );
    let mut p = Pair::new(a, b);
    p.a.s.set_role(p.now, Role::Active);
    p.b.s.set_role(p.now, Role::Backup);
    p.connect();
    p
}

fn pct(v: &mut [Duration], q: f64) -> Duration {
    v.sort();
    v[((v.len() - 1) as f64 * q).round() as usize]
}

fn one_object(n: usize, runs: usize) {
    let mut doc = services(n);
    let mut p = pair(&doc);
    let mut times = Vec::new();
    let mut bytes = 0;
    for i in 0..runs {
        doc.set(
            ObjectKey::new("app.vs", "vs00001"),
            "port",
            Value::Int(i as i64),
        )
        .expect("valid");
        let (ab, ba) = (p.wire_ab, p.wire_ba);
        let t = Wall::now();
        p.a.s.commit(p.now, doc.clone()).expect("Active");
        p.pump();
        times.push(t.elapsed());
        assert_eq!(p.b.s.document(), &doc);
        bytes = (p.wire_ab - ab) + (p.wire_ba - ba);
    }
    let (p50, p99) = (pct(&mut times, 0.5), pct(&mut times, 0.99));
    println!(
        "one-object change in {n} services: p50 {:.3} ms, p99 {:.3} ms ({runs} runs); {bytes} bytes on the wire (DELTA + ACK, Noise framing included)",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3
    );
}

fn snapshot(n: usize, runs: usize) {
    let doc = services(n);
    let mut times = Vec::new();
    let mut len = 0;
    for _ in 0..runs {
        let key = Key::from_bytes([9; 32]);
        let a = Unit::new(
            Config::new("a", "bench", key.clone(), Mode::ActiveStandby),
            doc.clone(),
            Authority {
                epoch: 1,
                generation: 9,
            },
        );
        let b = Unit::new(
            Config::new("b", "bench", key, Mode::ActiveStandby),
            Document::new(),
            Authority::default(),
        );
        let mut p = Pair::new(a, b);
        p.a.s.set_role(p.now, Role::Active);
        let t = Wall::now();
        p.connect();
        times.push(t.elapsed());
        assert_eq!(p.b.s.document(), &doc);
        len = p.a.s.status().config_bytes_sent;
    }
    println!(
        "snapshot of {n} services to a fresh unit (handshake, HELLOs, {len} bytes of snapshot frames, decode, digests): p50 {:.1} ms ({runs} runs)",
        pct(&mut times, 0.5).as_secs_f64() * 1e3
    );
}

fn rejoin(n: usize) {
    let doc = services(n);
    let mut p = pair(&doc);
    p.cut();
    let before = p.a.s.status().config_bytes_sent + p.b.s.status().config_bytes_sent;
    let (ab, ba) = (p.wire_ab, p.wire_ba);
    p.connect();
    p.run(Duration::from_secs(3));
    let after = p.a.s.status().config_bytes_sent + p.b.s.status().config_bytes_sent;
    println!(
        "rejoin with equal {n}-service documents: {} configuration bytes; {} bytes on the wire in all over 3 s (handshake, HELLOs, PINGs)",
        after - before,
        (p.wire_ab - ab) + (p.wire_ba - ba)
    );
}

fn divergence(n: usize) {
    let doc = services(n);
    let mut p = pair(&doc);
    p.run(Duration::from_millis(300));
    let mut edited = doc.clone();
    edited
        .set(ObjectKey::new("app.vs", "vs00042"), "port", Value::Int(1))
        .expect("valid");
    p.b.s.set_document(p.now, edited);
    let start = p.now;
    let wall = Wall::now();
    let mut steps = 0;
    while !p.roots_equal() && steps < 100 {
        p.run(Duration::from_millis(100));
        steps += 1;
    }
    let protocol = p.now.saturating_since(start);
    let repaired = p.b.applied.last().map_or(0, |a| a.changed.len());
    println!(
        "divergence of one object in {n} services: found and repaired {:.1} s after it (protocol time: PINGs 1 s apart, the second mismatch acts), {repaired} object fetched; {:.1} ms of CPU for the whole run",
        protocol.as_secs_f64(),
        wall.elapsed().as_secs_f64() * 1e3
    );
}

fn main() {
    one_object(10, 500);
    one_object(10_000, 200);
    snapshot(10_000, 10);
    rejoin(10_000);
    divergence(10_000);
}
