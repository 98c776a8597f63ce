//! Golden vectors from a real conntrackd 1.4.7 pair (FT-FW, NOTRACK,
//! ALARM; scripts/capture-conntrackd.sh made them). Each captured message
//! decodes, re-encodes to the same bytes, and its entry is the flow the
//! sender's kernel reported: the `conntrack -E` event of the same change
//! (`.events`), the sender's `conntrack -L` (`.list`), conntrackd's own
//! decode on the receiver (`conntrackd -e`, `.external`). Our encoder
//! makes no vector.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use tandem_replication::conntrackd::entry;
use tandem_replication::conntrackd::msg::{self, flags, Body, MsgType, Repr};
use tandem_replication::flow::{proto, status, Flow, FlowKey, Tuple};

const SENDER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);

fn vector(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors")
        .join(name)
}

/// The UDP payloads of an Ethernet pcap, with their IPv4 source.
fn udp_payloads(name: &str) -> Vec<(Ipv4Addr, Vec<u8>)> {
    let b = std::fs::read(vector(name)).expect("vector file");
    assert_eq!(
        &b[..4],
        &[0xd4, 0xc3, 0xb2, 0xa1],
        "little-endian microsecond pcap"
    );
    let linktype = u32::from_le_bytes([b[20], b[21], b[22], b[23]]);
    assert_eq!(linktype, 1, "Ethernet");
    let mut out = Vec::new();
    let mut at = 24;
    while at + 16 <= b.len() {
        let incl = u32::from_le_bytes([b[at + 8], b[at + 9], b[at + 10], b[at + 11]]) as usize;
        let frame = &b[at + 16..at + 16 + incl];
        at += 16 + incl;
        assert_eq!(&frame[12..14], &[0x08, 0x00], "IPv4");
        let ip = &frame[14..];
        let ihl = usize::from(ip[0] & 0x0f) * 4;
        assert_eq!(ip[9], 17, "UDP");
        let src = Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
        let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
        let udp = &ip[ihl..total];
        out.push((src, udp[8..].to_vec()));
    }
    out
}

fn tcp_state(name: &str) -> u8 {
    [
        "NONE",
        "SYN_SENT",
        "SYN_RECV",
        "ESTABLISHED",
        "FIN_WAIT",
        "CLOSE_WAIT",
        "LAST_ACK",
        "TIME_WAIT",
        "CLOSE",
        "SYN_SENT2",
    ]
    .iter()
    .position(|s| *s == name)
    .expect("TCP state") as u8
}

fn sctp_state(name: &str) -> u8 {
    [
        "NONE",
        "CLOSED",
        "COOKIE_WAIT",
        "COOKIE_ECHOED",
        "ESTABLISHED",
        "SHUTDOWN_SENT",
        "SHUTDOWN_RECD",
        "SHUTDOWN_ACK_SENT",
        "HEARTBEAT_SENT",
    ]
    .iter()
    .position(|s| *s == name)
    .expect("SCTP state") as u8
}

