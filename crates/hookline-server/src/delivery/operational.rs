//! Operational webhooks: publishes what the store's operational outbox
//! holds into the platform account, whose endpoints are the platform's
//! operational endpoints, so the same engine delivers them with retries
//! and an attempt log.
//!
//! The store works the events out (rules in `hookline_core::operational`)
//! and writes them in the same transaction as the attempts that call for
//! them, so a crash at any moment loses no notification: whatever is left
//! in the outbox is published at the next drain (after each recorded batch
//! that wrote some, every [`SWEEP`], and at start). Each event keeps the id
//! it was written with, so publishing one again after a crash between the
//! publish and the delete is a harmless duplicate. Attempts of the platform
//! account produce no events: they never trigger themselves.

use std::sync::Arc;
use std::time::Duration;

use hookline_store::{PublishRequest, SharedStore, StoreError, Target};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// How often the outbox is looked at without being told: events another
/// node wrote and could not publish (it crashed) are published within this.
const SWEEP: Duration = Duration::from_secs(5);
/// Events published per outbox read.
const BATCH: u32 = 100;

/// Publishes the outbox's events into the platform account.
pub(super) struct Drainer {
    pub(super) store: SharedStore,
    /// Wakes the scheduler once new operational deliveries exist.
    pub(super) wake: Arc<Notify>,
    /// Told by the recorder when a batch wrote operational events.
    pub(super) kick: Arc<Notify>,
}

impl Drainer {
    /// Drains at start, when kicked and every [`SWEEP`], until `shutdown`.
    pub(super) async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        loop {
            self.drain().await;
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.kick.notified() => {}
                _ = tokio::time::sleep(SWEEP) => {}
            }
        }
    }

    /// Publishes every event in the outbox, then deletes it there. Stops
    /// (to try again at the next drain) when the store is unavailable.
    pub(super) async fn drain(&self) {
        loop {
            let waiting = match self.store.operational_outbox(BATCH).await {
                Ok(waiting) => waiting,
                Err(err) => {
                    tracing::warn!(error = %err, "could not read the operational outbox");
                    return;
                }
            };
            if waiting.is_empty() {
                return;
            }
            let mut done = Vec::with_capacity(waiting.len());
            let mut stopped = false;
            for item in waiting {
                let event_type = item.event.event_type.clone();
                let published = self
                    .store
                    .publish(PublishRequest {
                        event: item.event,
                        target: Target::Subscribed,
                        lease: None,
                    })
                    .await;
                match published {
                    // Created, or published before a crash: either way done.
                    Ok(_) => done.push(item.seq),
                    Err(err @ (StoreError::Unavailable(_) | StoreError::Full(_))) => {
                        tracing::warn!(error = %err, event_type, "could not publish an operational event; will retry");
                        stopped = true;
                        break;
                    }
                    // Can never be published (the platform account is gone):
                    // dropped rather than blocking the outbox.
                    Err(err) => {
                        tracing::warn!(error = %err, event_type, "dropped an operational event");
                        done.push(item.seq);
                    }
                }
            }
            if !done.is_empty() {
                self.wake.notify_one();
            }
            if let Err(err) = self.store.delete_from_outbox(&done).await {
                // Published again at the next drain, as duplicates: harmless.
                tracing::warn!(error = %err, "could not clear the operational outbox");
                return;
            }
            if stopped {
                return;
            }
        }
    }
}
