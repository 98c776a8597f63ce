//! conntrackd: golden captures from a real conntrackd 1.4.7 pair
//! (tandem-replication's vectors), decoded by `tandemd decode` and compared
//! entry by entry with the kernel events recorded beside them.

use serde_json::Value;

use super::{ctd_vector, decode, json_lines, stdout};

/// One change of a `conntrack -E` line: its type as conntrackd names the
/// message, the tuple tokens in conntrack's order (original then reply),
/// state, mark, zone, timeout.
#[derive(Debug)]
struct Event {
    msg_type: &'static str,
    tuples: String,
    state: Option<String>,
    mark: u64,
    zone: u64,
    timeout: u64,
}

fn parse_event(line: &str) -> Event {
    let t: Vec<&str> = line.split_whitespace().collect();
    let msg_type = match t[0] {
        "[NEW]" => "ct_new",
        "[UPDATE]" => "ct_upd",
        "[DESTROY]" => "ct_del",
        other => panic!("event {other}"),
    };
    let timeout = t[3].parse().expect("timeout");
    let state = (!t[4].contains('=')).then(|| t[4].to_lowercase());
    let keys = ["src", "dst", "sport", "dport", "type", "code", "id"];
    let per_dir = if t[1].starts_with("icmp") { 5 } else { 4 };
    let tuples: Vec<&str> = t
        .iter()
        .copied()
        .filter(|w| w.split_once('=').is_some_and(|(k, _)| keys.contains(&k)))
        .take(2 * per_dir)
        .collect();
    let field = |k: &str| {
        t.iter()
            .find_map(|w| w.strip_prefix(k).and_then(|v| v.parse().ok()))
            .unwrap_or(0)
    };
    Event {
        msg_type,
        tuples: tuples.join(" "),
        state,
        mark: field("mark="),
        zone: field("zone="),
        timeout,
    }
}

