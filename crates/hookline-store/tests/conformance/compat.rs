//! What the Svix-compatible API relies on: platform-chosen keys (`uid`,
//! `external_id`), channels, the body format, list and attempt filters,
//! manual deliveries, recovery windows, delivery counts and remembered
//! `idempotency-key` answers.

use std::collections::HashSet;

use chrono::Duration;
use hookline_core::{EventFormat, Id, IdKind};
use hookline_store::*;

use crate::harness::*;

conformance!(accounts_are_found_by_uid_which_is_unique, |t| {
    let s = &t.store;
    let mut acme = new_account("Acme");
    acme.uid = Some("acme-prod".into());
    acme.metadata.insert("tier".into(), "gold".into());
    s.create_account(&acme, ACCOUNT_SECRET).await.unwrap();
    assert_eq!(s.get_account_by_uid("acme-prod").await.unwrap(), acme);
    assert_eq!(s.get_account(&acme.id).await.unwrap(), acme);
    assert!(matches!(
        s.get_account_by_uid("nobody").await,
        Err(StoreError::NotFound)
    ));

    let mut clash = new_account("Other");
    clash.uid = Some("acme-prod".into());
    match s.create_account(&clash, ACCOUNT_SECRET).await {
        Err(StoreError::Conflict(message)) => assert!(message.contains("uid"), "{message}"),
        other => panic!("expected a uid conflict, got {other:?}"),
    }
    // Accounts without a uid never clash with each other.
    s.create_account(&new_account("A"), ACCOUNT_SECRET)
        .await
        .unwrap();
    s.create_account(&new_account("B"), ACCOUNT_SECRET)
        .await
        .unwrap();

    acme.uid = Some("acme-live".into());
    acme.metadata.clear();
    s.update_account(&acme).await.unwrap();
    assert_eq!(s.get_account_by_uid("acme-live").await.unwrap(), acme);
    assert!(s.get_account_by_uid("acme-prod").await.is_err());
});

conformance!(
    endpoint_uids_are_unique_per_account_and_keys_round_trip,
    |t| {
        let s = &t.store;
        let a = account(s).await;
        let b = account(s).await;
        let mut ep = new_endpoint(&a);
        ep.uid = Some("primary".into());
        ep.channels = vec!["eu".into(), "us".into()];
        ep.version = 2;
        s.create_endpoint(&ep).await.unwrap();
        assert_eq!(s.get_endpoint_by_uid(&a, "primary").await.unwrap(), ep);
        assert!(matches!(
            s.get_endpoint_by_uid(&b, "primary").await,
            Err(StoreError::NotFound)
        ));

        let mut same_uid = new_endpoint(&a);
        same_uid.uid = Some("primary".into());
        assert!(matches!(
            s.create_endpoint(&same_uid).await,
            Err(StoreError::Conflict(_))
        ));
        let mut elsewhere = new_endpoint(&b);
        elsewhere.uid = Some("primary".into());
        s.create_endpoint(&elsewhere).await.unwrap();

        ep.channels.clear();
        ep.uid = None;
        s.update_endpoint(&ep).await.unwrap();
        assert_eq!(s.get_endpoint(&a, &ep.id).await.unwrap(), ep);
    }
);

conformance!(
    channels_narrow_the_fan_out_of_endpoints_that_list_them,
    |t| {
        let s = &t.store;
        let a = account(s).await;
        let every = endpoint(s, &a, &[]).await;
        let mut eu = new_endpoint(&a);
        eu.channels = vec!["eu".into()];
        s.create_endpoint(&eu).await.unwrap();

        let targets = |ds: Vec<hookline_core::Delivery>| -> HashSet<String> {
            ds.into_iter().filter_map(|d| d.endpoint_id).collect()
        };
        let mut on_eu = new_event(&a, "payment.completed");
        on_eu.channels = vec!["eu".into(), "fr".into()];
        assert_eq!(publish(s, &on_eu).await, 2);
        assert_eq!(
            targets(deliveries(s, &on_eu).await),
            HashSet::from([every.id.clone(), eu.id.clone()])
        );
        let mut on_us = new_event(&a, "payment.completed");
        on_us.channels = vec!["us".into()];
        assert_eq!(publish(s, &on_us).await, 1);
        assert_eq!(
            targets(deliveries(s, &on_us).await),
            HashSet::from([every.id.clone()])
        );
        let nowhere = new_event(&a, "payment.completed");
        assert_eq!(publish(s, &nowhere).await, 1, "no channels: catch-all only");
    }
);

