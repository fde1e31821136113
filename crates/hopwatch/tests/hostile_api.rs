//! Hostile clients of the two HTTP APIs, the watcher's control API (`hopwatch run`)
//! and the route server's introspection API (issue 10, findings 1, 6 and 8):
//! connections that never finish their header are closed; connections past the cap
//! are refused at once, counted, and the API works again after; an attacker holding
//! every API connection it can get does not starve the health probes (the VIP still
//! moves when the active backend dies); `POST /restart` answers 404 / 400 and `ctl`
//! exits non-zero; errors never echo a long input in full; unknown paths and
//! methods answer JSON.
//!
//! Everything runs on 127.91.0.0/16 and every wait is bounded; children are stopped
//! by PID when dropped.

// In a test a panic is a failed test.
#![allow(clippy::unwrap_used)]

mod loopback;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hopwatch_events::watcher::{ApiError, Health, Status};
use hopwatch_events::{Event, Line};
use loopback::events::{ip_addr, is_route};
use loopback::watcher_config::{Backend, Vip, WatcherConfig};
use loopback::{Proc, free_port, spawn, spawn_cmd, web};

const WS1: &str = "127.91.0.4";
const WS2: &str = "127.91.0.5";
const WATCHER: &str = "127.91.0.7";
const SPEAKER: &str = "127.91.0.8";
const RS: &str = "127.91.1.4";
const RS2: &str = "127.91.1.5";
const VIP: &str = "100.64.0.1/32";
/// The servers promise to close a connection whose header is not complete after
/// 5 s; this leaves room for a loaded machine without letting a server that never
/// closes pass.
const CLOSE_WITHIN: Duration = Duration::from_secs(20);
/// The cap the APIs are documented to have, when the metric cannot say (today's main).
const DEFAULT_CAP: usize = 64;

/// One HTTP/1.1 request on a new connection; returns (status, body).
fn http(addr: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    try_http(addr, method, path, body).unwrap_or_else(|e| panic!("{method} {path} on {addr}: {e}"))
}

fn try_http(addr: &str, method: &str, path: &str, body: &str) -> Result<(u16, String), String> {
    let addr: SocketAddr = addr.parse().map_err(|e| format!("{e}"))?;
    let mut s =
        TcpStream::connect_timeout(&addr, Duration::from_secs(2)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).map_err(|e| e.to_string())?;
    let out = String::from_utf8_lossy(&out).into_owned();
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("no status line in {out:?}"))?;
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

/// The value of the first sample whose line starts with `name` (a metric name with
/// its labels, as Prometheus' text format writes them).
fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// `hopwatch ctl ARGS…`: (exit success, stdout, stderr).
fn ctl(api: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hopwatch"))
        .args(["ctl", "--api", api])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Waits (within `limit`) for the server to close `s`, reading and discarding
/// whatever it sends first (a 408 or 503 is fine); how long it took, or None.
fn closed_within(s: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut buf = [0u8; 4096];
    while start.elapsed() < limit {
        match s.read(&mut buf) {
            Ok(0) => return Some(start.elapsed()),
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return Some(start.elapsed()),
        }
    }
    None
}

/// A slow client: one header line a second, never the blank line that ends the
/// header; how long until the server closed the connection, or None.
fn trickle_until_closed(addr: &str, limit: Duration) -> Option<Duration> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let start = Instant::now();
    if write!(s, "GET /status HTTP/1.1\r\nHost: {addr}\r\n").is_err() {
        return Some(start.elapsed());
    }
    let mut buf = [0u8; 1024];
    let mut n = 0;
    while start.elapsed() < limit {
        match s.read(&mut buf) {
            Ok(0) => return Some(start.elapsed()),
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return Some(start.elapsed()),
        }
        n += 1;
        if write!(s, "X-Slow-{n}: still here\r\n").is_err() {
            return Some(start.elapsed());
        }
    }
    None
}