/// One line of `conntrack -E` / `-L` output: (event, flow, assured,
/// unreplied). The flow's status holds ASSURED and SEEN_REPLY only.
fn parse_line(line: &str) -> (String, Flow) {
    let mut t: Vec<&str> = line.split_whitespace().collect();
    let event = if t[0].starts_with('[') {
        t.remove(0)
            .trim_matches(|c| c == '[' || c == ']')
            .to_string()
    } else {
        String::new()
    };
    let p: u8 = t[1].parse().unwrap();
    let mut i = 2;
    let mut lifetime_ms = 0;
    if let Ok(secs) = t[i].parse::<u32>() {
        lifetime_ms = secs * 1000;
        i += 1;
    }
    let mut state = 0;
    if !t[i].contains('=') {
        state = if p == proto::SCTP {
            sctp_state(t[i])
        } else {
            tcp_state(t[i])
        };
        i += 1;
    }
    let mut tuples: Vec<Tuple> = Vec::new();
    let (mut mark, mut zone, mut st) = (0, 0, 0u16);
    let mut unreplied = false;
    let mut cur: Option<Tuple> = None;
    let unspecified = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    for tok in &t[i..] {
        match *tok {
            "[ASSURED]" => st |= status::ASSURED,
            "[UNREPLIED]" => unreplied = true,
            _ => {}
        }
        let Some((k, v)) = tok.split_once('=') else {
            continue;
        };
        match k {
            "src" => {
                if let Some(done) = cur.take() {
                    tuples.push(done);
                }
                cur = Some(Tuple {
                    src: v.parse().unwrap(),
                    dst: unspecified,
                    src_port: 0,
                    dst_port: 0,
                });
            }
            "dst" => cur.as_mut().unwrap().dst = v.parse().unwrap(),
            "sport" | "id" if cur.is_some() && (k == "sport" || tuples.len() < 2) => {
                if k == "id" && tuples.len() == 1 && !is_icmp(p) {
                    continue;
                }
                cur.as_mut().unwrap().src_port = v.parse().unwrap()
            }
            "dport" => cur.as_mut().unwrap().dst_port = v.parse().unwrap(),
            "type" => cur.as_mut().unwrap().dst_port |= v.parse::<u16>().unwrap() << 8,
            "code" => cur.as_mut().unwrap().dst_port |= v.parse::<u16>().unwrap(),
            "mark" => {
                if let Some(done) = cur.take() {
                    tuples.push(done);
                }
                mark = v.parse().unwrap()
            }
            "zone" => zone = v.parse().unwrap(),
            _ => {}
        }
    }
    if let Some(done) = cur.take() {
        tuples.push(done);
    }
    if !unreplied {
        st |= status::SEEN_REPLY;
    }
    let flow = Flow {
        proto: p,
        zone,
        original: tuples[0],
        reply: tuples[1],
        state,
        status: st,
        lifetime_ms,
        backend: tandem_replication::flow::NO_BACKEND,
        mark,
        window: None,
    };
    (event, flow)
}

fn is_icmp(p: u8) -> bool {
    p == proto::ICMP || p == proto::ICMPV6
}

fn lines(name: &str) -> Vec<(String, Flow)> {
    std::fs::read_to_string(vector(name))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(parse_line)
        .collect()
}

/// Our flow with its status narrowed to what `conntrack` prints.
fn printed(f: &Flow) -> Flow {
    Flow {
        status: f.status & (status::ASSURED | status::SEEN_REPLY),
        ..*f
    }
}

/// Every message of every datagram: decodes, and re-encodes to the
/// captured bytes (message by message and datagram by datagram).
fn decode_all(name: &str) -> Vec<(Ipv4Addr, Repr)> {
    let mut out = Vec::new();
    for (src, d) in udp_payloads(name) {
        let mut again = Vec::new();
        for m in msg::messages(&d) {
            let m = m.unwrap_or_else(|e| panic!("{name}: {e}"));
            let r = Repr::parse(&m).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(r.to_bytes(), m.as_bytes(), "{name}: re-encoding {r:?}");
            r.emit(&mut again);
            out.push((src, r));
        }
        assert_eq!(again, d, "{name}: datagram re-encoded");
    }
    out
}

fn ct_messages(all: &[(Ipv4Addr, Repr)]) -> Vec<(MsgType, Flow, u32)> {
    all.iter()
        .filter(|(src, r)| *src == SENDER && r.msg_type.is_ct())
        .map(|(_, r)| {
            let attrs = r.entry().unwrap();
            (r.msg_type, entry::to_flow(attrs, 0).unwrap(), r.seq)
        })
        .collect()
}

fn event_type(e: &str) -> MsgType {
    match e {
        "NEW" => MsgType::CtNew,
        "UPDATE" => MsgType::CtUpd,
        "DESTROY" => MsgType::CtDel,
        other => panic!("event {other}"),
    }
}

