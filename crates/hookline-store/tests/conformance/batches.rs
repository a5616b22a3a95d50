//! The batched paths: many publishes stored together (with repeated ids
//! inside one batch), one claim taking mixed work, one record carrying
//! many results. Each store batches in its own way (SQLite's writer, the
//! PostgreSQL committers); the answers must be those of one call at a time.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{Duration, Utc};
use hookline_core::{DeliveryStatus, Event};
use hookline_store::*;

use crate::harness::*;

/// Each publish's index and answer, by (account, event id).
type Answers = HashMap<(String, String), Vec<(usize, StoreResult<PublishOutcome>)>>;

/// What a burst publish asked for, to check its answer against.
struct Sent {
    event: Event,
    target: Target,
}

conformance!(
    a_burst_of_publishes_with_repeated_ids_stores_each_id_once,
    |t| {
        let a = account(&t.store).await;
        let b = account(&t.store).await;
        let a_first = endpoint(&t.store, &a, &["payment.completed"]).await;
        let a_second = endpoint(&t.store, &a, &[]).await;
        let b_only = endpoint(&t.store, &b, &[]).await;
        let mut sends = Vec::new();
        for n in 0..60 {
            let owner = if n % 4 == 3 { &b } else { &a };
            let mut event = new_event(owner, "payment.completed");
            if n % 10 == 5 {
                event.webhook_url = Some("https://merchant.example/once".into());
            }
            // The same publish twice (a retry) and once with another payload.
            let mut changed = event.clone();
            changed.data = "{\"amount\": 2}".into();
            changed.payload_hash = format!("{}-changed", event.payload_hash);
            sends.push(Sent {
                event: event.clone(),
                target: Target::Subscribed,
            });
            sends.push(Sent {
                event: changed,
                target: Target::Subscribed,
            });
            sends.push(Sent {
                event: event.clone(),
                target: Target::Subscribed,
            });
            if n % 6 == 0 {
                // A test send to another account's endpoint with the same id.
                sends.push(Sent {
                    event,
                    target: Target::Endpoint(b_only.id.clone()),
                });
            }
        }
        let sends = Arc::new(sends);
        let other_node = t.second_node().await;
        let mut tasks = Vec::new();
        for i in 0..sends.len() {
            let store = if i % 2 == 0 {
                Arc::clone(&t.store)
            } else {
                Arc::clone(&other_node)
            };
            let sends = Arc::clone(&sends);
            tasks.push(tokio::spawn(async move {
                let sent = &sends[i];
                store
                    .publish(PublishRequest {
                        event: sent.event.clone(),
                        target: sent.target.clone(),
                        lease: None,
                    })
                    .await
            }));
        }
        let mut answers: Answers = HashMap::new();
        for (i, task) in tasks.into_iter().enumerate() {
            let e = &sends[i].event;
            answers
                .entry((e.account_id.clone(), e.id.clone()))
                .or_default()
                .push((i, task.await.unwrap()));
        }
        assert_eq!(answers.len(), 60);
        let mut expected_pending = 0;
        for ((account_id, id), answered) in &answers {
            let created: Vec<&Event> = answered
                .iter()
                .filter_map(|(_, a)| match a {
                    Ok(PublishOutcome::Created { event, .. }) => Some(event),
                    _ => None,
                })
                .collect();
            assert_eq!(created.len(), 1, "{id} stored once: {answered:?}");
            let stored = created[0].clone();
            assert_eq!(t.store.get_event(account_id, id).await.unwrap(), stored);
            for (i, answer) in answered {
                let sent = &sends[*i];
                match answer {
                    Ok(PublishOutcome::Created { .. }) => {}
                    Ok(PublishOutcome::Duplicate(existing)) => {
                        assert_eq!(existing, &stored);
                        assert_eq!(sent.event.payload_hash, stored.payload_hash);
                    }
                    Ok(PublishOutcome::Conflict) => {
                        assert_ne!(sent.event.payload_hash, stored.payload_hash)
                    }
                    Err(StoreError::NotFound) => {
                        assert!(matches!(sent.target, Target::Endpoint(_)), "{answer:?}")
                    }
                    Err(err) => panic!("{id}: {err}"),
                }
            }
            let to: Vec<Option<String>> = deliveries(&t.store, &stored)
                .await
                .into_iter()
                .map(|d| d.endpoint_id)
                .collect();
            let expected = if stored.webhook_url.is_some() {
                vec![None]
            } else if *account_id == a {
                vec![Some(a_first.id.clone()), Some(a_second.id.clone())]
            } else {
                vec![Some(b_only.id.clone())]
            };
            assert_eq!(to, expected, "{id}: one delivery per target, in order");
            expected_pending += expected.len() as u64;
        }
        assert_eq!(
            t.store.pending_stats().await.unwrap().pending,
            expected_pending
        );
    }
);

