//! The delivery engine end to end, one file per concern (`signing`,
//! `routing`, `retries`, `engine`), with the helpers they share here.

mod engine;
mod retries;
mod routing;
mod sealed;
mod signing;

use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::harness::{eventually, TestServer};

/// An independent Standard Webhooks check (not Hookline's signing code).
fn signature_valid(secret: &str, id: &str, timestamp: &str, body: &[u8], header: &str) -> bool {
    let key = STANDARD
        .decode(secret.trim_start_matches("whsec_"))
        .expect("secret is base64");
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("any key length");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    header.split(' ').any(|candidate| candidate == expected)
}

async fn wait_event<F: Fn(&Value) -> bool>(
    s: &TestServer,
    a: &str,
    key: &str,
    id: &str,
    what: &str,
    done: F,
) -> Value {
    eventually(what, Duration::from_secs(20), || async {
        let e = s.event(a, key, id).await;
        done(&e).then_some(e)
    })
    .await
}

async fn attempts(s: &TestServer, a: &str, key: &str, event: &str) -> Vec<Value> {
    let v = s
        .expect(
            200,
            "GET",
            &format!("/v1/accounts/{a}/events/{event}/attempts"),
            Some(key),
            None,
        )
        .await;
    v["data"].as_array().unwrap().clone()
}
