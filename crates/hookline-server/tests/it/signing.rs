//! Ed25519 endpoints end to end: `v1a` signatures a receiver verifies with
//! the `whpk_` public key alone, the signing key never shown, rotation and
//! a switch of scheme signing with both keys for 24 hours.

use hookline_verify::{verify_with, Headers, Options, VerifyKey};
use serde_json::{json, Value};

use crate::both;
use crate::harness::{Received, Receiver};

/// Whether `request` verifies with every one of `keys` (each alone).
fn verifies_with_each(request: &Received, keys: &[&str]) -> bool {
    let headers = Headers::from_fn(|name| request.header(name));
    keys.iter().all(|key| {
        let key = VerifyKey::parse(key).expect("a key");
        verify_with(&[key], &headers, &request.body, &Options::default()).is_ok()
    })
}

fn signatures(request: &Received) -> Vec<String> {
    let header = request.header("webhook-signature").expect("signed");
    header.split(' ').map(str::to_string).collect()
}

both!(
    ed25519_endpoints_sign_v1a_that_the_public_key_verifies,
    |s| {
        let (a, key) = s.account("Acme").await;
        let receiver = Receiver::start().await;
        let ep = s
            .endpoint(
                &a,
                &key,
                &receiver.url("/hooks"),
                json!({"signature_scheme": "ed25519"}),
            )
            .await;
        let id = ep["id"].as_str().unwrap().to_string();
        let base = format!("/v1/accounts/{a}/endpoints/{id}");
        assert_eq!(ep["signature_scheme"], "ed25519");
        assert!(ep.get("secret").is_none(), "the signing key is never shown");
        let public = ep["public_key"].as_str().unwrap().to_string();
        assert!(public.starts_with("whpk_"));
        let served = s
            .expect(200, "GET", &format!("{base}/public-key"), Some(&key), None)
            .await;
        assert_eq!(served["public_key"], public.as_str());
        assert!(served["previous_public_key"].is_null());
        let refused = s
            .expect(409, "GET", &format!("{base}/secret"), Some(&key), None)
            .await;
        assert!(refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("public-key"));

        s.publish(
            &a,
            &key,
            json!({"type": "payment.completed", "data": {"amount": 1}}),
        )
        .await;
        let got = receiver.wait_for(1).await;
        let sigs = signatures(&got[0]);
        assert_eq!(sigs.len(), 1);
        assert!(sigs[0].starts_with("v1a,"), "{sigs:?}");
        assert!(verifies_with_each(&got[0], &[&public]));
        let stranger = hookline_verify::SigningKey::from_seed(&[8; 32])
            .public_key()
            .to_whpk();
        assert!(!verifies_with_each(&got[0], &[&stranger]));

        // Rotation: a new key pair; for 24 hours both sign.
        let rotated = s
            .expect(
                200,
                "POST",
                &format!("{base}/secret/rotate"),
                Some(&key),
                Some(json!({})),
            )
            .await;
        assert!(rotated.get("secret").is_none());
        let new_public = rotated["public_key"].as_str().unwrap().to_string();
        assert_ne!(new_public, public);
        let served = s
            .expect(200, "GET", &format!("{base}/public-key"), Some(&key), None)
            .await;
        assert_eq!(served["public_key"], new_public.as_str());
        assert_eq!(served["previous_public_key"], public.as_str());
        assert!(served["previous_expires_at"].is_string());
        s.publish(
            &a,
            &key,
            json!({"type": "payment.completed", "data": {"amount": 2}}),
        )
        .await;
        let got = receiver.wait_for(2).await;
        assert_eq!(signatures(&got[1]).len(), 2);
        assert!(verifies_with_each(&got[1], &[&public, &new_public]));
    }
);

both!(
    switching_scheme_rotates_and_signs_with_both_for_a_day,
    |s| {
        let (a, key) = s.account("Acme").await;
        let receiver = Receiver::start().await;
        let ep = s
            .endpoint(&a, &key, &receiver.url("/hooks"), json!({}))
            .await;
        assert_eq!(ep["signature_scheme"], "hmac-sha256");
        let secret = ep["secret"].as_str().unwrap().to_string();
        let id = ep["id"].as_str().unwrap().to_string();
        let base = format!("/v1/accounts/{a}/endpoints/{id}");
        let none = s
            .expect(409, "GET", &format!("{base}/public-key"), Some(&key), None)
            .await;
        assert!(none["error"]["message"]
            .as_str()
            .unwrap()
            .contains("ed25519"));

        let switched = s
            .expect(
                200,
                "PATCH",
                &base,
                Some(&key),
                Some(json!({"signature_scheme": "ed25519"})),
            )
            .await;
        let public = switched["public_key"].as_str().unwrap().to_string();
        s.publish(&a, &key, json!({"type": "payment.completed", "data": {}}))
            .await;
        let got = receiver.wait_for(1).await;
        let sigs = signatures(&got[0]);
        assert!(
            sigs.iter().any(|s| s.starts_with("v1a,")) && sigs.iter().any(|s| s.starts_with("v1,")),
            "the new ed25519 and the old HMAC signature: {sigs:?}"
        );
        assert!(verifies_with_each(&got[0], &[&public, &secret]));
        // Setting the same scheme again changes nothing.
        let same = s
            .expect(
                200,
                "PATCH",
                &base,
                Some(&key),
                Some(json!({"signature_scheme": "ed25519"})),
            )
            .await;
        assert_eq!(same["public_key"], public.as_str());
    }
);

