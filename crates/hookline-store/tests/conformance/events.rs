//! Publishing and fan-out, idempotency, event and attempt listings, resend,
//! recover and hourly statistics.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{Duration, DurationRound, Utc};
use hookline_core::{DeliveryStatus, Event};
use hookline_store::*;

use crate::harness::*;

conformance!(publish_fans_out_to_matching_enabled_endpoints, |t| {
    let s = &t.store;
    let a = account(s).await;
    let every = endpoint(s, &a, &[]).await;
    let payments = endpoint(s, &a, &["payment.completed", "payment.failed"]).await;
    endpoint(s, &a, &["refund.completed"]).await;
    let mut disabled = new_endpoint(&a);
    disabled.disabled = true;
    s.create_endpoint(&disabled).await.unwrap();
    let other_account = account(s).await;
    endpoint(s, &other_account, &[]).await;

    let event = new_event(&a, "payment.completed");
    assert_eq!(publish(s, &event).await, 2);
    let all = deliveries(s, &event).await;
    let targets: HashSet<_> = all.iter().filter_map(|d| d.endpoint_id.clone()).collect();
    assert_eq!(
        targets,
        HashSet::from([every.id.clone(), payments.id.clone()])
    );
    for d in &all {
        assert_eq!(d.event_id, event.id);
        assert_eq!(d.account_id, a);
        assert_eq!(d.url, every.url);
        assert_eq!(d.status, DeliveryStatus::Pending);
        assert_eq!(d.attempts, 0);
        assert_eq!(d.next_attempt_at, Some(event.created_at), "due at once");
        assert_eq!(d.last_status_code, None);
    }

    let customer = new_event(&a, "customer.created");
    assert_eq!(
        publish(s, &customer).await,
        1,
        "only the catch-all endpoint"
    );
    let nobody = new_event(&account(s).await, "payment.completed");
    assert_eq!(publish(s, &nobody).await, 0, "an account without endpoints");
    assert!(deliveries(s, &nobody).await.is_empty());
    assert_eq!(s.pending_stats().await.unwrap().pending, 3);
});

conformance!(subscribers_are_matched_in_endpoint_creation_order, |t| {
    let s = &t.store;
    let a = account(s).await;
    let first = endpoint(s, &a, &["payment.completed"]).await;
    let second = endpoint(s, &a, &[]).await;
    endpoint(s, &a, &["refund.completed"]).await;
    let fourth = endpoint(s, &a, &["refund.completed", "payment.completed"]).await;
    // An update rewrites the row (on PostgreSQL, to the end of the table):
    // the order is still the endpoints' creation order.
    let mut renamed = first.clone();
    renamed.description = "renamed".into();
    s.update_endpoint(&renamed).await.unwrap();
    for _ in 0..3 {
        let event = publish_new(s, &a, "payment.completed").await;
        let to: Vec<Option<String>> = deliveries(s, &event)
            .await
            .into_iter()
            .map(|d| d.endpoint_id)
            .collect();
        assert_eq!(
            to,
            vec![
                Some(first.id.clone()),
                Some(second.id.clone()),
                Some(fourth.id.clone())
            ]
        );
    }
});

