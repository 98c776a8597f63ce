//! Conformance with real peers: captured exchanges of keepalived and ucarp
//! pairs replayed into the sans-IO Node.
//!
//! Each test picks one of the two real routers of a capture and lets the
//! Node play it: the Node gets that router's recorded settings (through
//! `tandem_node::config::parse`, as `tandemd run --config` would) and, as
//! its only inputs, the OTHER router's adverts from the capture, at their
//! capture times. Its outputs (adverts, state changes, announcements) are
//! then compared with what the replaced router really did in the capture.
//! The captures and the settings that produced them are described in
//! `crates/tandem-wire/tests/vectors/README.md`.
//!
//! The run uses `drive::fake::FakeHost` and its virtual clock: capture time
//! 0 (the first packet) is [`ZERO_MS`] on the Node's clock, so that a
//! router started before the first packet can be configured at a negative
//! capture time. docs/testing.md describes these tests.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use pcap_file::pcap::PcapReader;
use tandem_election::{codec, Advert, Diagnostic, Instant, Reason, State};
use tandem_node::config;
use tandem_node::drive::fake::FakeHost;
use tandem_node::node::{EventKind, Input, Node, NodeSettings, Output};
use tandem_wire::{carp, frame, Vrid};

/// Capture time 0 on the Node's virtual clock, in milliseconds.
const ZERO_MS: f64 = 10_000.0;

/// How far a time the Node acts at may be from the time the real router
/// acted at, in milliseconds.
///
/// RFC 9568 section 6.4.3: the Active router sends an advert each time its
/// Adver_Timer fires, every Advertisement_Interval; a Backup (6.4.2) resets
/// its Active_Down_Timer on each, to Active_Down_Interval =
/// 3 * Active_Adver_Interval + Skew_Time, Skew_Time =
/// ((256 - priority) * Active_Adver_Interval) / 256 (CARP: 3 * advbase +
/// advskew / 256). The protocol thus needs timers good to a fraction of
/// Skew_Time, nothing finer. The real routers' timers drift by 0.2 to
/// 0.3 ms per interval (keepalived) and up to 2 ms (ucarp) in these
/// captures, and the capture host stamps frames with its own jitter; the
/// Node, on a virtual clock, acts exactly on time. 10 ms (one centisecond,
/// the unit of VRRPv3's Max Adver Int) covers that drift over the few
/// intervals of a capture, and stays far below the gaps between the
/// timings a wrong setting would give: the Skew_Time of priority 200 and
/// 100 differ by 390 ms, one interval is 1000 ms.
const TOLERANCE_MS: f64 = 10.0;

/// Active_Down_Interval of a VRRPv3 router of `priority` at a 1 s interval
/// (RFC 9568 section 6.1), in milliseconds.
fn vrrp3_down_ms(priority: u8) -> f64 {
    3.0 * 1000.0 + (256.0 - f64::from(priority)) * 1000.0 / 256.0
}

/// The master-down interval of a CARP router (3 * advbase + advskew / 256
/// s), in milliseconds.
fn carp_down_ms(advbase: u8, advskew: u8) -> f64 {
    3.0 * 1000.0 * f64::from(advbase) + f64::from(advskew) * 1000.0 / 256.0
}

/// keepalived's `garp_master_delay` (default 5 s) and Tandem's
/// `announce.refresh_after` (default 5 s): the second announcement burst.
const REFRESH_MS: f64 = 5000.0;

const NODE_A: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
const NODE_B: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));
const GROUP: IpAddr = IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18));

// ----- the capture -----------------------------------------------------------

/// A protocol-112 packet of the capture.
#[derive(Debug, Clone)]
struct Packet {
    /// Milliseconds from the first packet of the capture.
    at_ms: f64,
    src: IpAddr,
    dst: IpAddr,
    ttl: u8,
    /// The protocol-112 message.
    bytes: Vec<u8>,
}

/// An ARP frame of the capture.
#[derive(Debug, Clone)]
struct Arp {
    at_ms: f64,
    /// The Ethernet source.
    mac: [u8; 6],
    /// The frame, without the padding the sender's NIC added.
    frame: Vec<u8>,
}

#[derive(Debug)]
struct Capture {
    adverts: Vec<Packet>,
    arps: Vec<Arp>,
    /// Time of the last packet.
    end_ms: f64,
}

impl Capture {
    fn adverts_from(&self, src: IpAddr) -> Vec<Packet> {
        self.adverts
            .iter()
            .filter(|p| p.src == src)
            .cloned()
            .collect()
    }

    fn arps_from(&self, mac: [u8; 6]) -> Vec<Arp> {
        self.arps.iter().filter(|a| a.mac == mac).cloned().collect()
    }
}

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tandem-wire/tests/vectors")
}

