//! Publishing on PostgreSQL, group-committed. Concurrent publishes queue
//! up; a few committer tasks each take whatever is queued (up to
//! [`MAX_BATCH`]) and store it with two statements for the whole batch:
//! one reads the subscribers of every event, one inserts every event and
//! every delivery. The second is a single statement, so it is one
//! transaction and one commit: an event and its deliveries commit together,
//! and each caller is answered (its `202`) only after it. No `BEGIN` is
//! sent, and the work belongs to the committer task, not to the caller, so
//! a caller that goes away (a client hanging up) cancels nothing halfway.
//!
//! Idempotency: the first publish of an id in a batch leads; the others
//! are answered against what it stored (`Duplicate` or `Conflict`), exactly
//! as if they had come one after the other; ids already stored (by an
//! earlier batch or another node) are skipped by `ON CONFLICT DO NOTHING`
//! and read back. New deliveries a node can start at once are inserted
//! already leased to it ([`HandOver`]) and answered ready to send.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use hookline_core::{DeliveryOrder, Event, Id, IdKind};
use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, PgPool, Postgres, Row};
use tokio::sync::{mpsc, oneshot, Mutex};

use super::rows::{self, ms, now_ms, to_json};
use crate::rules::{self, handed_over, FanOut, HandOver, SendSettings};
use crate::sql::{send_columns, EVENT_COLUMNS};
use crate::types::*;
use crate::{StoreError, StoreResult};

/// Committer tasks: while one waits for its commit, the next batch forms
/// and is sent by the other. Two measured best on the 2-core benchmark
/// machine (ingest 6,150–6,746 events/s against 5,277–6,384 with four and
/// 4,824 with eight, which only add contention inside PostgreSQL; one
/// leaves the database idle during each commit's flush).
pub(super) const COMMITTERS: usize = 2;
/// Most publishes stored by one statement.
const MAX_BATCH: usize = 512;
/// Publishes waiting for a committer before callers wait to queue.
const QUEUE: usize = 8192;

struct Job {
    request: PublishRequest,
    /// The event's search rows ([`crate::search::tokens`]), worked out by
    /// the caller so the committers only insert them.
    search: Vec<String>,
    reply: oneshot::Sender<StoreResult<PublishOutcome>>,
}

/// The queue in front of the committers. Dropping it stops them once the
/// queue is drained.
pub(super) struct Publisher {
    queue: mpsc::Sender<Job>,
}

impl Publisher {
    /// Starts the committer tasks on `db`.
    pub(super) fn start(db: &PgPool) -> Publisher {
        let (queue, jobs) = mpsc::channel(QUEUE);
        let jobs = Arc::new(Mutex::new(jobs));
        for _ in 0..COMMITTERS {
            tokio::spawn(commit_batches(db.clone(), jobs.clone()));
        }
        Publisher { queue }
    }

