//! Prometheus metrics of a node: what was published, how attempts ended,
//! how long they took, and how big the backlog is.
//!
//! Counters and the histogram are updated in place; backlog gauges are read
//! from the store when `/metrics` is scraped, so they are right for the fleet.
//! On SQLite the single writer's counters (commits, writes per commit, busy
//! time) are read at scrape time too: a writer busy near 100 % is the node's
//! ceiling.

use std::sync::atomic::AtomicU64;
use std::sync::Mutex;

use hookline_store::WriterStats;
use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Label of an attempt outcome (`succeeded`, `http_error`, `timeout`, …).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct OutcomeLabel {
    pub(crate) outcome: &'static str,
}

/// Label of one endpoint's series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct EndpointLabel {
    pub(crate) account_id: String,
    pub(crate) endpoint_id: String,
}

/// The node's metrics.
pub(crate) struct Metrics {
    registry: Registry,
    /// Events accepted by the API.
    pub(crate) events_published: Counter,
    /// Attempts by outcome.
    pub(crate) attempts: Family<OutcomeLabel, Counter>,
    /// Deliveries that reached a final state, by outcome (`succeeded`, `failed`).
    pub(crate) deliveries: Family<OutcomeLabel, Counter>,
    /// Seconds per attempt.
    pub(crate) attempt_duration: Histogram,
    /// Attempts in flight on this node.
    pub(crate) in_flight: Gauge,
    /// Attempts finished under a lease this node had lost (not recorded).
    pub(crate) stale_attempts: Counter,
    /// Each endpoint's current adaptive concurrency limit on this node.
    pub(crate) endpoint_concurrency_limit: Family<EndpointLabel, Gauge>,
    pending: Gauge,
    oldest_pending_age: Gauge,
    /// The SQLite writer's counters, shown only on a store that has one.
    writer: WriterMetrics,
}

/// Counters mirrored from the store's [`WriterStats`] at each scrape.
struct WriterMetrics {
    registry: Registry,
    commits: Counter,
    writes: Counter,
    busy: Counter<f64, AtomicU64>,
    syncs: Counter,
    sync: Counter<f64, AtomicU64>,
    queue: Counter<f64, AtomicU64>,
    durable: Counter<f64, AtomicU64>,
    /// Scrapes mirror one at a time, so each adds only what is new.
    mirror: Mutex<()>,
}

impl WriterMetrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("hookline_sqlite_writer");
        let mut count = |name: &str, help: &str| {
            let counter = Counter::default();
            registry.register(name, help, counter.clone());
            counter
        };
        let commits = count(
            "commits",
            "Transactions committed by the SQLite writer thread",
        );
        let writes = count(
            "writes",
            "Write jobs (publishes, claims, attempt batches, …) in those commits",
        );
        let syncs = count(
            "syncs",
            "WAL syncs that made the writer's commits durable (each covers every commit before it)",
        );
        let mut time = |name: &str, help: &str| {
            let counter = Counter::<f64, AtomicU64>::default();
            registry.register(name, help, counter.clone());
            counter
        };
        let busy = time(
            "busy_seconds",
            "Time the SQLite writer thread spent running and committing batches",
        );
        let sync = time(
            "sync_seconds",
            "Time spent in those syncs (off the writer thread)",
        );
        let queue = time(
            "queue_seconds",
            "Time committed writes waited for the writer before their batch began, summed (divide by writes for the average)",
        );
        let durable = time(
            "durable_seconds",
            "Time committed writes took from queued to answered after their WAL sync, summed (divide by writes: what a publish waits before its 202)",
        );
        WriterMetrics {
            registry,
            commits,
            writes,
            busy,
            syncs,
            sync,
            queue,
            durable,
            mirror: Mutex::new(()),
        }
    }

    /// Brings the counters up to the store's totals.
    fn mirror(&self, stats: WriterStats) {
        let _one_at_a_time = self.mirror.lock().expect("never poisoned");
        let count = |counter: &Counter, total: u64| {
            counter.inc_by(total.saturating_sub(counter.get()));
        };
        count(&self.commits, stats.commits);
        count(&self.writes, stats.writes);
        count(&self.syncs, stats.syncs);
        let time = |counter: &Counter<f64, AtomicU64>, total: f64| {
            counter.inc_by((total - counter.get()).max(0.0));
        };
        time(&self.busy, stats.busy_seconds);
        time(&self.sync, stats.sync_seconds);
        time(&self.queue, stats.queue_seconds);
        time(&self.durable, stats.durable_seconds);
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("hookline");
        let events_published = Counter::default();
        registry.register(
            "events_published",
            "Events accepted by the API",
            events_published.clone(),
        );
        let attempts = Family::<OutcomeLabel, Counter>::default();
        registry.register(
            "delivery_attempts",
            "Delivery attempts by outcome",
            attempts.clone(),
        );
        let deliveries = Family::<OutcomeLabel, Counter>::default();
        registry.register(
            "deliveries_finished",
            "Deliveries that succeeded or failed for good",
            deliveries.clone(),
        );
        let attempt_duration = Histogram::new([
            0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
        ]);
        registry.register(
            "attempt_duration_seconds",
            "Duration of delivery attempts",
            attempt_duration.clone(),
        );
        let in_flight = Gauge::default();
        registry.register(
            "attempts_in_flight",
            "Attempts in flight on this node",
            in_flight.clone(),
        );
        let stale_attempts = Counter::default();
        registry.register(
            "stale_attempts",
            "Attempts that finished after this node had lost their lease (declared dead while paused or cut off); not recorded",
            stale_attempts.clone(),
        );
        let endpoint_concurrency_limit = Family::<EndpointLabel, Gauge>::default();
        registry.register(
            "endpoint_concurrency_limit",
            "Requests this node may have in flight to the endpoint now (adaptive, 1 to HOOKLINE_ENDPOINT_CONCURRENCY)",
            endpoint_concurrency_limit.clone(),
        );
        let pending = Gauge::default();
        registry.register(
            "pending_deliveries",
            "Deliveries waiting for a successful attempt",
            pending.clone(),
        );
        let oldest_pending_age = Gauge::default();
        registry.register(
            "oldest_pending_delivery_age_seconds",
            "Age of the oldest pending delivery",
            oldest_pending_age.clone(),
        );
        Metrics {
            registry,
            events_published,
            attempts,
            deliveries,
            attempt_duration,
            in_flight,
            stale_attempts,
            endpoint_concurrency_limit,
            pending,
            oldest_pending_age,
            writer: WriterMetrics::new(),
        }
    }
}

impl Metrics {
    /// Prometheus text with the backlog figures and writer counters just
    /// read from the store.
    pub(crate) fn render(
        &self,
        pending: u64,
        oldest_age_secs: i64,
        writer: Option<WriterStats>,
    ) -> String {
        self.pending.set(pending as i64);
        self.oldest_pending_age.set(oldest_age_secs);
        let mut out = String::new();
        encode_registry(&mut out, &self.registry).expect("writing to a String cannot fail");
        if let Some(stats) = writer {
            self.writer.mirror(stats);
            encode_registry(&mut out, &self.writer.registry)
                .expect("writing to a String cannot fail");
        }
        encode_eof(&mut out).expect("writing to a String cannot fail");
        out
    }
}
