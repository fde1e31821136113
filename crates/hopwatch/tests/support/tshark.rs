//! A live capture of BGP UPDATEs on the speaker's veth, to check on the wire what a
//! peer's RIB cannot show: that a next-hop move went out as one replacing UPDATE,
//! with no withdraw before it.
//!
//! tshark prints one line per frame holding an UPDATE (`-T fields`, `|`-separated;
//! repeated fields comma-joined). A frame may carry several BGP messages, so the
//! message types are counted, not the frames.

use std::time::Duration;

use super::netns::Lab;
use super::proc::{self, Daemon};
use super::wait;

const FIELDS: &[&str] = &[
    "frame.time_epoch",
    "ip.src",
    "bgp.type",
    "bgp.update.withdrawn_routes.length",
    "bgp.withdrawn_prefix",
    "bgp.update.path_attribute.next_hop",
    "bgp.nlri_prefix",
    "bgp.mp_unreach_nlri_ipv4_prefix",
];

/// One captured frame with at least one UPDATE in it.
#[derive(Debug, Clone)]
pub struct UpdateFrame {
    /// The capture time, seconds since the epoch.
    pub time: f64,
    /// The sender's address.
    pub src: String,
    /// The BGP message types in the frame (2 = UPDATE, 4 = KEEPALIVE, …).
    pub types: Vec<u32>,
    /// The Withdrawn Routes Length of each UPDATE.
    pub withdrawn_lengths: Vec<u32>,
    /// Withdrawn IPv4 prefixes (in the withdrawn routes field).
    pub withdrawn: Vec<String>,
    /// NEXT_HOP attributes.
    pub next_hops: Vec<String>,
    /// NLRI prefixes (addresses only; the length is a separate field).
    pub nlri: Vec<String>,
    /// Prefixes in MP_UNREACH_NLRI.
    pub mp_unreach: Vec<String>,
    /// The raw line.
    pub line: String,
}

impl UpdateFrame {
    /// How many UPDATE messages the frame holds.
    pub fn update_count(&self) -> usize {
        self.types.iter().filter(|t| **t == 2).count()
    }

    fn parse(line: &str) -> Option<UpdateFrame> {
        let f: Vec<&str> = line.split('|').collect();
        if f.len() < FIELDS.len() {
            return None;
        }
        let list = |s: &str| -> Vec<String> {
            s.split(',')
                .filter(|x| !x.is_empty())
                .map(str::to_string)
                .collect()
        };
        let nums =
            |s: &str| -> Vec<u32> { list(s).iter().filter_map(|x| x.parse().ok()).collect() };
        Some(UpdateFrame {
            time: f[0].parse().ok()?,
            src: f[1].to_string(),
            types: nums(f[2]),
            withdrawn_lengths: nums(f[3]),
            withdrawn: list(f[4]),
            next_hops: list(f[5]),
            nlri: list(f[6]),
            mp_unreach: list(f[7]),
            line: line.to_string(),
        })
    }
}

/// A running capture.
pub struct Capture {
    daemon: Daemon,
}

impl Capture {
    /// Starts tshark on the speaker's veth and waits until it captures.
    pub fn start(lab: &Lab) -> Capture {
        Capture::start_on(
            &lab.speaker,
            &lab.speaker_if,
            "tcp port 179",
            lab.dir(),
            "tshark",
        )
    }

