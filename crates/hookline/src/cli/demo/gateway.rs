//! The simulated payment gateway: sets up a merchant account with endpoints
//! through the real API, then publishes a realistic stream — card and crypto
//! payments (crypto ones confirmed on the blockchain seconds later), failed
//! payments, refunds that are initiated, completed and confirmed, customers
//! created and updated, chargebacks, and one invoice with its own URL.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{bail, Context};
use rand::seq::SliceRandom;
use rand::Rng;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

/// What the gateway created.
pub(super) struct Setup {
    pub(super) account_id: String,
    pub(super) api_key: String,
    /// Receiver path → secret that signs requests to it.
    pub(super) secrets: Vec<(String, String)>,
    client: reqwest::Client,
    invoice_url: String,
}

const ACCOUNT: &str = "acct_demo_merchant";

async fn call(
    client: &reqwest::Client,
    url: String,
    token: &str,
    body: Option<Value>,
) -> anyhow::Result<Value> {
    let request = match body {
        Some(body) => client.post(url).json(&body),
        None => client.get(url),
    };
    let response = request.bearer_auth(token).send().await?;
    let status = response.status();
    let value: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!("Hookline answered {status}: {}", value["error"]["message"]);
    }
    Ok(value)
}

/// Creates the demo account, its API key and its endpoints.
pub(super) async fn setup(base: &str, admin: &str, receivers: SocketAddr) -> anyhow::Result<Setup> {
    let client = reqwest::Client::new();
    call(
        &client,
        format!("{base}/v1/accounts"),
        admin,
        Some(json!({"name": "Demo Merchant", "id": ACCOUNT})),
    )
    .await?;
    let key = call(
        &client,
        format!("{base}/v1/accounts/{ACCOUNT}/api-keys"),
        admin,
        Some(json!({})),
    )
    .await?;
    let api_key = key["key"].as_str().context("an API key")?.to_string();
    let r = format!("http://{receivers}");
    let endpoints = [
        (
            "orders",
            format!("{r}/orders"),
            json!({"description": "Order service: payments and refunds",
            "event_types": ["payment.completed", "payment.failed", "payment.confirmed", "refund.initiated", "refund.completed", "refund.confirmed"]}),
        ),
        (
            "crm",
            format!("{r}/crm"),
            json!({"description": "CRM sync (thin payloads)", "payload": "thin",
            "event_types": ["customer.created", "customer.updated"]}),
        ),
        (
            "risk",
            format!("{r}/risk"),
            json!({"description": "Risk team: chargebacks and declines",
            "event_types": ["transaction.updated", "payment.failed"]}),
        ),
        (
            "ledger",
            format!("http://ledger:s3cret@{receivers}/ledger"),
            json!({"description": "Ledger (basic auth)",
            "event_types": ["payment.confirmed", "refund.confirmed"], "headers": {"X-Ledger-Region": "eu-west"}}),
        ),
        (
            "flaky",
            format!("{r}/flaky"),
            json!({"description": "A flaky legacy system (fails part of the time)"}),
        ),
    ];
    let mut secrets = Vec::new();
    for (path, url, mut extra) in endpoints {
        extra["url"] = Value::from(url);
        let ep = call(
            &client,
            format!("{base}/v1/accounts/{ACCOUNT}/endpoints"),
            &api_key,
            Some(extra),
        )
        .await?;
        secrets.push((
            path.to_string(),
            ep["secret"].as_str().context("a secret")?.to_string(),
        ));
    }
    let signing = call(
        &client,
        format!("{base}/v1/accounts/{ACCOUNT}/signing-secret"),
        &api_key,
        None,
    )
    .await?;
    secrets.push((
        "invoices".into(),
        signing["secret"].as_str().context("a secret")?.to_string(),
    ));
    Ok(Setup {
        account_id: ACCOUNT.into(),
        api_key,
        secrets,
        client,
        invoice_url: format!("http://billing:inv0ice@{receivers}/invoices/inv_2026_0042"),
    })
}

#[derive(Clone, Copy)]
enum Scenario {
    CardPayment,
    CryptoPayment,
    FailedPayment,
    Refund,
    Customer,
    Chargeback,
}

/// Publishes until `shutdown`: first one of everything, then a random mix.
pub(super) async fn run(
    base: &str,
    setup: &Setup,
    interval: Duration,
    shutdown: CancellationToken,
) {
    let publisher = Publisher {
        base: base.to_string(),
        key: setup.api_key.clone(),
        client: setup.client.clone(),
        shutdown: shutdown.clone(),
    };
    publisher
        .publish(
            "payment.completed",
            json!({"invoice_id": "inv_2026_0042", "amount": 12900, "currency": "EUR",
            "status": "completed", "paid_via": "sepa_transfer"}),
            Some(&setup.invoice_url),
        )
        .await;
    let first = [
        Scenario::CryptoPayment,
        Scenario::Refund,
        Scenario::Customer,
        Scenario::FailedPayment,
        Scenario::Chargeback,
        Scenario::CardPayment,
    ];
    let all = first;
    let mut n = 0usize;
    let mut ticker = tokio::time::interval(interval);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let scenario = match first.get(n) {
            Some(s) => *s,
            None => *all
                .choose(&mut rand::thread_rng())
                .expect("scenarios exist"),
        };
        n += 1;
        tokio::spawn(publisher.clone().play(scenario, shutdown.clone()));
    }
}

#[derive(Clone)]
struct Publisher {
    base: String,
    key: String,
    client: reqwest::Client,
    /// Once cancelled, a failed publish is the server stopping, not news.
    shutdown: CancellationToken,
}

