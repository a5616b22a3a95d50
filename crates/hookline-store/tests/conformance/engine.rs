//! The delivery engine's side of the store: claims and leases, recorded
//! attempts and their effects, parking of disabled endpoints' work.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{Duration, Utc};
use hookline_core::{DeliveryStatus, Event, PayloadMode};
use hookline_store::*;

use crate::harness::*;

conformance!(claims_only_due_deliveries_with_their_context, |t| {
    let s = &t.store;
    let a = account(s).await;
    let mut ep = new_endpoint(&a);
    ep.url = "https://user:secret@receiver.example/hook".into();
    ep.payload = PayloadMode::Thin;
    ep.headers.insert("x-team".into(), "payments".into());
    ep.previous_secret = Some("whsec_b2xkb2xkb2xkb2xkb2xkb2xkb2xkb2xk".into());
    ep.previous_secret_expires_at = Some(now() + Duration::hours(1));
    ep.rate_limit_per_sec = Some(5);
    ep.failing_since = Some(now() - Duration::hours(2));
    s.create_endpoint(&ep).await.unwrap();

    let due_now = publish_new(s, &a, "payment.completed").await;
    let mut later = new_event(&a, "refund.completed");
    later.created_at = now() + Duration::hours(1);
    publish(s, &later).await;

    assert!(s
        .claim_due(&claim_at(Utc::now() - Duration::minutes(1), 10, 60))
        .await
        .unwrap()
        .is_empty());
    let due = s.claim_due(&claim(10)).await.unwrap();
    assert_eq!(due.len(), 1, "only what is due");
    let d = &due[0];
    let delivery = only_delivery(s, &due_now).await;
    assert_eq!(d.delivery_id, delivery.id);
    assert_eq!(d.event_id, due_now.id);
    assert_eq!(d.account_id, a);
    assert_eq!(d.endpoint_id.as_deref(), Some(ep.id.as_str()));
    assert_eq!(d.url, ep.url, "user info included");
    assert_eq!(d.attempts, 0);
    assert_eq!(d.first_attempt_at, None);
    assert_eq!(d.event_type, "payment.completed");
    assert_eq!(d.event_created_at, due_now.created_at);
    assert_eq!(d.data, due_now.data);
    assert_eq!(d.payload, PayloadMode::Thin);
    assert_eq!(d.headers, ep.headers);
    assert_eq!(
        d.secrets,
        vec![ep.secret.clone(), ep.previous_secret.clone().unwrap()],
        "current first, previous during the rotation"
    );
    assert_eq!(d.rate_limit_per_sec, Some(5));
    assert_eq!(d.endpoint_failing_since, ep.failing_since);

    // After the rotation window only the current secret signs.
    let two_hours = Utc::now() + Duration::hours(2);
    let both = s.claim_due(&claim_at(two_hours, 10, 60)).await.unwrap();
    assert_eq!(
        both.len(),
        2,
        "the later event is due, the lease has run out"
    );
    assert!(both.iter().all(|d| d.secrets == vec![ep.secret.clone()]));
    assert_eq!(both[0].delivery_id, d.delivery_id, "most overdue first");

    let claimed = only_delivery(s, &due_now).await;
    assert_eq!(claimed.status, DeliveryStatus::Pending);
    assert_eq!(
        claimed.next_attempt_at,
        Some(ms(two_hours + Duration::seconds(60))),
        "a claim moves the due time to the lease's end"
    );
});

