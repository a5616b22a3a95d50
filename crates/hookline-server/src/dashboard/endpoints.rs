//! Endpoint pages: the table, add/edit forms with errors beside fields,
//! enable/disable, delete with confirmation, secret reveal and rotation,
//! test sends, and a 24-hour chart of delivery successes and failures.

use std::collections::BTreeMap;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use chrono::{Duration, DurationRound, Utc};
use hookline_core::{format_time, Endpoint, PayloadMode};
use hookline_store::{AttemptsOf, HourlyStats, PageRequest};

use super::csrf::FormData;
use super::events::AttemptRow;
use super::session::Session;
use super::urls::Urls;
use super::{check_csrf, message, page, page_with_status, scope, Layout};
use crate::error::ApiError;
use crate::service::endpoints::{self as service, EndpointInput};
use crate::service::events as event_service;
use crate::state::AppState;

/// One row of the endpoints table.
pub(crate) struct EndpointRow {
    pub(crate) id: String,
    pub(crate) url: String,
    pub(crate) description: String,
    pub(crate) types: String,
    pub(crate) disabled: bool,
    pub(crate) disabled_reason: String,
    pub(crate) success_rate: String,
}

fn types_label(types: &[String]) -> String {
    if types.is_empty() {
        "All event types".into()
    } else {
        types.join(", ")
    }
}

fn rate_label(stats: &[HourlyStats]) -> String {
    let ok: u64 = stats.iter().map(|s| s.succeeded).sum();
    let total: u64 = stats.iter().map(|s| s.succeeded + s.failed).sum();
    if total == 0 {
        "no attempts yet".into()
    } else {
        format!("{:.0}% of {total}", ok as f64 * 100.0 / total as f64)
    }
}

async fn last_day(state: &AppState, e: &Endpoint) -> Vec<HourlyStats> {
    let since = Utc::now() - Duration::hours(24);
    state
        .store
        .endpoint_hourly_stats(&e.account_id, &e.id, since)
        .await
        .unwrap_or_default()
}

#[derive(Template)]
#[template(path = "endpoints.html")]
struct EndpointsPage {
    layout: Layout,
    urls_new: String,
    base: String,
    rows: Vec<EndpointRow>,
}

/// The account's endpoints.
pub(super) async fn list(
    State(state): State<AppState>,
    session: Session,
    Path(account): Path<String>,
) -> Response {
    if let Err(r) = scope(&state, &session, &account).await {
        return r;
    }
    let Ok(found) = state
        .store
        .list_endpoints(&account, PageRequest::first(250))
        .await
    else {
        return message(
            &session,
            StatusCode::SERVICE_UNAVAILABLE,
            "Try again",
            "The database did not answer.",
        );
    };
    let mut rows = Vec::new();
    for e in found.items {
        let stats = last_day(&state, &e).await;
        rows.push(EndpointRow {
            url: hookline_core::net::mask_url(&e.url),
            description: e.description.clone(),
            types: types_label(&e.event_types),
            disabled: e.disabled,
            disabled_reason: e.disabled_reason.clone().unwrap_or_default(),
            success_rate: rate_label(&stats),
            id: e.id,
        });
    }
    let urls = Urls { account: &account };
    page(&EndpointsPage {
        layout: Layout::new(&session, "Webhook endpoints", Some(&account), "endpoints"),
        urls_new: urls.new_endpoint(),
        base: urls.endpoints(),
        rows,
    })
}

/// The values shown in the add/edit form.
pub(crate) struct FormValues {
    pub(crate) url: String,
    pub(crate) description: String,
    pub(crate) types: Vec<(String, bool)>,
    pub(crate) thin: bool,
    pub(crate) headers: String,
    pub(crate) rate_limit: String,
    pub(crate) error_field: String,
    pub(crate) error: String,
}

impl FormValues {
    fn new(state: &AppState, e: Option<&Endpoint>) -> Self {
        let chosen: Vec<String> = e.map(|e| e.event_types.clone()).unwrap_or_default();
        FormValues {
            url: e
                .map(|e| hookline_core::net::mask_url(&e.url))
                .unwrap_or_default(),
            description: e.map(|e| e.description.clone()).unwrap_or_default(),
            types: state
                .catalogue
                .names()
                .into_iter()
                .map(|n| (n.clone(), chosen.contains(&n)))
                .collect(),
            thin: e.is_some_and(|e| e.payload == PayloadMode::Thin),
            headers: e
                .map(|e| {
                    e.headers
                        .iter()
                        .map(|(k, v)| format!("{k}: {v}"))
                        .collect::<Vec<_>>()
                        .join("\n")
                })
                .unwrap_or_default(),
            rate_limit: e
                .and_then(|e| e.rate_limit_per_sec)
                .map(|r| r.to_string())
                .unwrap_or_default(),
            error_field: String::new(),
            error: String::new(),
        }
    }

