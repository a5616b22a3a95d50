//! Claims due deliveries and runs their attempts, fairly across accounts and
//! endpoints, so one flooding account or one slow endpoint never delays the
//! others.
//!
//! Each claim leases rows until `now + lease` (the lease is validated to be
//! longer than the request timeout), taking accounts in turn (the store's
//! fair claim). Claimed and handed-over deliveries are admitted into the
//! node's [`Book`] while their account and endpoint have room (an account at
//! most an equal part of the node's room; an endpoint as many as it can
//! finish within half a lease at its recent pace); the rest are released at
//! once, and accounts and endpoints without room are left out of claims and
//! hand-overs. Admitted deliveries wait without holding a worker; whenever a
//! worker is free, the next one is taken in turn over accounts and then
//! endpoints, from endpoints below their adaptive concurrency limit
//! (`hookline_core::concurrency`: halved on timeouts, connection errors,
//! `429`/`503`, grown on successes), their rate limit and any `Retry-After`.
//! A worker that finishes an attempt takes the next one itself.
//! Deliveries handed over at publish (`handoff`) arrive already leased and
//! are admitted the same way, without a claim, by a task of their own: a
//! claim or any other store call of the loop never holds up a delivery
//! handed over meanwhile (on PostgreSQL a claim can take milliseconds,
//! which every publish in that window would wait out). The loop claims when
//! woken by a publish it was not handed, when room it lacked frees up, and
//! when the next delivery falls due.
//! Every lease is taken under the node's current life (`liveness`): while
//! the node is fenced nothing is claimed or started, admitted deliveries of
//! a life that ended are released unsent, and the attempts of such a life
//! stop where they are, record nothing and release their deliveries. Every
//! release names the lease's epoch, so one that arrives after another node
//! claimed the delivery changes nothing; one that arrives after this node
//! registered again frees what its registration could not (a claim or a
//! publish under the old life that committed after it).
//! On shutdown nothing new is claimed or started, attempts in flight finish,
//! and deliveries still waiting are released for another run or node.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use hookline_core::RetrySchedule;
use hookline_store::{AttemptResult, ClaimRequest, DueDelivery, Lease, SharedStore};
use tokio::sync::{mpsc, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use super::admission::{Admitted, Book, LimitChange, Settings};
use super::attempt;
use super::client::DeliveryClient;
use super::handoff::{Handed, Handoff, Saturated};
use super::liveness::Liveness;
use crate::metrics::{EndpointLabel, Metrics, OutcomeLabel};
use crate::state::AppState;

/// Most rows claimed in one store call.
const CLAIM_BATCH: usize = 256;

/// The claim-and-run loop of one node.
pub(super) struct Scheduler {
    store: SharedStore,
    client: DeliveryClient,
    schedule: RetrySchedule,
    metrics: Arc<Metrics>,
    wake: Arc<Notify>,
    results: mpsc::Sender<AttemptResult>,
    lease: chrono::Duration,
    poll_interval: Duration,
    /// This node's lease id, its room for admitted deliveries (only this
    /// scheduler takes permits; publishing just reads them) and the
    /// deliveries handed over at publish.
    handoff: Arc<Handoff>,
    /// Whether this node may take and start work now (see `liveness`).
    liveness: Arc<Liveness>,
    /// Requests in flight on this node (`worker_concurrency`).
    workers: Arc<Semaphore>,
    book: Mutex<Book>,
    /// Signalled whenever an attempt finishes and frees room.
    freed: Notify,
    /// The workers running attempts, waited for on shutdown.
    workers_running: TaskTracker,
}

impl Scheduler {
    pub(super) fn new(
        state: &AppState,
        handoff: Arc<Handoff>,
        wake: Arc<Notify>,
        client: DeliveryClient,
        results: mpsc::Sender<AttemptResult>,
    ) -> Self {
        let c = &state.config;
        // Read before any delivery is admitted: the whole room.
        let capacity = handoff.room().available_permits();
        Scheduler {
            store: state.store.clone(),
            client,
            schedule: c.retry_schedule.clone(),
            metrics: state.metrics.clone(),
            wake,
            results,
            lease: chrono::Duration::from_std(c.lease).unwrap_or(chrono::Duration::MAX),
            poll_interval: c.poll_interval,
            liveness: handoff.liveness(),
            handoff,
            workers: Arc::new(Semaphore::new(c.worker_concurrency)),
            book: Mutex::new(Book::new(Settings {
                endpoint_concurrency: c.endpoint_concurrency,
                queue_budget_secs: c.lease.as_secs_f64() / 2.0,
                request_timeout_secs: c.request_timeout.as_secs_f64(),
                capacity,
                send_window: c.lease.saturating_sub(c.request_timeout).mul_f64(0.9),
            })),
            freed: Notify::new(),
            workers_running: TaskTracker::new(),
        }
    }

    /// Runs until `shutdown`, then drains.
    pub(super) async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let room = self.handoff.room();
        let handing_over = self
            .handoff
            .take_receiver()
            .map(|rx| tokio::spawn(self.clone().take_hand_overs(rx, shutdown.clone())));
        // When to claim next: now after a wake-up, else when the next
        // delivery falls due (or the poll interval passes).
        let mut claim_at = Instant::now();
        // Whether the last claim was cut short by room (the node's, an
        // account's or an endpoint's), so a finished attempt is a reason to
        // claim again.
        let mut starved = false;
        while !shutdown.is_cancelled() {
            // Fenced (not registered, or its life ran out): take and start
            // nothing until the fleet has this node again, which wakes it.
            let life = self.liveness.current();
            match &life {
                Some(life) if Instant::now() >= claim_at => {
                    let free = room.available_permits();
                    let mut more_waiting = false;
                    let mut admitted_any = false;
                    if free > 0 {
                        let limit = free.min(CLAIM_BATCH);
                        match self.claim(limit).await {
                            Ok(batch) => {
                                more_waiting = batch.len() == limit;
                                let surplus = self.admit_all(batch, life, &room);
                                admitted_any = surplus.len() < limit;
                                self.release(surplus).await;
                            }
                            Err(err) => {
                                tracing::warn!(error = %err, "claiming due deliveries failed; will retry")
                            }
                        }
                    }
                    self.dispatch(&shutdown);
                    starved = more_waiting || room.available_permits() == 0 || {
                        let book = self.book();
                        !book.saturated_endpoints(Instant::now()).is_empty()
                            || !book.saturated_accounts().is_empty()
                    };
                    if more_waiting && admitted_any && room.available_permits() > 0 {
                        continue;
                    }
                    claim_at = Instant::now() + self.idle_wait().await;
                }
                Some(_) => {}
                None => {
                    let dropped = self.book().drop_dead();
                    if dropped > 0 {
                        tracing::warn!(
                            dropped,
                            "fenced: releasing admitted deliveries unsent, for the fleet"
                        );
                    }
                    starved = false;
                    claim_at = Instant::now() + self.poll_interval;
                }
            }
            self.dispatch(&shutdown);
            let unsent = self.book().take_unsent();
            self.release(unsent).await;
            let ready_at = self.book().next_ready_at(Instant::now());
            let wake_at = ready_at.map_or(claim_at, |at| at.min(claim_at));
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = self.wake.notified() => claim_at = Instant::now(),
                _ = self.freed.notified() => if starved {
                    claim_at = Instant::now();
                },
                _ = tokio::time::sleep_until(wake_at) => {}
            }
        }
        // Deliveries handed over or admitted but never started go back to
        // the queue.
        let mut unstarted = match handing_over {
            Some(task) => task.await.unwrap_or_default(),
            None => Vec::new(),
        };
        unstarted.extend(self.book().drain_waiting());
        self.workers_running.close();
        self.workers_running.wait().await;
        unstarted.extend(self.book().take_unsent());
        if !unstarted.is_empty() {
            match self.store.release(&unstarted).await {
                Ok(()) => tracing::info!(
                    released = unstarted.len(),
                    "released deliveries not started before shutdown"
                ),
                Err(err) => {
                    tracing::warn!(error = %err, "could not release deliveries; their leases will expire")
                }
            }
        }
    }

    /// Admits and starts the deliveries handed over at publish as they
    /// come, until `shutdown`; answers the leases of those still queued
    /// then, for release. Any without room go back to the database at once,
    /// and the loop is woken to claim them when room frees up.
    async fn take_hand_overs(
        self: Arc<Self>,
        mut handed: mpsc::Receiver<Handed>,
        shutdown: CancellationToken,
    ) -> Vec<Lease> {
        let room = self.handoff.room();
        loop {
            let batch = tokio::select! {
                _ = shutdown.cancelled() => break,
                batch = handed.recv() => batch,
            };
            let Some((batch, life)) = batch else { break };
            let surplus = self.admit_all(batch, &life, &room);
            self.dispatch(&shutdown);
            if !surplus.is_empty() {
                self.release(surplus).await;
                self.wake.notify_one();
            }
        }
        handed.close();
        let mut unstarted = Vec::new();
        while let Ok((batch, _life)) = handed.try_recv() {
            unstarted.extend(batch.iter().map(DueDelivery::lease));
        }
        unstarted
    }

    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        self.book.lock().expect("never poisoned")
    }

    /// Admits every delivery of `batch`, leased under `life`, that its
    /// account, its endpoint and the node have room for; answers the leases
    /// of the others, for release. A batch leased under a life that has
    /// ended is released whole: its lease may have been taken after the
    /// node's next registration released what it held.
    fn admit_all(
        &self,
        batch: Vec<DueDelivery>,
        life: &CancellationToken,
        room: &Arc<Semaphore>,
    ) -> Vec<Lease> {
        let mut surplus = Vec::new();
        if life.is_cancelled() {
            tracing::debug!(
                released = batch.len(),
                "leased under a life that ended; releasing them"
            );
            return batch.iter().map(DueDelivery::lease).collect();
        }
        let mut changes = Vec::new();
        let now = Instant::now();
        let mut book = self.book();
        for due in batch {
            let Ok(permit) = room.clone().try_acquire_owned() else {
                surplus.push(due.lease());
                continue;
            };
            if let Err(lease) = book.admit(due, permit, life, now, &mut changes) {
                surplus.push(lease);
            }
        }
        drop(book);
        self.publish_limits(changes);
        surplus
    }

    /// Starts attempts while workers are free and some waiting delivery's
    /// endpoint may send, taking accounts and then endpoints in turn.
    fn dispatch(self: &Arc<Self>, shutdown: &CancellationToken) {
        while !shutdown.is_cancelled() && self.liveness.current().is_some() {
            let Ok(worker) = self.workers.clone().try_acquire_owned() else {
                return;
            };
            let Some(next) = self.book().next_to_send(Instant::now()) else {
                return;
            };
            self.workers_running
                .spawn(self.clone().work(next, worker, shutdown.clone()));
        }
    }

    /// One worker: attempts `first`, then, while there is one to send now
    /// (and the node is neither stopping nor fenced), the next in turn.
    async fn work(
        self: Arc<Self>,
        first: Admitted,
        _worker: OwnedSemaphorePermit,
        shutdown: CancellationToken,
    ) {
        let mut next = Some(first);
        while let Some(admitted) = next {
            self.deliver(admitted).await;
            next = if shutdown.is_cancelled() || self.liveness.current().is_none() {
                None
            } else {
                self.book().next_to_send(Instant::now())
            };
        }
    }

    /// Gives deliveries this node will not start (surplus, unsent) back
    /// to the queue.
    async fn release(&self, leases: Vec<Lease>) {
        if leases.is_empty() {
            return;
        }
        if let Err(err) = self.store.release(&leases).await {
            tracing::warn!(error = %err, "could not release deliveries; their leases will expire");
        }
    }

    async fn claim(&self, limit: usize) -> hookline_store::StoreResult<Vec<DueDelivery>> {
        let now = Utc::now();
        let saturated = {
            let book = self.book();
            Saturated {
                endpoints: book.saturated_endpoints(Instant::now()),
                accounts: book.saturated_accounts(),
            }
        };
        self.handoff.set_saturated(saturated.clone());
        self.store
            .claim_due(&ClaimRequest {
                now,
                limit: limit as u32,
                lease_until: now + self.lease,
                node_id: self.handoff.node_id().to_string(),
                skip_endpoints: saturated.endpoints,
                skip_accounts: saturated.accounts,
            })
            .await
    }

    /// How long to sleep when there is nothing to claim right now.
    async fn idle_wait(&self) -> Duration {
        match self.store.next_due_at().await {
            Ok(Some(at)) => (at - Utc::now()).to_std().map_or(self.poll_interval, |d| {
                d.min(self.poll_interval).max(Duration::from_millis(5))
            }),
            _ => self.poll_interval,
        }
    }

    /// Mirrors endpoints' concurrency limits into `/metrics`.
    fn publish_limits(&self, changes: Vec<LimitChange>) {
        for change in changes {
            let label = EndpointLabel {
                account_id: change.account_id,
                endpoint_id: change.endpoint_id,
            };
            match change.limit {
                Some(limit) => {
                    self.metrics
                        .endpoint_concurrency_limit
                        .get_or_create(&label)
                        .set(i64::from(limit));
                }
                None => {
                    self.metrics.endpoint_concurrency_limit.remove(&label);
                }
            }
        }
    }

    /// Makes one attempt of `admitted` and hands its result to the recorder;
    /// its room on the node is free once the result is handed over.
    async fn deliver(&self, admitted: Admitted) {
        let due = &admitted.due;
        let span = tracing::debug_span!(
            "attempt",
            account_id = %due.account_id,
            endpoint_id = due.endpoint_id.as_deref().unwrap_or("-"),
            event_id = %due.event_id,
        );
        self.metrics.in_flight.inc();
        let sent_at = Instant::now();
        let attempt = attempt::run(&self.client, &self.schedule, due).instrument(span);
        let outcome = tokio::select! {
            outcome = attempt => Some(outcome),
            // Fenced mid-request: another node may be about to take the
            // delivery, so this one stops sending; nothing is recorded.
            _ = admitted.life.cancelled() => None,
        };
        let took = sent_at.elapsed();
        self.metrics.in_flight.dec();
        let Some((result, answer)) = outcome else {
            tracing::warn!(delivery_id = %due.delivery_id, "attempt stopped: this node was fenced");
            let changes = self
                .book()
                .finished(&admitted, None, sent_at, Instant::now());
            // Its lease goes back with the next release of unsent ones.
            self.publish_limits(changes);
            self.freed.notify_one();
            return;
        };
        self.metrics
            .attempts
            .get_or_create(&OutcomeLabel {
                outcome: result.attempt.outcome.as_str(),
            })
            .inc();
        self.metrics
            .attempt_duration
            .observe(result.attempt.duration_ms as f64 / 1000.0);
        tracing::debug!(
            outcome = result.attempt.outcome.as_str(),
            status = result.attempt.status_code,
            attempt = result.attempt.attempt,
            "attempt finished"
        );
        let changes =
            self.book()
                .finished(&admitted, Some((answer, took)), sent_at, Instant::now());
        self.publish_limits(changes);
        if self.results.send(result).await.is_err() {
            tracing::error!(
                "the attempt recorder is gone; the delivery will be retried when its lease expires"
            );
        }
        drop(admitted);
        self.freed.notify_one();
    }
}
