//! Hookline's benchmark: how fast and how lean delivery is, measured against
//! the ceiling of the machine it runs on.
//!
//! [`run`] starts a local receiver, then for each run a fresh database and a
//! Hookline server as a child process (see `server`), measures the baseline,
//! the relay ceiling (see `relay`), ingest, delivery, fan-out, latency and the delivery engine alone (drain;
//! see `scenarios`), and finally, once, memory with a large backlog of
//! pending deliveries. It answers a
//! [`Report`] whose Markdown table the binary prints. The crate is a library
//! only so the smoke test can run the same code with tiny counts; like a
//! binary it reports errors with `anyhow`.

mod api;
mod cpu;
mod floor;
mod noisy;
mod progress;
mod queries;
mod receiver;
mod relay;
mod report;
mod scenarios;
mod server;
mod sizing;
mod summary;

use std::path::PathBuf;
use std::time::Duration;

pub use noisy::{markdown as noisy_markdown, noisy_neighbour, QuietLatency, QUIET_RATE};
pub use queries::dashboard_queries;
pub use report::{CpuRow, Figure, Report, Target, WriterRow};
pub use server::serve;
pub use sizing::StatementCount;

use api::{Api, WriterTotals};
use cpu::CpuWatch;
use progress::note;
use receiver::Receiver;
use scenarios::mib;
use server::{Database, Server, ServerOptions};
use summary::Samples;

/// How much work each phase does.
#[derive(Debug, Clone)]
pub struct Sizes {
    /// Requests of the baseline.
    pub baseline_requests: usize,
    /// Events of the ingest phase.
    pub ingest_events: usize,
    /// Events published to the one-endpoint account.
    pub delivery_events: usize,
    /// Events published to the ten-endpoint account.
    pub fanout_events: usize,
    /// Publish rate of the latency phase (events/s).
    pub latency_rate: f64,
    /// Length of the latency phase.
    pub latency_seconds: f64,
    /// Concurrent requests of the baseline, ingest and delivery publishers.
    pub concurrency: usize,
}

/// Endpoints of the fan-out account.
pub const FANOUT_ENDPOINTS: u16 = 10;

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// An executable whose `serve` subcommand runs a Hookline node (this
    /// benchmark's own binary).
    pub server_exe: PathBuf,
    /// PostgreSQL server to use instead of SQLite; a fresh database is
    /// created on it for each run and dropped afterwards.
    pub database_url: Option<String>,
    /// How many times each figure is measured.
    pub runs: usize,
    pub sizes: Sizes,
    /// Deliveries to leave pending for the backlog memory figure (0: skip).
    pub pending: usize,
    /// Before each run, wait up to this long for other processes to leave
    /// the CPU (a shared machine skews every figure).
    pub quiet_wait: Duration,
}

impl Options {
    /// The full benchmark: the counts behind `docs/benchmarks.md`.
    pub fn full(server_exe: PathBuf) -> Options {
        Options {
            server_exe,
            database_url: None,
            runs: 3,
            sizes: Sizes {
                baseline_requests: 50_000,
                ingest_events: 20_000,
                delivery_events: 20_000,
                fanout_events: 2_000,
                latency_rate: 1_000.0,
                latency_seconds: 10.0,
                concurrency: 32,
            },
            pending: 1_000_000,
            quiet_wait: Duration::from_secs(120),
        }
    }

    /// Tiny counts that finish in seconds (the smoke test's).
    pub fn quick(server_exe: PathBuf) -> Options {
        Options {
            runs: 1,
            sizes: Sizes {
                baseline_requests: 200,
                ingest_events: 100,
                delivery_events: 100,
                fanout_events: 10,
                latency_rate: 200.0,
                latency_seconds: 0.5,
                concurrency: 32,
            },
            pending: 200,
            quiet_wait: Duration::ZERO,
            ..Options::full(server_exe)
        }
    }
}

