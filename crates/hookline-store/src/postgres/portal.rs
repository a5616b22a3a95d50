//! Dashboard sessions, portal links, API key deletion and account branding
//! on PostgreSQL. The liveness rule is shared with SQLite (`crate::portal`).

use hookline_core::Timestamp;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row};

use super::rows::{ms, now_ms, time};
use crate::portal::{kind, SESSION_COLUMNS, SESSION_OWNER_EXISTS};
use crate::types::{Branding, DashboardSession, SessionKind};
use crate::{StoreError, StoreResult};

fn session(r: &PgRow) -> StoreResult<DashboardSession> {
    Ok(DashboardSession {
        id_hash: r.try_get("id_hash")?,
        kind: kind(r.try_get("kind")?),
        account_id: r.try_get("account_id")?,
        api_key_hash: r.try_get("api_key_hash")?,
        read_only: r.try_get("read_only")?,
        portal: r.try_get("portal")?,
        return_url: r.try_get("return_url")?,
        created_at: time(r.try_get("created_at")?),
        expires_at: time(r.try_get("expires_at")?),
    })
}

async fn insert(db: &mut PgConnection, s: &DashboardSession) -> StoreResult<()> {
    if let Some(account) = &s.account_id {
        super::tenant::get_account(&mut *db, account).await?;
    }
    sqlx::query(
        "INSERT INTO dashboard_sessions (id_hash, kind, account_id, api_key_hash, read_only, \
         portal, return_url, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&s.id_hash)
    .bind(s.kind.as_str())
    .bind(&s.account_id)
    .bind(&s.api_key_hash)
    .bind(s.read_only)
    .bind(s.portal)
    .bind(&s.return_url)
    .bind(ms(s.created_at))
    .bind(ms(s.expires_at))
    .execute(&mut *db)
    .await?;
    Ok(())
}

pub(super) async fn create_session(db: &PgPool, s: &DashboardSession) -> StoreResult<()> {
    insert(&mut *db.acquire().await?, s).await
}

pub(super) async fn live_session(
    db: &PgPool,
    id_hash: &str,
    now: Timestamp,
) -> StoreResult<Option<DashboardSession>> {
    let sql = format!(
        "SELECT {SESSION_COLUMNS} FROM dashboard_sessions WHERE id_hash = $1 AND kind = 'session' \
         AND expires_at > $2 AND {SESSION_OWNER_EXISTS}"
    );
    let found = sqlx::query(&sql)
        .bind(id_hash)
        .bind(ms(now))
        .fetch_optional(db)
        .await?;
    found.as_ref().map(session).transpose()
}

pub(super) async fn redeem_link(
    db: &PgPool,
    link_hash: &str,
    session_hash: &str,
    now: Timestamp,
) -> StoreResult<Option<DashboardSession>> {
    // The DELETE locks the row: of two concurrent redeems, one gets it.
    let sql = format!(
        "DELETE FROM dashboard_sessions WHERE id_hash = $1 AND kind = 'link' AND expires_at > $2 \
         AND {SESSION_OWNER_EXISTS} RETURNING {SESSION_COLUMNS}"
    );
    let mut tx = db.begin().await?;
    let found = sqlx::query(&sql)
        .bind(link_hash)
        .bind(ms(now))
        .fetch_optional(&mut *tx)
        .await?;
    let Some(link) = found.as_ref().map(session).transpose()? else {
        return Ok(None);
    };
    let started = DashboardSession {
        id_hash: session_hash.to_string(),
        kind: SessionKind::Session,
        created_at: now,
        ..link
    };
    insert(&mut tx, &started).await?;
    tx.commit().await?;
    Ok(Some(started))
}

pub(super) async fn end_session(db: &PgPool, id_hash: &str) -> StoreResult<()> {
    sqlx::query("DELETE FROM dashboard_sessions WHERE id_hash = $1")
        .bind(id_hash)
        .execute(db)
        .await?;
    Ok(())
}

pub(super) async fn purge_sessions(db: &PgPool, now: Timestamp) -> StoreResult<u64> {
    let done = sqlx::query("DELETE FROM dashboard_sessions WHERE expires_at <= $1")
        .bind(ms(now))
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

pub(super) async fn delete_api_key(db: &PgPool, account: &str, key_id: &str) -> StoreResult<()> {
    let mut tx = db.begin().await?;
    let hash: Option<String> = sqlx::query_scalar(
        "DELETE FROM api_keys WHERE account_id = $1 AND id = $2 RETURNING key_hash",
    )
    .bind(account)
    .bind(key_id)
    .fetch_optional(&mut *tx)
    .await?;
    let hash = hash.ok_or(StoreError::NotFound)?;
    sqlx::query("DELETE FROM dashboard_sessions WHERE api_key_hash = $1")
        .bind(hash)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn branding(db: &PgPool, account: &str) -> StoreResult<Option<Branding>> {
    let found = sqlx::query(
        "SELECT product_name, logo_url, accent_color FROM account_branding WHERE account_id = $1",
    )
    .bind(account)
    .fetch_optional(db)
    .await?;
    found
        .map(|r| {
            Ok(Branding {
                product_name: r.try_get("product_name")?,
                logo_url: r.try_get("logo_url")?,
                accent_color: r.try_get("accent_color")?,
            })
        })
        .transpose()
}

pub(super) async fn set_branding(db: &PgPool, account: &str, b: &Branding) -> StoreResult<()> {
    let mut conn = db.acquire().await?;
    super::tenant::get_account(&mut conn, account).await?;
    sqlx::query(
        "INSERT INTO account_branding (account_id, product_name, logo_url, accent_color, updated_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (account_id) DO UPDATE SET \
         product_name = excluded.product_name, logo_url = excluded.logo_url, \
         accent_color = excluded.accent_color, updated_at = excluded.updated_at",
    )
    .bind(account)
    .bind(&b.product_name)
    .bind(&b.logo_url)
    .bind(&b.accent_color)
    .bind(now_ms())
    .execute(&mut *conn)
    .await?;
    Ok(())
}
