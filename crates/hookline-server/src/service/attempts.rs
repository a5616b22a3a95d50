//! One attempt as its page and the API show it: the attempt row with the
//! request exactly as sent. The body is not stored with the attempt; it is
//! rebuilt from the stored event with the payload mode it was sent in.

use hookline_core::{Attempt, Page};
use hookline_store::{OutcomeFilter, PageRequest};

use super::error::{ServiceError, ServiceResult};
use crate::state::AppState;

/// An attempt and the body its request carried (`None` for an attempt
/// logged before Hookline kept its headers).
#[derive(Debug, Clone)]
pub(crate) struct AttemptDetail {
    pub(crate) attempt: Attempt,
    pub(crate) request_body: Option<String>,
}

/// The account's attempt `attempt_id`, with its request body.
pub(crate) async fn detail(
    state: &AppState,
    account_id: &str,
    attempt_id: &str,
) -> ServiceResult<AttemptDetail> {
    let what = format!("attempt {attempt_id}");
    let attempt = state
        .store
        .get_attempt(account_id, attempt_id)
        .await
        .map_err(|e| ServiceError::from_store(e, &what))?;
    let request_body = match &attempt.exchange {
        Some(exchange) => {
            let event = state
                .store
                .get_event(account_id, &attempt.event_id)
                .await
                .map_err(|e| ServiceError::from_store(e, &what))?;
            Some(event.body(exchange.payload))
        }
        None => None,
    };
    Ok(AttemptDetail {
        attempt,
        request_body,
    })
}

/// An endpoint's attempts newest first, those `outcome` keeps.
pub(crate) async fn of_endpoint(
    state: &AppState,
    account_id: &str,
    endpoint_id: &str,
    outcome: OutcomeFilter,
    page: PageRequest,
) -> ServiceResult<Page<Attempt>> {
    state
        .store
        .list_endpoint_attempts(account_id, endpoint_id, outcome, page)
        .await
        .map_err(|e| ServiceError::from_store(e, &format!("endpoint {endpoint_id}")))
}
