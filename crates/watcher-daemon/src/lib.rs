//! `hopwatch run`: the watcher. Health-checks the backends of each VIP and moves
//! the VIP's next hop, with one replacing UPDATE, to every route server.
//!
//! ```text
//!  checkers (one task per distinct check) ──Report──┐
//!  BGP speaker (one task per route server) ──DriverEvent──┤
//!  control API (axum) ──Request──────────────┤──► Watcher loop ──► Engine (pure, per VIP)
//!  SIGHUP / SIGTERM / one sleep ─────────────┘            │ Move
//!                                                         ▼
//!                                   Speaker::apply ──► UPDATEs to every route server
//! ```
//!
//! VIPs that name the same check share one probe stream (`probes`), so a verdict
//! about a backend can move a thousand VIPs at once: those moves leave together, as
//! one batch the speaker packs into as few UPDATEs as fit (`moves`).
//!
//! The loop owns every piece of state, so nothing is locked and every decision is
//! made in the order its inputs arrived. Each decision is printed as a JSON line
//! on stdout (with µs timestamps, for the lab's timelines) and logged for people
//! on stderr.
//!
//! At start the speaker holds its routes and End-of-RIB until every VIP has its
//! first verdict (bounded by `startup_wait`): a restarted watcher must not make the
//! route servers drop the routes they kept for it (graceful restart).
//!
//! `hopwatch run` is this crate's [`run`] with its [`RunArgs`] (the binary keeps the
//! long help beside its other subcommands'). A crate of its own, not a module of
//! `hopwatch-watcher`: that crate is the decision engine, pure and tested with
//! simulated time; this one is its IO (tokio, sockets, axum, syslog, systemd), and
//! what it shares with the route server daemon (stdout, API limits, signals) is
//! `hopwatch-daemon`. Errors are `anyhow`'s: each ends the run with a message for a
//! person, and no caller matches on one.
//!
//! # Layout
//! - `api`, `metrics`: the control API's routes and the Prometheus metrics.
//! - `vip`: a VIP's engine and backends, built from the config, and its status.
//! - `probes`: the probe streams, one per distinct check, and the backends each
//!   one's verdicts go to; `verdicts`: a probe's result taken and handed on.
//! - `moves`: the moves of one turn sent together, then printed and logged.
//! - `received`, `ha`: what the route servers send back (our VIPs printed, the rest
//!   summed up) and the routes seen for `/status`'s `ha`; the AS path of our routes.
//! - `syslog`: RFC 5424 over UDP. `session`: `[bgp]` to session settings.
//! - `forward`: the forwarding mode (`[forward]`): the engines' choices carried out
//!   by `hopwatch-forward`'s kernel forwarding, in a task of its own.
//! - `reload`: SIGHUP.

mod api;
mod forward;
mod ha;
mod metrics;
mod moves;
mod probes;
mod received;
mod reload;
mod session;
mod syslog;
mod verdicts;
mod vip;

use std::collections::{BTreeMap, VecDeque};
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use axum::http::StatusCode;
use hopwatch_bgp::Prefix;
use hopwatch_bgp::session::State as SessionState;
use hopwatch_bgp_driver::{DriverEvent, EventKind, PeerConfig, Speaker, sleep_until};
use hopwatch_config::{self as config, Config};
use hopwatch_daemon::cease::shutdown;
use hopwatch_daemon::json;
use hopwatch_events::process::{Empty, Started};
use hopwatch_events::watcher::{self as ev, ControlAnswer, SessionStatus, ShutdownAnswer};
use hopwatch_events::{Event, Line, now_us};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

use api::{Answer, Op, Reply};
use metrics::{Metrics, PeerLabels, VipLabels};
use session::session_config_from;
use vip::VipRt;

/// Moves kept for `/status`.
const RECENT_MOVES: usize = 50;

/// `hopwatch run` arguments.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The config file (see `hopwatch check`).
    #[arg(short, long, value_name = "FILE")]
    pub config: PathBuf,
}

