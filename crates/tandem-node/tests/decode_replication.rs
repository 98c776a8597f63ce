//! `tandemd decode` on the replication link: the built binary on
//! conntrackd's own sync traffic (the captures of a conntrackd 1.4.7 pair
//! in tandem-replication's vectors, compared entry by entry with the
//! kernel events recorded beside them), and on Tandem replication frames
//! sealed here with a key `tandemd replication keygen` wrote: opened with
//! it, refused with another, header only without one.

use std::ffi::OsString;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::DataLink;
use serde_json::Value;
use tandem_replication::flow::{proto, status, Flow, Tuple};
use tandem_replication::persist::{PersistKey, Persistence};
use tandem_replication::seal::{KeyRing, Psk};
use tandem_replication::wire::{encode_payload, flags, Ack, Handle, Header, Hello, Record, Role};
use tandem_wire::build::Advert;

const TANDEMD: &str = env!("CARGO_BIN_EXE_tandemd");

fn ctd_vector(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tandem-replication/tests/vectors")
        .join(name)
}

fn tandemd(args: &[OsString]) -> Output {
    Command::new(TANDEMD)
        .args(args)
        .output()
        .expect("run tandemd")
}

fn decode(file: &Path, extra: &[&str]) -> Output {
    let mut args: Vec<OsString> = vec!["decode".into(), file.into()];
    args.extend(extra.iter().map(OsString::from));
    tandemd(&args)
}

fn stdout(o: &Output) -> String {
    assert!(
        o.status.success(),
        "tandemd failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).expect("UTF-8 output")
}

fn json_lines(o: &Output) -> Vec<Value> {
    stdout(o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[path = "decode_replication/conntrackd.rs"]
mod conntrackd;

// ---- Tandem frames: sealed here with a keygen'd key ----------------------

fn tmp(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("decode-replication-{}-{name}", std::process::id()))
}

fn keygen(name: &str) -> (PathBuf, Psk) {
    let path = tmp(name);
    let _ = std::fs::remove_file(&path);
    let o = tandemd(&["replication".into(), "keygen".into(), path.clone().into()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&path).expect("key file");
    (path, Psk::parse(&text).expect("a key"))
}

/// Ethernet, IPv4 or IPv6 (TTL 255), UDP.
fn udp_frame(src: SocketAddr, dst: SocketAddr, payload: &[u8]) -> Vec<u8> {
    let mut udp = Vec::new();
    udp.extend_from_slice(&src.port().to_be_bytes());
    udp.extend_from_slice(&dst.port().to_be_bytes());
    udp.extend_from_slice(&u16::try_from(8 + payload.len()).unwrap().to_be_bytes());
    udp.extend_from_slice(&[0, 0]);
    udp.extend_from_slice(payload);
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
    match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            f.extend_from_slice(&[0x08, 0x00, 0x45, 0]);
            f.extend_from_slice(&u16::try_from(20 + udp.len()).unwrap().to_be_bytes());
            f.extend_from_slice(&[0, 0, 0x40, 0, 255, 17, 0, 0]);
            f.extend_from_slice(&s.octets());
            f.extend_from_slice(&d.octets());
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            f.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0]);
            f.extend_from_slice(&u16::try_from(udp.len()).unwrap().to_be_bytes());
            f.extend_from_slice(&[17, 255]);
            f.extend_from_slice(&s.octets());
            f.extend_from_slice(&d.octets());
        }
        _ => panic!("mixed families"),
    }
    f.extend_from_slice(&udp);
    f
}

fn write_pcap(name: &str, frames: &[Vec<u8>]) -> PathBuf {
    let path = tmp(name);
    let file = std::fs::File::create(&path).expect("create capture");
    let header = PcapHeader {
        datalink: DataLink::ETHERNET,
        ..PcapHeader::default()
    };
    let mut w = PcapWriter::with_header(file, header).expect("pcap header");
    for (i, f) in frames.iter().enumerate() {
        let ts = Duration::from_millis(100 * i as u64);
        w.write_packet(&PcapPacket::new(ts, f.len() as u32, f))
            .expect("write packet");
    }
    path
}

