//! Publishing (event + fan-out in one transaction), event and attempt
//! listings, resend and recover on SQLite.

use hookline_core::{
    Attempt, Delivery, DeliveryOrder, DeliveryStatus, Endpoint, Event, Id, IdKind, Page, Timestamp,
};
use rusqlite::{params, Connection, OptionalExtension};

use super::rows::{self, ms, now_ms, to_json};
use super::tenant::{self, paginate, ListOrder, Walk};
use crate::rules::{self, handed_over, FanOut, HandOver, SendSettings};
use crate::sql::{outcome_filter, send_columns, STATUS_EXPR};
use crate::types::*;
use crate::{StoreError, StoreResult};

/// Where a new delivery goes.
struct NewDelivery<'a> {
    endpoint_id: Option<&'a str>,
    url: &'a str,
    /// Asked for by someone (resend, recover) rather than made by the fan-out.
    manual: bool,
}

/// An endpoint an event fans out to: where it goes, and what sending to it
/// needs should the delivery be handed over at once.
struct Subscriber {
    id: String,
    url: String,
    /// [`rules::waits_for_claim`]: disabled (a test send) or ordered.
    waits_for_claim: bool,
    send: SendSettings,
}

impl Subscriber {
    fn from_endpoint(ep: Endpoint) -> Subscriber {
        Subscriber {
            send: SendSettings::of(&ep),
            waits_for_claim: rules::waits_for_claim(ep.disabled, ep.delivery_order),
            id: ep.id,
            url: ep.url,
        }
    }
}

/// Stores a publish: the event, its search rows (`search`, from
/// [`crate::search::tokens`]) and one delivery per target.
pub(super) fn publish(
    c: &Connection,
    req: &PublishRequest,
    search: &[String],
) -> StoreResult<PublishOutcome> {
    let e = &req.event;
    if let Some((existing, _)) = find_event(c, &e.account_id, &e.id)? {
        return Ok(if existing.payload_hash == e.payload_hash {
            PublishOutcome::Duplicate(existing)
        } else {
            PublishOutcome::Conflict
        });
    }
    if let Some(external_id) = &e.external_id {
        if find_event_by_external_id(c, &e.account_id, external_id)?.is_some() {
            return Ok(PublishOutcome::Conflict);
        }
    }
    let endpoints: Vec<Subscriber> = match (&req.target, &e.webhook_url) {
        (Target::Endpoint(id), _) => vec![Subscriber::from_endpoint(tenant::get_endpoint(
            c,
            &e.account_id,
            id,
        )?)],
        (Target::Subscribed, Some(_)) => Vec::new(),
        (Target::Subscribed, None) => subscribed_endpoints(c, e)?,
    };
    c.prepare_cached(
        "INSERT INTO events (id, account_id, event_type, data, webhook_url, payload_hash, created_at, \
         ordering_key, external_id, channels, format) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        e.id,
        e.account_id,
        e.event_type,
        e.data,
        e.webhook_url,
        e.payload_hash,
        ms(e.created_at),
        e.ordering_key,
        e.external_id,
        to_json(&e.channels),
        e.format.as_str(),
    ])?;
    let event_seq = c.last_insert_rowid();
    // One single-row insert each: no statement journal, unlike a trigger.
    {
        let mut searchable = c.prepare_cached(
            "INSERT OR IGNORE INTO event_search (account_id, token, event_seq) VALUES (?1, ?2, ?3)",
        )?;
        for token in search {
            searchable.execute(params![e.account_id, token, event_seq])?;
        }
    }
    let due = ms(e.created_at);
    let mut leased = Vec::new();
    let mut hand_over = HandOver::new(req.lease.as_ref());
    let mut deliveries = 0;
    if let (Target::Subscribed, Some(url)) = (&req.target, &e.webhook_url) {
        let target = NewDelivery {
            endpoint_id: None,
            url,
            manual: false,
        };
        let lease = hand_over.take(None);
        let delivery = insert_delivery(c, event_seq, e, &target, due, lease)?;
        deliveries += 1;
        if lease.is_some() {
            let secret = tenant::account_signing_secret(c, &e.account_id)?;
            leased.push(handed_over(e, delivery.id, url.clone(), None, vec![secret]));
        }
    }
    for ep in &endpoints {
        let target = NewDelivery {
            endpoint_id: Some(&ep.id),
            url: &ep.url,
            manual: false,
        };
        let lease = hand_over.take(Some((&ep.id, ep.waits_for_claim)));
        let delivery = insert_delivery(c, event_seq, e, &target, due, lease)?;
        deliveries += 1;
        if lease.is_some() {
            let mut ready = handed_over(e, delivery.id, ep.url.clone(), Some(&ep.id), Vec::new());
            ep.send.apply(&mut ready, now_ms())?;
            leased.push(ready);
        }
    }
    Ok(PublishOutcome::Created {
        event: e.clone(),
        deliveries,
        leased,
    })
}

