//! What follows a failed attempt: retries with the same id, exhausted
//! deliveries failing and being resent or recovered, 410 disabling the
//! endpoint, `Retry-After`.

use serde_json::json;

use super::{attempts, wait_event};
use crate::both;
use crate::harness::{Backend, Options, Receiver, Reply, TestServer};

both!(failures_are_retried_with_the_same_id_until_success, |s| {
    let receiver = Receiver::start().await;
    receiver.script([Reply::status(500).with_body("boom"), Reply::status(503)]);
    let (a, key) = s.account("Acme").await;
    s.endpoint(&a, &key, &receiver.url("/"), json!({})).await;
    let event = s
        .publish(
            &a,
            &key,
            json!({"type": "refund.initiated", "data": {"refund_id": "re_1"}}),
        )
        .await;
    let id = event["id"].as_str().unwrap();
    let got = receiver.wait_for(3).await;
    assert!(got
        .iter()
        .all(|r| r.header("webhook-id").as_deref() == Some(id)));
    let done = wait_event(&s, &a, &key, id, "delivery succeeded", |e| {
        e["deliveries"][0]["status"] == "succeeded"
    })
    .await;
    assert_eq!(done["deliveries"][0]["attempts"], 3);
    let log = attempts(&s, &a, &key, id).await;
    let codes: Vec<i64> = log
        .iter()
        .map(|x| x["status_code"].as_i64().unwrap())
        .collect();
    assert_eq!(codes, vec![200, 503, 500], "newest first");
    assert_eq!(log[2]["response_body"], "boom");
    assert_eq!(log[2]["attempt"], 1);
});

both!(
    exhausted_deliveries_fail_and_can_be_resent_or_recovered,
    |s| {
        let receiver = Receiver::start().await;
        receiver.set_default(Reply::status(500));
        let (a, key) = s.account("Acme").await;
        let ep = s.endpoint(&a, &key, &receiver.url("/"), json!({})).await;
        let ep_id = ep["id"].as_str().unwrap();
        let e1 = s
            .publish(&a, &key, json!({"type": "payment.failed", "data": {}}))
            .await;
        let e2 = s
            .publish(&a, &key, json!({"type": "payment.failed", "data": {}}))
            .await;
        let (id1, id2) = (e1["id"].as_str().unwrap(), e2["id"].as_str().unwrap());
        let failed = wait_event(&s, &a, &key, id1, "delivery failed", |e| {
            e["deliveries"][0]["status"] == "failed"
        })
        .await;
        assert_eq!(
            failed["deliveries"][0]["attempts"], 3,
            "1 + the two retries of the schedule"
        );
        assert!(failed["deliveries"][0]["next_attempt_at"].is_null());
        wait_event(&s, &a, &key, id2, "delivery failed", |e| {
            e["deliveries"][0]["status"] == "failed"
        })
        .await;
        let listed = s
            .expect(
                200,
                "GET",
                &format!("/v1/accounts/{a}/events?status=failed"),
                Some(&key),
                None,
            )
            .await;
        assert_eq!(listed["data"].as_array().unwrap().len(), 2);

        receiver.set_default(Reply::status(200));
        let resent = s
            .expect(
                202,
                "POST",
                &format!("/v1/accounts/{a}/events/{id1}/resend"),
                Some(&key),
                Some(json!({})),
            )
            .await;
        assert_eq!(resent["deliveries"].as_array().unwrap().len(), 1);
        let done = wait_event(&s, &a, &key, id1, "resend succeeded", |e| {
            e["deliveries"]
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d["status"] == "succeeded")
        })
        .await;
        assert_eq!(
            done["deliveries"].as_array().unwrap().len(),
            2,
            "a fresh delivery beside the failed one"
        );

        let since = "2000-01-01T00:00:00Z";
        let recovered = s
            .expect(
                202,
                "POST",
                &format!("/v1/accounts/{a}/endpoints/{ep_id}/recover"),
                Some(&key),
                Some(json!({"since": since})),
            )
            .await;
        assert_eq!(recovered["deliveries"], 2);
        wait_event(&s, &a, &key, id2, "recovered", |e| {
            e["deliveries"]
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d["status"] == "succeeded")
        })
        .await;
    }
);

both!(gone_disables_the_endpoint, |s| {
    let receiver = Receiver::start().await;
    receiver.set_default(Reply::status(410));
    let (a, key) = s.account("Acme").await;
    let ep = s.endpoint(&a, &key, &receiver.url("/"), json!({})).await;
    let event = s
        .publish(&a, &key, json!({"type": "payment.completed", "data": {}}))
        .await;
    wait_event(&s, &a, &key, event["id"].as_str().unwrap(), "failed", |e| {
        e["status"] == "failed"
    })
    .await;
    let ep = s
        .expect(
            200,
            "GET",
            &format!("/v1/accounts/{a}/endpoints/{}", ep["id"].as_str().unwrap()),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(ep["disabled"], true);
    assert!(ep["disabled_reason"].as_str().unwrap().contains("410"));
    assert_eq!(receiver.received().len(), 1, "no retries after 410");
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_honoured() {
    let options = Options {
        retry_schedule: Some("100ms,10s".into()),
        ..Default::default()
    };
    let s = TestServer::start_with(Backend::Sqlite, options)
        .await
        .unwrap();
    let receiver = Receiver::start().await;
    receiver.script([Reply::status(429).with_header("retry-after", "3")]);
    let (a, key) = s.account("Acme").await;
    s.endpoint(&a, &key, &receiver.url("/"), json!({})).await;
    let event = s
        .publish(&a, &key, json!({"type": "payment.completed", "data": {}}))
        .await;
    let id = event["id"].as_str().unwrap();
    let e = wait_event(&s, &a, &key, id, "first attempt recorded", |e| {
        e["deliveries"][0]["attempts"] == 1
    })
    .await;
    let log = attempts(&s, &a, &key, id).await;
    let started =
        chrono::DateTime::parse_from_rfc3339(log[0]["started_at"].as_str().unwrap()).unwrap();
    let next = chrono::DateTime::parse_from_rfc3339(
        e["deliveries"][0]["next_attempt_at"].as_str().unwrap(),
    )
    .unwrap();
    assert!(
        next - started >= chrono::Duration::seconds(3),
        "Retry-After: 3 beats the 100ms schedule ({started} → {next})"
    );
}
