//! One peer's task: the TCP connection, the session machine, and its one timer.
//!
//! ```text
//!            ┌──────────── select! ────────────┐
//!  PeerCmd ──►  command   socket read   connect   candidate OPEN   sleep_until(poll_timeout)
//!            └────────────────┬─────────────────┘
//!                             ▼
//!                  Session (pure) ──► flush(): write poll_transmit(), act on poll_event()
//! ```
//!
//! Collision (RFC 4271 6.8): a connection from the peer that arrives while ours is
//! in OpenSent is read until its OPEN reveals the peer's identifier (in a small
//! side task), then [`collision::resolve`] picks the survivor; the loser gets
//! Cease / Connection Collision Resolution. In OpenConfirm the identifier is
//! already known; an Established session always wins.
//!
//! An accepted connection holds its [`PendingSlot`] until its OPEN arrives: one
//! that sends none by the slot's deadline is closed with Hold Timer Expired, well
//! before RFC 4271's 4 minutes (see [`crate::listen`]).

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hopwatch_bgp::message::{self, Codec, Message, TooLong};
use hopwatch_bgp::notification::{Cease, ErrorCode};
use hopwatch_bgp::session::collision::{self, Close, Direction};
use hopwatch_bgp::session::{DownReason, Event, Session, SessionConfig, State};
use hopwatch_bgp::{Family, Notification, RouterId, Update};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::event::{DriverEvent, EventKind, now_us};
use crate::listen::PendingSlot;
use crate::pack;
use crate::rib_out::{Change, Changes, RibOut};
use crate::timer::sleep_until;

/// How to reach one peer.
#[derive(Debug, Clone)]
pub struct PeerConfig {
    /// The peer's address.
    pub address: IpAddr,
    /// The peer's TCP port (179 unless told otherwise).
    pub port: u16,
    /// The address to connect from.
    pub local_address: Option<IpAddr>,
    /// The session's settings.
    pub session: SessionConfig,
    /// Made for an unconfigured address that connected to us (an observer's
    /// peer): the task ends when its session goes down.
    pub dynamic: bool,
}

/// How a session is stopped for good.
#[derive(Debug, Clone)]
pub enum StopHow {
    /// Send this NOTIFICATION (a Cease).
    Notify(Notification),
    /// Close the connection without a NOTIFICATION: a planned restart every
    /// graceful restart helper rides out (`Session::stop_for_restart`).
    ForRestart,
    /// Decommissioning: Cease / Hard Reset to a peer that negotiated the N bit,
    /// Administrative Shutdown otherwise, with this message
    /// (`Session::stop_for_good`).
    ForGood(String),
}

/// What a peer's task is asked to do.
#[derive(Debug)]
pub enum PeerCmd {
    /// Send these route changes if Established.
    Changes(Changes),
    /// The peer connected to us.
    Incoming {
        /// The connection.
        stream: TcpStream,
        /// Its place among the connections waiting for an OPEN.
        slot: PendingSlot,
    },
    /// Stop the session as asked, and end.
    Stop(StopHow),
    /// The routes are ready: send the table and End-of-RIB if we held them.
    Ready,
    /// Send these UPDATEs to this peer only (a route server's per-peer
    /// advertisements), then End-of-RIB for each negotiated family when asked.
    SendUpdates {
        /// The UPDATEs, each cut to fit a message, all in one write.
        updates: Vec<Update>,
        /// Follow them with End-of-RIB.
        end_of_rib: bool,
    },
    /// Send this NOTIFICATION and start the session again (e.g. a route limit).
    Reset(Notification),
    /// A colliding connection whose OPEN has been read.
    CandidateOpen {
        /// The connection.
        stream: TcpStream,
        /// The OPEN's bytes, to replay into the session if this connection wins.
        open: Vec<u8>,
        /// The peer's identifier from that OPEN.
        router_id: RouterId,
    },
}

struct Conn {
    reader: OwnedReadHalf,
    writer: OwnedWriteHalf,
    dir: Direction,
    /// An accepted connection whose OPEN has not arrived yet.
    slot: Option<PendingSlot>,
}

type Connecting = Pin<Box<dyn Future<Output = io::Result<TcpStream>> + Send>>;

