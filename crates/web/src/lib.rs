//! `hopwatch web`: the backend of ws1 and ws2 in the seed. Every request gets
//! `{"hostname": .., "ip": .., "timestampmilli": ..}` (the keys can be renamed), so a
//! load injector can tell which backend answered and when. HTTP/1.1 keep-alive by
//! default; `--connection close` or `--connection http1.0` makes it a backend that
//! closes after each answer, as many health endpoints and HTTP/1.0 servers do, so the
//! lab and the benchmarks measure failover with both kinds. A health path; SIGTERM
//! stops it gracefully (open requests finish).
//!
//! `hopwatch web` is this crate's [`run`] with its [`WebArgs`]: the lab runs it as
//! ws1 and ws2, the Azure deployment as the web role (`hopwatch-web.service`), the
//! benchmarks as the backend behind the route server's proxy. A crate of its own:
//! it is the server end of the seed's HTTP path, deployed on hosts of its own,
//! while `hopwatch-load` is the client end (no server in it, and the lab links it
//! in-process) and `hopwatch-daemon` is what the roles share, no role itself.
//! Errors are `anyhow`'s, as in the daemons: each ends the role with a message for
//! a person, and no caller matches on one.

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use axum::Router;
use axum::extract::ConnectInfo;
use axum::routing::get;
use clap::Args;
use serde_json::{Map, Value};

use hopwatch_daemon::signals::terminated;

/// `hopwatch web`.
#[derive(Debug, Args)]
pub struct WebArgs {
    /// Address and port to serve on.
    #[arg(long, default_value = "127.10.0.4:8080")]
    pub listen: SocketAddr,
    /// The name to answer with (default: this machine's host name).
    #[arg(long)]
    pub name: Option<String>,
    /// The path that answers `ok` for health checks (every other path answers JSON).
    #[arg(long, default_value = "/health")]
    pub health_path: String,
    /// Rename a key of the answer: `hostname=server`, `ip=addr`, `timestampmilli=ts`.
    #[arg(long = "field", value_name = "KEY=NAME", value_parser = parse_field)]
    pub fields: Vec<(String, String)>,
    /// What happens to a connection after an answer: `keep-alive` (HTTP/1.1 persistent
    /// connections), `close` (`Connection: close`, then the server closes) or
    /// `http1.0` (answers as HTTP/1.0 without keep-alive, then closes).
    #[arg(long, value_enum, default_value_t = Connection::KeepAlive)]
    pub connection: Connection,
}

/// `--connection`: whether the server keeps connections after an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Connection {
    /// HTTP/1.1 persistent connections.
    KeepAlive,
    /// `Connection: close` on every answer, then the server closes.
    Close,
    /// HTTP/1.0 answers, without keep-alive: the server closes after each.
    #[value(name = "http1.0")]
    Http10,
}

/// Marks every answer so that hyper closes the connection after it.
async fn closing(mode: Connection, response: axum::response::Response) -> axum::response::Response {
    let mut response = response;
    if mode != Connection::KeepAlive {
        response.headers_mut().insert(
            axum::http::header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
    }
    if mode == Connection::Http10 {
        *response.version_mut() = axum::http::Version::HTTP_10;
    }
    response
}

fn parse_field(s: &str) -> Result<(String, String), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: expected KEY=NAME"))?;
    if !["hostname", "ip", "timestampmilli"].contains(&k) {
        return Err(format!(
            "{k:?}: the keys are hostname, ip and timestampmilli"
        ));
    }
    if v.is_empty() {
        return Err(format!("{s:?}: the new name is empty"));
    }
    Ok((k.to_string(), v.to_string()))
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

/// Serves until SIGTERM or Ctrl-C.
pub async fn run(args: WebArgs) -> anyhow::Result<()> {
    let name = args.name.clone().unwrap_or_else(host_name);
    let key = |k: &str| {
        args.fields
            .iter()
            .find(|(from, _)| from == k)
            .map_or(k.to_string(), |(_, to)| to.clone())
    };
    let (k_host, k_ip, k_ts) = (key("hostname"), key("ip"), key("timestampmilli"));
    let ip = args.listen.ip().to_string();
    // `client`: the address the connection came from, which the forwarding mode
    // must preserve (direct server return); an extra key the seed's answer lacks.
    let answer = move |client: SocketAddr| {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let mut m = Map::new();
        m.insert(k_host.clone(), Value::from(name.clone()));
        m.insert(k_ip.clone(), Value::from(ip.clone()));
        m.insert(k_ts.clone(), Value::from(ms));
        m.insert("client".into(), Value::from(client.ip().to_string()));
        axum::Json(Value::Object(m))
    };
    let mode = args.connection;
    let app = Router::new()
        .route(&args.health_path, get(|| async { "ok\n" }))
        .fallback(move |ConnectInfo(client): ConnectInfo<SocketAddr>| {
            let a = answer.clone();
            async move { a(client) }
        })
        .layer(axum::middleware::map_response(move |r| closing(mode, r)));
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    hopwatch_daemon::json::print(&hopwatch_events::Line::now(
        hopwatch_events::Event::Listening(hopwatch_events::process::Listening {
            addr: args.listen,
        }),
    ));
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = terminated().await;
    })
    .await?;
    Ok(())
}
