//! Serving the API's connections so a slow or idle client cannot hold them:
//! a header-read timeout (which also closes idle keep-alive connections), a
//! body-read timeout, an inactivity timeout on the socket (a client that
//! stops reading the answer) and a cap on connections served at once (more
//! wait in the kernel's listen queue until a slot frees up).
//!
//! This is `axum::serve` with those limits; it knows nothing of the routes.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use http_body_util::{BodyExt, Limited};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_io_timeout::TimeoutStream;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::config::HttpLimits;
use crate::error::ApiError;

/// How long in-flight requests may finish after shutdown begins.
const DRAIN: Duration = Duration::from_secs(10);

/// Pause after a failed accept (e.g. out of file descriptors) before the next.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Serves `router` on `listener` within `limits` until `shutdown`.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: HttpLimits,
    max_body_bytes: usize,
    shutdown: CancellationToken,
) {
    let router = router.layer(axum::middleware::from_fn(move |req, next| {
        read_body_in_time(req, next, limits.body_read_timeout, max_body_bytes)
    }));
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(limits.idle_timeout)
        .keep_alive_timeout(limits.header_read_timeout);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            () = shutdown.cancelled() => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    tracing::warn!(error = %err, "could not accept a connection");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let _ = stream.set_nodelay(true);
        let mut stream = TimeoutStream::new(stream);
        stream.set_read_timeout(Some(limits.idle_timeout));
        stream.set_write_timeout(Some(limits.idle_timeout));
        let io = TokioIo::new(Box::pin(stream));
        // The peer address lets the dashboard believe `X-Forwarded-Proto`
        // only from a trusted proxy (`axum::extract::ConnectInfo`).
        let service =
            TowerToHyperService::new(router.clone().map_request(move |mut request: Request<_>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                request
            }));
        let connection = builder
            .serve_connection_with_upgrades(io, service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // A client that breaks the rules is simply disconnected.
            let _ = connection.await;
            drop(slot);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(DRAIN) => {
            tracing::warn!("connections still open {DRAIN:?} after shutdown began were dropped");
        }
    }
}

/// Reads the whole request body within `timeout` (408) and `max_bytes`
/// (413) before the handler runs, so no handler waits on a slow client.
async fn read_body_in_time(
    req: Request,
    next: Next,
    timeout: Duration,
    max_bytes: usize,
) -> Response {
    let (parts, body) = req.into_parts();
    let read = Limited::new(body, max_bytes).collect();
    let bytes = match tokio::time::timeout(timeout, read).await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(err)) if err.is::<http_body_util::LengthLimitError>() => {
            return ApiError::too_large(max_bytes).into_response();
        }
        Ok(Err(err)) => {
            return ApiError::bad_request(format!("could not read the request body: {err}"))
                .into_response();
        }
        Err(_) => return ApiError::request_timeout(timeout).into_response(),
    };
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}
