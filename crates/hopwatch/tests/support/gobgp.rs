//! GoBGP as the peer: gobgpd with a TOML config and its gRPC API on 127.0.0.1 of the
//! router namespace (loopback there is the namespace's own), driven and read with the
//! `gobgp` CLI's JSON output.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use super::netns::{Lab, PEER_ADDR, SPEAKER_ADDR};
use super::proc::{self, Daemon};
use super::wait;

/// What the GoBGP side of a lab looks like.
#[derive(Clone, Debug)]
pub struct GobgpConfig {
    /// The AS GoBGP expects hopwatch to have.
    pub neighbor_as: u32,
    /// `passive-mode`: GoBGP waits for hopwatch to connect.
    pub passive: bool,
}

/// A route as GoBGP shows it.
#[derive(Clone, Debug)]
pub struct GobgpRoute {
    /// The NEXT_HOP attribute.
    pub next_hop: String,
    /// The AS path.
    pub as_path: Vec<u64>,
    /// The whole path object.
    pub json: Value,
}

/// A running gobgpd.
pub struct Gobgp {
    /// The running daemon.
    pub daemon: Daemon,
    /// Its namespace.
    pub ns: String,
    port: String,
}

fn config(cfg: &GobgpConfig) -> String {
    let mut c = String::new();
    let port = if cfg.passive { 179 } else { -1 };
    let _ = writeln!(
        c,
        "[global.config]\n  as = 65000\n  router-id = \"{PEER_ADDR}\""
    );
    let _ = writeln!(
        c,
        "  port = {port}\n  local-address-list = [\"{PEER_ADDR}\"]\n"
    );
    let _ = writeln!(c, "[[neighbors]]\n  [neighbors.config]");
    let _ = writeln!(
        c,
        "    neighbor-address = \"{SPEAKER_ADDR}\"\n    peer-as = {}",
        cfg.neighbor_as
    );
    let _ = writeln!(
        c,
        "  [neighbors.transport.config]\n    passive-mode = {}",
        cfg.passive
    );
    let _ = writeln!(c, "    local-address = \"{PEER_ADDR}\"");
    let _ = writeln!(
        c,
        "  [neighbors.timers.config]\n    hold-time = 9\n    connect-retry = 1"
    );
    let _ = writeln!(
        c,
        "  [[neighbors.afi-safis]]\n    [neighbors.afi-safis.config]"
    );
    let _ = writeln!(c, "      afi-safi-name = \"ipv4-unicast\"");
    c
}

impl Gobgp {
    /// Starts gobgpd in the lab's router namespace, API on 127.0.0.1:(50051 + lab.n).
    pub fn start(lab: &Lab, cfg: &GobgpConfig) -> Gobgp {
        let dir: PathBuf = lab.subdir("gobgp");
        let conf = config(cfg);
        let port = (50051 + lab.n).to_string();
        Gobgp::launch(
            &lab.router,
            dir,
            &conf,
            port,
            &["--log-level", "debug"],
            "gobgp",
        )
    }

    /// Writes `conf` into `dir`, starts gobgpd in namespace `ns` with its API on
    /// 127.0.0.1:`port` (plus `extra` arguments), and waits until the API answers;
    /// `label` names it in the logs.
    pub fn launch(
        ns: &str,
        dir: PathBuf,
        conf: &str,
        port: String,
        extra: &[&str],
        label: &str,
    ) -> Gobgp {
        let path = dir.join("gobgpd.toml");
        std::fs::write(&path, conf).expect("lab folder writable");
        let api = format!("127.0.0.1:{port}");
        let p = path.to_string_lossy().into_owned();
        let mut argv = vec!["gobgpd", "-f", &p, "--api-hosts", &api];
        argv.extend_from_slice(extra);
        let daemon = Daemon::spawn(ns, "gobgpd", &dir, &argv, &[]);
        let g = Gobgp {
            daemon,
            ns: ns.to_string(),
            port,
        };
        let ready = wait::poll(Duration::from_secs(15), Duration::from_millis(100), || {
            proc::run_in(&g.ns, &g.argv(&["global", "-j"]))
                .status
                .success()
                .then_some(())
        });
        assert!(
            ready.is_some(),
            "gobgpd did not answer its API\n{}",
            g.tail()
        );
        eprintln!("[{label}] started in {} with\n{conf}", g.ns);
        g
    }

