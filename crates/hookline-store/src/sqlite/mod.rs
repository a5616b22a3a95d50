//! The embedded SQLite store, Hookline's default.
//!
//! One writer thread owns the only read-write connection and group-commits
//! every queued write job (`writer.rs`); the 202 of a publish follows its
//! batch's commit and the sync of the WAL that makes it durable. Reads run on a small pool of WAL
//! readers in `spawn_blocking`. SQLite serves one node: at
//! open, leases left by a crashed process are released at once.

mod engine;
mod events;
mod fleet;
mod outbox;
mod portal;
mod reseal;
mod rows;
mod tenant;
mod writer;

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use hookline_core::{Account, Attempt, Delivery, Endpoint, Event, EventType, Page, Timestamp};
use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot, Semaphore};

use crate::stored::{ResealBatch, SealedTable};
use crate::types::*;
use crate::{OpenOptions, Sealer, Store, StoreError, StoreResult};
use writer::{run_writer, Job, Queued, WriterCounters};

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
const READERS: usize = 4;

/// The embedded store. Cheap to share behind an `Arc`.
pub struct SqliteStore {
    writer: mpsc::Sender<Job>,
    counters: Arc<WriterCounters>,
    readers: Arc<Mutex<Vec<Connection>>>,
    reader_slots: Arc<Semaphore>,
    sealer: Sealer,
    /// See [`OpenOptions::operational_failing_after`].
    failing_after: u32,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, migrates it and
    /// starts the writer thread; secrets are stored plain.
    pub async fn open(path: &str) -> StoreResult<Self> {
        Self::open_with(path, &OpenOptions::default()).await
    }

    /// [`SqliteStore::open`], sealing secrets with `sealer`'s keys.
    pub async fn open_sealed(path: &str, sealer: Sealer) -> StoreResult<Self> {
        let options = OpenOptions {
            sealer,
            ..OpenOptions::default()
        };
        Self::open_with(path, &options).await
    }

    /// [`SqliteStore::open`] with the node's options (its keys and the
    /// operational rule's threshold concern SQLite).
    pub async fn open_with(path: &str, options: &OpenOptions) -> StoreResult<Self> {
        let path = path.to_string();
        let (sealer, failing_after) = (options.sealer.clone(), options.operational_failing_after);
        tokio::task::spawn_blocking(move || Self::open_blocking(&path, sealer, failing_after))
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?
    }

    fn open_blocking(path: &str, sealer: Sealer, failing_after: u32) -> StoreResult<Self> {
        if let Some(dir) = Path::new(path)
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            private_dir(dir).map_err(|e| {
                StoreError::Unavailable(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let lock = lock_database(path)?;
        private_files(path)?;
        let mut conn = connect(path)?;
        migrate(&mut conn)?;
        engine::release_all_leases(&conn, rows::now_ms())?;
        // From here on the writer's syncer makes each commit durable
        // (`writer.rs`): the same syncs as FULL, off the writer thread.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        let wal = std::path::PathBuf::from(format!("{path}-wal"));
        let readers = (0..READERS)
            .map(|_| connect(path))
            .collect::<StoreResult<Vec<_>>>()?;
        let (tx, rx) = mpsc::channel::<Job>(8192);
        let counters = Arc::new(WriterCounters::default());
        let counted = counters.clone();
        std::thread::Builder::new()
            .name("hookline-sqlite-writer".into())
            .spawn(move || {
                run_writer(conn, rx, &counted, wal);
                // The lock is held for as long as this process can write.
                drop(lock);
            })
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        Ok(SqliteStore {
            writer: tx,
            counters,
            readers: Arc::new(Mutex::new(readers)),
            reader_slots: Arc::new(Semaphore::new(READERS)),
            sealer,
            failing_after,
        })
    }

    /// Runs `f` in the next group commit and answers once it is durable.
    /// `f` may run twice (the first run rolled back), so it only touches
    /// the connection.
    async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(Queued {
            queued_at: std::time::Instant::now(),
            f,
            result: None,
            reply,
        });
        self.writer
            .send(job)
            .await
            .map_err(|_| StoreError::Unavailable("the database writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Unavailable("the database writer has stopped".into()))?
    }

    /// Runs `f` on a reader connection off the async threads.
    async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let _slot = self
            .reader_slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Unavailable("the store is closed".into()))?;
        let readers = self.readers.clone();
        tokio::task::spawn_blocking(move || {
            let conn = readers
                .lock()
                .expect("reader pool lock is never poisoned: no code panics while holding it")
                .pop()
                .expect("a reader is free while holding a slot");
            let result = f(&conn);
            readers
                .lock()
                .expect("reader pool lock is never poisoned")
                .push(conn);
            result
        })
        .await
        .map_err(|e| StoreError::Unavailable(e.to_string()))?
    }
}

/// Takes an exclusive lock beside the database file: SQLite serves one node,
/// and a second process would re-queue the first one's in-flight work at
/// open and deliver it twice. A lock just released by a stopping store in
/// this process is waited for briefly.
fn lock_database(path: &str) -> StoreResult<std::fs::File> {
    let lock_path = format!("{path}.lock");
    let mut options = std::fs::OpenOptions::new();
    options.create(true).truncate(false).write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options
        .open(&lock_path)
        .map_err(|e| StoreError::Unavailable(format!("cannot open {lock_path}: {e}")))?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(StoreError::Unavailable(format!(
                    "another hookline process is using {path}; the embedded database serves one \
                     process — stop the other one, or use PostgreSQL (HOOKLINE_DATABASE_URL=postgres://…) \
                     to run several nodes"
                )))
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(StoreError::Unavailable(format!("cannot lock {lock_path}: {e}")))
            }
        }
    }
}

