//! The PostgreSQL store: several Hookline nodes sharing one database.
//!
//! Same semantics as the SQLite store, through a pooled sqlx connection;
//! times are BIGINT epoch milliseconds on both. Publishes are
//! group-committed by a few committer tasks (`publish.rs`); every
//! transaction runs on a task of its own ([`detached`]), so a caller that
//! goes away never leaves one half-done on a pooled connection. Claims use `FOR UPDATE SKIP
//! LOCKED`, so nodes never take the same delivery, and leases expire by
//! themselves (a claim moves `next_attempt_at` to the lease's end). Writers
//! lock endpoints before deliveries, always in that order. Migrations are
//! numbered, recorded in `schema_migrations` and applied at connect under a
//! transaction-scoped advisory lock, so nodes starting together don't race.
//!
//! The tables live in the first schema of the connection's `search_path`.
//! To use another schema than `public` (one per test, or several
//! installations in one database), name it the libpq way in the URL, which
//! sqlx passes to the server at connection start-up:
//! `postgres://user@host/db?options=-c%20search_path%3Dname` (the schema
//! must exist).

mod engine;
mod events;
mod fleet;
mod outbox;
mod portal;
mod publish;
mod record;
mod reseal;
mod rows;
mod tenant;
mod wakeup;

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use hookline_core::{Account, Attempt, Delivery, Endpoint, Event, EventType, Page, Timestamp};
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, Executor, PgPool};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::stored::{ResealBatch, SealedTable};
use crate::types::*;
use crate::{OpenOptions, Sealer, Store, StoreError, StoreResult};

const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_init.sql"),
    include_str!("migrations/0002_portal.sql"),
    include_str!("migrations/0003_event_search.sql"),
    include_str!("migrations/0004_failover.sql"),
    include_str!("migrations/0005_endpoint_filter.sql"),
    include_str!("migrations/0006_ordered.sql"),
    include_str!("migrations/0007_svix_compat.sql"),
    include_str!("migrations/0008_operational_outbox.sql"),
    include_str!("migrations/0009_attempt_exchange.sql"),
    include_str!("migrations/0010_delivery_status.sql"),
    include_str!("migrations/0011_fair_claims.sql"),
    include_str!("migrations/0012_search_rows_from_rust.sql"),
    include_str!("migrations/0013_search_rows_by_key.sql"),
];
/// Arbitrary constant naming Hookline's migration lock.
const MIGRATION_LOCK: i64 = 0x686f_6f6b_6c69_6e65;
/// Connections for API and dashboard reads, test sends, resends and upkeep.
const API_CONNECTIONS: u32 = 8;
/// Connections of the delivery engine besides its records: claims,
/// releases and the next-due question.
const ENGINE_CONNECTIONS: u32 = 2;
/// Delivery workers per connection kept for their attempt records (the
/// recorder writes batches one after another; more workers, larger
/// batches, a little more overlap).
const WORKERS_PER_CONNECTION: usize = 256;

/// A pooled connection idle this long is pinged before it is handed out;
/// one used more recently is not. sqlx pings on every acquire by default,
/// a round trip to PostgreSQL before each statement of ours (every publish
/// batch, claim and attempt record). A connection that broke while busy
/// (PostgreSQL restarted) fails its next statement instead, which answers
/// that caller `503` and leaves the pool, as the restart itself does to
/// the statements in flight.
pub(super) const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// A store on PostgreSQL.
pub struct PgStore {
    db: PgPool,
    publisher: publish::Publisher,
    /// One connection of its own for heartbeats and dead-node release, so
    /// a node whose pool is busy is never thought dead for want of one.
    fleet_db: PgPool,
    /// Tells other nodes when this one made work due (LISTEN/NOTIFY).
    notifier: wakeup::Notifier,
    /// Listeners started by [`Store::watch_due_work`], stopped on drop.
    listeners: Mutex<Vec<JoinHandle<()>>>,
    /// Seals secrets before they are written and opens them when read.
    sealer: Sealer,
    /// See [`OpenOptions::operational_failing_after`].
    failing_after: u32,
}

