//! Golden vectors: `(bytes, Message)` pairs checked in both directions.
//!
//! Every vector is written out by hand from the RFCs (4271, 4760, 6793, 1997, 8092,
//! 8203/9003, 2918, 4724, 7606), never copied from our encoder's output, so a test
//! here fails when the codec drifts from the wire format, not when it merely changes.
//! Each `after_marker` string is the message after its 16-octet marker: length,
//! type, body, in hex with spaces where fields meet.

// clippy.toml allows unwrap in #[test] functions only; the helpers here are test
// code too, and a panic in them is a failed test, not a crashed daemon.
#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hopwatch_bgp::message::{
    self, AsPath, Capability, Community, GracefulRestartFamily, LargeCommunity, MARKER, MpReach,
    MpUnreach, Open, Origin, RawAttribute, RouteRefresh,
};
use hopwatch_bgp::notification::{Cease, ErrorCode};
use hopwatch_bgp::{Asn, Codec, Family, HoldTime, Message, Notification, PathAttributes};
use hopwatch_bgp::{RouterId, Update};

const FOUR: Codec = Codec {
    four_octet_as: true,
};
const TWO: Codec = Codec {
    four_octet_as: false,
};

/// The whole message: the marker, then `after_marker` parsed as hex.
fn wire(after_marker: &str) -> Vec<u8> {
    let digits: Vec<u8> = after_marker
        .bytes()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    assert!(digits.len().is_multiple_of(2), "odd number of hex digits");
    let mut out = MARKER.to_vec();
    for pair in digits.chunks(2) {
        let s = std::str::from_utf8(pair).unwrap();
        out.push(u8::from_str_radix(s, 16).unwrap());
    }
    let len = u16::from_be_bytes([out[16], out[17]]);
    assert_eq!(
        usize::from(len),
        out.len(),
        "the vector's length field disagrees with its size"
    );
    out
}

/// decode(bytes) == message with no attribute errors, and encode(message) == bytes.
fn assert_golden(codec: Codec, bytes: &[u8], expected: &Message) {
    let decoded = message::decode(bytes, &codec).expect("a golden vector decodes");
    assert_eq!(&decoded.message, expected, "decode direction");
    assert!(
        decoded.attr_errors.is_empty(),
        "unexpected attribute errors: {:?}",
        decoded.attr_errors
    );
    assert_eq!(
        message::encode_to_vec(expected, &codec),
        bytes,
        "encode direction"
    );
    if let Message::Update(u) = expected {
        let mut out = Vec::new();
        message::encode_update_into(u, &codec, &mut out);
        assert_eq!(out, bytes, "encode_update_into agrees with encode");
    }
    assert_eq!(message::frame_len(bytes), Ok(Some(bytes.len())));
}

fn v4(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

fn seq(asns: &[u32]) -> AsPath {
    AsPath::sequence(asns.iter().copied().map(Asn))
}

/// ORIGIN IGP, AS_PATH [65001], NEXT_HOP 10.10.0.4 announcing 10.10.15.15/32.
fn reference_update() -> Update {
    Update::announce(
        vec!["10.10.15.15/32".parse().unwrap()],
        IpAddr::V4(v4("10.10.0.4")),
        PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(seq(&[65001])),
            ..Default::default()
        },
    )
}

#[test]
fn reference_open_matches_in_both_directions() {
    // The codec evaluation's hex string for this OPEN dropped the multiprotocol
    // capability's last two octets ("01040001" instead of "0104 0001 0001"): its own
    // length fields (0x35 = 53 octets in all, optional parameters 0x18 = 24,
    // capabilities 0x16 = 22) only add up with them, as RFC 5492 and RFC 4760 8
    // (AFI 2 octets, reserved, SAFI) require.
    let bytes = wire(
        "0035 01 04 fde9 0009 0a0a0007 18
         02 16
            0104 0001 00 01
            4104 0000fde9
            0200
            4006 000a 0001 01 00",
    );
    let open = Open {
        asn: Asn(65001),
        hold_time: HoldTime::new(9).unwrap(),
        router_id: RouterId::new(v4("10.10.0.7")).unwrap(),
        capabilities: vec![
            Capability::Multiprotocol(Family::Ipv4Unicast),
            Capability::FourOctetAs(Asn(65001)),
            Capability::RouteRefresh,
            Capability::GracefulRestart {
                notification: false,
                restarting: false,
                restart_time: 10,
                families: vec![GracefulRestartFamily {
                    family: Family::Ipv4Unicast,
                    forwarding_preserved: false,
                }],
            },
        ],
    };
    assert_golden(FOUR, &bytes, &Message::Open(open));
}

#[test]
fn reference_update_matches_in_both_directions() {
    let bytes = wire(
        "0030 02 0000 0014
         40 01 01 00
         40 02 06 02 01 0000fde9
         40 03 04 0a0a0004
         20 0a0a0f0f",
    );
    assert_golden(FOUR, &bytes, &Message::Update(reference_update()));
}

