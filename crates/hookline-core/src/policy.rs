//! What happens after an attempt: the delivery succeeds, is retried at a
//! time, or fails; and its endpoint stays as it is, is healthy again, starts
//! failing, or is disabled (it answered `410 Gone`, or every attempt has
//! failed for five days).
//!
//! [`decide`] is a pure function of the time, what was known before the
//! attempt and what the attempt came to; the clock and the jitter are passed
//! in, so every rule is tested here without a server, a receiver or a wait.

use std::time::Duration;

use crate::retry::{should_disable_endpoint, Jitter, RetryDecision, RetrySchedule};
use crate::{format_time, AttemptOutcome, Timestamp};

/// What happens to a delivery after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    Succeeded,
    RetryAt(Timestamp),
    Failed,
}

/// What an attempt does to its endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointEffect {
    None,
    /// A success: the endpoint is healthy again (`failing_since` cleared).
    Healthy,
    /// A failure: `failing_since` is set to the attempt time unless already set.
    Failing,
    /// Disable the endpoint with this reason (410 Gone, or failing for 5 days).
    Disable(String),
}

/// What was known about a delivery before the attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryState {
    /// Attempts made before this one.
    pub attempts_made: u32,
    /// When the first attempt started (`None` before the first).
    pub first_attempt_at: Option<Timestamp>,
    /// Whether it goes to an endpoint (not to an event's own `webhook_url`,
    /// which has no health to keep).
    pub to_endpoint: bool,
    /// When the endpoint's current run of failures began.
    pub endpoint_failing_since: Option<Timestamp>,
}

/// What the attempt came to, as far as the policy cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptFacts {
    pub outcome: AttemptOutcome,
    pub status_code: Option<u16>,
    /// The receiver's `Retry-After`, if any.
    pub retry_after: Option<Duration>,
    pub started_at: Timestamp,
}

/// The consequences of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub next: NextStep,
    pub endpoint_effect: EndpointEffect,
}

