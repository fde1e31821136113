//! The in-memory driver of the session tests: [`Pair`], its simulated network and
//! clock, and small builders for configurations and UPDATEs.
//!
//! `Pair` does for two sessions what `hopwatch-bgp-driver` does for one: it writes
//! what `poll_transmit` gives, reads into `receive`, answers `Event::Connect` and
//! `Event::Disconnect`, and calls `handle_timeout` when a timer is due; only the
//! network and the clock are simulated.

pub(crate) use std::collections::VecDeque;
pub(crate) use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
pub(crate) use std::time::{Duration, Instant};

pub(crate) use hopwatch_bgp::message::{self, AsPath, Codec, Message, Origin};
pub(crate) use hopwatch_bgp::notification::{Cease, ErrorCode, FsmError, Notification, OpenError};
pub(crate) use hopwatch_bgp::session::collision::{self, Close, Direction};
pub(crate) use hopwatch_bgp::session::{
    DownReason, Event, Session, SessionConfig, State, shutdown_notification,
};
pub(crate) use hopwatch_bgp::{Asn, Family, HoldTime, PathAttributes, Prefix, RouterId, Update};

pub(crate) const A: usize = 0;
pub(crate) const B: usize = 1;

fn other(x: usize) -> usize {
    1 - x
}

/// What happens to a connect attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Net {
    /// The connection is made at once.
    Up,
    /// The attempt fails at once (connection refused).
    Refused,
    /// The attempt never completes (packets dropped).
    BlackHole,
}

/// One TCP connection between the two sides.
#[derive(Debug, Default)]
pub(crate) struct Link {
    /// Bytes written by side `x` and not yet read by the other.
    pub(crate) flight: [VecDeque<u8>; 2],
    /// Side `x` closed the connection (it reads nothing more).
    pub(crate) closed: [bool; 2],
}

/// One end: the session and what the driver saw of it.
#[derive(Debug)]
pub(crate) struct Side {
    pub(crate) session: Session,
    /// Every event the session gave, with the simulated time.
    pub(crate) events: Vec<(Duration, Event)>,
    /// Every message the session wrote (delivered or not), with the time.
    pub(crate) sent: Vec<(Duration, Message)>,
    /// Every byte the session wrote (delivered or not).
    pub(crate) written: Vec<u8>,
    /// Drop everything this side writes.
    pub(crate) mute: bool,
    /// Drop everything written to this side (it reads nothing).
    pub(crate) deaf: bool,
    /// Feed this side's `receive` at most this many bytes per call.
    pub(crate) chunk: Option<usize>,
    /// Number of `receive` calls made on this side.
    pub(crate) receives: usize,
}

/// Two sessions and the simulated network and clock between them.
#[derive(Debug)]
pub(crate) struct Pair {
    pub(crate) base: Instant,
    pub(crate) offset: Duration,
    pub(crate) net: Net,
    pub(crate) link: Option<Link>,
    pub(crate) sides: [Side; 2],
}

impl Pair {
    pub(crate) fn new(a: SessionConfig, b: SessionConfig) -> Self {
        Pair::with_base(Instant::now(), a, b)
    }

    pub(crate) fn with_base(base: Instant, a: SessionConfig, b: SessionConfig) -> Self {
        let side = |config| Side {
            session: Session::new(config),
            events: Vec::new(),
            sent: Vec::new(),
            written: Vec::new(),
            mute: false,
            deaf: false,
            chunk: None,
            receives: 0,
        };
        Pair {
            base,
            offset: Duration::ZERO,
            net: Net::Up,
            link: None,
            sides: [side(a), side(b)],
        }
    }

    pub(crate) fn now(&self) -> Instant {
        self.base + self.offset
    }

    pub(crate) fn session(&self, x: usize) -> &Session {
        &self.sides[x].session
    }

    /// Calls `f` on side `x`'s session with the current time, as a user of the
    /// driver would (stop, send_update, …). Run [`Pair::drive`] afterwards.
    pub(crate) fn with<R>(&mut self, x: usize, f: impl FnOnce(&mut Session, Instant) -> R) -> R {
        let now = self.now();
        f(&mut self.sides[x].session, now)
    }

    pub(crate) fn start(&mut self) {
        let now = self.now();
        for side in &mut self.sides {
            side.session.start(now);
        }
        self.drive();
    }

    /// Moves side `x`'s pending output onto the connection (or loses it).
    fn flush(&mut self, x: usize) -> bool {
        let Some(bytes) = self.sides[x].session.poll_transmit() else {
            return false;
        };
        let t = self.offset;
        for m in split_messages(&bytes) {
            self.sides[x].sent.push((t, m));
        }
        self.sides[x].written.extend_from_slice(&bytes);
        if self.sides[x].mute {
            return true;
        }
        if let Some(link) = &mut self.link
            && !link.closed[x]
        {
            link.flight[x].extend(bytes);
        }
        true
    }