conformance!(
    payload_filters_pick_the_endpoints_an_event_fans_out_to,
    |t| {
        use hookline_core::filter::Filter;
        let s = &t.store;
        let a = account(s).await;
        let with_filter = |filter: serde_json::Value| {
            let mut ep = new_endpoint(&a);
            ep.filter = Some(Filter::parse(&filter).unwrap());
            ep
        };
        let big_euro = with_filter(serde_json::json!({
            "data.amount": {"$gte": 10000}, "data.currency": "EUR"
        }));
        let germany = with_filter(serde_json::json!({"data.customer.country": "DE"}));
        let refunds = with_filter(serde_json::json!({"type": {"$in": ["refund.completed"]}}));
        for ep in [&big_euro, &germany, &refunds] {
            s.create_endpoint(ep).await.unwrap();
        }
        let everything = endpoint(s, &a, &[]).await;
        let publish_data = |event_type: &str, data: serde_json::Value| {
            let mut event = new_event(&a, event_type);
            event.data = data.to_string();
            event
        };
        let receivers = |event: Event| async move {
            publish(s, &event).await;
            deliveries(s, &event)
                .await
                .into_iter()
                .filter_map(|d| d.endpoint_id)
                .collect::<Vec<_>>()
        };
        let big = publish_data(
            "payment.completed",
            serde_json::json!({"amount": 25000, "currency": "EUR", "customer": {"country": "DE"}}),
        );
        assert_eq!(
            receivers(big).await,
            vec![
                big_euro.id.clone(),
                germany.id.clone(),
                everything.id.clone()
            ]
        );
        let small = publish_data(
            "payment.completed",
            serde_json::json!({"amount": 50, "currency": "EUR", "customer": {"country": "FR"}}),
        );
        assert_eq!(receivers(small).await, vec![everything.id.clone()]);
        let refund = publish_data("refund.completed", serde_json::json!({"amount": 50}));
        assert_eq!(
            receivers(refund).await,
            vec![refunds.id.clone(), everything.id.clone()]
        );
        // A test send goes to its endpoint whatever the filter says.
        let test = publish_data("payment.completed", serde_json::json!({"amount": 1}));
        publish_to(s, &test, Target::Endpoint(big_euro.id.clone())).await;
        assert_eq!(
            only_delivery(s, &test).await.endpoint_id.as_deref(),
            Some(big_euro.id.as_str())
        );
        // Editing the filter takes effect on the next publish.
        let mut loosened = s.get_endpoint(&a, &germany.id).await.unwrap();
        loosened.filter = None;
        s.update_endpoint(&loosened).await.unwrap();
        let after = publish_data("payment.completed", serde_json::json!({"amount": 50}));
        assert_eq!(
            receivers(after).await,
            vec![germany.id.clone(), everything.id.clone()]
        );
    }
);

conformance!(webhook_url_replaces_the_endpoints, |t| {
    let s = &t.store;
    let a = account(s).await;
    endpoint(s, &a, &[]).await;
    let mut event = new_event(&a, "payment.completed");
    event.webhook_url = Some("https://merchant.example/invoices/in_1/hook".into());
    assert_eq!(publish(s, &event).await, 1);
    let delivery = only_delivery(s, &event).await;
    assert_eq!(delivery.endpoint_id, None);
    assert_eq!(delivery.url, "https://merchant.example/invoices/in_1/hook");
    assert_eq!(s.get_event(&a, &event.id).await.unwrap(), event);

    let due = s.claim_due(&claim(10)).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].endpoint_id, None);
    assert_eq!(due[0].url, delivery.url);
    assert_eq!(
        due[0].secrets,
        vec![ACCOUNT_SECRET.to_string()],
        "the account's secret"
    );
});

conformance!(target_endpoint_sends_to_that_endpoint_only, |t| {
    let s = &t.store;
    let a = account(s).await;
    endpoint(s, &a, &[]).await;
    let refunds = endpoint(s, &a, &["refund.completed"]).await;
    let event = new_event(&a, "payment.completed");
    let outcome = publish_to(s, &event, Target::Endpoint(refunds.id.clone())).await;
    assert!(matches!(
        outcome,
        PublishOutcome::Created { deliveries: 1, .. }
    ));
    let delivery = only_delivery(s, &event).await;
    assert_eq!(
        delivery.endpoint_id.as_deref(),
        Some(refunds.id.as_str()),
        "filter ignored"
    );

    let missing = new_event(&a, "payment.completed");
    assert!(matches!(
        s.publish(PublishRequest {
            event: missing.clone(),
            target: Target::Endpoint("ep_missing".into()),
            lease: None,
        })
        .await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.get_event(&a, &missing.id).await,
        Err(StoreError::NotFound)
    ));
});

