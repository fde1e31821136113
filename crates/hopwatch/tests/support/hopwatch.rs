//! The binary under test: `hopwatch speak` or `hopwatch observe` in the speaker
//! namespace, its stdin kept open as a command pipe, its stdout (one JSON event per
//! line) read as the event contract's lines (`events`) by a reader thread so tests
//! can wait for events with a deadline.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use hopwatch_events::bgp::Established;
use hopwatch_events::{Event, Line};

use super::events::{self, Pick, Read};
use super::netns::{Lab, PEER_ADDR, SPEAKER_ADDR};
use super::proc;

/// What a process printed on stdout so far.
#[derive(Default)]
struct Stdout {
    /// Its event lines.
    lines: Vec<Line>,
    /// Each line that broke the event contract, with the number of event lines
    /// before it.
    broken: Vec<(usize, String)>,
    /// Stdout closed (the process is gone): no line will come any more.
    closed: bool,
}

/// The lines printed so far, and a condvar signalled on each new one.
type Events = Arc<(Mutex<Stdout>, Condvar)>;

/// A running `hopwatch` process.
pub struct Hopwatch {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    events: Events,
    stderr: std::path::PathBuf,
    reader: Option<std::thread::JoinHandle<()>>,
}

/// `speak`'s usual arguments towards the lab's peer, plus `extra`.
pub fn speak_args(local_as: u32, peer_as: u32, extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = [
        "speak",
        "--local-as",
        &local_as.to_string(),
        "--router-id",
        SPEAKER_ADDR,
        "--peer",
        PEER_ADDR,
        "--peer-as",
        &peer_as.to_string(),
        "--local-address",
        SPEAKER_ADDR,
        "--hold-time",
        "9",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

/// `observe`'s usual arguments (passive, listening on the speaker address), plus `extra`.
pub fn observe_args(local_as: u32, extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = [
        "observe",
        "--local-as",
        &local_as.to_string(),
        "--router-id",
        "10.10.0.8",
        "--listen",
        SPEAKER_ADDR,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

impl Hopwatch {
    /// Starts `hopwatch ARGS…` in the lab's speaker namespace; `name` labels its files.
    pub fn start(lab: &Lab, name: &str, args: &[String]) -> Hopwatch {
        Hopwatch::start_in(&lab.speaker, lab.dir(), name, args, proc::DAEMON_LIFETIME_S)
    }

    /// Starts `hopwatch ARGS…` in namespace `ns`, its files in `dir`, bounded to
    /// `lifetime_s` seconds (see [`proc::in_netns_for`]).
    pub fn start_in(
        ns: &str,
        dir: &std::path::Path,
        name: &str,
        args: &[String],
        lifetime_s: &str,
    ) -> Hopwatch {
        let bin = env!("CARGO_BIN_EXE_hopwatch");
        let mut argv: Vec<&str> = vec![bin];
        argv.extend(args.iter().map(String::as_str));
        eprintln!("[{name}] hopwatch {} (in {ns})", args.join(" "));
        let stdout_log = dir.join(format!("{name}.jsonl"));
        let stderr = dir.join(format!("{name}.err"));
        let mut cmd = proc::in_netns_for(ns, lifetime_s, &argv);
        cmd.env("RUST_BACKTRACE", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(File::create(&stderr).expect("the lab folder is writable"));
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"));
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout is piped");
        let events: Events = Arc::new((Mutex::new(Stdout::default()), Condvar::new()));
        let sink = Arc::clone(&events);
        let label = name.to_string();
        let reader = std::thread::spawn(move || {
            let mut log = File::create(&stdout_log).ok();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(f) = log.as_mut() {
                    let _ = writeln!(f, "{line}");
                }
                let (lock, cv) = &*sink;
                let mut out = lock.lock().expect("event lock");
                match events::read(&line) {
                    Read::Event(l) => out.lines.push(l),
                    Read::Broken(e) => {
                        let at = out.lines.len();
                        out.broken.push((at, e));
                    }
                    Read::Other => eprintln!("[{label}] stdout line that is no event: {line}"),
                }
                cv.notify_all();
            }
            // The process is gone (or closed stdout): no event will come any more.
            let (lock, cv) = &*sink;
            lock.lock().expect("event lock").closed = true;
            cv.notify_all();
        });
        Hopwatch {
            name: name.to_string(),
            child,
            stdin,
            events,
            stderr,
            reader: Some(reader),
        }
    }

    /// Writes one command line to its stdin.
    pub fn send(&mut self, line: &str) {
        eprintln!("[{}] stdin <- {line}", self.name);
        let stdin = self.stdin.as_mut().expect("stdin is open");
        writeln!(stdin, "{line}")
            .and_then(|()| stdin.flush())
            .unwrap_or_else(|e| {
                panic!(
                    "[{}] cannot write to stdin: {e}\n{}",
                    self.name,
                    self.dump()
                )
            });
    }

    /// Every event so far.
    pub fn events(&self) -> Vec<Line> {
        self.events.0.lock().expect("event lock").lines.clone()
    }

    /// How many events so far (an index for [`Hopwatch::wait_for_from`]).
    pub fn event_count(&self) -> usize {
        self.events.0.lock().expect("event lock").lines.len()
    }

    /// Waits up to `timeout` for the event `pick` accepts (see [`Pick`]); panics
    /// (with every event and stderr) if none comes.
    pub fn wait_for<P: Pick>(
        &self,
        what: &str,
        timeout: Duration,
        pick: impl Fn(&Line) -> P,
    ) -> P::Out {
        self.wait_for_from(0, what, timeout, pick)
    }

    /// Like [`Hopwatch::wait_for`], looking only at events from index `from` on.
    pub fn wait_for_from<P: Pick>(
        &self,
        from: usize,
        what: &str,
        timeout: Duration,
        pick: impl Fn(&Line) -> P,
    ) -> P::Out {
        match self.try_wait_for_from(from, timeout, pick) {
            Some(v) => v,
            None => panic!(
                "[{}] no event {what} within {timeout:?} (or hopwatch exited)\n{}",
                self.name,
                self.dump()
            ),
        }
    }

    /// Waits up to `timeout` for the event `pick` accepts, from index `from` on.
    pub fn try_wait_for_from<P: Pick>(
        &self,
        from: usize,
        timeout: Duration,
        pick: impl Fn(&Line) -> P,
    ) -> Option<P::Out> {
        let deadline = Instant::now() + timeout;
        let (lock, cv) = &*self.events;
        let mut out = lock.lock().expect("event lock");
        loop {
            // A line that breaks the event contract fails the test here, whatever
            // `pick` looks for.
            if let Some((_, e)) = out.broken.iter().find(|(at, _)| *at >= from) {
                panic!("[{}] a line breaks the event contract: {e}", self.name);
            }
            if let Some(v) = out.lines.iter().skip(from).find_map(|l| pick(l).pick(l)) {
                return Some(v);
            }
            if out.closed {
                return None;
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            out = cv.wait_timeout(out, deadline - now).expect("event lock").0;
        }
    }

    /// Waits for an `established` line and returns what it says.
    pub fn wait_established(&self, timeout: Duration) -> Established {
        self.wait_for("established", timeout, |l| match &l.event {
            Event::Established(e) => Some(e.clone()),
            _ => None,
        })
    }

    /// The PID of the `hopwatch` process itself (the child of its `timeout` wrapper).
    pub fn pid(&self) -> u32 {
        let wrapper = self.child.id();
        super::wait::poll(Duration::from_secs(5), Duration::from_millis(10), || {
            proc::children(wrapper).first().copied()
        })
        .unwrap_or_else(|| panic!("[{}] hopwatch's PID not found under {wrapper}", self.name))
    }

    /// Sends a signal (`USR1`, `KILL`, …) to the `hopwatch` process itself.
    pub fn signal(&self, sig: &str) {
        let pid = self.pid();
        eprintln!("[{}] kill -s {sig} {pid}", self.name);
        proc::signal(pid, sig);
    }

    /// SIGKILLs `hopwatch` and waits (bounded) for it to be gone.
    pub fn kill_hard(&mut self) {
        self.signal("KILL");
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("[{}] still running 5 s after SIGKILL", self.name);
    }

    /// Waits up to `timeout` for the process to exit (after a signal or `ctl
    /// shutdown`); its exit status, or `None` if it still runs. The status is
    /// `hopwatch`'s own: its `timeout` wrapper exits with it.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Every event and the stderr tail, for failure messages.
    pub fn dump(&self) -> String {
        format!(
            "--- [{}] events ---\n{}\n--- [{}] stderr (last lines) ---\n{}",
            self.name,
            events::dump(&self.events()),
            self.name,
            proc::tail_file(&self.stderr, 40)
        )
    }
}

impl Drop for Hopwatch {
    fn drop(&mut self) {
        let inner = proc::children(self.child.id());
        proc::stop(&mut self.child);
        // If the wrapper had to be SIGKILLed, hopwatch may have outlived it: by PID too.
        for pid in inner {
            if proc::alive(pid) {
                proc::signal(pid, "KILL");
            }
        }
        drop(self.stdin.take());
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        if std::thread::panicking() {
            eprintln!("{}", self.dump());
        }
    }
}
