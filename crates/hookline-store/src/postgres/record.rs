//! Recording finished attempts on PostgreSQL: a batch of attempt rows and
//! their consequences (delivery status and next retry, endpoint health),
//! each batch's changes folded in Rust first so every row is written once.
//!
//! The common batch — attempts that change no endpoint's health — is one
//! statement (one round trip, its own commit): lock the deliveries, insert
//! the attempts made under their current lease, update those deliveries,
//! answer which were stale. A batch that changes endpoints wraps the same
//! statement in a transaction that locks those endpoints first (in id
//! order, the order every other writer follows) and updates them after.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use sqlx::{PgConnection, PgPool, Postgres, Row};

use super::rows::{ms, now_ms};
use crate::encode::exchange_columns;
use crate::sql::CLEAR_LEASE;
use crate::types::*;
use crate::StoreResult;
use crate::{operational, rules};

/// Records a batch of attempts. An attempt id already stored is skipped
/// with all its consequences, so retrying a batch whose commit answer was
/// lost is harmless. An attempt under an outdated lease (another node
/// leased its delivery since) records nothing at all — no attempt row, no
/// delivery or endpoint change — and is answered in [`Recorded::stale`].
/// The operational events the recorded attempts call for are written to
/// the outbox in the same transaction (so a batch that may call for some
/// takes the transaction path).
pub(super) async fn record_attempts(
    db: &PgPool,
    results: &[AttemptResult],
    failing_after: u32,
) -> StoreResult<Recorded> {
    if results.is_empty() {
        return Ok(Recorded::default());
    }
    let mut seen = HashSet::new();
    let results: Vec<&AttemptResult> = results
        .iter()
        .filter(|r| seen.insert(r.attempt.id.as_str()))
        .collect();
    let endpoints: BTreeSet<&str> = results
        .iter()
        .filter(|r| r.endpoint_effect != EndpointEffect::None)
        .filter_map(|r| r.attempt.endpoint_id.as_deref())
        .collect();
    if endpoints.is_empty() && operational::plan(&results).is_empty() {
        let (_, stale) = record_statement(db, &results).await?;
        return Ok(Recorded {
            stale,
            ..Recorded::default()
        });
    }
    let mut tx = db.begin().await?;
    lock_endpoints(&mut tx, &endpoints).await?;
    let (inserted, stale) = record_statement(&mut *tx, &results).await?;
    let fresh: Vec<&AttemptResult> = results
        .into_iter()
        .filter(|r| inserted.contains(&r.attempt.id))
        .collect();
    apply_endpoint_changes(&mut tx, &fresh).await?;
    let operational_events = super::outbox::write(&mut tx, &fresh, failing_after).await?;
    tx.commit().await?;
    Ok(Recorded {
        stale,
        operational_events,
    })
}

/// Locks the endpoints a batch may change, in id order, before any
/// delivery: the order every other writer follows, so none deadlocks.
async fn lock_endpoints(conn: &mut PgConnection, ids: &BTreeSet<&str>) -> StoreResult<()> {
    sqlx::query("SELECT id FROM endpoints WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE")
        .bind(ids.iter().copied().collect::<Vec<_>>())
        .execute(conn)
        .await?;
    Ok(())
}

/// What a batch does to one delivery: the results under one lease applied
/// in order, each only while the delivery is still pending under that lease.
struct DeliveryChange<'a> {
    id: &'a str,
    lease_epoch: i64,
    status: &'static str,
    attempt: i64,
    next_at: Option<i64>,
    first_started_at: i64,
    status_code: Option<i64>,
    /// The latest attempt folded in: the change applies if it was stored
    /// now (a batch is stored whole or not at all, so this stands for all).
    attempt_id: &'a str,
}

/// The deliveries' changes, folded per delivery and lease.
fn delivery_changes<'a>(results: &[&'a AttemptResult]) -> Vec<DeliveryChange<'a>> {
    let mut changes: Vec<DeliveryChange<'a>> = Vec::with_capacity(results.len());
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
                change.attempt_id = &a.id;
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
                    attempt_id: &a.id,
                });
            }
        }
    }
    changes
}

