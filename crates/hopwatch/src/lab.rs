//! `hopwatch lab`: the wiring of the `hopwatch-lab` crate into the binary. The lab
//! runs this same binary as each of its roles (route server, ws1, ws2, watcher,
//! observer) and stops early, tearing everything down, on SIGTERM or Ctrl-C.

use anyhow::Context;

use hopwatch_daemon::signals::terminated;

/// Runs the lab with this binary as every role.
pub async fn run(args: hopwatch_lab::LabArgs) -> anyhow::Result<()> {
    let bin = std::env::current_exe().context("finding this binary")?;
    // A signal handler that cannot be installed stops the lab at once, as before
    // the lab was a crate of its own.
    let shutdown = async { terminated().await.unwrap_or("signal") };
    hopwatch_lab::run(args, &bin, shutdown, crate::out::print).await
}
