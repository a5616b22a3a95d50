//! Operational webhooks end to end: the platform's operational endpoints
//! get signed `endpoint.failing`, `delivery.exhausted`, `endpoint.recovered`
//! and `endpoint.disabled` about merchants' endpoints, delivered and logged
//! by the same engine, and never about their own deliveries.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::{eventually, Backend, Options, Receiver, Reply, TestServer, ADMIN};

fn types_of(received: &[crate::harness::Received]) -> BTreeSet<String> {
    received
        .iter()
        .map(|r| r.json()["type"].as_str().unwrap().to_string())
        .collect()
}

fn find(received: &[crate::harness::Received], event_type: &str) -> Value {
    received
        .iter()
        .map(|r| r.json())
        .find(|b| b["type"] == event_type)
        .unwrap_or_else(|| panic!("no {event_type}"))
}

async fn operational_endpoints_hear_about_merchant_endpoints(backend: Backend) {
    let options = Options {
        retry_schedule: Some("50ms,50ms,50ms".into()),
        serve: hookline_server::ServeArgs {
            operational_failing_after: Some(2),
            ..Default::default()
        },
        ..Options::default()
    };
    let Some(s) = TestServer::start_with(backend, options).await else {
        return;
    };
    let ops = Receiver::start().await;
    // An operational endpoint that always fails: its failures must never
    // produce operational events of their own.
    let broken_ops = Receiver::start().await;
    broken_ops.set_default(Reply::status(500));
    let (a, key) = s.account("Acme").await;
    s.expect(403, "GET", "/v1/operational-endpoints", Some(&key), None)
        .await;
    let empty = s
        .expect(200, "GET", "/v1/operational-endpoints", Some(ADMIN), None)
        .await;
    assert_eq!(empty["data"], json!([]));
    let bad = s
        .expect(
            422,
            "POST",
            "/v1/operational-endpoints",
            Some(ADMIN),
            Some(json!({"url": ops.url("/ops"), "event_types": ["payment.completed"]})),
        )
        .await;
    assert!(bad["error"]["message"]
        .as_str()
        .unwrap()
        .contains("endpoint.failing"));
    let op = s
        .expect(
            201,
            "POST",
            "/v1/operational-endpoints",
            Some(ADMIN),
            Some(json!({"url": ops.url("/ops")})),
        )
        .await;
    let op_secret = op["secret"].as_str().unwrap().to_string();
    let op_id = op["id"].as_str().unwrap().to_string();
    s.expect(
        201,
        "POST",
        "/v1/operational-endpoints",
        Some(ADMIN),
        Some(json!({"url": broken_ops.url("/ops"), "event_types": ["delivery.exhausted"]})),
    )
    .await;

    let merchant = Receiver::start().await;
    merchant.script((0..4).map(|_| Reply::status(500).with_body("database down")));
    let ep = s
        .endpoint(&a, &key, &merchant.url("/hooks"), json!({}))
        .await;
    let ep_id = ep["id"].as_str().unwrap().to_string();
    s.publish(&a, &key, json!({"type": "payment.completed", "data": {}}))
        .await;
    let got = eventually("failing and exhausted", Duration::from_secs(30), || async {
        let got = ops.received();
        let types = types_of(&got);
        (types.contains("endpoint.failing") && types.contains("delivery.exhausted")).then_some(got)
    })
    .await;
    let failing = find(&got, "endpoint.failing");
    assert_eq!(failing["account_id"], "acct_platform");
    assert_eq!(failing["data"]["account_id"], a.as_str());
    assert_eq!(failing["data"]["endpoint_id"], ep_id.as_str());
    assert_eq!(failing["data"]["consecutive_failures"], 2);
    assert_eq!(failing["data"]["last_error"]["status_code"], 500);
    let exhausted = find(&got, "delivery.exhausted");
    assert_eq!(
        exhausted["data"]["attempts"].as_u64().unwrap() as usize,
        merchant.received().len(),
        "every attempt of the event failed"
    );
    assert_eq!(exhausted["data"]["last_error"]["outcome"], "http_error");
    // Signed with the operational endpoint's own secret.
    let request = &got[0];
    let headers = hookline_verify::Headers::from_fn(|name| request.header(name));
    assert!(hookline_verify::verify(
        &[hookline_verify::Secret::parse(&op_secret).unwrap()],
        &headers,
        &request.body,
        &hookline_verify::Options::default()
    )
    .is_ok());

    // The endpoint answers again: recovered.
    s.publish(&a, &key, json!({"type": "payment.completed", "data": {}}))
        .await;
    let got = eventually("recovered", Duration::from_secs(30), || async {
        let got = ops.received();
        types_of(&got).contains("endpoint.recovered").then_some(got)
    })
    .await;
    let recovered = find(&got, "endpoint.recovered");
    assert_eq!(recovered["data"]["endpoint_id"], ep_id.as_str());
    assert_eq!(recovered["data"]["last_error"]["status_code"], 500);

    // 410 Gone disables the endpoint: disabled, with the reason.
    merchant.script([Reply::status(410)]);
    s.publish(&a, &key, json!({"type": "payment.completed", "data": {}}))
        .await;
    let got = eventually("disabled", Duration::from_secs(30), || async {
        let got = ops.received();
        types_of(&got).contains("endpoint.disabled").then_some(got)
    })
    .await;
    let disabled = find(&got, "endpoint.disabled");
    assert!(disabled["data"]["reason"].as_str().unwrap().contains("410"));
    assert_eq!(
        got.iter()
            .filter(|r| r.json()["type"] == "endpoint.failing")
            .count(),
        1,
        "failing once per run"
    );

    // The broken operational endpoint was tried (with retries, logged) but
    // its own failures told nobody.
    eventually(
        "the broken endpoint's retries",
        Duration::from_secs(30),
        || async { (broken_ops.received().len() >= 4).then_some(()) },
    )
    .await;
    let attempts = s
        .expect(
            200,
            "GET",
            &format!("/v1/operational-endpoints/{op_id}/attempts"),
            Some(ADMIN),
            None,
        )
        .await;
    assert!(!attempts["data"].as_array().unwrap().is_empty());
    let events = s
        .expect(
            200,
            "GET",
            "/v1/accounts/acct_platform/events?limit=250",
            Some(ADMIN),
            None,
        )
        .await;
    for event in events["data"].as_array().unwrap() {
        let detail = s
            .event("acct_platform", ADMIN, event["id"].as_str().unwrap())
            .await;
        assert_eq!(
            detail["data"]["account_id"],
            a.as_str(),
            "only merchants' endpoints are reported: {detail}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operational_webhooks_sqlite() {
    operational_endpoints_hear_about_merchant_endpoints(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operational_webhooks_postgres() {
    operational_endpoints_hear_about_merchant_endpoints(Backend::Postgres).await;
}
