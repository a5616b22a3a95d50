//! `AppState`: what every request handler and page shares.

use std::sync::Arc;

use hookline_store::SharedStore;

use crate::auth::Authenticator;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::service::catalogue::Catalogue;
use crate::service::page_cache::PageCache;
use crate::service::ServiceState;

/// Shared, cheaply cloned state of a running node.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) config: Arc<Config>,
    pub(crate) store: SharedStore,
    pub(crate) auth: Arc<Authenticator>,
    pub(crate) catalogue: Arc<Catalogue>,
    pub(crate) metrics: Arc<Metrics>,
    /// The CSRF key and account brands every dashboard page needs.
    pub(crate) page_cache: Arc<PageCache>,
    /// The service layer's way into delivery (publishing, wake-ups).
    pub(crate) services: ServiceState,
}
