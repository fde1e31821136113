//! Property tests: every valid message survives encode then decode unchanged, with
//! both AS number widths where the width matters, and `decode` never panics on
//! arbitrary bytes behind a valid header.

// clippy.toml allows unwrap in #[test] functions only; the helpers here are test
// code too, and a panic in them is a failed test, not a crashed daemon.
#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hopwatch_bgp::message::{
    self, AsPath, Capability, Community, GracefulRestartFamily, LargeCommunity, MARKER, MpReach,
    MpUnreach, Open, Origin, RawAttribute, RouteRefresh, Segment, SegmentKind,
};
use hopwatch_bgp::notification::ErrorCode;
use hopwatch_bgp::{Asn, Codec, Family, HoldTime, Message, Notification, PathAttributes};
use hopwatch_bgp::{Prefix, RouterId, Update};
use proptest::prelude::*;

const FOUR: Codec = Codec {
    four_octet_as: true,
};
const TWO: Codec = Codec {
    four_octet_as: false,
};

fn v4_prefix() -> impl Strategy<Value = Prefix> {
    (any::<u32>(), 0u8..=32).prop_map(|(a, len)| {
        Prefix::new_masking(IpAddr::V4(Ipv4Addr::from(a)), len).expect("length is at most 32")
    })
}

fn v6_prefix() -> impl Strategy<Value = Prefix> {
    (any::<u128>(), 0u8..=128).prop_map(|(a, len)| {
        Prefix::new_masking(IpAddr::V6(Ipv6Addr::from(a)), len).expect("length is at most 128")
    })
}

/// A next hop the decoder accepts: not 0.0.0.0, multicast or broadcast.
fn unicast_v4() -> impl Strategy<Value = Ipv4Addr> {
    any::<u32>()
        .prop_map(Ipv4Addr::from)
        .prop_filter("unicast", |a| {
            !a.is_unspecified() && !a.is_multicast() && !a.is_broadcast()
        })
}

fn asns(width: Codec) -> impl Strategy<Value = Vec<Asn>> {
    let asn = if width.four_octet_as {
        any::<u32>().boxed()
    } else {
        // Mostly 2-octet numbers, but often a 4-octet one that must travel in AS4_PATH.
        prop_oneof![3 => 0u32..=65535, 1 => 65536u32..].boxed()
    };
    prop::collection::vec(asn.prop_map(Asn), 1..=12)
}

fn segment(kinds: Vec<SegmentKind>, width: Codec) -> impl Strategy<Value = Segment> {
    (prop::sample::select(kinds), asns(width)).prop_map(|(kind, asns)| Segment { kind, asns })
}

/// Any AS_PATH for a 4-octet session: any segment kinds, any numbers.
fn as_path_four() -> impl Strategy<Value = AsPath> {
    let kinds = vec![
        SegmentKind::Sequence,
        SegmentKind::Set,
        SegmentKind::ConfedSequence,
        SegmentKind::ConfedSet,
    ];
    prop::collection::vec(segment(kinds, FOUR), 0..4).prop_map(|segments| AsPath { segments })
}

/// An AS_PATH that RFC 6793 can carry over a 2-octet session without loss: AS4_PATH
/// holds no confederation segments, so a confederation segment may only lead the
/// path (where the merge keeps it) and only with 2-octet numbers.
fn as_path_two() -> impl Strategy<Value = AsPath> {
    let confed = (
        prop::sample::select(vec![SegmentKind::ConfedSequence, SegmentKind::ConfedSet]),
        prop::collection::vec((0u32..=65535).prop_map(Asn), 1..=6),
    )
        .prop_map(|(kind, asns)| Segment { kind, asns });
    (
        prop::option::of(confed),
        prop::collection::vec(
            segment(vec![SegmentKind::Sequence, SegmentKind::Set], TWO),
            0..4,
        ),
    )
        .prop_map(|(lead, rest)| AsPath {
            segments: lead.into_iter().chain(rest).collect(),
        })
}

