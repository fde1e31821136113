//! `hopwatch speak`: a scriptable BGP speaker, the replacement for the seed's
//! ExaBGP-behind-a-pipe.
//!
//! Commands are read a line at a time from stdin and from `--command-pipe`, and
//! no line can silence a source: a line that is not UTF-8, or longer than
//! [`MAX_LINE`] (read in bounded pieces, the rest skipped up to its newline), gets
//! an error on stderr naming the source and line number, and reading goes on.
//! So does a command that is refused ([`command::check_sendable`]): it changes
//! nothing.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use hopwatch_bgp::Asn;
use hopwatch_bgp_driver::rib_out::Change;
use hopwatch_bgp_driver::{PeerConfig, Speaker};
use hopwatch_daemon::cease::shutdown;
use hopwatch_daemon::json;
use hopwatch_daemon::signals::terminated;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::mpsc;

use crate::args::SpeakArgs;
use crate::bgp_setup::session_config;
use crate::command;

/// Runs the speaker until SIGTERM or Ctrl-C.
pub async fn run(args: SpeakArgs) -> anyhow::Result<()> {
    // Every route given on the command line must parse before anything starts.
    let mut initial = Vec::new();
    for spec in &args.announce {
        let change = command::parse_route(spec)
            .map(Change::Announce)
            .and_then(|c| command::check_sendable(&c, args.bgp.local_as).map(|()| c))
            .map_err(|e| anyhow::anyhow!("--announce {spec:?}: {e}"))?;
        initial.push(change);
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

    // Bounded: a writer faster than the speaker waits instead of filling memory.
    let (cmd_tx, mut cmd_rx) = mpsc::channel::<Input>(256);
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
                    json::print_event(&e);
                }
                tracing::info!("stopped by {why}");
                return Ok(());
            }
            Some(input) = cmd_rx.recv() => {
                if let Err(e) = obey(&speaker, args.bgp.local_as, &input.line) {
                    eprintln!("hopwatch speak: {} line {}: {e}", input.source, input.number);
                }
            }
            Some(e) = rx.recv() => json::print_event(&e),
        }
    }
}

/// Carries out one line: a command, or nothing for a blank line or a comment.
fn obey(speaker: &Speaker, local_as: Asn, line: &Result<String, String>) -> Result<(), String> {
    let line = line.as_deref().map_err(Clone::clone)?;
    if line.trim().is_empty() || line.trim_start().starts_with('#') {
        return Ok(());
    }
    let changes = command::parse(line)?.into_changes();
    for change in &changes {
        command::check_sendable(change, local_as)?;
    }
    // One line, one batch: the changes go out together, packed.
    speaker.apply(changes);
    Ok(())
}

/// The longest command line: 64 KiB holds any command whose UPDATE fits a BGP
/// message (4,096 octets hold about 1,000 communities, some 10 KiB as text) many
/// times over, or some 4,000 IPv4 /32s after `nlri`, and bounds what one line can
/// make the speaker buffer.
pub const MAX_LINE: usize = 64 * 1024;

/// One line of command input, or why it cannot be one.
struct Input {
    /// `stdin` or `--command-pipe PATH`.
    source: String,
    /// The line's number in its source (from 1, per writer on the pipe).
    number: u64,
    line: Result<String, String>,
}

async fn read_lines_stdin(tx: mpsc::Sender<Input>) {
    // EOF on stdin does not stop the speaker: it keeps its routes until told to stop.
    if let Err(e) = read_lines(tokio::io::stdin(), "stdin", &tx).await {
        eprintln!("hopwatch speak: reading stdin: {e}; no more commands from it");
    }
}

async fn read_lines_pipe(path: PathBuf, tx: mpsc::Sender<Input>) {
    let source = format!("--command-pipe {}", path.display());
    loop {
        // Opening a FIFO waits for a writer; each writer's lines end with its EOF.
        let Ok(file) = tokio::fs::File::open(&path).await else {
            eprintln!("hopwatch speak: cannot open {}", path.display());
            return;
        };
        if let Err(e) = read_lines(file, &source, &tx).await {
            eprintln!("hopwatch speak: reading {source}: {e}");
        }
        if tx.is_closed() {
            return;
        }
    }
}

/// Reads `reader` to its end, sending each line (without its newline) or the
/// reason it is refused: a line over [`MAX_LINE`] is skipped to its newline
/// without being kept, a line that is not UTF-8 is reported. Only an I/O error
/// stops the reading; a closed channel ends it quietly.
async fn read_lines(
    reader: impl AsyncRead + Unpin,
    source: &str,
    tx: &mpsc::Sender<Input>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(reader);
    let mut line: Vec<u8> = Vec::new();
    let mut too_long = false;
    let mut number = 0u64;
    loop {
        let buf = reader.fill_buf().await?;
        let eof = buf.is_empty();
        let newline = buf.iter().position(|&b| b == b'\n');
        let take = newline.map_or(buf.len(), |i| i + 1);
        if !too_long {
            let piece = &buf[..newline.unwrap_or(buf.len())];
            if line.len() + piece.len() > MAX_LINE {
                too_long = true;
                line = Vec::new();
            } else {
                line.extend_from_slice(piece);
            }
        }
        reader.consume(take);
        if newline.is_none() && !(eof && (too_long || !line.is_empty())) {
            if eof {
                return Ok(());
            }
            continue;
        }
        number += 1;
        let text = if too_long {
            Err(format!("longer than {MAX_LINE} octets; ignored"))
        } else {
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            String::from_utf8(std::mem::take(&mut line)).map_err(|e| {
                format!(
                    "not valid UTF-8 (invalid octet at column {}); ignored",
                    e.utf8_error().valid_up_to() + 1
                )
            })
        };
        too_long = false;
        line.clear();
        let input = Input {
            source: source.to_owned(),
            number,
            line: text,
        };
        if tx.send(input).await.is_err() || eof {
            return Ok(());
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

#[cfg(test)]
mod tests {
    use super::*;

    async fn lines_of(input: &[u8]) -> Vec<(u64, Result<String, String>)> {
        let (tx, mut rx) = mpsc::channel(16);
        let input = input.to_vec();
        let reader = tokio::spawn(async move { read_lines(input.as_slice(), "test", &tx).await });
        let mut out = Vec::new();
        while let Some(i) = rx.recv().await {
            out.push((i.number, i.line));
        }
        reader.await.unwrap().unwrap();
        out
    }

    #[tokio::test]
    async fn a_bad_line_is_reported_and_the_next_ones_are_read() {
        let mut input = b"one\n\xc3\x28 bad\r\nthree\r\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', MAX_LINE + 1));
        input.extend(b"\nfive");
        let got = lines_of(&input).await;
        assert_eq!(got.len(), 5, "{got:?}");
        assert_eq!(got[0], (1, Ok("one".into())));
        assert!(got[1].1.as_ref().unwrap_err().contains("UTF-8"));
        assert_eq!(got[2], (3, Ok("three".into())));
        assert!(got[3].1.as_ref().unwrap_err().contains("longer than"));
        assert_eq!(got[4], (5, Ok("five".into())));
    }

    #[tokio::test]
    async fn a_line_of_exactly_the_limit_is_kept() {
        let mut input = vec![b'y'; MAX_LINE];
        input.push(b'\n');
        let got = lines_of(&input).await;
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].1.as_ref().map(String::len), Ok(MAX_LINE));
    }
}
