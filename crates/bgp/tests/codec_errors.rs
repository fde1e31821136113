//! Malformed messages: each class gives the NOTIFICATION that RFC 4271 section 6 asks
//! for (code, subcode and data), or, for the attribute errors RFC 7606 handles
//! without a reset, the right disposition (treat-as-withdraw or attribute discard).

// clippy.toml allows unwrap in #[test] functions only; the helpers here are test
// code too, and a panic in them is a failed test, not a crashed daemon.
#![allow(clippy::unwrap_used)]

use std::net::IpAddr;

use hopwatch_bgp::message::{self, AttrAction, AttrError, Decoded, MARKER};
use hopwatch_bgp::notification::{ErrorCode, HeaderError, OpenError, RouteRefreshError};
use hopwatch_bgp::notification::{UpdateError, UpdateError as U};
use hopwatch_bgp::{Codec, Message, Notification, PathAttributes, Prefix, Update};

const FOUR: Codec = Codec {
    four_octet_as: true,
};
const TWO: Codec = Codec {
    four_octet_as: false,
};

const ORIGIN_IGP: &[u8] = &[0x40, 1, 1, 0];
const AS_PATH_65001: &[u8] = &[0x40, 2, 6, 2, 1, 0, 0, 0xfd, 0xe9];
const NEXT_HOP_10_10_0_4: &[u8] = &[0x40, 3, 4, 10, 10, 0, 4];
/// 10.10.15.15/32 in NLRI form.
const NLRI_HOST: &[u8] = &[32, 10, 10, 15, 15];

/// A message of type `kind` around `body`, with a correct header.
fn message(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut out = MARKER.to_vec();
    out.extend_from_slice(&u16::try_from(19 + body.len()).unwrap().to_be_bytes());
    out.push(kind);
    out.extend_from_slice(body);
    out
}

/// A message whose length field says `len`, whatever its size.
fn with_length_field(len: u16, kind: u8, body: &[u8]) -> Vec<u8> {
    let mut out = MARKER.to_vec();
    out.extend_from_slice(&len.to_be_bytes());
    out.push(kind);
    out.extend_from_slice(body);
    out
}

/// An UPDATE with correct length fields around the three parts.
fn update(withdrawn: &[u8], attrs: &[u8], nlri: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&u16::try_from(withdrawn.len()).unwrap().to_be_bytes());
    body.extend_from_slice(withdrawn);
    body.extend_from_slice(&u16::try_from(attrs.len()).unwrap().to_be_bytes());
    body.extend_from_slice(attrs);
    body.extend_from_slice(nlri);
    message(2, &body)
}

