//! Secrets at rest: with `HOOKLINE_ENCRYPTION_KEY` set, no secret is in the
//! database file or rows in the clear and everything reads back; a rotation
//! (`new,old`) and a re-seal leave nothing under the old key; values
//! written before a key still read and get sealed; a node lacking a key
//! that sealed values refuses to start, saying which.

use std::collections::BTreeMap;

use chrono::Duration;
use hookline_core::Endpoint;
use hookline_store::{
    keyring, PublishOutcome, SealedTable, Sealer, SharedStore, StoredResponse, Target,
};

use crate::harness::*;

const URL_PASSWORD: &str = "pa55-Wd7q";
const HEADER_VALUE: &str = "hdr-k3y-0451";
const PREVIOUS: &str = "whsec_b2xkIHNlY3JldCBmb3Igcm90YXRpb24gdGVzdA==";
const EVENT_PASSWORD: &str = "ev-pa55-9911";

const ANSWER_SECRET: &str = "whsec_YW5zd2VyZWQgc2VjcmV0IG9mIGEgcm90YXRpb24=";

/// An `idempotency-key` answer holding a secret (a Svix rotation's).
async fn remember_answer(store: &SharedStore) {
    let answer = StoredResponse {
        status: 200,
        body: format!(r#"{{"key":"{ANSWER_SECRET}"}}"#),
        created_at: now(),
    };
    let kept = store
        .save_idempotent_response("acct", "idem-1", &answer, now() - Duration::hours(12))
        .await
        .expect("saved");
    assert_eq!(kept, answer);
}

async fn answer_reads_back(store: &SharedStore) {
    let got = store
        .idempotent_response("acct", "idem-1", now() - Duration::hours(12))
        .await
        .expect("read")
        .expect("remembered");
    assert!(got.body.contains(ANSWER_SECRET), "{}", got.body);
}

/// Everything that must never be in the clear.
const SECRETS: [&str; 6] = [
    SECRET,
    ACCOUNT_SECRET,
    PREVIOUS,
    URL_PASSWORD,
    HEADER_VALUE,
    EVENT_PASSWORD,
];

fn key_id(key: &str) -> String {
    Sealer::parse(key)
        .expect("a valid key")
        .sealing_key_id()
        .expect("one key")
        .to_string()
}

/// An endpoint with every kind of secret: URL password, header, a
/// previous secret still signing.
fn secret_endpoint(account: &str) -> Endpoint {
    let mut ep = new_endpoint(account);
    ep.url = format!("https://shop:{URL_PASSWORD}@receiver.example/hook");
    ep.headers = BTreeMap::from([("X-Api-Key".to_string(), HEADER_VALUE.to_string())]);
    ep.previous_secret = Some(PREVIOUS.into());
    ep.previous_secret_expires_at = Some(now() + Duration::hours(1));
    ep
}

/// Stores an account, a secret endpoint, an event to it and one to its own
/// URL with a password; answers the account, endpoint and the two events.
async fn seed(store: &SharedStore) -> (String, Endpoint, String, String) {
    let account = account(store).await;
    let ep = secret_endpoint(&account);
    store.create_endpoint(&ep).await.expect("endpoint created");
    let to_endpoint = new_event(&account, "payment.completed");
    assert_eq!(publish(store, &to_endpoint).await, 1);
    let mut own_url = new_event(&account, "payment.completed");
    own_url.webhook_url = Some(format!("https://buyer:{EVENT_PASSWORD}@own.example/in"));
    match publish_to(store, &own_url, Target::Subscribed).await {
        PublishOutcome::Created { event, .. } => assert_eq!(event, own_url),
        other => panic!("expected Created, got {other:?}"),
    }
    (account, ep, to_endpoint.id, own_url.id)
}

/// Every stored secret reads back as it was written, through every read.
async fn reads_back(store: &SharedStore, account: &str, ep: &Endpoint, events: (&str, &str)) {
    let stored = store.get_endpoint(account, &ep.id).await.expect("endpoint");
    assert_eq!(stored.url, ep.url);
    assert_eq!(stored.headers, ep.headers);
    assert_eq!(stored.secret, ep.secret);
    assert_eq!(stored.previous_secret, ep.previous_secret);
    let listed = store
        .list_endpoints(account, hookline_store::PageRequest::first(10))
        .await
        .expect("endpoints");
    assert!(listed
        .items
        .iter()
        .any(|e| e.url == ep.url && e.secret == ep.secret));
    assert_eq!(
        store.account_signing_secret(account).await.expect("secret"),
        ACCOUNT_SECRET
    );
    let own = store.get_event(account, events.1).await.expect("event");
    let own_url = own.webhook_url.expect("its own URL");
    assert!(own_url.contains(EVENT_PASSWORD), "{own_url}");
    let deliveries = store
        .list_deliveries(account, events.0)
        .await
        .expect("deliveries");
    assert!(
        deliveries[0].url.contains(URL_PASSWORD),
        "{}",
        deliveries[0].url
    );
}

conformance!(no_secret_is_stored_in_the_clear_with_a_key, |t| {
    let key = Sealer::generate_key();
    let t = t.reopen_with(&key).await;
    let (account, ep, to_endpoint, own_url) = seed(&t.store).await;
    remember_answer(&t.store).await;
    answer_reads_back(&t.store).await;
    let raw = t.raw_text().await;
    assert!(
        !raw.contains(ANSWER_SECRET),
        "a remembered answer is sealed"
    );
    for secret in SECRETS {
        assert!(!raw.contains(secret), "`{secret}` is stored in the clear");
    }
    // What must stay searchable and readable is in the clear.
    assert!(raw.contains("receiver.example") && raw.contains("X-Api-Key"));
    assert!(raw.contains(&format!("sealed.v1.{}.", key_id(&key))));
    reads_back(&t.store, &account, &ep, (&to_endpoint, &own_url)).await;
    // Deliveries are claimed with everything opened, ready to sign and send.
    let due = t.store.claim_due(&claim(10)).await.expect("claimed");
    assert_eq!(due.len(), 2);
    let to_ep = due
        .iter()
        .find(|d| d.event_id == to_endpoint)
        .expect("to the endpoint");
    assert_eq!(to_ep.url, ep.url);
    assert_eq!(to_ep.headers, ep.headers);
    assert_eq!(
        to_ep.secrets,
        vec![SECRET.to_string(), PREVIOUS.to_string()]
    );
    let own = due
        .iter()
        .find(|d| d.event_id == own_url)
        .expect("to its own URL");
    assert!(own.url.contains(EVENT_PASSWORD));
    assert_eq!(own.secrets, vec![ACCOUNT_SECRET.to_string()]);
    // Secrets changed later are sealed too, and a value that would read as
    // sealed is refused.
    let mut changed = t
        .store
        .get_endpoint(&account, &ep.id)
        .await
        .expect("endpoint");
    changed
        .headers
        .insert("X-Other".into(), "other-v4lue".into());
    t.store.update_endpoint(&changed).await.expect("updated");
    assert!(!t.raw_text().await.contains("other-v4lue"));
    changed
        .headers
        .insert("X-Other".into(), "sealed.v1.0000.AAAA".into());
    assert!(t.store.update_endpoint(&changed).await.is_err());
});

conformance!(rotation_then_reseal_leaves_nothing_under_the_old_key, |t| {
    // Written before any key: plain, and still readable once keys are set.
    let (account, plain_ep, to_endpoint, own_url) = seed(&t.store).await;
    let (old, new) = (Sealer::generate_key(), Sealer::generate_key());
    let t = t.reopen_with(&old).await;
    reads_back(&t.store, &account, &plain_ep, (&to_endpoint, &own_url)).await;
    let old_ep = secret_endpoint(&account);
    t.store
        .create_endpoint(&old_ep)
        .await
        .expect("endpoint created");
    remember_answer(&t.store).await;
    let mut rotated = t.reopen_with(&format!("{new},{old}")).await;
    reads_back(&rotated.store, &account, &old_ep, (&to_endpoint, &own_url)).await;

    let mut totals = (0, 0);
    for pass in 0..2 {
        let mut resealed = 0;
        for table in SealedTable::ALL {
            let mut after = 0;
            loop {
                // One row a batch, to walk the pages.
                let batch = rotated
                    .store
                    .reseal(table, after, 1)
                    .await
                    .expect("reseals");
                resealed += batch.resealed;
                totals.0 += batch.scanned;
                match batch.next_after {
                    Some(next) => after = next,
                    None => break,
                }
            }
        }
        if pass == 0 {
            // The account, two endpoints, the event's own URL and its
            // delivery, the endpoint's delivery and the remembered answer.
            assert_eq!(resealed, 7, "every row with a secret");
            totals.1 = resealed;
        } else {
            assert_eq!(resealed, 0, "a second pass changes nothing");
        }
    }
    assert!(totals.1 > 0);
    keyring::retire_older_keys(rotated.store.as_ref(), &Sealer::parse(&new).expect("key"))
        .await
        .expect("retired");
    // Rows only: SQLite's free pages and log may keep the plain values
    // written before the key until they are reused (docs/deploy.md).
    let raw = rotated.rows_text().await;
    assert!(
        !raw.contains(&format!("sealed.v1.{}.", key_id(&old))),
        "nothing under the old key"
    );
    for secret in SECRETS {
        assert!(
            !raw.contains(secret),
            "`{secret}` is still in the clear after the re-seal"
        );
    }
    assert_eq!(
        keyring::registered(rotated.store.as_ref())
            .await
            .expect("ids"),
        vec![key_id(&new)]
    );

    // The old key can go: the new one alone reads everything.
    rotated = rotated.reopen_with(&new).await;
    reads_back(
        &rotated.store,
        &account,
        &plain_ep,
        (&to_endpoint, &own_url),
    )
    .await;
    reads_back(&rotated.store, &account, &old_ep, (&to_endpoint, &own_url)).await;
    answer_reads_back(&rotated.store).await;

    // A node without the key that sealed the values refuses to start.
    let (rotated, error) = rotated.open_error(&old).await;
    let error = error.expect("refused without the sealing key");
    assert!(
        error.contains(&key_id(&new)) && error.contains("HOOKLINE_ENCRYPTION_KEY"),
        "{error}"
    );
    assert!(
        !error.contains(&new) && !error.contains(&old),
        "no key in the message"
    );
    let (_rotated, error) = rotated.open_error("").await;
    let error = error.expect("refused without any key");
    assert!(error.contains("is not set"), "{error}");
});
