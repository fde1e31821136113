//! The JSON lines every command prints on stdout: one [`Line`] of the event contract
//! (`hopwatch-events`, documented in `docs/events.md`) a line, and the conversions
//! from the driver's events and the protocol core's types into it. Logs go to
//! stderr, so stdout stays machine-readable.
//!
//! One writer thread does the writes, so a slow reader never blocks the runtime;
//! [`print_later`] has it build and serialise the lines too, for the bursts (a
//! packed UPDATE of 800 routes is 800 lines, about 4 ms of serialising) that must
//! not hold up the loop that handles them.
//! A reader that goes away (EPIPE) stops the output, quietly, and nothing else:
//! a watcher must not stop moving VIPs because whoever read its stdout left.

use std::io::Write;
use std::net::IpAddr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, sync_channel};

use hopwatch_bgp::message::PathAttributes;
use hopwatch_bgp::session::State;
use hopwatch_bgp::{Notification, Prefix};
use hopwatch_bgp_driver::{DriverEvent, EventKind};
use hopwatch_events::bgp::{self as ev, Action, SessionState};
use hopwatch_events::process::EventsDropped;
use hopwatch_events::{Event, Line};
use serde_json::Value;

/// The writer thread's nice value: routing before logging. On a machine whose
/// cores are busy (a failover wakes every process at once), the lines of a burst
/// wait for the CPU rather than the UPDATEs and the programming they describe;
/// every line keeps the timestamp of its event, so a later write changes nothing
/// it says. 10 gives the writer about a tenth of a core's share beside one busy
/// thread at the default 0, so it keeps up with anything but a saturated machine
/// (where the bounded queue drops and counts lines, as ever).
const WRITER_NICE: i32 = 10;

/// Lines waiting for the writer thread, at most. Past that, lines are dropped and
/// counted rather than letting a stalled reader of stdout stall the BGP sessions
/// (a blocked write in the runtime would stop keepalives too).
const QUEUE: usize = 65_536;

static OUT: OnceLock<Printer> = OnceLock::new();

struct Printer {
    tx: SyncSender<Out>,
    dropped: AtomicU64,
}

/// What the writer thread is given.
enum Out {
    /// One line, serialised with its newline.
    Bytes(Vec<u8>),
    /// Lines to build and serialise on the writer thread.
    Later(Box<dyn FnOnce() -> Vec<Line> + Send>),
    /// [`drain`]'s barrier: answered once everything queued before it is written
    /// and flushed.
    Flushed(SyncSender<()>),
}

impl Out {
    fn into_bytes(self) -> Vec<u8> {
        match self {
            Out::Bytes(b) => b,
            Out::Later(f) => {
                let mut bytes = Vec::new();
                for line in f() {
                    bytes.extend_from_slice(line.to_json().as_bytes());
                    bytes.push(b'\n');
                }
                bytes
            }
            Out::Flushed(_) => Vec::new(),
        }
    }
}

/// Writes what the writer thread was given; a barrier is answered after a flush.
fn write_out(out: &mut impl Write, item: Out) -> std::io::Result<()> {
    if let Out::Flushed(done) = item {
        let r = out.flush();
        let _ = done.send(());
        return r;
    }
    out.write_all(&item.into_bytes())
}

fn printer() -> &'static Printer {
    OUT.get_or_init(|| {
        let (tx, rx) = sync_channel::<Out>(QUEUE);
        std::thread::Builder::new()
            .name("stdout".into())
            .spawn(move || {
                // Linux's nice value is per thread. A failure (a seccomp filter)
                // leaves the writer at the process's priority: no worse than before.
                let _ = rustix::process::setpriority_process(
                    Some(rustix::thread::gettid()),
                    WRITER_NICE,
                );
                let mut out = std::io::stdout().lock();
                let mut gone = false;
                while let Ok(item) = rx.recv() {
                    // Once the reader has gone, lines are still taken (so `print`
                    // never waits) but not written; a barrier is still answered.
                    if gone {
                        if let Out::Flushed(done) = item {
                            let _ = done.send(());
                        }
                        continue;
                    }
                    let mut r = write_out(&mut out, item);
                    // Flush when nothing else is queued: one write per burst.
                    match rx.try_recv() {
                        Ok(next) => r = r.and_then(|()| write_out(&mut out, next)),
                        Err(_) => r = r.and_then(|()| out.flush()),
                    }
                    // Other errors (a full disk) may pass; keep trying.
                    gone = r.is_err_and(|e| is_reader_gone(&e));
                }
                if !gone {
                    let _ = out.flush();
                }
            })
            .map(|_| ())
            .unwrap_or_else(|e| eprintln!("hopwatch: no stdout thread: {e}"));
        Printer {
            tx,
            dropped: AtomicU64::new(0),
        }
    })
}

