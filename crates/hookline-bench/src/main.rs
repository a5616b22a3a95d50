//! `hookline-bench`: runs the benchmark and prints its Markdown report on
//! stdout (progress goes to stderr). `hookline-bench serve` is the server
//! under test, which the benchmark starts as its own child process.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use hookline_bench::Options;

/// Measure Hookline's ingest, delivery throughput, latency and memory
/// against a baseline of plain HTTP requests on this machine.
#[derive(Parser)]
#[command(name = "hookline-bench", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,

    /// Use this PostgreSQL server instead of embedded SQLite (a fresh
    /// database is created for each run and dropped afterwards).
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,

    /// How many times each figure is measured [default: 3; 1 with --quick].
    #[arg(long, value_name = "N")]
    runs: Option<usize>,

    /// Tiny counts that finish in seconds (what the smoke test runs).
    #[arg(long)]
    quick: bool,

    /// Deliveries to leave pending for the backlog memory figure; 0 skips it
    /// [default: 1000000; 200 with --quick].
    #[arg(long, value_name = "N")]
    pending: Option<usize>,

    /// Events of the one-endpoint delivery phase (and of ingest).
    #[arg(long, value_name = "N")]
    events: Option<usize>,

    /// Seconds of the latency phase.
    #[arg(long, value_name = "SECONDS")]
    latency_seconds: Option<f64>,

    /// Before each run, wait up to this long for other processes to leave
    /// the CPU [default: 120; 0 with --quick].
    #[arg(long, value_name = "SECONDS")]
    quiet_wait: Option<u64>,
}

#[derive(Subcommand)]
enum Command {
    /// Time the events list and search with a large account (seeds
    /// `--events` events, default 1000000) and print a Markdown table.
    DashboardQueries {
        /// Requests per query.
        #[arg(long, default_value_t = 50)]
        samples: usize,
    },
    /// The noisy-neighbour scenario: a quiet account at 50 events/s alone,
    /// then while a noisy account floods; prints the quiet account's
    /// publish-to-receipt p50/p99 on SQLite and, with --database-url, on
    /// PostgreSQL as a Markdown table.
    NoisyNeighbour {
        /// Seconds the quiet account publishes in each case.
        #[arg(long, default_value_t = 20.0)]
        seconds: f64,
    },
    /// Run a Hookline node configured by HOOKLINE_* variables (internal:
    /// the benchmark's server under test).
    #[command(hide = true)]
    Serve(Box<hookline_server::ServeArgs>),
}

/// The allocator `hookline` itself uses, so the measured server matches it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime starts");
    let result = match cli.command {
        Some(Command::Serve(args)) => {
            let statements = init_server_logging();
            runtime.block_on(hookline_bench::serve(*args, statements))
        }
        Some(Command::DashboardQueries { samples }) => runtime.block_on(async {
            let events = cli.events.unwrap_or(1_000_000);
            let table =
                hookline_bench::dashboard_queries(cli.database_url.as_deref(), events, samples)
                    .await?;
            println!("{table}");
            Ok(())
        }),
        Some(Command::NoisyNeighbour { seconds }) => runtime.block_on(async {
            let exe = std::env::current_exe()?;
            let mut rows = Vec::new();
            let (alone, flood) = hookline_bench::noisy_neighbour(&exe, None, seconds).await?;
            rows.push(("SQLite", alone, flood));
            if let Some(url) = cli.database_url.as_deref() {
                let (alone, flood) =
                    hookline_bench::noisy_neighbour(&exe, Some(url), seconds).await?;
                rows.push(("PostgreSQL", alone, flood));
            }
            println!("{}", hookline_bench::noisy_markdown(&rows));
            Ok(())
        }),
        None => runtime.block_on(bench(cli)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn bench(cli: Cli) -> anyhow::Result<()> {
    let exe = std::env::current_exe()?;
    let mut options = if cli.quick {
        Options::quick(exe)
    } else {
        Options::full(exe)
    };
    options.database_url = cli.database_url;
    options.runs = cli.runs.unwrap_or(options.runs);
    options.pending = cli.pending.unwrap_or(options.pending);
    if let Some(events) = cli.events {
        options.sizes.delivery_events = events;
        options.sizes.ingest_events = events;
        options.sizes.fanout_events = (events / 10).max(1);
    }
    if let Some(seconds) = cli.quiet_wait {
        options.quiet_wait = std::time::Duration::from_secs(seconds);
    }
    if let Some(seconds) = cli.latency_seconds {
        options.sizes.latency_seconds = seconds;
    }
    let report = hookline_bench::run(&options).await?;
    println!("{}", report.markdown());
    Ok(())
}

/// The server logs warnings only, so its output does not cost the figures
/// it is measured by; `RUST_LOG` overrides. When the benchmark asks (the
/// sizing phase), a second layer counts SQL statements.
fn init_server_logging() -> Option<hookline_bench::StatementCount> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;

    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let statements = hookline_bench::StatementCount::requested();
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_filter(filter),
        )
        .with(statements.as_ref().map(|count| count.layer()))
        .init();
    statements
}
