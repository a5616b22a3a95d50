//! Endpoint management: validation, filters, secrets, pagination.

use serde_json::json;

use crate::both;
use crate::harness::{Backend, Options, TestServer, ADMIN};

both!(endpoints_are_created_read_updated_and_deleted, |s| {
    let (a, key) = s.account("Acme").await;
    let base = format!("/v1/accounts/{a}/endpoints");
    let created = s
        .endpoint(
            &a,
            &key,
            "https://merchant:s3cret@example.com/hooks",
            json!({
                "description": "orders",
                "event_types": ["payment.completed", "refund.completed"],
                "payload": "thin",
                "headers": {"X-Merchant": "42"},
                "rate_limit_per_sec": 5,
                "metadata": {"team": "payments"}
            }),
        )
        .await;
    let id = created["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("ep_"));
    assert!(
        created["secret"].as_str().unwrap().starts_with("whsec_"),
        "the create answer shows the secret"
    );
    assert_eq!(
        created["url"], "https://merchant:****@example.com/hooks",
        "password masked"
    );
    assert_eq!(created["payload"], "thin");
    assert_eq!(created["headers"]["x-merchant"], "42");
    assert_eq!(created["rate_limit_per_sec"], 5);
    assert_eq!(created["metadata"]["team"], "payments");

    let got = s
        .expect(200, "GET", &format!("{base}/{id}"), Some(&key), None)
        .await;
    assert!(
        got.get("secret").is_none(),
        "only the create answer includes the secret"
    );
    assert!(!got.to_string().contains("s3cret"));
    let secret = s
        .expect(200, "GET", &format!("{base}/{id}/secret"), Some(&key), None)
        .await;
    assert_eq!(secret["secret"], created["secret"]);

    let patched = s
        .expect(
            200,
            "PATCH",
            &format!("{base}/{id}"),
            Some(&key),
            Some(json!({"disabled": true, "rate_limit_per_sec": null, "event_types": []})),
        )
        .await;
    assert_eq!(patched["disabled"], true);
    assert_eq!(patched["disabled_reason"], "disabled by a user");
    assert!(patched["rate_limit_per_sec"].is_null());
    assert_eq!(patched["event_types"], json!([]));
    assert_eq!(patched["description"], "orders", "untouched fields stay");

    let rotated = s
        .expect(
            200,
            "POST",
            &format!("{base}/{id}/secret/rotate"),
            Some(&key),
            Some(json!({})),
        )
        .await;
    assert_ne!(rotated["secret"], created["secret"]);
    let own = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let chosen = s
        .expect(
            200,
            "POST",
            &format!("{base}/{id}/secret/rotate"),
            Some(&key),
            Some(json!({"secret": own})),
        )
        .await;
    assert_eq!(chosen["secret"], own);
    s.expect(
        422,
        "POST",
        &format!("{base}/{id}/secret/rotate"),
        Some(&key),
        Some(json!({"secret": "whsec_short"})),
    )
    .await;

    for i in 0..3 {
        s.endpoint(&a, &key, &format!("https://example.com/{i}"), json!({}))
            .await;
    }
    let page = s
        .expect(200, "GET", &format!("{base}?limit=3"), Some(&key), None)
        .await;
    assert_eq!(page["data"].as_array().unwrap().len(), 3);
    let cursor = page["next_cursor"].as_str().unwrap();
    let rest = s
        .expect(
            200,
            "GET",
            &format!("{base}?limit=3&cursor={cursor}"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(rest["data"].as_array().unwrap().len(), 1);
    s.expect(400, "GET", &format!("{base}?limit=0"), Some(&key), None)
        .await;
    s.expect(400, "GET", &format!("{base}?limit=251"), Some(&key), None)
        .await;
    s.expect(
        400,
        "GET",
        &format!("{base}?cursor=garbage"),
        Some(&key),
        None,
    )
    .await;

    s.expect(204, "DELETE", &format!("{base}/{id}"), Some(&key), None)
        .await;
    s.expect(404, "GET", &format!("{base}/{id}"), Some(&key), None)
        .await;
});

both!(endpoint_input_is_validated, |s| {
    let (a, key) = s.account("Acme").await;
    let base = format!("/v1/accounts/{a}/endpoints");
    let cases = [
        (json!({}), "url"),
        (json!({"url": "ftp://example.com"}), "http"),
        (json!({"url": "not-a-url"}), "valid URL"),
        (json!({"url": "not a url"}), "a space"),
        (
            json!({"url": "https://example.com", "event_types": ["payment.exploded"]}),
            "payment.completed",
        ),
        (
            json!({"url": "https://example.com", "payload": "medium"}),
            "payload",
        ),
        (
            json!({"url": "https://example.com", "headers": {"webhook-signature": "x"}}),
            "set by Hookline",
        ),
        (
            json!({"url": "https://example.com", "secret": "nope"}),
            "whsec_",
        ),
        (
            json!({"url": "https://example.com", "rate_limit_per_sec": 0}),
            "at least 1",
        ),
        (
            json!({"url": "https://example.com", "colour": "red"}),
            "colour",
        ),
    ];
    for (body, hint) in cases {
        let err = s
            .expect(422, "POST", &base, Some(&key), Some(body.clone()))
            .await;
        let message = err["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(hint),
            "{body}: `{message}` should mention `{hint}`"
        );
    }
    let (status, err) = s.call("POST", &base, Some(&key), None).await;
    assert_eq!(status.as_u16(), 422, "{err}");
    let malformed = s
        .http
        .post(format!("{}{base}", s.base))
        .bearer_auth(&key)
        .header("content-type", "application/json")
        .body("{\"url\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status().as_u16(), 400);
    let body: serde_json::Value = malformed.json().await.unwrap();
    assert_eq!(body["error"]["code"], "malformed_json");
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_addresses_are_refused_by_default() {
    let options = Options {
        allow_private_networks: Some(false),
        ..Default::default()
    };
    let s = TestServer::start_with(Backend::Sqlite, options)
        .await
        .unwrap();
    let (a, key) = s.account("Acme").await;
    for url in [
        "http://127.0.0.1:8080/x",
        "http://10.0.0.5/x",
        "http://169.254.169.254/latest",
        "http://[::1]/x",
        "http://localhost/x",
    ] {
        let err = s
            .expect(
                422,
                "POST",
                &format!("/v1/accounts/{a}/endpoints"),
                Some(&key),
                Some(json!({"url": url})),
            )
            .await;
        assert!(
            err["error"]["message"]
                .as_str()
                .unwrap()
                .contains("HOOKLINE_ALLOW_PRIVATE_NETWORKS"),
            "{url}"
        );
    }
    let err = s
        .expect(422, "POST", &format!("/v1/accounts/{a}/events"), Some(&key), Some(json!({"type": "payment.completed", "data": {}, "webhook_url": "http://192.168.1.1/cb"})))
        .await;
    assert!(err["error"]["message"]
        .as_str()
        .unwrap()
        .contains("private"));
    let _ = ADMIN;
}
