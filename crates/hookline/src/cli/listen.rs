//! `hookline listen`: a local receiver for development. It verifies every
//! request with `hookline-verify`, prints one line per webhook (time, type,
//! id, verified or why not), optionally the pretty body, and forwards
//! verified requests to the app under development.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hookline_verify::{verify_with, Headers, Options, VerifyKey};

/// Options of `hookline listen`.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct ListenArgs {
    /// Port to listen on.
    #[arg(long, default_value_t = 3000)]
    pub(crate) port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub(crate) host: String,
    /// The endpoint's signing secret (whsec_…); repeat it during a rotation.
    #[arg(
        long,
        env = "HOOKLINE_LISTEN_SECRET",
        required_unless_present = "public_key",
        hide_env_values = true
    )]
    pub(crate) secret: Vec<String>,
    /// An ed25519 endpoint's public key (whpk_…), to verify `v1a`
    /// signatures; repeat it during a rotation.
    #[arg(long, env = "HOOKLINE_LISTEN_PUBLIC_KEY")]
    pub(crate) public_key: Vec<String>,
    /// Forward verified webhooks (same headers and body) to this URL.
    #[arg(long, value_name = "URL")]
    pub(crate) forward_to: Option<String>,
    /// Print each verified body, pretty-printed.
    #[arg(long)]
    pub(crate) print_body: bool,
}

struct Listener {
    keys: Vec<VerifyKey>,
    forward_to: Option<String>,
    print_body: bool,
    http: reqwest::Client,
    out: Box<dyn Fn(String) + Send + Sync>,
}

pub(crate) async fn run(args: ListenArgs) -> anyhow::Result<()> {
    let addr: SocketAddr = format!("{}:{}", args.host, args.port).parse()?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}; pick another --port"))?;
    let addr = listener.local_addr()?;
    println!("listening on http://{addr} — point an endpoint there (any path); Ctrl-C stops");
    serve(listener, args, |line| println!("{line}")).await
}

