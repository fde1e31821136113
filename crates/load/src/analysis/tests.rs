//! Tables of request patterns and the outages they must give.
//!
//! A pattern is one character per request, 1 ms apart, each sent 10 µs after its
//! schedule: `1`..`9` a success from `ws1`..`ws9`, `?` a success without a backend
//! name, `x` a refused connection, `t` a timeout, `s` a 503.

use super::*;

const BASE: u64 = 1_764_000_000_000_000;
const STEP: u64 = 1_000;
const LAG: u64 = 10;

fn records(pattern: &str) -> Vec<Record> {
    pattern
        .chars()
        .filter(|c| !c.is_whitespace())
        .enumerate()
        .map(|(i, c)| {
            let scheduled_us = BASE + i as u64 * STEP;
            let (outcome, backend, latency_us) = match c {
                'x' => (Outcome::Error(ErrorKind::ConnectRefused), None, None),
                't' => (Outcome::Error(ErrorKind::Timeout), None, None),
                's' => (Outcome::Ok { status: 503 }, None, Some(300)),
                '?' => (Outcome::Ok { status: 200 }, None, Some(200)),
                d => (
                    Outcome::Ok { status: 200 },
                    Some(format!("ws{d}")),
                    Some(100 * u64::from(d.to_digit(10).unwrap_or(1))),
                ),
            };
            Record {
                scheduled_us,
                sent_us: scheduled_us + LAG,
                latency_us,
                outcome,
                backend,
            }
        })
        .collect()
}

/// The send time of request `i` of a pattern.
fn at(i: u64) -> u64 {
    BASE + i * STEP + LAG
}

/// (kind, start, end, failed, before, after, event)
type Expected = (
    OutageKind,
    u64,
    Option<u64>,
    u64,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
);

fn got(o: &Outage) -> Expected {
    let leak = |s: &Option<String>| s.clone().map(|s| &*Box::leak(s.into_boxed_str()));
    (
        o.kind,
        o.start_us,
        o.end_us,
        o.failed_requests,
        leak(&o.before),
        leak(&o.after),
        leak(&o.event),
    )
}

use OutageKind::{Outage as O, Switch as S};

#[test]
fn outages_and_switches_follow_the_documented_rules() {
    let ev = |i: u64, minus: u64, name: &str| Event {
        ts_us: at(i) - minus,
        name: name.into(),
    };
    #[rustfmt::skip]
    let table: Vec<(&str, &str, Vec<Event>, Vec<Expected>)> = vec![
        ("steady traffic has no outage", "111111", vec![], vec![]),
        ("a kill: failures then the other backend", "111xxx222", vec![],
            vec![(O, at(3), Some(at(6)), 3, Some("ws1"), Some("ws2"), None)]),
        ("a drain: the backend changes without failure", "111222", vec![],
            vec![(S, at(2), Some(at(3)), 0, Some("ws1"), Some("ws2"), None)]),
        ("the same backend comes back when there is no other", "11xx11", vec![],
            vec![(O, at(2), Some(at(4)), 2, Some("ws1"), Some("ws1"), None)]),
        ("stragglers from the old backend do not end the outage", "11xx1122", vec![],
            vec![(O, at(2), Some(at(6)), 2, Some("ws1"), Some("ws2"), None)]),
        ("two failure windows are two outages", "11xx1x1122", vec![],
            vec![(O, at(2), Some(at(4)), 2, Some("ws1"), Some("ws1"), None),
                 (O, at(5), Some(at(8)), 1, Some("ws1"), Some("ws2"), None)]),
        ("failures until the end leave the outage unfinished", "11xxx", vec![],
            vec![(O, at(2), None, 3, Some("ws1"), None, None)]),
        ("failures from the start have no backend before", "xx11", vec![],
            vec![(O, at(0), Some(at(2)), 2, None, Some("ws1"), None)]),
        ("timeouts and 503s are failures as well", "11ts22", vec![],
            vec![(O, at(2), Some(at(4)), 2, Some("ws1"), Some("ws2"), None)]),
        ("an event shortly before the first failure starts the outage", "111xxx222",
            vec![ev(3, 500, "kill ws1")],
            vec![(O, at(3) - 500, Some(at(6)), 3, Some("ws1"), Some("ws2"), Some("kill ws1"))]),
        ("an event just after the first failure still starts it", "111xxx222",
            vec![ev(3, 0, "kill ws1")].into_iter().map(|mut e| { e.ts_us += 300; e }).collect(),
            vec![(O, at(3) + 300, Some(at(6)), 3, Some("ws1"), Some("ws2"), Some("kill ws1"))]),
        ("an event long before is not attached", "111xxx222",
            vec![Event { ts_us: at(3) - 3_000_000, name: "old".into() }],
            vec![(O, at(3), Some(at(6)), 3, Some("ws1"), Some("ws2"), None)]),
        ("of two events the latest before the failure is taken", "111xxx222",
            vec![ev(3, 900, "first"), ev(3, 400, "second")],
            vec![(O, at(3) - 400, Some(at(6)), 3, Some("ws1"), Some("ws2"), Some("second"))]),
        ("an event before a lossless switch starts it", "111222",
            vec![ev(3, 200, "drain ws1")],
            vec![(S, at(3) - 200, Some(at(3)), 0, Some("ws1"), Some("ws2"), Some("drain ws1"))]),
        ("an event starts only one outage", "1x1x1", vec![ev(1, 100, "kill")],
            vec![(O, at(1) - 100, Some(at(2)), 1, Some("ws1"), Some("ws1"), Some("kill")),
                 (O, at(3), Some(at(4)), 1, Some("ws1"), Some("ws1"), None)]),
        ("successes without a backend name change nothing", "1?1?2", vec![],
            vec![(S, at(3), Some(at(4)), 0, Some("ws1"), Some("ws2"), None)]),
        ("each window ends at its own first success, named or not", "1x1x?1s1x22", vec![],
            vec![(O, at(1), Some(at(2)), 1, Some("ws1"), Some("ws1"), None),
                 (O, at(3), Some(at(4)), 1, Some("ws1"), None, None),
                 (O, at(6), Some(at(7)), 1, Some("ws1"), Some("ws1"), None),
                 (O, at(8), Some(at(9)), 1, Some("ws1"), Some("ws2"), None)]),
        ("no requests, no outages", "", vec![], vec![]),
    ];
    for (what, pattern, events, expected) in table {
        let summary = analyze(&records(pattern), &events, &AnalysisConfig::default());
        let outages: Vec<Expected> = summary.outages.iter().map(got).collect();
        assert_eq!(outages, expected, "{what}: {pattern}");
    }
}

