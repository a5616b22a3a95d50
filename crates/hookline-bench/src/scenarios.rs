//! The measurements themselves, one function per figure: the baseline, the
//! relay ceiling, pure ingest, end-to-end delivery (one endpoint and fan-out), latency at a
//! steady rate, and memory with a large backlog.
//!
//! Each takes a running server (through [`Api`]) and the receiver and
//! answers numbers; starting servers and repeating runs is `lib.rs`'s job.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hookline_server::delivery::client::DeliveryClient;
use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::api::{Api, Publisher, WriterLoad, DATA_BYTES};
use crate::cpu::{CpuShare, CpuWatch};
use crate::progress::{note, Progress};
use crate::receiver::Receiver;
use crate::relay::Relay;
use crate::server::{Memory, Server, ServerOptions};

/// How long a phase may see no new delivery before it is declared stuck.
const STALL: Duration = Duration::from_secs(60);

/// Requests/s of Hookline's own delivery client (the same reqwest settings
/// and pool) posting 1 KiB bodies straight at the receiver.
pub(crate) async fn baseline(
    receiver: &Receiver,
    requests: usize,
    concurrency: usize,
) -> anyhow::Result<f64> {
    receiver.reset();
    let client = DeliveryClient::new(Duration::from_secs(10), true);
    let url = reqwest::Url::parse(&receiver.url(0))?;
    let body = Bytes::from(vec![b'x'; DATA_BYTES]);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = JoinSet::new();
    for _ in 0..concurrency.min(requests) {
        let (client, url, body, next) = (client.clone(), url.clone(), body.clone(), next.clone());
        workers.spawn(async move {
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if n >= requests {
                    return anyhow::Ok(());
                }
                let mut headers = HeaderMap::with_capacity(2);
                headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                headers.insert("webhook-id", HeaderValue::from_str(&format!("base_{n}"))?);
                let sent = client.post(&url, headers, body.clone()).await;
                anyhow::ensure!(
                    sent.status_code == Some(204),
                    "baseline request failed: {:?} {:?}",
                    sent.outcome,
                    sent.error
                );
            }
        });
    }
    while let Some(result) = workers.join_next().await {
        result??;
    }
    let elapsed = started.elapsed();
    anyhow::ensure!(
        receiver.unique() == requests,
        "the receiver missed baseline requests"
    );
    Ok(requests as f64 / elapsed.as_secs_f64())
}

/// Events/s accepted (each durably committed before its `202`) by an
/// account with no endpoints, so no delivery work competes with ingest.
pub(crate) async fn ingest(api: &Api, events: usize, concurrency: usize) -> anyhow::Result<f64> {
    let publisher = Arc::new(api.account("bench ingest", &[]).await?);
    let (_, elapsed) = publisher
        .publish_many(events, concurrency, "ingest")
        .await?;
    Ok(events as f64 / elapsed.as_secs_f64())
}

/// Deliveries/s from the first publish until the receiver has every
/// delivery, for an account with `endpoints` endpoints on the receiver.
pub(crate) async fn delivery(
    api: &Api,
    receiver: &Receiver,
    endpoints: u16,
    events: usize,
    concurrency: usize,
) -> anyhow::Result<f64> {
    let urls: Vec<String> = (0..endpoints).map(|n| receiver.url(n)).collect();
    let publisher = Arc::new(
        api.account(&format!("bench {endpoints} endpoints"), &urls)
            .await?,
    );
    receiver.reset();
    let label = format!("delivery to {endpoints} endpoint(s)");
    let (started, publishing) = publisher
        .publish_many(events, concurrency, &format!("{label}, publishing"))
        .await?;
    let expected = events * usize::from(endpoints);
    let (_, last) = match receiver.wait_for(expected, STALL, &label).await {
        Ok(waited) => waited,
        Err(err) => {
            let outcomes = api.delivery_outcomes().await;
            return Err(err.context(format!("the server's counters: {outcomes}")));
        }
    };
    // Which side set the pace: the publishes (their 202s) or the deliveries.
    note(format_args!(
        "  {label}: publishes answered at {:.0} events/s; last receipt {:.0} ms after the last 202",
        events as f64 / publishing.as_secs_f64(),
        last.saturating_duration_since(started + publishing)
            .as_secs_f64()
            * 1000.0
    ));
    let duplicates = receiver.requests().saturating_sub(expected as u64);
    if duplicates > 0 {
        note(format_args!("  {label}: {duplicates} duplicate deliveries"));
    }
    Ok(expected as f64 / (last - started).as_secs_f64())
}

