//! Property tests: no message hopwatch's encoder emits exceeds the maximum (4,096
//! octets), whatever the UPDATE: one that is too long is spread over UPDATEs that
//! each fit and together carry every prefix with the same attributes, or, when its
//! attributes cannot fit even with one prefix, refused with nothing written. The
//! same through a [`Session`] in Established: it stays up and reports the refusal.

// clippy.toml allows unwrap in #[test] functions only; the helpers here are test
// code too, and a panic in them is a failed test, not a crashed daemon.
#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Instant;

use hopwatch_bgp::message::{
    self, AsPath, Community, LargeCommunity, MAX_MESSAGE_LEN, Message, Origin, RawAttribute,
};
use hopwatch_bgp::session::{Event, Session, SessionConfig, State};
use hopwatch_bgp::{Asn, Codec, PathAttributes, Prefix, RouterId, Update};
use proptest::prelude::*;

fn v4_prefix() -> impl Strategy<Value = Prefix> {
    (any::<u32>(), 0u8..=32)
        .prop_map(|(a, len)| Prefix::new_masking(IpAddr::V4(Ipv4Addr::from(a)), len).unwrap())
}

fn v6_prefix() -> impl Strategy<Value = Prefix> {
    (any::<u128>(), 0u8..=128)
        .prop_map(|(a, len)| Prefix::new_masking(IpAddr::V6(Ipv6Addr::from(a)), len).unwrap())
}

/// Attributes from tiny to far over 4,096 octets: long AS paths, thousands of
/// communities, large communities, an unknown attribute of any size.
fn attributes() -> impl Strategy<Value = PathAttributes> {
    (
        prop::collection::vec(any::<u32>().prop_map(Asn), 0..1200),
        prop::collection::vec(any::<u32>().prop_map(Community), 0..1200),
        prop::collection::vec(
            (any::<u32>(), any::<u32>(), any::<u32>()).prop_map(|(g, a, b)| LargeCommunity {
                global: g,
                local1: a,
                local2: b,
            }),
            0..300,
        ),
        prop::option::of(0usize..5000),
        prop::option::of(any::<u32>()),
    )
        .prop_map(|(path, communities, large, unknown, med)| PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::sequence(path)),
            med,
            communities,
            large_communities: large,
            unknown: unknown
                .map(|n| RawAttribute {
                    flags: 0xc0,
                    type_code: 99,
                    value: vec![7; n],
                })
                .into_iter()
                .collect(),
            ..Default::default()
        })
}

/// An announcement (IPv4 or IPv6) with a withdrawal of the same family, each of
/// up to 2,000 prefixes.
fn update() -> impl Strategy<Value = Update> {
    prop_oneof![
        (
            prop::collection::vec(v4_prefix(), 0..2000),
            prop::collection::vec(v4_prefix(), 0..2000),
            attributes()
        )
            .prop_map(|(nlri, withdrawn, attrs)| {
                let mut u = Update::announce(nlri, "192.0.2.1".parse().unwrap(), attrs);
                u.withdrawn = withdrawn;
                u
            }),
        (
            prop::collection::vec(v6_prefix(), 1..1000),
            prop::collection::vec(v6_prefix(), 0..1000),
            attributes()
        )
            .prop_map(|(nlri, withdrawn, attrs)| {
                let mut u = Update::announce(nlri, "2001:db8::1".parse().unwrap(), attrs);
                let gone = Update::withdraw(withdrawn);
                u.attributes.mp_unreach = gone.attributes.mp_unreach;
                u
            }),
    ]
}

/// Splits a byte stream into messages, checking each header's length.
fn frames(mut bytes: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let len = message::frame_len(bytes).unwrap().unwrap();
        assert!(len <= MAX_MESSAGE_LEN, "a message of {len} octets");
        let (msg, rest) = bytes.split_at(len);
        out.push(msg);
        bytes = rest;
    }
    out
}

