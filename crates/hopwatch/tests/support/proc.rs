//! Child processes of a test: started inside a namespace under `timeout`, stopped by
//! PID (SIGTERM, then SIGKILL after a short grace) when dropped, also on panic.
//!
//! Every daemon runs as `ip netns exec NS timeout -k 5 120 CMD…`: `ip netns exec`
//! execs, so the child's PID is `timeout`'s, and `timeout` forwards our SIGTERM to the
//! daemon. The 120 s bound holds even if the test process itself is killed.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The hard bound on every daemon's life, in seconds (passed to `timeout`).
pub const DAEMON_LIFETIME_S: &str = "120";
/// How long a stopped process gets between SIGTERM and SIGKILL.
pub const GRACE: Duration = Duration::from_secs(3);

/// Sends `signal` (a name such as `TERM`) to one process, by PID.
pub fn signal(pid: u32, signal: &str) {
    let _ = Command::new("/usr/bin/kill")
        .args(["-s", signal, &pid.to_string()])
        .stderr(Stdio::null())
        .status();
}

/// Whether a process with this PID exists (and is not a zombie): the lab's check.
pub fn alive(pid: u32) -> bool {
    i32::try_from(pid).is_ok_and(hopwatch_lab::netns::alive)
}

/// The PIDs of `pid`'s direct children.
pub fn children(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// Stops `child`: SIGTERM, up to [`GRACE`] to exit, then SIGKILL; always reaps it.
pub fn stop(child: &mut Child) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    signal(child.id(), "TERM");
    let deadline = Instant::now() + GRACE;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The command line that runs `argv` in namespace `ns` under `timeout`.
pub fn in_netns(ns: &str, argv: &[&str]) -> Command {
    in_netns_for(ns, DAEMON_LIFETIME_S, argv)
}

/// Like [`in_netns`], with a hard bound of `lifetime_s` seconds instead of
/// [`DAEMON_LIFETIME_S`] (a benchmark runs longer than a test).
pub fn in_netns_for(ns: &str, lifetime_s: &str, argv: &[&str]) -> Command {
    let mut cmd = Command::new("/usr/sbin/ip");
    cmd.args([
        "netns",
        "exec",
        ns,
        "/usr/bin/timeout",
        "-k",
        "5",
        lifetime_s,
    ]);
    cmd.args(argv);
    cmd
}

/// Runs a short command (a CLI query) in `ns`, bounded to 10 s.
pub fn run_in(ns: &str, argv: &[&str]) -> Output {
    let mut cmd = Command::new("/usr/sbin/ip");
    cmd.args(["netns", "exec", ns, "/usr/bin/timeout", "-k", "2", "10"]);
    cmd.args(argv);
    cmd.stdin(Stdio::null());
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {argv:?} in {ns}: {e}"))
}

/// Runs a short command in `ns` and returns its stdout, panicking with its stderr if
/// it fails.
pub fn run_in_ok(ns: &str, argv: &[&str]) -> String {
    let out = run_in(ns, argv);
    assert!(
        out.status.success(),
        "{argv:?} in {ns} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A daemon started by a test; stopped by PID when dropped.
pub struct Daemon {
    name: String,
    child: Child,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Daemon {
    /// Starts `argv` in `ns`, with `envs` added, its output in `dir/NAME.out|err`.
    pub fn spawn(ns: &str, name: &str, dir: &Path, argv: &[&str], envs: &[(&str, &str)]) -> Self {
        let stdout = dir.join(format!("{name}.out"));
        let stderr = dir.join(format!("{name}.err"));
        let mut cmd = in_netns(ns, argv);
        cmd.envs(envs.iter().copied())
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(File::create(&stdout).expect("the lab folder is writable"))
            .stderr(File::create(&stderr).expect("the lab folder is writable"));
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({argv:?}) in {ns}: {e}"));
        Daemon {
            name: name.to_string(),
            child,
            stdout,
            stderr,
        }
    }

    /// The PID of the `timeout` wrapper (the daemon is its only child).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the daemon is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The path of the daemon's stdout file.
    pub fn stdout_path(&self) -> &Path {
        &self.stdout
    }

    /// The path of the daemon's stderr file.
    pub fn stderr_path(&self) -> &Path {
        &self.stderr
    }

    /// The last lines of its stdout and stderr, for failure messages.
    pub fn tail(&self) -> String {
        format!(
            "--- {} stdout (last lines) ---\n{}\n--- {} stderr (last lines) ---\n{}",
            self.name,
            tail_file(&self.stdout, 30),
            self.name,
            tail_file(&self.stderr, 30)
        )
    }

    /// SIGKILLs the daemon itself (the child of its `timeout` wrapper), as a crash
    /// would end it, and waits (bounded) for the wrapper to exit.
    pub fn kill_hard(&mut self) {
        let inner = children(self.child.id());
        assert!(
            !inner.is_empty(),
            "{}: no daemon under its timeout wrapper\n{}",
            self.name,
            self.tail()
        );
        for pid in inner {
            eprintln!("[{}] kill -s KILL {pid}", self.name);
            signal(pid, "KILL");
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("{} still running 5 s after SIGKILL", self.name);
    }

    /// Stops it now (SIGTERM, then SIGKILL).
    pub fn stop(&mut self) {
        stop(&mut self.child);
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// The last `n` lines of a text file (empty if unreadable).
pub fn tail_file(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
