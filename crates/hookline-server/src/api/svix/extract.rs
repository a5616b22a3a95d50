//! What every Svix-compatible handler starts with: the caller (with Svix's
//! 401), the shared account scope (`scope::Scoped`) with `{app_id}` as an
//! id or `uid`, JSON bodies and query strings parsed into Svix's 422s, the
//! endpoint / message a path names (by id or by the platform's own key),
//! Svix's time format and its list envelope.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use chrono::{DateTime, NaiveDateTime, Utc};
use hookline_core::{Account, Endpoint, Event, Page, Timestamp};
use hookline_store::{Direction, PageRequest, StoreError};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};

use super::error::{SvixError, SvixResult};
use crate::auth::{bearer, Caller};
use crate::error::ApiError;
use crate::scope::{Front, Scoped};
use crate::service::ServiceError;
use crate::state::AppState;

/// The caller of a Svix-compatible route: the admin token is Svix's
/// organisation token, an account API key an application-scoped one.
pub(crate) struct SvixCaller(pub(crate) Caller);

impl FromRequestParts<AppState> for SvixCaller {
    type Rejection = SvixError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> SvixResult<Self> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let token = bearer(header)?;
        Ok(SvixCaller(state.auth.caller(token).await?))
    }
}

impl SvixCaller {
    /// Only the admin token (organisation-wide operations).
    pub(crate) fn require_admin(&self, what: &str) -> SvixResult<()> {
        match self.0 {
            Caller::Admin => Ok(()),
            Caller::Account(_) => Err(SvixError::forbidden(format!(
                "{what} needs the admin token; an account API key acts on its own application only"
            ))),
        }
    }
}

/// A JSON body: malformed JSON is a 400, a wrong shape a 422 naming the field.
pub(crate) struct SvixJson<T>(pub(crate) T);

impl<T: DeserializeOwned> FromRequest<AppState> for SvixJson<T> {
    type Rejection = SvixError;

    async fn from_request(req: Request, state: &AppState) -> SvixResult<Self> {
        let limit = state.config.max_payload_bytes;
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                SvixError::from(ApiError::too_large(limit))
            } else {
                ApiError::bad_request(format!("could not read the request body: {rejection}"))
                    .into()
            }
        })?;
        let bytes = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}".as_slice()
        } else {
            &bytes
        };
        let mut deserializer = serde_json::Deserializer::from_slice(bytes);
        serde_path_to_error::deserialize(&mut deserializer)
            .map(SvixJson)
            .map_err(|e| {
                let path = e.path().to_string();
                let inner = e.into_inner();
                match inner.classify() {
                    serde_json::error::Category::Data => {
                        let mut loc = vec!["body"];
                        loc.extend(path.split('.').filter(|p| !p.is_empty()));
                        SvixError::invalid(&loc, inner.to_string())
                    }
                    _ => {
                        ApiError::malformed(format!("the request body is not valid JSON: {inner}"))
                            .into()
                    }
                }
            })
    }
}

