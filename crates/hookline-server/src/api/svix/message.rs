//! `/api/v1/app/{app_id}/msg`: Svix messages, which are Hookline events
//! published in the Svix format (the body delivered is the payload itself,
//! signed with `svix-*` headers too). A message sent here is an event like
//! any other: the dashboard and `/v1` show it.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use hookline_core::{format_time, DeliveryStatus, Event, EventFormat};
use hookline_store::{EventFilter, Target};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::application::{self as app_api, ApplicationIn};
use super::error::{SvixError, SvixErrorBody, SvixResult, SvixValidationBody};
use super::extract::{
    find_application, message, opt_time, page, SvixApp, SvixCaller, SvixJson, SvixList, SvixQuery,
};
use crate::service::events::{self as service, NewEvent, Published};
use crate::state::AppState;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_messages, create_message))
        .routes(routes!(get_message))
        .routes(routes!(list_message_destinations))
}

/// A message (a Hookline event).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MessageOut {
    id: String,
    /// Your own id for it, if you gave one.
    event_id: Option<String>,
    event_type: String,
    /// The payload as sent; `{}` when asked `with_content=false`.
    #[schema(value_type = Object)]
    payload: Box<RawValue>,
    channels: Option<Vec<String>>,
    /// Always `null`: tags are not supported.
    tags: Option<Vec<String>>,
    timestamp: String,
}

impl MessageOut {
    pub(crate) fn new(e: Event, with_content: bool) -> Self {
        let empty = || RawValue::from_string("{}".into()).expect("{} is valid JSON");
        MessageOut {
            payload: if with_content {
                RawValue::from_string(e.data).unwrap_or_else(|_| empty())
            } else {
                empty()
            },
            id: e.id,
            event_id: e.external_id,
            event_type: e.event_type,
            channels: (!e.channels.is_empty()).then_some(e.channels),
            tags: None,
            timestamp: format_time(e.created_at),
        }
    }
}

/// A message to send.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MessageIn {
    /// Any name of 1 to 256 `A-Z a-z 0-9 . _ -` (registered or not, as on Svix).
    event_type: String,
    /// A JSON object, delivered byte for byte as the body.
    #[schema(value_type = Object)]
    payload: Box<RawValue>,
    /// Your own unique id: sending it again answers `409`.
    event_id: Option<String>,
    /// Endpoints that list channels receive it only when it is on one of theirs.
    channels: Option<Vec<String>>,
    /// Creates the application (admin token) when `app_id` names none yet.
    application: Option<ApplicationIn>,
    /// Not supported: must be absent, `null` or empty.
    tags: Option<Vec<String>>,
    /// Not supported (deliveries start at once).
    #[schema(value_type = Option<String>)]
    deliver_at: Option<serde_json::Value>,
    /// Not supported (Hookline keeps events for `HOOKLINE_RETENTION`).
    payload_retention_period: Option<i64>,
    /// Not supported, as `payloadRetentionPeriod`.
    payload_retention_hours: Option<i64>,
    /// Not supported (no transformations).
    #[schema(value_type = Option<Object>)]
    transformations_params: Option<serde_json::Value>,
}

impl MessageIn {
    /// Refuses, by name, the Svix features Hookline does not have.
    fn unsupported(&self) -> SvixResult<()> {
        let refuse = |field: &str, why: &str| Err(SvixError::invalid_body(field, why));
        if self.tags.as_ref().is_some_and(|t| !t.is_empty()) {
            return refuse(
                "tags",
                "message tags are not supported by Hookline; use channels",
            );
        }
        if self.deliver_at.as_ref().is_some_and(|v| !v.is_null()) {
            return refuse(
                "deliverAt",
                "scheduled delivery is not supported by Hookline; messages are delivered at once",
            );
        }
        if self.payload_retention_period.is_some() || self.payload_retention_hours.is_some() {
            return refuse("payloadRetentionPeriod", "per-message retention is not supported; Hookline keeps events for HOOKLINE_RETENTION");
        }
        if self
            .transformations_params
            .as_ref()
            .is_some_and(|v| !v.is_null())
        {
            return refuse(
                "transformationsParams",
                "transformations are not supported by Hookline",
            );
        }
        Ok(())
    }
}

