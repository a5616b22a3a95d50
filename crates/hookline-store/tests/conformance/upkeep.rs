//! Upkeep: backlog statistics for metrics, retention, and several nodes
//! opening one database.

use chrono::{Duration, Utc};
use hookline_store::*;

use crate::harness::*;

conformance!(backlog_stats_and_next_due, |t| {
    let s = &t.store;
    assert_eq!(s.next_due_at().await.unwrap(), None);
    let stats = s.pending_stats().await.unwrap();
    assert_eq!((stats.pending, stats.oldest_created_at), (0, None));

    let a = account(s).await;
    endpoint(s, &a, &[]).await;
    let before = now();
    let mut soon = new_event(&a, "payment.completed");
    soon.created_at = now() + Duration::minutes(10);
    publish(s, &soon).await;
    let mut sooner = new_event(&a, "payment.completed");
    sooner.created_at = now() + Duration::minutes(5);
    publish(s, &sooner).await;
    assert_eq!(s.next_due_at().await.unwrap(), Some(sooner.created_at));
    let stats = s.pending_stats().await.unwrap();
    assert_eq!(stats.pending, 2);
    let oldest = stats.oldest_created_at.unwrap();
    assert!(
        oldest >= before && oldest <= Utc::now(),
        "when the delivery was created"
    );

    let d = only_delivery(s, &sooner).await;
    s.record_attempts(vec![result(
        attempt(&d, 1, now(), Some(200)),
        NextStep::Succeeded,
        EndpointEffect::Healthy,
    )])
    .await
    .unwrap();
    assert_eq!(s.next_due_at().await.unwrap(), Some(soon.created_at));
    assert_eq!(s.pending_stats().await.unwrap().pending, 1);
});

conformance!(retention_purges_only_finished_old_events, |t| {
    let s = &t.store;
    let a = account(s).await;
    let old = |event_type: &str| {
        let mut e = new_event(&a, event_type);
        e.created_at = now() - Duration::days(40);
        e
    };
    let mut finished = Vec::new();
    for _ in 0..5 {
        let e = old("customer.created");
        publish(s, &e).await; // no endpoints yet: nothing to deliver
        finished.push(e);
    }
    let ep = endpoint(s, &a, &[]).await;
    let delivered = old("payment.completed");
    publish(s, &delivered).await;
    let d = only_delivery(s, &delivered).await;
    s.record_attempts(vec![result(
        attempt(&d, 1, now(), Some(200)),
        NextStep::Succeeded,
        EndpointEffect::None,
    )])
    .await
    .unwrap();
    let still_pending = old("payment.completed");
    publish(s, &still_pending).await;
    let recent = publish_new(s, &a, "customer.updated").await;

    let cutoff = now() - Duration::days(30);
    let mut purged = Vec::new();
    loop {
        let n = s.purge_events_before(cutoff, 2).await.unwrap();
        assert!(n <= 2, "at most one batch");
        if n == 0 {
            break;
        }
        purged.push(n);
    }
    assert_eq!(purged, vec![2, 2, 2], "six old finished events, in batches");
    for e in finished.iter().chain([&delivered]) {
        assert!(matches!(
            s.get_event(&a, &e.id).await,
            Err(StoreError::NotFound)
        ));
    }
    assert!(s
        .list_attempts(
            &a,
            AttemptsOf::Endpoint(ep.id.clone()),
            PageRequest::first(10)
        )
        .await
        .unwrap()
        .items
        .is_empty());
    let left = event_ids(
        s.list_events(&a, &EventFilter::default(), PageRequest::first(10))
            .await,
    );
    assert_eq!(left, vec![recent.id.clone(), still_pending.id.clone()]);
    // Their search rows went with them; the events kept are still found.
    let account = &a;
    let found = |value: String| async move {
        let page = PageRequest::first(10);
        event_ids(
            s.search_events(account, &value, &EventFilter::default(), page)
                .await,
        )
    };
    assert_eq!(found("1250".into()).await, left, "a value every event has");
    assert_eq!(
        t.scalar("SELECT COUNT(*) FROM event_search").await,
        4,
        "the rows of the two kept events (their id and 1250) and none of the purged"
    );
    for e in finished.iter().chain([&delivered]) {
        assert!(found(e.id.clone()).await.is_empty(), "{} purged", e.id);
    }
    assert_eq!(found(recent.id.clone()).await, vec![recent.id.clone()]);
    assert_eq!(deliveries(s, &recent).await.len(), 1);
    assert_eq!(s.pending_stats().await.unwrap().pending, 2);
});

conformance!(a_second_store_on_the_same_database_sees_the_data, |t| {
    let a = account(&t.store).await;
    let ep = endpoint(&t.store, &a, &[]).await;
    if t.is_postgres() {
        // Another node opens beside the first, migrating nothing.
        let other = open(&t.url).await.expect("migrations apply once");
        assert_eq!(other.get_endpoint(&a, &ep.id).await.unwrap(), ep);
        other.ping().await.unwrap();
    } else {
        // The embedded database serves one process at a time.
        let refused = open(&t.url).await.err().map(|e| e.to_string());
        let refused = refused.expect("a second SQLite store is refused while the first runs");
        assert!(refused.contains("another hookline process"), "{refused}");
    }
    let backend = t.store.backend();
    let t = t.restart().await;
    assert_eq!(t.store.get_endpoint(&a, &ep.id).await.unwrap(), ep);
    assert_eq!(t.store.backend(), backend);
    t.store.ping().await.unwrap();
});

/// Several PostgreSQL nodes starting at once migrate one schema once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_nodes_starting_together_migrate_once() {
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    let mut starting = Vec::new();
    for _ in 0..6 {
        let url = schema.url();
        starting.push(tokio::spawn(async move {
            open(&url).await.map(|s| s.backend())
        }));
    }
    for node in starting {
        assert_eq!(node.await.unwrap().unwrap(), "postgres");
    }
    // Every version once, none missing (whatever the number of migrations).
    let applied = schema
        .scalar("SELECT COUNT(*) FROM schema_migrations")
        .await;
    assert!(applied >= 1);
    assert_eq!(
        schema
            .scalar("SELECT MAX(version) FROM schema_migrations")
            .await,
        applied
    );
    assert_eq!(schema.scalar("SELECT COUNT(*) FROM deliveries").await, 0);
}

/// A URL whose `search_path` names no schema is refused with a clear error.
#[tokio::test]
async fn postgres_refuses_a_missing_schema() {
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    let url = schema.url().replace("hookline_test_", "hookline_missing_");
    match open(&url).await {
        Err(StoreError::Invalid(message)) => assert!(message.contains("search_path")),
        Err(other) => panic!("expected Invalid, got {other}"),
        Ok(_) => panic!("expected Invalid, got a store"),
    }
}