struct Watcher {
    path: PathBuf,
    config: Config,
    speaker: Speaker,
    vips: Vec<VipRt>,
    /// The probe streams, by report id, and the backends each one serves.
    probes: probes::Probes,
    sessions: BTreeMap<IpAddr, (SessionState, u64)>,
    /// The last `move` lines, newest first, for `/status`.
    recent: VecDeque<Line>,
    metrics: Metrics,
    /// Routes held from the route servers until the first verdicts are in.
    holding: bool,
    /// When each VIP's last move was decided (µs, and the triggering report's µs),
    /// to measure detection to UPDATE.
    pending_update: BTreeMap<Prefix, u64>,
    syslog: Option<syslog::Syslog>,
    /// An engine was called since the main loop last computed the next timeout.
    engines_changed: bool,
    /// When a discounted (stalled) probe was last logged: at most one line a second.
    last_stall_log: Option<std::time::Instant>,
    /// What the route servers send, printed for our VIPs, summed up for the rest.
    received: received::Received,
    /// The VIPs' routes the route servers send, for `/status`'s `ha`.
    seen: ha::Seen,
    /// The forwarding mode's kernel forwarding (`[forward]`), none in next-hop mode.
    forwarding: Option<forward::Forwarding>,
    /// What this turn of the loop decided and sent, to be told once the speaker's
    /// tasks have written it.
    untold: Vec<moves::Untold>,
    /// `[api] token`, as the API reads it; a reload replaces it.
    token: api::Token,
}

