//! Endpoint pages: the table, add/edit forms with errors beside fields,
//! enable/disable, delete with confirmation, secret reveal and rotation,
//! test sends, and a 24-hour chart of delivery successes and failures
//! (`chart`). The form's values and parsing live in `endpoint_form`; every
//! rule and side effect is the service's.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use chrono::Utc;
use hookline_core::{format_time, Endpoint, SignatureScheme};
use hookline_store::{HourlyStats, OutcomeFilter, PageRequest};

use super::chart::{chart, rate_label, Bar};
use super::csrf::FormData;
use super::endpoint_form::{input_from, wants_filter_trial, FormValues};
use super::events::AttemptRow;
use super::session::Session;
use super::urls::Urls;
use super::{check_csrf, failure, message, page, page_with_status, AccountPage, Layout};
use crate::scope::Scoped;
use crate::service::attempts as attempt_service;
use crate::service::endpoints::{self as service, EndpointInput};
use crate::service::events as event_service;
use crate::service::ServiceError;
use crate::state::AppState;

/// What a page says when the endpoint is not in the account.
const NO_SUCH_ENDPOINT: &str = "There is no such endpoint in this account.";

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

impl EndpointRow {
    fn new(e: Endpoint, stats: &[HourlyStats]) -> Self {
        EndpointRow {
            url: hookline_core::net::mask_url(&e.url),
            types: types_label(&e.event_types),
            disabled_reason: e.disabled_reason.unwrap_or_default(),
            success_rate: rate_label(stats),
            description: e.description,
            disabled: e.disabled,
            id: e.id,
        }
    }
}

