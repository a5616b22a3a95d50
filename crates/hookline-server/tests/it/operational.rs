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

/// `acct_platform` is no merchant account: left out of the account list,
/// not addressable as one, read-only under `/v1/accounts/acct_platform`;
/// an operational endpoint can be tested with an operational example.
async fn the_platform_account_is_no_merchants(backend: Backend) {
    let Some(s) = TestServer::start(backend).await else {
        return;
    };
    let ops = Receiver::start().await;
    let (a, key) = s.account("Acme").await;
    let reserved = s
        .expect(
            422,
            "POST",
            "/v1/accounts",
            Some(ADMIN),
            Some(json!({"name": "Impostor", "id": "acct_platform"})),
        )
        .await;
    assert!(reserved["error"]["message"]
        .as_str()
        .unwrap()
        .contains("reserved"));
    let op = s
        .expect(
            201,
            "POST",
            "/v1/operational-endpoints",
            Some(ADMIN),
            Some(json!({"url": ops.url("/ops")})),
        )
        .await;
    let op_id = op["id"].as_str().unwrap();
    let accounts = s
        .expect(200, "GET", "/v1/accounts", Some(ADMIN), None)
        .await;
    let ids: Vec<&str> = accounts["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [a.as_str()], "only merchants are listed");
    for (method, path) in [
        ("GET", "/v1/accounts/acct_platform"),
        ("PATCH", "/v1/accounts/acct_platform"),
        ("DELETE", "/v1/accounts/acct_platform"),
        ("GET", "/v1/accounts/acct_platform/signing-secret"),
        ("POST", "/v1/accounts/acct_platform/api-keys"),
    ] {
        let body = (method == "PATCH").then(|| json!({"name": "x"}));
        s.expect(404, method, path, Some(ADMIN), body).await;
    }
    // Read-only for the admin, out of reach for a merchant's key.
    let changes = [
        (
            "POST",
            "/v1/accounts/acct_platform/endpoints",
            json!({"url": ops.url("/sneaky")}),
        ),
        (
            "POST",
            "/v1/accounts/acct_platform/events",
            json!({"type": "endpoint.failing", "data": {}}),
        ),
        (
            "POST",
            "/v1/accounts/acct_platform/portal-sessions",
            json!({}),
        ),
    ];
    for (method, path, body) in changes {
        let refused = s
            .expect(403, method, path, Some(ADMIN), Some(body.clone()))
            .await;
        assert!(
            refused["error"]["message"]
                .as_str()
                .unwrap()
                .contains("/v1/operational-endpoints"),
            "{refused}"
        );
        s.expect(404, method, path, Some(&key), Some(body)).await;
    }
    s.expect(
        200,
        "GET",
        "/v1/accounts/acct_platform/endpoints",
        Some(ADMIN),
        None,
    )
    .await;
    s.expect(
        404,
        "GET",
        "/v1/accounts/acct_platform/events",
        Some(&key),
        None,
    )
    .await;

    // Tested with an example of an operational type, signed with its secret.
    let path = format!("/v1/operational-endpoints/{op_id}/test");
    let bad = s
        .expect(
            422,
            "POST",
            &path,
            Some(ADMIN),
            Some(json!({"event_type": "payment.completed"})),
        )
        .await;
    assert!(bad["error"]["message"]
        .as_str()
        .unwrap()
        .contains("endpoint.recovered"));
    s.expect(403, "POST", &path, Some(&key), Some(json!({})))
        .await;
    s.expect(
        404,
        "POST",
        "/v1/operational-endpoints/ep_nope/test",
        Some(ADMIN),
        Some(json!({})),
    )
    .await;
    let sent = s
        .expect(
            202,
            "POST",
            &path,
            Some(ADMIN),
            Some(json!({"event_type": "delivery.exhausted"})),
        )
        .await;
    assert_eq!(sent["account_id"], "acct_platform");
    let got = ops.wait_for(1).await;
    let body = got[0].json();
    assert_eq!(body["type"], "delivery.exhausted");
    assert!(body["data"]["last_error"].is_object());
    let headers = hookline_verify::Headers::from_fn(|name| got[0].header(name));
    assert!(hookline_verify::verify(
        &[hookline_verify::Secret::parse(op["secret"].as_str().unwrap()).unwrap()],
        &headers,
        &got[0].body,
        &hookline_verify::Options::default()
    )
    .is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn platform_account_sqlite() {
    the_platform_account_is_no_merchants(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn platform_account_postgres() {
    the_platform_account_is_no_merchants(Backend::Postgres).await;
}
