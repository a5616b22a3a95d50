//! Portal sessions and dashboard session safety over HTTP: one-time links,
//! read-only sessions, revocation by deleting the account or the key,
//! logout on the server, the security headers, branding, and `Secure`
//! cookies behind a trusted proxy. The browser test embeds the portal in a
//! real Chromium frame (`tests/browser.rs`).

use serde_json::json;

use crate::both;
use crate::harness::{Options, TestServer, ADMIN};
use hookline_server::ServeArgs;

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap()
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn csrf(html: &str) -> String {
    let start = html.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    html[start..].split('"').next().unwrap().to_string()
}

/// A portal URL for `account`, made with `token`.
async fn portal(s: &TestServer, account: &str, token: &str, body: serde_json::Value) -> String {
    let made = s
        .expect(
            201,
            "POST",
            &format!("/v1/accounts/{account}/portal-sessions"),
            Some(token),
            Some(body),
        )
        .await;
    assert!(made["expires_at"].as_str().unwrap().ends_with('Z'));
    made["url"].as_str().unwrap().to_string()
}

/// The session cookie a portal URL sets (without following the redirect).
async fn open(url: &str) -> (u16, Option<String>, Option<String>) {
    let response = no_redirects().get(url).send().await.unwrap();
    let set = response
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().to_string());
    let location = response
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string());
    (response.status().as_u16(), set, location)
}

/// GETs `path` with only `cookie` (a replayed cookie, no jar).
async fn with_cookie(s: &TestServer, path: &str, cookie: &str) -> reqwest::Response {
    no_redirects()
        .get(format!("{}{path}", s.base))
        .header("cookie", cookie.split(';').next().unwrap())
        .send()
        .await
        .unwrap()
}