both!(signing_keys_are_checked_against_the_scheme, |s| {
    let (a, key) = s.account("Acme").await;
    let base = format!("/v1/accounts/{a}/endpoints");
    let url = "https://example.com/hooks";
    let wrong_kind = s
        .expect(
            422,
            "POST",
            &base,
            Some(&key),
            Some(json!({"url": url, "signature_scheme": "ed25519", "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"})),
        )
        .await;
    assert!(wrong_kind["error"]["message"]
        .as_str()
        .unwrap()
        .contains("whsk_"));
    let unknown: Value = s
        .expect(
            422,
            "POST",
            &base,
            Some(&key),
            Some(json!({"url": url, "signature_scheme": "rsa"})),
        )
        .await;
    assert!(unknown["error"]["message"]
        .as_str()
        .unwrap()
        .contains("signature_scheme"));
    // A whsk_ key brought along (e.g. from another provider) is accepted.
    let own = hookline_verify::SigningKey::from_seed(&[6; 32]);
    let imported = s
        .expect(
            201,
            "POST",
            &base,
            Some(&key),
            Some(json!({"url": url, "signature_scheme": "ed25519", "secret": own.to_whsk()})),
        )
        .await;
    assert_eq!(imported["public_key"], own.public_key().to_whpk().as_str());
});

both!(a_key_names_its_scheme_and_is_stored_trimmed, |s| {
    let (a, key) = s.account("Acme").await;
    let base = format!("/v1/accounts/{a}/endpoints");
    let url = "https://example.com/hooks";
    let own = hookline_verify::SigningKey::from_seed(&[7; 32]);
    let own_public = own.public_key().to_whpk();
    // A whsk_ key without a scheme makes an ed25519 endpoint from the start:
    // no rotation away from a generated key, so no previous key signs.
    let created = s
        .expect(
            201,
            "POST",
            &base,
            Some(&key),
            Some(json!({"url": url, "secret": format!(" {}\n", own.to_whsk())})),
        )
        .await;
    assert_eq!(created["signature_scheme"], "ed25519", "{created}");
    assert_eq!(created["public_key"], own_public.as_str());
    let id = created["id"].as_str().unwrap().to_string();
    let keys = s
        .expect(
            200,
            "GET",
            &format!("{base}/{id}/public-key"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(keys["previous_public_key"], Value::Null, "{keys}");

    // A PATCH or a rotation with a key of the other scheme switches to it.
    let hmac = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let rotated = s
        .expect(
            200,
            "POST",
            &format!("{base}/{id}/secret/rotate"),
            Some(&key),
            Some(json!({"secret": format!("{hmac}\r\n")})),
        )
        .await;
    assert_eq!(rotated, json!({"secret": hmac}));
    let ep = s
        .expect(200, "GET", &format!("{base}/{id}"), Some(&key), None)
        .await;
    assert_eq!(ep["signature_scheme"], "hmac-sha256", "{ep}");
    let stored = s
        .expect(200, "GET", &format!("{base}/{id}/secret"), Some(&key), None)
        .await;
    assert_eq!(stored["secret"], hmac, "stored without the line break");
    let patched = s
        .expect(
            200,
            "PATCH",
            &format!("{base}/{id}"),
            Some(&key),
            Some(json!({"secret": own.to_whsk()})),
        )
        .await;
    assert_eq!(patched["signature_scheme"], "ed25519", "{patched}");
    assert_eq!(patched["public_key"], own_public.as_str());

    // A key that contradicts the scheme given beside it is refused.
    for body in [
        json!({"signature_scheme": "hmac-sha256", "secret": own.to_whsk()}),
        json!({"signature_scheme": "ed25519", "secret": hmac}),
    ] {
        s.expect(
            422,
            "PATCH",
            &format!("{base}/{id}"),
            Some(&key),
            Some(body),
        )
        .await;
    }
});
