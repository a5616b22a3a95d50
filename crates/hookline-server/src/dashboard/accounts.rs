//! The admin's list of accounts to pick from, and the way to the
//! operational webhooks (the internal platform account, which the list
//! leaves out).

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use hookline_store::PageRequest;

use super::session::Session;
use super::urls::Urls;
use super::{failure, message, page, Layout};
use crate::service::ServiceError;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "accounts.html")]
struct AccountsPage {
    layout: Layout,
    accounts: Vec<(String, String)>,
}

/// Every account, for the admin.
pub(super) async fn list(State(state): State<AppState>, session: Session) -> Response {
    if !session.is_admin() {
        return message(
            &session,
            StatusCode::FORBIDDEN,
            "Admins only",
            "Only the admin token can list accounts.",
        );
    }
    let mut accounts = Vec::new();
    let mut request = PageRequest::first(250);
    loop {
        let found = match state.store.list_accounts(request).await {
            Ok(found) => found,
            Err(err) => return failure(&session, "Try again", "", &ServiceError::from(err)),
        };
        accounts.extend(found.items.into_iter().map(|a| (a.id, a.name)));
        match found.next_cursor.and_then(|c| c.parse().ok()) {
            Some(seq) if accounts.len() < 5000 => request.cursor = Some(seq),
            _ => break,
        }
    }
    page(&AccountsPage {
        layout: Layout::new(&session, "Accounts", None, "accounts"),
        accounts,
    })
}

/// The operational endpoints (admin): the endpoint pages of the platform
/// account, created here if no operational endpoint was ever registered.
pub(super) async fn operational(State(state): State<AppState>, session: Session) -> Response {
    if !session.is_admin() {
        return message(
            &session,
            StatusCode::FORBIDDEN,
            "Admins only",
            "Operational webhooks belong to the platform: sign in with the admin token.",
        );
    }
    if let Err(err) = crate::service::endpoints::ensure_platform_account(&state).await {
        return failure(&session, "Try again", "", &err);
    }
    let urls = Urls {
        account: hookline_core::operational::PLATFORM_ACCOUNT_ID,
    };
    Redirect::to(&urls.endpoints()).into_response()
}
