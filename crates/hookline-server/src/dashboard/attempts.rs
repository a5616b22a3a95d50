//! An attempt's page: the request exactly as sent (method, URL with any
//! password masked, headers with the signatures, body) and the response
//! (status, headers, body, duration), with the request as a curl command.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;

use super::curl;
use super::events::AttemptRow;
use super::urls::Urls;
use super::{failure, page, AccountPage, Layout};
use crate::scope::Scoped;
use crate::service::attempts as service;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "attempt.html")]
struct AttemptPage {
    layout: Layout,
    a: AttemptRow,
    endpoint_link: String,
    url: String,
    /// Whether the headers were kept (attempts logged before were not).
    kept: bool,
    request_headers: Vec<(String, String)>,
    request_body: String,
    curl: String,
    status_code: Option<u16>,
    error: String,
    response_headers: Vec<(String, String)>,
}

/// One attempt.
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
        Err(err) => {
            return failure(
                &session,
                "Try again",
                "There is no such attempt in this account.",
                &err,
            )
        }
    };
    let urls = Urls { account: &account };
    let attempt = detail.attempt;
    let exchange = attempt.exchange.clone().unwrap_or_default();
    let request_body = detail.request_body.unwrap_or_default();
    let kept = attempt.exchange.is_some();
    let curl = if kept {
        curl::command(&attempt.url, &exchange.request_headers, &request_body)
    } else {
        String::new()
    };
    page(&AttemptPage {
        layout: Layout::new(
            &session,
            format!("Attempt {}", attempt.id),
            Some(&account),
            "events",
        ),
        endpoint_link: attempt
            .endpoint_id
            .as_deref()
            .map(|e| urls.endpoint(e))
            .unwrap_or_default(),
        url: attempt.url.clone(),
        kept,
        request_headers: exchange.request_headers,
        request_body,
        curl,
        status_code: attempt.status_code,
        error: attempt.error.clone().unwrap_or_default(),
        response_headers: exchange.response_headers,
        a: AttemptRow::new(attempt, &urls),
    })
}
