//! Encryption keys through the built binary: `hookline encryption-key`
//! makes a key; after a rotation (`new,old`) `hookline reseal` moves every
//! secret to the new key, shows its progress, is idempotent, and lets the
//! old key go; `hookline serve` without the sealing key refuses to start
//! and says why; a real node's deliveries (basic auth, a custom header, a
//! signature a real receiver verifies) go on through the whole rotation,
//! and the raw database never holds a secret in the clear. On SQLite and
//! on PostgreSQL.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::HeaderMap;
use serde_json::{json, Value};

use hookline_core::{Account, DeliveryOrder, Endpoint, Id, IdKind, PayloadMode};
use hookline_store::{keyring, OpenOptions, Sealer, SharedStore};
use hookline_testkit::{both_backends, Backend, ScratchDatabase};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A database to run the binary against, removed on drop.
struct Database {
    url: String,
    _dir: tempfile::TempDir,
    _pg: Option<ScratchDatabase>,
}

async fn database(backend: Backend) -> Option<Database> {
    let dir = tempfile::tempdir().unwrap();
    Some(match backend {
        Backend::Sqlite => Database {
            url: format!("sqlite://{}/hookline.db", dir.path().display()),
            _dir: dir,
            _pg: None,
        },
        Backend::Postgres => {
            let pg = ScratchDatabase::create("hookline_keys").await?;
            Database {
                url: pg.url.clone(),
                _dir: dir,
                _pg: Some(pg),
            }
        }
    })
}

async fn open(url: &str, keys: &str) -> SharedStore {
    let options = OpenOptions {
        sealer: Sealer::parse(keys).unwrap(),
        ..OpenOptions::default()
    };
    hookline_store::open_with(url, &options).await.unwrap()
}

fn key_id(keys: &str) -> String {
    Sealer::parse(keys)
        .unwrap()
        .sealing_key_id()
        .unwrap()
        .to_string()
}

fn hookline(args: &[&str], url: &str, keys: &str) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hookline"))
        .args(args)
        .env("HOOKLINE_DATABASE_URL", url)
        .env("HOOKLINE_ENCRYPTION_KEY", keys)
        .env("HOOKLINE_LISTEN", "127.0.0.1:0")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// An account and an endpoint with a URL password and a custom header.
fn endpoint(account: &str) -> Endpoint {
    let now = chrono::Utc::now();
    Endpoint {
        id: Id::generate(IdKind::Endpoint),
        account_id: account.into(),
        url: "https://shop:pa55-Wd7q@receiver.example/hook".into(),
        description: String::new(),
        event_types: Vec::new(),
        disabled: false,
        disabled_reason: None,
        payload: PayloadMode::Full,
        headers: BTreeMap::from([("X-Api-Key".into(), "hdr-k3y-0451".into())]),
        secret: SECRET.into(),
        previous_secret: None,
        previous_secret_expires_at: None,
        rate_limit_per_sec: None,
        metadata: Default::default(),
        failing_since: None,
        filter: None,
        channels: Vec::new(),
        uid: None,
        version: 1,
        delivery_order: DeliveryOrder::Unordered,
        created_at: now,
        updated_at: now,
    }
}

#[test]
fn encryption_key_prints_a_fresh_valid_key() {
    let (ok, first, _) = hookline(&["encryption-key"], "sqlite://unused", "");
    let (_, second, _) = hookline(&["encryption-key"], "sqlite://unused", "");
    assert!(ok);
    assert_ne!(first, second);
    assert!(Sealer::parse(first.trim()).unwrap().is_active());
}

