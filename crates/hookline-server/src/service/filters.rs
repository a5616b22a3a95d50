//! Trying a payload filter before saving it: against the catalogue example
//! of a type, or against one of the account's recent events, with the same
//! rule the store applies at publish (`hookline_core::filter`).

use hookline_store::{EventFilter, PageRequest};

use super::endpoints::checked_filter;
use super::error::{ServiceError, ServiceResult};
use crate::state::AppState;

/// What to try a filter on.
#[derive(Debug, Clone)]
pub(crate) enum Sample {
    /// The catalogue example of this event type.
    Example(String),
    /// This event of the account.
    Event(String),
}

/// What a trial found.
#[derive(Debug, Clone)]
pub(crate) struct Trial {
    pub(crate) matches: bool,
    pub(crate) event_type: String,
    pub(crate) data: serde_json::Value,
    /// Where the sample came from, for people: "the catalogue example of …".
    pub(crate) sample: String,
}

/// Checks `filter` (a 422 on `filter` if it is wrong) and runs it on `sample`.
pub(crate) async fn try_filter(
    state: &AppState,
    account_id: &str,
    filter: &serde_json::Value,
    sample: Sample,
) -> ServiceResult<Trial> {
    let filter = checked_filter(filter)?;
    let (event_type, data, sample) = match sample {
        Sample::Example(name) => {
            let found = state.catalogue.get(&name).await?.ok_or_else(|| {
                ServiceError::invalid_field(
                    "event_type",
                    format!("unknown event type `{name}`: pick one from the catalogue"),
                )
            })?;
            let label = format!("the catalogue example of {name}");
            (found.name, found.example, label)
        }
        Sample::Event(id) => {
            let event = state
                .store
                .get_event(account_id, &id)
                .await
                .map_err(|e| ServiceError::from_store(e, &format!("event {id}")))?;
            let data = serde_json::from_str(&event.data).unwrap_or_default();
            (event.event_type, data, format!("event {id}"))
        }
    };
    Ok(Trial {
        matches: filter.matches(&event_type, &data),
        event_type,
        data,
        sample,
    })
}

/// The account's latest events (id and type), newest first, to pick a sample from.
pub(crate) async fn recent_events(
    state: &AppState,
    account_id: &str,
    limit: u32,
) -> ServiceResult<Vec<(String, String)>> {
    let page = state
        .store
        .list_events(
            account_id,
            &EventFilter::default(),
            PageRequest::first(limit),
        )
        .await?;
    Ok(page
        .items
        .into_iter()
        .map(|e| (e.event.id, e.event.event_type))
        .collect())
}
