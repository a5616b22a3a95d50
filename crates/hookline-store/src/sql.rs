//! SQL text both dialects share: column lists (so a row is read the same
//! way everywhere), the event summary status, and the `SET` clauses that
//! carry out [`crate::rules`]. Anything with placeholders, locking or
//! dialect functions stays in `sqlite/` or `postgres/`.

pub(crate) const ACCOUNT_COLUMNS: &str = "id, name, created_at, updated_at, seq, uid, metadata";

pub(crate) const ENDPOINT_COLUMNS: &str =
    "id, account_id, url, description, event_types, disabled, \
    disabled_reason, payload, headers, secret, previous_secret, previous_secret_expires_at, \
    rate_limit_per_sec, metadata, failing_since, created_at, updated_at, seq, filter, delivery_order, channels, uid, version";

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
    "e.id, e.account_id, e.event_type, e.data, e.webhook_url, e.payload_hash, e.created_at, e.seq, \
     e.ordering_key, e.external_id, e.channels, e.format";

/// The ordering rule's probe, over the delivery `d`: an earlier delivery
/// (by the event's publish sequence) to the same ordered endpoint with the
/// same ordering key that is still pending — in flight, or waiting for
/// its retry. One lookup in the `deliveries_order` index.
macro_rules! earlier_pending {
    () => {
        "FROM endpoints o JOIN deliveries p ON p.endpoint_id = o.id \
         WHERE o.id = d.endpoint_id AND o.delivery_order = 'ordered' \
         AND p.ordering_key = d.ordering_key AND p.status = 'pending' AND p.event_seq < d.event_seq"
    };
}

/// Computed on read: the event whose delivery `d` waits behind (the head
/// of its key on an ordered endpoint), `NULL` when it waits for nothing.
macro_rules! waiting_for {
    () => {
        concat!(
            "(SELECT p.event_id ",
            earlier_pending!(),
            " AND d.status = 'pending' ORDER BY p.event_seq LIMIT 1) AS waiting_for"
        )
    };
}

/// Delivery columns, for queries that name the deliveries table `d`; the
/// last, `waiting_for`, is computed on read.
pub(crate) const DELIVERY_COLUMNS: &str = concat!(
    "d.id, d.event_id, d.account_id, d.endpoint_id, d.url, d.status, \
    d.attempts, d.next_attempt_at, d.last_status_code, d.created_at, d.updated_at, ",
    waiting_for!()
);

/// The ordering rule, as a claim's condition over the due delivery `d`:
/// on an ordered endpoint a delivery is claimable only when no earlier
/// delivery with its key is still pending, so each key has at most one
/// delivery in flight and a failing head holds back only its own key.
pub(crate) const ORDER_ALLOWS: &str = concat!("NOT EXISTS (SELECT 1 ", earlier_pending!(), ")");

pub(crate) const ATTEMPT_COLUMNS: &str =
    "id, delivery_id, event_id, account_id, endpoint_id, url, \
    attempt, started_at, duration_ms, outcome, status_code, error, response_body, seq, manual, \
    request_headers, request_payload, response_headers";

/// The condition of an [`OutcomeFilter`](crate::OutcomeFilter) on the
/// `attempts` table, given the dialect's placeholders of its three
/// [`params`](crate::OutcomeFilter::params): an exact outcome, "not a
/// success", "its delivery is still pending".
pub(crate) fn outcome_filter(exact: &str, failed: &str, pending: &str) -> String {
    format!(
        "({exact} IS NULL OR attempts.outcome = {exact}) \
         AND ({failed} = FALSE OR attempts.outcome <> 'succeeded') \
         AND ({pending} = FALSE OR EXISTS (SELECT 1 FROM deliveries d \
              WHERE d.id = attempts.delivery_id AND d.status = 'pending'))"
    )
}

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
