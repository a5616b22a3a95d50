//! Event and attempt listings, resend and recover on PostgreSQL
//! (publishing is in `publish.rs`).

use hookline_core::{Attempt, Delivery, DeliveryStatus, Event, Id, IdKind, Page, Timestamp};
use sqlx::{PgConnection, PgPool, Row};

use super::rows::{self, ms, now_ms};
use super::tenant::{self, paginate};
use crate::sql::STATUS_EXPR;
use crate::types::*;
use crate::{StoreError, StoreResult};

/// Inserts one delivery per target in one statement.
async fn insert_deliveries(
    conn: &mut PgConnection,
    event_seq: i64,
    e: &Event,
    targets: &[(Option<String>, String)],
    due_ms: i64,
) -> StoreResult<Vec<Delivery>> {
    if targets.is_empty() {
        return Ok(Vec::new());
    }
    let now = now_ms();
    let ids: Vec<String> = targets
        .iter()
        .map(|_| Id::generate(IdKind::Delivery))
        .collect();
    let endpoint_ids: Vec<Option<String>> = targets.iter().map(|(ep, _)| ep.clone()).collect();
    let urls: Vec<String> = targets.iter().map(|(_, url)| url.clone()).collect();
    sqlx::query(
        "INSERT INTO deliveries (id, event_seq, event_id, account_id, endpoint_id, url, status, \
         attempts, next_attempt_at, created_at, updated_at, ordering_key) \
         SELECT u.id, $4, $5, $6, u.endpoint_id, u.url, 'pending', 0, $7, $8, $8, $9 \
         FROM UNNEST($1::text[], $2::text[], $3::text[]) AS u(id, endpoint_id, url)",
    )
    .bind(&ids)
    .bind(&endpoint_ids)
    .bind(&urls)
    .bind(event_seq)
    .bind(&e.id)
    .bind(&e.account_id)
    .bind(due_ms)
    .bind(now)
    .bind(e.ordering_key.as_deref().unwrap_or(""))
    .execute(conn)
    .await?;
    Ok(ids
        .into_iter()
        .zip(targets)
        .map(|(id, (endpoint_id, url))| Delivery {
            id,
            event_id: e.id.clone(),
            account_id: e.account_id.clone(),
            endpoint_id: endpoint_id.clone(),
            url: url.clone(),
            status: DeliveryStatus::Pending,
            attempts: 0,
            next_attempt_at: Some(rows::time(due_ms)),
            last_status_code: None,
            waiting_for: None,
            created_at: rows::time(now),
            updated_at: rows::time(now),
        })
        .collect())
}

async fn find_event(
    conn: &mut PgConnection,
    account: &str,
    id: &str,
) -> StoreResult<Option<(Event, i64)>> {
    select_event(conn, account, id, "").await
}

/// `lock` is appended to the query: a locking clause or nothing.
async fn select_event(
    conn: &mut PgConnection,
    account: &str,
    id: &str,
    lock: &str,
) -> StoreResult<Option<(Event, i64)>> {
    let sql = format!(
        "SELECT {} FROM events e WHERE e.account_id = $1 AND e.id = $2 {lock}",
        rows::EVENT_COLUMNS
    );
    let row = sqlx::query(&sql)
        .bind(account)
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.map(|r| Ok((rows::event(&r)?, r.try_get("seq")?)))
        .transpose()
}

pub(super) async fn get_event(
    conn: &mut PgConnection,
    account: &str,
    id: &str,
) -> StoreResult<(Event, i64)> {
    find_event(conn, account, id)
        .await?
        .ok_or(StoreError::NotFound)
}

