//! What a delivery costs the PostgreSQL server, for sizing one: SQL
//! statements (counted in the node as sqlx reports each one), transactions
//! committed (`pg_stat_database` of the run's database) and WAL written
//! (`pg_current_wal_lsn`, which is the whole server's: anything else
//! writing on it during the phase is counted too, so the idle rate just
//! before is measured and reported beside it). Measured once, on its own
//! fresh server and database, with one endpoint.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use sqlx::Connection;
use tracing_subscriber::layer::Context as LayerContext;
use tracing_subscriber::Layer;

use crate::api::Api;
use crate::progress::note;
use crate::receiver::Receiver;
use crate::report::{Figure, Target};
use crate::scenarios;
use crate::server::{Database, Server, ServerOptions};
use crate::summary::thousands;
use crate::Options;

/// The variable naming the file where `hookline-bench serve` writes how
/// many SQL statements it ran after start-up.
pub(crate) const STATEMENTS_FILE_VAR: &str = "HOOKLINE_BENCH_STATEMENTS_FILE";

/// SQL statements run by this process, counted from the `sqlx::query`
/// events sqlx emits for each (at `debug`; only this layer sees them).
#[derive(Debug, Clone, Default)]
pub struct StatementCount(Arc<AtomicU64>);

impl StatementCount {
    /// The counting layer, when `serve` was asked to count.
    pub fn requested() -> Option<StatementCount> {
        std::env::var_os(STATEMENTS_FILE_VAR).map(|_| StatementCount::default())
    }

    /// A layer that counts `sqlx::query` events and sees nothing else.
    pub fn layer<S>(&self) -> impl Layer<S>
    where
        S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
    {
        let only_queries = tracing_subscriber::filter::Targets::new()
            .with_target("sqlx::query", tracing::Level::DEBUG);
        Counter(self.0.clone()).with_filter(only_queries)
    }

    /// Starts counting afresh (after start-up and migrations).
    pub(crate) fn reset(&self) {
        self.0.store(0, Ordering::Relaxed);
    }

    /// Writes the count to the file named by [`STATEMENTS_FILE_VAR`].
    pub(crate) fn save(&self) -> anyhow::Result<()> {
        if let Some(path) = std::env::var_os(STATEMENTS_FILE_VAR) {
            std::fs::write(&path, self.0.load(Ordering::Relaxed).to_string())
                .with_context(|| format!("writing {}", PathBuf::from(&path).display()))?;
        }
        Ok(())
    }
}

struct Counter(Arc<AtomicU64>);

impl<S: tracing::Subscriber> Layer<S> for Counter {
    fn on_event(&self, _: &tracing::Event<'_>, _: LayerContext<'_, S>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// The whole server's WAL position, in bytes.
async fn wal_position(admin_url: &str) -> anyhow::Result<i64> {
    let mut conn = sqlx::PgConnection::connect(admin_url).await?;
    Ok(
        sqlx::query_scalar("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint")
            .fetch_one(&mut conn)
            .await?,
    )
}

/// Transactions committed or rolled back in database `name`.
async fn transactions(admin_url: &str, name: &str) -> anyhow::Result<i64> {
    let mut conn = sqlx::PgConnection::connect(admin_url).await?;
    Ok(sqlx::query_scalar(
        "SELECT (xact_commit + xact_rollback)::bigint FROM pg_stat_database WHERE datname = $1",
    )
    .bind(name)
    .fetch_one(&mut conn)
    .await?)
}

/// Delivers `options.sizes.delivery_events` events to one endpoint on a
/// fresh PostgreSQL database and answers the per-delivery costs and a
/// method line.
pub(crate) async fn measure(
    options: &Options,
    receiver: &Receiver,
    admin_url: &str,
) -> anyhow::Result<(Vec<Figure>, String)> {
    let n = options.sizes.delivery_events;
    note(format_args!("sizing: {n} deliveries to 1 endpoint"));
    let database = Database::create(Some(admin_url)).await?;
    let Database::Postgres { name, .. } = &database else {
        anyhow::bail!("sizing needs PostgreSQL");
    };
    let name = name.clone();
    let dir = tempfile::tempdir()?;
    let statements_file = dir.path().join("statements");
    let measured = measure_on(
        options,
        receiver,
        admin_url,
        &database,
        &name,
        &statements_file,
    )
    .await;
    database.remove().await?;
    let (statements, commits, wal, idle_wal_per_s, secs) = measured?;
    let per = |v: f64| v / n as f64;
    let one = |key, label: &str, unit, value| Figure::once(key, label, unit, Target::None, value);
    let figures = vec![
        one(
            "pg_statements",
            "PostgreSQL statements per delivery",
            "statements",
            per(statements),
        ),
        one(
            "pg_commits",
            "PostgreSQL transactions per delivery",
            "commits",
            per(commits),
        ),
        one(
            "pg_wal",
            "PostgreSQL WAL per delivery (whole server)",
            "bytes",
            per(wal),
        ),
    ];
    note(format_args!(
        "  sizing: {:.2} statements, {:.3} commits, {:.0} WAL bytes per delivery",
        per(statements),
        per(commits),
        per(wal)
    ));
    let line = format!(
        "sizing (measured once, PostgreSQL only, on its own fresh server and database): {} events to 1 endpoint \
         delivered in {secs:.1} s; statements counted in the node from sqlx's per-statement events after start-up, \
         transactions from `pg_stat_database` (read-only ones included, start-up and set-up too: a few dozen), WAL \
         from `pg_current_wal_lsn()`, which counts every writer on the server — the idle rate measured just before \
         was {:.0} bytes/s ({:.0} bytes per delivery over the phase, not subtracted)",
        thousands(n as u64),
        idle_wal_per_s,
        idle_wal_per_s * secs / n as f64
    );
    Ok((figures, line))
}

/// Answers (statements, transactions, WAL bytes, idle WAL bytes/s, seconds).
async fn measure_on(
    options: &Options,
    receiver: &Receiver,
    admin_url: &str,
    database: &Database,
    name: &str,
    statements_file: &Path,
) -> anyhow::Result<(f64, f64, f64, f64, f64)> {
    let transactions_before = transactions(admin_url, name).await?;
    let server = Server::start(ServerOptions {
        exe: &options.server_exe,
        database_url: database.url(),
        retry_schedule: "1s,5s,30s",
        role: "all",
        statements_file: Some(statements_file),
    })
    .await?;
    let api = Api::new(&server.base_url);
    let idle = Duration::from_secs(2);
    let idle_start = wal_position(admin_url).await?;
    tokio::time::sleep(idle).await;
    let wal_before = wal_position(admin_url).await?;
    let idle_rate = (wal_before - idle_start) as f64 / idle.as_secs_f64();
    let started = Instant::now();
    let delivered = scenarios::delivery(
        &api,
        receiver,
        1,
        options.sizes.delivery_events,
        options.sizes.concurrency,
    )
    .await;
    let secs = started.elapsed().as_secs_f64();
    let wal_after = wal_position(admin_url).await?;
    // Closing its connections makes each backend report its statistics.
    server.stop().await?;
    delivered?;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let transactions_after = transactions(admin_url, name).await?;
    let statements: f64 = std::fs::read_to_string(statements_file)
        .context("the server wrote its statement count")?
        .trim()
        .parse()?;
    Ok((
        statements,
        (transactions_after - transactions_before) as f64,
        (wal_after - wal_before) as f64,
        idle_rate,
        secs,
    ))
}
