//! The engine under pressure: a hanging endpoint never delays the others,
//! shutdown finishes attempts in flight, and a node with little room still
//! delivers every fan-out exactly once.

use std::time::Duration;

use serde_json::json;

use super::wait_event;
use crate::harness::{Backend, Options, Receiver, Reply, TestServer};

/// The slow receiver answers after 30 s and attempts time out after 20 s, so
/// no slow attempt can be recorded while the fast ones arrive.
async fn hanging_endpoint_does_not_delay_others(backend: Backend) {
    let options = Options {
        request_timeout: Some("20s".into()),
        ..Default::default()
    };
    let Some(s) = TestServer::start_with(backend, options).await else {
        return;
    };
    let (slow, fast) = (Receiver::start().await, Receiver::start().await);
    slow.set_default(Reply::delayed(200, Duration::from_secs(30)));
    let (a, key) = s.account("Acme").await;
    let slow_ep = s
        .endpoint(
            &a,
            &key,
            &slow.url("/"),
            json!({"event_types": ["payment.completed"]}),
        )
        .await;
    s.endpoint(
        &a,
        &key,
        &fast.url("/"),
        json!({"event_types": ["payment.failed"]}),
    )
    .await;
    for _ in 0..40 {
        s.publish(&a, &key, json!({"type": "payment.completed", "data": {}}))
            .await;
    }
    for _ in 0..10 {
        s.publish(&a, &key, json!({"type": "payment.failed", "data": {}}))
            .await;
    }
    fast.wait_for(10).await;
    // Every fast delivery arrived while the slow endpoint had not finished one.
    let slow_attempts = s
        .expect(
            200,
            "GET",
            &format!(
                "/v1/accounts/{a}/endpoints/{}/attempts",
                slow_ep["id"].as_str().unwrap()
            ),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(slow_attempts["data"].as_array().unwrap().len(), 0);
    assert!(
        !slow.received().is_empty(),
        "the slow endpoint is being tried"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_endpoint_does_not_delay_others_sqlite() {
    hanging_endpoint_does_not_delay_others(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_endpoint_does_not_delay_others_postgres() {
    hanging_endpoint_does_not_delay_others(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_attempts_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/shared.db", dir.path().display());
    let receiver = Receiver::start().await;
    receiver.set_default(Reply::delayed(200, Duration::from_millis(500)));
    let options = Options {
        database_url: Some(url.clone()),
        ..Default::default()
    };
    let s = TestServer::start_with(Backend::Sqlite, options.clone())
        .await
        .unwrap();
    let (a, key) = s.account("Acme").await;
    s.endpoint(&a, &key, &receiver.url("/"), json!({})).await;
    let event = s
        .publish(&a, &key, json!({"type": "payment.completed", "data": {}}))
        .await;
    receiver.wait_for(1).await;
    // Stop while the receiver is still answering: the attempt finishes and is recorded.
    s.stop().await;
    let again = TestServer::start_with(Backend::Sqlite, options)
        .await
        .unwrap();
    let e = again.event(&a, &key, event["id"].as_str().unwrap()).await;
    assert_eq!(e["deliveries"][0]["status"], "succeeded");
    assert_eq!(e["deliveries"][0]["attempts"], 1);
    assert_eq!(receiver.received().len(), 1);
}

/// Publishes hand new deliveries straight to a node with room; with room
/// for only two attempts, most are handed back or never handed over, and
/// still every delivery arrives exactly once.
async fn little_room_delivers_every_fan_out(backend: Backend) {
    let options = Options {
        worker_concurrency: Some(2),
        ..Options::default()
    };
    let Some(s) = TestServer::start_with(backend, options).await else {
        return;
    };
    let receivers = [
        Receiver::start().await,
        Receiver::start().await,
        Receiver::start().await,
        Receiver::start().await,
    ];
    let (a, key) = s.account("Acme").await;
    for r in &receivers {
        s.endpoint(&a, &key, &r.url("/"), json!({})).await;
    }
    let publishes = (0..12).map(|n| {
        s.publish(
            &a,
            &key,
            json!({"type": "payment.completed", "data": {"n": n}}),
        )
    });
    let events = futures::future::join_all(publishes).await;
    for event in &events {
        wait_event(
            &s,
            &a,
            &key,
            event["id"].as_str().unwrap(),
            "delivered",
            |e| e["status"] == "succeeded",
        )
        .await;
    }
    for r in &receivers {
        let received = r.wait_for(12).await;
        let ids: std::collections::HashSet<_> =
            received.iter().map(|r| r.header("webhook-id")).collect();
        assert_eq!(received.len(), 12, "each event once, no duplicates");
        assert_eq!(ids.len(), 12);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_with_little_room_delivers_every_fan_out_sqlite() {
    little_room_delivers_every_fan_out(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_with_little_room_delivers_every_fan_out_postgres() {
    little_room_delivers_every_fan_out(Backend::Postgres).await;
}
