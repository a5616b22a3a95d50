//! `/v1/accounts/{account_id}/events`: publish, list, inspect deliveries and
//! attempts, resend.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use hookline_core::{format_time, Attempt, Delivery, DeliveryStatus, Event};
use hookline_store::{AttemptsOf, EventFilter, Target};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{AccountScope, ApiJson, ApiQuery, ListParams, ListResponse};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::scope::Scoped;
use crate::service::events::{self as service, NewEvent, Published};
use crate::state::AppState;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_events, publish_event))
        .routes(routes!(get_event))
        .routes(routes!(list_event_attempts))
        .routes(routes!(resend_event))
}

/// An event; `deliveries` appears when one event is read.
#[derive(Serialize, ToSchema)]
pub(crate) struct EventOut {
    id: String,
    #[serde(rename = "type")]
    event_type: String,
    account_id: String,
    #[schema(value_type = Object)]
    data: Box<RawValue>,
    /// The event's own URL (password masked), if it was sent there instead of the endpoints.
    webhook_url: Option<String>,
    /// Orders the event among those with the same key on ordered endpoints.
    #[serde(skip_serializing_if = "Option::is_none")]
    ordering_key: Option<String>,
    created_at: String,
    /// Summary of its deliveries: `pending`, `failed` or `succeeded` (`null` with none).
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    deliveries: Option<Vec<DeliveryOut>>,
}

impl EventOut {
    pub(crate) fn new(
        e: Event,
        status: Option<DeliveryStatus>,
        deliveries: Option<Vec<Delivery>>,
    ) -> Self {
        EventOut {
            data: RawValue::from_string(e.data).unwrap_or_else(|_| {
                RawValue::from_string("null".into()).expect("null is valid JSON")
            }),
            id: e.id,
            event_type: e.event_type,
            account_id: e.account_id,
            webhook_url: e.webhook_url.as_deref().map(hookline_core::net::mask_url),
            ordering_key: e.ordering_key,
            created_at: format_time(e.created_at),
            status: status.map(DeliveryStatus::as_str),
            deliveries: deliveries.map(|d| d.into_iter().map(DeliveryOut::from).collect()),
        }
    }
}

/// One event's delivery to one endpoint or URL.
#[derive(Serialize, ToSchema)]
pub(crate) struct DeliveryOut {
    id: String,
    endpoint_id: Option<String>,
    url: String,
    /// `pending`, `succeeded` or `failed`.
    status: &'static str,
    attempts: u32,
    next_attempt_at: Option<String>,
    last_status_code: Option<u16>,
    /// On an ordered endpoint: the id of the event whose delivery this one
    /// waits behind (the oldest still pending with the same `ordering_key`);
    /// `null` when it waits for nothing.
    waiting_for: Option<String>,
    created_at: String,
    updated_at: String,
}

impl From<Delivery> for DeliveryOut {
    fn from(d: Delivery) -> Self {
        DeliveryOut {
            url: hookline_core::net::mask_url(&d.url),
            id: d.id,
            endpoint_id: d.endpoint_id,
            status: d.status.as_str(),
            attempts: d.attempts,
            next_attempt_at: d
                .next_attempt_at
                .filter(|_| d.status == DeliveryStatus::Pending)
                .map(format_time),
            last_status_code: d.last_status_code,
            waiting_for: d.waiting_for,
            created_at: format_time(d.created_at),
            updated_at: format_time(d.updated_at),
        }
    }
}

/// One HTTP request made for a delivery.
#[derive(Serialize, ToSchema)]
pub(crate) struct AttemptOut {
    id: String,
    delivery_id: String,
    event_id: String,
    endpoint_id: Option<String>,
    url: String,
    /// 1 for a delivery's first attempt.
    attempt: u32,
    started_at: String,
    duration_ms: u64,
    /// `succeeded`, `http_error`, `timeout`, `connection_error` or `blocked`.
    outcome: &'static str,
    status_code: Option<u16>,
    error: Option<String>,
    /// At most 4 KiB of the response.
    response_body: String,
    /// The request's headers as sent, signatures included (a password from
    /// the URL masked); `null` for attempts logged before they were kept.
    request_headers: Option<Vec<HeaderOut>>,
    /// The response's headers (at most 64, 4 KiB in all); `null` as above.
    response_headers: Option<Vec<HeaderOut>>,
}

