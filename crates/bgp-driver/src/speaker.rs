//! The [`Speaker`]: a set of peers, the routes announced to all of them, and the
//! sockets that accept the peers' connections.
//!
//! A change to the routes is applied once to the shared [`RibOut`] and sent to
//! every peer task as one batch; each peer packs the batch ([`crate::pack`]): the
//! routes that share their attributes ride in one UPDATE (as many messages as their
//! size needs). A next-hop move is therefore an UPDATE that replaces the route,
//! never a withdraw followed by an announce, and a thousand VIPs moving to one next
//! hop together are two messages per peer, not a thousand.
//!
//! Accepted connections pass [`crate::listen`]'s limits before any peer sees them;
//! an address that is not a configured peer gets Cease / Connection Rejected.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hopwatch_bgp::session::SessionConfig;
use hopwatch_bgp::{Notification, Prefix};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::event::{DriverEvent, EventKind, now_us};
use crate::listen::{self, ListenLimits, Pending};
use crate::peer::{PeerCmd, PeerConfig, PeerTask, StopHow};
use crate::rib_out::{Change, RibOut, Route};

struct PeerHandle {
    tx: mpsc::UnboundedSender<PeerCmd>,
    task: JoinHandle<()>,
}

/// Accept connections from addresses that are not configured peers, making a
/// passive peer for each (what an observer does).
#[derive(Debug, Clone)]
pub struct DynamicPeers {
    /// The session settings for such peers (`peer_as: None` accepts any AS).
    pub template: SessionConfig,
}

/// A BGP speaker: peers, the routes we announce, and listeners.
#[derive(Clone)]
pub struct Speaker {
    inner: Arc<Inner>,
}

struct Inner {
    peers: Mutex<HashMap<IpAddr, PeerHandle>>,
    rib: Arc<Mutex<RibOut>>,
    events: mpsc::UnboundedSender<DriverEvent>,
    dynamic: Option<DynamicPeers>,
    /// Accepted connections waiting for their OPEN, and what they may number.
    pending: Arc<Mutex<Pending>>,
    limits: Mutex<ListenLimits>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned lock means a panic elsewhere; the data is still consistent
    // because every critical section here is a single insert, remove or read.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Speaker {
    /// A speaker that reports on `events`; `dynamic` makes it accept unknown peers.
    pub fn new(events: mpsc::UnboundedSender<DriverEvent>, dynamic: Option<DynamicPeers>) -> Self {
        Speaker {
            inner: Arc::new(Inner {
                peers: Mutex::new(HashMap::new()),
                rib: Arc::new(Mutex::new(RibOut::default())),
                events,
                dynamic,
                pending: Arc::new(Mutex::new(Pending::default())),
                limits: Mutex::new(ListenLimits::default()),
            }),
        }
    }

    /// Sets the bounds on accepted connections that have not sent their OPEN yet
    /// (the defaults suit a route server; see [`crate::listen`]).
    pub fn set_listen_limits(&self, limits: ListenLimits) {
        *lock(&self.inner.limits) = limits;
    }

    /// Adds a peer and starts its task (which connects out unless passive).
    pub fn add_peer(&self, cfg: PeerConfig) {
        let (tx, rx) = mpsc::unbounded_channel();
        let address = cfg.address;
        let task = PeerTask::new(
            cfg,
            self.inner.rib.clone(),
            self.inner.events.clone(),
            rx,
            tx.clone(),
        );
        let task = tokio::spawn(task.run());
        lock(&self.inner.peers).insert(address, PeerHandle { tx, task });
    }

    /// Sends UPDATEs to one peer only (if Established), then End-of-RIB when
    /// `end_of_rib`. For a route server, whose advertisements differ per peer; use it
    /// with [`Speaker::hold_routes`] so the shared table never goes out by itself.
    pub fn send_to(&self, peer: IpAddr, updates: Vec<hopwatch_bgp::Update>, end_of_rib: bool) {
        if let Some(h) = lock(&self.inner.peers).get(&peer) {
            let _ = h.tx.send(PeerCmd::SendUpdates {
                updates,
                end_of_rib,
            });
        }
    }

    /// Resets one peer's session with `notification`; it starts again by itself.
    pub fn reset_peer(&self, peer: IpAddr, notification: Notification) {
        if let Some(h) = lock(&self.inner.peers).get(&peer) {
            let _ = h.tx.send(PeerCmd::Reset(notification));
        }
    }

    /// Stops a peer with Cease / Peer De-configured and forgets it.
    pub fn remove_peer(&self, address: IpAddr) {
        if let Some(h) = lock(&self.inner.peers).remove(&address) {
            let n = Notification::bare(hopwatch_bgp::ErrorCode::Cease(
                hopwatch_bgp::notification::Cease::PeerDeconfigured,
            ));
            let _ = h.tx.send(PeerCmd::Stop(StopHow::Notify(n)));
        }
    }

