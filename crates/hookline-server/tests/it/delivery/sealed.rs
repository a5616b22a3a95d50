//! Secrets sealed at rest (`HOOKLINE_ENCRYPTION_KEY`) still sign and
//! authenticate every delivery, and every reader still gets them: a real
//! receiver checks both signatures of a rotation, an ed25519 (`whsk_`)
//! signature, the basic-auth password of the endpoint's URL and of an
//! event's own URL, and a custom header value; the API, the Svix API and
//! the dashboard reveal the secrets; the raw database (SQLite's files, a
//! dump of PostgreSQL's) holds none of them in the clear. The key rotation
//! and `hookline reseal` through the binary: `crates/hookline/tests/keys.rs`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::json;

use super::signature_valid;
use crate::both;
use crate::harness::{Options, Receiver, TestServer, ADMIN};
use crate::svix::app;

const URL_PASSWORD: &str = "s3cr%40t-91";
const HEADER_VALUE: &str = "hdr-k3y-0451";
const EVENT_PASSWORD: &str = "inv-pa55-77";
const SVIX_HEADER_VALUE: &str = "svx-h3ader-88";

fn sealed() -> Options {
    Options {
        serve: hookline_server::ServeArgs {
            encryption_key: Some(hookline_store::Sealer::generate_key()),
            ..Default::default()
        },
        ..Options::default()
    }
}

