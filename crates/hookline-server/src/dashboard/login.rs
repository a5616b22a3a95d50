//! Logging in (API key or admin token), out, and the landing redirect.

use askama::Template;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use super::brand::Look;
use super::csrf::{tokens_match, FormData};
use super::guard::cookie_site;
use super::session::{self, Session};
use super::urls::{self, Urls};
use super::{check_csrf, page_with_status};
use crate::auth::{hash_token, Caller};
use crate::state::AppState;

const LOGIN_CSRF_COOKIE: &str = "hookline_login_csrf";

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    look: Look,
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

fn login_page(
    state: &AppState,
    status: StatusCode,
    error: Option<String>,
    notice: Option<String>,
) -> Response {
    // A fresh double-submit token: the cookie and the hidden field must match.
    let token = hookline_core::secret::generate_token("");
    let mut response = page_with_status(
        status,
        &LoginPage {
            look: Look::configured(state),
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
pub(super) async fn form(State(state): State<AppState>, uri: axum::http::Uri) -> Response {
    let notice = uri
        .query()
        .is_some_and(|q| q.contains("bye"))
        .then(|| "You are logged out.".to_string());
    login_page(&state, StatusCode::OK, None, notice)
}

/// Checks the token and starts a session.
pub(super) async fn submit(State(state): State<AppState>, parts: Parts, body: Bytes) -> Response {
    let form = FormData::parse(&body);
    let expected = login_csrf_cookie(&parts).unwrap_or_default();
    if expected.is_empty() || !tokens_match(form.get("csrf").as_deref(), &expected) {
        return login_page(
            &state,
            StatusCode::FORBIDDEN,
            Some("The login form expired (missing CSRF token). Please try again.".into()),
            None,
        );
    }
    let Some(token) = form.get("token") else {
        return login_page(
            &state,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("Paste an API key or the admin token.".into()),
            None,
        );
    };
    let caller = match state.auth.caller(&token).await {
        Ok(caller) => caller,
        Err(_) => return login_page(
            &state,
            StatusCode::UNAUTHORIZED,
            Some(
                "That key was not accepted. Use an account API key (hk_live_…) or the admin token."
                    .into(),
            ),
            None,
        ),
    };
    let key_hash = matches!(caller, Caller::Account(_)).then(|| hash_token(&token));
    let site = cookie_site(&state.config, &parts, false);
    let cookie = match session::start(&state, &caller, key_hash, site).await {
        Ok(cookie) => cookie,
        Err(response) => return response,
    };
    let mut response = Redirect::to(&home_of(&caller)).into_response();
    response.headers_mut().append(header::SET_COOKIE, cookie);
    response
}

fn login_csrf_cookie(parts: &Parts) -> Option<String> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == LOGIN_CSRF_COOKIE)
        .map(|(_, v)| v.to_string())
}

/// Ends the session on the server (a copy of the cookie stops working too).
pub(super) async fn logout(
    State(state): State<AppState>,
    session: Session,
    parts: Parts,
    body: Bytes,
) -> Response {
    if let Err(response) = check_csrf(&session, &FormData::parse(&body)) {
        return response;
    }
    if let Err(err) = state.store.end_dashboard_session(session.id_hash()).await {
        return super::message(
            &session,
            StatusCode::SERVICE_UNAVAILABLE,
            "Not logged out",
            &format!("The session could not be ended ({err}); try again."),
        );
    }
    let mut response = Redirect::to("/dashboard/login?bye").into_response();
    let site = cookie_site(&state.config, &parts, session.portal);
    response
        .headers_mut()
        .append(header::SET_COOKIE, session::cleared(site));
    response
}
