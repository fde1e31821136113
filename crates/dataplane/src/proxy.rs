//! The `proxy` data plane: a userspace TCP proxy on each VIP, needing no privileges.
//!
//! For every programmed VIP (a /32 or a /128) it listens on `VIP:port` for each
//! configured port and relays each *new* connection to one next hop of the VIP's ECMP
//! set, at the same port. In the loopback lab the VIP is an address such as
//! 127.10.15.15, which Linux treats as local without any setup.
//!
//! ```text
//!  program(vip, hops) ──► Vip { ecmp: RwLock<Arc<Ecmp>>, stop: CancellationToken }
//!                                   │ read (one Arc clone) on every accept
//!  acceptor task, one per port ─────┴─► pick_next_hop(client) ─► relay task
//!                                                                 (holds its hop's token)
//!  a next hop leaves the set ─► (after drain_grace) hop.cancel.cancel() ─► its relays reset the client
//!  remove(vip) ─► stop.cancel() ─► acceptors end (awaited: the port is closed when
//!                                  `remove` returns) and every hop token, a child of
//!                                  `stop`, is cancelled with it
//! ```
//!
//! Design choices, and why:
//! - **Only new connections are balanced.** A TCP connection cannot move between
//!   backends, so an existing one stays where it is until its next hop leaves the set;
//!   after `drain_grace` (1 s by default) it is reset: a client that lost its backend
//!   learns soon, instead of waiting for a backend that the route server no longer
//!   points at, and a planned move (drain, failback) lets requests in flight finish.
//! - **A cancellation token per next hop**, children of the VIP's token: closing every
//!   connection to one next hop, or to the whole VIP, is one call and needs no registry
//!   of tasks. A relay started from a set read just before the change holds the
//!   already-cancelled token and closes at once, so no connection outlives its route.
//! - **An `RwLock<Arc<Ecmp>>`** read once per accepted connection: programming is rare
//!   and accepting is hot, so the hot path takes an uncontended read lock and clones
//!   one `Arc`.
//! - **One task per connection, `copy_bidirectional` with `TCP_NODELAY` on both
//!   sides**: the relay adds no batching delay to small request/response exchanges,
//!   and each direction is read and written by the same task (no second task, no
//!   channel). TCP_NODELAY comes from the listening socket (inherited at accept) and
//!   is set on the backend socket before its SYN, so it costs one `setsockopt` per
//!   connection, not two.
//! - **No timer per connection on the fast path**: see [`connect`].
//! - **What is not here, and why.** Measured on loopback (`perf`, `strace -c` on the
//!   proxy thread, `cargo bench -p hopwatch-dataplane --bench dataplane`), about 90 %
//!   of the proxy's time is in the kernel's TCP stack: per relayed connection it does
//!   one connection's work as a server (`accept`, `recv`, `send`, `shutdown`, `close`)
//!   and one as a client (`socket`, `connect`, `send`, `recv`, `shutdown`, `close`),
//!   which is what the client and the backend do together; per keep-alive request it
//!   does one `recv` and one `send` each way and nothing else (`epoll_wait` is shared
//!   by about seven requests at 16 connections). So `splice(2)` (two syscalls per
//!   direction where `recv` + `send` are two, for payloads of a few hundred bytes),
//!   a lock-free snapshot of the ECMP set (the uncontended read lock is tens of
//!   nanoseconds beside tens of microseconds of syscalls), or more accept threads
//!   (the proxy shares the machine's cores with the client and the backend; it
//!   cannot make the total work smaller) would not change the figures. The proxy's
//!   own CPU per relayed request is about that of the client and the backend
//!   together, so where all three share the cores the proxied request rate of a
//!   saturating benchmark is about half the direct one; only the kernel moving the
//!   bytes itself (the `kernel` plane, or a sockmap redirect, both privileged) does
//!   better.
//! - **No next hop, no service**: a connection that arrives while the set is empty is
//!   reset at once rather than held open.

