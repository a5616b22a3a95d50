//! Crash safety through the real binary: `kill -9` a node mid-stream and
//! check that every accepted event still reaches the receiver (SQLite, one
//! node restarted), and that a fleet of three nodes on one PostgreSQL loses
//! nothing when one of them dies (when `HOOKLINE_TEST_PG_URL` is set).

use std::collections::HashMap;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::HeaderMap;
use hookline_testkit::ScratchDatabase;
use serde_json::{json, Value};

const ADMIN: &str = "crash-test-admin";

/// Counts deliveries per `webhook-id`; answers after a delay so that a
/// backlog is pending when a node is killed.
#[derive(Clone, Default)]
struct Counter(Arc<Mutex<HashMap<String, usize>>>);

impl Counter {
    async fn start(&self, delay: Duration) -> String {
        let counts = self.0.clone();
        let app = axum::Router::new().fallback(move |headers: HeaderMap, _body: Bytes| {
            let counts = counts.clone();
            async move {
                tokio::time::sleep(delay).await;
                if let Some(id) = headers.get("webhook-id").and_then(|v| v.to_str().ok()) {
                    *counts.lock().unwrap().entry(id.to_string()).or_default() += 1;
                }
                "ok"
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        url
    }

    fn snapshot(&self) -> HashMap<String, usize> {
        self.0.lock().unwrap().clone()
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `hookline serve` process.
struct Node {
    child: Child,
    base: String,
}

impl Node {
    async fn start(database_url: &str) -> Node {
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_hookline"))
            .arg("serve")
            .env("HOOKLINE_LISTEN", format!("127.0.0.1:{port}"))
            .env("HOOKLINE_DATABASE_URL", database_url)
            .env("HOOKLINE_ADMIN_TOKEN", ADMIN)
            .env("HOOKLINE_ALLOW_PRIVATE_NETWORKS", "true")
            .env("HOOKLINE_RETRY_SCHEDULE", "200ms,500ms,1s,2s,5s")
            .env("HOOKLINE_REQUEST_TIMEOUT", "2s")
            .env("HOOKLINE_LEASE", "5s")
            .env("HOOKLINE_POLL_INTERVAL", "100ms")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("the hookline binary starts");
        let node = Node {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let client = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = client.get(format!("{}/health", node.base)).send().await {
                if r.status().is_success() {
                    return node;
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "node did not become healthy"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn kill9(&mut self) {
        // SIGKILL: no graceful shutdown, no flush, like a power cut to the process.
        self.child.kill().expect("kill -9");
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn post(client: &reqwest::Client, url: String, token: &str, body: Value) -> (u16, Value) {
    match client.post(url).bearer_auth(token).json(&body).send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            (status, r.json().await.unwrap_or(Value::Null))
        }
        Err(_) => (0, Value::Null),
    }
}

/// Creates an account with one endpoint at `receiver`; answers the account id.
async fn setup(base: &str, receiver: &str) -> String {
    let client = reqwest::Client::new();
    let (status, account) = post(
        &client,
        format!("{base}/v1/accounts"),
        ADMIN,
        json!({"name": "Crash"}),
    )
    .await;
    assert_eq!(status, 201);
    let account = account["id"].as_str().unwrap().to_string();
    let (status, _) = post(
        &client,
        format!("{base}/v1/accounts/{account}/endpoints"),
        ADMIN,
        json!({"url": receiver}),
    )
    .await;
    assert_eq!(status, 201);
    account
}

/// Concurrent publishers of an ingest burst.
const PUBLISHERS: usize = 32;

/// Publishes `count` events with ids `evt_{tag}_{n}` round-robin over `bases`,
/// `PUBLISHERS` at a time; answers the ids that were accepted (202).
async fn publish(
    bases: Vec<String>,
    account: String,
    tag: &'static str,
    count: usize,
    accepted: Arc<Mutex<Vec<String>>>,
) {
    let client = reqwest::Client::new();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..PUBLISHERS {
        let (client, bases, account, next, accepted) = (
            client.clone(),
            bases.clone(),
            account.clone(),
            next.clone(),
            accepted.clone(),
        );
        workers.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if n >= count {
                    return;
                }
                let id = format!("evt_{tag}_{n}");
                let base = &bases[n % bases.len()];
                let body = json!({"type": "payment.completed", "id": id, "data": {"n": n}});
                let (status, _) = post(
                    &client,
                    format!("{base}/v1/accounts/{account}/events"),
                    ADMIN,
                    body,
                )
                .await;
                if status == 202 {
                    accepted.lock().unwrap().push(id);
                }
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
}

async fn wait_all_delivered(
    counter: &Counter,
    accepted: &[String],
    deadline: Duration,
) -> HashMap<String, usize> {
    let end = tokio::time::Instant::now() + deadline;
    loop {
        let got = counter.snapshot();
        let missing = accepted.iter().filter(|id| !got.contains_key(*id)).count();
        if missing == 0 {
            return got;
        }
        assert!(
            tokio::time::Instant::now() < end,
            "{missing} of {} accepted events never arrived",
            accepted.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_stream_loses_no_accepted_event() {
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}/hookline.db", dir.path().display());
    let counter = Counter::default();
    let receiver = counter.start(Duration::from_millis(100)).await;
    let mut node = Node::start(&database_url).await;
    let account = setup(&node.base, &receiver).await;

    let accepted = Arc::new(Mutex::new(Vec::new()));
    let publishing = tokio::spawn(publish(
        vec![node.base.clone()],
        account.clone(),
        "crash",
        2000,
        accepted.clone(),
    ));
    // Kill once a good part of the stream was accepted, while it continues.
    let end = tokio::time::Instant::now() + Duration::from_secs(60);
    while accepted.lock().unwrap().len() < 300 {
        assert!(
            tokio::time::Instant::now() < end,
            "publishing made no progress"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    node.kill9();
    publishing.await.unwrap();
    let accepted = accepted.lock().unwrap().clone();
    let before_restart = counter.snapshot().len();

    let _restarted = Node::start(&database_url).await;
    let got = wait_all_delivered(&counter, &accepted, Duration::from_secs(90)).await;
    let duplicates: usize = got.values().map(|n| n - 1).sum();
    println!(
        "kill -9 during a {PUBLISHERS}-publisher burst: accepted {}, delivered {} ({before_restart} before the kill), {duplicates} duplicate deliveries",
        accepted.len(),
        accepted.iter().filter(|id| got.contains_key(*id)).count()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_of_three_loses_nothing_when_one_node_dies() {
    let Some(database) = ScratchDatabase::create("hookline_crash").await else {
        return;
    };
    let counter = Counter::default();
    let receiver = counter.start(Duration::from_millis(50)).await;
    let mut nodes = vec![
        Node::start(&database.url).await,
        Node::start(&database.url).await,
        Node::start(&database.url).await,
    ];
    let account = setup(&nodes[0].base, &receiver).await;
    let bases: Vec<String> = nodes.iter().map(|n| n.base.clone()).collect();
    let accepted = Arc::new(Mutex::new(Vec::new()));
    let publishing = tokio::spawn(publish(bases, account, "fleet", 1000, accepted.clone()));
    let end = tokio::time::Instant::now() + Duration::from_secs(60);
    while accepted.lock().unwrap().len() < 300 {
        assert!(
            tokio::time::Instant::now() < end,
            "publishing made no progress"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    nodes[2].kill9();
    publishing.await.unwrap();
    let accepted = accepted.lock().unwrap().clone();
    assert!(
        accepted.len() >= 600,
        "the two live nodes keep accepting ({} accepted)",
        accepted.len()
    );
    // The dead node's leases expire (HOOKLINE_LEASE=5s) and a live node finishes its work.
    let got = wait_all_delivered(&counter, &accepted, Duration::from_secs(120)).await;
    let duplicates: usize = got.values().map(|n| n - 1).sum();
    println!(
        "fleet of 3, one killed: {} of 1000 publishes accepted, all delivered, {duplicates} duplicate deliveries",
        accepted.len()
    );
    drop(nodes);
}
