//! The suite's harness: a store on a scratch database (a temporary directory
//! for SQLite, a fresh schema for PostgreSQL, both removed on drop) and
//! fixtures for the nouns the bodies need.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use hookline_core::{
    Account, Attempt, AttemptOutcome, Delivery, DeliveryOrder, Endpoint, Event, EventFormat, Id,
    IdKind, Page, PayloadMode, Timestamp,
};
use hookline_store::{
    open, open_with, AttemptResult, ClaimRequest, DueDelivery, EndpointEffect, ListedEvent,
    NextStep, OpenOptions, PageRequest, PublishOutcome, PublishRequest, Sealer, SharedStore,
    StoreResult, Target,
};
use hookline_testkit::{Backend, ScratchSchema};
use sqlx::Connection;

pub(crate) const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
pub(crate) const ACCOUNT_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

/// A store on its own scratch database.
pub(crate) struct TestStore {
    // Declared first: the store closes before its scratch space goes.
    pub(crate) store: SharedStore,
    pub(crate) url: String,
    _scratch: Scratch,
}

enum Scratch {
    Dir(#[allow(dead_code)] tempfile::TempDir),
    Schema(#[allow(dead_code)] PgSchema),
}

impl TestStore {
    /// A store on `backend`; `None` for PostgreSQL when
    /// `HOOKLINE_TEST_PG_URL` is unset.
    pub(crate) async fn start(backend: Backend) -> Option<TestStore> {
        match backend {
            Backend::Sqlite => Some(TestStore::sqlite().await),
            Backend::Postgres => TestStore::postgres().await,
        }
    }

    pub(crate) async fn sqlite() -> TestStore {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = format!("sqlite://{}/hookline.db", dir.path().display());
        TestStore {
            store: open(&url).await.expect("SQLite opens"),
            url,
            _scratch: Scratch::Dir(dir),
        }
    }

    /// `None` (after a notice) when `HOOKLINE_TEST_PG_URL` is unset.
    pub(crate) async fn postgres() -> Option<TestStore> {
        let schema = PgSchema::create().await?;
        let url = schema.url();
        Some(TestStore {
            store: open(&url).await.expect("PostgreSQL opens"),
            url,
            _scratch: Scratch::Schema(schema),
        })
    }

    pub(crate) fn is_postgres(&self) -> bool {
        matches!(self._scratch, Scratch::Schema(_))
    }

    /// Closes the store and opens its database again, as a restarted node
    /// would.
    pub(crate) async fn restart(self) -> TestStore {
        let TestStore {
            store,
            url,
            _scratch,
        } = self;
        drop(store);
        TestStore {
            store: open(&url).await.expect("the database reopens"),
            url,
            _scratch,
        }
    }

    /// Closes the store and opens its database again as a node whose
    /// `HOOKLINE_ENCRYPTION_KEY` is `keys`.
    pub(crate) async fn reopen_with(self, keys: &str) -> TestStore {
        let TestStore {
            store,
            url,
            _scratch,
        } = self;
        drop(store);
        TestStore {
            store: open_keyed(&url, keys).await.expect("the database reopens"),
            url,
            _scratch,
        }
    }

    /// The error opening the database as a node with `keys` answers, if
    /// any; the store is reopened without keys afterwards (SQLite serves one
    /// store at a time, so it is closed for the attempt).
    pub(crate) async fn open_error(self, keys: &str) -> (TestStore, Option<String>) {
        let TestStore {
            store,
            url,
            _scratch,
        } = self;
        drop(store);
        let error = open_keyed(&url, keys).await.err().map(|e| e.to_string());
        let reopened = TestStore {
            store: open(&url).await.expect("the database reopens"),
            url,
            _scratch,
        };
        (reopened, error)
    }

    /// Every row of the tables that may hold secrets, as text.
    pub(crate) async fn rows_text(&self) -> String {
        let mut text = String::new();
        for table in TABLES {
            match &self._scratch {
                Scratch::Schema(schema) => text.push_str(
                    &schema
                        .text(&format!(
                            "SELECT COALESCE(string_agg(t::text, ' '), '') FROM {table} t"
                        ))
                        .await,
                ),
                Scratch::Dir(_) => {
                    let conn = self.sqlite_connection();
                    let mut stmt = conn
                        .prepare(&format!("SELECT * FROM {table}"))
                        .expect("the table exists");
                    let columns = stmt.column_count();
                    let mut rows = stmt.query([]).expect("the table reads");
                    while let Some(row) = rows.next().expect("a row") {
                        for i in 0..columns {
                            if let Ok(Some(value)) = row.get::<_, Option<String>>(i) {
                                text.push_str(&value);
                                text.push(' ');
                            }
                        }
                    }
                }
            }
        }
        text
    }

    /// Everything the database holds, as text: the SQLite files' bytes
    /// (database and write-ahead log, free pages included), or every
    /// PostgreSQL row.
    pub(crate) async fn raw_text(&self) -> String {
        match &self._scratch {
            Scratch::Schema(_) => self.rows_text().await,
            Scratch::Dir(_) => {
                let path = self.url.strip_prefix("sqlite://").expect("a SQLite URL");
                let mut bytes = Vec::new();
                for file in [path.to_string(), format!("{path}-wal")] {
                    bytes.extend(std::fs::read(&file).unwrap_or_default());
                }
                String::from_utf8_lossy(&bytes).into_owned()
            }
        }
    }

    /// The `BIGINT` answer of `sql`, asked of the database directly (to see
    /// what the `Store` trait does not show, such as who holds a lease).
    pub(crate) async fn scalar(&self, sql: &str) -> i64 {
        match &self._scratch {
            Scratch::Schema(schema) => schema.scalar(sql).await,
            Scratch::Dir(_) => self
                .sqlite_connection()
                .query_row(sql, [], |r| r.get(0))
                .expect("the query answers"),
        }
    }

    /// Runs `sql` on the database directly, behind the store's back (to
    /// stage a race the store cannot be asked for).
    pub(crate) async fn execute(&self, sql: &str) {
        match &self._scratch {
            Scratch::Schema(schema) => schema.execute(sql).await,
            Scratch::Dir(_) => {
                self.sqlite_connection()
                    .execute_batch(sql)
                    .expect("the statement runs");
            }
        }
    }

    fn sqlite_connection(&self) -> rusqlite::Connection {
        let path = self.url.strip_prefix("sqlite://").expect("a SQLite URL");
        let conn = rusqlite::Connection::open(path).expect("the database file opens");
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .expect("a busy timeout");
        conn
    }

    /// Another node on the same database: a second PostgreSQL store with
    /// its own pool; SQLite serves one node, so the same store.
    pub(crate) async fn second_node(&self) -> SharedStore {
        if self.is_postgres() {
            open(&self.url).await.expect("a second node connects")
        } else {
            self.store.clone()
        }
    }
}

/// A scratch schema (from the shared test kit) that also answers queries
/// behind the store's back.
pub(crate) struct PgSchema {
    scratch: ScratchSchema,
}

impl PgSchema {
    /// `None` (after a notice) when `HOOKLINE_TEST_PG_URL` is unset.
    pub(crate) async fn create() -> Option<PgSchema> {
        let scratch = ScratchSchema::create("hookline_test").await?;
        Some(PgSchema { scratch })
    }

    /// The test URL with the schema as its `search_path`.
    pub(crate) fn url(&self) -> String {
        self.scratch.url()
    }

    /// The `BIGINT` answer of `sql`, run in this schema.
    pub(crate) async fn scalar(&self, sql: &str) -> i64 {
        let mut conn = sqlx::PgConnection::connect(&self.url())
            .await
            .expect("the schema's URL connects");
        sqlx::query_scalar(sql)
            .fetch_one(&mut conn)
            .await
            .expect("the query answers")
    }

    /// The `TEXT` answer of `sql`, run in this schema.
    pub(crate) async fn text(&self, sql: &str) -> String {
        let mut conn = sqlx::PgConnection::connect(&self.url())
            .await
            .expect("the schema's URL connects");
        sqlx::query_scalar(sql)
            .fetch_one(&mut conn)
            .await
            .expect("the query answers")
    }

    /// Runs `sql` in this schema.
    pub(crate) async fn execute(&self, sql: &str) {
        let mut conn = sqlx::PgConnection::connect(&self.url())
            .await
            .expect("the schema's URL connects");
        sqlx::query(sql)
            .execute(&mut conn)
            .await
            .expect("the statement runs");
    }
}

/// The tables that may hold secrets.
const TABLES: [&str; 7] = [
    "settings",
    "accounts",
    "endpoints",
    "events",
    "deliveries",
    "attempts",
    "idempotency_keys",
];

/// A store opened as a node whose `HOOKLINE_ENCRYPTION_KEY` is `keys`.
pub(crate) async fn open_keyed(url: &str, keys: &str) -> StoreResult<SharedStore> {
    let options = OpenOptions {
        sealer: Sealer::parse(keys).expect("valid keys"),
        ..OpenOptions::default()
    };
    open_with(url, &options).await
}

/// Now, at the millisecond precision the stores keep.
pub(crate) fn now() -> Timestamp {
    ms(Utc::now())
}

/// `t` cut to whole milliseconds.
pub(crate) fn ms(t: Timestamp) -> Timestamp {
    DateTime::from_timestamp_millis(t.timestamp_millis()).expect("in range")
}

/// The request for the page after `page`.
pub(crate) fn after<T>(page: &Page<T>, limit: u32) -> PageRequest {
    PageRequest::after(limit, Some(seq(page.next_cursor.as_deref(), "a next page")))
}

/// The request for the page before `page`, read backwards.
pub(crate) fn before<T>(page: &Page<T>, limit: u32) -> PageRequest {
    PageRequest::before(limit, seq(page.prev_cursor.as_deref(), "a previous page"))
}

fn seq(cursor: Option<&str>, what: &str) -> i64 {
    cursor
        .unwrap_or_else(|| panic!("no cursor to {what}"))
        .parse()
        .expect("cursors are decimal seqs")
}

pub(crate) fn new_account(name: &str) -> Account {
    let now = now();
    Account {
        id: Id::generate(IdKind::Account),
        name: name.into(),
        uid: None,
        metadata: Default::default(),
        created_at: now,
        updated_at: now,
    }
}

/// A stored account's id.
pub(crate) async fn account(store: &SharedStore) -> String {
    let account = new_account("Acme");
    store
        .create_account(&account, ACCOUNT_SECRET)
        .await
        .expect("account created");
    account.id
}

/// An enabled endpoint for every type, not yet stored.
pub(crate) fn new_endpoint(account: &str) -> Endpoint {
    let now = now();
    Endpoint {
        id: Id::generate(IdKind::Endpoint),
        account_id: account.into(),
        url: "https://receiver.example/hook".into(),
        description: String::new(),
        event_types: Vec::new(),
        channels: Vec::new(),
        uid: None,
        version: 1,
        disabled: false,
        disabled_reason: None,
        payload: PayloadMode::Full,
        headers: BTreeMap::new(),
        secret: SECRET.into(),
        previous_secret: None,
        previous_secret_expires_at: None,
        rate_limit_per_sec: None,
        metadata: Default::default(),
        failing_since: None,
        filter: None,
        delivery_order: DeliveryOrder::Unordered,
        created_at: now,
        updated_at: now,
    }
}

/// A stored endpoint subscribed to `types` (empty: every type).
pub(crate) async fn endpoint(store: &SharedStore, account: &str, types: &[&str]) -> Endpoint {
    let mut ep = new_endpoint(account);
    ep.event_types = types.iter().map(|t| t.to_string()).collect();
    store.create_endpoint(&ep).await.expect("endpoint created");
    ep
}

/// An event of `event_type` created a second ago (so its deliveries are due).
pub(crate) fn new_event(account: &str, event_type: &str) -> Event {
    let id = Id::generate(IdKind::Event);
    Event {
        data: format!("{{\"object\": \"{id}\", \"amount\": 1250}}"),
        payload_hash: format!("hash-of-{id}"),
        id,
        account_id: account.into(),
        event_type: event_type.into(),
        webhook_url: None,
        ordering_key: None,
        external_id: None,
        channels: Vec::new(),
        format: EventFormat::Hookline,
        created_at: now() - Duration::seconds(1),
    }
}

pub(crate) async fn publish_to(
    store: &SharedStore,
    event: &Event,
    target: Target,
) -> PublishOutcome {
    store
        .publish(PublishRequest {
            event: event.clone(),
            target,
            lease: None,
        })
        .await
        .expect("publish answers")
}

/// Publishes `event` to its subscribers; answers how many deliveries it got.
pub(crate) async fn publish(store: &SharedStore, event: &Event) -> u32 {
    match publish_to(store, event, Target::Subscribed).await {
        PublishOutcome::Created {
            event: e,
            deliveries,
            ..
        } => {
            assert_eq!(&e, event);
            deliveries
        }
        other => panic!("expected Created, got {other:?}"),
    }
}

/// Publishes a new event of `event_type`; answers it.
pub(crate) async fn publish_new(store: &SharedStore, account: &str, event_type: &str) -> Event {
    let event = new_event(account, event_type);
    publish(store, &event).await;
    event
}

/// A claim at `at` for up to `limit` deliveries, leased for `lease_secs`.
pub(crate) fn claim_at(at: Timestamp, limit: u32, lease_secs: i64) -> ClaimRequest {
    ClaimRequest {
        now: at,
        limit,
        lease_until: at + Duration::seconds(lease_secs),
        node_id: "node-test".into(),
        skip_endpoints: Vec::new(),
        skip_accounts: Vec::new(),
    }
}

/// A claim now for up to `limit` deliveries, leased for a minute.
pub(crate) fn claim(limit: u32) -> ClaimRequest {
    claim_at(Utc::now(), limit, 60)
}

/// Attempt number `n` of `delivery`, started at `started_at`.
pub(crate) fn attempt(
    delivery: &Delivery,
    n: u32,
    started_at: Timestamp,
    status_code: Option<u16>,
) -> Attempt {
    let outcome = match status_code {
        Some(200..=299) => AttemptOutcome::Succeeded,
        Some(_) => AttemptOutcome::HttpError,
        None => AttemptOutcome::ConnectionError,
    };
    Attempt {
        id: Id::generate(IdKind::Attempt),
        delivery_id: delivery.id.clone(),
        event_id: delivery.event_id.clone(),
        account_id: delivery.account_id.clone(),
        endpoint_id: delivery.endpoint_id.clone(),
        url: delivery.url.clone(),
        attempt: n,
        started_at: ms(started_at),
        duration_ms: 42,
        outcome,
        status_code,
        error: status_code.is_none().then(|| "connection refused".into()),
        response_body: status_code.map_or(String::new(), |c| format!("status {c}")),
        manual: false,
        exchange: Some(hookline_core::Exchange {
            request_headers: vec![
                ("content-type".into(), "application/json".into()),
                ("webhook-signature".into(), format!("v1,sig-of-{n}")),
            ],
            payload: hookline_core::PayloadMode::Full,
            response_headers: status_code.map_or_else(Vec::new, |_| {
                vec![("x-served-by".into(), "receiver".into())]
            }),
        }),
    }
}

/// An attempt's result under a delivery's first, never-claimed state
/// (lease epoch 0); see [`under`] for an attempt under a claim.
pub(crate) fn result(attempt: Attempt, next: NextStep, effect: EndpointEffect) -> AttemptResult {
    AttemptResult {
        attempt,
        next,
        endpoint_effect: effect,
        lease_epoch: 0,
    }
}

/// `result` made under the lease of `due`.
pub(crate) fn under(due: &DueDelivery, mut result: AttemptResult) -> AttemptResult {
    result.lease_epoch = due.lease_epoch;
    result
}

/// `result` made under the lease its delivery got in `claimed`.
pub(crate) fn under_claim(claimed: &[DueDelivery], result: AttemptResult) -> AttemptResult {
    let due = claimed
        .iter()
        .find(|d| d.delivery_id == result.attempt.delivery_id)
        .expect("the delivery was claimed");
    under(due, result)
}

/// The deliveries of an event, oldest first.
pub(crate) async fn deliveries(store: &SharedStore, event: &Event) -> Vec<Delivery> {
    store
        .list_deliveries(&event.account_id, &event.id)
        .await
        .expect("deliveries listed")
}

/// The only delivery of an event.
pub(crate) async fn only_delivery(store: &SharedStore, event: &Event) -> Delivery {
    let mut all = deliveries(store, event).await;
    assert_eq!(all.len(), 1, "one delivery expected");
    all.remove(0)
}

/// The ids of a page of listed events, in order.
pub(crate) fn event_ids(page: StoreResult<Page<ListedEvent>>) -> Vec<String> {
    page.unwrap()
        .items
        .into_iter()
        .map(|l| l.event.id)
        .collect()
}
