//! Mapping between SQLite rows and domain types (times as epoch milliseconds,
//! maps and lists as JSON text).

use hookline_core::{
    Account, Attempt, AttemptOutcome, Delivery, DeliveryOrder, DeliveryStatus, Endpoint, Event,
    EventFormat, Exchange, PayloadMode,
};
use rusqlite::Row;

use crate::rules::SendSettings;
use crate::StoreError;

pub(super) use crate::encode::{ms, now_ms, opt_time, time, to_json};
pub(super) use crate::sql::{
    ACCOUNT_COLUMNS, ATTEMPT_COLUMNS, DELIVERY_COLUMNS, ENDPOINT_COLUMNS, EVENT_COLUMNS,
};

pub(super) fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> rusqlite::Result<T> {
    serde_json::from_str(text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn bad_value(what: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        Box::new(StoreError::Invalid(format!(
            "unknown {what} in the database"
        ))),
    )
}

pub(super) fn account(row: &Row<'_>) -> rusqlite::Result<Account> {
    Ok(Account {
        id: row.get(0)?,
        name: row.get(1)?,
        uid: row.get(5)?,
        metadata: from_json(&row.get::<_, String>(6)?)?,
        created_at: time(row.get(2)?),
        updated_at: time(row.get(3)?),
    })
}

pub(super) fn endpoint(row: &Row<'_>) -> rusqlite::Result<Endpoint> {
    let payload: String = row.get(7)?;
    Ok(Endpoint {
        id: row.get(0)?,
        account_id: row.get(1)?,
        url: row.get(2)?,
        description: row.get(3)?,
        event_types: from_json(&row.get::<_, String>(4)?)?,
        channels: from_json(&row.get::<_, String>(20)?)?,
        uid: row.get(21)?,
        version: row.get(22)?,
        disabled: row.get(5)?,
        disabled_reason: row.get(6)?,
        payload: PayloadMode::parse(&payload).ok_or_else(|| bad_value("payload mode"))?,
        headers: from_json(&row.get::<_, String>(8)?)?,
        secret: row.get(9)?,
        previous_secret: row.get(10)?,
        previous_secret_expires_at: opt_time(row.get(11)?),
        rate_limit_per_sec: row.get(12)?,
        metadata: from_json(&row.get::<_, String>(13)?)?,
        failing_since: opt_time(row.get(14)?),
        delivery_order: DeliveryOrder::parse(&row.get::<_, String>(19)?)
            .ok_or_else(|| bad_value("delivery order"))?,
        created_at: time(row.get(15)?),
        updated_at: time(row.get(16)?),
        filter: crate::rules::read_filter(row.get::<_, Option<String>>(18)?.as_deref()).map_err(
            |e| {
                rusqlite::Error::FromSqlConversionFailure(
                    18,
                    rusqlite::types::Type::Text,
                    Box::new(e),
                )
            },
        )?,
    })
}

/// Reads the [`SEND_COLUMNS`](crate::sql::SEND_COLUMNS) starting at column `first`.
pub(super) fn send_settings(row: &Row<'_>, first: usize) -> rusqlite::Result<SendSettings> {
    Ok(SendSettings {
        payload: row.get(first)?,
        headers: row.get(first + 1)?,
        secret: row.get(first + 2)?,
        previous_secret: row.get(first + 3)?,
        previous_secret_expires_at: row.get(first + 4)?,
        rate_limit_per_sec: row.get(first + 5)?,
        failing_since: row.get(first + 6)?,
    })
}

pub(super) fn event(row: &Row<'_>) -> rusqlite::Result<Event> {
    Ok(Event {
        id: row.get(0)?,
        account_id: row.get(1)?,
        event_type: row.get(2)?,
        data: row.get(3)?,
        webhook_url: row.get(4)?,
        external_id: row.get(9)?,
        channels: from_json(&row.get::<_, String>(10)?)?,
        format: EventFormat::parse(&row.get::<_, String>(11)?)
            .ok_or_else(|| bad_value("event format"))?,
        payload_hash: row.get(5)?,
        ordering_key: row.get(8)?,
        created_at: time(row.get(6)?),
    })
}

pub(super) fn delivery(row: &Row<'_>) -> rusqlite::Result<Delivery> {
    let status: String = row.get(5)?;
    Ok(Delivery {
        id: row.get(0)?,
        event_id: row.get(1)?,
        account_id: row.get(2)?,
        endpoint_id: row.get(3)?,
        url: row.get(4)?,
        status: DeliveryStatus::parse(&status).ok_or_else(|| bad_value("delivery status"))?,
        attempts: row.get(6)?,
        next_attempt_at: opt_time(row.get(7)?),
        last_status_code: row.get(8)?,
        waiting_for: row.get(11)?,
        created_at: time(row.get(9)?),
        updated_at: time(row.get(10)?),
    })
}

pub(super) fn attempt(row: &Row<'_>) -> rusqlite::Result<Attempt> {
    let outcome: String = row.get(9)?;
    Ok(Attempt {
        id: row.get(0)?,
        delivery_id: row.get(1)?,
        event_id: row.get(2)?,
        account_id: row.get(3)?,
        endpoint_id: row.get(4)?,
        url: row.get(5)?,
        attempt: row.get(6)?,
        started_at: time(row.get(7)?),
        duration_ms: row.get::<_, i64>(8)?.max(0) as u64,
        outcome: AttemptOutcome::parse(&outcome).ok_or_else(|| bad_value("attempt outcome"))?,
        status_code: row.get(10)?,
        error: row.get(11)?,
        response_body: row.get(12)?,
        manual: row.get(14)?,
        exchange: exchange(row.get(15)?, row.get(16)?, row.get(17)?)?,
    })
}

/// The stored exchange columns of an attempt (all `NULL` for one logged
/// before they were kept).
fn exchange(
    request_headers: Option<String>,
    payload: Option<String>,
    response_headers: Option<String>,
) -> rusqlite::Result<Option<Exchange>> {
    let (Some(request), Some(payload)) = (request_headers, payload) else {
        return Ok(None);
    };
    Ok(Some(Exchange {
        request_headers: from_json(&request)?,
        payload: PayloadMode::parse(&payload).ok_or_else(|| bad_value("payload mode"))?,
        response_headers: response_headers
            .as_deref()
            .map(from_json)
            .transpose()?
            .unwrap_or_default(),
    }))
}
