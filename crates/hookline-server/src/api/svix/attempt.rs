//! Message attempts: the attempt log by message and by endpoint, one
//! attempt, and resending a message to one endpoint, in Svix's shapes
//! (`status` 0 success / 2 fail, `responseStatusCode` 0 when no answer came,
//! `triggerType` 1 for resends and recoveries).

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use hookline_core::{format_time, Attempt, AttemptOutcome, Event, Page};
use hookline_store::{AttemptFilter, AttemptsOf, PageRequest};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{SvixError, SvixErrorBody, SvixResult, SvixValidationBody};
use super::extract::{endpoint, message, opt_time, page, SvixApp, SvixList, SvixQuery};
use super::message::{split_types, MessageOut};
use crate::service::events as service;
use crate::state::AppState;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_by_message))
        .routes(routes!(list_by_endpoint))
        .routes(routes!(get_attempt))
        .routes(routes!(resend))
}

/// One attempt to deliver a message to an endpoint.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MessageAttemptOut {
    id: String,
    msg_id: String,
    endpoint_id: String,
    url: String,
    /// At most 4 KiB of the response body.
    response: String,
    /// The HTTP status; 0 when none came (connection error, timeout, blocked).
    response_status_code: u16,
    response_duration_ms: u64,
    /// 0 success, 2 fail (an attempt is never pending).
    status: u8,
    status_text: &'static str,
    /// 0 scheduled (the fan-out and its retries), 1 manual (resend, recover).
    trigger_type: u8,
    timestamp: String,
    /// The message, when asked `with_msg=true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    msg: Option<MessageOut>,
}

impl MessageAttemptOut {
    fn new(a: Attempt, msg: Option<MessageOut>) -> Self {
        let succeeded = a.outcome == AttemptOutcome::Succeeded;
        MessageAttemptOut {
            id: a.id,
            msg_id: a.event_id,
            endpoint_id: a.endpoint_id.unwrap_or_default(),
            url: a.url,
            response: a.response_body,
            response_status_code: a.status_code.unwrap_or(0),
            response_duration_ms: a.duration_ms,
            status: if succeeded { 0 } else { 2 },
            status_text: if succeeded { "success" } else { "fail" },
            trigger_type: u8::from(a.manual),
            timestamp: format_time(a.started_at),
            msg,
        }
    }
}

/// Filters of the attempt lists.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct AttemptListParams {
    /// Items per page, 1 to 250 (default 50).
    limit: Option<u32>,
    /// `iterator` of a page for the page after it, or its `prevIterator`
    /// (`-` and a cursor) for the page just before it.
    iterator: Option<String>,
    /// 0 success, 2 fail (1 pending and 3 sending match no attempt).
    status: Option<u8>,
    /// 0 (no answer), 100, 200, 300, 400 or 500.
    status_code_class: Option<u16>,
    /// Only attempts for messages on this channel.
    channel: Option<String>,
    /// Only attempts to this endpoint (by id or uid; message lists only).
    endpoint_id: Option<String>,
    #[serde(default, deserialize_with = "opt_time")]
    #[param(value_type = Option<String>)]
    before: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default, deserialize_with = "opt_time")]
    #[param(value_type = Option<String>)]
    after: Option<chrono::DateTime<chrono::Utc>>,
    /// Comma-separated event types.
    event_types: Option<String>,
    /// Include each attempt's message (endpoint lists).
    #[serde(default)]
    with_msg: bool,
    /// Include payloads in `msg` (default true).
    with_content: Option<bool>,
    /// Not supported.
    tag: Option<String>,
}

impl AttemptListParams {
    /// The store filter, or `None` when nothing can match (pending, sending).
    fn filter(&self) -> SvixResult<Option<AttemptFilter>> {
        if self.tag.is_some() {
            return Err(SvixError::invalid_query(
                "tag",
                "message tags are not supported by Hookline",
            ));
        }
        let succeeded =
            match self.status {
                None => None,
                Some(0) => Some(true),
                Some(2) => Some(false),
                Some(1 | 3 | 4) => return Ok(None),
                Some(_) => return Err(SvixError::invalid_query(
                    "status",
                    "`status` is 0 (success), 1 (pending), 2 (fail), 3 (sending) or 4 (canceled)",
                )),
            };
        if let Some(class) = self.status_code_class {
            if !matches!(class, 0 | 100 | 200 | 300 | 400 | 500) {
                return Err(SvixError::invalid_query(
                    "status_code_class",
                    "`status_code_class` is 0, 100, 200, 300, 400 or 500",
                ));
            }
        }
        Ok(Some(AttemptFilter {
            succeeded,
            status_code_class: self.status_code_class,
            endpoint_id: None,
            before: self.before,
            after: self.after,
            event_types: split_types(self.event_types.as_deref()),
            channel: self.channel.clone(),
            ..AttemptFilter::default()
        }))
    }

    fn page(&self) -> SvixResult<PageRequest> {
        page(self.limit, self.iterator.as_deref())
    }
}

/// A page of attempts, or an empty one when the filter matches nothing.
async fn attempts(
    state: &AppState,
    account_id: &str,
    of: AttemptsOf,
    filter: Option<AttemptFilter>,
    request: PageRequest,
) -> SvixResult<Page<Attempt>> {
    let Some(filter) = filter else {
        return Ok(Page::empty());
    };
    Ok(state
        .store
        .list_attempts_where(account_id, of, &filter, request)
        .await?)
}