fn origin() -> impl Strategy<Value = Origin> {
    prop::sample::select(vec![Origin::Igp, Origin::Egp, Origin::Incomplete])
}

/// Unrecognised optional transitive attributes, as a decoder hands them on: with the
/// Partial bit set, distinct type codes, values short enough for a 1-octet length.
fn unknown_attributes() -> impl Strategy<Value = Vec<RawAttribute>> {
    prop::collection::btree_map(100u8..=250, prop::collection::vec(any::<u8>(), 0..24), 0..3)
        .prop_map(|m| {
            m.into_iter()
                .map(|(type_code, value)| RawAttribute {
                    flags: 0xe0,
                    type_code,
                    value,
                })
                .collect()
        })
}

/// Attributes other than NEXT_HOP and MP_*: `mandatory` forces ORIGIN and AS_PATH.
fn common_attributes(width: Codec, mandatory: bool) -> impl Strategy<Value = PathAttributes> {
    let path = if width.four_octet_as {
        as_path_four().boxed()
    } else {
        as_path_two().boxed()
    };
    let (origin, path) = if mandatory {
        (origin().prop_map(Some).boxed(), path.prop_map(Some).boxed())
    } else {
        (
            prop::option::of(origin()).boxed(),
            prop::option::of(path).boxed(),
        )
    };
    let communities = prop::collection::vec(any::<u32>().prop_map(Community), 0..5);
    let large = prop::collection::vec(
        any::<(u32, u32, u32)>().prop_map(|(global, local1, local2)| LargeCommunity {
            global,
            local1,
            local2,
        }),
        0..4,
    );
    let aggregator = prop::option::of((any::<u32>().prop_map(Asn), any::<u32>()))
        .prop_map(|a| a.map(|(asn, addr)| (asn, Ipv4Addr::from(addr))));
    (
        (origin, path),
        prop::option::of(any::<u32>()),
        prop::option::of(any::<u32>()),
        any::<bool>(),
        aggregator,
        communities,
        large,
        unknown_attributes(),
    )
        .prop_map(
            |(
                (origin, as_path),
                med,
                local_pref,
                atomic_aggregate,
                aggregator,
                communities,
                large_communities,
                unknown,
            )| PathAttributes {
                origin,
                as_path,
                med,
                local_pref,
                atomic_aggregate,
                aggregator,
                communities,
                large_communities,
                unknown,
                ..Default::default()
            },
        )
}

/// A valid IPv4 UPDATE: when it announces, ORIGIN, AS_PATH and NEXT_HOP are present.
fn ipv4_update(width: Codec) -> impl Strategy<Value = Update> {
    (
        prop::collection::vec(v4_prefix(), 0..12),
        prop::collection::vec(v4_prefix(), 0..12),
    )
        .prop_flat_map(move |(withdrawn, nlri)| {
            let announcing = !nlri.is_empty();
            let next_hop = if announcing {
                unicast_v4().prop_map(Some).boxed()
            } else {
                prop::option::of(unicast_v4()).boxed()
            };
            (
                Just(withdrawn),
                Just(nlri),
                common_attributes(width, announcing),
                next_hop,
            )
        })
        .prop_map(|(withdrawn, nlri, mut attributes, next_hop)| {
            attributes.next_hop = next_hop;
            Update {
                withdrawn,
                attributes,
                nlri,
            }
        })
}

