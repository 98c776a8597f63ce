use super::*;
use crate::frame::MAX_FRAME;

fn key(b: u8) -> Key {
    Key::from_bytes([b; 32])
}

/// Runs the handshake between two fresh channels; returns (initiator,
/// responder), both ready.
fn pair() -> (Channel, Channel) {
    let mut i = Channel::new(Side::Initiator, &key(1), "c1").unwrap();
    let mut r = Channel::new(Side::Responder, &key(1), "c1").unwrap();
    assert!(!i.is_ready() && !r.is_ready());
    let m1 = i.take_output();
    assert_eq!(r.receive(&m1), Ok(vec![]));
    assert!(r.is_ready());
    let m2 = r.take_output();
    assert_eq!(i.receive(&m2), Ok(vec![]));
    assert!(i.is_ready());
    (i, r)
}

/// `frame` sent by `from`, as its TCP bytes.
fn wire(from: &mut Channel, frame: &[u8]) -> Vec<u8> {
    from.send(frame).unwrap();
    from.take_output()
}

#[test]
fn handshake_then_transport_both_ways() {
    let (mut i, mut r) = pair();
    let b = wire(&mut i, b"hello");
    // u16 length + plaintext + 16-byte tag.
    assert_eq!(b[..2], [0, 5 + 16]);
    assert_eq!(b.len(), 2 + 5 + 16);
    assert_ne!(&b[2..7], b"hello");
    assert_eq!(r.receive(&b), Ok(vec![b"hello".to_vec()]));
    let b = wire(&mut r, b"back");
    assert_eq!(i.receive(&b), Ok(vec![b"back".to_vec()]));
    // Several frames in one read, in order.
    let mut b = wire(&mut i, b"one");
    b.extend(wire(&mut i, b"two"));
    b.extend(wire(&mut i, b""));
    assert_eq!(
        r.receive(&b),
        Ok(vec![b"one".to_vec(), b"two".to_vec(), vec![]])
    );
    assert!(i.take_output().is_empty());
}

#[test]
fn handshake_messages_are_length_prefixed() {
    let mut i = Channel::new(Side::Initiator, &key(1), "c1").unwrap();
    let m1 = i.take_output();
    // psk, e (32 bytes) and the empty payload's tag.
    assert_eq!(m1[..2], [0, 48]);
    assert_eq!(m1.len(), 50);
    // Taken once.
    assert!(i.take_output().is_empty());
    let r = Channel::new(Side::Responder, &key(1), "c1").unwrap();
    let mut r = r;
    assert!(r.take_output().is_empty());
}

#[test]
fn wrong_key_fails_the_responder() {
    let mut i = Channel::new(Side::Initiator, &key(1), "c1").unwrap();
    let mut r = Channel::new(Side::Responder, &key(2), "c1").unwrap();
    assert!(matches!(
        r.receive(&i.take_output()),
        Err(ChannelError::Handshake(_))
    ));
    assert!(r.take_output().is_empty());
    assert!(r.is_dead());
}

#[test]
fn other_cluster_fails_the_responder() {
    let mut i = Channel::new(Side::Initiator, &key(1), "c1").unwrap();
    let mut r = Channel::new(Side::Responder, &key(1), "c2").unwrap();
    assert!(matches!(
        r.receive(&i.take_output()),
        Err(ChannelError::Handshake(_))
    ));
}

#[test]
fn prologue_binds_major_and_cluster() {
    let p = prologue("ab");
    assert_eq!(p, b"tandem-sync\x01\x00\x00\x00\x02ab");
}

#[test]
fn tampered_message_2_fails_the_initiator() {
    let mut i = Channel::new(Side::Initiator, &key(1), "c1").unwrap();
    let mut r = Channel::new(Side::Responder, &key(1), "c1").unwrap();
    r.receive(&i.take_output()).unwrap();
    let mut m2 = r.take_output();
    let last = m2.len() - 1;
    m2[last] ^= 0x01;
    assert!(matches!(i.receive(&m2), Err(ChannelError::Handshake(_))));
    assert!(!i.is_ready());
    // Dead: the same class of error again, even for good bytes.
    assert!(matches!(
        i.receive(&[0, 1, 0]),
        Err(ChannelError::Handshake(_))
    ));
    assert!(matches!(i.send(b"x"), Err(ChannelError::Handshake(_))));
}