    /// Carries out side `x`'s events.
    fn dispatch(&mut self, x: usize) -> bool {
        let mut progress = false;
        while let Some(ev) = self.sides[x].session.poll_event() {
            progress = true;
            let now = self.now();
            self.sides[x].events.push((self.offset, ev.clone()));
            match ev {
                Event::Connect => match self.net {
                    Net::Up => {
                        assert!(
                            self.link.is_none(),
                            "side {x} connects while a connection is up: a Pair models one \
                             connection; use two pairs for a collision"
                        );
                        self.link = Some(Link::default());
                        self.sides[x].session.connected(now);
                        self.sides[other(x)].session.connected(now);
                    }
                    Net::Refused => self.sides[x].session.connection_failed(now),
                    Net::BlackHole => {}
                },
                Event::Disconnect => {
                    if let Some(link) = &mut self.link {
                        link.closed[x] = true;
                        link.flight[other(x)].clear();
                    }
                }
                _ => {}
            }
        }
        progress
    }

    /// Delivers what side `from` wrote, at most `limit` bytes of it; then, once it
    /// has all been read, tells the reader that `from` closed, if it did.
    fn deliver(&mut self, from: usize, limit: usize) -> bool {
        let to = other(from);
        let now = self.now();
        let Some(link) = &mut self.link else {
            return false;
        };
        let mut progress = false;
        if !link.flight[from].is_empty() {
            let n = limit.min(link.flight[from].len());
            let bytes: Vec<u8> = link.flight[from].drain(..n).collect();
            if self.sides[to].deaf {
                return true;
            }
            let chunk = self.sides[to].chunk.unwrap_or(usize::MAX);
            for piece in bytes.chunks(chunk) {
                self.sides[to].receives += 1;
                self.sides[to].session.receive(now, piece);
            }
            progress = true;
        }
        let link = self.link.as_mut().expect("the link was there above");
        if link.flight[from].is_empty() && link.closed[from] {
            // The reader sees the FIN; the connection is gone for both.
            self.link = None;
            self.sides[to].session.connection_closed(now);
            progress = true;
        }
        progress
    }

    /// Flushes and dispatches on both sides without delivering anything.
    pub(crate) fn pump(&mut self) {
        while [A, B]
            .into_iter()
            .fold(false, |p, x| self.flush(x) | self.dispatch(x) | p)
        {}
    }

    /// Delivers exactly the next message side `from` wrote, then pumps.
    pub(crate) fn deliver_one(&mut self, from: usize) {
        let len = {
            let link = self.link.as_ref().expect("a connection is up");
            let buf: Vec<u8> = link.flight[from].iter().copied().collect();
            message::frame_len(&buf)
                .expect("a well-framed message")
                .expect("a whole header in flight")
        };
        self.deliver(from, len);
        self.pump();
    }

    /// Runs until nothing moves: every byte delivered, every event carried out.
    pub(crate) fn drive(&mut self) {
        for _ in 0..100_000 {
            let mut progress = false;
            for x in [A, B] {
                progress |= self.flush(x);
                progress |= self.dispatch(x);
                progress |= self.deliver(x, usize::MAX);
            }
            if !progress {
                return;
            }
        }
        panic!("the pair never settled");
    }

    /// Advances the simulated clock by `d`, firing every timer on the way, in order.
    pub(crate) fn advance(&mut self, d: Duration) {
        let end = self.offset + d;
        self.drive();
        loop {
            let next = [A, B]
                .into_iter()
                .filter_map(|x| self.session(x).poll_timeout())
                .min()
                .map(|t| t.saturating_duration_since(self.base));
            match next {
                Some(t) if t <= end => {
                    self.offset = self.offset.max(t);
                    let now = self.now();
                    for x in [A, B] {
                        if self.session(x).poll_timeout().is_some_and(|t| t <= now) {
                            self.sides[x].session.handle_timeout(now);
                            assert!(
                                self.session(x).poll_timeout().is_none_or(|t| t > now),
                                "side {x}: handle_timeout left a timer due"
                            );
                        }
                    }
                    self.drive();
                }
                _ => break,
            }
        }
        self.offset = end;
    }

    /// The connection breaks under both sides (no NOTIFICATION, no FIN to read).
    pub(crate) fn cut(&mut self) {
        self.link = None;
        let now = self.now();
        for side in &mut self.sides {
            side.session.connection_closed(now);
        }
        self.drive();
    }

    /// Connects (side A connects out) and runs until both are Established.
    pub(crate) fn establish(&mut self) {
        self.start();
        assert_eq!(self.session(A).state(), State::Established, "{:#?}", self);
        assert_eq!(self.session(B).state(), State::Established, "{:#?}", self);
    }

    pub(crate) fn events(&self, x: usize) -> impl Iterator<Item = &Event> {
        self.sides[x].events.iter().map(|(_, e)| e)
    }

