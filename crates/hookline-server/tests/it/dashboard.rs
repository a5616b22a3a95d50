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

/// The endpoint of a page the client was redirected to (`…/endpoints/{id}?…`).
fn endpoint_id_of(response: &reqwest::Response) -> String {
    response
        .url()
        .path()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string()
}

crate::both!(
    the_admin_manages_operational_endpoints_with_the_endpoint_pages,
    |s| {
        let (a, key) = s.account("Acme").await;
        let ops = Receiver::start().await;
        let client = browser();
        let home = login(&s, &client, ADMIN).await;
        let html = home.text().await.unwrap();
        assert!(html.contains("href=\"/dashboard/operational\""));

        let page = client
            .get(format!("{}/dashboard/operational", s.base))
            .send()
            .await
            .unwrap();
        assert_eq!(
            page.url().path(),
            "/dashboard/accounts/acct_platform/endpoints"
        );
        let html = page.text().await.unwrap();
        assert!(html.contains("Operational endpoints") && html.contains("No endpoints yet"));
        let token = csrf(&html);
        // The account list is the merchants' only.
        let accounts = client
            .get(format!("{}/dashboard/accounts", s.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(accounts.contains(&a) && !accounts.contains("/dashboard/accounts/acct_platform"));

        // The merchant's endpoint form, offering the operational types.
        let base = format!("{}/dashboard/accounts/acct_platform/endpoints", s.base);
        let form = client
            .get(format!("{base}/new"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(form.contains("value=\"endpoint.recovered\""));
        assert!(!form.contains("name=\"event_types\" value=\"payment.completed\""));
        let refused = client
            .post(&base)
            .form(&[
                ("csrf", token.as_str()),
                ("url", ops.url("/ops").as_str()),
                ("event_types", "payment.completed"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status().as_u16(), 422);
        assert!(refused.text().await.unwrap().contains("endpoint.failing"));
        let added = client
            .post(&base)
            .form(&[("csrf", token.as_str()), ("url", ops.url("/ops").as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(added.status().as_u16(), 200);
        let id = endpoint_id_of(&added);
        let listed = s
            .expect(200, "GET", "/v1/operational-endpoints", Some(ADMIN), None)
            .await;
        assert_eq!(listed["data"][0]["id"], id.as_str());
        let html = added.text().await.unwrap();
        assert!(html.contains("<option value=\"endpoint.disabled\">"));

        // Test: an example of an operational type reaches the endpoint.
        let tested = client
            .post(format!("{base}/{id}/test"))
            .form(&[
                ("csrf", token.as_str()),
                ("event_type", "endpoint.recovered"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(tested.status().as_u16(), 200);
        assert!(tested
            .url()
            .path()
            .starts_with("/dashboard/accounts/acct_platform/events/evt_"));
        let got = ops.wait_for(1).await;
        assert_eq!(got[0].json()["type"], "endpoint.recovered");

        // Rotate, then delete.
        let before = s
            .expect(
                200,
                "GET",
                &format!("/v1/operational-endpoints/{id}"),
                Some(ADMIN),
                None,
            )
            .await;
        let rotated = client
            .post(format!("{base}/{id}/rotate"))
            .form(&[("csrf", token.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(rotated.status().as_u16(), 200);
        let after = s
            .expect(
                200,
                "GET",
                &format!("/v1/operational-endpoints/{id}"),
                Some(ADMIN),
                None,
            )
            .await;
        assert_ne!(
            before["updated_at"], after["updated_at"],
            "rotated: {after}"
        );
        let deleted = client
            .post(format!("{base}/{id}/delete"))
            .form(&[("csrf", token.as_str()), ("confirm", "yes")])
            .send()
            .await
            .unwrap();
        assert_eq!(deleted.status().as_u16(), 200);
        let listed = s
            .expect(200, "GET", "/v1/operational-endpoints", Some(ADMIN), None)
            .await;
        assert_eq!(listed["data"], json!([]));

        // A merchant's session reaches none of it.
        let merchant = browser();
        login(&s, &merchant, &key).await;
        let page = merchant
            .get(format!("{}/dashboard/operational", s.base))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status().as_u16(), 403);
        let page = merchant.get(&base).send().await.unwrap();
        assert_eq!(page.status().as_u16(), 404);
    }
);

crate::both!(event_type_schemas_are_shown_and_edited_by_the_admin, |s| {
    let (a, key) = s.account("Acme").await;
    let client = browser();
    let html = login(&s, &client, ADMIN).await.text().await.unwrap();
    let token = csrf(&html);
    let page_path = format!("{}/dashboard/accounts/{a}/event-types", s.base);
    let page = client
        .get(&page_path)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Schema of <code>data</code>"),
        "built-in schemas shown"
    );
    assert!(page.contains("Register an event type"));

    // The API's rules and messages.
    let bad = client
        .post(&page_path)
        .form(&[
            ("csrf", token.as_str()),
            ("name", "invoice.paid"),
            ("description", "An invoice was paid"),
            ("schema", r#"{"type": "objekt"}"#),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 422);
    let html = bad.text().await.unwrap();
    assert!(html.contains("id=\"schema-error\"") && html.contains("is not a valid JSON Schema"));
    assert!(html.contains("objekt"), "the form keeps what was sent");
    let not_json = client
        .post(&page_path)
        .form(&[
            ("csrf", token.as_str()),
            ("name", "invoice.paid"),
            ("example", "{nope"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status().as_u16(), 422);
    assert!(not_json
        .text()
        .await
        .unwrap()
        .contains("id=\"example-error\""));
    let registered = client
        .post(&page_path)
        .form(&[
            ("csrf", token.as_str()),
            ("name", "invoice.paid"),
            ("description", "An invoice was paid"),
            (
                "schema",
                r#"{"type": "object", "required": ["invoice_id"]}"#,
            ),
            ("example", r#"{"invoice_id": "inv_1"}"#),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status().as_u16(), 200);
    assert!(registered.text().await.unwrap().contains("was registered"));

    // Edited: an example that breaks the schema is refused, like the API's.
    let edit = format!("{page_path}/invoice.paid");
    let mismatch = client
        .post(&edit)
        .form(&[
            ("csrf", token.as_str()),
            ("description", "An invoice was paid"),
            ("schema", r#"{"type": "object", "required": ["total"]}"#),
            ("example", r#"{"invoice_id": "inv_1"}"#),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(mismatch.status().as_u16(), 422);
    let html = mismatch.text().await.unwrap();
    assert!(html.contains("id=\"example-error-invoice.paid\"") && html.contains("`required`"));
    let saved = client
        .post(&edit)
        .form(&[
            ("csrf", token.as_str()),
            ("description", "Paid in full"),
            ("schema", r#"{"type": "object", "required": ["total"]}"#),
            ("example", r#"{"total": 10}"#),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status().as_u16(), 200);
    let shown = s
        .expect(200, "GET", "/v1/event-types/invoice.paid", Some(&key), None)
        .await;
    assert_eq!(shown["schema"]["required"], json!(["total"]));
    assert_eq!(shown["description"], "Paid in full");
    let builtin = client
        .post(format!("{page_path}/payment.completed"))
        .form(&[("csrf", token.as_str()), ("description", "mine")])
        .send()
        .await
        .unwrap();
    assert_eq!(builtin.status().as_u16(), 409);

    // A merchant sees the schemas and changes nothing.
    let merchant = browser();
    let html = login(&s, &merchant, &key).await.text().await.unwrap();
    let merchant_token = csrf(&html);
    let page = merchant
        .get(&page_path)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("&#34;total&#34;"),
        "the merchant sees the schema"
    );
    assert!(!page.contains("Register an event type") && !page.contains(">Edit<"));
    let refused = merchant
        .post(&edit)
        .form(&[("csrf", merchant_token.as_str()), ("description", "mine")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 403);
    // A read-only portal session neither.
    let made = s
        .expect(
            201,
            "POST",
            &format!("/v1/accounts/{a}/portal-sessions"),
            Some(&key),
            Some(json!({"read_only": true})),
        )
        .await;
    let portal = browser();
    let opened = portal
        .get(made["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(opened.status().as_u16(), 200);
    let page = portal
        .get(&page_path)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Schema of <code>data</code>") && !page.contains("Register an event type")
    );
    let refused = portal
        .post(&page_path)
        .form(&[("csrf", "any"), ("name", "invoice.void")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 403);
    s.expect(404, "GET", "/v1/event-types/invoice.void", Some(&key), None)
        .await;
});