both!(a_portal_url_signs_in_once_to_one_account, |s| {
    let (a, key) = s.account("Acme").await;
    let (b, _) = s.account("Other").await;
    let url = portal(
        &s,
        &a,
        &key,
        json!({"return_url": "https://platform.example/settings"}),
    )
    .await;
    assert!(
        url.starts_with(&format!("{}/dashboard/portal/", s.base)),
        "{url}"
    );

    let browser = client();
    let page = browser.get(&url).send().await.unwrap();
    assert_eq!(
        page.url().path(),
        format!("/dashboard/accounts/{a}/endpoints")
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("No endpoints yet"));
    assert!(
        html.contains("https://platform.example/settings"),
        "back link"
    );
    assert!(
        !html.contains("Log out"),
        "no logout that would strand a frame"
    );

    // The same URL a second time is refused, even in the same browser.
    let again = client().get(&url).send().await.unwrap();
    assert_eq!(again.status().as_u16(), 403);
    assert!(again.text().await.unwrap().contains("no longer works"));

    // The session sees its account only.
    let other = browser
        .get(format!("{}/dashboard/accounts/{b}/events", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status().as_u16(), 404);
    let accounts = browser
        .get(format!("{}/dashboard/accounts", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(accounts.status().as_u16(), 403);

    // It can work: add an endpoint.
    let form = browser
        .get(format!("{}/dashboard/accounts/{a}/endpoints/new", s.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = csrf(&form);
    let created = browser
        .post(format!("{}/dashboard/accounts/{a}/endpoints", s.base))
        .form(&[
            ("csrf", token.as_str()),
            ("url", "https://merchant.example/hook"),
        ])
        .send()
        .await
        .unwrap();
    assert!(created.url().path().contains("/endpoints/ep_"));

    // The event-type catalogue, with descriptions and example payloads.
    let catalogue = browser
        .get(format!("{}/dashboard/accounts/{a}/event-types", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(catalogue.status().as_u16(), 200);
    let catalogue = catalogue.text().await.unwrap();
    for name in [
        "payment.completed",
        "refund.confirmed",
        "transaction.updated",
    ] {
        assert!(
            catalogue.contains(&format!("<code>{name}</code>")),
            "{name}"
        );
    }
    assert!(catalogue.contains("Example <code>data</code>") && catalogue.contains("amount"));

    // Bad requests answer the contract's errors.
    for (body, field) in [
        (json!({"expires_in": 0}), "expires_in"),
        (json!({"expires_in": 604801}), "expires_in"),
        (json!({"return_url": "javascript:alert(1)"}), "return_url"),
    ] {
        let err = s
            .expect(
                422,
                "POST",
                &format!("/v1/accounts/{a}/portal-sessions"),
                Some(&key),
                Some(body),
            )
            .await;
        assert!(
            err["error"]["message"].as_str().unwrap().contains(field),
            "{err}"
        );
    }
    // Another account's key gets a 404, an unknown account too.
    s.expect(
        404,
        "POST",
        &format!("/v1/accounts/{b}/portal-sessions"),
        Some(&key),
        Some(json!({})),
    )
    .await;
    s.expect(
        404,
        "POST",
        "/v1/accounts/acct_nope/portal-sessions",
        Some(ADMIN),
        Some(json!({})),
    )
    .await;
    let unknown = client()
        .get(format!("{}/dashboard/portal/not-a-token", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status().as_u16(), 403);
});

both!(an_expired_portal_url_is_refused, |s| {
    let (a, _) = s.account("Acme").await;
    let url = portal(&s, &a, ADMIN, json!({"expires_in": 1})).await;
    // Wait out the link's one second (the clock, not a race, decides).
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (status, cookie, _) = open(&url).await;
    assert_eq!(status, 403);
    assert!(cookie.is_none());
});

both!(
    read_only_sessions_change_nothing_and_reveal_no_secret,
    |s| {
        let (a, key) = s.account("Acme").await;
        let endpoint = s
            .endpoint(&a, &key, "https://merchant.example/hook", json!({}))
            .await;
        let ep = endpoint["id"].as_str().unwrap();
        let url = portal(&s, &a, &key, json!({"read_only": true})).await;
        let browser = client();
        let page = browser
            .get(&url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(page.contains("Read-only"));
        assert!(
            !page.contains("Add endpoint"),
            "no forms that would be refused"
        );

        let base = format!("{}/dashboard/accounts/{a}", s.base);
        let shown = browser
            .get(format!("{base}/endpoints/{ep}"))
            .send()
            .await
            .unwrap();
        assert_eq!(shown.status().as_u16(), 200);
        let html = shown.text().await.unwrap();
        assert!(
            !html.contains("/rotate") && !html.contains("/test") && !html.contains("data-reveal")
        );
        let secret = browser
            .get(format!("{base}/endpoints/{ep}/secret"))
            .send()
            .await
            .unwrap();
        assert_eq!(secret.status().as_u16(), 403);
        assert!(!secret.text().await.unwrap().contains("whsec_"));

        // Forms posted anyway (with the session's own CSRF token) are refused.
        let form = browser
            .get(format!("{base}/endpoints/new"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let token = csrf(&form);
        for path in [
            format!("{base}/endpoints"),
            format!("{base}/endpoints/{ep}/toggle"),
            format!("{base}/endpoints/{ep}/rotate"),
            format!("{base}/endpoints/{ep}/test"),
            format!("{base}/endpoints/{ep}/delete"),
        ] {
            let refused = browser
                .post(&path)
                .form(&[
                    ("csrf", token.as_str()),
                    ("url", "https://x.example/"),
                    ("confirm", "yes"),
                ])
                .send()
                .await
                .unwrap();
            assert_eq!(refused.status().as_u16(), 403, "{path}");
        }
        let after = s
            .expect(
                200,
                "GET",
                &format!("/v1/accounts/{a}/endpoints/{ep}"),
                Some(&key),
                None,
            )
            .await;
        assert_eq!(after["disabled"], false);
        assert_eq!(after["url"], endpoint["url"]);
        let listed = s
            .expect(
                200,
                "GET",
                &format!("/v1/accounts/{a}/endpoints"),
                Some(&key),
                None,
            )
            .await;
        assert_eq!(listed["data"].as_array().unwrap().len(), 1);
        let events = s
            .expect(
                200,
                "GET",
                &format!("/v1/accounts/{a}/events"),
                Some(&key),
                None,
            )
            .await;
        assert!(
            events["data"].as_array().unwrap().is_empty(),
            "no test was sent"
        );
    }
);

both!(deleting_the_key_or_the_account_ends_its_sessions, |s| {
    let (a, _) = s.account("Acme").await;
    let second = s
        .expect(
            201,
            "POST",
            &format!("/v1/accounts/{a}/api-keys"),
            Some(ADMIN),
            None,
        )
        .await;
    let (key_id, key) = (
        second["id"].as_str().unwrap(),
        second["key"].as_str().unwrap(),
    );
    let events = format!("/dashboard/accounts/{a}/events");

    let (_, by_key, _) = open(&portal(&s, &a, key, json!({})).await).await;
    let by_key = by_key.expect("a session cookie");
    let (_, by_admin, _) = open(&portal(&s, &a, ADMIN, json!({})).await).await;
    let by_admin = by_admin.expect("a session cookie");
    // A link not opened yet dies with its key too.
    let unopened = portal(&s, &a, key, json!({})).await;
    assert_eq!(
        with_cookie(&s, &events, &by_key).await.status().as_u16(),
        200
    );

    s.expect(
        204,
        "DELETE",
        &format!("/v1/accounts/{a}/api-keys/{key_id}"),
        Some(ADMIN),
        None,
    )
    .await;
    s.expect(
        404,
        "DELETE",
        &format!("/v1/accounts/{a}/api-keys/{key_id}"),
        Some(ADMIN),
        None,
    )
    .await;
    let gone = with_cookie(&s, &events, &by_key).await;
    assert_eq!(gone.status().as_u16(), 303);
    assert_eq!(gone.headers()["location"], "/dashboard/login");
    assert_eq!(open(&unopened).await.0, 403);
    s.expect(
        401,
        "GET",
        &format!("/v1/accounts/{a}/events"),
        Some(key),
        None,
    )
    .await;
    assert_eq!(
        with_cookie(&s, &events, &by_admin).await.status().as_u16(),
        200
    );

    s.expect(
        204,
        "DELETE",
        &format!("/v1/accounts/{a}"),
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(
        with_cookie(&s, &events, &by_admin).await.status().as_u16(),
        303
    );
});

both!(logout_ends_the_session_on_the_server, |s| {
    let (a, key) = s.account("Acme").await;
    let browser = client();
    let login = browser
        .get(format!("{}/dashboard/login", s.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let logged_in = no_redirects()
        .post(format!("{}/dashboard/login", s.base))
        .header("cookie", format!("hookline_login_csrf={}", csrf(&login)))
        .form(&[("csrf", csrf(&login).as_str()), ("token", key.as_str())])
        .send()
        .await
        .unwrap();
    let cookie = logged_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    assert!(
        !cookie.contains("Secure"),
        "plain http without a trusted proxy"
    );
    let events = format!("/dashboard/accounts/{a}/events");
    let page = with_cookie(&s, &events, &cookie).await;
    assert_eq!(page.status().as_u16(), 200);
    let token = csrf(&page.text().await.unwrap());

    let out = no_redirects()
        .post(format!("{}/dashboard/logout", s.base))
        .header("cookie", cookie.split(';').next().unwrap())
        .form(&[("csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status().as_u16(), 303);
    assert!(out.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    // The old cookie, replayed, no longer works.
    let replayed = with_cookie(&s, &events, &cookie).await;
    assert_eq!(replayed.status().as_u16(), 303);
    assert_eq!(replayed.headers()["location"], "/dashboard/login");
});

both!(every_page_sends_the_security_headers, |s| {
    let (a, key) = s.account("Acme").await;
    let endpoint = s
        .endpoint(&a, &key, "https://merchant.example/hook", json!({}))
        .await;
    let (_, cookie, _) = open(&portal(&s, &a, &key, json!({})).await).await;
    let cookie = cookie.unwrap();
    assert!(
        cookie.contains("SameSite=Lax"),
        "no frame ancestors: a first-party cookie: {cookie}"
    );
    for path in [
        "/dashboard/login".to_string(),
        format!("/dashboard/accounts/{a}/endpoints"),
        format!("/dashboard/accounts/{a}/events"),
        "/dashboard/portal/used-or-unknown".to_string(),
    ] {
        let page = with_cookie(&s, &path, &cookie).await;
        let h = page.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"),
            "{path}: {csp}"
        );
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert_eq!(h["cache-control"], "no-store");
    }
    let secret = with_cookie(
        &s,
        &format!(
            "/dashboard/accounts/{a}/endpoints/{}/secret",
            endpoint["id"].as_str().unwrap()
        ),
        &cookie,
    )
    .await;
    assert_eq!(secret.headers()["cache-control"], "no-store");
    assert!(secret.text().await.unwrap().contains("whsec_"));
});

both!(
    allowed_origins_may_frame_the_portal,
    Options {
        serve: ServeArgs {
            portal_frame_ancestors: Some("http://localhost:4000,https://platform.example".into()),
            trusted_proxies: Some("127.0.0.1".into()),
            ..Default::default()
        },
        ..Default::default()
    },
    |s| {
        let (a, key) = s.account("Acme").await;
        let (_, cookie, location) = open(&portal(&s, &a, &key, json!({})).await).await;
        let cookie = cookie.unwrap();
        assert!(
            cookie.contains("SameSite=None; Secure; Partitioned"),
            "{cookie}"
        );
        assert_eq!(
            location.unwrap(),
            format!("/dashboard/accounts/{a}/endpoints")
        );
        let page = with_cookie(&s, &format!("/dashboard/accounts/{a}/events"), &cookie).await;
        let csp = page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            csp.ends_with("frame-ancestors http://localhost:4000 https://platform.example"),
            "{csp}"
        );
        assert!(page.headers().get("x-frame-options").is_none());

        // Behind a trusted proxy that says https, login cookies are Secure.
        let login = client()
            .get(format!("{}/dashboard/login", s.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let token = csrf(&login);
        let secure = no_redirects()
            .post(format!("{}/dashboard/login", s.base))
            .header("cookie", format!("hookline_login_csrf={token}"))
            .header("x-forwarded-proto", "https")
            .form(&[("csrf", token.as_str()), ("token", key.as_str())])
            .send()
            .await
            .unwrap();
        let set = secure.headers()["set-cookie"].to_str().unwrap();
        assert!(set.contains("SameSite=Strict; Secure"), "{set}");
    }
);

both!(
    pages_wear_the_configured_and_the_account_brand,
    Options {
        serve: ServeArgs {
            brand_name: Some("PayCo Webhooks".into()),
            ..Default::default()
        },
        ..Default::default()
    },
    |s| {
        let (a, key) = s.account("Acme").await;
        let login = client()
            .get(format!("{}/dashboard/login", s.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            login.contains("PayCo Webhooks")
                && login.contains("/dashboard/assets/accent/4f46e5.css")
        );

        let path = format!("/v1/accounts/{a}/branding");
        s.expect(
            403,
            "PUT",
            &path,
            Some(&key),
            Some(json!({"product_name": "Mine"})),
        )
        .await;
        s.expect(
            422,
            "PUT",
            &path,
            Some(ADMIN),
            Some(json!({"accent_color": "red"})),
        )
        .await;
        s.expect(
            422,
            "PUT",
            &path,
            Some(ADMIN),
            Some(json!({"logo_url": "http://tracker.example/x.png"})),
        )
        .await;
        let brand = json!({"product_name": "Reseller Pay", "logo_url": "https://cdn.example/logo.png", "accent_color": "#0A7CFF"});
        let saved = s.expect(200, "PUT", &path, Some(ADMIN), Some(brand)).await;
        assert_eq!(saved["accent_color"], "#0a7cff");
        assert_eq!(s.expect(200, "GET", &path, Some(&key), None).await, saved);

        let browser = client();
        let html = browser
            .get(portal(&s, &a, &key, json!({})).await)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(html.contains("Reseller Pay") && !html.contains("PayCo Webhooks"));
        assert!(html.contains("https://cdn.example/logo.png"));
        assert!(html.contains("/dashboard/assets/accent/0a7cff.css"));
        let css = browser
            .get(format!("{}/dashboard/assets/accent/0a7cff.css", s.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(css.contains("--brand: #0a7cff"));
    }
);

both!(events_are_found_by_a_payment_id_inside_their_data, |s| {
    let (a, key) = s.account("Acme").await;
    let (b, other_key) = s.account("Other").await;
    let mut ids = Vec::new();
    for (n, payment) in ["pay_111", "pay_222", "pay_111"].iter().enumerate() {
        let event = s
            .publish(&a, &key, json!({"type": "payment.completed", "id": format!("evt_order_{n}"),
                                      "data": {"order": {"payment_id": payment, "number": 1000 + n}}}))
            .await;
        ids.push(event["id"].as_str().unwrap().to_string());
    }
    s.publish(
        &b,
        &other_key,
        json!({"type": "payment.completed", "data": {"payment_id": "pay_111"}}),
    )
    .await;
    let found = s
        .expect(
            200,
            "GET",
            &format!("/v1/accounts/{a}/events?search=pay_111&limit=1"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(found["data"][0]["id"], ids[2].as_str());
    let cursor = found["next_cursor"].as_str().unwrap();
    let rest = s
        .expect(
            200,
            "GET",
            &format!("/v1/accounts/{a}/events?search=pay_111&cursor={cursor}"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(rest["data"].as_array().unwrap().len(), 1);
    assert_eq!(rest["data"][0]["id"], ids[0].as_str());
    let by_number = s
        .expect(
            200,
            "GET",
            &format!("/v1/accounts/{a}/events?search=1001"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(by_number["data"][0]["id"], ids[1].as_str());
    let typed = s
        .expect(
            200,
            "GET",
            &format!("/v1/accounts/{a}/events?search=pay_111&type=refund.completed"),
            Some(&key),
            None,
        )
        .await;
    assert!(typed["data"].as_array().unwrap().is_empty());
    let long = "x".repeat(201);
    s.expect(
        422,
        "GET",
        &format!("/v1/accounts/{a}/events?search={long}"),
        Some(&key),
        None,
    )
    .await;

    // The dashboard's search box, in a portal session.
    let browser = client();
    browser
        .get(portal(&s, &a, &key, json!({})).await)
        .send()
        .await
        .unwrap();
    let html = browser
        .get(format!(
            "{}/dashboard/accounts/{a}/events?search=pay_222",
            s.base
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(&ids[1]) && !html.contains(&ids[0]),
        "only the matching event"
    );
    assert!(html.contains("value=\"pay_222\""));
    let none = browser
        .get(format!(
            "{}/dashboard/accounts/{a}/events?search=pay_999",
            s.base
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(none.contains("No events match"));
});
