//! Deletes events (with their deliveries and attempts) older than the
//! retention period, in small batches with pauses so delivery never waits
//! behind a long delete; expired dashboard sessions and portal links; and
//! `idempotency-key` answers past their 12 hours.

use std::time::Duration;

use chrono::Utc;
use hookline_store::SharedStore;
use tokio_util::sync::CancellationToken;

const BATCH: u32 = 500;
const PERIOD: Duration = Duration::from_secs(600);
const PAUSE: Duration = Duration::from_millis(50);
/// How long an `idempotency-key` answer is kept.
const IDEMPOTENCY_HOURS: i64 = 12;

/// Purges every `PERIOD` until shutdown.
pub(super) async fn run(store: SharedStore, retention: Duration, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(PERIOD) => {}
        }
        let expired = Utc::now() - chrono::Duration::hours(IDEMPOTENCY_HOURS);
        if let Err(err) = store.purge_idempotency_before(expired).await {
            tracing::warn!(error = %err, "could not forget expired idempotency keys; will try again later");
        }
        let Ok(age) = chrono::Duration::from_std(retention) else {
            continue;
        };
        let before = Utc::now() - age;
        let mut purged = 0;
        loop {
            match store.purge_events_before(before, BATCH).await {
                Ok(n) => {
                    purged += n;
                    if n < u64::from(BATCH) || shutdown.is_cancelled() {
                        break;
                    }
                    tokio::time::sleep(PAUSE).await;
                }
                Err(err) => {
                    tracing::warn!(error = %err, "retention purge failed; will try again later");
                    break;
                }
            }
        }
        if purged > 0 {
            tracing::info!(purged, "purged events older than the retention period");
        }
        if let Err(err) = store.purge_dashboard_sessions(Utc::now()).await {
            tracing::warn!(error = %err, "could not purge expired dashboard sessions");
        }
    }
}
