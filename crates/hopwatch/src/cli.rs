//! The command line: one binary, one subcommand per role.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Fast, health-checked failover of a floating virtual IP by steering its BGP next hop.
#[derive(Debug, Parser)]
#[command(name = "hopwatch", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// The role to run.
    #[command(subcommand)]
    pub command: Cmd,
}

/// The roles.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// The watcher: health-check each VIP's backends and move its next hop, with one
    /// replacing UPDATE, to every route server.
    #[command(after_long_help = RUN_HELP)]
    Run(hopwatch_watcher_daemon::RunArgs),
    /// An Azure Route Server stand-in with a real data plane (proxy, kernel, none).
    RouteServer(hopwatch_route_server_daemon::RouteServerArgs),
    /// Ask a running watcher: status, drain, undrain, force, unforce.
    Ctl(hopwatch_ctl::CtlArgs),
    /// A scriptable BGP speaker: announce routes, and move their next hop with one
    /// replacing UPDATE, from commands in ExaBGP's syntax on stdin.
    Speak(hopwatch_speaker::SpeakArgs),
    /// A passive (or active) BGP peer that prints every route it receives as a JSON line.
    Observe(hopwatch_speaker::ObserveArgs),
    /// A backend of a VIP in forwarding mode: the VXLAN device that receives the
    /// watchers' traffic, the VIP on lo, until stopped.
    Backend(hopwatch_forward::cli::BackendArgs),
    /// Remove everything the forwarding mode set up on this host (either role),
    /// without its config: for decommissioning.
    Cleanup(hopwatch_forward::cli::CleanupArgs),
    /// The JSON web backend of the lab (the seed's ws1 and ws2).
    Web(hopwatch_web::WebArgs),
    /// Open-loop HTTP load at a fixed rate, every request recorded, and the outages
    /// it saw (the seed's load injector).
    Load(hopwatch_load::cli::LoadArgs),
    /// `speak` announcing a VIP to `observe` on 127.0.0.1, then moving its next hop.
    Demo(hopwatch_speaker::DemoArgs),
    /// Check a watcher config file without starting anything.
    Check(CheckArgs),
    /// The whole lab: route server, ws1, ws2, watcher and observer as child processes,
    /// failure scenarios under load, a table and a report (loopback without privileges,
    /// or the seed's network in namespaces with --netns).
    Lab(hopwatch_lab::LabArgs),
    /// The seed's Azure environment from one config: `az` scripts (bash and PowerShell)
    /// and the cloud-init of each role.
    Azure(hopwatch_azure::AzureArgs),
}

const RUN_HELP: &str = "\
The config is TOML; `hopwatch check -c FILE` validates it and says what it will do.
Decisions (health changes, moves) and BGP events are printed on stdout as JSON lines;
a readable log goes to stderr (HOPWATCH_LOG=info). The control API listens on
[api] listen: `hopwatch ctl status`, `drain`, `undrain`, `force`. It keeps at most 64
connections open (more get a 503 at once), each must send its request head within 5 s
and lasts at most 60 s; at start the soft limit of open files is raised to the hard
limit, so that the probes and sessions always have descriptors.

Signals: SIGTERM or Ctrl-C is a planned restart: with graceful_restart configured the
sessions are closed without a NOTIFICATION, which every RFC 4724 helper answers by
keeping the VIP (stale) for the restart time, whether or not it implements RFC 8538;
without graceful restart they get a Cease. To take the watcher out of service for
good, `hopwatch ctl shutdown --withdraw` withdraws the VIPs and ends the sessions with
a Cease (Hard Reset to RFC 8538 peers), so route servers drop the VIPs at once.
SIGHUP reloads the config without dropping sessions.

With [forward] (forwarding mode) the VIPs' next hop is this watcher, which forwards
their traffic over VXLAN to the backend it chooses (each backend runs `hopwatch
backend`); it needs CAP_NET_ADMIN and nft. A restart leaves the kernel's forwarding
in place (traffic keeps flowing) and the new process takes it over; `ctl shutdown
--withdraw` removes it.";

/// `hopwatch check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The config file.
    #[arg(short, long, value_name = "FILE")]
    pub config: PathBuf,
}