/// Query parameters; a bad one is a 422 naming it.
pub(crate) struct SvixQuery<T>(pub(crate) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for SvixQuery<T> {
    type Rejection = SvixError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> SvixResult<Self> {
        let query = parts.uri.query().unwrap_or_default();
        serde_urlencoded_query(query).map(SvixQuery)
    }
}

fn serde_urlencoded_query<T: DeserializeOwned>(query: &str) -> SvixResult<T> {
    axum::extract::Query::<T>::try_from_uri(
        &format!("/?{query}")
            .parse()
            .map_err(|_| SvixError::invalid(&["query"], "the query string is not valid"))?,
    )
    .map(|q| q.0)
    .map_err(|e| SvixError::invalid(&["query"], e.body_text()))
}

/// The Svix API's side of the account scope: the bearer token's caller
/// (Svix's 401), Svix's error shapes, and `{app_id}` as an account id or
/// `uid`.
pub(crate) struct Svix;

impl Front for Svix {
    type Who = SvixCaller;
    type Rejection = SvixError;

    async fn who(parts: &mut Parts, state: &AppState) -> SvixResult<SvixCaller> {
        SvixCaller::from_request_parts(parts, state).await
    }

    fn caller(who: &SvixCaller) -> &Caller {
        &who.0
    }

    fn reject(_: &SvixCaller, err: ServiceError) -> SvixError {
        err.into()
    }

    const MANAGES_PLATFORM: bool = false;

    async fn account_id(
        state: &AppState,
        caller: &Caller,
        key: String,
    ) -> Result<String, ServiceError> {
        let what = || format!("application {key}");
        match find_application(state, &key).await {
            Ok(Some(account)) if caller.can_access(&account.id) => Ok(account.id),
            Ok(_) => Err(ServiceError::not_found(what())),
            Err(err) => Err(ServiceError::from_store(err, &what())),
        }
    }
}

/// A Svix request whose caller may act on its `{app_id}` (an account id or
/// `uid`); another account's application is a 404, as a missing one is.
pub(crate) type SvixApp = Scoped<Svix>;

/// The account whose id or `uid` is `app_id`, if any (no access check).
pub(crate) async fn find_application(
    state: &AppState,
    app_id: &str,
) -> Result<Option<Account>, StoreError> {
    match state.store.get_account(app_id).await {
        Ok(account) => return Ok(Some(account)),
        Err(StoreError::NotFound) => {}
        Err(e) => return Err(e),
    }
    match state.store.get_account_by_uid(app_id).await {
        Ok(account) => Ok(Some(account)),
        Err(StoreError::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The account's endpoint whose id or `uid` is `endpoint_id`.
pub(crate) async fn endpoint(
    state: &AppState,
    account_id: &str,
    endpoint_id: &str,
) -> SvixResult<Endpoint> {
    match state.store.get_endpoint(account_id, endpoint_id).await {
        Ok(ep) => return Ok(ep),
        Err(StoreError::NotFound) => {}
        Err(e) => return Err(e.into()),
    }
    state
        .store
        .get_endpoint_by_uid(account_id, endpoint_id)
        .await
        .map_err(|e| SvixError::from_store(e, &format!("endpoint {endpoint_id}")))
}

/// The account's message whose id or `eventId` is `msg_id`.
pub(crate) async fn message(state: &AppState, account_id: &str, msg_id: &str) -> SvixResult<Event> {
    match state.store.get_event(account_id, msg_id).await {
        Ok(event) => return Ok(event),
        Err(StoreError::NotFound) => {}
        Err(e) => return Err(e.into()),
    }
    state
        .store
        .get_event_by_external_id(account_id, msg_id)
        .await
        .map_err(|e| SvixError::from_store(e, &format!("message {msg_id}")))
}

/// Parses Svix's times: RFC 3339, and a time without an offset as UTC
/// (what SDKs send for a naive datetime).
pub(crate) fn parse_time(text: &str) -> Option<Timestamp> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
    .map(|t| t.and_utc())
}

/// `deserialize_with` for an optional Svix time.
pub(crate) fn opt_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
    let text: Option<String> = Option::deserialize(d)?;
    text.map(|t| {
        parse_time(&t).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "`{t}` is not an RFC 3339 time such as 2026-01-31T12:00:00Z"
            ))
        })
    })
    .transpose()
}

/// `deserialize_with` for a required Svix time.
pub(crate) fn time<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
    opt_time(d)?.ok_or_else(|| serde::de::Error::custom("a time is required"))
}

/// `limit` and `iterator` of every list.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListParams {
    /// Items per page, 1 to 250 (default 50).
    pub(crate) limit: Option<u32>,
    /// `iterator` of a page for the page after it, or its `prevIterator`
    /// (`-` and a cursor) for the page just before it.
    pub(crate) iterator: Option<String>,
}

impl ListParams {
    /// The page asked for, or a 422 naming the parameter.
    pub(crate) fn page(&self) -> SvixResult<PageRequest> {
        page(self.limit, self.iterator.as_deref())
    }
}

/// A page from Svix's `limit` and `iterator`: a cursor (a store `seq`)
/// pages on after it, `-` and a cursor (a `prevIterator`) pages back from
/// it, as Svix's own server does.
pub(crate) fn page(limit: Option<u32>, iterator: Option<&str>) -> SvixResult<PageRequest> {
    let limit = limit.unwrap_or(50);
    if !(1..=250).contains(&limit) {
        return Err(SvixError::invalid_query(
            "limit",
            "`limit` must be between 1 and 250",
        ));
    }
    let cursor = |text: &str| {
        // Digits only, as handed out: `--5` or `+5` are no cursors.
        if (1..=18).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit()) {
            Ok(text.parse::<i64>().expect("18 digits fit an i64"))
        } else {
            Err(SvixError::invalid_query(
                "iterator",
                "`iterator` is not one this API gave out; pass `iterator` or `prevIterator` \
                 from a page",
            ))
        }
    };
    match iterator {
        None | Some("") => Ok(PageRequest::first(limit)),
        Some(it) => match it.strip_prefix('-') {
            Some(prev) => Ok(PageRequest::before(limit, cursor(prev)?)),
            None => Ok(PageRequest::after(limit, Some(cursor(it)?))),
        },
    }
}

