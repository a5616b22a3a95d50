//! The delivery engine's queries on PostgreSQL: claims with `FOR UPDATE
//! SKIP LOCKED` (so several nodes never take the same delivery), attempt
//! records and releases batched into one statement each, backlog
//! statistics and retention.

use std::collections::{BTreeMap, HashMap, HashSet};

use hookline_core::{Attempt, PayloadMode, Timestamp};
use sqlx::{PgConnection, PgPool, Row};

use super::rows::{self, ms, now_ms};
use crate::types::*;
use crate::StoreResult;

/// How long deliveries to a disabled endpoint are parked before being
/// looked at again (re-enabling the endpoint makes them due at once).
const PARK_MS: i64 = 3_600_000;

struct EndpointConfig {
    disabled: bool,
    payload: PayloadMode,
    headers: BTreeMap<String, String>,
    secrets: Vec<String>,
    rate_limit_per_sec: Option<u32>,
    failing_since: Option<Timestamp>,
}

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
    let mut endpoints: HashMap<String, EndpointConfig> = HashMap::new();
    for r in sqlx::query(
        "SELECT id, disabled, payload, headers, secret, previous_secret, previous_secret_expires_at, \
         rate_limit_per_sec, failing_since FROM endpoints WHERE id = ANY($1)",
    )
    .bind(&endpoint_ids)
    .fetch_all(&mut *tx)
    .await?
    {
        let mut secrets = vec![r.try_get::<String, _>("secret")?];
        let previous: Option<String> = r.try_get("previous_secret")?;
        let until: Option<i64> = r.try_get("previous_secret_expires_at")?;
        if let (Some(previous), Some(until)) = (previous, until) {
            if until > now {
                secrets.push(previous);
            }
        }
        let payload: String = r.try_get("payload")?;
        let rate: Option<i64> = r.try_get("rate_limit_per_sec")?;
        endpoints.insert(
            r.try_get("id")?,
            EndpointConfig {
                disabled: r.try_get("disabled")?,
                payload: PayloadMode::parse(&payload).unwrap_or_default(),
                headers: rows::from_json(r.try_get("headers")?)?,
                secrets,
                rate_limit_per_sec: rate.map(|v| v as u32),
                failing_since: rows::opt_time(r.try_get("failing_since")?),
            },
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
        match endpoint_id.as_ref().map(|id| endpoints.get(id)) {
            None => {
                delivery.secrets = account_secrets
                    .get(&account_id)
                    .cloned()
                    .into_iter()
                    .collect()
            }
            Some(None) => {
                // The endpoint was deleted: nothing left to deliver to.
                fail.push(seq);
                continue;
            }
            Some(Some(ep)) if ep.disabled => {
                park.push(seq);
                continue;
            }
            Some(Some(ep)) => {
                delivery.payload = ep.payload;
                delivery.headers = ep.headers.clone();
                delivery.secrets = ep.secrets.clone();
                delivery.rate_limit_per_sec = ep.rate_limit_per_sec;
                delivery.endpoint_failing_since = ep.failing_since;
            }
        }
        due.push(delivery);
    }
    if !park.is_empty() {
        sqlx::query("UPDATE deliveries SET next_attempt_at = $2, lease_until = NULL, leased_by = NULL WHERE seq = ANY($1)")
            .bind(&park)
            .bind(now + PARK_MS)
            .execute(&mut *tx)
            .await?;
    }
    if !fail.is_empty() {
        sqlx::query(
            "UPDATE deliveries SET status = 'failed', next_attempt_at = NULL, lease_until = NULL, updated_at = $2 \
             WHERE seq = ANY($1)",
        )
        .bind(&fail)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(due)
}

/// Records a batch of attempts in one transaction. An attempt id already
/// stored is skipped with all its consequences, so retrying a batch whose
/// commit answer was lost is harmless. Locks go endpoints first (in id
/// order), then deliveries, the order every other writer follows.
pub(super) async fn record_attempts(db: &PgPool, results: &[AttemptResult]) -> StoreResult<()> {
    if results.is_empty() {
        return Ok(());
    }
    let mut seen = HashSet::new();
    let results: Vec<&AttemptResult> = results
        .iter()
        .filter(|r| seen.insert(r.attempt.id.as_str()))
        .collect();
    let mut tx = db.begin().await?;
    let inserted = insert_attempts(&mut tx, &results).await?;
    let fresh: Vec<&AttemptResult> = results
        .into_iter()
        .filter(|r| inserted.contains(&r.attempt.id))
        .collect();
    apply_endpoint_changes(&mut tx, &fresh).await?;
    apply_delivery_changes(&mut tx, &fresh).await?;
    tx.commit().await?;
    Ok(())
}

/// Inserts the attempts whose delivery exists; answers the ids inserted.
async fn insert_attempts(
    conn: &mut PgConnection,
    results: &[&AttemptResult],
) -> StoreResult<HashSet<String>> {
    let attempts: Vec<&Attempt> = results.iter().map(|r| &r.attempt).collect();
    let ids: Vec<&str> = attempts.iter().map(|a| a.id.as_str()).collect();
    let delivery_ids: Vec<&str> = attempts.iter().map(|a| a.delivery_id.as_str()).collect();
    let urls: Vec<&str> = attempts.iter().map(|a| a.url.as_str()).collect();
    let numbers: Vec<i64> = attempts.iter().map(|a| i64::from(a.attempt)).collect();
    let started: Vec<i64> = attempts.iter().map(|a| ms(a.started_at)).collect();
    let durations: Vec<i64> = attempts
        .iter()
        .map(|a| i64::try_from(a.duration_ms).unwrap_or(i64::MAX))
        .collect();
    let outcomes: Vec<&str> = attempts.iter().map(|a| a.outcome.as_str()).collect();
    let codes: Vec<Option<i64>> = attempts
        .iter()
        .map(|a| a.status_code.map(i64::from))
        .collect();
    let errors: Vec<Option<&str>> = attempts.iter().map(|a| a.error.as_deref()).collect();
    let bodies: Vec<&str> = attempts.iter().map(|a| a.response_body.as_str()).collect();
    let inserted: Vec<String> = sqlx::query_scalar(
        "INSERT INTO attempts (id, delivery_id, event_seq, event_id, account_id, endpoint_id, url, \
         attempt, started_at, duration_ms, outcome, status_code, error, response_body) \
         SELECT u.id, u.delivery_id, d.event_seq, d.event_id, d.account_id, d.endpoint_id, u.url, \
         u.attempt, u.started_at, u.duration_ms, u.outcome, u.status_code, u.error, u.response_body \
         FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], \
                     $7::text[], $8::bigint[], $9::text[], $10::text[]) \
              AS u(id, delivery_id, url, attempt, started_at, duration_ms, outcome, status_code, error, response_body) \
         JOIN deliveries d ON d.id = u.delivery_id \
         ON CONFLICT (id) DO NOTHING RETURNING id",
    )
    .bind(&ids)
    .bind(&delivery_ids)
    .bind(&urls)
    .bind(&numbers)
    .bind(&started)
    .bind(&durations)
    .bind(&outcomes)
    .bind(&codes)
    .bind(&errors)
    .bind(&bodies)
    .fetch_all(&mut *conn)
    .await?;
    Ok(inserted.into_iter().collect())
}

/// What a batch does to one delivery: the results applied in order, each
/// only while the delivery is still pending (as one statement per batch).
struct DeliveryChange<'a> {
    id: &'a str,
    status: &'static str,
    attempt: i64,
    next_at: Option<i64>,
    first_started_at: i64,
    status_code: Option<i64>,
}

