//! Paging backwards (`PageRequest::before`, the Svix API's `prevIterator`)
//! through every list that pages: the same rows as paging forwards, in the
//! list's own order, and an end where nothing lies before.

use std::future::Future;

use hookline_core::Page;
use hookline_store::*;

use crate::harness::*;

/// Pages through `all` (the whole list, in its order, seven items) two at a
/// time: forwards to page 3, back from there to pages 2 and 1, and back from
/// page 1 to nothing.
async fn pages_back_and_forth<T, F, Fut>(all: &[String], id: impl Fn(&T) -> String, list: F)
where
    F: Fn(PageRequest) -> Fut,
    Fut: Future<Output = Page<T>>,
{
    assert_eq!(all.len(), 7, "the checks below assume seven items");
    let ids = |page: &Page<T>| page.items.iter().map(&id).collect::<Vec<_>>();
    let page1 = list(PageRequest::first(2)).await;
    let page2 = list(after(&page1, 2)).await;
    let page3 = list(after(&page2, 2)).await;
    assert_eq!(ids(&page3), all[4..6]);

    let back2 = list(before(&page3, 2)).await;
    assert_eq!(ids(&back2), all[2..4], "back from page 3 is page 2");
    assert_eq!(
        back2.next_cursor, page2.next_cursor,
        "and leads on to page 3"
    );
    assert!(back2.prev_cursor.is_some(), "page 1 lies before it");
    let back1 = list(before(&back2, 2)).await;
    assert_eq!(ids(&back1), all[0..2], "back from page 2 is page 1");
    assert_eq!(back1.prev_cursor, None, "nothing lies before page 1");
    assert_eq!(ids(&list(after(&back1, 2)).await), all[2..4]);

    assert!(
        page1.prev_cursor.is_some(),
        "a forward page can be paged back from"
    );
    let before_first = list(before(&page1, 2)).await;
    assert!(before_first.items.is_empty(), "nothing lies before page 1");
    assert_eq!(before_first.prev_cursor, None);
    assert_eq!(before_first.next_cursor, None);

    let three = list(before(&page3, 3)).await;
    assert_eq!(ids(&three), all[1..4], "the three just before page 3");
    assert!(three.prev_cursor.is_some());
    let to_top = list(before(&page3, 4)).await;
    assert_eq!(ids(&to_top), all[0..4]);
    assert_eq!(to_top.prev_cursor, None, "a full page reaching the top");

    let from_end = PageRequest {
        cursor: None,
        ..PageRequest::before(2, 0)
    };
    let last = list(from_end).await;
    assert_eq!(ids(&last), all[5..7], "backwards without a cursor: the end");
    assert_eq!(ids(&list(before(&last, 2)).await), all[3..5]);
}

conformance!(paging_back_through_events, |t| {
    let s = &t.store;
    let a = account(s).await;
    let other = account(s).await;
    endpoint(s, &a, &[]).await;
    let mut published = Vec::new();
    for i in 0..7 {
        let mut event = new_event(&a, "order.placed");
        event.data = format!(r#"{{"shop": "shop_1", "n": "{i}"}}"#);
        publish(s, &event).await;
        published.push(event.id);
        publish_new(s, &other, "order.placed").await;
    }
    let newest_first: Vec<String> = published.into_iter().rev().collect();
    let id = |l: &ListedEvent| l.event.id.clone();

    let list = |filter: EventFilter| {
        let a = a.clone();
        move |page: PageRequest| {
            let (a, filter) = (a.clone(), filter.clone());
            async move { s.list_events(&a, &filter, page).await.unwrap() }
        }
    };
    pages_back_and_forth(&newest_first, id, list(EventFilter::default())).await;
    let typed = EventFilter {
        event_types: vec!["order.placed".into()],
        ..EventFilter::default()
    };
    pages_back_and_forth(&newest_first, id, list(typed)).await;
    // A status alone walks the deliveries' status index instead.
    let pending = EventFilter {
        status: Some(hookline_core::DeliveryStatus::Pending),
        ..EventFilter::default()
    };
    pages_back_and_forth(&newest_first, id, list(pending)).await;

    let search = |page: PageRequest| {
        let a = a.clone();
        async move {
            s.search_events(&a, "shop_1", &EventFilter::default(), page)
                .await
                .unwrap()
        }
    };
    pages_back_and_forth(&newest_first, id, search).await;
});

conformance!(paging_back_through_attempts, |t| {
    let s = &t.store;
    let a = account(s).await;
    let ep = endpoint(s, &a, &[]).await;
    let event = publish_new(s, &a, "order.placed").await;
    let delivery = only_delivery(s, &event).await;
    let mut recorded = Vec::new();
    for n in 1..=7u32 {
        let at = now() - chrono::Duration::seconds(i64::from(10 - n));
        let a = attempt(&delivery, n, at, Some(503));
        recorded.push(a.id.clone());
        s.record_attempts(vec![result(
            a,
            NextStep::RetryAt(now()),
            EndpointEffect::None,
        )])
        .await
        .unwrap();
    }
    let newest_first: Vec<String> = recorded.into_iter().rev().collect();
    let id = |a: &hookline_core::Attempt| a.id.clone();
    for of in [
        AttemptsOf::Event(event.id.clone()),
        AttemptsOf::Endpoint(ep.id.clone()),
    ] {
        let list = |page: PageRequest| {
            let (a, of) = (a.clone(), of.clone());
            async move { s.list_attempts(&a, of, page).await.unwrap() }
        };
        pages_back_and_forth(&newest_first, id, list).await;
        let failed = AttemptFilter {
            succeeded: Some(false),
            ..AttemptFilter::default()
        };
        let filtered = |page: PageRequest| {
            let (a, of, failed) = (a.clone(), of.clone(), failed.clone());
            async move { s.list_attempts_where(&a, of, &failed, page).await.unwrap() }
        };
        pages_back_and_forth(&newest_first, id, filtered).await;
    }
});

conformance!(paging_back_through_accounts_and_endpoints, |t| {
    let s = &t.store;
    let mut accounts = Vec::new();
    for i in 0..7 {
        let account = new_account(&format!("A{i}"));
        s.create_account(&account, ACCOUNT_SECRET).await.unwrap();
        accounts.push(account.id);
    }
    let list = |page: PageRequest| async move { s.list_accounts(page).await.unwrap() };
    pages_back_and_forth(&accounts, |a: &hookline_core::Account| a.id.clone(), list).await;

    let a = accounts[0].clone();
    let mut endpoints = Vec::new();
    for _ in 0..7 {
        endpoints.push(endpoint(s, &a, &[]).await.id);
        endpoint(s, &accounts[1], &[]).await;
    }
    let list = |page: PageRequest| {
        let a = a.clone();
        async move { s.list_endpoints(&a, page).await.unwrap() }
    };
    pages_back_and_forth(&endpoints, |e: &hookline_core::Endpoint| e.id.clone(), list).await;
});