/// Events newest first; with `search`, only those whose id or a value
/// inside `data` is exactly `search` (walked down `event_search`, see
/// `crate::search`).
pub(super) async fn list_events(
    db: &PgPool,
    account: &str,
    search: Option<&str>,
    filter: &EventFilter,
    page: PageRequest,
) -> StoreResult<Page<ListedEvent>> {
    let sql = match search {
        None => format!(
            "SELECT {cols}, {STATUS_EXPR} AS status FROM events e \
             WHERE e.account_id = $1 AND e.seq < $2 AND ($3::text IS NULL OR e.event_type = $3) \
             AND ($4::text IS NULL OR ({STATUS_EXPR}) = $4) AND $6::text IS NULL \
             ORDER BY e.seq DESC LIMIT $5",
            cols = rows::EVENT_COLUMNS,
        ),
        Some(_) => format!(
            "SELECT {cols}, {STATUS_EXPR} AS status FROM event_search s \
             JOIN events e ON e.seq = s.event_seq AND e.account_id = s.account_id \
             WHERE s.account_id = $1 AND s.token = $6 AND s.event_seq < $2 \
             AND ($3::text IS NULL OR e.event_type = $3) AND ($4::text IS NULL OR ({STATUS_EXPR}) = $4) \
             ORDER BY s.event_seq DESC LIMIT $5",
            cols = rows::EVENT_COLUMNS,
        ),
    };
    let found = sqlx::query(&sql)
        .bind(account)
        .bind(page.after_seq.unwrap_or(i64::MAX))
        .bind(&filter.event_type)
        .bind(filter.status.map(DeliveryStatus::as_str))
        .bind(i64::from(page.limit) + 1)
        .bind(search)
        .fetch_all(db)
        .await?;
    let rows = found
        .iter()
        .map(|r| {
            let status: Option<String> = r.try_get("status")?;
            let seq: i64 = r.try_get("seq")?;
            Ok((
                ListedEvent {
                    event: rows::event(r)?,
                    status: status.as_deref().and_then(DeliveryStatus::parse),
                    seq,
                },
                seq,
            ))
        })
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(paginate(rows, page.limit))
}

pub(super) async fn list_deliveries(
    db: &PgPool,
    account: &str,
    event_id: &str,
) -> StoreResult<Vec<Delivery>> {
    let mut conn = db.acquire().await?;
    let (_, seq) = get_event(&mut conn, account, event_id).await?;
    let sql = format!(
        "SELECT {} FROM deliveries d WHERE d.event_seq = $1 ORDER BY d.seq",
        rows::DELIVERY_COLUMNS
    );
    let found = sqlx::query(&sql).bind(seq).fetch_all(&mut *conn).await?;
    found.iter().map(rows::delivery).collect()
}

pub(super) async fn list_attempts(
    db: &PgPool,
    account: &str,
    of: &AttemptsOf,
    page: PageRequest,
) -> StoreResult<Page<Attempt>> {
    let mut conn = db.acquire().await?;
    let before = page.after_seq.unwrap_or(i64::MAX);
    let limit = i64::from(page.limit) + 1;
    let found = match of {
        AttemptsOf::Event(id) => {
            let (_, event_seq) = get_event(&mut conn, account, id).await?;
            let sql = format!(
                "SELECT {} FROM attempts WHERE event_seq = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3",
                rows::ATTEMPT_COLUMNS
            );
            sqlx::query(&sql)
                .bind(event_seq)
                .bind(before)
                .bind(limit)
                .fetch_all(&mut *conn)
                .await?
        }
        AttemptsOf::Endpoint(id) => {
            tenant::get_endpoint(&mut conn, account, id).await?;
            let sql = format!(
                "SELECT {} FROM attempts WHERE endpoint_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3",
                rows::ATTEMPT_COLUMNS
            );
            sqlx::query(&sql)
                .bind(id)
                .bind(before)
                .bind(limit)
                .fetch_all(&mut *conn)
                .await?
        }
    };
    let rows = found
        .iter()
        .map(|r| Ok((rows::attempt(r)?, r.try_get("seq")?)))
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(paginate(rows, page.limit))
}

