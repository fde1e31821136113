//! The real daemons as peers of `hopwatch route-server` ([`super::route_server`]):
//! FRR, BIRD, GoBGP and ExaBGP in the lab's speaker namespace at 10.10.0.7, AS 65001,
//! one multihop session to the route server at 10.10.1.4 (AS 65515), announcing the
//! VIP with a third-party next hop (10.10.0.4, then 10.10.0.5) each in its own way:
//!
//! - FRR: `network` plus an outbound route-map that sets the next hop; a next-hop
//!   change edits the route-map and runs `clear bgp … soft out`.
//! - BIRD: a static route exported with `bgp_next_hop` set by the export filter;
//!   each change rewrites the config (next hop, or the static protocol disabled) and
//!   runs `birdc configure`. The session is `protocol bgp ars`: `rs` is a keyword.
//! - GoBGP: `gobgp global rib add|del`.
//! - ExaBGP: API commands `announce route …` / `withdraw route …`.
//!
//! Graceful restart is switched off explicitly unless a test asks for the daemon's
//! default ([`Gr::Default`]: FRR and BIRD then send a helper-only capability).

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use super::bird::Bird;
use super::exabgp::{ExaConfig, Exabgp};
use super::frr::daemon_argv;
use super::gobgp::Gobgp;
use super::netns::{Lab, SPEAKER_ADDR};
use super::proc::{self, Daemon};
use super::route_server::{RS_ADDR, RS_AS, RS_PEER_AS, RsPeer};
use super::wait;
use super::{NH1, VIP};

/// Graceful restart on the peer's side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gr {
    /// Switched off: no capability in the OPEN.
    Off,
    /// The daemon's default (FRR: helper mode; BIRD: `aware`): a capability with a
    /// restart time and no address family, i.e. "I do not preserve forwarding".
    Default,
}

fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

// ---------------------------------------------------------------- FRR

/// FRR's zebra and bgpd as the route server's peer (bgpd first: stopped first).
pub struct FrrPeer {
    bgpd: Daemon,
    zebra: Daemon,
    ns: String,
    dir: PathBuf,
    announced: bool,
}

fn frr_config(dir: &str, n: usize, gr: Gr) -> String {
    let rs = RS_ADDR;
    let mut c = String::new();
    let _ = writeln!(
        c,
        "frr defaults traditional\nhostname peer{n}\nlog file {dir}/bgpd.log informational\n!"
    );
    let _ = writeln!(c, "route-map RS-OUT permit 10\n set ip next-hop {NH1}\n!");
    let _ = writeln!(c, "router bgp {RS_PEER_AS}\n bgp router-id {SPEAKER_ADDR}");
    let _ = writeln!(
        c,
        " no bgp ebgp-requires-policy\n no bgp network import-check\n no bgp default ipv4-unicast"
    );
    if gr == Gr::Off {
        let _ = writeln!(c, " bgp graceful-restart-disable");
    }
    let _ = writeln!(c, " neighbor {rs} remote-as {RS_AS}");
    let _ = writeln!(c, " neighbor {rs} ebgp-multihop 2");
    let _ = writeln!(c, " neighbor {rs} update-source {SPEAKER_ADDR}");
    let _ = writeln!(
        c,
        " neighbor {rs} timers 3 9\n neighbor {rs} timers connect 1"
    );
    let _ = writeln!(c, " neighbor {rs} advertisement-interval 0\n !");
    let _ = writeln!(c, " address-family ipv4 unicast\n  neighbor {rs} activate");
    let _ = writeln!(
        c,
        "  neighbor {rs} route-map RS-OUT out\n exit-address-family\n!"
    );
    c
}

