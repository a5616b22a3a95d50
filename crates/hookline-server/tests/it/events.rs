//! Publishing, idempotency, listing and filters, event types.

use serde_json::json;

use crate::both;
use crate::harness::{eventually, Backend, Options, Receiver, TestServer, ADMIN};

both!(events_are_published_idempotently, |s| {
    let (a, key) = s.account("Acme").await;
    let body = json!({"type": "payment.completed", "data": {"amount": 100, "currency": "USD"}, "id": "evt_order_1"});
    let first = s.publish(&a, &key, body.clone()).await;
    assert_eq!(first["id"], "evt_order_1");
    assert_eq!(first["type"], "payment.completed");
    assert_eq!(first["data"]["amount"], 100);
    let again = s
        .expect(
            200,
            "POST",
            &format!("/v1/accounts/{a}/events"),
            Some(&key),
            Some(body),
        )
        .await;
    assert_eq!(again["id"], "evt_order_1");
    assert_eq!(again["created_at"], first["created_at"]);
    let changed =
        json!({"type": "payment.completed", "data": {"amount": 999}, "id": "evt_order_1"});
    let conflict = s
        .expect(
            409,
            "POST",
            &format!("/v1/accounts/{a}/events"),
            Some(&key),
            Some(changed),
        )
        .await;
    assert_eq!(conflict["error"]["code"], "conflict");

    let generated = s
        .publish(&a, &key, json!({"type": "customer.created", "data": {}}))
        .await;
    assert!(generated["id"].as_str().unwrap().starts_with("evt_"));
});

