//! The conntrackd endpoint against itself (two endpoints on a virtual
//! link with loss and reordering, a clock that jumps to the next
//! deadline) and against the datagrams a real conntrackd sent.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

use tandem_replication::conntrackd::endpoint::{Config, Endpoint, Event, Mode, Output};
use tandem_replication::conntrackd::msg::{self, flags, Body, MsgType, Repr};
use tandem_replication::flow::{proto, Flow, FlowKey, Tuple};
use tandem_time::Instant;

fn flow(i: u32) -> Flow {
    let ip = |a: u32| IpAddr::V4(Ipv4Addr::from(a));
    Flow::untranslated(
        if i % 3 == 0 { proto::UDP } else { proto::TCP },
        Tuple {
            src: ip(0xc633_6400 | (i & 0xff)),        // 198.51.100.x
            dst: ip(0xcb00_7100 | ((i >> 8) & 0xff)), // 203.0.113.x
            src_port: 10_000 + (i % 50_000) as u16,
            dst_port: 80,
        },
        if i % 3 == 0 { 0 } else { 3 },
        120_000,
    )
}

/// Two endpoints, A and B, on a link that drops or reorders by rule.
struct Link {
    now: Instant,
    a: Endpoint,
    b: Endpoint,
    /// (deliver at, to_b, bytes)
    flight: Vec<(Instant, bool, Vec<u8>)>,
    sent: u64,
    drop: Box<dyn FnMut(u64, bool) -> bool>,
    delay: Box<dyn FnMut(u64) -> Duration>,
    events: Vec<(bool, Event)>,
}

impl Link {
    fn new(mode: Mode, tweak: impl Fn(&mut Config)) -> Link {
        let mut ca = Config::new(mode, 1_000);
        let mut cb = Config::new(mode, u32::MAX - 5); // B's numbers wrap
        tweak(&mut ca);
        tweak(&mut cb);
        let now = Instant::from_millis(1);
        Link {
            now,
            a: Endpoint::new(ca, now),
            b: Endpoint::new(cb, now),
            flight: Vec::new(),
            sent: 0,
            drop: Box::new(|_, _| false),
            delay: Box::new(|_| Duration::from_micros(100)),
            events: Vec::new(),
        }
    }

    fn drain(&mut self) {
        for to_b in [true, false] {
            let ep = if to_b { &mut self.a } else { &mut self.b };
            while let Some(o) = ep.poll_output() {
                match o {
                    Output::Send(d) => {
                        let n = self.sent;
                        self.sent += 1;
                        let dropped = (self.drop)(n, to_b);
                        if std::env::var("CTD_TRACE").is_ok() {
                            for m in msg::messages(&d) {
                                let r = Repr::parse(&m.unwrap()).unwrap();
                                let k = r.entry().map(|a| {
                                    tandem_replication::conntrackd::entry::to_flow(a, 0)
                                        .unwrap()
                                        .original
                                        .src_port
                                });
                                eprintln!(
                                    "{} {} {} seq={} ty={:?} fl={:#x} {:?} key={:?}",
                                    self.now,
                                    if to_b { "A>B" } else { "B>A" },
                                    if dropped { "LOST" } else { "ok" },
                                    r.seq,
                                    r.msg_type,
                                    r.flags,
                                    match r.body {
                                        Body::Control { range } => range,
                                        _ => None,
                                    },
                                    k
                                );
                            }
                        }
                        if !dropped {
                            let at = self.now + (self.delay)(n);
                            self.flight.push((at, to_b, d));
                        }
                    }
                    Output::Event(e) => self.events.push((to_b, e)),
                }
            }
        }
    }

    /// Runs until `until`, jumping to each next deadline or delivery.
    fn run(&mut self, until: Instant) {
        for _ in 0..1_000_000 {
            self.drain();
            let next_flight = self.flight.iter().map(|f| f.0).min();
            let next = [self.a.poll_timeout(), self.b.poll_timeout(), next_flight]
                .into_iter()
                .flatten()
                .min()
                .unwrap();
            if next > until {
                self.now = until;
                return;
            }
            self.now = self.now.max(next);
            let now = self.now;
            let mut due: Vec<_> = Vec::new();
            self.flight.retain(|f| {
                if f.0 <= now {
                    due.push(f.clone());
                    false
                } else {
                    true
                }
            });
            due.sort_by_key(|f| f.0);
            for (_, to_b, d) in due {
                if to_b {
                    self.b.handle_datagram(now, &d);
                } else {
                    self.a.handle_datagram(now, &d);
                }
            }
            self.a.handle_timeout(now);
            self.b.handle_timeout(now);
        }
        panic!("simulation did not settle");
    }