const BOOT1: u64 = 0x3f1e_2d3c_4b5a_6978;
const BOOT2: u64 = 0x0102_0304_0506_0708;

fn frame(ring: &KeyRing, node: u8, boot: u64, seq: u64, fl: u16, records: &[Record]) -> Vec<u8> {
    let mut payload = Vec::new();
    encode_payload(records, &mut payload);
    let header = Header {
        minor: 0,
        flags: fl,
        payload_len: 0,
        cluster: 7,
        node,
        stream: 0,
        key_id: 0,
        boot,
        seq,
    };
    ring.seal(header, &payload)
}

fn v4(s: &str) -> IpAddr {
    s.parse().expect("address")
}

fn dnat_flow() -> Flow {
    let original = Tuple {
        src: v4("192.0.2.254"),
        dst: v4("192.0.2.100"),
        src_port: 40000,
        dst_port: 80,
    };
    Flow {
        reply: Tuple {
            src: v4("198.51.100.10"),
            src_port: 8080,
            ..original.inverse(proto::TCP)
        },
        status: status::CONFIRMED | status::ASSURED | status::SEEN_REPLY | status::DST_NAT,
        backend: 2,
        ..Flow::untranslated(proto::TCP, original, 3, 431_999_000)
    }
}

/// A pair's exchange: HELLO, flows (IPv4 with DNAT, IPv6), persistence,
/// the partner's ACK, an update and a delete, over IPv4 and IPv6, with a
/// VRRP advert and a DNS query between them, and the second frame again.
fn exchange(psk: &Psk) -> PathBuf {
    let ring = KeyRing::new(7, psk, None).unwrap();
    let a: SocketAddr = "198.51.100.1:6974".parse().unwrap();
    let b: SocketAddr = "198.51.100.2:6974".parse().unwrap();
    let a6: SocketAddr = "[fd00::1]:6974".parse().unwrap();
    let b6: SocketAddr = "[fd00::2]:6974".parse().unwrap();
    let hello = Record::Hello(Hello {
        role: Role::Active,
        versions: (1, 1),
        capabilities: 0,
        challenge: 0x1111,
        response: 0,
        mirrored_boot: 0,
        live: 2,
    });
    let v6flow = Flow::untranslated(
        proto::UDP,
        Tuple {
            src: v4("fd00::10"),
            dst: v4("fd00::20"),
            src_port: 5353,
            dst_port: 53,
        },
        0,
        30_000,
    );
    let flows = [
        Record::Flow {
            handle: Handle { slot: 5, gen: 1 },
            flow: dnat_flow(),
        },
        Record::Flow {
            handle: Handle { slot: 6, gen: 1 },
            flow: v6flow,
        },
        Record::Persist(Persistence {
            table: 1,
            key: PersistKey::source(v4("192.0.2.0"), 24),
            backend: 2,
            lifetime_ms: 600_000,
        }),
    ];
    let ack = Record::Ack(Ack {
        stream: 0,
        boot: BOOT1,
        cumulative: 2,
        sack: 0,
        credit: 64,
    });
    let later = [
        Record::FlowUpdate {
            handle: Handle { slot: 5, gen: 1 },
            state: 7,
            status: status::CONFIRMED | status::ASSURED,
            lifetime_ms: 120_000,
        },
        Record::FlowDelete {
            handle: Handle { slot: 6, gen: 1 },
        },
    ];
    let f2 = udp_frame(
        a,
        b,
        &frame(&ring, 1, BOOT1, 2, flags::ACK_REQUESTED, &flows),
    );
    let vrrp = Advert::vrrp3(61, [v4("192.0.2.61")]).ethernet_frame();
    let dns = udp_frame(
        "198.51.100.1:5353".parse().unwrap(),
        "198.51.100.2:53".parse().unwrap(),
        &[0x54, 0x52, 0, 1, 2, 3],
    );
    write_pcap(
        &format!("exchange-{:02x}.pcap", psk.key_id()),
        &[
            udp_frame(a, b, &frame(&ring, 1, BOOT1, 1, 0, &[hello])),
            f2.clone(),
            vrrp,
            udp_frame(b, a, &frame(&ring, 2, BOOT2, 1, flags::IN_SYNC, &[ack])),
            dns,
            udp_frame(a6, b6, &frame(&ring, 1, BOOT1, 3, 0, &later)),
            f2,
        ],
    )
}

