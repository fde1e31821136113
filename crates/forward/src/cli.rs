//! `hopwatch backend`: the backend's side of the forwarding mode, set up until
//! SIGTERM or Ctrl-C and removed then (the `cli` feature).

use std::net::Ipv4Addr;

use anyhow::Context;
use clap::Args;
use hopwatch_bgp::Prefix;
use hopwatch_events::process::BackendReady;
use hopwatch_events::{Event, Line};

use crate::backend::{BackendSettings, BackendSetup};
use crate::layout::{BACKEND_DEVICE, DEFAULT_PORT};

/// `hopwatch backend`.
#[derive(Debug, Args)]
#[command(after_long_help = BACKEND_HELP)]
pub struct BackendArgs {
    /// A VIP this backend serves (repeat for several); added to `lo` unless there.
    #[arg(long = "vip", value_name = "PREFIX", required = true)]
    pub vips: Vec<Prefix>,
    /// A watcher allowed to send it VXLAN (repeat: primary and standby); without
    /// any, VXLAN is accepted from every address.
    #[arg(long = "watcher", value_name = "ADDR")]
    pub watchers: Vec<Ipv4Addr>,
    /// The VXLAN UDP port (the watchers' `[forward] port`).
    #[arg(long, default_value_t = DEFAULT_PORT)]
    pub port: u16,
    /// The largest TCP MSS the VIPs advertise: the underlay's MTU less 90 (VXLAN's
    /// 50, IPv4's and TCP's 40).
    #[arg(long, default_value_t = 1410, value_parser = clap::value_parser!(u16).range(536..=8960))]
    pub mss: u16,
}

const BACKEND_HELP: &str = "\
Run on each backend of a VIP whose watchers forward ([forward] in their config). It
creates the VXLAN device hwfwd (port 4789 by default, any VNI, MAC 02:68:77:00:00:01,
169.254.0.1/32), puts each VIP on lo, loosens the reverse-path filter on hwfwd only,
clamps the MSS the VIPs advertise, and with --watcher drops VXLAN from anyone else
(nftables table inet hopwatch_forward). Replies go from the VIP straight to the client
(direct server return): the client's address reaches the service.

Idempotent: a device left by an earlier run is replaced. Everything it added is removed
on SIGTERM or Ctrl-C (a VIP that was on lo before stays). Needs CAP_NET_ADMIN and nft.

Example (systemd: hopwatch-backend.service):
  hopwatch backend --vip 100.64.0.1/32 --watcher 10.10.0.7 --watcher 10.10.0.9";

/// Sets the backend up, waits for a stop signal, removes the setup.
pub async fn run(a: BackendArgs) -> anyhow::Result<()> {
    let settings = BackendSettings {
        port: a.port,
        vips: a.vips,
        watchers: a.watchers,
        mss: a.mss,
    };
    let setup = BackendSetup::start(&settings)
        .await
        .context("setting up the backend (needs CAP_NET_ADMIN and nft)")?;
    tracing::info!(
        "backend ready: {BACKEND_DEVICE} on UDP {}, VIPs added to lo: {:?}",
        settings.port,
        setup.added()
    );
    hopwatch_daemon::json::print(&Line::now(Event::BackendReady(BackendReady {
        device: BACKEND_DEVICE.into(),
        port: settings.port,
        vips_added: setup.added().iter().map(ToString::to_string).collect(),
    })));
    let why = hopwatch_daemon::signals::terminated().await?;
    tracing::info!("{why}: removing the backend's setup");
    setup.remove().await.context("removing the backend's setup")
}