    /// Starts tshark in namespace `ns` on interface `ifname` with capture filter
    /// `filter` (BPF), its output in `dir/NAME.out`, and waits until it captures.
    pub fn start_on(
        ns: &str,
        ifname: &str,
        filter: &str,
        dir: &std::path::Path,
        name: &str,
    ) -> Capture {
        let mut argv: Vec<&str> = vec![
            "tshark",
            "-l",
            "-n",
            "-i",
            ifname,
            "-f",
            filter,
            "-Y",
            "bgp.type == 2 && !tcp.analysis.retransmission",
            "-T",
            "fields",
            "-E",
            "separator=|",
            "-E",
            "occurrence=a",
            "-E",
            "aggregator=,",
        ];
        for f in FIELDS {
            argv.push("-e");
            argv.push(f);
        }
        let tmp = dir.to_string_lossy().into_owned();
        let mut daemon = Daemon::spawn(ns, name, dir, &argv, &[("TMPDIR", &tmp)]);
        let started = wait::poll(Duration::from_secs(15), Duration::from_millis(100), || {
            std::fs::read_to_string(daemon.stderr_path())
                .ok()
                .filter(|s| s.contains("Capture started") || s.contains("Capturing on"))
        });
        assert!(
            started.is_some() && daemon.running(),
            "tshark did not start\n{}",
            daemon.tail()
        );
        // tshark needs a moment after saying so before it really captures.
        wait::settle(Duration::from_secs(2));
        Capture { daemon }
    }

    /// Every UPDATE-carrying frame captured so far.
    pub fn frames(&self) -> Vec<UpdateFrame> {
        std::fs::read_to_string(self.daemon.stdout_path())
            .unwrap_or_default()
            .lines()
            .filter_map(UpdateFrame::parse)
            .collect()
    }

    /// The frames sent by `src`.
    pub fn frames_from(&self, src: &str) -> Vec<UpdateFrame> {
        self.frames().into_iter().filter(|f| f.src == src).collect()
    }

    /// Waits until a frame from `src` matching `pred` was captured after the first
    /// `from` frames; returns its index among `frames_from(src)`.
    pub fn wait_frame(
        &self,
        src: &str,
        from: usize,
        what: &str,
        pred: impl Fn(&UpdateFrame) -> bool,
    ) -> usize {
        wait::poll(wait::ROUTE_TIMEOUT, Duration::from_millis(100), || {
            self.frames_from(src)
                .iter()
                .skip(from)
                .position(&pred)
                .map(|i| i + from)
        })
        .unwrap_or_else(|| panic!("tshark saw no UPDATE {what} from {src}\n{}", self.dump()))
    }

    /// A line drawn in the capture: the number of frames from `src` so far.
    pub fn mark(&self, src: &str) -> usize {
        self.frames_from(src).len()
    }

    /// Checks that the frames from `src` after `mark` carry exactly one UPDATE, and
    /// that it replaces `prefix` with next hop `next_hop`: Withdrawn Routes Length 0,
    /// no withdrawn prefix, no MP_UNREACH_NLRI.
    pub fn check_one_replacing_update(
        &self,
        src: &str,
        mark: usize,
        prefix: &str,
        next_hop: &str,
    ) -> Result<(), String> {
        let after: Vec<UpdateFrame> = self.frames_from(src).into_iter().skip(mark).collect();
        let fail = |why: String| {
            Err(format!(
                "{why}\nframes after the mark: {after:#?}\n{}",
                self.dump()
            ))
        };
        let updates: usize = after.iter().map(UpdateFrame::update_count).sum();
        if updates != 1 {
            return fail(format!("the move took {updates} UPDATE messages, not 1"));
        }
        let f = &after[0];
        if f.withdrawn_lengths != [0] || !f.withdrawn.is_empty() || !f.mp_unreach.is_empty() {
            return fail("the move's UPDATE withdraws routes".into());
        }
        if f.next_hops != [next_hop] {
            return fail(format!("the move's next hop is not {next_hop}"));
        }
        let addr = prefix.split('/').next().unwrap_or(prefix);
        if !f.nlri.iter().any(|p| p == addr) {
            return fail(format!("the move's NLRI lacks {prefix}"));
        }
        Ok(())
    }

    /// The capture so far, for failure messages.
    pub fn dump(&self) -> String {
        format!(
            "--- tshark: {} ---\n{}\n{}",
            FIELDS.join("|"),
            proc::tail_file(self.daemon.stdout_path(), 50),
            proc::tail_file(self.daemon.stderr_path(), 5)
        )
    }
}
