//! Per-packet cost of the tandem-wire codecs, on real advertisements.
//!
//! Every message comes from the reference captures in
//! `crates/tandem-wire/tests/vectors` (keepalived 2.2.7 and ucarp 1.5.2), so
//! each group measures the packets Tandem will actually receive and send:
//!
//! | group      | message                                                       |
//! |------------|---------------------------------------------------------------|
//! | `vrrp3_v4` | keepalived VRRPv3, IPv4, VRID 61, 3 addresses (20 bytes),     |
//! |            | IPv4 pseudo-header checksum, 192.0.2.1 -> 224.0.0.18          |
//! | `vrrp3_v6` | keepalived VRRPv3, IPv6, VRID 71, 2 addresses (40 bytes),     |
//! |            | fe80::ff:fe00:a -> ff02::12                                   |
//! | `vrrp2`    | keepalived VRRPv2, VRID 52, 1 address, simple-text password   |
//! |            | (24 bytes)                                                    |
//! | `carp`     | ucarp CARP, vhid 10, password carpkey1, 192.0.2.130 (36 bytes) |
//! | `frame`    | the whole keepalived Ethernet frames of the two VRRPv3 vectors |
//!
//! `checksum/bare/*` is the baseline: the plain Internet checksum over the
//! same bytes as each message. `carp/hmac_sha1_one_shot` is the other
//! baseline: a plain HMAC-SHA1 (key set-up included) over the 15 bytes CARP
//! authenticates.
//!
//! Inputs go through `black_box` on every iteration and every result is
//! returned from the closure (criterion black-boxes it), so nothing is
//! hoisted out of the loop or optimised away. `benches/run.sh` runs this
//! file and prints the medians and the ratios the project targets.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hmac::{Hmac, Mac};
use sha1::Sha1;
use tandem_wire::{carp, checksum, frame, vrrp2, vrrp3, Checksum, ChecksumMode, Vrid};

/// The VRRPv3 IPv4 keepalived advertisement named in the benchmark brief;
/// checked below against `ka-v3-ipv4-3vip-int1.json`.
const KA_V3_V4_HEX: &str = "313d960300644f06c000023dc000023ec000023f";

const VEC_V3_V4: &str =
    include_str!("../../crates/tandem-wire/tests/vectors/ka-v3-ipv4-3vip-int1.json");
const VEC_V3_V6: &str = include_str!("../../crates/tandem-wire/tests/vectors/ka-v3-ipv6-2vip.json");
const VEC_V2: &str =
    include_str!("../../crates/tandem-wire/tests/vectors/ka-v2-ipv4-auth-pass.json");
const VEC_CARP: &str = include_str!("../../crates/tandem-wire/tests/vectors/ucarp-ipv4-pass.json");

const CARP_PASSWORD: &[u8] = b"carpkey1";
const CARP_VHID: u8 = 10;
const CARP_VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 130);

fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// The first packet of a vector: message bytes, frame bytes, IP source and
/// destination.
struct Vector {
    message: Vec<u8>,
    frame: Vec<u8>,
    src: IpAddr,
    dst: IpAddr,
}

fn load(json: &str) -> Vector {
    let v: serde_json::Value = serde_json::from_str(json).expect("vector JSON");
    let p = &v["packets"][0];
    let s = |k: &str| p[k].as_str().unwrap_or_else(|| panic!("vector lacks {k}"));
    let ip = |k: &str| {
        p["ip"][k]
            .as_str()
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("vector lacks ip.{k}"))
    };
    Vector {
        message: unhex(s("message_hex")),
        frame: unhex(s("frame_hex")),
        src: ip("src"),
        dst: ip("dst"),
    }
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50)
}

/// Baseline: the Internet checksum over exactly the bytes of each message.
fn bench_checksum(c: &mut Criterion) {
    let v3v4 = unhex(KA_V3_V4_HEX);
    let v3v6 = load(VEC_V3_V6).message;
    let v2 = load(VEC_V2).message;
    let carp = load(VEC_CARP).message;
    let mut g = c.benchmark_group("checksum");
    for (name, msg) in [
        ("vrrp3_v4", &v3v4),
        ("vrrp3_v6", &v3v6),
        ("vrrp2", &v2),
        ("carp", &carp),
    ] {
        g.throughput(Throughput::Bytes(msg.len() as u64));
        g.bench_function(format!("bare/{name}"), |b| {
            b.iter(|| checksum::internet(black_box(&msg[..])))
        });
    }
    g.finish();
}

