//! Node registration, heartbeats and dead-node release on SQLite.
//!
//! The embedded store serves one node (the database file is locked), so no
//! other node ever declares it dead and leases left by a crash are released
//! at open anyway; these are the PostgreSQL rules kept alike, so that the
//! engine runs one way on both stores and the conformance suite holds both
//! to them.

use rusqlite::{params, Connection, OptionalExtension};

use super::rows::now_ms;
use crate::types::*;
use crate::StoreResult;

pub(super) fn register_node(c: &Connection, node_id: &str) -> StoreResult<NodeRegistration> {
    let now = now_ms();
    let previous: Option<i64> = c
        .prepare_cached("SELECT heartbeat_at FROM nodes WHERE id = ?1")?
        .query_row([node_id], |r| r.get(0))
        .optional()?;
    c.prepare_cached("DELETE FROM nodes WHERE id = ?1")?
        .execute([node_id])?;
    c.prepare_cached("INSERT INTO nodes (id, started_at, heartbeat_at) VALUES (?1, ?2, ?2)")?
        .execute(params![node_id, now])?;
    let epoch = c.last_insert_rowid();
    let released = release_held_by(c, node_id, now)?;
    Ok(NodeRegistration {
        epoch,
        released,
        predecessor_silent_ms: previous.map(|at| now - at),
    })
}

pub(super) fn heartbeat(c: &Connection, node_id: &str, epoch: i64) -> StoreResult<Heartbeat> {
    let beat = c
        .prepare_cached("UPDATE nodes SET heartbeat_at = ?3 WHERE epoch = ?1 AND id = ?2")?
        .execute(params![epoch, node_id, now_ms()])?;
    if beat == 1 {
        return Ok(Heartbeat::Alive);
    }
    let replaced = c
        .prepare_cached("SELECT 1 FROM nodes WHERE id = ?1")?
        .exists([node_id])?;
    Ok(if replaced {
        Heartbeat::Superseded
    } else {
        Heartbeat::Dead
    })
}

pub(super) fn leave_fleet(c: &Connection, node_id: &str, epoch: i64) -> StoreResult<u64> {
    let left = c
        .prepare_cached("DELETE FROM nodes WHERE id = ?1 AND epoch = ?2")?
        .execute(params![node_id, epoch])?;
    if left == 0 {
        return Ok(0);
    }
    release_held_by(c, node_id, now_ms())
}

pub(super) fn release_dead_nodes(c: &Connection, dead_after_ms: i64) -> StoreResult<Vec<DeadNode>> {
    let now = now_ms();
    let dead: Vec<(String, i64)> = c
        .prepare_cached("DELETE FROM nodes WHERE heartbeat_at < ?1 RETURNING id, heartbeat_at")?
        .query_map([now.saturating_sub(dead_after_ms)], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    dead.into_iter()
        .map(|(node_id, heartbeat_at)| {
            Ok(DeadNode {
                released: release_held_by(c, &node_id, now)?,
                silent_ms: now - heartbeat_at,
                node_id,
            })
        })
        .collect()
}

/// Makes the deliveries leased to `node_id` due at `now`.
fn release_held_by(c: &Connection, node_id: &str, now: i64) -> StoreResult<u64> {
    let released = c
        .prepare_cached(
            "UPDATE deliveries SET next_attempt_at = ?2, lease_until = NULL, leased_by = NULL \
             WHERE status = 'pending' AND leased_by = ?1",
        )?
        .execute(params![node_id, now])?;
    Ok(released as u64)
}
