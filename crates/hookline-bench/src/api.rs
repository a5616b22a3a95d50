//! The benchmark as a client of Hookline's HTTP API: set-up calls with the
//! admin token, and a `Publisher` that posts 1 KiB events with an account's
//! API key over a keep-alive connection pool, as a platform's backend would.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use serde_json::{json, Value};

use crate::progress::Progress;
use crate::server::ADMIN_TOKEN;

/// Size of the `data` object of every published event.
pub(crate) const DATA_BYTES: usize = 1024;

/// Admin calls against one server.
pub(crate) struct Api {
    http: reqwest::Client,
    base_url: String,
}

impl Api {
    /// A client of the server at `base_url`.
    pub(crate) fn new(base_url: &str) -> Api {
        Api {
            http: reqwest::Client::new(),
            base_url: base_url.to_string(),
        }
    }

    async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        let response = self
            .http
            .post(format!("{}{path}", self.base_url))
            .bearer_auth(ADMIN_TOKEN)
            .json(&body)
            .send()
            .await?;
        let status = response.status();
        let answer: Value = response.json().await?;
        anyhow::ensure!(status.is_success(), "POST {path}: {status} {answer}");
        Ok(answer)
    }

    /// Creates an account with one API key and an endpoint per URL, and
    /// answers a publisher for it.
    pub(crate) async fn account(
        &self,
        name: &str,
        endpoints: &[String],
    ) -> anyhow::Result<Publisher> {
        let account = self.post("/v1/accounts", json!({ "name": name })).await?;
        let id = account["id"].as_str().context("account id")?.to_string();
        let key = self
            .post(&format!("/v1/accounts/{id}/api-keys"), json!({}))
            .await?;
        let key = key["key"].as_str().context("API key")?;
        for url in endpoints {
            self.post(
                &format!("/v1/accounts/{id}/endpoints"),
                json!({ "url": url }),
            )
            .await?;
        }
        Publisher::new(&format!("{}/v1/accounts/{id}/events", self.base_url), key)
    }

    /// `hookline_pending_deliveries` from `/metrics`.
    pub(crate) async fn pending_deliveries(&self) -> anyhow::Result<u64> {
        let text = self.metrics().await?;
        let value = metric(&text, "hookline_pending_deliveries")
            .context("hookline_pending_deliveries in /metrics")?;
        Ok(value as u64)
    }

    /// What the server says became of its deliveries (attempt outcomes,
    /// finished deliveries, stale attempts, pending), from `/metrics`: told
    /// when a phase stalls, so a delivery failed for good (the benchmark's
    /// retry schedule is short) is not mistaken for one left waiting.
    pub(crate) async fn delivery_outcomes(&self) -> String {
        let text = match self.metrics().await {
            Ok(text) => text,
            Err(err) => return format!("/metrics unavailable: {err}"),
        };
        let wanted = [
            "hookline_delivery_attempts_total{",
            "hookline_deliveries_finished_total{",
            "hookline_stale_attempts_total ",
            "hookline_pending_deliveries ",
        ];
        text.lines()
            .filter(|l| wanted.iter().any(|w| l.starts_with(w)))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// The SQLite writer's totals from `/metrics`; `None` on a server
    /// without one (PostgreSQL).
    pub(crate) async fn writer_totals(&self) -> anyhow::Result<Option<WriterTotals>> {
        let text = self.metrics().await?;
        let at = Instant::now();
        let value = |name| metric(&text, &format!("hookline_sqlite_writer_{name}_total"));
        Ok(
            match (value("commits"), value("writes"), value("busy_seconds")) {
                (Some(commits), Some(writes), Some(busy_seconds)) => Some(WriterTotals {
                    commits,
                    writes,
                    busy_seconds,
                    syncs: value("syncs").unwrap_or(0.0),
                    sync_seconds: value("sync_seconds").unwrap_or(0.0),
                    queue_seconds: value("queue_seconds").unwrap_or(0.0),
                    durable_seconds: value("durable_seconds").unwrap_or(0.0),
                    at,
                }),
                _ => None,
            },
        )
    }

    async fn metrics(&self) -> anyhow::Result<String> {
        Ok(self
            .http
            .get(format!("{}/metrics", self.base_url))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await?
            .error_for_status()?
            .text()
            .await?)
    }
}

/// The value of the unlabelled sample `name` in Prometheus text.
fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

/// The SQLite writer's running totals at one moment.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WriterTotals {
    commits: f64,
    writes: f64,
    busy_seconds: f64,
    syncs: f64,
    sync_seconds: f64,
    queue_seconds: f64,
    durable_seconds: f64,
    at: Instant,
}