conformance!(publishing_is_idempotent_per_account, |t| {
    let s = &t.store;
    let a = account(s).await;
    endpoint(s, &a, &[]).await;
    let event = publish_new(s, &a, "payment.completed").await;

    let mut retry = event.clone();
    retry.created_at = now() + Duration::seconds(30);
    match publish_to(s, &retry, Target::Subscribed).await {
        PublishOutcome::Duplicate(existing) => assert_eq!(existing, event, "the stored event"),
        other => panic!("expected Duplicate, got {other:?}"),
    }
    let mut changed = event.clone();
    changed.data = "{\"amount\": 1}".into();
    changed.payload_hash = "another-hash".into();
    assert!(matches!(
        publish_to(s, &changed, Target::Subscribed).await,
        PublishOutcome::Conflict
    ));
    assert_eq!(
        deliveries(s, &event).await.len(),
        1,
        "nothing new was delivered"
    );
    assert_eq!(s.get_event(&a, &event.id).await.unwrap(), event);

    // Ids are unique per account: another account may use the same one.
    let b = account(s).await;
    endpoint(s, &b, &[]).await;
    let mut theirs = event.clone();
    theirs.account_id = b.clone();
    assert_eq!(publish(s, &theirs).await, 1);
    assert_eq!(s.get_event(&b, &event.id).await.unwrap(), theirs);
    assert_eq!(s.get_event(&a, &event.id).await.unwrap(), event);
});

conformance!(concurrent_duplicate_publishes_store_one_event, |t| {
    let a = account(&t.store).await;
    endpoint(&t.store, &a, &[]).await;
    endpoint(&t.store, &a, &[]).await;
    let event = new_event(&a, "payment.completed");
    let other_node = t.second_node().await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = if i % 2 == 0 {
            Arc::clone(&t.store)
        } else {
            Arc::clone(&other_node)
        };
        let event = event.clone();
        tasks.push(tokio::spawn(async move {
            store
                .publish(PublishRequest {
                    event,
                    target: Target::Subscribed,
                    lease: None,
                })
                .await
                .unwrap()
        }));
    }
    let mut created = 0;
    for task in tasks {
        match task.await.unwrap() {
            PublishOutcome::Created { deliveries, .. } => {
                created += 1;
                assert_eq!(deliveries, 2);
            }
            PublishOutcome::Duplicate(existing) => assert_eq!(existing, event),
            PublishOutcome::Conflict => panic!("the same payload is no conflict"),
        }
    }
    assert_eq!(created, 1);
    assert_eq!(deliveries(&t.store, &event).await.len(), 2);
});

conformance!(events_keep_their_data_and_times_exactly, |t| {
    let s = &t.store;
    let a = account(s).await;
    let mut event = new_event(&a, "payment.completed");
    // Stored bytes are signed and sent as they are: spacing, key order,
    // escapes and non-ASCII text must survive.
    event.data = "{ \"z\":1,  \"a\" : \"caf\\u00e9 ☕\", \"n\": 1.50, \"list\": [ ] }".into();
    event.created_at = ms(Utc::now() - Duration::days(3));
    publish(s, &event).await;
    assert_eq!(s.get_event(&a, &event.id).await.unwrap(), event);
    let listed = s
        .list_events(&a, &EventFilter::default(), PageRequest::first(1))
        .await
        .unwrap();
    assert_eq!(listed.items[0].event, event);
    assert_eq!(listed.items[0].status, None, "no deliveries, no status");
});