/// The kernel's events, in order, are the sender's first CT messages.
fn check_events(mode: &str) -> Vec<(MsgType, Flow, u32)> {
    let all = decode_all(&format!("conntrackd-{mode}.pcap"));
    let cts = ct_messages(&all);
    let events = lines(&format!("conntrackd-{mode}.events"));
    assert_eq!(events.len(), 14, "9 inserts, 2 updates, 3 deletes");
    assert!(cts.len() >= events.len());
    for ((ty, flow, _), (ev, want)) in cts.iter().zip(&events) {
        assert_eq!(*ty, event_type(ev), "{mode}: {flow:?}");
        // A CT_DEL carries conntrackd's cached copy of the entry: the
        // timeout and mark of its last NEW or UPDATE, not the DESTROY
        // event's.
        let mut got = printed(flow);
        if ev == "DESTROY" {
            got.mark = want.mark;
            got.lifetime_ms = want.lifetime_ms;
        }
        // The timeout is read when the event is built: the same second
        // or the one before.
        let dt = want.lifetime_ms.abs_diff(got.lifetime_ms);
        assert!(
            dt <= 1000,
            "{mode}: timeout {} vs event {}",
            got.lifetime_ms,
            want.lifetime_ms
        );
        got.lifetime_ms = want.lifetime_ms;
        assert_eq!(got, *want, "{mode}: {ev}");
    }
    cts
}

fn keys(flows: impl IntoIterator<Item = Flow>) -> BTreeSet<FlowKey> {
    flows.into_iter().map(|f| f.key()).collect()
}

#[test]
fn ftfw_capture_decodes_to_the_kernel_events() {
    let cts = check_events("ftfw");
    // The rest is the bulk answering `conntrackd -n`: the 6 entries left,
    // in one datagram. A bulk message's type is the cached object's
    // status: these were never updated, so CT_NEW.
    let bulk: Vec<_> = cts[14..].to_vec();
    assert_eq!(bulk.len(), 6);
    assert!(bulk.iter().all(|(t, _, _)| *t == MsgType::CtNew));
    let list: Vec<Flow> = lines("conntrackd-ftfw.list")
        .into_iter()
        .map(|(_, f)| f)
        .collect();
    let deleted = keys(cts[11..14].iter().map(|c| c.1));
    let left: BTreeSet<_> = keys(list.iter().copied())
        .difference(&deleted)
        .copied()
        .collect();
    assert_eq!(keys(bulk.iter().map(|c| c.1)), left);
    // Each bulk entry is the listed one (state, NAT, mark, zone).
    for (_, f, _) in &bulk {
        let l = list.iter().find(|l| l.key() == f.key()).unwrap();
        assert_eq!(
            Flow {
                lifetime_ms: 0,
                ..printed(f)
            },
            Flow {
                lifetime_ms: 0,
                ..*l
            }
        );
    }
}

#[test]
fn ftfw_capture_control_messages() {
    let all = decode_all("conntrackd-ftfw.pcap");
    // The receiver starts first: its first message is ALIVE with HELLO.
    let (src, first) = &all[0];
    assert_ne!(*src, SENDER);
    assert_eq!(first.flags, flags::ALIVE | flags::HELLO);
    assert_eq!(first.body, Body::Control { range: None });
    // The sender answers with HELLO_BACK (and its own HELLO) on an ACK
    // of the receiver's ALIVE.
    let (_, answer) = all.iter().find(|(s, _)| *s == SENDER).unwrap();
    assert_eq!(answer.flags, flags::ACK | flags::HELLO | flags::HELLO_BACK);
    assert_eq!(
        answer.body,
        Body::Control {
            range: Some((first.seq, first.seq))
        }
    );
    // Sequence numbers of each side count up by one per message.
    for side in [true, false] {
        let seqs: Vec<u32> = all
            .iter()
            .filter(|(s, _)| (*s == SENDER) == side)
            .map(|(_, r)| r.seq)
            .collect();
        assert!(
            seqs.windows(2).all(|w| w[1] == w[0].wrapping_add(1)),
            "{seqs:?}"
        );
    }
    // The receiver's `conntrackd -n` is a RESYNC with the 16-byte header.
    assert!(all
        .iter()
        .any(|(s, r)| *s != SENDER && r.flags & flags::RESYNC != 0));
    // ACKs cover what the sender sent.
    let acked: Vec<(u32, u32)> = all
        .iter()
        .filter(|(s, r)| *s != SENDER && r.flags & flags::ACK != 0)
        .filter_map(|(_, r)| match r.body {
            Body::Control { range } => range,
            _ => None,
        })
        .collect();
    assert!(!acked.is_empty());
    let ct_seqs: Vec<u32> = ct_messages(&all).iter().map(|c| c.2).collect();
    for s in ct_seqs {
        assert!(
            acked.iter().any(|&(a, b)| a <= s && s <= b),
            "seq {s} acknowledged"
        );
    }
}