use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use hopwatch_bgp::Prefix;
use socket2::{Domain, Protocol, SockRef, Socket, Type};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::{DataPlane, Error, Kind, State, canonical, pick_next_hop};

/// How the proxy listens and connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyConfig {
    /// The ports to listen on at each VIP; each connection goes to the same port of
    /// the chosen next hop.
    pub ports: Vec<u16>,
    /// How long connecting to a next hop may take before the client is reset.
    pub connect_timeout: Duration,
    /// The listen backlog of each VIP socket.
    pub backlog: i32,
    /// How long connections to a next hop that left the set may still finish before
    /// they are reset. A planned move (drain, failback) then loses no request in
    /// flight, as a cloud's flow tracking keeps existing flows on their old path;
    /// a dead backend's connections fail by themselves anyway. Zero resets at once.
    pub drain_grace: Duration,
}

impl Default for ProxyConfig {
    /// Port 8080, a 2 s connect timeout, a backlog of 1,024, 1 s of drain grace.
    fn default() -> Self {
        ProxyConfig {
            ports: vec![8080],
            connect_timeout: Duration::from_secs(2),
            backlog: 1024,
            drain_grace: Duration::from_secs(1),
        }
    }
}

/// The userspace TCP proxy data plane.
#[derive(Debug)]
pub struct ProxyPlane {
    config: ProxyConfig,
    vips: BTreeMap<Prefix, Vip>,
    shut_down: bool,
    /// The drain timers of every VIP, started with the first VIP (see [`Reaper`]).
    reaper: Option<Reaper>,
}

/// Where the next hops that left a set wait out the drain grace: one task for the
/// whole plane, not one per next hop that leaves. A thousand VIPs moving at once
/// would otherwise spawn a thousand timer tasks in the middle of programming them
/// (9 ms of the route server's loop in the loopback lab, against 1 ms for the moves
/// themselves). The grace is the same for every hop, so the deadlines come in the
/// order they were sent, and one sleep at a time serves them all.
type Reaper = mpsc::UnboundedSender<(tokio::time::Instant, CancellationToken)>;

/// Starts the reaper task (see [`Reaper`]); it ends when every sender is dropped.
fn spawn_reaper() -> Reaper {
    let (tx, mut rx) = mpsc::unbounded_channel::<(tokio::time::Instant, CancellationToken)>();
    tokio::spawn(async move {
        while let Some((at, token)) = rx.recv().await {
            tokio::select! {
                () = tokio::time::sleep_until(at) => token.cancel(),
                () = token.cancelled() => {}
            }
        }
    });
    tx
}

impl ProxyPlane {
    /// A proxy with no VIP yet.
    pub fn new(config: ProxyConfig) -> Self {
        ProxyPlane {
            config,
            vips: BTreeMap::new(),
            shut_down: false,
            reaper: None,
        }
    }

    /// The configuration it was built with.
    pub fn config(&self) -> &ProxyConfig {
        &self.config
    }
}

impl DataPlane for ProxyPlane {
    fn kind(&self) -> Kind {
        Kind::Proxy
    }

    async fn program(&mut self, prefix: Prefix, next_hops: Vec<IpAddr>) -> Result<(), Error> {
        if self.shut_down {
            return Err(Error::ShutDown);
        }
        let host_len = if prefix.addr().is_ipv4() { 32 } else { 128 };
        if prefix.len() != host_len {
            return Err(Error::NotAHostPrefix { prefix });
        }
        let next_hops = canonical(next_hops);
        tracing::debug!(dataplane = "proxy", %prefix, ?next_hops, "program");
        match self.vips.get_mut(&prefix) {
            Some(vip) => vip.set(next_hops),
            None => {
                let reaper = self.reaper.get_or_insert_with(spawn_reaper).clone();
                let vip = Vip::start(prefix, &self.config, next_hops, reaper)?;
                self.vips.insert(prefix, vip);
            }
        }
        Ok(())
    }

