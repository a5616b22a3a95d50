//! The one way new work enters delivery: publishing an event, and telling
//! the scheduler that deliveries became due (resend, recover, an endpoint
//! enabled again).
//!
//! `Intake::publish` reads as one sentence: ask for a lease on what this
//! node's scheduler has room for, store the event with its deliveries in one
//! commit, hand the leased ones to the scheduler, release any it cannot take,
//! and wake it for the rest. It asks for a lease on every backend; a store
//! that does not lease at publish hands back none, and the scheduler claims.
//! The intake never sends anything itself: it only stores and hands over.

use std::sync::Arc;

use hookline_core::Event;
use hookline_store::{
    DueDelivery, PublishLease, PublishOutcome, PublishRequest, SharedStore, StoreResult, Target,
};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::handoff::Handoff;
use super::liveness::Liveness;
use crate::config::{Config, Role};

/// What publishing stored.
#[derive(Debug, Clone)]
pub(crate) enum Stored {
    /// New, with its deliveries committed (and started or queued).
    Created(Event),
    /// The id existed with the same payload: nothing new was stored.
    Duplicate(Event),
    /// The id existed with a different payload.
    Conflict,
}

/// Publishing and wake-ups, owned by delivery; built once per node.
pub(crate) struct Intake {
    store: SharedStore,
    /// The way to this node's scheduler; `None` on a node that does not
    /// deliver (`--role api`), whose publishes leave everything to be claimed.
    handoff: Option<Arc<Handoff>>,
    /// Wakes this node's scheduler when work is due that was not handed over.
    wake: Arc<Notify>,
}

impl Intake {
    /// The intake of a node with this configuration.
    pub(crate) fn new(config: &Config, store: SharedStore) -> Intake {
        Intake {
            handoff: (config.role != Role::Api).then(|| new_handoff(config, &store)),
            store,
            wake: Arc::new(Notify::new()),
        }
    }

    /// Stores `event` with its deliveries to `target` (durable before this
    /// returns) and starts delivering them: leased ones go straight to the
    /// scheduler, the others wait for its next claim.
    ///
    /// With a lease, storing and handing over run on a task of their own:
    /// a caller that goes away (a client that hung up) must not leave
    /// committed deliveries leased to this node and never handed over,
    /// silent until the lease runs out.
    pub(crate) async fn publish(
        self: &Arc<Self>,
        event: Event,
        target: Target,
    ) -> StoreResult<Stored> {
        let Some(grant) = self
            .handoff
            .as_ref()
            .and_then(|h| h.lease(&event.account_id))
        else {
            return self.store_and_hand_over(event, target, None).await;
        };
        let intake = self.clone();
        tokio::spawn(async move { intake.store_and_hand_over(event, target, Some(grant)).await })
            .await
            .unwrap_or_else(|err| std::panic::resume_unwind(err.into_panic()))
    }

    async fn store_and_hand_over(
        &self,
        event: Event,
        target: Target,
        grant: Option<(PublishLease, CancellationToken)>,
    ) -> StoreResult<Stored> {
        let (lease, life) = grant.unzip();
        let outcome = self
            .store
            .publish(PublishRequest {
                event,
                target,
                lease,
            })
            .await?;
        Ok(match outcome {
            PublishOutcome::Created {
                event,
                deliveries,
                leased,
            } => {
                let handed = match life {
                    Some(life) => self.hand_over(leased, life).await,
                    None => 0,
                };
                if deliveries as usize > handed {
                    self.wake();
                }
                Stored::Created(event)
            }
            PublishOutcome::Duplicate(event) => Stored::Duplicate(event),
            PublishOutcome::Conflict => Stored::Conflict,
        })
    }

    /// Tells the scheduler that deliveries may be due now (resend, recover,
    /// an endpoint enabled again) so they start without waiting for a poll.
    pub(crate) fn wake(&self) {
        self.wake.notify_one();
    }

    /// Passes deliveries leased at publish to the scheduler; answers how
    /// many it took. Any it cannot take go back to the queue at once rather
    /// than waiting out their lease.
    async fn hand_over(&self, leased: Vec<DueDelivery>, life: CancellationToken) -> usize {
        let (Some(handoff), false) = (&self.handoff, leased.is_empty()) else {
            return 0;
        };
        let count = leased.len();
        let Err(back) = handoff.hand_over(leased, life) else {
            return count;
        };
        let leases: Vec<_> = back.iter().map(DueDelivery::lease).collect();
        if let Err(err) = self.store.release(&leases).await {
            tracing::warn!(error = %err, "could not release deliveries the scheduler could not take; their leases will expire");
        }
        0
    }

    /// The scheduler's side of the hand-over (a node that delivers always
    /// has one; one is made for an engine started on an API-only node).
    pub(super) fn handoff(&self, config: &Config) -> Arc<Handoff> {
        self.handoff
            .clone()
            .unwrap_or_else(|| new_handoff(config, &self.store))
    }

    /// What wakes the scheduler.
    pub(super) fn wake_signal(&self) -> Arc<Notify> {
        self.wake.clone()
    }
}

/// The hand-over of a node that delivers, with its standing in the fleet.
fn new_handoff(config: &Config, store: &SharedStore) -> Arc<Handoff> {
    let liveness = Liveness::new(config, store.has_fleet());
    Arc::new(Handoff::new(config, Arc::new(liveness)))
}
