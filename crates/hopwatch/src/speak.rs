//! `hopwatch speak`: a scriptable BGP speaker, the replacement for the seed's
//! ExaBGP-behind-a-pipe.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use hopwatch_bgp_driver::rib_out::Change;
use hopwatch_bgp_driver::{PeerConfig, Speaker};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::mpsc;

use crate::bgp_setup::{session_config, shutdown, terminated};
use crate::cli::SpeakArgs;
use crate::command::{self, Command};
use crate::json;

/// Runs the speaker until SIGTERM or Ctrl-C.
pub async fn run(args: SpeakArgs) -> anyhow::Result<()> {
    // Every route given on the command line must parse before anything starts.
    let mut initial = Vec::new();
    for spec in &args.announce {
        let route =
            command::parse_route(spec).map_err(|e| anyhow::anyhow!("--announce {spec:?}: {e}"))?;
        initial.push(Change::Announce(route));
    }
    let (tx, mut rx) = mpsc::unbounded_channel();
    let speaker = Speaker::new(tx, None);
    speaker.apply(initial);
    let session = session_config(&args.bgp, Some(args.peer_as), args.passive);
    for &address in &args.peers {
        speaker.add_peer(PeerConfig {
            address,
            port: args.bgp.port,
            local_address: args.local_address,
            session: session.clone(),
            dynamic: false,
        });
    }
    if args.passive {
        let ip = args.local_address.unwrap_or([0, 0, 0, 0].into());
        let addr = SocketAddr::new(ip, args.bgp.port);
        speaker
            .listen(addr)
            .await
            .with_context(|| format!("listening on {addr}"))?;
    }

    let (cmd_tx, mut cmd_rx) = mpsc::unbounded_channel::<String>();
    tokio::spawn(read_lines_stdin(cmd_tx.clone()));
    if let Some(pipe) = &args.command_pipe {
        make_fifo(pipe)?;
        tokio::spawn(read_lines_pipe(pipe.clone(), cmd_tx));
    }

    let stop = terminated();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            why = &mut stop => {
                let why = why?;
                shutdown(&speaker, "hopwatch speak stopping").await;
                while let Ok(e) = rx.try_recv() {
                    json::event_lines(&e).iter().for_each(json::print);
                }
                tracing::info!("stopped by {why}");
                return Ok(());
            }
            Some(line) = cmd_rx.recv() => {
                if line.trim().is_empty() || line.trim_start().starts_with('#') {
                    continue;
                }
                match command::parse(&line) {
                    Ok(Command::Change(change)) => {
                        speaker.apply(vec![change]);
                    }
                    Err(e) => eprintln!("hopwatch speak: {e}"),
                }
            }
            Some(e) = rx.recv() => json::event_lines(&e).iter().for_each(json::print),
        }
    }
}

async fn read_lines_stdin(tx: mpsc::UnboundedSender<String>) {
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    // EOF on stdin does not stop the speaker: it keeps its routes until told to stop.
    while let Ok(Some(line)) = lines.next_line().await {
        if tx.send(line).is_err() {
            return;
        }
    }
}

async fn read_lines_pipe(path: PathBuf, tx: mpsc::UnboundedSender<String>) {
    loop {
        // Opening a FIFO waits for a writer; each writer's lines end with its EOF.
        let Ok(file) = tokio::fs::File::open(&path).await else {
            eprintln!("hopwatch speak: cannot open {}", path.display());
            return;
        };
        let mut lines = BufReader::new(file).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if tx.send(line).is_err() {
                return;
            }
        }
    }
}

fn make_fifo(path: &Path) -> anyhow::Result<()> {
    if path.exists() {
        use std::os::unix::fs::FileTypeExt;
        if !std::fs::metadata(path)?.file_type().is_fifo() {
            bail!(
                "--command-pipe {}: exists and is not a named pipe",
                path.display()
            );
        }
        return Ok(());
    }
    // mkfifo(1) rather than libc: the crate forbids unsafe code.
    let status = std::process::Command::new("mkfifo")
        .arg("-m")
        .arg("600")
        .arg(path)
        .status()
        .context("running mkfifo")?;
    if !status.success() {
        bail!("--command-pipe {}: mkfifo failed", path.display());
    }
    Ok(())
}