    async fn remove(&mut self, prefix: Prefix) -> Result<(), Error> {
        if let Some(vip) = self.vips.remove(&prefix) {
            tracing::debug!(dataplane = "proxy", %prefix, "remove");
            vip.stop().await;
        }
        Ok(())
    }

    fn describe(&self) -> State {
        let mut routes = BTreeMap::new();
        let mut connections = BTreeMap::new();
        for (prefix, vip) in &self.vips {
            let ecmp = vip.current();
            routes.insert(*prefix, ecmp.addrs.clone());
            let open = ecmp
                .addrs
                .iter()
                .zip(&ecmp.hops)
                .map(|(addr, hop)| (*addr, hop.open.load(Ordering::Relaxed)))
                .collect();
            connections.insert(*prefix, open);
        }
        State {
            kind: Kind::Proxy,
            routes,
            connections,
        }
    }

    async fn shutdown(&mut self) -> Result<(), Error> {
        self.shut_down = true;
        for (_, vip) in std::mem::take(&mut self.vips) {
            vip.stop().await;
        }
        Ok(())
    }
}

/// One VIP: its listeners and its current ECMP set.
#[derive(Debug)]
struct Vip {
    ecmp: Arc<RwLock<Arc<Ecmp>>>,
    /// Parent of every next hop's token: cancelling it ends acceptors and relays.
    stop: CancellationToken,
    acceptors: Vec<JoinHandle<()>>,
    /// See [`ProxyConfig::drain_grace`].
    grace: Duration,
    /// Where hops that leave wait out the grace.
    reaper: Reaper,
}

/// An ECMP set: `addrs` (what the flow hash picks from) and, at the same index, the
/// token and connection count of that next hop.
#[derive(Debug, Default)]
struct Ecmp {
    addrs: Vec<IpAddr>,
    hops: Vec<Hop>,
}

#[derive(Debug, Clone, Default)]
struct Hop {
    cancel: CancellationToken,
    open: Arc<AtomicU64>,
}

impl Vip {
    /// Listens on every port first, so that a failure leaves nothing behind.
    fn start(
        prefix: Prefix,
        config: &ProxyConfig,
        next_hops: Vec<IpAddr>,
        reaper: Reaper,
    ) -> Result<Self, Error> {
        let mut listeners = Vec::with_capacity(config.ports.len());
        for port in &config.ports {
            let addr = SocketAddr::new(prefix.addr(), *port);
            let listener = listen(addr, config.backlog).map_err(|source| Error::Listen {
                prefix,
                addr,
                source,
            })?;
            listeners.push((listener, *port));
        }
        let mut vip = Vip {
            ecmp: Arc::new(RwLock::new(Arc::new(Ecmp::default()))),
            stop: CancellationToken::new(),
            acceptors: Vec::with_capacity(listeners.len()),
            grace: config.drain_grace,
            reaper,
        };
        // The set is in place before the first accept, so no early client is reset.
        vip.set(next_hops);
        for (listener, port) in listeners {
            vip.acceptors.push(tokio::spawn(accept_loop(
                listener,
                port,
                vip.ecmp.clone(),
                vip.stop.clone(),
                config.connect_timeout,
            )));
        }
        Ok(vip)
    }

    fn current(&self) -> Arc<Ecmp> {
        self.ecmp
            .read()
            .expect("the ECMP lock is never held across a panic")
            .clone()
    }

