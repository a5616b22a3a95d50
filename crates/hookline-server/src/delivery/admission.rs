//! What this node has admitted and what it may send next: one slot per
//! endpoint (requests in flight, its adaptive concurrency limit, its rate
//! limit, its recent pace) and the deliveries waiting in a [`FairQueue`].
//!
//! Admission bounds how much an endpoint may hold (as many as it can finish
//! within half a lease at its recent pace); sending bounds how many of them
//! run at once ([`AdaptiveLimit`], never above `endpoint_concurrency`). A
//! waiting delivery holds room on the node but no worker, so an endpoint that
//! answers in ten seconds keeps its own queue and nobody else's. An account
//! may hold at most an equal part of the room, shared by the accounts with
//! work and one more (so a newcomer always finds some). Every admitted
//! delivery carries the life it was leased under (`liveness`): one whose
//! life ended is never sent, and neither is one that waited so long its
//! lease could run out during the attempt; both go back to the database
//! (a release names the lease's epoch, so it is a no-op for a delivery
//! another node has claimed since). The
//! book is plain data behind the scheduler's lock: no I/O, no awaiting.

use std::collections::HashMap;
use std::time::Duration;

use hookline_core::concurrency::{AdaptiveLimit, Answer};
use hookline_store::{DueDelivery, Lease};
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::fair_queue::FairQueue;

/// Most deliveries one endpoint may have admitted (in flight plus waiting).
const MAX_ADMITTED: usize = 1024;
/// How far ahead a rate-limited endpoint's sends may be admitted.
const RATE_HORIZON: Duration = Duration::from_secs(1);
/// Endpoints remembered beyond those with work, for their pace and limit.
const REMEMBERED_ENDPOINTS: usize = 4096;

/// A delivery admitted on this node, holding its share of the node's room
/// until its attempt is over.
pub(super) struct Admitted {
    pub(super) due: DueDelivery,
    /// Its endpoint's key in the book.
    pub(super) key: String,
    /// The life of the node it was leased under: once that ends, it is
    /// neither started nor recorded.
    pub(super) life: CancellationToken,
    /// The last moment its attempt may start and still end (timeout
    /// included) within its lease.
    send_by: Instant,
    _room: OwnedSemaphorePermit,
}

/// What sending needs to know about the node's settings.
pub(super) struct Settings {
    /// The most requests in flight to one endpoint.
    pub(super) endpoint_concurrency: usize,
    /// Half the lease: the longest a delivery may wait at its endpoint.
    pub(super) queue_budget_secs: f64,
    /// Assumed duration of an endpoint's attempts until one is measured.
    pub(super) request_timeout_secs: f64,
    /// Deliveries the node admits in all (its room).
    pub(super) capacity: usize,
    /// How long after it is admitted a delivery may still start: what its
    /// lease leaves after the request timeout, with a margin.
    pub(super) send_window: Duration,
}

/// One endpoint's state on this node.
struct EndpointSlot {
    account_id: String,
    /// Admitted deliveries: waiting or in flight.
    admitted: usize,
    in_flight: u32,
    /// Moving average of its attempts' duration, in seconds.
    avg_secs: f64,
    limit: AdaptiveLimit,
    rate_limit_per_sec: Option<u32>,
    /// Earliest time the next send is allowed (rate limit).
    next_send_at: Instant,
}

impl EndpointSlot {
    fn ready(&self, now: Instant) -> bool {
        self.limit.allows(self.in_flight, now.into_std()) && self.next_send_at <= now
    }
}

/// A change of an endpoint's concurrency limit, for `/metrics`.
pub(super) struct LimitChange {
    pub(super) account_id: String,
    pub(super) endpoint_id: String,
    /// `None` once the endpoint is forgotten.
    pub(super) limit: Option<u32>,
}

/// The node's admitted deliveries and endpoint slots.
pub(super) struct Book {
    settings: Settings,
    endpoints: HashMap<String, EndpointSlot>,
    waiting: FairQueue<Admitted>,
    /// Admitted deliveries per account with any.
    accounts: HashMap<String, usize>,
    /// Leases of deliveries that left unsent (their life ended, or they
    /// waited past their `send_by`), to release.
    unsent: Vec<Lease>,
}