/// The reader of a pipe or socket has gone.
pub fn is_reader_gone(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::BrokenPipe
}

/// Queues one line for stdout; never blocks.
pub fn print(line: &Line) {
    let p = printer();
    let mut bytes = line.to_json().into_bytes();
    bytes.push(b'\n');
    let dropped = p.dropped.load(Ordering::Relaxed);
    if dropped > 0 {
        let note = Line::now(Event::EventsDropped(EventsDropped { count: dropped }));
        let mut note = note.to_json().into_bytes();
        note.push(b'\n');
        if p.tx.try_send(Out::Bytes(note)).is_ok() {
            p.dropped.fetch_sub(dropped, Ordering::Relaxed);
        }
    }
    if p.tx.try_send(Out::Bytes(bytes)).is_err() {
        p.dropped.fetch_add(1, Ordering::Relaxed);
    }
}

/// Queues the lines of a driver event, built and serialised on the writer thread
/// (see [`print_later`]): an UPDATE of 800 routes is 800 lines.
pub fn print_event(e: &DriverEvent) {
    let e = e.clone();
    print_later(move || event_lines(&e));
}

/// Queues the lines `build` makes, to be built and serialised on the writer thread
/// (after every line queued before); never blocks. Each line keeps the timestamp it
/// was given, so building them later changes nothing they say. Dropped whole, and
/// counted as one, when the queue is full.
pub fn print_later(build: impl FnOnce() -> Vec<Line> + Send + 'static) {
    let p = printer();
    if p.tx.try_send(Out::Later(Box::new(build))).is_err() {
        p.dropped.fetch_add(1, Ordering::Relaxed);
    }
}

