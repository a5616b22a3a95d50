//! The rest of Svix's API: a health check, and clear answers for what
//! Hookline does not offer — `501 not_implemented` for Svix operations it
//! does not have (portal access, transformations, replays, …) and `404`
//! for paths Svix does not have either.

use axum::extract::{OriginalUri, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;

use super::error::SvixError;
use crate::state::AppState;

/// Svix operations Hookline answers with 501 (method-independent).
const NOT_OFFERED: &[&str] = &[
    "/api/v1/app/{app_id}/endpoint/{endpoint_id}/msg",
    "/api/v1/app/{app_id}/endpoint/{endpoint_id}/transformation",
    "/api/v1/app/{app_id}/endpoint/{endpoint_id}/send-example",
    "/api/v1/app/{app_id}/endpoint/{endpoint_id}/replay-missing",
    "/api/v1/app/{app_id}/endpoint/{endpoint_id}/bulk-replay",
    "/api/v1/app/{app_id}/endpoint/{endpoint_id}/stats/attempts",
    "/api/v1/app/{app_id}/msg/{msg_id}/content",
    "/api/v1/app/{app_id}/msg/{msg_id}/attempt",
    "/api/v1/app/{app_id}/msg/{msg_id}/attempt/{attempt_id}/content",
    "/api/v1/app/{app_id}/msg/expunge-all-contents",
    "/api/v1/app/{app_id}/msg/precheck/active",
    "/api/v1/auth/{*rest}",
    "/api/v1/background-task",
    "/api/v1/background-task/{task_id}",
    "/api/v1/environment/{*rest}",
    "/api/v1/event-type/import/openapi",
    "/api/v1/integration/{*rest}",
    "/api/v1/app/{app_id}/integration",
    "/api/v1/app/{app_id}/integration/{*rest}",
    "/api/v1/operational-webhook/{*rest}",
    "/api/v1/stats/{*rest}",
    "/api/v1/stream/{*rest}",
    "/api/v1/ingest/{*rest}",
    "/api/v1/connector/{*rest}",
];

/// Health, the 501s and the 404 fallback under `/api/v1`.
pub(super) fn routes() -> Router<AppState> {
    let mut router = Router::new().route("/api/v1/health", get(health));
    for path in NOT_OFFERED {
        router = router.route(path, any(not_offered));
    }
    router.route("/api/v1/{*rest}", any(unknown))
}

/// `204` while the database answers, as Svix's health check.
async fn health(State(state): State<AppState>) -> StatusCode {
    match state.store.ping().await {
        Ok(()) => StatusCode::NO_CONTENT,
        Err(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

async fn not_offered(OriginalUri(uri): OriginalUri) -> Response {
    SvixError::not_implemented(&format!("`{}`", uri.path())).into_response()
}

async fn unknown(OriginalUri(uri): OriginalUri) -> Response {
    SvixError::not_found(&format!("`{}` (not a Svix API path)", uri.path())).into_response()
}
