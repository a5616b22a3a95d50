//! The dashboard in a real headless Chromium, driven over WebDriver: log in,
//! add an endpoint, send a test event and see its 2xx attempt, make the
//! receiver fail and watch a retry appear without reloading, resend, disable
//! the endpoint, and log out. Needs Debian's `chromium` and `chromium-driver`
//! (`scripts/test` installs them).

#![allow(unreachable_pub, dead_code)]

#[path = "it/harness.rs"]
mod harness;
#[path = "it/pg.rs"]
mod pg;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use harness::{Backend, Receiver, Reply, TestServer};
use hyper_util::client::legacy::connect::HttpConnector;

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn browser() -> (Driver, Client, tempfile::TempDir) {
    let chromedriver = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect(
            "chromedriver is missing: apt-get install chromium chromium-driver (scripts/test does)",
        );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let driver = Driver(
        Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts"),
    );
    let profile = tempfile::tempdir().unwrap();
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({

            "binary": "/usr/bin/chromium",
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-dev-shm-usage", "--disable-component-update", "--no-first-run", "--window-size=1280,1400",
                     format!("--user-data-dir={}", profile.path().display())]
        }),
    );
    let url = format!("http://127.0.0.1:{port}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        match ClientBuilder::new(HttpConnector::new())
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            Ok(client) => return (driver, client, profile),
            Err(err) => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "could not start Chromium through chromedriver: {err}"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

/// Waits until the page's HTML contains `text`, without reloading it.
async fn wait_for_text(client: &Client, text: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if client.source().await.unwrap().contains(text) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the page never showed `{text}`"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Saves a screenshot when `HOOKLINE_SCREENSHOTS` names a directory (to look at the pages).
async fn snap(client: &Client, name: &str) {
    if let Ok(dir) = std::env::var("HOOKLINE_SCREENSHOTS") {
        let png = client.screenshot().await.unwrap();
        std::fs::write(std::path::Path::new(&dir).join(format!("{name}.png")), png).unwrap();
    }
}

async fn click(client: &Client, css: &str) {
    client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap();
}

async fn fill(client: &Client, css: &str, text: &str) {
    client
        .find(Locator::Css(css))
        .await
        .unwrap()
        .send_keys(text)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merchant_uses_the_dashboard_in_a_real_browser() {
    let s = TestServer::start(Backend::Sqlite).await.unwrap();
    let receiver = Receiver::start().await;
    let (account, key) = s.account("Acme").await;
    let (_driver, c, _profile) = browser().await;

    // A wrong key is refused with a clear message.
    c.goto(&format!("{}/dashboard", s.base)).await.unwrap();
    fill(&c, "#token", "hk_live_not_a_key").await;
    click(&c, "form button[type=submit]").await;
    wait_for_text(&c, "That key was not accepted").await;
    snap(&c, "login").await;

    // Log in and add an endpoint pointing at the local receiver.
    fill(&c, "#token", &key).await;
    click(&c, "form button[type=submit]").await;
    wait_for_text(&c, "No endpoints yet").await;
    click(&c, "a.button.primary").await;
    fill(&c, "#url", &receiver.url("/webhooks")).await;
    fill(&c, "#description", "Order service").await;
    click(&c, "input[value='payment.completed']").await;
    click(&c, "form.form button[type=submit]").await;
    wait_for_text(&c, "Endpoint added").await;
    snap(&c, "endpoint").await;
    let endpoint_url = c.current_url().await.unwrap().to_string();

    // Send a test event and see its 2xx attempt on the event's page.
    click(&c, "form[action$='/test'] button").await;
    wait_for_text(&c, "Payload").await;
    wait_for_text(&c, "HTTP 200").await;

    // The receiver fails: a retry appears on the page without a reload.
    receiver.set_default(Reply::status(500));
    c.goto(&endpoint_url).await.unwrap();
    click(&c, "form[action$='/test'] button").await;
    wait_for_text(&c, "HTTP 500").await;
    wait_for_text(&c, "attempt 2").await;
    wait_for_text(&c, "failed").await;
    snap(&c, "event-retries").await;

    // Resend once the receiver is back.
    receiver.set_default(Reply::status(200));
    click(&c, "form[action$='/resend'] button").await;
    wait_for_text(&c, "HTTP 200").await;

    // Disable the endpoint.
    c.goto(&endpoint_url).await.unwrap();
    click(&c, "form[action$='/toggle'] button").await;
    wait_for_text(&c, "The endpoint is disabled").await;

    // A form posted without its CSRF token is rejected.
    c.execute(
        "const f = document.querySelector(\"form[action$='/toggle']\"); f.querySelector('[name=csrf]').remove(); f.submit();",
        vec![],
    )
    .await
    .unwrap();
    wait_for_text(&c, "Form expired").await;

    // Log out and be refused.
    c.goto(&format!("{}/dashboard/accounts/{account}/events", s.base))
        .await
        .unwrap();
    wait_for_text(&c, "payment.completed").await;
    snap(&c, "events").await;
    c.goto(&format!(
        "{}/dashboard/accounts/{account}/endpoints",
        s.base
    ))
    .await
    .unwrap();
    snap(&c, "endpoints").await;
    click(&c, ".who button").await;
    wait_for_text(&c, "You are logged out").await;
    c.goto(&format!(
        "{}/dashboard/accounts/{account}/endpoints",
        s.base
    ))
    .await
    .unwrap();
    wait_for_text(&c, "API key or admin token").await;
    assert!(c
        .current_url()
        .await
        .unwrap()
        .path()
        .ends_with("/dashboard/login"));
    c.close().await.unwrap();
}
