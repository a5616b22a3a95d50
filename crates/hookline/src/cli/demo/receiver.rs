//! The demo's receivers: one local HTTP server with a path per merchant
//! endpoint. Every request is verified with `hookline-verify` and printed as
//! one line; `/flaky` fails part of the time so retries are visible.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use hookline_verify::{verify, Headers, Options, Secret};
use rand::Rng;

use super::banner::REMIND_EVERY_LINES;

/// What the receivers saw.
pub(super) struct Summary {
    pub(super) received: u64,
    pub(super) verified: u64,
    pub(super) unverified: u64,
    /// Requests the flaky endpoint answered with 500/503.
    pub(super) failed_on_purpose: u64,
    /// Requests for an event an endpoint had already seen.
    pub(super) retries: u64,
}

/// Shared state of the receivers.
pub(super) struct Receivers {
    failure_ratio: f64,
    secrets: Mutex<HashMap<String, Secret>>,
    seen: Mutex<HashMap<(String, String), u32>>,
    received: AtomicU64,
    verified: AtomicU64,
    unverified: AtomicU64,
    failed_on_purpose: AtomicU64,
    retries: AtomicU64,
    /// Printed after every [`REMIND_EVERY_LINES`] lines, once the banner is out.
    reminder: OnceLock<String>,
}

impl Receivers {
    pub(super) fn new(failure_ratio: f64) -> Self {
        Receivers {
            failure_ratio,
            secrets: Mutex::new(HashMap::new()),
            seen: Mutex::new(HashMap::new()),
            received: AtomicU64::new(0),
            verified: AtomicU64::new(0),
            unverified: AtomicU64::new(0),
            failed_on_purpose: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            reminder: OnceLock::new(),
        }
    }

    /// Verifies requests to `path` with `secret`.
    pub(super) fn trust(&self, path: &str, secret: &str) -> anyhow::Result<()> {
        let secret = Secret::parse(secret).map_err(|e| anyhow::anyhow!("{e}"))?;
        self.secrets
            .lock()
            .expect("not poisoned")
            .insert(path.to_string(), secret);
        Ok(())
    }

    /// From now on, `reminder` follows every [`REMIND_EVERY_LINES`] lines.
    pub(super) fn remind_with(&self, reminder: String) {
        let _ = self.reminder.set(reminder);
    }

    pub(super) fn summary(&self) -> Summary {
        Summary {
            received: self.received.load(Ordering::Relaxed),
            verified: self.verified.load(Ordering::Relaxed),
            unverified: self.unverified.load(Ordering::Relaxed),
            failed_on_purpose: self.failed_on_purpose.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
        }
    }
}

/// Starts the receivers on a free local port.
pub(super) async fn start(state: Arc<Receivers>) -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = axum::Router::new().fallback(receive).with_state(state);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(addr)
}

async fn receive(
    State(state): State<Arc<Receivers>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let path = uri
        .path()
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or("")
        .to_string();
    let webhook = Headers::from_fn(|name| headers.get(name)?.to_str().ok().map(str::to_string));
    let secret = state
        .secrets
        .lock()
        .expect("not poisoned")
        .get(&path)
        .cloned();
    let verified =
        secret.is_some_and(|s| verify(&[s], &webhook, &body, &Options::default()).is_ok());
    let received = state.received.fetch_add(1, Ordering::Relaxed) + 1;
    let counter = if verified {
        &state.verified
    } else {
        &state.unverified
    };
    counter.fetch_add(1, Ordering::Relaxed);
    let id = webhook.id.unwrap_or_default();
    let attempt = {
        let mut seen = state.seen.lock().expect("not poisoned");
        let n = seen.entry((path.clone(), id.clone())).or_default();
        *n += 1;
        *n
    };
    if attempt > 1 {
        state.retries.fetch_add(1, Ordering::Relaxed);
    }
    let status = if path == "flaky" && rand::thread_rng().gen_bool(state.failure_ratio) {
        state.failed_on_purpose.fetch_add(1, Ordering::Relaxed);
        if rand::thread_rng().gen_bool(0.5) {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        }
    } else {
        StatusCode::OK
    };
    let event: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let line = format!(
        "{}  {:<8}  {:<20}  {:<30}  {:>6}  {:<9}  {}",
        chrono::Utc::now().format("%H:%M:%S"),
        path,
        event["type"].as_str().unwrap_or("?"),
        id,
        status.as_u16(),
        if verified { "✓ valid" } else { "✗ INVALID" },
        attempt
    );
    match state.reminder.get() {
        // One print, so no other line lands inside the reminder.
        Some(reminder) if received % REMIND_EVERY_LINES == 0 => println!("{line}\n{reminder}"),
        _ => println!("{line}"),
    }
    status
}
