//! Session tests with a partner driven by hand: frames crafted one by
//! one through a real Noise channel.

use super::*;

/// A partner driven by hand: a raw channel that finished the handshake
/// with session `s` (which listens) and said HELLO as unit `a`.
struct RawPeer {
    ch: crate::channel::Channel,
    now: Instant,
}

impl RawPeer {
    fn new(s: &mut Session, hello: crate::frame::Hello) -> (RawPeer, Vec<Frame>) {
        let mut ch = crate::channel::Channel::new(Side::Initiator, &key(), "pair-1").unwrap();
        let now = Instant::from_millis(1_000);
        s.connect(now, Side::Responder).unwrap();
        s.receive(now, &ch.take_output());
        let mut p = RawPeer { ch, now };
        let first = p.take(s);
        let more = p.send(s, &Frame::Hello(hello));
        (p, first.into_iter().chain(more).collect())
    }

    /// The frames `s` sent since the last call.
    fn take(&mut self, s: &mut Session) -> Vec<Frame> {
        let mut bytes = Vec::new();
        while let Some(o) = s.poll_output() {
            if let Output::Transmit(b) = o {
                bytes.extend_from_slice(&b);
            }
        }
        self.ch
            .receive(&bytes)
            .unwrap()
            .iter()
            .map(|f| Frame::decode(f, &Default::default()).unwrap())
            .collect()
    }

    fn send(&mut self, s: &mut Session, f: &Frame) -> Vec<Frame> {
        let mut b = Vec::new();
        f.encode(&mut b);
        self.ch.send(&b).unwrap();
        s.receive(self.now, &self.ch.take_output());
        self.take(s)
    }
}

fn hello_from_a(schema: u16, auth: Authority, root: crate::digest::Digest) -> crate::frame::Hello {
    crate::frame::Hello {
        unit: "a".into(),
        role: Role::Active,
        mode: Mode::ActiveStandby,
        software: "9.9.9".into(),
        proto_major: crate::channel::PROTO_MAJOR,
        proto_minor_min: 0,
        proto_minor_max: 0,
        schema,
        capabilities: 0,
        epoch: auth.epoch,
        generation: auth.generation,
        root,
        boot: 1,
    }
}

fn rejects(frames: &[Frame]) -> Vec<RejectCode> {
    frames
        .iter()
        .filter_map(|f| match f {
            Frame::Reject { code, .. } => Some(*code),
            _ => None,
        })
        .collect()
}

fn backup_at(doc: &Document, auth: Authority) -> Session {
    let mut c = cfg("b", Mode::ActiveStandby);
    c.max_document = 4096;
    let mut s = Session::new(c, doc.clone(), auth);
    s.set_role(Instant::ZERO, Role::Backup);
    s
}

#[test]
fn snapshot_rejections_too_large_stale_and_digest_change_nothing() {
    let doc = vs(3);
    let auth = Authority {
        epoch: 5,
        generation: 8,
    };
    let mut b = backup_at(&doc, auth);
    let root = b.status().local_root;
    let (mut p, _) = RawPeer::new(&mut b, hello_from_a(1, auth, root));
    // Over max_document (4096 here): refused before any allocation.
    let big = p.send(
        &mut b,
        &Frame::SnapBegin {
            epoch: 5,
            generation: 9,
            len: 1 << 30,
            root,
        },
    );
    assert_eq!(rejects(&big), [RejectCode::TooLarge]);
    // Older than what this unit has, same epoch.
    let stale = p.send(
        &mut b,
        &Frame::SnapBegin {
            epoch: 5,
            generation: 7,
            len: 10,
            root,
        },
    );
    assert_eq!(rejects(&stale), [RejectCode::Stale]);
    // Bytes that do not match the announced SHA-256.
    let body = vs(1).to_bytes();
    p.send(
        &mut b,
        &Frame::SnapBegin {
            epoch: 5,
            generation: 9,
            len: body.len() as u64,
            root,
        },
    );
    p.send(
        &mut b,
        &Frame::SnapChunk {
            offset: 0,
            data: body,
        },
    );
    let bad = p.send(&mut b, &Frame::SnapEnd { sha256: [1; 32] });
    assert_eq!(rejects(&bad), [RejectCode::Digest]);
    assert_eq!(b.document(), &doc);
    assert_eq!(b.authority(), auth);
}

