//! FRR as the peer: zebra and bgpd in the router namespace, run as user `frr` in the
//! foreground with their own vty socket folder, zserv socket and PID files (see
//! `docs/real-peers.md`), read back through `vtysh … json`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use hopwatch_lab::frr;
use serde_json::Value;

use super::netns::{Lab, SPEAKER_ADDR};
use super::proc::{self, Daemon};
use super::wait;

/// What the FRR side of a lab looks like.
#[derive(Clone, Debug)]
pub struct FrrConfig {
    /// The AS FRR expects hopwatch to have.
    pub neighbor_as: u32,
    /// `neighbor … passive`: FRR waits for hopwatch to connect.
    pub passive: bool,
    /// `bgp graceful-restart` (FRR restarting-speaker mode and helper).
    pub graceful_restart: bool,
    /// Prefixes FRR originates (`network …`), with MED 50 and community 65000:1.
    pub networks: Vec<String>,
}

/// A running FRR (bgpd first in the struct so it is stopped before zebra).
pub struct Frr {
    bgpd: Daemon,
    zebra: Daemon,
    ns: String,
    dir: PathBuf,
}

fn config(cfg: &FrrConfig, dir: &str, n: usize) -> String {
    let nb = SPEAKER_ADDR;
    let mut c = String::new();
    let _ = writeln!(
        c,
        "frr defaults traditional\nhostname rtr{n}\nlog file {dir}/bgpd.log informational\n!"
    );
    let _ = writeln!(
        c,
        "route-map ORIGINATE permit 10\n set metric 50\n set community 65000:1\n!"
    );
    let _ = writeln!(c, "router bgp 65000\n bgp router-id 10.10.0.1");
    let _ = writeln!(
        c,
        " no bgp ebgp-requires-policy\n no bgp network import-check"
    );
    let _ = writeln!(c, " no bgp default ipv4-unicast");
    if cfg.graceful_restart {
        let _ = writeln!(c, " bgp graceful-restart");
    }
    let _ = writeln!(c, " neighbor {nb} remote-as {}", cfg.neighbor_as);
    if cfg.passive {
        let _ = writeln!(c, " neighbor {nb} passive");
    }
    let _ = writeln!(
        c,
        " neighbor {nb} timers 3 9\n neighbor {nb} timers connect 1"
    );
    let _ = writeln!(c, " neighbor {nb} advertisement-interval 0\n !");
    let _ = writeln!(c, " address-family ipv4 unicast\n  neighbor {nb} activate");
    for p in &cfg.networks {
        let _ = writeln!(c, "  network {p} route-map ORIGINATE");
    }
    let _ = writeln!(c, " exit-address-family\n!");
    c
}

impl Frr {
    /// Starts zebra and bgpd in the lab's router namespace and waits for vtysh.
    pub fn start(lab: &Lab, cfg: &FrrConfig) -> Frr {
        let dir = lab.subdir("frr");
        let d = dir.to_string_lossy().into_owned();
        let conf = config(cfg, &d, lab.n);
        std::fs::write(dir.join("bgpd.conf"), &conf).expect("lab folder writable");
        std::fs::write(dir.join("zebra.conf"), format!("hostname rtr{}\n", lab.n))
            .expect("lab folder writable");
        let st = Command::new("chown")
            .args(["-R", "frr:frr", &d])
            .status()
            .expect("chown runs");
        assert!(st.success(), "chown frr {d} failed");
        let zserv = format!("{d}/zserv.api");
        let common = |daemon: &str| daemon_argv(daemon, &d, &zserv, &[]);
        let zargv = common("zebra");
        let zebra = Daemon::spawn(&lab.router, "zebra", &dir, &refs(&zargv), &[]);
        let zsock = dir.join("zserv.api");
        let up = wait::poll(Duration::from_secs(15), Duration::from_millis(50), || {
            zsock.exists().then_some(())
        });
        assert!(
            up.is_some(),
            "zebra did not create {}\n{}",
            zsock.display(),
            zebra.tail()
        );
        let bargv = common("bgpd");
        let bgpd = Daemon::spawn(&lab.router, "bgpd", &dir, &refs(&bargv), &[]);
        let frr = Frr {
            bgpd,
            zebra,
            ns: lab.router.clone(),
            dir,
        };
        let ready = wait::poll(Duration::from_secs(15), Duration::from_millis(100), || {
            frr.try_json("show bgp summary json")
                .filter(|v| v.get("ipv4Unicast").is_some())
        });
        assert!(ready.is_some(), "bgpd did not answer vtysh\n{}", frr.tail());
        eprintln!("[frr] started in {} with\n{conf}", frr.ns);
        frr
    }

