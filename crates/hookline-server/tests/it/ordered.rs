//! Ordered delivery end to end: an ordered endpoint receives each key's
//! events in publish order through failures and retries, a failing head
//! holds back only its key, the API says what a delivery waits for, and an
//! unordered endpoint is unaffected.

use std::time::Duration;

use serde_json::{json, Value};

use crate::both;
use crate::harness::{eventually, Options, Receiver, Reply, TestServer};

/// The `data.n` of each request the receiver got, in order of arrival.
fn arrivals(receiver: &Receiver) -> Vec<String> {
    receiver
        .received()
        .iter()
        .map(|r| r.json()["data"]["n"].as_str().unwrap_or("?").to_string())
        .collect()
}

async fn publish(s: &TestServer, a: &str, key: &str, n: &str, ordering_key: Option<&str>) -> Value {
    let mut body = json!({"type": "payment.completed", "data": {"n": n}});
    if let Some(k) = ordering_key {
        body["ordering_key"] = json!(k);
    }
    s.publish(a, key, body).await
}

/// The delivery of `event` to `endpoint`, as the API shows it.
async fn delivery(s: &TestServer, a: &str, key: &str, event: &str, endpoint: &str) -> Value {
    let e = s.event(a, key, event).await;
    e["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["endpoint_id"] == endpoint)
        .cloned()
        .expect("a delivery to the endpoint")
}

/// The event's live fragment on the dashboard, seen by the account's key.
async fn dashboard_event(s: &TestServer, key: &str, account: &str, event: &str) -> String {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let login = format!("{}/dashboard/login", s.base);
    let page = client
        .get(&login)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let start = page.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    let csrf = page[start..].split('"').next().unwrap().to_string();
    let signed_in = client
        .post(&login)
        .form(&[("csrf", csrf.as_str()), ("token", key)])
        .send()
        .await
        .unwrap();
    assert!(signed_in.status().is_success() || signed_in.status().is_redirection());
    client
        .get(format!(
            "{}/dashboard/accounts/{account}/events/{event}/live",
            s.base
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

both!(
    a_failing_head_holds_back_only_its_key,
    Options {
        // The head's retry comes long after the other key has gone through.
        retry_schedule: Some("5s,100ms".into()),
        ..Default::default()
    },
    |s| {
        let ordered_rx = Receiver::start().await;
        let unordered_rx = Receiver::start().await;
        let (a, key) = s.account("Acme").await;
        let ordered = s
            .endpoint(
                &a,
                &key,
                &ordered_rx.url("/ordered"),
                json!({"delivery_order": "ordered"}),
            )
            .await;
        assert_eq!(ordered["delivery_order"], "ordered");
        let ordered_id = ordered["id"].as_str().unwrap().to_string();
        let unordered = s
            .endpoint(&a, &key, &unordered_rx.url("/free"), json!({}))
            .await;
        assert_eq!(unordered["delivery_order"], "unordered");
        let unordered_id = unordered["id"].as_str().unwrap().to_string();

        // The head of pay_a fails once and waits 5 s for its retry.
        ordered_rx.script([Reply::status(500)]);
        let a1 = publish(&s, &a, &key, "a1", Some("pay_a")).await;
        assert_eq!(a1["ordering_key"], "pay_a");
        let a1 = a1["id"].as_str().unwrap().to_string();
        ordered_rx.wait_for(1).await;
        let a2 = publish(&s, &a, &key, "a2", Some("pay_a")).await;
        let a2 = a2["id"].as_str().unwrap().to_string();
        publish(&s, &a, &key, "b1", Some("pay_b")).await;
        publish(&s, &a, &key, "b2", Some("pay_b")).await;

        let waiting = delivery(&s, &a, &key, &a2, &ordered_id).await;
        assert_eq!(waiting["status"], "pending");
        assert_eq!(waiting["waiting_for"], json!(a1), "a2 waits behind a1");
        let free = delivery(&s, &a, &key, &a2, &unordered_id).await;
        assert_eq!(free["waiting_for"], Value::Null);
        let page = dashboard_event(&s, &key, &a, &a2).await;
        assert!(
            page.contains("waits for <a href=") && page.contains(&format!("{a1}</a> (ordered)")),
            "the event page says what a2 waits for: {page}"
        );

        // pay_b flows while pay_a's head waits for its retry; then a1, a2.
        let all = eventually("every ordered delivery", Duration::from_secs(30), || {
            let got = arrivals(&ordered_rx);
            async move { (got.len() >= 5).then_some(got) }
        })
        .await;
        assert_eq!(all, ["a1", "b1", "b2", "a1", "a2"], "arrival order");
        unordered_rx.wait_for(4).await;
        let mut free = arrivals(&unordered_rx);
        free.sort();
        assert_eq!(free, ["a1", "a2", "b1", "b2"]);
        let done = eventually("a2 recorded", Duration::from_secs(10), || async {
            let d = delivery(&s, &a, &key, &a2, &ordered_id).await;
            (d["status"] == "succeeded").then_some(d)
        })
        .await;
        assert_eq!(done["waiting_for"], Value::Null);
    }
);

both!(
    an_ordered_endpoint_without_keys_keeps_publish_order_through_retries,
    |s| {
        let rx = Receiver::start().await;
        let (a, key) = s.account("Acme").await;
        s.endpoint(&a, &key, &rx.url("/"), json!({"delivery_order": "ordered"}))
            .await;
        // Two failures somewhere in the run; the schedule retries each.
        rx.script([Reply::status(503), Reply::status(500)]);
        for n in ["1", "2", "3", "4", "5", "6"] {
            publish(&s, &a, &key, n, None).await;
        }
        let got = eventually("all six delivered", Duration::from_secs(30), || {
            let got = arrivals(&rx);
            async move { (got.len() >= 8).then_some(got) }
        })
        .await;
        let mut firsts = got.clone();
        firsts.dedup();
        assert_eq!(
            firsts,
            ["1", "2", "3", "4", "5", "6"],
            "retries repeat the head, never jump ahead: {got:?}"
        );
    }
);

both!(an_unknown_delivery_order_is_refused, |s| {
    let (a, key) = s.account("Acme").await;
    let v = s
        .expect(
            422,
            "POST",
            &format!("/v1/accounts/{a}/endpoints"),
            Some(&key),
            Some(json!({"url": "https://example.com/hook", "delivery_order": "fifo"})),
        )
        .await;
    assert!(
        v["error"]["message"].as_str().unwrap().contains("fifo"),
        "{v}"
    );
    let long = "k".repeat(300);
    let v = s
        .expect(
            422,
            "POST",
            &format!("/v1/accounts/{a}/events"),
            Some(&key),
            Some(json!({"type": "payment.completed", "data": {}, "ordering_key": long})),
        )
        .await;
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("ordering_key"),
        "{v}"
    );
});
