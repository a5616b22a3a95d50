//! `/v1/accounts/{account_id}/filters/test`: tries a payload filter on the
//! catalogue example of a type or on one of the account's events, before
//! it is saved on an endpoint.

use axum::extract::{Path, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{AccountScope, ApiJson};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::scope::Scoped;
use crate::service::filters::{self as service, Sample};
use crate::state::AppState;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(test_filter))
}

/// A filter and what to try it on: `event_id`, or else the catalogue
/// example of `event_type` (`payment.completed` if neither is given).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct FilterTestBody {
    #[schema(value_type = Object)]
    filter: serde_json::Value,
    event_type: Option<String>,
    event_id: Option<String>,
}

/// Whether the sample passes the filter, and the sample itself.
#[derive(Serialize, ToSchema)]
pub(crate) struct FilterTestOut {
    matches: bool,
    /// What was tried: "the catalogue example of …" or "event evt_…".
    sample: String,
    event_type: String,
    #[schema(value_type = Object)]
    data: serde_json::Value,
}

/// Try a payload filter on a catalogue example or an event of the account.
#[utoipa::path(post, path = "/v1/accounts/{account_id}/filters/test", tag = "endpoints",
    request_body = FilterTestBody,
    responses((status = 200, body = FilterTestOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn test_filter(
    State(state): State<AppState>,
    Scoped { account_id, .. }: AccountScope,
    Path(_account_id): Path<String>,
    ApiJson(body): ApiJson<FilterTestBody>,
) -> ApiResult<Json<FilterTestOut>> {
    let sample = match (body.event_id, body.event_type) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "give `event_id` or `event_type`, not both",
            ))
        }
        (Some(id), None) => Sample::Event(id),
        (None, event_type) => {
            Sample::Example(event_type.unwrap_or_else(|| "payment.completed".into()))
        }
    };
    let trial = service::try_filter(&state, &account_id, &body.filter, sample).await?;
    Ok(Json(FilterTestOut {
        matches: trial.matches,
        sample: trial.sample,
        event_type: trial.event_type,
        data: trial.data,
    }))
}