conformance!(one_claim_takes_mixed_work_each_with_its_own_context, |t| {
    let s = &t.store;
    let a = account(s).await;
    let mut endpoints = Vec::new();
    for n in 0..3 {
        let mut ep = new_endpoint(&a);
        ep.secret = format!("whsec_c2VjcmV0LW51bWJlci0{n}");
        ep.headers
            .insert("x-endpoint".into(), format!("number-{n}"));
        ep.rate_limit_per_sec = Some(n + 1);
        s.create_endpoint(&ep).await.unwrap();
        endpoints.push(ep);
    }
    let mut own = new_event(&a, "payment.completed");
    own.webhook_url = Some("https://merchant.example/own".into());
    publish(s, &own).await;
    let mut events = Vec::new();
    for _ in 0..5 {
        events.push(publish_new(s, &a, "payment.completed").await);
    }
    // One endpoint is disabled (its work parks), one vanishes behind the
    // store's back (its work fails).
    let mut off = endpoints[1].clone();
    off.disabled = true;
    s.update_endpoint(&off).await.unwrap();
    t.execute(&format!(
        "DELETE FROM endpoints WHERE id = '{}'",
        endpoints[2].id
    ))
    .await;

    let due = s.claim_due(&claim(100)).await.unwrap();
    assert_eq!(
        due.len(),
        6,
        "the own-URL delivery and the first endpoint's five"
    );
    for d in &due {
        match d.endpoint_id.as_deref() {
            None => {
                assert_eq!(d.event_id, own.id);
                assert_eq!(d.url, "https://merchant.example/own");
                assert_eq!(d.secrets, vec![ACCOUNT_SECRET.to_string()]);
            }
            Some(id) => {
                assert_eq!(id, endpoints[0].id);
                assert_eq!(d.secrets, vec![endpoints[0].secret.clone()]);
                assert_eq!(d.headers, endpoints[0].headers);
                assert_eq!(d.rate_limit_per_sec, Some(1));
                let event = events.iter().find(|e| e.id == d.event_id).unwrap();
                assert_eq!(d.data, event.data);
            }
        }
    }
    let mut order: Vec<_> = due.iter().map(|d| d.event_created_at).collect();
    let claimed = order.clone();
    order.sort();
    assert_eq!(claimed, order, "most overdue first");
    let later = Utc::now() + Duration::minutes(2);
    assert!(s.claim_due(&claim_at(later, 100, 60)).await.unwrap().len() == 6);
    for e in &events {
        for d in deliveries(s, e).await {
            let expected = match d.endpoint_id.as_deref() {
                Some(id) if id == endpoints[2].id => DeliveryStatus::Failed,
                _ => DeliveryStatus::Pending,
            };
            assert_eq!(d.status, expected);
        }
    }
    assert_eq!(
        t.scalar(&format!(
            "SELECT COUNT(*) FROM deliveries WHERE endpoint_id = '{}' \
             AND lease_until IS NULL AND next_attempt_at > {}",
            endpoints[1].id,
            Utc::now().timestamp_millis() + 50 * 60 * 1000
        ))
        .await,
        5,
        "the disabled endpoint's work is parked, unleased"
    );
});