/// Reads `NAME.pcap` of the vectors directory: the protocol-112 packets
/// (link and IP headers stripped by tandem-wire's frame helpers) and the
/// ARP frames, timed from the first packet.
fn load(name: &str) -> Capture {
    let path = vectors().join(format!("{name}.pcap"));
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = PcapReader::new(file).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut first: Option<Duration> = None;
    let (mut adverts, mut arps, mut end_ms) = (Vec::new(), Vec::new(), 0.0);
    while let Some(packet) = reader.next_packet() {
        let packet = packet.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let t0 = *first.get_or_insert(packet.timestamp);
        let at_ms = (packet.timestamp - t0).as_secs_f64() * 1000.0;
        end_ms = at_ms;
        let data = &packet.data[..];
        if data.len() >= 42 && data[12..14] == [0x08, 0x06] {
            let mut mac = [0u8; 6];
            mac.copy_from_slice(&data[6..12]);
            arps.push(Arp {
                at_ms,
                mac,
                frame: data[..42].to_vec(),
            });
            continue;
        }
        let found = frame::parse_ethernet(data)
            .unwrap_or_else(|e| panic!("{name}: frame at {at_ms} ms: {e}"));
        adverts.push(Packet {
            at_ms,
            src: found.ip.src,
            dst: found.ip.dst,
            ttl: found.ip.ttl,
            bytes: found.message.to_vec(),
        });
    }
    Capture {
        adverts,
        arps,
        end_ms,
    }
}

// ----- the replay ------------------------------------------------------------

fn instant(ms: f64) -> Instant {
    Instant::from_duration(Duration::from_secs_f64((ZERO_MS + ms) / 1000.0))
}

fn capture_ms(at: Instant) -> f64 {
    at.since_origin().as_secs_f64() * 1000.0 - ZERO_MS
}

/// What the Node did, timed on the capture's clock.
struct Run {
    /// Every output but status publishes.
    outputs: Vec<(f64, Output)>,
    /// The address it advertised from.
    primary: IpAddr,
    /// The MAC its announcements came from.
    mac: [u8; 6],
}

/// An advert the Node sent.
struct Sent {
    at_ms: f64,
    dst: IpAddr,
    bytes: Vec<u8>,
    advert: Advert,
}

struct StateChange {
    at_ms: f64,
    from: State,
    to: State,
    reason: Reason,
}

impl Run {
    fn adverts(&self) -> Vec<Sent> {
        self.outputs
            .iter()
            .filter_map(|(at_ms, o)| match o {
                Output::SendAdvert { dst, bytes, .. } => Some(Sent {
                    at_ms: *at_ms,
                    dst: *dst,
                    bytes: bytes.clone(),
                    advert: codec::decode(bytes, self.primary, *dst)
                        .unwrap_or_else(|e| panic!("the Node's advert does not decode: {e}")),
                }),
                _ => None,
            })
            .collect()
    }

    fn states(&self) -> Vec<StateChange> {
        self.outputs
            .iter()
            .filter_map(|(at_ms, o)| match o {
                Output::Event(e) => match &e.kind {
                    EventKind::State {
                        from, to, reason, ..
                    } => Some(StateChange {
                        at_ms: *at_ms,
                        from: *from,
                        to: *to,
                        reason: reason.clone(),
                    }),
                    _ => None,
                },
                _ => None,
            })
            .collect()
    }

    /// Every announcement frame, with when it went out.
    fn announcements(&self) -> Vec<(f64, Vec<u8>)> {
        self.outputs
            .iter()
            .filter_map(|(at_ms, o)| match o {
                Output::SendFrames { frames, .. } => Some((*at_ms, frames.clone())),
                _ => None,
            })
            .flat_map(|(at_ms, frames)| frames.into_iter().map(move |f| (at_ms, f)))
            .collect()
    }

    fn diagnostics(&self) -> Vec<Diagnostic> {
        self.outputs
            .iter()
            .filter_map(|(_, o)| match o {
                Output::Event(e) => match &e.kind {
                    EventKind::Diagnostic { diagnostic, .. } => Some(diagnostic.clone()),
                    _ => None,
                },
                _ => None,
            })
            .collect()
    }

    /// The index of the first output matching `f`.
    fn position(&self, f: impl Fn(&Output) -> bool) -> Option<usize> {
        self.outputs.iter().position(|(_, o)| f(o))
    }
}

