//! The CLI's edge with whoever runs it: what the one-shot commands (`check`, `ctl`,
//! `load`, `azure render`, `demo`, `lab`) print on stdout, and an exit status other
//! than 1 when a command has a verdict to give ([`Verdict`]). The commands that live
//! in library crates are given [`print`] as their stdout writer.
//!
//! `println!` panics when stdout is a pipe whose reader has gone (`hopwatch check
//! ... | head -1`: Rust ignores SIGPIPE, so the write fails with EPIPE). Every
//! stdout write of these commands goes through [`print`] instead. A reader that
//! has gone is not an error: the rest of the output is dropped quietly and the
//! command ends as it would have, with its own exit status. Ending at once instead
//! would hide a verdict (`load` with every request failed must still exit 3) and
//! would leave `lab`'s children running. Any other failure (a full disk behind a
//! redirection) is an error that names stdout.
//!
//! The long-running roles print JSON lines through `hopwatch_daemon::json`'s writer
//! thread, which follows the same rule.

use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use hopwatch_daemon::json::is_reader_gone;

/// Set once stdout's reader has gone: later output is dropped without a write.
static READER_GONE: AtomicBool = AtomicBool::new(false);

/// Writes `text` to stdout and flushes it; quietly nothing once the reader has gone.
pub fn print(text: &str) -> anyhow::Result<()> {
    if READER_GONE.load(Ordering::Relaxed) {
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if is_reader_gone(&e) => {
            READER_GONE.store(true, Ordering::Relaxed);
            Ok(())
        }
        r => r.context("writing to stdout"),
    }
}

/// [`print`] of `line` and a newline.
pub fn line(line: impl fmt::Display) -> anyhow::Result<()> {
    print(&format!("{line}\n"))
}

/// A command's verdict as an exit status, which `main` exits with; defined in
/// `hopwatch-daemon` so that the roles' crates can give one.
pub use hopwatch_daemon::verdict::Verdict;
