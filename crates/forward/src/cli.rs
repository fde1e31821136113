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
    /// A watcher allowed to send it VXLAN (repeat: primary and standby). Required
    /// unless --accept-vxlan-from-anyone: whoever may send this host VXLAN can hand
    /// its services packets with any source address.
    #[arg(long = "watcher", value_name = "ADDR")]
    pub watchers: Vec<Ipv4Addr>,
    /// Take VXLAN over IPv4 from every address instead (a network that filters it
    /// before this host does). Still never over IPv6, still only to the VIPs.
    #[arg(long, conflicts_with = "watchers")]
    pub accept_vxlan_from_anyone: bool,
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
clamps the MSS the VIPs advertise, and drops VXLAN from anyone but the watchers, VXLAN
over IPv6, and whatever comes out of the tunnel to an address that is not a VIP
(nftables table inet hopwatch_forward). Give every watcher that may forward to it
(--watcher, repeat); --accept-vxlan-from-anyone instead is for a network that filters
VXLAN before it reaches this host. Replies go from the VIP straight to the client
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
    if settings.watchers.is_empty() && !a.accept_vxlan_from_anyone {
        anyhow::bail!(
            "no --watcher given: whoever may send this host VXLAN can hand the VIPs' \
             services packets with any source address. Name each watcher that forwards \
             to it (--watcher ADDR, repeat for the standby), or, only if the network \
             filters VXLAN before it reaches this host, --accept-vxlan-from-anyone"
        );
    }
    if settings.watchers.is_empty() {
        tracing::warn!(
            "--accept-vxlan-from-anyone: VXLAN to UDP {} is taken from anyone over IPv4; \
             whoever can send it can hand the VIPs' services packets with any source \
             address. Name the watchers with --watcher instead unless the network \
             filters VXLAN before this host",
            settings.port
        );
    }
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

/// `hopwatch cleanup`.
#[derive(Debug, Args)]
#[command(after_long_help = CLEANUP_HELP)]
pub struct CleanupArgs {}

const CLEANUP_HELP: &str = "\
Removes what hopwatch's forwarding mode set up on this host, whichever role and
config made it, and whatever happened to the process since: the watcher's VXLAN
devices hwfw0, hwfw1, ... (with the routes through them) and its fwmark rules, the
backend's device hwfwd and the VIP addresses it put on lo (labelled lo:hopwatch; an
address that was there before keeps its own label and stays), and the nftables table
inet hopwatch_forward. For decommissioning a host: on a running watcher or backend it
stops their forwarding. Needs CAP_NET_ADMIN and nft.

`hopwatch run` without [forward] removes a watcher's leftovers at every start by
itself; `hopwatch backend` adopts the VIP addresses an earlier run left and removes
them when it stops.";

/// Removes everything of the forwarding mode on this host; says what on stdout
/// through `print`.
pub async fn cleanup(_a: CleanupArgs, print: fn(&str) -> anyhow::Result<()>) -> anyhow::Result<()> {
    let removed = crate::cleanup::everything()
        .await
        .context("removing the forwarding mode's setup (needs CAP_NET_ADMIN and nft)")?;
    print(&format!("{removed}\n"))
}
