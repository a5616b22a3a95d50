//! Event and attempt listings, resend and recover on PostgreSQL
//! (publishing is in `publish.rs`).

use hookline_core::{Attempt, Delivery, DeliveryStatus, Event, Id, IdKind, Page, Timestamp};
use sqlx::{PgConnection, PgPool, Row};

use super::rows::{self, ms, now_ms};
use super::tenant::{self, paginate, ListOrder, Walk};
use crate::sql::{outcome_filter, STATUS_EXPR};
use crate::types::*;
use crate::{StoreError, StoreResult};

/// Inserts one delivery per target in one statement.
async fn insert_deliveries(
    conn: &mut PgConnection,
    event_seq: i64,
    e: &Event,
    targets: &[(Option<String>, String)],
    due_ms: i64,
    manual: bool,
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
         attempts, next_attempt_at, created_at, updated_at, ordering_key, manual) \
         SELECT u.id, $4, $5, $6, u.endpoint_id, u.url, 'pending', 0, $7, $8, $8, $9, $10 \
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
    .bind(manual)
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

pub(super) async fn find_event_by_external_id(
    conn: &mut PgConnection,
    account: &str,
    external_id: &str,
) -> StoreResult<Option<Event>> {
    let sql = format!(
        "SELECT {} FROM events e WHERE e.account_id = $1 AND e.external_id = $2",
        rows::EVENT_COLUMNS
    );
    let row = sqlx::query(&sql)
        .bind(account)
        .bind(external_id)
        .fetch_optional(conn)
        .await?;
    row.map(|r| rows::event(&r)).transpose()
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
    // A status alone (the dashboard's filter) walks the deliveries' status
    // index; with a search or the Svix API's filters the general query runs.
    if let (None, Some(status), true) = (search, filter.status, filter.by_status_only()) {
        return list_events_by_status(db, account, status, filter, page).await;
    }
    let walk = Walk::new(page, ListOrder::NewestFirst);
    let (cmp, order) = (walk.cmp, walk.order);
    let sql = match search {
        None => format!(
            "SELECT {cols}, {STATUS_EXPR} AS status FROM events e \
             WHERE e.account_id = $1 AND e.seq {cmp} $2 AND ($3::text IS NULL OR e.event_type = $3) \
             AND ($4::text IS NULL OR ({STATUS_EXPR}) = $4) AND $6::text IS NULL \
             AND ($7::text[] IS NULL OR e.event_type = ANY($7)) \
             AND ($8::text IS NULL OR e.channels::jsonb ? $8) \
             AND ($9::bigint IS NULL OR e.created_at < $9) AND ($10::bigint IS NULL OR e.created_at > $10) \
             ORDER BY e.seq {order} LIMIT $5",
            cols = rows::EVENT_COLUMNS,
        ),
        Some(_) => format!(
            "SELECT {cols}, {STATUS_EXPR} AS status FROM event_search s \
             JOIN events e ON e.seq = s.event_seq AND e.account_id = s.account_id \
             WHERE s.account_id = $1 AND s.token = $6 AND s.event_seq {cmp} $2 \
             AND ($3::text IS NULL OR e.event_type = $3) AND ($4::text IS NULL OR ({STATUS_EXPR}) = $4) \
             AND ($7::text[] IS NULL OR e.event_type = ANY($7)) \
             AND ($8::text IS NULL OR e.channels::jsonb ? $8) \
             AND ($9::bigint IS NULL OR e.created_at < $9) AND ($10::bigint IS NULL OR e.created_at > $10) \
             ORDER BY s.event_seq {order} LIMIT $5",
            cols = rows::EVENT_COLUMNS,
        ),
    };
    let found = sqlx::query(&sql)
        .bind(account)
        .bind(walk.bound)
        .bind(&filter.event_type)
        .bind(filter.status.map(DeliveryStatus::as_str))
        .bind(walk.fetch)
        .bind(search)
        .bind((!filter.event_types.is_empty()).then_some(&filter.event_types))
        .bind(&filter.channel)
        .bind(filter.before.map(ms))
        .bind(filter.after.map(ms))
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
    Ok(paginate(rows, page))
}