    /// Installs a new ECMP set; next hops that stay keep their connections, the ones
    /// that left have theirs closed.
    fn set(&self, addrs: Vec<IpAddr>) {
        let old = self.current();
        let hops = addrs
            .iter()
            .map(|addr| match old.addrs.iter().position(|a| a == addr) {
                Some(i) => old.hops.get(i).cloned().unwrap_or_default(),
                None => Hop {
                    cancel: self.stop.child_token(),
                    open: Arc::default(),
                },
            })
            .collect();
        *self
            .ecmp
            .write()
            .expect("the ECMP lock is never held across a panic") = Arc::new(Ecmp {
            addrs: addrs.clone(),
            hops,
        });
        for (addr, hop) in old.addrs.iter().zip(&old.hops) {
            if !addrs.contains(addr) {
                if self.grace.is_zero() {
                    hop.cancel.cancel();
                } else {
                    // New connections already go elsewhere; these may finish.
                    let at = tokio::time::Instant::now() + self.grace;
                    if let Err(gone) = self.reaper.send((at, hop.cancel.clone())) {
                        // No reaper (the runtime is ending): nothing waits.
                        gone.0.1.cancel();
                    }
                }
            }
        }
    }

    /// Stops accepting (the listening sockets are closed when this returns) and
    /// closes every connection.
    async fn stop(mut self) {
        self.stop.cancel();
        for acceptor in self.acceptors.drain(..) {
            // An acceptor never panics; a JoinError here could only be a cancelled
            // runtime, and then there is nothing left to wait for.
            let _ = acceptor.await;
        }
    }
}

