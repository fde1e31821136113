//! The scenarios and one trial of each: bring the lab to its steady state (the VIP
//! on ws1), run the load injector in-process for the whole trial, inject the failure
//! and record its wall-clock µs, wait (bounded) for the watcher's move and the
//! return to ws1, then join the requests and the children's JSON logs into one
//! [`Trial`]: failover, failback, failed requests, and where the time went.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, bail};
use hopwatch_load::{
    AnalysisConfig, Event, Injector, InjectorConfig, Outage, Record, Target, analyze, now_us,
};
use serde::Serialize;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::procs::{Procs, events, ts, wait_for};
use super::topology::{
    HTTP_PORT, RS_API, RS1, VIP, VIP_PREFIX, WATCHER, WATCHER_API, WS1, WS2, observer_args,
    route_server_args, watcher_args, web_args,
};

/// A failure (or a planned change) the lab injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scenario {
    /// SIGKILL the primary's web server.
    Kill,
    /// SIGSTOP it.
    Hang,
    /// Drain it through the watcher's API, then stop it.
    Drain,
    /// Down and up every ~1 s, a few times, quicker than the failback hold.
    Flap,
    /// SIGKILL the watcher and start it again.
    WatcherRestart,
    /// Restart one of the two route server instances.
    RouteServerRestart,
}

impl Scenario {
    /// Every scenario, in the order they run.
    pub const ALL: [Scenario; 6] = [
        Scenario::Kill,
        Scenario::Hang,
        Scenario::Drain,
        Scenario::Flap,
        Scenario::WatcherRestart,
        Scenario::RouteServerRestart,
    ];

    /// The name on the command line and in the report.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Kill => "kill",
            Scenario::Hang => "hang",
            Scenario::Drain => "drain",
            Scenario::Flap => "flap",
            Scenario::WatcherRestart => "watcher-restart",
            Scenario::RouteServerRestart => "route-server-restart",
        }
    }

    /// What a trial must show to pass, as the table says it.
    pub fn expectation(self) -> &'static str {
        match self {
            Scenario::Kill => "failover median < 15 ms",
            Scenario::Hang => "failover median < 80 ms",
            Scenario::Drain | Scenario::WatcherRestart | Scenario::RouteServerRestart => {
                "0 failed requests"
            }
            Scenario::Flap => "no failback before the hold",
        }
    }

    /// Whether the VIP moves away from ws1 (so a failover and a failback are timed).
    pub fn moves(self) -> bool {
        matches!(
            self,
            Scenario::Kill | Scenario::Hang | Scenario::Drain | Scenario::Flap
        )
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Scenario {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scenario::ALL
            .into_iter()
            .find(|sc| sc.name() == s.trim())
            .ok_or_else(|| {
                let names: Vec<_> = Scenario::ALL.iter().map(|s| s.name()).collect();
                format!("unknown scenario {s:?}; one of {}", names.join(", "))
            })
    }
}

/// A vertical line of a trial's timeline.
#[derive(Debug, Clone, Serialize)]
pub struct Marker {
    /// What happened (`kill ws1`, `move ws1→ws2`, `programmed 127.10.0.5`, ...).
    pub label: String,
    /// When, µs since the epoch.
    pub ts_us: u64,
    /// `event`, `detect`, `move`, `update`, `programmed`, `back`.
    pub kind: &'static str,
}