/// `v` as a JSON value whose objects print with their keys in alphabetical order,
/// as every line does: what the APIs answer.
pub fn value<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// Waits (at most `wait`) until every line queued before the call has been
/// written and flushed, before exit: a barrier the writer thread answers.
pub fn drain(wait: std::time::Duration) {
    let deadline = std::time::Instant::now() + wait;
    let p = printer();
    let (done_tx, done_rx) = sync_channel(1);
    let mut barrier = Out::Flushed(done_tx);
    loop {
        match p.tx.try_send(barrier) {
            Ok(()) => break,
            Err(std::sync::mpsc::TrySendError::Full(b)) => barrier = b,
            // No writer thread: nothing to wait for.
            Err(std::sync::mpsc::TrySendError::Disconnected(_)) => return,
        }
        if std::time::Instant::now() >= deadline {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let left = deadline.saturating_duration_since(std::time::Instant::now());
    let _ = done_rx.recv_timeout(left);
}

/// A session state as the contract prints it.
pub fn session_state(s: State) -> SessionState {
    match s {
        State::Idle => SessionState::Idle,
        State::Connect => SessionState::Connect,
        State::Active => SessionState::Active,
        State::OpenSent => SessionState::OpenSent,
        State::OpenConfirm => SessionState::OpenConfirm,
        State::Established => SessionState::Established,
    }
}

fn notification(peer: IpAddr, n: &Notification) -> ev::Notification {
    ev::Notification {
        peer,
        code: n.code.code(),
        subcode: n.code.subcode(),
        text: n.to_string(),
        shutdown_message: n.shutdown_message(),
    }
}

/// The contract's form of a protocol-core value that serialises as a string or a
/// list of strings and numbers (AS_PATH, communities, ORIGIN): through serde, so the
/// core stays the one place that says how they are written.
fn via_serde<T: serde::Serialize, U: serde::de::DeserializeOwned + Default>(v: &T) -> U {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default()
}

/// A route's attributes, for `update` and `table` lines and `/rib`.
pub fn attributes(a: &PathAttributes) -> ev::Attributes {
    ev::Attributes {
        as_path: a.as_path.as_ref().map(via_serde).unwrap_or_default(),
        origin: a
            .origin
            .and_then(|o| serde_json::from_value(value(&o)).ok()),
        med: a.med,
        local_pref: a.local_pref,
        communities: via_serde(&a.communities),
        large_communities: via_serde(&a.large_communities),
        unknown: via_serde(&a.unknown),
    }
}

/// One `update` line per prefix.
pub fn route_line(
    ts_us: u64,
    peer: IpAddr,
    action: Action,
    prefix: Prefix,
    next_hop: Option<IpAddr>,
    attrs: Option<&PathAttributes>,
) -> Line {
    Line::at(
        ts_us,
        Event::Update(ev::RouteUpdate {
            peer,
            action,
            prefix: prefix.to_string(),
            next_hop,
            attributes: attrs.map(attributes),
        }),
    )
}

/// The lines for one driver event (an UPDATE gives one line per prefix).
pub fn event_lines(e: &DriverEvent) -> Vec<Line> {
    let peer = e.peer;
    let line = |event: Event| vec![Line::at(e.ts_us, event)];
    let family = |f: &hopwatch_bgp::Family| ev::FamilyMarker {
        peer,
        family: f.to_string(),
    };
    match &e.kind {
        EventKind::State { from, to } => line(Event::State(ev::StateChange {
            peer,
            from: session_state(*from),
            to: session_state(*to),
        })),
        EventKind::Established {
            peer_as,
            hold_time,
            four_octet_as,
            families,
            peer_restart_time,
            graceful_notification,
        } => line(Event::Established(ev::Established {
            peer,
            peer_as: peer_as.0,
            hold_time: *hold_time,
            four_octet_as: *four_octet_as,
            families: families.iter().map(ToString::to_string).collect(),
            peer_restart_time: *peer_restart_time,
            graceful_notification: *graceful_notification,
        })),
        EventKind::UpdateReceived {
            update,
            attr_errors,
        } => {
            let mut lines = Vec::new();
            for p in update.withdrawn_all() {
                lines.push(route_line(e.ts_us, peer, Action::Withdraw, p, None, None));
            }
            for (p, nh) in update.announced() {
                let attrs = Some(&update.attributes);
                lines.push(route_line(
                    e.ts_us,
                    peer,
                    Action::Announce,
                    p,
                    Some(nh),
                    attrs,
                ));
            }
            if !attr_errors.is_empty() {
                lines.push(attribute_errors(e, attr_errors));
            }
            lines
        }
        EventKind::EndOfRibReceived(f) => line(Event::EndOfRib(family(f))),
        EventKind::UpdateSent { announce, withdraw } => line(Event::UpdateSent(ev::UpdateSent {
            peer,
            announce: announce
                .iter()
                .map(|(p, nh)| ev::Announced {
                    prefix: p.to_string(),
                    next_hop: *nh,
                })
                .collect(),
            withdraw: withdraw.iter().map(ToString::to_string).collect(),
        })),
        EventKind::EndOfRibSent(f) => line(Event::EndOfRibSent(family(f))),
        EventKind::NotificationSent(n) => line(Event::NotificationSent(notification(peer, n))),
        EventKind::NotificationReceived(n) => {
            line(Event::NotificationReceived(notification(peer, n)))
        }
        EventKind::Down(reason) => line(Event::Down(ev::Down {
            peer,
            reason: reason.clone(),
        })),
        EventKind::ConnectionError(err) => line(Event::ConnectionError(ev::ConnectionError {
            peer,
            error: err.clone(),
        })),
        EventKind::RouteRefreshReceived(f) => line(Event::RouteRefreshReceived(family(f))),
        _ => vec![],
    }
}

/// The `attribute_errors` line of an UPDATE.
pub fn attribute_errors(e: &DriverEvent, errors: &[hopwatch_bgp::message::AttrError]) -> Line {
    Line::at(
        e.ts_us,
        Event::AttributeErrors(ev::AttributeErrors {
            peer: e.peer,
            errors: via_serde(&errors),
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use hopwatch_bgp::message::{AsPath, Community, LargeCommunity, Origin, Segment, SegmentKind};
    use hopwatch_bgp::{Asn, Update};

    fn event(kind: EventKind) -> DriverEvent {
        DriverEvent {
            ts_us: 1_796_285_740_585_339,
            peer: IpAddr::from([127, 10, 0, 7]),
            kind,
        }
    }

    fn printed(e: &DriverEvent) -> Vec<String> {
        event_lines(e).iter().map(Line::to_json).collect()
    }

    #[test]
    fn an_update_prints_as_before_the_contract_types() {
        // `observe`'s line for this UPDATE, captured from the binary before the types.
        let prefix: Prefix = "100.64.0.1/32".parse().unwrap_or_else(|e| panic!("{e}"));
        let mut attributes = PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::sequence([Asn(65001)])),
            med: Some(10),
            ..PathAttributes::default()
        };
        attributes.communities = vec![Community(65001 << 16 | 100), Community(0xFFFF_FF01)];
        attributes.large_communities = vec![LargeCommunity {
            global: 65001,
            local1: 1,
            local2: 2,
        }];
        let update = Update::announce(vec![prefix], IpAddr::from([127, 10, 0, 5]), attributes);
        let lines = printed(&event(EventKind::UpdateReceived {
            update,
            attr_errors: vec![],
        }));
        assert_eq!(
            lines,
            [
                r#"{"action":"announce","as_path":[65001],"communities":["65001:100","65535:65281"],"event":"update","large_communities":["65001:1:2"],"med":10,"next_hop":"127.10.0.5","origin":"igp","peer":"127.10.0.7","prefix":"100.64.0.1/32","ts_us":1796285740585339}"#
            ]
        );
    }

    #[test]
    fn an_as_path_with_a_set_prints_as_text_and_parses_back() {
        let a = PathAttributes {
            as_path: Some(AsPath {
                segments: vec![
                    Segment {
                        kind: SegmentKind::Sequence,
                        asns: vec![Asn(65001)],
                    },
                    Segment {
                        kind: SegmentKind::Set,
                        asns: vec![Asn(65002), Asn(65003)],
                    },
                ],
            }),
            ..PathAttributes::default()
        };
        let converted = attributes(&a);
        assert_eq!(
            serde_json::to_value(&converted.as_path).ok(),
            serde_json::to_value(a.as_path).ok()
        );
        assert!(converted.as_path.asns().is_none());
    }

    #[test]
    fn a_notification_and_a_withdrawal_print_as_before() {
        let n = Notification::shutdown("hopwatch speak stopping");
        assert_eq!(
            printed(&event(EventKind::NotificationReceived(n))),
            [
                r#"{"code":6,"event":"notification_received","peer":"127.10.0.7","shutdown_message":"hopwatch speak stopping","subcode":2,"text":"Cease (6) / Administrative Shutdown (2): \"hopwatch speak stopping\"","ts_us":1796285740585339}"#
            ]
        );
        let prefix: Prefix = "100.64.0.1/32".parse().unwrap_or_else(|e| panic!("{e}"));
        let lines = printed(&event(EventKind::UpdateReceived {
            update: Update::withdraw(vec![prefix]),
            attr_errors: vec![],
        }));
        assert_eq!(
            lines,
            [
                r#"{"action":"withdraw","event":"update","peer":"127.10.0.7","prefix":"100.64.0.1/32","ts_us":1796285740585339}"#
            ]
        );
    }
}
