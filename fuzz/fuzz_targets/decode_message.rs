//! Any bytes: framing (`frame_len`) and then `decode` of the framed message, with
//! both AS number widths. Neither may panic, and they must agree with each other.
#![no_main]

use hopwatch_bgp::Codec;
use hopwatch_bgp::message::{self, HEADER_LEN, MAX_MESSAGE_LEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let codecs = [
        Codec {
            four_octet_as: true,
        },
        Codec {
            four_octet_as: false,
        },
    ];
    match message::frame_len(data) {
        Ok(Some(len)) => {
            assert!((HEADER_LEN..=MAX_MESSAGE_LEN).contains(&len));
            if let Some(msg) = data.get(..len) {
                for codec in &codecs {
                    if let Ok(decoded) = message::decode(msg, codec) {
                        // What was accepted can be written again and read back.
                        let again = message::encode_to_vec(&decoded.message, codec);
                        assert!(message::decode(&again, codec).is_ok());
                    }
                }
            }
        }
        Ok(None) => assert!(data.len() < HEADER_LEN - 1),
        Err(_) => {}
    }
    // The whole input as one message, whatever its length field says.
    for codec in &codecs {
        let _ = message::decode(data, codec);
    }
});
