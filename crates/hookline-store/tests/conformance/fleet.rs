//! The fleet's side of the store: node registration and heartbeats, dead
//! nodes' deliveries released at once, and fencing — an attempt or release
//! under an outdated lease never overrides the delivery's current holder.

use std::time::Duration as StdDuration;

use chrono::Utc;
use hookline_core::{Attempt, DeliveryStatus};
use hookline_store::*;

use crate::harness::*;

/// A claim now by `node`, leased for a minute.
fn claim_by(node: &str, limit: u32) -> ClaimRequest {
    let mut request = claim(limit);
    request.node_id = node.into();
    request
}

conformance!(a_restarted_node_takes_back_its_leases_at_once, |t| {
    let s = &t.store;
    let a = account(s).await;
    endpoint(s, &a, &[]).await;
    for _ in 0..2 {
        publish_new(s, &a, "payment.completed").await;
    }
    let first = s.register_node("node-a").await.unwrap();
    assert_eq!((first.released, first.predecessor_silent_ms), (0, None));
    assert_eq!(s.claim_due(&claim_by("node-a", 10)).await.unwrap().len(), 2);
    assert!(s.claim_due(&claim(10)).await.unwrap().is_empty());

    // The same node id starting again (after a crash) is a new run.
    let second = s.register_node("node-a").await.unwrap();
    assert_ne!(second.epoch, first.epoch, "epochs are never reused");
    assert_eq!(second.released, 2, "its predecessor's deliveries");
    assert!(second.predecessor_silent_ms.is_some_and(|ms| ms >= 0));
    assert_eq!(
        s.claim_due(&claim_by("node-a", 10)).await.unwrap().len(),
        2,
        "due at once, not when their lease runs out"
    );
    assert_eq!(
        s.heartbeat("node-a", second.epoch).await.unwrap(),
        Heartbeat::Alive
    );
    assert_eq!(
        s.heartbeat("node-a", first.epoch).await.unwrap(),
        Heartbeat::Superseded,
        "the old run learns it was replaced"
    );
});

conformance!(
    a_silent_node_is_declared_dead_and_its_leases_released,
    |t| {
        let s = &t.store;
        let other = t.second_node().await;
        let a = account(s).await;
        endpoint(s, &a, &[]).await;
        let silent = s.register_node("node-silent").await.unwrap();
        let live = other.register_node("node-live").await.unwrap();
        for _ in 0..2 {
            publish_new(s, &a, "payment.completed").await;
        }
        let held_by_silent = s.claim_due(&claim_by("node-silent", 10)).await.unwrap();
        assert_eq!(held_by_silent.len(), 2);
        publish_new(s, &a, "payment.completed").await;
        let held_by_live = other.claim_due(&claim_by("node-live", 10)).await.unwrap();
        assert_eq!(held_by_live.len(), 1);

        // node-live keeps beating; node-silent never does after registering.
        let dead_after = StdDuration::from_secs(2);
        let deadline = tokio::time::Instant::now() + StdDuration::from_secs(30);
        let dead = loop {
            assert_eq!(
                other.heartbeat("node-live", live.epoch).await.unwrap(),
                Heartbeat::Alive
            );
            let dead = other.release_dead_nodes(dead_after).await.unwrap();
            if !dead.is_empty() {
                break dead;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "node-silent was never declared dead"
            );
            tokio::time::sleep(StdDuration::from_millis(100)).await;
        };
        assert_eq!(dead.len(), 1, "only the silent node: {dead:?}");
        assert_eq!(dead[0].node_id, "node-silent");
        assert_eq!(dead[0].released, 2);
        assert!(dead[0].silent_ms >= 2000, "{dead:?}");

        let retaken = other.claim_due(&claim_by("node-live", 10)).await.unwrap();
        let mut retaken: Vec<String> = retaken.into_iter().map(|d| d.delivery_id).collect();
        let mut expected: Vec<String> = held_by_silent
            .iter()
            .map(|d| d.delivery_id.clone())
            .collect();
        retaken.sort();
        expected.sort();
        assert_eq!(
            retaken, expected,
            "the dead node's work, not the live node's"
        );
        assert_eq!(
            s.heartbeat("node-silent", silent.epoch).await.unwrap(),
            Heartbeat::Dead,
            "the silent run learns it was declared dead"
        );
        assert!(other
            .release_dead_nodes(dead_after)
            .await
            .unwrap()
            .is_empty());
    }
);

/// A success of `due`'s attempt `n`, made under its lease.
fn success(due: &DueDelivery, delivery: &hookline_core::Delivery, n: u32) -> AttemptResult {
    under(
        due,
        result(
            attempt(delivery, n, now(), Some(200)),
            NextStep::Succeeded,
            EndpointEffect::Healthy,
        ),
    )
}

async fn attempts_of(s: &SharedStore, delivery: &hookline_core::Delivery) -> Vec<Attempt> {
    s.list_attempts(
        &delivery.account_id,
        AttemptsOf::Event(delivery.event_id.clone()),
        PageRequest::first(10),
    )
    .await
    .unwrap()
    .items
}

