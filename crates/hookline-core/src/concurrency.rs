//! How many requests one endpoint may have in flight from one node, adapted
//! to how it answers: additive increase, multiplicative decrease (AIMD).
//!
//! A timeout, a connection error, a `429` or a `503` halves the limit (never
//! below 1); a run of successes as long as the limit adds one (never above the
//! configured maximum). Answers to requests sent before the last decrease do
//! not halve it again, so a burst of timeouts from one overload counts once. A
//! `Retry-After` on a `429`/`503` — the answers whose `Retry-After` the retry
//! policy honours — also pauses new sends to the endpoint until then (at most
//! [`MAX_PAUSE`]). [`AdaptiveLimit`] is a pure state machine: the clock is
//! passed in, so its rules are tested here without a receiver or a wait.

use std::time::{Duration, Instant};

use crate::AttemptOutcome;

/// The longest a `Retry-After` pauses an endpoint's new sends: longer hints
/// still move the delivery's own retry (the policy), but the endpoint is
/// probed again by then, at its halved limit.
pub const MAX_PAUSE: Duration = Duration::from_secs(60);

/// What an answer says about the endpoint's capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// A success: the endpoint keeps up.
    Healthy,
    /// A timeout, a connection error, a `429` or a `503`: it does not.
    Overloaded {
        /// The receiver's `Retry-After` (read on `429` and `503` only).
        retry_after: Option<Duration>,
    },
    /// Any other answer (a `400`, a `500`, a refused address): says nothing
    /// about load.
    Neutral,
}

impl Answer {
    /// Classifies an attempt by its outcome and status.
    pub fn of(
        outcome: AttemptOutcome,
        status_code: Option<u16>,
        retry_after: Option<Duration>,
    ) -> Answer {
        match (outcome, status_code) {
            (AttemptOutcome::Succeeded, _) => Answer::Healthy,
            (AttemptOutcome::Timeout | AttemptOutcome::ConnectionError, _)
            | (AttemptOutcome::HttpError, Some(429 | 503)) => Answer::Overloaded { retry_after },
            _ => Answer::Neutral,
        }
    }
}

/// One endpoint's current concurrency limit and what it is based on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdaptiveLimit {
    max: u32,
    limit: u32,
    /// Successes since the limit last changed.
    healthy_run: u32,
    /// When the limit was last halved: older requests' failures are old news.
    decreased_at: Option<Instant>,
    /// No new sends before this (`Retry-After`).
    paused_until: Option<Instant>,
}

impl AdaptiveLimit {
    /// A limit that starts at `max` (at least 1): an endpoint is trusted
    /// until it shows it is overloaded.
    pub fn new(max: u32) -> AdaptiveLimit {
        let max = max.max(1);
        AdaptiveLimit {
            max,
            limit: max,
            healthy_run: 0,
            decreased_at: None,
            paused_until: None,
        }
    }

    /// Requests allowed in flight now.
    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// The configured maximum.
    pub fn max(&self) -> u32 {
        self.max
    }

    /// Until when new sends wait for the endpoint's `Retry-After`, if they do.
    pub fn paused_until(&self, now: Instant) -> Option<Instant> {
        self.paused_until.filter(|until| *until > now)
    }

    /// Whether one more request may start with `in_flight` already running.
    pub fn allows(&self, in_flight: u32, now: Instant) -> bool {
        in_flight < self.limit && self.paused_until(now).is_none()
    }

