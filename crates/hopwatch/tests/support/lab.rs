//! The seed's namespace lab (`docs/lab-topology.md`, "Namespace lab"): a
//! `vnet` router namespace with a bridge 10.10.0.1/24 and the route server addresses
//! 10.10.1.4/32 and 10.10.1.5/32 on its `lo` (these machines have no `dummy`
//! interfaces), and one namespace per host: ws1 and ws2 (the backends, each with the
//! VIP on `lo` and a default route via the router), watch1 (the watcher, with a route
//! to the route servers via the router) and optionally lt1 (a load injector).
//!
//! Each host is joined to the bridge by a veth pair created directly inside the two
//! namespaces: no end ever exists in the host namespace, and nothing routes there.
//! Names carry a per-run prefix so runs coexist; dropping the lab (also on panic)
//! stops what still runs in its namespaces, by PID, and deletes them.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::netns::{ip, make_temp_dir, sweep};
use super::proc;

/// The router's address on the bridge.
pub const ROUTER: &str = "10.10.0.1";
/// Route server instance 1 (on the router's `lo`).
pub const RS1: &str = "10.10.1.4";
/// Route server instance 2 (on the router's `lo`).
pub const RS2: &str = "10.10.1.5";
/// ws1's address (the VIP's first next hop).
pub const WS1: &str = "10.10.0.4";
/// ws2's address (the VIP's second next hop).
pub const WS2: &str = "10.10.0.5";
/// lt1's address.
pub const LT1: &str = "10.10.0.6";
/// watch1's address (the watcher's router id and BGP source).
pub const WATCH1: &str = "10.10.0.7";
/// The VIP, as the backends carry it on `lo`.
pub const VIP_ADDR: &str = "100.64.0.1";
/// The VIP as a prefix.
pub const VIP: &str = "100.64.0.1/32";

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// One host namespace on the bridge.
#[derive(Clone, Debug)]
pub struct Host {
    /// The namespace.
    pub ns: String,
    /// Its veth end (inside `ns`).
    pub ifname: String,
    /// Its address on the bridge.
    pub addr: &'static str,
}

/// The router namespace, the hosts, and a temp folder, owned by one test or bench.
pub struct NetLab {
    /// The name prefix of everything this lab creates.
    pub prefix: String,
    /// The router and route server namespace.
    pub vnet: String,
    /// The bridge in `vnet`.
    pub bridge: String,
    /// The primary backend.
    pub ws1: Host,
    /// The secondary backend.
    pub ws2: Host,
    /// The watcher's host.
    pub watch1: Host,
    /// The load injector's host, if asked for.
    pub lt1: Option<Host>,
    /// A fresh folder for configs, sockets and logs.
    pub dir: PathBuf,
    /// A number unique to this lab within the process.
    pub n: usize,
    created: Vec<String>,
}

fn must(args: &[&str]) {
    if let Err(e) = ip(args) {
        panic!("lab setup failed: {e}");
    }
}

/// Runs `sysctl -q -w SETTING…` inside `ns`, panicking if it fails.
fn sysctl(ns: &str, settings: &[&str]) {
    let mut argv = vec!["sysctl", "-q", "-w"];
    argv.extend_from_slice(settings);
    proc::run_in_ok(ns, &argv);
}

