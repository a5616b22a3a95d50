//! `/v1/event-types`: the catalogue of event types, built in and registered.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use hookline_core::catalogue::is_valid_type_name;
use hookline_core::EventType;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::ApiJson;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_event_types, create_event_type))
}

/// An event type with an example payload.
#[derive(Serialize, ToSchema)]
pub(crate) struct EventTypeOut {
    name: String,
    description: String,
    #[schema(value_type = Object)]
    example: serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    schema: Option<serde_json::Value>,
}

impl From<EventType> for EventTypeOut {
    fn from(t: EventType) -> Self {
        EventTypeOut {
            name: t.name,
            description: t.description,
            example: t.example,
            schema: t.schema,
        }
    }
}

/// The catalogue.
#[derive(Serialize, ToSchema)]
pub(crate) struct EventTypeList {
    data: Vec<EventTypeOut>,
}

/// A custom event type.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateEventType {
    /// `noun.verb`, lowercase: e.g. `invoice.paid` (at most 100 characters).
    #[schema(max_length = 100, pattern = r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")]
    name: String,
    description: String,
    /// A JSON Schema of `data`, enforced at publish (a violation answers
    /// `422` naming the path and the rule); an invalid schema is refused.
    #[schema(value_type = Option<Object>)]
    schema: Option<serde_json::Value>,
    /// An example `data`, used by test sends and `hookline trigger`.
    #[schema(value_type = Option<Object>)]
    example: Option<serde_json::Value>,
}

/// Every event type that can be published.
#[utoipa::path(get, path = "/v1/event-types", tag = "event-types",
    responses((status = 200, body = EventTypeList), (status = 401, body = ErrorBody)))]
async fn list_event_types(State(state): State<AppState>, _caller: Caller) -> Json<EventTypeList> {
    Json(EventTypeList {
        data: state
            .catalogue
            .all()
            .into_iter()
            .map(EventTypeOut::from)
            .collect(),
    })
}

/// Register a custom event type (admin token). Its `schema` must be a valid
/// JSON Schema (no remote references) and its `example` must match it.
#[utoipa::path(post, path = "/v1/event-types", tag = "event-types", request_body = CreateEventType,
    responses((status = 201, body = EventTypeOut), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_event_type(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateEventType>,
) -> ApiResult<(StatusCode, Json<EventTypeOut>)> {
    if caller != Caller::Admin {
        return Err(ApiError::forbidden(
            "registering event types needs the admin token",
        ));
    }
    if !is_valid_type_name(&body.name) {
        return Err(ApiError::invalid_field(
            "name",
            format!("`{}` is not a valid type name: use lowercase words joined by dots, e.g. invoice.paid", body.name),
        ));
    }
    if body.example.as_ref().is_some_and(|e| !e.is_object()) {
        return Err(ApiError::invalid_field(
            "example",
            "`example` must be a JSON object",
        ));
    }
    crate::service::schemas::check_new_type(body.schema.as_ref(), body.example.as_ref())?;
    let event_type = EventType {
        name: body.name,
        description: body.description,
        example: body.example.unwrap_or_else(|| serde_json::json!({})),
        schema: body.schema,
        created_at: Some(chrono::Utc::now()),
    };
    state.catalogue.register(event_type.clone()).await?;
    Ok((StatusCode::CREATED, Json(event_type.into())))
}
