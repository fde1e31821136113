//! The programming profiles under simulated time: instant, delays drawn from the
//! measured list, and the cloud's one change per route per 30 s.

// A panic in a test is a failed test, not a crashed daemon.
#![allow(clippy::unwrap_used)]

mod support;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use hopwatch_route_server::program::{
    AZURE_MIN_INTERVAL, MEASURED_DELAYS_MS, Profile, Program, Programmer, measured_delays,
};
use support::*;

/// Runs the programmer like a driver does: sleeps until `poll_timeout`, polls,
/// until nothing is left or `end` is reached.
fn run_until(p: &mut Programmer, end: Instant) -> Vec<Program> {
    let mut out = Vec::new();
    while let Some(t) = p.poll_timeout() {
        if t > end {
            break;
        }
        let got = p.poll(t);
        assert!(!got.is_empty(), "poll_timeout {t:?} promised something");
        out.extend(got);
    }
    out
}

fn hops(list: &[&str]) -> Option<Vec<IpAddr>> {
    Some(ips(list))
}

#[test]
fn the_instant_profile_programs_at_once() {
    let mut p = Programmer::new(Profile::Instant);
    let t0 = Instant::now();
    p.submit(t0, pfx(VIP), hops(&[WS2, WS1]));
    assert_eq!(p.poll_timeout(), Some(t0));
    let got = p.poll(t0);
    assert_eq!(
        got,
        vec![Program {
            prefix: pfx(VIP),
            next_hops: hops(&[WS1, WS2]),
            submitted_at: t0,
            programmed_at: t0,
        }]
    );
    assert_eq!(p.programmed(pfx(VIP)), Some(ips(&[WS1, WS2]).as_slice()));
    // A withdraw and an announce both go through, in order.
    p.submit(at(t0, 1), pfx(VIP), None);
    p.submit(at(t0, 1), pfx(VIP), hops(&[WS2]));
    let got = p.poll(at(t0, 1));
    let states: Vec<_> = got.iter().map(|g| g.next_hops.clone()).collect();
    assert_eq!(states, vec![None, hops(&[WS2])]);
    assert_eq!(p.poll_timeout(), None);
}

#[test]
fn azure_delays_are_drawn_from_the_list() {
    let mut p = Programmer::new(Profile::Azure {
        delays: measured_delays(),
        min_interval: None,
        seed: 42,
    });
    let t0 = Instant::now();
    for i in 0..200 {
        p.submit(t0, pfx(&format!("10.0.{i}.0/24")), hops(&[WS1]));
    }
    assert_eq!(p.poll(t0), vec![]);
    let got = run_until(&mut p, at(t0, 60_000));
    assert_eq!(got.len(), 200);
    let mut seen: Vec<u64> = got
        .iter()
        .map(|g| {
            let ms = (g.programmed_at - g.submitted_at).as_millis() as u64;
            assert!(
                MEASURED_DELAYS_MS.contains(&ms),
                "{ms} ms is not a measured delay"
            );
            ms
        })
        .collect();
    seen.sort_unstable();
    seen.dedup();
    // 200 draws from the 12 distinct values (1.5 s was measured twice) hit them all.
    assert_eq!(seen.len(), 12);
    // Returned in the order they were due.
    assert!(
        got.windows(2)
            .all(|w| w[0].programmed_at <= w[1].programmed_at)
    );
}

#[test]
fn the_same_seed_gives_the_same_timeline_and_another_seed_another() {
    let timeline = |seed| {
        let mut p = Programmer::new(Profile::azure(seed));
        let t0 = Instant::now();
        for i in 0..20 {
            p.submit(t0, pfx(&format!("10.0.{i}.0/24")), hops(&[WS1]));
        }
        run_until(&mut p, at(t0, 60_000))
            .iter()
            .map(|g| g.programmed_at - t0)
            .collect::<Vec<Duration>>()
    };
    assert_eq!(timeline(7), timeline(7));
    assert_ne!(timeline(7), timeline(8));
}

#[test]
fn min_interval_turns_a_withdraw_then_announce_into_half_a_minute_without_the_route() {
    let delay = Duration::from_millis(1_500);
    let mut p = Programmer::new(Profile::Azure {
        delays: vec![delay],
        min_interval: Some(AZURE_MIN_INTERVAL),
        seed: 1,
    });
    let t0 = Instant::now();
    p.submit(t0, pfx(VIP), hops(&[WS1]));
    let first = run_until(&mut p, at(t0, 100_000));
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].programmed_at, at(t0, 1_500));

    // 60 s later (outside the interval): withdraw, then announce 100 ms later.
    let t1 = at(t0, 60_000);
    p.submit(t1, pfx(VIP), None);
    p.submit(at(t1, 100), pfx(VIP), hops(&[WS2]));
    let got = run_until(&mut p, at(t1, 100_000));
    // (ms after t1 when programmed, state)
    let timeline: Vec<(u128, Option<Vec<IpAddr>>)> = got
        .iter()
        .map(|g| ((g.programmed_at - t1).as_millis(), g.next_hops.clone()))
        .collect();
    assert_eq!(timeline, vec![(1_500, None), (31_500, hops(&[WS2]))]);
}