fn types_label(types: &[String]) -> String {
    if types.is_empty() {
        "All event types".into()
    } else {
        types.join(", ")
    }
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
    Scoped {
        account_id: account,
        who: session,
    }: AccountPage,
) -> Response {
    let found = match state
        .store
        .list_endpoints(&account, PageRequest::first(250))
        .await
    {
        Ok(found) => found,
        Err(err) => return failure(&session, "Try again", "", &ServiceError::from(err)),
    };
    let mut rows = Vec::new();
    for e in found.items {
        match service::last_day(&state, &e).await {
            Ok(stats) => rows.push(EndpointRow::new(e, &stats)),
            Err(err) => return failure(&session, "Try again", NO_SUCH_ENDPOINT, &err),
        }
    }
    let urls = Urls { account: &account };
    page(&EndpointsPage {
        layout: Layout::new(&session, "Webhook endpoints", Some(&account), "endpoints"),
        urls_new: urls.new_endpoint(),
        base: urls.endpoints(),
        rows,
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
    Scoped {
        account_id: account,
        who: session,
    }: AccountPage,
) -> Response {
    let urls = Urls { account: &account };
    page(&NewEndpointPage {
        layout: Layout::new(&session, "Add an endpoint", Some(&account), "endpoints"),
        action: urls.endpoints(),
        cancel: urls.endpoints(),
        form: FormValues::new(&state, None)
            .with_samples(&state, &account, "")
            .await,
    })
}

/// Creates an endpoint from the form.
pub(super) async fn create(
    State(state): State<AppState>,
    Scoped {
        account_id: account,
        who: session,
    }: AccountPage,
    body: Bytes,
) -> Response {
    let form = FormData::parse(&body);
    if let Err(r) = check_csrf(&session, &form) {
        return r;
    }
    let urls = Urls { account: &account };
    if wants_filter_trial(&form) {
        let values = FormValues::posted(&state, &form)
            .try_filter(&state, &account, &form)
            .await;
        let status = if values.error.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        return page_with_status(
            status,
            &NewEndpointPage {
                layout: Layout::new(&session, "Add an endpoint", Some(&account), "endpoints"),
                action: urls.endpoints(),
                cancel: urls.endpoints(),
                form: values,
            },
        );
    }
    let result = match input_from(&form, None) {
        Ok(input) => service::create(&state, &account, input).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(endpoint) => {
            Redirect::to(&format!("{}?created", urls.endpoint(&endpoint.id))).into_response()
        }
        Err(error @ ServiceError::Unavailable(_)) => {
            failure(&session, "Could not add the endpoint", "", &error)
        }
        Err(error) => page_with_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            &NewEndpointPage {
                layout: Layout::new(&session, "Add an endpoint", Some(&account), "endpoints"),
                action: urls.endpoints(),
                cancel: urls.endpoints(),
                form: FormValues::from_form(&state, &form, &error)
                    .with_samples(&state, &account, "")
                    .await,
            },
        ),
    }
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
    /// The outcome the attempts are filtered by (empty: all).
    outcome: String,
    /// The filter's choices: (value, label, link).
    outcome_tabs: Vec<(String, &'static str, String)>,
    /// The next page of attempts, if any.
    older_attempts: String,
    /// The recover form's default: 24 hours ago, UTC, as `datetime-local`.
    recover_since: String,
    event_types: Vec<String>,
    /// `whpk_…` of an ed25519 endpoint; empty for HMAC.
    public_key: String,
    /// The previous `whpk_…` while it still signs.
    previous_public_key: String,
}

/// Which attempts the endpoint page lists.
#[derive(Debug, Default, Clone, Copy)]
struct AttemptView {
    outcome: OutcomeFilter,
    before: Option<i64>,
}

/// The attempt filter's choices, in order.
const OUTCOME_TABS: [(OutcomeFilter, &str); 4] = [
    (OutcomeFilter::Any, "All"),
    (OutcomeFilter::Succeeded, "Succeeded"),
    (OutcomeFilter::Failed, "Failed"),
    (OutcomeFilter::Pending, "Retrying"),
];

/// The link to the endpoint page showing `outcome` (from `before`).
fn attempts_link(base: &str, outcome: OutcomeFilter, before: Option<&str>) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    if outcome != OutcomeFilter::Any {
        query.append_pair("outcome", outcome.as_str());
    }
    if let Some(cursor) = before {
        query.append_pair("cursor", cursor);
    }
    let query = query.finish();
    if query.is_empty() {
        format!("{base}#attempts")
    } else {
        format!("{base}?{query}#attempts")
    }
}

async fn render_endpoint(
    state: &AppState,
    session: &Session,
    endpoint: Endpoint,
    form: FormValues,
    notice: &str,
    created: bool,
) -> Response {
    render_endpoint_with(
        state,
        session,
        endpoint,
        form,
        notice,
        created,
        AttemptView::default(),
    )
    .await
}

async fn render_endpoint_with(
    state: &AppState,
    session: &Session,
    endpoint: Endpoint,
    form: FormValues,
    notice: &str,
    created: bool,
    view: AttemptView,
) -> Response {
    let account = endpoint.account_id.clone();
    let urls = Urls { account: &account };
    let stats = match service::last_day(state, &endpoint).await {
        Ok(stats) => stats,
        Err(err) => return failure(session, "Try again", NO_SUCH_ENDPOINT, &err),
    };
    let (bars, chart_max) = chart(&stats, Utc::now());
    let (public_key, previous_public_key) = service::public_keys(&endpoint)
        .map(|(current, previous)| (current, previous.unwrap_or_default()))
        .unwrap_or_default();
    let request = PageRequest::after(20, view.before);
    let base = urls.endpoint(&endpoint.id);
    let (attempts, older_attempts): (Vec<AttemptRow>, String) =
        match attempt_service::of_endpoint(state, &account, &endpoint.id, view.outcome, request)
            .await
        {
            Ok(found) => (
                found
                    .items
                    .into_iter()
                    .map(|a| AttemptRow::new(a, &urls))
                    .collect(),
                found
                    .next_cursor
                    .map(|c| attempts_link(&base, view.outcome, Some(&c)))
                    .unwrap_or_default(),
            ),
            Err(err) => return failure(session, "Try again", NO_SUCH_ENDPOINT, &err),
        };
    let outcome_tabs: Vec<(String, &'static str, String)> = OUTCOME_TABS
        .iter()
        .map(|&(o, label)| (o.as_str().to_string(), label, attempts_link(&base, o, None)))
        .collect();
    let status = if form.error.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    page_with_status(
        status,
        &EndpointPage {
            layout: Layout::new(session, "Endpoint", Some(&account), "endpoints"),
            base,
            payload: endpoint.payload.as_str(),
            created,
            notice: notice.to_string(),
            form,
            bars,
            chart_max,
            attempts,
            outcome: view.outcome.as_str().to_string(),
            outcome_tabs,
            older_attempts,
            recover_since: (Utc::now() - chrono::Duration::hours(24))
                .format(DATETIME_LOCAL)
                .to_string(),
            // An operational endpoint is tested with an operational type.
            event_types: if account == hookline_core::operational::PLATFORM_ACCOUNT_ID {
                hookline_core::operational::EVENT_TYPES
                    .iter()
                    .map(|(t, _)| t.to_string())
                    .collect()
            } else {
                state.catalogue.names()
            },
            public_key,
            previous_public_key,
            endpoint: EndpointRow::new(endpoint, &stats),
        },
    )
}

/// The endpoint, or the page saying why not.
async fn load(
    state: &AppState,
    session: &Session,
    account: &str,
    id: &str,
) -> Result<Endpoint, Response> {
    service::get(state, account, id)
        .await
        .map_err(|err| failure(session, "Try again", NO_SUCH_ENDPOINT, &err))
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
    Scoped {
        account_id: account,
        who: session,
    }: AccountPage,
    Path((_, id)): Path<(String, String)>,
    uri: axum::http::Uri,
) -> Response {
    let endpoint = match load(&state, &session, &account, &id).await {
        Ok(e) => e,
        Err(r) => return r,
    };
    let query = uri.query().unwrap_or("");
    let param = |key: &str| {
        url::form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    };
    let recovered;
    let notice = match query {
        q if q.contains("rotated") => "The signing key was rotated. For 24 hours, deliveries are signed with both the old and the new key.",
        q if q.contains("saved") => "Changes saved.",
        q if q.contains("enabled") => "The endpoint is enabled; deliveries held while it was disabled are on their way.",
        q if q.contains("disabled") => "The endpoint is disabled: new events are not sent to it.",
        _ => match param("recovered").and_then(|n| n.parse::<u64>().ok()) {
            Some(0) => "No delivery to this endpoint failed since then: nothing to recover.",
            Some(n) => {
                recovered = format!("Recovering {n} failed deliveries: each event is being sent to this endpoint again.");
                recovered.as_str()
            }
            None => "",
        },
    };
    let view = AttemptView {
        outcome: param("outcome")
            .and_then(|o| OutcomeFilter::parse(&o))
            .unwrap_or_default(),
        before: param("cursor").and_then(|c| c.parse().ok()),
    };
    let form = FormValues::new(&state, Some(&endpoint))
        .with_samples(&state, &account, "")
        .await;
    render_endpoint_with(
        &state,
        &session,
        endpoint,
        form,
        notice,
        query.contains("created"),
        view,
    )
    .await
}

/// Saves the edit form.
pub(super) async fn update(
    State(state): State<AppState>,
    Scoped {
        account_id: account,
        who: session,
    }: AccountPage,
    Path((_, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let (form, endpoint) = match posted(&state, &session, &account, &id, &body).await {
        Ok(posted) => posted,
        Err(r) => return r,
    };
    if wants_filter_trial(&form) {
        let values = FormValues::posted(&state, &form)
            .try_filter(&state, &account, &form)
            .await;
        return render_endpoint(&state, &session, endpoint, values, "", false).await;
    }
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
        Err(error @ (ServiceError::Unavailable(_) | ServiceError::NotFound { .. })) => {
            failure(&session, "Could not save", NO_SUCH_ENDPOINT, &error)
        }
        Err(error) => {
            let values = FormValues::from_form(&state, &form, &error)
                .with_samples(&state, &account, "")
                .await;
            render_endpoint(&state, &session, endpoint, values, "", false).await
        }
    }
}

/// Enables or disables the endpoint.
pub(super) async fn toggle(
    State(state): State<AppState>,
    Scoped {
        account_id: account,
        who: session,
    }: AccountPage,
    Path((_, id)): Path<(String, String)>,
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
    if let Err(err) = service::update(&state, &account, &id, input).await {
        return failure(
            &session,
            "Could not change the endpoint",
            NO_SUCH_ENDPOINT,
            &err,
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
    Scoped {
        account_id: account,
        who: session,
    }: AccountPage,
    Path((_, id)): Path<(String, String)>,
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
    if let Err(err) = service::delete(&state, &account, &id).await {
        return failure(&session, "Not deleted", NO_SUCH_ENDPOINT, &err);
    }
    Redirect::to(&Urls { account: &account }.endpoints()).into_response()
}

/// Rotates the secret.
pub(super) async fn rotate(
    State(state): State<AppState>,
    Scoped {
        account_id: account,
        who: session,
    }: AccountPage,
    Path((_, id)): Path<(String, String)>,
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
        Err(err) => failure(&session, "Could not rotate", NO_SUCH_ENDPOINT, &err),
    }
}

/// `<input type="datetime-local">`'s format (read as UTC).
const DATETIME_LOCAL: &str = "%Y-%m-%dT%H:%M";

/// When a recover form's `since` is: `datetime-local` text in UTC, with or
/// without seconds, or RFC 3339.
fn recover_since(text: &str) -> Option<chrono::DateTime<Utc>> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
        .iter()
        .find_map(|f| chrono::NaiveDateTime::parse_from_str(text, f).ok())
        .map(|t| t.and_utc())
}

/// Sends again every delivery to the endpoint that failed since the time
/// given (the API's `…/recover`).
pub(super) async fn recover(
    State(state): State<AppState>,
    Scoped {
        account_id: account,
        who: session,
    }: AccountPage,
    Path((_, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let form = match posted(&state, &session, &account, &id, &body).await {
        Ok((form, _)) => form,
        Err(r) => return r,
    };
    let Some(since) = form.get("since").as_deref().and_then(recover_since) else {
        return message(
            &session,
            StatusCode::UNPROCESSABLE_ENTITY,
            "Nothing recovered",
            "Give the time to recover from, such as 2026-01-31T09:00 (UTC).",
        );
    };
    match event_service::recover(&state, &account, &id, since).await {
        Ok(n) => Redirect::to(&format!(
            "{}?recovered={n}",
            Urls { account: &account }.endpoint(&id)
        ))
        .into_response(),
        Err(err) => failure(&session, "Could not recover", NO_SUCH_ENDPOINT, &err),
    }
}

/// Sends a test event and shows its page, where the attempt appears.
pub(super) async fn send_test(
    State(state): State<AppState>,
    Scoped {
        account_id: account,
        who: session,
    }: AccountPage,
    Path((_, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let form = match posted(&state, &session, &account, &id, &body).await {
        Ok((form, _)) => form,
        Err(r) => return r,
    };
    match event_service::send_test(&state, &account, &id, form.get("event_type")).await {
        Ok(event) => Redirect::to(&Urls { account: &account }.event(&event.id)).into_response(),
        Err(err) => failure(&session, "Could not send the test", NO_SUCH_ENDPOINT, &err),
    }
}

/// The secret, for the reveal button (never an ed25519 signing key).
pub(super) async fn secret(
    State(state): State<AppState>,
    Scoped {
        account_id: account,
        who: session,
    }: AccountPage,
    Path((_, id)): Path<(String, String)>,
) -> Response {
    match load(&state, &session, &account, &id).await {
        Ok(e) if e.signature_scheme() == SignatureScheme::Ed25519 => (
            StatusCode::CONFLICT,
            Json(serde_json::json!({"error": "an ed25519 endpoint's signing key stays with Hookline; receivers use its public key"})),
        )
            .into_response(),
        Ok(e) => (
            [(axum::http::header::CACHE_CONTROL, "no-store")],
            Json(serde_json::json!({"secret": e.secret, "updated_at": format_time(e.updated_at)})),
        )
            .into_response(),
        Err(r) => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recover_times_are_utc() {
        let at = recover_since("2026-01-31T09:00").unwrap();
        assert_eq!(format_time(at), "2026-01-31T09:00:00.000Z");
        assert!(recover_since("2026-01-31T09:00:30").is_some());
        assert_eq!(recover_since("2026-01-31T10:00:00+01:00"), Some(at));
        assert_eq!(recover_since("yesterday"), None);
    }
}
