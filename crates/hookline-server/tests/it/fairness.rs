//! Fair between tenants, and each endpoint's adaptive concurrency.
//!
//! A flooding account whose endpoint answers slowly does not hold back a
//! quiet account: the quiet one's deliveries all arrive while most of the
//! flood is still undelivered (the test checks counts, never time). An
//! endpoint answering `429`/`503` gets a lower concurrency limit, shown in
//! `/metrics`, and gets it back once it answers `200` again.

use std::time::Duration;

use futures::StreamExt;
use serde_json::{json, Value};

use crate::both;
use crate::harness::{eventually, Options, Receiver, Reply, TestServer, ADMIN};

/// The noisy account's burst.
const NOISY_EVENTS: usize = 2000;
/// The quiet account's events, published after the burst.
const QUIET_EVENTS: usize = 20;

fn small_node() -> Options {
    Options {
        // Four requests in flight, and the noisy endpoint may take all four:
        // without fairness the quiet account waits behind the whole burst.
        worker_concurrency: Some(4),
        endpoint_concurrency: Some(4),
        ..Options::default()
    }
}

both!(
    a_flooding_account_with_a_slow_endpoint_does_not_hold_back_a_quiet_one,
    small_node(),
    |s| {
        let slow = Receiver::start().await;
        slow.set_default(Reply::delayed(200, Duration::from_millis(200)));
        let fast = Receiver::start().await;
        let (noisy, noisy_key) = s.account("Noisy").await;
        s.endpoint(&noisy, &noisy_key, &slow.url("/noisy"), json!({}))
            .await;
        let (quiet, quiet_key) = s.account("Quiet").await;
        s.endpoint(&quiet, &quiet_key, &fast.url("/quiet"), json!({}))
            .await;

        futures::stream::iter(0..NOISY_EVENTS)
            .map(|n| {
                s.publish(
                    &noisy,
                    &noisy_key,
                    json!({"type": "payment.completed", "data": {"n": n}}),
                )
            })
            .buffer_unordered(32)
            .collect::<Vec<_>>()
            .await;
        for n in 0..QUIET_EVENTS {
            s.publish(
                &quiet,
                &quiet_key,
                json!({"type": "payment.completed", "data": {"n": n}}),
            )
            .await;
        }
        eventually(
            "the quiet account's deliveries",
            Duration::from_secs(120),
            || async { (fast.received().len() >= QUIET_EVENTS).then_some(()) },
        )
        .await;
        let noisy_delivered = slow.received().len();
        eprintln!(
            "quiet: {QUIET_EVENTS} delivered while the noisy account had {noisy_delivered} of {NOISY_EVENTS}"
        );
        assert_eq!(fast.received().len(), QUIET_EVENTS);
        assert!(
            noisy_delivered < NOISY_EVENTS / 2,
            "the quiet account's {QUIET_EVENTS} deliveries arrived only after \
             {noisy_delivered} of the noisy account's {NOISY_EVENTS}"
        );
    }
);

fn eight_per_endpoint() -> Options {
    Options {
        endpoint_concurrency: Some(8),
        retry_schedule: Some("200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms".into()),
        ..Options::default()
    }
}

/// The endpoint's current limit in `/metrics`, once it has one.
async fn limit_of(s: &TestServer, account: &str, endpoint: &Value) -> Option<u32> {
    let metrics = s
        .http
        .get(format!("{}/metrics", s.base))
        .bearer_auth(ADMIN)
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    let series = format!(
        "hookline_endpoint_concurrency_limit{{account_id=\"{account}\",endpoint_id=\"{}\"}} ",
        endpoint["id"].as_str().unwrap()
    );
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(&series))
        .and_then(|value| value.trim().parse().ok())
}

both!(
    an_overloaded_endpoints_limit_drops_and_recovers_in_metrics,
    eight_per_endpoint(),
    |s| {
        let overloaded = Receiver::start().await;
        overloaded.script([Reply::status(429)]);
        overloaded.set_default(Reply::status(503));
        let healthy = Receiver::start().await;
        let (a, key) = s.account("Acme").await;
        let busy = s.endpoint(&a, &key, &overloaded.url("/"), json!({})).await;
        let fine = s.endpoint(&a, &key, &healthy.url("/"), json!({})).await;
        for n in 0..8 {
            s.publish(
                &a,
                &key,
                json!({"type": "payment.completed", "data": {"n": n}}),
            )
            .await;
        }
        // 429 and 503 halve the busy endpoint's limit; the healthy one keeps
        // the maximum.
        let dropped = eventually(
            "a lower limit in /metrics",
            Duration::from_secs(30),
            || async {
                let busy = limit_of(&s, &a, &busy).await?;
                let fine = limit_of(&s, &a, &fine).await?;
                (busy < 8 && fine == 8).then_some(busy)
            },
        )
        .await;
        assert!(dropped >= 1);

        // Healthy again: successes grow it back to the maximum, one step per
        // run of successes as long as the limit.
        overloaded.set_default(Reply::status(200));
        let mut published = 8;
        eventually("the limit back at 8", Duration::from_secs(60), || {
            published += 4;
            let s = &s;
            let (a, key, busy) = (&a, &key, &busy);
            async move {
                for n in 0..4 {
                    s.publish(
                        a,
                        key,
                        json!({"type": "payment.completed", "data": {"n": n}}),
                    )
                    .await;
                }
                (limit_of(s, a, busy).await? == 8).then_some(())
            }
        })
        .await;
        // Every event reaches both endpoints.
        eventually("every delivery", Duration::from_secs(60), || async {
            (healthy.received().len() >= published && overloaded.received().len() >= published)
                .then_some(())
        })
        .await;
    }
);
