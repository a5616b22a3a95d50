//! The operational outbox on PostgreSQL: the events a batch of attempts
//! calls for, written by the transaction that records them (the rule is
//! `crate::operational`'s), read and deleted by the servers' drainers.
//! Two drainers may read the same rows; each event keeps its id, so the
//! second publish of one is a harmless duplicate.

use std::collections::BTreeMap;

use hookline_core::operational::PLATFORM_ACCOUNT_ID;
use hookline_core::Attempt;
use sqlx::{PgConnection, PgPool, Row};

use super::rows::{self, ms, time};
use crate::operational;
use crate::types::{AttemptResult, OutboxEvent};
use crate::StoreResult;

/// Writes the operational events `fresh` (the attempts just stored, in
/// order) call for, on the recording transaction; answers how many.
/// Nothing is written while the platform account does not exist (no
/// operational endpoint, nobody to tell).
pub(super) async fn write(
    conn: &mut PgConnection,
    fresh: &[&AttemptResult],
    failing_after: u32,
) -> StoreResult<usize> {
    let plan = operational::plan(fresh);
    if plan.is_empty() {
        return Ok(0);
    }
    let platform: Option<i32> = sqlx::query_scalar("SELECT 1 FROM accounts WHERE id = $1")
        .bind(PLATFORM_ACCOUNT_ID)
        .fetch_optional(&mut *conn)
        .await?;
    if platform.is_none() {
        return Ok(0);
    }
    let (endpoints, limits): (Vec<&str>, Vec<i64>) =
        plan.histories_needed(failing_after).into_iter().unzip();
    let mut histories: BTreeMap<String, Vec<Attempt>> = BTreeMap::new();
    if !endpoints.is_empty() {
        // Every endpoint's latest attempts (this batch's included: same
        // transaction) in one statement.
        let sql = format!(
            "SELECT a.* FROM UNNEST($1::text[], $2::bigint[]) AS u(endpoint_id, lim) \
             CROSS JOIN LATERAL (SELECT {} FROM attempts WHERE endpoint_id = u.endpoint_id \
               ORDER BY seq DESC LIMIT u.lim) a \
             ORDER BY a.endpoint_id, a.seq DESC",
            rows::ATTEMPT_COLUMNS
        );
        for r in sqlx::query(&sql)
            .bind(&endpoints)
            .bind(&limits)
            .fetch_all(&mut *conn)
            .await?
        {
            let attempt = rows::attempt(&r)?;
            let endpoint = attempt.endpoint_id.clone().unwrap_or_default();
            histories.entry(endpoint).or_default().push(attempt);
        }
    }
    let events = plan.events(&histories, failing_after);
    if events.is_empty() {
        return Ok(0);
    }
    sqlx::query(
        "INSERT INTO operational_outbox (event_id, event_type, data, created_at) \
         SELECT u.event_id, u.event_type, u.data, u.created_at \
         FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bigint[]) WITH ORDINALITY \
           AS u(event_id, event_type, data, created_at, ord) ORDER BY ord",
    )
    .bind(events.iter().map(|e| e.id.as_str()).collect::<Vec<_>>())
    .bind(
        events
            .iter()
            .map(|e| e.event_type.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(events.iter().map(|e| e.data.as_str()).collect::<Vec<_>>())
    .bind(events.iter().map(|e| ms(e.created_at)).collect::<Vec<_>>())
    .execute(&mut *conn)
    .await?;
    Ok(events.len())
}

pub(super) async fn list(db: &PgPool, limit: u32) -> StoreResult<Vec<OutboxEvent>> {
    sqlx::query(
        "SELECT seq, event_id, event_type, data, created_at FROM operational_outbox \
         ORDER BY seq LIMIT $1",
    )
    .bind(i64::from(limit))
    .fetch_all(db)
    .await?
    .iter()
    .map(|r| -> StoreResult<OutboxEvent> {
        Ok(OutboxEvent {
            seq: r.try_get("seq")?,
            event: operational::event(
                r.try_get("event_id")?,
                r.try_get("event_type")?,
                r.try_get("data")?,
                time(r.try_get("created_at")?),
            ),
        })
    })
    .collect()
}

pub(super) async fn delete(db: &PgPool, seqs: &[i64]) -> StoreResult<()> {
    sqlx::query("DELETE FROM operational_outbox WHERE seq = ANY($1)")
        .bind(seqs)
        .execute(db)
        .await?;
    Ok(())
}
