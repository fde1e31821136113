//! `hopwatch lab`'s command line, and its `--help`: the scenarios' names and help
//! lines come from their values (`scenarios::ALL`), the addresses from [`seed`],
//! so the help cannot fall behind either.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::scenarios::{self, Place, Scenario};
use crate::seed;
use crate::topology::{Mode, Profile, RouteServer};

/// `hopwatch lab`.
#[derive(Debug, Args)]
#[command(after_long_help = long_help())]
pub struct LabArgs {
    /// The scenarios to run, comma-separated (default: all that apply); `--help`
    /// names them, from `scenarios::ALL`.
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "LIST",
        value_parser = scenarios::parse,
        help = scenario_help()
    )]
    pub scenario: Vec<&'static Scenario>,
    /// How many VIPs the watchers announce, all on ws1/ws2 with the same checks
    /// (1 to 1,000); see --help for what is measured.
    #[arg(
        long,
        default_value_t = 1,
        value_name = "N",
        value_parser = clap::value_parser!(u16).range(1..=seed::MAX_VIPS as i64),
        long_help = VIPS_HELP
    )]
    pub vips: u16,
    /// Trials of each scenario.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=50))]
    pub trials: u32,
    /// Where the logs and the report go (default: ./hopwatch-lab-<timestamp>).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Requests per second through the VIP during each trial (a new connection each).
    #[arg(long, default_value_t = 1000.0, value_name = "PER_SECOND")]
    pub rate: f64,
    /// The watcher's failback hold (longer than a flap, short enough for the lab).
    #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
    pub hold: Duration,
    /// Both watchers' graceful restart time in seconds, or `off`. With it, the route
    /// servers keep a dead primary's route (stale) that long before the standby's
    /// takes over; without it the standby's takes over as soon as the primary's
    /// session ends.
    #[arg(long, default_value = "10", value_name = "SECS|off", value_parser = graceful_restart)]
    pub graceful_restart: GracefulRestart,
    /// After the scenarios (only this, without --scenario): a seeded random schedule
    /// of every scenario under one load run for this long (e.g. 10m), reporting moves
    /// no fault explains, failed requests per fault class and each process's memory.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub chaos: Option<Duration>,
    /// The chaos schedule's seed (default: random, printed).
    #[arg(long, requires = "chaos")]
    pub seed: Option<u64>,
    /// The namespace lab (root): the seed's addressing in network namespaces of its
    /// own, kernel routes, and the blackhole and drop scenarios.
    #[arg(long)]
    pub netns: bool,
    /// The prefix of the namespace lab's namespace names (two runs with different
    /// prefixes can coexist).
    #[arg(
        long,
        default_value = "hwlab-",
        value_name = "PREFIX",
        requires = "netns"
    )]
    pub netns_prefix: String,
    /// The route server: hopwatch's own, FRR's bgpd and zebra, or BIRD 2 (the
    /// last two with --netns only).
    #[arg(long, value_enum, default_value_t = RouteServer::Hopwatch)]
    pub route_server: RouteServer,
    /// The route server's timing: program at once, or Azure's measured delays and
    /// one change per route per 30 s (hopwatch's route server only).
    #[arg(long, value_enum, default_value_t = Profile::Instant)]
    pub profile: Profile,
    /// next-hop: each move changes the VIP's route at the route servers. forward
    /// (--netns): the route points at the watchers, which forward to the backend
    /// they choose over VXLAN (`hopwatch backend` on ws1 and ws2). both: one after
    /// the other, a table each and a comparison. Default: both with --netns
    /// --profile azure, where the route server's seconds make the difference;
    /// next-hop otherwise.
    #[arg(long, value_enum, value_name = "MODE")]
    pub mode: Option<Mode>,
}

/// `--vips`' long help.
const VIPS_HELP: &str = "\
How many VIPs the watchers announce, 1 to 1,000 (Azure Route Server takes 1,000 routes \
from each peer): one backend pair fronting a VIP per site. All are on ws1/ws2 with \
identical checks (the same URL and settings), so that a watcher sharing probes between \
identical targets runs one probe per backend. The seed VIP carries the load; the other \
N-1 are /32s without traffic (127.10.16.0/22 on loopback, where the route server's \
proxy listens on each; 100.64.16.0/22 with --netns, routes in the router's table).

Each trial then waits (bounded, 10 ms more per VIP) for every VIP's route to reach ws2 \
and to come back, and reports: the time from the failure to the last VIP programmed, \
next to the seed's; per route server instance, the UPDATE messages the deciding watcher \
sent for the move (its update_sent lines, one per message) and, with hopwatch's route \
server, the VIPs and messages that instance received. A trial in which the seed's route \
moved and another VIP's did not fails. At any N, each process's idle CPU (5 s before \
the first trial) and VmRSS are reported: compare the watcher's at --vips 1000 and 1.

