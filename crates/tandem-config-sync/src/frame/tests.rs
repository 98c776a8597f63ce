use std::collections::BTreeMap;

use super::*;
use crate::value::{DecodeError, Value};

fn dec(bytes: &[u8]) -> Result<Frame, FrameError> {
    Frame::decode(bytes, &FrameLimits::default())
}

/// Encodes, checks the length, decodes back.
fn roundtrip(f: Frame) {
    let bytes = f.to_bytes();
    assert_eq!(f.encoded_len(), bytes.len(), "{}", f.name());
    assert_eq!(dec(&bytes), Ok(f));
}

fn d(b: u8) -> Digest {
    [b; 32]
}

fn hello() -> Hello {
    Hello {
        unit: "a".into(),
        role: Role::Active,
        mode: Mode::Bidirectional,
        software: "1.4.2".into(),
        proto_major: 1,
        proto_minor_min: 0,
        proto_minor_max: 2,
        schema: 3,
        capabilities: 0,
        epoch: 5,
        generation: 7,
        root: d(0xaa),
        boot: 0x0102_0304_0506_0708,
    }
}

fn version() -> Version {
    Version {
        vector: [("a".to_string(), 3), ("b".to_string(), 1)]
            .into_iter()
            .collect(),
        stamp: 0x1234,
        unit: "a".into(),
    }
}

fn object() -> Object {
    let mut o = BTreeMap::new();
    o.insert("vrid".to_string(), Value::Int(7));
    o.insert("name".to_string(), Value::Str("web".into()));
    o
}

/// One frame of every kind.
fn every_kind() -> Vec<Frame> {
    let key = ObjectKey::new("instance", "web");
    vec![
        Frame::Hello(hello()),
        Frame::Ping {
            epoch: 1,
            generation: 2,
            root: d(3),
        },
        Frame::DigestReq {
            section: "instance".into(),
            after: "a".into(),
        },
        Frame::Digests {
            section: String::new(),
            entries: vec![("global".into(), d(1)), ("instance".into(), d(2))],
            more: true,
        },
        Frame::Fetch {
            keys: vec![key.clone(), ObjectKey::new("global", "")],
        },
        Frame::Objects {
            entries: vec![
                ObjectEntry {
                    key: key.clone(),
                    object: Some(object()),
                    version: version(),
                },
                ObjectEntry {
                    key: ObjectKey::new("app.vs", "gone"),
                    object: None,
                    version: Version::default(),
                },
            ],
            last: true,
        },
        Frame::Delta {
            epoch: 1,
            base_generation: 4,
            base_root: d(4),
            generation: 5,
            root: d(5),
            ops: vec![
                Op::Set {
                    key: key.clone(),
                    field: "vrid".into(),
                    value: Value::List(vec![Value::Float(1.5), Value::Bytes(vec![1, 2])]),
                },
                Op::Remove {
                    key: key.clone(),
                    field: "x".into(),
                },
                Op::RemoveObject { key },
            ],
        },
        Frame::SnapBegin {
            epoch: 1,
            generation: 9,
            len: 1000,
            root: d(9),
        },
        Frame::SnapChunk {
            offset: 64_000,
            data: vec![7; 300],
        },
        Frame::SnapEnd { sha256: d(0x55) },
        Frame::Ack {
            epoch: 1,
            generation: 2,
            root: d(6),
        },
        Frame::Nack {
            epoch: 1,
            generation: 3,
            root: d(7),
        },
        Frame::Reject {
            generation: 8,
            code: RejectCode::LocalConflict,
            path: "instance.web.interface".into(),
            text: "no such interface".into(),
        },
        Frame::Adopt {
            epoch: 2,
            generation: 0,
            root: d(8),
        },
        Frame::Bye {
            reason: "shutting down".into(),
        },
    ]
}

#[test]
fn every_kind_roundtrips_with_its_name_and_type() {
    let names = [
        "HELLO",
        "PING",
        "DIGEST_REQ",
        "DIGESTS",
        "FETCH",
        "OBJECTS",
        "DELTA",
        "SNAP_BEGIN",
        "SNAP_CHUNK",
        "SNAP_END",
        "ACK",
        "NACK",
        "REJECT",
        "ADOPT",
        "BYE",
    ];
    let frames = every_kind();
    assert_eq!(frames.len(), names.len());
    for (i, (f, name)) in frames.into_iter().zip(names).enumerate() {
        assert_eq!(f.name(), name);
        assert_eq!(f.kind() as usize, i + 1);
        assert_eq!(f.to_bytes()[..2], [i as u8 + 1, 0]);
        roundtrip(f);
    }
}

