//! The delivery engine's queries on SQLite: claim, record, release, backlog
//! statistics and retention.

use hookline_core::{EventFormat, PayloadMode, Timestamp};
use rusqlite::{params, Connection, OptionalExtension};

use super::rows::{self, ms, now_ms, to_json};
use crate::encode::exchange_columns;
use crate::rules::{self, Disposition, PARK_MS};
use crate::sql::{fair_pick, FairPick, CLEAR_LEASE, FAIL, ORDER_ALLOWS};
use crate::types::*;
use crate::StoreResult;

/// Makes every leased delivery due now: at open, no other process can hold
/// a lease on this file, so leases left behind are a crashed run's.
pub(super) fn release_all_leases(c: &Connection, now: i64) -> StoreResult<()> {
    let released = c.execute(
        &format!(
            "UPDATE deliveries SET next_attempt_at = ?1, {CLEAR_LEASE} \
             WHERE status = 'pending' AND lease_until IS NOT NULL"
        ),
        [now],
    )?;
    if released > 0 {
        tracing::info!(
            released,
            "re-queued deliveries that were in flight when the last run stopped"
        );
    }
    Ok(())
}

/// Leases due deliveries, in turn over accounts ([`fair_pick`]).
pub(super) fn claim_due(c: &Connection, req: &ClaimRequest) -> StoreResult<Vec<DueDelivery>> {
    let now = ms(req.now);
    let lease = ms(req.lease_until);
    let pick = fair_pick(&FairPick {
        now: "?1",
        limit: "?3",
        endpoint_allowed: &format!(
            "(d.endpoint_id IS NULL OR d.endpoint_id NOT IN (SELECT value FROM json_each(?2))) \
             AND {ORDER_ALLOWS}"
        ),
        account_allowed: "a.account_id NOT IN (SELECT value FROM json_each(?4))",
        lateral: false,
    });
    let mut select = c.prepare_cached(&format!(
        "WITH RECURSIVE {pick} \
         SELECT d.seq, d.id, d.event_id, d.account_id, d.endpoint_id, d.url, d.attempts, \
         d.first_attempt_at, e.event_type, e.created_at, e.data, \
         ep.id, ep.disabled, ep.payload, ep.headers, ep.secret, ep.previous_secret, \
         ep.previous_secret_expires_at, ep.rate_limit_per_sec, ep.failing_since, a.signing_secret, \
         d.lease_epoch, e.format \
         FROM picked p \
         JOIN deliveries d ON d.seq = p.seq \
         JOIN events e ON e.seq = d.event_seq \
         LEFT JOIN endpoints ep ON ep.id = d.endpoint_id \
         LEFT JOIN accounts a ON d.endpoint_id IS NULL AND a.id = d.account_id \
         ORDER BY p.turn, p.due_at, p.seq LIMIT ?3"
    ))?;
    let mut lease_stmt = c.prepare_cached(
        "UPDATE deliveries SET next_attempt_at = ?2, lease_until = ?2, leased_by = ?3, \
         lease_epoch = ?4 WHERE seq = ?1",
    )?;
    // Both clear a lease left by an earlier claim whose node gave up, so a
    // re-enabled endpoint finds its parked deliveries unleased.
    let mut park_stmt = c.prepare_cached(&format!(
        "UPDATE deliveries SET next_attempt_at = ?2, {CLEAR_LEASE} WHERE seq = ?1"
    ))?;
    let mut fail_stmt = c.prepare_cached(&format!(
        "UPDATE deliveries SET {FAIL}, updated_at = ?2 WHERE seq = ?1"
    ))?;
    let mut rows = select.query(params![
        now,
        to_json(&req.skip_endpoints),
        req.limit,
        to_json(&req.skip_accounts)
    ])?;
    let mut due = Vec::new();
    while let Some(r) = rows.next()? {
        let seq: i64 = r.get(0)?;
        let endpoint_id: Option<String> = r.get(4)?;
        let endpoint_row: Option<String> = r.get(11)?;
        let mut delivery = DueDelivery {
            delivery_id: r.get(1)?,
            event_id: r.get(2)?,
            account_id: r.get(3)?,
            endpoint_id: endpoint_id.clone(),
            url: r.get(5)?,
            attempts: r.get(6)?,
            first_attempt_at: rows::opt_time(r.get(7)?),
            event_type: r.get(8)?,
            event_created_at: rows::time(r.get(9)?),
            data: r.get(10)?,
            format: EventFormat::parse(&r.get::<_, String>(22)?).unwrap_or_default(),
            payload: PayloadMode::Full,
            headers: Default::default(),
            secrets: Vec::new(),
            rate_limit_per_sec: None,
            endpoint_failing_since: None,
            lease_epoch: r.get::<_, i64>(21)? + 1,
        };
        let disabled: Option<bool> = match endpoint_row {
            Some(_) => Some(r.get(12)?),
            None => None,
        };
        match Disposition::of(endpoint_id.is_some(), disabled) {
            Disposition::Fail => {
                fail_stmt.execute(params![seq, now])?;
                continue;
            }
            Disposition::Park => {
                park_stmt.execute(params![seq, now + PARK_MS])?;
                continue;
            }
            Disposition::Send if endpoint_id.is_none() => {
                let secret: Option<String> = r.get(20)?;
                delivery.secrets = secret.into_iter().collect();
            }
            Disposition::Send => rows::send_settings(r, 13)?.apply(&mut delivery, now)?,
        }
        lease_stmt.execute(params![seq, lease, req.node_id, delivery.lease_epoch])?;
        due.push(delivery);
    }
    Ok(due)
}

