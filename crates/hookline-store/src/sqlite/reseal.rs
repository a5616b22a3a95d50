//! Re-sealing one batch of a table's secrets on SQLite (which columns and
//! how is [`crate::stored`]'s rule). It runs as one writer job, so the rows
//! it reads cannot change before it writes them.

use rusqlite::types::Value;
use rusqlite::{params_from_iter, Connection};

use crate::stored::{ResealBatch, SealedTable};
use crate::{Sealer, StoreResult};

pub(super) fn reseal(
    c: &Connection,
    sealer: &Sealer,
    table: SealedTable,
    after_seq: i64,
    limit: u32,
) -> StoreResult<ResealBatch> {
    if table == SealedTable::IdempotencyKeys {
        return reseal_answers(c, sealer, limit);
    }
    let columns = table.columns();
    let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
    let mut select = c.prepare_cached(&format!(
        "SELECT seq, {} FROM {} WHERE seq > ?1 AND {} ORDER BY seq LIMIT ?2",
        names.join(", "),
        table.name(),
        table.worth_reading()
    ))?;
    let assignments: Vec<String> = names
        .iter()
        .enumerate()
        .map(|(i, name)| format!("{name} = ?{}", i + 2))
        .collect();
    let mut update = c.prepare_cached(&format!(
        "UPDATE {} SET {} WHERE seq = ?1",
        table.name(),
        assignments.join(", ")
    ))?;
    let rows = select
        .query_map(rusqlite::params![after_seq, limit], |r| {
            let seq: i64 = r.get(0)?;
            let values = (0..names.len())
                .map(|i| r.get::<_, Option<String>>(i + 1))
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok((seq, values))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut batch = ResealBatch {
        scanned: rows.len() as u64,
        resealed: 0,
        next_after: (rows.len() as u64 == u64::from(limit))
            .then(|| rows.last().map(|(seq, _)| *seq))
            .flatten(),
    };
    for (seq, values) in rows {
        let mut changed = false;
        let mut new_values = Vec::with_capacity(values.len());
        for ((_, form), value) in columns.iter().zip(values) {
            let new = match &value {
                Some(stored) => sealer.reseal(*form, stored)?,
                None => None,
            };
            changed |= new.is_some();
            new_values.push(new.or(value));
        }
        if changed {
            let params = std::iter::once(Value::Integer(seq)).chain(
                new_values
                    .into_iter()
                    .map(|v| v.map_or(Value::Null, Value::Text)),
            );
            update.execute(params_from_iter(params))?;
            batch.resealed += 1;
        }
    }
    Ok(batch)
}

/// Remembered answers have no `seq`: each batch takes rows whose body is not
/// sealed with the sealing key yet, so the next batch starts where it ended.
fn reseal_answers(c: &Connection, sealer: &Sealer, limit: u32) -> StoreResult<ResealBatch> {
    let Some(current) = sealer.current_pattern() else {
        return Ok(ResealBatch::default());
    };
    let rows = c
        .prepare_cached(
            "SELECT scope, key, body FROM idempotency_keys WHERE body NOT LIKE ?1 LIMIT ?2",
        )?
        .query_map(rusqlite::params![current, limit], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut update =
        c.prepare_cached("UPDATE idempotency_keys SET body = ?3 WHERE scope = ?1 AND key = ?2")?;
    for (scope, key, body) in &rows {
        update.execute(rusqlite::params![
            scope,
            key,
            sealer.seal(&sealer.open(body)?)
        ])?;
    }
    let n = rows.len() as u64;
    Ok(ResealBatch {
        scanned: n,
        resealed: n,
        next_after: (n == u64::from(limit)).then_some(0),
    })
}
