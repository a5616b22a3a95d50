//! Ordered delivery: on an ordered endpoint a claim hands out a delivery
//! only when no earlier one (by publish order) with the same ordering key
//! is still pending; a failing head holds back only its key; unordered
//! endpoints and other keys flow; the rule holds across a restart; ordered
//! deliveries are never handed over at publish; `waiting_for` names the head.

use chrono::{Duration, Utc};
use hookline_core::{Delivery, DeliveryOrder, Event};
use hookline_store::*;

use crate::harness::*;

/// A stored endpoint of `account` with the given delivery order.
async fn endpoint_with(s: &SharedStore, account: &str, order: DeliveryOrder) -> String {
    let mut ep = new_endpoint(account);
    ep.delivery_order = order;
    s.create_endpoint(&ep).await.expect("endpoint created");
    ep.id
}

/// Publishes a new event with `key`; answers it.
async fn publish_keyed(s: &SharedStore, account: &str, key: Option<&str>) -> Event {
    let mut event = new_event(account, "payment.completed");
    event.ordering_key = key.map(str::to_string);
    publish(s, &event).await;
    event
}

/// The delivery of `event` to `endpoint`.
async fn delivery_to(s: &SharedStore, event: &Event, endpoint: &str) -> Delivery {
    deliveries(s, event)
        .await
        .into_iter()
        .find(|d| d.endpoint_id.as_deref() == Some(endpoint))
        .expect("a delivery to the endpoint")
}

