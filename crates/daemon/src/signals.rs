//! The stop signals every long-running role obeys: SIGTERM (systemd, `kill`) and
//! SIGINT (Ctrl-C).

use tokio::signal::unix::{SignalKind, signal};

/// Waits for SIGTERM or Ctrl-C.
pub async fn terminated() -> anyhow::Result<&'static str> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    })
}
