//! ExaBGP as the peer (or as a stand-in speaker to validate the harness): one neighbor,
//! static routes from the config, commands appended to a file that a `tail -F` API
//! process feeds it, and everything it receives written as JSON lines by another API
//! process — ExaBGP has no RIB to ask, so the tests replay those lines.
//!
//! Per `docs/real-peers.md`: no command pipe (`api.cli=false`), `user=root`,
//! `drop=false`, and `ack=false` since nothing reads acknowledgements.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use super::netns::Lab;
use super::proc::{self, Daemon};
use super::wait;

/// What the ExaBGP side of a lab looks like.
#[derive(Clone, Debug)]
pub struct ExaConfig {
    /// The namespace it runs in (the lab's router or, as a stand-in, speaker).
    pub ns: String,
    /// Its own address and router ID.
    pub local_addr: String,
    /// The neighbor's address.
    pub peer_addr: String,
    /// Its own AS.
    pub local_as: u32,
    /// The neighbor's AS.
    pub peer_as: u32,
    /// `passive true`, listening on `local_addr:179`.
    pub passive: bool,
    /// Whether to offer the 4-octet AS capability.
    pub asn4: bool,
    /// `graceful-restart SECONDS` in its capabilities.
    pub graceful_restart: Option<u16>,
    /// Static routes, each in ExaBGP syntax after `route `.
    pub routes: Vec<String>,
}

/// A route as ExaBGP received it.
#[derive(Clone, Debug, PartialEq)]
pub struct ExaRoute {
    /// The next hop.
    pub next_hop: String,
    /// The AS path.
    pub as_path: Vec<u64>,
}

/// A running ExaBGP.
pub struct Exabgp {
    daemon: Daemon,
    dir: PathBuf,
}

fn config(cfg: &ExaConfig, dir: &str) -> String {
    let mut c = String::new();
    let _ = writeln!(
        c,
        "process received {{\n    run /bin/sh -c \"cat >> {dir}/received.jsonl\";\n    encoder json;\n}}"
    );
    let _ = writeln!(
        c,
        "process commands {{\n    run /usr/bin/tail -n +1 -F {dir}/commands;\n    encoder text;\n}}"
    );
    let _ = writeln!(c, "neighbor {} {{", cfg.peer_addr);
    let _ = writeln!(
        c,
        "    router-id {};\n    local-address {};",
        cfg.local_addr, cfg.local_addr
    );
    let _ = writeln!(
        c,
        "    local-as {};\n    peer-as {};\n    hold-time 9;",
        cfg.local_as, cfg.peer_as
    );
    if cfg.passive {
        let _ = writeln!(c, "    passive true;");
    }
    let _ = writeln!(c, "    capability {{");
    if let Some(s) = cfg.graceful_restart {
        let _ = writeln!(c, "        graceful-restart {s};");
    }
    if !cfg.asn4 {
        let _ = writeln!(c, "        asn4 disable;");
    }
    let _ = writeln!(c, "    }}\n    family {{ ipv4 unicast; }}");
    let _ = writeln!(
        c,
        "    api {{\n        processes [ received ];\n        neighbor-changes;"
    );
    let _ = writeln!(
        c,
        "        receive {{ parsed; update; open; notification; }}\n    }}"
    );
    let _ = writeln!(c, "    api {{ processes [ commands ]; }}");
    let _ = writeln!(c, "    static {{");
    for r in &cfg.routes {
        let _ = writeln!(c, "        route {r};");
    }
    let _ = writeln!(c, "    }}\n}}");
    c
}

impl Exabgp {
    /// Starts ExaBGP with `cfg`; `name` labels its files.
    pub fn start(lab: &Lab, name: &str, cfg: &ExaConfig) -> Exabgp {
        let dir = lab.subdir(name);
        let d = dir.to_string_lossy().into_owned();
        let conf = config(cfg, &d);
        std::fs::write(dir.join("exabgp.conf"), &conf).expect("lab folder writable");
        std::fs::write(dir.join("commands"), "").expect("lab folder writable");
        std::fs::write(dir.join("received.jsonl"), "").expect("lab folder writable");
        let log = format!("{d}/exabgp.log");
        let bind = if cfg.passive {
            cfg.local_addr.as_str()
        } else {
            ""
        };
        let envs = [
            ("exabgp.daemon.user", "root"),
            ("exabgp.daemon.drop", "false"),
            ("exabgp.daemon.daemonize", "false"),
            ("exabgp.api.cli", "false"),
            ("exabgp.api.ack", "false"),
            ("exabgp.log.destination", log.as_str()),
            ("exabgp.tcp.bind", bind),
            ("exabgp.tcp.port", "179"),
        ];
        let conf_path = format!("{d}/exabgp.conf");
        let daemon = Daemon::spawn(&cfg.ns, name, &dir, &["exabgp", &conf_path], &envs);
        eprintln!("[{name}] ExaBGP started in {} with\n{conf}", cfg.ns);
        Exabgp { daemon, dir }
    }