#[test]
fn replayed_message_fails_to_decrypt() {
    let (mut i, mut r) = pair();
    let b = wire(&mut i, b"set");
    assert_eq!(r.receive(&b), Ok(vec![b"set".to_vec()]));
    assert_eq!(r.receive(&b), Err(ChannelError::Decrypt));
    // Dead from then on.
    let next = wire(&mut i, b"next");
    assert_eq!(r.receive(&next), Err(ChannelError::Decrypt));
    assert_eq!(r.send(b"x"), Err(ChannelError::Decrypt));
}

#[test]
fn altered_byte_fails_to_decrypt() {
    let (mut i, mut r) = pair();
    for at in [2, 4, 2 + 5 + 15] {
        let (mut i2, mut r2) = pair();
        let mut b = wire(&mut i2, b"hello");
        b[at] ^= 0x80;
        assert_eq!(r2.receive(&b), Err(ChannelError::Decrypt), "byte {at}");
    }
    // A message cut short by a forged length.
    let mut b = wire(&mut i, b"hello");
    b[1] -= 1;
    b.pop();
    assert_eq!(r.receive(&b), Err(ChannelError::Decrypt));
}

#[test]
fn reordered_pair_fails_to_decrypt() {
    let (mut i, mut r) = pair();
    let first = wire(&mut i, b"first");
    let second = wire(&mut i, b"second");
    assert_eq!(r.receive(&second), Err(ChannelError::Decrypt));
    assert_eq!(r.receive(&first), Err(ChannelError::Decrypt));
}

#[test]
fn byte_at_a_time() {
    let mut i = Channel::new(Side::Initiator, &key(7), "c").unwrap();
    let mut r = Channel::new(Side::Responder, &key(7), "c").unwrap();
    for b in i.take_output() {
        assert_eq!(r.receive(&[b]), Ok(vec![]));
    }
    for b in r.take_output() {
        assert_eq!(i.receive(&[b]), Ok(vec![]));
    }
    assert!(i.is_ready() && r.is_ready());
    let bytes = wire(&mut i, b"slowly");
    let mut got = Vec::new();
    for b in bytes {
        got.extend(r.receive(&[b]).unwrap());
    }
    assert_eq!(got, vec![b"slowly".to_vec()]);
}

#[test]
fn transport_before_the_handshake_is_refused() {
    let mut i = Channel::new(Side::Initiator, &key(1), "c1").unwrap();
    assert!(matches!(i.send(b"early"), Err(ChannelError::Unexpected(_))));
    // Refusing a send changes nothing: the handshake still completes.
    let mut r = Channel::new(Side::Responder, &key(1), "c1").unwrap();
    r.receive(&i.take_output()).unwrap();
    i.receive(&r.take_output()).unwrap();
    assert!(i.is_ready());
}

#[test]
fn a_second_handshake_message_after_the_handshake_fails_to_decrypt() {
    let mut i = Channel::new(Side::Initiator, &key(1), "c1").unwrap();
    let mut r = Channel::new(Side::Responder, &key(1), "c1").unwrap();
    let m1 = i.take_output();
    r.receive(&m1).unwrap();
    assert_eq!(r.receive(&m1), Err(ChannelError::Decrypt));
}

#[test]
fn empty_message_kills_the_channel() {
    let (_, mut r) = pair();
    assert_eq!(r.receive(&[0, 0]), Err(ChannelError::EmptyMessage));
    assert_eq!(r.receive(&[]), Err(ChannelError::EmptyMessage));
    let mut fresh = Channel::new(Side::Responder, &key(1), "c1").unwrap();
    assert_eq!(fresh.receive(&[0, 0, 1]), Err(ChannelError::EmptyMessage));
}

