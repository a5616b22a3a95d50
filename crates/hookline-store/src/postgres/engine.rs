//! The delivery engine's queries on PostgreSQL: claims with `FOR UPDATE
//! SKIP LOCKED` (so several nodes never take the same delivery), releases,
//! backlog statistics and retention. Attempt records are in `record.rs`.

use std::sync::LazyLock;

use hookline_core::{EventFormat, PayloadMode, Timestamp};
use sqlx::{PgPool, Row};

use super::rows::{self, ms, now_ms};
use crate::rules::{Disposition, PARK_MS};
use crate::sql::{fair_pick, send_columns, FairPick, CLEAR_LEASE, FAIL, ORDER_ALLOWS};
use crate::types::*;
use crate::StoreResult;

/// The claim's statement, built once.
static CLAIM: LazyLock<String> = LazyLock::new(claim_statement);

/// The claim's statement (its parameters: [`super::PgStore::claim_statement`]).
pub(super) fn claim_statement() -> String {
    // Rows another node is claiming are skipped, not waited for; a row whose
    // lease is live has next_attempt_at in the future and is not due.
    let pick = fair_pick(&FairPick {
        now: "$1",
        limit: "$3",
        endpoint_allowed: &format!(
            "(d.endpoint_id IS NULL OR NOT (d.endpoint_id = ANY($2))) AND {ORDER_ALLOWS}"
        ),
        account_allowed: "NOT (a.account_id = ANY($6))",
        lateral: true,
    });
    format!(
        "WITH RECURSIVE {pick}, \
         due AS (SELECT d.seq, pk.due_at, pk.turn \
           FROM (SELECT seq, due_at, turn FROM picked ORDER BY turn, due_at, seq LIMIT $3) pk \
           JOIN deliveries d ON d.seq = pk.seq \
           WHERE d.status = 'pending' AND d.next_attempt_at <= $1 AND {ORDER_ALLOWS} \
           FOR UPDATE OF d SKIP LOCKED), \
         claimed AS (UPDATE deliveries d SET next_attempt_at = $4, lease_until = $4, leased_by = $5, \
             lease_epoch = d.lease_epoch + 1 \
           FROM due WHERE d.seq = due.seq \
           RETURNING due.due_at, due.turn, d.seq, d.id, d.event_seq, d.event_id, d.account_id, \
             d.endpoint_id, d.url, d.attempts, d.first_attempt_at, d.lease_epoch) \
         SELECT c.*, e.seq IS NOT NULL AS has_event, e.event_type, e.created_at AS event_created_at, \
           e.data, e.format, ep.id IS NOT NULL AS has_endpoint, ep.disabled, {send}, a.signing_secret \
         FROM claimed c \
         LEFT JOIN events e ON e.seq = c.event_seq \
         LEFT JOIN endpoints ep ON ep.id = c.endpoint_id \
         LEFT JOIN accounts a ON c.endpoint_id IS NULL AND a.id = c.account_id \
         ORDER BY c.turn, c.due_at, c.seq",
        send = send_columns("ep")
    )
}

