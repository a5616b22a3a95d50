//! Which accounts a caller may act on: its own, or any existing one for the
//! admin. Both front ends ask this one rule (through `scope::Scoped`), and
//! both answer a refusal as "not found", never as a hint that the account
//! exists.

use crate::auth::Caller;
use crate::state::AppState;

use super::error::{ServiceError, ServiceResult};

/// Lets `caller` act on `account_id`, or answers why not: not found (unknown
/// or not the caller's), or the database did not answer.
pub(crate) async fn authorize(
    state: &AppState,
    caller: &Caller,
    account_id: &str,
) -> ServiceResult<()> {
    let what = || format!("account {account_id}");
    match caller {
        Caller::Account(own) if own == account_id => Ok(()),
        Caller::Account(_) => Err(ServiceError::not_found(what())),
        Caller::Admin => state
            .store
            .get_account(account_id)
            .await
            .map(|_| ())
            .map_err(ServiceError::store(&what())),
    }
}
