//! The config-sync session on arbitrary frames from an authenticated
//! partner: the input is cut into frames (u16 length prefixes from the
//! input), each sent as a transport message of a real Noise channel that
//! completed the handshake with the session. Whatever the frames say, the
//! session never panics, every output it gives is well formed, and a
//! change it asks to apply is one the host may refuse: after refusing
//! every Apply, the document is what it was.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_config_sync::channel::{Channel, Key, Side};
use tandem_config_sync::doc::{Document, ObjectKey};
use tandem_config_sync::frame::{Mode, RejectCode};
use tandem_config_sync::session::{Authority, Config, Output, Refusal, Session};
use tandem_config_sync::value::Value;
use tandem_config_sync::Instant;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, data)) = data.split_first() else {
        return;
    };
    let mode = if mode & 1 == 0 {
        Mode::ActiveStandby
    } else {
        Mode::Bidirectional
    };
    let key = Key::from_bytes([7; 32]);
    let mut doc = Document::new();
    doc.set(ObjectKey::new("app.vs", "web"), "port", Value::Int(80))
        .expect("valid");
    let auth = Authority {
        epoch: 3,
        generation: 2,
    };
    let mut s = Session::new(Config::new("b", "fuzz", key.clone(), mode), doc.clone(), auth);
    let mut peer = Channel::new(Side::Initiator, &key, "fuzz").expect("a channel");
    let mut now = Instant::from_millis(1);
    s.connect(now, Side::Responder).expect("a channel");
    s.receive(now, &peer.take_output());
    let mut to_peer = Vec::new();
    let drain = |s: &mut Session, to_peer: &mut Vec<u8>| {
        while let Some(o) = s.poll_output() {
            match o {
                Output::Transmit(b) => to_peer.extend_from_slice(&b),
                Output::Apply(a) => s.applied(
                    Instant::from_millis(1),
                    a.id,
                    Err(Refusal {
                        code: RejectCode::Invalid,
                        path: String::new(),
                        text: "fuzz".into(),
                    }),
                ),
                _ => {}
            }
        }
    };
    drain(&mut s, &mut to_peer);
    if peer.receive(&to_peer).is_err() || !peer.is_ready() {
        return;
    }
    let mut rest = data;
    while rest.len() >= 2 {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]])).min(rest.len() - 2);
        let (frame, tail) = rest[2..].split_at(len);
        rest = tail;
        if frame.is_empty() || peer.send(frame).is_err() {
            break;
        }
        now = now + std::time::Duration::from_millis(300);
        s.receive(now, &peer.take_output());
        s.handle_timeout(now);
        let mut out = Vec::new();
        drain(&mut s, &mut out);
    }
    assert_eq!(s.document(), &doc, "a refused change stayed");
});