/// The three slow clients of the issue against `addr`, at once: nothing sent, half
/// a header, a header line every second. Each must be closed within the bound.
fn slow_clients_are_closed(addr: &str) {
    let a = addr.to_owned();
    let silent = std::thread::spawn(move || {
        let mut s = TcpStream::connect(&a).unwrap();
        closed_within(&mut s, CLOSE_WITHIN)
    });
    let a = addr.to_owned();
    let half = std::thread::spawn(move || {
        let mut s = TcpStream::connect(&a).unwrap();
        write!(s, "GET /status HTTP/1.1\r\nHost: ").unwrap();
        closed_within(&mut s, CLOSE_WITHIN)
    });
    let a = addr.to_owned();
    let trickle = std::thread::spawn(move || trickle_until_closed(&a, CLOSE_WITHIN));
    for (what, t) in [
        ("a connection that sends nothing", silent),
        ("a connection that sends half a header", half),
        (
            "a connection that sends a header line every second",
            trickle,
        ),
    ] {
        let took = t.join().unwrap();
        eprintln!("{addr}: {what}: closed after {took:?}");
        assert!(
            took.is_some(),
            "{addr}: {what} was still open after {CLOSE_WITHIN:?}"
        );
    }
}

/// Raises this test process's own descriptor limit: the attacker needs 2,000 sockets.
fn raise_own_nofile() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE)
        && soft < hard
    {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
    }
}

/// The `error` of an API's error document, `None` when `body` is not one.
fn api_error(body: &str) -> Option<String> {
    serde_json::from_str::<ApiError>(body).ok().map(|e| e.error)
}

/// Whether `l` is the watcher's verdict that `backend` is now `to`.
fn health_of(l: &Line, backend: &str, to: Health) -> bool {
    matches!(&l.event, Event::Health(h) if h.backend == backend && h.to == to)
}

