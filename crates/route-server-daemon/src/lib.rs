//! `hopwatch route-server`: an Azure Route Server stand-in whose data plane really
//! moves traffic, so the whole system runs, and is measured, on one machine.
//!
//! ```text
//!  instance 10.10.1.4: Speaker ──DriverEvent──┐                 ┌──► Rib (instance 1) ──► poll_updates ──► Speaker::send_to
//!  instance 10.10.1.5: Speaker ──DriverEvent──┼──► loop ────────┤
//!  API requests ──────────────────────────────┘                 └──► best of all instances ──► Programmer (profile)
//!                                                                         │ due
//!                                                                         ▼
//!                                                                DataPlane::program ──► `programmed` line
//! ```
//!
//! Each instance is its own BGP speaker (its own identifier and listen address) with
//! its own RIB, as Azure runs two; they share one data plane, which gets, for each
//! prefix, the union of the instances' best next hops. The RIB (`hopwatch-route-server`)
//! and the programming profile are pure; this loop feeds them and carries out what
//! they decide. It owns every piece of state: nothing is locked.
//!
//! `hopwatch route-server` is this crate's [`run`] with its [`RouteServerArgs`]. A
//! crate of its own, not a module of `hopwatch-route-server`: that crate is pure
//! (no tokio, no sockets, no clock) and the watcher's config and the Azure renderer
//! use it for Azure's rules; this one is its IO (BGP speakers, the data plane,
//! axum), and what it shares with the watcher daemon (stdout, API limits, signals)
//! is `hopwatch-daemon`. Errors are `anyhow`'s: each ends the run with a message for
//! a person, and no caller matches on one.
//!
//! # Layout
//! - [`args`]: the command line.
//! - `api`: the introspection API's routes, answered by this loop.

mod api;
pub mod args;

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use hopwatch_bgp::notification::{Cease, ErrorCode};
use hopwatch_bgp::session::GracefulRestart;
use hopwatch_bgp::{Prefix, RouterId};
use hopwatch_bgp_driver::{DriverEvent, EventKind, PeerConfig, Speaker, sleep_until};
use hopwatch_daemon::cease::shutdown;
use hopwatch_daemon::json;
use hopwatch_daemon::signals::terminated;
use hopwatch_dataplane::{AnyDataPlane, DataPlane, ProxyConfig};
use hopwatch_events::bgp::SessionState;
use hopwatch_events::process::{Empty, Started};
use hopwatch_events::route_server::{self as ev, ProgramCause};
use hopwatch_events::{Event, Line, now_us};
use hopwatch_route_server::program::{Profile, Program, Programmer};
use hopwatch_route_server::rib::{Rib, RibChange, RibConfig};
use serde_json::Value;
use tokio::sync::mpsc;

pub use args::RouteServerArgs;

/// Programming events kept for the API.
const PROGRAM_LOG: usize = 1000;

/// How long peers keep our routes if we restart: we advertise graceful restart so
/// that peers restarting themselves get helper behaviour from us.
const OUR_RESTART_TIME: u16 = 120;

struct Instance {
    addr: IpAddr,
    /// Bumped at each restart: events of an earlier incarnation are ignored.
    generation: u64,
    speaker: Speaker,
    listener: tokio::task::JoinHandle<()>,
    rib: Rib,
    /// Peers whose current session ended with a NOTIFICATION that ends graceful
    /// restart (any, without the RFC 8538 N bit; Hard Reset, with it).
    notified: HashSet<IpAddr>,
    /// Peers that negotiated the N bit.
    n_bit: HashSet<IpAddr>,
    /// Session state per peer, for the API.
    states: BTreeMap<IpAddr, SessionState>,
}

struct Server {
    instances: Vec<Instance>,
    programmer: Programmer,
    plane: AnyDataPlane,
    /// When the UPDATE that last changed each prefix arrived (µs, wall clock).
    /// What last changed each prefix and when (µs, wall clock): the UPDATE's
    /// arrival, the session loss, the End-of-RIB or the stale timer.
    received_us: BTreeMap<Prefix, (u64, ProgramCause)>,
    /// The last `programmed` lines, newest first, for `/programs`.
    log: VecDeque<Line>,
    args: RouteServerArgs,
    events: mpsc::UnboundedSender<Tagged>,
    /// Instances stopped by the API, and when to start them again.
    restarts: Vec<(usize, Instant)>,
    /// The instance whose RIB last changed each prefix.
    last_changed: BTreeMap<Prefix, usize>,
    /// Instances whose peers have UPDATEs to be sent, once the data plane is
    /// programmed.
    exports: BTreeSet<usize>,
}

