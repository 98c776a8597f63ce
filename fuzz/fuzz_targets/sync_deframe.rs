//! The config-sync channel's input side on arbitrary TCP bytes: the
//! `Deframer` (fed in pieces whose sizes come from the input), a fresh
//! responder and initiator, and a responder already in transport mode
//! never panic. The deframer returns only messages of the announced
//! length and keeps refusing once it has refused; a channel that failed
//! stays failed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_config_sync::channel::{Channel, Deframer, Key, Side};

fn deframe(data: &[u8]) {
    let Some((&step, rest)) = data.split_first() else {
        return;
    };
    let step = usize::from(step).max(1);
    let mut d = Deframer::new();
    let mut consumed = 0usize;
    for piece in rest.chunks(step) {
        d.push(piece);
        loop {
            match d.next_message() {
                None => break,
                Some(Ok(m)) => {
                    assert!(!m.is_empty() && m.len() <= 65_535);
                    consumed += 2 + m.len();
                }
                Some(Err(_)) => {
                    assert!(d.next_message().is_some_and(|r| r.is_err()));
                    return;
                }
            }
        }
    }
    assert_eq!(consumed + d.buffered(), rest.len());
}

/// Feeds `data` to `ch` whole, then checks a failure sticks.
fn feed(mut ch: Channel, data: &[u8]) {
    if ch.receive(data).is_err() {
        assert!(ch.is_dead());
        assert!(ch.receive(&[0, 1, 0]).is_err());
    }
}

fuzz_target!(|data: &[u8]| {
    deframe(data);
    let key = Key::from_bytes([7; 32]);
    feed(
        Channel::new(Side::Responder, &key, "fuzz").expect("a channel"),
        data,
    );
    let mut initiator = Channel::new(Side::Initiator, &key, "fuzz").expect("a channel");
    let m1 = initiator.take_output();
    feed(initiator, data);
    // A responder past the handshake gets the bytes as transport messages.
    let mut responder = Channel::new(Side::Responder, &key, "fuzz").expect("a channel");
    responder.receive(&m1).expect("our own message 1");
    assert!(responder.is_ready());
    feed(responder, data);
});