/// A valid IPv6 UPDATE: MP_REACH (with ORIGIN and AS_PATH) and/or MP_UNREACH.
fn ipv6_update(width: Codec) -> impl Strategy<Value = Update> {
    let reach = (
        any::<u128>().prop_map(Ipv6Addr::from),
        prop::option::of(any::<u128>().prop_map(Ipv6Addr::from)),
        prop::collection::vec(v6_prefix(), 0..10),
    )
        .prop_map(|(nh, link_local, nlri)| MpReach {
            family: Family::Ipv6Unicast,
            next_hop: IpAddr::V6(nh),
            link_local,
            nlri,
        });
    let unreach = prop::collection::vec(v6_prefix(), 0..10).prop_map(|withdrawn| MpUnreach {
        family: Family::Ipv6Unicast,
        withdrawn,
    });
    (prop::option::of(reach), prop::option::of(unreach))
        .prop_flat_map(move |(reach, unreach)| {
            let attrs = common_attributes(width, reach.is_some());
            (Just(reach), Just(unreach), attrs)
        })
        .prop_map(|(mp_reach, mp_unreach, mut attributes)| {
            attributes.mp_reach = mp_reach;
            attributes.mp_unreach = mp_unreach;
            Update {
                withdrawn: vec![],
                attributes,
                nlri: vec![],
            }
        })
}

fn family() -> impl Strategy<Value = Family> {
    prop::sample::select(vec![Family::Ipv4Unicast, Family::Ipv6Unicast])
}

fn capability() -> impl Strategy<Value = Capability> {
    let gr_family = (family(), any::<bool>()).prop_map(|(family, forwarding_preserved)| {
        GracefulRestartFamily {
            family,
            forwarding_preserved,
        }
    });
    prop_oneof![
        family().prop_map(Capability::Multiprotocol),
        Just(Capability::RouteRefresh),
        (
            any::<bool>(),
            0u16..=4095,
            prop::collection::vec(gr_family, 0..3)
        )
            .prop_map(|(restarting, restart_time, families)| {
                Capability::GracefulRestart {
                    notification: false,
                    restarting,
                    restart_time,
                    families,
                }
            }),
        any::<u32>().prop_map(|a| Capability::FourOctetAs(Asn(a))),
        (
            any::<u8>().prop_filter("a code hopwatch decodes", |c| !matches!(c, 1 | 2 | 64 | 65)),
            prop::collection::vec(any::<u8>(), 0..12)
        )
            .prop_map(|(code, value)| Capability::Unknown { code, value }),
    ]
}

/// An OPEN. Its AS field is 2 octets on the wire, so the value is one that fits
/// (AS_TRANS standing in for a 4-octet AS is one of them).
fn open() -> impl Strategy<Value = Open> {
    (
        any::<u16>(),
        prop_oneof![Just(0u16), 3u16..],
        1u32..,
        prop::collection::vec(capability(), 0..7),
    )
        .prop_map(|(asn, hold, id, capabilities)| Open {
            asn: Asn(u32::from(asn)),
            hold_time: HoldTime::new(hold).expect("0 or at least 3"),
            router_id: RouterId::new(Ipv4Addr::from(id)).expect("non-zero"),
            capabilities,
        })
}

fn notification() -> impl Strategy<Value = Notification> {
    (
        any::<u8>(),
        any::<u8>(),
        prop::collection::vec(any::<u8>(), 0..64),
    )
        .prop_map(|(code, sub, data)| Notification::new(ErrorCode::from_wire(code, sub), data))
}

fn assert_round_trip(msg: &Message, codec: Codec) -> Result<(), TestCaseError> {
    let bytes = message::encode_to_vec(msg, &codec);
    prop_assert!(
        bytes.len() <= message::MAX_MESSAGE_LEN,
        "{} octets",
        bytes.len()
    );
    prop_assert_eq!(message::frame_len(&bytes), Ok(Some(bytes.len())));
    let decoded = message::decode(&bytes, &codec)
        .map_err(|n| TestCaseError::fail(format!("decode refused our own encoding: {n}")))?;
    prop_assert_eq!(&decoded.message, msg);
    prop_assert!(
        decoded.attr_errors.is_empty(),
        "attribute errors: {:?}",
        decoded.attr_errors
    );
    Ok(())
}

