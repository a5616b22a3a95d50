//! `/v1/accounts/{account_id}/attempts/{attempt_id}`: one attempt with the
//! request exactly as sent, body included (rebuilt from the stored event).

use axum::extract::{Path, State};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::events::AttemptOut;
use super::extract::AccountScope;
use crate::error::{ApiResult, ErrorBody};
use crate::scope::Scoped;
use crate::service::attempts as service;
use crate::state::AppState;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_attempt))
}

/// An attempt and the body its request carried.
#[derive(Serialize, ToSchema)]
pub(crate) struct AttemptDetailOut {
    #[serde(flatten)]
    attempt: AttemptOut,
    /// The request body byte for byte; `null` for attempts logged before
    /// request headers were kept.
    request_body: Option<String>,
}

/// Get one attempt with its request (method `POST`, `url`, headers, body) and response.
#[utoipa::path(get, path = "/v1/accounts/{account_id}/attempts/{attempt_id}", tag = "events",
    responses((status = 200, body = AttemptDetailOut), (status = 404, body = ErrorBody)))]
async fn get_attempt(
    State(state): State<AppState>,
    Scoped { account_id, .. }: AccountScope,
    Path((_account_id, attempt_id)): Path<(String, String)>,
) -> ApiResult<Json<AttemptDetailOut>> {
    let detail = service::detail(&state, &account_id, &attempt_id).await?;
    Ok(Json(AttemptDetailOut {
        attempt: AttemptOut::from(detail.attempt),
        request_body: detail.request_body,
    }))
}
