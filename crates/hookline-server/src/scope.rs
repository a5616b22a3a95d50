//! The account-scope extractor: a request under `…/accounts/{account_id}/…`
//! is let through only when its caller may act on that account
//! (`service::accounts::authorize`).
//!
//! The internal platform account is the admin's only, and changed only
//! where a front end manages it on purpose.
//!
//! The check is one; who the caller is and how a refusal is answered belong
//! to each front end ([`Front`]): the API knows a bearer token and answers
//! the contract's JSON error, the dashboard knows a session and answers a
//! page; the Svix-compatible API also lets `{app_id}` be the account's
//! `uid`. So no handler can forget the check or answer it differently.

use std::future::Future;

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::response::IntoResponse;
use serde::Deserialize;

use crate::auth::Caller;
use crate::service::{accounts, ServiceError};
use crate::state::AppState;

/// What a front end adds to the account-scope check.
pub(crate) trait Front: Send + Sync + 'static {
    /// Who is calling, as this front end knows it.
    type Who: Send + Sync;
    /// How this front end answers a refusal.
    type Rejection: IntoResponse;

    /// Who is calling, or this front end's answer to an unknown caller.
    fn who(
        parts: &mut Parts,
        state: &AppState,
    ) -> impl Future<Output = Result<Self::Who, Self::Rejection>> + Send;

    /// The caller behind `who`.
    fn caller(who: &Self::Who) -> &Caller;

    /// This front end's answer to a refused scope.
    fn reject(who: &Self::Who, err: ServiceError) -> Self::Rejection;

    /// The id of the account a path's key names. The key is the id, unless
    /// this front end lets a path name an account otherwise (the Svix API's
    /// `uid`); then an account `caller` may not act on is not found, so the
    /// error never names it.
    fn account_id(
        state: &AppState,
        caller: &Caller,
        key: String,
    ) -> impl Future<Output = Result<String, ServiceError>> + Send {
        let _ = (state, caller);
        std::future::ready(Ok(key))
    }

    /// Whether this front end changes the internal platform account on
    /// purpose (see `accounts::authorize_platform`).
    const MANAGES_PLATFORM: bool;
}

/// A caller allowed to act on `account_id`.
pub(crate) struct Scoped<F: Front> {
    pub(crate) account_id: String,
    pub(crate) who: F::Who,
}

#[derive(Deserialize)]
struct AccountPath {
    /// `{account_id}`, or `{app_id}` on the Svix-compatible API.
    #[serde(alias = "app_id")]
    account_id: String,
}

impl<F: Front> Scoped<F> {
    /// The check itself, for a handler that reads the account's key on its
    /// own (one that may create the account when it does not exist);
    /// `change` when the request changes the account or what it holds.
    pub(crate) async fn check(
        state: &AppState,
        who: F::Who,
        key: String,
        change: bool,
    ) -> Result<Self, F::Rejection> {
        let account_id = F::account_id(state, F::caller(&who), key)
            .await
            .map_err(|err| F::reject(&who, err))?;
        accounts::authorize_platform(F::caller(&who), &account_id, change, F::MANAGES_PLATFORM)
            .map_err(|err| F::reject(&who, err))?;
        accounts::authorize(state, F::caller(&who), &account_id)
            .await
            .map_err(|err| F::reject(&who, err))?;
        Ok(Scoped { account_id, who })
    }
}

impl<F: Front> FromRequestParts<AppState> for Scoped<F> {
    type Rejection = F::Rejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let who = F::who(parts, state).await?;
        let key = match Path::<AccountPath>::from_request_parts(parts, state).await {
            Ok(Path(path)) => path.account_id,
            Err(_) => return Err(F::reject(&who, ServiceError::not_found("the account"))),
        };
        let change = !parts.method.is_safe();
        Self::check(state, who, key, change).await
    }
}
