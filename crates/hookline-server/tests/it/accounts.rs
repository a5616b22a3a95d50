//! Accounts, API keys, authentication and tenant isolation.

use serde_json::json;

use crate::both;
use crate::harness::ADMIN;

both!(accounts_are_managed_by_the_admin, |s| {
    let created = s
        .expect(
            201,
            "POST",
            "/v1/accounts",
            Some(ADMIN),
            Some(json!({"name": "Acme", "id": "acct_acme"})),
        )
        .await;
    assert_eq!(created["id"], "acct_acme");
    assert_eq!(created["name"], "Acme");
    assert!(created["created_at"].as_str().unwrap().ends_with('Z'));

    let conflict = s
        .expect(
            409,
            "POST",
            "/v1/accounts",
            Some(ADMIN),
            Some(json!({"name": "Again", "id": "acct_acme"})),
        )
        .await;
    assert_eq!(conflict["error"]["code"], "conflict");

    let bad_id = s
        .expect(
            422,
            "POST",
            "/v1/accounts",
            Some(ADMIN),
            Some(json!({"name": "X", "id": "ep_nope"})),
        )
        .await;
    assert!(bad_id["error"]["message"]
        .as_str()
        .unwrap()
        .contains("acct_"));
    s.expect(
        422,
        "POST",
        "/v1/accounts",
        Some(ADMIN),
        Some(json!({"name": ""})),
    )
    .await;

    let renamed = s
        .expect(
            200,
            "PATCH",
            "/v1/accounts/acct_acme",
            Some(ADMIN),
            Some(json!({"name": "Acme Ltd"})),
        )
        .await;
    assert_eq!(renamed["name"], "Acme Ltd");
    let got = s
        .expect(200, "GET", "/v1/accounts/acct_acme", Some(ADMIN), None)
        .await;
    assert_eq!(got["name"], "Acme Ltd");

    for i in 0..3 {
        s.expect(
            201,
            "POST",
            "/v1/accounts",
            Some(ADMIN),
            Some(json!({"name": format!("M{i}")})),
        )
        .await;
    }
    let first = s
        .expect(200, "GET", "/v1/accounts?limit=2", Some(ADMIN), None)
        .await;
    assert_eq!(first["data"].as_array().unwrap().len(), 2);
    let cursor = first["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_string();
    let second = s
        .expect(
            200,
            "GET",
            &format!("/v1/accounts?limit=2&cursor={cursor}"),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(second["data"].as_array().unwrap().len(), 2);
    assert!(second["next_cursor"].is_null());
    assert_eq!(first["data"][0]["id"], "acct_acme", "oldest first");

    let secret = s
        .expect(
            200,
            "GET",
            "/v1/accounts/acct_acme/signing-secret",
            Some(ADMIN),
            None,
        )
        .await;
    assert!(secret["secret"].as_str().unwrap().starts_with("whsec_"));

    s.expect(204, "DELETE", "/v1/accounts/acct_acme", Some(ADMIN), None)
        .await;
    s.expect(404, "GET", "/v1/accounts/acct_acme", Some(ADMIN), None)
        .await;
    s.expect(404, "DELETE", "/v1/accounts/acct_acme", Some(ADMIN), None)
        .await;
});

both!(tokens_are_checked, |s| {
    let missing = s.expect(401, "GET", "/v1/accounts", None, None).await;
    assert_eq!(missing["error"]["code"], "unauthorized");
    assert!(missing["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Authorization"));
    s.expect(401, "GET", "/v1/accounts", Some("wrong"), None)
        .await;

    let (account, key) = s.account("Acme").await;
    assert!(key.starts_with("hk_live_"));
    // An account key acts on its own account only, and cannot manage accounts.
    s.expect(
        200,
        "GET",
        &format!("/v1/accounts/{account}/endpoints"),
        Some(&key),
        None,
    )
    .await;
    s.expect(403, "GET", "/v1/accounts", Some(&key), None).await;
    s.expect(
        403,
        "POST",
        &format!("/v1/accounts/{account}/api-keys"),
        Some(&key),
        None,
    )
    .await;
    s.expect(
        200,
        "GET",
        &format!("/v1/accounts/{account}/signing-secret"),
        Some(&key),
        None,
    )
    .await;
    s.expect(
        404,
        "POST",
        "/v1/accounts/acct_nobody/api-keys",
        Some(ADMIN),
        None,
    )
    .await;
});

both!(accounts_never_see_each_other, |s| {
    let (a, key_a) = s.account("A").await;
    let (b, key_b) = s.account("B").await;
    let receiver_url = "http://127.0.0.1:9/hook";
    let ep = s.endpoint(&a, &key_a, receiver_url, json!({})).await;
    let ep_id = ep["id"].as_str().unwrap();
    let event = s
        .publish(
            &a,
            &key_a,
            json!({"type": "payment.completed", "data": {"x": 1}}),
        )
        .await;
    let evt_id = event["id"].as_str().unwrap();

    // B's key on A's account, and A's objects under B's account: 404, no data.
    for path in [
        format!("/v1/accounts/{a}/endpoints"),
        format!("/v1/accounts/{a}/endpoints/{ep_id}"),
        format!("/v1/accounts/{a}/events/{evt_id}"),
        format!("/v1/accounts/{a}/signing-secret"),
        format!("/v1/accounts/{b}/endpoints/{ep_id}"),
        format!("/v1/accounts/{b}/endpoints/{ep_id}/secret"),
        format!("/v1/accounts/{b}/events/{evt_id}"),
        format!("/v1/accounts/{b}/events/{evt_id}/attempts"),
    ] {
        let body = s.expect(404, "GET", &path, Some(&key_b), None).await;
        assert_eq!(body["error"]["code"], "not_found", "{path}");
        assert!(!body.to_string().contains(receiver_url));
    }
    s.expect(
        404,
        "PATCH",
        &format!("/v1/accounts/{b}/endpoints/{ep_id}"),
        Some(&key_b),
        Some(json!({"disabled": true})),
    )
    .await;
    s.expect(
        404,
        "DELETE",
        &format!("/v1/accounts/{b}/endpoints/{ep_id}"),
        Some(&key_b),
        None,
    )
    .await;
    s.expect(
        404,
        "POST",
        &format!("/v1/accounts/{b}/events/{evt_id}/resend"),
        Some(&key_b),
        Some(json!({})),
    )
    .await;
    s.expect(
        404,
        "POST",
        &format!("/v1/accounts/{b}/endpoints/{ep_id}/test"),
        Some(&key_b),
        Some(json!({})),
    )
    .await;
    s.expect(
        404,
        "POST",
        &format!("/v1/accounts/{b}/events/{evt_id}/resend"),
        Some(&key_b),
        Some(json!({"endpoint_id": ep_id})),
    )
    .await;
    let list = s
        .expect(
            200,
            "GET",
            &format!("/v1/accounts/{b}/events"),
            Some(&key_b),
            None,
        )
        .await;
    assert_eq!(list["data"].as_array().unwrap().len(), 0);
    // The same event id in another account is a different event.
    let same_id = json!({"type": "payment.completed", "data": {"y": 2}, "id": evt_id});
    s.expect(
        202,
        "POST",
        &format!("/v1/accounts/{b}/events"),
        Some(&key_b),
        Some(same_id),
    )
    .await;
});