/// The batch's attempts and delivery changes as one statement: the
/// deliveries are locked (so their lease epoch is the latest, not the
/// statement's snapshot), attempts made under the current lease are
/// inserted (in the batch's order, so their `seq`s follow it and "newest
/// first" means what it says), their deliveries updated. Answers the attempt ids inserted
/// and the deliveries whose lease was outdated, in id order.
async fn record_statement<'c, E>(
    conn: E,
    results: &[&AttemptResult],
) -> StoreResult<(HashSet<String>, Vec<String>)>
where
    E: sqlx::Executor<'c, Database = Postgres>,
{
    let attempts = || results.iter().map(|r| &r.attempt);
    let changes = delivery_changes(results);
    let mut request_headers = Vec::with_capacity(results.len());
    let mut payloads = Vec::with_capacity(results.len());
    let mut response_headers = Vec::with_capacity(results.len());
    for a in attempts() {
        let (request, payload, response) = exchange_columns(a);
        request_headers.push(request);
        payloads.push(payload);
        response_headers.push(response);
    }
    let rows = sqlx::query(&format!(
        "WITH u AS (SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bigint[], \
             $5::bigint[], $6::bigint[], $7::text[], $8::bigint[], $9::text[], $10::text[], \
             $11::bigint[], $21::text[], $22::text[], $23::text[]) WITH ORDINALITY \
           AS u(id, delivery_id, url, attempt, started_at, duration_ms, outcome, status_code, \
                error, response_body, lease_epoch, request_headers, request_payload, \
                response_headers, ord)), \
         held AS (SELECT d.id, d.event_seq, d.event_id, d.account_id, d.endpoint_id, d.lease_epoch, \
             d.manual \
           FROM deliveries d WHERE d.id IN (SELECT delivery_id FROM u) ORDER BY d.id FOR UPDATE), \
         ins AS (INSERT INTO attempts (id, delivery_id, event_seq, event_id, account_id, \
             endpoint_id, url, attempt, started_at, duration_ms, outcome, status_code, error, \
             response_body, manual, request_headers, request_payload, response_headers) \
           SELECT u.id, u.delivery_id, h.event_seq, h.event_id, h.account_id, h.endpoint_id, u.url, \
             u.attempt, u.started_at, u.duration_ms, u.outcome, u.status_code, u.error, \
             u.response_body, h.manual, u.request_headers, u.request_payload, u.response_headers \
           FROM u JOIN held h ON h.id = u.delivery_id AND h.lease_epoch = u.lease_epoch \
           ORDER BY u.ord \
           ON CONFLICT (id) DO NOTHING RETURNING id), \
         upd AS (UPDATE deliveries d SET status = c.status, \
             attempts = GREATEST(d.attempts, c.attempt), next_attempt_at = c.next_at, \
             {CLEAR_LEASE}, first_attempt_at = COALESCE(d.first_attempt_at, c.started_at), \
             last_status_code = c.status_code, updated_at = $20 \
           FROM UNNEST($12::text[], $13::text[], $14::bigint[], $15::bigint[], $16::bigint[], \
                       $17::bigint[], $18::bigint[], $19::text[]) \
             AS c(id, status, attempt, next_at, started_at, status_code, lease_epoch, attempt_id) \
           WHERE d.id = c.id AND d.status = 'pending' AND d.lease_epoch = c.lease_epoch \
             AND c.attempt_id IN (SELECT id FROM ins) \
           RETURNING d.id) \
         SELECT u.id, u.delivery_id, u.id IN (SELECT id FROM ins) AS inserted, \
           (h.lease_epoch <> u.lease_epoch \
             AND NOT EXISTS (SELECT 1 FROM attempts a WHERE a.id = u.id)) AS stale \
         FROM u JOIN held h ON h.id = u.delivery_id"
    ))
    .bind(attempts().map(|a| a.id.as_str()).collect::<Vec<_>>())
    .bind(attempts().map(|a| a.delivery_id.as_str()).collect::<Vec<_>>())
    .bind(attempts().map(|a| a.url.as_str()).collect::<Vec<_>>())
    .bind(attempts().map(|a| i64::from(a.attempt)).collect::<Vec<_>>())
    .bind(attempts().map(|a| ms(a.started_at)).collect::<Vec<_>>())
    .bind(
        attempts()
            .map(|a| i64::try_from(a.duration_ms).unwrap_or(i64::MAX))
            .collect::<Vec<_>>(),
    )
    .bind(attempts().map(|a| a.outcome.as_str()).collect::<Vec<_>>())
    .bind(
        attempts()
            .map(|a| a.status_code.map(i64::from))
            .collect::<Vec<_>>(),
    )
    .bind(attempts().map(|a| a.error.as_deref()).collect::<Vec<_>>())
    .bind(attempts().map(|a| a.response_body.as_str()).collect::<Vec<_>>())
    .bind(results.iter().map(|r| r.lease_epoch).collect::<Vec<_>>())
    .bind(changes.iter().map(|c| c.id).collect::<Vec<_>>())
    .bind(changes.iter().map(|c| c.status).collect::<Vec<_>>())
    .bind(changes.iter().map(|c| c.attempt).collect::<Vec<_>>())
    .bind(changes.iter().map(|c| c.next_at).collect::<Vec<_>>())
    .bind(changes.iter().map(|c| c.first_started_at).collect::<Vec<_>>())
    .bind(changes.iter().map(|c| c.status_code).collect::<Vec<_>>())
    .bind(changes.iter().map(|c| c.lease_epoch).collect::<Vec<_>>())
    .bind(changes.iter().map(|c| c.attempt_id).collect::<Vec<_>>())
    .bind(now_ms())
    .bind(&request_headers)
    .bind(&payloads)
    .bind(&response_headers)
    .fetch_all(conn)
    .await?;
    let mut inserted = HashSet::new();
    let mut stale = BTreeSet::new();
    for row in rows {
        if row.try_get("inserted")? {
            inserted.insert(row.try_get("id")?);
        } else if row.try_get("stale")? {
            stale.insert(row.try_get::<String, _>("delivery_id")?);
        }
    }
    Ok((inserted, stale.into_iter().collect()))
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
    // In id order, as they were locked.
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
    // Only rows that will change are written: a healthy endpoint staying
    // healthy costs no write. They were locked first (`lock_endpoints`).
    let would_change = "(u.reason IS NOT NULL OR u.op = 'set' \
         OR (u.op = 'clear' AND e.failing_since IS NOT NULL) \
         OR (u.op = 'set_if_unset' AND e.failing_since IS NULL))";
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