/// What the SQLite writer did over a stretch of time.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WriterLoad {
    /// Share of the time it was running or committing a batch, in percent.
    pub(crate) busy: f64,
    pub(crate) commits_per_s: f64,
    /// Write jobs (publishes, claims, attempt batches) per commit.
    pub(crate) writes_per_commit: f64,
    /// The average WAL sync (what every write waits for after its commit).
    pub(crate) sync_ms: f64,
    /// The average write's wait for the writer (queued to its batch's
    /// start), and its whole wait (queued to answered after the sync).
    pub(crate) queue_ms: f64,
    pub(crate) durable_ms: f64,
}

impl WriterTotals {
    /// The writer's load between `earlier` and now.
    pub(crate) fn since(&self, earlier: &WriterTotals) -> WriterLoad {
        let secs = (self.at - earlier.at).as_secs_f64().max(1e-9);
        let commits = self.commits - earlier.commits;
        let writes = (self.writes - earlier.writes).max(1.0);
        WriterLoad {
            busy: 100.0 * (self.busy_seconds - earlier.busy_seconds) / secs,
            commits_per_s: commits / secs,
            writes_per_commit: (self.writes - earlier.writes) / commits.max(1.0),
            sync_ms: 1000.0 * (self.sync_seconds - earlier.sync_seconds)
                / (self.syncs - earlier.syncs).max(1.0),
            queue_ms: 1000.0 * (self.queue_seconds - earlier.queue_seconds) / writes,
            durable_ms: 1000.0 * (self.durable_seconds - earlier.durable_seconds) / writes,
        }
    }
}

/// Publishes 1 KiB events to one account.
pub(crate) struct Publisher {
    http: reqwest::Client,
    url: String,
    auth: HeaderValue,
    body: Bytes,
}

impl Publisher {
    /// A publisher posting to `url` with `key` as its bearer token (the
    /// relay ignores it).
    pub(crate) fn new(url: &str, key: &str) -> anyhow::Result<Publisher> {
        let mut data = json!({
            "payment_id": "pay_0123456789abcdef",
            "amount": 12_345,
            "currency": "EUR",
            "padding": "",
        });
        let short = serde_json::to_vec(&data)?.len();
        data["padding"] = Value::String("x".repeat(DATA_BYTES.saturating_sub(short)));
        let body = serde_json::to_vec(&json!({ "type": "payment.completed", "data": data }))?;
        Ok(Publisher {
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(1024)
                .tcp_nodelay(true)
                .build()?,
            url: url.to_string(),
            auth: HeaderValue::from_str(&format!("Bearer {key}"))?,
            body: Bytes::from(body),
        })
    }

    /// Publishes one event; answers its id once the server said `202`.
    pub(crate) async fn publish(&self) -> anyhow::Result<String> {
        let response = self
            .http
            .post(&self.url)
            .header(AUTHORIZATION, self.auth.clone())
            .header(CONTENT_TYPE, "application/json")
            .body(self.body.clone())
            .send()
            .await?;
        let status = response.status();
        let answer = response.bytes().await?;
        anyhow::ensure!(
            status == reqwest::StatusCode::ACCEPTED,
            "publish answered {status}: {}",
            String::from_utf8_lossy(&answer)
        );
        let answer: Value = serde_json::from_slice(&answer)?;
        Ok(answer["id"].as_str().context("event id")?.to_string())
    }

    /// Publishes `count` events from `concurrency` tasks as fast as the
    /// server accepts them; answers when the first started and how long
    /// all took.
    pub(crate) async fn publish_many(
        self: &Arc<Self>,
        count: usize,
        concurrency: usize,
        label: &str,
    ) -> anyhow::Result<(Instant, Duration)> {
        let next = Arc::new(AtomicUsize::new(0));
        let done = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let mut workers = tokio::task::JoinSet::new();
        for _ in 0..concurrency.min(count) {
            let (publisher, next, done) = (self.clone(), next.clone(), done.clone());
            workers.spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < count {
                    publisher.publish().await?;
                    done.fetch_add(1, Ordering::Relaxed);
                }
                anyhow::Ok(())
            });
        }
        let mut progress = Progress::new(label, count as u64);
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        loop {
            tokio::select! {
                finished = workers.join_next() => match finished {
                    Some(result) => result??,
                    None => break,
                },
                _ = tick.tick() => progress.update(done.load(Ordering::Relaxed) as u64),
            }
        }
        Ok((started, started.elapsed()))
    }
}