/// The key of a delivery's endpoint: its id, or its event's own URL.
fn key_of(due: &DueDelivery) -> String {
    match &due.endpoint_id {
        Some(id) => id.clone(),
        None => format!("url:{}", due.url),
    }
}

impl Book {
    pub(super) fn new(settings: Settings) -> Book {
        Book {
            settings,
            endpoints: HashMap::new(),
            waiting: FairQueue::default(),
            accounts: HashMap::new(),
            unsent: Vec::new(),
        }
    }

    /// The most one account may have admitted: an equal part of the room
    /// for each account with work and one more, so a newcomer always finds
    /// room and a flooding account never holds all of it.
    fn account_share(&self) -> usize {
        (self.settings.capacity / (self.accounts.len() + 1)).max(1)
    }

    /// Accounts holding their share: left out of claims and hand-overs.
    pub(super) fn saturated_accounts(&self) -> Vec<String> {
        let share = self.account_share();
        self.accounts
            .iter()
            .filter(|(_, admitted)| **admitted >= share)
            .map(|(account, _)| account.clone())
            .collect()
    }

    /// Queues `due`, leased under `life`, if its account and its endpoint
    /// have room, holding `room` while it is admitted; answers its lease
    /// otherwise, for release. A first sight of an endpoint is reported in `changes`.
    pub(super) fn admit(
        &mut self,
        due: DueDelivery,
        room: OwnedSemaphorePermit,
        life: &CancellationToken,
        now: Instant,
        changes: &mut Vec<LimitChange>,
    ) -> Result<(), Lease> {
        let share = self.account_share();
        let account = self.accounts.get(&due.account_id).copied().unwrap_or(0);
        if account >= share {
            return Err(due.lease());
        }
        let key = key_of(&due);
        let settings = &self.settings;
        let slot = self.endpoints.entry(key.clone()).or_insert_with(|| {
            let limit = AdaptiveLimit::new(settings.endpoint_concurrency as u32);
            if due.endpoint_id.is_some() {
                changes.push(LimitChange {
                    account_id: due.account_id.clone(),
                    endpoint_id: key.clone(),
                    limit: Some(limit.limit()),
                });
            }
            EndpointSlot {
                account_id: due.account_id.clone(),
                admitted: 0,
                in_flight: 0,
                // Until it is measured, assume the endpoint is as slow as allowed.
                avg_secs: settings.request_timeout_secs,
                limit,
                rate_limit_per_sec: None,
                next_send_at: now,
            }
        });
        slot.rate_limit_per_sec = due.rate_limit_per_sec.filter(|r| *r > 0);
        if slot.admitted >= admission_limit(settings, slot, now) {
            return Err(due.lease());
        }
        slot.admitted += 1;
        *self.accounts.entry(due.account_id.clone()).or_insert(0) += 1;
        self.waiting.push(
            &due.account_id.clone(),
            &key.clone(),
            Admitted {
                due,
                key,
                life: life.clone(),
                send_by: now + self.settings.send_window,
                _room: room,
            },
        );
        Ok(())
    }

    /// The next delivery to send, in turn over accounts and endpoints among
    /// endpoints that may send now; it counts as in flight from here on.
    /// Deliveries of an ended life or past their `send_by` met on the way
    /// are put aside for release ([`Book::take_unsent`]).
    pub(super) fn next_to_send(&mut self, now: Instant) -> Option<Admitted> {
        let next = loop {
            let endpoints = &self.endpoints;
            let next = self
                .waiting
                .pop(|key| endpoints.get(key).is_some_and(|slot| slot.ready(now)))?;
            if next.life.is_cancelled() || now > next.send_by {
                self.unadmit(&next);
                self.unsent.push(next.due.lease());
            } else {
                break next;
            }
        };
        let slot = self
            .endpoints
            .get_mut(&next.key)
            .expect("an admitted delivery's endpoint has a slot");
        slot.in_flight += 1;
        if let Some(rate) = slot.rate_limit_per_sec {
            slot.next_send_at =
                slot.next_send_at.max(now) + Duration::from_secs_f64(1.0 / f64::from(rate));
        }
        Some(next)
    }