/// VRRPv3 over IPv4 or IPv6: the four benches of one group.
fn bench_vrrp3(c: &mut Criterion, group: &str, msg: &[u8], src: IpAddr, dst: IpAddr) {
    let ck = Checksum::PseudoHeader { src, dst };
    // The vectors must decode as keepalived sent them, or the numbers lie.
    let p = vrrp3::Packet::new_checked(msg).expect("vector is a valid VRRPv3 message");
    assert_eq!(p.verify_checksum(ck), Ok(Some(ChecksumMode::PseudoHeader)));
    assert_eq!(p.checksum_mode(src, dst), Some(ChecksumMode::PseudoHeader));
    let repr = vrrp3::Repr::parse(&p, ck).expect("vector parses");
    let mut buf = BytesMut::with_capacity(64);
    repr.emit(&mut buf, ck).expect("emit");
    assert_eq!(&buf[..], msg, "emit reproduces the capture");

    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Bytes(msg.len() as u64));
    g.bench_function("parse_verify_view", |b| {
        b.iter(|| {
            let p = vrrp3::Packet::new_checked(black_box(msg)).unwrap();
            p.verify_checksum(black_box(ck)).unwrap()
        })
    });
    g.bench_function("parse_verify_repr", |b| {
        b.iter(|| {
            let p = vrrp3::Packet::new_checked(black_box(msg)).unwrap();
            vrrp3::Repr::parse(&p, black_box(ck)).unwrap()
        })
    });
    g.bench_function("checksum_mode", |b| {
        b.iter(|| {
            let p = vrrp3::Packet::new_checked(black_box(msg)).unwrap();
            p.checksum_mode(black_box(src), black_box(dst))
        })
    });
    g.bench_function("emit", |b| {
        b.iter(|| {
            buf.clear();
            black_box(&repr).emit(&mut buf, black_box(ck)).unwrap();
            black_box(&buf[..]);
        })
    });
    g.finish();
}

fn bench_vrrp3_v4(c: &mut Criterion) {
    let msg = unhex(KA_V3_V4_HEX);
    let v = load(VEC_V3_V4);
    assert_eq!(msg, v.message, "the brief's message is the vector's");
    let src: IpAddr = "192.0.2.1".parse().unwrap();
    let dst: IpAddr = "224.0.0.18".parse().unwrap();
    assert_eq!((v.src, v.dst), (src, dst));
    bench_vrrp3(c, "vrrp3_v4", &msg, src, dst);
}

fn bench_vrrp3_v6(c: &mut Criterion) {
    let v = load(VEC_V3_V6);
    bench_vrrp3(c, "vrrp3_v6", &v.message, v.src, v.dst);
}

/// VRRPv2 has no pseudo-header and so no mode detection: three benches.
fn bench_vrrp2(c: &mut Criterion) {
    let v = load(VEC_V2);
    let msg = &v.message[..];
    let ck = Checksum::NoPseudoHeader;
    let repr = vrrp2::Repr::decode(msg, ck).expect("vector parses");
    assert_eq!(repr.auth, vrrp2::Auth::simple_text(b"s3cret"));
    let mut buf = BytesMut::with_capacity(64);
    repr.emit(&mut buf, ck).expect("emit");
    assert_eq!(&buf[..], msg, "emit reproduces the capture");

    let mut g = c.benchmark_group("vrrp2");
    g.throughput(Throughput::Bytes(msg.len() as u64));
    g.bench_function("parse_verify_view", |b| {
        b.iter(|| {
            let p = vrrp2::Packet::new_checked(black_box(msg)).unwrap();
            p.verify_checksum(black_box(ck)).unwrap();
            p
        })
    });
    g.bench_function("parse_verify_repr", |b| {
        b.iter(|| {
            let p = vrrp2::Packet::new_checked(black_box(msg)).unwrap();
            vrrp2::Repr::parse(&p, black_box(ck)).unwrap()
        })
    });
    g.bench_function("emit", |b| {
        b.iter(|| {
            buf.clear();
            black_box(&repr).emit(&mut buf, black_box(ck)).unwrap();
            black_box(&buf[..]);
        })
    });
    g.finish();
}

