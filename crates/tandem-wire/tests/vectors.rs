//! Golden vectors: captures of keepalived, FRRouting and ucarp (see
//! tests/vectors/README.md and tests/vectors/extra/README.md). Every
//! advertisement decodes to exactly the fields recorded beside the capture
//! (decoded independently, by Wireshark), its checksum matches the coverage
//! recorded there, CARP HMACs and keepalived AH ICVs verify with the
//! recorded password, and re-encoding gives the same message bytes.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use bytes::BytesMut;
use serde_json::Value;
use tandem_wire::frame::{self, Found};
use tandem_wire::{carp, vrrp2, vrrp3, Checksum, ChecksumMode, Kind, Vrid};

fn vector_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors");
    let mut files = Vec::new();
    for d in [dir.clone(), dir.join("extra")] {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "json") {
                files.push(p);
            }
        }
    }
    files.sort();
    files
}

fn parse_frame(link_type: u64, bytes: &[u8]) -> Found<'_> {
    match link_type {
        1 => frame::parse_ethernet(bytes),
        113 => frame::parse_linux_sll(bytes),
        276 => frame::parse_linux_sll2(bytes),
        _ => frame::parse_ip(bytes),
    }
    .unwrap_or_else(|e| panic!("frame does not parse: {e}"))
}