conformance!(external_ids_are_unique_per_account_and_keep_format, |t| {
    let s = &t.store;
    let a = account(s).await;
    endpoint(s, &a, &[]).await;
    let mut first = new_event(&a, "invoice.paid");
    first.external_id = Some("order-1042".into());
    first.format = EventFormat::Svix;
    first.channels = vec!["eu".into()];
    assert_eq!(publish(s, &first).await, 1);
    assert_eq!(s.get_event(&a, &first.id).await.unwrap(), first);
    assert_eq!(
        s.get_event_by_external_id(&a, "order-1042").await.unwrap(),
        first
    );
    let other = account(s).await;
    assert!(matches!(
        s.get_event_by_external_id(&other, "order-1042").await,
        Err(StoreError::NotFound)
    ));

    let mut again = new_event(&a, "invoice.paid");
    again.external_id = Some("order-1042".into());
    assert!(matches!(
        publish_to(s, &again, Target::Subscribed).await,
        PublishOutcome::Conflict
    ));
    assert!(s.get_event(&a, &again.id).await.is_err(), "nothing stored");
    let mut elsewhere = new_event(&other, "invoice.paid");
    elsewhere.external_id = Some("order-1042".into());
    assert_eq!(publish(s, &elsewhere).await, 0);

    let due = s.claim_due(&claim(10)).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].format, EventFormat::Svix, "claims carry the format");
});

conformance!(event_lists_filter_by_types_channel_and_time, |t| {
    let s = &t.store;
    let a = account(s).await;
    let mut old = new_event(&a, "payment.completed");
    old.created_at = now() - Duration::hours(2);
    old.channels = vec!["eu".into()];
    publish(s, &old).await;
    let mut refund = new_event(&a, "refund.completed");
    refund.channels = vec!["us".into()];
    publish(s, &refund).await;
    let customer = publish_new(s, &a, "customer.created").await;

    let a = &a;
    let list = |filter: EventFilter| async move {
        event_ids(s.list_events(a, &filter, PageRequest::first(10)).await)
    };
    let types = EventFilter {
        event_types: vec!["payment.completed".into(), "customer.created".into()],
        ..EventFilter::default()
    };
    assert_eq!(list(types).await, vec![customer.id.clone(), old.id.clone()]);
    let eu = EventFilter {
        channel: Some("eu".into()),
        ..EventFilter::default()
    };
    assert_eq!(list(eu).await, vec![old.id.clone()]);
    let recent = EventFilter {
        after: Some(now() - Duration::hours(1)),
        ..EventFilter::default()
    };
    assert_eq!(
        list(recent).await,
        vec![customer.id.clone(), refund.id.clone()]
    );
    let earlier = EventFilter {
        before: Some(now() - Duration::hours(1)),
        ..EventFilter::default()
    };
    assert_eq!(list(earlier).await, vec![old.id.clone()]);
});

