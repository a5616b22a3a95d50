//! Hookline's storage seam: the [`Store`] trait and its two implementations.
//!
//! This crate is the only code that writes SQL. The embedded SQLite store
//! (the default) funnels every write through one thread that group-commits
//! batches; the PostgreSQL store serves a fleet of nodes sharing one
//! database. Both pass the same conformance suite (`tests/conformance.rs`).
//! Every method that touches tenant data takes the account id first.

mod encode;
mod error;
pub mod keyring;
mod operational;
mod paging;
mod portal;
pub mod postgres;
mod rules;
mod sealer;
mod search;
mod sql;
pub mod sqlite;
mod stored;
mod types;

use std::sync::Arc;

use async_trait::async_trait;
use hookline_core::{Account, Attempt, Delivery, Endpoint, Event, EventType, Page, Timestamp};

pub use error::{StoreError, StoreResult};
pub use sealer::{KeyError, OpenError, Sealer, ENCRYPTION_KEY_VAR, SEALED_PREFIX};
pub use stored::{ResealBatch, SealedTable};
pub use types::*;

/// A shared handle to whichever store the configuration chose.
pub type SharedStore = Arc<dyn Store>;

/// Opens the store named by a `sqlite://PATH` or `postgres://…` URL and
/// applies pending migrations, sized for a node that serves the API and
/// delivers with the default workers, without encryption keys: for
/// `hookline migrate`, which reads no secret.
pub async fn open(database_url: &str) -> StoreResult<SharedStore> {
    open_store(database_url, &OpenOptions::default()).await
}

/// [`open`], sized for what the node will do and sealing secrets with its
/// keys (see [`OpenOptions`]). Refuses to open a database holding secrets
/// sealed with a key `options.sealer` lacks ([`keyring::admit`]).
pub async fn open_with(database_url: &str, options: &OpenOptions) -> StoreResult<SharedStore> {
    let store = open_store(database_url, options).await?;
    keyring::admit(store.as_ref(), &options.sealer).await?;
    Ok(store)
}

async fn open_store(database_url: &str, options: &OpenOptions) -> StoreResult<SharedStore> {
    if let Some(path) = database_url.strip_prefix("sqlite://") {
        Ok(Arc::new(
            sqlite::SqliteStore::open_with(path, options).await?,
        ))
    } else if database_url.starts_with("postgres://") || database_url.starts_with("postgresql://") {
        Ok(Arc::new(
            postgres::PgStore::connect_with(database_url, options).await?,
        ))
    } else {
        Err(StoreError::Invalid(format!(
            "unsupported database URL `{}`: use sqlite://PATH or postgres://USER@HOST/DB",
            database_url.split('@').next_back().unwrap_or_default()
        )))
    }
}

/// The default of [`OpenOptions::operational_failing_after`].
pub const DEFAULT_FAILING_AFTER: u32 = 5;

/// What the node opening a store will do, so a pooled backend (PostgreSQL)
/// opens as many connections as that needs and no more, and the keys that
/// seal its secrets.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// Whether the node serves the API and dashboard (publishes and reads).
    pub serves_api: bool,
    /// The node's delivery workers (attempts in flight at once); 0 when it
    /// delivers nothing.
    pub worker_concurrency: usize,
    /// Seals secrets before they are written and opens them when read
    /// (`HOOKLINE_ENCRYPTION_KEY`); without keys they are stored plain.
    pub sealer: Sealer,
    /// Consecutive failures after which recording an attempt writes an
    /// `endpoint.failing` operational event (and a success after at least
    /// as many, `endpoint.recovered`).
    pub operational_failing_after: u32,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            serves_api: true,
            worker_concurrency: 512,
            sealer: Sealer::none(),
            operational_failing_after: DEFAULT_FAILING_AFTER,
        }
    }
}

