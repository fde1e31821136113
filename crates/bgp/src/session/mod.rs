//! The BGP session state machine of RFC 4271 section 8, for one connection at a time.
//!
//! ```text
//!            start                 connected              OPEN ok           KEEPALIVE
//!   Idle ───────────► Connect ───────────────► OpenSent ─────────► OpenConfirm ─────► Established
//!    ▲   (passive: Active)  │ connect fails       │                    │                  │
//!    │                      ▼                     │ error, NOTIFICATION, hold timer expiry, TCP closed
//!    └── retry timer ◄── Active ◄─────────────────┴────────────────────┴──────────────────┘
//! ```
//!
//! The machine owns no socket and reads no clock. The driver reports what happened
//! ([`Session::connected`], [`Session::receive`], [`Session::connection_closed`], …),
//! passes `now` with every call, calls [`Session::handle_timeout`] when
//! [`Session::poll_timeout`] says so, and carries out what comes out of
//! [`Session::poll_transmit`] (bytes to write) and [`Session::poll_event`]
//! ([`Event::Connect`], [`Event::Disconnect`], and what a user wants to know).
//!
//! After a failure the machine waits (1 s, doubling to 30 s by default) and starts
//! again by itself, as RFC 4271's automatic start with damping of peer
//! oscillations; a manual [`Session::stop`] stays stopped.
//!
//! Connection collision (section 6.8) involves two connections and so lives one
//! level up, in [`collision`].

pub mod collision;
mod config;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

pub use config::{GracefulRestart, Negotiated, SessionConfig};

use crate::message::{self, AttrError, Codec, Decoded, Message, Open, TooLong, Update};
use crate::notification::{Cease, ErrorCode, FsmError, Notification, OpenError};
use crate::types::{Family, HoldTime};

/// The six states of RFC 4271 8.2.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum State {
    /// Not trying.
    Idle,
    /// Waiting for our TCP connection to complete.
    Connect,
    /// Waiting for the peer to connect, or for the retry timer.
    Active,
    /// OPEN sent, waiting for the peer's.
    OpenSent,
    /// OPENs exchanged, waiting for the peer's KEEPALIVE.
    OpenConfirm,
    /// Routes flow.
    Established,
}

/// Why a session went down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DownReason {
    /// We sent this NOTIFICATION.
    Sent(Notification),
    /// The peer sent this NOTIFICATION.
    Received(Notification),
    /// The TCP connection closed or failed without a NOTIFICATION.
    ConnectionLost,
    /// We closed the connection without a NOTIFICATION, on purpose: a planned
    /// restart that every graceful restart helper rides out (see
    /// [`Session::stop_for_restart`]).
    ClosedForRestart,
}

impl std::fmt::Display for DownReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DownReason::Sent(n) => write!(f, "sent NOTIFICATION: {n}"),
            DownReason::Received(n) => write!(f, "received NOTIFICATION: {n}"),
            DownReason::ConnectionLost => f.write_str("connection lost"),
            DownReason::ClosedForRestart => {
                f.write_str("closed without a NOTIFICATION for a restart (graceful restart)")
            }
        }
    }
}

/// What the session tells its driver and its user.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
// Update is the event that matters for latency; see `Message`.
#[allow(clippy::large_enum_variant)]
pub enum Event {
    /// Open a TCP connection to the peer, then call [`Session::connected`] or
    /// [`Session::connection_failed`].
    Connect,
    /// Close the TCP connection, after writing what [`Session::poll_transmit`] gave.
    Disconnect,
    /// The state changed.
    StateChanged {
        /// Old state.
        from: State,
        /// New state.
        to: State,
    },
    /// The session reached Established; what was agreed is in [`Session::negotiated`].
    Established,
    /// An UPDATE arrived (already turned into withdrawals where RFC 7606 said so).
    Update {
        /// The UPDATE.
        update: Update,
        /// Attribute errors handled without a NOTIFICATION.
        attr_errors: Vec<AttrError>,
    },
    /// The peer finished sending its routes for `family` (RFC 4724).
    EndOfRib(Family),
    /// The peer asked for our routes of `family` again (RFC 2918).
    RouteRefresh(Family),
    /// The session left OpenSent, OpenConfirm or Established.
    Down(DownReason),
    /// An UPDATE was not sent: its attributes do not fit a BGP message even with
    /// one prefix. The session is unharmed (a message over the maximum would have
    /// made the peer reset it).
    UpdateTooLong(TooLong),
}