/// How long one write may wait for the peer to read.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) struct PeerTask {
    cfg: PeerConfig,
    session: Session,
    conn: Option<Conn>,
    connecting: Option<Connecting>,
    rib: Arc<Mutex<RibOut>>,
    /// The RIB version this peer has been sent up to.
    synced: u64,
    events: mpsc::UnboundedSender<DriverEvent>,
    cmds: mpsc::UnboundedReceiver<PeerCmd>,
    self_tx: mpsc::UnboundedSender<PeerCmd>,
    finished: bool,
    buf: Vec<u8>,
    /// Events about what is in the session's transmit queue, reported once written.
    pending: Vec<EventKind>,
    /// Established, but the table and End-of-RIB wait for the routes to be ready.
    holding_table: bool,
    /// A command taken from the queue while gathering batches of changes, to be
    /// handled before the next one is received.
    next_cmd: Option<PeerCmd>,
}

fn now() -> std::time::Instant {
    Instant::now().into_std()
}

impl PeerTask {
    pub(crate) fn new(
        cfg: PeerConfig,
        rib: Arc<Mutex<RibOut>>,
        events: mpsc::UnboundedSender<DriverEvent>,
        cmds: mpsc::UnboundedReceiver<PeerCmd>,
        self_tx: mpsc::UnboundedSender<PeerCmd>,
    ) -> Self {
        let session = Session::new(cfg.session.clone());
        PeerTask {
            cfg,
            session,
            conn: None,
            connecting: None,
            rib,
            synced: 0,
            events,
            cmds,
            self_tx,
            finished: false,
            buf: vec![0; 65536],
            pending: Vec::new(),
            holding_table: false,
            next_cmd: None,
        }
    }

    fn emit(&self, kind: EventKind) {
        self.emit_at(now_us(), kind);
    }

    fn emit_at(&self, ts_us: u64, kind: EventKind) {
        let _ = self.events.send(DriverEvent {
            ts_us,
            peer: self.cfg.address,
            kind,
        });
    }

    pub(crate) async fn run(mut self) {
        self.session.start(now());
        self.flush().await;
        while !self.finished {
            if let Some(cmd) = self.next_cmd.take() {
                self.handle_cmd(cmd).await;
                self.flush().await;
                continue;
            }
            let open_by = self
                .conn
                .as_ref()
                .and_then(|c| c.slot.as_ref())
                .map(|s| s.open_by);
            let deadline = self
                .session
                .poll_timeout()
                .map(Instant::from_std)
                .into_iter()
                .chain(open_by)
                .min();
            tokio::select! {
                cmd = self.cmds.recv() => match cmd {
                    Some(cmd) => self.handle_cmd(cmd).await,
                    None => {
                        self.session.stop(now(), Notification::bare(ErrorCode::Cease(Cease::PeerDeconfigured)));
                        self.finished = true;
                    }
                },
                res = read(&mut self.conn, &mut self.buf) => match res {
                    Ok(0) => self.connection_lost(None),
                    Ok(n) => {
                        let t = now();
                        self.session.receive(t, &self.buf[..n]);
                    }
                    Err(e) => self.connection_lost(Some(e)),
                },
                res = connecting(&mut self.connecting) => {
                    self.connecting = None;
                    match res {
                        Ok(stream) => {
                            self.adopt(stream, Direction::Outgoing, None);
                            self.session.connected(now());
                        }
                        Err(e) => {
                            self.emit(EventKind::ConnectionError(format!(
                                "connect to {}:{}: {e}", self.cfg.address, self.cfg.port
                            )));
                            self.session.connection_failed(now());
                        }
                    }
                },
                () = sleep_until(deadline) => {
                    self.session.handle_timeout(now());
                    self.open_overdue();
                }
            }
            self.flush().await;
        }
    }

    /// The connection ended under us: the peer closed it (end-of-file), it was
    /// reset, or a write failed. It is dropped here and now, before the session
    /// hears of it. A dead socket is readable at once on every poll (end-of-file,
    /// forever), so one kept until the next connection replaces it would make this
    /// task spin a core for as long as the peer stays away: the hold time, the
    /// graceful restart time, or a maintenance window.
    fn connection_lost(&mut self, error: Option<io::Error>) {
        if let Some(e) = error {
            self.emit(EventKind::ConnectionError(e.to_string()));
        }
        self.conn = None;
        self.session.connection_closed(now());
    }

    /// Closes an accepted connection whose OPEN is overdue, as an expired hold
    /// timer would (RFC 4271 8.2.2, OpenSent), only sooner.
    fn open_overdue(&mut self) {
        let overdue = self
            .conn
            .as_ref()
            .and_then(|c| c.slot.as_ref())
            .is_some_and(|s| s.open_by <= Instant::now());
        if overdue && self.session.state() == State::OpenSent {
            tracing::info!(
                "{}: no OPEN on its connection in time; closing it",
                self.cfg.address
            );
            self.session
                .reset(now(), Notification::bare(ErrorCode::HoldTimerExpired));
        }
    }