impl FrrPeer {
    /// Starts zebra and bgpd in the lab's speaker namespace; nothing announced yet.
    pub fn start(lab: &Lab, gr: Gr) -> FrrPeer {
        let dir = lab.subdir("frr-peer");
        let d = dir.to_string_lossy().into_owned();
        let conf = frr_config(&d, lab.n, gr);
        std::fs::write(dir.join("bgpd.conf"), &conf).expect("lab folder writable");
        std::fs::write(dir.join("zebra.conf"), format!("hostname peer{}\n", lab.n))
            .expect("lab folder writable");
        let st = Command::new("chown")
            .args(["-R", "frr:frr", &d])
            .status()
            .expect("chown runs");
        assert!(st.success(), "chown frr {d} failed");
        let zserv = format!("{d}/zserv.api");
        let argv = |daemon: &str| daemon_argv(daemon, &d, &zserv, &[]);
        let zebra = Daemon::spawn(&lab.speaker, "zebra", &dir, &refs(&argv("zebra")), &[]);
        let zsock = dir.join("zserv.api");
        let up = wait::poll(Duration::from_secs(15), Duration::from_millis(50), || {
            zsock.exists().then_some(())
        });
        assert!(up.is_some(), "zebra did not start\n{}", zebra.tail());
        let bgpd = Daemon::spawn(&lab.speaker, "bgpd", &dir, &refs(&argv("bgpd")), &[]);
        let frr = FrrPeer {
            bgpd,
            zebra,
            ns: lab.speaker.clone(),
            dir,
            announced: false,
        };
        let ready = wait::poll(Duration::from_secs(15), Duration::from_millis(100), || {
            serde_json::from_str::<Value>(&frr.vtysh(&["show bgp summary json"]))
                .ok()
                .filter(|v| v.get("ipv4Unicast").is_some())
        });
        assert!(ready.is_some(), "bgpd did not answer vtysh\n{}", frr.tail());
        eprintln!("[frr] peer started in {} with\n{conf}", frr.ns);
        frr
    }

    /// Runs vtysh with one `-c` per command; returns stdout (and stderr, if any).
    pub fn vtysh(&self, cmds: &[&str]) -> String {
        let d = self.dir.to_string_lossy();
        let mut argv = vec!["vtysh", "--vty_socket", &d, "-d", "bgpd"];
        for c in cmds {
            argv.push("-c");
            argv.push(c);
        }
        let out = proc::run_in(&self.ns, &argv);
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }

    fn configure(&self, lines: &[&str]) {
        let mut cmds = vec!["configure terminal"];
        cmds.extend_from_slice(lines);
        let out = self.vtysh(&cmds);
        assert!(
            !out.contains('%'),
            "vtysh {cmds:?} complained: {out}\n{}",
            self.tail()
        );
    }
}

impl RsPeer for FrrPeer {
    fn name(&self) -> String {
        "FRR".into()
    }

    fn wait_established(&self) -> String {
        wait::poll(wait::SESSION_TIMEOUT, Duration::from_millis(200), || {
            let v: Value =
                serde_json::from_str(&self.vtysh(&[&format!("show bgp neighbors {RS_ADDR} json")]))
                    .ok()?;
            (v[RS_ADDR]["bgpState"] == "Established").then(|| self.vtysh(&["show bgp summary"]))
        })
        .unwrap_or_else(|| {
            panic!(
                "FRR never reached Established with the route server:\n{}\n{}",
                self.vtysh(&["show bgp summary"]),
                self.tail()
            )
        })
    }

    fn announce(&mut self, next_hop: &str) {
        let set = format!("set ip next-hop {next_hop}");
        self.configure(&["route-map RS-OUT permit 10", &set]);
        if self.announced {
            // Re-run the outbound policy now rather than after the route-map timer.
            let _ = self.vtysh(&[&format!("clear bgp ipv4 unicast {RS_ADDR} soft out")]);
        } else {
            let net = format!("network {VIP}");
            self.configure(&["router bgp 65001", "address-family ipv4 unicast", &net]);
            self.announced = true;
        }
    }

    fn withdraw(&mut self) {
        let net = format!("no network {VIP}");
        self.configure(&["router bgp 65001", "address-family ipv4 unicast", &net]);
        self.announced = false;
    }

    fn kill(&mut self) {
        self.bgpd.kill_hard();
    }

    fn tail(&self) -> String {
        format!(
            "{}\n{}\n--- bgpd.log ---\n{}",
            self.bgpd.tail(),
            self.zebra.tail(),
            proc::tail_file(&self.dir.join("bgpd.log"), 40)
        )
    }
}

// ---------------------------------------------------------------- BIRD