#[test]
fn tandem_frames_open_with_the_key() {
    let (key, psk) = keygen("key-a");
    let pcap = exchange(&psk);
    let key_arg = key.to_str().unwrap();
    let text = stdout(&decode(&pcap, &["--replication-key", key_arg]));
    let lines: Vec<&str> = text.lines().collect();
    let kid = psk.key_id();
    let header = |n: u32| {
        lines
            .iter()
            .find(|l| l.starts_with(&format!("{n}  ")))
            .unwrap_or_else(|| panic!("no line {n} in\n{text}"))
            .to_string()
    };
    assert_eq!(
        header(1),
        format!("1  198.51.100.1:6974 > 198.51.100.2:6974  tandem-repl v1.0 cluster 7 node 1 stream 0 key {kid} boot {BOOT1:016x} seq 1 flags encrypted len 40 opened sections HELLOx1 ttl 255")
    );
    assert!(lines.contains(&"1.1  HELLO role active versions 1-1 caps 0x0 challenge 0000000000001111 response 0000000000000000 mirrored-boot 0000000000000000 live 2"), "{text}");
    assert!(
        header(2).contains("seq 2 flags encrypted,ack-requested"),
        "{text}"
    );
    assert!(header(2).contains("opened sections FLOW4x1,FLOW6x1,PERSIST4x1"));
    assert!(lines.contains(&"2.1  FLOW4 slot 5 gen 1 tcp 192.0.2.254:40000 -> 192.0.2.100:80 reply 198.51.100.10:8080 -> 192.0.2.254:40000 (dnat) state established status seen-reply,assured,confirmed,dst-nat backend 2 lifetime 431999000ms"), "{text}");
    assert!(lines.contains(&"2.2  FLOW6 slot 6 gen 1 udp [fd00::10]:5353 -> [fd00::20]:53 status confirmed lifetime 30000ms"), "{text}");
    assert!(
        lines.contains(&"2.3  PERSIST4 table 1 source 192.0.2.0/24 -> backend 2 lifetime 600000ms"),
        "{text}"
    );
    assert!(
        header(3).contains("VRRPv3 vrid 61"),
        "the VRRP line is unchanged"
    );
    assert!(header(4)
        .contains("198.51.100.2:6974 > 198.51.100.1:6974  tandem-repl v1.0 cluster 7 node 2"));
    assert!(header(4).contains(&format!("boot {BOOT2:016x} seq 1 flags encrypted,in-sync")));
    assert!(
        lines.contains(&&*format!(
            "4.1  ACK stream 0 boot {BOOT1:016x} cum 2 sack 0x0 credit 64"
        )),
        "{text}"
    );
    assert!(
        !text.lines().any(|l| l.starts_with("5  ")),
        "not ours: {text}"
    );
    assert!(header(6).starts_with("6  [fd00::1]:6974 > [fd00::2]:6974  tandem-repl"));
    assert!(
        lines.contains(
            &"6.1  FLOW_UPD slot 5 gen 1 of tcp 192.0.2.254:40000 -> 192.0.2.100:80 state time_wait status assured,confirmed lifetime 120000ms"
        ),
        "{text}"
    );
    assert!(
        lines.contains(&"6.2  FLOW_DEL slot 6 gen 1 of udp [fd00::10]:5353 -> [fd00::20]:53"),
        "{text}"
    );
    assert!(
        header(7).ends_with("-- replayed: sequence number 2 was already accepted in this stream (or is older than the replay window)"),
        "{}",
        header(7)
    );
    assert_eq!(text.matches(" -- ").count(), 1, "{text}");

    let json = json_lines(&decode(&pcap, &["--replication-key", key_arg, "--json"]));
    assert_eq!(json.len(), 6, "5 frames of ours and the advert");
    let f = &json[1];
    assert_eq!(f["n"], 2);
    assert_eq!(f["proto"], "tandem-replication");
    assert_eq!(
        (f["src"].as_str(), f["src_port"].as_u64()),
        (Some("198.51.100.1"), Some(6974))
    );
    assert_eq!(
        (
            f["cluster"].as_u64(),
            f["node"].as_u64(),
            f["stream"].as_u64()
        ),
        (Some(7), Some(1), Some(0))
    );
    assert_eq!(f["key_id"], kid);
    assert_eq!(f["boot"], format!("{BOOT1:016x}"));
    assert_eq!(f["seq"], 2);
    assert_eq!(
        f["flags"],
        serde_json::json!(["encrypted", "ack-requested"])
    );
    assert_eq!(f["seal"], "opened");
    assert_eq!(f["authenticated"], true);
    assert_eq!(f["ttl_ok"], true);
    assert_eq!(f["sections"][0]["type"], "flow4");
    let r = &f["records"][0];
    assert_eq!(
        (r["section"].as_str(), r["slot"].as_u64()),
        (Some("flow4"), Some(5))
    );
    let flow = &r["flow"];
    assert_eq!(flow["proto"], "tcp");
    assert_eq!(flow["original"]["src"], "192.0.2.254");
    assert_eq!(flow["original"]["dst_port"], 80);
    assert_eq!(flow["reply"]["src"], "198.51.100.10");
    assert_eq!(flow["reply"]["src_port"], 8080);
    assert_eq!(flow["nat"], "dnat");
    assert_eq!(flow["state"], "established");
    assert_eq!(flow["lifetime_ms"], 431_999_000);
    assert_eq!(flow["backend"], 2);
    assert_eq!(f["records"][2]["key"]["prefix"], 24);
    assert_eq!(json[2]["proto"], "vrrp3");
    assert_eq!(json[3]["records"][0]["cumulative"], 2);
    assert_eq!(json[5]["replayed"], true);
}

