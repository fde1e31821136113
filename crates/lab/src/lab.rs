//! The running lab: its children and namespaces, its route server, and what the
//! scenarios do with them: start every role, return to the steady state (the VIP
//! on ws1) after any trial, wait (bounded) for the watcher's moves and the route's
//! programming, ask a role's API, probe the VIP from the load's place.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use hopwatch_events::{Event, Line, now_us};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::analysis::{is_move, is_programmed_only};
use crate::bird::{self, Bird};
use crate::frr::{Frr, bgpd_role};
use crate::monitor;
use crate::netns::{Net, in_ns};
use crate::procs::{Procs, events, events_with, wait_for};
use crate::scenarios::Backends;
use crate::topology::{Layout, Profile, RouteServer, Watcher, watcher_args};
use crate::vips;

/// The route server a lab runs, with what it needs to start and restart it.
#[derive(Debug)]
pub enum RouteServerProcs {
    /// `hopwatch route-server`: one child carrying both instances, restarted
    /// through its API.
    Hopwatch,
    /// FRR's zebra and one bgpd per instance (`--route-server frr`).
    Frr(Frr),
    /// One BIRD per instance (`--route-server bird`).
    Bird(Bird),
}

impl RouteServerProcs {
    /// The route server of `layout`, its files under `out`; nothing started yet.
    pub fn new(layout: &Layout, out: &Path) -> anyhow::Result<Self> {
        Ok(match layout.route_server {
            RouteServer::Hopwatch => RouteServerProcs::Hopwatch,
            RouteServer::Frr => RouteServerProcs::Frr(Frr::new(layout)?),
            RouteServer::Bird => RouteServerProcs::Bird(Bird::new(layout, out)?),
        })
    }

    /// Copies what the route server left outside `out` into it (FRR's logs), and
    /// removes it.
    pub fn finish(&self, out: &Path) {
        if let RouteServerProcs::Frr(frr) = self {
            frr.finish(out);
        }
    }
}

/// The running lab.
#[derive(Debug)]
pub struct Lab {
    /// Where everything lives.
    pub layout: Layout,
    /// The namespaces (`--netns`).
    pub net: Option<Net>,
    /// The route server.
    pub route_server: RouteServerProcs,
    /// The children.
    pub procs: Procs,
    /// Both watchers' graceful restart time (`--graceful-restart`), seconds.
    pub graceful_restart: Option<u16>,
    /// Requests per second during each trial.
    pub rate: f64,
    /// The watcher's failback hold.
    pub hold: Duration,
    /// Trials run so far.
    pub trials_run: usize,
    /// What the web servers now do with their connections.
    pub backends: Backends,
    /// The standby was made to disagree (`disagree`): undone by [`Lab::steady`].
    pub disagreeing: bool,
}

impl Lab {
    /// The pause between steps, for the effect of one to settle before the next.
    const SETTLE: Duration = Duration::from_millis(300);

    /// The (primary) watcher's JSON lines.
    pub fn watcher_log(&self) -> PathBuf {
        self.procs.log("watcher")
    }

    /// The JSON lines of watcher `w` of the pair.
    pub fn log_of(&self, w: Watcher) -> PathBuf {
        self.procs.log(w.process())
    }