/// Runs the benchmark and answers its report.
pub async fn run(options: &Options) -> anyhow::Result<Report> {
    anyhow::ensure!(options.runs > 0, "--runs must be at least 1");
    let receiver = Receiver::start().await?;
    let mut samples = Samples::default();
    for run in 1..=options.runs {
        note(format_args!("run {run} of {}", options.runs));
        if !options.quiet_wait.is_zero() {
            cpu::wait_until_quiet(10.0, options.quiet_wait).await;
        }
        let database = Database::create(options.database_url.as_deref()).await?;
        let measured = measure_run(options, &receiver, &database, &mut samples).await;
        database.remove().await?;
        measured?;
    }
    let mut method = summary::method(options);
    let mut backlog_figures = Vec::new();
    if options.pending > 0 {
        let (figures, line) = measure_backlog(options, &mut samples).await?;
        backlog_figures = figures;
        method.push(line);
    }
    let mut sizing_figures = Vec::new();
    if let Some(url) = options.database_url.as_deref() {
        let (figures, line) = sizing::measure(options, &receiver, url).await?;
        sizing_figures = figures;
        method.push(line);
        let (figures, line) = floor::measure(options, url).await?;
        sizing_figures.extend(figures);
        method.push(line);
    }
    let cpu = samples.cpu_rows();
    let mut figures = samples.figures(options);
    figures.extend(backlog_figures);
    figures.extend(sizing_figures);
    Ok(Report {
        figures,
        machine: report::machine_facts(),
        durability: summary::durability(options.database_url.as_deref()).await,
        method,
        cpu,
    })
}

/// The per-run figures on one fresh database: a server for the baseline,
/// ingest, delivery and latency phases, then two for the drain.
async fn measure_run(
    options: &Options,
    receiver: &Receiver,
    database: &Database,
    samples: &mut Samples,
) -> anyhow::Result<()> {
    let server_options = ServerOptions {
        exe: &options.server_exe,
        database_url: database.url(),
        retry_schedule: "1s,5s,30s",
        role: "all",
        statements_file: None,
    };
    let server = Server::start(server_options.clone()).await?;
    note(format_args!(
        "  server pid {} at {}",
        server.pid(),
        server.base_url
    ));
    let measured = measure_phases(options, receiver, &server, samples).await;
    server.stop().await?;
    measured?;
    note("  drain");
    let sizes = &options.sizes;
    let (drain, share, writer) = scenarios::drain(
        server_options,
        receiver,
        sizes.delivery_events,
        sizes.concurrency,
    )
    .await?;
    note(format_args!("  drain: {drain:.0} deliveries/s"));
    samples.cpu("drain, 1 endpoint", share, writer);
    samples.drain.push(drain);
    Ok(())
}

async fn measure_phases(
    options: &Options,
    receiver: &Receiver,
    server: &Server,
    samples: &mut Samples,
) -> anyhow::Result<()> {
    let sizes = &options.sizes;
    let api = Api::new(&server.base_url);
    let pid = server.pid();
    note("  baseline");
    let watch = CpuWatch::start(pid);
    let baseline =
        scenarios::baseline(receiver, sizes.baseline_requests, sizes.concurrency).await?;
    note(format_args!("  baseline: {baseline:.0} requests/s"));
    samples.cpu("baseline", watch.share(), None);
    samples.baseline.push(baseline);
    note("  relay");
    let watch = CpuWatch::start(pid);
    let relay = scenarios::relay(receiver, sizes.delivery_events, sizes.concurrency).await?;
    note(format_args!("  relay: {relay:.0} deliveries/s"));
    samples.cpu("relay (ceiling)", watch.share(), None);
    samples.relay.push(relay);
    note("  ingest");
    let watch = PhaseWatch::start(&api, pid).await?;
    let ingest = scenarios::ingest(&api, sizes.ingest_events, sizes.concurrency).await?;
    note(format_args!("  ingest: {ingest:.0} events/s"));
    watch.finish(samples, "ingest").await?;
    samples.ingest.push(ingest);
    for (endpoints, events, phase) in [
        (1, sizes.delivery_events, "delivery, 1 endpoint"),
        (
            FANOUT_ENDPOINTS,
            sizes.fanout_events,
            "delivery, 10 endpoints",
        ),
    ] {
        note(format_args!("  {phase}"));
        let watch = PhaseWatch::start(&api, pid).await?;
        let rate =
            scenarios::delivery(&api, receiver, endpoints, events, sizes.concurrency).await?;
        note(format_args!("  {phase}: {rate:.0} deliveries/s"));
        watch.finish(samples, phase).await?;
        match endpoints {
            1 => samples.delivery_1.push(rate),
            _ => samples.delivery_10.push(rate),
        }
    }
    note("  latency");
    let watch = PhaseWatch::start(&api, pid).await?;
    let latency =
        scenarios::latency(&api, receiver, sizes.latency_rate, sizes.latency_seconds).await?;
    note(format_args!(
        "  latency: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms at {:.0} events/s",
        latency.p50_ms, latency.p99_ms, latency.max_ms, latency.rate
    ));
    watch.finish(samples, "latency").await?;
    samples.p50.push(latency.p50_ms);
    samples.p99.push(latency.p99_ms);
    samples.max.push(latency.max_ms);
    samples.rate.push(latency.rate);
    let memory = server.memory()?;
    note(format_args!(
        "  server peak RSS {:.1} MiB",
        mib(memory.peak_rss)
    ));
    samples.peak_rss.push(mib(memory.peak_rss));
    Ok(())
}

