//! Dashboard sessions, kept server-side. The cookie holds a random token;
//! the store keeps only its SHA-256 with whom it is for (the admin or one
//! account), whether it is read-only or a portal session, and when it ends.
//! Logging out deletes the row, so a copied cookie stops working, and
//! deleting the account or the API key that made a session ends it too.
//! CSRF tokens are an HMAC of the session's hash under a key kept in the
//! store, so any node of a fleet checks them.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{Duration, Utc};
use hmac::{Hmac, Mac};
use hookline_store::{DashboardSession, SessionKind};
use sha2::Sha256;

use super::brand::Look;
use super::urls;
use crate::auth::{hash_token, Caller};
use crate::state::AppState;

pub(crate) const COOKIE: &str = "hookline_session";
const KEY_SETTING: &str = "dashboard_session_key";
/// How long a login lasts (a portal session lasts as long as its link said).
const LOGIN_LIFETIME_HOURS: i64 = 12;

/// A signed-in dashboard user.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub(crate) caller: Caller,
    /// Shows everything, changes nothing, reveals no secret.
    pub(crate) read_only: bool,
    /// Opened from a portal link: no global navigation, no logout.
    pub(crate) portal: bool,
    /// Where the portal's "back" link leads.
    pub(crate) return_url: Option<String>,
    /// The brand its pages wear.
    pub(crate) look: Look,
    id_hash: String,
    key: Vec<u8>,
}

impl Session {
    /// The CSRF token every form of this session must carry.
    pub(crate) fn csrf(&self) -> String {
        hex::encode(mac(&self.key, &format!("csrf|{}", self.id_hash)))
    }

    pub(crate) fn is_admin(&self) -> bool {
        self.caller == Caller::Admin
    }

    pub(crate) fn id_hash(&self) -> &str {
        &self.id_hash
    }
}

fn mac(key: &[u8], text: &str) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts any key length");
    m.update(text.as_bytes());
    m.finalize().into_bytes().to_vec()
}

/// The CSRF key, created once per database and read once per node.
pub(crate) async fn key(state: &AppState) -> Result<Vec<u8>, Response> {
    state
        .page_cache
        .csrf_key(|| async {
            let stored = match state.store.setting(KEY_SETTING).await? {
                Some(key) => key,
                None => {
                    let fresh = hookline_core::secret::generate_token("");
                    state.store.setting_or_insert(KEY_SETTING, &fresh).await?
                }
            };
            Ok(stored.into_bytes())
        })
        .await
        .map_err(|err| crate::error::ApiError::from(err).into_response())
}

/// How a session cookie must be set for the browser to send it back.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CookieSite {
    /// The dashboard is served over https (configuration or a trusted proxy).
    pub(crate) https: bool,
    /// A portal session that other origins may frame: the cookie must be
    /// `SameSite=None; Secure; Partitioned` to travel inside a cross-site
    /// frame (Chromium treats http://localhost and 127.0.0.1 as secure).
    pub(crate) framed: bool,
    /// A portal session opened by a cross-site redirect: `Lax` so the
    /// redirected navigation carries it.
    pub(crate) portal: bool,
}

/// A `Set-Cookie` value holding `token` for `max_age_secs`.
pub(crate) fn cookie(token: &str, max_age_secs: i64, site: CookieSite) -> HeaderValue {
    let attributes = if site.framed {
        "; SameSite=None; Secure; Partitioned"
    } else if site.portal && site.https {
        "; SameSite=Lax; Secure"
    } else if site.portal {
        "; SameSite=Lax"
    } else if site.https {
        "; SameSite=Strict; Secure"
    } else {
        "; SameSite=Strict"
    };
    HeaderValue::from_str(&format!(
        "{COOKIE}={token}; Path=/dashboard; HttpOnly; Max-Age={max_age_secs}{attributes}"
    ))
    .expect("hex tokens are valid header text")
}

/// A `Set-Cookie` value clearing the cookie (the row is deleted separately).
pub(crate) fn cleared(site: CookieSite) -> HeaderValue {
    cookie("", 0, site)
}

/// Starts a login session for `caller`; `api_key_hash` ties it to the key.
pub(crate) async fn start(
    state: &AppState,
    caller: &Caller,
    api_key_hash: Option<String>,
    site: CookieSite,
) -> Result<HeaderValue, Response> {
    let token = hookline_core::secret::generate_token("");
    let now = Utc::now();
    let row = DashboardSession {
        id_hash: hash_token(&token),
        kind: SessionKind::Session,
        account_id: match caller {
            Caller::Admin => None,
            Caller::Account(id) => Some(id.clone()),
        },
        api_key_hash,
        read_only: false,
        portal: false,
        return_url: None,
        created_at: now,
        expires_at: now + Duration::hours(LOGIN_LIFETIME_HOURS),
    };
    state
        .store
        .create_dashboard_session(&row)
        .await
        .map_err(|err| crate::error::ApiError::from(err).into_response())?;
    Ok(cookie(&token, LOGIN_LIFETIME_HOURS * 3600, site))
}

/// Every value of our cookie in the request (a framed and a first-party
/// cookie may both be sent).
fn tokens(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(k, v)| *k == COOKIE && !v.is_empty())
        .map(|(_, v)| v)
}

/// The live session named by the request's cookie, if any.
pub(crate) async fn load(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<Session>, Response> {
    for token in tokens(headers) {
        let id_hash = hash_token(token);
        let found = state
            .store
            .dashboard_session(&id_hash, Utc::now())
            .await
            .map_err(|err| crate::error::ApiError::from(err).into_response())?;
        let Some(row) = found else { continue };
        let look = super::brand::look(state, row.account_id.as_deref()).await;
        return Ok(Some(Session {
            caller: match row.account_id {
                None => Caller::Admin,
                Some(id) => Caller::Account(id),
            },
            read_only: row.read_only,
            portal: row.portal,
            return_url: row.return_url,
            look,
            id_hash,
            key: key(state).await?,
        }));
    }
    Ok(None)
}

impl FromRequestParts<AppState> for Session {
    type Rejection = Response;

    /// The session the guard found (`guard.rs`), else a fresh lookup; no
    /// session sends the browser to the login page.
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(session) = parts.extensions.get::<Session>() {
            return Ok(session.clone());
        }
        load(state, &parts.headers)
            .await?
            .ok_or_else(|| Redirect::to(urls::LOGIN).into_response())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(https: bool, framed: bool, portal: bool) -> String {
        cookie(
            "abc",
            60,
            CookieSite {
                https,
                framed,
                portal,
            },
        )
        .to_str()
        .unwrap()
        .to_string()
    }

    #[test]
    fn cookies_fit_where_the_dashboard_is_shown() {
        assert!(site(false, false, false).ends_with("SameSite=Strict"));
        assert!(site(true, false, false).ends_with("SameSite=Strict; Secure"));
        assert!(site(false, false, true).ends_with("SameSite=Lax"));
        assert!(site(false, true, true).ends_with("SameSite=None; Secure; Partitioned"));
        assert!(site(true, false, false).contains("HttpOnly"));
    }
}