/// Attempts for a message, newest first.
#[utoipa::path(get, path = "/api/v1/app/{app_id}/attempt/msg/{msg_id}", tag = "svix", params(AttemptListParams),
    responses((status = 200, body = SvixList<MessageAttemptOut>), (status = 404, body = SvixErrorBody), (status = 422, body = SvixValidationBody)))]
async fn list_by_message(
    State(state): State<AppState>,
    app: SvixApp,
    Path((_app_id, msg_id)): Path<(String, String)>,
    SvixQuery(params): SvixQuery<AttemptListParams>,
) -> SvixResult<Json<SvixList<MessageAttemptOut>>> {
    let account_id = app.account_id.as_str();
    let event = message(&state, account_id, &msg_id).await?;
    let mut filter = params.filter()?;
    if let (Some(f), Some(ep)) = (filter.as_mut(), &params.endpoint_id) {
        f.endpoint_id = Some(endpoint(&state, account_id, ep).await?.id);
    }
    let request = params.page()?;
    let found = attempts(
        &state,
        account_id,
        AttemptsOf::Event(event.id),
        filter,
        request,
    )
    .await?;
    Ok(Json(SvixList::from_page(found, request.direction, |a| {
        MessageAttemptOut::new(a, None)
    })))
}

/// Attempts to an endpoint, newest first (`with_msg=true` adds each message).
#[utoipa::path(get, path = "/api/v1/app/{app_id}/attempt/endpoint/{endpoint_id}", tag = "svix", params(AttemptListParams),
    responses((status = 200, body = SvixList<MessageAttemptOut>), (status = 404, body = SvixErrorBody), (status = 422, body = SvixValidationBody)))]
async fn list_by_endpoint(
    State(state): State<AppState>,
    app: SvixApp,
    Path((_app_id, endpoint_id)): Path<(String, String)>,
    SvixQuery(params): SvixQuery<AttemptListParams>,
) -> SvixResult<Json<SvixList<MessageAttemptOut>>> {
    let account_id = app.account_id.as_str();
    let ep = endpoint(&state, account_id, &endpoint_id).await?;
    let request = params.page()?;
    let found = attempts(
        &state,
        account_id,
        AttemptsOf::Endpoint(ep.id),
        params.filter()?,
        request,
    )
    .await?;
    let mut messages: HashMap<String, Event> = HashMap::new();
    if params.with_msg {
        for a in &found.items {
            if !messages.contains_key(&a.event_id) {
                let event = state.store.get_event(account_id, &a.event_id).await?;
                messages.insert(a.event_id.clone(), event);
            }
        }
    }
    let with_content = params.with_content.unwrap_or(true);
    Ok(Json(SvixList::from_page(found, request.direction, |a| {
        let msg = messages
            .get(&a.event_id)
            .map(|e| MessageOut::new(e.clone(), with_content));
        MessageAttemptOut::new(a, msg)
    })))
}

/// One attempt of a message.
#[utoipa::path(get, path = "/api/v1/app/{app_id}/msg/{msg_id}/attempt/{attempt_id}", tag = "svix",
    responses((status = 200, body = MessageAttemptOut), (status = 404, body = SvixErrorBody)))]
async fn get_attempt(
    State(state): State<AppState>,
    app: SvixApp,
    Path((_app_id, msg_id, attempt_id)): Path<(String, String, String)>,
) -> SvixResult<Json<MessageAttemptOut>> {
    let account_id = app.account_id.as_str();
    let event = message(&state, account_id, &msg_id).await?;
    // A message has few attempts: walk its log until this one turns up.
    let mut request = PageRequest::first(250);
    loop {
        let found = state
            .store
            .list_attempts(account_id, AttemptsOf::Event(event.id.clone()), request)
            .await?;
        if let Some(a) = found.items.into_iter().find(|a| a.id == attempt_id) {
            return Ok(Json(MessageAttemptOut::new(a, None)));
        }
        match found.next_cursor.and_then(|c| c.parse().ok()) {
            Some(seq) => request.cursor = Some(seq),
            None => return Err(SvixError::not_found(&format!("attempt {attempt_id}"))),
        }
    }
}

/// Send a message again to one endpoint (a fresh delivery, `triggerType` 1);
/// answers `202 {}` as Svix does.
#[utoipa::path(post, path = "/api/v1/app/{app_id}/msg/{msg_id}/endpoint/{endpoint_id}/resend", tag = "svix",
    responses((status = 202, body = Object), (status = 404, body = SvixErrorBody)))]
async fn resend(
    State(state): State<AppState>,
    app: SvixApp,
    Path((_app_id, msg_id, endpoint_id)): Path<(String, String, String)>,
) -> SvixResult<(StatusCode, Json<serde_json::Value>)> {
    let account_id = app.account_id.as_str();
    let event = message(&state, account_id, &msg_id).await?;
    let ep = endpoint(&state, account_id, &endpoint_id).await?;
    service::resend(&state, account_id, &event.id, Some(&ep.id)).await?;
    Ok((StatusCode::ACCEPTED, Json(serde_json::json!({}))))
}