    fn secs(&mut self, s: u64) {
        let t = self.now + Duration::from_secs(s);
        self.run(t);
    }
}

fn table(flows: Vec<Flow>) -> BTreeMap<FlowKey, Flow> {
    flows.into_iter().map(|f| (f.key(), f)).collect()
}

/// The mirror equals the table (the differing keys only, on failure).
fn same(mirror: Vec<Flow>, local: Vec<Flow>) {
    let (m, l) = (table(mirror), table(local));
    let missing: Vec<_> = l
        .iter()
        .filter(|(k, f)| m.get(k) != Some(f))
        .map(|x| x.0)
        .take(3)
        .collect();
    let extra: Vec<_> = m.keys().filter(|k| !l.contains_key(k)).take(3).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "mirror {} vs table {}: missing or stale {missing:?}, extra {extra:?}",
        m.len(),
        l.len()
    );
}

#[test]
fn ftfw_pair_mirrors_new_updates_and_deletes() {
    let mut l = Link::new(Mode::Ftfw, |_| {});
    l.a.set_active(l.now, true);
    for i in 0..500 {
        l.a.upsert_flow(l.now, flow(i)).unwrap();
    }
    l.secs(2);
    same(l.b.mirror_flows(l.now), l.a.local_flows());
    // An update and a delete.
    let mut f = flow(7);
    f.state = 7; // TIME_WAIT
    l.a.upsert_flow(l.now, f).unwrap();
    assert!(l.a.remove_flow(l.now, &flow(8).key()));
    l.secs(2);
    let m = table(l.b.mirror_flows(l.now));
    assert_eq!(m.len(), 499);
    assert_eq!(m[&f.key()].state, 7);
    same(l.b.mirror_flows(l.now), l.a.local_flows());
    // Everything was acknowledged: nothing left to repair but the last
    // ACK (the two sides acknowledge each other's ACKs every second, as
    // conntrackd does), deletes forgotten.
    let st = l.a.status();
    assert!(st.resend_queue <= 1, "{st:?}");
    assert_eq!(st.counters.retransmitted, 0);
    assert!(st.hello_done && l.b.status().hello_done);
    assert!(l.b.status().counters.acks_sent > 0);
    // Changes made one call at a time go one datagram each (as conntrackd
    // under a trickle of events).
    assert!(st.counters.datagrams_sent >= 500);
}

#[test]
fn a_bulk_fills_datagrams_as_conntrackd_does() {
    let mut l = Link::new(Mode::Ftfw, |_| {});
    for i in 0..500 {
        l.a.upsert_flow(l.now, flow(i)).unwrap();
    }
    l.a.set_active(l.now, true); // a bulk of the table
    let mut sizes = Vec::new();
    while let Some(o) = l.a.poll_output() {
        if let Output::Send(d) = o {
            sizes.push(d.len());
        }
    }
    // 500 entries of 68 (UDP) and 76 (TCP) bytes below 1,472 bytes a
    // datagram: 19 to 21 a datagram.
    assert!(sizes.iter().all(|&s| s < 1472));
    assert!(sizes.len() <= 27, "{sizes:?}");
    assert!(
        sizes[..sizes.len() - 1].iter().all(|&s| s > 1472 - 80),
        "{sizes:?}"
    );
}

#[test]
fn ftfw_repairs_loss_and_reordering_by_current_state() {
    // 1 in 3 to 1 in 7 datagrams lost both ways, 40 seeds: 30 s suffice.
    for (seed, loss) in (0..40u64).map(|s| (s * 7919 + 1, 3 + s % 5)) {
        lossy_run(seed, loss, 30);
    }
    // Half of them lost: slow (each repair round waits for the alive
    // period), but it converges.
    for seed in [1, 2, 3] {
        lossy_run(seed, 2, 300);
    }
}

