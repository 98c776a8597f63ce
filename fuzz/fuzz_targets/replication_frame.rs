//! Replication frames: `KeyRing::open` on arbitrary bytes never panics;
//! arbitrary bytes sealed as a payload open back to themselves; and
//! `decode_payload` on arbitrary bytes never panics, and whatever it
//! accepts encodes to a payload that decodes to the same records, of the
//! size the frame builder predicts. (Bytes need not come back equal:
//! unknown optional sections are dropped, and a compact flow record may
//! be re-encoded in another equivalent NAT form.)
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tandem_replication::seal::{KeyRing, Psk};
use tandem_replication::wire::{decode_payload, encode_payload, flags, FrameBuilder, Header};

fn ring() -> &'static KeyRing {
    static RING: OnceLock<KeyRing> = OnceLock::new();
    RING.get_or_init(|| {
        KeyRing::new(
            7,
            &Psk::from_bytes([0x42; 32]),
            Some(&Psk::from_bytes([0x43; 32])),
        )
        .unwrap()
    })
}

fuzz_target!(|data: &[u8]| {
    let ring = ring();
    let _ = ring.open(data);

    let payload = &data[..data.len().min(u16::MAX as usize)];
    let header = Header {
        minor: data.first().copied().unwrap_or(0),
        flags: 0,
        payload_len: 0,
        cluster: 7,
        node: data.get(1).copied().unwrap_or(0),
        stream: data.get(2).copied().unwrap_or(0),
        key_id: 0,
        boot: 1,
        seq: data.len() as u64,
    };
    let sealed = ring.seal(header, payload);
    let (h, opened) = ring.open(&sealed).expect("a sealed frame opens");
    assert_eq!(opened, payload);
    assert_eq!(h.flags, flags::ENCRYPTED);

    if let Ok(records) = decode_payload(data) {
        let mut again = Vec::new();
        encode_payload(&records, &mut again);
        assert_eq!(decode_payload(&again).as_ref(), Ok(&records));
        let mut b = FrameBuilder::new(usize::MAX);
        for r in &records {
            b.push(r.clone()).expect("no size limit");
        }
        assert_eq!(b.payload_len(), again.len());
        assert_eq!(b.encode(), again);
    }
});
