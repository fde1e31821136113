//! `hopwatch speak` and `hopwatch observe` as a user drives them, on loopback:
//! commands from stdin and from a named pipe, a bad command that changes nothing,
//! the observer's table on SIGUSR1 and on exit, and a clean Cease on SIGTERM.

// In a test a panic is a failed test.
#![allow(clippy::unwrap_used)]

mod loopback;

use std::io::{Read, Write};
use std::process::Stdio;
use std::time::Duration;

use loopback::{free_port, spawn, spawn_with};

const OBS: &str = "127.21.0.8";
const SPK: &str = "127.21.0.7";

#[test]
fn speak_takes_commands_from_stdin_and_pipe_and_observe_reports_them() {
    let port = free_port(OBS);
    let port = port.to_string();
    let mut obs = spawn(&[
        "observe",
        "--local-as",
        "65002",
        "--router-id",
        OBS,
        "--listen",
        OBS,
        "--port",
        &port,
    ]);
    let dir = std::env::temp_dir().join(format!("hopwatch-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pipe = dir.join("commands");
    let pipe_s = pipe.to_str().unwrap().to_owned();
    let mut spk = spawn_with(
        &[
            "speak",
            "--local-as",
            "65001",
            "--router-id",
            SPK,
            "--local-address",
            SPK,
            "--peer",
            OBS,
            "--peer-as",
            "65002",
            "--port",
            &port,
            "--command-pipe",
            &pipe_s,
            "--announce",
            "100.64.0.1/32 next-hop 127.21.0.4 med 5 community [65001:7]",
        ],
        Stdio::piped(),
    );
    let v = obs.wait_for("the first route", |v| {
        v["event"] == "update" && v["action"] == "announce"
    });
    assert_eq!(v["prefix"], "100.64.0.1/32");
    assert_eq!(v["next_hop"], "127.21.0.4");
    assert_eq!(v["as_path"], serde_json::json!([65001]));
    assert_eq!(v["med"], 5);
    assert_eq!(v["communities"], serde_json::json!(["65001:7"]));
    assert!(
        v["ts_us"].as_u64().unwrap() > 1_600_000_000_000_000,
        "ts_us is µs since the epoch"
    );
    obs.wait_for("End-of-RIB", |v| v["event"] == "end_of_rib");

    // A bad command: an error on stderr, and nothing sent.
    let mut stdin = spk.stdin.take().unwrap();
    writeln!(stdin, "announce route 100.64.0.1/32 next-hop banana").unwrap();
    let none = obs.try_wait_for(Duration::from_millis(500), |v| v["event"] == "update");
    assert!(none.is_none(), "a bad command sent something: {none:?}");

    // A good command on stdin, then one through the named pipe.
    writeln!(stdin, "announce route 100.64.0.1/32 next-hop 127.21.0.5").unwrap();
    obs.wait_for("the stdin move", |v| {
        v["event"] == "update" && v["next_hop"] == "127.21.0.5"
    });
    let mut fifo = std::fs::OpenOptions::new().write(true).open(&pipe).unwrap();
    writeln!(fifo, "announce route 2001:db8::1/128 next-hop 2001:db8::4").unwrap();
    writeln!(fifo, "withdraw route 100.64.0.1/32").unwrap();
    drop(fifo);
    obs.wait_for("the IPv6 route", |v| {
        v["event"] == "update" && v["prefix"] == "2001:db8::1/128" && v["next_hop"] == "2001:db8::4"
    });
    obs.wait_for("the withdraw", |v| {
        v["event"] == "update" && v["action"] == "withdraw" && v["prefix"] == "100.64.0.1/32"
    });

    // SIGUSR1: the observer's table holds exactly what is announced now.
    obs.signal("USR1");
    let table = obs.wait_for("the table", |v| v["event"] == "table");
    let routes = table["routes"].as_array().unwrap();
    assert_eq!(routes.len(), 1, "{table}");
    assert_eq!(routes[0]["prefix"], "2001:db8::1/128");
    assert_eq!(routes[0]["peer"], SPK);

    // SIGTERM on the speaker: a Cease with a shutdown message, and exit 0.
    spk.signal("TERM");
    let n = obs.wait_for("the Cease", |v| v["event"] == "notification_received");
    assert_eq!(
        (n["code"].as_u64(), n["subcode"].as_u64()),
        (Some(6), Some(2)),
        "{n}"
    );
    assert_eq!(n["shutdown_message"], "hopwatch speak stopping");
    assert!(spk.exit_success(), "speak did not exit cleanly");
    let mut err = String::new();
    spk.child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(
        err.contains("banana"),
        "the bad command's error names the bad word: {err:?}"
    );

    // SIGTERM on the observer: it prints its (now empty) table on the way out.
    obs.signal("TERM");
    let table = obs.wait_for("the exit table", |v| v["event"] == "table");
    assert_eq!(table["routes"], serde_json::json!([]));
    assert!(obs.exit_success(), "observe did not exit cleanly");
    let _ = std::fs::remove_dir_all(&dir);
}
