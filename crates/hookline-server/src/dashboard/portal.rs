//! Opening a portal link (`/dashboard/portal/{token}`): the one-time token
//! made by `POST /v1/accounts/{id}/portal-sessions` becomes a session
//! cookie for that account, with the link's rights (read-only or not) and
//! its end time. A used, expired or revoked link is refused.

use axum::extract::{Path, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;

use super::guard::cookie_site;
use super::urls::Urls;
use super::{anonymous_message, session};
use crate::auth::hash_token;
use crate::state::AppState;

/// Turns the link into a session and opens the account's dashboard.
pub(super) async fn open(
    State(state): State<AppState>,
    Path(token): Path<String>,
    parts: Parts,
) -> Response {
    let cookie_token = hookline_core::secret::generate_token("");
    let now = Utc::now();
    let redeemed = state
        .store
        .redeem_portal_link(&hash_token(&token), &hash_token(&cookie_token), now)
        .await;
    let session = match redeemed {
        Ok(Some(session)) => session,
        Ok(None) => {
            return anonymous_message(
                &state,
                StatusCode::FORBIDDEN,
                "This link no longer works",
                "A sign-in link works once and for a limited time. Go back to where you came from and open the webhooks page again to get a new one.",
            )
            .await
        }
        Err(err) => {
            tracing::warn!(error = %err, "could not open a portal link");
            return anonymous_message(
                &state,
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again",
                "The database did not answer.",
            )
            .await;
        }
    };
    let Some(account) = session.account_id.as_deref() else {
        return anonymous_message(&state, StatusCode::FORBIDDEN, "Not a portal link", "").await;
    };
    let max_age = (session.expires_at - now).num_seconds().max(1);
    let site = cookie_site(&state.config, &parts, true);
    let mut response = Redirect::to(&Urls { account }.home()).into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        session::cookie(&cookie_token, max_age, site),
    );
    response
}
