//! `hopwatch ctl`: the watcher's control API from the command line, with a table a
//! person can read at 3 a.m. (`--json` for scripts), and the route server's API
//! (`peers`, `rib`, `dataplane`, `programs`, `restart-instance`).
//!
//! Every subcommand makes one call through `call`, which fails on any answer that is
//! not 2xx (the status and the API's `error` on stderr): `hopwatch` then exits 1, so
//! a script sees a refused drain or an unknown instance. The whole exchange is
//! bounded (3 s to connect, 5 s for the answer, body included).
//!
//! The tables read the answers as the event contract's documents
//! (`hopwatch-events`, `docs/events.md`); `--json` prints the answer as it came.
//! Their unit tests read the answers captured from the real binary that the
//! contract's own tests read (`crates/events/tests/captured`).
//!
//! A crate of its own, not a module of either daemon or of `hopwatch-daemon`: it
//! is the other end of both APIs (an HTTP client and text tables for a person),
//! which no long-running role needs, and it depends on the servers only through
//! the documents of `hopwatch-events`. `hopwatch ctl` is this crate's [`run`] with
//! its [`CtlArgs`]. Errors are `anyhow`'s: each ends the command with a message for
//! a person (exit status 1), and no caller matches on one.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use hopwatch_events::route_server::InstancePeers;
use hopwatch_events::watcher::{ApiError, ControlAnswer, HaStatus, Status};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, header};
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::net::TcpStream;

/// `hopwatch ctl`.
#[derive(Debug, Args)]
pub struct CtlArgs {
    /// The watcher's control API ([api] listen).
    #[arg(long, default_value = "127.0.0.1:9179", env = "HOPWATCH_API")]
    pub api: SocketAddr,
    /// Bearer token ([api] token).
    #[arg(long, env = "HOPWATCH_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Print the API's JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
    /// What to do.
    #[command(subcommand)]
    pub op: CtlOp,
}

/// The operations.
#[derive(Debug, Subcommand)]
pub enum CtlOp {
    /// VIPs, backends, sessions and recent moves.
    Status,
    /// Take a backend out of service (the VIP leaves it now if it is active).
    Drain(BackendArg),
    /// Put a drained backend back.
    Undrain(BackendArg),
    /// Pin the VIP to a backend, whatever its health, until `unforce`.
    Force(BackendArg),
    /// Return the VIP to the policy.
    Unforce {
        /// The VIP (needed when there are several).
        #[arg(long)]
        vip: Option<String>,
    },
    /// Stop the watcher. Without --withdraw, as SIGTERM: the sessions close without
    /// a NOTIFICATION, so every graceful restart helper keeps the VIP while the
    /// watcher restarts. With --withdraw (decommissioning): every VIP is withdrawn
    /// and the sessions end with Cease / Hard Reset, so route servers drop it at once.
    Shutdown {
        /// Withdraw the VIPs: the route servers drop them now.
        #[arg(long)]
        withdraw: bool,
    },
    /// Route server: its peers and sessions (use --api with its address, 127.0.0.1:9180 by default).
    Peers,
    /// Route server: the best paths of each instance.
    Rib,
    /// Route server: what the data plane has programmed.
    Dataplane,
    /// Route server: the last programming events (UPDATE received, route programmed).
    Programs,
    /// Route server: stop one instance (Cease to its peers, its RIB lost) and start it
    /// again after a while, as a maintenance of the cloud would.
    RestartInstance {
        /// The instance's address.
        instance: std::net::IpAddr,
        /// How long it stays down, in milliseconds (at most 3600000, 1 hour).
        #[arg(long, default_value_t = 2000)]
        after_ms: u64,
    },
}

/// A backend, and its VIP when there are several.
#[derive(Debug, Args)]
pub struct BackendArg {
    /// The backend's name, as in the config.
    pub backend: String,
    /// The VIP (needed when there are several).
    #[arg(long)]
    pub vip: Option<String>,
}

async fn call(
    args: &CtlArgs,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> anyhow::Result<Value> {
    let stream = tokio::time::timeout(Duration::from_secs(3), TcpStream::connect(args.api))
        .await
        .with_context(|| format!("connecting to the watcher at {}", args.api))?
        .with_context(|| {
            format!(
                "connecting to the watcher at {} (is `hopwatch run` running?)",
                args.api
            )
        })?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, args.api.to_string());
    if let Some(t) = &args.token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let body = match body {
        Some(v) => {
            req = req.header(header::CONTENT_TYPE, "application/json");
            Bytes::from(v.to_string())
        }
        None => Bytes::new(),
    };
    let request = req.body(Full::new(body))?;
    // The body too: a server that sends its head and then stalls must not hang ctl.
    let (status, bytes) = tokio::time::timeout(Duration::from_secs(5), async {
        let res = sender.send_request(request).await?;
        let status = res.status();
        let bytes = res.into_body().collect().await?.to_bytes();
        anyhow::Ok((status, bytes))
    })
    .await
    .context("the watcher did not answer within 5 s")??;
    let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if !status.is_success() {
        let msg = serde_json::from_value::<ApiError>(value)
            .map_or_else(|_| "no message".to_string(), |e| e.error);
        bail!("{status}: {msg}");
    }
    Ok(value)
}

