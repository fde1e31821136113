//! BIRD 2 as the peer: one `protocol bgp hw` towards hopwatch, a static route it can
//! originate, read back with `birdc show route all` (text: BIRD has no JSON output).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::netns::{Lab, PEER_ADDR, SPEAKER_ADDR};
use super::proc::{self, Daemon};
use super::wait;

/// What the BIRD side of a lab looks like.
#[derive(Clone, Debug)]
pub struct BirdConfig {
    /// The AS BIRD expects hopwatch to have.
    pub neighbor_as: u32,
    /// `passive on`: BIRD waits for hopwatch to connect.
    pub passive: bool,
    /// `enable as4`: whether BIRD offers the 4-octet AS capability.
    pub as4: bool,
    /// Prefixes BIRD originates (static blackholes), exported with MED 50 and
    /// community 65000:1.
    pub networks: Vec<String>,
}

/// A route as BIRD shows it.
#[derive(Clone, Debug)]
pub struct BirdRoute {
    /// `BGP.next_hop`.
    pub next_hop: String,
    /// `BGP.as_path`.
    pub as_path: Vec<u64>,
    /// The whole `show route all` output.
    pub text: String,
}

/// A running BIRD.
pub struct Bird {
    /// The running daemon.
    pub daemon: Daemon,
    ns: String,
    /// Its folder (config, control socket, log).
    pub dir: PathBuf,
}

fn config(cfg: &BirdConfig, dir: &str) -> String {
    let mut c = String::new();
    let _ = writeln!(c, "log \"{dir}/bird.log\" all;\nrouter id {PEER_ADDR};");
    let _ = writeln!(c, "protocol device {{ }}");
    let _ = writeln!(c, "protocol static peer_routes {{\n  ipv4;");
    for p in &cfg.networks {
        let _ = writeln!(c, "  route {p} blackhole;");
    }
    let _ = writeln!(c, "}}\nprotocol bgp hw {{");
    let _ = writeln!(
        c,
        "  local {PEER_ADDR} as 65000;\n  neighbor {SPEAKER_ADDR} as {};",
        cfg.neighbor_as
    );
    if cfg.passive {
        let _ = writeln!(c, "  passive on;");
    }
    let _ = writeln!(c, "  enable as4 {};", if cfg.as4 { "on" } else { "off" });
    let _ = writeln!(
        c,
        "  hold time 9;\n  connect delay time 1;\n  connect retry time 2;"
    );
    let _ = writeln!(c, "  error wait time 1, 5;");
    let _ = writeln!(c, "  ipv4 {{\n    import all;\n    export filter {{");
    let _ = writeln!(c, "      if source = RTS_STATIC then {{");
    let _ = writeln!(
        c,
        "        bgp_med = 50;\n        bgp_community.add((65000, 1));\n        accept;"
    );
    let _ = writeln!(c, "      }}\n      reject;\n    }};\n  }};\n}}");
    c
}

impl Bird {
    /// Starts BIRD in the lab's router namespace and waits for birdc.
    pub fn start(lab: &Lab, cfg: &BirdConfig) -> Bird {
        let dir = lab.subdir("bird");
        let conf = config(cfg, &dir.to_string_lossy());
        Bird::launch(&lab.router, dir, &conf, "bird")
    }

    /// Writes `conf` into `dir`, starts BIRD in namespace `ns` and waits until birdc
    /// answers; `label` names it in the logs.
    pub fn launch(ns: &str, dir: PathBuf, conf: &str, label: &str) -> Bird {
        let d = dir.to_string_lossy().into_owned();
        std::fs::write(dir.join("bird.conf"), conf).expect("lab folder writable");
        let (c, s, p) = (
            format!("{d}/bird.conf"),
            format!("{d}/bird.ctl"),
            format!("{d}/bird.pid"),
        );
        let mut argv = vec![hopwatch_lab::bird::PROGRAM.to_string()];
        argv.extend(hopwatch_lab::bird::daemon_args(
            Path::new(&c),
            Path::new(&s),
            Path::new(&p),
        ));
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        let daemon = Daemon::spawn(ns, "bird", &dir, &argv, &[("TZ", "UTC")]);
        let bird = Bird {
            daemon,
            ns: ns.to_string(),
            dir,
        };
        let ready = wait::poll(Duration::from_secs(15), Duration::from_millis(100), || {
            Some(()).filter(|()| bird.birdc("show status").contains("Daemon is up"))
        });
        assert!(
            ready.is_some(),
            "BIRD did not answer birdc\n{}",
            bird.tail()
        );
        eprintln!("[{label}] started in {} with\n{conf}", bird.ns);
        bird
    }