/// The same tuple tokens from a decoded message's flow.
fn tuples_of(flow: &Value) -> String {
    let icmp = flow["proto"]
        .as_str()
        .is_some_and(|p| p.starts_with("icmp"));
    ["original", "reply"]
        .iter()
        .map(|d| {
            let t = &flow[d];
            if icmp {
                format!(
                    "src={} dst={} type={} code={} id={}",
                    t["src"].as_str().unwrap(),
                    t["dst"].as_str().unwrap(),
                    t["icmp_type"],
                    t["icmp_code"],
                    t["icmp_id"]
                )
            } else {
                format!(
                    "src={} dst={} sport={} dport={}",
                    t["src"].as_str().unwrap(),
                    t["dst"].as_str().unwrap(),
                    t["src_port"],
                    t["dst_port"]
                )
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn entries(messages: &[Value]) -> Vec<&Value> {
    messages
        .iter()
        .filter(|m| m["type"].as_str().is_some_and(|t| t.starts_with("ct_")))
        .collect()
}

fn events(mode: &str) -> Vec<Event> {
    std::fs::read_to_string(ctd_vector(&format!("conntrackd-{mode}.events")))
        .expect("events file")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(parse_event)
        .collect()
}

/// FT-FW and NOTRACK send each kernel event once, in order: the first
/// entries of the capture are the events, field by field.
#[test]
fn conntrackd_entries_are_the_kernel_events() {
    for mode in ["ftfw", "notrack"] {
        let pcap = ctd_vector(&format!("conntrackd-{mode}.pcap"));
        let messages = json_lines(&decode(&pcap, &["--json"]));
        let ct = entries(&messages);
        let events = events(mode);
        assert_eq!(events.len(), 14, "{mode}");
        assert!(ct.len() >= events.len(), "{mode}: {} entries", ct.len());
        for (e, m) in events.iter().zip(&ct) {
            let ctx = format!("{mode} frame {} msg {}: {e:?}", m["n"], m["msg"]);
            assert_eq!(m["proto"], "conntrackd", "{ctx}");
            assert_eq!(m["version"], 1, "{ctx}");
            assert_eq!(m["src"], "192.0.2.1", "{ctx}");
            assert_eq!(m["dst_port"], 3780, "{ctx}");
            assert_eq!(m["type"], e.msg_type, "{ctx}");
            assert_eq!(m["problems"], Value::Array(vec![]), "{ctx}");
            let flow = &m["flow"];
            assert_eq!(tuples_of(flow), e.tuples, "{ctx}");
            assert_eq!(flow["state"].as_str().map(str::to_string), e.state, "{ctx}");
            assert_eq!(flow["zone"], e.zone, "{ctx}");
            if e.msg_type != "ct_del" {
                // A CT_DEL carries conntrackd's cached copy, not the
                // DESTROY event's timeout and mark.
                assert_eq!(flow["mark"], e.mark, "{ctx}");
                let t = m["timeout_s"].as_u64().expect("timeout");
                assert!(t == e.timeout || t + 1 == e.timeout, "{ctx}: {t}");
                assert_eq!(flow["lifetime_ms"], t * 1000, "{ctx}");
            }
        }
        // Sequence numbers of the sender's messages go up by one.
        let seqs: Vec<u64> = ct.iter().map(|m| m["seq"].as_u64().unwrap()).collect();
        assert!(seqs.windows(2).all(|w| w[1] > w[0]), "{mode}: {seqs:?}");
    }
}

#[test]
fn conntrackd_nat_and_control_messages_in_words() {
    let text = stdout(&decode(&ctd_vector("conntrackd-ftfw.pcap"), &[]));
    let line = |needle: &str| {
        text.lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle:?} in\n{text}"))
            .to_string()
    };
    let dnat = line("198.51.100.13:40002");
    assert!(
        dnat.contains("conntrackd v1 CT_NEW seq ")
            && dnat.contains(
                "tcp 198.51.100.13:40002 -> 203.0.113.80:80 reply 203.0.113.100:8080 -> 198.51.100.13:40002 (dnat) state established"
            )
            && dnat.contains("timeout 600s"),
        "{dnat}"
    );
    let snat = line("198.51.100.14:40003");
    assert!(
        snat.contains("reply 203.0.113.23:443 -> 203.0.113.1:61000 (snat) state syn_sent"),
        "{snat}"
    );
    let icmp = line("icmp ");
    assert!(
        icmp.contains("icmp 198.51.100.12 -> 203.0.113.22 type 8 code 0 id 4660"),
        "{icmp}"
    );
    assert!(line("[fd00::10]:40001 -> [fd00::20]:443").contains("state established"));
    assert!(line("zone 7").contains("udp 198.51.100.17:1235 -> 203.0.113.26:4322"));
    let first = text.lines().next().expect("a line");
    assert!(
        first.starts_with("1.1  192.0.2.2:36446 > 192.0.2.1:3780  conntrackd v1 CTL seq ")
            && first.contains("flags alive,hello"),
        "{first}"
    );
    assert!(line("flags resync").contains("CTL"));
    // The bulk after the RESYNC: six messages in one datagram.
    let bulk: Vec<&str> = text.lines().filter(|l| l.starts_with("27.")).collect();
    assert_eq!(bulk.len(), 6, "{bulk:?}");
    assert!(!text.contains(" -- "), "no problem anywhere:\n{text}");
}

#[test]
fn conntrackd_loss_shows_nacks_and_every_entry_decodes() {
    for mode in ["ftfw-loss", "alarm"] {
        let messages = json_lines(&decode(
            &ctd_vector(&format!("conntrackd-{mode}.pcap")),
            &["--json"],
        ));
        let expected: std::collections::BTreeSet<String> =
            events(mode).iter().map(|e| e.tuples.clone()).collect();
        for m in &messages {
            assert_eq!(m["problems"], Value::Array(vec![]), "{mode}: {m}");
        }
        let ct = entries(&messages);
        assert!(ct.len() >= 14, "{mode}");
        for m in ct {
            assert!(expected.contains(&tuples_of(&m["flow"])), "{mode}: {m}");
        }
        let nacks = messages
            .iter()
            .filter(|m| m["flags"].as_array().unwrap().contains(&"nack".into()))
            .count();
        assert_eq!(nacks > 0, mode == "ftfw-loss", "{mode}: {nacks} NACKs");
    }
}

#[test]
fn another_conntrackd_port_skips_the_default_one() {
    let pcap = ctd_vector("conntrackd-ftfw.pcap");
    assert_eq!(stdout(&decode(&pcap, &["--conntrackd-port", "3781"])), "");
    assert!(!stdout(&decode(&pcap, &["--conntrackd-port", "3780"])).is_empty());
}