/// Loses 1 in `loss` datagrams both ways and reorders, while A inserts,
/// updates and deletes: B ends with A's table.
fn lossy_run(seed: u64, loss: u64, settle_s: u64) {
    let mut rng = seed;
    let mut l = Link::new(Mode::Ftfw, |_| {});
    l.drop = Box::new(move |_, _| {
        rng = rng
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (rng >> 33) % loss == 0
    });
    l.delay = Box::new(|n| Duration::from_micros(100 + (n % 7) * 300)); // reorders
    l.a.set_active(l.now, true);
    for i in 0..300 {
        l.a.upsert_flow(l.now, flow(i)).unwrap();
        if i % 10 == 0 {
            let t = l.now + Duration::from_millis(3);
            l.run(t);
        }
    }
    for i in (0..300).step_by(7) {
        l.a.remove_flow(l.now, &flow(i).key());
        let mut f = flow(i + 1);
        f.mark = 9;
        l.a.upsert_flow(l.now, f).unwrap();
    }
    l.secs(settle_s);
    eprintln!("seed {seed:#x}, 1 in {loss} lost");
    assert_eq!(l.a.status().local_flows, l.a.local_flows().len());
    same(l.b.mirror_flows(l.now), l.a.local_flows());
    let a = l.a.status().counters;
    let b = l.b.status().counters;
    assert!(b.nacks_sent > 0 && a.retransmitted > 0, "{a:?} {b:?}");
    assert!(l
        .events
        .iter()
        .any(|(to_b, e)| !to_b && matches!(e, Event::Gap { .. })));
}

#[test]
fn full_resend_queue_is_counted_and_repaired_by_a_bulk() {
    let mut l = Link::new(Mode::Ftfw, |c| c.resend_queue = 8);
    l.a.set_active(l.now, true);
    // 0: B's ACKs are lost; 1: everything is lost; 2: nothing is.
    let gate = std::rc::Rc::new(std::cell::Cell::new(0u8));
    let g = gate.clone();
    l.drop = Box::new(move |_, to_b| match g.get() {
        0 => !to_b,
        1 => true,
        _ => false,
    });
    for i in 0..40 {
        l.a.upsert_flow(l.now, flow(i)).unwrap();
    }
    l.secs(2);
    let st = l.a.status();
    assert!(
        st.counters.resend_evicted > 0 && st.resend_queue <= 8,
        "{st:?}"
    );
    assert!(l
        .events
        .iter()
        .any(|(a, e)| *a && matches!(e, Event::ResendOverflow { .. })));
    // Changes lost while the queue could not hold them...
    gate.set(1);
    for i in 100..120 {
        l.a.upsert_flow(l.now, flow(i)).unwrap();
    }
    l.secs(1);
    // ... come back with the bulk sent once B is heard again.
    gate.set(2);
    let bulked = l.a.status().counters.bulk_entries_sent;
    l.secs(5);
    assert!(l.a.status().counters.bulk_entries_sent >= bulked + 60);
    same(l.b.mirror_flows(l.now), l.a.local_flows());
}

#[test]
fn resync_sends_the_whole_table_paced() {
    let mut l = Link::new(Mode::Ftfw, |c| {
        c.bulk_bytes_per_tick = 4 * 1472;
        c.bulk_tick = Duration::from_millis(1);
        c.resend_queue = 1 << 16;
    });
    // A's table exists before it streams: B learns it only by RESYNC.
    for i in 0..10_000 {
        l.a.upsert_flow(l.now, flow(i)).unwrap();
    }
    l.secs(2);
    assert!(l.b.mirror_flows(l.now).is_empty());
    l.b.request_resync(l.now);
    let start = l.now;
    l.run(start + Duration::from_millis(20));
    // Paced: about 4 datagrams (~70 entries) per millisecond, not a burst.
    let n = l.b.mirror_flows(l.now).len();
    assert!(n > 1_000 && n < 2_000, "{n} entries after 20 ms");
    l.secs(2);
    same(l.b.mirror_flows(l.now), l.a.local_flows());
    assert!(l
        .events
        .iter()
        .any(|(a, e)| *a && matches!(e, Event::ResyncRequested)));
    assert!(l
        .events
        .iter()
        .any(|(a, e)| *a && *e == Event::BulkSent { entries: 10_000 }));
}