/// The programs in order, cut into batches whose prefixes are distinct: a prefix's
/// changes stay in order (its next change goes in the next batch), and a batch's
/// routes may be programmed together.
fn distinct_batches(programs: Vec<Program>) -> Vec<Vec<Program>> {
    let mut batches: Vec<Vec<Program>> = Vec::new();
    let mut in_batch = HashSet::new();
    for p in programs {
        if batches.is_empty() || !in_batch.insert(p.prefix) {
            in_batch.clear();
            in_batch.insert(p.prefix);
            batches.push(Vec::new());
        }
        if let Some(last) = batches.last_mut() {
            last.push(p);
        }
    }
    batches
}

/// A driver event with the instance and incarnation it came from.
type Tagged = (usize, u64, DriverEvent);

/// Runs the route server until SIGTERM or Ctrl-C.
pub async fn run(args: RouteServerArgs) -> anyhow::Result<()> {
    // Before any session or proxied flow opens a socket: see `nofile`.
    let nofile = hopwatch_daemon::nofile::raise();
    if args.peers.len() > hopwatch_route_server::rib::MAX_PEERS {
        bail!(
            "{} peers: Azure Route Server accepts at most 8",
            args.peers.len()
        );
    }
    if args.instances.is_empty() {
        bail!("at least one --instance is needed");
    }
    let proxy = ProxyConfig {
        ports: args.vip_ports.clone(),
        ..ProxyConfig::default()
    };
    let plane = AnyDataPlane::new(args.dataplane, proxy)
        .map_err(|e| anyhow!("data plane {}: {e}", args.dataplane))?;
    let mut profile = args.profile.profile(args.seed);
    if let (Some(min), Profile::Azure { min_interval, .. }) = (args.min_interval, &mut profile) {
        *min_interval = (!min.is_zero()).then_some(min);
    }
    let (tx, mut rx) = mpsc::unbounded_channel::<Tagged>();
    let mut instances = Vec::new();
    for (i, &addr) in args.instances.iter().enumerate() {
        instances.push(start_instance(i, 0, addr, &args, &tx).await?);
    }
    let mut server = Server {
        instances,
        programmer: Programmer::new(profile),
        plane,
        received_us: BTreeMap::new(),
        log: VecDeque::new(),
        args: args.clone(),
        events: tx,
        restarts: Vec::new(),
        last_changed: BTreeMap::new(),
        exports: BTreeSet::new(),
    };
    let (api_tx, mut api_rx) = mpsc::channel(32);
    let listener = tokio::net::TcpListener::bind(args.api)
        .await
        .with_context(|| format!("introspection API on {}", args.api))?;
    // The watcher API's limits; no metrics registry here: refusals are logged.
    hopwatch_daemon::api_serve::spawn(
        "route server API",
        listener,
        api::router(api_tx),
        hopwatch_daemon::api_serve::Limits::for_descriptors(nofile),
        hopwatch_daemon::api_serve::ConnMetrics::default(),
    );
    json::print(&Line::now(Event::Started(Started {
        api: args.api,
        config: None,
        asn: Some(args.asn.0),
        instances: Some(args.instances.clone()),
        dataplane: Some(args.dataplane.to_string()),
    })));

    let stop = terminated();
    tokio::pin!(stop);
    loop {
        let deadline = server
            .instances
            .iter()
            .filter_map(|i| i.rib.poll_timeout())
            .chain(server.programmer.poll_timeout())
            .chain(server.restarts.iter().map(|(_, at)| *at))
            .min();
        tokio::select! {
            why = &mut stop => {
                let why = why?;
                tracing::info!("stopping on {why}");
                break;
            }
            Some((i, generation, e)) = rx.recv() => {
                if server.instances.get(i).is_some_and(|inst| inst.generation == generation) {
                    server.on_bgp(i, e);
                }
            }
            Some(req) = api_rx.recv() => {
                let api::Request { op, reply } = req;
                let answer = match op {
                    api::Op::Restart { instance, after } => server.stop_instance(instance, after).await,
                    op => Ok(server.view(op)),
                };
                let _ = reply.send(answer);
            }
            () = sleep_until(deadline) => {
                server.on_timeout();
                server.start_due().await;
            }
        }
        server.program_due().await;
        server.send_exports();
    }
    for inst in &server.instances {
        shutdown(&inst.speaker, "hopwatch route server stopping").await;
    }
    if let Err(e) = server.plane.shutdown().await {
        tracing::error!("data plane shutdown: {e}");
    }
    Ok(())
}

