//! Failover of a PostgreSQL fleet through the real binary, real receivers
//! and the default liveness settings (heartbeat 2s, dead after 10s, lease
//! 60s): a node killed with attempts in flight has them delivered by
//! another node; a node restarted where it ran takes its own back; a node
//! paused past its heartbeats records nothing over the node that took its
//! work. Each prints how long it took; every wait is a poll with a deadline
//! shorter than the lease, so a takeover by lease expiry would fail.
//! Runs when `HOOKLINE_TEST_PG_URL` is set.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::HeaderMap;
use hookline_testkit::ScratchDatabase;
use serde_json::{json, Value};
use tokio::time::Instant;

const ADMIN: &str = "failover-test-admin";
/// Deliveries in flight when a node dies.
const IN_FLIGHT: usize = 12;
/// Longer than any takeover may take here: the default lease (60s) is
/// what a takeover without liveness would wait.
const DEADLINE: Duration = Duration::from_secs(45);

/// A receiver that holds the first request of each message for `first`
/// (a slow receiver, so attempts are in flight) and answers any later
/// one at once; it counts the requests per `webhook-id`.
#[derive(Clone, Default)]
struct Receiver(Arc<Mutex<HashMap<String, usize>>>);

impl Receiver {
    async fn start(&self, first: Duration) -> String {
        let seen = self.0.clone();
        let app = axum::Router::new().fallback(move |headers: HeaderMap, _body: Bytes| {
            let seen = seen.clone();
            async move {
                let id = headers
                    .get("webhook-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                let n = {
                    let mut seen = seen.lock().unwrap();
                    let n = seen.entry(id).or_default();
                    *n += 1;
                    *n
                };
                if n == 1 {
                    tokio::time::sleep(first).await;
                }
                "ok"
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        url
    }

    /// Messages whose first request arrived.
    fn arrived(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    fn requests(&self) -> HashMap<String, usize> {
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

/// A `hookline serve` process on PostgreSQL with the default liveness and
/// lease settings; its log lines are kept.
struct Node {
    child: Child,
    base: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Node {
    async fn start(database_url: &str, port: u16) -> Node {
        let mut child = Command::new(env!("CARGO_BIN_EXE_hookline"))
            .arg("serve")
            .env("HOOKLINE_LISTEN", format!("127.0.0.1:{port}"))
            .env("HOOKLINE_DATABASE_URL", database_url)
            .env("HOOKLINE_ADMIN_TOKEN", ADMIN)
            .env("HOOKLINE_ALLOW_PRIVATE_NETWORKS", "true")
            // A paused node's requests must outlive its pause, not time out.
            .env("HOOKLINE_REQUEST_TIMEOUT", "25s")
            .env("HOOKLINE_LEASE", "60s")
            .env("RUST_LOG", "warn,hookline_server::delivery=info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the hookline binary starts");
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().unwrap();
        let lines = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        });
        let node = Node {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
        };
        let client = reqwest::Client::new();
        eventually(
            "the node answers /health",
            Duration::from_secs(30),
            || async {
                client
                    .get(format!("{}/health", node.base))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
            },
        )
        .await;
        // Registered in the fleet: it takes work from now on.
        eventually(
            "the node joins the fleet",
            Duration::from_secs(30),
            || async { node.logged("joined the fleet") >= 1 },
        )
        .await;
        node
    }

    /// Log lines containing `needle`.
    fn logged(&self, needle: &str) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(needle))
            .count()
    }

    fn kill9(&mut self) {
        self.child.kill().expect("kill -9");
        let _ = self.child.wait();
    }

    /// Sends `signal` (`STOP`, `CONT`) to the process; answers whether it was delivered.
    fn signal(&self, signal: &str) -> bool {
        Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        // A stopped process is woken first, so it can be killed and reaped.
        self.signal("CONT");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn eventually<F, Fut>(what: &str, deadline: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let end = Instant::now() + deadline;
    while !check().await {
        assert!(Instant::now() < end, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn send(request: reqwest::RequestBuilder) -> (u16, Value) {
    let r = request
        .bearer_auth(ADMIN)
        .send()
        .await
        .expect("the node answers");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// An account with one endpoint at `receiver`; answers the account id.
async fn setup(base: &str, receiver: &str) -> String {
    let client = reqwest::Client::new();
    let (status, account) = send(
        client
            .post(format!("{base}/v1/accounts"))
            .json(&json!({"name": "Failover"})),
    )
    .await;
    assert_eq!(status, 201, "{account}");
    let account = account["id"].as_str().unwrap().to_string();
    let (status, body) = send(
        client
            .post(format!("{base}/v1/accounts/{account}/endpoints"))
            .json(&json!({"url": receiver})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    account
}

/// Publishes `count` events through `base`; answers their ids.
async fn publish(base: &str, account: &str, count: usize) -> Vec<String> {
    let client = reqwest::Client::new();
    let mut ids = Vec::new();
    for n in 0..count {
        let (status, body) = send(
            client
                .post(format!("{base}/v1/accounts/{account}/events"))
                .json(&json!({"type": "payment.completed", "data": {"n": n}})),
        )
        .await;
        assert_eq!(status, 202, "{body}");
        ids.push(body["id"].as_str().unwrap().to_string());
    }
    ids
}

/// Whether every event's deliveries succeeded, asked of `base`.
async fn all_succeeded(base: &str, account: &str, events: &[String]) -> bool {
    let client = reqwest::Client::new();
    for id in events {
        let (_, event) =
            send(client.get(format!("{base}/v1/accounts/{account}/events/{id}"))).await;
        if event["status"] != "succeeded" {
            return false;
        }
    }
    true
}

/// Every attempt row of each event, asked of `base`.
async fn attempt_log(base: &str, account: &str, events: &[String]) -> Vec<(String, Vec<Value>)> {
    let client = reqwest::Client::new();
    let mut log = Vec::new();
    for id in events {
        let (status, body) =
            send(client.get(format!("{base}/v1/accounts/{account}/events/{id}/attempts"))).await;
        assert_eq!(status, 200, "{body}");
        log.push((
            id.clone(),
            body["data"].as_array().cloned().unwrap_or_default(),
        ));
    }
    log
}

/// Asserts one attempt per event, a success: nobody recorded twice.
fn assert_one_success_each(log: &[(String, Vec<Value>)]) {
    for (event, attempts) in log {
        assert_eq!(attempts.len(), 1, "{event}: {attempts:?}");
        assert_eq!(attempts[0]["outcome"], "succeeded", "{event}: {attempts:?}");
    }
}

/// Publishes `IN_FLIGHT` events through `node` and waits until each has
/// reached the (slow) receiver: all are attempts in flight on that node.
async fn in_flight_on(node: &Node, account: &str, receiver: &Receiver) -> Vec<String> {
    let events = publish(&node.base, account, IN_FLIGHT).await;
    eventually(
        "every attempt is in flight",
        Duration::from_secs(30),
        || async { receiver.arrived() == IN_FLIGHT },
    )
    .await;
    events
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_mid_attempt_has_its_deliveries_made_by_another() {
    let Some(database) = ScratchDatabase::create("hookline_failover").await else {
        return;
    };
    let receiver = Receiver::default();
    let url = receiver.start(Duration::from_secs(120)).await;
    let mut doomed = Node::start(&database.url, free_port()).await;
    let survivor = Node::start(&database.url, free_port()).await;
    let account = setup(&doomed.base, &url).await;
    let events = in_flight_on(&doomed, &account, &receiver).await;

    doomed.kill9();
    let killed = Instant::now();
    eventually(
        "the survivor delivered the dead node's work",
        DEADLINE,
        || all_succeeded(&survivor.base, &account, &events),
    )
    .await;
    println!(
        "kill -9 with {IN_FLIGHT} attempts in flight: another node delivered them all {:.1}s after the kill",
        killed.elapsed().as_secs_f64()
    );
    assert_eq!(survivor.logged("declared a silent node dead"), 1);
    assert_one_success_each(&attempt_log(&survivor.base, &account, &events).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_restarted_after_a_crash_takes_back_its_own_deliveries() {
    let Some(database) = ScratchDatabase::create("hookline_failover").await else {
        return;
    };
    let receiver = Receiver::default();
    let url = receiver.start(Duration::from_secs(120)).await;
    // No other node: only the restart can deliver. The default node id
    // (host name and port) is the same again on the same port.
    let port = free_port();
    let mut node = Node::start(&database.url, port).await;
    let account = setup(&node.base, &url).await;
    let events = in_flight_on(&node, &account, &receiver).await;

    node.kill9();
    let restarting = Instant::now();
    let node = Node::start(&database.url, port).await;
    eventually(
        "the restarted node delivered its own work",
        DEADLINE,
        || all_succeeded(&node.base, &account, &events),
    )
    .await;
    println!(
        "restarted after kill -9 with {IN_FLIGHT} attempts in flight: all delivered {:.1}s after the restart began",
        restarting.elapsed().as_secs_f64()
    );
    assert_one_success_each(&attempt_log(&node.base, &account, &events).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_node_records_nothing_over_the_node_that_took_its_work() {
    let Some(database) = ScratchDatabase::create("hookline_failover").await else {
        return;
    };
    let receiver = Receiver::default();
    // The paused node's requests are answered while it is stopped: when it
    // wakes, a success waits for it in every socket.
    let url = receiver.start(Duration::from_secs(2)).await;
    let paused = Node::start(&database.url, free_port()).await;
    let other = Node::start(&database.url, free_port()).await;
    let account = setup(&paused.base, &url).await;
    let events = in_flight_on(&paused, &account, &receiver).await;

    assert!(paused.signal("STOP"));
    let stopped = Instant::now();
    eventually(
        "the other node delivered the paused node's work",
        DEADLINE,
        || all_succeeded(&other.base, &account, &events),
    )
    .await;
    println!(
        "SIGSTOP with {IN_FLIGHT} attempts in flight: another node delivered them all {:.1}s after the pause",
        stopped.elapsed().as_secs_f64()
    );
    let before = attempt_log(&other.base, &account, &events).await;
    assert_one_success_each(&before);

    assert!(paused.signal("CONT"));
    // Awake, it learns it was declared dead, fences itself and joins
    // again; each of its attempts ends stopped or unrecorded (stale).
    eventually(
        "the paused node joins the fleet again",
        DEADLINE,
        || async { paused.logged("joined the fleet") >= 2 },
    )
    .await;
    eventually(
        "each late attempt of the paused node is settled",
        DEADLINE,
        || async {
            paused.logged("attempt stopped: this node was fenced")
                + paused.logged("an attempt finished after this node lost its lease")
                == IN_FLIGHT
        },
    )
    .await;
    let after = attempt_log(&other.base, &account, &events).await;
    assert_eq!(after, before, "the paused node recorded nothing");
    assert!(
        receiver.requests().values().all(|&n| n == 2),
        "each message was sent by both nodes: {:?}",
        receiver.requests()
    );
    for (event, _) in &after {
        let (_, e) = send(reqwest::Client::new().get(format!(
            "{}/v1/accounts/{account}/events/{event}",
            other.base
        )))
        .await;
        assert_eq!(e["deliveries"][0]["attempts"], 1, "{e}");
    }
}