/// Configures a Node with `toml` at capture time `start_ms`, its instance
/// `instance` advertising from `primary`, feeds it `inputs` at their
/// capture times (on the socket of eth0), and runs it until `until_ms` (the
/// end of the capture) and [`TOLERANCE_MS`] more: what the Node does that
/// close to the end may match what the real router did just before it.
fn replay(
    toml: &str,
    instance: &str,
    primary: IpAddr,
    start_ms: f64,
    inputs: &[Packet],
    until_ms: f64,
) -> Run {
    let config = config::parse(toml).unwrap_or_else(|e| panic!("configuration: {e}"));
    let mut node = Node::new(NodeSettings::default());
    let mut host = FakeHost::new();
    host.primaries.insert(instance.to_owned(), primary);
    host.push(Input::Configure {
        at: instant(start_ms),
        config: Box::new(config),
        reply: None,
    });
    for p in inputs {
        assert!(p.at_ms > start_ms, "an input before the Node starts");
        host.push(Input::Advert {
            at: instant(p.at_ms),
            // The first (only) interface set up gets socket 0.
            socket: 0,
            src: p.src,
            dst: p.dst,
            ttl: p.ttl,
            bytes: p.bytes.clone(),
        });
    }
    host.run_until(&mut node, instant(until_ms + TOLERANCE_MS))
        .unwrap_or_else(|e| panic!("the Node stopped: {e}"));
    assert_eq!(host.socket_of("eth0"), Some(0), "eth0 is socket 0");
    let outputs = host
        .outputs
        .drain(..)
        .filter(|(_, o)| !matches!(o, Output::PublishStatus(_)))
        .map(|(at, o)| (capture_ms(at), o))
        .collect();
    Run {
        outputs,
        primary,
        // FakeHost's MAC of the first instance set up.
        mac: [0x02, 0, 0, 0, 0, 0],
    }
}

// ----- comparisons -----------------------------------------------------------

fn assert_near(what: &str, node_ms: f64, real_ms: f64) {
    assert!(
        (node_ms - real_ms).abs() <= TOLERANCE_MS,
        "{what}: the Node at {node_ms:.1} ms, the real router at {real_ms:.1} ms \
         (tolerance {TOLERANCE_MS} ms)"
    );
}