/// Logs the routes newly withheld from `peer` because, with our AS prepended,
/// their UPDATE would exceed 4,096 octets (the RIB sends it nothing, or a
/// withdrawal, instead of a message that would reset its session).
fn log_withheld(inst: &mut Instance, peer: IpAddr) {
    let withheld = inst.rib.drain_withheld(peer);
    if let Some(first) = withheld.first() {
        tracing::warn!(
            "instance {}: {} route(s) not passed on to {peer}: their UPDATE would exceed \
             4096 octets (first: {first})",
            inst.addr,
            withheld.len()
        );
    }
}

async fn start_instance(
    i: usize,
    generation: u64,
    addr: IpAddr,
    args: &RouteServerArgs,
    tx: &mpsc::UnboundedSender<Tagged>,
) -> anyhow::Result<Instance> {
    let router_id = match addr {
        IpAddr::V4(v4) => RouterId::new(v4),
        // An IPv6 instance needs a 4-octet identifier: derive a stable one.
        IpAddr::V6(v6) => RouterId::new(Ipv4Addr::from(u32::from_be_bytes(
            v6.octets()[12..16].try_into().unwrap_or([0, 0, 0, 1]),
        ))),
    }
    .ok_or_else(|| anyhow!("instance {addr}: cannot be a BGP identifier"))?;
    let (etx, mut erx) = mpsc::unbounded_channel();
    let speaker = Speaker::new(etx, None);
    // Advertisements differ per peer (never back to the source): the loop sends them
    // with `send_to`; the shared table of the speaker is never used.
    speaker.hold_routes();
    let mut rib = Rib::new(RibConfig {
        local_as: args.asn,
        route_limit: args.route_limit,
        prepend_local_as: !args.transparent,
    });
    if !args.vnet.is_empty() {
        rib.set_local_prefixes(args.vnet.clone(), addr);
    }
    for &(peer, asn) in &args.peers {
        rib.add_peer(peer, asn, None)
            .map_err(|e| anyhow!("peer {peer}: {e}"))?;
        let mut session = hopwatch_bgp::session::SessionConfig::new(args.asn, router_id, Some(asn));
        session.hold_time = args.hold_time;
        session.graceful_restart = Some(GracefulRestart {
            restart_time: OUR_RESTART_TIME,
            restarting: false,
            forwarding_preserved: true,
            notification: true,
        });
        speaker.add_peer(PeerConfig {
            address: peer,
            port: args.port,
            local_address: Some(addr),
            session,
            dynamic: false,
        });
    }
    let listener = speaker
        .listen(std::net::SocketAddr::new(addr, args.port))
        .await
        .with_context(|| format!("instance {addr}: listening on port {}", args.port))?;
    let tx = tx.clone();
    tokio::spawn(async move {
        while let Some(e) = erx.recv().await {
            if tx.send((i, generation, e)).is_err() {
                return;
            }
        }
    });
    Ok(Instance {
        addr,
        generation,
        speaker,
        listener,
        rib,
        notified: HashSet::new(),
        n_bit: HashSet::new(),
        states: BTreeMap::new(),
    })
}