    /// Runs a vtysh command against bgpd; returns stdout.
    pub fn vtysh(&self, cmd: &str) -> String {
        let d = self.dir.to_string_lossy();
        let out = proc::run_in(
            &self.ns,
            &["vtysh", "--vty_socket", &d, "-d", "bgpd", "-c", cmd],
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs a vtysh `… json` command; `None` if the output is not JSON.
    pub fn try_json(&self, cmd: &str) -> Option<Value> {
        serde_json::from_str(&self.vtysh(cmd)).ok()
    }

    /// The best path FRR has for `prefix`, if any.
    pub fn route(&self, prefix: &str) -> Option<Value> {
        let v = self.try_json(&format!("show bgp ipv4 unicast {prefix} json"))?;
        let paths = v.get("paths")?.as_array()?;
        paths
            .iter()
            .find(|p| p["bestpath"]["overall"] == true)
            .or_else(|| paths.first())
            .cloned()
    }

    /// Every IPv4 prefix FRR holds, with the next hop of its best path (one
    /// `show bgp ipv4 unicast json` for the whole table).
    pub fn routes(&self) -> BTreeMap<String, String> {
        let Some(v) = self.try_json("show bgp ipv4 unicast json") else {
            return BTreeMap::new();
        };
        let Some(routes) = v["routes"].as_object() else {
            return BTreeMap::new();
        };
        routes
            .iter()
            .filter_map(|(prefix, paths)| {
                let paths = paths.as_array()?;
                let best = paths
                    .iter()
                    .find(|p| p["bestpath"] == true || p["bestpath"]["overall"] == true)
                    .or_else(|| paths.first())?;
                Some((prefix.clone(), next_hop(best).to_string()))
            })
            .collect()
    }

    /// Waits until FRR's path for `prefix` satisfies `pred`; panics with the RIB if not.
    pub fn wait_route(&self, prefix: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        wait::poll(wait::ROUTE_TIMEOUT, Duration::from_millis(100), || {
            self.route(prefix).filter(|p| pred(p))
        })
        .unwrap_or_else(|| {
            panic!(
                "FRR never showed {prefix} {what}; it shows:\n{}\n{}",
                self.vtysh(&format!("show bgp ipv4 unicast {prefix}")),
                self.tail()
            )
        })
    }

    /// FRR's view of hopwatch as a neighbor (`show bgp neighbors 10.10.0.7 json`).
    pub fn neighbor(&self) -> Value {
        self.try_json(&format!("show bgp neighbors {SPEAKER_ADDR} json"))
            .map(|v| v[SPEAKER_ADDR].clone())
            .unwrap_or(Value::Null)
    }

    /// Waits until FRR says the session with hopwatch is Established.
    pub fn wait_established(&self) -> Value {
        wait::poll(wait::SESSION_TIMEOUT, Duration::from_millis(200), || {
            Some(self.neighbor()).filter(|n| n["bgpState"] == "Established")
        })
        .unwrap_or_else(|| {
            panic!(
                "FRR never reached Established:\n{}\n{}",
                self.vtysh("show bgp summary"),
                self.tail()
            )
        })
    }

    /// bgpd's and zebra's output and log tail.
    pub fn tail(&self) -> String {
        format!(
            "{}\n{}\n--- bgpd.log ---\n{}",
            self.bgpd.tail(),
            self.zebra.tail(),
            proc::tail_file(&self.dir.join("bgpd.log"), 40)
        )
    }
}

/// The next hop of an FRR path.
pub fn next_hop(path: &Value) -> &str {
    path["nexthops"][0]["ip"].as_str().unwrap_or("")
}

/// The AS path of an FRR path, as numbers.
pub fn as_path(path: &Value) -> Vec<u64> {
    path["aspath"]["segments"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["list"].as_array().cloned().unwrap_or_default())
        .filter_map(|a| a.as_u64())
        .collect()
}

/// Whether FRR marks the path stale (graceful restart in progress).
pub fn is_stale(path: &Value) -> bool {
    path["stale"] == true
}

fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// The command line of one FRR daemon (`zebra`, `bgpd`), the lab's
/// ([`hopwatch_lab::frr::daemon_args`]), with `extra` arguments after it.
pub fn daemon_argv(daemon: &str, d: &str, zserv: &str, extra: &[&str]) -> Vec<String> {
    let mut v = vec![frr::daemon_path(daemon).display().to_string()];
    v.extend(frr::daemon_args(daemon, Path::new(d), Path::new(zserv)));
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}
