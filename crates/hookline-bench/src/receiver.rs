//! The fast local receiver every figure is measured against: axum on hyper 1,
//! answering `204` to `POST /ep/{n}` after reading the whole body.
//!
//! It remembers when it first saw each `(endpoint, webhook-id)` pair, so a
//! phase can count unique deliveries (duplicates are counted apart), find the
//! moment the last one arrived, and join receipts with publish times for
//! latency. It verifies no signature: that is the receiver's cost, not ours.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use bytes::Bytes;
use tokio_util::sync::CancellationToken;

use crate::progress::Progress;

/// A delivery as the receiver keys it: endpoint number and `webhook-id`.
pub(crate) type ReceiptKey = (u16, String);

#[derive(Default)]
struct Inbox {
    /// Every request, duplicates included.
    requests: AtomicU64,
    seen: Mutex<Seen>,
}

#[derive(Default)]
struct Seen {
    first_at: HashMap<ReceiptKey, Instant>,
    /// When the earliest and the latest new delivery arrived.
    span: Option<(Instant, Instant)>,
}

/// A running receiver; stops when dropped.
pub(crate) struct Receiver {
    addr: SocketAddr,
    inbox: Arc<Inbox>,
    shutdown: CancellationToken,
}

impl Receiver {
    /// Binds 127.0.0.1 on a free port and starts serving.
    pub(crate) async fn start() -> anyhow::Result<Receiver> {
        let inbox = Arc::new(Inbox::default());
        let app = Router::new()
            .route("/ep/{n}", post(receive))
            .with_state(inbox.clone());
        let (addr, shutdown) = serve_local(app).await?;
        Ok(Receiver {
            addr,
            inbox,
            shutdown,
        })
    }

    /// The URL of endpoint number `n` on this receiver.
    pub(crate) fn url(&self, n: u16) -> String {
        format!("http://{}/ep/{n}", self.addr)
    }

    /// Forgets everything seen so far (between phases).
    pub(crate) fn reset(&self) {
        self.inbox.requests.store(0, Ordering::Relaxed);
        let mut seen = self.inbox.seen.lock().expect("never poisoned");
        seen.first_at = HashMap::new();
        seen.span = None;
    }

    /// Unique deliveries seen since the last reset.
    pub(crate) fn unique(&self) -> usize {
        self.inbox
            .seen
            .lock()
            .expect("never poisoned")
            .first_at
            .len()
    }

    /// Requests seen since the last reset, duplicates included.
    pub(crate) fn requests(&self) -> u64 {
        self.inbox.requests.load(Ordering::Relaxed)
    }

    /// Waits until `expected` unique deliveries have arrived and answers when
    /// the first and the last of them did. Fails if nothing new arrives for
    /// `stall`.
    pub(crate) async fn wait_for(
        &self,
        expected: usize,
        stall: Duration,
        label: &str,
    ) -> anyhow::Result<(Instant, Instant)> {
        let mut progress = Progress::new(label, expected as u64);
        let mut last_count = 0;
        let mut last_change = Instant::now();
        loop {
            let (count, span) = {
                let seen = self.inbox.seen.lock().expect("never poisoned");
                (seen.first_at.len(), seen.span)
            };
            progress.update(count as u64);
            if let Some(span) = span.filter(|_| count >= expected) {
                return Ok(span);
            }
            if count != last_count {
                last_count = count;
                last_change = Instant::now();
            } else if last_change.elapsed() > stall {
                anyhow::bail!(
                    "{label}: the receiver has {count} of {expected} deliveries and none arrived for {stall:?}"
                );
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// When each delivery to endpoint number `n` first arrived, by event id.
    pub(crate) fn receipts_of(&self, n: u16) -> HashMap<String, Instant> {
        let seen = self.inbox.seen.lock().expect("never poisoned");
        seen.first_at
            .iter()
            .filter(|((endpoint, _), _)| *endpoint == n)
            .map(|((_, id), at)| (id.clone(), *at))
            .collect()
    }

    /// When each delivery first arrived, emptying the record.
    pub(crate) fn take_receipts(&self) -> HashMap<ReceiptKey, Instant> {
        let mut seen = self.inbox.seen.lock().expect("never poisoned");
        seen.span = None;
        std::mem::take(&mut seen.first_at)
    }
}

/// Serves `app` on a free port of 127.0.0.1 until the token is cancelled.
pub(crate) async fn serve_local(app: Router) -> anyhow::Result<(SocketAddr, CancellationToken)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(stop.cancelled_owned())
            .await;
    });
    Ok((addr, shutdown))
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

async fn receive(
    State(inbox): State<Arc<Inbox>>,
    Path(n): Path<u16>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let now = Instant::now();
    inbox.requests.fetch_add(1, Ordering::Relaxed);
    let Some(id) = headers.get("webhook-id").and_then(|v| v.to_str().ok()) else {
        return StatusCode::BAD_REQUEST;
    };
    drop(body);
    let mut seen = inbox.seen.lock().expect("never poisoned");
    if let std::collections::hash_map::Entry::Vacant(slot) = seen.first_at.entry((n, id.into())) {
        slot.insert(now);
        let first = seen.span.map_or(now, |(first, _)| first);
        seen.span = Some((first, now));
    }
    StatusCode::NO_CONTENT
}