/// Deliveries/s through the [`Relay`]: `events` published to it as to a
/// node (same publisher, concurrency and timing as [`delivery`]), each
/// forwarded to the receiver with nothing stored — the ceiling of the
/// end-to-end figures on this machine.
pub(crate) async fn relay(
    receiver: &Receiver,
    events: usize,
    concurrency: usize,
) -> anyhow::Result<f64> {
    let relay = Relay::start(&receiver.url(0)).await?;
    let publisher = Arc::new(Publisher::new(&relay.url(), "relay")?);
    receiver.reset();
    let (started, _) = publisher
        .publish_many(events, concurrency, "relay, publishing")
        .await?;
    let (_, last) = receiver.wait_for(events, STALL, "relay").await?;
    Ok(events as f64 / (last - started).as_secs_f64())
}

/// Deliveries/s of the delivery engine alone: `events` are published to a
/// node that delivers nothing (`HOOKLINE_ROLE=api`), then a full node on the
/// same database delivers them; timed from the first receipt to the last.
/// Answers the rate, the CPU shares while it drained and, on SQLite, the
/// writer's load.
pub(crate) async fn drain(
    server: ServerOptions<'_>,
    receiver: &Receiver,
    events: usize,
    concurrency: usize,
) -> anyhow::Result<(f64, CpuShare, Option<WriterLoad>)> {
    let api_node = Server::start(ServerOptions {
        role: "api",
        ..server.clone()
    })
    .await?;
    let api = Api::new(&api_node.base_url);
    let publisher = Arc::new(api.account("bench drain", &[receiver.url(0)]).await?);
    publisher
        .publish_many(events, concurrency, "drain, publishing to an API-only node")
        .await?;
    api_node.stop().await?;
    receiver.reset();
    let node = Server::start(ServerOptions {
        role: "all",
        ..server
    })
    .await?;
    note(format_args!("  drain: delivering node pid {}", node.pid()));
    let node_api = Api::new(&node.base_url);
    let writer_before = node_api.writer_totals().await?;
    let watch = CpuWatch::start(node.pid());
    let waited = receiver.wait_for(events, STALL, "drain").await;
    let share = watch.share();
    let writer = match (writer_before, node_api.writer_totals().await?) {
        (Some(before), Some(after)) => Some(after.since(&before)),
        _ => None,
    };
    node.stop().await?;
    let (first, last) = waited?;
    let rate = (events.max(2) - 1) as f64 / (last - first).as_secs_f64().max(1e-6);
    Ok((rate, share, writer))
}

/// Publish-to-receipt latency at a steady rate.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Latency {
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) max_ms: f64,
    /// The publish rate actually reached (events/s).
    pub(crate) rate: f64,
}

/// Publishes at `rate` events/s for `seconds` (open loop: each publish
/// starts on schedule whether or not earlier ones have answered) and
/// measures from the start of each publish to its receipt.
pub(crate) async fn latency(
    api: &Api,
    receiver: &Receiver,
    rate: f64,
    seconds: f64,
) -> anyhow::Result<Latency> {
    let publisher = Arc::new(api.account("bench latency", &[receiver.url(0)]).await?);
    receiver.reset();
    let (sent, achieved) =
        publish_at_rate(&publisher, rate, seconds, Some("latency, publishing")).await?;
    let total = sent.len();
    receiver.wait_for(total, STALL, "latency").await?;
    let receipts = receiver.take_receipts();
    let mut millis: Vec<f64> = sent
        .iter()
        .map(|(id, sent_at)| {
            let at = receipts[&(0, id.clone())];
            at.saturating_duration_since(*sent_at).as_secs_f64() * 1000.0
        })
        .collect();
    millis.sort_by(f64::total_cmp);
    Ok(Latency {
        p50_ms: percentile(&millis, 0.50),
        p99_ms: percentile(&millis, 0.99),
        max_ms: *millis.last().expect("at least one event"),
        rate: achieved,
    })
}

