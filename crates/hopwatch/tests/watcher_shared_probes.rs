//! One probe per distinct check target, on loopback: VIPs whose backends name the
//! same check share one probe stream and all take its verdicts; a VIP that names
//! another URL gets a stream of its own; a VIP added by a reload takes the verdicts
//! a shared probe already has. The backends are one HTTP server in this
//! test that counts requests per path and fails the paths it is told to.

// In a test a panic is a failed test.
#![allow(clippy::unwrap_used)]

mod loopback;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use loopback::events::is_route;
use loopback::watcher_config::{Backend, Vip, WatcherConfig};
use loopback::{free_port, spawn};

const SERVER: &str = "127.27.0.4";
const WS1: &str = "127.27.0.5";
const WS2: &str = "127.27.0.6";
const WATCHER: &str = "127.27.0.7";
const RS: &str = "127.27.1.4";
const SHARED_A: &str = "100.64.0.1/32";
const SHARED_B: &str = "100.64.0.2/32";
const OWN: &str = "100.64.0.3/32";
const ADDED: &str = "100.64.0.4/32";

/// Requests served per path, and the paths that answer 500.
#[derive(Default)]
struct Counts {
    served: HashMap<String, u64>,
    failing: HashSet<String>,
}

/// An HTTP/1.1 server on `SERVER` that answers every path 200 (500 when told to)
/// on keep-alive connections, counting requests per path. Its threads end with the
/// test process.
fn counting_server() -> (u16, Arc<Mutex<Counts>>) {
    let listener = TcpListener::bind((SERVER, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let counts = Arc::new(Mutex::new(Counts::default()));
    let shared = counts.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let counts = shared.clone();
            std::thread::spawn(move || serve(stream, &counts));
        }
    });
    (port, counts)
}

fn serve(stream: TcpStream, counts: &Mutex<Counts>) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        // The headers, to the empty line.
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            if h == "\r\n" || h == "\n" {
                break;
            }
        }
        let path = request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or("")
            .to_string();
        let fail = {
            let mut c = counts.lock().unwrap();
            *c.served.entry(path.clone()).or_default() += 1;
            c.failing.contains(&path)
        };
        let status = if fail {
            "500 Internal Server Error"
        } else {
            "200 OK"
        };
        let answer = format!("HTTP/1.1 {status}\r\nContent-Length: 2\r\n\r\nok");
        if writer.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

fn served(counts: &Mutex<Counts>, path: &str) -> u64 {
    counts
        .lock()
        .unwrap()
        .served
        .get(path)
        .copied()
        .unwrap_or(0)
}

#[test]
fn vips_that_name_one_check_share_one_probe_and_all_take_its_verdicts() {
    let (port, counts) = counting_server();
    let url = |path: &str| format!("http://{SERVER}:{port}{path}");
    let bgp = free_port(RS);
    let api = format!("{WATCHER}:{}", free_port(WATCHER));
    let dir = std::env::temp_dir().join(format!("hopwatch-shared-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("watcher.toml");
    let pair = |ws1_path: &str| {
        vec![
            Backend::new("ws1", WS1, url(ws1_path)),
            Backend::new("ws2", WS2, url("/ws2")),
        ]
    };
    let config = WatcherConfig {
        vips: vec![
            Vip::new(SHARED_A, pair("/ws1")),
            Vip::new(SHARED_B, pair("/ws1")),
            Vip::new(OWN, pair("/own")),
        ],
        interval: Some("20ms"),
        timeout: Some("100ms"),
        fall: Some(2),
        rise: Some(2),
        ..WatcherConfig::new(WATCHER, RS, bgp, &api)
    };
    std::fs::write(&cfg, config.to_toml()).unwrap();

    let check = std::process::Command::new(env!("CARGO_BIN_EXE_hopwatch"))
        .args(["check", "-c", cfg.to_str().unwrap()])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success() && said.contains("3 probe streams for 6 backends of 3 VIPs"),
        "check: {said}{}",
        String::from_utf8_lossy(&check.stderr)
    );

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
    let watcher = spawn(&["run", "-c", cfg.to_str().unwrap()]);
    for vip in [SHARED_A, SHARED_B, OWN] {
        rs.wait_for(&format!("{vip} via ws1"), |l| is_route(l, vip, WS1));
    }

    // Over one second: one stream for the two VIPs that share /ws1, one for the VIP
    // of its own, one for /ws2 that all three share. Each stream makes about 50
    // requests; two streams for /ws1 would make about 100.
    let before: Vec<u64> = ["/ws1", "/own", "/ws2"]
        .iter()
        .map(|p| served(&counts, p))
        .collect();
    std::thread::sleep(Duration::from_secs(1));
    let made: Vec<u64> = ["/ws1", "/own", "/ws2"]
        .iter()
        .zip(&before)
        .map(|(p, b)| served(&counts, p) - b)
        .collect();
    let (shared, own, ws2) = (made[0], made[1], made[2]);
    assert!(own >= 20, "the VIP's own stream made {own} requests in 1 s");
    assert!(
        shared * 2 < own * 3 && ws2 * 2 < own * 3,
        "/ws1 (two VIPs) got {shared} requests, /ws2 (three VIPs) {ws2}, /own (one VIP) {own}: \
         shared checks must be one stream each"
    );

    // The shared check fails: both VIPs that use it move, the other stays.
    counts.lock().unwrap().failing.insert("/ws1".into());
    for vip in [SHARED_A, SHARED_B] {
        rs.wait_for(&format!("{vip} via ws2"), |l| is_route(l, vip, WS2));
    }
    assert!(
        rs.try_wait_for(Duration::from_millis(500), |l| is_route(l, OWN, WS2))
            .is_none(),
        "the VIP with a check of its own moved with the others"
    );

    // A VIP added by a reload that names the shared checks takes their verdicts at
    // once (ws1 down, ws2 up): it is announced via ws2, though neither probe's
    // verdict changes again.
    let mut more = config.clone();
    more.vips.push(Vip::new(ADDED, pair("/ws1")));
    std::fs::write(&cfg, more.to_toml()).unwrap();
    watcher.signal("HUP");
    rs.wait_for(&format!("{ADDED} via ws2"), |l| is_route(l, ADDED, WS2));
    let _ = std::fs::remove_dir_all(&dir);
}
