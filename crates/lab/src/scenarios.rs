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

use super::bird::{self, Bird};
use super::frr::{Frr, bgpd_role};
use super::monitor;
use super::netns::{Net, in_ns};
use super::procs::{Procs, events, ts, wait_for};
use super::topology::{Layout, Profile, RouteServer, watcher_args};

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
    /// ws1's link down (namespace lab only).
    Blackhole,
    /// An nft rule drops every packet to ws1's HTTP port (namespace lab only).
    Drop,
}

impl Scenario {
    /// Every scenario, in the order they run.
    pub const ALL: [Scenario; 8] = [
        Scenario::Kill,
        Scenario::Hang,
        Scenario::Blackhole,
        Scenario::Drop,
        Scenario::Drain,
        Scenario::Flap,
        Scenario::WatcherRestart,
        Scenario::RouteServerRestart,
    ];

    /// Whether it injects its failure at the network level (namespace lab only).
    pub fn needs_netns(self) -> bool {
        matches!(self, Scenario::Blackhole | Scenario::Drop)
    }

    /// The name on the command line and in the report.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Kill => "kill",
            Scenario::Hang => "hang",
            Scenario::Drain => "drain",
            Scenario::Flap => "flap",
            Scenario::WatcherRestart => "watcher-restart",
            Scenario::RouteServerRestart => "route-server-restart",
            Scenario::Blackhole => "blackhole",
            Scenario::Drop => "drop",
        }
    }

    /// What a trial must show to pass, as the table says it. The failover targets
    /// (`timed`) are the issue's, for hopwatch's own route server programming at
    /// once; with another route server or the cloud profile a trial passes on its
    /// failover and failback being measured, and the figures are reported.
    pub fn expectation(self, timed: bool) -> &'static str {
        match self {
            Scenario::Kill if timed => "failover median < 15 ms",
            Scenario::Hang if timed => "failover median < 80 ms",
            Scenario::Kill | Scenario::Hang | Scenario::Blackhole | Scenario::Drop => {
                "fails over and back"
            }
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
            Scenario::Kill
                | Scenario::Hang
                | Scenario::Drain
                | Scenario::Flap
                | Scenario::Blackhole
                | Scenario::Drop
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
    /// Where everything lives.
    pub layout: Layout,
    /// The namespaces (`--netns`).
    pub net: Option<Net>,
    /// FRR, when it is the route server.
    pub frr: Option<Frr>,
    /// BIRD, when it is the route server.
    pub bird: Option<Bird>,
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
    /// When ws1 was back (restarted, resumed, undrained, relinked).
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

    /// The route changes of the VIP: the kernel's, seen by the route monitor, in the
    /// namespace lab; the route server's own `programmed` lines on loopback.
    fn programmed_events(&self) -> Vec<Value> {
        if self.net.is_some() {
            monitor::programmed(
                &self.procs.dir().join("route-monitor.log"),
                self.layout.vip_prefix,
            )
        } else {
            events(&self.rs_log())
        }
    }

    /// Extra time every wait allows under the cloud profile: its programming delay
    /// (up to 5.6 s) and one change per route per 30 s.
    fn slack(&self) -> Duration {
        match self.layout.profile {
            Profile::Instant => Duration::ZERO,
            Profile::Azure => Duration::from_secs(40),
        }
    }

    /// Starts the role `name` (`route-server`, `ws1`, `ws2`, `watcher`, `observer`)
    /// in its namespace.
    async fn spawn_role(&mut self, name: &str) -> anyhow::Result<()> {
        let ns = self.layout.ns_of(name);
        let args = match name {
            "route-server" if self.layout.route_server == RouteServer::Frr => {
                self.frr = Some(Frr::start(&mut self.procs, &self.layout).await?);
                return Ok(());
            }
            "route-server" if self.layout.route_server == RouteServer::Bird => {
                self.bird = Some(Bird::start(&mut self.procs, &self.layout).await?);
                return Ok(());
            }
            "route-server" => self.layout.route_server_args(),
            "ws1" | "ws2" => self.layout.web_args(name),
            "watcher" => watcher_args(&self.config),
            "observer" => self.layout.observer_args(),
            other => bail!("lab: no role {other}"),
        };
        self.procs.spawn(name, ns.as_deref(), &args)?;
        Ok(())
    }

    /// Starts every role and waits (bounded) until the VIP answers from ws1.
    pub async fn start(&mut self) -> anyhow::Result<()> {
        let t0 = now_us();
        if self.net.is_some() {
            let ns = self.layout.ns_of("route-server");
            self.procs.spawn_program(
                "route-monitor",
                ns.as_deref(),
                crate::netns::ip_program(),
                &monitor::args(),
                "log",
            )?;
        }
        self.spawn_role("route-server").await?;
        self.spawn_role("ws1").await?;
        self.spawn_role("ws2").await?;
        let mut ready = vec![
            ("ws1", self.procs.log("ws1"), "listening"),
            ("ws2", self.procs.log("ws2"), "listening"),
        ];
        if self.layout.route_server == RouteServer::Hopwatch {
            ready.insert(0, ("route-server", self.rs_log(), "started"));
        }
        for (name, log, ev) in ready {
            wait_for(&log, t0, Duration::from_secs(10), ev, |v| v["event"] == ev)
                .await
                .with_context(|| format!("{name} did not start (see its .stderr)"))?;
        }
        self.spawn_role("watcher").await?;
        self.spawn_role("observer").await?;
        self.wait_vip_on("ws1", Duration::from_secs(15) + self.slack())
            .await
            .context("traffic never flowed through the VIP")?;
        Ok(())
    }

    /// Waits (polling every 10 ms, at most `within`) until the VIP's route is
    /// programmed to `next_hop` alone, at or after `since_us`.
    async fn wait_programmed(
        &self,
        since_us: u64,
        next_hop: &str,
        within: Duration,
    ) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + within;
        let vip = self.layout.vip_prefix;
        loop {
            if self
                .programmed_events()
                .iter()
                .any(|v| ts(v) >= since_us && is_programmed_only(v, vip, next_hop))
            {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                bail!("lab: the VIP's route was not programmed to {next_hop} within {within:?}");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Polls the VIP until it answers from `backend`.
    async fn wait_vip_on(&self, backend: &str, within: Duration) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + within;
        let mut last: String;
        loop {
            match self.get_backend().await {
                Ok(b) if b == backend => return Ok(()),
                Ok(b) => last = format!("answered by {b}"),
                Err(e) => last = format!("{e:#}"),
            }
            if tokio::time::Instant::now() >= deadline {
                bail!(
                    "http://{}:{}/ not served by {backend} within {within:?} (last: {last})",
                    self.layout.vip,
                    self.layout.http_port
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// One GET through the VIP from the load injector's place (lt1's namespace in
    /// the namespace lab): who answered.
    async fn get_backend(&self) -> anyhow::Result<String> {
        let (vip, port) = (self.layout.vip, self.layout.http_port);
        in_ns(self.layout.ns_of("load"), "lab-probe", move || {
            get_backend(vip, port)
        })
        .await?
    }

    /// `hopwatch ctl --api API ARGS` in the namespace of the API's owner.
    async fn ctl(&self, owner: &str, api: &str, args: &[&str]) -> anyhow::Result<String> {
        ctl(
            self.procs.bin(),
            self.layout.ns_of(owner).as_deref(),
            api,
            args,
        )
        .await
    }

    /// Back to the steady state after any trial, even a failed one: every role
    /// running, ws1 resumed, reachable and undrained, the VIP on ws1.
    async fn steady(&mut self) -> anyhow::Result<()> {
        if let Some(net) = &self.net {
            net.ws1_link(true)?;
            if net.ws1_drop_present() {
                net.ws1_drop(self.layout.http_port, false)?;
            }
        }
        if self.procs.exited("ws1") {
            self.procs.kill("ws1").await.ok();
            self.spawn_role("ws1").await?;
        } else {
            self.procs.signal("ws1", "CONT").await.ok();
        }
        if self.procs.exited("watcher") {
            self.procs.kill("watcher").await.ok();
            self.spawn_role("watcher").await?;
        }
        if self.layout.route_server == RouteServer::Hopwatch {
            if self.procs.exited("route-server") {
                bail!("the route server has exited (see route-server.stderr)");
            }
        } else {
            for i in 0..2 {
                let role = self.instance_role(i);
                if self.procs.exited(&role) {
                    self.procs.kill(&role).await.ok();
                    self.start_instance(i).await?;
                }
            }
            if self.layout.route_server == RouteServer::Frr && self.procs.exited("frr-zebra") {
                bail!("FRR's zebra has exited (see frr-zebra.stderr)");
            }
        }
        if self.get_backend().await.ok().as_deref() != Some("ws1") {
            let _ = self
                .ctl("watcher", self.layout.watcher_api, &["undrain", "ws1"])
                .await;
        }
        self.wait_vip_on("ws1", self.hold + Duration::from_secs(8) + self.slack())
            .await
    }

    /// Runs one trial; an error in the steps is recorded in the trial, not returned.
    pub async fn trial(&mut self, sc: Scenario, n: usize) -> Trial {
        let mut steady_err = self.steady().await.err();
        self.trials_run += 1;
        let slack = self.slack();
        let url = format!("http://{}:{}/", self.layout.vip, self.layout.http_port);
        let config = InjectorConfig {
            rate: self.rate,
            duration: Duration::from_secs(60) + 2 * slack,
            timeout: Duration::from_secs(1),
            source: self.layout.load_source(self.trials_run),
            ..InjectorConfig::new(Target::parse(&url).expect("the lab's VIP URL"))
        };
        let load_ns = self.layout.ns_of("load");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (records, steps) = match Injector::new(config) {
            Ok(injector) => {
                // The injector runs on a thread and runtime of its own (in lt1's
                // namespace in the namespace lab), so that the lab's own work
                // (reading logs, starting processes) never delays a request or the
                // reading of its response.
                let load = tokio::spawn(in_ns(load_ns, "lab-load", move || {
                    injector.run(async {
                        let _ = rx.await;
                    })
                }));
                let r = if steady_err.is_some() {
                    Err(anyhow::anyhow!("not steady"))
                } else {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    let limit = Duration::from_secs(25) + 2 * slack;
                    let r = tokio::time::timeout(limit, self.steps(sc))
                        .await
                        .unwrap_or_else(|_| Err(anyhow::anyhow!("trial took over {limit:?}")));
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    r
                };
                let _ = tx.send(());
                // The injector waits at most its request timeout and a second for
                // the requests in flight.
                let records = match tokio::time::timeout(Duration::from_secs(5), load).await {
                    Ok(Ok(Ok(records))) => Ok(records),
                    Ok(Ok(Err(e))) => Err(e),
                    Ok(Err(e)) => Err(anyhow::anyhow!("the load injector failed: {e}")),
                    Err(_) => Err(anyhow::anyhow!("the load injector did not stop")),
                };
                match records {
                    Ok(records) => (records, r),
                    Err(e) => (Vec::new(), r.and(Err(e))),
                }
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

    /// Injects a network failure on ws1 (`on`) or heals it.
    fn network_failure(&self, sc: Scenario, on: bool) -> anyhow::Result<()> {
        let net = self
            .net
            .as_ref()
            .context("blackhole and drop need the namespace lab (--netns)")?;
        match sc {
            Scenario::Blackhole => net.ws1_link(!on),
            _ => net.ws1_drop(self.layout.http_port, on),
        }
    }

    async fn steps(&mut self, sc: Scenario) -> anyhow::Result<Steps> {
        let wlog = self.watcher_log();
        let rlog = self.rs_log();
        let settle = Duration::from_millis(300);
        let failback_within = self.hold + Duration::from_secs(6) + self.slack();
        let mut s = Steps::default();
        match sc {
            Scenario::Kill | Scenario::Hang | Scenario::Blackhole | Scenario::Drop => {
                let name = match sc {
                    Scenario::Kill => "SIGKILL ws1".to_string(),
                    Scenario::Hang => "SIGSTOP ws1".to_string(),
                    Scenario::Blackhole => "ws1 link down".to_string(),
                    _ => format!("nft drop ws1:{}", self.layout.http_port),
                };
                let ev = now_us();
                match sc {
                    Scenario::Kill => self.procs.kill("ws1").await?,
                    Scenario::Hang => self.procs.signal("ws1", "STOP").await?,
                    _ => self.network_failure(sc, true)?,
                }
                s.event = Some(Event { ts_us: ev, name });
                let vip = self.layout.vip_prefix;
                wait_for(&wlog, ev, Duration::from_secs(5), "move to ws2", |v| {
                    is_move(v, vip, "ws2")
                })
                .await?;
                tokio::time::sleep(settle).await;
                let back = now_us();
                match sc {
                    Scenario::Kill => {
                        self.spawn_role("ws1").await?;
                        s.markers.push(marker("ws1 restarted", back, "back"));
                    }
                    Scenario::Hang => {
                        self.procs.signal("ws1", "CONT").await?;
                        s.markers.push(marker("SIGCONT ws1", back, "back"));
                    }
                    Scenario::Blackhole => {
                        self.network_failure(sc, false)?;
                        s.markers.push(marker("ws1 link up", back, "back"));
                    }
                    _ => {
                        self.network_failure(sc, false)?;
                        s.markers.push(marker("nft rule removed", back, "back"));
                    }
                }
                s.back_us = Some(back);
                wait_for(&wlog, back, failback_within, "failback to ws1", |v| {
                    is_move(v, vip, "ws1")
                })
                .await?;
            }
            Scenario::Drain => {
                let api = self.layout.watcher_api;
                let vip = self.layout.vip_prefix;
                let ev = now_us();
                self.ctl("watcher", api, &["drain", "ws1"]).await?;
                s.event = Some(Event {
                    ts_us: ev,
                    name: "drain ws1".into(),
                });
                wait_for(&wlog, ev, Duration::from_secs(5), "move to ws2", |v| {
                    is_move(v, vip, "ws2")
                })
                .await?;
                // Stop ws1 only once the route points away from it, as an operator
                // would: under the cloud profile that takes seconds.
                self.wait_programmed(ev, self.layout.ws2, Duration::from_secs(5) + self.slack())
                    .await?;
                tokio::time::sleep(settle).await;
                let t = now_us();
                self.procs.stop("ws1").await?;
                s.markers.push(marker("SIGTERM ws1", t, "event"));
                tokio::time::sleep(settle).await;
                let t = now_us();
                self.spawn_role("ws1").await?;
                s.markers.push(marker("ws1 restarted", t, "back"));
                wait_for(&wlog, t, Duration::from_secs(5), "ws1 up", |v| {
                    v["event"] == "health" && v["backend"] == "ws1" && v["to"] == "up"
                })
                .await?;
                let back = now_us();
                self.ctl("watcher", api, &["undrain", "ws1"]).await?;
                s.markers.push(marker("undrain ws1", back, "back"));
                s.back_us = Some(back);
                wait_for(&wlog, back, failback_within, "failback to ws1", |v| {
                    is_move(v, vip, "ws1")
                })
                .await?;
            }
            Scenario::Flap => {
                let vip = self.layout.vip_prefix;
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
                    self.spawn_role("ws1").await?;
                    s.markers.push(marker("ws1 restarted", last_up, "back"));
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                s.back_us = Some(last_up);
                wait_for(&wlog, last_up, failback_within, "failback to ws1", |v| {
                    is_move(v, vip, "ws1")
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
                self.spawn_role("watcher").await?;
                s.markers.push(marker("watcher restarted", t, "back"));
                let up = wait_for(&wlog, t, Duration::from_secs(10), "update_sent", |v| {
                    v["event"] == "update_sent"
                })
                .await?;
                s.markers
                    .push(marker("watcher's first UPDATE", ts(&up), "update"));
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Scenario::RouteServerRestart => self.restart_route_server(&mut s, &wlog, &rlog).await?,
        }
        Ok(s)
    }

    /// The process of instance `i` (0 or 1) of FRR or BIRD.
    fn instance_role(&self, i: usize) -> String {
        match self.layout.route_server {
            RouteServer::Bird => bird::role(i),
            _ => bgpd_role(i),
        }
    }

    /// Starts instance `i` (0 or 1) of FRR or BIRD again.
    async fn start_instance(&mut self, i: usize) -> anyhow::Result<()> {
        if let Some(frr) = &self.frr {
            frr.start_bgpd(&mut self.procs, i).await
        } else if let Some(b) = &self.bird {
            b.start_instance(&mut self.procs, i).await
        } else {
            bail!("lab: hopwatch's route server restarts its instances through its API")
        }
    }

    /// Restarts one instance: hopwatch's first through its API (down for 2 s);
    /// FRR's and BIRD's second by PID (see [`super::frr`] for why the second).
    async fn restart_route_server(
        &mut self,
        s: &mut Steps,
        wlog: &std::path::Path,
        rlog: &std::path::Path,
    ) -> anyhow::Result<()> {
        let ev = now_us();
        if self.layout.route_server != RouteServer::Hopwatch {
            let addr = self.layout.rs[1];
            let role = self.instance_role(1);
            self.procs.kill(&role).await?;
            s.event = Some(Event {
                ts_us: ev,
                name: format!("restart {addr} ({})", self.layout.route_server.name()),
            });
            tokio::time::sleep(Duration::from_secs(2)).await;
            let t = now_us();
            self.start_instance(1).await?;
            s.markers.push(marker(format!("{addr} started"), t, "back"));
            let es = wait_for(
                wlog,
                t,
                Duration::from_secs(15),
                "the watcher's session again",
                |v| v["event"] == "established" && v["peer"] == addr,
            )
            .await?;
            s.markers
                .push(marker("watcher re-established", ts(&es), "update"));
        } else {
            let (rs1, watcher) = (self.layout.rs[0], self.layout.watcher);
            let api = self.layout.rs_api.context("the route server has no API")?;
            self.ctl(
                "route-server",
                api,
                &["restart-instance", rs1, "--after-ms", "2000"],
            )
            .await?;
            s.event = Some(Event {
                ts_us: ev,
                name: format!("restart {rs1}"),
            });
            let st = wait_for(rlog, ev, Duration::from_secs(6), "instance_started", |v| {
                v["event"] == "instance_started"
            })
            .await?;
            s.markers
                .push(marker(format!("{rs1} started"), ts(&st), "back"));
            let es = wait_for(
                rlog,
                ev,
                Duration::from_secs(12),
                "the watcher's session again",
                |v| v["event"] == "established" && v["instance"] == rs1 && v["peer"] == watcher,
            )
            .await?;
            s.markers
                .push(marker("watcher re-established", ts(&es), "update"));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        Ok(())
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
            route_server_ms: None,
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
        let rev = self.programmed_events();
        let (vip, ws1, ws2) = (self.layout.vip_prefix, self.layout.ws1, self.layout.ws2);
        let window = |v: &&Value| ts(v) >= ev && ts(v) <= t.end_us.max(ev) + 2_000_000;
        // A move between the start of the load and the injected event is a false
        // move: the trial's figures would measure something else, so say so.
        if t.error.is_none()
            && ev > 0
            && let Some(m) = wev.iter().find(|v| {
                ts(v) >= t.start_us && ts(v) < ev && v["event"] == "move" && v["vip"] == vip
            })
        {
            let from = m["from"].as_str().unwrap_or("?");
            let why = wev
                .iter()
                .rev()
                .find(|v| {
                    ts(v) <= ts(m)
                        && v["event"] == "health"
                        && v["backend"] == from
                        && v["to"] == "down"
                })
                .and_then(|v| v["error"].as_str())
                .unwrap_or("no health verdict");
            t.error = Some(format!(
                "the watcher moved the VIP {from}→{} ({}) {:.0} ms before the failure was \
                 injected ({from}: {why}): a false move; is this machine overloaded?",
                m["to"].as_str().unwrap_or("?"),
                m["reason"].as_str().unwrap_or("?"),
                ms(ts(m), ev)
            ));
        }
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
            let mut update_us = None;
            if let Some(m) = wev.iter().filter(window).find(|v| is_move(v, vip, "ws2")) {
                let mts = ts(m);
                t.decision_ms = Some(ms(ev, mts));
                t.markers.push(marker(
                    format!("move ws1→ws2 ({})", m["reason"].as_str().unwrap_or("")),
                    mts,
                    "move",
                ));
                if let Some(u) = wev.iter().find(|v| ts(v) >= mts && is_update_to(v, ws2)) {
                    t.update_ms = Some(ms(mts, ts(u)));
                    update_us = Some(ts(u));
                    t.markers.push(marker("UPDATE sent", ts(u), "update"));
                }
            }
            if let Some(p) = rev
                .iter()
                .filter(window)
                .find(|v| is_programmed_only(v, vip, ws2))
            {
                t.programmed_ms = Some(ms(ev, ts(p)));
                t.route_server_ms = update_us.map(|u| ms(u, ts(p)));
                t.markers
                    .push(marker(format!("programmed {ws2}"), ts(p), "programmed"));
            }
            // The observer: another peer of the route server, seeing the move.
            if let Some(o) = events(&self.procs.log("observer"))
                .iter()
                .filter(window)
                .find(|v| v["event"] == "update" && v["prefix"] == vip && v["next_hop"] == ws2)
            {
                t.markers
                    .push(marker(format!("observer got {ws2}"), ts(o), "programmed"));
            }
            let back = steps.back_us.unwrap_or(ev);
            if let Some(m) = wev
                .iter()
                .filter(window)
                .find(|v| ts(v) >= back && is_move(v, vip, "ws1"))
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
                .find(|v| ts(v) >= back && is_programmed_only(v, vip, ws1))
            {
                t.markers
                    .push(marker(format!("programmed {ws1}"), ts(p), "programmed"));
            }
        }
        if sc == Scenario::Flap && ev > 0 {
            // Every failback must come at least the hold after ws1's latest `up`.
            let hold_ms = self.hold.as_secs_f64() * 1000.0;
            let mut shortest: Option<f64> = None;
            for m in wev.iter().filter(window).filter(|v| is_move(v, vip, "ws1")) {
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
                Scenario::Kill | Scenario::Hang | Scenario::Blackhole | Scenario::Drop => {
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

fn is_move(v: &Value, vip: &str, to: &str) -> bool {
    v["event"] == "move" && v["to"] == to && v["vip"] == vip
}

fn is_update_to(v: &Value, nh: &str) -> bool {
    v["event"] == "update_sent"
        && v["announce"]
            .as_array()
            .is_some_and(|a| a.iter().any(|r| r["next_hop"] == nh))
}

fn is_programmed_only(v: &Value, vip: &str, nh: &str) -> bool {
    v["event"] == "programmed"
        && v["prefix"] == vip
        && v["next_hops"]
            .as_array()
            .is_some_and(|a| a.len() == 1 && a[0] == nh)
}

/// `hopwatch ctl --api API ARGS` (`bin`, inside `ns` when given), bounded to 5 s.
async fn ctl(
    bin: &std::path::Path,
    ns: Option<&str>,
    api: &str,
    args: &[&str],
) -> anyhow::Result<String> {
    let mut cmd = match ns {
        Some(ns) => {
            let mut c = tokio::process::Command::new(crate::netns::ip_program());
            c.args(["netns", "exec", ns]).arg(bin);
            c
        }
        None => tokio::process::Command::new(bin),
    };
    let out = tokio::time::timeout(
        Duration::from_secs(5),
        cmd.args(["ctl", "--api", api])
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

/// One GET to `vip:port` (new connection, 500 ms at most): who answered.
pub async fn get_backend(vip: &str, port: u16) -> anyhow::Result<String> {
    let fut = async {
        let mut s = tokio::net::TcpStream::connect((vip, port)).await?;
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
