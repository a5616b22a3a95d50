//! Logging in (API key or admin token), out, and the landing redirect.

use askama::Template;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use super::csrf::{tokens_match, FormData};
use super::session::{self, Session};
use super::urls::{self, Urls};
use super::{check_csrf, page_with_status};
use crate::auth::Caller;
use crate::state::AppState;

const LOGIN_CSRF_COOKIE: &str = "hookline_login_csrf";

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    csrf: String,
    error: Option<String>,
    notice: Option<String>,
}

fn home_of(caller: &Caller) -> String {
    match caller {
        Caller::Admin => urls::ACCOUNTS.to_string(),
        Caller::Account(id) => Urls { account: id }.endpoints(),
    }
}

/// `/dashboard`: the caller's home, or the login page.
pub(super) async fn home(session: Result<Session, Response>) -> Redirect {
    match session {
        Ok(s) => Redirect::to(&home_of(&s.caller)),
        Err(_) => Redirect::to(urls::LOGIN),
    }
}

fn login_page(status: StatusCode, error: Option<String>, notice: Option<String>) -> Response {
    // A fresh double-submit token: the cookie and the hidden field must match.
    let token = hookline_core::secret::generate_token("");
    let mut response = page_with_status(
        status,
        &LoginPage {
            csrf: token.clone(),
            error,
            notice,
        },
    );
    let cookie = format!(
        "{LOGIN_CSRF_COOKIE}={token}; Path=/dashboard; HttpOnly; SameSite=Strict; Max-Age=3600"
    );
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// The login form.
pub(super) async fn form(uri: axum::http::Uri) -> Response {
    let notice = uri
        .query()
        .is_some_and(|q| q.contains("bye"))
        .then(|| "You are logged out.".to_string());
    login_page(StatusCode::OK, None, notice)
}

/// Checks the token and starts a session.
pub(super) async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = FormData::parse(&body);
    let expected = session::cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
    if expected.is_empty() || !tokens_match(form.get("csrf").as_deref(), &expected) {
        return login_page(
            StatusCode::FORBIDDEN,
            Some("The login form expired (missing CSRF token). Please try again.".into()),
            None,
        );
    }
    let Some(token) = form.get("token") else {
        return login_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("Paste an API key or the admin token.".into()),
            None,
        );
    };
    let caller = match state.auth.caller(&token).await {
        Ok(caller) => caller,
        Err(_) => return login_page(
            StatusCode::UNAUTHORIZED,
            Some(
                "That key was not accepted. Use an account API key (hk_live_…) or the admin token."
                    .into(),
            ),
            None,
        ),
    };
    let key = match session::key(&state).await {
        Ok(key) => key,
        Err(response) => return response,
    };
    let secure = headers
        .get("x-forwarded-proto")
        .is_some_and(|v| v.as_bytes() == b"https");
    let mut response = Redirect::to(&home_of(&caller)).into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, session::start(&key, &caller, secure));
    response
}

/// Ends the session.
pub(super) async fn logout(session: Session, body: Bytes) -> Response {
    if let Err(response) = check_csrf(&session, &FormData::parse(&body)) {
        return response;
    }
    let mut response = Redirect::to("/dashboard/login?bye").into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, session::end());
    response
}
