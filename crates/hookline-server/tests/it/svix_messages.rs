//! Messages through the Svix-compatible API: delivered as Svix delivers
//! them (the payload as the body, `svix-*` headers), `eventId` conflicts,
//! lists filtered by channel, type and time, the attempt log in Svix's
//! shape, resends, statistics and the `idempotency-key` header.

use std::time::Duration;

use serde_json::{json, Value};

use super::svix::app;
use crate::both;
use crate::harness::*;

both!(messages_are_delivered_as_svix_does, |s| {
    let receiver = Receiver::start().await;
    let app_id = app(&s, "acme").await;
    // An endpoint's filter needs registered types.
    s.expect(
        201,
        "POST",
        "/api/v1/event-type",
        Some(ADMIN),
        Some(
            json!({"name": "invoice.paid", "description": "An invoice was paid",
                    "schemas": {"1": {"type": "object", "examples": [{"invoice": "in_1"}]}}}),
        ),
    )
    .await;
    let ep = s
        .expect(
            201,
            "POST",
            "/api/v1/app/acme/endpoint",
            Some(ADMIN),
            Some(json!({"url": receiver.url("/hook"), "filterTypes": ["invoice.paid"]})),
        )
        .await;
    let ep_id = ep["id"].as_str().unwrap().to_string();
    let registered = s
        .expect(
            200,
            "GET",
            "/api/v1/event-type/invoice.paid",
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(registered["schemas"]["1"]["type"], "object");
    let payload = r#"{"invoice":"in_1","amount":4999,"lines":[1,2]}"#;
    let response = s
        .http
        .post(format!("{}/api/v1/app/acme/msg", s.base))
        .bearer_auth(ADMIN)
        .header("content-type", "application/json")
        .body(format!(
            r#"{{"eventType":"invoice.paid","eventId":"order-1042","payload":{payload}}}"#
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let msg: Value = response.json().await.unwrap();
    assert_eq!(msg["eventId"], "order-1042");
    assert_eq!(msg["payload"]["amount"], 4999);
    let msg_id = msg["id"].as_str().unwrap().to_string();

    let got = receiver.wait_for(1).await.remove(0);
    assert_eq!(got.body.as_ref(), payload.as_bytes(), "the payload exactly");
    assert_eq!(got.header("svix-id").as_deref(), Some(msg_id.as_str()));
    assert_eq!(got.header("webhook-id").as_deref(), Some(msg_id.as_str()));
    assert_eq!(
        got.header("svix-signature"),
        got.header("webhook-signature")
    );
    assert_eq!(
        got.header("svix-timestamp"),
        got.header("webhook-timestamp")
    );
    let secret = s
        .expect(
            200,
            "GET",
            &format!("/api/v1/app/acme/endpoint/{ep_id}/secret"),
            Some(ADMIN),
            None,
        )
        .await;
    let key = hookline_verify::Secret::parse(secret["key"].as_str().unwrap()).unwrap();
    let headers = hookline_verify::Headers::from_fn(|name| got.header(name));
    hookline_verify::verify(&[key], &headers, &got.body, &Default::default())
        .expect("the signature verifies");

    // eventId is idempotent the Svix way: 409.
    let (status, body) = s
        .call(
            "POST",
            "/api/v1/app/acme/msg",
            Some(ADMIN),
            Some(json!({"eventType": "invoice.paid", "eventId": "order-1042", "payload": {}})),
        )
        .await;
    assert_eq!(
        (status.as_u16(), body["code"].as_str()),
        (409, Some("conflict"))
    );
    // By id or eventId; with_content=false drops the payload.
    for id in [msg_id.as_str(), "order-1042"] {
        let m = s
            .expect(
                200,
                "GET",
                &format!("/api/v1/app/acme/msg/{id}"),
                Some(ADMIN),
                None,
            )
            .await;
        assert_eq!(m["id"], msg_id.as_str());
    }
    let bare = s
        .expect(
            200,
            "GET",
            &format!("/api/v1/app/acme/msg/{msg_id}?with_content=false"),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(bare["payload"], json!({}));
    // It is an event like any other under /v1.
    let event = s
        .expect(
            200,
            "GET",
            &format!("/v1/accounts/{app_id}/events/{msg_id}"),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(event["type"], "invoice.paid");
    assert_eq!(event["data"]["invoice"], "in_1");

    // The attempt log in Svix's shape, by message and by endpoint.
    let attempts = eventually("the attempt is logged", Duration::from_secs(10), || async {
        let list = s
            .expect(
                200,
                "GET",
                &format!("/api/v1/app/acme/attempt/msg/{msg_id}"),
                Some(ADMIN),
                None,
            )
            .await;
        (!list["data"].as_array().unwrap().is_empty()).then_some(list)
    })
    .await;
    let a = &attempts["data"][0];
    assert_eq!(
        (a["status"].as_u64(), a["statusText"].as_str()),
        (Some(0), Some("success"))
    );
    assert_eq!(a["responseStatusCode"], 200);
    assert_eq!(
        (a["triggerType"].as_u64(), a["msgId"].as_str()),
        (Some(0), Some(msg_id.as_str()))
    );
    assert_eq!(a["endpointId"], ep_id.as_str());
    let one = s
        .expect(
            200,
            "GET",
            &format!(
                "/api/v1/app/acme/msg/{msg_id}/attempt/{}",
                a["id"].as_str().unwrap()
            ),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(one["id"], a["id"]);
    let failed = s
        .expect(
            200,
            "GET",
            &format!("/api/v1/app/acme/attempt/endpoint/{ep_id}?status=2"),
            Some(ADMIN),
            None,
        )
        .await;
    assert!(failed["data"].as_array().unwrap().is_empty());
    let with_msg = s
        .expect(
            200,
            "GET",
            &format!(
                "/api/v1/app/acme/attempt/endpoint/{ep_id}?with_msg=true&status_code_class=200"
            ),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(with_msg["data"][0]["msg"]["eventId"], "order-1042");
    let dest = s
        .expect(
            200,
            "GET",
            &format!("/api/v1/app/acme/msg/{msg_id}/endpoint"),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(dest["data"][0]["statusText"], "success");

    // Resend is a manual trigger.
    s.expect(
        202,
        "POST",
        &format!("/api/v1/app/acme/msg/{msg_id}/endpoint/{ep_id}/resend"),
        Some(ADMIN),
        None,
    )
    .await;
    receiver.wait_for(2).await;
    let manual = eventually("the resend is logged", Duration::from_secs(10), || async {
        let list = s
            .expect(
                200,
                "GET",
                &format!("/api/v1/app/acme/attempt/msg/{msg_id}"),
                Some(ADMIN),
                None,
            )
            .await;
        (list["data"].as_array().unwrap().len() == 2).then_some(list)
    })
    .await;
    assert_eq!(manual["data"][0]["triggerType"], 1);
    let stats = s
        .expect(
            200,
            "GET",
            &format!("/api/v1/app/acme/endpoint/{ep_id}/stats"),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(
        stats,
        json!({"success": 2, "pending": 0, "sending": 0, "fail": 0, "canceled": 0})
    );
});

both!(channels_types_and_times_filter_messages, |s| {
    let eu = Receiver::start().await;
    let all = Receiver::start().await;
    app(&s, "acme").await;
    for (url, channels) in [(eu.url("/"), json!(["eu"])), (all.url("/"), Value::Null)] {
        s.expect(
            201,
            "POST",
            "/api/v1/app/acme/endpoint",
            Some(ADMIN),
            Some(json!({"url": url, "channels": channels})),
        )
        .await;
    }
    for (t, channels) in [
        ("a.one", json!(["eu"])),
        ("b.two", json!(["us"])),
        ("a.one", Value::Null),
    ] {
        s.expect(
            202,
            "POST",
            "/api/v1/app/acme/msg",
            Some(ADMIN),
            Some(json!({"eventType": t, "payload": {"t": t}, "channels": channels})),
        )
        .await;
    }
    all.wait_for(3).await;
    eu.wait_for(1).await;
    let list = |query: &'static str| {
        let s = &s;
        async move {
            let page = s
                .expect(
                    200,
                    "GET",
                    &format!("/api/v1/app/acme/msg?{query}"),
                    Some(ADMIN),
                    None,
                )
                .await;
            page["data"].as_array().unwrap().len()
        }
    };
    assert_eq!(list("").await, 3);
    assert_eq!(list("channel=eu").await, 1);
    assert_eq!(list("event_types=a.one").await, 2);
    assert_eq!(list("event_types=a.one,b.two&limit=2").await, 2);
    assert_eq!(
        list("before=2000-01-01T00:00:00").await,
        0,
        "no offset means UTC"
    );
    assert_eq!(list("after=2000-01-01T00:00:00Z").await, 3);
    assert_eq!(
        eu.received().len(),
        1,
        "the eu endpoint only got the eu message"
    );
    let (status, body) = s
        .call(
            "GET",
            "/api/v1/app/acme/msg?before=yesterday",
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(status, 422, "{body}");
});

both!(idempotency_keys_replay_the_first_answer, |s| {
    app(&s, "acme").await;
    let send = |key: &'static str, event_id: &'static str| {
        let s = &s;
        async move {
            let response = s
                .http
                .post(format!("{}/api/v1/app/acme/msg", s.base))
                .bearer_auth(ADMIN)
                .header("idempotency-key", key)
                .json(&json!({"eventType": "x.y", "eventId": event_id, "payload": {}}))
                .send()
                .await
                .unwrap();
            let replayed = response.headers().contains_key("idempotent-replayed");
            (
                response.status().as_u16(),
                replayed,
                response.json::<Value>().await.unwrap(),
            )
        }
    };
    let (status, replayed, first) = send("k-1", "e-1").await;
    assert_eq!((status, replayed), (202, false));
    // The same key again: the same answer, and no second message (no 409).
    let (status, replayed, again) = send("k-1", "e-1").await;
    assert_eq!((status, replayed), (202, true));
    assert_eq!(again, first);
    let (status, _, _) = send("k-2", "e-1").await;
    assert_eq!(status, 409, "a new key is a new request");
    let list = s
        .expect(200, "GET", "/api/v1/app/acme/msg", Some(ADMIN), None)
        .await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
});
