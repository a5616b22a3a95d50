//! Signatures and what is signed: Standard Webhooks headers checked
//! independently and by the official libraries, rotation with two secrets,
//! thin payloads, per-event URLs with basic auth and the account secret.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};

use super::{attempts, signature_valid, wait_event};
use crate::both;
use crate::harness::{Backend, Receiver, Reply, TestServer};

both!(deliveries_are_signed_and_logged, |s| {
    let receiver = Receiver::start().await;
    receiver.set_default(Reply::status(200).with_body("thanks"));
    let (a, key) = s.account("Acme").await;
    let ep = s
        .endpoint(
            &a,
            &key,
            &receiver.url("/hooks"),
            json!({"headers": {"X-Merchant": "m-42"}}),
        )
        .await;
    let secret = ep["secret"].as_str().unwrap();
    let event = s
        .publish(
            &a,
            &key,
            json!({"type": "payment.completed", "data": {"amount": 4999, "currency": "EUR"}}),
        )
        .await;
    let id = event["id"].as_str().unwrap();

    let got = receiver.wait_for(1).await;
    let request = &got[0];
    assert_eq!(request.path, "/hooks");
    assert_eq!(request.header("webhook-id").as_deref(), Some(id));
    assert_eq!(
        request.header("content-type").as_deref(),
        Some("application/json")
    );
    assert!(request
        .header("user-agent")
        .unwrap()
        .starts_with("hookline/"));
    assert_eq!(request.header("x-merchant").as_deref(), Some("m-42"));
    let timestamp = request.header("webhook-timestamp").unwrap();
    let signature = request.header("webhook-signature").unwrap();
    assert_eq!(
        request.header("x-signature").as_deref(),
        Some(signature.as_str())
    );
    assert!(
        signature_valid(secret, id, &timestamp, &request.body, &signature),
        "signature verifies"
    );
    assert!(!signature_valid(
        secret,
        id,
        &timestamp,
        b"{\"tampered\":1}",
        &signature
    ));
    let body = request.json();
    assert_eq!(body["id"], id);
    assert_eq!(body["type"], "payment.completed");
    assert_eq!(body["account_id"], a.as_str());
    assert_eq!(body["data"], json!({"amount": 4999, "currency": "EUR"}));
    assert_eq!(body["created_at"], event["created_at"]);

    let done = wait_event(&s, &a, &key, id, "delivery succeeded", |e| {
        e["deliveries"][0]["status"] == "succeeded"
    })
    .await;
    assert_eq!(done["deliveries"][0]["attempts"], 1);
    assert_eq!(done["deliveries"][0]["last_status_code"], 200);
    assert_eq!(done["deliveries"][0]["endpoint_id"], ep["id"]);
    let log = attempts(&s, &a, &key, id).await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["status_code"], 200);
    assert_eq!(log[0]["attempt"], 1);
    assert_eq!(log[0]["response_body"], "thanks");
    assert!(log[0]["error"].is_null());
    let by_endpoint = s
        .expect(
            200,
            "GET",
            &format!(
                "/v1/accounts/{a}/endpoints/{}/attempts",
                ep["id"].as_str().unwrap()
            ),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(by_endpoint["data"][0]["id"], log[0]["id"]);
});

both!(thin_payloads_leave_out_data, |s| {
    let receiver = Receiver::start().await;
    let (a, key) = s.account("Acme").await;
    s.endpoint(&a, &key, &receiver.url("/thin"), json!({"payload": "thin"}))
        .await;
    let event = s
        .publish(
            &a,
            &key,
            json!({"type": "customer.updated", "data": {"email": "a@b.c"}}),
        )
        .await;
    let body = receiver.wait_for(1).await[0].json();
    assert_eq!(body["id"], event["id"]);
    assert_eq!(body["type"], "customer.updated");
    assert!(body.get("data").is_none());
    let fetched = s.event(&a, &key, event["id"].as_str().unwrap()).await;
    assert_eq!(fetched["data"]["email"], "a@b.c");
});