#[test]
fn without_a_key_the_header_shows_and_the_payload_stays_sealed() {
    let (_, psk) = keygen("key-b");
    let pcap = exchange(&psk);
    let text = stdout(&decode(&pcap, &[]));
    let first = text.lines().next().unwrap();
    assert_eq!(
        first,
        format!("1  198.51.100.1:6974 > 198.51.100.2:6974  tandem-repl v1.0 cluster 7 node 1 stream 0 key {} boot {BOOT1:016x} seq 1 flags encrypted len 40 sealed (give --replication-key to open) ttl 255", psk.key_id())
    );
    assert!(!text.contains("FLOW4"), "{text}");
    assert!(!text.contains(" -- "), "no problem without a key: {text}");
    let json = json_lines(&decode(&pcap, &["--json"]));
    assert_eq!(json[0]["seal"], "sealed");
    assert_eq!(json[0]["authenticated"], Value::Null);
    assert_eq!(json[0]["records"], Value::Null);
    assert_eq!(json[0]["payload_len"], 40);
    assert_eq!(json[5]["replayed"], false, "not known without opening");
}

#[test]
fn a_wrong_key_says_authentication_failed() {
    let (_, right) = keygen("key-c");
    let (wrong, wrong_psk) = keygen("key-d");
    let pcap = exchange(&right);
    let text = stdout(&decode(
        &pcap,
        &["--replication-key", wrong.to_str().unwrap()],
    ));
    let first = text.lines().next().unwrap();
    assert!(
        first.contains("seq 1 flags encrypted len 40 not opened ttl 255 -- authentication failed"),
        "{first}"
    );
    if right.key_id() != wrong_psk.key_id() {
        assert!(
            first.contains(&format!("sealed with key id {}", right.key_id())),
            "{first}"
        );
    }
    assert!(!text.contains("FLOW4"), "{text}");
    let json = json_lines(&decode(
        &pcap,
        &["--replication-key", wrong.to_str().unwrap(), "--json"],
    ));
    assert_eq!(json[0]["authenticated"], false);
    assert!(json[0]["problems"][0]
        .as_str()
        .unwrap()
        .starts_with("authentication failed"));
    // The same key id and other bytes: the tag fails.
    let mut forged = right.0;
    forged[0] ^= 1;
    let forged = Psk::from_bytes(forged);
    let ring = KeyRing::new(7, &forged, None).unwrap();
    let one = frame(
        &ring,
        1,
        BOOT1,
        1,
        0,
        &[Record::Heartbeat {
            highest_seq: 1,
            live: 0,
        }],
    );
    let mut bytes = one.clone();
    bytes[12] = right.key_id(); // claim the right key's id
    let pcap = write_pcap(
        "forged.pcap",
        &[udp_frame(
            "198.51.100.1:6974".parse().unwrap(),
            "198.51.100.2:6974".parse().unwrap(),
            &bytes,
        )],
    );
    let right_path = tmp("key-c");
    let json = json_lines(&decode(
        &pcap,
        &["--replication-key", right_path.to_str().unwrap(), "--json"],
    ));
    assert_eq!(json[0]["seal"], "bad-tag");
    assert_eq!(json[0]["seq"], 1, "the header is still shown");
    assert!(json[0]["problems"][0]
        .as_str()
        .unwrap()
        .contains("the tag does not verify"));
}