/// The event ids of the claimed deliveries to `endpoint`, sorted.
fn claimed_events(due: &[DueDelivery], endpoint: &str) -> Vec<String> {
    let mut ids: Vec<String> = due
        .iter()
        .filter(|d| d.endpoint_id.as_deref() == Some(endpoint))
        .map(|d| d.event_id.clone())
        .collect();
    ids.sort();
    ids
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

/// Records attempt `n` of `delivery` with the outcome `next`, made under
/// the lease the delivery got in `claimed`.
async fn record(
    s: &SharedStore,
    claimed: &[DueDelivery],
    delivery: &Delivery,
    n: u32,
    next: NextStep,
) {
    let code = if next == NextStep::Succeeded {
        200
    } else {
        500
    };
    let a = attempt(delivery, n, Utc::now(), Some(code));
    s.record_attempts(vec![under_claim(
        claimed,
        result(a, next, EndpointEffect::None),
    )])
    .await
    .expect("attempt recorded");
}

conformance!(
    an_ordered_endpoint_sends_one_delivery_per_key_in_publish_order,
    |t| {
        let a = account(&t.store).await;
        let ordered = endpoint_with(&t.store, &a, DeliveryOrder::Ordered).await;
        let unordered = endpoint_with(&t.store, &a, DeliveryOrder::Unordered).await;
        let a1 = publish_keyed(&t.store, &a, Some("pay_a")).await;
        let a2 = publish_keyed(&t.store, &a, Some("pay_a")).await;
        let b1 = publish_keyed(&t.store, &a, Some("pay_b")).await;

        let due = t.store.claim_due(&claim(100)).await.unwrap();
        assert_eq!(
            claimed_events(&due, &ordered),
            sorted(vec![a1.id.clone(), b1.id.clone()]),
            "one head per key"
        );
        assert_eq!(
            claimed_events(&due, &unordered),
            sorted(vec![a1.id.clone(), a2.id.clone(), b1.id.clone()]),
            "an unordered endpoint takes everything"
        );
        let waiting = delivery_to(&t.store, &a2, &ordered).await;
        assert_eq!(waiting.waiting_for.as_deref(), Some(a1.id.as_str()));
        assert_eq!(
            delivery_to(&t.store, &a2, &unordered).await.waiting_for,
            None
        );
        assert_eq!(delivery_to(&t.store, &a1, &ordered).await.waiting_for, None);

        // A restart (leases released on SQLite) keeps the rule: the heads come
        // back, the follower still waits.
        let t = t.restart().await;
        let s = &t.store;
        let later = Utc::now() + Duration::minutes(2);
        let again = s.claim_due(&claim_at(later, 100, 60)).await.unwrap();
        assert_eq!(
            claimed_events(&again, &ordered),
            sorted(vec![a1.id.clone(), b1.id.clone()]),
            "after a restart the heads are due again, never the follower"
        );

        // The head of pay_a fails and waits for its retry: pay_a stays held
        // while pay_b, once done, lets nothing of pay_a through.
        let head = delivery_to(s, &a1, &ordered).await;
        record(
            s,
            &again,
            &head,
            1,
            NextStep::RetryAt(Utc::now() + Duration::hours(1)),
        )
        .await;
        record(
            s,
            &again,
            &delivery_to(s, &b1, &ordered).await,
            1,
            NextStep::Succeeded,
        )
        .await;
        let held = s.claim_due(&claim_at(later, 100, 60)).await.unwrap();
        assert!(
            claimed_events(&held, &ordered).is_empty(),
            "a failing head holds back its key: {held:?}"
        );
        assert_eq!(
            delivery_to(s, &a2, &ordered).await.waiting_for.as_deref(),
            Some(a1.id.as_str())
        );

        // Its retry succeeds: the follower is next.
        let retry = s
            .claim_due(&claim_at(Utc::now() + Duration::hours(2), 100, 60))
            .await
            .unwrap();
        assert_eq!(claimed_events(&retry, &ordered), vec![a1.id.clone()]);
        record(s, &retry, &head, 2, NextStep::Succeeded).await;
        let next = s
            .claim_due(&claim_at(Utc::now() + Duration::hours(3), 100, 60))
            .await
            .unwrap();
        assert_eq!(claimed_events(&next, &ordered), vec![a2.id.clone()]);
        assert_eq!(delivery_to(s, &a2, &ordered).await.waiting_for, None);
    }
);

conformance!(an_ordered_endpoint_without_keys_is_one_sequence, |t| {
    let s = &t.store;
    let a = account(s).await;
    let ordered = endpoint_with(s, &a, DeliveryOrder::Ordered).await;
    let events = [
        publish_keyed(s, &a, None).await,
        publish_keyed(s, &a, None).await,
        publish_keyed(s, &a, None).await,
    ];
    let mut at = Utc::now();
    for (i, event) in events.iter().enumerate() {
        at += Duration::minutes(5);
        let due = s.claim_due(&claim_at(at, 100, 60)).await.unwrap();
        assert_eq!(
            claimed_events(&due, &ordered),
            vec![event.id.clone()],
            "event {i} is the only one sent"
        );
        if let Some(next) = events.get(i + 1) {
            assert_eq!(
                delivery_to(s, next, &ordered).await.waiting_for.as_deref(),
                Some(event.id.as_str())
            );
        }
        // Finally failing releases the sequence as succeeding does.
        let next = if i == 0 {
            NextStep::Failed
        } else {
            NextStep::Succeeded
        };
        record(s, &due, &delivery_to(s, event, &ordered).await, 1, next).await;
    }
    assert!(s
        .claim_due(&claim_at(at + Duration::minutes(5), 100, 60))
        .await
        .unwrap()
        .is_empty());
});

conformance!(ordered_deliveries_are_not_handed_over_at_publish, |t| {
    let s = &t.store;
    let a = account(s).await;
    let ordered = endpoint_with(s, &a, DeliveryOrder::Ordered).await;
    let unordered = endpoint_with(s, &a, DeliveryOrder::Unordered).await;
    let lease = PublishLease {
        node_id: "node-test".into(),
        until: Utc::now() + Duration::seconds(60),
        max: 10,
        skip_endpoints: Vec::new(),
    };
    let outcome = s
        .publish(PublishRequest {
            event: new_event(&a, "payment.completed"),
            target: Target::Subscribed,
            lease: Some(lease),
        })
        .await
        .unwrap();
    let PublishOutcome::Created {
        deliveries, leased, ..
    } = outcome
    else {
        panic!("expected Created, got {outcome:?}");
    };
    assert_eq!(deliveries, 2);
    let handed: Vec<_> = leased.iter().map(|d| d.endpoint_id.clone()).collect();
    assert_eq!(handed, vec![Some(unordered)], "only the unordered one");
    let due = s.claim_due(&claim(10)).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].endpoint_id.as_deref(), Some(ordered.as_str()));
});