both!(per_event_urls_get_basic_auth_and_the_account_secret, |s| {
    let receiver = Receiver::start().await;
    let other = Receiver::start().await;
    let (a, key) = s.account("Acme").await;
    s.endpoint(&a, &key, &other.url("/"), json!({})).await;
    let url = format!("http://invoice:p%40ss@{}/invoices/42", receiver.addr);
    let event = s
        .publish(
            &a,
            &key,
            json!({"type": "payment.completed", "data": {"invoice": 42}, "webhook_url": url}),
        )
        .await;
    assert_eq!(
        event["webhook_url"],
        format!("http://invoice:****@{}/invoices/42", receiver.addr)
    );
    let request = receiver.wait_for(1).await.remove(0);
    assert_eq!(request.path, "/invoices/42");
    assert_eq!(
        request.header("authorization"),
        Some(format!("Basic {}", STANDARD.encode("invoice:p@ss")))
    );
    let secret = s
        .expect(
            200,
            "GET",
            &format!("/v1/accounts/{a}/signing-secret"),
            Some(&key),
            None,
        )
        .await;
    let ok = signature_valid(
        secret["secret"].as_str().unwrap(),
        event["id"].as_str().unwrap(),
        &request.header("webhook-timestamp").unwrap(),
        &request.body,
        &request.header("webhook-signature").unwrap(),
    );
    assert!(ok, "signed with the account's signing secret");
    let id = event["id"].as_str().unwrap();
    let done = wait_event(&s, &a, &key, id, "done", |e| e["status"] == "succeeded").await;
    assert_eq!(
        done["deliveries"].as_array().unwrap().len(),
        1,
        "instead of the endpoints"
    );
    assert!(done["deliveries"][0]["endpoint_id"].is_null());
    let everything = format!("{done}{}", Value::Array(attempts(&s, &a, &key, id).await));
    assert!(
        !everything.contains("p%40ss") && !everything.contains("p@ss"),
        "the password never shows"
    );
    assert!(other.received().is_empty());
});

both!(rotation_signs_with_both_secrets, |s| {
    let receiver = Receiver::start().await;
    let (a, key) = s.account("Acme").await;
    let ep = s.endpoint(&a, &key, &receiver.url("/"), json!({})).await;
    let old = ep["secret"].as_str().unwrap().to_string();
    let new = s
        .expect(
            200,
            "POST",
            &format!(
                "/v1/accounts/{a}/endpoints/{}/secret/rotate",
                ep["id"].as_str().unwrap()
            ),
            Some(&key),
            Some(json!({})),
        )
        .await;
    let new = new["secret"].as_str().unwrap().to_string();
    let event = s
        .publish(&a, &key, json!({"type": "payment.completed", "data": {}}))
        .await;
    let r = receiver.wait_for(1).await.remove(0);
    let sig = r.header("webhook-signature").unwrap();
    assert_eq!(sig.split(' ').count(), 2, "two signatures: {sig}");
    let ts = r.header("webhook-timestamp").unwrap();
    let id = event["id"].as_str().unwrap();
    assert!(signature_valid(&old, id, &ts, &r.body, &sig));
    assert!(signature_valid(&new, id, &ts, &r.body, &sig));
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_libraries_verify_a_real_delivery_during_rotation() {
    let s = TestServer::start(Backend::Sqlite).await.unwrap();
    let receiver = Receiver::start().await;
    let (a, key) = s.account("Acme").await;
    let ep = s.endpoint(&a, &key, &receiver.url("/"), json!({})).await;
    let old = ep["secret"].as_str().unwrap().to_string();
    let rotated = s
        .expect(
            200,
            "POST",
            &format!(
                "/v1/accounts/{a}/endpoints/{}/secret/rotate",
                ep["id"].as_str().unwrap()
            ),
            Some(&key),
            Some(json!({})),
        )
        .await;
    let new = rotated["secret"].as_str().unwrap().to_string();
    s.publish(
        &a,
        &key,
        json!({"type": "payment.confirmed", "data": {"tx_hash": "0xabc", "confirmations": 6}}),
    )
    .await;
    let r = receiver.wait_for(1).await.remove(0);
    let dir = tempfile::tempdir().unwrap();
    let body_file = dir.path().join("body.json");
    std::fs::write(&body_file, &r.body).unwrap();
    let interop =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../hookline-verify/tests/interop");
    for secret in [&old, &new] {
        for (program, script) in [("python3", "interop.py"), ("node", "interop.js")] {
            let out = std::process::Command::new(program)
                .arg(interop.join(script))
                .args([
                    "verify",
                    secret,
                    &r.header("webhook-id").unwrap(),
                    &r.header("webhook-timestamp").unwrap(),
                    &r.header("webhook-signature").unwrap(),
                ])
                .arg(&body_file)
                .output()
                .expect("python3 and node run (see .ci/run for the packages)");
            assert!(
                out.status.success(),
                "{program} official library: {}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
    }
}
