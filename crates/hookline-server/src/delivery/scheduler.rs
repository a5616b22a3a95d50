//! Claims due deliveries and runs their attempts, bounded overall and per
//! endpoint, so one slow or dead endpoint never delays the others.
//!
//! Each claim leases rows until `now + lease` (the lease is validated to be
//! longer than the request timeout). An endpoint admits as many deliveries
//! (in flight plus waiting) as it can finish within half a lease at its
//! recent pace; beyond that, and while its rate limit is used up, it is left
//! out of claims (and of hand-overs) and surplus rows are released.
//! Deliveries handed over at publish (`handoff`) arrive already leased and
//! start the same way, without a claim; the scheduler claims when woken by a
//! publish it was not handed, when room it lacked frees up, and when the
//! next delivery falls due.
//! Every lease is taken under the node's current life (`liveness`): while
//! the node is fenced nothing is claimed or started, and the attempts of a
//! life that ended stop where they are (the node's next registration
//! releases their deliveries).
//! On shutdown nothing new is claimed, attempts in flight finish, and
//! deliveries still waiting are released for another run or node.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use hookline_core::RetrySchedule;
use hookline_store::{AttemptResult, ClaimRequest, DueDelivery, Lease, SharedStore};
use tokio::sync::{mpsc, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::attempt;
use super::client::DeliveryClient;
use super::handoff::{Handed, Handoff};
use super::liveness::Liveness;
use crate::metrics::{Metrics, OutcomeLabel};
use crate::state::AppState;

/// Most rows claimed in one store call.
const CLAIM_BATCH: usize = 256;
/// How far ahead a rate-limited endpoint's sends may be booked.
const RATE_HORIZON: Duration = Duration::from_secs(1);

/// Most deliveries one endpoint may have admitted (in flight plus waiting).
const MAX_ADMITTED: usize = 1024;
/// Endpoints remembered beyond those with work, for their response times.
const REMEMBERED_ENDPOINTS: usize = 4096;

/// What a node knows about one endpoint's in-flight work.
struct EndpointSlot {
    /// Admitted attempts: in flight or waiting for the gate.
    active: usize,
    /// Moving average of its attempts' duration, in seconds.
    avg_secs: f64,
    /// At most `endpoint_concurrency` requests at once.
    gate: Arc<Semaphore>,
    /// Earliest time the next send is allowed (rate limit).
    next_send_at: Instant,
}

/// Permission for one delivery to run.
struct Ticket {
    key: String,
    gate: Arc<Semaphore>,
    send_at: Option<Instant>,
}

/// The claim-and-run loop of one node.
pub(super) struct Scheduler {
    store: SharedStore,
    client: DeliveryClient,
    schedule: RetrySchedule,
    metrics: Arc<Metrics>,
    wake: Arc<Notify>,
    results: mpsc::Sender<AttemptResult>,
    lease: chrono::Duration,
    /// Half the lease: the longest a delivery may wait at its endpoint.
    queue_budget_secs: f64,
    request_timeout_secs: f64,
    poll_interval: Duration,
    endpoint_concurrency: usize,
    /// This node's lease id, its room for attempts in flight (only this
    /// scheduler takes permits; publishing just reads them) and the
    /// deliveries handed over at publish.
    handoff: Arc<Handoff>,
    /// Whether this node may take and start work now (see `liveness`).
    liveness: Arc<Liveness>,
    endpoints: Mutex<HashMap<String, EndpointSlot>>,
    /// Signalled whenever an attempt finishes and frees room.
    freed: Notify,
    /// Deliveries admitted but never started before shutdown.
    unstarted: Mutex<Vec<Lease>>,
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
        Scheduler {
            store: state.store.clone(),
            client,
            schedule: c.retry_schedule.clone(),
            metrics: state.metrics.clone(),
            wake,
            results,
            lease: chrono::Duration::from_std(c.lease).unwrap_or(chrono::Duration::MAX),
            queue_budget_secs: c.lease.as_secs_f64() / 2.0,
            request_timeout_secs: c.request_timeout.as_secs_f64(),
            poll_interval: c.poll_interval,
            endpoint_concurrency: c.endpoint_concurrency,
            liveness: handoff.liveness(),
            handoff,
            endpoints: Mutex::new(HashMap::new()),
            freed: Notify::new(),
            unstarted: Mutex::new(Vec::new()),
        }
    }

    /// Runs until `shutdown`, then drains.
    pub(super) async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let global = self.handoff.room();
        let mut tasks = JoinSet::new();
        let mut handed = self.handoff.take_receiver();
        let mut handed_open = handed.is_some();
        let mut claim_now = true;
        // Whether the last claim was cut short by room (the node's or an
        // endpoint's), so a finished attempt is a reason to claim again.
        let mut starved = false;
        let mut next_look = Instant::now();
        while !shutdown.is_cancelled() {
            while tasks.try_join_next().is_some() {}
            // Fenced (not registered, or its life ran out): take nothing
            // until the fleet has this node again, which wakes it.
            let life = self.liveness.current();
            if let (true, Some(life)) = (claim_now, &life) {
                let free = global.available_permits();
                let mut more_waiting = false;
                if free > 0 {
                    let limit = free.min(CLAIM_BATCH);
                    match self.claim(limit).await {
                        Ok(batch) => {
                            more_waiting = batch.len() == limit;
                            let surplus =
                                self.start_all(batch, life, &global, &mut tasks, &shutdown);
                            self.release_surplus(surplus).await;
                        }
                        Err(err) => {
                            tracing::warn!(error = %err, "claiming due deliveries failed; will retry")
                        }
                    }
                }
                starved = more_waiting || free == 0 || !self.saturated_endpoints().is_empty();
                if more_waiting && global.available_permits() > 0 {
                    continue;
                }
                next_look = Instant::now() + self.idle_wait().await;
            } else if life.is_none() {
                starved = false;
                next_look = Instant::now() + self.poll_interval;
            }
            claim_now = true;
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = self.wake.notified() => {}
                _ = self.freed.notified(), if starved => {}
                _ = tokio::time::sleep_until(next_look) => {}
                batch = next_handed(&mut handed), if handed_open => match batch {
                    Some((batch, life)) => {
                        // Ready to start: no claim needed, unless some had
                        // no room and went back to the queue.
                        let surplus = self.start_all(batch, &life, &global, &mut tasks, &shutdown);
                        claim_now = !surplus.is_empty();
                        self.release_surplus(surplus).await;
                    }
                    None => handed_open = false,
                },
            }
        }
        // Deliveries handed over but never started go back to the queue.
        if let Some(rx) = handed.as_mut() {
            rx.close();
            while let Ok((batch, _)) = rx.try_recv() {
                let mut unstarted = self.unstarted.lock().expect("never poisoned");
                unstarted.extend(batch.iter().map(DueDelivery::lease));
            }
        }
        while tasks.join_next().await.is_some() {}
        let unstarted = std::mem::take(&mut *self.unstarted.lock().expect("never poisoned"));
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

    /// Starts every delivery its endpoint and the node have room for;
    /// answers the leases of the others, still held by this node. A batch
    /// leased under a life that has ended is dropped: the node's next
    /// registration releases it.
    fn start_all(
        self: &Arc<Self>,
        batch: Vec<DueDelivery>,
        life: &CancellationToken,
        global: &Arc<Semaphore>,
        tasks: &mut JoinSet<()>,
        shutdown: &CancellationToken,
    ) -> Vec<Lease> {
        let mut surplus = Vec::new();
        if life.is_cancelled() {
            tracing::debug!(
                dropped = batch.len(),
                "leased under a life that ended; the next registration releases them"
            );
            return surplus;
        }
        for due in batch {
            let Some(ticket) = self.admit(&due) else {
                surplus.push(due.lease());
                continue;
            };
            match global.clone().try_acquire_owned() {
                Ok(permit) => {
                    let run = Run {
                        permit,
                        shutdown: shutdown.clone(),
                        life: life.clone(),
                    };
                    tasks.spawn(self.clone().deliver(due, ticket, run));
                }
                Err(_) => {
                    self.finish(&ticket, None);
                    surplus.push(due.lease());
                }
            }
        }
        surplus
    }

    /// Gives deliveries this node cannot start now back to the queue.
    async fn release_surplus(&self, surplus: Vec<Lease>) {
        if surplus.is_empty() {
            return;
        }
        if let Err(err) = self.store.release(&surplus).await {
            tracing::warn!(error = %err, "could not release surplus deliveries; their leases will expire");
        }
    }

    async fn claim(&self, limit: usize) -> hookline_store::StoreResult<Vec<DueDelivery>> {
        let now = Utc::now();
        let saturated = self.saturated_endpoints();
        self.handoff.set_saturated(saturated.clone());
        self.store
            .claim_due(&ClaimRequest {
                now,
                limit: limit as u32,
                lease_until: now + self.lease,
                node_id: self.handoff.node_id().to_string(),
                skip_endpoints: saturated,
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

    /// How many deliveries an endpoint may have admitted: as many as its
    /// concurrency can finish within half a lease at its recent pace (Little's
    /// law), so a waiting delivery never outlives its lease; at least twice
    /// its concurrency, at most `MAX_ADMITTED`.
    fn admission_limit(&self, slot: &EndpointSlot) -> usize {
        let rounds = self.queue_budget_secs / slot.avg_secs.max(0.000_5);
        let limit = (rounds * self.endpoint_concurrency as f64) as usize;
        limit.clamp(
            self.endpoint_concurrency * 2,
            MAX_ADMITTED.max(self.endpoint_concurrency * 2),
        )
    }

    fn saturated_endpoints(&self) -> Vec<String> {
        let horizon = Instant::now() + RATE_HORIZON;
        self.endpoints
            .lock()
            .expect("never poisoned")
            .iter()
            .filter(|(key, slot)| {
                !key.starts_with("url:")
                    && (slot.active >= self.admission_limit(slot) || slot.next_send_at > horizon)
            })
            .map(|(key, _)| key.clone())
            .collect()
    }

    /// Books room for `due` at its endpoint, or `None` if it has none now.
    fn admit(&self, due: &DueDelivery) -> Option<Ticket> {
        let key = match &due.endpoint_id {
            Some(id) => id.clone(),
            None => format!("url:{}", due.url),
        };
        let now = Instant::now();
        let mut endpoints = self.endpoints.lock().expect("never poisoned");
        let slot = endpoints
            .entry(key.clone())
            .or_insert_with(|| EndpointSlot {
                active: 0,
                // Until it is measured, assume the endpoint is as slow as allowed.
                avg_secs: self.request_timeout_secs,
                gate: Arc::new(Semaphore::new(self.endpoint_concurrency)),
                next_send_at: now,
            });
        if slot.active >= self.admission_limit(slot) {
            return None;
        }
        let send_at = match due.rate_limit_per_sec {
            Some(rate) if rate > 0 => {
                let at = slot.next_send_at.max(now);
                if at > now + RATE_HORIZON {
                    return None;
                }
                slot.next_send_at = at + Duration::from_secs_f64(1.0 / f64::from(rate));
                Some(at)
            }
            _ => None,
        };
        slot.active += 1;
        Some(Ticket {
            key,
            gate: slot.gate.clone(),
            send_at,
        })
    }

    /// Frees the ticket's room; `took` is the attempt's duration, if one was made.
    fn finish(&self, ticket: &Ticket, took: Option<Duration>) {
        let mut endpoints = self.endpoints.lock().expect("never poisoned");
        if let Some(slot) = endpoints.get_mut(&ticket.key) {
            slot.active -= 1;
            if let Some(took) = took {
                slot.avg_secs = 0.8 * slot.avg_secs + 0.2 * took.as_secs_f64();
            }
        }
        if endpoints.len() > REMEMBERED_ENDPOINTS {
            let now = Instant::now();
            endpoints.retain(|_, slot| slot.active > 0 || slot.next_send_at > now);
        }
        drop(endpoints);
        self.freed.notify_one();
    }

    async fn deliver(self: Arc<Self>, due: DueDelivery, ticket: Ticket, run: Run) {
        let Run {
            permit: _permit,
            shutdown,
            life,
        } = run;
        let gate = tokio::select! {
            permit = ticket.gate.clone().acquire_owned() => permit.ok(),
            _ = shutdown.cancelled() => None,
            _ = life.cancelled() => None,
        };
        let ready = match (gate.is_some(), ticket.send_at) {
            (true, Some(at)) => tokio::select! {
                _ = tokio::time::sleep_until(at) => true,
                _ = shutdown.cancelled() => false,
                _ = life.cancelled() => false,
            },
            (ready, None) => ready,
            (false, Some(_)) => false,
        };
        if life.is_cancelled() {
            // Fenced: the lease is the fleet's again (or soon will be).
            self.finish(&ticket, None);
            return;
        }
        if !ready {
            self.unstarted
                .lock()
                .expect("never poisoned")
                .push(due.lease());
            self.finish(&ticket, None);
            return;
        }
        let span = tracing::debug_span!(
            "attempt",
            account_id = %due.account_id,
            endpoint_id = due.endpoint_id.as_deref().unwrap_or("-"),
            event_id = %due.event_id,
        );
        self.metrics.in_flight.inc();
        let started = Instant::now();
        let attempt = attempt::run(&self.client, &self.schedule, &due).instrument(span);
        let result = tokio::select! {
            result = attempt => result,
            // Fenced mid-request: another node may be about to take the
            // delivery, so this one stops sending; nothing is recorded.
            _ = life.cancelled() => {
                self.metrics.in_flight.dec();
                tracing::warn!(delivery_id = %due.delivery_id, "attempt stopped: this node was fenced");
                self.finish(&ticket, None);
                return;
            }
        };
        let took = started.elapsed();
        self.metrics.in_flight.dec();
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
        drop(gate);
        if self.results.send(result).await.is_err() {
            tracing::error!(
                "the attempt recorder is gone; the delivery will be retried when its lease expires"
            );
        }
        self.finish(&ticket, Some(took));
    }
}

/// What one delivery runs with: its room on the node, the node's shutdown
/// and the life it was leased under.
struct Run {
    permit: OwnedSemaphorePermit,
    shutdown: CancellationToken,
    life: CancellationToken,
}

/// The next batch handed over at publish.
async fn next_handed(rx: &mut Option<mpsc::Receiver<Handed>>) -> Option<Handed> {
    match rx {
        Some(rx) => rx.recv().await,
        None => None,
    }
}