/// Runs the watcher until SIGTERM or Ctrl-C.
pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    // Before any probe or session opens a socket: see `nofile`.
    let nofile = hopwatch_daemon::nofile::raise();
    let loaded = config::load(&args.config).map_err(|errors| {
        anyhow!(
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        )
    })?;
    for w in &loaded.warnings {
        tracing::warn!("{w}");
    }
    let config = loaded.config;
    let config_token = config.api.token.clone();
    let (bgp_tx, mut bgp_rx) = mpsc::unbounded_channel();
    let speaker = Speaker::new(bgp_tx, None);
    speaker.hold_routes();
    let (health_tx, mut health_rx) = mpsc::unbounded_channel();
    let mut w = Watcher {
        path: args.config.clone(),
        speaker,
        vips: Vec::new(),
        probes: probes::Probes::new(health_tx),
        sessions: BTreeMap::new(),
        recent: VecDeque::new(),
        metrics: Metrics::new(),
        holding: true,
        pending_update: BTreeMap::new(),
        syslog: None,
        engines_changed: true,
        last_stall_log: None,
        received: received::Received::default(),
        seen: ha::Seen::default(),
        forwarding: None,
        untold: Vec::new(),
        token: api::Token::new(config_token),
        config,
    };
    if let Some(target) = w.config.log.syslog {
        w.syslog = Some(
            syslog::Syslog::new(target, w.config.log.facility.as_deref())
                .with_context(|| format!("syslog to {target}"))?,
        );
    }
    w.build_vips()
        .map_err(|e| anyhow!("{}: {e}", w.path.display()))?;
    w.note_ours();
    tracing::info!(
        "{} VIP(s), {} probe stream(s) (one per distinct check)",
        w.vips.len(),
        w.probes.len()
    );
    // Before any session: the VIP's next hop must never be a watcher that does not
    // forward yet.
    w.forwarding = forward::Forwarding::start(&w.config).await?;
    for rs in &w.config.route_servers {
        w.add_peer(rs);
    }

    let (api_tx, mut api_rx) = mpsc::channel(64);
    let listener = tokio::net::TcpListener::bind(w.config.api.listen)
        .await
        .with_context(|| format!("control API on {}", w.config.api.listen))?;
    let router = api::router(api_tx, w.token.clone());
    // A cap on connections and timeouts, so API clients cannot starve the probes.
    hopwatch_daemon::api_serve::spawn(
        "control API",
        listener,
        router,
        hopwatch_daemon::api_serve::Limits::for_descriptors(nofile),
        w.metrics.api.clone(),
    );
    json::print(&Line::now(Event::Started(Started {
        api: w.config.api.listen,
        config: Some(w.path.display().to_string()),
        asn: None,
        instances: None,
        dataplane: None,
    })));
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
    let watchdog = watchdog_interval();

    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    let mut watchdog_tick = tokio::time::interval(watchdog.unwrap_or(Duration::from_secs(3600)));
    // Polled only while some route server's counts wait to be printed.
    let mut received_tick = tokio::time::interval(received::WINDOW / 4);
    received_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The engines' next timeout, recomputed only when an engine may have changed:
    // this loop turns once per probe report (10,000 a second with 1,000 backends at
    // 100 ms), and a scan of every VIP per report was the watcher's largest cost
    // after the probes themselves.
    let mut deadline = None;
    // A SIGHUP's config read, under way on a thread of its own.
    let mut reading: Option<reload::Reading> = None;
    let stop = loop {
        if std::mem::take(&mut w.engines_changed) {
            deadline = w.vips.iter().filter_map(|v| v.engine.poll_timeout()).min();
        }
        tokio::select! {
            Some(r) = health_rx.recv() => {
                w.on_report(r);
                // Take every report already queued in this turn: the probes of one
                // tick arrive together, and one turn of this loop (polling every
                // branch) per report would cost more than the report itself.
                while let Ok(r) = health_rx.try_recv() {
                    w.on_report(r);
                }
            }
            Some(e) = bgp_rx.recv() => w.on_bgp(&e),
            Some(req) = api_rx.recv() => {
                if let api::Op::Shutdown { withdraw } = req.op {
                    let how = if withdraw { Stop::Decommission } else { Stop::Restart("API") };
                    let stopping = ShutdownAnswer { stopping: how.name().into() };
                    let _ = req.reply.send(Ok(Answer::Json(json::value(&stopping))));
                    break how;
                }
                w.engines_changed = true;
                let reply = w.on_api(req.op);
                let _ = req.reply.send(reply);
            }
            () = sleep_until(deadline) => {
                w.on_timeout();
                w.engines_changed = true;
            }
            _ = hup.recv() => {
                if reading.is_some() {
                    tracing::warn!("SIGHUP: the config is still being read; this one is ignored");
                } else {
                    reading = Some(reload::start_reading(w.path.clone()));
                }
            }
            read = reload::finished(&mut reading) => {
                reading = None;
                w.reload(read);
                w.engines_changed = true;
            }
            _ = watchdog_tick.tick(), if watchdog.is_some() => {
                let _ = sd_notify::notify(&[sd_notify::NotifyState::Watchdog]);
            }
            _ = term.recv() => break Stop::Restart("SIGTERM"),
            _ = received_tick.tick(), if w.received.pending() => {
                w.received.flush_due(Instant::now());
            }
            _ = int.recv() => break Stop::Restart("SIGINT"),
        }
        if w.has_untold() {
            // Lets the speaker's tasks write this turn's UPDATEs before a thousand
            // lines are printed (see `moves`).
            tokio::task::yield_now().await;
            w.tell_untold();
        }
        w.release_when_decided();
    };
    w.tell_untold();
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
    let graceful = w.config.bgp.graceful_restart.is_some();
    json::print(&Line::now(Event::Stopping(ev::Stopping {
        mode: stop.name().into(),
        why: stop.why().into(),
        graceful_restart: graceful,
    })));
    match stop {
        Stop::Restart(_) if graceful => {
            // No NOTIFICATION: see `Stop`.
            w.speaker.close_for_restart(Duration::from_secs(2)).await;
        }
        Stop::Restart(_) => shutdown(&w.speaker, "hopwatch watcher stopping").await,
        Stop::Decommission => w.decommission(&mut bgp_rx).await,
    }
    while let Ok(e) = bgp_rx.try_recv() {
        w.on_bgp(&e);
    }
    if let Some(f) = w.forwarding.take() {
        f.stop(matches!(stop, Stop::Decommission)).await;
    }
    w.received.flush_all();
    Ok(())
}