    /// SIGKILLs ExaBGP (see [`Daemon::kill_hard`]).
    pub fn kill_hard(&mut self) {
        self.daemon.kill_hard();
    }

    /// Feeds one API command (e.g. `announce route … next-hop …`).
    pub fn command(&self, line: &str) {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(self.dir.join("commands"))
            .expect("commands file exists");
        writeln!(f, "{line}").expect("commands file writable");
    }

    /// Every JSON message it has written so far.
    pub fn received(&self) -> Vec<Value> {
        std::fs::read_to_string(self.dir.join("received.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Its routes, replaying every received UPDATE in order.
    pub fn routes(&self) -> BTreeMap<String, ExaRoute> {
        replay(&self.received())
    }

    /// Waits until `prefix` satisfies `pred`; panics with what it received if not.
    pub fn wait_route(
        &self,
        prefix: &str,
        what: &str,
        pred: impl Fn(&ExaRoute) -> bool,
    ) -> ExaRoute {
        wait::poll(wait::ROUTE_TIMEOUT, Duration::from_millis(100), || {
            self.routes().get(prefix).filter(|r| pred(r)).cloned()
        })
        .unwrap_or_else(|| panic!("ExaBGP never received {prefix} {what}\n{}", self.tail()))
    }

    /// Waits for its `"state": "up"` message.
    pub fn wait_up(&self) -> Value {
        self.wait_message("neighbor state up", |m| {
            m["type"] == "state" && m["neighbor"]["state"] == "up"
        })
    }

    /// Waits for the OPEN it received from the neighbor.
    pub fn wait_open_received(&self) -> Value {
        self.wait_message("OPEN received", |m| {
            m["type"] == "open" && m["neighbor"]["direction"] == "receive"
        })
    }

    /// Waits for a received message matching `pred`.
    pub fn wait_message(&self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        wait::poll(wait::SESSION_TIMEOUT, Duration::from_millis(100), || {
            self.received().into_iter().find(|m| pred(m))
        })
        .unwrap_or_else(|| panic!("ExaBGP: no {what}\n{}", self.tail()))
    }

    /// Its output, log and received messages, for failure messages.
    pub fn tail(&self) -> String {
        format!(
            "{}\n--- exabgp.log ---\n{}\n--- received.jsonl ---\n{}",
            self.daemon.tail(),
            proc::tail_file(&self.dir.join("exabgp.log"), 40),
            proc::tail_file(&self.dir.join("received.jsonl"), 40)
        )
    }
}

/// Replays ExaBGP's JSON UPDATE messages into a table of routes.
pub fn replay(messages: &[Value]) -> BTreeMap<String, ExaRoute> {
    let mut table = BTreeMap::new();
    for m in messages.iter().filter(|m| m["type"] == "update") {
        let update = &m["neighbor"]["message"]["update"];
        if let Some(w) = update["withdraw"]["ipv4 unicast"].as_array() {
            for nlri in w {
                if let Some(p) = nlri["nlri"].as_str() {
                    table.remove(p);
                }
            }
        }
        let as_path: Vec<u64> = update["attribute"]["as-path"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_u64)
            .collect();
        if let Some(a) = update["announce"]["ipv4 unicast"].as_object() {
            for (nh, nlris) in a {
                for nlri in nlris.as_array().into_iter().flatten() {
                    if let Some(p) = nlri["nlri"].as_str() {
                        let r = ExaRoute {
                            next_hop: nh.clone(),
                            as_path: as_path.clone(),
                        };
                        table.insert(p.to_string(), r);
                    }
                }
            }
        }
    }
    table
}

/// Whether any received UPDATE withdrew `prefix`.
pub fn withdrew(messages: &[Value], prefix: &str) -> bool {
    messages.iter().filter(|m| m["type"] == "update").any(|m| {
        m["neighbor"]["message"]["update"]["withdraw"]["ipv4 unicast"]
            .as_array()
            .is_some_and(|w| w.iter().any(|n| n["nlri"] == prefix))
    })
}
