//! The command lines of `speak`, `observe` and `demo`, with the long help users
//! read (`hopwatch speak --help`): the settings every BGP role shares
//! ([`BgpArgs`]), then each role's own. The binary's `cli` names them as its
//! subcommands, as it names the lab's `LabArgs`.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::Args;
use hopwatch_bgp::{Asn, HoldTime, RouterId};

const SPEAK_HELP: &str = "\
Commands (stdin, and --command-pipe), one a line, ExaBGP's syntax:
  announce route 100.64.0.1/32 next-hop 10.10.0.5 [med N] [as-path [A B]] [community [X:Y]]
                 [large-community [A:B:C]] [origin igp|egp|incomplete] [local-preference N]
  withdraw route 100.64.0.1/32
  announce attributes next-hop 10.10.0.5 [the same attributes] nlri PREFIX PREFIX ...
  withdraw attributes nlri PREFIX PREFIX ...

Each line goes to every established peer at once. The prefixes of a line that share
their attributes ride in one UPDATE (about 800 IPv4 /32s fit its 4,096 octets; more
take several), so `announce attributes ... nlri` with a thousand VIPs is two UPDATEs
where a thousand `announce route` lines are a thousand. A next-hop change replaces the
route (no withdraw first). A peer that comes up later gets the current routes, packed
the same way, then End-of-RIB. Events are printed on stdout as JSON lines, one
update_sent per UPDATE with its prefixes; errors go to stderr. SIGTERM or Ctrl-C sends
Cease (Administrative Shutdown) to every peer, then exits.

Example (a route server pair, as on Azure):
  hopwatch speak --local-as 65001 --router-id 10.10.0.7 --peer 10.10.1.4 --peer 10.10.1.5 \\
      --peer-as 65515 --graceful-restart 10 --announce \"100.64.0.1/32 next-hop 10.10.0.4\"

Moving three VIPs to another web server in one UPDATE (on stdin):
  announce attributes next-hop 10.10.0.5 nlri 100.64.0.1/32 100.64.0.2/32 100.64.0.3/32";

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
#[command(after_long_help = SPEAK_HELP)]
pub struct SpeakArgs {
    /// The settings every BGP role shares.
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
#[command(after_long_help = OBSERVE_HELP)]
pub struct ObserveArgs {
    /// The settings every BGP role shares.
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