    /// The events of side `x` from `mark` on (a mark is `events.len()`).
    pub(crate) fn events_since(&self, x: usize, mark: usize) -> Vec<Event> {
        self.sides[x].events[mark..]
            .iter()
            .map(|(_, e)| e.clone())
            .collect()
    }

    pub(crate) fn mark(&self, x: usize) -> usize {
        self.sides[x].events.len()
    }

    /// The states side `x` went through, starting with the first.
    pub(crate) fn states(&self, x: usize) -> Vec<State> {
        let mut out = Vec::new();
        for e in self.events(x) {
            if let Event::StateChanged { from, to } = e {
                if out.is_empty() {
                    out.push(*from);
                }
                out.push(*to);
            }
        }
        out
    }

    /// When side `x` gave `Event::Connect`.
    pub(crate) fn connect_times(&self, x: usize) -> Vec<Duration> {
        self.sides[x]
            .events
            .iter()
            .filter(|(_, e)| *e == Event::Connect)
            .map(|(t, _)| *t)
            .collect()
    }

    /// The NOTIFICATIONs side `x` wrote.
    pub(crate) fn notifications_sent(&self, x: usize) -> Vec<Notification> {
        self.sides[x]
            .sent
            .iter()
            .filter_map(|(_, m)| match m {
                Message::Notification(n) => Some(n.clone()),
                _ => None,
            })
            .collect()
    }

    /// When side `x` wrote a KEEPALIVE.
    pub(crate) fn keepalive_times(&self, x: usize) -> Vec<Duration> {
        self.sides[x]
            .sent
            .iter()
            .filter(|(_, m)| *m == Message::Keepalive)
            .map(|(t, _)| *t)
            .collect()
    }

    pub(crate) fn downs(&self, x: usize) -> Vec<DownReason> {
        self.events(x)
            .filter_map(|e| match e {
                Event::Down(r) => Some(r.clone()),
                _ => None,
            })
            .collect()
    }
}

/// Splits a write into messages, for the log. Only OPEN, NOTIFICATION and
/// KEEPALIVE are looked at, and those do not depend on the AS width.
pub(crate) fn split_messages(mut bytes: &[u8]) -> Vec<Message> {
    let mut out = Vec::new();
    while let Ok(Some(len)) = message::frame_len(bytes) {
        let Some((msg, rest)) = bytes.split_at_checked(len) else {
            break;
        };
        if let Ok(d) = message::decode(msg, &Codec::default()) {
            out.push(d.message);
        }
        bytes = rest;
    }
    out
}

pub(crate) fn id(s: &str) -> RouterId {
    s.parse().expect("a router id")
}

pub(crate) fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// An active session of AS `asn` expecting `peer`.
pub(crate) fn active(asn: u32, router_id: &str, peer: u32) -> SessionConfig {
    SessionConfig::new(Asn(asn), id(router_id), Some(Asn(peer)))
}

/// A passive session of AS `asn` expecting `peer`.
pub(crate) fn passive(asn: u32, router_id: &str, peer: u32) -> SessionConfig {
    SessionConfig {
        passive: true,
        ..active(asn, router_id, peer)
    }
}

pub(crate) fn hold(s: u16) -> HoldTime {
    HoldTime::new(s).expect("a valid hold time")
}

/// The usual eBGP pair: A (AS 65001) connects to B (AS 65002), both with hold `h`.
pub(crate) fn ebgp_pair(h: u16) -> Pair {
    Pair::new(
        SessionConfig {
            hold_time: hold(h),
            ..active(65001, "10.0.0.1", 65002)
        },
        SessionConfig {
            hold_time: hold(h),
            ..passive(65002, "10.0.0.2", 65001)
        },
    )
}

pub(crate) fn prefix(s: &str) -> Prefix {
    s.parse().expect("a prefix")
}

pub(crate) fn attrs(path: &[u32]) -> PathAttributes {
    PathAttributes {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::sequence(path.iter().copied().map(Asn))),
        med: Some(10),
        communities: vec!["65001:100".parse().expect("a community")],
        ..Default::default()
    }
}

pub(crate) fn v4_update(path: &[u32]) -> Update {
    Update::announce(
        vec![prefix("192.0.2.0/24"), prefix("198.51.100.7/32")],
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
        attrs(path),
    )
}

pub(crate) fn v6_update(path: &[u32]) -> Update {
    Update::announce(
        vec![prefix("2001:db8:1::/48")],
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
        attrs(path),
    )
}

/// The UPDATEs among `events`, checking none had attribute errors.
pub(crate) fn updates(events: &[Event]) -> Vec<Update> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Update {
                update,
                attr_errors,
            } => {
                assert!(attr_errors.is_empty(), "{attr_errors:?}");
                Some(update.clone())
            }
            _ => None,
        })
        .collect()
}

pub(crate) fn encoded(msg: &Message) -> Vec<u8> {
    message::encode_to_vec(msg, &Codec::default())
}

pub(crate) fn code(n: &Notification) -> (u8, u8) {
    (n.code.code(), n.code.subcode())
}
