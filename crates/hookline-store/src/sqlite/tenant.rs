//! Settings, accounts, API keys, event types and endpoints on SQLite.

use hookline_core::{Account, Endpoint, EventType, Page, Timestamp};
use rusqlite::{params, Connection, OptionalExtension};

use super::rows::{self, ms, now_ms, to_json};
use crate::sql::FAIL;
use crate::types::{ApiKey, PageRequest, StoredResponse};
use crate::{StoreError, StoreResult};

pub(super) use crate::paging::{paginate, ListOrder, Walk};

fn not_found_if_zero(changed: usize) -> StoreResult<()> {
    if changed == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

pub(super) fn setting(c: &Connection, key: &str) -> StoreResult<Option<String>> {
    Ok(
        c.prepare_cached("SELECT value FROM settings WHERE key = ?1")?
            .query_row([key], |r| r.get(0))
            .optional()?,
    )
}

pub(super) fn setting_or_insert(c: &Connection, key: &str, value: &str) -> StoreResult<String> {
    c.prepare_cached(
        "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING",
    )?
    .execute([key, value])?;
    setting(c, key)?.ok_or(StoreError::NotFound)
}

pub(super) fn set_setting(c: &Connection, key: &str, value: &str) -> StoreResult<()> {
    c.prepare_cached(
        "INSERT INTO settings (key, value) VALUES (?1, ?2) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )?
    .execute([key, value])?;
    Ok(())
}

pub(super) fn create_account(c: &Connection, a: &Account, secret: &str) -> StoreResult<()> {
    c.prepare_cached(
        "INSERT INTO accounts (id, name, signing_secret, created_at, updated_at, uid, metadata) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        a.id,
        a.name,
        secret,
        ms(a.created_at),
        ms(a.updated_at),
        a.uid,
        to_json(&a.metadata)
    ])
    .map_err(|e| crate::encode::account_conflict(e.into(), a))?;
    Ok(())
}

pub(super) fn list_accounts(c: &Connection, page: PageRequest) -> StoreResult<Page<Account>> {
    let walk = Walk::new(page, ListOrder::OldestFirst);
    let sql = format!(
        "SELECT {} FROM accounts WHERE seq {} ?1 AND id <> '{}' ORDER BY seq {} LIMIT ?2",
        rows::ACCOUNT_COLUMNS,
        walk.cmp,
        hookline_core::operational::PLATFORM_ACCOUNT_ID,
        walk.order,
    );
    let rows = c
        .prepare_cached(&sql)?
        .query_map(params![walk.bound, walk.fetch], |r| {
            Ok((rows::account(r)?, r.get(4)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(paginate(rows, page))
}

pub(super) fn get_account(c: &Connection, id: &str) -> StoreResult<Account> {
    let sql = format!(
        "SELECT {} FROM accounts WHERE id = ?1",
        rows::ACCOUNT_COLUMNS
    );
    Ok(c.prepare_cached(&sql)?.query_row([id], rows::account)?)
}

pub(super) fn get_account_by_uid(c: &Connection, uid: &str) -> StoreResult<Account> {
    let sql = format!(
        "SELECT {} FROM accounts WHERE uid = ?1",
        rows::ACCOUNT_COLUMNS
    );
    Ok(c.prepare_cached(&sql)?.query_row([uid], rows::account)?)
}

pub(super) fn update_account(c: &Connection, a: &Account) -> StoreResult<()> {
    not_found_if_zero(
        c.prepare_cached(
            "UPDATE accounts SET name = ?2, updated_at = ?3, uid = ?4, metadata = ?5 WHERE id = ?1",
        )?
        .execute(params![
            a.id,
            a.name,
            ms(a.updated_at),
            a.uid,
            to_json(&a.metadata)
        ])
        .map_err(|e| crate::encode::account_conflict(e.into(), a))?,
    )
}

pub(super) fn delete_account(c: &Connection, id: &str) -> StoreResult<()> {
    not_found_if_zero(c.execute("DELETE FROM accounts WHERE id = ?1", [id])?)?;
    for table in [
        "api_keys",
        "endpoints",
        "events",
        "event_search",
        "deliveries",
        "attempts",
        "dashboard_sessions",
        "account_branding",
    ] {
        c.execute(&format!("DELETE FROM {table} WHERE account_id = ?1"), [id])?;
    }
    Ok(())
}

pub(super) fn account_signing_secret(c: &Connection, id: &str) -> StoreResult<String> {
    Ok(
        c.prepare_cached("SELECT signing_secret FROM accounts WHERE id = ?1")?
            .query_row([id], |r| r.get(0))?,
    )
}

pub(super) fn create_api_key(c: &Connection, key: &ApiKey) -> StoreResult<()> {
    get_account(c, &key.account_id)?;
    c.prepare_cached(
        "INSERT INTO api_keys (id, account_id, key_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![
        key.id,
        key.account_id,
        key.key_hash,
        ms(key.created_at)
    ])?;
    Ok(())
}

pub(super) fn account_for_key_hash(c: &Connection, hash: &str) -> StoreResult<Option<String>> {
    Ok(
        c.prepare_cached("SELECT account_id FROM api_keys WHERE key_hash = ?1")?
            .query_row([hash], |r| r.get(0))
            .optional()?,
    )
}

pub(super) fn list_event_types(c: &Connection) -> StoreResult<Vec<EventType>> {
    let mut stmt = c.prepare_cached(
        "SELECT name, description, example, schema, created_at FROM event_types ORDER BY name",
    )?;
    let types = stmt
        .query_map([], |r| {
            let schema: Option<String> = r.get(3)?;
            Ok(EventType {
                name: r.get(0)?,
                description: r.get(1)?,
                example: rows::from_json(&r.get::<_, String>(2)?)?,
                schema: schema.map(|s| rows::from_json(&s)).transpose()?,
                created_at: Some(rows::time(r.get(4)?)),
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(types)
}

pub(super) fn create_event_type(c: &Connection, t: &EventType) -> StoreResult<()> {
    c.prepare_cached(
        "INSERT INTO event_types (name, description, example, schema, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        t.name,
        t.description,
        to_json(&t.example),
        t.schema.as_ref().map(to_json),
        t.created_at.map_or_else(now_ms, ms)
    ])
    .map_err(|e| match StoreError::from(e) {
        StoreError::Conflict(_) => StoreError::Conflict(format!("event type {} already exists", t.name)),
        other => other,
    })?;
    Ok(())
}

pub(super) fn update_event_type(c: &Connection, t: &EventType) -> StoreResult<()> {
    let done = c
        .prepare_cached(
            "UPDATE event_types SET description = ?2, example = ?3, schema = ?4 WHERE name = ?1",
        )?
        .execute(params![
            t.name,
            t.description,
            to_json(&t.example),
            t.schema.as_ref().map(to_json)
        ])?;
    if done == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub(super) fn create_endpoint(c: &Connection, e: &Endpoint) -> StoreResult<()> {
    get_account(c, &e.account_id)?;
    c.prepare_cached(
        "INSERT INTO endpoints (id, account_id, url, description, event_types, disabled, disabled_reason, \
         payload, headers, secret, previous_secret, previous_secret_expires_at, rate_limit_per_sec, \
         metadata, failing_since, created_at, updated_at, filter, delivery_order, channels, uid, \
         version) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, \
         ?18, ?19, ?20, ?21, ?22)",
    )?
    .execute(params![
        e.id,
        e.account_id,
        e.url,
        e.description,
        to_json(&e.event_types),
        e.disabled,
        e.disabled_reason,
        e.payload.as_str(),
        to_json(&e.headers),
        e.secret,
        e.previous_secret,
        e.previous_secret_expires_at.map(ms),
        e.rate_limit_per_sec,
        to_json(&e.metadata),
        e.failing_since.map(ms),
        ms(e.created_at),
        ms(e.updated_at),
        crate::rules::filter_text(e),
        e.delivery_order.as_str(),
        to_json(&e.channels),
        e.uid,
        e.version,
    ])
    .map_err(|err| crate::encode::endpoint_conflict(err.into(), e))?;
    Ok(())
}

pub(super) fn get_endpoint_by_uid(
    c: &Connection,
    account: &str,
    uid: &str,
) -> StoreResult<Endpoint> {
    endpoint_by(c, "uid", account, uid)
}

pub(super) fn list_endpoints(
    c: &Connection,
    account: &str,
    page: PageRequest,
) -> StoreResult<Page<Endpoint>> {
    let walk = Walk::new(page, ListOrder::OldestFirst);
    let sql = format!(
        "SELECT {} FROM endpoints WHERE account_id = ?1 AND seq {} ?2 ORDER BY seq {} LIMIT ?3",
        rows::ENDPOINT_COLUMNS,
        walk.cmp,
        walk.order,
    );
    let rows = c
        .prepare_cached(&sql)?
        .query_map(params![account, walk.bound, walk.fetch], |r| {
            Ok((rows::endpoint(r)?, r.get(17)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(paginate(rows, page))
}

pub(super) fn get_endpoint(c: &Connection, account: &str, id: &str) -> StoreResult<Endpoint> {
    endpoint_by(c, "id", account, id)
}

/// The account's endpoint whose `key` column (`id` or `uid`) is `value`.
fn endpoint_by(
    c: &Connection,
    key: &'static str,
    account: &str,
    value: &str,
) -> StoreResult<Endpoint> {
    let sql = format!(
        "SELECT {} FROM endpoints WHERE account_id = ?1 AND {key} = ?2",
        rows::ENDPOINT_COLUMNS
    );
    Ok(c.prepare_cached(&sql)?
        .query_row([account, value], rows::endpoint)?)
}

pub(super) fn update_endpoint(c: &Connection, e: &Endpoint) -> StoreResult<()> {
    let was_disabled: bool = c
        .prepare_cached("SELECT disabled FROM endpoints WHERE account_id = ?1 AND id = ?2")?
        .query_row([&e.account_id, &e.id], |r| r.get(0))?;
    c.prepare_cached(
        "UPDATE endpoints SET url = ?3, description = ?4, event_types = ?5, disabled = ?6, \
         disabled_reason = ?7, payload = ?8, headers = ?9, secret = ?10, previous_secret = ?11, \
         previous_secret_expires_at = ?12, rate_limit_per_sec = ?13, metadata = ?14, \
         failing_since = ?15, updated_at = ?16, filter = ?17, delivery_order = ?18, \
         channels = ?19, uid = ?20, version = ?21 WHERE account_id = ?1 AND id = ?2",
    )?
    .execute(params![
        e.account_id,
        e.id,
        e.url,
        e.description,
        to_json(&e.event_types),
        e.disabled,
        e.disabled_reason,
        e.payload.as_str(),
        to_json(&e.headers),
        e.secret,
        e.previous_secret,
        e.previous_secret_expires_at.map(ms),
        e.rate_limit_per_sec,
        to_json(&e.metadata),
        e.failing_since.map(ms),
        ms(e.updated_at),
        crate::rules::filter_text(e),
        e.delivery_order.as_str(),
        to_json(&e.channels),
        e.uid,
        e.version,
    ])
    .map_err(|err| crate::encode::endpoint_conflict(err.into(), e))?;
    if was_disabled && !e.disabled {
        // Deliveries parked while the endpoint was disabled are due again;
        // one in flight under a live lease is left to its node.
        c.prepare_cached(
            "UPDATE deliveries SET next_attempt_at = ?2 WHERE endpoint_id = ?1 \
             AND status = 'pending' AND (lease_until IS NULL OR lease_until <= ?2)",
        )?
        .execute(params![e.id, now_ms()])?;
    }
    Ok(())
}

pub(super) fn delete_endpoint(c: &Connection, account: &str, id: &str) -> StoreResult<()> {
    not_found_if_zero(
        c.prepare_cached("DELETE FROM endpoints WHERE account_id = ?1 AND id = ?2")?
            .execute([account, id])?,
    )?;
    c.prepare_cached(&format!(
        "UPDATE deliveries SET {FAIL}, updated_at = ?2 \
         WHERE endpoint_id = ?1 AND status = 'pending'"
    ))?
    .execute(params![id, now_ms()])?;
    Ok(())
}

pub(super) fn idempotent_response(
    c: &Connection,
    scope: &str,
    key: &str,
    since: Timestamp,
) -> StoreResult<Option<StoredResponse>> {
    Ok(c.prepare_cached(
        "SELECT status, body, created_at FROM idempotency_keys \
             WHERE scope = ?1 AND key = ?2 AND created_at >= ?3",
    )?
    .query_row(params![scope, key, ms(since)], |r| {
        Ok(StoredResponse {
            status: r.get(0)?,
            body: r.get(1)?,
            created_at: rows::time(r.get(2)?),
        })
    })
    .optional()?)
}

/// Keeps the first answer saved under a live key (an expired one is replaced).
pub(super) fn save_idempotent_response(
    c: &Connection,
    scope: &str,
    key: &str,
    response: &StoredResponse,
    expired_before: Timestamp,
) -> StoreResult<StoredResponse> {
    c.prepare_cached(
        "INSERT INTO idempotency_keys (scope, key, status, body, created_at) VALUES (?1, ?2, ?3, ?4, ?5) \
         ON CONFLICT (scope, key) DO UPDATE SET status = excluded.status, body = excluded.body, \
         created_at = excluded.created_at WHERE idempotency_keys.created_at < ?6",
    )?
    .execute(params![
        scope,
        key,
        response.status,
        response.body,
        ms(response.created_at),
        ms(expired_before)
    ])?;
    Ok(idempotent_response(c, scope, key, expired_before)?.unwrap_or_else(|| response.clone()))
}

pub(super) fn purge_idempotency_before(c: &Connection, before: Timestamp) -> StoreResult<u64> {
    Ok(
        c.prepare_cached("DELETE FROM idempotency_keys WHERE created_at < ?1")?
            .execute([ms(before)])? as u64,
    )
}
