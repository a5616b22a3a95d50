//! PostgreSQL's own commit latency: the floor under the latency figure.
//! A publish is answered after one durable commit, so its publish-to-receipt
//! time can be no lower than what the server takes to commit one small row.
//! This phase asks the server just that, at the latency phase's rate and
//! for as long, with nothing else in the way (no node, no HTTP): a single
//! `INSERT` of a row the size of an event, committed on its own, from a
//! small pool. Its p50/p99 beside the node's say how much of the node's
//! latency is the database's.

use std::sync::Arc;

use sqlx::postgres::PgPoolOptions;

use crate::progress::note;
use crate::report::{Figure, Target};
use crate::scenarios::{self, percentile};
use crate::server::Database;
use crate::Options;

/// Connections committing at once (commits beyond them queue, as in a node).
const CONNECTIONS: u32 = 16;

/// Measures single-row commits on a fresh database of the `--database-url`
/// server; answers the p50/p99 figures and a method line.
pub(crate) async fn measure(
    options: &Options,
    admin_url: &str,
) -> anyhow::Result<(Vec<Figure>, String)> {
    let (rate, seconds) = (options.sizes.latency_rate, options.sizes.latency_seconds);
    note(format_args!(
        "commit floor: single-row commits at {rate:.0}/s for {seconds:.1} s"
    ));
    let database = Database::create(Some(admin_url)).await?;
    let measured = commit_latencies(&database.url(), rate, seconds).await;
    database.remove().await?;
    let mut millis = measured?;
    millis.sort_by(f64::total_cmp);
    let (p50, p99) = (percentile(&millis, 0.50), percentile(&millis, 0.99));
    note(format_args!(
        "  commit floor: p50 {p50:.1} ms, p99 {p99:.1} ms"
    ));
    let one = |key, label: String, value| Figure::once(key, label, "ms", Target::None, value);
    let figures = vec![
        one(
            "pg_commit_p50",
            format!("PostgreSQL's own single-row commit p50 at {rate:.0}/s (floor)"),
            p50,
        ),
        one(
            "pg_commit_p99",
            format!("PostgreSQL's own single-row commit p99 at {rate:.0}/s (floor)"),
            p99,
        ),
    ];
    let line = format!(
        "commit floor (measured once, PostgreSQL only, on a fresh database of the same server): {} single-row \
         `INSERT`s of 400 bytes, each its own transaction, at {rate:.0}/s from {CONNECTIONS} connections; the time \
         of each from its due moment to its commit's answer, so a queue behind a slow commit counts",
        millis.len()
    );
    Ok((figures, line))
}

/// The milliseconds of each commit, from when it was due to its answer.
async fn commit_latencies(url: &str, rate: f64, seconds: f64) -> anyhow::Result<Vec<f64>> {
    let pool = PgPoolOptions::new()
        .max_connections(CONNECTIONS)
        .min_connections(CONNECTIONS)
        .connect(url)
        .await?;
    sqlx::query("CREATE TABLE floor (id bigserial PRIMARY KEY, body text NOT NULL)")
        .execute(&pool)
        .await?;
    let body = Arc::new("x".repeat(400));
    let measured = scenarios::open_loop(rate, seconds, None, |due| {
        let (pool, body) = (pool.clone(), body.clone());
        async move {
            sqlx::query("INSERT INTO floor (body) VALUES ($1)")
                .bind(body.as_str())
                .execute(&pool)
                .await?;
            anyhow::Ok(due.elapsed().as_secs_f64() * 1000.0)
        }
    })
    .await;
    pool.close().await;
    Ok(measured?.0)
}
