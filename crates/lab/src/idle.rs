//! Each process's CPU with nothing happening: measured once, before the first
//! trial, at the steady state (every VIP on ws1, no load, no failure), over
//! [`IDLE`], with each process's resident memory (VmRSS) at that point. It is
//! what the watchers cost just watching, the figure to compare between
//! `--vips 1000` and `--vips 1`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::cpu::{self, Usage};
use crate::lab::Lab;

/// How long the idle CPU is sampled.
pub const IDLE: Duration = Duration::from_secs(5);

/// The idle figures.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Idle {
    /// How long the CPU was sampled, s.
    pub seconds: f64,
    /// Each process's share of a core meanwhile.
    pub cpu: Vec<Usage>,
    /// Each process's VmRSS at the end, KiB.
    pub rss_kib: BTreeMap<String, u64>,
}

impl Lab {
    /// Brings the lab to its steady state, then samples every process's CPU over
    /// [`IDLE`] and reads its VmRSS.
    pub async fn measure_idle(&mut self) -> anyhow::Result<Idle> {
        self.steady().await?;
        self.settle().await;
        let before = cpu::sample(self);
        tokio::time::sleep(IDLE).await;
        let after = cpu::sample(self);
        let rss_kib = cpu::ROLES
            .iter()
            .filter_map(|role| {
                let pid = self.procs.pid(role)?;
                let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
                Some(((*role).to_string(), vm_rss_kib(&status)?))
            })
            .collect();
        Ok(Idle {
            seconds: after.seconds_since(&before),
            cpu: cpu::usage(&before, &after),
            rss_kib,
        })
    }
}

/// The `VmRSS:` of a `/proc/PID/status`, KiB.
fn vm_rss_kib(status: &str) -> Option<u64> {
    let rest = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim();
    rest.strip_suffix("kB")?.trim().parse().ok()
}

impl Idle {
    /// One line for the table: each process's idle CPU, then its memory, in the
    /// order of [`cpu::ROLES`].
    pub fn text(&self) -> String {
        let cpu: Vec<String> = cpu::ROLES
            .iter()
            .filter_map(|r| self.cpu.iter().find(|u| u.process == *r))
            .map(|u| format!("{} {:.1}", u.process, u.percent))
            .collect();
        let rss: Vec<String> = cpu::ROLES
            .iter()
            .filter_map(|r| Some((r, self.rss_kib.get(*r)?)))
            .map(|(r, kib)| format!("{r} {:.1}", *kib as f64 / 1024.0))
            .collect();
        format!(
            "idle, before the first trial ({:.1} s, every VIP on ws1, no load), % of a core: \
             {}; VmRSS, MiB: {}\n",
            self.seconds,
            cpu.join(", "),
            rss.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_rss_is_read_in_kib() {
        let status = "Name:\thopwatch\nVmPeak:\t  20000 kB\nVmRSS:\t   10340 kB\nThreads:\t2\n";
        assert_eq!(vm_rss_kib(status), Some(10_340));
        assert_eq!(vm_rss_kib("Name:\tkthreadd\n"), None);
        let me = std::fs::read_to_string("/proc/self/status").unwrap();
        assert!(vm_rss_kib(&me).is_some_and(|k| k > 0));
    }

    #[test]
    fn the_line_names_every_process_and_its_memory() {
        let idle = Idle {
            seconds: 5.0,
            cpu: vec![
                Usage {
                    process: "ws1".into(),
                    pid: 2,
                    percent: 0.5,
                },
                Usage {
                    process: "watcher".into(),
                    pid: 1,
                    percent: 2.31,
                },
            ],
            rss_kib: [("watcher".to_string(), 10_240)].into(),
        };
        assert_eq!(
            idle.text(),
            "idle, before the first trial (5.0 s, every VIP on ws1, no load), % of a core: \
             watcher 2.3, ws1 0.5; VmRSS, MiB: watcher 10.0\n"
        );
    }
}
