//! What the outside audit found, kept as tests: SSRF forms refused at
//! creation, URL and custom header rules, trailing data after JSON,
//! idempotency on JSON values, and a fixed retry schedule used to its end.

use std::time::Duration;

use serde_json::{json, Value};

use crate::both;
use crate::harness::{each_backend, eventually, Options, Receiver, Reply, ADMIN};

/// The audit's SSRF forms: each was accepted and then connected to.
const SSRF_URLS: &[&str] = &[
    "http://[::127.0.0.1]/",
    "http://[::ffff:0:7f00:1]/",
    "http://[2002:7f00:1::]/",
    "http://198.18.0.1/",
    "http://[fec0::1]/",
    "http://168.63.129.16/",
    "http://[64:ff9b::a9fe:a9fe]/latest/meta-data",
    "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",
    "http://[::ffff:169.254.169.254]/",
    "http://0x7f.1/",
    "http://2130706433/",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssrf_forms_are_refused_at_creation() {
    let options = Options {
        allow_private_networks: Some(false),
        ..Default::default()
    };
    for s in each_backend(options).await {
        let (a, key) = s.account("Acme").await;
        for url in SSRF_URLS {
            let endpoint = s
                .expect(
                    422,
                    "POST",
                    &format!("/v1/accounts/{a}/endpoints"),
                    Some(&key),
                    Some(json!({"url": url})),
                )
                .await;
            let message = endpoint["error"]["message"].as_str().unwrap();
            assert!(
                message.contains("HOOKLINE_ALLOW_PRIVATE_NETWORKS"),
                "{url}: {message}"
            );
            let event = s
                .expect(
                    422,
                    "POST",
                    &format!("/v1/accounts/{a}/events"),
                    Some(&key),
                    Some(json!({"type": "payment.completed", "data": {}, "webhook_url": url})),
                )
                .await;
            assert_eq!(event["error"]["code"], "validation_failed", "{url}");
        }
        s.endpoint(&a, &key, "https://[2606:4700::1111]/hook", json!({}))
            .await;
    }
}

both!(urls_are_validated_and_stored_normalised, |s| {
    let (a, key) = s.account("Acme").await;
    let path = format!("/v1/accounts/{a}/endpoints");
    let long_label = format!("https://{}.example.com/", "a".repeat(300));
    let label_64 = format!("https://{}.example.com/", "b".repeat(64));
    let huge = format!("https://example.com/{}", "a".repeat(100_000));
    let cases = [
        ("https://example.com/a\r\nX-Injected: 1", "control"),
        ("https://example.com/a b", "a space"),
        ("https://example.com:0/", "port 0"),
        (long_label.as_str(), "not a valid host name"),
        (label_64.as_str(), "longer than 63"),
        (huge.as_str(), "the limit is 2048"),
    ];
    for (url, hint) in cases {
        let err = s
            .expect(422, "POST", &path, Some(&key), Some(json!({"url": url})))
            .await;
        let message = err["error"]["message"].as_str().unwrap();
        assert!(message.contains(hint), "{url:.60}: {message}");
    }
    let created = s
        .endpoint(&a, &key, "HTTPS://Example.COM:443/a/../hook?x=1", json!({}))
        .await;
    assert_eq!(created["url"], "https://example.com/hook?x=1");
    let id = created["id"].as_str().unwrap();
    let updated = s
        .expect(
            200,
            "PATCH",
            &format!("{path}/{id}"),
            Some(&key),
            Some(json!({"url": "http://Example.com:80"})),
        )
        .await;
    assert_eq!(updated["url"], "http://example.com/");
});

both!(custom_header_rules_are_enforced, |s| {
    let (a, key) = s.account("Acme").await;
    let path = format!("/v1/accounts/{a}/endpoints");
    for name in [
        "Proxy-Authorization",
        "Upgrade",
        "TE",
        "Keep-Alive",
        "Trailer",
        "Expect",
        "Connection",
        "Transfer-Encoding",
        "Host",
    ] {
        let body = json!({"url": "https://example.com/", "headers": {name: "x"}});
        let err = s.expect(422, "POST", &path, Some(&key), Some(body)).await;
        let message = err["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(name) && message.contains("cannot be"),
            "{name}: {message}"
        );
    }
    let many: serde_json::Map<String, Value> =
        (0..5000).map(|i| (format!("x-h{i}"), json!("v"))).collect();
    let err = s
        .expect(
            422,
            "POST",
            &path,
            Some(&key),
            Some(json!({"url": "https://example.com/", "headers": many})),
        )
        .await;
    assert!(err["error"]["message"]
        .as_str()
        .unwrap()
        .contains("at most 20"));
    let err = s
        .expect(
            422,
            "POST",
            &path,
            Some(&key),
            Some(json!({"url": "https://example.com/", "headers": {"x-big": "v".repeat(100_000)}})),
        )
        .await;
    assert!(err["error"]["message"]
        .as_str()
        .unwrap()
        .contains("at most 4096"));
    let ok = s
        .endpoint(
            &a,
            &key,
            "https://example.com/",
            json!({"headers": {"X-Tenant": "acme", "Authorization": "Bearer t"}}),
        )
        .await;
    assert_eq!(ok["headers"]["x-tenant"], "acme");
});

both!(trailing_data_after_json_is_refused_on_every_post, |s| {
    let (a, key) = s.account("Acme").await;
    let endpoint = s
        .endpoint(&a, &key, "https://example.com/", json!({}))
        .await;
    let e = endpoint["id"].as_str().unwrap();
    let event = s
        .publish(&a, &key, json!({"type": "payment.completed", "data": {}}))
        .await;
    let v = event["id"].as_str().unwrap();
    let cases = [
        (
            "POST",
            "/v1/accounts".to_string(),
            ADMIN,
            r#"{"name": "B"} x"#,
        ),
        (
            "PATCH",
            format!("/v1/accounts/{a}"),
            ADMIN,
            r#"{"name": "B"}}"#,
        ),
        (
            "POST",
            "/v1/event-types".into(),
            ADMIN,
            r#"{"name": "a.b"} {}"#,
        ),
        (
            "POST",
            format!("/v1/accounts/{a}/endpoints"),
            &key,
            r#"{"url": "https://example.com/"} x"#,
        ),
        (
            "PATCH",
            format!("/v1/accounts/{a}/endpoints/{e}"),
            &key,
            r#"{"description": "d"}]"#,
        ),
        (
            "POST",
            format!("/v1/accounts/{a}/endpoints/{e}/secret/rotate"),
            &key,
            "{} x",
        ),
        (
            "POST",
            format!("/v1/accounts/{a}/endpoints/{e}/test"),
            &key,
            "{} 1",
        ),
        (
            "POST",
            format!("/v1/accounts/{a}/endpoints/{e}/recover"),
            &key,
            r#"{"since": "2026-01-01T00:00:00Z"} x"#,
        ),
        (
            "POST",
            format!("/v1/accounts/{a}/events"),
            &key,
            r#"{"type": "payment.completed", "data": {}} x"#,
        ),
        (
            "POST",
            format!("/v1/accounts/{a}/events/{v}/resend"),
            &key,
            "{}{}",
        ),
    ];
    for (method, path, token, body) in cases {
        let response = s
            .http
            .request(method.parse().unwrap(), format!("{}{path}", s.base))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 400, "{method} {path} {body}");
        let err: Value = response.json().await.unwrap();
        assert_eq!(err["error"]["code"], "malformed_json", "{method} {path}");
    }
});

