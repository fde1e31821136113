//! One trial of a scenario: bring the lab to its steady state (the VIP on ws1), run
//! the load injector for the whole trial on a thread of its own, run the scenario's
//! steps (bounded), then join the requests and the children's JSON logs into one
//! [`Trial`] ([`crate::analysis`]): failover, failback, failed requests, and where
//! the time went.

use std::time::Duration;

use hopwatch_load::{Injector, InjectorConfig, Outage, Record, Target};
use serde::Serialize;

use crate::cpu::{self, Usage};
use crate::lab::Lab;
use crate::netns::in_ns;
use crate::scenarios::{Scenario, Steps};

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

impl Marker {
    /// A marker `label` at `ts_us` of `kind`.
    pub fn new(label: impl Into<String>, ts_us: u64, kind: &'static str) -> Marker {
        Marker {
            label: label.into(),
            ts_us,
            kind,
        }
    }
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
    /// The watcher's UPDATE to that route programmed: the route server's own part
    /// (with FRR, bgpd's processing queue), ms.
    pub route_server_ms: Option<f64>,
    /// The `reason` of the watcher's move back to ws1 (`failback`, or `failover`
    /// when ws2 was judged down first).
    pub failback_reason: Option<String>,
    /// Flap: the shortest time between ws1 coming up and a failback to it, ms.
    pub failback_after_up_ms: Option<f64>,
    /// Flap: a failback came sooner than the hold.
    pub early_failback: Option<bool>,
    /// The pair: how long after the primary's death the route servers used the
    /// standby's route, ms (when the steps saw it).
    pub takeover_ms: Option<f64>,
    /// `watcher-freeze`: moves of the VIP by either watcher, and route changes away
    /// from ws1, during the trial (each one a move back or forth).
    pub moves_seen: Option<u64>,
    /// `disagree`: requests answered by ws2.
    pub answered_by_ws2: Option<u64>,
    /// Every VIP's move to ws2 (`--vips`; one VIP too): the last programmed, the
    /// UPDATE messages per route server instance. In a trial whose VIP moves.
    pub vips: Option<crate::vips::VipsMove>,
    /// The outages and switches of the trial's requests.
    pub outages: Vec<Outage>,
    /// Timeline markers.
    pub markers: Vec<Marker>,
    /// Each of the lab's processes' share of a core while the steps ran (those
    /// restarted by the steps have none).
    pub cpu: Vec<Usage>,
    /// The trial's requests (the CSV and the timeline; not in results.json).
    #[serde(skip)]
    pub records: Vec<Record>,
}

/// A request of the lab's load without an answer this long has failed.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(1);

/// The load injector running: its requests when stopped.
pub type Load = tokio::task::JoinHandle<anyhow::Result<Vec<Record>>>;

/// Stops the load injector; its requests. It waits at most its request timeout and
/// a second for the requests in flight.
pub async fn stop_load(
    load: Load,
    stop: tokio::sync::oneshot::Sender<()>,
) -> anyhow::Result<Vec<Record>> {
    let _ = stop.send(());
    match tokio::time::timeout(Duration::from_secs(5), load).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => Err(anyhow::anyhow!("the load injector failed: {e}")),
        Err(_) => Err(anyhow::anyhow!("the load injector did not stop")),
    }
}

impl Lab {
    /// Starts the load injector through the VIP for at most `duration`, from a
    /// source address of its own (see [`crate::topology::Layout::load_source`]);
    /// sending on the returned channel stops it.
    pub fn start_load(
        &self,
        duration: Duration,
    ) -> anyhow::Result<(Load, tokio::sync::oneshot::Sender<()>)> {
        let url = format!("http://{}:{}/", self.layout.vip, self.layout.http_port);
        let config = InjectorConfig {
            rate: self.rate,
            duration,
            timeout: REQUEST_TIMEOUT,
            source: self.layout.load_source(self.trials_run),
            ..InjectorConfig::new(Target::parse(&url).expect("the lab's VIP URL"))
        };
        let injector = Injector::new(config).map_err(|e| anyhow::anyhow!("load injector: {e}"))?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        // The injector runs on a thread and runtime of its own (in lt1's namespace in
        // the namespace lab), so that the lab's own work (reading logs, starting
        // processes) never delays a request or the reading of its response.
        let load = tokio::spawn(in_ns(self.layout.ns_of("load"), "lab-load", move || {
            injector.run(async {
                let _ = rx.await;
            })
        }));
        Ok((load, tx))
    }

    /// Runs one trial; an error in the steps is recorded in the trial, not returned.
    pub async fn trial(&mut self, sc: &Scenario, n: usize) -> Trial {
        let mut steady_err = self.steady().await.err();
        self.trials_run += 1;
        let slack = self.slack();
        let mut cpu_use = Vec::new();
        // Every VIP moves twice (failover, failback), and is waited for each time.
        let vips = 2 * self.vips_allowance();
        let (records, steps) = match self
            .start_load(Duration::from_secs(60) + 4 * slack + 2 * self.takeover_bound() + vips)
        {
            Ok((load, tx)) => {
                let r = if steady_err.is_some() {
                    Err(anyhow::anyhow!("not steady"))
                } else {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    let limit =
                        Duration::from_secs(25) + 4 * slack + 2 * self.takeover_bound() + vips;
                    let before = cpu::sample(self);
                    let r = tokio::time::timeout(limit, (sc.run)(self))
                        .await
                        .unwrap_or_else(|_| Err(anyhow::anyhow!("trial took over {limit:?}")));
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    cpu_use = cpu::usage(&before, &cpu::sample(self));
                    r
                };
                match stop_load(load, tx).await {
                    Ok(records) => (records, r),
                    Err(e) => (Vec::new(), r.and(Err(e))),
                }
            }
            Err(e) => (Vec::new(), Err(e)),
        };
        let (steps, error) = match steps {
            Ok(s) => (s, steady_err.take().map(|e| format!("{e:#}"))),
            Err(e) => (
                Steps::default(),
                Some(format!("{:#}", steady_err.take().unwrap_or(e))),
            ),
        };
        let mut trial = self.analyse(sc, n, records, steps, error);
        trial.cpu = cpu_use;
        trial
    }
}
