//! Re-sealing one batch of a table's secrets on PostgreSQL (which columns
//! and how is [`crate::stored`]'s rule). The batch's rows are locked
//! (`FOR UPDATE`) for its short transaction, so a node writing one of them
//! at the same time waits instead of being overwritten.

use sqlx::{PgPool, Row};

use crate::stored::{ResealBatch, SealedTable};
use crate::{Sealer, StoreResult};

pub(super) async fn reseal(
    db: &PgPool,
    sealer: &Sealer,
    table: SealedTable,
    after_seq: i64,
    limit: u32,
) -> StoreResult<ResealBatch> {
    if table == SealedTable::IdempotencyKeys {
        return reseal_answers(db, sealer, limit).await;
    }
    let columns = table.columns();
    let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
    let mut tx = db.begin().await?;
    let rows = sqlx::query(&format!(
        "SELECT seq, {} FROM {} WHERE seq > $1 AND {} ORDER BY seq LIMIT $2 FOR UPDATE",
        names.join(", "),
        table.name(),
        table.worth_reading()
    ))
    .bind(after_seq)
    .bind(i64::from(limit))
    .fetch_all(&mut *tx)
    .await?;
    let assignments: Vec<String> = names
        .iter()
        .enumerate()
        .map(|(i, name)| format!("{name} = ${}", i + 2))
        .collect();
    let update = format!(
        "UPDATE {} SET {} WHERE seq = $1",
        table.name(),
        assignments.join(", ")
    );
    let mut batch = ResealBatch {
        scanned: rows.len() as u64,
        resealed: 0,
        next_after: None,
    };
    for row in &rows {
        let seq: i64 = row.try_get("seq")?;
        if rows.len() as u64 == u64::from(limit) {
            batch.next_after = Some(seq);
        }
        let mut changed = false;
        let mut new_values = Vec::with_capacity(columns.len());
        for (name, form) in columns {
            let value: Option<String> = row.try_get(*name)?;
            let new = match &value {
                Some(stored) => sealer.reseal(*form, stored)?,
                None => None,
            };
            changed |= new.is_some();
            new_values.push(new.or(value));
        }
        if changed {
            let mut query = sqlx::query(&update).bind(seq);
            for value in new_values {
                query = query.bind(value);
            }
            query.execute(&mut *tx).await?;
            batch.resealed += 1;
        }
    }
    tx.commit().await?;
    Ok(batch)
}

/// Remembered answers have no `seq`: each batch takes rows whose body is not
/// sealed with the sealing key yet, so the next batch starts where it ended.
async fn reseal_answers(db: &PgPool, sealer: &Sealer, limit: u32) -> StoreResult<ResealBatch> {
    let Some(current) = sealer.current_pattern() else {
        return Ok(ResealBatch::default());
    };
    let mut tx = db.begin().await?;
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT scope, key, body FROM idempotency_keys WHERE body NOT LIKE $1 LIMIT $2 \
         FOR UPDATE SKIP LOCKED",
    )
    .bind(&current)
    .bind(i64::from(limit))
    .fetch_all(&mut *tx)
    .await?;
    for (scope, key, body) in &rows {
        sqlx::query("UPDATE idempotency_keys SET body = $3 WHERE scope = $1 AND key = $2")
            .bind(scope)
            .bind(key)
            .bind(sealer.seal(&sealer.open(body)?))
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    let n = rows.len() as u64;
    Ok(ResealBatch {
        scanned: n,
        resealed: n,
        next_after: (n == u64::from(limit)).then_some(0),
    })
}