conformance!(leases_expire_and_skipped_endpoints_wait, |t| {
    let s = &t.store;
    let a = account(s).await;
    let ep = endpoint(s, &a, &[]).await;
    let other = endpoint(s, &a, &[]).await;
    for _ in 0..3 {
        publish_new(s, &a, "payment.completed").await;
    }
    let mut skip = claim(10);
    skip.skip_endpoints = vec![ep.id.clone(), "ep_unknown".into()];
    let others = s.claim_due(&skip).await.unwrap();
    assert_eq!(others.len(), 3, "a skipped endpoint's work stays put");
    assert!(others
        .iter()
        .all(|d| d.endpoint_id.as_deref() == Some(other.id.as_str())));

    let first = s.claim_due(&claim_at(Utc::now(), 10, 5)).await.unwrap();
    assert_eq!(first.len(), 3);
    assert!(first
        .iter()
        .all(|d| d.endpoint_id.as_deref() == Some(ep.id.as_str())));
    assert!(
        s.claim_due(&claim(10)).await.unwrap().is_empty(),
        "leased work is not handed out again"
    );
    let mut limited = claim_at(Utc::now() + Duration::seconds(6), 2, 60);
    limited.node_id = "node-b".into();
    // A dead node's lease ends; its work is due again without any sweeper.
    let mut taken_over = s.claim_due(&limited).await.unwrap();
    assert_eq!(taken_over.len(), 2, "the limit holds");
    taken_over.extend(s.claim_due(&limited).await.unwrap());
    assert_eq!(taken_over.len(), 3);
    assert!(s.claim_due(&limited).await.unwrap().is_empty());

    // The first leases were taken over by node-b: releasing them is ignored.
    let outdated: Vec<Lease> = first.iter().map(DueDelivery::lease).collect();
    s.release(&outdated).await.unwrap();
    assert!(
        s.claim_due(&limited).await.unwrap().is_empty(),
        "an outdated lease releases nothing"
    );
    let current: Vec<Lease> = taken_over.iter().map(DueDelivery::lease).collect();
    s.release(&current).await.unwrap();
    s.release(&[]).await.unwrap();
    let again = s.claim_due(&claim(10)).await.unwrap();
    assert_eq!(again.len(), 3, "released work is due at once");
    assert_eq!(s.pending_stats().await.unwrap().pending, 6);
});

conformance!(concurrent_claims_never_share_a_delivery, |t| {
    let a = account(&t.store).await;
    endpoint(&t.store, &a, &[]).await;
    endpoint(&t.store, &a, &["payment.completed"]).await;
    for _ in 0..100 {
        publish_new(&t.store, &a, "payment.completed").await;
    }
    let other_node = t.second_node().await;
    let mut tasks = Vec::new();
    for i in 0..6 {
        let store = if i % 2 == 0 {
            Arc::clone(&t.store)
        } else {
            Arc::clone(&other_node)
        };
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let mut request = claim(7);
                request.node_id = format!("node-{i}");
                let batch = store.claim_due(&request).await.unwrap();
                if batch.is_empty() {
                    return mine;
                }
                mine.extend(batch.into_iter().map(|d| d.delivery_id));
            }
        }));
    }
    let mut seen = HashSet::new();
    for task in tasks {
        for id in task.await.unwrap() {
            assert!(seen.insert(id), "a delivery was claimed twice");
        }
    }
    assert_eq!(seen.len(), 200, "every delivery was claimed once");
});

conformance!(recorded_attempts_move_deliveries_on, |t| {
    let s = &t.store;
    let a = account(s).await;
    endpoint(s, &a, &[]).await;
    let ok = publish_new(s, &a, "payment.completed").await;
    let retried = publish_new(s, &a, "payment.completed").await;
    let failed = publish_new(s, &a, "payment.completed").await;
    let claimed = s.claim_due(&claim(10)).await.unwrap();
    assert_eq!(claimed.len(), 3);
    let started = now() - Duration::seconds(1);
    let retry_at = now() + Duration::minutes(5);
    let (d_ok, d_retry, d_failed) = (
        only_delivery(s, &ok).await,
        only_delivery(s, &retried).await,
        only_delivery(s, &failed).await,
    );
    let recorded = s
        .record_attempts(vec![
            under_claim(
                &claimed,
                result(
                    attempt(&d_ok, 1, started, Some(200)),
                    NextStep::Succeeded,
                    EndpointEffect::None,
                ),
            ),
            under_claim(
                &claimed,
                result(
                    attempt(&d_retry, 1, started, Some(503)),
                    NextStep::RetryAt(retry_at),
                    EndpointEffect::None,
                ),
            ),
            under_claim(
                &claimed,
                result(
                    attempt(&d_failed, 1, started, None),
                    NextStep::Failed,
                    EndpointEffect::None,
                ),
            ),
        ])
        .await
        .unwrap();
    assert!(recorded.stale.is_empty(), "every lease is current");
    s.record_attempts(Vec::new()).await.unwrap();

    let d = only_delivery(s, &ok).await;
    assert_eq!(
        (d.status, d.attempts, d.next_attempt_at, d.last_status_code),
        (DeliveryStatus::Succeeded, 1, None, Some(200))
    );
    let d = only_delivery(s, &retried).await;
    assert_eq!(
        (d.status, d.attempts, d.next_attempt_at, d.last_status_code),
        (DeliveryStatus::Pending, 1, Some(retry_at), Some(503))
    );
    let d = only_delivery(s, &failed).await;
    assert_eq!(
        (d.status, d.attempts, d.next_attempt_at, d.last_status_code),
        (DeliveryStatus::Failed, 1, None, None)
    );

    assert!(
        s.claim_due(&claim(10)).await.unwrap().is_empty(),
        "the retry waits"
    );
    let due = s
        .claim_due(&claim_at(retry_at + Duration::milliseconds(1), 10, 60))
        .await
        .unwrap();
    assert_eq!(due.len(), 1, "and is due at its time, lease cleared");
    assert_eq!(due[0].delivery_id, d_retry.id);
    assert_eq!(due[0].attempts, 1);
    assert_eq!(due[0].first_attempt_at, Some(started));

    s.record_attempts(vec![under(
        &due[0],
        result(
            attempt(&d_retry, 2, now(), Some(200)),
            NextStep::Succeeded,
            EndpointEffect::None,
        ),
    )])
    .await
    .unwrap();
    // A late result for a finished delivery is logged but changes nothing.
    let late = s
        .record_attempts(vec![under(
            &due[0],
            result(
                attempt(&d_retry, 2, now(), Some(500)),
                NextStep::RetryAt(now()),
                EndpointEffect::None,
            ),
        )])
        .await
        .unwrap();
    assert!(late.stale.is_empty(), "finished, not leased again");
    let d = only_delivery(s, &retried).await;
    assert_eq!(
        (d.status, d.attempts, d.next_attempt_at, d.last_status_code),
        (DeliveryStatus::Succeeded, 2, None, Some(200))
    );
    let logged = s
        .list_attempts(
            &a,
            AttemptsOf::Event(retried.id.clone()),
            PageRequest::first(10),
        )
        .await
        .unwrap();
    assert_eq!(logged.items.len(), 3);
    assert_eq!(s.pending_stats().await.unwrap().pending, 0);
});