/// Records attempts in order. An attempt id already stored is skipped with
/// all its consequences, so retrying a batch whose answer was lost is
/// harmless. An attempt under an outdated lease (its delivery leased again
/// since) records nothing — no attempt row, no delivery or endpoint change —
/// and is answered in [`Recorded::stale`]. The operational events the
/// recorded attempts call for go to the outbox in the same transaction.
pub(super) fn record_attempts(
    c: &Connection,
    results: &[AttemptResult],
    failing_after: u32,
) -> StoreResult<Recorded> {
    // The delivery is read first and the attempt inserted with VALUES: a
    // single-row insert needs no statement journal, an INSERT … SELECT does.
    let mut leased = c.prepare_cached(
        "SELECT event_seq, event_id, account_id, endpoint_id, manual FROM deliveries \
         WHERE id = ?1 AND lease_epoch = ?2",
    )?;
    let mut insert = c.prepare_cached(
        "INSERT INTO attempts (id, delivery_id, event_seq, event_id, account_id, endpoint_id, url, \
         attempt, started_at, duration_ms, outcome, status_code, error, response_body, manual, \
         request_headers, request_payload, response_headers) \
         VALUES (?1, ?2, ?14, ?15, ?16, ?17, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?18, ?11, ?12, ?13) \
         ON CONFLICT (id) DO NOTHING",
    )?;
    let mut update = c.prepare_cached(&format!(
        "UPDATE deliveries SET status = ?2, attempts = MAX(attempts, ?3), next_attempt_at = ?4, \
         {CLEAR_LEASE}, first_attempt_at = COALESCE(first_attempt_at, ?5), \
         last_status_code = ?6, updated_at = ?7 WHERE id = ?1 AND status = 'pending' AND lease_epoch = ?8"
    ))?;
    let mut leased_again = c.prepare_cached(
        "SELECT 1 FROM deliveries d WHERE d.id = ?1 AND d.lease_epoch <> ?2 \
         AND NOT EXISTS (SELECT 1 FROM attempts a WHERE a.id = ?3)",
    )?;
    let mut recorded = Recorded::default();
    let mut fresh = Vec::with_capacity(results.len());
    let now = now_ms();
    for result in results {
        let a = &result.attempt;
        let (request_headers, request_payload, response_headers) = exchange_columns(a);
        let delivery = leased
            .query_row(params![a.delivery_id, result.lease_epoch], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, bool>(4)?,
                ))
            })
            .optional()?;
        let inserted = match delivery {
            None => 0,
            Some((event_seq, event_id, account_id, endpoint_id, manual)) => {
                insert.execute(params![
                    a.id,
                    a.delivery_id,
                    a.url,
                    a.attempt,
                    ms(a.started_at),
                    a.duration_ms as i64,
                    a.outcome.as_str(),
                    a.status_code,
                    a.error,
                    a.response_body,
                    request_headers,
                    request_payload,
                    response_headers,
                    event_seq,
                    event_id,
                    account_id,
                    endpoint_id,
                    manual
                ])?
            }
        };
        if inserted == 0 {
            // Recorded before, its delivery gone, or leased again since.
            if leased_again.exists(params![a.delivery_id, result.lease_epoch, a.id])?
                && !recorded.stale.contains(&a.delivery_id)
            {
                recorded.stale.push(a.delivery_id.clone());
            }
            continue;
        }
        let (status, next_at) = rules::stored_next(result.next);
        update.execute(params![
            a.delivery_id,
            status,
            a.attempt,
            next_at,
            ms(a.started_at),
            a.status_code,
            now,
            result.lease_epoch
        ])?;
        if let Some(endpoint_id) = &a.endpoint_id {
            apply_endpoint_effect(c, endpoint_id, &result.endpoint_effect, ms(a.started_at))?;
        }
        fresh.push(result);
    }
    recorded.stale.sort();
    recorded.operational_events = super::outbox::write(c, &fresh, failing_after)?;
    Ok(recorded)
}