/// `?with_content=`.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ContentParams {
    /// Include the payload (default true).
    #[serde(default = "yes")]
    with_content: bool,
}

fn yes() -> bool {
    true
}

/// Filters of the message list.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct MessageListParams {
    /// Items per page, 1 to 250 (default 50).
    limit: Option<u32>,
    /// `iterator` of a page for the page after it, or its `prevIterator`
    /// (`-` and a cursor) for the page just before it.
    iterator: Option<String>,
    /// Only messages on this channel.
    channel: Option<String>,
    /// Only messages created before this time.
    #[serde(default, deserialize_with = "opt_time")]
    #[param(value_type = Option<String>)]
    before: Option<chrono::DateTime<chrono::Utc>>,
    /// Only messages created after this time.
    #[serde(default, deserialize_with = "opt_time")]
    #[param(value_type = Option<String>)]
    after: Option<chrono::DateTime<chrono::Utc>>,
    /// Include payloads (default true).
    #[serde(default = "yes")]
    with_content: bool,
    /// Comma-separated event types.
    event_types: Option<String>,
    /// Not supported.
    tag: Option<String>,
}

/// Comma-separated names as a list (empty parts dropped).
pub(crate) fn split_types(types: Option<&str>) -> Vec<String> {
    types
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

/// Where a message's delivery to one endpoint stands.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MessageEndpointOut {
    id: String,
    url: String,
    description: String,
    uid: Option<String>,
    disabled: bool,
    filter_types: Option<Vec<String>>,
    event_types: Option<Vec<String>>,
    channels: Option<Vec<String>>,
    rate_limit: Option<u32>,
    throttle_rate: Option<u32>,
    version: u32,
    /// 0 success, 1 pending, 2 fail.
    status: u8,
    status_text: &'static str,
    next_attempt: Option<String>,
    created_at: String,
    updated_at: String,
}

/// Svix's numeric status and its text for a delivery status.
pub(crate) fn delivery_status(status: DeliveryStatus) -> (u8, &'static str) {
    match status {
        DeliveryStatus::Succeeded => (0, "success"),
        DeliveryStatus::Pending => (1, "pending"),
        DeliveryStatus::Failed => (2, "fail"),
    }
}

/// Send a message to the application's endpoints. With `application`, an
/// application that does not exist yet is created first (admin token).
#[utoipa::path(post, path = "/api/v1/app/{app_id}/msg", tag = "svix", params(ContentParams), request_body = MessageIn,
    responses((status = 202, body = MessageOut), (status = 404, body = SvixErrorBody),
        (status = 409, description = "The eventId was used before", body = SvixErrorBody),
        (status = 413, body = SvixErrorBody), (status = 422, body = SvixValidationBody)))]
async fn create_message(
    State(state): State<AppState>,
    caller: SvixCaller,
    Path(app_id): Path<String>,
    SvixQuery(params): SvixQuery<ContentParams>,
    SvixJson(body): SvixJson<MessageIn>,
) -> SvixResult<(StatusCode, Json<MessageOut>)> {
    body.unsupported()?;
    let account_id = match (find_application(&state, &app_id).await?, body.application) {
        (None, Some(mut inline)) => {
            caller.require_admin("creating an application")?;
            if inline.uid.is_none() {
                inline.uid = Some(app_id);
            }
            app_api::create(&state, inline).await?.id
        }
        _ => {
            SvixApp::check(&state, caller, app_id, true)
                .await?
                .account_id
        }
    };
    let new = NewEvent {
        event_type: body.event_type,
        data: body.payload.get().to_string(),
        external_id: body.event_id,
        channels: body.channels.unwrap_or_default(),
        format: EventFormat::Svix,
        ..NewEvent::default()
    };
    match service::publish(&state, &account_id, new, Target::Subscribed).await? {
        Published::Created(event) | Published::AlreadyExisted(event) => Ok((
            StatusCode::ACCEPTED,
            Json(MessageOut::new(event, params.with_content)),
        )),
    }
}