conformance!(recording_the_same_attempt_twice_is_harmless, |t| {
    let s = &t.store;
    let a = account(s).await;
    let ep = endpoint(s, &a, &[]).await;
    let event = publish_new(s, &a, "payment.completed").await;
    let d = only_delivery(s, &event).await;
    let retry_at = now() + Duration::minutes(1);
    let batch = vec![result(
        attempt(&d, 1, now(), Some(500)),
        NextStep::RetryAt(retry_at),
        EndpointEffect::Failing,
    )];
    s.record_attempts(batch.clone()).await.unwrap();
    // The delivery is claimed again before a retried batch arrives.
    let due = s.claim_due(&claim_at(retry_at, 10, 60)).await.unwrap();
    assert_eq!(due.len(), 1);
    s.record_attempts(batch.clone()).await.unwrap();
    assert!(
        s.claim_due(&claim_at(retry_at, 10, 60))
            .await
            .unwrap()
            .is_empty(),
        "the retried batch did not undo the new lease"
    );
    let logged = s
        .list_attempts(
            &a,
            AttemptsOf::Endpoint(ep.id.clone()),
            PageRequest::first(10),
        )
        .await
        .unwrap();
    assert_eq!(logged.items.len(), 1);
    assert_eq!(only_delivery(s, &event).await.attempts, 1);
});

