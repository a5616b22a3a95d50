//! What every dashboard response passes through: the session is looked up
//! once and handed to the handler; a read-only session is refused anything
//! that changes state or reveals a secret, whatever the handler; and every
//! answer carries the security headers (Content-Security-Policy with
//! `frame-ancestors`, `nosniff`, `Referrer-Policy`, `no-store` unless the
//! handler chose its own caching).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use super::session::{self, CookieSite, Session};
use super::urls;
use crate::config::Config;
use crate::state::AppState;

/// Looks the session up, refuses what a read-only session may not do, and
/// adds the security headers.
pub(super) async fn guard(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let mut response = match session::load(&state, request.headers()).await {
        Err(response) => response,
        Ok(Some(s)) if s.read_only && !read_only_may(request.method(), request.uri().path()) => {
            super::message(
                &s,
                StatusCode::FORBIDDEN,
                "Read-only access",
                "This session can look at everything but change nothing, and it does not reveal secrets.",
            )
        }
        Ok(found) => {
            if let Some(s) = found {
                request.extensions_mut().insert::<Session>(s);
            }
            next.run(request).await
        }
    };
    secure_headers(&state.config, response.headers_mut());
    response
}

/// What a read-only session may request: reading pages (but not secrets)
/// and logging out.
fn read_only_may(method: &Method, path: &str) -> bool {
    match *method {
        Method::GET | Method::HEAD => !path.ends_with("/secret"),
        Method::POST => path == urls::LOGOUT,
        _ => false,
    }
}

/// The `frame-ancestors` source list.
fn ancestors(config: &Config) -> String {
    if config.portal_frame_ancestors.is_empty() {
        "'none'".into()
    } else {
        config.portal_frame_ancestors.join(" ")
    }
}

fn secure_headers(config: &Config, headers: &mut HeaderMap) {
    let csp = format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; \
         connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors {}",
        ancestors(config)
    );
    if let Ok(value) = HeaderValue::from_str(&csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    if config.portal_frame_ancestors.is_empty() {
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
}

/// Whether the browser reached us over https: `HOOKLINE_PUBLIC_URL` says
/// so, or a trusted proxy's `X-Forwarded-Proto` does.
pub(crate) fn is_https(config: &Config, parts: &Parts) -> bool {
    if config
        .public_url
        .as_ref()
        .is_some_and(|u| u.scheme() == "https")
    {
        return true;
    }
    let from_proxy = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .is_some_and(|peer| config.trusted_proxies.contains(&peer.0.ip()));
    from_proxy
        && parts
            .headers
            .get("x-forwarded-proto")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"))
}

/// How to set the cookie of `session`-like sessions on this request.
pub(crate) fn cookie_site(config: &Config, parts: &Parts, portal: bool) -> CookieSite {
    CookieSite {
        https: is_https(config, parts),
        framed: portal && !config.portal_frame_ancestors.is_empty(),
        portal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_only_sessions_only_read() {
        assert!(read_only_may(&Method::GET, "/dashboard/accounts/a/events"));
        assert!(!read_only_may(
            &Method::GET,
            "/dashboard/accounts/a/endpoints/ep_1/secret"
        ));
        assert!(!read_only_may(
            &Method::POST,
            "/dashboard/accounts/a/endpoints"
        ));
        assert!(read_only_may(&Method::POST, urls::LOGOUT));
    }
}
