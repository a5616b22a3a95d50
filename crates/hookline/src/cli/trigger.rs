//! `hookline trigger TYPE`: publish a sample event to a running server, like
//! `stripe trigger`. The payload is the catalogue's example unless `--data`
//! gives one.

use anyhow::{bail, Context};
use serde_json::Value;

/// Options of `hookline trigger`.
#[derive(clap::Args, Debug)]
pub(crate) struct TriggerArgs {
    /// Event type, e.g. payment.completed.
    event_type: String,
    /// The event's `data` as JSON (default: the catalogue example).
    #[arg(long)]
    data: Option<String>,
    /// Account to publish to (default: the only account, if there is one).
    #[arg(long, env = "HOOKLINE_ACCOUNT")]
    account: Option<String>,
    /// Event id, for idempotent publishing.
    #[arg(long)]
    id: Option<String>,
    /// Send to this URL instead of the account's endpoints.
    #[arg(long)]
    webhook_url: Option<String>,
    /// Hookline's base URL.
    #[arg(long, env = "HOOKLINE_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Admin token or the account's API key.
    #[arg(long, env = "HOOKLINE_TOKEN", hide_env_values = true)]
    token: String,
}

pub(crate) async fn run(args: TriggerArgs) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let base = args.url.trim_end_matches('/').to_string();
    let get = |path: String| {
        let request = client.get(format!("{base}{path}")).bearer_auth(&args.token);
        async move { answer(request).await }
    };
    let data: Value = match &args.data {
        Some(text) => serde_json::from_str(text).context("--data is not valid JSON")?,
        None => {
            let types = get("/v1/event-types".into()).await?;
            let known = types["data"].as_array().cloned().unwrap_or_default();
            match known.iter().find(|t| t["name"] == args.event_type.as_str()) {
                Some(t) => t["example"].clone(),
                None => bail!(
                    "unknown event type `{}`; known types: {}",
                    args.event_type,
                    known
                        .iter()
                        .filter_map(|t| t["name"].as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }
        }
    };
    let account = match args.account.clone() {
        Some(account) => account,
        None => {
            let accounts = get("/v1/accounts".into()).await.context(
                "pass --account (or HOOKLINE_ACCOUNT): with an account API key the account cannot be guessed",
            )?;
            let ids: Vec<String> = accounts["data"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x["id"].as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            match ids.as_slice() {
                [only] => only.clone(),
                [] => bail!("there are no accounts yet; create one with POST /v1/accounts"),
                many => bail!(
                    "several accounts exist; pass --account, one of: {}",
                    many.join(", ")
                ),
            }
        }
    };
    let mut body = serde_json::json!({"type": args.event_type, "data": data});
    if let Some(id) = &args.id {
        body["id"] = Value::from(id.as_str());
    }
    if let Some(url) = &args.webhook_url {
        body["webhook_url"] = Value::from(url.as_str());
    }
    let request = client
        .post(format!("{base}/v1/accounts/{account}/events"))
        .bearer_auth(&args.token)
        .json(&body);
    let event = answer(request).await?;
    let id = event["id"].as_str().unwrap_or("?");
    println!("published {} {id} to {account}", args.event_type);
    println!("  see it: {base}/dashboard/accounts/{account}/events/{id}");
    println!("  API:    {base}/v1/accounts/{account}/events/{id}");
    Ok(())
}

/// The JSON answer, or the API's error message.
async fn answer(request: reqwest::RequestBuilder) -> anyhow::Result<Value> {
    let response = request
        .send()
        .await
        .context("could not reach Hookline; is `hookline serve` running? (--url / HOOKLINE_URL)")?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        let message = body["error"]["message"].as_str().unwrap_or("no details");
        bail!("Hookline answered {status}: {message}");
    }
    Ok(body)
}