conformance!(endpoint_effects_track_failures_and_disable, |t| {
    let s = &t.store;
    let a = account(s).await;
    let ep = endpoint(s, &a, &[]).await;
    let other = endpoint(s, &a, &[]).await;
    let event = publish_new(s, &a, "payment.completed").await;
    let mine = deliveries(s, &event)
        .await
        .into_iter()
        .find(|d| d.endpoint_id.as_deref() == Some(ep.id.as_str()))
        .unwrap();
    let theirs = deliveries(s, &event)
        .await
        .into_iter()
        .find(|d| d.endpoint_id.as_deref() == Some(other.id.as_str()))
        .unwrap();
    let retry = NextStep::RetryAt(now());
    let first_failure = now() - Duration::minutes(3);
    let record = |d: &hookline_core::Delivery, n, at, code, effect| {
        s.record_attempts(vec![result(attempt(d, n, at, code), retry, effect)])
    };
    record(&mine, 1, first_failure, Some(500), EndpointEffect::Failing)
        .await
        .unwrap();
    assert_eq!(
        s.get_endpoint(&a, &ep.id).await.unwrap().failing_since,
        Some(first_failure)
    );
    record(&mine, 2, now(), None, EndpointEffect::Failing)
        .await
        .unwrap();
    assert_eq!(
        s.get_endpoint(&a, &ep.id).await.unwrap().failing_since,
        Some(first_failure),
        "the run of failures keeps its start"
    );
    record(&mine, 3, now(), Some(204), EndpointEffect::Healthy)
        .await
        .unwrap();
    assert_eq!(
        s.get_endpoint(&a, &ep.id).await.unwrap().failing_since,
        None
    );
    record(&mine, 4, now(), Some(204), EndpointEffect::None)
        .await
        .unwrap();
    assert_eq!(
        s.get_endpoint(&a, &other.id).await.unwrap(),
        other,
        "others untouched"
    );

    // Several results in one batch apply in order.
    let later_failure = now() + Duration::seconds(1);
    s.record_attempts(vec![
        result(
            attempt(&mine, 5, now(), None),
            retry,
            EndpointEffect::Failing,
        ),
        result(
            attempt(&mine, 6, now(), Some(200)),
            retry,
            EndpointEffect::Healthy,
        ),
        result(
            attempt(&mine, 7, later_failure, None),
            retry,
            EndpointEffect::Failing,
        ),
        result(
            attempt(&theirs, 1, now(), Some(200)),
            retry,
            EndpointEffect::Healthy,
        ),
    ])
    .await
    .unwrap();
    assert_eq!(
        s.get_endpoint(&a, &ep.id).await.unwrap().failing_since,
        Some(later_failure)
    );
    assert_eq!(
        s.get_endpoint(&a, &other.id).await.unwrap().failing_since,
        None
    );

    record(
        &mine,
        8,
        now(),
        Some(410),
        EndpointEffect::Disable("the endpoint answered 410 Gone".into()),
    )
    .await
    .unwrap();
    let disabled = s.get_endpoint(&a, &ep.id).await.unwrap();
    assert!(disabled.disabled);
    assert_eq!(
        disabled.disabled_reason.as_deref(),
        Some("the endpoint answered 410 Gone")
    );
    assert!(!s.get_endpoint(&a, &other.id).await.unwrap().disabled);

    // An attempt to the event's own URL has no endpoint to affect.
    let mut own = new_event(&a, "payment.completed");
    own.webhook_url = Some("https://merchant.example/once".into());
    publish(s, &own).await;
    let d = only_delivery(s, &own).await;
    s.record_attempts(vec![result(
        attempt(&d, 1, now(), Some(500)),
        NextStep::Failed,
        EndpointEffect::Failing,
    )])
    .await
    .unwrap();
    assert_eq!(only_delivery(s, &own).await.status, DeliveryStatus::Failed);
});

conformance!(disabled_endpoints_park_deliveries_until_re_enabled, |t| {
    let s = &t.store;
    let a = account(s).await;
    let ep = endpoint(s, &a, &[]).await;
    let event = publish_new(s, &a, "payment.completed").await;
    let mut off = ep.clone();
    off.disabled = true;
    off.disabled_reason = Some("paused by the merchant".into());
    s.update_endpoint(&off).await.unwrap();
    assert_eq!(
        publish(s, &new_event(&a, "payment.completed")).await,
        0,
        "a disabled endpoint gets no new events"
    );

    let claimed_at = Utc::now();
    assert!(s
        .claim_due(&claim_at(claimed_at, 10, 60))
        .await
        .unwrap()
        .is_empty());
    let parked = only_delivery(s, &event).await;
    assert_eq!(parked.status, DeliveryStatus::Pending);
    let parked_until = parked.next_attempt_at.unwrap();
    assert!(
        parked_until >= ms(claimed_at) + Duration::minutes(59),
        "parked for an hour"
    );
    assert!(s.claim_due(&claim(10)).await.unwrap().is_empty());
    assert_eq!(s.pending_stats().await.unwrap().pending, 1);

    let mut renamed = off.clone();
    renamed.description = "still off".into();
    s.update_endpoint(&renamed).await.unwrap();
    assert!(
        s.claim_due(&claim(10)).await.unwrap().is_empty(),
        "still parked"
    );

    let mut on = renamed.clone();
    on.disabled = false;
    on.disabled_reason = None;
    s.update_endpoint(&on).await.unwrap();
    let due = s.claim_due(&claim(10)).await.unwrap();
    assert_eq!(due.len(), 1, "re-enabling makes parked work due at once");
    assert_eq!(due[0].event_id, event.id);
});