/// Everything Hookline keeps. Tenant-scoped methods take `account_id` first
/// and answer [`StoreError::NotFound`] for another account's objects.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// `Ok` when the database answers.
    async fn ping(&self) -> StoreResult<()>;
    /// Which backend this is, for logs and the benchmark (`sqlite`, `postgres`).
    fn backend(&self) -> &'static str;
    /// The single writer's counters, on a backend that has one (SQLite).
    fn writer_stats(&self) -> Option<WriterStats> {
        None
    }

    // --- settings (admin token hash, dashboard session key) ---
    /// A stored setting.
    async fn setting(&self, key: &str) -> StoreResult<Option<String>>;
    /// Stores `value` under `key` unless a value exists; answers the value kept.
    async fn setting_or_insert(&self, key: &str, value: &str) -> StoreResult<String>;
    /// Stores `value` under `key`, replacing any value.
    async fn set_setting(&self, key: &str, value: &str) -> StoreResult<()>;

    // --- accounts and keys ---
    /// Creates an account with its signing secret; `Conflict` if the id exists.
    async fn create_account(&self, account: &Account, signing_secret: &str) -> StoreResult<()>;
    /// Merchant accounts, oldest first: the internal platform account
    /// (`hookline_core::operational::PLATFORM_ACCOUNT_ID`) is not one.
    async fn list_accounts(&self, page: PageRequest) -> StoreResult<Page<Account>>;
    async fn get_account(&self, account_id: &str) -> StoreResult<Account>;
    /// Saves the account's name and `updated_at`.
    async fn update_account(&self, account: &Account) -> StoreResult<()>;
    /// Deletes the account and everything it owns.
    async fn delete_account(&self, account_id: &str) -> StoreResult<()>;
    /// The secret that signs deliveries to per-event `webhook_url`s.
    async fn account_signing_secret(&self, account_id: &str) -> StoreResult<String>;
    /// Stores an API key (hashed by the caller).
    async fn create_api_key(&self, key: &ApiKey) -> StoreResult<()>;
    /// The account an API key hash belongs to.
    async fn account_for_key_hash(&self, key_hash: &str) -> StoreResult<Option<String>>;
    /// Deletes one of the account's API keys and ends the dashboard sessions
    /// it made; `NotFound` if it is not the account's.
    async fn delete_api_key(&self, account_id: &str, key_id: &str) -> StoreResult<()>;

    // --- dashboard sessions, portal links and branding ---
    /// Stores a session or a portal link; `NotFound` if its account is gone.
    async fn create_dashboard_session(&self, session: &DashboardSession) -> StoreResult<()>;
    /// The live session (`kind = Session`) with this token hash: not expired,
    /// its account and creating API key still there.
    async fn dashboard_session(
        &self,
        id_hash: &str,
        now: Timestamp,
    ) -> StoreResult<Option<DashboardSession>>;
    /// Opens a portal link once: the live link is deleted and a session with
    /// `session_hash` and the link's rights takes its place. `None` when the
    /// link is unknown, used, expired or its owner is gone.
    async fn redeem_portal_link(
        &self,
        link_hash: &str,
        session_hash: &str,
        now: Timestamp,
    ) -> StoreResult<Option<DashboardSession>>;
    /// Ends a session (logout); unknown hashes are ignored.
    async fn end_dashboard_session(&self, id_hash: &str) -> StoreResult<()>;
    /// Deletes expired sessions and links; answers how many.
    async fn purge_dashboard_sessions(&self, now: Timestamp) -> StoreResult<u64>;
    /// The account's own brand, if one was set.
    async fn account_branding(&self, account_id: &str) -> StoreResult<Option<Branding>>;
    /// Replaces the account's brand; `NotFound` for an unknown account.
    async fn set_account_branding(&self, account_id: &str, branding: &Branding) -> StoreResult<()>;

    // --- keys the platform chooses (the Svix-compatible API) ---
    /// The account whose `uid` this is.
    async fn get_account_by_uid(&self, uid: &str) -> StoreResult<Account>;
    /// The account's endpoint whose `uid` this is.
    async fn get_endpoint_by_uid(&self, account_id: &str, uid: &str) -> StoreResult<Endpoint>;
    /// The account's event whose `external_id` this is.
    async fn get_event_by_external_id(
        &self,
        account_id: &str,
        external_id: &str,
    ) -> StoreResult<Event>;

    // --- remembered answers of the `idempotency-key` header ---
    /// The answer saved under `key` in `scope` at or after `since`.
    async fn idempotent_response(
        &self,
        scope: &str,
        key: &str,
        since: Timestamp,
    ) -> StoreResult<Option<StoredResponse>>;
    /// Saves an answer under `key` unless one saved at or after `since` is
    /// there; answers the one kept (the first wins a race).
    async fn save_idempotent_response(
        &self,
        scope: &str,
        key: &str,
        response: &StoredResponse,
        since: Timestamp,
    ) -> StoreResult<StoredResponse>;
    /// Forgets answers saved before `before`; answers how many.
    async fn purge_idempotency_before(&self, before: Timestamp) -> StoreResult<u64>;

    // --- event types ---
    /// Custom event types (the built-in catalogue lives in `hookline-core`).
    async fn list_event_types(&self) -> StoreResult<Vec<EventType>>;
    /// Registers a custom type; `Conflict` if the name exists.
    async fn create_event_type(&self, event_type: &EventType) -> StoreResult<()>;
    /// Replaces a custom type's description, example and schema;
    /// `NotFound` if no custom type has its name.
    async fn update_event_type(&self, event_type: &EventType) -> StoreResult<()>;

    // --- endpoints ---
    async fn create_endpoint(&self, endpoint: &Endpoint) -> StoreResult<()>;
    async fn list_endpoints(
        &self,
        account_id: &str,
        page: PageRequest,
    ) -> StoreResult<Page<Endpoint>>;
    async fn get_endpoint(&self, account_id: &str, endpoint_id: &str) -> StoreResult<Endpoint>;
    /// Saves every mutable field of the endpoint (url, filters, secrets, state…).
    async fn update_endpoint(&self, endpoint: &Endpoint) -> StoreResult<()>;
    /// Deletes the endpoint; its pending deliveries become `failed`.
    async fn delete_endpoint(&self, account_id: &str, endpoint_id: &str) -> StoreResult<()>;

    // --- events ---
    /// Stores the event and its deliveries in one durable transaction.
    async fn publish(&self, request: PublishRequest) -> StoreResult<PublishOutcome>;
    /// Events newest first, filtered by type and delivery status.
    async fn list_events(
        &self,
        account_id: &str,
        filter: &EventFilter,
        page: PageRequest,
    ) -> StoreResult<Page<ListedEvent>>;
    /// Events whose id, or a string or whole-number value anywhere inside
    /// `data` (an order or payment id), is exactly `value`; newest first,
    /// with the same filters and pages as [`Store::list_events`]. Served by
    /// an index of values written with the event, never a scan of `data`.
    async fn search_events(
        &self,
        account_id: &str,
        value: &str,
        filter: &EventFilter,
        page: PageRequest,
    ) -> StoreResult<Page<ListedEvent>>;
    async fn get_event(&self, account_id: &str, event_id: &str) -> StoreResult<Event>;
    /// The event's deliveries, oldest first.
    async fn list_deliveries(&self, account_id: &str, event_id: &str)
        -> StoreResult<Vec<Delivery>>;
    /// Attempts newest first, for one event or one endpoint.
    async fn list_attempts(
        &self,
        account_id: &str,
        of: AttemptsOf,
        page: PageRequest,
    ) -> StoreResult<Page<Attempt>> {
        self.list_attempts_where(account_id, of, &AttemptFilter::default(), page)
            .await
    }
    /// Attempts newest first, for one event or one endpoint, narrowed by `filter`.
    async fn list_attempts_where(
        &self,
        account_id: &str,
        of: AttemptsOf,
        filter: &AttemptFilter,
        page: PageRequest,
    ) -> StoreResult<Page<Attempt>>;
    /// One endpoint's attempts newest first, those `outcome` keeps.
    async fn list_endpoint_attempts(
        &self,
        account_id: &str,
        endpoint_id: &str,
        outcome: OutcomeFilter,
        page: PageRequest,
    ) -> StoreResult<Page<Attempt>> {
        let filter = AttemptFilter {
            outcome,
            ..AttemptFilter::default()
        };
        let of = AttemptsOf::Endpoint(endpoint_id.to_string());
        self.list_attempts_where(account_id, of, &filter, page)
            .await
    }
    /// One attempt, with its exchange; `NotFound` if not the account's.
    async fn get_attempt(&self, account_id: &str, attempt_id: &str) -> StoreResult<Attempt>;
    /// Fresh deliveries of an event: to one endpoint, or to every target it
    /// had before. `NotFound` if the event or endpoint is not the account's.
    async fn resend(
        &self,
        account_id: &str,
        event_id: &str,
        endpoint_id: Option<&str>,
    ) -> StoreResult<Vec<Delivery>>;
    /// Fresh deliveries for every delivery to the endpoint that failed since
    /// `since` (one per event); answers how many were created.
    async fn recover(
        &self,
        account_id: &str,
        endpoint_id: &str,
        since: Timestamp,
    ) -> StoreResult<u64> {
        self.recover_between(account_id, endpoint_id, since, None)
            .await
    }
    /// Like [`Store::recover`], for failures from `since` until `until` (if given).
    async fn recover_between(
        &self,
        account_id: &str,
        endpoint_id: &str,
        since: Timestamp,
        until: Option<Timestamp>,
    ) -> StoreResult<u64>;
    /// The endpoint's deliveries created in `window`, by where they stand.
    async fn endpoint_delivery_counts(
        &self,
        account_id: &str,
        endpoint_id: &str,
        window: TimeWindow,
    ) -> StoreResult<DeliveryCounts>;
    /// The account's pending delivery of its oldest event (the one waiting
    /// longest), if any.
    async fn oldest_pending_delivery(&self, account_id: &str) -> StoreResult<Option<Delivery>>;
    /// Succeeded and failed attempt counts per hour for one endpoint since `since`.
    async fn endpoint_hourly_stats(
        &self,
        account_id: &str,
        endpoint_id: &str,
        since: Timestamp,
    ) -> StoreResult<Vec<HourlyStats>>;

    // --- delivery engine ---
    /// Leases up to `limit` due deliveries until `lease_until`; a delivery
    /// whose lease is live is never handed out twice.
    async fn claim_due(&self, request: &ClaimRequest) -> StoreResult<Vec<DueDelivery>>;
    /// Records finished attempts and their consequences, atomically.
    /// An attempt under a lease that is no longer the delivery's latest
    /// records nothing, not even its attempt row ([`Recorded::stale`]). The
    /// operational events the recorded attempts of merchants' endpoints call
    /// for are written to the outbox in the same transaction, when the
    /// platform account exists.
    async fn record_attempts(&self, results: Vec<AttemptResult>) -> StoreResult<Recorded>;
    /// Up to `limit` operational events waiting to be published, oldest first.
    async fn operational_outbox(&self, limit: u32) -> StoreResult<Vec<OutboxEvent>>;
    /// Removes published events from the outbox.
    async fn delete_from_outbox(&self, seqs: &[i64]) -> StoreResult<()>;
    /// Gives leased deliveries back (graceful shutdown, no room) so they are
    /// due again; a lease no longer the delivery's latest is ignored.
    async fn release(&self, leases: &[Lease]) -> StoreResult<()>;

    // --- the fleet: heartbeats and failover ---
    /// Whether other nodes may share this store (PostgreSQL), so a node
    /// must beat, watch for dead nodes and fence itself. A store one
    /// process owns (SQLite) has no fleet.
    fn has_fleet(&self) -> bool {
        false
    }
    /// Starts a run of `node_id`: replaces any previous run's registration
    /// (a crashed predecessor) and makes the deliveries it held due at once.
    async fn register_node(&self, node_id: &str) -> StoreResult<NodeRegistration>;
    /// Records that run `epoch` of `node_id` is alive, by the database's clock.
    async fn heartbeat(&self, node_id: &str, epoch: i64) -> StoreResult<Heartbeat>;
    /// Ends run `epoch` of `node_id` on a clean shutdown: its registration
    /// goes (so no other node declares it dead later) with any lease it
    /// still holds; answers how many deliveries that made due. A later run
    /// of the id has replaced it already if the epoch is not current:
    /// nothing changes then.
    async fn leave_fleet(&self, node_id: &str, epoch: i64) -> StoreResult<u64>;
    /// Declares dead every node silent for longer than `dead_after` (by the
    /// database's clock) and makes the deliveries they held due at once.
    async fn release_dead_nodes(
        &self,
        dead_after: std::time::Duration,
    ) -> StoreResult<Vec<DeadNode>>;
    /// Wakes `wake` whenever another node commits work that may be due now
    /// (new deliveries left to claim, resends, releases, a dead node's
    /// deliveries). A store whose writes all pass through this process
    /// (SQLite) has nothing to add: the node wakes itself.
    fn watch_due_work(&self, wake: Arc<tokio::sync::Notify>) {
        let _ = wake;
    }
    /// The earliest `next_attempt_at` of a pending, unleased delivery.
    async fn next_due_at(&self) -> StoreResult<Option<Timestamp>>;
    /// Pending deliveries and the creation time of the oldest one.
    async fn pending_stats(&self) -> StoreResult<PendingStats>;
    /// Deletes up to `batch` events created before `before` that have nothing
    /// pending, with their deliveries and attempts; answers how many.
    async fn purge_events_before(&self, before: Timestamp, batch: u32) -> StoreResult<u64>;

    // --- secrets at rest ---
    /// Re-seals with the store's sealing key the secrets of up to `limit`
    /// rows of `table` after `after_seq` (rows whose secrets are plain or
    /// sealed with an older key). A row changed meanwhile by someone else
    /// is left to its writer, who sealed it with its own key.
    async fn reseal(
        &self,
        table: SealedTable,
        after_seq: i64,
        limit: u32,
    ) -> StoreResult<ResealBatch>;
}