fn apply_endpoint_effect(
    c: &Connection,
    endpoint_id: &str,
    effect: &EndpointEffect,
    at: i64,
) -> StoreResult<()> {
    match effect {
        EndpointEffect::None => {}
        EndpointEffect::Healthy => {
            c.prepare_cached(
                "UPDATE endpoints SET failing_since = NULL WHERE id = ?1 AND failing_since IS NOT NULL",
            )?
            .execute([endpoint_id])?;
        }
        EndpointEffect::Failing => {
            c.prepare_cached(
                "UPDATE endpoints SET failing_since = ?2 WHERE id = ?1 AND failing_since IS NULL",
            )?
            .execute(params![endpoint_id, at])?;
        }
        EndpointEffect::Disable(reason) => {
            c.prepare_cached(
                "UPDATE endpoints SET disabled = 1, disabled_reason = ?2, updated_at = ?3 WHERE id = ?1",
            )?
            .execute(params![endpoint_id, reason, now_ms()])?;
        }
    }
    Ok(())
}

pub(super) fn release(c: &Connection, leases: &[Lease]) -> StoreResult<()> {
    let mut stmt = c.prepare_cached(&format!(
        "UPDATE deliveries SET next_attempt_at = ?2, {CLEAR_LEASE} \
         WHERE id = ?1 AND status = 'pending' AND lease_epoch = ?3"
    ))?;
    let now = now_ms();
    for lease in leases {
        stmt.execute(params![lease.delivery_id, now, lease.epoch])?;
    }
    Ok(())
}

pub(super) fn next_due_at(c: &Connection) -> StoreResult<Option<Timestamp>> {
    let at: Option<i64> = c
        .prepare_cached("SELECT MIN(next_attempt_at) FROM deliveries WHERE status = 'pending'")?
        .query_row([], |r| r.get(0))?;
    Ok(rows::opt_time(at))
}

pub(super) fn pending_stats(c: &Connection) -> StoreResult<PendingStats> {
    let (pending, oldest): (i64, Option<i64>) = c
        .prepare_cached(
            "SELECT COUNT(*), MIN(created_at) FROM deliveries WHERE status = 'pending'",
        )?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(PendingStats {
        pending: pending as u64,
        oldest_created_at: rows::opt_time(oldest),
    })
}

pub(super) fn purge_events_before(
    c: &Connection,
    before: Timestamp,
    batch: u32,
) -> StoreResult<u64> {
    let purged: Vec<(i64, String, String, String)> = c
        .prepare_cached(
            "SELECT e.seq, e.account_id, e.id, e.data FROM events e WHERE e.created_at < ?1 AND NOT EXISTS \
             (SELECT 1 FROM deliveries d WHERE d.event_seq = e.seq AND d.status = 'pending') \
             ORDER BY e.created_at LIMIT ?2",
        )?
        .query_map(params![ms(before), batch], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for (seq, account, id, data) in &purged {
        // Each search row by its key, from the rule that made it.
        let mut unsearchable = c.prepare_cached(
            "DELETE FROM event_search WHERE account_id = ?1 AND token = ?2 AND event_seq = ?3",
        )?;
        for token in crate::search::tokens(id, data) {
            unsearchable.execute(params![account, token, seq])?;
        }
        c.prepare_cached("DELETE FROM attempts WHERE event_seq = ?1")?
            .execute([seq])?;
        c.prepare_cached("DELETE FROM deliveries WHERE event_seq = ?1")?
            .execute([seq])?;
        c.prepare_cached("DELETE FROM events WHERE seq = ?1")?
            .execute([seq])?;
    }
    Ok(purged.len() as u64)
}