#[test]
fn keepalive_is_a_bare_header() {
    assert_golden(FOUR, &wire("0013 04"), &Message::Keepalive);
}

#[test]
fn cease_administrative_shutdown_carries_a_length_prefixed_message() {
    // RFC 8203 / 9003: one length octet, then that many octets of UTF-8.
    let bytes = wire("0021 03 06 02 0b 6d61696e74656e616e6365");
    let n = Notification::shutdown("maintenance");
    assert_eq!(
        n,
        Notification::new(
            ErrorCode::Cease(Cease::AdministrativeShutdown),
            b"\x0bmaintenance".to_vec()
        )
    );
    assert_golden(FOUR, &bytes, &Message::Notification(n.clone()));
    assert_eq!(n.shutdown_message().as_deref(), Some("maintenance"));
}

#[test]
fn route_refresh_names_afi_and_safi() {
    // RFC 2918 3: AFI (2), reserved (1), SAFI (1).
    assert_golden(
        FOUR,
        &wire("0017 05 0001 00 01"),
        &Message::RouteRefresh(RouteRefresh {
            family: Family::Ipv4Unicast,
        }),
    );
    assert_golden(
        FOUR,
        &wire("0017 05 0002 00 01"),
        &Message::RouteRefresh(RouteRefresh {
            family: Family::Ipv6Unicast,
        }),
    );
}

#[test]
fn ipv4_end_of_rib_is_an_empty_update() {
    // RFC 4724 2: no withdrawn routes, no attributes, no NLRI.
    let eor = Update::end_of_rib(Family::Ipv4Unicast);
    assert_golden(
        FOUR,
        &wire("0017 02 0000 0000"),
        &Message::Update(eor.clone()),
    );
    assert_eq!(eor.end_of_rib_family(), Some(Family::Ipv4Unicast));
}

#[test]
fn ipv6_end_of_rib_is_an_empty_mp_unreach() {
    // MP_UNREACH_NLRI: optional non-transitive (0x80), type 15, AFI 2, SAFI 1.
    let eor = Update::end_of_rib(Family::Ipv6Unicast);
    assert_golden(
        FOUR,
        &wire("001d 02 0000 0006 80 0f 03 0002 01"),
        &Message::Update(eor.clone()),
    );
    assert_eq!(eor.end_of_rib_family(), Some(Family::Ipv6Unicast));
}

#[test]
fn ipv6_update_carries_routes_and_next_hop_in_mp_reach() {
    // RFC 4760 3 with RFC 2545's 16-octet global next hop; RFC 7606 5.1 puts
    // MP_REACH_NLRI first among the attributes.
    let bytes = wire(
        "0043 02 0000 002c
         80 0e 1c 0002 01 10 20010db8000000000000000000000001 00 30 20010db80001
         40 01 01 00
         40 02 06 02 01 0000fde9",
    );
    let update = Update::announce(
        vec!["2001:db8:1::/48".parse().unwrap()],
        "2001:db8::1".parse().unwrap(),
        PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(seq(&[65001])),
            ..Default::default()
        },
    );
    assert_eq!(
        update.attributes.mp_reach,
        Some(MpReach {
            family: Family::Ipv6Unicast,
            next_hop: IpAddr::V6("2001:db8::1".parse::<Ipv6Addr>().unwrap()),
            link_local: None,
            nlri: vec!["2001:db8:1::/48".parse().unwrap()],
        })
    );
    assert_golden(FOUR, &bytes, &Message::Update(update));
}

#[test]
fn ipv6_withdrawal_carries_prefixes_in_mp_unreach() {
    let bytes = wire("0024 02 0000 000d 80 0f 0a 0002 01 30 20010db80001");
    let update = Update::withdraw(vec!["2001:db8:1::/48".parse().unwrap()]);
    assert_eq!(
        update.attributes.mp_unreach,
        Some(MpUnreach {
            family: Family::Ipv6Unicast,
            withdrawn: vec!["2001:db8:1::/48".parse().unwrap()],
        })
    );
    assert_golden(FOUR, &bytes, &Message::Update(update));
}

#[test]
fn update_with_med_local_pref_and_communities_orders_attributes_by_type() {
    // MED optional non-transitive (0x80, RFC 4271 5.1.4); LOCAL_PREF well-known
    // (0x40); COMMUNITIES optional transitive (0xc0, RFC 1997); LARGE_COMMUNITY
    // optional transitive, type 32, 12 octets each (RFC 8092).
    let bytes = wire(
        "0057 02 0000 003c
         40 01 01 00
         40 02 06 02 01 0000fde9
         40 03 04 0a0a0004
         80 04 04 00000064
         40 05 04 000000c8
         c0 08 08 fde90064 ffffff01
         c0 20 0c 0000fde9 00000001 00000002
         18 0a0a0f",
    );
    let update = Update::announce(
        vec!["10.10.15.0/24".parse().unwrap()],
        IpAddr::V4(v4("10.10.0.4")),
        PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(seq(&[65001])),
            med: Some(100),
            local_pref: Some(200),
            communities: vec!["65001:100".parse().unwrap(), "no-export".parse().unwrap()],
            large_communities: vec!["65001:1:2".parse().unwrap()],
            ..Default::default()
        },
    );
    assert_eq!(update.attributes.communities[1], Community(0xffff_ff01));
    assert_eq!(
        update.attributes.large_communities,
        vec![LargeCommunity {
            global: 65001,
            local1: 1,
            local2: 2
        }]
    );
    assert_golden(FOUR, &bytes, &Message::Update(update));
}