#[test]
fn a_bad_key_file_is_refused() {
    let path = tmp("not-a-key");
    std::fs::write(&path, "hello\n").unwrap();
    let pcap = ctd_vector("conntrackd-ftfw.pcap");
    let o = decode(&pcap, &["--replication-key", path.to_str().unwrap()]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("not a replication key file"), "{err}");
}

// ---- A real link: two tandemd units (tests/vectors/README.md) -----------

fn real(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors")
        .join(name)
}

fn all_records(frames: &[Value]) -> Vec<(&Value, &Value)> {
    frames
        .iter()
        .flat_map(|f| {
            f["records"]
                .as_array()
                .into_iter()
                .flatten()
                .map(move |r| (f, r))
        })
        .collect()
}

#[test]
fn a_real_link_decodes_frame_by_frame() {
    let pcap = real("tandem-replication.pcap");
    let key = real("tandem-replication.key");
    let frames = json_lines(&decode(
        &pcap,
        &["--replication-key", key.to_str().unwrap(), "--json"],
    ));
    assert!(frames.len() > 100, "{} frames", frames.len());
    for f in &frames {
        assert_eq!(f["proto"], "tandem-replication", "{f}");
        assert_eq!(f["seal"], "opened", "{f}");
        assert_eq!(f["problems"], Value::Array(vec![]), "{f}");
        assert_eq!(
            (f["cluster"].as_u64(), f["ttl"].as_u64()),
            (Some(7), Some(255)),
            "{f}"
        );
        let node = f["node"].as_u64().unwrap();
        assert_eq!(f["src"], format!("198.51.100.{node}"), "{f}");
        assert_eq!(f["src_port"], 6974);
    }
    // Each sender's sequence numbers go up by one from 1.
    for node in [1, 2] {
        let seqs: Vec<u64> = frames
            .iter()
            .filter(|f| f["node"] == node)
            .map(|f| f["seq"].as_u64().unwrap())
            .collect();
        assert_eq!(
            seqs,
            (1..=seqs.len() as u64).collect::<Vec<_>>(),
            "node {node}"
        );
    }
    let records = all_records(&frames);
    let roles: Vec<(u64, &str)> = records
        .iter()
        .filter(|(_, r)| r["section"] == "hello")
        .map(|(f, r)| (f["node"].as_u64().unwrap(), r["role"].as_str().unwrap()))
        .collect();
    assert!(
        roles.contains(&(1, "active")) && roles.contains(&(2, "backup")),
        "{roles:?}"
    );
    assert!(!roles.contains(&(2, "active")), "{roles:?}");
    // The flows node 1 streamed, by their original source.
    let flow = |src: &str, section: &str| -> (u64, Value) {
        let (_, r) = records
            .iter()
            .find(|(f, r)| {
                f["node"] == 1 && r["section"] == section && r["flow"]["original"]["src"] == src
            })
            .unwrap_or_else(|| panic!("no {section} flow from {src}"));
        (r["slot"].as_u64().unwrap(), r["flow"].clone())
    };
    let (_, dnat) = flow("192.0.2.254", "flow4");
    assert_eq!(dnat["proto"], "tcp");
    assert_eq!(dnat["original"]["dst"], "192.0.2.100");
    assert_eq!(dnat["original"]["dst_port"], 80);
    assert_eq!(dnat["reply"]["src"], "198.51.100.10");
    assert_eq!(dnat["reply"]["src_port"], 8080);
    assert_eq!(dnat["nat"], "dnat");
    assert_eq!(dnat["state"], "established");
    let life = dnat["lifetime_ms"].as_u64().unwrap();
    assert!((431_990_000..=431_999_000).contains(&life), "{life}");
    let (_, marked) = flow("192.0.2.254", "flow4x");
    assert_eq!(marked["mark"], 7, "the update set mark 7");
    let (udp_slot, udp) = flow("192.0.2.11", "flow4");
    assert_eq!(
        (udp["proto"].as_str(), udp["state"].as_str()),
        (Some("udp"), None)
    );
    assert_eq!(udp["original"]["dst_port"], 53);
    let (_, icmp) = flow("192.0.2.12", "flow4");
    assert_eq!(icmp["original"]["icmp_type"], 8);
    assert_eq!(icmp["original"]["icmp_id"], 4660);
    assert_eq!(icmp["reply"]["icmp_type"], 0);
    let (v6_slot, v6) = flow("fd00::10", "flow6");
    assert_eq!(v6["original"]["dst_port"], 443);
    assert_eq!(v6["nat"], Value::Null);
    let (_, snat) = flow("192.0.2.14", "flow4");
    assert_eq!(snat["nat"], "snat");
    assert_eq!(snat["reply"]["dst"], "203.0.113.1");
    assert_eq!(snat["reply"]["dst_port"], 61000);
    assert_eq!(snat["state"], "syn_sent");
    // The two deletes name the deleted flows' slots.
    let deleted: Vec<u64> = records
        .iter()
        .filter(|(_, r)| r["section"] == "flow_del")
        .map(|(_, r)| r["slot"].as_u64().unwrap())
        .collect();
    assert_eq!(deleted, [udp_slot, v6_slot]);
    let named: Vec<&Value> = records
        .iter()
        .filter(|(_, r)| r["section"] == "flow_del")
        .map(|(_, r)| &r["of"]["original"]["src"])
        .collect();
    assert_eq!(
        named,
        ["192.0.2.11", "fd00::10"],
        "each delete names its flow"
    );
    // Node 2 acknowledged node 1's stream up to the last delete at least.
    let acked = records
        .iter()
        .filter(|(f, r)| f["node"] == 2 && r["section"] == "ack")
        .filter_map(|(_, r)| r["cumulative"].as_u64())
        .max()
        .unwrap();
    let last_delete = records
        .iter()
        .filter(|(_, r)| r["section"] == "flow_del")
        .filter_map(|(f, _)| f["seq"].as_u64())
        .max()
        .unwrap();
    assert!(
        acked >= last_delete,
        "acked {acked}, last delete in {last_delete}"
    );

    // Text: the same, line by line.
    let text = stdout(&decode(
        &pcap,
        &["--replication-key", key.to_str().unwrap()],
    ));
    assert!(text.lines().any(|l| l.contains(
        "FLOW4 slot 0 gen 0 tcp 192.0.2.254:40000 -> 192.0.2.100:80 reply 198.51.100.10:8080 -> 192.0.2.254:40000 (dnat) state established"
    )), "{text}");
    assert!(!text.contains(" -- "));

    // No key: every header, nothing opened; another key: refused.
    let sealed = json_lines(&decode(&pcap, &["--json"]));
    assert_eq!(sealed.len(), frames.len());
    assert!(sealed
        .iter()
        .all(|f| f["seal"] == "sealed" && f["records"].is_null()));
    assert_eq!(sealed[5]["seq"], frames[5]["seq"]);
    let (other, _) = keygen("key-real-other");
    let refused = json_lines(&decode(
        &pcap,
        &["--replication-key", other.to_str().unwrap(), "--json"],
    ));
    assert!(
        refused.iter().all(|f| f["authenticated"] == false),
        "{:?}",
        refused[0]
    );
}
