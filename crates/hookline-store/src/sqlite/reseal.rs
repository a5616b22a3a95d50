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
