//! `ServiceError`: why a rule of the service layer refused, as a type.
//!
//! Each front end turns it into its own answer — the API into the contract's
//! JSON error (`From<ServiceError> for ApiError`), the dashboard into a page
//! — so neither decides by an HTTP status, and a database failure is never
//! shown as "not found".

use hookline_store::StoreError;

/// A refused or failed service operation.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum ServiceError {
    /// Unknown, or another account's (never told apart).
    #[error("{what} was not found in this account")]
    NotFound { what: String },
    /// The input breaks a rule; `field` names the input at fault, if one is.
    #[error("{message}")]
    Invalid {
        field: Option<&'static str>,
        message: String,
    },
    /// The request conflicts with what exists.
    #[error("{0}")]
    Conflict(String),
    /// The caller may see the object but not do this to it.
    #[error("{0}")]
    Forbidden(String),
    /// The database failed or could not be reached.
    #[error("the database did not answer: {0}")]
    Unavailable(#[source] StoreError),
}

/// Results of service operations.
pub(crate) type ServiceResult<T> = Result<T, ServiceError>;

impl ServiceError {
    /// `what` (e.g. "endpoint ep_…") is not in this account.
    pub(crate) fn not_found(what: impl Into<String>) -> Self {
        ServiceError::NotFound { what: what.into() }
    }

    /// The input breaks a rule, not about one field.
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        ServiceError::Invalid {
            field: None,
            message: message.into(),
        }
    }

    /// `field` of the input breaks a rule.
    pub(crate) fn invalid_field(field: &'static str, message: impl Into<String>) -> Self {
        ServiceError::Invalid {
            field: Some(field),
            message: message.into(),
        }
    }

    /// Maps a store error, naming the object for a "not found".
    pub(crate) fn from_store(err: StoreError, what: &str) -> Self {
        match err {
            StoreError::NotFound => ServiceError::not_found(what),
            StoreError::Conflict(message) => ServiceError::Conflict(message),
            StoreError::Invalid(message) => ServiceError::invalid(message),
            StoreError::Unavailable(_) | StoreError::Full(_) => ServiceError::Unavailable(err),
        }
    }

    /// A closure for `map_err` naming the object for a "not found".
    pub(crate) fn store(what: &str) -> impl FnOnce(StoreError) -> ServiceError + '_ {
        move |err| ServiceError::from_store(err, what)
    }

    /// The input field at fault, if the error is about one.
    pub(crate) fn field(&self) -> Option<&'static str> {
        match self {
            ServiceError::Invalid { field, .. } => *field,
            _ => None,
        }
    }
}

impl From<StoreError> for ServiceError {
    fn from(err: StoreError) -> Self {
        ServiceError::from_store(err, "the object")
    }
}