impl NetLab {
    /// Builds the lab; `test` names the temp folder, `with_lt1` adds lt1.
    pub fn new(test: &str, with_lt1: bool) -> NetLab {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        // Interface names have at most 15 characters: keep the prefix short.
        let prefix = format!("hl{:x}x{n}-", std::process::id());
        let dir = make_temp_dir(test);
        let host = |tag: &str, iftag: &str, addr: &'static str| Host {
            ns: format!("{prefix}{tag}"),
            ifname: format!("{prefix}{iftag}"),
            addr,
        };
        let ws1 = host("ws1", "a", WS1);
        let ws2 = host("ws2", "b", WS2);
        let watch1 = host("watch1", "w", WATCH1);
        let lt1 = with_lt1.then(|| host("lt1", "l", LT1));
        let mut lab = NetLab {
            vnet: format!("{prefix}vnet"),
            bridge: format!("{prefix}br"),
            ws1,
            ws2,
            watch1,
            lt1,
            prefix,
            dir,
            n,
            created: Vec::new(),
        };
        let mut names = vec![
            lab.vnet.clone(),
            lab.ws1.ns.clone(),
            lab.ws2.ns.clone(),
            lab.watch1.ns.clone(),
        ];
        names.extend(lab.lt1.as_ref().map(|h| h.ns.clone()));
        for ns in names {
            if ip(&["netns", "add", &ns]).is_err() {
                // A leftover of an earlier run whose PID we reuse: ours to replace.
                sweep(&ns);
                let _ = ip(&["netns", "del", &ns]);
                must(&["netns", "add", &ns]);
            }
            lab.created.push(ns.clone());
            must(&["-n", &ns, "link", "set", "lo", "up"]);
        }
        lab.build_router();
        for h in lab.hosts() {
            lab.attach(&h);
        }
        for h in [&lab.ws1, &lab.ws2] {
            must(&[
                "-n",
                &h.ns,
                "addr",
                "add",
                &format!("{VIP_ADDR}/32"),
                "dev",
                "lo",
            ]);
            must(&["-n", &h.ns, "route", "add", "default", "via", ROUTER]);
        }
        must(&[
            "-n",
            &lab.watch1.ns,
            "route",
            "add",
            "10.10.1.0/24",
            "via",
            ROUTER,
        ]);
        if let Some(h) = &lab.lt1 {
            must(&["-n", &h.ns, "route", "add", "default", "via", ROUTER]);
        }
        lab
    }

    fn build_router(&self) {
        let (ns, br) = (&self.vnet, &self.bridge);
        sysctl(
            ns,
            &[
                "net.ipv4.ip_forward=1",
                "net.ipv4.conf.all.send_redirects=0",
                "net.ipv4.conf.default.send_redirects=0",
            ],
        );
        must(&[
            "-n",
            ns,
            "link",
            "add",
            br,
            "type",
            "bridge",
            "forward_delay",
            "0",
        ]);
        must(&["-n", ns, "addr", "add", &format!("{ROUTER}/24"), "dev", br]);
        must(&["-n", ns, "link", "set", br, "up"]);
        sysctl(ns, &[&format!("net.ipv4.conf.{br}.send_redirects=0")]);
        for a in [RS1, RS2] {
            must(&["-n", ns, "addr", "add", &format!("{a}/32"), "dev", "lo"]);
        }
    }

    /// A veth pair between `h` and the bridge, created inside both namespaces.
    fn attach(&self, h: &Host) {
        let peer = format!("{}p", h.ifname);
        must(&[
            "link", "add", &h.ifname, "netns", &h.ns, "type", "veth", "peer", "name", &peer,
            "netns", &self.vnet,
        ]);
        must(&[
            "-n",
            &self.vnet,
            "link",
            "set",
            &peer,
            "master",
            &self.bridge,
        ]);
        must(&["-n", &self.vnet, "link", "set", &peer, "up"]);
        must(&[
            "-n",
            &h.ns,
            "addr",
            "add",
            &format!("{}/24", h.addr),
            "dev",
            &h.ifname,
        ]);
        must(&["-n", &h.ns, "link", "set", &h.ifname, "up"]);
    }

    /// Every host namespace (not the router).
    pub fn hosts(&self) -> Vec<Host> {
        let mut v = vec![self.ws1.clone(), self.ws2.clone(), self.watch1.clone()];
        v.extend(self.lt1.clone());
        v
    }

    /// The lab folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A subfolder of the lab folder.
    pub fn subdir(&self, name: &str) -> PathBuf {
        let d = self.dir.join(name);
        std::fs::create_dir_all(&d).expect("the lab folder is writable");
        d
    }

    /// Writes `text` to `dir/name` and returns the path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.join(name);
        std::fs::write(&p, text).expect("the lab folder is writable");
        p
    }

    /// `ip route get ADDR` in the router namespace, trimmed.
    pub fn route_get(&self, addr: &str) -> String {
        let out = proc::run_in(&self.vnet, &["ip", "route", "get", addr]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for NetLab {
    fn drop(&mut self) {
        // Hosts first, then the router whose bridge they hang on.
        for ns in self.created.iter().rev() {
            sweep(ns);
            if let Err(e) = ip(&["netns", "del", ns]) {
                eprintln!("lab teardown: {e}");
            }
        }
        if std::thread::panicking() || std::env::var_os("HOPWATCH_INTEROP_KEEP").is_some() {
            eprintln!("lab files kept in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// The example config of issue 3 (`examples/watcher.toml`), with the changes a lab
/// run needs given as `(key line prefix, replacement line)` pairs: each replaced
/// line must exist, so a change to the example cannot silently bypass the lab.
pub fn example_config(changes: &[(&str, &str)]) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/watcher.toml");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut out = String::new();
    let mut used = vec![false; changes.len()];
    for line in text.lines() {
        match changes
            .iter()
            .position(|(key, _)| line.trim_start().starts_with(key))
        {
            Some(i) => {
                used[i] = true;
                out.push_str(changes[i].1);
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    for (i, u) in used.iter().enumerate() {
        assert!(
            u,
            "the example config has no line starting with {:?}",
            changes[i].0
        );
    }
    out
}
