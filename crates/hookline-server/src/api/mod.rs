//! The HTTP API under `/v1`, plus `/health`, `/metrics` and `/openapi.json`.
//!
//! One file per resource, each with its own routes; handler doc comments and
//! `#[utoipa::path]` attributes feed the OpenAPI document, which is built from
//! the same router that serves the requests, so the two cannot drift. Handlers
//! only convert between wire DTOs and the `service` layer; they never write SQL
//! and never contact receivers.

mod accounts;
mod attempts;
mod endpoints;
mod event_types;
mod events;
mod extract;
mod filters;
mod openapi;
mod operational;
mod portal_sessions;
mod service_routes;
mod svix;

use axum::extract::State;
use axum::Router;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Hookline",
        description = "Self-hosted webhook delivery for payment platforms: publish events, \
                       Hookline signs, delivers, retries and logs them.",
    ),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    tags(
        (name = "accounts", description = "Merchant accounts and their API keys (admin token)"),
        (name = "endpoints", description = "Webhook endpoints of an account"),
        (name = "events", description = "Published events, their deliveries and attempts"),
        (name = "event-types", description = "The event-type catalogue"),
        (name = "portal", description = "Signing merchants in to the embeddable dashboard, and its brand"),
        (name = "operational", description = "The platform's operational webhooks about every account's endpoints (admin token)"),
        (name = "service", description = "Health, metrics and this document"),
        (name = "svix", description = "The Svix-compatible API: the official Svix SDKs work against it \
                                       (see docs/migrating-from-svix.md)"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The API router (with its OpenAPI document served at `/openapi.json`).
pub(crate) fn router(state: AppState) -> Router {
    let (router, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(accounts::routes())
        .merge(endpoints::routes())
        .merge(filters::routes())
        .merge(operational::routes())
        .merge(events::routes())
        .merge(attempts::routes())
        .merge(event_types::routes())
        .merge(portal_sessions::routes())
        .merge(service_routes::routes())
        .merge(svix::routes(state.clone()))
        .split_for_parts();
    let openapi = std::sync::Arc::new(openapi::document(openapi));
    router
        .merge(svix::fallback_routes())
        .route(
            "/openapi.json",
            axum::routing::get(move |State(state): State<AppState>| {
                let doc = openapi.clone();
                async move { axum::Json(openapi::with_catalogue(&doc, state.catalogue.names())) }
            }),
        )
        .layer(axum::middleware::from_fn(extract::refuse_nul_in_uri))
        .with_state(state)
}

/// Routes that only a worker node serves: health and metrics.
pub(crate) fn worker_router(state: AppState) -> Router {
    let (router, _) = OpenApiRouter::new()
        .merge(service_routes::routes())
        .split_for_parts();
    router.with_state(state)
}
