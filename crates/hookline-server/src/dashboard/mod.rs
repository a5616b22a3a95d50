//! The merchant dashboard at `/dashboard`: server-rendered pages (askama
//! templates compiled into the binary), a stylesheet and a little script,
//! nothing loaded from the internet. Rules come from `service/`; this module
//! only renders and routes. Logged-in forms carry a CSRF token; sessions live
//! in the store (`session.rs`), portal links open them (`portal.rs`), and
//! `guard.rs` adds the security headers and enforces read-only sessions.

// Page helpers answer `Err(Response)` with the finished error page; boxing a
// response that is returned at once would only add an allocation.
#![allow(clippy::result_large_err)]

mod accounts;
mod attempts;
mod brand;
mod catalogue;
mod chart;
mod csrf;
mod curl;
mod endpoint_form;
mod endpoints;
mod events;
mod guard;
mod login;
mod overview;
mod portal;
mod session;
mod urls;

use askama::Template;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::auth::Caller;
use crate::scope::{Front, Scoped};
use crate::service::ServiceError;
use crate::state::AppState;
use brand::Look;
use session::Session;

/// The dashboard's routes.
pub(crate) fn router(state: AppState) -> Router {
    let account = "/dashboard/accounts/{account_id}";
    Router::new()
        .route("/", get(|| async { Redirect::to("/dashboard") }))
        .route("/dashboard", get(login::home))
        .route("/dashboard/login", get(login::form).post(login::submit))
        .route(urls::LOGOUT, post(login::logout))
        .route("/dashboard/portal/{token}", get(portal::open))
        .route("/dashboard/assets/app.css", get(stylesheet))
        .route("/dashboard/assets/app.js", get(script))
        .route(
            "/dashboard/assets/accent/{file}",
            get(brand::accent_stylesheet),
        )
        .route("/dashboard/accounts", get(accounts::list))
        .route(urls::OPERATIONAL, get(accounts::operational))
        .route(
            &format!("{account}/endpoints"),
            get(endpoints::list).post(endpoints::create),
        )
        .route(
            &format!("{account}/endpoints/new"),
            get(endpoints::new_form),
        )
        .route(
            &format!("{account}/endpoints/{{endpoint_id}}"),
            get(endpoints::show).post(endpoints::update),
        )
        .route(
            &format!("{account}/endpoints/{{endpoint_id}}/toggle"),
            post(endpoints::toggle),
        )
        .route(
            &format!("{account}/endpoints/{{endpoint_id}}/delete"),
            post(endpoints::delete),
        )
        .route(
            &format!("{account}/endpoints/{{endpoint_id}}/rotate"),
            post(endpoints::rotate),
        )
        .route(
            &format!("{account}/endpoints/{{endpoint_id}}/test"),
            post(endpoints::send_test),
        )
        .route(
            &format!("{account}/endpoints/{{endpoint_id}}/recover"),
            post(endpoints::recover),
        )
        .route(
            &format!("{account}/endpoints/{{endpoint_id}}/secret"),
            get(endpoints::secret),
        )
        .route(&format!("{account}/overview"), get(overview::show))
        .route(
            &format!("{account}/event-types"),
            get(catalogue::list).post(catalogue::register),
        )
        .route(
            &format!("{account}/event-types/{{name}}"),
            post(catalogue::update),
        )
        .route(
            &format!("{account}/attempts/{{attempt_id}}"),
            get(attempts::show),
        )
        .route(&format!("{account}/events"), get(events::list))
        .route(&format!("{account}/events/{{event_id}}"), get(events::show))
        .route(
            &format!("{account}/events/{{event_id}}/live"),
            get(events::live),
        )
        .route(
            &format!("{account}/events/{{event_id}}/resend"),
            post(events::resend),
        )
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::guard,
        ))
        .with_state(state)
}

async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        include_str!("assets/app.css"),
    )
}

async fn script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        include_str!("assets/app.js"),
    )
}

/// What the page frame needs: title, navigation, brand and the session's
/// CSRF token. A portal page has no global navigation and no logout (it
/// would strand the frame); a "back" link leads to its `return_url`.
pub(crate) struct Layout {
    pub(crate) title: String,
    pub(crate) account: Option<String>,
    pub(crate) section: &'static str,
    pub(crate) csrf: String,
    pub(crate) is_admin: bool,
    pub(crate) signed_in: bool,
    pub(crate) portal: bool,
    pub(crate) read_only: bool,
    pub(crate) return_url: String,
    pub(crate) look: Look,
}

