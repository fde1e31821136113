//! Running `hopwatch` roles as child processes on loopback for tests: stopped by
//! PID on drop, stdout read as the event contract's lines (`hopwatch-events`,
//! `docs/events.md`) by a reader thread, every wait bounded. A line that names an
//! event but does not parse as one fails the wait that meets it, so a renamed field
//! fails every test that prints it, whatever the test looks for.

// Each test binary that includes this module uses a different part of it.
#![allow(dead_code)]

#[path = "../support/events.rs"]
pub mod events;
#[path = "../support/watcher_config.rs"]
pub mod watcher_config;
pub mod web_pair;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use hopwatch_events::{Event, Line};

use events::{Pick, Read};

/// A child `hopwatch`, stopped by PID when dropped.
pub struct Proc {
    pub child: Child,
    pub stdin: Option<ChildStdin>,
    /// Its event lines, or (`Err`) a line that breaks the contract.
    pub events: mpsc::Receiver<Result<Line, String>>,
    /// Every event seen so far by [`Proc::wait_for`].
    pub seen: Vec<Line>,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free TCP port on `ip` (bound, then released).
pub fn free_port(ip: &str) -> u16 {
    let l = TcpListener::bind((ip, 0)).expect("bind a free port");
    l.local_addr().expect("local address").port()
}

/// Starts `hopwatch web` on `ip:port` answering as `name`, once it listens.
pub fn web(ip: &str, port: u16, name: &str) -> Proc {
    let mut p = spawn(&["web", "--listen", &format!("{ip}:{port}"), "--name", name]);
    p.wait_for("listening", |l| matches!(l.event, Event::Listening(_)));
    p
}

/// Starts `hopwatch ARGS…`.
pub fn spawn(args: &[&str]) -> Proc {
    spawn_with(args, Stdio::inherit())
}

/// Starts `hopwatch ARGS…` with stderr sent where `stderr` says.
pub fn spawn_with(args: &[&str], stderr: Stdio) -> Proc {
    let mut argv = vec![env!("CARGO_BIN_EXE_hopwatch")];
    argv.extend_from_slice(args);
    spawn_argv(&argv, stderr)
}

/// Starts any command (e.g. `ip netns exec NS hopwatch …`) whose stdout is hopwatch's
/// JSON lines.
pub fn spawn_cmd(argv: &[&str]) -> Proc {
    spawn_argv(argv, Stdio::inherit())
}

fn spawn_argv(argv: &[&str], stderr: Stdio) -> Proc {
    let (program, args) = argv.split_first().expect("a program to run");
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("start hopwatch");
    let out = child.stdout.take().expect("stdout is piped");
    let stdin = child.stdin.take();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = match events::read(&line) {
                Read::Event(l) => tx.send(Ok(l)),
                Read::Broken(e) => tx.send(Err(e)),
                Read::Other => continue,
            };
        }
    });
    Proc {
        child,
        stdin,
        events: rx,
        seen: Vec::new(),
    }
}

impl Proc {
    /// Waits (at most 10 s) for the event `pick` accepts (see [`Pick`]).
    pub fn wait_for<P: Pick>(&mut self, what: &str, pick: impl Fn(&Line) -> P) -> P::Out {
        self.try_wait_for(Duration::from_secs(10), pick)
            .unwrap_or_else(|| panic!("no {what} within 10 s; saw\n{}", events::dump(&self.seen)))
    }

    /// Waits at most `limit` for the event `pick` accepts.
    pub fn try_wait_for<P: Pick>(
        &mut self,
        limit: Duration,
        pick: impl Fn(&Line) -> P,
    ) -> Option<P::Out> {
        let deadline = Instant::now() + limit;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.events.recv_timeout(left) {
                Ok(Ok(l)) => {
                    self.seen.push(l.clone());
                    if let Some(out) = pick(&l).pick(&l) {
                        return Some(out);
                    }
                }
                Ok(Err(broken)) => panic!("a line breaks the event contract: {broken}"),
                Err(_) => break,
            }
        }
        None
    }

    /// Waits (at most 10 s) for the process to exit; true if it exited with 0.
    pub fn exit_success(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("the process did not exit within 10 s");
    }

    /// Sends a signal by PID.
    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{sig} failed");
    }
}

/// Reads BGP messages from `stream` until a NOTIFICATION: its (code, subcode), or
/// `None` at the end of the stream or its read timeout.
pub fn read_notification(stream: &mut impl std::io::Read) -> Option<(u8, u8)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        while let Ok(Some(len)) = hopwatch_bgp::message::frame_len(&buf) {
            if buf.len() < len {
                break;
            }
            let msg: Vec<u8> = buf.drain(..len).collect();
            if msg[18] == 3 {
                return Some((msg[19], msg[20]));
            }
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}
