//! The operational events a recorded batch of attempts calls for, worked
//! out inside the transaction that records them (both backends follow this
//! rule): they are written to the `operational_outbox` with the attempts,
//! so a crash after the commit loses no notification. The server's drainer
//! publishes them into the platform account. The event types and the
//! pure rules are `hookline_core::operational`'s.

use std::collections::BTreeMap;

use chrono::Utc;
use hookline_core::operational::{event_data, transitions, PLATFORM_ACCOUNT_ID};
use hookline_core::{Attempt, Event, Id, IdKind, Timestamp};
use serde_json::{json, Value};

use crate::types::{AttemptResult, EndpointEffect, NextStep};

/// What a batch calls for before any history is read: the events its
/// attempts name directly, and the endpoints whose run of failures may
/// have changed (only those need their recent attempts).
#[derive(Default)]
pub(crate) struct Plan<'a> {
    events: Vec<(&'static str, Value)>,
    /// Per endpoint (account, endpoint id): its attempts in this batch.
    runs: BTreeMap<(&'a str, &'a str), usize>,
}

/// The attempts of merchants' endpoints in `fresh` (the attempts just
/// stored, in order); the platform account's own are left out, so
/// operational webhooks never trigger themselves.
pub(crate) fn plan<'a>(fresh: &[&'a AttemptResult]) -> Plan<'a> {
    let mut plan = Plan::default();
    let mut changed: BTreeMap<(&'a str, &'a str), (usize, bool)> = BTreeMap::new();
    for &result in fresh {
        let attempt = &result.attempt;
        if attempt.account_id == PLATFORM_ACCOUNT_ID {
            continue;
        }
        let disabled = matches!(result.endpoint_effect, EndpointEffect::Disable(_));
        if let EndpointEffect::Disable(reason) = &result.endpoint_effect {
            plan.events.push((
                "endpoint.disabled",
                event_data(attempt, json!({"reason": reason})),
            ));
        }
        if result.next == NextStep::Failed && !result.succeeded() && !disabled {
            plan.events.push((
                "delivery.exhausted",
                event_data(
                    attempt,
                    json!({"delivery_id": attempt.delivery_id, "event_id": attempt.event_id,
                           "attempts": attempt.attempt}),
                ),
            ));
        }
        if let Some(endpoint) = &attempt.endpoint_id {
            let entry = changed
                .entry((attempt.account_id.as_str(), endpoint.as_str()))
                .or_default();
            entry.0 += 1;
            // A failure, or a success of an endpoint that was failing: a
            // healthy steady state needs no history.
            entry.1 |= !result.succeeded() || result.endpoint_effect == EndpointEffect::Healthy;
        }
    }
    plan.runs = changed
        .into_iter()
        .filter(|(_, (_, changed))| *changed)
        .map(|(key, (new, _))| (key, new))
        .collect();
    plan
}

impl<'a> Plan<'a> {
    /// Whether the batch calls for nothing at all.
    pub(crate) fn is_empty(&self) -> bool {
        self.events.is_empty() && self.runs.is_empty()
    }

    /// The endpoints whose latest attempts are needed, with how many
    /// (newest first, this batch's included) the rule looks at.
    pub(crate) fn histories_needed(&self, failing_after: u32) -> Vec<(&'a str, i64)> {
        self.runs
            .iter()
            .map(|(&(_, endpoint), &new)| (endpoint, history_len(new, failing_after)))
            .collect()
    }

    /// The events, given each endpoint's latest attempts newest first (as
    /// many as [`Plan::histories_needed`] asked for).
    pub(crate) fn events(
        mut self,
        histories: &BTreeMap<String, Vec<Attempt>>,
        failing_after: u32,
    ) -> Vec<Event> {
        for (&(_, endpoint), &new) in &self.runs {
            let recent = histories.get(endpoint).map_or(&[][..], Vec::as_slice);
            let found = transitions(recent, new, failing_after);
            if let Some(failed) = found.failing {
                self.events.push((
                    "endpoint.failing",
                    event_data(
                        &failed,
                        json!({"consecutive_failures": failing_after.max(1)}),
                    ),
                ));
            }
            if let Some(failed) = found.recovered {
                self.events
                    .push(("endpoint.recovered", event_data(&failed, json!({}))));
            }
        }
        let now = Utc::now();
        self.events
            .into_iter()
            .map(|(event_type, data)| {
                event(
                    Id::generate(IdKind::Event),
                    event_type.to_string(),
                    data.to_string(),
                    now,
                )
            })
            .collect()
    }
}

/// The platform account's event `id` as written to (and read back from) the
/// outbox: no URL, key, channel or Svix id; its payload hash is its own id,
/// as nobody publishes one again with other contents.
pub(crate) fn event(id: String, event_type: String, data: String, created_at: Timestamp) -> Event {
    Event {
        payload_hash: format!("operational:{id}"),
        id,
        account_id: PLATFORM_ACCOUNT_ID.to_string(),
        event_type,
        data,
        webhook_url: None,
        external_id: None,
        channels: Vec::new(),
        format: Default::default(),
        ordering_key: None,
        created_at,
    }
}

/// How many of an endpoint's latest attempts show the run before this
/// batch's `new` ones.
fn history_len(new: usize, failing_after: u32) -> i64 {
    i64::try_from(new + failing_after.max(1) as usize + 1).unwrap_or(i64::MAX)
}