    /// Stores the event and its deliveries with the next batch; answers
    /// once that batch has committed.
    pub(super) async fn publish(&self, request: PublishRequest) -> StoreResult<PublishOutcome> {
        let stopped = || StoreError::Unavailable("the PostgreSQL publisher has stopped".into());
        let (reply, answer) = oneshot::channel();
        let search = crate::search::tokens(&request.event.id, &request.event.data);
        self.queue
            .send(Job {
                request,
                search,
                reply,
            })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// One committer: takes the queued publishes, stores them, answers them.
/// It keeps one connection of the pool for itself between batches (the
/// pool is sized for the committers), so a batch is its statements and
/// nothing else: no acquire, and none of the round trip sqlx makes on
/// every release. After a failed statement, or when it sat idle for
/// [`super::PING_AFTER_IDLE`], the connection goes back to the pool, which
/// checks it, and the batch takes another.
async fn commit_batches(db: PgPool, jobs: Arc<Mutex<mpsc::Receiver<Job>>>) {
    let mut held: Option<(PoolConnection<Postgres>, Instant)> = None;
    loop {
        let mut batch = Vec::new();
        {
            let mut jobs = jobs.lock().await;
            let Some(first) = jobs.recv().await else {
                return;
            };
            batch.push(first);
            while batch.len() < MAX_BATCH {
                match jobs.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
        }
        let mut requests = Vec::with_capacity(batch.len());
        let mut searches = Vec::with_capacity(batch.len());
        let mut replies = Vec::with_capacity(batch.len());
        for job in batch {
            requests.push(job.request);
            searches.push(job.search);
            replies.push(job.reply);
        }
        // One left idle for a while goes back, and the pool checks it.
        let conn = match held.take() {
            Some((conn, used)) if used.elapsed() < super::PING_AFTER_IDLE => Ok(conn),
            _ => db.acquire().await.map_err(StoreError::from),
        };
        let outcomes = match conn {
            Ok(mut conn) => {
                let outcomes = publish_all(&mut conn, &requests, &searches).await;
                if !outcomes
                    .iter()
                    .any(|o| matches!(o, Err(StoreError::Unavailable(_))))
                {
                    held = Some((conn, Instant::now()));
                }
                outcomes
            }
            Err(err) => vec![Err(err); requests.len()],
        };
        for (reply, outcome) in replies.into_iter().zip(outcomes) {
            // A caller that went away still had its event stored.
            let _ = reply.send(outcome);
        }
    }
}

/// What one publish did, with the event stored under its id (which later
/// publishes of the same id are answered against).
struct Published {
    outcome: StoreResult<PublishOutcome>,
    stored: Option<Event>,
}

/// Publishes `requests` (with their search rows, `searches`) as if one
/// after the other; answers in their order.
async fn publish_all(
    conn: &mut PgConnection,
    requests: &[PublishRequest],
    searches: &[Vec<String>],
) -> Vec<StoreResult<PublishOutcome>> {
    let mut outcomes: Vec<Option<StoreResult<PublishOutcome>>> = vec![None; requests.len()];
    let mut waiting: Vec<usize> = (0..requests.len()).collect();
    while !waiting.is_empty() {
        let mut keys = HashSet::new();
        let (leaders, followers): (Vec<usize>, Vec<usize>) = waiting
            .iter()
            .partition(|&&i| keys.insert(key(&requests[i].event)));
        let published = match store_batch(conn, requests, searches, &leaders).await {
            Ok(published) => published,
            // One bad publish fails the statement: store each alone.
            Err(_) if leaders.len() > 1 => {
                let mut alone = Vec::with_capacity(leaders.len());
                for &i in &leaders {
                    alone.push(match store_batch(conn, requests, searches, &[i]).await {
                        Ok(mut one) => one.remove(0),
                        Err(err) => failed_for(&requests[i], err),
                    });
                }
                alone
            }
            Err(err) => vec![failed_for(&requests[leaders[0]], err)],
        };
        let mut stored: HashMap<Key, Event> = HashMap::new();
        for (&i, p) in leaders.iter().zip(published) {
            if let Some(event) = p.stored {
                stored.insert(key(&requests[i].event), event);
            }
            outcomes[i] = Some(p.outcome);
        }
        // A later publish of an id stored in this round is answered against
        // it; one whose leader stored nothing leads the next round.
        waiting = Vec::new();
        for i in followers {
            match stored.get(&key(&requests[i].event)) {
                Some(existing) => outcomes[i] = Some(Ok(repeated(existing, &requests[i].event))),
                None => waiting.push(i),
            }
        }
    }
    outcomes
        .into_iter()
        .map(|o| o.expect("every publish is answered"))
        .collect()
}

/// An event's idempotency key: its id within its account.
type Key = (String, String);

fn key(e: &Event) -> Key {
    (e.account_id.clone(), e.id.clone())
}

fn failed(err: StoreError) -> Published {
    Published {
        outcome: Err(err),
        stored: None,
    }
}

/// A failed publish; a clash on the event's own `external_id` (another
/// publish of the batch took it first) is the `Conflict` it means.
fn failed_for(req: &PublishRequest, err: StoreError) -> Published {
    match err {
        StoreError::Conflict(_) if req.event.external_id.is_some() => Published {
            outcome: Ok(PublishOutcome::Conflict),
            stored: None,
        },
        err => failed(err),
    }
}

/// The answer to publishing `e` again over `existing`.
fn repeated(existing: &Event, e: &Event) -> PublishOutcome {
    if existing.payload_hash == e.payload_hash {
        PublishOutcome::Duplicate(existing.clone())
    } else {
        PublishOutcome::Conflict
    }
}

/// Where one new delivery goes, and its lease if it is handed over.
struct NewDelivery {
    id: String,
    endpoint_id: Option<String>,
    url: String,
    lease: Option<(String, i64)>,
    send: Option<SendSettings>,
}

/// An endpoint an event fans out to, as the subscriber query reads it.
struct Subscriber {
    id: String,
    url: String,
    /// [`rules::waits_for_claim`]: disabled (a test send) or ordered.
    waits_for_claim: bool,
    send: SendSettings,
}

/// Stores the publishes `batch` (indexes into `requests`, distinct ids).
async fn store_batch(
    conn: &mut PgConnection,
    requests: &[PublishRequest],
    searches: &[Vec<String>],
    batch: &[usize],
) -> StoreResult<Vec<Published>> {
    let mut subscribers = subscribers(conn, requests, batch).await?;
    let secrets = own_url_secrets(conn, requests, batch).await?;
    let taken = taken_external_ids(conn, requests, batch).await?;
    // Per publish: its deliveries, or `None` when its target endpoint is not
    // the account's (nothing is stored; `NotFound` unless the id exists).
    let plans: Vec<Option<Vec<NewDelivery>>> = batch
        .iter()
        .map(|&i| {
            let req = &requests[i];
            let found = subscribers.remove(&i).unwrap_or_default();
            if matches!(req.target, Target::Endpoint(_)) && found.is_empty() {
                return None;
            }
            if external_key(&req.event).is_some_and(|k| taken.contains(&k)) {
                return None;
            }
            Some(plan(req, found))
        })
        .collect();
    let inserted = insert(conn, requests, searches, batch, &plans).await?;
    let missing: Vec<usize> = batch
        .iter()
        .filter(|&&i| !inserted.contains(&key(&requests[i].event)))
        .copied()
        .collect();
    let existing = existing_events(conn, requests, &missing).await?;
    let now = now_ms();
    let mut published = Vec::with_capacity(batch.len());
    for (&i, plan) in batch.iter().zip(plans) {
        let e = &requests[i].event;
        let deliveries = match (existing.get(&key(e)), plan) {
            (Some(found), _) => {
                published.push(Published {
                    outcome: Ok(repeated(found, e)),
                    stored: Some(found.clone()),
                });
                continue;
            }
            (None, None) if external_key(e).is_some_and(|k| taken.contains(&k)) => {
                published.push(Published {
                    outcome: Ok(PublishOutcome::Conflict),
                    stored: None,
                });
                continue;
            }
            (None, None) => {
                published.push(failed(StoreError::NotFound));
                continue;
            }
            (None, Some(_)) if !inserted.contains(&key(e)) => {
                // Taken by another publish, then deleted before we looked.
                published.push(failed(StoreError::Unavailable(
                    "the event vanished during publishing".into(),
                )));
                continue;
            }
            (None, Some(deliveries)) => deliveries,
        };
        let count = deliveries.len() as u32;
        let mut leased = Vec::new();
        for d in deliveries.into_iter().filter(|d| d.lease.is_some()) {
            let mut ready = handed_over(e, d.id, d.url, d.endpoint_id.as_deref(), Vec::new());
            match &d.send {
                Some(send) => send.apply(&mut ready, now)?,
                None => ready.secrets = secrets.get(&e.account_id).cloned().into_iter().collect(),
            }
            leased.push(ready);
        }
        published.push(Published {
            outcome: Ok(PublishOutcome::Created {
                event: e.clone(),
                deliveries: count,
                leased,
            }),
            stored: Some(e.clone()),
        });
    }
    Ok(published)
}

/// The deliveries of one publish, in target order, with hand-overs.
fn plan(req: &PublishRequest, subscribers: Vec<Subscriber>) -> Vec<NewDelivery> {
    let mut hand_over = HandOver::new(req.lease.as_ref());
    let lease = |taken: Option<(&str, i64)>| taken.map(|(node, until)| (node.to_string(), until));
    match (&req.target, &req.event.webhook_url) {
        (Target::Subscribed, Some(url)) => vec![NewDelivery {
            id: Id::generate(IdKind::Delivery),
            endpoint_id: None,
            url: url.clone(),
            lease: lease(hand_over.take(None)),
            send: None,
        }],
        _ => subscribers
            .into_iter()
            .map(|s| NewDelivery {
                id: Id::generate(IdKind::Delivery),
                lease: lease(hand_over.take(Some((&s.id, s.waits_for_claim)))),
                endpoint_id: Some(s.id),
                url: s.url,
                send: Some(s.send),
            })
            .collect(),
    }
}

/// The endpoints each publish of `batch` fans out to, in creation order:
/// for a test send its target (if it is the account's), otherwise the
/// enabled endpoints receiving it (the rule of `Endpoint::receives`: its
/// type accepted, and one of its channels listened to if any are) whose
/// payload filter it passes ([`FanOut`]) — read for the whole batch at
/// once, and only the columns a delivery and a hand-over need.
async fn subscribers(
    conn: &mut PgConnection,
    requests: &[PublishRequest],
    batch: &[usize],
) -> StoreResult<HashMap<usize, Vec<Subscriber>>> {
    let asking: Vec<usize> = batch
        .iter()
        .copied()
        .filter(|&i| {
            let r = &requests[i];
            matches!(r.target, Target::Endpoint(_)) || r.event.webhook_url.is_none()
        })
        .collect();
    let mut found: HashMap<usize, Vec<Subscriber>> = HashMap::new();
    if asking.is_empty() {
        return Ok(found);
    }
    let ords: Vec<i64> = asking.iter().map(|&i| i as i64).collect();
    let accounts: Vec<&str> = asking
        .iter()
        .map(|&i| requests[i].event.account_id.as_str())
        .collect();
    let types: Vec<&str> = asking
        .iter()
        .map(|&i| requests[i].event.event_type.as_str())
        .collect();
    let targets: Vec<Option<&str>> = asking
        .iter()
        .map(|&i| match &requests[i].target {
            Target::Endpoint(id) => Some(id.as_str()),
            Target::Subscribed => None,
        })
        .collect();
    let channels: Vec<String> = asking
        .iter()
        .map(|&i| to_json(&requests[i].event.channels))
        .collect();
    let sql = format!(
        "SELECT r.ord, ep.id, ep.url, ep.disabled, ep.filter, ep.delivery_order, {send} \
         FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[]) \
           AS r(ord, account_id, event_type, target, channels) \
         JOIN endpoints ep ON ep.account_id = r.account_id \
         WHERE CASE WHEN r.target IS NULL \
           THEN NOT ep.disabled AND (ep.event_types = '[]' OR ep.event_types::jsonb ? r.event_type) \
             AND (ep.channels = '[]' OR ep.channels::jsonb ?| \
               ARRAY(SELECT jsonb_array_elements_text(r.channels::jsonb))) \
           ELSE ep.id = r.target END \
         ORDER BY r.ord, ep.seq",
        send = send_columns("ep")
    );
    let mut fan_outs: HashMap<usize, FanOut<'_>> = HashMap::new();
    for r in sqlx::query(&sql)
        .bind(&ords)
        .bind(&accounts)
        .bind(&types)
        .bind(&targets)
        .bind(&channels)
        .fetch_all(&mut *conn)
        .await?
    {
        let ord = r.try_get::<i64, _>("ord")? as usize;
        let request = &requests[ord];
        if request.target == Target::Subscribed {
            let filter: Option<String> = r.try_get("filter")?;
            let fan_out = fan_outs
                .entry(ord)
                .or_insert_with(|| FanOut::new(&request.event));
            if !fan_out.passes(filter.as_deref()) {
                continue;
            }
        }
        found.entry(ord).or_default().push(Subscriber {
            id: r.try_get("id")?,
            url: r.try_get("url")?,
            waits_for_claim: rules::waits_for_claim(
                r.try_get("disabled")?,
                DeliveryOrder::parse(r.try_get::<&str, _>("delivery_order")?).unwrap_or_default(),
            ),
            send: rows::send_settings(&r)?,
        });
    }
    Ok(found)
}

/// An event's own id within its account (Svix's `eventId`), if it has one.
fn external_key(e: &Event) -> Option<Key> {
    e.external_id
        .as_ref()
        .map(|x| (e.account_id.clone(), x.clone()))
}

/// The `external_id`s of `batch` already stored in their accounts.
async fn taken_external_ids(
    conn: &mut PgConnection,
    requests: &[PublishRequest],
    batch: &[usize],
) -> StoreResult<HashSet<Key>> {
    let keys: Vec<Key> = batch
        .iter()
        .filter_map(|&i| external_key(&requests[i].event))
        .collect();
    if keys.is_empty() {
        return Ok(HashSet::new());
    }
    let (accounts, ids): (Vec<String>, Vec<String>) = keys.into_iter().unzip();
    Ok(sqlx::query_as(
        "SELECT e.account_id, e.external_id FROM events e \
         JOIN UNNEST($1::text[], $2::text[]) AS k(account_id, external_id) \
         ON e.account_id = k.account_id AND e.external_id = k.external_id",
    )
    .bind(&accounts)
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .collect())
}

/// The signing secrets of the accounts whose events go to their own URL and
/// may be handed over (those deliveries are signed with the account's).
async fn own_url_secrets(
    conn: &mut PgConnection,
    requests: &[PublishRequest],
    batch: &[usize],
) -> StoreResult<HashMap<String, String>> {
    let accounts: Vec<&str> = batch
        .iter()
        .map(|&i| &requests[i])
        .filter(|r| {
            r.lease.is_some()
                && matches!(r.target, Target::Subscribed)
                && r.event.webhook_url.is_some()
        })
        .map(|r| r.event.account_id.as_str())
        .collect();
    if accounts.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(
        sqlx::query_as("SELECT id, signing_secret FROM accounts WHERE id = ANY($1)")
            .bind(&accounts)
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .collect(),
    )
}

/// Inserts every planned event (an id already stored is skipped), and the
/// deliveries and search rows of those inserted, in one statement; answers
/// the keys inserted. Search rows need no `ON CONFLICT` (whose speculative
/// insertion costs a second WAL record per row): each is unique by
/// construction, the new event's fresh seq and one of its tokens, which
/// [`crate::search::tokens`] never repeats.
async fn insert(
    conn: &mut PgConnection,
    requests: &[PublishRequest],
    searches: &[Vec<String>],
    batch: &[usize],
    plans: &[Option<Vec<NewDelivery>>],
) -> StoreResult<HashSet<Key>> {
    let planned: Vec<(&Event, &Vec<NewDelivery>, &Vec<String>)> = batch
        .iter()
        .zip(plans)
        .filter_map(|(&i, plan)| plan.as_ref().map(|p| (&requests[i].event, p, &searches[i])))
        .collect();
    if planned.is_empty() {
        return Ok(HashSet::new());
    }
    let events: Vec<&Event> = planned.iter().map(|(e, _, _)| *e).collect();
    let tokens: Vec<(&Event, &str)> = planned
        .iter()
        .flat_map(|(e, _, search)| search.iter().map(move |t| (*e, t.as_str())))
        .collect();
    let deliveries: Vec<(&Event, &NewDelivery)> = planned
        .iter()
        .flat_map(|(e, plan, _)| plan.iter().map(move |d| (*e, d)))
        .collect();
    let now = now_ms();
    let inserted: Vec<Key> = sqlx::query_as(
        "WITH ev AS ( \
           INSERT INTO events (id, account_id, event_type, data, webhook_url, payload_hash, created_at, \
             ordering_key, external_id, channels, format) \
           SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], \
             $18::text[], $19::text[], $20::text[], $21::text[]) \
           ON CONFLICT (account_id, id) DO NOTHING \
           RETURNING seq, account_id, id, ordering_key), \
         dl AS ( \
           INSERT INTO deliveries (id, event_seq, event_id, account_id, endpoint_id, url, status, \
             attempts, next_attempt_at, lease_until, leased_by, lease_epoch, created_at, updated_at, \
             ordering_key) \
           SELECT u.id, ev.seq, ev.id, ev.account_id, u.endpoint_id, u.url, 'pending', 0, \
             u.next_at, u.lease_until, u.leased_by, \
             CASE WHEN u.leased_by IS NULL THEN 0 ELSE $17::bigint END, $16, $16, COALESCE(ev.ordering_key, '') \
           FROM UNNEST($8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::bigint[], \
                       $14::bigint[], $15::text[]) WITH ORDINALITY \
             AS u(event_account, event_id, id, endpoint_id, url, next_at, lease_until, leased_by, ord) \
           JOIN ev ON ev.account_id = u.event_account AND ev.id = u.event_id \
           ORDER BY u.ord), \
         sr AS ( \
           INSERT INTO event_search (account_id, token, event_seq) \
           SELECT ev.account_id, s.token, ev.seq \
           FROM UNNEST($22::text[], $23::text[], $24::text[]) AS s(event_account, event_id, token) \
           JOIN ev ON ev.account_id = s.event_account AND ev.id = s.event_id) \
         SELECT account_id, id FROM ev",
    )
    .bind(events.iter().map(|e| e.id.as_str()).collect::<Vec<_>>())
    .bind(events.iter().map(|e| e.account_id.as_str()).collect::<Vec<_>>())
    .bind(events.iter().map(|e| e.event_type.as_str()).collect::<Vec<_>>())
    .bind(events.iter().map(|e| e.data.as_str()).collect::<Vec<_>>())
    .bind(events.iter().map(|e| e.webhook_url.as_deref()).collect::<Vec<_>>())
    .bind(events.iter().map(|e| e.payload_hash.as_str()).collect::<Vec<_>>())
    .bind(events.iter().map(|e| ms(e.created_at)).collect::<Vec<_>>())
    .bind(deliveries.iter().map(|(e, _)| e.account_id.as_str()).collect::<Vec<_>>())
    .bind(deliveries.iter().map(|(e, _)| e.id.as_str()).collect::<Vec<_>>())
    .bind(deliveries.iter().map(|(_, d)| d.id.as_str()).collect::<Vec<_>>())
    .bind(deliveries.iter().map(|(_, d)| d.endpoint_id.as_deref()).collect::<Vec<_>>())
    .bind(deliveries.iter().map(|(_, d)| d.url.as_str()).collect::<Vec<_>>())
    // A handed-over delivery is due when its lease ends, like a claimed one.
    .bind(
        deliveries
            .iter()
            .map(|(e, d)| d.lease.as_ref().map_or(ms(e.created_at), |l| l.1))
            .collect::<Vec<_>>(),
    )
    .bind(deliveries.iter().map(|(_, d)| d.lease.as_ref().map(|l| l.1)).collect::<Vec<_>>())
    .bind(
        deliveries
            .iter()
            .map(|(_, d)| d.lease.as_ref().map(|l| l.0.as_str()))
            .collect::<Vec<_>>(),
    )
    .bind(now)
    .bind(crate::rules::FIRST_LEASE_EPOCH)
    .bind(events.iter().map(|e| e.ordering_key.as_deref()).collect::<Vec<_>>())
    .bind(events.iter().map(|e| e.external_id.as_deref()).collect::<Vec<_>>())
    .bind(events.iter().map(|e| to_json(&e.channels)).collect::<Vec<_>>())
    .bind(events.iter().map(|e| e.format.as_str()).collect::<Vec<_>>())
    .bind(tokens.iter().map(|(e, _)| e.account_id.as_str()).collect::<Vec<_>>())
    .bind(tokens.iter().map(|(e, _)| e.id.as_str()).collect::<Vec<_>>())
    .bind(tokens.iter().map(|(_, t)| *t).collect::<Vec<_>>())
    .fetch_all(&mut *conn)
    .await?;
    Ok(inserted.into_iter().collect())
}

/// The stored events of the publishes `missing` (their ids were taken, or
/// their target was not found), by key.
async fn existing_events(
    conn: &mut PgConnection,
    requests: &[PublishRequest],
    missing: &[usize],
) -> StoreResult<HashMap<Key, Event>> {
    if missing.is_empty() {
        return Ok(HashMap::new());
    }
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM events e \
         JOIN UNNEST($1::text[], $2::text[]) AS k(account_id, id) \
         ON e.account_id = k.account_id AND e.id = k.id"
    );
    let found = sqlx::query(&sql)
        .bind(
            missing
                .iter()
                .map(|&i| requests[i].event.account_id.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            missing
                .iter()
                .map(|&i| requests[i].event.id.as_str())
                .collect::<Vec<_>>(),
        )
        .fetch_all(&mut *conn)
        .await?;
    found
        .iter()
        .map(|r| {
            let e = rows::event(r)?;
            Ok(((e.account_id.clone(), e.id.clone()), e))
        })
        .collect()
}
