//! The persistence table: the appliance's side (insert, lookup, touch,
//! remove, expiry, capacity), the replicator's side (changes coalesced and
//! written at take time, the partner's changes ordered by frame sequence,
//! bulk sweep), the waker, the keys.

use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use tandem_replication::persist::{
    Change, KeyHasher, PersistKey, Persistence, PersistenceTable, TableFull, MAX_LIFETIME,
    PARTNER_TOMBSTONE_HOLD,
};
use tandem_time::Instant;

const T: u8 = 3;

fn ms(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn table(capacity: usize) -> PersistenceTable {
    PersistenceTable::new(KeyHasher::new([0x5a; 16]), capacity)
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

fn src(s: &str) -> PersistKey {
    PersistKey::source(ip(s), 32)
}

fn upsert(key: PersistKey, backend: u16, lifetime_ms: u32) -> Change {
    Change::Upsert(Persistence {
        table: T,
        key,
        backend,
        lifetime_ms,
    })
}

fn delete(key: PersistKey) -> Change {
    Change::Delete { table: T, key }
}

#[test]
fn insert_then_lookup_by_table_and_key() {
    let t = table(16);
    let k = src("192.0.2.1");
    assert!(t.is_empty());
    t.insert(ms(0), T, k, 7, secs(10)).unwrap();
    assert_eq!(t.lookup(ms(1), T, &k), Some(7));
    assert_eq!(t.lookup(ms(1), T + 1, &k), None, "another table");
    assert_eq!(t.lookup(ms(1), T, &src("192.0.2.2")), None, "another key");
    assert_eq!(t.len(), 1);
    assert_eq!(t.partner_len(), 0);
}

#[test]
fn lookup_never_answers_with_an_expired_entry() {
    let t = table(16);
    let k = src("192.0.2.1");
    t.insert(ms(1_000), T, k, 7, secs(10)).unwrap();
    assert_eq!(t.lookup(ms(10_999), T, &k), Some(7));
    assert_eq!(t.lookup(ms(11_000), T, &k), None, "expires at its deadline");
    assert!(
        !t.touch(ms(11_000), T, &k),
        "an expired entry is not revived"
    );
    assert_eq!(t.len(), 0);
    assert_eq!(t.stats().local_expired, 1);
}

#[test]
fn expired_entries_are_purged_and_expiry_is_not_sent() {
    let t = table(1_000);
    for i in 0..200u16 {
        let k = PersistKey::Cookie(u64::from(i));
        t.insert(ms(0), T, k, i, Duration::from_millis(100 + u64::from(i)))
            .unwrap();
    }
    assert_eq!(t.take_changes(ms(0), 1_000).len(), 200);
    assert_eq!(t.lookup(ms(400), T, &PersistKey::Cookie(0)), None);
    assert_eq!(t.len(), 0);
    assert_eq!(t.stats().local_expired, 200);
    assert!(!t.has_changes(), "expiry by timeout is not replicated");
    assert!(t.take_changes(ms(400), 1_000).is_empty());
}

#[test]
fn a_clock_going_back_counts_as_the_latest() {
    let t = table(16);
    let k = src("192.0.2.1");
    t.insert(ms(10_000), T, k, 1, secs(1)).unwrap();
    assert_eq!(t.lookup(ms(0), T, &k), Some(1));
    assert_eq!(t.lookup(ms(11_000), T, &k), None);
    assert_eq!(t.lookup(ms(500), T, &k), None, "still 11 s");
}

#[test]
fn touch_slides_the_lifetime() {
    let t = table(16);
    let k = src("192.0.2.1");
    t.insert(ms(0), T, k, 1, secs(10)).unwrap();
    assert!(t.touch(ms(8_000), T, &k));
    assert_eq!(t.lookup(ms(17_999), T, &k), Some(1));
    assert_eq!(t.lookup(ms(18_000), T, &k), None);
    assert!(!t.touch(ms(18_000), T, &k));
    assert!(!t.touch(ms(0), T, &src("192.0.2.9")), "no entry");
}

#[test]
fn touch_is_sent_only_when_the_partner_copy_nears_half_its_lifetime() {
    let t = table(16);
    let k = src("192.0.2.1");
    t.insert(ms(0), T, k, 1, secs(10)).unwrap();
    assert_eq!(t.take_changes(ms(0), 8), [upsert(k, 1, 10_000)]);
    // The partner's copy expires at 10 s.
    for at in [1_000, 3_000, 5_000] {
        assert!(t.touch(ms(at), T, &k));
        assert!(!t.has_changes(), "at {at} ms the partner still has ≥ 5 s");
    }
    assert!(t.touch(ms(5_001), T, &k));
    assert!(
        t.has_changes(),
        "under half the lifetime left on the partner"
    );
    assert_eq!(t.take_changes(ms(5_001), 8), [upsert(k, 1, 10_000)]);
    // Now advertised until 15.001 s.
    assert!(t.touch(ms(9_000), T, &k));
    assert!(!t.has_changes());
    assert!(t.touch(ms(10_100), T, &k));
    assert_eq!(t.take_changes(ms(10_200), 8), [upsert(k, 1, 9_900)]);
}

#[test]
fn remove_queues_a_delete() {
    let t = table(16);
    let k = src("192.0.2.1");
    t.insert(ms(0), T, k, 1, secs(10)).unwrap();
    assert_eq!(t.take_changes(ms(0), 8).len(), 1);
    assert!(t.remove(ms(1), T, &k));
    assert_eq!(t.lookup(ms(1), T, &k), None);
    assert_eq!(t.take_changes(ms(2), 8), [delete(k)]);
    assert!(!t.remove(ms(3), T, &k), "already gone");
    assert!(!t.has_changes());
}

#[test]
fn remove_of_an_expired_entry_sends_nothing() {
    let t = table(16);
    let k = src("192.0.2.1");
    t.insert(ms(0), T, k, 1, secs(1)).unwrap();
    assert_eq!(t.take_changes(ms(0), 8).len(), 1);
    assert!(!t.remove(ms(1_000), T, &k));
    assert!(t.take_changes(ms(1_000), 8).is_empty());
}

#[test]
fn two_changes_of_one_entry_are_sent_once_with_the_state_at_take_time() {
    let t = table(16);
    let k = src("192.0.2.1");
    t.insert(ms(0), T, k, 1, secs(10)).unwrap();
    t.insert(ms(1_000), T, k, 2, secs(10)).unwrap();
    assert!(t.touch(ms(2_000), T, &k));
    // Written at 3 s: backend 2, 9 s left of the lifetime restarted at 2 s.
    assert_eq!(t.take_changes(ms(3_000), 8), [upsert(k, 2, 9_000)]);
    assert!(t.take_changes(ms(3_000), 8).is_empty());
}

#[test]
fn insert_then_remove_before_sending_is_one_delete_and_back_is_one_upsert() {
    let t = table(16);
    let k = src("192.0.2.1");
    t.insert(ms(0), T, k, 1, secs(10)).unwrap();
    assert!(t.remove(ms(1), T, &k));
    assert_eq!(t.stats().pending_changes, 1);
    assert_eq!(t.take_changes(ms(2), 8), [delete(k)]);

    t.insert(ms(10), T, k, 1, secs(10)).unwrap();
    assert_eq!(t.take_changes(ms(10), 8).len(), 1);
    assert!(t.remove(ms(11), T, &k));
    t.insert(ms(12), T, k, 4, secs(10)).unwrap();
    assert_eq!(t.take_changes(ms(12), 8), [upsert(k, 4, 10_000)]);
}

#[test]
fn an_unchanged_reinsert_is_not_sent_again() {
    let t = table(16);
    let k = src("192.0.2.1");
    t.insert(ms(0), T, k, 1, secs(10)).unwrap();
    assert_eq!(t.take_changes(ms(0), 8).len(), 1);
    t.insert(ms(1_000), T, k, 1, secs(10)).unwrap();
    assert!(!t.has_changes(), "same backend and lifetime, partner fresh");
    t.insert(ms(1_000), T, k, 1, secs(20)).unwrap();
    assert_eq!(t.take_changes(ms(1_000), 8), [upsert(k, 1, 20_000)]);
}

#[test]
fn changes_come_oldest_first_and_at_most_max() {
    let t = table(16);
    let keys: Vec<PersistKey> = (0..5).map(PersistKey::Header).collect();
    for (i, k) in keys.iter().enumerate() {
        t.insert(ms(i as u64), T, *k, i as u16, secs(10)).unwrap();
    }
    // Changing the first again does not move it back in the queue.
    t.insert(ms(9), T, keys[0], 9, secs(10)).unwrap();
    let first = t.take_changes(ms(10), 3);
    let got: Vec<PersistKey> = first
        .iter()
        .map(|c| match c {
            Change::Upsert(p) => p.key,
            Change::Delete { key, .. } => *key,
        })
        .collect();
    assert_eq!(got, keys[..3]);
    assert_eq!(first[0], upsert(keys[0], 9, 9_999));
    assert_eq!(t.take_changes(ms(10), 3).len(), 2);
    assert!(t.take_changes(ms(10), 3).is_empty());
}

#[test]
fn lifetimes_are_clamped_to_the_wire_and_rounded_up() {
    let t = table(16);
    let k = src("192.0.2.1");
    t.insert(ms(0), T, k, 1, Duration::MAX).unwrap();
    assert_eq!(t.take_changes(ms(0), 8), [upsert(k, 1, u32::MAX)]);
    assert_eq!(MAX_LIFETIME.as_millis(), u128::from(u32::MAX));
    let k2 = src("192.0.2.2");
    t.insert(ms(0), T, k2, 1, Duration::from_micros(1_500))
        .unwrap();
    assert_eq!(t.take_changes(ms(0), 8), [upsert(k2, 1, 2)]);
}

#[test]
fn lookup_prefers_this_units_entry_then_the_partners() {
    let t = table(16);
    let k = src("192.0.2.1");
    t.apply_partner(ms(0), 1, upsert(k, 1, 60_000));
    assert_eq!(t.lookup(ms(0), T, &k), Some(1));
    t.insert(ms(0), T, k, 2, secs(10)).unwrap();
    assert_eq!(t.lookup(ms(0), T, &k), Some(2));
    assert!(t.remove(ms(0), T, &k));
    assert_eq!(
        t.lookup(ms(0), T, &k),
        Some(1),
        "the partner's still answers"
    );
    assert!(!t.touch(ms(0), T, &k), "a partner's entry is not touched");
    assert_eq!(
        t.lookup(ms(60_000), T, &k),
        None,
        "and expires on our clock"
    );
}

#[test]
fn stick_touches_or_adopts_the_partners_decision() {
    let t = table(16);
    let k = src("192.0.2.1");
    assert_eq!(t.stick(ms(0), T, &k, secs(10)), None);
    t.apply_partner(ms(0), 1, upsert(k, 5, 3_000));
    assert_eq!(t.stick(ms(1_000), T, &k, secs(10)), Some(5));
    assert_eq!(t.len(), 1, "adopted");
    assert_eq!(t.take_changes(ms(1_000), 8), [upsert(k, 5, 10_000)]);
    // The adopted entry outlives the partner's copy and keeps sliding.
    assert_eq!(t.stick(ms(9_000), T, &k, secs(10)), Some(5));
    assert_eq!(t.lookup(ms(18_999), T, &k), Some(5));
    assert_eq!(t.lookup(ms(19_000), T, &k), None);
}

#[test]
fn an_older_partner_frame_never_overwrites_a_newer_one() {
    let t = table(16);
    let k = src("192.0.2.1");
    t.apply_partner(ms(0), 5, upsert(k, 1, 60_000));
    t.apply_partner(ms(0), 4, upsert(k, 2, 60_000));
    assert_eq!(t.lookup(ms(0), T, &k), Some(1));
    t.apply_partner(ms(0), 5, upsert(k, 1, 60_000));
    t.apply_partner(ms(0), 6, upsert(k, 3, 60_000));
    assert_eq!(t.lookup(ms(0), T, &k), Some(3));
    // A delete, then the older upsert reordered behind it.
    t.apply_partner(ms(0), 8, delete(k));
    t.apply_partner(ms(0), 7, upsert(k, 4, 60_000));
    assert_eq!(t.lookup(ms(0), T, &k), None);
    assert_eq!(t.partner_len(), 0, "a tombstone is not an entry");
    assert!(t.partner_entries(ms(0)).is_empty());
    assert_eq!(t.stats().partner_stale, 2);
}

#[test]
fn a_delete_arriving_before_its_insert_wins() {
    let t = table(16);
    let k = src("192.0.2.1");
    t.apply_partner(ms(0), 9, delete(k));
    t.apply_partner(ms(1), 8, upsert(k, 1, 60_000));
    assert_eq!(t.lookup(ms(1), T, &k), None);
    // The tombstone is held for a while, then forgotten.
    let later = ms(0) + PARTNER_TOMBSTONE_HOLD;
    t.apply_partner(later, 8, upsert(k, 1, 60_000));
    assert_eq!(t.lookup(later, T, &k), Some(1));
}

#[test]
fn partner_entries_expire_on_this_units_clock() {
    let t = table(16);
    let k = src("192.0.2.1");
    t.apply_partner(ms(5_000), 1, upsert(k, 1, 2_000));
    assert_eq!(
        t.partner_entries(ms(6_000)),
        [Persistence {
            table: T,
            key: k,
            backend: 1,
            lifetime_ms: 1_000
        }]
    );
    assert_eq!(t.lookup(ms(6_999), T, &k), Some(1));
    assert_eq!(t.lookup(ms(7_000), T, &k), None);
    assert_eq!(t.partner_len(), 0);
    assert_eq!(t.stats().partner_expired, 1);
}

#[test]
fn sweep_removes_what_the_bulk_did_not_refresh() {
    let t = table(16);
    let [a, b, c] = [src("192.0.2.1"), src("192.0.2.2"), src("192.0.2.3")];
    t.apply_partner(ms(0), 1, upsert(a, 1, 60_000));
    t.apply_partner(ms(0), 2, upsert(b, 1, 60_000));
    t.apply_partner(ms(0), 3, upsert(c, 1, 60_000));
    // The bulk begins at frame 10 and carries a and c only.
    t.apply_partner(ms(1), 10, upsert(a, 2, 60_000));
    t.apply_partner(ms(1), 11, upsert(c, 2, 60_000));
    assert_eq!(t.sweep_partner(10), 1);
    assert_eq!(t.lookup(ms(2), T, &b), None);
    assert_eq!(t.lookup(ms(2), T, &a), Some(2));
    assert_eq!(t.partner_len(), 2);
    // A frame from before the bulk, late, is stale.
    t.apply_partner(ms(3), 4, upsert(b, 3, 60_000));
    assert_eq!(t.lookup(ms(3), T, &b), None);
    assert_eq!(t.sweep_partner(10), 0);
}

#[test]
fn clear_partner_forgets_entries_and_sequence_numbers() {
    let t = table(16);
    let k = src("192.0.2.1");
    t.apply_partner(ms(0), 100, upsert(k, 1, 60_000));
    t.sweep_partner(100);
    t.clear_partner();
    assert_eq!(t.lookup(ms(0), T, &k), None);
    t.apply_partner(ms(0), 1, upsert(k, 2, 60_000));
    assert_eq!(t.lookup(ms(0), T, &k), Some(2), "a new boot counts from 1");
}

#[test]
fn capacity_is_enforced_and_counted_each_side() {
    let t = table(2);
    let [a, b, c] = [src("192.0.2.1"), src("192.0.2.2"), src("192.0.2.3")];
    t.insert(ms(0), T, a, 1, secs(1)).unwrap();
    t.insert(ms(0), T, b, 1, secs(10)).unwrap();
    assert_eq!(
        t.insert(ms(0), T, c, 1, secs(10)),
        Err(TableFull { capacity: 2 })
    );
    t.insert(ms(0), T, b, 2, secs(10))
        .expect("an existing key is updated");
    assert_eq!(t.stats().local_full, 1);
    // Once `a` expired there is room again.
    t.insert(ms(1_000), T, c, 1, secs(10)).unwrap();
    assert_eq!(t.len(), 2);

    t.apply_partner(ms(1_000), 1, upsert(a, 1, 1_000));
    t.apply_partner(ms(1_000), 2, upsert(b, 1, 60_000));
    t.apply_partner(ms(1_000), 3, upsert(c, 1, 60_000));
    assert_eq!(t.stats().partner_full, 1);
    assert_eq!(t.partner_len(), 2);
    t.apply_partner(ms(2_000), 4, upsert(c, 1, 60_000));
    assert_eq!(t.partner_len(), 2);
    let mut keys: Vec<PersistKey> = t.partner_entries(ms(2_000)).iter().map(|p| p.key).collect();
    keys.sort();
    assert_eq!(keys, [b, c]);
}

#[test]
fn the_queue_of_deletes_is_bounded_and_says_when_it_lost_one() {
    let t = table(4);
    for i in 0..10u64 {
        let k = PersistKey::Cookie(i);
        t.insert(ms(i), T, k, 1, secs(10)).unwrap();
        assert!(t.remove(ms(i), T, &k));
    }
    assert_eq!(t.stats().pending_changes, 4);
    assert_eq!(t.stats().changes_lost, 6);
    assert!(t.take_changes_lost());
    assert!(!t.take_changes_lost(), "reported once");
    assert_eq!(t.take_changes(ms(20), 100).len(), 4);
}

#[test]
fn waker_is_called_once_per_empty_to_waiting() {
    let t = table(16);
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    t.set_waker(Box::new(move || {
        c.fetch_add(1, Ordering::SeqCst);
    }));
    assert_eq!(calls.load(Ordering::SeqCst), 0, "nothing waiting yet");
    let [a, b] = [src("192.0.2.1"), src("192.0.2.2")];
    t.insert(ms(0), T, a, 1, secs(10)).unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    t.insert(ms(0), T, b, 1, secs(10)).unwrap();
    t.remove(ms(0), T, &a);
    assert_eq!(calls.load(Ordering::SeqCst), 1, "already waiting");
    assert_eq!(t.take_changes(ms(0), 8).len(), 2);
    assert!(t.touch(ms(1_000), T, &b));
    t.apply_partner(ms(1_000), 1, upsert(a, 1, 60_000));
    assert_eq!(calls.load(Ordering::SeqCst), 1, "nothing to send");
    t.remove(ms(1_000), T, &b);
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    // A waker set while changes wait is called at once.
    let late = Arc::new(AtomicUsize::new(0));
    let l = late.clone();
    t.set_waker(Box::new(move || {
        l.fetch_add(1, Ordering::SeqCst);
    }));
    assert_eq!(late.load(Ordering::SeqCst), 1);
}

#[test]
fn waker_runs_outside_the_lock() {
    let t = table(16);
    let (tx, rx) = mpsc::channel();
    let inner = t.clone();
    t.set_waker(Box::new(move || {
        // Would deadlock if the table's lock were held.
        let _ = tx.send(inner.has_changes());
    }));
    let t2 = t.clone();
    let worker = std::thread::spawn(move || {
        t2.insert(ms(0), T, src("192.0.2.1"), 1, secs(10)).unwrap();
    });
    assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok(true));
    worker.join().unwrap();
}

#[test]
fn handles_are_shared_across_threads() {
    let t = table(10_000);
    let workers: Vec<_> = (0..4u64)
        .map(|w| {
            let t = t.clone();
            std::thread::spawn(move || {
                for i in 0..1_000u64 {
                    let k = PersistKey::Cookie(w * 1_000 + i);
                    t.insert(ms(i), T, k, w as u16, secs(60)).unwrap();
                    assert_eq!(t.lookup(ms(i), T, &k), Some(w as u16));
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    assert_eq!(t.len(), 4_000);
    assert_eq!(t.take_changes(ms(1_000), 10_000).len(), 4_000);
}

#[test]
fn local_entries_are_the_live_ones_with_remaining_lifetimes_in_order() {
    let t = table(16);
    let [a, b, c] = [src("192.0.2.3"), src("192.0.2.1"), src("192.0.2.2")];
    t.insert(ms(0), T, a, 1, secs(10)).unwrap();
    t.insert(ms(0), T, b, 2, secs(20)).unwrap();
    t.insert(ms(0), T, c, 3, secs(1)).unwrap();
    let got = t.local_entries(ms(2_000));
    assert_eq!(
        got,
        [
            Persistence {
                table: T,
                key: b,
                backend: 2,
                lifetime_ms: 18_000
            },
            Persistence {
                table: T,
                key: a,
                backend: 1,
                lifetime_ms: 8_000
            },
        ]
    );
}

#[test]
fn source_keys_are_masked_to_their_prefix() {
    let k = PersistKey::source(ip("192.0.2.77"), 24);
    assert_eq!(
        k,
        PersistKey::Source {
            addr: ip("192.0.2.0"),
            prefix: 24
        }
    );
    assert_eq!(k, PersistKey::source(ip("192.0.2.200"), 24));
    assert_ne!(k, PersistKey::source(ip("192.0.3.77"), 24));
    assert_ne!(k, PersistKey::source(ip("192.0.2.77"), 32));
    assert_eq!(PersistKey::source(ip("192.0.2.77"), 40), src("192.0.2.77"));
    assert_eq!(
        PersistKey::source(ip("192.0.2.77"), 0),
        PersistKey::Source {
            addr: ip("0.0.0.0"),
            prefix: 0
        }
    );
    assert_eq!(
        PersistKey::source(ip("fd00:1:2:3:4:5:6:7"), 64),
        PersistKey::Source {
            addr: ip("fd00:1:2:3::"),
            prefix: 64
        }
    );
    assert_eq!(
        PersistKey::source(ip("fd00::1"), 200),
        PersistKey::Source {
            addr: ip("fd00::1"),
            prefix: 128
        }
    );

    // A client is found by any address of its prefix.
    let t = table(16);
    t.insert(ms(0), T, k, 4, secs(10)).unwrap();
    let other = PersistKey::source(ip("192.0.2.9"), 24);
    assert_eq!(t.lookup(ms(0), T, &other), Some(4));
}

/// SipHash-2-4 reference vectors (Aumasson and Bernstein, "SipHash: a fast
/// short-input PRF", appendix A; the reference code's vectors.h): key
/// 00 01 … 0f, messages of 0 and 15 bytes 00 01 ….
#[test]
fn key_hasher_is_siphash_2_4_and_stable() {
    let key: [u8; 16] = core::array::from_fn(|i| i as u8);
    let h = KeyHasher::new(key);
    assert_eq!(h.hash(b""), 0x726f_db47_dd0e_0e31);
    let msg: Vec<u8> = (0..15).collect();
    assert_eq!(h.hash(&msg), 0xa129_ca61_49be_45e5);
    assert_eq!(h.cookie(&msg), PersistKey::Cookie(0xa129_ca61_49be_45e5));
    assert_eq!(h.header(&msg), PersistKey::Header(0xa129_ca61_49be_45e5));
    assert_eq!(
        h.tls_session(&msg),
        PersistKey::TlsSession(0xa129_ca61_49be_45e5)
    );
    assert_ne!(KeyHasher::new([0; 16]).hash(&msg), h.hash(&msg), "keyed");
    let t = PersistenceTable::new(h, 1);
    assert_eq!(t.hasher().hash(b""), 0x726f_db47_dd0e_0e31);
    assert_eq!(format!("{:?}", t.hasher()), "KeyHasher(..)", "no key shown");
}
