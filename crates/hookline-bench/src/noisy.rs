//! The noisy-neighbour scenario: a quiet account publishing at a steady
//! 50 events/s, alone and then while a noisy account floods the same node
//! with as many events as it accepts. It answers the quiet account's
//! publish-to-receipt percentiles in both cases; the goal is that its p99
//! stays under 50 ms during the flood.
//!
//! Each case runs on a fresh database and server; the noisy account's
//! endpoint and the quiet one's are separate endpoints of the same fast
//! receiver, so the figure is the scheduler's fairness, not the receiver's.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use crate::api::{Api, Publisher};
use crate::progress::note;
use crate::receiver::Receiver;
use crate::scenarios::{self, percentile};
use crate::server::{Database, Server, ServerOptions};

/// The quiet account's publish rate.
pub const QUIET_RATE: f64 = 50.0;
/// The receiver's endpoint numbers of the two accounts.
const NOISY_ENDPOINT: u16 = 0;
const QUIET_ENDPOINT: u16 = 1;
/// Concurrent publishes of the flood.
const FLOOD_CONCURRENCY: usize = 64;

/// The quiet account's latency in one case.
#[derive(Debug, Clone, Copy)]
pub struct QuietLatency {
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Noisy events accepted while the quiet account published.
    pub noisy_events: usize,
    /// Noisy deliveries received while the quiet account published.
    pub noisy_delivered: usize,
}

/// Both cases on one backend (`postgres_url`, or SQLite when `None`).
pub async fn noisy_neighbour(
    exe: &Path,
    postgres_url: Option<&str>,
    seconds: f64,
) -> anyhow::Result<(QuietLatency, QuietLatency)> {
    let receiver = Receiver::start().await?;
    let mut cases = Vec::new();
    for flood in [false, true] {
        let database = Database::create(postgres_url).await?;
        let server = Server::start(ServerOptions {
            exe,
            database_url: database.url(),
            retry_schedule: "1s,5s,30s",
            role: "all",
            statements_file: None,
        })
        .await?;
        note(format_args!(
            "  noisy neighbour, {}",
            if flood { "with the flood" } else { "alone" }
        ));
        let measured = case(&Api::new(&server.base_url), &receiver, flood, seconds).await;
        server.stop().await?;
        database.remove().await?;
        cases.push(measured?);
    }
    Ok((cases[0], cases[1]))
}

/// One case: the quiet account at [`QUIET_RATE`] for `seconds`, with the
/// noisy account flooding from a second before it starts if `flood`.
async fn case(
    api: &Api,
    receiver: &Receiver,
    flood: bool,
    seconds: f64,
) -> anyhow::Result<QuietLatency> {
    receiver.reset();
    let noisy = Arc::new(
        api.account("bench noisy", &[receiver.url(NOISY_ENDPOINT)])
            .await?,
    );
    let quiet = Arc::new(
        api.account("bench quiet", &[receiver.url(QUIET_ENDPOINT)])
            .await?,
    );
    let stop_flood = tokio_util::sync::CancellationToken::new();
    let flooding = flood.then(|| {
        let (noisy, stop) = (noisy.clone(), stop_flood.clone());
        tokio::spawn(async move { flood_until(noisy, stop).await })
    });
    if flood {
        // Let the backlog build up before the quiet account starts.
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let noisy_before = count(receiver, NOISY_ENDPOINT);
    let (sent, _) = scenarios::publish_at_rate(&quiet, QUIET_RATE, seconds, None).await?;
    let noisy_delivered = count(receiver, NOISY_ENDPOINT) - noisy_before;
    stop_flood.cancel();
    let noisy_events = match flooding {
        Some(task) => task.await??,
        None => 0,
    };
    let receipts = wait_for_quiet(receiver, &sent).await?;
    let mut millis: Vec<f64> = sent
        .iter()
        .map(|(id, sent_at)| {
            let at = receipts[id];
            at.saturating_duration_since(*sent_at).as_secs_f64() * 1000.0
        })
        .collect();
    millis.sort_by(f64::total_cmp);
    Ok(QuietLatency {
        p50_ms: percentile(&millis, 0.50),
        p99_ms: percentile(&millis, 0.99),
        max_ms: *millis.last().expect("at least one event"),
        noisy_events,
        noisy_delivered,
    })
}

/// Publishes as fast as the server accepts until `stop`; answers how many.
async fn flood_until(
    noisy: Arc<Publisher>,
    stop: tokio_util::sync::CancellationToken,
) -> anyhow::Result<usize> {
    let mut workers = JoinSet::new();
    for _ in 0..FLOOD_CONCURRENCY {
        let (noisy, stop) = (noisy.clone(), stop.clone());
        workers.spawn(async move {
            let mut published = 0;
            while !stop.is_cancelled() {
                noisy.publish().await?;
                published += 1;
            }
            anyhow::Ok(published)
        });
    }
    let mut total = 0;
    while let Some(done) = workers.join_next().await {
        total += done??;
    }
    Ok(total)
}

/// Waits until every quiet event has arrived; answers when each did.
async fn wait_for_quiet(
    receiver: &Receiver,
    sent: &[(String, Instant)],
) -> anyhow::Result<HashMap<String, Instant>> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let receipts = receiver.receipts_of(QUIET_ENDPOINT);
        if sent.iter().all(|(id, _)| receipts.contains_key(id)) {
            return Ok(receipts);
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the quiet account has {} of {} deliveries after 120 s",
            receipts.len(),
            sent.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn count(receiver: &Receiver, endpoint: u16) -> usize {
    receiver.receipts_of(endpoint).len()
}

/// The Markdown table of both backends' cases.
pub fn markdown(rows: &[(&str, QuietLatency, QuietLatency)]) -> String {
    let mut out = String::from(
        "| backend | quiet alone p50 / p99 (ms) | quiet during the flood p50 / p99 / max (ms) | noisy events accepted / delivered meanwhile |\n|---|---|---|---|\n",
    );
    for (backend, alone, flood) in rows {
        out.push_str(&format!(
            "| {backend} | {:.1} / {:.1} | {:.1} / {:.1} / {:.1} | {} / {} |\n",
            alone.p50_ms,
            alone.p99_ms,
            flood.p50_ms,
            flood.p99_ms,
            flood.max_ms,
            flood.noisy_events,
            flood.noisy_delivered
        ));
    }
    out
}
