//! Publishing events (validation, idempotency, fan-out), test sends, resend
//! and recover. Storing and starting the deliveries is the intake's job
//! (`delivery::Intake`); resend and recover wake the scheduler through it.

use chrono::Utc;
use hookline_core::{Delivery, Event, Id, IdKind, Timestamp};
use hookline_store::Target;
use sha2::{Digest, Sha256};

use crate::delivery::Stored;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// An event to publish, as given by the platform.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub event_type: String,
    /// Raw JSON text of the `data` object.
    pub data: String,
    pub id: Option<String>,
    pub webhook_url: Option<String>,
}

/// Whether a publish stored something new.
#[derive(Debug, Clone)]
pub enum Published {
    Created(Event),
    /// The same id and body were published before: nothing new is delivered.
    AlreadyExisted(Event),
}

/// Validates and stores an event with its deliveries.
pub async fn publish(
    state: &AppState,
    account_id: &str,
    new: NewEvent,
    target: Target,
) -> ApiResult<Published> {
    if !state.catalogue.contains(&new.event_type).await? {
        return Err(ApiError::invalid_field(
            "type",
            format!(
                "unknown event type `{}`; known types are: {} (register others with POST /v1/event-types)",
                new.event_type,
                state.catalogue.names().join(", ")
            ),
        ));
    }
    if !new.data.trim_start().starts_with('{') {
        return Err(ApiError::invalid_field(
            "data",
            "`data` must be a JSON object",
        ));
    }
    let id = match new.id {
        Some(id) if Id::is_valid(IdKind::Event, &id) => id,
        Some(id) => {
            return Err(ApiError::invalid_field(
                "id",
                format!("`{id}` is not a valid event id: use `evt_` followed by up to 100 letters, digits, `_` or `-`"),
            ))
        }
        None => Id::generate(IdKind::Event),
    };
    let webhook_url = match &new.webhook_url {
        Some(url) => Some(
            hookline_core::net::validate_url(url, state.config.allow_private_networks)
                .map_err(|e| ApiError::invalid_field("webhook_url", e.to_string()))?
                .to_string(),
        ),
        None => None,
    };
    let event = Event {
        payload_hash: payload_hash(&new.event_type, &new.data, webhook_url.as_deref())?,
        id,
        account_id: account_id.to_string(),
        event_type: new.event_type,
        data: new.data,
        webhook_url,
        created_at: Utc::now(),
    };
    let stored = state
        .services
        .intake
        .publish(event, target)
        .await
        .map_err(|e| ApiError::from_store(e, "the endpoint"))?;
    match stored {
        Stored::Created(event) => {
            state.metrics.events_published.inc();
            Ok(Published::Created(event))
        }
        Stored::Duplicate(event) => Ok(Published::AlreadyExisted(event)),
        Stored::Conflict => Err(ApiError::conflict(
            "an event with this id was already published with a different body; use a new id for a new event",
        )),
    }
}

/// Tells a retried publish from a conflicting reuse of an id: the same type,
/// URL and JSON value of `data` (key order and spacing do not matter) hash
/// alike.
fn payload_hash(event_type: &str, data: &str, webhook_url: Option<&str>) -> ApiResult<String> {
    let value: serde_json::Value = serde_json::from_str(data)
        .map_err(|e| ApiError::invalid_field("data", format!("`data` is not valid JSON: {e}")))?;
    let mut canonical = String::with_capacity(data.len());
    write_canonical(&value, &mut canonical);
    let mut hasher = Sha256::new();
    hasher.update(event_type.as_bytes());
    hasher.update([0]);
    hasher.update(canonical.as_bytes());
    hasher.update([0]);
    hasher.update(webhook_url.unwrap_or("").as_bytes());
    Ok(hex::encode(hasher.finalize()))
}

/// JSON with object keys sorted and no spaces, whatever order serde_json's
/// map keeps.
fn write_canonical(value: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(item, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// Sends the catalogue example of `event_type` to one endpoint only.
pub async fn send_test(
    state: &AppState,
    account_id: &str,
    endpoint_id: &str,
    event_type: Option<String>,
) -> ApiResult<Event> {
    let event_type = event_type.unwrap_or_else(|| "payment.completed".to_string());
    let example = state.catalogue.get(&event_type).await?.ok_or_else(|| {
        ApiError::invalid_field(
            "event_type",
            format!(
                "unknown event type `{event_type}`; known types are: {}",
                state.catalogue.names().join(", ")
            ),
        )
    })?;
    let new = NewEvent {
        event_type,
        data: example.example.to_string(),
        id: None,
        webhook_url: None,
    };
    match publish(
        state,
        account_id,
        new,
        Target::Endpoint(endpoint_id.to_string()),
    )
    .await
    {
        Ok(Published::Created(event) | Published::AlreadyExisted(event)) => Ok(event),
        Err(e) if e.status == axum::http::StatusCode::NOT_FOUND => {
            Err(ApiError::not_found(&format!("endpoint {endpoint_id}")))
        }
        Err(e) => Err(e),
    }
}

/// Fresh deliveries of an event (to one endpoint, or to all it had).
pub async fn resend(
    state: &AppState,
    account_id: &str,
    event_id: &str,
    endpoint_id: Option<&str>,
) -> ApiResult<Vec<Delivery>> {
    let what = match endpoint_id {
        Some(ep) => format!("event {event_id} or endpoint {ep}"),
        None => format!("event {event_id}"),
    };
    let deliveries = state
        .store
        .resend(account_id, event_id, endpoint_id)
        .await
        .map_err(|e| ApiError::from_store(e, &what))?;
    state.services.intake.wake();
    Ok(deliveries)
}

/// Re-sends everything that failed to an endpoint since `since`.
pub async fn recover(
    state: &AppState,
    account_id: &str,
    endpoint_id: &str,
    since: Timestamp,
) -> ApiResult<u64> {
    let count = state
        .store
        .recover(account_id, endpoint_id, since)
        .await
        .map_err(|e| ApiError::from_store(e, &format!("endpoint {endpoint_id}")))?;
    state.services.intake.wake();
    Ok(count)
}
