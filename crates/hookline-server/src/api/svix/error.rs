//! `SvixError`: errors in Svix's shapes. Most are `{"code", "detail"}`;
//! a 422 is `{"detail": [{"loc", "msg", "type"}]}` naming the field at fault
//! in Svix's camelCase. Hookline's own `ApiError`s (from the service layer)
//! convert into it, so every rule is written once.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use hookline_store::StoreError;
use serde::Serialize;

use crate::error::ApiError;
use crate::service::ServiceError;

/// An error answer of the Svix-compatible API.
#[derive(Debug)]
pub(crate) struct SvixError {
    status: StatusCode,
    body: Body,
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
enum Body {
    Plain { code: &'static str, detail: String },
    Validation { detail: Vec<ValidationItem> },
}

/// One failed rule of a 422 answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ValidationItem {
    /// Where: `["body", "url"]`, `["query", "limit"]`, …
    loc: Vec<String>,
    msg: String,
    #[serde(rename = "type")]
    kind: &'static str,
}

/// The `{"code", "detail"}` body, for the OpenAPI document.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct SvixErrorBody {
    code: String,
    detail: String,
}

/// The 422 body, for the OpenAPI document.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct SvixValidationBody {
    detail: Vec<ValidationItem>,
}

impl SvixError {
    fn plain(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        SvixError {
            status,
            body: Body::Plain {
                code,
                detail: detail.into(),
            },
        }
    }

    /// 404 for `what` (unknown, or another account's).
    pub(crate) fn not_found(what: &str) -> Self {
        Self::plain(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} was not found"),
        )
    }

    /// 403: a valid token that may not do this.
    pub(crate) fn forbidden(detail: impl Into<String>) -> Self {
        Self::plain(StatusCode::FORBIDDEN, "insufficient_access", detail)
    }

    /// 409: the request clashes with what exists.
    pub(crate) fn conflict(detail: impl Into<String>) -> Self {
        Self::plain(StatusCode::CONFLICT, "conflict", detail)
    }

    /// 501: a Svix operation Hookline does not offer.
    pub(crate) fn not_implemented(what: &str) -> Self {
        Self::plain(
            StatusCode::NOT_IMPLEMENTED,
            "not_implemented",
            format!(
                "{what} is not part of Hookline's Svix-compatible API; see docs/migrating-from-svix.md for what is"
            ),
        )
    }

    /// 405 for a method no Svix operation has on this path.
    pub(crate) fn method_not_allowed(method: &str, path: &str) -> Self {
        Self::plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("`{method} {path}` is not an operation of Svix's API; see the `Allow` header"),
        )
    }

    /// 422 about one place of the request (`["body", "url"]`).
    pub(crate) fn invalid(loc: &[&str], msg: impl Into<String>) -> Self {
        SvixError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            body: Body::Validation {
                detail: vec![ValidationItem {
                    loc: loc.iter().map(|s| s.to_string()).collect(),
                    msg: msg.into(),
                    kind: "value_error",
                }],
            },
        }
    }

    /// 422 about a body field.
    pub(crate) fn invalid_body(field: &str, msg: impl Into<String>) -> Self {
        Self::invalid(&["body", field], msg)
    }

    /// 422 about a query parameter.
    pub(crate) fn invalid_query(param: &str, msg: impl Into<String>) -> Self {
        Self::invalid(&["query", param], msg)
    }

    /// Maps a store error, naming the object for a 404.
    pub(crate) fn from_store(err: StoreError, what: &str) -> Self {
        ApiError::from_store(err, what).into()
    }

    /// The HTTP status of this error.
    pub(crate) fn status(&self) -> StatusCode {
        self.status
    }
}

/// Svix's name for a field the service layer names in Hookline's terms.
fn svix_field(field: &str) -> &str {
    match field {
        "event_types" => "filterTypes",
        "rate_limit_per_sec" => "throttleRate",
        "type" => "eventType",
        "data" => "payload",
        "external_id" => "eventId",
        other => other,
    }
}

impl From<ApiError> for SvixError {
    fn from(e: ApiError) -> Self {
        // Field-level 422s come as `ServiceError`s (below); an `ApiError`
        // 422 is about the body as a whole.
        if e.status == StatusCode::UNPROCESSABLE_ENTITY {
            return SvixError::invalid(&["body"], e.message);
        }
        let code = match e.status.as_u16() {
            400 => "bad_request",
            401 => "authentication_failed",
            403 => "insufficient_access",
            404 => "not_found",
            409 => "conflict",
            413 => "payload_too_large",
            _ => "internal_error",
        };
        SvixError::plain(e.status, code, e.message)
    }
}

impl From<ServiceError> for SvixError {
    fn from(err: ServiceError) -> Self {
        match err {
            ServiceError::NotFound { what } => SvixError::not_found(&what),
            ServiceError::Invalid { field, message } => {
                let field = field.map(svix_field).unwrap_or("body");
                if field == "body" {
                    SvixError::invalid(&["body"], message)
                } else {
                    SvixError::invalid_body(field, message)
                }
            }
            ServiceError::Conflict(message) => SvixError::conflict(message),
            ServiceError::Forbidden(message) => SvixError::forbidden(message),
            ServiceError::Unavailable(err) => ApiError::internal(&err).into(),
        }
    }
}

impl From<StoreError> for SvixError {
    fn from(err: StoreError) -> Self {
        ApiError::from(err).into()
    }
}

impl IntoResponse for SvixError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

/// Results of Svix-compatible handlers.
pub(crate) type SvixResult<T> = Result<T, SvixError>;

#[cfg(test)]
mod tests {
    use super::*;

    fn json(e: SvixError) -> (u16, serde_json::Value) {
        (
            e.status.as_u16(),
            serde_json::to_value(&e.body).expect("serialises"),
        )
    }

    #[test]
    fn service_errors_take_svix_shapes_and_names() {
        let (status, body) =
            json(ServiceError::invalid_field("event_types", "unknown type x").into());
        assert_eq!(status, 422);
        assert_eq!(
            body,
            serde_json::json!({"detail": [{"loc": ["body", "filterTypes"], "msg": "unknown type x", "type": "value_error"}]})
        );
        let (status, body) = json(ApiError::not_found("endpoint ep_1").into());
        assert_eq!(status, 404);
        assert_eq!(body["code"], "not_found");
        assert!(body["detail"].as_str().unwrap().contains("ep_1"));
        let (status, body) = json(ApiError::unauthorized("bad token").into());
        assert_eq!(
            (status, body["code"].as_str()),
            (401, Some("authentication_failed"))
        );
    }
}
