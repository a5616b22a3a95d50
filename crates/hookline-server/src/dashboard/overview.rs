//! An account's overview: deliveries and the success rate over 24 hours
//! (every endpoint's hourly counts added up, drawn like an endpoint's
//! chart), the endpoints that are failing or disabled and why, and the
//! delivery that has waited longest.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use chrono::Utc;
use hookline_core::{format_time, Endpoint};
use hookline_store::{HourlyStats, OutcomeFilter, PageRequest};

use super::chart::{chart, rate_label, Bar};
use super::events::AttemptRow;
use super::urls::Urls;
use super::{failure, page, AccountPage, Layout};
use crate::scope::Scoped;
use crate::service::attempts as attempt_service;
use crate::service::endpoints as endpoint_service;
use crate::service::ServiceError;
use crate::state::AppState;

/// An endpoint that needs attention, and why.
struct TroubleRow {
    link: String,
    url: String,
    /// "Disabled" or "Failing".
    state: &'static str,
    /// The disable reason, or the last failed attempt's result.
    why: String,
    /// When it was disabled or started failing (RFC 3339; empty if unknown).
    since: String,
    /// The last failed attempt's page (empty without one).
    attempt_link: String,
}

/// The delivery that has waited longest.
struct Oldest {
    event_id: String,
    event_link: String,
    endpoint: String,
    waiting_since: String,
    attempts: u32,
    next_attempt_at: String,
}

#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewPage {
    layout: Layout,
    endpoints_link: String,
    events_link: String,
    endpoint_count: usize,
    succeeded: u64,
    failed: u64,
    rate: String,
    bars: Vec<Bar>,
    chart_max: u64,
    trouble: Vec<TroubleRow>,
    oldest: Option<Oldest>,
}

/// The account's overview.
pub(super) async fn show(
    State(state): State<AppState>,
    Scoped {
        account_id: account,
        who: session,
    }: AccountPage,
) -> Response {
    let urls = Urls { account: &account };
    let endpoints = match state
        .store
        .list_endpoints(&account, PageRequest::first(250))
        .await
    {
        Ok(found) => found.items,
        Err(err) => return failure(&session, "Try again", "", &ServiceError::from(err)),
    };
    let mut totals: Vec<HourlyStats> = Vec::new();
    let mut trouble = Vec::new();
    for endpoint in &endpoints {
        match endpoint_service::last_day(&state, endpoint).await {
            Ok(stats) => add_hours(&mut totals, &stats),
            Err(err) => return failure(&session, "Try again", "", &err),
        }
        if endpoint.disabled || endpoint.failing_since.is_some() {
            match trouble_row(&state, &urls, endpoint).await {
                Ok(row) => trouble.push(row),
                Err(err) => return failure(&session, "Try again", "", &err),
            }
        }
    }
    let oldest = match state.store.oldest_pending_delivery(&account).await {
        Ok(found) => found.map(|d| Oldest {
            event_link: urls.event(&d.event_id),
            event_id: d.event_id,
            endpoint: d
                .endpoint_id
                .unwrap_or_else(|| "the event's own URL".into()),
            waiting_since: format_time(d.created_at),
            attempts: d.attempts,
            next_attempt_at: d.next_attempt_at.map(format_time).unwrap_or_default(),
        }),
        Err(err) => return failure(&session, "Try again", "", &ServiceError::from(err)),
    };
    let (bars, chart_max) = chart(&totals, Utc::now());
    page(&OverviewPage {
        layout: Layout::new(&session, "Overview", Some(&account), "overview"),
        endpoints_link: urls.endpoints(),
        events_link: urls.events(),
        endpoint_count: endpoints.len(),
        succeeded: totals.iter().map(|h| h.succeeded).sum(),
        failed: totals.iter().map(|h| h.failed).sum(),
        rate: rate_label(&totals),
        bars,
        chart_max,
        trouble,
        oldest,
    })
}

/// Adds one endpoint's hourly counts to the account's.
fn add_hours(totals: &mut Vec<HourlyStats>, stats: &[HourlyStats]) {
    for s in stats {
        match totals.iter_mut().find(|t| t.hour == s.hour) {
            Some(t) => {
                t.succeeded += s.succeeded;
                t.failed += s.failed;
            }
            None => totals.push(s.clone()),
        }
    }
}

async fn trouble_row(
    state: &AppState,
    urls: &Urls<'_>,
    endpoint: &Endpoint,
) -> Result<TroubleRow, ServiceError> {
    let last_failure = attempt_service::of_endpoint(
        state,
        &endpoint.account_id,
        &endpoint.id,
        OutcomeFilter::Failed,
        PageRequest::first(1),
    )
    .await?
    .items
    .into_iter()
    .next()
    .map(|a| AttemptRow::new(a, urls));
    let (state_label, why, since) = if endpoint.disabled {
        (
            "Disabled",
            endpoint
                .disabled_reason
                .clone()
                .unwrap_or_else(|| "disabled by hand".into()),
            format_time(endpoint.updated_at),
        )
    } else {
        (
            "Failing",
            last_failure
                .as_ref()
                .map(|a| format!("last attempt: {}", a.result))
                .unwrap_or_default(),
            endpoint.failing_since.map(format_time).unwrap_or_default(),
        )
    };
    Ok(TroubleRow {
        link: urls.endpoint(&endpoint.id),
        url: hookline_core::net::mask_url(&endpoint.url),
        state: state_label,
        why,
        since,
        attempt_link: last_failure.map(|a| a.link).unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_add_up_across_endpoints() {
        let hour = |h: i64, ok, failed| HourlyStats {
            hour: chrono::DateTime::from_timestamp(h * 3600, 0).unwrap(),
            succeeded: ok,
            failed,
        };
        let mut totals = Vec::new();
        add_hours(&mut totals, &[hour(1, 2, 1), hour(2, 5, 0)]);
        add_hours(&mut totals, &[hour(2, 1, 3)]);
        assert_eq!(totals, vec![hour(1, 2, 1), hour(2, 6, 3)]);
    }
}