/// The Node's VRRPv3 adverts are the real router's, one for one: the same
/// message byte for byte (VRID, priority, Max Adver Int, addresses, and
/// the checksum with the same pseudo-header), to the same group, at the
/// same times within [`TOLERANCE_MS`].
fn assert_same_vrrp3_adverts(node: &[Sent], real: &[Packet]) {
    let times = |v: Vec<f64>| {
        v.iter()
            .map(|t| format!("{t:.1}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    assert_eq!(
        node.len(),
        real.len(),
        "adverts: the Node sent at [{}] ms, the real router at [{}] ms",
        times(node.iter().map(|s| s.at_ms).collect()),
        times(real.iter().map(|p| p.at_ms).collect()),
    );
    for (n, (s, p)) in node.iter().zip(real).enumerate() {
        assert_near(&format!("advert {}", n + 1), s.at_ms, p.at_ms);
        assert_eq!(s.dst, p.dst, "advert {}: destination", n + 1);
        let real = codec::decode(&p.bytes, p.src, p.dst).expect("the real advert decodes");
        assert_eq!(s.advert, real, "advert {}: decoded fields", n + 1);
        assert_eq!(s.bytes, p.bytes, "advert {}: the message bytes", n + 1);
    }
}

fn vrrp3_priority(a: &Advert) -> u8 {
    match a {
        Advert::Vrrp3 { repr, .. } => repr.priority.0,
        other => panic!("not a VRRPv3 advert: {other:?}"),
    }
}

fn carp_repr(a: &Advert) -> carp::Repr {
    match a {
        Advert::Carp { repr, .. } => *repr,
        other => panic!("not a CARP advert: {other:?}"),
    }
}

/// The state changes are `expected` (from, to, capture time), in order.
fn assert_states(run: &Run, expected: &[(State, State, f64)]) {
    let got = run.states();
    let show = |v: Vec<(State, State, f64)>| {
        v.iter()
            .map(|(f, t, at)| format!("{} -> {} at {at:.1} ms", f.name(), t.name()))
            .collect::<Vec<_>>()
            .join("; ")
    };
    assert_eq!(
        got.len(),
        expected.len(),
        "state changes: the Node made [{}], expected [{}]",
        show(got.iter().map(|s| (s.from, s.to, s.at_ms)).collect()),
        show(expected.to_vec()),
    );
    for (g, (from, to, at)) in got.iter().zip(expected) {
        assert_eq!(
            (g.from, g.to),
            (*from, *to),
            "state change at {:.1} ms",
            g.at_ms
        );
        assert_near(&format!("{} -> {}", from.name(), to.name()), g.at_ms, *at);
    }
}

/// The Node's announcement burst at `at_ms` matches the real router's
/// keepalived burst `real`: as many gratuitous ARPs, each the same frame
/// but for the sender MAC (the Node's host's own, the real router's own).
fn assert_same_garp_burst(run: &Run, at_ms: f64, real: &[Arp], vip: Ipv4Addr) {
    let node: Vec<_> = run
        .announcements()
        .into_iter()
        .filter(|(t, _)| (t - at_ms).abs() <= TOLERANCE_MS)
        .collect();
    assert_eq!(
        node.len(),
        real.len(),
        "gratuitous ARPs at {at_ms:.1} ms: the Node sent {}, the real router {}",
        node.len(),
        real.len()
    );
    for (n, a) in real.iter().enumerate() {
        assert_near("gratuitous ARP", a.at_ms, at_ms);
        assert_eq!(
            a.frame,
            frame::gratuitous_arp(a.mac, vip).to_vec(),
            "the real router's gratuitous ARP {} is keepalived's form",
            n + 1
        );
    }
    for (_, f) in &node {
        assert_eq!(f, &frame::gratuitous_arp(run.mac, vip).to_vec());
    }
}

// ----- keepalived VRRPv3: preemption -----------------------------------------

/// Settings of the capture `ka-v3-preempt` (keepalived 2.2.7, VRRPv3 over
/// IPv4, VRID 121, advert_int 1, virtual address 192.0.2.121/24, preempt
/// (keepalived's default), state BACKUP) for a node of `priority`.
fn preempt_config(priority: u8) -> String {
    format!(
        "[[instance]]\nname = \"vi121\"\ninterface = \"eth0\"\nvrid = 121\n\
         priority = {priority}\ninterval = 1\npreempt = true\n\
         addresses = [\"192.0.2.121/24\"]\n"
    )
}

const VIP_121: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 121);

/// `ka-v3-preempt`, the Node as node A (192.0.2.1, priority 200, preempt).
/// Settings (keepalived 2.2.7, both nodes): VRRPv3 over IPv4, VRID 121,
/// advert_int 1 s, 192.0.2.121/24, state BACKUP; A priority 200, B 100.
///
/// Capture: node B (priority 100) is Active alone and advertises every
/// 1 s (0 to 4000.7 ms); node A is started during the capture, listens as
/// Backup, and takes over at 4554.2 ms (advert, 5 gratuitous ARPs), then
/// advertises every second; B falls silent.
///
/// Input: B's five adverts, at their capture times. The moment A was
/// started is not in the capture: the Node is started one
/// Active_Down_Interval of priority 200 (3 s + 218.75 ms) before A's
/// first advert, the moment A must have started if, as RFC 9568 6.4.2
/// requires of a preempting Backup, it discarded B's lower-priority adverts.
///
/// Expected: the Node stays Backup and silent through the three adverts of
/// B that reach it before then (resetting its timer on any of them would
/// delay the takeover past the end of the capture), becomes Active at
/// 4554.2 ms, and sends exactly A's adverts (same bytes: VRID 121, priority
/// 200, 100 cs, 192.0.2.121, pseudo-header checksum) at A's times, with
/// keepalived's burst of 5 gratuitous ARPs at the takeover.
#[test]
fn ka_v3_preempt_node_a_preempts_on_time_with_keepalived_adverts() {
    let cap = load("ka-v3-preempt");
    let real_a = cap.adverts_from(NODE_A);
    let from_b = cap.adverts_from(NODE_B);
    assert_eq!(
        (real_a.len(), from_b.len()),
        (3, 5),
        "the capture's adverts"
    );
    let takeover = real_a[0].at_ms;
    let start = takeover - vrrp3_down_ms(200);
    // The replay tests the preempt rule only if some of B's adverts arrive
    // while the Node is Backup.
    let heard = from_b
        .iter()
        .filter(|p| p.at_ms > start && p.at_ms < takeover)
        .count();
    assert_eq!(heard, 3, "B's adverts heard by the Backup");
    let inputs: Vec<_> = from_b.into_iter().filter(|p| p.at_ms > start).collect();

    let run = replay(
        &preempt_config(200),
        "vi121",
        NODE_A,
        start,
        &inputs,
        cap.end_ms,
    );

    assert_same_vrrp3_adverts(&run.adverts(), &real_a);
    assert_states(
        &run,
        &[
            (State::Initialize, State::Backup, start),
            (State::Backup, State::Active, takeover),
        ],
    );
    // The timer ran out while B (lower priority) was Active: preemption.
    assert_eq!(
        run.states()[1].reason,
        Reason::Preempting { active: NODE_B },
        "reason of the takeover"
    );
    assert_same_garp_burst(&run, takeover, &cap.arps_from(mac(0x0a)), VIP_121);
    assert!(run.diagnostics().is_empty(), "{:?}", run.diagnostics());
}

/// `ka-v3-preempt`, the Node as node B (192.0.2.2, priority 100).
/// Settings: as for node A above (VRRPv3, VRID 121, advert_int 1 s,
/// 192.0.2.121/24; A priority 200, B 100).
///
/// Capture: B is Active before the capture starts and advertises every
/// 1 s from 0 to 4000.7 ms; at 4000.0 ms it sends its second burst of 5
/// gratuitous ARPs (keepalived's garp_master_delay, 5 s after becoming
/// Active); A (priority 200) advertises from 4554.2 ms, and B sends nothing
/// more: its next advert was due at about 5000.9 ms.
///
/// Input: A's three adverts (4554.2, 5554.5, 6554.8 ms). The Node is
/// started so that it becomes Active when B did: 5 s before B's second
/// ARP burst, itself one Active_Down_Interval of priority 100 (3 s +
/// 609.375 ms) after the start. That moment is taken from the ARPs alone;
/// that the Node's adverts then fall on B's is a check of its own.
///
/// Expected: B's adverts (same bytes: VRID 121, priority 100, 100 cs,
/// 192.0.2.121) at B's times within the capture; the second burst of 5
/// gratuitous ARPs at B's time; Active -> Backup at A's first advert (RFC
/// 9568 6.4.3: a higher priority is heard), inside B's own silence window.
/// Documented difference (docs/election.md, "Diagnostics";
/// docs/rfc-compliance.md 9568-6.4.3-j): the Node sends one last advert
/// with its own priority (100, not 0) as it yields, which keepalived does
/// not, and then nothing.
#[test]
fn ka_v3_preempt_node_b_yields_to_the_higher_priority() {
    let cap = load("ka-v3-preempt");
    let real_b = cap.adverts_from(NODE_B);
    let from_a = cap.adverts_from(NODE_A);
    let b_arps = cap.arps_from(mac(0x0b));
    assert_eq!(b_arps.len(), 5, "B's refresh burst");
    let became_active = b_arps[0].at_ms - REFRESH_MS;
    let start = became_active - vrrp3_down_ms(100);
    let preempted = from_a[0].at_ms;

    let run = replay(
        &preempt_config(100),
        "vi121",
        NODE_B,
        start,
        &from_a,
        cap.end_ms,
    );

    let sent = run.adverts();
    // Within the capture: the Node's adverts from capture time 0 on.
    let in_capture: Vec<Sent> = sent
        .into_iter()
        .filter(|s| s.at_ms > -TOLERANCE_MS)
        .collect();
    let (regular, last) = in_capture.split_at(in_capture.len().saturating_sub(1));
    assert_same_vrrp3_adverts(regular, &real_b);
    // The documented extension: one last advert as it yields, at A's first
    // advert, with its own priority; keepalived's B sent none.
    let last = &last[0];
    assert_near("the advert sent on yielding", last.at_ms, preempted);
    assert_eq!(vrrp3_priority(&last.advert), 100, "not a resignation");
    let b_last = real_b.last().expect("B advertised").at_ms;
    assert!(
        b_last < preempted && preempted < b_last + 1000.0 + TOLERANCE_MS,
        "keepalived's B stopped between its last advert and the next one due"
    );
    assert_states(
        &run,
        &[
            (State::Initialize, State::Backup, start),
            (State::Backup, State::Active, became_active),
            (State::Active, State::Backup, preempted),
        ],
    );
    assert_eq!(
        run.states()[2].reason,
        Reason::Preempted { by: NODE_A },
        "reason of the yield"
    );
    assert_same_garp_burst(&run, became_active + REFRESH_MS, &b_arps, VIP_121);
    // The addresses go after the last advert.
    let advert = run
        .outputs
        .iter()
        .rposition(|(_, o)| matches!(o, Output::SendAdvert { .. }))
        .expect("an advert");
    let removed = run
        .position(|o| matches!(o, Output::RemoveAddresses { .. }))
        .expect("the addresses are removed");
    assert!(
        advert < removed,
        "the last advert goes before the addresses"
    );
    // Yielding is reported as such (`yielded`, docs/election.md).
    match &run.diagnostics()[..] {
        [Diagnostic::SplitBrain {
            other,
            other_priority,
            we_win: false,
        }] => assert_eq!((*other, other_priority.0), (NODE_A, 200)),
        other => panic!("diagnostics: {other:?}"),
    }
}

// ----- keepalived VRRPv3: election at start ------------------------------------

/// Settings of the capture `ka-v3-pair-election` (keepalived 2.2.7, VRRPv3
/// over IPv4, VRID 111, advert_int 1, virtual address 192.0.2.111/24,
/// preempt, state BACKUP) for a node of `priority`.
fn election_config(priority: u8) -> String {
    format!(
        "[[instance]]\nname = \"vi111\"\ninterface = \"eth0\"\nvrid = 111\n\
         priority = {priority}\ninterval = 1\n\
         addresses = [\"192.0.2.111/24\"]\n"
    )
}

/// `ka-v3-pair-election`, the Node as node B (192.0.2.2, priority 100).
/// Settings (keepalived 2.2.7, both nodes): VRRPv3 over IPv4, VRID 111,
/// advert_int 1 s, 192.0.2.111/24, state BACKUP; A priority 200, B 100.
///
/// Capture: A (priority 200) and B (100) started at the same moment, both
/// Backup; A's Active_Down_Interval (3 s + 218.75 ms) ran out first, A
/// advertised at 0, 1000.4, 2000.6 and 3000.9 ms; B never advertised.
///
/// Input: A's four adverts. The Node starts with A, one
/// Active_Down_Interval of priority 200 before A's first advert; its own
/// (3 s + 609.375 ms) would run out 390.6 ms after A's first advert.
///
/// Expected: the Node stays Backup, sends no advert and no announcement and
/// adds no address (A's adverts, priority 200 >= 100, reset its timer).
#[test]
fn ka_v3_pair_election_node_b_stays_backup() {
    let cap = load("ka-v3-pair-election");
    let from_a = cap.adverts_from(NODE_A);
    assert!(cap.adverts_from(NODE_B).is_empty(), "B never advertised");
    assert_eq!(from_a.len(), 4);
    let start = from_a[0].at_ms - vrrp3_down_ms(200);
    // A Node that ignored A would take over inside the capture.
    assert!(start + vrrp3_down_ms(100) < cap.end_ms);

    let run = replay(
        &election_config(100),
        "vi111",
        NODE_B,
        start,
        &from_a,
        cap.end_ms,
    );

    assert_same_vrrp3_adverts(&run.adverts(), &[]);
    assert_states(&run, &[(State::Initialize, State::Backup, start)]);
    assert!(run.announcements().is_empty(), "no announcement");
    assert!(run
        .position(|o| matches!(o, Output::AddAddresses { .. }))
        .is_none());
    assert!(run.diagnostics().is_empty(), "{:?}", run.diagnostics());
}

/// `ka-v3-pair-election`, the Node as node A (192.0.2.1, priority 200).
/// Settings: VRRPv3 over IPv4, VRID 111, advert_int 1 s, 192.0.2.111/24,
/// state BACKUP; A priority 200, B 100; started at the same moment.
///
/// Capture: B never advertised; A's first advert at 0 ms, followed by 5 gratuitous
/// ARPs, then adverts at 1000.4, 2000.6, 3000.9 ms.
///
/// Input: none (B sent nothing). keepalived's start-up moment is not in
/// the capture: the Node starts one Active_Down_Interval of priority 200
/// before A's first advert (the RFC 9568 6.4.1 start as Backup, then
/// 6.4.2's timer).
///
/// Expected: Backup, then Active at 0 ms; A's adverts byte for byte at A's
/// times; keepalived's burst of 5 gratuitous ARPs at the takeover.
#[test]
fn ka_v3_pair_election_node_a_wins_with_keepalived_adverts() {
    let cap = load("ka-v3-pair-election");
    let real_a = cap.adverts_from(NODE_A);
    assert!(cap.adverts_from(NODE_B).is_empty(), "B never advertised");
    let takeover = real_a[0].at_ms;
    let start = takeover - vrrp3_down_ms(200);

    let run = replay(
        &election_config(200),
        "vi111",
        NODE_A,
        start,
        &[],
        cap.end_ms,
    );

    assert_same_vrrp3_adverts(&run.adverts(), &real_a);
    assert_states(
        &run,
        &[
            (State::Initialize, State::Backup, start),
            (State::Backup, State::Active, takeover),
        ],
    );
    assert_eq!(run.states()[1].reason, Reason::ActiveDown);
    assert_same_garp_burst(
        &run,
        takeover,
        &cap.arps_from(mac(0x0a)),
        Ipv4Addr::new(192, 0, 2, 111),
    );
}

// ----- ucarp CARP: election at start -------------------------------------------

/// Settings of the capture `ucarp-pair-election` (ucarp 1.5.2, vhid 11,
/// `--pass=pairpass`, `--addr=192.0.2.131`, `--advbase=1`, no `--preempt`)
/// for a node of `advskew`.
fn carp_config(advskew: u8) -> String {
    format!(
        "[[instance]]\nname = \"carp11\"\ninterface = \"eth0\"\nprotocol = \"carp\"\n\
         vrid = 11\npassword = \"pairpass\"\nadvbase = 1\nadvskew = {advskew}\n\
         preempt = false\naddresses = [\"192.0.2.131/24\"]\n"
    )
}

const VIP_131: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 131);