/// One HTTP header, in the order it was sent or received.
#[derive(Serialize, ToSchema)]
pub(crate) struct HeaderOut {
    name: String,
    value: String,
}

fn headers_out(headers: Vec<(String, String)>) -> Vec<HeaderOut> {
    headers
        .into_iter()
        .map(|(name, value)| HeaderOut { name, value })
        .collect()
}

impl From<Attempt> for AttemptOut {
    fn from(a: Attempt) -> Self {
        let (request_headers, response_headers) = match a.exchange {
            Some(x) => (
                Some(headers_out(x.request_headers)),
                Some(headers_out(x.response_headers)),
            ),
            None => (None, None),
        };
        AttemptOut {
            request_headers,
            response_headers,
            id: a.id,
            delivery_id: a.delivery_id,
            event_id: a.event_id,
            endpoint_id: a.endpoint_id,
            url: a.url,
            attempt: a.attempt,
            started_at: format_time(a.started_at),
            duration_ms: a.duration_ms,
            outcome: a.outcome.as_str(),
            status_code: a.status_code,
            error: a.error,
            response_body: a.response_body,
        }
    }
}

/// An event to publish.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PublishBody {
    /// A catalogue type such as `payment.completed`.
    #[serde(rename = "type")]
    event_type: String,
    /// The event's object; delivered byte for byte.
    #[schema(value_type = Object)]
    data: Box<RawValue>,
    /// Your id (`evt_…`): publishing the same id again is idempotent.
    #[schema(pattern = r"^evt_[A-Za-z0-9_-]{1,100}$")]
    id: Option<String>,
    /// Deliver to this URL only, instead of the account's endpoints.
    webhook_url: Option<String>,
    /// On endpoints with `delivery_order: ordered`, events with the same key
    /// (e.g. the payment id) are delivered one at a time in publish order;
    /// 1 to 256 characters.
    #[schema(min_length = 1, max_length = 256)]
    ordering_key: Option<String>,
}

/// Filters of the event list.
#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct EventListParams {
    /// Only events of this type.
    #[serde(rename = "type")]
    event_type: Option<String>,
    /// Only events whose deliveries sum up to this status (empty: any).
    #[param(pattern = "^(pending|failed|succeeded)?$")]
    status: Option<String>,
    /// Only events whose id, or a string or whole number anywhere in
    /// `data`, is exactly this value (an order or payment id); at most 200
    /// characters (else `422`).
    #[param(max_length = 200)]
    search: Option<String>,
    /// Rows per page, 1 to 250 (default 50).
    #[param(minimum = 1, maximum = 250)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page (empty: the first page).
    #[param(pattern = r"^[0-9]{0,18}$")]
    cursor: Option<String>,
}

/// Which endpoint to resend to.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResendBody {
    /// Only this endpoint; otherwise every endpoint (or URL) the event went to.
    endpoint_id: Option<String>,
}

/// Deliveries created by a resend.
#[derive(Serialize, ToSchema)]
pub(crate) struct ResendOut {
    deliveries: Vec<DeliveryOut>,
}