    /// Runs a birdc command; returns its output.
    pub fn birdc(&self, cmd: &str) -> String {
        let sock = format!("{}/bird.ctl", self.dir.to_string_lossy());
        let mut argv = vec!["birdc", "-s", &sock];
        argv.extend(cmd.split_whitespace());
        let out = proc::run_in(&self.ns, &argv);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// BIRD's best route for exactly `prefix`, if any.
    pub fn route(&self, prefix: &str) -> Option<BirdRoute> {
        let text = self.birdc(&format!("show route all {prefix}"));
        let field = |name: &str| -> Option<String> {
            text.lines()
                .find_map(|l| l.trim().strip_prefix(name))
                .map(|v| v.trim().to_string())
        };
        let next_hop = field("BGP.next_hop:")?;
        let as_path = field("BGP.as_path:")
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|a| a.parse().ok())
            .collect();
        Some(BirdRoute {
            next_hop,
            as_path,
            text,
        })
    }

    /// Every route BIRD learnt from hopwatch, with its next hop (the first `via` of
    /// each prefix in `show route protocol hw`, one birdc call for the whole table).
    pub fn routes(&self) -> BTreeMap<String, String> {
        let text = self.birdc("show route protocol hw");
        let mut out = BTreeMap::new();
        let mut current: Option<String> = None;
        for line in text.lines() {
            let first = line.split_whitespace().next().unwrap_or("");
            if !line.starts_with(char::is_whitespace) && first.contains('/') {
                current = Some(first.to_string());
            } else if let (Some(p), Some(via)) = (&current, line.trim().strip_prefix("via ")) {
                let nh = via.split_whitespace().next().unwrap_or("").to_string();
                out.entry(p.clone()).or_insert(nh);
            }
        }
        out
    }

    /// Waits until BIRD's route for `prefix` satisfies `pred`; panics if not.
    pub fn wait_route(
        &self,
        prefix: &str,
        what: &str,
        pred: impl Fn(&BirdRoute) -> bool,
    ) -> BirdRoute {
        wait::poll(wait::ROUTE_TIMEOUT, Duration::from_millis(100), || {
            self.route(prefix).filter(|r| pred(r))
        })
        .unwrap_or_else(|| {
            panic!(
                "BIRD never showed {prefix} {what}; it shows:\n{}\n{}",
                self.birdc(&format!("show route all {prefix}")),
                self.tail()
            )
        })
    }

    /// `show protocols all hw`.
    pub fn protocol(&self) -> String {
        self.birdc("show protocols all hw")
    }

    /// Waits until BIRD says the session is Established; returns `show protocols all`.
    pub fn wait_established(&self) -> String {
        wait::poll(wait::SESSION_TIMEOUT, Duration::from_millis(200), || {
            let p = self.protocol();
            p.lines()
                .any(|l| l.trim().starts_with("BGP state:") && l.contains("Established"))
                .then_some(p)
        })
        .unwrap_or_else(|| {
            panic!(
                "BIRD never reached Established:\n{}\n{}",
                self.protocol(),
                self.tail()
            )
        })
    }

    /// Its output and log tail.
    pub fn tail(&self) -> String {
        format!(
            "{}\n--- bird.log ---\n{}",
            self.daemon.tail(),
            proc::tail_file(&self.dir.join("bird.log"), 40)
        )
    }
}

/// The "Neighbor capabilities" part of `show protocols all`.
pub fn neighbor_capabilities(protocol: &str) -> String {
    let start = protocol
        .find("Neighbor capabilities")
        .unwrap_or(protocol.len());
    let rest = &protocol[start..];
    let end = rest.find("Session:").unwrap_or(rest.len());
    rest[..end].to_string()
}