conformance!(deleted_endpoints_fail_their_deliveries, |t| {
    let s = &t.store;
    let a = account(s).await;
    let ep = endpoint(s, &a, &[]).await;
    let kept = endpoint(s, &a, &[]).await;
    let event = publish_new(s, &a, "payment.completed").await;
    s.delete_endpoint(&a, &ep.id).await.unwrap();
    for d in deliveries(s, &event).await {
        let expected = if d.endpoint_id.as_deref() == Some(ep.id.as_str()) {
            DeliveryStatus::Failed
        } else {
            DeliveryStatus::Pending
        };
        assert_eq!(d.status, expected);
    }
    let due = s.claim_due(&claim(10)).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].endpoint_id.as_deref(), Some(kept.id.as_str()));
    // Deleted while in flight: the late result does not revive it.
    s.delete_endpoint(&a, &kept.id).await.unwrap();
    let d = deliveries(s, &event)
        .await
        .into_iter()
        .find(|d| d.endpoint_id.as_deref() == Some(kept.id.as_str()))
        .unwrap();
    s.record_attempts(vec![result(
        attempt(&d, 1, now(), Some(500)),
        NextStep::RetryAt(now()),
        EndpointEffect::Failing,
    )])
    .await
    .unwrap();
    assert!(deliveries(s, &event)
        .await
        .iter()
        .all(|d| d.status == DeliveryStatus::Failed));
    assert_eq!(s.pending_stats().await.unwrap().pending, 0);
    assert_eq!(s.next_due_at().await.unwrap(), None);
});

conformance!(a_failed_delivery_keeps_no_lease, |t| {
    let s = &t.store;
    let a = account(s).await;
    let deleted = endpoint(s, &a, &[]).await;
    publish_new(s, &a, "payment.completed").await;
    assert_eq!(s.claim_due(&claim(10)).await.unwrap().len(), 1);
    // Deleted while in flight: the delivery fails and nobody holds it.
    s.delete_endpoint(&a, &deleted.id).await.unwrap();

    // An endpoint that vanishes between a claim's lease running out and the
    // next claim (another node's delete racing it) fails in the claim.
    let vanished = endpoint(s, &a, &[]).await;
    publish_new(s, &a, "payment.completed").await;
    assert_eq!(
        s.claim_due(&claim_at(Utc::now(), 10, 1))
            .await
            .unwrap()
            .len(),
        1
    );
    t.execute(&format!(
        "DELETE FROM endpoints WHERE id = '{}'",
        vanished.id
    ))
    .await;
    assert!(s
        .claim_due(&claim_at(Utc::now() + Duration::seconds(2), 10, 60))
        .await
        .unwrap()
        .is_empty());

    assert_eq!(
        t.scalar("SELECT COUNT(*) FROM deliveries WHERE status = 'failed'")
            .await,
        2,
        "both failed"
    );
    assert_eq!(
        t.scalar(
            "SELECT COUNT(*) FROM deliveries WHERE lease_until IS NOT NULL OR leased_by IS NOT NULL"
        )
        .await,
        0,
        "a failed delivery names no node and no lease"
    );
});

conformance!(
    a_dead_nodes_work_parked_for_a_disabled_endpoint_resumes,
    |t| {
        let s = &t.store;
        let a = account(s).await;
        let ep = endpoint(s, &a, &[]).await;
        let event = publish_new(s, &a, "payment.completed").await;
        // A node claims the delivery and dies; its lease runs out.
        assert_eq!(
            s.claim_due(&claim_at(Utc::now(), 10, 5))
                .await
                .unwrap()
                .len(),
            1
        );
        let mut off = ep.clone();
        off.disabled = true;
        s.update_endpoint(&off).await.unwrap();
        let after_lease = Utc::now() + Duration::seconds(6);
        assert!(s
            .claim_due(&claim_at(after_lease, 10, 60))
            .await
            .unwrap()
            .is_empty());
        assert!(only_delivery(s, &event).await.next_attempt_at.unwrap() > after_lease);
        s.update_endpoint(&ep).await.unwrap();
        let due = s.claim_due(&claim(10)).await.unwrap();
        assert_eq!(due.len(), 1, "re-enabling resumes it despite the old lease");
    }
);

