//! One attempt: build the body from stored bytes, sign it, send it, and
//! decide what happens next (success, retry at a time, give up, disable the
//! endpoint). The decisions themselves are the pure policy in
//! `hookline_core::policy`; this file only gathers its inputs (the clock,
//! random jitter, what the store knew, what the request came to).

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use hookline_core::concurrency::Answer;
use hookline_core::policy::{self, AttemptFacts, DeliveryState};
use hookline_core::{
    delivery_body, Attempt, AttemptOutcome, EventFormat, Exchange, Id, IdKind, Jitter,
    RetrySchedule,
};
use hookline_store::{AttemptResult, DueDelivery};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE};

use super::client::{DeliveryClient, SendResult};

/// Makes one attempt of `due` and returns what to record and what the
/// answer says about the endpoint's load.
pub(super) async fn run(
    client: &DeliveryClient,
    schedule: &RetrySchedule,
    due: &DueDelivery,
) -> (AttemptResult, Answer) {
    let started_at = Utc::now();
    let body = delivery_body(
        due.format,
        &due.event_id,
        &due.event_type,
        due.event_created_at,
        &due.account_id,
        &due.data,
        due.payload,
    );
    let (sent, request_headers) = match reqwest::Url::parse(&due.url) {
        Ok(url) => {
            let (url, basic_auth) = hookline_core::net::split_basic_auth(&url);
            let masked_auth = basic_auth.is_some();
            let headers = headers(due, started_at.timestamp(), &body, basic_auth);
            let logged = as_logged(&headers, &due.headers, masked_auth, body.len());
            (client.post(&url, headers, Bytes::from(body)).await, logged)
        }
        Err(_) => (
            SendResult {
                outcome: AttemptOutcome::Blocked,
                status_code: None,
                error: Some("the URL is not valid".into()),
                response_body: String::new(),
                response_headers: Vec::new(),
                retry_after: None,
                duration: Duration::ZERO,
            },
            Vec::new(),
        ),
    };
    let answer = Answer::of(sent.outcome, sent.status_code, sent.retry_after);
    (
        decide(schedule, due, started_at, sent, request_headers),
        answer,
    )
}

/// The request's headers as the attempt log keeps them: every header set
/// here, then what the client adds (`User-Agent`, reqwest's default
/// `Accept`) and the body's `Content-Length`; an
/// `Authorization` made from the URL's user info is masked, like the URL,
/// and so is the value of every header of the endpoint's own (`custom`),
/// which are secrets sealed at rest: the attempt log never holds them.
fn as_logged(
    headers: &HeaderMap,
    custom: &BTreeMap<String, String>,
    mask_auth: bool,
    body_len: usize,
) -> Vec<(String, String)> {
    let mut logged: Vec<(String, String)> = headers
        .iter()
        .map(|(name, value)| {
            let value = if mask_auth && name == AUTHORIZATION {
                "Basic ****".to_string()
            } else if custom.keys().any(|c| c.eq_ignore_ascii_case(name.as_str())) {
                "****".to_string()
            } else {
                String::from_utf8_lossy(value.as_bytes()).into_owned()
            };
            (name.as_str().to_string(), value)
        })
        .collect();
    logged.push(("user-agent".into(), super::client::USER_AGENT.into()));
    logged.push(("accept".into(), "*/*".into()));
    logged.push(("content-length".into(), body_len.to_string()));
    logged
}

/// Signed headers: Standard Webhooks, `x-signature`, the endpoint's own,
/// and for a Svix-format event the same three again as `svix-*` (what
/// receivers written against Svix look for).
fn headers(due: &DueDelivery, timestamp: i64, body: &str, basic_auth: Option<String>) -> HeaderMap {
    let mut headers = HeaderMap::with_capacity(8 + due.headers.len());
    for (name, value) in &due.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::try_from(name.as_str()),
            HeaderValue::from_str(value),
        ) {
            headers.insert(name, value);
        }
    }
    if let Some(value) = basic_auth.and_then(|v| HeaderValue::from_str(&v).ok()) {
        headers.insert(AUTHORIZATION, value);
    }
    let signature = signature(&due.secrets, &due.event_id, timestamp, body);
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let text =
        |s: &str| HeaderValue::from_str(s).expect("ids, digits and base64 are valid header text");
    headers.insert("webhook-id", text(&due.event_id));
    headers.insert("webhook-timestamp", text(&timestamp.to_string()));
    headers.insert("webhook-signature", text(&signature));
    headers.insert("x-signature", text(&signature));
    if due.format == EventFormat::Svix {
        headers.insert("svix-id", text(&due.event_id));
        headers.insert("svix-timestamp", text(&timestamp.to_string()));
        headers.insert("svix-signature", text(&signature));
    }
    headers
}

/// `v1,<sig>` (HMAC) or `v1a,<sig>` (ed25519) for each key, space-separated
/// (two during a rotation, of either scheme).
fn signature(secrets: &[String], msg_id: &str, timestamp: i64, body: &str) -> String {
    let signers: Vec<hookline_verify::Signer> = secrets
        .iter()
        .filter_map(|s| hookline_verify::Signer::parse(s).ok())
        .collect();
    hookline_verify::sign_with(&signers, msg_id, timestamp, body.as_bytes())
}

/// Turns what the request came to into the attempt row and its
/// consequences, as the policy in `hookline_core::policy` decides them.
fn decide(
    schedule: &RetrySchedule,
    due: &DueDelivery,
    started_at: chrono::DateTime<Utc>,
    sent: SendResult,
    request_headers: Vec<(String, String)>,
) -> AttemptResult {
    let state = DeliveryState {
        attempts_made: due.attempts,
        first_attempt_at: due.first_attempt_at,
        to_endpoint: due.endpoint_id.is_some(),
        endpoint_failing_since: due.endpoint_failing_since,
    };
    let facts = AttemptFacts {
        outcome: sent.outcome,
        status_code: sent.status_code,
        retry_after: sent.retry_after,
        started_at,
    };
    let decision = policy::decide(schedule, Utc::now(), state, facts, Jitter::random());
    AttemptResult {
        attempt: Attempt {
            id: Id::generate(IdKind::Attempt),
            delivery_id: due.delivery_id.clone(),
            event_id: due.event_id.clone(),
            account_id: due.account_id.clone(),
            endpoint_id: due.endpoint_id.clone(),
            url: hookline_core::net::mask_url(&due.url),
            attempt: due.attempts + 1,
            started_at,
            duration_ms: sent.duration.as_millis() as u64,
            outcome: sent.outcome,
            status_code: sent.status_code,
            error: sent.error,
            response_body: sent.response_body,
            // The store takes it from the delivery.
            manual: false,
            exchange: Some(Exchange {
                request_headers,
                payload: due.payload,
                response_headers: sent.response_headers,
            }),
        },
        next: decision.next,
        endpoint_effect: decision.endpoint_effect,
        lease_epoch: due.lease_epoch,
    }
}