    fn adopt(&mut self, stream: TcpStream, dir: Direction, slot: Option<PendingSlot>) {
        let _ = stream.set_nodelay(true);
        let (reader, writer) = stream.into_split();
        self.conn = Some(Conn {
            reader,
            writer,
            dir,
            slot,
        });
    }

    async fn handle_cmd(&mut self, cmd: PeerCmd) {
        match cmd {
            PeerCmd::Changes(changes) => {
                let batches = self.queued_changes(changes);
                self.send_changes(&batches);
            }
            PeerCmd::SendUpdates {
                updates,
                end_of_rib,
            } => self.send_updates(updates, end_of_rib),
            PeerCmd::Reset(n) => self.session.reset(now(), n),
            PeerCmd::Ready => {
                if self.holding_table && self.session.is_established() {
                    self.send_table(true);
                }
            }
            PeerCmd::Stop(how) => {
                match how {
                    StopHow::Notify(n) => self.session.stop(now(), n),
                    StopHow::ForRestart => self.session.stop_for_restart(now()),
                    StopHow::ForGood(message) => self.session.stop_for_good(now(), &message),
                }
                self.finished = true;
            }
            PeerCmd::Incoming { stream, slot } => match self.session.state() {
                State::Idle | State::Connect | State::Active => {
                    self.connecting = None;
                    self.conn = None;
                    self.adopt(stream, Direction::Incoming, Some(slot));
                    self.session.connected(now());
                }
                State::OpenSent => {
                    // Learn the peer's identifier from the new connection's OPEN.
                    let tx = self.self_tx.clone();
                    tokio::spawn(read_candidate_open(stream, slot, tx));
                }
                State::OpenConfirm | State::Established => {
                    let remote = self.session.negotiated().map(|n| n.peer_open.router_id);
                    self.collide(stream, remote, Vec::new(), Some(slot)).await;
                }
            },
            PeerCmd::CandidateOpen {
                stream,
                open,
                router_id,
            } => {
                self.collide(stream, Some(router_id), open, None).await;
            }
        }
    }

    async fn collide(
        &mut self,
        stream: TcpStream,
        remote: Option<RouterId>,
        open: Vec<u8>,
        slot: Option<PendingSlot>,
    ) {
        let state = self.session.state();
        let existing_dir = self.conn.as_ref().map_or(Direction::Outgoing, |c| c.dir);
        let close = match (state, remote) {
            (State::Idle | State::Connect | State::Active, _) => Close::Existing,
            (_, Some(remote)) => {
                collision::resolve(self.cfg.session.router_id, remote, state, existing_dir)
            }
            (_, None) => Close::New,
        };
        let cease = Notification::bare(ErrorCode::Cease(Cease::ConnectionCollisionResolution));
        match close {
            Close::New => {
                let mut stream = stream;
                let bytes = message::encode_to_vec(
                    &Message::Notification(cease.clone()),
                    &Codec::default(),
                );
                let _ = tokio::time::timeout(WRITE_TIMEOUT, stream.write_all(&bytes)).await;
                self.emit(EventKind::NotificationSent(cease));
            }
            Close::Existing => {
                if matches!(
                    state,
                    State::OpenSent | State::OpenConfirm | State::Established
                ) {
                    self.session.reset(now(), cease);
                    self.flush().await;
                }
                self.connecting = None;
                self.conn = None;
                self.adopt(stream, Direction::Incoming, slot);
                self.session.connected(now());
                if !open.is_empty() {
                    self.flush().await;
                    self.session.receive(now(), &open);
                }
            }
        }
    }

    /// Sends a route server's UPDATEs for this peer, cut to fit, then End-of-RIB
    /// for each negotiated family when asked.
    fn send_updates(&mut self, updates: Vec<Update>, end_of_rib: bool) {
        let Some(neg) = self.session.negotiated() else {
            return;
        };
        let out = pack::fit(updates, &neg.codec);
        let families = if end_of_rib {
            neg.families.clone()
        } else {
            Vec::new()
        };
        self.send_each(out, &families);
    }