/// Runs one operation. `print` writes the answer where the user reads it (the
/// binary's stdout writer, on which a reader that has gone is not an error).
pub async fn run(args: CtlArgs, print: fn(&str) -> anyhow::Result<()>) -> anyhow::Result<()> {
    let line = |l: &dyn std::fmt::Display| print(&format!("{l}\n"));
    let (method, path, body) = match &args.op {
        CtlOp::Status => (Method::GET, "/status", None),
        CtlOp::Drain(b) => (
            Method::POST,
            "/drain",
            Some(json!({"backend": b.backend, "vip": b.vip})),
        ),
        CtlOp::Undrain(b) => (
            Method::POST,
            "/undrain",
            Some(json!({"backend": b.backend, "vip": b.vip})),
        ),
        CtlOp::Force(b) => (
            Method::POST,
            "/force",
            Some(json!({"backend": b.backend, "vip": b.vip})),
        ),
        CtlOp::Unforce { vip } => (
            Method::POST,
            "/force",
            Some(json!({"backend": null, "vip": vip})),
        ),
        CtlOp::Shutdown { withdraw } => (
            Method::POST,
            "/shutdown",
            Some(json!({"withdraw": withdraw})),
        ),
        CtlOp::Peers => (Method::GET, "/peers", None),
        CtlOp::Rib => (Method::GET, "/rib", None),
        CtlOp::Dataplane => (Method::GET, "/dataplane", None),
        CtlOp::Programs => (Method::GET, "/programs", None),
        CtlOp::RestartInstance { instance, after_ms } => (
            Method::POST,
            "/restart",
            Some(json!({"instance": instance, "after_ms": after_ms})),
        ),
    };
    let v = call(&args, method, path, body).await?;
    if args.json {
        line(&serde_json::to_string_pretty(&v)?)?;
        return Ok(());
    }
    match args.op {
        // Through `print`: a closed pipe (`| head -1`) is no panic.
        CtlOp::Status => print(&status_table(&document(v, path)?))?,
        CtlOp::Peers => print(&peers_table(&document::<Vec<_>>(v, path)?))?,
        CtlOp::Rib | CtlOp::Dataplane | CtlOp::Programs | CtlOp::RestartInstance { .. } => {
            line(&serde_json::to_string_pretty(&v)?)?
        }
        CtlOp::Shutdown { withdraw } => line(&if withdraw {
            "the watcher is withdrawing its VIPs and stopping (decommission)"
        } else {
            "the watcher is stopping; route servers keep its VIPs for the graceful restart time"
        })?,
        _ => {
            let a: ControlAnswer = document(v, path)?;
            line(&format_args!(
                "{}: {}; VIP {} is on {}",
                path.trim_start_matches('/'),
                if a.moved { "the VIP moved" } else { "no move" },
                a.vip.prefix,
                a.vip.active.as_deref().unwrap_or("nothing"),
            ))?;
        }
    }
    Ok(())
}

/// The answer of `path` as its document; one that does not parse (a watcher of
/// another version) is an error that says so, and `--json` still shows it.
fn document<T: DeserializeOwned>(v: Value, path: &str) -> anyhow::Result<T> {
    serde_json::from_value(v).with_context(|| {
        format!("the answer of {path} is not the document this ctl knows (see it with --json)")
    })
}

/// An optional value, `-` when absent.
fn s<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "-".into(), |v| v.to_string())
}

