//! The command line: one binary, one subcommand per role.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use hopwatch_bgp::{Asn, HoldTime, RouterId};

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
    Ctl(crate::ctl::CtlArgs),
    /// A scriptable BGP speaker: announce routes, and move their next hop with one
    /// replacing UPDATE, from commands in ExaBGP's syntax on stdin.
    #[command(after_long_help = SPEAK_HELP)]
    Speak(SpeakArgs),
    /// A passive (or active) BGP peer that prints every route it receives as a JSON line.
    #[command(after_long_help = OBSERVE_HELP)]
    Observe(ObserveArgs),
    /// The JSON web backend of the lab (the seed's ws1 and ws2).
    Web(crate::web::WebArgs),
    /// Open-loop HTTP load at a fixed rate, every request recorded, and the outages
    /// it saw (the seed's load injector).
    Load(crate::load::LoadArgs),
    /// `speak` announcing a VIP to `observe` on 127.0.0.1, then moving its next hop.
    Demo(DemoArgs),
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
SIGHUP reloads the config without dropping sessions.";

const SPEAK_HELP: &str = "\
Commands (stdin, and --command-pipe), one a line, ExaBGP's syntax:
  announce route 100.64.0.1/32 next-hop 10.10.0.5 [med N] [as-path [A B]] [community [X:Y]]
                 [large-community [A:B:C]] [origin igp|egp|incomplete] [local-preference N]
  withdraw route 100.64.0.1/32

Each command goes to every established peer as ONE UPDATE; a next-hop change replaces
the route (no withdraw first). A peer that comes up later gets the current routes, then
End-of-RIB. Events are printed on stdout as JSON lines; errors go to stderr. SIGTERM or
Ctrl-C sends Cease (Administrative Shutdown) to every peer, then exits.

Example (a route server pair, as on Azure):
  hopwatch speak --local-as 65001 --router-id 10.10.0.7 --peer 10.10.1.4 --peer 10.10.1.5 \\
      --peer-as 65515 --graceful-restart 10 --announce \"100.64.0.1/32 next-hop 10.10.0.4\"";

const OBSERVE_HELP: &str = "\
Output, one JSON line per event:
  {\"event\":\"update\",\"ts_us\":..,\"peer\":\"10.10.0.7\",\"action\":\"announce\",
   \"prefix\":\"100.64.0.1/32\",\"next_hop\":\"10.10.0.4\",\"as_path\":[65001],\"origin\":\"igp\"}
  {\"event\":\"update\",..,\"action\":\"withdraw\",\"prefix\":\"100.64.0.1/32\"}
plus state, established, end_of_rib and down events. On SIGUSR1 and on exit it prints
{\"event\":\"table\",\"routes\":[..]}: what every peer currently announces.

Example (the seed's watch2, listening for watch1):
  hopwatch observe --local-as 65002 --router-id 10.10.0.8 --listen 10.10.0.8";

/// Settings every BGP role shares.
#[derive(Debug, Args)]
pub struct BgpArgs {
    /// Our AS number (asplain, or asdot like 1.10).
    #[arg(long, value_name = "ASN")]
    pub local_as: Asn,
    /// Our BGP identifier, an IPv4 address.
    #[arg(long, value_name = "IPV4")]
    pub router_id: RouterId,
    /// The BGP port of the peers (and ours when listening).
    #[arg(long, default_value_t = 179)]
    pub port: u16,
    /// Hold time we propose, in seconds (0, or 3 and more). Keepalives every third.
    #[arg(long, default_value = "90", value_parser = parse_hold_time)]
    pub hold_time: HoldTime,
    /// Advertise graceful restart with this restart time in seconds (RFC 4724): a
    /// peer keeps our routes that long when we restart.
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u16).range(0..=4095))]
    pub graceful_restart: Option<u16>,
    /// Do not offer the 4-octet AS capability (to test or serve 2-octet-only peers).
    #[arg(long)]
    pub two_octet_as: bool,
    /// Seconds between connect attempts at the most (they start at 1 s and double).
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    pub retry_max: u64,
}

fn parse_hold_time(s: &str) -> Result<HoldTime, String> {
    let v: u16 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    HoldTime::try_from(v)
}

/// `hopwatch speak`.
#[derive(Debug, Args)]
pub struct SpeakArgs {
    #[command(flatten)]
    pub bgp: BgpArgs,
    /// A peer to announce to (repeat for each route server instance).
    #[arg(long = "peer", value_name = "ADDR", required = true)]
    pub peers: Vec<IpAddr>,
    /// The peers' AS number.
    #[arg(long, value_name = "ASN")]
    pub peer_as: Asn,
    /// The address to connect from (and to listen on with --passive).
    #[arg(long, value_name = "ADDR")]
    pub local_address: Option<IpAddr>,
    /// Do not connect out; wait for the peers to connect to us.
    #[arg(long)]
    pub passive: bool,
    /// A route to announce from the start: "PREFIX next-hop ADDR [attributes]".
    #[arg(long = "announce", value_name = "ROUTE")]
    pub announce: Vec<String>,
    /// Also read commands from this named pipe (created if missing), as ExaBGP does.
    #[arg(long, value_name = "PATH")]
    pub command_pipe: Option<PathBuf>,
}

/// `hopwatch observe`.
#[derive(Debug, Args)]
pub struct ObserveArgs {
    #[command(flatten)]
    pub bgp: BgpArgs,
    /// Addresses to listen on (default: all IPv4 addresses). Ignored with --active.
    #[arg(long = "listen", value_name = "ADDR")]
    pub listen: Vec<IpAddr>,
    /// Accept only these peers (default: any address that connects).
    #[arg(long = "peer", value_name = "ADDR")]
    pub peers: Vec<IpAddr>,
    /// Accept only this AS (default: any).
    #[arg(long, value_name = "ASN")]
    pub peer_as: Option<Asn>,
    /// Connect to each --peer instead of waiting for them.
    #[arg(long, requires = "peers")]
    pub active: bool,
}

/// `hopwatch demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// The TCP port the observer listens on, on 127.0.0.1.
    #[arg(long, default_value_t = 1179)]
    pub port: u16,
    /// How many next-hop moves to make and time (each waits for the observer).
    #[arg(long, default_value_t = 10)]
    pub moves: usize,
}

/// `hopwatch check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The config file.
    #[arg(short, long, value_name = "FILE")]
    pub config: PathBuf,
}
