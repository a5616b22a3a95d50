//! Event pages: the list (newest first, filters, pages), one event with its
//! payload, deliveries and every attempt, a resend button, and a live
//! fragment the page polls while deliveries are pending.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use hookline_core::{format_time, Attempt, Delivery, DeliveryStatus};
use hookline_store::{AttemptsOf, EventFilter, PageRequest};
use serde::Deserialize;

use super::csrf::FormData;
use super::session::Session;
use super::urls::Urls;
use super::{check_csrf, failure, message, page, AccountPage, Layout};
use crate::scope::Scoped;
use crate::service::events as service;
use crate::service::{ServiceError, ServiceResult};
use crate::state::AppState;

/// One attempt as shown.
pub(crate) struct AttemptRow {
    /// The attempt's own page.
    pub(crate) link: String,
    pub(crate) started_at: String,
    pub(crate) attempt: u32,
    pub(crate) result: String,
    pub(crate) ok: bool,
    pub(crate) duration_ms: u64,
    pub(crate) response_body: String,
    pub(crate) endpoint_id: String,
    pub(crate) event_link: String,
    pub(crate) event_id: String,
}

impl AttemptRow {
    pub(crate) fn new(a: Attempt, urls: &Urls<'_>) -> Self {
        let ok = a.outcome == hookline_core::AttemptOutcome::Succeeded;
        let result = match (a.status_code, &a.error) {
            (Some(code), _) => format!("HTTP {code}"),
            (None, Some(error)) => format!("{}: {error}", a.outcome.as_str().replace('_', " ")),
            (None, None) => a.outcome.as_str().into(),
        };
        AttemptRow {
            link: urls.attempt(&a.id),
            started_at: format_time(a.started_at),
            attempt: a.attempt,
            result,
            ok,
            duration_ms: a.duration_ms,
            response_body: a.response_body,
            endpoint_id: a.endpoint_id.unwrap_or_else(|| "event URL".into()),
            event_link: urls.event(&a.event_id),
            event_id: a.event_id,
        }
    }
}

struct EventRow {
    id: String,
    link: String,
    event_type: String,
    created_at: String,
    status: String,
}

#[derive(Deserialize, Default)]
pub(super) struct ListQuery {
    #[serde(rename = "type")]
    event_type: Option<String>,
    status: Option<String>,
    search: Option<String>,
    cursor: Option<String>,
}

#[derive(Template)]
#[template(path = "events.html")]
struct EventsPage {
    layout: Layout,
    base: String,
    rows: Vec<EventRow>,
    types: Vec<String>,
    chosen_type: String,
    chosen_status: String,
    search: String,
    next: String,
}

/// The account's events, newest first.
pub(super) async fn list(
    State(state): State<AppState>,
    Scoped {
        account_id: account,
        who: session,
    }: AccountPage,
    Query(q): Query<ListQuery>,
) -> Response {
    let urls = Urls { account: &account };
    let chosen_type = q.event_type.clone().filter(|t| !t.is_empty());
    let status = q.status.as_deref().and_then(DeliveryStatus::parse);
    let filter = EventFilter {
        event_type: chosen_type.clone(),
        status,
        ..EventFilter::default()
    };
    let request = PageRequest::after(50, q.cursor.as_deref().and_then(|c| c.parse().ok()));
    let search = q
        .search
        .as_deref()
        .map(str::trim)
        .unwrap_or_default()
        .to_string();
    let found = match service::find(&state, &account, Some(&search), &filter, request).await {
        Ok(found) => found,
        Err(err) => return failure(&session, "Could not search", "", &err),
    };
    let next = match found.next_cursor {
        Some(cursor) => {
            let mut query = url::form_urlencoded::Serializer::new(String::new());
            if let Some(t) = &chosen_type {
                query.append_pair("type", t);
            }
            if let Some(s) = status {
                query.append_pair("status", s.as_str());
            }
            if !search.is_empty() {
                query.append_pair("search", &search);
            }
            query.append_pair("cursor", &cursor);
            format!("{}?{}", urls.events(), query.finish())
        }
        None => String::new(),
    };
    let rows = found
        .items
        .into_iter()
        .map(|l| EventRow {
            link: urls.event(&l.event.id),
            id: l.event.id,
            event_type: l.event.event_type,
            created_at: format_time(l.event.created_at),
            status: l
                .status
                .map_or("no deliveries", DeliveryStatus::as_str)
                .to_string(),
        })
        .collect();
    page(&EventsPage {
        layout: Layout::new(&session, "Events", Some(&account), "events"),
        base: urls.events(),
        rows,
        types: state.catalogue.names(),
        chosen_type: chosen_type.unwrap_or_default(),
        chosen_status: status.map(|s| s.as_str().to_string()).unwrap_or_default(),
        search,
        next,
    })
}

struct DeliveryRow {
    endpoint: String,
    endpoint_link: String,
    url: String,
    status: String,
    attempts: u32,
    next_attempt_at: String,
    last_status_code: String,
    /// On an ordered endpoint: the event this delivery waits behind, and
    /// its page (empty when it waits for nothing).
    waiting_for: String,
    waiting_for_link: String,
}

