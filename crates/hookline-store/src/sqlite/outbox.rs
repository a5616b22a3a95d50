//! The operational outbox on SQLite: the events a batch of attempts calls
//! for, written by the transaction that records them (the rule is
//! `crate::operational`'s), read and deleted by the server's drainer.

use std::collections::BTreeMap;

use hookline_core::operational::PLATFORM_ACCOUNT_ID;
use hookline_core::Attempt;
use rusqlite::{params, Connection};

use super::rows::{self, ms, time, ATTEMPT_COLUMNS};
use crate::operational;
use crate::types::{AttemptResult, OutboxEvent};
use crate::StoreResult;

/// Writes the operational events `fresh` (the attempts just stored, in
/// order) call for; answers how many. Nothing is written while the
/// platform account does not exist (no operational endpoint, nobody to tell).
pub(super) fn write(
    c: &Connection,
    fresh: &[&AttemptResult],
    failing_after: u32,
) -> StoreResult<usize> {
    let plan = operational::plan(fresh);
    if plan.is_empty() || !platform_exists(c)? {
        return Ok(0);
    }
    let mut latest = c.prepare_cached(&format!(
        "SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE endpoint_id = ?1 ORDER BY seq DESC LIMIT ?2"
    ))?;
    let mut histories: BTreeMap<String, Vec<Attempt>> = BTreeMap::new();
    for (endpoint, limit) in plan.histories_needed(failing_after) {
        let recent = latest
            .query_map(params![endpoint, limit], rows::attempt)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        histories.insert(endpoint.to_string(), recent);
    }
    let events = plan.events(&histories, failing_after);
    let mut insert = c.prepare_cached(
        "INSERT INTO operational_outbox (event_id, event_type, data, created_at) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for e in &events {
        insert.execute(params![e.id, e.event_type, e.data, ms(e.created_at)])?;
    }
    Ok(events.len())
}

fn platform_exists(c: &Connection) -> StoreResult<bool> {
    Ok(c.prepare_cached("SELECT 1 FROM accounts WHERE id = ?1")?
        .exists([PLATFORM_ACCOUNT_ID])?)
}

pub(super) fn list(c: &Connection, limit: u32) -> StoreResult<Vec<OutboxEvent>> {
    let mut stmt = c.prepare_cached(
        "SELECT seq, event_id, event_type, data, created_at FROM operational_outbox \
         ORDER BY seq LIMIT ?1",
    )?;
    let found = stmt
        .query_map([limit], |r| {
            Ok(OutboxEvent {
                seq: r.get(0)?,
                event: operational::event(r.get(1)?, r.get(2)?, r.get(3)?, time(r.get(4)?)),
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(found)
}

pub(super) fn delete(c: &Connection, seqs: &[i64]) -> StoreResult<()> {
    let mut stmt = c.prepare_cached("DELETE FROM operational_outbox WHERE seq = ?1")?;
    for seq in seqs {
        stmt.execute([seq])?;
    }
    Ok(())
}