#[test]
fn notrack_pair_sends_no_acks_and_resyncs() {
    let mut l = Link::new(Mode::Notrack, |_| {});
    l.a.set_active(l.now, true);
    for i in 0..100 {
        l.a.upsert_flow(l.now, flow(i)).unwrap();
    }
    l.secs(3);
    same(l.b.mirror_flows(l.now), l.a.local_flows());
    let (a, b) = (l.a.status(), l.b.status());
    assert_eq!((a.counters.acks_sent, b.counters.acks_sent), (0, 0));
    assert_eq!(a.resend_queue, 0);
    assert!(a.peer_up && b.peer_up, "ALIVE keeps both up");
    // Lost messages stay lost until a resync.
    l.drop = Box::new(|_, to_b| to_b);
    l.a.upsert_flow(l.now, flow(1000)).unwrap();
    l.secs(1);
    l.drop = Box::new(|_, _| false);
    l.secs(2);
    assert_eq!(l.b.mirror_flows(l.now).len(), 100);
    assert!(l.b.status().counters.messages_lost > 0);
    l.b.request_resync(l.now);
    l.secs(1);
    assert_eq!(l.b.mirror_flows(l.now).len(), 101);
}

#[test]
fn our_datagrams_follow_conntrackds_rules() {
    let mut l = Link::new(Mode::Ftfw, |_| {});
    l.a.set_active(l.now, true);
    for i in 0..100 {
        l.a.upsert_flow(l.now, flow(i)).unwrap();
    }
    let mut seqs = Vec::new();
    while let Some(o) = l.a.poll_output() {
        let Output::Send(d) = o else { continue };
        assert!(d.len() < 1472);
        for m in msg::messages(&d) {
            let r = Repr::parse(&m.unwrap()).unwrap();
            assert!(r.flags & flags::HELLO != 0, "HELLO until HELLO_BACK");
            seqs.push(r.seq);
        }
    }
    assert_eq!(seqs, (1000..1100).collect::<Vec<u32>>());
}

fn vector(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors")
        .join(name)
}

/// (from the sender 192.0.2.1, UDP payload) of a capture.
fn capture(name: &str) -> Vec<(bool, Vec<u8>)> {
    let b = std::fs::read(vector(name)).unwrap();
    let mut out = Vec::new();
    let mut at = 24;
    while at + 16 <= b.len() {
        let incl = u32::from_le_bytes(b[at + 8..at + 12].try_into().unwrap()) as usize;
        let ip = &b[at + 16 + 14..at + 16 + incl];
        at += 16 + incl;
        let ihl = usize::from(ip[0] & 0x0f) * 4;
        out.push((ip[12..16] == [192, 0, 2, 1], ip[ihl + 8..].to_vec()));
    }
    out
}

fn ctl_replies(ep: &mut Endpoint) -> Vec<(u8, Option<(u32, u32)>)> {
    let mut v = Vec::new();
    while let Some(o) = ep.poll_output() {
        if let Output::Send(d) = o {
            for m in msg::messages(&d) {
                let r = Repr::parse(&m.unwrap()).unwrap();
                if let Body::Control { range } = r.body {
                    v.push((r.flags & !(flags::HELLO | flags::HELLO_BACK), range));
                }
            }
        }
    }
    v
}

#[test]
fn receives_a_real_conntrackd_and_nacks_what_it_lost() {
    // conntrackd's receiver in the lossy capture NACKed what nftables
    // dropped (every third datagram of the sender). Ours, fed the same
    // surviving datagrams, NACKs the same ranges and ends with the
    // sender's table.
    let mut ours = Endpoint::new(Config::new(Mode::Ftfw, 7), Instant::from_millis(1));
    let mut theirs_nacks = Vec::new();
    let mut our_nacks = Vec::new();
    let mut i = 0;
    let mut t = 1;
    for (from_sender, d) in capture("conntrackd-ftfw-loss.pcap") {
        t += 1;
        let now = Instant::from_millis(t);
        if !from_sender {
            for m in msg::messages(&d) {
                let r = Repr::parse(&m.unwrap()).unwrap();
                if let (true, Body::Control { range: Some(rg) }) =
                    (r.flags & flags::NACK != 0, r.body)
                {
                    theirs_nacks.push(rg);
                }
            }
            continue;
        }
        let dropped = i % 3 == 1;
        i += 1;
        if dropped {
            continue;
        }
        ours.handle_datagram(now, &d);
        for (f, range) in ctl_replies(&mut ours) {
            if f & flags::NACK != 0 {
                our_nacks.push(range.unwrap());
            }
        }
    }
    assert!(!theirs_nacks.is_empty());
    assert_eq!(our_nacks, theirs_nacks);
    let live: Vec<Flow> = ours.mirror_flows(Instant::from_millis(t));
    assert_eq!(live.len(), 6, "9 inserted, 3 deleted");
    let c = ours.status().counters;
    assert_eq!((c.malformed, c.entries_refused, c.bad_header), (0, 0, 0));
}