conformance!(attempt_lists_filter_and_show_manual_deliveries, |t| {
    let s = &t.store;
    let a = account(s).await;
    let ep = endpoint(s, &a, &[]).await;
    let mut event = new_event(&a, "payment.completed");
    event.channels = vec!["eu".into()];
    publish(s, &event).await;
    let first = only_delivery(s, &event).await;
    let started = now() - Duration::minutes(10);
    let failed = attempt(&first, 1, started, None);
    let refused = attempt(&first, 2, started + Duration::minutes(1), Some(503));
    // One batch each, so their order in the log is certain.
    s.record_attempts(vec![result(
        failed.clone(),
        NextStep::RetryAt(now()),
        EndpointEffect::Failing,
    )])
    .await
    .unwrap();
    s.record_attempts(vec![result(
        refused.clone(),
        NextStep::Failed,
        EndpointEffect::None,
    )])
    .await
    .unwrap();
    let resent = s.resend(&a, &event.id, Some(&ep.id)).await.unwrap();
    let ok = attempt(&resent[0], 1, now(), Some(200));
    s.record_attempts(vec![result(
        ok.clone(),
        NextStep::Succeeded,
        EndpointEffect::Healthy,
    )])
    .await
    .unwrap();

    let (a, event_id) = (&a, &event.id);
    let list = |filter: AttemptFilter| async move {
        s.list_attempts_where(
            a,
            AttemptsOf::Event(event_id.clone()),
            &filter,
            PageRequest::first(10),
        )
        .await
        .unwrap()
        .items
    };
    let all = list(AttemptFilter::default()).await;
    let ids: Vec<_> = all.iter().map(|x| x.id.clone()).collect();
    assert_eq!(
        ids,
        vec![ok.id.clone(), refused.id.clone(), failed.id.clone()]
    );
    assert_eq!(
        all.iter().map(|x| x.manual).collect::<Vec<_>>(),
        vec![true, false, false],
        "the resend's attempt is manual"
    );
    let only = |f: AttemptFilter| async move {
        list(f).await.into_iter().map(|x| x.id).collect::<Vec<_>>()
    };
    let succeeded = AttemptFilter {
        succeeded: Some(true),
        ..AttemptFilter::default()
    };
    assert_eq!(only(succeeded).await, vec![ok.id.clone()]);
    let no_status = AttemptFilter {
        status_code_class: Some(0),
        ..AttemptFilter::default()
    };
    assert_eq!(only(no_status).await, vec![failed.id.clone()]);
    let server_errors = AttemptFilter {
        status_code_class: Some(500),
        succeeded: Some(false),
        ..AttemptFilter::default()
    };
    assert_eq!(only(server_errors).await, vec![refused.id.clone()]);
    let before = AttemptFilter {
        before: Some(started + Duration::seconds(30)),
        ..AttemptFilter::default()
    };
    assert_eq!(only(before).await, vec![failed.id.clone()]);
    let wrong_channel = AttemptFilter {
        channel: Some("us".into()),
        ..AttemptFilter::default()
    };
    assert!(only(wrong_channel).await.is_empty());
    let right = AttemptFilter {
        channel: Some("eu".into()),
        event_types: vec!["payment.completed".into()],
        endpoint_id: Some(ep.id.clone()),
        ..AttemptFilter::default()
    };
    assert_eq!(only(right).await.len(), 3);
    let by_endpoint = s
        .list_attempts_where(
            a,
            AttemptsOf::Endpoint(ep.id.clone()),
            &AttemptFilter {
                succeeded: Some(false),
                ..AttemptFilter::default()
            },
            PageRequest::first(10),
        )
        .await
        .unwrap();
    assert_eq!(by_endpoint.items.len(), 2);
});