both!(idempotency_compares_json_values, |s| {
    let (a, key) = s.account("Acme").await;
    let path = format!("/v1/accounts/{a}/events");
    let send = |body: &'static str| {
        s.http
            .post(format!("{}{path}", s.base))
            .bearer_auth(&key)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let first = send(r#"{"id": "evt_same", "type": "payment.completed", "data": {"amount": 100, "currency": "USD", "meta": {"a": 1, "b": [1, 2]}}}"#)
        .await
        .unwrap();
    assert_eq!(first.status().as_u16(), 202);
    let reordered = send(r#"{"data": {"meta": {"b": [1,2], "a": 1}, "currency":"USD","amount":100}, "type": "payment.completed", "id": "evt_same"}"#)
        .await
        .unwrap();
    assert_eq!(reordered.status().as_u16(), 200, "same values, other order");
    let changed = send(r#"{"id": "evt_same", "type": "payment.completed", "data": {"amount": 100, "currency": "USD", "meta": {"a": 1, "b": [2, 1]}}}"#)
        .await
        .unwrap();
    assert_eq!(
        changed.status().as_u16(),
        409,
        "another value is a conflict"
    );
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixed_schedule_makes_every_attempt_even_when_attempts_time_out() {
    let options = Options {
        retry_schedule: Some("100ms,100ms,100ms".into()),
        request_timeout: Some("300ms".into()),
        ..Default::default()
    };
    for s in each_backend(options).await {
        let receiver = Receiver::start().await;
        receiver.set_default(Reply::delayed(200, Duration::from_secs(3)));
        let (a, key) = s.account("Acme").await;
        s.endpoint(&a, &key, &receiver.url("/slow"), json!({}))
            .await;
        let event = s
            .publish(&a, &key, json!({"type": "payment.completed", "data": {}}))
            .await;
        let id = event["id"].as_str().unwrap().to_string();
        let delivery = eventually("the delivery fails", Duration::from_secs(20), || {
            let (s, a, key, id) = (&s, &a, &key, &id);
            async move {
                let event = s.event(a, key, id).await;
                let d = event["deliveries"][0].clone();
                (d["status"] == "failed").then_some(d)
            }
        })
        .await;
        assert_eq!(delivery["attempts"], 4, "{delivery}");
        assert_eq!(receiver.received().len(), 4);
    }
}

both!(
    the_openapi_document_declares_every_status_and_parameter,
    |s| {
        let doc = s.expect(200, "GET", "/openapi.json", None, None).await;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let params = op["parameters"].as_array().cloned().unwrap_or_default();
                for name in path
                    .split('/')
                    .filter_map(|p| p.strip_prefix('{')?.strip_suffix('}'))
                {
                    assert!(
                        params
                            .iter()
                            .any(|p| p["name"] == name && p["in"] == "path"),
                        "{method} {path} does not declare {name}"
                    );
                }
                for p in &params {
                    if ["limit", "cursor", "type", "status"].contains(&p["name"].as_str().unwrap())
                    {
                        assert_eq!(p["in"], "query", "{method} {path}: {p}");
                    }
                }
                let responses = op["responses"].as_object().unwrap();
                assert!(responses.contains_key("503"), "{method} {path}");
                if op["security"] != json!([{}]) {
                    assert!(responses.contains_key("401"), "{method} {path}");
                }
                if op.get("requestBody").is_some() {
                    for status in ["400", "413", "422"] {
                        assert!(responses.contains_key(status), "{method} {path} {status}");
                    }
                }
            }
        }
    }
);
