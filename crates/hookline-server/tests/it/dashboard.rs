//! The dashboard over HTTP with a cookie-keeping client: login, pages,
//! CSRF, tenant isolation, logout. The browser test drives the same pages
//! in a real Chromium (`tests/browser.rs`).

use std::time::Duration;

use serde_json::json;

use crate::harness::{eventually, Backend, Receiver, TestServer, ADMIN};

fn csrf(html: &str) -> String {
    let start = html.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    html[start..].split('"').next().unwrap().to_string()
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::limited(5))
        .build()
        .unwrap()
}

async fn login(s: &TestServer, client: &reqwest::Client, token: &str) -> reqwest::Response {
    let page = client
        .get(format!("{}/dashboard/login", s.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    client
        .post(format!("{}/dashboard/login", s.base))
        .form(&[("csrf", csrf(&page).as_str()), ("token", token)])
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merchants_manage_endpoints_and_watch_events() {
    let s = TestServer::start(Backend::Sqlite).await.unwrap();
    let receiver = Receiver::start().await;
    let (a, key) = s.account("Acme").await;
    let (b, _) = s.account("Other").await;
    let client = browser();

    let refused = login(&s, &client, "hk_live_wrong").await;
    assert_eq!(refused.status().as_u16(), 401);
    assert!(refused.text().await.unwrap().contains("was not accepted"));

    let home = login(&s, &client, &key).await;
    assert_eq!(
        home.url().path(),
        format!("/dashboard/accounts/{a}/endpoints")
    );
    let html = home.text().await.unwrap();
    assert!(html.contains("No endpoints yet"), "empty state");
    let token = csrf(&html);

    // A form without the CSRF token is refused.
    let forged = client
        .post(format!("{}/dashboard/accounts/{a}/endpoints", s.base))
        .form(&[("url", receiver.url("/hook"))])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status().as_u16(), 403);

    // Errors show beside the field.
    let invalid = client
        .post(format!("{}/dashboard/accounts/{a}/endpoints", s.base))
        .form(&[("csrf", token.as_str()), ("url", "ftp://nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(invalid.status().as_u16(), 422);
    assert!(invalid.text().await.unwrap().contains("id=\"url-error\""));

    let url = format!("http://hook:pa55@{}/hook", receiver.addr);
    let created = client
        .post(format!("{}/dashboard/accounts/{a}/endpoints", s.base))
        .form(&[
            ("csrf", token.as_str()),
            ("url", url.as_str()),
            ("description", "Orders"),
            ("event_types", "payment.completed"),
            ("event_types", "refund.completed"),
        ])
        .send()
        .await
        .unwrap();
    assert!(created.url().path().contains("/endpoints/ep_"));
    let endpoint_path = created.url().path().to_string();
    let page = created.text().await.unwrap();
    assert!(
        page.contains("hook:****@") && !page.contains("pa55"),
        "password masked"
    );
    assert!(page.contains("payment.completed, refund.completed"));
    let secret: serde_json::Value = client
        .get(format!("{}{endpoint_path}/secret", s.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(secret["secret"].as_str().unwrap().starts_with("whsec_"));

    let sent = client
        .post(format!("{}{endpoint_path}/test", s.base))
        .form(&[
            ("csrf", token.as_str()),
            ("event_type", "payment.completed"),
        ])
        .send()
        .await
        .unwrap();
    let event_path = sent.url().path().to_string();
    assert!(event_path.contains("/events/evt_"));
    let event_html = sent.text().await.unwrap();
    assert!(
        event_html.contains("currency") && event_html.contains("\n  "),
        "payload pretty-printed"
    );
    let live = format!("{}{event_path}/live", s.base);
    eventually(
        "the 2xx attempt on the event page",
        Duration::from_secs(10),
        || {
            let (client, live) = (client.clone(), live.clone());
            async move {
                let html = client.get(live).send().await.unwrap().text().await.unwrap();
                html.contains("HTTP 200").then_some(())
            }
        },
    )
    .await;
    assert_eq!(
        receiver.received()[0].header("authorization").unwrap(),
        "Basic aG9vazpwYTU1"
    );

    let events = client
        .get(format!(
            "{}/dashboard/accounts/{a}/events?type=payment.completed",
            s.base
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(events.contains(event_path.rsplit('/').next().unwrap()));
    let listed = client
        .get(format!("{}/dashboard/accounts/{a}/endpoints", s.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(listed.contains("100% of 1"), "recent success rate");

    // Another account's pages are not found.
    let foreign = client
        .get(format!("{}/dashboard/accounts/{b}/endpoints", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status().as_u16(), 404);
    let accounts = client
        .get(format!("{}/dashboard/accounts", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(accounts.status().as_u16(), 403);

    let out = client
        .post(format!("{}/dashboard/logout", s.base))
        .form(&[("csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert!(out.text().await.unwrap().contains("You are logged out"));
    let after = client
        .get(format!("{}/dashboard/accounts/{a}/events", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        after.url().path(),
        "/dashboard/login",
        "logged out: back to the login page"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_picks_an_account() {
    let s = TestServer::start(Backend::Sqlite).await.unwrap();
    let (a, key) = s.account("Acme Payments").await;
    s.publish(
        &a,
        &key,
        json!({"type": "customer.created", "data": {"name": "Jo"}}),
    )
    .await;
    let client = browser();
    let home = login(&s, &client, ADMIN).await;
    assert_eq!(home.url().path(), "/dashboard/accounts");
    let html = home.text().await.unwrap();
    assert!(
        html.contains("Acme Payments") && html.contains(&format!("/dashboard/accounts/{a}/events"))
    );
    let events = client
        .get(format!("{}/dashboard/accounts/{a}/events", s.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(events.contains("customer.created"));
    let missing = client
        .get(format!("{}/dashboard/accounts/acct_nope/events", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status().as_u16(), 404);
    // A login form posted without its CSRF cookie and token is refused.
    let bare = reqwest::Client::new()
        .post(format!("{}/dashboard/login", s.base))
        .form(&[("token", ADMIN)])
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status().as_u16(), 403);
}

crate::both!(filters_and_ed25519_keys_in_the_endpoint_form, |s| {
    let (a, key) = s.account("Acme").await;
    let client = browser();
    let home = login(&s, &client, &key).await;
    let token = csrf(&home.text().await.unwrap());
    let form_path = format!("{}/dashboard/accounts/{a}/endpoints", s.base);
    let filter = r#"{"data.amount": {"$gte": 10000}}"#;

    // "Test filter" tries it on a catalogue example and saves nothing.
    let tried = client
        .post(&form_path)
        .form(&[
            ("csrf", token.as_str()),
            ("url", "https://example.com/hooks"),
            ("filter", filter),
            ("sample", "type:payment.completed"),
            ("intent", "test-filter"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(tried.status().as_u16(), 200);
    let page = tried.text().await.unwrap();
    assert!(
        page.contains("does not pass this filter"),
        "the example's 4999 is under 10000"
    );
    assert!(page.contains("data.amount"), "the filter stays in the form");
    let none = s
        .expect(
            200,
            "GET",
            &format!("/v1/accounts/{a}/endpoints"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(none["data"], json!([]), "trying saves nothing");

    // A recent event can be the sample too, and a bad filter shows its error.
    let event = s
        .publish(
            &a,
            &key,
            json!({"type": "payment.completed", "data": {"amount": 20000}}),
        )
        .await;
    let sample = format!("event:{}", event["id"].as_str().unwrap());
    let tried = client
        .post(&form_path)
        .form(&[
            ("csrf", token.as_str()),
            ("url", "https://example.com/hooks"),
            ("filter", filter),
            ("sample", sample.as_str()),
            ("intent", "test-filter"),
        ])
        .send()
        .await
        .unwrap();
    let page = tried.text().await.unwrap();
    assert!(page.contains("passes this filter"), "20000 passes");
    let bad = client
        .post(&form_path)
        .form(&[
            ("csrf", token.as_str()),
            ("url", "https://example.com/hooks"),
            ("filter", r#"{"amount": 1}"#),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 422);
    let page = bad.text().await.unwrap();
    assert!(page.contains("id=\"filter-error\"") && page.contains("data.amount"));

    // Saved with the filter and ed25519: the page shows the public key,
    // never the signing key.
    let created = client
        .post(&form_path)
        .form(&[
            ("csrf", token.as_str()),
            ("url", "https://example.com/hooks"),
            ("filter", filter),
            ("signature_scheme", "ed25519"),
        ])
        .send()
        .await
        .unwrap();
    let endpoint_path = created.url().path().to_string();
    let page = created.text().await.unwrap();
    assert!(
        page.contains("whpk_") && !page.contains("whsk_"),
        "public key shown"
    );
    assert!(page.contains("Public key"));
    let listed = s
        .expect(
            200,
            "GET",
            &format!("/v1/accounts/{a}/endpoints"),
            Some(&key),
            None,
        )
        .await;
    let ep = &listed["data"][0];
    assert_eq!(ep["filter"], json!({"data.amount": {"$gte": 10000}}));
    assert_eq!(ep["signature_scheme"], "ed25519");
    assert!(page.contains(ep["public_key"].as_str().unwrap()));
    let secret = client
        .get(format!("{}{endpoint_path}/secret", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        secret.status().as_u16(),
        409,
        "the signing key is never revealed"
    );
});