fn mac(last: u8) -> [u8; 6] {
    [0x02, 0, 0, 0, 0, last]
}

/// `ucarp-pair-election`, the Node as node B (192.0.2.2, advskew 100).
/// Settings (ucarp 1.5.2, both nodes): vhid 11, password pairpass,
/// virtual address 192.0.2.131, advbase 1, no preempt; A advskew 0, B 100.
///
/// Capture: A (advskew 0) and B (advskew 100) started at the same moment;
/// A's master-down timer (3 x 1 s) ran out first; A advertised at 0,
/// 998.2 and 1999.1 ms (HMAC-SHA1 keyed with "pairpass"); B stayed silent.
///
/// Input: A's three adverts. The Node starts with A, 3 s before A's first
/// advert; its own master-down interval (3 s + 100/256 s) would run out
/// 390.6 ms after A's first advert.
///
/// Expected: the Node accepts ucarp's HMAC (no authentication diagnostic),
/// stays Backup, sends no advert and no announcement.
#[test]
fn ucarp_pair_election_node_b_stays_backup() {
    let cap = load("ucarp-pair-election");
    let from_a = cap.adverts_from(NODE_A);
    assert!(cap.adverts_from(NODE_B).is_empty(), "B never advertised");
    assert_eq!(from_a.len(), 3);
    let start = from_a[0].at_ms - carp_down_ms(1, 0);
    assert!(start + carp_down_ms(1, 100) < cap.end_ms);

    let run = replay(
        &carp_config(100),
        "carp11",
        NODE_B,
        start,
        &from_a,
        cap.end_ms,
    );

    assert!(run.adverts().is_empty(), "the Node advertised");
    assert_states(&run, &[(State::Initialize, State::Backup, start)]);
    assert!(run.announcements().is_empty(), "no announcement");
    assert!(run.diagnostics().is_empty(), "{:?}", run.diagnostics());
}

