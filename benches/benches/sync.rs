//! Config sync's costs in one process (sans-IO sessions back to back,
//! real Noise crypto): a one-object change from commit on the Active to
//! applied and acknowledged on the Backup, in a 10-service and in a
//! 10,000-service document; a 10,000-service snapshot to a fresh unit;
//! the digest tree and the snapshot encoding of 10,000 services. Run with
//! `cargo bench -p tandem-benches --bench sync`. tandemd's own figures
//! (file written, fsynced, node reloaded) come from scripts/bench-sync.sh.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use tandem_config_sync::channel::Key;
use tandem_config_sync::digest::DigestTree;
use tandem_config_sync::doc::{Document, ObjectKey};
use tandem_config_sync::frame::{Mode, Role};
use tandem_config_sync::session::{Authority, Config};
use tandem_config_sync::sim::{Pair, Unit};
use tandem_config_sync::value::{DecodeLimits, Value};

fn services(n: usize) -> Document {
    let mut d = Document::new();
    for i in 0..n {
        let k = ObjectKey::new("app.vs", format!("vs{i:05}"));
        d.set(
            k.clone(),
            "address",
            Value::Str(format!("198.51.100.{}", i % 250)),
        )
        .unwrap();
        d.set(k.clone(), "port", Value::Int(443)).unwrap();
        d.set(
            k.clone(),
            "scheduler",
            Value::Str("least-connections".into()),
        )
        .unwrap();
        d.set(
            k,
            "real_servers",
            Value::List(vec![Value::Str(format!("203.0.113.{}:8443", i % 250))]),
        )
        .unwrap();
    }
    d
}

fn unit(name: &str, doc: Document, auth: Authority) -> Unit {
    let key = Key::from_bytes([9; 32]);
    Unit::new(
        Config::new(name, "bench", key, Mode::ActiveStandby),
        doc,
        auth,
    )
}

fn pair(doc: &Document) -> Pair {
    let auth = Authority {
        epoch: 1,
        generation: 1,
    };
    let mut p = Pair::new(unit("a", doc.clone(), auth), unit("b", doc.clone(), auth));
    p.a.s.set_role(p.now, Role::Active);
    p.b.s.set_role(p.now, Role::Backup);
    p.connect();
    p
}

fn one_object_change(c: &mut Criterion) {
    let mut g = c.benchmark_group("sync_one_object_change");
    for n in [10usize, 10_000] {
        let mut doc = services(n);
        let mut p = pair(&doc);
        let key = ObjectKey::new("app.vs", "vs00001");
        let mut port = 0i64;
        g.bench_function(format!("{n}_services"), |b| {
            b.iter_batched(
                || {
                    port += 1;
                    doc.set(key.clone(), "port", Value::Int(port)).unwrap();
                    doc.clone()
                },
                |next| {
                    p.a.s.commit(p.now, next).unwrap();
                    p.pump();
                },
                BatchSize::LargeInput,
            )
        });
        assert_eq!(p.b.s.document(), &doc);
    }
    g.finish();
}

fn snapshot(c: &mut Criterion) {
    let doc = services(10_000);
    let mut g = c.benchmark_group("sync_snapshot");
    g.sample_size(10);
    g.bench_function("10000_services_to_a_fresh_unit", |b| {
        b.iter_batched(
            || {
                let a = unit(
                    "a",
                    doc.clone(),
                    Authority {
                        epoch: 1,
                        generation: 9,
                    },
                );
                let mut p = Pair::new(a, unit("b", Document::new(), Authority::default()));
                p.a.s.set_role(p.now, Role::Active);
                p
            },
            |mut p| {
                p.connect();
                assert_eq!(p.b.s.document().len(), 10_000);
                p
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

fn digests_and_encoding(c: &mut Criterion) {
    let doc = services(10_000);
    let bytes = doc.to_bytes();
    let mut g = c.benchmark_group("sync_document");
    g.bench_function("digest_tree_10000_services", |b| {
        b.iter(|| black_box(DigestTree::new(1, black_box(&doc)).root()))
    });
    g.bench_function("encode_10000_services", |b| {
        b.iter(|| black_box(black_box(&doc).to_bytes().len()))
    });
    g.bench_function("decode_10000_services", |b| {
        b.iter(|| {
            black_box(
                Document::decode(black_box(&bytes), &DecodeLimits::default())
                    .unwrap()
                    .len(),
            )
        })
    });
    g.finish();
}

criterion_group!(benches, one_object_change, snapshot, digests_and_encoding);
criterion_main!(benches);
