//! `ApiError`: the closed set of API error codes and their JSON form.
//!
//! Every non-2xx answer of the API is `{"error": {"code", "message"}}`.
//! Internal failures are logged with detail and answered without it.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use hookline_store::StoreError;
use serde::Serialize;

use crate::service::ServiceError;

/// An API failure with a stable code and a sentence a person can act on.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) code: &'static str,
    pub(crate) message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400: the body is not valid JSON.
    pub(crate) fn malformed(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "malformed_json", message)
    }

    /// 400: a query parameter or cursor is not understood.
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 401: missing or wrong token.
    pub(crate) fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 403: a valid token that may not do this (an account key on an admin route).
    pub(crate) fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404: unknown, or another account's.
    pub(crate) fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} was not found in this account"),
        )
    }

    /// 408: the client did not send its request in time.
    pub(crate) fn request_timeout(limit: std::time::Duration) -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            format!(
                "the request body did not arrive within {limit:?} (HOOKLINE_BODY_READ_TIMEOUT)"
            ),
        )
    }

    /// 409: the request conflicts with what exists.
    pub(crate) fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    /// 413: the body is over the limit.
    pub(crate) fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the request body is larger than the limit of {limit} bytes (HOOKLINE_MAX_PAYLOAD_BYTES)"),
        )
    }

    /// 422: valid JSON that breaks a rule.
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            message,
        )
    }

    /// 422 about one field of the request (the message names it; forms that
    /// show errors beside fields use `ServiceError::Invalid`'s field).
    pub(crate) fn invalid_field(_field: &'static str, message: impl Into<String>) -> Self {
        Self::invalid(message)
    }

    /// 500/503: something inside failed; details go to the log only.
    pub(crate) fn internal(err: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %err, "internal error");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "internal_error",
            "Hookline could not complete the request; it was logged. Try again shortly.",
        )
    }

    /// 503: the database's disk is full; said plainly, since the operator
    /// must act and the client should retry later.
    pub(crate) fn storage_full(err: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %err, "the database is full: requests that write are refused until space is freed");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage_full",
            "Hookline's database has no space left, so nothing was stored; what was accepted before is safe. \
             Retry later: the node recovers by itself once its operator frees disk space.",
        )
    }

    /// Maps a store error, naming the object for a 404.
    pub(crate) fn from_store(err: StoreError, what: &str) -> Self {
        match err {
            StoreError::NotFound => ApiError::not_found(what),
            StoreError::Conflict(message) => ApiError::conflict(message),
            StoreError::Invalid(message) => ApiError::invalid(message),
            StoreError::Unavailable(_) => ApiError::internal(&err),
            StoreError::Full(_) => ApiError::storage_full(&err),
        }
    }
}

/// A service refusal as the contract's error.
impl From<ServiceError> for ApiError {
    fn from(err: ServiceError) -> Self {
        match err {
            ServiceError::NotFound { what } => ApiError::not_found(&what),
            ServiceError::Invalid { message, .. } => ApiError::invalid(message),
            ServiceError::Conflict(message) => ApiError::conflict(message),
            ServiceError::Forbidden(message) => ApiError::forbidden(message),
            ServiceError::Unavailable(err @ StoreError::Full(_)) => ApiError::storage_full(&err),
            ServiceError::Unavailable(err) => ApiError::internal(&err),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        ApiError::from_store(err, "the object")
    }
}

/// The contract's error body.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ErrorBody {
    pub(crate) error: ErrorDetail,
}

/// Code and message of an error.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ErrorDetail {
    /// Stable snake_case code.
    pub(crate) code: String,
    /// What went wrong and what to do.
    pub(crate) message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message,
            },
        };
        (self.status, Json(body)).into_response()
    }
}

/// Results of API handlers.
pub(crate) type ApiResult<T> = Result<T, ApiError>;
