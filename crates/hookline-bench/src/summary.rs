//! Turns the samples of all runs into the report's figures, with their
//! labels and targets, and writes the method and durability notes.
//!
//! The targets are the issue's, for this 2-core machine on embedded SQLite:
//! ingest ≥ 20,000 events/s, delivery ≥ 50% of the baseline, fan-out no
//! slower per delivery, p99 ≤ 25 ms at 1,000 events/s, RSS ≤ 100 MiB under
//! load and ≤ 150 MiB with 1,000,000 deliveries pending.

use crate::api::WriterLoad;
use crate::cpu::CpuShare;
use crate::progress::note;
use crate::report::{CpuRow, Figure, Target, WriterRow};
use crate::scenarios::{mib, Backlog};
use crate::{Options, FANOUT_ENDPOINTS};

/// Samples of the per-run figures, one per run.
#[derive(Default)]
pub(crate) struct Samples {
    pub(crate) baseline: Vec<f64>,
    pub(crate) relay: Vec<f64>,
    pub(crate) ingest: Vec<f64>,
    pub(crate) delivery_1: Vec<f64>,
    pub(crate) delivery_10: Vec<f64>,
    pub(crate) drain: Vec<f64>,
    pub(crate) p50: Vec<f64>,
    pub(crate) p99: Vec<f64>,
    pub(crate) max: Vec<f64>,
    pub(crate) rate: Vec<f64>,
    pub(crate) peak_rss: Vec<f64>,
    /// CPU shares (and the SQLite writer's load, where measured) per
    /// phase, phases in the order first measured.
    cpu: Vec<(&'static str, Vec<CpuShare>, Vec<WriterLoad>)>,
}

impl Samples {
    /// Records (and prints) where a phase's CPU time went and how busy the
    /// server's SQLite writer was.
    pub(crate) fn cpu(&mut self, phase: &'static str, share: CpuShare, writer: Option<WriterLoad>) {
        note(format_args!(
            "  CPU during {phase}: server {:.0}%, benchmark {:.0}%, other processes {:.0}% of the machine",
            share.server, share.bench, share.other
        ));
        if let Some(w) = &writer {
            note(format_args!(
                "  SQLite writer during {phase}: busy {:.0}%, {:.0} commits/s, {:.1} writes per commit, WAL sync {:.2} ms; a write queued {:.2} ms, durable after {:.2} ms",
                w.busy, w.commits_per_s, w.writes_per_commit, w.sync_ms, w.queue_ms, w.durable_ms
            ));
        }
        let index = match self.cpu.iter().position(|(p, _, _)| *p == phase) {
            Some(index) => index,
            None => {
                self.cpu.push((phase, Vec::new(), Vec::new()));
                self.cpu.len() - 1
            }
        };
        let (_, shares, loads) = &mut self.cpu[index];
        shares.push(share);
        loads.extend(writer);
    }

    /// Median CPU shares of each phase over the runs.
    pub(crate) fn cpu_rows(&self) -> Vec<CpuRow> {
        let median = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        self.cpu
            .iter()
            .map(|(phase, shares, loads)| CpuRow {
                phase: phase.to_string(),
                server: median(shares.iter().map(|s| s.server).collect()),
                bench: median(shares.iter().map(|s| s.bench).collect()),
                other: median(shares.iter().map(|s| s.other).collect()),
                other_max: shares.iter().map(|s| s.other).fold(0.0, f64::max),
                writer: (!loads.is_empty()).then(|| WriterRow {
                    busy: median(loads.iter().map(|l| l.busy).collect()),
                    commits_per_s: median(loads.iter().map(|l| l.commits_per_s).collect()),
                    writes_per_commit: median(loads.iter().map(|l| l.writes_per_commit).collect()),
                    sync_ms: median(loads.iter().map(|l| l.sync_ms).collect()),
                    queue_ms: median(loads.iter().map(|l| l.queue_ms).collect()),
                    durable_ms: median(loads.iter().map(|l| l.durable_ms).collect()),
                }),
            })
            .collect()
    }