#[test]
fn notrack_capture_decodes_to_the_kernel_events() {
    let cts = check_events("notrack");
    assert_eq!(cts.len(), 20, "14 changes and the bulk of 6");
    let all = decode_all("conntrackd-notrack.pcap");
    // NOTRACK never acknowledges.
    assert!(all
        .iter()
        .all(|(_, r)| r.flags & (flags::ACK | flags::NACK) == 0));
}

#[test]
fn alarm_capture_decodes_to_listed_entries() {
    let all = decode_all("conntrackd-alarm.pcap");
    let cts = ct_messages(&all);
    let events = lines("conntrackd-alarm.events");
    let list: Vec<Flow> = lines("conntrackd-alarm.list")
        .into_iter()
        .map(|(_, f)| f)
        .collect();
    // Every inserted entry went out at once (CT_NEW), then ALARM keeps
    // re-sending the live ones as CT_UPD.
    for ((ty, flow, _), (ev, want)) in cts.iter().zip(events.iter().take(9)) {
        assert_eq!((*ty, ev.as_str()), (MsgType::CtNew, "NEW"));
        assert_eq!(flow.key(), want.key());
        assert_eq!(
            Flow {
                lifetime_ms: 0,
                ..printed(flow)
            },
            Flow {
                lifetime_ms: 0,
                ..*want
            }
        );
    }
    let listed = keys(list.iter().copied());
    assert!(cts.iter().all(|(_, f, _)| listed.contains(&f.key())));
    assert!(
        cts[9..].iter().any(|(t, _, _)| *t == MsgType::CtUpd),
        "refreshes"
    );
}

#[test]
fn external_cache_of_the_receiver_matches_our_decode() {
    // `conntrackd -e` prints the original tuple, state, mark, zone.
    for mode in ["ftfw", "notrack"] {
        let text = std::fs::read_to_string(vector(&format!("conntrackd-{mode}.external"))).unwrap();
        let cts = ct_messages(&decode_all(&format!("conntrackd-{mode}.pcap")));
        let mut printed_keys = BTreeSet::new();
        for line in text.lines().filter(|l| l.contains("src=")) {
            let t: Vec<&str> = line.split_whitespace().collect();
            let get = |k: &str| t.iter().find_map(|x| x.strip_prefix(k)).map(str::to_string);
            let p: u8 = t[1].parse().unwrap();
            let (sp, dp) = if is_icmp(p) {
                let ty: u16 = get("type=").unwrap().parse().unwrap();
                let code: u16 = get("code=").unwrap().parse().unwrap();
                (get("id=").unwrap().parse().unwrap(), ty << 8 | code)
            } else {
                (
                    get("sport=").unwrap().parse().unwrap(),
                    get("dport=").unwrap().parse().unwrap(),
                )
            };
            printed_keys.insert(FlowKey {
                proto: p,
                zone: get("zone=").map_or(0, |z| z.parse().unwrap()),
                original: Tuple {
                    src: get("src=").unwrap().parse().unwrap(),
                    dst: get("dst=").unwrap().parse().unwrap(),
                    src_port: sp,
                    dst_port: dp,
                },
            });
        }
        assert_eq!(printed_keys.len(), 9, "{mode}");
        assert_eq!(keys(cts[..9].iter().map(|c| c.1)), printed_keys, "{mode}");
    }
}

