//! The dashboard-queries figure: how long the events list and search take
//! with a large account. One account gets `events` events (seeded through
//! the store, as publishes without endpoints, many at once so both backends
//! group-commit them), then the API's list and search are timed over HTTP
//! on a node running in this process: the first page, a page deep in the
//! history, a value that one event holds, one that every event holds, and a
//! search narrowed by a type no event has (the worst case of a filter).

use std::time::{Duration, Instant};

use anyhow::Context;
use futures::StreamExt;
use hookline_core::{Event, Id, IdKind};
use hookline_server::{App, Config, Role, ServeArgs};
use hookline_store::{PublishRequest, Target};
use tokio_util::sync::CancellationToken;

use crate::server::Database;

const ADMIN: &str = "bench-admin-token";
/// Publishes in flight while seeding.
const SEED_CONCURRENCY: usize = 512;

/// Seeds one account with `events` events and answers the Markdown table
/// of list and search timings (`samples` requests each).
pub async fn dashboard_queries(
    postgres_url: Option<&str>,
    events: usize,
    samples: usize,
) -> anyhow::Result<String> {
    let database = Database::create(postgres_url).await?;
    let args = ServeArgs {
        listen: Some("127.0.0.1:0".into()),
        database_url: Some(database.url()),
        admin_token: Some(ADMIN.into()),
        role: Some(Role::Api),
        ..Default::default()
    };
    let config = Config::from_args(args).map_err(anyhow::Error::msg)?;
    let app = App::build(config).await.context("starting the node")?;
    let base = format!("http://{}", app.local_addr());
    let store = app.store().clone();
    let backend = store.backend();
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(app.run(shutdown.clone()));
    let http = reqwest::Client::new();

    let account: serde_json::Value = http
        .post(format!("{base}/v1/accounts"))
        .bearer_auth(ADMIN)
        .json(&serde_json::json!({"name": "Big merchant", "id": "acct_big"}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let account = account["id"].as_str().context("an account id")?.to_string();

    let started = Instant::now();
    let seeded = futures::stream::iter(0..events)
        .map(|i| {
            let store = store.clone();
            let account = account.clone();
            async move {
                let event = Event {
                    id: Id::generate(IdKind::Event),
                    account_id: account,
                    event_type: if i % 4 == 0 { "refund.completed" } else { "payment.completed" }.into(),
                    data: format!(
                        r#"{{"payment_id": "pay_{i:08}", "order": {{"number": {i}, "currency": "USD"}}, "amount": {}}}"#,
                        1000 + i % 5000
                    ),
                    webhook_url: None,
                    ordering_key: None,
                    external_id: None,
                    channels: Vec::new(),
                    format: Default::default(),
                    payload_hash: format!("bench-{i}"),
                    created_at: chrono::Utc::now(),
                };
                store
                    .publish(PublishRequest {
                        event,
                        target: Target::Subscribed,
                        lease: None,
                    })
                    .await
            }
        })
        .buffer_unordered(SEED_CONCURRENCY)
        .fold(Ok(0usize), |done, result| async move {
            match (done, result) {
                (Ok(n), Ok(_)) => {
                    if (n + 1) % 100_000 == 0 {
                        crate::progress::note(format!("seeded {} events", n + 1));
                    }
                    Ok(n + 1)
                }
                (Err(e), _) => Err(e),
                (_, Err(e)) => Err(anyhow::anyhow!("seeding failed: {e}")),
            }
        })
        .await?;
    let seed_secs = started.elapsed().as_secs_f64();

    let list = format!("{base}/v1/accounts/{account}/events");
    let first: serde_json::Value = http
        .get(&list)
        .bearer_auth(ADMIN)
        .send()
        .await?
        .json()
        .await?;
    let newest_cursor = first["next_cursor"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let middle: i64 = newest_cursor.parse::<i64>().unwrap_or(0) / 2;
    let rare = format!("pay_{:08}", events / 3);
    let queries = [
        ("list, first page (50)", format!("{list}?limit=50")),
        (
            "list, a page half-way down",
            format!("{list}?limit=50&cursor={middle}"),
        ),
        (
            "list, type filter",
            format!("{list}?limit=50&type=refund.completed"),
        ),
        (
            "search: a payment id (1 event)",
            format!("{list}?search={rare}"),
        ),
        (
            "search: `USD` (every event), first page",
            format!("{list}?search=USD&limit=50"),
        ),
        (
            "search: a payment id + a type it lacks",
            format!("{list}?search={rare}&type=customer.created"),
        ),
    ];
    let mut table = format!(
        "Dashboard queries on {backend}: {seeded} events in one account (seeded in {seed_secs:.0} s); \
         {samples} requests each over HTTP (API, same store queries as the dashboard)\n\n\
         | query | median | p95 | max | rows |\n|---|---|---|---|---|\n"
    );
    for (name, url) in queries {
        let mut times = Vec::with_capacity(samples);
        let mut rows = 0;
        for _ in 0..samples {
            let t = Instant::now();
            let answer: serde_json::Value = http
                .get(&url)
                .bearer_auth(ADMIN)
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            times.push(t.elapsed());
            rows = answer["data"].as_array().map_or(0, Vec::len);
        }
        times.sort();
        let at = |q: f64| times[((times.len() as f64 - 1.0) * q).round() as usize];
        table.push_str(&format!(
            "| {name} | {} | {} | {} | {rows} |\n",
            ms(at(0.5)),
            ms(at(0.95)),
            ms(at(1.0))
        ));
    }
    shutdown.cancel();
    running.await??;
    database.remove().await?;
    Ok(table)
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}