/// Two web backends, `observe` standing in for the route server, and the watcher.
struct Lab {
    watcher: Proc,
    rs: Proc,
    ws1: Proc,
    ws2: Proc,
    p2: u16,
    api: String,
    dir: PathBuf,
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Starts the lab; with `soft_nofile`, the watcher starts under that soft limit of
/// descriptors (the packaged unit had 1,024 before issue 10), as a shell's `ulimit`
/// would leave it.
fn start_lab(tag: &str, soft_nofile: Option<u32>) -> Lab {
    let (p1, p2) = (free_port(WS1), free_port(WS2));
    let bgp = free_port(RS);
    let api = format!("{WATCHER}:{}", free_port(WATCHER));
    let dir =
        std::env::temp_dir().join(format!("hopwatch-hostile-api-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("watcher.toml");
    let config = WatcherConfig {
        vips: vec![Vip::new(
            VIP,
            vec![Backend::web("ws1", WS1, p1), Backend::web("ws2", WS2, p2)],
        )],
        interval: Some("20ms"),
        timeout: Some("200ms"),
        fall: Some(3),
        rise: Some(2),
        failback_hold: Some("60s"),
        ..WatcherConfig::new(WATCHER, RS, bgp, &api)
    };
    std::fs::write(&cfg, config.to_toml()).unwrap();
    let ws1 = web(WS1, p1, "ws1");
    let ws2 = web(WS2, p2, "ws2");
    let mut rs = spawn(&[
        "observe",
        "--local-as",
        "65515",
        "--router-id",
        RS,
        "--listen",
        RS,
        "--port",
        &bgp.to_string(),
    ]);
    let bin = env!("CARGO_BIN_EXE_hopwatch");
    let cfg_s = cfg.to_str().unwrap().to_owned();
    let watcher = match soft_nofile {
        None => spawn(&["run", "-c", &cfg_s]),
        // `exec`: the PID the test stops is hopwatch's own.
        Some(n) => spawn_cmd(&[
            "sh",
            "-c",
            &format!("ulimit -Sn {n} 2>/dev/null; exec '{bin}' run -c '{cfg_s}'"),
        ]),
    };
    rs.wait_for("the VIP via ws1", |l| is_route(l, VIP, WS1));
    Lab {
        watcher,
        rs,
        ws1,
        ws2,
        p2,
        api,
        dir,
    }
}

/// `hopwatch route-server` with two instances, no data plane, its API on RS.
fn start_route_server() -> (Proc, String) {
    let bgp = free_port(RS);
    let api = format!("{RS}:{}", free_port(RS));
    let mut p = spawn(&[
        "route-server",
        "--instance",
        RS,
        "--instance",
        RS2,
        "--peer",
        &format!("{SPEAKER}:65001"),
        "--port",
        &bgp.to_string(),
        "--dataplane",
        "none",
        "--api",
        &api,
    ]);
    p.wait_for("started", |l| matches!(l.event, Event::Started(_)));
    (p, api)
}

#[test]
fn connections_that_never_finish_their_header_are_closed() {
    let lab = start_lab("slow", None);
    let (_rs, rs_api) = start_route_server();
    let rs_api2 = rs_api.clone();
    let other = std::thread::spawn(move || slow_clients_are_closed(&rs_api2));
    slow_clients_are_closed(&lab.api);
    other.join().unwrap();
    // And the APIs still answer.
    assert_eq!(http(&lab.api, "GET", "/status", "").0, 200);
    assert_eq!(http(&rs_api, "GET", "/peers", "").0, 200);
}

/// Opens `n` connections that send nothing; how many the server closed (or
/// answered, then closed) within a few seconds, and the connections themselves.
fn flood(addr: &str, n: usize) -> (usize, Vec<TcpStream>) {
    let mut conns: Vec<TcpStream> = (0..n).map(|_| TcpStream::connect(addr).unwrap()).collect();
    // The refused are closed at once; give a loaded machine 3 s to do it.
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut closed = vec![false; n];
    let mut buf = [0u8; 512];
    while Instant::now() < deadline && closed.iter().filter(|c| **c).count() < n {
        for (i, s) in conns.iter_mut().enumerate() {
            if closed[i] {
                continue;
            }
            s.set_nonblocking(true).unwrap();
            match s.read(&mut buf) {
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Ok(0) | Err(_) => closed[i] = true,
                // A refusal is answered (503), then closed.
                Ok(_) => closed[i] = true,
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    (closed.iter().filter(|c| **c).count(), conns)
}

#[test]
fn connections_past_the_cap_are_refused_counted_and_the_api_recovers() {
    let lab = start_lab("cap", None);
    let (_, text) = http(&lab.api, "GET", "/metrics", "");
    let cap = metric(&text, "hopwatch_api_connections_limit").map_or(DEFAULT_CAP, |v| v as usize);
    let extra = 16;
    let (closed, held) = flood(&lab.api, cap + extra);
    eprintln!(
        "watcher API: {} connections opened, cap {cap}: {closed} closed at once",
        cap + extra
    );
    assert!(
        closed >= extra - 1,
        "only {closed} of {} connections were refused past the cap of {cap}",
        cap + extra
    );
    drop(held);
    // A fresh connection works again once the idle ones are gone.
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        match try_http(&lab.api, "GET", "/status", "") {
            Ok((200, body)) => break body,
            other => {
                assert!(
                    Instant::now() < deadline,
                    "no /status after the flood: {other:?}"
                );
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    };
    let doc: Status = serde_json::from_str(&status).unwrap();
    assert_eq!(doc.vips[0].active.as_deref(), Some("ws1"), "{status}");
    let (_, text) = http(&lab.api, "GET", "/metrics", "");
    let refused = metric(
        &text,
        "hopwatch_api_connections_refused_total{reason=\"limit\"}",
    )
    .unwrap_or(0.0);
    assert!(
        refused >= (extra - 1) as f64,
        "the refusals are not counted: {refused}\n{text}"
    );

    // The route server's API has the same cap.
    let (_rs, rs_api) = start_route_server();
    let (closed, held) = flood(&rs_api, DEFAULT_CAP + 8);
    eprintln!(
        "route server API: {} connections opened: {closed} closed at once",
        DEFAULT_CAP + 8
    );
    assert!(
        closed >= 7,
        "only {closed} refused past the route server's cap"
    );
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(10);
    while try_http(&rs_api, "GET", "/peers", "").map(|r| r.0) != Ok(200) {
        assert!(Instant::now() < deadline, "no /peers after the flood");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// An attacker that opens up to 2,000 API connections and keeps every one the
/// server leaves open, opening more as the server closes them.
struct Attacker {
    stop: Arc<AtomicBool>,
    attempts: Arc<AtomicUsize>,
    most_held: Arc<AtomicUsize>,
    thread: std::thread::JoinHandle<()>,
}

fn attack(addr: &str) -> Attacker {
    let addr: SocketAddr = addr.parse().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let attempts = Arc::new(AtomicUsize::new(0));
    let most_held = Arc::new(AtomicUsize::new(0));
    let (s, a, m) = (stop.clone(), attempts.clone(), most_held.clone());
    let thread = std::thread::spawn(move || {
        let mut open: Vec<TcpStream> = Vec::new();
        let mut wave = 2000;
        let mut buf = [0u8; 1];
        while !s.load(Ordering::Relaxed) {
            // A connection the server closed or answered (refused) is let go.
            open.retain(
                |c| matches!(c.peek(&mut buf), Err(e) if e.kind() == ErrorKind::WouldBlock),
            );
            m.fetch_max(open.len(), Ordering::Relaxed);
            for _ in 0..wave {
                if open.len() >= 2000 || s.load(Ordering::Relaxed) {
                    break;
                }
                a.fetch_add(1, Ordering::Relaxed);
                match TcpStream::connect_timeout(&addr, Duration::from_millis(100)) {
                    Ok(c) => {
                        let _ = c.set_nonblocking(true);
                        open.push(c);
                    }
                    // The backlog is full or the server is out of descriptors.
                    Err(_) => break,
                }
            }
            // After the first wave, replace what the server closed, 200 at a time.
            wave = 200;
            std::thread::sleep(Duration::from_millis(200));
        }
    });
    Attacker {
        stop,
        attempts,
        most_held,
        thread,
    }
}

#[test]
fn health_verdicts_stay_right_while_an_attacker_holds_the_api() {
    raise_own_nofile();
    // The watcher starts as the packaged unit started it before issue 10: 1,024
    // descriptors.
    let mut lab = start_lab("attack", Some(1024));
    let attacker = attack(&lab.api);
    // The first wave (2,000 connections) and a few replacement rounds.
    std::thread::sleep(Duration::from_secs(3));
    // The probes of a running backend reuse their keep-alive connections; a backend
    // that restarts needs new sockets, which an API holding every descriptor starves
    // (issue 10: a restarted ws2 stayed down for 8 s).
    lab.ws2.child.kill().unwrap();
    let _ = lab.ws2.child.wait();
    lab.watcher
        .wait_for("ws2 down", |l| health_of(l, "ws2", Health::Down));
    std::thread::sleep(Duration::from_secs(2));
    lab.ws2 = web(WS2, lab.p2, "ws2");
    let restarted = Instant::now();
    let up = lab
        .watcher
        .try_wait_for(Duration::from_secs(5), |l| health_of(l, "ws2", Health::Up));
    let up_after = restarted.elapsed();
    let killed = Instant::now();
    lab.ws1.child.kill().unwrap();
    let _ = lab.ws1.child.wait();
    let moved = lab.watcher.try_wait_for(
        Duration::from_secs(5),
        |l| matches!(&l.event, Event::Move(m) if m.to.as_deref() == Some("ws2")),
    );
    let move_after = killed.elapsed();
    attacker.stop.store(true, Ordering::Relaxed);
    attacker.thread.join().unwrap();
    let attempts = attacker.attempts.load(Ordering::Relaxed);
    let most_held = attacker.most_held.load(Ordering::Relaxed);
    eprintln!(
        "attacker: {attempts} connection attempts, at most {most_held} API connections held at once; \
         restarted ws2 up after {:?}; kill of ws1 to move {:?}",
        up.as_ref().map(|_| up_after),
        moved.as_ref().map(|_| move_after),
    );
    assert!(
        up.is_some(),
        "the restarted ws2 was not found up within 5 s during the attack"
    );
    assert!(
        moved.is_some(),
        "the VIP did not leave the dead ws1 within 5 s during the attack"
    );
    lab.rs
        .wait_for("the VIP via ws2", |l| is_route(l, VIP, WS2));
    // After the attack, `ctl` works and says so.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (ok, out, err) = ctl(&lab.api, &["--json", "status"]);
        if ok {
            let doc: Status = serde_json::from_str(&out).unwrap();
            assert_eq!(doc.vips[0].active.as_deref(), Some("ws2"), "{out}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "ctl status after the attack: {err}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let (_, text) = http(&lab.api, "GET", "/metrics", "");
    eprintln!(
        "watcher: {:?} connections refused at the cap, {:?} for want of descriptors, \
         {:?} closed by the header timeout",
        metric(
            &text,
            "hopwatch_api_connections_refused_total{reason=\"limit\"}"
        ),
        metric(
            &text,
            "hopwatch_api_connections_refused_total{reason=\"descriptors\"}"
        ),
        metric(
            &text,
            "hopwatch_api_connections_closed_by_limit_total{reason=\"header\"}"
        ),
    );
}

#[test]
fn restart_instance_refuses_an_unknown_instance_and_an_unbounded_delay() {
    let (mut rs, api) = start_route_server();
    let (code, body) = http(&api, "POST", "/restart", r#"{"instance": "127.91.1.99"}"#);
    assert_eq!(code, 404, "{body}");
    let e: ApiError = serde_json::from_str(&body).unwrap();
    assert!(e.error.contains("127.91.1.99"), "{body}");
    let (ok, _, err) = ctl(&api, &["restart-instance", "127.91.1.99"]);
    assert!(!ok, "ctl restart-instance of an unknown instance exited 0");
    assert!(err.contains("404"), "{err}");

    for after in ["18446744073709551615", "3600001"] {
        let (code, body) = http(
            &api,
            "POST",
            "/restart",
            &format!(r#"{{"instance": "{RS}", "after_ms": {after}}}"#),
        );
        assert_eq!(code, 400, "after_ms {after}: {body}");
        assert!(body.contains("after_ms"), "{body}");
    }
    let (ok, _, err) = ctl(
        &api,
        &["restart-instance", RS, "--after-ms", "18446744073709551615"],
    );
    assert!(!ok, "ctl restart-instance with an unbounded delay exited 0");
    assert!(err.contains("400"), "{err}");
    assert!(
        !rs.seen
            .iter()
            .any(|l| matches!(l.event, Event::InstanceStopped(_))),
        "a refused restart stopped an instance"
    );

    // A bounded one works, and the instance comes back.
    let (ok, _, err) = ctl(&api, &["restart-instance", RS2, "--after-ms", "200"]);
    assert!(ok, "{err}");
    rs.wait_for("the instance back", |l| {
        matches!(l.event, Event::InstanceStarted(_)) && l.instance == Some(ip_addr(RS2))
    });
}

#[test]
fn api_errors_clip_echoed_input_and_unknown_paths_answer_json() {
    let lab = start_lab("echo", None);
    let long = "x".repeat(100_000);
    for (what, path, body, want) in [
        (
            "a long backend name",
            "/drain",
            format!(r#"{{"backend": "{long}"}}"#),
            404,
        ),
        (
            "a long VIP",
            "/drain",
            format!(r#"{{"backend": "ws1", "vip": "{long}"}}"#),
            400,
        ),
        (
            "a long unknown field",
            "/drain",
            format!(r#"{{"{long}": 1}}"#),
            400,
        ),
    ] {
        let (code, body) = http(&lab.api, "POST", path, &body);
        assert_eq!(code, want, "{what}: {}", &body[..body.len().min(300)]);
        assert!(
            body.len() < 1000,
            "{what}: the error echoes {} bytes",
            body.len()
        );
        let e: ApiError = serde_json::from_str(&body).unwrap();
        assert!(e.error.contains('…'), "{what}: {body}");
    }
    let (code, body) = http(&lab.api, "GET", "/no/such/thing", "");
    assert_eq!(code, 404);
    assert_eq!(
        api_error(&body).as_deref(),
        Some("no such path: /no/such/thing"),
        "{body:?}"
    );
    let (code, body) = http(&lab.api, "DELETE", "/status", "");
    assert_eq!(code, 405);
    assert!(
        api_error(&body).is_some(),
        "405 without a JSON error: {body:?}"
    );

    let (_rs, rs_api) = start_route_server();
    let (code, body) = http(&rs_api, "GET", "/nope", "");
    assert_eq!(code, 404);
    assert_eq!(
        api_error(&body).as_deref(),
        Some("no such path: /nope"),
        "{body:?}"
    );
    let (code, body) = http(&rs_api, "POST", "/peers", "");
    assert_eq!(code, 405);
    assert!(
        api_error(&body).is_some(),
        "405 without a JSON error: {body:?}"
    );
    let (code, body) = http(&rs_api, "POST", "/restart", &format!(r#"{{"{long}": 1}}"#));
    assert_eq!(code, 400);
    assert!(body.len() < 1000, "the error echoes {} bytes", body.len());
}

#[test]
fn the_packaged_units_leave_descriptors_for_the_probes() {
    // The watcher needs the most; every long-running role gets the same room.
    for unit in [
        include_str!("../../../packaging/hopwatch-run.service"),
        include_str!("../../../packaging/hopwatch-web.service"),
        include_str!("../../../packaging/hopwatch-observe.service"),
        include_str!("../../../packaging/hopwatch-load.service"),
    ] {
        let limit = unit
            .lines()
            .find_map(|l| l.strip_prefix("LimitNOFILE="))
            .and_then(|v| v.trim().parse::<u64>().ok());
        assert!(
            limit.is_some_and(|n| n >= 65_536),
            "no LimitNOFILE of at least 65536 in:\n{unit}"
        );
    }
}
