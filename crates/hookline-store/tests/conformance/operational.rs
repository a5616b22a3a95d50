//! Operational events are written by the transaction that records the
//! attempts calling for them: right after `record_attempts` answers they
//! are in the outbox (and stay there across a restart until the drainer
//! deletes them), never about the platform account's own endpoints, and
//! not at all while there is no platform account.

use chrono::Duration;
use hookline_core::operational::PLATFORM_ACCOUNT_ID;
use hookline_core::{Account, Delivery};
use hookline_store::*;
use serde_json::Value;

use crate::harness::*;

/// The outbox's event types and data, oldest first.
async fn outbox(s: &SharedStore) -> Vec<(String, Value)> {
    s.operational_outbox(100)
        .await
        .unwrap()
        .into_iter()
        .map(|o| {
            assert_eq!(o.event.account_id, PLATFORM_ACCOUNT_ID);
            (
                o.event.event_type,
                serde_json::from_str(&o.event.data).unwrap(),
            )
        })
        .collect()
}

async fn record(
    s: &SharedStore,
    d: &Delivery,
    n: u32,
    code: Option<u16>,
    next: NextStep,
    effect: EndpointEffect,
) -> Recorded {
    s.record_attempts(vec![result(
        attempt(d, n, now() + Duration::milliseconds(i64::from(n)), code),
        next,
        effect,
    )])
    .await
    .unwrap()
}

conformance!(operational_events_commit_with_their_attempts, |t| {
    let s = &t.store;
    let a = account(s).await;
    let ep = endpoint(s, &a, &[]).await;
    let retry = NextStep::RetryAt(now() + Duration::minutes(1));
    let first = only_delivery(s, &publish_new(s, &a, "payment.completed").await).await;

    // No platform account yet: nobody to tell, nothing written.
    let recorded = record(
        s,
        &first,
        1,
        Some(500),
        NextStep::Failed,
        EndpointEffect::Failing,
    )
    .await;
    assert_eq!(recorded.operational_events, 0);
    assert!(outbox(s).await.is_empty());

    let platform = Account {
        id: PLATFORM_ACCOUNT_ID.into(),
        ..new_account("Platform")
    };
    s.create_account(&platform, ACCOUNT_SECRET).await.unwrap();
    // The platform's own endpoint failing and exhausting tells nobody.
    let ops = endpoint(s, PLATFORM_ACCOUNT_ID, &[]).await;
    let own = only_delivery(
        s,
        &publish_new(s, PLATFORM_ACCOUNT_ID, "endpoint.failing").await,
    )
    .await;
    for n in 1..=6 {
        let next = if n == 6 { NextStep::Failed } else { retry };
        let recorded = record(s, &own, n, Some(500), next, EndpointEffect::None).await;
        assert_eq!(recorded.operational_events, 0, "never about itself");
    }
    assert!(outbox(s).await.is_empty());

    // The merchant's run of failures reaches the default threshold (5)
    // with its fifth attempt: `endpoint.failing` is there at once.
    let d = only_delivery(s, &publish_new(s, &a, "payment.completed").await).await;
    for n in 2..=4 {
        let recorded = record(s, &d, n, Some(500), retry, EndpointEffect::None).await;
        assert_eq!(
            recorded.operational_events, 0,
            "attempt {n} is below the threshold"
        );
    }
    let recorded = record(s, &d, 5, Some(503), retry, EndpointEffect::None).await;
    assert_eq!(recorded.operational_events, 1);
    let events = outbox(s).await;
    assert_eq!(events.len(), 1);
    let (kind, data) = &events[0];
    assert_eq!(kind, "endpoint.failing");
    assert_eq!(data["account_id"], a.as_str());
    assert_eq!(data["endpoint_id"], ep.id.as_str());
    assert_eq!(data["consecutive_failures"], 5);
    assert_eq!(data["last_error"]["status_code"], 503);

    // Retries used up: `delivery.exhausted`; then a success ends the run.
    record(s, &d, 6, Some(500), NextStep::Failed, EndpointEffect::None).await;
    let later = only_delivery(s, &publish_new(s, &a, "payment.completed").await).await;
    record(
        s,
        &later,
        1,
        Some(200),
        NextStep::Succeeded,
        EndpointEffect::Healthy,
    )
    .await;
    // A 410 disables the endpoint: `endpoint.disabled`, with the reason.
    let last = only_delivery(s, &publish_new(s, &a, "payment.completed").await).await;
    let gone = EndpointEffect::Disable("the endpoint answered 410 Gone".into());
    record(s, &last, 1, Some(410), NextStep::Failed, gone).await;

    // Committed: a restarted node finds every event still waiting.
    let t = t.restart().await;
    let s = &t.store;
    let waiting = s.operational_outbox(100).await.unwrap();
    let kinds: Vec<&str> = waiting
        .iter()
        .map(|o| o.event.event_type.as_str())
        .collect();
    assert_eq!(
        kinds,
        [
            "endpoint.failing",
            "delivery.exhausted",
            "endpoint.recovered",
            "endpoint.disabled"
        ]
    );
    let data = |i: usize| -> Value { serde_json::from_str(&waiting[i].event.data).unwrap() };
    assert_eq!(data(1)["delivery_id"], d.id.as_str());
    assert_eq!(data(1)["attempts"], 6);
    assert_eq!(
        data(2)["last_error"]["status_code"],
        500,
        "the failure before the success"
    );
    assert!(data(3)["reason"].as_str().unwrap().contains("410"));

    // Published under the id it was written with: publishing it again (a
    // crash before the delete) is a duplicate, not a second notification.
    let event = waiting[0].event.clone();
    let request = || PublishRequest {
        event: event.clone(),
        target: Target::Subscribed,
        lease: None,
    };
    assert!(matches!(
        s.publish(request()).await.unwrap(),
        PublishOutcome::Created { deliveries: 1, .. }
    ));
    assert!(matches!(
        s.publish(request()).await.unwrap(),
        PublishOutcome::Duplicate(_)
    ));
    let delivered = deliveries(s, &event).await;
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].endpoint_id.as_deref(), Some(ops.id.as_str()));

    let seqs: Vec<i64> = waiting.iter().take(2).map(|o| o.seq).collect();
    s.delete_from_outbox(&seqs).await.unwrap();
    assert_eq!(s.operational_outbox(100).await.unwrap().len(), 2);
    s.delete_from_outbox(&[]).await.unwrap();
});
