//! Node registration, heartbeats and dead-node release on PostgreSQL: how a
//! fleet notices that a node died and hands its deliveries to the others
//! within seconds instead of waiting for their leases to run out.
//!
//! Liveness is judged by the database's clock (`clock_timestamp()`), so the
//! nodes' clocks need not agree. A node's row carries the epoch of its
//! current run; declaring a node dead deletes its row, so the run learns it
//! at its next heartbeat, and a restarted node replaces its predecessor's
//! row and takes back its deliveries at once.

use sqlx::{PgConnection, PgPool, Row};

use super::rows::now_ms;
use crate::types::*;
use crate::StoreResult;

/// The database's clock in epoch milliseconds.
const DB_NOW_MS: &str = "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT";

pub(super) async fn register_node(db: PgPool, node_id: String) -> StoreResult<NodeRegistration> {
    let node_id = node_id.as_str();
    let mut tx = db.begin().await?;
    let previous = sqlx::query(&format!(
        "DELETE FROM nodes WHERE id = $1 RETURNING {DB_NOW_MS} - heartbeat_at AS silent_ms"
    ))
    .bind(node_id)
    .fetch_optional(&mut *tx)
    .await?;
    let predecessor_silent_ms = previous
        .map(|r| r.try_get::<i64, _>("silent_ms"))
        .transpose()?;
    let epoch: i64 = sqlx::query_scalar(&format!(
        "INSERT INTO nodes (id, started_at, heartbeat_at) VALUES ($1, {DB_NOW_MS}, {DB_NOW_MS}) \
         RETURNING epoch"
    ))
    .bind(node_id)
    .fetch_one(&mut *tx)
    .await?;
    let released = release_held_by(&mut tx, node_id).await?;
    tx.commit().await?;
    Ok(NodeRegistration {
        epoch,
        released,
        predecessor_silent_ms,
    })
}

pub(super) async fn heartbeat(db: &PgPool, node_id: &str, epoch: i64) -> StoreResult<Heartbeat> {
    let row = sqlx::query(&format!(
        "WITH beat AS (UPDATE nodes SET heartbeat_at = {DB_NOW_MS} WHERE epoch = $1 AND id = $2 \
         RETURNING 1) \
         SELECT EXISTS (SELECT 1 FROM beat) AS alive, \
                EXISTS (SELECT 1 FROM nodes WHERE id = $2) AS registered"
    ))
    .bind(epoch)
    .bind(node_id)
    .fetch_one(db)
    .await?;
    Ok(
        match (row.try_get::<bool, _>("alive")?, row.try_get("registered")?) {
            (true, _) => Heartbeat::Alive,
            (false, true) => Heartbeat::Superseded,
            (false, false) => Heartbeat::Dead,
        },
    )
}

pub(super) async fn leave_fleet(db: PgPool, node_id: String, epoch: i64) -> StoreResult<u64> {
    let mut tx = db.begin().await?;
    let left = sqlx::query("DELETE FROM nodes WHERE id = $1 AND epoch = $2")
        .bind(&node_id)
        .bind(epoch)
        .execute(&mut *tx)
        .await?;
    let released = if left.rows_affected() == 0 {
        0
    } else {
        release_held_by(&mut tx, &node_id).await?
    };
    tx.commit().await?;
    Ok(released)
}

pub(super) async fn release_dead_nodes(
    db: PgPool,
    dead_after_ms: i64,
) -> StoreResult<Vec<DeadNode>> {
    // The common case, nobody dead, is one statement on a table of a few rows.
    let mut tx = db.begin().await?;
    let dead = sqlx::query(&format!(
        "DELETE FROM nodes WHERE heartbeat_at < {DB_NOW_MS} - $1 \
         RETURNING id, {DB_NOW_MS} - heartbeat_at AS silent_ms"
    ))
    .bind(dead_after_ms)
    .fetch_all(&mut *tx)
    .await?;
    let mut found = Vec::with_capacity(dead.len());
    for r in dead {
        let node_id: String = r.try_get("id")?;
        found.push(DeadNode {
            released: release_held_by(&mut tx, &node_id).await?,
            silent_ms: r.try_get("silent_ms")?,
            node_id,
        });
    }
    tx.commit().await?;
    Ok(found)
}

/// Makes the deliveries leased to `node_id` due now.
async fn release_held_by(conn: &mut PgConnection, node_id: &str) -> StoreResult<u64> {
    let done = sqlx::query(
        "UPDATE deliveries SET next_attempt_at = $2, lease_until = NULL, leased_by = NULL \
         WHERE status = 'pending' AND leased_by = $1",
    )
    .bind(node_id)
    .bind(now_ms())
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}
