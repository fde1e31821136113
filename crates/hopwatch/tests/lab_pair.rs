//! The watcher pair in `hopwatch lab`, as a user runs it: the scenarios of issue
//! "Two watchers" (`watcher-kill`, `watcher-freeze`, `watcher-restart` of either
//! watcher, `watcher-kill-then-backend`, `disagree`), one trial each, on loopback
//! (with graceful restart off: the standby's route takes over as soon as the
//! primary's session ends) and in namespaces with hopwatch's, FRR's and BIRD's route
//! servers (with the lab's graceful restart of 10 s: the dead primary's route is kept
//! that long first). Every row must PASS: 0 failed requests where the VIP stays, no
//! move back and forth after a freeze, nothing answered by ws2 while the watchers
//! disagree, and the standby alone failing over when the primary is dead. The
//! takeover times are printed. Then a short `--chaos` on loopback: no move and no
//! failed request outside the faults' windows.
//!
//! The runs are sequential (one test): two labs at once would take the CPU the
//! watchers' 10 ms probes need on a 2-core machine. The namespace part needs root,
//! FRR and BIRD (CI installs them); `HOPWATCH_INTEROP=skip` skips it explicitly.

// In a test a panic is a failed test.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use support::lab_run;
use support::preflight::{Peer, preflight};

const PAIR: &str = "watcher-kill,watcher-freeze,watcher-restart,watcher-kill-then-backend,disagree";

/// Runs the lab with `args` into `dir` (one trial, 300 requests/s: the debug build
/// on a 2-core machine), bounded; returns results.json and the output.
fn run_lab(dir: &Path, args: &[&str]) -> (Value, String) {
    let mut all = vec!["--scenario", PAIR, "--trials", "1", "--rate", "300"];
    all.extend_from_slice(args);
    let run = lab_run::run(dir, &all, Duration::from_secs(300));
    let context = run.context;
    eprintln!("{context}");
    let results: Value =
        serde_json::from_slice(&std::fs::read(dir.join("results.json")).unwrap()).unwrap();
    (results, context)
}

/// Every pair scenario passed its expectation; prints each takeover.
fn all_pass(results: &Value, context: &str, what: &str) {
    for name in PAIR.split(',') {
        let s = &results["scenarios"][name];
        let t = &s["trials"][0];
        assert!(
            t["error"].is_null(),
            "{what}: {name} ran to its end: {s}\n{context}"
        );
        assert_eq!(
            s["pass"], true,
            "{what}: {name} met its expectation: {s}\n{context}"
        );
        if let Some(ms) = t["takeover_ms"].as_f64() {
            eprintln!("{what}: {name}: the standby's route took over {ms:.0} ms after");
        }
    }
    let disagree = &results["scenarios"]["disagree"]["trials"][0];
    assert_eq!(
        disagree["answered_by_ws2"], 0,
        "{what}: {disagree}\n{context}"
    );
    let freeze = &results["scenarios"]["watcher-freeze"]["trials"][0];
    assert_eq!(freeze["moves_seen"], 0, "{what}: {freeze}\n{context}");
    let standby = &results["scenarios"]["watcher-kill-then-backend"];
    assert!(
        standby["failover_ms"]["median"].as_f64().is_some()
            && standby["failback_ms"]["median"].as_f64().is_some(),
        "{what}: the standby failed over and back: {standby}\n{context}"
    );
}

#[test]
fn the_pair_scenarios_pass_on_loopback_and_with_hopwatch_frr_and_bird_in_namespaces() {
    let base = std::env::temp_dir().join(format!("hopwatch-lab-pair-{}", std::process::id()));

    let (results, context) = run_lab(&base.join("loopback"), &["--graceful-restart", "off"]);
    all_pass(&results, &context, "loopback, graceful restart off");
    // Without graceful restart a killed primary's route goes with its session.
    let kill = &results["scenarios"]["watcher-kill"]["trials"][0];
    assert!(
        kill["takeover_ms"].as_f64().is_some_and(|ms| ms < 5_000.0),
        "the standby took over at once: {kill}\n{context}"
    );

    // A short chaos: every scenario that runs on loopback, in a seeded random
    // order, under one load run. Nothing may move, and no request fail, in the
    // quiet gaps between the faults.
    let dir = base.join("chaos");
    let run = lab_run::run(
        &dir,
        &[
            "--chaos",
            "45s",
            "--seed",
            "7",
            "--graceful-restart",
            "off",
            "--rate",
            "300",
        ],
        Duration::from_secs(300),
    );
    let chaos: Value =
        serde_json::from_slice(&std::fs::read(dir.join("chaos.json")).unwrap()).unwrap();
    eprintln!("{}", run.stdout);
    assert!(
        chaos["faults"].as_array().is_some_and(|f| f.len() >= 3),
        "chaos injected faults: {chaos}\n{}",
        run.context
    );
    assert_eq!(
        chaos["unexplained_moves"].as_array().map(Vec::len),
        Some(0),
        "no move without a fault: {chaos}\n{}",
        run.context
    );
    assert_eq!(
        chaos["failed"]["none"], 0,
        "no failed request without a fault: {chaos}\n{}",
        run.context
    );

    if !preflight("lab_pair", Peer::Frr) || !preflight("lab_pair", Peer::Bird) {
        return;
    }
    let prefix = format!("hwp{}-", std::process::id());
    for rs in ["hopwatch", "frr", "bird"] {
        let (results, context) = run_lab(
            &base.join(rs),
            &["--netns", "--netns-prefix", &prefix, "--route-server", rs],
        );
        assert_eq!(results["route_server"], rs, "{context}");
        all_pass(&results, &context, &format!("{rs}, graceful restart 10 s"));
    }
    let _ = std::fs::remove_dir_all(&base);
}
