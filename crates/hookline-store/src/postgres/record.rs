//! Recording finished attempts on PostgreSQL: a batch of attempt rows and
//! their consequences (delivery status and next retry, endpoint health) in
//! one transaction of multi-row statements, each batch's changes folded in
//! Rust first so every row is written once.

use std::collections::{BTreeMap, HashMap, HashSet};

use hookline_core::Attempt;
use sqlx::{PgConnection, PgPool};

use super::rows::{ms, now_ms};
use crate::rules;
use crate::sql::CLEAR_LEASE;
use crate::types::*;
use crate::StoreResult;

/// Records a batch of attempts in one transaction. An attempt id already
/// stored is skipped with all its consequences, so retrying a batch whose
/// commit answer was lost is harmless. An attempt under an outdated lease is
/// stored, and its endpoint's health follows it (the endpoint did answer
/// so), but its delivery is left to the lease's current holder. Locks go
/// endpoints first (in id order), then deliveries, the order every other
/// writer follows.
pub(super) async fn record_attempts(
    db: &PgPool,
    results: &[AttemptResult],
) -> StoreResult<Recorded> {
    if results.is_empty() {
        return Ok(Recorded::default());
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
    let stale = apply_delivery_changes(&mut tx, &fresh).await?;
    tx.commit().await?;
    Ok(Recorded { stale })
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
         attempt, started_at, duration_ms, outcome, status_code, error, response_body, manual) \
         SELECT u.id, u.delivery_id, d.event_seq, d.event_id, d.account_id, d.endpoint_id, u.url, \
         u.attempt, u.started_at, u.duration_ms, u.outcome, u.status_code, u.error, u.response_body, \
         d.manual \
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
/// only while the delivery is still pending under the attempts' lease (as
/// one statement per batch).
struct DeliveryChange<'a> {
    id: &'a str,
    lease_epoch: i64,
    status: &'static str,
    attempt: i64,
    next_at: Option<i64>,
    first_started_at: i64,
    status_code: Option<i64>,
}

/// Applies the batch to its deliveries; answers those left alone because
/// their lease is no longer the attempts'.
async fn apply_delivery_changes(
    conn: &mut PgConnection,
    results: &[&AttemptResult],
) -> StoreResult<Vec<String>> {
    let mut changes: Vec<DeliveryChange<'_>> = Vec::with_capacity(results.len());
    let mut index: HashMap<(&str, i64), usize> = HashMap::new();
    for r in results {
        let a = &r.attempt;
        let (status, next_at) = rules::stored_next(r.next);
        match index.get(&(a.delivery_id.as_str(), r.lease_epoch)) {
            Some(&i) if changes[i].status != "pending" => {}
            Some(&i) => {
                let change = &mut changes[i];
                change.status = status;
                change.attempt = change.attempt.max(i64::from(a.attempt));
                change.next_at = next_at;
                change.status_code = a.status_code.map(i64::from);
            }
            None => {
                index.insert((&a.delivery_id, r.lease_epoch), changes.len());
                changes.push(DeliveryChange {
                    id: &a.delivery_id,
                    lease_epoch: r.lease_epoch,
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
        return Ok(Vec::new());
    }
    let updated: Vec<String> = sqlx::query_scalar(&format!(
        "UPDATE deliveries d SET status = u.status, attempts = GREATEST(d.attempts, u.attempt), \
         next_attempt_at = u.next_at, {CLEAR_LEASE}, \
         first_attempt_at = COALESCE(d.first_attempt_at, u.started_at), \
         last_status_code = u.status_code, updated_at = $7 \
         FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], \
                     $8::bigint[]) \
              AS u(id, status, attempt, next_at, started_at, status_code, lease_epoch) \
         WHERE d.id = u.id AND d.status = 'pending' AND d.lease_epoch = u.lease_epoch \
         RETURNING d.id"
    ))
    .bind(changes.iter().map(|c| c.id).collect::<Vec<_>>())
    .bind(changes.iter().map(|c| c.status).collect::<Vec<_>>())
    .bind(changes.iter().map(|c| c.attempt).collect::<Vec<_>>())
    .bind(changes.iter().map(|c| c.next_at).collect::<Vec<_>>())
    .bind(changes.iter().map(|c| c.first_started_at).collect::<Vec<_>>())
    .bind(changes.iter().map(|c| c.status_code).collect::<Vec<_>>())
    .bind(now_ms())
    .bind(changes.iter().map(|c| c.lease_epoch).collect::<Vec<_>>())
    .fetch_all(&mut *conn)
    .await?;
    let updated: HashSet<&str> = updated.iter().map(String::as_str).collect();
    let missed: Vec<&str> = changes
        .iter()
        .map(|c| c.id)
        .filter(|id| !updated.contains(id))
        .collect();
    if missed.is_empty() {
        return Ok(Vec::new());
    }
    // Those still pending were leased again since: stale. The others were
    // finished otherwise (their endpoint deleted).
    let stale = sqlx::query_scalar(
        "SELECT id FROM deliveries WHERE id = ANY($1) AND status = 'pending' ORDER BY id",
    )
    .bind(&missed)
    .fetch_all(&mut *conn)
    .await?;
    Ok(stale)
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