both_backends!(database, reseal_moves_every_secret_to_the_new_key, |db| {
    let (old, new) = (Sealer::generate_key(), Sealer::generate_key());
    let store = open(&db.url, &old).await;
    let now = chrono::Utc::now();
    let account = Account {
        id: Id::generate(IdKind::Account),
        name: "Acme".into(),
        uid: None,
        metadata: Default::default(),
        created_at: now,
        updated_at: now,
    };
    store.create_account(&account, SECRET).await.unwrap();
    let ep = endpoint(&account.id);
    store.create_endpoint(&ep).await.unwrap();
    drop(store);

    let rotation = format!("{new},{old}");
    let (ok, out, err) = hookline(&["reseal", "--batch", "1"], &db.url, &rotation);
    assert!(ok, "{out}{err}");
    assert!(out.contains("endpoints: 1 rows read, 1 re-sealed"), "{out}");
    assert!(out.contains("accounts: 1 rows read, 1 re-sealed"), "{out}");
    assert!(
        out.contains(&format!("key {} seals nothing any more", key_id(&old))),
        "{out}"
    );
    assert!(
        !out.contains(&new) && !err.contains(&new),
        "no key is printed"
    );
    let (ok, out, _) = hookline(&["reseal"], &db.url, &rotation);
    assert!(
        ok && out.contains("endpoints: 1 rows read, 0 re-sealed"),
        "idempotent: {out}"
    );

    // The new key alone opens everything; the old one is forgotten.
    let store = open(&db.url, &new).await;
    let stored = store.get_endpoint(&account.id, &ep.id).await.unwrap();
    assert_eq!(
        (stored.url, stored.headers, stored.secret),
        (ep.url, ep.headers, ep.secret)
    );
    assert_eq!(
        store.account_signing_secret(&account.id).await.unwrap(),
        SECRET
    );
    assert_eq!(
        keyring::registered(store.as_ref()).await.unwrap(),
        vec![key_id(&new)]
    );
    drop(store);

    // A node with only the old key stops at start, saying what to do.
    let (ok, _, err) = hookline(&["serve"], &db.url, &old);
    assert!(!ok);
    assert!(
        err.contains(&format!("sealed with encryption key {}", key_id(&new)))
            && err.contains("HOOKLINE_ENCRYPTION_KEY"),
        "{err}"
    );
    let (ok, _, err) = hookline(&["serve"], &db.url, "not-a-key");
    assert!(!ok && err.contains("is not base64 of 32 bytes"), "{err}");
});

/// What a receiver got: each request's headers and body.
type Inbox = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