impl Publisher {
    async fn publish(&self, event_type: &str, data: Value, webhook_url: Option<&str>) {
        let mut body = json!({"type": event_type, "data": data});
        if let Some(url) = webhook_url {
            body["webhook_url"] = Value::from(url);
        }
        let url = format!("{}/v1/accounts/{ACCOUNT}/events", self.base);
        match call(&self.client, url, &self.key, Some(body)).await {
            Err(err) if !self.shutdown.is_cancelled() => {
                eprintln!("the gateway could not publish {event_type}: {err}");
            }
            _ => {}
        }
    }

    /// Publishes `data` after `delay`, unless the demo is stopping.
    async fn later(
        &self,
        delay: Duration,
        event_type: &str,
        data: Value,
        shutdown: &CancellationToken,
    ) {
        tokio::select! {
            _ = shutdown.cancelled() => {}
            _ = tokio::time::sleep(delay) => self.publish(event_type, data, None).await,
        }
    }

    async fn play(self, scenario: Scenario, shutdown: CancellationToken) {
        let (payment, order, customer) = (
            id("pay_"),
            format!("order_{}", rand::thread_rng().gen_range(10_000..99_999)),
            id("cus_"),
        );
        match scenario {
            Scenario::CardPayment => {
                let brand = *["visa", "mastercard", "amex"]
                    .choose(&mut rand::thread_rng())
                    .expect("brands");
                self.publish("payment.completed", json!({"payment_id": payment, "order_id": order, "amount": amount(),
                    "currency": "USD", "status": "completed", "customer_id": customer,
                    "method": {"type": "card", "brand": brand, "last4": format!("{:04}", rand::thread_rng().gen_range(0..10_000))}}), None).await;
            }
            Scenario::CryptoPayment => {
                let (currency, network, amount) = if rand::thread_rng().gen_bool(0.5) {
                    (
                        "BTC",
                        "bitcoin",
                        format!("0.{:05}", rand::thread_rng().gen_range(100..99_999)),
                    )
                } else {
                    (
                        "USDC",
                        "ethereum",
                        format!("{}.00", rand::thread_rng().gen_range(5..900)),
                    )
                };
                let tx = hex(32);
                self.publish("payment.completed", json!({"payment_id": payment, "order_id": order, "amount": amount,
                    "currency": currency, "status": "completed", "network": network, "tx_hash": tx, "confirmations": 0}), None).await;
                self.later(Duration::from_secs(3), "payment.confirmed", json!({"payment_id": payment, "order_id": order,
                    "amount": amount, "currency": currency, "status": "confirmed", "network": network, "tx_hash": tx,
                    "confirmations": 6, "block_height": rand::thread_rng().gen_range(870_000..880_000)}), &shutdown).await;
            }
            Scenario::FailedPayment => {
                let (code, message) = *[
                    ("card_declined", "The card was declined."),
                    ("insufficient_funds", "The card has insufficient funds."),
                    ("expired_card", "The card has expired."),
                ]
                .choose(&mut rand::thread_rng())
                .expect("reasons");
                self.publish("payment.failed", json!({"payment_id": payment, "order_id": order, "amount": amount(),
                    "currency": "EUR", "status": "failed", "failure": {"code": code, "message": message}}), None).await;
            }
            Scenario::Refund => {
                let refund = json!({"refund_id": id("re_"), "payment_id": payment, "amount": amount() / 2, "currency": "USD",
                    "reason": "requested_by_customer"});
                let with = |status: &str| {
                    let mut r = refund.clone();
                    r["status"] = Value::from(status);
                    r
                };
                self.publish("refund.initiated", with("initiated"), None)
                    .await;
                self.later(
                    Duration::from_secs(2),
                    "refund.completed",
                    with("completed"),
                    &shutdown,
                )
                .await;
                let mut confirmed = with("confirmed");
                confirmed["tx_hash"] = Value::from(hex(32));
                self.later(
                    Duration::from_secs(4),
                    "refund.confirmed",
                    confirmed,
                    &shutdown,
                )
                .await;
            }
            Scenario::Customer => {
                let name = *["Jenny Rosen", "Amara Okafor", "Lukas Meyer", "Mei Chen"]
                    .choose(&mut rand::thread_rng())
                    .expect("names");
                let email = format!("{}@example.com", name.to_lowercase().replace(' ', "."));
                self.publish(
                    "customer.created",
                    json!({"customer_id": customer, "name": name, "email": email, "country": "DE"}),
                    None,
                )
                .await;
                self.later(Duration::from_secs(5), "customer.updated", json!({"customer_id": customer, "name": name,
                    "email": email.replace("example.com", "mail.example"), "country": "DE", "changed": ["email"]}), &shutdown).await;
            }
            Scenario::Chargeback => {
                self.publish("transaction.updated", json!({"transaction_id": id("txn_"), "payment_id": payment, "change": "chargeback",
                    "status": "disputed", "amount": amount(), "currency": "USD",
                    "dispute": {"reason": "fraudulent", "evidence_due_by": "2026-12-09T23:59:59Z"}}), None).await;
            }
        }
    }
}

fn amount() -> u64 {
    rand::thread_rng().gen_range(500..250_000)
}

fn id(prefix: &str) -> String {
    format!("{prefix}{}", &hex(8)[..14])
}

fn hex(bytes: usize) -> String {
    (0..bytes)
        .map(|_| format!("{:02x}", rand::thread_rng().gen::<u8>()))
        .collect()
}
