//! Which accounts a caller may act on: its own, or any existing one for the
//! admin. Both front ends ask this one rule (through `scope::Scoped`), and
//! both answer a refusal as "not found", never as a hint that the account
//! exists.

use hookline_core::operational::PLATFORM_ACCOUNT_ID;

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

/// The internal platform account (operational webhooks) is no merchant's:
/// only the admin reaches it, and a change to it (`change`) only where a
/// front end manages it on purpose (`managed`: the dashboard's operational
/// pages); the API reads its events, the operational event log, and
/// changes its endpoints at `/v1/operational-endpoints` only. Any other
/// account passes.
pub(crate) fn authorize_platform(
    caller: &Caller,
    account_id: &str,
    change: bool,
    managed: bool,
) -> ServiceResult<()> {
    if account_id != PLATFORM_ACCOUNT_ID {
        return Ok(());
    }
    match caller {
        Caller::Admin if change && !managed => Err(ServiceError::Forbidden(format!(
            "{PLATFORM_ACCOUNT_ID} is the internal account of operational webhooks, not a merchant's: \
             manage its endpoints at /v1/operational-endpoints"
        ))),
        Caller::Admin => Ok(()),
        Caller::Account(_) => Err(ServiceError::not_found(format!("account {account_id}"))),
    }
}