/// Publishes an event of `event_type` and records `next` for each of its deliveries.
async fn event_ending(
    s: &SharedStore,
    account: &str,
    event_type: &str,
    next: Option<NextStep>,
) -> Event {
    let event = publish_new(s, account, event_type).await;
    if let Some(next) = next {
        let results = deliveries(s, &event)
            .await
            .iter()
            .map(|d| {
                let code = if next == NextStep::Succeeded {
                    200
                } else {
                    500
                };
                result(attempt(d, 1, now(), Some(code)), next, EndpointEffect::None)
            })
            .collect();
        s.record_attempts(results).await.unwrap();
    }
    event
}

conformance!(list_events_filters_and_pages_newest_first, |t| {
    let s = &t.store;
    let a = account(s).await;
    endpoint(s, &a, &["payment.completed", "payment.failed"]).await;
    let retry = NextStep::RetryAt(now() + Duration::hours(1));
    let e1 = event_ending(s, &a, "payment.completed", Some(NextStep::Succeeded)).await;
    let e2 = event_ending(s, &a, "payment.failed", Some(NextStep::Failed)).await;
    let e3 = event_ending(s, &a, "customer.created", None).await; // no deliveries
    let e4 = event_ending(s, &a, "payment.completed", Some(retry)).await;
    let e5 = event_ending(s, &a, "payment.completed", None).await;
    let other = account(s).await;
    endpoint(s, &other, &[]).await;
    publish_new(s, &other, "payment.completed").await;

    fn ids(page: &hookline_core::Page<ListedEvent>) -> Vec<&String> {
        page.items.iter().map(|l| &l.event.id).collect()
    }
    let list = |filter: EventFilter, page: PageRequest| {
        let a = a.clone();
        async move { s.list_events(&a, &filter, page).await.unwrap() }
    };

    let all = list(EventFilter::default(), PageRequest::first(10)).await;
    assert_eq!(ids(&all), vec![&e5.id, &e4.id, &e3.id, &e2.id, &e1.id]);
    let statuses: Vec<_> = all.items.iter().map(|l| l.status).collect();
    use DeliveryStatus::*;
    assert_eq!(
        statuses,
        vec![
            Some(Pending),
            Some(Pending),
            None,
            Some(Failed),
            Some(Succeeded)
        ]
    );
    assert!(all.next_cursor.is_none());
    assert!(all.items.windows(2).all(|w| w[0].seq > w[1].seq));

    let first = list(EventFilter::default(), PageRequest::first(2)).await;
    assert_eq!(ids(&first), vec![&e5.id, &e4.id]);
    assert_eq!(first.next_cursor, Some(first.items[1].seq.to_string()));
    let second = list(EventFilter::default(), after(&first, 2)).await;
    assert_eq!(ids(&second), vec![&e3.id, &e2.id]);
    let third = list(EventFilter::default(), after(&second, 2)).await;
    assert_eq!(ids(&third), vec![&e1.id]);
    assert!(third.next_cursor.is_none());

    let by_type = |event_type: &str, status: Option<DeliveryStatus>| EventFilter {
        event_type: Some(event_type.into()),
        status,
        ..EventFilter::default()
    };
    let of_type = list(by_type("payment.completed", None), PageRequest::first(10)).await;
    assert_eq!(ids(&of_type), vec![&e5.id, &e4.id, &e1.id]);
    let page = list(by_type("payment.completed", None), PageRequest::first(1)).await;
    let page = list(by_type("payment.completed", None), after(&page, 1)).await;
    assert_eq!(ids(&page), vec![&e4.id], "a type filter pages too");

    let status = |status| EventFilter {
        event_type: None,
        status: Some(status),
        ..EventFilter::default()
    };
    assert_eq!(
        ids(&list(status(Pending), PageRequest::first(10)).await),
        vec![&e5.id, &e4.id]
    );
    assert_eq!(
        ids(&list(status(Failed), PageRequest::first(10)).await),
        vec![&e2.id]
    );
    assert_eq!(
        ids(&list(status(Succeeded), PageRequest::first(10)).await),
        vec![&e1.id]
    );
    assert_eq!(
        ids(&list(
            by_type("payment.completed", Some(Succeeded)),
            PageRequest::first(10)
        )
        .await),
        vec![&e1.id]
    );
    assert!(
        list(by_type("refund.completed", None), PageRequest::first(10))
            .await
            .items
            .is_empty()
    );
});

