//! The watcher's probe streams: one per distinct check target, whatever the number
//! of VIPs that name it (see `hopwatch_config::probes` for what makes two checks the
//! same), and the VIPs' backends that take each one's verdicts.
//!
//! A probe's report reaches the loop once; its bookkeeping (last result, metrics)
//! is done once, and only a change of verdict is handed to every VIP that uses it.
//! So the watcher's cost at rest follows the number of probe streams, not of VIPs.
//!
//! Each probe's checker reports under an id of its own. Ids are never reused: a
//! report from a checker that a reload stopped finds nothing.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use hopwatch_health::{CheckSpec, Health, Report};
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;

use crate::metrics::{Metrics, ProbeLabels, ProbeMetrics};
use crate::vip::VipRt;

/// The last result of a probe, for the API.
#[derive(Debug, Clone)]
pub struct LastProbe {
    pub ok: bool,
    pub latency: Duration,
    pub error: Option<String>,
    pub at: Instant,
}

/// A backend of a VIP: the VIP's index in the watcher and the backend's in the VIP.
pub type User = (usize, usize);

/// One probe stream.
pub struct Probe {
    /// What it checks and how.
    pub spec: CheckSpec,
    /// The backends that take its verdicts, in VIP order.
    pub users: Vec<User>,
    /// Its last result.
    pub last: Option<LastProbe>,
    /// Its verdict after the last result.
    pub verdict: Health,
    /// Its per-result metrics.
    pub metrics: ProbeMetrics,
    checker: JoinHandle<()>,
}

impl Drop for Probe {
    fn drop(&mut self) {
        self.checker.abort();
    }
}

impl Probe {
    /// Takes a result: the last result and the verdict, and the metrics.
    pub fn record(&mut self, r: &Report) {
        self.last = Some(LastProbe {
            ok: r.ok,
            latency: r.latency,
            error: r.error.clone(),
            at: r.at,
        });
        self.verdict = r.state;
        self.metrics.latency.observe(r.latency.as_secs_f64());
        if !r.ok {
            self.metrics.failed.inc();
        }
    }
}

/// Every probe stream of the watcher, by report id.
pub struct Probes {
    by_id: HashMap<usize, Probe>,
    next_id: usize,
    tx: UnboundedSender<Report>,
}

impl Probes {
    /// No probes yet; the ones started later report on `tx`.
    pub fn new(tx: UnboundedSender<Report>) -> Self {
        Probes {
            by_id: HashMap::new(),
            next_id: 0,
            tx,
        }
    }

    /// The id of the probe of `spec`: the running one with the same spec, which
    /// keeps its verdict, or one started now.
    pub fn acquire(&mut self, spec: CheckSpec, check: &str, metrics: &Metrics) -> usize {
        // Specs are not `Hash` (a float); a scan of the distinct probes is short.
        if let Some((&id, _)) = self.by_id.iter().find(|(_, p)| p.spec == spec) {
            return id;
        }
        let id = self.next_id;
        self.next_id += 1;
        let labels = ProbeLabels {
            check: check.to_string(),
        };
        let checker = hopwatch_health::spawn_checker(id, spec.clone(), self.tx.clone());
        self.by_id.insert(
            id,
            Probe {
                spec,
                users: Vec::new(),
                last: None,
                verdict: Health::Unknown,
                metrics: metrics.probe(&labels),
                checker,
            },
        );
        id
    }

    /// Derives every probe's users from the VIPs as they now are, and stops the
    /// probes that no backend names any more.
    pub fn assign(&mut self, vips: &[VipRt]) {
        for p in self.by_id.values_mut() {
            p.users.clear();
        }
        for (v, vip) in vips.iter().enumerate() {
            for (b, be) in vip.backends.iter().enumerate() {
                if let Some(p) = self.by_id.get_mut(&be.probe) {
                    p.users.push((v, b));
                }
            }
        }
        self.by_id.retain(|_, p| !p.users.is_empty());
    }

    /// The probe that reports under `id`.
    pub fn get(&self, id: usize) -> Option<&Probe> {
        self.by_id.get(&id)
    }

    /// The probe that reports under `id`, to record a result.
    pub fn get_mut(&mut self, id: usize) -> Option<&mut Probe> {
        self.by_id.get_mut(&id)
    }

    /// How many probe streams run.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }
}