conformance!(
    one_record_carries_many_results_each_to_its_own_delivery,
    |t| {
        let s = &t.store;
        let a = account(s).await;
        let healthy = endpoint(s, &a, &[]).await;
        let failing = endpoint(s, &a, &[]).await;
        let mut events = Vec::new();
        for _ in 0..20 {
            events.push(publish_new(s, &a, "payment.completed").await);
        }
        let claimed = s.claim_due(&claim(100)).await.unwrap();
        assert_eq!(claimed.len(), 40);
        let started = now() - Duration::seconds(5);
        let retry_at = now() + Duration::minutes(10);
        let already = {
            let d = deliveries(s, &events[0]).await.remove(0);
            let first = under_claim(
                &claimed,
                result(
                    attempt(&d, 1, started, Some(200)),
                    NextStep::Succeeded,
                    EndpointEffect::Healthy,
                ),
            );
            s.record_attempts(vec![first.clone()]).await.unwrap();
            first
        };
        let mut batch = vec![already.clone()];
        for (n, e) in events.iter().enumerate().skip(1) {
            for d in deliveries(s, e).await {
                let to_healthy = d.endpoint_id.as_deref() == Some(healthy.id.as_str());
                let r = if to_healthy {
                    result(
                        attempt(&d, 1, started, Some(204)),
                        NextStep::Succeeded,
                        EndpointEffect::Healthy,
                    )
                } else if n % 2 == 0 {
                    result(
                        attempt(&d, 1, started, Some(503)),
                        NextStep::RetryAt(retry_at),
                        EndpointEffect::Failing,
                    )
                } else {
                    result(
                        attempt(&d, 1, started, None),
                        NextStep::Failed,
                        EndpointEffect::Failing,
                    )
                };
                let r = under_claim(&claimed, r);
                // A result sent twice in one batch counts once.
                if n == 3 {
                    batch.push(r.clone());
                }
                batch.push(r);
            }
        }
        s.record_attempts(batch).await.unwrap();

        for (n, e) in events.iter().enumerate() {
            for d in deliveries(s, e).await {
                let to_healthy = d.endpoint_id.as_deref() == Some(healthy.id.as_str());
                let expected = if n == 0 && !to_healthy {
                    (DeliveryStatus::Pending, 0, None)
                } else if to_healthy {
                    (
                        DeliveryStatus::Succeeded,
                        1,
                        Some(if n == 0 { 200 } else { 204 }),
                    )
                } else if n % 2 == 0 {
                    (DeliveryStatus::Pending, 1, Some(503))
                } else {
                    (DeliveryStatus::Failed, 1, None)
                };
                assert_eq!(
                    (d.status, d.attempts, d.last_status_code),
                    expected,
                    "event {n}"
                );
                if expected.0 == DeliveryStatus::Pending && expected.1 == 1 {
                    assert_eq!(d.next_attempt_at, Some(retry_at));
                }
            }
        }
        assert_eq!(
            s.get_endpoint(&a, &healthy.id).await.unwrap().failing_since,
            None
        );
        assert_eq!(
            s.get_endpoint(&a, &failing.id).await.unwrap().failing_since,
            Some(started)
        );
        assert_eq!(
            t.scalar("SELECT COUNT(*) FROM attempts").await,
            1 + 19 * 2,
            "each attempt stored once"
        );
        assert_eq!(
        t.scalar("SELECT COUNT(*) FROM deliveries WHERE status <> 'pending' AND leased_by IS NOT NULL")
            .await,
        0,
        "finished deliveries hold no lease"
    );
    }
);

