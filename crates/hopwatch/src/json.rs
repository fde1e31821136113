//! The JSON lines `speak` and `observe` print on stdout: one event a line, each
//! with `ts_us` (µs since the epoch), `event` and `peer`. Logs go to stderr, so
//! stdout stays machine-readable.
//!
//! One writer thread does the writes, so a slow reader never blocks the runtime.
//! A reader that goes away (EPIPE) stops the output, quietly, and nothing else:
//! a watcher must not stop moving VIPs because whoever read its stdout left.

use std::io::Write;
use std::net::IpAddr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, sync_channel};

use hopwatch_bgp::message::PathAttributes;
use hopwatch_bgp::{Notification, Prefix};
use hopwatch_bgp_driver::{DriverEvent, EventKind};
use serde_json::{Value, json};

/// Lines waiting for the writer thread, at most. Past that, lines are dropped and
/// counted rather than letting a stalled reader of stdout stall the BGP sessions
/// (a blocked write in the runtime would stop keepalives too).
const QUEUE: usize = 65_536;

static OUT: OnceLock<Printer> = OnceLock::new();

struct Printer {
    tx: SyncSender<Vec<u8>>,
    dropped: AtomicU64,
}

fn printer() -> &'static Printer {
    OUT.get_or_init(|| {
        let (tx, rx) = sync_channel::<Vec<u8>>(QUEUE);
        std::thread::Builder::new()
            .name("stdout".into())
            .spawn(move || {
                let mut out = std::io::stdout().lock();
                let mut gone = false;
                while let Ok(line) = rx.recv() {
                    // Once the reader has gone, lines are still taken (so `print`
                    // and `drain` never wait) but not written.
                    if gone {
                        continue;
                    }
                    let mut r = out.write_all(&line);
                    // Flush when nothing else is queued: one write per burst.
                    match rx.try_recv() {
                        Ok(next) => r = r.and_then(|()| out.write_all(&next)),
                        Err(_) => r = r.and_then(|()| out.flush()),
                    }
                    // Other errors (a full disk) may pass; keep trying.
                    gone = r.is_err_and(|e| crate::out::is_reader_gone(&e));
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

/// Queues one JSON value as a line for stdout; never blocks.
pub fn print(v: &Value) {
    let p = printer();
    let mut line = serde_json::to_vec(v).unwrap_or_default();
    line.push(b'\n');
    let dropped = p.dropped.load(Ordering::Relaxed);
    if dropped > 0
        && p.tx
            .try_send(
                format!("{{\"event\":\"events_dropped\",\"count\":{dropped}}}\n").into_bytes(),
            )
            .is_ok()
    {
        p.dropped.fetch_sub(dropped, Ordering::Relaxed);
    }
    if p.tx.try_send(line).is_err() {
        p.dropped.fetch_add(1, Ordering::Relaxed);
    }
}

/// Waits (at most `wait`) until every queued line has been written, before exit.
pub fn drain(wait: std::time::Duration) {
    let deadline = std::time::Instant::now() + wait;
    let p = printer();
    // A zero-size marker: once the writer has taken it, everything before it is out.
    while std::time::Instant::now() < deadline {
        match p.tx.try_send(Vec::new()) {
            Ok(()) => break,
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(5)),
        }
    }
    std::thread::sleep(std::time::Duration::from_millis(20));
}

fn notification(n: &Notification) -> Value {
    json!({
        "code": n.code.code(),
        "subcode": n.code.subcode(),
        "text": n.to_string(),
        "shutdown_message": n.shutdown_message(),
    })
}

/// The fields of a route's attributes, for `update` and `table` lines.
pub fn attributes(a: &PathAttributes) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert(
        "as_path".into(),
        serde_json::to_value(a.as_path.clone().unwrap_or_default()).unwrap_or(Value::Null),
    );
    if let Some(o) = a.origin {
        m.insert(
            "origin".into(),
            serde_json::to_value(o).unwrap_or(Value::Null),
        );
    }
    if let Some(v) = a.med {
        m.insert("med".into(), v.into());
    }
    if let Some(v) = a.local_pref {
        m.insert("local_pref".into(), v.into());
    }
    if !a.communities.is_empty() {
        m.insert(
            "communities".into(),
            serde_json::to_value(&a.communities).unwrap_or(Value::Null),
        );
    }
    if !a.large_communities.is_empty() {
        m.insert(
            "large_communities".into(),
            serde_json::to_value(&a.large_communities).unwrap_or(Value::Null),
        );
    }
    if !a.unknown.is_empty() {
        m.insert(
            "unknown".into(),
            serde_json::to_value(&a.unknown).unwrap_or(Value::Null),
        );
    }
    m
}

/// One `update` line per prefix: `action` is `announce` or `withdraw`.
pub fn route_line(
    ts_us: u64,
    peer: IpAddr,
    action: &str,
    prefix: Prefix,
    next_hop: Option<IpAddr>,
    attrs: Option<&PathAttributes>,
) -> Value {
    let mut m = serde_json::Map::new();
    m.insert("ts_us".into(), ts_us.into());
    m.insert("event".into(), "update".into());
    m.insert("peer".into(), peer.to_string().into());
    m.insert("action".into(), action.into());
    m.insert("prefix".into(), prefix.to_string().into());
    if let Some(nh) = next_hop {
        m.insert("next_hop".into(), nh.to_string().into());
    }
    if let Some(a) = attrs {
        m.extend(attributes(a));
    }
    Value::Object(m)
}

/// The lines for one driver event (an UPDATE gives one line per prefix).
pub fn event_lines(e: &DriverEvent) -> Vec<Value> {
    let base = |event: &str| json!({"ts_us": e.ts_us, "event": event, "peer": e.peer.to_string()});
    let with = |event: &str, extra: Value| {
        let mut v = base(event);
        if let (Some(m), Value::Object(x)) = (v.as_object_mut(), extra) {
            m.extend(x);
        }
        v
    };
    match &e.kind {
        EventKind::State { from, to } => vec![with("state", json!({"from": from, "to": to}))],
        EventKind::Established {
            peer_as,
            hold_time,
            four_octet_as,
            families,
            peer_restart_time,
            graceful_notification,
        } => {
            vec![with(
                "established",
                json!({
                    "peer_as": peer_as.0,
                    "hold_time": hold_time,
                    "four_octet_as": four_octet_as,
                    "families": families.iter().map(ToString::to_string).collect::<Vec<_>>(),
                    "peer_restart_time": peer_restart_time,
                    "graceful_notification": graceful_notification,
                }),
            )]
        }
        EventKind::UpdateReceived {
            update,
            attr_errors,
        } => {
            let mut lines = Vec::new();
            for p in update.withdrawn_all() {
                lines.push(route_line(e.ts_us, e.peer, "withdraw", p, None, None));
            }
            for (p, nh) in update.announced() {
                lines.push(route_line(
                    e.ts_us,
                    e.peer,
                    "announce",
                    p,
                    Some(nh),
                    Some(&update.attributes),
                ));
            }
            if !attr_errors.is_empty() {
                lines.push(with("attribute_errors", json!({"errors": attr_errors})));
            }
            lines
        }
        EventKind::EndOfRibReceived(f) => {
            vec![with("end_of_rib", json!({"family": f.to_string()}))]
        }
        EventKind::UpdateSent { announce, withdraw } => vec![with(
            "update_sent",
            json!({
                "announce": announce.iter().map(|(p, nh)| json!({"prefix": p.to_string(), "next_hop": nh.to_string()})).collect::<Vec<_>>(),
                "withdraw": withdraw.iter().map(ToString::to_string).collect::<Vec<_>>(),
            }),
        )],
        EventKind::EndOfRibSent(f) => {
            vec![with("end_of_rib_sent", json!({"family": f.to_string()}))]
        }
        EventKind::NotificationSent(n) => vec![with("notification_sent", notification(n))],
        EventKind::NotificationReceived(n) => vec![with("notification_received", notification(n))],
        EventKind::Down(reason) => vec![with("down", json!({"reason": reason}))],
        EventKind::ConnectionError(err) => vec![with("connection_error", json!({"error": err}))],
        EventKind::RouteRefreshReceived(f) => {
            vec![with(
                "route_refresh_received",
                json!({"family": f.to_string()}),
            )]
        }
        _ => vec![],
    }
}