/// BIRD 2 as the route server's peer.
pub struct BirdPeer {
    bird: Bird,
    gr: Gr,
}

fn bird_config(dir: &str, gr: Gr, next_hop: &str, enabled: bool) -> String {
    let mut c = String::new();
    let _ = writeln!(c, "log \"{dir}/bird.log\" all;\nrouter id {SPEAKER_ADDR};");
    let _ = writeln!(c, "protocol device {{ }}");
    let _ = writeln!(
        c,
        "protocol static vip {{\n  disabled {};\n  ipv4;\n  route {VIP} blackhole;\n}}",
        if enabled { "no" } else { "yes" }
    );
    let _ = writeln!(c, "protocol bgp ars {{");
    let _ = writeln!(
        c,
        "  local {SPEAKER_ADDR} as {RS_PEER_AS};\n  neighbor {RS_ADDR} as {RS_AS};\n  multihop 2;"
    );
    if gr == Gr::Off {
        let _ = writeln!(c, "  graceful restart off;");
    }
    let _ = writeln!(
        c,
        "  hold time 9;\n  connect delay time 1;\n  connect retry time 2;\n  error wait time 1, 5;"
    );
    let _ = writeln!(c, "  ipv4 {{\n    import none;\n    export filter {{");
    let _ = writeln!(
        c,
        "      if proto = \"vip\" then {{ bgp_next_hop = {next_hop}; accept; }}\n      reject;"
    );
    let _ = writeln!(c, "    }};\n  }};\n}}");
    c
}

impl BirdPeer {
    /// Starts BIRD in the lab's speaker namespace; its static VIP route disabled.
    pub fn start(lab: &Lab, gr: Gr) -> BirdPeer {
        let dir = lab.subdir("bird-peer");
        let conf = bird_config(&dir.to_string_lossy(), gr, NH1, false);
        let bird = Bird::launch(&lab.speaker, dir, &conf, "bird peer");
        BirdPeer { bird, gr }
    }

    /// Runs a birdc command; returns its output.
    pub fn birdc(&self, cmd: &str) -> String {
        self.bird.birdc(cmd)
    }

    /// Rewrites the config and has BIRD reload it.
    fn reconfigure(&self, next_hop: &str, enabled: bool) {
        let d = self.bird.dir.to_string_lossy();
        let conf = bird_config(&d, self.gr, next_hop, enabled);
        std::fs::write(self.bird.dir.join("bird.conf"), conf).expect("lab folder writable");
        let out = self.birdc("configure");
        assert!(
            out.contains("Reconfigured") || out.contains("Reconfiguration in progress"),
            "birdc configure: {out}\n{}",
            self.tail()
        );
    }
}

impl RsPeer for BirdPeer {
    fn name(&self) -> String {
        "BIRD".into()
    }

    fn wait_established(&self) -> String {
        wait::poll(wait::SESSION_TIMEOUT, Duration::from_millis(200), || {
            let p = self.birdc("show protocols all ars");
            p.lines()
                .any(|l| l.trim().starts_with("BGP state:") && l.contains("Established"))
                .then_some(p)
        })
        .unwrap_or_else(|| {
            panic!(
                "BIRD never reached Established with the route server:\n{}\n{}",
                self.birdc("show protocols all ars"),
                self.tail()
            )
        })
    }

    fn announce(&mut self, next_hop: &str) {
        self.reconfigure(next_hop, true);
    }

    fn withdraw(&mut self) {
        self.reconfigure(NH1, false);
    }

    fn kill(&mut self) {
        self.bird.daemon.kill_hard();
    }

    fn tail(&self) -> String {
        self.bird.tail()
    }
}

// ---------------------------------------------------------------- GoBGP

/// gobgpd as the route server's peer, its API on the speaker namespace's loopback.
pub struct GobgpPeer {
    g: Gobgp,
}

