//! Writes finished attempts to the store in batches: whatever has queued up
//! while the previous write was committing goes into the next one, and a
//! batch waits up to [`GATHER`] for company.
//!
//! Recording is off the delivery's critical path (the receiver already has
//! the request), so a short wait costs no latency that matters, while at
//! moderate rates it turns one commit per attempt into one per batch — on
//! SQLite every commit is an fsync on the single writer thread that
//! publishes also wait for.
//!
//! A retry due sooner than the scheduler's next look wakes it, so short
//! retry delays are kept without polling. An attempt the store reports
//! stale (made under a lease this node had lost) is counted and logged
//! here, the only place it is seen: the store keeps nothing of it.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use hookline_store::{AttemptResult, NextStep, SharedStore};
use tokio::sync::{mpsc, Notify};

use crate::metrics::{Metrics, OutcomeLabel};

/// Most attempts written in one store call.
const MAX_BATCH: usize = 512;
/// Longest a finished attempt waits for others before it is written. Far
/// shorter than any lease, so a recorded outcome always beats the lease's
/// expiry.
const GATHER: Duration = Duration::from_millis(10);

/// What the recorder writes to and tells.
pub(super) struct Recorder {
    pub(super) store: SharedStore,
    pub(super) metrics: Arc<Metrics>,
    /// Told when a batch wrote operational events (the outbox's drainer).
    pub(super) operational: Arc<Notify>,
    /// The scheduler's wake-up.
    pub(super) wake: Arc<Notify>,
    /// A retry due within this long wakes the scheduler (its idle poll).
    pub(super) soon: Duration,
}

/// Runs until every sender is gone and the queue is empty.
pub(super) async fn run(recorder: Recorder, mut results: mpsc::Receiver<AttemptResult>) {
    let Recorder {
        store,
        metrics,
        operational,
        wake,
        soon,
    } = recorder;
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = results.recv().await {
        batch.push(first);
        let deadline = tokio::time::Instant::now() + GATHER;
        while batch.len() < MAX_BATCH {
            match tokio::time::timeout_at(deadline, results.recv()).await {
                Ok(Some(result)) => batch.push(result),
                // Time is up, or every sender is gone: write what we have.
                Ok(None) | Err(_) => break,
            }
        }
        let mut backoff = Duration::from_millis(100);
        // Keep trying: an unrecorded attempt's lease expires and it would be
        // sent again, which is safe but noisy.
        let recorded = loop {
            match store.record_attempts(batch.clone()).await {
                Ok(recorded) => break recorded,
                Err(err) => {
                    tracing::error!(error = %err, attempts = batch.len(), "could not record attempts; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        };
        for result in batch
            .iter()
            .filter(|r| recorded.stale.contains(&r.attempt.delivery_id))
        {
            metrics.stale_attempts.inc();
            tracing::warn!(
                delivery_id = %result.attempt.delivery_id,
                event_id = %result.attempt.event_id,
                outcome = result.attempt.outcome.as_str(),
                status = result.attempt.status_code,
                "an attempt finished after this node lost its lease (declared dead while paused?); \
                 not recorded: the delivery and its attempt log belong to the node that holds it now"
            );
        }
        let horizon = Utc::now() + soon;
        if batch
            .iter()
            .any(|r| matches!(r.next, NextStep::RetryAt(at) if at <= horizon))
        {
            wake.notify_one();
        }
        batch.retain(|r| !recorded.stale.contains(&r.attempt.delivery_id));
        if recorded.operational_events > 0 {
            // Written with the attempts; the drainer publishes them.
            operational.notify_one();
        }
        for result in batch.drain(..) {
            let finished = match result.next {
                NextStep::Succeeded => Some("succeeded"),
                NextStep::Failed => Some("failed"),
                NextStep::RetryAt(_) => None,
            };
            if let Some(outcome) = finished {
                metrics
                    .deliveries
                    .get_or_create(&OutcomeLabel { outcome })
                    .inc();
            }
        }
    }
}
