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
/// (by the event's publish sequence) to the same endpoint with the same
/// ordering key that is still pending — in flight, or waiting for its
/// retry. One lookup in the `deliveries_order` index; it matters only on
/// an ordered endpoint (`is_ordered`).
macro_rules! earlier_pending {
    () => {
        "FROM deliveries p WHERE p.endpoint_id = d.endpoint_id \
         AND p.ordering_key = d.ordering_key AND p.status = 'pending' AND p.event_seq < d.event_seq"
    };
}

/// Whether `d`'s endpoint is ordered. The ordering probes are gated on it
/// with `CASE`, which both dialects evaluate in order: an unordered
/// endpoint's delivery costs one endpoint lookup, never a scan of its
/// pending deliveries (left to choose, PostgreSQL without fresh statistics
/// ran the probe for every pending row, quadratic in the backlog).
macro_rules! is_ordered {
    () => {
        "EXISTS (SELECT 1 FROM endpoints o WHERE o.id = d.endpoint_id AND o.delivery_order = 'ordered')"
    };
}

/// Computed on read: the event whose delivery `d` waits behind (the head
/// of its key on an ordered endpoint), `NULL` when it waits for nothing.
macro_rules! waiting_for {
    () => {
        concat!(
            "CASE WHEN d.status = 'pending' AND ",
            is_ordered!(),
            " THEN (SELECT p.event_id ",
            earlier_pending!(),
            " ORDER BY p.event_seq LIMIT 1) END AS waiting_for"
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
pub(crate) const ORDER_ALLOWS: &str = concat!(
    "CASE WHEN ",
    is_ordered!(),
    " THEN NOT EXISTS (SELECT 1 ",
    earlier_pending!(),
    ") ELSE TRUE END"
);

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

/// The dialect's pieces of the fair claim ([`fair_pick`]): placeholders and
/// the skip conditions, over the deliveries `d` and the accounts `a`.
pub(crate) struct FairPick<'a> {
    /// The claim's time.
    pub(crate) now: &'a str,
    /// The claim's size.
    pub(crate) limit: &'a str,
    /// `d`'s endpoint is not one the node skips.
    pub(crate) endpoint_allowed: &'a str,
    /// `a.account_id` is not one the node skips.
    pub(crate) account_allowed: &'a str,
    /// Read each account's deliveries with `LATERAL … LIMIT` (PostgreSQL).
    /// Its planner, without fresh statistics, answered the join over the
    /// accounts' bounds by scanning every pending row; a `LATERAL` subquery
    /// with a `LIMIT` can only be run per account, through the
    /// `deliveries_account_due` index. SQLite has no `LATERAL`, and its
    /// nested loops already read each account through that index up to
    /// its bound.
    pub(crate) lateral: bool,
}

/// The fair claim's choice, as CTEs for a `WITH RECURSIVE`: `picked(seq,
/// due_at, turn)` holds, for every account with due work the node does not
/// skip, its due deliveries up to the claim's size in due order, `turn`
/// numbering them per account. A claim takes them by `turn`, then due
/// time: the first due delivery of every account before the second of any,
/// so one account's burst never pushes another's work back.
///
/// Accounts are found by a loose scan of the `deliveries_account_due`
/// index (one seek per account with pending work), and each account's
/// deliveries are read only up to its `limit`-th due one (through a
/// `LATERAL … LIMIT` on PostgreSQL, up to that one's due time on SQLite),
/// so a claim reads at most a claim's worth per account, however deep a
/// backlog.
pub(crate) fn fair_pick(p: &FairPick<'_>) -> String {
    let FairPick {
        now,
        limit,
        endpoint_allowed,
        account_allowed,
        lateral,
    } = p;
    let accounts_due = "accounts_due(account_id) AS ( \
           SELECT MIN(account_id) FROM deliveries WHERE status = 'pending' \
           UNION ALL \
           SELECT (SELECT MIN(n.account_id) FROM deliveries n \
                   WHERE n.status = 'pending' AND n.account_id > a.account_id) \
           FROM accounts_due a WHERE a.account_id IS NOT NULL)";
    if *lateral {
        return format!(
            "{accounts_due}, \
             picked AS ( \
               SELECT x.seq, x.due_at, ROW_NUMBER() OVER ( \
                   PARTITION BY a.account_id ORDER BY x.due_at, x.seq) AS turn \
               FROM accounts_due a CROSS JOIN LATERAL ( \
                 SELECT d.seq, d.next_attempt_at AS due_at FROM deliveries d \
                 WHERE d.account_id = a.account_id AND d.status = 'pending' \
                 AND d.next_attempt_at <= {now} AND {endpoint_allowed} \
                 ORDER BY d.next_attempt_at LIMIT {limit}) x \
               WHERE a.account_id IS NOT NULL AND {account_allowed})"
        );
    }
    format!(
        "{accounts_due}, \
         bounds AS MATERIALIZED ( \
           SELECT a.account_id, COALESCE((SELECT d.next_attempt_at FROM deliveries d \
               WHERE d.account_id = a.account_id AND d.status = 'pending' \
               AND d.next_attempt_at <= {now} AND {endpoint_allowed} \
               ORDER BY d.next_attempt_at LIMIT 1 OFFSET {limit} - 1), {now}) AS until \
           FROM accounts_due a WHERE a.account_id IS NOT NULL AND {account_allowed}), \
         picked AS ( \
           SELECT d.seq, d.next_attempt_at AS due_at, ROW_NUMBER() OVER ( \
               PARTITION BY d.account_id ORDER BY d.next_attempt_at, d.seq) AS turn \
           FROM bounds b JOIN deliveries d ON d.account_id = b.account_id \
           AND d.status = 'pending' AND d.next_attempt_at <= b.until AND {endpoint_allowed})"
    )
}