conformance!(an_outdated_lease_records_nothing_over_the_new_holder, |t| {
    let s = &t.store;
    let other = t.second_node().await;
    let a = account(s).await;
    let mut ep = endpoint(s, &a, &[]).await;
    let event = publish_new(s, &a, "payment.completed").await;
    let delivery = only_delivery(s, &event).await;
    s.register_node("node-paused").await.unwrap();
    let paused = s.claim_due(&claim_by("node-paused", 1)).await.unwrap();
    assert_eq!(paused.len(), 1);
    // Declared dead while paused (here: its id restarted elsewhere), its
    // delivery is leased again by another node.
    other.register_node("node-paused").await.unwrap();
    let taken = other.claim_due(&claim_by("node-new", 1)).await.unwrap();
    assert_eq!(taken.len(), 1);
    assert!(taken[0].lease_epoch > paused[0].lease_epoch);

    // The paused node wakes up: its late failure and its release change
    // nothing of the delivery, which the new holder still has.
    ep.failing_since = None;
    let late = under(
        &paused[0],
        result(
            attempt(&delivery, 1, now(), Some(500)),
            NextStep::RetryAt(Utc::now()),
            EndpointEffect::Failing,
        ),
    );
    let recorded = s.record_attempts(vec![late]).await.unwrap();
    assert_eq!(recorded.stale, vec![delivery.id.clone()]);
    s.release(&[paused[0].lease()]).await.unwrap();
    let d = only_delivery(s, &event).await;
    assert_eq!((d.status, d.attempts), (DeliveryStatus::Pending, 0));
    assert!(
        other.claim_due(&claim(10)).await.unwrap().is_empty(),
        "still leased to the new holder"
    );
    assert!(
        attempts_of(s, &delivery).await.is_empty(),
        "the attempt log is the new holder's: the late attempt is not in it"
    );
    assert_eq!(
        s.get_endpoint(&a, &ep.id).await.unwrap().failing_since,
        None,
        "nor does the late failure touch the endpoint's health"
    );

    let recorded = other
        .record_attempts(vec![success(&taken[0], &delivery, 1)])
        .await
        .unwrap();
    assert!(recorded.stale.is_empty());
    let d = only_delivery(s, &event).await;
    assert_eq!((d.status, d.attempts), (DeliveryStatus::Succeeded, 1));
    let logged = attempts_of(s, &delivery).await;
    assert_eq!(logged.len(), 1, "one attempt, the new holder's: {logged:?}");
    assert_eq!(logged[0].status_code, Some(200));
});

conformance!(a_released_lease_nobody_took_again_still_records, |t| {
    let s = &t.store;
    let a = account(s).await;
    endpoint(s, &a, &[]).await;
    let event = publish_new(s, &a, "payment.completed").await;
    let delivery = only_delivery(s, &event).await;
    s.register_node("node-slow").await.unwrap();
    let held = s.claim_due(&claim_by("node-slow", 1)).await.unwrap();
    // Released (its node restarted) but not leased again: the attempt's
    // outcome is the latest word on the delivery, so it counts.
    s.register_node("node-slow").await.unwrap();
    let recorded = s
        .record_attempts(vec![success(&held[0], &delivery, 1)])
        .await
        .unwrap();
    assert!(recorded.stale.is_empty());
    let d = only_delivery(s, &event).await;
    assert_eq!((d.status, d.attempts), (DeliveryStatus::Succeeded, 1));
});

conformance!(a_node_that_leaves_is_not_declared_dead_later, |t| {
    let s = &t.store;
    let other = t.second_node().await;
    let a = account(s).await;
    endpoint(s, &a, &[]).await;
    publish_new(s, &a, "payment.completed").await;
    let old = s.register_node("node-leaving").await.unwrap();
    let run = s.register_node("node-leaving").await.unwrap();
    assert_eq!(
        s.claim_due(&claim_by("node-leaving", 10))
            .await
            .unwrap()
            .len(),
        1
    );

    // An outdated run leaving changes nothing of the current one.
    assert_eq!(s.leave_fleet("node-leaving", old.epoch).await.unwrap(), 0);
    assert_eq!(
        s.heartbeat("node-leaving", run.epoch).await.unwrap(),
        Heartbeat::Alive
    );

    // The current run leaves: what it still held is due at once, and no
    // node finds it silent later.
    assert_eq!(s.leave_fleet("node-leaving", run.epoch).await.unwrap(), 1);
    assert_eq!(
        other
            .claim_due(&claim_by("node-b", 10))
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(other
        .release_dead_nodes(StdDuration::ZERO)
        .await
        .unwrap()
        .iter()
        .all(|dead| dead.node_id != "node-leaving"));
    assert_eq!(
        s.heartbeat("node-leaving", run.epoch).await.unwrap(),
        Heartbeat::Dead
    );
});