    /// The control API of watcher `w`.
    pub fn api_of(&self, w: Watcher) -> &'static str {
        match w {
            Watcher::Primary => self.layout.watcher_api,
            Watcher::Standby => self.layout.standby_api,
        }
    }

    /// The route server's JSON lines (hopwatch's).
    pub fn rs_log(&self) -> PathBuf {
        self.procs.log("route-server")
    }

    /// The route changes of the VIP: the kernel's, seen by the route monitor, in the
    /// namespace lab; the route server's own `programmed` lines on loopback.
    pub fn programmed_events(&self) -> Vec<Line> {
        self.programmed_of(&[self.layout.vip_prefix.to_string()])
    }

    /// The route changes of every VIP (`--vips`), as [`Lab::programmed_events`].
    pub fn programmed_all(&self) -> Vec<Line> {
        self.programmed_of(&self.layout.vips())
    }

    /// The route changes of `prefixes`.
    fn programmed_of(&self, prefixes: &[String]) -> Vec<Line> {
        if self.net.is_some() {
            monitor::programmed(&self.procs.dir().join("route-monitor.log"), prefixes)
        } else {
            events_with(&self.rs_log(), "\"programmed\"")
                .into_iter()
                .filter(
                    |l| matches!(&l.event, Event::Programmed(p) if prefixes.contains(&p.prefix)),
                )
                .collect()
        }
    }

    /// The time every wait for all the VIPs allows on top of the seed's: 10 ms per
    /// extra VIP (the watcher sends an UPDATE for each, the route server programs
    /// each), so 1,000 VIPs have 10 s more.
    pub fn vips_allowance(&self) -> Duration {
        Duration::from_millis(10) * u32::try_from(self.layout.extra_vips.len()).unwrap_or(u32::MAX)
    }

    /// Extra time every wait allows under the cloud profile: its programming delay
    /// (up to 5.6 s) and one change per route per 30 s.
    pub fn slack(&self) -> Duration {
        match self.layout.profile {
            Profile::Instant => Duration::ZERO,
            Profile::Azure => Duration::from_secs(40),
        }
    }

    /// The longest the route servers may keep a dead primary's route before the
    /// standby's takes over: the hold time (9 s in the lab's configs), the graceful
    /// restart time (kept stale that long, also after a hold timer expiry where the
    /// route server implements RFC 8538), and 2 s of margin. `watcher-freeze`
    /// freezes the primary this long.
    pub fn takeover_bound(&self) -> Duration {
        Duration::from_secs(9 + u64::from(self.graceful_restart.unwrap_or(0)) + 2)
    }

    /// Starts the role `name` (`route-server`, `ws1`, `ws2`, `watcher`, `standby`,
    /// `observer`) in its namespace.
    pub async fn spawn_role(&mut self, name: &str) -> anyhow::Result<()> {
        let ns = self.layout.ns_of(name);
        let args = match (name, &self.route_server) {
            ("route-server", RouteServerProcs::Frr(frr)) => {
                return frr.start(&mut self.procs, &self.layout).await;
            }
            ("route-server", RouteServerProcs::Bird(b)) => {
                return b.start(&mut self.procs, &self.layout).await;
            }
            ("route-server", RouteServerProcs::Hopwatch) => self.layout.route_server_args(),
            ("ws1" | "ws2", _) => self.layout.web_args(name, self.backends),
            ("fwd-ws1" | "fwd-ws2", _) => self.layout.backend_args(),
            ("watcher", _) => watcher_args(&self.procs.dir().join(Watcher::Primary.config_file())),
            ("standby", _) => watcher_args(&self.procs.dir().join(Watcher::Standby.config_file())),
            ("observer", _) => self.layout.observer_args(),
            (other, _) => bail!("lab: no role {other}"),
        };
        self.procs.spawn(name, ns.as_deref(), &args)?;
        Ok(())
    }

    /// Restarts the web servers when a scenario wants them to treat connections
    /// otherwise (between trials, with no load running): ws2 first, then ws1,
    /// whose VIP the next trial's return to the steady state brings back.
    pub async fn use_backends(&mut self, backends: Backends) -> anyhow::Result<()> {
        if self.backends == backends {
            return Ok(());
        }
        self.backends = backends;
        for ws in ["ws2", "ws1"] {
            let t = now_us();
            self.procs.stop(ws).await?;
            self.spawn_role(ws).await?;
            wait_for(
                &self.procs.log(ws),
                t,
                Duration::from_secs(10),
                "listening",
                |l| matches!(l.event, Event::Listening(_)),
            )
            .await
            .with_context(|| format!("{ws} did not start again (see its .stderr)"))?;
        }
        Ok(())
    }

    /// The namespace lab's network, for the scenarios that need it.
    pub fn net(&self) -> anyhow::Result<&Net> {
        self.net
            .as_ref()
            .context("blackhole and drop need the namespace lab (--netns)")
    }

    /// Lets the effect of a step settle before the next.
    pub async fn settle(&self) {
        tokio::time::sleep(Self::SETTLE).await;
    }

    /// Waits (5 s at most) for the watcher to move the VIP to `to`, at or after
    /// `since_us`.
    pub async fn wait_move(&self, since_us: u64, to: &str) -> anyhow::Result<()> {
        let vip = self.layout.vip_prefix;
        wait_for(
            &self.watcher_log(),
            since_us,
            Duration::from_secs(5),
            &format!("move to {to}"),
            |v| is_move(v, vip, to),
        )
        .await
        .map(|_| ())
    }

    /// Waits for the failover of a failure injected at `ev`: the watcher's move to
    /// ws2 (5 s at most), then the route programmed to ws2 (5 s at most, plus the
    /// cloud profile's slack), then every extra VIP's ([`Lab::wait_all_programmed`]).
    /// The scenario keeps its failure in place until then, so that `failover` is the
    /// real figure under a route server whose programming takes seconds, not an
    /// outage that ended because ws1 came back first.
    pub async fn wait_failover(&self, ev: u64) -> anyhow::Result<()> {
        self.wait_move(ev, "ws2").await?;
        if self.layout.forward {
            // The route stays on the watcher: the move is in the watcher's kernel.
            return self.wait_forwarded(ev).await;
        }
        self.wait_programmed(ev, self.layout.ws2, Duration::from_secs(5) + self.slack())
            .await?;
        self.wait_all_programmed(ev, self.layout.ws2).await
    }

    /// Forwarding mode: waits (5 s at most) for the primary watcher to have changed
    /// its forwarding routes at or after `since_us`.
    async fn wait_forwarded(&self, since_us: u64) -> anyhow::Result<()> {
        wait_for(
            &self.watcher_log(),
            since_us,
            Duration::from_secs(5),
            "forwarded",
            |l| matches!(l.event, Event::Forwarded(_)),
        )
        .await
        .map(|_| ())
    }

    /// Waits for the failback to ws1 after ws1 was back at `back_us`: at most the
    /// hold, plus 6 s, plus the cloud profile's slack; then for every extra VIP's
    /// route on ws1.
    pub async fn wait_failback(&self, back_us: u64) -> anyhow::Result<()> {
        let vip = self.layout.vip_prefix;
        let within = self.hold + Duration::from_secs(6) + self.slack();
        let m = wait_for(
            &self.watcher_log(),
            back_us,
            within,
            "failback to ws1",
            |v| is_move(v, vip, "ws1"),
        )
        .await?;
        if self.layout.forward {
            return self.wait_forwarded(m.ts_us).await;
        }
        // Until the route is back on ws1, so that the failback is the real figure
        // under a route server whose programming takes seconds.
        self.wait_programmed(
            m.ts_us,
            self.layout.ws1,
            Duration::from_secs(5) + self.slack(),
        )
        .await?;
        // Each VIP's checkers decide on their own: some fail back before the seed's.
        self.wait_all_programmed(back_us, self.layout.ws1).await
    }

    /// Under the cloud profile, waits until the VIP's route is programmed to its
    /// steady next hop (ws1; the primary watcher in forwarding mode) and last changed
    /// at least the profile's interval ago (one change per route per 30 s): a trial
    /// that began sooner would time that rule, or a change still queued behind it
    /// (the route server's RIB back on the steady route, its programming not yet),
    /// not the failover. Bounded: two intervals and the slack.
    async fn wait_route_ready(&self) {
        if self.layout.profile != Profile::Azure {
            return;
        }
        let vip = self.layout.vip_prefix;
        let home = if self.layout.forward {
            self.layout.watcher
        } else {
            self.layout.ws1
        };
        let interval = hopwatch_route_server::program::AZURE_MIN_INTERVAL;
        let interval_us = u64::try_from(interval.as_micros()).unwrap_or(u64::MAX);
        // The profile's longest programming delay (5.6 s) and a margin: a change the
        // RIB made less than this ago may still be on its way to the data plane.
        let in_flight_us = hopwatch_route_server::program::MEASURED_DELAYS_MS
            .iter()
            .max()
            .map_or(6_000_000, |ms| ms * 1000 + 500_000);
        let deadline = tokio::time::Instant::now() + 2 * interval + self.slack();
        loop {
            let Some(last) = self.last_programmed() else {
                return;
            };
            // The route server's RIB last changed (a route received, a session up
            // or down).
            let rib_us = events(&self.rs_log())
                .iter()
                .filter(|l| match &l.event {
                    Event::Update(u) => u.prefix == vip,
                    Event::Down(_) | Event::Established(_) => true,
                    _ => false,
                })
                .map(|l| l.ts_us)
                .max()
                .unwrap_or(0);
            let now = now_us();
            if is_programmed_only(&last, vip, home)
                && now >= last.ts_us + interval_us + 500_000
                && now >= rib_us + in_flight_us
            {
                return;
            }
            if tokio::time::Instant::now() >= deadline {
                eprintln!(
                    "hopwatch lab: the VIP's route was not programmed back to {home} within \
                     {:?}; the next trial starts anyway",
                    2 * interval + self.slack()
                );
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
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
        let listening: fn(&Line) -> bool = |l| matches!(l.event, Event::Listening(_));
        let started: fn(&Line) -> bool = |l| matches!(l.event, Event::Started(_));
        let mut ready = vec![
            ("ws1", self.procs.log("ws1"), "listening", listening),
            ("ws2", self.procs.log("ws2"), "listening", listening),
        ];
        if matches!(self.route_server, RouteServerProcs::Hopwatch) {
            ready.insert(0, ("route-server", self.rs_log(), "started", started));
        }
        if self.layout.forward {
            self.start_forwarding_backends(t0).await?;
        }
        for (name, log, ev, is_ready) in ready {
            wait_for(&log, t0, Duration::from_secs(10), ev, is_ready)
                .await
                .with_context(|| format!("{name} did not start (see its .stderr)"))?;
        }
        self.spawn_role("watcher").await?;
        self.spawn_role("standby").await?;
        self.spawn_role("observer").await?;
        if let Err(e) = self
            .wait_vip_on("ws1", Duration::from_secs(15) + self.slack())
            .await
        {
            let why = self.exit_note("watcher");
            return Err(e.context(format!("traffic never flowed through the VIP{why}")));
        }
        self.wait_all_on(self.layout.ws1, Duration::from_secs(15) + self.slack())
            .await
    }

    /// `: <role> exited: <the end of its stderr>` when the role has exited (a
    /// watcher refusing its config says why there), else nothing.
    fn exit_note(&mut self, role: &str) -> String {
        if !self.procs.exited(role) {
            return String::new();
        }
        let err = std::fs::read_to_string(self.procs.dir().join(format!("{role}.stderr")))
            .unwrap_or_default();
        let lines: Vec<&str> = err.lines().collect();
        format!(
            ": {role} exited: {}",
            lines[lines.len().saturating_sub(5)..].join(" / ")
        )
    }

    /// `--vips`: waits (polling every 50 ms) until every VIP's route was programmed
    /// to `next_hop` alone at or after `since_us`: at most 5 s, the cloud profile's
    /// slack and [`Lab::vips_allowance`]. Nothing to wait for with one VIP.
    pub async fn wait_all_programmed(&self, since_us: u64, next_hop: &str) -> anyhow::Result<()> {
        if self.layout.extra_vips.is_empty() {
            return Ok(());
        }
        let within = Duration::from_secs(5) + self.slack() + self.vips_allowance();
        let vips = self.layout.vips();
        let set: BTreeSet<&str> = vips.iter().map(String::as_str).collect();
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let got = vips::reached(&self.programmed_all(), &set, next_hop, since_us, u64::MAX);
            if got.len() == set.len() {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                bail!(
                    "lab: {} of the {} VIPs' routes were programmed to {next_hop} within \
                     {within:?}",
                    got.len(),
                    set.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `--vips`: waits (polling every 50 ms, at most `within` and
    /// [`Lab::vips_allowance`]) until every VIP's route is programmed to `next_hop`
    /// alone now. Nothing to wait for with one VIP.
    async fn wait_all_on(&self, next_hop: &str, within: Duration) -> anyhow::Result<()> {
        if self.layout.extra_vips.is_empty() {
            return Ok(());
        }
        let within = within + self.vips_allowance();
        let vips = self.layout.vips();
        let set: BTreeSet<&str> = vips.iter().map(String::as_str).collect();
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let on = vips::on_only(&self.programmed_all(), &set, next_hop);
            if on == set.len() {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                bail!(
                    "lab: {on} of the {} VIPs' routes are programmed to {next_hop} after \
                     {within:?}",
                    set.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Forwarding mode: `hopwatch backend` on ws1 and ws2, ready before any watcher
    /// forwards to them.
    async fn start_forwarding_backends(&mut self, since_us: u64) -> anyhow::Result<()> {
        for role in ["fwd-ws1", "fwd-ws2"] {
            if self.procs.exited(role) {
                self.procs.kill(role).await.ok();
            }
            self.spawn_role(role).await?;
            wait_for(
                &self.procs.log(role),
                since_us,
                Duration::from_secs(10),
                "backend_ready",
                |l| matches!(l.event, Event::BackendReady(_)),
            )
            .await
            .with_context(|| format!("{role} did not set the backend up (see its .stderr)"))?;
        }
        Ok(())
    }

    /// The VIP's route's last programming, if ever.
    fn last_programmed(&self) -> Option<Line> {
        let vip = self.layout.vip_prefix;
        self.programmed_events()
            .into_iter()
            .filter(|l| matches!(&l.event, Event::Programmed(p) if p.prefix == vip))
            .max_by_key(|l| l.ts_us)
    }

    /// When the VIP's route was last programmed, if ever.
    pub fn last_programmed_us(&self) -> Option<u64> {
        self.last_programmed().map(|l| l.ts_us)
    }

    /// Waits (polling every 10 ms, at most `within`) until the VIP's route is
    /// programmed to `next_hop` alone, at or after `since_us`.
    pub async fn wait_programmed(
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
                .any(|l| l.ts_us >= since_us && is_programmed_only(l, vip, next_hop))
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

    /// The client address the backend saw on one GET through the VIP from the load
    /// injector's place (`hopwatch web`'s `client`): lt1's own address when the path
    /// preserves it.
    pub async fn client_seen(&self) -> anyhow::Result<String> {
        let (vip, port) = (self.layout.vip, self.layout.http_port);
        in_ns(self.layout.ns_of("load"), "lab-probe", move || {
            get_field(vip, port, "client")
        })
        .await?
    }

    /// `hopwatch ctl ARGS` to both watchers of the pair, the primary first.
    pub async fn ctl_both(&self, args: &[&str]) -> anyhow::Result<()> {
        for w in Watcher::BOTH {
            self.ctl(w.process(), self.api_of(w), args).await?;
        }
        Ok(())
    }

    /// `hopwatch ctl --api API ARGS` in the namespace of the API's owner.
    pub async fn ctl(&self, owner: &str, api: &str, args: &[&str]) -> anyhow::Result<String> {
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
    pub async fn steady(&mut self) -> anyhow::Result<()> {
        if let Some(net) = &self.net {
            net.ws1_link(true)?;
            net.watch1_link(true)?;
            if net.ws1_drop_present() {
                net.ws1_drop(self.layout.http_port, false)?;
            }
            if net.standby_cut_present() {
                net.standby_cut_from_ws1(false)?;
            }
        }
        if std::mem::take(&mut self.disagreeing) {
            let api = self.layout.standby_api;
            let _ = self.ctl("standby", api, &["undrain", "ws1"]).await;
        }
        if self.layout.forward && ["fwd-ws1", "fwd-ws2"].iter().any(|r| self.procs.exited(r)) {
            self.start_forwarding_backends(now_us()).await?;
        }
        if self.procs.exited("ws1") {
            self.procs.kill("ws1").await.ok();
            self.spawn_role("ws1").await?;
        } else {
            self.procs.signal("ws1", "CONT").ok();
        }
        for w in Watcher::BOTH {
            let name = w.process();
            if self.procs.exited(name) {
                self.procs.kill(name).await.ok();
                self.spawn_role(name).await?;
            } else {
                // A trial that ended while it was frozen.
                self.procs.signal(name, "CONT").ok();
            }
        }
        if matches!(self.route_server, RouteServerProcs::Hopwatch) {
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
            if matches!(self.route_server, RouteServerProcs::Frr(_))
                && self.procs.exited("frr-zebra")
            {
                bail!("FRR's zebra has exited (see frr-zebra.stderr)");
            }
        }
        if self.get_backend().await.ok().as_deref() != Some("ws1") {
            let _ = self.ctl_both(&["undrain", "ws1"]).await;
        }
        self.wait_vip_on("ws1", self.hold + Duration::from_secs(8) + self.slack())
            .await?;
        self.wait_route_ready().await;
        self.wait_all_on(self.layout.ws1, Duration::from_secs(5) + self.slack())
            .await
    }

    /// The process of instance `i` (0 or 1) of FRR or BIRD.
    pub fn instance_role(&self, i: usize) -> String {
        match self.route_server {
            RouteServerProcs::Bird(_) => bird::role(i),
            _ => bgpd_role(i),
        }
    }

    /// Starts instance `i` (0 or 1) of FRR or BIRD again.
    pub async fn start_instance(&mut self, i: usize) -> anyhow::Result<()> {
        match &self.route_server {
            RouteServerProcs::Frr(frr) => frr.start_bgpd(&mut self.procs, i).await,
            RouteServerProcs::Bird(b) => b.start_instance(&mut self.procs, i).await,
            RouteServerProcs::Hopwatch => {
                bail!("lab: hopwatch's route server restarts its instances through its API")
            }
        }
    }
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
    get_field(vip, port, "hostname").await
}

/// One GET to `vip:port`: the answer's string `field`.
async fn get_field(vip: &str, port: u16, field: &'static str) -> anyhow::Result<String> {
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
    hopwatch_load::injector::backend_of(body, field)
        .with_context(|| format!("no {field} in the answer"))
}
