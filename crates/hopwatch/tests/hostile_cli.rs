//! Hostile input to the CLI's one-shot commands and to the watcher's stdout (issue
//! 10, findings 5 and 8): `check -c /dev/zero` ends with an error; a reader that
//! closes stdout early (`| head -1`) causes no panic; `load` against a closed port
//! prints no latency figure and fails; a route server flooding the watcher with
//! foreign routes gets a summary on its stdout, not a line per route.
//!
//! Everything runs on 127.53.0.0/16, is bounded in time, and stops its children by
//! PID (`loopback::Proc` on drop).

// In a test a panic is a failed test.
#![allow(clippy::unwrap_used)]

mod loopback;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use hopwatch_events::Event;
use loopback::events::is_route;
use loopback::watcher_config::{Backend, Vip, WatcherConfig};
use loopback::{free_port, spawn, spawn_with, web};

const BIN: &str = env!("CARGO_BIN_EXE_hopwatch");
const WS1: &str = "127.53.0.4";
const WATCHER: &str = "127.53.0.7";
const DEAD: &str = "127.53.0.9";
const RS: &str = "127.53.1.4";
const VIP: &str = "100.64.0.1/32";

fn repo_file(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hopwatch-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Waits at most `limit` for `child` to exit, then collects its output; a child still
/// running is killed by PID and the test fails.
fn finish_within(mut child: Child, limit: Duration, what: &str) -> Output {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return child.wait_with_output().unwrap();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    panic!(
        "{what} still running after {limit:?} (killed); stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `hopwatch ARGS` with its stdout a pipe whose reader is already gone, as
/// `hopwatch ... | head -1` leaves it once head has exited: every write gets EPIPE.
fn run_with_stdout_closed(args: &[&str]) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    finish_within(child, Duration::from_secs(20), &format!("{args:?}"))
}

#[test]
fn check_of_dev_zero_ends_with_an_error_naming_the_file() {
    // Under a 2 GB address-space limit, so that a regression (reading without a
    // bound) fails this test instead of eating the machine's memory.
    let child = Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 2000000; exec \"$0\" check -c /dev/zero")
        .arg(BIN)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = finish_within(child, Duration::from_secs(10), "check -c /dev/zero");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("/dev/zero") && stderr.contains("1 MiB"),
        "the error names the file and the bound: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_reader_closing_stdout_early_causes_no_panic() {
    let example = repo_file("examples/watcher.toml");
    let out = run_with_stdout_closed(&["check", "-c", example.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "check: {stderr}");
    assert!(out.status.success(), "check: {:?} {stderr}", out.status);
    assert!(
        stderr.is_empty(),
        "check says nothing about the pipe: {stderr}"
    );

    let dir = temp_dir("hostile-cli-azure");
    let azure = repo_file("examples/azure.toml");
    let out = run_with_stdout_closed(&[
        "azure",
        "render",
        "-c",
        azure.to_str().unwrap(),
        "-o",
        dir.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "azure render: {stderr}");
    assert!(
        out.status.success(),
        "azure render: {:?} {stderr}",
        out.status
    );
    assert!(
        dir.join("deploy.sh").exists(),
        "the files are written all the same"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `hopwatch load` against a port nothing listens on, for 300 ms.
fn load_args(url: &str) -> Vec<&str> {
    vec![
        "load",
        url,
        "--rate",
        "200",
        "--duration",
        "300ms",
        "--timeout",
        "200ms",
    ]
}

#[test]
fn load_against_a_closed_port_prints_no_latency_and_fails() {
    let url = format!("http://{DEAD}:{}/", free_port(DEAD));
    let child = Command::new(BIN)
        .args(load_args(&url))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = finish_within(child, Duration::from_secs(20), "load");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let latency = stdout
        .lines()
        .find(|l| l.starts_with("latency"))
        .unwrap_or_else(|| panic!("no latency line: {stdout}"));
    assert!(
        !latency.contains("p50") && latency.contains("no successful request"),
        "no latency figure without a success: {stdout}"
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "every request failed: exit 3 ({stdout} {stderr})"
    );
    assert!(stderr.contains("no request succeeded"), "{stderr}");

    // And with nobody reading stdout: the same verdict, no panic.
    let out = run_with_stdout_closed(&load_args(&url));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(3), "{stderr}");
}

/// How many JSON lines `watcher` printed, and how many of them were single routes
/// that are not the VIP, once the foreign routes are all in (or 30 s have passed).
fn watcher_lines_once_flooded(watcher: &mut loopback::Proc, foreign: u64) -> (usize, u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let (mut summarised, mut one_by_one) = (0, 0);
    while Instant::now() < deadline && summarised + one_by_one < foreign {
        let Some(l) = watcher.try_wait_for(Duration::from_millis(200), |l| {
            matches!(l.event, Event::RoutesReceived(_) | Event::Update(_))
        }) else {
            continue;
        };
        match &l.event {
            Event::RoutesReceived(r) => summarised += r.foreign_announced,
            Event::Update(u) if u.prefix != VIP => one_by_one += 1,
            _ => {}
        }
    }
    // Anything printed in the next second counts too.
    let _ = watcher.try_wait_for(Duration::from_secs(1), |_| false);
    (watcher.seen.len(), one_by_one)
}

#[test]
fn a_route_server_flooding_foreign_routes_gets_a_summary_not_a_line_each() {
    const FOREIGN: u64 = 20_000;
    let health = free_port(WS1);
    let _ws1 = web(WS1, health, "ws1");
    let bgp = free_port(RS);
    let bgp_s = bgp.to_string();
    // The hostile route server: it accepts the watcher and announces 20,000 routes.
    let mut rs = spawn_with(
        &[
            "speak",
            "--local-as",
            "65515",
            "--router-id",
            RS,
            "--local-address",
            RS,
            "--port",
            &bgp_s,
            "--peer",
            WATCHER,
            "--peer-as",
            "65001",
            "--passive",
            "--hold-time",
            "9",
        ],
        Stdio::inherit(),
    );
    let mut commands = String::new();
    for i in 0..FOREIGN {
        let (a, b) = (i / 256, i % 256);
        commands.push_str(&format!("announce route 198.18.{a}.{b}/32 next-hop {RS}\n"));
    }
    let mut stdin = rs.stdin.take().unwrap();
    stdin.write_all(commands.as_bytes()).unwrap();
    stdin.flush().unwrap();

    let dir = temp_dir("hostile-cli-flood");
    let cfg = dir.join("watcher.toml");
    let api = format!("{WATCHER}:{}", free_port(WATCHER));
    let config = WatcherConfig {
        vips: vec![Vip::new(VIP, vec![Backend::web("ws1", WS1, health)])],
        interval: Some("50ms"),
        timeout: Some("200ms"),
        ..WatcherConfig::new(WATCHER, RS, bgp, &api)
    };
    std::fs::write(&cfg, config.to_toml()).unwrap();
    let mut watcher = spawn(&["run", "-c", cfg.to_str().unwrap()]);
    watcher.wait_for("the session", |l| matches!(l.event, Event::Established(_)));
    let (lines, one_by_one) = watcher_lines_once_flooded(&mut watcher, FOREIGN);
    assert_eq!(
        one_by_one, 0,
        "{one_by_one} foreign routes printed one line each ({lines} lines in all)"
    );
    let summarised: u64 = watcher
        .seen
        .iter()
        .filter_map(|l| match &l.event {
            Event::RoutesReceived(r) => Some(r.foreign_announced),
            _ => None,
        })
        .sum();
    assert_eq!(summarised, FOREIGN, "every foreign route is counted once");
    assert!(lines < 100, "{lines} lines on the watcher's stdout");
    // The watcher still does its job: the route server got the VIP.
    rs.wait_for("the VIP from the watcher", |l| is_route(l, VIP, WS1));
    let _ = std::fs::remove_dir_all(&dir);
}
