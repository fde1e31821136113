//! FRR as the route server of the namespace lab ([`super::lab::NetLab`]), standing
//! in for Azure Route Server, for the tests: the config and the command lines are the
//! lab's ([`hopwatch_lab::frr`]: one bgpd per route server address, only the first
//! with zebra); this is the glue that runs them as test daemons (under `timeout`,
//! stopped by PID) and reads them back through `vtysh`, each bgpd through its own vty
//! socket folder.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use hopwatch_lab::frr::{RouteServerConfig, chown_frr, instance_args, route_server_config};

use super::frr::daemon_argv;
use super::lab::NetLab;
use super::proc::{self, Daemon};
use super::wait;

/// One bgpd instance.
struct Instance {
    bgpd: Daemon,
    dir: PathBuf,
    addr: String,
}

/// A running FRR route server (bgpd instances before zebra, so they stop first).
pub struct FrrRouteServer {
    instances: Vec<Instance>,
    zebra: Daemon,
    ns: String,
    neighbor: String,
}

fn chown(d: &str) {
    if let Err(e) = chown_frr(std::path::Path::new(d)) {
        panic!("{e:#}");
    }
}

impl FrrRouteServer {
    /// Starts zebra and one bgpd per address of `addrs` in the lab's router
    /// namespace, each expecting `neighbor` (AS `neighbor_as`), and waits for vtysh.
    pub fn start(lab: &NetLab, addrs: &[&str], neighbor: &str, neighbor_as: u32) -> Self {
        let zdir = lab.subdir("frr-zebra");
        let zd = zdir.to_string_lossy().into_owned();
        let zserv = format!("{zd}/zserv.api");
        std::fs::write(zdir.join("zebra.conf"), "hostname rs-zebra\n")
            .expect("lab folder writable");
        chown(&zd);
        let zargv = daemon_argv("zebra", &zd, &zserv, &[]);
        let zebra = Daemon::spawn(&lab.vnet, "zebra", &zdir, &refs(&zargv), &[]);
        let up = wait::poll(Duration::from_secs(15), Duration::from_millis(50), || {
            std::path::Path::new(&zserv).exists().then_some(())
        });
        assert!(
            up.is_some(),
            "zebra did not create {zserv}\n{}",
            zebra.tail()
        );
        let mut instances = Vec::new();
        for (i, addr) in addrs.iter().enumerate() {
            let dir = lab.subdir(&format!("frr-{addr}"));
            let d = dir.to_string_lossy().into_owned();
            let conf = route_server_config(&RouteServerConfig {
                addr,
                neighbors: &[(neighbor, neighbor_as)],
                // FRR's default (helper only): see the field's docs for why this
                // test differs from the lab.
                graceful_restart: false,
                log_dir: &dir,
            });
            std::fs::write(dir.join("bgpd.conf"), &conf).expect("lab folder writable");
            chown(&d);
            let extra = instance_args(i, addr);
            let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
            let argv = daemon_argv("bgpd", &d, &zserv, &extra);
            let bgpd = Daemon::spawn(&lab.vnet, &format!("bgpd-{addr}"), &dir, &refs(&argv), &[]);
            eprintln!("[frr] bgpd for {addr} in {} with\n{conf}", lab.vnet);
            instances.push(Instance {
                bgpd,
                dir,
                addr: addr.to_string(),
            });
        }
        let rs = FrrRouteServer {
            instances,
            zebra,
            ns: lab.vnet.clone(),
            neighbor: neighbor.to_string(),
        };
        for i in 0..rs.instances.len() {
            let ready = wait::poll(Duration::from_secs(15), Duration::from_millis(100), || {
                rs.try_json(i, "show bgp summary json")
                    .filter(|v| v.get("ipv4Unicast").is_some())
            });
            assert!(
                ready.is_some(),
                "bgpd {i} did not answer vtysh\n{}",
                rs.tail()
            );
        }
        rs
    }

    /// The address of instance `i`.
    pub fn addr(&self, i: usize) -> &str {
        &self.instances[i].addr
    }

    /// Runs a vtysh command against instance `i`'s bgpd; returns stdout.
    pub fn vtysh(&self, i: usize, cmd: &str) -> String {
        let d = self.instances[i].dir.to_string_lossy();
        let out = proc::run_in(
            &self.ns,
            &["vtysh", "--vty_socket", &d, "-d", "bgpd", "-c", cmd],
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Enters `lines` in instance `i`'s configuration mode (`configure terminal`,
    /// then each line, as one vtysh call); panics if vtysh complains.
    pub fn configure(&self, i: usize, lines: &[&str]) {
        let d = self.instances[i].dir.to_string_lossy();
        let mut argv = vec![
            "vtysh",
            "--vty_socket",
            &d,
            "-d",
            "bgpd",
            "-c",
            "configure terminal",
        ];
        for l in lines {
            argv.extend(["-c", l]);
        }
        let out = proc::run_in(&self.ns, &argv);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success() && !text.contains('%'),
            "vtysh {lines:?} on FRR {} complained: {text}\n{}",
            self.addr(i),
            self.tail()
        );
    }

    /// Runs a vtysh `… json` command; `None` if the output is not JSON.
    pub fn try_json(&self, i: usize, cmd: &str) -> Option<Value> {
        serde_json::from_str(&self.vtysh(i, cmd)).ok()
    }

    /// Instance `i`'s best path for `prefix`, if any.
    pub fn route(&self, i: usize, prefix: &str) -> Option<Value> {
        let v = self.try_json(i, &format!("show bgp ipv4 unicast {prefix} json"))?;
        let paths = v.get("paths")?.as_array()?;
        paths
            .iter()
            .find(|p| p["bestpath"]["overall"] == true)
            .or_else(|| paths.first())
            .cloned()
    }

    /// Waits until instance `i`'s path for `prefix` satisfies `pred`.
    pub fn wait_route(
        &self,
        i: usize,
        prefix: &str,
        what: &str,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        wait::poll(wait::ROUTE_TIMEOUT, Duration::from_millis(50), || {
            self.route(i, prefix).filter(|p| pred(p))
        })
        .unwrap_or_else(|| {
            panic!(
                "FRR {} never showed {prefix} {what}; it shows:\n{}\n{}",
                self.addr(i),
                self.vtysh(i, &format!("show bgp ipv4 unicast {prefix}")),
                self.tail()
            )
        })
    }

    /// Waits until instance `i` says the session with the watcher is Established.
    pub fn wait_established(&self, i: usize) -> Value {
        let nb = &self.neighbor;
        wait::poll(wait::SESSION_TIMEOUT, Duration::from_millis(200), || {
            self.try_json(i, &format!("show bgp neighbors {nb} json"))
                .map(|v| v[nb.as_str()].clone())
                .filter(|n| n["bgpState"] == "Established")
        })
        .unwrap_or_else(|| {
            panic!(
                "FRR {} never reached Established:\n{}\n{}",
                self.addr(i),
                self.vtysh(i, "show bgp summary"),
                self.tail()
            )
        })
    }

    /// Every daemon's output and log tail.
    pub fn tail(&self) -> String {
        let mut s = self.zebra.tail();
        for inst in &self.instances {
            let _ = write!(
                s,
                "\n{}\n--- {} bgpd.log ---\n{}",
                inst.bgpd.tail(),
                inst.addr,
                proc::tail_file(&inst.dir.join("bgpd.log"), 40)
            );
        }
        s
    }
}

fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}