fn gobgp_config() -> String {
    let mut c = String::new();
    let _ = writeln!(
        c,
        "[global.config]\n  as = {RS_PEER_AS}\n  router-id = \"{SPEAKER_ADDR}\""
    );
    let _ = writeln!(c, "  local-address-list = [\"{SPEAKER_ADDR}\"]\n");
    let _ = writeln!(c, "[[neighbors]]\n  [neighbors.config]");
    let _ = writeln!(
        c,
        "    neighbor-address = \"{RS_ADDR}\"\n    peer-as = {RS_AS}"
    );
    let _ = writeln!(
        c,
        "  [neighbors.transport.config]\n    local-address = \"{SPEAKER_ADDR}\""
    );
    let _ = writeln!(
        c,
        "  [neighbors.ebgp-multihop.config]\n    enabled = true\n    multihop-ttl = 2"
    );
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

impl GobgpPeer {
    /// Starts gobgpd in the lab's speaker namespace, API on 127.0.0.1:(50051 + lab.n).
    pub fn start(lab: &Lab) -> GobgpPeer {
        let dir = lab.subdir("gobgp-peer");
        let port = (50051 + lab.n).to_string();
        let g = Gobgp::launch(&lab.speaker, dir, &gobgp_config(), port, &[], "gobgp peer");
        GobgpPeer { g }
    }

    /// Runs `gobgp ARGS…`; returns stdout (panics if it fails).
    pub fn gobgp(&self, args: &[&str]) -> String {
        self.g.gobgp(args)
    }
}

impl RsPeer for GobgpPeer {
    fn name(&self) -> String {
        "GoBGP".into()
    }

    fn wait_established(&self) -> String {
        wait::poll(wait::SESSION_TIMEOUT, Duration::from_millis(200), || {
            let out = proc::run_in(&self.g.ns, &self.g.argv(&["neighbor", RS_ADDR, "-j"]));
            let v: Value = serde_json::from_slice(&out.stdout).ok()?;
            (v["state"]["session_state"] == 6).then(|| self.gobgp(&["neighbor"]))
        })
        .unwrap_or_else(|| {
            panic!(
                "GoBGP never reached Established with the route server:\n{}\n{}",
                self.gobgp(&["neighbor"]),
                self.tail()
            )
        })
    }

    fn announce(&mut self, next_hop: &str) {
        self.gobgp(&[
            "global", "rib", "add", VIP, "nexthop", next_hop, "-a", "ipv4",
        ]);
    }

    fn withdraw(&mut self) {
        self.gobgp(&["global", "rib", "del", VIP, "-a", "ipv4"]);
    }

    fn kill(&mut self) {
        self.g.daemon.kill_hard();
    }

    fn tail(&self) -> String {
        self.g.tail()
    }
}

// ---------------------------------------------------------------- ExaBGP

/// ExaBGP as the route server's peer, driven through its API commands.
pub struct ExaPeer {
    /// The running ExaBGP.
    pub exa: Exabgp,
}

/// ExaBGP's config towards the route server, from `local_addr` as AS `local_as`.
pub fn exa_config(lab: &Lab, local_addr: &str, local_as: u32) -> ExaConfig {
    ExaConfig {
        ns: lab.speaker.clone(),
        local_addr: local_addr.into(),
        peer_addr: RS_ADDR.into(),
        local_as,
        peer_as: RS_AS,
        passive: false,
        asn4: true,
        graceful_restart: None,
        routes: vec![],
    }
}

impl ExaPeer {
    /// Starts ExaBGP at 10.10.0.7, AS 65001; nothing announced yet.
    pub fn start(lab: &Lab) -> ExaPeer {
        let cfg = exa_config(lab, SPEAKER_ADDR, RS_PEER_AS);
        ExaPeer {
            exa: Exabgp::start(lab, "exabgp-peer", &cfg),
        }
    }
}

impl RsPeer for ExaPeer {
    fn name(&self) -> String {
        "ExaBGP".into()
    }

    fn wait_established(&self) -> String {
        self.exa.wait_up().to_string()
    }

    fn announce(&mut self, next_hop: &str) {
        self.exa
            .command(&format!("announce route {VIP} next-hop {next_hop}"));
    }

    fn withdraw(&mut self) {
        self.exa.command(&format!("withdraw route {VIP}"));
    }

    fn kill(&mut self) {
        self.exa.kill_hard();
    }

    fn tail(&self) -> String {
        self.exa.tail()
    }
}