fn ip(v: &Value) -> IpAddr {
    v.as_str().unwrap().parse().unwrap()
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// Checks one advertisement; returns its kind.
fn check_packet(name: &str, link_type: u64, p: &Value) -> Kind {
    let n = u(&p["frame"]);
    let ctx = format!("{name} frame {n}");
    let bytes = hex::decode(p["frame_hex"].as_str().unwrap()).unwrap();
    let found = parse_frame(link_type, &bytes);
    let message = hex::decode(p["message_hex"].as_str().unwrap()).unwrap();
    assert_eq!(found.message, &message[..], "{ctx}: message bytes");
    assert_eq!(found.ip.src, ip(&p["ip"]["src"]), "{ctx}: src");
    assert_eq!(found.ip.dst, ip(&p["ip"]["dst"]), "{ctx}: dst");
    assert_eq!(
        u64::from(found.ip.ttl),
        u(&p["ip"]["ttl_or_hop_limit"]),
        "{ctx}: ttl"
    );
    let (src, dst) = (found.ip.src, found.ip.dst);
    let mut out = BytesMut::new();
    match found.kind {
        Kind::Vrrp3 => {
            let v = &p["vrrp"];
            assert_eq!(u(&v["version"]), 3, "{ctx}");
            let pk = vrrp3::Packet::new_checked(found.message).unwrap();
            let matches: Vec<&str> = p["checks"]["vrrp_checksum"]["matches"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m.as_str().unwrap())
                .collect();
            let mode = pk.checksum_mode(src, dst);
            let want = match matches.as_slice() {
                ["with_pseudo_header"] => Some(ChecksumMode::PseudoHeader),
                ["message_only"] => Some(ChecksumMode::NoPseudoHeader),
                ["with_pseudo_header_group_dst"] => Some(ChecksumMode::PseudoHeaderGroupDst),
                other => panic!("{ctx}: unexpected checksum matches {other:?}"),
            };
            assert_eq!(mode, want, "{ctx}: checksum mode");
            let ck = match mode {
                Some(ChecksumMode::PseudoHeader) => Checksum::PseudoHeader { src, dst },
                Some(ChecksumMode::PseudoHeaderGroupDst) => Checksum::PseudoHeader {
                    src,
                    dst: IpAddr::V4(frame::GROUP_V4),
                },
                _ => Checksum::NoPseudoHeader,
            };
            let r = vrrp3::Repr::parse(&pk, ck).unwrap();
            assert_eq!(u64::from(r.vrid.get()), u(&v["vrid"]), "{ctx}: vrid");
            assert_eq!(
                u64::from(r.priority.0),
                u(&v["priority"]),
                "{ctx}: priority"
            );
            assert_eq!(
                u64::from(r.max_adver_int.0),
                u(&v["max_adver_int_centiseconds"]),
                "{ctx}: interval"
            );
            assert_eq!(u64::from(pk.count()), u(&v["addr_count"]), "{ctx}: count");
            let addrs: Vec<IpAddr> = v["addresses"].as_array().unwrap().iter().map(ip).collect();
            assert_eq!(
                r.addresses.iter().collect::<Vec<_>>(),
                addrs,
                "{ctx}: addresses"
            );
            assert_eq!(
                format!("{:#06x}", pk.checksum()),
                v["checksum"].as_str().unwrap()
            );
            r.emit(&mut out, ck).unwrap();
        }
        Kind::Vrrp2 => {
            let v = &p["vrrp"];
            assert_eq!(u(&v["version"]), 2, "{ctx}");
            let pk = vrrp2::Packet::new_checked(found.message).unwrap();
            let r = vrrp2::Repr::parse(&pk, Checksum::NoPseudoHeader).unwrap();
            assert_eq!(u64::from(r.vrid.get()), u(&v["vrid"]), "{ctx}: vrid");
            assert_eq!(
                u64::from(r.priority.0),
                u(&v["priority"]),
                "{ctx}: priority"
            );
            assert_eq!(
                u64::from(r.adver_int.0),
                u(&v["adver_int_seconds"]),
                "{ctx}: interval"
            );
            assert_eq!(
                u64::from(u8::from(pk.auth_type())),
                u(&v["auth_type"]),
                "{ctx}: auth"
            );
            assert_eq!(
                hex::encode(pk.auth_data()),
                v["auth_data_hex"].as_str().unwrap()
            );
            let addrs: Vec<IpAddr> = v["addresses"].as_array().unwrap().iter().map(ip).collect();
            let got: Vec<IpAddr> = r.addresses.iter().map(|a| IpAddr::V4(*a)).collect();
            assert_eq!(got, addrs, "{ctx}: addresses");
            if let Some(pw) = p["checks"]["simple_password"]["password"].as_str() {
                assert_eq!(
                    r.auth,
                    vrrp2::Auth::simple_text(pw.as_bytes()),
                    "{ctx}: password"
                );
            }
            match (
                &found.ah,
                p["checks"]["ah_icv_hmac_md5_96"]["password"].as_str(),
            ) {
                (Some(ah), Some(pw)) => {
                    assert_eq!(r.auth, vrrp2::Auth::IpAh, "{ctx}");
                    assert_eq!(
                        format!("{:#010x}", ah.spi),
                        p["ah"]["spi"].as_str().unwrap()
                    );
                    assert_eq!(u64::from(ah.sequence), u(&p["ah"]["sequence"]));
                    ah.verify(found.message, pw.as_bytes()).unwrap();
                    assert!(
                        ah.verify(found.message, b"wrong").is_err(),
                        "{ctx}: bad ICV"
                    );
                }
                (None, None) => {}
                _ => panic!("{ctx}: AH expected in both or neither"),
            }
            r.emit(&mut out, Checksum::NoPseudoHeader).unwrap();
        }
        Kind::Carp => {
            let c = &p["carp"];
            let pk = carp::Packet::new_checked(found.message).unwrap();
            let chk = &p["checks"]["carp_hmac_sha1"];
            let pw = chk["password"].as_str().unwrap();
            let vip = ip(&chk["vip"]);
            let key = carp::Key::new(pw.as_bytes(), pk.vhid(), &[vip]);
            let r = carp::Repr::parse(&pk, Checksum::NoPseudoHeader, Some(&key)).unwrap();
            assert_eq!(u64::from(r.vhid.get()), u(&c["vhid"]), "{ctx}: vhid");
            assert_eq!(u64::from(r.advskew), u(&c["advskew"]), "{ctx}: advskew");
            assert_eq!(u64::from(r.advbase), u(&c["advbase"]), "{ctx}: advbase");
            assert_eq!(
                u64::from(r.demotion),
                u(&c["demotion_or_reserved"]),
                "{ctx}: demotion"
            );
            assert_eq!(u64::from(pk.authlen()), u(&c["authlen"]), "{ctx}: authlen");
            assert_eq!(
                format!("{:016x}", r.counter),
                c["counter_hex"].as_str().unwrap()
            );
            assert_eq!(
                hex::encode(pk.hmac()),
                c["hmac"].as_str().unwrap(),
                "{ctx}: hmac"
            );
            let other = carp::Key::new(b"not-the-password", pk.vhid(), &[vip]);
            assert!(
                pk.verify_hmac(&other).is_err(),
                "{ctx}: wrong password must fail"
            );
            let wrong_vhid = Vrid::new(pk.vhid().get() % 255 + 1).unwrap();
            let other = carp::Key::new(pw.as_bytes(), wrong_vhid, &[vip]);
            assert!(
                pk.verify_hmac(&other).is_err(),
                "{ctx}: wrong vhid must fail"
            );
            r.emit(&mut out, &key, Checksum::NoPseudoHeader).unwrap();
        }
    }
    assert_eq!(
        hex::encode(&out),
        hex::encode(&message),
        "{ctx}: re-encoding"
    );
    found.kind
}

#[test]
fn every_vector_decodes_exactly_and_reencodes_to_the_same_bytes() {
    let files = vector_files();
    assert!(
        files.len() >= 21,
        "expected the bundled vectors, found {}",
        files.len()
    );
    let mut adverts = 0;
    let mut kinds = std::collections::HashSet::new();
    for f in &files {
        let v: Value = serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap();
        let name = v["name"].as_str().unwrap_or("?");
        let link_type = v["link_type_number"].as_u64().unwrap_or(1);
        for p in v["packets"].as_array().unwrap() {
            match p["kind"].as_str().unwrap() {
                "vrrp" | "carp" | "ipsec-ah+vrrp" => {
                    kinds.insert(check_packet(name, link_type, p));
                    adverts += 1;
                }
                _ => {
                    // ARP / ICMPv6 frames are not advertisements.
                    let bytes = hex::decode(p["frame_hex"].as_str().unwrap()).unwrap();
                    let r = match link_type {
                        1 => frame::parse_ethernet(&bytes),
                        276 => frame::parse_linux_sll2(&bytes),
                        113 => frame::parse_linux_sll(&bytes),
                        _ => frame::parse_ip(&bytes),
                    };
                    assert!(
                        matches!(
                            r,
                            Err(tandem_wire::DecodeError::Ip(
                                tandem_wire::IpError::NotIp(_)
                                    | tandem_wire::IpError::NotProtocol112(_)
                            ))
                        ),
                        "{name}: non-advert frame {} must be told apart: {r:?}",
                        p["frame"]
                    );
                }
            }
        }
    }
    assert!(adverts >= 100, "only {adverts} advertisements checked");
    assert_eq!(kinds.len(), 3, "all three formats are covered");
}

#[test]
fn announcements_match_keepalived_frames() {
    // keepalived's gratuitous ARP (ka-v3-pair-election frame 2) and
    // unsolicited NA (ka-v3-ipv6-stop-prio0-na frame 4).
    let garp = frame::gratuitous_arp([2, 0, 0, 0, 0, 0x0a], "192.0.2.111".parse().unwrap());
    let want =
        "ffffffffffff02000000000a0806000108000604000102000000000ac000026fffffffffffffc000026f";
    assert_eq!(hex::encode(garp), want);
    let na = frame::unsolicited_na([2, 0, 0, 0, 0, 0x0b], "fd00::92".parse().unwrap(), false);
    let want = "33330000000102000000000b86dd6000000000203afffd000000000000000000000000000092ff0200000000000000000000000000018800596f20000000fd000000000000000000000000000092020102000000000b";
    assert_eq!(hex::encode(na), want);
}