    /// Counts out a waiting delivery that leaves without being sent.
    fn unadmit(&mut self, admitted: &Admitted) {
        if let Some(slot) = self.endpoints.get_mut(&admitted.key) {
            slot.admitted -= 1;
        }
        leave(&mut self.accounts, &admitted.due.account_id);
    }

    /// Leases of deliveries taken out unsent: the caller releases them, so
    /// they are claimed again (at once, not after their lease).
    pub(super) fn take_unsent(&mut self) -> Vec<Lease> {
        std::mem::take(&mut self.unsent)
    }

    /// Takes out every waiting delivery whose life has ended (the node was
    /// fenced), putting its lease aside for release: a node that registered
    /// again may have taken the lease after its registration released what
    /// it held, and another node's claim since makes the release a no-op.
    /// Answers how many.
    pub(super) fn drop_dead(&mut self) -> usize {
        let dead = self.waiting.remove_unless(|a| !a.life.is_cancelled());
        for admitted in &dead {
            self.unadmit(admitted);
            self.unsent.push(admitted.due.lease());
        }
        dead.len()
    }

    /// Frees the room of `sent`, whose attempt, sent at `sent_at`, came to
    /// `answer` after `took`, or was cut short (`None`: it says nothing
    /// about the endpoint, records nothing, and its lease is put aside for
    /// release); answers the changes of endpoints' limits.
    pub(super) fn finished(
        &mut self,
        sent: &Admitted,
        answer: Option<(Answer, Duration)>,
        sent_at: Instant,
        now: Instant,
    ) -> Vec<LimitChange> {
        let mut changes = Vec::new();
        let key = sent.key.as_str();
        leave(&mut self.accounts, &sent.due.account_id);
        if answer.is_none() {
            self.unsent.push(sent.due.lease());
        }
        if let Some(slot) = self.endpoints.get_mut(key) {
            slot.admitted -= 1;
            slot.in_flight -= 1;
            let Some((answer, took)) = answer else {
                return changes;
            };
            slot.avg_secs = 0.8 * slot.avg_secs + 0.2 * took.as_secs_f64();
            if slot
                .limit
                .observe(answer, sent_at.into_std(), now.into_std())
                && !key.starts_with("url:")
            {
                changes.push(LimitChange {
                    account_id: slot.account_id.clone(),
                    endpoint_id: key.to_string(),
                    limit: Some(slot.limit.limit()),
                });
            }
        }
        if self.endpoints.len() > REMEMBERED_ENDPOINTS {
            self.endpoints.retain(|key, slot| {
                let keep = slot.admitted > 0
                    || slot.next_send_at > now
                    || slot.limit.paused_until(now.into_std()).is_some();
                if !keep && !key.starts_with("url:") {
                    changes.push(LimitChange {
                        account_id: slot.account_id.clone(),
                        endpoint_id: key.clone(),
                        limit: None,
                    });
                }
                keep
            });
        }
        changes
    }

    /// Endpoints (not events' own URLs) with no room for more: left out of
    /// claims and hand-overs so their deliveries wait in the database.
    pub(super) fn saturated_endpoints(&self, now: Instant) -> Vec<String> {
        self.endpoints
            .iter()
            .filter(|(key, slot)| {
                !key.starts_with("url:")
                    && (slot.admitted >= admission_limit(&self.settings, slot, now)
                        || slot.limit.paused_until(now.into_std()).is_some())
            })
            .map(|(key, _)| key.clone())
            .collect()
    }

    /// When a waiting delivery's endpoint may send next, if one waits only
    /// for time (its rate limit or a `Retry-After`), not for a reply.
    pub(super) fn next_ready_at(&self, now: Instant) -> Option<Instant> {
        self.waiting
            .endpoints()
            .filter_map(|key| self.endpoints.get(key))
            .filter(|slot| slot.in_flight < slot.limit.limit())
            .map(|slot| {
                let paused = slot
                    .limit
                    .paused_until(now.into_std())
                    .map(Instant::from_std);
                paused.map_or(slot.next_send_at, |p| p.max(slot.next_send_at))
            })
            .filter(|at| *at > now)
            .min()
    }