fn bench_carp(c: &mut Criterion) {
    let v = load(VEC_CARP);
    let msg = &v.message[..];
    let vhid = Vrid::new(CARP_VHID).unwrap();
    let addrs = [IpAddr::V4(CARP_VIP)];
    let key = carp::Key::new(CARP_PASSWORD, vhid, &addrs);
    let ck = Checksum::NoPseudoHeader;
    let p = carp::Packet::new_checked(msg).expect("vector is a valid CARP message");
    p.verify_checksum(ck).expect("checksum");
    p.verify_hmac(&key).expect("HMAC");
    let repr = carp::Repr::parse(&p, ck, Some(&key)).expect("vector parses");
    let mut buf = BytesMut::with_capacity(64);
    repr.emit(&mut buf, &key, ck).expect("emit");
    assert_eq!(&buf[..], msg, "emit reproduces the capture");

    // What CARP authenticates: version, type, vhid, the address, the counter.
    let mut hmac_input = vec![carp::VERSION, carp::TYPE_ADVERTISEMENT, CARP_VHID];
    hmac_input.extend_from_slice(&CARP_VIP.octets());
    hmac_input.extend_from_slice(&msg[8..16]);
    assert_eq!(hmac_input.len(), 15);
    let one_shot = |data: &[u8]| {
        let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(CARP_PASSWORD).unwrap();
        mac.update(data);
        <[u8; 20]>::from(mac.finalize().into_bytes())
    };
    assert_eq!(
        &one_shot(&hmac_input)[..],
        &msg[16..],
        "baseline HMAC is CARP's"
    );

    let mut g = c.benchmark_group("carp");
    g.throughput(Throughput::Bytes(msg.len() as u64));
    g.bench_function("verify_view", |b| {
        b.iter(|| {
            let p = carp::Packet::new_checked(black_box(msg)).unwrap();
            p.verify_checksum(black_box(ck)).unwrap();
            p.verify_hmac(black_box(&key)).unwrap();
            p
        })
    });
    g.bench_function("emit", |b| {
        b.iter(|| {
            buf.clear();
            black_box(&repr)
                .emit(&mut buf, black_box(&key), black_box(ck))
                .unwrap();
            black_box(&buf[..]);
        })
    });
    g.bench_function("hmac_sha1_one_shot", |b| {
        b.iter(|| one_shot(black_box(&hmac_input[..])))
    });
    g.bench_function("key_new", |b| {
        b.iter(|| carp::Key::new(black_box(CARP_PASSWORD), black_box(vhid), black_box(&addrs)))
    });
    g.finish();
}

/// The whole receive path from an Ethernet frame.
fn bench_frame(c: &mut Criterion) {
    let v4 = load(VEC_V3_V4);
    let v6 = load(VEC_V3_V6);
    let mut g = c.benchmark_group("frame");
    for (name, v) in [("vrrp3_v4", &v4), ("vrrp3_v6", &v6)] {
        let f = frame::parse_ethernet(&v.frame).expect("vector frame parses");
        assert_eq!(f.message, &v.message[..]);
        assert_eq!((f.ip.src, f.ip.dst), (v.src, v.dst));
        g.throughput(Throughput::Bytes(v.frame.len() as u64));
        g.bench_function(format!("parse_ethernet/{name}"), |b| {
            b.iter(|| frame::parse_ethernet(black_box(&v.frame[..])).unwrap())
        });
    }
    // Frame to verified VRRPv3 view: what a receiver does for every packet.
    g.throughput(Throughput::Bytes(v4.frame.len() as u64));
    g.bench_function("receive_vrrp3_v4", |b| {
        b.iter(|| {
            let f = frame::parse_ethernet(black_box(&v4.frame[..])).unwrap();
            let p = vrrp3::Packet::new_checked_family(f.message, f.ip.family()).unwrap();
            let mode = p
                .verify_checksum(Checksum::PseudoHeader {
                    src: f.ip.src,
                    dst: f.ip.dst,
                })
                .unwrap();
            (p, mode, f.ip.ttl)
        })
    });
    g.finish();
}

criterion_group! {
    name = wire;
    config = config();
    targets = bench_checksum, bench_vrrp3_v4, bench_vrrp3_v6, bench_vrrp2, bench_carp, bench_frame
}
criterion_main!(wire);
