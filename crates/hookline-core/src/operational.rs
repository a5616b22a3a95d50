//! Operational webhooks: what Hookline tells the platform itself about its
//! merchants' endpoints (`endpoint.disabled`, `endpoint.failing`,
//! `endpoint.recovered`, `delivery.exhausted`).
//!
//! They are events of one internal account, [`PLATFORM_ACCOUNT_ID`], whose
//! endpoints are the platform's operational endpoints, so the same engine
//! signs, retries and logs them. Attempts of that account never produce
//! operational events: they cannot trigger themselves. This module holds
//! the pure parts: the types, the payloads, and when a run of failures
//! crosses the "failing" threshold or ends in a recovery.

use serde_json::{json, Value};

use crate::{format_time, Attempt};

/// The internal account that owns operational endpoints and events.
pub const PLATFORM_ACCOUNT_ID: &str = "acct_platform";

/// The operational event types, with what each means.
pub const EVENT_TYPES: [(&str, &str); 4] = [
    (
        "endpoint.disabled",
        "Hookline disabled an endpoint (410 Gone, or failing for 5 days); `reason` says which.",
    ),
    (
        "endpoint.failing",
        "An endpoint's latest attempts all failed, as many in a row as configured.",
    ),
    (
        "endpoint.recovered",
        "An endpoint that was failing answered successfully again.",
    ),
    (
        "delivery.exhausted",
        "A delivery used up its retries and will not be attempted again.",
    ),
];

/// An example `data` of operational type `event_type` (a test send's),
/// shaped as the real ones; `None` for another type.
pub fn example(event_type: &str) -> Option<Value> {
    let failed = Attempt {
        id: "att_example".into(),
        delivery_id: "dlv_example".into(),
        event_id: "evt_example".into(),
        account_id: "acct_example".into(),
        endpoint_id: Some("ep_example".into()),
        url: "https://merchant.example/webhooks".into(),
        attempt: 3,
        started_at: chrono::DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default(),
        duration_ms: 120,
        outcome: crate::AttemptOutcome::HttpError,
        status_code: Some(503),
        error: Some("HTTP 503".into()),
        response_body: String::new(),
        manual: false,
        exchange: None,
    };
    let extra = match event_type {
        "endpoint.disabled" => {
            json!({"reason": "the endpoint answered 410 Gone, asking for no more webhooks"})
        }
        "endpoint.failing" => json!({"consecutive_failures": 5}),
        "endpoint.recovered" => json!({}),
        "delivery.exhausted" => {
            json!({"delivery_id": failed.delivery_id, "event_id": failed.event_id, "attempts": 3})
        }
        _ => return None,
    };
    Some(event_data(&failed, extra))
}

/// Whether `name` is an operational event type.
pub fn is_operational_type(name: &str) -> bool {
    EVENT_TYPES.iter().any(|(t, _)| *t == name)
}

/// How a run of attempts to one endpoint changed, given its latest
/// attempts newest first (`recent`), of which the first `new` were just
/// recorded: did the run of failures reach `threshold` now, and did a new
/// success end a run of at least `threshold` failures? Each happens once
/// per run, however the attempts were batched. `recent` should hold at
/// least `new + threshold + 1` attempts when there are that many.
pub fn transitions(recent: &[Attempt], new: usize, threshold: u32) -> Transitions {
    let threshold = threshold.max(1) as usize;
    let ok = |a: &Attempt| a.outcome == crate::AttemptOutcome::Succeeded;
    let leading_failures = recent.iter().take_while(|a| !ok(a)).count();
    let failing = leading_failures >= threshold && leading_failures.saturating_sub(new) < threshold;
    let recovered = (0..new.min(recent.len())).find_map(|i| {
        if !ok(&recent[i]) {
            return None;
        }
        let run = recent[i + 1..].iter().take_while(|a| !ok(a)).count();
        (run >= threshold).then(|| recent[i + 1].clone())
    });
    Transitions {
        failing: failing.then(|| recent[0].clone()),
        recovered,
    }
}

/// What [`transitions`] found; each carries the attempt that is the
/// event's "last error".
#[derive(Debug, Clone, PartialEq)]
pub struct Transitions {
    /// The newest failure, when the run of failures just reached the threshold.
    pub failing: Option<Attempt>,
    /// The last failure before the success that ended a long enough run.
    pub recovered: Option<Attempt>,
}

