//! Bytes from the peer into a `Session` that was driven, through its public API
//! only, to OpenSent or to Established (2- or 4-octet AS). The first input octet
//! picks the state and the width, the second how the rest is cut into reads, so
//! partial headers and several messages per read are both exercised.
#![no_main]

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use hopwatch_bgp::message::{self, Message};
use hopwatch_bgp::session::{Session, SessionConfig};
use hopwatch_bgp::{Asn, Codec, RouterId};
use libfuzzer_sys::fuzz_target;

fn config(asn: u32, id: [u8; 4], peer: u32, four_octet_as: bool) -> SessionConfig {
    let id = RouterId::new(Ipv4Addr::from(id)).expect("non-zero identifier");
    let mut c = SessionConfig::new(Asn(asn), id, Some(Asn(peer)));
    c.four_octet_as = four_octet_as;
    c
}

fn drain(s: &mut Session) {
    while s.poll_transmit().is_some() {}
    while s.poll_event().is_some() {}
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Some((&cut, input)) = rest.split_first() else {
        return;
    };
    let four_octet_as = mode & 1 == 0;
    let established = mode & 2 == 0;

    let now = Instant::now();
    let mut s = Session::new(config(65001, [10, 0, 0, 1], 65002, four_octet_as));
    s.start(now);
    s.connected(now);
    drain(&mut s);
    if established {
        let peer = config(65002, [10, 0, 0, 2], 65001, four_octet_as);
        let codec = Codec { four_octet_as };
        let mut hello = message::encode_to_vec(&Message::Open(peer.open()), &codec);
        hello.extend(message::encode_to_vec(&Message::Keepalive, &codec));
        s.receive(now, &hello);
        drain(&mut s);
        assert!(s.is_established(), "the handshake did not complete");
    }

    let step = usize::from(cut).max(1);
    let mut t = now;
    for chunk in input.chunks(step) {
        t += Duration::from_millis(1);
        s.receive(t, chunk);
        drain(&mut s);
    }
});