impl Drop for PgStore {
    fn drop(&mut self) {
        for listener in self.listeners.lock().expect("never poisoned").drain(..) {
            listener.abort();
        }
    }
}

impl PgStore {
    /// Connects with a pool sized for the default node, then migrates.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        Self::connect_with(url, &OpenOptions::default()).await
    }

    /// Connects with a pool sized by [`PgStore::pool_size`], then applies
    /// pending migrations and starts the publish committers.
    pub async fn connect_with(url: &str, options: &OpenOptions) -> StoreResult<Self> {
        let db = PgPoolOptions::new()
            .max_connections(Self::pool_size(options))
            .acquire_timeout(Duration::from_secs(10))
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= PING_AFTER_IDLE {
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            })
            .connect(url)
            .await
            .map_err(|e| {
                StoreError::Unavailable(format!(
                    "cannot connect to PostgreSQL at {}: {e}",
                    hookline_core::net::mask_url(url)
                ))
            })?;
        let migrating = db.clone();
        detached(async move { migrate(&migrating).await }).await?;
        Ok(PgStore {
            publisher: publish::Publisher::start(&db),
            fleet_db: own_connection(&db),
            notifier: wakeup::Notifier::spawn(db.clone()),
            db,
            listeners: Mutex::new(Vec::new()),
            sealer: options.sealer.clone(),
            failing_after: options.operational_failing_after,
        })
    }

    /// The connections a node needs: one per publish committer, a few for
    /// reads, and, when it delivers, the engine's plus one per
    /// [`WORKERS_PER_CONNECTION`] workers for records. The default node
    /// (API and 512 workers) opens 14.
    pub fn pool_size(options: &OpenOptions) -> u32 {
        let mut size = publish::COMMITTERS as u32;
        if options.serves_api {
            size += API_CONNECTIONS;
        }
        if options.worker_concurrency > 0 {
            let records = options.worker_concurrency.div_ceil(WORKERS_PER_CONNECTION);
            size += ENGINE_CONNECTIONS + records as u32;
        }
        size
    }

    /// The delivery claim's SQL, for `EXPLAIN` when claims are slow. Its
    /// parameters: `$1` now (Unix ms), `$2` endpoint ids to skip (`text[]`),
    /// `$3` the claim's size, `$4` the lease's end (Unix ms), `$5` the node
    /// id, `$6` account ids to skip (`text[]`).
    pub fn claim_statement() -> String {
        engine::claim_statement()
    }

    /// Runs `work` on the pool (see [`detached`]).
    async fn detached<T, F, Fut>(&self, work: F) -> StoreResult<T>
    where
        F: FnOnce(PgPool) -> Fut,
        Fut: Future<Output = StoreResult<T>> + Send + 'static,
        T: Send + 'static,
    {
        detached(work(self.db.clone())).await
    }
}

/// A pool of one connection beside the node's own pool, on the same server
/// with the same options (schema included), for work that must not queue
/// behind a busy pool: heartbeats, and the LISTEN that wake-ups arrive on.
///
/// Its callers give up after one heartbeat interval (2 s by default), but
/// their calls run on as tasks of their own (see [`detached`]); a short
/// acquire timeout keeps those from queuing up behind a connection that
/// cannot be made while PostgreSQL is down, so the first call after it is
/// back gets the connection at once.
fn own_connection(db: &PgPool) -> PgPool {
    PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(1))
        .connect_lazy_with((*db.connect_options()).clone())
}

/// Runs `work` — anything that opens a transaction — on a task of its own.
/// A caller's future may be dropped at any await (a client hanging up, a
/// timeout), and sqlx 0.8 then returns the connection to the pool with its
/// `BEGIN` or `COMMIT` sent but unanswered: still inside the transaction,
/// so the next borrower's statements would run in it ("there is already a
/// transaction in progress"), or about to roll back one that committed
/// ("there is no transaction in progress"). A task of its own runs to the
/// end whatever happens to its caller, so no statement of one caller ever
/// runs inside another's transaction.
async fn detached<T, Fut>(work: Fut) -> StoreResult<T>
where
    Fut: Future<Output = StoreResult<T>> + Send + 'static,
    T: Send + 'static,
{
    tokio::spawn(work)
        .await
        .map_err(|e| StoreError::Unavailable(format!("a database task failed: {e}")))?
}