/// Svix's list envelope. As on Svix's own server, `prevIterator` is `-` and
/// the first item's cursor whenever the page has items, even on the first
/// page: items may arrive before it later (a message sent since), so it is
/// how a client looks for newer ones. Passed as `iterator` it answers the
/// page just before, in the list's order; its `done` says whether nothing
/// lies further back. Where Svix still gives a `prevIterator` on such a
/// page, Hookline gives `null`: the store looked and found nothing there.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SvixList<T> {
    pub(crate) data: Vec<T>,
    /// Pass as `iterator` for the page after this one; `null` on the last
    /// page.
    pub(crate) iterator: Option<String>,
    /// Pass as `iterator` for the page before this one (`-` and a cursor);
    /// `null` on an empty page, on a page read backwards that reached the
    /// start, and on lists that come in one page.
    pub(crate) prev_iterator: Option<String>,
    /// Whether nothing lies further the way this page was asked for: after
    /// it, or before it for an `iterator` starting with `-`.
    pub(crate) done: bool,
}

impl<T> SvixList<T> {
    /// Maps a store page asked for `direction` to the envelope.
    pub(crate) fn from_page<U>(page: Page<U>, direction: Direction, f: impl FnMut(U) -> T) -> Self {
        let done = match direction {
            Direction::Forward => page.next_cursor.is_none(),
            Direction::Backward => page.prev_cursor.is_none(),
        };
        SvixList {
            data: page.items.into_iter().map(f).collect(),
            iterator: page.next_cursor,
            prev_iterator: page.prev_cursor.map(|c| format!("-{c}")),
            done,
        }
    }

    /// One page holding everything: nothing after it and nothing before,
    /// so both iterators are `null`.
    pub(crate) fn all(data: Vec<T>) -> Self {
        SvixList {
            data,
            iterator: None,
            prev_iterator: None,
            done: true,
        }
    }
}

/// Svix's `metadata`: string values (other JSON values are shown as their text).
pub(crate) fn metadata_out(
    map: &serde_json::Map<String, serde_json::Value>,
) -> std::collections::BTreeMap<String, String> {
    map.iter()
        .map(|(k, v)| {
            let text = match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), text)
        })
        .collect()
}

/// Stored form of Svix's string `metadata`.
pub(crate) fn metadata_in(
    map: std::collections::BTreeMap<String, String>,
) -> serde_json::Map<String, serde_json::Value> {
    map.into_iter()
        .map(|(k, v)| (k, serde_json::Value::String(v)))
        .collect()
}

/// `Option<Option<T>>` for fields where `null` differs from absent.
pub(crate) fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_with_or_without_an_offset() {
        let utc = parse_time("2026-01-31T12:00:00Z").unwrap();
        assert_eq!(parse_time("2026-01-31T12:00:00").unwrap(), utc);
        assert_eq!(parse_time("2026-01-31T13:00:00+01:00").unwrap(), utc);
        assert_eq!(
            parse_time("2026-01-31T12:00:00.250").unwrap(),
            utc + chrono::Duration::milliseconds(250)
        );
        assert!(parse_time("yesterday").is_none());
    }

    #[test]
    fn limits_and_iterators_are_checked() {
        assert_eq!(page(None, None).unwrap().limit, 50);
        assert!(page(Some(251), None).is_err());
        assert!(page(Some(0), None).is_err());
        assert_eq!(
            page(Some(5), Some("42")).unwrap(),
            PageRequest::after(5, Some(42))
        );
        assert_eq!(
            page(Some(5), Some("-42")).unwrap(),
            PageRequest::before(5, 42)
        );
        assert_eq!(page(Some(5), Some("")).unwrap(), PageRequest::first(5));
        for garbage in [
            "abc",
            "-",
            "--42",
            "+42",
            "-abc",
            "4 2",
            "1234567890123456789",
        ] {
            assert!(page(None, Some(garbage)).is_err(), "{garbage}");
        }
    }
}