/// The `last_error` object of an operational event.
pub fn last_error(attempt: &Attempt) -> Value {
    json!({
        "attempt_id": attempt.id,
        "delivery_id": attempt.delivery_id,
        "event_id": attempt.event_id,
        "at": format_time(attempt.started_at),
        "outcome": attempt.outcome.as_str(),
        "status_code": attempt.status_code,
        "error": attempt.error,
    })
}

/// The `data` of an operational event about `attempt`'s endpoint (or
/// delivery): account, endpoint, URL as logged (masked) and last error,
/// plus `extra` fields.
pub fn event_data(attempt: &Attempt, extra: Value) -> Value {
    let mut data = json!({
        "account_id": attempt.account_id,
        "endpoint_id": attempt.endpoint_id,
        "url": attempt.url,
        "last_error": last_error(attempt),
    });
    if let (Some(data), Value::Object(extra)) = (data.as_object_mut(), extra) {
        data.extend(extra);
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AttemptOutcome;

    fn attempt(n: u32, ok: bool) -> Attempt {
        Attempt {
            id: format!("att_{n}"),
            delivery_id: "dlv_1".into(),
            event_id: "evt_1".into(),
            account_id: "acct_1".into(),
            endpoint_id: Some("ep_1".into()),
            url: "https://merchant.example/hooks".into(),
            attempt: n,
            started_at: chrono::Utc::now(),
            duration_ms: 3,
            outcome: if ok {
                AttemptOutcome::Succeeded
            } else {
                AttemptOutcome::HttpError
            },
            status_code: Some(if ok { 200 } else { 500 }),
            error: (!ok).then(|| "HTTP 500".to_string()),
            response_body: String::new(),
            manual: false,
            exchange: None,
        }
    }

    /// Attempts newest first from a string like "FFFS" (F failed, S succeeded).
    fn history(outcomes: &str) -> Vec<Attempt> {
        outcomes
            .chars()
            .enumerate()
            .map(|(i, c)| attempt(i as u32, c == 'S'))
            .collect()
    }

    #[test]
    fn failing_fires_once_when_the_run_reaches_the_threshold() {
        let crossed = |h: &str, new| transitions(&history(h), new, 3).failing.is_some();
        assert!(!crossed("FFS", 1), "two failures are not three");
        assert!(crossed("FFFS", 1), "the third failure in a row");
        assert!(crossed("FFF", 1), "three failures, nothing older");
        assert!(!crossed("FFFFS", 1), "already reported at the third");
        assert!(crossed("FFFFS", 2), "crossed within this batch");
        assert!(crossed("FFFFF", 5), "a whole run in one batch");
        assert!(!crossed("SFFF", 1), "a success ends the run");
        assert_eq!(
            transitions(&history("FFF"), 1, 3).failing.unwrap().id,
            "att_0",
            "the newest failure is the last error"
        );
    }

    #[test]
    fn recovered_fires_when_a_success_ends_a_long_enough_run() {
        let recovered = |h: &str, new| transitions(&history(h), new, 3).recovered.map(|a| a.id);
        assert_eq!(recovered("SFFF", 1), Some("att_1".into()));
        assert_eq!(recovered("SFFFF", 1), Some("att_1".into()));
        assert_eq!(recovered("SFF", 1), None, "two failures were never failing");
        assert_eq!(
            recovered("SSFFF", 1),
            None,
            "the older success already reported it"
        );
        assert_eq!(recovered("SSFFF", 2), Some("att_2".into()));
        assert_eq!(recovered("S", 1), None);
        assert_eq!(recovered("FSFFF", 1), None, "the new attempt failed");
    }

    #[test]
    fn a_threshold_of_zero_counts_as_one() {
        assert!(transitions(&history("F"), 1, 0).failing.is_some());
    }

    #[test]
    fn payloads_carry_account_endpoint_and_last_error() {
        let failed = attempt(4, false);
        let data = event_data(&failed, json!({"reason": "the endpoint answered 410 Gone"}));
        assert_eq!(data["account_id"], "acct_1");
        assert_eq!(data["endpoint_id"], "ep_1");
        assert_eq!(data["reason"], "the endpoint answered 410 Gone");
        assert_eq!(data["last_error"]["status_code"], 500);
        assert_eq!(data["last_error"]["outcome"], "http_error");
        assert_eq!(data["last_error"]["attempt_id"], "att_4");
        assert!(is_operational_type("delivery.exhausted"));
        for (t, _) in EVENT_TYPES {
            assert!(
                example(t).unwrap()["last_error"]["status_code"] == 503,
                "{t}"
            );
        }
        assert_eq!(example("payment.completed"), None);
        assert!(!is_operational_type("payment.completed"));
    }
}
