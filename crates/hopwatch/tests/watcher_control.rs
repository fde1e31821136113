//! The watcher's control surface on loopback: the bearer token (401 without it,
//! never echoed), a malformed request (400), Prometheus metrics, RFC 5424 syslog of
//! each decision, and SIGHUP reloads that add a VIP without dropping the session
//! and refuse a broken config while changing nothing.

// In a test a panic is a failed test.
#![allow(clippy::unwrap_used)]

mod loopback;

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::time::Duration;

use hopwatch_events::Event;
use hopwatch_events::watcher::Status;
use loopback::events::is_route_via;
use loopback::watcher_config::{Backend, Vip, WatcherConfig};
use loopback::{free_port, spawn, web};

const WS1: &str = "127.23.0.4";
const WS2: &str = "127.23.0.5";
const WATCHER: &str = "127.23.0.7";
const RS: &str = "127.23.1.4";
const TOKEN: &str = "s3cret-token-0123456789";

/// One HTTP/1.1 request; returns (status, body).
fn http(api: &str, method: &str, path: &str, token: Option<&str>, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(api).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {api}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn config(bgp: u16, api: &str, p1: u16, p2: u16, syslog: &str, extra_vip: bool) -> String {
    let mut c = WatcherConfig {
        hold_time: None,
        vips: vec![Vip::new(
            "100.64.0.1/32",
            vec![
                Backend::web("ws1", WS1, p1),
                Backend::new("ws2", WS2, format!("tcp://{WS2}:{p2}")),
            ],
        )],
        token: Some(TOKEN.into()),
        syslog: Some((syslog.into(), "local3")),
        ..WatcherConfig::new(WATCHER, RS, bgp, api)
    };
    if extra_vip {
        c.vips.push(Vip::new(
            "100.64.0.2/32",
            vec![Backend::new("ws2", WS2, format!("http://{WS2}:{p2}/"))],
        ));
    }
    c.to_toml()
}

#[test]
fn token_metrics_syslog_and_reload_work_as_an_operator_expects() {
    let (p1, p2) = (free_port(WS1), free_port(WS2));
    let bgp = free_port(RS);
    let api = format!("{WATCHER}:{}", free_port(WATCHER));
    let syslog = UdpSocket::bind("127.23.0.9:0").unwrap();
    syslog
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let syslog_addr = syslog.local_addr().unwrap().to_string();
    let dir = std::env::temp_dir().join(format!("hopwatch-control-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("watcher.toml");
    std::fs::write(&cfg, config(bgp, &api, p1, p2, &syslog_addr, false)).unwrap();

    let mut ws1 = web(WS1, p1, "ws1");
    let _ws2 = web(WS2, p2, "ws2");
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
    let cfg_s = cfg.to_str().unwrap().to_owned();
    let mut watcher = spawn(&["run", "-c", &cfg_s]);
    rs.wait_for("the VIP", |l| is_route_via(l, WS1));

    // The token: 401 without it or with a wrong one, and never echoed.
    let (code, body) = http(&api, "GET", "/status", None, "");
    assert_eq!(code, 401, "{body}");
    assert!(!body.contains(TOKEN));
    let (code, _) = http(&api, "GET", "/status", Some("wrong-token-wrong-token"), "");
    assert_eq!(code, 401);
    let (code, body) = http(&api, "GET", "/status", Some(TOKEN), "");
    assert_eq!(code, 200, "{body}");
    let status: Status = serde_json::from_str(&body).unwrap();
    assert_eq!(status.vips[0].active.as_deref(), Some("ws1"), "{body}");
    assert!(!body.contains(TOKEN), "the status echoes the token");

    // Malformed input: 400 with a message, nothing changes.
    let (code, body) = http(&api, "POST", "/drain", Some(TOKEN), "{\"backend\": ");
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("bad JSON"), "{body}");
    let (code, _) = http(
        &api,
        "POST",
        "/drain",
        Some(TOKEN),
        "{\"backend\": \"ws1\", \"colour\": 1}",
    );
    assert_eq!(code, 400);

    // Metrics in Prometheus' text format.
    let (code, metrics) = http(&api, "GET", "/metrics", Some(TOKEN), "");
    assert_eq!(code, 200);
    for name in [
        "hopwatch_backend_up{",
        "hopwatch_probe_latency_seconds_bucket{",
        "hopwatch_session_established{",
    ] {
        assert!(metrics.contains(name), "{name} missing from:\n{metrics}");
    }

    // Kill ws1: the move is logged to syslog in RFC 5424 form.
    ws1.child.kill().unwrap();
    let _ = ws1.child.wait();
    rs.wait_for("the move", |l| is_route_via(l, WS2));
    let mut buf = [0u8; 2048];
    let mut lines = Vec::new();
    while !lines.iter().any(|l: &String| l.contains("(failover)")) {
        let n = syslog.recv(&mut buf).expect("a syslog message within 10 s");
        lines.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    let mv = lines.iter().find(|l| l.contains("(failover)")).unwrap();
    assert!(mv.starts_with("<156>1 "), "local3.warning is <156>: {mv}");
    assert!(
        mv.contains("100.64.0.1/32 moves ws1 -> ws2 (failover)"),
        "{mv}"
    );

    // SIGHUP with a broken config: refused, nothing changes.
    std::fs::write(&cfg, "[bgp]\nlocal_as = \n").unwrap();
    watcher.signal("HUP");
    let refused = watcher.wait_for("the refusal", |l| match &l.event {
        Event::ReloadRefused(r) => Some(r.clone()),
        _ => None,
    });
    assert!(refused.errors[0].contains("watcher.toml:2"), "{refused:?}");

    // SIGHUP with a second VIP: announced, and the session never drops.
    std::fs::write(&cfg, config(bgp, &api, p1, p2, &syslog_addr, true)).unwrap();
    watcher.signal("HUP");
    let done = watcher.wait_for("the reload", |l| match &l.event {
        Event::Reloaded(r) => Some(r.clone()),
        _ => None,
    });
    assert_eq!(done.vips_kept, 1, "the unchanged VIP was rebuilt: {done:?}");
    rs.wait_for(
        "the new VIP",
        |l| matches!(&l.event, Event::Update(u) if u.prefix == "100.64.0.2/32"),
    );
    assert!(
        !rs.seen.iter().any(|l| matches!(l.event, Event::Down(_))),
        "the session dropped during the reload"
    );

    watcher.signal("TERM");
    assert!(watcher.exit_success());
    let _ = std::fs::remove_dir_all(&dir);
}