    /// Learns from an answer to a request sent at `sent_at`, received at
    /// `now`; answers whether the limit changed.
    pub fn observe(&mut self, answer: Answer, sent_at: Instant, now: Instant) -> bool {
        let before = self.limit;
        match answer {
            Answer::Healthy => {
                self.healthy_run += 1;
                if self.healthy_run >= self.limit && self.limit < self.max {
                    self.limit += 1;
                    self.healthy_run = 0;
                }
            }
            Answer::Overloaded { retry_after } => {
                if let Some(wait) = retry_after {
                    let until = now + wait.min(MAX_PAUSE);
                    self.paused_until = Some(self.paused_until.map_or(until, |p| p.max(until)));
                }
                let already_counted = self.decreased_at.is_some_and(|at| sent_at < at);
                if !already_counted {
                    self.limit = (self.limit / 2).max(1);
                    self.healthy_run = 0;
                    self.decreased_at = Some(now);
                }
            }
            Answer::Neutral => {}
        }
        self.limit != before
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn overloaded() -> Answer {
        Answer::Overloaded { retry_after: None }
    }

    #[test]
    fn answers_are_classified_by_what_they_say_about_load() {
        use AttemptOutcome::*;
        let ra = Some(Duration::from_secs(5));
        assert_eq!(Answer::of(Succeeded, Some(200), None), Answer::Healthy);
        assert_eq!(
            Answer::of(HttpError, Some(429), ra),
            Answer::Overloaded { retry_after: ra }
        );
        assert_eq!(Answer::of(HttpError, Some(503), None), overloaded());
        assert_eq!(Answer::of(Timeout, None, None), overloaded());
        assert_eq!(Answer::of(ConnectionError, None, None), overloaded());
        assert_eq!(Answer::of(HttpError, Some(500), None), Answer::Neutral);
        assert_eq!(Answer::of(HttpError, Some(400), None), Answer::Neutral);
        assert_eq!(Answer::of(Blocked, None, None), Answer::Neutral);
    }

    #[test]
    fn starts_at_the_maximum_and_never_leaves_one_to_max() {
        let t0 = Instant::now();
        let mut l = AdaptiveLimit::new(8);
        assert_eq!((l.limit(), l.max()), (8, 8));
        let mut now = t0;
        for _ in 0..10 {
            now += MS;
            l.observe(overloaded(), now, now);
        }
        assert_eq!(l.limit(), 1);
        for _ in 0..1000 {
            now += MS;
            l.observe(Answer::Healthy, now, now);
        }
        assert_eq!(l.limit(), 8);
        assert_eq!(AdaptiveLimit::new(0).limit(), 1);
    }

    #[test]
    fn overload_halves_once_per_burst() {
        let t0 = Instant::now();
        let mut l = AdaptiveLimit::new(32);
        // 32 requests sent at t0 all time out a second later: one halving.
        let late = t0 + Duration::from_secs(1);
        assert!(l.observe(overloaded(), t0, late));
        for _ in 0..31 {
            assert!(!l.observe(overloaded(), t0, late));
        }
        assert_eq!(l.limit(), 16);
        // A request sent after that decrease that fails halves again.
        assert!(l.observe(overloaded(), late + MS, late + 2 * MS));
        assert_eq!(l.limit(), 8);
    }

    #[test]
    fn a_run_of_successes_as_long_as_the_limit_adds_one() {
        let t0 = Instant::now();
        let mut l = AdaptiveLimit::new(32);
        l.observe(overloaded(), t0, t0);
        l.observe(overloaded(), t0 + MS, t0 + MS);
        assert_eq!(l.limit(), 8);
        let at = t0 + 2 * MS;
        for _ in 0..7 {
            assert!(!l.observe(Answer::Healthy, at, at));
        }
        assert!(l.observe(Answer::Healthy, at, at));
        assert_eq!(l.limit(), 9);
        // Neutral answers neither grow nor shrink it.
        for _ in 0..100 {
            assert!(!l.observe(Answer::Neutral, at, at));
        }
        assert_eq!(l.limit(), 9);
    }

    #[test]
    fn an_overload_restarts_the_healthy_run() {
        let t0 = Instant::now();
        let mut l = AdaptiveLimit::new(4);
        l.observe(overloaded(), t0, t0);
        assert_eq!(l.limit(), 2);
        l.observe(Answer::Healthy, t0, t0);
        l.observe(overloaded(), t0 + MS, t0 + MS);
        assert_eq!(l.limit(), 1);
        assert!(l.observe(Answer::Healthy, t0 + MS, t0 + MS));
        assert_eq!(l.limit(), 2);
    }

    #[test]
    fn in_flight_requests_count_against_the_limit() {
        let now = Instant::now();
        let mut l = AdaptiveLimit::new(2);
        assert!(l.allows(0, now) && l.allows(1, now) && !l.allows(2, now));
        l.observe(overloaded(), now, now);
        assert!(l.allows(0, now) && !l.allows(1, now));
    }

    #[test]
    fn retry_after_pauses_new_sends_until_then_at_most_max_pause() {
        let t0 = Instant::now();
        let mut l = AdaptiveLimit::new(4);
        let wait = Some(Duration::from_secs(3));
        l.observe(Answer::Overloaded { retry_after: wait }, t0, t0);
        assert_eq!(l.paused_until(t0), Some(t0 + Duration::from_secs(3)));
        assert!(!l.allows(0, t0 + Duration::from_secs(2)));
        assert!(l.allows(0, t0 + Duration::from_secs(3)));
        assert_eq!(l.paused_until(t0 + Duration::from_secs(3)), None);
        // A later, shorter hint never shortens a pause; an hour is capped.
        let hour = Some(Duration::from_secs(3600));
        let t1 = t0 + Duration::from_secs(4);
        l.observe(Answer::Overloaded { retry_after: hour }, t0, t1);
        l.observe(Answer::Overloaded { retry_after: wait }, t0, t1);
        assert_eq!(l.paused_until(t1), Some(t1 + MAX_PAUSE));
    }
}
