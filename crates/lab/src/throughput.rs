//! What a forwarder costs in bandwidth (namespace lab, forwarding mode): one bulk
//! TCP upload from lt1 to ws1 through the VIP (router, the primary watcher, VXLAN,
//! ws1) and one to ws1's own address (router, ws1), each for a fixed time, in the
//! same run on the same machine. Uploads, because the client-to-server direction is
//! the one that crosses the watcher: answers go from the backend straight to the
//! client (direct server return).
//!
//! The sink is a thread inside ws1's namespace that reads and discards; the source
//! a thread inside lt1's. Both are bounded in time; nothing leaves the lab's
//! namespaces.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::lab::Lab;
use crate::netns::in_ns;
use crate::seed;

/// The sink's port on ws1 (the VIP and its own address).
const PORT: u16 = 9009;
/// How long each upload lasts.
const SEND_FOR: Duration = Duration::from_secs(3);

/// The two uploads' rates.
#[derive(Debug, Clone, Serialize)]
pub struct Throughput {
    /// lt1 to ws1 through the VIP, forwarded by the primary watcher, Mbit/s.
    pub forwarded_mbit_s: f64,
    /// lt1 to ws1's own address (the router only), Mbit/s.
    pub direct_mbit_s: f64,
}

impl Throughput {
    /// One line for the output.
    pub fn text(&self) -> String {
        format!(
            "throughput (one TCP upload, {} s each): through the watcher {:.0} Mbit/s, direct \
             to ws1 {:.0} Mbit/s ({:.0} %)",
            SEND_FOR.as_secs(),
            self.forwarded_mbit_s,
            self.direct_mbit_s,
            100.0 * self.forwarded_mbit_s / self.direct_mbit_s.max(f64::MIN_POSITIVE)
        )
    }
}

/// Measures both uploads.
pub async fn measure(lab: &Lab) -> anyhow::Result<Throughput> {
    let vip: Ipv4Addr = lab.layout.vip.parse().context("the VIP")?;
    let ws1: Ipv4Addr = seed::netns::WS1.parse().context("ws1")?;
    Ok(Throughput {
        forwarded_mbit_s: upload(lab, vip).await?,
        direct_mbit_s: upload(lab, ws1).await?,
    })
}

/// One upload to `to`: the rate the sink received, Mbit/s.
async fn upload(lab: &Lab, to: Ipv4Addr) -> anyhow::Result<f64> {
    let sink = in_ns(lab.layout.ns_of("ws1"), "lab-sink", || async {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::UNSPECIFIED, PORT)).await?;
        let (mut conn, _) = tokio::time::timeout(Duration::from_secs(5), listener.accept())
            .await
            .map_err(|_| std::io::Error::other("no connection within 5 s"))??;
        let mut buf = vec![0u8; 1 << 16];
        let mut total: u64 = 0;
        let mut first: Option<Instant> = None;
        let deadline = tokio::time::Instant::now() + SEND_FOR + Duration::from_secs(5);
        loop {
            let n = tokio::time::timeout_at(deadline, conn.read(&mut buf))
                .await
                .map_err(|_| std::io::Error::other("the upload did not end"))??;
            if n == 0 {
                break;
            }
            first.get_or_insert_with(Instant::now);
            total += n as u64;
        }
        let secs = first.map_or(0.0, |f| f.elapsed().as_secs_f64());
        Ok::<f64, std::io::Error>(total as f64 * 8.0 / 1e6 / secs.max(1e-6))
    });
    let source = async {
        // The sink's thread binds first.
        tokio::time::sleep(Duration::from_millis(200)).await;
        in_ns(lab.layout.ns_of("load"), "lab-source", move || async move {
            let mut s = tokio::net::TcpStream::connect((to, PORT)).await?;
            let chunk = vec![0x5a_u8; 1 << 16];
            let until = tokio::time::Instant::now() + SEND_FOR;
            while tokio::time::Instant::now() < until {
                s.write_all(&chunk).await?;
            }
            s.shutdown().await?;
            Ok::<(), std::io::Error>(())
        })
        .await
    };
    let (rate, sent) = tokio::join!(sink, source);
    sent?.with_context(|| format!("uploading to {to}"))?;
    rate?.with_context(|| format!("receiving the upload to {to}"))
}
