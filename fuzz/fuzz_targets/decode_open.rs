//! Any bytes as the body of an OPEN: a valid header is built around them so the
//! fuzzer spends its time in the OPEN and capability decoders.
#![no_main]

use hopwatch_bgp::message::{self, HEADER_LEN, MARKER, MAX_MESSAGE_LEN, kind};
use hopwatch_bgp::{Codec, Message};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let body = &body[..body.len().min(MAX_MESSAGE_LEN - HEADER_LEN)];
    let mut msg = MARKER.to_vec();
    let len = u16::try_from(HEADER_LEN + body.len()).expect("at most 4096");
    msg.extend_from_slice(&len.to_be_bytes());
    msg.push(kind::OPEN);
    msg.extend_from_slice(body);
    let codec = Codec::default();
    if let Ok(decoded) = message::decode(&msg, &codec) {
        let Message::Open(open) = &decoded.message else {
            panic!("an OPEN header decoded as {}", decoded.message.name());
        };
        // Accessors on untrusted capabilities must not panic either.
        let _ = (
            open.effective_asn(),
            open.families(),
            open.graceful_restart(),
        );
        let again = message::encode_to_vec(&decoded.message, &codec);
        assert!(message::decode(&again, &codec).is_ok());
    }
});