/// The account's enabled endpoints that receive `e` (the same rule as
/// `Endpoint::receives`: no types listed or an exact match, and no channels
/// listed or one shared with the event) and whose payload filter it passes.
/// Types and channels are matched in SQL, so the writer thread parses no
/// JSON in Rust unless an endpoint has a filter.
fn subscribed_endpoints(c: &Connection, e: &Event) -> StoreResult<Vec<Subscriber>> {
    let candidates = c
        .prepare_cached(&format!(
            "SELECT ep.id, ep.url, ep.filter, ep.delivery_order, {} FROM endpoints ep \
             WHERE ep.account_id = ?1 AND ep.disabled = 0 AND (ep.event_types = '[]' OR EXISTS \
             (SELECT 1 FROM json_each(ep.event_types) WHERE value = ?2)) \
             AND (ep.channels = '[]' OR EXISTS (SELECT 1 FROM json_each(ep.channels) \
             WHERE value IN (SELECT value FROM json_each(?3)))) \
             ORDER BY ep.seq",
            send_columns("ep")
        ))?
        .query_map(
            params![e.account_id, e.event_type, to_json(&e.channels)],
            |r| {
                let filter: Option<String> = r.get(2)?;
                let subscriber = Subscriber {
                    id: r.get(0)?,
                    url: r.get(1)?,
                    waits_for_claim: rules::waits_for_claim(
                        false,
                        DeliveryOrder::parse(&r.get::<_, String>(3)?).unwrap_or_default(),
                    ),
                    send: rows::send_settings(r, 4)?,
                };
                Ok((filter, subscriber))
            },
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut fan_out = FanOut::new(e);
    Ok(candidates
        .into_iter()
        .filter(|(filter, _)| fan_out.passes(filter.as_deref()))
        .map(|(_, subscriber)| subscriber)
        .collect())
}

/// Inserts a pending delivery, due at `due_ms` — or, with `lease` (node,
/// until), already leased to that node like a claimed one.
fn insert_delivery(
    c: &Connection,
    event_seq: i64,
    e: &Event,
    target: &NewDelivery<'_>,
    due_ms: i64,
    lease: Option<(&str, i64)>,
) -> StoreResult<Delivery> {
    let id = Id::generate(IdKind::Delivery);
    let now = now_ms();
    let (next_attempt_at, lease_until, leased_by) = match lease {
        Some((node, until)) => (until, Some(until), Some(node)),
        None => (due_ms, None, None),
    };
    c.prepare_cached(
        "INSERT INTO deliveries (id, event_seq, event_id, account_id, endpoint_id, url, status, \
         attempts, next_attempt_at, lease_until, leased_by, lease_epoch, created_at, updated_at, \
         ordering_key, manual) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', 0, ?7, ?8, ?9, \
         CASE WHEN ?9 IS NULL THEN 0 ELSE ?11 END, ?10, ?10, ?12, ?13)",
    )?
    .execute(params![
        id,
        event_seq,
        e.id,
        e.account_id,
        target.endpoint_id,
        target.url,
        next_attempt_at,
        lease_until,
        leased_by,
        now,
        crate::rules::FIRST_LEASE_EPOCH,
        e.ordering_key.as_deref().unwrap_or(""),
        target.manual
    ])?;
    Ok(Delivery {
        id,
        event_id: e.id.clone(),
        account_id: e.account_id.clone(),
        endpoint_id: target.endpoint_id.map(str::to_string),
        url: target.url.to_string(),
        status: DeliveryStatus::Pending,
        attempts: 0,
        next_attempt_at: Some(rows::time(due_ms)),
        last_status_code: None,
        waiting_for: None,
        created_at: rows::time(now),
        updated_at: rows::time(now),
    })
}

fn find_event(c: &Connection, account: &str, id: &str) -> StoreResult<Option<(Event, i64)>> {
    let sql = format!(
        "SELECT {} FROM events e WHERE e.account_id = ?1 AND e.id = ?2",
        rows::EVENT_COLUMNS
    );
    Ok(c.prepare_cached(&sql)?
        .query_row([account, id], |r| Ok((rows::event(r)?, r.get(7)?)))
        .optional()?)
}

pub(super) fn find_event_by_external_id(
    c: &Connection,
    account: &str,
    external_id: &str,
) -> StoreResult<Option<Event>> {
    let sql = format!(
        "SELECT {} FROM events e WHERE e.account_id = ?1 AND e.external_id = ?2",
        rows::EVENT_COLUMNS
    );
    Ok(c.prepare_cached(&sql)?
        .query_row([account, external_id], rows::event)
        .optional()?)
}

pub(super) fn get_event(c: &Connection, account: &str, id: &str) -> StoreResult<(Event, i64)> {
    find_event(c, account, id)?.ok_or(StoreError::NotFound)
}

/// Events newest first; with `search`, only those whose id or a value
/// inside `data` is exactly `search` (walked down `event_search`, see
/// `crate::search`).
pub(super) fn list_events(
    c: &Connection,
    account: &str,
    search: Option<&str>,
    filter: &EventFilter,
    page: PageRequest,
) -> StoreResult<Page<ListedEvent>> {
    // A status alone (the dashboard's filter) walks the deliveries' status
    // index; with a search or the Svix API's filters the general query runs.
    if let (None, Some(status), true) = (search, filter.status, filter.by_status_only()) {
        return list_events_by_status(c, account, status, filter, page);
    }
    let walk = Walk::new(page, ListOrder::NewestFirst);
    let (cmp, order) = (walk.cmp, walk.order);
    let sql = match search {
        None => format!(
            "SELECT {cols}, {STATUS_EXPR} AS status FROM events e \
             WHERE e.account_id = ?1 AND e.seq {cmp} ?2 AND (?3 IS NULL OR e.event_type = ?3) \
             AND (?4 IS NULL OR ({STATUS_EXPR}) = ?4) AND ?6 IS NULL \
             AND (?7 IS NULL OR e.event_type IN (SELECT value FROM json_each(?7))) \
             AND (?8 IS NULL OR EXISTS (SELECT 1 FROM json_each(e.channels) WHERE value = ?8)) \
             AND (?9 IS NULL OR e.created_at < ?9) AND (?10 IS NULL OR e.created_at > ?10) \
             ORDER BY e.seq {order} LIMIT ?5",
            cols = rows::EVENT_COLUMNS,
        ),
        Some(_) => format!(
            "SELECT {cols}, {STATUS_EXPR} AS status FROM event_search s \
             JOIN events e ON e.seq = s.event_seq AND e.account_id = s.account_id \
             WHERE s.account_id = ?1 AND s.token = ?6 AND s.event_seq {cmp} ?2 \
             AND (?3 IS NULL OR e.event_type = ?3) AND (?4 IS NULL OR ({STATUS_EXPR}) = ?4) \
             AND (?7 IS NULL OR e.event_type IN (SELECT value FROM json_each(?7))) \
             AND (?8 IS NULL OR EXISTS (SELECT 1 FROM json_each(e.channels) WHERE value = ?8)) \
             AND (?9 IS NULL OR e.created_at < ?9) AND (?10 IS NULL OR e.created_at > ?10) \
             ORDER BY s.event_seq {order} LIMIT ?5",
            cols = rows::EVENT_COLUMNS,
        ),
    };
    let rows = c
        .prepare_cached(&sql)?
        .query_map(
            params![
                account,
                walk.bound,
                filter.event_type,
                filter.status.map(DeliveryStatus::as_str),
                walk.fetch,
                search,
                (!filter.event_types.is_empty()).then(|| to_json(&filter.event_types)),
                filter.channel,
                filter.before.map(ms),
                filter.after.map(ms),
            ],
            |r| {
                let status: Option<String> = r.get("status")?;
                let seq: i64 = r.get(7)?;
                Ok((
                    ListedEvent {
                        event: rows::event(r)?,
                        status: status.as_deref().and_then(DeliveryStatus::parse),
                        seq,
                    },
                    seq,
                ))
            },
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(paginate(rows, page))
}

/// Events whose summary status is `status`, newest first, checked in
/// chunks of candidates from the deliveries' status index
/// ([`rules::STATUS_CHUNK`](crate::rules::STATUS_CHUNK)), walked away
/// from the cursor (upwards for a backward page).
fn list_events_by_status(
    c: &Connection,
    account: &str,
    status: DeliveryStatus,
    filter: &EventFilter,
    page: PageRequest,
) -> StoreResult<Page<ListedEvent>> {
    let walk = Walk::new(page, ListOrder::NewestFirst);
    let (cmp, order) = (walk.cmp, walk.order);
    let mut candidates = c.prepare_cached(&format!(
        "SELECT DISTINCT event_seq FROM deliveries \
         WHERE account_id = ?1 AND status = ?2 AND event_seq {cmp} ?3 \
         ORDER BY event_seq {order} LIMIT ?4",
    ))?;
    let mut check = c.prepare_cached(&format!(
        // CROSS JOIN keeps the chunk the outer loop: events are read by
        // their primary key, never through the account's index.
        "SELECT {cols}, {STATUS_EXPR} AS status FROM json_each(?1) AS chunk \
         CROSS JOIN events e ON e.seq = chunk.value WHERE e.account_id = ?2 \
         AND (?3 IS NULL OR e.event_type = ?3) AND ({STATUS_EXPR}) = ?4 ORDER BY e.seq {order}",
        cols = rows::EVENT_COLUMNS,
    ))?;
    let mut from = walk.bound;
    let mut found = Vec::new();
    while found.len() <= page.limit as usize {
        let seqs = candidates
            .query_map(
                params![account, status.as_str(), from, crate::rules::STATUS_CHUNK],
                |r| r.get::<_, i64>(0),
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let Some(&last) = seqs.last() else { break };
        from = last;
        let matching = check.query_map(
            params![to_json(&seqs), account, filter.event_type, status.as_str()],
            |r| {
                let seq: i64 = r.get(7)?;
                Ok((
                    ListedEvent {
                        event: rows::event(r)?,
                        status: Some(status),
                        seq,
                    },
                    seq,
                ))
            },
        )?;
        for row in matching {
            found.push(row?);
        }
        if seqs.len() < crate::rules::STATUS_CHUNK as usize {
            break;
        }
    }
    found.truncate(page.limit as usize + 1);
    Ok(paginate(found, page))
}

pub(super) fn list_deliveries(
    c: &Connection,
    account: &str,
    event_id: &str,
) -> StoreResult<Vec<Delivery>> {
    let (_, seq) = get_event(c, account, event_id)?;
    let sql = format!(
        "SELECT {} FROM deliveries d WHERE d.event_seq = ?1 ORDER BY d.seq",
        rows::DELIVERY_COLUMNS
    );
    let deliveries = c
        .prepare_cached(&sql)?
        .query_map([seq], rows::delivery)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(deliveries)
}

/// Attempt filters as SQL over `attempts` (parameters ?4 to ?10).
const ATTEMPT_FILTER: &str = "\
    AND (?4 IS NULL OR (outcome = 'succeeded') = ?4) \
    AND (?5 IS NULL OR (?5 = 0 AND status_code IS NULL) OR (status_code / 100) * 100 = ?5) \
    AND (?6 IS NULL OR endpoint_id = ?6) \
    AND (?7 IS NULL OR started_at < ?7) AND (?8 IS NULL OR started_at > ?8) \
    AND (?9 IS NULL OR event_seq IN (SELECT seq FROM events \
         WHERE event_type IN (SELECT value FROM json_each(?9)))) \
    AND (?10 IS NULL OR event_seq IN (SELECT ev.seq FROM events ev, json_each(ev.channels) ch \
         WHERE ev.seq = attempts.event_seq AND ch.value = ?10))";

/// Attempts newest first, of an event or of an endpoint, those `filter`
/// keeps.
pub(super) fn list_attempts(
    c: &Connection,
    account: &str,
    of: &AttemptsOf,
    filter: &AttemptFilter,
    page: PageRequest,
) -> StoreResult<Page<Attempt>> {
    let walk = Walk::new(page, ListOrder::NewestFirst);
    let (column, key): (&str, rusqlite::types::Value) = match of {
        AttemptsOf::Event(id) => ("event_seq", get_event(c, account, id)?.1.into()),
        AttemptsOf::Endpoint(id) => {
            tenant::get_endpoint(c, account, id)?;
            ("endpoint_id", id.clone().into())
        }
    };
    let sql = format!(
        "SELECT {} FROM attempts WHERE {column} = ?1 AND seq {} ?2 {ATTEMPT_FILTER} AND {} \
         ORDER BY seq {} LIMIT ?3",
        rows::ATTEMPT_COLUMNS,
        walk.cmp,
        outcome_filter("?11", "?12", "?13"),
        walk.order,
    );
    let (exact, failed, pending) = filter.outcome.params();
    let rows = c
        .prepare_cached(&sql)?
        .query_map(
            params![
                key,
                walk.bound,
                walk.fetch,
                filter.succeeded,
                filter.status_code_class,
                filter.endpoint_id,
                filter.before.map(ms),
                filter.after.map(ms),
                (!filter.event_types.is_empty()).then(|| to_json(&filter.event_types)),
                filter.channel,
                exact,
                failed,
                pending,
            ],
            |r| Ok((rows::attempt(r)?, r.get(13)?)),
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(paginate(rows, page))
}

/// One attempt of the account's.
pub(super) fn get_attempt(c: &Connection, account: &str, id: &str) -> StoreResult<Attempt> {
    let sql = format!(
        "SELECT {} FROM attempts WHERE id = ?1 AND account_id = ?2",
        rows::ATTEMPT_COLUMNS
    );
    c.prepare_cached(&sql)?
        .query_row([id, account], rows::attempt)
        .optional()?
        .ok_or(StoreError::NotFound)
}

pub(super) fn resend(
    c: &Connection,
    account: &str,
    event_id: &str,
    endpoint_id: Option<&str>,
) -> StoreResult<Vec<Delivery>> {
    let (event, seq) = get_event(c, account, event_id)?;
    let now = now_ms();
    let mut created = Vec::new();
    if let Some(endpoint_id) = endpoint_id {
        let ep = tenant::get_endpoint(c, account, endpoint_id)?;
        let target = NewDelivery {
            endpoint_id: Some(&ep.id),
            url: &ep.url,
            manual: true,
        };
        created.push(insert_delivery(c, seq, &event, &target, now, None)?);
        return Ok(created);
    }
    // Every target the event had: its endpoints (current URL) or its own URL.
    let mut stmt = c.prepare_cached(
        "SELECT DISTINCT d.endpoint_id, COALESCE(ep.url, d.url) FROM deliveries d \
         LEFT JOIN endpoints ep ON ep.id = d.endpoint_id \
         WHERE d.event_seq = ?1 AND (d.endpoint_id IS NULL OR ep.id IS NOT NULL)",
    )?;
    let targets = stmt
        .query_map([seq], |r| {
            Ok((r.get::<_, Option<String>>(0)?, r.get::<_, String>(1)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for (endpoint_id, url) in &targets {
        let target = NewDelivery {
            endpoint_id: endpoint_id.as_deref(),
            url,
            manual: true,
        };
        created.push(insert_delivery(c, seq, &event, &target, now, None)?);
    }
    Ok(created)
}

pub(super) fn recover(
    c: &Connection,
    account: &str,
    endpoint_id: &str,
    since: Timestamp,
    until: Option<Timestamp>,
) -> StoreResult<u64> {
    let ep = tenant::get_endpoint(c, account, endpoint_id)?;
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {} FROM events e WHERE e.seq IN (SELECT DISTINCT event_seq FROM deliveries \
         WHERE endpoint_id = ?1 AND status = 'failed' AND updated_at >= ?2 AND updated_at < ?3)",
        rows::EVENT_COLUMNS,
    ))?;
    let events = stmt
        .query_map(params![ep.id, ms(since), until.map_or(i64::MAX, ms)], |r| {
            Ok((rows::event(r)?, r.get::<_, i64>(7)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let now = now_ms();
    let target = NewDelivery {
        endpoint_id: Some(&ep.id),
        url: &ep.url,
        manual: true,
    };
    for (event, seq) in &events {
        insert_delivery(c, *seq, event, &target, now, None)?;
    }
    Ok(events.len() as u64)
}

/// Walks the deliveries' `(account_id, status, event_seq)` index from its
/// oldest pending entry.
pub(super) fn oldest_pending_delivery(
    c: &Connection,
    account: &str,
) -> StoreResult<Option<Delivery>> {
    let sql = format!(
        "SELECT {} FROM deliveries d WHERE d.account_id = ?1 AND d.status = 'pending' \
         ORDER BY d.event_seq, d.seq LIMIT 1",
        rows::DELIVERY_COLUMNS
    );
    Ok(c.prepare_cached(&sql)?
        .query_row([account], rows::delivery)
        .optional()?)
}

pub(super) fn endpoint_hourly_stats(
    c: &Connection,
    account: &str,
    endpoint_id: &str,
    since: Timestamp,
) -> StoreResult<Vec<HourlyStats>> {
    tenant::get_endpoint(c, account, endpoint_id)?;
    let mut stmt = c.prepare_cached(
        "SELECT (started_at / 3600000) * 3600000 AS hour, \
         SUM(CASE WHEN outcome = 'succeeded' THEN 1 ELSE 0 END), \
         SUM(CASE WHEN outcome = 'succeeded' THEN 0 ELSE 1 END) \
         FROM attempts WHERE endpoint_id = ?1 AND started_at >= ?2 GROUP BY hour ORDER BY hour",
    )?;
    let stats = stmt
        .query_map(params![endpoint_id, ms(since)], |r| {
            Ok(HourlyStats {
                hour: rows::time(r.get(0)?),
                succeeded: r.get::<_, i64>(1)? as u64,
                failed: r.get::<_, i64>(2)? as u64,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(stats)
}

pub(super) fn endpoint_delivery_counts(
    c: &Connection,
    account: &str,
    endpoint_id: &str,
    window: &TimeWindow,
) -> StoreResult<DeliveryCounts> {
    tenant::get_endpoint(c, account, endpoint_id)?;
    let now = now_ms();
    let mut counts = DeliveryCounts::default();
    let mut stmt = c.prepare_cached(
        "SELECT CASE WHEN status = 'pending' AND lease_until > ?4 THEN 'sending' ELSE status END AS s, \
         COUNT(*) FROM deliveries WHERE endpoint_id = ?1 AND created_at >= ?2 AND created_at < ?3 \
         GROUP BY s",
    )?;
    let found = stmt
        .query_map(
            params![
                endpoint_id,
                window.since.map_or(i64::MIN, ms),
                window.until.map_or(i64::MAX, ms),
                now
            ],
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64)),
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for (status, n) in found {
        counts.add(&status, n);
    }
    Ok(counts)
}