    fn from_form(state: &AppState, form: &FormData, error: &ApiError) -> Self {
        let chosen = form.all("event_types");
        FormValues {
            url: form.get("url").unwrap_or_default(),
            description: form.get("description").unwrap_or_default(),
            types: state
                .catalogue
                .names()
                .into_iter()
                .map(|n| (n.clone(), chosen.contains(&n)))
                .collect(),
            thin: form.get("payload").as_deref() == Some("thin"),
            headers: form.get("headers").unwrap_or_default(),
            rate_limit: form.get("rate_limit_per_sec").unwrap_or_default(),
            error_field: error.field.unwrap_or("form").to_string(),
            error: error.message.clone(),
        }
    }
}

/// Reads the add/edit form; a masked password (`****`) keeps the stored URL.
fn input_from(form: &FormData, current: Option<&Endpoint>) -> Result<EndpointInput, ApiError> {
    let mut headers = BTreeMap::new();
    for line in form
        .get("headers")
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
    {
        let (name, value) = line.split_once(':').ok_or_else(|| {
            ApiError::invalid_field("headers", format!("`{}` is not `Name: value`", line.trim()))
        })?;
        headers.insert(name.trim().to_string(), value.trim().to_string());
    }
    let rate = match form.get("rate_limit_per_sec") {
        None => None,
        Some(text) => Some(text.parse::<u32>().map_err(|_| {
            ApiError::invalid_field(
                "rate_limit_per_sec",
                "the rate limit must be a whole number of requests per second",
            )
        })?),
    };
    let url = form.get("url");
    let unchanged = current
        .is_some_and(|e| url.as_deref() == Some(hookline_core::net::mask_url(&e.url).as_str()));
    Ok(EndpointInput {
        url: if unchanged { None } else { url },
        description: Some(form.get("description").unwrap_or_default()),
        event_types: Some(form.all("event_types")),
        disabled: None,
        payload: Some(if form.get("payload").as_deref() == Some("thin") {
            PayloadMode::Thin
        } else {
            PayloadMode::Full
        }),
        headers: Some(headers),
        secret: None,
        rate_limit_per_sec: Some(rate),
        metadata: None,
    })
}

#[derive(Template)]
#[template(path = "endpoint_form.html")]
struct NewEndpointPage {
    layout: Layout,
    action: String,
    cancel: String,
    form: FormValues,
}

/// The add-endpoint form.
pub(super) async fn new_form(
    State(state): State<AppState>,
    session: Session,
    Path(account): Path<String>,
) -> Response {
    if let Err(r) = scope(&state, &session, &account).await {
        return r;
    }
    let urls = Urls { account: &account };
    page(&NewEndpointPage {
        layout: Layout::new(&session, "Add an endpoint", Some(&account), "endpoints"),
        action: urls.endpoints(),
        cancel: urls.endpoints(),
        form: FormValues::new(&state, None),
    })
}

/// Creates an endpoint from the form.
pub(super) async fn create(
    State(state): State<AppState>,
    session: Session,
    Path(account): Path<String>,
    body: Bytes,
) -> Response {
    let form = FormData::parse(&body);
    if let Err(r) = check_csrf(&session, &form) {
        return r;
    }
    if let Err(r) = scope(&state, &session, &account).await {
        return r;
    }
    let urls = Urls { account: &account };
    let result = match input_from(&form, None) {
        Ok(input) => service::create(&state, &account, input).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(endpoint) => {
            Redirect::to(&format!("{}?created", urls.endpoint(&endpoint.id))).into_response()
        }
        Err(error) => page_with_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            &NewEndpointPage {
                layout: Layout::new(&session, "Add an endpoint", Some(&account), "endpoints"),
                action: urls.endpoints(),
                cancel: urls.endpoints(),
                form: FormValues::from_form(&state, &form, &error),
            },
        ),
    }
}

/// Bars of the 24-hour chart.
pub(crate) struct Bar {
    pub(crate) x: u32,
    pub(crate) ok_y: u32,
    pub(crate) ok_h: u32,
    pub(crate) fail_y: u32,
    pub(crate) fail_h: u32,
    pub(crate) label: String,
}

