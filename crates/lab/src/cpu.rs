//! How much CPU each of the lab's processes used over a stretch of time: the
//! figure that shows a process busy when it should be idle (a task polling a dead
//! socket in a loop, say), which no failover figure would show.
//!
//! It is the process's user and system time (every thread) from
//! `/proc/PID/stat`, in the kernel's clock ticks (10 ms on Linux), divided by the
//! wall-clock time between two samples: a share of one core. A process restarted
//! between the samples (another PID) has no figure: its time is split between two
//! processes, and the lab does not add them up.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::lab::Lab;

/// The lab's own processes whose CPU is sampled, by role name. An external route
/// server (FRR, BIRD) is not ours to measure here.
pub const ROLES: [&str; 6] = [
    "route-server",
    "watcher",
    "standby",
    "ws1",
    "ws2",
    "observer",
];

/// A process's CPU time so far (user + system, every thread).
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&stat, ticks_per_second())
}

/// utime + stime of a `/proc/PID/stat` line, `hz` ticks a second.
fn parse_stat(stat: &str, hz: u64) -> Option<Duration> {
    // The command name (field 2) is in parentheses and may hold spaces or ')':
    // the fields after the last ')' start with the state (field 3).
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line: 11 and 12 after the state.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    let ticks = utime + stime;
    Some(Duration::from_secs(ticks / hz) + Duration::from_nanos((ticks % hz) * 1_000_000_000 / hz))
}

/// The kernel's clock ticks per second as `/proc` counts them (`USER_HZ`).
fn ticks_per_second() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .and_then(|v| u64::try_from(v).ok())
        .filter(|&v| v > 0)
        .unwrap_or(100)
}

/// The CPU time of each role at one instant, with its PID.
#[derive(Debug, Clone)]
pub struct Sample {
    at: Instant,
    per: BTreeMap<&'static str, (u32, Duration)>,
}

impl Sample {
    /// The wall-clock time from `earlier` to this sample, s.
    pub fn seconds_since(&self, earlier: &Sample) -> f64 {
        self.at.saturating_duration_since(earlier.at).as_secs_f64()
    }
}

/// Samples every role of [`ROLES`] that runs now.
pub fn sample(lab: &Lab) -> Sample {
    let per = ROLES
        .iter()
        .filter_map(|r| {
            let pid = lab.procs.pid(r)?;
            Some((*r, (pid, cpu_time(pid)?)))
        })
        .collect();
    Sample {
        at: Instant::now(),
        per,
    }
}

/// One role's share of a core between two samples.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Usage {
    /// The lab's name of the process.
    pub process: String,
    /// Its PID (the same in both samples).
    pub pid: u32,
    /// Its CPU time over the wall-clock time, % of one core.
    pub percent: f64,
}

/// Each role's share of a core from `a` to `b`; a role restarted in between (or
/// absent from either) is left out.
pub fn usage(a: &Sample, b: &Sample) -> Vec<Usage> {
    let wall = b.at.saturating_duration_since(a.at).as_secs_f64();
    if wall <= 0.0 {
        return Vec::new();
    }
    a.per
        .iter()
        .filter_map(|(role, (pid, t0))| {
            let (pid1, t1) = b.per.get(role)?;
            (pid == pid1).then(|| Usage {
                process: (*role).to_string(),
                pid: *pid,
                percent: 100.0 * t1.saturating_sub(*t0).as_secs_f64() / wall,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_read_after_the_last_parenthesis() {
        // A command name with a space and a ')' in it; utime 250, stime 50.
        let line = "4242 (hop watch) x) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 \
                    20 0 4 0 123 1000000 500 18446744073709551615";
        assert_eq!(parse_stat(line, 100), Some(Duration::from_secs(3)));
        assert_eq!(parse_stat(line, 1000), Some(Duration::from_millis(300)));
        assert_eq!(parse_stat("garbage", 100), None);
    }

    #[test]
    fn our_own_cpu_time_is_readable_and_grows() {
        let me = std::process::id();
        let t0 = cpu_time(me).expect("our own /proc/PID/stat");
        let spin = Instant::now();
        let mut x = 0u64;
        while spin.elapsed() < Duration::from_millis(50) {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        let t1 = cpu_time(me).expect("our own /proc/PID/stat");
        assert!(t1 >= t0);
    }

    #[test]
    fn a_restarted_role_has_no_figure() {
        let t = Instant::now();
        let a = Sample {
            at: t,
            per: [
                ("watcher", (10, Duration::ZERO)),
                ("standby", (11, Duration::ZERO)),
            ]
            .into(),
        };
        let b = Sample {
            at: t + Duration::from_secs(2),
            per: [
                ("watcher", (12, Duration::from_millis(100))),
                ("standby", (11, Duration::from_millis(500))),
            ]
            .into(),
        };
        assert_eq!(
            usage(&a, &b),
            vec![Usage {
                process: "standby".into(),
                pid: 11,
                percent: 25.0
            }]
        );
    }
}
