//! The APIs take no orders from a web page, a token
//! set by SIGHUP applies at once, and `check` warns of a token sent in clear text.
//!
//! - A page open in an operator's browser can send `POST /drain` (or `/shutdown`)
//!   to the watcher's API with `fetch(..., {mode: 'no-cors'})`: the browser sends it
//!   with `Content-Type: text/plain` or a form's encoding and an `Origin` header, and
//!   a DNS-rebound name reaches the API with that name as `Host`. A state-changing
//!   request without `Content-Type: application/json` gets 415, and a request with
//!   an `Origin`, or with a `Host` that is neither an address nor `localhost`, gets
//!   403. `ctl`, `curl` and Prometheus send neither.
//! - `[api] token` set, changed or removed by a SIGHUP reload applies to the next
//!   request: the old token no longer works.
//! - `hopwatch check` warns of a token sent over plain HTTP off loopback.
//!
//! Loopback only (127.92.0.0/16); children are stopped by PID; every wait bounded.

// In a test a panic is a failed test.
#![allow(clippy::unwrap_used)]

mod loopback;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::Duration;

use hopwatch_events::Event;
use hopwatch_events::watcher::Status;
use loopback::watcher_config::{Backend, Vip, WatcherConfig};
use loopback::web_pair::{Addrs, WebPair};
use loopback::{free_port, spawn};

const WS1: &str = "127.92.0.4";
const WS2: &str = "127.92.0.5";
const WATCHER: &str = "127.92.0.7";
const SPEAKER: &str = "127.92.0.8";
const RS: &str = "127.92.1.4";
const VIP: &str = "100.64.0.1/32";

/// One request on a new connection with exactly `headers` (plus Content-Length and
/// Connection: close); (status, body).
fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let sa: SocketAddr = addr.parse().unwrap();
    let mut s = TcpStream::connect_timeout(&sa, Duration::from_secs(2)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    ));
    s.write_all(head.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let out = String::from_utf8_lossy(&out).into_owned();
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {out:?}"));
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// The lab's addresses: 127.92.0.0/16.
const ADDRS: Addrs = Addrs {
    ws1: WS1,
    ws2: WS2,
    watcher: WATCHER,
    rs: RS,
    vip: VIP,
};

fn start(tag: &str) -> WebPair {
    WebPair::start(&format!("hostile-browser-{tag}"), ADDRS, |c| {
        c.interval = Some("20ms");
        c.timeout = Some("200ms");
        c.failback_hold = Some("60s");
    })
}

/// The watcher's status, asked as `ctl` asks (with `token` if given).
fn status(lab: &WebPair, token: Option<&str>) -> (u16, Option<Status>) {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("Host", lab.api.as_str())];
    if let Some(a) = &auth {
        headers.push(("Authorization", a));
    }
    let (code, body) = request(&lab.api, "GET", "/status", &headers, "");
    (code, serde_json::from_str(&body).ok())
}

fn ws1_drained(lab: &WebPair) -> bool {
    let (_, s) = status(lab, None);
    let s = s.expect("a status document");
    s.vips
        .iter()
        .flat_map(|v| &v.backends)
        .any(|b| b.name == "ws1" && b.drained)
}

#[test]
fn requests_a_web_page_can_send_are_refused_and_ctl_still_works() {
    let mut lab = start("browser");
    let api = lab.api.clone();
    let drain = r#"{"backend": "ws1"}"#;
    // What `fetch(url, {method: 'POST', mode: 'no-cors', body})` sends: a simple
    // content type, and an Origin.
    for (ct, body) in [
        ("text/plain;charset=UTF-8", drain),
        ("application/x-www-form-urlencoded", "backend=ws1"),
        ("multipart/form-data; boundary=x", drain),
    ] {
        let (code, body) = request(
            &api,
            "POST",
            "/drain",
            &[("Host", &api), ("Content-Type", ct)],
            body,
        );
        assert_eq!(code, 415, "POST /drain as {ct}: {body}");
        assert!(body.contains("application/json"), "{body}");
    }
    let (code, body) = request(&api, "POST", "/drain", &[("Host", &api)], drain);
    assert_eq!(code, 415, "POST /drain without a content type: {body}");
    for origin in ["http://evil.example", "null", &format!("http://{api}")] {
        let (code, body) = request(
            &api,
            "POST",
            "/drain",
            &[
                ("Host", &api),
                ("Content-Type", "application/json"),
                ("Origin", origin),
            ],
            drain,
        );
        assert_eq!(code, 403, "POST /drain from Origin {origin}: {body}");
        assert!(body.starts_with("{\"error\""), "{body}");
    }
    assert!(!ws1_drained(&lab), "a refused request drained ws1");
    // DNS rebinding: the page's own name, now resolving to the API's address.
    for host in [
        "evil.example",
        "evil.example:9179",
        "rebind.127.92.0.7.nip.io",
    ] {
        let (code, body) = request(&api, "GET", "/status", &[("Host", host)], "");
        assert_eq!(code, 403, "GET /status with Host {host}: {body}");
    }
    // What ctl, curl and a tunnel send: the address, localhost, a loopback address
    // with another port.
    for host in [api.as_str(), "localhost:19179", "127.0.0.1:19179", WATCHER] {
        let (code, body) = request(&api, "GET", "/status", &[("Host", host)], "");
        assert_eq!(code, 200, "GET /status with Host {host}: {body}");
    }
    let (code, _) = request(&api, "GET", "/metrics", &[], "");
    assert_eq!(
        code, 200,
        "an HTTP client that sends no Host (HTTP/1.0 style)"
    );
    // ctl, as before.
    let ctl = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_hopwatch"))
            .args(["ctl", "--api", &api])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "ctl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    ctl(&["drain", "ws1"]);
    assert!(ws1_drained(&lab));
    ctl(&["undrain", "ws1"]);
    assert!(!ws1_drained(&lab));
    // A shutdown from a page: refused, and the watcher runs on.
    let (code, _) = request(
        &api,
        "POST",
        "/shutdown",
        &[("Host", &api), ("Content-Type", "text/plain")],
        r#"{"withdraw": true}"#,
    );
    assert_eq!(code, 415);
    assert!(
        matches!(lab.watcher.child.try_wait(), Ok(None)),
        "the watcher stopped"
    );
    ctl(&["shutdown"]);
    assert!(lab.watcher.exit_success(), "ctl shutdown still stops it");
}

