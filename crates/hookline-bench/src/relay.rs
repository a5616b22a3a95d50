//! The ceiling of the end-to-end delivery figures: a relay that accepts each
//! event over HTTP (`202`) and forwards its body over HTTP to the receiver,
//! with nothing stored, signed or logged in between.
//!
//! Every end-to-end delivery costs at least one request in (the publish) and
//! one request out (the delivery), so on a machine whose cores are shared by
//! publisher, server and receiver this relay bounds what any webhook service
//! can reach there — the baseline counts only the request out. It runs in the
//! benchmark process and uses the same client machinery and limits as a
//! Hookline node: `DeliveryClient` for the forward, at most 512 forwards in
//! flight (the default worker concurrency).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::Router;
use bytes::Bytes;
use hookline_server::delivery::client::DeliveryClient;
use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::progress::note;
use crate::receiver::serve_local;

/// Forwards in flight at most, as a node's default worker concurrency.
const IN_FLIGHT: usize = 512;

struct Forward {
    client: DeliveryClient,
    target: reqwest::Url,
    room: Arc<Semaphore>,
    next_id: AtomicU64,
}

/// A running relay; stops when dropped.
pub(crate) struct Relay {
    addr: SocketAddr,
    shutdown: CancellationToken,
}

impl Relay {
    /// Binds 127.0.0.1 on a free port; every `POST /events` is forwarded to
    /// `target`.
    pub(crate) async fn start(target: &str) -> anyhow::Result<Relay> {
        let forward = Arc::new(Forward {
            client: DeliveryClient::new(Duration::from_secs(10), true),
            target: reqwest::Url::parse(target)?,
            room: Arc::new(Semaphore::new(IN_FLIGHT)),
            next_id: AtomicU64::new(0),
        });
        let app = Router::new()
            .route("/events", post(accept))
            .with_state(forward);
        let (addr, shutdown) = serve_local(app).await?;
        Ok(Relay { addr, shutdown })
    }

    /// Where to publish.
    pub(crate) fn url(&self) -> String {
        format!("http://{}/events", self.addr)
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Takes room for the forward, answers `202` with the event's id and
/// forwards the body in the background, as a node answers before delivering.
async fn accept(State(forward): State<Arc<Forward>>, body: Bytes) -> impl IntoResponse {
    let Ok(permit) = forward.room.clone().acquire_owned().await else {
        return (StatusCode::SERVICE_UNAVAILABLE, String::new()).into_response();
    };
    let id = format!("relay_{}", forward.next_id.fetch_add(1, Ordering::Relaxed));
    let mut headers = HeaderMap::with_capacity(2);
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert("webhook-id", HeaderValue::from_str(&id).expect("ASCII id"));
    let task = forward.clone();
    tokio::spawn(async move {
        let sent = task.client.post(&task.target, headers, body).await;
        drop(permit);
        if sent.status_code != Some(204) {
            note(format_args!(
                "  relay: a forward failed: {:?} {:?}",
                sent.outcome, sent.error
            ));
        }
    });
    (
        StatusCode::ACCEPTED,
        [(header::CONTENT_TYPE, "application/json")],
        format!("{{\"id\":\"{id}\"}}"),
    )
        .into_response()
}
