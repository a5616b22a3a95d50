//! The store's typed errors: what the API maps to status codes.

/// What can go wrong in the store.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// No such object in this account (or at all).
    #[error("not found")]
    NotFound,
    /// A unique key (id, name) is already taken.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The request is not something the store can do (bad URL, bad cursor).
    #[error("{0}")]
    Invalid(String),
    /// The database failed or could not be reached.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The database's disk (or the database) is full: nothing was written.
    #[error("database full: {0}")]
    Full(String),
}

/// Results of store calls.
pub type StoreResult<T> = Result<T, StoreError>;

impl From<rusqlite::Error> for StoreError {
    fn from(err: rusqlite::Error) -> Self {
        match &err {
            rusqlite::Error::QueryReturnedNoRows => StoreError::NotFound,
            rusqlite::Error::SqliteFailure(e, _)
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                StoreError::Conflict(err.to_string())
            }
            rusqlite::Error::SqliteFailure(e, _) if e.code == rusqlite::ErrorCode::DiskFull => {
                StoreError::Full(err.to_string())
            }
            _ => StoreError::Unavailable(err.to_string()),
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Conflict(db.message().to_string())
            }
            // disk_full: PostgreSQL could not extend a file.
            sqlx::Error::Database(db) if db.code().as_deref() == Some("53100") => {
                StoreError::Full(db.message().to_string())
            }
            _ => StoreError::Unavailable(err.to_string()),
        }
    }
}