#[test]
fn every_reject_code_roundtrips() {
    for (code, n) in [
        (RejectCode::Invalid, 1),
        (RejectCode::LocalConflict, 2),
        (RejectCode::TooLarge, 3),
        (RejectCode::Storage, 4),
        (RejectCode::Stale, 5),
        (RejectCode::Version, 6),
        (RejectCode::Digest, 7),
        (RejectCode::Other(0), 0),
        (RejectCode::Other(8), 8),
        (RejectCode::Other(0xffff), 0xffff),
    ] {
        assert_eq!(code.code(), n);
        assert_eq!(RejectCode::from_code(n), code);
        roundtrip(Frame::Reject {
            generation: 1,
            code,
            path: String::new(),
            text: String::new(),
        });
    }
}

#[test]
fn golden_hello() {
    #[rustfmt::skip]
    let golden: &[u8] = &[
        0x01, 0x00,                   // HELLO, flags
        0, 0, 0, 1, b'a',             // unit "a"
        1,                            // role Active
        1,                            // mode Bidirectional
        0, 0, 0, 5, b'1', b'.', b'4', b'.', b'2', // software
        1, 0, 2,                      // proto major, minor range
        0, 3,                         // schema
        0, 0, 0, 0,                   // capabilities
        0, 0, 0, 0, 0, 0, 0, 5,       // epoch
        0, 0, 0, 0, 0, 0, 0, 7,       // generation
        0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa,
        0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa,
        0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa,
        0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, // root
        1, 2, 3, 4, 5, 6, 7, 8,       // boot
    ];
    let f = Frame::Hello(hello());
    assert_eq!(f.to_bytes(), golden);
    assert_eq!(dec(golden), Ok(f));
}

#[test]
fn golden_ping() {
    #[rustfmt::skip]
    let golden: &[u8] = &[
        0x02, 0x00,
        0, 0, 0, 0, 0, 0, 0x01, 0x00, // epoch 256
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // generation
        3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
        3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, // root
    ];
    let f = Frame::Ping {
        epoch: 256,
        generation: u64::MAX,
        root: d(3),
    };
    assert_eq!(f.to_bytes(), golden);
    assert_eq!(dec(golden), Ok(f));
}

#[test]
fn golden_delta() {
    let key = ObjectKey::new("g", "");
    let f = Frame::Delta {
        epoch: 1,
        base_generation: 2,
        base_root: d(0x11),
        generation: 3,
        root: d(0x22),
        ops: vec![
            Op::Set {
                key: key.clone(),
                field: "x".into(),
                value: Value::Bool(true),
            },
            Op::Remove {
                key: key.clone(),
                field: "y".into(),
            },
            Op::RemoveObject { key },
        ],
    };
    let mut golden: Vec<u8> = vec![0x07, 0x00];
    golden.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1]); // epoch
    golden.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 2]); // base generation
    golden.extend_from_slice(&[0x11; 32]); // base root
    golden.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 3]); // generation
    golden.extend_from_slice(&[0x22; 32]); // root
    golden.extend_from_slice(&[0, 0, 0, 3]); // three ops
    #[rustfmt::skip]
    golden.extend_from_slice(&[
        1, 0, 0, 0, 1, b'g', 0, 0, 0, 0, 0, 0, 0, 1, b'x', 0x01, 0x01, // Set g."" x = true
        2, 0, 0, 0, 1, b'g', 0, 0, 0, 0, 0, 0, 0, 1, b'y',             // Remove g."" y
        3, 0, 0, 0, 1, b'g', 0, 0, 0, 0,                               // RemoveObject g.""
    ]);
    assert_eq!(f.to_bytes(), golden);
    assert_eq!(dec(&golden), Ok(f));
}

#[test]
fn golden_objects_entry_and_version() {
    let f = Frame::Objects {
        entries: vec![ObjectEntry {
            key: ObjectKey::new("s", "i"),
            object: Some([("f".to_string(), Value::Int(1))].into_iter().collect()),
            version: Version {
                vector: [("u".to_string(), 2)].into_iter().collect(),
                stamp: 9,
                unit: "u".into(),
            },
        }],
        last: false,
    };
    #[rustfmt::skip]
    let golden: &[u8] = &[
        0x06, 0x00, 0, 0, 0, 1,
        0, 0, 0, 1, b's', 0, 0, 0, 1, b'i',        // key
        1,                                         // present
        0, 0, 0, 1, 0, 0, 0, 1, b'f', 0x02, 0, 0, 0, 0, 0, 0, 0, 1, // object
        0, 0, 0, 1, 0, 0, 0, 1, b'u', 0, 0, 0, 0, 0, 0, 0, 2,       // vector
        0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 1, b'u',  // stamp, unit
        0,                                         // last
    ];
    assert_eq!(f.to_bytes(), golden);
    assert_eq!(dec(golden), Ok(f));
}