/// Publishes `event` to `target` with a lease for up to `max` deliveries
/// (none for the `skip` endpoints); answers the delivery count and what was
/// handed over.
async fn publish_leased(
    s: &SharedStore,
    event: Event,
    target: Target,
    max: u32,
    skip: Vec<String>,
) -> (u32, Vec<DueDelivery>) {
    let lease = PublishLease {
        node_id: "node-test".into(),
        until: Utc::now() + Duration::seconds(60),
        max,
        skip_endpoints: skip,
    };
    match s
        .publish(PublishRequest {
            event,
            target,
            lease: Some(lease),
        })
        .await
        .unwrap()
    {
        PublishOutcome::Created {
            deliveries, leased, ..
        } => (deliveries, leased),
        other => panic!("expected Created, got {other:?}"),
    }
}

conformance!(a_publish_lease_hands_over_ready_deliveries, |t| {
    let s = &t.store;
    let a = account(s).await;
    let mut ep = new_endpoint(&a);
    ep.payload = PayloadMode::Thin;
    ep.headers.insert("x-team".into(), "payments".into());
    ep.previous_secret = Some("whsec_b2xkb2xkb2xkb2xkb2xkb2xkb2xkb2xk".into());
    ep.previous_secret_expires_at = Some(now() + Duration::hours(1));
    ep.rate_limit_per_sec = Some(5);
    s.create_endpoint(&ep).await.unwrap();
    let second = endpoint(s, &a, &[]).await;

    let event = new_event(&a, "payment.completed");
    let (deliveries, leased) =
        publish_leased(s, event.clone(), Target::Subscribed, 1, Vec::new()).await;
    assert_eq!(deliveries, 2, "every subscriber gets a delivery");
    assert_eq!(leased.len(), 1, "no more than asked");
    let claimed = s.claim_due(&claim(10)).await.unwrap();
    assert_eq!(
        claimed.len() + leased.len(),
        2,
        "what was handed over is not claimed again; the rest is"
    );
    // The leased delivery carries what a claim would.
    let d = &leased[0];
    assert_eq!(d.endpoint_id.as_deref(), Some(ep.id.as_str()), "in order");
    assert_eq!(d.url, ep.url);
    assert_eq!(d.event_id, event.id);
    assert_eq!(d.account_id, a);
    assert_eq!(d.attempts, 0);
    assert_eq!(d.event_type, "payment.completed");
    assert_eq!(d.event_created_at, event.created_at);
    assert_eq!(d.data, event.data);
    assert_eq!(d.payload, PayloadMode::Thin);
    assert_eq!(d.headers, ep.headers);
    assert_eq!(
        d.secrets,
        vec![ep.secret.clone(), ep.previous_secret.clone().unwrap()]
    );
    assert_eq!(d.rate_limit_per_sec, Some(5));
    assert_eq!(claimed[0].endpoint_id.as_deref(), Some(second.id.as_str()));
    // Its lease expires like a claimed one's: then it is due again.
    let later = s
        .claim_due(&claim_at(Utc::now() + Duration::seconds(61), 10, 60))
        .await
        .unwrap();
    assert!(later.iter().any(|l| l.delivery_id == d.delivery_id));

    // A custom URL's delivery is handed over signed with the account secret.
    let mut custom = new_event(&a, "payment.completed");
    custom.webhook_url = Some("https://invoice.example/callback".into());
    let (_, leased) = publish_leased(s, custom, Target::Subscribed, 16, Vec::new()).await;
    assert_eq!(leased.len(), 1);
    assert_eq!(leased[0].endpoint_id, None);
    assert_eq!(leased[0].url, "https://invoice.example/callback");
    assert_eq!(leased[0].secrets.len(), 1);

    // A test send to a disabled endpoint is not handed over: it waits,
    // parked by the claim, until the endpoint is enabled.
    let mut off = new_endpoint(&a);
    off.disabled = true;
    s.create_endpoint(&off).await.unwrap();
    let test_send = new_event(&a, "payment.completed");
    let (deliveries, leased) = publish_leased(
        s,
        test_send,
        Target::Endpoint(off.id.clone()),
        16,
        Vec::new(),
    )
    .await;
    assert_eq!((deliveries, leased.len()), (1, 0));

    // Nor are deliveries to endpoints the node has no room for.
    let busy = vec![ep.id.clone()];
    let (deliveries, leased) = publish_leased(
        s,
        new_event(&a, "payment.completed"),
        Target::Subscribed,
        16,
        busy,
    )
    .await;
    assert_eq!(deliveries, 2);
    assert_eq!(leased.len(), 1);
    assert_eq!(leased[0].endpoint_id.as_deref(), Some(second.id.as_str()));
});