    /// Listens on `addr` and hands each connection to the peer with the remote
    /// address, refusing unknown ones (unless dynamic peers are on) and any past
    /// the [`ListenLimits`].
    pub async fn listen(&self, addr: SocketAddr) -> io::Result<JoinHandle<()>> {
        let listener = TcpListener::bind(addr).await?;
        let this = self.clone();
        Ok(tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, remote)) => this.incoming(stream, remote),
                    Err(e) => {
                        tracing::warn!("accept on {addr}: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        }))
    }

    fn incoming(&self, stream: tokio::net::TcpStream, remote: SocketAddr) {
        // An IPv4 peer reaching an IPv6 socket shows up as ::ffff:a.b.c.d.
        let ip = match remote.ip() {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
            v4 => v4,
        };
        let limits = *lock(&self.inner.limits);
        let slot = match listen::admit(&self.inner.pending, &limits, ip) {
            Ok(slot) => slot,
            Err(_) => return listen::refuse_now(stream),
        };
        let mut peers = lock(&self.inner.peers);
        peers.retain(|_, h| !h.task.is_finished());
        if let Some(h) = peers.get(&ip) {
            let _ = h.tx.send(PeerCmd::Incoming { stream, slot });
            return;
        }
        drop(peers);
        match &self.inner.dynamic {
            Some(d) => {
                let mut session = d.template.clone();
                session.passive = true;
                self.add_peer(PeerConfig {
                    address: ip,
                    port: remote.port(),
                    local_address: None,
                    session,
                    dynamic: true,
                });
                if let Some(h) = lock(&self.inner.peers).get(&ip) {
                    let _ = h.tx.send(PeerCmd::Incoming { stream, slot });
                }
            }
            None => {
                // Not a configured peer: Cease / Connection Rejected (RFC 4486 3),
                // before any OPEN of ours, then close.
                let _ = self.inner.events.send(DriverEvent {
                    ts_us: now_us(),
                    peer: ip,
                    kind: EventKind::ConnectionError(
                        "connection from an unconfigured peer refused with Cease / \
                         Connection Rejected"
                            .into(),
                    ),
                });
                tokio::spawn(listen::reject(stream, slot));
            }
        }
    }

    /// Applies route changes and sends them to every established peer as one batch,
    /// packed ([`crate::pack::changes`]). Returns false when nothing changed.
    pub fn apply(&self, changes: Vec<Change>) -> bool {
        let batch = lock(&self.inner.rib).apply(changes);
        let Some(batch) = batch else { return false };
        for h in lock(&self.inner.peers).values() {
            let _ = h.tx.send(PeerCmd::Changes(batch.clone()));
        }
        true
    }

    /// Holds the table and End-of-RIB from peers that come up until
    /// [`Speaker::release_routes`]: for a restarting speaker that must decide its
    /// routes first (RFC 4724 4.1), so that the peers keep their stale copies meanwhile.
    pub fn hold_routes(&self) {
        lock(&self.inner.rib).set_ready(false);
    }

    /// Sends the table and End-of-RIB to every peer that was held.
    pub fn release_routes(&self) {
        lock(&self.inner.rib).set_ready(true);
        for h in lock(&self.inner.peers).values() {
            let _ = h.tx.send(PeerCmd::Ready);
        }
    }

    /// Announces (or replaces) a route.
    pub fn announce(&self, route: Route) -> bool {
        self.apply(vec![Change::Announce(route)])
    }

    /// Withdraws a prefix.
    pub fn withdraw(&self, prefix: Prefix) -> bool {
        self.apply(vec![Change::Withdraw(prefix)])
    }

    /// The routes we announce.
    pub fn routes(&self) -> Vec<Route> {
        lock(&self.inner.rib).snapshot().1
    }

    /// Sends `notification` to every peer, waits (at most `wait`) for the tasks to
    /// write it and end.
    pub async fn shutdown(&self, notification: Notification, wait: Duration) {
        self.stop_all(StopHow::Notify(notification), wait).await;
    }

    /// Closes every session *without* a NOTIFICATION and waits (at most `wait`) for
    /// the tasks to end: a planned restart that every RFC 4724 graceful restart
    /// helper rides out, keeping our routes (see `Session::stop_for_restart`).
    pub async fn close_for_restart(&self, wait: Duration) {
        self.stop_all(StopHow::ForRestart, wait).await;
    }

    /// Stops every session so that every peer drops our routes at once (Cease /
    /// Hard Reset where the N bit was negotiated, Administrative Shutdown
    /// elsewhere), and waits (at most `wait`) for the tasks to end.
    pub async fn stop_for_good(&self, message: &str, wait: Duration) {
        self.stop_all(StopHow::ForGood(message.to_string()), wait)
            .await;
    }

    async fn stop_all(&self, how: StopHow, wait: Duration) {
        let handles: Vec<PeerHandle> = lock(&self.inner.peers).drain().map(|(_, h)| h).collect();
        for h in &handles {
            let _ = h.tx.send(PeerCmd::Stop(how.clone()));
        }
        let all = async {
            for h in handles {
                let _ = h.task.await;
            }
        };
        let _ = tokio::time::timeout(wait, all).await;
    }
}
