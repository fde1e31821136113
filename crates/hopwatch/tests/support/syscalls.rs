//! Counting a process's reads with `strace`: how a test tells a task polled in a
//! loop from an idle one without timing anything.
//!
//! A socket whose peer has gone reads as end-of-file (or an error) at once, every
//! time it is asked; a driver that keeps polling it makes one such read per turn of
//! its loop, thousands a second. An idle process makes none: the reads of a live
//! connection end with data or `EAGAIN`. So the figure a test asserts on is the
//! number of reads that returned 0 or failed with anything but `EAGAIN`, next to the
//! total for context. CPU time would say the same on a quiet machine and nothing
//! reliable on a busy one; a count of syscalls does not depend on the machine.
//!
//! `strace -f -p PID` attaches to every thread of the process (tokio's workers);
//! it is stopped by PID with SIGINT (it detaches cleanly), and SIGKILLed if it does
//! not exit within a few seconds.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::proc;

/// The read syscalls counted (what tokio, std and the runtime's eventfd use).
const READS: &str = "trace=read,readv,recvfrom,recvmsg";

/// What a process read during a window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reads {
    /// Read syscalls that returned, whatever they returned.
    pub total: u64,
    /// Those that returned 0 (end-of-file) or an error other than `EAGAIN`: reads
    /// of a connection that has ended.
    pub ended: u64,
}

/// Counts `pid`'s reads (every thread's) for `window`; the trace is kept at `out`.
pub fn count_reads(pid: u32, window: Duration, out: &Path) -> Reads {
    let mut strace = Command::new("strace")
        .args(["-f", "-qq", "-e", READS, "-o"])
        .arg(out)
        .args(["-p", &pid.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start strace (./test installs it): {e}"));
    std::thread::sleep(window);
    proc::signal(strace.id(), "INT");
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = strace.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if !matches!(strace.try_wait(), Ok(Some(_))) {
        let _ = strace.kill();
        let _ = strace.wait();
    }
    parse(&std::fs::read_to_string(out).unwrap_or_default())
}

/// Counts the completed reads of an `strace -f` output.
///
/// A completed call is a line with its result after `) = ` (a call interrupted
/// by another thread's line is split into `<unfinished ...>` and a `<... NAME
/// resumed>` line that carries the result: counted once, there).
pub fn parse(trace: &str) -> Reads {
    let mut r = Reads::default();
    for line in trace.lines() {
        let Some((_, result)) = line.rsplit_once(") = ") else {
            continue;
        };
        r.total += 1;
        let result = result.trim();
        let eof = result == "0";
        let failed = result.starts_with("-1 ") && !result.starts_with("-1 EAGAIN");
        if eof || failed {
            r.ended += 1;
        }
    }
    r
}
