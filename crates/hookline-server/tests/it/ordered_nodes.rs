//! Ordered delivery beyond one running node: a real server stopped and
//! started again on the same database, and two real nodes sharing one
//! PostgreSQL database, keep each key's publish order while a failing head
//! holds back only its own key and unordered endpoints take everything.

use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::{eventually, Backend, Options, Receiver, Reply, SharedDatabase, TestServer};

/// Retries every 500 ms for a minute: a held head is still pending
/// however slow the machine, and its key moves on soon once it passes.
fn patient_retries() -> Options {
    Options {
        retry_schedule: Some(vec!["500ms"; 120].join(",")),
        ..Default::default()
    }
}

/// The `data.n` of each request the receiver got, in order of arrival.
fn arrivals(receiver: &Receiver) -> Vec<String> {
    receiver
        .received()
        .iter()
        .map(|r| r.json()["data"]["n"].as_str().unwrap_or("?").to_string())
        .collect()
}

/// The arrivals of one key (`n` is `KEY-i`), repeats in a row folded: in
/// publish order exactly when each event's attempts came before the next's.
fn of_key(arrivals: &[String], key: &str) -> Vec<String> {
    let mut got: Vec<String> = arrivals
        .iter()
        .filter(|n| n.rsplit_once('-').is_some_and(|(k, _)| k == key))
        .cloned()
        .collect();
    got.dedup();
    got
}

/// `KEY-1` … `KEY-n`.
fn sequence(key: &str, n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("{key}-{i}")).collect()
}

/// Fails every attempt to deliver event `n` while the rule stands.
fn fail_event(receiver: &Receiver, n: &str) {
    let needle = format!("\"n\":\"{n}\"");
    receiver.answer_when(
        move |r| String::from_utf8_lossy(&r.body).contains(&needle),
        Reply::status(500),
    );
}

/// Publishes `KEY-i` with the ordering key `KEY`; answers the event id.
async fn publish(s: &TestServer, a: &str, api_key: &str, key: &str, i: usize) -> String {
    let n = format!("{key}-{i}");
    let event = s
        .publish(
            a,
            api_key,
            json!({"type": "payment.completed", "data": {"n": n}, "ordering_key": key}),
        )
        .await;
    event["id"].as_str().expect("id").to_string()
}

/// The delivery of `event` to `endpoint`, as the API shows it.
async fn delivery(s: &TestServer, a: &str, key: &str, event: &str, endpoint: &str) -> Value {
    let e = s.event(a, key, event).await;
    e["deliveries"]
        .as_array()
        .expect("deliveries")
        .iter()
        .find(|d| d["endpoint_id"] == endpoint)
        .cloned()
        .expect("a delivery to the endpoint")
}

/// Waits until every one of `wanted` has arrived at least once.
async fn wait_arrived(receiver: &Receiver, wanted: &[String]) -> Vec<String> {
    let receiver = receiver.clone();
    let wanted = wanted.to_vec();
    eventually(
        &format!("{wanted:?} delivered"),
        Duration::from_secs(60),
        move || {
            let got = arrivals(&receiver);
            let all = wanted.iter().all(|w| got.contains(w));
            async move { all.then_some(got) }
        },
    )
    .await
}

