//! Events per second through tandem-election's state machine: adverts
//! received by Backup routers and advert timers of Active routers, for one
//! virtual router and for 255 on one node. Run with
//! `cargo bench -p tandem-benches --bench election`.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tandem_election::{Advert, Command, Config, Instant, Received, State, VirtualRouter};
use tandem_wire::{vrrp3, Centiseconds, ChecksumMode, Priority, Vrid};

const PEER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));

fn config(vrid: u8, priority: u8) -> Config {
    let vip = IpAddr::V4(Ipv4Addr::new(198, 51, 100, vrid));
    let mut c = Config::new(
        Vrid::new(vrid).unwrap(),
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
        vec![vip],
    );
    c.priority = Priority(priority);
    c
}

fn advert_from_peer(vrid: u8) -> Advert {
    Advert::Vrrp3 {
        repr: vrrp3::Repr {
            vrid: Vrid::new(vrid).unwrap(),
            priority: Priority(200),
            max_adver_int: Centiseconds(100),
            addresses: vrrp3::Addresses::V4(vec![Ipv4Addr::new(198, 51, 100, vrid)]),
        },
        checksum: Some(ChecksumMode::PseudoHeader),
    }
}

/// `n` routers on one node: Backups hearing an Active peer, or Actives alone.
fn routers(n: u8, active: bool) -> Vec<VirtualRouter> {
    (1..=n)
        .map(|v| {
            let mut vr = VirtualRouter::new(
                config(v, if active { 255 } else { 100 }),
                Instant::ZERO,
                &[],
            )
            .unwrap();
            vr.handle_command(Instant::ZERO, Command::Start);
            while vr.poll_action().is_some() {}
            assert_eq!(
                vr.state(),
                if active { State::Active } else { State::Backup }
            );
            vr
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("election");
    g.measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(50);
    for n in [1u8, 255] {
        // Adverts: each router receives its Active's advert, 10 ms apart.
        let adverts: Vec<Advert> = (1..=n).map(advert_from_peer).collect();
        let mut vrs = routers(n, false);
        let mut now = Instant::ZERO;
        g.throughput(Throughput::Elements(u64::from(n)));
        g.bench_function(format!("advert/{n}"), |b| {
            b.iter(|| {
                now = now + Duration::from_millis(10);
                for (vr, adv) in vrs.iter_mut().zip(&adverts) {
                    vr.handle_advert(
                        now,
                        Received {
                            src: PEER,
                            ttl: 255,
                            advert: black_box(adv),
                        },
                    );
                    while let Some(a) = vr.poll_action() {
                        black_box(a);
                    }
                }
            })
        });
        // Timers: each Active router's Adver_Timer fires and it sends an advert.
        let mut vrs = routers(n, true);
        g.bench_function(format!("timer/{n}"), |b| {
            b.iter(|| {
                for vr in vrs.iter_mut() {
                    let at = vr.poll_timeout().unwrap();
                    vr.handle_timeout(at);
                    while let Some(a) = vr.poll_action() {
                        black_box(a);
                    }
                }
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