    /// `gobgp` against this gobgpd's API, with `args` after it.
    pub fn argv<'a>(&'a self, args: &[&'a str]) -> Vec<&'a str> {
        let mut v = vec!["gobgp", "-u", "127.0.0.1", "-p", &self.port];
        v.extend_from_slice(args);
        v
    }

    /// Runs `gobgp ARGS…` against this gobgpd; returns stdout (panics if it fails).
    pub fn gobgp(&self, args: &[&str]) -> String {
        proc::run_in_ok(&self.ns, &self.argv(args))
    }

    /// Originates `prefix` with next hop `next_hop`, MED 50 and community 65000:1.
    pub fn add_route(&self, prefix: &str, next_hop: &str) {
        self.gobgp(&[
            "global",
            "rib",
            "add",
            prefix,
            "nexthop",
            next_hop,
            "med",
            "50",
            "community",
            "65000:1",
            "-a",
            "ipv4",
        ]);
    }

    /// The best path GoBGP has for `prefix`, if any.
    pub fn route(&self, prefix: &str) -> Option<GobgpRoute> {
        best_route(self.rib()?.get(prefix)?)
    }

    /// Every IPv4 prefix GoBGP holds, with the next hop of its best path (one
    /// `gobgp global rib -j` for the whole table).
    pub fn routes(&self) -> BTreeMap<String, String> {
        let Some(Value::Object(rib)) = self.rib() else {
            return BTreeMap::new();
        };
        rib.iter()
            .filter_map(|(prefix, paths)| Some((prefix.clone(), best_route(paths)?.next_hop)))
            .collect()
    }

    /// `gobgp global rib -a ipv4 -j`: prefix → paths.
    fn rib(&self) -> Option<Value> {
        serde_json::from_str(&self.gobgp(&["global", "rib", "-a", "ipv4", "-j"])).ok()
    }

    /// Waits until GoBGP's path for `prefix` satisfies `pred`; panics if not.
    pub fn wait_route(
        &self,
        prefix: &str,
        what: &str,
        pred: impl Fn(&GobgpRoute) -> bool,
    ) -> GobgpRoute {
        wait::poll(wait::ROUTE_TIMEOUT, Duration::from_millis(100), || {
            self.route(prefix).filter(|r| pred(r))
        })
        .unwrap_or_else(|| {
            panic!(
                "GoBGP never showed {prefix} {what}; its RIB:\n{}\n{}",
                self.gobgp(&["global", "rib", "-a", "ipv4"]),
                self.tail()
            )
        })
    }

    /// `gobgp neighbor 10.10.0.7 -j`.
    pub fn neighbor(&self) -> Value {
        let out = proc::run_in(&self.ns, &self.argv(&["neighbor", SPEAKER_ADDR, "-j"]));
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
    }

    /// Waits until GoBGP says the session is Established; returns the neighbor JSON.
    pub fn wait_established(&self) -> Value {
        wait::poll(wait::SESSION_TIMEOUT, Duration::from_millis(200), || {
            Some(self.neighbor()).filter(|n| n["state"]["session_state"] == 6)
        })
        .unwrap_or_else(|| {
            panic!(
                "GoBGP never reached Established:\n{}\n{}",
                self.neighbor(),
                self.tail()
            )
        })
    }

    /// Its output tail.
    pub fn tail(&self) -> String {
        self.daemon.tail()
    }
}

/// The best of a prefix's paths in `gobgp global rib -j`, if any.
fn best_route(paths: &Value) -> Option<GobgpRoute> {
    let paths = paths.as_array()?;
    let best = paths
        .iter()
        .find(|p| p["best"] == true)
        .or_else(|| paths.first())?;
    let attrs = best["attrs"].as_array()?;
    let next_hop = attrs
        .iter()
        .find(|a| a["type"] == 3)
        .and_then(|a| a["nexthop"].as_str())
        .unwrap_or("")
        .to_string();
    let as_path = attrs
        .iter()
        .filter(|a| a["type"] == 2)
        .flat_map(|a| a["as_paths"].as_array().cloned().unwrap_or_default())
        .flat_map(|s| s["asns"].as_array().cloned().unwrap_or_default())
        .filter_map(|a| a.as_u64())
        .collect();
    Some(GobgpRoute {
        next_hop,
        as_path,
        json: best.clone(),
    })
}