/// `ucarp-pair-election`, the Node as node A (192.0.2.1, advskew 0).
/// Settings: vhid 11, password pairpass, virtual address 192.0.2.131,
/// advbase 1, no preempt; A advskew 0, B 100; started at the same moment.
///
/// Capture: B never advertised; A sends a gratuitous ARP and its first advert at
/// 0 ms, adverts at 998.2 and 1999.1 ms, and another gratuitous ARP right
/// after the third advert.
///
/// Input: none (B sent nothing). The Node starts 3 s (3 x advbase +
/// 0/256) before A's first advert.
///
/// Expected: Backup, then Active at 0 ms; adverts at A's times with A's
/// fields (vhid 11, advbase 1, advskew 0, demotion 0), to 224.0.0.18, each
/// with a valid HMAC for "pairpass" and 192.0.2.131. Documented
/// differences: ucarp draws a new random counter for every advert until it
/// hears a peer (vectors README), the Node keeps its replay cookie
/// (docs/election.md: the counter is a replay cookie, not a sequence
/// number); ucarp announces with one ARP (target MAC its own) per round,
/// the Node with its `announce` burst (5 keepalived-style ARPs,
/// docs/config.md).
#[test]
fn ucarp_pair_election_node_a_wins_with_ucarp_adverts() {
    let cap = load("ucarp-pair-election");
    let real_a = cap.adverts_from(NODE_A);
    assert!(cap.adverts_from(NODE_B).is_empty(), "B never advertised");
    let takeover = real_a[0].at_ms;
    let start = takeover - carp_down_ms(1, 0);

    let run = replay(&carp_config(0), "carp11", NODE_A, start, &[], cap.end_ms);

    let sent = run.adverts();
    assert_eq!(
        sent.len(),
        real_a.len(),
        "adverts: the Node sent at {:.1?} ms, ucarp at {:.1?} ms",
        sent.iter().map(|s| s.at_ms).collect::<Vec<_>>(),
        real_a.iter().map(|p| p.at_ms).collect::<Vec<_>>(),
    );
    let vhid = Vrid::new(11).expect("VHID");
    let key = carp::Key::new(b"pairpass", vhid, &[IpAddr::V4(VIP_131)]);
    for (n, (s, p)) in sent.iter().zip(&real_a).enumerate() {
        assert_near(&format!("advert {}", n + 1), s.at_ms, p.at_ms);
        assert_eq!(
            (s.dst, p.dst),
            (GROUP, GROUP),
            "advert {}: destination",
            n + 1
        );
        let real = codec::decode(&p.bytes, p.src, p.dst).expect("the real advert decodes");
        let (mine, theirs) = (carp_repr(&s.advert), carp_repr(&real));
        assert_eq!(
            (mine.vhid, mine.advbase, mine.advskew, mine.demotion),
            (theirs.vhid, theirs.advbase, theirs.advskew, theirs.demotion),
            "advert {}: fields",
            n + 1
        );
        for (who, bytes) in [("the Node's", &s.bytes), ("ucarp's", &p.bytes)] {
            carp::Packet::new_checked(&bytes[..])
                .expect("a CARP message")
                .verify_hmac(&key)
                .unwrap_or_else(|e| panic!("{who} advert {}: {e}", n + 1));
        }
    }
    // The counter: ucarp's changes at random, the Node's stays.
    let theirs: Vec<u64> = real_a
        .iter()
        .map(|p| carp_repr(&codec::decode(&p.bytes, p.src, p.dst).expect("decodes")).counter)
        .collect();
    let mine: Vec<u64> = sent.iter().map(|s| carp_repr(&s.advert).counter).collect();
    assert!(
        theirs
            .windows(2)
            .all(|w| w[1] != w[0] && w[1] != w[0].wrapping_add(1)),
        "ucarp's counters are random: {theirs:x?}"
    );
    assert!(
        mine.windows(2).all(|w| w[0] == w[1]),
        "the Node's counter is its replay cookie: {mine:x?}"
    );

    assert_states(
        &run,
        &[
            (State::Initialize, State::Backup, start),
            (State::Backup, State::Active, takeover),
        ],
    );
    // Announcements: the Node's burst at the takeover, keepalived's form;
    // ucarp's one ARP of its own form.
    let burst: Vec<_> = run
        .announcements()
        .into_iter()
        .filter(|(t, _)| (t - takeover).abs() <= TOLERANCE_MS)
        .collect();
    assert_eq!(burst.len(), 5, "the Node's announce burst (repeat = 5)");
    for (_, f) in &burst {
        assert_eq!(f, &frame::gratuitous_arp(run.mac, VIP_131).to_vec());
    }
    let ucarp_arps = cap.arps_from(mac(0x0a));
    let first: Vec<_> = ucarp_arps
        .iter()
        .filter(|a| (a.at_ms - takeover).abs() <= TOLERANCE_MS)
        .collect();
    assert_eq!(first.len(), 1, "ucarp's announcement at the takeover");
    let mut ucarp_form = frame::gratuitous_arp(mac(0x0a), VIP_131).to_vec();
    ucarp_form[32..38].copy_from_slice(&mac(0x0a));
    assert_eq!(
        first[0].frame, ucarp_form,
        "ucarp's ARP: target MAC its own"
    );
}

