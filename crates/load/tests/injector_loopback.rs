//! The injector against tiny responders on loopback (127.77.x.y addresses, each test
//! its own): complete records in schedule order, the asked rate, a killed backend,
//! a lossless switch, every error classified, no coordinated omission, keep-alive,
//! the in-flight bound and cancellation. Every run is bounded by a timeout.

// A panic is a failed test here.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{Mode, Responder};
use hopwatch_load::{
    AnalysisConfig, ErrorKind, Event, Injector, InjectorConfig, OutageKind, Outcome, Record,
    Target, analyze, now_us,
};

fn config(url: &str, rate: f64, duration_ms: u64) -> InjectorConfig {
    let mut c = InjectorConfig::new(Target::parse(url).unwrap());
    c.rate = rate;
    c.duration = Duration::from_millis(duration_ms);
    c
}

/// Runs the injector to the end, at most the duration plus 5 s.
async fn run(config: InjectorConfig) -> Vec<Record> {
    let bound = config.duration + Duration::from_secs(5);
    let injector = Injector::new(config).unwrap();
    tokio::time::timeout(bound, injector.run(std::future::pending()))
        .await
        .expect("the injector ends within its duration, its timeout and a margin")
}

#[tokio::test]
async fn records_are_complete_and_in_schedule_order() {
    let ws1 = Responder::start("127.77.0.1:0", "ws1", Mode::Json);
    let records = run(config(&ws1.url(), 500.0, 1000)).await;
    assert_eq!(records.len(), 500);
    for pair in records.windows(2) {
        let step = pair[1].scheduled_us - pair[0].scheduled_us;
        assert!((1999..=2001).contains(&step), "step {step} µs");
    }
    for r in &records {
        assert_eq!(r.outcome, Outcome::Ok { status: 200 }, "{r:?}");
        assert_eq!(r.backend.as_deref(), Some("ws1"));
        assert!(r.sent_us >= r.scheduled_us);
        assert!(r.latency_us.is_some());
    }
    assert_eq!(
        ws1.accepts(),
        500,
        "a new connection per request by default"
    );
}

#[tokio::test]
async fn the_achieved_rate_is_close_to_the_asked_rate() {
    let ws1 = Responder::start("127.77.0.2:0", "ws1", Mode::Json);
    let records = run(config(&ws1.url(), 500.0, 2000)).await;
    let summary = analyze(&records, &[], &AnalysisConfig::default());
    eprintln!(
        "asked 500/s for 2 s: achieved {:.1}/s, {} ok, schedule lag p50 {:.3} ms p99 {:.3} ms, latency p50 {:.3} ms p99 {:.3} ms",
        summary.achieved_rate,
        summary.ok,
        summary.schedule_lag_ms.p50,
        summary.schedule_lag_ms.p99,
        summary.latency_ms.p50,
        summary.latency_ms.p99
    );
    assert_eq!(summary.requests, 1000);
    assert_eq!(summary.ok, 1000);
    assert!(
        (450.0..=550.0).contains(&summary.achieved_rate),
        "achieved {:.1}/s",
        summary.achieved_rate
    );
}

#[tokio::test]
async fn a_backend_killed_mid_run_is_one_outage_from_ws1_to_ws2() {
    let ws1 = Responder::start("127.77.0.3:0", "ws1", Mode::Json);
    let addr = ws1.addr;
    let url = ws1.url();
    // The "route" moves by ws2 taking over the same address 200 ms after the kill.
    let chaos = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(400)).await;
        let kill = Event {
            ts_us: now_us(),
            name: "kill ws1".into(),
        };
        tokio::task::spawn_blocking(move || ws1.stop())
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        let ws2 = tokio::task::spawn_blocking(move || {
            Responder::start(&addr.to_string(), "ws2", Mode::Json)
        })
        .await
        .unwrap();
        (kill, ws2)
    });
    let records = run(config(&url, 500.0, 1500)).await;
    let (kill, _ws2) = chaos.await.unwrap();
    let summary = analyze(
        &records,
        std::slice::from_ref(&kill),
        &AnalysisConfig::default(),
    );
    eprintln!("{}", hopwatch_load::output::render(&summary));
    assert_eq!(summary.outages.len(), 1, "{:#?}", summary.outages);
    let o = &summary.outages[0];
    assert_eq!(o.kind, OutageKind::Outage);
    assert_eq!(o.before.as_deref(), Some("ws1"));
    assert_eq!(o.after.as_deref(), Some("ws2"));
    assert!(o.failed_requests > 0);
    assert_eq!(o.failed_requests, summary.failed);
    assert!(o.errors.contains_key("connect_refused"), "{:?}", o.errors);
    assert_eq!(o.event.as_deref(), Some("kill ws1"));
    let ms = o.duration_ms.unwrap();
    assert!((150.0..1000.0).contains(&ms), "outage of {ms} ms");
}

#[tokio::test]
async fn a_switch_without_failure_is_a_switch_with_zero_failed_requests() {
    let ws = Responder::start("127.77.0.4:0", "ws1", Mode::Json);
    let records = {
        let run = run(config(&ws.url(), 500.0, 1000));
        let switch = async {
            tokio::time::sleep(Duration::from_millis(500)).await;
            ws.set_name("ws2");
        };
        let (records, ()) = tokio::join!(run, switch);
        records
    };
    let summary = analyze(&records, &[], &AnalysisConfig::default());
    assert_eq!(summary.failed, 0);
    assert_eq!(summary.outages.len(), 1, "{:#?}", summary.outages);
    let o = &summary.outages[0];
    assert_eq!(o.kind, OutageKind::Switch);
    assert_eq!(o.failed_requests, 0);
    assert_eq!(
        (o.before.as_deref(), o.after.as_deref()),
        (Some("ws1"), Some("ws2"))
    );
}