/// One BGP session: the state machine of one peer, over one connection at a time.
#[derive(Debug)]
pub struct Session {
    config: SessionConfig,
    state: State,
    negotiated: Option<Negotiated>,
    codec: Codec,
    rx: Vec<u8>,
    tx: Vec<u8>,
    events: VecDeque<Event>,
    /// Connect attempt timeout (Connect) or wait before the next attempt (Active, Idle).
    retry_at: Option<Instant>,
    hold_at: Option<Instant>,
    keepalive_at: Option<Instant>,
    /// Consecutive failures, for the doubling retry wait.
    failures: u32,
    /// Stopped by hand: no automatic restart.
    stopped: bool,
}

/// The hold timer while waiting for the peer's OPEN (RFC 4271 8: "4 minutes").
const OPEN_HOLD: Duration = Duration::from_secs(240);

impl Session {
    /// A session in Idle. Call [`Session::start`] to begin.
    pub fn new(config: SessionConfig) -> Self {
        Session {
            config,
            state: State::Idle,
            negotiated: None,
            codec: Codec::default(),
            rx: Vec::new(),
            tx: Vec::new(),
            events: VecDeque::new(),
            retry_at: None,
            hold_at: None,
            keepalive_at: None,
            failures: 0,
            stopped: true,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// What the OPENs agreed, from OpenConfirm on.
    pub fn negotiated(&self) -> Option<&Negotiated> {
        self.negotiated.as_ref()
    }

    /// Whether routes can be sent now.
    pub fn is_established(&self) -> bool {
        self.state == State::Established
    }

    /// ManualStart / AutomaticStart: connect out, or wait for the peer when passive.
    pub fn start(&mut self, now: Instant) {
        // A manual start begins afresh: no backoff left over from before (RFC 4271 8.2.2).
        if self.stopped {
            self.failures = 0;
        }
        self.stopped = false;
        if self.state == State::Idle {
            self.begin(now);
        }
    }

    fn begin(&mut self, now: Instant) {
        self.retry_at = None;
        if self.config.passive {
            self.set_state(State::Active);
        } else {
            self.set_state(State::Connect);
            self.retry_at = Some(now + self.config.connect_retry);
            self.events.push_back(Event::Connect);
        }
    }

    /// ManualStop: send `notification` (a Cease) if a connection is up, and stay down.
    pub fn stop(&mut self, now: Instant, notification: Notification) {
        self.stopped = true;
        match self.state {
            State::OpenSent | State::OpenConfirm | State::Established => {
                self.fail(now, notification);
            }
            State::Connect | State::Active => {
                self.events.push_back(Event::Disconnect);
                self.go_idle(now);
            }
            State::Idle => {}
        }
        self.retry_at = None;
    }

    /// ManualStop for a restart: close the connection *without* a NOTIFICATION, and
    /// stay down.
    ///
    /// RFC 4724 section 4.2: a helper that sees the TCP session end without a
    /// NOTIFICATION keeps the peer's routes (marked stale) for the restart time. A
    /// NOTIFICATION, even a Cease, makes a helper that does not implement RFC 8538
    /// drop them at once (RFC 8538 section 3 only changes that for helpers that
    /// negotiated its N bit). So a planned restart that must keep the routes
    /// everywhere ends the connection this way; decommissioning sends a Cease
    /// ([`Session::stop`], Hard Reset to be sure).
    pub fn stop_for_restart(&mut self, now: Instant) {
        self.stopped = true;
        match self.state {
            State::OpenSent | State::OpenConfirm | State::Established => {
                // Anything queued but unwritten (a keepalive) is dropped with the
                // connection: a partial message would be a framing error, not a
                // clean end.
                self.tx.clear();
                self.events
                    .push_back(Event::Down(DownReason::ClosedForRestart));
                self.events.push_back(Event::Disconnect);
                self.go_idle(now);
            }
            State::Connect | State::Active => {
                self.events.push_back(Event::Disconnect);
                self.go_idle(now);
            }
            State::Idle => {}
        }
        self.retry_at = None;
    }

    /// ManualStop for good (decommissioning): a Cease that makes every helper drop
    /// our routes at once, and stay down. To a peer that negotiated RFC 8538's N bit
    /// an Administrative Shutdown would keep them stale, so it gets Cease / Hard
    /// Reset (RFC 8538 section 3), whose data is the Administrative Shutdown it
    /// stands for (code, subcode, then its RFC 9003 communication); any other peer
    /// drops routes on any NOTIFICATION and gets the Administrative Shutdown itself.
    pub fn stop_for_good(&mut self, now: Instant, message: &str) {
        let shutdown = shutdown_notification(message);
        let n_bit = self.negotiated.as_ref().is_some_and(|n| {
            self.config
                .graceful_restart
                .as_ref()
                .is_some_and(|gr| gr.notification)
                && n.peer_open.graceful_notification()
        });
        let notification = if n_bit {
            let mut data = vec![shutdown.code.code(), shutdown.code.subcode()];
            data.extend_from_slice(&shutdown.data);
            Notification::new(ErrorCode::Cease(Cease::HardReset), data)
        } else {
            shutdown
        };
        self.stop(now, notification);
    }

    /// Sends `notification`, closes the connection and goes to Idle, from where the
    /// session starts again by itself (unlike [`Session::stop`]). Used to close the
    /// loser of a connection collision.
    pub fn reset(&mut self, now: Instant, notification: Notification) {
        if matches!(
            self.state,
            State::OpenSent | State::OpenConfirm | State::Established
        ) {
            self.fail(now, notification);
        }
    }

    /// A TCP connection to the peer is up (ours, or one the peer opened to us).
    pub fn connected(&mut self, now: Instant) {
        match self.state {
            State::Connect | State::Active | State::Idle if !self.stopped => {
                self.rx.clear();
                // Nothing meant for an earlier connection may precede our OPEN.
                self.tx.clear();
                self.codec = Codec::default();
                self.negotiated = None;
                self.retry_at = None;
                self.send(&Message::Open(self.config.open()));
                self.hold_at = Some(now + OPEN_HOLD);
                self.set_state(State::OpenSent);
            }
            // Already connected, or stopped: the driver must not hand us a second
            // connection (collision is resolved above us); refuse it.
            _ => self.events.push_back(Event::Disconnect),
        }
    }

    /// Our TCP connect attempt failed.
    pub fn connection_failed(&mut self, now: Instant) {
        if self.state == State::Connect {
            self.failures = self.failures.saturating_add(1);
            self.retry_at = Some(now + self.backoff());
            self.set_state(State::Active);
        }
    }

    /// The TCP connection closed (or broke) without a NOTIFICATION from the peer.
    ///
    /// Like every other way down, this ends with [`Event::Disconnect`]: the driver
    /// drops the dead connection. A socket whose peer has gone reads as
    /// end-of-file (or an error) at once, every time it is polled, so a driver that
    /// kept it would spin on it until the next connection replaced it.
    pub fn connection_closed(&mut self, now: Instant) {
        match self.state {
            State::OpenSent | State::OpenConfirm | State::Established => {
                // Nothing queued can reach a closed connection.
                self.tx.clear();
                self.events
                    .push_back(Event::Down(DownReason::ConnectionLost));
                self.events.push_back(Event::Disconnect);
                self.go_idle(now);
            }
            State::Connect => self.connection_failed(now),
            _ => {}
        }
    }

    /// Bytes arrived from the peer.
    pub fn receive(&mut self, now: Instant, data: &[u8]) {
        if !matches!(
            self.state,
            State::OpenSent | State::OpenConfirm | State::Established
        ) {
            return;
        }
        self.rx.extend_from_slice(data);
        let mut offset = 0;
        loop {
            let framed = match message::frame_len(&self.rx[offset..]) {
                Ok(Some(len)) if self.rx.len() - offset >= len => Some(len),
                Ok(_) => None,
                Err(n) => {
                    self.rx.clear();
                    self.fail(now, n);
                    return;
                }
            };
            let Some(len) = framed else { break };
            let result = message::decode(&self.rx[offset..offset + len], &self.codec);
            offset += len;
            match result {
                Ok(decoded) => self.handle_message(now, decoded),
                Err(n) => {
                    self.rx.clear();
                    self.fail(now, n);
                    return;
                }
            }
            if !matches!(
                self.state,
                State::OpenSent | State::OpenConfirm | State::Established
            ) {
                self.rx.clear();
                return;
            }
        }
        self.rx.drain(..offset);
    }

    fn handle_message(&mut self, now: Instant, decoded: Decoded) {
        let Decoded {
            message,
            attr_errors,
        } = decoded;
        if let Message::Notification(n) = message {
            self.events.push_back(Event::Down(DownReason::Received(n)));
            self.events.push_back(Event::Disconnect);
            self.go_idle(now);
            return;
        }
        match (self.state, message) {
            (State::OpenSent, Message::Open(open)) => self.handle_open(now, open),
            (State::OpenSent, _) => self.fail(
                now,
                Notification::bare(ErrorCode::Fsm(FsmError::UnexpectedInOpenSent)),
            ),
            (State::OpenConfirm, Message::Keepalive) => {
                self.failures = 0;
                self.restart_hold(now);
                self.set_state(State::Established);
                self.events.push_back(Event::Established);
            }
            (State::OpenConfirm, _) => self.fail(
                now,
                Notification::bare(ErrorCode::Fsm(FsmError::UnexpectedInOpenConfirm)),
            ),
            (State::Established, Message::Keepalive) => self.restart_hold(now),
            (State::Established, Message::Update(update)) => {
                self.restart_hold(now);
                if let Some(family) = update.end_of_rib_family() {
                    self.events.push_back(Event::EndOfRib(family));
                } else {
                    self.events.push_back(Event::Update {
                        update,
                        attr_errors,
                    });
                }
            }
            (State::Established, Message::RouteRefreshOther { .. }) => self.restart_hold(now),
            (State::Established, Message::RouteRefresh(rr)) => {
                self.restart_hold(now);
                // RFC 2918 4: a family that was not negotiated is ignored.
                if self
                    .negotiated
                    .as_ref()
                    .is_some_and(|n| n.carries(rr.family))
                {
                    self.events.push_back(Event::RouteRefresh(rr.family));
                }
            }
            (State::Established, _) => self.fail(
                now,
                Notification::bare(ErrorCode::Fsm(FsmError::UnexpectedInEstablished)),
            ),
            _ => {}
        }
    }

    fn handle_open(&mut self, now: Instant, open: Open) {
        let peer_as = open.effective_asn();
        if let Some(want) = self.config.peer_as
            && peer_as != want
        {
            // Data: the AS the peer claimed, as on the wire (2 octets).
            let data = open.asn.as_two_octet().to_be_bytes();
            self.fail(
                now,
                Notification::new(ErrorCode::Open(OpenError::BadPeerAs), data),
            );
            return;
        }
        if peer_as == self.config.local_as && open.router_id == self.config.router_id {
            // iBGP peers must have distinct identifiers (RFC 6286 2.2).
            self.fail(
                now,
                Notification::bare(ErrorCode::Open(OpenError::BadBgpIdentifier)),
            );
            return;
        }
        let hold_time = self.config.hold_time.negotiate(open.hold_time);
        let families: Vec<Family> = self
            .config
            .families
            .iter()
            .copied()
            .filter(|f| open.families().contains(f))
            .collect();
        let codec = Codec {
            four_octet_as: self.config.four_octet_as && open.four_octet_as(),
        };
        // RFC 4724 4.2: a helper keeps only the routes of families the peer's
        // capability lists. FRR and BIRD send the capability with a restart time and
        // no family by default ("helper only"): their routes must go at once.
        let peer_restart_time = open
            .graceful_restart()
            .filter(|(_, _, fams)| fams.iter().any(|f| families.contains(&f.family)))
            .map(|(_, t, _)| t);
        let graceful_notification = peer_restart_time.is_some()
            && open.graceful_notification()
            && self.config.graceful_restart.is_some_and(|g| g.notification);
        self.codec = codec;
        self.negotiated = Some(Negotiated {
            peer_open: open,
            peer_as,
            hold_time,
            codec,
            families,
            peer_restart_time,
            graceful_notification,
        });
        self.send(&Message::Keepalive);
        // OpenConfirm first: the keepalive timer only runs from OpenConfirm on, and
        // RFC 4271 8.2.2 wants it running while we wait for the peer's KEEPALIVE.
        self.set_state(State::OpenConfirm);
        self.restart_hold(now);
    }

    /// Sends an UPDATE, split over several messages if it is longer than one may
    /// be. Returns false, sending nothing, outside Established and when the UPDATE
    /// cannot fit (then [`Event::UpdateTooLong`] says why).
    pub fn send_update(&mut self, now: Instant, update: &Update) -> bool {
        if self.state != State::Established {
            return false;
        }
        if !self.encode_update(update) {
            return false;
        }
        self.restart_keepalive(now);
        true
    }

    /// Sends several UPDATEs in one write, each as [`Session::send_update`] does
    /// (one that cannot fit is skipped and reported). Returns false outside
    /// Established, sending nothing.
    pub fn send_updates<'a>(
        &mut self,
        now: Instant,
        updates: impl IntoIterator<Item = &'a Update>,
    ) -> bool {
        if self.state != State::Established {
            return false;
        }
        let before = self.tx.len();
        for u in updates {
            self.encode_update(u);
        }
        // Only a message sent restarts the KeepaliveTimer (RFC 4271 8.2.2), not an
        // empty batch.
        if self.tx.len() > before {
            self.restart_keepalive(now);
        }
        true
    }

    /// Asks the peer to send its routes of `family` again (RFC 2918).
    pub fn send_route_refresh(&mut self, family: Family) -> bool {
        let ok = self.is_established()
            && self
                .negotiated
                .as_ref()
                .is_some_and(|n| n.peer_open.route_refresh());
        if ok {
            self.send(&Message::RouteRefresh(message::RouteRefresh { family }));
        }
        ok
    }

    /// Bytes to write to the connection, all that is pending, coalesced into one
    /// buffer so that a burst costs one write.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        (!self.tx.is_empty()).then(|| std::mem::take(&mut self.tx))
    }

