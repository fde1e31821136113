//! Any bytes as the body of an UPDATE: a valid header is built around them so the
//! fuzzer spends its time in the attribute and NLRI decoders, with both AS widths.
#![no_main]

use hopwatch_bgp::message::{self, HEADER_LEN, MARKER, MAX_MESSAGE_LEN, kind};
use hopwatch_bgp::{Codec, Message};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let body = &body[..body.len().min(MAX_MESSAGE_LEN - HEADER_LEN)];
    let mut msg = MARKER.to_vec();
    let len = u16::try_from(HEADER_LEN + body.len()).expect("at most 4096");
    msg.extend_from_slice(&len.to_be_bytes());
    msg.push(kind::UPDATE);
    msg.extend_from_slice(body);
    for four_octet_as in [true, false] {
        let codec = Codec { four_octet_as };
        if let Ok(decoded) = message::decode(&msg, &codec) {
            assert!(matches!(decoded.message, Message::Update(_)));
            let again = message::encode_to_vec(&decoded.message, &codec);
            assert!(message::decode(&again, &codec).is_ok());
        }
    }
});