conformance!(recovery_windows_and_delivery_counts, |t| {
    let s = &t.store;
    let a = account(s).await;
    let ep = endpoint(s, &a, &[]).await;
    let event = publish_new(s, &a, "payment.completed").await;
    let d = only_delivery(s, &event).await;
    let failed = attempt(&d, 1, now(), Some(500));
    s.record_attempts(vec![result(failed, NextStep::Failed, EndpointEffect::None)])
        .await
        .unwrap();
    publish_new(s, &a, "payment.completed").await;

    let counts = s
        .endpoint_delivery_counts(&a, &ep.id, TimeWindow::default())
        .await
        .unwrap();
    assert_eq!(
        counts,
        DeliveryCounts {
            failed: 1,
            pending: 1,
            ..DeliveryCounts::default()
        }
    );
    let claimed = s.claim_due(&claim(10)).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let counts = s
        .endpoint_delivery_counts(&a, &ep.id, TimeWindow::default())
        .await
        .unwrap();
    assert_eq!(
        (counts.sending, counts.pending),
        (1, 0),
        "a leased delivery is sending"
    );
    let future = TimeWindow {
        since: Some(now() + Duration::hours(1)),
        until: None,
    };
    assert_eq!(
        s.endpoint_delivery_counts(&a, &ep.id, future)
            .await
            .unwrap(),
        DeliveryCounts::default()
    );
    assert!(matches!(
        s.endpoint_delivery_counts(&account(s).await, &ep.id, TimeWindow::default())
            .await,
        Err(StoreError::NotFound)
    ));

    let past = now() - Duration::hours(1);
    assert_eq!(
        s.recover_between(&a, &ep.id, past, Some(past + Duration::minutes(1)))
            .await
            .unwrap(),
        0,
        "the failure is outside the window"
    );
    assert_eq!(s.recover_between(&a, &ep.id, past, None).await.unwrap(), 1);
    let all = deliveries(s, &event).await;
    assert_eq!(all.len(), 2);
});

conformance!(idempotency_answers_are_kept_first_come_and_expire, |t| {
    let s = &t.store;
    let scope = Id::generate(IdKind::Account);
    let first = StoredResponse {
        status: 201,
        body: "{\"id\":\"acct_1\"}".into(),
        created_at: now(),
    };
    let live_since = now() - Duration::hours(12);
    assert_eq!(
        s.idempotent_response(&scope, "k1", live_since)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.save_idempotent_response(&scope, "k1", &first, live_since)
            .await
            .unwrap(),
        first
    );
    let second = StoredResponse {
        status: 409,
        body: "{}".into(),
        created_at: now(),
    };
    assert_eq!(
        s.save_idempotent_response(&scope, "k1", &second, live_since)
            .await
            .unwrap(),
        first,
        "the first answer wins"
    );
    assert_eq!(
        s.idempotent_response(&scope, "k1", live_since)
            .await
            .unwrap(),
        Some(first.clone())
    );
    assert_eq!(
        s.idempotent_response("another-scope", "k1", live_since)
            .await
            .unwrap(),
        None
    );
    // Past its 12 hours a key is forgotten and can be used again.
    let later = now() + Duration::hours(13);
    assert_eq!(
        s.idempotent_response(&scope, "k1", later - Duration::hours(12))
            .await
            .unwrap(),
        None
    );
    let reused = StoredResponse {
        created_at: later,
        ..second.clone()
    };
    assert_eq!(
        s.save_idempotent_response(&scope, "k1", &reused, later - Duration::hours(12))
            .await
            .unwrap(),
        reused
    );
    assert!(
        s.purge_idempotency_before(later + Duration::seconds(1))
            .await
            .unwrap()
            >= 1
    );
    assert_eq!(
        s.idempotent_response(&scope, "k1", live_since)
            .await
            .unwrap(),
        None
    );
});

conformance!(
    concurrent_publishes_of_one_external_id_store_one_event,
    |t| {
        let s = &t.store;
        let a = account(s).await;
        endpoint(s, &a, &[]).await;
        // Published together, these may share a batch (PostgreSQL's group
        // commit) or race for the writer (SQLite): one wins, the rest conflict.
        let mut publishes = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let mut e = new_event(&a, "invoice.paid");
            e.external_id = Some("order-7".into());
            let s = s.clone();
            publishes.spawn(async move { publish_to(&s, &e, Target::Subscribed).await });
        }
        let outcomes = publishes.join_all().await;
        let created = outcomes
            .iter()
            .filter(|o| matches!(o, PublishOutcome::Created { .. }))
            .count();
        let conflicts = outcomes
            .iter()
            .filter(|o| matches!(o, PublishOutcome::Conflict))
            .count();
        assert_eq!((created, conflicts), (1, 7), "{outcomes:?}");
        let stored = s.get_event_by_external_id(&a, "order-7").await.unwrap();
        assert_eq!(deliveries(s, &stored).await.len(), 1);
    }
);