/// Events whose summary status is `status`, newest first, checked in
/// chunks of candidates from the deliveries' status index
/// ([`rules::STATUS_CHUNK`](crate::rules::STATUS_CHUNK)), walked away
/// from the cursor (upwards for a backward page).
async fn list_events_by_status(
    db: &PgPool,
    account: &str,
    status: DeliveryStatus,
    filter: &EventFilter,
    page: PageRequest,
) -> StoreResult<Page<ListedEvent>> {
    let mut conn = db.acquire().await?;
    let walk = Walk::new(page, ListOrder::NewestFirst);
    let (cmp, order) = (walk.cmp, walk.order);
    let check = format!(
        "SELECT {cols}, {STATUS_EXPR} AS status FROM events e \
         WHERE e.seq = ANY($1) AND e.account_id = $2 \
         AND ($3::text IS NULL OR e.event_type = $3) AND ({STATUS_EXPR}) = $4 ORDER BY e.seq {order}",
        cols = rows::EVENT_COLUMNS,
    );
    let candidates = format!(
        "SELECT DISTINCT event_seq FROM deliveries \
         WHERE account_id = $1 AND status = $2 AND event_seq {cmp} $3 \
         ORDER BY event_seq {order} LIMIT $4"
    );
    let mut from = walk.bound;
    let mut found = Vec::new();
    while found.len() <= page.limit as usize {
        let seqs: Vec<i64> = sqlx::query_scalar(&candidates)
            .bind(account)
            .bind(status.as_str())
            .bind(from)
            .bind(i64::from(crate::rules::STATUS_CHUNK))
            .fetch_all(&mut *conn)
            .await?;
        let Some(&last) = seqs.last() else { break };
        from = last;
        let matching = sqlx::query(&check)
            .bind(&seqs)
            .bind(account)
            .bind(&filter.event_type)
            .bind(status.as_str())
            .fetch_all(&mut *conn)
            .await?;
        for r in &matching {
            let seq: i64 = r.try_get("seq")?;
            let listed = ListedEvent {
                event: rows::event(r)?,
                status: Some(status),
                seq,
            };
            found.push((listed, seq));
        }
        if seqs.len() < crate::rules::STATUS_CHUNK as usize {
            break;
        }
    }
    found.truncate(page.limit as usize + 1);
    Ok(paginate(found, page))
}

