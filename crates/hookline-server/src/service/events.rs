//! Publishing events (validation, idempotency, fan-out), test sends, resend
//! and recover. Storing and starting the deliveries is the intake's job
//! (`delivery::Intake`); resend and recover wake the scheduler through it.

use chrono::Utc;
use hookline_core::operational::{self, is_operational_type, PLATFORM_ACCOUNT_ID};
use hookline_core::Page;
use hookline_core::{Delivery, DeliveryStatus, Event, EventFormat, Id, IdKind, Timestamp};
use hookline_store::{EventFilter, ListedEvent, PageRequest, Target};
use sha2::{Digest, Sha256};

use super::endpoints::is_valid_key;
use super::error::{ServiceError, ServiceResult};
use crate::delivery::Stored;
use crate::state::AppState;

/// An event to publish, as given by the platform.
#[derive(Debug, Clone, Default)]
pub(crate) struct NewEvent {
    pub(crate) event_type: String,
    /// Raw JSON text of the `data` object.
    pub(crate) data: String,
    pub(crate) id: Option<String>,
    pub(crate) webhook_url: Option<String>,
    /// Orders the event among those with the same key on ordered endpoints.
    pub(crate) ordering_key: Option<String>,
    /// The platform's own unique id for it (Svix's `eventId`).
    pub(crate) external_id: Option<String>,
    pub(crate) channels: Vec<String>,
    /// `Svix` for messages of the Svix-compatible API: any well-formed type
    /// name is accepted there, as Svix does, and the body is `data` itself.
    pub(crate) format: EventFormat,
}

/// Longest `ordering_key` accepted, in characters (as every length of the
/// API is counted, and as JSON Schema's `maxLength` counts).
pub(crate) const MAX_ORDERING_KEY_CHARS: usize = 256;

/// Most channels an event may be on, as on Svix.
const MAX_EVENT_CHANNELS: usize = 10;

/// Whether a publish stored something new.
#[derive(Debug, Clone)]
pub(crate) enum Published {
    Created(Event),
    /// The same id and body were published before: nothing new is delivered.
    AlreadyExisted(Event),
}

/// Validates and stores an event with its deliveries.
pub(crate) async fn publish(
    state: &AppState,
    account_id: &str,
    new: NewEvent,
    target: Target,
) -> ServiceResult<Published> {
    // The platform account carries operational events (test sends); every
    // other account the catalogue's.
    let operational = account_id == PLATFORM_ACCOUNT_ID;
    if operational && !is_operational_type(&new.event_type) {
        return Err(ServiceError::invalid_field(
            "type",
            format!(
                "`{}` is not an operational event type; they are: {}",
                new.event_type,
                operational_names()
            ),
        ));
    }
    if new.format == EventFormat::Svix {
        // As on Svix, any well-formed name (no catalogue look-up, which
        // would reload from the store for every unregistered name).
        if !is_valid_key(&new.event_type, 256) {
            return Err(ServiceError::invalid_field(
                "type",
                "the event type must be 1 to 256 letters, digits, `.`, `_` or `-`",
            ));
        }
    } else if !operational && !state.catalogue.contains(&new.event_type).await? {
        return Err(ServiceError::invalid_field(
            "type",
            format!(
                "unknown event type `{}`; known types are: {} (register others with POST /v1/event-types)",
                new.event_type,
                state.catalogue.names().join(", ")
            ),
        ));
    }
    if !new.data.trim_start().starts_with('{') {
        return Err(ServiceError::invalid_field(
            "data",
            "`data` must be a JSON object",
        ));
    }
    if let Some(problem) = state.catalogue.schema_violation(&new.event_type, &new.data) {
        return Err(ServiceError::invalid_field(
            "data",
            format!(
                "`data` does not match the schema of {}: {problem}",
                new.event_type
            ),
        ));
    }
    let id = match new.id {
        Some(id) if Id::is_valid(IdKind::Event, &id) => id,
        Some(id) => {
            return Err(ServiceError::invalid_field(
                "id",
                format!("`{id}` is not a valid event id: use `evt_` followed by up to 100 letters, digits, `_` or `-`"),
            ))
        }
        None => Id::generate(IdKind::Event),
    };
    if new
        .external_id
        .as_deref()
        .is_some_and(|id| !is_valid_key(id, 256))
    {
        return Err(ServiceError::invalid_field(
            "external_id",
            "the event's own id must be 1 to 256 letters, digits, `.`, `_` or `-`",
        ));
    }
    if new.channels.len() > MAX_EVENT_CHANNELS || !new.channels.iter().all(|c| is_valid_key(c, 128))
    {
        return Err(ServiceError::invalid_field(
            "channels",
            format!("an event is on at most {MAX_EVENT_CHANNELS} channels named with 1 to 128 letters, digits, `.`, `_` or `-`"),
        ));
    }
    let webhook_url = match &new.webhook_url {
        Some(url) => Some(
            hookline_core::net::validate_url(url, state.config.allow_private_networks)
                .map_err(|e| ServiceError::invalid_field("webhook_url", e.to_string()))?
                .to_string(),
        ),
        None => None,
    };
    if let Some(key) = &new.ordering_key {
        if key.is_empty() || key.chars().count() > MAX_ORDERING_KEY_CHARS {
            return Err(ServiceError::invalid_field(
                "ordering_key",
                format!("`ordering_key` must be 1 to {MAX_ORDERING_KEY_CHARS} characters (e.g. the payment id), or left out"),
            ));
        }
    }
    let event = Event {
        payload_hash: payload_hash(
            &new.event_type,
            &new.data,
            webhook_url.as_deref(),
            new.ordering_key.as_deref(),
        )?,
        id,
        account_id: account_id.to_string(),
        event_type: new.event_type,
        data: new.data,
        webhook_url,
        ordering_key: new.ordering_key,
        external_id: new.external_id,
        channels: new.channels,
        format: new.format,
        created_at: Utc::now(),
    };
    // A test send names its endpoint; a publish to the subscribed endpoints
    // names none, and the account was checked by the caller's scope.
    let what = match &target {
        Target::Endpoint(id) => format!("endpoint {id}"),
        Target::Subscribed => "the endpoint".to_string(),
    };
    let has_external_id = event.external_id.is_some();
    let stored = state
        .services
        .intake
        .publish(event, target)
        .await
        .map_err(ServiceError::store(&what))?;
    match stored {
        Stored::Created(event) => {
            state.metrics.events_published.inc();
            Ok(Published::Created(event))
        }
        Stored::Duplicate(event) => Ok(Published::AlreadyExisted(event)),
        Stored::Conflict if has_external_id => Err(ServiceError::Conflict(
            "an event with this eventId was already published in this account; use a new eventId for a new event".into(),
        )),
        Stored::Conflict => Err(ServiceError::Conflict(
            "an event with this id was already published with a different body; use a new id for a new event".into(),
        )),
    }
}