    /// The per-run figures, in table order.
    pub(crate) fn figures(self, options: &Options) -> Vec<Figure> {
        let c = options.sizes.concurrency;
        let rate = thousands(options.sizes.latency_rate as u64);
        let row = |key, label: String, unit, throughput, target, samples| Figure {
            key,
            label,
            unit,
            throughput,
            target,
            samples,
        };
        let per_s = "deliveries/s";
        vec![
            row(
                "baseline",
                format!("baseline: delivery client → receiver, 1 KiB POST, concurrency {c}"),
                "requests/s",
                true,
                Target::None,
                self.baseline,
            ),
            row(
                "relay",
                "relay ceiling: publish → relay → receiver, nothing stored".into(),
                per_s,
                true,
                Target::None,
                self.relay,
            ),
            row(
                "ingest",
                format!("ingest: POST …/events, 1 KiB, concurrency {c}, no endpoints"),
                "events/s",
                true,
                Target::AtLeast(20_000.0),
                self.ingest,
            ),
            row(
                "delivery_1",
                "delivery, 1 endpoint: first publish → last receipt".into(),
                per_s,
                true,
                Target::BaselineShare(0.5),
                self.delivery_1,
            ),
            row(
                "delivery_10",
                format!("delivery, {FANOUT_ENDPOINTS} endpoints (fan-out): same"),
                per_s,
                true,
                Target::NoSlowerThan("delivery_1"),
                self.delivery_10,
            ),
            row(
                "drain",
                "drain, 1 endpoint: backlog published first, then delivered".into(),
                per_s,
                true,
                Target::None,
                self.drain,
            ),
            row(
                "latency_p50",
                format!("latency p50, publish → receipt at {rate} events/s"),
                "ms",
                false,
                Target::None,
                self.p50,
            ),
            row(
                "latency_p99",
                format!("latency p99 at {rate} events/s"),
                "ms",
                false,
                Target::AtMost(25.0),
                self.p99,
            ),
            row(
                "latency_max",
                format!("latency max at {rate} events/s"),
                "ms",
                false,
                Target::None,
                self.max,
            ),
            row(
                "latency_rate",
                "latency phase: publish rate reached".into(),
                "events/s",
                false,
                Target::None,
                self.rate,
            ),
            row(
                "peak_rss",
                "server peak RSS under load (VmHWM)".into(),
                "MiB",
                false,
                Target::AtMost(100.0),
                self.peak_rss,
            ),
        ]
    }
}

/// The backlog figures (measured once) and the method line about them.
pub(crate) fn backlog_figures(
    n: usize,
    concurrency: usize,
    backlog: &Backlog,
) -> (Vec<Figure>, String) {
    let secs = backlog.publish_time.as_secs_f64();
    let n_text = thousands(n as u64);
    let one = Figure::once;
    let figures = vec![
        one(
            "backlog_rss",
            format!("server RSS with {n_text} deliveries pending (VmRSS)"),
            "MiB",
            Target::AtMost(150.0),
            mib(backlog.memory.rss),
        ),
        one(
            "backlog_peak_rss",
            "server peak RSS while they were published (VmHWM)".into(),
            "MiB",
            Target::None,
            mib(backlog.memory.peak_rss),
        ),
        one(
            "backlog_time",
            format!("time to publish the {n_text} (receiver down)"),
            "s",
            Target::None,
            secs,
        ),
        one(
            "backlog_rate",
            "publish rate while the backlog grew".into(),
            "events/s",
            Target::None,
            n as f64 / secs,
        ),
    ];
    let line = format!(
        "backlog (measured once, on its own fresh server and database): {n_text} events published at concurrency \
         {concurrency} to an account whose one endpoint is a closed port, retry schedule `24h`, so each delivery's \
         first attempt fails at once and the next is a day away; `/metrics` then showed {} pending deliveries",
        thousands(backlog.pending)
    );
    (figures, line)
}

/// How the figures were measured.
pub(crate) fn method(options: &Options) -> Vec<String> {
    let s = &options.sizes;
    vec![
        format!("{} run(s) of each per-run figure, each on a fresh server and database; min/median/max over runs; targets judged on the median", options.runs),
        format!("baseline: {} requests through `DeliveryClient` (Hookline's own reqwest client, settings and pool) straight to the receiver", thousands(s.baseline_requests as u64)),
        format!("relay: {} events published (same publisher and concurrency as delivery) to a relay in the benchmark process that answers `202` and forwards each body to the receiver through `DeliveryClient`, nothing stored, signed or logged; first publish → last receipt. Every end-to-end delivery needs a request in and a request out on the same cores, so this bounds the delivery figures; the baseline counts only the request out", thousands(s.delivery_events as u64)),
        format!("ingest: {} events; delivery: {} events to 1 endpoint, {} events to {FANOUT_ENDPOINTS} endpoints; publishers use an account API key over a keep-alive pool", thousands(s.ingest_events as u64), thousands(s.delivery_events as u64), thousands(s.fanout_events as u64)),
        format!("drain: {} events published to a node with `HOOKLINE_ROLE=api` (nothing delivered), then a full node on the same database delivers them; timed from the first receipt to the last — the delivery engine without concurrent ingest", thousands(s.delivery_events as u64)),
        format!("latency: open-loop publishing at {} events/s for {} s, from the start of each POST to the receiver's first receipt of that webhook-id", s.latency_rate, s.latency_seconds),
        "receiver: axum/hyper 1 in the benchmark process, reads each body and answers 204; the benchmark, receiver and server share the machine's cores".into(),
        "server: a child process (`hookline-bench serve`: `App::build` + `App::run`, as `hookline serve`), so RSS is the server's alone, from /proc/PID/status; worker concurrency 512, endpoint concurrency 32 (defaults); logging at `warn`".into(),
        format!("before each run the benchmark waits up to {} s for other processes to use under 10% of the CPU", options.quiet_wait.as_secs()),
    ]
}

/// The database and its durability settings.
pub(crate) async fn durability(postgres_url: Option<&str>) -> Vec<String> {
    let logged =
        "every attempt is logged; attempts are recorded in batches by the delivery recorder";
    let Some(url) = postgres_url else {
        return vec![
            "embedded SQLite, a fresh temporary database per run (temp dir on the local disk)".into(),
            "journal_mode=WAL, synchronous=FULL: the commit is fsync'd before each `202`".into(),
            "group commit: one writer thread runs every queued write in one transaction (up to 2,048 per commit)".into(),
            logged.into(),
        ];
    };
    let mut lines = vec![format!(
        "PostgreSQL at {}, a fresh database per run",
        url.rsplit('@').next().unwrap_or(url)
    )];
    match postgres_settings(url).await {
        Ok(settings) => lines.push(settings),
        Err(err) => lines.push(format!("(could not read the server's settings: {err})")),
    }
    lines.push(logged.into());
    lines.push("PostgreSQL's own processes count as \"other processes\" in the CPU table".into());
    lines
}

async fn postgres_settings(url: &str) -> anyhow::Result<String> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await?;
    let mut parts = Vec::new();
    for name in [
        "server_version",
        "fsync",
        "synchronous_commit",
        "wal_sync_method",
    ] {
        let value: String = sqlx::query_scalar(&format!("SHOW {name}"))
            .fetch_one(&mut conn)
            .await?;
        parts.push(format!("{name}={value}"));
    }
    Ok(parts.join(", "))
}

/// `1000000` as `1,000,000`.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let head = match digits.len() % 3 {
        0 => 3.min(digits.len()),
        short => short,
    };
    let mut out = digits[..head].to_string();
    for group in digits.as_bytes()[head..].chunks(3) {
        out.push(',');
        out.push_str(std::str::from_utf8(group).expect("digits are ASCII"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::thousands;

    #[test]
    fn thousands_are_separated() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }
}