proptest! {
    #[test]
    fn ipv4_updates_round_trip_on_a_four_octet_session(u in ipv4_update(FOUR)) {
        assert_round_trip(&Message::Update(u), FOUR)?;
    }

    #[test]
    fn ipv4_updates_round_trip_on_a_two_octet_session_through_as4_path(u in ipv4_update(TWO)) {
        assert_round_trip(&Message::Update(u), TWO)?;
    }

    #[test]
    fn ipv6_updates_round_trip_on_a_four_octet_session(u in ipv6_update(FOUR)) {
        assert_round_trip(&Message::Update(u), FOUR)?;
    }

    #[test]
    fn ipv6_updates_round_trip_on_a_two_octet_session_through_as4_path(u in ipv6_update(TWO)) {
        assert_round_trip(&Message::Update(u), TWO)?;
    }

    #[test]
    fn opens_round_trip(o in open()) {
        // An OPEN's bytes do not depend on the session's AS width.
        assert_round_trip(&Message::Open(o.clone()), FOUR)?;
        assert_round_trip(&Message::Open(o), TWO)?;
    }

    #[test]
    fn notifications_keepalives_and_route_refreshes_round_trip(
        n in notification(),
        f in family(),
    ) {
        assert_round_trip(&Message::Notification(n), FOUR)?;
        assert_round_trip(&Message::Keepalive, FOUR)?;
        assert_round_trip(&Message::RouteRefresh(RouteRefresh { family: f }), FOUR)?;
    }

    #[test]
    fn announce_many_splits_into_updates_that_fit_and_round_trip(
        prefixes in prop::collection::vec(v4_prefix(), 0..2000),
        nh in unicast_v4(),
        attributes in common_attributes(FOUR, true),
    ) {
        let updates = Update::announce_many(&prefixes, IpAddr::V4(nh), &attributes, &FOUR).unwrap();
        let mut seen = Vec::new();
        for u in &updates {
            prop_assert!(u.wire_len(&FOUR) <= message::MAX_MESSAGE_LEN);
            assert_round_trip(&Message::Update(u.clone()), FOUR)?;
            seen.extend(u.nlri.iter().copied());
        }
        prop_assert_eq!(seen, prefixes);
    }

    #[test]
    fn decode_never_panics_on_arbitrary_bodies(
        kind in prop_oneof![4 => 1u8..=5, 1 => any::<u8>()],
        body in prop::collection::vec(any::<u8>(), 0..(4096 - 19)),
    ) {
        let mut bytes = MARKER.to_vec();
        bytes.extend_from_slice(&u16::try_from(19 + body.len()).unwrap().to_be_bytes());
        bytes.push(kind);
        bytes.extend_from_slice(&body);
        prop_assert_eq!(message::frame_len(&bytes), Ok(Some(bytes.len())));
        let _ = message::decode(&bytes, &FOUR);
        let _ = message::decode(&bytes, &TWO);
    }

    #[test]
    fn decode_never_panics_on_corrupted_updates(
        u in prop_oneof![ipv4_update(FOUR), ipv6_update(FOUR)],
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        let mut bytes = message::encode_to_vec(&Message::Update(u), &FOUR);
        let body = bytes.len() - 19;
        if body > 0 {
            for (at, value) in flips {
                bytes[19 + at.index(body)] = value;
            }
        }
        for codec in [FOUR, TWO] {
            if let Ok(d) = message::decode(&bytes, &codec) {
                // Whatever was accepted can be written again and read back.
                let again = message::encode_to_vec(&d.message, &codec);
                prop_assert!(message::decode(&again, &codec).is_ok());
            }
        }
    }

    #[test]
    fn frame_len_never_panics_and_only_frames_valid_lengths(
        bytes in prop::collection::vec(any::<u8>(), 0..40),
    ) {
        if let Ok(Some(len)) = message::frame_len(&bytes) {
            prop_assert!((19..=4096).contains(&len));
            prop_assert_eq!(&bytes[..16], &MARKER[..]);
        }
    }
}
