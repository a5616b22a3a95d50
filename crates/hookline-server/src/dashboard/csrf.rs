//! CSRF protection and form parsing. Every dashboard form carries a token
//! derived from the session (an HMAC of its nonce), checked in constant time;
//! the login form, which has no session yet, uses a double-submit cookie.

use axum::body::Bytes;
use subtle::ConstantTimeEq;

/// A parsed `application/x-www-form-urlencoded` body (repeated keys kept).
pub(crate) struct FormData(Vec<(String, String)>);

impl FormData {
    pub(crate) fn parse(body: &Bytes) -> FormData {
        FormData(url::form_urlencoded::parse(body).into_owned().collect())
    }

    /// The first value of `key`, trimmed; `None` if absent or empty.
    pub(crate) fn get(&self, key: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    /// Every non-empty value of `key`.
    pub(crate) fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, v)| k == key && !v.trim().is_empty())
            .map(|(_, v)| v.trim().to_string())
            .collect()
    }
}

/// Whether `given` equals `expected`, in constant time.
pub(crate) fn tokens_match(given: Option<&str>, expected: &str) -> bool {
    given.is_some_and(|g| bool::from(g.as_bytes().ct_eq(expected.as_bytes())))
}