impl Layout {
    pub(crate) fn new(
        session: &Session,
        title: impl Into<String>,
        account: Option<&str>,
        section: &'static str,
    ) -> Self {
        Layout {
            title: title.into(),
            account: account.map(str::to_string),
            section,
            csrf: session.csrf(),
            is_admin: session.is_admin(),
            signed_in: true,
            portal: session.portal,
            read_only: session.read_only,
            return_url: session.return_url.clone().unwrap_or_default(),
            look: session.look.clone(),
        }
    }

    /// Whether the page is one of the admin's operational pages (the
    /// platform account's endpoints and events).
    pub(crate) fn operational(&self) -> bool {
        self.account.as_deref() == Some(hookline_core::operational::PLATFORM_ACCOUNT_ID)
    }

    /// The frame of a page shown without a session.
    pub(crate) fn anonymous(look: Look, title: impl Into<String>) -> Self {
        Layout {
            title: title.into(),
            account: None,
            section: "",
            csrf: String::new(),
            is_admin: false,
            signed_in: false,
            portal: false,
            read_only: false,
            return_url: String::new(),
            look,
        }
    }
}

/// Renders a template as a page.
pub(crate) fn page<T: Template>(template: &T) -> Response {
    page_with_status(StatusCode::OK, template)
}

pub(crate) fn page_with_status<T: Template>(status: StatusCode, template: &T) -> Response {
    match template.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(err) => {
            tracing::error!(error = %err, "a dashboard template failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be rendered; it was logged",
            )
                .into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage {
    layout: Layout,
    heading: String,
    text: String,
}

/// A plain page for "not found" and "forbidden" answers.
pub(crate) fn message(
    session: &Session,
    status: StatusCode,
    heading: &str,
    text: &str,
) -> Response {
    let page = MessagePage {
        layout: Layout::new(session, heading, None, ""),
        heading: heading.into(),
        text: text.into(),
    };
    page_with_status(status, &page)
}

/// A plain page for a visitor without a session (a refused portal link).
pub(crate) async fn anonymous_message(
    state: &AppState,
    status: StatusCode,
    heading: &str,
    text: &str,
) -> Response {
    let page = MessagePage {
        layout: Layout::anonymous(Look::configured(state), heading),
        heading: heading.into(),
        text: text.into(),
    };
    page_with_status(status, &page)
}

/// The page for a refused or failed service operation: "not found" (with
/// `missing`, what the user looked for), a rule broken, a conflict, or the
/// database not answering — never one shown as another.
pub(crate) fn failure(
    session: &Session,
    heading: &str,
    missing: &str,
    err: &ServiceError,
) -> Response {
    match err {
        ServiceError::NotFound { .. } => {
            message(session, StatusCode::NOT_FOUND, "Not found", missing)
        }
        ServiceError::Invalid { message: text, .. } => {
            message(session, StatusCode::UNPROCESSABLE_ENTITY, heading, text)
        }
        ServiceError::Conflict(text) => message(session, StatusCode::CONFLICT, heading, text),
        ServiceError::Forbidden(text) => message(session, StatusCode::FORBIDDEN, heading, text),
        ServiceError::Unavailable(cause) => {
            tracing::error!(error = %cause, "a dashboard page could not reach the database");
            message(
                session,
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again",
                "The database did not answer; try again in a moment.",
            )
        }
    }
}

/// The dashboard's side of the account scope: the session, and a page for
/// a refusal.
pub(crate) struct Dashboard;

impl Front for Dashboard {
    type Who = Session;
    type Rejection = Response;

    async fn who(parts: &mut Parts, state: &AppState) -> Result<Session, Response> {
        Session::from_request_parts(parts, state).await
    }

    fn caller(who: &Session) -> &Caller {
        &who.caller
    }

    fn reject(who: &Session, err: ServiceError) -> Response {
        failure(
            who,
            "Not allowed",
            "There is no such account, or it is not yours.",
            &err,
        )
    }

    /// The admin's operational pages are the endpoint pages of the
    /// platform account.
    const MANAGES_PLATFORM: bool = true;
}

/// A page request whose session may act on its `{account_id}`.
pub(crate) type AccountPage = Scoped<Dashboard>;

/// Rejects a form without this session's CSRF token.
pub(crate) fn check_csrf(session: &Session, form: &csrf::FormData) -> Result<(), Response> {
    if csrf::tokens_match(form.get("csrf").as_deref(), &session.csrf()) {
        Ok(())
    } else {
        Err(message(
            session,
            StatusCode::FORBIDDEN,
            "Form expired",
            "This form was not sent from this dashboard session (missing or wrong CSRF token). Reload the page and try again.",
        ))
    }
}