    /// The next event, in the order things happened.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Session::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.retry_at, self.hold_at, self.keepalive_at]
            .into_iter()
            .flatten()
            .min()
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.hold_at.is_some_and(|t| t <= now) {
            self.hold_at = None;
            self.fail(now, Notification::bare(ErrorCode::HoldTimerExpired));
        }
        if self.keepalive_at.is_some_and(|t| t <= now) {
            self.send(&Message::Keepalive);
            self.restart_keepalive(now);
        }
        if self.retry_at.is_some_and(|t| t <= now) {
            self.retry_at = None;
            match self.state {
                // The connect attempt took too long: give it up and retry.
                State::Connect => {
                    self.events.push_back(Event::Disconnect);
                    self.failures = self.failures.saturating_add(1);
                    self.retry_at = Some(now + self.backoff());
                    self.set_state(State::Active);
                }
                State::Active | State::Idle if !self.stopped && !self.config.passive => {
                    self.set_state(State::Connect);
                    self.retry_at = Some(now + self.config.connect_retry);
                    self.events.push_back(Event::Connect);
                }
                State::Idle if !self.stopped => self.begin(now),
                _ => {}
            }
        }
    }

    fn backoff(&self) -> Duration {
        let exp = self.failures.saturating_sub(1).min(16);
        self.config
            .retry_base
            .saturating_mul(1 << exp)
            .min(self.config.retry_max)
    }

    /// Appends `update` to the transmit queue, never as a message over the
    /// maximum; false (and an event) when it cannot fit.
    fn encode_update(&mut self, update: &Update) -> bool {
        match message::encode_update_fitted(update, &self.codec, &mut self.tx) {
            Ok(()) => true,
            Err(e) => {
                self.events.push_back(Event::UpdateTooLong(e));
                false
            }
        }
    }

    fn send(&mut self, msg: &Message) {
        message::encode(msg, &self.codec, &mut self.tx);
    }

    fn restart_hold(&mut self, now: Instant) {
        let hold = self
            .negotiated
            .as_ref()
            .map_or(self.config.hold_time, |n| n.hold_time);
        self.hold_at =
            (hold != HoldTime::ZERO).then(|| now + Duration::from_secs(hold.secs().into()));
        if self.keepalive_at.is_none() {
            self.restart_keepalive(now);
        }
    }

    fn restart_keepalive(&mut self, now: Instant) {
        self.keepalive_at = match self.state {
            State::OpenConfirm | State::Established => self
                .negotiated
                .as_ref()
                .and_then(Negotiated::keepalive_interval)
                .map(|k| now + k),
            _ => None,
        };
    }

    /// Sends `n`, closes the connection and goes to Idle (RFC 4271's common error path).
    fn fail(&mut self, now: Instant, n: Notification) {
        self.send(&Message::Notification(n.clone()));
        self.events.push_back(Event::Down(DownReason::Sent(n)));
        self.events.push_back(Event::Disconnect);
        self.go_idle(now);
    }

    fn go_idle(&mut self, now: Instant) {
        self.hold_at = None;
        self.keepalive_at = None;
        self.negotiated = None;
        self.codec = Codec::default();
        self.rx.clear();
        self.set_state(State::Idle);
        if !self.stopped {
            self.failures = self.failures.saturating_add(1);
            self.retry_at = Some(now + self.backoff());
        } else {
            self.retry_at = None;
        }
    }

    fn set_state(&mut self, to: State) {
        let from = self.state;
        if from != to {
            self.state = to;
            self.events.push_back(Event::StateChanged { from, to });
        }
    }
}

/// The Cease a driver sends when it is asked to shut down.
pub fn shutdown_notification(message: &str) -> Notification {
    if message.is_empty() {
        Notification::bare(ErrorCode::Cease(Cease::AdministrativeShutdown))
    } else {
        Notification::shutdown(message)
    }
}