impl DeliveryRow {
    fn new(d: Delivery, urls: &Urls<'_>) -> Self {
        DeliveryRow {
            endpoint_link: d
                .endpoint_id
                .as_deref()
                .map(|id| urls.endpoint(id))
                .unwrap_or_default(),
            endpoint: d
                .endpoint_id
                .unwrap_or_else(|| "the event's own URL".into()),
            url: hookline_core::net::mask_url(&d.url),
            waiting_for_link: d
                .waiting_for
                .as_deref()
                .map(|id| urls.event(id))
                .unwrap_or_default(),
            waiting_for: d.waiting_for.unwrap_or_default(),
            status: d.status.as_str().into(),
            attempts: d.attempts,
            next_attempt_at: d
                .next_attempt_at
                .filter(|_| d.status == DeliveryStatus::Pending)
                .map(format_time)
                .unwrap_or_else(|| "—".into()),
            last_status_code: d
                .last_status_code
                .map(|c| c.to_string())
                .unwrap_or_else(|| "—".into()),
        }
    }
}

#[derive(Template)]
#[template(path = "event_live.html")]
struct LiveFragment {
    base: String,
    csrf: String,
    pending: bool,
    deliveries: Vec<DeliveryRow>,
    attempts: Vec<AttemptRow>,
}

#[derive(Template)]
#[template(path = "event.html")]
struct EventPage {
    layout: Layout,
    id: String,
    event_type: String,
    created_at: String,
    webhook_url: String,
    payload: String,
    live_html: String,
}

async fn live_fragment(
    state: &AppState,
    session: &Session,
    account: &str,
    id: &str,
    deliveries: Vec<Delivery>,
) -> ServiceResult<LiveFragment> {
    let urls = Urls { account };
    let attempts = state
        .store
        .list_attempts(
            account,
            AttemptsOf::Event(id.to_string()),
            PageRequest::first(250),
        )
        .await
        .map_err(ServiceError::store(&format!("event {id}")))?;
    Ok(LiveFragment {
        base: urls.event(id),
        csrf: session.csrf(),
        pending: deliveries
            .iter()
            .any(|d| d.status == DeliveryStatus::Pending),
        deliveries: deliveries
            .into_iter()
            .map(|d| DeliveryRow::new(d, &urls))
            .collect(),
        attempts: attempts
            .items
            .into_iter()
            .map(|a| AttemptRow::new(a, &urls))
            .collect(),
    })
}

/// What a page says when the event is not in the account.
const NO_SUCH_EVENT: &str = "There is no such event in this account.";

/// One event.
pub(super) async fn show(
    State(state): State<AppState>,
    Scoped {
        account_id: account,
        who: session,
    }: AccountPage,
    Path((_, id)): Path<(String, String)>,
) -> Response {
    let detail = match service::detail(&state, &account, &id).await {
        Ok(detail) => detail,
        Err(err) => return failure(&session, "Try again", NO_SUCH_EVENT, &err),
    };
    let event = detail.event;
    let live = match live_fragment(&state, &session, &account, &id, detail.deliveries).await {
        Ok(live) => live,
        Err(err) => return failure(&session, "Try again", NO_SUCH_EVENT, &err),
    };
    let payload = serde_json::from_str::<serde_json::Value>(&event.data)
        .and_then(|v| serde_json::to_string_pretty(&v))
        .unwrap_or(event.data);
    let live_html = match live.render() {
        Ok(html) => html,
        Err(err) => {
            return message(
                &session,
                StatusCode::INTERNAL_SERVER_ERROR,
                "Error",
                &err.to_string(),
            )
        }
    };
    page(&EventPage {
        layout: Layout::new(&session, format!("Event {id}"), Some(&account), "events"),
        id: event.id,
        event_type: event.event_type,
        created_at: format_time(event.created_at),
        webhook_url: event
            .webhook_url
            .as_deref()
            .map(hookline_core::net::mask_url)
            .unwrap_or_default(),
        payload,
        live_html,
    })
}

/// The deliveries and attempts of an event, polled while any is pending.
pub(super) async fn live(
    State(state): State<AppState>,
    Scoped {
        account_id: account,
        who: session,
    }: AccountPage,
    Path((_, id)): Path<(String, String)>,
) -> Response {
    let fragment = match service::deliveries(&state, &account, &id).await {
        Ok(deliveries) => live_fragment(&state, &session, &account, &id, deliveries).await,
        Err(err) => Err(err),
    };
    match fragment {
        Ok(fragment) => page(&fragment),
        Err(err) => failure(&session, "Try again", NO_SUCH_EVENT, &err),
    }
}

/// Resends the event to every endpoint it went to.
pub(super) async fn resend(
    State(state): State<AppState>,
    Scoped {
        account_id: account,
        who: session,
    }: AccountPage,
    Path((_, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let form = FormData::parse(&body);
    if let Err(r) = check_csrf(&session, &form) {
        return r;
    }
    match service::resend(&state, &account, &id, None).await {
        Ok(_) => Redirect::to(&Urls { account: &account }.event(&id)).into_response(),
        Err(err) => failure(&session, "Could not resend", NO_SUCH_EVENT, &err),
    }
}