const CHART_HEIGHT: u32 = 120;

fn chart(stats: &[HourlyStats]) -> (Vec<Bar>, u64) {
    let now = Utc::now()
        .duration_trunc(Duration::hours(1))
        .unwrap_or_else(|_| Utc::now());
    let max = stats
        .iter()
        .map(|s| s.succeeded + s.failed)
        .max()
        .unwrap_or(0)
        .max(1);
    let bars = (0..24)
        .map(|i| {
            let hour = now - Duration::hours(23 - i);
            let s = stats.iter().find(|s| s.hour == hour);
            let (ok, failed) = s.map_or((0, 0), |s| (s.succeeded, s.failed));
            let ok_h = (ok * u64::from(CHART_HEIGHT) / max) as u32;
            let fail_h = (failed * u64::from(CHART_HEIGHT) / max) as u32;
            Bar {
                x: i as u32 * 30,
                ok_y: CHART_HEIGHT - ok_h,
                ok_h,
                fail_y: CHART_HEIGHT - ok_h - fail_h,
                fail_h,
                label: format!("{}: {ok} succeeded, {failed} failed", hour.format("%H:00")),
            }
        })
        .collect();
    (bars, max)
}

#[derive(Template)]
#[template(path = "endpoint.html")]
struct EndpointPage {
    layout: Layout,
    base: String,
    endpoint: EndpointRow,
    payload: &'static str,
    created: bool,
    notice: String,
    form: FormValues,
    bars: Vec<Bar>,
    chart_max: u64,
    attempts: Vec<AttemptRow>,
    event_types: Vec<String>,
}

async fn render_endpoint(
    state: &AppState,
    session: &Session,
    endpoint: Endpoint,
    form: FormValues,
    notice: &str,
    created: bool,
) -> Response {
    let account = endpoint.account_id.clone();
    let urls = Urls { account: &account };
    let stats = last_day(state, &endpoint).await;
    let (bars, chart_max) = chart(&stats);
    let attempts = state
        .store
        .list_attempts(
            &account,
            AttemptsOf::Endpoint(endpoint.id.clone()),
            PageRequest::first(20),
        )
        .await
        .map(|p| {
            p.items
                .into_iter()
                .map(|a| AttemptRow::new(a, &urls))
                .collect()
        })
        .unwrap_or_default();
    let status = if form.error.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    page_with_status(
        status,
        &EndpointPage {
            layout: Layout::new(session, "Endpoint", Some(&account), "endpoints"),
            base: urls.endpoint(&endpoint.id),
            payload: endpoint.payload.as_str(),
            created,
            notice: notice.to_string(),
            form,
            bars,
            chart_max,
            attempts,
            event_types: state.catalogue.names(),
            endpoint: EndpointRow {
                url: hookline_core::net::mask_url(&endpoint.url),
                description: endpoint.description.clone(),
                types: types_label(&endpoint.event_types),
                disabled: endpoint.disabled,
                disabled_reason: endpoint.disabled_reason.clone().unwrap_or_default(),
                success_rate: rate_label(&stats),
                id: endpoint.id,
            },
        },
    )
}

async fn load(
    state: &AppState,
    session: &Session,
    account: &str,
    id: &str,
) -> Result<Endpoint, Response> {
    scope(state, session, account).await?;
    service::get(state, account, id).await.map_err(|_| {
        message(
            session,
            StatusCode::NOT_FOUND,
            "Not found",
            "There is no such endpoint in this account.",
        )
    })
}

/// A form posted about one endpoint: CSRF checked, endpoint loaded.
async fn posted(
    state: &AppState,
    session: &Session,
    account: &str,
    id: &str,
    body: &Bytes,
) -> Result<(FormData, Endpoint), Response> {
    let form = FormData::parse(body);
    check_csrf(session, &form)?;
    let endpoint = load(state, session, account, id).await?;
    Ok((form, endpoint))
}