/// List messages, newest first.
#[utoipa::path(get, path = "/api/v1/app/{app_id}/msg", tag = "svix", params(MessageListParams),
    responses((status = 200, body = SvixList<MessageOut>), (status = 404, body = SvixErrorBody), (status = 422, body = SvixValidationBody)))]
async fn list_messages(
    State(state): State<AppState>,
    app: SvixApp,
    Path(_app_id): Path<String>,
    SvixQuery(params): SvixQuery<MessageListParams>,
) -> SvixResult<Json<SvixList<MessageOut>>> {
    if params.tag.is_some() {
        return Err(SvixError::invalid_query(
            "tag",
            "message tags are not supported by Hookline",
        ));
    }
    let account_id = app.account_id.as_str();
    let filter = EventFilter {
        event_types: split_types(params.event_types.as_deref()),
        channel: params.channel,
        before: params.before,
        after: params.after,
        ..EventFilter::default()
    };
    let request = page(params.limit, params.iterator.as_deref())?;
    let found = state
        .store
        .list_events(account_id, &filter, request)
        .await?;
    let with_content = params.with_content;
    Ok(Json(SvixList::from_page(found, request.direction, |l| {
        MessageOut::new(l.event, with_content)
    })))
}

/// Get a message by id or by its `eventId`.
#[utoipa::path(get, path = "/api/v1/app/{app_id}/msg/{msg_id}", tag = "svix", params(ContentParams),
    responses((status = 200, body = MessageOut), (status = 404, body = SvixErrorBody)))]
async fn get_message(
    State(state): State<AppState>,
    app: SvixApp,
    Path((_app_id, msg_id)): Path<(String, String)>,
    SvixQuery(params): SvixQuery<ContentParams>,
) -> SvixResult<Json<MessageOut>> {
    let account_id = app.account_id.as_str();
    let event = message(&state, account_id, &msg_id).await?;
    Ok(Json(MessageOut::new(event, params.with_content)))
}

/// The endpoints a message went to and where each delivery stands (the
/// latest delivery per endpoint).
#[utoipa::path(get, path = "/api/v1/app/{app_id}/msg/{msg_id}/endpoint", tag = "svix",
    responses((status = 200, body = SvixList<MessageEndpointOut>), (status = 404, body = SvixErrorBody)))]
async fn list_message_destinations(
    State(state): State<AppState>,
    app: SvixApp,
    Path((_app_id, msg_id)): Path<(String, String)>,
) -> SvixResult<Json<SvixList<MessageEndpointOut>>> {
    let account_id = app.account_id.as_str();
    let event = message(&state, account_id, &msg_id).await?;
    let deliveries = state.store.list_deliveries(account_id, &event.id).await?;
    let mut latest: Vec<hookline_core::Delivery> = Vec::new();
    for d in deliveries.into_iter().rev() {
        if d.endpoint_id.is_some() && !latest.iter().any(|l| l.endpoint_id == d.endpoint_id) {
            latest.push(d);
        }
    }
    let mut out = Vec::with_capacity(latest.len());
    for d in latest.into_iter().rev() {
        let Some(endpoint_id) = &d.endpoint_id else {
            continue;
        };
        let Ok(ep) = state.store.get_endpoint(account_id, endpoint_id).await else {
            continue; // deleted since
        };
        let (status, status_text) = delivery_status(d.status);
        let types = (!ep.event_types.is_empty()).then_some(ep.event_types);
        out.push(MessageEndpointOut {
            url: hookline_core::net::mask_url(&ep.url),
            id: ep.id,
            description: ep.description,
            uid: ep.uid,
            disabled: ep.disabled,
            filter_types: types.clone(),
            event_types: types,
            channels: (!ep.channels.is_empty()).then_some(ep.channels),
            rate_limit: ep.rate_limit_per_sec,
            throttle_rate: ep.rate_limit_per_sec,
            version: ep.version,
            status,
            status_text,
            next_attempt: d
                .next_attempt_at
                .filter(|_| d.status == DeliveryStatus::Pending)
                .map(format_time),
            created_at: format_time(ep.created_at),
            updated_at: format_time(ep.updated_at),
        });
    }
    Ok(Json(SvixList::all(out)))
}
