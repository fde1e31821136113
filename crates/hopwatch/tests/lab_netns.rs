//! `hopwatch lab --netns` as root, three times: with hopwatch's own route server
//! (kernel data plane), with FRR's (`--route-server frr`) and with BIRD
//! (`--route-server bird`), one trial of each scenario, each run bounded to 150 s. Each run exits 0; the planned scenarios (drain,
//! watcher-restart, route-server-restart) lose zero requests; the failures (kill,
//! and with hopwatch's route server blackhole and drop) fail over and back with a
//! figure; with FRR, the time from the watcher's UPDATE to FRR's kernel route shows
//! as its own part ("rs"); no process and no namespace of the lab is left.
//!
//! A fourth run is the forwarding mode (`--mode forward`): the route points at the
//! watchers, which forward to ws1 or ws2 over VXLAN; kill and hang fail over and back
//! with the watcher's own forwarding change as "program", drain loses nothing, the
//! standby takes over when the primary's link is cut, and the backend sees the
//! client's own address.
//!
//! Needs root and FRR (CI installs it); `HOPWATCH_INTEROP=skip` skips it explicitly.

// In a test a panic is a failed test.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use support::lab_run;
use support::preflight::{Peer, preflight};

/// Runs the lab with `args` into `dir`, bounded; checks that no process and no
/// namespace of it is left; returns results.json and the output.
fn run_lab(dir: &Path, prefix: &str, args: &[&str]) -> (Value, String) {
    // 300 requests/s: this runs the debug build on a 2-core machine, where the
    // default 1,000 would take the CPU the watcher's 10 ms probes need.
    let mut all = vec![
        "--netns",
        "--netns-prefix",
        prefix,
        "--trials",
        "1",
        "--rate",
        "300",
    ];
    all.extend_from_slice(args);
    let run = lab_run::run(dir, &all, Duration::from_secs(150));
    let context = run.context;
    eprintln!("{context}");
    let left: Vec<String> = std::fs::read_dir("/run/netns")
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(prefix))
                .collect()
        })
        .unwrap_or_default();
    assert!(
        left.is_empty(),
        "namespaces left behind: {left:?}\n{context}"
    );
    let results: Value =
        serde_json::from_slice(&std::fs::read(dir.join("results.json")).unwrap()).unwrap();
    (results, context)
}

fn scenario<'a>(results: &'a Value, name: &str, context: &str) -> &'a Value {
    let s = &results["scenarios"][name];
    assert_eq!(
        s["trials"].as_array().map(Vec::len),
        Some(1),
        "{name} ran one trial: {s}\n{context}"
    );
    assert!(
        s["trials"][0]["error"].is_null(),
        "{name} ran to its end: {s}\n{context}"
    );
    s
}

fn zero_loss(results: &Value, names: &[&str], context: &str) {
    for name in names {
        let s = scenario(results, name, context);
        assert_eq!(
            s["failed_requests"]["max"].as_u64(),
            Some(0),
            "{name} lost requests: {s}\n{context}"
        );
    }
}

fn fails_over_and_back(results: &Value, names: &[&str], context: &str) {
    for name in names {
        let s = scenario(results, name, context);
        assert!(
            s["failover_ms"]["median"].as_f64().is_some()
                && s["failback_ms"]["median"].as_f64().is_some(),
            "{name} has failover and failback figures: {s}\n{context}"
        );
        assert!(
            s["programmed_ms"]["median"].as_f64().is_some(),
            "{name}: the router's table (forwarding mode: the watcher's) changed to ws2: \
             {s}\n{context}"
        );
    }
}

#[test]
fn the_namespace_lab_runs_with_hopwatch_frr_and_bird_as_the_route_server() {
    if !preflight("lab_netns", Peer::Frr) || !preflight("lab_netns", Peer::Bird) {
        return;
    }
    let base = std::env::temp_dir().join(format!("hopwatch-lab-netns-{}", std::process::id()));
    let prefix = format!("hwt{}-", std::process::id());

    let (results, context) = run_lab(
        &base.join("hopwatch"),
        &prefix,
        &[
            "--scenario",
            "kill,blackhole,drop,drain,watcher-restart,route-server-restart",
        ],
    );
    assert_eq!(results["route_server"], "hopwatch", "{context}");
    fails_over_and_back(&results, &["kill", "blackhole", "drop"], &context);
    zero_loss(
        &results,
        &["drain", "watcher-restart", "route-server-restart"],
        &context,
    );

    let (results, context) = run_lab(
        &base.join("frr"),
        &prefix,
        &[
            "--route-server",
            "frr",
            "--scenario",
            "kill,drain,watcher-restart,route-server-restart",
        ],
    );
    assert_eq!(results["route_server"], "frr", "{context}");
    fails_over_and_back(&results, &["kill"], &context);
    zero_loss(
        &results,
        &["drain", "watcher-restart", "route-server-restart"],
        &context,
    );
    // FRR's own time from the watcher's UPDATE to its kernel route is its own
    // column: positive, and a part of the programmed time.
    let kill = &results["scenarios"]["kill"];
    let rs = kill["route_server_ms"]["median"].as_f64();
    let programmed = kill["programmed_ms"]["median"].as_f64();
    assert!(
        matches!((rs, programmed), (Some(r), Some(p)) if r > 0.0 && r < p),
        "FRR's part is shown: {kill}\n{context}"
    );
    eprintln!(
        "FRR: failover {} ms, of which UPDATE to kernel route {} ms",
        kill["failover_ms"]["median"], kill["route_server_ms"]["median"]
    );

    let (results, context) = run_lab(
        &base.join("bird"),
        &prefix,
        &[
            "--route-server",
            "bird",
            "--scenario",
            "kill,watcher-restart,route-server-restart",
        ],
    );
    assert_eq!(results["route_server"], "bird", "{context}");
    fails_over_and_back(&results, &["kill"], &context);
    zero_loss(
        &results,
        &["watcher-restart", "route-server-restart"],
        &context,
    );

    let (results, context) = run_lab(
        &base.join("forward"),
        &prefix,
        &[
            "--mode",
            "forward",
            "--scenario",
            "kill,hang,drain,watcher-cut",
        ],
    );
    assert_eq!(results["mode"], "forward", "{context}");
    fails_over_and_back(&results, &["kill", "hang"], &context);
    zero_loss(&results, &["drain"], &context);
    let cut = scenario(&results, "watcher-cut", &context);
    assert!(
        cut["trials"][0]["takeover_ms"].as_f64().is_some(),
        "the standby took over: {cut}\n{context}"
    );
    assert!(
        results["client"]
            .as_str()
            .is_some_and(|c| c.contains("(preserved)")),
        "the backend saw the client's address: {}\n{context}",
        results["client"]
    );
    let _ = std::fs::remove_dir_all(&base);
}
