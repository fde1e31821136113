//! `hopwatch ctl`: the watcher's control API from the command line, with a table a
//! person can read at 3 a.m. (`--json` for scripts).
//!
//! Every subcommand makes one call through `call`, which fails on any answer that is
//! not 2xx (the status and the API's `error` on stderr): `hopwatch` then exits 1, so
//! a script sees a refused drain or an unknown instance. The whole exchange is
//! bounded (3 s to connect, 5 s for the answer, body included).

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, header};
use hyper_util::rt::TokioIo;
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
        let msg = value["error"].as_str().unwrap_or("no message");
        bail!("{status}: {msg}");
    }
    Ok(value)
}

/// Runs one operation.
pub async fn run(args: CtlArgs) -> anyhow::Result<()> {
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
        crate::out::line(serde_json::to_string_pretty(&v)?)?;
        return Ok(());
    }
    match args.op {
        // Through `out`: a closed pipe (`| head -1`) is no panic.
        CtlOp::Status => crate::out::print(&status_table(&v))?,
        CtlOp::Peers => crate::out::print(&peers_table(&v))?,
        CtlOp::Rib | CtlOp::Dataplane | CtlOp::Programs | CtlOp::RestartInstance { .. } => {
            crate::out::line(serde_json::to_string_pretty(&v)?)?
        }
        CtlOp::Shutdown { withdraw } => crate::out::line(if withdraw {
            "the watcher is withdrawing its VIPs and stopping (decommission)"
        } else {
            "the watcher is stopping; route servers keep its VIPs for the graceful restart time"
        })?,
        _ => {
            let vip = &v["vip"];
            crate::out::line(format_args!(
                "{}: {}; VIP {} is on {}",
                path.trim_start_matches('/'),
                if v["moved"] == true {
                    "the VIP moved"
                } else {
                    "no move"
                },
                vip["prefix"].as_str().unwrap_or("?"),
                vip["active"].as_str().unwrap_or("nothing"),
            ))?;
        }
    }
    Ok(())
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

/// The status document as text tables.
pub fn status_table(v: &Value) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for vip in v["vips"].as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "VIP {}  active: {} via {}{}{}",
            s(&vip["prefix"]),
            s(&vip["active"]),
            s(&vip["next_hop"]),
            if vip["forced"].is_null() {
                String::new()
            } else {
                format!("  FORCED to {}", s(&vip["forced"]))
            },
            if vip["starting"] == true {
                "  (starting: waiting for health verdicts)"
            } else {
                ""
            },
        );
        if let Some(p) = vip["pending_failback"].as_object() {
            let _ = writeln!(
                out,
                "  failback to {} in {} ms",
                s(&p["backend"]),
                s(&p["in_ms"])
            );
        }
        let _ = writeln!(
            out,
            "  {:<12} {:<16} {:<8} {:<8} {:>10} {:>10}  last error",
            "BACKEND", "NEXT HOP", "HEALTH", "DRAINED", "UP FOR", "LATENCY"
        );
        for b in vip["backends"].as_array().into_iter().flatten() {
            let up_for = b["up_for_ms"]
                .as_u64()
                .map_or("-".into(), |ms| format!("{:.1} s", ms as f64 / 1000.0));
            let lat = b["last_probe"]["latency_us"]
                .as_u64()
                .map_or("-".into(), |us| format!("{:.2} ms", us as f64 / 1000.0));
            let _ = writeln!(
                out,
                "  {:<12} {:<16} {:<8} {:<8} {:>10} {:>10}  {}",
                s(&b["name"]),
                s(&b["next_hop"]),
                s(&b["health"]),
                if b["drained"] == true { "yes" } else { "no" },
                up_for,
                lat,
                b["last_probe"]["error"].as_str().unwrap_or(""),
            );
        }
    }
    let _ = writeln!(out, "\nROUTE SERVER     STATE");
    for sess in v["sessions"].as_array().into_iter().flatten() {
        let _ = writeln!(out, "{:<16} {}", s(&sess["peer"]), s(&sess["state"]));
    }
    let moves = v["recent_moves"].as_array().cloned().unwrap_or_default();
    if !moves.is_empty() {
        let _ = writeln!(out, "\nRECENT MOVES (newest first)");
        for m in moves.iter().take(10) {
            let ts = m["ts_us"].as_u64().unwrap_or(0);
            let when =
                humantime::format_rfc3339_millis(std::time::UNIX_EPOCH + Duration::from_micros(ts));
            let _ = writeln!(
                out,
                "{when}  {}  {} -> {}  ({})",
                s(&m["vip"]),
                s(&m["from"]),
                s(&m["to"]),
                s(&m["reason"])
            );
        }
    }
    out
}

/// The route server's peers as a table.
pub fn peers_table(v: &Value) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for inst in v.as_array().into_iter().flatten() {
        let _ = writeln!(out, "instance {}", s(&inst["instance"]));
        let _ = writeln!(
            out,
            "  {:<16} {:>8} {:<12} {:>7} {:>9} {:>6} {:>6}",
            "PEER", "AS", "STATE", "ROUTES", "REJECTED", "STALE", "LIMIT"
        );
        for p in inst["peers"].as_array().into_iter().flatten() {
            let _ = writeln!(
                out,
                "  {:<16} {:>8} {:<12} {:>7} {:>9} {:>6} {:>6}",
                s(&p["peer"]),
                s(&p["asn"]),
                s(&p["state"]),
                s(&p["routes"]),
                s(&p["rejected"]),
                s(&p["stale"]),
                s(&p["route_limit"]),
            );
        }
    }
    out
}
