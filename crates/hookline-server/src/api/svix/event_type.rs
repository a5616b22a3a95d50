//! `/api/v1/event-type`: the event-type catalogue in Svix's shape. Built-in
//! and registered types alike; a type's JSON Schema is Svix's version `"1"`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use hookline_core::{format_time, EventType};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{SvixError, SvixErrorBody, SvixResult, SvixValidationBody};
use super::extract::{SvixCaller, SvixJson, SvixList, SvixQuery};
use crate::service::endpoints::is_valid_key;
use crate::state::AppState;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_event_types, create_event_type))
        .routes(routes!(get_event_type))
        // Svix can change or archive a type; Hookline's catalogue is
        // append-only, so these say so instead of a bare 405.
        .route(
            "/api/v1/event-type/{event_type_name}",
            axum::routing::put(not_offered)
                .patch(not_offered)
                .delete(not_offered),
        )
}

/// `PUT`, `PATCH` and `DELETE` of an event type: not offered (register a
/// new type instead).
async fn not_offered(method: axum::http::Method, Path(name): Path<String>) -> SvixError {
    SvixError::not_implemented(&format!(
        "`{method}` of an event type (`{name}`: register a new type instead)"
    ))
}

/// An event type.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SvixEventTypeOut {
    name: String,
    description: String,
    /// `{"1": <JSON Schema>}` when the type has a schema.
    #[schema(value_type = Option<Object>)]
    schemas: Option<serde_json::Value>,
    archived: bool,
    deprecated: bool,
    feature_flag: Option<String>,
    group_name: Option<String>,
    /// When it was registered (the Unix epoch for the built-in catalogue).
    created_at: String,
    updated_at: String,
}

impl From<EventType> for SvixEventTypeOut {
    fn from(t: EventType) -> Self {
        let created = format_time(t.created_at.unwrap_or(DateTime::<Utc>::UNIX_EPOCH));
        SvixEventTypeOut {
            name: t.name,
            description: t.description,
            schemas: t.schema.map(|s| serde_json::json!({ "1": s })),
            archived: false,
            deprecated: false,
            feature_flag: None,
            group_name: None,
            updated_at: created.clone(),
            created_at: created,
        }
    }
}

/// An event type to register (admin token).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SvixEventTypeIn {
    /// 1 to 256 of `A-Z a-z 0-9 . _ -`.
    name: String,
    description: String,
    /// `{"1": <JSON Schema>}`; only version `"1"` is kept. A schema's first
    /// `examples` entry becomes the type's example.
    #[schema(value_type = Option<Object>)]
    schemas: Option<serde_json::Value>,
    /// Not supported: must be absent or false.
    archived: Option<bool>,
    /// Not supported: must be absent or false.
    deprecated: Option<bool>,
    /// Not supported: must be absent or `null`.
    feature_flag: Option<String>,
    /// Not supported: must be absent or `null`.
    group_name: Option<String>,
}

/// `limit` and `iterator` (a type name) of the list. It pages forwards
/// only, with `prevIterator` always `null`, as on Svix's own server: a name
/// may itself start with `-`, so Svix's backward form would be ambiguous.
#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct EventTypeListParams {
    /// Items per page, 1 to 250 (default 50).
    limit: Option<u32>,
    /// `iterator` of the previous page (a type name).
    iterator: Option<String>,
    /// Accepted for compatibility: payload schemas are always included.
    with_content: Option<bool>,
    /// Accepted for compatibility: no type is archived.
    include_archived: Option<bool>,
}

/// List event types by name.
#[utoipa::path(get, path = "/api/v1/event-type", tag = "svix", params(EventTypeListParams),
    responses((status = 200, body = SvixList<SvixEventTypeOut>), (status = 422, body = SvixValidationBody)))]
