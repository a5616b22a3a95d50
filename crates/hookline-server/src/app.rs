//! Building and running a node: open the store, settle the admin token,
//! bind the listener, serve the API and dashboard, run the delivery engine,
//! and drain on shutdown.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::Router;
use hookline_core::secret::generate_token;
use hookline_store::{SharedStore, StoreError};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::auth::{hash_token, Authenticator};
use crate::config::{Config, ConfigError, Role};
use crate::metrics::Metrics;
use crate::service::catalogue::Catalogue;
use crate::service::ServiceState;
use crate::state::AppState;
use crate::{api, dashboard, delivery};

const ADMIN_HASH_SETTING: &str = "admin_token_sha256";

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("configuration: {0}")]
    Config(#[from] ConfigError),
    #[error("database: {0}")]
    Store(#[from] StoreError),
    #[error("cannot listen on {addr}: {source}; is another process using it? set HOOKLINE_LISTEN to another address")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("server: {0}")]
    Serve(std::io::Error),
}

/// A node, built and bound, ready to run.
pub struct App {
    listener: TcpListener,
    state: AppState,
    /// How work enters delivery; shared by the service layer and the scheduler.
    intake: Arc<delivery::Intake>,
    generated_admin_token: Option<String>,
}

impl App {
    /// Binds `config.listen`, then builds the node as [`App::with_listener`].
    pub async fn build(config: Config) -> Result<App, StartError> {
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| StartError::Bind {
                    addr: config.listen,
                    source,
                })?;
        App::with_listener(config, listener).await
    }

    /// Opens the store (migrating it) and settles the admin token, to serve
    /// on a listener the caller already bound (mini-redis style: whoever
    /// chose the port keeps it, nothing probes a port and binds it again).
    /// `config.listen` is replaced by the listener's address.
    pub async fn with_listener(
        mut config: Config,
        listener: TcpListener,
    ) -> Result<App, StartError> {
        config.listen = listener.local_addr().map_err(StartError::Serve)?;
        // A PostgreSQL pool is sized for what this node does; the store
        // writes operational events with the attempts, by this threshold.
        let sizing = hookline_store::OpenOptions {
            serves_api: config.role != Role::Worker,
            worker_concurrency: match config.role {
                Role::Api => 0,
                _ => config.worker_concurrency,
            },
            sealer: config.sealer.clone(),
            operational_failing_after: config.operational_failing_after,
        };
        let store = hookline_store::open_with(&config.database_url, &sizing).await?;
        let (admin_hash, generated_admin_token) = admin_token(&config, &store).await?;
        let catalogue = Catalogue::load(store.clone()).await?;
        let intake = Arc::new(delivery::Intake::new(&config, store.clone()));
        let state = AppState {
            auth: Arc::new(Authenticator::new(admin_hash, store.clone())),
            config: Arc::new(config),
            store,
            catalogue: Arc::new(catalogue),
            metrics: Arc::new(Metrics::default()),
            page_cache: Arc::default(),
            services: ServiceState::new(intake.clone()),
        };
        Ok(App {
            listener,
            state,
            intake,
            generated_admin_token,
        })
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// The node's store (for embedding, e.g. the benchmark reading its
    /// database's counters).
    pub fn store(&self) -> &SharedStore {
        &self.state.store
    }

    /// The admin token generated on this first start, to be shown once.
    pub fn generated_admin_token(&self) -> Option<&str> {
        self.generated_admin_token.as_deref()
    }

    /// Serves until `shutdown` is cancelled, then stops claiming, finishes
    /// or releases in-flight attempts, and returns.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), StartError> {
        let role = self.state.config.role;
        let engine = (role != Role::Api)
            .then(|| delivery::start(&self.state, &self.intake, shutdown.clone()));
        let router = match role {
            Role::Worker => api::worker_router(self.state.clone()),
            Role::All | Role::Api => Router::new()
                .merge(api::router(self.state.clone()))
                .merge(dashboard::router(self.state.clone())),
        }
        .layer(DefaultBodyLimit::max(self.state.config.max_payload_bytes));
        tracing::info!(addr = %self.local_addr(), ?role, database = self.state.store.backend(), "hookline is serving");
        crate::http_server::serve(
            self.listener,
            router,
            self.state.config.http,
            self.state.config.max_payload_bytes,
            shutdown.clone(),
        )
        .await;
        shutdown.cancel();
        if let Some(engine) = engine {
            let _ = engine.await;
        }
        Ok(())
    }
}

/// The admin token's hash: from configuration, else stored, else a new
/// token is generated, stored hashed, and returned to be printed once.
async fn admin_token(
    config: &Config,
    store: &SharedStore,
) -> Result<(String, Option<String>), StoreError> {
    if let Some(token) = &config.admin_token {
        return Ok((hash_token(token), None));
    }
    if let Some(hash) = store.setting(ADMIN_HASH_SETTING).await? {
        return Ok((hash, None));
    }
    let token = generate_token("hk_admin_");
    let hash = hash_token(&token);
    let kept = store.setting_or_insert(ADMIN_HASH_SETTING, &hash).await?;
    // Another node may have won the race; then its token is the one.
    let shown = (kept == hash).then_some(token);
    Ok((kept, shown))
}