    /// Queues each UPDATE with the event to report once it is written, then
    /// End-of-RIB for each of `end_of_rib`. Every UPDATE already fits one message
    /// ([`pack`] cut it), so the session sends it as it is and its event lists
    /// exactly what that message carries. A prefix that cannot fit a message even
    /// alone was refused by [`pack`]: it reports its refusal and nothing else.
    fn send_each(&mut self, out: pack::Outgoing, end_of_rib: &[Family]) {
        for e in out.refused {
            self.too_long(&e);
        }
        let t = now();
        let eors = end_of_rib
            .iter()
            .map(|&f| (Update::end_of_rib(f), EventKind::EndOfRibSent(f)));
        for (update, ev) in out.messages.into_iter().chain(eors) {
            if self.session.send_update(t, &update) {
                self.pending.push(ev);
            }
        }
    }

    /// Reports an UPDATE that was not sent because it cannot fit a message.
    fn too_long(&self, e: &TooLong) {
        tracing::warn!("{}: UPDATE not sent: {e}", self.cfg.address);
        self.emit(EventKind::UpdateTooLong {
            prefix: e.prefix,
            len: e.len,
            max: e.max,
        });
    }

    /// `first` and every batch of changes queued right behind it, in order. Batches
    /// that piled up while this task was busy (writing, or waiting for the CPU) are
    /// sent as one: a thousand VIPs moved one call each still leave packed, and
    /// nothing waits for them (only what is already queued is taken). The first
    /// other command stops the gathering and is handled next, so no command is
    /// reordered with a batch.
    fn queued_changes(&mut self, first: Changes) -> Vec<Changes> {
        let mut batches = vec![first];
        while let Ok(cmd) = self.cmds.try_recv() {
            match cmd {
                PeerCmd::Changes(c) => batches.push(c),
                other => {
                    self.next_cmd = Some(other);
                    break;
                }
            }
        }
        batches
    }

    /// Sends batches of changes, made in this order, as one ([`pack::changes`]:
    /// the last change of each prefix wins), leaving out each batch this peer
    /// already has (its table was sent after the batch was made).
    fn send_changes(&mut self, batches: &[Changes]) {
        if !self.session.is_established() || self.holding_table {
            return;
        }
        let synced = self.synced;
        let fresh: Vec<&Changes> = batches.iter().filter(|b| b.version > synced).collect();
        let Some(last) = fresh.last() else {
            return;
        };
        self.synced = last.version;
        let Some(neg) = self.session.negotiated() else {
            return;
        };
        let out = pack::changes(
            fresh.iter().flat_map(|b| b.changes.iter()),
            self.cfg.session.local_as,
            neg.peer_as,
            &neg.codec,
            |f| neg.carries(f),
        );
        self.send_each(out, &[]);
    }
}

impl PeerTask {
    /// Writes what the session wants written, then acts on its events, until both
    /// queues are empty.
    async fn flush(&mut self) {
        loop {
            if let Some(bytes) = self.session.poll_transmit() {
                // Stamped as the bytes go to the kernel, not after the task gets
                // the CPU back: a route server on the same machine may act on them
                // before this task runs again.
                let handed_us = now_us();
                let written = match &mut self.conn {
                    // A peer that stops reading must not freeze this task (its hold
                    // timer could never fire): a write that cannot finish in time is
                    // a broken connection.
                    Some(c) => tokio::time::timeout(WRITE_TIMEOUT, c.writer.write_all(&bytes))
                        .await
                        .unwrap_or_else(|_| {
                            Err(io::Error::new(
                                io::ErrorKind::TimedOut,
                                "the peer stopped reading",
                            ))
                        }),
                    None => Err(io::Error::new(io::ErrorKind::NotConnected, "no connection")),
                };
                let sent = std::mem::take(&mut self.pending);
                match written {
                    // Reported once the write returned (the UPDATE is on the wire),
                    // with the time it was handed to the kernel.
                    Ok(()) => sent.into_iter().for_each(|k| self.emit_at(handed_us, k)),
                    Err(e) if self.conn.is_some() => self.connection_lost(Some(e)),
                    Err(_) => {}
                }
                continue;
            }
            let Some(event) = self.session.poll_event() else {
                break;
            };
            self.handle_event(event);
        }
    }