/// How the watcher stops.
///
/// A restart (SIGTERM, as `systemctl restart` and package upgrades send, SIGINT, or
/// `ctl shutdown`) must keep the VIP on every route server until the watcher is
/// back. With graceful restart configured, the sessions are closed *without* a
/// NOTIFICATION: RFC 4724 section 4.2 has every helper keep our routes (stale) for
/// the restart time when the TCP session ends that way, whereas any NOTIFICATION,
/// even a Cease carrying RFC 8538's N bit, makes a helper that does not implement
/// RFC 8538 drop them at once (one widely used daemon did, in a test; whether Azure
/// Route Server implements RFC 8538 is not documented). Without graceful restart
/// nothing keeps the routes anyway, and a Cease tells the route server why.
///
/// Decommissioning (`ctl shutdown --withdraw`) is the explicit opposite: every VIP is
/// withdrawn, then the sessions end with Cease / Hard Reset (Administrative Shutdown
/// to peers without the N bit), so route servers drop the VIPs at once.
#[derive(Debug, Clone, Copy)]
enum Stop {
    /// Keep the VIPs on the route servers: the watcher comes back. Why.
    Restart(&'static str),
    /// Withdraw the VIPs and end for good.
    Decommission,
}

impl Stop {
    fn name(self) -> &'static str {
        match self {
            Stop::Restart(_) => "restart",
            Stop::Decommission => "decommission",
        }
    }

    fn why(self) -> &'static str {
        match self {
            Stop::Restart(why) => why,
            Stop::Decommission => "API",
        }
    }
}

/// How long decommissioning waits for the withdrawals to be written.
const WITHDRAW_WAIT: Duration = Duration::from_secs(2);

/// A latency in µs; saturates (a probe does not last 584,000 years).
fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Half the watchdog period systemd asks for, if it asks.
fn watchdog_interval() -> Option<Duration> {
    sd_notify::watchdog_enabled().map(|d| d / 2)
}

impl Watcher {
    fn add_peer(&self, rs: &config::RouteServer) {
        let b = &self.config.bgp;
        self.speaker.add_peer(PeerConfig {
            address: rs.address,
            port: rs.port.unwrap_or(b.port),
            local_address: b.local_address,
            session: session_config_from(b, rs.peer_as),
            dynamic: false,
        });
    }

    /// Builds every VIP's engine and probes from the config.
    fn build_vips(&mut self) -> Result<(), String> {
        let now = Instant::now();
        self.vips.clear();
        for v in 0..self.config.vips.len() {
            let vip = self.build_vip(v, now)?;
            self.vips.push(vip);
        }
        self.probes.assign(&self.vips);
        Ok(())
    }

    /// Builds VIP `v` of the config; the caller assigns the probes' users once
    /// every VIP is in place.
    fn build_vip(&mut self, v: usize, now: Instant) -> Result<VipRt, String> {
        let cv = &self.config.vips[v];
        let rt = vip::build(&self.config, cv, &mut self.probes, &self.metrics, now)?;
        for be in &rt.backends {
            self.metrics.backend_up.get_or_create(&be.labels).set(-1);
        }
        Ok(rt)
    }

    fn on_timeout(&mut self) {
        let now = Instant::now();
        let moves: Vec<_> = (0..self.vips.len())
            .filter_map(|v| Some((v, self.vips[v].engine.handle_timeout(now)?)))
            .collect();
        self.carry_out(moves, None);
    }

    /// Hands the engines' current choices and verdicts to the forwarder (forwarding
    /// mode; it ignores a state it already carries out).
    fn sync_forwarding(&self) {
        if let Some(f) = &self.forwarding {
            f.update(forward::states(&self.vips));
        }
    }

    /// Sends the held routes and End-of-RIB once every VIP has decided.
    fn release_when_decided(&mut self) {
        if self.holding && self.vips.iter().all(|v| !v.engine.status().starting) {
            self.holding = false;
            self.speaker.release_routes();
            json::print(&Line::now(Event::RoutesReleased(Empty {})));
        }
    }

