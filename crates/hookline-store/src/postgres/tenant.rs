//! Settings, accounts, API keys, event types and endpoints on PostgreSQL.

use hookline_core::{Account, Endpoint, EventType, Page, Timestamp};
use sqlx::{PgConnection, PgPool, Row};

use super::rows::{self, ms, now_ms, to_json};
use crate::sql::FAIL;
use crate::types::{ApiKey, PageRequest, StoredResponse};
use crate::{StoreError, StoreResult};

pub(super) use crate::paging::{paginate, ListOrder, Walk};

fn not_found_if_zero(changed: u64) -> StoreResult<()> {
    if changed == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

pub(super) async fn setting(db: &PgPool, key: &str) -> StoreResult<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
            .bind(key)
            .fetch_optional(db)
            .await?,
    )
}

pub(super) async fn setting_or_insert(db: &PgPool, key: &str, value: &str) -> StoreResult<String> {
    sqlx::query("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
        .bind(key)
        .bind(value)
        .execute(db)
        .await?;
    setting(db, key).await?.ok_or(StoreError::NotFound)
}

pub(super) async fn set_setting(db: &PgPool, key: &str, value: &str) -> StoreResult<()> {
    sqlx::query("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
        .bind(key)
        .bind(value)
        .execute(db)
        .await?;
    Ok(())
}

pub(super) async fn create_account(db: &PgPool, a: &Account, secret: &str) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO accounts (id, name, signing_secret, created_at, updated_at, uid, metadata) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&a.id)
    .bind(&a.name)
    .bind(secret)
    .bind(ms(a.created_at))
    .bind(ms(a.updated_at))
    .bind(&a.uid)
    .bind(to_json(&a.metadata))
    .execute(db)
    .await
    .map_err(|e| crate::encode::account_conflict(e.into(), a))?;
    Ok(())
}

pub(super) async fn list_accounts(db: &PgPool, page: PageRequest) -> StoreResult<Page<Account>> {
    let walk = Walk::new(page, ListOrder::OldestFirst);
    let sql = format!(
        "SELECT {} FROM accounts WHERE seq {} $1 AND id <> '{}' ORDER BY seq {} LIMIT $2",
        rows::ACCOUNT_COLUMNS,
        walk.cmp,
        hookline_core::operational::PLATFORM_ACCOUNT_ID,
        walk.order,
    );
    let found = sqlx::query(&sql)
        .bind(walk.bound)
        .bind(walk.fetch)
        .fetch_all(db)
        .await?;
    let rows = found
        .iter()
        .map(|r| Ok((rows::account(r)?, r.try_get("seq")?)))
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(paginate(rows, page))
}

pub(super) async fn get_account(db: &mut PgConnection, id: &str) -> StoreResult<Account> {
    let sql = format!(
        "SELECT {} FROM accounts WHERE id = $1",
        rows::ACCOUNT_COLUMNS
    );
    let row = sqlx::query(&sql)
        .bind(id)
        .fetch_optional(db)
        .await?
        .ok_or(StoreError::NotFound)?;
    rows::account(&row)
}

pub(super) async fn get_account_by_uid(db: &PgPool, uid: &str) -> StoreResult<Account> {
    let sql = format!(
        "SELECT {} FROM accounts WHERE uid = $1",
        rows::ACCOUNT_COLUMNS
    );
    let row = sqlx::query(&sql)
        .bind(uid)
        .fetch_optional(db)
        .await?
        .ok_or(StoreError::NotFound)?;
    rows::account(&row)
}

pub(super) async fn update_account(db: &PgPool, a: &Account) -> StoreResult<()> {
    let done = sqlx::query(
        "UPDATE accounts SET name = $2, updated_at = $3, uid = $4, metadata = $5 WHERE id = $1",
    )
    .bind(&a.id)
    .bind(&a.name)
    .bind(ms(a.updated_at))
    .bind(&a.uid)
    .bind(to_json(&a.metadata))
    .execute(db)
    .await
    .map_err(|e| crate::encode::account_conflict(e.into(), a))?;
    not_found_if_zero(done.rows_affected())
}

