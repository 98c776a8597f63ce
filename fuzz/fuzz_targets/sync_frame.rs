//! Config-sync frames: `Frame::decode` on arbitrary bytes never panics,
//! and whatever it accepts encodes back to exactly the input (the encoding
//! is canonical), with `encoded_len` equal to the input's length.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_config_sync::frame::{Frame, FrameLimits};

fuzz_target!(|data: &[u8]| {
    let limits = FrameLimits {
        max_document: 1 << 20,
    };
    if let Ok(frame) = Frame::decode(data, &limits) {
        assert_eq!(frame.encoded_len(), data.len(), "{}", frame.name());
        let mut again = Vec::new();
        frame.encode(&mut again);
        assert_eq!(again, data, "{} is not canonical", frame.name());
    }
});
