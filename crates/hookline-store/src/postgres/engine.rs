//! The delivery engine's queries on PostgreSQL: claims with `FOR UPDATE
//! SKIP LOCKED` (so several nodes never take the same delivery), releases,
//! backlog statistics and retention. Attempt records are in `record.rs`.

use std::collections::HashMap;

use hookline_core::{PayloadMode, Timestamp};
use sqlx::{PgPool, Row};

use super::rows::{self, ms, now_ms};
use crate::rules::{Disposition, SendSettings, PARK_MS};
use crate::sql::{send_columns, CLEAR_LEASE, FAIL};
use crate::types::*;
use crate::StoreResult;

pub(super) async fn claim_due(db: &PgPool, req: &ClaimRequest) -> StoreResult<Vec<DueDelivery>> {
    let now = ms(req.now);
    let mut tx = db.begin().await?;
    // Rows another node is claiming are skipped, not waited for; a row whose
    // lease is live has next_attempt_at in the future and is not due.
    let mut claimed = sqlx::query(
        "WITH due AS (SELECT seq, next_attempt_at AS due_at FROM deliveries \
           WHERE status = 'pending' AND next_attempt_at <= $1 \
           AND (endpoint_id IS NULL OR NOT (endpoint_id = ANY($2))) \
           ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED) \
         UPDATE deliveries d SET next_attempt_at = $4, lease_until = $4, leased_by = $5 \
         FROM due WHERE d.seq = due.seq \
         RETURNING due.due_at, d.seq, d.id, d.event_seq, d.event_id, d.account_id, d.endpoint_id, \
           d.url, d.attempts, d.first_attempt_at",
    )
    .bind(now)
    .bind(&req.skip_endpoints)
    .bind(i64::from(req.limit))
    .bind(ms(req.lease_until))
    .bind(&req.node_id)
    .fetch_all(&mut *tx)
    .await?;
    if claimed.is_empty() {
        tx.commit().await?;
        return Ok(Vec::new());
    }
    // RETURNING has no order: hand work out most overdue first, as SQLite does.
    claimed.sort_by_cached_key(|r| {
        (
            r.try_get::<i64, _>("due_at").unwrap_or_default(),
            r.try_get::<i64, _>("seq").unwrap_or_default(),
        )
    });
    let event_seqs: Vec<i64> = claimed
        .iter()
        .map(|r| r.try_get("event_seq"))
        .collect::<Result<_, _>>()?;
    let endpoint_ids: Vec<String> = claimed
        .iter()
        .filter_map(|r| r.try_get::<Option<String>, _>("endpoint_id").ok().flatten())
        .collect();
    let account_ids: Vec<String> = claimed
        .iter()
        .filter(|r| {
            r.try_get::<Option<String>, _>("endpoint_id")
                .ok()
                .flatten()
                .is_none()
        })
        .map(|r| r.try_get("account_id"))
        .collect::<Result<_, _>>()?;

    let mut events: HashMap<i64, (String, i64, String)> = HashMap::new();
    for r in sqlx::query("SELECT seq, event_type, created_at, data FROM events WHERE seq = ANY($1)")
        .bind(&event_seqs)
        .fetch_all(&mut *tx)
        .await?
    {
        events.insert(
            r.try_get("seq")?,
            (
                r.try_get("event_type")?,
                r.try_get("created_at")?,
                r.try_get("data")?,
            ),
        );
    }
    let mut endpoints: HashMap<String, (bool, SendSettings)> = HashMap::new();
    let sql = format!(
        "SELECT ep.id, ep.disabled, {} FROM endpoints ep WHERE ep.id = ANY($1)",
        send_columns("ep")
    );
    for r in sqlx::query(&sql)
        .bind(&endpoint_ids)
        .fetch_all(&mut *tx)
        .await?
    {
        endpoints.insert(
            r.try_get("id")?,
            (r.try_get("disabled")?, rows::send_settings(&r)?),
        );
    }
    let mut account_secrets: HashMap<String, String> = HashMap::new();
    for r in sqlx::query("SELECT id, signing_secret FROM accounts WHERE id = ANY($1)")
        .bind(&account_ids)
        .fetch_all(&mut *tx)
        .await?
    {
        account_secrets.insert(r.try_get("id")?, r.try_get("signing_secret")?);
    }

    let (mut due, mut park, mut fail) = (Vec::new(), Vec::new(), Vec::new());
    for r in &claimed {
        let seq: i64 = r.try_get("seq")?;
        let endpoint_id: Option<String> = r.try_get("endpoint_id")?;
        let account_id: String = r.try_get("account_id")?;
        let Some((event_type, created_at, data)) = events.get(&r.try_get::<i64, _>("event_seq")?)
        else {
            fail.push(seq);
            continue;
        };
        let mut delivery = DueDelivery {
            delivery_id: r.try_get("id")?,
            event_id: r.try_get("event_id")?,
            account_id: account_id.clone(),
            endpoint_id: endpoint_id.clone(),
            url: r.try_get("url")?,
            attempts: r.try_get::<i64, _>("attempts")? as u32,
            first_attempt_at: rows::opt_time(r.try_get("first_attempt_at")?),
            event_type: event_type.clone(),
            event_created_at: rows::time(*created_at),
            data: data.clone(),
            payload: PayloadMode::Full,
            headers: Default::default(),
            secrets: Vec::new(),
            rate_limit_per_sec: None,
            endpoint_failing_since: None,
        };
        let endpoint = endpoint_id.as_ref().and_then(|id| endpoints.get(id));
        match Disposition::of(
            endpoint_id.is_some(),
            endpoint.map(|(disabled, _)| *disabled),
        ) {
            Disposition::Fail => {
                fail.push(seq);
                continue;
            }
            Disposition::Park => {
                park.push(seq);
                continue;
            }
            Disposition::Send => match endpoint {
                Some((_, send)) => send.apply(&mut delivery, now)?,
                None => {
                    delivery.secrets = account_secrets
                        .get(&account_id)
                        .cloned()
                        .into_iter()
                        .collect()
                }
            },
        }
        due.push(delivery);
    }
    if !park.is_empty() {
        sqlx::query(&format!(
            "UPDATE deliveries SET next_attempt_at = $2, {CLEAR_LEASE} WHERE seq = ANY($1)"
        ))
        .bind(&park)
        .bind(now + PARK_MS)
        .execute(&mut *tx)
        .await?;
    }
    if !fail.is_empty() {
        sqlx::query(&format!(
            "UPDATE deliveries SET {FAIL}, updated_at = $2 WHERE seq = ANY($1)"
        ))
        .bind(&fail)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(due)
}

pub(super) async fn release(db: &PgPool, ids: &[String]) -> StoreResult<()> {
    sqlx::query(&format!(
        "UPDATE deliveries SET next_attempt_at = $2, {CLEAR_LEASE} \
         WHERE id = ANY($1) AND status = 'pending'"
    ))
    .bind(ids)
    .bind(now_ms())
    .execute(db)
    .await?;
    Ok(())
}

pub(super) async fn next_due_at(db: &PgPool) -> StoreResult<Option<Timestamp>> {
    let at: Option<i64> =
        sqlx::query_scalar("SELECT MIN(next_attempt_at) FROM deliveries WHERE status = 'pending'")
            .fetch_one(db)
            .await?;
    Ok(rows::opt_time(at))
}

pub(super) async fn pending_stats(db: &PgPool) -> StoreResult<PendingStats> {
    let r = sqlx::query("SELECT COUNT(*) AS pending, MIN(created_at) AS oldest FROM deliveries WHERE status = 'pending'")
        .fetch_one(db)
        .await?;
    Ok(PendingStats {
        pending: r.try_get::<i64, _>("pending")? as u64,
        oldest_created_at: rows::opt_time(r.try_get("oldest")?),
    })
}

pub(super) async fn purge_events_before(
    db: &PgPool,
    before: Timestamp,
    batch: u32,
) -> StoreResult<u64> {
    let mut tx = db.begin().await?;
    let seqs: Vec<i64> = sqlx::query_scalar(
        "SELECT e.seq FROM events e WHERE e.created_at < $1 AND NOT EXISTS \
         (SELECT 1 FROM deliveries d WHERE d.event_seq = e.seq AND d.status = 'pending') \
         ORDER BY e.created_at LIMIT $2 FOR UPDATE SKIP LOCKED",
    )
    .bind(ms(before))
    .bind(i64::from(batch))
    .fetch_all(&mut *tx)
    .await?;
    if !seqs.is_empty() {
        sqlx::query("DELETE FROM attempts WHERE event_seq = ANY($1)")
            .bind(&seqs)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM deliveries WHERE event_seq = ANY($1)")
            .bind(&seqs)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM events WHERE seq = ANY($1)")
            .bind(&seqs)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(seqs.len() as u64)
}
