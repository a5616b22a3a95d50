//! The Svix-compatible API under `/api/v1`, so the official Svix SDKs work
//! against Hookline unchanged: applications are accounts, endpoints are
//! endpoints, messages are events (published in the Svix format), attempts
//! are attempts. One file per resource, each mapping Svix's camelCase
//! shapes onto the same service layer the `/v1` API uses; `extract` and
//! `error` hold Svix's conventions (lists, times, 422s), `idempotency`
//! the `idempotency-key` header, `unsupported` clear 501/404 answers for
//! the rest. See docs/migrating-from-svix.md.

mod application;
mod attempt;
mod endpoint;
mod error;
mod event_type;
mod extract;
mod idempotency;
mod message;
mod unsupported;

use axum::Router;
use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

/// The documented routes, with the `idempotency-key` middleware.
pub(super) fn routes(state: AppState) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(application::routes())
        .merge(endpoint::routes())
        .merge(message::routes())
        .merge(attempt::routes())
        .merge(event_type::routes())
        .layer(axum::middleware::from_fn_with_state(
            state,
            idempotency::remember,
        ))
        .layer(axum::middleware::from_fn(svix_method_not_allowed))
}

/// Gives axum's bare `405` Svix's error body (the SDKs parse every error),
/// keeping its `Allow` header.
async fn svix_method_not_allowed(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    if response.status() != axum::http::StatusCode::METHOD_NOT_ALLOWED {
        return response;
    }
    let allow = response.headers().get(axum::http::header::ALLOW).cloned();
    let mut svix = error::SvixError::method_not_allowed(method.as_str(), &path).into_response();
    if let Some(allow) = allow {
        svix.headers_mut().insert(axum::http::header::ALLOW, allow);
    }
    svix
}

/// `error` in Svix's shape, for answers made outside this module's handlers.
pub(super) fn error_response(error: crate::error::ApiError) -> axum::response::Response {
    axum::response::IntoResponse::into_response(error::SvixError::from(error))
}

/// Health, 501s for Svix operations Hookline does not offer, 404 for the rest.
pub(super) fn fallback_routes() -> Router<AppState> {
    unsupported::routes()
}