conformance!(attempts_list_newest_first_per_event_and_endpoint, |t| {
    let s = &t.store;
    let a = account(s).await;
    let first_ep = endpoint(s, &a, &[]).await;
    let second_ep = endpoint(s, &a, &[]).await;
    let event = publish_new(s, &a, "payment.completed").await;
    let other_event = publish_new(s, &a, "payment.completed").await;
    let ds = deliveries(s, &event).await;
    let start = now() - Duration::minutes(10);
    let mut recorded = Vec::new();
    for n in 1..=3u32 {
        for d in &ds {
            let at = start + Duration::seconds(i64::from(n));
            let a = attempt(d, n, at, if n == 3 { Some(200) } else { None });
            recorded.push(a.clone());
            let next = if n == 3 {
                NextStep::Succeeded
            } else {
                NextStep::RetryAt(now())
            };
            s.record_attempts(vec![result(a, next, EndpointEffect::None)])
                .await
                .unwrap();
        }
    }
    let theirs = only_delivery_to(s, &other_event, &first_ep.id).await;
    let their_attempt = attempt(&theirs, 1, now(), Some(503));
    s.record_attempts(vec![result(
        their_attempt.clone(),
        NextStep::RetryAt(now()),
        EndpointEffect::None,
    )])
    .await
    .unwrap();

    let of_event = s
        .list_attempts(
            &a,
            AttemptsOf::Event(event.id.clone()),
            PageRequest::first(10),
        )
        .await
        .unwrap();
    let newest_first: Vec<_> = recorded.iter().rev().cloned().collect();
    assert_eq!(of_event.items, newest_first, "every field round-trips");
    assert!(of_event.next_cursor.is_none());

    let page1 = s
        .list_attempts(
            &a,
            AttemptsOf::Event(event.id.clone()),
            PageRequest::first(4),
        )
        .await
        .unwrap();
    let page2 = s
        .list_attempts(&a, AttemptsOf::Event(event.id.clone()), after(&page1, 4))
        .await
        .unwrap();
    assert_eq!(page1.items, newest_first[..4]);
    assert_eq!(page2.items, newest_first[4..]);
    assert!(page2.next_cursor.is_none());

    let of_endpoint = s
        .list_attempts(
            &a,
            AttemptsOf::Endpoint(first_ep.id.clone()),
            PageRequest::first(10),
        )
        .await
        .unwrap();
    let mut expected: Vec<_> = recorded
        .iter()
        .filter(|x| x.endpoint_id.as_deref() == Some(first_ep.id.as_str()))
        .cloned()
        .collect();
    expected.push(their_attempt);
    expected.reverse();
    assert_eq!(of_endpoint.items, expected);
    let second = s
        .list_attempts(
            &a,
            AttemptsOf::Endpoint(second_ep.id.clone()),
            PageRequest::first(2),
        )
        .await
        .unwrap();
    assert_eq!(second.items.len(), 2);
    assert!(second.next_cursor.is_some());

    let d = &deliveries(s, &event).await[0];
    assert_eq!(d.status, DeliveryStatus::Succeeded);
    assert_eq!(d.attempts, 3);
    assert_eq!(d.last_status_code, Some(200));
    assert_eq!(d.next_attempt_at, None);
});

async fn only_delivery_to(
    s: &SharedStore,
    event: &Event,
    endpoint_id: &str,
) -> hookline_core::Delivery {
    deliveries(s, event)
        .await
        .into_iter()
        .find(|d| d.endpoint_id.as_deref() == Some(endpoint_id))
        .expect("a delivery to the endpoint")
}

