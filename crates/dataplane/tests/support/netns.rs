//! Runs a test body inside network namespaces the test creates, never in the host's.
//!
//! The test process (in the host namespace) creates a router namespace `hwdp<pid>r<n>`
//! and a peer namespace `hwdp<pid>p<n>`, joined by a veth pair whose two ends are
//! created directly inside them (no interface ever exists in the host namespace):
//!
//! ```text
//!   router ns: lo 10.10.1.4/32          peer ns: lo 100.64.0.1/32 (the VIP)
//!              r0 10.99.0.1/24  ─veth─  p0 10.99.0.2/24, 10.99.0.3/24
//!                 fd00:99::1/64            fd00:99::2/64, fd00:99::3/64
//! ```
//!
//! It then re-executes its own test binary with `ip netns exec <router>` and
//! [`CHILD_ENV`] set, filtered to the one test: in that child, `run_in_netns` runs the
//! body on a tokio runtime. The child is waited for at most [`CHILD_BOUND`] and killed
//! by PID after; the namespaces are deleted by name when the guard drops, on success
//! and on panic alike.
//!
//! Without root the tests fail, saying why, unless `HOPWATCH_INTEROP=skip` is set: then
//! they say on stderr that they were skipped.
//!
//! `ip`, and the deletion of a namespace (after stopping, by PID, anything left in
//! it), are the lab crate's ([`hopwatch_lab::netns`]): one copy for every namespace
//! lab of the workspace.

use std::future::Future;
use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use hopwatch_lab::netns::ip_program;

/// Set in the re-executed child that runs inside the router namespace.
pub const CHILD_ENV: &str = "HOPWATCH_DATAPLANE_NETNS_CHILD";

/// How long the child may take.
pub const CHILD_BOUND: Duration = Duration::from_secs(60);

static NEXT: AtomicU32 = AtomicU32::new(0);

/// Runs `body` inside a fresh router namespace (see the module docs). `test_name` is
/// the name of the calling `#[test]` function, used to re-run only it in the child.
pub fn run_in_netns<F, Fut>(test_name: &str, body: F)
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = ()>,
{
    if std::env::var_os(CHILD_ENV).is_some() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(body());
        return;
    }
    if std::env::var("HOPWATCH_INTEROP").as_deref() == Ok("skip") {
        eprintln!(
            "{test_name}: skipped (HOPWATCH_INTEROP=skip): it needs root to create network namespaces"
        );
        return;
    }
    assert!(
        nix::unistd::geteuid().is_root(),
        "{test_name} needs root to create network namespaces; run it as root or set HOPWATCH_INTEROP=skip"
    );
    let lab = Lab::create();
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(ip_program())
        .args(["netns", "exec", &lab.router])
        .arg(exe)
        .args(["--exact", test_name, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Drained on threads so that a chatty child never blocks on a full pipe.
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + CHILD_BOUND;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            // `ip netns exec` execs the test binary, so this PID is the child itself.
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{test_name}: the child in {} took longer than {CHILD_BOUND:?}",
                lab.router
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // Shown by the test harness when the test fails.
    let stdout = stdout.join().unwrap();
    print!("{stdout}");
    eprint!("{}", stderr.join().unwrap());
    assert!(
        status.success(),
        "{test_name}: the child in {} failed: {status}",
        lab.router
    );
    // A misspelt name would run nothing in the child and "pass".
    assert!(
        stdout.contains("test result: ok. 1 passed"),
        "{test_name}: the child ran no test; is the name right?"
    );
}

/// The two namespaces; deleted by name on drop.
struct Lab {
    router: String,
    peer: String,
}

impl Lab {
    fn create() -> Lab {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let lab = Lab {
            router: format!("hwdp{pid}r{n}"),
            peer: format!("hwdp{pid}p{n}"),
        };
        let (r, p) = (lab.router.as_str(), lab.peer.as_str());
        for args in [
            vec!["netns", "add", r],
            vec!["netns", "add", p],
            vec!["-n", r, "link", "set", "lo", "up"],
            vec!["-n", p, "link", "set", "lo", "up"],
            // Both ends are born inside the lab's namespaces.
            vec![
                "-n", r, "link", "add", "r0", "type", "veth", "peer", "name", "p0", "netns", p,
            ],
            vec!["-n", r, "addr", "add", "10.10.1.4/32", "dev", "lo"],
            vec!["-n", r, "addr", "add", "10.99.0.1/24", "dev", "r0"],
            vec![
                "-n",
                r,
                "addr",
                "add",
                "fd00:99::1/64",
                "dev",
                "r0",
                "nodad",
            ],
            vec!["-n", p, "addr", "add", "100.64.0.1/32", "dev", "lo"],
            vec!["-n", p, "addr", "add", "10.99.0.2/24", "dev", "p0"],
            vec!["-n", p, "addr", "add", "10.99.0.3/24", "dev", "p0"],
            vec![
                "-n",
                p,
                "addr",
                "add",
                "fd00:99::2/64",
                "dev",
                "p0",
                "nodad",
            ],
            vec![
                "-n",
                p,
                "addr",
                "add",
                "fd00:99::3/64",
                "dev",
                "p0",
                "nodad",
            ],
            vec!["-n", r, "link", "set", "r0", "up"],
            vec!["-n", p, "link", "set", "p0", "up"],
        ] {
            ip(&args);
        }
        lab
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Deleting a namespace deletes the veth end in it, and with it the pair.
        for ns in [&self.router, &self.peer] {
            let _ = hopwatch_lab::netns::delete(ns);
        }
    }
}

/// Runs `ip ARGS` (the lab crate's), panicking with its stderr when it fails.
pub fn ip(args: &[&str]) -> String {
    hopwatch_lab::netns::ip(args).unwrap_or_else(|e| panic!("{e:#}"))
}

/// `ip -j route show exact PREFIX` in the current namespace, parsed.
pub fn routes_for(prefix: &str) -> Vec<serde_json::Value> {
    let family = if prefix.contains(':') { "-6" } else { "-4" };
    let out = ip(&["-j", family, "route", "show", "exact", prefix]);
    serde_json::from_str(&out).unwrap()
}

/// The gateways of the routes for `prefix`, sorted: one for a plain route, several for
/// a multipath one (and for IPv6 ECMP, which `ip` may show as sibling routes).
pub fn gateways(prefix: &str) -> Vec<String> {
    let mut gws = Vec::new();
    for route in routes_for(prefix) {
        assert_eq!(
            route["protocol"].as_str(),
            Some("241"),
            "hopwatch's protocol number: {route}"
        );
        if let Some(gw) = route["gateway"].as_str() {
            gws.push(gw.to_owned());
        }
        for hop in route["nexthops"].as_array().into_iter().flatten() {
            gws.push(hop["gateway"].as_str().unwrap().to_owned());
        }
    }
    gws.sort();
    gws
}

/// The gateway `ip route get ADDR` resolves to, or `None` when there is no route.
pub fn route_get(addr: &str) -> Option<String> {
    let out = Command::new(ip_program())
        .args(["-j", "route", "get", addr])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    if !out.status.success() {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v[0]["gateway"].as_str().map(str::to_owned)
}
