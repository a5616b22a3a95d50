//! Every option's default, in one place. `Config::from_args` fills from
//! these; `serve --help` and the configuration tables of README.md and
//! docs/api.md show them, and a test checks that all of them agree.

use std::time::Duration;

use super::Role;

pub const LISTEN: &str = "127.0.0.1:8080";
pub const DATABASE_URL: &str = "sqlite://hookline-data/hookline.db";
/// Not a value: what happens without one.
pub const ADMIN_TOKEN: &str = "generated on first start, printed once, kept hashed";
pub const ENCRYPTION_KEY: &str = "none (secrets stored unencrypted)";
/// `hookline_core::RetrySchedule::Exponential`, described.
pub const RETRY_SCHEDULE: &str =
    "exponential with jitter: ~5s, 30s, 2m, 10m, 30m, 1h, 2h, 4h, 8h, then at 24h";
pub const REQUEST_TIMEOUT: &str = "15s";
pub const ALLOW_PRIVATE_NETWORKS: bool = false;
pub const MAX_PAYLOAD_BYTES: usize = 1_048_576;
pub const ROLE: Role = Role::All;
pub const WORKER_CONCURRENCY: usize = 512;
pub const ENDPOINT_CONCURRENCY: usize = 32;
/// [`lease`], described.
pub const LEASE: &str = "twice the timeout + 30s";
pub const POLL_INTERVAL: &str = "500ms";
pub const RETENTION: &str = "30d";
pub const HEADER_READ_TIMEOUT: &str = "10s";
pub const BODY_READ_TIMEOUT: &str = "30s";
pub const IDLE_TIMEOUT: &str = "60s";
pub const MAX_CONNECTIONS: usize = 1024;
/// Not a value: what happens without one.
pub const PUBLIC_URL: &str = "from the request's Host header";
pub const TRUSTED_PROXIES: &str = "none";
pub const PORTAL_FRAME_ANCESTORS: &str = "none";
pub const BRAND_NAME: &str = "Hookline";
pub const BRAND_LOGO_URL: &str = "none";
pub const BRAND_ACCENT_COLOR: &str = "#4f46e5";
pub const OPERATIONAL_FAILING_AFTER: u32 = hookline_store::DEFAULT_FAILING_AFTER;
/// Not a value: how the id is made without one.
pub const NODE_ID: &str = "the host name and the listen port, such as web-1:8080";
pub const HEARTBEAT_INTERVAL: &str = "2s";
pub const NODE_DEAD_AFTER: &str = "10s";

/// The default lease: long enough that a slow attempt finishes (and is
/// recorded) well before another node may claim its delivery.
pub fn lease(request_timeout: Duration) -> Duration {
    request_timeout * 2 + Duration::from_secs(30)
}

/// `(variable, default)` as the configuration tables show them, in
/// their order: values in backticks, descriptions as they are.
pub fn documented() -> Vec<(&'static str, String)> {
    let value = |v: &dyn std::fmt::Display| format!("`{v}`");
    vec![
        ("HOOKLINE_LISTEN", value(&LISTEN)),
        ("HOOKLINE_DATABASE_URL", value(&DATABASE_URL)),
        ("HOOKLINE_ADMIN_TOKEN", ADMIN_TOKEN.to_string()),
        ("HOOKLINE_ENCRYPTION_KEY", ENCRYPTION_KEY.to_string()),
        ("HOOKLINE_RETRY_SCHEDULE", RETRY_SCHEDULE.to_string()),
        ("HOOKLINE_REQUEST_TIMEOUT", value(&REQUEST_TIMEOUT)),
        (
            "HOOKLINE_ALLOW_PRIVATE_NETWORKS",
            value(&ALLOW_PRIVATE_NETWORKS),
        ),
        ("HOOKLINE_MAX_PAYLOAD_BYTES", value(&MAX_PAYLOAD_BYTES)),
        ("HOOKLINE_ROLE", value(&ROLE.name())),
        ("HOOKLINE_WORKER_CONCURRENCY", value(&WORKER_CONCURRENCY)),
        (
            "HOOKLINE_ENDPOINT_CONCURRENCY",
            value(&ENDPOINT_CONCURRENCY),
        ),
        ("HOOKLINE_LEASE", LEASE.to_string()),
        ("HOOKLINE_POLL_INTERVAL", value(&POLL_INTERVAL)),
        ("HOOKLINE_RETENTION", value(&RETENTION)),
        ("HOOKLINE_HEADER_READ_TIMEOUT", value(&HEADER_READ_TIMEOUT)),
        ("HOOKLINE_BODY_READ_TIMEOUT", value(&BODY_READ_TIMEOUT)),
        ("HOOKLINE_IDLE_TIMEOUT", value(&IDLE_TIMEOUT)),
        ("HOOKLINE_MAX_CONNECTIONS", value(&MAX_CONNECTIONS)),
        ("HOOKLINE_PUBLIC_URL", PUBLIC_URL.to_string()),
        ("HOOKLINE_TRUSTED_PROXIES", TRUSTED_PROXIES.to_string()),
        (
            "HOOKLINE_PORTAL_FRAME_ANCESTORS",
            PORTAL_FRAME_ANCESTORS.to_string(),
        ),
        ("HOOKLINE_BRAND_NAME", value(&BRAND_NAME)),
        ("HOOKLINE_BRAND_LOGO_URL", BRAND_LOGO_URL.to_string()),
        ("HOOKLINE_BRAND_ACCENT_COLOR", value(&BRAND_ACCENT_COLOR)),
        (
            "HOOKLINE_OPERATIONAL_FAILING_AFTER",
            value(&OPERATIONAL_FAILING_AFTER),
        ),
        ("HOOKLINE_NODE_ID", NODE_ID.to_string()),
        ("HOOKLINE_HEARTBEAT_INTERVAL", value(&HEARTBEAT_INTERVAL)),
        ("HOOKLINE_NODE_DEAD_AFTER", value(&NODE_DEAD_AFTER)),
    ]
}