#[test]
fn the_public_piece_encoders_match_the_frame_bytes() {
    let key = ObjectKey::new("instance", "web");
    let mut k = Vec::new();
    encode_key(&key, &mut k);
    assert_eq!(k, b"\0\0\0\x08instance\0\0\0\x03web");
    assert_eq!(key_len(&key), k.len());
    let op = Op::RemoveObject { key: key.clone() };
    let mut o = Vec::new();
    encode_op(&op, &mut o);
    assert_eq!(o[0], 3);
    assert_eq!(o[1..], k[..]);
    assert_eq!(op_len(&op), o.len());
    let entry = ObjectEntry {
        key,
        object: Some(object()),
        version: version(),
    };
    let mut e = Vec::new();
    encode_entry(&entry, &mut e);
    let mut parts = k.clone();
    parts.push(1);
    encode_object(&object(), &mut parts);
    encode_version(&version(), &mut parts);
    assert_eq!(e, parts);
    assert_eq!(entry_len(&entry), e.len());
    let f = Frame::Objects {
        entries: vec![entry],
        last: true,
    };
    assert_eq!(f.to_bytes()[6..6 + e.len()], e[..]);
    assert_eq!(digest_entry_len("abc"), 39);
}

#[test]
fn short() {
    assert_eq!(dec(&[]), Err(FrameError::Short));
    assert_eq!(dec(&[0x02]), Err(FrameError::Short));
}

#[test]
fn unknown_type() {
    assert_eq!(dec(&[0x00, 0x00]), Err(FrameError::UnknownType(0)));
    assert_eq!(dec(&[0x10, 0x00]), Err(FrameError::UnknownType(0x10)));
    assert_eq!(dec(&[0xff, 0x01]), Err(FrameError::UnknownType(0xff)));
}

#[test]
fn nonzero_flags() {
    let mut b = Frame::Bye {
        reason: String::new(),
    }
    .to_bytes();
    b[1] = 0x80;
    assert_eq!(
        dec(&b),
        Err(FrameError::Flags {
            kind: 0x0f,
            flags: 0x80
        })
    );
}

fn body_err(bytes: &[u8]) -> (&'static str, &'static str, usize) {
    match dec(bytes) {
        Err(FrameError::Body { kind, why, at }) => (kind, why, at),
        other => panic!("expected a body error, got {other:?}"),
    }
}

#[test]
fn every_kind_cut_short_is_a_body_error() {
    for f in every_kind() {
        let bytes = f.to_bytes();
        for cut in 2..bytes.len() {
            let (kind, why, _) = body_err(&bytes[..cut]);
            assert_eq!(kind, f.name());
            assert!(
                why == "ends early" || why == "count is over the bytes left",
                "{why}"
            );
        }
    }
}

#[test]
fn trailing_bytes() {
    for f in every_kind() {
        let mut bytes = f.to_bytes();
        let end = bytes.len();
        bytes.push(0);
        assert_eq!(body_err(&bytes), (f.name(), "trailing bytes", end));
    }
}

#[test]
fn bad_flag_byte() {
    let mut b = Frame::Digests {
        section: String::new(),
        entries: vec![],
        more: false,
    }
    .to_bytes();
    let last = b.len() - 1;
    b[last] = 2;
    assert_eq!(
        body_err(&b),
        ("DIGESTS", "flag byte is neither 0 nor 1", last)
    );
    // The present byte of an entry too.
    let mut o = Frame::Objects {
        entries: vec![ObjectEntry {
            key: ObjectKey::new("", ""),
            object: None,
            version: Version::default(),
        }],
        last: true,
    }
    .to_bytes();
    o[14] = 7;
    assert_eq!(
        body_err(&o),
        ("OBJECTS", "flag byte is neither 0 nor 1", 14)
    );
}

#[test]
fn bad_role_mode_and_op_kind() {
    let mut h = Frame::Hello(hello()).to_bytes();
    h[7] = 3;
    assert_eq!(body_err(&h), ("HELLO", "unknown role", 7));
    let mut h = Frame::Hello(hello()).to_bytes();
    h[8] = 2;
    assert_eq!(body_err(&h), ("HELLO", "unknown mode", 8));
    let mut delta = Frame::Delta {
        epoch: 0,
        base_generation: 0,
        base_root: d(0),
        generation: 0,
        root: d(0),
        ops: vec![Op::RemoveObject {
            key: ObjectKey::new("", ""),
        }],
    }
    .to_bytes();
    delta[94] = 4;
    assert_eq!(body_err(&delta), ("DELTA", "unknown op kind", 94));
}