/// One trial of one scenario.
#[derive(Debug, Clone, Serialize)]
pub struct Trial {
    /// The scenario.
    pub scenario: String,
    /// 1, 2, ...
    pub n: usize,
    /// The injector's first and last scheduled request, µs since the epoch.
    pub start_us: u64,
    /// See `start_us`.
    pub end_us: u64,
    /// The injected event.
    pub event: String,
    /// Its wall-clock time, µs since the epoch.
    pub event_us: u64,
    /// Whether it met the scenario's expectation (and ran to the end).
    pub pass: bool,
    /// Why it did not run to the end, if it did not.
    pub error: Option<String>,
    /// Requests sent in the trial.
    pub requests: u64,
    /// Requests that failed.
    pub failed_requests: u64,
    /// Event to the first success from ws2 (from the outage analysis), ms.
    pub failover_ms: Option<f64>,
    /// ws1 back (restarted, resumed, undrained) to the first success from it, ms.
    pub failback_ms: Option<f64>,
    /// Event to the watcher's `health` ws1 down, ms.
    pub detection_ms: Option<f64>,
    /// Event to the watcher's `move`, ms.
    pub decision_ms: Option<f64>,
    /// The watcher's `move` to its first `update_sent` with the new next hop, ms.
    pub update_ms: Option<f64>,
    /// Event to the route server's `programmed` with the new next hop only, ms.
    pub programmed_ms: Option<f64>,
    /// The `reason` of the watcher's move back to ws1 (`failback`, or `failover`
    /// when ws2 was judged down first).
    pub failback_reason: Option<String>,
    /// Flap: the shortest time between ws1 coming up and a failback to it, ms.
    pub failback_after_up_ms: Option<f64>,
    /// Flap: a failback came sooner than the hold.
    pub early_failback: Option<bool>,
    /// The outages and switches of the trial's requests.
    pub outages: Vec<Outage>,
    /// Timeline markers.
    pub markers: Vec<Marker>,
    /// The trial's requests (the CSV and the timeline; not in results.json).
    #[serde(skip)]
    pub records: Vec<Record>,
}

/// The running lab.
#[derive(Debug)]
pub struct Lab {
    /// The children.
    pub procs: Procs,
    /// The watcher's config file.
    pub config: PathBuf,
    /// Requests per second during each trial.
    pub rate: f64,
    /// The watcher's failback hold.
    pub hold: Duration,
    /// Trials run so far.
    pub trials_run: usize,
}

/// What a scenario's steps tell the analysis.
#[derive(Debug, Default)]
struct Steps {
    event: Option<Event>,
    /// When ws1 was back (restarted, resumed, undrained).
    back_us: Option<u64>,
    markers: Vec<Marker>,
}

fn ms(from_us: u64, to_us: u64) -> f64 {
    (to_us as f64 - from_us as f64) / 1000.0
}

fn marker(label: impl Into<String>, ts_us: u64, kind: &'static str) -> Marker {
    Marker {
        label: label.into(),
        ts_us,
        kind,
    }
}

impl Lab {
    fn watcher_log(&self) -> PathBuf {
        self.procs.log("watcher")
    }

    fn rs_log(&self) -> PathBuf {
        self.procs.log("route-server")
    }

    /// Starts every role and waits (bounded) until the VIP answers from ws1.
    pub async fn start(&mut self) -> anyhow::Result<()> {
        let t0 = now_us();
        self.procs.spawn("route-server", &route_server_args())?;
        self.procs.spawn("ws1", &web_args("ws1"))?;
        self.procs.spawn("ws2", &web_args("ws2"))?;
        for (name, log) in [
            ("route-server", self.rs_log()),
            ("ws1", self.procs.log("ws1")),
            ("ws2", self.procs.log("ws2")),
        ] {
            let ev = if name == "route-server" {
                "started"
            } else {
                "listening"
            };
            wait_for(&log, t0, Duration::from_secs(10), ev, |v| v["event"] == ev)
                .await
                .with_context(|| format!("{name} did not start (see its .stderr)"))?;
        }
        let config = self.config.clone();
        self.procs.spawn("watcher", &watcher_args(&config))?;
        self.procs.spawn("observer", &observer_args())?;
        self.wait_vip_on("ws1", Duration::from_secs(15))
            .await
            .context("traffic never flowed through the VIP")?;
        Ok(())
    }