/// One endpoint.
pub(super) async fn show(
    State(state): State<AppState>,
    session: Session,
    Path((account, id)): Path<(String, String)>,
    uri: axum::http::Uri,
) -> Response {
    let endpoint = match load(&state, &session, &account, &id).await {
        Ok(e) => e,
        Err(r) => return r,
    };
    let query = uri.query().unwrap_or("");
    let notice = match query {
        q if q.contains("rotated") => "The secret was rotated. For 24 hours, deliveries are signed with both the old and the new secret.",
        q if q.contains("saved") => "Changes saved.",
        q if q.contains("enabled") => "The endpoint is enabled; deliveries held while it was disabled are on their way.",
        q if q.contains("disabled") => "The endpoint is disabled: new events are not sent to it.",
        _ => "",
    };
    let form = FormValues::new(&state, Some(&endpoint));
    render_endpoint(
        &state,
        &session,
        endpoint,
        form,
        notice,
        query.contains("created"),
    )
    .await
}

/// Saves the edit form.
pub(super) async fn update(
    State(state): State<AppState>,
    session: Session,
    Path((account, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let (form, endpoint) = match posted(&state, &session, &account, &id, &body).await {
        Ok(posted) => posted,
        Err(r) => return r,
    };
    let result = match input_from(&form, Some(&endpoint)) {
        Ok(input) => service::update(&state, &account, &id, input).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Redirect::to(&format!(
            "{}?saved",
            Urls { account: &account }.endpoint(&id)
        ))
        .into_response(),
        Err(error) => {
            let values = FormValues::from_form(&state, &form, &error);
            render_endpoint(&state, &session, endpoint, values, "", false).await
        }
    }
}

/// Enables or disables the endpoint.
pub(super) async fn toggle(
    State(state): State<AppState>,
    session: Session,
    Path((account, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let endpoint = match posted(&state, &session, &account, &id, &body).await {
        Ok((_, endpoint)) => endpoint,
        Err(r) => return r,
    };
    let disable = !endpoint.disabled;
    let input = EndpointInput {
        disabled: Some(disable),
        ..Default::default()
    };
    if let Err(e) = service::update(&state, &account, &id, input).await {
        return message(
            &session,
            e.status,
            "Could not change the endpoint",
            &e.message,
        );
    }
    let flag = if disable { "disabled" } else { "enabled" };
    Redirect::to(&format!(
        "{}?{flag}",
        Urls { account: &account }.endpoint(&id)
    ))
    .into_response()
}

/// Deletes the endpoint (the form asks for confirmation first).
pub(super) async fn delete(
    State(state): State<AppState>,
    session: Session,
    Path((account, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let form = match posted(&state, &session, &account, &id, &body).await {
        Ok((form, _)) => form,
        Err(r) => return r,
    };
    if form.get("confirm").as_deref() != Some("yes") {
        return message(
            &session,
            StatusCode::UNPROCESSABLE_ENTITY,
            "Not deleted",
            "Tick the confirmation box to delete the endpoint.",
        );
    }
    if state.store.delete_endpoint(&account, &id).await.is_err() {
        return message(
            &session,
            StatusCode::SERVICE_UNAVAILABLE,
            "Try again",
            "The endpoint could not be deleted.",
        );
    }
    Redirect::to(&Urls { account: &account }.endpoints()).into_response()
}

/// Rotates the secret.
pub(super) async fn rotate(
    State(state): State<AppState>,
    session: Session,
    Path((account, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    if let Err(r) = posted(&state, &session, &account, &id, &body).await {
        return r;
    }
    match service::rotate_secret(&state, &account, &id, None).await {
        Ok(_) => Redirect::to(&format!(
            "{}?rotated",
            Urls { account: &account }.endpoint(&id)
        ))
        .into_response(),
        Err(e) => message(&session, e.status, "Could not rotate", &e.message),
    }
}

/// Sends a test event and shows its page, where the attempt appears.
pub(super) async fn send_test(
    State(state): State<AppState>,
    session: Session,
    Path((account, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let form = match posted(&state, &session, &account, &id, &body).await {
        Ok((form, _)) => form,
        Err(r) => return r,
    };
    match event_service::send_test(&state, &account, &id, form.get("event_type")).await {
        Ok(event) => Redirect::to(&Urls { account: &account }.event(&event.id)).into_response(),
        Err(e) => message(&session, e.status, "Could not send the test", &e.message),
    }
}

/// The secret, for the reveal button.
pub(super) async fn secret(
    State(state): State<AppState>,
    session: Session,
    Path((account, id)): Path<(String, String)>,
) -> Response {
    match load(&state, &session, &account, &id).await {
        Ok(e) => {
            Json(serde_json::json!({"secret": e.secret, "updated_at": format_time(e.updated_at)}))
                .into_response()
        }
        Err(r) => r,
    }
}