/// Publish an event: stored durably, then delivered to every subscribed endpoint.
#[utoipa::path(post, path = "/v1/accounts/{account_id}/events", tag = "events", request_body = PublishBody,
    responses((status = 202, body = EventOut), (status = 200, description = "Same id and body published before", body = EventOut),
        (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn publish_event(
    State(state): State<AppState>,
    Scoped { account_id, .. }: AccountScope,
    ApiJson(body): ApiJson<PublishBody>,
) -> ApiResult<(StatusCode, Json<EventOut>)> {
    let new = NewEvent {
        event_type: body.event_type,
        data: body.data.get().to_string(),
        id: body.id,
        webhook_url: body.webhook_url,
        ordering_key: body.ordering_key,
        ..NewEvent::default()
    };
    Ok(
        match service::publish(&state, &account_id, new, Target::Subscribed).await? {
            Published::Created(e) => (StatusCode::ACCEPTED, Json(EventOut::new(e, None, None))),
            Published::AlreadyExisted(e) => (StatusCode::OK, Json(EventOut::new(e, None, None))),
        },
    )
}

/// List events, newest first; `search` finds them by a value inside `data`.
#[utoipa::path(get, path = "/v1/accounts/{account_id}/events", tag = "events", params(EventListParams),
    responses((status = 200, body = ListResponse<EventOut>), (status = 404, body = ErrorBody),
        (status = 422, description = "`search` is longer than 200 characters", body = ErrorBody)))]
async fn list_events(
    State(state): State<AppState>,
    Scoped { account_id, .. }: AccountScope,
    ApiQuery(params): ApiQuery<EventListParams>,
) -> ApiResult<Json<ListResponse<EventOut>>> {
    let status = match params.status.as_deref() {
        None | Some("") => None,
        Some(s) => Some(DeliveryStatus::parse(s).ok_or_else(|| {
            ApiError::bad_request(format!(
                "`status` must be pending, succeeded or failed, not `{s}`"
            ))
        })?),
    };
    let filter = EventFilter {
        event_type: params.event_type.filter(|t| !t.is_empty()),
        status,
        ..EventFilter::default()
    };
    let page = ListParams {
        limit: params.limit,
        cursor: params.cursor,
    }
    .page()?;
    let page = service::find(&state, &account_id, params.search.as_deref(), &filter, page).await?;
    Ok(Json(ListResponse::from_page(page, |l| {
        EventOut::new(l.event, l.status, None)
    })))
}

/// Get an event with its data and deliveries.
#[utoipa::path(get, path = "/v1/accounts/{account_id}/events/{event_id}", tag = "events",
    responses((status = 200, body = EventOut), (status = 404, body = ErrorBody)))]
async fn get_event(
    State(state): State<AppState>,
    Scoped { account_id, .. }: AccountScope,
    Path((_account_id, event_id)): Path<(String, String)>,
) -> ApiResult<Json<EventOut>> {
    let detail = service::detail(&state, &account_id, &event_id).await?;
    Ok(Json(EventOut::new(
        detail.event,
        detail.status,
        Some(detail.deliveries),
    )))
}

/// Every attempt for this event, newest first.
#[utoipa::path(get, path = "/v1/accounts/{account_id}/events/{event_id}/attempts", tag = "events",
    params(ListParams),
    responses((status = 200, body = ListResponse<AttemptOut>), (status = 404, body = ErrorBody)))]
async fn list_event_attempts(
    State(state): State<AppState>,
    Scoped { account_id, .. }: AccountScope,
    Path((_account_id, event_id)): Path<(String, String)>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> ApiResult<Json<ListResponse<AttemptOut>>> {
    let page = state
        .store
        .list_attempts(
            &account_id,
            AttemptsOf::Event(event_id.clone()),
            params.page()?,
        )
        .await
        .map_err(|e| ApiError::from_store(e, &format!("event {event_id}")))?;
    Ok(Json(ListResponse::from_page(page, AttemptOut::from)))
}

/// Deliver the event again, as fresh deliveries.
#[utoipa::path(post, path = "/v1/accounts/{account_id}/events/{event_id}/resend", tag = "events",
    request_body = ResendBody,
    responses((status = 202, body = ResendOut), (status = 404, body = ErrorBody)))]
async fn resend_event(
    State(state): State<AppState>,
    Scoped { account_id, .. }: AccountScope,
    Path((_account_id, event_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<ResendBody>,
) -> ApiResult<(StatusCode, Json<ResendOut>)> {
    let deliveries =
        service::resend(&state, &account_id, &event_id, body.endpoint_id.as_deref()).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(ResendOut {
            deliveries: deliveries.into_iter().map(DeliveryOut::from).collect(),
        }),
    ))
}
