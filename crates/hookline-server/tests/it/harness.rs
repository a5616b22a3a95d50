//! The test harness: a real server on an ephemeral port with a real
//! database, real local receivers, and polling with a deadline.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use hookline_server::{App, Config, ServeArgs};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

pub const ADMIN: &str = "test-admin-token";

pub use hookline_testkit::Backend;

/// Generates one test per backend from one body: `name::sqlite`, `name::postgres`;
/// `both!(name, options, |s| …)` starts the servers with `options`.
#[macro_export]
macro_rules! both {
    ($name:ident, |$server:ident| $body:block) => {
        $crate::both!($name, $crate::harness::Options::default(), |$server| $body);
    };
    ($name:ident, $options:expr, |$server:ident| $body:block) => {
        hookline_testkit::both_backends!(
            |backend| $crate::harness::TestServer::start_with(backend, $options),
            $name,
            |$server| $body
        );
    };
}

/// Options of a test server beyond the test defaults.
#[derive(Default, Clone)]
pub struct Options {
    pub retry_schedule: Option<String>,
    pub request_timeout: Option<String>,
    pub allow_private_networks: Option<bool>,
    pub max_payload_bytes: Option<usize>,
    pub endpoint_concurrency: Option<usize>,
    pub worker_concurrency: Option<usize>,
    /// Use this database instead of a fresh one (to share it between
    /// servers, or to use a private PostgreSQL instance).
    pub database_url: Option<String>,
    /// Any other `hookline serve` option.
    pub serve: ServeArgs,
}

/// A running Hookline node; stops when dropped.
pub struct TestServer {
    pub base: String,
    /// The node's `HOOKLINE_DATABASE_URL`.
    pub database_url: String,
    pub http: reqwest::Client,
    shutdown: CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
    _dir: tempfile::TempDir,
    _db: Option<hookline_testkit::ScratchDatabase>,
}

impl TestServer {
    /// A server with test defaults; `None` when the backend is unavailable
    /// (PostgreSQL without `HOOKLINE_TEST_PG_URL`).
    pub async fn start(backend: Backend) -> Option<TestServer> {
        Self::start_with(backend, Options::default()).await
    }

    pub async fn start_with(backend: Backend, options: Options) -> Option<TestServer> {
        let dir = tempfile::tempdir().expect("temp dir");
        let (database_url, db) = match backend {
            Backend::Sqlite => (
                options
                    .database_url
                    .clone()
                    .unwrap_or_else(|| format!("sqlite://{}/hookline.db", dir.path().display())),
                None,
            ),
            Backend::Postgres => match options.database_url.clone() {
                Some(url) => (url, None),
                None => {
                    let db = hookline_testkit::ScratchDatabase::create("hookline_it").await?;
                    (db.url.clone(), Some(db))
                }
            },
        };
        let args = ServeArgs {
            listen: Some("127.0.0.1:0".into()),
            database_url: Some(database_url.clone()),
            admin_token: Some(ADMIN.into()),
            retry_schedule: Some(
                options
                    .retry_schedule
                    .unwrap_or_else(|| "100ms,100ms".into()),
            ),
            request_timeout: Some(options.request_timeout.unwrap_or_else(|| "3s".into())),
            allow_private_networks: Some(options.allow_private_networks.unwrap_or(true)),
            max_payload_bytes: options.max_payload_bytes,
            endpoint_concurrency: options.endpoint_concurrency,
            worker_concurrency: options.worker_concurrency,
            poll_interval: Some("50ms".into()),
            ..options.serve
        };
        let config = Config::from_args(args).expect("test config is valid");
        let app = App::build(config).await.expect("server builds");
        let base = format!("http://{}", app.local_addr());
        let shutdown = CancellationToken::new();
        let token = shutdown.clone();
        let task = tokio::spawn(async move {
            app.run(token).await.expect("server runs");
        });
        Some(TestServer {
            base,
            database_url,
            http: reqwest::Client::new(),
            shutdown,
            task: Some(task),
            _dir: dir,
            _db: db,
        })
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            task.await.expect("server task ends");
        }
    }

    /// Sends a request with `token` and answers status and JSON body (Null if none).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("server answers");
        let status = StatusCode::from_u16(response.status().as_u16()).expect("status");
        let text = response.text().await.expect("body");
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    /// Like `call`, asserting the status.
    pub async fn expect(
        &self,
        status: u16,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Value {
        let (got, value) = self.call(method, path, token, body).await;
        assert_eq!(
            got.as_u16(),
            status,
            "{method} {path} answered {got}: {value}"
        );
        value
    }

    /// A new account and an API key for it.
    pub async fn account(&self, name: &str) -> (String, String) {
        let account = self
            .expect(
                201,
                "POST",
                "/v1/accounts",
                Some(ADMIN),
                Some(json!({"name": name})),
            )
            .await;
        let id = account["id"].as_str().expect("id").to_string();
        let key = self
            .expect(
                201,
                "POST",
                &format!("/v1/accounts/{id}/api-keys"),
                Some(ADMIN),
                None,
            )
            .await;
        (id, key["key"].as_str().expect("key").to_string())
    }

    /// A new endpoint with `extra` fields merged into the body.
    pub async fn endpoint(&self, account: &str, key: &str, url: &str, extra: Value) -> Value {
        let mut body = json!({"url": url});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        self.expect(
            201,
            "POST",
            &format!("/v1/accounts/{account}/endpoints"),
            Some(key),
            Some(body),
        )
        .await
    }

    /// Publishes an event and answers its JSON.
    pub async fn publish(&self, account: &str, key: &str, body: Value) -> Value {
        self.expect(
            202,
            "POST",
            &format!("/v1/accounts/{account}/events"),
            Some(key),
            Some(body),
        )
        .await
    }

    /// The event with its deliveries.
    pub async fn event(&self, account: &str, key: &str, id: &str) -> Value {
        self.expect(
            200,
            "GET",
            &format!("/v1/accounts/{account}/events/{id}"),
            Some(key),
            None,
        )
        .await
    }
}