both!(bad_events_get_clear_errors, |s| {
    let (a, key) = s.account("Acme").await;
    let path = format!("/v1/accounts/{a}/events");
    let unknown = s
        .expect(
            422,
            "POST",
            &path,
            Some(&key),
            Some(json!({"type": "payment.exploded", "data": {}})),
        )
        .await;
    let message = unknown["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("payment.completed") && message.contains("refund.confirmed"),
        "{message}"
    );
    s.expect(
        422,
        "POST",
        &path,
        Some(&key),
        Some(json!({"type": "payment.completed", "data": [1, 2]})),
    )
    .await;
    s.expect(
        422,
        "POST",
        &path,
        Some(&key),
        Some(json!({"type": "payment.completed"})),
    )
    .await;
    s.expect(
        422,
        "POST",
        &path,
        Some(&key),
        Some(json!({"type": "payment.completed", "data": {}, "id": "order-1"})),
    )
    .await;
    s.expect(
        422,
        "POST",
        &path,
        Some(&key),
        Some(json!({"type": "payment.completed", "data": {}, "webhook_url": "gopher://x"})),
    )
    .await;
    s.expect(
        404,
        "POST",
        "/v1/accounts/acct_nobody/events",
        Some(ADMIN),
        Some(json!({"type": "payment.completed", "data": {}})),
    )
    .await;
    s.expect(404, "GET", &format!("{path}/evt_missing"), Some(&key), None)
        .await;
    s.expect(
        400,
        "GET",
        &format!("{path}?status=sleeping"),
        Some(&key),
        None,
    )
    .await;
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_answer_413() {
    let options = Options {
        max_payload_bytes: Some(2048),
        ..Default::default()
    };
    let s = TestServer::start_with(Backend::Sqlite, options)
        .await
        .unwrap();
    let (a, key) = s.account("Acme").await;
    let big = "x".repeat(4096);
    let err = s
        .expect(
            413,
            "POST",
            &format!("/v1/accounts/{a}/events"),
            Some(&key),
            Some(json!({"type": "payment.completed", "data": {"blob": big}})),
        )
        .await;
    assert_eq!(err["error"]["code"], "payload_too_large");
    assert!(err["error"]["message"]
        .as_str()
        .unwrap()
        .contains("HOOKLINE_MAX_PAYLOAD_BYTES"));
    s.publish(
        &a,
        &key,
        json!({"type": "payment.completed", "data": {"small": true}}),
    )
    .await;
}

both!(events_are_listed_newest_first_with_filters, |s| {
    let receiver = Receiver::start().await;
    let (a, key) = s.account("Acme").await;
    s.endpoint(
        &a,
        &key,
        &receiver.url("/ok"),
        json!({"event_types": ["payment.completed"]}),
    )
    .await;
    let mut ids = Vec::new();
    for (i, t) in [
        "payment.completed",
        "refund.initiated",
        "payment.completed",
        "customer.created",
        "payment.completed",
    ]
    .iter()
    .enumerate()
    {
        let e = s
            .publish(&a, &key, json!({"type": t, "data": {"n": i}}))
            .await;
        ids.push(e["id"].as_str().unwrap().to_string());
    }
    let all = s
        .expect(
            200,
            "GET",
            &format!("/v1/accounts/{a}/events"),
            Some(&key),
            None,
        )
        .await;
    let listed: Vec<&str> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    let newest_first: Vec<&str> = ids.iter().rev().map(String::as_str).collect();
    assert_eq!(listed, newest_first);

    let payments = s
        .expect(
            200,
            "GET",
            &format!("/v1/accounts/{a}/events?type=payment.completed&limit=2"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(payments["data"].as_array().unwrap().len(), 2);
    assert_eq!(payments["data"][0]["id"], ids[4].as_str());
    let cursor = payments["next_cursor"].as_str().unwrap();
    let more = s
        .expect(
            200,
            "GET",
            &format!("/v1/accounts/{a}/events?type=payment.completed&limit=2&cursor={cursor}"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(more["data"].as_array().unwrap().len(), 1);
    assert_eq!(more["data"][0]["id"], ids[0].as_str());

    receiver.wait_for(3).await;
    let path = format!("/v1/accounts/{a}/events?status=succeeded");
    let succeeded = eventually(
        "three succeeded events",
        std::time::Duration::from_secs(10),
        || async {
            let v = s.expect(200, "GET", &path, Some(&key), None).await;
            (v["data"].as_array().unwrap().len() == 3).then_some(v)
        },
    )
    .await;
    assert!(succeeded["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["type"] == "payment.completed" && e["status"] == "succeeded"));
    let pending = s
        .expect(
            200,
            "GET",
            &format!("/v1/accounts/{a}/events?status=pending"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(pending["data"].as_array().unwrap().len(), 0);
});

both!(event_types_can_be_registered, |s| {
    let (a, key) = s.account("Acme").await;
    let catalogue = s
        .expect(200, "GET", "/v1/event-types", Some(&key), None)
        .await;
    let types = catalogue["data"].as_array().unwrap();
    for name in [
        "payment.completed",
        "payment.failed",
        "payment.confirmed",
        "refund.initiated",
        "refund.completed",
        "refund.confirmed",
        "customer.created",
        "customer.updated",
        "transaction.updated",
    ] {
        let t = types
            .iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("{name} is built in"));
        assert!(
            t["example"].as_object().is_some_and(|o| !o.is_empty()),
            "{name} has an example"
        );
        assert!(!t["description"].as_str().unwrap().is_empty());
    }
    s.expect(
        403,
        "POST",
        "/v1/event-types",
        Some(&key),
        Some(json!({"name": "invoice.paid", "description": "x"})),
    )
    .await;
    s.expect(
        422,
        "POST",
        "/v1/event-types",
        Some(ADMIN),
        Some(json!({"name": "Invoice Paid", "description": "x"})),
    )
    .await;
    s.expect(201, "POST", "/v1/event-types", Some(ADMIN), Some(json!({"name": "invoice.paid", "description": "An invoice was paid", "example": {"invoice_id": "in_1"}, "schema": {"type": "object"}}))).await;
    s.expect(
        409,
        "POST",
        "/v1/event-types",
        Some(ADMIN),
        Some(json!({"name": "invoice.paid", "description": "again"})),
    )
    .await;
    s.expect(
        409,
        "POST",
        "/v1/event-types",
        Some(ADMIN),
        Some(json!({"name": "payment.completed", "description": "built in"})),
    )
    .await;
    s.publish(
        &a,
        &key,
        json!({"type": "invoice.paid", "data": {"invoice_id": "in_2"}}),
    )
    .await;
    s.endpoint(
        &a,
        &key,
        "https://example.com/in",
        json!({"event_types": ["invoice.paid"]}),
    )
    .await;
});