#[test]
fn bytes_per_entry_by_kind() {
    // conntrackd's message sizes (header included) from the FT-FW
    // capture's inserts, as docs/conntrackd.md reports them.
    let all = decode_all("conntrackd-ftfw.pcap");
    let sizes: Vec<usize> = all
        .iter()
        .filter(|(s, r)| *s == SENDER && r.msg_type == MsgType::CtNew)
        .map(|(_, r)| r.buffer_len())
        .take(9)
        .collect();
    // tcp, udp, icmp, tcp6, dnat, snat, sctp, udp+mark, udp+zone
    assert_eq!(sizes, [84, 76, 92, 108, 100, 100, 100, 76, 84]);
    // Control messages: 8 (ALIVE) or 16 (ACK/NACK/RESYNC).
    for (_, r) in &all {
        if r.msg_type == MsgType::Ctl {
            assert_eq!(
                r.buffer_len(),
                if r.flags & flags::RANGE != 0 { 16 } else { 8 }
            );
        }
    }
}

#[test]
fn ftfw_loss_capture_nacks_exactly_the_dropped_and_converges() {
    // The receiver dropped the sender's datagrams 1, 4, 7, ... (in capture
    // order): its NACKs name exactly the data messages among them, and what
    // it did receive, applied in order, leaves the sender's table.
    let name = "conntrackd-ftfw-loss.pcap";
    decode_all(name);
    let mut dropped_seqs = BTreeSet::new();
    let mut mirror = std::collections::BTreeMap::new();
    let mut nacked = BTreeSet::new();
    let mut i = 0;
    for (src, d) in udp_payloads(name) {
        let reprs: Vec<Repr> = msg::messages(&d)
            .map(|m| Repr::parse(&m.unwrap()).unwrap())
            .collect();
        if src != SENDER {
            for r in reprs {
                if let (
                    true,
                    Body::Control {
                        range: Some((a, b)),
                    },
                ) = (r.flags & flags::NACK != 0, &r.body)
                {
                    nacked.extend(*a..=*b);
                }
            }
            continue;
        }
        let dropped = i % 3 == 1;
        i += 1;
        for r in reprs {
            if dropped {
                dropped_seqs.insert(r.seq);
                continue;
            }
            if let Some(attrs) = r.entry() {
                let f = entry::to_flow(attrs, 0).unwrap();
                if r.msg_type == MsgType::CtDel {
                    mirror.remove(&f.key());
                } else {
                    mirror.insert(f.key(), f);
                }
            }
        }
    }
    assert!(!nacked.is_empty());
    // Every NACKed seq was dropped (a NACK may also cover a dropped ACK or
    // ALIVE, which FT-FW repairs too).
    assert!(
        nacked.is_subset(&dropped_seqs),
        "{nacked:?} vs {dropped_seqs:?}"
    );
    let list: Vec<Flow> = lines("conntrackd-ftfw-loss.list")
        .into_iter()
        .map(|(_, f)| f)
        .collect();
    let events = lines("conntrackd-ftfw-loss.events");
    let deleted = keys(
        events
            .iter()
            .filter(|(e, _)| e == "DESTROY")
            .map(|(_, f)| *f),
    );
    let want: BTreeSet<_> = keys(list).difference(&deleted).copied().collect();
    assert_eq!(mirror.keys().copied().collect::<BTreeSet<_>>(), want);
}

#[test]
fn our_entry_for_a_flow_is_conntrackds_without_synproxy() {
    // conntrackd's CT messages with the kernel's (zero) SYNPROXY block left
    // out are exactly what we send for the flow they decode to: same
    // attributes, same order, same bytes.
    let all = decode_all("conntrackd-ftfw.pcap");
    let mut n = 0;
    for (_, r) in all
        .iter()
        .filter(|(s, r)| *s == SENDER && r.msg_type.is_ct())
    {
        let theirs: Vec<msg::Attr> = r
            .entry()
            .unwrap()
            .iter()
            .filter(|a| !matches!(a, msg::Attr::Synproxy { .. }))
            .cloned()
            .collect();
        let flow = entry::to_flow(r.entry().unwrap(), 0).unwrap();
        let ours = entry::from_flow(&flow, true);
        let bytes = |attrs: Vec<msg::Attr>| {
            Repr {
                body: Body::Entry(attrs),
                ..r.clone()
            }
            .to_bytes()
        };
        assert_eq!(bytes(ours), bytes(theirs), "{flow:?}");
        n += 1;
    }
    assert_eq!(n, 20);
}