/// Creates the data directory readable by its owner only (0700): it holds
/// endpoint and signing secrets. An existing directory is left as it is.
fn private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Creates the database file 0600 before SQLite opens it (SQLite gives its
/// `-wal` and `-shm` files the database file's mode), and tightens files an
/// older version created world-readable.
fn private_files(path: &str) -> StoreResult<()> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).truncate(false).write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .map_err(|e| StoreError::Unavailable(format!("cannot create {path}: {e}")))?;
    #[cfg(unix)]
    for file in [
        path.to_string(),
        format!("{path}-wal"),
        format!("{path}-shm"),
    ] {
        use std::os::unix::fs::PermissionsExt;
        if Path::new(&file).exists() {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| StoreError::Unavailable(format!("cannot make {file} private: {e}")))?;
        }
    }
    Ok(())
}

fn connect(path: &str) -> StoreResult<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    // WAL lets readers run beside the writer; FULL makes every commit
    // durable before a 202 is answered (the contract's promise). The
    // writer connection hands that sync to its syncer thread once open.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "cache_size", -16384)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// Applies migrations newer than the database's `user_version`.
fn migrate(conn: &mut Connection) -> StoreResult<()> {
    let current: usize = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if current > MIGRATIONS.len() {
        return Err(StoreError::Unavailable(format!(
            "the database schema is version {current}, newer than this hookline ({}); upgrade hookline",
            MIGRATIONS.len()
        )));
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", index + 1)?;
        tx.commit()?;
        tracing::info!(version = index + 1, "applied SQLite migration");
    }
    Ok(())
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        self.read(|c| Ok(c.query_row("SELECT 1", [], |_| Ok(()))?))
            .await
    }

    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn writer_stats(&self) -> Option<WriterStats> {
        let c = &self.counters;
        Some(WriterStats {
            commits: c.commits.load(Ordering::Relaxed),
            writes: c.writes.load(Ordering::Relaxed),
            busy_seconds: c.busy_nanos.load(Ordering::Relaxed) as f64 / 1e9,
            syncs: c.syncs.load(Ordering::Relaxed),
            sync_seconds: c.sync_nanos.load(Ordering::Relaxed) as f64 / 1e9,
            queue_seconds: c.queue_nanos.load(Ordering::Relaxed) as f64 / 1e9,
            durable_seconds: c.durable_nanos.load(Ordering::Relaxed) as f64 / 1e9,
        })
    }

    async fn setting(&self, key: &str) -> StoreResult<Option<String>> {
        let key = key.to_string();
        self.read(move |c| tenant::setting(c, &key)).await
    }

    async fn setting_or_insert(&self, key: &str, value: &str) -> StoreResult<String> {
        let (key, value) = (key.to_string(), value.to_string());
        self.write(move |c| tenant::setting_or_insert(c, &key, &value))
            .await
    }

    async fn set_setting(&self, key: &str, value: &str) -> StoreResult<()> {
        let (key, value) = (key.to_string(), value.to_string());
        self.write(move |c| tenant::set_setting(c, &key, &value))
            .await
    }

    async fn create_account(&self, account: &Account, signing_secret: &str) -> StoreResult<()> {
        let (account, secret) = (account.clone(), self.sealer.seal_secret(signing_secret)?);
        self.write(move |c| tenant::create_account(c, &account, &secret))
            .await
    }

    async fn list_accounts(&self, page: PageRequest) -> StoreResult<Page<Account>> {
        self.read(move |c| tenant::list_accounts(c, page)).await
    }

    async fn get_account(&self, account_id: &str) -> StoreResult<Account> {
        let id = account_id.to_string();
        self.read(move |c| tenant::get_account(c, &id)).await
    }

    async fn update_account(&self, account: &Account) -> StoreResult<()> {
        let account = account.clone();
        self.write(move |c| tenant::update_account(c, &account))
            .await
    }

    async fn delete_account(&self, account_id: &str) -> StoreResult<()> {
        let id = account_id.to_string();
        self.write(move |c| tenant::delete_account(c, &id)).await
    }

    async fn account_signing_secret(&self, account_id: &str) -> StoreResult<String> {
        let id = account_id.to_string();
        let stored = self
            .read(move |c| tenant::account_signing_secret(c, &id))
            .await?;
        Ok(self.sealer.open(&stored)?)
    }

    async fn create_api_key(&self, key: &ApiKey) -> StoreResult<()> {
        let key = key.clone();
        self.write(move |c| tenant::create_api_key(c, &key)).await
    }

    async fn account_for_key_hash(&self, key_hash: &str) -> StoreResult<Option<String>> {
        let hash = key_hash.to_string();
        self.read(move |c| tenant::account_for_key_hash(c, &hash))
            .await
    }

    async fn delete_api_key(&self, account_id: &str, key_id: &str) -> StoreResult<()> {
        let (account, key) = (account_id.to_string(), key_id.to_string());
        self.write(move |c| portal::delete_api_key(c, &account, &key))
            .await
    }

    async fn create_dashboard_session(&self, session: &DashboardSession) -> StoreResult<()> {
        let session = session.clone();
        self.write(move |c| portal::create_session(c, &session))
            .await
    }

    async fn dashboard_session(
        &self,
        id_hash: &str,
        now: Timestamp,
    ) -> StoreResult<Option<DashboardSession>> {
        let hash = id_hash.to_string();
        self.read(move |c| portal::live_session(c, &hash, now))
            .await
    }

    async fn redeem_portal_link(
        &self,
        link_hash: &str,
        session_hash: &str,
        now: Timestamp,
    ) -> StoreResult<Option<DashboardSession>> {
        let (link, session) = (link_hash.to_string(), session_hash.to_string());
        self.write(move |c| portal::redeem_link(c, &link, &session, now))
            .await
    }

    async fn end_dashboard_session(&self, id_hash: &str) -> StoreResult<()> {
        let hash = id_hash.to_string();
        self.write(move |c| portal::end_session(c, &hash)).await
    }

    async fn purge_dashboard_sessions(&self, now: Timestamp) -> StoreResult<u64> {
        self.write(move |c| portal::purge_sessions(c, now)).await
    }

    async fn account_branding(&self, account_id: &str) -> StoreResult<Option<Branding>> {
        let account = account_id.to_string();
        self.read(move |c| portal::branding(c, &account)).await
    }

    async fn set_account_branding(&self, account_id: &str, branding: &Branding) -> StoreResult<()> {
        let (account, branding) = (account_id.to_string(), branding.clone());
        self.write(move |c| portal::set_branding(c, &account, &branding))
            .await
    }

    async fn get_account_by_uid(&self, uid: &str) -> StoreResult<Account> {
        let uid = uid.to_string();
        self.read(move |c| tenant::get_account_by_uid(c, &uid))
            .await
    }

    async fn get_endpoint_by_uid(&self, account_id: &str, uid: &str) -> StoreResult<Endpoint> {
        let (account, uid) = (account_id.to_string(), uid.to_string());
        let endpoint = self
            .read(move |c| tenant::get_endpoint_by_uid(c, &account, &uid))
            .await?;
        self.sealer.open_endpoint(endpoint)
    }

    async fn get_event_by_external_id(
        &self,
        account_id: &str,
        external_id: &str,
    ) -> StoreResult<Event> {
        let (account, id) = (account_id.to_string(), external_id.to_string());
        let event = self
            .read(move |c| {
                events::find_event_by_external_id(c, &account, &id)?.ok_or(StoreError::NotFound)
            })
            .await?;
        self.sealer.open_event(event)
    }

    async fn idempotent_response(
        &self,
        scope: &str,
        key: &str,
        since: Timestamp,
    ) -> StoreResult<Option<StoredResponse>> {
        let (scope, key) = (scope.to_string(), key.to_string());
        self.read(move |c| tenant::idempotent_response(c, &scope, &key, since))
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
        let (scope, key) = (scope.to_string(), key.to_string());
        let response = self.sealer.seal_answer(response);
        let kept = self
            .write(move |c| tenant::save_idempotent_response(c, &scope, &key, &response, since))
            .await?;
        self.sealer.open_answer(kept)
    }

    async fn purge_idempotency_before(&self, before: Timestamp) -> StoreResult<u64> {
        self.write(move |c| tenant::purge_idempotency_before(c, before))
            .await
    }

    async fn list_event_types(&self) -> StoreResult<Vec<EventType>> {
        self.read(tenant::list_event_types).await
    }

    async fn create_event_type(&self, event_type: &EventType) -> StoreResult<()> {
        let event_type = event_type.clone();
        self.write(move |c| tenant::create_event_type(c, &event_type))
            .await
    }

    async fn update_event_type(&self, event_type: &EventType) -> StoreResult<()> {
        let event_type = event_type.clone();
        self.write(move |c| tenant::update_event_type(c, &event_type))
            .await
    }

    async fn create_endpoint(&self, endpoint: &Endpoint) -> StoreResult<()> {
        let endpoint = self.sealer.seal_endpoint(endpoint)?;
        self.write(move |c| tenant::create_endpoint(c, &endpoint))
            .await
    }

    async fn list_endpoints(
        &self,
        account_id: &str,
        page: PageRequest,
    ) -> StoreResult<Page<Endpoint>> {
        let id = account_id.to_string();
        let page = self
            .read(move |c| tenant::list_endpoints(c, &id, page))
            .await?;
        self.sealer.open_endpoints(page)
    }

    async fn get_endpoint(&self, account_id: &str, endpoint_id: &str) -> StoreResult<Endpoint> {
        let (account, id) = (account_id.to_string(), endpoint_id.to_string());
        let endpoint = self
            .read(move |c| tenant::get_endpoint(c, &account, &id))
            .await?;
        self.sealer.open_endpoint(endpoint)
    }

    async fn update_endpoint(&self, endpoint: &Endpoint) -> StoreResult<()> {
        let endpoint = self.sealer.seal_endpoint(endpoint)?;
        self.write(move |c| tenant::update_endpoint(c, &endpoint))
            .await
    }

    async fn delete_endpoint(&self, account_id: &str, endpoint_id: &str) -> StoreResult<()> {
        let (account, id) = (account_id.to_string(), endpoint_id.to_string());
        self.write(move |c| tenant::delete_endpoint(c, &account, &id))
            .await
    }

    async fn publish(&self, mut request: PublishRequest) -> StoreResult<PublishOutcome> {
        request.event = self.sealer.seal_event(&request.event)?;
        let search = crate::search::tokens(&request.event.id, &request.event.data);
        let outcome = self
            .write(move |c| events::publish(c, &request, &search))
            .await?;
        self.sealer.open_outcome(outcome)
    }

    async fn list_events(
        &self,
        account_id: &str,
        filter: &EventFilter,
        page: PageRequest,
    ) -> StoreResult<Page<ListedEvent>> {
        let (account, filter) = (account_id.to_string(), filter.clone());
        let page = self
            .read(move |c| events::list_events(c, &account, None, &filter, page))
            .await?;
        self.sealer.open_listed(page)
    }

    async fn search_events(
        &self,
        account_id: &str,
        value: &str,
        filter: &EventFilter,
        page: PageRequest,
    ) -> StoreResult<Page<ListedEvent>> {
        let (account, value, filter) = (account_id.to_string(), value.to_string(), filter.clone());
        let page = self
            .read(move |c| events::list_events(c, &account, Some(&value), &filter, page))
            .await?;
        self.sealer.open_listed(page)
    }

    async fn get_event(&self, account_id: &str, event_id: &str) -> StoreResult<Event> {
        let (account, id) = (account_id.to_string(), event_id.to_string());
        let event = self
            .read(move |c| events::get_event(c, &account, &id).map(|(e, _)| e))
            .await?;
        self.sealer.open_event(event)
    }

    async fn list_deliveries(
        &self,
        account_id: &str,
        event_id: &str,
    ) -> StoreResult<Vec<Delivery>> {
        let (account, id) = (account_id.to_string(), event_id.to_string());
        let deliveries = self
            .read(move |c| events::list_deliveries(c, &account, &id))
            .await?;
        self.sealer.open_deliveries(deliveries)
    }

    async fn list_attempts_where(
        &self,
        account_id: &str,
        of: AttemptsOf,
        filter: &AttemptFilter,
        page: PageRequest,
    ) -> StoreResult<Page<Attempt>> {
        let (account, filter) = (account_id.to_string(), filter.clone());
        self.read(move |c| events::list_attempts(c, &account, &of, &filter, page))
            .await
    }

    async fn get_attempt(&self, account_id: &str, attempt_id: &str) -> StoreResult<Attempt> {
        let (account, id) = (account_id.to_string(), attempt_id.to_string());
        self.read(move |c| events::get_attempt(c, &account, &id))
            .await
    }

    async fn resend(
        &self,
        account_id: &str,
        event_id: &str,
        endpoint_id: Option<&str>,
    ) -> StoreResult<Vec<Delivery>> {
        let (account, event) = (account_id.to_string(), event_id.to_string());
        let endpoint = endpoint_id.map(str::to_string);
        let deliveries = self
            .write(move |c| events::resend(c, &account, &event, endpoint.as_deref()))
            .await?;
        self.sealer.open_deliveries(deliveries)
    }

    async fn recover_between(
        &self,
        account_id: &str,
        endpoint_id: &str,
        since: Timestamp,
        until: Option<Timestamp>,
    ) -> StoreResult<u64> {
        let (account, endpoint) = (account_id.to_string(), endpoint_id.to_string());
        self.write(move |c| events::recover(c, &account, &endpoint, since, until))
            .await
    }

    async fn endpoint_delivery_counts(
        &self,
        account_id: &str,
        endpoint_id: &str,
        window: TimeWindow,
    ) -> StoreResult<DeliveryCounts> {
        let (account, endpoint) = (account_id.to_string(), endpoint_id.to_string());
        self.read(move |c| events::endpoint_delivery_counts(c, &account, &endpoint, &window))
            .await
    }

    async fn oldest_pending_delivery(&self, account_id: &str) -> StoreResult<Option<Delivery>> {
        let account = account_id.to_string();
        self.read(move |c| events::oldest_pending_delivery(c, &account))
            .await
    }

    async fn endpoint_hourly_stats(
        &self,
        account_id: &str,
        endpoint_id: &str,
        since: Timestamp,
    ) -> StoreResult<Vec<HourlyStats>> {
        let (account, endpoint) = (account_id.to_string(), endpoint_id.to_string());
        self.read(move |c| events::endpoint_hourly_stats(c, &account, &endpoint, since))
            .await
    }

    async fn claim_due(&self, request: &ClaimRequest) -> StoreResult<Vec<DueDelivery>> {
        let request = request.clone();
        let due = self.write(move |c| engine::claim_due(c, &request)).await?;
        Ok(self.sealer.open_due_batch(due))
    }

    async fn record_attempts(&self, results: Vec<AttemptResult>) -> StoreResult<Recorded> {
        let failing_after = self.failing_after;
        self.write(move |c| engine::record_attempts(c, &results, failing_after))
            .await
    }

    async fn operational_outbox(&self, limit: u32) -> StoreResult<Vec<OutboxEvent>> {
        self.read(move |c| outbox::list(c, limit)).await
    }

    async fn delete_from_outbox(&self, seqs: &[i64]) -> StoreResult<()> {
        let seqs = seqs.to_vec();
        self.write(move |c| outbox::delete(c, &seqs)).await
    }

    async fn release(&self, leases: &[Lease]) -> StoreResult<()> {
        let leases = leases.to_vec();
        self.write(move |c| engine::release(c, &leases)).await
    }

    async fn register_node(&self, node_id: &str) -> StoreResult<NodeRegistration> {
        let node_id = node_id.to_string();
        self.write(move |c| fleet::register_node(c, &node_id)).await
    }

    async fn heartbeat(&self, node_id: &str, epoch: i64) -> StoreResult<Heartbeat> {
        let node_id = node_id.to_string();
        self.write(move |c| fleet::heartbeat(c, &node_id, epoch))
            .await
    }

    async fn leave_fleet(&self, node_id: &str, epoch: i64) -> StoreResult<u64> {
        let node_id = node_id.to_string();
        self.write(move |c| fleet::leave_fleet(c, &node_id, epoch))
            .await
    }

    async fn release_dead_nodes(
        &self,
        dead_after: std::time::Duration,
    ) -> StoreResult<Vec<DeadNode>> {
        let dead_after_ms = i64::try_from(dead_after.as_millis()).unwrap_or(i64::MAX);
        self.write(move |c| fleet::release_dead_nodes(c, dead_after_ms))
            .await
    }

    async fn next_due_at(&self) -> StoreResult<Option<Timestamp>> {
        self.read(engine::next_due_at).await
    }

    async fn pending_stats(&self) -> StoreResult<PendingStats> {
        self.read(engine::pending_stats).await
    }

    async fn purge_events_before(&self, before: Timestamp, batch: u32) -> StoreResult<u64> {
        self.write(move |c| engine::purge_events_before(c, before, batch))
            .await
    }

    async fn reseal(
        &self,
        table: SealedTable,
        after_seq: i64,
        limit: u32,
    ) -> StoreResult<ResealBatch> {
        let sealer = self.sealer.clone();
        self.write(move |c| reseal::reseal(c, &sealer, table, after_seq, limit))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[tokio::test]
    async fn the_data_directory_and_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("hookline-data");
        let path = data.join("hookline.db").display().to_string();
        let store = SqliteStore::open(&path).await.expect("opens");
        store.set_setting("probe", "x").await.expect("writes");
        let mode = |p: &Path| std::fs::metadata(p).expect("exists").permissions().mode() & 0o777;
        assert_eq!(mode(&data), 0o700, "the data directory");
        for file in [
            "hookline.db",
            "hookline.db-wal",
            "hookline.db-shm",
            "hookline.db.lock",
        ] {
            assert_eq!(mode(&data.join(file)), 0o600, "{file}");
        }
        drop(store);
        // A database an older version left world-readable is tightened.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let _store = SqliteStore::open(&path).await.expect("reopens");
        assert_eq!(mode(Path::new(&path)), 0o600);
    }

    #[tokio::test]
    async fn a_second_process_cannot_open_the_same_database() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("db.sqlite").display().to_string();
        let first = SqliteStore::open(&path)
            .await
            .expect("the first store opens");
        let second = SqliteStore::open(&path).await;
        let message = second.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("another hookline process"), "{message}");
        drop(first);
        // Once the first store is gone its lock is released.
        SqliteStore::open(&path)
            .await
            .expect("reopens after the first closed");
    }
}