/// Decides what follows an attempt that finished at `now`.
pub fn decide(
    schedule: &RetrySchedule,
    now: Timestamp,
    state: DeliveryState,
    attempt: AttemptFacts,
    jitter: Jitter,
) -> Decision {
    if attempt.outcome == AttemptOutcome::Succeeded {
        // Only an endpoint that was failing needs its state written.
        let endpoint_effect = match state.endpoint_failing_since {
            Some(_) => EndpointEffect::Healthy,
            None => EndpointEffect::None,
        };
        return Decision {
            next: NextStep::Succeeded,
            endpoint_effect,
        };
    }
    if attempt.status_code == Some(410) && state.to_endpoint {
        return Decision {
            next: NextStep::Failed,
            endpoint_effect: EndpointEffect::Disable(
                "the endpoint answered 410 Gone, asking for no more webhooks".into(),
            ),
        };
    }
    let first = state.first_attempt_at.unwrap_or(attempt.started_at);
    let number = state.attempts_made + 1;
    let next = match schedule.next(number, first, now, attempt.retry_after, jitter) {
        RetryDecision::RetryAt(at) => NextStep::RetryAt(at),
        RetryDecision::GiveUp => NextStep::Failed,
    };
    let endpoint_effect = match state.endpoint_failing_since {
        Some(since) if should_disable_endpoint(since, attempt.started_at) => {
            EndpointEffect::Disable(format!(
                "every attempt has failed since {}",
                format_time(since)
            ))
        }
        None if state.to_endpoint => EndpointEffect::Failing,
        _ => EndpointEffect::None,
    };
    Decision {
        next,
        endpoint_effect,
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    fn first_attempt() -> DeliveryState {
        DeliveryState {
            attempts_made: 0,
            first_attempt_at: None,
            to_endpoint: true,
            endpoint_failing_since: None,
        }
    }

    fn answered(status: u16) -> AttemptFacts {
        AttemptFacts {
            outcome: if (200..300).contains(&status) {
                AttemptOutcome::Succeeded
            } else {
                AttemptOutcome::HttpError
            },
            status_code: Some(status),
            retry_after: None,
            started_at: t0(),
        }
    }

    fn fixed() -> RetrySchedule {
        RetrySchedule::parse("10s,20s").unwrap()
    }

    #[test]
    fn a_success_succeeds_and_leaves_a_healthy_endpoint_alone() {
        let d = decide(&fixed(), t0(), first_attempt(), answered(200), Jitter::NONE);
        assert_eq!(d.next, NextStep::Succeeded);
        assert_eq!(d.endpoint_effect, EndpointEffect::None);
    }

    #[test]
    fn a_success_makes_a_failing_endpoint_healthy_again() {
        let state = DeliveryState {
            endpoint_failing_since: Some(t0() - chrono::Duration::hours(3)),
            ..first_attempt()
        };
        let d = decide(&fixed(), t0(), state, answered(204), Jitter::NONE);
        assert_eq!(d.next, NextStep::Succeeded);
        assert_eq!(d.endpoint_effect, EndpointEffect::Healthy);
    }

    #[test]
    fn gone_fails_the_delivery_and_disables_the_endpoint() {
        let d = decide(&fixed(), t0(), first_attempt(), answered(410), Jitter::NONE);
        assert_eq!(d.next, NextStep::Failed);
        assert!(
            matches!(d.endpoint_effect, EndpointEffect::Disable(ref why) if why.contains("410"))
        );
    }

    #[test]
    fn gone_from_an_event_url_is_an_ordinary_failure() {
        let state = DeliveryState {
            to_endpoint: false,
            ..first_attempt()
        };
        let d = decide(&fixed(), t0(), state, answered(410), Jitter::NONE);
        assert_eq!(
            d.next,
            NextStep::RetryAt(t0() + chrono::Duration::seconds(10))
        );
        assert_eq!(d.endpoint_effect, EndpointEffect::None);
    }

    #[test]
    fn a_first_failure_retries_and_marks_the_endpoint_failing() {
        let d = decide(&fixed(), t0(), first_attempt(), answered(500), Jitter::NONE);
        assert_eq!(
            d.next,
            NextStep::RetryAt(t0() + chrono::Duration::seconds(10))
        );
        assert_eq!(d.endpoint_effect, EndpointEffect::Failing);
    }

    #[test]
    fn the_retry_is_counted_from_now_and_gives_up_when_the_schedule_is_used() {
        let later = t0() + chrono::Duration::seconds(11);
        let second = DeliveryState {
            attempts_made: 1,
            first_attempt_at: Some(t0()),
            endpoint_failing_since: Some(t0()),
            ..first_attempt()
        };
        let d = decide(&fixed(), later, second, answered(503), Jitter::NONE);
        // Every listed delay is waited, counted from the attempt that failed.
        assert_eq!(
            d.next,
            NextStep::RetryAt(later + chrono::Duration::seconds(20))
        );
        assert_eq!(d.endpoint_effect, EndpointEffect::None, "already failing");
        let third = DeliveryState {
            attempts_made: 2,
            ..second
        };
        let d = decide(&fixed(), later, third, answered(503), Jitter::NONE);
        assert_eq!(d.next, NextStep::Failed);
    }

    #[test]
    fn five_days_of_failure_disable_the_endpoint_four_do_not() {
        let attempt = answered(500);
        let four = DeliveryState {
            endpoint_failing_since: Some(t0() - chrono::Duration::days(4)),
            ..first_attempt()
        };
        let d = decide(&fixed(), t0(), four, attempt, Jitter::NONE);
        assert_eq!(d.endpoint_effect, EndpointEffect::None);
        let five = DeliveryState {
            endpoint_failing_since: Some(t0() - chrono::Duration::days(5)),
            ..first_attempt()
        };
        let d = decide(&fixed(), t0(), five, attempt, Jitter::NONE);
        assert!(
            matches!(d.endpoint_effect, EndpointEffect::Disable(ref why) if why.contains("every attempt has failed since"))
        );
        assert!(
            matches!(d.next, NextStep::RetryAt(_)),
            "the delivery itself still retries"
        );
    }

    #[test]
    fn jitter_moves_exponential_delays_only_within_ten_percent() {
        let s = RetrySchedule::Exponential;
        let at = |jitter| match decide(&s, t0(), first_attempt(), answered(500), jitter).next {
            NextStep::RetryAt(at) => at - t0(),
            other => panic!("expected a retry, got {other:?}"),
        };
        assert_eq!(at(Jitter::NONE), chrono::Duration::seconds(5));
        assert_eq!(
            at(Jitter::factor(1.1)),
            chrono::Duration::milliseconds(5500)
        );
        assert_eq!(
            at(Jitter::factor(3.0)),
            chrono::Duration::milliseconds(5500),
            "clamped"
        );
        assert_eq!(
            at(Jitter::factor(0.9)),
            chrono::Duration::milliseconds(4500)
        );
    }

    #[test]
    fn retry_after_is_honoured() {
        let attempt = AttemptFacts {
            retry_after: Some(Duration::from_secs(25)),
            ..answered(429)
        };
        let d = decide(&fixed(), t0(), first_attempt(), attempt, Jitter::NONE);
        assert_eq!(
            d.next,
            NextStep::RetryAt(t0() + chrono::Duration::seconds(25))
        );
    }
}
