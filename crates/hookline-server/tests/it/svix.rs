//! The Svix-compatible API under `/api/v1`, through plain HTTP: Svix's
//! shapes and errors, applications and endpoints by uid, tenancy, and the
//! clear 501/404 answers for the rest. `svix_messages.rs` covers messages
//! and deliveries, `svix_sdk.rs` drives the same API with the official SDKs.

use serde_json::{json, Value};

use crate::both;
use crate::harness::*;

/// Creates an application by uid and answers its id.
pub(crate) async fn app(s: &TestServer, uid: &str) -> String {
    let a = s
        .expect(
            201,
            "POST",
            "/api/v1/app",
            Some(ADMIN),
            Some(json!({"name": "Acme", "uid": uid, "metadata": {"tier": "gold"}})),
        )
        .await;
    assert_eq!(a["uid"], uid);
    assert_eq!(a["metadata"]["tier"], "gold");
    a["id"].as_str().unwrap().to_string()
}

/// An API key for the account behind an application id.
async fn key_for(s: &TestServer, app_id: &str) -> String {
    let key = s
        .expect(
            201,
            "POST",
            &format!("/v1/accounts/{app_id}/api-keys"),
            Some(ADMIN),
            None,
        )
        .await;
    key["key"].as_str().unwrap().to_string()
}