The watcher's own limits apply: at the lab's 10 ms probe interval its config check \
refuses more probes a second than one core does (the lab then stops with its reason).";

impl LabArgs {
    /// `--mode`, or its default.
    pub fn mode(&self) -> Mode {
        self.mode
            .unwrap_or(if self.netns && self.profile == Profile::Azure {
                Mode::Both
            } else {
                Mode::NextHop
            })
    }
}

/// `--scenario`'s help: the names of the scenarios, those of the namespace lab apart.
fn scenario_help() -> String {
    format!(
        "The scenarios to run, comma-separated: {}, and with --netns {} (default: all \
         that apply)",
        scenarios::names(Place::Anywhere).join(", "),
        scenarios::names(Place::Netns).join(" and "),
    )
}

/// "Two more scenarios", for the help.
fn more(n: usize) -> String {
    let words = [
        "No", "One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight",
    ];
    let count = words
        .get(n)
        .map_or_else(|| n.to_string(), |w| (*w).to_string());
    format!("{count} more scenario{}", if n == 1 { "" } else { "s" })
}

/// The text after `hopwatch lab --help`'s options: both labs' addresses (from
/// [`seed`]) and the scenarios' help lines (from their values).
fn long_help() -> String {
    use seed::loopback as lo;
    use seed::netns as ns;
    let netns_only = scenarios::names(Place::Netns).len();
    format!(
        "\
Loopback lab (docs/lab-topology.md): route server {rs1} and {rs2}
(BGP port {bgp}, proxy data plane on the VIP {vip}:{http}, API {rs_api}),
ws1 {ws1}:{http}, ws2 {ws2}:{http}, watcher {watcher} (API :{watcher_api}), observer
{observer}. Each is a child process of this binary; their JSON lines go to
OUT/<role>.jsonl, their PIDs to OUT/pids.txt.

Scenarios (each trial starts with the VIP on ws1 and ends when it is back):
{anywhere}
With --netns (root): the namespace lab of docs/lab-topology.md, named
PREFIX{{vnet,ws1,ws2,lt1,watch1,watch2}}: router and route server in vnet ({n_rs1},
{n_rs2}, bridge {router}/{len}, kernel routes), ws1 {n_ws1}, ws2 {n_ws2} (the VIP
{n_vip} on their lo), load from lt1 {lt1}, watcher {watch1}, observer {watch2}.
Nothing of it links to the host's namespace. {more}:
{netns}--route-server frr runs FRR's bgpd (one per instance) and zebra in vnet instead; its
route-server-restart restarts the second instance (the first owns zebra's routes).
--route-server bird runs one BIRD 2 per instance, the first with a kernel protocol;
its route-server-restart restarts the second, as with FRR.
'program' is then the time the router's kernel table changed (ip monitor route), and
'rs' is the route server's own part: from the watcher's UPDATE to that change.

Output: a table (failover and failback median/p90/max, failed requests, where the time
went), OUT/results.json, OUT/requests.csv, OUT/report.html (SVG timelines). Exits 0
when the lab ran to the end (PASS/FAIL against each expectation is in the table and in
results.json), non-zero when it could not start or run, or was interrupted. Refuses
to start when a lab port (or, with --netns, a lab namespace) is taken.",
        rs1 = lo::RS1,
        rs2 = lo::RS2,
        bgp = lo::BGP_PORT,
        vip = lo::VIP_ADDR,
        http = seed::HTTP_PORT,
        rs_api = lo::RS_API,
        ws1 = lo::WS1,
        ws2 = lo::WS2,
        watcher = lo::WATCHER,
        watcher_api = seed::WATCHER_API_PORT,
        observer = lo::OBSERVER,
        anywhere = scenarios::help_lines(Place::Anywhere),
        n_rs1 = ns::RS1,
        n_rs2 = ns::RS2,
        router = ns::ROUTER,
        len = ns::HOST_PREFIX_LEN,
        n_ws1 = ns::WS1,
        n_ws2 = ns::WS2,
        n_vip = ns::VIP_ADDR,
        lt1 = ns::LT1,
        watch1 = ns::WATCH1,
        watch2 = ns::WATCH2,
        more = more(netns_only),
        netns = scenarios::help_lines(Place::Netns),
    )
}

/// `--graceful-restart`: seconds, or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GracefulRestart(pub Option<u16>);

fn graceful_restart(s: &str) -> Result<GracefulRestart, String> {
    if s == "off" {
        return Ok(GracefulRestart(None));
    }
    match s.parse::<u16>() {
        Ok(n @ 1..=4095) => Ok(GracefulRestart(Some(n))),
        _ => Err(format!("{s:?}: seconds from 1 to 4095, or off")),
    }
}
