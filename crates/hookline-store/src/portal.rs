//! SQL rules of dashboard sessions that both stores share, so that "a
//! session is alive" cannot mean two things: it has not expired, its
//! account still exists, and the API key that made it still exists.

/// Columns of `dashboard_sessions`, in the order the row readers expect.
pub(crate) const SESSION_COLUMNS: &str = "id_hash, kind, account_id, api_key_hash, read_only, \
     portal, return_url, created_at, expires_at";

/// True for a row whose account and creating key are still there (no
/// placeholders: both dialects use it as is).
pub(crate) const SESSION_OWNER_EXISTS: &str = "(dashboard_sessions.account_id IS NULL OR EXISTS \
     (SELECT 1 FROM accounts WHERE accounts.id = dashboard_sessions.account_id)) \
     AND (dashboard_sessions.api_key_hash IS NULL OR EXISTS (SELECT 1 FROM api_keys \
     WHERE api_keys.key_hash = dashboard_sessions.api_key_hash \
     AND api_keys.account_id = dashboard_sessions.account_id))";

/// The stored kind.
pub(crate) fn kind(text: &str) -> crate::SessionKind {
    if text == "link" {
        crate::SessionKind::Link
    } else {
        crate::SessionKind::Session
    }
}
