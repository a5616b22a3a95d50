//! Receivers that flood: endless headers, an endless body, an answer that
//! never ends. Each attempt ends at the request timeout at the latest, the
//! next delivery to the same endpoint goes ahead (no worker is held), and
//! Hookline reads only a bounded part of what the receiver pushes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hookline_server::ServeArgs;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::harness::{each_backend, eventually, Options, TestServer};

/// The most a receiver may push into one attempt before it must give up:
/// far below what it would push if Hookline kept reading.
const BOUNDED: u64 = 16 << 20;

/// What a flooding receiver sends after reading the request.
#[derive(Clone, Copy, Debug)]
enum Flood {
    /// A status line, then header lines without end: a failed attempt.
    Headers,
    /// `200` and a body without end: the status decides, 4 KiB are kept.
    Body,
    /// A status line, then nothing: a timeout.
    Silence,
}

impl Flood {
    /// Attempts per event and whether they succeed.
    fn expected(self) -> (usize, bool) {
        match self {
            Flood::Headers | Flood::Silence => (2, false),
            Flood::Body => (1, true),
        }
    }
}

/// A raw TCP receiver that floods; counts the bytes each connection pushed
/// and keeps the largest.
async fn flooding_receiver(flood: Flood) -> (String, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let most = Arc::new(AtomicU64::new(0));
    let counter = most.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut request = [0u8; 8192];
                let _ = stream.read(&mut request).await;
                let head: &[u8] = match flood {
                    Flood::Headers => b"HTTP/1.1 200 OK\r\n",
                    Flood::Body => b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n",
                    Flood::Silence => b"HTTP/1.1 200 OK\r\n",
                };
                let mut sent = head.len() as u64;
                if stream.write_all(head).await.is_err() {
                    return;
                }
                let chunk: Vec<u8> = match flood {
                    Flood::Headers => format!("X-Flood: {}\r\n", "a".repeat(1000)).into_bytes(),
                    Flood::Body => vec![b'x'; 64 * 1024],
                    Flood::Silence => Vec::new(),
                };
                // Bounded: stops once the client hangs up or 64 MiB went out.
                while !chunk.is_empty() && sent < 4 * BOUNDED {
                    if stream.write_all(&chunk).await.is_err() {
                        break;
                    }
                    sent += chunk.len() as u64;
                    counter.fetch_max(sent, Ordering::SeqCst);
                }
                if chunk.is_empty() {
                    // Say nothing more until the client gives up.
                    let _ = stream.read(&mut request).await;
                }
            });
        }
    });
    (url, most)
}

async fn attempts_of(s: &TestServer, a: &str, key: &str, event: &str) -> Vec<Value> {
    let log = s
        .expect(
            200,
            "GET",
            &format!("/v1/accounts/{a}/events/{event}/attempts"),
            Some(key),
            None,
        )
        .await;
    log["data"].as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flooding_receivers_hold_no_worker_and_are_read_only_so_far() {
    let options = Options {
        retry_schedule: Some("100ms".into()),
        request_timeout: Some("1s".into()),
        endpoint_concurrency: Some(1),
        serve: ServeArgs::default(),
        ..Default::default()
    };
    for s in each_backend(options).await {
        let (a, key) = s.account("Acme").await;
        for flood in [Flood::Headers, Flood::Body, Flood::Silence] {
            let (url, pushed) = flooding_receiver(flood).await;
            s.endpoint(&a, &key, &url, json!({})).await;
            // Three events, one endpoint, one attempt at a time: each must
            // end for the next to start.
            let mut events = Vec::new();
            for _ in 0..3 {
                let event = s
                    .publish(&a, &key, json!({"type": "payment.completed", "data": {}}))
                    .await;
                events.push(event["id"].as_str().unwrap().to_string());
            }
            let (count, success) = flood.expected();
            for event in &events {
                let log = eventually(
                    &format!("{flood:?}: {count} attempts of {event} recorded"),
                    Duration::from_secs(30),
                    || async {
                        let event = s.event(&a, &key, event).await;
                        let done = event["deliveries"][0]["status"] != "pending";
                        done.then_some(())?;
                        Some(attempts_of(&s, &a, &key, event["id"].as_str()?).await)
                    },
                )
                .await;
                assert_eq!(log.len(), count, "{flood:?}: {log:?}");
                for attempt in log {
                    assert_eq!(
                        attempt["outcome"] == "succeeded",
                        success,
                        "{flood:?}: {attempt}"
                    );
                    assert!(attempt["response_body"].as_str().unwrap_or("").len() <= 4096);
                }
            }
            let most = pushed.load(Ordering::SeqCst);
            assert!(
                most < BOUNDED,
                "{flood:?}: the receiver pushed {most} bytes into one attempt"
            );
            s.expect(
                204,
                "DELETE",
                &format!(
                    "/v1/accounts/{a}/endpoints/{}",
                    endpoint_id(&s, &a, &key, &url).await
                ),
                Some(&key),
                None,
            )
            .await;
        }
    }
}

async fn endpoint_id(s: &TestServer, a: &str, key: &str, url: &str) -> String {
    let list = s
        .expect(
            200,
            "GET",
            &format!("/v1/accounts/{a}/endpoints"),
            Some(key),
            None,
        )
        .await;
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["url"] == url)
        .and_then(|e| e["id"].as_str())
        .unwrap()
        .to_string()
}