pub(super) async fn delete_account(db: &PgPool, id: &str) -> StoreResult<()> {
    let mut tx = db.begin().await?;
    let done = sqlx::query("DELETE FROM accounts WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    not_found_if_zero(done.rows_affected())?;
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
        sqlx::query(&format!("DELETE FROM {table} WHERE account_id = $1"))
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub(super) async fn account_signing_secret(db: &PgPool, id: &str) -> StoreResult<String> {
    sqlx::query_scalar("SELECT signing_secret FROM accounts WHERE id = $1")
        .bind(id)
        .fetch_optional(db)
        .await?
        .ok_or(StoreError::NotFound)
}

/// Holds the account row until the transaction ends, so a concurrent
/// `delete_account` cannot leave what is being created behind; `NotFound`
/// if there is no such account.
async fn lock_account(conn: &mut PgConnection, id: &str) -> StoreResult<()> {
    sqlx::query("SELECT 1 FROM accounts WHERE id = $1 FOR KEY SHARE")
        .bind(id)
        .fetch_optional(conn)
        .await?
        .map(|_| ())
        .ok_or(StoreError::NotFound)
}

pub(super) async fn create_api_key(db: &PgPool, key: &ApiKey) -> StoreResult<()> {
    let mut tx = db.begin().await?;
    lock_account(&mut tx, &key.account_id).await?;
    sqlx::query(
        "INSERT INTO api_keys (id, account_id, key_hash, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(&key.id)
    .bind(&key.account_id)
    .bind(&key.key_hash)
    .bind(ms(key.created_at))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn account_for_key_hash(db: &PgPool, hash: &str) -> StoreResult<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT account_id FROM api_keys WHERE key_hash = $1")
            .bind(hash)
            .fetch_optional(db)
            .await?,
    )
}

pub(super) async fn list_event_types(db: &PgPool) -> StoreResult<Vec<EventType>> {
    let found = sqlx::query(
        "SELECT name, description, example, schema, created_at FROM event_types ORDER BY name",
    )
    .fetch_all(db)
    .await?;
    found
        .iter()
        .map(|r| {
            let schema: Option<String> = r.try_get("schema")?;
            Ok(EventType {
                name: r.try_get("name")?,
                description: r.try_get("description")?,
                example: rows::from_json(r.try_get("example")?)?,
                schema: schema.map(|s| rows::from_json(&s)).transpose()?,
                created_at: Some(rows::time(r.try_get("created_at")?)),
            })
        })
        .collect()
}

pub(super) async fn create_event_type(db: &PgPool, t: &EventType) -> StoreResult<()> {
    sqlx::query("INSERT INTO event_types (name, description, example, schema, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(&t.name)
        .bind(&t.description)
        .bind(to_json(&t.example))
        .bind(t.schema.as_ref().map(to_json))
        .bind(t.created_at.map_or_else(now_ms, ms))
        .execute(db)
        .await
        .map_err(|e| match StoreError::from(e) {
            StoreError::Conflict(_) => StoreError::Conflict(format!("event type {} already exists", t.name)),
            other => other,
        })?;
    Ok(())
}

pub(super) async fn update_event_type(db: &PgPool, t: &EventType) -> StoreResult<()> {
    let done = sqlx::query(
        "UPDATE event_types SET description = $2, example = $3, schema = $4 WHERE name = $1",
    )
    .bind(&t.name)
    .bind(&t.description)
    .bind(to_json(&t.example))
    .bind(t.schema.as_ref().map(to_json))
    .execute(db)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub(super) async fn create_endpoint(db: &PgPool, e: &Endpoint) -> StoreResult<()> {
    let mut tx = db.begin().await?;
    lock_account(&mut tx, &e.account_id).await?;
    sqlx::query(
        "INSERT INTO endpoints (id, account_id, url, description, event_types, disabled, disabled_reason, \
         payload, headers, secret, previous_secret, previous_secret_expires_at, rate_limit_per_sec, \
         metadata, failing_since, created_at, updated_at, filter, delivery_order, channels, uid, \
         version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
         $18, $19, $20, $21, $22)",
    )
    .bind(&e.id)
    .bind(&e.account_id)
    .bind(&e.url)
    .bind(&e.description)
    .bind(to_json(&e.event_types))
    .bind(e.disabled)
    .bind(&e.disabled_reason)
    .bind(e.payload.as_str())
    .bind(to_json(&e.headers))
    .bind(&e.secret)
    .bind(&e.previous_secret)
    .bind(e.previous_secret_expires_at.map(ms))
    .bind(e.rate_limit_per_sec.map(i64::from))
    .bind(to_json(&e.metadata))
    .bind(e.failing_since.map(ms))
    .bind(ms(e.created_at))
    .bind(ms(e.updated_at))
    .bind(crate::rules::filter_text(e))
    .bind(e.delivery_order.as_str())
    .bind(to_json(&e.channels))
    .bind(&e.uid)
    .bind(e.version as i32)
    .execute(&mut *tx)
    .await
    .map_err(|err| crate::encode::endpoint_conflict(err.into(), e))?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn get_endpoint_by_uid(
    db: &PgPool,
    account: &str,
    uid: &str,
) -> StoreResult<Endpoint> {
    endpoint_by(db, "uid", account, uid).await
}

pub(super) async fn list_endpoints(
    db: &PgPool,
    account: &str,
    page: PageRequest,
) -> StoreResult<Page<Endpoint>> {
    let walk = Walk::new(page, ListOrder::OldestFirst);
    let sql = format!(
        "SELECT {} FROM endpoints WHERE account_id = $1 AND seq {} $2 ORDER BY seq {} LIMIT $3",
        rows::ENDPOINT_COLUMNS,
        walk.cmp,
        walk.order,
    );
    let found = sqlx::query(&sql)
        .bind(account)
        .bind(walk.bound)
        .bind(walk.fetch)
        .fetch_all(db)
        .await?;
    let rows = found
        .iter()
        .map(|r| Ok((rows::endpoint(r)?, r.try_get("seq")?)))
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(paginate(rows, page))
}

pub(super) async fn get_endpoint(
    db: &mut PgConnection,
    account: &str,
    id: &str,
) -> StoreResult<Endpoint> {
    endpoint_by(db, "id", account, id).await
}

/// The account's endpoint whose `key` column (`id` or `uid`) is `value`.
async fn endpoint_by<'e, E>(
    db: E,
    key: &'static str,
    account: &str,
    value: &str,
) -> StoreResult<Endpoint>
where
    E: sqlx::Executor<'e, Database = sqlx::Postgres>,
{
    let sql = format!(
        "SELECT {} FROM endpoints WHERE account_id = $1 AND {key} = $2",
        rows::ENDPOINT_COLUMNS
    );
    let row = sqlx::query(&sql)
        .bind(account)
        .bind(value)
        .fetch_optional(db)
        .await?
        .ok_or(StoreError::NotFound)?;
    rows::endpoint(&row)
}

pub(super) async fn update_endpoint(db: &PgPool, e: &Endpoint) -> StoreResult<()> {
    let mut tx = db.begin().await?;
    let was_disabled: bool = sqlx::query_scalar(
        "SELECT disabled FROM endpoints WHERE account_id = $1 AND id = $2 FOR UPDATE",
    )
    .bind(&e.account_id)
    .bind(&e.id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(StoreError::NotFound)?;
    sqlx::query(
        "UPDATE endpoints SET url = $3, description = $4, event_types = $5, disabled = $6, \
         disabled_reason = $7, payload = $8, headers = $9, secret = $10, previous_secret = $11, \
         previous_secret_expires_at = $12, rate_limit_per_sec = $13, metadata = $14, \
         failing_since = $15, updated_at = $16, filter = $17, delivery_order = $18, \
         channels = $19, uid = $20, version = $21 WHERE account_id = $1 AND id = $2",
    )
    .bind(&e.account_id)
    .bind(&e.id)
    .bind(&e.url)
    .bind(&e.description)
    .bind(to_json(&e.event_types))
    .bind(e.disabled)
    .bind(&e.disabled_reason)
    .bind(e.payload.as_str())
    .bind(to_json(&e.headers))
    .bind(&e.secret)
    .bind(&e.previous_secret)
    .bind(e.previous_secret_expires_at.map(ms))
    .bind(e.rate_limit_per_sec.map(i64::from))
    .bind(to_json(&e.metadata))
    .bind(e.failing_since.map(ms))
    .bind(ms(e.updated_at))
    .bind(crate::rules::filter_text(e))
    .bind(e.delivery_order.as_str())
    .bind(to_json(&e.channels))
    .bind(&e.uid)
    .bind(e.version as i32)
    .execute(&mut *tx)
    .await
    .map_err(|err| crate::encode::endpoint_conflict(err.into(), e))?;
    if was_disabled && !e.disabled {
        // Deliveries parked while the endpoint was disabled are due again;
        // one in flight under a live lease is left to its node.
        let now = now_ms();
        sqlx::query(
            "UPDATE deliveries SET next_attempt_at = $2 WHERE endpoint_id = $1 \
             AND status = 'pending' AND (lease_until IS NULL OR lease_until <= $2)",
        )
        .bind(&e.id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub(super) async fn delete_endpoint(db: &PgPool, account: &str, id: &str) -> StoreResult<()> {
    let mut tx = db.begin().await?;
    let done = sqlx::query("DELETE FROM endpoints WHERE account_id = $1 AND id = $2")
        .bind(account)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    not_found_if_zero(done.rows_affected())?;
    sqlx::query(&format!(
        "UPDATE deliveries SET {FAIL}, updated_at = $2 \
         WHERE endpoint_id = $1 AND status = 'pending'"
    ))
    .bind(id)
    .bind(now_ms())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn idempotent_response(
    db: &PgPool,
    scope: &str,
    key: &str,
    since: Timestamp,
) -> StoreResult<Option<StoredResponse>> {
    let row = sqlx::query(
        "SELECT status, body, created_at FROM idempotency_keys \
         WHERE scope = $1 AND key = $2 AND created_at >= $3",
    )
    .bind(scope)
    .bind(key)
    .bind(ms(since))
    .fetch_optional(db)
    .await?;
    row.map(|r| {
        Ok(StoredResponse {
            status: r.try_get::<i32, _>("status")? as u16,
            body: r.try_get("body")?,
            created_at: rows::time(r.try_get("created_at")?),
        })
    })
    .transpose()
}

/// Keeps the first answer saved under a live key (an expired one is replaced).
pub(super) async fn save_idempotent_response(
    db: &PgPool,
    scope: &str,
    key: &str,
    response: &StoredResponse,
    expired_before: Timestamp,
) -> StoreResult<StoredResponse> {
    sqlx::query(
        "INSERT INTO idempotency_keys (scope, key, status, body, created_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (scope, key) DO UPDATE SET status = excluded.status, body = excluded.body, \
         created_at = excluded.created_at WHERE idempotency_keys.created_at < $6",
    )
    .bind(scope)
    .bind(key)
    .bind(i32::from(response.status))
    .bind(&response.body)
    .bind(ms(response.created_at))
    .bind(ms(expired_before))
    .execute(db)
    .await?;
    Ok(idempotent_response(db, scope, key, expired_before)
        .await?
        .unwrap_or_else(|| response.clone()))
}

pub(super) async fn purge_idempotency_before(db: &PgPool, before: Timestamp) -> StoreResult<u64> {
    Ok(
        sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
            .bind(ms(before))
            .execute(db)
            .await?
            .rows_affected(),
    )
}