impl Server {
    fn on_bgp(&mut self, i: usize, e: DriverEvent) {
        // The lines are built and serialised on the writer thread: a packed UPDATE
        // is a line per prefix, and serialising 800 here (about 4 ms in a release
        // build) would hold back the programming of its routes, and the reading of
        // the next UPDATE, that long.
        let instance = self.instances[i].addr;
        let event = e.clone();
        json::print_later(move || {
            let mut lines = json::event_lines(&event);
            for line in &mut lines {
                line.instance = Some(instance);
            }
            lines
        });
        let now = Instant::now();
        let cause = match &e.kind {
            EventKind::UpdateReceived { .. } => ProgramCause::Update,
            EventKind::EndOfRibReceived(_) => ProgramCause::EndOfRib,
            _ => ProgramCause::SessionDown,
        };
        let inst = &mut self.instances[i];
        let peer = e.peer;
        let changes = match e.kind {
            EventKind::State { to, .. } => {
                inst.states.insert(peer, json::session_state(to));
                return;
            }
            EventKind::Established {
                peer_restart_time,
                graceful_notification,
                ..
            } => {
                inst.notified.remove(&peer);
                if graceful_notification {
                    inst.n_bit.insert(peer);
                } else {
                    inst.n_bit.remove(&peer);
                }
                let _ = inst.rib.set_graceful_restart_time(peer, peer_restart_time);
                if inst.rib.peer_up(peer).is_ok() {
                    let updates = inst.rib.table_updates(peer);
                    inst.speaker.send_to(peer, updates, true);
                    log_withheld(inst, peer);
                }
                return;
            }
            EventKind::NotificationSent(n) | EventKind::NotificationReceived(n) => {
                // RFC 8538: with the N bit, only a Hard Reset ends graceful restart.
                let hard = n.code == ErrorCode::Cease(Cease::HardReset);
                if hard || !inst.n_bit.contains(&peer) {
                    inst.notified.insert(peer);
                }
                return;
            }
            EventKind::UpdateReceived { update, .. } => {
                match inst.rib.receive(now, peer, &update) {
                    Ok(r) => {
                        for p in &r.rejected {
                            tracing::info!(
                                "instance {}: {p} from {peer} rejected: AS path holds our AS",
                                inst.addr
                            );
                        }
                        r.changes
                    }
                    Err(n) => {
                        tracing::warn!("instance {}: {peer}: {n}", inst.addr);
                        inst.speaker.reset_peer(peer, n);
                        inst.notified.insert(peer);
                        return;
                    }
                }
            }
            EventKind::EndOfRibReceived(f) => inst.rib.end_of_rib(now, peer, f),
            EventKind::Down(_) => {
                let graceful = !inst.notified.contains(&peer);
                inst.rib.peer_down(now, peer, graceful)
            }
            _ => return,
        };
        for c in &changes {
            self.received_us.insert(c.prefix, (e.ts_us, cause));
        }
        self.after_changes(i, &changes, now);
    }

    fn on_timeout(&mut self) {
        let now = Instant::now();
        for i in 0..self.instances.len() {
            let changes = self.instances[i].rib.handle_timeout(now);
            for c in &changes {
                self.received_us
                    .insert(c.prefix, (now_us(), ProgramCause::StaleTimeout));
            }
            self.after_changes(i, &changes, now);
        }
    }

    /// Hands the data plane the new best of each changed prefix, and notes that
    /// instance `i`'s peers have UPDATEs to be sent ([`Server::send_exports`]).
    fn after_changes(&mut self, i: usize, changes: &[RibChange], now: Instant) {
        if changes.is_empty() {
            return;
        }
        self.exports.insert(i);
        for c in changes {
            self.last_changed.insert(c.prefix, i);
            let merged = self.merged(c.prefix);
            self.programmer.submit(now, c.prefix, merged);
        }
    }

    /// Sends each peer of the instances whose RIB changed its UPDATEs. Called once the
    /// data plane is programmed: the route server's own forwarding comes first, and
    /// the RIB remembers what each peer has not been sent, so a later call sends
    /// every change (packed) however many UPDATEs came in meanwhile.
    fn send_exports(&mut self) {
        for i in std::mem::take(&mut self.exports) {
            let Some(inst) = self.instances.get_mut(i) else {
                continue;
            };
            let peers: Vec<IpAddr> = inst.rib.peers().iter().map(|p| p.addr).collect();
            for peer in peers {
                let updates = inst.rib.poll_updates(peer);
                if !updates.is_empty() {
                    inst.speaker.send_to(peer, updates, false);
                }
                log_withheld(inst, peer);
            }
        }
    }

    /// The best next hops for `prefix` across the instances. The instance that heard
    /// of the prefix last speaks for it: the peers update every instance within a
    /// moment, and merging an instance that is about to change with one that just
    /// did would program a mixed set for that moment (new connections sent to the
    /// old next hop). Without it, the union of the shortest best sets.
    fn merged(&self, prefix: Prefix) -> Option<Vec<IpAddr>> {
        if let Some(best) = self
            .last_changed
            .get(&prefix)
            .and_then(|&i| self.instances.get(i))
            .and_then(|inst| inst.rib.loc_rib().get(&prefix))
        {
            return Some(best.next_hops.clone());
        }
        let bests: Vec<_> = self
            .instances
            .iter()
            .filter_map(|i| i.rib.loc_rib().get(&prefix))
            .collect();
        let len = |b: &&hopwatch_route_server::rib::BestPath| {
            b.paths
                .first()
                .and_then(|p| p.attributes.as_path.as_ref())
                .map_or(0, |a| a.path_len())
        };
        let shortest = bests.iter().map(len).min()?;
        let mut hops: Vec<IpAddr> = bests
            .iter()
            .filter(|b| len(b) == shortest)
            .flat_map(|b| b.next_hops.iter().copied())
            .collect();
        hops.sort_unstable();
        hops.dedup();
        Some(hops)
    }

