//! Settings, accounts, API keys, event types, endpoints, and tenant isolation.

use chrono::Duration;
use hookline_core::{EventType, Id, IdKind, PayloadMode};
use hookline_store::*;

use crate::harness::*;

conformance!(settings_keep_the_first_value_unless_set, |t| {
    let s = &t.store;
    assert_eq!(s.setting("admin_token_hash").await.unwrap(), None);
    assert_eq!(
        s.setting_or_insert("admin_token_hash", "a").await.unwrap(),
        "a"
    );
    assert_eq!(
        s.setting_or_insert("admin_token_hash", "b").await.unwrap(),
        "a",
        "the first value is kept"
    );
    s.set_setting("admin_token_hash", "c").await.unwrap();
    assert_eq!(
        s.setting("admin_token_hash").await.unwrap().as_deref(),
        Some("c")
    );
    s.set_setting("session_key", "k").await.unwrap();
    assert_eq!(
        s.setting("session_key").await.unwrap().as_deref(),
        Some("k")
    );
});

conformance!(accounts_round_trip_and_conflict, |t| {
    let s = &t.store;
    let mut account = new_account("Acme");
    s.create_account(&account, ACCOUNT_SECRET).await.unwrap();
    assert_eq!(s.get_account(&account.id).await.unwrap(), account);
    assert_eq!(
        s.account_signing_secret(&account.id).await.unwrap(),
        ACCOUNT_SECRET
    );
    assert!(matches!(
        s.create_account(&account, ACCOUNT_SECRET).await,
        Err(StoreError::Conflict(_))
    ));

    account.name = "Acme Payments".into();
    account.updated_at += Duration::milliseconds(1_234);
    s.update_account(&account).await.unwrap();
    assert_eq!(s.get_account(&account.id).await.unwrap(), account);

    let ghost = new_account("Ghost");
    assert!(matches!(
        s.get_account(&ghost.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.update_account(&ghost).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.delete_account(&ghost.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.account_signing_secret(&ghost.id).await,
        Err(StoreError::NotFound)
    ));
});

conformance!(failing_writes_do_not_undo_concurrent_ones, |t| {
    // Writes issued together may share one commit: the failing ones answer
    // their error, the others are stored all the same.
    let taken = new_account("Taken");
    t.store
        .create_account(&taken, ACCOUNT_SECRET)
        .await
        .unwrap();
    let mut writes = Vec::new();
    for i in 0..40 {
        let store = t.store.clone();
        let account = if i % 2 == 0 {
            new_account(&format!("Merchant {i}"))
        } else {
            taken.clone()
        };
        writes.push(tokio::spawn(async move {
            let result = store.create_account(&account, ACCOUNT_SECRET).await;
            (account.id, result)
        }));
    }
    let mut stored = vec![taken.id.clone()];
    for write in writes {
        let (id, result) = write.await.unwrap();
        if id == taken.id {
            assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");
        } else {
            result.expect("a valid account is stored beside failing writes");
            stored.push(id);
        }
    }
    let listed: Vec<String> = t
        .store
        .list_accounts(PageRequest::first(100))
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|a| a.id)
        .collect();
    stored.sort();
    let mut listed_sorted = listed.clone();
    listed_sorted.sort();
    assert_eq!(listed_sorted, stored);
});

conformance!(callers_that_give_up_leave_no_transaction_behind, |t| {
    // Callers dropped at any point of a transactional write (a client
    // hanging up, a timeout), e.g. while its BEGIN or COMMIT is on the wire: no
    // connection may go back to the pool inside a transaction, or the next
    // caller's statements would run in it.
    let s = &t.store;
    let a = account(s).await;
    let ep = endpoint(s, &a, &[]).await;
    for n in 0..400u64 {
        let mut changed = ep.clone();
        changed.description = format!("attempt {n}");
        let wait = std::time::Duration::from_micros(n * 7 % 1500);
        let _ = tokio::time::timeout(wait, s.update_endpoint(&changed)).await;
    }
    if t.is_postgres() {
        // Whatever the callers left runs to its end by itself; nothing sits
        // idle inside a transaction for long.
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        assert_eq!(
            t.scalar(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE state LIKE 'idle in transaction%' \
                 AND state_change < now() - interval '1 second' \
                 AND datname = current_database() AND pid <> pg_backend_pid()"
            )
            .await,
            0,
            "a pooled connection was left inside a transaction"
        );
    }
    // Single-statement writes commit by themselves, unless they run inside
    // a transaction someone left open on their connection.
    for n in 0..40 {
        s.create_account(&new_account(&format!("Merchant {n}")), ACCOUNT_SECRET)
            .await
            .unwrap();
    }
    // Seen from a connection of its own: every write was committed.
    eventually_scalar(&t, "SELECT COUNT(*) FROM accounts", 41).await;
});

/// Waits (up to 10 s) until `sql` answers `expected`.
async fn eventually_scalar(t: &TestStore, sql: &str, expected: i64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let got = t.scalar(sql).await;
        if got == expected {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{sql} answered {got}, expected {expected}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

conformance!(accounts_page_in_creation_order, |t| {
    let s = &t.store;
    let mut ids = Vec::new();
    for i in 0..5 {
        let account = new_account(&format!("A{i}"));
        s.create_account(&account, ACCOUNT_SECRET).await.unwrap();
        ids.push(account.id);
    }
    let first = s.list_accounts(PageRequest::first(2)).await.unwrap();
    let second = s.list_accounts(after(&first, 2)).await.unwrap();
    let third = s.list_accounts(after(&second, 2)).await.unwrap();
    assert!(third.next_cursor.is_none());
    let listed: Vec<_> = [first, second, third]
        .into_iter()
        .flat_map(|p| p.items)
        .map(|a| a.id)
        .collect();
    assert_eq!(listed, ids);

    let all = s.list_accounts(PageRequest::first(5)).await.unwrap();
    assert_eq!(all.items.len(), 5);
    assert!(
        all.next_cursor.is_none(),
        "a full last page has no next cursor"
    );
});

conformance!(deleting_an_account_removes_everything_it_owns, |t| {
    let s = &t.store;
    let a = account(s).await;
    let other = account(s).await;
    let ep = endpoint(s, &a, &[]).await;
    let other_ep = endpoint(s, &other, &[]).await;
    s.create_api_key(&ApiKey {
        id: Id::generate(IdKind::ApiKey),
        account_id: a.clone(),
        key_hash: "hash-a".into(),
        created_at: now(),
    })
    .await
    .unwrap();
    let event = publish_new(s, &a, "payment.completed").await;
    let delivery = only_delivery(s, &event).await;
    s.record_attempts(vec![result(
        attempt(&delivery, 1, now(), Some(500)),
        NextStep::RetryAt(now()),
        EndpointEffect::Failing,
    )])
    .await
    .unwrap();
    let kept = publish_new(s, &other, "payment.completed").await;

    s.delete_account(&a).await.unwrap();
    assert!(matches!(s.get_account(&a).await, Err(StoreError::NotFound)));
    assert!(matches!(
        s.get_endpoint(&a, &ep.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.get_event(&a, &event.id).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(s.account_for_key_hash("hash-a").await.unwrap(), None);
    let search_rows = format!("SELECT COUNT(*) FROM event_search WHERE account_id = '{a}'");
    assert_eq!(t.scalar(&search_rows).await, 0, "its search rows went too");
    assert_eq!(
        s.pending_stats().await.unwrap().pending,
        1,
        "only the other account's delivery is left"
    );
    let due = s.claim_due(&claim(10)).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].event_id, kept.id);
    assert_eq!(
        s.get_endpoint(&other, &other_ep.id).await.unwrap(),
        other_ep
    );
    assert!(matches!(
        s.delete_account(&a).await,
        Err(StoreError::NotFound)
    ));
    // The id is free again.
    let mut again = new_account("Again");
    again.id = a.clone();
    s.create_account(&again, ACCOUNT_SECRET).await.unwrap();
    assert!(s
        .list_endpoints(&a, PageRequest::first(10))
        .await
        .unwrap()
        .items
        .is_empty());
});

conformance!(api_keys_resolve_to_their_account, |t| {
    let s = &t.store;
    let a = account(s).await;
    let key = ApiKey {
        id: Id::generate(IdKind::ApiKey),
        account_id: a.clone(),
        key_hash: "3f79bb7b435b05321651daefd374cdc681dc06faa65e374e38337b88ca046dea".into(),
        created_at: now(),
    };
    s.create_api_key(&key).await.unwrap();
    assert_eq!(
        s.account_for_key_hash(&key.key_hash).await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(s.account_for_key_hash("unknown").await.unwrap(), None);

    let same_hash = ApiKey {
        id: Id::generate(IdKind::ApiKey),
        ..key.clone()
    };
    assert!(matches!(
        s.create_api_key(&same_hash).await,
        Err(StoreError::Conflict(_))
    ));
    let orphan = ApiKey {
        id: Id::generate(IdKind::ApiKey),
        account_id: new_account("Ghost").id,
        key_hash: "other".into(),
        created_at: now(),
    };
    assert!(matches!(
        s.create_api_key(&orphan).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(s.account_for_key_hash("other").await.unwrap(), None);
});

conformance!(custom_event_types_are_unique, |t| {
    let s = &t.store;
    assert!(s.list_event_types().await.unwrap().is_empty());
    let invoice = EventType {
        name: "invoice.paid".into(),
        description: "An invoice was paid.".into(),
        example: serde_json::json!({"invoice": "in_1", "amount": 100}),
        schema: Some(serde_json::json!({"type": "object"})),
        created_at: Some(now()),
    };
    let payout = EventType {
        name: "payout.sent".into(),
        description: "A payout left.".into(),
        example: serde_json::json!({}),
        schema: None,
        created_at: Some(now()),
    };
    s.create_event_type(&payout).await.unwrap();
    s.create_event_type(&invoice).await.unwrap();
    assert_eq!(
        s.list_event_types().await.unwrap(),
        vec![invoice.clone(), payout]
    );
    let mut again = invoice.clone();
    again.description = "Different".into();
    assert!(matches!(
        s.create_event_type(&again).await,
        Err(StoreError::Conflict(_))
    ));
});

conformance!(endpoints_round_trip_every_field, |t| {
    let s = &t.store;
    let a = account(s).await;
    let mut ep = new_endpoint(&a);
    ep.url = "https://user:pa%20ss@receiver.example:8443/hooks?x=1".into();
    ep.description = "Orders — production ✓".into();
    ep.event_types = vec!["payment.completed".into(), "refund.completed".into()];
    ep.payload = PayloadMode::Thin;
    ep.headers.insert("x-team".into(), "payments".into());
    ep.headers.insert("x-env".into(), "prod".into());
    ep.previous_secret = Some("whsec_b2xkb2xkb2xkb2xkb2xkb2xkb2xkb2xk".into());
    ep.previous_secret_expires_at = Some(now() + Duration::hours(24));
    ep.rate_limit_per_sec = Some(25);
    ep.metadata = serde_json::json!({"owner": "ops", "n": 3, "nested": {"a": [1, 2]}})
        .as_object()
        .cloned()
        .unwrap();
    ep.failing_since = Some(now() - Duration::minutes(5));
    ep.filter = Some(
        hookline_core::filter::Filter::parse(&serde_json::json!({
            "data.amount": {"$gte": 10000}, "$or": [{"type": "payment.completed"}]
        }))
        .unwrap(),
    );
    s.create_endpoint(&ep).await.unwrap();
    assert_eq!(s.get_endpoint(&a, &ep.id).await.unwrap(), ep);
    assert!(matches!(
        s.create_endpoint(&ep).await,
        Err(StoreError::Conflict(_))
    ));

    let mut changed = ep.clone();
    changed.url = "http://other.example/x".into();
    changed.description = String::new();
    changed.event_types = Vec::new();
    changed.disabled = true;
    changed.disabled_reason = Some("410 Gone".into());
    changed.payload = PayloadMode::Full;
    changed.headers.clear();
    changed.secret = "whsec_bmV3bmV3bmV3bmV3bmV3bmV3bmV3bmV3".into();
    changed.previous_secret = None;
    changed.previous_secret_expires_at = None;
    changed.rate_limit_per_sec = None;
    changed.metadata.clear();
    changed.failing_since = None;
    changed.filter = None;
    changed.updated_at = ep.updated_at + Duration::milliseconds(7);
    s.update_endpoint(&changed).await.unwrap();
    assert_eq!(s.get_endpoint(&a, &ep.id).await.unwrap(), changed);

    s.delete_endpoint(&a, &ep.id).await.unwrap();
    assert!(matches!(
        s.get_endpoint(&a, &ep.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.delete_endpoint(&a, &ep.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.update_endpoint(&changed).await,
        Err(StoreError::NotFound)
    ));

    let orphan = new_endpoint(&new_account("Ghost").id);
    assert!(matches!(
        s.create_endpoint(&orphan).await,
        Err(StoreError::NotFound)
    ));
});

conformance!(endpoints_page_in_creation_order, |t| {
    let s = &t.store;
    let a = account(s).await;
    let b = account(s).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(endpoint(s, &a, &[]).await.id);
        if i % 2 == 0 {
            endpoint(s, &b, &[]).await;
        }
    }
    let mut listed = Vec::new();
    let mut page = s.list_endpoints(&a, PageRequest::first(2)).await.unwrap();
    loop {
        assert!(page.items.len() <= 2);
        listed.extend(page.items.iter().map(|e| e.id.clone()));
        if page.next_cursor.is_none() {
            break;
        }
        page = s.list_endpoints(&a, after(&page, 2)).await.unwrap();
    }
    assert_eq!(listed, ids, "ascending by creation, only this account's");
    let four = s.list_endpoints(&a, PageRequest::first(4)).await.unwrap();
    let rest = s.list_endpoints(&a, after(&four, 4)).await.unwrap();
    assert_eq!(rest.items.len(), 1);
    assert!(rest.next_cursor.is_none());
    assert_eq!(
        s.list_endpoints(&b, PageRequest::first(10))
            .await
            .unwrap()
            .items
            .len(),
        3
    );
});

conformance!(another_accounts_objects_are_not_found, |t| {
    let s = &t.store;
    let a = account(s).await;
    let b = account(s).await;
    let ep = endpoint(s, &a, &[]).await;
    let b_ep = endpoint(s, &b, &[]).await;
    let event = publish_new(s, &a, "payment.completed").await;
    let not_found = |r: Result<_, StoreError>| matches!(r, Err(StoreError::NotFound));

    assert!(not_found(s.get_endpoint(&b, &ep.id).await.map(|_| ())));
    let mut stolen = ep.clone();
    stolen.account_id = b.clone();
    stolen.url = "https://attacker.example/".into();
    assert!(not_found(s.update_endpoint(&stolen).await));
    assert!(not_found(s.delete_endpoint(&b, &ep.id).await));
    assert_eq!(s.get_endpoint(&a, &ep.id).await.unwrap(), ep, "untouched");
    assert_eq!(
        s.list_endpoints(&b, PageRequest::first(10))
            .await
            .unwrap()
            .items,
        vec![b_ep.clone()]
    );

    assert!(not_found(s.get_event(&b, &event.id).await.map(|_| ())));
    assert!(not_found(
        s.list_deliveries(&b, &event.id).await.map(|_| ())
    ));
    assert!(not_found(
        s.list_attempts(
            &b,
            AttemptsOf::Event(event.id.clone()),
            PageRequest::first(10)
        )
        .await
        .map(|_| ())
    ));
    assert!(not_found(
        s.list_attempts(
            &b,
            AttemptsOf::Endpoint(ep.id.clone()),
            PageRequest::first(10)
        )
        .await
        .map(|_| ())
    ));
    assert!(not_found(s.resend(&b, &event.id, None).await.map(|_| ())));
    assert!(not_found(
        s.resend(&a, &event.id, Some(&b_ep.id)).await.map(|_| ())
    ));
    assert!(not_found(s.recover(&b, &ep.id, now()).await.map(|_| ())));
    assert!(not_found(
        s.endpoint_hourly_stats(&b, &ep.id, now()).await.map(|_| ())
    ));
    let to_foreign = new_event(&a, "payment.completed");
    assert!(not_found(
        s.publish(PublishRequest {
            event: to_foreign.clone(),
            target: Target::Endpoint(b_ep.id.clone()),
            lease: None,
        })
        .await
        .map(|_| ())
    ));
    assert!(
        not_found(s.get_event(&a, &to_foreign.id).await.map(|_| ())),
        "a refused publish stores nothing"
    );
    assert!(s
        .list_events(&b, &EventFilter::default(), PageRequest::first(10))
        .await
        .unwrap()
        .items
        .is_empty());
    assert_eq!(deliveries(s, &event).await.len(), 1, "nothing was resent");
});