    /// Withdraws every VIP, waits (at most [`WITHDRAW_WAIT`]) until each
    /// established session has written the withdrawal, then ends the sessions so that
    /// every route server drops the VIPs at once.
    async fn decommission(&mut self, bgp_rx: &mut mpsc::UnboundedReceiver<DriverEvent>) {
        let prefixes: Vec<_> = self.vips.iter().map(|v| v.prefix).collect();
        let mut waiting: std::collections::BTreeSet<IpAddr> = self
            .sessions
            .iter()
            .filter(|(_, (state, _))| *state == SessionState::Established)
            .map(|(peer, _)| *peer)
            .collect();
        for &p in &prefixes {
            self.speaker.withdraw(p);
        }
        let deadline = tokio::time::Instant::now() + WITHDRAW_WAIT;
        while !waiting.is_empty() {
            match tokio::time::timeout_at(deadline, bgp_rx.recv()).await {
                Ok(Some(e)) => {
                    if let EventKind::UpdateSent { withdraw, .. } = &e.kind
                        && prefixes.iter().any(|p| withdraw.contains(p))
                    {
                        waiting.remove(&e.peer);
                    }
                    if matches!(e.kind, EventKind::Down(_)) {
                        waiting.remove(&e.peer);
                    }
                    self.on_bgp(&e);
                }
                Ok(None) | Err(_) => break,
            }
        }
        if !waiting.is_empty() {
            tracing::warn!(
                "decommission: no withdrawal written to {waiting:?} within {WITHDRAW_WAIT:?}; \
                 ending the sessions anyway (the Cease drops the routes)"
            );
        }
        self.speaker
            .stop_for_good("hopwatch watcher decommissioned", Duration::from_secs(2))
            .await;
    }

    /// Tells what reads the route servers' routes which VIPs are ours (at start
    /// and after a reload); each VIP's foreign-route gauge starts at 0.
    fn note_ours(&mut self) {
        let ours = || self.vips.iter().map(|v| v.prefix);
        self.received.set_ours(ours());
        self.seen.set_ours(ours());
        for v in &self.vips {
            let labels = VipLabels {
                vip: v.prefix.to_string(),
            };
            // Created at 0 if new; a kept VIP keeps its count.
            let _ = self.metrics.foreign_vip_routes.get_or_create(&labels);
        }
    }

    fn on_bgp(&mut self, e: &DriverEvent) {
        // Routes that are not our VIPs are counted, not printed one by one.
        self.received.event(e, Instant::now());
        if matches!(
            e.kind,
            EventKind::UpdateReceived { .. } | EventKind::Down(_)
        ) {
            let (found, touched) = self.seen.event(e, &self.config);
            for f in found {
                tracing::warn!(
                    "route server {}: a route for our VIP {} via {} (AS path {}) is not \
                     ours: {}; it takes part of the VIP's traffic",
                    f.peer,
                    f.vip,
                    f.next_hop,
                    f.as_path,
                    f.why
                );
                json::print(&Line::now(Event::ForeignVipRoute(ev::ForeignVipRoute {
                    peer: f.peer,
                    vip: f.vip.to_string(),
                    next_hop: f.next_hop,
                    as_path: f.as_path,
                    reason: f.why,
                })));
            }
            for vip in touched {
                let n = self.seen.foreign_count(&self.config, vip);
                self.metrics
                    .foreign_vip_routes
                    .get_or_create(&VipLabels {
                        vip: vip.to_string(),
                    })
                    .set(i64::try_from(n).unwrap_or(i64::MAX));
            }
        }
        match &e.kind {
            EventKind::State { to, .. } => {
                self.sessions.insert(e.peer, (*to, e.ts_us));
                let up = i64::from(*to == SessionState::Established);
                self.metrics
                    .session_established
                    .get_or_create(&PeerLabels {
                        peer: e.peer.to_string(),
                    })
                    .set(up);
                if *to == SessionState::Established || *to == SessionState::Idle {
                    tracing::info!("route server {}: {to:?}", e.peer);
                }
            }
            EventKind::UpdateSent { announce, withdraw } => {
                let prefixes = announce
                    .iter()
                    .map(|(p, _)| *p)
                    .chain(withdraw.iter().copied());
                for p in prefixes {
                    if let Some(t) = self.pending_update.get(&p) {
                        let secs = e.ts_us.saturating_sub(*t) as f64 / 1e6;
                        self.metrics
                            .detection_to_update
                            .get_or_create(&VipLabels { vip: p.to_string() })
                            .observe(secs);
                    }
                }
            }
            EventKind::Down(reason) => {
                let text = format!("route server {}: session down: {reason}", e.peer);
                tracing::warn!("{text}");
                if let Some(s) = &self.syslog {
                    s.send(syslog::Severity::Error, "bgp", &text);
                }
            }
            _ => {}
        }
    }

