//! Dashboard sessions: a signed cookie naming the caller (the admin or one
//! account), with an expiry and a nonce. The signing key is a random value
//! kept in the store, so every node of a fleet accepts the same cookies.
//! Logging in takes an account API key or the admin token.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::urls;
use crate::auth::Caller;
use crate::state::AppState;

pub(crate) const COOKIE: &str = "hookline_session";
const KEY_SETTING: &str = "dashboard_session_key";
const LIFETIME_SECS: i64 = 12 * 3600;

/// A logged-in dashboard user.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub(crate) caller: Caller,
    nonce: String,
    key: Vec<u8>,
}

impl Session {
    /// The CSRF token every form of this session must carry.
    pub(crate) fn csrf(&self) -> String {
        hex(&mac(&self.key, &format!("csrf|{}", self.nonce)))
    }

    pub(crate) fn is_admin(&self) -> bool {
        self.caller == Caller::Admin
    }
}

fn mac(key: &[u8], text: &str) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts any key length");
    m.update(text.as_bytes());
    m.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The session signing key, created once per database (a read after that).
pub(crate) async fn key(state: &AppState) -> Result<Vec<u8>, Response> {
    let stored = match state.store.setting(KEY_SETTING).await {
        Ok(Some(key)) => Ok(key),
        Ok(None) => {
            let fresh = hookline_core::secret::generate_token("");
            state.store.setting_or_insert(KEY_SETTING, &fresh).await
        }
        Err(err) => Err(err),
    };
    stored
        .map(String::into_bytes)
        .map_err(|err| crate::error::ApiError::from(err).into_response())
}

/// A `Set-Cookie` value starting a session for `caller`.
pub(crate) fn start(key: &[u8], caller: &Caller, secure: bool) -> HeaderValue {
    let who = match caller {
        Caller::Admin => "admin".to_string(),
        Caller::Account(id) => format!("acct:{id}"),
    };
    let expires = chrono::Utc::now().timestamp() + LIFETIME_SECS;
    let nonce = hookline_core::secret::generate_token("");
    let payload = format!("{who}|{expires}|{nonce}");
    let value = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(&payload),
        hex(&mac(key, &payload))
    );
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{COOKIE}={value}; Path=/dashboard; HttpOnly; SameSite=Strict; Max-Age={LIFETIME_SECS}{secure}"
    ))
    .expect("base64 and hex are valid header text")
}

/// A `Set-Cookie` value ending the session.
pub(crate) fn end() -> HeaderValue {
    HeaderValue::from_static(
        "hookline_session=; Path=/dashboard; HttpOnly; SameSite=Strict; Max-Age=0",
    )
}

/// The value of cookie `name`.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

fn parse(key: &[u8], value: &str) -> Option<Session> {
    let (encoded, signature) = value.split_once('.')?;
    let payload = String::from_utf8(URL_SAFE_NO_PAD.decode(encoded).ok()?).ok()?;
    if !super::csrf::tokens_match(Some(signature), &hex(&mac(key, &payload))) {
        return None;
    }
    let mut parts = payload.splitn(3, '|');
    let who = parts.next()?;
    let expires: i64 = parts.next()?.parse().ok()?;
    let nonce = parts.next()?.to_string();
    if expires < chrono::Utc::now().timestamp() {
        return None;
    }
    let caller = match who {
        "admin" => Caller::Admin,
        other => Caller::Account(other.strip_prefix("acct:")?.to_string()),
    };
    Some(Session {
        caller,
        nonce,
        key: key.to_vec(),
    })
}

impl FromRequestParts<AppState> for Session {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let key = key(state).await?;
        cookie(&parts.headers, COOKIE)
            .and_then(|value| parse(&key, &value))
            .ok_or_else(|| Redirect::to(urls::LOGIN).into_response())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_round_trip_and_reject_tampering() {
        let key = b"k".to_vec();
        let header = start(&key, &Caller::Account("acct_1".into()), false);
        let value = header
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .trim_start_matches("hookline_session=")
            .to_string();
        let session = parse(&key, &value).unwrap();
        assert_eq!(session.caller, Caller::Account("acct_1".into()));
        assert!(parse(b"other key", &value).is_none());
        let forged = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode("admin|9999999999|x"),
            value.split('.').nth(1).unwrap()
        );
        assert!(parse(&key, &forged).is_none());
    }
}