    /// Carries out every programming that is due, and logs it with both timestamps.
    async fn program_due(&mut self) {
        let now = Instant::now();
        if self.programmer.poll_timeout().is_none_or(|t| t > now) {
            return;
        }
        let mut told = Vec::new();
        for batch in distinct_batches(self.programmer.poll(now)) {
            let routes = batch
                .iter()
                .map(|p| (p.prefix, p.next_hops.clone()))
                .collect();
            // One call for the batch: the kernel plane keeps several netlink requests
            // in flight, so a thousand routes do not wait a round trip each.
            let results = self.plane.apply(routes).await;
            let programmed_us = now_us();
            for (program, result) in batch.into_iter().zip(results) {
                let Program {
                    prefix,
                    next_hops,
                    submitted_at,
                    ..
                } = program;
                let (received_us, cause) = match self.received_us.get(&prefix) {
                    Some((ts, cause)) => (Some(*ts), Some(*cause)),
                    None => (None, None),
                };
                let queued = now.saturating_duration_since(submitted_at);
                let record = Line::at(
                    programmed_us,
                    Event::Programmed(ev::Programmed {
                        prefix: prefix.to_string(),
                        next_hops,
                        received_us,
                        cause,
                        latency_us: received_us.map(|r| programmed_us.saturating_sub(r)),
                        queued_ms: u64::try_from(queued.as_millis()).unwrap_or(u64::MAX),
                        error: result.as_ref().err().map(ToString::to_string),
                    }),
                );
                if let Err(e) = result {
                    tracing::error!("programming {prefix}: {e}");
                }
                told.push(record.clone());
                self.log.push_front(record);
            }
            self.log.truncate(PROGRAM_LOG);
        }
        if !told.is_empty() {
            // Serialised on the writer thread: see `on_bgp`.
            json::print_later(move || told);
        }
    }

    /// Stops an instance as a maintenance of the cloud would: its sessions close with
    /// Cease, its RIB is lost, the data plane keeps what the other instances know;
    /// it starts again `after` later.
    /// An address this route server does not run is a 404.
    async fn stop_instance(&mut self, addr: IpAddr, after: Duration) -> api::Reply {
        let Some(i) = self.instances.iter().position(|inst| inst.addr == addr) else {
            return Err((
                axum::http::StatusCode::NOT_FOUND,
                format!("no instance {addr}"),
            ));
        };
        let inst = &mut self.instances[i];
        inst.listener.abort();
        shutdown(&inst.speaker, "hopwatch route server instance restarting").await;
        let prefixes: Vec<Prefix> = inst.rib.loc_rib().keys().copied().collect();
        let mut rib = Rib::new(inst.rib.config().clone());
        for p in inst.rib.peers() {
            let _ = rib.add_peer(p.addr, p.asn, None);
        }
        let (vnet, nh) = inst.rib.local_prefixes();
        if let Some(nh) = nh {
            rib.set_local_prefixes(vnet, nh);
        }
        inst.rib = rib;
        inst.states.clear();
        inst.generation += 1;
        let now = Instant::now();
        for p in prefixes {
            self.received_us
                .insert(p, (now_us(), ProgramCause::InstanceRestart));
            let merged = self.merged(p);
            self.programmer.submit(now, p, merged);
        }
        self.restarts.push((i, now + after));
        let restart_in_ms = u64::try_from(after.as_millis()).unwrap_or(u64::MAX);
        let mut line = Line::now(Event::InstanceStopped(ev::InstanceStopped {
            restart_in_ms,
        }));
        line.instance = Some(addr);
        json::print(&line);
        Ok(json::value(&ev::RestartAnswer {
            stopped: addr,
            restart_in_ms,
        }))
    }