// ----- keepalived VRRPv3: no preemption ------------------------------------------

/// `ka-v3-nopreempt`, the Node as node A (192.0.2.1, priority 200,
/// `preempt = false`, keepalived's `nopreempt`). Settings (keepalived
/// 2.2.7): VRRPv3 over IPv4, VRID 122, advert_int 1 s, 192.0.2.122/24,
/// state BACKUP; A priority 200 with nopreempt, B priority 100.
///
/// Capture: B is Active and advertises every second from 0 to 6001.2 ms
/// (with its ARP refresh at 3999.8 ms); A is started during the capture and
/// stays Backup and silent although its priority is higher.
///
/// Input: B's adverts after the Node starts. A's start-up moment is not in
/// the capture; the Node starts 500 ms after B's first advert, early
/// enough that its own Active_Down_Interval (3 s + 218.75 ms) would run out
/// inside the capture if it discarded B's adverts.
///
/// Expected: RFC 9568 6.4.2 with Preempt_Mode False: each of B's adverts
/// resets the Node's timer; it stays Backup, sends no advert, no
/// announcement, adds no address.
#[test]
fn ka_v3_nopreempt_node_a_stays_backup() {
    let cap = load("ka-v3-nopreempt");
    assert!(cap.adverts_from(NODE_A).is_empty(), "A never advertised");
    let start = cap.adverts[0].at_ms + 500.0;
    assert!(start + vrrp3_down_ms(200) < cap.end_ms);
    let from_b: Vec<_> = cap
        .adverts_from(NODE_B)
        .into_iter()
        .filter(|p| p.at_ms > start)
        .collect();
    assert_eq!(from_b.len(), 6, "B's adverts heard");
    let config = "[[instance]]\nname = \"vi122\"\ninterface = \"eth0\"\nvrid = 122\n\
                  priority = 200\ninterval = 1\npreempt = false\n\
                  addresses = [\"192.0.2.122/24\"]\n";

    let run = replay(config, "vi122", NODE_A, start, &from_b, cap.end_ms);

    assert_same_vrrp3_adverts(&run.adverts(), &[]);
    assert_states(&run, &[(State::Initialize, State::Backup, start)]);
    assert!(run.announcements().is_empty(), "no announcement");
    assert!(run
        .position(|o| matches!(o, Output::AddAddresses { .. }))
        .is_none());
    assert!(run.diagnostics().is_empty(), "{:?}", run.diagnostics());
}