    /// Takes every waiting delivery out (shutdown), answering their leases
    /// and those put aside, to release.
    pub(super) fn drain_waiting(&mut self) -> Vec<Lease> {
        let drained = self.waiting.drain();
        let mut leases = self.take_unsent();
        for admitted in drained {
            self.unadmit(&admitted);
            leases.push(admitted.due.lease());
        }
        leases
    }
}

/// One of `account`'s deliveries is no longer admitted; an account with
/// none is forgotten, so shares count only accounts with work.
fn leave(accounts: &mut HashMap<String, usize>, account: &str) {
    if let Some(admitted) = accounts.get_mut(account) {
        *admitted -= 1;
        if *admitted == 0 {
            accounts.remove(account);
        }
    }
}

/// How many deliveries an endpoint may have admitted: as many as its current
/// limit can finish within half a lease at its recent pace (Little's law),
/// so a waiting delivery never outlives its lease — at least twice its
/// limit, at most [`MAX_ADMITTED`]; a rate-limited one, at most a
/// [`RATE_HORIZON`] of sends beyond those in flight.
fn admission_limit(settings: &Settings, slot: &EndpointSlot, now: Instant) -> usize {
    let limit = slot.limit.limit() as usize;
    let rounds = settings.queue_budget_secs / slot.avg_secs.max(0.000_5);
    let by_pace = ((rounds * limit as f64) as usize).clamp(limit * 2, MAX_ADMITTED.max(limit * 2));
    match slot.rate_limit_per_sec {
        Some(rate) => {
            let booked = slot.next_send_at.saturating_duration_since(now);
            let horizon = RATE_HORIZON.saturating_sub(booked).as_secs_f64();
            let sends = (f64::from(rate) * horizon).ceil() as usize;
            by_pace.min(slot.in_flight as usize + sends.max(1))
        }
        None => by_pace,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use hookline_core::{EventFormat, PayloadMode};
    use tokio::sync::Semaphore;

    use super::*;

    /// A book, a node's room of 100 workers, and a life that has not ended.
    fn setup(
        capacity: usize,
        endpoint_concurrency: usize,
    ) -> (Book, Arc<Semaphore>, CancellationToken) {
        (
            book(capacity, endpoint_concurrency),
            Arc::new(Semaphore::new(100)),
            CancellationToken::new(),
        )
    }

    fn book(capacity: usize, endpoint_concurrency: usize) -> Book {
        Book::new(Settings {
            endpoint_concurrency,
            queue_budget_secs: 30.0,
            request_timeout_secs: 1.0,
            capacity,
            send_window: Duration::from_secs(10),
        })
    }

    fn due(n: usize, account: &str, endpoint: &str) -> DueDelivery {
        DueDelivery {
            delivery_id: format!("dlv_{n}"),
            event_id: format!("evt_{n}"),
            account_id: account.into(),
            endpoint_id: Some(endpoint.into()),
            url: "http://127.0.0.1/".into(),
            attempts: 0,
            first_attempt_at: None,
            event_type: "payment.completed".into(),
            event_created_at: chrono::Utc::now(),
            data: "{}".into(),
            format: EventFormat::default(),
            payload: PayloadMode::Full,
            headers: Default::default(),
            secrets: Vec::new(),
            rate_limit_per_sec: None,
            endpoint_failing_since: None,
            lease_epoch: 1,
        }
    }

    /// Admits `n` deliveries of `account` to `endpoint`; answers how many fit.
    fn admit_n(
        b: &mut Book,
        room: &Arc<Semaphore>,
        life: &CancellationToken,
        account: &str,
        endpoint: &str,
        n: usize,
        now: Instant,
    ) -> usize {
        (0..n)
            .filter(|i| {
                let permit = room.clone().try_acquire_owned().expect("room");
                b.admit(
                    due(*i, account, endpoint),
                    permit,
                    life,
                    now,
                    &mut Vec::new(),
                )
                .is_ok()
            })
            .count()
    }

    #[test]
    fn a_flooding_account_holds_at_most_its_share_and_a_newcomer_finds_room() {
        let (mut b, room, life) = setup(12, 100);
        let now = Instant::now();
        // Alone, an account may hold half the room: the other half is the newcomer's.
        assert_eq!(admit_n(&mut b, &room, &life, "noisy", "ep_n", 100, now), 6);
        assert_eq!(b.saturated_accounts(), ["noisy"]);
        assert_eq!(admit_n(&mut b, &room, &life, "quiet", "ep_q", 100, now), 4);
        // Sending alternates between the accounts.
        let sent: Vec<String> = (0..4)
            .map(|_| b.next_to_send(now).unwrap().due.account_id)
            .collect();
        assert_eq!(sent, ["noisy", "quiet", "noisy", "quiet"]);
    }

    #[test]
    fn an_overloaded_endpoint_sends_less_and_waits_for_retry_after() {
        let (mut b, room, life) = setup(100, 4);
        let now = Instant::now();
        assert_eq!(admit_n(&mut b, &room, &life, "a", "ep", 8, now), 8);
        let first: Vec<Admitted> = (0..4).map(|_| b.next_to_send(now).unwrap()).collect();
        assert!(b.next_to_send(now).is_none(), "four in flight at limit 4");
        // A 429 with Retry-After: 2 s halves the limit and pauses new sends.
        let answer = Answer::Overloaded {
            retry_after: Some(Duration::from_secs(2)),
        };
        let changes = b.finished(
            &first[0],
            Some((answer, Duration::from_millis(5))),
            now,
            now,
        );
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].limit, Some(2));
        assert!(b.saturated_endpoints(now).contains(&"ep".to_string()));
        for sent in &first[1..] {
            b.finished(
                sent,
                Some((Answer::Neutral, Duration::from_millis(5))),
                now,
                now,
            );
        }
        assert!(b.next_to_send(now).is_none(), "paused by Retry-After");
        assert_eq!(b.next_ready_at(now), Some(now + Duration::from_secs(2)));
        let later = now + Duration::from_secs(2);
        assert!(b.next_to_send(later).is_some());
        assert!(b.next_to_send(later).is_some());
        assert!(b.next_to_send(later).is_none(), "at most two at limit 2");
    }

    #[test]
    fn deliveries_of_an_ended_life_or_past_their_window_are_not_sent() {
        let (mut b, room) = (book(100, 4), Arc::new(Semaphore::new(100)));
        let now = Instant::now();
        let old_life = CancellationToken::new();
        let life = CancellationToken::new();
        assert_eq!(admit_n(&mut b, &room, &old_life, "a", "ep", 2, now), 2);
        assert_eq!(admit_n(&mut b, &room, &life, "b", "ep_b", 1, now), 1);
        old_life.cancel();
        assert_eq!(b.drop_dead(), 2);
        assert!(b.saturated_accounts().is_empty());
        // Both go back for release: the lease may be this node's still.
        assert_eq!(b.take_unsent().len(), 2);
        // Past its send window the delivery goes back for release too.
        let late = now + Duration::from_secs(11);
        assert!(b.next_to_send(late).is_none());
        let unsent = b.take_unsent();
        assert_eq!(unsent.len(), 1);
        assert_eq!(unsent[0].delivery_id, "dlv_0");
        assert!(b.drain_waiting().is_empty());
    }

    #[test]
    fn an_attempt_cut_short_gives_its_lease_back() {
        let (mut b, room, life) = setup(100, 4);
        let now = Instant::now();
        assert_eq!(admit_n(&mut b, &room, &life, "a", "ep", 1, now), 1);
        let sent = b.next_to_send(now).unwrap();
        assert!(b.finished(&sent, None, now, now).is_empty());
        let unsent = b.take_unsent();
        assert_eq!(unsent.len(), 1);
        assert_eq!(unsent[0].delivery_id, "dlv_0");
        assert!(b.saturated_accounts().is_empty());
    }
}
