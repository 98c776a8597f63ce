//! Frames that must change nothing: replayed, forged, sealed with
//! another key or for another cluster, with a bad TTL, from our own node
//! id, of a boot never bound, of an old boot after a restart. Each is
//! refused, counted, told as an event, and leaves the mirror and the
//! sequence state as they were.

use std::time::Duration;

use tandem_replication::flow::Flow;
use tandem_replication::seal::{KeyRing, OpenError, Psk};
use tandem_replication::session::{Event, Refusal};
use tandem_replication::sim::{self, Side, Sim};
use tandem_replication::wire::{encode_payload, Handle, Header, Record, MINOR};

fn synced() -> Sim {
    let mut s = Sim::new(11, sim::config(1), sim::config(2));
    s.capture = true;
    s.a.set_active(s.now, true);
    for i in 0..200 {
        s.a.upsert_flow(s.now, sim::flow(i)).unwrap();
    }
    assert!(s.run_until(Duration::from_secs(5), |s| s.converged()
        && s.b.status().in_sync));
    s
}

/// What b holds of a's stream.
fn snapshot(s: &Sim) -> (u64, usize, Vec<Flow>, (u64, u64), bool) {
    let seq = s.b.debug_sequences();
    let mut flows = s.b.mirror_flows(s.now);
    flows.sort_by_key(|f| f.key());
    (
        s.b.digests().1,
        s.b.mirror().len(),
        flows,
        (seq.0, seq.1),
        s.b.status().in_sync,
    )
}

/// A frame from node `node` with boot `boot` carrying a flow insert.
fn frame(keys: &KeyRing, cluster: u16, node: u8, boot: u64, seq: u64) -> Vec<u8> {
    let mut payload = Vec::new();
    let mut f = sim::flow(4242);
    f.backend = 9;
    encode_payload(
        &[Record::Flow {
            handle: Handle { slot: 3, gen: 0 },
            flow: f,
        }],
        &mut payload,
    );
    let h = Header {
        minor: MINOR,
        flags: 0,
        payload_len: 0,
        cluster,
        node,
        stream: 0,
        key_id: 0,
        boot,
        seq,
    };
    keys.seal(h, &payload)
}

fn last_refusal(s: &Sim) -> Option<Refusal> {
    s.events_b.iter().rev().find_map(|e| match e {
        Event::Refused(r) => Some(r.clone()),
        _ => None,
    })
}

/// Injects `d` into b and checks it was refused with `name`, counted, and
/// changed nothing.
fn refused(s: &mut Sim, ttl: u8, d: &[u8], name: &str) {
    let before = snapshot(s);
    let c0 = s.b.status().counters;
    let n0 = s.events_b.len();
    s.inject(Side::B, ttl, d);
    let r = last_refusal(s).expect("refused");
    assert!(s.events_b.len() > n0, "no event for {name}");
    assert_eq!(r.name(), name, "{r}");
    let c = s.b.status().counters;
    let refusals = |c: &tandem_replication::session::Counters| {
        c.refused_ttl + c.refused_auth + c.refused_replay + c.refused_malformed
    };
    assert_eq!(refusals(&c), refusals(&c0) + 1, "{name} not counted");
    assert_eq!(c.frames_received, c0.frames_received, "{name} accepted");
    assert_eq!(snapshot(s), before, "{name} changed the mirror");
}

#[test]
fn forged_replayed_wrong_key_and_wrong_cluster_frames_change_nothing() {
    let mut s = synced();
    let from_a: Vec<Vec<u8>> = s
        .captured
        .iter()
        .filter(|(side, _)| *side == Side::A)
        .map(|(_, d)| d.clone())
        .collect();
    assert!(from_a.len() > 10);
    // Replayed: every frame of a, again (the newest and old ones).
    for d in from_a.iter().rev().take(5).chain(from_a.iter().take(5)) {
        refused(&mut s, 255, d, "replayed");
    }
    // Forged: one bit of the payload flipped.
    let mut forged = from_a.last().unwrap().clone();
    let i = forged.len() - 20;
    forged[i] ^= 0x01;
    refused(&mut s, 255, &forged, "bad_tag");
    // A header field altered (the header is authenticated too).
    let mut forged = from_a.last().unwrap().clone();
    forged[31] ^= 0x40; // the sequence number's low byte
    refused(&mut s, 255, &forged, "bad_tag");
    // Another key (another pair's key file).
    let other = KeyRing::new(sim::CLUSTER, &Psk::from_bytes([0x33; 32]), None).unwrap();
    let boot = s.a.boot();
    refused(
        &mut s,
        255,
        &frame(&other, sim::CLUSTER, 1, boot, 1 << 40),
        "unknown_key",
    );
    // Another cluster, same key.
    let keys = KeyRing::new(sim::CLUSTER + 1, &sim::psk(), None).unwrap();
    refused(
        &mut s,
        255,
        &frame(&keys, sim::CLUSTER + 1, 1, boot, 1 << 40),
        "wrong_cluster",
    );
    // Not from the link.
    let good = KeyRing::new(sim::CLUSTER, &sim::psk(), None).unwrap();
    refused(
        &mut s,
        254,
        &frame(&good, sim::CLUSTER, 1, boot, 1 << 40),
        "bad_ttl",
    );
    // Our own node id.
    refused(
        &mut s,
        255,
        &frame(&good, sim::CLUSTER, 2, boot, 1 << 40),
        "own_node",
    );
    // A valid key, but a boot id no HELLO bound: a data frame is refused.
    refused(
        &mut s,
        255,
        &frame(&good, sim::CLUSTER, 1, 0xdead_beef, 1),
        "unbound_boot",
    );
    // Garbage.
    refused(&mut s, 255, b"not a frame at all", "malformed");
    assert!(matches!(
        last_refusal(&s),
        Some(Refusal::Open(OpenError::Decode(_)))
    ));
    // And the pair still works.
    s.a.upsert_flow(s.now, sim::flow(5000)).unwrap();
    assert!(s.run_until(Duration::from_secs(2), |s| s.converged()));
}

/// After a restarts (a new boot), frames of its old boot replayed to b
/// are refused: b bound the new boot and retired the old one.
#[test]
fn frames_of_an_old_boot_replayed_after_a_restart_are_refused() {
    let mut s = synced();
    let old: Vec<Vec<u8>> = s
        .captured
        .iter()
        .filter(|(side, _)| *side == Side::A)
        .map(|(_, d)| d.clone())
        .collect();
    s.restart_a();
    s.a.set_active(s.now, true);
    for i in 0..50 {
        s.a.upsert_flow(s.now, sim::flow(i)).unwrap();
    }
    assert!(s.run_until(Duration::from_secs(5), |s| s.converged()
        && s.b.status().in_sync));
    for d in old.iter().take(20) {
        let before = snapshot(&s);
        s.inject(Side::B, 255, d);
        let r = last_refusal(&s).unwrap();
        assert!(matches!(r, Refusal::Replayed { .. }), "{r}");
        assert_eq!(snapshot(&s), before);
    }
    assert_eq!(s.b.mirror_flows(s.now).len(), 50);
}
