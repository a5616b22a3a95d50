//! Writes finished attempts to the store in batches: whatever has queued up
//! while the previous write was committing goes into the next one.

use std::sync::Arc;
use std::time::Duration;

use hookline_store::{AttemptResult, NextStep, SharedStore};
use tokio::sync::mpsc;

use crate::metrics::{Metrics, OutcomeLabel};

/// Most attempts written in one store call.
const MAX_BATCH: usize = 512;

/// Runs until every sender is gone and the queue is empty.
pub(super) async fn run(
    store: SharedStore,
    mut results: mpsc::Receiver<AttemptResult>,
    metrics: Arc<Metrics>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = results.recv().await {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match results.try_recv() {
                Ok(result) => batch.push(result),
                Err(_) => break,
            }
        }
        let mut backoff = Duration::from_millis(100);
        // Keep trying: an unrecorded attempt's lease expires and it would be
        // sent again, which is safe but noisy.
        while let Err(err) = store.record_attempts(batch.clone()).await {
            tracing::error!(error = %err, attempts = batch.len(), "could not record attempts; retrying");
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
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