conformance!(resend_creates_fresh_deliveries, |t| {
    let s = &t.store;
    let a = account(s).await;
    let first_ep = endpoint(s, &a, &[]).await;
    let second_ep = endpoint(s, &a, &[]).await;
    let gone = endpoint(s, &a, &[]).await;
    let event = event_ending(s, &a, "payment.completed", Some(NextStep::Failed)).await;
    s.delete_endpoint(&a, &gone.id).await.unwrap();
    let mut moved = first_ep.clone();
    moved.url = "https://moved.example/hook".into();
    s.update_endpoint(&moved).await.unwrap();

    let before = Utc::now();
    let fresh = s.resend(&a, &event.id, None).await.unwrap();
    let targets: HashSet<_> = fresh.iter().filter_map(|d| d.endpoint_id.clone()).collect();
    assert_eq!(
        targets,
        HashSet::from([first_ep.id.clone(), second_ep.id.clone()]),
        "every target it had that still exists"
    );
    for d in &fresh {
        assert_eq!(d.status, DeliveryStatus::Pending);
        assert_eq!(d.attempts, 0);
        assert!(d.next_attempt_at.unwrap() <= Utc::now());
        assert!(d.next_attempt_at.unwrap() >= ms(before));
        if d.endpoint_id.as_deref() == Some(first_ep.id.as_str()) {
            assert_eq!(d.url, moved.url, "the endpoint's current URL");
        }
    }
    let stored = deliveries(s, &event).await;
    assert_eq!(stored.len(), 5);
    for d in &fresh {
        assert!(stored.contains(d), "answers what it stored");
    }

    // One endpoint, even one the event never went to.
    let late = endpoint(s, &a, &["refund.completed"]).await;
    let one = s.resend(&a, &event.id, Some(&late.id)).await.unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].endpoint_id.as_deref(), Some(late.id.as_str()));
    assert!(matches!(
        s.resend(&a, &event.id, Some(&gone.id)).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.resend(&a, "evt_missing", None).await,
        Err(StoreError::NotFound)
    ));

    let mut own_url = new_event(&a, "payment.completed");
    own_url.webhook_url = Some("https://merchant.example/once".into());
    publish(s, &own_url).await;
    let again = s.resend(&a, &own_url.id, None).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].endpoint_id, None);
    assert_eq!(again[0].url, "https://merchant.example/once");
});

conformance!(recover_resends_failures_since, |t| {
    let s = &t.store;
    let a = account(s).await;
    let ep = endpoint(s, &a, &["payment.completed", "payment.failed"]).await;
    let other = endpoint(s, &a, &["payment.failed"]).await;
    let since = now() - Duration::seconds(5);
    let failed1 = event_ending(s, &a, "payment.completed", Some(NextStep::Failed)).await;
    let failed2 = event_ending(s, &a, "payment.failed", Some(NextStep::Failed)).await;
    event_ending(s, &a, "payment.completed", Some(NextStep::Succeeded)).await;
    event_ending(s, &a, "payment.completed", None).await;

    assert_eq!(
        s.recover(&a, &ep.id, now() + Duration::minutes(1))
            .await
            .unwrap(),
        0
    );
    assert_eq!(s.recover(&a, &ep.id, since).await.unwrap(), 2);
    for event in [&failed1, &failed2] {
        let fresh: Vec<_> = deliveries(s, event)
            .await
            .into_iter()
            .filter(|d| d.status == DeliveryStatus::Pending)
            .collect();
        assert_eq!(fresh.len(), 1, "one fresh delivery per failed event");
        assert_eq!(fresh[0].endpoint_id.as_deref(), Some(ep.id.as_str()));
    }
    // The other endpoint's failure on failed2 is its own to recover.
    assert_eq!(s.recover(&a, &other.id, since).await.unwrap(), 1);
    assert!(matches!(
        s.recover(&a, "ep_missing", since).await,
        Err(StoreError::NotFound)
    ));
});

