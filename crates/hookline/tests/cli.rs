//! The CLI through the built binary: `hookline demo` delivers every built-in
//! type with valid signatures and visible retries; `hookline trigger`
//! publishes catalogue examples to a running server.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

const TYPES: [&str; 9] = [
    "payment.completed",
    "payment.failed",
    "payment.confirmed",
    "refund.initiated",
    "refund.completed",
    "refund.confirmed",
    "customer.created",
    "customer.updated",
    "transaction.updated",
];

async fn get(client: &reqwest::Client, url: String, token: &str) -> Value {
    client
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn eventually<F, Fut>(what: &str, deadline: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let end = tokio::time::Instant::now() + deadline;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < end,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_delivers_every_type_with_retries_and_valid_signatures() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_hookline"))
        .args([
            "demo",
            "--duration",
            "20s",
            "--rate",
            "8",
            "--listen",
            "127.0.0.1:0",
            "--failure-ratio",
            "0.4",
        ])
        .arg("--data-dir")
        .arg(dir.path().join("demo"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = lines.clone();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    let field = |prefix: &str| {
        lines.lock().unwrap().iter().find_map(|l| {
            l.trim()
                .strip_prefix(prefix)
                .map(|v| v.split_whitespace().next().unwrap_or("").to_string())
        })
    };
    eventually("the demo banner", Duration::from_secs(30), || async {
        field("Admin token:").is_some()
    })
    .await;
    let admin = field("Admin token:").unwrap();
    let dashboard = field("Dashboard:").unwrap();
    let base = dashboard.trim_end_matches("/dashboard").to_string();
    let account = "acct_demo_merchant";
    let client = reqwest::Client::new();

    for t in TYPES {
        let url = format!("{base}/v1/accounts/{account}/events?type={t}&status=succeeded&limit=1");
        eventually(&format!("a delivered {t}"), Duration::from_secs(25), || {
            let (client, url, admin) = (client.clone(), url.clone(), admin.clone());
            async move {
                get(&client, url, &admin).await["data"]
                    .as_array()
                    .is_some_and(|d| !d.is_empty())
            }
        })
        .await;
    }
    let endpoints = get(
        &client,
        format!("{base}/v1/accounts/{account}/endpoints"),
        &admin,
    )
    .await;
    let flaky = endpoints["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["url"].as_str().unwrap().ends_with("/flaky"))
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let url = format!("{base}/v1/accounts/{account}/endpoints/{flaky}/attempts?limit=250");
    eventually(
        "a retried delivery that then succeeded",
        Duration::from_secs(25),
        || {
            let (client, url, admin) = (client.clone(), url.clone(), admin.clone());
            async move {
                let attempts = get(&client, url, &admin).await;
                attempts["data"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|a| a["attempt"].as_u64() >= Some(2) && a["status_code"] == 200)
            }
        },
    )
    .await;

    let status = child.wait().unwrap();
    reader.join().unwrap();
    assert!(status.success(), "the demo exits cleanly");
    let lines = lines.lock().unwrap();
    let summary = lines
        .iter()
        .find(|l| l.starts_with("demo summary:"))
        .expect("a summary line");
    println!("{summary}");
    assert!(summary.ends_with(" 0 failed verification"), "{summary}");
    assert!(lines.iter().any(|l| l.contains("✓ valid")));
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn trigger(base: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hookline"))
        .arg("trigger")
        .args(args)
        .args(["--url", base, "--token", "trigger-admin"])
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trigger_publishes_catalogue_examples() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = Command::new(env!("CARGO_BIN_EXE_hookline"))
        .arg("serve")
        .env("HOOKLINE_LISTEN", format!("127.0.0.1:{port}"))
        .env(
            "HOOKLINE_DATABASE_URL",
            format!("sqlite://{}/db.sqlite", dir.path().display()),
        )
        .env("HOOKLINE_ADMIN_TOKEN", "trigger-admin")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    eventually("the server", Duration::from_secs(30), || {
        let (client, url) = (client.clone(), format!("{base}/health"));
        async move {
            client
                .get(url)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
        }
    })
    .await;
    let created = client
        .post(format!("{base}/v1/accounts"))
        .bearer_auth("trigger-admin")
        .json(&serde_json::json!({"name": "Shop", "id": "acct_shop"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status().as_u16(), 201);

    // The only account is picked without --account; the example payload is used.
    let (ok, out, err) = trigger(&base, &["refund.confirmed"]);
    assert!(ok, "{out}{err}");
    let id = out
        .split_whitespace()
        .find(|w| w.starts_with("evt_"))
        .expect("prints the event id")
        .to_string();
    assert!(
        out.contains("/dashboard/accounts/acct_shop/events/"),
        "says where to see it: {out}"
    );
    let event = get(
        &client,
        format!("{base}/v1/accounts/acct_shop/events/{id}"),
        "trigger-admin",
    )
    .await;
    assert_eq!(event["type"], "refund.confirmed");
    assert_eq!(
        event["data"]["status"], "confirmed",
        "the catalogue example"
    );

    let (ok, out, _) = trigger(
        &base,
        &[
            "payment.completed",
            "--account",
            "acct_shop",
            "--data",
            r#"{"x":1}"#,
        ],
    );
    assert!(ok);
    let id = out
        .split_whitespace()
        .find(|w| w.starts_with("evt_"))
        .unwrap()
        .to_string();
    let event = get(
        &client,
        format!("{base}/v1/accounts/acct_shop/events/{id}"),
        "trigger-admin",
    )
    .await;
    assert_eq!(event["data"], serde_json::json!({"x": 1}));

    let (ok, _, err) = trigger(&base, &["payment.exploded", "--account", "acct_shop"]);
    assert!(!ok);
    assert!(
        err.contains("unknown event type") && err.contains("payment.completed"),
        "{err}"
    );
    let _ = server.kill();
    let _ = server.wait();
}
