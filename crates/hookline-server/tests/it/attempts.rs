//! An attempt's page and API (the exact request sent, the response, copy
//! as curl), an endpoint's attempts filtered by outcome, recovering failed
//! deliveries from the endpoint page, and the account overview: real
//! server, real receivers, a cookie-keeping client as the browser.

use std::time::Duration;

use serde_json::{json, Value};

use crate::both;
use crate::harness::{eventually, Options, Receiver, Reply, TestServer, ADMIN};

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap()
}

fn csrf(html: &str) -> String {
    let start = html.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    html[start..].split('"').next().unwrap().to_string()
}

/// A browser signed in to `account`'s dashboard through a portal link
/// (read-only if asked).
async fn signed_in(s: &TestServer, account: &str, read_only: bool) -> reqwest::Client {
    let made = s
        .expect(
            201,
            "POST",
            &format!("/v1/accounts/{account}/portal-sessions"),
            Some(ADMIN),
            Some(json!({"read_only": read_only})),
        )
        .await;
    let client = browser();
    let page = client
        .get(made["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 200);
    client
}

async fn get_html(client: &reqwest::Client, url: &str) -> (u16, String) {
    let response = client.get(url).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// What askama escapes, back to text.
fn unescape(html: &str) -> String {
    html.replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The text inside the element that opens with `open` (up to its `</code>`).
fn code_after(html: &str, open: &str) -> String {
    let start = html
        .find(open)
        .unwrap_or_else(|| panic!("no {open} in the page"))
        + open.len();
    let rest = &html[start..];
    let rest = &rest[rest.find("<code>").unwrap() + 6..];
    unescape(&rest[..rest.find("</code>").unwrap()])
}

/// The attempts of `event` once there are `n`.
async fn attempts_of(
    s: &TestServer,
    account: &str,
    key: &str,
    event: &str,
    n: usize,
) -> Vec<Value> {
    let path = format!("/v1/accounts/{account}/events/{event}/attempts");
    eventually(
        &format!("{n} attempts of {event}"),
        Duration::from_secs(20),
        || async {
            let found = s.expect(200, "GET", &path, Some(key), None).await;
            let items = found["data"].as_array().cloned().unwrap_or_default();
            (items.len() >= n).then_some(items)
        },
    )
    .await
}

both!(
    an_attempts_page_shows_the_request_as_sent_and_the_response,
    |s| {
        let receiver = Receiver::start().await;
        receiver.set_default(
            Reply::status(201)
                .with_header("x-receiver", "orders-7")
                .with_body("{\"stored\": true}"),
        );
        let (account, key) = s.account("Acme").await;
        let url = format!("http://hook:pa55@{}/hooks?src=hookline", receiver.addr);
        s.endpoint(
            &account,
            &key,
            &url,
            json!({"headers": {"X-Tenant": "t-1"}, "event_types": ["payment.completed"]}),
        )
        .await;
        // A quote, a dollar sign and a backslash: the curl command must keep them.
        let event = s
            .publish(
                &account,
                &key,
                json!({"type": "payment.completed",
                   "data": {"payment_id": "pay_1", "note": "it's $HOME \\ `x`", "amount": 1200}}),
            )
            .await;
        let event_id = event["id"].as_str().unwrap();
        let got = receiver.wait_for(1).await;
        let attempt = attempts_of(&s, &account, &key, event_id, 1).await.remove(0);
        let attempt_id = attempt["id"].as_str().unwrap();

        // The API: every header logged is what the receiver got, the body is
        // byte for byte what it got, and the password is nowhere.
        let detail = s
            .expect(
                200,
                "GET",
                &format!("/v1/accounts/{account}/attempts/{attempt_id}"),
                Some(&key),
                None,
            )
            .await;
        assert_eq!(
            detail["request_body"].as_str().unwrap().as_bytes(),
            &got[0].body[..]
        );
        let sent = detail["request_headers"].as_array().unwrap();
        for h in sent {
            let (name, value) = (h["name"].as_str().unwrap(), h["value"].as_str().unwrap());
            if name == "authorization" {
                assert_eq!(value, "Basic ****", "the password is masked");
            } else if name == "x-tenant" {
                assert_eq!(value, "****", "the endpoint's own header is masked");
            } else {
                assert_eq!(got[0].header(name).as_deref(), Some(value), "{name}");
            }
        }
        for name in [
            "webhook-id",
            "webhook-timestamp",
            "webhook-signature",
            "x-tenant",
            "content-type",
        ] {
            assert!(sent.iter().any(|h| h["name"] == name), "{name} is logged");
        }
        let received = detail["response_headers"].as_array().unwrap();
        assert!(received
            .iter()
            .any(|h| h["name"] == "x-receiver" && h["value"] == "orders-7"));
        assert_eq!(detail["response_body"], "{\"stored\": true}");
        assert_eq!(detail["status_code"], 201);
        assert!(!detail.to_string().contains("pa55"));
        // The list carries the headers too; another account's key finds nothing.
        assert_eq!(attempt["request_headers"], detail["request_headers"]);
        let (_, other_key) = s.account("Other").await;
        s.expect(
            404,
            "GET",
            &format!("/v1/accounts/{account}/attempts/{attempt_id}"),
            Some(&other_key),
            None,
        )
        .await;

        // The page, for a read-only session too: request line, headers,
        // signature, body, response; no password.
        let client = signed_in(&s, &account, true).await;
        let page_url = format!(
            "{}/dashboard/accounts/{account}/attempts/{attempt_id}",
            s.base
        );
        let (status, html) = get_html(&client, &page_url).await;
        assert_eq!(status, 200, "{html}");
        assert!(!html.contains("pa55"));
        assert!(html.contains(&format!(
            "http://hook:****@{}/hooks?src=hookline",
            receiver.addr
        )));
        assert!(html.contains(&got[0].header("webhook-signature").unwrap()));
        assert!(html.contains("HTTP 201") && html.contains("orders-7"));
        assert_eq!(
            code_after(&html, "data-request-body>").as_bytes(),
            &got[0].body[..]
        );
        // Copy as curl: run through a real shell, it sends the same request.
        let command = code_after(&html, "id=\"curl-command\"");
        let output = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(format!("{command} --silent --show-error --fail"))
            .output()
            .await
            .expect("sh runs");
        assert!(
            output.status.success(),
            "{command}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let again = receiver.wait_for(2).await;
        assert_eq!(again[1].body, got[0].body, "curl sent the same body");
        assert_eq!(again[1].path, "/hooks");
        for name in [
            "webhook-id",
            "webhook-timestamp",
            "webhook-signature",
            "content-type",
            "user-agent",
        ] {
            assert_eq!(again[1].header(name), got[0].header(name), "{name}");
        }
        // The endpoint's own header is a secret: the reader fills it in.
        assert_eq!(again[1].header("x-tenant").as_deref(), Some("****"));
        // Another account's attempt is not found through this session.
        let (other, _) = s.account("Third").await;
        let (status, _) = get_html(
            &client,
            &format!(
                "{}/dashboard/accounts/{other}/attempts/{attempt_id}",
                s.base
            ),
        )
        .await;
        assert_eq!(status, 404);
    }
);

both!(
    an_endpoints_attempts_are_filtered_by_outcome,
    Options {
        retry_schedule: Some("300ms,1h".into()),
        ..Default::default()
    },
    |s| {
        let flaky = Receiver::start().await;
        flaky.script([Reply::status(500)]);
        let down = Receiver::start().await;
        down.set_default(Reply::status(503));
        let (account, key) = s.account("Acme").await;
        let first = s
            .endpoint(&account, &key, &flaky.url("/a"), json!({}))
            .await;
        let second = s.endpoint(&account, &key, &down.url("/b"), json!({})).await;
        let event = s
            .publish(
                &account,
                &key,
                json!({"type": "payment.completed", "data": {}}),
            )
            .await;
        attempts_of(&s, &account, &key, event["id"].as_str().unwrap(), 4).await;
        let list = |endpoint: &Value, outcome: &str| {
            format!(
                "/v1/accounts/{account}/endpoints/{}/attempts?outcome={outcome}",
                endpoint["id"].as_str().unwrap()
            )
        };
        let outcomes = |v: Value| -> Vec<(String, u64)> {
            v["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| {
                    (
                        a["outcome"].as_str().unwrap().to_string(),
                        a["attempt"].as_u64().unwrap(),
                    )
                })
                .collect()
        };
        let get = |path: String| {
            let key = key.clone();
            let s = &s;
            async move { s.expect(200, "GET", &path, Some(&key), None).await }
        };
        assert_eq!(
            outcomes(get(list(&first, "succeeded")).await),
            [("succeeded".to_string(), 2)]
        );
        assert_eq!(
            outcomes(get(list(&first, "failed")).await),
            [("http_error".to_string(), 1)]
        );
        // Its delivery succeeded: nothing of it is still pending.
        assert!(outcomes(get(list(&first, "pending")).await).is_empty());
        assert_eq!(outcomes(get(list(&second, "pending")).await).len(), 2);
        assert_eq!(outcomes(get(list(&second, "http_error")).await).len(), 2);
        assert!(outcomes(get(list(&second, "timeout")).await).is_empty());
        assert_eq!(outcomes(get(list(&second, "")).await).len(), 2);
        let (status, error) = s
            .call("GET", &list(&second, "maybe"), Some(&key), None)
            .await;
        assert_eq!(status.as_u16(), 400);
        assert!(
            error["error"]["message"]
                .as_str()
                .unwrap()
                .contains("`outcome` must be"),
            "{error}"
        );

        // The endpoint page's filter.
        let client = signed_in(&s, &account, false).await;
        let page = format!(
            "{}/dashboard/accounts/{account}/endpoints/{}",
            s.base,
            first["id"].as_str().unwrap()
        );
        let (_, failed) = get_html(&client, &format!("{page}?outcome=failed")).await;
        assert!(
            failed.contains("HTTP 500") && !failed.contains("HTTP 200"),
            "failed only"
        );
        let (_, succeeded) = get_html(&client, &format!("{page}?outcome=succeeded")).await;
        assert!(succeeded.contains("HTTP 200") && !succeeded.contains("HTTP 500"));
        assert!(succeeded.contains("aria-current=\"page\">Succeeded"));
        let (_, all) = get_html(&client, &page).await;
        assert!(all.contains("HTTP 200") && all.contains("HTTP 500"));
    }
);

/// `datetime-local` text, in UTC, `ago` before now.
fn local_time_ago(ago: chrono::Duration) -> String {
    (chrono::Utc::now() - ago)
        .format("%Y-%m-%dT%H:%M")
        .to_string()
}

both!(
    failed_deliveries_are_recovered_from_the_endpoint_page,
    Options {
        retry_schedule: Some("100ms".into()),
        ..Default::default()
    },
    |s| {
        let receiver = Receiver::start().await;
        receiver.set_default(Reply::status(500));
        let (account, key) = s.account("Acme").await;
        let endpoint = s
            .endpoint(&account, &key, &receiver.url("/h"), json!({}))
            .await;
        let endpoint_id = endpoint["id"].as_str().unwrap();
        for n in 0..2 {
            s.publish(
                &account,
                &key,
                json!({"type": "payment.completed", "data": {"n": n}}),
            )
            .await;
        }
        let events = format!("/v1/accounts/{account}/events?status=failed");
        eventually(
            "both deliveries failed",
            Duration::from_secs(20),
            || async {
                let found = s.expect(200, "GET", &events, Some(&key), None).await;
                (found["data"].as_array().unwrap().len() == 2).then_some(())
            },
        )
        .await;
        receiver.set_default(Reply::status(200));
        let recover = format!(
            "{}/dashboard/accounts/{account}/endpoints/{endpoint_id}/recover",
            s.base
        );
        let since = local_time_ago(chrono::Duration::hours(1));

        // A read-only session may not, whatever it sends.
        let viewer = signed_in(&s, &account, true).await;
        let (_, page) = get_html(
            &viewer,
            &format!(
                "{}/dashboard/accounts/{account}/endpoints/{endpoint_id}",
                s.base
            ),
        )
        .await;
        assert!(
            !page.contains("/recover"),
            "no recover form for a read-only session"
        );
        let refused = viewer
            .post(&recover)
            .form(&[("since", since.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status().as_u16(), 403);

        // Nor a form without the session's CSRF token.
        let client = signed_in(&s, &account, false).await;
        let (_, page) = get_html(
            &client,
            &format!(
                "{}/dashboard/accounts/{account}/endpoints/{endpoint_id}",
                s.base
            ),
        )
        .await;
        assert!(page.contains("/recover") && page.contains("Failed since (UTC)"));
        let token = csrf(&page);
        let forged = client
            .post(&recover)
            .form(&[("since", since.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status().as_u16(), 403);
        assert_eq!(receiver.received().len(), 4, "nothing was sent again");

        // A time after the failures recovers nothing.
        let later = (chrono::Utc::now() + chrono::Duration::minutes(5))
            .format("%Y-%m-%dT%H:%M")
            .to_string();
        let none = client
            .post(&recover)
            .form(&[("csrf", token.as_str()), ("since", later.as_str())])
            .send()
            .await
            .unwrap();
        assert!(none.text().await.unwrap().contains("nothing to recover"));

        let done = client
            .post(&recover)
            .form(&[("csrf", token.as_str()), ("since", since.as_str())])
            .send()
            .await
            .unwrap();
        assert!(done
            .url()
            .query()
            .unwrap_or_default()
            .contains("recovered=2"));
        assert!(done
            .text()
            .await
            .unwrap()
            .contains("Recovering 2 failed deliveries"));
        let got = receiver.wait_for(6).await;
        let resent: Vec<Value> = got[4..].iter().map(|r| r.json()["data"].clone()).collect();
        assert!(resent.contains(&json!({"n": 0})) && resent.contains(&json!({"n": 1})));

        let bad = client
            .post(&recover)
            .form(&[("csrf", token.as_str()), ("since", "last tuesday")])
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status().as_u16(), 422);
    }
);

both!(
    the_overview_shows_deliveries_trouble_and_the_oldest_pending,
    Options {
        retry_schedule: Some("100ms,1h".into()),
        ..Default::default()
    },
    |s| {
        let fine = Receiver::start().await;
        let gone = Receiver::start().await;
        gone.set_default(Reply::status(410));
        let failing = Receiver::start().await;
        failing.set_default(Reply::status(500).with_body("database is down"));
        let (account, key) = s.account("Acme").await;
        let client = signed_in(&s, &account, true).await;
        let overview = format!("{}/dashboard/accounts/{account}/overview", s.base);
        let (status, empty) = get_html(&client, &overview).await;
        assert_eq!(status, 200);
        assert!(empty.contains("Nothing is waiting") && empty.contains("no attempts yet"));

        s.endpoint(
            &account,
            &key,
            &fine.url("/ok"),
            json!({"event_types": ["payment.completed"]}),
        )
        .await;
        s.endpoint(
            &account,
            &key,
            &gone.url("/gone"),
            json!({"event_types": ["refund.completed"]}),
        )
        .await;
        s.endpoint(
            &account,
            &key,
            &failing.url("/down"),
            json!({"event_types": ["customer.created"]}),
        )
        .await;
        for _ in 0..3 {
            s.publish(
                &account,
                &key,
                json!({"type": "payment.completed", "data": {}}),
            )
            .await;
        }
        s.publish(
            &account,
            &key,
            json!({"type": "refund.completed", "data": {}}),
        )
        .await;
        let waiting = s
            .publish(
                &account,
                &key,
                json!({"type": "customer.created", "data": {}}),
            )
            .await;
        let waiting_id = waiting["id"].as_str().unwrap();
        fine.wait_for(3).await;
        gone.wait_for(1).await;
        failing.wait_for(2).await;

        let html = eventually(
            "the overview shows it all",
            Duration::from_secs(20),
            || async {
                let (_, html) = get_html(&client, &overview).await;
                (html.contains("data-succeeded>3<") && html.contains("data-failed>3<"))
                    .then_some(html)
            },
        )
        .await;
        assert!(html.contains("50% of 6"), "success rate");
        assert!(
            html.contains("Disabled") && html.contains("410"),
            "the 410 endpoint, and why"
        );
        assert!(
            html.contains("Failing") && html.contains("HTTP 500"),
            "the failing one, and why"
        );
        assert!(
            html.contains(&format!("<code>{waiting_id}</code>")),
            "the oldest pending"
        );
        assert!(
            !html.contains("/ok</a>"),
            "a healthy endpoint needs no attention"
        );
    }
);