    /// Starts the instances whose restart time has come.
    async fn start_due(&mut self) {
        let now = Instant::now();
        let due: Vec<usize> = self
            .restarts
            .iter()
            .filter(|(_, at)| *at <= now)
            .map(|(i, _)| *i)
            .collect();
        self.restarts.retain(|(_, at)| *at > now);
        for i in due {
            let addr = self.instances[i].addr;
            let generation = self.instances[i].generation;
            match start_instance(i, generation, addr, &self.args, &self.events).await {
                Ok(inst) => {
                    self.instances[i] = inst;
                    let mut line = Line::now(Event::InstanceStarted(Empty {}));
                    line.instance = Some(addr);
                    json::print(&line);
                }
                Err(e) => {
                    tracing::error!("instance {addr}: restart failed: {e:#}; trying again in 1 s");
                    self.restarts.push((i, now + Duration::from_secs(1)));
                }
            }
        }
    }

    fn view(&self, op: api::Op) -> Value {
        match op {
            api::Op::Peers => json::value(&self.peers()),
            api::Op::Rib => json::value(&self.rib()),
            api::Op::Dataplane => json::value(&self.dataplane()),
            api::Op::Programs => json::value(&self.log),
            api::Op::Restart { .. } => Value::Null,
        }
    }

    /// `/peers`.
    fn peers(&self) -> Vec<ev::InstancePeers> {
        let count = |n: usize| n as u64;
        self.instances
            .iter()
            .map(|i| ev::InstancePeers {
                instance: i.addr,
                peers: i
                    .rib
                    .peers()
                    .iter()
                    .map(|p| ev::PeerStatus {
                        peer: p.addr,
                        asn: p.asn.0,
                        state: i.states.get(&p.addr).copied().unwrap_or(SessionState::Idle),
                        routes: count(p.routes),
                        rejected: count(p.rejected),
                        stale: count(p.stale),
                        withheld: count(p.withheld),
                        route_limit: count(p.route_limit),
                        graceful_restart_time: p.graceful_restart_time,
                    })
                    .collect(),
            })
            .collect()
    }

    /// `/rib`.
    fn rib(&self) -> Vec<ev::InstanceRib> {
        self.instances
            .iter()
            .map(|i| ev::InstanceRib {
                instance: i.addr,
                routes: i
                    .rib
                    .loc_rib()
                    .iter()
                    .map(|(prefix, best)| ev::RibRoute {
                        prefix: prefix.to_string(),
                        next_hops: best.next_hops.clone(),
                        paths: best
                            .paths
                            .iter()
                            .map(|p| ev::RibPath {
                                peer: p.peer,
                                next_hop: p.next_hop,
                                attributes: json::attributes(&p.attributes),
                            })
                            .collect(),
                    })
                    .collect(),
            })
            .collect()
    }

    /// `/dataplane`.
    fn dataplane(&self) -> ev::Dataplane {
        let state = self.plane.describe();
        ev::Dataplane {
            kind: state.kind.to_string(),
            routes: (state.routes.into_iter())
                .map(|(p, nh)| (p.to_string(), nh))
                .collect(),
            connections: (state.connections.into_iter())
                .map(|(p, c)| (p.to_string(), c))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn program(prefix: &str, hop: Option<&str>) -> Program {
        let now = Instant::now();
        Program {
            prefix: prefix.parse().expect("a prefix"),
            next_hops: hop.map(|h| vec![h.parse().expect("an address")]),
            submitted_at: now,
            programmed_at: now,
        }
    }

    #[test]
    fn a_batch_holds_each_prefix_once_and_a_prefix_keeps_its_order() {
        let programs = vec![
            program("100.64.0.1/32", Some("10.10.0.4")),
            program("100.64.0.2/32", Some("10.10.0.4")),
            program("100.64.0.1/32", Some("10.10.0.5")),
            program("100.64.0.3/32", None),
            program("100.64.0.1/32", None),
        ];
        let batches = distinct_batches(programs);
        let shape: Vec<Vec<(String, Option<usize>)>> = batches
            .iter()
            .map(|b| {
                b.iter()
                    .map(|p| (p.prefix.to_string(), p.next_hops.as_ref().map(Vec::len)))
                    .collect()
            })
            .collect();
        assert_eq!(batches.len(), 3, "{shape:?}");
        assert_eq!(batches[0].len(), 2);
        assert_eq!(batches[1].len(), 2);
        assert_eq!(batches[2].len(), 1);
        // 100.64.0.1's three changes, one per batch, in order.
        let first: Vec<_> = batches.iter().map(|b| b[0].next_hops.clone()).collect();
        assert_eq!(
            first,
            vec![
                Some(vec!["10.10.0.4".parse().expect("an address")]),
                Some(vec!["10.10.0.5".parse().expect("an address")]),
                None
            ]
        );
        assert!(distinct_batches(Vec::new()).is_empty());
    }
}