#[test]
fn oversized_send_is_too_large_and_harmless() {
    let (mut i, mut r) = pair();
    assert_eq!(
        i.send(&vec![0; MAX_FRAME + 1]),
        Err(ChannelError::TooLarge(MAX_MESSAGE + 1))
    );
    assert!(i.take_output().is_empty());
    let b = wire(&mut i, b"after");
    assert_eq!(r.receive(&b), Ok(vec![b"after".to_vec()]));
}

#[test]
fn frames_of_exactly_max_frame() {
    assert_eq!(MAX_FRAME, 65_519);
    let (mut i, mut r) = pair();
    let frame: Vec<u8> = (0..MAX_FRAME).map(|n| n as u8).collect();
    let b = wire(&mut i, &frame);
    assert_eq!(b.len(), 2 + MAX_MESSAGE);
    assert_eq!(b[..2], [0xff, 0xff]);
    // Split across reads at an awkward place.
    assert_eq!(r.receive(&b[..1]), Ok(vec![]));
    assert_eq!(r.receive(&b[1..40_000]), Ok(vec![]));
    assert_eq!(r.receive(&b[40_000..]), Ok(vec![frame.clone()]));
    let b = wire(&mut r, &frame);
    assert_eq!(i.receive(&b), Ok(vec![frame]));
}

#[test]
fn deframer_with_split_lengths() {
    let mut d = Deframer::new();
    assert!(d.next_message().is_none());
    d.push(&[0]);
    assert!(d.next_message().is_none());
    d.push(&[3, b'a']);
    assert!(d.next_message().is_none());
    assert_eq!(d.buffered(), 3);
    d.push(&[b'b', b'c', 0]);
    assert_eq!(d.next_message(), Some(Ok(b"abc".to_vec())));
    assert!(d.next_message().is_none());
    d.push(&[1, b'x', 0, 2, b'y', b'z']);
    assert_eq!(d.next_message(), Some(Ok(b"x".to_vec())));
    assert_eq!(d.next_message(), Some(Ok(b"yz".to_vec())));
    assert!(d.next_message().is_none());
    assert_eq!(d.buffered(), 0);
}

#[test]
fn deframer_refuses_a_zero_length_every_time() {
    let mut d = Deframer::new();
    d.push(&[0, 1, b'a', 0, 0, 0, 1, b'b']);
    assert_eq!(d.next_message(), Some(Ok(b"a".to_vec())));
    assert_eq!(d.next_message(), Some(Err(ChannelError::EmptyMessage)));
    assert_eq!(d.next_message(), Some(Err(ChannelError::EmptyMessage)));
}

#[test]
fn deframer_waits_for_the_whole_announced_length() {
    let mut d = Deframer::new();
    d.push(&[0xff, 0xff]);
    d.push(&[7; 65_534]);
    assert!(d.next_message().is_none());
    d.push(&[7]);
    assert_eq!(
        d.next_message().map(|m| m.map(|m| m.len())),
        Some(Ok(65_535))
    );
}

#[test]
fn key_file_roundtrip() {
    let k = Key::from_bytes(core::array::from_fn(|n| n as u8 * 8));
    let text = k.to_file();
    assert_eq!(
        text,
        "tandem-sync-key v1\n\
         00081018202830384048505860687078\
         80889098a0a8b0b8c0c8d0d8e0e8f0f8\n"
    );
    assert_eq!(Key::parse_file(&text), Ok(k));
}

#[test]
fn key_file_text() {
    let k = Key::from_bytes([0xab; 32]);
    let hex = "ab".repeat(32);
    assert_eq!(k.to_file(), format!("tandem-sync-key v1\n{hex}\n"));
    // Upper case, surrounding whitespace, CRLF, no final newline.
    let upper = format!(
        "\n  tandem-sync-key v1 \r\n\t{}  \r\n\n",
        hex.to_uppercase()
    );
    assert_eq!(Key::parse_file(&upper), Ok(k.clone()));
    assert_eq!(
        Key::parse_file(&format!("tandem-sync-key v1\n{hex}")),
        Ok(k)
    );
}

