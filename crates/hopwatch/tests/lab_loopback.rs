//! `hopwatch lab` as a user runs it: `--scenario kill,drain --trials 1` on loopback,
//! bounded to 90 s. It exits 0, writes results.json (a failover figure for kill, zero
//! failed requests for drain) and report.html with its SVG timelines, and leaves no
//! child process and no lab port behind.

// In a test a panic is a failed test.
#![allow(clippy::unwrap_used)]

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Every address the loopback lab listens on.
const LAB_PORTS: [&str; 9] = [
    "127.10.1.4:1179",
    "127.10.1.5:1179",
    "127.10.15.15:8080",
    "127.10.0.4:8080",
    "127.10.0.5:8080",
    "127.10.0.7:1179",
    "127.10.0.7:9179",
    "127.10.1.4:9180",
    "127.10.0.8:1179",
];

fn alive(pid: u32) -> bool {
    // A zombie has exited; only its parent's reaping is left.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            let state = s
                .rsplit_once(')')
                .map(|(_, r)| r.trim_start().chars().next());
            state != Some(Some('Z'))
        })
        .unwrap_or(false)
}

#[test]
fn the_lab_runs_kill_and_drain_then_leaves_nothing_behind() {
    let dir = std::env::temp_dir().join(format!("hopwatch-lab-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let out = std::fs::File::create(dir.join("lab.stdout")).unwrap();
    let err = std::fs::File::create(dir.join("lab.stderr")).unwrap();
    let mut lab = Command::new(env!("CARGO_BIN_EXE_hopwatch"))
        .args(["lab", "--scenario", "kill,drain", "--trials", "1", "--out"])
        .arg(&dir)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap();

    // Bounded: 90 s, then SIGTERM (the lab tears its children down), then SIGKILL.
    let deadline = Instant::now() + Duration::from_secs(90);
    let status = loop {
        if let Some(s) = lab.try_wait().unwrap() {
            break Some(s);
        }
        if Instant::now() >= deadline {
            let _ = Command::new("kill")
                .args(["-s", "TERM", &lab.id().to_string()])
                .status();
            std::thread::sleep(Duration::from_secs(8));
            let _ = lab.kill();
            let _ = lab.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stdout = std::fs::read_to_string(dir.join("lab.stdout")).unwrap_or_default();
    let stderr = std::fs::read_to_string(dir.join("lab.stderr")).unwrap_or_default();
    let context = format!("stdout:\n{stdout}\nstderr:\n{stderr}");

    // No child left: every PID the lab wrote has exited, and the lab's ports are free.
    let pids = std::fs::read_to_string(dir.join("pids.txt")).unwrap_or_default();
    let pids: Vec<u32> = pids
        .lines()
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect();
    assert!(pids.len() >= 5, "pids.txt lists the children\n{context}");
    for pid in &pids {
        assert!(!alive(*pid), "child {pid} is still running\n{context}");
    }
    for addr in LAB_PORTS {
        assert!(
            TcpListener::bind(addr).is_ok(),
            "{addr} is still taken after the lab\n{context}"
        );
    }

    let status = status.unwrap_or_else(|| panic!("the lab ran over 90 s\n{context}"));
    assert!(status.success(), "the lab exited with {status}\n{context}");
    assert!(stdout.contains("report.html"), "{context}");

    let results: Value =
        serde_json::from_slice(&std::fs::read(dir.join("results.json")).unwrap()).unwrap();
    let kill = &results["scenarios"]["kill"];
    let drain = &results["scenarios"]["drain"];
    assert_eq!(
        kill["trials"].as_array().map(Vec::len),
        Some(1),
        "{results}"
    );
    assert_eq!(
        drain["trials"].as_array().map(Vec::len),
        Some(1),
        "{results}"
    );
    assert!(
        kill["failover_ms"]["median"].as_f64().is_some(),
        "kill has a failover figure: {kill}"
    );
    assert_eq!(
        drain["failed_requests"]["max"].as_u64(),
        Some(0),
        "drain lost requests: {drain}"
    );
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("<svg"), "report.html has no SVG");
    assert!(dir.join("requests.csv").exists());
    let _ = std::fs::remove_dir_all(&dir);
}
