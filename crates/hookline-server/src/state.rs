//! `AppState`: what every request handler and page shares.

use std::sync::Arc;

use hookline_store::SharedStore;
use tokio::sync::Notify;

use crate::auth::Authenticator;
use crate::config::Config;
use crate::delivery::Handoff;
use crate::metrics::Metrics;
use crate::service::catalogue::Catalogue;

/// Shared, cheaply cloned state of a running node.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: SharedStore,
    pub auth: Arc<Authenticator>,
    pub catalogue: Arc<Catalogue>,
    pub metrics: Arc<Metrics>,
    /// Wakes this node's delivery scheduler when new work is committed.
    pub wake_scheduler: Arc<Notify>,
    /// Where publishing hands new deliveries straight to this node's
    /// scheduler; `None` on a node that does not deliver (`--role api`).
    pub handoff: Option<Arc<Handoff>>,
}