    /// Polls the VIP until it answers from `backend`.
    async fn wait_vip_on(&self, backend: &str, within: Duration) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + within;
        let mut last: String;
        loop {
            match get_backend().await {
                Ok(b) if b == backend => return Ok(()),
                Ok(b) => last = format!("answered by {b}"),
                Err(e) => last = format!("{e:#}"),
            }
            if tokio::time::Instant::now() >= deadline {
                bail!(
                    "http://{VIP}:{HTTP_PORT}/ not served by {backend} within {within:?} (last: {last})"
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Back to the steady state after any trial, even a failed one: every role
    /// running, ws1 resumed and undrained, the VIP on ws1.
    async fn steady(&mut self) -> anyhow::Result<()> {
        if self.procs.exited("ws1") {
            self.procs.kill("ws1").await.ok();
            self.procs.spawn("ws1", &web_args("ws1"))?;
        } else {
            self.procs.signal("ws1", "CONT").await.ok();
        }
        if self.procs.exited("watcher") {
            self.procs.kill("watcher").await.ok();
            let config = self.config.clone();
            self.procs.spawn("watcher", &watcher_args(&config))?;
        }
        if self.procs.exited("route-server") {
            bail!("the route server has exited (see route-server.stderr)");
        }
        if get_backend().await.ok().as_deref() != Some("ws1") {
            let _ = ctl(&self.procs, WATCHER_API, &["undrain", "ws1"]).await;
        }
        self.wait_vip_on("ws1", self.hold + Duration::from_secs(8))
            .await
    }

    /// Runs one trial; an error in the steps is recorded in the trial, not returned.
    pub async fn trial(&mut self, sc: Scenario, n: usize) -> Trial {
        let mut steady_err = self.steady().await.err();
        self.trials_run += 1;
        let config = InjectorConfig {
            rate: self.rate,
            duration: Duration::from_secs(60),
            timeout: Duration::from_secs(1),
            // A new source address per trial (lt1's network, 127.10.6.0/24): no
            // four-tuple of an earlier trial's TIME_WAIT sockets is reused.
            source: Some(std::net::IpAddr::from([
                127,
                10,
                6,
                (self.trials_run % 250 + 1) as u8,
            ])),
            ..InjectorConfig::new(
                Target::parse(&format!("http://{VIP}:{HTTP_PORT}/")).expect("a constant URL"),
            )
        };
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (records, steps) = match Injector::new(config) {
            Ok(injector) => {
                // The injector runs on a thread and runtime of its own, so that the
                // lab's own work (reading logs, starting processes) never delays a
                // request or the reading of its response.
                let (done_tx, done_rx) = tokio::sync::oneshot::channel::<Vec<Record>>();
                let spawned =
                    std::thread::Builder::new()
                        .name("lab-load".into())
                        .spawn(move || {
                            let records = match tokio::runtime::Builder::new_current_thread()
                                .enable_all()
                                .build()
                            {
                                Ok(rt) => rt.block_on(injector.run(async {
                                    let _ = rx.await;
                                })),
                                Err(_) => Vec::new(),
                            };
                            let _ = done_tx.send(records);
                        });
                let r = if let Err(e) = &spawned {
                    Err(anyhow::anyhow!("starting the load injector: {e}"))
                } else if steady_err.is_some() {
                    Err(anyhow::anyhow!("not steady"))
                } else {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    let r = tokio::time::timeout(Duration::from_secs(25), self.steps(sc))
                        .await
                        .unwrap_or_else(|_| Err(anyhow::anyhow!("trial took over 25 s")));
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    r
                };
                let _ = tx.send(());
                // The injector waits at most its request timeout and a second for
                // the requests in flight.
                let records = tokio::time::timeout(Duration::from_secs(5), done_rx)
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .unwrap_or_default();
                (records, r)
            }
            Err(e) => (Vec::new(), Err(anyhow::anyhow!("load injector: {e}"))),
        };
        let (steps, error) = match steps {
            Ok(s) => (s, steady_err.take().map(|e| format!("{e:#}"))),
            Err(e) => (
                Steps::default(),
                Some(format!("{:#}", steady_err.take().unwrap_or(e))),
            ),
        };
        self.analyse(sc, n, records, steps, error)
    }

    async fn steps(&mut self, sc: Scenario) -> anyhow::Result<Steps> {
        let wlog = self.watcher_log();
        let rlog = self.rs_log();
        let settle = Duration::from_millis(300);
        let failback_within = self.hold + Duration::from_secs(6);
        let mut s = Steps::default();
        match sc {
            Scenario::Kill | Scenario::Hang => {
                let name = if sc == Scenario::Kill {
                    "SIGKILL ws1"
                } else {
                    "SIGSTOP ws1"
                };
                let ev = now_us();
                if sc == Scenario::Kill {
                    self.procs.kill("ws1").await?;
                } else {
                    self.procs.signal("ws1", "STOP").await?;
                }
                s.event = Some(Event {
                    ts_us: ev,
                    name: name.into(),
                });
                wait_for(&wlog, ev, Duration::from_secs(5), "move to ws2", |v| {
                    is_move(v, "ws2")
                })
                .await?;
                tokio::time::sleep(settle).await;
                let back = now_us();
                if sc == Scenario::Kill {
                    self.procs.spawn("ws1", &web_args("ws1"))?;
                    s.markers.push(marker("ws1 restarted", back, "back"));
                } else {
                    self.procs.signal("ws1", "CONT").await?;
                    s.markers.push(marker("SIGCONT ws1", back, "back"));
                }
                s.back_us = Some(back);
                wait_for(&wlog, back, failback_within, "failback to ws1", |v| {
                    is_move(v, "ws1")
                })
                .await?;
            }
            Scenario::Drain => {
                let ev = now_us();
                ctl(&self.procs, WATCHER_API, &["drain", "ws1"]).await?;
                s.event = Some(Event {
                    ts_us: ev,
                    name: "drain ws1".into(),
                });
                wait_for(&wlog, ev, Duration::from_secs(5), "move to ws2", |v| {
                    is_move(v, "ws2")
                })
                .await?;
                tokio::time::sleep(settle).await;
                let t = now_us();
                self.procs.stop("ws1").await?;
                s.markers.push(marker("SIGTERM ws1", t, "event"));
                tokio::time::sleep(settle).await;
                let t = now_us();
                self.procs.spawn("ws1", &web_args("ws1"))?;
                s.markers.push(marker("ws1 restarted", t, "back"));
                wait_for(&wlog, t, Duration::from_secs(5), "ws1 up", |v| {
                    v["event"] == "health" && v["backend"] == "ws1" && v["to"] == "up"
                })
                .await?;
                let back = now_us();
                ctl(&self.procs, WATCHER_API, &["undrain", "ws1"]).await?;
                s.markers.push(marker("undrain ws1", back, "back"));
                s.back_us = Some(back);
                wait_for(&wlog, back, failback_within, "failback to ws1", |v| {
                    is_move(v, "ws1")
                })
                .await?;
            }
            Scenario::Flap => {
                let ev = now_us();
                s.event = Some(Event {
                    ts_us: ev,
                    name: "flap ws1".into(),
                });
                let mut last_up = ev;
                for i in 0..3 {
                    let t = now_us();
                    self.procs.kill("ws1").await?;
                    if i > 0 {
                        s.markers.push(marker("SIGKILL ws1", t, "event"));
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    last_up = now_us();
                    self.procs.spawn("ws1", &web_args("ws1"))?;
                    s.markers.push(marker("ws1 restarted", last_up, "back"));
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                s.back_us = Some(last_up);
                wait_for(&wlog, last_up, failback_within, "failback to ws1", |v| {
                    is_move(v, "ws1")
                })
                .await?;
            }
            Scenario::WatcherRestart => {
                let ev = now_us();
                self.procs.kill("watcher").await?;
                s.event = Some(Event {
                    ts_us: ev,
                    name: "SIGKILL watcher".into(),
                });
                tokio::time::sleep(settle).await;
                let t = now_us();
                let config = self.config.clone();
                self.procs.spawn("watcher", &watcher_args(&config))?;
                s.markers.push(marker("watcher restarted", t, "back"));
                let up = wait_for(&wlog, t, Duration::from_secs(10), "update_sent", |v| {
                    v["event"] == "update_sent"
                })
                .await?;
                s.markers
                    .push(marker("watcher's first UPDATE", ts(&up), "update"));
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Scenario::RouteServerRestart => {
                let ev = now_us();
                ctl(
                    &self.procs,
                    RS_API,
                    &["restart-instance", RS1, "--after-ms", "2000"],
                )
                .await?;
                s.event = Some(Event {
                    ts_us: ev,
                    name: format!("restart {RS1}"),
                });
                let st = wait_for(&rlog, ev, Duration::from_secs(6), "instance_started", |v| {
                    v["event"] == "instance_started"
                })
                .await?;
                s.markers
                    .push(marker(format!("{RS1} started"), ts(&st), "back"));
                let es = wait_for(
                    &rlog,
                    ev,
                    Duration::from_secs(12),
                    "the watcher's session again",
                    |v| v["event"] == "established" && v["instance"] == RS1 && v["peer"] == WATCHER,
                )
                .await?;
                s.markers
                    .push(marker("watcher re-established", ts(&es), "update"));
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
        Ok(s)
    }

    fn analyse(
        &self,
        sc: Scenario,
        n: usize,
        records: Vec<Record>,
        steps: Steps,
        error: Option<String>,
    ) -> Trial {
        let events_in: Vec<Event> = steps.event.iter().cloned().collect();
        let summary = analyze(
            &records,
            &events_in,
            &AnalysisConfig {
                asked_rate: Some(self.rate),
                // Requests in flight when the failure is injected fail with it.
                event_grace_us: 100_000,
                ..AnalysisConfig::default()
            },
        );
        let ev = steps.event.as_ref().map_or(0, |e| e.ts_us);
        let mut t = Trial {
            scenario: sc.name().into(),
            n,
            start_us: summary.first_scheduled_us.unwrap_or(0),
            end_us: summary.last_scheduled_us.unwrap_or(0),
            event: steps
                .event
                .as_ref()
                .map_or_else(String::new, |e| e.name.clone()),
            event_us: ev,
            pass: false,
            error,
            requests: summary.requests,
            failed_requests: summary.failed,
            failover_ms: None,
            failback_ms: None,
            detection_ms: None,
            decision_ms: None,
            update_ms: None,
            programmed_ms: None,
            failback_after_up_ms: None,
            failback_reason: None,
            early_failback: None,
            outages: summary.outages.clone(),
            markers: Vec::new(),
            records: Vec::new(),
        };
        if let Some(e) = &steps.event {
            t.markers.push(marker(e.name.clone(), ev, "event"));
        }
        t.markers.extend(steps.markers);
        let wev = events(&self.watcher_log());
        let rev = events(&self.rs_log());
        let window = |v: &&Value| ts(v) >= ev && ts(v) <= t.end_us.max(ev) + 2_000_000;
        if sc.moves() && ev > 0 {
            // Failover: the analysis's outage (or switch) the event started, ending on ws2.
            t.failover_ms = summary
                .outages
                .iter()
                .find(|o| o.event.as_deref() == Some(t.event.as_str()))
                .and_then(|o| o.duration_ms)
                .or_else(|| {
                    records
                        .iter()
                        .find(|r| {
                            r.sent_us >= ev && r.is_success() && r.backend.as_deref() == Some("ws2")
                        })
                        .map(|r| ms(ev, r.sent_us))
                });
            if let Some(back) = steps.back_us {
                t.failback_ms = records
                    .iter()
                    .find(|r| {
                        r.sent_us >= back && r.is_success() && r.backend.as_deref() == Some("ws1")
                    })
                    .map(|r| ms(back, r.sent_us));
            }
            // A drain is decided, not detected: ws1 goes down only when stopped later.
            let detect = wev
                .iter()
                .filter(window)
                .find(|v| v["event"] == "health" && v["backend"] == "ws1" && v["to"] == "down");
            if let Some(d) = detect.filter(|_| sc != Scenario::Drain) {
                t.detection_ms = Some(ms(ev, ts(d)));
                t.markers
                    .push(marker("ws1 down (watcher)", ts(d), "detect"));
            }
            if let Some(m) = wev.iter().filter(window).find(|v| is_move(v, "ws2")) {
                let mts = ts(m);
                t.decision_ms = Some(ms(ev, mts));
                t.markers.push(marker(
                    format!("move ws1→ws2 ({})", m["reason"].as_str().unwrap_or("")),
                    mts,
                    "move",
                ));
                if let Some(u) = wev.iter().find(|v| ts(v) >= mts && is_update_to(v, WS2)) {
                    t.update_ms = Some(ms(mts, ts(u)));
                    t.markers.push(marker("UPDATE sent", ts(u), "update"));
                }
            }
            if let Some(p) = rev
                .iter()
                .filter(window)
                .find(|v| is_programmed_only(v, WS2))
            {
                t.programmed_ms = Some(ms(ev, ts(p)));
                t.markers
                    .push(marker(format!("programmed {WS2}"), ts(p), "programmed"));
            }
            // The observer: another peer of the route server, seeing the move.
            if let Some(o) = events(&self.procs.log("observer"))
                .iter()
                .filter(window)
                .find(|v| {
                    v["event"] == "update" && v["prefix"] == VIP_PREFIX && v["next_hop"] == WS2
                })
            {
                t.markers
                    .push(marker(format!("observer got {WS2}"), ts(o), "programmed"));
            }
            let back = steps.back_us.unwrap_or(ev);
            if let Some(m) = wev
                .iter()
                .filter(window)
                .find(|v| ts(v) >= back && is_move(v, "ws1"))
            {
                t.failback_reason = m["reason"].as_str().map(str::to_string);
                t.markers.push(marker(
                    format!("move ws2→ws1 ({})", m["reason"].as_str().unwrap_or("")),
                    ts(m),
                    "move",
                ));
            }
            if let Some(p) = rev
                .iter()
                .filter(window)
                .find(|v| ts(v) >= back && is_programmed_only(v, WS1))
            {
                t.markers
                    .push(marker(format!("programmed {WS1}"), ts(p), "programmed"));
            }
        }
        if sc == Scenario::Flap && ev > 0 {
            // Every failback must come at least the hold after ws1's latest `up`.
            let hold_ms = self.hold.as_secs_f64() * 1000.0;
            let mut shortest: Option<f64> = None;
            for m in wev.iter().filter(window).filter(|v| is_move(v, "ws1")) {
                let up = wev
                    .iter()
                    .filter(|v| {
                        ts(v) >= ev
                            && ts(v) <= ts(m)
                            && v["event"] == "health"
                            && v["backend"] == "ws1"
                            && v["to"] == "up"
                    })
                    .map(ts)
                    .max();
                if let Some(up) = up {
                    let d = ms(up, ts(m));
                    shortest = Some(shortest.map_or(d, |s: f64| s.min(d)));
                }
            }
            t.failback_after_up_ms = shortest;
            // 2% of slack for the timer's granularity.
            t.early_failback = Some(shortest.is_some_and(|d| d < hold_ms * 0.98));
        }
        t.pass = t.error.is_none()
            && match sc {
                Scenario::Kill | Scenario::Hang => {
                    t.failover_ms.is_some() && t.failback_ms.is_some()
                }
                Scenario::Drain => t.failed_requests == 0 && t.failover_ms.is_some(),
                Scenario::Flap => {
                    t.early_failback == Some(false) && t.failback_after_up_ms.is_some()
                }
                Scenario::WatcherRestart | Scenario::RouteServerRestart => t.failed_requests == 0,
            };
        t.markers.sort_by_key(|m| m.ts_us);
        t.records = records;
        t
    }
}

fn is_move(v: &Value, to: &str) -> bool {
    v["event"] == "move" && v["to"] == to && v["vip"] == VIP_PREFIX
}

fn is_update_to(v: &Value, nh: &str) -> bool {
    v["event"] == "update_sent"
        && v["announce"]
            .as_array()
            .is_some_and(|a| a.iter().any(|r| r["next_hop"] == nh))
}

fn is_programmed_only(v: &Value, nh: &str) -> bool {
    v["event"] == "programmed"
        && v["prefix"] == VIP_PREFIX
        && v["next_hops"]
            .as_array()
            .is_some_and(|a| a.len() == 1 && a[0] == nh)
}

/// `hopwatch ctl --api API ARGS`, bounded to 5 s.
async fn ctl(procs: &Procs, api: &str, args: &[&str]) -> anyhow::Result<String> {
    let bin = std::env::current_exe().context("current_exe")?;
    let _ = procs;
    let out = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::process::Command::new(bin)
            .args(["ctl", "--api", api])
            .args(args)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .with_context(|| format!("ctl {args:?} took over 5 s"))?
    .with_context(|| format!("ctl {args:?}"))?;
    if !out.status.success() {
        bail!(
            "ctl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// One GET through the VIP (new connection, 500 ms at most): who answered.
pub async fn get_backend() -> anyhow::Result<String> {
    let fut = async {
        let mut s = tokio::net::TcpStream::connect((VIP, HTTP_PORT)).await?;
        s.write_all(b"GET / HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n\r\n")
            .await?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await?;
        Ok::<_, std::io::Error>(buf)
    };
    let buf = tokio::time::timeout(Duration::from_millis(500), fut)
        .await
        .context("timeout")??;
    let body = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(&buf[..0], |i| &buf[i + 4..]);
    hopwatch_load::injector::backend_of(body, "hostname").context("no backend in the answer")
}