#[test]
fn answers_hello_and_a_real_resync_request() {
    // The receiver side of the FT-FW capture, fed to our endpoint acting
    // as the sender (with one local flow): conntrackd's HELLO gets
    // HELLO_BACK, its RESYNC a bulk.
    let mut ours = Endpoint::new(Config::new(Mode::Ftfw, 1), Instant::from_millis(1));
    ours.upsert_flow(Instant::from_millis(1), flow(1)).unwrap();
    let mut got_back = false;
    let mut bulk = 0;
    let mut t = 1;
    for (from_sender, d) in capture("conntrackd-ftfw.pcap") {
        if from_sender {
            continue;
        }
        t += 1;
        ours.handle_datagram(Instant::from_millis(t), &d);
        while let Some(o) = ours.poll_output() {
            let Output::Send(d) = o else { continue };
            for m in msg::messages(&d) {
                let r = Repr::parse(&m.unwrap()).unwrap();
                got_back |= r.flags & flags::HELLO_BACK != 0;
                bulk += usize::from(r.msg_type == MsgType::CtNew);
            }
        }
    }
    assert!(got_back);
    assert_eq!(bulk, 1, "the one local flow, once, for the one RESYNC");
    assert!(ours.status().peer_up);
}

#[test]
fn a_backup_keeps_its_table_to_itself_but_answers_resync() {
    let mut l = Link::new(Mode::Ftfw, |_| {});
    for i in 0..5 {
        l.a.upsert_flow(l.now, flow(i)).unwrap();
    }
    assert!(l.a.remove_flow(l.now, &flow(4).key()));
    assert!(!l.a.remove_flow(l.now, &flow(4).key()), "already gone");
    l.secs(2);
    assert!(l.b.mirror_flows(l.now).is_empty(), "Backup streams nothing");
    assert_eq!(l.a.status().local_flows, 4);
    l.b.request_resync(l.now);
    l.secs(2);
    same(l.b.mirror_flows(l.now), l.a.local_flows());
    assert_eq!(l.b.status().counters.resyncs_requested, 1);
    assert_eq!(l.a.status().counters.resyncs_answered, 1);
}

#[test]
fn full_table_refuses_and_counts() {
    let now = Instant::from_millis(1);
    let mut c = Config::new(Mode::Ftfw, 1);
    c.max_flows = 2;
    let mut ep = Endpoint::new(c, now);
    ep.upsert_flow(now, flow(1)).unwrap();
    ep.upsert_flow(now, flow(2)).unwrap();
    ep.upsert_flow(now, flow(2)).unwrap(); // an update takes no room
    let err = ep.upsert_flow(now, flow(3)).unwrap_err();
    assert_eq!(err.capacity, 2);
    assert_eq!(ep.status().counters.table_full, 1);
}

#[test]
fn malformed_datagrams_and_expectations_are_counted_not_applied() {
    let now = Instant::from_millis(1);
    let mut ep = Endpoint::new(Config::new(Mode::Ftfw, 1), now);
    // Garbage, a wrong version, a truncated message.
    ep.handle_datagram(now, &[0xff; 3]);
    ep.handle_datagram(now, &[0x20, 0, 0, 8, 0, 0, 0, 1]);
    ep.handle_datagram(now, &[0x10, 0, 0, 40, 0, 0, 0, 1, 0, 0]);
    // An expectation (EXP_NEW with one attribute) and a CT_NEW without a
    // tuple, both well framed.
    let exp = [0x13, 0, 0, 16, 0, 0, 0, 2, 0, 5, 0, 2, 6, 0, 0, 0];
    ep.handle_datagram(now, &exp);
    let no_tuple = [0x10, 0, 0, 16, 0, 0, 0, 3, 0, 5, 0, 2, 6, 0, 0, 0];
    ep.handle_datagram(now, &no_tuple);
    // A data message with ACK set is no data message.
    ep.handle_datagram(now, &[0x10, flags::ACK, 0, 8, 0, 0, 0, 4]);
    let c = ep.status().counters;
    assert_eq!(
        (c.malformed, c.bad_version, c.expectations_skipped),
        (2, 1, 1)
    );
    assert_eq!((c.entries_refused, c.bad_header), (1, 1));
    assert!(ep.mirror_flows(now).is_empty());
    let refused = std::iter::from_fn(|| ep.poll_output())
        .filter(|o| matches!(o, Output::Event(Event::Refused(_))))
        .count();
    assert_eq!(refused, 3);
}
