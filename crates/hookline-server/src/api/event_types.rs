//! `/v1/event-types`: the catalogue of event types, built in and registered.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use hookline_core::EventType;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::ApiJson;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::service::event_types::{self as service, NewType, TypeChanges};
use crate::state::AppState;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_event_types, create_event_type))
        .routes(routes!(get_event_type, update_event_type))
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
    responses((status = 201, body = EventTypeOut), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_event_type(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateEventType>,
) -> ApiResult<(StatusCode, Json<EventTypeOut>)> {
    let new = NewType {
        name: body.name,
        description: body.description,
        schema: body.schema,
        example: body.example,
    };
    let event_type = service::register(&state, &caller, new).await?;
    Ok((StatusCode::CREATED, Json(event_type.into())))
}

/// One event type, with its example and schema.
#[utoipa::path(get, path = "/v1/event-types/{name}", tag = "event-types",
    responses((status = 200, body = EventTypeOut), (status = 404, body = ErrorBody)))]
async fn get_event_type(
    State(state): State<AppState>,
    _caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<EventTypeOut>> {
    let what = format!("event type {name}");
    let found = state
        .catalogue
        .get(&name)
        .await
        .map_err(|e| ApiError::from_store(e, &what))?
        .ok_or_else(|| ApiError::not_found(&what))?;
    Ok(Json(found.into()))
}

/// Changes to a custom event type; each field given replaces the stored one.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateEventType {
    description: Option<String>,
    /// A JSON Schema of `data`; `null` removes the schema.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Object>)]
    schema: Option<Option<serde_json::Value>>,
    #[schema(value_type = Option<Object>)]
    example: Option<serde_json::Value>,
}

/// Tells a field given as `null` (`Some(None)`) from one left out (`None`).
fn present<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<serde_json::Value>>, D::Error> {
    Option::<serde_json::Value>::deserialize(d).map(Some)
}

/// Change a custom event type's description, schema or example (admin
/// token), by the rules of registering one: the schema must be valid and the
/// example must match it. Built-in types answer `409`.
#[utoipa::path(patch, path = "/v1/event-types/{name}", tag = "event-types", request_body = UpdateEventType,
    responses((status = 200, body = EventTypeOut), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_event_type(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<UpdateEventType>,
) -> ApiResult<Json<EventTypeOut>> {
    let changes = TypeChanges {
        description: body.description,
        schema: body.schema,
        example: body.example,
    };
    let event_type = service::update(&state, &caller, &name, changes).await?;
    Ok(Json(event_type.into()))
}
