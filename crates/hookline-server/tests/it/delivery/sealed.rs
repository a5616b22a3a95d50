//! Secrets sealed at rest (`HOOKLINE_ENCRYPTION_KEY`) still sign and
//! authenticate every delivery: a real receiver checks both signatures of a
//! rotation, the basic-auth password of the endpoint's URL and of an
//! event's own URL, and a custom header value.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::json;

use super::signature_valid;
use crate::both;
use crate::harness::{Options, Receiver, TestServer};

const URL_PASSWORD: &str = "s3cr%40t-91";
const HEADER_VALUE: &str = "hdr-k3y-0451";
const EVENT_PASSWORD: &str = "inv-pa55-77";

fn sealed() -> Options {
    Options {
        serve: hookline_server::ServeArgs {
            encryption_key: Some(hookline_store::Sealer::generate_key()),
            ..Default::default()
        },
        ..Options::default()
    }
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
        assert!(signature_valid(
            account_secret["secret"].as_str().unwrap(),
            event["id"].as_str().unwrap(),
            &r.header("webhook-timestamp").unwrap(),
            &r.body,
            &r.header("webhook-signature").unwrap(),
        ));
        // The API still reveals the secret to its owner.
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

        if let Some(path) = s.database_url.strip_prefix("sqlite://") {
            let mut raw = Vec::new();
            for file in [path.to_string(), format!("{path}-wal")] {
                raw.extend(std::fs::read(file).unwrap_or_default());
            }
            let raw = String::from_utf8_lossy(&raw);
            let account_secret = account_secret["secret"].as_str().unwrap();
            for secret in [
                old.as_str(),
                &new,
                account_secret,
                URL_PASSWORD,
                HEADER_VALUE,
                EVENT_PASSWORD,
            ] {
                assert!(!raw.contains(secret), "`{secret}` is in the database file");
            }
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
