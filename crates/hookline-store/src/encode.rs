//! Encodings both stores share: times as epoch milliseconds, maps and lists
//! as JSON text (list pages are cut in `paging`).

use chrono::{DateTime, Utc};
use hookline_core::{Attempt, Timestamp};

use crate::StoreError;

/// Now, in stored form.
pub(crate) fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// A time in stored form.
pub(crate) fn ms(t: Timestamp) -> i64 {
    t.timestamp_millis()
}

/// A stored time.
pub(crate) fn time(ms: i64) -> Timestamp {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// A stored optional time.
pub(crate) fn opt_time(ms: Option<i64>) -> Option<Timestamp> {
    ms.map(time)
}

/// A map or list as stored JSON text.
pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("maps and lists of strings always serialise")
}

/// An attempt's exchange as its three stored columns: request headers
/// (JSON pairs), payload mode, response headers (JSON pairs); all `NULL`
/// without one.
pub(crate) fn exchange_columns(
    a: &Attempt,
) -> (Option<String>, Option<&'static str>, Option<String>) {
    match &a.exchange {
        Some(x) => (
            Some(to_json(&x.request_headers)),
            Some(x.payload.as_str()),
            Some(to_json(&x.response_headers)),
        ),
        None => (None, None, None),
    }
}

/// Names the key an account write clashed on (its id or its `uid`).
pub(crate) fn account_conflict(err: StoreError, a: &hookline_core::Account) -> StoreError {
    match err {
        StoreError::Conflict(detail) if detail.contains("uid") => StoreError::Conflict(format!(
            "an account with uid {} already exists",
            a.uid.as_deref().unwrap_or_default()
        )),
        StoreError::Conflict(_) => {
            StoreError::Conflict(format!("an account with id {} already exists", a.id))
        }
        other => other,
    }
}

/// Names the key an endpoint write clashed on (its `uid` in the account).
pub(crate) fn endpoint_conflict(err: StoreError, e: &hookline_core::Endpoint) -> StoreError {
    match err {
        StoreError::Conflict(detail) if detail.contains("uid") => StoreError::Conflict(format!(
            "an endpoint with uid {} already exists in this account",
            e.uid.as_deref().unwrap_or_default()
        )),
        StoreError::Conflict(_) => {
            StoreError::Conflict(format!("an endpoint with id {} already exists", e.id))
        }
        other => other,
    }
}