pub(super) async fn resend(
    db: &PgPool,
    account: &str,
    event_id: &str,
    endpoint_id: Option<&str>,
) -> StoreResult<Vec<Delivery>> {
    let mut tx = db.begin().await?;
    // The lock keeps retention from deleting the event under the new deliveries.
    let (event, seq) = select_event(&mut tx, account, event_id, "FOR KEY SHARE")
        .await?
        .ok_or(StoreError::NotFound)?;
    let targets: Vec<(Option<String>, String)> = match endpoint_id {
        Some(endpoint_id) => {
            let ep = tenant::get_endpoint(&mut tx, account, endpoint_id).await?;
            vec![(Some(ep.id), ep.url)]
        }
        None => {
            // Every target the event had: its endpoints (current URL) or its own URL.
            let found = sqlx::query(
                "SELECT DISTINCT d.endpoint_id, COALESCE(ep.url, d.url) AS url FROM deliveries d \
                 LEFT JOIN endpoints ep ON ep.id = d.endpoint_id \
                 WHERE d.event_seq = $1 AND (d.endpoint_id IS NULL OR ep.id IS NOT NULL)",
            )
            .bind(seq)
            .fetch_all(&mut *tx)
            .await?;
            found
                .iter()
                .map(|r| Ok((r.try_get("endpoint_id")?, r.try_get("url")?)))
                .collect::<StoreResult<Vec<_>>>()?
        }
    };
    let created = insert_deliveries(&mut tx, seq, &event, &targets, now_ms()).await?;
    tx.commit().await?;
    Ok(created)
}

pub(super) async fn recover(
    db: &PgPool,
    account: &str,
    endpoint_id: &str,
    since: Timestamp,
) -> StoreResult<u64> {
    let mut tx = db.begin().await?;
    let ep = tenant::get_endpoint(&mut tx, account, endpoint_id).await?;
    // Locked so retention cannot delete them under the new deliveries.
    let events: Vec<(i64, String)> = sqlx::query_as(
        "SELECT e.seq, e.id FROM events e WHERE e.seq IN (SELECT event_seq FROM deliveries \
         WHERE endpoint_id = $1 AND status = 'failed' AND updated_at >= $2) \
         ORDER BY e.seq FOR KEY SHARE",
    )
    .bind(&ep.id)
    .bind(ms(since))
    .fetch_all(&mut *tx)
    .await?;
    if !events.is_empty() {
        let ids: Vec<String> = events
            .iter()
            .map(|_| Id::generate(IdKind::Delivery))
            .collect();
        let (seqs, event_ids): (Vec<i64>, Vec<String>) = events.iter().cloned().unzip();
        let now = now_ms();
        sqlx::query(
            "INSERT INTO deliveries (id, event_seq, event_id, account_id, endpoint_id, url, status, \
             attempts, next_attempt_at, created_at, updated_at, ordering_key) \
             SELECT u.id, u.event_seq, u.event_id, $4, $5, $6, 'pending', 0, $7, $7, $7, \
               COALESCE((SELECT e.ordering_key FROM events e WHERE e.seq = u.event_seq), '') \
             FROM UNNEST($1::text[], $2::bigint[], $3::text[]) AS u(id, event_seq, event_id)",
        )
        .bind(&ids)
        .bind(&seqs)
        .bind(&event_ids)
        .bind(account)
        .bind(&ep.id)
        .bind(&ep.url)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(events.len() as u64)
}

pub(super) async fn endpoint_hourly_stats(
    db: &PgPool,
    account: &str,
    endpoint_id: &str,
    since: Timestamp,
) -> StoreResult<Vec<HourlyStats>> {
    let mut conn = db.acquire().await?;
    tenant::get_endpoint(&mut conn, account, endpoint_id).await?;
    let found = sqlx::query(
        "SELECT (started_at / 3600000) * 3600000 AS hour, \
         SUM(CASE WHEN outcome = 'succeeded' THEN 1 ELSE 0 END)::bigint AS succeeded, \
         SUM(CASE WHEN outcome = 'succeeded' THEN 0 ELSE 1 END)::bigint AS failed \
         FROM attempts WHERE endpoint_id = $1 AND started_at >= $2 GROUP BY hour ORDER BY hour",
    )
    .bind(endpoint_id)
    .bind(ms(since))
    .fetch_all(&mut *conn)
    .await?;
    found
        .iter()
        .map(|r| {
            Ok(HourlyStats {
                hour: rows::time(r.try_get("hour")?),
                succeeded: r.try_get::<i64, _>("succeeded")? as u64,
                failed: r.try_get::<i64, _>("failed")? as u64,
            })
        })
        .collect()
}
