//! Operational webhooks: after a batch of attempts is recorded, tells the
//! platform's operational endpoints what happened to its merchants'
//! endpoints (`hookline_core::operational` holds the types and rules).
//!
//! The events are published in the platform account, so the same engine
//! delivers them with retries and an attempt log; attempts of that account
//! are skipped here, so operational webhooks never trigger themselves. They
//! are published after the attempts' commit: a crash in between loses the
//! notification, never an accepted event or an attempt record.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::Utc;
use hookline_core::operational::{event_data, transitions, PLATFORM_ACCOUNT_ID};
use hookline_core::{Attempt, Event, Id, IdKind};
use hookline_store::{
    AttemptResult, AttemptsOf, EndpointEffect, NextStep, PageRequest, PublishRequest, SharedStore,
    StoreError, Target,
};
use serde_json::json;
use tokio::sync::Notify;

/// Publishes operational events for recorded attempts.
pub(super) struct Notifier {
    pub(super) store: SharedStore,
    /// Consecutive failures after which `endpoint.failing` is sent.
    pub(super) failing_after: u32,
    pub(super) wake: Arc<Notify>,
}

impl Notifier {
    /// Publishes whatever `batch` (already recorded) calls for. Failures
    /// are logged: an operational event never holds up attempt recording.
    pub(super) async fn after_recorded(&self, batch: &[AttemptResult]) {
        let merchants: Vec<&AttemptResult> = batch
            .iter()
            .filter(|r| r.attempt.account_id != PLATFORM_ACCOUNT_ID)
            .collect();
        if merchants.is_empty() {
            return;
        }
        let events = match self.events_for(&merchants).await {
            Ok(events) => events,
            Err(err) => {
                tracing::warn!(error = %err, "could not work out operational events");
                return;
            }
        };
        if events.is_empty() {
            return;
        }
        match self.store.get_account(PLATFORM_ACCOUNT_ID).await {
            Ok(_) => {}
            // No operational endpoint was ever registered: nobody to tell.
            Err(StoreError::NotFound) => return,
            Err(err) => {
                tracing::warn!(error = %err, "could not publish operational events");
                return;
            }
        }
        for (event_type, data) in events {
            if let Err(err) = self.publish(event_type, data).await {
                tracing::warn!(error = %err, event_type, "could not publish an operational event");
            }
        }
        self.wake.notify_one();
    }

    async fn events_for(
        &self,
        batch: &[&AttemptResult],
    ) -> Result<Vec<(&'static str, serde_json::Value)>, StoreError> {
        let mut events = Vec::new();
        // Attempts of this batch per endpoint, and whether the endpoint's run
        // may have changed (a failure, or a success after failures): only
        // those are looked up, so a healthy steady state costs no query.
        let mut per_endpoint: BTreeMap<(&str, &str), (usize, bool)> = BTreeMap::new();
        for result in batch {
            let attempt = &result.attempt;
            if let EndpointEffect::Disable(reason) = &result.endpoint_effect {
                events.push((
                    "endpoint.disabled",
                    event_data(attempt, json!({"reason": reason})),
                ));
            }
            let disabled = matches!(result.endpoint_effect, EndpointEffect::Disable(_));
            if result.next == NextStep::Failed && !result.succeeded() && !disabled {
                events.push((
                    "delivery.exhausted",
                    event_data(
                        attempt,
                        json!({"delivery_id": attempt.delivery_id, "event_id": attempt.event_id,
                               "attempts": attempt.attempt}),
                    ),
                ));
            }
            if let Some(endpoint) = &attempt.endpoint_id {
                let entry = per_endpoint
                    .entry((attempt.account_id.as_str(), endpoint.as_str()))
                    .or_default();
                entry.0 += 1;
                entry.1 |= !result.succeeded() || result.endpoint_effect == EndpointEffect::Healthy;
            }
        }
        for ((account, endpoint), (new, changed)) in per_endpoint {
            if !changed {
                continue;
            }
            let recent = self.recent_attempts(account, endpoint, new).await?;
            let found = transitions(&recent, new, self.failing_after);
            if let Some(failed) = found.failing {
                events.push((
                    "endpoint.failing",
                    event_data(
                        &failed,
                        json!({"consecutive_failures": self.failing_after.max(1)}),
                    ),
                ));
            }
            if let Some(failed) = found.recovered {
                events.push(("endpoint.recovered", event_data(&failed, json!({}))));
            }
        }
        Ok(events)
    }

    /// The endpoint's latest attempts, newest first: enough to see the run
    /// before this batch's `new` ones.
    async fn recent_attempts(
        &self,
        account: &str,
        endpoint: &str,
        new: usize,
    ) -> Result<Vec<Attempt>, StoreError> {
        let limit = new + self.failing_after.max(1) as usize + 1;
        let page = PageRequest::first(u32::try_from(limit).unwrap_or(u32::MAX).min(1000));
        match self
            .store
            .list_attempts(account, AttemptsOf::Endpoint(endpoint.to_string()), page)
            .await
        {
            Ok(page) => Ok(page.items),
            // Deleted meanwhile: nothing to report about its runs.
            Err(StoreError::NotFound) => Ok(Vec::new()),
            Err(err) => Err(err),
        }
    }

    async fn publish(
        &self,
        event_type: &'static str,
        data: serde_json::Value,
    ) -> Result<(), StoreError> {
        let id = Id::generate(IdKind::Event);
        let event = Event {
            payload_hash: format!("operational:{id}"),
            id,
            account_id: PLATFORM_ACCOUNT_ID.to_string(),
            event_type: event_type.to_string(),
            data: data.to_string(),
            webhook_url: None,
            ordering_key: None,
            external_id: None,
            channels: Vec::new(),
            format: Default::default(),
            created_at: Utc::now(),
        };
        self.store
            .publish(PublishRequest {
                event,
                target: Target::Subscribed,
                lease: None,
            })
            .await
            .map(|_| ())
    }
}