/// Leases due deliveries, in turn over accounts ([`fair_pick`]), with one
/// statement (one round trip, its own commit): the locking `UPDATE … RETURNING` and, joined to it, everything
/// sending needs — the event, the endpoint's send settings or the account's
/// secret. A delivery the rule says not to send ([`Disposition`]: endpoint
/// disabled or gone) is parked or failed by a second statement, only when
/// there is one; until then it is leased to this node, so no other node
/// takes it, and a crash in between leaves a lease that runs out.
pub(super) async fn claim_due(db: &PgPool, req: &ClaimRequest) -> StoreResult<Vec<DueDelivery>> {
    let now = ms(req.now);
    let claimed = sqlx::query(&CLAIM)
        .bind(now)
        .bind(&req.skip_endpoints)
        .bind(i64::from(req.limit))
        .bind(ms(req.lease_until))
        .bind(&req.node_id)
        .bind(&req.skip_accounts)
        .fetch_all(db)
        .await?;
    let (mut due, mut park, mut fail) = (Vec::new(), Vec::new(), Vec::new());
    for r in &claimed {
        let seq: i64 = r.try_get("seq")?;
        let endpoint_id: Option<String> = r.try_get("endpoint_id")?;
        let disabled: Option<bool> = r.try_get("disabled")?;
        let disposition = if r.try_get("has_event")? {
            Disposition::of(endpoint_id.is_some(), disabled)
        } else {
            Disposition::Fail
        };
        match disposition {
            Disposition::Fail => {
                fail.push(seq);
                continue;
            }
            Disposition::Park => {
                park.push(seq);
                continue;
            }
            Disposition::Send => {}
        }
        let mut delivery = DueDelivery {
            delivery_id: r.try_get("id")?,
            event_id: r.try_get("event_id")?,
            account_id: r.try_get("account_id")?,
            url: r.try_get("url")?,
            attempts: r.try_get::<i64, _>("attempts")? as u32,
            first_attempt_at: rows::opt_time(r.try_get("first_attempt_at")?),
            event_type: r.try_get("event_type")?,
            event_created_at: rows::time(r.try_get("event_created_at")?),
            data: r.try_get("data")?,
            format: EventFormat::parse(r.try_get::<&str, _>("format")?).unwrap_or_default(),
            payload: PayloadMode::Full,
            headers: Default::default(),
            secrets: Vec::new(),
            rate_limit_per_sec: None,
            endpoint_failing_since: None,
            lease_epoch: r.try_get("lease_epoch")?,
            endpoint_id,
        };
        if r.try_get("has_endpoint")? {
            rows::send_settings(r)?.apply(&mut delivery, now)?;
        } else {
            let secret: Option<String> = r.try_get("signing_secret")?;
            delivery.secrets = secret.into_iter().collect();
        }
        due.push(delivery);
    }
    if !park.is_empty() {
        sqlx::query(&format!(
            "UPDATE deliveries SET next_attempt_at = $2, {CLEAR_LEASE} WHERE seq = ANY($1)"
        ))
        .bind(&park)
        .bind(now + PARK_MS)
        .execute(db)
        .await?;
    }
    if !fail.is_empty() {
        sqlx::query(&format!(
            "UPDATE deliveries SET {FAIL}, updated_at = $2 WHERE seq = ANY($1)"
        ))
        .bind(&fail)
        .bind(now)
        .execute(db)
        .await?;
    }
    Ok(due)
}

pub(super) async fn release(db: &PgPool, leases: &[Lease]) -> StoreResult<()> {
    sqlx::query(&format!(
        "UPDATE deliveries d SET next_attempt_at = $3, {CLEAR_LEASE} \
         FROM UNNEST($1::text[], $2::bigint[]) AS u(id, lease_epoch) \
         WHERE d.id = u.id AND d.status = 'pending' AND d.lease_epoch = u.lease_epoch"
    ))
    .bind(
        leases
            .iter()
            .map(|l| l.delivery_id.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(leases.iter().map(|l| l.epoch).collect::<Vec<_>>())
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
    let purged: Vec<(i64, String, String, String)> = sqlx::query_as(
        "SELECT e.seq, e.account_id, e.id, e.data FROM events e WHERE e.created_at < $1 AND NOT EXISTS \
         (SELECT 1 FROM deliveries d WHERE d.event_seq = e.seq AND d.status = 'pending') \
         ORDER BY e.created_at LIMIT $2 FOR UPDATE SKIP LOCKED",
    )
    .bind(ms(before))
    .bind(i64::from(batch))
    .fetch_all(&mut *tx)
    .await?;
    if !purged.is_empty() {
        let seqs: Vec<i64> = purged.iter().map(|p| p.0).collect();
        // Each search row by its key, from the rule that made it.
        let rows: Vec<(i64, &str, String)> = purged
            .iter()
            .flat_map(|(seq, account, id, data)| {
                crate::search::tokens(id, data)
                    .into_iter()
                    .map(move |token| (*seq, account.as_str(), token))
            })
            .collect();
        sqlx::query(
            "DELETE FROM event_search s \
             USING UNNEST($1::text[], $2::text[], $3::bigint[]) AS k(account_id, token, event_seq) \
             WHERE s.account_id = k.account_id AND s.token = k.token AND s.event_seq = k.event_seq",
        )
        .bind(rows.iter().map(|r| r.1).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.2.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.0).collect::<Vec<_>>())
        .execute(&mut *tx)
        .await?;
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
    Ok(purged.len() as u64)
}