    fn find(
        &self,
        vip: Option<&str>,
        backend: Option<&str>,
    ) -> Result<(usize, Option<usize>), (StatusCode, String)> {
        let v = match vip {
            None if self.vips.len() == 1 => 0,
            None => {
                return Err((
                    StatusCode::BAD_REQUEST,
                    "several VIPs: say which with \"vip\"".into(),
                ));
            }
            Some(p) => {
                let prefix: Prefix = p
                    .parse()
                    .map_err(|e: String| (StatusCode::BAD_REQUEST, e))?;
                self.vips
                    .iter()
                    .position(|v| v.prefix == prefix)
                    .ok_or((StatusCode::NOT_FOUND, format!("no VIP {prefix}")))?
            }
        };
        let b = match backend {
            None => None,
            Some(name) => Some(self.vips[v].index_of(name).ok_or((
                StatusCode::NOT_FOUND,
                format!("VIP {} has no backend {name:?}", self.vips[v].prefix),
            ))?),
        };
        Ok((v, b))
    }

    fn on_api(&mut self, op: Op) -> Reply {
        let now = Instant::now();
        let (v, m) = match op {
            Op::Status => return Ok(Answer::Json(json::value(&self.status(now)))),
            Op::Metrics => return Ok(Answer::Text(self.metrics.render())),
            // The run loop stops the watcher before asking here.
            Op::Shutdown { .. } => {
                return Err((StatusCode::CONFLICT, "the watcher is stopping".into()));
            }
            Op::Drain(t) => {
                let (v, b) = self.find(t.vip.as_deref(), Some(&t.backend))?;
                (v, self.vips[v].engine.drain(now, b.unwrap_or(0)))
            }
            Op::Undrain(t) => {
                let (v, b) = self.find(t.vip.as_deref(), Some(&t.backend))?;
                (v, self.vips[v].engine.undrain(now, b.unwrap_or(0)))
            }
            Op::Force { vip, backend } => {
                let (v, b) = self.find(vip.as_deref(), backend.as_deref())?;
                (v, self.vips[v].engine.force(now, b))
            }
        };
        let moved = m.is_some();
        let moves: Vec<_> = m.into_iter().map(|m| (v, m)).collect();
        self.carry_out(moves, None);
        Ok(Answer::Json(json::value(&ControlAnswer {
            moved,
            vip: self.vips[v].status(now, &self.probes),
        })))
    }

    fn status(&self, now: Instant) -> ev::Status {
        let prefixes: Vec<Prefix> = self.vips.iter().map(|v| v.prefix).collect();
        let sessions = self
            .sessions
            .iter()
            .map(|(peer, (state, since))| SessionStatus {
                peer: *peer,
                state: json::session_state(*state),
                since_us: *since,
            })
            .collect();
        ev::Status {
            ts_us: now_us(),
            vips: self
                .vips
                .iter()
                .map(|v| v.status(now, &self.probes))
                .collect(),
            sessions,
            recent_moves: self.recent.iter().cloned().collect(),
            routes_held: self.holding,
            ha: Some(self.seen.status(&self.config, &prefixes)),
        }
    }
}