async fn apply_delivery_changes(
    conn: &mut PgConnection,
    results: &[&AttemptResult],
) -> StoreResult<()> {
    let mut changes: Vec<DeliveryChange<'_>> = Vec::with_capacity(results.len());
    let mut index: HashMap<&str, usize> = HashMap::new();
    for r in results {
        let a = &r.attempt;
        let (status, next_at) = match r.next {
            NextStep::Succeeded => ("succeeded", None),
            NextStep::RetryAt(at) => ("pending", Some(ms(at))),
            NextStep::Failed => ("failed", None),
        };
        match index.get(a.delivery_id.as_str()) {
            Some(&i) if changes[i].status != "pending" => {}
            Some(&i) => {
                let change = &mut changes[i];
                change.status = status;
                change.attempt = change.attempt.max(i64::from(a.attempt));
                change.next_at = next_at;
                change.status_code = a.status_code.map(i64::from);
            }
            None => {
                index.insert(&a.delivery_id, changes.len());
                changes.push(DeliveryChange {
                    id: &a.delivery_id,
                    status,
                    attempt: i64::from(a.attempt),
                    next_at,
                    first_started_at: ms(a.started_at),
                    status_code: a.status_code.map(i64::from),
                });
            }
        }
    }
    if changes.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "UPDATE deliveries d SET status = u.status, attempts = GREATEST(d.attempts, u.attempt), \
         next_attempt_at = u.next_at, lease_until = NULL, leased_by = NULL, \
         first_attempt_at = COALESCE(d.first_attempt_at, u.started_at), \
         last_status_code = u.status_code, updated_at = $7 \
         FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[]) \
              AS u(id, status, attempt, next_at, started_at, status_code) \
         WHERE d.id = u.id AND d.status = 'pending'",
    )
    .bind(changes.iter().map(|c| c.id).collect::<Vec<_>>())
    .bind(changes.iter().map(|c| c.status).collect::<Vec<_>>())
    .bind(changes.iter().map(|c| c.attempt).collect::<Vec<_>>())
    .bind(changes.iter().map(|c| c.next_at).collect::<Vec<_>>())
    .bind(changes.iter().map(|c| c.first_started_at).collect::<Vec<_>>())
    .bind(changes.iter().map(|c| c.status_code).collect::<Vec<_>>())
    .bind(now_ms())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// What a batch does to an endpoint's `failing_since`, the effects of its