/// Walks the deliveries' `(account_id, status, event_seq)` index from its
/// oldest pending entry.
pub(super) async fn oldest_pending_delivery(
    db: &PgPool,
    account: &str,
) -> StoreResult<Option<Delivery>> {
    let sql = format!(
        "SELECT {} FROM deliveries d WHERE d.account_id = $1 AND d.status = 'pending' \
         ORDER BY d.event_seq, d.seq LIMIT 1",
        rows::DELIVERY_COLUMNS
    );
    let row = sqlx::query(&sql).bind(account).fetch_optional(db).await?;
    row.as_ref().map(rows::delivery).transpose()
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

/// Attempt filters as SQL over `attempts` (parameters $4 to $10).
const ATTEMPT_FILTER: &str = "\
    AND ($4::boolean IS NULL OR (outcome = 'succeeded') = $4) \
    AND ($5::bigint IS NULL OR ($5 = 0 AND status_code IS NULL) OR (status_code / 100) * 100 = $5) \
    AND ($6::text IS NULL OR endpoint_id = $6) \
    AND ($7::bigint IS NULL OR started_at < $7) AND ($8::bigint IS NULL OR started_at > $8) \
    AND ($9::text[] IS NULL OR event_seq IN (SELECT seq FROM events WHERE event_type = ANY($9))) \
    AND ($10::text IS NULL OR event_seq IN (SELECT seq FROM events \
         WHERE seq = attempts.event_seq AND channels::jsonb ? $10))";

/// Attempts newest first, of an event or of an endpoint, those `filter`
/// keeps.
pub(super) async fn list_attempts(
    db: &PgPool,
    account: &str,
    of: &AttemptsOf,
    filter: &AttemptFilter,
    page: PageRequest,
) -> StoreResult<Page<Attempt>> {
    let mut conn = db.acquire().await?;
    let walk = Walk::new(page, ListOrder::NewestFirst);
    let query = |column: &str| {
        format!(
            "SELECT {} FROM attempts WHERE {column} = $1 AND seq {} $2 {ATTEMPT_FILTER} AND {} \
             ORDER BY seq {} LIMIT $3",
            rows::ATTEMPT_COLUMNS,
            walk.cmp,
            outcome_filter("$11::text", "$12::boolean", "$13::boolean"),
            walk.order,
        )
    };
    let (exact, failed, pending) = filter.outcome.params();
    let (sql, key) = match of {
        AttemptsOf::Event(id) => {
            let (_, event_seq) = get_event(&mut conn, account, id).await?;
            (query("event_seq"), AttemptKey::Seq(event_seq))
        }
        AttemptsOf::Endpoint(id) => {
            tenant::get_endpoint(&mut conn, account, id).await?;
            (query("endpoint_id"), AttemptKey::Endpoint(id.clone()))
        }
    };
    let q = sqlx::query(&sql);
    let q = match key {
        AttemptKey::Seq(seq) => q.bind(seq),
        AttemptKey::Endpoint(id) => q.bind(id),
    };
    let found = q
        .bind(walk.bound)
        .bind(walk.fetch)
        .bind(filter.succeeded)
        .bind(filter.status_code_class.map(i64::from))
        .bind(&filter.endpoint_id)
        .bind(filter.before.map(ms))
        .bind(filter.after.map(ms))
        .bind((!filter.event_types.is_empty()).then_some(&filter.event_types))
        .bind(&filter.channel)
        .bind(exact)
        .bind(failed)
        .bind(pending)
        .fetch_all(&mut *conn)
        .await?;
    let rows = found
        .iter()
        .map(|r| Ok((rows::attempt(r)?, r.try_get("seq")?)))
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(paginate(rows, page))
}

/// What an attempt list is keyed on.
enum AttemptKey {
    Seq(i64),
    Endpoint(String),
}

/// One attempt of the account's.
pub(super) async fn get_attempt(db: &PgPool, account: &str, id: &str) -> StoreResult<Attempt> {
    let sql = format!(
        "SELECT {} FROM attempts WHERE id = $1 AND account_id = $2",
        rows::ATTEMPT_COLUMNS
    );
    let row = sqlx::query(&sql)
        .bind(id)
        .bind(account)
        .fetch_optional(db)
        .await?
        .ok_or(StoreError::NotFound)?;
    rows::attempt(&row)
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
    let created = insert_deliveries(&mut tx, seq, &event, &targets, now_ms(), true).await?;
    tx.commit().await?;
    Ok(created)
}

pub(super) async fn recover(
    db: &PgPool,
    account: &str,
    endpoint_id: &str,
    since: Timestamp,
    until: Option<Timestamp>,
) -> StoreResult<u64> {
    let mut tx = db.begin().await?;
    let ep = tenant::get_endpoint(&mut tx, account, endpoint_id).await?;
    // Locked so retention cannot delete them under the new deliveries.
    let events: Vec<(i64, String)> = sqlx::query_as(
        "SELECT e.seq, e.id FROM events e WHERE e.seq IN (SELECT event_seq FROM deliveries \
         WHERE endpoint_id = $1 AND status = 'failed' AND updated_at >= $2 AND updated_at < $3) \
         ORDER BY e.seq FOR KEY SHARE",
    )
    .bind(&ep.id)
    .bind(ms(since))
    .bind(until.map_or(i64::MAX, ms))
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
             attempts, next_attempt_at, created_at, updated_at, ordering_key, manual) \
             SELECT u.id, u.event_seq, u.event_id, $4, $5, $6, 'pending', 0, $7, $7, $7, \
               COALESCE((SELECT e.ordering_key FROM events e WHERE e.seq = u.event_seq), ''), TRUE \
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

pub(super) async fn endpoint_delivery_counts(
    db: &PgPool,
    account: &str,
    endpoint_id: &str,
    window: &TimeWindow,
) -> StoreResult<DeliveryCounts> {
    let mut conn = db.acquire().await?;
    tenant::get_endpoint(&mut conn, account, endpoint_id).await?;
    let found = sqlx::query(
        "SELECT CASE WHEN status = 'pending' AND lease_until > $4 THEN 'sending' ELSE status END AS s, \
         COUNT(*) AS n FROM deliveries WHERE endpoint_id = $1 AND created_at >= $2 AND created_at < $3 \
         GROUP BY s",
    )
    .bind(endpoint_id)
    .bind(window.since.map_or(i64::MIN, ms))
    .bind(window.until.map_or(i64::MAX, ms))
    .bind(now_ms())
    .fetch_all(&mut *conn)
    .await?;
    let mut counts = DeliveryCounts::default();
    for r in &found {
        counts.add(r.try_get("s")?, r.try_get::<i64, _>("n")? as u64);
    }
    Ok(counts)
}