/// A database that outlives the servers started on it: to restart a node
/// on the same data, or to run several nodes (PostgreSQL) on one database.
pub struct SharedDatabase {
    pub backend: Backend,
    pub url: String,
    _dir: tempfile::TempDir,
    _db: Option<hookline_testkit::ScratchDatabase>,
}

impl SharedDatabase {
    /// A fresh database; `None` for PostgreSQL without `HOOKLINE_TEST_PG_URL`.
    pub async fn create(backend: Backend) -> Option<SharedDatabase> {
        let dir = tempfile::tempdir().expect("temp dir");
        let (url, db) = match backend {
            Backend::Sqlite => (format!("sqlite://{}/shared.db", dir.path().display()), None),
            Backend::Postgres => {
                let db = hookline_testkit::ScratchDatabase::create("hookline_it").await?;
                (db.url.clone(), Some(db))
            }
        };
        Some(SharedDatabase {
            backend,
            url,
            _dir: dir,
            _db: db,
        })
    }

    /// Starts a node on this database with `options`.
    pub async fn server(&self, options: Options) -> TestServer {
        TestServer::start_with(
            self.backend,
            Options {
                database_url: Some(self.url.clone()),
                ..options
            },
        )
        .await
        .expect("the database exists")
    }
}

/// One server per backend with `options` (PostgreSQL only when configured),
/// for tests whose body needs options of its own.
pub async fn each_backend(options: Options) -> Vec<TestServer> {
    let mut servers = Vec::new();
    for backend in [Backend::Sqlite, Backend::Postgres] {
        if let Some(s) = TestServer::start_with(backend, options.clone()).await {
            servers.push(s);
        }
    }
    servers
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Polls `check` until it answers `Some`, failing after `deadline`.
pub async fn eventually<T, F, Fut>(what: &str, deadline: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let end = tokio::time::Instant::now() + deadline;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < end,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// One request a receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
    pub path: String,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

/// How a receiver answers one request.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub delay: Duration,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn status(status: u16) -> Self {
        Reply {
            status,
            delay: Duration::ZERO,
            headers: Vec::new(),
            body: String::new(),
        }
    }

    pub fn delayed(status: u16, delay: Duration) -> Self {
        Reply {
            delay,
            ..Reply::status(status)
        }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn with_body(mut self, body: &str) -> Self {
        self.body = body.into();
        self
    }
}

/// Picks the requests a rule answers.
type Matcher = Box<dyn Fn(&Received) -> bool + Send>;

#[derive(Default)]
struct ReceiverState {
    /// Answer the requests they match, before the script.
    rules: Vec<(Matcher, Reply)>,
    script: VecDeque<Reply>,
    default: Option<Reply>,
    received: Vec<Received>,
}

/// A real HTTP receiver on 127.0.0.1 that records requests and answers
/// from a script (then with its default, 200 unless changed).
#[derive(Clone)]
pub struct Receiver {
    pub addr: SocketAddr,
    state: Arc<Mutex<ReceiverState>>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let state = Arc::new(Mutex::new(ReceiverState::default()));
        let shared = state.clone();
        let app = axum::Router::new().fallback(
            move |uri: axum::http::Uri, headers: HeaderMap, body: Bytes| {
                let state = shared.clone();
                async move {
                    let reply = {
                        let mut s = state.lock().unwrap();
                        let request = Received {
                            headers,
                            body,
                            path: uri.path().to_string(),
                        };
                        let ruled = s
                            .rules
                            .iter()
                            .find(|(matches, _)| matches(&request))
                            .map(|(_, reply)| reply.clone());
                        s.received.push(request);
                        ruled
                            .or_else(|| s.script.pop_front())
                            .or_else(|| s.default.clone())
                            .unwrap_or(Reply::status(200))
                    };
                    tokio::time::sleep(reply.delay).await;
                    let mut response =
                        (StatusCode::from_u16(reply.status).unwrap(), reply.body).into_response();
                    for (name, value) in reply.headers {
                        response.headers_mut().insert(
                            axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                            value.parse().unwrap(),
                        );
                    }
                    response
                }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { addr, state }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Answers these replies first, in order.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.state.lock().unwrap().script.extend(replies);
    }

    /// Answers `reply` to every request `matches` picks (before the script)
    /// until [`Receiver::clear_rules`].
    pub fn answer_when(&self, matches: impl Fn(&Received) -> bool + Send + 'static, reply: Reply) {
        self.state
            .lock()
            .unwrap()
            .rules
            .push((Box::new(matches), reply));
    }

    /// Drops every [`Receiver::answer_when`] rule.
    pub fn clear_rules(&self) {
        self.state.lock().unwrap().rules.clear();
    }

    /// Answers this once the script is used up.
    pub fn set_default(&self, reply: Reply) {
        self.state.lock().unwrap().default = Some(reply);
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    /// Waits until at least `n` requests arrived and answers them.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        let this = self.clone();
        eventually(
            &format!("{n} requests at the receiver"),
            Duration::from_secs(20),
            move || {
                let got = this.received();
                async move { (got.len() >= n).then_some(got) }
            },
        )
        .await
    }
}