fn all_announced(u: &Update) -> Vec<Prefix> {
    u.announced().into_iter().map(|(p, _)| p).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn no_encoded_update_exceeds_the_maximum(u in update(), four in any::<bool>()) {
        let codec = Codec { four_octet_as: four };
        let mut out = vec![0xab];
        match message::encode_update_fitted(&u, &codec, &mut out) {
            Ok(()) => {
                let (mut announced, mut withdrawn) = (Vec::new(), Vec::new());
                for msg in frames(&out[1..]) {
                    let d = message::decode(msg, &codec).unwrap();
                    prop_assert!(d.attr_errors.is_empty(), "{:?}", d.attr_errors);
                    let Message::Update(got) = d.message else { panic!("not an UPDATE") };
                    if !all_announced(&got).is_empty() {
                        // Every announcement carries the original attributes (an AS
                        // path comes back in segments of at most 255, as sent).
                        let strip = |a: &PathAttributes| PathAttributes {
                            next_hop: None, mp_reach: None, mp_unreach: None,
                            as_path: None, unknown: vec![], ..a.clone()
                        };
                        prop_assert_eq!(strip(&got.attributes), strip(&u.attributes));
                        let path = |a: &PathAttributes| a.as_path.as_ref().map(ToString::to_string);
                        prop_assert_eq!(path(&got.attributes), path(&u.attributes));
                    }
                    announced.extend(all_announced(&got));
                    withdrawn.extend(got.withdrawn_all());
                }
                prop_assert_eq!(announced, all_announced(&u));
                prop_assert_eq!(withdrawn, u.withdrawn_all());
            }
            Err(e) => {
                prop_assert_eq!(out, vec![0xab], "nothing written on error");
                prop_assert!(e.len > MAX_MESSAGE_LEN);
                // Refused only when one prefix with these attributes cannot fit, or
                // when there is no prefix to spread at all.
                let Some(first) = e.prefix else {
                    prop_assert!(u.announced().is_empty() && u.withdrawn_all().is_empty());
                    return Ok(());
                };
                let alone = Update::announce(vec![first], u.announced()[0].1, u.attributes.clone());
                prop_assert!(alone.wire_len(&codec) > MAX_MESSAGE_LEN);
            }
        }
    }

    #[test]
    fn an_established_session_never_writes_a_message_over_the_maximum(
        updates in prop::collection::vec(update(), 1..4),
    ) {
        let mut s = established();
        prop_assert!(s.send_updates(Instant::now(), updates.iter()));
        let bytes = s.poll_transmit().unwrap_or_default();
        frames(&bytes);
        let refused = std::iter::from_fn(|| s.poll_event())
            .filter(|e| matches!(e, Event::UpdateTooLong(_)))
            .count();
        let cannot_fit = updates
            .iter()
            .filter(|u| u.split_to_fit(&Codec::default()).is_err())
            .count();
        prop_assert_eq!(refused, cannot_fit);
        prop_assert_eq!(s.state(), State::Established);
    }
}

/// A session taken to Established by hand: our OPEN out, the peer's OPEN and
/// KEEPALIVE in.
fn established() -> Session {
    let id = |s: &str| RouterId::new(s.parse().unwrap()).unwrap();
    let now = Instant::now();
    let mut s = Session::new(SessionConfig::new(
        Asn(65001),
        id("192.0.2.1"),
        Some(Asn(65002)),
    ));
    s.start(now);
    s.connected(now);
    let peer = SessionConfig::new(Asn(65002), id("192.0.2.2"), Some(Asn(65001)));
    let mut hello = message::encode_to_vec(&Message::Open(peer.open()), &Codec::default());
    hello.extend(message::encode_to_vec(
        &Message::Keepalive,
        &Codec::default(),
    ));
    s.receive(now, &hello);
    assert_eq!(s.state(), State::Established);
    let _ = s.poll_transmit();
    while s.poll_event().is_some() {}
    s
}

#[test]
fn a_route_too_long_for_any_message_is_reported_and_the_session_stays_up() {
    let mut s = established();
    let attrs = PathAttributes {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::sequence([Asn(65001)])),
        communities: (0..2000).map(Community).collect(),
        ..Default::default()
    };
    let vip: Prefix = "100.64.0.1/32".parse().unwrap();
    let u = Update::announce(vec![vip], "192.0.2.4".parse().unwrap(), attrs);
    assert!(!s.send_update(Instant::now(), &u));
    assert_eq!(s.poll_transmit(), None, "nothing written");
    let Some(Event::UpdateTooLong(e)) = s.poll_event() else {
        panic!("no UpdateTooLong event")
    };
    assert_eq!(e.prefix, Some(vip));
    assert_eq!(s.state(), State::Established);
}