/// Watches one phase of a running server: who used the CPU and, on
/// SQLite, how busy its writer was.
struct PhaseWatch<'a> {
    api: &'a Api,
    cpu: CpuWatch,
    writer: Option<WriterTotals>,
}

impl<'a> PhaseWatch<'a> {
    async fn start(api: &'a Api, pid: u32) -> anyhow::Result<PhaseWatch<'a>> {
        let writer = api.writer_totals().await?;
        Ok(PhaseWatch {
            api,
            cpu: CpuWatch::start(pid),
            writer,
        })
    }

    /// Records the phase's CPU shares and writer load in `samples`.
    async fn finish(self, samples: &mut Samples, phase: &'static str) -> anyhow::Result<()> {
        let share = self.cpu.share();
        let load = match (self.writer, self.api.writer_totals().await?) {
            (Some(before), Some(after)) => Some(after.since(&before)),
            _ => None,
        };
        samples.cpu(phase, share, load);
        Ok(())
    }
}

/// Publishes `options.pending` events to a dead endpoint on a fresh server
/// and answers the backlog figures and a line for the method section.
async fn measure_backlog(
    options: &Options,
    samples: &mut Samples,
) -> anyhow::Result<(Vec<Figure>, String)> {
    let n = options.pending;
    note(format_args!(
        "backlog: {n} deliveries to a receiver that is down"
    ));
    if !options.quiet_wait.is_zero() {
        cpu::wait_until_quiet(10.0, options.quiet_wait).await;
    }
    let database = Database::create(options.database_url.as_deref()).await?;
    // The first attempt fails at once (connection refused); the next is a
    // day away, so every delivery stays pending.
    let server = Server::start(ServerOptions {
        exe: &options.server_exe,
        database_url: database.url(),
        retry_schedule: "24h",
        role: "all",
        statements_file: None,
    })
    .await?;
    note(format_args!(
        "  server pid {} at {}",
        server.pid(),
        server.base_url
    ));
    let api = Api::new(&server.base_url);
    let watch = PhaseWatch::start(&api, server.pid()).await?;
    let measured = scenarios::backlog(&api, &server, n, options.sizes.concurrency).await;
    watch.finish(samples, "backlog").await?;
    server.stop().await?;
    database.remove().await?;
    let backlog = measured?;
    note(format_args!(
        "  backlog: {} pending, RSS {:.1} MiB (peak {:.1} MiB), published in {:.0} s",
        backlog.pending,
        mib(backlog.memory.rss),
        mib(backlog.memory.peak_rss),
        backlog.publish_time.as_secs_f64()
    ));
    Ok(summary::backlog_figures(
        n,
        options.sizes.concurrency,
        &backlog,
    ))
}
