//! Prometheus metrics of the watcher, served at `/metrics` on the API address.
//! prometheus-client is the Prometheus project's own crate: typed label sets and
//! the text format without a global registry.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use hopwatch_daemon::api_serve::ConnMetrics;

/// A backend of a VIP.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BackendLabels {
    pub vip: String,
    pub backend: String,
}

/// A probe stream, by its check as the config writes it. VIPs whose backends name
/// the same check share one probe (and one series); two probes of one URL with
/// different settings add up in one series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProbeLabels {
    pub check: String,
}

/// A move of a VIP.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MoveLabels {
    pub vip: String,
    pub reason: String,
}

/// A VIP.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VipLabels {
    pub vip: String,
}

/// A BGP peer.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PeerLabels {
    pub peer: String,
}

fn latency_histogram() -> Histogram {
    // 50 µs to about 1.6 s, doubling.
    Histogram::new(exponential_buckets(0.000_05, 2.0, 16))
}

/// One probe stream's per-result metrics. The handles share their values with the
/// registered families (prometheus-client metrics are reference-counted), so a
/// report updates them without hashing the labels and locking the family.
pub struct ProbeMetrics {
    pub latency: Histogram,
    pub failed: Counter,
}

/// Every metric, and the registry that renders them.
pub struct Metrics {
    pub registry: Registry,
    pub backend_up: Family<BackendLabels, Gauge>,
    pub probe_latency: Family<ProbeLabels, Histogram, fn() -> Histogram>,
    pub probes_failed: Family<ProbeLabels, Counter>,
    pub moves: Family<MoveLabels, Counter>,
    pub session_established: Family<PeerLabels, Gauge>,
    pub detection_to_update: Family<VipLabels, Histogram, fn() -> Histogram>,
    /// Route servers sending a route for the VIP that is neither ours nor our pair's.
    pub foreign_vip_routes: Family<VipLabels, Gauge>,
    /// The control API's connections: open, the cap, refused, closed by a limit.
    pub api: ConnMetrics,
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("hopwatch");
        let backend_up = Family::<BackendLabels, Gauge>::default();
        registry.register(
            "backend_up",
            "1 healthy, 0 down, -1 no verdict yet",
            backend_up.clone(),
        );
        let probe_latency = Family::new_with_constructor(latency_histogram as fn() -> Histogram);
        registry.register(
            "probe_latency_seconds",
            "Health probe latency, per probe stream (one per distinct check)",
            probe_latency.clone(),
        );
        let probes_failed = Family::<ProbeLabels, Counter>::default();
        registry.register(
            "probes_failed",
            "Failed health probes, per probe stream (one per distinct check)",
            probes_failed.clone(),
        );
        let moves = Family::<MoveLabels, Counter>::default();
        registry.register("moves", "Next-hop moves of a VIP, by reason", moves.clone());
        let session_established = Family::<PeerLabels, Gauge>::default();
        registry.register(
            "session_established",
            "1 when the BGP session to the route server is Established",
            session_established.clone(),
        );
        let detection_to_update =
            Family::new_with_constructor(latency_histogram as fn() -> Histogram);
        registry.register(
            "detection_to_update_seconds",
            "From the health verdict that moved a VIP to its UPDATE written to the route servers",
            detection_to_update.clone(),
        );
        let foreign_vip_routes = Family::<VipLabels, Gauge>::default();
        registry.register(
            "foreign_vip_routes",
            "Route servers that send a route for the VIP that is neither this watcher's \
             nor its pair's (another origin AS, or a next hop that is none of the VIP's \
             backends): it takes part of the VIP's traffic",
            foreign_vip_routes.clone(),
        );
        let api = ConnMetrics::default();
        registry.register(
            "api_connections",
            "Connections open to the control API",
            api.open.clone(),
        );
        registry.register(
            "api_connections_limit",
            "Most connections the control API keeps open; more are refused",
            api.limit.clone(),
        );
        registry.register(
            "api_connections_refused",
            "Control API connections refused: reason=limit (the cap was reached) or \
             descriptors (accept failed: the process is out of file descriptors)",
            api.refused.clone(),
        );
        registry.register(
            "api_connections_closed_by_limit",
            "Control API connections closed by a limit: reason=header (no complete \
             request head within the header timeout) or age",
            api.closed.clone(),
        );
        Metrics {
            registry,
            backend_up,
            probe_latency,
            probes_failed,
            moves,
            session_established,
            detection_to_update,
            foreign_vip_routes,
            api,
        }
    }

    /// The per-result metric handles of a probe (created in the families now).
    pub fn probe(&self, labels: &ProbeLabels) -> ProbeMetrics {
        ProbeMetrics {
            latency: self.probe_latency.get_or_create(labels).clone(),
            failed: self.probes_failed.get_or_create(labels).clone(),
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
