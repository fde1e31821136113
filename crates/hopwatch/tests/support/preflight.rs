//! Preconditions of an interop test: root, and every binary the test drives.
//!
//! A missing precondition FAILS the test with a message naming it; the suite is never
//! skipped silently. The one way out is `HOPWATCH_INTEROP=skip`, which prints a line
//! saying so. The daemon versions are printed once per test binary, for the record.

use std::io::Write as _;
use std::path::Path;
use std::process::Command;
use std::sync::Once;

/// The real BGP implementation a test runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peer {
    /// FRR's zebra and bgpd, driven with vtysh.
    Frr,
    /// BIRD 2, driven with birdc.
    Bird,
    /// gobgpd, driven with gobgp over its gRPC API.
    Gobgp,
    /// ExaBGP 4, which reports what it receives through its API.
    Exabgp,
}

impl Peer {
    fn binaries(self) -> &'static [&'static str] {
        match self {
            Peer::Frr => &["/usr/lib/frr/zebra", "/usr/lib/frr/bgpd", "/usr/bin/vtysh"],
            Peer::Bird => &["/usr/sbin/bird", "/usr/sbin/birdc"],
            Peer::Gobgp => &["/usr/bin/gobgpd", "/usr/bin/gobgp"],
            Peer::Exabgp => &["/usr/sbin/exabgp"],
        }
    }
}

/// Tools every interop test needs besides the peer (`nft`: the seed's namespace lab
/// keeps flows on their next hop with an nft table, see `hopwatch_lab::netns::Net`).
const COMMON: &[&str] = &[
    "/usr/sbin/ip",
    "/usr/sbin/nft",
    "/usr/bin/timeout",
    "/usr/bin/tshark",
    "/usr/bin/kill",
];

/// Checks the preconditions of a test against `peer`. Returns `false` only when
/// `HOPWATCH_INTEROP=skip` asks to skip (after printing that); panics when a
/// precondition is missing.
pub fn preflight(test: &str, peer: Peer) -> bool {
    if std::env::var("HOPWATCH_INTEROP").as_deref() == Ok("skip") {
        say(&format!(
            "interop test {test} skipped: HOPWATCH_INTEROP=skip"
        ));
        return false;
    }
    assert!(
        nix::unistd::geteuid().is_root(),
        "interop test {test} needs root (it creates network namespaces and runs BGP \
         daemons); run as root, or set HOPWATCH_INTEROP=skip to skip it explicitly"
    );
    let missing: Vec<&str> = COMMON
        .iter()
        .chain(peer.binaries())
        .copied()
        .filter(|b| !Path::new(b).exists())
        .collect();
    assert!(
        missing.is_empty(),
        "interop test {test} needs {missing:?}: install the Debian packages \
         `frr bird2 gobgpd exabgp tshark iproute2 nftables` (`./test` installs them when missing), or set \
         HOPWATCH_INTEROP=skip to skip it explicitly"
    );
    print_versions();
    true
}

/// Writes a line straight to stderr, past the test harness's output capture, so it
/// shows in every run's log (a skip must never be silent).
fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// The first line of `argv`'s output (stdout, else stderr).
fn first_line(argv: &[&str]) -> String {
    match Command::new(argv[0]).args(&argv[1..]).output() {
        Ok(out) => {
            let text = if out.stdout.is_empty() {
                out.stderr
            } else {
                out.stdout
            };
            String::from_utf8_lossy(&text)
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("(no output)")
                .trim()
                .to_string()
        }
        Err(e) => format!("(cannot run {}: {e})", argv[0]),
    }
}

/// Prints every peer's version once per test binary.
pub fn print_versions() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let exabgp = Command::new("/usr/sbin/exabgp")
            .arg("--version")
            .output()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .find(|l| l.starts_with("ExaBGP"))
                    .unwrap_or("(unknown)")
                    .to_string()
            })
            .unwrap_or_else(|e| format!("(cannot run exabgp: {e})"));
        say(&format!(
            "interop peers under test: FRR {} | {} | GoBGP {} | {exabgp} | {}",
            first_line(&["/usr/lib/frr/bgpd", "--version"]),
            first_line(&["/usr/sbin/bird", "--version"]),
            first_line(&["/usr/bin/gobgpd", "--version"]),
            first_line(&["/usr/bin/tshark", "--version"]),
        ));
    });
}