conformance!(hourly_stats_count_attempts_per_hour, |t| {
    let s = &t.store;
    let a = account(s).await;
    let ep = endpoint(s, &a, &[]).await;
    let other = endpoint(s, &a, &[]).await;
    let event = publish_new(s, &a, "payment.completed").await;
    let mine = only_delivery_to(s, &event, &ep.id).await;
    let theirs = only_delivery_to(s, &event, &other.id).await;
    let h0 = Utc::now().duration_trunc(Duration::hours(1)).unwrap() - Duration::hours(3);
    let h1 = h0 + Duration::hours(1);
    let retry = NextStep::RetryAt(now());
    let at = |t, code| result(attempt(&mine, 1, t, code), retry, EndpointEffect::None);
    s.record_attempts(vec![
        at(h0 - Duration::minutes(1), Some(200)), // before `since`
        at(h0, Some(200)),
        at(h0 + Duration::minutes(59), Some(500)),
        at(h0 + Duration::minutes(30), None),
        at(h1 + Duration::minutes(5), Some(204)),
        result(
            attempt(&theirs, 1, h0, Some(500)),
            retry,
            EndpointEffect::None,
        ),
    ])
    .await
    .unwrap();
    let stats = s.endpoint_hourly_stats(&a, &ep.id, h0).await.unwrap();
    assert_eq!(
        stats,
        vec![
            HourlyStats {
                hour: h0,
                succeeded: 1,
                failed: 2
            },
            HourlyStats {
                hour: h1,
                succeeded: 1,
                failed: 0
            },
        ]
    );
    assert!(s
        .endpoint_hourly_stats(&a, &ep.id, now() + Duration::hours(1))
        .await
        .unwrap()
        .is_empty());
});

conformance!(a_rare_status_is_found_past_chunks_of_candidates, |t| {
    let s = &t.store;
    let a = account(s).await;
    let first = endpoint(s, &a, &[]).await;
    endpoint(s, &a, &[]).await;
    // Every event has a failed delivery (to `first`), but only the three
    // oldest have no pending one: the others read `pending`, so the failed
    // ones are more than a chunk of candidates away from the newest.
    let mut events = Vec::new();
    for _ in 0..300 {
        events.push(publish_new(s, &a, "payment.completed").await);
    }
    let mut results = Vec::new();
    for (i, event) in events.iter().enumerate() {
        for d in deliveries(s, event).await {
            if d.endpoint_id.as_deref() == Some(first.id.as_str()) {
                results.push(result(
                    attempt(&d, 1, now(), Some(500)),
                    NextStep::Failed,
                    EndpointEffect::None,
                ));
            } else if i < 3 {
                results.push(result(
                    attempt(&d, 1, now(), Some(200)),
                    NextStep::Succeeded,
                    EndpointEffect::None,
                ));
            }
        }
    }
    s.record_attempts(results).await.unwrap();
    let failed = EventFilter {
        event_type: None,
        status: Some(DeliveryStatus::Failed),
        ..EventFilter::default()
    };
    let page1 = s
        .list_events(&a, &failed, PageRequest::first(2))
        .await
        .unwrap();
    let ids = |p: &hookline_core::Page<ListedEvent>| -> Vec<String> {
        p.items.iter().map(|l| l.event.id.clone()).collect()
    };
    assert_eq!(
        ids(&page1),
        vec![events[2].id.clone(), events[1].id.clone()]
    );
    assert!(page1
        .items
        .iter()
        .all(|l| l.status == Some(DeliveryStatus::Failed)));
    let page2 = s.list_events(&a, &failed, after(&page1, 2)).await.unwrap();
    assert_eq!(ids(&page2), vec![events[0].id.clone()]);
    assert!(page2.next_cursor.is_none());
    let pending = EventFilter {
        event_type: None,
        status: Some(DeliveryStatus::Pending),
        ..EventFilter::default()
    };
    let newest = s
        .list_events(&a, &pending, PageRequest::first(3))
        .await
        .unwrap();
    assert_eq!(
        ids(&newest),
        vec![
            events[299].id.clone(),
            events[298].id.clone(),
            events[297].id.clone()
        ]
    );
    let succeeded = EventFilter {
        event_type: None,
        status: Some(DeliveryStatus::Succeeded),
        ..EventFilter::default()
    };
    assert!(s
        .list_events(&a, &succeeded, PageRequest::first(10))
        .await
        .unwrap()
        .items
        .is_empty());
    // With a type no event has, the walk ends empty.
    let typed = EventFilter {
        event_type: Some("refund.completed".into()),
        status: Some(DeliveryStatus::Failed),
        ..EventFilter::default()
    };
    assert!(s
        .list_events(&a, &typed, PageRequest::first(10))
        .await
        .unwrap()
        .items
        .is_empty());
    // The oldest pending delivery is the fourth event's (the three oldest are done).
    let oldest = s.oldest_pending_delivery(&a).await.unwrap().unwrap();
    assert_eq!(oldest.event_id, events[3].id);
    assert_eq!(oldest.status, DeliveryStatus::Pending);
    assert!(s
        .oldest_pending_delivery(&account(s).await)
        .await
        .unwrap()
        .is_none());
});