/// Tells a retried publish from a conflicting reuse of an id: the same type,
/// URL, ordering key and JSON value of `data` (key order and spacing do not
/// matter) hash alike. Without a key the hash is what it was before keys.
fn payload_hash(
    event_type: &str,
    data: &str,
    webhook_url: Option<&str>,
    ordering_key: Option<&str>,
) -> ServiceResult<String> {
    let value: serde_json::Value = serde_json::from_str(data).map_err(|e| {
        ServiceError::invalid_field("data", format!("`data` is not valid JSON: {e}"))
    })?;
    let mut canonical = String::with_capacity(data.len());
    write_canonical(&value, &mut canonical);
    let mut hasher = Sha256::new();
    hasher.update(event_type.as_bytes());
    hasher.update([0]);
    hasher.update(canonical.as_bytes());
    hasher.update([0]);
    hasher.update(webhook_url.unwrap_or("").as_bytes());
    if let Some(key) = ordering_key {
        hasher.update([0]);
        hasher.update(key.as_bytes());
    }
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
pub(crate) async fn send_test(
    state: &AppState,
    account_id: &str,
    endpoint_id: &str,
    event_type: Option<String>,
) -> ServiceResult<Event> {
    if account_id == PLATFORM_ACCOUNT_ID {
        let event_type = event_type.unwrap_or_else(|| "endpoint.failing".to_string());
        let data = operational::example(&event_type).ok_or_else(|| {
            ServiceError::invalid_field(
                "event_type",
                format!(
                    "`{event_type}` is not an operational event type; they are: {}",
                    operational_names()
                ),
            )
        })?;
        return send_to(state, account_id, endpoint_id, event_type, data.to_string()).await;
    }
    let event_type = event_type.unwrap_or_else(|| "payment.completed".to_string());
    let example = state.catalogue.get(&event_type).await?.ok_or_else(|| {
        ServiceError::invalid_field(
            "event_type",
            format!(
                "unknown event type `{event_type}`; known types are: {}",
                state.catalogue.names().join(", ")
            ),
        )
    })?;
    send_to(
        state,
        account_id,
        endpoint_id,
        event_type,
        example.example.to_string(),
    )
    .await
}

/// Publishes `data` as a new event of `event_type` to one endpoint only.
async fn send_to(
    state: &AppState,
    account_id: &str,
    endpoint_id: &str,
    event_type: String,
    data: String,
) -> ServiceResult<Event> {
    let new = NewEvent {
        event_type,
        data,
        id: None,
        webhook_url: None,
        ordering_key: None,
        ..NewEvent::default()
    };
    let target = Target::Endpoint(endpoint_id.to_string());
    match publish(state, account_id, new, target).await? {
        Published::Created(event) | Published::AlreadyExisted(event) => Ok(event),
    }
}

/// The operational event types, for messages.
fn operational_names() -> String {
    operational::EVENT_TYPES
        .iter()
        .map(|(t, _)| *t)
        .collect::<Vec<_>>()
        .join(", ")
}

/// An event with its deliveries and their summary status.
#[derive(Debug, Clone)]
pub(crate) struct EventDetail {
    pub(crate) event: Event,
    /// Oldest first.
    pub(crate) deliveries: Vec<Delivery>,
    /// Pending over failed over succeeded; `None` without deliveries.
    pub(crate) status: Option<DeliveryStatus>,
}

/// One event of the account with its deliveries.
pub(crate) async fn detail(
    state: &AppState,
    account_id: &str,
    event_id: &str,
) -> ServiceResult<EventDetail> {
    let what = format!("event {event_id}");
    let event = state
        .store
        .get_event(account_id, event_id)
        .await
        .map_err(ServiceError::store(&what))?;
    let deliveries = deliveries(state, account_id, event_id).await?;
    Ok(EventDetail {
        status: summary(&deliveries),
        event,
        deliveries,
    })
}

/// The event's deliveries, oldest first.
pub(crate) async fn deliveries(
    state: &AppState,
    account_id: &str,
    event_id: &str,
) -> ServiceResult<Vec<Delivery>> {
    state
        .store
        .list_deliveries(account_id, event_id)
        .await
        .map_err(ServiceError::store(&format!("event {event_id}")))
}

/// The summary status of an event's deliveries, as in the event list:
/// pending over failed over succeeded; `None` without deliveries.
pub(crate) fn summary(deliveries: &[Delivery]) -> Option<DeliveryStatus> {
    let has = |s| deliveries.iter().any(|d| d.status == s);
    if has(DeliveryStatus::Pending) {
        Some(DeliveryStatus::Pending)
    } else if has(DeliveryStatus::Failed) {
        Some(DeliveryStatus::Failed)
    } else {
        deliveries.first().map(|_| DeliveryStatus::Succeeded)
    }
}

/// Fresh deliveries of an event (to one endpoint, or to all it had).
pub(crate) async fn resend(
    state: &AppState,
    account_id: &str,
    event_id: &str,
    endpoint_id: Option<&str>,
) -> ServiceResult<Vec<Delivery>> {
    let what = match endpoint_id {
        Some(ep) => format!("event {event_id} or endpoint {ep}"),
        None => format!("event {event_id}"),
    };
    let deliveries = state
        .store
        .resend(account_id, event_id, endpoint_id)
        .await
        .map_err(|e| ServiceError::from_store(e, &what))?;
    state.services.intake.wake();
    Ok(deliveries)
}

/// Re-sends everything that failed to an endpoint since `since`.
pub(crate) async fn recover(
    state: &AppState,
    account_id: &str,
    endpoint_id: &str,
    since: Timestamp,
) -> ServiceResult<u64> {
    recover_between(state, account_id, endpoint_id, since, None).await
}

/// Re-sends what failed to an endpoint from `since` until `until` (if given).
pub(crate) async fn recover_between(
    state: &AppState,
    account_id: &str,
    endpoint_id: &str,
    since: Timestamp,
    until: Option<Timestamp>,
) -> ServiceResult<u64> {
    let count = state
        .store
        .recover_between(account_id, endpoint_id, since, until)
        .await
        .map_err(|e| ServiceError::from_store(e, &format!("endpoint {endpoint_id}")))?;
    state.services.intake.wake();
    Ok(count)
}

/// Longest value searched for (the index keeps values of 1 to 200 characters).
const MAX_SEARCH_CHARS: usize = 200;

/// The account's events, newest first; with a `search` value, only those
/// whose id or a value inside `data` is exactly it (an order or payment id).
pub(crate) async fn find(
    state: &AppState,
    account_id: &str,
    search: Option<&str>,
    filter: &EventFilter,
    page: PageRequest,
) -> ServiceResult<Page<ListedEvent>> {
    // The length is of the value as given, spaces and all (as the API's document says).
    let too_long = search.is_some_and(|s| s.chars().count() > MAX_SEARCH_CHARS);
    match search.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(state.store.list_events(account_id, filter, page).await?),
        Some(_) if too_long => Err(ServiceError::invalid_field(
            "search",
            format!("search for one value of at most {MAX_SEARCH_CHARS} characters, such as an order or payment id"),
        )),
        Some(value) => Ok(state
            .store
            .search_events(account_id, value, filter, page)
            .await?),
    }
}
