//! Generated frames: roundtrip, and no panic on arbitrary bytes.

use proptest::prelude::*;

use super::super::*;
use super::dec;

fn name() -> impl Strategy<Value = String> {
    "[a-z.é]{0,6}"
}

fn key() -> impl Strategy<Value = ObjectKey> {
    (name(), name()).prop_map(|(s, i)| ObjectKey::new(s, i))
}

fn digest() -> impl Strategy<Value = Digest> {
    any::<[u8; 32]>()
}

fn object_s() -> impl Strategy<Value = Object> {
    proptest::collection::btree_map(name(), crate::value::tests::any_value(), 0..4)
}

fn version_s() -> impl Strategy<Value = Version> {
    (
        proptest::collection::btree_map(name(), any::<u64>(), 0..3),
        any::<u64>(),
        name(),
    )
        .prop_map(|(vector, stamp, unit)| Version {
            vector,
            stamp,
            unit,
        })
}

fn op_s() -> impl Strategy<Value = Op> {
    prop_oneof![
        (key(), name(), crate::value::tests::any_value()).prop_map(|(key, field, value)| Op::Set {
            key,
            field,
            value
        }),
        (key(), name()).prop_map(|(key, field)| Op::Remove { key, field }),
        key().prop_map(|key| Op::RemoveObject { key }),
    ]
}

fn any_frame() -> impl Strategy<Value = Frame> {
    let hello = (
        (
            name(),
            0u8..3,
            any::<bool>(),
            name(),
            any::<[u8; 3]>(),
            any::<u16>(),
            any::<u32>(),
        ),
        (any::<u64>(), any::<u64>(), digest(), any::<u64>()),
    )
        .prop_map(
            |(
                (unit, role, bidi, software, p, schema, capabilities),
                (epoch, generation, root, boot),
            )| {
                Frame::Hello(Hello {
                    unit,
                    role: [Role::Unknown, Role::Active, Role::Backup][role as usize],
                    mode: if bidi {
                        Mode::Bidirectional
                    } else {
                        Mode::ActiveStandby
                    },
                    software,
                    proto_major: p[0],
                    proto_minor_min: p[1],
                    proto_minor_max: p[2],
                    schema,
                    capabilities,
                    epoch,
                    generation,
                    root,
                    boot,
                })
            },
        );
    let egr =
        (0u8..4, any::<u64>(), any::<u64>(), digest()).prop_map(|(k, epoch, generation, root)| {
            match k {
                0 => Frame::Ping {
                    epoch,
                    generation,
                    root,
                },
                1 => Frame::Ack {
                    epoch,
                    generation,
                    root,
                },
                2 => Frame::Nack {
                    epoch,
                    generation,
                    root,
                },
                _ => Frame::Adopt {
                    epoch,
                    generation,
                    root,
                },
            }
        });
    let entry = (key(), proptest::option::of(object_s()), version_s()).prop_map(
        |(key, object, version)| ObjectEntry {
            key,
            object,
            version,
        },
    );
    prop_oneof![
        hello,
        egr,
        (name(), name()).prop_map(|(section, after)| Frame::DigestReq { section, after }),
        (
            name(),
            proptest::collection::vec((name(), digest()), 0..4),
            any::<bool>()
        )
            .prop_map(|(section, entries, more)| Frame::Digests {
                section,
                entries,
                more
            }),
        proptest::collection::vec(key(), 0..4).prop_map(|keys| Frame::Fetch { keys }),
        (proptest::collection::vec(entry, 0..3), any::<bool>())
            .prop_map(|(entries, last)| Frame::Objects { entries, last }),
        (
            any::<(u64, u64, u64)>(),
            digest(),
            digest(),
            proptest::collection::vec(op_s(), 0..4)
        )
            .prop_map(
                |((epoch, base_generation, generation), base_root, root, ops)| Frame::Delta {
                    epoch,
                    base_generation,
                    base_root,
                    generation,
                    root,
                    ops,
                }
            ),
        (
            any::<u64>(),
            any::<u64>(),
            0..=FrameLimits::default().max_document,
            digest()
        )
            .prop_map(|(epoch, generation, len, root)| Frame::SnapBegin {
                epoch,
                generation,
                len,
                root
            }),
        (any::<u64>(), proptest::collection::vec(any::<u8>(), 0..64))
            .prop_map(|(offset, data)| Frame::SnapChunk { offset, data }),
        digest().prop_map(|sha256| Frame::SnapEnd { sha256 }),
        (any::<u64>(), any::<u16>(), name(), name()).prop_map(|(generation, code, path, text)| {
            Frame::Reject {
                generation,
                code: RejectCode::from_code(code),
                path,
                text,
            }
        }),
        name().prop_map(|reason| Frame::Bye { reason }),
    ]
}

proptest! {
    #[test]
    fn generated_frames_roundtrip(f in any_frame()) {
        let bytes = f.to_bytes();
        prop_assert_eq!(f.encoded_len(), bytes.len());
        prop_assert_eq!(dec(&bytes), Ok(f));
    }

    #[test]
    fn decode_never_panics(bytes in proptest::collection::vec(prop_oneof![any::<u8>(), 0u8..16], 0..128)) {
        if let Ok(f) = dec(&bytes) {
            prop_assert_eq!(f.to_bytes(), bytes);
        }
    }

    /// A frame with one byte changed is refused or decodes to a frame
    /// that encodes to exactly those bytes.
    #[test]
    fn altered_frames_are_refused_or_canonical(f in any_frame(), at in any::<usize>(), byte in any::<u8>()) {
        let mut bytes = f.to_bytes();
        let i = at % bytes.len();
        bytes[i] = byte;
        if let Ok(g) = dec(&bytes) {
            prop_assert_eq!(g.to_bytes(), bytes);
        }
    }
}