/// attempts folded in order.
#[derive(Clone, Copy, Default)]
enum FailingChange {
    #[default]
    Keep,
    Clear,
    SetIfUnset(i64),
    Set(i64),
}

impl FailingChange {
    fn then(self, effect: &EndpointEffect, at: i64) -> Self {
        match (effect, self) {
            (EndpointEffect::Healthy, _) => FailingChange::Clear,
            (EndpointEffect::Failing, FailingChange::Keep) => FailingChange::SetIfUnset(at),
            (EndpointEffect::Failing, FailingChange::Clear) => FailingChange::Set(at),
            _ => self,
        }
    }

    fn sql(self) -> (&'static str, Option<i64>) {
        match self {
            FailingChange::Keep => ("keep", None),
            FailingChange::Clear => ("clear", None),
            FailingChange::SetIfUnset(at) => ("set_if_unset", Some(at)),
            FailingChange::Set(at) => ("set", Some(at)),
        }
    }
}

async fn apply_endpoint_changes(
    conn: &mut PgConnection,
    results: &[&AttemptResult],
) -> StoreResult<()> {
    // A BTreeMap keeps the endpoints in id order: rows are locked in that order.
    let mut changes: BTreeMap<&str, (FailingChange, Option<&str>)> = BTreeMap::new();
    for r in results {
        let Some(endpoint_id) = r.attempt.endpoint_id.as_deref() else {
            continue;
        };
        if r.endpoint_effect == EndpointEffect::None {
            continue;
        }
        let change = changes.entry(endpoint_id).or_default();
        change.0 = change.0.then(&r.endpoint_effect, ms(r.attempt.started_at));
        if let EndpointEffect::Disable(reason) = &r.endpoint_effect {
            change.1 = Some(reason);
        }
    }
    if changes.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = changes.keys().copied().collect();
    let (ops, ats): (Vec<&str>, Vec<Option<i64>>) = changes.values().map(|c| c.0.sql()).unzip();
    let reasons: Vec<Option<&str>> = changes.values().map(|c| c.1).collect();
    // Only rows that will change are locked and written: a healthy endpoint
    // staying healthy costs no write.
    let would_change = "(u.reason IS NOT NULL OR u.op = 'set' \
         OR (u.op = 'clear' AND e.failing_since IS NOT NULL) \
         OR (u.op = 'set_if_unset' AND e.failing_since IS NULL))";
    sqlx::query(&format!(
        "SELECT e.id FROM endpoints e \
         JOIN UNNEST($1::text[], $2::text[], $3::bigint[], $4::text[]) AS u(id, op, at, reason) \
         ON e.id = u.id WHERE {would_change} ORDER BY e.id FOR NO KEY UPDATE OF e"
    ))
    .bind(&ids)
    .bind(&ops)
    .bind(&ats)
    .bind(&reasons)
    .execute(&mut *conn)
    .await?;
    sqlx::query(&format!(
        "UPDATE endpoints e SET \
         failing_since = CASE u.op WHEN 'clear' THEN NULL WHEN 'set' THEN u.at \
           WHEN 'set_if_unset' THEN COALESCE(e.failing_since, u.at) ELSE e.failing_since END, \
         disabled = e.disabled OR u.reason IS NOT NULL, \
         disabled_reason = COALESCE(u.reason, e.disabled_reason), \
         updated_at = CASE WHEN u.reason IS NULL THEN e.updated_at ELSE $5 END \
         FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::text[]) AS u(id, op, at, reason) \
         WHERE e.id = u.id AND {would_change}"
    ))
    .bind(&ids)
    .bind(&ops)
    .bind(&ats)
    .bind(&reasons)
    .bind(now_ms())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(super) async fn release(db: &PgPool, ids: &[String]) -> StoreResult<()> {
    sqlx::query(
        "UPDATE deliveries SET next_attempt_at = $2, lease_until = NULL, leased_by = NULL \
         WHERE id = ANY($1) AND status = 'pending'",
    )
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
