//! Payload filters and event schemas through the API: a filter is checked
//! when saved (the error names the bad part), decides which endpoints an
//! event's deliveries go to, and can be tried before saving; a type's schema
//! refuses malformed data at publish and is itself checked at registration.

use serde_json::json;

use crate::both;
use crate::harness::{Receiver, ADMIN};

both!(filters_decide_which_endpoints_receive_an_event, |s| {
    let (a, key) = s.account("Acme").await;
    let euro = Receiver::start().await;
    let germany = Receiver::start().await;
    let all = Receiver::start().await;
    let big_euro = s
        .endpoint(
            &a,
            &key,
            &euro.url("/hooks"),
            json!({"filter": {"data.amount": {"$gte": 10000}, "data.currency": "EUR"}}),
        )
        .await;
    assert_eq!(
        big_euro["filter"],
        json!({"data.amount": {"$gte": 10000}, "data.currency": "EUR"})
    );
    let de = s
        .endpoint(
            &a,
            &key,
            &germany.url("/hooks"),
            json!({"filter": {"$or": [{"data.customer.country": "DE"}, {"type": "refund.completed"}]}}),
        )
        .await;
    s.endpoint(&a, &key, &all.url("/hooks"), json!({})).await;

    let big = s
        .publish(
            &a,
            &key,
            json!({"type": "payment.completed", "data": {"amount": 25000, "currency": "EUR", "customer": {"country": "FR"}}}),
        )
        .await;
    let refund = s
        .publish(
            &a,
            &key,
            json!({"type": "refund.completed", "data": {"amount": 10, "currency": "USD"}}),
        )
        .await;
    let small = s
        .publish(
            &a,
            &key,
            json!({"type": "payment.completed", "data": {"amount": 5, "currency": "EUR"}}),
        )
        .await;
    let deliveries = |event: serde_json::Value| {
        let id = event["id"].as_str().unwrap().to_string();
        let (a, key) = (a.clone(), key.clone());
        let s = &s;
        async move {
            let got = s.event(&a, &key, &id).await;
            got["deliveries"].as_array().unwrap().len()
        }
    };
    assert_eq!(deliveries(big.clone()).await, 2, "euro and all");
    assert_eq!(deliveries(refund.clone()).await, 2, "germany's $or and all");
    assert_eq!(deliveries(small.clone()).await, 1, "all only");
    let ids = |r: &Receiver, n: usize| {
        let r = r.clone();
        async move {
            r.wait_for(n)
                .await
                .iter()
                .map(|x| x.json()["id"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(ids(&euro, 1).await, vec![big["id"].as_str().unwrap()]);
    assert_eq!(ids(&germany, 1).await, vec![refund["id"].as_str().unwrap()]);
    assert_eq!(ids(&all, 3).await.len(), 3);

    // Removing a filter lets every event through again.
    let id = de["id"].as_str().unwrap();
    let cleared = s
        .expect(
            200,
            "PATCH",
            &format!("/v1/accounts/{a}/endpoints/{id}"),
            Some(&key),
            Some(json!({"filter": null})),
        )
        .await;
    assert!(cleared["filter"].is_null());
    let next = s
        .publish(
            &a,
            &key,
            json!({"type": "payment.completed", "data": {"amount": 1}}),
        )
        .await;
    assert_eq!(deliveries(next).await, 2, "germany (no filter now) and all");
});

both!(bad_filters_are_refused_naming_the_bad_part, |s| {
    let (a, key) = s.account("Acme").await;
    let base = format!("/v1/accounts/{a}/endpoints");
    let refused = |filter: serde_json::Value| {
        let body = json!({"url": "https://example.com/hooks", "filter": filter});
        let (base, key) = (base.clone(), key.clone());
        let s = &s;
        async move {
            let answer = s.expect(422, "POST", &base, Some(&key), Some(body)).await;
            assert_eq!(answer["error"]["code"], "validation_failed");
            answer["error"]["message"].as_str().unwrap().to_string()
        }
    };
    let message = refused(json!({"customer.country": "DE"})).await;
    assert!(
        message.contains("`customer.country`") && message.contains("data.customer.country"),
        "{message}"
    );
    let message = refused(json!({"data.amount": {"$gte": "10000"}})).await;
    assert!(
        message.contains("`data.amount.$gte`") && message.contains("number"),
        "{message}"
    );
    let message = refused(json!({"$or": [{"data.a": 1}, {"data.b": {"$regex": "x"}}]})).await;
    assert!(message.contains("`$or[1].data.b.$regex`"), "{message}");
    let message = refused(json!(["data.a"])).await;
    assert!(message.contains("object"), "{message}");
    let listed = s.expect(200, "GET", &base, Some(&key), None).await;
    assert_eq!(listed["data"], json!([]), "nothing was created");
});

both!(a_filter_can_be_tried_on_an_example_or_an_event, |s| {
    let (a, key) = s.account("Acme").await;
    let path = format!("/v1/accounts/{a}/filters/test");
    let on_example = s
        .expect(
            200,
            "POST",
            &path,
            Some(&key),
            Some(json!({"filter": {"data.currency": "USD"}, "event_type": "payment.completed"})),
        )
        .await;
    assert_eq!(on_example["matches"], true, "the example is in USD");
    assert_eq!(on_example["data"]["amount"], 4999);
    let event = s
        .publish(
            &a,
            &key,
            json!({"type": "payment.completed", "data": {"amount": 20000, "currency": "EUR"}}),
        )
        .await;
    let on_event = s
        .expect(
            200,
            "POST",
            &path,
            Some(&key),
            Some(json!({"filter": {"data.amount": {"$gte": 10000}, "data.currency": "EUR"}, "event_id": event["id"]})),
        )
        .await;
    assert_eq!(on_event["matches"], true);
    assert!(on_event["sample"]
        .as_str()
        .unwrap()
        .contains(event["id"].as_str().unwrap()));
    let miss = s
        .expect(
            200,
            "POST",
            &path,
            Some(&key),
            Some(json!({"filter": {"type": "refund.completed"}, "event_id": event["id"]})),
        )
        .await;
    assert_eq!(miss["matches"], false);
    s.expect(
        422,
        "POST",
        &path,
        Some(&key),
        Some(json!({"filter": {"amount": 1}})),
    )
    .await;
    // Another account can neither use this route nor try its filters on
    // this account's events.
    let (b, other_key) = s.account("Other").await;
    let trial = json!({"filter": {}, "event_id": event["id"]});
    s.expect(404, "POST", &path, Some(&other_key), Some(trial.clone()))
        .await;
    let theirs = format!("/v1/accounts/{b}/filters/test");
    s.expect(404, "POST", &theirs, Some(&other_key), Some(trial))
        .await;
});

both!(schemas_refuse_malformed_data_at_publish, |s| {
    let (a, key) = s.account("Acme").await;
    let path = format!("/v1/accounts/{a}/events");
    let refused = s
        .expect(
            422,
            "POST",
            &path,
            Some(&key),
            Some(
                json!({"type": "payment.completed", "data": {"amount": "lots", "currency": "EUR"}}),
            ),
        )
        .await;
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("`data.amount`") && message.contains("(rule `anyOf`)"),
        "{message}"
    );
    let refused = s
        .expect(
            422,
            "POST",
            &path,
            Some(&key),
            Some(json!({"type": "customer.created", "data": {"country": "Germany"}})),
        )
        .await;
    assert!(refused["error"]["message"]
        .as_str()
        .unwrap()
        .contains("`data.country`"));
    let listed = s.expect(200, "GET", &path, Some(&key), None).await;
    assert_eq!(listed["data"], json!([]), "nothing malformed was stored");

    // A registered type's schema is enforced too; an invalid one is refused.
    let types = "/v1/event-types";
    let bad = s
        .expect(
            422,
            "POST",
            types,
            Some(ADMIN),
            Some(json!({"name": "invoice.paid", "description": "x", "schema": {"type": "objekt"}})),
        )
        .await;
    assert!(bad["error"]["message"]
        .as_str()
        .unwrap()
        .contains("`schema`"));
    let mismatch = s
        .expect(
            422,
            "POST",
            types,
            Some(ADMIN),
            Some(json!({"name": "invoice.paid", "description": "x",
                "schema": {"type": "object", "required": ["invoice_id"]}, "example": {"total": 1}})),
        )
        .await;
    assert!(mismatch["error"]["message"]
        .as_str()
        .unwrap()
        .contains("`required`"));
    s.expect(
        201,
        "POST",
        types,
        Some(ADMIN),
        Some(json!({"name": "invoice.paid", "description": "An invoice was paid",
            "schema": {"type": "object", "required": ["invoice_id"],
                "properties": {"invoice_id": {"type": "string"}, "lines": {"type": "array", "items": {"type": "object", "properties": {"qty": {"type": "integer"}}}}}},
            "example": {"invoice_id": "inv_1"}})),
    )
    .await;
    let refused = s
        .expect(
            422,
            "POST",
            &path,
            Some(&key),
            Some(json!({"type": "invoice.paid", "data": {"invoice_id": "inv_2", "lines": [{"qty": 1}, {"qty": "two"}]}})),
        )
        .await;
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("`data.lines.1.qty`") && message.contains("(rule `type`)"),
        "{message}"
    );
    s.expect(
        422,
        "POST",
        &path,
        Some(&key),
        Some(json!({"type": "invoice.paid", "data": {"lines": []}})),
    )
    .await;
    s.publish(
        &a,
        &key,
        json!({"type": "invoice.paid", "data": {"invoice_id": "inv_3"}}),
    )
    .await;
});

both!(a_registered_types_schema_can_be_read_and_changed, |s| {
    let (a, key) = s.account("Acme").await;
    let path = format!("/v1/accounts/{a}/events");
    s.expect(
        201,
        "POST",
        "/v1/event-types",
        Some(ADMIN),
        Some(
            json!({"name": "invoice.paid", "description": "An invoice was paid",
            "schema": {"type": "object", "required": ["invoice_id"]},
            "example": {"invoice_id": "inv_1"}}),
        ),
    )
    .await;
    let one = s
        .expect(200, "GET", "/v1/event-types/invoice.paid", Some(&key), None)
        .await;
    assert_eq!(one["schema"]["required"], json!(["invoice_id"]));
    assert_eq!(one["example"]["invoice_id"], "inv_1");
    s.expect(404, "GET", "/v1/event-types/invoice.void", Some(&key), None)
        .await;

    let edit = "/v1/event-types/invoice.paid";
    let refused = s
        .expect(
            403,
            "PATCH",
            edit,
            Some(&key),
            Some(json!({"description": "mine"})),
        )
        .await;
    assert!(refused["error"]["message"]
        .as_str()
        .unwrap()
        .contains("admin token"));
    // The rules of registering: a valid schema, an example that passes it.
    let bad = s
        .expect(
            422,
            "PATCH",
            edit,
            Some(ADMIN),
            Some(json!({"schema": {"type": "objekt"}})),
        )
        .await;
    assert!(bad["error"]["message"]
        .as_str()
        .unwrap()
        .contains("`schema`"));
    let mismatch = s
        .expect(
            422,
            "PATCH",
            edit,
            Some(ADMIN),
            Some(json!({"schema": {"type": "object", "required": ["total"]}})),
        )
        .await;
    let message = mismatch["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("`example`") && message.contains("`required`"),
        "{message}"
    );
    s.expect(
        409,
        "PATCH",
        "/v1/event-types/payment.completed",
        Some(ADMIN),
        Some(json!({"description": "built in"})),
    )
    .await;
    s.expect(
        404,
        "PATCH",
        "/v1/event-types/invoice.void",
        Some(ADMIN),
        Some(json!({"description": "x"})),
    )
    .await;

    // A new schema and example: enforced at the next publish.
    let changed = s
        .expect(
            200,
            "PATCH",
            edit,
            Some(ADMIN),
            Some(json!({"schema": {"type": "object", "required": ["total"],
                "properties": {"total": {"type": "integer"}}}, "example": {"total": 100}})),
        )
        .await;
    assert_eq!(changed["example"], json!({"total": 100}));
    assert_eq!(changed["description"], "An invoice was paid");
    let refused = s
        .expect(
            422,
            "POST",
            &path,
            Some(&key),
            Some(json!({"type": "invoice.paid", "data": {"invoice_id": "inv_2"}})),
        )
        .await;
    assert!(refused["error"]["message"]
        .as_str()
        .unwrap()
        .contains("(rule `required`)"));
    s.publish(
        &a,
        &key,
        json!({"type": "invoice.paid", "data": {"total": 5}}),
    )
    .await;
    // `null` removes the schema.
    let open = s
        .expect(
            200,
            "PATCH",
            edit,
            Some(ADMIN),
            Some(json!({"schema": null})),
        )
        .await;
    assert!(open.get("schema").is_none());
    s.publish(
        &a,
        &key,
        json!({"type": "invoice.paid", "data": {"anything": true}}),
    )
    .await;
});