#[test]
fn the_route_servers_api_refuses_pages_too() {
    let bgp = free_port(RS);
    let api = format!("{RS}:{}", free_port(RS));
    let mut rs = spawn(&[
        "route-server",
        "--instance",
        RS,
        "--peer",
        &format!("{SPEAKER}:65001"),
        "--port",
        &bgp.to_string(),
        "--dataplane",
        "none",
        "--api",
        &api,
    ]);
    rs.wait_for("started", |l| matches!(l.event, Event::Started(_)));
    let (code, _) = request(&api, "GET", "/peers", &[("Host", &api)], "");
    assert_eq!(code, 200);
    let (code, body) = request(&api, "GET", "/peers", &[("Host", "evil.example")], "");
    assert_eq!(code, 403, "{body}");
    let (code, body) = request(
        &api,
        "GET",
        "/peers",
        &[("Host", &api), ("Origin", "http://evil.example")],
        "",
    );
    assert_eq!(code, 403, "{body}");
}

#[test]
fn a_token_set_or_changed_by_sighup_applies_at_once() {
    let mut lab = start("token");
    assert_eq!(status(&lab, None).0, 200);
    let mut with_token = lab.config.clone();
    with_token.token = Some("first-secret-0123456789".into());
    std::fs::write(&lab.cfg, with_token.to_toml()).unwrap();
    lab.watcher.signal("HUP");
    lab.watcher
        .wait_for("reloaded", |l| matches!(l.event, Event::Reloaded(_)));
    assert_eq!(status(&lab, None).0, 401, "no token after one was set");
    assert_eq!(status(&lab, Some("first-secret-0123456789")).0, 200);

    with_token.token = Some("second-secret-0123456789".into());
    std::fs::write(&lab.cfg, with_token.to_toml()).unwrap();
    lab.watcher.signal("HUP");
    lab.watcher
        .wait_for("reloaded", |l| matches!(l.event, Event::Reloaded(_)));
    assert_eq!(
        status(&lab, Some("first-secret-0123456789")).0,
        401,
        "the old token"
    );
    assert_eq!(status(&lab, Some("second-secret-0123456789")).0, 200);

    std::fs::write(&lab.cfg, lab.config.to_toml()).unwrap();
    lab.watcher.signal("HUP");
    lab.watcher
        .wait_for("reloaded", |l| matches!(l.event, Event::Reloaded(_)));
    assert_eq!(status(&lab, None).0, 200, "the token removed");
}

#[test]
fn check_warns_of_a_token_sent_in_clear_text_off_loopback() {
    let dir = std::env::temp_dir().join(format!("hopwatch-check-token-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let run = |listen: &str, token: Option<&str>| {
        let config = WatcherConfig {
            vips: vec![Vip::new(VIP, vec![Backend::web("ws1", "10.10.0.4", 80)])],
            token: token.map(str::to_string),
            ..WatcherConfig::new("10.10.0.7", "10.10.1.4", 179, listen)
        };
        let cfg = dir.join("w.toml");
        std::fs::write(&cfg, config.to_toml()).unwrap();
        // `check` reads and explains the file; it connects to nothing.
        let out = Command::new(env!("CARGO_BIN_EXE_hopwatch"))
            .args(["check", "-c", cfg.to_str().unwrap()])
            .output()
            .unwrap();
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };
    let off = run("10.10.0.7:9179", Some("s3cret-0123456789abcdef"));
    assert!(off.contains("clear text"), "{off}");
    let on = run("127.0.0.1:9179", Some("s3cret-0123456789abcdef"));
    assert!(!on.contains("clear text"), "{on}");
    let none = run("10.10.0.7:9179", None);
    assert!(!none.contains("clear text"), "{none}");
    let _ = std::fs::remove_dir_all(&dir);
}
