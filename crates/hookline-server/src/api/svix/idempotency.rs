//! The `idempotency-key` header: a `POST` repeated with the same key (by
//! the same caller, to the same path) within 12 hours gets the first
//! answer again, without doing anything twice. The Svix SDKs send a fresh
//! key with every `POST` and reuse it when they retry, so a retried
//! request after a lost answer creates nothing new.

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{Duration, Utc};
use hookline_store::StoredResponse;

use super::error::SvixError;
use crate::auth::hash_token;
use crate::error::ApiError;
use crate::state::AppState;

/// How long an answer is kept for its key, as on Svix.
const KEY_LIFETIME_HOURS: i64 = 12;
/// Longest key taken; longer ones are refused.
const MAX_KEY_LEN: usize = 256;
/// Largest answer remembered (the API's answers are far smaller).
const MAX_ANSWER_BYTES: usize = 1 << 20;

/// Marks an answer replayed for a key it was given before.
const REPLAYED: &str = "idempotent-replayed";

/// The middleware, for the Svix-compatible routes.
pub(super) async fn remember(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST {
        return next.run(req).await;
    }
    let Some(key) = req
        .headers()
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
    else {
        return next.run(req).await;
    };
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        return SvixError::invalid(
            &["header", "idempotency-key"],
            format!("`idempotency-key` must be 1 to {MAX_KEY_LEN} characters"),
        )
        .into_response();
    }
    // Keys are the caller's own: scoped by (a hash of) its token and the path.
    let token = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let scope = format!("{}:{}", hash_token(token), req.uri().path());
    let live_since = Utc::now() - Duration::hours(KEY_LIFETIME_HOURS);
    match state
        .store
        .idempotent_response(&scope, &key, live_since)
        .await
    {
        Ok(Some(stored)) => return replay(stored),
        Ok(None) => {}
        Err(e) => return SvixError::from(ApiError::internal(&e)).into_response(),
    }
    let response = next.run(req).await;
    if response.status().is_server_error() {
        // Nothing was done (or it is unknown what was): let a retry try again.
        return response;
    }
    let (parts, body) = response.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_ANSWER_BYTES).await else {
        return SvixError::from(ApiError::internal(&"an answer was too large to remember"))
            .into_response();
    };
    let answer = StoredResponse {
        status: parts.status.as_u16(),
        body: String::from_utf8_lossy(&bytes).into_owned(),
        created_at: Utc::now(),
    };
    match state
        .store
        .save_idempotent_response(&scope, &key, &answer, live_since)
        .await
    {
        // A concurrent request with the same key answered first: the same answer for both.
        Ok(kept) if (kept.status, &kept.body) != (answer.status, &answer.body) => replay(kept),
        Ok(_) => Response::from_parts(parts, Body::from(bytes)),
        Err(e) => {
            tracing::warn!(error = %e, "could not remember an idempotency key's answer");
            Response::from_parts(parts, Body::from(bytes))
        }
    }
}

fn replay(stored: StoredResponse) -> Response {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let mut response = (status, stored.body).into_response();
    let headers = response.headers_mut();
    if !headers.contains_key(axum::http::header::CONTENT_TYPE) || status != StatusCode::NO_CONTENT {
        headers.insert(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    headers.insert(REPLAYED, HeaderValue::from_static("true"));
    response
}