conformance!(an_endpoints_attempts_are_filtered_by_outcome, |t| {
    let s = &t.store;
    let a = account(s).await;
    let ep = endpoint(s, &a, &[]).await;
    let done = publish_new(s, &a, "payment.completed").await;
    let retrying = publish_new(s, &a, "payment.completed").await;
    let d1 = only_delivery(s, &done).await;
    let d2 = only_delivery(s, &retrying).await;
    let failed_then_ok = attempt(&d1, 1, now(), Some(500));
    let ok = attempt(&d1, 2, now(), Some(200));
    let refused = attempt(&d2, 1, now(), None);
    let later = NextStep::RetryAt(now() + Duration::hours(1));
    // One batch each, so their order is the order recorded on both stores.
    for r in [
        result(failed_then_ok.clone(), later, EndpointEffect::None),
        result(ok.clone(), NextStep::Succeeded, EndpointEffect::None),
        result(refused.clone(), later, EndpointEffect::None),
    ] {
        s.record_attempts(vec![r]).await.unwrap();
    }
    let of = |outcome: OutcomeFilter| {
        let (a, id) = (a.clone(), ep.id.clone());
        async move {
            s.list_endpoint_attempts(&a, &id, outcome, PageRequest::first(10))
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|x| x.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        of(OutcomeFilter::Any).await,
        vec![refused.id.clone(), ok.id.clone(), failed_then_ok.id.clone()]
    );
    assert_eq!(of(OutcomeFilter::Succeeded).await, vec![ok.id.clone()]);
    assert_eq!(
        of(OutcomeFilter::Failed).await,
        vec![refused.id.clone(), failed_then_ok.id.clone()]
    );
    assert_eq!(
        of(OutcomeFilter::Pending).await,
        vec![refused.id.clone()],
        "its delivery will be tried again"
    );
    assert_eq!(
        of(OutcomeFilter::Outcome(
            hookline_core::AttemptOutcome::HttpError
        ))
        .await,
        vec![failed_then_ok.id.clone()]
    );
    // One attempt, with its exchange, only in its own account.
    let read = s.get_attempt(&a, &ok.id).await.unwrap();
    assert_eq!(read, ok, "the exchange round-trips");
    assert!(read.exchange.is_some());
    let other = account(s).await;
    assert!(matches!(
        s.get_attempt(&other, &ok.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.list_endpoint_attempts(&other, &ep.id, OutcomeFilter::Any, PageRequest::first(1))
            .await,
        Err(StoreError::NotFound)
    ));
});