both!(applications_by_uid_with_svix_conventions, |s| {
    let id = app(&s, "acme-prod").await;
    let by_uid = s
        .expect(200, "GET", "/api/v1/app/acme-prod", Some(ADMIN), None)
        .await;
    assert_eq!(by_uid["id"], id.as_str());
    for field in ["createdAt", "updatedAt"] {
        assert!(by_uid[field].as_str().unwrap().ends_with('Z'), "{by_uid}");
    }
    // A taken uid: 409, or the existing one with get_if_exists.
    let (status, body) = s
        .call(
            "POST",
            "/api/v1/app",
            Some(ADMIN),
            Some(json!({"name": "Again", "uid": "acme-prod"})),
        )
        .await;
    assert_eq!(status, 409);
    assert_eq!(body["code"], "conflict");
    assert!(body["detail"].as_str().unwrap().contains("acme-prod"));
    let existing = s
        .expect(
            200,
            "POST",
            "/api/v1/app?get_if_exists=true",
            Some(ADMIN),
            Some(json!({"name": "Again", "uid": "acme-prod"})),
        )
        .await;
    assert_eq!(existing["id"], id.as_str());
    // PUT creates what is missing (its path as uid) and replaces what exists.
    let created = s
        .expect(
            201,
            "PUT",
            "/api/v1/app/beta-shop",
            Some(ADMIN),
            Some(json!({"name": "Beta"})),
        )
        .await;
    assert_eq!(created["uid"], "beta-shop");
    let renamed = s
        .expect(
            200,
            "PATCH",
            "/api/v1/app/beta-shop",
            Some(ADMIN),
            Some(json!({"name": "Beta GmbH"})),
        )
        .await;
    assert_eq!(renamed["name"], "Beta GmbH");
    // The account is the same object under /v1.
    let account = s
        .expect(200, "GET", &format!("/v1/accounts/{id}"), Some(ADMIN), None)
        .await;
    assert_eq!(account["name"], "Acme");

    let list = s
        .expect(200, "GET", "/api/v1/app?limit=1", Some(ADMIN), None)
        .await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert_eq!(list["done"], false);
    let next = list["iterator"].as_str().unwrap();
    let rest = s
        .expect(
            200,
            "GET",
            &format!("/api/v1/app?limit=250&iterator={next}"),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(rest["done"], true);
    assert!(rest.get("prevIterator").is_some());
    let (status, body) = s
        .call("GET", "/api/v1/app?limit=251", Some(ADMIN), None)
        .await;
    assert_eq!(status, 422);
    assert_eq!(body["detail"][0]["loc"], json!(["query", "limit"]));

    // A 422 names the field in Svix's form.
    let (status, body) = s
        .call(
            "POST",
            "/api/v1/app",
            Some(ADMIN),
            Some(json!({"uid": "x"})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["detail"][0]["type"], "value_error");
    let (status, body) = s.call("GET", "/api/v1/app", Some("wrong"), None).await;
    assert_eq!(
        (status.as_u16(), body["code"].as_str()),
        (401, Some("authentication_failed"))
    );

    s.expect(204, "DELETE", "/api/v1/app/beta-shop", Some(ADMIN), None)
        .await;
    let (status, body) = s
        .call("GET", "/api/v1/app/beta-shop", Some(ADMIN), None)
        .await;
    assert_eq!(
        (status.as_u16(), body["code"].as_str()),
        (404, Some("not_found"))
    );
});

both!(an_account_key_acts_on_its_own_application_only, |s| {
    let mine = app(&s, "mine").await;
    let theirs = app(&s, "theirs").await;
    let key = key_for(&s, &mine).await;
    let list = s.expect(200, "GET", "/api/v1/app", Some(&key), None).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert_eq!(list["data"][0]["id"], mine.as_str());
    s.expect(200, "GET", "/api/v1/app/mine", Some(&key), None)
        .await;
    for path in [
        format!("/api/v1/app/{theirs}"),
        "/api/v1/app/theirs".to_string(),
        "/api/v1/app/theirs/endpoint".to_string(),
        "/api/v1/app/theirs/msg".to_string(),
    ] {
        let (status, body) = s.call("GET", &path, Some(&key), None).await;
        assert_eq!(status, 404, "{path}: {body}");
        assert_eq!(body["code"], "not_found");
        if !path.contains(theirs.as_str()) {
            assert!(
                !body.to_string().contains(theirs.as_str()),
                "a 404 by uid never names the other account's id: {body}"
            );
        }
    }
    let (status, _) = s
        .call(
            "POST",
            "/api/v1/app/theirs/msg",
            Some(&key),
            Some(json!({"eventType": "invoice.paid", "payload": {}})),
        )
        .await;
    assert_eq!(status, 404);
    let (status, body) = s
        .call(
            "POST",
            "/api/v1/app",
            Some(&key),
            Some(json!({"name": "New"})),
        )
        .await;
    assert_eq!(
        (status.as_u16(), body["code"].as_str()),
        (403, Some("insufficient_access"))
    );
    let (status, _) = s.call("DELETE", "/api/v1/app/mine", Some(&key), None).await;
    assert_eq!(status, 403);
});

both!(
    endpoints_take_both_sdk_generations_and_refuse_empty_filters,
    |s| {
        let receiver = Receiver::start().await;
        app(&s, "acme").await;
        let base = "/api/v1/app/acme/endpoint";
        let (status, body) = s
            .call(
                "POST",
                base,
                Some(ADMIN),
                Some(json!({"url": receiver.url("/"), "filterTypes": []})),
            )
            .await;
        assert_eq!(status, 422);
        assert_eq!(body["detail"][0]["loc"], json!(["body", "filterTypes"]));
        let v1 = s
            .expect(
                201,
                "POST",
                base,
                Some(ADMIN),
                Some(
                    json!({"url": receiver.url("/v1"), "filterTypes": ["payment.completed"],
                        "rateLimit": 5, "uid": "legacy", "version": 1, "description": "old SDK"}),
                ),
            )
            .await;
        assert_eq!(v1["filterTypes"], json!(["payment.completed"]));
        assert_eq!(v1["eventTypes"], json!(["payment.completed"]));
        assert_eq!(
            (v1["rateLimit"].as_u64(), v1["throttleRate"].as_u64()),
            (Some(5), Some(5))
        );
        assert!(v1.get("secret").is_none());
        let v2 = s
            .expect(
                201,
                "POST",
                base,
                Some(ADMIN),
                Some(
                    json!({"url": receiver.url("/v2"), "eventTypes": null, "channels": ["eu"],
                        "throttleRate": 7, "metadata": {"team": "billing"},
                        "headers": {"X-Team": "billing"}}),
                ),
            )
            .await;
        assert_eq!(v2["filterTypes"], Value::Null, "every type");
        assert_eq!(v2["channels"], json!(["eu"]));
        assert_eq!(v2["metadata"]["team"], "billing");
        // Unknown types are refused, as on Svix.
        let (status, body) = s
            .call(
                "PATCH",
                &format!("{base}/legacy"),
                Some(ADMIN),
                Some(json!({"filterTypes": ["no.such.type"]})),
            )
            .await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["detail"][0]["loc"], json!(["body", "filterTypes"]));
        // By uid; PATCH null clears; PUT replaces (and creates what is missing).
        let patched = s
            .expect(
                200,
                "PATCH",
                &format!("{base}/legacy"),
                Some(ADMIN),
                Some(json!({"filterTypes": null, "throttleRate": null})),
            )
            .await;
        assert_eq!(patched["filterTypes"], Value::Null);
        assert_eq!(patched["throttleRate"], Value::Null);
        assert_eq!(patched["description"], "old SDK");
        let replaced = s
            .expect(
                200,
                "PUT",
                &format!("{base}/legacy"),
                Some(ADMIN),
                Some(json!({"url": receiver.url("/v1b")})),
            )
            .await;
        assert_eq!(replaced["description"], "");
        assert_eq!(replaced["uid"], "legacy", "a PUT by uid keeps it");
        let upserted = s
            .expect(
                201,
                "PUT",
                &format!("{base}/fresh"),
                Some(ADMIN),
                Some(json!({"url": receiver.url("/fresh")})),
            )
            .await;
        assert_eq!(upserted["uid"], "fresh");
        let headers = s
            .expect(
                200,
                "GET",
                &format!("{base}/{}/headers", v2["id"].as_str().unwrap()),
                Some(ADMIN),
                None,
            )
            .await;
        assert_eq!(
            headers,
            json!({"headers": {"x-team": "billing"}, "sensitive": []})
        );
        s.expect(
            204,
            "PATCH",
            &format!("{base}/{}/headers", v2["id"].as_str().unwrap()),
            Some(ADMIN),
            Some(json!({"headers": {"x-team": null, "x-region": "eu"}})),
        )
        .await;
        let headers = s
            .expect(
                200,
                "GET",
                &format!("{base}/{}/headers", v2["id"].as_str().unwrap()),
                Some(ADMIN),
                None,
            )
            .await;
        assert_eq!(headers["headers"], json!({"x-region": "eu"}));
        let list = s.expect(200, "GET", base, Some(ADMIN), None).await;
        assert_eq!(list["data"].as_array().unwrap().len(), 3);
        s.expect(204, "DELETE", &format!("{base}/fresh"), Some(ADMIN), None)
            .await;
        let (status, _) = s
            .call("GET", &format!("{base}/fresh"), Some(ADMIN), None)
            .await;
        assert_eq!(status, 404);
    }
);

both!(the_rest_answers_501_or_404_clearly, |s| {
    app(&s, "acme").await;
    let (status, body) = s
        .call(
            "POST",
            "/api/v1/auth/app-portal-access/acme",
            Some(ADMIN),
            Some(json!({})),
        )
        .await;
    assert_eq!(
        (status.as_u16(), body["code"].as_str()),
        (501, Some("not_implemented"))
    );
    assert!(body["detail"]
        .as_str()
        .unwrap()
        .contains("migrating-from-svix"));
    let (status, body) = s
        .call("GET", "/api/v1/nothing-here", Some(ADMIN), None)
        .await;
    assert_eq!(
        (status.as_u16(), body["code"].as_str()),
        (404, Some("not_found"))
    );
    let (status, body) = s
        .call(
            "PUT",
            "/api/v1/event-type/payment.completed",
            Some(ADMIN),
            Some(json!({"description": "x"})),
        )
        .await;
    assert_eq!(
        (status.as_u16(), body["code"].as_str()),
        (501, Some("not_implemented"))
    );
    let (status, body) = s
        .call("DELETE", "/api/v1/app/acme/msg", Some(ADMIN), None)
        .await;
    assert_eq!(
        (status.as_u16(), body["code"].as_str()),
        (405, Some("method_not_allowed"))
    );
    let (status, _) = s.call("GET", "/api/v1/health", None, None).await;
    assert_eq!(status, 204);
    let doc = s.expect(200, "GET", "/openapi.json", None, None).await;
    for path in [
        "/api/v1/app",
        "/api/v1/app/{app_id}/msg",
        "/api/v1/app/{app_id}/attempt/msg/{msg_id}",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} is documented");
    }
});