#[test]
fn a_count_over_the_bytes_left_is_refused_before_reserving() {
    let b = [0x05, 0x00, 0xff, 0xff, 0xff, 0xff];
    assert_eq!(body_err(&b), ("FETCH", "count is over the bytes left", 2));
}

#[test]
fn version_units_must_ascend() {
    let entry = |units: &[&str]| ObjectEntry {
        key: ObjectKey::new("", ""),
        object: None,
        version: Version {
            vector: units.iter().map(|u| (u.to_string(), 1)).collect(),
            stamp: 0,
            unit: String::new(),
        },
    };
    let ok = Frame::Objects {
        entries: vec![entry(&["a", "b"])],
        last: true,
    };
    let mut b = ok.to_bytes();
    // vector starts at 15: count, then "a" (5 bytes) + u64, then "b".
    assert_eq!(b[15 + 4 + 4], b'a');
    b[15 + 4 + 4] = b'b';
    assert_eq!(
        body_err(&b),
        (
            "OBJECTS",
            "version vector units out of order or repeated",
            15 + 4 + 13
        )
    );
    b[15 + 4 + 4] = b'c';
    assert_eq!(
        body_err(&b),
        (
            "OBJECTS",
            "version vector units out of order or repeated",
            15 + 4 + 13
        )
    );
}

#[test]
fn object_fields_must_ascend() {
    // One entry with fields "a" and "b"; make the second "a".
    let f = Frame::Objects {
        entries: vec![ObjectEntry {
            key: ObjectKey::new("", ""),
            object: Some(
                [
                    ("a".to_string(), Value::Bool(true)),
                    ("b".to_string(), Value::Bool(true)),
                ]
                .into_iter()
                .collect(),
            ),
            version: Version::default(),
        }],
        last: true,
    };
    let mut b = f.to_bytes();
    // fields at 15: count(4), "a"(5), bool(2), then "b" at 26.
    assert_eq!(b[30], b'b');
    b[30] = b'a';
    assert_eq!(
        dec(&b),
        Err(FrameError::Value {
            kind: "OBJECTS",
            source: DecodeError::KeyOrder { at: 26 },
        })
    );
}

#[test]
fn value_errors_name_the_frame() {
    let mut b = Frame::Bye {
        reason: "é".into()
    }
    .to_bytes();
    b[6] = 0x28; // a broken UTF-8 sequence
    assert_eq!(
        dec(&b),
        Err(FrameError::Value {
            kind: "BYE",
            source: DecodeError::BadUtf8 { at: 2 },
        })
    );
    let mut delta = Frame::Delta {
        epoch: 0,
        base_generation: 0,
        base_root: d(0),
        generation: 0,
        root: d(0),
        ops: vec![Op::Set {
            key: ObjectKey::new("", ""),
            field: String::new(),
            value: Value::Bool(false),
        }],
    }
    .to_bytes();
    let at = delta.len() - 1;
    delta[at] = 9;
    assert_eq!(
        dec(&delta),
        Err(FrameError::Value {
            kind: "DELTA",
            source: DecodeError::BadBool { byte: 9, at },
        })
    );
}

#[test]
fn snapshot_limits() {
    let limits = FrameLimits { max_document: 100 };
    let begin = |len| {
        Frame::SnapBegin {
            epoch: 0,
            generation: 0,
            len,
            root: d(0),
        }
        .to_bytes()
    };
    assert!(Frame::decode(&begin(100), &limits).is_ok());
    assert_eq!(
        Frame::decode(&begin(101), &limits),
        Err(FrameError::Limit {
            kind: "SNAP_BEGIN",
            what: "snapshot length",
            got: 101,
            max: 100,
        })
    );
    roundtrip(Frame::SnapChunk {
        offset: 0,
        data: vec![1; MAX_CHUNK],
    });
    let big = Frame::SnapChunk {
        offset: 0,
        data: vec![1; MAX_CHUNK + 1],
    };
    assert_eq!(
        dec(&big.to_bytes()),
        Err(FrameError::Limit {
            kind: "SNAP_CHUNK",
            what: "chunk length",
            got: MAX_CHUNK as u64 + 1,
            max: MAX_CHUNK as u64,
        })
    );
    let full = Frame::SnapChunk {
        offset: u64::MAX,
        data: vec![0; MAX_CHUNK],
    };
    assert!(full.encoded_len() <= MAX_FRAME);
}

mod props;
