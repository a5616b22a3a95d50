//! Dashboard sessions, portal links, API key deletion and account branding
//! on SQLite. The liveness rule is shared with PostgreSQL (`crate::portal`).

use hookline_core::Timestamp;
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::rows::{ms, time};
use crate::portal::{kind, SESSION_COLUMNS, SESSION_OWNER_EXISTS};
use crate::types::{Branding, DashboardSession, SessionKind};
use crate::{StoreError, StoreResult};

fn session(r: &Row<'_>) -> rusqlite::Result<DashboardSession> {
    Ok(DashboardSession {
        id_hash: r.get(0)?,
        kind: kind(&r.get::<_, String>(1)?),
        account_id: r.get(2)?,
        api_key_hash: r.get(3)?,
        read_only: r.get(4)?,
        portal: r.get(5)?,
        return_url: r.get(6)?,
        created_at: time(r.get(7)?),
        expires_at: time(r.get(8)?),
    })
}

pub(super) fn create_session(c: &Connection, s: &DashboardSession) -> StoreResult<()> {
    if let Some(account) = &s.account_id {
        super::tenant::get_account(c, account)?;
    }
    c.prepare_cached(
        "INSERT INTO dashboard_sessions (id_hash, kind, account_id, api_key_hash, read_only, \
         portal, return_url, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        s.id_hash,
        s.kind.as_str(),
        s.account_id,
        s.api_key_hash,
        s.read_only,
        s.portal,
        s.return_url,
        ms(s.created_at),
        ms(s.expires_at)
    ])?;
    Ok(())
}

pub(super) fn live_session(
    c: &Connection,
    id_hash: &str,
    now: Timestamp,
) -> StoreResult<Option<DashboardSession>> {
    let sql = format!(
        "SELECT {SESSION_COLUMNS} FROM dashboard_sessions WHERE id_hash = ?1 AND kind = 'session' \
         AND expires_at > ?2 AND {SESSION_OWNER_EXISTS}"
    );
    Ok(c.prepare_cached(&sql)?
        .query_row(params![id_hash, ms(now)], session)
        .optional()?)
}

pub(super) fn redeem_link(
    c: &Connection,
    link_hash: &str,
    session_hash: &str,
    now: Timestamp,
) -> StoreResult<Option<DashboardSession>> {
    let sql = format!(
        "DELETE FROM dashboard_sessions WHERE id_hash = ?1 AND kind = 'link' AND expires_at > ?2 \
         AND {SESSION_OWNER_EXISTS} RETURNING {SESSION_COLUMNS}"
    );
    let Some(link) = c
        .prepare_cached(&sql)?
        .query_row(params![link_hash, ms(now)], session)
        .optional()?
    else {
        return Ok(None);
    };
    let started = DashboardSession {
        id_hash: session_hash.to_string(),
        kind: SessionKind::Session,
        created_at: now,
        ..link
    };
    create_session(c, &started)?;
    Ok(Some(started))
}

pub(super) fn end_session(c: &Connection, id_hash: &str) -> StoreResult<()> {
    c.prepare_cached("DELETE FROM dashboard_sessions WHERE id_hash = ?1")?
        .execute([id_hash])?;
    Ok(())
}

pub(super) fn purge_sessions(c: &Connection, now: Timestamp) -> StoreResult<u64> {
    let gone = c
        .prepare_cached("DELETE FROM dashboard_sessions WHERE expires_at <= ?1")?
        .execute([ms(now)])?;
    Ok(gone as u64)
}

pub(super) fn delete_api_key(c: &Connection, account: &str, key_id: &str) -> StoreResult<()> {
    let hash: Option<String> = c
        .prepare_cached(
            "DELETE FROM api_keys WHERE account_id = ?1 AND id = ?2 RETURNING key_hash",
        )?
        .query_row([account, key_id], |r| r.get(0))
        .optional()?;
    let hash = hash.ok_or(StoreError::NotFound)?;
    c.prepare_cached("DELETE FROM dashboard_sessions WHERE api_key_hash = ?1")?
        .execute([hash])?;
    Ok(())
}

pub(super) fn branding(c: &Connection, account: &str) -> StoreResult<Option<Branding>> {
    Ok(c.prepare_cached(
        "SELECT product_name, logo_url, accent_color FROM account_branding WHERE account_id = ?1",
    )?
    .query_row([account], |r| {
        Ok(Branding {
            product_name: r.get(0)?,
            logo_url: r.get(1)?,
            accent_color: r.get(2)?,
        })
    })
    .optional()?)
}

pub(super) fn set_branding(c: &Connection, account: &str, b: &Branding) -> StoreResult<()> {
    super::tenant::get_account(c, account)?;
    c.prepare_cached(
        "INSERT INTO account_branding (account_id, product_name, logo_url, accent_color, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (account_id) DO UPDATE SET \
         product_name = excluded.product_name, logo_url = excluded.logo_url, \
         accent_color = excluded.accent_color, updated_at = excluded.updated_at",
    )?
    .execute(params![
        account,
        b.product_name,
        b.logo_url,
        b.accent_color,
        super::rows::now_ms()
    ])?;
    Ok(())
}