/// A receiver on loopback keeping every request; answers its address.
async fn receiver() -> (String, Inbox) {
    let inbox = Inbox::default();
    let kept = inbox.clone();
    let app = axum::Router::new().fallback(move |headers: HeaderMap, body: Bytes| {
        let kept = kept.clone();
        async move {
            kept.lock().unwrap().push((headers, body));
            "ok"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, inbox)
}

/// A `hookline serve` process with `keys` as its `HOOKLINE_ENCRYPTION_KEY`.
struct Node {
    child: std::process::Child,
    base: String,
}

impl Node {
    async fn start(url: &str, keys: &str) -> Node {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(env!("CARGO_BIN_EXE_hookline"))
            .arg("serve")
            .env("HOOKLINE_LISTEN", format!("127.0.0.1:{port}"))
            .env("HOOKLINE_DATABASE_URL", url)
            .env("HOOKLINE_ENCRYPTION_KEY", keys)
            .env("HOOKLINE_ADMIN_TOKEN", ADMIN)
            .env("HOOKLINE_ALLOW_PRIVATE_NETWORKS", "true")
            .env("HOOKLINE_RETRY_SCHEDULE", "200ms,500ms")
            .env("HOOKLINE_POLL_INTERVAL", "100ms")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("the hookline binary starts");
        let node = Node {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = reqwest::get(format!("{}/health", node.base)).await {
                if r.status().is_success() {
                    return node;
                }
            }
            assert!(Instant::now() < deadline, "the node did not become healthy");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sends `body` with the admin token; answers status and JSON.
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = reqwest::Client::new()
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(ADMIN);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.unwrap()
    }

    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Everything the database holds, as text: SQLite's files (database and
/// write-ahead log, free pages included), or a data-only `pg_dump`.
fn raw_database(url: &str) -> String {
    if let Some(path) = url.strip_prefix("sqlite://") {
        let mut raw = Vec::new();
        for file in [path.to_string(), format!("{path}-wal")] {
            raw.extend(std::fs::read(file).unwrap_or_default());
        }
        return String::from_utf8_lossy(&raw).into_owned();
    }
    let out = Command::new("pg_dump")
        .args(["--data-only", "--no-owner", url])
        .output()
        .expect("pg_dump runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Publishes an event and checks the delivery the receiver gets: basic
/// auth, custom header and a signature `secret` verifies.
async fn delivered_and_verified(node: &Node, account: &str, inbox: &Inbox, secret: &str) {
    let before = inbox.lock().unwrap().len();
    let event = node
        .call(
            reqwest::Method::POST,
            &format!("/v1/accounts/{account}/events"),
            Some(json!({"type": "payment.completed", "data": {"amount": 42}})),
        )
        .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let (headers, body) = loop {
        if let Some(got) = inbox.lock().unwrap().get(before).cloned() {
            break got;
        }
        assert!(Instant::now() < deadline, "the event was not delivered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    assert_eq!(header("webhook-id").as_deref(), event["id"].as_str());
    assert_eq!(
        header("authorization").as_deref(),
        Some("Basic c2hvcDpwYTU1LVdkN3E="),
        "shop:{URL_PASSWORD}"
    );
    assert_eq!(header("x-api-key").as_deref(), Some(HEADER_VALUE));
    hookline_verify::verify(
        &[hookline_verify::Secret::parse(secret).unwrap()],
        &hookline_verify::Headers::from_fn(header),
        &body,
        &Default::default(),
    )
    .expect("the receiver verifies the signature");
}

const ADMIN: &str = "keys-test-admin";
const URL_PASSWORD: &str = "pa55-Wd7q";
const HEADER_VALUE: &str = "hdr-k3y-0451";

both_backends!(
    database,
    a_served_endpoint_keeps_verifying_through_a_key_rotation_and_reseal,
    |db| {
        let (old, new) = (Sealer::generate_key(), Sealer::generate_key());
        let (addr, inbox) = receiver().await;
        let node = Node::start(&db.url, &old).await;
        let account = node
            .call(
                reqwest::Method::POST,
                "/v1/accounts",
                Some(json!({"name": "Acme"})),
            )
            .await;
        let account = account["id"].as_str().unwrap().to_string();
        let endpoint = node
            .call(
                reqwest::Method::POST,
                &format!("/v1/accounts/{account}/endpoints"),
                Some(
                    json!({"url": format!("http://shop:{URL_PASSWORD}@{addr}/hook"),
                            "headers": {"X-Api-Key": HEADER_VALUE}}),
                ),
            )
            .await;
        let secret = endpoint["secret"].as_str().unwrap().to_string();
        let account_secret = node
            .call(
                reqwest::Method::GET,
                &format!("/v1/accounts/{account}/signing-secret"),
                None,
            )
            .await["secret"]
            .as_str()
            .unwrap()
            .to_string();
        delivered_and_verified(&node, &account, &inbox, &secret).await;
        let plain = [secret.as_str(), &account_secret, URL_PASSWORD, HEADER_VALUE];
        let raw = raw_database(&db.url);
        assert!(raw.contains(&format!("sealed.v1.{}.", key_id(&old))));
        for value in plain {
            assert!(!raw.contains(value), "`{value}` is in the database");
        }

        // Step 1 of the rotation: the node opens with both keys, seals with the new.
        node.stop();
        let rotation = format!("{new},{old}");
        let mut node = Some(Node::start(&db.url, &rotation).await);
        delivered_and_verified(node.as_ref().unwrap(), &account, &inbox, &secret).await;
        // Step 2: `hookline reseal`, while the node runs on PostgreSQL; a
        // SQLite database belongs to one process, so its node stops for it.
        if db.url.starts_with("sqlite://") {
            node.take().unwrap().stop();
        }
        let url = db.url.clone();
        let keys = rotation.clone();
        let (ok, out, err) =
            tokio::task::spawn_blocking(move || hookline(&["reseal", "--batch", "1"], &url, &keys))
                .await
                .unwrap();
        assert!(ok, "{out}{err}");
        assert!(out.contains("accounts: 1 rows read, 1 re-sealed"), "{out}");
        assert!(out.contains("endpoints: 1 rows read, 1 re-sealed"), "{out}");
        assert!(
            out.contains(&format!("key {} seals nothing any more", key_id(&old))),
            "{out}"
        );
        assert!(
            !out.contains(&old) && !err.contains(&old),
            "no key is printed"
        );
        drop(node);

        // Step 3: the new key alone; deliveries still authenticate and verify.
        let node = Node::start(&db.url, &new).await;
        delivered_and_verified(&node, &account, &inbox, &secret).await;
        let revealed = node
            .call(
                reqwest::Method::GET,
                &format!(
                    "/v1/accounts/{account}/endpoints/{}/secret",
                    endpoint["id"].as_str().unwrap()
                ),
                None,
            )
            .await;
        assert_eq!(revealed["secret"], secret.as_str());
        node.stop();
        let raw = raw_database(&db.url);
        assert!(raw.contains(&format!("sealed.v1.{}.", key_id(&new))));
        if !db.url.starts_with("sqlite://") {
            // SQLite's free pages may keep old row versions until a VACUUM
            // (docs/deploy.md); PostgreSQL's dump holds only live rows.
            assert!(!raw.contains(&format!("sealed.v1.{}.", key_id(&old))));
        }
        for value in plain {
            assert!(!raw.contains(value), "`{value}` is in the database");
        }
    }
);