/// Serves on `listener`, reporting each webhook through `out`.
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    args: ListenArgs,
    out: impl Fn(String) + Send + Sync + 'static,
) -> anyhow::Result<()> {
    let secrets = args.secret.iter().map(|s| ("--secret", s));
    let public_keys = args.public_key.iter().map(|k| ("--public-key", k));
    let keys = secrets
        .chain(public_keys)
        .map(|(flag, text)| match (flag, VerifyKey::parse(text)) {
            ("--secret", Ok(VerifyKey::Ed25519(_))) => Err(anyhow::anyhow!(
                "--secret: a whpk_ key goes in --public-key"
            )),
            ("--public-key", Ok(VerifyKey::Hmac(_))) | ("--public-key", Err(_)) => Err(
                anyhow::anyhow!("--public-key: give the endpoint's whpk_… public key"),
            ),
            (_, key) => key.map_err(|e| anyhow::anyhow!("{flag}: {e}")),
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let state = Arc::new(Listener {
        keys,
        forward_to: args.forward_to,
        print_body: args.print_body,
        http: reqwest::Client::new(),
        out: Box::new(out),
    });
    let app = axum::Router::new().fallback(receive).with_state(state);
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

async fn receive(
    State(l): State<Arc<Listener>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let time = chrono::Utc::now().format("%H:%M:%S%.3f");
    let webhook = Headers::from_fn(|name| headers.get(name)?.to_str().ok().map(str::to_string));
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let event_type = json["type"].as_str().unwrap_or("?").to_string();
    let id = webhook.id.clone().unwrap_or_else(|| "-".into());
    if let Err(err) = verify_with(&l.keys, &webhook, &body, &Options::default()) {
        (l.out)(format!(
            "{time}  {event_type:<22} {id}  ✗ NOT VERIFIED: {err}"
        ));
        return (StatusCode::UNAUTHORIZED, err.to_string());
    }
    let mut line = format!("{time}  {event_type:<22} {id}  ✓ verified");
    if let Some(target) = &l.forward_to {
        let mut request = l.http.post(target).body(body.clone());
        for (name, value) in &headers {
            if name != "host" && name != "content-length" {
                request = request.header(name, value);
            }
        }
        match request.send().await {
            Ok(r) => line.push_str(&format!("  → forwarded: {}", r.status().as_u16())),
            Err(e) => line.push_str(&format!("  → forward failed: {e}")),
        }
    }
    (l.out)(line);
    if l.print_body {
        (l.out)(serde_json::to_string_pretty(&json).unwrap_or_default());
    }
    (StatusCode::NO_CONTENT, String::new())
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    #[tokio::test]
    async fn verifies_prints_and_forwards() {
        let forwarded = Arc::new(Mutex::new(Vec::<String>::new()));
        let sink = forwarded.clone();
        let app = axum::Router::new().fallback(move |headers: HeaderMap| {
            let sink = sink.clone();
            async move {
                sink.lock()
                    .unwrap()
                    .push(headers["webhook-id"].to_str().unwrap().to_string());
                StatusCode::OK
            }
        });
        let target = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let target_url = format!("http://{}/app", target.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(target, app).await.unwrap() });

        let lines = Arc::new(Mutex::new(Vec::<String>::new()));
        let out = lines.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let args = ListenArgs {
            port: 0,
            host: "127.0.0.1".into(),
            secret: vec![SECRET.into()],
            public_key: Vec::new(),
            forward_to: Some(target_url),
            print_body: true,
        };
        tokio::spawn(serve(listener, args, move |line| {
            out.lock().unwrap().push(line)
        }));

        let body = r#"{"id":"evt_1","type":"payment.completed","data":{}}"#;
        let ts = chrono::Utc::now().timestamp();
        let sig = hookline_verify::sign(
            &hookline_verify::Secret::parse(SECRET).unwrap(),
            "evt_1",
            ts,
            body.as_bytes(),
        );
        let client = reqwest::Client::new();
        let send = |sig: String, body: &'static str| {
            client
                .post(&url)
                .header("webhook-id", "evt_1")
                .header("webhook-timestamp", ts.to_string())
                .header("webhook-signature", sig)
                .body(body)
                .send()
        };
        assert_eq!(
            send(sig.clone(), body).await.unwrap().status().as_u16(),
            204
        );
        assert_eq!(
            send(sig, r#"{"forged":1}"#)
                .await
                .unwrap()
                .status()
                .as_u16(),
            401
        );
        let lines = lines.lock().unwrap().clone();
        assert!(
            lines[0].contains("payment.completed")
                && lines[0].contains("evt_1")
                && lines[0].contains("✓ verified")
        );
        assert!(lines[0].contains("forwarded: 200"), "{}", lines[0]);
        assert!(
            lines[1].contains("\"type\": \"payment.completed\""),
            "pretty body printed"
        );
        assert!(lines[2].contains("NOT VERIFIED") && lines[2].contains("no signature matches"));
        assert_eq!(
            forwarded.lock().unwrap().as_slice(),
            ["evt_1"],
            "only the verified webhook is forwarded"
        );
    }

    #[tokio::test]
    async fn verifies_ed25519_with_the_public_key_alone() {
        let key = hookline_verify::SigningKey::from_seed(&[4; 32]);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let lines = Arc::new(Mutex::new(Vec::<String>::new()));
        let out = lines.clone();
        let args = ListenArgs {
            port: 0,
            host: "127.0.0.1".into(),
            secret: Vec::new(),
            public_key: vec![key.public_key().to_whpk()],
            forward_to: None,
            print_body: false,
        };
        tokio::spawn(serve(listener, args, move |line| {
            out.lock().unwrap().push(line)
        }));
        let body = r#"{"id":"evt_2","type":"refund.completed","data":{}}"#;
        let ts = chrono::Utc::now().timestamp();
        let client = reqwest::Client::new();
        let send = |sig: String| {
            client
                .post(&url)
                .header("webhook-id", "evt_2")
                .header("webhook-timestamp", ts.to_string())
                .header("webhook-signature", sig)
                .body(body)
                .send()
        };
        let good = hookline_verify::sign_v1a(&key, "evt_2", ts, body.as_bytes());
        assert_eq!(send(good).await.unwrap().status().as_u16(), 204);
        let other = hookline_verify::SigningKey::from_seed(&[5; 32]);
        let forged = hookline_verify::sign_v1a(&other, "evt_2", ts, body.as_bytes());
        assert_eq!(send(forged).await.unwrap().status().as_u16(), 401);
        let lines = lines.lock().unwrap().clone();
        assert!(lines[0].contains("✓ verified"), "{lines:?}");
        assert!(lines[1].contains("NOT VERIFIED"), "{lines:?}");
    }

    #[tokio::test]
    async fn keys_in_the_wrong_flag_are_refused() {
        let key = hookline_verify::SigningKey::from_seed(&[4; 32]);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let args = ListenArgs {
            port: 0,
            host: "127.0.0.1".into(),
            secret: vec![key.public_key().to_whpk()],
            public_key: Vec::new(),
            forward_to: None,
            print_body: false,
        };
        let err = serve(listener, args, |_| {}).await.unwrap_err();
        assert!(err.to_string().contains("--public-key"), "{err}");
    }
}
