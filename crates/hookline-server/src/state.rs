//! `AppState`: what every request handler and page shares.

use std::sync::Arc;

use hookline_store::SharedStore;

use crate::auth::Authenticator;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::service::catalogue::Catalogue;
use crate::service::ServiceState;

/// Shared, cheaply cloned state of a running node.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: SharedStore,
    pub auth: Arc<Authenticator>,
    pub catalogue: Arc<Catalogue>,
    pub metrics: Arc<Metrics>,
    /// The service layer's way into delivery (publishing, wake-ups).
    pub services: ServiceState,
}