fn attrs(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// An OPEN body: version, AS, hold time, identifier, then optional parameters.
fn open_body(version: u8, hold: u16, id: [u8; 4], params: &[u8]) -> Vec<u8> {
    let mut b = vec![version, 0xfd, 0xe9];
    b.extend_from_slice(&hold.to_be_bytes());
    b.extend_from_slice(&id);
    b.push(u8::try_from(params.len()).unwrap());
    b.extend_from_slice(params);
    b
}

fn refused(bytes: &[u8], codec: Codec) -> Notification {
    match message::decode(bytes, &codec) {
        Ok(d) => panic!("expected a NOTIFICATION, decoded {d:?}"),
        Err(n) => n,
    }
}

fn decoded_update(bytes: &[u8]) -> (Update, Vec<AttrError>) {
    match message::decode(bytes, &FOUR) {
        Ok(Decoded {
            message: Message::Update(u),
            attr_errors,
        }) => (u, attr_errors),
        other => panic!("expected an UPDATE, got {other:?}"),
    }
}

fn assert_notification(n: &Notification, code: u8, subcode: u8, data: &[u8]) {
    assert_eq!(
        (n.code.code(), n.code.subcode(), n.data.as_slice()),
        (code, subcode, data),
        "{n}"
    );
}

fn host() -> Prefix {
    "10.10.15.15/32".parse().unwrap()
}

/// The UPDATE that treat-as-withdraw leaves: the announced prefix withdrawn, no
/// attributes, no NLRI.
fn withdrawal_of_host() -> Update {
    Update {
        withdrawn: vec![host()],
        attributes: PathAttributes::default(),
        nlri: vec![],
    }
}

fn one_error(type_code: u8, error: UpdateError, action: AttrAction) -> Vec<AttrError> {
    vec![AttrError {
        type_code,
        error,
        action,
    }]
}

// ---- Message header (RFC 4271 6.1) -------------------------------------------------

#[test]
fn a_marker_that_is_not_all_ones_is_connection_not_synchronized() {
    let mut bytes = message(4, &[]);
    bytes[7] = 0xfe;
    let n = refused(&bytes, FOUR);
    assert_notification(&n, 1, 1, &[]);
    assert_eq!(
        n.code,
        ErrorCode::Header(HeaderError::ConnectionNotSynchronized)
    );
    assert_eq!(message::frame_len(&bytes), Err(n));
}

#[test]
fn a_length_under_19_is_a_bad_message_length_carrying_the_length() {
    let bytes = with_length_field(18, 4, &[]);
    assert_notification(&refused(&bytes, FOUR), 1, 2, &[0x00, 0x12]);
    let n = message::frame_len(&bytes).unwrap_err();
    assert_notification(&n, 1, 2, &[0x00, 0x12]);
}

#[test]
fn a_length_over_4096_is_a_bad_message_length_carrying_the_length() {
    let body = vec![0u8; 4097 - 19];
    let bytes = with_length_field(4097, 2, &body);
    assert_notification(&refused(&bytes, FOUR), 1, 2, &[0x10, 0x01]);
    let n = message::frame_len(&bytes[..18]).unwrap_err();
    assert_notification(&n, 1, 2, &[0x10, 0x01]);
}

#[test]
fn a_keepalive_of_length_20_is_a_bad_message_length() {
    let bytes = message(4, &[0]);
    assert_eq!(bytes.len(), 20);
    let n = refused(&bytes, FOUR);
    assert_eq!(n.code, ErrorCode::Header(HeaderError::BadMessageLength));
    assert_notification(&n, 1, 2, &[0x00, 0x14]);
}

#[test]
fn messages_shorter_than_their_type_allows_are_bad_message_lengths() {
    // OPEN at least 29, UPDATE at least 23, NOTIFICATION at least 21 (RFC 4271 4).
    for (kind, body_len) in [(1u8, 9usize), (2, 3), (3, 1)] {
        let bytes = message(kind, &vec![0; body_len]);
        let len = u16::try_from(bytes.len()).unwrap();
        assert_notification(&refused(&bytes, FOUR), 1, 2, &len.to_be_bytes());
    }
}

#[test]
fn an_unknown_message_type_is_a_bad_message_type_carrying_the_type() {
    let n = refused(&message(6, &[]), FOUR);
    assert_eq!(n.code, ErrorCode::Header(HeaderError::BadMessageType));
    assert_notification(&n, 1, 3, &[6]);
    assert_notification(&refused(&message(0, &[]), FOUR), 1, 3, &[0]);
}

#[test]
fn a_length_field_that_disagrees_with_the_buffer_is_a_bad_message_length() {
    let mut bytes = message(4, &[]);
    bytes.push(0);
    assert_notification(&refused(&bytes, FOUR), 1, 2, &[0x00, 0x13]);
}

#[test]
fn a_route_refresh_of_the_wrong_length_is_a_route_refresh_error_with_the_message() {
    // RFC 7313 5: code 7, subcode 1, data: the complete message.
    let bytes = message(5, &[0, 1, 0]);
    let n = refused(&bytes, FOUR);
    assert_eq!(
        n.code,
        ErrorCode::RouteRefresh(RouteRefreshError::InvalidMessageLength)
    );
    assert_notification(&n, 7, 1, &bytes);
}

// ---- Framing ---------------------------------------------------------------------

#[test]
fn frame_len_waits_for_the_rest_of_a_partial_header() {
    assert_eq!(message::frame_len(&[]), Ok(None));
    assert_eq!(message::frame_len(&[0xff; 10]), Ok(None));
    assert_eq!(message::frame_len(&[0xff; 16]), Ok(None));
    assert_eq!(message::frame_len(&[0xff; 17]), Ok(None));
    let keepalive = message(4, &[]);
    // Marker and length are enough; the type octet is not needed to frame.
    assert_eq!(message::frame_len(&keepalive[..18]), Ok(Some(19)));
    assert_eq!(message::frame_len(&keepalive), Ok(Some(19)));
    // A following message's bytes do not change the answer.
    let mut two = keepalive.clone();
    two.extend_from_slice(&keepalive[..5]);
    assert_eq!(message::frame_len(&two), Ok(Some(19)));
}

#[test]
fn frame_len_refuses_a_bad_marker_before_the_header_is_complete() {
    let n = message::frame_len(&[0xff, 0xff, 0x00]).unwrap_err();
    assert_notification(&n, 1, 1, &[]);
    let n = message::frame_len(&[0x00]).unwrap_err();
    assert_notification(&n, 1, 1, &[]);
}

// ---- OPEN (RFC 4271 6.2) -----------------------------------------------------------

#[test]
fn an_open_of_version_3_is_unsupported_version_with_data_4() {
    let n = refused(&message(1, &open_body(3, 90, [10, 0, 0, 1], &[])), FOUR);
    assert_eq!(n.code, ErrorCode::Open(OpenError::UnsupportedVersionNumber));
    assert_notification(&n, 2, 1, &[0x00, 0x04]);
}

#[test]
fn hold_times_of_one_and_two_seconds_are_unacceptable() {
    for hold in [1, 2] {
        let n = refused(&message(1, &open_body(4, hold, [10, 0, 0, 1], &[])), FOUR);
        assert_eq!(n.code, ErrorCode::Open(OpenError::UnacceptableHoldTime));
        assert_notification(&n, 2, 6, &[]);
    }
    // Zero and three are fine.
    for hold in [0, 3] {
        let bytes = message(1, &open_body(4, hold, [10, 0, 0, 1], &[]));
        assert!(message::decode(&bytes, &FOUR).is_ok(), "hold {hold}");
    }
}

#[test]
fn router_id_zero_is_a_bad_bgp_identifier() {
    let n = refused(&message(1, &open_body(4, 90, [0, 0, 0, 0], &[])), FOUR);
    assert_eq!(n.code, ErrorCode::Open(OpenError::BadBgpIdentifier));
    assert_notification(&n, 2, 3, &[]);
}

#[test]
fn an_optional_parameter_other_than_capabilities_is_unsupported() {
    // Parameter type 1 (the deprecated authentication information), 2 octets.
    let n = refused(
        &message(1, &open_body(4, 90, [10, 0, 0, 1], &[1, 2, 0xab, 0xcd])),
        FOUR,
    );
    assert_eq!(
        n.code,
        ErrorCode::Open(OpenError::UnsupportedOptionalParameter)
    );
    assert_notification(&n, 2, 4, &[]);
}

#[test]
fn an_open_whose_parameters_overrun_is_an_open_message_error() {
    // Capability parameter claims 8 octets, 2 follow.
    let n = refused(
        &message(1, &open_body(4, 90, [10, 0, 0, 1], &[2, 8, 2, 0])),
        FOUR,
    );
    assert_eq!(n.code.code(), 2);
}

// ---- UPDATE: errors that reset the session (RFC 4271 6.3, RFC 7606 5.3) -------------

#[test]
fn a_total_attribute_length_overrunning_the_message_is_a_malformed_attribute_list() {
    // Attribute length says 0x30, only the 20 octets of three attributes follow.
    let mut body = vec![0, 0, 0, 0x30];
    body.extend_from_slice(&attrs(&[ORIGIN_IGP, AS_PATH_65001, NEXT_HOP_10_10_0_4]));
    let n = refused(&message(2, &body), FOUR);
    assert_eq!(n.code, ErrorCode::Update(U::MalformedAttributeList));
    assert_notification(&n, 3, 1, &[]);
}

#[test]
fn a_withdrawn_length_overrunning_the_message_is_a_malformed_attribute_list() {
    let body = [0, 9, 32, 10, 10, 15, 15];
    assert_notification(&refused(&message(2, &body), FOUR), 3, 1, &[]);
}

#[test]
fn an_nlri_prefix_length_of_33_is_an_invalid_network_field() {
    let a = attrs(&[ORIGIN_IGP, AS_PATH_65001, NEXT_HOP_10_10_0_4]);
    let n = refused(&update(&[], &a, &[33, 10, 10, 15, 15, 0]), FOUR);
    assert_eq!(n.code, ErrorCode::Update(U::InvalidNetworkField));
    assert_notification(&n, 3, 10, &[]);
}

#[test]
fn an_nlri_prefix_cut_short_is_an_invalid_network_field() {
    let a = attrs(&[ORIGIN_IGP, AS_PATH_65001, NEXT_HOP_10_10_0_4]);
    assert_notification(&refused(&update(&[], &a, &[24, 10, 10]), FOUR), 3, 10, &[]);
}

#[test]
fn an_unrecognized_well_known_attribute_is_refused_with_the_attribute_as_data() {
    // Flags 0x40 (well-known, transitive), a type hopwatch does not know.
    let unknown: &[u8] = &[0x40, 0xf0, 2, 0xab, 0xcd];
    let a = attrs(&[ORIGIN_IGP, AS_PATH_65001, NEXT_HOP_10_10_0_4, unknown]);
    let n = refused(&update(&[], &a, NLRI_HOST), FOUR);
    assert_eq!(n.code, ErrorCode::Update(U::UnrecognizedWellKnownAttribute));
    assert_notification(&n, 3, 2, unknown);
}

#[test]
fn a_malformed_mp_reach_resets_the_session() {
    // IPv6 unicast with a 4-octet next hop: RFC 7606 7.11, RFC 4760 7.
    let mp: &[u8] = &[0x80, 14, 12, 0, 2, 1, 4, 10, 0, 0, 1, 0, 16, 0x20, 0x01];
    let a = attrs(&[mp, ORIGIN_IGP, AS_PATH_65001]);
    let n = refused(&update(&[], &a, &[]), FOUR);
    assert_eq!(n.code, ErrorCode::Update(U::OptionalAttributeError));
    assert_notification(&n, 3, 9, &[]);
}

#[test]
fn an_mp_reach_with_a_broken_prefix_resets_the_session() {
    // 16-octet next hop, then a /129.
    let mut mp = vec![0x80, 14, 24, 0, 2, 1, 16];
    mp.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    mp.extend_from_slice(&[0, 129, 0x20, 0x01]);
    assert_eq!(mp.len(), 3 + 24);
    let a = attrs(&[&mp, ORIGIN_IGP, AS_PATH_65001]);
    assert_notification(&refused(&update(&[], &a, &[]), FOUR), 3, 9, &[]);
}

#[test]
fn a_duplicate_mp_unreach_is_a_malformed_attribute_list() {
    // RFC 7606 3 g: MP_REACH / MP_UNREACH more than once resets.
    let mp: &[u8] = &[0x80, 15, 3, 0, 2, 1];
    let a = attrs(&[mp, mp]);
    assert_notification(&refused(&update(&[], &a, &[]), FOUR), 3, 1, &[]);
}

// ---- UPDATE: RFC 7606 treat-as-withdraw and attribute discard -----------------------

#[test]
fn missing_origin_with_nlri_is_treat_as_withdraw() {
    let a = attrs(&[AS_PATH_65001, NEXT_HOP_10_10_0_4]);
    let (u, errors) = decoded_update(&update(&[], &a, NLRI_HOST));
    assert_eq!(u, withdrawal_of_host());
    assert_eq!(
        errors,
        one_error(1, U::MissingWellKnownAttribute, AttrAction::TreatAsWithdraw)
    );
}

#[test]
fn missing_as_path_with_nlri_is_treat_as_withdraw() {
    let a = attrs(&[ORIGIN_IGP, NEXT_HOP_10_10_0_4]);
    let (u, errors) = decoded_update(&update(&[], &a, NLRI_HOST));
    assert_eq!(u, withdrawal_of_host());
    assert_eq!(
        errors,
        one_error(2, U::MissingWellKnownAttribute, AttrAction::TreatAsWithdraw)
    );
}

#[test]
fn missing_next_hop_with_nlri_is_treat_as_withdraw() {
    let a = attrs(&[ORIGIN_IGP, AS_PATH_65001]);
    let (u, errors) = decoded_update(&update(&[], &a, NLRI_HOST));
    assert_eq!(u, withdrawal_of_host());
    assert_eq!(
        errors,
        one_error(3, U::MissingWellKnownAttribute, AttrAction::TreatAsWithdraw)
    );
}

#[test]
fn missing_attributes_without_nlri_are_no_error() {
    // A withdrawal needs no attributes at all.
    let (u, errors) = decoded_update(&update(NLRI_HOST, &[], &[]));
    assert_eq!(u, withdrawal_of_host());
    assert!(errors.is_empty());
}

#[test]
fn treat_as_withdraw_keeps_the_withdrawals_already_in_the_update() {
    let other: &[u8] = &[24, 192, 0, 2];
    let a = attrs(&[AS_PATH_65001, NEXT_HOP_10_10_0_4]);
    let (u, _) = decoded_update(&update(other, &a, NLRI_HOST));
    assert_eq!(u.withdrawn, vec!["192.0.2.0/24".parse().unwrap(), host()]);
    assert!(u.nlri.is_empty());
}

#[test]
fn next_hop_zero_is_treat_as_withdraw_with_invalid_next_hop() {
    let zero: &[u8] = &[0x40, 3, 4, 0, 0, 0, 0];
    let a = attrs(&[ORIGIN_IGP, AS_PATH_65001, zero]);
    let (u, errors) = decoded_update(&update(&[], &a, NLRI_HOST));
    assert_eq!(u, withdrawal_of_host());
    assert_eq!(
        errors,
        one_error(3, U::InvalidNextHop, AttrAction::TreatAsWithdraw)
    );
    assert!(u.announced().is_empty());
}

#[test]
fn multicast_and_broadcast_next_hops_are_treat_as_withdraw() {
    for nh in [[224, 0, 0, 5], [255, 255, 255, 255]] {
        let attr = [0x40, 3, 4, nh[0], nh[1], nh[2], nh[3]];
        let a = attrs(&[ORIGIN_IGP, AS_PATH_65001, &attr]);
        let (u, errors) = decoded_update(&update(&[], &a, NLRI_HOST));
        assert_eq!(u, withdrawal_of_host(), "{nh:?}");
        assert_eq!(
            errors,
            one_error(3, U::InvalidNextHop, AttrAction::TreatAsWithdraw)
        );
    }
}

#[test]
fn origin_value_5_is_treat_as_withdraw() {
    let bad: &[u8] = &[0x40, 1, 1, 5];
    let a = attrs(&[bad, AS_PATH_65001, NEXT_HOP_10_10_0_4]);
    let (u, errors) = decoded_update(&update(&[], &a, NLRI_HOST));
    assert_eq!(u, withdrawal_of_host());
    assert_eq!(
        errors,
        one_error(1, U::InvalidOrigin, AttrAction::TreatAsWithdraw)
    );
}

#[test]
fn origin_with_wrong_flags_is_treat_as_withdraw() {
    // ORIGIN marked optional: RFC 7606 3 c.
    let bad: &[u8] = &[0xc0, 1, 1, 0];
    let a = attrs(&[bad, AS_PATH_65001, NEXT_HOP_10_10_0_4]);
    let (u, errors) = decoded_update(&update(&[], &a, NLRI_HOST));
    assert_eq!(u, withdrawal_of_host());
    assert_eq!(
        errors,
        one_error(1, U::AttributeFlagsError, AttrAction::TreatAsWithdraw)
    );
}

#[test]
fn a_malformed_as_path_is_treat_as_withdraw() {
    // A segment with a count of zero (RFC 7606 7.2).
    let bad: &[u8] = &[0x40, 2, 2, 2, 0];
    let a = attrs(&[ORIGIN_IGP, bad, NEXT_HOP_10_10_0_4]);
    let (u, errors) = decoded_update(&update(&[], &a, NLRI_HOST));
    assert_eq!(u, withdrawal_of_host());
    assert_eq!(
        errors,
        one_error(2, U::MalformedAsPath, AttrAction::TreatAsWithdraw)
    );
}

#[test]
fn an_attribute_overrunning_the_attribute_area_is_treat_as_withdraw() {
    // MED claims 4 octets but the attribute area ends after 2 (RFC 7606 4).
    let cut: &[u8] = &[0x80, 4, 4, 0, 0];
    let a = attrs(&[ORIGIN_IGP, AS_PATH_65001, NEXT_HOP_10_10_0_4, cut]);
    let (u, errors) = decoded_update(&update(&[], &a, NLRI_HOST));
    assert_eq!(u, withdrawal_of_host());
    assert_eq!(
        errors,
        one_error(4, U::AttributeLengthError, AttrAction::TreatAsWithdraw)
    );
}

#[test]
fn a_bad_atomic_aggregate_length_is_discarded_and_the_route_kept() {
    let bad: &[u8] = &[0x40, 6, 1, 0];
    let a = attrs(&[ORIGIN_IGP, AS_PATH_65001, NEXT_HOP_10_10_0_4, bad]);
    let (u, errors) = decoded_update(&update(&[], &a, NLRI_HOST));
    assert_eq!(u.nlri, vec![host()]);
    assert!(u.withdrawn.is_empty());
    assert!(!u.attributes.atomic_aggregate);
    assert_eq!(
        u.announced(),
        vec![(host(), IpAddr::V4("10.10.0.4".parse().unwrap()))]
    );
    assert_eq!(
        errors,
        one_error(6, U::AttributeLengthError, AttrAction::Discard)
    );
}

#[test]
fn a_duplicate_attribute_is_discarded_and_the_first_kept() {
    let med_1: &[u8] = &[0x80, 4, 4, 0, 0, 0, 1];
    let med_2: &[u8] = &[0x80, 4, 4, 0, 0, 0, 2];
    let a = attrs(&[ORIGIN_IGP, AS_PATH_65001, NEXT_HOP_10_10_0_4, med_1, med_2]);
    let (u, errors) = decoded_update(&update(&[], &a, NLRI_HOST));
    assert_eq!(u.nlri, vec![host()]);
    assert_eq!(u.attributes.med, Some(1));
    assert_eq!(
        errors,
        one_error(4, U::MalformedAttributeList, AttrAction::Discard)
    );
}

#[test]
fn communities_of_a_length_not_a_multiple_of_4_are_treat_as_withdraw() {
    let bad: &[u8] = &[0xc0, 8, 5, 0xfd, 0xe9, 0, 100, 0];
    let a = attrs(&[ORIGIN_IGP, AS_PATH_65001, NEXT_HOP_10_10_0_4, bad]);
    let (u, errors) = decoded_update(&update(&[], &a, NLRI_HOST));
    assert_eq!(u, withdrawal_of_host());
    assert_eq!(
        errors,
        one_error(8, U::OptionalAttributeError, AttrAction::TreatAsWithdraw)
    );
}

#[test]
fn empty_communities_are_treat_as_withdraw() {
    // RFC 7606 7.8: malformed unless a non-zero multiple of 4.
    let empty: &[u8] = &[0xc0, 8, 0];
    let a = attrs(&[ORIGIN_IGP, AS_PATH_65001, NEXT_HOP_10_10_0_4, empty]);
    let (u, errors) = decoded_update(&update(&[], &a, NLRI_HOST));
    assert_eq!(u, withdrawal_of_host());
    assert_eq!(
        errors,
        one_error(8, U::OptionalAttributeError, AttrAction::TreatAsWithdraw)
    );
}

#[test]
fn large_communities_of_a_length_not_a_multiple_of_12_are_treat_as_withdraw() {
    // RFC 8092 5: a non-zero multiple of 12.
    for value_len in [0usize, 8, 13] {
        let mut bad = vec![0xc0, 32, u8::try_from(value_len).unwrap()];
        bad.resize(3 + value_len, 1);
        let a = attrs(&[ORIGIN_IGP, AS_PATH_65001, NEXT_HOP_10_10_0_4, &bad]);
        let (u, errors) = decoded_update(&update(&[], &a, NLRI_HOST));
        assert_eq!(u, withdrawal_of_host(), "length {value_len}");
        assert_eq!(
            errors,
            one_error(32, U::OptionalAttributeError, AttrAction::TreatAsWithdraw)
        );
    }
}

#[test]
fn a_med_of_the_wrong_length_is_treat_as_withdraw() {
    let bad: &[u8] = &[0x80, 4, 2, 0, 1];
    let a = attrs(&[ORIGIN_IGP, AS_PATH_65001, NEXT_HOP_10_10_0_4, bad]);
    let (u, errors) = decoded_update(&update(&[], &a, NLRI_HOST));
    assert_eq!(u, withdrawal_of_host());
    assert_eq!(
        errors,
        one_error(4, U::AttributeLengthError, AttrAction::TreatAsWithdraw)
    );
}

#[test]
fn a_bad_aggregator_length_is_discarded() {
    // 4-octet session: AGGREGATOR is 8 octets; 6 is wrong (RFC 7606 7.7).
    let bad: &[u8] = &[0xc0, 7, 6, 0xfd, 0xe9, 10, 0, 0, 1];
    let a = attrs(&[ORIGIN_IGP, AS_PATH_65001, NEXT_HOP_10_10_0_4, bad]);
    let (u, errors) = decoded_update(&update(&[], &a, NLRI_HOST));
    assert_eq!(u.nlri, vec![host()]);
    assert_eq!(u.attributes.aggregator, None);
    assert_eq!(
        errors,
        one_error(7, U::AttributeLengthError, AttrAction::Discard)
    );
}

#[test]
fn a_malformed_as4_path_on_a_two_octet_session_is_discarded() {
    // RFC 6793 6: AS4_PATH with a zero-count segment is discarded, AS_PATH kept.
    let path: &[u8] = &[0x40, 2, 4, 2, 1, 0xfd, 0xe9];
    let bad_as4: &[u8] = &[0xc0, 17, 2, 2, 0];
    let a = attrs(&[ORIGIN_IGP, path, NEXT_HOP_10_10_0_4, bad_as4]);
    let bytes = update(&[], &a, NLRI_HOST);
    let Ok(Decoded {
        message: Message::Update(u),
        attr_errors,
    }) = message::decode(&bytes, &TWO)
    else {
        panic!("expected an UPDATE")
    };
    assert_eq!(u.nlri, vec![host()]);
    assert_eq!(
        u.attributes
            .as_path
            .map(|p| p.asns().map(|a| a.0).collect::<Vec<_>>()),
        Some(vec![65001])
    );
    assert_eq!(
        attr_errors,
        one_error(17, U::MalformedAsPath, AttrAction::Discard)
    );
}
