//! The delivery engine: claims due deliveries, attempts them, records the
//! outcomes, and purges old events.
//!
//! `scheduler` leases work from the store (a lease always outlives the
//! request timeout) and runs attempts bounded overall and per endpoint;
//! `attempt` signs, sends and classifies one attempt through `client`, the
//! SSRF-safe connector; `recorder` batches finished attempts into one store
//! write, which also writes the operational events they call for (disabled,
//! failing, recovered endpoints and exhausted deliveries) to an outbox that
//! `operational` publishes to the platform's operational endpoints. `intake` is the one way work comes in: it publishes (leasing what
//! the scheduler has room for and passing it over `handoff`) and wakes the
//! scheduler. `liveness` keeps the node in its fleet (heartbeats, dead nodes'
//! deliveries released, self-fencing). No database transaction or lock is
//! held across a network call.

mod admission;
mod attempt;
pub mod client;
mod fair_queue;
mod handoff;
mod intake;
mod liveness;
mod operational;
mod recorder;
mod retention;
mod scheduler;

use std::sync::Arc;

use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;

use crate::state::AppState;

pub(crate) use intake::{Intake, Stored};

/// Results waiting to be recorded; bounded so a stalled database slows
/// attempts down instead of filling memory.
const RESULT_QUEUE: usize = 4096;

/// Starts the engine; the returned task ends once `shutdown` is cancelled
/// and in-flight attempts are finished and recorded (or released).
pub(crate) fn start(
    state: &AppState,
    intake: &Intake,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let (results_tx, results_rx) = mpsc::channel(RESULT_QUEUE);
    let client = client::DeliveryClient::new(
        state.config.request_timeout,
        state.config.allow_private_networks,
    );
    // Other nodes' commits wake this scheduler too (LISTEN/NOTIFY on PostgreSQL).
    state.store.watch_due_work(intake.wake_signal());
    let handoff = intake.handoff(&state.config);
    // Beats until the scheduler has drained, so the fleet never takes over
    // deliveries this node is still finishing.
    let stop_beating = CancellationToken::new();
    let liveness = tokio::spawn(handoff.liveness().run(
        state.store.clone(),
        intake.wake_signal(),
        stop_beating.clone(),
    ));
    let scheduler =
        scheduler::Scheduler::new(state, handoff, intake.wake_signal(), client, results_tx);
    let drainer = operational::Drainer {
        store: state.store.clone(),
        wake: intake.wake_signal(),
        kick: Arc::new(Notify::new()),
    };
    let recorder = tokio::spawn(recorder::run(
        recorder::Recorder {
            store: state.store.clone(),
            metrics: state.metrics.clone(),
            operational: drainer.kick.clone(),
            wake: intake.wake_signal(),
            soon: state.config.poll_interval,
        },
        results_rx,
    ));
    let retention = tokio::spawn(retention::run(
        state.store.clone(),
        state.config.retention,
        shutdown.clone(),
    ));
    let drainer = Arc::new(drainer);
    let draining = tokio::spawn({
        let drainer = drainer.clone();
        let shutdown = shutdown.clone();
        async move { drainer.run(shutdown).await }
    });
    tokio::spawn(async move {
        Arc::new(scheduler).run(shutdown).await;
        // The scheduler dropped its sender; the recorder ends after the last result.
        if let Err(err) = recorder.await {
            tracing::error!(error = %err, "the attempt recorder stopped abnormally");
        }
        stop_beating.cancel();
        let _ = liveness.await;
        let _ = draining.await;
        // What the last batches wrote; anything left waits for the next start.
        drainer.drain().await;
        let _ = retention.await;
    })
}
