//! Sealed frames: round trip, alteration, keys, clusters, rotation.

use tandem_replication::seal::{KeyError, KeyRing, OpenError, Psk};
use tandem_replication::wire::{
    decode_payload, encode_payload, flags, Header, Record, HEADER_LEN, TAG_LEN,
};

fn psk(b: u8) -> Psk {
    Psk::from_bytes([b; 32])
}

fn header(node: u8, seq: u64) -> Header {
    Header {
        minor: 0,
        flags: 0,
        payload_len: 0,
        cluster: 42,
        node,
        stream: 3,
        key_id: 0,
        boot: 0xfeed_f00d_0000_0001,
        seq,
    }
}

fn payload() -> (Vec<Record>, Vec<u8>) {
    let records = vec![
        Record::Heartbeat {
            highest_seq: 9,
            live: 1,
        },
        Record::Digest {
            shard: 4,
            digest: 0x55,
        },
    ];
    let mut p = Vec::new();
    encode_payload(&records, &mut p);
    (records, p)
}

/// Two keys with the same key id (found by trying keys in turn).
fn clashing() -> (Psk, Psk) {
    let mut seen = std::collections::HashMap::new();
    for i in 0..=255u8 {
        let k = psk(i);
        if let Some(j) = seen.insert(k.key_id(), i) {
            return (psk(j), k);
        }
    }
    unreachable!("257 keys share 256 ids")
}

#[test]
fn seal_open_round_trip() {
    let ring = KeyRing::new(42, &psk(1), None).unwrap();
    let (records, p) = payload();
    let d = ring.seal(header(1, 7), &p);
    assert_eq!(d.len(), HEADER_LEN + p.len() + TAG_LEN);
    let (h, opened) = ring.open(&d).unwrap();
    assert_eq!(
        h,
        Header {
            payload_len: p.len() as u16,
            key_id: ring.key_id(),
            flags: flags::ENCRYPTED,
            ..header(1, 7)
        }
    );
    assert_eq!(decode_payload(&opened), Ok(records));
    // The partner (another unit, same key file) opens it too.
    let partner = KeyRing::new(42, &Psk::parse(&psk(1).to_text()).unwrap(), None).unwrap();
    assert!(partner.open(&d).is_ok());
    assert_eq!(
        partner.hasher().hash(b"cookie"),
        ring.hasher().hash(b"cookie")
    );
    assert_eq!(partner.digest_key(), ring.digest_key());
}

#[test]
fn every_altered_byte_is_refused() {
    let ring = KeyRing::new(42, &psk(1), None).unwrap();
    let d = ring.seal(header(1, 7), &payload().1);
    for i in 0..d.len() {
        for bit in [0x01, 0x80] {
            let mut x = d.clone();
            x[i] ^= bit;
            let r = ring.open(&x);
            assert!(r.is_err(), "byte {i} bit {bit:#x} altered, yet opened");
            if i >= 16 {
                // Boot, sequence, payload, tag: only the tag can tell.
                assert_eq!(r, Err(OpenError::BadTag), "byte {i}");
            }
        }
    }
    // Shortened or lengthened: the header's length disagrees.
    assert!(matches!(
        ring.open(&d[..d.len() - 1]),
        Err(OpenError::Decode(_))
    ));
    let mut longer = d.clone();
    longer.push(0);
    assert!(matches!(ring.open(&longer), Err(OpenError::Decode(_))));
}

#[test]
fn the_sender_node_selects_the_key() {
    let ring = KeyRing::new(42, &psk(1), None).unwrap();
    let mut d = ring.seal(header(1, 7), &payload().1);
    d[10] = 2; // claims to be node 2
    assert_eq!(ring.open(&d), Err(OpenError::BadTag));
}

#[test]
fn wrong_key_and_wrong_cluster() {
    let a = KeyRing::new(42, &psk(1), None).unwrap();
    let b = KeyRing::new(42, &psk(2), None).unwrap();
    let d = a.seal(header(1, 7), &payload().1);
    assert_eq!(
        b.open(&d),
        Err(OpenError::UnknownKey { key_id: a.key_id() })
    );
    let other = KeyRing::new(43, &psk(1), None).unwrap();
    assert_eq!(
        other.open(&d),
        Err(OpenError::WrongCluster {
            found: 42,
            expected: 43
        })
    );
    // Another cluster's frame with the cluster field rewritten: other keys.
    let mut x = other.seal(
        Header {
            cluster: 43,
            ..header(1, 7)
        },
        &payload().1,
    );
    x[8..10].copy_from_slice(&42u16.to_be_bytes());
    assert_eq!(a.open(&x), Err(OpenError::BadTag));
    // The same key id, another key: the tag tells.
    let (k1, k2) = clashing();
    assert_eq!(k1.key_id(), k2.key_id());
    let r1 = KeyRing::new(42, &k1, None).unwrap();
    let r2 = KeyRing::new(42, &k2, None).unwrap();
    assert_eq!(
        r2.open(&r1.seal(header(1, 1), &payload().1)),
        Err(OpenError::BadTag)
    );
    assert_eq!(
        KeyRing::new(42, &k1, Some(&k2)).unwrap_err(),
        KeyError::KeyIdClash { id: k1.key_id() }
    );
}

#[test]
fn rotation_opens_both_keys() {
    let (a, b) = (psk(1), psk(2));
    assert_ne!(a.key_id(), b.key_id());
    // Unit 1 has the new key as next; unit 2 already switched to it.
    let unit1 = KeyRing::new(42, &a, Some(&b)).unwrap();
    let unit2 = KeyRing::new(42, &b, Some(&a)).unwrap();
    let unit2_done = KeyRing::new(42, &b, None).unwrap();
    let from2 = unit2.seal(header(2, 1), &payload().1);
    let from1 = unit1.seal(header(1, 1), &payload().1);
    assert_eq!(from2[12], b.key_id());
    assert_eq!(from1[12], a.key_id());
    assert!(unit1.open(&from2).is_ok());
    assert!(unit2.open(&from1).is_ok());
    assert_eq!(
        unit2_done.open(&from1),
        Err(OpenError::UnknownKey { key_id: a.key_id() })
    );
    assert_eq!(unit1.next_key_id(), Some(b.key_id()));
}

#[test]
fn every_prefix_of_a_frame_is_refused() {
    let ring = KeyRing::new(42, &psk(1), None).unwrap();
    let d = ring.seal(header(1, 7), &payload().1);
    for n in 0..d.len() {
        assert!(
            matches!(ring.open(&d[..n]), Err(OpenError::Decode(_))),
            "prefix {n}"
        );
    }
}

proptest::proptest! {
    #[test]
    fn any_datagram_opens_or_fails(mut bytes in proptest::collection::vec(proptest::arbitrary::any::<u8>(), 0..200), fix in proptest::arbitrary::any::<bool>()) {
        let ring = KeyRing::new(42, &psk(1), None).unwrap();
        if fix && bytes.len() >= 48 {
            // A plausible header, so that the tag is checked.
            let mut h = header(1, 1);
            h.payload_len = (bytes.len() - 48) as u16;
            h.key_id = ring.key_id();
            bytes[..32].copy_from_slice(&h.emit());
            proptest::prop_assert_eq!(ring.open(&bytes), Err(OpenError::BadTag));
        }
        let _ = ring.open(&bytes);
    }
}