hookline_testkit::both_backends!(
    SharedDatabase::create,
    order_per_key_survives_a_restart,
    |db| {
        let rx = Receiver::start().await;
        let first = db.server(patient_retries()).await;
        let (a, key) = first.account("Acme").await;
        let ordered = first
            .endpoint(&a, &key, &rx.url("/"), json!({"delivery_order": "ordered"}))
            .await;
        let ordered = ordered["id"].as_str().unwrap().to_string();

        // pay_a's head fails; pay_b flows past it.
        fail_event(&rx, "pay_a-1");
        let a1 = publish(&first, &a, &key, "pay_a", 1).await;
        publish(&first, &a, &key, "pay_b", 1).await;
        let a2 = publish(&first, &a, &key, "pay_a", 2).await;
        publish(&first, &a, &key, "pay_b", 2).await;
        publish(&first, &a, &key, "pay_a", 3).await;
        let before = wait_arrived(&rx, &["pay_a-1".into(), "pay_b-2".into()]).await;
        assert!(
            !before.contains(&"pay_a-2".to_string()),
            "pay_a waits behind its head: {before:?}"
        );
        let held = delivery(&first, &a, &key, &a2, &ordered).await;
        assert_eq!(held["status"], "pending");
        assert_eq!(held["waiting_for"], json!(a1), "{held}");
        first.stop().await;

        // A new process on the same database: the head still holds its key,
        // and new events queue behind the old ones.
        let second = db.server(patient_retries()).await;
        publish(&second, &a, &key, "pay_a", 4).await;
        publish(&second, &a, &key, "pay_b", 3).await;
        let held = delivery(&second, &a, &key, &a2, &ordered).await;
        assert_eq!(held["waiting_for"], json!(a1), "after the restart: {held}");
        let b3 = wait_arrived(&rx, &["pay_b-3".into()]).await;
        assert!(
            !b3.contains(&"pay_a-2".to_string()),
            "pay_b flows, pay_a is still held: {b3:?}"
        );

        rx.clear_rules();
        let got = wait_arrived(&rx, &sequence("pay_a", 4)).await;
        assert_eq!(of_key(&got, "pay_a"), sequence("pay_a", 4), "{got:?}");
        assert_eq!(of_key(&got, "pay_b"), sequence("pay_b", 3), "{got:?}");
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_two_node_fleet_keeps_order_per_key_while_other_keys_flow() {
    let Some(db) = SharedDatabase::create(Backend::Postgres).await else {
        return;
    };
    let nodes = [
        db.server(patient_retries()).await,
        db.server(patient_retries()).await,
    ];
    let ordered_rx = Receiver::start().await;
    let free_rx = Receiver::start().await;
    let (a, key) = nodes[0].account("Acme").await;
    let ordered = nodes[0]
        .endpoint(
            &a,
            &key,
            &ordered_rx.url("/ordered"),
            json!({"delivery_order": "ordered"}),
        )
        .await;
    let ordered = ordered["id"].as_str().unwrap().to_string();
    nodes[1]
        .endpoint(&a, &key, &free_rx.url("/free"), json!({}))
        .await;

    // Four keys interleaved, published alternately through either node;
    // the head of `stuck` fails on the ordered endpoint until released.
    fail_event(&ordered_rx, "stuck-1");
    let keys = ["k0", "k1", "k2", "stuck"];
    let rounds = 4;
    let mut ids = std::collections::HashMap::new();
    for i in 1..=rounds {
        for (j, k) in keys.iter().enumerate() {
            let node = &nodes[(i + j) % 2];
            ids.insert(format!("{k}-{i}"), publish(node, &a, &key, k, i).await);
        }
    }

    let flowing: Vec<String> = ["k0", "k1", "k2"]
        .iter()
        .flat_map(|k| sequence(k, rounds))
        .chain(["stuck-1".to_string()])
        .collect();
    let got = wait_arrived(&ordered_rx, &flowing).await;
    assert!(
        !got.iter()
            .any(|n| n.starts_with("stuck-") && n != "stuck-1"),
        "only the stuck key waits: {got:?}"
    );
    let everything: Vec<String> = keys.iter().flat_map(|k| sequence(k, rounds)).collect();
    wait_arrived(&free_rx, &everything).await;
    for node in &nodes {
        let held = delivery(node, &a, &key, &ids["stuck-2"], &ordered).await;
        assert_eq!(held["waiting_for"], json!(ids["stuck-1"]), "{held}");
    }

    ordered_rx.clear_rules();
    let got = wait_arrived(&ordered_rx, &everything).await;
    for k in keys {
        assert_eq!(of_key(&got, k), sequence(k, rounds), "key {k}: {got:?}");
    }
}
