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

/// A child process whose output lines are collected as they come; killed on drop.
struct Running {
    child: std::process::Child,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Running {
    fn start(command: &mut Command) -> Running {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let collect = |pipe: Box<dyn std::io::Read + Send>| {
            let lines = Arc::new(Mutex::new(Vec::new()));
            let sink = lines.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    sink.lock().unwrap().push(line);
                }
            });
            lines
        };
        let stdout = collect(Box::new(child.stdout.take().unwrap()));
        let stderr = collect(Box::new(child.stderr.take().unwrap()));
        Running {
            child,
            stdout,
            stderr,
        }
    }

    /// The first stdout line containing `needle`.
    fn line(&self, needle: &str) -> Option<String> {
        let lines = self.stdout.lock().unwrap();
        lines.iter().find(|l| l.contains(needle)).cloned()
    }

    /// The last word of the first stdout line containing `needle`.
    fn value(&self, needle: &str) -> Option<String> {
        self.line(needle)
            .and_then(|l| l.split_whitespace().last().map(str::to_string))
    }

    fn output(&self) -> String {
        format!(
            "stdout:\n{}\nstderr:\n{}",
            self.stdout.lock().unwrap().join("\n"),
            self.stderr.lock().unwrap().join("\n")
        )
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// README's Quick start, step by step, with the binary: `serve` with private
/// networks allowed, an account, a key, an endpoint on `hookline listen`,
/// one published event that `listen` prints as verified. The server's log,
/// written to a pipe, carries no colour codes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quick_start_delivers_to_hookline_listen() {
    let dir = tempfile::tempdir().unwrap();
    let server = Running::start(
        Command::new(env!("CARGO_BIN_EXE_hookline"))
            .arg("serve")
            .env("HOOKLINE_ALLOW_PRIVATE_NETWORKS", "true")
            .env("HOOKLINE_LISTEN", "127.0.0.1:0")
            .env(
                "HOOKLINE_DATABASE_URL",
                format!("sqlite://{}/hookline.db", dir.path().display()),
            )
            .env_remove("HOOKLINE_ADMIN_TOKEN")
            .env_remove("NO_COLOR"),
    );
    eventually("the serve banner", Duration::from_secs(30), || async {
        server.line("Admin token").is_some()
    })
    .await;
    let admin = server
        .value("Admin token (shown once")
        .unwrap_or_else(|| panic!("{}", server.output()));
    let dashboard = server.value("Dashboard:").unwrap();
    let base = dashboard.trim_end_matches("/dashboard").to_string();
    let client = reqwest::Client::new();
    let post = |path: &str, token: &str, body: Value| {
        client
            .post(format!("{base}{path}"))
            .bearer_auth(token)
            .json(&body)
            .send()
    };

    let account = post(
        "/v1/accounts",
        &admin,
        serde_json::json!({"name": "Acme Store", "id": "acct_acme"}),
    )
    .await
    .unwrap();
    assert_eq!(account.status().as_u16(), 201);
    let key: Value = post("/v1/accounts/acct_acme/api-keys", &admin, Value::Null)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = key["key"].as_str().unwrap().to_string();
    let port = free_port();
    let endpoint: Value = post(
        "/v1/accounts/acct_acme/endpoints",
        &key,
        serde_json::json!({"url": format!("http://127.0.0.1:{port}/webhooks"),
                           "event_types": ["payment.completed", "refund.completed"]}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let secret = endpoint["secret"]
        .as_str()
        .expect("the secret is shown once");

    let listen = Running::start(Command::new(env!("CARGO_BIN_EXE_hookline")).args([
        "listen",
        "--port",
        &port.to_string(),
        "--secret",
        secret,
    ]));
    eventually("hookline listen", Duration::from_secs(30), || async {
        listen.line("listening on").is_some()
    })
    .await;
    let published = post(
        "/v1/accounts/acct_acme/events",
        &key,
        serde_json::json!({"type": "payment.completed", "id": "evt_order_1042",
                           "data": {"order_id": "1042", "amount": 4999, "currency": "USD"}}),
    )
    .await
    .unwrap();
    assert_eq!(published.status().as_u16(), 202);
    eventually(
        "listen prints the verified webhook",
        Duration::from_secs(30),
        || async {
            listen
                .line("evt_order_1042")
                .is_some_and(|l| l.contains("payment.completed") && l.contains("✓ verified"))
        },
    )
    .await;
    let event = get(
        &client,
        format!("{base}/v1/accounts/acct_acme/events/evt_order_1042"),
        &key,
    )
    .await;
    assert_eq!(event["deliveries"][0]["status"], "succeeded", "{event}");

    let logs = server.stderr.lock().unwrap().join("\n");
    assert!(logs.contains("hookline is serving"), "{logs}");
    assert!(
        !logs.contains('\x1b'),
        "no colour codes in a piped log: {logs}"
    );
}

fn demo(data_dir: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_hookline"))
        .args(["demo", "--duration", "1s", "--listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(data_dir)
        .output()
        .unwrap()
}

#[test]
fn demo_never_empties_a_directory_it_did_not_make() {
    let dir = tempfile::tempdir().unwrap();
    let precious = dir.path().join("precious.txt");
    std::fs::write(&precious, "keep me").unwrap();

    let out = demo(dir.path());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("holds files the demo did not make (precious.txt)")
            && err.contains("--data-dir"),
        "says why and what to do: {err}"
    );
    assert_eq!(std::fs::read_to_string(&precious).unwrap(), "keep me");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn demo_takes_a_new_directory_and_empties_its_own_at_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");

    let out = demo(&data);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        data.join(".hookline-demo").is_file(),
        "marked as the demo's"
    );
    assert!(data.join("hookline.db").is_file());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("demo summary:"), "{stdout}");

    std::fs::write(data.join("left-over"), "from the last run").unwrap();
    let out = demo(&data);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !data.join("left-over").exists(),
        "its own directory is emptied"
    );
    assert!(data.join(".hookline-demo").is_file());

    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = demo(&empty);
    assert!(out.status.success(), "an empty directory is taken");
}