fn only_outcome(records: &[Record]) -> Outcome {
    let first = records.first().unwrap().outcome;
    assert!(
        records.iter().all(|r| r.outcome == first),
        "mixed outcomes: {:?}",
        records.iter().map(|r| r.outcome).collect::<Vec<_>>()
    );
    first
}

#[tokio::test]
async fn bad_responses_refusals_closes_and_timeouts_are_classified() {
    let garbage = Responder::start("127.77.0.5:0", "x", Mode::Garbage);
    let closer = Responder::start("127.77.0.5:0", "x", Mode::Close);
    let staller = Responder::start("127.77.0.5:0", "x", Mode::Stall(Duration::from_secs(5)));
    let refused = {
        let l = std::net::TcpListener::bind("127.77.0.6:0").unwrap();
        format!("http://{}/", l.local_addr().unwrap())
    };
    let mut slow = config(&staller.url(), 50.0, 200);
    slow.timeout = Duration::from_millis(200);
    let (g, c, r, t) = tokio::join!(
        run(config(&garbage.url(), 50.0, 200)),
        run(config(&closer.url(), 50.0, 200)),
        run(config(&refused, 50.0, 200)),
        run(slow),
    );
    assert_eq!(only_outcome(&g), Outcome::Error(ErrorKind::BadResponse));
    assert_eq!(only_outcome(&c), Outcome::Error(ErrorKind::Closed));
    assert_eq!(only_outcome(&r), Outcome::Error(ErrorKind::ConnectRefused));
    assert_eq!(only_outcome(&t), Outcome::Error(ErrorKind::Timeout));
    for rs in [&g, &c, &r, &t] {
        assert_eq!(rs.len(), 10);
        assert!(
            rs.iter()
                .all(|r| r.latency_us.is_none() && r.backend.is_none())
        );
    }
}

#[tokio::test]
async fn a_stalled_backend_does_not_delay_the_schedule() {
    let ws1 = Responder::start(
        "127.77.0.7:0",
        "ws1",
        Mode::Stall(Duration::from_millis(300)),
    );
    let records = run(config(&ws1.url(), 200.0, 1000)).await;
    let summary = analyze(&records, &[], &AnalysisConfig::default());
    eprintln!(
        "300 ms stall at 200/s: schedule lag p50 {:.3} ms p99 {:.3} ms max {:.3} ms; latency p50 {:.1} ms",
        summary.schedule_lag_ms.p50,
        summary.schedule_lag_ms.p99,
        summary.schedule_lag_ms.max,
        summary.latency_ms.p50
    );
    assert_eq!(summary.ok, 200);
    assert!(summary.latency_ms.p50 >= 300.0);
    // Coordinated omission would show lags of hundreds of ms; a busy CI core, a few.
    assert!(
        summary.schedule_lag_ms.p99 < 50.0,
        "lag p99 {} ms",
        summary.schedule_lag_ms.p99
    );
    // Requests overlapped: ~60 were in flight at once, none waited for another.
    assert!((190.0..=210.0).contains(&summary.achieved_rate));
}

#[tokio::test]
async fn keep_alive_reuses_connections() {
    let ws1 = Responder::start("127.77.0.8:0", "ws1", Mode::Json);
    let mut c = config(&ws1.url(), 200.0, 500);
    c.keep_alive = true;
    let records = run(c).await;
    assert_eq!(records.len(), 100);
    assert!(records.iter().all(Record::is_success));
    assert!(ws1.accepts() < 10, "{} connections", ws1.accepts());
}

#[tokio::test]
async fn requests_beyond_the_in_flight_limit_are_overload_errors() {
    let ws1 = Responder::start(
        "127.77.0.9:0",
        "ws1",
        Mode::Stall(Duration::from_millis(300)),
    );
    let mut c = config(&ws1.url(), 100.0, 500);
    c.max_in_flight = Some(5);
    let records = run(c).await;
    let overload = records
        .iter()
        .filter(|r| r.outcome == Outcome::Error(ErrorKind::Overload))
        .count();
    let ok = records.iter().filter(|r| r.is_success()).count();
    assert_eq!(records.len(), 50);
    assert!((5..=15).contains(&ok), "{ok} ok");
    assert_eq!(ok + overload, 50);
    assert!(records.iter().all(|r| r.lag_us() < 50_000));
}

#[tokio::test]
async fn a_cancellation_stops_the_run_early() {
    let ws1 = Responder::start("127.77.0.10:0", "ws1", Mode::Json);
    let injector = Injector::new(config(&ws1.url(), 500.0, 10_000)).unwrap();
    let counters = injector.counters();
    let started = std::time::Instant::now();
    let records = tokio::time::timeout(
        Duration::from_secs(5),
        injector.run(tokio::time::sleep(Duration::from_millis(300))),
    )
    .await
    .unwrap();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!((100..=200).contains(&records.len()), "{}", records.len());
    assert!(records.iter().all(Record::is_success));
    let s = counters.snapshot();
    assert_eq!(
        (s.total, s.started, s.ok, s.failed, s.in_flight),
        (5000, records.len() as u64, records.len() as u64, 0, 0)
    );
}