conformance!(
    one_record_keeps_only_the_attempts_made_under_current_leases,
    |t| {
        let s = &t.store;
        let a = account(s).await;
        let ep = endpoint(s, &a, &[]).await;
        for _ in 0..6 {
            publish_new(s, &a, "payment.completed").await;
        }
        let first = s.claim_due(&claim(10)).await.unwrap();
        assert_eq!(first.len(), 6);
        // The claiming node restarts: its leases are released, and half of
        // the deliveries are leased again (by the new run).
        s.register_node("node-test").await.unwrap();
        let mut retaken = s.claim_due(&claim(3)).await.unwrap();
        retaken.sort_by(|x, y| x.delivery_id.cmp(&y.delivery_id));
        let stale_ids: Vec<String> = retaken.iter().map(|d| d.delivery_id.clone()).collect();
        let mut delivery_of = HashMap::new();
        for due in &first {
            let d = s
                .list_deliveries(&a, &due.event_id)
                .await
                .unwrap()
                .remove(0);
            delivery_of.insert(d.id.clone(), d);
        }
        let success = |due: &DueDelivery, effect: EndpointEffect| {
            let d = &delivery_of[&due.delivery_id];
            under(
                due,
                result(attempt(d, 1, now(), Some(200)), NextStep::Succeeded, effect),
            )
        };

        // No endpoint changes: the one-statement path. One result was
        // recorded before and comes again.
        let fresh_first = first
            .iter()
            .find(|d| !stale_ids.contains(&d.delivery_id))
            .unwrap();
        let again = success(fresh_first, EndpointEffect::None);
        assert!(s
            .record_attempts(vec![again.clone()])
            .await
            .unwrap()
            .stale
            .is_empty());
        let mut batch = vec![again];
        batch.extend(
            first
                .iter()
                .filter(|d| d.delivery_id != fresh_first.delivery_id)
                .map(|d| success(d, EndpointEffect::None)),
        );
        let recorded = s.record_attempts(batch).await.unwrap();
        assert_eq!(
            recorded.stale, stale_ids,
            "the deliveries leased again, in id order"
        );
        assert_eq!(
            t.scalar("SELECT COUNT(*) FROM attempts").await,
            3,
            "nothing of the stale attempts is stored"
        );
        for due in &first {
            let d = s
                .list_deliveries(&a, &due.event_id)
                .await
                .unwrap()
                .remove(0);
            let expected = if stale_ids.contains(&d.id) {
                (DeliveryStatus::Pending, 0)
            } else {
                (DeliveryStatus::Succeeded, 1)
            };
            assert_eq!((d.status, d.attempts), expected, "{}", d.id);
        }
        assert!(
            s.claim_due(&claim(10)).await.unwrap().is_empty(),
            "the retaken ones are still leased to their new holder"
        );

        // With endpoint changes: the transaction. Late failures under the
        // old leases beside the new holder's successes.
        let mut batch: Vec<AttemptResult> = first
            .iter()
            .filter(|d| stale_ids.contains(&d.delivery_id))
            .map(|d| {
                let mut late = success(d, EndpointEffect::Failing);
                late.attempt.outcome = hookline_core::AttemptOutcome::HttpError;
                late.attempt.status_code = Some(500);
                late.next = NextStep::RetryAt(now());
                late
            })
            .collect();
        batch.extend(retaken.iter().map(|d| success(d, EndpointEffect::None)));
        let recorded = s.record_attempts(batch).await.unwrap();
        assert_eq!(recorded.stale, stale_ids);
        assert_eq!(
            s.get_endpoint(&a, &ep.id).await.unwrap().failing_since,
            None,
            "a stale failure does not touch the endpoint's health"
        );
        assert_eq!(t.scalar("SELECT COUNT(*) FROM attempts").await, 6);
        assert_eq!(
            t.scalar("SELECT COUNT(*) FROM attempts WHERE status_code = 500")
                .await,
            0
        );
        assert_eq!(
            t.scalar("SELECT COUNT(*) FROM deliveries WHERE status = 'succeeded'")
                .await,
            6
        );
    }
);