    fn handle_event(&mut self, event: Event) {
        match event {
            Event::Connect => {
                let addr = SocketAddr::new(self.cfg.address, self.cfg.port);
                self.connecting = Some(Box::pin(connect(addr, self.cfg.local_address)));
            }
            Event::Disconnect => {
                self.connecting = None;
                self.conn = None;
            }
            Event::StateChanged { from, to } => {
                if matches!(to, State::OpenConfirm | State::Established)
                    && let Some(c) = &mut self.conn
                {
                    // The OPEN arrived: the connection is no longer pending.
                    c.slot = None;
                }
                self.emit(EventKind::State { from, to });
            }
            Event::UpdateTooLong(e) => self.too_long(&e),
            Event::Established => {
                if let Some(n) = self.session.negotiated() {
                    let kind = EventKind::Established {
                        peer_as: n.peer_as,
                        hold_time: n.hold_time.secs(),
                        four_octet_as: n.codec.four_octet_as,
                        families: n.families.clone(),
                        peer_restart_time: n.peer_restart_time,
                        graceful_notification: n.graceful_notification,
                    };
                    self.emit(kind);
                }
                self.send_table(true);
            }
            Event::Update {
                update,
                attr_errors,
            } => self.emit(EventKind::UpdateReceived {
                update,
                attr_errors,
            }),
            Event::EndOfRib(f) => self.emit(EventKind::EndOfRibReceived(f)),
            Event::RouteRefresh(f) => {
                self.emit(EventKind::RouteRefreshReceived(f));
                self.send_table(false);
            }
            Event::Down(reason) => {
                self.holding_table = false;
                match &reason {
                    DownReason::Sent(n) => self.emit(EventKind::NotificationSent(n.clone())),
                    DownReason::Received(n) => {
                        self.emit(EventKind::NotificationReceived(n.clone()))
                    }
                    DownReason::ConnectionLost | DownReason::ClosedForRestart => {}
                }
                self.emit(EventKind::Down(reason.to_string()));
                self.pending.clear();
                if self.cfg.dynamic {
                    self.finished = true;
                }
            }
            _ => {}
        }
    }

    /// Sends every route we announce, packed ([`pack::changes`]), then End-of-RIB
    /// for each family when `end_of_rib` (a session that just came up; not a route
    /// refresh).
    fn send_table(&mut self, end_of_rib: bool) {
        let (ready, (version, routes)) = match self.rib.lock() {
            Ok(rib) => (rib.is_ready(), rib.snapshot()),
            // A panic elsewhere poisoned the lock; the routes are still whole.
            Err(poisoned) => {
                let rib = poisoned.into_inner();
                (rib.is_ready(), rib.snapshot())
            }
        };
        if end_of_rib && !ready {
            self.holding_table = true;
            return;
        }
        self.holding_table = false;
        let Some(neg) = self.session.negotiated() else {
            return;
        };
        let table: Vec<Change> = routes.into_iter().map(Change::Announce).collect();
        let out = pack::changes(
            &table,
            self.cfg.session.local_as,
            neg.peer_as,
            &neg.codec,
            |f| neg.carries(f),
        );
        let families = if end_of_rib {
            neg.families.clone()
        } else {
            Vec::new()
        };
        self.synced = version;
        self.send_each(out, &families);
    }
}

async fn read(conn: &mut Option<Conn>, buf: &mut [u8]) -> io::Result<usize> {
    match conn {
        Some(c) => c.reader.read(buf).await,
        None => std::future::pending().await,
    }
}

async fn connecting(c: &mut Option<Connecting>) -> io::Result<TcpStream> {
    match c {
        Some(f) => f.await,
        None => std::future::pending().await,
    }
}

/// Connects to `addr`, from `local` when given, with TCP_NODELAY: an UPDATE must
/// leave at once, not wait for Nagle.
pub async fn connect(addr: SocketAddr, local: Option<IpAddr>) -> io::Result<TcpStream> {
    let sock = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    if let Some(l) = local {
        sock.bind(SocketAddr::new(l, 0))?;
    }
    let stream = sock.connect(addr).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Reads a colliding connection up to its OPEN (bounded by its slot's deadline),
/// then hands it back to the peer task; the slot goes with the wait.
async fn read_candidate_open(
    mut stream: TcpStream,
    slot: PendingSlot,
    tx: mpsc::UnboundedSender<PeerCmd>,
) {
    let read = async {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            if let Ok(Some(len)) = message::frame_len(&buf)
                && buf.len() >= len
            {
                buf.truncate(len);
                return Some(buf);
            }
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
    };
    let Ok(Some(open)) = tokio::time::timeout_at(slot.open_by, read).await else {
        return;
    };
    drop(slot);
    let Ok(decoded) = message::decode(&open, &Codec::default()) else {
        return;
    };
    if let Message::Open(o) = decoded.message {
        let _ = tx.send(PeerCmd::CandidateOpen {
            stream,
            open,
            router_id: o.router_id,
        });
    }
}