async fn migrate(db: &PgPool) -> StoreResult<()> {
    let mut tx = db.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *tx)
        .await?;
    let schema: Option<String> = sqlx::query_scalar("SELECT current_schema()")
        .fetch_one(&mut *tx)
        .await?;
    if schema.is_none() {
        return Err(StoreError::Invalid(
            "the search_path of the database URL names no existing schema".into(),
        ));
    }
    sqlx::query("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)")
        .execute(&mut *tx)
        .await?;
    let current: i64 =
        sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
            .fetch_one(&mut *tx)
            .await?;
    if current as usize > MIGRATIONS.len() {
        return Err(StoreError::Unavailable(format!(
            "the database schema is version {current}, newer than this hookline ({}); upgrade hookline",
            MIGRATIONS.len()
        )));
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        // A plain string runs as a simple query (several statements at once);
        // unlike `raw_sql`, its future is `Send`, so `open` can be spawned.
        (&mut *tx).execute(*sql).await?;
        sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
            .bind(index as i64 + 1)
            .bind(rows::now_ms())
            .execute(&mut *tx)
            .await?;
        tracing::info!(version = index + 1, "applied PostgreSQL migration");
    }
    tx.commit().await?;
    Ok(())
}

#[async_trait]
impl Store for PgStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.db).await?;
        Ok(())
    }

    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn setting(&self, key: &str) -> StoreResult<Option<String>> {
        tenant::setting(&self.db, key).await
    }

    async fn setting_or_insert(&self, key: &str, value: &str) -> StoreResult<String> {
        tenant::setting_or_insert(&self.db, key, value).await
    }

    async fn set_setting(&self, key: &str, value: &str) -> StoreResult<()> {
        tenant::set_setting(&self.db, key, value).await
    }

    async fn create_account(&self, account: &Account, signing_secret: &str) -> StoreResult<()> {
        let secret = self.sealer.seal_secret(signing_secret)?;
        tenant::create_account(&self.db, account, &secret).await
    }

    async fn list_accounts(&self, page: PageRequest) -> StoreResult<Page<Account>> {
        tenant::list_accounts(&self.db, page).await
    }

    async fn get_account(&self, account_id: &str) -> StoreResult<Account> {
        tenant::get_account(&mut *self.db.acquire().await?, account_id).await
    }

    async fn update_account(&self, account: &Account) -> StoreResult<()> {
        tenant::update_account(&self.db, account).await
    }

    async fn delete_account(&self, account_id: &str) -> StoreResult<()> {
        let id = account_id.to_string();
        self.detached(|db| async move { tenant::delete_account(&db, &id).await })
            .await
    }

    async fn account_signing_secret(&self, account_id: &str) -> StoreResult<String> {
        let stored = tenant::account_signing_secret(&self.db, account_id).await?;
        Ok(self.sealer.open(&stored)?)
    }

    async fn create_api_key(&self, key: &ApiKey) -> StoreResult<()> {
        let key = key.clone();
        self.detached(|db| async move { tenant::create_api_key(&db, &key).await })
            .await
    }

    async fn account_for_key_hash(&self, key_hash: &str) -> StoreResult<Option<String>> {
        tenant::account_for_key_hash(&self.db, key_hash).await
    }

    async fn delete_api_key(&self, account_id: &str, key_id: &str) -> StoreResult<()> {
        portal::delete_api_key(&self.db, account_id, key_id).await
    }

    async fn create_dashboard_session(&self, session: &DashboardSession) -> StoreResult<()> {
        portal::create_session(&self.db, session).await
    }

    async fn dashboard_session(
        &self,
        id_hash: &str,
        now: Timestamp,
    ) -> StoreResult<Option<DashboardSession>> {
        portal::live_session(&self.db, id_hash, now).await
    }

    async fn redeem_portal_link(
        &self,
        link_hash: &str,
        session_hash: &str,
        now: Timestamp,
    ) -> StoreResult<Option<DashboardSession>> {
        portal::redeem_link(&self.db, link_hash, session_hash, now).await
    }

    async fn end_dashboard_session(&self, id_hash: &str) -> StoreResult<()> {
        portal::end_session(&self.db, id_hash).await
    }

    async fn purge_dashboard_sessions(&self, now: Timestamp) -> StoreResult<u64> {
        portal::purge_sessions(&self.db, now).await
    }

    async fn account_branding(&self, account_id: &str) -> StoreResult<Option<Branding>> {
        portal::branding(&self.db, account_id).await
    }

    async fn set_account_branding(&self, account_id: &str, branding: &Branding) -> StoreResult<()> {
        portal::set_branding(&self.db, account_id, branding).await
    }

    async fn get_account_by_uid(&self, uid: &str) -> StoreResult<Account> {
        tenant::get_account_by_uid(&self.db, uid).await
    }

    async fn get_endpoint_by_uid(&self, account_id: &str, uid: &str) -> StoreResult<Endpoint> {
        let endpoint = tenant::get_endpoint_by_uid(&self.db, account_id, uid).await?;
        self.sealer.open_endpoint(endpoint)
    }

    async fn get_event_by_external_id(
        &self,
        account_id: &str,
        external_id: &str,
    ) -> StoreResult<Event> {
        let mut conn = self.db.acquire().await?;
        let event = events::find_event_by_external_id(&mut conn, account_id, external_id)
            .await?
            .ok_or(StoreError::NotFound)?;
        self.sealer.open_event(event)
    }

    async fn idempotent_response(
        &self,
        scope: &str,
        key: &str,
        since: Timestamp,
    ) -> StoreResult<Option<StoredResponse>> {
        tenant::idempotent_response(&self.db, scope, key, since)
            .await?
            .map(|answer| self.sealer.open_answer(answer))
            .transpose()
    }

    async fn save_idempotent_response(
        &self,
        scope: &str,
        key: &str,
        response: &StoredResponse,
        since: Timestamp,
    ) -> StoreResult<StoredResponse> {
        let response = self.sealer.seal_answer(response);
        let kept = tenant::save_idempotent_response(&self.db, scope, key, &response, since).await?;
        self.sealer.open_answer(kept)
    }

    async fn purge_idempotency_before(&self, before: Timestamp) -> StoreResult<u64> {
        tenant::purge_idempotency_before(&self.db, before).await
    }

    async fn list_event_types(&self) -> StoreResult<Vec<EventType>> {
        tenant::list_event_types(&self.db).await
    }

    async fn create_event_type(&self, event_type: &EventType) -> StoreResult<()> {
        tenant::create_event_type(&self.db, event_type).await
    }

    async fn update_event_type(&self, event_type: &EventType) -> StoreResult<()> {
        tenant::update_event_type(&self.db, event_type).await
    }

    async fn create_endpoint(&self, endpoint: &Endpoint) -> StoreResult<()> {
        let endpoint = self.sealer.seal_endpoint(endpoint)?;
        self.detached(|db| async move { tenant::create_endpoint(&db, &endpoint).await })
            .await
    }

    async fn list_endpoints(
        &self,
        account_id: &str,
        page: PageRequest,
    ) -> StoreResult<Page<Endpoint>> {
        let page = tenant::list_endpoints(&self.db, account_id, page).await?;
        self.sealer.open_endpoints(page)
    }

    async fn get_endpoint(&self, account_id: &str, endpoint_id: &str) -> StoreResult<Endpoint> {
        let endpoint =
            tenant::get_endpoint(&mut *self.db.acquire().await?, account_id, endpoint_id).await?;
        self.sealer.open_endpoint(endpoint)
    }

    async fn update_endpoint(&self, endpoint: &Endpoint) -> StoreResult<()> {
        let enabled = !endpoint.disabled;
        let endpoint = self.sealer.seal_endpoint(endpoint)?;
        self.detached(|db| async move { tenant::update_endpoint(&db, &endpoint).await })
            .await?;
        // Re-enabling an endpoint makes its parked deliveries due.
        if enabled {
            self.notifier.due_work();
        }
        Ok(())
    }

    async fn delete_endpoint(&self, account_id: &str, endpoint_id: &str) -> StoreResult<()> {
        let (account, id) = (account_id.to_string(), endpoint_id.to_string());
        self.detached(|db| async move { tenant::delete_endpoint(&db, &account, &id).await })
            .await
    }

    async fn publish(&self, mut request: PublishRequest) -> StoreResult<PublishOutcome> {
        request.event = self.sealer.seal_event(&request.event)?;
        let outcome = self.publisher.publish(request).await?;
        if let PublishOutcome::Created {
            deliveries, leased, ..
        } = &outcome
        {
            if *deliveries as usize > leased.len() {
                self.notifier.due_work();
            }
        }
        self.sealer.open_outcome(outcome)
    }

    async fn list_events(
        &self,
        account_id: &str,
        filter: &EventFilter,
        page: PageRequest,
    ) -> StoreResult<Page<ListedEvent>> {
        let page = events::list_events(&self.db, account_id, None, filter, page).await?;
        self.sealer.open_listed(page)
    }

    async fn search_events(
        &self,
        account_id: &str,
        value: &str,
        filter: &EventFilter,
        page: PageRequest,
    ) -> StoreResult<Page<ListedEvent>> {
        let page = events::list_events(&self.db, account_id, Some(value), filter, page).await?;
        self.sealer.open_listed(page)
    }

    async fn get_event(&self, account_id: &str, event_id: &str) -> StoreResult<Event> {
        let (event, _) =
            events::get_event(&mut *self.db.acquire().await?, account_id, event_id).await?;
        self.sealer.open_event(event)
    }

    async fn list_deliveries(
        &self,
        account_id: &str,
        event_id: &str,
    ) -> StoreResult<Vec<Delivery>> {
        let deliveries = events::list_deliveries(&self.db, account_id, event_id).await?;
        self.sealer.open_deliveries(deliveries)
    }

    async fn list_attempts_where(
        &self,
        account_id: &str,
        of: AttemptsOf,
        filter: &AttemptFilter,
        page: PageRequest,
    ) -> StoreResult<Page<Attempt>> {
        events::list_attempts(&self.db, account_id, &of, filter, page).await
    }

    async fn get_attempt(&self, account_id: &str, attempt_id: &str) -> StoreResult<Attempt> {
        events::get_attempt(&self.db, account_id, attempt_id).await
    }

    async fn resend(
        &self,
        account_id: &str,
        event_id: &str,
        endpoint_id: Option<&str>,
    ) -> StoreResult<Vec<Delivery>> {
        let (account, event) = (account_id.to_string(), event_id.to_string());
        let endpoint = endpoint_id.map(str::to_string);
        let fresh = self
            .detached(|db| async move {
                events::resend(&db, &account, &event, endpoint.as_deref()).await
            })
            .await?;
        if !fresh.is_empty() {
            self.notifier.due_work();
        }
        self.sealer.open_deliveries(fresh)
    }

    async fn recover_between(
        &self,
        account_id: &str,
        endpoint_id: &str,
        since: Timestamp,
        until: Option<Timestamp>,
    ) -> StoreResult<u64> {
        let (account, endpoint) = (account_id.to_string(), endpoint_id.to_string());
        let recovered = self
            .detached(move |db| async move {
                events::recover(&db, &account, &endpoint, since, until).await
            })
            .await?;
        if recovered > 0 {
            self.notifier.due_work();
        }
        Ok(recovered)
    }

    async fn endpoint_delivery_counts(
        &self,
        account_id: &str,
        endpoint_id: &str,
        window: TimeWindow,
    ) -> StoreResult<DeliveryCounts> {
        events::endpoint_delivery_counts(&self.db, account_id, endpoint_id, &window).await
    }

    async fn oldest_pending_delivery(&self, account_id: &str) -> StoreResult<Option<Delivery>> {
        events::oldest_pending_delivery(&self.db, account_id).await
    }

    async fn endpoint_hourly_stats(
        &self,
        account_id: &str,
        endpoint_id: &str,
        since: Timestamp,
    ) -> StoreResult<Vec<HourlyStats>> {
        events::endpoint_hourly_stats(&self.db, account_id, endpoint_id, since).await
    }

    async fn claim_due(&self, request: &ClaimRequest) -> StoreResult<Vec<DueDelivery>> {
        let request = request.clone();
        let due = self
            .detached(|db| async move { engine::claim_due(&db, &request).await })
            .await?;
        Ok(self.sealer.open_due_batch(due))
    }

    async fn record_attempts(&self, results: Vec<AttemptResult>) -> StoreResult<Recorded> {
        let failing_after = self.failing_after;
        self.detached(
            |db| async move { record::record_attempts(&db, &results, failing_after).await },
        )
        .await
    }

    async fn operational_outbox(&self, limit: u32) -> StoreResult<Vec<OutboxEvent>> {
        outbox::list(&self.db, limit).await
    }

    async fn delete_from_outbox(&self, seqs: &[i64]) -> StoreResult<()> {
        if seqs.is_empty() {
            return Ok(());
        }
        outbox::delete(&self.db, seqs).await
    }

    async fn release(&self, leases: &[Lease]) -> StoreResult<()> {
        if leases.is_empty() {
            return Ok(());
        }
        engine::release(&self.db, leases).await?;
        self.notifier.due_work();
        Ok(())
    }

    async fn register_node(&self, node_id: &str) -> StoreResult<NodeRegistration> {
        let node_id = node_id.to_string();
        let registration = detached(fleet::register_node(self.fleet_db.clone(), node_id)).await?;
        if registration.released > 0 {
            self.notifier.due_work();
        }
        Ok(registration)
    }

    fn has_fleet(&self) -> bool {
        true
    }

    async fn heartbeat(&self, node_id: &str, epoch: i64) -> StoreResult<Heartbeat> {
        // On a task of its own: a caller that gives up waiting (a timed-out
        // heartbeat) never leaves the fleet's one connection mid-statement.
        let (db, node_id) = (self.fleet_db.clone(), node_id.to_string());
        detached(async move { fleet::heartbeat(&db, &node_id, epoch).await }).await
    }

    async fn leave_fleet(&self, node_id: &str, epoch: i64) -> StoreResult<u64> {
        let left = detached(fleet::leave_fleet(
            self.fleet_db.clone(),
            node_id.to_string(),
            epoch,
        ))
        .await?;
        if left > 0 {
            self.notifier.due_work();
        }
        Ok(left)
    }

    async fn release_dead_nodes(&self, dead_after: Duration) -> StoreResult<Vec<DeadNode>> {
        let dead_after_ms = i64::try_from(dead_after.as_millis()).unwrap_or(i64::MAX);
        let dead = detached(fleet::release_dead_nodes(
            self.fleet_db.clone(),
            dead_after_ms,
        ))
        .await?;
        if dead.iter().any(|d| d.released > 0) {
            self.notifier.due_work();
        }
        Ok(dead)
    }

    fn watch_due_work(&self, wake: Arc<Notify>) {
        let listener = self.notifier.listen(own_connection(&self.db), wake);
        self.listeners
            .lock()
            .expect("never poisoned")
            .push(listener);
    }

    async fn next_due_at(&self) -> StoreResult<Option<Timestamp>> {
        engine::next_due_at(&self.db).await
    }

    async fn pending_stats(&self) -> StoreResult<PendingStats> {
        engine::pending_stats(&self.db).await
    }

    async fn purge_events_before(&self, before: Timestamp, batch: u32) -> StoreResult<u64> {
        self.detached(|db| async move { engine::purge_events_before(&db, before, batch).await })
            .await
    }

    async fn reseal(
        &self,
        table: SealedTable,
        after_seq: i64,
        limit: u32,
    ) -> StoreResult<ResealBatch> {
        let sealer = self.sealer.clone();
        self.detached(
            |db| async move { reseal::reseal(&db, &sealer, table, after_seq, limit).await },
        )
        .await
    }
}
