//! Mapping between PostgreSQL rows and domain types (times as BIGINT epoch
//! milliseconds, maps and lists as JSON text), mirroring the SQLite store.

use hookline_core::{
    Account, Attempt, AttemptOutcome, Delivery, DeliveryOrder, DeliveryStatus, Endpoint, Event,
    EventFormat, Exchange, PayloadMode,
};
use sqlx::postgres::PgRow;
use sqlx::Row;

use crate::rules::SendSettings;
use crate::{StoreError, StoreResult};

pub(super) use crate::encode::{ms, now_ms, opt_time, time, to_json};
pub(super) use crate::sql::{
    ACCOUNT_COLUMNS, ATTEMPT_COLUMNS, DELIVERY_COLUMNS, ENDPOINT_COLUMNS, EVENT_COLUMNS,
};

pub(super) fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> StoreResult<T> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::Unavailable(format!("bad JSON in the database: {e}")))
}

fn bad(what: &str) -> StoreError {
    StoreError::Unavailable(format!("unknown {what} in the database"))
}

pub(super) fn account(r: &PgRow) -> StoreResult<Account> {
    Ok(Account {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        uid: r.try_get("uid")?,
        metadata: from_json(r.try_get("metadata")?)?,
        created_at: time(r.try_get("created_at")?),
        updated_at: time(r.try_get("updated_at")?),
    })
}

pub(super) fn endpoint(r: &PgRow) -> StoreResult<Endpoint> {
    let payload: String = r.try_get("payload")?;
    let rate: Option<i64> = r.try_get("rate_limit_per_sec")?;
    Ok(Endpoint {
        id: r.try_get("id")?,
        account_id: r.try_get("account_id")?,
        url: r.try_get("url")?,
        description: r.try_get("description")?,
        event_types: from_json(r.try_get("event_types")?)?,
        channels: from_json(r.try_get("channels")?)?,
        uid: r.try_get("uid")?,
        version: r.try_get::<i32, _>("version")?.max(1) as u32,
        disabled: r.try_get("disabled")?,
        disabled_reason: r.try_get("disabled_reason")?,
        payload: PayloadMode::parse(&payload).ok_or_else(|| bad("payload mode"))?,
        headers: from_json(r.try_get("headers")?)?,
        secret: r.try_get("secret")?,
        previous_secret: r.try_get("previous_secret")?,
        previous_secret_expires_at: opt_time(r.try_get("previous_secret_expires_at")?),
        rate_limit_per_sec: rate.map(|v| v as u32),
        metadata: from_json(r.try_get("metadata")?)?,
        failing_since: opt_time(r.try_get("failing_since")?),
        delivery_order: DeliveryOrder::parse(r.try_get::<&str, _>("delivery_order")?)
            .ok_or_else(|| bad("delivery order"))?,
        created_at: time(r.try_get("created_at")?),
        updated_at: time(r.try_get("updated_at")?),
        filter: crate::rules::read_filter(r.try_get::<Option<String>, _>("filter")?.as_deref())?,
    })
}

pub(super) fn event(r: &PgRow) -> StoreResult<Event> {
    Ok(Event {
        id: r.try_get("id")?,
        account_id: r.try_get("account_id")?,
        event_type: r.try_get("event_type")?,
        data: r.try_get("data")?,
        webhook_url: r.try_get("webhook_url")?,
        external_id: r.try_get("external_id")?,
        channels: from_json(r.try_get("channels")?)?,
        format: EventFormat::parse(r.try_get("format")?).ok_or_else(|| bad("event format"))?,
        payload_hash: r.try_get("payload_hash")?,
        ordering_key: r.try_get("ordering_key")?,
        created_at: time(r.try_get("created_at")?),
    })
}

pub(super) fn delivery(r: &PgRow) -> StoreResult<Delivery> {
    let status: String = r.try_get("status")?;
    let code: Option<i64> = r.try_get("last_status_code")?;
    Ok(Delivery {
        id: r.try_get("id")?,
        event_id: r.try_get("event_id")?,
        account_id: r.try_get("account_id")?,
        endpoint_id: r.try_get("endpoint_id")?,
        url: r.try_get("url")?,
        status: DeliveryStatus::parse(&status).ok_or_else(|| bad("delivery status"))?,
        attempts: r.try_get::<i64, _>("attempts")? as u32,
        next_attempt_at: opt_time(r.try_get("next_attempt_at")?),
        last_status_code: code.map(|c| c as u16),
        waiting_for: r.try_get("waiting_for")?,
        created_at: time(r.try_get("created_at")?),
        updated_at: time(r.try_get("updated_at")?),
    })
}

pub(super) fn attempt(r: &PgRow) -> StoreResult<Attempt> {
    let outcome: String = r.try_get("outcome")?;
    let code: Option<i64> = r.try_get("status_code")?;
    Ok(Attempt {
        id: r.try_get("id")?,
        delivery_id: r.try_get("delivery_id")?,
        event_id: r.try_get("event_id")?,
        account_id: r.try_get("account_id")?,
        endpoint_id: r.try_get("endpoint_id")?,
        url: r.try_get("url")?,
        attempt: r.try_get::<i64, _>("attempt")? as u32,
        started_at: time(r.try_get("started_at")?),
        duration_ms: r.try_get::<i64, _>("duration_ms")?.max(0) as u64,
        outcome: AttemptOutcome::parse(&outcome).ok_or_else(|| bad("attempt outcome"))?,
        status_code: code.map(|c| c as u16),
        error: r.try_get("error")?,
        response_body: r.try_get("response_body")?,
        manual: r.try_get("manual")?,
        exchange: exchange(r)?,
    })
}

/// The stored exchange columns of an attempt (all `NULL` for one logged
/// before they were kept).
fn exchange(r: &PgRow) -> StoreResult<Option<Exchange>> {
    let request: Option<String> = r.try_get("request_headers")?;
    let payload: Option<String> = r.try_get("request_payload")?;
    let (Some(request), Some(payload)) = (request, payload) else {
        return Ok(None);
    };
    let response: Option<String> = r.try_get("response_headers")?;
    Ok(Some(Exchange {
        request_headers: from_json(&request)?,
        payload: PayloadMode::parse(&payload).ok_or_else(|| bad("payload mode"))?,
        response_headers: response
            .as_deref()
            .map(from_json)
            .transpose()?
            .unwrap_or_default(),
    }))
}

/// Reads the [`SEND_COLUMNS`](crate::sql::SEND_COLUMNS) of `r`.
pub(super) fn send_settings(r: &PgRow) -> StoreResult<SendSettings> {
    let rate: Option<i64> = r.try_get("rate_limit_per_sec")?;
    Ok(SendSettings {
        payload: r.try_get("payload")?,
        headers: r.try_get("headers")?,
        secret: r.try_get("secret")?,
        previous_secret: r.try_get("previous_secret")?,
        previous_secret_expires_at: r.try_get("previous_secret_expires_at")?,
        rate_limit_per_sec: rate.map(|v| v as u32),
        failing_since: r.try_get("failing_since")?,
    })
}