/// The status document as text tables.
pub fn status_table(v: &Status) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for vip in &v.vips {
        let _ = writeln!(
            out,
            "VIP {}  active: {} via {}{}{}",
            vip.prefix,
            s(vip.active.as_ref()),
            s(vip.next_hop),
            vip.forced
                .as_ref()
                .map(|f| format!("  FORCED to {f}"))
                .unwrap_or_default(),
            if vip.starting {
                "  (starting: waiting for health verdicts)"
            } else {
                ""
            },
        );
        if let Some(p) = &vip.pending_failback {
            let _ = writeln!(
                out,
                "  failback to {} in {} ms",
                s(p.backend.as_ref()),
                p.in_ms
            );
        }
        let _ = writeln!(
            out,
            "  {:<12} {:<16} {:<8} {:<8} {:>10} {:>10}  last error",
            "BACKEND", "NEXT HOP", "HEALTH", "DRAINED", "UP FOR", "LATENCY"
        );
        for b in &vip.backends {
            let up_for = b
                .up_for_ms
                .map_or("-".into(), |ms| format!("{:.1} s", ms as f64 / 1000.0));
            let probe = b.last_probe.as_ref();
            let lat = probe.map_or("-".into(), |p| {
                format!("{:.2} ms", p.latency_us as f64 / 1000.0)
            });
            let health = format!("{:?}", b.health).to_lowercase();
            let _ = writeln!(
                out,
                "  {:<12} {:<16} {:<8} {:<8} {:>10} {:>10}  {}",
                b.name,
                b.next_hop.to_string(),
                health,
                if b.drained { "yes" } else { "no" },
                up_for,
                lat,
                probe.and_then(|p| p.error.as_deref()).unwrap_or(""),
            );
        }
    }
    let _ = writeln!(out, "\nROUTE SERVER     STATE");
    for sess in &v.sessions {
        let _ = writeln!(out, "{:<16} {:?}", sess.peer.to_string(), sess.state);
    }
    if let Some(ha) = &v.ha {
        ha_table(&mut out, ha);
    }
    if v.moves().next().is_some() {
        let _ = writeln!(out, "\nRECENT MOVES (newest first)");
        for (ts, m) in v.moves().take(10) {
            let when = humantime::format_rfc3339_millis(hopwatch_events::time::from_us(ts));
            let _ = writeln!(
                out,
                "{when}  {}  {} -> {}  ({})",
                m.vip,
                s(m.from.as_ref()),
                s(m.to.as_ref()),
                m.reason
            );
        }
    }
    out
}

/// The pair: our role, and whose route each route server says it uses.
fn ha_table(out: &mut String, ha: &HaStatus) {
    use std::fmt::Write;
    let _ = writeln!(
        out,
        "\nHA: this watcher is {}, announcing AS path {}{}",
        ha.role,
        ha.as_path,
        if ha.prepend > 0 {
            format!(" ({} prepended)", ha.prepend)
        } else {
            String::new()
        }
    );
    if ha.routes_seen.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "  {:<16} {:<20} {:<16} {:<24} IN USE",
        "ROUTE SERVER", "VIP", "SENDS NEXT HOP", "AS PATH"
    );
    for r in &ha.routes_seen {
        let in_use = match r.whose.as_str() {
            "none" => "ours, or none (a route server does not send a peer its own route)",
            "primary" => "a more preferred watcher's (the primary's)",
            "standby" => "a less preferred watcher's (the standby's)",
            _ => "as preferred as ours: ours sent back, or another watcher with our role",
        };
        let _ = writeln!(
            out,
            "  {:<16} {:<20} {:<16} {:<24} {in_use}",
            r.peer.to_string(),
            r.vip,
            s(r.next_hop),
            r.as_path.as_deref().unwrap_or("-"),
        );
    }
}

/// The route server's peers as a table.
pub fn peers_table(v: &[InstancePeers]) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for inst in v {
        let _ = writeln!(out, "instance {}", inst.instance);
        let _ = writeln!(
            out,
            "  {:<16} {:>8} {:<12} {:>7} {:>9} {:>6} {:>6}",
            "PEER", "AS", "STATE", "ROUTES", "REJECTED", "STALE", "LIMIT"
        );
        for p in &inst.peers {
            let _ = writeln!(
                out,
                "  {:<16} {:>8} {:<12} {:>7} {:>9} {:>6} {:>6}",
                p.peer.to_string(),
                p.asn,
                format!("{:?}", p.state),
                p.routes,
                p.rejected,
                p.stale,
                p.route_limit,
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn captured<T: DeserializeOwned>(name: &str) -> T {
        let path = format!(
            "{}/../events/tests/captured/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn the_status_table_shows_backends_sessions_and_moves() {
        let table = status_table(&captured("api-status-after-failover.json"));
        assert!(
            table.contains("VIP 127.10.15.15/32  active: ws2 via 127.10.0.5"),
            "{table}"
        );
        assert!(
            table.contains("  ws1          127.10.0.4       down     no"),
            "{table}"
        );
        assert!(table.contains("connect: Connection refused"), "{table}");
        assert!(table.contains("127.10.1.4       Established"), "{table}");
        assert!(
            table.contains("127.10.15.15/32  ws1 -> ws2  (failover)"),
            "{table}"
        );
        assert!(
            table.contains("127.10.15.15/32  - -> ws1  (startup)"),
            "{table}"
        );
    }

    #[test]
    fn the_peers_table_shows_every_instance() {
        let table = peers_table(&captured::<Vec<InstancePeers>>("api-peers.json"));
        assert!(table.contains("instance 127.10.1.5"), "{table}");
        assert!(
            table.contains(
                "  127.10.0.7          65001 Established        1         0      0   4000"
            ),
            "{table}"
        );
    }
}
