//! `tandemd decode` end to end: the built binary on every bundled capture
//! of keepalived, FRRouting and ucarp, compared field by field with the
//! decode recorded beside each capture; then captures written here to show
//! each failure an operator must be told about.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use tandem_wire::build::Advert;
use tandem_wire::frame;

const TANDEMD: &str = env!("CARGO_BIN_EXE_tandemd");

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tandem-wire/tests/vectors")
}

fn tandemd(file: &Path, extra: &[String]) -> Output {
    let mut args: Vec<OsString> = vec!["decode".into(), file.into()];
    args.extend(extra.iter().map(OsString::from));
    Command::new(TANDEMD)
        .args(&args)
        .output()
        .expect("run tandemd")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("UTF-8 output")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json_lines(o: &Output) -> Vec<Value> {
    stdout(o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// Every capture in the vectors directory and its `extra/`, with the JSON
/// beside it (captures whose JSON is not written yet are left out).
fn captures() -> Vec<(PathBuf, Value)> {
    let mut out = Vec::new();
    for dir in [vectors(), vectors().join("extra")] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("directory entry").path())
            .filter(|p| {
                matches!(
                    p.extension().and_then(|e| e.to_str()),
                    Some("pcap" | "pcapng")
                )
            })
            .collect();
        files.sort();
        for pcap in files {
            let json = pcap.with_extension("json");
            match std::fs::read_to_string(&json) {
                Ok(text) => {
                    let v = serde_json::from_str(&text)
                        .unwrap_or_else(|e| panic!("{}: {e}", json.display()));
                    out.push((pcap, v));
                }
                Err(_) => eprintln!("{}: no JSON beside it yet, skipped", pcap.display()),
            }
        }
    }
    out
}

/// The value of `--name=V` or `--name V` (or the short form) in a
/// command line.
fn flag(command: &str, long: &str, short: &str) -> Option<String> {
    let words: Vec<&str> = command.split_whitespace().collect();
    words.iter().enumerate().find_map(|(i, w)| {
        if let Some(v) = w.strip_prefix(&format!("{long}=")) {
            Some(v.to_owned())
        } else if *w == long || *w == short {
            words.get(i + 1).map(|v| (*v).to_owned())
        } else {
            None
        }
    })
}

/// `--password` and `--carp-address` from the settings that produced a
/// capture: ucarp's `--pass` and `--addr`, keepalived's `auth_pass`.
fn secrets(vector: &Value) -> Vec<String> {
    let producer = &vector["producer"];
    let mut commands: Vec<&str> = Vec::new();
    if let Some(c) = producer["commands"].as_object() {
        commands.extend(c.values().filter_map(Value::as_str));
    }
    if let Some(c) = producer["command"].as_str() {
        commands.push(c);
    }
    let mut password = commands.iter().find_map(|c| flag(c, "--pass", "-p"));
    let addresses: BTreeSet<String> = commands
        .iter()
        .filter_map(|c| flag(c, "--addr", "-a"))
        .collect();
    if let Some(configs) = producer["configs"].as_object() {
        for text in configs.values().filter_map(Value::as_str) {
            for line in text.lines() {
                let mut words = line.split_whitespace();
                if words.next() == Some("auth_pass") {
                    password = password.or(words.next().map(str::to_owned));
                }
            }
        }
    }
    let mut args = Vec::new();
    if let Some(p) = password {
        args.extend(["--password".to_owned(), p]);
    }
    for a in addresses {
        args.extend(["--carp-address".to_owned(), a]);
    }
    args
}

fn is_advert(p: &Value) -> bool {
    matches!(p["kind"].as_str(), Some("vrrp" | "carp" | "ipsec-ah+vrrp"))
}

/// The fields `tandemd decode --json` must print for a recorded packet,
/// derived from the recorded decode alone.
fn expected(p: &Value) -> Vec<(&'static str, Value)> {
    let ip = &p["ip"];
    let ttl = ip["ttl_or_hop_limit"].as_u64().expect("ttl");
    let v4 = ip["family"] == "ipv4";
    let mut e = vec![
        ("n", p["frame"].clone()),
        ("family", ip["family"].clone()),
        ("src", ip["src"].clone()),
        ("dst", ip["dst"].clone()),
        ("ttl", ttl.into()),
        ("ttl_ok", (ttl == 255).into()),
        ("error", Value::Null),
    ];
    for key in ["eth_src", "eth_dst"] {
        if !p[key].is_null() {
            e.push((key, p[key].clone()));
        }
    }
    if p["kind"] == "carp" {
        let c = &p["carp"];
        let (base, skew) = (
            c["advbase"].as_u64().expect("advbase"),
            c["advskew"].as_u64().expect("advskew"),
        );
        assert_eq!(p["checks"]["carp_hmac_sha1"]["match"], true);
        e.extend([
            ("proto", "carp".into()),
            ("vrid", c["vhid"].clone()),
            ("advbase", base.into()),
            ("advskew", skew.into()),
            ("demotion", c["demotion_or_reserved"].clone()),
            ("counter", c["counter_hex"].clone()),
            ("counter_dec", c["counter"].clone()),
            ("interval_cs", (base * 100 + skew * 100 / 256).into()),
            ("addresses", Value::Array(vec![])),
            (
                "checksum_ok",
                p["checks"]["carp_checksum_message_only"].clone(),
            ),
            ("checksum_mode", Value::Null),
            ("hmac_ok", true.into()),
        ]);
        return e;
    }
    let v = &p["vrrp"];
    let version = v["version"].as_u64().expect("version");
    let matches: Vec<&str> = p["checks"]["vrrp_checksum"]["matches"]
        .as_array()
        .expect("checksum matches")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let (checksum_ok, mode) = match (version, v4) {
        (2, _) => (matches.contains(&"message_only"), None),
        (_, false) => (matches.contains(&"with_pseudo_header"), None),
        (_, true) => {
            let mode = matches.first().map(|m| match *m {
                "message_only" => "rfc9568",
                "with_pseudo_header" => "ipv4-pseudo-header",
                "with_pseudo_header_group_dst" => "ipv4-pseudo-header-group-dst",
                other => panic!("unknown checksum coverage {other}"),
            });
            (mode.is_some(), mode)
        }
    };
    e.extend([
        ("proto", format!("vrrp{version}").into()),
        ("vrid", v["vrid"].clone()),
        ("priority", v["priority"].clone()),
        ("addresses", v["addresses"].clone()),
        ("checksum_ok", checksum_ok.into()),
        ("checksum_mode", mode.into()),
    ]);
    if version == 3 {
        e.push(("interval_cs", v["max_adver_int_centiseconds"].clone()));
    } else {
        let s = v["adver_int_seconds"].as_u64().expect("adver_int");
        e.extend([
            ("interval_cs", (s * 100).into()),
            ("auth_type", v["auth_type"].clone()),
            ("auth_data", v["auth_data_hex"].clone()),
        ]);
        if v["auth_type"] == 1 {
            e.push(("auth_string", v["auth_string"].clone()));
        }
    }
    if p["kind"] == "ipsec-ah+vrrp" {
        let ah = &p["ah"];
        let spi = ah["spi"].as_str().expect("spi").trim_start_matches("0x");
        assert_eq!(p["checks"]["ah_icv_hmac_md5_96"]["match"], true);
        e.extend([
            (
                "ah_spi",
                u32::from_str_radix(spi, 16).expect("hex SPI").into(),
            ),
            ("ah_seq", ah["sequence"].clone()),
            ("ah_icv_ok", true.into()),
        ]);
    }
    e
}

#[test]
fn every_vector_decodes_to_its_recorded_fields() {
    let captures = captures();
    assert!(
        captures.len() >= 20,
        "only {} vectors found",
        captures.len()
    );
    let mut wrong = Vec::new();
    for (pcap, vector) in &captures {
        let name = pcap.file_name().unwrap_or_default().to_string_lossy();
        let mut args = secrets(vector);
        args.push("--json".to_owned());
        let out = tandemd(pcap, &args);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        let lines = json_lines(&out);
        let packets: Vec<&Value> = vector["packets"]
            .as_array()
            .expect("packets")
            .iter()
            .filter(|p| is_advert(p))
            .collect();
        let printed: Vec<u64> = lines.iter().filter_map(|l| l["n"].as_u64()).collect();
        let recorded: Vec<u64> = packets.iter().filter_map(|p| p["frame"].as_u64()).collect();
        assert_eq!(printed, recorded, "{name}: frames printed");
        for (line, packet) in lines.iter().zip(&packets) {
            for (key, want) in expected(packet) {
                if line[key] != want {
                    wrong.push(format!(
                        "{name} frame {}: {key} is {}, recorded {want}",
                        packet["frame"], line[key]
                    ));
                }
            }
            let problems = line["problems"].as_array().expect("problems");
            let ttl_ok = line["ttl_ok"] == true;
            if problems.len() != usize::from(!ttl_ok) {
                wrong.push(format!(
                    "{name} frame {}: problems {problems:?}",
                    packet["frame"]
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn without_secrets_authentication_is_unchecked_and_text_lines_match() {
    for (pcap, vector) in captures() {
        let name = pcap
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let adverts = vector["packets"]
            .as_array()
            .expect("packets")
            .iter()
            .filter(|p| is_advert(p))
            .count();
        let out = tandemd(&pcap, &["--json".to_owned()]);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        for line in json_lines(&out) {
            match line["proto"].as_str() {
                Some("carp") => assert_eq!(line["hmac_ok"], Value::Null, "{name}"),
                _ if line.get("ah_spi").is_some() => {
                    assert_eq!(line["ah_icv_ok"], Value::Null, "{name}")
                }
                _ => assert!(line.get("hmac_ok").is_none(), "{name}"),
            }
        }
        let out = tandemd(&pcap, &[]);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        let text = stdout(&out);
        assert_eq!(text.lines().count(), adverts, "{name}:\n{text}");
        assert!(!text.contains("malformed"), "{name}:\n{text}");
    }
}

#[test]
fn wrong_password_or_address_fails_the_carp_hmac() {
    let pcap = vectors().join("ucarp-ipv4-pass.pcap");
    for args in [
        ["--password", "carpkey2", "--carp-address", "192.0.2.130"],
        ["--password", "carpkey1", "--carp-address", "192.0.2.131"],
    ] {
        let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
        let mut json = args.clone();
        json.push("--json".to_owned());
        let out = tandemd(&pcap, &json);
        assert!(out.status.success());
        let lines = json_lines(&out);
        assert_eq!(lines.len(), 4);
        for l in &lines {
            assert_eq!(l["hmac_ok"], false, "{l}");
            assert_eq!(l["error"], Value::Null, "a bad HMAC is not a decode error");
            assert_eq!(l["vrid"], 10, "the fields are still decoded");
        }
        let text = stdout(&tandemd(&pcap, &args));
        for line in text.lines() {
            assert!(
                line.contains("hmac bad")
                    && line.ends_with("-- bad HMAC: check vhid, password and virtual addresses"),
                "{line}"
            );
        }
    }
    // With the right ones the line says so and has no problem.
    let args = ["--password", "carpkey1", "--carp-address", "192.0.2.130"].map(String::from);
    let text = stdout(&tandemd(&pcap, &args));
    let first = text.lines().next().expect("a line");
    assert_eq!(
        first,
        "1  192.0.2.1 -> 224.0.0.18  CARP vhid 10 advbase 1 advskew 0 demote 0 counter 16b314167d8a6fbe hmac ok int 1.00s cksum ok ttl 255"
    );
}

#[test]
fn wrong_password_fails_the_ah_icv() {
    let pcap = vectors().join("ka-v2-ipv4-auth-ah.pcap");
    let out = tandemd(&pcap, &["--password", "ahkey2", "--json"].map(String::from));
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 4);
    for l in &lines {
        assert_eq!(l["ah_icv_ok"], false, "{l}");
        assert_eq!(l["auth_type"], 2);
    }
    let text = stdout(&tandemd(&pcap, &["--password", "ahkey2"].map(String::from)));
    assert!(
        text.lines()
            .all(|l| l.ends_with("-- bad IPsec-AH ICV: check the password (auth_pass)")),
        "{text}"
    );
}

/// A little-endian classic pcap file of `link_type` holding `frames`.
fn pcap(link_type: u32, frames: &[Vec<u8>]) -> Vec<u8> {
    let mut f = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
    f.extend_from_slice(&[0; 8]);
    f.extend_from_slice(&262_144u32.to_le_bytes());
    f.extend_from_slice(&link_type.to_le_bytes());
    for (i, data) in frames.iter().enumerate() {
        let len = u32::try_from(data.len()).expect("frame length");
        f.extend_from_slice(&(1_700_000_000 + i as u32).to_le_bytes());
        f.extend_from_slice(&0u32.to_le_bytes());
        f.extend_from_slice(&len.to_le_bytes());
        f.extend_from_slice(&len.to_le_bytes());
        f.extend_from_slice(data);
    }
    f
}

/// A little-endian pcapng block of `kind` with `body` (padded to 4 bytes).
fn block(kind: u32, body: &[u8]) -> Vec<u8> {
    let mut body = body.to_vec();
    while body.len() % 4 != 0 {
        body.push(0);
    }
    let len = u32::try_from(body.len() + 12).expect("block length");
    let mut b = kind.to_le_bytes().to_vec();
    b.extend_from_slice(&len.to_le_bytes());
    b.extend_from_slice(&body);
    b.extend_from_slice(&len.to_le_bytes());
    b
}

/// A pcapng file: a section header, one interface per link type, then an
/// enhanced packet block per `(interface, frame)`.
fn pcapng(link_types: &[u16], frames: &[(u32, Vec<u8>)]) -> Vec<u8> {
    let mut shb = 0x1a2b_3c4du32.to_le_bytes().to_vec();
    shb.extend_from_slice(&[1, 0, 0, 0]); // version 1.0
    shb.extend_from_slice(&(-1i64).to_le_bytes()); // section length unknown
    let mut f = block(0x0a0d_0d0a, &shb);
    for lt in link_types {
        let mut idb = lt.to_le_bytes().to_vec();
        idb.extend_from_slice(&[0, 0]);
        idb.extend_from_slice(&0u32.to_le_bytes()); // snap length: none
        f.extend(block(1, &idb));
    }
    for (iface, data) in frames {
        let len = u32::try_from(data.len()).expect("frame length");
        let mut epb = iface.to_le_bytes().to_vec();
        epb.extend_from_slice(&[0; 8]); // timestamp
        epb.extend_from_slice(&len.to_le_bytes());
        epb.extend_from_slice(&len.to_le_bytes());
        epb.extend_from_slice(data);
        f.extend(block(6, &epb));
    }
    f
}

fn write_capture(name: &str, bytes: &[u8]) -> PathBuf {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, bytes).expect("write capture");
    path
}

fn v4(s: &str) -> IpAddr {
    s.parse().expect("address")
}

#[test]
fn ttl_64_means_the_sender_is_not_on_this_link() {
    let advert = Advert::vrrp3(61, [v4("192.0.2.61")]).ttl(64);
    let path = write_capture("ttl64.pcap", &pcap(1, &[advert.ethernet_frame()]));
    let text = stdout(&tandemd(&path, &[]));
    assert!(
        text.trim_end()
            .ends_with("ttl 64 -- TTL 64: sender is not on this link"),
        "{text}"
    );
    let lines = json_lines(&tandemd(&path, &["--json".to_owned()]));
    assert_eq!(lines[0]["ttl"], 64);
    assert_eq!(lines[0]["ttl_ok"], false);
    assert_eq!(lines[0]["checksum_ok"], true);
    assert_eq!(lines[0]["error"], Value::Null);
}

#[test]
fn a_corrupted_checksum_is_reported_with_the_fields() {
    let vip = v4("192.0.2.61");
    let mut frames = vec![
        Advert::vrrp3(61, [vip]).priority(150).ethernet_frame(),
        Advert::vrrp2(7, [vip]).ethernet_frame(),
        Advert::carp(10, b"pw", [vip]).ethernet_frame(),
        Advert::vrrp3(62, ["fd00::62".parse().expect("v6")]).ethernet_frame(),
    ];
    for f in &mut frames {
        // The checksum field: Ethernet 14 + IP header + 6.
        let at = 14 + if f[12..14] == [0x86, 0xdd] { 40 } else { 20 } + 7;
        f[at] ^= 0x01;
    }
    let path = write_capture("bad-checksum.pcap", &pcap(1, &frames));
    let lines = json_lines(&tandemd(&path, &["--json".to_owned()]));
    assert_eq!(lines.len(), 4);
    for (l, (proto, vrid)) in
        lines
            .iter()
            .zip([("vrrp3", 61), ("vrrp2", 7), ("carp", 10), ("vrrp3", 62)])
    {
        assert_eq!(l["proto"], proto, "{l}");
        assert_eq!(l["vrid"], vrid, "{l}");
        assert_eq!(l["checksum_ok"], false, "{l}");
        assert_eq!(l["checksum_mode"], Value::Null, "{l}");
        assert_eq!(l["error"], Value::Null, "{l}");
    }
    let text = stdout(&tandemd(&path, &[]));
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].contains("VRRPv3 vrid 61 prio 150"), "{text}");
    assert!(
        lines[0].contains("cksum bad ttl 255 -- bad checksum: computed 0x")
            && lines[0].contains("(ipv4-pseudo-header) or 0x")
            && lines[0].contains("(rfc9568), found 0x"),
        "{text}"
    );
    for l in &lines[1..] {
        assert!(
            l.contains("-- bad checksum: computed 0x") && l.contains(", found 0x"),
            "{l}"
        );
    }
}

#[test]
fn malformed_packets_get_a_line_with_what_is_known() {
    let vip = v4("192.0.2.61");
    // Count 2, one address: the message is cut short.
    let mut bad_count = Advert::vrrp3(61, [vip]).ethernet_frame();
    bad_count[14 + 20 + 3] = 2;
    // Version 5: neither VRRP nor CARP.
    let mut bad_version = Advert::vrrp3(61, [vip]).ethernet_frame();
    bad_version[14 + 20] = 0x51;
    let path = write_capture("malformed.pcap", &pcap(1, &[bad_count, bad_version]));
    let out = tandemd(&path, &["--json".to_owned()]);
    assert!(out.status.success());
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["proto"], "vrrp3");
    assert_eq!(lines[0]["src"], "192.0.2.1");
    assert_eq!(lines[0]["dst"], "224.0.0.18");
    assert_eq!(lines[0]["ttl"], 255);
    assert_eq!(lines[0]["vrid"], Value::Null);
    assert_eq!(lines[0]["error"], "truncated: need 16 bytes, got 12");
    assert_eq!(lines[1]["proto"], Value::Null);
    assert_eq!(lines[1]["src"], "192.0.2.1");
    assert_eq!(
        lines[1]["error"],
        "unknown protocol-112 version 5: neither VRRPv2, VRRPv3 nor CARP"
    );
    let text = stdout(&tandemd(&path, &[]));
    assert!(
        text.contains("VRRPv3 ttl 255 -- malformed VRRPv3: truncated: need 16 bytes, got 12"),
        "{text}"
    );
}

#[test]
fn other_frames_are_counted_but_not_printed() {
    let mac = [2, 0, 0, 0, 0, 1];
    let frames = vec![
        frame::gratuitous_arp(mac, "192.0.2.61".parse().expect("v4")).to_vec(),
        frame::unsolicited_na(mac, "fd00::61".parse().expect("v6"), false),
        Advert::vrrp3(61, [v4("192.0.2.61")]).ethernet_frame(),
    ];
    let path = write_capture("mixed.pcap", &pcap(1, &frames));
    let lines = json_lines(&tandemd(&path, &["--json".to_owned()]));
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["n"], 3);
    assert_eq!(lines[0]["eth_src"], "02:00:00:00:00:01");
    assert_eq!(lines[0]["eth_dst"], "01:00:5e:00:00:12");
}

#[test]
fn raw_ip_link_types_are_read() {
    let v4_packet = Advert::vrrp3(61, [v4("192.0.2.61")]).ip_packet();
    let v6_packet = Advert::vrrp3(62, ["fd00::62".parse().expect("v6")]).ip_packet();
    for (link, frames) in [
        (101, vec![v4_packet.clone(), v6_packet.clone()]),
        (228, vec![v4_packet.clone()]),
        (229, vec![v6_packet.clone()]),
    ] {
        let path = write_capture(&format!("raw-{link}.pcap"), &pcap(link, &frames));
        let out = tandemd(&path, &["--json".to_owned()]);
        assert!(out.status.success(), "{}", stderr(&out));
        let lines = json_lines(&out);
        assert_eq!(lines.len(), frames.len(), "link type {link}");
        for l in &lines {
            assert_eq!(l["checksum_ok"], true, "{l}");
            assert!(l.get("eth_src").is_none(), "{l}");
        }
    }
}

#[test]
fn pcapng_interfaces_carry_their_link_types() {
    let eth = Advert::vrrp3(61, [v4("192.0.2.61")]).ethernet_frame();
    let raw = Advert::vrrp3(62, [v4("192.0.2.62")]).ip_packet();
    let path = write_capture(
        "two-interfaces.pcapng",
        &pcapng(&[1, 101], &[(0, eth.clone()), (1, raw)]),
    );
    let out = tandemd(&path, &["--json".to_owned()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 2);
    assert_eq!(
        (lines[0]["n"].clone(), lines[0]["vrid"].clone()),
        (1.into(), 61.into())
    );
    assert_eq!(
        (lines[1]["n"].clone(), lines[1]["vrid"].clone()),
        (2.into(), 62.into())
    );

    // An interface of a link type this tool cannot read: the frames before
    // it are printed, then the error.
    let path = write_capture(
        "wifi-interface.pcapng",
        &pcapng(&[1, 105], &[(0, eth.clone()), (1, eth)]),
    );
    let out = tandemd(&path, &[]);
    assert!(!out.status.success());
    assert_eq!(stdout(&out).lines().count(), 1);
    assert!(
        stderr(&out).contains("unsupported link type 105 on pcapng interface 1"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn unknown_link_type_is_named() {
    let path = write_capture("wifi.pcap", &pcap(105, &[vec![0; 40]]));
    let out = tandemd(&path, &[]);
    assert!(!out.status.success());
    assert!(stdout(&out).is_empty());
    let err = stderr(&out);
    assert!(err.contains("unsupported link type 105"), "{err}");
    assert!(err.contains("ETHERNET (1)"), "{err}");
}

#[test]
fn garbage_is_not_a_capture() {
    for (name, bytes) in [
        ("garbage.pcap", &b"this is not a capture file at all\n"[..]),
        ("empty.pcap", &b""[..]),
    ] {
        let path = write_capture(name, bytes);
        let out = tandemd(&path, &[]);
        assert!(!out.status.success(), "{name}");
        assert!(stdout(&out).is_empty(), "{name}");
        let err = stderr(&out);
        assert!(err.contains("not a capture file"), "{name}: {err}");
        assert!(!err.contains("panicked"), "{name}: {err}");
    }
    let out = tandemd(Path::new("/nonexistent/capture.pcap"), &[]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("cannot read"), "{}", stderr(&out));
}

/// Only regular files are read: `/dev/zero` is refused at once rather
/// than read until memory runs out, and a FIFO without a writer is not
/// waited on.
#[test]
fn devices_and_fifos_are_refused_at_once() {
    let out = tandemd(Path::new("/dev/zero"), &[]);
    assert!(!out.status.success());
    assert_eq!(
        stderr(&out),
        "tandemd decode: /dev/zero: cannot read /dev/zero: it is a character device, not a regular file\n"
    );
    let fifo = std::env::temp_dir().join(format!("tandem-decode-fifo-{}", std::process::id()));
    let _ = std::fs::remove_file(&fifo);
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo")
        .success());
    let out = tandemd(&fifo, &[]);
    std::fs::remove_file(&fifo).expect("remove the FIFO");
    assert!(!out.status.success());
    assert!(
        stderr(&out).ends_with("it is a FIFO, not a regular file\n"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn truncated_files_print_what_precedes_the_cut() {
    let whole = std::fs::read(vectors().join("ka-v3-preempt.pcap")).expect("vector");
    // Cut inside the last frame: the 17 frames before it remain.
    let path = write_capture("cut.pcap", &whole[..whole.len() - 10]);
    let out = tandemd(&path, &["--json".to_owned()]);
    assert!(!out.status.success());
    let lines = json_lines(&out);
    assert_eq!(lines.last().expect("lines")["n"], 17);
    let err = stderr(&out);
    assert!(
        err.contains("truncated pcap file: it ends inside the record after frame 17"),
        "{err}"
    );
    // A file header cut short.
    let path = write_capture("cut-header.pcap", &whole[..12]);
    let out = tandemd(&path, &[]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("damaged pcap file header"),
        "{}",
        stderr(&out)
    );
    // Every cut of a pcapng file is an error or a clean end, never a panic.
    let ng = std::fs::read(vectors().join("extra/ka-v3-ipv6-pcapng.pcapng"));
    if let Ok(ng) = ng {
        for n in (0..ng.len()).step_by(7) {
            let path = write_capture("cut.pcapng", &ng[..n]);
            let out = tandemd(&path, &[]);
            assert!(
                !stderr(&out).contains("panicked"),
                "cut at {n}: {}",
                stderr(&out)
            );
        }
    }
}
