//! The checker's own tests: counting, staleness, stalls and the schedule, with
//! time given by the test.

use super::*;

fn checker(rise: u32, fall: u32) -> (Checker, tokio::sync::mpsc::UnboundedReceiver<Report>) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let target = crate::spec::Target::parse("tcp://127.0.0.1:9").expect("valid");
    let mut spec = CheckSpec::new(target);
    spec.rise = rise;
    spec.fall = fall;
    (Checker::new(0, spec, tx), rx)
}

fn fail() -> Result<(), ProbeError> {
    Err(ProbeError::Timeout(Duration::from_millis(30)))
}

#[test]
fn results_count_only_when_newer_than_the_last_counted_one() {
    // (seq, ok) in completion order -> counted?
    type Row = (&'static [(u64, bool)], &'static [bool]);
    #[rustfmt::skip]
    let table: &[Row] = &[
        (&[(0, true), (1, true), (2, true)],  &[true, true, true]),
        (&[(1, false), (0, true)],            &[true, false]), // a slow success does not revive
        (&[(1, true), (0, false)],            &[true, false]), // a slow failure does not break
        (&[(0, true), (2, true), (1, false)], &[true, true, false]),
        (&[(2, false), (0, true), (3, true)], &[true, false, true]),
    ];
    for &(results, expected) in table {
        let (mut checker, mut rx) = checker(3, 2);
        let now = Instant::now();
        for &(seq, ok) in results {
            let result = if ok { Ok(()) } else { fail() };
            assert!(checker.apply(seq, Cause::Scheduled, now, Duration::ZERO, result));
        }
        let counted: Vec<bool> = std::iter::from_fn(|| rx.try_recv().ok())
            .map(|r| r.counted)
            .collect();
        assert_eq!(counted, expected, "{results:?}");
    }
}

#[test]
fn a_stale_success_leaves_the_verdict_alone() {
    let (mut checker, mut rx) = checker(1, 1);
    let now = Instant::now();
    checker.apply(5, Cause::Scheduled, now, Duration::ZERO, fail());
    checker.apply(4, Cause::Scheduled, now, Duration::ZERO, Ok(()));
    let reports: Vec<Report> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
    assert_eq!(reports[0].state, Health::Down);
    assert_eq!(
        (reports[1].ok, reports[1].counted, reports[1].state),
        (true, false, Health::Down)
    );
    assert_eq!(reports[1].transition, None);
}

fn pending_probe(checker: &mut Checker, deadline: tokio::time::Instant) {
    let seq = checker.take_seq();
    checker.probes.push(Probe {
        seq,
        cause: Cause::Scheduled,
        started: Instant::now(),
        deadline,
        future: Box::pin(std::future::pending()),
    });
}

#[tokio::test]
async fn a_deadline_seen_late_is_a_stall_not_a_verdict_until_the_cap() {
    // fall 2, max_in_flight 4 (the example config): up to 6 stalls in a row are
    // discounted, each asks for a re-probe; the 7th counts.
    let (mut checker, mut rx) = checker(3, 2);
    checker.max_in_flight = 4;
    checker.stall_cap = 6;
    let now = tokio::time::Instant::now();
    for _ in 0..7 {
        // Seen 24 ms late, as in the lab (54 ms for a 30 ms timeout).
        pending_probe(&mut checker, now - Duration::from_millis(24));
    }
    assert!(checker.expire(now));
    let reports: Vec<Report> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
    let counted: Vec<bool> = reports.iter().map(|r| r.counted).collect();
    assert_eq!(counted, [false, false, false, false, false, false, true]);
    assert!(reports[0].stalled && !reports[6].stalled);
    assert!(
        reports[0]
            .error
            .as_deref()
            .is_some_and(|e| e.contains("stalled")),
        "{:?}",
        reports[0].error
    );
    assert!(checker.reprobe_pending);
    assert_eq!(reports[6].state, Health::Unknown);
}

#[tokio::test]
async fn a_deadline_seen_on_time_counts_and_resets_the_stall_count() {
    let (mut checker, mut rx) = checker(3, 1);
    let now = tokio::time::Instant::now();
    pending_probe(&mut checker, now - Duration::from_millis(24));
    pending_probe(&mut checker, now - Duration::from_millis(1));
    assert!(checker.expire(now));
    let reports: Vec<Report> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
    assert_eq!(
        reports.iter().map(|r| r.counted).collect::<Vec<_>>(),
        [false, true]
    );
    assert_eq!(reports[1].state, Health::Down);
    assert_eq!(checker.stall_discounts, 0);
}

#[test]
fn jittered_gaps_stay_within_the_fraction_of_the_interval() {
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let target = crate::spec::Target::parse("tcp://127.0.0.1:9").expect("valid");
    let mut spec = CheckSpec::new(target);
    spec.interval = Duration::from_millis(100);
    spec.jitter = 0.1;
    let mut checker = Checker::new(0, spec, tx);
    let gaps: Vec<Duration> = (0..1000).map(|_| checker.next_gap()).collect();
    let (min, max) = (gaps.iter().min().copied(), gaps.iter().max().copied());
    assert!(min >= Some(Duration::from_millis(90)), "{min:?}");
    assert!(max <= Some(Duration::from_millis(110)), "{max:?}");
    assert!(
        min < Some(Duration::from_millis(92)) && max > Some(Duration::from_millis(108)),
        "spread"
    );
}