async fn list_event_types(
    State(state): State<AppState>,
    _caller: SvixCaller,
    SvixQuery(params): SvixQuery<EventTypeListParams>,
) -> SvixResult<Json<SvixList<SvixEventTypeOut>>> {
    let _ = (params.with_content, params.include_archived);
    let limit = params.limit.unwrap_or(50);
    if !(1..=250).contains(&limit) {
        return Err(SvixError::invalid_query(
            "limit",
            "`limit` must be between 1 and 250",
        ));
    }
    let mut types = state.catalogue.all();
    types.sort_by(|a, b| a.name.cmp(&b.name));
    let after = params.iterator.unwrap_or_default();
    let rest: Vec<EventType> = types.into_iter().filter(|t| t.name > after).collect();
    let done = rest.len() <= limit as usize;
    let page: Vec<EventType> = rest.into_iter().take(limit as usize).collect();
    let iterator = (!done)
        .then(|| page.last().map(|t| t.name.clone()))
        .flatten();
    Ok(Json(SvixList {
        data: page.into_iter().map(SvixEventTypeOut::from).collect(),
        iterator,
        prev_iterator: None,
        done,
    }))
}

/// Register an event type (admin token).
#[utoipa::path(post, path = "/api/v1/event-type", tag = "svix", request_body = SvixEventTypeIn,
    responses((status = 201, body = SvixEventTypeOut), (status = 409, body = SvixErrorBody), (status = 422, body = SvixValidationBody)))]
async fn create_event_type(
    State(state): State<AppState>,
    caller: SvixCaller,
    SvixJson(body): SvixJson<SvixEventTypeIn>,
) -> SvixResult<(StatusCode, Json<SvixEventTypeOut>)> {
    caller.require_admin("registering an event type")?;
    if !is_valid_key(&body.name, 256) {
        return Err(SvixError::invalid_body(
            "name",
            "`name` must be 1 to 256 letters, digits, `.`, `_` or `-`",
        ));
    }
    if body.archived == Some(true) || body.deprecated == Some(true) {
        return Err(SvixError::invalid_body(
            "archived",
            "archived and deprecated event types are not supported by Hookline",
        ));
    }
    if body.feature_flag.is_some() || body.group_name.is_some() {
        return Err(SvixError::invalid_body(
            "featureFlag",
            "feature flags and groups of event types are not supported by Hookline",
        ));
    }
    let schema = match body.schemas {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::Object(mut versions)) => {
            let schema = versions.remove("1");
            if !versions.is_empty() || schema.as_ref().is_some_and(|s| !s.is_object()) {
                return Err(SvixError::invalid_body(
                    "schemas",
                    "`schemas` takes one JSON Schema object under version \"1\"",
                ));
            }
            schema
        }
        Some(_) => {
            return Err(SvixError::invalid_body(
                "schemas",
                "`schemas` must be an object such as {\"1\": {…}}",
            ))
        }
    };
    let example = schema
        .as_ref()
        .and_then(|s| s.get("examples"))
        .and_then(|e| e.get(0))
        .filter(|e| e.is_object())
        .cloned()
        .unwrap_or_else(|| serde_json::json!({}));
    let event_type = EventType {
        name: body.name,
        description: body.description,
        example,
        schema,
        created_at: Some(Utc::now()),
    };
    state
        .catalogue
        .register(event_type.clone())
        .await
        .map_err(|e| SvixError::from_store(e, "the event type"))?;
    Ok((StatusCode::CREATED, Json(event_type.into())))
}

/// Get an event type by name.
#[utoipa::path(get, path = "/api/v1/event-type/{event_type_name}", tag = "svix",
    responses((status = 200, body = SvixEventTypeOut), (status = 404, body = SvixErrorBody)))]
async fn get_event_type(
    State(state): State<AppState>,
    _caller: SvixCaller,
    Path(event_type_name): Path<String>,
) -> SvixResult<Json<SvixEventTypeOut>> {
    state
        .catalogue
        .get(&event_type_name)
        .await?
        .map(|t| Json(t.into()))
        .ok_or_else(|| SvixError::not_found(&format!("event type {event_type_name}")))
}