#[test]
fn unknown_optional_transitive_attribute_is_passed_on_with_the_partial_bit() {
    // Received with flags 0xc0 (optional, transitive). RFC 4271 5: a speaker that
    // does not recognise it passes it on with Partial (0x20) set. So this one is not
    // a fixed point: decode(received) sets the bit, and the message encodes to the
    // forwarded bytes, which decode to the same message again.
    let received = wire(
        "0036 02 0000 001a
         40 01 01 00
         40 02 06 02 01 0000fde9
         40 03 04 0a0a0004
         c0 f0 03 aabbcc
         20 0a0a0f0f",
    );
    let forwarded = wire(
        "0036 02 0000 001a
         40 01 01 00
         40 02 06 02 01 0000fde9
         40 03 04 0a0a0004
         e0 f0 03 aabbcc
         20 0a0a0f0f",
    );
    let mut update = reference_update();
    update.attributes.unknown.push(RawAttribute {
        flags: 0xe0,
        type_code: 0xf0,
        value: vec![0xaa, 0xbb, 0xcc],
    });
    let expected = Message::Update(update);

    let decoded = message::decode(&received, &FOUR).unwrap();
    assert_eq!(decoded.message, expected);
    assert!(decoded.attr_errors.is_empty());
    // From here the forwarded form is a fixed point in both directions.
    assert_golden(FOUR, &forwarded, &expected);
}

#[test]
fn unknown_optional_non_transitive_attribute_is_dropped_quietly() {
    // RFC 4271 5: an unrecognised optional non-transitive attribute is ignored and
    // not passed on.
    let received = wire(
        "0036 02 0000 001a
         40 01 01 00
         40 02 06 02 01 0000fde9
         40 03 04 0a0a0004
         80 f0 03 aabbcc
         20 0a0a0f0f",
    );
    let decoded = message::decode(&received, &FOUR).unwrap();
    assert_eq!(decoded.message, Message::Update(reference_update()));
    assert!(decoded.attr_errors.is_empty());
}

#[test]
fn two_octet_session_writes_as_trans_and_as4_path() {
    // RFC 6793 4.2.2: toward a 2-octet peer, AS 4200000001 (0xfa56ea01) becomes
    // AS_TRANS (23456 = 0x5ba0) in AS_PATH, and the real path travels in AS4_PATH
    // (optional transitive, type 17, 4-octet numbers).
    let bytes = wire(
        "003d 02 0000 0021
         40 01 01 00
         40 02 06 02 02 5ba0 fde9
         40 03 04 0a0a0004
         c0 11 0a 02 02 fa56ea01 0000fde9
         20 0a0a0f0f",
    );
    let mut update = reference_update();
    update.attributes.as_path = Some(seq(&[4_200_000_001, 65001]));
    // 4.2.3: decoding merges AS4_PATH back into the 4-octet path.
    assert_golden(TWO, &bytes, &Message::Update(update.clone()));

    // A 4-octet session would write the path as it is and no AS4_PATH.
    let four = wire(
        "0034 02 0000 0018
         40 01 01 00
         40 02 0a 02 02 fa56ea01 0000fde9
         40 03 04 0a0a0004
         20 0a0a0f0f",
    );
    assert_golden(FOUR, &four, &Message::Update(update));
}

#[test]
fn two_octet_session_writes_as_trans_and_as4_aggregator() {
    // RFC 6793 4.2.2: AGGREGATOR carries AS_TRANS in 2 octets; AS4_AGGREGATOR (type
    // 18) carries the real AS and the same address.
    let bytes = wire(
        "0042 02 0000 0026
         40 01 01 00
         40 02 04 02 01 fde9
         40 03 04 0a0a0004
         c0 07 06 5ba0 0a0a0007
         c0 12 08 fa56ea01 0a0a0007
         20 0a0a0f0f",
    );
    let mut update = reference_update();
    update.attributes.aggregator = Some((Asn(4_200_000_001), v4("10.10.0.7")));
    assert_golden(TWO, &bytes, &Message::Update(update));
}

#[test]
fn two_octet_path_without_large_numbers_has_no_as4_path() {
    // RFC 6793 4.2.2: AS4_PATH is only sent when a number does not fit 2 octets.
    let bytes = wire(
        "002e 02 0000 0012
         40 01 01 00
         40 02 04 02 01 fde9
         40 03 04 0a0a0004
         20 0a0a0f0f",
    );
    assert_golden(TWO, &bytes, &Message::Update(reference_update()));
}