impl Drop for Vip {
    /// A plane dropped without `shutdown` still stops listening and relaying.
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

fn listen(addr: SocketAddr, backlog: i32) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    // Lets a VIP be programmed again at once after `remove`, while its old
    // connections are still in TIME_WAIT.
    socket.set_reuse_address(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    // Accepted sockets inherit TCP_NODELAY from the listening one on Linux, which
    // saves a `setsockopt` per relayed connection (the test
    // `accepted_sockets_inherit_nodelay` holds this to it).
    socket.set_tcp_nodelay(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(backlog)?;
    TcpListener::from_std(socket.into())
}

async fn accept_loop(
    listener: TcpListener,
    port: u16,
    ecmp: Arc<RwLock<Arc<Ecmp>>>,
    stop: CancellationToken,
    connect_timeout: Duration,
) {
    // One wait for the stop, registered once, not once per accepted connection.
    let stopped = stop.cancelled();
    tokio::pin!(stopped);
    loop {
        let accepted = tokio::select! {
            biased;
            () = &mut stopped => return,
            accepted = listener.accept() => accepted,
        };
        let (client, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors or memory: back off instead of spinning.
                tracing::warn!(dataplane = "proxy", port, error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let chosen = {
            let set = ecmp
                .read()
                .expect("the ECMP lock is never held across a panic");
            pick_next_hop(peer, &set.addrs)
                .and_then(|i| Some((*set.addrs.get(i)?, set.hops.get(i)?.clone())))
        };
        match chosen {
            Some((addr, hop)) => {
                tokio::spawn(relay(
                    client,
                    SocketAddr::new(addr, port),
                    hop,
                    connect_timeout,
                ));
            }
            None => reset(&client),
        }
    }
}

async fn relay(mut client: TcpStream, backend: SocketAddr, hop: Hop, connect_timeout: Duration) {
    let _open = OpenGuard::new(hop.open.clone());
    // One wait for the hop's cancellation for both phases (connect, then copy).
    let cancelled = hop.cancel.cancelled();
    tokio::pin!(cancelled);
    let connected = tokio::select! {
        biased;
        () = &mut cancelled => None,
        r = connect(backend, connect_timeout) => match r {
            Ok(server) => Some(server),
            Err(e) => {
                tracing::debug!(dataplane = "proxy", %backend, error = %e, "connect failed");
                None
            }
        },
    };
    let Some(mut server) = connected else {
        reset(&client);
        return;
    };
    // `client` already has TCP_NODELAY, inherited from the listening socket (see
    // `listen`), and `server` got it before its SYN (see `connect`).
    tokio::select! {
        biased;
        () = &mut cancelled => reset(&client),
        r = tokio::io::copy_bidirectional(&mut client, &mut server) => {
            if let Err(e) = r {
                tracing::trace!(dataplane = "proxy", %backend, error = %e, "relay ended");
            }
        }
    }
}

/// `EINPROGRESS` in `asm-generic/errno.h`, Linux's value on x86-64 and AArch64
/// (`io::ErrorKind::InProgress` is not stable yet).
const EINPROGRESS: i32 = 115;

/// Connects to `backend` with TCP_NODELAY, in at most `timeout`.
///
/// Not `tokio::time::timeout(t, TcpStream::connect(..))`, which costs every relayed
/// connection a timer: when that timer is the runtime's earliest (it usually is, the
/// other connections' timers having gone), tokio's time driver writes its eventfd to
/// re-arm the poll timeout, and the event loop wakes once more for it (strace: 0.85
/// `write` per connection). Here a connect that has already completed when `connect(2)`
/// returns (on loopback and on a local network the handshake ends inside that call)
/// is checked with one `getpeername`, and only a connect still in flight waits for
/// writability under a timer. The syscalls on the fast path are `socket`, `setsockopt`
/// (TCP_NODELAY), `connect`, `getpeername` and the registration's `epoll_ctl`, as many
/// as `TcpStream::connect` (which reads `SO_ERROR` where this calls `getpeername`) plus
/// `set_nodelay`; and the task needs no second turn of the event loop to see the
/// socket writable.
async fn connect(backend: SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
    let socket = Socket::new(
        Domain::for_address(backend),
        Type::STREAM.nonblocking(),
        Some(Protocol::TCP),
    )?;
    socket.set_tcp_nodelay(true)?;
    match socket.connect(&backend.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(EINPROGRESS) => {}
        Err(e) => return Err(e),
    }
    // Connected already: `getpeername` succeeds only on a connected socket.
    let done = socket.peer_addr().is_ok();
    let stream = TcpStream::from_std(socket.into())?;
    if done {
        return Ok(stream);
    }
    match tokio::time::timeout(timeout, stream.writable()).await {
        Ok(ready) => ready?,
        Err(_) => return Err(io::Error::new(io::ErrorKind::TimedOut, "connect timed out")),
    }
    // Writable after a non-blocking connect: connected, or failed with SO_ERROR set.
    match stream.take_error()? {
        Some(e) => Err(e),
        None => Ok(stream),
    }
}

/// Makes the coming drop of `stream` send a RST rather than a FIN: the client is told
/// the connection was aborted, not that the response is complete.
fn reset(stream: &TcpStream) {
    let _ = SockRef::from(stream).set_linger(Some(Duration::ZERO));
}

/// Counts a relay as open for as long as it lives.
struct OpenGuard(Arc<AtomicU64>);

impl OpenGuard {
    fn new(count: Arc<AtomicU64>) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        OpenGuard(count)
    }
}

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn accepted_sockets_inherit_nodelay() {
        let listener = listen("127.61.200.1:0".parse().expect("literal"), 8).expect("listen");
        let addr = listener.local_addr().expect("bound");
        let client = TcpStream::connect(addr).await.expect("connect");
        let (accepted, _) = listener.accept().await.expect("accept");
        assert!(accepted.nodelay().expect("getsockopt"));
        drop(client);
    }

    #[tokio::test]
    async fn connect_sets_nodelay_and_reports_a_refused_connection() {
        let listener = TcpListener::bind("127.61.200.2:0").await.expect("bind");
        let addr = listener.local_addr().expect("bound");
        let stream = connect(addr, Duration::from_secs(1))
            .await
            .expect("connect");
        assert!(stream.nodelay().expect("getsockopt"));
        drop(listener);
        let refused = connect(addr, Duration::from_secs(1)).await;
        assert_eq!(
            refused.err().map(|e| e.kind()),
            Some(io::ErrorKind::ConnectionRefused)
        );
    }
}
