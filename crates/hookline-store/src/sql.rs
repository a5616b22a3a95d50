//! SQL text both dialects share: column lists (so a row is read the same
//! way everywhere), the event summary status, and the `SET` clauses that
//! carry out [`crate::rules`]. Anything with placeholders, locking or
//! dialect functions stays in `sqlite/` or `postgres/`.

pub(crate) const ACCOUNT_COLUMNS: &str = "id, name, created_at, updated_at, seq";

pub(crate) const ENDPOINT_COLUMNS: &str =
    "id, account_id, url, description, event_types, disabled, \
    disabled_reason, payload, headers, secret, previous_secret, previous_secret_expires_at, \
    rate_limit_per_sec, metadata, failing_since, created_at, updated_at, seq, filter";

/// What sending to an endpoint needs (see [`crate::rules::SendSettings`]),
/// unqualified; prefix each with the table's alias where one is needed.
pub(crate) const SEND_COLUMNS: [&str; 7] = [
    "payload",
    "headers",
    "secret",
    "previous_secret",
    "previous_secret_expires_at",
    "rate_limit_per_sec",
    "failing_since",
];

/// [`SEND_COLUMNS`] of the table aliased `alias`, comma-separated.
pub(crate) fn send_columns(alias: &str) -> String {
    SEND_COLUMNS
        .iter()
        .map(|c| format!("{alias}.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Event columns, for queries that name the events table `e`.
pub(crate) const EVENT_COLUMNS: &str =
    "e.id, e.account_id, e.event_type, e.data, e.webhook_url, e.payload_hash, e.created_at, e.seq";

pub(crate) const DELIVERY_COLUMNS: &str = "id, event_id, account_id, endpoint_id, url, status, \
    attempts, next_attempt_at, last_status_code, created_at, updated_at";

pub(crate) const ATTEMPT_COLUMNS: &str =
    "id, delivery_id, event_id, account_id, endpoint_id, url, \
    attempt, started_at, duration_ms, outcome, status_code, error, response_body, seq";

/// The summary status of an event's deliveries, as a SQL expression over
/// `e`: pending over failed over succeeded, `NULL` when it has none.
pub(crate) const STATUS_EXPR: &str = "CASE \
    WHEN EXISTS (SELECT 1 FROM deliveries d WHERE d.event_seq = e.seq AND d.status = 'pending') THEN 'pending' \
    WHEN EXISTS (SELECT 1 FROM deliveries d WHERE d.event_seq = e.seq AND d.status = 'failed') THEN 'failed' \
    WHEN EXISTS (SELECT 1 FROM deliveries d WHERE d.event_seq = e.seq) THEN 'succeeded' \
    ELSE NULL END";

/// Drops a delivery's lease: whoever held it no longer does.
pub(crate) const CLEAR_LEASE: &str = "lease_until = NULL, leased_by = NULL";

/// Fails a delivery for good (its endpoint is gone): not due, no lease
/// (followed by `updated_at = …` in each dialect).
pub(crate) const FAIL: &str =
    "status = 'failed', next_attempt_at = NULL, lease_until = NULL, leased_by = NULL";