#[test]
fn a_delta_that_does_not_make_its_root_is_nacked_and_undone() {
    let doc = vs(3);
    let auth = Authority {
        epoch: 5,
        generation: 8,
    };
    let mut b = backup_at(&doc, auth);
    let root = b.status().local_root;
    let (mut p, _) = RawPeer::new(&mut b, hello_from_a(1, auth, root));
    let ops = vec![crate::doc::Op::Set {
        key: ObjectKey::new("app.vs", "vs00001"),
        field: "port".into(),
        value: Value::Int(1),
    }];
    let out = p.send(
        &mut b,
        &Frame::Delta {
            epoch: 5,
            base_generation: 8,
            base_root: root,
            generation: 9,
            root: [3; 32],
            ops,
        },
    );
    assert!(
        out.iter()
            .any(|f| matches!(f, Frame::Nack { generation: 8, .. })),
        "{out:?}"
    );
    assert_eq!(b.document(), &doc);
    assert_eq!(b.status().local_root, root);
}

#[test]
fn a_partner_with_a_newer_schema_pushing_is_refused_with_version() {
    let doc = vs(2);
    let auth = Authority {
        epoch: 5,
        generation: 8,
    };
    let mut b = backup_at(&doc, auth);
    let root = b.status().local_root;
    let (mut p, _) = RawPeer::new(&mut b, hello_from_a(2, auth, root));
    let out = p.send(
        &mut b,
        &Frame::Delta {
            epoch: 5,
            base_generation: 8,
            base_root: root,
            generation: 9,
            root,
            ops: Vec::new(),
        },
    );
    assert_eq!(rejects(&out), [RejectCode::Version]);
    assert_eq!(b.authority(), auth);
}

#[test]
fn equal_documents_at_a_lower_generation_adopt_the_partners_and_say_so() {
    let doc = vs(2);
    let mut b = backup_at(
        &doc,
        Authority {
            epoch: 5,
            generation: 3,
        },
    );
    let root = b.status().local_root;
    let newer = Authority {
        epoch: 5,
        generation: 8,
    };
    let (mut p, _) = RawPeer::new(&mut b, hello_from_a(1, newer, root));
    let out = p.send(
        &mut b,
        &Frame::Ping {
            epoch: 5,
            generation: 8,
            root,
        },
    );
    assert!(
        out.iter()
            .any(|f| matches!(f, Frame::Adopt { generation: 8, .. })),
        "{out:?}"
    );
    assert_eq!(b.authority(), newer);
    assert_eq!(b.document(), &doc, "no configuration moved");
}

#[test]
fn bye_closes_with_the_partners_reason() {
    let doc = vs(1);
    let mut b = backup_at(&doc, Authority::default());
    let root = b.status().local_root;
    let (mut p, _) = RawPeer::new(&mut b, hello_from_a(1, Authority::default(), root));
    let mut f = Vec::new();
    Frame::Bye {
        reason: "shutting down".into(),
    }
    .encode(&mut f);
    p.ch.send(&f).unwrap();
    b.receive(p.now, &p.ch.take_output());
    let outs: Vec<Output> = std::iter::from_fn(|| b.poll_output()).collect();
    assert!(outs
        .iter()
        .any(|o| matches!(o, Output::Close { reason } if reason.contains("shutting down"))));
    assert_eq!(b.state(), State::Disconnected);
}

#[test]
fn every_frame_kind_is_answered_or_used() {
    // DIGEST_REQ and FETCH are answered from this unit's document.
    let doc = vs(3);
    let auth = Authority {
        epoch: 5,
        generation: 8,
    };
    let mut b = backup_at(&doc, auth);
    let root = b.status().local_root;
    let (mut p, _) = RawPeer::new(&mut b, hello_from_a(1, auth, root));
    let sections = p.send(
        &mut b,
        &Frame::DigestReq {
            section: String::new(),
            after: String::new(),
        },
    );
    assert!(
        matches!(&sections[..], [Frame::Digests { entries, more: false, .. }] if entries.len() == 1 && entries[0].0 == "app.vs")
    );
    let objects = p.send(
        &mut b,
        &Frame::DigestReq {
            section: "app.vs".into(),
            after: "vs00000".into(),
        },
    );
    assert!(matches!(&objects[..], [Frame::Digests { entries, .. }] if entries.len() == 2));
    let k = ObjectKey::new("app.vs", "vs00002");
    let fetched = p.send(
        &mut b,
        &Frame::Fetch {
            keys: vec![k.clone(), ObjectKey::new("app.vs", "nope")],
        },
    );
    match &fetched[..] {
        [Frame::Objects {
            entries,
            last: true,
        }] => {
            assert_eq!(entries[0].object.as_ref(), doc.object(&k));
            assert!(entries[1].object.is_none());
        }
        other => panic!("{other:?}"),
    }
}
