//! A merchant's webhook receiver in Rust: verify with `hookline-verify`,
//! handle each `webhook-id` once. Run with
//! `WEBHOOK_SECRET=whsec_… cargo run -p hookline-verify --example axum_receiver`.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use hookline_verify::{verify, Headers, Options, Secret};

struct Receiver {
    secret: Secret,
    processed: Mutex<HashSet<String>>, // use your database in production
}

async fn receive(State(app): State<Arc<Receiver>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let headers = Headers::from_fn(|name| headers.get(name)?.to_str().ok().map(str::to_string));
    let verified = match verify(
        std::slice::from_ref(&app.secret),
        &headers,
        &body,
        &Options::default(),
    ) {
        Ok(verified) => verified,
        Err(err) => {
            eprintln!("rejected: {err}");
            return StatusCode::BAD_REQUEST;
        }
    };
    // `webhook-id` is the same on every retry: handle each event once.
    if !app
        .processed
        .lock()
        .expect("not poisoned")
        .insert(verified.id.clone())
    {
        return StatusCode::OK;
    }
    let event: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    println!("handled {} {}", event["type"], verified.id);
    StatusCode::NO_CONTENT
}

#[tokio::main]
async fn main() {
    let secret = std::env::var("WEBHOOK_SECRET")
        .expect("set WEBHOOK_SECRET to the endpoint's whsec_ secret");
    let app = Arc::new(Receiver {
        secret: Secret::parse(&secret).expect("WEBHOOK_SECRET is whsec_…"),
        processed: Mutex::new(HashSet::new()),
    });
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".into());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}"))
        .await
        .expect("port is free");
    let router = Router::new()
        .route("/webhooks", post(receive))
        .with_state(app);
    axum::serve(listener, router).await.expect("server runs");
}
