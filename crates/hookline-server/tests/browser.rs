//! The dashboard in a real headless Chromium, driven over WebDriver: log in,
//! add an endpoint, send a test event and see its 2xx attempt, make the
//! receiver fail and watch a retry appear without reloading, resend, disable
//! the endpoint, log out and find the old cookie refused; and the portal
//! embedded in a frame of another site (`portal_frames` below). On the way,
//! an attempt's page copies its request as curl, and the copied command,
//! run by a shell, sends the same request again. Needs
//! Debian's `chromium` and `chromium-driver` (`scripts/test` installs them).

#![allow(unreachable_pub, dead_code)]

#[path = "it/harness.rs"]
mod harness;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use harness::{Backend, Options, Receiver, Reply, TestServer, ADMIN};
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

/// WebDriver's "Set Permission" (W3C Permissions): grants the page a
/// permission a person would grant, here reading back the clipboard.
#[derive(Debug)]
struct GrantPermission(&'static str);

impl fantoccini::wd::WebDriverCompatibleCommand for GrantPermission {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/permissions",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (axum::http::Method, Option<String>) {
        let body = serde_json::json!({"descriptor": {"name": self.0}, "state": "granted"});
        (axum::http::Method::POST, Some(body.to_string()))
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

    // Try a payload filter on the catalogue example (amount 4999) before saving it.
    fill(&c, "#filter", r#"{"data.amount": {"$gte": 1000}}"#).await;
    click(&c, "button[data-filter-trial]").await;
    wait_for_text(&c, "passes this filter").await;
    c.goto(&endpoint_url).await.unwrap();

    // Send a test event and see its 2xx attempt on the event's page.
    click(&c, "form[action$='/test'] button").await;
    wait_for_text(&c, "Payload").await;
    wait_for_text(&c, "HTTP 200").await;

    // The attempt's page: the request as sent and the response; "Copy as
    // curl" puts a command on the clipboard that sends the same request.
    click(&c, "a[href*='/attempts/']").await;
    wait_for_text(&c, "Copy as curl").await;
    wait_for_text(&c, "webhook-signature").await;
    snap(&c, "attempt").await;
    click(&c, "button[data-copy-from]").await;
    wait_for_text(&c, ">Copied<").await;
    c.issue_cmd(GrantPermission("clipboard-read"))
        .await
        .expect("chromedriver grants clipboard-read");
    let shown = c
        .execute(
            "return document.getElementById('curl-command').textContent",
            vec![],
        )
        .await
        .unwrap();
    let copied = c
        .execute_async(
            "const done = arguments[arguments.length - 1]; \
             navigator.clipboard.readText().then(done, (e) => done('unreadable: ' + e));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(copied, shown, "the clipboard holds the command shown");
    let command = copied.as_str().unwrap();
    assert!(
        command.starts_with("curl -X POST '") && command.contains("-H 'webhook-signature: v1,")
    );
    let before = receiver.received().len();
    let output = Command::new("sh")
        .arg("-c")
        .arg(format!("{command} --silent --fail"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{command}");
    let got = receiver.wait_for(before + 1).await;
    assert_eq!(
        got[before].body,
        got[before - 1].body,
        "curl sent the same body"
    );
    assert_eq!(
        got[before].header("webhook-signature"),
        got[before - 1].header("webhook-signature")
    );

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
    // Times read relative ("12 s ago"), with the exact time on hover.
    let time = c
        .execute(
            "const t = document.querySelector('time[datetime]'); return [t.textContent, t.title];",
            vec![],
        )
        .await
        .unwrap();
    let (shown, exact) = (time[0].as_str().unwrap(), time[1].as_str().unwrap());
    assert!(shown.ends_with(" ago") || shown == "just now", "{shown}");
    assert!(exact.ends_with('Z') && exact.contains('T'), "{exact}");
    snap(&c, "events").await;
    c.goto(&format!(
        "{}/dashboard/accounts/{account}/endpoints",
        s.base
    ))
    .await
    .unwrap();
    snap(&c, "endpoints").await;
    let old_cookie = c.get_named_cookie("hookline_session").await.unwrap();
    click(&c, ".who button").await;
    wait_for_text(&c, "You are logged out").await;
    // Replaying the old cookie is refused: logout ended the session on the server.
    c.add_cookie(old_cookie).await.unwrap();
    c.goto(&format!("{}/dashboard/accounts/{account}/events", s.base))
        .await
        .unwrap();
    wait_for_text(&c, "API key or admin token").await;
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

/// A page of a platform, served on 127.0.0.1 but opened as `localhost` so
/// that it is another *site* than the dashboard (127.0.0.1): its frame is
/// cross-site, as in production. `/embed?src=URL` frames `URL`.
struct Platform {
    port: u16,
    _task: tokio::task::JoinHandle<()>,
}

impl Platform {
    async fn start() -> Platform {
        use axum::extract::Query;
        use axum::response::Html;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let app = axum::Router::new().route(
            "/embed",
            axum::routing::get(
                |Query(q): Query<std::collections::HashMap<String, String>>| async move {
                    let src = q["src"].replace(['"', '<', '>'], "");
                    Html(format!(
                        "<!doctype html><title>Platform</title><h1>Platform settings</h1>\
                         <iframe id=\"portal\" src=\"{src}\" width=\"1200\" height=\"1100\"></iframe>"
                    ))
                },
            ),
        );
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Platform { port, _task: task }
    }

    fn origin(&self) -> String {
        format!("http://localhost:{}", self.port)
    }

    fn embed(&self, url: &str) -> String {
        let src: String = url::form_urlencoded::byte_serialize(url.as_bytes()).collect();
        format!("{}/embed?src={src}", self.origin())
    }
}

/// A portal URL for `account` made with the admin token.
async fn portal_url(s: &TestServer, account: &str, body: serde_json::Value) -> String {
    s.expect(
        201,
        "POST",
        &format!("/v1/accounts/{account}/portal-sessions"),
        Some(ADMIN),
        Some(body),
    )
    .await["url"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Opens `page` and steps into its frame once the frame has loaded.
async fn into_frame(c: &Client, page: &str) {
    c.goto(page).await.unwrap();
    wait_for_text(c, "Platform settings").await;
    c.enter_frame(0).await.unwrap();
}

/// The frame's URL and document, once something is in it.
async fn frame_text(c: &Client) -> (String, String) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let state = c
            .execute("return document.readyState + '|' + document.URL", vec![])
            .await
            .unwrap();
        let state = state.as_str().unwrap_or_default().to_string();
        if let Some(url) = state
            .strip_prefix("complete|")
            .filter(|u| *u != "about:blank")
        {
            return (url.to_string(), c.source().await.unwrap());
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the frame never loaded"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portal_frames() {
    let platform = Platform::start().await;
    let elsewhere = Platform::start().await;
    let s = TestServer::start_with(
        Backend::Sqlite,
        Options {
            serve: hookline_server::ServeArgs {
                portal_frame_ancestors: Some(platform.origin()),
                ..Default::default()
            },
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let receiver = Receiver::start().await;
    let (account, _) = s.account("Acme").await;
    let (_driver, c, _profile) = browser().await;

    // Inside the platform's page, the merchant adds an endpoint and sends a test.
    let url = portal_url(
        &s,
        &account,
        serde_json::json!({"return_url": format!("{}/settings", platform.origin())}),
    )
    .await;
    into_frame(&c, &platform.embed(&url)).await;
    wait_for_text(&c, "No endpoints yet").await;
    let html = c.source().await.unwrap();
    assert!(!html.contains("Log out"), "no logout inside the frame");
    assert!(html.contains("← Back"));
    click(&c, "a.button.primary").await;
    fill(&c, "#url", &receiver.url("/webhooks")).await;
    click(&c, "input[value='payment.completed']").await;
    click(&c, "form.form button[type=submit]").await;
    wait_for_text(&c, "Endpoint added").await;
    click(&c, "form[action$='/test'] button").await;
    wait_for_text(&c, "HTTP 200").await;
    receiver.wait_for(1).await;

    // Search finds an event by the payment id inside its data.
    s.publish(
        &account,
        ADMIN,
        serde_json::json!({"type": "refund.completed", "id": "evt_refund_77",
                           "data": {"refund": {"payment_id": "pay_8XkQ31", "amount": 1200}}}),
    )
    .await;
    click(&c, "nav a[href$='/events']").await;
    wait_for_text(&c, "evt_refund_77").await;
    fill(&c, "#search", "pay_8XkQ31").await;
    click(&c, "form.filters button[type=submit]").await;
    wait_for_text(&c, "value=\"pay_8XkQ31\"").await;
    let found = c.source().await.unwrap();
    assert!(found.contains("evt_refund_77") && !found.contains("payment.completed</td>"));
    c.enter_parent_frame().await.unwrap();
    snap(&c, "portal-embedded").await;

    // The same URL a second time is refused.
    into_frame(&c, &platform.embed(&url)).await;
    wait_for_text(&c, "This link no longer works").await;

    // So is an expired one (its one second waited out).
    let expired = portal_url(&s, &account, serde_json::json!({"expires_in": 1})).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    into_frame(&c, &platform.embed(&expired)).await;
    wait_for_text(&c, "This link no longer works").await;

    // A site not listed in HOOKLINE_PORTAL_FRAME_ANCESTORS gets no dashboard.
    let fresh = portal_url(&s, &account, serde_json::json!({})).await;
    into_frame(&c, &elsewhere.embed(&fresh)).await;
    let (frame_url, refused) = frame_text(&c).await;
    assert!(
        frame_url.starts_with("chrome-error://"),
        "Chromium shows its refusal page, not {frame_url}"
    );
    assert!(
        !refused.contains("Webhook endpoints") && !refused.contains("Endpoint added"),
        "the frame on another origin showed the dashboard"
    );

    // A read-only session shows the endpoint but offers no change.
    let read_only = portal_url(&s, &account, serde_json::json!({"read_only": true})).await;
    into_frame(&c, &platform.embed(&read_only)).await;
    wait_for_text(&c, "Read-only").await;
    wait_for_text(&c, "/webhooks").await;
    click(&c, "td a.url").await;
    wait_for_text(&c, "Deliveries, last 24 hours").await;
    let html = c.source().await.unwrap();
    assert!(
        !html.contains("Add endpoint") && !html.contains("Send test") && !html.contains("Reveal")
    );
    // A form forced into the page anyway is refused by the server.
    c.execute(
        "const f = document.createElement('form'); f.method = 'post'; f.action = location.pathname + '/toggle'; document.body.append(f); f.submit();",
        vec![],
    )
    .await
    .unwrap();
    wait_for_text(&c, "Read-only access").await;
    c.close().await.unwrap();
}