#[test]
fn key_file_errors() {
    let hex = "ab".repeat(32);
    assert_eq!(Key::parse_file(""), Err(KeyError::Header));
    assert_eq!(Key::parse_file(&hex), Err(KeyError::Header));
    assert_eq!(
        Key::parse_file(&format!("tandem-sync-key v2\n{hex}\n")),
        Err(KeyError::Header)
    );
    assert_eq!(Key::parse_file("tandem-sync-key v1\n"), Err(KeyError::Hex));
    assert_eq!(
        Key::parse_file(&format!("tandem-sync-key v1\n{}\n", &hex[1..])),
        Err(KeyError::Hex)
    );
    assert_eq!(
        Key::parse_file(&format!("tandem-sync-key v1\n{hex}0\n")),
        Err(KeyError::Hex)
    );
    let bad = format!("zz{}", &hex[2..]);
    assert_eq!(
        Key::parse_file(&format!("tandem-sync-key v1\n{bad}\n")),
        Err(KeyError::Hex)
    );
    // Multi-byte characters do not pass for hex digits (nor panic).
    let wide = format!("é{}", &hex[2..]);
    assert_eq!(
        Key::parse_file(&format!("tandem-sync-key v1\n{wide}\n")),
        Err(KeyError::Hex)
    );
    assert_eq!(
        Key::parse_file(&format!("tandem-sync-key v1\n{hex}\nmore\n")),
        Err(KeyError::Trailing)
    );
}

#[test]
fn key_debug_hides_the_key() {
    assert_eq!(format!("{:?}", Key::from_bytes([0x42; 32])), "Key(..)");
}

#[test]
fn generated_keys_differ() {
    let a = Key::generate().unwrap();
    let b = Key::generate().unwrap();
    assert_ne!(a, b);
    assert_eq!(Key::parse_file(&a.to_file()), Ok(a));
}

#[test]
fn psk_depends_on_key_and_cluster() {
    let k = key(1);
    assert_eq!(k.psk("c1"), key(1).psk("c1"));
    assert_ne!(k.psk("c1"), k.psk("c2"));
    assert_ne!(k.psk("c1"), key(2).psk("c1"));
    // HKDF-SHA256(ikm = key, no salt, info = "tandem-sync psk v1" ‖ "c1"),
    // computed independently.
    let golden = "1a262ec8141c6249aa34cdae9e081df85c0cb9c626b645d4904aac4dd7775dc7";
    assert_eq!(crate::digest::hex(&k.psk("c1")), golden);
}

/// Message 1 from a hand-built initiator with the given prologue and
/// payload, framed for TCP.
fn foreign_message_1(prologue: &[u8], payload: &[u8]) -> Vec<u8> {
    let psk = key(1).psk("c1");
    let mut hs = snow::Builder::new(NOISE_PATTERN.parse().unwrap())
        .psk(0, &psk)
        .unwrap()
        .prologue(prologue)
        .unwrap()
        .build_initiator()
        .unwrap();
    let mut m = vec![0u8; MAX_MESSAGE];
    let n = hs.write_message(payload, &mut m).unwrap();
    let mut out = (n as u16).to_be_bytes().to_vec();
    out.extend_from_slice(&m[..n]);
    out
}

#[test]
fn another_major_version_fails_the_responder() {
    // The same key and cluster, major 2 in the prologue.
    let mut p = b"tandem-sync\x02".to_vec();
    crate::value::encode_str("c1", &mut p);
    let mut r = Channel::new(Side::Responder, &key(1), "c1").unwrap();
    assert!(matches!(
        r.receive(&foreign_message_1(&p, b"")),
        Err(ChannelError::Handshake(_))
    ));
    // The same initiator with this version's prologue is accepted.
    let mut r = Channel::new(Side::Responder, &key(1), "c1").unwrap();
    assert_eq!(
        r.receive(&foreign_message_1(&prologue("c1"), b"")),
        Ok(vec![])
    );
    assert!(r.is_ready());
}

#[test]
fn a_handshake_payload_is_refused() {
    let mut r = Channel::new(Side::Responder, &key(1), "c1").unwrap();
    assert!(matches!(
        r.receive(&foreign_message_1(&prologue("c1"), b"data")),
        Err(ChannelError::Handshake(_))
    ));
    assert!(r.take_output().is_empty());
}