/// Ids of a Svix list page.
fn page_ids(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_string())
        .collect()
}

both!(lists_page_back_with_prev_iterator, |s| {
    app(&s, "acme").await;
    let send = |n: u32| {
        let s = &s;
        async move {
            let msg = s
                .expect(
                    202,
                    "POST",
                    "/api/v1/app/acme/msg",
                    Some(ADMIN),
                    Some(json!({"eventType": "order.placed", "payload": {"n": n}})),
                )
                .await;
            msg["id"].as_str().unwrap().to_string()
        }
    };
    let mut sent = Vec::new();
    for n in 1..=5 {
        sent.push(send(n).await);
    }
    let list = |query: String| {
        let s = &s;
        async move {
            s.expect(
                200,
                "GET",
                &format!("/api/v1/app/acme/msg?limit=2{query}"),
                Some(ADMIN),
                None,
            )
            .await
        }
    };
    let at =
        |page: &Value, iterator: &str| format!("&iterator={}", page[iterator].as_str().unwrap());
    let page1 = list(String::new()).await;
    assert_eq!(
        page_ids(&page1),
        [sent[4].clone(), sent[3].clone()],
        "newest first"
    );
    let page2 = list(at(&page1, "iterator")).await;
    assert_eq!(page_ids(&page2), [sent[2].clone(), sent[1].clone()]);
    let page3 = list(at(&page2, "iterator")).await;
    assert_eq!(page_ids(&page3), [sent[0].clone()]);
    assert_eq!(
        (page3["done"].clone(), page3["iterator"].clone()),
        (json!(true), Value::Null)
    );
    let prev = page3["prevIterator"].as_str().unwrap();
    assert!(prev.starts_with('-'), "{prev}");

    // Back from page 3: page 2 again, in the same order, with more before it.
    let back2 = list(at(&page3, "prevIterator")).await;
    assert_eq!(page_ids(&back2), page_ids(&page2));
    assert_eq!(back2["done"], false, "page 1 lies before it");
    assert_eq!(back2["iterator"], page2["iterator"], "and page 3 after it");
    let back1 = list(at(&back2, "prevIterator")).await;
    assert_eq!(page_ids(&back1), page_ids(&page1));
    assert_eq!(back1["done"], true, "nothing lies before page 1");
    assert_eq!(back1["prevIterator"], Value::Null);

    // Back from the first page: nothing yet, then what was sent since.
    let newer = list(at(&page1, "prevIterator")).await;
    assert_eq!(newer["data"], json!([]));
    assert_eq!(newer["done"], true);
    let latest = send(6).await;
    let newer = list(at(&page1, "prevIterator")).await;
    assert_eq!(page_ids(&newer), [latest]);
    assert_eq!(newer["done"], true);

    // Endpoints (oldest first) page back the same way.
    let receiver = Receiver::start().await;
    let mut endpoints = Vec::new();
    for n in 0..3 {
        let ep = s
            .expect(
                201,
                "POST",
                "/api/v1/app/acme/endpoint",
                Some(ADMIN),
                Some(json!({"url": receiver.url(&format!("/{n}"))})),
            )
            .await;
        endpoints.push(ep["id"].as_str().unwrap().to_string());
    }
    let endpoint_page = |query: String| {
        let s = &s;
        async move {
            s.expect(
                200,
                "GET",
                &format!("/api/v1/app/acme/endpoint?limit=1{query}"),
                Some(ADMIN),
                None,
            )
            .await
        }
    };
    let first = endpoint_page(String::new()).await;
    let second = endpoint_page(at(&first, "iterator")).await;
    let third = endpoint_page(at(&second, "iterator")).await;
    assert_eq!(page_ids(&third), [endpoints[2].clone()]);
    let back = endpoint_page(at(&third, "prevIterator")).await;
    assert_eq!(page_ids(&back), [endpoints[1].clone()]);
    assert_eq!(back["done"], false);

    for garbage in ["-", "--5", "-abc", "+5"] {
        let (status, body) = s
            .call(
                "GET",
                &format!("/api/v1/app/acme/msg?iterator={garbage}"),
                Some(ADMIN),
                None,
            )
            .await;
        assert_eq!(status, 422, "{garbage}: {body}");
        assert_eq!(body["detail"][0]["loc"], json!(["query", "iterator"]));
    }
});
