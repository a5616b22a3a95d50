//! `/health` and `/metrics`.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use chrono::Utc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(metrics))
}

/// `200` when the database answers, `503` otherwise. Needs no token.
#[utoipa::path(get, path = "/health", tag = "service", security(()),
    responses((status = 200, description = "healthy"), (status = 503, body = ErrorBody)))]
async fn health(State(state): State<AppState>) -> ApiResult<impl IntoResponse> {
    state.store.ping().await?;
    Ok((
        StatusCode::OK,
        axum::Json(serde_json::json!({"status": "ok", "database": state.store.backend()})),
    ))
}

/// Prometheus metrics (admin token).
#[utoipa::path(get, path = "/metrics", tag = "service",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain"), (status = 401, body = ErrorBody)))]
async fn metrics(State(state): State<AppState>, caller: Caller) -> ApiResult<impl IntoResponse> {
    if caller != Caller::Admin {
        return Err(ApiError::forbidden("/metrics needs the admin token"));
    }
    let stats = state.store.pending_stats().await?;
    let oldest_age = stats
        .oldest_created_at
        .map_or(0, |t| (Utc::now() - t).num_seconds().max(0));
    let body = state
        .metrics
        .render(stats.pending, oldest_age, state.store.writer_stats());
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    ))
}
