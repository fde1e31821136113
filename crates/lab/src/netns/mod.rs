//! Network namespaces: the one copy of the plumbing every namespace lab uses (the
//! namespace lab of `hopwatch lab --netns`, the interoperability tests, the
//! benchmarks, the data plane's kernel tests): `ip`, a command inside a namespace,
//! the sweep of what is left in one, a thread moved into one.
//!
//! [`Net`] builds the seed's network from them (`net.rs`).
//!
//! The rule they serve (`docs/lab-topology.md`): nothing runs in the host's
//! namespace except `ip` itself; whatever a lab starts runs inside namespaces it
//! created, and is stopped by PID.

mod net;

use std::fs::File;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

pub use net::{BRIDGE, HOST_IF, Names, Net, preflight};

/// The `ip` program: the one on `PATH`, else iproute2's `/usr/sbin/ip` or `/sbin/ip`.
/// A root shell's `PATH` has `/usr/sbin`; a test run from a login whose `PATH` does
/// not (Debian's default for users, kept by some `sudo` setups) must still find it.
pub fn ip_program() -> &'static Path {
    static IP: OnceLock<PathBuf> = OnceLock::new();
    IP.get_or_init(|| {
        std::env::var_os("PATH")
            .and_then(|p| {
                std::env::split_paths(&p)
                    .map(|d| d.join("ip"))
                    .find(|f| f.is_file())
            })
            .or_else(|| {
                ["/usr/sbin/ip", "/sbin/ip"]
                    .into_iter()
                    .map(PathBuf::from)
                    .find(|f| f.is_file())
            })
            .unwrap_or_else(|| PathBuf::from("ip"))
    })
}

/// `ip ARGS`: its stdout, or an error naming the command with its stderr.
pub fn ip(args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new(ip_program())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .context("running ip (iproute2)")?;
    if !out.status.success() {
        bail!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `ip netns exec NS ARGV`, its stdin fed with `input`: its stdout, or an error
/// with its stderr.
pub fn exec_in(ns: &str, argv: &[&str], input: Option<&str>) -> anyhow::Result<String> {
    use std::io::Write as _;
    let mut child = Command::new(ip_program())
        .args(["netns", "exec", ns])
        .args(argv)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("running {} in {ns}", argv.join(" ")))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(input.unwrap_or("").as_bytes())
            .with_context(|| format!("feeding {}", argv.join(" ")))?;
    }
    let out = child
        .wait_with_output()
        .with_context(|| format!("waiting for {}", argv.join(" ")))?;
    if !out.status.success() {
        bail!(
            "{} in {ns}: {}",
            argv.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `sysctl -q -w SETTINGS` inside `ns`.
pub fn sysctl(ns: &str, settings: &[&str]) -> anyhow::Result<()> {
    let mut argv = vec!["sysctl", "-q", "-w"];
    argv.extend_from_slice(settings);
    exec_in(ns, &argv, None).map(|_| ())
}

/// How long [`sweep`] gives the processes left in a namespace between SIGTERM and
/// SIGKILL.
pub const SWEEP_GRACE: Duration = Duration::from_secs(2);

/// The PIDs of the processes in namespace `ns` (`ip netns pids`).
pub fn pids(ns: &str) -> Vec<i32> {
    ip(&["netns", "pids", ns])
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// Stops every process still in namespace `ns`, by PID: SIGTERM, up to
/// [`SWEEP_GRACE`] for them to exit, then SIGKILL to whatever is left.
///
/// The last resort of every teardown, before the namespace is deleted: a lab stops
/// its own children first (by PID), so usually nothing is left and this returns at
/// once. SIGTERM first because what is left may be a daemon that acts on it (bgpd
/// and BIRD write their logs and remove their sockets, a BGP speaker sends Cease);
/// the lab's copy used to SIGKILL at once and the tests' to wait: the wait costs
/// nothing when the namespace is empty and loses nothing when it is not.
pub fn sweep(ns: &str) {
    let first = pids(ns);
    if first.is_empty() {
        return;
    }
    for pid in &first {
        signal(*pid, nix::sys::signal::Signal::SIGTERM);
    }
    let deadline = Instant::now() + SWEEP_GRACE;
    while Instant::now() < deadline && first.iter().any(|p| alive(*p)) {
        std::thread::sleep(Duration::from_millis(50));
    }
    for pid in pids(ns) {
        signal(pid, nix::sys::signal::Signal::SIGKILL);
    }
}

fn signal(pid: i32, sig: nix::sys::signal::Signal) {
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig);
}

/// Whether process `pid` exists and is not a zombie.
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// Deletes namespace `ns` after [`sweep`]ing it.
pub fn delete(ns: &str) -> anyhow::Result<()> {
    sweep(ns);
    ip(&["netns", "del", ns]).map(|_| ())
}

/// Whether namespace `ns` exists.
pub fn exists(ns: &str) -> bool {
    Path::new("/run/netns").join(ns).exists()
}

/// Moves the calling thread into namespace `ns` (`/run/netns/NS`). Only this thread
/// moves: sockets it opens afterwards live in `ns`.
pub fn enter(ns: &str) -> anyhow::Result<()> {
    let path = format!("/run/netns/{ns}");
    let f = File::open(&path).with_context(|| format!("opening {path}"))?;
    nix::sched::setns(&f, nix::sched::CloneFlags::CLONE_NEWNET)
        .with_context(|| format!("entering network namespace {ns}"))
}

/// Runs the future `make()` builds on a thread of its own with a single-threaded
/// runtime, inside namespace `ns` when one is given, and returns its output. The
/// thread ends with the future, so no thread of the host namespace's runtime is
/// ever moved.
pub async fn in_ns<F, Fut, T>(ns: Option<String>, name: &str, make: F) -> anyhow::Result<T>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = T>,
    T: Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let run = || -> anyhow::Result<T> {
                if let Some(ns) = &ns {
                    enter(ns)?;
                }
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .context("building a runtime")?;
                Ok(rt.block_on(make()))
            };
            let _ = tx.send(run());
        })
        .with_context(|| format!("starting thread {name}"))?;
    rx.await.context("the thread ended without an answer")?
}
