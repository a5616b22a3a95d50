//! What the outside audit found, kept as tests: SSRF forms refused at
//! creation, URL and custom header rules, trailing data after JSON,
//! idempotency on JSON values, and a fixed retry schedule used to its end.

use std::time::Duration;

use serde_json::{json, Value};

use hookline_server::{Role, ServeArgs};

use crate::both;
use crate::harness::{each_backend, eventually, Options, Receiver, Reply, ADMIN};

/// URL forms of the audit that are not plain literals (the table below
/// holds those): each was accepted and then connected to.
const SSRF_URLS: &[&str] = &[
    "http://[64:ff9b::a9fe:a9fe]/latest/meta-data",
    "http://0x7f.1/",
    "http://2130706433/",
    "http://0177.0.0.1/",
    "http://localhost./",
    "http://a.b.localhost/",
];

/// hookline-core's SSRF table: (literal URL, `None` when globally reachable,
/// else a part of the reason).
fn ssrf_table() -> Vec<(String, Option<&'static str>)> {
    include_str!("../../../hookline-core/src/net/ssrf_table.txt")
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|line| {
            let (address, expected) = line.split_once('\t').expect("address TAB expectation");
            let url = if address.contains(':') {
                format!("http://[{address}]/hook")
            } else {
                format!("http://{address}/hook")
            };
            (url, (expected != "global").then_some(expected))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ssrf_table_holds_at_creation() {
    let options = Options {
        allow_private_networks: Some(false),
        // Stores endpoints on public addresses and never delivers to them.
        serve: ServeArgs {
            role: Some(Role::Api),
            ..Default::default()
        },
        ..Default::default()
    };
    for s in each_backend(options).await {
        let (a, key) = s.account("Acme").await;
        let table = ssrf_table();
        assert!(table.len() > 80, "the table is read whole");
        let cases = table
            .iter()
            .map(|(url, why)| (url.as_str(), *why))
            .chain(SSRF_URLS.iter().map(|url| (*url, Some("refused"))));
        for (url, refused) in cases {
            let Some(why) = refused else {
                s.endpoint(&a, &key, url, json!({})).await;
                continue;
            };
            for (path, body) in [
                (format!("/v1/accounts/{a}/endpoints"), json!({"url": url})),
                (
                    format!("/v1/accounts/{a}/events"),
                    json!({"type": "payment.completed", "data": {}, "webhook_url": url}),
                ),
                ("/v1/operational-endpoints".to_string(), json!({"url": url})),
            ] {
                let token = if path.starts_with("/v1/operational") {
                    ADMIN
                } else {
                    &key
                };
                let err = s.expect(422, "POST", &path, Some(token), Some(body)).await;
                let message = err["error"]["message"].as_str().unwrap();
                assert!(
                    message.contains("HOOKLINE_ALLOW_PRIVATE_NETWORKS")
                        && (why == "refused" || message.contains(why)),
                    "{path} {url}: {message}"
                );
            }
        }
        // A stored endpoint cannot be moved onto a refused address either.
        let endpoint = s
            .endpoint(&a, &key, "https://[2606:4700::1111]/hook", json!({}))
            .await;
        let id = endpoint["id"].as_str().unwrap();
        s.expect(
            422,
            "PATCH",
            &format!("/v1/accounts/{a}/endpoints/{id}"),
            Some(&key),
            Some(json!({"url": "http://[::ffff:0:7f00:1]/"})),
        )
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

both!(trailing_data_after_json_is_refused_on_every_body, |s| {
    let (a, key) = s.account("Acme").await;
    let endpoint = s
        .endpoint(&a, &key, "https://example.com/", json!({}))
        .await;
    let e = endpoint["id"].as_str().unwrap().to_string();
    let event = s
        .publish(&a, &key, json!({"type": "payment.completed", "data": {}}))
        .await;
    let v = event["id"].as_str().unwrap().to_string();
    let operational = s
        .expect(
            201,
            "POST",
            "/v1/operational-endpoints",
            Some(ADMIN),
            Some(json!({"url": "https://example.com/ops"})),
        )
        .await;
    let o = operational["id"].as_str().unwrap().to_string();
    // Every operation of the document that takes a body, on real objects.
    let doc = s.expect(200, "GET", "/openapi.json", None, None).await;
    let mut tried = 0;
    for (template, item) in doc["paths"].as_object().unwrap() {
        if template.starts_with("/api/") {
            continue; // the Svix-compatible API: its own errors, tests/it/svix.rs
        }
        for (method, op) in item.as_object().unwrap() {
            if op.get("requestBody").is_none() {
                continue;
            }
            let endpoint_id = if template.starts_with("/v1/operational") {
                &o
            } else {
                &e
            };
            let path = template
                .replace("{account_id}", &a)
                .replace("{endpoint_id}", endpoint_id)
                .replace("{event_id}", &v)
                .replace("{name}", "payment.completed");
            assert!(!path.contains('{'), "a path parameter to fill: {template}");
            for body in [r#"{} x"#, "{}}", "{}{}", "{} 1", r#"{"a": 1}]"#] {
                let response = s
                    .http
                    .request(
                        method.to_uppercase().parse().unwrap(),
                        format!("{}{path}", s.base),
                    )
                    .bearer_auth(ADMIN)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status().as_u16(), 400, "{method} {path} {body}");
                let err: Value = response.json().await.unwrap();
                assert_eq!(err["error"]["code"], "malformed_json", "{method} {path}");
            }
            tried += 1;
        }
    }
    assert!(tried >= 15, "only {tried} operations take a body");
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
            if path.starts_with("/api/") {
                continue; // the Svix-compatible API declares its own responses
            }
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
        // Ordered delivery's fields, with their rules.
        let schemas = &doc["components"]["schemas"];
        for (schema, order) in [
            ("NewEndpoint", json!(["unordered", "ordered", null])),
            ("EndpointBody", json!(["unordered", "ordered", null])),
            ("EndpointOut", json!(["unordered", "ordered"])),
        ] {
            assert_eq!(
                schemas[schema]["properties"]["delivery_order"]["enum"], order,
                "{schema}"
            );
        }
        let key = &schemas["PublishBody"]["properties"]["ordering_key"];
        assert_eq!(
            (&key["minLength"], &key["maxLength"]),
            (&json!(1), &json!(256))
        );
        assert!(schemas["EventOut"]["properties"]["ordering_key"].is_object());
        assert!(schemas["DeliveryOut"]["properties"]["waiting_for"].is_object());
    }
);

both!(nul_characters_are_refused_not_stored, |s| {
    // PostgreSQL cannot store U+0000 (TEXT) nor parse it as jsonb: without
    // this rule these answered 503 there and 2xx on SQLite.
    let (a, key) = s.account("Acme").await;
    for (method, path, body) in [
        (
            "POST",
            format!("/v1/accounts/{a}/events"),
            r#"{"type": "payment.completed", "data": {"order": "x\u0000"}}"#,
        ),
        (
            "POST",
            format!("/v1/accounts/{a}/endpoints"),
            r#"{"url": "https://example.com/", "description": "a\u0000b"}"#,
        ),
        (
            "PATCH",
            format!("/v1/accounts/{a}"),
            r#"{"name": "Ac\u0000me"}"#,
        ),
    ] {
        let token = if method == "PATCH" { ADMIN } else { &key };
        let response = s
            .http
            .request(method.parse().unwrap(), format!("{}{path}", s.base))
            .bearer_auth(token)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 422, "{method} {path}");
        let err: Value = response.json().await.unwrap();
        assert!(
            err["error"]["message"].as_str().unwrap().contains("U+0000"),
            "{err}"
        );
    }
    for path in [
        format!("/v1/accounts/{a}/events?type=a%00b"),
        format!("/v1/accounts/{a}/events?search=%00"),
        format!("/v1/accounts/{a}/endpoints/ep_%00"),
        format!("/v1/accounts/{a}%00/events"),
    ] {
        let err = s.expect(400, "GET", &path, Some(&key), None).await;
        assert_eq!(err["error"]["code"], "bad_request", "{path}");
    }
    // The Svix-compatible API answers in Svix's shape.
    let err = s
        .expect(
            400,
            "GET",
            &format!("/api/v1/app/{a}%00/msg"),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(err["code"], "bad_request", "{err}");
    s.expect(
        200,
        "GET",
        &format!("/v1/accounts/{a}/events?search=x%2500"),
        Some(&key),
        None,
    )
    .await;
});

both!(whole_numbers_may_carry_a_zero_fraction, |s| {
    // JSON Schema's integers include 5.0; the document says integer.
    let (a, key) = s.account("Acme").await;
    let ep = s
        .expect(
            201,
            "POST",
            &format!("/v1/accounts/{a}/endpoints"),
            Some(&key),
            Some(json!({"url": "https://example.com/", "rate_limit_per_sec": 5.0})),
        )
        .await;
    assert_eq!(ep["rate_limit_per_sec"], 5, "{ep}");
    for bad in [json!(5.5), json!(-1.0), json!(0)] {
        s.expect(
            422,
            "PATCH",
            &format!("/v1/accounts/{a}/endpoints/{}", ep["id"].as_str().unwrap()),
            Some(&key),
            Some(json!({"rate_limit_per_sec": bad})),
        )
        .await;
    }
    s.expect(
        201,
        "POST",
        &format!("/v1/accounts/{a}/portal-sessions"),
        Some(ADMIN),
        Some(json!({"expires_in": 60.0})),
    )
    .await;
});

both!(ordering_keys_are_counted_in_characters, |s| {
    let (a, key) = s.account("Acme").await;
    let publish = |ordering_key: String| json!({"type": "payment.completed", "data": {}, "ordering_key": ordering_key});
    let path = format!("/v1/accounts/{a}/events");
    // 256 characters of two bytes each: 512 bytes, accepted (maxLength counts characters).
    let event = s
        .expect(
            202,
            "POST",
            &path,
            Some(&key),
            Some(publish("é".repeat(256))),
        )
        .await;
    assert_eq!(event["ordering_key"], "é".repeat(256));
    for refused in [String::new(), "a".repeat(257)] {
        let err = s
            .expect(422, "POST", &path, Some(&key), Some(publish(refused)))
            .await;
        assert!(
            err["error"]["message"]
                .as_str()
                .unwrap()
                .contains("ordering_key"),
            "{err}"
        );
    }
});
