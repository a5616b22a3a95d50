//! Hands deliveries leased at publish straight to this node's scheduler.
//!
//! A node that both accepts events and delivers them need not let a new
//! delivery take the long way — committed as due, found by the scheduler's
//! next claim (another write, on SQLite another commit on the one writer
//! thread), then sent. When the scheduler has room, publishing asks the
//! store to insert the deliveries already leased to this node, and passes
//! what comes back over a channel; the scheduler starts them like claimed
//! ones, and releases any it cannot admit. Each batch travels with the life
//! of the node it was leased under (`liveness`): if that life ended
//! meanwhile, the scheduler drops it (the node's next registration
//! releases it). If this node dies first, the fleet releases its leases
//! (or they expire) and any node claims the deliveries, as after a claim.

use std::sync::{Arc, Mutex};

use chrono::Utc;
use hookline_store::{DueDelivery, PublishLease};
use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;

use super::liveness::Liveness;
use crate::config::Config;

/// Most deliveries one publish hands over; the rest are claimed.
const MAX_PER_PUBLISH: usize = 16;
/// Handed-over batches waiting for the scheduler.
const QUEUE: usize = 1024;
/// Deliveries a node admits (in flight plus waiting at their endpoints)
/// per request it may have in flight: waiting ones hold no worker, and a
/// little backlog keeps workers busy while a claim is on its way.
const ADMITTED_PER_WORKER: usize = 2;

/// Endpoints and accounts without room on this node.
#[derive(Debug, Clone, Default)]
pub(super) struct Saturated {
    pub(super) endpoints: Vec<String>,
    pub(super) accounts: Vec<String>,
}

/// Deliveries leased at publish, with the life they were leased under.
pub(super) type Handed = (Vec<DueDelivery>, CancellationToken);

/// The publishing side's way to this node's scheduler.
pub(super) struct Handoff {
    liveness: Arc<Liveness>,
    lease: chrono::Duration,
    /// The scheduler's room for admitted deliveries (its permits are only
    /// taken by the scheduler; publishing just reads how many are free).
    room: Arc<Semaphore>,
    /// Endpoints and accounts the scheduler had no room for at its last claim.
    saturated: Mutex<Saturated>,
    tx: mpsc::Sender<Handed>,
    rx: Mutex<Option<mpsc::Receiver<Handed>>>,
}

impl Handoff {
    pub(super) fn new(config: &Config, liveness: Arc<Liveness>) -> Handoff {
        let (tx, rx) = mpsc::channel(QUEUE);
        Handoff {
            liveness,
            lease: chrono::Duration::from_std(config.lease).unwrap_or(chrono::Duration::MAX),
            room: Arc::new(Semaphore::new(
                config.worker_concurrency * ADMITTED_PER_WORKER,
            )),
            saturated: Mutex::new(Saturated::default()),
            tx,
            rx: Mutex::new(Some(rx)),
        }
    }

    /// The lease a publish by `account_id` may take now, and the life it is
    /// taken under: none when the scheduler is full, the account holds its
    /// share of the room (its deliveries then wait their turn in the
    /// database) or the node is fenced.
    pub(super) fn lease(&self, account_id: &str) -> Option<(PublishLease, CancellationToken)> {
        let free = self.room.available_permits().min(MAX_PER_PUBLISH);
        if free == 0 {
            return None;
        }
        let skip_endpoints = {
            let saturated = self.saturated.lock().expect("never poisoned");
            if saturated.accounts.iter().any(|a| a == account_id) {
                return None;
            }
            saturated.endpoints.clone()
        };
        let life = self.liveness.current()?;
        let lease = PublishLease {
            node_id: self.node_id().to_string(),
            until: Utc::now() + self.lease,
            max: free as u32,
            skip_endpoints,
        };
        Some((lease, life))
    }

    /// Passes leased deliveries to the scheduler; gives them back if it is
    /// gone or far behind (the caller then releases them).
    pub(super) fn hand_over(
        &self,
        leased: Vec<DueDelivery>,
        life: CancellationToken,
    ) -> Result<(), Vec<DueDelivery>> {
        self.tx
            .try_send((leased, life))
            .map_err(|err| err.into_inner().0)
    }

    /// Remembers which endpoints and accounts have no room, so publishes
    /// leave their deliveries to be claimed instead of handing over what
    /// must come back.
    pub(super) fn set_saturated(&self, saturated: Saturated) {
        *self.saturated.lock().expect("never poisoned") = saturated;
    }

    /// This node's id in leases.
    pub(super) fn node_id(&self) -> &str {
        self.liveness.node_id()
    }

    /// The node's standing in its fleet.
    pub(super) fn liveness(&self) -> Arc<Liveness> {
        self.liveness.clone()
    }

    /// The scheduler's room for admitted deliveries.
    pub(super) fn room(&self) -> Arc<Semaphore> {
        self.room.clone()
    }

    /// The receiving end, for the one scheduler.
    pub(super) fn take_receiver(&self) -> Option<mpsc::Receiver<Handed>> {
        self.rx.lock().expect("never poisoned").take()
    }
}