/// Publishes at `rate` events/s for `seconds`, open loop; answers each
/// event's id and when its publish started, and the rate reached.
pub(crate) async fn publish_at_rate(
    publisher: &Arc<Publisher>,
    rate: f64,
    seconds: f64,
    progress: Option<&str>,
) -> anyhow::Result<(Vec<(String, Instant)>, f64)> {
    open_loop(rate, seconds, progress, |_| {
        let publisher = publisher.clone();
        async move {
            let sent_at = Instant::now();
            let id = publisher.publish().await?;
            anyhow::Ok((id, sent_at))
        }
    })
    .await
}

/// Starts `rate × seconds` tasks, the n-th `n / rate` seconds in (an open
/// loop: a slow answer does not hold back the next start; at most 1,024
/// run at once), each given the moment it was due; answers their results
/// in the order they finished and the start rate reached.
pub(crate) async fn open_loop<T, F, Fut>(
    rate: f64,
    seconds: f64,
    progress: Option<&str>,
    task: F,
) -> anyhow::Result<(Vec<T>, f64)>
where
    T: Send + 'static,
    F: Fn(Instant) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>> + Send + 'static,
{
    let total = (rate * seconds).round().max(1.0) as usize;
    let in_flight = Arc::new(Semaphore::new(1024));
    let mut running = JoinSet::new();
    let mut done = Vec::with_capacity(total);
    let mut progress = progress.map(|label| Progress::new(label, total as u64));
    let started = Instant::now();
    for n in 0..total {
        let due = started + Duration::from_secs_f64(n as f64 / rate);
        tokio::time::sleep_until(due.into()).await;
        let permit = in_flight.clone().acquire_owned().await?;
        let work = task(due);
        running.spawn(async move {
            let result = work.await;
            drop(permit);
            result
        });
        while let Some(finished) = running.try_join_next() {
            done.push(finished??);
        }
        if let Some(progress) = &mut progress {
            progress.update(done.len() as u64);
        }
    }
    let achieved = total as f64 / started.elapsed().as_secs_f64();
    while let Some(finished) = running.join_next().await {
        done.push(finished??);
    }
    Ok((done, achieved))
}

/// The nearest-rank percentile of sorted values.
pub(crate) fn percentile(sorted: &[f64], q: f64) -> f64 {
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Memory with a large backlog.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Backlog {
    /// Deliveries pending by `/metrics` once everything was published.
    pub(crate) pending: u64,
    /// The server's memory once everything was published.
    pub(crate) memory: Memory,
    /// How long publishing took.
    pub(crate) publish_time: Duration,
}

/// Publishes `events` to an account whose one endpoint is a closed port
/// (the receiver is down), in chunks, reporting memory after each chunk.
/// The server must run with a long retry schedule so deliveries stay pending.
pub(crate) async fn backlog(
    api: &Api,
    server: &Server,
    events: usize,
    concurrency: usize,
) -> anyhow::Result<Backlog> {
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.local_addr()?
    };
    let publisher = Arc::new(
        api.account("bench backlog", &[format!("http://{closed}/down")])
            .await?,
    );
    let chunk = (events / 10).max(1);
    let started = Instant::now();
    let mut published = 0;
    while published < events {
        let count = chunk.min(events - published);
        let label = format!("backlog, publishing {}..{}", published, published + count);
        publisher.publish_many(count, concurrency, &label).await?;
        published += count;
        let memory = server.memory()?;
        note(format_args!(
            "  backlog: {published}/{events} published in {:.0} s, server RSS {:.1} MiB (peak {:.1} MiB)",
            started.elapsed().as_secs_f64(),
            mib(memory.rss),
            mib(memory.peak_rss)
        ));
    }
    let publish_time = started.elapsed();
    let memory = server.memory()?;
    let pending = api.pending_deliveries().await?;
    Ok(Backlog {
        pending,
        memory,
        publish_time,
    })
}

/// Bytes in MiB.
pub(crate) fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn nearest_rank_percentiles() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&values, 0.50), 50.0);
        assert_eq!(percentile(&values, 0.99), 99.0);
        assert_eq!(percentile(&values, 1.0), 100.0);
        assert_eq!(percentile(&[7.0], 0.99), 7.0);
    }
}