#[test]
fn records_out_of_order_are_analysed_in_schedule_order() {
    let mut r = records("111xxx222");
    r.reverse();
    let summary = analyze(&r, &[], &AnalysisConfig::default());
    assert_eq!(summary.outages.len(), 1);
    assert_eq!(summary.outages[0].failed_requests, 3);
    assert_eq!(summary.outages[0].duration_ms, Some(3.0));
}

#[test]
fn outage_errors_are_counted_by_kind() {
    let summary = analyze(&records("1xxts2"), &[], &AnalysisConfig::default());
    let errors: Vec<(&str, u64)> = summary.outages[0]
        .errors
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    assert_eq!(
        errors,
        [("connect_refused", 2), ("status_503", 1), ("timeout", 1)]
    );
}

#[test]
fn unused_events_are_reported() {
    let late = Event {
        ts_us: at(5) + 50_000,
        name: "late".into(),
    };
    let summary = analyze(
        &records("111xxx222"),
        std::slice::from_ref(&late),
        &AnalysisConfig::default(),
    );
    assert_eq!(summary.unmatched_events, vec![late]);
}

#[test]
fn the_summary_counts_requests_backends_latency_and_lag() {
    let mut r = records("1111x2222?");
    // One request refused by the in-flight limit, 3 ms late.
    r[4].outcome = Outcome::Error(ErrorKind::Overload);
    r[4].sent_us = r[4].scheduled_us + 3_000;
    let summary = analyze(
        &r,
        &[],
        &AnalysisConfig {
            asked_rate: Some(1000.0),
            ..AnalysisConfig::default()
        },
    );
    assert_eq!(summary.requests, 10);
    assert_eq!(summary.sent, 9);
    assert_eq!(summary.ok, 9);
    assert_eq!(summary.failed, 1);
    assert_eq!(summary.errors.get("overload"), Some(&1));
    assert_eq!(summary.backends.get("ws1"), Some(&4));
    assert_eq!(summary.backends.get("ws2"), Some(&4));
    assert_eq!(summary.ok_without_backend, 1);
    // 9 sends over 9 ms (the first at 0, the last at 9 ms): 8 intervals.
    assert!((summary.achieved_rate - 8.0 / 0.009).abs() < 1e-6);
    assert_eq!(summary.asked_rate, Some(1000.0));
    // Latencies: 4 × 0.1 ms, 4 × 0.2 ms, 1 × 0.2 ms (unnamed).
    assert_eq!(summary.latency_ms.count, 9);
    assert_eq!(summary.latency_ms.p50, 0.2);
    assert_eq!(summary.latency_ms.max, 0.2);
    assert_eq!(summary.schedule_lag_ms.p50, 0.01);
    assert_eq!(summary.schedule_lag_ms.max, 3.0);
    assert_eq!(summary.first_scheduled_us, Some(BASE));
    assert_eq!(summary.last_scheduled_us, Some(BASE + 9 * STEP));
}

#[test]
fn percentiles_use_the_nearest_rank() {
    let p = Percentiles::of_us((1..=100).map(|v| v * 1000).collect());
    assert_eq!(
        (p.count, p.p50, p.p90, p.p99, p.max),
        (100, 50.0, 90.0, 99.0, 100.0)
    );
    let one = Percentiles::of_us(vec![1500]);
    assert_eq!((one.p50, one.p99, one.max), (1.5, 1.5, 1.5));
    assert_eq!(Percentiles::of_us(vec![]), Percentiles::default());
}

proptest::proptest! {
    #[test]
    fn every_failure_is_in_exactly_one_outage(pattern in "[12x?s]{0,60}") {
        let r = records(&pattern);
        let summary = analyze(&r, &[], &AnalysisConfig::default());
        let in_outages: u64 = summary.outages.iter().map(|o| o.failed_requests).sum();
        proptest::prop_assert_eq!(in_outages, summary.failed);
        for o in &summary.outages {
            if let Some(end) = o.end_us {
                proptest::prop_assert!(end >= o.start_us);
            }
        }
    }
}