#[test]
fn min_interval_lets_the_latest_state_win_when_the_interval_ends() {
    let mut p = Programmer::new(Profile::Azure {
        delays: vec![Duration::from_secs(1)],
        min_interval: Some(Duration::from_secs(30)),
        seed: 1,
    });
    let t0 = Instant::now();
    // (ms, desired next hops)
    let submissions: &[(u64, &[&str])] = &[
        (0, &[WS1]),
        (5_000, &[WS2]),
        (6_000, &[]),
        (7_000, &[WS3]),
        (8_000, &[WS2]),
    ];
    for (ms, h) in submissions {
        p.submit(at(t0, *ms), pfx(VIP), hops(h));
    }
    let got = run_until(&mut p, at(t0, 120_000));
    let timeline: Vec<(u128, Option<Vec<IpAddr>>)> = got
        .iter()
        .map(|g| ((g.programmed_at - t0).as_millis(), g.next_hops.clone()))
        .collect();
    assert_eq!(
        timeline,
        vec![(1_000, hops(&[WS1])), (31_000, hops(&[WS2]))]
    );
    assert_eq!(got[1].submitted_at, at(t0, 8_000));
}

#[test]
fn a_change_back_to_the_programmed_state_inside_the_interval_programs_nothing() {
    let mut p = Programmer::new(Profile::Azure {
        delays: vec![Duration::ZERO],
        min_interval: Some(Duration::from_secs(30)),
        seed: 1,
    });
    let t0 = Instant::now();
    p.submit(t0, pfx(VIP), hops(&[WS1]));
    p.poll(t0);
    p.submit(at(t0, 1_000), pfx(VIP), hops(&[WS2]));
    p.submit(at(t0, 2_000), pfx(VIP), hops(&[WS1]));
    assert_eq!(p.poll_timeout(), Some(at(t0, 30_000)));
    assert_eq!(p.poll(at(t0, 30_000)), vec![]);
    assert_eq!(p.poll_timeout(), None);
    // And no new interval started: the next change goes at once.
    p.submit(at(t0, 30_001), pfx(VIP), hops(&[WS2]));
    assert_eq!(p.poll(at(t0, 30_001)).len(), 1);
}

#[test]
fn submitting_the_state_already_heading_for_the_data_plane_is_ignored() {
    let mut p = Programmer::new(Profile::azure(3));
    let t0 = Instant::now();
    p.submit(t0, pfx(VIP), hops(&[WS1]));
    p.submit(at(t0, 10), pfx(VIP), hops(&[WS1]));
    p.submit(at(t0, 20), pfx("10.9.0.0/16"), Some(vec![]));
    assert_eq!(p.in_flight(), 1);
}

#[test]
fn a_withdrawn_route_still_waits_out_its_interval_before_coming_back() {
    let mut p = Programmer::new(Profile::Azure {
        delays: vec![Duration::ZERO],
        min_interval: Some(Duration::from_secs(30)),
        seed: 1,
    });
    let t0 = Instant::now();
    p.submit(t0, pfx(VIP), hops(&[WS1]));
    p.poll(t0);
    p.submit(at(t0, 40_000), pfx(VIP), None);
    assert_eq!(p.poll(at(t0, 40_000)).len(), 1);
    // The withdraw has been programmed; the announce must wait until 70 s.
    p.submit(at(t0, 41_000), pfx(VIP), hops(&[WS2]));
    assert_eq!(p.poll(at(t0, 41_000)), vec![]);
    assert_eq!(p.poll_timeout(), Some(at(t0, 70_000)));
}

#[test]
fn changes_of_one_prefix_never_overtake_each_other() {
    // Long delay first, short second: the second waits for the first.
    let mut p = Programmer::new(Profile::Azure {
        delays: vec![Duration::from_millis(5_600), Duration::from_millis(900)],
        min_interval: None,
        seed: 0,
    });
    let t0 = Instant::now();
    for (i, h) in [WS1, WS2, WS3, WS1, WS2, WS3].iter().enumerate() {
        p.submit(at(t0, i as u64 * 100), pfx(VIP), hops(&[h]));
    }
    let got = run_until(&mut p, at(t0, 60_000));
    let order: Vec<_> = got.iter().map(|g| g.submitted_at).collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted);
    assert_eq!(got.len(), 6);
}

#[test]
fn a_rib_change_goes_to_the_data_plane_as_its_next_hops() {
    let mut rib = rib3();
    let mut p = Programmer::new(Profile::Instant);
    let t0 = Instant::now();
    for (peer, nh) in [(W1, WS1), (W2, WS2)] {
        let got = rib
            .receive(t0, ip(peer), &announce(&[VIP], nh, &[65001]))
            .unwrap();
        for change in &got.changes {
            p.submit_change(t0, change);
        }
    }
    let got = p.poll(t0);
    let states: Vec<_> = got.iter().map(|g| g.next_hops.clone()).collect();
    assert_eq!(states, vec![hops(&[WS1]), hops(&[WS1, WS2])]);
    for change in rib.peer_down(t0, ip(W1), false) {
        p.submit_change(t0, &change);
    }
    for change in rib.peer_down(t0, ip(W2), false) {
        p.submit_change(t0, &change);
    }
    let got = p.poll(t0);
    let states: Vec<_> = got.iter().map(|g| g.next_hops.clone()).collect();
    assert_eq!(states, vec![hops(&[WS2]), None]);
    assert_eq!(p.programmed(pfx(VIP)), None);
}
