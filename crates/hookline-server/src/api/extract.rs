//! Extractors that turn every bad request into the contract's JSON errors:
//! the caller's token and its account scope, JSON bodies (400 malformed, 413 too large, 422 wrong
//! shape) and list parameters (`limit`, `cursor`).

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use hookline_store::PageRequest;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::auth::{bearer, Caller};
use crate::error::ApiError;
use crate::scope::{Front, Scoped};
use crate::service::ServiceError;
use crate::state::AppState;

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        state.auth.caller(bearer(header)?).await
    }
}

/// A JSON body parsed with the contract's error codes.
pub(crate) struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let limit = state.config.max_payload_bytes;
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::too_large(limit)
            } else {
                ApiError::bad_request(format!("could not read the request body: {rejection}"))
            }
        })?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Parses JSON: syntax errors are 400, a valid document of the wrong shape 422,
/// and so is a string holding U+0000, which PostgreSQL cannot store (SQLite
/// nodes refuse it too, so both backends answer alike).
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if has_nul_escape(bytes) {
        return Err(ApiError::invalid(
            "the request body holds the character U+0000 (`\\u0000`), which Hookline does not store; remove it",
        ));
    }
    let bytes = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        bytes
    };
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        // A wrong shape is 422 only if the whole body is one JSON document;
        // checked here, off the happy path, so good bodies are parsed once.
        if let Err(syntax) = serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
            return ApiError::malformed(format!("the request body is not valid JSON: {syntax}"));
        }
        match inner.classify() {
            serde_json::error::Category::Data if path == "." => {
                ApiError::invalid(format!("the request body does not fit: {inner}"))
            }
            serde_json::error::Category::Data => ApiError::invalid(format!("`{path}`: {inner}")),
            _ => ApiError::malformed(format!("the request body is not valid JSON: {inner}")),
        }
    })?;
    // One JSON document and nothing after it (whitespace aside).
    deserializer.end().map_err(|e| {
        ApiError::malformed(format!(
            "the request body has data after its JSON document: {e}"
        ))
    })?;
    Ok(value)
}

/// Whether JSON text has a `\u0000` escape (a raw NUL is a syntax error):
/// a backslash that is not itself escaped, then `u0000`.
fn has_nul_escape(bytes: &[u8]) -> bool {
    let mut backslashes = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\\' {
            backslashes += 1;
            continue;
        }
        if b == b'u' && backslashes % 2 == 1 && bytes.get(i + 1..i + 5) == Some(b"0000") {
            return true;
        }
        backslashes = 0;
    }
    false
}

/// Refuses a path or query holding `%00` with the contract's 400: no id,
/// type or search value contains U+0000, and PostgreSQL cannot compare one.
/// Under `/api/` the answer is in the Svix-compatible API's shape.
pub(crate) async fn refuse_nul_in_uri(
    request: Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let uri = request.uri();
    let target = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    if target
        .as_bytes()
        .windows(3)
        .any(|w| w.eq_ignore_ascii_case(b"%00"))
    {
        let error = ApiError::bad_request(
            "the path or a query parameter holds %00 (U+0000); no id or value contains it",
        );
        if uri.path().starts_with("/api/") {
            return super::svix::error_response(error);
        }
        return error.into_response();
    }
    next.run(request).await
}

/// `?limit=&cursor=` of every list.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListParams {
    /// Rows per page, 1 to 250 (default 50).
    #[param(minimum = 1, maximum = 250)]
    pub(crate) limit: Option<u32>,
    /// `next_cursor` of the previous page (empty: the first page).
    #[param(pattern = r"^[0-9]{0,18}$")]
    pub(crate) cursor: Option<String>,
}