/// Everything a database holds, as text: a SQLite database's files
/// (database and write-ahead log, free pages included), or a data-only
/// `pg_dump` of a PostgreSQL database.
pub(crate) fn raw_database(url: &str) -> String {
    if let Some(path) = url.strip_prefix("sqlite://") {
        let mut raw = Vec::new();
        for file in [path.to_string(), format!("{path}-wal")] {
            raw.extend(std::fs::read(file).unwrap_or_default());
        }
        return String::from_utf8_lossy(&raw).into_owned();
    }
    let out = std::process::Command::new("pg_dump")
        .args(["--data-only", "--no-owner", url])
        .output()
        .expect("pg_dump runs");
    assert!(
        out.status.success(),
        "pg_dump: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("a UTF-8 dump")
}

/// A cookie-keeping client logged in to the dashboard with `key`.
async fn dashboard(s: &TestServer, key: &str) -> reqwest::Client {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let page = client
        .get(format!("{}/dashboard/login", s.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let start = page.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    let csrf = page[start..].split('"').next().unwrap().to_string();
    let home = client
        .post(format!("{}/dashboard/login", s.base))
        .form(&[("csrf", csrf.as_str()), ("token", key)])
        .send()
        .await
        .unwrap();
    assert!(home.status().is_success(), "logged in: {}", home.status());
    client
}

both!(
    sealed_secrets_sign_and_authenticate_deliveries,
    sealed(),
    |s| {
        let receiver = Receiver::start().await;
        let (a, key) = s.account("Acme").await;
        let url = format!("http://shop:{URL_PASSWORD}@{}/hooks", receiver.addr);
        let ep = s
            .endpoint(
                &a,
                &key,
                &url,
                json!({"headers": {"X-Api-Key": HEADER_VALUE}}),
            )
            .await;
        let ep_id = ep["id"].as_str().unwrap();
        assert_eq!(
            ep["url"],
            format!("http://shop:****@{}/hooks", receiver.addr)
        );
        let old = ep["secret"].as_str().unwrap().to_string();
        let rotated = s
            .expect(
                200,
                "POST",
                &format!("/v1/accounts/{a}/endpoints/{ep_id}/secret/rotate"),
                Some(&key),
                Some(json!({})),
            )
            .await;
        let new = rotated["secret"].as_str().unwrap().to_string();

        let event = s
            .publish(
                &a,
                &key,
                json!({"type": "payment.completed", "data": {"amount": 1}}),
            )
            .await;
        let r = receiver.wait_for(1).await.remove(0);
        assert_eq!(
            r.header("authorization"),
            Some(format!("Basic {}", STANDARD.encode("shop:s3cr@t-91")))
        );
        assert_eq!(r.header("x-api-key").as_deref(), Some(HEADER_VALUE));
        let (id, ts, sig) = (
            event["id"].as_str().unwrap(),
            r.header("webhook-timestamp").unwrap(),
            r.header("webhook-signature").unwrap(),
        );
        assert!(
            signature_valid(&old, id, &ts, &r.body, &sig),
            "the previous secret signs"
        );
        assert!(
            signature_valid(&new, id, &ts, &r.body, &sig),
            "the new secret signs"
        );

        // An event's own URL: its password authenticates, the account's secret signs.
        let own = Receiver::start().await;
        let event = s
            .publish(
                &a,
                &key,
                json!({"type": "payment.completed", "data": {},
                   "webhook_url": format!("http://invoice:{EVENT_PASSWORD}@{}/in", own.addr)}),
            )
            .await;
        let r = own.wait_for(1).await.remove(0);
        assert_eq!(
            r.header("authorization"),
            Some(format!(
                "Basic {}",
                STANDARD.encode(format!("invoice:{EVENT_PASSWORD}"))
            ))
        );
        let account_secret = s
            .expect(
                200,
                "GET",
                &format!("/v1/accounts/{a}/signing-secret"),
                Some(&key),
                None,
            )
            .await;
        let account_secret = account_secret["secret"].as_str().unwrap().to_string();
        assert!(signature_valid(
            &account_secret,
            event["id"].as_str().unwrap(),
            &r.header("webhook-timestamp").unwrap(),
            &r.body,
            &r.header("webhook-signature").unwrap(),
        ));
        // The API and the dashboard still reveal the secret to its owner.
        let revealed = s
            .expect(
                200,
                "GET",
                &format!("/v1/accounts/{a}/endpoints/{ep_id}/secret"),
                Some(&key),
                None,
            )
            .await;
        assert_eq!(revealed["secret"], new.as_str());
        let shown: serde_json::Value = dashboard(&s, &key)
            .await
            .get(format!(
                "{}/dashboard/accounts/{a}/endpoints/{ep_id}/secret",
                s.base
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(shown["secret"], new.as_str(), "the dashboard reveals it");

        // An ed25519 endpoint: its `whsk_` key is sealed and still signs.
        let signing_key = hookline_verify::SigningKey::from_seed(&[5; 32]);
        let whsk = signing_key.to_whsk();
        let (b, b_key) = s.account("Beta").await;
        let ed_receiver = Receiver::start().await;
        let ed = s
            .endpoint(
                &b,
                &b_key,
                &ed_receiver.url("/ed"),
                json!({"signature_scheme": "ed25519", "secret": whsk}),
            )
            .await;
        assert_eq!(ed["public_key"], signing_key.public_key().to_whpk());
        s.publish(&b, &b_key, json!({"type": "payment.completed", "data": {}}))
            .await;
        let r = ed_receiver.wait_for(1).await.remove(0);
        let public =
            hookline_verify::VerifyKey::parse(&signing_key.public_key().to_whpk()).unwrap();
        hookline_verify::verify_with(
            &[public],
            &hookline_verify::Headers::from_fn(|name| r.header(name)),
            &r.body,
            &Default::default(),
        )
        .expect("the sealed ed25519 key signs");

        // The Svix API reads and rotates the secret of an endpoint found by uid.
        app(&s, "acme").await;
        let svix_secret = format!("whsec_{}", STANDARD.encode([7u8; 32]));
        s.expect(
            201,
            "POST",
            "/api/v1/app/acme/endpoint",
            Some(ADMIN),
            Some(
                json!({"url": receiver.url("/svix"), "uid": "shop", "secret": svix_secret,
                        "headers": {"x-svix-key": SVIX_HEADER_VALUE}}),
            ),
        )
        .await;
        let got = s
            .expect(
                200,
                "GET",
                "/api/v1/app/acme/endpoint/shop/secret",
                Some(ADMIN),
                None,
            )
            .await;
        assert_eq!(got["key"], svix_secret.as_str());
        let svix_rotated = s
            .expect(
                200,
                "POST",
                "/api/v1/app/acme/endpoint/shop/secret/rotate",
                Some(ADMIN),
                Some(json!({})),
            )
            .await;
        let svix_new = svix_rotated["key"].as_str().unwrap().to_string();
        let got = s
            .expect(
                200,
                "GET",
                "/api/v1/app/acme/endpoint/shop/secret",
                Some(ADMIN),
                None,
            )
            .await;
        assert_eq!(got["key"], svix_new.as_str());
        let headers = s
            .expect(
                200,
                "GET",
                "/api/v1/app/acme/endpoint/shop/headers",
                Some(ADMIN),
                None,
            )
            .await;
        assert_eq!(headers["headers"]["x-svix-key"], SVIX_HEADER_VALUE);

        let raw = raw_database(&s.database_url);
        assert!(raw.contains("sealed.v1."), "sealed values are stored");
        for secret in [
            old.as_str(),
            &new,
            &account_secret,
            &whsk,
            &svix_secret,
            &svix_new,
            URL_PASSWORD,
            "s3cr@t-91",
            HEADER_VALUE,
            EVENT_PASSWORD,
            SVIX_HEADER_VALUE,
        ] {
            assert!(!raw.contains(secret), "`{secret}` is in the database");
        }
    }
);

/// A node that lacks the key its database's secrets were sealed with
/// refuses to start, and says which key and what to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_without_the_sealing_key_refuses_to_start() {
    let kept = tempfile::tempdir().unwrap();
    let copy = format!("sqlite://{}/hookline.db", kept.path().display());
    let options = Options {
        database_url: Some(copy.clone()),
        ..sealed()
    };
    let s = TestServer::start_with(hookline_testkit::Backend::Sqlite, options)
        .await
        .unwrap();
    let (a, key) = s.account("Acme").await;
    s.endpoint(&a, &key, "http://127.0.0.1:9/x", json!({}))
        .await;
    s.stop().await;
    for keys in [None, Some(hookline_store::Sealer::generate_key())] {
        let config = hookline_server::Config::from_args(hookline_server::ServeArgs {
            listen: Some("127.0.0.1:0".into()),
            database_url: Some(copy.clone()),
            encryption_key: keys,
            ..Default::default()
        })
        .unwrap();
        let error = hookline_server::App::build(config)
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("HOOKLINE_ENCRYPTION_KEY"), "{error}");
        assert!(error.contains("sealed with encryption key"), "{error}");
    }
}
