//! Dashboard sessions, portal links, API key deletion and account brands:
//! a link opens once and before it expires; a session lives while its
//! account and the key that made it do.

use chrono::Duration;
use hookline_core::{Id, IdKind};
use hookline_store::*;

use crate::harness::*;

fn row(
    id_hash: &str,
    kind: SessionKind,
    account: Option<&str>,
    key: Option<&str>,
) -> DashboardSession {
    let now = now();
    DashboardSession {
        id_hash: id_hash.into(),
        kind,
        account_id: account.map(str::to_string),
        api_key_hash: key.map(str::to_string),
        read_only: true,
        portal: true,
        return_url: Some("https://platform.example/back".into()),
        created_at: now,
        expires_at: now + Duration::hours(1),
    }
}

async fn key(s: &SharedStore, account: &str, hash: &str) -> String {
    let id = Id::generate(IdKind::ApiKey);
    s.create_api_key(&ApiKey {
        id: id.clone(),
        account_id: account.into(),
        key_hash: hash.into(),
        created_at: now(),
    })
    .await
    .unwrap();
    id
}

conformance!(a_portal_link_opens_once_and_before_it_expires, |t| {
    let s = &t.store;
    let a = account(s).await;
    s.create_dashboard_session(&row("link-1", SessionKind::Link, Some(&a), None))
        .await
        .unwrap();
    assert_eq!(
        s.dashboard_session("link-1", now()).await.unwrap(),
        None,
        "a link is no session"
    );

    let opened = s
        .redeem_portal_link("link-1", "sess-1", now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(opened.id_hash, "sess-1");
    assert_eq!(opened.kind, SessionKind::Session);
    assert!(opened.read_only && opened.portal);
    assert_eq!(opened.account_id.as_deref(), Some(a.as_str()));
    assert_eq!(
        opened.return_url.as_deref(),
        Some("https://platform.example/back")
    );
    assert_eq!(
        s.redeem_portal_link("link-1", "sess-2", now())
            .await
            .unwrap(),
        None,
        "once"
    );
    let live = s.dashboard_session("sess-1", now()).await.unwrap().unwrap();
    assert_eq!(live.expires_at, opened.expires_at);
    assert_eq!(
        s.dashboard_session("sess-1", now() + Duration::hours(2))
            .await
            .unwrap(),
        None,
        "expired"
    );

    s.create_dashboard_session(&row("link-2", SessionKind::Link, Some(&a), None))
        .await
        .unwrap();
    let late = now() + Duration::hours(2);
    assert_eq!(
        s.redeem_portal_link("link-2", "sess-3", late)
            .await
            .unwrap(),
        None
    );
    assert_eq!(s.purge_dashboard_sessions(late).await.unwrap(), 2);
    assert_eq!(
        s.redeem_portal_link("link-2", "sess-3", now())
            .await
            .unwrap(),
        None,
        "purged"
    );

    s.end_dashboard_session("sess-1").await.unwrap();
    s.end_dashboard_session("unknown").await.unwrap();
    assert!(matches!(
        s.create_dashboard_session(&row("x", SessionKind::Link, Some("acct_ghost"), None))
            .await,
        Err(StoreError::NotFound)
    ));
});

conformance!(sessions_end_with_their_key_or_account, |t| {
    let s = &t.store;
    let a = account(s).await;
    let b = account(s).await;
    let key_a = key(s, &a, "hash-a").await;
    s.create_dashboard_session(&row(
        "by-key",
        SessionKind::Session,
        Some(&a),
        Some("hash-a"),
    ))
    .await
    .unwrap();
    s.create_dashboard_session(&row(
        "link-by-key",
        SessionKind::Link,
        Some(&a),
        Some("hash-a"),
    ))
    .await
    .unwrap();
    s.create_dashboard_session(&row("by-admin", SessionKind::Session, Some(&a), None))
        .await
        .unwrap();
    s.create_dashboard_session(&row("admin", SessionKind::Session, None, None))
        .await
        .unwrap();
    assert!(s
        .dashboard_session("by-key", now())
        .await
        .unwrap()
        .is_some());

    assert!(
        matches!(
            s.delete_api_key(&b, &key_a).await,
            Err(StoreError::NotFound)
        ),
        "another account's key"
    );
    s.delete_api_key(&a, &key_a).await.unwrap();
    assert_eq!(s.account_for_key_hash("hash-a").await.unwrap(), None);
    assert_eq!(s.dashboard_session("by-key", now()).await.unwrap(), None);
    assert_eq!(
        s.redeem_portal_link("link-by-key", "s", now())
            .await
            .unwrap(),
        None
    );
    assert!(s
        .dashboard_session("by-admin", now())
        .await
        .unwrap()
        .is_some());

    s.delete_account(&a).await.unwrap();
    assert_eq!(s.dashboard_session("by-admin", now()).await.unwrap(), None);
    let admin = s.dashboard_session("admin", now()).await.unwrap().unwrap();
    assert_eq!(admin.account_id, None);
});

conformance!(account_brands_round_trip, |t| {
    let s = &t.store;
    let a = account(s).await;
    assert_eq!(s.account_branding(&a).await.unwrap(), None);
    let brand = Branding {
        product_name: Some("Reseller".into()),
        logo_url: None,
        accent_color: Some("#0a7cff".into()),
    };
    s.set_account_branding(&a, &brand).await.unwrap();
    assert_eq!(s.account_branding(&a).await.unwrap(), Some(brand));
    s.set_account_branding(&a, &Branding::default())
        .await
        .unwrap();
    assert_eq!(
        s.account_branding(&a).await.unwrap(),
        Some(Branding::default())
    );
    assert!(matches!(
        s.set_account_branding("acct_ghost", &Branding::default())
            .await,
        Err(StoreError::NotFound)
    ));
    s.delete_account(&a).await.unwrap();
    assert_eq!(s.account_branding(&a).await.unwrap(), None);
});

/// Ids of a page of events.
fn ids(page: &hookline_core::Page<ListedEvent>) -> Vec<String> {
    page.items.iter().map(|l| l.event.id.clone()).collect()
}

conformance!(events_are_found_by_a_value_inside_their_data, |t| {
    let s = &t.store;
    let a = account(s).await;
    let b = account(s).await;
    let mut paid = new_event(&a, "payment.completed");
    paid.data = r#"{"payment_id": "pay_7Hq2", "amount": 4999, "price": 49.99, "paid": true,
                    "customer": {"email": "ann@example.com", "tags": ["vip", "eu"]}}"#
        .into();
    publish(s, &paid).await;
    let mut refunded = new_event(&a, "refund.completed");
    refunded.data = r#"{"payment_id": "pay_7Hq2", "refund_id": "re_1"}"#.into();
    publish(s, &refunded).await;
    let mut foreign = new_event(&b, "payment.completed");
    foreign.data = r#"{"payment_id": "pay_7Hq2"}"#.into();
    publish(s, &foreign).await;
    let any = EventFilter::default();
    let search = |value: &'static str, filter: EventFilter| {
        let s = s.clone();
        let a = a.clone();
        async move {
            s.search_events(&a, value, &filter, PageRequest::first(10))
                .await
                .unwrap()
        }
    };

    assert_eq!(
        ids(&search("pay_7Hq2", any.clone()).await),
        [refunded.id.clone(), paid.id.clone()]
    );
    for value in ["4999", "ann@example.com", "vip"] {
        assert_eq!(
            ids(&search(value, any.clone()).await),
            [paid.id.clone()],
            "{value}"
        );
    }
    for value in ["49.99", "true", "pay_7hq2", "pay_", "customer"] {
        assert!(
            search(value, any.clone()).await.items.is_empty(),
            "{value} is no exact value"
        );
    }
    let by_id = s
        .search_events(&a, &paid.id, &any, PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(ids(&by_id), [paid.id.clone()]);
    let typed = EventFilter {
        event_type: Some("payment.completed".into()),
        ..Default::default()
    };
    assert_eq!(ids(&search("pay_7Hq2", typed).await), [paid.id.clone()]);
    let failed = EventFilter {
        status: Some(hookline_core::DeliveryStatus::Failed),
        ..Default::default()
    };
    assert!(search("pay_7Hq2", failed).await.items.is_empty());

    // Pages follow the same cursor as the list.
    let first = s
        .search_events(&a, "pay_7Hq2", &any, PageRequest::first(1))
        .await
        .unwrap();
    assert_eq!(ids(&first), [refunded.id.clone()]);
    let next = PageRequest::after(1, first.next_cursor.as_deref().map(|c| c.parse().unwrap()));
    let second = s.search_events(&a, "pay_7Hq2", &any, next).await.unwrap();
    assert_eq!(ids(&second), [paid.id.clone()]);
    assert_eq!(second.next_cursor, None);

    // Deleting the account takes its index rows along.
    s.delete_account(&a).await.unwrap();
    assert!(search("pay_7Hq2", any.clone()).await.items.is_empty());
    let other = s
        .search_events(&b, "pay_7Hq2", &any, PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(ids(&other), [foreign.id.clone()]);
});