impl ListParams {
    /// The page asked for, or 400 with what is wrong.
    pub(crate) fn page(&self) -> Result<PageRequest, ApiError> {
        let limit = self.limit.unwrap_or(50);
        if !(1..=250).contains(&limit) {
            return Err(ApiError::bad_request("`limit` must be between 1 and 250"));
        }
        let cursor = match self.cursor.as_deref() {
            None | Some("") => None,
            // Digits only, as handed out (what the document's pattern says).
            Some(c) if c.len() <= 18 && c.bytes().all(|b| b.is_ascii_digit()) => {
                Some(c.parse::<i64>().expect("18 digits fit an i64"))
            }
            Some(_) => return Err(ApiError::bad_request(
                "`cursor` is not one this API gave out; pass `next_cursor` from the previous page",
            )),
        };
        Ok(PageRequest::after(limit, cursor))
    }
}

/// Query parameters parsed with the contract's 400 error.
pub(crate) struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::try_from_uri(&parts.uri)
            .map(|q| ApiQuery(q.0))
            .map_err(|e| ApiError::bad_request(format!("bad query parameters: {}", e.body_text())))
    }
}

/// A page of a list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ListResponse<T> {
    pub(crate) data: Vec<T>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub(crate) next_cursor: Option<String>,
}

impl<T> ListResponse<T> {
    /// Maps a store page to its wire form.
    pub(crate) fn from_page<U>(page: hookline_core::Page<U>, f: impl FnMut(U) -> T) -> Self {
        ListResponse {
            data: page.items.into_iter().map(f).collect(),
            next_cursor: page.next_cursor,
        }
    }
}

/// `Option<Option<T>>` for PATCH fields where `null` means "clear".
pub(crate) fn some<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// A JSON number, as serde_json reads it.
#[derive(Deserialize)]
#[serde(untagged)]
enum Number {
    Whole(u64),
    Float(f64),
}

/// A count that JSON may spell `5` or `5.0`: both are JSON Schema integers.
fn whole_number<E: serde::de::Error, T: TryFrom<u64>>(number: Number) -> Result<T, E> {
    let value = match number {
        Number::Whole(n) => n,
        Number::Float(f) if f.fract() == 0.0 && (0.0..=u64::MAX as f64).contains(&f) => f as u64,
        Number::Float(f) => {
            return Err(E::custom(format!(
                "expected a whole number of at least 0, not {f}"
            )))
        }
    };
    T::try_from(value).map_err(|_| E::custom(format!("{value} is too large")))
}

/// An optional whole number (`5` or `5.0`).
pub(crate) fn optional_whole<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: TryFrom<u64>,
{
    Option::<Number>::deserialize(deserializer)?
        .map(whole_number)
        .transpose()
}

/// A PATCH field holding a whole number, where `null` means "clear".
pub(crate) fn some_whole<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: TryFrom<u64>,
{
    optional_whole(deserializer).map(Some)
}

/// The API's side of the account scope: the bearer token's caller, and the
/// contract's JSON error for a refusal.
pub(crate) struct Api;

impl Front for Api {
    type Who = Caller;
    type Rejection = ApiError;

    async fn who(parts: &mut Parts, state: &AppState) -> Result<Caller, ApiError> {
        Caller::from_request_parts(parts, state).await
    }

    fn caller(who: &Caller) -> &Caller {
        who
    }

    fn reject(_: &Caller, err: ServiceError) -> ApiError {
        err.into()
    }

    /// The API changes the platform account at `/v1/operational-endpoints`.
    const MANAGES_PLATFORM: bool = false;
}

/// An API request whose caller may act on its `{account_id}`.
pub(crate) type AccountScope = Scoped<Api>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nul_escapes_only_where_they_are_escapes() {
        assert!(has_nul_escape(br#"{"a": "x\u0000y"}"#));
        assert!(has_nul_escape(br#"{"a": "\\\u0000"}"#));
        assert!(!has_nul_escape(br#"{"a": "\\u0000"}"#));
        assert!(!has_nul_escape(br#"{"a": "\u0001", "b": "u0000"}"#));
        assert!(!has_nul_escape(br#"{"a": "\u000"}"#));
    }
}
